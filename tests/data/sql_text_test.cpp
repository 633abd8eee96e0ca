// Nothing let in through SQL: every statement the store runs is fixed text with its values
// bound as parameters. This reads the sources: each Stmt and exec call in data/ must take a
// string literal (or the store's column-list macros, themselves literals) as its SQL, never
// text built at run time, apart from the few listed below whose pieces are the program's
// own integers or constants; no other folder prepares or executes SQL at all.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The SQL argument of each `Stmt NAME(d, SQL, ...)` and `exec(d, SQL, ...)` call: the text
// text after "d," (400 characters of it).
struct Call {
  std::string file;
  int line = 0;
  std::string sql_start;
};

std::vector<Call> sql_calls(const fs::path& file) {
  const std::string text = read(file);
  std::vector<Call> out;
  const std::regex call(R"((\bStmt\s+\w+\s*\(|\bexec\s*\()\s*[\w_]+\s*,\s*)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), call); it != std::sregex_iterator(); ++it) {
    const size_t at = static_cast<size_t>(it->position() + it->length());
    Call c;
    c.file = file.filename().string();
    c.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    c.sql_start = text.substr(at, 400);
    out.push_back(c);
  }
  return out;
}

TEST(SqlText, EveryStatementIsFixedTextWithBoundValues) {
  const fs::path data = fs::path(mm::test::source_dir()) / "data";
  // Built at run time from the program's own integers or names, never from input:
  const std::set<std::string> allowed = {
      "(std::string(\"PRAGMA \") + pragma).c_str()",       // store.cpp: a fixed pragma name
      "(\"PRAGMA busy_timeout=\" + std::to_string(busy_t",  // an integer option
      "(\"PRAGMA user_version=\" + std::to_string(v + 1))",  // the schema version
      "(\"PRAGMA max_page_count = \" + std::to_string(op",  // an integer option (tests)
      "kMigrations[v], \"migrating the schema to versio",    // the schema's fixed text
      "sql, nullptr, nullptr, &err);\n  if (rc != SQLITE_",  // exec's own body
      // store_merge.cpp: a fixed table name, and the copies' statements made of the
      // store's own (quoted) table and column names
      "count_sql.c_str(), \"counting the rows of",
      "t.select_sql().c_str(), \"reading the ",
      "find_sql.c_str(), \"matching the metamers\"",
  };
  int calls = 0;
  for (const auto& e : fs::directory_iterator(data)) {
    if (e.path().extension() != ".cpp") continue;
    for (const auto& c : sql_calls(e.path())) {
      ++calls;
      // A choice between two literals (`cond ? "..." : "..."`) is fixed text too.
      static const std::regex choice(R"(^[\w\s:=!<>.]+\?\s*"[^;]*\n\s*:\s*")");
      const bool literal = c.sql_start.rfind("\"", 0) == 0 || c.sql_start.rfind("MM_", 0) == 0 ||
                           c.sql_start.rfind("R\"(", 0) == 0 || std::regex_search(c.sql_start, choice);
      bool listed = false;
      for (const auto& a : allowed) listed = listed || c.sql_start.rfind(a.substr(0, 30), 0) == 0;
      EXPECT_TRUE(literal || listed) << c.file << ":" << c.line << ": SQL built at run time: " << c.sql_start.substr(0, 60)
                                     << "... (bind the values as ?N parameters)";
    }
  }
  EXPECT_GT(calls, 40);  // the scan found the store's statements
}

TEST(SqlText, NoOtherFolderRunsSql) {
  const std::regex api(R"(\bsqlite3_(prepare|exec)\w*\s*\()");
  int files = 0;
  for (const char* dir : {"app", "experiments", "analysis", "synth", "stimuli"}) {
    for (const auto& e : fs::recursive_directory_iterator(fs::path(mm::test::source_dir()) / dir)) {
      const auto ext = e.path().extension();
      if (ext != ".cpp" && ext != ".h") continue;
      ++files;
      const std::string text = read(e.path());
      EXPECT_FALSE(std::regex_search(text, api)) << e.path() << " calls SQLite directly; add a query to data/";
    }
  }
  EXPECT_GT(files, 20);
}

}  // namespace
