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
//   [SECTION] Registry      spec -> model: zoo:NAME, trained-net file, TorchScript archive
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
  // Where the model computes (inputs must be moved there).
  virtual torch::Device device() const { return torch::kCPU; }
};

// [SECTION] Registry ----------------------------------------------------------------------
// The one place a model spec becomes a model (synth/registry.cpp). Three kinds:
//   zoo:NAME      a C++ network registered under NAME (the bundled trained networks are
//                 registered by the registry itself; tests register their own)
//   FILE          a network `metamerlab train` wrote: weights + FILE.json sidecar (nets.h)
//   FILE          otherwise a TorchScript archive with metamerlab.json (model_torchscript.cpp)
// Models are loaded onto `device` and compute there; callers move inputs to model_device().

// Builds a zoo network on `device`; weights_path is its weights file ("" when it has none).
using ZooFactory = std::function<std::unique_ptr<Model>(const std::string& weights_path, torch::Device device)>;
// Registers zoo:NAME. `weights_file` ("" for none) is looked up in the models folder
// (METAMERLAB_MODELS, else the installed data folder's models/).
void register_zoo_model(const std::string& name, const std::string& weights_file, ZooFactory f);
std::vector<std::string> zoo_names();  // registered names, sorted
// Resolves a spec into a model on `device`. Throws std::runtime_error naming the file or
// the spec and the fix.
std::unique_ptr<Model> open_model(const std::string& spec, torch::Device device);

// The kinds' loaders, as open_model calls them.
std::unique_ptr<Model> load_torchscript(const std::string& path, torch::Device device);
// is_net_file: path + ".json" is a sidecar `metamerlab train` wrote; load_net_model loads
// that network for the engine (eval mode, parameters frozen) and names it `spec` (path if "").
bool is_net_file(const std::string& path);
std::unique_ptr<Model> load_net_model(const std::string& path, const std::string& spec, torch::Device device);

// Throws the standard unknown-layer error.
[[noreturn]] void throw_unknown_layer(const ModelInfo& info, const std::string& layer);

// [SECTION] Fake ReLU ---------------------------------------------------------------------
// ReLU in the forward pass, identity in the backward pass.
torch::Tensor fake_relu(const torch::Tensor& x);

}  // namespace mm::synth
