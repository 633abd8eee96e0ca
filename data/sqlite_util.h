// data (internal): small RAII helpers over the SQLite C API for the store's own .cpp files.
//
// Db      the connection, the file name to put in messages and the busy timeout
// fail()  turns an SQLite result code into a one-line "FILE: what; fix" runtime_error
// exec()  runs one or more SQL statements without parameters
// Stmt    a prepared statement: bind, step, read columns; finalized at scope exit
// Txn     BEGIN IMMEDIATE ... COMMIT, rolled back at scope exit unless committed
//
// Not part of the module's API: only data/*.cpp include this.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>

// The current UTC time as ISO-8601 with milliseconds, for SQL text columns.
#define MM_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

namespace mm::data::detail {

// PRAGMA application_id of metamerlab's databases ('MMLB').
constexpr int kApplicationId = 0x4D4D4C42;

struct Db {
  sqlite3* db;
  const std::string& path;  // as the user gave it; named in every message
  int busy_timeout_ms;
};

// Throws std::runtime_error for result code `rc` of an operation described by `what`
// (for instance "add_metamer"). Known conditions (read-only, locked, not a database, full,
// cannot open, corrupt) get a fixed one-line message with the fix; others carry SQLite's
// own message.
[[noreturn]] void fail(const Db& d, int rc, const std::string& what);

// The error message fail() would use (for tests of the wording and for callers that only
// want the text).
std::string error_message(const std::string& path, int rc, int busy_timeout_ms,
                          const std::string& what, const char* sqlite_msg);

// Runs SQL text (may hold several statements). Throws through fail() on error.
void exec(const Db& d, const char* sql, const std::string& what);

class Stmt {
 public:
  Stmt(const Db& d, const char* sql, const std::string& what);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are numbered from 1, as in SQLite.
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, const char* v);
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, bool v) { return bind(i, static_cast<int64_t>(v ? 1 : 0)); }
  Stmt& bind(int i, double v);
  Stmt& bind_null(int i);
  // Binds NULL for 0, else the id (for optional foreign keys).
  Stmt& bind_id_or_null(int i, int64_t id);
  // Binds a column value of another statement (any connection), type and bytes kept.
  Stmt& bind_value(int i, const sqlite3_value* v);

  // Steps once: true if a row is ready, false when done. Throws on error.
  bool step();
  // Steps until done (for statements that return no rows).
  void run();
  void reset();

  // Columns are numbered from 0. NULL reads as 0 / 0.0 / "".
  int64_t i64(int col) const;
  double f64(int col) const;
  std::string text(int col) const;
  bool is_null(int col) const;
  // The column as SQLite holds it (type and bytes), valid until the next step or reset;
  // for copying rows between databases (store_merge.cpp).
  sqlite3_value* value(int col) const;

 private:
  const Db& d_;
  sqlite3_stmt* s_ = nullptr;
  std::string what_;
};

// A write transaction. BEGIN IMMEDIATE takes the write lock at once, so a writer waits for
// another program's lock through the busy timeout instead of failing half-way.
class Txn {
 public:
  Txn(const Db& d, const std::string& what);
  ~Txn();  // rolls back if commit() was not reached
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  void commit();

 private:
  const Db& d_;
  std::string what_;
  bool open_ = false;
};

// Inside the caller's transaction: every null distribution whose parts (table null_parts)
// are all present and that is not yet recorded is added (Store::complete_nulls; merge).
// Returns how many.
int64_t complete_null_parts(const Db& d);

}  // namespace mm::data::detail
