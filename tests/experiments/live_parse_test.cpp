// Live sources in experiment files (generate = "live"): their settings parse, bad values
// are refused at their line, keys of one kind of source are refused on the other, the plan
// marks live trials (no stimulus until the session makes it, the reference kept) and keeps
// the mark through its stored JSON, and validation runs the engine's check when it is given
// one (and notes that it could not otherwise).
#include <gtest/gtest.h>

#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;

// The standard experiment with its source made live.
std::string live_toml(const std::string& live_keys) {
  std::string t = standard_toml();
  replace(t, "database = \"lab.db\"", "generate = \"live\"\n" + live_keys);
  replace(t, "MAIN_EXTRA", "");
  return t;
}

TEST(LiveSources, SettingsParseAndDefaults) {
  Lab lab("live-parse");
  Experiment e = load_experiment(lab.write(live_toml(
      "iterations = 40\nrounds = 3\nmax_rounds = 9\nstep = 0.5\noptimizer = \"adam\"\nloss = \"mse\"\nseed = 17\n"
      "null_set = \"practice\"\nretries = 4\nwhen_late = \"reorder\"")));
  ASSERT_EQ(e.sources.size(), 1u);
  const MetamerSource& s = e.sources[0];
  EXPECT_TRUE(s.live);
  EXPECT_EQ(s.live_settings.iterations, 40);
  EXPECT_EQ(s.live_settings.rounds, 3);
  EXPECT_EQ(s.live_settings.max_rounds, 9);
  EXPECT_DOUBLE_EQ(s.live_settings.step, 0.5);
  EXPECT_EQ(s.live_settings.optimizer, "adam");
  EXPECT_EQ(s.live_settings.loss, "mse");
  EXPECT_FALSE(s.live_settings.participant_seed);
  EXPECT_EQ(s.live_settings.seed, 17u);
  EXPECT_EQ(s.live_settings.null_set, "practice");
  EXPECT_EQ(s.live_settings.retries, 4);
  EXPECT_EQ(s.live_settings.when_late, "reorder");
  EXPECT_TRUE(e.metamers.empty());  // nothing to look up: the session makes them

  Experiment d = load_experiment(lab.write(live_toml("")));
  const LiveSettings& ls = d.sources[0].live_settings;
  EXPECT_TRUE(ls.participant_seed);
  EXPECT_EQ(ls.iterations, 250);
  EXPECT_EQ(ls.rounds, 4);
  EXPECT_EQ(ls.max_rounds, 0);
  EXPECT_EQ(ls.retries, 2);
  EXPECT_EQ(ls.when_late, "wait");
  EXPECT_TRUE(ls.null_set.empty());
}

TEST(LiveSources, BadValuesAreRefusedAtTheirLine) {
  Lab lab("live-errors");
  struct Case {
    std::string keys, at, part;
  } cases[] = {
      {"iterations = 0", "iterations = 0", "out of range"},
      {"rounds = 100", "rounds = 100", "out of range"},
      {"rounds = 5\nmax_rounds = 4", "max_rounds = 4", "below rounds"},
      {"max_rounds = 1001", "max_rounds = 1001", "out of range"},
      {"step = -1.0", "step = -1.0", "step must be positive"},
      {"optimizer = \"sgd\"", "optimizer = \"sgd\"", "\"gd\" or \"adam\""},
      {"loss = \"l1\"", "loss = \"l1\"", "\"l2norm\" or \"mse\""},
      {"seed = \"random\"", "seed = \"random\"", "\"participant\""},
      {"seed = -3", "seed = -3", "whole number of 0 or more"},
      {"null_set = \"nope\"", "null_set = \"nope\"", "not a [sets.NAME]"},
      {"retries = 99", "retries = 99", "out of range"},
      {"when_late = \"skip\"", "when_late = \"skip\"", "\"wait\""},
      {"database = \"lab.db\"", "database = \"lab.db\"", "for metamers made ahead"},
  };
  for (const auto& c : cases) {
    const std::string t = live_toml(c.keys);
    const std::string p = lab.write(t);
    SCOPED_TRACE(c.keys);
    expect_located([&] { load_experiment(p); }, p, line_with(t, c.at), {c.part});
  }
  // generate must be live or ahead; live settings need generate = "live".
  std::string t = standard_toml();
  replace(t, "MAIN_EXTRA", "");
  std::string g = t;
  replace(g, "database = \"lab.db\"", "database = \"lab.db\"\ngenerate = \"later\"");
  std::string p = lab.write(g);
  expect_located([&] { load_experiment(p); }, p, line_with(g, "generate = \"later\""), {"\"live\""});
  std::string r = t;
  replace(r, "database = \"lab.db\"", "database = \"lab.db\"\nretries = 2");
  p = lab.write(r);
  expect_located([&] { load_experiment(p); }, p, line_with(r, "retries = 2"), {"setting of live generation"});
}

TEST(LiveSources, PlanMarksLiveTrialsAndKeepsTheMarkInItsJson) {
  Lab lab("live-plan");
  Experiment e = load_experiment(lab.write(live_toml("")));
  const Plan plan = make_plan(e, 1);
  int live = 0;
  for (const auto& t : plan.trials) {
    if (t.condition.rfind("toy/", 0) != 0) {
      EXPECT_FALSE(t.live);
      continue;
    }
    ++live;
    EXPECT_TRUE(t.live);
    EXPECT_TRUE(t.is_metamer);
    EXPECT_FALSE(t.fell_back);
    EXPECT_TRUE(t.stimulus.empty());
    EXPECT_FALSE(t.reference.empty());
    EXPECT_EQ(t.model, "zoo:toy");
  }
  EXPECT_GT(live, 0);
  const Plan back = plan_from_json(plan_to_json(plan), e.dir);
  ASSERT_EQ(back.trials.size(), plan.trials.size());
  for (size_t i = 0; i < plan.trials.size(); ++i) EXPECT_EQ(back.trials[i].live, plan.trials[i].live) << i;
  EXPECT_EQ(plan_to_json(back), plan_to_json(plan));
  // The same participant always gets the same plan; live or not does not change it.
  EXPECT_EQ(plan_to_json(make_plan(e, 1)), plan_to_json(plan));
}

TEST(LiveSources, ValidationRunsTheEngineCheckOrSaysItCouldNot) {
  Lab lab("live-validate");
  const std::string t = live_toml("");
  Experiment e = load_experiment(lab.write(t));
  ValidateOptions vo;
  vo.load_files = false;
  const Validation without = validate_experiment(e, vo);
  EXPECT_TRUE(without.ok());
  bool noted = false;
  for (const auto& i : without.issues) noted = noted || i.message.find("live sources are checked") != std::string::npos;
  EXPECT_TRUE(noted);
  int calls = 0;
  vo.live_check = [&](const Experiment& x, double hz) {
    ++calls;
    EXPECT_EQ(&x, &e);
    EXPECT_DOUBLE_EQ(hz, 60.0);
    return std::vector<Issue>{{true, x.file, 7, "\"zoo:toy\" has no layer \"l9\""}};
  };
  const Validation with = validate_experiment(e, vo);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(with.ok());
  ASSERT_FALSE(with.errors().empty());
  EXPECT_NE(with.errors()[0].find(":7: "), std::string::npos) << with.errors()[0];
  // No "no passing metamer" notes for live conditions: they have none until the session.
  for (const auto& i : with.issues) EXPECT_EQ(i.message.find("no passing metamer"), std::string::npos) << i.message;
}

}  // namespace
