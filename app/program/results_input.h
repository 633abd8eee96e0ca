// app/program/results_input.h: what `analyze` and `export` read from the store: each
// experiment's sessions, trials and model judgments, as the analysis module's ResultInput
// and the export module's ExportData (analysis/results.h, analysis/export.h). All reading
// goes through data/store.h.
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

}  // namespace mm::app
