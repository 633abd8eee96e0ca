// Tests of the experiment writer (experiments/experiment_writer.h): each bundled experiment
// file (demo-images, demo-words and their -live variants, in a scratch tree with a fake demo
// database) and files using every key of experiments/README.md's table are read into a
// draft and written back; load_experiment reads the written text to an experiment equal in
// every field to the original's (locations aside) and planning gives the same plan for
// several participants; the draft read from the written text is the same draft, and writing
// it again gives the same text; every field's recorded line holds its key. Also: a draft
// written from nothing, lenient reading of a file with wrong types and unknown keys, and
// the field at a line.
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "experiments/experiment.h"
#include "experiments/experiment_writer.h"
#include "experiments/plan.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;
namespace fs = std::filesystem;

// [SECTION] Equality of loaded experiments (every field but where things were declared)
void expect_same_timing(const Timing& a, const Timing& b, const std::string& what) {
  EXPECT_EQ(a.fixation_ms, b.fixation_ms) << what;
  EXPECT_EQ(a.stimulus_ms, b.stimulus_ms) << what;
  EXPECT_EQ(a.mask_ms, b.mask_ms) << what;
  EXPECT_EQ(a.response_ms, b.response_ms) << what;
  EXPECT_EQ(a.iti_ms, b.iti_ms) << what;
}

void expect_same(const Experiment& a, const Experiment& b) {
  EXPECT_EQ(a.dir, b.dir);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.modality, b.modality);
  EXPECT_EQ(a.seed, b.seed);
  ASSERT_EQ(a.alternatives.size(), b.alternatives.size());
  for (size_t i = 0; i < a.alternatives.size(); ++i) {
    EXPECT_EQ(a.alternatives[i].name, b.alternatives[i].name);
    EXPECT_EQ(a.alternatives[i].icon, b.alternatives[i].icon);
  }
  expect_same_timing(a.timing, b.timing, "[timing]");
  EXPECT_EQ(a.images.size, b.images.size);
  EXPECT_EQ(a.images.size_deg, b.images.size_deg);
  EXPECT_EQ(a.images.fit, b.images.fit);
  EXPECT_EQ(a.images.scaling, b.images.scaling);
  EXPECT_EQ(a.audio.sample_rate, b.audio.sample_rate);
  EXPECT_EQ(a.audio.clip_ms, b.audio.clip_ms);
  EXPECT_EQ(a.audio.rms_dbfs, b.audio.rms_dbfs);
  ASSERT_EQ(a.sets.size(), b.sets.size());
  for (size_t i = 0; i < a.sets.size(); ++i) {
    const StimulusSet &x = a.sets[i], &y = b.sets[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.folders, y.folders);
    EXPECT_EQ(x.include, y.include);
    EXPECT_EQ(x.exclude, y.exclude);
    EXPECT_EQ(x.table, y.table);
    ASSERT_EQ(x.items.size(), y.items.size()) << x.name;
    for (size_t k = 0; k < x.items.size(); ++k) {
      EXPECT_EQ(x.items[k].path, y.items[k].path);
      EXPECT_EQ(x.items[k].category, y.items[k].category);
      EXPECT_EQ(x.items[k].sha256, y.items[k].sha256);
    }
  }
  ASSERT_EQ(a.sources.size(), b.sources.size());
  for (size_t i = 0; i < a.sources.size(); ++i) {
    const MetamerSource &x = a.sources[i], &y = b.sources[i];
    EXPECT_EQ(x.live, y.live);
    EXPECT_EQ(x.model, y.model);
    EXPECT_EQ(x.model_sha256, y.model_sha256);
    EXPECT_EQ(x.label, y.label);
    EXPECT_EQ(x.layers, y.layers);
    EXPECT_EQ(x.database, y.database);
    EXPECT_EQ(x.folder, y.folder);
    EXPECT_EQ(x.table, y.table);
    EXPECT_EQ(x.assume_passed, y.assume_passed);
    const LiveSettings &p = x.live_settings, &q = y.live_settings;
    EXPECT_EQ(p.iterations, q.iterations);
    EXPECT_EQ(p.rounds, q.rounds);
    EXPECT_EQ(p.max_rounds, q.max_rounds);
    EXPECT_EQ(p.step, q.step);
    EXPECT_EQ(p.optimizer, q.optimizer);
    EXPECT_EQ(p.loss, q.loss);
    EXPECT_EQ(p.participant_seed, q.participant_seed);
    EXPECT_EQ(p.seed, q.seed);
    EXPECT_EQ(p.null_set, q.null_set);
    EXPECT_EQ(p.retries, q.retries);
    EXPECT_EQ(p.when_late, q.when_late);
  }
  ASSERT_EQ(a.conditions.size(), b.conditions.size());
  for (size_t i = 0; i < a.conditions.size(); ++i) {
    const Condition &x = a.conditions[i], &y = b.conditions[i];
    EXPECT_EQ(std::tie(x.name, x.natural, x.model, x.model_sha256, x.layer, x.source),
              std::tie(y.name, y.natural, y.model, y.model_sha256, y.layer, y.source));
  }
  ASSERT_EQ(a.metamers.size(), b.metamers.size());
  for (const auto& [ref, by] : a.metamers) {
    ASSERT_TRUE(b.metamers.count(ref)) << ref;
    const auto& other = b.metamers.at(ref);
    ASSERT_EQ(by.size(), other.size()) << ref;
    for (const auto& [c, f] : by) {
      ASSERT_TRUE(other.count(c)) << ref << " " << c;
      EXPECT_EQ(f.path, other.at(c).path);
      EXPECT_EQ(f.sha256, other.at(c).sha256);
    }
  }
  EXPECT_EQ(a.unavailable, b.unavailable);
  ASSERT_EQ(a.blocks.size(), b.blocks.size());
  for (size_t i = 0; i < a.blocks.size(); ++i) {
    const Block &x = a.blocks[i], &y = b.blocks[i];
    const std::string what = "block " + std::to_string(i);
    EXPECT_EQ(x.kind, y.kind) << what;
    EXPECT_EQ(x.name, y.name) << what;
    EXPECT_EQ(x.text, y.text) << what;
    EXPECT_EQ(x.set, y.set) << what;
    EXPECT_EQ(x.trials, y.trials) << what;
    EXPECT_EQ(x.feedback, y.feedback) << what;
    EXPECT_EQ(x.pass_min_correct, y.pass_min_correct) << what;
    EXPECT_EQ(x.fail_text, y.fail_text) << what;
    EXPECT_EQ(x.conditions, y.conditions) << what;
    EXPECT_EQ(x.max_run, y.max_run) << what;
    EXPECT_EQ(x.catch_trials, y.catch_trials) << what;
    EXPECT_EQ(x.catch_set, y.catch_set) << what;
    EXPECT_EQ(x.break_every, y.break_every) << what;
    EXPECT_EQ(x.break_text, y.break_text) << what;
    expect_same_timing(x.timing, y.timing, what);
  }
  EXPECT_EQ(a.analysis.judges, b.analysis.judges);
  EXPECT_EQ(a.analysis.exclude_catch_below, b.analysis.exclude_catch_below);
  ASSERT_EQ(a.notes.size(), b.notes.size());
  for (size_t i = 0; i < a.notes.size(); ++i) {
    EXPECT_EQ(a.notes[i].error, b.notes[i].error);
    EXPECT_EQ(a.notes[i].message, b.notes[i].message);
  }
}

// The plan's JSON, its experiment's file and hash aside (they name the file planned).
std::string plan_text(const Experiment& e, int64_t participant) {
  Plan p = make_plan(e, participant);
  p.experiment_path.clear();
  p.experiment_sha256.clear();
  return plan_to_json(p, 1);
}

// Every field's recorded line holds its key (or, for a table, its header).
void expect_lines_hold_keys(const DraftText& w) {
  std::vector<std::string> lines{""};
  for (char c : w.text) c == '\n' ? lines.push_back("") : void(lines.back() += c);
  for (const auto& [field, line] : w.lines) {
    ASSERT_GE(line, 1) << field;
    ASSERT_LT(line, static_cast<int>(lines.size())) << field;
    std::string key = field.substr(field.rfind('.') + 1);
    if (key.find_first_not_of("0123456789") == std::string::npos) {  // a table of an array
      const std::string kind = field.substr(0, field.find('.'));
      key = kind == "sets" ? "[sets." : "[[" + kind + "]]";
    }
    if (key == "catch_trials") key = "catch";
    if (field.rfind("blocks.", 0) == 0 && field.find(".timing.") != std::string::npos) key = "timing = {";
    EXPECT_NE(lines[line - 1].find(key), std::string::npos) << field << " at line " << line << ": " << lines[line - 1];
  }
}

// Reads `path` into a draft, writes it beside the file, loads both and compares them and
// their plans; the written text reads back to the same draft and writes to the same text.
void round_trip(const std::string& path, const LoadOptions& lo) {
  SCOPED_TRACE(path);
  const Experiment a = load_experiment(path, lo);
  const DraftRead r = read_draft(mm::test::read_bytes(path), path);
  ASSERT_EQ(r.error, "");
  const DraftText w = write_draft(r.draft);
  const std::string written = (fs::path(path).parent_path() / "written.toml").string();
  mm::test::write_bytes(written, w.text);
  Experiment b;
  try {
    b = load_experiment(written, lo);
  } catch (const std::exception& e) {
    FAIL() << e.what() << "\n" << w.text;
  }
  expect_same(a, b);
  for (int64_t participant : {1, 2, 7}) EXPECT_EQ(plan_text(a, participant), plan_text(b, participant)) << participant;
  const DraftRead again = read_draft(w.text);
  EXPECT_TRUE(again.draft == r.draft);
  EXPECT_EQ(write_draft(again.draft).text, w.text);
  EXPECT_EQ(again.lines, w.lines);  // the reader finds every field where the writer put it
  expect_lines_hold_keys(w);
}

// [SECTION] The bundled experiments
TEST(ExperimentWriter, BundledImageExperimentsRoundTrip) {
  mm::test::TempDir tmp("writer-images");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = scratch_tree(root, "demo-images.toml", "emoji16");
  fs::copy(source("experiments/demo-images-live.toml"), root + "/experiments/demo-images-live.toml");
  write_fake_demo(root, "out/demo", "stimuli/samples/emoji16/reference", false);
  LoadOptions lo;
  lo.default_database = root + "/out/demo/metamerlab.db";
  round_trip(path, lo);
  round_trip(root + "/experiments/demo-images-live.toml", {});
}

TEST(ExperimentWriter, BundledWordExperimentsRoundTrip) {
  mm::test::TempDir tmp("writer-words");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = scratch_tree(root, "demo-words.toml", "words16");
  fs::copy(source("experiments/demo-words-live.toml"), root + "/experiments/demo-words-live.toml");
  write_fake_demo(root, "out/demo-words", "stimuli/samples/words16/reference", true);
  LoadOptions lo;
  lo.default_database = root + "/out/demo-words/metamerlab.db";
  round_trip(path, lo);
  round_trip(root + "/experiments/demo-words-live.toml", {});
}

// [SECTION] Every key
// An image experiment using every key an image experiment can hold (size and size_deg,
// icons as a folder or a table, are alternatives of each other: both are covered).
std::string every_image_key() {
  return R"([experiment]
name = "every-key"
description = "each key of experiments/README.md's table"
modality = "image"
seed = 99

[responses]
alternatives = ["boat", "car", "cat", "dog"]

[responses.icons]
boat = "icons/boat.png"
car = "icons/car.png"
"cat" = "icons/cat.png"
dog = "icons/dog.png"

[images]
size = 64
fit = true
scaling = "linear"

[timing]
fixation = 250
stimulus = 200
mask = 150
response = 3000
iti = 400

[sets.refs]
folders = ["refs"]
include = ["*_0.png", "*_1.png", "*_2.png", "dog/*"]
exclude = ["dog/dog_3.png"]

[sets.practice]
folders = "practice"

[sets.tabled]
table = "tables/refs.csv"

[[metamers]]
model = "zoo:toy"
model_sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
label = "toy"
layers = ["l1", "l2", "l3"]
database = "lab.db"
folder = "syn"

[[metamers]]
model = "zoo:toy"
label = "toyt"
layers = ["l1"]
table = "metamers.csv"
assume_passed = true

[[metamers]]
model = "zoo:toy"
label = "toylive"
layers = ["l2"]
generate = "live"
iterations = 40
rounds = 3
max_rounds = 9
step = 0.125
optimizer = "adam"
loss = "mse"
seed = 17
null_set = "practice"
retries = 4
when_late = "reorder"

[[blocks]]
kind = "instructions"
name = "welcome"
file = "hello.txt"

[[blocks]]
kind = "practice"
name = "warm-up"
set = "practice"
trials = 4
feedback = true
timing = { fixation = 500, stimulus = 400, mask = 400 }
break_every = 2
break_text = "A pause."
text = "Practice first."

[[blocks]]
kind = "demo"
set = "practice"
trials = 8
feedback = false
pass_min_correct = 5
text = "Eight trials.\nFive must be right.\n"
fail_text = "The end, thanks."

[[blocks]]
kind = "main"
name = "main"
set = "refs"
conditions = ["natural", "toy/l1", "toy/l3", "toyt/l1", "toylive/l2"]
max_run = 3
catch = 4
catch_set = "practice"
feedback = false
break_every = 10
break_text = "Rest \"a while\"\ttab."
timing = { stimulus = 250, response = 2000, iti = 300 }
text = "The main part."

[[blocks]]
kind = "catch"
name = "checks"
trials = 4
feedback = true
timing = { iti = 600 }

[[blocks]]
kind = "break"
text = "Break."

[[blocks]]
kind = "debrief"
text = "Thanks!"

[analysis]
judges = ["zoo:toy", "models/other.pt"]
exclude_catch_below = 0.75
)";
}

// The lab's files the every-key experiment names besides the standard lab: a text file,
// a set's table and a metamer table without pass/fail.
void write_every_key_files(const Lab& lab) {
  mm::test::write_bytes(lab.root + "/hello.txt", "Hello from a file.\nSecond line.\n");
  std::string refs = "file,category\n", metamers = "reference,layer,file\n";
  for (const auto& c : lab.cats) {
    refs += "../refs/" + c + "/" + c + "_4.png," + c + "\n";
    for (int k = 0; k < 3; ++k)
      metamers += "refs/" + c + "/" + c + "_" + std::to_string(k) + ".png,l1,syn/l1/" + c + "/" + c + "_" +
                  std::to_string(k) + ".png\n";
  }
  mm::test::write_bytes(lab.root + "/tables/refs.csv", refs);
  mm::test::write_bytes(lab.root + "/metamers.csv", metamers);
}

TEST(ExperimentWriter, AnImageFileUsingEveryKeyRoundTrips) {
  Lab lab("writer-every");
  write_every_key_files(lab);
  std::string t = every_image_key();
  round_trip(lab.write(t), {});
  // The alternatives of those keys: icons as a folder, the box in degrees, no fit.
  replace(t, "\n[responses.icons]\nboat = \"icons/boat.png\"\ncar = \"icons/car.png\"\n\"cat\" = \"icons/cat.png\"\ndog = \"icons/dog.png\"\n",
          "icons = \"icons\"\n");
  replace(t, "size = 64\nfit = true\nscaling = \"linear\"", "size_deg = 2.75\nscaling = \"nearest\"");
  round_trip(lab.write(t, "every2.toml"), {});
}

TEST(ExperimentWriter, AnAudioFileUsingEveryKeyRoundTrips) {
  Lab lab("writer-audio");
  for (const auto& c : lab.cats)
    for (int k = 0; k < 3; ++k) write_tone(lab.root + "/clips/" + c + "/" + c + "_" + std::to_string(k) + ".wav", 16000, 0.5, 300 + 40 * k);
  mm::test::write_bytes(lab.root + "/words.txt", "# the words\nboat\ncar\n\ncat\ndog\n");
  const std::string t = R"([experiment]
name = "every-audio-key"
modality = "audio"

[responses]
words_file = "words.txt"

[audio]
sample_rate = 16000
clip_ms = 500
rms_dbfs = -23.5

[timing]
fixation = 300
mask = 0
response = 0
iti = 700

[sets.clips]
folders = ["clips"]

[[metamers]]
model = "zoo:toy-audio"
layers = ["a1", "a2"]
generate = "live"
seed = "participant"

[[blocks]]
kind = "headphone_check"
name = "headphones"
text = "Pick the quietest."
fail_text = "Headphones needed."

[[blocks]]
kind = "catch"
set = "clips"
trials = 4

[[blocks]]
kind = "main"
set = "clips"
catch = 2
catch_set = "clips"
timing = { fixation = 200 }
)";
  round_trip(lab.write(t), {});
}

// [SECTION] Drafts
TEST(ExperimentWriter, ADraftWrittenFromNothingLoads) {
  Lab lab("writer-new");
  ExperimentDraft d;
  d.name = "from-scratch";
  d.alternatives = lab.cats;
  d.icons_folder = "icons";
  d.sets.push_back({"refs", {"refs"}, {}, {}, ""});
  DraftSource s;
  s.model = "zoo:toy";
  s.layers = {"l1", "l3"};
  s.database = "lab.db";
  d.sources.push_back(s);
  DraftBlock b;
  b.set = "refs";
  d.blocks.push_back(b);
  const Experiment e = load_experiment(lab.write(write_draft(d).text));
  EXPECT_EQ(e.name, "from-scratch");
  EXPECT_EQ(e.conditions.size(), 3u);
  EXPECT_EQ(e.find_set("refs")->items.size(), 40u);
}

// Save as into another folder: the draft's relative paths re-anchored there name the same
// files, so the file written there loads to the same sets and plans as the original.
TEST(ExperimentWriter, RebasedPathsNameTheSameFilesFromAnotherFolder) {
  mm::test::TempDir tmp("writer-rebase");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = scratch_tree(root, "demo-images.toml", "emoji16");
  write_fake_demo(root, "out/demo", "stimuli/samples/emoji16/reference", false);
  LoadOptions lo;
  lo.default_database = root + "/out/demo/metamerlab.db";
  const Experiment a = load_experiment(path, lo);
  ExperimentDraft d = read_draft(mm::test::read_bytes(path), path).draft;
  d.sets[1].folders.push_back(root + "/stimuli/samples/emoji16/practice");  // absolute: stays as it is
  const ExperimentDraft before = d;
  const std::string elsewhere = root + "/studies/2026/moved";
  fs::create_directories(elsewhere);
  const int moved = rebase_paths(d, root + "/experiments", elsewhere);
  EXPECT_EQ(moved, 3);  // the icons folder and the two sets' relative folders
  EXPECT_EQ(d.icons_folder, "../../../experiments/icons-emoji16");
  EXPECT_EQ(d.sets[0].folders[0], "../../../stimuli/samples/emoji16/reference");
  EXPECT_EQ(d.sets[1].folders.back(), root + "/stimuli/samples/emoji16/practice");
  EXPECT_EQ(d.sources[0].model, before.sources[0].model);
  mm::test::write_bytes(elsewhere + "/moved.toml", write_draft(d).text);
  const Experiment b = load_experiment(elsewhere + "/moved.toml", lo);
  ASSERT_EQ(a.sets.size(), b.sets.size());
  for (size_t i = 0; i < a.sets.size(); ++i) {
    ASSERT_EQ(a.sets[i].items.size(), b.sets[i].items.size()) << a.sets[i].name;
    for (size_t k = 0; k < a.sets[i].items.size(); ++k) EXPECT_EQ(a.sets[i].items[k].path, b.sets[i].items[k].path);
  }
  for (int64_t participant : {1, 4}) {  // the plans, their paths written from the same folder
    Plan pa = make_plan(a, participant), pb = make_plan(b, participant);
    pb.experiment_dir = pa.experiment_dir;
    pa.experiment_path = pb.experiment_path = "", pa.experiment_sha256 = pb.experiment_sha256 = "";
    EXPECT_EQ(plan_to_json(pa, 1), plan_to_json(pb, 1)) << participant;
  }
  // Back again: the original text.
  EXPECT_EQ(rebase_paths(d, elsewhere, root + "/experiments"), 3);
  d.sets[1].folders.pop_back();
  EXPECT_EQ(write_draft(d).text, write_draft(read_draft(mm::test::read_bytes(path), path).draft).text);
}

TEST(ExperimentWriter, ReadingIsLenientAndLocatesFields) {
  const std::string t = R"([experiment]
name = 12
modality = "image"
colour = "red"

[timing]
stimulus = "long"
mask = 100

[[blocks]]
kind = "main"
timing = { iti = 5 }
)";
  const DraftRead r = read_draft(t);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.draft.name, "");  // a number where a string belongs is left out
  EXPECT_EQ(r.draft.modality, "image");
  EXPECT_FALSE(r.draft.timing.stimulus.has_value());
  EXPECT_EQ(r.draft.timing.mask, 100);
  ASSERT_EQ(r.draft.blocks.size(), 1u);
  EXPECT_EQ(r.draft.blocks[0].timing.iti, 5);
  EXPECT_EQ(r.lines.at("timing.mask"), 8);
  EXPECT_EQ(field_at_line(r.lines, 8), "timing.mask");
  EXPECT_EQ(field_at_line(r.lines, 4), "experiment.modality");  // the unknown key: the field before it
  EXPECT_EQ(field_at_line(r.lines, 7), "timing");               // the bad value: its table
  EXPECT_EQ(field_at_line(r.lines, 12), "blocks.0.timing.iti");
  EXPECT_EQ(field_at_line(r.lines, 0), "");

  const DraftRead bad = read_draft("[experiment\nname = 1\n", "x.toml");
  EXPECT_NE(bad.error, "");
  EXPECT_EQ(bad.error_line, 1);
}

}  // namespace
