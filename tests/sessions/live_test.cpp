// Live generation through the program, as a participant meets it (the test network
// zoo:tiny-cnn, a null set of the experiment, scripted participants on Xvfb): every planned
// trial is answered and every metamer trial shows a recorded, passing, live metamer grown
// from that participant's seeds, with its files under the session's folder and `trace`
// finding it; two participants get different metamers of the same reference; a session
// killed mid-way resumes with the metamers already made reused, not made again; a schedule
// too slow for the trials makes trials wait (when_late = wait) or run a ready trial first
// (reorder), recorded; a live source naming a missing model or layer is refused at
// validation with file and line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "data/sha256.h"
#include "data/store.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using mm::test::Cli;

const std::vector<std::string> kCats = {"checker", "disc", "ring", "stripes"};  // tiny-cnn's classes

// A lab: 2 references per category, practice, icons, a 6-per-category null set, and an
// experiment whose main block shows every reference as a live tiny-cnn metamer (KEYS are
// added to the live source; CONDITIONS replace the main block's list).
std::string make_live_lab(const std::string& root, const std::string& keys,
                          const std::string& conditions = "[\"tiny-cnn/conv1\"]", int practice = 4) {
  mm::test::write_image_set(root + "/refs", kCats, 2, 64, "{cat}/{cat}{k}.png", 10, 100);
  mm::test::write_image_set(root + "/practice", kCats, 1, 64, "{cat}/p.png", 500, 1);
  mm::test::write_image_set(root + "/null", kCats, 6, 64, "{cat}/n{k}.png", 700, 100);
  mm::test::write_image_set(root + "/icons", kCats, 1, 16, "{cat}.png", 900, 1);
  const std::string toml = R"([experiment]
name = "live-toy"
modality = "image"
seed = 5

[responses]
alternatives = ["checker", "disc", "ring", "stripes"]
icons = "icons"

[timing]
fixation = 50
stimulus = 50
mask = 50
response = 0
iti = 20

[sets.refs]
folders = ["refs"]

[sets.practice]
folders = ["practice"]

[sets.null]
folders = ["null"]

[[metamers]]
model = "zoo:tiny-cnn"
layers = ["conv1", "stage2"]
generate = "live"
null_set = "null"
)" + keys + R"(
)" + (practice > 0 ? "\n[[blocks]]\nkind = \"practice\"\nset = \"practice\"\ntrials = " + std::to_string(practice) + "\n"
                                           : std::string()) +
                           R"(
[[blocks]]
kind = "main"
set = "refs"
conditions = )" + conditions + "\n";
  mm::test::write_bytes(root + "/exp.toml", toml);
  return root + "/exp.toml";
}

Cli cli(const std::vector<std::string>& args, const std::string& out, int timeout_s = 240) {
  return mm::test::run_metamerlab(args, out, {}, timeout_s);
}

std::vector<std::string> run_args(const std::string& exp, const std::string& db, int participant) {
  return {"run", exp, "--participant", std::to_string(participant), "--db", db, "--windowed", "--auto", "correct"};
}

// The seed rule of seed = "participant": 52 bits of SHA-256 over the participant number
// and the reference's SHA-256, plus the attempt.
uint64_t participant_seed(int64_t participant, const std::string& ref_sha, int attempt) {
  const std::string key = "metamerlab live seed|participant " + std::to_string(participant) + "|reference " + ref_sha;
  return std::stoull(mm::data::sha256_hex(key.data(), key.size()).substr(0, 13), nullptr, 16) +
         static_cast<uint64_t>(attempt);
}

int64_t count_rows(const std::string& db, const std::string& table) {
  sqlite3* h = nullptr;
  int64_t n = 0;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, ("SELECT count(*) FROM " + table).c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return n;
}

// Every metamer trial of the session shows a passing live metamer of this participant's
// seeds, linked to that trial; fills `shown`: reference -> the shown file's SHA-256.
void check_live_trials(mm::data::Store& s, int64_t sid, int64_t participant, const std::string& db,
                       std::map<std::string, std::string>& shown) {
  std::map<int64_t, mm::data::LiveMetamer> linked;
  for (const auto& lm : s.live_metamers(sid)) linked[lm.trial_index] = lm;  // the last attempt wins
  shown.clear();
  const std::string folder = (fs::path(db).parent_path() / "live" / ("session-" + std::to_string(sid))).string();
  for (const auto& t : s.trials_of_session(sid)) {
    if (!t.is_metamer) continue;
    SCOPED_TRACE("trial " + std::to_string(t.trial_index));
    const json live = json::parse(t.timing_json).at("live");
    EXPECT_EQ(live.at("state"), "ready");
    ASSERT_TRUE(linked.count(t.trial_index));
    const mm::data::LiveMetamer& lm = linked.at(t.trial_index);
    EXPECT_EQ(live.at("metamer_id").get<int64_t>(), lm.metamer_id);
    EXPECT_TRUE(lm.metamer.passed) << lm.metamer.message;
    EXPECT_EQ(lm.metamer.png_path, t.stimulus_path);
    EXPECT_EQ(mm::data::sha256_file(t.stimulus_path), t.stimulus_sha256);
    EXPECT_EQ(lm.metamer.png_sha256, t.stimulus_sha256);
    EXPECT_EQ(lm.metamer.reference_path, t.reference_path);
    EXPECT_EQ(lm.metamer.layer, t.layer);
    EXPECT_EQ(static_cast<uint64_t>(lm.metamer.seed),
              participant_seed(participant, mm::data::sha256_file(t.reference_path), lm.attempt));
    EXPECT_EQ(t.stimulus_path.rfind(folder + "/", 0), 0u) << t.stimulus_path;
    EXPECT_NE(lm.metamer.loss_curve_json, "[]");
    shown[t.reference_path] = t.stimulus_sha256;
  }
}

TEST(Live, ScriptedSessionsShowEachParticipantsOwnPassingLiveMetamers) {
  mm::test::TempDir tmp("live_session");
  const std::string exp = make_live_lab(tmp.path, "iterations = 40\nrounds = 2\nretries = 3");
  const std::string db = tmp / "live.db";
  std::map<std::string, std::string> shown[2];
  for (int p = 1; p <= 2; ++p) {
    const Cli c = cli(run_args(exp, db, p), tmp / ("out" + std::to_string(p) + ".txt"));
    ASSERT_EQ(c.code, 0) << c.out;
    EXPECT_NE(c.out.find("live: "), std::string::npos) << c.out;
    mm::data::Store s(db);
    const auto sessions = s.list_sessions();
    ASSERT_EQ(sessions.size(), static_cast<size_t>(p));
    const auto& x = sessions.back();
    EXPECT_EQ(x.status, mm::data::SessionStatus::completed);
    EXPECT_EQ(x.answered, x.planned);
    EXPECT_EQ(x.planned, 4 + 8);
    check_live_trials(s, x.id, p, db, shown[p - 1]);
    // Every reference is shown as a conv1 metamer, or, when none of its 4 seeds passes the
    // null test, as the natural image, marked fell_back and said in a session note. (This
    // null set holds near-copies of the stripes images: a stripes metamer must match
    // closer than they do, and at 2 x 40 steps one of the two often does not.)
    int fell_back = 0;
    for (const auto& t : s.trials_of_session(x.id))
      if (t.planned_condition == "tiny-cnn/conv1" && !t.is_metamer) {
        ++fell_back;
        EXPECT_TRUE(t.fell_back) << t.trial_index;
        EXPECT_EQ(json::parse(t.timing_json).at("live").at("state"), "failed");
      }
    EXPECT_EQ(shown[p - 1].size() + fell_back, 8u) << c.out;
    EXPECT_GE(shown[p - 1].size(), 6u) << c.out;
    size_t noted = 0;
    for (size_t at = c.out.find("no passing metamer in 4 attempts"); at != std::string::npos;
         at = c.out.find("no passing metamer in 4 attempts", at + 1))
      ++noted;
    EXPECT_EQ(noted, static_cast<size_t>(fell_back)) << c.out;
  }
  // Two participants, the same references: different noise, different metamers.
  int same_reference = 0;
  for (const auto& [ref, sha] : shown[0]) {
    if (!shown[1].count(ref)) continue;
    ++same_reference;
    EXPECT_NE(sha, shown[1].at(ref)) << ref;
  }
  EXPECT_GE(same_reference, 4);
  // trace tells how a live metamer was made, and for which session and trial.
  mm::data::Store s(db);
  const auto lms = s.live_metamers(s.list_sessions()[0].id);
  ASSERT_FALSE(lms.empty());
  const Cli tr = cli({"trace", lms[0].metamer.png_path, "--db", db, "--json"}, tmp / "trace.txt");
  ASSERT_EQ(tr.code, 0) << tr.out;
  const json j = json::parse(tr.out);
  EXPECT_EQ(j.at("live").at("session"), s.list_sessions()[0].id);
  EXPECT_EQ(j.at("live").at("trial_index"), lms[0].trial_index);
  EXPECT_EQ(j.at("run").at("options").at("seed"), "participant");
  EXPECT_EQ(j.at("run").at("options").at("null_set"), "null");
  EXPECT_EQ(j.at("reference").at("path"), lms[0].metamer.reference_path);
}

// max_rounds: each live metamer goes on past `rounds`, one round at a time, until its loss
// has flattened (frozen at its own round) or the cap; the run records the schedule, and plan
// gives the per-metamer time from `rounds` to the cap.
TEST(Live, UntilConvergedMetamersStopAtTheirOwnRound) {
  mm::test::TempDir tmp("live_converged");
  const std::string exp = make_live_lab(tmp.path, "iterations = 30\nrounds = 2\nmax_rounds = 10\nretries = 3");
  const std::string db = tmp / "live.db";
  const Cli pl = cli({"plan", exp, "--participant", "1", "--summary"}, tmp / "plan.txt");
  EXPECT_EQ(pl.code, 0) << pl.out;
  EXPECT_NE(pl.out.find("(30x2 steps, then until converged up to 10 rounds)"), std::string::npos) << pl.out;
  const Cli c = cli(run_args(exp, db, 1), tmp / "out.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  mm::data::Store s(db);
  const auto x = s.list_sessions()[0];
  EXPECT_EQ(x.answered, x.planned);
  std::map<std::string, std::string> shown;
  check_live_trials(s, x.id, 1, db, shown);
  const auto lms = s.live_metamers(x.id);
  ASSERT_FALSE(lms.empty());
  std::set<int64_t> steps;
  for (const auto& lm : lms) {
    SCOPED_TRACE("trial " + std::to_string(lm.trial_index) + " attempt " + std::to_string(lm.attempt));
    const mm::data::MetamerRecord& m = lm.metamer;
    EXPECT_GE(m.iterations, 60);   // at least `rounds`
    EXPECT_LE(m.iterations, 300);  // at most the cap
    EXPECT_EQ(m.iterations % 30, 0);
    // Stopped before the cap only because its last round met the convergence rule.
    if (m.iterations > 60 && m.iterations < 300) EXPECT_EQ(m.converged, 1);
    steps.insert(m.iterations);
  }
  EXPECT_GT(*steps.rbegin(), 60) << "no metamer went on past rounds";
  const Cli tr = cli({"trace", lms[0].metamer.png_path, "--db", db, "--json"}, tmp / "trace.txt");
  ASSERT_EQ(tr.code, 0) << tr.out;
  EXPECT_EQ(json::parse(tr.out).at("run").at("options").at("until_converged_max_rounds"), 10);
}

TEST(Live, KilledSessionResumesWithoutMakingItsMetamersAgain) {
  mm::test::TempDir tmp("live_kill");
  // A slow schedule: the worker is still busy when the session is killed.
  const std::string exp = make_live_lab(tmp.path, "iterations = 300\nrounds = 2\nretries = 3");
  const std::string db = tmp / "live.db";
  const auto args = run_args(exp, db, 3);
  const int pid = mm::test::spawn_metamerlab(args, tmp / "out1.txt");
  const auto t0 = std::chrono::steady_clock::now();
  while ((count_rows(db, "live_metamers") < 3 || count_rows(db, "trials") < 5) &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(200))
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << mm::test::read_bytes(tmp / "out1.txt");
  std::map<int64_t, int64_t> before;  // trial -> metamer id of its last attempt, as made before the kill
  std::map<int64_t, bool> before_passed;  // trial -> whether that attempt passed
  std::map<std::pair<int64_t, int>, int64_t> before_attempts;  // (trial, attempt) -> metamer id
  {
    mm::data::Store s(db);
    ASSERT_EQ(s.list_sessions().size(), 1u);
    for (const auto& lm : s.live_metamers(s.list_sessions()[0].id)) {
      before[lm.trial_index] = lm.metamer_id;
      before_passed[lm.trial_index] = lm.metamer.passed;
      before_attempts[{lm.trial_index, lm.attempt}] = lm.metamer_id;
    }
    ASSERT_GE(before.size(), 3u);
    EXPECT_LT(s.trials_of_session(s.list_sessions()[0].id).size(), 12u);
  }
  const int64_t metamers_before = count_rows(db, "metamers");

  const Cli c = cli(args, tmp / "out2.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("resuming"), std::string::npos) << c.out;
  mm::data::Store s(db);
  const auto x = s.list_sessions()[0];
  EXPECT_EQ(x.status, mm::data::SessionStatus::completed);
  EXPECT_EQ(x.answered, x.planned);
  std::map<std::string, std::string> resumed_shown;
  check_live_trials(s, x.id, 3, db, resumed_shown);
  // Every attempt made before the kill is still recorded as it was; a passing one is still the
  // trial's metamer and was reused (not made again); a failed one with retries left was
  // followed by the next attempt, not redone.
  int reused = 0;
  std::map<int64_t, int64_t> after;
  std::map<std::pair<int64_t, int>, int64_t> after_attempts;
  for (const auto& lm : s.live_metamers(x.id)) {
    after[lm.trial_index] = lm.metamer_id;
    after_attempts[{lm.trial_index, lm.attempt}] = lm.metamer_id;
  }
  for (const auto& [key, id] : before_attempts) {
    ASSERT_TRUE(after_attempts.count(key)) << "trial " << key.first << " attempt " << key.second;
    EXPECT_EQ(after_attempts.at(key), id) << "trial " << key.first << " attempt " << key.second;
  }
  for (const auto& [trial, id] : before)
    if (before_passed.at(trial)) EXPECT_EQ(after.at(trial), id) << "trial " << trial;
  for (const auto& t : s.trials_of_session(x.id)) {
    if (!t.is_metamer) continue;
    const json live = json::parse(t.timing_json).at("live");
    if (before.count(t.trial_index) && live.at("reused").get<bool>()) ++reused;
  }
  EXPECT_GT(reused, 0);
  // New metamer rows only for attempts not made before the kill, each recorded for its trial.
  EXPECT_EQ(count_rows(db, "metamers") - metamers_before,
            static_cast<int64_t>(after_attempts.size() - before_attempts.size()));
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST(Live, TooSlowAScheduleWaitsOrReordersAndSaysSo) {
  for (const std::string policy : {"wait", "reorder"}) {
    SCOPED_TRACE(policy);
    mm::test::TempDir tmp("live_slow_" + policy);
    // No practice, a long schedule: the first metamer cannot be ready for the first trial.
    const std::string exp = make_live_lab(tmp.path, "iterations = 400\nrounds = 2\nwhen_late = \"" + policy + "\"",
                                          "[\"natural\", \"tiny-cnn/conv1\"]", 0);
    const std::string db = tmp / "live.db";
    // plan says so before anything starts.
    const Cli pl = cli({"plan", exp, "--participant", "1", "--summary"}, tmp / "plan.txt");
    EXPECT_EQ(pl.code, 0) << pl.out;
    EXPECT_NE(pl.out.find("ms/step"), std::string::npos) << pl.out;
    const Cli c = cli(run_args(exp, db, 1), tmp / "out.txt");
    ASSERT_EQ(c.code, 0) << c.out;
    mm::data::Store s(db);
    const auto x = s.list_sessions()[0];
    EXPECT_EQ(x.answered, x.planned);
    std::set<int64_t> indices;
    int waited = 0, reordered = 0;
    for (const auto& t : s.trials_of_session(x.id)) {
      indices.insert(t.trial_index);
      const json tj = json::parse(t.timing_json);
      if (!tj.contains("live")) continue;
      if (tj["live"].contains("waited_ms")) {
        ++waited;
        EXPECT_GT(tj["live"]["waited_ms"].get<double>(), 0);
      }
      if (tj["live"].contains("reordered")) ++reordered;
    }
    EXPECT_EQ(static_cast<int64_t>(indices.size()), x.planned);  // each trial once
    int noted = 0;
    for (const auto& ev : s.session_events(x.id))
      noted += ev.kind == "note" && ev.detail.find(policy == "wait" ? "waited" : "ran before") != std::string::npos;
    if (policy == "wait") {
      EXPECT_GT(waited, 0) << c.out;
      EXPECT_EQ(noted, waited);
    } else {
      EXPECT_GT(reordered, 0) << c.out;
      EXPECT_EQ(noted, reordered);
    }
  }
}

TEST(Live, MissingModelOrLayerIsRefusedAtValidationWithFileAndLine) {
  mm::test::TempDir tmp("live_refuse");
  const std::string exp = make_live_lab(tmp.path, "");
  std::string text = mm::test::read_bytes(exp);
  const auto line_of = [&](const std::string& t, const std::string& needle) {
    return 1 + static_cast<int>(std::count(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.find(needle)), '\n'));
  };
  std::string bad_model = text;
  // (The label kept, so the main block's conditions still name this source.)
  bad_model.replace(bad_model.find("\"zoo:tiny-cnn\""), 14, "\"zoo:no-such-net\"\nlabel = \"tiny-cnn\"");
  mm::test::write_bytes(tmp / "model.toml", bad_model);
  Cli c = cli({"plan", tmp / "model.toml", "--participant", "1"}, tmp / "m.txt");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("model.toml:" + std::to_string(line_of(bad_model, "zoo:no-such-net")) + ": "), std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find("no-such-net"), std::string::npos) << c.out;

  std::string bad_layer = text;
  bad_layer.replace(bad_layer.find("\"stage2\""), 8, "\"stage9\"");
  mm::test::write_bytes(tmp / "layer.toml", bad_layer);
  c = cli({"plan", tmp / "layer.toml", "--participant", "1"}, tmp / "l.txt");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("layer.toml:" + std::to_string(line_of(bad_layer, "stage9")) + ": "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("no layer \"stage9\""), std::string::npos) << c.out;
  // run refuses it too, before a session exists.
  c = cli(run_args(tmp / "layer.toml", tmp / "r.db", 1), tmp / "r.txt");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("no layer \"stage9\""), std::string::npos) << c.out;
  EXPECT_EQ(count_rows(tmp / "r.db", "sessions"), 0);
}

}  // namespace
