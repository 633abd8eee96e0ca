// Tests for trial planning: the plan is a pure function (same inputs, same JSON); the
// Latin square (a rotation group of C participants sees every reference in every
// condition exactly once; consecutive participants shift by one condition); balance
// within a participant (and within each category); fallback marking; the max_run
// constraint over many seeds; practice/demo/catch draws; breaks; the JSON round trip and
// the summary's counts and duration estimate.
//
// Sections
//   [SECTION] Helpers
//   [SECTION] Purity
//   [SECTION] Latin square and balance
//   [SECTION] Fallback
//   [SECTION] Shuffle constraint
//   [SECTION] Other blocks
//   [SECTION] JSON and summary
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;

// [SECTION] Helpers -----------------------------------------------------------------------
std::vector<PlannedTrial> of_block(const Plan& p, BlockKind kind) {
  std::vector<PlannedTrial> out;
  for (const auto& b : p.blocks)
    if (b.kind == kind)
      for (int i = b.first_trial; i < b.first_trial + b.trials; ++i) out.push_back(p.trials[i]);
  return out;
}

// reference -> planned condition, for the main block's reference trials.
std::map<std::string, std::string> assignment(const Plan& p) {
  std::map<std::string, std::string> m;
  for (const auto& t : of_block(p, BlockKind::main))
    if (t.phase == "main") m[t.reference] = t.planned_condition;
  return m;
}

int longest_run(const std::vector<PlannedTrial>& ts) {
  int best = 0, run = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    run = i > 0 && ts[i].planned_condition == ts[i - 1].planned_condition ? run + 1 : 1;
    best = std::max(best, run);
  }
  return best;
}

// [SECTION] Purity ------------------------------------------------------------------------
TEST(Plan, PureFunctionOfExperimentParticipantSeed) {
  Lab lab("plan-pure");
  const std::string path = lab.write(lab.standard("max_run = 2\ncatch = 4"));
  const Experiment e1 = load_experiment(path);
  const Experiment e2 = load_experiment(path);
  const std::string a = plan_to_json(make_plan(e1, 3, 99));
  EXPECT_EQ(a, plan_to_json(make_plan(e1, 3, 99)));
  EXPECT_EQ(a, plan_to_json(make_plan(e2, 3, 99)));  // a fresh load gives the same plan
  EXPECT_NE(a, plan_to_json(make_plan(e1, 4, 99)));
  EXPECT_NE(a, plan_to_json(make_plan(e1, 3, 100)));
  // The default session seed is the experiment's seed.
  EXPECT_EQ(plan_to_json(make_plan(e1, 2)), plan_to_json(make_plan(e1, 2, 11)));
  // The session seed reorders trials but never changes the Latin-square assignment.
  const Plan s1 = make_plan(e1, 3, 1), s2 = make_plan(e1, 3, 2);
  EXPECT_EQ(assignment(s1), assignment(s2));
  std::vector<std::string> o1, o2;
  for (const auto& t : of_block(s1, BlockKind::main)) o1.push_back(t.stimulus);
  for (const auto& t : of_block(s2, BlockKind::main)) o2.push_back(t.stimulus);
  EXPECT_NE(o1, o2);
  EXPECT_THROW(make_plan(e1, 0, 1), std::invalid_argument);
}

TEST(Plan, IndicesAndBlocksAreConsistent) {
  Lab lab("plan-index");
  const Experiment e = load_experiment(lab.write(lab.standard("catch = 4")));
  const Plan p = make_plan(e, 1);
  ASSERT_EQ(p.blocks.size(), e.blocks.size());
  int next = 0;
  for (const auto& b : p.blocks) {
    EXPECT_EQ(b.first_trial, next);
    for (int i = 0; i < b.trials; ++i) {
      const PlannedTrial& t = p.trials[b.first_trial + i];
      EXPECT_EQ(t.index, b.first_trial + i);
      EXPECT_EQ(t.block, b.index);
      EXPECT_EQ(t.index_in_block, i);
      EXPECT_EQ(t.block_kind, block_kind_name(b.kind));
    }
    next += b.trials;
  }
  EXPECT_EQ(next, static_cast<int>(p.trials.size()));
  EXPECT_EQ(p.blocks[0].trials, 0);  // instructions
  EXPECT_EQ(p.blocks[0].text, "hello");
}

// [SECTION] Latin square and balance ------------------------------------------------------
TEST(Plan, RotationGroupSeesEveryReferenceInEveryCondition) {
  Lab lab("plan-latin");
  const Experiment e = load_experiment(lab.write(lab.standard()));
  const int C = static_cast<int>(e.conditions.size());
  ASSERT_EQ(C, 4);
  for (int group = 0; group < 3; ++group) {
    std::map<std::string, std::multiset<std::string>> seen;
    for (int p = group * C + 1; p <= group * C + C; ++p) {
      const Plan plan = make_plan(e, p, 5);
      EXPECT_EQ(plan.blocks[3].rotation_group, group);
      EXPECT_EQ(plan.blocks[3].rotation_offset, (p - 1) % C);
      const auto a = assignment(plan);
      ASSERT_EQ(a.size(), 40u);  // each reference exactly once per participant
      for (const auto& [ref, c] : a) seen[ref].insert(c);
    }
    ASSERT_EQ(seen.size(), 40u);
    for (const auto& [ref, conds] : seen)
      EXPECT_EQ(conds, (std::multiset<std::string>{"natural", "toy/l1", "toy/l2", "toy/l3"})) << ref;
  }
}

TEST(Plan, ConsecutiveParticipantsShiftByOneCondition) {
  Lab lab("plan-shift");
  const Experiment e = load_experiment(lab.write(lab.standard()));
  std::vector<std::string> conds;
  for (const auto& c : e.conditions) conds.push_back(c.name);
  auto index = [&](const std::string& c) { return std::find(conds.begin(), conds.end(), c) - conds.begin(); };
  const auto a1 = assignment(make_plan(e, 1)), a2 = assignment(make_plan(e, 2)), a4 = assignment(make_plan(e, 4));
  for (const auto& [ref, c] : a1) {
    EXPECT_EQ(index(a2.at(ref)), (index(c) + 1) % 4) << ref;
    EXPECT_EQ(index(a4.at(ref)), (index(c) + 3) % 4) << ref;
  }
}

TEST(Plan, ConditionsBalancedWithinParticipantAndCategory) {
  for (int per_cat : {7, 10, 3}) {
    Lab lab("plan-balance", per_cat);
    for (const std::string extra : {"", "conditions = [\"natural\", \"toy/l1\", \"toy/l3\"]"}) {
      const Experiment e = load_experiment(lab.write(lab.standard(extra)));
      for (int p = 1; p <= 8; ++p) {
        const Plan plan = make_plan(e, p, 17);
        std::map<std::string, int> total;
        std::map<std::string, std::map<std::string, int>> by_cat;
        for (const auto& c : plan.blocks[3].conditions) total[c] = 0;
        for (const auto& t : of_block(plan, BlockKind::main)) {
          total[t.planned_condition]++;
          by_cat[t.category][t.planned_condition]++;
        }
        auto spread = [&](const std::map<std::string, int>& m) {
          int lo = 1 << 30, hi = 0;
          for (const auto& c : plan.blocks[3].conditions) {
            int n = m.count(c) ? m.at(c) : 0;
            lo = std::min(lo, n), hi = std::max(hi, n);
          }
          return hi - lo;
        };
        SCOPED_TRACE("per_cat " + std::to_string(per_cat) + " participant " + std::to_string(p) + " " + extra);
        EXPECT_LE(spread(total), 1);
        for (const auto& [cat, m] : by_cat) EXPECT_LE(spread(m), 1) << cat;
      }
    }
  }
}

// [SECTION] Fallback ----------------------------------------------------------------------
TEST(Plan, FailedOrMissingMetamersFallBackToNatural) {
  Lab lab("plan-fallback");
  const Experiment e = load_experiment(lab.write(lab.standard()));
  int fell = 0, metamers = 0;
  for (int p = 1; p <= 4; ++p) {
    for (const auto& t : of_block(make_plan(e, p), BlockKind::main)) {
      const std::string cat = t.category;
      const int k = std::stoi(t.reference.substr(t.reference.rfind('_') + 1));
      EXPECT_EQ(t.reference, lab.ref(cat, k));
      const bool unavailable = (t.planned_condition == "toy/l3" && Lab::l3_fails(k)) ||
                               (t.planned_condition == "toy/l2" && Lab::l2_missing(k));
      if (t.planned_condition == "natural" || unavailable) {
        EXPECT_EQ(t.fell_back, unavailable);
        EXPECT_EQ(t.condition, "natural");
        EXPECT_FALSE(t.is_metamer);
        EXPECT_EQ(t.stimulus, t.reference);
        EXPECT_EQ(t.stimulus_sha256, mm::data::sha256_file(t.reference));
        EXPECT_EQ(t.model, "");
        fell += unavailable;
      } else {
        const std::string layer = t.planned_condition.substr(4);
        EXPECT_FALSE(t.fell_back);
        EXPECT_TRUE(t.is_metamer);
        EXPECT_EQ(t.condition, t.planned_condition);
        EXPECT_EQ(t.stimulus, lab.metamer(layer, cat, k));
        EXPECT_EQ(t.stimulus_sha256, mm::data::sha256_file(t.stimulus));
        EXPECT_EQ(t.model, "zoo:toy");
        EXPECT_EQ(t.layer, layer);
        ++metamers;
      }
    }
  }
  // Over a rotation group every (reference, condition) pair occurs once: 4 categories x
  // (4 failing l3 + 1 missing l2) fall back; the rest of 3 x 40 are metamers.
  EXPECT_EQ(fell, 4 * (4 + 1));
  EXPECT_EQ(metamers, 3 * 40 - fell);
}

// [SECTION] Shuffle constraint ------------------------------------------------------------
TEST(Plan, MaxRunHoldsForEverySeedAndParticipant) {
  Lab lab("plan-maxrun");
  struct Case {
    std::string extra;
    int max_run;
  } cases[] = {
      {"max_run = 1\ncatch = 4", 1},
      {"max_run = 2\nconditions = [\"natural\", \"toy/l1\"]", 2},
      {"max_run = 1\nconditions = [\"natural\", \"toy/l1\"]", 1},  // must alternate exactly
      {"max_run = 3\ncatch = 10\nconditions = [\"toy/l2\", \"toy/l3\"]", 3},
  };
  for (const auto& c : cases) {
    const Experiment e = load_experiment(lab.write(lab.standard(c.extra)));
    ASSERT_TRUE(validate_experiment(e).ok()) << c.extra;
    for (int p = 1; p <= 6; ++p)
      for (uint64_t seed = 0; seed < 8; ++seed) {
        const auto main = of_block(make_plan(e, p, seed), BlockKind::main);
        EXPECT_LE(longest_run(main), c.max_run) << c.extra << " p " << p << " seed " << seed;
      }
  }
  // Without the constraint long runs do occur (the check above is not vacuous).
  const Experiment free = load_experiment(lab.write(lab.standard("conditions = [\"natural\", \"toy/l1\"]")));
  int longest = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) longest = std::max(longest, longest_run(of_block(make_plan(free, 1, seed), BlockKind::main)));
  EXPECT_GT(longest, 2);
}

TEST(Plan, ImpossibleMaxRunIsLocated) {
  Lab lab("plan-maxrun-bad");
  const std::string t = lab.standard("max_run = 2\nconditions = [\"natural\"]\ncatch = 1");
  const std::string path = lab.write(t);
  const Experiment e = load_experiment(path);
  const Validation v = validate_experiment(e);
  const Issue* i = find_issue(v, "max_run = 2 cannot hold", true);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->line, line_with(t, "max_run = 2"));
  expect_located([&] { make_plan(e, 1); }, path, line_with(t, "max_run = 2"), {"max_run = 2 cannot hold"});
}

// [SECTION] Other blocks ------------------------------------------------------------------
TEST(Plan, PracticeDemoAndCatchDraws) {
  Lab lab("plan-draws");
  const Experiment e = load_experiment(lab.write(lab.standard("catch = 6")));
  for (int p = 1; p <= 5; ++p) {
    const Plan plan = make_plan(e, p, 3);
    const auto practice = of_block(plan, BlockKind::practice);
    ASSERT_EQ(practice.size(), 4u);
    std::map<std::string, int> cats;
    std::set<std::string> files;
    for (const auto& t : practice) {
      cats[t.category]++;
      files.insert(t.stimulus);
      EXPECT_TRUE(t.feedback);
      EXPECT_EQ(t.phase, "practice");
      EXPECT_EQ(t.condition, "natural");
      EXPECT_EQ(t.stimulus.find(lab.root + "/practice/"), 0u);
      EXPECT_EQ(t.timing.stimulus_ms, 300);
    }
    EXPECT_EQ(cats, (std::map<std::string, int>{{"boat", 1}, {"car", 1}, {"cat", 1}, {"dog", 1}}));
    EXPECT_EQ(files.size(), 4u);
    const auto demo = of_block(plan, BlockKind::demo);
    ASSERT_EQ(demo.size(), 8u);
    cats.clear();
    files.clear();
    for (const auto& t : demo) {
      cats[t.category]++;
      files.insert(t.stimulus);
      EXPECT_FALSE(t.feedback);
    }
    EXPECT_EQ(cats, (std::map<std::string, int>{{"boat", 2}, {"car", 2}, {"cat", 2}, {"dog", 2}}));
    EXPECT_EQ(files.size(), 8u);  // drawn without replacement
    for (const auto& t : practice) EXPECT_EQ(files.count(t.stimulus), 0u) << "demo repeats a practice stimulus";
    EXPECT_EQ(plan.blocks[2].pass_min_correct, 5);
    // The catch block: one trial per alternative, showing its icon.
    const auto catches = of_block(plan, BlockKind::catch_trials);
    ASSERT_EQ(catches.size(), 4u);
    cats.clear();
    for (const auto& t : catches) {
      cats[t.category]++;
      EXPECT_EQ(t.phase, "catch");
      EXPECT_EQ(t.condition, "catch");
      EXPECT_EQ(t.stimulus, lab.root + "/icons/" + t.category + ".png");
      EXPECT_EQ(t.reference, "");
    }
    EXPECT_EQ(cats.size(), 4u);
    // Catch trials mixed into the main block: 6 cycle through the 4 alternatives.
    cats.clear();
    int main_refs = 0;
    for (const auto& t : of_block(plan, BlockKind::main)) {
      if (t.phase == "catch") {
        cats[t.category]++;
        EXPECT_EQ(t.stimulus, lab.root + "/icons/" + t.category + ".png");
        EXPECT_EQ(t.block_kind, "main");
      } else {
        ++main_refs;
      }
    }
    EXPECT_EQ(main_refs, 40);
    int n = 0;
    for (const auto& [c, k] : cats) {
      EXPECT_TRUE(k == 1 || k == 2) << c;
      n += k;
    }
    EXPECT_EQ(n, 6);
  }
}

TEST(Plan, BreaksEveryNTrials) {
  Lab lab("plan-breaks");
  const Experiment e = load_experiment(lab.write(lab.standard("break_every = 12\ncatch = 4")));
  const auto main = of_block(make_plan(e, 2), BlockKind::main);
  ASSERT_EQ(main.size(), 44u);
  for (const auto& t : main) EXPECT_EQ(t.break_before, t.index_in_block == 12 || t.index_in_block == 24 || t.index_in_block == 36);
}

// [SECTION] JSON and summary --------------------------------------------------------------
TEST(Plan, JsonRoundTripWithRelativePaths) {
  Lab lab("plan-json");
  const Experiment e = load_experiment(lab.write(lab.standard("catch = 4\nmax_run = 2\nbreak_every = 10")));
  const Plan p = make_plan(e, 6, 42);
  const std::string text = plan_to_json(p);
  EXPECT_EQ(text.find(lab.root), std::string::npos) << "paths must be relative to the experiment";
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["format"], "metamerlab-plan/1");
  EXPECT_EQ(j["participant"], 6);
  EXPECT_EQ(j["seed"], 42);
  EXPECT_EQ(j["design_seed"], 11);
  EXPECT_EQ(j["experiment"]["sha256"], e.sha256);
  EXPECT_EQ(j["trials"].size(), p.trials.size());
  EXPECT_EQ(j["trials"][p.blocks[1].first_trial]["stimulus"].get<std::string>().rfind("practice/", 0), 0u);

  const Plan back = plan_from_json(text, lab.root);
  EXPECT_EQ(plan_to_json(back), text);
  ASSERT_EQ(back.trials.size(), p.trials.size());
  for (size_t i = 0; i < p.trials.size(); ++i) {
    EXPECT_EQ(back.trials[i].stimulus, p.trials[i].stimulus);
    EXPECT_EQ(back.trials[i].reference, p.trials[i].reference);
    EXPECT_EQ(back.trials[i].fell_back, p.trials[i].fell_back);
  }
  EXPECT_EQ(back.experiment_path, e.path);
  EXPECT_EQ(back.alternatives[2].icon, e.alternatives[2].icon);
  EXPECT_THROW(plan_from_json("{\"format\":\"other\"}", lab.root), std::runtime_error);
  EXPECT_THROW(plan_from_json("not json", lab.root), std::runtime_error);
  EXPECT_THROW(plan_from_json("{\"format\":\"metamerlab-plan/1\"}", lab.root), std::runtime_error);
}

TEST(Plan, SummaryCountsAndDuration) {
  Lab lab("plan-summary");
  const Experiment e = load_experiment(lab.write(lab.standard("catch = 4\nbreak_every = 20")));
  const Plan p = make_plan(e, 1);
  const PlanSummary s = summarize_plan(p);
  EXPECT_EQ(s.trials, static_cast<int>(p.trials.size()));
  EXPECT_EQ(s.trials, 4 + 8 + 44 + 4);
  ASSERT_EQ(s.blocks.size(), 6u);
  EXPECT_EQ(s.blocks[3].by_condition.at("catch"), 4);
  int sum = 0;
  for (const auto& [c, n] : s.blocks[3].by_condition) sum += n;
  EXPECT_EQ(sum, 44);
  EXPECT_EQ(s.blocks[3].breaks, 2);
  int fell = 0;
  for (const auto& t : p.trials) fell += t.fell_back;
  EXPECT_EQ(s.blocks[3].fell_back, fell);
  // Practice: 4 x (300 + 300 + 300 + 1500 + 500 + 1000 feedback) ms, no text screen.
  EXPECT_NEAR(s.blocks[1].seconds, 4 * 3.9, 1e-9);
  EXPECT_NEAR(s.blocks[0].seconds, 30, 1e-9);  // an instructions screen
  double total = 0;
  for (const auto& b : s.blocks) total += b.seconds;
  EXPECT_NEAR(s.seconds, total, 1e-9);
}

}  // namespace
