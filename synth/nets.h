// synth/nets.h: metamerlab's own trainable C++ networks (torch side; internal to synth/).
//
// Two networks implement the Model interface: an image network (a small ResNet-style CNN
// with named stages conv1, stage1..stage3, avgpool, logits over [3,H,W] in [0,1]) and an
// audio network (the engine's cochleagram, then conv1, stage1..stage3, avgpool, logits over
// [N] samples in [-1,1]). Both stop at the deepest requested layer and apply the fake ReLU
// at measured layers. Weights are saved with torch::save plus a JSON sidecar (FILE.json)
// that says how to rebuild the network, and loaded back with load_net. The training
// helpers (PGD, the training loop on in-memory tensors) live in synth/train.cpp and are
// declared here so the tests can drive them without files.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "synth/model.h"
#include "synth/model_meta.h"
#include "synth/train.h"

namespace mm::synth {

// [SECTION] Networks ----------------------------------------------------------------------
// NetConfig (how to rebuild a network; its sidecar parser) is in synth/model_meta.h.

class TrainableNet : public Model {
 public:
  virtual torch::nn::Module& module() = 0;   // parameters, buffers, train()/eval()
  virtual const NetConfig& config() const = 0;
  // Sets the info's JSON (the sidecar as stored), path and sha256 after saving or loading.
  virtual void set_record(const std::string& json, const std::string& path, const std::string& sha256) = 0;
  // Renames the model as users name it (zoo:NAME for the bundled models).
  virtual void set_spec(const std::string& spec) = 0;
  // Moves parameters and buffers to a device (device() reports it).
  virtual void to_device(torch::Device d) = 0;
  // Logits for a batch (the whole forward, real ReLUs).
  torch::Tensor logits(const torch::Tensor& x) { return forward(x, {"logits"}, false).at("logits"); }
  // A parameter-free front end (audio: the cochleagram; images: none) and the rest of the
  // network, so standard training can compute the front end once per item:
  // logits(x) == logits_after_frontend(frontend(x)).
  virtual bool has_frontend() const { return false; }
  virtual torch::Tensor frontend(const torch::Tensor& x) { return x; }
  virtual torch::Tensor logits_after_frontend(const torch::Tensor& f) { return logits(f); }
};

// Builds a network with torch's default (seeded by the caller) initialization.
std::unique_ptr<TrainableNet> make_net(const NetConfig& c);
// The sidecar's network part: modality, input, range, classes, layers, arch.
nlohmann::json net_json(const TrainableNet& n);
// Writes the weights (atomically) and path + ".json" = net_json merged with `extra`
// (recipe, data, metrics) and the weights' sha256. Returns the sha256.
std::string save_net(TrainableNet& n, const std::string& path, const nlohmann::json& extra);
// Rebuilds the network from path + ".json" and loads the weights. Throws naming the file.
std::unique_ptr<TrainableNet> load_net(const std::string& path);
// is_net_file and load_net_model (the engine's way in) are declared in synth/model.h.

// [SECTION] Training on tensors -----------------------------------------------------------
struct TensorSet {
  torch::Tensor x;   // [N, ...] float (images may be uint8 0..255, scaled on use)
  torch::Tensor y;   // [N] int64
  int64_t size() const { return y.defined() ? y.size(0) : 0; }
  torch::Tensor batch_x(const torch::Tensor& idx) const;  // float, in the model's range
};

// PGD adversarial examples for (x, y) under the model in its current mode; `gen` draws
// the random start. Returns detached inputs in [lo, hi] within eps of x.
torch::Tensor pgd_attack(TrainableNet& net, const torch::Tensor& x, const torch::Tensor& y,
                         const PgdOptions& o, float lo, float hi, at::Generator gen);
// PGD with a given function from the attacked tensor to logits (the whole network, or the
// network after its front end), within [lo, hi].
torch::Tensor pgd_attack_with(const std::function<torch::Tensor(const torch::Tensor&)>& logits, const torch::Tensor& x,
                              const torch::Tensor& y, const PgdOptions& o, float lo, float hi, at::Generator gen);
// Accuracy on a set (eval mode; under `attack` unless its norm is none; attack.frontend:
// the attack perturbs the front end's output).
double accuracy(TrainableNet& net, const TensorSet& s, const PgdOptions& attack, int batch, uint64_t seed);
// --style-augment's per-item colour and detail changes of a batch of images [B, 3, H, W]
// (train.cpp): channel permutation p 0.5, greyscale p 0.2, blur p 0.3; the same
// generator state gives the same result.
torch::Tensor style_augment_images(const torch::Tensor& x, at::Generator gen);
// The training loop (opt.data_dir, out, eval fields unused): trains `net` in place,
// checkpointing to opt.checkpoint when set. Fills steps, resumed, finished and the final
// training loss/accuracy of the report.
void train_on_tensors(TrainableNet& net, const TensorSet& train, const TrainOptions& opt, TrainReport& rep);

}  // namespace mm::synth
