// synth/jobs.h: the engine's jobs as the command line runs them (torch-free).
//
// Each job ties the engine to the stimuli and the store: it loads and validates inputs
// (failing on the first bad file before any work), computes, writes outputs atomically,
// records provenance in SQLite and prints results. Used by app/ subcommands and tests.
//
// Sections
//   [SECTION] synth      metamer synthesis with success tests, resume
//   [SECTION] null       null distributions (cached in the store)
//   [SECTION] one metamer  the success test and record of one outcome
//   [SECTION] classify   model judgments
//   [SECTION] demo       the bundled demo (main job)
//   [SECTION] trace      provenance of a metamer file
#pragma once
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/sha256.h"
#include "data/store.h"
#include "synth/engine.h"

namespace mm::synth {

// [SECTION] synth -------------------------------------------------------------------------
struct SynthJob {
  std::string model;
  std::vector<std::string> layers;
  std::vector<std::string> inputs;       // folders (ImageFolder layout) or files
  std::string out_dir;
  std::string db = "metamerlab.db";
  SynthOptions opt;
  int batch = 1;
  std::vector<std::string> categories;   // restrict predictions to these classes
  int64_t null_pairs = kAutoPairs;       // kAutoPairs: 10^6, or every ordered pair of a smaller set
  uint64_t null_seed = 0;
  std::vector<std::string> null_inputs;  // natural set for the null (default: the bundled null, else inputs)
  bool bundled_null = true;              // with no null_inputs, use the model's bundled null when it has one
  NullMemory null_memory;                // --null-memory, --null-spill
  std::string command_line;
  bool progress = true;                  // progress line on stderr
  double progress_every_s = 10;          // seconds between progress lines when stderr is not a terminal
  Device device = Device::cpu;
  // --shard K/N: the job's work units (a batch of references at one layer, in the order an
  // unsharded run makes them) are dealt round-robin to N shards; this run makes shard K's
  // (0 <= K < N) into its own --out and --db. The N shards together hold exactly the
  // metamers of one unsharded run, bit for bit at the same thread count; `metamerlab merge`
  // combines their databases (data/merge.h).
  int shard = 0, shards = 1;
};
// Whether work unit `unit` (layer index x batches per layer + batch index) is shard K's of N.
inline bool shard_owns(size_t unit, int shard, int shards) {
  return static_cast<int>(unit % static_cast<size_t>(shards)) == shard;
}
struct SynthJobResult {
  int64_t run_id = 0;
  int total = 0, passed = 0, failed = 0, nonfinite = 0, resumed = 0;
  int converged = 0;                          // of the metamers made by this run
  std::vector<data::MetamerRecord> metamers;  // this run's and resumed ones, in order
};
SynthJobResult run_synth_job(const SynthJob& job, std::ostream& out, std::ostream& err);

// [SECTION] null --------------------------------------------------------------------------
struct NullJob {
  std::string model;
  std::vector<std::string> layers;        // "all": every layer of the model
  std::vector<std::string> inputs;
  std::string db = "metamerlab.db";
  int64_t pairs = kAutoPairs;             // kAutoPairs: 10^6, or every ordered pair of a smaller set
  uint64_t seed = 0;
  int batch = 16;
  bool json = false;
  Device device = Device::cpu;
  // Bundling (tools/build-zoo.sh): write the distributions next to the model's file
  // (bundled_null_path) with `description` of the natural set, and the null of the small
  // `check_inputs` set (check_pairs) so tests can recompute it without the whole set.
  bool write_bundled = false;
  std::string description;
  std::vector<std::string> check_inputs;
  int64_t check_pairs = 1000;
  NullMemory memory;                      // --null-memory, --null-spill
  // --shard K/N (shards > 0): compute only this shard's parts of each layer's distribution
  // (units K, K+N, ... of null_units(null_blocks_for_shards(N))), record them in db, and
  // complete whatever distribution has all its parts there; `metamerlab merge` completes the
  // rest. Parts already recorded are not computed again (a killed shard resumes).
  int shard = 0, shards = 0;
};

// A model's null distributions computed when the model was built, from many natural
// stimuli it never trained on (the paper: 10^6 pairs of natural stimuli), stored next to
// its file as FILE.null.json. synth, demo and report use them when no --null-input is given.
struct BundledNull {
  std::string path;                       // the .null.json file
  std::string model_sha256;
  std::string description, set_sha256;   // the natural set and its hash
  int64_t stimuli = 0, pairs = 0;
  uint64_t seed = 0;
  std::map<std::string, NullStats> layers;
  // The small check set's nulls (recomputable on a fresh checkout: stimuli/samples).
  std::string check_description, check_sha256;
  int64_t check_stimuli = 0, check_pairs = 0;
  uint64_t check_seed = 0;
  std::map<std::string, NullStats> check_layers;
};
// FILE.null.json beside the model's file ("" for a model without a file).
std::string bundled_null_path(const ModelInfo& info);
// The model's bundled nulls; nullopt when it has none. Throws naming the file when it is
// malformed or belongs to other weights (its model SHA-256 differs).
std::optional<BundledNull> load_bundled_null(const ModelInfo& info);
// The SHA-256 of a natural set as the store and the bundles key it (category + file hash).
std::string natural_set_sha256(const std::vector<stimuli::Item>& items);
struct NullEntry {
  std::string layer;
  int64_t id = 0;
  bool cached = false;
  data::NullRecord rec;
};
std::vector<NullEntry> run_null_job(const NullJob& job, std::ostream& out, std::ostream& err);

// The null distribution for one layer: read from the store if it was computed for the
// same model, layer, natural set, pair count and seed; otherwise computed and recorded.
// `naturals` gives stimulus i of `items` (loaded when the null is computed, never all at once).
NullEntry null_for_layer(const ModelHandle& m, data::Store& store, int64_t model_id, const std::string& layer,
                         const std::vector<stimuli::Item>& items, const StimulusAt& naturals,
                         const std::string& set_description, int64_t pairs, uint64_t seed, int batch,
                         const NullMemory& memory = {});

// [SECTION] one metamer -------------------------------------------------------------------
// The bundled null of one layer as the store records nulls (metamers point at its row).
NullEntry bundled_null_entry(const BundledNull& b, const ModelHandle& m, data::Store& store, int64_t model_id,
                             const std::string& layer);
// The success test of one synthesized metamer (Spearman, Pearson and SNR above the null's
// maxima, and the same predicted class as its reference), its files written as
// FILE_BASE.png or .wav and FILE_BASE.npy, and its record filled (not yet stored; the caller
// sets run, reference, category, layer, seed and wall time).
data::MetamerRecord tested_metamer(const ModelInfo& info, const SynthOutcome& o, const Similarity& s,
                                   const std::string& pred_metamer, const std::string& pred_reference,
                                   const NullEntry& null, const std::string& file_base);

// [SECTION] classify ----------------------------------------------------------------------
struct ClassifyJob {
  std::string model;
  std::vector<std::string> inputs;
  std::string db = "metamerlab.db";
  std::vector<std::string> categories;
  int batch = 16;
  bool json = false;
  Device device = Device::cpu;
};
int run_classify_job(const ClassifyJob& job, std::ostream& out, std::ostream& err);

// [SECTION] demo --------------------------------------------------------------------------
// The bundled demo (the main job): the paper's network-to-network experiment on the sample
// references of stimuli/samples (one held-out item per category) with the trained zoo
// models of the modality: metamers at four layers of each, the null test, and every
// metamer judged by the other model (synth/report.h). Writes OUT/<model>/<layer>/...,
// OUT/report.md and OUT/metamerlab.db, which experiments/demo-images.toml (image) and
// demo-words.toml (audio, `--modality audio --out out/demo-words`) present to people.
struct DemoJob {
  std::string out_dir = "out/demo";
  std::string db = "";   // default: OUT/metamerlab.db
  std::string modality = "image";  // image | audio
  std::string samples_dir = "";    // default: stimuli/samples of the source tree
  int64_t iterations = 250;
  int rounds = 4;
  int max_rounds = 8;   // until converged, up to this many rounds (SynthOptions::max_rounds)
  std::string command_line;
  Device device = Device::cpu;
};
int run_demo_job(const DemoJob& job, std::ostream& out, std::ostream& err);
// The bundled samples: METAMERLAB_SAMPLES, else the data folder's stimuli/samples
// (stimuli/resources.h).
std::string samples_dir();

// [SECTION] trace -------------------------------------------------------------------------
// How a metamer file (PNG, WAV or .npy) was made: looked up by its SHA-256. Returns 1 (and
// says so) if the database has no metamer with that file.
int run_trace_job(const std::string& file, const std::string& db, bool json, std::ostream& out);

// Model record for the store.
data::ModelRecord model_record(const ModelInfo& info);

}  // namespace mm::synth
