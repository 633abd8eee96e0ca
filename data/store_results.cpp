// data: the store's model judgments for comparing people with models (schema v3): each
// model's answer to the stimulus of every trial a participant saw (trial_judgments), and to
// every metamer of an experiment's conditions (metamer_judgments, network-to-network).
// Adding skips keys already recorded, so `metamerlab judge` run again adds only what is
// missing.
//
// Sections
//   [SECTION] Trial judgments     add, judged keys, per session
//   [SECTION] Metamer judgments   add, judged keys, per experiment
//   [SECTION] Models              model by id
#include "data/sqlite_util.h"
#include "data/store.h"

#include <stdexcept>

#ifndef METAMERLAB_VERSION
#define METAMERLAB_VERSION "0.0.0+unknown"
#endif

namespace mm::data {

using detail::Db;
using detail::Stmt;
using detail::Txn;

// [SECTION] Trial judgments ---------------------------------------------------------------
int Store::add_trial_judgments(const std::vector<TrialJudgment>& js) {
  if (js.empty()) return 0;
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording " + std::to_string(js.size()) + " trial judgments";
  Txn t(d, what);
  Stmt s(d,
         "INSERT OR IGNORE INTO trial_judgments (session_id, trial_index, model_id, stimulus_sha256, "
         "alternatives_json, predicted, correct, program_version, judged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
         MM_NOW ")",
         what);
  int added = 0;
  for (const auto& j : js) {
    s.reset();
    s.bind(1, j.session_id).bind(2, j.trial_index).bind(3, j.model_id).bind(4, j.stimulus_sha256);
    s.bind(5, j.alternatives_json.empty() ? std::string("[]") : j.alternatives_json).bind(6, j.predicted);
    s.bind(7, j.correct).bind(8, std::string(METAMERLAB_VERSION));
    s.run();
    added += sqlite3_changes(db_);
  }
  t.commit();
  return added;
}

std::vector<int64_t> Store::judged_trials(int64_t session_id, int64_t model_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT trial_index FROM trial_judgments WHERE session_id = ?1 AND model_id = ?2 ORDER BY trial_index",
         "reading the judged trials of session " + std::to_string(session_id));
  s.bind(1, session_id).bind(2, model_id);
  std::vector<int64_t> out;
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

std::vector<TrialJudgment> Store::trial_judgments(int64_t session_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT session_id, trial_index, model_id, stimulus_sha256, alternatives_json, predicted, correct "
         "FROM trial_judgments WHERE session_id = ?1 ORDER BY trial_index, model_id",
         "reading the judgments of session " + std::to_string(session_id));
  s.bind(1, session_id);
  std::vector<TrialJudgment> out;
  while (s.step())
    out.push_back({s.i64(0), s.i64(1), s.i64(2), s.text(3), s.text(4), s.text(5), s.i64(6) != 0});
  return out;
}

// [SECTION] Metamer judgments -------------------------------------------------------------
int Store::add_metamer_judgments(const std::vector<MetamerJudgment>& js) {
  if (js.empty()) return 0;
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording " + std::to_string(js.size()) + " metamer judgments";
  Txn t(d, what);
  Stmt s(d,
         "INSERT OR IGNORE INTO metamer_judgments (experiment_sha256, condition, generating_model, layer, "
         "reference_sha256, stimulus_sha256, category, model_id, predicted, correct, program_version, judged_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, " MM_NOW ")",
         what);
  int added = 0;
  for (const auto& j : js) {
    s.reset();
    s.bind(1, j.experiment_sha256).bind(2, j.condition).bind(3, j.generating_model).bind(4, j.layer);
    s.bind(5, j.reference_sha256).bind(6, j.stimulus_sha256).bind(7, j.category).bind(8, j.model_id);
    s.bind(9, j.predicted).bind(10, j.correct).bind(11, std::string(METAMERLAB_VERSION));
    s.run();
    added += sqlite3_changes(db_);
  }
  t.commit();
  return added;
}

std::vector<std::string> Store::judged_metamers(const std::string& experiment_sha256, int64_t model_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT stimulus_sha256 || '|' || condition FROM metamer_judgments WHERE experiment_sha256 = ?1 AND model_id = ?2",
         "reading the judged metamers of an experiment");
  s.bind(1, experiment_sha256).bind(2, model_id);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<MetamerJudgment> Store::metamer_judgments(const std::string& experiment_sha256) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT experiment_sha256, condition, generating_model, layer, reference_sha256, stimulus_sha256, category, "
         "model_id, predicted, correct FROM metamer_judgments WHERE experiment_sha256 = ?1 "
         "ORDER BY condition, model_id, reference_sha256, stimulus_sha256",
         "reading the metamer judgments of an experiment");
  s.bind(1, experiment_sha256);
  std::vector<MetamerJudgment> out;
  while (s.step())
    out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.i64(7), s.text(8),
                   s.i64(9) != 0});
  return out;
}

// [SECTION] Models ------------------------------------------------------------------------
std::optional<int64_t> Store::find_model_id(const std::string& spec, const std::string& sha256) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT id FROM models WHERE spec = ?1 AND sha256 = ?2", "looking up model " + spec);
  s.bind(1, spec).bind(2, sha256);
  if (!s.step()) return std::nullopt;
  return s.i64(0);
}

std::optional<ModelRecord> Store::model(int64_t model_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT spec, path, sha256, modality, info_json FROM models WHERE id = ?1",
         "reading model " + std::to_string(model_id));
  s.bind(1, model_id);
  if (!s.step()) return std::nullopt;
  return ModelRecord{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4)};
}

}  // namespace mm::data
