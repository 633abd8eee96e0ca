// data: the store's experiment records (schema version 2): pseudonymous participants,
// sessions with their stored plan, one row per answered trial (each its own transaction,
// so a killed session loses at most the trial in progress), session events, and the
// queries used to resume a session and to list sessions with their progress.
//
// Sections
//   [SECTION] Helpers        checks on codes and statuses, the trials column list
//   [SECTION] Participants   upsert_participant
//   [SECTION] Sessions       create, find, resume, finish, events, list
//   [SECTION] Trials         add_trial, answered_trial_indices, trials_of_session
#include <cctype>
#include <stdexcept>

#include "data/sqlite_util.h"
#include "data/store.h"

namespace mm::data {
namespace {

using detail::Db;
using detail::Stmt;
using detail::Txn;

// [SECTION] Helpers -----------------------------------------------------------------------

// A pseudonymous code: 1-64 of letters, digits, '-', '_', '.'. Spaces (as in names) are out.
void check_code(const std::string& path, const std::string& code) {
  std::string shown;  // the code as printable text, for a one-line message
  for (unsigned char c : code) shown += std::isprint(c) ? static_cast<char>(c) : '?';
  if (!valid_participant_code(code))
    throw std::runtime_error(path + ": participant code \"" + shown +
                             "\" is not a pseudonymous code; use 1-64 letters, digits, '-', '_' or '.' "
                             "(for instance P007), never a name");
}


bool is_event_kind(const std::string& k) {
  for (const char* x : {"start", "resume", "pause", "continue", "abort", "demo_failed", "complete", "note"})
    if (k == x) return true;
  return false;
}

// The trials columns in TrialRecord order; read_trial() and add_trial() rely on it.
#define MM_TRIAL_COLUMNS                                                                       \
  "session_id, trial_index, block, block_kind, phase, index_in_block, condition, "             \
  "planned_condition, category, reference_path, stimulus_path, stimulus_sha256, model, layer, " \
  "is_metamer, fell_back, alternatives_json, response, correct, rt_response_ms, "             \
  "rt_stimulus_ms, timing_json, dropped_frames, audio_onset_ms"

TrialRecord read_trial(const Stmt& s) {
  TrialRecord t;
  int c = 0;
  t.session_id = s.i64(c++);
  t.trial_index = s.i64(c++);
  t.block = s.i64(c++);
  t.block_kind = s.text(c++);
  t.phase = s.text(c++);
  t.index_in_block = s.i64(c++);
  t.condition = s.text(c++);
  t.planned_condition = s.text(c++);
  t.category = s.text(c++);
  t.reference_path = s.text(c++);
  t.stimulus_path = s.text(c++);
  t.stimulus_sha256 = s.text(c++);
  t.model = s.text(c++);
  t.layer = s.text(c++);
  t.is_metamer = s.i64(c++) != 0;
  t.fell_back = s.i64(c++) != 0;
  t.alternatives_json = s.text(c++);
  t.response = s.text(c++);
  t.correct = s.i64(c++) != 0;
  t.rt_response_ms = s.is_null(c) ? -1 : s.f64(c);
  ++c;
  t.rt_stimulus_ms = s.is_null(c) ? -1 : s.f64(c);
  ++c;
  t.timing_json = s.text(c++);
  t.dropped_frames = s.i64(c++);
  t.audio_onset_ms = s.is_null(c) ? -1 : s.f64(c);
  ++c;
  t.answered_at = s.text(c);
  return t;
}

void bind_ms(Stmt& s, int i, double v) {
  if (v < 0) s.bind_null(i);
  else s.bind(i, v);
}

#define MM_SESSION_SELECT                                                                      \
  "SELECT s.id, s.participant_id, p.code, s.participant_number, s.experiment_path, "           \
  "s.experiment_sha256, s.experiment_name, s.plan_json, s.planned_trials, s.seed, s.station, " \
  "s.display_json, s.audio_json, s.program_version, s.started_at, ifnull(s.ended_at, ''), "    \
  "s.status, s.resumed, (SELECT count(*) FROM trials t WHERE t.session_id = s.id), "          \
  "ifnull(s.observer_model_id, 0), ifnull(m.spec, ''), ifnull(m.sha256, '') "                  \
  "FROM sessions s JOIN participants p ON p.id = s.participant_id "                            \
  "LEFT JOIN models m ON m.id = s.observer_model_id "

SessionInfo read_session(const Stmt& s) {
  SessionInfo i;
  int c = 0;
  i.id = s.i64(c++);
  i.participant_id = s.i64(c++);
  i.session.participant_code = s.text(c++);
  i.session.participant_number = s.i64(c++);
  i.session.experiment_path = s.text(c++);
  i.session.experiment_sha256 = s.text(c++);
  i.session.experiment_name = s.text(c++);
  i.session.plan_json = s.text(c++);
  i.session.planned_trials = s.i64(c++);
  i.session.seed = s.i64(c++);
  i.session.station = s.text(c++);
  i.session.display_json = s.text(c++);
  i.session.audio_json = s.text(c++);
  i.session.program_version = s.text(c++);
  i.started_at = s.text(c++);
  i.ended_at = s.text(c++);
  i.status = parse_session_status(s.text(c++));
  i.resumed = s.i64(c++);
  i.answered = s.i64(c++);
  i.session.observer_model_id = s.i64(c++);
  i.observer = s.text(c++);
  i.observer_sha256 = s.text(c++);
  return i;
}

// The session's status inside a transaction; throws if there is no such session.
SessionStatus status_of(const Db& d, int64_t id, const std::string& what) {
  Stmt s(d, "SELECT status FROM sessions WHERE id = ?1", what);
  s.bind(1, id);
  if (!s.step())
    throw std::runtime_error(d.path + ": " + what + ": no session with id " + std::to_string(id) +
                             "; pass an id from create_session");
  try {
    return parse_session_status(s.text(0));
  } catch (const std::runtime_error&) {
    throw std::runtime_error(d.path + ": " + what + ": session " + std::to_string(id) + " has an unknown status '" +
                             s.text(0) + "'; the file was changed by another program");
  }
}

void insert_event(const Db& d, int64_t session_id, const std::string& kind, int64_t trial_index,
                  const std::string& detail, const std::string& what) {
  Stmt s(d,
         "INSERT INTO session_events (session_id, kind, trial_index, detail, at) VALUES "
         "(?1, ?2, ?3, ?4, " MM_NOW ")",
         what);
  s.bind(1, session_id).bind(2, kind);
  if (trial_index < 0) s.bind_null(3);
  else s.bind(3, trial_index);
  s.bind(4, detail).run();
}

}  // namespace

bool valid_participant_code(const std::string& code) {
  if (code.empty() || code.size() > 64) return false;
  for (unsigned char c : code)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

// [SECTION] Status ------------------------------------------------------------------------
const char* session_status_name(SessionStatus s) {
  switch (s) {
    case SessionStatus::running: return "running";
    case SessionStatus::completed: return "completed";
    case SessionStatus::aborted: return "aborted";
    case SessionStatus::failed_demo: return "failed_demo";
  }
  return "running";
}

SessionStatus parse_session_status(const std::string& name) {
  for (SessionStatus s : {SessionStatus::running, SessionStatus::completed, SessionStatus::aborted,
                          SessionStatus::failed_demo})
    if (name == session_status_name(s)) return s;
  throw std::runtime_error("'" + name + "' is not a session status (running, completed, aborted, failed_demo)");
}

// [SECTION] Participants ------------------------------------------------------------------
int64_t Store::upsert_participant(const std::string& code) {
  check_code(path_, code);
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording participant " + code;
  Txn t(d, what);
  {
    Stmt s(d, "INSERT OR IGNORE INTO participants (code, created_at) VALUES (?1, " MM_NOW ")", what);
    s.bind(1, code).run();
  }
  Stmt s(d, "SELECT id FROM participants WHERE code = ?1", what);
  s.bind(1, code);
  int64_t id = s.step() ? s.i64(0) : 0;
  t.commit();
  return id;
}

// [SECTION] Sessions ----------------------------------------------------------------------
int64_t Store::create_session(const SessionRecord& r) {
  check_code(path_, r.participant_code);
  if (r.participant_number < 1)
    throw std::runtime_error(path_ + ": create_session: participant number " + std::to_string(r.participant_number) +
                             " must be 1 or more");
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording a session of " + r.experiment_name;
  Txn t(d, what);
  {
    Stmt s(d, "INSERT OR IGNORE INTO participants (code, created_at) VALUES (?1, " MM_NOW ")", what);
    s.bind(1, r.participant_code).run();
  }
  int64_t pid = 0;
  {
    Stmt s(d, "SELECT id FROM participants WHERE code = ?1", what);
    s.bind(1, r.participant_code);
    if (s.step()) pid = s.i64(0);
  }
  Stmt s(d,
         "INSERT INTO sessions (participant_id, participant_number, experiment_path, experiment_sha256, "
         "experiment_name, plan_json, planned_trials, seed, station, display_json, audio_json, "
         "program_version, started_at, status, resumed, observer_model_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
         "?8, ?9, ?10, ?11, ?12, " MM_NOW ", 'running', 0, ?13)",
         what);
  int i = 1;
  s.bind(i++, pid);
  s.bind(i++, r.participant_number);
  s.bind(i++, r.experiment_path);
  s.bind(i++, r.experiment_sha256);
  s.bind(i++, r.experiment_name);
  s.bind(i++, r.plan_json);
  s.bind(i++, r.planned_trials);
  s.bind(i++, r.seed);
  s.bind(i++, r.station);
  s.bind(i++, r.display_json.empty() ? std::string("{}") : r.display_json);
  s.bind(i++, r.audio_json.empty() ? std::string("{}") : r.audio_json);
  s.bind(i++, r.program_version);
  s.bind_id_or_null(i++, r.observer_model_id);
  s.run();
  const int64_t id = sqlite3_last_insert_rowid(db_);
  insert_event(d, id, "start", -1, "", what);
  t.commit();
  return id;
}

std::optional<SessionInfo> Store::session(int64_t session_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, MM_SESSION_SELECT "WHERE s.id = ?1", "reading session " + std::to_string(session_id));
  s.bind(1, session_id);
  if (!s.step()) return std::nullopt;
  return read_session(s);
}

std::optional<SessionInfo> Store::find_session(const std::string& experiment_sha256, int64_t participant_number,
                                               int64_t observer_model_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         MM_SESSION_SELECT "WHERE s.experiment_sha256 = ?1 AND s.participant_number = ?2 "
                           "AND ifnull(s.observer_model_id, 0) = ?3 ORDER BY s.id DESC LIMIT 1",
         "looking up the session of participant " + std::to_string(participant_number));
  s.bind(1, experiment_sha256).bind(2, participant_number).bind(3, observer_model_id);
  if (!s.step()) return std::nullopt;
  return read_session(s);
}

void Store::resume_session(int64_t session_id, int64_t at_trial) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "resuming session " + std::to_string(session_id);
  Txn t(d, what);
  const SessionStatus st = status_of(d, session_id, what);
  if (!resumable(st))
    throw std::runtime_error(path_ + ": " + what + ": the session is " + session_status_name(st) +
                             "; start a new session (another participant number) instead");
  {
    Stmt s(d, "UPDATE sessions SET resumed = resumed + 1, status = 'running', ended_at = NULL WHERE id = ?1", what);
    s.bind(1, session_id).run();
  }
  insert_event(d, session_id, "resume", at_trial, std::string("was ") + session_status_name(st), what);
  t.commit();
}

void Store::finish_session(int64_t session_id, SessionStatus status) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "finishing session " + std::to_string(session_id);
  Txn t(d, what);
  status_of(d, session_id, what);
  {
    Stmt s(d,
           status == SessionStatus::running ? "UPDATE sessions SET status = ?1, ended_at = NULL WHERE id = ?2"
                                            : "UPDATE sessions SET status = ?1, ended_at = " MM_NOW " WHERE id = ?2",
           what);
    s.bind(1, session_status_name(status)).bind(2, session_id).run();
  }
  const char* kind = status == SessionStatus::completed ? "complete"
                     : status == SessionStatus::aborted ? "abort"
                     : status == SessionStatus::failed_demo ? "demo_failed" : "note";
  insert_event(d, session_id, kind, -1, status == SessionStatus::running ? "status set to running" : "", what);
  t.commit();
}

void Store::add_session_event(int64_t session_id, const std::string& kind, int64_t trial_index,
                              const std::string& detail) {
  if (!is_event_kind(kind))
    throw std::runtime_error(path_ + ": add_session_event: kind '" + kind +
                             "' is not one of start, resume, pause, continue, abort, demo_failed, complete, note");
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording a " + kind + " event of session " + std::to_string(session_id);
  Txn t(d, what);
  status_of(d, session_id, what);
  insert_event(d, session_id, kind, trial_index, detail, what);
  t.commit();
}

std::vector<SessionSummary> Store::list_sessions() const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, MM_SESSION_SELECT "ORDER BY s.id", "listing sessions");
  std::vector<SessionSummary> out;
  while (s.step()) {
    SessionInfo i = read_session(s);
    SessionSummary m;
    m.id = i.id;
    m.participant_code = i.session.participant_code;
    m.participant_number = i.session.participant_number;
    m.observer = i.observer;
    m.experiment_name = i.session.experiment_name;
    m.experiment_path = i.session.experiment_path;
    m.experiment_sha256 = i.session.experiment_sha256;
    m.status = i.status;
    m.started_at = i.started_at;
    m.ended_at = i.ended_at;
    m.resumed = i.resumed;
    m.planned = i.session.planned_trials;
    m.answered = i.answered;
    out.push_back(m);
  }
  return out;
}

std::vector<SessionEvent> Store::session_events(int64_t session_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT id, kind, ifnull(trial_index, -1), detail, at FROM session_events WHERE session_id = ?1 ORDER BY id",
         "reading the events of session " + std::to_string(session_id));
  s.bind(1, session_id);
  std::vector<SessionEvent> out;
  while (s.step()) out.push_back({s.i64(0), s.text(1), s.i64(2), s.text(3), s.text(4)});
  return out;
}

// [SECTION] Trials ------------------------------------------------------------------------
void Store::add_trial(const TrialRecord& r) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording trial " + std::to_string(r.trial_index) + " of session " +
                           std::to_string(r.session_id);
  Txn t(d, what);
  const SessionStatus st = status_of(d, r.session_id, what);
  if (st != SessionStatus::running)
    throw std::runtime_error(path_ + ": " + what + ": the session is " + session_status_name(st) + "; resume it first");
  {
    Stmt s(d, "SELECT planned_trials FROM sessions WHERE id = ?1", what);
    s.bind(1, r.session_id);
    s.step();
    if (r.trial_index < 0 || r.trial_index >= s.i64(0))
      throw std::runtime_error(path_ + ": " + what + ": the plan has trials 0 to " + std::to_string(s.i64(0) - 1) +
                               "; pass a trial index from the plan");
  }
  {
    Stmt s(d, "SELECT 1 FROM trials WHERE session_id = ?1 AND trial_index = ?2", what);
    s.bind(1, r.session_id).bind(2, r.trial_index);
    if (s.step())
      throw std::runtime_error(path_ + ": " + what + ": that trial is already recorded; resume at the first unanswered trial");
  }
  Stmt s(d,
         "INSERT INTO trials (" MM_TRIAL_COLUMNS ", answered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
         "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, " MM_NOW ")",
         what);
  int i = 1;
  s.bind(i++, r.session_id);
  s.bind(i++, r.trial_index);
  s.bind(i++, r.block);
  s.bind(i++, r.block_kind);
  s.bind(i++, r.phase);
  s.bind(i++, r.index_in_block);
  s.bind(i++, r.condition);
  s.bind(i++, r.planned_condition);
  s.bind(i++, r.category);
  s.bind(i++, r.reference_path);
  s.bind(i++, r.stimulus_path);
  s.bind(i++, r.stimulus_sha256);
  s.bind(i++, r.model);
  s.bind(i++, r.layer);
  s.bind(i++, r.is_metamer);
  s.bind(i++, r.fell_back);
  s.bind(i++, r.alternatives_json.empty() ? std::string("[]") : r.alternatives_json);
  s.bind(i++, r.response);
  s.bind(i++, r.correct);
  bind_ms(s, i++, r.rt_response_ms);
  bind_ms(s, i++, r.rt_stimulus_ms);
  s.bind(i++, r.timing_json.empty() ? std::string("{}") : r.timing_json);
  s.bind(i++, r.dropped_frames);
  bind_ms(s, i++, r.audio_onset_ms);
  s.run();
  t.commit();
}

std::vector<int64_t> Store::answered_trial_indices(int64_t session_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT trial_index FROM trials WHERE session_id = ?1 ORDER BY trial_index",
         "listing the answered trials of session " + std::to_string(session_id));
  s.bind(1, session_id);
  std::vector<int64_t> out;
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

std::vector<TrialRecord> Store::trials_of_session(int64_t session_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT " MM_TRIAL_COLUMNS ", answered_at FROM trials WHERE session_id = ?1 ORDER BY trial_index",
         "reading the trials of session " + std::to_string(session_id));
  s.bind(1, session_id);
  std::vector<TrialRecord> out;
  while (s.step()) out.push_back(read_trial(s));
  return out;
}

}  // namespace mm::data
