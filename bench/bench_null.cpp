// bench/bench_null.cpp: memory and time of the null distribution (the success test's pairs
// of natural stimuli) against the number of stimuli and the layer's size, streaming
// implementation against the first, dense one (issue 15, section 3).
//
//   bench_null --model resnet18.pt [--layers relu,layer4] [--counts 100,500,1000]
//              [--dense-up-to 100] [--budget 512] [--spill DIR] [--pairs 0] [--batch 16]
//              [--threads 0] [--sort-reference] [--json]
//
// Each configuration (layer x count x implementation) runs in a child process of this
// program (it re-executes itself with --child), so its peak resident memory is its own:
// wait4()'s ru_maxrss. The stimuli are N seeded 224x224 images (smooth colour fields plus
// noise, made in memory: the figures are the null's, not the disk's). Per configuration it
// prints the wall time and where it went (stimuli made, forward passes, sorting every row,
// turning the sorted rows into ranks, writing and reading the rows, the Gram products), whether the rows were
// spilled to a temporary file, and the maxima (dense and streaming agree within rounding).
// --sort-reference adds, per layer and count, the time std::sort takes over every row's
// activations (the usual way ranks are made): the yardstick of the time goal.
//
// resnet18.pt comes from `/usr/bin/python3 tools/export_model.py --arch resnet18 --out
// resnet18.pt` (untrained weights: the figures depend on sizes, not on what was learned);
// its `relu` layer is conv1's ReLU (64 x 112 x 112 = 802,816 values per stimulus).
//
// Sections
//   [SECTION] Options
//   [SECTION] Child     one configuration, one JSON line
//   [SECTION] Parent    children, table
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/Parallel.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/program/cli.h"
#include "app/program/process.h"
#include "synth/engine.h"
#include "synth/model.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// [SECTION] Options ------------------------------------------------------------------------
const mm::app::Command kCommand{
    "", "benchmark of the null distribution: peak memory and time against stimuli and layer size", "",
    {{"model", "FILE.pt", "a TorchScript archive (tools/export_model.py)", "", true},
     {"layers", "L1[,L2...]", "layers", "relu,layer4", false, true},
     {"counts", "N1[,N2...]", "numbers of natural stimuli", "100,500,1000", false, true},
     {"dense-up-to", "N", "also run the dense reference implementation for counts up to N", "100"},
     {"budget", "MB", "the streaming null's memory budget (metamerlab null --null-memory)", "512"},
     {"spill", "DIR", "folder for its temporary file (default: $TMPDIR, else /tmp)", ""},
     {"pairs", "N", "pairs (0: the paper's 10^6, or every ordered pair of a smaller set)", "0"},
     {"batch", "B", "stimuli per forward pass", "16"},
     {"threads", "N", "torch threads (0: one per core)", "0"},
     {"sort-reference", "", "also time std::sort of every row's activations (the usual way to rank), the time goal's yardstick"},
     {"json", "", "print one JSON object per configuration instead of the table"},
     {"child", "LAYER:COUNT:stream|dense|sort", "internal: run one configuration, print one JSON line", ""}},
    "", false, {}, "bench_null"};

long long number(const std::string& v, const std::string& what) {
  try {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used == v.size() && x >= 0) return x;
  } catch (const std::exception&) {
  }
  throw std::runtime_error("bench_null: " + what + " must be a whole number >= 0; got '" + v + "'");
}

// [SECTION] Child -------------------------------------------------------------------------
// Image i: a smooth field per channel (two random sinusoids) plus uniform noise, in the
// model's input range.
mm::stimuli::Array make_image(const mm::synth::ModelInfo& info, int64_t i) {
  mm::stimuli::Array a;
  a.shape = info.input_shape;
  const int64_t C = a.shape.at(0), H = a.shape.at(1), W = a.shape.at(2);
  a.data.resize(static_cast<size_t>(C * H * W));
  std::mt19937_64 rng(1000003ULL * static_cast<uint64_t>(i) + 17);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int64_t c = 0; c < C; ++c) {
    const float fx = 0.02f + 0.2f * u(rng), fy = 0.02f + 0.2f * u(rng), ph = 6.28f * u(rng), amp = 0.2f + 0.3f * u(rng);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        float v = 0.5f + amp * std::sin(fx * static_cast<float>(x) + fy * static_cast<float>(y) + ph) + 0.15f * (u(rng) - 0.5f);
        v = std::min(1.f, std::max(0.f, v));
        a.data[static_cast<size_t>((c * H + y) * W + x)] = static_cast<float>(info.lo + (info.hi - info.lo) * v);
      }
  }
  return a;
}

int run_child(const mm::app::Args& p) {
  const std::string spec = p.get("child");
  const auto c1 = spec.find(':'), c2 = spec.rfind(':');
  if (c1 == std::string::npos || c2 == c1) throw std::runtime_error("bench_null: --child must be LAYER:COUNT:MODE");
  const std::string layer = spec.substr(0, c1), mode = spec.substr(c2 + 1);
  const int64_t n = number(spec.substr(c1 + 1, c2 - c1 - 1), "the count");
  const int threads = static_cast<int>(number(p.get("threads"), "--threads"));
  at::set_num_threads(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  auto m = mm::synth::ModelHandle::open(p.get("model"));
  const int64_t pairs = number(p.get("pairs"), "--pairs");
  const int batch = static_cast<int>(number(p.get("batch"), "--batch"));
  mm::synth::NullMemory mem;
  mem.budget_bytes = number(p.get("budget"), "--budget") << 20;
  mem.spill_dir = p.get("spill");
  const auto t0 = Clock::now();
  mm::synth::NullStats st;
  int64_t D = 0;
  if (mode == "dense") {
    std::vector<mm::stimuli::Array> xs;
    for (int64_t i = 0; i < n; ++i) xs.push_back(make_image(m.info(), i));
    D = static_cast<int64_t>(m.activations({xs[0]}, layer).at(0).size());
    st = mm::synth::null_distribution_dense(m, layer, xs, pairs, 0, batch);
  } else if (mode == "stream") {
    st = mm::synth::null_distribution(
        m, layer, n, [&](int64_t i) { return make_image(m.info(), i); }, pairs, 0, batch, mem);
    D = static_cast<int64_t>(m.activations({make_image(m.info(), 0)}, layer).at(0).size());
  } else if (mode == "sort") {  // the reference: std::sort of each row's activations, as ranks are usually made
    for (int64_t b0 = 0; b0 < n; b0 += std::max(1, batch)) {
      std::vector<mm::stimuli::Array> xs;
      for (int64_t i = b0; i < std::min<int64_t>(n, b0 + std::max(1, batch)); ++i) xs.push_back(make_image(m.info(), i));
      auto rows = m.activations(xs, layer);
      D = static_cast<int64_t>(rows.at(0).size());
      const auto s0 = Clock::now();
      at::parallel_for(0, static_cast<int64_t>(rows.size()), 1, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) std::sort(rows[static_cast<size_t>(r)].begin(), rows[static_cast<size_t>(r)].end());
      });
      st.sort_s += std::chrono::duration<double>(Clock::now() - s0).count();
    }
  } else {
    throw std::runtime_error("bench_null: --child mode must be stream, dense or sort");
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  json j{{"layer", layer}, {"stimuli", n}, {"mode", mode}, {"values_per_stimulus", D}, {"pairs", st.pairs},
         {"wall_s", wall}, {"load_s", st.load_s}, {"forward_s", st.forward_s}, {"sort_s", st.sort_s},
         {"ranks_s", st.ranks_s}, {"write_s", st.write_s}, {"read_s", st.read_s}, {"gram_s", st.gram_s}, {"spilled", st.spilled},
         {"spearman_max", st.spearman_max}, {"pearson_max", st.pearson_max}, {"snr_db_max", st.snr_max},
         {"threads", at::get_num_threads()}};
  std::cout << j.dump() << std::endl;
  return 0;
}

// [SECTION] Parent ------------------------------------------------------------------------
struct Child {
  json result;
  double peak_mb = 0;
  std::string failure;
};

Child spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("bench_null: pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("bench_null: fork failed");
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t r; (r = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fds[0]);
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  Child c;
  c.peak_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    c.failure = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                    : "exit " + std::to_string(WEXITSTATUS(status));
    return c;
  }
  try {
    c.result = json::parse(out.substr(out.find('{')));
  } catch (const std::exception&) {
    c.failure = "no result";
  }
  return c;
}

std::string f(double x, int prec) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << x;
  return o.str();
}

int run_parent(const mm::app::Args& p) {
  const bool as_json = p.flag("json");
  const long long dense_up_to = number(p.get("dense-up-to"), "--dense-up-to");
  std::vector<std::string> common = {"bench_null", "--model", p.get("model"), "--budget", p.get("budget"), "--pairs",
                                     p.get("pairs"), "--batch", p.get("batch"), "--threads", p.get("threads")};
  if (!p.get("spill").empty()) common.insert(common.end(), {"--spill", p.get("spill")});
  if (!as_json) {
    std::cout << "null distribution, " << p.get("model") << ", budget " << p.get("budget") << " MB, "
              << std::thread::hardware_concurrency() << " cores\n\n"
              << "| layer | values/stimulus | stimuli | implementation | peak MB | wall s | forward s | sort s | ranks s "
                 "| write s | read s | Gram s | spilled | max rho / r / SNR dB |\n"
              << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  }
  for (const auto& layer : p.list("layers"))
    for (const auto& cs : p.list("counts")) {
      const long long n = number(cs, "--counts");
      for (const std::string mode : {"stream", "dense", "sort"}) {
        if (mode == "dense" && n > dense_up_to) continue;
        if (mode == "sort" && !p.flag("sort-reference")) continue;
        auto args = common;
        args.insert(args.end(), {"--child", layer + ":" + std::to_string(n) + ":" + mode});
        const Child c = spawn(args);
        if (as_json) {
          json j = c.result.is_null() ? json{{"layer", layer}, {"stimuli", n}, {"mode", mode}} : c.result;
          j["peak_mb"] = c.peak_mb;
          if (!c.failure.empty()) j["failure"] = c.failure;
          std::cout << j.dump() << std::endl;
          continue;
        }
        if (!c.failure.empty()) {
          std::cout << "| " << layer << " | | " << n << " | " << mode << " | " << f(c.peak_mb, 0) << " | " << c.failure
                    << " | | | | | | | | |" << std::endl;
          continue;
        }
        const json& r = c.result;
        if (mode == "sort") {
          std::cout << "| " << layer << " | " << r["values_per_stimulus"].get<int64_t>() << " | " << n
                    << " | std::sort of the rows (reference) | " << f(c.peak_mb, 0) << " | " << f(r["wall_s"], 1)
                    << " | | " << f(r["sort_s"], 1) << " | | | | | | |" << std::endl;
          continue;
        }
        std::cout << "| " << layer << " | " << r["values_per_stimulus"].get<int64_t>() << " | " << n << " | " << mode
                  << " | " << f(c.peak_mb, 0) << " | " << f(r["wall_s"], 1) << " | "
                  << (mode == "dense" ? "" : f(r["forward_s"], 1)) << " | "
                  << (mode == "dense" ? "" : f(r["sort_s"], 1)) << " | " << (mode == "dense" ? "" : f(r["ranks_s"], 1))
                  << " | " << (mode == "dense" ? "" : f(r["write_s"], 1)) << " | "
                  << (mode == "dense" ? "" : f(r["read_s"], 1)) << " | " << (mode == "dense" ? "" : f(r["gram_s"], 1))
                  << " | "
                  << (mode == "dense" ? "" : (r["spilled"].get<bool>() ? "yes" : "no")) << " | "
                  << f(r["spearman_max"], 6) << " / " << f(r["pearson_max"], 6) << " / " << f(r["snr_db_max"], 3)
                  << " |" << std::endl;
      }
    }
  if (!as_json) {  // how busy the machine was: the times are wall times
    std::ifstream la("/proc/loadavg");
    std::string one, five, fifteen;
    la >> one >> five >> fifteen;
    std::cout << "\nload average at the end (1, 5, 15 min): " << one << " " << five << " " << fifteen << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  try {
    const auto p = mm::app::parse_program_args(kCommand, argc, argv);
    if (!p) return 0;
    return p->has("child") ? run_child(*p) : run_parent(*p);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
