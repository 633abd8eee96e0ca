// Tests for validation before a session: durations in whole frames at a refresh rate (and
// a duration shorter than one frame refused at its line), the mixed image size policy,
// unreadable stimuli, categories that are not alternatives, blocks asking for more stimuli
// than their set has, fallback and overlap notes, and the audio checks (a WAV at another
// sample rate is a note, an unreadable one an error).
//
// Sections
//   [SECTION] Timing
//   [SECTION] Images
//   [SECTION] Blocks
//   [SECTION] Audio
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "experiments/experiment.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;
namespace fs = std::filesystem;

// [SECTION] Timing ------------------------------------------------------------------------
TEST(Frames, WholeFramesAndRealizedMs) {
  FrameTiming a = to_frames(300, 60);
  EXPECT_EQ(a.frames, 18);
  EXPECT_NEAR(a.realized_ms, 300.0, 1e-9);
  FrameTiming b = to_frames(300, 144);
  EXPECT_EQ(b.frames, 43);  // 43.2 frames
  EXPECT_NEAR(b.realized_ms, 43 * 1000.0 / 144, 1e-9);
  FrameTiming c = to_frames(25, 59.94);
  EXPECT_EQ(c.frames, 1);  // 1.4985 frames
  EXPECT_EQ(to_frames(0, 60).frames, 0);
  EXPECT_EQ(to_frames(0, 60).realized_ms, 0);
}

TEST(Validate, StandardExperimentIsValid) {
  Lab lab("val-ok");
  const Experiment e = load_experiment(lab.write(lab.standard("catch = 4")));
  const Validation v = validate_experiment(e);
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
  EXPECT_EQ(v.refresh_hz, 60);
  EXPECT_EQ(v.stimulus_width, 32);
  EXPECT_EQ(v.stimulus_height, 32);
  // 4 trial blocks x 5 phases, each converted to frames.
  ASSERT_EQ(v.timing.size(), 20u);
  for (const auto& r : v.timing) {
    EXPECT_EQ(r.t.frames, static_cast<int>(std::lround(r.t.requested_ms * 60 / 1000.0))) << r.phase;
    EXPECT_NEAR(r.t.realized_ms, r.t.frames * 1000.0 / 60, 1e-9);
  }
  // The fallbacks are reported as notes, per condition, at the [[metamers]] entry.
  const Issue* l3 = find_issue(v, "toy/l3: 16 of 40 references have no passing metamer (16 failed, 0 missing)", false);
  ASSERT_NE(l3, nullptr);
  EXPECT_EQ(l3->line, line_with(lab.standard(), "[[metamers]]"));
  EXPECT_NE(find_issue(v, "toy/l2: 4 of 40 references have no passing metamer (0 failed, 4 missing)", false), nullptr);
}

TEST(Validate, DurationShorterThanOneFrameIsRefusedAtItsLine) {
  Lab lab("val-frame");
  std::string t = lab.standard();
  replace(t, "stimulus = 300", "stimulus = 10");
  const Experiment e = load_experiment(lab.write(t));
  const Validation v60 = validate_experiment(e, {60, true});
  EXPECT_FALSE(v60.ok());
  const Issue* i = find_issue(v60, "stimulus = 10 ms is shorter than one frame at 60.00 Hz (16.67 ms)", true);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->file, e.path);
  EXPECT_EQ(i->line, line_with(t, "stimulus = 10"));
  EXPECT_NE(i->message.find("use at least 17 ms"), std::string::npos);
  // At 120 Hz one frame lasts 8.33 ms: 10 ms is one frame, realized 8.33 ms.
  const Validation v120 = validate_experiment(e, {120, true});
  EXPECT_TRUE(v120.ok());
  bool found = false;
  for (const auto& r : v120.timing)
    if (r.phase == "stimulus") {
      EXPECT_EQ(r.t.frames, 1);
      EXPECT_NEAR(r.t.realized_ms, 1000.0 / 120, 1e-9);
      found = true;
    }
  EXPECT_TRUE(found);
  // A block override too short is located at the block's timing line.
  std::string t2 = lab.standard();
  replace(t2, "trials = 8\n", "trials = 8\ntiming = { mask = 5 }\n");
  const Experiment e2 = load_experiment(lab.write(t2, "exp2.toml"));
  const Validation v = validate_experiment(e2);
  const Issue* m = find_issue(v, "block 3 (demo): mask = 5 ms is shorter than one frame", true);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->line, line_with(t2, "timing = { mask = 5 }"));
  EXPECT_FALSE(validate_experiment(e2, {0, true}).ok());  // no plausible refresh rate
}

// [SECTION] Images ------------------------------------------------------------------------
TEST(Validate, MixedImageSizesNeedAScalingPolicy) {
  Lab lab("val-sizes");
  mm::test::write_test_png(lab.root + "/refs/dog/dog_big.png", 48, 40, 3, 1);
  std::string t = lab.standard();
  const Experiment e = load_experiment(lab.write(t));
  const Validation v = validate_experiment(e);
  const Issue* i = find_issue(v, "images have mixed sizes", true);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->line, line_with(t, "folders = [\"refs\"]"));
  EXPECT_NE(i->message.find("48x40 (1 file, e.g. " + lab.root + "/refs/dog/dog_big.png)"), std::string::npos) << i->message;
  EXPECT_NE(i->message.find("32x32"), std::string::npos);
  EXPECT_NE(i->message.find("set [images] fit = true and size = N"), std::string::npos);
  EXPECT_EQ(v.stimulus_width, 0);
  // With the policy the same files validate.
  replace(t, "[timing]", "[images]\nsize = 64\nfit = true\n\n[timing]");
  const Validation ok = validate_experiment(load_experiment(lab.write(t)));
  EXPECT_TRUE(ok.ok()) << (ok.errors().empty() ? "" : ok.errors()[0]);
  // fit without a box is refused while parsing.
  std::string t2 = lab.standard();
  replace(t2, "[timing]", "[images]\nfit = true\n\n[timing]");
  const std::string p2 = lab.write(t2, "exp2.toml");
  expect_located([&] { load_experiment(p2); }, p2, line_with(t2, "fit = true"), {"fit = true needs size = N"});
}

TEST(Validate, UnreadableImageIsNamed) {
  Lab lab("val-corrupt");
  mm::test::write_bytes(lab.root + "/refs/cat/cat_broken.png", "this is not a PNG");
  const Experiment e = load_experiment(lab.write(lab.standard()));
  const Validation v = validate_experiment(e);
  const Issue* i = find_issue(v, lab.root + "/refs/cat/cat_broken.png: not an image", true);
  ASSERT_NE(i, nullptr) << (v.errors().empty() ? "" : v.errors()[0]);
  EXPECT_EQ(i->line, line_with(lab.standard(), "folders = [\"refs\"]"));
}

// [SECTION] Blocks ------------------------------------------------------------------------
TEST(Validate, CategoriesMustBeAlternatives) {
  Lab lab("val-cats");
  mm::test::write_test_png(lab.root + "/refs/horse/horse_0.png", 32, 32, 3, 3);
  mm::test::write_test_png(lab.root + "/refs/horse/horse_1.png", 32, 32, 3, 4);
  const Validation v = validate_experiment(load_experiment(lab.write(lab.standard())));
  const Issue* i = find_issue(v, "has category \"horse\", which is not a response alternative", true);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(v.errors().size(), 1u);  // one error per category, not per file
}

TEST(Validate, BlocksNeedEnoughStimuli) {
  Lab lab("val-counts");
  std::string t = lab.standard();
  replace(t, "trials = 8", "trials = 20");
  const Validation v = validate_experiment(load_experiment(lab.write(t)));
  const Issue* i = find_issue(v, "trials = 20 but set \"practice\" has only 12 stimuli", true);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->line, line_with(t, "trials = 20"));
  // Without trials the demo block takes the whole set (12): a criterion above it is refused.
  std::string t2 = lab.standard();
  replace(t2, "trials = 8\n", "");
  replace(t2, "pass_min_correct = 5", "pass_min_correct = 15");
  const Validation v2 = validate_experiment(load_experiment(lab.write(t2)));
  const Issue* j = find_issue(v2, "pass_min_correct = 15 is more than its 12 trials", true);
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->line, line_with(t2, "pass_min_correct = 15"));
}

TEST(Validate, NotesForOverlapAndUnusedSets) {
  Lab lab("val-notes");
  std::string t = lab.standard();
  replace(t, "[sets.practice]", "[sets.spare]\nfolders = [\"practice\"]\n\n[sets.practice]");
  replace(t, "folders = [\"practice\"]\n\n[[metamers]]", "folders = [\"refs\"]\n\n[[metamers]]");
  const Validation v = validate_experiment(load_experiment(lab.write(t)));
  EXPECT_TRUE(v.ok());
  EXPECT_NE(find_issue(v, "[sets.spare] is not used by any block", false), nullptr);
  EXPECT_NE(find_issue(v, "block 2 (practice): 40 of its stimuli are also main-block references", false), nullptr);
}

// [SECTION] Audio -------------------------------------------------------------------------
std::string audio_toml() {
  return R"([experiment]
name = "words"
modality = "audio"

[responses]
alternatives = ["ba", "da", "ga"]

[audio]
sample_rate = 16000
clip_ms = 500

[timing]
fixation = 400
response = 3000
iti = 250

[sets.refs]
folders = ["wav"]

[sets.clear]
folders = ["clear"]

[[blocks]]
kind = "main"
set = "refs"
catch = 3
catch_set = "clear"
)";
}

TEST(Validate, AudioResamplingIsANoteAndBrokenWavAnError) {
  Lab lab("val-audio", 1);
  const std::vector<std::string> words = {"ba", "da", "ga"};
  for (size_t w = 0; w < words.size(); ++w) {
    for (int k = 0; k < 3; ++k)
      write_tone(lab.root + "/wav/" + words[w] + "/" + words[w] + std::to_string(k) + ".wav", 16000, 0.5, 200 + 50 * w + 10 * k);
    write_tone(lab.root + "/clear/" + words[w] + "/" + words[w] + ".wav", 16000, 0.5, 300 + 50 * w);
  }
  write_tone(lab.root + "/wav/da/da_cd.wav", 22050, 0.5, 440);
  const std::string t = audio_toml();
  const Experiment e = load_experiment(lab.write(t));
  EXPECT_EQ(e.timing.stimulus_ms, 500);  // the clip
  EXPECT_EQ(e.timing.mask_ms, 0);
  Validation v = validate_experiment(e);
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
  const Issue* n = find_issue(v, lab.root + "/wav/da/da_cd.wav: resampled 22050 Hz -> 16000 Hz", false);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->line, line_with(t, "folders = [\"wav\"]"));
  for (const auto& r : v.timing) EXPECT_NE(r.phase, "mask");

  mm::test::write_bytes(lab.root + "/wav/ga/ga_broken.wav", "RIFF0000WAVEjunk");
  v = validate_experiment(load_experiment(lab.write(t)));
  const Issue* b = find_issue(v, lab.root + "/wav/ga/ga_broken.wav", true);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(v.ok());
}

TEST(Validate, AudioMainCatchNeedsClips) {
  Lab lab("val-audio-catch", 1);
  std::string t = audio_toml();
  replace(t, "catch_set = \"clear\"\n", "");
  fs::create_directories(lab.root + "/wav/ba");
  write_tone(lab.root + "/wav/ba/x.wav", 16000, 0.5, 300);
  const std::string p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "catch = 3"), {"add catch_set"});
}

}  // namespace
