// app/results_input.h: what `analyze` and `export` (and the workbench's Results panel,
// app/studio_results.h) read from the store: each experiment's sessions, trials and model
// judgments, as the analysis module's ResultInput and the export module's ExportData
// (analysis/results.h, analysis/export.h); and the report folder `analyze --out` and the
// Results panel's "Write report" write. All reading goes through data/store.h. In mm_app
// (no torch) so that the program and the workbench share it.
#pragma once
#include <string>
#include <vector>

#include "analysis/export.h"
#include "analysis/results.h"
#include "data/store.h"

namespace mm::app {

// One ResultInput per experiment with sessions in the store (by name; `experiment` "" =
// all), in the order of their first session. Throws std::runtime_error naming the database
// when it has no sessions, or the experiment when no session of that name exists (listing
// the names it has).
std::vector<analysis::ResultInput> read_results(data::Store& store, const std::string& experiment);

// Every session of the experiment (or all) with its trials and judgments, for export.
analysis::ExportData read_export(data::Store& store, const std::string& experiment);

// The catch-trial exclusion the experiment's own file asks for ([analysis]
// exclude_catch_below), when the file its sessions were run from is still at hand and still
// the same version; else -1 (none). What `analyze` uses without --exclude-catch-below.
double file_catch_threshold(data::Store& store, const analysis::ResultInput& in);

// Writes report.md (`text`, the report as analysis::report_text gives it, then the figures
// as images), report.json (`json`, analysis::report_json) and the figures
// (analysis::write_report_figures, which makes the folder) into `dir`; the text files
// atomically. The caller passes the texts it already has. Returns every file written.
// Throws std::runtime_error with one line naming the folder when it cannot be written.
std::vector<std::string> write_report_folder(const analysis::AnalysisReport& r, const std::string& dir,
                                             const std::string& text, const std::string& json);

}  // namespace mm::app
