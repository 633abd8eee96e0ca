// experiments/session.h: one participant's session from the experiment file to its record,
// without a display: the lifecycle that `run`, `launch` and `plan` share.
//
//   check_experiment   load + validate, problems as messages (never throws for the file);
//                      check_experiment_text the same for text not saved yet
//   plan_session       read the store: a new plan, the stored plan to resume, or a refusal
//   open_session       write the store: the new session row, or the resumption
//   score_block        the demo and headphone-check pass criteria
//   planned_record     a trial's database row as the plan fills it
//
// The presentation layer (app/runner.h) shows the trials of an opened session; the
// workbench previews plans through plan_session; live generation attaches a worker to an
// opened session. No SDL, no ImGui, no SQL (the store is data/store.h).
//
// Sections
//   [SECTION] Checking     CheckedExperiment, check_experiment
//   [SECTION] Planning     SessionRequest, SessionPlan, plan_session, trim_plan
//   [SECTION] Opening      SessionProvenance, open_session
//   [SECTION] Criteria     BlockScore, score_block
//   [SECTION] Records      planned_record
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"

namespace mm::experiments {

// [SECTION] Checking ----------------------------------------------------------------------
// An experiment file loaded and validated at a refresh rate.
struct CheckedExperiment {
  std::string file;                     // as given
  std::optional<Experiment> experiment; // empty when loading failed
  Validation validation;                // empty when loading failed
  std::vector<std::string> errors;      // "FILE:LINE: message": the load error or validation errors
  std::vector<std::string> notes;
  double refresh_hz = 60;
  bool ok() const { return experiment.has_value() && errors.empty(); }
};

// Loads `file` (metamer sources naming no database use `db`; "" = none) and validates it
// at refresh_hz. Never throws for problems in the file or the database: they become errors.
CheckedExperiment check_experiment(const std::string& file, const std::string& db, double refresh_hz,
                                   const ValidateOptions& extra = {});
// The same for unsaved text (load_experiment_text): the same messages, naming `path`.
CheckedExperiment check_experiment_text(const std::string& text, const std::string& path, const std::string& db,
                                        double refresh_hz, const ValidateOptions& extra = {});

// [SECTION] Planning ----------------------------------------------------------------------
// What a participant's session request becomes.
enum class SessionAction {
  start,   // no session of this experiment for the participant yet: plan a new one
  resume,  // a running (killed) or aborted session: follow its stored plan
  refuse,  // a completed or failed_demo session: a new participant number is needed
};
const char* session_action_name(SessionAction a);  // start resume refuse

struct SessionRequest {
  int64_t participant = 1;        // >= 1: picks the condition rotation
  std::optional<uint64_t> seed;   // session seed (default: the experiment's)
  int max_trials = -1;            // pilot: keep only the first N trials of each block (-1: all)
  std::optional<data::ModelRecord> observer;  // a model observer's sessions are its own (not people's)
};

struct SessionPlan {
  SessionAction action = SessionAction::start;
  Plan plan;                                  // the new plan, or the stored one (resume)
  std::optional<data::SessionInfo> existing;  // the participant's latest session of this experiment
  std::set<int64_t> answered;                 // resume: trial indices already recorded
  int64_t first_unanswered = 0;               // resume: where the session continues
  std::string message;                        // one line: what will happen, or why refused
};

// Decides for one participant. Reads `store` when given (nullptr: no database, always a new
// plan); writes nothing. Throws ExperimentError when planning fails (too few stimuli, ...),
// std::invalid_argument for a participant below 1, std::runtime_error when a stored plan
// cannot be read.
SessionPlan plan_session(const Experiment& e, const SessionRequest& r, const data::Store* store);

// Keeps only the first n trials of each block (pilot runs), renumbering the trials.
void trim_plan(Plan& p, int n);

// [SECTION] Opening -----------------------------------------------------------------------
// Who, where and with what a new session runs (recorded with it).
struct SessionProvenance {
  std::string participant_code;  // pseudonymous ("" = "P<number>")
  std::string station;           // the computer's label
  std::string display_json = "{}", audio_json = "{}";
  std::string program_version;
  std::string scripted;          // a scripted participant's policy ("" for a person): a note
  std::optional<data::ModelRecord> observer;  // a model answers (metamerlab run --observer)
};

// Records the decision: start creates the session row (the plan stored as JSON), resume
// marks it resumed at first_unanswered. Returns the session id. Throws std::logic_error for
// a refused plan, std::runtime_error when the participant got a session meanwhile (another
// program started one) or the store fails.
int64_t open_session(data::Store& store, const Experiment& e, const SessionPlan& sp, const SessionProvenance& p);

// [SECTION] Criteria ----------------------------------------------------------------------
// A demo or headphone-check block's result among a session's recorded trials.
struct BlockScore {
  int correct = 0;
  int trials = 0;    // planned in the block
  int needed = 0;
  bool passed = false;
};
// demo: pass_min_correct (at most the block's trials); headphone_check: 5 of 6 (all but one
// when a pilot kept fewer, at least 1). Other kinds always pass.
BlockScore score_block(const PlannedBlock& b, const std::vector<data::TrialRecord>& session_trials);

// [SECTION] Records -----------------------------------------------------------------------
// A trial's row with the plan's fields filled (what was planned and shown); the runner adds
// the response and timing.
data::TrialRecord planned_record(int64_t session_id, const PlannedTrial& t);

}  // namespace mm::experiments
