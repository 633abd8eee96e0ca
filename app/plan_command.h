// app/plan_command.h: `metamerlab plan`: load and validate an experiment file, plan one
// participant's session and print it (summary and trial list, or one JSON object),
// without a display. The option parsing lives in commands.cpp's table.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace mm::app {

struct PlanCommandOptions {
  std::string experiment;     // the .toml file
  int64_t participant = 1;
  bool has_seed = false;      // false: the experiment's seed
  uint64_t seed = 0;
  std::string db;             // metamer database for sources naming none; session look-up
  double refresh_hz = 60;
  bool json = false;
  bool summary_only = false;
};

// Returns the exit code: 0 when the experiment validates, 1 when it has errors (listed on
// `err` as FILE:LINE: message; with json they are also in the object). Throws
// ExperimentError for problems found while loading.
int run_plan_command(const PlanCommandOptions& o, std::ostream& out, std::ostream& err);

}  // namespace mm::app
