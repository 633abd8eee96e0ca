// data (internal): the SQLite helpers declared in sqlite_util.h: error messages that name
// the file and the fix, statement execution, prepared statements and write transactions.
//
// Sections
//   [SECTION] Errors        result code -> one-line message
//   [SECTION] Exec          SQL text without parameters
//   [SECTION] Stmt          prepared statements
//   [SECTION] Txn           write transactions
#include "data/sqlite_util.h"

#include <sstream>
#include <stdexcept>

namespace mm::data::detail {

// [SECTION] Errors ------------------------------------------------------------------------
namespace {

std::string seconds_text(int ms) {
  std::ostringstream o;
  o << (ms / 1000.0);
  return o.str();
}

// SQLite's own message as part of one line: it can quote a damaged file's schema text
// (line breaks, control bytes, any length; the merge fuzzer found one), so control
// characters become spaces and the text is cut after 160 bytes.
std::string one_line(const char* m) {
  std::string s = m;
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (s.size() > 160) s = s.substr(0, 160) + "...";
  return s;
}

}  // namespace

std::string error_message(const std::string& path, int rc, int busy_timeout_ms,
                          const std::string& what, const char* sqlite_msg) {
  const std::string msg = one_line(sqlite_msg ? sqlite_msg : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_READONLY:
      return path + ": database is read-only; make it writable (chmod u+w) or pass another --db";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return path + ": database is locked by another program (waited " +
             seconds_text(busy_timeout_ms) + " s); close it or use another --db";
    case SQLITE_NOTADB:
      return path + ": not a metamerlab/SQLite database; pass another --db";
    case SQLITE_FULL:
      return path + ": disk is full (or the database reached its size limit) during " + what +
             "; free some space or pass another --db";
    case SQLITE_CANTOPEN:
      return path + ": cannot open the database file (" + msg +
             "); check that its folder exists and is writable, or pass another --db";
    case SQLITE_CORRUPT:
      return path + ": database is corrupt (" + msg +
             "); restore it from a backup or pass another --db";
    case SQLITE_IOERR:
      return path + ": input/output error during " + what + " (" + msg +
             "); check the disk or pass another --db";
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return path + ": permission denied during " + what + " (" + msg +
             "); make the file and its folder writable or pass another --db";
    default:
      return path + ": " + what + " failed: " + msg;
  }
}

void fail(const Db& d, int rc, const std::string& what) {
  const char* m = d.db ? sqlite3_errmsg(d.db) : nullptr;
  throw std::runtime_error(error_message(d.path, rc, d.busy_timeout_ms, what, m));
}

// [SECTION] Exec --------------------------------------------------------------------------
void exec(const Db& d, const char* sql, const std::string& what) {
  char* err = nullptr;
  int rc = sqlite3_exec(d.db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw std::runtime_error(error_message(d.path, rc, d.busy_timeout_ms, what, m.c_str()));
  }
}

// [SECTION] Stmt --------------------------------------------------------------------------
Stmt::Stmt(const Db& d, const char* sql, const std::string& what) : d_(d), what_(what) {
  int rc = sqlite3_prepare_v2(d.db, sql, -1, &s_, nullptr);
  if (rc != SQLITE_OK) fail(d_, rc, what_);
}

Stmt::~Stmt() { sqlite3_finalize(s_); }

Stmt& Stmt::bind(int i, const std::string& v) {
  int rc = sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(d_, rc, what_);
  return *this;
}

Stmt& Stmt::bind(int i, const char* v) { return bind(i, std::string(v)); }

Stmt& Stmt::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(s_, i, static_cast<sqlite3_int64>(v));
  if (rc != SQLITE_OK) fail(d_, rc, what_);
  return *this;
}

Stmt& Stmt::bind(int i, double v) {
  int rc = sqlite3_bind_double(s_, i, v);
  if (rc != SQLITE_OK) fail(d_, rc, what_);
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  int rc = sqlite3_bind_null(s_, i);
  if (rc != SQLITE_OK) fail(d_, rc, what_);
  return *this;
}

Stmt& Stmt::bind_id_or_null(int i, int64_t id) {
  return id == 0 ? bind_null(i) : bind(i, id);
}

Stmt& Stmt::bind_value(int i, const sqlite3_value* v) {
  int rc = sqlite3_bind_value(s_, i, v);
  if (rc != SQLITE_OK) fail(d_, rc, what_);
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(d_, rc, what_);
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

int64_t Stmt::i64(int col) const { return sqlite3_column_int64(s_, col); }
double Stmt::f64(int col) const { return sqlite3_column_double(s_, col); }
bool Stmt::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
sqlite3_value* Stmt::value(int col) const { return sqlite3_column_value(s_, col); }

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(s_, col)));
}

// [SECTION] Txn ---------------------------------------------------------------------------
Txn::Txn(const Db& d, const std::string& what) : d_(d), what_(what) {
  exec(d_, "BEGIN IMMEDIATE", what_);
  open_ = true;
}

Txn::~Txn() {
  // Some errors (full disk, I/O) make SQLite roll back by itself; only roll back what is
  // still open, and never throw from here.
  if (open_ && !sqlite3_get_autocommit(d_.db))
    sqlite3_exec(d_.db, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Txn::commit() {
  exec(d_, "COMMIT", what_);
  open_ = false;
}

}  // namespace mm::data::detail
