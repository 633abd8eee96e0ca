// app/runner.h: the session runner a participant sits in front of (`metamerlab run`) and
// the session listing (`metamerlab sessions`). It plans the session (or follows the stored
// plan when resuming), shows each trial frame by frame (fixation, stimulus, mask, response),
// commits each answered trial in its own transaction, and handles instructions, breaks,
// practice feedback, the demo pass criterion, pause and abort. An optional scripted
// participant (--auto) answers through real SDL events pushed into the queue.
//
// Keys: Ctrl+Shift+Q aborts (status aborted, data kept); Ctrl+Shift+P pauses.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace mm::app {

class Display;
struct DisplayOptions;

struct RunOptions {
  std::string experiment;       // the .toml file
  int64_t participant = 1;
  std::string code;             // pseudonymous participant code ("" = "P<number>")
  std::string db = "metamerlab.db";
  bool has_seed = false;
  uint64_t seed = 0;
  bool windowed = false;
  int width = 1024, height = 768;
  std::string auto_policy;      // "" (a person), correct, random, or a CSV trial_index,response,rt_ms
  uint64_t auto_seed = 1;
  int auto_min_ms = 200, auto_max_ms = 400;  // scripted response delay
  int max_trials = -1;          // keep only the first N trials of each block (pilot)
  std::string screenshots;      // folder: first frame of each phase of the first trial
  std::string station;          // "" = host name
  bool headphone_check = false; // audio: the antiphase headphone check (Woods et al. 2017) first
  int headphone_tone_ms = 1000; // its tone length (tests shorten it)
};

struct RunResult {
  int64_t session_id = 0;
  std::string status;           // completed | aborted | failed_demo | refused | already_done
  int answered_now = 0;         // trials answered in this run
  bool resumed = false;
  double first_trial_s = 0;     // from start to the first trial's fixation onset
  std::vector<double> commit_ms;  // per-trial commit latency
  int exit_code = 0;
};

// Runs the session. Throws ExperimentError / std::runtime_error for problems before the
// session starts; NoDisplay without a display; NoAudioDevice for audio without a device.
RunResult run_session(const RunOptions& o, std::ostream& log);
// The same on a display that is already open (the launch screen's window); the display
// stays open afterwards and o.windowed/width/height are not used.
RunResult run_session_on(Display& display, const RunOptions& o, std::ostream& log);
// The display run_session opens for these options (fullscreen unless windowed).
DisplayOptions runner_display_options(const RunOptions& o);

// `metamerlab sessions`: one line per session, or a JSON array.
int list_sessions_command(const std::string& db, bool json, std::ostream& out);

}  // namespace mm::app
