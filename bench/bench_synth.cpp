// bench/bench_synth.cpp: speed of the metamer synthesis loop against the paper-style Python loop.
//
//   bench_synth --model resnet18.pt [--layers relu,layer4] [--batches 1,8] [--iterations 30]
//               [--warmup 5] [--repeats 1] [--python /usr/bin/python3]
//               [--python-script bench/python_loop.py] [--threads 0] [--no-python] [--breakdown]
//               [--dump-graph]
//
// For every layer and batch B it runs mm::synth::synthesize() (normalized-gradient descent,
// one round, no checkpoints) on B seeded random references, after a warm-up run, and reports
//   seconds per iteration       = loop time / N         (one step updates all B metamers)
//   metamer-iterations / second = B * N / loop time
// "Loop time" is synthesize()'s own steady_clock time of its N steps (read from the final
// progress report), so it excludes the one-off target forward and final-loss forward exactly
// as python_loop.py excludes them; the whole-call wall time / N is reported too (JSON).
// With --repeats R each figure is the best (least disturbed) of R runs; all runs are in the JSON.
//
// Python baseline: bench/python_loop.py run as a subprocess (batch 1, the full forward each
// step, as the paper's code runs), for each layer, parsing its JSON line.
//
// FLOPs: counted, not estimated. A RecordFunction observer sees every ATen op that actually
// runs and adds 2 FLOPs per multiply-accumulate of the top-level (not nested) convolutions
// (aten::_convolution; aten::convolution_backward per its output_mask) and matrix products
// (linear/addmm/mm/bmm/matmul/baddbmm), using the real input/output shapes. Element-wise work
// (batch norm, ReLU, adds, pooling, the loss and update) is not counted, by the usual convention.
//   forward FLOPs  one no-grad forward of the pruned model up to the layer
//   step FLOPs     synthesize() with 2 iterations minus synthesize() with 1 iteration, i.e.
//                  exactly what one step executes (forward + backward to the input)
// Because the weights are frozen, the backward computes only input gradients, so a step is
// about 2x the forward (not the 3x of training, which also computes weight gradients); the
// measured ratio is printed. The check "logits forward" should give ~1.82 GMAC = 3.64 GFLOP
// for ResNet-18 at 224x224.
//
// Peak: the best time of torch::mm on 2048x2048 float32 (after warm-up) gives the matrix-
// multiply peak in GFLOP/s; a ResNet-style 3x3 convolution is timed too for reference. The
// fraction of peak is achieved step FLOP/s over the matmul peak. Peaks are measured before
// and after the runs; the higher is used, and a large difference means the machine was busy.
//
// --breakdown prints, per layer and batch, where one step's time goes: time inside top-level
// ATen ops (forward and backward, by op) and the remainder (interpreter, autograd engine,
// allocation). Timing with the observer on adds some overhead, so it is a separate run.
// --dump-graph prints each layer's pruned TorchScript graph; BENCH_SYNTH_DEBUG=1 in the
// environment lists every counted convolution/matmul with its FLOPs on stderr.
//
// Contamination: the CPU time other processes used during each timed run (from /proc/stat
// and getrusage) is reported as "others' CPU share"; above 10%, or if the matmul peak moved
// by more than 15%, the figures are flagged and the goal lines say to re-run.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/record_function.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/program/cli.h"
#include "app/program/process.h"
#include "synth/engine.h"
#include "synth/engine_internal.h"
#include "synth/model.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// [SECTION] Options ------------------------------------------------------------------------
struct Args {
  std::string model;
  std::vector<std::string> layers{"relu", "layer4"};
  std::vector<int64_t> batches{1, 8};
  int64_t iterations = 30;
  int64_t warmup = 5;
  int repeats = 1;
  std::string python = "/usr/bin/python3";
  std::string python_script;
  int threads = 0;
  bool run_python = true;
  bool breakdown = false;
  bool dump_graph = false;
};

// The options table (parsing and --help, as every metamerlab program: app/program/cli.h).
const mm::app::Command kCommand{
    "", "benchmark of the synthesis loop: C++ against the same loop in Python, FLOP/s against the matmul peak", "",
    {{"model", "FILE.pt", "a TorchScript archive (tools/export_model.py)", "", true},
     {"layers", "L1[,L2...]", "layers to synthesize at", "relu,layer4", false, true},
     {"batches", "B1[,B2...]", "batch sizes", "1,8", false, true},
     {"iterations", "N", "timed steps", "30"},
     {"warmup", "N", "untimed steps first", "5"},
     {"repeats", "N", "repeats (best of)", "1"},
     {"python", "FILE", "the Python with Debian's torch", "/usr/bin/python3"},
     {"python-script", "FILE", "the Python loop (default: bench/python_loop.py of the source tree)", ""},
     {"threads", "N", "torch threads (0: one per core)", "0"},
     {"no-python", "", "skip the Python baseline"},
     {"breakdown", "", "time forward, backward and step apart"},
     {"dump-graph", "", "print the pruned graph of each layer"}},
    "", false, {}, "bench_synth"};

// nullopt after --help.
std::optional<Args> parse_args(int argc, char** argv) {
  const auto p = mm::app::parse_program_args(kCommand, argc, argv);
  if (!p) return std::nullopt;
  Args a;
  a.model = p->get("model");
  a.layers = p->list("layers");
  a.batches.clear();
  for (const auto& b : p->list("batches")) {
    try {
      a.batches.push_back(std::stoll(b));
    } catch (const std::exception&) {
      throw mm::app::UsageError("--batches: not a whole number: " + b);
    }
  }
  a.iterations = p->get_int("iterations");
  a.warmup = p->get_int("warmup");
  a.repeats = static_cast<int>(p->get_int("repeats"));
  a.python = p->get("python");
  a.python_script = p->has("python-script") ? p->get("python-script")
                                            : std::string(METAMERLAB_SOURCE_DIR) + "/bench/python_loop.py";
  a.threads = static_cast<int>(p->get_int("threads"));
  a.run_python = !p->flag("no-python");
  a.breakdown = p->flag("breakdown");
  a.dump_graph = p->flag("dump-graph");
  if (a.layers.empty() || a.batches.empty()) throw mm::app::UsageError("--layers and --batches must not be empty");
  if (a.iterations < 1 || a.warmup < 0 || a.repeats < 1)
    throw mm::app::UsageError("--iterations and --repeats must be >= 1, --warmup >= 0");
  for (auto b : a.batches)
    if (b < 1) throw mm::app::UsageError("batches must be >= 1");
  return a;
}

double loadavg() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

// Others' CPU use during a measurement: the machine's busy CPU time (/proc/stat) minus this
// process's and its waited-for children's (getrusage), over wall time x cores. 0 on a quiet
// machine; 0.5 means other processes took half the machine.
struct CpuProbe {
  Clock::time_point t;
  double busy = 0, self = 0;
};

CpuProbe cpu_probe() {
  CpuProbe p;
  p.t = Clock::now();
  std::ifstream f("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  p.busy = (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
  auto secs = [](const struct rusage& u) {
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  };
  struct rusage self {}, kids {};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  p.self = secs(self) + secs(kids);
  return p;
}

double others_share(const CpuProbe& p0) {
  CpuProbe p1 = cpu_probe();
  double wall = std::chrono::duration<double>(p1.t - p0.t).count();
  double cores = std::max(1u, std::thread::hardware_concurrency());
  if (wall <= 0) return 0;
  return std::clamp(((p1.busy - p0.busy) - (p1.self - p0.self)) / (wall * cores), 0.0, 1.0);
}

std::string fmt(double v, int prec) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v;
  return s.str();
}

// [SECTION] FLOP and op observer -----------------------------------------------------------
// One global observer; RecordFunction callbacks are plain function pointers, so the state is
// file-global. Only active inside observe(). Shapes are read in the start callback: for ops
// the TorchScript interpreter calls (boxed), the inputs the end callback sees are the
// interpreter's stack, already overwritten by the outputs.
struct OpStats {
  double fwd_flops = 0, bwd_flops = 0;  // 2 per multiply-accumulate
  int64_t fwd_convs = 0, bwd_convs = 0, matmuls = 0;
  std::map<std::string, int64_t> calls;  // top-level ATen ops by name ("bwd " + name in backward)
  std::map<std::string, double> secs;    // their inclusive time (timing mode)
  double op_secs = 0;
};

std::mutex g_mu;
OpStats g_stats;
bool g_timing = false;
thread_local int t_op_depth = 0;   // nesting of FUNCTION-scope ops
thread_local int t_bwd_depth = 0;  // inside an autograd backward node

struct Ctx : at::ObserverContext {
  bool top = false, bwd_node = false;
  double flops = 0;
  int kind = 0;  // 1 conv forward, 2 conv backward, 3 matrix product
  Clock::time_point t0;
};

int counted_kind(const std::string& n) {
  if (n == "aten::_convolution") return 1;
  if (n == "aten::convolution_backward") return 2;
  if (n == "aten::linear" || n == "aten::addmm" || n == "aten::mm" || n == "aten::bmm" || n == "aten::matmul" ||
      n == "aten::baddbmm" || n == "aten::addbmm")
    return 3;
  return 0;
}

int64_t inner_numel(const at::Tensor& w) { return w.size(0) ? w.numel() / w.size(0) : 0; }

// Multiply-accumulates of a non-transposed convolution of x by w (output size from the
// stride/padding/dilation lists), times 2.
double conv_flops(const at::Tensor& x, const at::Tensor& w, const std::vector<int64_t>& stride,
                  const std::vector<int64_t>& pad, const std::vector<int64_t>& dil) {
  const int64_t nd = w.dim() - 2;
  double out = static_cast<double>(x.size(0)) * w.size(0);
  for (int64_t i = 0; i < nd; ++i) {
    auto at = [&](const std::vector<int64_t>& v, int64_t dflt) {
      return v.empty() ? dflt : v[std::min<size_t>(i, v.size() - 1)];
    };
    int64_t o = (x.size(2 + i) + 2 * at(pad, 0) - at(dil, 1) * (w.size(2 + i) - 1) - 1) / at(stride, 1) + 1;
    out *= static_cast<double>(std::max<int64_t>(o, 0));
  }
  return 2.0 * out * inner_numel(w);
}

double flops_of(int kind, const std::string& n, c10::ArrayRef<const c10::IValue> in) {
  auto t = [&](size_t i) -> at::Tensor { return i < in.size() && in[i].isTensor() ? in[i].toTensor() : at::Tensor(); };
  auto ints = [&](size_t i) -> std::vector<int64_t> {
    return i < in.size() && in[i].isIntList() ? in[i].toIntVector() : std::vector<int64_t>{};
  };
  auto flag = [&](size_t i) { return i < in.size() && in[i].isBool() && in[i].toBool(); };
  if (kind == 1) {  // _convolution(input, weight, bias, stride, padding, dilation, transposed, ...)
    auto x = t(0), w = t(1);
    if (!x.defined() || !w.defined() || w.dim() < 3) return 0;
    if (flag(6)) return 2.0 * static_cast<double>(x.numel()) * inner_numel(w);  // transposed
    return conv_flops(x, w, ints(3), ints(4), ints(5));
  }
  if (kind == 2) {  // convolution_backward(grad_output, input, weight, bias_sizes, stride, padding,
                    //                     dilation, transposed, output_padding, groups, output_mask)
    auto go = t(0), x = t(1), w = t(2);
    if (!go.defined() || !x.defined() || !w.defined()) return 0;
    double one = 2.0 * static_cast<double>(flag(7) ? x.numel() : go.numel()) * inner_numel(w);
    int passes = 2;
    if (in.size() > 10 && in[10].isBoolList()) {
      auto mask = in[10].toBoolList();
      passes = (mask.size() > 0 && mask.get(0)) + (mask.size() > 1 && mask.get(1));
    }
    return one * passes;
  }
  // Matrix products: 2 * rows * contraction * columns (times the batch).
  if (n == "aten::linear") {
    auto x = t(0), w = t(1);
    return x.defined() && w.defined() ? 2.0 * static_cast<double>(x.numel()) * w.size(0) : 0;
  }
  at::Tensor a, b;
  if (n == "aten::addmm" || n == "aten::baddbmm" || n == "aten::addbmm") a = t(1), b = t(2);
  else a = t(0), b = t(1);
  if (!a.defined() || !b.defined() || a.dim() == 0 || b.dim() == 0) return 0;
  const double k = static_cast<double>(a.size(-1));
  const double rows = a.dim() >= 2 ? static_cast<double>(a.numel()) / k : 1.0;  // includes a's batch
  const double cols = b.dim() >= 2 ? static_cast<double>(b.size(-1)) : 1.0;
  const double bbatch = b.dim() > 2 ? static_cast<double>(b.numel()) / (b.size(-1) * b.size(-2)) : 1.0;
  const double abatch = a.dim() > 2 ? static_cast<double>(a.numel()) / (a.size(-1) * a.size(-2)) : 1.0;
  // b batched against an unbatched a: broadcast.
  return 2.0 * rows * k * cols * (bbatch > abatch ? bbatch / abatch : 1.0);
}

bool is_backward_marker(const at::RecordFunction& fn) {
  if (fn.scope() == at::RecordScope::BACKWARD_FUNCTION) return true;
  return std::strncmp(fn.name(), "autograd::engine::evaluate_function", 35) == 0;
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  auto ctx = std::make_unique<Ctx>();
  if (is_backward_marker(fn)) {
    ctx->bwd_node = true;
    ++t_bwd_depth;
    return ctx;
  }
  ctx->top = t_op_depth == 0;
  ++t_op_depth;
  if (!ctx->top) return ctx;
  if (g_timing) {
    ctx->t0 = Clock::now();
  } else {
    std::string n = fn.name();
    ctx->kind = counted_kind(n);
    if (ctx->kind) {
      // Boxed calls (the TorchScript interpreter) pass the whole interpreter stack as the
      // inputs; the op's own arguments are its last schema.arguments().size() entries.
      auto in = fn.inputs();
      auto schema = fn.operator_schema();
      if (schema && in.size() > schema->arguments().size()) in = in.slice(in.size() - schema->arguments().size());
      ctx->flops = flops_of(ctx->kind, n, in);
    }
  }
  return ctx;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* c) {
  auto* ctx = static_cast<Ctx*>(c);
  if (ctx->bwd_node) {
    --t_bwd_depth;
    return;
  }
  --t_op_depth;
  if (!ctx->top) return;
  const bool bwd = t_bwd_depth > 0;
  std::string n = (bwd ? "bwd " : "") + std::string(fn.name());
  std::lock_guard<std::mutex> lock(g_mu);
  g_stats.calls[n]++;
  if (g_timing) {
    double dt = std::chrono::duration<double>(Clock::now() - ctx->t0).count();
    g_stats.op_secs += dt;
    g_stats.secs[n] += dt;
    return;
  }
  if (!ctx->kind) return;
  if (std::getenv("BENCH_SYNTH_DEBUG")) std::cerr << "  op " << n << " GFLOP " << ctx->flops / 1e9 << "\n";
  (bwd ? g_stats.bwd_flops : g_stats.fwd_flops) += ctx->flops;
  if (ctx->kind == 1) ++(bwd ? g_stats.bwd_convs : g_stats.fwd_convs);
  else if (ctx->kind == 2) ++g_stats.bwd_convs;
  else ++g_stats.matmuls;
}

// Runs f with the observer on; timing mode records op times instead of shapes.
OpStats observe(const std::function<void()>& f, bool timing) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_stats = OpStats{};
    g_timing = timing;
  }
  auto cb = at::RecordFunctionCallback(&on_start, &on_end)
                .needsInputs(!timing)
                .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION});
  auto handle = at::addGlobalCallback(cb);
  try {
    f();
  } catch (...) {
    at::removeCallback(handle);
    throw;
  }
  at::removeCallback(handle);
  std::lock_guard<std::mutex> lock(g_mu);
  return g_stats;
}

// [SECTION] Peaks --------------------------------------------------------------------------
struct Peak {
  double mm_gflops = 0, conv_gflops = 0;
};

Peak measure_peak() {
  torch::NoGradGuard ng;
  Peak p;
  auto gen = at::detail::createCPUGenerator(1);
  const int64_t n = 2048;
  auto a = torch::randn({n, n}, gen), b = torch::randn({n, n}, gen), c = torch::empty({n, n});
  for (int i = 0; i < 2; ++i) torch::mm_out(c, a, b);
  double best = 1e30;
  for (int i = 0; i < 8; ++i) {
    auto t0 = Clock::now();
    torch::mm_out(c, a, b);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  p.mm_gflops = 2.0 * n * n * n / best / 1e9;
  // A ResNet layer2-style 3x3 convolution, batch 8 (the backend's conv kernels).
  auto x = torch::randn({8, 128, 28, 28}, gen), w = torch::randn({128, 128, 3, 3}, gen);
  for (int i = 0; i < 2; ++i) torch::conv2d(x, w, {}, 1, 1);
  best = 1e30;
  for (int i = 0; i < 8; ++i) {
    auto t0 = Clock::now();
    auto y = torch::conv2d(x, w, {}, 1, 1);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  p.conv_gflops = 2.0 * 8 * 128 * 28 * 28 * 128 * 9 / best / 1e9;
  return p;
}

// [SECTION] Runs ---------------------------------------------------------------------------
std::vector<mm::stimuli::Array> references(const mm::synth::ModelInfo& info, int64_t B, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<int64_t> shape{B};
  shape.insert(shape.end(), info.input_shape.begin(), info.input_shape.end());
  auto r = info.lo + (info.hi - info.lo) * torch::rand(shape, gen);
  std::vector<mm::stimuli::Array> out;
  for (int64_t b = 0; b < B; ++b) out.push_back(mm::synth::to_array(r[b]));
  return out;
}

mm::synth::SynthOptions synth_options(int64_t iterations) {
  mm::synth::SynthOptions o;
  o.iterations = iterations;
  o.rounds = 1;
  o.checkpoint_every = 0;
  return o;
}

struct Timing {
  double loop_s = 0, call_s = 0;
  double final_loss = 0;
  double others = 0;  // others' share of the machine during the run
};

Timing time_synth(const mm::synth::ModelHandle& m, const std::string& layer,
                  const std::vector<mm::stimuli::Array>& refs, int64_t iterations) {
  Timing t;
  double loop = -1;
  auto progress = [&](const mm::synth::SynthProgress& p) {
    if (p.step == p.total) loop = p.elapsed_s;
  };
  auto probe = cpu_probe();
  auto t0 = Clock::now();
  auto out = mm::synth::synthesize(m, layer, refs, synth_options(iterations), "", progress);
  t.call_s = std::chrono::duration<double>(Clock::now() - t0).count();
  t.others = others_share(probe);
  t.loop_s = loop > 0 ? loop : t.call_s;
  for (const auto& o : out) t.final_loss += o.final_loss / static_cast<double>(out.size());
  return t;
}

struct PyResult {
  bool ok = false;
  double s_per_iter = NAN;
  double others = 0;  // others' share of the machine while it ran (model load included)
  json line;
  std::string error;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

PyResult run_python(const Args& a, const std::string& layer) {
  PyResult r;
  std::string cmd = shell_quote(a.python) + " " + shell_quote(a.python_script) + " --model " + shell_quote(a.model) +
                    " --layer " + shell_quote(layer) + " --iterations " + std::to_string(a.iterations) +
                    " --warmup " + std::to_string(a.warmup);
  auto probe = cpu_probe();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    r.error = "cannot start: " + cmd;
    return r;
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  r.others = others_share(probe);
  std::stringstream ss(out);
  std::string line, last;
  while (std::getline(ss, line))
    if (!line.empty() && line[0] == '{') last = line;
  if (rc != 0 || last.empty()) {
    int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : rc;
    r.error = "`" + cmd + "` failed (exit status " + std::to_string(status) + (status == 127 ? ": not found" : "") + ")";
    return r;
  }
  try {
    r.line = json::parse(last);
    r.s_per_iter = r.line.at("seconds_per_iteration").get<double>();
    r.ok = true;
  } catch (const std::exception& e) {
    r.error = "cannot parse python_loop.py output: " + last;
  }
  return r;
}

struct GraphInfo {
  int64_t nodes = 0, convs = 0, calls = 0;  // calls: prim::CallMethod/CallFunction left un-inlined
};

GraphInfo graph_info(mm::synth::Model& model, const std::string& layer, bool fake) {
  GraphInfo gi;
  auto g = mm::synth::pruned_graph_of(model, {layer}, fake);
  if (!g) return {-1, -1, -1};
  for (auto* n : g->nodes()) {
    ++gi.nodes;
    auto k = n->kind();
    if (k == c10::aten::_convolution || k == c10::aten::conv2d || k == c10::aten::convolution) ++gi.convs;
    if (k == c10::prim::CallMethod || k == c10::prim::CallFunction) ++gi.calls;
  }
  return gi;
}

struct Row {
  std::string layer;
  int64_t batch = 0;
  std::vector<Timing> runs;
  Timing best;
  double py_s = NAN;                 // Python s/iter at batch 1 (best of repeats)
  std::vector<double> py_runs;
  double py_others = 0;              // others' share during the best Python run
  double fwd_flops = 0, step_flops = 0;
  int64_t step_fwd_convs = 0, step_bwd_convs = 0;
  std::map<std::string, int64_t> step_calls;
  double load_before = 0, load_after = 0;
};

int64_t layer_index(const mm::synth::ModelInfo& info, const std::string& l) {
  auto it = std::find(info.layers.begin(), info.layers.end(), l);
  return it - info.layers.begin();
}

// Where one step's time goes: the observer (timing mode) on synthesize() with 2 and with
// 2 + K steps; the difference over K is one step, free of the one-off forwards.
void print_breakdown(const mm::synth::ModelHandle& m, const std::string& layer,
                     const std::vector<mm::stimuli::Array>& refs, int64_t iterations) {
  const int64_t k = std::max<int64_t>(5, std::min<int64_t>(iterations, 10));
  Timing t1, t2;
  auto s1 = observe([&] { t1 = time_synth(m, layer, refs, 2); }, true);
  auto s2 = observe([&] { t2 = time_synth(m, layer, refs, 2 + k); }, true);
  const double step = (t2.call_s - t1.call_s) / k;
  std::vector<std::pair<double, std::string>> rows;
  double fwd = 0, bwd = 0;
  for (const auto& [name, v] : s2.secs) {
    double d = (v - (s1.secs.count(name) ? s1.secs.at(name) : 0.0)) / k;
    rows.emplace_back(d, name);
    (name.rfind("bwd ", 0) == 0 ? bwd : fwd) += d;
  }
  std::sort(rows.rbegin(), rows.rend());
  std::cout << "  breakdown " << layer << " batch " << refs.size() << " (observer on, per step): " << fmt(step * 1e3, 2)
            << " ms; top-level ATen ops: forward side " << fmt(fwd * 1e3, 2) << " ms, backward " << fmt(bwd * 1e3, 2)
            << " ms; outside ATen ops (interpreter, autograd engine) " << fmt((step - fwd - bwd) * 1e3, 2) << " ms\n";
  int shown = 0;
  for (const auto& [v, name] : rows) {
    if (++shown > 14 || v <= 0) break;
    int64_t calls = (s2.calls.count(name) ? s2.calls.at(name) : 0) - (s1.calls.count(name) ? s1.calls.at(name) : 0);
    std::cout << "    " << std::setw(36) << std::left << name << std::right << std::setw(9) << fmt(v * 1e3, 3)
              << " ms " << std::setw(6) << fmt(100.0 * v / step, 1) << "%  calls/step " << fmt(double(calls) / k, 1)
              << "\n";
  }
}

}  // namespace

// [SECTION] Main ---------------------------------------------------------------------------
int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  Args a;
  try {
    const auto parsed = parse_args(argc, argv);
    if (!parsed) return 0;
    a = *parsed;
  } catch (const mm::app::UsageError& e) {
    std::cerr << "bench_synth: " << e.what() << "\n";
    return 2;
  }
  try {
    mm::synth::Runtime rt;
    rt.threads = a.threads;
    mm::synth::init_runtime(rt);
    auto m = mm::synth::ModelHandle::open(a.model);
    m.check_layers(a.layers);
    const auto& info = m.info();

    std::cout << "bench_synth " << mm::synth::program_version() << "  model " << a.model << "\n";
    std::cout << "torch threads " << mm::synth::runtime_threads() << " (hardware " << std::thread::hardware_concurrency()
              << "), interop " << at::get_num_interop_threads() << "; iterations " << a.iterations << ", warm-up "
              << a.warmup << ", repeats " << a.repeats << " (best of)\n";
    {
      // The lines of torch's build configuration that say which kernels do the work.
      std::stringstream cfg(at::show_config());
      std::string line, keep;
      while (std::getline(cfg, line)) {
        if (line.find("MKL-DNN") != std::string::npos || line.find("CPU capability") != std::string::npos ||
            line.find("OpenMP") != std::string::npos)
          keep += (keep.empty() ? "" : "; ") + line.substr(line.find_first_not_of(" -"));
        std::stringstream items(line);
        std::string item;
        while (std::getline(items, item, ',')) {
          item = item.substr(std::min(item.size(), item.find_first_not_of(' ')));
          if (item.rfind("Build settings: ", 0) == 0) item = item.substr(16);
          if (item.rfind("BLAS_INFO", 0) == 0 || item.rfind("LAPACK_INFO", 0) == 0 || item.rfind("USE_MKLDNN", 0) == 0 ||
              item.rfind("USE_OPENMP", 0) == 0 || item.rfind("TORCH_VERSION", 0) == 0)
            keep += "; " + item;
        }
      }
      std::cout << "torch: " << keep << "\n";
    }

    double load0 = loadavg();
    Peak peak0 = measure_peak();
    std::cout << "peak (before): matmul 2048^2 fp32 " << fmt(peak0.mm_gflops, 1) << " GFLOP/s, conv 3x3 128ch 28x28 b8 "
              << fmt(peak0.conv_gflops, 1) << " GFLOP/s; load average " << fmt(load0, 2) << "\n";

    // FLOP counts: logits check, then per layer and batch.
    double logits_flops = 0;
    int64_t logits_convs = 0;
    {
      auto refs = references(info, 1, 7);
      auto x = mm::synth::stack_arrays(refs, 0, 1);
      auto st = observe([&] {
        torch::NoGradGuard ng;
        m.impl().forward(x, {"logits"}, false);
      }, false);
      logits_flops = st.fwd_flops;
      logits_convs = st.fwd_convs;
      std::cout << "full forward (logits), batch 1: " << fmt(logits_flops / 2e9, 3) << " GMAC = "
                << fmt(logits_flops / 1e9, 3) << " GFLOP, " << logits_convs << " convolutions, " << st.matmuls
                << " matrix products (ResNet-18 at 224: ~1.82 GMAC)\n";
    }

    std::vector<std::string> layers = a.layers;
    std::vector<Row> rows;
    std::map<std::string, PyResult> py_last;
    for (const auto& layer : layers) {
      auto gi = graph_info(m.impl(), layer, true);
      if (a.dump_graph) {
        auto g = mm::synth::pruned_graph_of(m.impl(), {layer}, true);
        if (g) std::cout << "pruned graph for " << layer << ":\n" << *g << "\n";
      }
      auto gfull = graph_info(m.impl(), "logits", false);
      std::cout << "pruned graph for " << layer << ": " << gi.nodes << " nodes, " << gi.convs << " convolution nodes, "
                << gi.calls << " un-inlined calls (logits: " << gfull.nodes << " nodes, " << gfull.convs
                << " convolution nodes, " << gfull.calls << " un-inlined calls)\n";
      for (auto B : a.batches) {
        Row r;
        r.layer = layer;
        r.batch = B;
        auto refs = references(info, B, 1000 + static_cast<uint64_t>(B));
        // FLOPs of one forward and of one step (2 iterations minus 1 iteration).
        auto x = mm::synth::stack_arrays(refs, 0, refs.size());
        auto f = observe([&] {
          torch::NoGradGuard ng;
          m.impl().forward(x, {layer}, false);
        }, false);
        r.fwd_flops = f.fwd_flops;
        auto s1 = observe([&] { mm::synth::synthesize(m, layer, refs, synth_options(1)); }, false);
        auto s2 = observe([&] { mm::synth::synthesize(m, layer, refs, synth_options(2)); }, false);
        r.step_flops = (s2.fwd_flops + s2.bwd_flops) - (s1.fwd_flops + s1.bwd_flops);
        r.step_fwd_convs = s2.fwd_convs - s1.fwd_convs;
        r.step_bwd_convs = s2.bwd_convs - s1.bwd_convs;
        std::cout << "  one step at " << layer << ", batch " << B << ": " << r.step_fwd_convs << " forward and "
                  << r.step_bwd_convs << " backward convolutions (the whole model has " << logits_convs << "), "
                  << fmt(r.step_flops / 1e9, 3) << " GFLOP = " << fmt(r.step_flops / r.fwd_flops, 2)
                  << " x the pruned forward (" << fmt(f.fwd_flops / 1e9, 3) << " GFLOP)\n";
        for (const auto& [k, v] : s2.calls) {
          int64_t d = v - (s1.calls.count(k) ? s1.calls.at(k) : 0);
          if (d) r.step_calls[k] = d;
        }
        // Warm-up, then the timed runs (interleaved with Python at batch 1).
        if (a.warmup > 0) time_synth(m, layer, refs, a.warmup);
        r.load_before = loadavg();
        for (int rep = 0; rep < a.repeats; ++rep) {
          r.runs.push_back(time_synth(m, layer, refs, a.iterations));
          if (B == 1 && a.run_python) {
            auto py = run_python(a, layer);
            if (!py.ok) {
              std::cerr << "bench_synth: python baseline: " << py.error << "\n";
            } else {
              if (r.py_runs.empty() || py.s_per_iter < *std::min_element(r.py_runs.begin(), r.py_runs.end()))
                r.py_others = py.others;
              r.py_runs.push_back(py.s_per_iter);
              py_last[layer] = py;
            }
          }
        }
        r.load_after = loadavg();
        r.best = *std::min_element(r.runs.begin(), r.runs.end(),
                                   [](const Timing& p, const Timing& q) { return p.loop_s < q.loop_s; });
        if (!r.py_runs.empty()) r.py_s = *std::min_element(r.py_runs.begin(), r.py_runs.end());
        std::cout << "  measured " << layer << " batch " << B << ": " << fmt(r.best.loop_s / a.iterations * 1e3, 2)
                  << " ms/iter" << (r.py_runs.empty() ? "" : ", python " + fmt(r.py_s * 1e3, 2) + " ms/iter")
                  << "; others' CPU share during the best runs: C++ " << fmt(100 * r.best.others, 0) << "%"
                  << (r.py_runs.empty() ? "" : ", Python " + fmt(100 * r.py_others, 0) + "%") << "; load average "
                  << fmt(r.load_before, 2) << " -> " << fmt(r.load_after, 2) << "\n";
        if (a.breakdown) print_breakdown(m, layer, refs, a.iterations);
        rows.push_back(r);
      }
    }
    // Python at batch 1 for layers whose batch list has no 1: still run it once.
    for (auto& r : rows) {
      if (!std::isnan(r.py_s) || !a.run_python) continue;
      if (py_last.count(r.layer)) continue;
      for (int rep = 0; rep < a.repeats; ++rep) {
        auto py = run_python(a, r.layer);
        if (py.ok) {
          if (r.py_runs.empty() || py.s_per_iter < *std::min_element(r.py_runs.begin(), r.py_runs.end()))
            r.py_others = py.others;
          py_last[r.layer] = py;
          r.py_runs.push_back(py.s_per_iter);
        }
      }
      if (!r.py_runs.empty()) r.py_s = *std::min_element(r.py_runs.begin(), r.py_runs.end());
    }
    for (auto& r : rows) {  // every row of a layer is compared with that layer's Python batch-1 figure
      if (!std::isnan(r.py_s)) continue;
      for (const auto& q : rows)
        if (q.layer == r.layer && !std::isnan(q.py_s)) {
          r.py_s = q.py_s;
          break;
        }
    }

    Peak peak1 = measure_peak();
    double load1 = loadavg();
    std::cout << "peak (after):  matmul " << fmt(peak1.mm_gflops, 1) << " GFLOP/s, conv " << fmt(peak1.conv_gflops, 1)
              << " GFLOP/s; load average " << fmt(load1, 2) << "\n";
    Peak peak{std::max(peak0.mm_gflops, peak1.mm_gflops), std::max(peak0.conv_gflops, peak1.conv_gflops)};
    double peak_drift = std::abs(peak0.mm_gflops - peak1.mm_gflops) / peak.mm_gflops;
    double max_load = std::max(load0, load1);
    double max_others = 0;
    for (const auto& r : rows) {
      max_load = std::max({max_load, r.load_before, r.load_after});
      max_others = std::max({max_others, r.best.others, r.py_others});
    }
    const bool busy = max_others > 0.10;
    if (busy)
      std::cout << "WARNING: other processes took up to " << fmt(100 * max_others, 0) << "% of the "
                << std::thread::hardware_concurrency() << " cores during the best runs (load average up to "
                << fmt(max_load, 1) << "); figures may be contaminated: re-run on a quiet machine\n";
    if (peak_drift > 0.15)
      std::cout << "WARNING: the matmul peak changed by " << fmt(100 * peak_drift, 0)
                << "% during the run: other processes were using the CPU; figures may be contaminated\n";

    // The table.
    std::cout << "\n"
              << std::left << std::setw(8) << "layer" << std::right << std::setw(6) << "batch" << std::setw(12)
              << "C++ s/iter" << std::setw(12) << "C++ mit/s" << std::setw(12) << "Py s/iter" << std::setw(10)
              << "speed-up" << std::setw(10) << "thruput" << std::setw(11) << "GFLOP/step" << std::setw(8) << "step/fw"
              << std::setw(10) << "GFLOP/s" << std::setw(9) << "% peak" << std::setw(10) << "% conv" << "\n";
    json jrows = json::array();
    for (const auto& r : rows) {
      double s = r.best.loop_s / a.iterations;
      double mits = r.batch * a.iterations / r.best.loop_s;
      double speed = r.py_s / s;                    // per iteration (one step of the whole batch)
      double thru = r.batch * r.py_s / s;           // metamer-iterations per second vs Python's
      double gfs = r.step_flops / s / 1e9;
      std::cout << std::left << std::setw(8) << r.layer << std::right << std::setw(6) << r.batch << std::setw(12)
                << fmt(s, 5) << std::setw(12) << fmt(mits, 2) << std::setw(12)
                << (r.batch == 1 ? fmt(r.py_s, 5) : "(" + fmt(r.py_s, 4) + ")") << std::setw(10)
                << fmt(speed, 2) + "x" << std::setw(10) << fmt(thru, 2) + "x" << std::setw(11)
                << fmt(r.step_flops / 1e9, 3) << std::setw(8) << fmt(r.step_flops / r.fwd_flops, 2) << std::setw(10)
                << fmt(gfs, 1) << std::setw(9) << fmt(100 * gfs / peak.mm_gflops, 1) << std::setw(10)
                << fmt(100 * gfs / peak.conv_gflops, 1) << "\n";
      json jr = {{"layer", r.layer},
                 {"batch", r.batch},
                 {"cpp_seconds_per_iteration", s},
                 {"cpp_metamer_iterations_per_second", mits},
                 {"cpp_call_seconds_per_iteration", r.best.call_s / a.iterations},
                 {"cpp_loop_seconds_runs", json::array()},
                 {"python_seconds_per_iteration_batch1", std::isnan(r.py_s) ? json(nullptr) : json(r.py_s)},
                 {"python_seconds_runs", r.py_runs},
                 {"speedup_per_iteration", std::isnan(speed) ? json(nullptr) : json(speed)},
                 {"speedup_metamer_iterations", std::isnan(thru) ? json(nullptr) : json(thru)},
                 {"forward_flops", r.fwd_flops},
                 {"step_flops", r.step_flops},
                 {"step_over_forward", r.step_flops / r.fwd_flops},
                 {"step_forward_convolutions", r.step_fwd_convs},
                 {"step_backward_convolutions", r.step_bwd_convs},
                 {"step_top_level_ops", r.step_calls},
                 {"achieved_gflops", gfs},
                 {"fraction_of_matmul_peak", gfs / peak.mm_gflops},
                 {"fraction_of_conv_peak", gfs / peak.conv_gflops},
                 {"final_loss_mean", r.best.final_loss},
                 {"others_cpu_share_cpp", r.best.others},
                 {"others_cpu_share_python", r.py_others},
                 {"loadavg_before", r.load_before},
                 {"loadavg_after", r.load_after}};
      for (const auto& t : r.runs) jr["cpp_loop_seconds_runs"].push_back(t.loop_s);
      jrows.push_back(jr);
    }
    std::cout << "C++ s/iter: one step of the whole batch (synthesize()'s loop time / iterations); mit/s: metamer-"
                 "iterations per second;\nPy s/iter: python_loop.py, batch 1 (in parentheses: the batch-1 figure the "
                 "row is compared with); speed-up: Python s/iter over C++ s/iter;\nthruput: C++ metamer-it/s over "
                 "Python's; GFLOP/step: counted conv+matmul FLOPs of one step of the batch; step/fw: that over one "
                 "forward;\n% peak: of the matmul peak " << fmt(peak.mm_gflops, 1) << " GFLOP/s; % conv: of the 3x3 conv "
                 "rate " << fmt(peak.conv_gflops, 1) << " GFLOP/s.\n\n";

    // Goals (batch 1, per iteration, like for like with the Python loop).
    std::string early, late;
    for (const auto& l : layers) {
      if (early.empty() || layer_index(info, l) < layer_index(info, early)) early = l;
      if (late.empty() || layer_index(info, l) > layer_index(info, late)) late = l;
    }
    if (std::find(layers.begin(), layers.end(), "layer4") != layers.end()) late = "layer4";
    auto row_of = [&](const std::string& l, int64_t b) -> const Row* {
      for (const auto& r : rows)
        if (r.layer == l && r.batch == b) return &r;
      return nullptr;
    };
    json goals = json::array();
    auto goal = [&](const std::string& name, const std::string& l, double need) {
      const Row* r = row_of(l, 1);
      if (!r || std::isnan(r->py_s)) {
        std::cout << "GOAL " << name << ": NOT MEASURED (needs batch 1 and the Python baseline at " << l << ")\n";
        goals.push_back({{"goal", name}, {"layer", l}, {"met", nullptr}});
        return;
      }
      double speed = r->py_s / (r->best.loop_s / a.iterations);
      bool met = speed >= need;
      std::cout << "GOAL " << name << ": " << (met ? "MET" : "NOT MET") << " (C++ "
                << fmt(r->best.loop_s / a.iterations * 1e3, 2) << " ms/iter vs Python " << fmt(r->py_s * 1e3, 2)
                << " ms/iter at " << l << ", batch 1: " << fmt(speed, 2) << "x, need >= " << fmt(need, 1) << "x)"
                << (busy || peak_drift > 0.15 ? " [machine busy: re-run]" : "") << "\n";
      goals.push_back({{"goal", name}, {"layer", l}, {"speedup", speed}, {"required", need}, {"met", met}});
    };
    goal("no slower than Python at " + late, late, 1.0);
    if (early != late) goal("at least 3x faster than Python at " + early, early, 3.0);
    for (const auto& r : rows) {
      double gfs = r.step_flops / (r.best.loop_s / a.iterations) / 1e9;
      std::cout << "fraction of peak: " << r.layer << " batch " << r.batch << ": " << fmt(100 * gfs / peak.mm_gflops, 1)
                << "% of the matmul peak (" << fmt(gfs, 1) << " of " << fmt(peak.mm_gflops, 1) << " GFLOP/s)\n";
    }

    json j = {{"bench", "bench_synth"},
              {"version", mm::synth::program_version()},
              {"model", a.model},
              {"threads", mm::synth::runtime_threads()},
              {"iterations", a.iterations},
              {"warmup", a.warmup},
              {"repeats", a.repeats},
              {"matmul_peak_gflops", peak.mm_gflops},
              {"matmul_peak_gflops_before_after", {peak0.mm_gflops, peak1.mm_gflops}},
              {"conv_gflops", peak.conv_gflops},
              {"conv_gflops_before_after", {peak0.conv_gflops, peak1.conv_gflops}},
              {"logits_forward_flops_batch1", logits_flops},
              {"loadavg_start_end", {load0, load1}},
              {"loadavg_max", max_load},
              {"others_cpu_share_max", max_others},
              {"contaminated", busy || peak_drift > 0.15},
              {"rows", jrows},
              {"goals", goals}};
    std::cout << j.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_synth: error: " << e.what() << "\n";
    return 1;
  }
}
