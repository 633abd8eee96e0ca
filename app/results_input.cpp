// app/results_input.cpp: sessions, trials and judgments read from the store into
// the analysis and export modules' inputs (app/results_input.h).
//
// Sections
//   [SECTION] Groups      sessions by experiment version
//   [SECTION] Results     ResultInput
//   [SECTION] Export      ExportData
#include "app/results_input.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"

#ifndef METAMERLAB_VERSION
#define METAMERLAB_VERSION "0.0.0+unknown"
#endif

namespace fs = std::filesystem;

namespace mm::app {
namespace {

// [SECTION] Groups ------------------------------------------------------------------------
struct Group {
  std::string name, sha256;
  std::vector<data::SessionSummary> sessions;
};

// Sessions grouped by experiment version (SHA-256), in the order of their first session.
std::vector<Group> groups_of(data::Store& store, const std::string& experiment) {
  const auto list = store.list_sessions();
  if (list.empty())
    throw std::runtime_error(store.path() + ": no sessions in this database; run participants first (metamerlab run)");
  std::set<std::string> names;
  for (const auto& s : list) names.insert(s.experiment_name);
  if (!experiment.empty() && !names.count(experiment)) {
    std::string have;
    for (const auto& n : names) have += (have.empty() ? "" : ", ") + n;
    throw std::runtime_error(store.path() + ": no sessions of experiment \"" + experiment + "\"; experiments here: " + have);
  }
  std::vector<Group> out;
  for (const auto& s : list) {
    if (!experiment.empty() && s.experiment_name != experiment) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const Group& g) { return g.sha256 == s.experiment_sha256; });
    if (it == out.end()) {
      out.push_back({s.experiment_name, s.experiment_sha256, {}});
      it = out.end() - 1;
    }
    it->sessions.push_back(s);
  }
  // Several versions of one experiment: name them apart.
  for (auto& g : out) {
    int versions = 0;
    for (const auto& h : out) versions += h.name == g.name;
    if (versions > 1) g.name += " (" + g.sha256.substr(0, 8) + ")";
  }
  return out;
}

std::map<int64_t, std::string> model_specs(data::Store& store) {
  std::map<int64_t, std::string> m;
  for (const auto& [id, rec] : store.models()) m[id] = rec.spec;
  return m;
}

// [SECTION] Results -----------------------------------------------------------------------
analysis::ResultInput result_input(data::Store& store, const Group& g, const std::map<int64_t, std::string>& specs) {
  analysis::ResultInput in;
  in.experiment = g.name;
  in.experiment_sha256 = g.sha256;
  std::map<std::string, std::pair<std::string, std::string>> cond_model;  // condition -> (model, layer)
  std::vector<std::string> cond_order;
  std::set<int64_t> judge_ids;
  int alternatives = 0;
  for (const auto& summary : g.sessions) {
    const auto info = store.session(summary.id);
    if (!info) continue;
    if (cond_order.empty()) {
      try {
        cond_order = experiments::plan_from_json(info->session.plan_json, "/").conditions;
      } catch (const std::exception&) {
      }
    }
    analysis::ResultSession s;
    s.id = summary.id;
    s.participant_number = summary.participant_number;
    s.status = data::session_status_name(summary.status);
    s.observer = summary.observer;
    std::map<int64_t, std::map<std::string, bool>> judged;  // trial -> model -> correct
    for (const auto& j : store.trial_judgments(summary.id)) {
      judged[j.trial_index][specs.count(j.model_id) ? specs.at(j.model_id) : "model " + std::to_string(j.model_id)] = j.correct;
      judge_ids.insert(j.model_id);
    }
    for (const auto& t : store.trials_of_session(summary.id)) {
      analysis::ResultTrial r;
      r.phase = t.phase;
      r.condition = t.condition;
      r.planned_condition = t.planned_condition;
      r.fell_back = t.fell_back;
      r.category = t.category;
      r.correct = t.correct;
      r.rt_ms = t.rt_response_ms;
      if (auto it = judged.find(t.trial_index); it != judged.end()) r.judged = it->second;
      if (t.is_metamer && !t.model.empty()) cond_model[t.condition] = {t.model, t.layer};
      if (alternatives == 0 && t.phase == "main") {
        const auto a = nlohmann::json::parse(t.alternatives_json, nullptr, false);
        if (a.is_array()) alternatives = static_cast<int>(a.size());
      }
      s.trials.push_back(r);
    }
    in.sessions.push_back(std::move(s));
  }
  for (const auto& j : store.metamer_judgments(g.sha256)) {
    analysis::NetworkJudgment n;
    n.generating_model = j.generating_model;
    n.layer = j.layer;
    n.judging_model = specs.count(j.model_id) ? specs.at(j.model_id) : "model " + std::to_string(j.model_id);
    n.stimulus = j.stimulus_sha256;
    n.correct = j.correct;
    in.network.push_back(n);
    if (!cond_model.count(j.condition)) cond_model[j.condition] = {j.generating_model, j.layer};
  }
  if (cond_order.empty()) {
    cond_order.push_back("natural");
    for (const auto& [c, ml] : cond_model) cond_order.push_back(c);
  }
  for (const auto& c : cond_order) {
    analysis::ResultCondition rc;
    rc.name = c;
    if (c != "natural") {
      if (auto it = cond_model.find(c); it != cond_model.end()) {
        rc.model = it->second.first;
        rc.layer = it->second.second;
      } else {  // never shown and never judged: name it from LABEL/LAYER
        rc.model = c.substr(0, c.rfind('/'));
        rc.layer = c.substr(c.rfind('/') + 1);
      }
    }
    in.conditions.push_back(rc);
  }
  for (int64_t id : judge_ids) in.judging_models.push_back(specs.count(id) ? specs.at(id) : "model " + std::to_string(id));
  in.alternatives = alternatives > 0 ? alternatives : 16;
  return in;
}

// [SECTION] Export ------------------------------------------------------------------------
// A stimulus file's name relative to its set: CATEGORY/FILE, LABEL/LAYER/CATEGORY/FILE for a
// metamer, icons/FILE for an image catch trial's icon.
std::string relative_to_set(const data::TrialRecord& t) {
  if (t.stimulus_path.empty()) return "";
  const fs::path p(t.stimulus_path);
  const std::string file = p.filename().string();
  if (t.is_metamer) return t.condition + "/" + t.category + "/" + file;
  if (t.phase == "catch" && t.reference_path.empty() && p.parent_path().filename() != t.category) return "icons/" + file;
  return p.parent_path().filename().string() + "/" + file;
}

}  // namespace

std::vector<analysis::ResultInput> read_results(data::Store& store, const std::string& experiment) {
  const auto specs = model_specs(store);
  std::vector<analysis::ResultInput> out;
  for (const auto& g : groups_of(store, experiment)) out.push_back(result_input(store, g, specs));
  return out;
}

analysis::ExportData read_export(data::Store& store, const std::string& experiment) {
  const auto specs = model_specs(store);
  analysis::ExportData d;
  d.program_version = METAMERLAB_VERSION;
  std::set<int64_t> judge_ids;
  for (const auto& g : groups_of(store, experiment)) {
    for (const auto& summary : g.sessions) {
      const auto info = store.session(summary.id);
      if (!info) continue;
      analysis::ExportSession s;
      s.id = summary.id;
      s.participant_number = summary.participant_number;
      s.participant_code = summary.participant_code;
      s.experiment_name = g.name;
      s.experiment_sha256 = g.sha256;
      s.observer = summary.observer;
      s.status = data::session_status_name(summary.status);
      s.started_at = summary.started_at;
      s.ended_at = summary.ended_at;
      s.station = info->session.station;
      s.planned_trials = summary.planned;
      d.sessions.push_back(s);
      std::map<int64_t, std::map<std::string, std::string>> said;
      for (const auto& j : store.trial_judgments(summary.id)) {
        said[j.trial_index][specs.count(j.model_id) ? specs.at(j.model_id) : "model " + std::to_string(j.model_id)] =
            j.predicted;
        judge_ids.insert(j.model_id);
      }
      for (const auto& t : store.trials_of_session(summary.id)) {
        analysis::ExportTrial x;
        x.session_id = t.session_id;
        x.trial_index = t.trial_index;
        x.block = t.block;
        x.block_kind = t.block_kind;
        x.phase = t.phase;
        x.index_in_block = t.index_in_block;
        x.condition = t.condition;
        x.planned_condition = t.planned_condition;
        x.model = t.model;
        x.layer = t.layer;
        x.category = t.category;
        x.stimulus_file = relative_to_set(t);
        x.stimulus_path = t.stimulus_path;
        x.stimulus_sha256 = t.stimulus_sha256;
        x.is_metamer = t.is_metamer;
        x.fell_back = t.fell_back;
        x.response = t.response;
        x.correct = t.correct;
        x.rt_response_ms = t.rt_response_ms;
        x.rt_stimulus_ms = t.rt_stimulus_ms;
        x.dropped_frames = t.dropped_frames;
        x.audio_onset_ms = t.audio_onset_ms;
        x.answered_at = t.answered_at;
        if (auto it = said.find(t.trial_index); it != said.end()) x.judgments = it->second;
        d.trials.push_back(x);
      }
      // Instructions for BIDS: the plan's first text block.
      try {
        const auto plan = experiments::plan_from_json(info->session.plan_json, "/");
        d.modality = experiments::modality_name(plan.modality);
        for (const auto& b : plan.blocks)
          if (b.kind == experiments::BlockKind::instructions && !b.text.empty() && !d.task_instructions.count(g.name)) {
            d.task_instructions[g.name] = b.text;
            break;
          }
      } catch (const std::exception&) {
      }
    }
  }
  for (int64_t id : judge_ids) d.judging_models.push_back(specs.count(id) ? specs.at(id) : "model " + std::to_string(id));
  return d;
}

double file_catch_threshold(data::Store& store, const analysis::ResultInput& in) {
  for (const auto& s : store.list_sessions()) {
    if (s.experiment_sha256 != in.experiment_sha256) continue;
    try {
      experiments::LoadOptions lo;
      lo.default_database = store.path();
      const auto e = experiments::load_experiment(s.experiment_path, lo);
      if (e.sha256 == in.experiment_sha256) return e.analysis.exclude_catch_below;
    } catch (const std::exception&) {
    }
    break;
  }
  return -1;
}

std::vector<std::string> write_report_folder(const analysis::AnalysisReport& r, const std::string& dir,
                                             const std::string& text, const std::string& json) {
  namespace fs = std::filesystem;
  std::vector<std::string> files = analysis::write_report_figures(r, dir);
  std::string md = text + "\n## Figures\n\n";
  for (const auto& f : files)
    if (fs::path(f).extension() == ".png") md += "![" + fs::path(f).stem().string() + "](" + fs::path(f).filename().string() + ")\n\n";
  stimuli::write_file_atomic(dir + "/report.md", md);
  stimuli::write_file_atomic(dir + "/report.json", json);
  files.push_back(dir + "/report.md");
  files.push_back(dir + "/report.json");
  return files;
}

}  // namespace mm::app
