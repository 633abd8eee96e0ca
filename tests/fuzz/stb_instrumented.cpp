// tests/fuzz/stb_instrumented.cpp: stb_image's decoders compiled into the fuzzers, from the
// same Debian header the program's libstb is built from, so that the `image` target gets
// coverage feedback and AddressSanitizer checks inside the decoders (the system libstb.so
// has neither). Linked only into the fuzz_* executables (tests/fuzz/CMakeLists.txt); their
// own definitions take precedence over the shared library's.
//
// One check is off for this file only (tests/fuzz/CMakeLists.txt: -fno-sanitize=nonnull-
// attribute): stb_image copies a zero-length first IDAT chunk of a PNG with memcpy(NULL, p, 0)
// (stbi__getn), formally undefined, harmless in practice, and not in our code to change.
// The input that showed it stays in tests/fuzz/crashes/image/.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
