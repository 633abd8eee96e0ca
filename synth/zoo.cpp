// synth/zoo.cpp: models written in C++ (the bundled zoo), and the fake-ReLU function.
//
// C++ models implement the same Model interface as imported archives: named stages, a
// forward that stops at the deepest requested layer, and the fake ReLU at measured layers.
// `zoo:tiny-cnn` is a small ResNet-style CNN over 64×64 RGB with seeded (untrained)
// weights, used by the engine's tests. `zoo:emoji16-standard|robust` and
// `zoo:words16-standard|robust` are metamerlab's trained networks (synth/nets.h), weights
// under models/ (made by tools/build-zoo.sh).
//
// Sections
//   [SECTION] Fake ReLU
//   [SECTION] TinyCnn       the network
//   [SECTION] Registry      register_builtin_models
#include <mutex>

#include "data/store.h"
#include "synth/model.h"

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

// [SECTION] TinyCnn -----------------------------------------------------------------------
namespace {

struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t in, int64_t out, int64_t stride)
      : c1(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
        b1(out),
        c2(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)),
        b2(out) {
    register_module("c1", c1);
    register_module("b1", b1);
    register_module("c2", c2);
    register_module("b2", b2);
    if (stride != 1 || in != out) {
      skip = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
    }
  }
  // Pre-activation sum; the caller applies (fake) ReLU.
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = b2(c2(torch::relu(b1(c1(x)))));
    return y + (skip ? skip(x) : x);
  }
  torch::nn::Conv2d c1, skip{nullptr};
  torch::nn::BatchNorm2d b1;
  torch::nn::Conv2d c2;
  torch::nn::BatchNorm2d b2;
};
TORCH_MODULE(Block);

struct TinyCnnNet : torch::nn::Module {
  TinyCnnNet(int64_t classes)
      : conv1(torch::nn::Conv2dOptions(3, 16, 3).padding(1).bias(false)),
        bn1(16),
        stage1(16, 16, 1),
        stage2(16, 32, 2),
        stage3(32, 64, 2),
        fc(64, classes) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("stage1", stage1);
    register_module("stage2", stage2);
    register_module("stage3", stage3);
    register_module("fc", fc);
  }
  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  Block stage1, stage2, stage3;
  torch::nn::Linear fc;
};

class TinyCnn final : public Model {
 public:
  TinyCnn() : net_(std::make_shared<TinyCnnNet>(4)) {
    info_.spec = "zoo:tiny-cnn";
    info_.modality = "image";
    info_.input_shape = {3, 64, 64};
    info_.lo = 0;
    info_.hi = 1;
    info_.classes = {"checker", "disc", "ring", "stripes"};
    info_.layers = {"conv1", "stage1", "stage2", "stage3", "avgpool", "logits"};
    info_.json = R"({"modality":"image","input":{"shape":[3,64,64]},"range":[0,1],)"
                 R"("classes":["checker","disc","ring","stripes"],)"
                 R"("layers":["conv1","stage1","stage2","stage3","avgpool","logits"],"weights":"seeded-untrained"})";
    // Weights: seeded initialization (no training yet); the hash identifies them.
    net_->eval();
    std::string bytes;
    for (auto& p : net_->parameters()) {
      p.set_requires_grad(false);
      auto c = p.contiguous();
      bytes.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
    }
    info_.sha256 = data::sha256_hex(bytes.data(), bytes.size());
  }
  const ModelInfo& info() const override { return info_; }

  std::map<std::string, torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::string>& layers,
                                               bool fake) override {
    size_t deepest = 0;
    for (const auto& l : layers) {
      auto it = std::find(info_.layers.begin(), info_.layers.end(), l);
      if (it == info_.layers.end()) throw_unknown_layer(info_, l);
      deepest = std::max(deepest, static_cast<size_t>(it - info_.layers.begin()));
    }
    auto want = [&](const char* n) { return std::find(layers.begin(), layers.end(), n) != layers.end(); };
    auto act = [&](const torch::Tensor& pre, const char* n) { return (fake && want(n)) ? fake_relu(pre) : torch::relu(pre); };
    std::map<std::string, torch::Tensor> out;
    auto keep = [&](const char* n, const torch::Tensor& v) {
      if (want(n)) out[n] = v;
    };
    auto h = net_->bn1(net_->conv1(x));
    auto h_out = act(h, "conv1");
    keep("conv1", h_out);
    h = torch::relu(h);
    if (deepest < 1) return out;
    auto s1 = net_->stage1(h);
    keep("stage1", act(s1, "stage1"));
    s1 = torch::relu(s1);
    if (deepest < 2) return out;
    auto s2 = net_->stage2(s1);
    keep("stage2", act(s2, "stage2"));
    s2 = torch::relu(s2);
    if (deepest < 3) return out;
    auto s3 = net_->stage3(s2);
    keep("stage3", act(s3, "stage3"));
    s3 = torch::relu(s3);
    if (deepest < 4) return out;
    auto pooled = s3.mean({2, 3});
    keep("avgpool", pooled);
    if (deepest < 5) return out;
    keep("logits", net_->fc(pooled));
    return out;
  }

 private:
  std::shared_ptr<TinyCnnNet> net_;
  ModelInfo info_;
};

}  // namespace

// [SECTION] Registry ----------------------------------------------------------------------
void register_builtin_models() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_zoo_model("tiny-cnn", "", [](const std::string&) -> std::unique_ptr<Model> {
      torch::manual_seed(20231016);
      return std::make_unique<TinyCnn>();
    });
    // The trained demo models (tools/build-zoo.sh; recipes and metrics in models/README.md).
    for (const char* name : {"emoji16-standard", "emoji16-robust", "words16-standard", "words16-robust"}) {
      const std::string spec = std::string("zoo:") + name;
      register_zoo_model(name, std::string(name) + ".pt", [spec](const std::string& weights) -> std::unique_ptr<Model> {
        return load_net_model(weights, spec);
      });
    }
  });
}

}  // namespace mm::synth
