// app/studio_synthesis.cpp: the workbench's synthesis queue and its panel (see the header).
//
// Sections
//   [SECTION] Queue   jobs, their file, the child process, progress lines
//   [SECTION] Panel   the form and the job list
#include "app/studio_synthesis.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <toml++/toml.h>

#include "app/studio.h"
#include "app/studio_widgets.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app::studio {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// The last `bytes` of a file, from offset `from` on at most; "" when it cannot be read.
std::string tail_of(const std::string& path, std::streamoff bytes, std::streamoff from = 0) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  f.seekg(std::max<std::streamoff>(from, size - bytes));
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string last_line_of(const std::string& text) {
  std::string t = text;
  for (char& c : t)
    if (c == '\r') c = '\n';
  t = trim(t);
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace

// [SECTION] Queue -------------------------------------------------------------------------
SynthQueue::SynthQueue(std::string program, std::string file, std::string db, std::ostream& warn)
    : program_(std::move(program)), file_(std::move(file)), db_(std::move(db)) {
  std::error_code ec;
  if (!file_.empty()) {
    fs::create_directories(fs::path(file_).parent_path(), ec);
    lock_fd_ = ::open((file_ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      warn << "metamerlab: studio: another window holds the synthesis queue " << file_
           << "; this one's jobs are kept only while it is open\n";
      if (lock_fd_ >= 0) ::close(lock_fd_);
      lock_fd_ = -1;
      file_.clear();
    }
  }
  if (!file_.empty()) {
    log_dir_ = (fs::path(file_).parent_path() / "synthesis-logs").string();
  } else {
    log_dir_ = (fs::temp_directory_path(ec) / ("metamerlab-queue-" + std::to_string(::getpid()))).string();
  }
  if (!program_.empty() && ::access(program_.c_str(), X_OK) != 0)
    error_ = "cannot run " + program_ + " for the synthesis jobs";
  if (file_.empty() || !fs::exists(file_, ec)) return;
  try {
    const toml::table t = toml::parse_file(file_);
    if (const toml::array* a = t["job"].as_array()) {
      for (const toml::node& n : *a) {
        const toml::table* jt = n.as_table();
        if (!jt) throw std::runtime_error("a [[job]] that is not a table");
        QueueJob j;
        j.id = static_cast<int>((*jt)["id"].value_or(int64_t{0}));
        j.state = (*jt)["state"].value_or(std::string("queued"));
        j.log = (*jt)["log"].value_or(std::string());
        j.last_line = (*jt)["last_line"].value_or(std::string());
        if (const toml::array* args = (*jt)["args"].as_array())
          for (const toml::node& x : *args) j.args.push_back(x.value_or(std::string()));
        if (j.id <= 0 || j.args.empty() || j.args[0] != "synth")
          throw std::runtime_error("a [[job]] without its id or its synth command");
        if (std::any_of(jobs_.begin(), jobs_.end(), [&](const QueueJob& o) { return o.id == j.id; }))
          throw std::runtime_error("two jobs numbered " + std::to_string(j.id));
        static const std::vector<std::string> states{"queued", "running", "done", "failed", "cancelled"};
        if (std::find(states.begin(), states.end(), j.state) == states.end())
          throw std::runtime_error("job " + std::to_string(j.id) + " has the state '" + j.state +
                                   "' (queued, running, done, failed or cancelled)");
        if (j.state == "running") j.state = "queued";  // the window closed or died while it ran: resume it
        next_id_ = std::max(next_id_, j.id + 1);
        jobs_.push_back(std::move(j));
      }
    }
  } catch (const std::exception& e) {
    jobs_.clear();
    fs::rename(file_, file_ + ".bad", ec);
    warn << "metamerlab: studio: the synthesis queue " << file_ << " cannot be read (" << e.what()
         << "); set aside as " << file_ << ".bad, starting with an empty queue\n";
  }
}

SynthQueue::~SynthQueue() {
  shutdown();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

std::string SynthQueue::add(const SynthRequest& r) {
  const std::string model = trim(r.model), layers = trim(r.layers), input = trim(r.input), out = trim(r.out);
  if (model.empty()) return "give a model: zoo:NAME, a TorchScript archive, or a network metamerlab train wrote";
  if (layers.empty()) return "give the layers to match (comma-separated, or all)";
  std::error_code ec;
  if (input.empty() || !fs::exists(input, ec)) return "give an input folder that exists (DIR/<category>/<file>)";
  if (out.empty()) return "give an output folder";
  if (db_.empty()) return "the studio has no database to record into (--db)";
  if (r.iterations < 1 || r.rounds < 1) return "iterations and rounds must be at least 1";
  if (r.max_rounds < 0) return "\"until converged, up to\" is a number of rounds, 0 for none";
  // Absolute paths: the queue outlives the window, and the next one may start elsewhere.
  const auto abs = [&](const std::string& p) { return fs::absolute(p, ec).lexically_normal().string(); };
  const std::string m = model.rfind("zoo:", 0) == 0 ? model : abs(model);
  QueueJob j;
  j.id = next_id_++;
  j.args = {"synth", "--model", m, "--layers", layers, "--input", abs(input), "--out", abs(out), "--db", abs(db_),
            "--iterations", std::to_string(r.iterations), "--rounds", std::to_string(r.rounds), "--progress-every",
            "1",
            // a core left to the window, which draws on the CPU when the display has no GPU
            "--threads", std::to_string(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1))};
  if (r.max_rounds > r.rounds) j.args.insert(j.args.end(), {"--max-rounds", std::to_string(r.max_rounds)});
  j.log = log_dir_ + "/job-" + std::to_string(j.id) + ".log";
  jobs_.push_back(j);
  save();
  return "";
}

void SynthQueue::cancel(int id) {
  for (auto& j : jobs_)
    if (j.id == id) {
      if (j.state == "running" && j.pid > 0) j.cancel_requested = true, ::kill(j.pid, SIGTERM);  // reaped by poll()
      else if (j.state == "queued") j.state = "cancelled";
    }
  save();
}

void SynthQueue::resume(int id) {
  for (auto& j : jobs_)
    if (j.id == id && (j.state == "cancelled" || j.state == "failed")) j.state = "queued";
  save();
}

void SynthQueue::remove(int id) {
  jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(), [&](const QueueJob& j) { return j.id == id && j.state != "running"; }),
              jobs_.end());
  save();
}

void SynthQueue::start(QueueJob& j) {
  std::error_code ec;
  fs::create_directories(log_dir_, ec);
  std::vector<std::string> argv{program_};
  argv.insert(argv.end(), j.args.begin(), j.args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int fd = ::open(j.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    j.state = "failed";
    j.last_line = error_ = "cannot write the job's log " + j.log;
    return;
  }
  const long long log_from = static_cast<long long>(::lseek(fd, 0, SEEK_END));
  static const char kExecFailed[] = "metamerlab: studio: the synthesis program could not be started\n";
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {  // the child: only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the window gone (even killed): the job stops, to resume later
    if (::getppid() != parent) ::_exit(1);
    ::setpriority(PRIO_PROCESS, 0, 10);  // batch work: the window's frames first (inherited by the job's threads)
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (int k = 3; k < 1024; ++k) ::close(k);  // nothing of the window's (audio, X) held by the job
    ::execv(cargv[0], cargv.data());
    if (::write(2, kExecFailed, sizeof kExecFailed - 1) < 0) ::_exit(127);
    ::_exit(127);
  }
  ::close(fd);
  if (pid < 0) {
    j.state = "failed";
    j.last_line = error_ = "cannot start " + program_;
    return;
  }
  j.pid = pid;
  j.state = "running";
  j.cancel_requested = false;
  j.log_from = log_from;
  j.started_s = now_s();
  error_.clear();
  j.fraction = 0;
  j.eta_s = -1;
  j.last_line.clear();
}

// synth's progress line: "[k/n] layer L step s/t round r loss x elapsed ... ETA ...": the
// k-th of the n metamers this run makes, s of t steps into it.
void SynthQueue::read_progress(QueueJob& j) {
  const std::string text = tail_of(j.log, 4096, j.log_from);  // this run's output only
  j.last_line = last_line_of(text);
  static const std::regex line(R"(\[(\d+)/(\d+)\] layer \S+ step (\d+)/(\d+))");
  std::smatch last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it) last = *it;
  if (last.empty()) return;
  const double k = std::stod(last[1]), n = std::stod(last[2]), s = std::stod(last[3]), t = std::stod(last[4]);
  if (n <= 0 || t <= 0) return;
  j.fraction = std::clamp((k - 1 + s / t) / n, 0.0, 1.0);
  const double elapsed = now_s() - j.started_s;
  j.eta_s = j.fraction > 0.01 ? elapsed * (1 - j.fraction) / j.fraction : -1;
}

void SynthQueue::poll() {
  bool changed = false;
  for (auto& j : jobs_) {
    if (j.state != "running" || j.pid <= 0) continue;
    int status = 0;
    const pid_t r = ::waitpid(j.pid, &status, WNOHANG);
    if (r == 0) continue;
    j.pid = 0;
    j.last_line = last_line_of(tail_of(j.log, 4096, j.log_from));
    if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      j.state = "done";
      j.fraction = 1;
    } else if (j.cancel_requested) {
      j.state = "cancelled";
    } else {
      j.state = "failed";
    }
    j.eta_s = -1;
    changed = true;
  }
  const bool busy = std::any_of(jobs_.begin(), jobs_.end(), [](const QueueJob& j) { return j.state == "running"; });
  if (!busy)
    for (auto& j : jobs_)
      if (j.state == "queued") {
        start(j);
        changed = true;
        break;
      }
  if (now_s() - last_progress_read_ >= 0.5) {
    for (auto& j : jobs_)
      if (j.state == "running") read_progress(j);
    last_progress_read_ = now_s();
  }
  if (changed) save();
}

void SynthQueue::shutdown() {
  for (auto& j : jobs_) {
    if (j.state != "running" || j.pid <= 0) continue;
    ::kill(j.pid, SIGTERM);
    int status = 0;
    const double until = now_s() + 5;  // then SIGKILL: closing the window never hangs on a job
    while (::waitpid(j.pid, &status, WNOHANG) == 0) {
      if (now_s() > until) {
        ::kill(j.pid, SIGKILL);
        ::waitpid(j.pid, &status, 0);
        break;
      }
      ::usleep(20000);
    }
    j.pid = 0;
    j.state = "queued";  // resumes at the next start
  }
  save();
}

void SynthQueue::save() {
  if (file_.empty()) return;
  toml::array arr;
  for (const auto& j : jobs_) {
    toml::array args;
    for (const auto& a : j.args) args.push_back(a);
    arr.push_back(toml::table{{"id", j.id}, {"state", j.state}, {"log", j.log}, {"last_line", j.last_line},
                              {"args", std::move(args)}});
  }
  std::ostringstream text;
  text << "# metamerlab studio: the synthesis queue (written by the workbench)\n" << toml::table{{"job", std::move(arr)}}
       << "\n";
  try {
    stimuli::write_file_atomic(file_, text.str());
    error_.clear();
  } catch (const std::exception& e) {
    error_ = "cannot write the synthesis queue " + file_ + " (" + e.what() + ")";
  }
}

// [SECTION] Panel -------------------------------------------------------------------------
void draw_synthesis_panel(SynthQueue& q, SynthRequest& form, float scale, float pixel_scale, StudioProbe& probe) {
  const auto rect_of_item = [&] { return item_rect(pixel_scale); };
  ImGui::TextColored(kDim, "Jobs run one at a time as `metamerlab synth` in their own process, recording into %s.",
                     q.db().c_str());
  const float w = 420 * scale;
  ImGui::SetNextItemWidth(w);
  ImGui::InputText("model (zoo:NAME or a file)", &form.model);
  ImGui::SetNextItemWidth(w);
  ImGui::InputText("layers (comma-separated, or all)", &form.layers);
  ImGui::SetNextItemWidth(w);
  ImGui::InputText("input folder (DIR/<category>/<file>)", &form.input);
  probe.synth_input = rect_of_item();
  ImGui::SetNextItemWidth(w);
  ImGui::InputText("output folder", &form.out);
  probe.synth_out = rect_of_item();
  ImGui::SetNextItemWidth(120 * scale);
  ImGui::InputInt("steps per round", &form.iterations);
  ImGui::SetNextItemWidth(120 * scale);
  ImGui::InputInt("rounds (the step halves after each)", &form.rounds);
  ImGui::SetNextItemWidth(120 * scale);
  ImGui::InputInt("then until converged, up to this many rounds (0: no)", &form.max_rounds);
  if (ImGui::Button("Queue")) form.message = q.add(form);
  probe.synth_queue = rect_of_item();
  if (!form.message.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(kRed, "%s", form.message.c_str());
  }
  probe.synth_message = form.message;
  if (!q.error().empty()) ImGui::TextColored(kRed, "%s", q.error().c_str());
  ImGui::Separator();
  if (q.jobs().empty()) ImGui::TextColored(kDim, "No jobs yet.");
  int act = 0;
  std::string what;
  for (const auto& j : q.jobs()) {
    ImGui::PushID(j.id);
    std::string label = "#" + std::to_string(j.id);  // model, layers and the input folder's name
    for (size_t i = 1; i + 1 < j.args.size(); i += 2)
      if (j.args[i] == "--model" || j.args[i] == "--layers") label += " " + j.args[i + 1];
      else if (j.args[i] == "--input") label += " on " + fs::path(j.args[i + 1]).filename().string();
      else if (j.args[i] == "--db" && j.args[i + 1] != fs::absolute(q.db()).lexically_normal().string())
        label += " into " + j.args[i + 1];  // another database than the window's
    ImGui::TextUnformatted(label.c_str());
    ImGui::SameLine(360 * scale);
    const ImVec4 c = j.state == "done" ? kGreen : j.state == "failed" ? kRed : ImVec4(1, 1, 1, 1);
    ImGui::TextColored(c, "%s", j.state.c_str());
    ImGui::SameLine(460 * scale);
    char overlay[64];
    std::snprintf(overlay, sizeof overlay, "%.0f%%%s", 100 * j.fraction,
                  j.eta_s >= 0 ? ("  ETA " + experiments::format_duration(j.eta_s)).c_str() : "");
    ImGui::ProgressBar(static_cast<float>(j.fraction), ImVec2(260 * scale, 0), overlay);
    ImGui::SameLine();
    Rect action;
    if (j.state == "running" || j.state == "queued") {
      if (ImGui::SmallButton("Cancel")) act = j.id, what = "cancel";
      action = rect_of_item();
    } else if (j.state == "cancelled" || j.state == "failed") {
      if (ImGui::SmallButton("Resume")) act = j.id, what = "resume";
      action = rect_of_item();
      ImGui::SameLine();
      if (ImGui::SmallButton("Remove")) act = j.id, what = "remove";
    } else if (ImGui::SmallButton("Remove")) {
      act = j.id, what = "remove";
    }
    if (!j.last_line.empty()) ImGui::TextColored(kDim, "    %s", j.last_line.c_str());
    probe.jobs.push_back({j.id, j.state, j.fraction, j.last_line, action, static_cast<int>(j.pid)});
    ImGui::PopID();
  }
  if (what == "cancel") q.cancel(act);
  if (what == "resume") q.resume(act);
  if (what == "remove") q.remove(act);
}

}  // namespace mm::app::studio
