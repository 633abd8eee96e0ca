// tests/fuzz/fuzz_main.cpp: the libFuzzer entry point of one fuzz target, chosen at compile
// time with -DMM_FUZZ_TARGET=fuzz_NAME (tests/fuzz/CMakeLists.txt builds one executable per
// target when METAMERLAB_FUZZ=ON; tools/fuzz.sh runs them).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/targets.h"

#ifndef MM_FUZZ_TARGET
#error "define MM_FUZZ_TARGET as one of the functions of tests/fuzz/targets.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mm::fuzz::MM_FUZZ_TARGET(data, size);
}
