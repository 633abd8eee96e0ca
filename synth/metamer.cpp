// synth/metamer.cpp: metamer optimization.
//
// The paper's method (Feather et al. 2023): from seeded noise, minimize the normalized L2
// distance ||a(x) - a(r)|| / ||a(r)|| at one layer with normalized-gradient steps
// x <- clamp(x - eta * g / (||g|| + 1e-10)), eta halving every round; the last iterate is
// kept. Adam and a mean-squared-error loss are the alternatives. A batch of B references
// is B independent problems: losses and gradient norms are per example, and an example
// whose loss turns NaN/Inf is frozen with a message while the others go on. Until
// converged (SynthOptions::max_rounds), an example whose last round met the convergence rule
// is frozen too, from the start of the round after it, and the batch ends when all are.
//
// Checkpoints hold the exact float state (iterate, Adam moments, step, per-example
// status), keyed by a hash of the references, layer, model and options. Because every
// step is a deterministic function of that state, a resumed run reproduces an
// uninterrupted one bit for bit on the same machine and thread count.
//
// Sections
//   [SECTION] Options and noise
//   [SECTION] Checkpoints
//   [SECTION] The loop
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <filesystem>

#include "data/sha256.h"
#include "synth/engine_internal.h"
#include "synth/model.h"

namespace fs = std::filesystem;

namespace mm::synth {

// [SECTION] Options and noise -------------------------------------------------------------
double SynthOptions::step_for_round(int round) const {
  double base = step > 0 ? step : (optimizer == Optimizer::adam ? 0.01 : 1.0);
  return base * std::pow(0.5, round);
}

stimuli::Array initial_noise(const ModelInfo& info, uint64_t seed, double audio_sigma) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto n = torch::randn(info.input_shape, gen, torch::kFloat32);
  torch::Tensor x;
  if (info.modality == "image") {
    float span = info.hi - info.lo;
    x = (info.lo + span * 0.5f + span * 0.05f * n).clamp(info.lo, info.hi);
  } else {
    x = (n * audio_sigma).clamp(info.lo, info.hi);
  }
  return to_array(x);
}

// [SECTION] Checkpoints -------------------------------------------------------------------
namespace {

struct State {
  torch::Tensor x, m1, m2, active, iters;
  torch::Tensor done;                    // [B] bool: frozen as converged (until converged)
  int64_t step = 0;
  std::vector<std::string> messages;
  std::vector<int64_t> curve_steps;      // the loss curve so far: steps
  std::vector<torch::Tensor> curve;      // and per-example losses ([B] float64, CPU) at them
};

std::string state_key(const ModelInfo& info, const std::string& layer, const torch::Tensor& refs, const SynthOptions& o) {
  std::string s = info.sha256 + "|" + info.spec + "|" + layer + "|" + std::to_string(o.iterations) + "|" +
                  std::to_string(o.rounds) + "|" + std::to_string(o.step_for_round(0)) + "|" +
                  std::to_string(static_cast<int>(o.optimizer)) + "|" + std::to_string(static_cast<int>(o.loss)) + "|" +
                  std::to_string(o.seed) + "|" + std::to_string(o.fake_relu) + "|" + std::to_string(o.audio_init_sigma) + "|" +
                  (o.max_rounds > o.rounds ? "until " + std::to_string(o.max_rounds) + " " + std::to_string(o.converge_tol) + "|"
                                           : std::string());
  auto c = refs.to(torch::kCPU).contiguous();
  s.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  return data::sha256_hex(s.data(), s.size());
}

void save_state(const std::string& path, const std::string& key, const State& st) {
  torch::serialize::OutputArchive ar;
  ar.write("key", c10::IValue(key));
  ar.write("x", st.x.to(torch::kCPU));  // checkpoints hold CPU tensors, whatever the device
  ar.write("m1", st.m1.to(torch::kCPU));
  ar.write("m2", st.m2.to(torch::kCPU));
  ar.write("active", st.active.to(torch::kCPU));
  ar.write("iters", st.iters.to(torch::kCPU));
  ar.write("done", st.done.to(torch::kCPU));
  ar.write("step", torch::tensor(st.step, torch::kInt64));
  std::string msgs;
  for (const auto& m : st.messages) msgs += m + '\x1f';
  ar.write("messages", c10::IValue(msgs));
  ar.write("curve_steps", torch::tensor(st.curve_steps, torch::kInt64));
  ar.write("curve", st.curve.empty() ? torch::zeros({0}, torch::kFloat64) : torch::stack(st.curve));
  std::string tmp = path + ".tmp";
  try {
    ar.save_to(tmp);
    fs::rename(tmp, path);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": cannot write checkpoint (" + std::string(e.what()).substr(0, 120) +
                             "); free disk space or choose another --out");
  }
}

bool load_state(const std::string& path, const std::string& key, State& st) {
  if (path.empty() || !fs::exists(path)) return false;
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    c10::IValue k;
    if (!ar.try_read("key", k) || k.toStringRef() != key) return false;  // another batch or options: start anew
    ar.read("x", st.x);
    ar.read("m1", st.m1);
    ar.read("m2", st.m2);
    ar.read("active", st.active);
    ar.read("iters", st.iters);
    if (!ar.try_read("done", st.done))  // absent in checkpoints of older versions: none frozen
      st.done = torch::zeros({st.x.size(0)}, torch::kBool);
    torch::Tensor step;
    ar.read("step", step);
    st.step = step.item<int64_t>();
    torch::Tensor steps, curve;
    ar.read("curve_steps", steps);  // absent in checkpoints of older versions: start anew
    ar.read("curve", curve);
    st.curve_steps.assign(steps.data_ptr<int64_t>(), steps.data_ptr<int64_t>() + steps.numel());
    st.curve.clear();
    for (int64_t i = 0; i < static_cast<int64_t>(st.curve_steps.size()); ++i) st.curve.push_back(curve[i].clone());
    c10::IValue msgs;
    ar.read("messages", msgs);
    st.messages.clear();
    std::string cur;
    for (char ch : msgs.toStringRef()) {
      if (ch == '\x1f') {
        st.messages.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
    return true;
  } catch (const std::exception&) {
    return false;  // a torn or foreign file: start from noise rather than fail
  }
}

// Until converged, at the start of round s / iterations (s a multiple of iterations): the
// examples whose last round lowered the loss (the curve's points at the two rounds' starts,
// the second just recorded) by less than converge_tol of the starting loss are frozen.
// True when no example is left to optimize.
bool freeze_converged(State& st, const SynthOptions& opt, int64_t s) {
  torch::Tensor at_start, before, now;
  for (size_t k = 0; k < st.curve_steps.size(); ++k) {
    if (st.curve_steps[k] == 0) at_start = st.curve[k];
    if (st.curve_steps[k] == s - opt.iterations) before = st.curve[k];
    if (st.curve_steps[k] == s) now = st.curve[k];
  }
  if (!at_start.defined() || !before.defined() || !now.defined()) return false;
  auto meets = (before - now).abs() < opt.converge_tol * at_start.abs();
  auto done = st.done.to(torch::kCPU) | (meets & torch::isfinite(now) & st.active.to(torch::kCPU));
  st.done = done.to(st.done.device());
  auto left = st.active.to(torch::kCPU) & ~done;
  return !left.any().item<bool>();
}

}  // namespace

// [SECTION] The loop ----------------------------------------------------------------------
std::vector<SynthOutcome> synthesize(const ModelHandle& m, const std::string& layer,
                                     const std::vector<stimuli::Array>& references, const SynthOptions& opt,
                                     const std::string& checkpoint_path, const ProgressFn& progress) {
  m.check_layers({layer});
  const ModelInfo& info = m.info();
  if (references.empty()) return {};
  if (opt.iterations < 1 || opt.rounds < 1) throw std::runtime_error("--iterations and --rounds must be at least 1");
  for (const auto& r : references) check_input_shape(info, r, info.spec);
  const int64_t B = static_cast<int64_t>(references.size());
  Model& model = m.impl();

  const torch::Device dev = model.device();
  auto refs = stack_arrays(references, 0, references.size()).to(dev);
  torch::Tensor target, tnorm;
  {
    torch::NoGradGuard ng;
    target = model.forward(refs, {layer}, false).at(layer).reshape({B, -1}).to(torch::kFloat32).contiguous();
    tnorm = target.norm(2, 1);
  }
  const std::string key = state_key(info, layer, refs, opt);

  State st;
  if (!load_state(checkpoint_path, key, st)) {
    auto noise = to_tensor(initial_noise(info, opt.seed, opt.audio_init_sigma));
    std::vector<int64_t> rep(noise.dim() + 1, 1);
    rep[0] = B;
    st.x = noise.unsqueeze(0).repeat(rep).contiguous();
    st.m1 = torch::zeros_like(st.x);
    st.m2 = torch::zeros_like(st.x);
    st.active = torch::ones({B}, torch::kBool);
    st.iters = torch::zeros({B}, torch::kInt64);
    st.done = torch::zeros({B}, torch::kBool);
    st.step = 0;
    st.messages.assign(B, "");
  }
  for (auto* t : {&st.x, &st.m1, &st.m2, &st.active, &st.iters, &st.done}) *t = t->to(dev);

  const bool until_converged = opt.max_rounds > opt.rounds;
  const int64_t total = opt.iterations * opt.last_round();  // until converged: at most
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  auto t0 = std::chrono::steady_clock::now();
  auto last_report = t0;
  const int64_t start = st.step;
  const int64_t curve_every = std::max<int64_t>(1, total / 100);
  auto bshape = [&](const torch::Tensor& v) {  // [B] -> [B,1,1,...] for broadcasting
    std::vector<int64_t> s(st.x.dim(), 1);
    s[0] = B;
    return v.reshape(s);
  };

  int64_t end = total;  // the step the batch stops at
  for (int64_t s = st.step; s < total; ++s) {
    if (opt.stop_after >= 0 && s >= opt.stop_after) {
      if (!checkpoint_path.empty()) save_state(checkpoint_path, key, st);
      return {};
    }
    if (opt.cancel && opt.cancel->load(std::memory_order_relaxed)) return {};
    const int round = static_cast<int>(s / opt.iterations);
    const double lr = opt.step_for_round(round);
    auto xg = st.x.detach().clone().requires_grad_(true);
    auto a = model.forward(xg, {layer}, opt.fake_relu).at(layer).reshape({B, -1});
    auto diff = a - target;
    torch::Tensor loss = opt.loss == Loss::l2norm ? diff.norm(2, 1) / tnorm.clamp_min(1e-12) : diff.pow(2).mean(1);
    if (s % curve_every == 0 || s % opt.iterations == 0) {  // the loss curve (and every round's start)
      st.curve_steps.push_back(s);
      st.curve.push_back(loss.detach().to(torch::kCPU, torch::kFloat64));
    }
    if (until_converged && s % opt.iterations == 0 && round >= opt.rounds && freeze_converged(st, opt, s)) {
      end = s;  // every example frozen (or stopped): the batch ends here
      if (progress) {
        SynthProgress p;
        p.layer = layer;
        p.step = p.total = end;
        p.round = round;
        p.mean_loss = loss.detach().mean().item<double>();
        p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        progress(p);
      }
      break;
    }
    auto finite = torch::isfinite(loss.detach());
    auto use = st.active & ~st.done & finite;
    auto total_loss = torch::where(use, loss, torch::zeros_like(loss)).sum();
    torch::Tensor g;
    if (use.any().item<bool>()) {
      total_loss.backward();
      g = xg.grad().detach();
    } else {
      g = torch::zeros_like(st.x);
    }
    // One pass over the gradient: its per-example norm is NaN/Inf exactly when the gradient
    // holds a NaN/Inf (or overflows), and the gd step reuses it.
    auto gnorm = g.reshape({B, -1}).norm(2, 1);
    auto gfinite = torch::isfinite(gnorm);
    auto newly_bad = st.active & (~finite | ~gfinite);
    if (newly_bad.any().item<bool>()) {
      for (int64_t b = 0; b < B; ++b)
        if (newly_bad[b].item<bool>())
          st.messages[b] = "loss became " + std::string(finite[b].item<bool>() ? "finite but its gradient NaN/Inf" : "NaN or Inf") +
                           " at step " + std::to_string(s) + " (round " + std::to_string(round) +
                           "); the last finite iterate is kept";
      st.active = st.active & ~newly_bad;
    }
    auto act = bshape(st.active & ~st.done);
    g = torch::where(act, g, torch::zeros_like(g));
    torch::Tensor delta;
    if (opt.optimizer == Optimizer::gd) {
      // Rows frozen above get g = 0 but may keep a NaN norm; torch::where below keeps
      // their iterate, so only the active rows' (finite) norms matter.
      delta = lr * g / (bshape(gnorm) + 1e-10);
    } else {
      st.m1 = torch::where(act, b1 * st.m1 + (1 - b1) * g, st.m1);
      st.m2 = torch::where(act, b2 * st.m2 + (1 - b2) * g * g, st.m2);
      auto t = bshape((st.iters + 1).to(torch::kFloat64));
      auto c1 = (1 - torch::pow(torch::full_like(t, b1), t)).to(torch::kFloat32);
      auto c2 = (1 - torch::pow(torch::full_like(t, b2), t)).to(torch::kFloat32);
      delta = lr * (st.m1 / c1) / ((st.m2 / c2).sqrt() + eps);
    }
    st.x = torch::where(act, (st.x - delta).clamp(info.lo, info.hi), st.x).contiguous();
    st.iters = st.iters + (st.active & ~st.done).to(torch::kInt64);
    st.step = s + 1;
    if (!checkpoint_path.empty() && opt.checkpoint_every > 0 && st.step % opt.checkpoint_every == 0 && st.step < total)
      save_state(checkpoint_path, key, st);
    auto now = std::chrono::steady_clock::now();
    if (progress && (std::chrono::duration<double>(now - last_report).count() >= 0.5 || st.step == total)) {
      last_report = now;
      SynthProgress p;
      p.layer = layer;
      p.step = st.step;
      p.total = total;
      p.round = round;
      auto lu = torch::where(use, loss.detach(), torch::zeros_like(loss));
      int64_t n = use.sum().item<int64_t>();
      p.mean_loss = n ? lu.sum().item<double>() / n : std::nan("");
      p.elapsed_s = std::chrono::duration<double>(now - t0).count();
      double per = p.elapsed_s / std::max<int64_t>(1, st.step - start);
      p.eta_s = per * (total - st.step);
      progress(p);
    }
  }

  // The final iterate's loss.
  torch::Tensor final_loss;
  {
    torch::NoGradGuard ng;
    auto a = model.forward(st.x, {layer}, false).at(layer).reshape({B, -1});
    auto diff = a - target;
    final_loss = opt.loss == Loss::l2norm ? diff.norm(2, 1) / tnorm.clamp_min(1e-12) : diff.pow(2).mean(1);
  }
  std::vector<SynthOutcome> out(B);
  const auto fl = final_loss.to(torch::kCPU, torch::kFloat64);
  for (int64_t b = 0; b < B; ++b) {
    out[b].metamer = to_array(st.x[b]);
    out[b].iterations = st.iters[b].item<int64_t>();
    out[b].final_loss = fl[b].item<double>();
    out[b].nonfinite = !st.active[b].item<bool>();
    out[b].message = st.messages[b];
    for (size_t k = 0; k < st.curve_steps.size(); ++k)
      out[b].loss_curve.emplace_back(st.curve_steps[k], st.curve[k][b].item<double>());
    if (out[b].loss_curve.empty() || out[b].loss_curve.back().first != end)  // a batch ending early recorded it
      out[b].loss_curve.emplace_back(end, out[b].final_loss);
    const int ran = static_cast<int>((end + opt.iterations - 1) / opt.iterations);
    out[b].converged = !out[b].nonfinite && loss_converged(out[b].loss_curve, opt.iterations, ran, opt.converge_tol);
    out[b].rounds = ran;
    if (until_converged && st.done[b].item<bool>()) {
      // Frozen at the start of a round: its curve is flat from there; the rounds it ran.
      out[b].rounds = static_cast<int>(out[b].iterations / opt.iterations);
    }
  }
  return out;
}

bool loss_converged(const std::vector<std::pair<int64_t, double>>& curve, int64_t iterations, int rounds, double tol) {
  if (curve.size() < 2) return false;
  const int64_t total = iterations * rounds;
  // The loss at the last round's start (one round: half-way), against the final loss, on
  // the scale of the starting loss: the curve is flat as it is plotted (a loss that keeps
  // halving near zero has converged; one still falling by tenths of its start has not).
  const int64_t ref_step = rounds > 1 ? total - iterations : total / 2;
  double ref = std::nan("");
  for (const auto& [step, loss] : curve)
    if (step <= ref_step) ref = loss;
  const double start = curve.front().second, last = curve.back().second;
  if (!std::isfinite(ref) || !std::isfinite(last) || !std::isfinite(start)) return false;
  if (start <= 0) return last <= 0;
  return std::abs(ref - last) < tol * start;
}

}  // namespace mm::synth
