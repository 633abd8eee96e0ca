// Injected faults in the store: the real program, with a test-only SQLite VFS preloaded
// (tests/support/fault_vfs.cpp), meets a failing write, sync or lock at the N-th call, for
// every N a run makes. A scripted session: each failure is one clear line and a non-zero
// exit, never a crash; no committed trial is lost or changed; PRAGMA integrity_check is ok;
// the same command afterwards resumes and completes the session with each planned trial
// once. A synthesis run and an export likewise: a clear line, the database intact, no
// half-written output, and the same command afterwards finishes the work (a synthesis run
// bit-identical to an uninterrupted one). A merge of shard databases, into a new OUT and
// into one holding an earlier merge: OUT exactly as before (absent, or its records
// unchanged) or completely merged, the shards untouched, and the merge run again gives
// what an uninterrupted merge gives.
//
// METAMERLAB_FAULT_STRIDE=K tries every K-th N (1: every N, the full run); by default about
// 10 points per kind spread over the run (CI).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "data/sha256.h"
#include "data/store.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using mm::test::Cli;
using mm::test::EnvVar;

const std::vector<std::string> kCats = {"boat", "cat", "dog"};

// Six main trials (3 categories x 2 references; natural and one metamer layer), short
// timing: a whole session takes a second or two.
std::string make_lab(const std::string& root) {
  mm::test::write_image_set(root + "/refs", kCats, 2, 32, "{cat}/{cat}_{k}.png", 0, 100);
  mm::test::write_image_set(root + "/syn/l1", kCats, 2, 32, "{cat}/{cat}_{k}.png", 700, 100);
  mm::test::write_image_set(root + "/icons", kCats, 1, 16, "{cat}.png", 900, 1);
  mm::test::write_bytes(root + "/exp.toml", R"([experiment]
name = "faults"
modality = "image"
seed = 3

[responses]
alternatives = ["boat", "cat", "dog"]
icons = "icons"

[timing]
fixation = 50
stimulus = 50
mask = 50
response = 0
iti = 20

[sets.refs]
folders = ["refs"]

[[metamers]]
model = "zoo:toy"
layers = ["l1"]
folder = "syn"
assume_passed = true

[[blocks]]
kind = "main"
set = "refs"
)");
  return root + "/exp.toml";
}

std::string fault_vfs() { return MM_FAULT_VFS; }

// Every N with METAMERLAB_FAULT_STRIDE=1 (the full run, minutes per kind); by default about
// 10 points per kind, spread over the whole run, so CI stays short.
long long stride(long long total, long long points = 10) {
  const char* s = std::getenv("METAMERLAB_FAULT_STRIDE");
  if (s && std::atoi(s) > 0) return std::atoi(s);
  return std::max(1LL, (total + points - 1) / points);
}

// Calls of each kind one clean run makes ("write", "sync", "lock").
std::map<std::string, long long> count_calls(const std::vector<std::string>& args, const std::string& dir) {
  fs::create_directories(dir);
  const std::string counts = dir + "/counts.txt";
  const Cli c = mm::test::run_metamerlab(args, dir + "/count-out.txt",
                                         {{"LD_PRELOAD", fault_vfs()}, {"MM_FAULT_COUNT", counts}}, 120);
  EXPECT_EQ(c.code, 0) << c.out;
  std::map<std::string, long long> out;
  std::ifstream f(counts);
  std::string kind;
  long long n = 0;
  while (f >> kind >> n) out[kind] = n;
  EXPECT_EQ(out.size(), 3u) << "the fault VFS did not load (" << fault_vfs() << ")";
  return out;
}

// A failed run: a clear line naming what failed, a non-zero exit below any signal, no crash.
void expect_clean_failure(const Cli& c, const std::string& where) {
  EXPECT_NE(c.code, 0) << where << c.out;
  EXPECT_LT(c.code, 128) << where << ": killed by a signal\n" << c.out;
  EXPECT_NE(c.out.find("metamerlab: "), std::string::npos) << where << c.out;
  for (const char* bad : {"terminate called", "Segmentation", "Aborted", "core dumped", "Assertion"})
    EXPECT_EQ(c.out.find(bad), std::string::npos) << where << c.out;
}

struct TrialRow {
  std::string response, answered_at;
  int64_t rt = 0;
};

std::map<int64_t, TrialRow> trials_of(const std::string& db) {
  std::map<int64_t, TrialRow> out;
  if (!fs::exists(db)) return out;
  mm::data::Store s(db);
  for (const auto& x : s.list_sessions())
    for (const auto& t : s.trials_of_session(x.id))
      out[t.trial_index] = {t.response, t.answered_at, static_cast<int64_t>(t.rt_response_ms)};
  return out;
}

TEST(Faults, EveryWriteSyncAndLockOfAScriptedSessionFailsCleanlyThenResumes) {
  mm::test::TempDir tmp("faults_session");
  const std::string exp = make_lab(tmp.path);
  const auto args_for = [&](const std::string& db) {
    return std::vector<std::string>{"run", exp, "--participant", "2", "--db", db, "--windowed", "--auto", "correct"};
  };
  const auto calls = count_calls(args_for(tmp / "count.db"), tmp.path);
  ASSERT_GT(calls.at("write"), 10);
  ASSERT_GT(calls.at("sync"), 2);
  ASSERT_GT(calls.at("lock"), 2);
  int points = 0, failed_runs = 0;
  for (const auto& [kind, total] : calls) {
    for (long long n = 1; n <= total; n += stride(total)) {
      const std::string where = kind + " " + std::to_string(n) + " of " + std::to_string(total);
      SCOPED_TRACE(where);
      const std::string db = tmp / (kind + std::to_string(n) + ".db");
      const Cli c = mm::test::run_metamerlab(
          args_for(db), tmp / "out.txt",
          {{"LD_PRELOAD", fault_vfs()}, {"MM_FAULT_OP", kind}, {"MM_FAULT_AT", std::to_string(n)}}, 120);
      ++points;
      if (c.code != 0) {
        ++failed_runs;
        expect_clean_failure(c, where);
      }
      // What was committed survives, intact.
      const auto before = trials_of(db);
      if (fs::exists(db)) {
        mm::data::Store s(db);
        EXPECT_EQ(s.integrity_check(), "ok");
      }
      // The same command again, on a healthy disk: resumes (or starts) and completes. A fault
      // after the last trial's commit leaves a completed session: nothing to resume.
      bool completed = false;
      if (fs::exists(db)) {
        mm::data::Store s(db);
        for (const auto& x : s.list_sessions()) completed = x.status == mm::data::SessionStatus::completed;
      }
      if (!completed) {
        const Cli r = mm::test::run_metamerlab(args_for(db), tmp / "out2.txt", {}, 120);
        ASSERT_EQ(r.code, 0) << r.out;
      }
      mm::data::Store s(db);
      const auto sessions = s.list_sessions();
      ASSERT_EQ(sessions.size(), 1u);
      EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed);
      const auto trials = s.trials_of_session(sessions[0].id);
      ASSERT_EQ(static_cast<int64_t>(trials.size()), sessions[0].planned);
      for (size_t i = 0; i < trials.size(); ++i) EXPECT_EQ(trials[i].trial_index, static_cast<int64_t>(i));
      const auto after = trials_of(db);
      for (const auto& [index, row] : before) {
        ASSERT_TRUE(after.count(index)) << "trial " << index << " was lost";
        EXPECT_EQ(after.at(index).response, row.response) << "trial " << index;
        EXPECT_EQ(after.at(index).answered_at, row.answered_at) << "trial " << index;
        EXPECT_EQ(after.at(index).rt, row.rt) << "trial " << index;
      }
      EXPECT_EQ(s.integrity_check(), "ok");
      if (::testing::Test::HasFatalFailure()) return;
      fs::remove(db);
      fs::remove(db + "-wal");
      fs::remove(db + "-shm");
    }
  }
  // Most points stop the run (a few fall where SQLite retries or nothing is lost by going on).
  EXPECT_GT(failed_runs, points / 2) << failed_runs << " of " << points;
  std::cout << "fault points tried: " << points << " (write " << calls.at("write") << ", sync " << calls.at("sync")
            << ", lock " << calls.at("lock") << "), runs stopped by the fault: " << failed_runs << "\n";
}

// SHA-256 of every file under dir by relative path (checkpoints left out).
std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() != ".ckpt")
      out[fs::relative(e.path(), dir).string()] = mm::data::sha256_file(e.path().string());
  return out;
}

// A fault at every point (by default `points` per kind) of a run of args_for(DIR); after each:
// a clean failure or success, `after_fault(DIR)`, then the same command on a healthy disk
// succeeds and `finished(DIR)` checks the result. `prepare(DIR)`, when given, sets up DIR
// before each run (the clean run that counts the calls included).
void every_point(const std::string& root, const std::function<std::vector<std::string>(const std::string&)>& args_for,
                 long long points, const std::function<void(const std::string&)>& after_fault,
                 const std::function<void(const std::string&)>& finished,
                 const std::function<void(const std::string&)>& prepare = nullptr) {
  if (prepare) {
    fs::create_directories(root + "/count");
    prepare(root + "/count");
  }
  const auto calls = count_calls(args_for(root + "/count"), root + "/count");
  int tried = 0, stopped = 0;
  for (const auto& [kind, total] : calls) {
    for (long long n = 1; n <= total; n += stride(total, points)) {
      const std::string where = kind + " " + std::to_string(n) + " of " + std::to_string(total);
      SCOPED_TRACE(where);
      const std::string dir = root + "/" + kind + std::to_string(n);
      fs::create_directories(dir);
      if (prepare) prepare(dir);
      const Cli c = mm::test::run_metamerlab(
          args_for(dir), dir + "/out.txt",
          {{"LD_PRELOAD", fault_vfs()}, {"MM_FAULT_OP", kind}, {"MM_FAULT_AT", std::to_string(n)}}, 300);
      ++tried;
      if (c.code != 0) {
        ++stopped;
        expect_clean_failure(c, where);
      }
      after_fault(dir);
      const Cli r = mm::test::run_metamerlab(args_for(dir), dir + "/out2.txt", {}, 300);
      ASSERT_EQ(r.code, 0) << r.out;
      finished(dir);
      if (::testing::Test::HasFatalFailure()) return;
      fs::remove_all(dir);
    }
  }
  EXPECT_GT(stopped, 0);
  std::cout << "fault points tried: " << tried << " (write " << calls.at("write") << ", sync " << calls.at("sync")
            << ", lock " << calls.at("lock") << "), runs stopped by the fault: " << stopped << "\n";
}

void expect_intact(const std::string& db) {
  if (!fs::exists(db)) return;
  mm::data::Store s(db);
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST(Faults, ASynthesisRunFailsCleanlyAtEachPointThenResumesBitIdentical) {
  mm::test::TempDir tmp("faults_synth");
  const std::string input = mm::test::source_dir() + "/stimuli/samples/emoji16/reference";
  const auto args_for = [&](const std::string& dir) {
    return std::vector<std::string>{"synth", "--model", "zoo:emoji16-standard", "--layers", "stage2", "--input", input,
                                    "--out", dir + "/out", "--db", dir + "/m.db", "--iterations", "10", "--rounds", "1",
                                    "--batch", "8", "--threads", "1", "--null-pairs", "1000", "--quiet"};
  };
  const std::string ref = tmp / "reference";
  fs::create_directories(ref);
  ASSERT_EQ(mm::test::run_metamerlab(args_for(ref), ref + "/out.txt", {}, 300).code, 0);
  const auto want = tree(ref + "/out");
  ASSERT_EQ(want.size(), 32u);  // 16 references: a PNG and an exact .npy each
  every_point(
      tmp.path, args_for, 6, [&](const std::string& dir) { expect_intact(dir + "/m.db"); },
      [&](const std::string& dir) {
        EXPECT_EQ(tree(dir + "/out"), want) << "the resumed run's outputs differ from an uninterrupted run's";
        mm::data::Store s(dir + "/m.db");
        EXPECT_EQ(s.integrity_check(), "ok");
      });
}

TEST(Faults, AnExportFailsCleanlyAtEachPointAndLeavesNoHalfExport) {
  mm::test::TempDir tmp("faults_export");
  const std::string exp = make_lab(tmp.path);
  const std::string db = tmp / "sessions.db";
  for (const char* p : {"1", "2"}) {
    const Cli c = mm::test::run_metamerlab({"run", exp, "--participant", p, "--db", db, "--windowed", "--auto", "correct"},
                                           tmp / "run.txt");
    ASSERT_EQ(c.code, 0) << c.out;
  }
  const auto args_for = [&](const std::string& dir) {
    return std::vector<std::string>{"export", "--db", db, "--format", "bids", "--out", dir + "/x"};
  };
  const std::string ref = tmp / "reference";
  fs::create_directories(ref);
  ASSERT_EQ(mm::test::run_metamerlab(args_for(ref), ref + "/out.txt").code, 0);
  const auto want = tree(ref + "/x");
  ASSERT_GT(want.size(), 3u);
  every_point(
      tmp.path, args_for, 10,
      [&](const std::string& dir) {
        expect_intact(db);
        // Absent, or complete: never a half-written export.
        if (fs::exists(dir + "/x")) EXPECT_EQ(tree(dir + "/x"), want);
        if (fs::exists(dir + "/x") && tree(dir + "/x") == want) fs::remove_all(dir + "/x");  // the rerun needs it new
      },
      [&](const std::string& dir) { EXPECT_EQ(tree(dir + "/x"), want); });
}

// Every row of the tables a merge writes, ids included, as text; kAbsent when there is no
// file (an empty database gives "").
const std::string kAbsent = "(absent)";
std::string merged_rows(const std::string& db) {
  if (!fs::exists(db)) return kAbsent;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(h);
    ADD_FAILURE() << db << " cannot be opened";
    return "unreadable";
  }
  std::string o;
  for (const char* t : {"models", "synth_runs", "null_distributions", "metamers"}) {
    sqlite3_stmt* s = nullptr;
    const std::string q = std::string("SELECT * FROM ") + t + " ORDER BY id";
    if (sqlite3_prepare_v2(h, q.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << db << ": " << q << ": " << sqlite3_errmsg(h);
      o += "unreadable";
      break;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      o += t;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const unsigned char* p = sqlite3_column_text(s, i);
        o += std::string("|") + (p ? reinterpret_cast<const char*>(p) : "NULL");
      }
      o += "\n";
    }
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(h);
  return o;
}

// Three shards of a small zoo:tiny-cnn synthesis (16 references, one layer), each with its
// own database, and OUT holding the merge of the first, made once for the merge tests.
struct Shards {
  mm::test::TempDir tmp{"faults_merge_shards"};
  std::vector<std::string> dbs;
  std::string first_merged;  // an OUT that already holds shard 0
  std::map<std::string, std::string> sha;
  Shards() {
    const std::string input = mm::test::source_dir() + "/stimuli/samples/emoji16/reference";
    for (int k = 0; k < 3; ++k) {
      const std::string dir = tmp / ("s" + std::to_string(k));
      const Cli c = mm::test::run_metamerlab(
          {"synth", "--model", "zoo:tiny-cnn", "--layers", "conv1", "--input", input, "--out", dir + "/out", "--db",
           dir + "/m.db", "--batch", "4", "--iterations", "3", "--rounds", "1", "--null-pairs", "20", "--threads", "1",
           "--quiet", "--shard", std::to_string(k) + "/3"},
          tmp / "synth.txt", {}, 300);
      EXPECT_EQ(c.code, 0) << c.out;
      dbs.push_back(dir + "/m.db");
    }
    first_merged = tmp / "first.db";
    const Cli c = mm::test::run_metamerlab({"merge", first_merged, dbs[0]}, tmp / "merge.txt");
    EXPECT_EQ(c.code, 0) << c.out;
    sha = shard_files();
  }
  // SHA-256 of every file of the shards (databases and metamers): a merge only reads them.
  // SQLite's reader of a WAL-mode database leaves its shared-memory index (m.db-shm) and an
  // empty m.db-wal beside it, which a read-only connection cannot remove: a -wal file must
  // be empty, the -shm is left out.
  std::map<std::string, std::string> shard_files() const {
    std::map<std::string, std::string> out;
    for (int k = 0; k < 3; ++k)
      for (const auto& [rel, h] : tree(tmp / ("s" + std::to_string(k)))) {
        if (rel == "m.db-shm") continue;
        if (rel == "m.db-wal") {
          EXPECT_EQ(fs::file_size(tmp / ("s" + std::to_string(k) + "/" + rel)), 0u) << "a merge wrote to shard " << k;
          continue;
        }
        out["s" + std::to_string(k) + "/" + rel] = h;
      }
    return out;
  }
};

Shards& shards() {
  static Shards s;
  return s;
}

// A merge of the three shards into DIR/out.db, failing at each point: OUT as it was before
// (`before`: kAbsent for none) or completely merged (`want`), never in between; the merge
// run again gives `want`; the shards are never written.
void merge_at_each_point(const std::string& root, const std::string& before, const std::string& want,
                         const std::function<void(const std::string&)>& prepare) {
  Shards& sh = shards();
  const auto args_for = [&](const std::string& dir) {
    std::vector<std::string> a = {"merge", dir + "/out.db"};
    a.insert(a.end(), sh.dbs.begin(), sh.dbs.end());
    return a;
  };
  every_point(
      root, args_for, 6,
      [&](const std::string& dir) {
        const std::string out = dir + "/out.db";
        expect_intact(out);
        const std::string now = merged_rows(out);
        EXPECT_TRUE(now == before || now == want) << "OUT is neither as it was nor completely merged:\n" << now;
        if (before == kAbsent && !fs::exists(out))
          for (const char* sfx : {"-wal", "-shm", "-journal"})
            EXPECT_FALSE(fs::exists(out + sfx)) << out + sfx << " left behind";
      },
      [&](const std::string& dir) {
        EXPECT_EQ(merged_rows(dir + "/out.db"), want) << "the merge run again differs from an uninterrupted merge";
        expect_intact(dir + "/out.db");
      },
      prepare);
  EXPECT_EQ(sh.shard_files(), sh.sha) << "a merge wrote to its shards";
}

TEST(Faults, AMergeIntoANewDatabaseFailsCleanlyAtEachPointAndLeavesNoDatabase) {
  Shards& sh = shards();
  ASSERT_EQ(sh.dbs.size(), 3u);
  mm::test::TempDir tmp("faults_merge_new");
  const std::string ref = tmp / "reference.db";
  const Cli c = mm::test::run_metamerlab({"merge", ref, sh.dbs[0], sh.dbs[1], sh.dbs[2]}, tmp / "ref.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  const std::string want = merged_rows(ref);
  ASSERT_NE(want.find("metamers|16|"), std::string::npos) << "16 metamers expected:\n" << want;
  merge_at_each_point(tmp.path, kAbsent, want, nullptr);
}

TEST(Faults, AMergeIntoAnEarlierMergeFailsCleanlyAtEachPointAndLeavesItAsItWas) {
  Shards& sh = shards();
  ASSERT_EQ(sh.dbs.size(), 3u);
  mm::test::TempDir tmp("faults_merge_existing");
  const std::string ref = tmp / "reference.db";
  fs::copy_file(sh.first_merged, ref);
  const std::string before = merged_rows(sh.first_merged);
  const Cli c = mm::test::run_metamerlab({"merge", ref, sh.dbs[0], sh.dbs[1], sh.dbs[2]}, tmp / "ref.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  const std::string want = merged_rows(ref);
  ASSERT_NE(before, want);
  ASSERT_NE(want.find("metamers|16|"), std::string::npos) << "16 metamers expected:\n" << want;
  merge_at_each_point(tmp.path, before, want,
                      [&](const std::string& dir) { fs::copy_file(sh.first_merged, dir + "/out.db"); });
}

}  // namespace
