// app/program/judging.h: models answer what people answered. `metamerlab judge` has each
// model classify exactly the stimuli a participant was shown, among that trial's
// alternatives, and every metamer of the experiment's conditions (network-to-network);
// `metamerlab run --observer MODEL` runs a whole planned session with a model as the
// participant, without a display. Both meet the engine (synth/), the session module
// (experiments/) and the store (data/) here, in the program layer.
#pragma once
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "data/store.h"
#include "synth/engine.h"

namespace mm::app {

struct JudgeOptions {
  std::string db;
  std::vector<std::string> models;    // judges besides the experiment's (--model)
  std::vector<int64_t> sessions;      // these sessions (--session); empty: every person's session
  bool network = true;                // also every metamer of each experiment's conditions
  int batch = 32;
  synth::Device device = synth::Device::cpu;
};

struct JudgeSummary {
  int sessions = 0, models = 0;
  int trial_judgments = 0, metamer_judgments = 0;  // added by this run
  int already = 0;                                 // found recorded (a re-run adds only what is missing)
};

// Judges; prints one line per session and model on `out`. Throws std::runtime_error with one
// line naming the database, session or file and what to do.
JudgeSummary judge_sessions(const JudgeOptions& o, std::ostream& out);

// One metamer to be judged (network-to-network): its record without the judging model's
// answer, and its file.
struct MetamerToJudge {
  data::MetamerJudgment judgment;   // experiment key, condition, generating model, layer, hashes, category
  std::string file;
};
// `spec` answers every metamer it has not judged yet under that key, among `alternatives`.
// Returns how many were added.
int judge_metamer_files(data::Store& store, const std::string& spec, synth::Device device,
                        const std::vector<MetamerToJudge>& metamers, const std::vector<std::string>& alternatives,
                        int batch, std::ostream& out);

struct ObserverOptions {
  std::string experiment, db;
  int64_t participant = 1;
  std::optional<uint64_t> seed;
  int max_trials = -1;
  std::string model;                  // the observer
  std::string code;                   // its participant code ("" = model-<name>)
  synth::Device device = synth::Device::cpu;
};

// Runs the session; returns the exit code as `run` does (0 completed or failed demo, 1 refused).
int run_observer_session(const ObserverOptions& o, std::ostream& out);

}  // namespace mm::app
