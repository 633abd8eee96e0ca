// bench/bench_commit.cpp: per-trial commit latency of the session runner's store.
//
//   bench_commit [--trials N] [--db FILE]
//
// Opens a database with the store the runner uses (data::Store: WAL, synchronous=FULL),
// creates a session and commits N trials one by one with Store::add_trial, each its own
// transaction, as the runner does after every answer (a realistic row: paths, alternatives,
// the per-phase timing JSON). Prints the latency of each commit: mean, p50, p90, p99, max.
// The default database is a fresh file in the system's temporary folder (removed after);
// give --db to measure on another disk.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "app/program/cli.h"
#include "app/program/process.h"
#include "app/timing.h"
#include "data/store.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const mm::app::Command cmd{"", "per-trial commit latency of the session store (Store::add_trial, WAL, synchronous=FULL)", "",
                             {{"trials", "N", "trials to commit (at least 10)", "500"},
                              {"db", "FILE", "database (default: a fresh one in the temporary folder)", ""}},
                             "", false, {}, "bench_commit"};
  int trials = 0;
  std::string db;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    trials = static_cast<int>(a->get_int("trials"));
    if (trials < 10) throw mm::app::UsageError("bench_commit: --trials must be at least 10");
    db = a->get("db");
  } catch (const mm::app::UsageError& e) {
    std::cerr << "bench_commit: " << e.what() << "\n";
    return 2;
  }
  const bool temp = db.empty();
  if (temp) db = (fs::temp_directory_path() / ("bench_commit_" + std::to_string(::getpid()) + ".db")).string();
  try {
    std::vector<double> ms;
    {
      mm::data::Store store(db);
      mm::data::SessionRecord s;
      s.participant_code = "bench";
      s.participant_number = 1;
      s.experiment_path = "/bench/exp.toml";
      s.experiment_sha256 = std::string(64, 'a');
      s.experiment_name = "bench";
      s.plan_json = "{}";
      s.planned_trials = trials;
      s.display_json = "{}";
      s.audio_json = "{}";
      s.program_version = "bench";
      const int64_t sid = store.create_session(s);
      const std::string timing =
          R"({"fixation":{"actual_s":12.345678,"dropped":0,"flip_error_ms":0.01,"frames":18,"frames_shown":18,)"
          R"("realized_ms":300.0,"requested_ms":300,"requested_s":12.345},"frame_hz":60.0,)"
          R"("mask":{"actual_s":12.945678,"dropped":0,"flip_error_ms":0.02,"frames":18,"frames_shown":18,)"
          R"("realized_ms":300.0,"requested_ms":300,"requested_s":12.945},)"
          R"("response":{"actual_s":13.245678,"dropped":0,"flip_error_ms":0.01,"frames":1,"frames_shown":1,)"
          R"("realized_ms":16.7,"requested_ms":0,"requested_s":13.245},)"
          R"("stimulus":{"actual_s":12.645678,"dropped":0,"flip_error_ms":0.01,"frames":18,"frames_shown":18,)"
          R"("realized_ms":300.0,"requested_ms":300,"requested_s":12.645}})";
      for (int i = 0; i < trials; ++i) {
        mm::data::TrialRecord t;
        t.session_id = sid;
        t.trial_index = i;
        t.block = 3;
        t.block_kind = t.phase = "main";
        t.index_in_block = i;
        t.condition = t.planned_condition = i % 2 ? "natural" : "tiny-cnn/stage1";
        t.category = "ring";
        t.reference_path = "/data/out/demo/inputs/ring/ring_" + std::to_string(i) + ".png";
        t.stimulus_path = "/data/out/demo/metamers/stage1/ring/ring_" + std::to_string(i) + ".png";
        t.stimulus_sha256 = std::string(64, 'b');
        t.model = "zoo:tiny-cnn";
        t.layer = "stage1";
        t.alternatives_json = R"(["checker","disc","ring","stripes"])";
        t.response = "ring";
        t.correct = true;
        t.rt_response_ms = 512.25;
        t.rt_stimulus_ms = 1112.5;
        t.timing_json = timing;
        const double t0 = mm::app::now_s();
        store.add_trial(t);
        ms.push_back((mm::app::now_s() - t0) * 1000.0);
      }
    }
    double sum = 0, mx = 0;
    for (double x : ms) sum += x, mx = std::max(mx, x);
    std::printf("bench_commit: %d trials, each its own transaction (WAL, synchronous=FULL), database %s\n", trials,
                db.c_str());
    std::printf("  commit latency  mean %.2f ms  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
                sum / ms.size(), mm::app::median(ms), mm::app::percentile(ms, 90), mm::app::percentile(ms, 99), mx);
  } catch (const std::exception& e) {
    std::cerr << "bench_commit: " << e.what() << "\n";
    return 1;
  }
  if (temp)
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db + ext);
  return 0;
}
