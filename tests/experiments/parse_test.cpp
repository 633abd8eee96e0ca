// Tests for reading experiment files: a valid file's every section lands in the structs;
// each malformed file (bad syntax, unknown or misplaced keys, wrong types, missing
// sections, missing folders, icons and table files, unknown models and layers, metamer
// sources that cannot tell passing from failed) is refused with FILE:LINE and a fix.
//
// Sections
//   [SECTION] Valid files
//   [SECTION] Syntax and keys
//   [SECTION] Files
//   [SECTION] Metamer sources
#include <gtest/gtest.h>

#include <filesystem>

#include "data/sha256.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;
namespace fs = std::filesystem;

// [SECTION] Valid files -------------------------------------------------------------------
TEST(ExperimentParse, StandardFileLoads) {
  Lab lab("parse-ok");
  const std::string path = lab.write(lab.standard("max_run = 3\ncatch = 4\nbreak_every = 10"));
  Experiment e = load_experiment(path);
  EXPECT_EQ(e.path, path);
  EXPECT_EQ(e.dir, lab.root);
  EXPECT_EQ(e.sha256, mm::data::sha256_file(path));
  EXPECT_EQ(e.name, "toy");
  EXPECT_EQ(e.description, "a toy experiment");
  EXPECT_EQ(e.modality, Modality::image);
  EXPECT_EQ(e.seed, 11u);
  ASSERT_EQ(e.alternatives.size(), 4u);
  for (const auto& a : e.alternatives) EXPECT_EQ(a.icon, lab.root + "/icons/" + a.name + ".png");
  EXPECT_EQ(e.timing.fixation_ms, 300);
  EXPECT_EQ(e.timing.iti_ms, 500);
  ASSERT_EQ(e.sets.size(), 2u);
  EXPECT_EQ(e.find_set("refs")->items.size(), 40u);
  EXPECT_EQ(e.find_set("practice")->items.size(), 12u);
  const Stimulus& first = e.find_set("refs")->items[0];
  EXPECT_EQ(first.path, lab.ref("boat", 0));
  EXPECT_EQ(first.category, "boat");
  EXPECT_EQ(first.sha256, mm::data::sha256_file(first.path));
  EXPECT_EQ(first.where.line, line_with(lab.standard(), "folders = [\"refs\"]"));

  std::vector<std::string> names;
  for (const auto& c : e.conditions) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"natural", "toy/l1", "toy/l2", "toy/l3"}));
  EXPECT_EQ(e.find_condition("toy/l2")->model, "zoo:toy");
  EXPECT_EQ(e.find_condition("toy/l2")->layer, "l2");

  ASSERT_EQ(e.blocks.size(), 6u);
  EXPECT_EQ(e.blocks[0].kind, BlockKind::instructions);
  EXPECT_EQ(e.blocks[0].text, "hello");
  EXPECT_EQ(e.blocks[1].kind, BlockKind::practice);
  EXPECT_TRUE(e.blocks[1].feedback);  // practice default
  EXPECT_EQ(e.blocks[1].trials, 4);
  EXPECT_EQ(e.blocks[2].kind, BlockKind::demo);
  EXPECT_FALSE(e.blocks[2].feedback);
  EXPECT_EQ(e.blocks[2].pass_min_correct, 5);
  EXPECT_FALSE(e.blocks[2].fail_text.empty());
  EXPECT_EQ(e.blocks[3].kind, BlockKind::main);
  EXPECT_EQ(e.blocks[3].max_run, 3);
  EXPECT_EQ(e.blocks[3].catch_trials, 4);
  EXPECT_EQ(e.blocks[3].break_every, 10);
  EXPECT_EQ(e.blocks[4].kind, BlockKind::catch_trials);
  EXPECT_EQ(e.blocks[5].kind, BlockKind::debrief);
  EXPECT_FALSE(e.blocks[5].text.empty());

  // Metamers: passing only; l3 failures and the l2 gap are recorded with their reason.
  for (const auto& cat : lab.cats)
    for (int k = 0; k < lab.per_cat; ++k) {
      const std::string r = lab.ref(cat, k);
      const auto& m = e.metamers.at(r);
      ASSERT_TRUE(m.count("toy/l1"));
      EXPECT_EQ(m.at("toy/l1").path, lab.metamer("l1", cat, k));
      EXPECT_EQ(m.at("toy/l1").sha256, mm::data::sha256_file(lab.metamer("l1", cat, k)));
      EXPECT_EQ(m.count("toy/l2") == 0, Lab::l2_missing(k));
      EXPECT_EQ(m.count("toy/l3") == 0, Lab::l3_fails(k));
      if (Lab::l2_missing(k)) {
        EXPECT_EQ(e.unavailable.at(r).at("toy/l2"), "missing");
      }
      if (Lab::l3_fails(k)) {
        EXPECT_EQ(e.unavailable.at(r).at("toy/l3"), "failed");
      }
    }
}

TEST(ExperimentParse, BlockTimingOverridesAndTextFiles) {
  Lab lab("parse-override");
  std::string t = lab.standard();
  replace(t, "trials = 4\n", "trials = 4\ntiming = { fixation = 500, stimulus = 400, mask = 400 }\n");
  replace(t, "text = \"hello\"", "file = \"hello.txt\"");
  mm::test::write_bytes(lab.root + "/hello.txt", "Hello from a file.\n");
  Experiment e = load_experiment(lab.write(t));
  EXPECT_EQ(e.blocks[0].text, "Hello from a file.\n");
  EXPECT_EQ(e.blocks[1].timing.fixation_ms, 500);
  EXPECT_EQ(e.blocks[1].timing.stimulus_ms, 400);
  EXPECT_EQ(e.blocks[1].timing.iti_ms, 500);  // from [timing]
  EXPECT_EQ(e.blocks[2].timing.stimulus_ms, 300);
  EXPECT_EQ(e.blocks[1].lines.at("timing.stimulus"), line_with(t, "timing = {"));
}

TEST(ExperimentParse, CsvTablesAndIconTable) {
  Lab lab("parse-csv");
  std::string t = lab.standard();
  replace(t, "folders = [\"refs\"]", "table = \"tables/refs.csv\"");
  replace(t, "icons = \"icons\"",
          "[responses.icons]\nboat = \"icons/boat.png\"\ncar = \"icons/car.png\"\ncat = \"icons/cat.png\"\ndog = \"icons/dog.png\"");
  mm::test::write_bytes(lab.root + "/tables/refs.csv",
                        "file,category\n"
                        "../refs/boat/boat_0.png,boat\n"
                        "\"../refs/car/car_0.png\",car\n"
                        "../refs/cat/cat_0.png,\n"  // category from the folder
                        "\n"
                        "../refs/dog/dog_0.png,dog\r\n");
  Experiment e = load_experiment(lab.write(t));
  const StimulusSet& s = *e.find_set("refs");
  ASSERT_EQ(s.items.size(), 4u);
  EXPECT_EQ(s.items[2].path, lab.ref("cat", 0));
  EXPECT_EQ(s.items[2].category, "cat");
  EXPECT_EQ(s.items[2].where.file, lab.root + "/tables/refs.csv");
  EXPECT_EQ(s.items[2].where.line, 4);
  EXPECT_EQ(s.items[3].where.line, 6);  // the blank line counts
  EXPECT_EQ(e.alternatives[1].icon, lab.root + "/icons/car.png");
}

TEST(ExperimentParse, IncludeExcludePatterns) {
  Lab lab("parse-glob", 4);
  std::string t = lab.standard();
  replace(t, "folders = [\"refs\"]", "folders = [\"refs\"]\ninclude = [\"*_0.png\", \"dog/*\"]\nexclude = [\"dog/dog_3.png\"]");
  Experiment e = load_experiment(lab.write(t));
  std::vector<std::string> got;
  for (const auto& it : e.find_set("refs")->items) got.push_back(fs::path(it.path).filename().string());
  EXPECT_EQ(got, (std::vector<std::string>{"boat_0.png", "car_0.png", "cat_0.png", "dog_0.png", "dog_1.png", "dog_2.png"}));
}

// [SECTION] Syntax and keys ---------------------------------------------------------------
TEST(ExperimentErrors, TomlSyntaxGivesLine) {
  Lab lab("err-syntax");
  std::string t = lab.standard();
  replace(t, "seed = 11", "seed = 11\nname2 = \"unterminated");
  const std::string p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "name2"), {"TOML syntax error", "fix the syntax"});
}

TEST(ExperimentErrors, UnknownKeysAreRefused) {
  Lab lab("err-unknown");
  {
    std::string t = lab.standard();
    replace(t, "mask = 300", "mask = 300\nstimuls = 250");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "stimuls"),
                   {"unknown key \"stimuls\" in [timing]", "did you mean \"stimulus\""});
  }
  {
    std::string t = lab.standard();
    replace(t, "trials = 4\n", "trials = 4\nmax_run = 2\n");  // a main-block key in a practice block
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "max_run"),
                   {"unknown key \"max_run\"", "practice", "keys of a practice block"});
  }
  {
    std::string t = lab.standard() + "\n[colours]\nbackground = 3\n";
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "[colours]"), {"unknown key \"colours\""});
  }
  {
    std::string t = lab.standard();
    replace(t, "kind = \"debrief\"", "kind = \"goodbye\"");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "goodbye"), {"kind \"goodbye\" is not one of"});
  }
}

TEST(ExperimentErrors, TypesRangesAndRequiredKeys) {
  Lab lab("err-types");
  struct Case {
    std::string from, to, at, part;
  } cases[] = {
      {"seed = 11", "seed = \"eleven\"", "seed = \"eleven\"", "must be a whole number, not a string"},
      {"seed = 11", "seed = -4", "seed = -4", "out of range"},
      {"fixation = 300", "fixation = 300.5", "fixation = 300.5", "must be a whole number"},
      {"modality = \"image\"", "modality = \"smell\"", "modality = \"smell\"", "must be \"image\" or \"audio\""},
      {"name = \"toy\"\n", "", "[experiment]", "[experiment] needs name"},
      {"pass_min_correct = 5", "pass_min_correct = 9", "pass_min_correct = 9", "more than its 8 trials"},
      {"set = \"refs\"", "set = \"nope\"", "set = \"nope\"", "set \"nope\" is not defined"},
      {"alternatives = [\"boat\", \"car\", \"cat\", \"dog\"]", "alternatives = [\"boat\", \"car\", \"boat\", \"dog\"]",
       "alternatives", "listed twice"},
      {"stimulus = 300", "stimulus = 0", "stimulus = 0", "must be shown for some time"},
      {"MAIN_EXTRA", "conditions = [\"natural\", \"toy/l9\"]", "toy/l9", "condition \"toy/l9\" is not declared"},
  };
  for (const auto& c : cases) {
    std::string t = standard_toml();
    replace(t, c.from, c.to);
    if (t.find("MAIN_EXTRA") != std::string::npos) replace(t, "MAIN_EXTRA", "");
    const std::string p = lab.write(t);
    SCOPED_TRACE(c.to);
    expect_located([&] { load_experiment(p); }, p, line_with(t, c.at), {c.part});
  }
  {
    std::string t = lab.standard();
    replace(t, "[responses]\nalternatives = [\"boat\", \"car\", \"cat\", \"dog\"]\nicons = \"icons\"\n", "");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, 1, {"missing [responses]"});
  }
  {
    std::string t = lab.standard();
    replace(t, "icons = \"icons\"\n", "");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "[responses]"), {"needs icons"});
  }
}

// [SECTION] Files -------------------------------------------------------------------------
TEST(ExperimentErrors, MissingFilesAndFolders) {
  Lab lab("err-files");
  {
    std::string t = lab.standard();
    replace(t, "folders = [\"practice\"]", "folders = [\"practise\"]");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "practise"),
                   {"[sets.practice] folder " + lab.root + "/practise does not exist", "check the path"});
  }
  {
    std::string t = lab.standard();
    replace(t, "folders = [\"refs\"]", "table = \"refs.csv\"");
    mm::test::write_bytes(lab.root + "/refs.csv", "file,category\nrefs/boat/boat_0.png,boat\nrefs/boat/boat_99.png,boat\n");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, lab.root + "/refs.csv", 3,
                   {"stimulus file " + lab.root + "/refs/boat/boat_99.png does not exist"});
  }
  {
    std::string t = lab.standard();
    replace(t, "folders = [\"refs\"]", "table = \"refs.csv\"");
    mm::test::write_bytes(lab.root + "/refs.csv", "file,kategory\nrefs/boat/boat_0.png,boat\n");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, lab.root + "/refs.csv", 1, {"unknown column \"kategory\""});
  }
  {
    std::string t = lab.standard();
    replace(t, "icons = \"icons\"",
            "[responses.icons]\nboat = \"icons/boat.png\"\ncar = \"icons/car.png\"\ncat = \"icons/kitten.png\"\ndog = \"icons/dog.png\"");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "kitten"), {"icon", "kitten.png", "does not exist"});
  }
  {
    fs::remove(lab.root + "/icons/dog.png");
    const std::string t = lab.standard();
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "icons = "), {"no icon for \"dog\""});
  }
  const std::string missing = lab.root + "/none.toml";
  expect_located([&] { load_experiment(missing); }, missing, 0, {"no such experiment file"});
}

// [SECTION] Metamer sources ---------------------------------------------------------------
TEST(ExperimentErrors, UnknownModelOrLayer) {
  Lab lab("err-model");
  {
    std::string t = lab.standard();
    replace(t, "model = \"zoo:toy\"", "model = \"zoo:tiny\"");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "zoo:tiny"),
                   {"model \"zoo:tiny\" is not in", "models there: zoo:toy"});
  }
  {
    std::string t = lab.standard();
    replace(t, "  \"l2\",", "  \"l9\",");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "\"l9\""),
                   {"has no layer \"l9\"", "layers: l1, l2, l3, l4"});
  }
  {  // a layer of the model without any metamers
    std::string t = lab.standard();
    replace(t, "  \"l3\",", "  \"l4\",");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "\"l4\""),
                   {"no metamers of zoo:toy at layer \"l4\"", "metamerlab synth"});
  }
  {
    std::string t = lab.standard();
    replace(t, "database = \"lab.db\"", "database = \"nope.db\"");
    const std::string p = lab.write(t);
    expect_located([&] { load_experiment(p); }, p, line_with(t, "nope.db"), {"nope.db does not exist"});
    EXPECT_FALSE(fs::exists(lab.root + "/nope.db"));  // not created by the look-up
  }
}

TEST(ExperimentErrors, FolderSourcesNeedPassInformation) {
  Lab lab("err-folder");
  std::string t = lab.standard();
  replace(t, "database = \"lab.db\"", "folder = \"syn\"");
  const std::string p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "folder = \"syn\""),
                 {"cannot tell passing metamers from failed ones", "assume_passed = true"});
  // With assume_passed every file in the folder counts; the missing l2 file falls back.
  replace(t, "folder = \"syn\"", "folder = \"syn\"\nassume_passed = true");
  Experiment e = load_experiment(lab.write(t));
  EXPECT_TRUE(e.metamers.at(lab.ref("cat", 0)).count("toy/l3"));
  EXPECT_EQ(e.unavailable.at(lab.ref("cat", 1)).at("toy/l2"), "missing");
  // A layer folder that does not exist.
  replace(t, "  \"l3\",", "  \"l7\",");
  const std::string p2 = lab.write(t);
  expect_located([&] { load_experiment(p2); }, p2, line_with(t, "\"l7\""), {"no folder for layer \"l7\"", "layers there: l1, l2, l3"});
}

TEST(ExperimentErrors, DatabasePlusFolderChecksFiles) {
  Lab lab("err-dbfolder");
  std::string t = lab.standard();
  replace(t, "database = \"lab.db\"", "database = \"lab.db\"\nfolder = \"syn\"");
  Experiment e = load_experiment(lab.write(t));
  EXPECT_EQ(e.metamers.at(lab.ref("dog", 2)).at("toy/l3").path, lab.metamer("l3", "dog", 2));
  EXPECT_FALSE(e.metamers.at(lab.ref("dog", 3)).count("toy/l3"));  // failed, even though the file exists
  // A file that differs from the recorded one is refused.
  mm::test::write_test_png(lab.metamer("l1", "car", 4), lab.size, lab.size, 3, 77);
  const std::string p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "folder = \"syn\""), {"SHA-256 differs"});
}

TEST(ExperimentParse, MovedOutputIsFoundBelowTheDatabase) {
  Lab lab("parse-moved");
  // Move the synthesis output and the database to another folder: the recorded absolute
  // paths no longer exist, but their tails exist below the database's folder.
  fs::create_directories(lab.root + "/archive");
  fs::rename(lab.root + "/syn", lab.root + "/archive/syn");
  fs::rename(lab.root + "/lab.db", lab.root + "/archive/lab.db");
  std::string t = lab.standard();
  replace(t, "database = \"lab.db\"", "database = \"archive/lab.db\"");
  Experiment e = load_experiment(lab.write(t));
  EXPECT_EQ(e.metamers.at(lab.ref("boat", 5)).at("toy/l1").path, lab.root + "/archive/syn/l1/boat/boat_5.png");
}

TEST(ExperimentParse, MetamerTableSource) {
  Lab lab("parse-mtable", 2);
  std::string t = lab.standard();
  replace(t, "database = \"lab.db\"", "table = \"metamers.csv\"");
  std::string csv = "reference,layer,file,passed\n";
  for (const auto& c : lab.cats)
    for (int k = 0; k < 2; ++k)
      for (const std::string l : {"l1", "l2", "l3"}) {
        if (l == "l2" && Lab::l2_missing(k)) continue;  // the lab has no such file
        csv += "refs/" + c + "/" + c + "_" + std::to_string(k) + ".png," + l + ",syn/" + l + "/" + c + "/" + c + "_" +
               std::to_string(k) + ".png," + (l == "l3" && k == 0 ? "0" : "1") + "\n";
      }
  mm::test::write_bytes(lab.root + "/metamers.csv", csv);
  Experiment e = load_experiment(lab.write(t));
  EXPECT_EQ(e.metamers.at(lab.ref("cat", 1)).at("toy/l3").path, lab.metamer("l3", "cat", 1));
  EXPECT_EQ(e.unavailable.at(lab.ref("cat", 0)).at("toy/l3"), "failed");
  // A row naming a layer not declared in the entry.
  mm::test::write_bytes(lab.root + "/metamers.csv", csv + "refs/cat/cat_0.png,l8,syn/l1/cat/cat_0.png,1\n");
  const std::string p = lab.write(t);
  expect_located([&] { load_experiment(p); }, lab.root + "/metamers.csv", 22, {"layer \"l8\" is not among"});
  EXPECT_EQ(e.unavailable.at(lab.ref("dog", 1)).at("toy/l2"), "missing");
}

TEST(ExperimentErrors, AudioSpecificKeys) {
  Lab lab("err-audio");
  std::string t = standard_toml();
  replace(t, "MAIN_EXTRA", "");
  replace(t, "modality = \"image\"", "modality = \"audio\"");
  const std::string p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "icons = "), {"icons are for image experiments"});
  replace(t, "icons = \"icons\"\n", "");
  const std::string p2 = lab.write(t);
  expect_located([&] { load_experiment(p2); }, p2, line_with(t, "stimulus = 300"), {"audio", "clip_ms"});
}

}  // namespace
