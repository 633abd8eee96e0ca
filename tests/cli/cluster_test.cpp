// Black-box tests of `metamerlab cluster submit --dry-run` (no Slurm needed): the array
// script's #SBATCH lines (the array with its parallel limit, every resource flag, the
// %A_%a logs), the per-task synth command with --shard and its own --out and --db, the
// merge script and its afterok dependency; bad option values, a missing sbatch, and status
// without a work folder, each one line and a non-zero exit.
#include "tests/cli/cli_util.h"

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;

std::string sample() { return mm::test::source_dir() + "/stimuli/samples/emoji16/reference"; }

std::string submit(const std::string& dir, const std::string& extra) {
  return "cluster submit --model zoo:tiny-cnn --layers conv1,stage3 --input " + q(sample()) + " --out " +
         q(dir + "/out") + " --db " + q(dir + "/all.db") + " --batch 3 --iterations 5 --threads 1 --quiet " + extra;
}

TEST(CliCluster, DryRunPrintsTheArrayAndMergeScripts) {
  TempDir tmp("cli-cluster");
  const std::string d = tmp.path;
  const RunResult r = run_mm(submit(d, "--shards 4 --parallel 2 --partition gpu --time 1:30:00 --cpus 4 --gpus a100:1 "
                                       "--mem 16G --dry-run"));
  expect_ok(r);
  const std::string& o = r.out;
  EXPECT_TRUE(contains(o, "# " + d + "/out.slurm/synth.sh\n")) << o;  // the default work folder: OUT.slurm
  EXPECT_TRUE(contains(o, "#SBATCH --array=0-3%2\n")) << o;
  EXPECT_TRUE(contains(o, "#SBATCH --partition=gpu\n")) << o;
  EXPECT_TRUE(contains(o, "#SBATCH --time=1:30:00\n")) << o;
  EXPECT_TRUE(contains(o, "#SBATCH --cpus-per-task=4\n")) << o;
  EXPECT_TRUE(contains(o, "#SBATCH --gpus=a100:1\n")) << o;
  EXPECT_TRUE(contains(o, "#SBATCH --mem=16G\n")) << o;
  EXPECT_TRUE(contains(o, "#SBATCH --output=" + d + "/out.slurm/logs/synth_%A_%a.out\n")) << o;
  // The task: this program, synth with the job's options, its shard, its own --out and --db.
  EXPECT_TRUE(contains(o, q(mm::test::metamerlab_binary()) + " synth '--model' 'zoo:tiny-cnn' '--layers' 'conv1,stage3' "
                          "'--input' " + q(sample()))) << o;
  EXPECT_TRUE(contains(o, "'--batch' '3'")) << o;
  EXPECT_TRUE(contains(o, "'--threads' '1'")) << o;
  EXPECT_TRUE(contains(o, "--shard \"$K/4\" --out " + q(d + "/out/shard-") + "\"$K\" --db " + q(d + "/out/shard-") +
                          "\"$K\"'.db'")) << o;
  EXPECT_TRUE(contains(o, "K=$SLURM_ARRAY_TASK_ID\n")) << o;
  // The merge: every shard's database into --db, after the array (afterok).
  EXPECT_TRUE(contains(o, "merge.sh (submitted with --dependency=afterok:<the array's job id>)")) << o;
  EXPECT_TRUE(contains(o, " merge " + q(d + "/all.db") + " " + q(d + "/out/shard-0.db") + " " + q(d + "/out/shard-1.db") +
                          " " + q(d + "/out/shard-2.db") + " " + q(d + "/out/shard-3.db") + "\n")) << o;
  EXPECT_TRUE(contains(o, "#SBATCH --output=" + d + "/out.slurm/logs/merge_%j.out\n")) << o;
  // Nothing written, nothing submitted.
  EXPECT_FALSE(fs::exists(d + "/out.slurm"));
  EXPECT_FALSE(fs::exists(d + "/out"));

  // Without --parallel all tasks may run at once; --work chooses the folder; no resource line unasked.
  const RunResult w = run_mm(submit(d, "--shards 3 --work " + q(d + "/w") + " --dry-run"));
  expect_ok(w);
  EXPECT_TRUE(contains(w.out, "#SBATCH --array=0-2%3\n")) << w.out;
  EXPECT_TRUE(contains(w.out, "# " + d + "/w/synth.sh\n")) << w.out;
  for (const char* flag : {"--partition", "--time", "--cpus-per-task", "--gpus", "--mem"})
    EXPECT_FALSE(contains(w.out, std::string("#SBATCH ") + flag)) << flag;
}

TEST(CliCluster, BadValuesMissingSbatchAndStatusWithoutAWorkFolder) {
  TempDir tmp("cli-cluster-bad");
  const std::string d = tmp.path;
  expect_error(run_mm(submit(d, "--shards 0 --dry-run")), 2, {"--shards must be at least 1"});
  expect_error(run_mm(submit(d, "--shards 1001 --dry-run")), 2, {"--shards must be at most 1000"});
  expect_error(run_mm(submit(d, "--shards 4 --parallel 0 --dry-run")), 2, {"--parallel must be at least 1"});
  expect_error(run_mm(submit(d, "--shards four --dry-run")), 2, {"--shards", "whole number", "four"});
  expect_error(run_mm(submit(d, "--shards 4 --time soon --dry-run")), 2, {"--time", "soon"});
  expect_error(run_mm(submit(d, "--shards 4 --mem 'lots of' --dry-run")), 2, {"--mem", "lots of"});
  expect_error(run_mm(submit(d, "--shards 4 --cpus -2 --dry-run")), 2, {"--cpus", "-2"});
  expect_error(run_mm(submit(d, "--shards 4 --gpus 'a100:1\n#SBATCH --x' --dry-run")), 2, {"--gpus"});
  expect_error(run_mm(submit(d, "--shards 4 --partition 'a b' --dry-run")), 2, {"--partition", "a b"});
  expect_error(run_mm(submit(d, "--shards 4 --shard 1/4 --dry-run")), 2, {"unknown option --shard"});
  expect_error(run_mm("cluster submit --layers conv1 --input x --out o --shards 2 --dry-run"), 2, {"--model", "required"});
  expect_error(run_mm("cluster submit --model zoo:tiny-cnn --layers conv1 --input x --shards 2 --dry-run"), 2, {"--out"});
  expect_error(run_mm("cluster launch --work " + q(d)), 2, {"ACTION must be submit, status or resubmit"});
  expect_error(run_mm("cluster status"), 2, {"--work DIR is required"});
  expect_error(run_mm("cluster status --work " + q(d) + " --shards 3"), 2, {"--shards is for cluster submit"});
  expect_error(run_mm("cluster resubmit --work " + q(d)), 1, {d + "/manifest.json", "not found"});
  // No Slurm on PATH: one line naming sbatch, nothing written.
  const RunResult r = mm::test::run("PATH=/nonexistent " + q(mm::test::metamerlab_binary()) + " " + submit(d, "--shards 2"));
  expect_error(r, 1, {"sbatch not found", "slurm-client"});
  EXPECT_FALSE(fs::exists(d + "/out.slurm"));
}

}  // namespace
