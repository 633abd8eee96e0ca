// synth/train.h: training metamerlab's own networks (the torch-free face of `metamerlab train`).
//
// Trains the C++ image network (a small ResNet-style CNN over [3,H,W] in [0,1]) or audio
// network (the engine's cochleagram and a small CNN over [N] samples in [-1,1]) on a data
// set in the emoji16/words16 layout (DIR/train/<category>/*, DIR/test/<category>/*),
// loaded into memory once. Standard training or PGD adversarial training (L2 or L-inf),
// seeded and reproducible (a fixed data order per epoch and seed, per-step random
// generators), with a progress line, checkpoints every few steps that a killed run resumes
// from bit-identically, and an evaluation at the end (clean accuracy on the held-out test
// split and accuracy under PGD at the model's eps). Writes the weights (torch::save) and
// a JSON sidecar FILE.json (metamerlab.json-like: input, range, classes, layers, recipe,
// data version, metrics, sha256 of the weights). Callers see no torch.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace mm::synth {

enum class Norm { none, l2, linf };

// Projected gradient descent (Madry et al.): maximizes the cross-entropy within the eps
// ball around each input (and inside the model's input range).
struct PgdOptions {
  Norm norm = Norm::none;
  double eps = 0;
  int steps = 5;
  double step_size = -1;     // <0: eps/2 (the paper's audio recipe)
  bool random_start = true;
  // Where the attack perturbs: the input (images, waveforms), or the network's fixed front
  // end's output (audio: the cochleagram, as in the paper's cochleagram-space models).
  bool frontend = false;
  double step() const { return step_size > 0 ? step_size : eps / 2; }
};

struct TrainOptions {
  std::string data_dir;      // DIR/train/<category>/*, DIR/test/<category>/*
  std::string modality;      // image | audio
  std::string out;           // weights file; the sidecar is out + ".json"
  int epochs = 10;
  int batch = 64;
  double lr = 0.05;
  std::string optimizer = "sgd";   // sgd (momentum 0.9, Nesterov off) | adam
  std::string schedule = "cosine"; // cosine (to 0 over the run) | step (x0.1 at 50% and 75%)
  double weight_decay = 5e-4;
  uint64_t seed = 0;
  int width = 16;            // channels of the first stage (then x2, x4)
  int image_size = 64;       // images: side in pixels
  int stem_stride = 1;       // images: conv1's stride (1 or 2)
  bool augment = false;      // on-line augmentation per step (train.cpp): images flip, shift, cutout;
                             // audio (standard training) cochleagram shifts and masks
  bool style_augment = false;  // images: on-line colour and detail augmentation (train.cpp):
                               // channel permutation, greyscale, blur
  double label_smoothing = 0;  // cross-entropy target smoothing, 0 <= x < 1
  double mixup = 0;            // mixup: pairs mixed with lambda ~ Beta(a, a) per batch (0: off)
  int sample_rate = 16000;   // audio
  int64_t samples = 16000;   // audio: clip length
  PgdOptions train_attack;   // norm none: standard training
  PgdOptions eval_attack;    // the attack of the final evaluation (norm none: skipped)
  std::string init;          // start from these weights (a metamerlab train output: fine-tuning); "" = fresh
  std::string checkpoint;    // "" = out + ".ckpt"; removed after a finished run
  int64_t checkpoint_every = 50;  // steps (0: never)
  int64_t stop_after = -1;   // testing: stop after this many steps (of the whole run) as if killed
  int64_t progress_every = 20;    // steps between progress lines
  int64_t max_train = -1;    // use at most this many training items (timing, tests); <0: all
  std::ostream* progress = nullptr;
};

struct TrainReport {
  bool finished = false;     // false: stop_after interrupted the run
  bool resumed = false;      // started from a checkpoint
  int64_t steps = 0, start_step = 0;
  int64_t train_items = 0, test_items = 0;
  double final_train_loss = 0, final_train_acc = 0;
  double clean_acc = -1;     // on the test split (-1: not evaluated)
  double adv_acc = -1;       // under eval_attack (-1: not evaluated)
  double load_seconds = 0, train_seconds = 0, eval_seconds = 0;
  std::vector<std::string> classes;
  std::string weights_sha256;
};

// Loads the data, trains, evaluates, writes out and out.json. Throws std::runtime_error
// with a one-line message naming the file or option at fault.
TrainReport train(const TrainOptions& opt);

// Rewrites a trained network's weights file in the current format (e.g. after constants
// stopped being saved), keeping its sidecar's recipe, data and metrics; verifies the old
// sha256 first and returns the new one.
std::string resave_net_file(const std::string& path);

Norm parse_norm(const std::string& s);  // none | l2 | linf; throws otherwise
std::string norm_name(Norm n);

}  // namespace mm::synth
