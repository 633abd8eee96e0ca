// Tests of `metamerlab run` against a database it cannot write (issue 4, section 6.4), in
// ways that hold as root (chmod does not stop root): a database opened read-only through an
// SQLite URI (file:PATH?mode=ro), a database that fills up mid-session (PRAGMA
// max_page_count through METAMERLAB_TEST_DB_MAX_PAGES), and a disk that refuses to grow
// the files (RLIMIT_FSIZE, which binds root too). Each must end with one clear line naming
// the file and what to do, a non-zero exit (not a crash), and every trial already saved
// still there; the full database's session then resumes and completes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "data/store.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;

using Cli = mm::test::Cli;

// Runs metamerlab on the test's Xvfb with env set and, when fsize > 0, files limited to
// fsize bytes (an oversized write then fails with EFBIG).
Cli cli(const std::vector<std::string>& args, const std::string& out_file, const std::vector<mm::test::EnvVar>& env = {},
        rlim_t fsize = 0) {
  return mm::test::run_metamerlab(args, out_file, env, 90, static_cast<long long>(fsize));
}

// An image experiment of 3 categories x 4 references (12 main trials, no text screens).
std::string make_lab(const std::string& root) {
  mm::test::write_image_lab(root, {"boat", "cat", "dog"}, 4, 32, false);
  mm::test::write_bytes(root + "/exp.toml", R"([experiment]
name = "db-errors"
modality = "image"

[responses]
alternatives = ["boat", "cat", "dog"]
icons = "icons"

[timing]
fixation = 50
stimulus = 50
mask = 50
iti = 20

[sets.refs]
folders = ["refs"]

[[blocks]]
kind = "main"
set = "refs"
)");
  return root + "/exp.toml";
}

std::vector<std::string> run_args(const std::string& exp, const std::string& participant, const std::string& db) {
  return {"run", exp, "--participant", participant, "--db", db, "--windowed", "--width", "640", "--height", "480",
          "--auto", "correct"};
}

std::string integrity(const std::string& db) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  std::string r = "(no answer)";
  if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    r = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return r;
}

// The error: exactly one line on the output that says "error", naming the file.
void expect_one_clear_line(const Cli& c, const std::string& file, const std::string& what, const std::string& fix) {
  EXPECT_EQ(c.code, 1) << c.out;  // not 128 + a signal: no crash
  size_t lines = 0;
  std::string line;
  std::istringstream in(c.out);
  for (std::string l; std::getline(in, l);)
    if (l.find("error") != std::string::npos) ++lines, line = l;
  ASSERT_EQ(lines, 1u) << c.out;
  EXPECT_EQ(line.rfind("metamerlab: error: ", 0), 0u) << line;
  EXPECT_NE(line.find(file), std::string::npos) << line;
  EXPECT_NE(line.find(what), std::string::npos) << line;
  EXPECT_NE(line.find(fix), std::string::npos) << line;
}

// A database with participant 1's completed session (12 trials).
std::string first_session(const mm::test::TempDir& tmp, const std::string& exp) {
  const std::string db = tmp / "s.db";
  const Cli c = cli(run_args(exp, "1", db), tmp / "first.txt");
  EXPECT_EQ(c.code, 0) << c.out;
  return db;
}

void expect_first_session_intact(const std::string& db) {
  EXPECT_EQ(integrity(db), "ok");
  mm::data::Store s(db);
  const auto sessions = s.list_sessions();
  ASSERT_GE(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].participant_number, 1);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(s.trials_of_session(sessions[0].id).size(), 12u);
}

TEST(DbErrors, ReadOnlyDatabaseRefusesWithOneLineAndKeepsWhatIsSaved) {
  mm::test::TempDir tmp("db_ro");
  const std::string exp = make_lab(tmp.path), db = first_session(tmp, exp);
  const std::string uri = "file:" + db + "?mode=ro";
  const Cli c = cli(run_args(exp, "2", uri), tmp / "ro.txt");
  expect_one_clear_line(c, db, "read-only", "pass another --db");
  expect_first_session_intact(db);
  mm::data::Store s(db);
  EXPECT_EQ(s.list_sessions().size(), 1u);  // nothing of participant 2
}

int64_t page_count(const std::string& db) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  int64_t n = 0;
  if (sqlite3_prepare_v2(h, "PRAGMA page_count", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

TEST(DbErrors, DatabaseFullMidSessionStopsCleanlyThenResumes) {
  mm::test::TempDir tmp("db_full");
  const std::string exp = make_lab(tmp.path), first = first_session(tmp, exp);
  const int64_t pages = page_count(first);
  ASSERT_GT(pages, 0);
  // Caps a few pages above the current size, on fresh copies, until the database fills up
  // after some trials of participant 2 were saved (the case that matters: a full disk in
  // the middle of a session). Every capped run must stop with one clear line.
  const std::string db = tmp / "full.db";
  int64_t saved = 0;
  for (int extra : {1, 3, 4, 5, 6, 8, 10}) {
    fs::copy_file(first, db, fs::copy_options::overwrite_existing);
    const Cli c = cli(run_args(exp, "2", db), tmp / "full.txt",
                      {{"METAMERLAB_TEST_DB_MAX_PAGES", std::to_string(pages + extra)}});
    if (c.code == 0) break;  // room enough: no later cap can fail
    expect_one_clear_line(c, db, "disk is full", "free some space");
    expect_first_session_intact(db);
    mm::data::Store s(db);
    const auto sessions = s.list_sessions();
    if (sessions.size() == 2u) {
      EXPECT_EQ(sessions[1].status, mm::data::SessionStatus::running);  // resumable
      saved = sessions[1].answered;
    }
    if (saved > 0) break;
  }
  ASSERT_GT(saved, 0) << "no cap filled the database mid-session";
  ASSERT_LT(saved, 12);
  const auto before = mm::data::Store(db).trials_of_session(2);
  // With room again, the same command resumes: the saved trials unchanged, every trial once.
  const Cli again = cli(run_args(exp, "2", db), tmp / "again.txt");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("resuming session 2 at trial " + std::to_string(saved)), std::string::npos) << again.out;
  mm::data::Store s(db);
  const auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[1].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(sessions[1].resumed, 1);
  const auto trials = s.trials_of_session(sessions[1].id);
  ASSERT_EQ(trials.size(), 12u);
  for (size_t i = 0; i < trials.size(); ++i) EXPECT_EQ(trials[i].trial_index, static_cast<int64_t>(i));
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(trials[i].timing_json, before[i].timing_json) << i;
  EXPECT_EQ(integrity(db), "ok");
}

TEST(DbErrors, DiskThatRefusesToGrowTheFilesStopsCleanly) {
  mm::test::TempDir tmp("db_fsize");
  const std::string exp = make_lab(tmp.path), db = first_session(tmp, exp);
  // No file of the process may grow past 8 KiB: the write-ahead log cannot take a commit.
  const Cli c = cli(run_args(exp, "2", db), tmp / "fsize.txt", {}, 8192);
  EXPECT_EQ(c.code, 1) << c.out;
  size_t error_lines = 0;
  std::istringstream in(c.out);
  for (std::string l; std::getline(in, l);)
    if (l.find("error") != std::string::npos) {
      ++error_lines;
      EXPECT_EQ(l.rfind("metamerlab: error: ", 0), 0u) << l;
      EXPECT_NE(l.find(db), std::string::npos) << l;
      EXPECT_NE(l.find("pass another --db"), std::string::npos) << l;
    }
  EXPECT_EQ(error_lines, 1u) << c.out;
  expect_first_session_intact(db);
}

}  // namespace
