// synth/report.h: the paper's network-to-network experiment on the bundled zoo (torch-free).
//
// `metamerlab report zoo`: for each bundled model, metamers at several layers (early stage
// to logits) for one reference per category, each checked with the engine's success test
// (null distribution of the reference set), then classified by the generating model and by
// every other bundled model of the same modality (Feather et al. 2023, Fig. 3/7: robust
// models' late-layer metamers should be recognized by other models far more often than
// standard models'). Writes OUT/report.md (a Markdown table), OUT/report.json, the metamers
// under OUT/<model>/ and their provenance in the store.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "synth/engine.h"

namespace mm::synth {

struct ZooReportJob {
  // Models, grouped by modality; default: the four bundled demo models.
  std::vector<std::string> models;
  std::string emoji16_dir = "out/emoji16";   // data set folders with reference/<category>/
  std::string words16_dir = "out/words16";
  std::string out_dir = "out/report-zoo";
  std::string db;                            // default: OUT/metamerlab.db
  std::vector<std::string> layers;           // default: conv1 stage1 stage2 stage3 logits
  int64_t iterations = 250;                  // steps per round
  int rounds = 4;
  int max_rounds = 12;                       // until converged, up to this many rounds
  int64_t null_pairs = 1000;
  int per_category = 1;                      // references per category (the first, sorted)
  std::string command_line;
  Device device = Device::cpu;
};

struct ZooReportRow {
  std::string model, layer;
  int total = 0, passed = 0;
  int own_correct = 0;                       // generating model's class == reference's, all metamers
  std::vector<std::string> others;           // the other models of the same modality
  std::vector<int> other_correct;            // per other model, among the metamers that passed
};

// Runs the experiment; prints the table; returns the rows. Throws std::runtime_error with a
// one-line message (missing reference set: names the folder and the command that builds it).
std::vector<ZooReportRow> run_zoo_report(const ZooReportJob& job, std::ostream& out, std::ostream& err);

// The Markdown table of the rows (as written to OUT/report.md and the README).
std::string zoo_report_markdown(const std::vector<ZooReportRow>& rows);

}  // namespace mm::synth
