// A synthesis run at the machine's limits: a batch that does not fit in memory (the
// process's address space capped with ulimit -v) is one line naming --batch, and a smaller
// batch under the same cap runs; a disk that fills up (files capped with ulimit -f) is one
// line naming the file, leaves every output complete or absent (written to a temporary
// name and renamed) and the database intact, and the same command afterwards finishes.
#include <string>

#include "tests/cli/cli_util.h"

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;

// `metamerlab ARGS` with a shell limit set first (e.g. "ulimit -v 1300000"), SIGXFSZ ignored
// so an oversized write fails with EFBIG as on a full disk, and a timeout.
RunResult run_limited(const std::string& limit, const std::string& args) {
  // One BLAS and OpenMP thread: the address space the program starts with does not grow with
  // the machine's core count (OpenBLAS reserves buffers per thread).
  return mm::test::run("trap '' XFSZ; " + limit + "; OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 exec timeout 300 " +
                       q(mm::test::metamerlab_binary()) + " " + args);
}

std::string synth_args(const std::string& dir, const std::string& layer, int batch) {
  return "synth --model " + q(fixture("resnet18.pt")) + " --layers " + layer + " --input " +
         q(mm::test::source_dir() + "/stimuli/samples/emoji16/reference") + " --out " + q(dir + "/out") + " --db " +
         q(dir + "/m.db") + " --iterations 2 --rounds 1 --null-pairs 100 --threads 1 --quiet --batch " +
         std::to_string(batch);
}

TEST(SynthLimits, BatchTooLargeForMemoryIsOneLineNamingBatch) {
  TempDir tmp("limits_memory");
  // 1.3 GB of address space: LibTorch and ResNet-18 (224 x 224) fit with one reference at a
  // time; 16 references through layer4 (forward and backward) do not.
  const std::string cap = "ulimit -v 1300000";
  const RunResult big = run_limited(cap, synth_args(tmp.path, "layer4", 16));
  expect_error(big, 1, {"does not fit in this machine's memory", "--batch 16", "smaller --batch"}, true);
  const RunResult small = run_limited(cap, synth_args(tmp.path, "layer4", 1));
  EXPECT_EQ(small.exit_code, 0) << describe(small);
  EXPECT_TRUE(contains(small.out, "done: 16 metamer(s)")) << describe(small);
}

TEST(SynthLimits, FullDiskLeavesOutputsCompleteOrAbsentThenResumes) {
  TempDir tmp("limits_disk");
  const std::string args = synth_args(tmp.path, "layer1", 4);
  // Files of at most 400 kB: the PNG of a 224 x 224 metamer fits, its exact .npy copy does not.
  const RunResult full = run_limited("ulimit -f 800", args);  // 512-byte blocks (sh)
  expect_error(full, 1, {".npy", "File too large"}, true);
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "out")) {
    if (!e.is_regular_file()) continue;
    const std::string p = e.path().string();
    EXPECT_EQ(p.find(".tmp"), std::string::npos) << "half-written file left: " << p;
    if (e.path().extension() == ".png") {
      ++files;
      EXPECT_NO_THROW(mm::stimuli::load_image(p, mm::stimuli::ImageSpec{3, 224, 224, 0.0f, 1.0f})) << p;
    }
  }
  EXPECT_GE(files, 1) << "the run stopped before writing anything: the limit no longer tests a full disk";
  {
    mm::data::Store s(tmp / "m.db");
    EXPECT_EQ(s.integrity_check(), "ok");
  }
  const RunResult again = run_mm(args);
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_TRUE(contains(again.out, "done: 16 metamer(s)")) << describe(again);
  int npy = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "out")) npy += e.path().extension() == ".npy";
  EXPECT_EQ(npy, 16);
}

}  // namespace
