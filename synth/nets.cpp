// synth/nets.cpp: metamerlab's trainable image and audio networks, and their save/load.
//
// Both networks share one residual backbone: conv1 (conv + batch norm), three residual
// stages that each halve the resolution (width, 2x width, 4x width channels), global
// average pooling and a linear classifier. The image network feeds it [3,H,W] in [0,1];
// the audio network feeds it the engine's cochleagram of [N] samples (scaled to zero mean,
// unit spread by a fixed affine map, so the first layer sees values near 1).
//
// Sections
//   [SECTION] Backbone      residual blocks and stages
//   [SECTION] Networks      ImageNet / AudioNet implementing Model
//   [SECTION] Save and load weights + sidecar
#include "synth/nets.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/sha256.h"
#include "synth/cochleagram.h"

namespace mm::synth {
namespace fs = std::filesystem;

// [SECTION] Backbone ----------------------------------------------------------------------
namespace {

// Two 3x3 convolutions with batch norm and a projection shortcut when the shape changes.
// Returns the pre-activation sum; the caller applies the (fake) ReLU.
struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv_a(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
        norm_a(out),
        conv_b(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)),
        norm_b(out) {
    register_module("conv_a", conv_a);
    register_module("norm_a", norm_a);
    register_module("conv_b", conv_b);
    register_module("norm_b", norm_b);
    if (stride != 1 || in != out) {
      proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      proj_norm = register_module("proj_norm", torch::nn::BatchNorm2d(out));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = norm_b(conv_b(torch::relu(norm_a(conv_a(x)))));
    return h + (proj ? proj_norm(proj(x)) : x);
  }
  torch::nn::Conv2d conv_a;
  torch::nn::BatchNorm2d norm_a;
  torch::nn::Conv2d conv_b;
  torch::nn::BatchNorm2d norm_b;
  torch::nn::Conv2d proj{nullptr};
  torch::nn::BatchNorm2d proj_norm{nullptr};
};
TORCH_MODULE(ResBlock);

struct BackboneImpl : torch::nn::Module {
  BackboneImpl(int64_t in_ch, int64_t width, int64_t classes, int64_t k1, int64_t s1)
      : conv1(torch::nn::Conv2dOptions(in_ch, width, k1).stride(s1).padding(k1 / 2).bias(false)),
        bn1(width),
        stage1(width, width, 2),
        stage2(width, 2 * width, 2),
        stage3(2 * width, 4 * width, 2),
        fc(4 * width, classes) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("stage1", stage1);
    register_module("stage2", stage2);
    register_module("stage3", stage3);
    register_module("fc", fc);
  }
  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  ResBlock stage1, stage2, stage3;
  torch::nn::Linear fc;
};
TORCH_MODULE(Backbone);

// Runs the backbone from `h` (its input) and keeps the requested layers. `first` is the
// index of "conv1" in `names`; layers before it were handled by the caller.
void run_backbone(Backbone& b, torch::Tensor h, const std::vector<std::string>& names, size_t first,
                  const std::vector<std::string>& want, size_t deepest, bool fake,
                  std::map<std::string, torch::Tensor>& out) {
  auto wanted = [&](size_t i) { return std::find(want.begin(), want.end(), names[i]) != want.end(); };
  auto stage = [&](size_t i, const torch::Tensor& pre) {
    if (wanted(i)) out[names[i]] = fake ? fake_relu(pre) : torch::relu(pre);
    return torch::relu(pre);
  };
  h = stage(first, b->bn1(b->conv1(h)));
  if (deepest <= first) return;
  h = stage(first + 1, b->stage1(h));
  if (deepest <= first + 1) return;
  h = stage(first + 2, b->stage2(h));
  if (deepest <= first + 2) return;
  h = stage(first + 3, b->stage3(h));
  if (deepest <= first + 3) return;
  auto pooled = h.mean({2, 3});
  if (wanted(first + 4)) out[names[first + 4]] = pooled;
  if (deepest <= first + 4) return;
  out[names[first + 5]] = b->fc(pooled);
}

size_t deepest_index(const ModelInfo& info, const std::vector<std::string>& layers) {
  if (layers.empty()) throw std::runtime_error((info.path.empty() ? info.spec : info.path) + ": no layer requested");
  size_t d = 0;
  for (const auto& l : layers) {
    auto it = std::find(info.layers.begin(), info.layers.end(), l);
    if (it == info.layers.end()) throw_unknown_layer(info, l);
    d = std::max(d, static_cast<size_t>(it - info.layers.begin()));
  }
  return d;
}

// [SECTION] Networks ----------------------------------------------------------------------
class NetBase : public TrainableNet {
 public:
  const ModelInfo& info() const override { return info_; }
  const NetConfig& config() const override { return cfg_; }
  void set_record(const std::string& json, const std::string& path, const std::string& sha256) override {
    info_.json = json;
    info_.path = path;
    info_.spec = path;
    info_.sha256 = sha256;
  }
  void set_spec(const std::string& spec) override { info_.spec = spec; }
  torch::Device device() const override { return device_; }
  void to_device(torch::Device d) override {
    module().to(d);
    device_ = d;
  }

 protected:
  NetConfig cfg_;
  ModelInfo info_;
  torch::Device device_ = torch::kCPU;
};

class ImageNet final : public NetBase {
 public:
  explicit ImageNet(const NetConfig& c) {
    cfg_ = c;
    root_ = std::make_shared<torch::nn::Module>();
    body_ = root_->register_module("body", Backbone(3, c.width, static_cast<int64_t>(c.classes.size()),
                                                                c.stem_stride == 1 ? 3 : 5, c.stem_stride));
    info_.spec = "image-resnet";
    info_.modality = "image";
    info_.input_shape = {3, c.image_size, c.image_size};
    info_.lo = 0;
    info_.hi = 1;
    info_.classes = c.classes;
    info_.layers = {"conv1", "stage1", "stage2", "stage3", "avgpool", "logits"};
    info_.json = net_json(*this).dump();
  }
  torch::nn::Module& module() override { return *root_; }
  std::map<std::string, torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::string>& layers,
                                               bool fake) override {
    const size_t deepest = deepest_index(info_, layers);
    std::map<std::string, torch::Tensor> out;
    run_backbone(body_, x, info_.layers, 0, layers, deepest, fake, out);
    return out;
  }

 private:
  std::shared_ptr<torch::nn::Module> root_;
  Backbone body_{nullptr};
};

// The cochleagram's options for a network config: 16 kHz-safe band edges, a coarse
// filter bank (20 ERB filters, 2x overcomplete: 45 channels) and 200 Hz envelopes, so a
// 1 s clip gives a [1, 45, T] image the CNN can afford on CPU.
CochleagramOptions coch_options(const NetConfig& c) {
  CochleagramOptions o;
  o.sample_rate = c.sample_rate;
  o.signal_samples = c.samples;
  o.n_filters = 20;
  o.sample_factor = 2;
  o.low_hz = 50;
  o.high_hz = std::min(8000.0, 0.475 * c.sample_rate);
  o.env_sr = 200;
  // The largest decimation up to the configured one that divides the clip and the
  // envelope factor (4 at 16 kHz: envelopes computed at 4 kHz, about 4x cheaper).
  const int64_t d = std::llround(o.sample_rate / o.env_sr);
  o.envelope_decimation = 1;
  for (int r = std::max(1, c.envelope_decimation); r > 1; --r)
    if (c.samples % r == 0 && d % r == 0) {
      o.envelope_decimation = r;
      break;
    }
  return o;
}

class AudioNet final : public NetBase {
 public:
  explicit AudioNet(const NetConfig& c) {
    cfg_ = c;
    root_ = std::make_shared<torch::nn::Module>();
    coch_ = root_->register_module("cochleagram", Cochleagram(coch_options(c)));
    body_ = root_->register_module("body", Backbone(1, c.width, static_cast<int64_t>(c.classes.size()), 5, 2));
    info_.spec = "audio-cochcnn";
    info_.modality = "audio";
    info_.input_shape = {c.samples};
    info_.sample_rate = c.sample_rate;
    info_.lo = -1;
    info_.hi = 1;
    info_.classes = c.classes;
    info_.layers = {"cochleagram", "conv1", "stage1", "stage2", "stage3", "avgpool", "logits"};
    info_.json = net_json(*this).dump();
  }
  torch::nn::Module& module() override { return *root_; }
  bool has_frontend() const override { return true; }
  torch::Tensor frontend(const torch::Tensor& x) override { return coch_->forward(x); }
  torch::Tensor logits_after_frontend(const torch::Tensor& f) override {
    std::map<std::string, torch::Tensor> out;
    run_backbone(body_, (f - 0.2) * 5.0, info_.layers, 1, {"logits"}, info_.layers.size() - 1, false, out);
    return out.at("logits");
  }
  std::map<std::string, torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::string>& layers,
                                               bool fake) override {
    const size_t deepest = deepest_index(info_, layers);
    std::map<std::string, torch::Tensor> out;
    auto c = coch_->forward(x);  // [B,1,F,T], already ReLU'd with identity gradient
    if (std::find(layers.begin(), layers.end(), "cochleagram") != layers.end()) out["cochleagram"] = c;
    if (deepest == 0) return out;
    // A fixed affine map: compressed envelopes of RMS-0.1 speech sit around 0.1-0.4.
    run_backbone(body_, (c - 0.2) * 5.0, info_.layers, 1, layers, deepest, fake, out);
    return out;
  }

 private:
  std::shared_ptr<torch::nn::Module> root_;
  Cochleagram coch_{nullptr};
  Backbone body_{nullptr};
};

}  // namespace

std::unique_ptr<TrainableNet> make_net(const NetConfig& c) {
  if (c.classes.size() < 2) throw std::runtime_error("a network needs at least 2 classes, got " + std::to_string(c.classes.size()));
  if (c.width < 1) throw std::runtime_error("network width must be positive");
  if (c.modality == "image") {
    if (c.image_size < 8) throw std::runtime_error("image size must be at least 8 pixels");
    if (c.stem_stride != 1 && c.stem_stride != 2) throw std::runtime_error("--stem-stride must be 1 or 2");
    return std::make_unique<ImageNet>(c);
  }
  if (c.modality == "audio") return std::make_unique<AudioNet>(c);
  throw std::runtime_error("modality must be image or audio, not \"" + c.modality + "\"");
}

// [SECTION] Save and load -----------------------------------------------------------------
nlohmann::json net_json(const TrainableNet& n) {
  const auto& i = n.info();
  const auto& c = n.config();
  nlohmann::json j;
  j["modality"] = i.modality;
  if (i.modality == "image") j["input"] = {{"shape", i.input_shape}};
  else j["input"] = {{"samples", i.input_shape.at(0)}, {"sample_rate", i.sample_rate}};
  j["range"] = {i.lo, i.hi};
  j["classes"] = i.classes;
  j["layers"] = i.layers;
  j["arch"] = {{"name", i.modality == "image" ? "metamerlab-image-resnet" : "metamerlab-audio-cochcnn"},
               {"width", c.width}, {"image_size", c.image_size}, {"stem_stride", c.stem_stride}, {"envelope_decimation", c.envelope_decimation}, {"sample_rate", c.sample_rate},
               {"samples", c.samples}};
  return j;
}

std::string save_net(TrainableNet& n, const std::string& path, const nlohmann::json& extra) {
  const std::string tmp = path + ".tmp";
  torch::serialize::OutputArchive ar;
  n.module().save(ar);
  ar.save_to(tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error(path + ": cannot write the weights (" + ec.message() + "); check the folder");
  const std::string sha = data::sha256_file(path);
  nlohmann::json j = net_json(n);
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  j["weights"] = fs::path(path).filename().string();
  j["sha256"] = sha;
  const std::string text = j.dump(2) + "\n";
  stimuli::write_file_atomic(path + ".json", text);
  n.set_record(j.dump(), path, sha);
  return sha;
}

std::unique_ptr<TrainableNet> load_net(const std::string& path) {
  const std::string side = path + ".json";
  const NetSidecar sc = read_net_sidecar(path);  // synth/model_meta.cpp: parsed and checked
  const nlohmann::json& j = sc.json;
  const NetConfig& c = sc.config;
  auto n = make_net(c);
  if (!fs::exists(path)) throw std::runtime_error(path + ": weights file not found");
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    n->module().load(ar);
  } catch (const c10::Error& e) {
    std::string m = e.what_without_backtrace();
    throw std::runtime_error(path + ": cannot load the weights (" + m.substr(0, m.find('\n')) + ")");
  }
  const std::string sha = data::sha256_file(path);
  if (j.contains("sha256") && sc.sha256 != sha)
    throw std::runtime_error(path + ": weights do not match the sha256 in " + side + "; the file was changed or truncated");
  n->module().eval();
  n->set_record(j.dump(), path, sha);
  return n;
}

bool is_net_file(const std::string& path) {
  std::ifstream f(path + ".json");
  if (!f) return false;
  try {
    auto j = nlohmann::json::parse(f);
    return j.contains("arch") && j["arch"].contains("name") &&
           j["arch"]["name"].get<std::string>().rfind("metamerlab-", 0) == 0;
  } catch (const std::exception&) {
    return false;
  }
}

std::unique_ptr<Model> load_net_model(const std::string& path, const std::string& spec, torch::Device device) {
  auto n = load_net(path);
  n->to_device(device);
  for (auto& p : n->module().parameters()) p.set_requires_grad(false);
  if (!spec.empty()) n->set_spec(spec);
  return n;
}

}  // namespace mm::synth
