// Helpers for the presentation-layer tests: a private Xvfb, and forked children.
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"
#include "stimuli/stimuli.h"

#include <fcntl.h>
#include <thread>
#include <chrono>
#include <sys/resource.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace mm::test {

namespace {

struct Xvfb {
  pid_t pid = -1;
  std::string display;
  ~Xvfb() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st = 0;
      ::waitpid(pid, &st, 0);
    }
  }
};

Xvfb& server() {
  static Xvfb x;
  return x;
}

}  // namespace

std::string ensure_xvfb() {
  Xvfb& x = server();
  if (!x.display.empty()) return x.display;
  const char* mode = std::getenv("METAMERLAB_TEST_DISPLAY");
  const char* cur = std::getenv("DISPLAY");
  if (mode && std::string(mode) == "current" && cur && *cur) return x.display = cur;
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("ensure_xvfb: pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("ensure_xvfb: fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test process
    ::close(fds[0]);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    std::string fd = std::to_string(fds[1]);
    ::execlp("Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
             "-noreset", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  x.pid = pid;
  std::string num;
  pollfd p{fds[0], POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, 15000);
    if (r <= 0) break;
    char c;
    ssize_t n = ::read(fds[0], &c, 1);
    if (n <= 0 || c == '\n') break;
    num += c;
  }
  ::close(fds[0]);
  if (num.empty()) {
    int st = 0;
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &st, 0);
    x.pid = -1;
    throw std::runtime_error(WIFEXITED(st) && WEXITSTATUS(st) == 127
                                 ? "ensure_xvfb: Xvfb is not installed (apt-get install xvfb)"
                                 : "ensure_xvfb: Xvfb did not start");
  }
  x.display = ":" + num;
  ::setenv("DISPLAY", x.display.c_str(), 1);
  return x.display;
}

ChildResult run_in_child(const std::function<std::string()>& fn, const std::vector<EnvVar>& env, int timeout_s) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("run_in_child: pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("run_in_child: fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(static_cast<unsigned>(timeout_s));
    for (const auto& e : env) {
      if (e.unset) ::unsetenv(e.name.c_str());
      else ::setenv(e.name.c_str(), e.value.c_str(), 1);
    }
    int code = 0;
    std::string out;
    try {
      out = fn();
    } catch (const std::exception& ex) {
      out = ex.what();
      code = 1;
    } catch (...) {
      out = "unknown exception";
      code = 1;
    }
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
    ::_exit(code);
  }
  ::close(fds[1]);
  ChildResult r;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

int spawn_metamerlab(const std::vector<std::string>& args, const std::string& out_file,
                     const std::vector<EnvVar>& env, long long fsize) {
  ensure_xvfb();
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& e : env) {
      if (e.unset) ::unsetenv(e.name.c_str());
      else ::setenv(e.name.c_str(), e.value.c_str(), 1);
    }
    const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (fsize > 0) {
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit lim{static_cast<rlim_t>(fsize), static_cast<rlim_t>(fsize)};
      ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    std::vector<std::string> all = {metamerlab_binary()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

Cli wait_metamerlab(int pid, const std::string& out_file, int timeout_s) {
  int st = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (::waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(timeout_s)) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Cli r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_bytes(out_file);
  return r;
}

Cli run_metamerlab(const std::vector<std::string>& args, const std::string& out_file, const std::vector<EnvVar>& env,
                   int timeout_s, long long fsize) {
  return wait_metamerlab(spawn_metamerlab(args, out_file, env, fsize), out_file, timeout_s);
}

void write_tone_words(const std::string& dir, const std::vector<std::string>& words, int per_word) {
  const int rate = 16000, n = 4800;
  for (size_t w = 0; w < words.size(); ++w)
    for (int k = 0; k < per_word; ++k) {
      mm::stimuli::Array a;
      a.shape = {n};
      a.data.resize(n);
      for (int i = 0; i < n; ++i)
        a.data[static_cast<size_t>(i)] = 0.2f * static_cast<float>(std::sin(2 * M_PI * (300 + 200 * w + 50 * k) * i / rate));
      std::filesystem::create_directories(dir + "/" + words[w]);
      mm::stimuli::save_wav_float(dir + "/" + words[w] + "/" + words[w] + std::to_string(k) + ".wav", a, rate);
    }
}

void write_image_lab(const std::string& root, const std::vector<std::string>& cats, int refs_per_cat, int size,
                     bool practice) {
  write_image_set(root + "/refs", cats, refs_per_cat, size, "{cat}/{cat}{k}.png", 0, 100);
  if (practice) write_image_set(root + "/practice", cats, 1, size, "{cat}/p.png", 300, 1);
  write_image_set(root + "/icons", cats, 1, 16, "{cat}.png", 900, 1);
}

}  // namespace mm::test
