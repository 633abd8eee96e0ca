// The short version of the kill loops (bench/kill_loop.cpp; 100 kills each for the report):
// a handful of SIGKILLs at random moments through scripted sessions, a synthesis run, a
// training run and an export, each restarted with the same command. The bench program does
// the checking (no committed trial lost or changed, resumed synthesis and training
// bit-identical to uninterrupted runs, exports complete or absent) and exits 1 on any
// failure; this test runs it and reads its verdict.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>

#include <string>
#include <vector>

#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

struct Result {
  int code = -1;
  std::string out;
};

Result kill_loop(const std::string& mode, int kills, const std::string& work) {
  ::setenv("DISPLAY", mm::test::ensure_xvfb().c_str(), 1);  // the sessions show their trials here
  const std::string out = work + "/kill_loop.txt";
  const std::string cmd = std::string(METAMERLAB_BUILD_DIR) + "/bench/kill_loop --mode " + mode + " --kills " +
                          std::to_string(kills) + " --seed 5 --work '" + work + "/w' > '" + out +
                          "' 2>&1";
  Result r;
  const int st = std::system(cmd.c_str());
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  r.out = mm::test::read_bytes(out);
  return r;
}

void expect_held(const Result& r, const std::string& summary) {
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("all checks held"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(summary), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

TEST(KillLoop, ScriptedSessionsLoseNothing) {
  mm::test::TempDir tmp("kill_loop_session");
  expect_held(kill_loop("session", 6, tmp.path), "sessions completed");
}

TEST(KillLoop, SynthesisResumesBitIdentical) {
  mm::test::TempDir tmp("kill_loop_synth");
  expect_held(kill_loop("synth", 3, tmp.path), "outputs bit-identical");
}

TEST(KillLoop, TrainingResumesBitIdentical) {
  mm::test::TempDir tmp("kill_loop_train");
  expect_held(kill_loop("train", 3, tmp.path), "weights bit-identical");
}

TEST(KillLoop, ExportsAreCompleteOrAbsent) {
  mm::test::TempDir tmp("kill_loop_export");
  expect_held(kill_loop("export", 4, tmp.path), "each left the folder absent");
}

}  // namespace
