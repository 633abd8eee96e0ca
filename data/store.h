// data: the project's SQLite store: schema, migrations, provenance records and queries.
//
// One database file holds everything metamerlab makes: synthesis runs and their metamers,
// null distributions, model judgments, and participants, sessions and trials.
// The schema is versioned with PRAGMA user_version and migrated forward on open. The
// database runs in WAL mode with synchronous=FULL; every add_* call is its own
// transaction, so a record that was added survives a crash or a kill.
// No torch, no UI. Errors throw std::runtime_error naming the file and the fix.
//
// Sections
//   [SECTION] Records       plain structs, one per table
//   [SECTION] Store         open/migrate, writes, reads
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace mm::data {

// [SECTION] Records -----------------------------------------------------------------------
struct ModelRecord {
  std::string spec;       // as named: a path or zoo:NAME
  std::string path;       // resolved file ("" for a C++ model without file)
  std::string sha256;     // of the file, or of the C++ model's weights
  std::string modality;   // image | audio
  std::string info_json;  // the model's metamerlab.json
};

struct SynthRunRecord {
  int64_t model_id = 0;
  std::string command;       // the full command line
  std::string options_json;  // optimizer, loss, rounds, iterations, step, batch, seed, ...
  std::string out_dir;
  std::string program_version;
};

struct MetamerRecord {
  int64_t run_id = 0;
  std::string reference_path;
  std::string reference_sha256;
  std::string category;
  std::string layer;
  int64_t seed = 0;
  int64_t iterations = 0;     // steps actually taken
  double final_loss = 0;
  double spearman = 0, pearson = 0, snr_db = 0;
  double null_spearman_max = 0, null_pearson_max = 0, null_snr_max = 0;
  int64_t null_id = 0;        // the null distribution used (0 if none)
  std::string pred_metamer, pred_reference;
  bool passed = false;
  std::string status;         // ok | failed (did not pass) | nan (stopped on NaN/Inf)
  std::string message;
  std::string png_path, png_sha256;      // image metamers ("" for audio)
  std::string wav_path, wav_sha256;      // audio metamers ("" for images)
  std::string float_path, float_sha256;  // exact float copy (.npy)
  double wall_s = 0;
  int converged = -1;                    // schema v4: 1 the loss had flattened, 0 not; -1 unknown (older)
  std::string loss_curve_json = "[]";    // schema v4: [[step, loss], ...] ("[]" for older records)
};

// A synthesis run as recorded, with its model (for provenance look-ups).
struct SynthRunInfo {
  int64_t id = 0;
  SynthRunRecord run;
  ModelRecord model;
  std::string started_at, finished_at, status;
  double wall_s = 0;
};

struct NullRecord {
  int64_t model_id = 0;
  std::string model_sha256;
  std::string layer;
  std::string stimulus_set;   // description of the natural set (folder(s))
  std::string set_sha256;     // hash over the set's file hashes, for the cache key
  int64_t pairs = 0;
  int64_t seed = 0;
  double spearman_max = 0, pearson_max = 0, snr_max = 0;
  double spearman_mean = 0, pearson_mean = 0, snr_mean = 0;
  std::string program_version;
  double wall_s = 0;
};

// One part of a null distribution computed in shards (metamerlab null --shard K/N; schema
// v6): the natural set cut into `blocks` blocks, part `unit` the drawn pairs between two of
// them (synth/engine.h, NullPart). Keyed by the whole distribution's key plus blocks and unit.
struct NullPartRecord {
  int64_t model_id = 0;
  std::string model_sha256, layer, stimulus_set, set_sha256;
  int64_t pairs = 0, seed = 0;  // of the whole distribution
  int64_t stimuli = 0, blocks = 1, unit = 0, unit_pairs = 0;
  double spearman_max = 0, pearson_max = 0, snr_max = 0;  // 0 when unit_pairs is 0
  double spearman_sum = 0, pearson_sum = 0, snr_sum = 0;
  std::string program_version;
  double wall_s = 0;
};

// The whole distribution from the parts of every unit (any order): the maxima the largest
// of the units' maxima, the means the units' sums added in unit order over the pair count,
// wall_s the parts' total. Throws when a unit is missing or repeated, or the parts disagree
// on the key or the pair count.
NullRecord combine_null_parts(std::vector<NullPartRecord> parts);

struct JudgmentRunRecord {
  int64_t model_id = 0;
  std::string stimulus_set;
  std::string restricted_to;  // comma-separated categories, "" for all classes
  std::string program_version;
};

struct JudgmentRecord {
  int64_t judgment_run_id = 0;
  std::string stimulus_path;
  std::string stimulus_sha256;
  std::string category;   // the true category (folder)
  std::string predicted;
  bool correct = false;
};

// A model's answer to the stimulus of one trial a person (or model observer) saw, among
// that trial's alternatives (schema v3; metamerlab judge).
struct TrialJudgment {
  int64_t session_id = 0;
  int64_t trial_index = 0;
  int64_t model_id = 0;
  std::string stimulus_sha256;
  std::string alternatives_json;   // the alternatives it chose among
  std::string predicted;
  bool correct = false;
};

// A model's answer to one metamer of an experiment's condition (network-to-network; v3).
struct MetamerJudgment {
  std::string experiment_sha256;
  std::string condition;           // LABEL/LAYER
  std::string generating_model;    // the condition's model spec
  std::string layer;
  std::string reference_sha256, stimulus_sha256;
  std::string category;
  int64_t model_id = 0;            // the judging model
  std::string predicted;
  bool correct = false;
};

// A metamer made live for a session's trial (schema v5): the attempt (0, then a retry with
// the next seed) and the metamer as recorded.
struct LiveMetamer {
  int64_t session_id = 0;
  int64_t trial_index = 0;
  int attempt = 0;
  int64_t metamer_id = 0;
  MetamerRecord metamer;
  std::string created_at;  // when it was recorded (UTC ISO-8601, as trials' answered_at)
};

// Participants, sessions and trials (schema version 2): what people did in experiments.
// A pseudonymous participant code: 1-64 letters, digits, '-', '_', '.' (never a name).
bool valid_participant_code(const std::string& code);

// A session's status. running: started or resumed; the others end it (aborted sessions
// can be resumed, completed and failed_demo ones cannot).
enum class SessionStatus { running, completed, aborted, failed_demo };
const char* session_status_name(SessionStatus s);  // running completed aborted failed_demo
// The status a name stands for; throws std::runtime_error for any other text.
SessionStatus parse_session_status(const std::string& name);
// Whether a session in this status may be resumed (running after a kill, or aborted).
inline bool resumable(SessionStatus s) { return s == SessionStatus::running || s == SessionStatus::aborted; }

// A participant is a pseudonymous code only (letters, digits, '-', '_', '.'); never a name.
struct SessionRecord {
  std::string participant_code;
  int64_t participant_number = 0;  // the plan's rotation index (1-based)
  std::string experiment_path;
  std::string experiment_sha256;
  std::string experiment_name;
  std::string plan_json;           // the whole plan, as planned (resume follows it)
  int64_t planned_trials = 0;
  int64_t seed = 0;
  std::string station;             // the computer (host name or a label)
  std::string display_json;        // measured refresh, resolution, renderer, ...
  std::string audio_json;          // device, sample rate, extensions, ... ("{}" for images)
  std::string program_version;
  int64_t observer_model_id = 0;   // schema v3: a model answered (metamerlab run --observer); 0: a person
};

// A session as stored, with what happened to it.
struct SessionInfo {
  int64_t id = 0;
  int64_t participant_id = 0;
  SessionRecord session;
  std::string started_at, ended_at;  // ended_at "" while running
  SessionStatus status = SessionStatus::running;
  int64_t resumed = 0;               // times the session was resumed
  int64_t answered = 0;              // trials recorded
  std::string observer;              // the observer model's spec ("" for a person)
  std::string observer_sha256;
};

// One answered trial. Times are milliseconds from a high-resolution clock.
struct TrialRecord {
  int64_t session_id = 0;
  int64_t trial_index = 0;         // position in the plan (unique per session)
  int64_t block = 0;               // block index in the plan
  std::string block_kind;          // practice | demo | main | catch
  std::string phase;               // the trial's kind: practice | demo | main | catch
  int64_t index_in_block = 0;
  std::string condition;           // what was shown: natural | LABEL/LAYER | catch
  std::string planned_condition;   // what the plan assigned (differs when fell_back)
  std::string category;            // the correct answer
  std::string reference_path;      // the natural reference ("" for catch trials)
  std::string stimulus_path, stimulus_sha256;
  std::string model, layer;        // of a metamer ("" otherwise)
  bool is_metamer = false;
  bool fell_back = false;          // the planned metamer failed: the natural stimulus was shown
  std::string alternatives_json;   // the alternatives offered, in screen order
  std::string response;            // "" when the response window ran out
  bool correct = false;
  double rt_response_ms = -1;      // from response-screen onset (-1: no response)
  double rt_stimulus_ms = -1;      // from stimulus onset (-1: no response)
  std::string timing_json;         // every phase: requested/actual flip, frames, dropped
  int64_t dropped_frames = 0;
  double audio_onset_ms = -1;      // realized audio start after the scheduled one (-1: none)
  std::string answered_at;         // when it was committed (UTC ISO-8601; set by the store)
};

// Something that happened in a session (start, resume, pause, note, ...), in order.
struct SessionEvent {
  int64_t id = 0;
  std::string kind;          // start | resume | pause | continue | abort | demo_failed | complete | note
  int64_t trial_index = -1;  // the trial it happened at (-1: none)
  std::string detail, at;
};

// A session with its counts, for listings (metamerlab sessions).
struct SessionSummary {
  int64_t id = 0;
  std::string participant_code;
  int64_t participant_number = 0;
  std::string observer;  // the observer model's spec ("" for a person)
  std::string experiment_name, experiment_path, experiment_sha256;
  SessionStatus status = SessionStatus::running;
  std::string started_at, ended_at;
  int64_t resumed = 0, planned = 0, answered = 0;
};

// [SECTION] Store -------------------------------------------------------------------------
struct StoreOptions {
  int busy_timeout_ms = 5000;   // how long a write waits for another program's lock
  // Testing: caps the file at this many pages (PRAGMA max_page_count, never below its
  // current size; 0 = no cap), so tests can fill it up as a full disk would, even as root.
  // A write past the cap fails like one on a full disk (SQLITE_FULL).
  int64_t max_pages = 0;
  std::string program_version;  // recorded in the meta table ("" = "unknown")
  int migrate_to = 0;           // tests only: stop migrating at this version (0 = latest)
};

class Store {
 public:
  // Opens (creating if absent) and migrates. Throws, naming the file, if the folder does
  // not exist or is not writable, the file is read-only, locked by another program past the
  // busy timeout, or not a database. A path starting with "file:" is an SQLite URI.
  explicit Store(const std::string& path);
  Store(const std::string& path, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const;
  static int latest_schema_version();

  int64_t upsert_model(const ModelRecord& m);  // keyed by sha256 + spec
  int64_t begin_synth_run(const SynthRunRecord& r);
  // Marks runs with these options and output folder still recorded as 'running' (killed
  // before they could finish) as 'interrupted'. Returns how many.
  int mark_interrupted_runs(const std::string& options_json, const std::string& out_dir);
  void finish_synth_run(int64_t run_id, const std::string& status, double wall_s);
  int64_t add_metamer(const MetamerRecord& m);
  // For resume: a metamer with this reference sha, layer, seed and options already recorded
  // for a run with the same options_json and out_dir.
  std::optional<MetamerRecord> find_metamer(const std::string& options_json,
                                            const std::string& out_dir,
                                            const std::string& reference_sha256,
                                            const std::string& layer) const;
  std::vector<MetamerRecord> metamers_of_run(int64_t run_id) const;
  // The metamer whose PNG, WAV or float file has this SHA-256 (provenance lookup).
  std::optional<MetamerRecord> find_metamer_by_file_sha(const std::string& sha256) const;

  std::optional<SynthRunInfo> synth_run(int64_t run_id) const;

  int64_t add_null(const NullRecord& n);
  std::optional<std::pair<int64_t, NullRecord>> find_null(const std::string& model_sha256,
                                                         const std::string& layer,
                                                         const std::string& set_sha256,
                                                         int64_t pairs, int64_t seed) const;

  // Null distributions in parts. add_null_part keeps the part already recorded under the same
  // key (returns false then). complete_nulls turns every key whose parts are all present into
  // a null distribution (combine_null_parts) unless one is recorded; returns how many it added.
  bool add_null_part(const NullPartRecord& p);
  std::vector<NullPartRecord> null_parts(const std::string& model_sha256, const std::string& layer,
                                         const std::string& set_sha256, int64_t pairs, int64_t seed,
                                         int64_t blocks) const;  // by unit
  int64_t complete_nulls();

  int64_t begin_judgment_run(const JudgmentRunRecord& r);
  void add_judgments(const std::vector<JudgmentRecord>& js);  // one transaction

  // Every model recorded, with its id, in id order (experiments look models up by spec).
  std::vector<std::pair<int64_t, ModelRecord>> models() const;
  // The metamers synthesized with model `model_id` at `layer`, in the order recorded.
  std::vector<MetamerRecord> metamers_of_model(int64_t model_id, const std::string& layer) const;

  // Sessions (schema v2). create_session adds the participant code if new; each call is
  // one transaction. add_trial refuses a trial index the session already has.
  int64_t upsert_participant(const std::string& code);
  int64_t create_session(const SessionRecord& s);
  void add_trial(const TrialRecord& t);
  std::vector<int64_t> answered_trial_indices(int64_t session_id) const;  // ascending
  std::vector<TrialRecord> trials_of_session(int64_t session_id) const;   // by trial index
  std::optional<SessionInfo> session(int64_t session_id) const;
  // The latest session of this experiment (by SHA-256) for this participant number, among
  // people's sessions (observer_model_id 0) or one model observer's.
  std::optional<SessionInfo> find_session(const std::string& experiment_sha256, int64_t participant_number,
                                          int64_t observer_model_id = 0) const;
  // The id of a recorded model with this spec and SHA-256.
  std::optional<int64_t> find_model_id(const std::string& spec, const std::string& sha256) const;
  // Records a resumption: resumed + 1, status back to running, and a 'resume' event.
  void resume_session(int64_t session_id, int64_t at_trial);
  // completed, aborted, failed_demo (sets ended_at) or running.
  void finish_session(int64_t session_id, SessionStatus status);
  // kind: start | resume | pause | continue | abort | demo_failed | complete | note.
  void add_session_event(int64_t session_id, const std::string& kind, int64_t trial_index,
                         const std::string& detail);
  std::vector<SessionSummary> list_sessions() const;
  std::vector<SessionEvent> session_events(int64_t session_id) const;  // in the order recorded

  // Model judgments (schema v3). Each add is one transaction; a key already recorded is
  // skipped (re-running judge adds only what is missing). Returns how many were added.
  int add_trial_judgments(const std::vector<TrialJudgment>& js);
  int add_metamer_judgments(const std::vector<MetamerJudgment>& js);
  // The (trial index) keys a model already judged in a session / the metamers it judged.
  std::vector<int64_t> judged_trials(int64_t session_id, int64_t model_id) const;
  std::vector<std::string> judged_metamers(const std::string& experiment_sha256, int64_t model_id) const;  // stimulus sha256 + "|" + condition
  std::vector<TrialJudgment> trial_judgments(int64_t session_id) const;
  std::vector<MetamerJudgment> metamer_judgments(const std::string& experiment_sha256) const;
  // Live generation (schema v5): records a metamer made for a session's trial and links it
  // to the trial, in one transaction (returns the metamer's id); every live metamer of a
  // session, by trial and attempt.
  int64_t add_live_metamer(int64_t session_id, int64_t trial_index, int attempt, const MetamerRecord& m);
  std::vector<LiveMetamer> live_metamers(int64_t session_id) const;
  // The session, trial and attempt a live metamer's file (PNG, WAV or .npy SHA-256) was made for.
  std::optional<LiveMetamer> live_metamer_by_file_sha(const std::string& sha256) const;

  // The model a row of models() holds, by id.
  std::optional<ModelRecord> model(int64_t model_id) const;

  // PRAGMA integrity_check's answer: "ok" for a healthy file.
  std::string integrity_check() const;
  // Changes when what the analysis of responses reads changes (sessions and their statuses,
  // trials, models' judgments of trials), and not when metamers or runs are recorded: the
  // workbench's Results panel recomputes only then.
  std::string responses_version() const;

  sqlite3* handle() { return db_; }  // for the store's own code (data/) and tests (tests/data) only

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  int busy_timeout_ms_ = 5000;
};

}  // namespace mm::data
