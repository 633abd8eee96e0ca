// Black-box tests of metamerlab on bad input: each case exits non-zero without crashing,
// prints one line on stderr naming the offending file (or layer, or folder), and loses
// nothing already saved: the database of an earlier run keeps its rows and passes
// PRAGMA integrity_check, and its output files are untouched.
//
// Sections
//   [SECTION] Fixture    an earlier run's database and outputs, copied for each test
//   [SECTION] Stimuli    missing folder, empty / truncated / text .png
//   [SECTION] Models     unknown layer, missing file, broken archives
//   [SECTION] Outputs    unwritable --out, --db in a missing folder, not a database, locked
#include "tests/cli/cli_util.h"

#include <map>
#include <memory>

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;

// [SECTION] Fixture -----------------------------------------------------------------------
const std::string kFast = " --iterations 3 --rounds 1 --null-pairs 20 --threads 1 --quiet";

class CliBadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_ = std::make_unique<TempDir>("cli-bad-base");
    make_image_folder(*base_ / "in", {"disc", "ring"}, 2);
    auto r = run_mm("synth --model zoo:tiny-cnn --layers conv1 --input " + q(*base_ / "in") + " --out " +
                    q(*base_ / "out") + " --db " + q(*base_ / "m.db") + kFast);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    summary_ = db_summary(*base_ / "m.db");
    ASSERT_TRUE(contains(summary_, "integrity=ok")) << summary_;
    ASSERT_TRUE(contains(summary_, "metamers=4")) << summary_;
  }
  static void TearDownTestSuite() { base_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(base_);
    tmp_ = std::make_unique<TempDir>("cli-bad");
    fs::copy(*base_ / "in", dir("in"), fs::copy_options::recursive);
    fs::copy(*base_ / "out", dir("out"), fs::copy_options::recursive);
    copy_db(*base_ / "m.db", dir("m.db"));
    for (const auto& f : files_under(dir("out"))) out_sha_[f] = mm::data::sha256_file(dir("out") + "/" + f);
  }
  // Nothing saved was lost: same rows, integrity ok, outputs unchanged.
  void TearDown() override {
    if (!tmp_) return;
    EXPECT_EQ(db_summary(dir("m.db")), summary_);
    std::map<std::string, std::string> now;
    for (const auto& f : files_under(dir("out"))) now[f] = mm::data::sha256_file(dir("out") + "/" + f);
    EXPECT_EQ(now, out_sha_) << "output files changed";
  }

  std::string dir(const std::string& name) const { return *tmp_ / name; }
  // synth against this test's copy of the database and outputs.
  RunResult synth(const std::string& model, const std::string& layers, const std::string& input,
                  const std::string& extra = "") {
    return run_mm("synth --model " + q(model) + " --layers " + layers + " --input " + q(input) + " --out " +
                  q(dir("out")) + " --db " + q(dir("m.db")) + kFast + extra);
  }

  static std::unique_ptr<TempDir> base_;
  static std::string summary_;
  std::unique_ptr<TempDir> tmp_;
  std::map<std::string, std::string> out_sha_;
};
std::unique_ptr<TempDir> CliBadInput::base_;
std::string CliBadInput::summary_;

// [SECTION] Stimuli -----------------------------------------------------------------------
TEST_F(CliBadInput, MissingInputFolder) {
  const std::string missing = dir("no-such-folder");
  expect_error(synth("zoo:tiny-cnn", "conv1", missing), 1, {missing, "no such file or folder"});
  expect_error(run_mm("classify --model zoo:tiny-cnn --input " + q(missing) + " --db " + q(dir("m.db")) + " --threads 1"),
               1, {missing});
  expect_error(run_mm("null --model zoo:tiny-cnn --layers conv1 --input " + q(missing) + " --db " + q(dir("m.db")) +
                      " --threads 1"),
               1, {missing});
}

TEST_F(CliBadInput, FolderWithoutStimuli) {
  fs::create_directories(dir("empty/disc"));
  mm::test::write_bytes(dir("empty/disc/notes.txt"), "not a stimulus\n");
  expect_error(synth("zoo:tiny-cnn", "conv1", dir("empty")), 1, {dir("empty")});
}

TEST_F(CliBadInput, EmptyPng) {
  mm::test::write_bytes(dir("in/ring/empty.png"), "");
  expect_error(synth("zoo:tiny-cnn", "conv1", dir("in")), 1, {dir("in/ring/empty.png"), "empty"});
  expect_error(run_mm("classify --model zoo:tiny-cnn --input " + q(dir("in")) + " --db " + q(dir("m.db")) + " --threads 1"),
               1, {dir("in/ring/empty.png")});
}

TEST_F(CliBadInput, TruncatedPng) {
  std::string png = mm::test::read_bytes(dir("in/disc/disc_0.png"));
  ASSERT_GT(png.size(), 200u);
  mm::test::write_bytes(dir("in/disc/disc_0.png"), png.substr(0, png.size() / 2));
  expect_error(synth("zoo:tiny-cnn", "conv1", dir("in")), 1, {dir("in/disc/disc_0.png")});
}

TEST_F(CliBadInput, TextFileNamedPng) {
  mm::test::write_bytes(dir("in/disc/readme.png"), "this is text, not an image\n");
  expect_error(synth("zoo:tiny-cnn", "conv1", dir("in")), 1, {dir("in/disc/readme.png"), "not an image"});
}

TEST_F(CliBadInput, TooFewNaturalStimuliForTheNull) {
  mm::test::write_test_png(dir("one/disc/only.png"), 64, 64, 3, 5);
  expect_error(synth("zoo:tiny-cnn", "conv1", dir("in"), " --null-input " + q(dir("one"))), 1,
               {"at least 2 natural stimuli"});
  EXPECT_FALSE(fs::exists(dir("out/conv1/.checkpoints")));
}

// [SECTION] Models ------------------------------------------------------------------------
TEST_F(CliBadInput, UnknownLayerListsTheLayers) {
  expect_error(synth("zoo:tiny-cnn", "conv1,conv9", dir("in")), 1,
               {"\"conv9\"", "conv1, stage1, stage2, stage3, avgpool, logits"});
  expect_error(run_mm("null --model zoo:tiny-cnn --layers fc7 --input " + q(dir("in")) + " --db " + q(dir("m.db")) +
                      " --threads 1"),
               1, {"\"fc7\"", "logits"});
  const std::string ts = fixture("tiny_script.pt");
  expect_error(synth(ts, "relu9", dir("in")), 1, {ts, "\"relu9\"", "conv1, relu1, conv2, relu2, pool, logits"});
}

TEST_F(CliBadInput, UnknownCategoryIsCheckedBeforeAnyWork) {
  auto r = synth("zoo:tiny-cnn", "stage1", dir("in"), " --categories disc,zebra");
  expect_error(r, 1, {"\"zebra\"", "--categories"});
  EXPECT_FALSE(fs::exists(dir("out/stage1")));
}

TEST_F(CliBadInput, ModelFileMissing) {
  const std::string missing = dir("models/none.pt");
  expect_error(synth(missing, "conv1", dir("in")), 1, {missing, "no such model file"});
  expect_error(run_mm("info --model " + q(missing)), 1, {missing});
}

TEST_F(CliBadInput, ModelFileIsNotAnArchive) {
  mm::test::write_bytes(dir("models/text.pt"), "hello\n");
  expect_error(synth(dir("models/text.pt"), "conv1", dir("in")), 1, {dir("models/text.pt")});
  fs::create_directories(dir("models/folder.pt"));
  expect_error(synth(dir("models/folder.pt"), "conv1", dir("in")), 1, {dir("models/folder.pt"), "folder"});
  mm::test::write_bytes(dir("models/empty.pt"), "");
  expect_error(synth(dir("models/empty.pt"), "conv1", dir("in")), 1, {dir("models/empty.pt"), "empty"});
}

struct BrokenArchive {
  std::string file;
  std::string says;
};
void PrintTo(const BrokenArchive& b, std::ostream* os) { *os << b.file; }

class CliBrokenArchive : public CliBadInput, public ::testing::WithParamInterface<BrokenArchive> {};

TEST_P(CliBrokenArchive, NamesTheFile) {
  const std::string model = fixture(GetParam().file);
  expect_error(synth(model, "relu1", dir("in")), 1, {model, GetParam().says});
  expect_error(run_mm("info --model " + q(model) + " --json"), 1, {model, GetParam().says});
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliBrokenArchive,
                         ::testing::Values(BrokenArchive{"no_json.pt", "no metamerlab.json"},
                                           BrokenArchive{"tensor_output.pt", "Dict[str, Tensor]"},
                                           BrokenArchive{"bad_json.pt", "metamerlab.json is not valid JSON"},
                                           BrokenArchive{"wrong_layers.pt", "\"conv3\""}),
                         [](const ::testing::TestParamInfo<BrokenArchive>& i) {
                           return i.param.file.substr(0, i.param.file.find('.'));
                         });

// [SECTION] Outputs -----------------------------------------------------------------------
// Tests run as root, so permissions cannot make a folder unwritable: a path under a
// regular file can never be created.
TEST_F(CliBadInput, UnwritableOutputFolder) {
  mm::test::write_bytes(dir("plainfile"), "x");
  const std::string out = dir("plainfile/out");
  auto r = run_mm("synth --model zoo:tiny-cnn --layers stage1 --input " + q(dir("in")) + " --out " + q(out) + " --db " +
                  q(dir("m.db")) + kFast);
  expect_error(r, 1, {out, "--out"});
  EXPECT_EQ(mm::test::read_bytes(dir("plainfile")), "x");
}

TEST_F(CliBadInput, DatabaseInMissingFolder) {
  const std::string db = dir("no-such-folder/m.db");
  auto r = run_mm("synth --model zoo:tiny-cnn --layers stage1 --input " + q(dir("in")) + " --out " + q(dir("out")) +
                  " --db " + q(db) + kFast);
  expect_error(r, 1, {db, "does not exist"});
  EXPECT_FALSE(fs::exists(dir("no-such-folder")));
}

TEST_F(CliBadInput, DatabaseFileIsNotADatabase) {
  std::string junk(8192, '\0');
  uint32_t x = 12345;
  for (auto& c : junk) c = static_cast<char>((x = x * 1664525u + 1013904223u) >> 24);
  const std::string db = dir("junk.db");
  mm::test::write_bytes(db, junk);
  auto r = run_mm("synth --model zoo:tiny-cnn --layers stage1 --input " + q(dir("in")) + " --out " + q(dir("out")) +
                  " --db " + q(db) + kFast);
  expect_error(r, 1, {db, "not a"});
  EXPECT_TRUE(mm::test::read_bytes(db) == junk) << "the file was changed";
  EXPECT_FALSE(fs::exists(db + "-wal"));
  EXPECT_FALSE(fs::exists(db + "-journal"));
  auto c = run_mm("classify --model zoo:tiny-cnn --input " + q(dir("in")) + " --db " + q(db) + " --threads 1");
  expect_error(c, 1, {db});
  EXPECT_TRUE(mm::test::read_bytes(db) == junk) << "the file was changed";
}

// Another program holds the write lock: the run waits the busy timeout (5 s), then says
// so in one line; the other program's transaction and the earlier rows are intact.
TEST_F(CliBadInput, LockedDatabase) {
  const std::string db = dir("m.db");
  Sql other(db, /*write=*/true);
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), SQLITE_OK);
  ASSERT_EQ(other.exec("INSERT INTO meta VALUES ('held-by-test', 'yes')"), SQLITE_OK);
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_mm("synth --model zoo:tiny-cnn --layers stage1 --input " + q(dir("in")) + " --out " + q(dir("out")) +
                  " --db " + q(db) + kFast);
  const double waited = seconds_since(t0);
  expect_error(r, 1, {db, "locked"});
  EXPECT_LT(waited, 30.0);
  EXPECT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  EXPECT_EQ(other.num("SELECT count(*) FROM meta WHERE key = 'held-by-test'"), 0);
  EXPECT_TRUE(files_under(dir("out") + "/stage1").empty()) << "nothing synthesized without a database";
}

}  // namespace
