// tests/fuzz/replay_test.cpp: every kept fuzz input goes through its target again, in
// every test run. For each target of tests/fuzz/targets.h, the minimized corpus
// tests/fuzz/corpus/<target>/ (which must exist and hold files, so a target cannot lose
// its corpus unnoticed) and every crash input found so far, tests/fuzz/crashes/<target>/,
// must be handled without a crash: a clear refusal or a normal load. A crash file that
// crashes again fails (or kills) this test; under tools/sanitize.sh it runs with
// AddressSanitizer and UBSan as well. The merge corpus must also hold shards that merge
// (so the target gets past its checks), and freshly written seeds merge or are refused as
// their names say.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuzz/targets.h"
#include "tests/testutil.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

int replay(const mm::fuzz::NamedTarget& t, const std::string& file) {
  const std::string bytes = mm::test::read_bytes(file);
  return t.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

class FuzzReplay : public ::testing::TestWithParam<mm::fuzz::NamedTarget> {};

TEST_P(FuzzReplay, Corpus) {
  const fs::path dir = fs::path(mm::test::source_dir()) / "tests/fuzz/corpus" / GetParam().name;
  const auto files = files_in(dir);
  ASSERT_FALSE(files.empty()) << dir << " is missing or empty: seed it and run tools/fuzz.sh " << GetParam().name;
  for (const auto& f : files) EXPECT_EQ(replay(GetParam(), f), 0) << f;
}

TEST_P(FuzzReplay, Crashes) {
  const fs::path dir = fs::path(mm::test::source_dir()) / "tests/fuzz/crashes" / GetParam().name;
  // Every crash found is kept here and must now load or be refused with a message.
  for (const auto& f : files_in(dir)) {
    SCOPED_TRACE(f);
    EXPECT_EQ(replay(GetParam(), f), 0) << f;
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(mm::fuzz::fuzz_targets()),
                         [](const ::testing::TestParamInfo<mm::fuzz::NamedTarget>& i) { return std::string(i.param.name); });

// The targets of the issue, each with its corpus folder.
TEST(FuzzReplay, EveryTargetHasACorpus) {
  std::vector<std::string> names;
  for (const auto& t : mm::fuzz::fuzz_targets()) names.push_back(t.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"experiment", "image", "audio", "npy", "model_meta", "net_sidecar", "merge"}));
  for (const auto& n : names)
    EXPECT_TRUE(fs::is_directory(fs::path(mm::test::source_dir()) / "tests/fuzz/corpus" / n)) << n;
}

bool merges(const std::string& file) {
  const std::string bytes = mm::test::read_bytes(file);
  return mm::fuzz::merge_shard_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// The kept corpus reaches a full merge (its files found, records copied), not only the
// refusals of damaged files.
TEST(FuzzMerge, TheCorpusHoldsShardsThatMerge) {
  int accepted = 0;
  for (const auto& f : files_in(fs::path(mm::test::source_dir()) / "tests/fuzz/corpus/merge")) accepted += merges(f);
  EXPECT_GE(accepted, 2);
}

// Every shard is a whole database (about 32 kB): the kept corpus stays under 1 MB in git.
TEST(FuzzMerge, TheCorpusStaysSmall) {
  uintmax_t bytes = 0;
  for (const auto& f : files_in(fs::path(mm::test::source_dir()) / "tests/fuzz/corpus/merge")) bytes += fs::file_size(f);
  EXPECT_LT(bytes, 1000u * 1000u) << "tests/fuzz/corpus/merge holds " << bytes
                                   << " bytes: keep the seeds and the files that add coverage (tools/fuzz.sh merge)";
}

// The seeds as written now (what tests/fuzz/merge_seeds.cpp writes): valid-* merge, every
// other one is refused.
TEST(FuzzMerge, FreshSeedsMergeOrAreRefusedAsNamed) {
  mm::test::TempDir tmp("fuzz-merge-seeds");
  EXPECT_GE(mm::fuzz::write_merge_seeds(tmp.path), 10);
  const auto seeds = files_in(tmp.path);
  ASSERT_GE(seeds.size(), 10u);
  for (const auto& f : seeds) {
    const bool valid = fs::path(f).filename().string().rfind("valid-", 0) == 0;
    EXPECT_EQ(merges(f), valid) << f;
    EXPECT_LT(fs::file_size(f), 64u * 1024) << f << ": the fuzzers take at most 64 kB (tools/fuzz.sh -max_len)";
  }
}

}  // namespace
