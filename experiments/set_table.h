// experiments/set_table.h: writing a stimulus set's CSV table (`[sets.NAME] table = "FILE.csv"`,
// experiments/README.md), the format experiments/sources.cpp reads back: a header
// `file,category` and one row per stimulus, the file relative to the table's folder
// (path_from: absolute only when the two share nothing but the root), so a study's folder
// can be moved or copied whole. The workbench's Stimuli panel saves a selection with it;
// its experiment designer reads a table (read_set_table), edits it and writes it back.
#pragma once
#include <string>
#include <vector>

namespace mm::experiments {

// One stimulus of a set table.
struct SetTableRow {
  std::string file;      // the stimulus file (absolute, or relative to the current folder)
  std::string category;  // its category ("" = the file's folder name, as the reader does)
};

// `path` as a file in folder `dir` names it: relative to `dir` ("../stimuli/cat/c0.png"),
// unless the two share nothing but the root ("/"), then absolute. Lexical: no file is read.
std::string path_from(const std::string& path, const std::string& dir);

// The table's text for a CSV file in folder `dir`: "file,category\n" then one line per row
// (RFC 4180 quoting for cells holding a comma, a quote or a line break; the reader trims
// spaces at a cell's ends, so a file name must not begin or end with one).
std::string set_table_csv(const std::vector<SetTableRow>& rows, const std::string& dir);

// Writes the table to `path` atomically (a temporary file renamed over it), so a reader
// never sees half a table. Throws std::runtime_error with one line naming the path and a
// fix when it cannot be written (nothing is left behind then).
void write_set_table(const std::string& path, const std::vector<SetTableRow>& rows);

// The rows of the table at `path` as it names them: each file as written (relative to the
// table's folder, or absolute), its category cell ("" when the table has no category
// column or leaves it empty). Throws ExperimentError (experiments/experiment.h) naming the
// file and line when it cannot be read, is not CSV, or has no `file` column.
std::vector<SetTableRow> read_set_table(const std::string& path);

}  // namespace mm::experiments
