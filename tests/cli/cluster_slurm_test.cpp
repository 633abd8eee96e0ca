// The cluster commands on a real Slurm: tests/support/slurm-single-node.sh starts a private
// single-node cluster (munged, slurmctld, `slurmd -N localhost`, a slurm.conf in a temporary
// folder; needs root and Debian's munge, slurmctld, slurmd and slurm-client, which
// tools/setup.sh installs). A 4-shard zoo:tiny-cnn job on the emoji16 sample, submitted with
// `cluster submit`, is merged by its dependent job into a database that holds exactly the
// records (and so the files' SHA-256) of one single-process run; then a job whose shard 2 is
// given a corrupt database fails that shard, `cluster status` names it with its exit code
// and log, and after the corrupt file is removed `cluster resubmit` completes the job.
// The daemons are stopped at the end, whatever happened. A machine where Slurm cannot start
// fails the test (it does not skip).
#include "tests/cli/cli_util.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;

std::string sample() { return mm::test::source_dir() + "/stimuli/samples/emoji16/reference"; }
std::string helper() { return mm::test::source_dir() + "/tests/support/slurm-single-node.sh"; }

// The private cluster: started by the constructor, stopped (jobs cancelled first) by the destructor.
struct Slurm {
  std::string dir, env;
  RunResult started;
  explicit Slurm(const std::string& d) : dir(d), env("SLURM_CONF=" + q(d + "/slurm.conf") + " ") {
    started = mm::test::run(q(helper()) + " start " + q(dir));
  }
  ~Slurm() {
    mm::test::run(env + "scancel --user=\"$(id -un)\" 2>/dev/null; for i in $(seq 50); do [ -z \"$(" + env +
                  "squeue -h 2>/dev/null)\" ] && break; sleep 0.2; done");
    mm::test::run(q(helper()) + " stop " + q(dir));
  }
  RunResult program(const std::string& args) const {
    return mm::test::run(env + q(mm::test::metamerlab_binary()) + " " + args);
  }
};

// 16 references in batches of 3 at two layers: 12 work units, 3 per shard of 4.
std::string synth_options(const std::string& out, const std::string& db) {
  return "--model zoo:tiny-cnn --layers conv1,stage3 --input " + q(sample()) + " --out " + q(out) + " --db " + q(db) +
         " --batch 3 --iterations 5 --rounds 2 --null-pairs 50 --threads 1 --quiet";
}

// Polls `cluster status` until `done(output)` or the timeout; returns the last output.
std::string wait_status(const Slurm& s, const std::string& work, bool (*done)(const std::string&), double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string last;
  while (seconds_since(t0) < timeout_s) {
    const RunResult r = s.program("cluster status --work " + q(work));
    last = describe(r);
    if (r.exit_code == 0 && done(r.out)) return r.out;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  ADD_FAILURE() << "not there after " << timeout_s << " s; last status:\n" << last;
  return last;
}

bool merged(const std::string& o) { return contains(o, ": done into "); }
bool array_finished(const std::string& o) { return !contains(o, ": running (") && !contains(o, ", pending)"); }

TEST(CliClusterSlurm, ShardsOnARealSlurmMergeIntoTheSingleRunAndAFailedShardIsResubmitted) {
  TempDir tmp("cli-slurm");
  const auto t0 = std::chrono::steady_clock::now();
  Slurm slurm(tmp / "slurm");
  ASSERT_EQ(slurm.started.exit_code, 0) << "cannot start the test's Slurm (run as root, after tools/setup.sh):\n"
                                        << describe(slurm.started);
  const double start_s = seconds_since(t0);

  // The single-process run to compare with.
  expect_ok(run_mm("synth " + synth_options(tmp / "base/out", tmp / "base/m.db")));
  const auto whole = metamer_records(tmp / "base/m.db");
  ASSERT_EQ(whole.size(), 32u);

  // 4 shards, 2 at a time, then the merge.
  const auto t1 = std::chrono::steady_clock::now();
  const std::string work = tmp / "a/work";
  const RunResult sub = slurm.program("cluster submit " + synth_options(tmp / "a/out", tmp / "a/all.db") +
                                 " --shards 4 --parallel 2 --time 10 --work " + q(work));
  expect_ok(sub);
  ASSERT_TRUE(contains(sub.out, "submitted array job ")) << sub.out;
  const auto m = nlohmann::json::parse(std::ifstream(work + "/manifest.json"));
  EXPECT_EQ(m["shards"], 4);
  EXPECT_EQ(m["submissions"].size(), 1u);
  const std::string st = wait_status(slurm, work, merged, 600);
  const double job_s = seconds_since(t1);
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(contains(st, "shard " + std::to_string(k) + "/4: done")) << st;
  EXPECT_TRUE(contains(st, "4 of 4 shard(s) done")) << st;
  EXPECT_EQ(metamer_records(tmp / "a/all.db"), whole);
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(fs::is_directory(tmp / ("a/out/shard-" + std::to_string(k))));

  // Shard 2 given a corrupt database: it fails, the rest finish, the merge waits.
  const auto t2 = std::chrono::steady_clock::now();
  const std::string work2 = tmp / "b/work";
  fs::create_directories(tmp / "b/out");
  mm::test::write_bytes(tmp / "b/out/shard-2.db", "not a database\n" + std::string(4000, '\x5a'));
  expect_ok(slurm.program("cluster submit " + synth_options(tmp / "b/out", tmp / "b/all.db") +
                     " --shards 4 --parallel 2 --work " + q(work2)));
  const std::string failed = wait_status(slurm, work2, array_finished, 600);
  EXPECT_TRUE(contains(failed, "shard 2/4: failed (exit code 1, log " + work2 + "/logs/synth_")) << failed;
  for (int k : {0, 1, 3}) EXPECT_TRUE(contains(failed, "shard " + std::to_string(k) + "/4: done")) << failed;
  EXPECT_TRUE(contains(failed, "3 of 4 shard(s) done; failed: 2")) << failed;
  EXPECT_FALSE(fs::exists(tmp / "b/all.db"));

  // Fixed: resubmit makes only shard 2 and merges.
  fs::remove(tmp / "b/out/shard-2.db");
  const RunResult re = slurm.program("cluster resubmit --work " + q(work2));
  expect_ok(re);
  EXPECT_TRUE(contains(re.out, "resubmitted shard(s) 2 as array job ")) << re.out;
  const std::string fixed = wait_status(slurm, work2, merged, 600);
  EXPECT_TRUE(contains(fixed, "4 of 4 shard(s) done")) << fixed;
  EXPECT_EQ(metamer_records(tmp / "b/all.db"), whole);
  const RunResult nothing = slurm.program("cluster resubmit --work " + q(work2));
  expect_ok(nothing);
  EXPECT_TRUE(contains(nothing.out, "nothing to resubmit")) << nothing.out;
  std::cout << "slurm start " << start_s << " s; 4-shard job and merge " << job_s << " s; failure, resubmit, merge "
            << seconds_since(t2) << " s\n";
}

}  // namespace
