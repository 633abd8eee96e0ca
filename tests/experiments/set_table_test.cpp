// Tests of a stimulus set's CSV table written by experiments/set_table.h: what it reads back
// through load_experiment (the [sets.NAME] table reader) and read_set_table, with files
// inside and outside the table's folder and names holding a comma and a quote; and a path it cannot write.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "experiments/experiment.h"
#include "experiments/set_table.h"
#include "tests/testutil.h"

namespace fs = std::filesystem;
using namespace mm::experiments;

TEST(SetTable, WrittenTablesReadBackThroughTheExperimentsSetReader) {
  mm::test::TempDir tmp("set_table");
  mm::test::write_test_png(tmp / "lab/in/boat/b, \"one\".png", 32, 32, 3, 1);
  mm::test::write_test_png(tmp / "outside/cat/c0.png", 32, 32, 3, 2);
  mm::test::write_test_png(tmp / "lab/in/cat/c1.png", 32, 32, 3, 3);
  mm::test::write_test_png(tmp / "lab/icons/boat.png", 16, 16, 3, 4);
  mm::test::write_test_png(tmp / "lab/icons/cat.png", 16, 16, 3, 5);
  const std::vector<SetTableRow> rows{{tmp / "lab/in/boat/b, \"one\".png", "boat"},
                                      {tmp / "outside/cat/c0.png", "cat"},
                                      {tmp / "lab/in/cat/c1.png", ""}};  // the folder's name
  write_set_table(tmp / "lab/set.csv", rows);
  EXPECT_FALSE(fs::exists(tmp / "lab/set.csv.tmp"));
  EXPECT_EQ(mm::test::read_bytes(tmp / "lab/set.csv"),
            "file,category\n\"in/boat/b, \"\"one\"\".png\",boat\n../outside/cat/c0.png,cat\nin/cat/c1.png,\n");
  mm::test::write_bytes(tmp / "lab/e.toml",
                        "[experiment]\nname = \"t\"\nmodality = \"image\"\n[responses]\nalternatives = [\"boat\", \"cat\"]\n"
                        "icons = \"icons\"\n[timing]\nfixation = 100\nstimulus = 100\nmask = 100\n"
                        "[sets.s]\ntable = \"set.csv\"\n[[blocks]]\nkind = \"main\"\nset = \"s\"\n");
  const Experiment e = load_experiment(tmp / "lab/e.toml");
  ASSERT_EQ(e.sets.size(), 1u);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& it : e.sets[0].items) got.emplace_back(it.category, it.path);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"boat", tmp / "lab/in/boat/b, \"one\".png"},
                                                                    {"cat", tmp / "lab/in/cat/c1.png"},
                                                                    {"cat", tmp / "outside/cat/c0.png"}}));
}

TEST(SetTable, AnUnwritablePathThrowsOneLineAndLeavesNothing) {
  mm::test::TempDir tmp("set_table_bad");
  mm::test::write_bytes(tmp / "afile", "x");
  const std::string msg = mm::test::error_of([&] { write_set_table(tmp / "afile/set.csv", {{tmp / "a.png", "a"}}); });
  EXPECT_NE(msg.find(tmp / "afile/set.csv"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(mm::test::read_bytes(tmp / "afile"), "x");
}

TEST(SetTable, ReadBackForEditingAsTheTableNamesItsRows) {
  mm::test::TempDir tmp("set_table_read");
  fs::create_directories(tmp / "lab");
  const std::vector<SetTableRow> rows{{tmp / "lab/in/boat/b, \"one\".png", "boat"},
                                      {tmp / "outside/cat/c0.png", "cat"},
                                      {tmp / "lab/in/cat/c1.png", ""}};
  write_set_table(tmp / "lab/set.csv", rows);
  const std::vector<SetTableRow> got = read_set_table(tmp / "lab/set.csv");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].file, "in/boat/b, \"one\".png");  // relative to the table's folder, unquoted
  EXPECT_EQ(got[0].category, "boat");
  EXPECT_EQ(got[1].file, "../outside/cat/c0.png");  // outside it: still relative (the study moves whole)
  EXPECT_EQ(got[2].file, "in/cat/c1.png");
  EXPECT_EQ(got[2].category, "");
  // Written again from what was read (resolved against the table's folder): the same bytes.
  std::vector<SetTableRow> again;
  for (const auto& r : got) again.push_back({(fs::path(tmp / "lab") / r.file).lexically_normal().string(), r.category});
  const std::string before = mm::test::read_bytes(tmp / "lab/set.csv");
  write_set_table(tmp / "lab/set.csv", again);
  EXPECT_EQ(mm::test::read_bytes(tmp / "lab/set.csv"), before);

  mm::test::write_bytes(tmp / "lab/nofile.csv", "path,category\na.png,a\n");
  std::string msg = mm::test::error_of([&] { read_set_table(tmp / "lab/nofile.csv"); });
  EXPECT_NE(msg.find(tmp / "lab/nofile.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("file column"), std::string::npos) << msg;
  msg = mm::test::error_of([&] { read_set_table(tmp / "lab/missing.csv"); });
  EXPECT_NE(msg.find(tmp / "lab/missing.csv"), std::string::npos) << msg;
}

TEST(SetTable, PathsAreRelativeUnlessOnlyTheRootIsShared) {
  EXPECT_EQ(path_from("/lab/study/stimuli/cat/c0.png", "/lab/study/experiments"), "../stimuli/cat/c0.png");
  EXPECT_EQ(path_from("/lab/study/experiments/t.csv", "/lab/study/experiments/"), "t.csv");
  EXPECT_EQ(path_from("/lab/study/a/../b/x.png", "/lab/study"), "b/x.png");
  EXPECT_EQ(path_from("/data/cat/c0.png", "/lab/study/experiments"), "/data/cat/c0.png");
  EXPECT_EQ(path_from("/lab/x.png", "/"), "lab/x.png");
}
