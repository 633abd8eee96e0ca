// synth/engine.cpp: the engine's public face: model handles, classification, similarity
// measures, runtime set-up (null distributions: synth/null.cpp).
//
// Sections
//   [SECTION] Conversions     stimuli::Array <-> torch::Tensor
//   [SECTION] ModelInfo       image/audio specs
//   [SECTION] ModelHandle     open, check_layers, load_stimulus, classify, activations
//   [SECTION] Similarity      Spearman (average ranks for ties), Pearson, SNR
//   [SECTION] Runtime
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

#include "synth/engine_internal.h"
#include "synth/model.h"

#ifndef METAMERLAB_VERSION
#define METAMERLAB_VERSION "0.0.0+unknown"
#endif

namespace mm::synth {

// [SECTION] Conversions -------------------------------------------------------------------
torch::Tensor to_tensor(const stimuli::Array& a) {
  auto t = torch::from_blob(const_cast<float*>(a.data.data()), a.shape, torch::kFloat32);
  return t.clone();
}

torch::Tensor stack_arrays(const std::vector<stimuli::Array>& xs, size_t begin, size_t end) {
  std::vector<torch::Tensor> ts;
  for (size_t i = begin; i < end; ++i) ts.push_back(to_tensor(xs[i]));
  return torch::stack(ts);
}

stimuli::Array to_array(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  stimuli::Array a;
  a.shape.assign(c.sizes().begin(), c.sizes().end());
  a.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return a;
}

void check_input_shape(const ModelInfo& info, const stimuli::Array& a, const std::string& what) {
  if (a.shape != info.input_shape) {
    std::string want, got;
    for (auto s : info.input_shape) want += (want.empty() ? "" : "x") + std::to_string(s);
    for (auto s : a.shape) got += (got.empty() ? "" : "x") + std::to_string(s);
    throw std::runtime_error(what + ": stimulus has shape " + got + " but the model takes " + want +
                             "; load it through the model (crop/resize or resample)");
  }
}

// [SECTION] ModelInfo ---------------------------------------------------------------------
stimuli::ImageSpec ModelInfo::image_spec() const {
  stimuli::ImageSpec s;
  s.channels = static_cast<int>(input_shape.at(0));
  s.height = static_cast<int>(input_shape.at(1));
  s.width = static_cast<int>(input_shape.at(2));
  s.lo = lo;
  s.hi = hi;
  return s;
}

stimuli::AudioSpec ModelInfo::audio_spec() const {
  stimuli::AudioSpec s;
  s.sample_rate = sample_rate;
  s.samples = input_shape.at(0);
  s.rms = 0.1;
  return s;
}

// [SECTION] ModelHandle -------------------------------------------------------------------
const char* device_name(Device d) { return d == Device::cuda ? "cuda" : "cpu"; }

torch::Device torch_device(Device d) { return d == Device::cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU); }

ModelHandle ModelHandle::open(const std::string& spec, Device device) {
  ModelHandle h;
  h.impl_ = open_model(spec, torch_device(device));
  auto info = std::make_shared<ModelInfo>(h.impl_->info());
  info->spec = spec;
  h.info_ = info;
  h.device_ = device;
  return h;
}

const ModelInfo& ModelHandle::info() const { return *info_; }

void ModelHandle::check_layers(const std::vector<std::string>& layers) const {
  if (layers.empty()) throw std::runtime_error(info_->spec + ": no layer given; layers: " + [&] {
                         std::string s;
                         for (const auto& l : info_->layers) s += (s.empty() ? "" : ", ") + l;
                         return s;
                       }());
  for (const auto& l : layers)
    if (std::find(info_->layers.begin(), info_->layers.end(), l) == info_->layers.end()) throw_unknown_layer(*info_, l);
}

stimuli::Array ModelHandle::load_stimulus(const std::string& path, std::string* note) const {
  if (info_->modality == "image") return stimuli::load_image(path, info_->image_spec());
  stimuli::AudioLoadReport rep;
  auto a = stimuli::load_audio(path, info_->audio_spec(), &rep);
  if (note) *note = rep.note;
  return a;
}

std::vector<Prediction> ModelHandle::classify(const std::vector<stimuli::Array>& xs,
                                              const std::vector<std::string>& allowed, int batch) const {
  std::vector<int64_t> allowed_idx;
  for (const auto& a : allowed) {
    auto it = std::find(info_->classes.begin(), info_->classes.end(), a);
    if (it == info_->classes.end())
      throw std::runtime_error(info_->spec + ": category \"" + a + "\" is not one of the model's " +
                               std::to_string(info_->classes.size()) + " classes; check --categories");
    allowed_idx.push_back(it - info_->classes.begin());
  }
  std::vector<Prediction> out;
  torch::NoGradGuard ng;
  batch = std::max(1, batch);
  for (size_t b = 0; b < xs.size(); b += batch) {
    size_t e = std::min(xs.size(), b + batch);
    for (size_t i = b; i < e; ++i) check_input_shape(*info_, xs[i], info_->spec);
    auto logits = impl_->forward(stack_arrays(xs, b, e).to(impl_->device()), {"logits"}, false)
                      .at("logits")
                      .to(torch::kCPU)
                      .reshape({static_cast<int64_t>(e - b), -1});
    if (!allowed_idx.empty()) logits = logits.index_select(1, torch::tensor(allowed_idx));
    auto [val, idx] = logits.max(1);
    for (int64_t i = 0; i < logits.size(0); ++i) {
      Prediction p;
      int64_t k = idx[i].item<int64_t>();
      p.index = allowed_idx.empty() ? k : allowed_idx[k];
      p.label = info_->classes[p.index];
      p.score = val[i].item<float>();
      out.push_back(p);
    }
  }
  return out;
}

std::vector<std::vector<float>> ModelHandle::activations(const std::vector<stimuli::Array>& xs,
                                                         const std::string& layer, int batch) const {
  check_layers({layer});
  auto t = layer_matrix(*this, xs, layer, batch);
  std::vector<std::vector<float>> out(t.size(0));
  for (int64_t i = 0; i < t.size(0); ++i) {
    auto r = t[i].contiguous();
    out[i].assign(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
  }
  return out;
}

torch::Tensor layer_matrix(const ModelHandle& m, const std::vector<stimuli::Array>& xs, const std::string& layer, int batch) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> rows;
  batch = std::max(1, batch);
  for (size_t b = 0; b < xs.size(); b += batch) {
    size_t e = std::min(xs.size(), b + batch);
    for (size_t i = b; i < e; ++i) check_input_shape(m.info(), xs[i], m.info().spec);
    auto a = m.impl().forward(stack_arrays(xs, b, e).to(m.impl().device()), {layer}, false).at(layer);
    rows.push_back(a.reshape({static_cast<int64_t>(e - b), -1}).to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(rows);
}

// [SECTION] Similarity --------------------------------------------------------------------
torch::Tensor average_ranks(const torch::Tensor& v) {
  auto flat = v.reshape({-1}).to(torch::kFloat64);
  auto sorted = flat.sort();
  auto vals = std::get<0>(sorted);
  auto idx = std::get<1>(sorted);
  auto uc = torch::unique_consecutive(vals, /*return_inverse=*/true, /*return_counts=*/true);
  auto inverse = std::get<1>(uc);
  auto counts = std::get<2>(uc).to(torch::kFloat64);
  auto ends = counts.cumsum(0);                 // 1-based rank of each tie group's last member
  auto avg = ends - (counts - 1.0) / 2.0;       // the group's average rank
  auto ranks_sorted = avg.index_select(0, inverse);
  return torch::empty_like(ranks_sorted).scatter_(0, idx, ranks_sorted);
}

namespace {
double pearson_of(const torch::Tensor& a, const torch::Tensor& b) {
  auto ac = a - a.mean();
  auto bc = b - b.mean();
  double na = ac.norm().item<double>(), nb = bc.norm().item<double>();
  if (na == 0 || nb == 0) return 0;
  return (ac * bc).sum().item<double>() / (na * nb);
}
}  // namespace

Similarity similarity_t(const torch::Tensor& reference, const torch::Tensor& other) {
  auto r = reference.reshape({-1}).to(torch::kFloat64);
  auto x = other.reshape({-1}).to(torch::kFloat64);
  Similarity s;
  double nr = r.norm().item<double>(), nx = x.norm().item<double>();
  if (nr == 0 || nx == 0) return s;  // the paper counts pairs with an all-zero side as 0
  s.pearson = pearson_of(r, x);
  s.spearman = pearson_of(average_ranks(r), average_ranks(x));
  double nd = (r - x).norm().item<double>();
  s.snr_db = nd == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(nr / nd);
  return s;
}

Similarity similarity(const std::vector<float>& reference, const std::vector<float>& other) {
  if (reference.size() != other.size()) throw std::invalid_argument("similarity: vectors differ in length");
  auto r = torch::from_blob(const_cast<float*>(reference.data()), {static_cast<int64_t>(reference.size())}, torch::kFloat32);
  auto x = torch::from_blob(const_cast<float*>(other.data()), {static_cast<int64_t>(other.size())}, torch::kFloat32);
  return similarity_t(r, x);
}

// [SECTION] Runtime -----------------------------------------------------------------------
void init_runtime(const Runtime& r) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads = r.threads;
  if (threads <= 0) threads = cores;
  if (threads > 8 * cores)
    throw std::runtime_error("--threads " + std::to_string(threads) + " is far more than this machine's " +
                             std::to_string(cores) + " cores; give 0 (one per core) or at most " + std::to_string(8 * cores));
  torch::set_num_threads(threads);
  // OpenBLAS (torch's BLAS here) keeps its own pool, one thread per core, started when the
  // library loads and at the loading thread's priority: at --threads 1 (a shard, or the live
  // worker that leaves a core to presentation) its second thread would still take CPU from
  // the other core. Its thread count follows torch's (at most one per core), unless
  // OPENBLAS_NUM_THREADS says otherwise; other BLAS libraries are left as they are.
  using SetBlasThreads = void (*)(int);
  if (const auto set_blas = reinterpret_cast<SetBlasThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
      set_blas && !std::getenv("OPENBLAS_NUM_THREADS"))
    set_blas(std::min(threads, cores));
  if (r.device == Device::cuda) {
    if (!torch::cuda::is_available())
      throw std::runtime_error(std::string("--device cuda: ") +
                               (torch::cuda::device_count() == 0 && !at::hasCUDA()
                                    ? "this LibTorch was built without CUDA (Debian's is CPU-only); use --device cpu or "
                                      "a CUDA build of LibTorch"
                                    : "no CUDA GPU is available here; use --device cpu"));
  }
}

int runtime_threads() { return torch::get_num_threads(); }

std::string program_version() { return METAMERLAB_VERSION; }

}  // namespace mm::synth
