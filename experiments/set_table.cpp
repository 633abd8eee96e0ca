// experiments/set_table.cpp: a stimulus set's CSV table written (experiments/set_table.h);
// read back by list_table in experiments/sources.cpp, and for editing by read_set_table.
#include "experiments/set_table.h"

#include "experiments/internal.h"

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

}  // namespace

std::string path_from(const std::string& path, const std::string& dir) {
  const fs::path abs = fs::absolute(path).lexically_normal();
  const fs::path base = fs::absolute(dir.empty() ? "." : dir).lexically_normal();
  const fs::path rel = abs.lexically_relative(base);
  if (rel.empty()) return abs.string();
  size_t ups = 0, depth = 0;
  for (const auto& part : rel) ups += part == "..";
  for (const auto& part : base.relative_path()) depth += !part.empty();
  return depth > 0 && ups >= depth ? abs.string() : rel.string();
}

std::string set_table_csv(const std::vector<SetTableRow>& rows, const std::string& dir) {
  const fs::path d = fs::absolute(dir.empty() ? "." : dir).lexically_normal();
  std::string out = "file,category\n";
  for (const auto& r : rows) out += cell(path_from(r.file, d.string())) + "," + cell(r.category) + "\n";
  return out;
}

void write_set_table(const std::string& path, const std::vector<SetTableRow>& rows) {
  stimuli::write_file_atomic(path, set_table_csv(rows, fs::path(fs::absolute(path)).parent_path().string()));
}

std::vector<SetTableRow> read_set_table(const std::string& path) {
  const detail::Csv csv = detail::read_csv(path, {path, 0});
  const int fc = csv.column("file"), cc = csv.column("category");
  if (fc < 0)
    detail::fail_at({path, csv.header.line}, "the table has no file column; its first line must be file,category");
  std::vector<SetTableRow> rows;
  for (const auto& r : csv.rows)
    rows.push_back({r.cells[static_cast<size_t>(fc)], cc >= 0 ? r.cells[static_cast<size_t>(cc)] : std::string()});
  return rows;
}

}  // namespace mm::experiments
