// bench/bench_live.cpp: live generation through a whole scripted session: does the worker
// keep ahead of the participant, and does presentation suffer while it works?
//
//   bench_live [--experiment FILE] [--participant N] [--answer-ms MS] [--max-trials N]
//              [--live-threads N] [--db FILE] [--no-worker]
//
// Runs one participant's session of a live experiment (default the bundled
// experiments/demo-images-live.toml) in this process exactly as `metamerlab run` does: the
// runner (windowed, scripted participant answering MS after each response screen appears,
// default 1000 ms, about a person's pace), the live worker on its own thread with torch at
// --live-threads (default one fewer than the cores). Private Xvfb unless DISPLAY is set;
// audio through OpenAL Soft's wave-file backend. Then it prints, from the session's records:
//   - per model x layer: metamers made (attempts), passed, seconds per metamer (mean, max);
//   - the worker's lead: live trials, how many waited (and for how long) or were reordered,
//     fell back, and the smallest lead (s) by which a metamer was ready before its trial;
//   - presentation while the worker was busy (trials answered before its last metamer was
//     recorded) against idle (after): dropped frames, |flip error| of the stimulus and mask
//     phases (p50, p99, max), the trial commit latency (p50, p99, max), and the frame
//     intervals' mean, SD, p99 and max (app/session_timing.h).
// --no-worker runs the same session with no worker (every live trial shows its natural
// stimulus at once): the idle baseline of presentation for the same trials.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/program/cli.h"
#include "app/program/live_worker.h"
#include "app/program/process.h"
#include "app/runner.h"
#include "app/session_timing.h"
#include "app/timing.h"
#include "bench/bench_util.h"
#include "data/store.h"
#include "synth/engine.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Group {
  int trials = 0, dropped = 0;
  std::vector<double> flip_ms, commit_ms;
  std::vector<mm::data::TrialRecord> records;  // for the frame intervals their timing implies
};

void print_group(const char* name, const Group& g) {
  auto stat = [](const std::vector<double>& v) {
    if (v.empty()) return std::string("-");
    char b[96];
    std::snprintf(b, sizeof b, "p50 %.2f / p99 %.2f / max %.2f", mm::app::median(v), mm::app::percentile(v, 99),
                  *std::max_element(v.begin(), v.end()));
    return std::string(b);
  };
  std::printf("  %-5s %3d trials, %3d dropped frames; |flip error| ms %s; commit ms %s\n", name, g.trials, g.dropped,
              stat(g.flip_ms).c_str(), stat(g.commit_ms).c_str());
  const mm::app::IntervalStats iv = mm::app::session_timing(g.records).intervals;
  if (iv.n > 0)
    std::printf("        frame intervals (%lld, each phase's duration over its frames): mean %.3f ms, SD %.3f ms, "
                "p99 %.3f ms, max %.3f ms\n",
                static_cast<long long>(iv.n), iv.mean_ms, iv.sd_ms, iv.p99_ms, iv.max_ms);
}

// --no-worker: every live trial falls back at once, so nothing but presentation runs.
class NoWorker final : public mm::app::LiveGenerator {
 public:
  void start(int64_t, const mm::experiments::Experiment&, const mm::experiments::Plan&, const std::set<int64_t>&) override {}
  mm::app::LiveStimulus poll(int64_t) override {
    mm::app::LiveStimulus s;
    s.state = mm::app::LiveStimulus::State::failed;
    s.reason = "bench_live --no-worker";
    return s;
  }
  void stop() override {}
  std::vector<std::string> take_notes() override { return {}; }
};

}  // namespace

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const std::string src = METAMERLAB_SOURCE_DIR;
  const mm::app::Command cmd{
      "", "live generation through a whole scripted session: the worker's lead and presentation while it works", "",
      {{"experiment", "FILE", "a live experiment", src + "/experiments/demo-images-live.toml"},
       {"participant", "N", "participant number", "1"},
       {"answer-ms", "MS", "the scripted participant's answer time after the response screen appears", "1000"},
       {"max-trials", "N", "stop after N trials (0: the whole session)", "0"},
       {"live-threads", "N", "torch threads of the worker (0: one fewer than the cores, at least 1)", "0"},
       {"db", "FILE", "database (default: a fresh one in the temporary folder)", ""},
       {"no-worker", "", "no worker: every live trial shows its natural stimulus (presentation's idle baseline)"}},
      "", false, {}, "bench_live"};
  std::string experiment, db;
  long long participant = 1, answer_ms = 1000, max_trials = 0, threads = 0;
  bool no_worker = false;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    experiment = a->get("experiment");
    db = a->get("db");
    participant = a->get_int("participant");
    answer_ms = a->get_int("answer-ms");
    max_trials = a->get_int("max-trials");
    threads = a->get_int("live-threads");
    no_worker = a->flag("no-worker");
    if (participant < 1 || answer_ms < 0 || max_trials < 0 || threads < 0)
      throw mm::app::UsageError("bench_live: --participant must be 1 or more; --answer-ms, --max-trials and "
                                "--live-threads 0 or more");
  } catch (const mm::app::UsageError& e) {
    std::cerr << "bench_live: " << e.what() << "\n";
    return 2;
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (threads == 0) threads = cores > 1 ? cores - 1 : 1;
  const std::string tmp = (fs::temp_directory_path() / ("bench_live_" + std::to_string(::getpid()))).string();
  fs::create_directories(tmp);
  if (db.empty()) db = tmp + "/live.db";
  std::ofstream(tmp + "/alsoft.conf") << "[general]\ndrivers = wave\n[wave]\nfile = " << tmp << "/out.wav\n";
  ::setenv("ALSOFT_CONF", (tmp + "/alsoft.conf").c_str(), 1);
  ::unsetenv("ALSOFT_DRIVERS");
  try {
    mm::synth::Runtime rt;
    rt.threads = static_cast<int>(threads);
    mm::synth::init_runtime(rt);
    mm::bench::PrivateXvfb xvfb;
    mm::app::LiveWorker worker(db, mm::synth::Device::cpu, "bench_live");
    mm::app::RunOptions o;
    o.experiment = experiment;
    o.request.participant = participant;
    if (max_trials > 0) o.request.max_trials = static_cast<int>(max_trials);
    o.db = db;
    o.windowed = true;
    o.auto_policy = "correct";
    o.auto_min_ms = o.auto_max_ms = static_cast<int>(answer_ms);
    NoWorker none;
    o.live = no_worker ? static_cast<mm::app::LiveGenerator*>(&none) : &worker;
    o.live_check = [](const mm::experiments::Experiment& e, double hz) {
      return mm::app::check_live_sources(e, hz, mm::synth::Device::cpu);
    };
    std::printf("bench_live: %s, participant %lld, answers after %lld ms, %s %lld torch thread(s) of %u "
                "cores%s%s\n",
                fs::path(experiment).filename().c_str(), participant, answer_ms,
                no_worker ? "no worker (--no-worker; torch at" : "worker at", threads, cores, no_worker ? ")" : "",
                xvfb.started() ? (", private Xvfb " + xvfb.display()).c_str() : "");
    std::ostringstream log;
    const double t0 = mm::app::now_s();
    const mm::app::RunResult r = mm::app::run_session(o, log);
    const double wall = mm::app::now_s() - t0;
    if (r.refused || r.session_id == 0) {
      std::cerr << "bench_live: the session did not run:\n" << log.str();
      return 1;
    }
    mm::data::Store store(db);
    const auto lives = store.live_metamers(r.session_id);
    const auto trials = store.trials_of_session(r.session_id);
    std::printf("session %lld: %s, %d trials answered in %.1f s\n", static_cast<long long>(r.session_id),
                mm::data::session_status_name(r.status), r.answered_now, wall);

    // Per model x layer: the worker's metamers.
    struct Made {
      int n = 0, passed = 0;
      std::vector<double> s;
    };
    std::map<std::string, Made> made;
    std::string last_made;
    for (const auto& l : lives) {
      // Files are live/session-ID/LABEL/LAYER/CATEGORY/trialK-aA.*: the condition's label.
      const fs::path file(l.metamer.png_path.empty() ? l.metamer.wav_path : l.metamer.png_path);
      auto& m = made[file.parent_path().parent_path().parent_path().filename().string() + "/" + l.metamer.layer];
      ++m.n;
      m.passed += l.metamer.passed ? 1 : 0;
      m.s.push_back(l.metamer.wall_s);
    }
    std::printf("metamers made live (attempts), passed, seconds per metamer mean / max:\n");
    for (const auto& [k, m] : made) {
      double sum = 0;
      for (double x : m.s) sum += x;
      std::printf("  %-28s %3d  %3d  %6.2f / %6.2f\n", k.c_str(), m.n, m.passed, sum / m.n,
                  *std::max_element(m.s.begin(), m.s.end()));
    }
    const auto& lv = r.live;
    double waited_ms = 0, longest_ms = 0;
    for (double w : lv.wait_ms) waited_ms += w, longest_ms = std::max(longest_ms, w);
    char lead[48] = "-";  // no metamer was ever ready (--no-worker)
    if (!lives.empty()) std::snprintf(lead, sizeof lead, "%.2f s", lv.min_lead_s);
    std::printf("worker's lead: %d live trials, %d waited (%.0f ms in all, longest %.0f ms), %d reordered, %d fell "
                "back, smallest lead %s\n",
                lv.trials, lv.waited, waited_ms, longest_ms, lv.reordered, lv.fell_back, lead);

    // Busy: trials answered before the worker's last metamer was recorded.
    std::string worker_done;
    for (const auto& l : lives) worker_done = std::max(worker_done, l.created_at);
    Group busy, idle;
    size_t k = 0;
    std::vector<mm::data::TrialRecord> answered;
    for (const auto& t : trials)
      if (!t.answered_at.empty()) answered.push_back(t);
    std::sort(answered.begin(), answered.end(),
              [](const auto& a, const auto& b) { return a.answered_at < b.answered_at; });
    for (const auto& t : answered) {
      Group& g = (!worker_done.empty() && t.answered_at <= worker_done) ? busy : idle;
      ++g.trials;
      g.dropped += t.dropped_frames;
      g.records.push_back(t);
      if (k < r.commit_ms.size()) g.commit_ms.push_back(r.commit_ms[k]);
      ++k;
      json tj = json::parse(t.timing_json.empty() ? "{}" : t.timing_json, nullptr, false);
      if (tj.is_discarded()) continue;
      for (const char* ph : {"stimulus", "mask"})
        if (tj.contains(ph) && tj[ph].contains("flip_error_ms"))
          g.flip_ms.push_back(std::abs(tj[ph]["flip_error_ms"].get<double>()));
    }
    std::printf("presentation while the worker was busy (until %s) and after:\n",
                worker_done.empty() ? "never" : worker_done.c_str());
    print_group("busy", busy);
    print_group("idle", idle);
  } catch (const std::exception& e) {
    std::cerr << "bench_live: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
