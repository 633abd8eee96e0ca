// stimuli/dataset_util.cpp: shared pieces of the data set builders: the splitmix64 random
// stream, finding and running external tools (posix_spawn, no shell, both outputs
// captured), a thread pool, progress lines, output-folder preparation and the TSV index.
//
// Sections
//   [SECTION] Random     mix64, stream_seed, Rng
//   [SECTION] Tools      find_on_path, require_tool, run_process
//   [SECTION] Threads    parallel_for, Progress
//   [SECTION] Output     prepare_output, choose_categories, item_name, write_index
#include "stimuli/dataset_util.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "stimuli/datasets.h"
#include "stimuli/stimuli.h"

extern char** environ;

namespace fs = std::filesystem;

namespace mm::stimuli {

// [SECTION] Random ------------------------------------------------------------------------
namespace ds {

uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t stream_seed(uint64_t seed, const std::string& stream, uint64_t a, uint64_t b) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a of the stream name
  for (unsigned char c : stream) h = (h ^ c) * 0x100000001B3ull;
  return mix64(mix64(mix64(seed) ^ h) ^ mix64(a + 0x51ED27ull)) ^ mix64(b * 0x2545F4914F6CDD1Dull + 7);
}

uint64_t Rng::next() {
  s_ += 0x9E3779B97F4A7C15ull;
  uint64_t z = s_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
int Rng::below(int n) { return n <= 1 ? 0 : static_cast<int>(next() % static_cast<uint64_t>(n)); }
bool Rng::chance(double p) { return uniform() < p; }
double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace ds

// [SECTION] Tools ---------------------------------------------------------------------------
std::string find_on_path(const std::string& program) {
  if (program.empty()) return "";
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0 ? program : "";
  const char* env = std::getenv("PATH");
  std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + program;
    struct stat st;
    if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

void require_tool(const std::string& program, const std::string& package) {
  if (find_on_path(program).empty())
    throw std::runtime_error(program + " not found on PATH; install the Debian package " + package +
                             " (apt-get install " + package + ", or run tools/setup.sh)");
}

namespace ds {

std::string first_line(const std::string& text) {
  size_t a = text.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = text.find('\n', a);
  std::string s = text.substr(a, b == std::string::npos ? std::string::npos : b - a);
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s.size() > 200 ? s.substr(0, 200) + "..." : s;
}

ProcessResult run_process(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::logic_error("run_process: empty argv");
  const std::string exe = find_on_path(argv[0]);
  if (exe.empty()) throw std::runtime_error(argv[0] + " not found on PATH");
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(e));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::runtime_error("cannot start " + exe + ": " + std::strerror(rc));
  }
  ProcessResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* dest[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        dest[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// [SECTION] Threads -----------------------------------------------------------------------
int resolve_threads(int threads) {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads <= 0) return cores;
  return std::min(threads, 8 * cores);
}

int io_threads(int threads) { return threads > 0 ? resolve_threads(threads) : 3 * resolve_threads(0); }

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  const int workers = static_cast<int>(std::min<int64_t>(resolve_threads(threads), n));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
  auto work = [&] {
    while (!failed.load()) {
      int64_t i = next.fetch_add(1);
      if (i >= n) break;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Progress::Progress(std::ostream* os, std::string label, int64_t total)
    : os_(os), label_(std::move(label)), total_(total), last_(now_seconds()) {}

void Progress::tick() {
  int64_t c = ++count_;
  if (!os_) return;
  double t = now_seconds();
  std::lock_guard<std::mutex> lock(mu_);
  if (t - last_ >= 2.0) {
    last_ = t;
    *os_ << label_ << " " << c << "/" << total_ << "\n" << std::flush;
  }
}

void Progress::done() {
  if (os_) *os_ << label_ << " " << count_.load() << "/" << total_ << " done\n" << std::flush;
}

// [SECTION] Output ------------------------------------------------------------------------
void prepare_output(const std::string& out_dir, const std::string& dataset) {
  ensure_writable_dir(out_dir);
  const fs::path out(out_dir);
  const fs::path manifest = out / "manifest.json";
  std::error_code ec;
  if (fs::exists(manifest, ec)) {
    std::string owner;
    try {
      std::ifstream f(manifest);
      owner = nlohmann::json::parse(f).value("dataset", "");
    } catch (const std::exception&) {
      owner = "";
    }
    if (owner != dataset)
      throw std::runtime_error(out_dir + ": holds a manifest.json that is not a " + dataset +
                               " build; choose an empty or new --out folder");
    for (const char* name : {"train", "test", "reference", "index.tsv", ".work"}) fs::remove_all(out / name, ec);
  } else if (fs::directory_iterator(out, ec) != fs::directory_iterator()) {
    throw std::runtime_error(out_dir + ": folder is not empty and holds no " + dataset +
                             " build (no manifest.json); choose an empty or new --out folder");
  }
  nlohmann::json stub = {{"dataset", dataset}, {"complete", false}};
  write_file_atomic(manifest.string(), stub.dump(2) + "\n");
}

std::vector<std::string> choose_categories(const std::vector<std::string>& wanted, const std::string& dataset) {
  const auto& all = dataset_categories();
  if (wanted.empty()) return all;
  std::vector<std::string> out;
  for (const auto& c : all)
    if (std::find(wanted.begin(), wanted.end(), c) != wanted.end()) out.push_back(c);
  for (const auto& w : wanted)
    if (std::find(all.begin(), all.end(), w) == all.end()) {
      std::string list;
      for (const auto& c : all) list += (list.empty() ? "" : ",") + c;
      throw std::runtime_error(dataset + ": unknown category \"" + w + "\"; the categories are " + list);
    }
  return out;
}

std::string item_name(const std::string& split, const std::string& category, int64_t k, const std::string& ext) {
  std::ostringstream s;
  s << split << "/" << category << "/" << category << "_" << std::setw(5) << std::setfill('0') << k << "." << ext;
  return s.str();
}

void write_index(const std::string& path, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::string text;
  auto line = [&text](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) text += (i ? "\t" : "") + cells[i];
    text += "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  write_file_atomic(path, text);
}

std::string fmt(double v, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << v;
  return s.str();
}

}  // namespace ds

const std::vector<std::string>& dataset_categories() {
  static const std::vector<std::string> cats = {"airplane", "bear",  "bicycle", "bird",  "boat",     "bottle",
                                                "car",      "cat",   "chair",   "clock", "dog",      "elephant",
                                                "fish",     "keyboard", "knife", "truck"};
  return cats;
}

}  // namespace mm::stimuli
