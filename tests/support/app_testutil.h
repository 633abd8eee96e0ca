// Helpers for the presentation-layer tests: a private X server (Xvfb) for this test
// process, and running a piece of code in a forked child with its own environment
// (OpenAL Soft reads its configuration once per process).
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mm::test {

// Starts Xvfb (1280x1024x24, display number chosen by the server through -displayfd) on
// the first call, sets DISPLAY, and stops it when the process exits. With
// METAMERLAB_TEST_DISPLAY=current, uses the existing DISPLAY instead. Returns DISPLAY.
// Throws std::runtime_error when Xvfb is missing or does not start.
std::string ensure_xvfb();

struct ChildResult {
  int exit_code = -1;   // 0: fn returned; 1: fn threw; 128+n: killed by signal n
  std::string out;      // what fn returned, or the exception's message
};
// Runs fn in a forked child after applying env (value "" with unset=true removes the
// variable), with a timeout; the parent gets what fn returned.
struct EnvVar {
  std::string name, value;
  bool unset = false;
};
ChildResult run_in_child(const std::function<std::string()>& fn, const std::vector<EnvVar>& env,
                         int timeout_s = 30);

// The metamerlab program run on the test's Xvfb: env applied in the child, stdout and
// stderr to out_file, and with fsize > 0 its files limited to fsize bytes (SIGXFSZ
// ignored, so an oversized write fails with EFBIG instead of killing it).
struct Cli {
  int code = -1;     // exit code, or 128 + signal
  std::string out;   // what it printed
};
int spawn_metamerlab(const std::vector<std::string>& args, const std::string& out_file,
                     const std::vector<EnvVar>& env = {}, long long fsize = 0);  // returns the pid
// Waits for a spawned run (killing it after timeout_s) and collects its output.
Cli wait_metamerlab(int pid, const std::string& out_file, int timeout_s);
Cli run_metamerlab(const std::vector<std::string>& args, const std::string& out_file,
                   const std::vector<EnvVar>& env = {}, int timeout_s = 90, long long fsize = 0);

// Stimuli of the small test experiments (the TOML stays in each test, which is what differs).
// DIR/<word>/<word><k>.wav for k < per_word: 300 ms, 16 kHz tones, amplitude 0.2, at
// 300 + 200 w + 50 k Hz, so every clip of every word differs.
void write_tone_words(const std::string& dir, const std::vector<std::string>& words, int per_word);
// ROOT/refs/<cat>/<cat><k>.png (k < refs_per_cat, size x size, seed 100 c + k), with
// practice ROOT/practice/<cat>/p.png (seed 300 + c) when practice is set, and 16 x 16
// response icons ROOT/icons/<cat>.png (seed 900 + c).
void write_image_lab(const std::string& root, const std::vector<std::string>& cats, int refs_per_cat, int size,
                     bool practice);

}  // namespace mm::test
