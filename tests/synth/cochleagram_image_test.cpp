// Tests of a sound file's cochleagram as a picture (synth/cochleagram_image.h), what the
// workbench's Stimuli panel shows for audio metamers: an audio model with a cochleagram layer
// (the bundled zoo:words16-standard) gives its own front end's; no model, an image model or a
// model that cannot be opened give the default cochleagram (211 channels x 390 frames for
// 2 s at 20 kHz) and say why; a tone lights the channels near its frequency; a file that is
// not a sound is one line naming it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "stimuli/stimuli.h"
#include "synth/cochleagram_image.h"
#include "tests/support/test_models.h"
#include "tests/testutil.h"

namespace {

using mm::synth::cochleagram_picture;
using mm::synth::CochleagramPicture;

std::string tone_file(const mm::test::TempDir& tmp, double hz) {
  mm::stimuli::Array a;
  a.shape = {20000};
  a.data.resize(20000);
  for (int i = 0; i < 20000; ++i) a.data[static_cast<size_t>(i)] = 0.2f * static_cast<float>(std::sin(2 * M_PI * hz * i / 20000));
  const std::string path = tmp / ("tone" + std::to_string(static_cast<int>(hz)) + ".wav");
  mm::stimuli::save_wav_float(path, a, 20000);
  return path;
}

// The channel with the largest summed value.
int64_t loudest_channel(const CochleagramPicture& p) {
  int64_t best = 0;
  double best_sum = -1;
  for (int64_t r = 0; r < p.channels; ++r) {
    double s = 0;
    for (int64_t t = 0; t < p.frames; ++t) s += p.values[static_cast<size_t>(r * p.frames + t)];
    if (s > best_sum) best_sum = s, best = r;
  }
  return best;
}

void expect_picture(const CochleagramPicture& p) {
  ASSERT_GT(p.channels, 0);
  ASSERT_GT(p.frames, 0);
  ASSERT_EQ(p.values.size(), static_cast<size_t>(p.channels * p.frames));
  EXPECT_EQ(*std::max_element(p.values.begin(), p.values.end()), 1.0f);
  EXPECT_GE(*std::min_element(p.values.begin(), p.values.end()), 0.0f);
}

TEST(CochleagramPicture, DefaultWithoutAnAudioModelAndSaysWhy) {
  mm::test::register_test_models();
  mm::test::TempDir tmp("coch_picture");
  const std::string low = tone_file(tmp, 300), high = tone_file(tmp, 3000);

  const CochleagramPicture a = cochleagram_picture(low, "");
  expect_picture(a);
  EXPECT_EQ(a.channels, 211);
  EXPECT_EQ(a.frames, 390);
  EXPECT_DOUBLE_EQ(a.seconds, 2.0);
  EXPECT_EQ(a.source, "the default cochleagram (synth/cochleagram.h: 20 kHz, 211 channels), not the model's: "
                      "no model recorded");
  const CochleagramPicture b = cochleagram_picture(high, "zoo:tiny-cnn");
  expect_picture(b);
  EXPECT_NE(b.source.find("not the model's: zoo:tiny-cnn is not an audio model"), std::string::npos) << b.source;
  EXPECT_GT(loudest_channel(b), loudest_channel(a) + 40);  // 3 kHz well above 300 Hz

  const CochleagramPicture c = cochleagram_picture(low, tmp / "no-model.pt");
  expect_picture(c);
  EXPECT_NE(c.source.find("not the model's: cannot open " + (tmp / "no-model.pt")), std::string::npos) << c.source;
  EXPECT_EQ(c.source.find('\n'), std::string::npos);
}

TEST(CochleagramPicture, AnAudioModelsOwnFrontEnd) {
  mm::test::TempDir tmp("coch_picture_model");
  const std::string wav = mm::test::source_dir() + "/stimuli/samples/words16/reference/bear/bear_00000.wav";
  ASSERT_TRUE(std::filesystem::exists(wav)) << wav;
  const CochleagramPicture p = cochleagram_picture(wav, "zoo:words16-standard");
  expect_picture(p);
  EXPECT_EQ(p.source, "zoo:words16-standard's own front end (its layer cochleagram)");
  EXPECT_GT(p.seconds, 0.5);
}

TEST(CochleagramPicture, AFileThatIsNotASoundIsOneLineNamingIt) {
  mm::test::TempDir tmp("coch_picture_bad");
  const std::string bad = tmp / "bad.wav";
  mm::test::write_bytes(bad, "not a sound");
  for (const std::string model : {"", "zoo:words16-standard"}) {
    const std::string m = mm::test::error_of([&] { cochleagram_picture(bad, model); });
    EXPECT_EQ(m.rfind("cochleagram of " + bad + ": ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

}  // namespace
