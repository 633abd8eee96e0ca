// bench/kill_loop.cpp: SIGKILL at random moments through the program's long jobs, each
// restarted with the same command, and checks that nothing was lost or changed.
//
//   kill_loop --mode session|synth|train|export [--kills N] [--seed S] [--work DIR]
//             [--program PATH] [--max-delay S]
//
// session  scripted sessions (run --auto correct on a private Xvfb), cycling participants;
//          before each kill every committed trial is read; after it, each must still be
//          there, unchanged, and PRAGMA integrity_check ok; at the end every session is
//          completed with each planned trial exactly once.
// synth    a small synthesis run on the bundled emoji16 sample (zoo:emoji16-standard);
//          killed and restarted until it finishes; every output file must then be
//          bit-identical to an uninterrupted run's, and the database's records match.
// train    a small training run (2 epochs); killed and restarted until it finishes; the
//          weights must be bit-identical to an uninterrupted run's.
// export   a BIDS export of a database with sessions (made first, unkilled); after each kill
//          the output folder is absent or complete (identical to an unkilled export); at the
//          end it is identical.
// Prints one line per kill and a summary; exit 0 when every check held, 1 otherwise.
// Each restart uses the same command line. CI runs a short version (a handful of kills,
// tests/sessions/kill_loop_test.cpp); the 100-kill runs are for the reliability report.
//
// Sections
//   [SECTION] Processes   spawn, kill_after, run_to_end
//   [SECTION] Checks      trial snapshots, file hashes
//   [SECTION] Modes       session, synth, train, export
//   [SECTION] Main
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "app/program/cli.h"
#include "app/program/process.h"
#include "bench/bench_util.h"
#include "data/sha256.h"
#include "data/store.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  std::string mode, work, program;
  int kills = 100;
  uint64_t seed = 1;
  double max_delay = 4.0;
};

int g_failures = 0;
void fail(const std::string& what) {
  ++g_failures;
  std::cout << "FAIL: " << what << "\n";
}

// [SECTION] Processes ---------------------------------------------------------------------
pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Exit code, or 128 + signal.
int wait_for(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Starts the command, SIGKILLs it after `delay` seconds unless it ended first. Returns the
// exit code (137 when killed).
int kill_after(const std::string& program, const std::vector<std::string>& args, const std::string& log, double delay) {
  const pid_t pid = spawn(program, args, log);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(delay);
  while (std::chrono::steady_clock::now() < end) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  return wait_for(pid);
}

int run_to_end(const std::string& program, const std::vector<std::string>& args, const std::string& log) {
  return wait_for(spawn(program, args, log));
}

std::string tail_of(const std::string& log) {
  std::ifstream f(log);
  std::stringstream s;
  s << f.rdbuf();
  const std::string t = s.str();
  return t.size() > 600 ? t.substr(t.size() - 600) : t;
}

// Lines of the log holding `what`.
int count_in(const std::string& log, const std::string& what) {
  std::ifstream f(log);
  int n = 0;
  for (std::string line; std::getline(f, line);) n += line.find(what) != std::string::npos;
  return n;
}

// [SECTION] Checks ------------------------------------------------------------------------
using TrialKey = std::pair<int64_t, int64_t>;  // session, trial index
using TrialRow = std::tuple<std::string, std::string, double, std::string>;  // response, answered_at, rt, stimulus

std::map<TrialKey, TrialRow> snapshot(const std::string& db) {
  std::map<TrialKey, TrialRow> out;
  if (!fs::exists(db)) return out;
  mm::data::Store s(db);
  for (const auto& x : s.list_sessions())
    for (const auto& t : s.trials_of_session(x.id))
      out[{x.id, t.trial_index}] = {t.response, t.answered_at, t.rt_response_ms, t.stimulus_sha256};
  return out;
}

void check_kept(const std::map<TrialKey, TrialRow>& before, const std::string& db, const std::string& when) {
  const auto after = snapshot(db);
  for (const auto& [k, row] : before) {
    const auto it = after.find(k);
    if (it == after.end())
      fail(when + ": session " + std::to_string(k.first) + " trial " + std::to_string(k.second) + " was lost");
    else if (it->second != row)
      fail(when + ": session " + std::to_string(k.first) + " trial " + std::to_string(k.second) + " changed");
  }
  mm::data::Store s(db);
  const std::string ic = s.integrity_check();
  if (ic != "ok") fail(when + ": integrity_check: " + ic);
}

// Relative path -> SHA-256 of every regular file under dir (empty when dir is absent).
std::map<std::string, std::string> hashes(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = mm::data::sha256_file(e.path().string());
  return out;
}

void compare_trees(const std::string& want_dir, const std::string& got_dir, const std::string& what,
                   const std::vector<std::string>& skip_suffixes = {}) {
  auto want = hashes(want_dir), got = hashes(got_dir);
  for (auto* m : {&want, &got})
    for (auto it = m->begin(); it != m->end();) {
      bool skip = false;
      for (const auto& s : skip_suffixes) skip = skip || (it->first.size() >= s.size() && it->first.compare(it->first.size() - s.size(), s.size(), s) == 0);
      it = skip ? m->erase(it) : std::next(it);
    }
  if (want.empty()) fail(what + ": the uninterrupted run wrote nothing to compare");
  if (want.size() != got.size())
    fail(what + ": " + std::to_string(got.size()) + " files, an uninterrupted run made " + std::to_string(want.size()));
  for (const auto& [rel, sha] : want) {
    const auto it = got.find(rel);
    if (it == got.end()) fail(what + ": " + rel + " is missing");
    else if (it->second != sha) fail(what + ": " + rel + " differs from the uninterrupted run's");
  }
}

// [SECTION] Modes -------------------------------------------------------------------------
const std::vector<std::string> kCats = {"boat", "cat", "dog"};

// A random RGB image of size x size in [0, 1].
mm::stimuli::Array noise_image(std::mt19937& rng, int64_t size) {
  std::uniform_real_distribution<float> u(0.f, 1.f);
  mm::stimuli::Array a;
  for (const int64_t d : {int64_t{3}, size, size}) a.shape.push_back(d);
  a.data.resize(static_cast<size_t>(3 * size * size));
  for (auto& v : a.data) v = u(rng);
  return a;
}

// A small image experiment (3 categories x 3 references, one metamer folder), quick timing.
std::string write_lab(const std::string& root) {
  std::mt19937 rng(7);
  for (const auto& folder : {"refs", "syn/l1"})
    for (const auto& c : kCats)
      for (int k = 0; k < 3; ++k) {
        const mm::stimuli::Array a = noise_image(rng, 32);
        fs::create_directories(root + "/" + folder + "/" + c);
        mm::stimuli::save_png(root + "/" + folder + "/" + c + "/" + c + "_" + std::to_string(k) + ".png", a, 0.f, 1.f);
      }
  for (const auto& c : kCats) {
    const mm::stimuli::Array a = noise_image(rng, 16);
    fs::create_directories(root + "/icons");
    mm::stimuli::save_png(root + "/icons/" + c + ".png", a, 0.f, 1.f);
  }
  std::ofstream(root + "/exp.toml") << R"([experiment]
name = "kill-loop"
modality = "image"
seed = 11

[responses]
alternatives = ["boat", "cat", "dog"]
icons = "icons"

[timing]
fixation = 150
stimulus = 100
mask = 100
response = 0
iti = 50

[sets.refs]
folders = ["refs"]

[[metamers]]
model = "zoo:toy"
layers = ["l1"]
folder = "syn"
assume_passed = true

[[blocks]]
kind = "main"
set = "refs"
)";
  return root + "/exp.toml";
}

std::vector<std::string> session_args(const std::string& exp, const std::string& db, int participant) {
  return {"run", exp, "--participant", std::to_string(participant), "--db", db, "--windowed", "--auto", "correct",
          "--auto-seed", std::to_string(participant)};
}

// Participant -> completed?
std::map<int64_t, bool> statuses(const std::string& db) {
  std::map<int64_t, bool> out;
  if (!fs::exists(db)) return out;
  mm::data::Store s(db);
  for (const auto& x : s.list_sessions()) out[x.participant_number] = x.status == mm::data::SessionStatus::completed;
  return out;
}

void mode_session(const Options& o, std::mt19937_64& rng, const std::string& db, int participants) {
  mm::bench::PrivateXvfb xvfb;
  const std::string exp = write_lab(o.work);
  const std::string log = o.work + "/session.log";
  std::uniform_real_distribution<double> delay(0.3, o.max_delay);
  int next_new = participants + 1;
  std::vector<int> cycle;
  for (int p = 1; p <= participants; ++p) cycle.push_back(p);
  int killed = 0;
  std::set<int> used(cycle.begin(), cycle.end());
  for (int k = 0; k < o.kills; ++k) {
    int& p = cycle[static_cast<size_t>(k) % cycle.size()];
    if (statuses(db)[p]) used.insert(p = next_new++);  // done: the next participant takes the slot
    const auto before = snapshot(db);
    const double d = delay(rng);
    const int code = kill_after(o.program, session_args(exp, db, p), log, d);
    killed += code == 137;
    if (code != 137 && code != 0) fail("participant " + std::to_string(p) + ": exit " + std::to_string(code) + "\n" + tail_of(log));
    check_kept(before, db, "kill " + std::to_string(k + 1));
    std::cout << "kill " << (k + 1) << ": participant " << p << " after " << d << " s: "
              << (code == 137 ? "killed" : "ended first") << ", " << snapshot(db).size() << " trials stored\n";
  }
  // Every session started is finished with the same command, then checked whole.
  const auto before = snapshot(db);
  const auto st = statuses(db);
  for (const int p : used)
    if (!(st.count(p) && st.at(p)) && run_to_end(o.program, session_args(exp, db, p), log) != 0)
      fail("participant " + std::to_string(p) + " did not complete\n" + tail_of(log));
  check_kept(before, db, "completing");
  mm::data::Store s(db);
  int sessions = 0;
  for (const auto& x : s.list_sessions()) {
    ++sessions;
    if (x.status != mm::data::SessionStatus::completed) fail("session " + std::to_string(x.id) + " not completed");
    const auto trials = s.trials_of_session(x.id);
    if (static_cast<int64_t>(trials.size()) != x.planned)
      fail("session " + std::to_string(x.id) + ": " + std::to_string(trials.size()) + " trials, planned " + std::to_string(x.planned));
    for (size_t i = 0; i < trials.size(); ++i)
      if (trials[i].trial_index != static_cast<int64_t>(i)) fail("session " + std::to_string(x.id) + ": trial order");
  }
  if (sessions < static_cast<int>(used.size())) fail("fewer sessions than participants");
  std::cout << "session: " << o.kills << " kills (" << killed << " mid-run), " << sessions
            << " sessions completed, " << snapshot(db).size() << " trials\n";
}

// Kills `args(dir)` at random moments and restarts it with the same command until it
// finishes; when it finishes before all kills are spent, a new round starts in a fresh folder.
// After each round `check(dir)` compares the finished work with the uninterrupted run's.
// Returns the rounds; `after_kill(dir, k)` checks the state after each kill.
struct KillRounds {
  int rounds = 0, kills = 0, ended_first = 0;
};
KillRounds kill_in_rounds(const Options& o, std::mt19937_64& rng, const std::string& name, double full_s,
                          const std::function<std::vector<std::string>(const std::string&)>& args,
                          const std::function<void(const std::string&, int)>& after_kill,
                          const std::function<void(const std::string&)>& check, const std::string& log) {
  std::uniform_real_distribution<double> delay(0.3, std::max(0.6, full_s));
  KillRounds r;
  while (r.kills < o.kills || r.rounds == 0) {
    const std::string dir = o.work + "/round" + std::to_string(++r.rounds);
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (int code = 137; code != 0;) {
      const bool kill = r.kills < o.kills;
      const double d = delay(rng);
      code = kill ? kill_after(o.program, args(dir), log, d) : run_to_end(o.program, args(dir), log);
      if (code != 0 && code != 137) {
        fail(name + " exited " + std::to_string(code) + "\n" + tail_of(log));
        return r;
      }
      if (kill) {
        ++r.kills;
        r.ended_first += code == 0;
        std::cout << "kill " << r.kills << " (round " << r.rounds << ") after " << d << " s: "
                  << (code == 137 ? "killed" : "ended first") << "\n";
        after_kill(dir, r.kills);
      }
    }
    check(dir);
    if (!g_failures) fs::remove_all(dir);
  }
  return r;
}

void mode_synth(const Options& o, std::mt19937_64& rng) {
  const std::string input = std::string(METAMERLAB_SOURCE_DIR) + "/stimuli/samples/emoji16/reference";
  const auto args = [&](const std::string& dir) {
    return std::vector<std::string>{"synth", "--model", "zoo:emoji16-standard", "--layers", "stage2,logits", "--input",
                                    input, "--out", dir + "/out", "--db", dir + "/m.db", "--iterations", "40",
                                    "--rounds", "2", "--batch", "4", "--checkpoint-every", "10", "--threads", "1",
                                    "--null-pairs", "1000", "--quiet"};
  };
  const std::string ref = o.work + "/reference", log = o.work + "/synth.log";
  fs::create_directories(ref);
  const auto t0 = std::chrono::steady_clock::now();
  if (run_to_end(o.program, args(ref), log) != 0) throw std::runtime_error("the uninterrupted synth failed\n" + tail_of(log));
  const double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const KillRounds r = kill_in_rounds(
      o, rng, "synth", full_s, args,
      [&](const std::string& dir, int k) {
        if (!fs::exists(dir + "/m.db")) return;
        mm::data::Store s(dir + "/m.db");
        if (s.integrity_check() != "ok") fail("synth: integrity_check after kill " + std::to_string(k));
      },
      [&](const std::string& dir) { compare_trees(ref + "/out", dir + "/out", "synth outputs", {".ckpt"}); }, log);
  std::cout << "synth: uninterrupted " << full_s << " s; " << r.kills << " kills (" << r.ended_first
            << " after the run had ended) over " << r.rounds << " runs to the end, " << count_in(log, "; resuming")
            << " restarts resumed recorded metamers; outputs " << (g_failures ? "differ" : "bit-identical") << "\n";
}

void mode_train(const Options& o, std::mt19937_64& rng) {
  // A tiny data set from the bundled sample: train/ the references, test/ the practice images.
  const std::string src = std::string(METAMERLAB_SOURCE_DIR) + "/stimuli/samples/emoji16";
  const std::string data = o.work + "/data";
  fs::create_directories(data);
  if (!fs::exists(data + "/train")) fs::copy(src + "/reference", data + "/train", fs::copy_options::recursive);
  if (!fs::exists(data + "/test")) fs::copy(src + "/practice", data + "/test", fs::copy_options::recursive);
  const auto args = [&](const std::string& dir) {
    return std::vector<std::string>{"train", "--data", data, "--modality", "image", "--out", dir + "/net.pt",
                                    "--epochs", "100", "--batch", "4", "--width", "8", "--size", "32", "--checkpoint-every", "20",
                                    "--threads", "1", "--seed", "3"};
  };
  const std::string ref = o.work + "/reference", log = o.work + "/train.log";
  fs::create_directories(ref);
  const auto t0 = std::chrono::steady_clock::now();
  if (run_to_end(o.program, args(ref), log) != 0) throw std::runtime_error("the uninterrupted train failed\n" + tail_of(log));
  const double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string want = mm::data::sha256_file(ref + "/net.pt");
  const KillRounds r = kill_in_rounds(
      o, rng, "train", full_s, args,
      [&](const std::string& dir, int k) {
        // The weights are complete or absent: never without their sidecar, never different.
        if (fs::exists(dir + "/net.pt") && mm::data::sha256_file(dir + "/net.pt") != want)
          fail("train: after kill " + std::to_string(k) + " the weights file exists and differs (half-written?)");
      },
      [&](const std::string& dir) {
        if (!fs::exists(dir + "/net.pt")) fail("train: no weights after the runs");
        else if (mm::data::sha256_file(dir + "/net.pt") != want)
          fail("train: resumed weights differ from the uninterrupted run's");
      },
      log);
  std::cout << "train: uninterrupted " << full_s << " s; " << r.kills << " kills (" << r.ended_first
            << " after the run had ended) over " << r.rounds << " runs to the end, " << count_in(log, "resuming from")
            << " restarts resumed from a checkpoint; weights " << (g_failures ? "differ" : "bit-identical") << "\n";
}

void mode_export(const Options& o, std::mt19937_64& rng) {
  // The database: a few completed sessions (made here, not killed).
  const std::string db = o.work + "/sessions.db";
  {
    Options quiet = o;
    quiet.kills = 0;
    mode_session(quiet, rng, db, 4);
  }
  const auto args = [&](const std::string& out) {
    return std::vector<std::string>{"export", "--db", db, "--format", "bids", "--out", out, "--force"};
  };
  const std::string ref = o.work + "/export-reference", got = o.work + "/export", log = o.work + "/export.log";
  const auto t0 = std::chrono::steady_clock::now();
  if (run_to_end(o.program, args(ref), log) != 0) throw std::runtime_error("the unkilled export failed\n" + tail_of(log));
  const double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uniform_real_distribution<double> delay(0.0, std::max(0.05, full_s * 1.2));
  int mid = 0, complete = 0;
  for (int k = 0; k < o.kills; ++k) {
    fs::remove_all(got);
    const int code = kill_after(o.program, args(got), log, delay(rng));
    mid += code == 137;
    if (code != 0 && code != 137) fail("export exited " + std::to_string(code) + "\n" + tail_of(log));
    if (fs::exists(got)) {
      ++complete;
      compare_trees(ref, got, "export after kill " + std::to_string(k + 1));
    }
  }
  fs::remove_all(got);
  if (run_to_end(o.program, args(got), log) != 0) fail("export failed\n" + tail_of(log));
  compare_trees(ref, got, "export");
  std::cout << "export: unkilled " << full_s << " s; " << o.kills << " kills (" << mid
            << " mid-run); each left the folder absent (" << o.kills - complete << ") or complete (" << complete
            << ")\n";
}

}  // namespace

// [SECTION] Main --------------------------------------------------------------------------
int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const mm::app::Command cmd{
      "",
      "SIGKILL at random moments through sessions, synth, train or export; checks nothing was lost",
      "Each killed command is started again with the same command line. Prints one line per kill\n"
      "and a summary; exit 0 when every check held.",
      {{"mode", "", "what to kill", "", true, false, {"session", "synth", "train", "export"}},
       {"kills", "N", "SIGKILLs to send", "100"},
       {"seed", "S", "seed of the kill moments", "1"},
       {"work", "DIR", "working folder (default: a fresh one in the temporary folder)", ""},
       {"program", "PATH", "the metamerlab program", METAMERLAB_BUILD_DIR "/bin/metamerlab"},
       {"max-delay", "S", "session: longest run before a kill, seconds (a scripted session takes about 6)", "8"},
       {"participants", "N", "session: participants cycled", "4"}},
      "", false, {}, "kill_loop"};
  Options o;
  int participants = 4;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    o.mode = a->get("mode");
    o.kills = static_cast<int>(a->get_int("kills"));
    o.seed = static_cast<uint64_t>(a->get_int("seed"));
    o.work = a->get("work");
    o.program = a->get("program");
    o.max_delay = a->get_double("max-delay");
    participants = static_cast<int>(a->get_int("participants"));
    if (o.kills < 0 || participants < 1 || !(o.max_delay > 0.3))
      throw mm::app::UsageError("kill_loop: --kills >= 0, --participants >= 1, --max-delay > 0.3");
  } catch (const mm::app::UsageError& e) {
    std::cerr << "kill_loop: " << e.what() << "\n";
    return 2;
  }
  if (o.work.empty()) o.work = (fs::temp_directory_path() / ("kill_loop_" + std::to_string(::getpid()))).string();
  try {
    fs::create_directories(o.work);
    std::mt19937_64 rng(o.seed);
    if (o.mode == "session") mode_session(o, rng, o.work + "/sessions.db", participants);
    if (o.mode == "synth") mode_synth(o, rng);
    if (o.mode == "train") mode_train(o, rng);
    if (o.mode == "export") mode_export(o, rng);
  } catch (const std::exception& e) {
    std::cerr << "kill_loop: " << e.what() << "\n";
    return 1;
  }
  std::cout << (g_failures ? "FAILED: " + std::to_string(g_failures) + " checks" : std::string("all checks held")) << "\n";
  return g_failures ? 1 : 0;
}
