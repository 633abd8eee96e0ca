// app/program/compare_commands.cpp: the commands that compare people with models: judge
// (models answer the trials people saw), analyze (the paper's statistics and figures) and
// export (CSV, BIDS, JSON lines). The work is in app/program/judging.h, the analysis
// module (analysis/results.h, analysis/export.h) and the store's reads
// (app/results_input.h).
//
// Sections
//   [SECTION] Handlers    judge, analyze, export
//   [SECTION] Table       compare_commands
#include <filesystem>
#include <iostream>
#include <thread>

#include "analysis/export.h"
#include "analysis/results.h"
#include "app/program/judging.h"
#include "app/program/program.h"
#include "app/results_input.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app {
namespace {

// [SECTION] Handlers ----------------------------------------------------------------------
void need_database(const std::string& db) {
  std::error_code ec;
  if (!fs::is_regular_file(db, ec))
    throw std::runtime_error(db + ": no such database; pass the --db the sessions were recorded in");
}

int cmd_judge(const Args& a) {
  JudgeOptions o;
  o.db = a.get("db");
  o.models = a.list("model");
  for (const auto& s : a.list("session")) {
    try {
      size_t pos = 0;
      const long long id = std::stoll(s, &pos);
      if (pos != s.size() || id < 1) throw std::invalid_argument(s);
      o.sessions.push_back(id);
    } catch (const std::exception&) {
      throw UsageError("judge: --session needs session ids (1, 2, ...), not \"" + s + "\"");
    }
  }
  if (a.flag("all") && !o.sessions.empty()) throw UsageError("judge: give --session ID ... or --all, not both");
  o.network = !a.flag("no-network");
  o.batch = static_cast<int>(positive(a, "batch"));
  o.device = a.get("device") == "cuda" ? synth::Device::cuda : synth::Device::cpu;
  judge_sessions(o, std::cout);
  return 0;
}

// The catch-trial exclusion: --exclude-catch-below, else the experiment file's [analysis]
// exclude_catch_below when the file is at hand, else none.
double catch_threshold(const Args& a, data::Store& store, const analysis::ResultInput& in) {
  if (a.has("exclude-catch-below")) {
    const double v = a.get_double("exclude-catch-below");
    if (!(v >= 0 && v <= 1)) throw UsageError("analyze: --exclude-catch-below must be a proportion between 0 and 1");
    return v;
  }
  return file_catch_threshold(store, in);
}

int cmd_analyze(const Args& a) {
  const std::string db = a.get("db");
  need_database(db);
  data::Store store(db);
  const auto inputs = read_results(store, a.get("experiment"));
  analysis::AnalysisOptions o;
  o.permutations = static_cast<int>(positive(a, "permutations", 0));
  o.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string out_dir = a.get("out");
  std::vector<std::string> json_reports;
  for (const auto& in : inputs) {
    analysis::AnalysisOptions oi = o;
    oi.exclude_catch_below = catch_threshold(a, store, in);
    const analysis::AnalysisReport r = analysis::analyze(in, oi);
    const std::string text = analysis::report_text(r), js = analysis::report_json(r);
    if (a.flag("json")) json_reports.push_back(js);
    else std::cout << text << "\n";
    if (!out_dir.empty()) {
      const std::string dir = inputs.size() == 1 ? out_dir : (fs::path(out_dir) / r.experiment).string();
      const auto files = write_report_folder(r, dir, text, js);
      if (!a.flag("json"))
        std::cout << "analyze: wrote " << dir << "/report.md, report.json and " << files.size() - 2 << " figure files\n";
    }
  }
  if (a.flag("json")) {
    std::cout << (json_reports.size() == 1 ? json_reports[0] : "[\n");
    if (json_reports.size() > 1)
      for (size_t i = 0; i < json_reports.size(); ++i) std::cout << json_reports[i] << (i + 1 < json_reports.size() ? ",\n" : "]\n");
  }
  return 0;
}

int cmd_export(const Args& a) {
  const std::string db = a.get("db");
  need_database(db);
  analysis::ExportOptions o;
  const std::string f = a.get("format");
  o.format = f == "bids" ? analysis::ExportFormat::bids : f == "jsonl" ? analysis::ExportFormat::jsonl : analysis::ExportFormat::csv;
  o.out_dir = a.get("out");
  o.with_codes = a.flag("with-codes");
  o.with_stimuli = a.flag("with-stimuli");
  o.force = a.flag("force");
  data::Store store(db);
  const analysis::ExportData d = read_export(store, a.get("experiment"));
  analysis::ExportSummary s;
  try {
    s = analysis::write_export(d, o);
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    if (m.rfind("no sessions", 0) == 0) throw std::runtime_error(db + ": " + m);
    throw;
  }
  std::cout << "export: " << s.trials << " trials of " << s.sessions << " session(s) from " << db << " as " << f << " in "
            << o.out_dir << " (" << s.files.size() << " files)\n";
  return 0;
}

}  // namespace

// [SECTION] Table -------------------------------------------------------------------------
std::vector<CommandEntry> compare_commands() {
  const Option db{"db", "FILE", "database with the sessions", "metamerlab.db"};
  return {
      {{"judge",
        "models answer what people saw: each trial's stimulus, among its alternatives; and every metamer",
        "For each person's session (or --session ID ...), each model (the generating models of the\n"
        "experiment's conditions, the [analysis] judges of its file, and --model) classifies exactly\n"
        "the stimulus each trial showed, restricted to that trial's alternatives (the best-ranked one),\n"
        "and every metamer of the experiment's conditions (network-to-network). Stored per trial and\n"
        "model (spec, SHA-256); running it again adds only what is missing.",
        {db,
         {"model", "SPEC", "another judging model (zoo:NAME or a model file)", "", false, true},
         {"session", "ID", "judge these sessions (default: every person's)", "", false, true},
         {"all", "", "every person's session (the default)"},
         {"no-network", "", "skip judging every metamer of the conditions (network-to-network)"},
         {"batch", "B", "stimuli per forward pass", "32"}}},
       cmd_judge, EngineUse::device},
      {{"analyze",
        "the paper's statistics: people vs the generating and other models, tests, network-to-network",
        "For main-block trials: proportion correct per participant x condition shown (fell-back trials\n"
        "count as natural), group means with SEM and a bootstrap 95% interval, the judging models on the\n"
        "same trials, the mixed observer x layer ANOVA per generating model, the layer x model\n"
        "repeated-measures ANOVA between models with the same layers, the layer effect in humans\n"
        "(permutation p-values), network-to-network recognition (bootstrap SEM over stimuli) and its\n"
        "Spearman rho with human recognition, catch-trial exclusion, failed and aborted sessions, median\n"
        "response times. Model observers (run --observer) are reported apart. --out DIR writes\n"
        "report.md, report.json and the figures (PNG and SVG).",
        {db,
         {"experiment", "NAME", "only this experiment (default: each one in the database)", ""},
         {"json", "", "print one JSON object per experiment"},
         {"out", "DIR", "write report.md, report.json and the figures here", ""},
         {"permutations", "N", "permutations per test (the paper: 10000)", "10000"},
         {"seed", "S", "seed of the permutations and bootstraps", "0"},
         {"exclude-catch-below", "P", "exclude participants whose catch accuracy is below P (default: the file's [analysis])", ""}}},
       cmd_analyze},
      {{"export",
        "export the trials for analysts: long CSV, a BIDS behavioural dataset, or JSON lines",
        "One row per trial with its condition, stimulus, response, correctness, response times, frame\n"
        "and audio timing and every judging model's answer (columns: README \"Exports\"). Participants\n"
        "appear as sub-<number> unless --with-codes; no path of this machine is written. The output\n"
        "folder must be new or empty (--force writes into it, replacing only the files it writes).",
        {db,
         {"format", "", "csv, bids or jsonl", "", true, false, {"csv", "bids", "jsonl"}},
         {"out", "DIR", "output folder", "", true},
         {"experiment", "NAME", "only this experiment (default: all)", ""},
         {"with-codes", "", "add the participants' pseudonymous codes"},
         {"with-stimuli", "", "copy the stimulus files into the export"},
         {"force", "", "write into a non-empty folder (replaces only the files the export writes)"}}},
       cmd_export},
  };
}

}  // namespace mm::app
