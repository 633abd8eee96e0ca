// Tests of analysis/results.h on hand-made data: proportions counted by the condition shown
// (fell-back trials are natural, counted per planned condition), the models on the same
// trials, catch-trial exclusion, sessions that did not finish, model observers kept apart,
// the ANOVAs built from the right matrices, network-to-network means and SEMs, Spearman's
// rho, and the report's text, JSON and figures.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "analysis/results.h"
#include "analysis/stats.h"
#include "tests/testutil.h"

namespace {

using namespace mm::analysis;
namespace fs = std::filesystem;

const char* kStd = "zoo:std";
const char* kRob = "zoo:rob";

ResultTrial trial(const std::string& phase, const std::string& cond, bool correct, bool std_ok, bool rob_ok,
                  double rt = 500, bool fell_back = false, const std::string& planned = "") {
  ResultTrial t;
  t.phase = phase;
  t.condition = cond;
  t.planned_condition = planned.empty() ? cond : planned;
  t.fell_back = fell_back;
  t.correct = correct;
  t.rt_ms = rt;
  t.judged = {{kStd, std_ok}, {kRob, rob_ok}};
  return t;
}

// Conditions natural, std/l1, std/l2, rob/l1, rob/l2. Participant p (1..4) gets, per
// condition, 4 trials of which k(p, c) are correct; the standard model gets all of its own
// layer-1 metamers right, half at layer 2.
ResultInput input(int participants = 4) {
  ResultInput in;
  in.experiment = "toy";
  in.alternatives = 4;
  in.conditions = {{"natural", "", ""}, {"std/l1", kStd, "l1"}, {"std/l2", kStd, "l2"}, {"rob/l1", kRob, "l1"}, {"rob/l2", kRob, "l2"}};
  in.judging_models = {kStd, kRob};
  for (int p = 1; p <= participants; ++p) {
    ResultSession s;
    s.id = p;
    s.participant_number = p;
    s.status = "completed";
    const int k[] = {4, 3, 1 + (p % 2), 4 - (p % 2), 2 + (p % 3 == 0)};
    for (size_t c = 0; c < in.conditions.size(); ++c)
      for (int i = 0; i < 4; ++i)
        s.trials.push_back(trial("main", in.conditions[c].name, i < k[c], c != 2 || i < 2, true, 400 + 100 * i));
    for (int i = 0; i < 4; ++i) s.trials.push_back(trial("catch", "catch", p != 4 || i == 0, true, true));
    s.trials.push_back(trial("practice", "natural", false, false, false));  // practice: kept apart
    in.sessions.push_back(s);
  }
  return in;
}

TEST(Results, ProportionsByTheConditionShown) {
  ResultInput in = input(2);
  // Participant 1's first std/l2 trial fell back: shown natural, correct.
  auto& t = in.sessions[0].trials[8];
  ASSERT_EQ(t.condition, "std/l2");
  t = trial("main", "natural", true, true, true, 450, true, "std/l2");
  AnalysisOptions o;
  o.permutations = 0;
  const AnalysisReport r = analyze(in, o);
  ASSERT_EQ(r.participants.size(), 2u);
  const ParticipantRow& p1 = r.participants[0];
  EXPECT_EQ(p1.trials.at("natural"), 5);
  EXPECT_DOUBLE_EQ(p1.human.at("natural"), 5.0 / 5);
  EXPECT_EQ(p1.trials.at("std/l2"), 3);
  EXPECT_DOUBLE_EQ(p1.human.at("std/l2"), 1.0 / 3);  // k = 2 of 4, the first (correct) fell back
  EXPECT_DOUBLE_EQ(p1.catch_accuracy, 1.0);
  EXPECT_EQ(p1.catch_trials, 4);
  // The standard model on the same trials: std/l2 trials 1 and 2 (of the three left) right.
  EXPECT_DOUBLE_EQ(p1.models.at(kStd).at("std/l2"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(p1.models.at(kRob).at("std/l2"), 1.0);
  const ConditionSummary& c = r.conditions[2];
  ASSERT_EQ(c.condition.name, "std/l2");
  EXPECT_EQ(c.fell_back, 1);
  EXPECT_EQ(c.trials, 7);
  EXPECT_EQ(r.conditions[0].trials, 9);
  EXPECT_EQ(c.human.n, 2);
  // participant 2: k = 1 + 0 = 1 of 4 -> 0.25; participant 1: 1/3.
  EXPECT_NEAR(c.human.mean, (1.0 / 3 + 0.25) / 2, 1e-12);
  EXPECT_NEAR(c.human.sem, sem({1.0 / 3, 0.25}), 1e-12);
  EXPECT_LE(c.human.ci_low, c.human.mean);
  EXPECT_GE(c.human.ci_high, c.human.mean);
  EXPECT_DOUBLE_EQ(r.chance, 0.25);
}

TEST(Results, CatchExclusionUnfinishedSessionsAndObservers) {
  ResultInput in = input(4);
  ResultSession failed = in.sessions[0];
  failed.id = 10, failed.participant_number = 10, failed.status = "failed_demo";
  ResultSession aborted = in.sessions[1];
  aborted.id = 11, aborted.participant_number = 11, aborted.status = "aborted";
  ResultSession observer = in.sessions[2];
  observer.id = 12, observer.observer = kStd;
  in.sessions.push_back(failed);
  in.sessions.push_back(aborted);
  in.sessions.push_back(observer);
  AnalysisOptions o;
  o.permutations = 0;
  o.exclude_catch_below = 0.5;  // participant 4 got 1 of 4 catch trials
  const AnalysisReport r = analyze(in, o);
  EXPECT_EQ(r.people, 6);
  EXPECT_EQ(r.observers, 1);
  EXPECT_EQ(r.completed, 4);
  EXPECT_EQ(r.failed_demo, 1);
  EXPECT_EQ(r.aborted, 1);
  EXPECT_EQ(r.included, 3);
  EXPECT_EQ(r.excluded, 1);
  ASSERT_EQ(r.participants.size(), 4u);
  EXPECT_TRUE(r.participants[3].excluded);
  EXPECT_NE(r.participants[3].exclusion.find("0.25"), std::string::npos) << r.participants[3].exclusion;
  EXPECT_EQ(r.conditions[0].human.n, 3);  // excluded and unfinished sessions are not in the means
  ASSERT_EQ(r.observer_rows.size(), 1u);
  EXPECT_EQ(r.observer_names[0], kStd);
  // Without the rule, all four.
  o.exclude_catch_below = -1;
  EXPECT_EQ(analyze(in, o).included, 4);
}

TEST(Results, MedianResponseTimePerCondition) {
  const AnalysisReport r = analyze(input(2), AnalysisOptions{0});
  EXPECT_DOUBLE_EQ(r.conditions[1].median_rt_ms, 550);  // 400..700 for every participant
}

// The mixed ANOVA uses humans (rows 0..N-1) against the generating model on the same trials
// (rows N..2N-1) over that model's layers; the two-way between models with the same layers.
TEST(Results, AnovasUseThePapersMatrices) {
  AnalysisOptions o;
  o.permutations = 200;
  o.seed = 3;
  const ResultInput in = input(4);
  const AnalysisReport r = analyze(in, o);
  const AnovaReport* mixed = nullptr;
  const AnovaReport* two = nullptr;
  for (const auto& a : r.anovas) {
    if (a.kind == "mixed" && a.title.find("humans vs std") == 0) mixed = &a;
    if (a.kind == "rm2") two = &a;
  }
  ASSERT_NE(mixed, nullptr);
  ASSERT_NE(two, nullptr);
  Matrix m(8, 2);
  std::vector<int> g(8);
  for (int p = 0; p < 4; ++p) {
    m(p, 0) = r.participants[p].human.at("std/l1");
    m(p, 1) = r.participants[p].human.at("std/l2");
    m(4 + p, 0) = r.participants[p].models.at(kStd).at("std/l1");
    m(4 + p, 1) = r.participants[p].models.at(kStd).at("std/l2");
    g[p] = 0, g[4 + p] = 1;
  }
  EXPECT_DOUBLE_EQ(m(4, 0), 1.0);
  EXPECT_DOUBLE_EQ(m(4, 1), 0.5);
  PermutationOptions po;
  po.draws = 0;
  const MixedAnovaResult direct = mixed_anova(m, g, po);
  ASSERT_EQ(mixed->effects.size(), 3u);
  EXPECT_DOUBLE_EQ(mixed->effects[2].f, direct.interaction.f);
  EXPECT_DOUBLE_EQ(mixed->effects[2].partial_eta2, direct.interaction.partial_eta2);
  EXPECT_DOUBLE_EQ(mixed->effects[0].f, direct.observer.f);
  EXPECT_EQ(mixed->effects[2].draws, 200);
  EXPECT_GT(mixed->effects[2].p, 0);
  EXPECT_LE(mixed->effects[2].p, 1);
  Array3 a(4, 2, 2);
  for (int p = 0; p < 4; ++p) {
    a(p, 0, 0) = r.participants[p].human.at("std/l1");
    a(p, 1, 0) = r.participants[p].human.at("std/l2");
    a(p, 0, 1) = r.participants[p].human.at("rob/l1");
    a(p, 1, 1) = r.participants[p].human.at("rob/l2");
  }
  const TwoWayRmResult t = rm_anova_two_way(a, po);
  EXPECT_DOUBLE_EQ(two->effects[1].f, t.model.f);
  EXPECT_DOUBLE_EQ(two->effects[2].f, t.interaction.f);
  // Reproducible for a seed.
  const AnalysisReport again = analyze(in, o);
  EXPECT_EQ(again.anovas[0].effects[2].p, r.anovas[0].effects[2].p);
  // Too few participants: the test is skipped with a reason, not run on nothing.
  const AnalysisReport one = analyze(input(1), o);
  EXPECT_FALSE(one.anovas[0].note.empty());
  EXPECT_TRUE(one.anovas[0].effects.empty());
}

TEST(Results, NetworkToNetworkAndItsRhoWithPeople) {
  ResultInput in = input(3);
  // std's metamers: robust recognizes l1 3/4, l2 1/4; std itself all. rob's: std recognizes 4/4, 2/4.
  auto add = [&](const std::string& g, const std::string& l, const std::string& j, std::vector<int> c) {
    for (size_t i = 0; i < c.size(); ++i) in.network.push_back({g, l, j, g + l + std::to_string(i), c[i] != 0});
  };
  add(kStd, "l1", kRob, {1, 1, 1, 0});
  add(kStd, "l2", kRob, {1, 0, 0, 0});
  add(kStd, "l1", kStd, {1, 1, 1, 1});
  add(kStd, "l2", kStd, {1, 1, 1, 1});
  add(kRob, "l1", kStd, {1, 1, 1, 1});
  add(kRob, "l2", kStd, {1, 1, 0, 0});
  const AnalysisReport r = analyze(in, AnalysisOptions{0});
  ASSERT_EQ(r.network.size(), 4u);
  const NetworkCell& c = r.network[0];
  EXPECT_EQ(c.condition, "std/l1");
  EXPECT_DOUBLE_EQ(c.by_model.at(kRob).mean, 0.75);
  EXPECT_DOUBLE_EQ(c.others.mean, 0.75);  // the generating model is not among the others
  EXPECT_EQ(c.others.n, 1);
  EXPECT_NEAR(c.by_model.at(kRob).sem, bootstrap_sem_proportion({1, 1, 1, 0}, 1000, 0), 0.08);
  EXPECT_GT(c.by_model.at(kRob).sem, 0.1);
  EXPECT_EQ(c.by_model.at(kStd).sem, 0);  // all correct: no spread
  EXPECT_EQ(r.network_points, 4);
  std::vector<double> hx, ny;
  for (const auto& n : r.network) hx.push_back(n.human), ny.push_back(n.others.mean);
  EXPECT_DOUBLE_EQ(r.network_spearman, spearman(hx, ny));
}

TEST(Results, ReportTextJsonAndFigures) {
  ResultInput in = input(3);
  in.network.push_back({kStd, "l1", kRob, "a", true});
  in.network.push_back({kStd, "l2", kRob, "b", false});
  in.network.push_back({kRob, "l1", kStd, "c", true});
  in.network.push_back({kRob, "l2", kStd, "d", true});
  AnalysisOptions o;
  o.permutations = 100;
  const AnalysisReport r = analyze(in, o);
  const std::string text = report_text(r);
  EXPECT_NE(text.find("| std/l2 |"), std::string::npos) << text;
  EXPECT_NE(text.find("observer x layer"), std::string::npos) << text;
  EXPECT_NE(text.find("Spearman"), std::string::npos) << text;
  const auto j = nlohmann::json::parse(report_json(r));
  EXPECT_EQ(j["participants"].size(), 3u);
  EXPECT_EQ(j["conditions"].size(), 5u);
  EXPECT_EQ(j["conditions"][1]["condition"], "std/l1");
  EXPECT_DOUBLE_EQ(j["participants"][0]["proportion_correct"]["std/l1"].get<double>(), 0.75);
  mm::test::TempDir tmp("results-figures");
  const auto files = write_report_figures(r, tmp / "fig");
  ASSERT_EQ(files.size(), 6u);
  for (const auto& f : files) {
    EXPECT_TRUE(fs::exists(f)) << f;
    EXPECT_GT(fs::file_size(f), 1000u) << f;
  }
}

TEST(Results, BadOptionsRefused) {
  AnalysisOptions o;
  o.permutations = -1;
  EXPECT_THROW(analyze(input(2), o), std::invalid_argument);
  o.permutations = 0;
  o.exclude_catch_below = 2;
  EXPECT_THROW(analyze(input(2), o), std::invalid_argument);
}

}  // namespace
