// Tests for the store's experiment records (schema version 2): participants, sessions,
// trials and session events round-trip field by field; the resume queries; the refusals
// (duplicate or out-of-plan trials, finished sessions, names as participant codes); the
// migration of a version-1 database, which keeps its rows; and a session killed while
// adding trials keeps every committed trial.
//
// Sections
//   [SECTION] Helpers
//   [SECTION] Schema        v2 tables, migration from v1
//   [SECTION] Sessions      round trips, resume, finish, events, listing
//   [SECTION] Refusals
//   [SECTION] Crashes
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "data/store.h"
#include "tests/data/store_fixtures.h"
#include "tests/testutil.h"

namespace {

using namespace mm::data;
using namespace mm::data::testing;
using mm::data::testing::expect_same;  // next to this file's own overloads

// [SECTION] Helpers -----------------------------------------------------------------------
SessionRecord sample_session(const std::string& code = "P007", int64_t number = 3, int64_t planned = 20) {
  SessionRecord s;
  s.participant_code = code;
  s.participant_number = number;
  s.experiment_path = "/exp/demo-images.toml";
  s.experiment_sha256 = "expsha-" + code;
  s.experiment_name = "demo-images";
  s.plan_json = R"({"format":"metamerlab-plan/1","trials":[1,2,3]})";
  s.planned_trials = planned;
  s.seed = 1234567890123LL;
  s.station = "lab-pc-2";
  s.display_json = R"({"refresh_hz":59.95,"width":1920})";
  s.audio_json = R"({"device":"wave"})";
  s.program_version = "0.1.0+test";
  return s;
}

// Every field set, and differently for each k.
TrialRecord sample_trial(int64_t session, int k) {
  TrialRecord t;
  t.session_id = session;
  t.trial_index = k;
  t.block = 2 + k % 3;
  t.block_kind = k % 2 ? "main" : "practice";
  t.phase = k % 4 == 3 ? "catch" : t.block_kind;
  t.index_in_block = 10 + k;
  t.condition = k % 3 == 0 ? "natural" : "tiny-cnn/conv" + std::to_string(k);
  t.planned_condition = "tiny-cnn/stage" + std::to_string(k);
  t.category = "disc" + std::to_string(k);
  t.reference_path = "/ref/" + std::to_string(k) + ".png";
  t.stimulus_path = "/stim/" + std::to_string(k) + ".png";
  t.stimulus_sha256 = "sha" + std::to_string(k);
  t.model = "zoo:tiny-cnn" + std::to_string(k);
  t.layer = "layer" + std::to_string(k);
  t.is_metamer = k % 2 == 1;
  t.fell_back = k % 3 == 2;
  t.alternatives_json = R"(["checker","disc","ring","stripes"])";
  t.response = k % 5 == 4 ? "" : "ring" + std::to_string(k);
  t.correct = k % 2 == 0;
  t.rt_response_ms = k % 5 == 4 ? -1 : 512.25 + k;
  t.rt_stimulus_ms = k % 5 == 4 ? -1 : 1112.5 + k;
  t.timing_json = R"({"fixation":{"frames":18},"k":)" + std::to_string(k) + "}";
  t.dropped_frames = k % 3;
  t.audio_onset_ms = k % 2 ? 2.75 + k : -1;
  return t;
}

void expect_same(const TrialRecord& a, const TrialRecord& b) {
  EXPECT_EQ(a.session_id, b.session_id);
  EXPECT_EQ(a.trial_index, b.trial_index);
  EXPECT_EQ(a.block, b.block);
  EXPECT_EQ(a.block_kind, b.block_kind);
  EXPECT_EQ(a.phase, b.phase);
  EXPECT_EQ(a.index_in_block, b.index_in_block);
  EXPECT_EQ(a.condition, b.condition);
  EXPECT_EQ(a.planned_condition, b.planned_condition);
  EXPECT_EQ(a.category, b.category);
  EXPECT_EQ(a.reference_path, b.reference_path);
  EXPECT_EQ(a.stimulus_path, b.stimulus_path);
  EXPECT_EQ(a.stimulus_sha256, b.stimulus_sha256);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.layer, b.layer);
  EXPECT_EQ(a.is_metamer, b.is_metamer);
  EXPECT_EQ(a.fell_back, b.fell_back);
  EXPECT_EQ(a.alternatives_json, b.alternatives_json);
  EXPECT_EQ(a.response, b.response);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.rt_response_ms, b.rt_response_ms);
  EXPECT_EQ(a.rt_stimulus_ms, b.rt_stimulus_ms);
  EXPECT_EQ(a.timing_json, b.timing_json);
  EXPECT_EQ(a.dropped_frames, b.dropped_frames);
  EXPECT_EQ(a.audio_onset_ms, b.audio_onset_ms);
}

void expect_same(const SessionRecord& a, const SessionRecord& b) {
  EXPECT_EQ(a.participant_code, b.participant_code);
  EXPECT_EQ(a.participant_number, b.participant_number);
  EXPECT_EQ(a.experiment_path, b.experiment_path);
  EXPECT_EQ(a.experiment_sha256, b.experiment_sha256);
  EXPECT_EQ(a.experiment_name, b.experiment_name);
  EXPECT_EQ(a.plan_json, b.plan_json);
  EXPECT_EQ(a.planned_trials, b.planned_trials);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.station, b.station);
  EXPECT_EQ(a.display_json, b.display_json);
  EXPECT_EQ(a.audio_json, b.audio_json);
  EXPECT_EQ(a.program_version, b.program_version);
}

int64_t count(Store& s, const std::string& sql) { return q_int(s.handle(), sql); }

// [SECTION] Schema ------------------------------------------------------------------------
TEST(SessionSchema, VersionTwoTables) {
  mm::test::TempDir tmp("sess-schema");
  Store s(tmp / "m.db");
  EXPECT_GE(Store::latest_schema_version(), 2);
  for (const char* t : {"participants", "sessions", "trials", "session_events"})
    EXPECT_EQ(count(s, std::string("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='") + t + "'"), 1) << t;
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('trials')"), "sessions");
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('sessions') WHERE \"from\" = 'participant_id'"),
            "participants");  // (v3 adds observer_model_id -> models)
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('session_events')"), "sessions");
  // UNIQUE (session_id, trial_index) gives the per-session look-ups their index.
  EXPECT_EQ(count(s, "SELECT count(*) FROM sqlite_master WHERE type='index' AND tbl_name='trials' AND "
                     "name LIKE 'sqlite_autoindex_trials_%'"),
            1);
  EXPECT_EQ(count(s, "SELECT count(*) FROM sqlite_master WHERE name='sessions_by_experiment'"), 1);
}

TEST(SessionSchema, MigrationFromV1KeepsRows) {
  mm::test::TempDir tmp("sess-migrate");
  const std::string db = tmp / "v1.db";
  int64_t run = 0;
  {
    StoreOptions o;
    o.migrate_to = 1;
    o.program_version = "old";
    Store s(db, o);
    ASSERT_EQ(s.schema_version(), 1);
    EXPECT_EQ(count(s, "SELECT count(*) FROM sqlite_master WHERE name='sessions'"), 0);
    int64_t model = s.upsert_model(sample_model());
    run = s.begin_synth_run(sample_run(model));
    for (int k = 0; k < 4; ++k) s.add_metamer(sample_metamer(run, k));
    s.add_null(sample_null(model, 1));
  }
  StoreOptions o;
  o.program_version = "new";
  Store s(db, o);
  EXPECT_EQ(s.schema_version(), Store::latest_schema_version());
  EXPECT_EQ(q_text(s.handle(), "PRAGMA integrity_check"), "ok");
  auto ms = s.metamers_of_run(run);
  ASSERT_EQ(ms.size(), 4u);
  for (int k = 0; k < 4; ++k) expect_same(ms[k], sample_metamer(run, k));
  EXPECT_EQ(count(s, "SELECT count(*) FROM null_distributions"), 1);
  EXPECT_EQ(q_text(s.handle(), "SELECT value FROM meta WHERE key='created_by'"), "metamerlab old");
  EXPECT_EQ(q_text(s.handle(), "SELECT substr(value, 1, 14) FROM meta WHERE key='schema_v2_applied_by'"),
            "metamerlab new");
  // The new tables work on the migrated file.
  int64_t id = s.create_session(sample_session());
  s.add_trial(sample_trial(id, 0));
  EXPECT_EQ(s.answered_trial_indices(id), std::vector<int64_t>{0});
}

TEST(SessionSchema, ModelsAndMetamersOfModel) {
  mm::test::TempDir tmp("sess-models");
  Store s(tmp / "m.db");
  int64_t a = s.upsert_model(sample_model("a"));
  int64_t b = s.upsert_model(sample_model("b"));
  int64_t ra = s.begin_synth_run(sample_run(a)), rb = s.begin_synth_run(sample_run(b));
  for (int k = 0; k < 10; ++k) s.add_metamer(sample_metamer(k % 2 ? ra : rb, k));
  auto models = s.models();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].first, a);
  EXPECT_EQ(models[0].second.spec, sample_model("a").spec);
  EXPECT_EQ(models[1].second.sha256, sample_model("b").sha256);
  // sample_metamer's layer is conv(k % 5); run a holds the odd k, run b the even k, so at
  // conv1 model a has k = 1 and model b has k = 6.
  auto m = s.metamers_of_model(a, "conv1");
  ASSERT_EQ(m.size(), 1u);
  expect_same(m[0], sample_metamer(ra, 1));
  auto mb = s.metamers_of_model(b, "conv1");
  ASSERT_EQ(mb.size(), 1u);
  expect_same(mb[0], sample_metamer(rb, 6));
  EXPECT_TRUE(s.metamers_of_model(a, "nope").empty());
}

// [SECTION] Sessions ----------------------------------------------------------------------
TEST(Sessions, RoundTrip) {
  mm::test::TempDir tmp("sess-rt");
  Store s(tmp / "m.db");
  const SessionRecord r = sample_session();
  const int64_t id = s.create_session(r);
  for (int k : {0, 1, 2, 5, 7}) s.add_trial(sample_trial(id, k));
  auto info = s.session(id);
  ASSERT_TRUE(info);
  expect_same(info->session, r);
  EXPECT_EQ(info->status, mm::data::SessionStatus::running);
  EXPECT_EQ(info->ended_at, "");
  EXPECT_EQ(info->resumed, 0);
  EXPECT_EQ(info->answered, 5);
  EXPECT_GT(info->participant_id, 0);
  auto trials = s.trials_of_session(id);
  ASSERT_EQ(trials.size(), 5u);
  int i = 0;
  for (int k : {0, 1, 2, 5, 7}) expect_same(trials[i++], sample_trial(id, k));
  // No response: NULL times in the table, -1 when read.
  EXPECT_EQ(count(s, "SELECT count(*) FROM trials WHERE rt_response_ms IS NULL"), 0);
  s.add_trial(sample_trial(id, 4));
  EXPECT_EQ(count(s, "SELECT count(*) FROM trials WHERE rt_response_ms IS NULL AND trial_index = 4"), 1);
  EXPECT_EQ(s.trials_of_session(id)[3].rt_response_ms, -1);
  // A start event was recorded with the session.
  EXPECT_EQ(q_text(s.handle(), "SELECT group_concat(kind) FROM session_events WHERE session_id = " + std::to_string(id)),
            "start");
  EXPECT_FALSE(s.session(id + 100));
}

TEST(Sessions, ResumeQueries) {
  mm::test::TempDir tmp("sess-resume");
  const std::string db = tmp / "m.db";
  int64_t first = 0, second = 0;
  {
    Store s(db);
    first = s.create_session(sample_session("P1", 4, 10));
    s.create_session(sample_session("P2", 5, 10));  // another participant number
    for (int k = 0; k < 3; ++k) s.add_trial(sample_trial(first, k));
    s.finish_session(first, mm::data::SessionStatus::aborted);
  }
  Store s(db);  // a new program run
  auto found = s.find_session("expsha-P1", 4);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, first);
  EXPECT_EQ(found->status, mm::data::SessionStatus::aborted);
  EXPECT_FALSE(found->ended_at.empty());
  EXPECT_EQ(s.answered_trial_indices(first), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_FALSE(s.find_session("expsha-P1", 5));
  EXPECT_FALSE(s.find_session("other", 4));

  s.resume_session(first, 3);
  s.add_trial(sample_trial(first, 3));
  auto again = s.session(first);
  EXPECT_EQ(again->status, mm::data::SessionStatus::running);
  EXPECT_EQ(again->resumed, 1);
  EXPECT_EQ(again->ended_at, "");
  EXPECT_EQ(q_text(s.handle(), "SELECT group_concat(kind || ':' || ifnull(trial_index, '-'), ' ') FROM "
                               "(SELECT * FROM session_events WHERE session_id = " + std::to_string(first) + " ORDER BY id)"),
            "start:- abort:- resume:3");
  s.add_session_event(first, "pause", 4, "key combination");
  s.add_session_event(first, "continue", 4, "");
  EXPECT_EQ(count(s, "SELECT count(*) FROM session_events WHERE session_id = " + std::to_string(first)), 5);

  // The latest session of a participant number wins.
  second = s.create_session(sample_session("P1", 4, 10));
  EXPECT_EQ(s.find_session("expsha-P1", 4)->id, second);
  EXPECT_TRUE(s.answered_trial_indices(second).empty());
}

TEST(Sessions, FinishAndList) {
  mm::test::TempDir tmp("sess-list");
  Store s(tmp / "m.db");
  int64_t a = s.create_session(sample_session("P1", 1, 6));
  int64_t b = s.create_session(sample_session("P2", 2, 8));
  EXPECT_EQ(s.upsert_participant("P1"), s.session(a)->participant_id);  // same code, same row
  for (int k = 0; k < 6; ++k) s.add_trial(sample_trial(a, k));
  s.add_trial(sample_trial(b, 0));
  s.finish_session(a, mm::data::SessionStatus::completed);
  s.finish_session(b, mm::data::SessionStatus::failed_demo);
  auto l = s.list_sessions();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].id, a);
  EXPECT_EQ(l[0].participant_code, "P1");
  EXPECT_EQ(l[0].participant_number, 1);
  EXPECT_EQ(l[0].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(l[0].planned, 6);
  EXPECT_EQ(l[0].answered, 6);
  EXPECT_EQ(l[0].experiment_name, "demo-images");
  EXPECT_FALSE(l[0].ended_at.empty());
  EXPECT_EQ(l[1].status, mm::data::SessionStatus::failed_demo);
  EXPECT_EQ(l[1].planned, 8);
  EXPECT_EQ(l[1].answered, 1);
  EXPECT_EQ(count(s, "SELECT count(*) FROM session_events WHERE kind = 'demo_failed'"), 1);
  EXPECT_EQ(count(s, "SELECT count(*) FROM session_events WHERE kind = 'complete'"), 1);
  EXPECT_EQ(count(s, "SELECT count(*) FROM participants"), 2);
}

// [SECTION] Refusals ----------------------------------------------------------------------
TEST(SessionRefusals, TrialsOutsideThePlanOrTwice) {
  mm::test::TempDir tmp("sess-refuse");
  Store s(tmp / "m.db");
  int64_t id = s.create_session(sample_session("P1", 1, 5));
  s.add_trial(sample_trial(id, 2));
  expect_error([&] { s.add_trial(sample_trial(id, 2)); }, {"m.db", "trial 2", "already recorded", "resume"});
  expect_error([&] { s.add_trial(sample_trial(id, 5)); }, {"plan has trials 0 to 4"});
  expect_error([&] { s.add_trial(sample_trial(id, -1)); }, {"plan has trials 0 to 4"});
  expect_error([&] { s.add_trial(sample_trial(id + 9, 0)); }, {"no session with id"});
  EXPECT_EQ(s.answered_trial_indices(id), std::vector<int64_t>{2});
  s.finish_session(id, mm::data::SessionStatus::completed);
  expect_error([&] { s.add_trial(sample_trial(id, 3)); }, {"session is completed", "resume it first"});
  expect_error([&] { s.resume_session(id, 3); }, {"session is completed", "new session"});
  expect_error([&] { s.finish_session(id, mm::data::parse_session_status("done")); }, {"'done'", "session status"});
  expect_error([&] { s.add_session_event(id, "lunch", -1, ""); }, {"kind 'lunch'"});
  EXPECT_EQ(count(s, "SELECT count(*) FROM trials"), 1);
}

TEST(SessionRefusals, NamesAreNotCodes) {
  mm::test::TempDir tmp("sess-codes");
  Store s(tmp / "m.db");
  for (const char* bad : {"John Smith", "", "a/b", "x\ny"})
    expect_error([&] { s.create_session(sample_session(bad)); }, {"pseudonymous code", "never a name"});
  expect_error([&] { s.upsert_participant(std::string(65, 'a')); }, {"pseudonymous code"});
  expect_error([&] { s.create_session(sample_session("P1", 0)); }, {"participant number 0"});
  EXPECT_EQ(count(s, "SELECT count(*) FROM participants"), 0);
  EXPECT_EQ(count(s, "SELECT count(*) FROM sessions"), 0);
  EXPECT_GT(s.upsert_participant("P-01_a.b"), 0);
}

// [SECTION] Crashes -----------------------------------------------------------------------
// The child answers trials as fast as it can, reporting each committed one through a pipe;
// the parent kills it at an arbitrary moment. Every reported trial is there, exactly once,
// the indices are 0..n-1 without gaps, and the file is intact.
TEST(SessionCrashes, KilledSessionKeepsCommittedTrials) {
  mm::test::TempDir tmp("sess-kill");
  const std::string db = tmp / "m.db";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      Store s(db);
      int64_t id = s.create_session(sample_session("P1", 1, 1000000));
      for (int k = 0;; ++k) {
        s.add_trial(sample_trial(id, k));
        int32_t done = k + 1;
        if (::write(fds[1], &done, sizeof done) != sizeof done) ::_exit(3);
      }
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(fds[1]);
  int32_t reported = 0, v = 0;
  while (reported < 40 && ::read(fds[0], &v, sizeof v) == sizeof v) reported = v;
  ::kill(pid, SIGKILL);
  while (::read(fds[0], &v, sizeof v) == sizeof v) reported = v;
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  Store s(db);
  EXPECT_EQ(q_text(s.handle(), "PRAGMA integrity_check"), "ok");
  auto id = s.find_session("expsha-P1", 1);
  ASSERT_TRUE(id);
  auto done = s.answered_trial_indices(id->id);
  ASSERT_GE(done.size(), static_cast<size_t>(reported));
  ASSERT_LE(done.size(), static_cast<size_t>(reported) + 1);  // one may commit before its report
  for (size_t k = 0; k < done.size(); ++k) EXPECT_EQ(done[k], static_cast<int64_t>(k));
  auto trials = s.trials_of_session(id->id);
  for (size_t k = 0; k < trials.size(); ++k) expect_same(trials[k], sample_trial(id->id, static_cast<int>(k)));
}

}  // namespace
