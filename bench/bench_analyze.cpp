// bench/bench_analyze.cpp: `metamerlab analyze` at the paper's scale, timed.
//
//   bench_analyze [--participants 100] [--trials 416] [--permutations 10000] [--db FILE]
//
// Builds a database as people's sessions leave it (untimed): P completed sessions of an
// image experiment with 9 conditions (natural + 2 generating models x 4 layers), 400 main
// trials per session each in one condition (as the paper's 400 references) plus 16 catch
// trials, every trial judged by both models, and every metamer judged by both
// (network-to-network). Then times what analyze does: reading the store into the analysis
// input, and the analysis (proportions, bootstrap intervals, the mixed ANOVA per model,
// the layer x model ANOVA, the layer effect in humans, each with N permutations, the
// network-to-network SEMs and rho). Prints each figure and the total in seconds.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>

#include "analysis/results.h"
#include "app/program/cli.h"
#include "app/program/process.h"
#include "app/results_input.h"
#include "data/store.h"
#include "experiments/plan.h"

namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A plan JSON with the experiment's conditions (what analyze reads of the stored plan).
std::string plan_json(const std::vector<std::string>& conditions, int64_t participant) {
  mm::experiments::Plan p;
  p.experiment_name = "bench";
  p.participant = participant;
  p.conditions = conditions;
  return mm::experiments::plan_to_json(p);
}

}  // namespace

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const mm::app::Command cmd{"", "analyze at the paper's scale: 100 participants x 416 trials, 9 conditions", "",
                             {{"participants", "N", "completed sessions", "100"},
                              {"trials", "N", "main trials per session (plus 16 catch)", "400"},
                              {"permutations", "N", "permutations per test", "10000"},
                              {"db", "FILE", "database to build (default: a fresh one in the temporary folder)", ""}},
                             "", false, {}, "bench_analyze"};
  int participants = 0, trials = 0, permutations = 0;
  std::string db;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    participants = static_cast<int>(a->get_int("participants"));
    trials = static_cast<int>(a->get_int("trials"));
    permutations = static_cast<int>(a->get_int("permutations"));
    db = a->get("db");
    if (participants < 2 || trials < 9 || permutations < 0)
      throw mm::app::UsageError("needs --participants >= 2, --trials >= 9, --permutations >= 0");
  } catch (const mm::app::UsageError& e) {
    std::cerr << "bench_analyze: " << e.what() << "\n";
    return 2;
  }
  const bool temp = db.empty();
  if (temp) db = (fs::temp_directory_path() / ("bench_analyze_" + std::to_string(::getpid()) + ".db")).string();
  try {
    const std::vector<std::string> models = {"zoo:emoji16-standard", "zoo:emoji16-robust"};
    const std::vector<std::string> layers = {"conv1", "stage2", "stage3", "logits"};
    std::vector<std::string> conditions = {"natural"};
    for (const auto& m : models)
      for (const auto& l : layers) conditions.push_back(m.substr(4) + "/" + l);
    const std::vector<std::string> cats = {"airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
                                           "chair", "clock", "dog", "elephant", "fish", "keyboard", "knife", "truck"};
    std::string alts = "[";
    for (size_t i = 0; i < cats.size(); ++i) alts += (i ? ",\"" : "\"") + cats[i] + "\"";
    alts += "]";
    auto t0 = std::chrono::steady_clock::now();
    int64_t rows = 0;
    {
      mm::data::Store store(db);
      std::vector<int64_t> model_ids;
      for (const auto& m : models)
        model_ids.push_back(store.upsert_model({m, "", std::string(64, m.size() % 2 ? 'a' : 'b'), "image", "{}"}));
      std::mt19937_64 rng(1);
      std::uniform_real_distribution<double> u(0, 1);
      for (int p = 1; p <= participants; ++p) {
        mm::data::SessionRecord s;
        s.participant_code = "P" + std::to_string(p);
        s.participant_number = p;
        s.experiment_path = "/bench/exp.toml";
        s.experiment_sha256 = std::string(64, 'e');
        s.experiment_name = "bench";
        s.plan_json = plan_json(conditions, p);
        s.planned_trials = trials + 16;
        const int64_t sid = store.create_session(s);
        std::vector<mm::data::TrialJudgment> js;
        for (int t = 0; t < trials + 16; ++t) {
          mm::data::TrialRecord r;
          r.session_id = sid;
          r.trial_index = t;
          const bool is_catch = t >= trials;
          const size_t c = static_cast<size_t>((t + p) % static_cast<int>(conditions.size()));
          r.block_kind = "main";
          r.phase = is_catch ? "catch" : "main";
          r.condition = r.planned_condition = is_catch ? "catch" : conditions[c];
          r.category = cats[static_cast<size_t>(t) % cats.size()];
          r.stimulus_path = "/bench/" + std::to_string(t) + ".png";
          r.stimulus_sha256 = std::to_string(t);
          if (!is_catch && c > 0) {
            r.is_metamer = true;
            r.model = models[(c - 1) / layers.size()];
            r.layer = layers[(c - 1) % layers.size()];
          }
          r.alternatives_json = alts;
          const double human = is_catch ? 0.95 : c == 0 ? 0.9 : 0.9 - 0.2 * ((c - 1) % 4) * ((c - 1) / 4 == 0 ? 1.0 : 0.3);
          r.correct = u(rng) < human;
          r.response = r.correct ? r.category : "dog";
          r.rt_response_ms = 500 + 400 * u(rng);
          r.timing_json = "{}";
          store.add_trial(r);
          ++rows;
          for (size_t m = 0; m < models.size(); ++m) {
            const bool ok = u(rng) < (is_catch || c == 0 ? 0.95 : (c - 1) / layers.size() == m ? 0.98 : 0.5);
            js.push_back({sid, t, model_ids[m], r.stimulus_sha256, alts, ok ? r.category : "dog", ok});
          }
        }
        store.add_trial_judgments(js);
        store.finish_session(sid, mm::data::SessionStatus::completed);
      }
      std::vector<mm::data::MetamerJudgment> net;
      for (size_t c = 1; c < conditions.size(); ++c)
        for (int ref = 0; ref < 400; ++ref)
          for (size_t m = 0; m < models.size(); ++m) {
            const bool ok = u(rng) < ((c - 1) / layers.size() == m ? 0.98 : 0.8 - 0.15 * ((c - 1) % 4));
            net.push_back({std::string(64, 'e'), conditions[c], models[(c - 1) / layers.size()], layers[(c - 1) % 4],
                           std::to_string(ref), conditions[c] + std::to_string(ref), cats[static_cast<size_t>(ref) % 16],
                           model_ids[m], ok ? "x" : "y", ok});
          }
      store.add_metamer_judgments(net);
    }
    std::printf("bench_analyze: database of %d sessions x %d trials (%lld rows, 2 judging models) built in %.1f s "
                "(untimed)\n",
                participants, trials + 16, static_cast<long long>(rows), since(t0));
    mm::data::Store store(db);
    t0 = std::chrono::steady_clock::now();
    const auto inputs = mm::app::read_results(store, "");
    const double read_s = since(t0);
    mm::analysis::AnalysisOptions o;
    o.permutations = permutations;
    o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    t0 = std::chrono::steady_clock::now();
    const auto r = mm::analysis::analyze(inputs.at(0), o);
    const double analyze_s = since(t0);
    int tests = 0;
    for (const auto& a : r.anovas) tests += static_cast<int>(a.effects.size());
    std::printf("  read the store into the analysis input: %.2f s\n", read_s);
    std::printf("  analysis (%d permutation tests x %d permutations, %d threads; bootstraps): %.2f s\n", tests,
                permutations, o.threads, analyze_s);
    std::printf("  total: %.2f s for %d participants x %d trials, %zu conditions\n", read_s + analyze_s, r.included,
                trials + 16, r.conditions.size());
  } catch (const std::exception& e) {
    std::cerr << "bench_analyze: " << e.what() << "\n";
    if (temp) fs::remove(db);
    return 1;
  }
  if (temp) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db + suffix, ec);
  }
  return 0;
}
