// Tests for the data store's failure handling: another program's lock (with and without
// WAL), read-only databases, files that are not databases or belong to another program,
// missing folders, databases from a newer metamerlab (refused and left untouched), and
// committed records surviving a killed process.
//
// Sections
//   [SECTION] Helpers
//   [SECTION] Locks         busy timeout, "locked by another program"
//   [SECTION] Refusals      read-only, not a database, foreign, folder, newer version
//   [SECTION] Crashes       SIGKILL mid-transaction, SIGKILL at a random moment
#include "data/sqlite_util.h"
#include "data/store.h"
#include "tests/data/store_fixtures.h"
#include "tests/testutil.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

namespace {

using namespace mm::data;
using namespace mm::data::testing;
namespace fs = std::filesystem;

// [SECTION] Helpers -----------------------------------------------------------------------
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void make_store(const std::string& db) {
  Store s(db);
  int64_t run = s.begin_synth_run(sample_run(s.upsert_model(sample_model())));
  s.add_metamer(sample_metamer(run, 1));
}

std::vector<std::string> sidecars(const std::string& db) {
  std::vector<std::string> out;
  for (const char* suffix : {"-wal", "-shm", "-journal"})
    if (fs::exists(db + suffix)) out.push_back(db + suffix);
  return out;
}

// [SECTION] Locks -------------------------------------------------------------------------
// WAL database, another connection holds the write lock: readers go on, the first write
// waits for the busy timeout and then reports the lock.
TEST(StoreLocks, WriterLockedOutAfterTimeout) {
  mm::test::TempDir tmp("lock-wal");
  const std::string db = tmp / "metamerlab.db";
  make_store(db);
  RawDb other(db);
  ASSERT_EQ(raw_exec(other.db, "BEGIN EXCLUSIVE; INSERT INTO meta VALUES ('held', 'yes')"),
            SQLITE_OK);

  StoreOptions o;
  o.busy_timeout_ms = 400;
  auto t0 = std::chrono::steady_clock::now();
  expect_error(
      [&] {
        Store s(db, o);
        s.upsert_model(sample_model("z"));
      },
      {db, "database is locked by another program (waited 0.4 s); close it or use another --db"});
  double waited = seconds_since(t0);
  EXPECT_GE(waited, 0.35);
  EXPECT_LT(waited, 4.0);

  // After the other program lets go, writes work again.
  ASSERT_EQ(raw_exec(other.db, "COMMIT"), SQLITE_OK);
  Store s(db, o);
  s.upsert_model(sample_model("z"));
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM models"), 2);
}

// A rollback-journal database under another program's EXCLUSIVE lock cannot even be read:
// opening reports the lock.
TEST(StoreLocks, OpenLockedOutAfterTimeout) {
  mm::test::TempDir tmp("lock-open");
  const std::string db = tmp / "metamerlab.db";
  make_store(db);
  RawDb other(db);
  ASSERT_EQ(q_text(other.db, "PRAGMA journal_mode=DELETE"), "delete");
  ASSERT_EQ(raw_exec(other.db, "BEGIN EXCLUSIVE; INSERT INTO meta VALUES ('held', 'yes')"),
            SQLITE_OK);

  StoreOptions o;
  o.busy_timeout_ms = 300;
  auto t0 = std::chrono::steady_clock::now();
  expect_error([&] { Store s(db, o); }, {db, "locked by another program (waited 0.3 s)"});
  double waited = seconds_since(t0);
  EXPECT_GE(waited, 0.25);
  EXPECT_LT(waited, 4.0);
  ASSERT_EQ(raw_exec(other.db, "ROLLBACK"), SQLITE_OK);
}

// A lock released within the timeout is waited for, not reported.
TEST(StoreLocks, WaitsForShortLocks) {
  mm::test::TempDir tmp("lock-wait");
  const std::string db = tmp / "metamerlab.db";
  make_store(db);
  StoreOptions o;
  o.busy_timeout_ms = 4000;
  Store s(db, o);
  RawDb other(db);
  ASSERT_EQ(raw_exec(other.db, "BEGIN EXCLUSIVE; INSERT INTO meta VALUES ('held', 'yes')"),
            SQLITE_OK);
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    raw_exec(other.db, "COMMIT");
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(s.upsert_model(sample_model("w")));
  double waited = seconds_since(t0);
  releaser.join();
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 3.5);
  EXPECT_EQ(q_text(s.handle(), "SELECT value FROM meta WHERE key='held'"), "yes");
}

// The wording for the default timeout, and for the other conditions, without waiting 5 s.
TEST(StoreLocks, MessagesNameFileAndFix) {
  using detail::error_message;
  EXPECT_EQ(error_message("metamerlab.db", SQLITE_BUSY, 5000, "x", nullptr),
            "metamerlab.db: database is locked by another program (waited 5 s); close it or "
            "use another --db");
  EXPECT_EQ(error_message("metamerlab.db", SQLITE_BUSY_SNAPSHOT, 5000, "x", nullptr),
            "metamerlab.db: database is locked by another program (waited 5 s); close it or "
            "use another --db");
  EXPECT_EQ(error_message("metamerlab.db", SQLITE_READONLY_DBMOVED, 5000, "x", nullptr),
            "metamerlab.db: database is read-only; make it writable (chmod u+w) or pass "
            "another --db");
  EXPECT_EQ(error_message("metamerlab.db", SQLITE_NOTADB, 5000, "x", nullptr),
            "metamerlab.db: not a metamerlab/SQLite database; pass another --db");
  std::string full = error_message("metamerlab.db", SQLITE_FULL, 5000, "x", nullptr);
  EXPECT_EQ(full.rfind("metamerlab.db: disk is full", 0), 0u) << full;
  std::string cant = error_message("metamerlab.db", SQLITE_CANTOPEN, 5000, "x", nullptr);
  EXPECT_EQ(cant.rfind("metamerlab.db: cannot open", 0), 0u) << cant;
  EXPECT_NE(cant.find("--db"), std::string::npos);
}

// SQLite's message can quote a damaged schema (the merge fuzzer's finding): it stays one
// line, of bounded length.
TEST(StoreLocks, SQLitesOwnMessageStaysOneLine) {
  using detail::error_message;
  const std::string quoted = "malformed database schema (x) - unrecognized token: \"`3index\nCREATE INDEX i ON t (a)\r\n\x01";
  const std::string m = error_message("shard.db", SQLITE_CORRUPT, 5000, "x", quoted.c_str());
  EXPECT_EQ(m.find_first_of("\n\r\x01"), std::string::npos) << m;
  EXPECT_EQ(m.rfind("shard.db: database is corrupt (malformed database schema (x) - unrecognized token: \"`3index CREATE", 0), 0u)
      << m;
  const std::string longer = error_message("shard.db", SQLITE_ERROR, 5000, "x", std::string(5000, 'a').c_str());
  EXPECT_LT(longer.size(), 200u);
  EXPECT_EQ(longer.substr(longer.size() - 3), "...");
}

// [SECTION] Refusals ----------------------------------------------------------------------
// Tests run as root, where permission bits do not stop writes; an SQLite read-only URI
// gives a genuinely read-only connection, which the store must refuse.
TEST(StoreRefusals, ReadOnlyConnectionIsRefused) {
  mm::test::TempDir tmp("ro-uri");
  const std::string db = tmp / "metamerlab.db";
  make_store(db);
  const std::string before = mm::test::read_bytes(db);
  const std::string uri = "file:" + db + "?mode=ro";
  expect_error([&] { Store s(uri); },
               {uri, "database is read-only; make it writable (chmod u+w) or pass another --db"});
  EXPECT_EQ(mm::test::read_bytes(db), before);
}

TEST(StoreRefusals, ReadOnlyFileIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores permission bits (see ReadOnlyConnection)";
  mm::test::TempDir tmp("ro-file");
  const std::string db = tmp / "metamerlab.db";
  make_store(db);
  ASSERT_EQ(::chmod(db.c_str(), 0444), 0);
  const std::string before = mm::test::read_bytes(db);
  expect_error([&] { Store s(db); }, {db, "database is read-only", "chmod u+w"});
  EXPECT_EQ(mm::test::read_bytes(db), before);
  ::chmod(db.c_str(), 0644);
}

TEST(StoreRefusals, ReadOnlyFolderIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores permission bits";
  mm::test::TempDir tmp("ro-dir");
  const std::string dir = tmp / "locked";
  fs::create_directories(dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0555), 0);
  expect_error([&] { Store s(dir + "/m.db"); }, {dir, "not writable"});
  ::chmod(dir.c_str(), 0755);
}

TEST(StoreRefusals, NotADatabaseIsRefusedUntouched) {
  mm::test::TempDir tmp("notadb");
  std::mt19937 rng(123);
  std::string noise(8192, '\0');
  for (char& c : noise) c = static_cast<char>(rng() & 0xff);
  const std::string text = "name,category\ndog.png,dog\n";
  for (const auto& [name, bytes] :
       {std::pair<std::string, std::string>{"noise.db", noise}, {"notes.csv", text}}) {
    SCOPED_TRACE(name);
    const std::string path = tmp / name;
    mm::test::write_bytes(path, bytes);
    expect_error([&] { Store s(path); },
                 {path + ": not a metamerlab/SQLite database; pass another --db"});
    EXPECT_EQ(mm::test::read_bytes(path), bytes);
    EXPECT_TRUE(sidecars(path).empty());
  }
}

TEST(StoreRefusals, OtherProgramsDatabaseIsRefusedUntouched) {
  mm::test::TempDir tmp("foreign");
  const std::string db = tmp / "other.sqlite";
  {
    RawDb raw(db);
    ASSERT_EQ(raw_exec(raw.db, "CREATE TABLE contacts (name TEXT); INSERT INTO contacts "
                               "VALUES ('x')"),
              SQLITE_OK);
  }
  const std::string before = mm::test::read_bytes(db);
  expect_error([&] { Store s(db); }, {db, "not a metamerlab/SQLite database", "--db"});
  EXPECT_EQ(mm::test::read_bytes(db), before);
  EXPECT_TRUE(sidecars(db).empty());
}

TEST(StoreRefusals, MissingFolderIsNamed) {
  mm::test::TempDir tmp("nofolder");
  const std::string dir = tmp / "no/such/folder";
  const std::string db = dir + "/metamerlab.db";
  expect_error([&] { Store s(db); }, {db, "folder " + dir + " does not exist", "--db"});
  EXPECT_FALSE(fs::exists(tmp / "no"));
}

TEST(StoreRefusals, FolderInsteadOfFileIsRefused) {
  mm::test::TempDir tmp("isdir");
  fs::create_directories(tmp / "d.db");
  expect_error([&] { Store s(tmp / "d.db"); }, {tmp / "d.db", "is a folder", "--db"});
}

TEST(StoreRefusals, NewerSchemaIsRefusedUntouched) {
  mm::test::TempDir tmp("newer");
  const std::string db = tmp / "metamerlab.db";
  make_store(db);
  {
    // A newer metamerlab may also have changed the journal mode: it must not be switched.
    RawDb raw(db);
    ASSERT_EQ(q_text(raw.db, "PRAGMA journal_mode=DELETE"), "delete");
    ASSERT_EQ(raw_exec(raw.db, "PRAGMA user_version=999"), SQLITE_OK);
  }
  ASSERT_TRUE(sidecars(db).empty());
  const std::string before = mm::test::read_bytes(db);
  expect_error([&] { Store s(db); },
               {db, "999", "written by a newer metamerlab", "upgrade"});
  EXPECT_EQ(mm::test::read_bytes(db), before);
  RawDb raw(db);
  EXPECT_EQ(q_int(raw.db, "PRAGMA user_version"), 999);
  EXPECT_EQ(q_text(raw.db, "PRAGMA journal_mode"), "delete");
}

// [SECTION] Crashes -----------------------------------------------------------------------
// The child records runs and metamers, opens a transaction of its own, writes into it and
// is killed before committing. Everything committed must be there, nothing uncommitted.
TEST(StoreCrashes, CommittedRecordsSurviveKill) {
  mm::test::TempDir tmp("crash");
  const std::string db = tmp / "metamerlab.db";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      Store s(db);
      int64_t model = s.upsert_model(sample_model());
      int64_t run = s.begin_synth_run(sample_run(model));
      for (int k = 0; k < 6; ++k) s.add_metamer(sample_metamer(run, k));
      s.add_null(sample_null(model, 3));
      int64_t jr = s.begin_judgment_run({model, "/stim", "", "v"});
      s.add_judgments({{jr, "a.png", "sa", "dog", "dog", true},
                       {jr, "b.png", "sb", "cat", "dog", false}});
      if (raw_exec(s.handle(), "BEGIN IMMEDIATE; INSERT INTO meta VALUES ('uncommitted', 'x');"
                               "INSERT INTO metamers SELECT NULL, " 
                               "run_id, reference_path, 'uncommitted', category, layer, seed, "
                               "iterations, final_loss, spearman, pearson, snr_db, "
                               "null_spearman_max, null_pearson_max, null_snr_max, null_id, "
                               "pred_metamer, pred_reference, passed, status, message, "
                               "png_path, png_sha256, wav_path, wav_sha256, float_path, "
                               "float_sha256, wall_s, created_at, converged, loss_curve FROM metamers") != SQLITE_OK)
        ::_exit(3);
      ::kill(::getpid(), SIGKILL);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  Store s(db);
  EXPECT_EQ(q_text(s.handle(), "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM models"), 1);
  int64_t run = q_int(s.handle(), "SELECT id FROM synth_runs");
  auto ms = s.metamers_of_run(run);
  ASSERT_EQ(ms.size(), 6u);
  for (int k = 0; k < 6; ++k) expect_same(ms[k], sample_metamer(run, k));
  NullRecord n = sample_null(q_int(s.handle(), "SELECT id FROM models"), 3);
  auto f = s.find_null(n.model_sha256, n.layer, n.set_sha256, n.pairs, n.seed);
  ASSERT_TRUE(f);
  expect_same(f->second, n);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM judgments"), 2);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM meta WHERE key='uncommitted'"), 0);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM metamers WHERE "
                              "reference_sha256='uncommitted'"),
            0);
}

// The child adds metamers as fast as it can and reports each committed one through a pipe;
// the parent kills it at an arbitrary moment (often inside a transaction). Every reported
// metamer must be in the database and the database must be intact.
TEST(StoreCrashes, KillAtRandomMomentKeepsCommitted) {
  mm::test::TempDir tmp("crash-rand");
  const std::string db = tmp / "metamerlab.db";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      Store s(db);
      int64_t run = s.begin_synth_run(sample_run(s.upsert_model(sample_model())));
      for (int k = 0;; ++k) {
        s.add_metamer(sample_metamer(run, k));
        int32_t done = k + 1;
        if (::write(fds[1], &done, sizeof done) != sizeof done) ::_exit(3);
      }
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(fds[1]);
  int32_t reported = 0, v = 0;
  while (reported < 40 && ::read(fds[0], &v, sizeof v) == sizeof v) reported = v;
  std::this_thread::sleep_for(std::chrono::microseconds(1500));
  ::kill(pid, SIGKILL);
  while (::read(fds[0], &v, sizeof v) == sizeof v) reported = v;  // drain what it reported
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_GE(reported, 40);

  Store s(db);
  EXPECT_EQ(q_text(s.handle(), "PRAGMA integrity_check"), "ok");
  int64_t run = q_int(s.handle(), "SELECT id FROM synth_runs");
  auto ms = s.metamers_of_run(run);
  // Every reported add is there; at most the one in flight when killed may be too.
  ASSERT_GE(static_cast<int>(ms.size()), reported);
  ASSERT_LE(static_cast<int>(ms.size()), reported + 1);
  for (size_t k = 0; k < ms.size(); ++k) expect_same(ms[k], sample_metamer(run, k));
}

}  // namespace
