// app/runner.h: the session runner a participant sits in front of. It shows the trials of
// a session the session module (experiments/session.h) planned and opened: fixation,
// stimulus, mask and response, frame by frame; each answered trial committed in its own
// transaction; instructions, breaks, practice feedback, the volume screen, the headphone
// check, the demo pass criterion, pause and abort. An optional scripted participant
// (--auto, app/scripted.h) answers through real SDL events pushed into the queue.
//
// Keys: Ctrl+Shift+Q aborts (status aborted, data kept); Ctrl+Shift+P pauses.
//
// Presentation fidelity: each stimulus is shown at the size and with the scaling
// validation realized (experiments::realize_stimulus_size: nearest = exact pixel blocks),
// through the station's gamma table when it has one; audio clips at the experiment's RMS
// with the station's gain. The session's display_json records the scaling, the realized
// sizes, the gamma method and the station profile (name, path, SHA-256, text); audio_json
// the gains; each trial's timing_json its realized stimulus size (pixels, degrees) or its
// clip's gain and peak.
//
// Live generation (app/live.h): a live trial shows the worker's metamer when it is ready;
// when it is not, the source's when_late policy shows a "preparing" screen before the
// fixation (wait) or runs the next ready trial of the block first (reorder); a trial whose
// metamer failed shows the natural stimulus (fell_back). Each live trial's timing_json
// "live" records the metamer (id, attempt, seed), its lead, the wait or the reordering;
// the worker's notes become session events.
//
// Sections
//   [SECTION] Options    what the presentation needs beyond the session request
//   [SECTION] Entry      run_session (opens a display), run_prepared_session (launch's),
//                        preview_trial (the designer's one trial, nothing recorded)
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "data/store.h"
#include "experiments/session.h"
#include "experiments/station.h"

namespace mm::app {

class Display;
class LiveGenerator;
struct DisplayOptions;
struct AudioOptions;

// [SECTION] Options -----------------------------------------------------------------------
struct RunOptions {
  std::string experiment;        // the .toml file (run_session loads it)
  std::string db = "metamerlab.db";
  data::StoreOptions store;      // e.g. the test-only page cap
  experiments::SessionRequest request;  // participant, seed, pilot trimming
  std::string code;              // pseudonymous participant code ("" = "P<number>")
  bool windowed = false;
  int width = 1024, height = 768;
  std::string auto_policy;       // "" (a person), correct, random, or a CSV trial_index,response,rt_ms
  uint64_t auto_seed = 1;
  int auto_min_ms = 200, auto_max_ms = 400;  // scripted response delay
  std::string screenshots;       // folder: first frame of each phase of the first trial (and the volume screen)
  std::string station;           // the session's station label ("" = host name)
  // The station profile (--station FILE|NAME, experiments/station.h): its screen geometry
  // converts size_deg and bounds the stimulus size, its gamma table corrects every frame,
  // its audio device and gain are used; recorded with the session (text and SHA-256).
  std::optional<experiments::Station> station_profile;
  bool headphone_check = false;  // audio: the antiphase headphone check (Woods et al. 2017) first
  int headphone_tone_ms = 1000;  // its tone length (tests shorten it)
  // Live generation (generate = "live" sources; app/live.h): the worker the program layer
  // made, started when the session opens and stopped when it ends, and validation's check
  // of live sources. Without a worker an experiment with live sources is refused.
  LiveGenerator* live = nullptr;
  std::function<std::vector<experiments::Issue>(const experiments::Experiment&, double)> live_check;
};

// What live generation did during a run (RunResult::live).
struct LiveRunStats {
  int trials = 0;          // live trials shown this run
  int waited = 0;          // ... after the preparing screen (when_late = wait)
  int reordered = 0;       // trials run ahead of a live trial that was not ready (when_late = reorder)
  int fell_back = 0;       // live trials shown the natural stimulus (no passing metamer, or an error)
  double min_lead_s = 0;   // the smallest margin: trial start minus the metamer's ready time (negative: waited)
  std::vector<double> wait_ms;
};

// How a run ended: the session's status, or a refusal before anything was recorded.
struct RunResult {
  int64_t session_id = 0;
  experiments::SessionAction action = experiments::SessionAction::start;
  bool refused = false;          // validation errors, or the participant's session is finished
  data::SessionStatus status = data::SessionStatus::running;  // when not refused
  int answered_now = 0;          // trials answered in this run
  double first_trial_s = 0;      // from start to the first trial's fixation onset
  std::vector<double> commit_ms; // per-trial commit latency
  LiveRunStats live;
  int exit_code = 0;             // 0 completed or demo failed, 1 refused, 4 aborted
  bool finished() const {
    return !refused && (status == data::SessionStatus::completed || status == data::SessionStatus::failed_demo);
  }
};

// [SECTION] Entry -------------------------------------------------------------------------
// Loads the experiment, opens the audio output (audio experiments: no device, no session),
// the display, validates at the display's refresh rate, plans or resumes through the
// session module and runs the session. Throws ExperimentError / std::runtime_error for
// problems before the session starts; NoDisplay without a display; NoAudioDevice for audio
// without a device.
RunResult run_session(const RunOptions& o, std::ostream& log);

// Runs an already checked experiment and planned session (the launch screen's path) on a
// display that is already open; the display stays open afterwards and o.experiment,
// windowed, width, height and request are not used.
// x must be ok() (validated at this display's refresh rate).
RunResult run_prepared_session(Display& display, const experiments::CheckedExperiment& x,
                               const experiments::SessionPlan& plan, const RunOptions& o, std::ostream& log);

// What a one-trial preview showed (preview_trial): the record a session would store for it,
// not stored. record.timing_json holds each phase's requested and realized duration in
// whole frames, its flip times and dropped frames, as a session's trial does.
struct TrialPreview {
  bool shown = false;         // the trial ran (answered, or aborted with Ctrl+Shift+Q)
  bool aborted = false;
  std::string note;           // e.g. a live trial shows its reference
  std::string error;          // why it could not run (one line; nothing shown)
  data::TrialRecord record;   // response, response times, dropped frames, timing_json
};

// Shows trial `trial` (its index in the plan) on a display that is already open (the
// workbench's): fixation, stimulus, mask and response at the experiment's timing in whole
// frames of this display, the block's feedback and the inter-trial interval, answered by
// a person or by o's scripted participant. Nothing is recorded; the display stays open.
// Throws NoAudioDevice for an audio experiment without an output.
TrialPreview preview_trial(Display& display, const experiments::CheckedExperiment& x, const experiments::Plan& plan,
                           int64_t trial, const RunOptions& o, std::ostream& log);

// The display run_session opens for these options (fullscreen unless windowed; the
// station's gamma table).
DisplayOptions runner_display_options(const RunOptions& o);
// The audio output an audio session opens: the station's device and gain.
AudioOptions runner_audio_options(const RunOptions& o);

}  // namespace mm::app
