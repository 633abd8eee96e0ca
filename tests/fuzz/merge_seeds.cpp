// tests/fuzz/merge_seeds.cpp: writes the seeds of the `merge` fuzz target's corpus (small
// shard databases made with the store's API, then refused and damaged variants; see
// write_merge_seeds in tests/fuzz/targets.h):
//   fuzz_merge_seeds DIR      (for instance tests/fuzz/corpus/merge, then tools/fuzz.sh merge)
#include <cstdio>
#include <exception>

#include "tests/fuzz/targets.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_merge_seeds DIR\n");
    return 2;
  }
  try {
    const int n = mm::fuzz::write_merge_seeds(argv[1]);
    std::printf("fuzz_merge_seeds: %d seed(s) in %s\n", n, argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_merge_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
