// synth/registry.cpp: the one place a model spec becomes a model, and the fake ReLU.
//
// Kinds: zoo:NAME (a registered C++ network; the four bundled trained networks are
// registered here, tests register their own), a file `metamerlab train` wrote (weights +
// sidecar, synth/nets.cpp) and a TorchScript archive (synth/model_torchscript.cpp).
//
// Sections
//   [SECTION] Fake ReLU     the autograd function
//   [SECTION] Zoo           registration, weights files, the bundled networks
//   [SECTION] Resolve       open_model
#include <torch/csrc/jit/python/update_graph_executor_opt.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "stimuli/resources.h"
#include "synth/model.h"

namespace fs = std::filesystem;

namespace mm::synth {

// [SECTION] Fake ReLU ---------------------------------------------------------------------
namespace {
struct FakeReluFn : public torch::autograd::Function<FakeReluFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& x) { return torch::relu(x); }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext*, torch::autograd::tensor_list g) {
    return {g[0]};
  }
};
}  // namespace

torch::Tensor fake_relu(const torch::Tensor& x) { return FakeReluFn::apply(x); }

void throw_unknown_layer(const ModelInfo& info, const std::string& layer) {
  std::string list;
  for (const auto& l : info.layers) list += (list.empty() ? "" : ", ") + l;
  throw std::runtime_error((info.path.empty() ? info.spec : info.path) + ": no layer \"" + layer + "\"; layers: " + list);
}

// [SECTION] Zoo ---------------------------------------------------------------------------
namespace {

struct ZooEntry {
  std::string weights_file;
  ZooFactory factory;
};

std::mutex& zoo_mutex() {
  static std::mutex m;
  return m;
}

// Registered networks, with the bundled trained ones (tools/build-zoo.sh; recipes and
// metrics in models/README.md) added on first use.
std::map<std::string, ZooEntry>& zoo() {
  static std::map<std::string, ZooEntry> z = [] {
    std::map<std::string, ZooEntry> b;
    for (const char* name : {"emoji16-standard", "emoji16-robust", "words16-standard", "words16-robust"}) {
      const std::string spec = std::string("zoo:") + name;
      b[name] = {std::string(name) + ".pt", [spec](const std::string& weights, torch::Device device) {
                   return load_net_model(weights, spec, device);
                 }};
    }
    return b;
  }();
  return z;
}

// The models folder: METAMERLAB_MODELS, else the data folder's models/.
std::string find_model_file(const std::string& name, const std::string& spec) {
  fs::path dir;
  if (const char* env = std::getenv("METAMERLAB_MODELS"); env && *env) dir = env;
  else dir = stimuli::data_path("models", spec);
  std::error_code ec;
  if (!fs::exists(dir / name, ec))
    throw std::runtime_error(spec + ": weights file " + name + " not found in " + dir.string() +
                             "; reinstall metamerlab (its models/ folder) or set METAMERLAB_MODELS");
  return (dir / name).string();
}

}  // namespace

void register_zoo_model(const std::string& name, const std::string& weights_file, ZooFactory f) {
  std::lock_guard<std::mutex> lock(zoo_mutex());
  zoo()[name] = ZooEntry{weights_file, std::move(f)};
}

std::vector<std::string> zoo_names() {
  std::lock_guard<std::mutex> lock(zoo_mutex());
  std::vector<std::string> n;
  for (const auto& [k, v] : zoo()) n.push_back(k);
  return n;
}

// [SECTION] Resolve -----------------------------------------------------------------------
std::unique_ptr<Model> open_model(const std::string& spec, torch::Device device) {
  torch::jit::setGraphExecutorOptimize(false);  // plain interpreter: deterministic, no warm-up runs
  if (spec.rfind("zoo:", 0) == 0) {
    const std::string name = spec.substr(4);
    ZooEntry entry;
    {
      std::lock_guard<std::mutex> lock(zoo_mutex());
      auto it = zoo().find(name);
      if (it != zoo().end()) entry = it->second;
    }
    if (!entry.factory) {
      std::string list;
      for (const auto& n : zoo_names()) list += (list.empty() ? "" : ", ") + ("zoo:" + n);
      throw std::runtime_error(spec + ": no such bundled model; bundled: " + list);
    }
    const std::string weights = entry.weights_file.empty() ? "" : find_model_file(entry.weights_file, spec);
    return entry.factory(weights, device);
  }
  if (is_net_file(spec)) return load_net_model(spec, "", device);  // weights + sidecar from metamerlab train
  return load_torchscript(spec, device);
}

}  // namespace mm::synth
