// stimuli/dataset_util.h: helpers shared by the emoji16 and words16 builders (internal to
// stimuli/): a portable seeded random stream, running external tools without a shell,
// a small thread pool, preparing the output folder and writing the index.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>
#include <vector>

namespace mm::stimuli::ds {

// [SECTION] Random ------------------------------------------------------------------------
// splitmix64: the same numbers on every platform and standard library (std::*_distribution
// are implementation-defined), which is what makes builds byte-identical.
uint64_t mix64(uint64_t x);
// A seed for one file: hash of the build seed, a stream name and two indices.
uint64_t stream_seed(uint64_t seed, const std::string& stream, uint64_t a, uint64_t b);

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  double uniform();                       // [0, 1)
  double uniform(double lo, double hi);   // [lo, hi)
  int below(int n);                       // 0 .. n-1
  bool chance(double p);
  double normal();                        // standard normal (Box-Muller)

 private:
  uint64_t s_;
};

// [SECTION] Tools ---------------------------------------------------------------------------
struct ProcessResult {
  int exit_code = -1;       // -1: killed by a signal
  std::string out, err;     // captured stdout and stderr
};
// Runs argv[0] (looked up on $PATH) with the arguments, no shell, stdin from /dev/null,
// capturing both outputs. Throws only when the program cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv);
// The first line of a tool's error output, for messages.
std::string first_line(const std::string& text);

// [SECTION] Threads -----------------------------------------------------------------------
// Runs fn(i) for i < n on `threads` workers (0: one per core). The first exception thrown
// stops the remaining work and is rethrown.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn);
int resolve_threads(int threads);
// Workers for phases that mostly wait (child processes, fsync of each written file): the
// given count, or three per core when 0.
int io_threads(int threads);

// Progress lines at most every couple of seconds ("emoji16: train 1200/8000").
class Progress {
 public:
  Progress(std::ostream* os, std::string label, int64_t total);
  void tick();
  void done();

 private:
  std::ostream* os_;
  std::string label_;
  int64_t total_;
  std::atomic<int64_t> count_{0};
  std::mutex mu_;
  double last_ = 0;
};
double now_seconds();

// [SECTION] Output ------------------------------------------------------------------------
// Makes OUT ready for a build of `dataset`: creates it, or clears the splits, index and
// manifest of an earlier build of the same dataset there. Refuses a non-empty folder that
// holds no such build. Writes a manifest stub marking the build incomplete.
void prepare_output(const std::string& out_dir, const std::string& dataset);
// Validates category names against dataset_categories() (empty: all 16).
std::vector<std::string> choose_categories(const std::vector<std::string>& wanted, const std::string& dataset);
// "train/cat/cat_00012.png"
std::string item_name(const std::string& split, const std::string& category, int64_t k, const std::string& ext);
// A tab-separated index; writes header + rows atomically.
void write_index(const std::string& path, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);
std::string fmt(double v, int decimals = 3);

}  // namespace mm::stimuli::ds
