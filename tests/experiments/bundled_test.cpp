// Tests of the two bundled experiment files, copied into a scratch tree with the bundled
// sample (stimuli/samples) and a database recording metamers of the two zoo models of the
// modality as `metamerlab demo` does (written here without torch, the standard model's
// logits failing, paths recorded relative to the working folder). Each must load,
// validate and plan the paper's structure. (tests/app runs both for real, end to end.)
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "data/sha256.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;
namespace fs = std::filesystem;

int count_phase(const Plan& p, BlockKind kind, const std::string& phase) {
  int n = 0;
  for (const auto& t : p.trials)
    if (p.blocks[t.block].kind == kind && t.phase == phase) ++n;
  return n;
}

const char* kStdLogits = "emoji16-standard/logits";

TEST(Bundled, DemoImagesLoadsValidatesAndPlansThePaperStructure) {
  mm::test::TempDir tmp("bundled-images");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = scratch_tree(root, "demo-images.toml", "emoji16");
  // The [[metamers]] sources name no database: the one given with --db holds the demo's
  // metamers. Before the demo ran: a located error naming the database and what makes it.
  LoadOptions lo;
  lo.default_database = root + "/out/demo/metamerlab.db";
  expect_located([&] { load_experiment(path, lo); }, path, line_with(mm::test::read_bytes(path), "[[metamers]]"),
                 {"metamerlab.db", "metamerlab synth (or demo)"});
  write_fake_demo(root, "out/demo", "stimuli/samples/emoji16/reference", false);

  const Experiment e = load_experiment(path, lo);
  EXPECT_EQ(e.name, "demo-images");
  EXPECT_EQ(e.alternatives.size(), 16u);
  EXPECT_EQ(e.find_set("references")->items.size(), 16u);
  EXPECT_EQ(e.find_set("practice")->items.size(), 32u);
  ASSERT_EQ(e.conditions.size(), 9u);  // natural + 2 models x 4 layers
  for (const auto& it : e.find_set("references")->items) {
    EXPECT_EQ(e.metamers.at(it.path).size(), 7u);  // all but the standard model's logits
    EXPECT_EQ(e.unavailable.at(it.path).at(kStdLogits), "failed");
  }
  const Validation v = validate_experiment(e);
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
  EXPECT_EQ(v.stimulus_width, 64);

  std::map<std::string, std::multiset<std::string>> seen;
  for (int p = 1; p <= 9; ++p) {
    const Plan plan = make_plan(e, p);
    EXPECT_EQ(count_phase(plan, BlockKind::practice, "practice"), 16);
    EXPECT_EQ(count_phase(plan, BlockKind::demo, "demo"), 12);
    EXPECT_EQ(count_phase(plan, BlockKind::main, "main"), 16);
    EXPECT_EQ(count_phase(plan, BlockKind::main, "catch"), 16);
    EXPECT_EQ(plan.blocks[2].pass_min_correct, 7);
    EXPECT_EQ(plan.blocks[1].timing.stimulus_ms, 400);  // practice timing as in the paper
    EXPECT_EQ(plan.blocks[3].timing.stimulus_ms, 300);
    for (const auto& t : plan.trials) {
      if (t.phase != "main") continue;
      seen[t.reference].insert(t.planned_condition);
      EXPECT_EQ(t.fell_back, t.planned_condition == kStdLogits);
    }
  }
  for (const auto& [ref, conds] : seen) EXPECT_EQ(conds.size(), 9u) << ref;  // every condition once
  EXPECT_EQ(seen.size(), 16u);
}

TEST(Bundled, DemoWordsLoadsValidatesAndPlansWithTheHeadphoneCheck) {
  mm::test::TempDir tmp("bundled-words");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = scratch_tree(root, "demo-words.toml", "words16");
  LoadOptions lo;
  lo.default_database = root + "/out/demo-words/metamerlab.db";
  expect_located([&] { load_experiment(path, lo); }, path, line_with(mm::test::read_bytes(path), "[[metamers]]"),
                 {"metamerlab.db", "metamerlab synth (or demo)"});
  write_fake_demo(root, "out/demo-words", "stimuli/samples/words16/reference", true);
  const Experiment e = load_experiment(path, lo);
  EXPECT_EQ(e.modality, Modality::audio);
  EXPECT_EQ(e.alternatives.size(), 16u);
  EXPECT_EQ(e.conditions.size(), 9u);
  const Validation v = validate_experiment(e);
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
  const Plan p = make_plan(e, 1);
  EXPECT_EQ(count_phase(p, BlockKind::practice, "practice"), 10);
  EXPECT_EQ(count_phase(p, BlockKind::demo, "demo"), 12);
  EXPECT_EQ(count_phase(p, BlockKind::main, "main"), 16);
  EXPECT_EQ(count_phase(p, BlockKind::main, "catch"), 16);
  int headphone = 0;
  for (const auto& b : p.blocks) headphone += b.kind == BlockKind::headphone_check;
  EXPECT_EQ(headphone, 1);
  std::set<std::string> catch_words;
  for (const auto& t : p.trials)
    if (t.phase == "catch") {
      catch_words.insert(t.category);
      EXPECT_EQ(t.stimulus.find(root + "/stimuli/samples/words16/practice/"), 0u) << t.stimulus;
    }
  EXPECT_EQ(catch_words.size(), 16u);  // one clear clip per word
}

}  // namespace
