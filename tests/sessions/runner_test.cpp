// Tests of `metamerlab run` and `metamerlab sessions`: whole sessions driven by the
// scripted participant (real SDL events) on a private Xvfb, checked in the database:
// every planned trial exactly once with the scripted responses and plausible response
// times, screenshots of each phase, the demo criterion, resume after kill -9, an audio
// session through OpenAL Soft's wave-file backend, and refusal without an audio device.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sndfile.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "app/display.h"
#include "data/sha256.h"
#include "data/store.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::vector<std::string> kCats = {"boat", "cat", "dog"};

// A small image experiment: 2 references per category (64x64), a folder of metamers of
// one layer, 1 practice image per category, icons.
std::string make_image_lab(const std::string& root, const std::string& extra_blocks = "") {
  for (size_t c = 0; c < kCats.size(); ++c) {
    const std::string& cat = kCats[c];
    for (int k = 0; k < 2; ++k) {
      const std::string stem = cat + "_" + std::to_string(k) + ".png";
      mm::test::write_test_png(root + "/refs/" + cat + "/" + stem, 64, 64, 3, 100 * c + k);
      mm::test::write_test_png(root + "/syn/l1/" + cat + "/" + stem, 64, 64, 3, 700 + 100 * c + k);
    }
    mm::test::write_test_png(root + "/practice/" + cat + "/" + cat + "_p.png", 64, 64, 3, 300 + c);
    mm::test::write_test_png(root + "/icons/" + cat + ".png", 16, 16, 3, 900 + c);
  }
  const std::string toml = R"([experiment]
name = "run-images"
modality = "image"
seed = 5

[responses]
alternatives = ["boat", "cat", "dog"]
icons = "icons"

[timing]
fixation = 100
stimulus = 100
mask = 100
response = 0
iti = 50

[sets.refs]
folders = ["refs"]

[sets.practice]
folders = ["practice"]

[[metamers]]
model = "zoo:toy"
layers = ["l1"]
folder = "syn"
assume_passed = true

[[blocks]]
kind = "instructions"
text = "Hello"

[[blocks]]
kind = "practice"
set = "practice"
trials = 2

[[blocks]]
kind = "demo"
set = "practice"
trials = 3
pass_min_correct = 2

[[blocks]]
kind = "main"
set = "refs"
break_every = 4
)" + extra_blocks + R"(
[[blocks]]
kind = "debrief"
text = "Thanks"
)";
  mm::test::write_bytes(root + "/exp.toml", toml);
  return root + "/exp.toml";
}

using Cli = mm::test::Cli;

pid_t spawn(const std::vector<std::string>& args, const std::string& out_file,
            const std::vector<mm::test::EnvVar>& env = {}) {
  return mm::test::spawn_metamerlab(args, out_file, env);
}

Cli run_cli(const std::vector<std::string>& args, const std::string& out_file,
            const std::vector<mm::test::EnvVar>& env = {}, int timeout_s = 60) {
  return mm::test::run_metamerlab(args, out_file, env, timeout_s);
}

int64_t count_trials(const std::string& db) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return 0;
  }
  sqlite3_busy_timeout(h, 2000);
  sqlite3_stmt* st = nullptr;
  int64_t n = 0;
  if (sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM trials", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

std::string integrity(const std::string& db) {
  mm::data::Store s(db);
  return s.integrity_check();
}

// Every planned trial exactly once, in plan order.
void expect_complete(mm::data::Store& s, int64_t sid, int64_t planned) {
  const auto trials = s.trials_of_session(sid);
  ASSERT_EQ(static_cast<int64_t>(trials.size()), planned);
  for (int64_t i = 0; i < planned; ++i) EXPECT_EQ(trials[static_cast<size_t>(i)].trial_index, i);
}

mm::app::Image read_png(const std::string& path) {
  mm::stimuli::ImageSpec spec;
  // The screenshots are the window's size; read them at that size.
  spec.width = 800;
  spec.height = 600;
  mm::stimuli::Array a = mm::stimuli::load_image(path, spec);
  mm::app::Image img;
  img.width = 800;
  img.height = 600;
  img.rgb.resize(800 * 600 * 3);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 800 * 600; ++i)
      img.rgb[static_cast<size_t>(i) * 3 + c] =
          static_cast<uint8_t>(std::lround(a.data[static_cast<size_t>(c) * 800 * 600 + i] * 255));
  return img;
}

int grey_at(const mm::app::Image& img, int x, int y) { return img.at(x, y)[0]; }

// Distinct colours in a square around the centre.
size_t colours_near_centre(const mm::app::Image& img, int half) {
  std::set<int> s;
  for (int y = img.height / 2 - half; y < img.height / 2 + half; ++y)
    for (int x = img.width / 2 - half; x < img.width / 2 + half; ++x) {
      const uint8_t* p = img.at(x, y);
      s.insert(p[0] << 16 | p[1] << 8 | p[2]);
    }
  return s.size();
}

TEST(Runner, ScriptedImageSessionRecordsEveryPlannedTrialWithScreenshots) {
  mm::test::TempDir tmp("run_images");
  const std::string exp = make_image_lab(tmp.path);
  const std::string db = tmp / "s.db", shots = tmp / "shots";
  const std::vector<std::string> args = {"run", exp, "--participant", "2", "--code", "px-2", "--db", db,
                                         "--windowed", "--width", "800", "--height", "600", "--auto", "correct",
                                         "--screenshots", shots};
  Cli c = run_cli(args, tmp / "out.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("completed"), std::string::npos) << c.out;

  mm::data::Store s(db);
  auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  const auto& ss = sessions[0];
  EXPECT_EQ(ss.status, mm::data::SessionStatus::completed);
  EXPECT_EQ(ss.participant_code, "px-2");
  EXPECT_EQ(ss.planned, 2 + 3 + 6);
  EXPECT_EQ(ss.answered, ss.planned);
  expect_complete(s, ss.id, ss.planned);
  int metamers = 0;
  for (const auto& t : s.trials_of_session(ss.id)) {
    EXPECT_EQ(t.response, t.category) << t.trial_index;
    EXPECT_TRUE(t.correct);
    EXPECT_GE(t.rt_response_ms, 190) << t.trial_index;   // scripted delay 200-400 ms
    EXPECT_LE(t.rt_response_ms, 700) << t.trial_index;
    // From stimulus onset: stimulus (100 ms) + mask (100 ms) more.
    EXPECT_NEAR(t.rt_stimulus_ms - t.rt_response_ms, 200, 40) << t.trial_index;
    const json tj = json::parse(t.timing_json);
    for (const char* ph : {"fixation", "stimulus", "mask", "response"}) ASSERT_TRUE(tj.contains(ph)) << ph;
    EXPECT_EQ(tj["stimulus"]["frames"].get<int>(), tj["stimulus"]["frames_shown"].get<int>());
    EXPECT_NEAR(tj["stimulus"]["realized_ms"].get<double>(), 100, 10);
    EXPECT_GT(tj["mask"]["actual_s"].get<double>(), tj["stimulus"]["actual_s"].get<double>());
    metamers += t.is_metamer;
  }
  EXPECT_EQ(metamers, 3);  // half of the 6 references in the metamer condition

  // Screenshots of the first trial: fixation cross on grey, the stimulus, noise, icons.
  const auto fix = read_png(shots + "/trial0_fixation.png");
  EXPECT_LE(grey_at(fix, 400, 300), 10);                 // the cross
  EXPECT_NEAR(grey_at(fix, 20, 20), 128, 2);             // background
  EXPECT_EQ(colours_near_centre(fix, 60), 2u);           // black and grey only
  const auto stim = read_png(shots + "/trial0_stimulus.png");
  EXPECT_GT(colours_near_centre(stim, 30), 50u);         // a textured image...
  EXPECT_NEAR(grey_at(stim, 400, 300 - 40), 128, 2);     // ...of 64x64 pixels only
  const auto mask = read_png(shots + "/trial0_mask.png");
  EXPECT_GT(colours_near_centre(mask, 30), 20u);
  EXPECT_NE(colours_near_centre(mask, 30), colours_near_centre(stim, 30));
  const auto resp = read_png(shots + "/trial0_response.png");
  EXPECT_NEAR(grey_at(resp, 5, 5), 128, 2);
  EXPECT_GT(colours_near_centre(resp, 200), 10u);        // tiles, icons, labels

  // sessions --json counts; a finished participant cannot start again.
  Cli l = run_cli({"sessions", "--db", db, "--json"}, tmp / "list.txt");
  ASSERT_EQ(l.code, 0) << l.out;
  const json j = json::parse(l.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["planned"], 11);
  EXPECT_EQ(j[0]["answered"], 11);
  EXPECT_EQ(j[0]["status"], "completed");
  EXPECT_EQ(j[0]["participant_number"], 2);
  Cli again = run_cli(args, tmp / "again.txt");
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_NE(again.out.find("already"), std::string::npos) << again.out;
}

TEST(Runner, CsvPolicyMaxTrialsAndFailedDemo) {
  mm::test::TempDir tmp("run_demo_fail");
  const std::string exp = make_image_lab(tmp.path);
  const std::string db = tmp / "s.db";
  // Plan with --max-trials 2: practice 0-1, demo 2-3 (needs 2 correct), main 4-5.
  // Trial 0 answered "dog" after 250 ms; the demo trials answered wrongly.
  mm::data::Store pre(db);  // created first, so the plan can be read back below
  Cli c0 = run_cli({"plan", exp, "--participant", "1", "--json"}, tmp / "plan.txt");
  ASSERT_EQ(c0.code, 0) << c0.out;
  const json plan = json::parse(c0.out)["plan"];
  auto wrong = [&](int i) {
    const std::string cat = plan["trials"][static_cast<size_t>(i)]["category"];
    return cat == "boat" ? std::string("cat") : std::string("boat");
  };
  // Practice trials are the first two of the full plan; the demo trials after --max-trials
  // are full-plan trials 2 and 3 as well (the demo block starts at 2 in both).
  mm::test::write_bytes(tmp / "answers.csv", "trial_index,response,rt_ms\n0,dog,250\n2," + wrong(2) + ",300\n3," +
                                                 wrong(3) + ",300\n");
  Cli c = run_cli({"run", exp, "--participant", "1", "--db", db, "--windowed", "--auto", tmp / "answers.csv",
                   "--max-trials", "2"},
                  tmp / "out.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("failed_demo"), std::string::npos) << c.out;
  auto sessions = pre.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::failed_demo);
  EXPECT_EQ(sessions[0].planned, 6);
  const auto trials = pre.trials_of_session(sessions[0].id);
  ASSERT_EQ(trials.size(), 4u);  // practice + demo; the main block never ran
  EXPECT_EQ(trials[0].response, "dog");
  EXPECT_NEAR(trials[0].rt_response_ms, 250, 40);
  EXPECT_FALSE(trials[2].correct);
  EXPECT_FALSE(trials[3].correct);
}

TEST(Runner, KillNineMidSessionThenResumeRecordsEveryTrialOnce) {
  mm::test::TempDir tmp("run_kill");
  const std::string exp = make_image_lab(tmp.path);
  const std::string db = tmp / "s.db";
  const std::vector<std::string> args = {"run", exp, "--participant", "3", "--db", db, "--windowed", "--auto", "correct"};
  pid_t pid = spawn(args, tmp / "out1.txt");
  const auto t0 = std::chrono::steady_clock::now();
  while (count_trials(db) < 5 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(40))
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << mm::test::read_bytes(tmp / "out1.txt");
  const int64_t before = count_trials(db);
  EXPECT_GE(before, 5);
  EXPECT_LT(before, 11);
  EXPECT_EQ(integrity(db), "ok");

  Cli c = run_cli(args, tmp / "out2.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("resuming"), std::string::npos) << c.out;
  mm::data::Store s(db);
  auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(sessions[0].resumed, 1);
  expect_complete(s, sessions[0].id, 11);
  EXPECT_EQ(integrity(db), "ok");
}

std::vector<std::string> event_kinds(const std::string& db) {
  mm::data::Store s(db);
  std::vector<std::string> r;
  for (const auto& x : s.list_sessions())
    for (const auto& e : s.session_events(x.id)) r.push_back(e.kind);
  return r;
}

TEST(Runner, PauseAndAbortKeysThenResume) {
  mm::test::TempDir tmp("run_abort");
  const std::string exp = make_image_lab(tmp.path);
  const std::string db = tmp / "s.db";
  // Ctrl+Shift+P during trial 1 (pause before trial 2), Ctrl+Shift+Q during trial 3.
  mm::test::write_bytes(tmp / "keys.csv", "1,@pause,250\n3,@abort,250\n");
  std::vector<std::string> args = {"run", exp, "--participant", "4", "--db", db, "--windowed", "--max-trials", "2",
                                   "--auto", tmp / "keys.csv"};
  Cli c = run_cli(args, tmp / "out1.txt");
  ASSERT_EQ(c.code, 4) << c.out;
  EXPECT_NE(c.out.find("aborted at trial 3"), std::string::npos) << c.out;
  {
    mm::data::Store s(db);
    auto sessions = s.list_sessions();
    ASSERT_EQ(sessions.size(), 1u);
    EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::aborted);
    EXPECT_EQ(sessions[0].answered, 3);
  }
  const auto kinds = event_kinds(db);
  auto has = [&](const std::string& k) { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); };
  EXPECT_TRUE(has("pause"));
  EXPECT_TRUE(has("continue"));
  EXPECT_TRUE(has("abort"));
  args.back() = "correct";
  Cli c2 = run_cli(args, tmp / "out2.txt");
  ASSERT_EQ(c2.code, 0) << c2.out;
  mm::data::Store s(db);
  auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(sessions[0].resumed, 1);
  expect_complete(s, sessions[0].id, 6);
}

// A word experiment: three words, one tone per word (different pitches), 300 ms clips.
std::string make_word_lab(const std::string& root) {
  mm::test::write_tone_words(root + "/words", {"bear", "bird", "cat"}, 2);
  mm::test::write_bytes(root + "/words.toml", R"([experiment]
name = "run-words"
modality = "audio"
seed = 3

[responses]
alternatives = ["bear", "bird", "cat"]

[audio]
sample_rate = 16000
clip_ms = 300

[timing]
fixation = 100
response = 0
iti = 50

[sets.words]
folders = ["words"]

[[blocks]]
kind = "main"
set = "words"
)");
  return root + "/words.toml";
}

TEST(Runner, AudioSessionThroughWaveBackendLogsOnsets) {
  mm::test::TempDir tmp("run_words");
  const std::string exp = make_word_lab(tmp.path);
  const std::string db = tmp / "s.db", wav = tmp / "out.wav";
  mm::test::write_bytes(tmp / "alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + wav + "\n");
  Cli c = run_cli({"run", exp, "--participant", "1", "--db", db, "--windowed", "--auto", "correct"}, tmp / "out.txt",
                  {{"ALSOFT_CONF", tmp / "alsoft.conf"}, {"ALSOFT_DRIVERS", "", true}});
  ASSERT_EQ(c.code, 0) << c.out;
  mm::data::Store s(db);
  auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed);
  const auto trials = s.trials_of_session(sessions[0].id);
  ASSERT_EQ(trials.size(), 6u);
  {  // the volume screen came first and its setting was recorded
    std::vector<std::string> volume;
    for (const auto& e : s.session_events(sessions[0].id))
      if (e.kind == "note" && e.detail.rfind("volume ", 0) == 0) volume.push_back(e.detail);
    ASSERT_FALSE(volume.empty());
    EXPECT_EQ(volume[0].rfind("volume 1.000", 0), 0u);
  }

  SF_INFO info{};
  SNDFILE* f = sf_open(wav.c_str(), SFM_READ, &info);
  ASSERT_NE(f, nullptr);
  std::vector<float> inter(static_cast<size_t>(info.frames) * info.channels);
  sf_readf_float(f, inter.data(), info.frames);
  sf_close(f);
  for (const auto& t : trials) {
    EXPECT_EQ(t.response, t.category) << t.trial_index;  // typed prefix + Return completes
    EXPECT_GE(t.audio_onset_ms, -50) << t.trial_index;
    EXPECT_LE(t.audio_onset_ms, 100) << t.trial_index;
    EXPECT_GT(t.rt_stimulus_ms, t.rt_response_ms + 250) << t.trial_index;
    const json a = json::parse(t.timing_json)["audio"];
    ASSERT_EQ(a["method"], "device-clock") << t.timing_json;
    // The first sample mixed at onset_mix_ns: silence before it, the clip after it.
    const int64_t at = a["onset_mix_ns"].get<int64_t>() * info.samplerate / 1000000000LL;
    ASSERT_GT(at, 400);
    ASSERT_LT(at + 400, info.frames);
    double before = 0, after = 0;
    for (int64_t i = at - 400; i < at - 10; ++i) before += std::fabs(inter[static_cast<size_t>(i * info.channels)]);
    for (int64_t i = at + 10; i < at + 400; ++i) after += std::fabs(inter[static_cast<size_t>(i * info.channels)]);
    EXPECT_LT(before, 0.05 * after) << t.trial_index;
    // Cross-correlation with the clip's start (silence, then its tone at the output rate):
    // the best lag within +-20 ms is the logged onset, within one audio buffer.
    const std::string stem = fs::path(t.stimulus_path).stem().string();
    const size_t w = t.category == "bear" ? 0 : t.category == "bird" ? 1 : 2;
    const double hz = 300 + 200.0 * w + 50.0 * (stem.back() - '0');
    const int half = info.samplerate / 100;  // 10 ms of silence, then 10 ms of tone
    std::vector<double> ref(static_cast<size_t>(2 * half), 0.0);
    for (int i = 0; i < half; ++i) ref[static_cast<size_t>(half + i)] = std::sin(2 * M_PI * hz * i / info.samplerate);
    const int64_t search = info.samplerate / 50;
    int64_t best = -1;
    double best_score = -2;
    for (int64_t lag = std::max<int64_t>(0, at - search - half); lag <= at + search - half; ++lag) {
      if (lag + 2 * half > info.frames) break;
      double dot = 0, ex = 0, er = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        const double v = inter[static_cast<size_t>((lag + static_cast<int64_t>(i)) * info.channels)];
        dot += v * ref[i];
        ex += v * v;
        er += ref[i] * ref[i];
      }
      const double score = ex > 0 ? dot / std::sqrt(ex * er) : 0;
      if (score > best_score) best_score = score, best = lag;
    }
    const json audio = json::parse(sessions[0].id > 0 ? s.session(sessions[0].id)->session.audio_json : "{}");
    const int64_t buffer = audio.value("update_samples", 0) * info.samplerate / std::max(1, audio.value("sample_rate", 1));
    std::printf("trial %d: cross-correlation onset %lld, logged %lld (buffer %lld samples at %d Hz), score %.3f\n",
                static_cast<int>(t.trial_index), static_cast<long long>(best + half), static_cast<long long>(at),
                static_cast<long long>(buffer), info.samplerate, best_score);
    EXPECT_GT(best_score, 0.9) << t.trial_index;
    EXPECT_LE(std::llabs(best + half - at), std::max<int64_t>(buffer, 1)) << t.trial_index << ": best " << best + half
                                                                           << " logged " << at;
  }
}

TEST(Runner, RandomPolicyIsSeededAndAnswersAmongTheAlternatives) {
  mm::test::TempDir tmp("run_random");
  const std::string exp = make_word_lab(tmp.path);
  mm::test::write_bytes(tmp / "alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + (tmp / "out.wav") + "\n");
  const std::vector<mm::test::EnvVar> env = {{"ALSOFT_CONF", tmp / "alsoft.conf"}, {"ALSOFT_DRIVERS", "", true}};
  Cli c = run_cli({"run", exp, "--participant", "2", "--db", tmp / "s.db", "--windowed", "--auto", "random",
                   "--auto-seed", "9"},
                  tmp / "out.txt", env);
  ASSERT_EQ(c.code, 0) << c.out;
  mm::data::Store s(tmp / "s.db");
  const auto trials = s.trials_of_session(s.list_sessions().at(0).id);
  ASSERT_EQ(trials.size(), 6u);
  int correct = 0;
  for (const auto& t : trials) {
    EXPECT_TRUE(t.response == "bear" || t.response == "bird" || t.response == "cat") << t.response;
    EXPECT_EQ(t.correct, t.response == t.category);
    correct += t.correct;
  }
  EXPECT_LT(correct, 6);  // seed 9 answers some wrongly
}

TEST(Runner, HeadphoneCheckPassesForTheCorrectListenerAndEndsPolitelyOtherwise) {
  mm::test::TempDir tmp("run_headphones");
  const std::string exp = make_word_lab(tmp.path);
  mm::test::write_bytes(tmp / "alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + (tmp / "out.wav") + "\n");
  const std::vector<mm::test::EnvVar> env = {{"ALSOFT_CONF", tmp / "alsoft.conf"}, {"ALSOFT_DRIVERS", "", true}};
  auto args = [&](const std::string& participant, const std::string& policy) {
    return std::vector<std::string>{"run", exp, "--participant", participant, "--db", tmp / "s.db", "--windowed",
                                    "--auto", policy, "--auto-seed", "4", "--max-trials", "1", "--headphone-check",
                                    "--headphone-tone-ms", "100"};
  };
  Cli ok = run_cli(args("1", "correct"), tmp / "ok.txt", env);
  ASSERT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("headphone check: 6/6 passed"), std::string::npos) << ok.out;
  Cli bad = run_cli(args("2", "random"), tmp / "bad.txt", env);
  ASSERT_EQ(bad.code, 0) << bad.out;
  EXPECT_NE(bad.out.find("failed"), std::string::npos) << bad.out;
  mm::data::Store s(tmp / "s.db");
  for (const auto& x : s.list_sessions()) {
    EXPECT_EQ(x.status, x.participant_number == 1 ? mm::data::SessionStatus::completed : mm::data::SessionStatus::failed_demo);
    EXPECT_EQ(x.answered, x.participant_number == 1 ? 1 : 0);
  }
}

TEST(Runner, AudioExperimentRefusesWithoutDevice) {
  mm::test::TempDir tmp("run_nodev");
  const std::string exp = make_word_lab(tmp.path);
  Cli c = run_cli({"run", exp, "--participant", "1", "--db", tmp / "s.db", "--windowed", "--auto", "correct"},
                  tmp / "out.txt", {{"ALSOFT_DRIVERS", "null"}, {"ALSOFT_CONF", "", true}});
  EXPECT_EQ(c.code, 3) << c.out;
  EXPECT_NE(c.out.find("no usable audio output"), std::string::npos) << c.out;
  EXPECT_EQ(count_trials(tmp / "s.db"), 0);
}

// [SECTION] The bundled demo experiments -------------------------------------------------
// experiments/demo-images.toml and demo-words.toml end to end: the demo writes metamers of
// the trained zoo models (few steps here), the experiment file (copied next to that output
// with its sample and icon paths made absolute) validates and plans 9 conditions, and a
// scripted participant completes a pilot session of it.
std::string bundled_experiment_copy(const std::string& name, const std::string& out_parent) {
  std::string text = mm::test::read_bytes(mm::test::source_dir() + "/experiments/" + name);
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  };
  replace_all("\"../stimuli/", "\"" + mm::test::source_dir() + "/stimuli/");
  replace_all("\"icons-emoji16\"", "\"" + mm::test::source_dir() + "/experiments/icons-emoji16\"");
  fs::create_directories(out_parent + "/experiments");
  const std::string path = out_parent + "/experiments/" + name;  // ../out/... is then out_parent/out/...
  mm::test::write_bytes(path, text);
  return path;
}

// The demo's database (its metamers: the experiment's sources name no database of their
// own) copied to `db`, which the sessions then go into.
void use_demo_database(const std::string& demo_db, const std::string& db) { fs::copy_file(demo_db, db); }

void expect_nine_conditions(const std::string& exp, const std::string& dir, const std::string& db) {
  Cli p = run_cli({"plan", exp, "--participant", "1", "--json", "--db", db}, dir + "/plan.txt");
  ASSERT_EQ(p.code, 0) << p.out;
  const json plan = json::parse(p.out.substr(p.out.find('{')));
  std::set<std::string> conditions;
  int main_trials = 0, metamers = 0, fell_back = 0;
  for (const auto& t : plan["plan"]["trials"])
    if (t.value("block_kind", "") == "main" && t.value("phase", "") != "catch") {
      ++main_trials;
      conditions.insert(t.value("planned_condition", ""));
      metamers += t.value("is_metamer", false);
      fell_back += t.value("fell_back", false);
    }
  EXPECT_EQ(main_trials, 16);
  EXPECT_EQ(conditions.size(), 9u) << p.out.substr(0, 2000);  // natural + 2 models x 4 layers
  // 14 metamer trials planned; with the few steps used here many metamers fail their null
  // test, and those trials fall back to the natural stimulus, marked so.
  EXPECT_EQ(metamers + fell_back, 14) << metamers << " metamers, " << fell_back << " fell back";
}

TEST(DemoExperiments, ImagesRunEndToEndOnTheTrainedZooMetamers) {
  mm::test::TempDir tmp("demo_images");
  Cli d = run_cli({"demo", "--out", tmp / "out/demo", "--iterations", "4", "--rounds", "1", "--threads", "2"},
                  tmp / "demo.txt", {}, 600);
  ASSERT_EQ(d.code, 0) << d.out;
  const std::string exp = bundled_experiment_copy("demo-images.toml", tmp.path);
  use_demo_database(tmp / "out/demo/metamerlab.db", tmp / "s.db");
  expect_nine_conditions(exp, tmp.path, tmp / "s.db");
  Cli c = run_cli({"run", exp, "--participant", "3", "--db", tmp / "s.db", "--windowed", "--auto", "correct",
                   "--max-trials", "3"},
                  tmp / "run.txt", {}, 300);
  ASSERT_EQ(c.code, 0) << c.out;
  mm::data::Store s(tmp / "s.db");
  auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(sessions[0].answered, sessions[0].planned);
  EXPECT_GE(sessions[0].planned, 9);  // practice, demo and main, 3 each
  for (const auto& t : s.trials_of_session(sessions[0].id)) EXPECT_EQ(t.response, t.category) << t.trial_index;
}

TEST(DemoExperiments, WordsRunEndToEndOnTheTrainedZooMetamers) {
  mm::test::TempDir tmp("demo_words");
  Cli d = run_cli({"demo", "--modality", "audio", "--out", tmp / "out/demo-words", "--iterations", "2", "--rounds",
                   "1", "--threads", "2"},
                  tmp / "demo.txt", {}, 900);
  ASSERT_EQ(d.code, 0) << d.out;
  const std::string exp = bundled_experiment_copy("demo-words.toml", tmp.path);
  use_demo_database(tmp / "out/demo-words/metamerlab.db", tmp / "s.db");
  expect_nine_conditions(exp, tmp.path, tmp / "s.db");
  mm::test::write_bytes(tmp / "alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + (tmp / "out.wav") + "\n");
  Cli c = run_cli({"run", exp, "--participant", "2", "--db", tmp / "s.db", "--windowed", "--auto", "correct",
                   "--max-trials", "2", "--headphone-tone-ms", "100"},
                  tmp / "run.txt", {{"ALSOFT_CONF", tmp / "alsoft.conf"}, {"ALSOFT_DRIVERS", "", true}}, 300);
  ASSERT_EQ(c.code, 0) << c.out;
  mm::data::Store s(tmp / "s.db");
  auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed) << c.out;
  EXPECT_EQ(sessions[0].answered, sessions[0].planned);
}

// The live versions need nothing synthesized first: a scripted pilot (3 trials per block)
// in which the worker makes the main block's first metamers with the bundled models at the
// experiment's own schedule while practice and demo run; each live trial shows a recorded
// live metamer of that session or, when it failed its null test, the natural stimulus
// marked fell_back.
void expect_live_pilot(const std::string& name, const std::string& dir, int participant,
                       const std::vector<std::string>& extra, const std::vector<mm::test::EnvVar>& env) {
  const std::string exp = bundled_experiment_copy(name, dir);
  std::vector<std::string> args = {"run", exp, "--participant", std::to_string(participant), "--db", dir + "/s.db", "--windowed", "--auto",
                                   "correct", "--max-trials", "3"};
  args.insert(args.end(), extra.begin(), extra.end());
  Cli c = run_cli(args, dir + "/run.txt", env, 600);
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("live: "), std::string::npos) << c.out;
  mm::data::Store s(dir + "/s.db");
  auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed) << c.out;
  EXPECT_EQ(sessions[0].answered, sessions[0].planned);
  std::map<int64_t, mm::data::LiveMetamer> linked;
  for (const auto& lm : s.live_metamers(sessions[0].id)) linked[lm.trial_index] = lm;
  int live_trials = 0;
  for (const auto& t : s.trials_of_session(sessions[0].id)) {
    const json tj = json::parse(t.timing_json);
    // (A trial run ahead of a late one, when_late = "reorder", records that under "live" too.)
    if (!tj.contains("live") || !tj["live"].contains("state")) continue;
    ++live_trials;
    if (t.is_metamer) {
      ASSERT_TRUE(linked.count(t.trial_index)) << t.trial_index;
      EXPECT_TRUE(linked[t.trial_index].metamer.passed);
      EXPECT_EQ(mm::data::sha256_file(t.stimulus_path), t.stimulus_sha256);
    } else {
      EXPECT_TRUE(t.fell_back) << t.trial_index;
    }
  }
  EXPECT_GE(live_trials, 1) << c.out;
}

TEST(DemoExperiments, LiveImagesRunOnAFreshCheckout) {
  mm::test::TempDir tmp("demo_images_live");
  expect_live_pilot("demo-images-live.toml", tmp.path, 2, {}, {});
}

TEST(DemoExperiments, LiveWordsRunOnAFreshCheckout) {
  mm::test::TempDir tmp("demo_words_live");
  mm::test::write_bytes(tmp / "alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + (tmp / "out.wav") + "\n");
  // (Participant 3's first main trials are live: words16-standard/conv1, words16-robust/stage2.)
  expect_live_pilot("demo-words-live.toml", tmp.path, 3, {"--headphone-tone-ms", "100"},
                    {{"ALSOFT_CONF", tmp / "alsoft.conf"}, {"ALSOFT_DRIVERS", "", true}});
}

}  // namespace
