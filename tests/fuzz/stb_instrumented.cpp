// tests/fuzz/stb_instrumented.cpp: stb_image's decoders compiled into the fuzzers, from the
// same Debian header the program's libstb is built from, so that the `image` target gets
// coverage feedback and AddressSanitizer checks inside the decoders (the system libstb.so
// has neither). Linked only into the fuzz_* executables (tests/fuzz/CMakeLists.txt); their
// own definitions take precedence over the shared library's.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
