// Tests of the two bundled experiment files, copied into a scratch tree next to the data
// they expect: demo-images.toml over the procedural demo set with a database recording
// tiny-cnn metamers as `metamerlab demo` does (written here without torch, logits failing,
// paths recorded relative to the working folder as `--out out/demo` records them), and
// demo-words.toml over a small generated WAV set in the words16 layout. Each must load,
// validate and plan the paper's structure.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "stimuli/demo.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;
namespace fs = std::filesystem;

std::string source(const std::string& rel) { return mm::test::source_dir() + "/" + rel; }

int count_phase(const Plan& p, BlockKind kind, const std::string& phase) {
  int n = 0;
  for (const auto& t : p.trials)
    if (p.blocks[t.block].kind == kind && t.phase == phase) ++n;
  return n;
}

// The demo's output under ROOT/out/demo, as `metamerlab demo --out out/demo` run in ROOT
// leaves it (metamers of the *_0 images at four layers; the logits ones fail).
void write_fake_demo(const std::string& root) {
  const std::string demo = root + "/out/demo";
  auto items = mm::stimuli::write_demo_shapes(demo + "/inputs", 4, 64, 7);
  mm::data::Store s(demo + "/metamerlab.db");
  mm::data::ModelRecord m;
  m.spec = "zoo:tiny-cnn";
  m.sha256 = std::string(64, 'b');
  m.modality = "image";
  m.info_json = R"({"modality":"image","layers":["conv1","stage1","stage2","stage3","avgpool","logits"]})";
  mm::data::SynthRunRecord r;
  r.model_id = s.upsert_model(m);
  r.command = "metamerlab demo --out out/demo";
  r.options_json = "{}";
  r.out_dir = "out/demo/metamers";
  const int64_t run = s.begin_synth_run(r);
  unsigned seed = 1;
  for (const std::string layer : {"conv1", "stage1", "stage3", "logits"})
    for (const auto& it : items) {
      if (it.path.find("_0.png") == std::string::npos) continue;
      const std::string rel = "out/demo/metamers/" + layer + "/" + it.category + "/" + it.category + "_0.png";
      mm::test::write_test_png(root + "/" + rel, 64, 64, 3, seed++);
      mm::data::MetamerRecord x;
      x.run_id = run;
      x.reference_path = "out/demo/inputs/" + it.category + "/" + it.category + "_0.png";
      x.reference_sha256 = mm::data::sha256_file(it.path);
      x.category = it.category;
      x.layer = layer;
      x.passed = layer != "logits";
      x.status = x.passed ? "ok" : "failed";
      x.png_path = rel;  // relative to the folder demo ran in, not to this test's
      x.png_sha256 = mm::data::sha256_file(root + "/" + rel);
      s.add_metamer(x);
    }
}

TEST(Bundled, DemoImagesLoadsValidatesAndPlansThePaperStructure) {
  mm::test::TempDir tmp("bundled-images");
  const std::string root = fs::absolute(tmp.path).string();
  fs::create_directories(root + "/experiments");
  fs::copy(source("experiments/demo-images.toml"), root + "/experiments/demo-images.toml");
  fs::copy(source("experiments/icons"), root + "/experiments/icons");
  write_fake_demo(root);

  const Experiment e = load_experiment(root + "/experiments/demo-images.toml");
  EXPECT_EQ(e.name, "demo-images");
  EXPECT_EQ(e.find_set("references")->items.size(), 4u);
  EXPECT_EQ(e.find_set("practice")->items.size(), 12u);
  ASSERT_EQ(e.conditions.size(), 5u);
  EXPECT_EQ(e.conditions[4].name, "tiny-cnn/logits");
  for (const auto& it : e.find_set("references")->items) {
    EXPECT_EQ(e.metamers.at(it.path).size(), 3u);  // conv1, stage1, stage3 passed
    EXPECT_EQ(e.unavailable.at(it.path).at("tiny-cnn/logits"), "failed");
  }
  const Validation v = validate_experiment(e);
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
  EXPECT_EQ(v.stimulus_width, 64);
  EXPECT_NE(find_issue(v, "tiny-cnn/logits: 4 of 4 references have no passing metamer (4 failed", false), nullptr);

  std::map<std::string, std::multiset<std::string>> seen;
  for (int p = 1; p <= 5; ++p) {
    const Plan plan = make_plan(e, p);
    EXPECT_EQ(count_phase(plan, BlockKind::practice, "practice"), 4);
    EXPECT_EQ(count_phase(plan, BlockKind::demo, "demo"), 8);
    EXPECT_EQ(count_phase(plan, BlockKind::main, "main"), 4);
    EXPECT_EQ(count_phase(plan, BlockKind::main, "catch"), 4);
    EXPECT_EQ(plan.blocks[2].pass_min_correct, 5);
    EXPECT_EQ(plan.blocks[1].timing.stimulus_ms, 400);  // practice timing as in the paper
    EXPECT_EQ(plan.blocks[3].timing.stimulus_ms, 300);
    for (const auto& t : plan.trials) {
      if (t.phase != "main") continue;
      seen[t.reference].insert(t.planned_condition);
      EXPECT_EQ(t.fell_back, t.planned_condition == "tiny-cnn/logits");
    }
  }
  for (const auto& [ref, conds] : seen) EXPECT_EQ(conds.size(), 5u) << ref;  // every condition once
  EXPECT_EQ(seen.size(), 4u);
}

TEST(Bundled, DemoWordsLoadsWithAWavFolder) {
  mm::test::TempDir tmp("bundled-words");
  const std::string root = fs::absolute(tmp.path).string();
  fs::create_directories(root + "/experiments");
  fs::copy(source("experiments/demo-words.toml"), root + "/experiments/demo-words.toml");
  const std::string path = root + "/experiments/demo-words.toml";
  // Without the set: a located error naming the folder to provide.
  expect_located([&] { load_experiment(path); }, path,
                 line_with(mm::test::read_bytes(path), "folders = [\"../out/words16/reference\"]"),
                 {"out/words16/reference does not exist"});
  const std::vector<std::string> words = {"airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
                                          "chair", "clock", "dog", "elephant", "fish", "keyboard", "knife", "truck"};
  for (size_t w = 0; w < words.size(); ++w)
    for (int k = 0; k < 2; ++k) {
      write_tone(root + "/out/words16/reference/" + words[w] + "/" + words[w] + "_" + std::to_string(k) + ".wav", 16000, 1.0,
                 150 + 20 * w + 5 * k);
      write_tone(root + "/out/words16/test/" + words[w] + "/" + words[w] + "_t" + std::to_string(k) + ".wav", 16000, 1.0,
                 160 + 20 * w + 5 * k);
    }
  const Experiment e = load_experiment(path);
  EXPECT_EQ(e.modality, Modality::audio);
  EXPECT_EQ(e.alternatives.size(), 16u);
  const Validation v = validate_experiment(e);
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
  const Plan p = make_plan(e, 1);
  EXPECT_EQ(count_phase(p, BlockKind::practice, "practice"), 10);
  EXPECT_EQ(count_phase(p, BlockKind::demo, "demo"), 12);
  EXPECT_EQ(count_phase(p, BlockKind::main, "main"), 32);
  EXPECT_EQ(count_phase(p, BlockKind::main, "catch"), 16);
  std::set<std::string> catch_words;
  for (const auto& t : p.trials)
    if (t.phase == "catch") {
      catch_words.insert(t.category);
      EXPECT_EQ(t.stimulus.find(root + "/out/words16/test/"), 0u);
    }
  EXPECT_EQ(catch_words.size(), 16u);  // one clear clip per word
}

}  // namespace
