// app/program/judging.cpp: models judge the trials people saw, and model observers run
// whole sessions (app/program/judging.h).
//
// Sections
//   [SECTION] Helpers     alternatives, stimulus loading with SHA-256 checks, model cache
//   [SECTION] Judge       trial judgments and network-to-network judgments
//   [SECTION] Observer    a planned session answered by a model
#include "app/program/judging.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "data/sha256.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/session.h"
#include "synth/jobs.h"

#ifndef METAMERLAB_VERSION
#define METAMERLAB_VERSION "0.0.0+unknown"
#endif

namespace fs = std::filesystem;

namespace mm::app {
namespace {

// [SECTION] Helpers -----------------------------------------------------------------------
std::vector<std::string> parse_alternatives(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& x : j)
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

// The alternatives a model cannot name (not among its classes).
std::vector<std::string> unknown_classes(const synth::ModelInfo& info, const std::vector<std::string>& alts) {
  std::vector<std::string> out;
  for (const auto& a : alts)
    if (std::find(info.classes.begin(), info.classes.end(), a) == info.classes.end()) out.push_back(a);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// A stimulus as the model takes it; the file must still be the one recorded.
stimuli::Array load_checked(const synth::ModelHandle& m, const std::string& path, const std::string& sha256,
                            const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw std::runtime_error(path + ": " + what + "'s stimulus is missing; judging needs the files participants saw "
                                                  "(restore them, or judge another database)");
  if (!sha256.empty() && data::sha256_file(path) != sha256)
    throw std::runtime_error(path + ": " + what + "'s stimulus changed since it was shown (SHA-256 differs); restore "
                                                  "the file that was shown");
  return m.load_stimulus(path);
}

// Models opened once per run, recorded in the store.
struct Judges {
  synth::Device device;
  data::Store& store;
  std::map<std::string, std::pair<std::shared_ptr<synth::ModelHandle>, int64_t>> open;
  std::pair<const synth::ModelHandle*, int64_t> get(const std::string& spec) {
    auto it = open.find(spec);
    if (it == open.end()) {
      auto h = std::make_shared<synth::ModelHandle>(synth::ModelHandle::open(spec, device));
      const int64_t id = store.upsert_model(synth::model_record(h->info()));
      it = open.emplace(spec, std::make_pair(h, id)).first;
    }
    return {it->second.first.get(), it->second.second};
  }
};

// Classifies xs among `alts` in batches of `batch`.
std::vector<std::string> answers(const synth::ModelHandle& m, const std::vector<stimuli::Array>& xs,
                                 const std::vector<std::string>& alts, int batch) {
  std::vector<std::string> out;
  for (const auto& p : m.classify(xs, alts, batch)) out.push_back(p.label);
  return out;
}

struct ExperimentGroup {
  std::string sha256, path, name;
  std::vector<data::SessionInfo> sessions;
};

// [SECTION] Judge -------------------------------------------------------------------------
// Every trial with a stimulus that `spec` has not judged yet, judged now.
void judge_trials(Judges& judges, const std::string& spec, const data::SessionInfo& s, int batch, JudgeSummary& sum,
                  std::ostream& out) {
  const auto [m, model_id] = judges.get(spec);
  const auto done = judges.store.judged_trials(s.id, model_id);
  const std::set<int64_t> judged(done.begin(), done.end());
  std::map<std::string, std::vector<data::TrialRecord>> by_alternatives;
  int todo = 0;
  for (const auto& t : judges.store.trials_of_session(s.id)) {
    if (t.stimulus_path.empty() || judged.count(t.trial_index)) continue;  // headphone tones: nothing to judge
    by_alternatives[t.alternatives_json].push_back(t);
    ++todo;
  }
  sum.already += static_cast<int>(judged.size());
  std::vector<data::TrialJudgment> js;
  for (const auto& [alts_json, trials] : by_alternatives) {
    const auto alts = parse_alternatives(alts_json);
    if (const auto unknown = unknown_classes(m->info(), alts); !unknown.empty())
      throw std::runtime_error(spec + " cannot judge session " + std::to_string(s.id) + ": its classes lack " +
                               join(unknown) + "; judge with a model of the experiment's categories");
    std::vector<stimuli::Array> xs;
    for (const auto& t : trials)
      xs.push_back(load_checked(*m, t.stimulus_path, t.stimulus_sha256,
                                "session " + std::to_string(s.id) + " trial " + std::to_string(t.trial_index)));
    const auto said = answers(*m, xs, alts, batch);
    for (size_t i = 0; i < trials.size(); ++i) {
      data::TrialJudgment j;
      j.session_id = s.id;
      j.trial_index = trials[i].trial_index;
      j.model_id = model_id;
      j.stimulus_sha256 = trials[i].stimulus_sha256;
      j.alternatives_json = alts_json;
      j.predicted = said[i];
      j.correct = said[i] == trials[i].category;
      js.push_back(j);
    }
  }
  const int added = judges.store.add_trial_judgments(js);
  sum.trial_judgments += added;
  out << "judge: session " << s.id << " (participant " << s.session.participant_number << "): " << spec << " judged "
      << added << " trial(s)" << (judged.empty() ? "" : ", " + std::to_string(judged.size()) + " already") << "\n";
  (void)todo;
}

// Metamers judged by `spec` among `alts` (those not judged yet under their key), in
// batches of 256 files. Returns (added, already).
std::pair<int, int> judge_metamer_list(Judges& judges, const std::string& spec, const std::vector<MetamerToJudge>& list,
                                       const std::vector<std::string>& alts, int batch) {
  const auto [m, model_id] = judges.get(spec);
  if (const auto unknown = unknown_classes(m->info(), alts); !unknown.empty())
    throw std::runtime_error(spec + " cannot judge these metamers: its classes lack " + join(unknown));
  std::map<std::string, std::set<std::string>> judged;  // key -> sha|condition
  int added = 0, already = 0;
  for (size_t b = 0; b < list.size(); b += 256) {
    std::vector<data::MetamerJudgment> js;
    std::vector<stimuli::Array> xs;
    for (size_t i = b; i < std::min(list.size(), b + 256); ++i) {
      const auto& mj = list[i];
      auto& done = judged[mj.judgment.experiment_sha256];
      if (done.empty()) {
        const auto keys = judges.store.judged_metamers(mj.judgment.experiment_sha256, model_id);
        done.insert(keys.begin(), keys.end());
        done.insert("");  // read once
      }
      if (done.count(mj.judgment.stimulus_sha256 + "|" + mj.judgment.condition)) {
        ++already;
        continue;
      }
      data::MetamerJudgment j = mj.judgment;
      j.model_id = model_id;
      xs.push_back(load_checked(*m, mj.file, j.stimulus_sha256, "metamer of " + j.condition));
      js.push_back(j);
    }
    if (xs.empty()) continue;
    const auto said = answers(*m, xs, alts, batch);
    for (size_t i = 0; i < js.size(); ++i) {
      js[i].predicted = said[i];
      js[i].correct = said[i] == js[i].category;
    }
    added += judges.store.add_metamer_judgments(js);
  }
  return {added, already};
}

// Every passing metamer of the experiment's conditions judged by `spec` (network-to-network).
void judge_metamers(Judges& judges, const std::string& spec, const experiments::Experiment& e, int batch,
                    JudgeSummary& sum, std::ostream& out) {
  std::vector<std::string> alts;
  for (const auto& a : e.alternatives) alts.push_back(a.name);
  if (const auto unknown = unknown_classes(judges.get(spec).first->info(), alts); !unknown.empty()) {
    out << "judge: " << spec << " skips the network-to-network judgments of " << e.name << ": its classes lack "
        << join(unknown) << "\n";
    return;
  }
  std::map<std::string, std::string> category;  // reference path -> category
  for (const auto& set : e.sets)
    for (const auto& it : set.items) category[it.path] = it.category;
  std::vector<MetamerToJudge> list;
  for (const auto& [ref, conds] : e.metamers)
    for (const auto& [cname, file] : conds) {
      const experiments::Condition* c = e.find_condition(cname);
      if (!c || c->natural) continue;
      MetamerToJudge t;
      t.judgment.experiment_sha256 = e.sha256;
      t.judgment.condition = cname;
      t.judgment.generating_model = c->model;
      t.judgment.layer = c->layer;
      t.judgment.reference_sha256 = data::sha256_file(ref);
      t.judgment.stimulus_sha256 = file.sha256;
      t.judgment.category = category.count(ref) ? category[ref] : fs::path(ref).parent_path().filename().string();
      t.file = file.path;
      list.push_back(t);
    }
  const auto [added, already] = judge_metamer_list(judges, spec, list, alts, batch);
  sum.metamer_judgments += added;
  sum.already += already;
  out << "judge: " << e.name << " metamers: " << spec << " judged " << added << " metamer(s)"
      << (already ? ", " + std::to_string(already) + " already" : "") << "\n";
}

// [SECTION] Observer ----------------------------------------------------------------------
std::string observer_code(const std::string& spec) {
  std::string label = spec.rfind("zoo:", 0) == 0 ? spec.substr(4) : fs::path(spec).stem().string();
  for (auto& ch : label)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) ch = '_';
  return ("model-" + label).substr(0, 64);
}

}  // namespace

JudgeSummary judge_sessions(const JudgeOptions& o, std::ostream& out) {
  std::error_code ec;
  if (!fs::is_regular_file(o.db, ec))
    throw std::runtime_error(o.db + ": no such database; pass the --db the sessions were recorded in");
  data::Store store(o.db);
  const auto all = store.list_sessions();
  if (all.empty()) throw std::runtime_error(o.db + ": no sessions to judge; run participants first (metamerlab run)");
  std::vector<data::SessionInfo> chosen;
  if (!o.sessions.empty()) {
    for (int64_t id : o.sessions) {
      auto s = store.session(id);
      if (!s)
        throw std::runtime_error(o.db + ": no session " + std::to_string(id) +
                                 "; `metamerlab sessions --db " + o.db + "` lists them");
      chosen.push_back(*s);
    }
  } else {
    for (const auto& x : all)
      if (x.observer.empty()) chosen.push_back(*store.session(x.id));  // people's sessions
  }
  std::map<std::string, ExperimentGroup> groups;
  for (const auto& s : chosen) {
    auto& g = groups[s.session.experiment_sha256];
    g.sha256 = s.session.experiment_sha256;
    g.path = s.session.experiment_path;
    g.name = s.session.experiment_name;
    g.sessions.push_back(s);
  }
  JudgeSummary sum;
  Judges judges{o.device, store, {}};
  for (auto& [sha, g] : groups) {
    // The experiment as it was run: its models and its metamers (network-to-network).
    std::optional<experiments::Experiment> e;
    std::string why;
    try {
      experiments::LoadOptions lo;
      lo.default_database = o.db;
      experiments::Experiment x = experiments::load_experiment(g.path, lo);
      if (x.sha256 == sha) e = std::move(x);
      else why = "the file changed since it was run";
    } catch (const std::exception& ex) {
      why = std::string(ex.what()).substr(0, 200);
    }
    std::vector<std::string> specs;
    auto add = [&](const std::string& spec) {
      if (!spec.empty() && std::find(specs.begin(), specs.end(), spec) == specs.end()) specs.push_back(spec);
    };
    if (e) {
      for (const auto& src : e->sources) add(src.model);
      for (const auto& j : e->analysis.judges) add(j);
    } else {
      out << "judge: " << g.path << " is not available as it was run (" << why
          << "): judging with the models named in its trials; no network-to-network judgments\n";
      for (const auto& s : g.sessions)
        for (const auto& t : store.trials_of_session(s.id)) add(t.model);
    }
    for (const auto& m : o.models) add(m);
    if (specs.empty()) {
      out << "judge: " << g.name << " names no model; give --model\n";
      continue;
    }
    sum.models = std::max<int>(sum.models, static_cast<int>(specs.size()));
    for (const auto& spec : specs)
      for (const auto& s : g.sessions) judge_trials(judges, spec, s, o.batch, sum, out);
    if (e && o.network)
      for (const auto& spec : specs) judge_metamers(judges, spec, *e, o.batch, sum, out);
    sum.sessions += static_cast<int>(g.sessions.size());
  }
  out << "judge: " << sum.sessions << " session(s), " << sum.trial_judgments << " trial judgment(s) and "
      << sum.metamer_judgments << " metamer judgment(s) added (" << sum.already << " already recorded) in " << o.db
      << "\n";
  return sum;
}

int judge_metamer_files(data::Store& store, const std::string& spec, synth::Device device,
                        const std::vector<MetamerToJudge>& metamers, const std::vector<std::string>& alternatives,
                        int batch, std::ostream& out) {
  Judges judges{device, store, {}};
  const auto [added, already] = judge_metamer_list(judges, spec, metamers, alternatives, batch);
  out << "judge: " << spec << " judged " << added << " metamer(s)" << (already ? ", " + std::to_string(already) + " already" : "")
      << "\n";
  return added;
}

int run_observer_session(const ObserverOptions& o, std::ostream& out) {
  experiments::LoadOptions lo;
  lo.default_database = o.db;
  const experiments::Experiment e = experiments::load_experiment(o.experiment, lo);
  for (const auto& src : e.sources)
    if (src.live)
      throw std::runtime_error(e.file + ":" + std::to_string(src.where.line) + ": [[metamers]] " + src.label +
                               " makes its metamers live, for people's sessions; a model observer answers "
                               "pre-generated metamers: make them with metamerlab synth and name their database");
  experiments::ValidateOptions vo;  // no display: frame timing is not this observer's concern,
  vo.presentation = false;          // nor the size on a screen or the sound level
  const experiments::Validation v = experiments::validate_experiment(e, vo);
  if (!v.ok()) {
    for (const auto& msg : v.errors()) out << msg << "\n";
    return 1;
  }
  const synth::ModelHandle m = synth::ModelHandle::open(o.model, o.device);
  if (m.info().modality != experiments::modality_name(e.modality))
    throw std::runtime_error(o.model + ": an " + m.info().modality + " model cannot observe the " +
                             experiments::modality_name(e.modality) + " experiment " + o.experiment);
  data::Store store(o.db);
  experiments::SessionRequest r;
  r.participant = o.participant;
  r.seed = o.seed;
  r.max_trials = o.max_trials;
  r.observer = synth::model_record(m.info());
  const experiments::SessionPlan sp = experiments::plan_session(e, r, &store);
  if (sp.action == experiments::SessionAction::refuse) {
    out << sp.message << "\n";
    return 1;
  }
  std::vector<std::string> alts;
  for (const auto& a : sp.plan.alternatives) alts.push_back(a.name);
  if (const auto unknown = unknown_classes(m.info(), alts); !unknown.empty())
    throw std::runtime_error(o.model + " cannot observe " + o.experiment + ": its classes lack " + join(unknown));
  experiments::SessionProvenance pv;
  pv.participant_code = o.code.empty() ? observer_code(o.model) : o.code;
  pv.station = "model observer";
  pv.display_json = nlohmann::json{{"observer", o.model}, {"device", synth::device_name(o.device)}}.dump();
  pv.program_version = METAMERLAB_VERSION;
  pv.observer = r.observer;
  const int64_t sid = experiments::open_session(store, e, sp, pv);
  out << "session " << sid << ": " << sp.plan.trials.size() << " trials, observer " << o.model
      << (sp.action == experiments::SessionAction::resume ? " (resumed)" : "") << "\n";
  const std::string alts_json = nlohmann::json(alts).dump();
  const std::string timing = nlohmann::json{{"observer", o.model}}.dump();
  int answered = 0;
  for (const auto& b : sp.plan.blocks) {
    std::vector<const experiments::PlannedTrial*> todo;
    for (int i = b.first_trial; i < b.first_trial + b.trials; ++i)
      if (!sp.answered.count(i)) todo.push_back(&sp.plan.trials[static_cast<size_t>(i)]);
    if (b.kind == experiments::BlockKind::headphone_check) {
      // Tones for a listener's headphones: a model has none. Recorded unanswered.
      for (const auto* t : todo) {
        data::TrialRecord rec = experiments::planned_record(sid, *t);
        rec.alternatives_json = nlohmann::json({"1", "2", "3"}).dump();
        rec.timing_json = nlohmann::json{{"observer", o.model}, {"skipped", "a model observer takes no headphone check"}}.dump();
        store.add_trial(rec);
        ++answered;
      }
      continue;
    }
    if (todo.empty()) continue;
    std::vector<stimuli::Array> xs;
    for (const auto* t : todo) xs.push_back(load_checked(m, t->stimulus, t->stimulus_sha256, "trial " + std::to_string(t->index)));
    const auto said = answers(m, xs, alts, 32);
    for (size_t i = 0; i < todo.size(); ++i) {
      data::TrialRecord rec = experiments::planned_record(sid, *todo[i]);
      rec.alternatives_json = alts_json;
      rec.response = said[i];
      rec.correct = said[i] == todo[i]->category;
      rec.timing_json = timing;
      store.add_trial(rec);  // each its own transaction, as a person's
      ++answered;
    }
    if (b.kind == experiments::BlockKind::demo && b.trials > 0) {
      const experiments::BlockScore sc = experiments::score_block(b, store.trials_of_session(sid));
      out << "demo block: " << sc.correct << " correct of " << b.trials << " (need " << sc.needed << ")\n";
      if (!sc.passed) {
        store.finish_session(sid, data::SessionStatus::failed_demo);
        out << "session " << sid << " failed_demo: " << answered << " trials answered by " << o.model << "\n";
        return 0;
      }
    }
  }
  store.finish_session(sid, data::SessionStatus::completed);
  out << "session " << sid << " completed: " << answered << " trials answered by " << o.model << "\n";
  return 0;
}

}  // namespace mm::app
