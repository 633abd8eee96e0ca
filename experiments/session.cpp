// experiments/session.cpp: the session lifecycle without a display: check an experiment
// file, decide start/resume/refuse for a participant, record the session, score the demo
// and headphone-check blocks, and fill a trial's row from the plan.
//
// Sections
//   [SECTION] Checking     check_experiment, check_experiment_text
//   [SECTION] Planning     plan_session, trim_plan
//   [SECTION] Opening      open_session
//   [SECTION] Criteria     score_block
//   [SECTION] Records      planned_record
#include "experiments/session.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

namespace mm::experiments {

namespace {
std::string first_line(std::string m) {
  if (auto nl = m.find('\n'); nl != std::string::npos) m = m.substr(0, nl);
  return m;
}
}  // namespace

// [SECTION] Checking ----------------------------------------------------------------------
namespace {
CheckedExperiment check_with(const std::string& file, const std::string& db, double refresh_hz,
                             const ValidateOptions& extra, const std::function<Experiment(const LoadOptions&)>& load) {
  CheckedExperiment x;
  x.file = file;
  x.refresh_hz = refresh_hz;
  try {
    LoadOptions lo;
    lo.default_database = db;
    Experiment e = load(lo);
    ValidateOptions vo = extra;
    vo.refresh_hz = refresh_hz;
    x.validation = validate_experiment(e, vo);
    for (const auto& i : x.validation.issues) (i.error ? x.errors : x.notes).push_back(i.text());
    x.experiment = std::move(e);
  } catch (const std::exception& ex) {  // ExperimentError (FILE:LINE: ...) or a store problem
    x.errors.push_back(first_line(ex.what()));
  }
  return x;
}
}  // namespace

CheckedExperiment check_experiment(const std::string& file, const std::string& db, double refresh_hz,
                                   const ValidateOptions& extra) {
  return check_with(file, db, refresh_hz, extra, [&](const LoadOptions& lo) { return load_experiment(file, lo); });
}

CheckedExperiment check_experiment_text(const std::string& text, const std::string& path, const std::string& db,
                                        double refresh_hz, const ValidateOptions& extra) {
  return check_with(path, db, refresh_hz, extra,
                    [&](const LoadOptions& lo) { return load_experiment_text(text, path, lo); });
}

// [SECTION] Planning ----------------------------------------------------------------------
const char* session_action_name(SessionAction a) {
  switch (a) {
    case SessionAction::start: return "start";
    case SessionAction::resume: return "resume";
    case SessionAction::refuse: return "refuse";
  }
  return "start";
}

void trim_plan(Plan& p, int n) {
  std::vector<PlannedTrial> out;
  for (auto& b : p.blocks) {
    b.first_trial = static_cast<int>(out.size());
    int k = 0;
    for (const auto& t : p.trials) {
      if (t.block != b.index || k >= n) continue;
      PlannedTrial c = t;
      c.index = static_cast<int>(out.size());
      c.index_in_block = k++;
      out.push_back(c);
    }
    b.trials = k;
  }
  p.trials = std::move(out);
}

SessionPlan plan_session(const Experiment& e, const SessionRequest& r, const data::Store* store) {
  if (r.participant < 1)
    throw std::invalid_argument("participant number " + std::to_string(r.participant) + " must be 1 or more");
  SessionPlan sp;
  if (store) {
    int64_t observer_id = 0;  // people's sessions
    if (r.observer) observer_id = store->find_model_id(r.observer->spec, r.observer->sha256).value_or(-1);
    if (observer_id >= 0) sp.existing = store->find_session(e.sha256, r.participant, observer_id);
  }
  const std::string who = "participant " + std::to_string(r.participant);
  if (sp.existing && data::resumable(sp.existing->status)) {
    const data::SessionInfo& s = *sp.existing;
    sp.action = SessionAction::resume;
    sp.plan = plan_from_json(s.session.plan_json, e.dir);
    for (auto i : store->answered_trial_indices(s.id)) sp.answered.insert(i);
    while (sp.answered.count(sp.first_unanswered)) ++sp.first_unanswered;
    sp.message = who + " has session #" + std::to_string(s.id) + " (" + s.session.participant_code + "), " +
                 data::session_status_name(s.status) + ", " + std::to_string(sp.answered.size()) + " of " +
                 std::to_string(sp.plan.trials.size()) + " trials answered: it resumes at trial " +
                 std::to_string(sp.first_unanswered);
    return sp;
  }
  if (sp.existing) {
    const data::SessionInfo& s = *sp.existing;
    sp.action = SessionAction::refuse;
    sp.plan = plan_from_json(s.session.plan_json, e.dir);
    sp.message = who + " already has a " + data::session_status_name(s.status) + " session (#" +
                 std::to_string(s.id) + ", " + s.session.participant_code + ") of this experiment; use another participant number";
    return sp;
  }
  sp.action = SessionAction::start;
  sp.plan = make_plan(e, r.participant, r.seed.value_or(e.seed));
  if (r.max_trials >= 0) trim_plan(sp.plan, r.max_trials);
  sp.message = who + ": a new session of " + std::to_string(sp.plan.trials.size()) + " trials";
  return sp;
}

// [SECTION] Opening -----------------------------------------------------------------------
int64_t open_session(data::Store& store, const Experiment& e, const SessionPlan& sp, const SessionProvenance& p) {
  if (sp.action == SessionAction::refuse) throw std::logic_error("open_session: a refused plan cannot be opened");
  if (sp.action == SessionAction::resume) {
    store.resume_session(sp.existing->id, sp.first_unanswered);
    return sp.existing->id;
  }
  // A new session: another program (a second launch screen) may have started one for this
  // participant since the plan was made.
  const int64_t observer_id = p.observer ? store.find_model_id(p.observer->spec, p.observer->sha256).value_or(-1) : 0;
  if (auto now = observer_id < 0 ? std::nullopt : store.find_session(e.sha256, sp.plan.participant, observer_id))
    throw std::runtime_error(store.path() + ": participant " + std::to_string(sp.plan.participant) +
                             " got session #" + std::to_string(now->id) +
                             " from another program meanwhile; check the participant number and start again");
  data::SessionRecord s;
  s.participant_code = p.participant_code.empty() ? "P" + std::to_string(sp.plan.participant) : p.participant_code;
  s.participant_number = sp.plan.participant;
  s.experiment_path = e.path;
  s.experiment_sha256 = e.sha256;
  s.experiment_name = e.name;
  s.plan_json = plan_to_json(sp.plan);
  s.planned_trials = static_cast<int64_t>(sp.plan.trials.size());
  s.seed = static_cast<int64_t>(sp.plan.seed);
  s.station = p.station;
  s.display_json = p.display_json;
  s.audio_json = p.audio_json;
  s.program_version = p.program_version;
  if (p.observer) s.observer_model_id = store.upsert_model(*p.observer);
  const int64_t id = store.create_session(s);
  if (!p.scripted.empty()) store.add_session_event(id, "note", 0, "scripted participant: " + p.scripted);
  return id;
}

// [SECTION] Criteria ----------------------------------------------------------------------
BlockScore score_block(const PlannedBlock& b, const std::vector<data::TrialRecord>& session_trials) {
  BlockScore s;
  s.trials = b.trials;
  for (const auto& t : session_trials)
    if (t.block == b.index && t.correct) ++s.correct;
  switch (b.kind) {
    case BlockKind::demo: s.needed = std::min(b.pass_min_correct, b.trials); break;
    case BlockKind::headphone_check: s.needed = std::min(kHeadphonePassCorrect, std::max(1, b.trials - 1)); break;
    default: s.needed = 0;
  }
  s.passed = s.correct >= s.needed;
  return s;
}

// [SECTION] Records -----------------------------------------------------------------------
data::TrialRecord planned_record(int64_t session_id, const PlannedTrial& t) {
  data::TrialRecord r;
  r.session_id = session_id;
  r.trial_index = t.index;
  r.block = t.block;
  r.block_kind = t.block_kind;
  r.phase = t.phase;
  r.index_in_block = t.index_in_block;
  r.condition = t.condition;
  r.planned_condition = t.planned_condition;
  r.category = t.category;
  r.reference_path = t.reference;
  r.stimulus_path = t.stimulus;
  r.stimulus_sha256 = t.stimulus_sha256;
  r.model = t.model;
  r.layer = t.layer;
  r.is_metamer = t.is_metamer;
  r.fell_back = t.fell_back;
  return r;
}

}  // namespace mm::experiments
