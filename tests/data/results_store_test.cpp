// Tests of the store's schema v3: a version-2 database migrates with its sessions kept
// (people's, no observer); trial and metamer judgments are recorded once per key (a second
// add of the same keys adds nothing); a model observer's sessions are its own keyspace,
// apart from people's with the same participant number.
#include <gtest/gtest.h>

#include "data/store.h"
#include "tests/data/store_fixtures.h"
#include "tests/testutil.h"

namespace {

using namespace mm::data;
using namespace mm::data::testing;

SessionRecord session(int64_t number, const std::string& code) {
  SessionRecord r;
  r.participant_code = code;
  r.participant_number = number;
  r.experiment_path = "/x/exp.toml";
  r.experiment_sha256 = std::string(64, 'e');
  r.experiment_name = "exp";
  r.plan_json = "{}";
  r.planned_trials = 4;
  return r;
}

TEST(ResultsSchema, VersionTwoMigratesWithSessionsKept) {
  mm::test::TempDir tmp("results-migrate");
  const std::string db = tmp / "v2.db";
  int64_t sid = 0;
  {
    StoreOptions o;
    o.migrate_to = 2;
    Store s(db, o);
    ASSERT_EQ(s.schema_version(), 2);
    // Rows as a version-2 program wrote them (this program writes version 3).
    ASSERT_EQ(raw_exec(s.handle(),
                       "INSERT INTO participants (id, code, created_at) VALUES (1, 'P1', 'then');"
                       "INSERT INTO sessions (id, participant_id, participant_number, experiment_path, experiment_sha256,"
                       " experiment_name, plan_json, planned_trials, seed, station, display_json, audio_json,"
                       " program_version, started_at, status, resumed) VALUES (7, 1, 1, '/x/exp.toml', 'e', 'exp', '{}',"
                       " 4, 0, 'lab', '{}', '{}', 'old', 'then', 'running', 0);"
                       "INSERT INTO trials (session_id, trial_index, block, block_kind, phase, index_in_block, condition,"
                       " planned_condition, category, reference_path, stimulus_path, stimulus_sha256, model, layer,"
                       " is_metamer, fell_back, alternatives_json, response, correct, timing_json, dropped_frames,"
                       " answered_at) VALUES (7, 0, 0, 'main', 'main', 0, 'natural', 'natural', 'a', '', '', '', '', '',"
                       " 0, 0, '[]', 'a', 1, '{}', 0, 'then');"),
              SQLITE_OK);
    sid = 7;
  }
  Store s(db);
  EXPECT_EQ(s.schema_version(), Store::latest_schema_version());
  EXPECT_EQ(s.integrity_check(), "ok");
  const auto info = s.session(sid);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->observer, "");
  EXPECT_EQ(info->session.observer_model_id, 0);
  EXPECT_EQ(info->answered, 1);
  EXPECT_FALSE(s.trials_of_session(sid)[0].answered_at.empty());
}

TEST(ResultsSchema, JudgmentsAreRecordedOncePerKey) {
  mm::test::TempDir tmp("results-judgments");
  Store s(tmp / "j.db");
  const int64_t sid = s.create_session(session(1, "P1"));
  const int64_t model = s.upsert_model(sample_model());
  std::vector<TrialJudgment> js;
  for (int k = 0; k < 3; ++k) js.push_back({sid, k, model, "sha" + std::to_string(k), R"(["a","b"])", k ? "a" : "b", k != 0});
  EXPECT_EQ(s.add_trial_judgments(js), 3);
  EXPECT_EQ(s.add_trial_judgments(js), 0);  // again: nothing new
  js.push_back({sid, 3, model, "sha3", R"(["a","b"])", "a", true});
  EXPECT_EQ(s.add_trial_judgments(js), 1);
  EXPECT_EQ(s.judged_trials(sid, model), (std::vector<int64_t>{0, 1, 2, 3}));
  const auto back = s.trial_judgments(sid);
  ASSERT_EQ(back.size(), 4u);
  EXPECT_EQ(back[0].predicted, "b");
  EXPECT_FALSE(back[0].correct);
  EXPECT_EQ(back[1].alternatives_json, R"(["a","b"])");
  std::vector<MetamerJudgment> ms = {{std::string(64, 'e'), "m/l1", "zoo:m", "l1", "r1", "s1", "a", model, "a", true},
                                     {std::string(64, 'e'), "m/l2", "zoo:m", "l2", "r1", "s2", "a", model, "b", false}};
  EXPECT_EQ(s.add_metamer_judgments(ms), 2);
  EXPECT_EQ(s.add_metamer_judgments(ms), 0);
  EXPECT_EQ(s.judged_metamers(std::string(64, 'e'), model).size(), 2u);
  const auto mb = s.metamer_judgments(std::string(64, 'e'));
  ASSERT_EQ(mb.size(), 2u);
  EXPECT_EQ(mb[1].condition, "m/l2");
  EXPECT_FALSE(mb[1].correct);
  ASSERT_TRUE(s.model(model));
  EXPECT_EQ(s.model(model)->spec, sample_model().spec);
}

TEST(ResultsSchema, ModelObserversHaveTheirOwnSessions) {
  mm::test::TempDir tmp("results-observer");
  Store s(tmp / "o.db");
  const int64_t person = s.create_session(session(1, "P1"));
  const ModelRecord m = sample_model();
  const int64_t model = s.upsert_model(m);
  SessionRecord r = session(1, "model-a");
  r.observer_model_id = model;
  const int64_t observer = s.create_session(r);
  EXPECT_EQ(s.find_session(std::string(64, 'e'), 1)->id, person);
  EXPECT_EQ(s.find_session(std::string(64, 'e'), 1, model)->id, observer);
  EXPECT_EQ(s.find_model_id(m.spec, m.sha256), model);
  EXPECT_FALSE(s.find_model_id(m.spec, std::string(64, '0')));
  const auto list = s.list_sessions();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].observer, "");
  EXPECT_EQ(list[1].observer, m.spec);
}

}  // namespace
