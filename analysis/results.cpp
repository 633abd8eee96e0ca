// analysis/results.cpp: the comparison of people with models (analysis/results.h).
//
// Sections
//   [SECTION] Helpers        names, cell statistics
//   [SECTION] Participants   proportions per participant x condition, catch exclusion
//   [SECTION] Conditions     group means, fell-back counts, response times
//   [SECTION] ANOVAs         mixed observer x layer, layer x model, layer in humans
//   [SECTION] Network        network-to-network recognition and its rho with people
//   [SECTION] Text           the Markdown report
//   [SECTION] JSON           the JSON report
//   [SECTION] Figures        the paper's three figures
#include "analysis/results.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "analysis/figures.h"
#include "analysis/stats.h"

namespace fs = std::filesystem;

namespace mm::analysis {
namespace {

// [SECTION] Helpers -----------------------------------------------------------------------
// "zoo:emoji16-standard" -> "emoji16-standard"; a path -> its file stem.
std::string short_name(const std::string& spec) {
  if (spec.rfind("zoo:", 0) == 0) return spec.substr(4);
  return fs::path(spec).stem().string();
}

bool finite(double x) { return std::isfinite(x); }

// Mean, SEM and (with resamples > 0) a seeded bootstrap 95% interval of `xs`.
CellStat cell(const std::vector<double>& xs, int resamples, uint64_t seed) {
  CellStat c;
  c.n = static_cast<int>(xs.size());
  if (xs.empty()) return c;
  c.mean = mean(xs);
  c.sem = xs.size() >= 2 ? sem(xs) : kNaN;
  if (resamples > 0 && xs.size() >= 2) {
    const Interval ci = bootstrap_mean_ci(xs, resamples, seed);
    c.ci_low = ci.low;
    c.ci_high = ci.high;
  }
  return c;
}

// A stable seed per name, so each cell's bootstrap does not depend on the others'.
uint64_t seed_for(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return draw_seed(seed, h, 0);
}

// Layers of a generating model in the experiment's order.
std::vector<const ResultCondition*> model_conditions(const ResultInput& in, const std::string& model) {
  std::vector<const ResultCondition*> out;
  for (const auto& c : in.conditions)
    if (c.model == model) out.push_back(&c);
  return out;
}

std::vector<std::string> generating_models(const ResultInput& in) {
  std::vector<std::string> out;
  for (const auto& c : in.conditions)
    if (!c.model.empty() && std::find(out.begin(), out.end(), c.model) == out.end()) out.push_back(c.model);
  return out;
}

// [SECTION] Participants ------------------------------------------------------------------
ParticipantRow participant_row(const ResultSession& s, const std::vector<std::string>& models) {
  ParticipantRow row;
  row.session_id = s.id;
  row.participant_number = s.participant_number;
  std::map<std::string, int> correct;
  std::map<std::string, std::map<std::string, std::pair<int, int>>> judged;  // model -> condition -> (k, n)
  int catch_correct = 0;
  for (const auto& t : s.trials) {
    if (t.phase == "catch") {
      ++row.catch_trials;
      catch_correct += t.correct;
      continue;
    }
    if (t.phase != "main") continue;  // practice, demo and headphone checks are kept apart
    ++row.trials[t.condition];
    correct[t.condition] += t.correct;
    for (const auto& m : models) {
      auto it = t.judged.find(m);
      if (it == t.judged.end()) continue;
      auto& kn = judged[m][t.condition];
      kn.first += it->second;
      ++kn.second;
    }
  }
  for (const auto& [c, n] : row.trials) row.human[c] = static_cast<double>(correct[c]) / n;
  for (const auto& [m, by] : judged)
    for (const auto& [c, kn] : by) row.models[m][c] = static_cast<double>(kn.first) / kn.second;
  if (row.catch_trials > 0) row.catch_accuracy = static_cast<double>(catch_correct) / row.catch_trials;
  return row;
}

// [SECTION] Conditions --------------------------------------------------------------------
std::vector<ConditionSummary> summarize_conditions(const ResultInput& in, const AnalysisReport& r,
                                                   const std::vector<const ResultSession*>& included) {
  std::vector<ConditionSummary> out;
  for (const auto& c : in.conditions) {
    ConditionSummary s;
    s.condition = c;
    std::vector<double> human;
    std::map<std::string, std::vector<double>> models;
    for (const auto& p : r.participants) {
      if (p.excluded) continue;
      if (auto it = p.human.find(c.name); it != p.human.end()) human.push_back(it->second);
      for (const auto& m : r.judging_models) {
        auto mi = p.models.find(m);
        if (mi == p.models.end()) continue;
        if (auto it = mi->second.find(c.name); it != mi->second.end()) models[m].push_back(it->second);
      }
    }
    s.human = cell(human, r.options.bootstrap, seed_for(r.options.seed, "human|" + c.name));
    for (const auto& [m, xs] : models) s.models[m] = cell(xs, r.options.bootstrap, seed_for(r.options.seed, m + "|" + c.name));
    std::vector<double> rts;
    for (const ResultSession* sess : included)
      for (const auto& t : sess->trials) {
        if (t.phase != "main") continue;
        if (t.condition == c.name) {
          ++s.trials;
          if (t.rt_ms >= 0) rts.push_back(t.rt_ms);
        }
        if (t.fell_back && t.planned_condition == c.name) ++s.fell_back;
      }
    if (!rts.empty()) s.median_rt_ms = median(rts);
    out.push_back(s);
  }
  return out;
}

// [SECTION] ANOVAs ------------------------------------------------------------------------
EffectReport effect(const std::string& name, const AnovaEffect& e) {
  EffectReport r;
  r.effect = name;
  r.f = e.f;
  r.partial_eta2 = e.partial_eta2;
  r.p = e.p;
  r.df = e.df;
  r.df_error = e.df_error;
  r.draws = e.draws;
  return r;
}

PermutationOptions permutation_options(const AnalysisOptions& o, const std::string& what) {
  PermutationOptions p;
  p.draws = o.permutations;
  p.seed = seed_for(o.seed, what);
  p.threads = std::max(1, o.threads);
  p.cancel = o.cancel;
  return p;
}

// Participants with a value in every one of `conditions` (humans, and the model when given).
std::vector<const ParticipantRow*> complete_cases(const AnalysisReport& r, const std::vector<std::string>& conditions,
                                                  const std::string& model) {
  std::vector<const ParticipantRow*> out;
  for (const auto& p : r.participants) {
    if (p.excluded) continue;
    bool ok = true;
    for (const auto& c : conditions) {
      ok = ok && p.human.count(c);
      if (!model.empty()) ok = ok && p.models.count(model) && p.models.at(model).count(c);
    }
    if (ok) out.push_back(&p);
  }
  return out;
}

void run_anovas(const ResultInput& in, AnalysisReport& r) {
  const auto models = generating_models(in);
  std::map<std::string, std::vector<std::string>> layers_of;
  for (const auto& m : models) {
    const auto conds = model_conditions(in, m);
    std::vector<std::string> names, layers;
    for (const auto* c : conds) names.push_back(c->name), layers.push_back(c->layer);
    layers_of[m] = layers;
    const std::string label = short_name(m);
    // Human vs the generating model: mixed ANOVA, observer (between) x layer (within).
    AnovaReport mixed;
    mixed.kind = "mixed";
    mixed.title = "humans vs " + label + " (observer x layer, " + label + "'s metamers)";
    mixed.layers = layers;
    const auto rows = complete_cases(r, names, m);
    mixed.participants = static_cast<int>(rows.size());
    if (names.size() < 2 || rows.size() < 2) {
      mixed.note = "needs at least 2 layers and 2 participants with every layer judged by " + label +
                   " (metamerlab judge); have " + std::to_string(names.size()) + " layers, " +
                   std::to_string(rows.size()) + " participants";
    } else {
      Matrix data(2 * rows.size(), names.size());
      std::vector<int> group(2 * rows.size());
      for (size_t i = 0; i < rows.size(); ++i)
        for (size_t l = 0; l < names.size(); ++l) {
          data(i, l) = rows[i]->human.at(names[l]);
          data(rows.size() + i, l) = rows[i]->models.at(m).at(names[l]);
          group[i] = 0;
          group[rows.size() + i] = 1;
        }
      const MixedAnovaResult a = mixed_anova(data, group, permutation_options(r.options, "mixed|" + m));
      mixed.effects = {effect("observer", a.observer), effect("layer", a.layer), effect("observer x layer", a.interaction)};
    }
    r.anovas.push_back(mixed);
    // The layer effect in humans: one-way repeated measures over the model's layers.
    AnovaReport one;
    one.kind = "rm1";
    one.title = "layer effect in humans (" + label + "'s metamers)";
    one.layers = layers;
    const auto hrows = complete_cases(r, names, "");
    one.participants = static_cast<int>(hrows.size());
    if (names.size() < 2 || hrows.size() < 2) {
      one.note = "needs at least 2 layers and 2 participants with every layer";
    } else {
      Matrix data(hrows.size(), names.size());
      for (size_t i = 0; i < hrows.size(); ++i)
        for (size_t l = 0; l < names.size(); ++l) data(i, l) = hrows[i]->human.at(names[l]);
      one.effects = {effect("layer", rm_anova_one_way(data, permutation_options(r.options, "rm1|" + m)))};
    }
    r.anovas.push_back(one);
  }
  // Human recognition between two models with the same layers: layer x model, repeated.
  for (size_t a = 0; a < models.size(); ++a)
    for (size_t b = a + 1; b < models.size(); ++b) {
      if (layers_of[models[a]] != layers_of[models[b]]) continue;
      const auto& layers = layers_of[models[a]];
      std::vector<std::string> na, nb, all;
      for (const auto* c : model_conditions(in, models[a])) na.push_back(c->name);
      for (const auto* c : model_conditions(in, models[b])) nb.push_back(c->name);
      all = na;
      all.insert(all.end(), nb.begin(), nb.end());
      AnovaReport two;
      two.kind = "rm2";
      two.title = "humans: " + short_name(models[a]) + " vs " + short_name(models[b]) + " (layer x model)";
      two.layers = layers;
      const auto rows = complete_cases(r, all, "");
      two.participants = static_cast<int>(rows.size());
      if (layers.size() < 2 || rows.size() < 2) {
        two.note = "needs at least 2 layers and 2 participants with every condition of both models";
      } else {
        Array3 data(rows.size(), layers.size(), 2);
        for (size_t i = 0; i < rows.size(); ++i)
          for (size_t l = 0; l < layers.size(); ++l) {
            data(i, l, 0) = rows[i]->human.at(na[l]);
            data(i, l, 1) = rows[i]->human.at(nb[l]);
          }
        const TwoWayRmResult t =
            rm_anova_two_way(data, permutation_options(r.options, "rm2|" + models[a] + "|" + models[b]));
        two.effects = {effect("layer", t.layer), effect("model", t.model), effect("layer x model", t.interaction)};
      }
      r.anovas.push_back(two);
    }
}

// [SECTION] Network -----------------------------------------------------------------------
void network_to_network(const ResultInput& in, AnalysisReport& r) {
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::vector<int>>> by;  // (G, L) -> J -> correct
  for (const auto& j : in.network) by[{j.generating_model, j.layer}][j.judging_model].push_back(j.correct);
  std::vector<double> xs, ys;
  for (const auto& c : in.conditions) {
    if (c.model.empty()) continue;
    auto it = by.find({c.model, c.layer});
    if (it == by.end()) continue;
    NetworkCell cellr;
    cellr.condition = c.name;
    cellr.generating_model = c.model;
    cellr.layer = c.layer;
    std::vector<double> others;
    for (const auto& [judge, correct] : it->second) {
      CellStat s;
      s.n = static_cast<int>(correct.size());
      double k = 0;
      for (int x : correct) k += x;
      s.mean = k / static_cast<double>(correct.size());
      s.sem = bootstrap_sem_proportion(correct, r.options.bootstrap, seed_for(r.options.seed, "n2n|" + c.name + "|" + judge));
      cellr.by_model[judge] = s;
      if (judge != c.model) others.push_back(s.mean);
    }
    if (!others.empty()) {
      const MeanSem ms = mean_sem(others);
      cellr.others.n = static_cast<int>(ms.n);
      cellr.others.mean = ms.mean;
      cellr.others.sem = ms.sem;
    }
    for (const auto& cs : r.conditions)
      if (cs.condition.name == c.name) cellr.human = cs.human.mean;
    // One point per (model, layer), input layers skipped (the paper's rule).
    if (c.layer != "input" && finite(cellr.human) && finite(cellr.others.mean)) {
      xs.push_back(cellr.human);
      ys.push_back(cellr.others.mean);
    }
    r.network.push_back(cellr);
  }
  r.network_points = static_cast<int>(xs.size());
  if (xs.size() >= 3) {
    r.network_spearman = spearman(xs, ys);
  } else if (!r.network.empty()) {
    r.notes.push_back("human vs network-to-network rho needs at least 3 model x layer points with both; have " +
                      std::to_string(xs.size()));
  }
}

// [SECTION] Text --------------------------------------------------------------------------
std::string num(double x, int digits = 3) {
  if (!finite(x)) return std::isinf(x) ? (x > 0 ? "inf" : "-inf") : "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, x);
  return b;
}

std::string p_value(double p, int draws) {
  if (!finite(p)) return "-";
  if (draws > 0 && p <= 1.0 / draws + 1e-15) return "< " + num(1.0 / draws, 4);
  return num(p, 4);
}

std::string mean_sem_text(const CellStat& c) {
  if (c.n == 0) return "-";
  return num(c.mean) + (finite(c.sem) ? " ± " + num(c.sem) : "");
}

}  // namespace

// [SECTION] Analysis ----------------------------------------------------------------------
AnalysisReport analyze(const ResultInput& in, const AnalysisOptions& options) {
  if (options.permutations < 0) throw std::invalid_argument("--permutations must be 0 or more");
  if (options.bootstrap < 0) throw std::invalid_argument("bootstrap resamples must be 0 or more");
  if (options.exclude_catch_below > 1) throw std::invalid_argument("--exclude-catch-below must be at most 1");
  AnalysisReport r;
  r.experiment = in.experiment;
  r.experiment_sha256 = in.experiment_sha256;
  r.options = options;
  r.chance = in.alternatives > 0 ? 1.0 / in.alternatives : kNaN;
  r.generating_models = generating_models(in);
  r.judging_models = in.judging_models;
  std::vector<const ResultSession*> included;
  for (const auto& s : in.sessions) {
    ++r.sessions;
    if (!s.observer.empty()) {
      ++r.observers;
      if (s.status == "completed") {
        r.observer_rows.push_back(participant_row(s, in.judging_models));
        r.observer_names.push_back(s.observer);
      }
      continue;
    }
    ++r.people;
    if (s.status == "completed") ++r.completed;
    else if (s.status == "aborted") ++r.aborted;
    else if (s.status == "failed_demo") ++r.failed_demo;
    else ++r.running;
    if (s.status != "completed") continue;  // only finished sessions enter the statistics
    ParticipantRow row = participant_row(s, in.judging_models);
    if (options.exclude_catch_below >= 0 && row.catch_trials > 0 && row.catch_accuracy < options.exclude_catch_below) {
      row.excluded = true;
      row.exclusion = "catch accuracy " + num(row.catch_accuracy, 2) + " < " + num(options.exclude_catch_below, 2);
      ++r.excluded;
    } else {
      ++r.included;
      included.push_back(&s);
    }
    r.participants.push_back(row);
  }
  if (r.failed_demo + r.aborted + r.running > 0)
    r.notes.push_back(std::to_string(r.failed_demo) + " session(s) ended at the demo criterion, " +
                      std::to_string(r.aborted) + " aborted, " + std::to_string(r.running) +
                      " unfinished: counted, not analysed");
  r.conditions = summarize_conditions(in, r, included);
  run_anovas(in, r);
  network_to_network(in, r);
  return r;
}

std::string report_text(const AnalysisReport& r) {
  std::ostringstream o;
  o << "# " << r.experiment << ": people and models\n\n";
  o << "Sessions: " << r.people << " of people (" << r.completed << " completed, " << r.failed_demo
    << " failed the demo criterion, " << r.aborted << " aborted, " << r.running << " unfinished), " << r.observers
    << " of model observers. Analysed: " << r.included << " participant(s)";
  if (r.excluded) o << ", " << r.excluded << " excluded by catch-trial accuracy";
  o << ". Chance " << num(r.chance) << ". Permutations " << r.options.permutations << ", seed " << r.options.seed
    << ".\n\n";

  o << "## Proportion correct by condition shown\n\n";
  o << "Mean ± SEM over participants [bootstrap 95% interval]; models judged the same trials.\n\n";
  o << "| condition | humans | 95% interval | n | trials | fell back | median RT (ms)";
  for (const auto& m : r.judging_models) o << " | " << short_name(m);
  o << " |\n|---|---|---|---|---|---|---";
  for (size_t i = 0; i < r.judging_models.size(); ++i) o << "|---";
  o << "|\n";
  for (const auto& c : r.conditions) {
    o << "| " << c.condition.name << " | " << mean_sem_text(c.human) << " | "
      << (finite(c.human.ci_low) ? "[" + num(c.human.ci_low) + ", " + num(c.human.ci_high) + "]" : "-") << " | "
      << c.human.n << " | " << c.trials << " | " << c.fell_back << " | " << num(c.median_rt_ms, 0);
    for (const auto& m : r.judging_models) {
      auto it = c.models.find(m);
      o << " | " << (it == c.models.end() ? "-" : mean_sem_text(it->second));
    }
    o << " |\n";
  }
  o << "\n## Tests (permutation p-values)\n\n";
  o << "| test | effect | F | df | partial η² | p |\n|---|---|---|---|---|---|\n";
  for (const auto& a : r.anovas) {
    if (!a.note.empty()) {
      o << "| " << a.title << " | (not run: " << a.note << ") | | | | |\n";
      continue;
    }
    for (const auto& e : a.effects)
      o << "| " << a.title << " (n = " << a.participants << ") | " << e.effect << " | " << num(e.f, 2) << " | " << e.df
        << ", " << e.df_error << " | " << num(e.partial_eta2) << " | " << p_value(e.p, e.draws) << " |\n";
  }
  if (!r.network.empty()) {
    o << "\n## Network-to-network\n\n";
    o << "Each model's metamers judged by the other models: proportion correct ± bootstrap SEM over stimuli.\n\n";
    o << "| metamers of | layer | humans | other models (mean ± SEM)";
    std::vector<std::string> judges;
    for (const auto& c : r.network)
      for (const auto& [j, s] : c.by_model)
        if (std::find(judges.begin(), judges.end(), j) == judges.end()) judges.push_back(j);
    for (const auto& j : judges) o << " | " << short_name(j);
    o << " |\n|---|---|---|---";
    for (size_t i = 0; i < judges.size(); ++i) o << "|---";
    o << "|\n";
    for (const auto& c : r.network) {
      o << "| " << short_name(c.generating_model) << " | " << c.layer << " | " << num(c.human) << " | "
        << mean_sem_text(c.others);
      for (const auto& j : judges) {
        auto it = c.by_model.find(j);
        o << " | " << (it == c.by_model.end() ? "-" : mean_sem_text(it->second) + (j == c.generating_model ? " (own)" : ""));
      }
      o << " |\n";
    }
    o << "\nSpearman ρ between human recognition and the other models' recognition over " << r.network_points
      << " model x layer points: " << num(r.network_spearman) << "\n";
  }
  o << "\n## Participants\n\n| participant | session | catch | excluded";
  std::vector<std::string> conds;
  for (const auto& c : r.conditions) conds.push_back(c.condition.name);
  for (const auto& c : conds) o << " | " << c;
  o << " |\n|---|---|---|---";
  for (size_t i = 0; i < conds.size(); ++i) o << "|---";
  o << "|\n";
  for (const auto& p : r.participants) {
    o << "| sub-" << p.participant_number << " | " << p.session_id << " | "
      << (p.catch_trials ? num(p.catch_accuracy, 2) + " (" + std::to_string(p.catch_trials) + ")" : "-") << " | "
      << (p.excluded ? p.exclusion : "no");
    for (const auto& c : conds) o << " | " << (p.human.count(c) ? num(p.human.at(c)) : "-");
    o << " |\n";
  }
  if (!r.observer_rows.empty()) {
    o << "\n## Model observers (kept apart from people)\n\n| observer | participant | session";
    for (const auto& c : conds) o << " | " << c;
    o << " |\n|---|---|---";
    for (size_t i = 0; i < conds.size(); ++i) o << "|---";
    o << "|\n";
    for (size_t i = 0; i < r.observer_rows.size(); ++i) {
      const auto& p = r.observer_rows[i];
      o << "| " << short_name(r.observer_names[i]) << " | " << p.participant_number << " | " << p.session_id;
      for (const auto& c : conds) o << " | " << (p.human.count(c) ? num(p.human.at(c)) : "-");
      o << " |\n";
    }
  }
  if (!r.notes.empty()) {
    o << "\nNotes:\n";
    for (const auto& n : r.notes) o << "- " << n << "\n";
  }
  return o.str();
}

std::string report_json(const AnalysisReport& r) {
  using json = nlohmann::json;
  auto jnum = [](double x) -> json { return finite(x) ? json(x) : json(nullptr); };
  auto jcell = [&](const CellStat& c) {
    return json{{"n", c.n}, {"mean", jnum(c.mean)}, {"sem", jnum(c.sem)}, {"ci_low", jnum(c.ci_low)}, {"ci_high", jnum(c.ci_high)}};
  };
  json j;
  j["experiment"] = r.experiment;
  j["experiment_sha256"] = r.experiment_sha256;
  j["chance"] = jnum(r.chance);
  j["options"] = {{"permutations", r.options.permutations}, {"seed", r.options.seed},
                  {"exclude_catch_below", r.options.exclude_catch_below < 0 ? json(nullptr) : json(r.options.exclude_catch_below)},
                  {"bootstrap", r.options.bootstrap}};
  j["sessions"] = {{"total", r.sessions}, {"people", r.people}, {"observers", r.observers}, {"completed", r.completed},
                   {"aborted", r.aborted}, {"failed_demo", r.failed_demo}, {"running", r.running},
                   {"included", r.included}, {"excluded", r.excluded}};
  j["generating_models"] = r.generating_models;
  j["judging_models"] = r.judging_models;
  auto rows = [&](const std::vector<ParticipantRow>& ps) {
    json a = json::array();
    for (const auto& p : ps) {
      json x = {{"session", p.session_id}, {"participant", "sub-" + std::to_string(p.participant_number)},
                {"participant_number", p.participant_number}, {"catch_trials", p.catch_trials},
                {"catch_accuracy", jnum(p.catch_accuracy)}, {"excluded", p.excluded}, {"exclusion", p.exclusion}};
      for (const auto& [c, v] : p.human) x["proportion_correct"][c] = v;
      for (const auto& [c, n] : p.trials) x["trials"][c] = n;
      for (const auto& [m, by] : p.models)
        for (const auto& [c, v] : by) x["models"][m][c] = v;
      a.push_back(x);
    }
    return a;
  };
  j["participants"] = rows(r.participants);
  j["observers"] = rows(r.observer_rows);
  for (size_t i = 0; i < r.observer_names.size(); ++i) j["observers"][i]["observer"] = r.observer_names[i];
  json conds = json::array();
  for (const auto& c : r.conditions) {
    json x = {{"condition", c.condition.name}, {"model", c.condition.model}, {"layer", c.condition.layer},
              {"human", jcell(c.human)}, {"trials", c.trials}, {"fell_back", c.fell_back},
              {"median_rt_ms", jnum(c.median_rt_ms)}};
    for (const auto& [m, s] : c.models) x["models"][m] = jcell(s);
    conds.push_back(x);
  }
  j["conditions"] = conds;
  json tests = json::array();
  for (const auto& a : r.anovas) {
    json x = {{"kind", a.kind}, {"title", a.title}, {"layers", a.layers}, {"participants", a.participants}, {"note", a.note}};
    x["effects"] = json::array();
    for (const auto& e : a.effects)
      x["effects"].push_back({{"effect", e.effect}, {"F", jnum(e.f)}, {"df", e.df}, {"df_error", e.df_error},
                              {"partial_eta2", jnum(e.partial_eta2)}, {"p", jnum(e.p)}, {"permutations", e.draws}});
    tests.push_back(x);
  }
  j["tests"] = tests;
  json net = json::array();
  for (const auto& c : r.network) {
    json x = {{"generating_model", c.generating_model}, {"layer", c.layer}, {"human", jnum(c.human)}, {"others", jcell(c.others)}};
    for (const auto& [m, s] : c.by_model) x["by_model"][m] = jcell(s);
    net.push_back(x);
  }
  j["network_to_network"] = net;
  j["network_spearman"] = jnum(r.network_spearman);
  j["network_points"] = r.network_points;
  j["notes"] = r.notes;
  return j.dump(2) + "\n";
}

// [SECTION] Figures -----------------------------------------------------------------------
std::vector<std::string> write_report_figures(const AnalysisReport& r, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir + ": cannot create the figures folder (" + ec.message() + "); choose another folder (--out)");
  std::vector<std::string> files;
  const std::vector<std::string> exts = {".png", ".svg"};
  auto cond_of = [&](const std::string& name) -> const ConditionSummary* {
    for (const auto& c : r.conditions)
      if (c.condition.name == name) return &c;
    return nullptr;
  };
  // 1. Proportion correct vs layer: humans beside each generating model, one panel per model.
  std::vector<Panel> panels;
  for (const auto& m : r.generating_models) {
    Panel p;
    p.title = short_name(m);
    p.chance = r.chance;
    std::vector<std::string> names = {"natural"};
    p.x_labels = {"natural"};
    for (const auto& c : r.conditions)
      if (c.condition.model == m) names.push_back(c.condition.name), p.x_labels.push_back(c.condition.layer);
    Series humans, model;
    humans.label = "Humans";
    humans.color = Color{0.13, 0.13, 0.13};
    humans.z = 2;
    model.label = "generating model";
    model.marker = Marker::square;
    model.color = palette_color(1);
    for (const auto& n : names) {
      const ConditionSummary* c = cond_of(n);
      humans.y.push_back(c ? c->human.mean : kNaN);
      humans.err.push_back(c && finite(c->human.sem) ? c->human.sem : 0);
      const CellStat* ms = nullptr;
      if (c)
        if (auto it = c->models.find(m); it != c->models.end()) ms = &it->second;
      model.y.push_back(ms ? ms->mean : kNaN);
      model.err.push_back(ms && finite(ms->sem) ? ms->sem : 0);
    }
    // Only series with a value (a network-only study, e.g. reproduce without sessions, has
    // no human and no per-participant model values here).
    for (const Series* x : {&model, &humans})
      if (std::any_of(x->y.begin(), x->y.end(), [](double v) { return finite(v); })) p.series.push_back(*x);
    if (!p.series.empty()) panels.push_back(p);
  }
  if (!panels.empty()) {
    LinePanelsOptions o;
    o.title = r.experiment + ": recognition of model metamers";
    o.x_label = "Metamer layer";
    o.columns = std::min<int>(4, static_cast<int>(panels.size()));
    for (const auto& e : exts) {
      write_line_panels(dir + "/proportion_correct" + e, panels, o);
      files.push_back(dir + "/proportion_correct" + e);
    }
  }
  // 2. Network-to-network recognition vs layer.
  if (!r.network.empty()) {
    std::vector<Panel> np;
    for (const auto& m : r.generating_models) {
      Panel p;
      p.title = short_name(m) + "'s metamers";
      p.chance = r.chance;
      std::vector<const NetworkCell*> cells;
      for (const auto& c : r.network)
        if (c.generating_model == m) cells.push_back(&c), p.x_labels.push_back(c.layer);
      if (cells.empty()) continue;
      std::vector<std::string> judges;
      for (const auto* c : cells)
        for (const auto& [j, s] : c->by_model)
          if (std::find(judges.begin(), judges.end(), j) == judges.end()) judges.push_back(j);
      for (size_t k = 0; k < judges.size(); ++k) {
        Series s;
        s.label = short_name(judges[k]) + (judges[k] == m ? " (own)" : "");
        s.color = palette_color(k + 1);
        s.dashed = judges[k] == m;
        s.marker = Marker::none;
        s.line_width = 1.2;
        s.opacity = 0.7;
        for (const auto* c : cells) {
          auto it = c->by_model.find(judges[k]);
          s.y.push_back(it == c->by_model.end() ? kNaN : it->second.mean);
        }
        p.series.push_back(s);
      }
      Series others;
      others.label = "other models (mean)";
      others.color = Color{0.13, 0.13, 0.13};
      others.z = 2;
      for (const auto* c : cells) {
        others.y.push_back(c->others.mean);
        others.err.push_back(finite(c->others.sem) ? c->others.sem : 0);
      }
      p.series.push_back(others);
      np.push_back(p);
    }
    if (!np.empty()) {
      LinePanelsOptions o;
      o.title = r.experiment + ": network-to-network recognition";
      o.x_label = "Metamer layer";
      o.columns = std::min<int>(4, static_cast<int>(np.size()));
      for (const auto& e : exts) {
        write_line_panels(dir + "/network_to_network" + e, np, o);
        files.push_back(dir + "/network_to_network" + e);
      }
    }
    // 3. Human vs network-to-network recognition.
    std::vector<ScatterPoint> pts;
    for (const auto& c : r.network) {
      if (c.layer == "input" || !finite(c.human) || !finite(c.others.mean)) continue;
      ScatterPoint sp;
      sp.x = c.human;
      sp.y = c.others.mean;
      if (const ConditionSummary* cs = cond_of(c.condition))
        sp.x_err = finite(cs->human.sem) ? cs->human.sem : 0;
      sp.y_err = finite(c.others.sem) ? c.others.sem : 0;
      sp.group = short_name(c.generating_model);
      sp.label = c.layer;
      pts.push_back(sp);
    }
    if (!pts.empty()) {
      ScatterOptions o;
      o.title = r.experiment + ": people vs other models";
      o.chance = r.chance;
      o.point_labels = pts.size() <= 12;
      for (const auto& e : exts) {
        write_scatter(dir + "/human_vs_network" + e, pts, o);
        files.push_back(dir + "/human_vs_network" + e);
      }
    }
  }
  return files;
}

}  // namespace mm::analysis
