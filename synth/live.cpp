// synth/live.cpp: LiveMaker: one metamer at a time for live generation (synth/live.h).
#include "synth/live.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "data/sha256.h"

namespace fs = std::filesystem;

namespace mm::synth {

namespace {

using Clock = std::chrono::steady_clock;

double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

std::string safe_name(std::string s) {
  for (auto& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
  return s;
}

}  // namespace

LiveMaker::LiveMaker(const LiveSpec& spec) : spec_(spec), model_(ModelHandle::open(spec.model, spec.device)) {
  model_.check_layers(spec_.layers);
  if (!spec_.categories.empty()) {
    // Restrict predictions only to names the model knows (an experiment's alternatives may
    // be a subset of its classes, or not class names at all).
    bool all_known = true;
    for (const auto& c : spec_.categories)
      all_known = all_known && std::find(info().classes.begin(), info().classes.end(), c) != info().classes.end();
    if (!all_known) spec_.categories.clear();
  }
  if (spec_.null_inputs.empty()) {
    bundle_ = load_bundled_null(info());  // throws naming a malformed file
    for (const auto& l : spec_.layers)
      if (!bundle_ || !bundle_->layers.count(l))
        throw std::runtime_error("\"" + spec_.model + "\" has no bundled null distribution for layer \"" + l +
                                 "\"; give the live source null_set = \"NAME\" (a [sets.NAME] of natural stimuli the "
                                 "model never trained on, at least 100)");
  }
}

LiveMaker::~LiveMaker() = default;

const ModelInfo& LiveMaker::info() const { return model_.info(); }

SynthesisTiming time_synthesis(const ModelHandle& m, const std::string& layer, const SynthOptions& opt, int steps) {
  const stimuli::Array target = initial_noise(m.info(), 12345, std::max(opt.audio_init_sigma, 1e-3));
  SynthOptions o = opt;
  o.checkpoint_every = 0;
  o.rounds = 1;
  o.max_rounds = 0;  // exactly the steps timed, never until converged
  // The fastest of three calls of n steps: other programs on the machine only ever add time.
  const auto best_of_three = [&](int n) {
    o.iterations = n;
    double best = 1e300;
    for (int k = 0; k < 3; ++k) {
      const double t0 = now_s();
      synthesize(m, layer, {target}, o);
      best = std::min(best, now_s() - t0);
    }
    return best;
  };
  o.iterations = 1;  // warm-up: first-call allocations
  synthesize(m, layer, {target}, o);
  constexpr int kShort = 2;
  const double t_short = best_of_three(kShort);
  const double t_long = best_of_three(kShort + std::max(1, steps));
  SynthesisTiming t;
  // A step at least a tenth of the short call's share per step: the difference of two best
  // times can come out near zero on a busy machine.
  t.step_s = std::max((t_long - t_short) / std::max(1, steps), 0.1 * t_short / kShort);
  t.call_s = std::max(0.0, t_short - kShort * t.step_s);
  return t;
}

const NullEntry& LiveMaker::null_of(data::Store& store, const std::string& layer) {
  if (auto it = nulls_.find(layer); it != nulls_.end()) return it->second;
  NullEntry e;
  if (bundle_) {
    e = bundled_null_entry(*bundle_, model_, store, model_id_, layer);
  } else {
    if (naturals_.empty()) {
      null_items_ = stimuli::list_stimuli(spec_.null_inputs, info().modality == "audio" ? stimuli::Modality::audio
                                                                                         : stimuli::Modality::image);
      for (const auto& it : null_items_) naturals_.push_back(model_.load_stimulus(it.path));
      if (naturals_.size() < 2)
        throw std::runtime_error("the null set " + spec_.null_description + " has fewer than 2 stimuli; give it more");
    }
    e = null_for_layer(model_, store, model_id_, layer, null_items_,
                       [this](int64_t i) { return naturals_[static_cast<size_t>(i)]; }, spec_.null_description,
                       spec_.null_pairs, spec_.null_seed, 16);
  }
  return nulls_.emplace(layer, e).first->second;
}

std::optional<data::MetamerRecord> LiveMaker::make(data::Store& store, const std::string& reference,
                                                   const std::string& category, const std::string& layer, uint64_t seed,
                                                   const std::string& stem, const std::atomic<bool>* cancel) {
  if (run_id_ == 0) {
    model_id_ = store.upsert_model(model_record(info()));
    data::SynthRunRecord run;
    run.model_id = model_id_;
    run.command = spec_.command_line;
    run.options_json = spec_.run_options;
    run.out_dir = fs::absolute(spec_.out_dir).lexically_normal().string();
    run.program_version = program_version();
    run_id_ = store.begin_synth_run(run);
    started_s_ = now_s();
  }
  const NullEntry& null = null_of(store, layer);
  const double t0 = now_s();
  const stimuli::Array ref = model_.load_stimulus(reference);
  SynthOptions o = spec_.opt;
  o.seed = seed;
  o.checkpoint_every = 0;  // a metamer takes seconds: a killed session makes it again
  o.cancel = cancel;
  const std::vector<SynthOutcome> out = synthesize(model_, layer, {ref}, o);
  if (out.empty()) return std::nullopt;  // cancelled
  const auto acts = model_.activations({out[0].metamer, ref}, layer);
  const auto preds = model_.classify({out[0].metamer, ref}, spec_.categories);
  const Similarity s = similarity(acts[1], acts[0]);
  const std::string dir = spec_.out_dir + "/" + safe_name(layer) + "/" + safe_name(category);
  stimuli::ensure_writable_dir(dir);
  data::MetamerRecord r = tested_metamer(info(), out[0], s, preds[0].label, preds[1].label, null, dir + "/" + stem);
  r.run_id = run_id_;
  r.reference_path = fs::absolute(reference).string();
  r.reference_sha256 = data::sha256_file(reference);
  r.category = category;
  r.layer = layer;
  r.seed = static_cast<int64_t>(seed);
  r.wall_s = now_s() - t0;
  return r;
}

void LiveMaker::finish(data::Store& store, const std::string& status) {
  if (run_id_ == 0) return;
  store.finish_synth_run(run_id_, status, now_s() - started_s_);
  run_id_ = 0;
}

}  // namespace mm::synth
