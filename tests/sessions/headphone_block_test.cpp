// Tests of the headphone-check block (`kind = "headphone_check"`, Woods et al. 2017): its
// validation (audio experiments only) and planning (six trials, the quiet tone twice in
// each position, one antiphase tone), and sessions through OpenAL Soft's wave backend on a
// private Xvfb: 5 of 6 correct goes on to the trials, 4 of 6 ends the session politely
// (recorded as failed_demo with a note), every check trial committed like any trial.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/store.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using Cli = mm::test::Cli;

Cli cli(const std::vector<std::string>& args, const std::string& out_file, const std::vector<mm::test::EnvVar>& env = {},
        int timeout_s = 90) {
  return mm::test::run_metamerlab(args, out_file, env, timeout_s);
}

// Three words, two 300 ms tone clips each; the headphone check first, then a main block.
std::string make_lab(const std::string& root) {
  mm::test::write_tone_words(root + "/words", {"bear", "bird", "cat"}, 2);
  mm::test::write_bytes(root + "/hp.toml", R"([experiment]
name = "hp"
modality = "audio"
seed = 8

[responses]
alternatives = ["bear", "bird", "cat"]

[audio]
sample_rate = 16000
clip_ms = 300

[timing]
fixation = 100
iti = 50

[sets.words]
folders = ["words"]

[[blocks]]
kind = "headphone_check"
fail_text = "Sorry: headphones needed."

[[blocks]]
kind = "main"
set = "words"
)");
  return root + "/hp.toml";
}

json plan_of(const std::string& exp, const std::string& participant, const std::string& out_file) {
  const Cli c = cli({"plan", exp, "--participant", participant, "--json"}, out_file);
  EXPECT_EQ(c.code, 0) << c.out;
  return json::parse(c.out);
}

TEST(HeadphoneBlock, PlansSixBalancedTrialsAndIsRefusedForImages) {
  mm::test::TempDir tmp("hp_plan");
  const std::string exp = make_lab(tmp.path);
  for (const char* participant : {"1", "2"}) {
    const json j = plan_of(exp, participant, tmp / "plan.txt");
    const json& blocks = j["plan"]["blocks"];
    ASSERT_EQ(blocks[0]["kind"], "headphone_check");
    EXPECT_EQ(blocks[0]["trials"], 6);
    EXPECT_EQ(blocks[0]["pass_min_correct"], 5);
    EXPECT_EQ(blocks[0]["fail_text"], "Sorry: headphones needed.");
    EXPECT_EQ(j["summary"]["blocks"][0]["trials"], 6);
    std::map<std::string, int> per_answer;
    for (int i = 0; i < 6; ++i) {
      const json& t = j["plan"]["trials"][static_cast<size_t>(i)];
      EXPECT_EQ(t["block"], 0);
      EXPECT_EQ(t["phase"], "headphone_check");
      const std::string order = t["layer"], answer = t["category"];
      ASSERT_EQ(order.size(), 3u) << order;
      EXPECT_EQ(std::count(order.begin(), order.end(), 'Q'), 1) << order;
      EXPECT_EQ(std::count(order.begin(), order.end(), 'A'), 1) << order;
      EXPECT_EQ(std::to_string(order.find('Q') + 1), answer) << order;
      ++per_answer[answer];
    }
    EXPECT_EQ(per_answer, (std::map<std::string, int>{{"1", 2}, {"2", 2}, {"3", 2}}));
    EXPECT_EQ(j["plan"]["trials"][6]["phase"], "main");
  }
  // An image experiment with a headphone check: refused at the block's kind line.
  for (const char* cat : {"a", "b"}) {
    mm::test::write_test_png(tmp / "img/pics/" + cat + "/x.png", 16, 16, 3, 5);
    mm::test::write_test_png(tmp / "img/icons/" + cat + ".png", 16, 16, 3, 6);
  }
  mm::test::write_bytes(tmp / "img/img.toml", R"([experiment]
name = "img"
modality = "image"

[responses]
alternatives = ["a", "b"]
icons = "icons"

[sets.pics]
folders = ["pics"]

[[blocks]]
kind = "headphone_check"

[[blocks]]
kind = "main"
set = "pics"
)");
  const Cli c = cli({"plan", tmp / "img/img.toml", "--participant", "1"}, tmp / "img.txt");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("img.toml:13: [[blocks]] #1 (headphone_check) the headphone check plays tones: it is for audio"),
            std::string::npos)
      << c.out;
}

std::vector<std::string> notes(const std::string& db) {
  mm::data::Store s(db);
  std::vector<std::string> r;
  for (const auto& x : s.list_sessions())
    for (const auto& e : s.session_events(x.id))
      if (e.kind == "note") r.push_back(e.detail);
  return r;
}

// Answers the six check trials, the first `correct` of them rightly; the rest of the
// session is answered correctly by the policy's default for trials not in the file.
void write_answers(const json& plan, int correct, const std::string& path) {
  std::string csv = "trial_index,response,rt_ms\n";
  for (int i = 0; i < 6; ++i) {
    const std::string right = plan["plan"]["trials"][static_cast<size_t>(i)]["category"];
    const std::string wrong = right == "1" ? "2" : "1";
    csv += std::to_string(i) + "," + (i < correct ? right : wrong) + ",250\n";
  }
  mm::test::write_bytes(path, csv);
}

TEST(HeadphoneBlock, FiveOfSixPassesFourOfSixEndsTheSessionPolitely) {
  mm::test::TempDir tmp("hp_run");
  const std::string exp = make_lab(tmp.path), db = tmp / "s.db";
  mm::test::write_bytes(tmp / "alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + (tmp / "out.wav") + "\n");
  const std::vector<mm::test::EnvVar> env = {{"ALSOFT_CONF", tmp / "alsoft.conf"}, {"ALSOFT_DRIVERS", "", true}};
  auto run = [&](const std::string& participant, int correct) {
    write_answers(plan_of(exp, participant, tmp / "plan.txt"), correct, tmp / "answers.csv");
    return cli({"run", exp, "--participant", participant, "--db", db, "--windowed", "--auto", tmp / "answers.csv",
                "--headphone-tone-ms", "60"},
               tmp / ("out" + participant + ".txt"), env);
  };
  const Cli pass = run("1", 5);
  ASSERT_EQ(pass.code, 0) << pass.out;
  EXPECT_NE(pass.out.find("headphone check: 5/6 passed"), std::string::npos) << pass.out;
  const Cli fail = run("2", 4);
  ASSERT_EQ(fail.code, 0) << fail.out;  // a polite end, like a missed demo criterion
  EXPECT_NE(fail.out.find("headphone check: 4/6 failed"), std::string::npos) << fail.out;

  mm::data::Store s(db);
  const auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 2u);
  for (const auto& x : sessions) {
    const auto trials = s.trials_of_session(x.id);
    if (x.participant_number == 1) {
      EXPECT_EQ(x.status, mm::data::SessionStatus::completed);
      ASSERT_EQ(trials.size(), 12u);  // 6 check trials + 6 word trials
    } else {
      EXPECT_EQ(x.status, mm::data::SessionStatus::failed_demo);
      ASSERT_EQ(trials.size(), 6u);   // the check only
    }
    int correct = 0;
    for (int i = 0; i < 6; ++i) {
      const auto& t = trials[static_cast<size_t>(i)];
      EXPECT_EQ(t.phase, "headphone_check");
      EXPECT_EQ(t.model, "woods2017-antiphase");
      EXPECT_EQ(t.correct, t.response == t.category);
      EXPECT_NEAR(t.rt_response_ms, 250, 60) << i;
      EXPECT_GT(t.rt_stimulus_ms, t.rt_response_ms) << i;
      correct += t.correct;
    }
    EXPECT_EQ(correct, x.participant_number == 1 ? 5 : 4);
  }
  bool noted = false;
  for (const auto& n : notes(db)) noted = noted || n.rfind("headphone check: 4/6 failed", 0) == 0;
  EXPECT_TRUE(noted);
}

}  // namespace
