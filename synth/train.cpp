// synth/train.cpp: training metamerlab's networks: data loading, PGD, the training loop with
// checkpoint/resume, the final evaluation, and `train` (what `metamerlab train` runs).
//
// Reproducibility: the parameters are initialized after torch::manual_seed(seed); each
// epoch's data order is a permutation drawn from its own std::mt19937_64 stream (seed,
// epoch); each step's PGD random start uses its own torch generator (seed, step). So a
// run's state is fully given by the weights, the optimizer state and the step number, and a
// run resumed from a checkpoint takes exactly the steps an uninterrupted run takes. The
// global torch RNG state is saved in the checkpoint too, for anything else drawing from it.
//
// Sections
//   [SECTION] Helpers       norm names, batches, generators
//   [SECTION] PGD
//   [SECTION] Evaluation
//   [SECTION] Training loop checkpoints, schedule, progress
//   [SECTION] Data          ImageFolder / WAV splits into memory tensors
//   [SECTION] train         the whole command
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>
#include <sstream>

#include "data/sha256.h"
#include "synth/nets.h"

namespace mm::synth {
namespace fs = std::filesystem;

// [SECTION] Helpers -----------------------------------------------------------------------
Norm parse_norm(const std::string& s) {
  if (s == "none") return Norm::none;
  if (s == "l2") return Norm::l2;
  if (s == "linf") return Norm::linf;
  throw std::runtime_error("attack norm must be none, l2 or linf, not \"" + s + "\"");
}

std::string norm_name(Norm n) { return n == Norm::l2 ? "l2" : n == Norm::linf ? "linf" : "none"; }

torch::Tensor TensorSet::batch_x(const torch::Tensor& idx) const {
  auto b = x.index_select(0, idx);
  if (b.scalar_type() == torch::kUInt8) return b.to(torch::kFloat32).div_(255.0);
  return b.to(torch::kFloat32);
}

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

at::Generator generator_for(uint64_t seed, uint64_t stream, uint64_t index) {
  return at::detail::createCPUGenerator(mix(mix(seed, stream), index));
}

// Per-example L2 norm, shaped to broadcast over x.
torch::Tensor l2_norms(const torch::Tensor& t) {
  std::vector<int64_t> shape(static_cast<size_t>(t.dim()), 1);
  shape[0] = t.size(0);
  return t.reshape({t.size(0), -1}).norm(2, 1).reshape(shape);
}

torch::Tensor project(const torch::Tensor& delta, const PgdOptions& o) {
  if (o.norm == Norm::linf) return delta.clamp(-o.eps, o.eps);
  auto n = l2_norms(delta);
  return delta * torch::clamp_max(o.eps / (n + 1e-12), 1.0);
}

}  // namespace

// [SECTION] PGD ---------------------------------------------------------------------------
torch::Tensor pgd_attack(TrainableNet& net, const torch::Tensor& x, const torch::Tensor& y, const PgdOptions& o,
                         float lo, float hi, at::Generator gen) {
  return pgd_attack_with([&](const torch::Tensor& v) { return net.logits(v); }, x, y, o, lo, hi, gen);
}

torch::Tensor pgd_attack_with(const std::function<torch::Tensor(const torch::Tensor&)>& logits, const torch::Tensor& x,
                              const torch::Tensor& y, const PgdOptions& o, float lo, float hi, at::Generator gen) {
  if (o.norm == Norm::none || !(o.eps > 0) || o.steps < 1) return x.detach();
  auto x0 = x.detach();
  torch::Tensor delta;
  if (o.random_start) {
    if (o.norm == Norm::linf) {
      delta = (torch::rand(x0.sizes(), gen, x0.options()) * 2 - 1) * o.eps;
    } else {
      auto r = torch::randn(x0.sizes(), gen, x0.options());
      delta = r * (o.eps / (l2_norms(r) + 1e-12));
    }
    delta = project(delta, o);
  } else {
    delta = torch::zeros_like(x0);
  }
  auto adv = (x0 + delta).clamp(lo, hi);
  const double a = o.step();
  for (int k = 0; k < o.steps; ++k) {
    adv = adv.detach().requires_grad_(true);
    auto loss = torch::nn::functional::cross_entropy(logits(adv), y);
    auto g = torch::autograd::grad({loss}, {adv})[0];
    torch::NoGradGuard ng;
    torch::Tensor stepped;
    if (o.norm == Norm::linf) stepped = adv + a * g.sign();
    else stepped = adv + a * g / (l2_norms(g) + 1e-12);
    adv = (x0 + project(stepped - x0, o)).clamp(lo, hi);
  }
  return adv.detach();
}

// [SECTION] Evaluation --------------------------------------------------------------------
double accuracy(TrainableNet& net, const TensorSet& s, const PgdOptions& attack, int batch, uint64_t seed) {
  if (s.size() == 0) return -1;
  net.module().eval();
  const auto& info = net.info();
  int64_t correct = 0;
  for (int64_t b = 0, k = 0; b < s.size(); b += batch, ++k) {
    auto idx = torch::arange(b, std::min<int64_t>(b + batch, s.size()), torch::kLong);
    auto x = s.batch_x(idx);
    auto y = s.y.index_select(0, idx);
    const auto gen = generator_for(seed, 2, static_cast<uint64_t>(k));
    if (attack.norm != Norm::none && attack.frontend && net.has_frontend()) {
      // In the front end's space: its output is non-negative (the cochleagram).
      torch::Tensor f;
      {
        torch::NoGradGuard ng;
        f = net.frontend(x);
      }
      f = pgd_attack_with([&](const torch::Tensor& v) { return net.logits_after_frontend(v); }, f, y, attack, 0.0f,
                          std::numeric_limits<float>::max(), gen);
      torch::NoGradGuard ng;
      correct += net.logits_after_frontend(f).argmax(1).eq(y).sum().item<int64_t>();
      continue;
    }
    if (attack.norm != Norm::none) x = pgd_attack(net, x, y, attack, info.lo, info.hi, gen);
    torch::NoGradGuard ng;
    correct += net.logits(x).argmax(1).eq(y).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(s.size());
}

// [SECTION] Training loop -----------------------------------------------------------------
namespace {

std::string run_fingerprint(const TrainableNet& net, const TensorSet& train, const TrainOptions& o) {
  std::ostringstream f;
  f << net_json(net).dump() << "|n=" << train.size() << "|e=" << o.epochs << "|b=" << o.batch << "|lr=" << o.lr
    << "|opt=" << o.optimizer << "|sch=" << o.schedule << "|wd=" << o.weight_decay << "|seed=" << o.seed
    << "|adv=" << norm_name(o.train_attack.norm) << "," << o.train_attack.eps << "," << o.train_attack.steps << ","
    << (o.train_attack.frontend ? "frontend," : "")
    << o.train_attack.step() << "," << o.train_attack.random_start << "|aug=" << o.augment
    << "|init=" << o.init << "|style=" << o.style_augment << "|ls=" << o.label_smoothing << "|mixup=" << o.mixup;
  return f.str();
}

// On-line image augmentation (on top of the data set's rendered augmentation), drawn from
// the step's own generator so runs stay reproducible and resumable: per item a horizontal
// flip (p 0.5), a shift of up to size/8 pixels (edge pixels repeated) and, with p 0.5, one
// square of side size/4 erased to a random grey (cutout).
torch::Tensor augment_images(const torch::Tensor& x, at::Generator gen) {
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t pad = std::max<int64_t>(1, h / 8), side = std::max<int64_t>(1, h / 4);
  auto padded = torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReplicate));
  auto r = torch::rand({b, 6}, gen, torch::kFloat64);
  auto ra = r.accessor<double, 2>();
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    const int64_t dy = std::min<int64_t>(2 * pad, static_cast<int64_t>(ra[i][0] * double(2 * pad + 1)));
    const int64_t dx = std::min<int64_t>(2 * pad, static_cast<int64_t>(ra[i][1] * double(2 * pad + 1)));
    auto t = padded[i].slice(1, dy, dy + h).slice(2, dx, dx + w);
    if (ra[i][2] < 0.5) t = t.flip({2});
    if (ra[i][3] < 0.5) {
      t = t.clone();
      const int64_t y0 = static_cast<int64_t>(ra[i][4] * double(h - side + 1));
      const int64_t x0 = static_cast<int64_t>(ra[i][5] * double(w - side + 1));
      t.slice(1, y0, y0 + side).slice(2, x0, x0 + side).fill_(ra[i][3] * 2.0);
    }
    out.push_back(t);
  }
  return torch::stack(out).contiguous();
}

// On-line style augmentation of images (--style-augment, after augment_images): what an
// icon's art style changes, its palette and its fine detail, is made unreliable so the
// network leans on shape. Per item, from the step's own generator: with p 0.5 one of the
// five non-identity permutations of the colour channels; with p 0.2 greyscale (Rec. 601
// luma in all three channels); with p 0.3 a blur (2x2 average pooling, then bilinear
// upsampling back to the full size).
}  // namespace

torch::Tensor style_augment_images(const torch::Tensor& x, at::Generator gen) {
  namespace F = torch::nn::functional;
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  if (x.size(1) != 3) return x;
  static const int64_t perms[5][3] = {{0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  auto r = torch::rand({b, 4}, gen, torch::kFloat64);
  auto ra = r.accessor<double, 2>();
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(b));
  std::vector<int64_t> blur;
  for (int64_t i = 0; i < b; ++i) {
    auto t = x[i];
    if (ra[i][0] < 0.5) {
      const auto& p = perms[std::min<int64_t>(4, static_cast<int64_t>(ra[i][1] * 5.0))];
      t = t.index_select(0, torch::tensor({p[0], p[1], p[2]}, torch::kLong));
    }
    if (ra[i][2] < 0.2) t = (0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2]).unsqueeze(0).expand({3, h, w});
    if (ra[i][3] < 0.3) blur.push_back(i);
    out.push_back(t);
  }
  auto y = torch::stack(out).contiguous();
  if (!blur.empty() && h >= 4 && w >= 4) {
    auto idx = torch::tensor(blur, torch::kLong);
    auto low = F::avg_pool2d(y.index_select(0, idx), F::AvgPool2dFuncOptions(2));
    auto up = F::interpolate(low, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
    y.index_copy_(0, idx, up);
  }
  return y;
}

namespace {

// Mixup's lambda for one step: Beta(a, a) from two gamma draws of the step's own stream.
double mixup_lambda(double a, uint64_t seed, int64_t step) {
  std::mt19937_64 rng(mix(seed, 7000 + static_cast<uint64_t>(step)));
  std::gamma_distribution<double> g(a, 1.0);
  const double u = g(rng), v = g(rng);
  return u + v > 0 ? u / (u + v) : 0.5;
}

// On-line augmentation of cached cochleagrams [B, 1, F, T] (audio networks, standard
// training), from the step's own generator: per item a shift along frequency of up to
// F/16 channels (a change of vocal-tract length moves formants along the ERB axis) and
// along time of up to T/8 frames (edge values repeated), then one band of up to F/8
// channels and one span of up to T/8 frames set to the item's mean (SpecAugment masks).
torch::Tensor augment_cochleagrams(const torch::Tensor& x, at::Generator gen) {
  const int64_t b = x.size(0), f = x.size(2), t = x.size(3);
  const int64_t pf = std::max<int64_t>(1, f / 16), pt = std::max<int64_t>(1, t / 8);
  const int64_t mf = std::max<int64_t>(1, f / 8), mt = std::max<int64_t>(1, t / 8);
  auto padded = torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({pt, pt, pf, pf}).mode(torch::kReplicate));
  auto r = torch::rand({b, 6}, gen, torch::kFloat64);
  auto ra = r.accessor<double, 2>();
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(b));
  auto pick = [](double u, int64_t n) { return std::min<int64_t>(n - 1, static_cast<int64_t>(u * double(n))); };
  for (int64_t i = 0; i < b; ++i) {
    const int64_t df = pick(ra[i][0], 2 * pf + 1), dt = pick(ra[i][1], 2 * pt + 1);
    auto c = padded[i].slice(1, df, df + f).slice(2, dt, dt + t).clone();
    const double mean = c.mean().item<double>();
    const int64_t wf = pick(ra[i][2], mf + 1), wt = pick(ra[i][3], mt + 1);
    const int64_t f0 = pick(ra[i][4], f - wf + 1), t0 = pick(ra[i][5], t - wt + 1);
    if (wf > 0) c.slice(1, f0, f0 + wf).fill_(mean);
    if (wt > 0) c.slice(2, t0, t0 + wt).fill_(mean);
    out.push_back(c);
  }
  return torch::stack(out).contiguous();
}

double lr_at(const TrainOptions& o, int64_t step, int64_t total) {
  if (o.schedule == "step") {
    double f = static_cast<double>(step) / static_cast<double>(total);
    return o.lr * (f >= 0.75 ? 0.01 : f >= 0.5 ? 0.1 : 1.0);
  }
  return o.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total)));
}

void save_checkpoint(const std::string& path, TrainableNet& net, torch::optim::Optimizer& opt, int64_t step,
                     const std::string& fingerprint) {
  torch::serialize::OutputArchive ar, m, o;
  net.module().save(m);
  opt.save(o);
  ar.write("model", m);
  ar.write("optimizer", o);
  ar.write("step", torch::tensor(step, torch::kLong));
  ar.write("rng", at::detail::getDefaultCPUGenerator().get_state());
  ar.write("fingerprint", c10::IValue(fingerprint));
  const std::string tmp = path + ".tmp";
  ar.save_to(tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error(path + ": cannot write the checkpoint (" + ec.message() + ")");
}

// Returns the step to continue from (0 when there is no checkpoint).
int64_t load_checkpoint(const std::string& path, TrainableNet& net, torch::optim::Optimizer& opt,
                        const std::string& fingerprint) {
  if (path.empty() || !fs::exists(path)) return 0;
  torch::serialize::InputArchive ar, m, o;
  try {
    ar.load_from(path);
  } catch (const c10::Error&) {
    throw std::runtime_error(path + ": unreadable checkpoint; delete it to start over");
  }
  c10::IValue fp;
  ar.read("fingerprint", fp);
  if (!fp.isString() || fp.toStringRef() != fingerprint)
    throw std::runtime_error(path + ": checkpoint of a different run (data, network or options differ); delete it or give the same options");
  ar.read("model", m);
  ar.read("optimizer", o);
  net.module().load(m);
  opt.load(o);
  torch::Tensor step, rng;
  ar.read("step", step);
  ar.read("rng", rng);
  at::Generator global = at::detail::getDefaultCPUGenerator();  // a handle sharing the default generator
  global.set_state(rng);
  return step.item<int64_t>();
}

}  // namespace

void train_on_tensors(TrainableNet& net, const TensorSet& train, const TrainOptions& o, TrainReport& rep) {
  if (train.size() == 0) throw std::runtime_error("no training items");
  if (o.batch < 1 || o.epochs < 1) throw std::runtime_error("--batch and --epochs must be at least 1");
  if (!(o.lr > 0)) throw std::runtime_error("--lr must be positive");
  const int64_t n = train.size();
  const int64_t per_epoch = (n + o.batch - 1) / o.batch;
  const int64_t total = per_epoch * o.epochs;
  auto params = net.module().parameters();
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (o.optimizer == "sgd")
    opt = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(o.lr).momentum(0.9).weight_decay(o.weight_decay));
  else if (o.optimizer == "adam")
    opt = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  else
    throw std::runtime_error("optimizer must be sgd or adam, not \"" + o.optimizer + "\"");
  if (o.schedule != "cosine" && o.schedule != "step")
    throw std::runtime_error("schedule must be cosine or step, not \"" + o.schedule + "\"");
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) throw std::runtime_error("--label-smoothing must be in [0, 1)");
  if (!(o.mixup >= 0) || !std::isfinite(o.mixup)) throw std::runtime_error("--mixup must be 0 or more");
  const std::string fingerprint = run_fingerprint(net, train, o);
  const int64_t start = load_checkpoint(o.checkpoint, net, *opt, fingerprint);
  rep.start_step = start;
  rep.resumed = start > 0;
  rep.train_items = n;
  if (rep.resumed && o.progress)
    *o.progress << "resuming from " << o.checkpoint << " at step " << start << "/" << total << "\n";
  const auto& info = net.info();
  // Standard training of a network with a parameter-free front end (the cochleagram, most
  // of the audio network's cost): compute it once per item.
  TensorSet feats;
  const bool cached = net.has_frontend() && (o.train_attack.norm == Norm::none || o.train_attack.frontend);
  if (cached) {
    const auto tc = std::chrono::steady_clock::now();
    torch::NoGradGuard ng;
    std::vector<torch::Tensor> parts;
    for (int64_t b = 0; b < n; b += 64)
      parts.push_back(net.frontend(train.batch_x(torch::arange(b, std::min<int64_t>(b + 64, n), torch::kLong))));
    feats.x = torch::cat(parts);
    feats.y = train.y;
    if (o.progress)
      *o.progress << "front end (cochleagram) of " << n << " items computed once in " << std::fixed << std::setprecision(1)
                  << std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count() << " s"
                  << std::defaultfloat << "\n";
  }
  const TensorSet& src = cached ? feats : train;
  std::vector<int64_t> order(static_cast<size_t>(n));
  int64_t order_epoch = -1;
  double win_loss = 0, win_correct = 0, win_count = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t s = start; s < total; ++s) {
    if (o.stop_after >= 0 && s >= o.stop_after) {
      rep.steps = s;
      rep.finished = false;
      return;
    }
    const int64_t epoch = s / per_epoch, k = s % per_epoch;
    if (epoch != order_epoch) {
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(mix(o.seed, 1000 + static_cast<uint64_t>(epoch)));
      std::shuffle(order.begin(), order.end(), rng);
      order_epoch = epoch;
    }
    const int64_t b0 = k * o.batch, b1 = std::min<int64_t>(b0 + o.batch, n);
    auto idx = torch::from_blob(order.data() + b0, {b1 - b0}, torch::kLong).clone();
    auto x = src.batch_x(idx);
    auto y = train.y.index_select(0, idx);
    if (o.augment && info.modality == "image") x = augment_images(x, generator_for(o.seed, 5, static_cast<uint64_t>(s)));
    if (o.augment && cached) x = augment_cochleagrams(x, generator_for(o.seed, 6, static_cast<uint64_t>(s)));
    if (o.style_augment && info.modality == "image") x = style_augment_images(x, generator_for(o.seed, 8, static_cast<uint64_t>(s)));
    // Mixup: each item mixed with the item a batch rotation away (deterministic per step).
    double lam = 1.0;
    torch::Tensor y2;
    if (o.mixup > 0 && x.size(0) > 1) {
      lam = mixup_lambda(o.mixup, o.seed, s);
      const int64_t shift = 1 + static_cast<int64_t>(mix(o.seed, 9000 + static_cast<uint64_t>(s)) % static_cast<uint64_t>(x.size(0) - 1));
      x = lam * x + (1.0 - lam) * x.roll(shift, 0);
      y2 = y.roll(shift, 0);
    }
    if (o.train_attack.norm != Norm::none) {
      net.module().eval();
      const auto gen = generator_for(o.seed, 3, static_cast<uint64_t>(s));
      if (cached)  // the attack perturbs the cochleagram (non-negative)
        x = pgd_attack_with([&](const torch::Tensor& v) { return net.logits_after_frontend(v); }, x, y, o.train_attack,
                            0.0f, std::numeric_limits<float>::max(), gen);
      else
        x = pgd_attack(net, x, y, o.train_attack, info.lo, info.hi, gen);
    }
    net.module().train();
    const double lr = lr_at(o, s, total);
    for (auto& g : opt->param_groups()) g.options().set_lr(lr);
    opt->zero_grad();
    auto logits = cached ? net.logits_after_frontend(x) : net.logits(x);
    const auto ce = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(o.label_smoothing);
    auto loss = torch::nn::functional::cross_entropy(logits, y, ce);
    if (y2.defined()) loss = lam * loss + (1.0 - lam) * torch::nn::functional::cross_entropy(logits, y2, ce);
    loss.backward();
    opt->step();
    const double lv = loss.item<double>();
    if (!std::isfinite(lv))
      throw std::runtime_error("the training loss became " + std::to_string(lv) + " at step " + std::to_string(s) + "; lower --lr");
    win_loss += lv * static_cast<double>(b1 - b0);
    win_correct += static_cast<double>(logits.argmax(1).eq(y).sum().item<int64_t>());
    win_count += static_cast<double>(b1 - b0);
    const bool last = s + 1 == total;
    if (o.progress && (last || (o.progress_every > 0 && (s + 1) % o.progress_every == 0) || k + 1 == per_epoch)) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double eta = el / static_cast<double>(s + 1 - start) * static_cast<double>(total - s - 1);
      *o.progress << "epoch " << epoch + 1 << "/" << o.epochs << " step " << s + 1 << "/" << total << std::fixed
                  << std::setprecision(4) << " loss " << win_loss / win_count << " acc " << std::setprecision(3)
                  << win_correct / win_count << " lr " << std::setprecision(5) << lr << std::setprecision(1) << " "
                  << el << " s, eta " << eta << " s" << std::defaultfloat << "\n";
      rep.final_train_loss = win_loss / win_count;
      rep.final_train_acc = win_correct / win_count;
      win_loss = win_correct = win_count = 0;
    } else if (last || !o.progress) {
      rep.final_train_loss = lv;
    }
    if (!o.checkpoint.empty() && o.checkpoint_every > 0 && (s + 1) % o.checkpoint_every == 0 && !last)
      save_checkpoint(o.checkpoint, net, *opt, s + 1, fingerprint);
  }
  rep.steps = total;
  rep.finished = true;
  net.module().eval();
}

// [SECTION] Data --------------------------------------------------------------------------
namespace {

TensorSet load_split(const std::string& dir, const TrainOptions& o, std::vector<std::string>& classes, bool define) {
  if (!fs::is_directory(dir))
    throw std::runtime_error(dir + ": no such folder; --data must hold train/<category>/ and test/<category>/ "
                             "(as metamerlab dataset writes)");
  auto items = stimuli::list_stimuli({dir}, o.modality == "audio" ? stimuli::Modality::audio : stimuli::Modality::image);
  if (define) {
    for (const auto& it : items)
      if (classes.empty() || classes.back() != it.category) classes.push_back(it.category);
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    if (classes.size() < 2) throw std::runtime_error(dir + ": needs at least 2 category folders, found " + std::to_string(classes.size()));
  }
  if (define && o.max_train > 0 && static_cast<int64_t>(items.size()) > o.max_train) {
    std::vector<stimuli::Item> keep;
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < o.max_train; ++i) keep.push_back(items[static_cast<size_t>(i * n / o.max_train)]);
    items.swap(keep);
  }
  TensorSet s;
  const auto n = static_cast<int64_t>(items.size());
  s.y = torch::empty({n}, torch::kLong);
  if (o.modality == "image") s.x = torch::empty({n, 3, o.image_size, o.image_size}, torch::kUInt8);
  else s.x = torch::empty({n, o.samples}, torch::kFloat32);
  stimuli::ImageSpec is{3, o.image_size, o.image_size, 0.0f, 1.0f};
  stimuli::AudioSpec as{o.sample_rate, o.samples, 0.1};
  for (int64_t i = 0; i < n; ++i) {
    const auto& it = items[static_cast<size_t>(i)];
    auto c = std::find(classes.begin(), classes.end(), it.category);
    if (c == classes.end())
      throw std::runtime_error(it.path + ": category \"" + it.category + "\" is not one of the training categories");
    s.y[i] = static_cast<int64_t>(c - classes.begin());
    if (o.modality == "image") {
      auto a = stimuli::load_image(it.path, is);
      auto t = torch::from_blob(a.data.data(), {3, o.image_size, o.image_size}, torch::kFloat32);
      s.x[i].copy_(t.mul(255.0).round_().clamp_(0, 255).to(torch::kUInt8));
    } else {
      auto a = stimuli::load_audio(it.path, as);
      s.x[i].copy_(torch::from_blob(a.data.data(), {o.samples}, torch::kFloat32));
    }
  }
  return s;
}

}  // namespace

// [SECTION] train -------------------------------------------------------------------------
TrainReport train(const TrainOptions& in) {
  TrainOptions o = in;
  if (o.modality != "image" && o.modality != "audio") throw std::runtime_error("--modality must be image or audio, not \"" + o.modality + "\"");
  if (o.out.empty()) throw std::runtime_error("--out is required");
  if (o.checkpoint.empty()) o.checkpoint = o.out + ".ckpt";
  for (const auto* a : {&o.train_attack, &o.eval_attack})
    if (a->norm != Norm::none && (!(a->eps > 0) || a->steps < 1))
      throw std::runtime_error("a PGD attack needs --eps > 0 and --pgd-steps >= 1");
  const auto parent = fs::path(o.out).parent_path();
  if (!parent.empty()) stimuli::ensure_writable_dir(parent.string());
  TrainReport rep;
  auto t0 = std::chrono::steady_clock::now();
  auto secs = [](auto a) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count(); };
  std::vector<std::string> classes;
  const std::string root = o.data_dir;
  TensorSet tr = load_split((fs::path(root) / "train").string(), o, classes, true);
  TensorSet te = load_split((fs::path(root) / "test").string(), o, classes, false);
  rep.classes = classes;
  rep.train_items = tr.size();
  rep.test_items = te.size();
  rep.load_seconds = secs(t0);
  if (o.progress)
    *o.progress << "data: " << tr.size() << " train, " << te.size() << " test, " << classes.size() << " classes from "
                << root << " (" << std::fixed << std::setprecision(1) << rep.load_seconds << " s)" << std::defaultfloat << "\n";
  torch::manual_seed(o.seed);
  NetConfig c;
  c.modality = o.modality;
  c.classes = classes;
  c.width = o.width;
  c.image_size = o.image_size;
  c.stem_stride = o.stem_stride;
  c.sample_rate = o.sample_rate;
  c.samples = o.samples;
  auto net = make_net(c);
  std::string init_sha;
  if (!o.init.empty()) {  // fine-tuning: same network, weights from an earlier run
    auto from = load_net(o.init);
    const NetConfig& f = from->config();
    if (f.modality != c.modality || f.classes != c.classes || f.width != c.width ||
        (c.modality == "image" ? (f.image_size != c.image_size || f.stem_stride != c.stem_stride) : (f.samples != c.samples || f.sample_rate != c.sample_rate)))
      throw std::runtime_error(o.init + ": --init network differs from this run's (modality, classes, width or input); "
                               "train with the same --width/--size/--stem-stride/--samples as the network it starts from");
    torch::serialize::InputArchive ar;
    ar.load_from(o.init);
    net->module().load(ar);
    init_sha = from->info().sha256;
  }
  t0 = std::chrono::steady_clock::now();
  train_on_tensors(*net, tr, o, rep);
  rep.train_seconds = secs(t0);
  if (!rep.finished) return rep;
  t0 = std::chrono::steady_clock::now();
  rep.clean_acc = accuracy(*net, te, PgdOptions{}, 100, o.seed);
  if (o.eval_attack.norm != Norm::none) rep.adv_acc = accuracy(*net, te, o.eval_attack, 100, o.seed);
  rep.eval_seconds = secs(t0);
  auto attack_json = [](const PgdOptions& a) {
    return nlohmann::json{{"norm", norm_name(a.norm)}, {"eps", a.eps}, {"steps", a.steps}, {"step_size", a.step()},
                          {"random_start", a.random_start}, {"space", a.frontend ? "cochleagram" : "input"}};
  };
  std::string data_version = "unknown";
  const auto manifest = fs::path(root) / "manifest.json";
  if (fs::exists(manifest)) data_version = "manifest sha256 " + data::sha256_file(manifest.string());
  nlohmann::json extra;
  extra["recipe"] = {{"epochs", o.epochs}, {"batch", o.batch}, {"lr", o.lr}, {"optimizer", o.optimizer},
                     {"schedule", o.schedule}, {"weight_decay", o.weight_decay}, {"seed", o.seed},
                     {"augment", !o.augment ? "none" : o.modality == "image" ? "flip, shift size/8, cutout size/4"
                                 : o.train_attack.norm == Norm::none || o.train_attack.frontend ? "cochleagram shift F/16 and T/8, masks F/8 and T/8" : "none (adversarial audio)"}, {"width", o.width},
                     {"stem_stride", o.stem_stride},
                     {"style_augment", o.style_augment && o.modality == "image" ? "channel permutation p 0.5, greyscale p 0.2, blur p 0.3" : "none"},
                     {"label_smoothing", o.label_smoothing}, {"mixup_alpha", o.mixup},
                     {"adversarial", attack_json(o.train_attack)}, {"max_train", o.max_train},
                     {"init", o.init.empty() ? nlohmann::json(nullptr) : nlohmann::json{{"file", fs::path(o.init).filename().string()}, {"sha256", init_sha}}},
                     {"program", program_version()}};
  extra["data"] = {{"dir", root}, {"version", data_version}, {"train_items", tr.size()}, {"test_items", te.size()}};
  nlohmann::json metrics{{"clean_accuracy", rep.clean_acc}, {"train_loss", rep.final_train_loss},
                         {"train_accuracy", rep.final_train_acc}, {"train_seconds", rep.train_seconds}};
  if (rep.adv_acc >= 0) {
    metrics["adversarial_accuracy"] = rep.adv_acc;
    metrics["attack"] = attack_json(o.eval_attack);
  }
  extra["metrics"] = metrics;
  rep.weights_sha256 = save_net(*net, o.out, extra);
  std::error_code ec;
  fs::remove(o.checkpoint, ec);
  return rep;
}

std::string resave_net_file(const std::string& path) {
  auto n = load_net(path);  // checks the recorded sha256
  const auto j = nlohmann::json::parse(n->info().json);
  nlohmann::json extra;
  for (const char* k : {"recipe", "data", "metrics"})
    if (j.contains(k)) extra[k] = j[k];
  return save_net(*n, path, extra);
}

}  // namespace mm::synth
