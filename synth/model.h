// synth/model.h: the model interface every network implements (torch side; internal to synth/).
//
// A model maps a batch of stimuli to named activations. Whether it is an imported
// TorchScript archive or a C++ network, it computes only what the requested layers need,
// and can apply the paper's "fake ReLU" (ReLU forward, identity backward) at the measured
// layers. Include only from synth/ translation units: it pulls in torch.
//
// Sections
//   [SECTION] Info          what the model takes and gives (metamerlab.json)
//   [SECTION] Model         the interface
//   [SECTION] Loading       path or zoo:NAME; C++ model registry
//   [SECTION] Fake ReLU     the autograd function
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "synth/engine.h"

namespace mm::synth {

// [SECTION] Model -------------------------------------------------------------------------
class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  // x: [B, ...input shape] in the model's range. Returns the requested layers' activations
  // (each [B, ...]); computes nothing past the deepest layer asked for. With fake_relu, a
  // requested layer whose value comes out of a ReLU gets the identity gradient.
  // Throws std::runtime_error listing the existing layers when a name is unknown.
  virtual std::map<std::string, torch::Tensor> forward(const torch::Tensor& x,
                                                       const std::vector<std::string>& layers,
                                                       bool fake_relu) = 0;
};

// [SECTION] Loading -----------------------------------------------------------------------
// A C++ model factory: builds the network (weights from its file, if any).
using ModelFactory = std::function<std::unique_ptr<Model>(const std::string& weights_path)>;
// Registers zoo:NAME. `weights_file` is looked up under models/ of the source tree and next
// to the binary; "" means the model has no weights file.
void register_zoo_model(const std::string& name, const std::string& weights_file, ModelFactory f);
std::vector<std::string> zoo_names();
// Loads a TorchScript archive path or zoo:NAME. Throws naming the file and the fix.
std::unique_ptr<Model> load_model_impl(const std::string& spec, ModelInfo* resolved_info);

// Networks written by `metamerlab train` (weights + FILE.json sidecar; synth/nets.cpp):
// is_net_file is true if path + ".json" is such a sidecar; load_net_model loads one for the
// engine (eval mode, parameters frozen) and names it `spec` (path if "").
bool is_net_file(const std::string& path);
std::unique_ptr<Model> load_net_model(const std::string& path, const std::string& spec);

// Throws the standard unknown-layer error.
[[noreturn]] void throw_unknown_layer(const ModelInfo& info, const std::string& layer);

// [SECTION] Fake ReLU ---------------------------------------------------------------------
// ReLU in the forward pass, identity in the backward pass.
torch::Tensor fake_relu(const torch::Tensor& x);

}  // namespace mm::synth
