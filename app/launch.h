// app/launch.h: the experimenter's launch screen (`metamerlab launch`): pick an experiment
// file, enter the participant's code and number, see the validation result (errors with
// file and line, as `metamerlab plan` prints them) and the plan's summary (blocks, trial
// counts, estimated duration), and start the session in the same window with the session
// runner (app/runner.h).
//
// The checks behind the screen are plain functions, usable and testable without a display.
// The screen itself is Dear ImGui on the participant display (app/display.h).
//
// Scripted mode (tests, demonstrations): --auto-start CODE,NUMBER types the code and the
// number into their fields through SDL text events, saves --screenshot, then presses Start
// (or, when the experiment does not validate, prints its errors and exits 1).
//
// Loading, validating and planning are the session module's (experiments/session.h): the
// screen checks the file with check_experiment, previews the participant's session with
// plan_session, and on Start hands the runner that checked experiment and plan.
//
// The workbench (`metamerlab studio`, app/studio.h) shows the same screen as its Start panel
// (LaunchPanel: the state, the widgets and starting a session, without a window of its own).
//
// Sections
//   [SECTION] Checks     experiment files, the participant's plan
//   [SECTION] Screen     LaunchOptions, run_launch (options parsed by the program layer)
//   [SECTION] Panel      LaunchPanel (the workbench's Start panel)
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "app/display.h"
#include "app/runner.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "experiments/session.h"

namespace mm::app {

// [SECTION] Checks ------------------------------------------------------------------------
// The *.toml files directly inside each folder (missing folders are skipped; station
// profiles, with a [station] or [screen] table and no [experiment], are left out), sorted
// by folder then name, each listed once (by absolute path). Paths are returned as
// folder / name with the folder as given.
std::vector<std::string> find_experiment_files(const std::vector<std::string>& folders);

// One participant as the screen shows them: the session module's decision (a new plan, a
// resumption or a refusal, experiments/session.h) and the plan's summary.
struct LaunchPlan {
  int64_t participant = 0;
  bool ok = false;                               // planned (a new or a stored plan)
  std::string error;                             // planning failed (FILE:LINE: message)
  experiments::SessionPlan session;              // what Start will do (valid when ok)
  experiments::PlanSummary summary;
  std::string session_note;                      // "" or e.g. "participant 3 has session #3 ...: Start resumes it"
  bool blocked = false;                          // this participant's session is already finished
};
// `base` gives the seed and pilot trimming (its participant is replaced). Never throws:
// problems become `error` (planning) or `session_note` (the database).
LaunchPlan plan_for_launch(const experiments::CheckedExperiment& x, int64_t participant, const std::string& db,
                           const data::StoreOptions& store = {}, const experiments::SessionRequest& base = {});

// [SECTION] Screen ------------------------------------------------------------------------
struct LaunchOptions {
  std::string experiment;          // preselected file ("" = none)
  std::vector<std::string> folders;  // searched for *.toml (the source tree's experiments/, ".")
  std::vector<std::string> recent;   // files listed before those found (the workbench's last ones)
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

// [SECTION] Panel -------------------------------------------------------------------------
// The launch screen's state and widgets inside another window (the workbench's Start
// panel): update() before drawing, draw() into the current ImGui window, and after the
// frame run_requested() runs the session Start asked for in the same display.
class LaunchPanel {
 public:
  LaunchPanel(const LaunchOptions& o, double refresh_hz);  // o.auto_start is ignored
  ~LaunchPanel();
  LaunchPanel(const LaunchPanel&) = delete;
  LaunchPanel& operator=(const LaunchPanel&) = delete;
  void update();                 // loads the file chosen, plans the participant typed
  void draw();
  bool start_requested() const;  // Start was pressed
  void run_requested(Display& d, std::ostream& out, std::ostream& err);
  std::string loaded_file() const;  // the experiment file loaded and valid ("" none)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mm::app
