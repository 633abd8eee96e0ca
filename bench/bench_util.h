// bench/bench_util.h: small helpers shared by the session-runner benchmarks (header only):
// a private Xvfb when there is no display, and percentiles of a sample.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mm::bench {

// Starts Xvfb (1280x1024x24; it picks a free display number, -displayfd) unless DISPLAY is
// set, sets DISPLAY, and stops it when the object goes away. `started()` says which.
class PrivateXvfb {
 public:
  PrivateXvfb() {
    const char* cur = std::getenv("DISPLAY");
    if (cur && *cur) return;
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("Xvfb: pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("Xvfb: fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      ::close(fds[0]);
      const int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) ::dup2(devnull, 0), ::dup2(devnull, 1), ::dup2(devnull, 2);
      const std::string fd = std::to_string(fds[1]);
      ::execlp("Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
               "-noreset", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string num;
    pollfd p{fds[0], POLLIN, 0};
    while (::poll(&p, 1, 15000) > 0) {
      char c;
      if (::read(fds[0], &c, 1) <= 0 || c == '\n') break;
      num += c;
    }
    ::close(fds[0]);
    if (num.empty()) {
      stop();
      throw std::runtime_error("Xvfb did not start; install it (apt-get install xvfb) or run under a desktop");
    }
    display_ = ":" + num;
    ::setenv("DISPLAY", display_.c_str(), 1);
  }
  ~PrivateXvfb() { stop(); }
  PrivateXvfb(const PrivateXvfb&) = delete;
  PrivateXvfb& operator=(const PrivateXvfb&) = delete;
  bool started() const { return !display_.empty(); }
  const std::string& display() const { return display_; }

 private:
  pid_t pid_ = -1;
  std::string display_;
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
  }
};

}  // namespace mm::bench
