// Shared helpers for the black-box tests of the metamerlab program: running it (in the
// foreground, or in the background to kill it), checking the one-line error contract,
// reading its database directly with sqlite3, and making small stimulus sets.
//
// Every run uses small settings and --threads 1 (bit-identical results need the same
// thread count, and the build machine has two busy cores).
#pragma once
#include "data/sha256.h"
#include "data/store.h"
#include "stimuli/stimuli.h"
#include "tests/testutil.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mm::cli_test {

namespace fs = std::filesystem;
using mm::test::RunResult;

// [SECTION] Running the program -----------------------------------------------------------
// Single-quotes a word for /bin/sh.
inline std::string q(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

// Runs `metamerlab ARGS` (ARGS already shell-quoted where needed), optionally in `cwd`.
inline RunResult run_mm(const std::string& args, const std::string& cwd = "") {
  std::string cmd = (cwd.empty() ? "" : "cd " + q(cwd) + " && ") + q(mm::test::metamerlab_binary()) + " " + args;
  return mm::test::run(cmd);
}

inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l)) v.push_back(l);
  return v;
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

inline std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

// The error contract: the exit code, nothing on stdout, exactly one line on stderr that
// starts with "metamerlab: " and contains every one of `parts`.
// (A synth run that fails after it began prints its progress on stdout: stdout_allowed.)
inline void expect_error(const RunResult& r, int code, const std::vector<std::string>& parts,
                         bool stdout_allowed = false) {
  EXPECT_EQ(r.exit_code, code) << describe(r);
  EXPECT_LT(r.exit_code, 128) << "crashed: " << describe(r);
  if (!stdout_allowed) {
    EXPECT_EQ(r.out, "") << describe(r);
  }
  auto ls = lines(r.err);
  ASSERT_EQ(ls.size(), 1u) << "stderr must be exactly one line\n" << describe(r);
  EXPECT_EQ(r.err.back(), '\n') << describe(r);
  EXPECT_EQ(ls[0].rfind("metamerlab: ", 0), 0u) << describe(r);
  for (const auto& p : parts) EXPECT_TRUE(contains(ls[0], p)) << "missing \"" << p << "\" in: " << ls[0];
}

inline void expect_ok(const RunResult& r) {
  ASSERT_EQ(r.exit_code, 0) << describe(r);
}

// A metamerlab process in the background (fork/exec, output to files) that a test can
// SIGKILL.
struct Background {
  pid_t pid = -1;
  std::string out_path, err_path;
  Background(const std::vector<std::string>& args, const std::string& out, const std::string& err)
      : out_path(out), err_path(err) {
    std::vector<std::string> argv{mm::test::metamerlab_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fo < 0 || fe < 0) ::_exit(126);
      ::dup2(fo, 1);
      ::dup2(fe, 2);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
  }
  // Returns true if the process has exited (status in *status).
  bool exited(int* status) {
    if (pid < 0) return true;
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) {
      pid = -1;
      return true;
    }
    return false;
  }
  int kill_and_wait() {
    int st = 0;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      pid = -1;
    }
    return st;
  }
  ~Background() { kill_and_wait(); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
};

// [SECTION] Files -------------------------------------------------------------------------
// Every regular file under `dir`, relative to it, sorted.
inline std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> v;
  if (!fs::exists(dir)) return v;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) v.push_back(fs::relative(e.path(), dir).string());
  std::sort(v.begin(), v.end());
  return v;
}

inline std::vector<std::string> with_ext(const std::vector<std::string>& v, const std::string& ext) {
  std::vector<std::string> o;
  for (auto& f : v)
    if (fs::path(f).extension() == ext) o.push_back(f);
  return o;
}

// ImageFolder: DIR/<category>/<category>_<k>.png, each a distinct pattern, size×size RGB.
inline void make_image_folder(const std::string& dir, const std::vector<std::string>& categories, int per_category,
                              int size = 64, unsigned seed = 1) {
  mm::test::write_image_set(dir, categories, per_category, size, "{cat}/{cat}_{k}.png", seed, 100);
}

// The python fixtures folder (tools/make_test_fixtures.py via the ctest fixture).
inline std::string fixture(const std::string& name) {
  std::string p = std::string(METAMERLAB_FIXTURES) + "/" + name;
  if (!fs::exists(p))
    throw std::runtime_error(p + " is missing: run /usr/bin/python3 tools/make_test_fixtures.py " +
                             std::string(METAMERLAB_FIXTURES) + " --torchvision (ctest does it via make_python_fixtures)");
  return p;
}

// [SECTION] Database ----------------------------------------------------------------------
// A read-only (or read-write) raw sqlite3 connection, independent of the store's code.
struct Sql {
  sqlite3* db = nullptr;
  explicit Sql(const std::string& path, bool write = false) {
    int flags = write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
      std::string m = db ? sqlite3_errmsg(db) : "?";
      sqlite3_close_v2(db);
      db = nullptr;
      throw std::runtime_error("test: cannot open " + path + ": " + m);
    }
    sqlite3_busy_timeout(db, 2000);
  }
  ~Sql() { sqlite3_close_v2(db); }
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  // All rows, every column as text ("" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql) const {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error("test query failed: " + sql + ": " + sqlite3_errmsg(db));
    std::vector<std::vector<std::string>> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const unsigned char* p = sqlite3_column_text(s, i);
        row.push_back(p ? reinterpret_cast<const char*>(p) : "");
      }
      out.push_back(row);
    }
    std::string m = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) throw std::runtime_error("test query failed: " + sql + ": " + m);
    return out;
  }
  std::string text(const std::string& sql) const {
    auto r = rows(sql);
    return r.empty() || r[0].empty() ? "" : r[0][0];
  }
  long long num(const std::string& sql) const {
    auto t = text(sql);
    return t.empty() ? 0 : std::stoll(t);
  }
  int exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
};

// Each metamer's record as the measures and files that define it, keyed by layer and reference.
inline std::map<std::string, std::string> metamer_records(const std::string& db) {
  Sql s(db);
  std::map<std::string, std::string> m;
  for (const auto& r :
       s.rows("SELECT layer || ' ' || reference_sha256, final_loss, spearman, pearson, snr_db, null_spearman_max, "
              "null_pearson_max, null_snr_max, passed, status, pred_metamer, pred_reference, iterations, converged, "
              "loss_curve, png_sha256, float_sha256, category FROM metamers")) {
    std::string v;
    for (size_t i = 1; i < r.size(); ++i) v += r[i] + "|";
    EXPECT_TRUE(m.emplace(r[0], v).second) << "recorded twice: " << r[0] << " in " << db;
  }
  return m;
}

// Row counts of the tables a run writes, plus the integrity check, as one comparable string.
inline std::string db_summary(const std::string& path) {
  Sql s(path);
  std::string o = "integrity=" + s.text("PRAGMA integrity_check");
  for (const char* t : {"models", "synth_runs", "metamers", "null_distributions", "judgment_runs", "judgments"})
    o += std::string(" ") + t + "=" + std::to_string(s.num(std::string("SELECT count(*) FROM ") + t));
  o += " metamer_shas=" + s.text("SELECT group_concat(float_sha256, ',') FROM (SELECT float_sha256 FROM metamers ORDER BY id)");
  return o;
}

// Copies a closed database (and any WAL/SHM sidecar) to another path.
inline void copy_db(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  for (const char* sfx : {"-wal", "-shm"})
    if (fs::exists(from + sfx)) fs::copy_file(from + sfx, to + sfx, fs::copy_options::overwrite_existing);
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace mm::cli_test
