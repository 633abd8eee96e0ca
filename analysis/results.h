// analysis/results.h: people compared with models, as the paper does it (Feather et al.
// 2023; ../shared/docs/analysis-and-export.md): proportion correct per participant x
// condition (by the condition shown), the generating and the other judging models on the
// same trials, the mixed observer x layer ANOVA per generating model, the layer x model
// repeated-measures ANOVA between two models, the layer effect in humans (permutation
// p-values), network-to-network recognition with bootstrap SEMs and its Spearman rho with
// human recognition, catch-trial exclusion, counts of failed and aborted sessions, median
// response times, the report as text/Markdown and JSON, and the figures.
//
// No torch, no UI, no SQL: the program layer reads the store into a ResultInput.
//
// Sections
//   [SECTION] Input      trials, sessions, conditions, network judgments
//   [SECTION] Report     what analyze computes
//   [SECTION] Analysis   analyze, report_text, report_json, write_report_figures
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace mm::analysis {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// [SECTION] Input -------------------------------------------------------------------------
struct ResultTrial {
  std::string phase;              // main | catch | practice | demo | headphone_check
  std::string condition;          // shown: natural | LABEL/LAYER | catch
  std::string planned_condition;  // assigned (fell-back trials were shown natural)
  bool fell_back = false;
  std::string category;
  bool correct = false;
  double rt_ms = -1;              // from response-screen onset; -1 no response
  std::map<std::string, bool> judged;  // judging model spec -> its answer was correct
};

struct ResultSession {
  int64_t id = 0;
  int64_t participant_number = 0;
  std::string status;             // completed | aborted | failed_demo | running
  std::string observer;           // "" for a person, else the model observer's spec
  std::vector<ResultTrial> trials;
};

// A condition of the experiment: natural, or a model's metamers at a layer.
struct ResultCondition {
  std::string name;               // natural | LABEL/LAYER
  std::string model;              // the generating model's spec ("" for natural)
  std::string layer;
};

// One metamer of a generating model's layer, judged by a model (network-to-network).
struct NetworkJudgment {
  std::string generating_model, layer, judging_model;
  std::string stimulus;           // the metamer (e.g. its SHA-256)
  bool correct = false;
};

struct ResultInput {
  std::string experiment, experiment_sha256;
  int alternatives = 16;                       // chance = 1 / alternatives
  std::vector<ResultCondition> conditions;     // natural first, then per model in order
  std::vector<std::string> judging_models;     // models with trial judgments, in order
  std::vector<ResultSession> sessions;
  std::vector<NetworkJudgment> network;
};

struct AnalysisOptions {
  int permutations = 10000;        // per effect (the paper: 10,000)
  uint64_t seed = 0;               // permutations and bootstraps
  double exclude_catch_below = -1; // participants below this catch accuracy are excluded (-1: none)
  int bootstrap = 1000;            // resamples of the participants' 95% interval and the network SEMs
  int threads = 1;                 // permutation workers (results do not depend on it)
  const std::atomic<bool>* cancel = nullptr;  // set elsewhere: analyze throws analysis::Cancelled (stats.h)
};

// [SECTION] Report ------------------------------------------------------------------------
// A mean over participants (or stimuli) with its spread.
struct CellStat {
  int n = 0;
  double mean = kNaN, sem = kNaN;  // SEM: sample SD / sqrt(n)
  double ci_low = kNaN, ci_high = kNaN;  // seeded bootstrap 95% interval of the mean
};

struct ConditionSummary {
  ResultCondition condition;
  CellStat human;                        // proportion correct over included participants
  std::map<std::string, CellStat> models;  // judging model -> on the same trials
  int trials = 0;                        // main trials shown in this condition (included participants)
  int fell_back = 0;                     // trials planned in this condition but shown natural
  double median_rt_ms = kNaN;            // of those trials' responses
};

struct ParticipantRow {
  int64_t session_id = 0;
  int64_t participant_number = 0;
  std::map<std::string, double> human;                         // condition -> proportion correct
  std::map<std::string, int> trials;                           // condition -> main trials
  std::map<std::string, std::map<std::string, double>> models;  // model -> condition -> proportion
  int catch_trials = 0;
  double catch_accuracy = kNaN;
  bool excluded = false;
  std::string exclusion;                 // why ("catch accuracy 0.50 < 0.75")
};

struct EffectReport {
  std::string effect;                    // e.g. "observer x layer"
  double f = kNaN, partial_eta2 = kNaN, p = kNaN;
  int df = 0, df_error = 0, draws = 0;
};

struct AnovaReport {
  std::string kind;                      // mixed | rm2 | rm1
  std::string title;                     // what is compared
  std::vector<std::string> layers;
  int participants = 0;                  // rows per observer (complete cases)
  std::vector<EffectReport> effects;
  std::string note;                      // why it was skipped, when it was
};

struct NetworkCell {
  std::string condition;                 // LABEL/LAYER
  std::string generating_model, layer;
  std::map<std::string, CellStat> by_model;  // judging model -> proportion over the metamers (bootstrap SEM)
  CellStat others;                       // mean over the other models (SEM = SD / sqrt(n))
  double human = kNaN;                   // human mean at this model x layer (when the experiment shows it)
};

struct AnalysisReport {
  std::string experiment, experiment_sha256;
  double chance = kNaN;
  AnalysisOptions options;
  int sessions = 0, people = 0, observers = 0;
  int completed = 0, aborted = 0, failed_demo = 0, running = 0;
  int included = 0, excluded = 0;
  std::vector<std::string> generating_models;
  std::vector<std::string> judging_models;
  std::vector<ParticipantRow> participants;      // completed people's sessions
  std::vector<ParticipantRow> observer_rows;     // model observers' sessions (kept apart)
  std::vector<std::string> observer_names;       // their models, in observer_rows order
  std::vector<ConditionSummary> conditions;
  std::vector<AnovaReport> anovas;
  std::vector<NetworkCell> network;
  double network_spearman = kNaN;        // human vs the other models' recognition, over model x layer
  int network_points = 0;
  std::vector<std::string> notes;
};

// [SECTION] Analysis ----------------------------------------------------------------------
// Computes the report. Participants are people's completed sessions; those below
// exclude_catch_below are excluded (reported). Throws std::invalid_argument for options out
// of range.
AnalysisReport analyze(const ResultInput& in, const AnalysisOptions& options);
// The report as Markdown (tables a person reads; also what `metamerlab analyze` prints).
std::string report_text(const AnalysisReport& r);
// The report as one JSON object.
std::string report_json(const AnalysisReport& r);
// The paper's figures as PNG and SVG in `dir` (created): proportion correct vs layer
// (humans beside each generating model, chance marked), network-to-network recognition vs
// layer, and human vs network-to-network recognition with Spearman's rho. Returns the files.
std::vector<std::string> write_report_figures(const AnalysisReport& r, const std::string& dir);

}  // namespace mm::analysis
