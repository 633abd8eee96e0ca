// experiments/set_table.cpp: a stimulus set's CSV table written (experiments/set_table.h);
// read back by list_table in experiments/sources.cpp.
#include "experiments/set_table.h"

#include <filesystem>

#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::experiments {

namespace {

// A CSV cell, quoted when it holds a comma, a quote or a line break.
std::string cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The file as the table names it: relative to the table's folder when inside it.
std::string table_path(const std::string& file, const fs::path& dir) {
  const fs::path abs = fs::absolute(file).lexically_normal();
  const fs::path rel = abs.lexically_relative(dir);
  if (rel.empty() || *rel.begin() == "..") return abs.string();
  return rel.string();
}

}  // namespace

std::string set_table_csv(const std::vector<SetTableRow>& rows, const std::string& dir) {
  const fs::path d = fs::absolute(dir.empty() ? "." : dir).lexically_normal();
  std::string out = "file,category\n";
  for (const auto& r : rows) out += cell(table_path(r.file, d)) + "," + cell(r.category) + "\n";
  return out;
}

void write_set_table(const std::string& path, const std::vector<SetTableRow>& rows) {
  stimuli::write_file_atomic(path, set_table_csv(rows, fs::path(fs::absolute(path)).parent_path().string()));
}

}  // namespace mm::experiments
