// app/launch.h: the experimenter's launch screen (`metamerlab launch`): pick an experiment
// file, enter the participant's code and number, see the validation result (errors with
// file and line, as `metamerlab plan` prints them) and the plan's summary (blocks, trial
// counts, estimated duration), and start the session in the same window with the session
// runner (app/runner.h).
//
// The checks behind the screen (listing experiment files, loading, validating, planning)
// are plain functions, usable and testable without a display. The screen itself is Dear
// ImGui on the participant display (app/display.h).
//
// Scripted mode (tests, demonstrations): --auto-start CODE,NUMBER types the code and the
// number into their fields through SDL text events, saves --screenshot, then presses Start
// (or, when the experiment does not validate, prints its errors and exits 1).
//
// Sections
//   [SECTION] Checks     experiment files, load + validate, plan summary, participant code
//   [SECTION] Screen     LaunchOptions, run_launch (options parsed in commands.cpp)
#pragma once
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "app/runner.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"

namespace mm::app {

// [SECTION] Checks ------------------------------------------------------------------------
// The *.toml files directly inside each folder (missing folders are skipped), sorted by
// folder then name, each listed once (by absolute path). Paths are returned as
// folder / name with the folder as given.
std::vector<std::string> find_experiment_files(const std::vector<std::string>& folders);

// A pseudonymous participant code: 1-64 letters, digits, '-', '_', '.' (as the store wants).
bool valid_participant_code(const std::string& code);

// An experiment file loaded and validated for the launch screen.
struct LaunchExperiment {
  std::string file;                              // as given
  std::optional<experiments::Experiment> experiment;  // empty when loading failed
  std::vector<std::string> errors;               // "FILE:LINE: message", as `plan` prints them
  std::vector<std::string> notes;
  double refresh_hz = 60;
  bool ok() const { return experiment.has_value() && errors.empty(); }
};

// Loads (metamers without a database of their own come from db) and validates at
// refresh_hz. Never throws for problems in the file: they become errors.
LaunchExperiment load_for_launch(const std::string& file, const std::string& db, double refresh_hz);

// One participant's plan summary, and what the database already holds for them.
struct LaunchPlan {
  int64_t participant = 0;
  bool ok = false;
  std::string error;                             // planning failed (FILE:LINE: message)
  experiments::PlanSummary summary;
  std::string session_note;                      // "" or e.g. "session #3 is aborted: Start resumes it"
  bool blocked = false;                          // this participant's session is already finished
};
LaunchPlan plan_for_launch(const LaunchExperiment& x, int64_t participant, const std::string& db);

// "1 h 2 min", "3 min 4 s", "5 s".
std::string format_duration(double seconds);

// [SECTION] Screen ------------------------------------------------------------------------
struct LaunchOptions {
  std::string experiment;          // preselected file ("" = none)
  std::vector<std::string> folders;  // searched for *.toml (the source tree's experiments/, ".")
  RunOptions run;                  // db, window, and the runner's pilot/scripted options
  // Scripted mode.
  bool auto_start = false;
  std::string auto_code;
  int64_t auto_number = 0;
  std::string screenshot;          // PNG of the launch screen (scripted: just before Start)
};

// Shows the launch screen until the window is closed (Escape or the window's close
// button), running sessions from it. Scripted: returns the session's exit code, or 1 when
// the experiment does not validate. Throws NoDisplay without a display.
int run_launch(const LaunchOptions& o, std::ostream& out, std::ostream& err);

}  // namespace mm::app
