// Tests for station profiles and presentation fidelity before a session: parsing with
// located errors, writing and round trips, replacing [gamma] in place, --station look-up,
// degrees <-> pixels (hand-computed), the [images] scaling and size_deg keys and their
// validation (snapping, refusals at FILE:LINE), the gamma correction table (hand-computed),
// and refusing clips that would clip after RMS normalization and the station's gain.
//
// Sections
//   [SECTION] Profiles
//   [SECTION] Geometry
//   [SECTION] Experiments with a station
//   [SECTION] Gamma
//   [SECTION] Sound level
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "data/sha256.h"
#include "experiments/experiment.h"
#include "experiments/station.h"
#include "tests/experiments/lab.h"

namespace {

using namespace mm::experiments;
using namespace mm::experiments::testing;
namespace fs = std::filesystem;

const std::string kProfile = R"(# booth 1, the dark room
[station]
name = "booth-1"
description = "Eizo CG2700X, chin rest"

[screen]
width_cm = 50
width_px = 1920
height_px = 1080
distance_cm = 57

[gamma]
# measured 2026-11-01 with a Konica LS-150
levels = [0, 128, 255]
luminance = [0, 20, 100]

[audio]
device = "Built-in Audio Analog Stereo"
gain_db = -6
tone_dbfs = -20
tone_spl_db = 72.5
)";

// [SECTION] Profiles ----------------------------------------------------------------------
TEST(Station, ProfileLoadsWithEveryTable) {
  const Station s = parse_station(kProfile, "booth-1.toml");
  EXPECT_EQ(s.name, "booth-1");
  EXPECT_EQ(s.description, "Eizo CG2700X, chin rest");
  EXPECT_DOUBLE_EQ(s.screen.width_cm, 50);
  EXPECT_EQ(s.screen.width_px, 1920);
  EXPECT_EQ(s.screen.height_px, 1080);
  EXPECT_DOUBLE_EQ(s.screen.distance_cm, 57);
  EXPECT_TRUE(s.screen.known());
  EXPECT_EQ(s.gamma.kind, GammaKind::table);
  EXPECT_EQ(s.gamma.levels, (std::vector<int>{0, 128, 255}));
  EXPECT_EQ(s.gamma.luminance, (std::vector<double>{0, 20, 100}));
  EXPECT_EQ(s.audio.device, "Built-in Audio Analog Stereo");
  EXPECT_DOUBLE_EQ(s.audio.gain_db, -6);
  EXPECT_DOUBLE_EQ(s.audio.tone_spl_db, 72.5);
  EXPECT_EQ(s.sha256, mm::data::sha256_hex(kProfile.data(), kProfile.size()));
  EXPECT_EQ(s.text, kProfile);
  EXPECT_EQ(s.line("screen.distance_cm"), line_with(kProfile, "distance_cm"));
  // No [station] table: the file's stem names it; every table is optional.
  const Station bare = parse_station("[gamma]\ngamma = 2.2\n", "/x/lab-pc.toml");
  EXPECT_EQ(bare.name, "lab-pc");
  EXPECT_EQ(bare.gamma.kind, GammaKind::power);
  EXPECT_FALSE(bare.screen.known());
}

TEST(Station, SerializedProfileRoundTrips) {
  Station s = parse_station(kProfile, "booth-1.toml");
  s.audio.fixed_level = true;
  s.description = "with \"quotes\" and a \\ backslash";
  const Station back = parse_station(station_to_toml(s), "again.toml");
  EXPECT_EQ(back.name, s.name);
  EXPECT_EQ(back.description, s.description);
  EXPECT_DOUBLE_EQ(back.screen.width_cm, s.screen.width_cm);
  EXPECT_EQ(back.screen.width_px, s.screen.width_px);
  EXPECT_EQ(back.screen.height_px, s.screen.height_px);
  EXPECT_DOUBLE_EQ(back.screen.distance_cm, s.screen.distance_cm);
  EXPECT_EQ(back.gamma.levels, s.gamma.levels);
  EXPECT_EQ(back.gamma.luminance, s.gamma.luminance);
  EXPECT_EQ(back.audio.device, s.audio.device);
  EXPECT_DOUBLE_EQ(back.audio.gain_db, s.audio.gain_db);
  EXPECT_TRUE(back.audio.fixed_level);
  EXPECT_DOUBLE_EQ(back.audio.tone_spl_db, s.audio.tone_spl_db);
  // A power-law gamma survives too, and a saved profile loads from its file.
  mm::test::TempDir tmp("station-save");
  s.gamma = GammaCalibration{};
  s.gamma.kind = GammaKind::power;
  s.gamma.gamma = 2.4;
  save_station_text(tmp / "s.toml", station_to_toml(s));
  const Station loaded = load_station(tmp / "s.toml");
  EXPECT_EQ(loaded.gamma.kind, GammaKind::power);
  EXPECT_DOUBLE_EQ(loaded.gamma.gamma, 2.4);
  EXPECT_EQ(loaded.path, fs::absolute(tmp / "s.toml").lexically_normal().string());
  // A profile that would not load is never written.
  EXPECT_THROW(save_station_text(tmp / "s.toml", "[screen]\nwidth_cm = 50\n"), ExperimentError);
  EXPECT_EQ(load_station(tmp / "s.toml").gamma.gamma, 2.4);
}

TEST(Station, ErrorsAreLocatedWithAFix) {
  auto bad = [](std::string text, const std::string& from, const std::string& to, const std::string& at,
                std::initializer_list<std::string> parts) {
    replace(text, from, to);
    expect_located([&] { parse_station(text, "p.toml"); }, "p.toml", line_with(text, at), parts);
  };
  bad(kProfile, "distance_cm = 57", "distanse_cm = 57", "distanse_cm", {"unknown key \"distanse_cm\"", "did you mean \"distance_cm\""});
  bad(kProfile, "distance_cm = 57\n", "", "[screen]", {"[screen] needs distance_cm"});
  bad(kProfile, "distance_cm = 57", "distance_cm = 2", "distance_cm = 2", {"out of range", "cm"});
  bad(kProfile, "width_px = 1920", "width_px = \"1920\"", "width_px", {"must be a whole number"});
  bad(kProfile, "levels = [0, 128, 255]", "levels = [0, 128, 100]", "levels = [0, 128, 100]", {"levels must rise", "100 follows 128"});
  bad(kProfile, "luminance = [0, 20, 100]", "luminance = [0, 20, 10]", "luminance = [0, 20, 10]",
      {"luminance falls from 20 to 10", "measure again"});
  bad(kProfile, "levels = [0, 128, 255]", "levels = [16, 128, 255]", "levels = [16", {"start at 0 and end at 255"});
  bad(kProfile, "luminance = [0, 20, 100]", "luminance = [0, 20]", "luminance = [0, 20]", {"2 readings for 3 levels"});
  bad(kProfile, "[gamma]\n", "[gamma]\ngamma = 2.2\n", "gamma = 2.2", {"both gamma and a measured table"});
  bad(kProfile, "gain_db = -6", "gain_db = 30", "gain_db = 30", {"out of range", "dB"});
  bad(kProfile, "[audio]", "[audio\n", "[audio", {"TOML syntax error"});
}

TEST(Station, GammaTableIsReplacedKeepingEveryOtherLine) {
  GammaCalibration g;
  g.kind = GammaKind::table;
  g.levels = {0, 64, 128, 191, 255};
  g.luminance = {0.5, 5.25, 21, 52.75, 110};
  g.measured = "2026-11-30T10:00:00Z";
  const std::string out = with_gamma_table(kProfile, g);
  const Station s = parse_station(out, "p.toml");
  EXPECT_EQ(s.gamma.levels, g.levels);
  EXPECT_EQ(s.gamma.luminance, g.luminance);
  EXPECT_EQ(s.gamma.measured, g.measured);
  // Everything before [gamma] and from [audio] on is byte for byte what it was.
  const size_t gamma_at = kProfile.find("[gamma]"), audio_at = kProfile.find("[audio]");
  EXPECT_EQ(out.substr(0, gamma_at), kProfile.substr(0, gamma_at));
  EXPECT_EQ(out.substr(out.find("[audio]")), kProfile.substr(audio_at));
  EXPECT_EQ(out.find("Konica"), std::string::npos);  // the old table's own comment went with it
  // A profile without [gamma] gets one at the end.
  const std::string bare = "[station]\nname = \"x\"  # no gamma yet";
  const std::string added = with_gamma_table(bare, g);
  EXPECT_EQ(added.rfind(bare + "\n\n[gamma]\n", 0), 0u) << added;
  EXPECT_EQ(parse_station(added, "p.toml").gamma.levels, g.levels);
}

TEST(Station, StationArgumentIsAFileANameOrALabel) {
  mm::test::TempDir tmp("station-choose");
  mm::test::write_bytes(tmp / "booth-1.toml", kProfile);
  fs::create_directories(tmp / "stations");
  mm::test::write_bytes(tmp / "stations/booth-2.toml", "[station]\nname = \"booth two\"\n");
  ::setenv("METAMERLAB_STATIONS", (tmp / "stations").c_str(), 1);
  const StationChoice file = choose_station(tmp / "booth-1.toml");
  ASSERT_TRUE(file.profile);
  EXPECT_EQ(file.label, "booth-1");
  const StationChoice named = choose_station("booth-2");
  ASSERT_TRUE(named.profile);
  EXPECT_EQ(named.label, "booth two");
  const StationChoice label = choose_station("room-3");  // as before profiles: a label only
  EXPECT_FALSE(label.profile);
  EXPECT_EQ(label.label, "room-3");
  EXPECT_FALSE(choose_station("").profile);
  const std::string msg = mm::test::error_of<ExperimentError>([&] { choose_station(tmp / "missing.toml"); });
  EXPECT_NE(msg.find("no such station profile"), std::string::npos) << msg;
  ::unsetenv("METAMERLAB_STATIONS");
}

// [SECTION] Geometry ----------------------------------------------------------------------
TEST(StationGeometry, DegreesToPixelsByHand) {
  ScreenGeometry g{50, 1920, 1080, 57};
  // 38.4 px/cm; 1 deg = 2 * 57 cm * tan(0.5 deg) = 0.99486 cm = 38.2027 px.
  EXPECT_NEAR(g.px_per_cm(), 38.4, 1e-12);
  EXPECT_NEAR(g.deg_to_px(1), 38.2027, 1e-3);
  // 4 deg = 2 * 57 * tan(2 deg) = 3.98097 cm = 152.869 px.
  EXPECT_NEAR(g.deg_to_px(4), 152.869, 1e-3);
  EXPECT_NEAR(g.px_to_deg(g.deg_to_px(7.5)), 7.5, 1e-9);
  // 160 px = 4.16667 cm: 2 atan(4.16667 / 114) = 4.18643 deg.
  EXPECT_NEAR(g.px_to_deg(160), 4.18643, 1e-4);
}

TEST(StationGeometry, RealizedSizesUnderEachScaling) {
  ScreenGeometry g{50, 1920, 1080, 57};
  ImagePolicy p;
  p.size = 256;
  StimulusSize s = realize_stimulus_size(64, 64, p, &g);  // automatic at 4x: nearest
  EXPECT_EQ(s.scaling, Scaling::nearest);
  EXPECT_EQ(s.factor, 4);
  EXPECT_EQ(s.width, 256);
  EXPECT_NEAR(s.width_deg, g.px_to_deg(256), 1e-12);
  p.size = 200;  // 3.125x: automatic falls back to linear, nearest snaps to 3x
  EXPECT_EQ(realize_stimulus_size(64, 64, p, nullptr).scaling, Scaling::linear);
  p.scaling = Scaling::nearest;
  s = realize_stimulus_size(64, 64, p, nullptr);
  EXPECT_TRUE(s.snapped);
  EXPECT_EQ(s.width, 192);
  EXPECT_EQ(s.width_deg, 0);  // no screen geometry: no degrees
  p.size = 40;  // nearest cannot shrink
  EXPECT_NE(realize_stimulus_size(64, 64, p, nullptr).problem.find("cannot shrink"), std::string::npos);
  p.scaling = Scaling::linear;
  s = realize_stimulus_size(64, 32, p, nullptr);  // uniform: the larger side fills the box
  EXPECT_EQ(s.width, 40);
  EXPECT_EQ(s.height, 20);
  p = ImagePolicy{};  // no box: native size
  s = realize_stimulus_size(64, 64, p, &g);
  EXPECT_EQ(s.scaling, Scaling::none);
  EXPECT_EQ(s.width, 64);
  p.size_deg = 4;  // 152.869 px -> a 153 px box; the 32 px stimuli snap to 5x = 160 px
  p.scaling = Scaling::nearest;
  s = realize_stimulus_size(32, 32, p, &g);
  EXPECT_EQ(s.box_px, 153);
  EXPECT_EQ(s.width, 160);
  EXPECT_NEAR(s.width_deg, 4.18643, 1e-4);
  EXPECT_NE(realize_stimulus_size(32, 32, p, nullptr).problem.find("size_deg needs"), std::string::npos);
}

// [SECTION] Experiments with a station ----------------------------------------------------
std::string with_images(const std::string& images) {
  std::string t = standard_toml();
  replace(t, "MAIN_EXTRA", "");
  replace(t, "[sets.refs]", images + "\n[sets.refs]");
  return t;
}

TEST(StationValidate, SizeDegConvertsWithTheStationsGeometry) {
  Lab lab("st-deg");
  const std::string t = with_images("[images]\nsize_deg = 4\nscaling = \"nearest\"\n");
  const Experiment e = load_experiment(lab.write(t));
  EXPECT_DOUBLE_EQ(e.images.size_deg, 4);
  EXPECT_EQ(e.images.scaling, Scaling::nearest);
  const Station st = parse_station(kProfile, "booth-1.toml");
  ValidateOptions o;
  o.station = &st;
  const Validation v = validate_experiment(e, o);
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
  EXPECT_EQ(v.stimulus.width, 160);  // 32 px at 5x (the 153 px box snapped)
  EXPECT_EQ(v.stimulus.scaling, Scaling::nearest);
  EXPECT_NEAR(v.stimulus.width_deg, 4.18643, 1e-4);
  const Issue* n = find_issue(v, "size_deg = 4 (153 px) is not a whole multiple of the 32 px stimuli", false);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->line, line_with(t, "scaling = \"nearest\""));
  EXPECT_NE(n->message.find("160x160 px (5x, 4.186 deg)"), std::string::npos) << n->message;
}

TEST(StationValidate, SizeDegWithoutGeometryOrTooLargeIsRefusedAtItsLine) {
  Lab lab("st-deg-bad");
  const std::string t = with_images("[images]\nsize_deg = 40\n");
  const Experiment e = load_experiment(lab.write(t));
  Validation v = validate_experiment(e);  // no station
  const Issue* i = find_issue(v, "size_deg = 40 needs the station's screen geometry", true);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->line, line_with(t, "size_deg = 40"));
  EXPECT_NE(i->message.find("pass --station"), std::string::npos);
  const Station st = parse_station(kProfile, "booth-1.toml");
  ValidateOptions o;
  o.station = &st;
  v = validate_experiment(e, o);  // 40 deg = 2 * 57 * tan(20 deg) cm = 1593 px > 1080
  i = find_issue(v, "is larger than station booth-1's 1920x1080 px screen", true);
  ASSERT_NE(i, nullptr) << (v.errors().empty() ? "" : v.errors()[0]);
  EXPECT_EQ(i->line, line_with(t, "size_deg = 40"));
  EXPECT_NE(i->message.find("at most 1080 px (27.72 deg) fits"), std::string::npos) << i->message;
  // A station without [screen] cannot convert either.
  const Station no_screen = parse_station("[station]\nname = \"x\"\n", "x.toml");
  o.station = &no_screen;
  EXPECT_NE(find_issue(validate_experiment(e, o), "station x has no [screen] table", true), nullptr);
}

TEST(StationValidate, ScalingKeysAreCheckedAndNotedAtTheirLines) {
  Lab lab("st-scaling");
  std::string t = with_images("[images]\nsize = 100\n");  // 32 px stimuli at 3.125x
  Validation v = validate_experiment(load_experiment(lab.write(t)));
  EXPECT_TRUE(v.ok());
  const Issue* n = find_issue(v, "size = 100 px is 3.125x the 32 px stimuli: drawn with linear filtering", false);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->line, line_with(t, "size = 100"));
  EXPECT_NE(n->message.find("make the box 96 or 128 px"), std::string::npos) << n->message;
  EXPECT_EQ(v.stimulus.scaling, Scaling::linear);

  t = with_images("[images]\nsize = 20\nscaling = \"nearest\"\n");  // cannot shrink
  v = validate_experiment(load_experiment(lab.write(t)));
  const Issue* e = find_issue(v, "nearest scaling cannot shrink the 32x32 px stimuli into a 20 px box", true);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->line, line_with(t, "scaling = \"nearest\""));

  t = with_images("[images]\nsize = 128\n");  // whole factor: nearest, no note
  v = validate_experiment(load_experiment(lab.write(t)));
  EXPECT_EQ(v.stimulus.scaling, Scaling::nearest);
  EXPECT_EQ(v.stimulus.factor, 4);
  EXPECT_EQ(find_issue(v, "[images]", false), nullptr);

  t = with_images("[images]\nsize = 128\nscaling = \"none\"\n");
  std::string p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "size = 128"), {"scaling = \"none\" shows stimuli at their own size"});
  t = with_images("[images]\nscaling = \"cubic\"\n");
  p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "cubic"), {"scaling must be \"nearest\""});
  t = with_images("[images]\nsize = 128\nsize_deg = 3\n");
  p = lab.write(t);
  expect_located([&] { load_experiment(p); }, p, line_with(t, "size_deg = 3"), {"both size", "keep one"});
}

// [SECTION] Gamma -------------------------------------------------------------------------
TEST(StationGamma, CorrectionTableByHand) {
  EXPECT_NEAR(srgb_to_linear(128 / 255.0), 0.215861, 1e-6);
  EXPECT_NEAR(srgb_to_linear(64 / 255.0), 0.0512695, 1e-6);
  EXPECT_NEAR(srgb_to_linear(10 / 255.0), 10 / 255.0 / 12.92, 1e-12);
  const Station s = parse_station(kProfile, "booth-1.toml");  // levels 0, 128, 255 at 0, 20, 100 cd/m²
  const std::vector<float> t = gamma_correction_table(s.gamma);
  ASSERT_EQ(t.size(), 256u);
  EXPECT_EQ(t[0], 0.0f);
  EXPECT_NEAR(t[255], 1.0, 1e-6);
  // sRGB 64 wants 5.127% of the range: below 20% (level 128), so 0.05127 / 0.2 * 128 = 32.81.
  EXPECT_NEAR(t[64] * 255, 32.81, 0.01);
  // sRGB 128 wants 21.586%: 128 + (0.21586 - 0.2) / 0.8 * 127 = 130.52.
  EXPECT_NEAR(t[128] * 255, 130.52, 0.01);
  for (int i = 1; i < 256; ++i) EXPECT_GE(t[i], t[i - 1]) << i;
  // A linear screen (gamma 1) needs the sRGB decoding itself: 128 -> 55.05.
  GammaCalibration lin;
  lin.kind = GammaKind::power;
  lin.gamma = 1;
  EXPECT_NEAR(gamma_correction_table(lin)[128] * 255, 55.045, 0.01);
  // An sRGB-like screen (gamma 2.2) needs almost nothing: 128 -> 127.1.
  lin.gamma = 2.2;
  EXPECT_NEAR(gamma_correction_table(lin)[128] * 255, 127.1, 0.1);
  EXPECT_TRUE(gamma_correction_table(GammaCalibration{}).empty());  // no calibration: identity
  // A fitted gamma of a table made from a power law gives the power back.
  std::vector<int> levels = calibration_levels(9);
  EXPECT_EQ(levels, (std::vector<int>{0, 32, 64, 96, 128, 159, 191, 223, 255}));
  std::vector<double> y;
  for (int l : levels) y.push_back(0.5 + 120 * std::pow(l / 255.0, 2.3));
  EXPECT_NEAR(fitted_gamma(levels, y), 2.3, 1e-9);
}

// [SECTION] Sound level -------------------------------------------------------------------
std::string words_toml() {
  return R"([experiment]
name = "words"
modality = "audio"

[responses]
alternatives = ["ba", "da"]

[audio]
sample_rate = 16000
clip_ms = 500

[sets.refs]
folders = ["wav"]

[[blocks]]
kind = "main"
set = "refs"
)";
}

TEST(StationSound, ClipsThatWouldClipAfterGainAreRefused) {
  Lab lab("st-sound", 1);
  // Sine clips: normalized to -20 dBFS RMS they peak at -16.99 dBFS.
  write_tone(lab.root + "/wav/ba/ba.wav", 16000, 0.5, 300);
  write_tone(lab.root + "/wav/da/da.wav", 16000, 0.5, 400);
  std::string t = words_toml();
  const Experiment e = load_experiment(lab.write(t));
  EXPECT_NEAR(e.audio.rms(), 0.1, 1e-12);
  Validation v = validate_experiment(e);
  EXPECT_TRUE(v.ok());
  EXPECT_NEAR(20 * std::log10(v.audio_peak), -16.99, 0.05);
  // +16 dB of station gain: -0.99 dBFS, fine; +20 dB: +3.0 dBFS, refused at the set's line.
  Station st = parse_station("[audio]\ngain_db = 16\n", "loud.toml");
  ValidateOptions o;
  o.station = &st;
  EXPECT_TRUE(validate_experiment(e, o).ok());
  st.audio.gain_db = 20;
  v = validate_experiment(e, o);
  const Issue* i = find_issue(v, "2 clip(s) would clip", true);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->line, line_with(t, "folders = [\"wav\"]"));
  EXPECT_NE(i->message.find("peaks at +3.01 dBFS after normalization to rms_dbfs = -20 and station loud's gain_db = 20"),
            std::string::npos)
      << i->message;
  EXPECT_NE(i->message.find("lower [audio] rms_dbfs to -23.06 or less"), std::string::npos) << i->message;
  // A click (one sample in 8000) normalized to -20 dBFS RMS peaks far above full scale,
  // even without a station; a lower rms_dbfs lets it through.
  mm::stimuli::Array click;
  click.shape = {8000};
  click.data.assign(8000, 0.0f);
  click.data[4000] = 0.5f;
  mm::stimuli::save_wav_float(lab.root + "/wav/da/click.wav", click, 16000);
  v = validate_experiment(load_experiment(lab.write(t)));
  EXPECT_NE(find_issue(v, "the loudest, " + lab.root + "/wav/da/click.wav, peaks at +19", true), nullptr)
      << (v.errors().empty() ? "" : v.errors()[0]);
  replace(t, "clip_ms = 500", "clip_ms = 500\nrms_dbfs = -40");
  v = validate_experiment(load_experiment(lab.write(t)));
  EXPECT_TRUE(v.ok()) << (v.errors().empty() ? "" : v.errors()[0]);
}

}  // namespace
