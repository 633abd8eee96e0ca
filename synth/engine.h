// synth/engine.h: the metamer engine's torch-free public face.
//
// Opens models (TorchScript archives or zoo:NAME C++ networks), computes activations only
// up to the layers asked for, synthesizes metamers (normalized-gradient descent or Adam,
// per-example losses, checkpoint/resume), measures similarity (Spearman, Pearson, SNR)
// and null distributions, and classifies stimuli. Callers outside synth/ see no torch.
//
// Sections
//   [SECTION] Model info and handle
//   [SECTION] Similarity and null distributions
//   [SECTION] Synthesis
//   [SECTION] Runtime
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "stimuli/stimuli.h"

namespace mm::synth {

class Model;

// Where torch computes. Chosen once by the program (--device) and passed down to every model.
enum class Device { cpu, cuda };
const char* device_name(Device d);  // cpu | cuda

// [SECTION] Model info and handle ---------------------------------------------------------
struct ModelInfo {
  std::string spec;                  // as named by the user
  std::string path;                  // resolved archive or weights file ("" if none)
  std::string sha256;                // of that file ("" if none)
  std::string modality;              // "image" | "audio"
  std::vector<int64_t> input_shape;  // [C,H,W] for images, [N] for audio
  int sample_rate = 0;               // audio only
  float lo = 0.0f, hi = 1.0f;        // input range
  std::vector<std::string> classes;  // logits order
  std::vector<std::string> layers;   // in forward order; includes "logits"
  std::string json;                  // metamerlab.json as stored
  stimuli::ImageSpec image_spec() const;
  stimuli::AudioSpec audio_spec() const;
};

struct Prediction {
  int64_t index = -1;      // into ModelInfo::classes
  std::string label;
  float score = 0;         // the winning logit
};

class ModelHandle {
 public:
  // spec: zoo:NAME, a network `metamerlab train` wrote, or a TorchScript archive (the
  // registry in synth/model.h resolves it), loaded onto `device`. Throws
  // std::runtime_error naming the file and fix.
  static ModelHandle open(const std::string& spec, Device device = Device::cpu);
  const ModelInfo& info() const;
  Device device() const { return device_; }
  // Throws the unknown-layer error (listing layers) unless every name exists.
  void check_layers(const std::vector<std::string>& layers) const;
  // Loads a stimulus file as the model takes it (image crop/resize or audio resample/RMS).
  stimuli::Array load_stimulus(const std::string& path, std::string* note = nullptr) const;
  // Arg-max over the logits, restricted to `allowed` class names when not empty
  // (the paper's 16-category restriction). Unknown allowed names throw.
  std::vector<Prediction> classify(const std::vector<stimuli::Array>& xs,
                                   const std::vector<std::string>& allowed = {},
                                   int batch = 16) const;
  // Flattened activations of one layer for each stimulus (for tests and analyses).
  std::vector<std::vector<float>> activations(const std::vector<stimuli::Array>& xs,
                                              const std::string& layer, int batch = 16) const;
  Model& impl() const { return *impl_; }

 private:
  std::shared_ptr<Model> impl_;
  std::shared_ptr<ModelInfo> info_;
  Device device_ = Device::cpu;
};

// [SECTION] Similarity and null distributions ---------------------------------------------
struct Similarity {
  double spearman = 0, pearson = 0, snr_db = 0;
};
// Between two flattened activation vectors; the first is the reference. If either is all
// zeros, all three are 0 (as the paper counts such pairs).
Similarity similarity(const std::vector<float>& reference, const std::vector<float>& other);

struct NullStats {
  int64_t pairs = 0;
  int64_t stimuli = 0;
  double spearman_max = 0, pearson_max = 0, snr_max = 0;
  double spearman_mean = 0, pearson_mean = 0, snr_mean = 0;
  // Where the time went (streaming implementation; for benchmarks, not recorded): the
  // network's forward passes, sorting each row's activations, turning the sorted rows into
  // average ranks, writing and reading rows (store: write + read), the Gram products;
  // whether the rows were spilled to a temporary file.
  double load_s = 0, forward_s = 0, sort_s = 0, ranks_s = 0, store_s = 0, write_s = 0, read_s = 0, gram_s = 0;
  bool spilled = false;
};
// The paper's count of null pairs, and the "choose for me" value of `pairs` below.
constexpr int64_t kPaperPairs = 1000000;
constexpr int64_t kAutoPairs = 0;
// Random ordered pairs (i != j, drawn with replacement) of the natural stimuli, measured at
// `layer`. pairs = kAutoPairs: 10^6 random pairs, or every ordered pair exactly once when
// the set has fewer than 10^6 (NullStats::pairs says how many were used). Each stimulus's
// activations and their ranks are computed once and the pairs read off Gram matrices, so
// 10^6 pairs cost little more than 10^3.
//
// Streaming: memory is bounded by NullMemory::budget_bytes, not by stimuli x activation
// size. Stimuli are loaded `batch` at a time; each one's activation row and centred ranks
// (float32, exact: ranks are half-integers) are kept in memory when the whole set fits in
// the budget, else written to an unlinked temporary file in `spill_dir`; the Gram terms
// (of the centred rows, for Pearson and, with the row sums, SNR; of the centred ranks, for
// Spearman) are float32 products over column chunks of half the budget, summed in float64,
// and pairs whose rows nearly coincide (SNR above 10 dB) have their distance remeasured in
// float64. Same pairs and the same values as null_distribution_dense within float32
// rounding (about 1e-6 of a correlation, 1e-5 dB).
struct NullMemory {
  int64_t budget_bytes = int64_t{512} << 20;  // activations + ranks in memory below this, else spilled (plus a chunk buffer of half this)
  std::string spill_dir;                      // "" : $TMPDIR, else /tmp
};
// Where natural stimulus i (0 <= i < count) comes from; called once per stimulus, in order.
using StimulusAt = std::function<stimuli::Array(int64_t i)>;
NullStats null_distribution(const ModelHandle& m, const std::string& layer, int64_t count, const StimulusAt& at,
                            int64_t pairs, uint64_t seed, int batch = 16, const NullMemory& memory = {});
NullStats null_distribution(const ModelHandle& m, const std::string& layer,
                            const std::vector<stimuli::Array>& naturals, int64_t pairs,
                            uint64_t seed, int batch = 16, const NullMemory& memory = {});
// Shards of one null distribution. The stimuli are cut into `blocks` contiguous blocks
// (block a starts at a*count/blocks); unit u is one pair of blocks (a <= b, numbered row by
// row: (0,0), (0,1), ..., (1,1), ...), and holds the drawn pairs (i, j) whose blocks are
// {a, b}. A unit needs only its two blocks' activations. Every drawn pair is in exactly one
// unit, so the parts of all blocks*(blocks+1)/2 units together give the whole distribution:
// the maxima are the largest of the units' maxima, the means the units' sums (added in unit
// order) over the pair count (data::combine_null_parts). metamerlab null --shard K/N
// computes units K, K+N, ...
struct NullPart {
  int64_t blocks = 1, unit = 0;
  int64_t pairs = 0;       // of the whole distribution (kAutoPairs resolved)
  int64_t stimuli = 0;     // of the whole set
  int64_t unit_pairs = 0;  // drawn pairs in this unit
  double spearman_max = 0, pearson_max = 0, snr_max = 0;  // 0 when unit_pairs is 0
  double spearman_sum = 0, pearson_sum = 0, snr_sum = 0;
};
int64_t null_units(int64_t blocks);                 // blocks * (blocks + 1) / 2
int64_t null_blocks_for_shards(int64_t shards);     // the fewest blocks giving at least `shards` units
NullPart null_distribution_part(const ModelHandle& m, const std::string& layer, int64_t count, const StimulusAt& at,
                                int64_t pairs, uint64_t seed, int64_t blocks, int64_t unit, int batch = 16,
                                const NullMemory& memory = {});
// The first implementation, every activation and rank of the set in memory at once (about
// 5 x stimuli x activation size x 8 bytes). Kept as the reference the streaming one is
// tested and benchmarked against; not used by the program.
NullStats null_distribution_dense(const ModelHandle& m, const std::string& layer,
                                  const std::vector<stimuli::Array>& naturals, int64_t pairs, uint64_t seed,
                                  int batch = 16);

// [SECTION] Synthesis ---------------------------------------------------------------------
enum class Optimizer { gd, adam };
enum class Loss { l2norm, mse };

struct SynthOptions {
  int64_t iterations = 300;   // per round
  int rounds = 8;             // the step halves after each round
  double step = -1;           // <0: the optimizer's default (gd 1.0, adam 0.01)
  Optimizer optimizer = Optimizer::gd;
  Loss loss = Loss::l2norm;
  uint64_t seed = 0;          // the noise start depends on seed and shape only
  bool fake_relu = true;      // at the measured layer
  double audio_init_sigma = 1e-7;
  int64_t checkpoint_every = 100;  // steps between checkpoints (0: never)
  int64_t stop_after = -1;    // testing: stop (as if killed) after this many steps
  // Set by another thread to stop between steps (live generation abandons a metamer when
  // the session ends): synthesize returns an empty vector, like stop_after.
  const std::atomic<bool>* cancel = nullptr;
  double converge_tol = 0.01; // converged: the last round lowered the loss by less than this fraction of its start
  // Until converged: when above `rounds`, rounds go on past `rounds`, one at a time, up to
  // this many; an example whose last round met the convergence rule is frozen there (its
  // iterate kept), and the batch stops once every example is frozen. 0: exactly `rounds`.
  int max_rounds = 0;
  int last_round() const { return std::max(rounds, max_rounds); }  // rounds the schedule may run
  double step_for_round(int round) const;  // step * 0.5^round (with the default resolved)
};

struct SynthProgress {
  std::string layer;
  int64_t step = 0, total = 0;
  int round = 0;
  double mean_loss = 0;
  double elapsed_s = 0, eta_s = 0;
};
using ProgressFn = std::function<void(const SynthProgress&)>;

struct SynthOutcome {
  stimuli::Array metamer;
  int64_t iterations = 0;   // steps taken for this reference
  double final_loss = 0;    // at the last iterate
  bool nonfinite = false;   // stopped on NaN or Inf
  std::string message;      // why it stopped, if it did
  // The loss as it fell: (step, loss of the iterate before that step), about 100 points and
  // every round's start, then (the batch's last step, final_loss).
  std::vector<std::pair<int64_t, double>> loss_curve;
  // The loss changed by less than converge_tol of its starting value over the last round
  // (over the last half of the steps when there is one round): the metamer has converged.
  bool converged = false;
  int rounds = 0;           // rounds this reference ran (until converged: where it was frozen)
};
// The convergence rule of SynthOutcome::converged, from a loss curve.
bool loss_converged(const std::vector<std::pair<int64_t, double>>& curve, int64_t iterations, int rounds, double tol);

// Synthesizes one metamer per reference at `layer`, all references of the batch at once
// but independently (per-example loss, per-example gradient normalization). If
// `checkpoint_path` is not empty the state is saved there every checkpoint_every steps
// (atomically) and an existing checkpoint for the same inputs and options is resumed.
// Returns an empty vector if stop_after or cancel interrupted the run.
std::vector<SynthOutcome> synthesize(const ModelHandle& m, const std::string& layer,
                                     const std::vector<stimuli::Array>& references,
                                     const SynthOptions& opt,
                                     const std::string& checkpoint_path = "",
                                     const ProgressFn& progress = nullptr);

// The noise start for a stimulus of this model (same for every layer and reference).
stimuli::Array initial_noise(const ModelInfo& info, uint64_t seed, double audio_sigma);

// [SECTION] Runtime -----------------------------------------------------------------------
struct Runtime {
  int threads = 0;              // torch's intra-op threads (0: one per core)
  Device device = Device::cpu;  // checked: cuda needs a CUDA build of LibTorch and a GPU
};
// Sets torch's threads and checks the device. Call once at program start. Throws
// std::runtime_error (one line naming the option) for far too many threads or a device
// this LibTorch cannot use (Debian's is built without CUDA).
void init_runtime(const Runtime& r = {});
int runtime_threads();
std::string program_version();

}  // namespace mm::synth
