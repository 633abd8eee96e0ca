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

}  // namespace mm::test
