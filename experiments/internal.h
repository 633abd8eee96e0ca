// experiments (internal): helpers shared by the module's .cpp files: path resolution, a
// small CSV reader that reports line numbers, and the steps load_experiment runs after
// parsing (listing sets, resolving metamer sources). Not part of the module's API.
#pragma once
#include <string>
#include <vector>

#include "experiments/experiment.h"

namespace mm::experiments::detail {

[[noreturn]] inline void fail_at(const Where& w, const std::string& message) {
  throw ExperimentError(w.file, w.line, message);
}
[[noreturn]] inline void fail_at(const std::string& file, int line, const std::string& message) {
  throw ExperimentError(file, line, message);
}

// `rel` taken relative to `base_dir` (unless absolute), made absolute and lexically normal.
std::string resolve_path(const std::string& base_dir, const std::string& rel);
// `path` as seen from `dir` ("../out/demo/x.png"); path itself if it has no relative form.
std::string relative_to(const std::string& path, const std::string& dir);
// "a, b, c" (at most `max` items, then ", ...").
std::string join(const std::vector<std::string>& v, size_t max = 12);

// A CSV file: the header row and the data rows, each with its 1-based line number.
// RFC 4180 quoting ("a, b" and "" for a quote); blank lines are skipped; a UTF-8 BOM is
// ignored. Every row must have as many cells as the header.
struct CsvRow {
  int line = 0;
  std::vector<std::string> cells;
};
struct Csv {
  std::string path;
  CsvRow header;
  std::vector<CsvRow> rows;
  // Index of a header column, or -1.
  int column(const std::string& name) const;
};
// Throws ExperimentError naming the CSV file and line; `declared` is where the experiment
// file names the table (used when the file itself cannot be read).
Csv read_csv(const std::string& path, const Where& declared);

// Steps of load_experiment after the TOML is parsed (sources.cpp).
void list_sets(Experiment& e);
void resolve_metamers(Experiment& e);

}  // namespace mm::experiments::detail
