// Where a session writes: an experiment file is data and cannot make the program write
// anywhere but the database the user named (and its -wal/-shm companions). The experiment
// here reads its stimuli through relative paths that climb out of its folder ("../"), its
// text blocks from files, and its icons from another folder; after a whole scripted session
// every file under the test's root is byte for byte what it was, apart from the database's
// folder, and the home folder is untouched. An export writes only into --out, with relative
// stimulus paths.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/sha256.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;

// Relative path -> SHA-256 of every file under root, skipping `skip` (a folder).
std::map<std::string, std::string> files_under(const std::string& root, const std::string& skip) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && fs::equivalent(it->path(), skip)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) out[fs::relative(it->path(), root).string()] = mm::data::sha256_file(it->path().string());
  }
  return out;
}

TEST(WhereItWrites, ASessionWritesOnlyItsDatabaseAndAnExportOnlyItsFolder) {
  mm::test::TempDir tmp("where_it_writes");
  const std::string root = tmp.path;
  const std::vector<std::string> cats = {"boat", "cat", "dog"};
  mm::test::write_image_set(root + "/shared/refs", cats, 2, 32, "{cat}/{cat}_{k}.png", 0, 10);
  mm::test::write_image_set(root + "/shared/syn/l1", cats, 2, 32, "{cat}/{cat}_{k}.png", 50, 10);
  mm::test::write_image_set(root + "/icons", cats, 1, 16, "{cat}.png", 90, 1);
  mm::test::write_bytes(root + "/lab/hello.txt", "Hello from a file.\n");
  mm::test::write_bytes(root + "/lab/exp.toml", R"([experiment]
name = "where-it-writes"
modality = "image"
seed = 4

[responses]
alternatives = ["boat", "cat", "dog"]
icons = "../icons"

[timing]
fixation = 50
stimulus = 50
mask = 50
response = 0
iti = 20

[sets.refs]
folders = ["../shared/refs"]

[[metamers]]
model = "zoo:toy"
layers = ["l1"]
folder = "../shared/syn"
assume_passed = true

[[blocks]]
kind = "instructions"
file = "hello.txt"

[[blocks]]
kind = "main"
set = "refs"
)");
  fs::create_directories(root + "/home");
  fs::create_directories(root + "/data");
  const std::string db = root + "/data/s.db";
  const auto before = files_under(root, root + "/data");
  const std::vector<mm::test::EnvVar> env = {{"HOME", root + "/home"}, {"XDG_CONFIG_HOME", "", true}};
  const mm::test::Cli c = mm::test::run_metamerlab(
      {"run", root + "/lab/exp.toml", "--participant", "1", "--db", db, "--windowed", "--auto", "correct"},
      root + "/data/run.txt", env);
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(files_under(root, root + "/data"), before) << "a session wrote outside its database's folder";
  for (const auto& e : fs::directory_iterator(root + "/data")) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "s.db" || name == "s.db-wal" || name == "s.db-shm" || name == "run.txt") << name;
  }
  // The export: only into --out; no absolute path of this machine in what it wrote.
  const mm::test::Cli x = mm::test::run_metamerlab({"export", "--db", db, "--format", "csv", "--out", root + "/data/x"},
                                                   root + "/data/export.txt", env);
  ASSERT_EQ(x.code, 0) << x.out;
  EXPECT_EQ(files_under(root, root + "/data"), before) << "the export wrote outside --out";
  int exported = 0;
  for (const auto& e : fs::recursive_directory_iterator(root + "/data/x")) {
    if (!e.is_regular_file()) continue;
    ++exported;
    const std::string text = mm::test::read_bytes(e.path().string());
    EXPECT_EQ(text.find(root), std::string::npos) << e.path() << " holds an absolute path of this machine";
  }
  EXPECT_GT(exported, 0);
}

}  // namespace
