// synth/live.h: the engine's side of live generation (metamers made during a session, one
// at a time, for the program layer's worker, app/program/live_worker.h). A LiveMaker holds
// one model of an experiment's live source: it makes the metamer of one reference at one
// layer from one seed, tests it exactly as `synth` does (the model's bundled null, or the
// null of a natural set computed once and cached in the store; the same predicted class),
// writes its files and returns its record for the caller to store with its trial. It also
// times one synthesis step, for validation's estimate of whether the worker keeps ahead.
// Torch-free.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/store.h"
#include "synth/engine.h"
#include "synth/jobs.h"

namespace mm::synth {

struct LiveSpec {
  std::string model;                      // zoo:NAME or a model file
  Device device = Device::cpu;
  std::vector<std::string> layers;
  SynthOptions opt;                       // the schedule (the seed is set per metamer)
  std::vector<std::string> null_inputs;   // a natural set for the null; empty: the model's bundled null
  std::string null_description;           // e.g. "[sets.null] of demo-images-live.toml"
  int64_t null_pairs = kAutoPairs;
  uint64_t null_seed = 0;
  std::vector<std::string> categories;    // predicted classes restricted to these (empty: all)
  std::string out_dir;                    // files as OUT/<layer>/<category>/<stem>.png|.wav|.npy
  std::string run_options;                // JSON recorded with the synthesis run (session, source, seeds)
  std::string command_line;
};

// How long synthesizing a single metamer at `layer` takes on this machine now, from noise
// towards noise: the seconds of one step, and a call's own cost besides its steps (the
// reference's forward and the final one). Calls of 2 and 2 + `steps` steps are timed (the
// fastest of three each, after a warm-up); their difference over `steps` is the step.
struct SynthesisTiming {
  double step_s = 0;
  double call_s = 0;
};
SynthesisTiming time_synthesis(const ModelHandle& m, const std::string& layer, const SynthOptions& opt,
                               int steps = 8);

class LiveMaker {
 public:
  // Opens the model and checks the layers (throws std::runtime_error naming the model or
  // the layer) and that a null exists for each layer (bundled, or null_inputs).
  explicit LiveMaker(const LiveSpec& spec);
  ~LiveMaker();
  LiveMaker(const LiveMaker&) = delete;
  LiveMaker& operator=(const LiveMaker&) = delete;
  const ModelInfo& info() const;
  const LiveSpec& spec() const { return spec_; }

  // One metamer of `reference` (its category for the output folder) at `layer`, grown from
  // `seed`: synthesized, tested, its files written as OUT/<layer>/<category>/<stem>.*.
  // The first call records the model and a synthesis run in `store`, and every layer's null
  // is computed (or read) once. Returns nullopt when `cancel` was set before it finished.
  // The record's run, reference, category, layer, seed and wall time are filled.
  std::optional<data::MetamerRecord> make(data::Store& store, const std::string& reference, const std::string& category,
                                          const std::string& layer, uint64_t seed, const std::string& stem,
                                          const std::atomic<bool>* cancel);
  // Closes the synthesis run ("done", or "interrupted" when the session stopped mid-way).
  void finish(data::Store& store, const std::string& status);

 private:
  const NullEntry& null_of(data::Store& store, const std::string& layer);
  LiveSpec spec_;
  ModelHandle model_;
  std::optional<BundledNull> bundle_;
  int64_t model_id_ = 0, run_id_ = 0;
  double started_s_ = 0;
  std::map<std::string, NullEntry> nulls_;
  std::vector<stimuli::Item> null_items_;
  std::vector<stimuli::Array> naturals_;
};

}  // namespace mm::synth
