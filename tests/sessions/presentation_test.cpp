// Tests of presentation fidelity through the program on a private Xvfb: `metamerlab
// calibrate` types photometer readings into its screen and writes the station's [gamma]
// table (the rest of the profile kept); `metamerlab run --station` with that profile shows
// a 16 px one-pixel checkerboard at 4x as exact blocks (nearest) on a gamma-corrected
// background and records the station (SHA-256, text), the scaling and the realized sizes
// per session and per trial; size_deg is converted with the station's geometry and refused
// without it; a too loud station gain is refused, a quieter one applied to what the wave
// backend writes and recorded; --station NAME finds a profile, or stays a label.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/display.h"
#include "data/sha256.h"
#include "data/store.h"
#include "experiments/station.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Cli = mm::test::Cli;

Cli run_cli(const std::vector<std::string>& args, const std::string& out_file,
            const std::vector<mm::test::EnvVar>& env = {}, int timeout_s = 90) {
  return mm::test::run_metamerlab(args, out_file, env, timeout_s);
}

// A w x h screenshot as 8-bit RGB.
mm::app::Image read_png(const std::string& path, int w, int h) {
  mm::stimuli::ImageSpec spec;
  spec.width = w;
  spec.height = h;
  const mm::stimuli::Array a = mm::stimuli::load_image(path, spec);
  mm::app::Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < w * h; ++i)
      img.rgb[static_cast<size_t>(i) * 3 + c] =
          static_cast<uint8_t>(std::lround(a.data[static_cast<size_t>(c) * w * h + i] * 255));
  return img;
}

// A 16 x 16 one-pixel checkerboard PNG (phase 0 or 1).
void write_checkerboard(const std::string& path, int phase) {
  mm::stimuli::Array a;
  a.shape = {3, 16, 16};
  a.data.resize(3 * 16 * 16);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) a.data[static_cast<size_t>((c * 16 + y) * 16 + x)] = (x + y + phase) % 2 ? 1.0f : 0.0f;
  fs::create_directories(fs::path(path).parent_path());
  mm::stimuli::save_png(path, a, 0, 1);
}

const std::vector<std::string> kCats = {"boat", "cat"};

// Two categories, one checkerboard reference each, 16 px icons; IMAGES is the [images] table.
std::string make_checker_lab(const std::string& root, const std::string& images) {
  for (size_t c = 0; c < kCats.size(); ++c) {
    write_checkerboard(root + "/refs/" + kCats[c] + "/" + kCats[c] + ".png", static_cast<int>(c));
    mm::test::write_test_png(root + "/icons/" + kCats[c] + ".png", 16, 16, 3, 900 + static_cast<unsigned>(c));
  }
  mm::test::write_bytes(root + "/exp.toml", R"([experiment]
name = "checker"
modality = "image"
seed = 1

[responses]
alternatives = ["boat", "cat"]
icons = "icons"

)" + images + R"(
[timing]
fixation = 50
stimulus = 100
mask = 50
response = 0
iti = 20

[sets.refs]
folders = ["refs"]

[[blocks]]
kind = "main"
set = "refs"
)");
  return root + "/exp.toml";
}

const char* kBooth = R"(# The test booth: an 800 x 600 px screen 40 cm wide, seen from 57 cm.
[station]
name = "test-booth"

[screen]
width_cm = 40
width_px = 800
height_px = 600
distance_cm = 57   # chin rest

[audio]
gain_db = 0
)";

TEST(Presentation, CalibrateThenRunWithNearestScalingGammaAndRecords) {
  mm::test::TempDir tmp("fidelity");
  const std::string station = tmp / "booth.toml";
  mm::test::write_bytes(station, kBooth);
  // A screen of gamma 2 from 0.5 to 100.5 cd/m², read at 5 levels (0, 64, 128, 191, 255).
  mm::test::write_bytes(tmp / "readings.csv", "level,luminance\n0,0.5\n64,6.799\n128,25.7\n191,56.6\n255,100.5\n");
  Cli cal = run_cli({"calibrate", "--station", station, "--levels", "5", "--windowed", "--width", "800", "--height",
                     "600", "--readings", tmp / "readings.csv", "--screenshot", tmp / "calibrate.png"},
                    tmp / "cal.txt");
  ASSERT_EQ(cal.code, 0) << cal.out;
  EXPECT_NE(cal.out.find("calibrate: wrote 5 levels (0.5 to 100.5 cd/m2, fitted gamma "), std::string::npos) << cal.out;
  const mm::experiments::Station st = mm::experiments::load_station(station);
  EXPECT_EQ(st.gamma.levels, (std::vector<int>{0, 64, 128, 191, 255}));
  EXPECT_EQ(st.gamma.luminance, (std::vector<double>{0.5, 6.799, 25.7, 56.6, 100.5}));
  EXPECT_FALSE(st.gamma.measured.empty());
  const std::string text = mm::test::read_bytes(station);
  EXPECT_EQ(text.rfind(kBooth, 0), 0u) << text;  // the profile as it was, [gamma] appended
  EXPECT_NE(cal.out.find(st.sha256), std::string::npos);
  // The calibrate screen at the middle level: raw drive 128 (no correction), text at the bottom.
  const mm::app::Image shot = read_png(tmp / "calibrate.png", 800, 600);
  EXPECT_EQ(shot.at(400, 300)[0], 128);
  EXPECT_EQ(shot.at(20, 20)[0], 128);
  int ink = 0;
  for (int y = 500; y < 600; ++y)
    for (int x = 0; x < 800; ++x) ink += std::abs(shot.at(x, y)[0] - 128) > 40;
  EXPECT_GT(ink, 200);

  // sRGB 128 (the background) on that screen: 21.59% of the range, between levels 64 and
  // 128: 64 + (0.21586 - 0.06299) / (0.252 - 0.06299) * 64 = 115.8.
  const std::vector<float> table = mm::experiments::gamma_correction_table(st.gamma);
  EXPECT_NEAR(table[128] * 255, 115.8, 0.1);
  const int background = static_cast<int>(std::lround(table[128] * 255));

  const std::string exp = make_checker_lab(tmp.path, "[images]\nsize = 64\n");  // 4x: nearest by default
  const std::string db = tmp / "s.db", shots = tmp / "shots";
  Cli run = run_cli({"run", exp, "--participant", "1", "--db", db, "--windowed", "--width", "800", "--height", "600",
                     "--auto", "correct", "--screenshots", shots, "--station", station},
                    tmp / "run.txt");
  ASSERT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("stimuli: 16x16 px shown at 64x64 px (4x, nearest"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("gamma: table of 5 levels"), std::string::npos) << run.out;

  // The stimulus screenshot: every stimulus pixel an exact 4 x 4 block, on the corrected grey.
  const mm::app::Image img = read_png(shots + "/trial0_stimulus.png", 800, 600);
  const int x0 = (800 - 64) / 2, y0 = (600 - 64) / 2;
  const int first = img.at(x0, y0)[0];
  ASSERT_TRUE(first == 0 || first == 255) << first;
  int inexact = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const int want = ((x / 4 + y / 4) % 2 == 0) == (first == 255) ? 255 : 0;
      inexact += img.at(x0 + x, y0 + y)[0] != want;
    }
  EXPECT_EQ(inexact, 0);
  EXPECT_NEAR(img.at(x0 - 1, y0)[0], background, 1);
  EXPECT_NEAR(img.at(20, 20)[0], background, 1);

  mm::data::Store s(db);
  const auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  const auto info = s.session(sessions[0].id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->session.station, "test-booth");
  const json dj = json::parse(info->session.display_json);
  EXPECT_EQ(dj["station"]["sha256"], mm::data::sha256_file(station));
  EXPECT_EQ(dj["station"]["text"], text);
  EXPECT_EQ(dj["station"]["name"], "test-booth");
  EXPECT_EQ(dj["gamma"]["method"], "shader");
  EXPECT_EQ(dj["stimulus"]["scaling_requested"], "automatic");
  ASSERT_EQ(dj["stimulus"]["sizes"].size(), 1u);
  EXPECT_EQ(dj["stimulus"]["sizes"][0]["scaling"], "nearest");
  EXPECT_EQ(dj["stimulus"]["sizes"][0]["shown_px"], json({64, 64}));
  const auto trials = s.trials_of_session(sessions[0].id);
  ASSERT_EQ(trials.size(), 2u);
  for (const auto& t : trials) {
    const json sz = json::parse(t.timing_json)["stimulus_size"];
    EXPECT_EQ(sz["scaling"], "nearest") << t.timing_json;
    EXPECT_EQ(sz["factor"], 4);
    EXPECT_EQ(sz["image_px"], json({16, 16}));
    EXPECT_EQ(sz["shown_px"], json({64, 64}));
    EXPECT_EQ(sz["rect"], json({x0, y0, 64, 64}));
    // 64 px at 20 px/cm = 3.2 cm seen from 57 cm: 2 atan(1.6 / 57) = 3.2158 deg.
    EXPECT_NEAR(sz["deg"][0].get<double>(), 3.2158, 1e-3);
  }
}

TEST(Presentation, LinearScalingIsChosenRecordedAndNotExact) {
  mm::test::TempDir tmp("fidelity_linear");
  const std::string exp = make_checker_lab(tmp.path, "[images]\nsize = 64\nscaling = \"linear\"\n");
  Cli run = run_cli({"run", exp, "--participant", "1", "--db", tmp / "s.db", "--windowed", "--width", "800",
                     "--height", "600", "--auto", "correct", "--screenshots", tmp / "shots"},
                    tmp / "run.txt");
  ASSERT_EQ(run.code, 0) << run.out;
  const mm::app::Image img = read_png(tmp / "shots/trial0_stimulus.png", 800, 600);
  int grey = 0;  // linear filtering mixes neighbouring texels
  for (int y = 268; y < 332; ++y)
    for (int x = 368; x < 432; ++x) grey += img.at(x, y)[0] > 20 && img.at(x, y)[0] < 235;
  EXPECT_GT(grey, 64 * 64 / 2);
  mm::data::Store s(tmp / "s.db");
  const auto trials = s.trials_of_session(s.list_sessions().at(0).id);
  EXPECT_EQ(json::parse(trials.at(0).timing_json)["stimulus_size"]["scaling"], "linear");
  const json dj = json::parse(s.session(s.list_sessions().at(0).id)->session.display_json);
  EXPECT_EQ(dj["gamma"]["method"], "none");
  EXPECT_TRUE(dj["station"]["profile"].is_null());
}

TEST(Presentation, SizeInDegreesNeedsAStationAndConvertsWithIt) {
  mm::test::TempDir tmp("fidelity_deg");
  mm::test::write_bytes(tmp / "booth.toml", kBooth);
  // 3.2 deg at 57 cm = 2 * 57 * tan(1.6 deg) = 3.1844 cm = 63.69 px at 20 px/cm: a 64 px box.
  const std::string exp = make_checker_lab(tmp.path, "[images]\nsize_deg = 3.2\n");
  const std::vector<std::string> base = {"run", exp, "--participant", "1", "--db", tmp / "s.db", "--windowed",
                                         "--width", "800", "--height", "600", "--auto", "correct"};
  Cli refused = run_cli(base, tmp / "refused.txt");
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find(exp + ":11: [images] size_deg = 3.2 needs the station's screen geometry"), std::string::npos)
      << refused.out;
  Cli plan = run_cli({"plan", exp, "--participant", "1", "--station", tmp / "booth.toml"}, tmp / "plan.txt");
  ASSERT_EQ(plan.code, 0) << plan.out;
  EXPECT_NE(plan.out.find("images       16x16 px shown at 64x64 px (4x, nearest; 3.22 x 3.22 deg)"), std::string::npos)
      << plan.out;
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--station", tmp / "booth.toml"});
  Cli ok = run_cli(args, tmp / "ok.txt");
  ASSERT_EQ(ok.code, 0) << ok.out;
  mm::data::Store s(tmp / "s.db");
  const auto trials = s.trials_of_session(s.list_sessions().at(0).id);
  const json sz = json::parse(trials.at(0).timing_json)["stimulus_size"];
  EXPECT_EQ(sz["box_px"], 64);
  EXPECT_EQ(sz["shown_px"], json({64, 64}));
  EXPECT_EQ(sz["scaling"], "nearest");
  // Too large for the station's 800 x 600 screen: refused at the line, with what fits.
  const std::string big = make_checker_lab(tmp / "big", "[images]\nsize_deg = 40\n");
  Cli large = run_cli({"plan", big, "--participant", "1", "--station", tmp / "booth.toml"}, tmp / "large.txt");
  EXPECT_EQ(large.code, 1) << large.out;
  EXPECT_NE(large.out.find(big + ":11: [images] size_deg = 40 (830 px) is larger than station test-booth's 800x600 px screen"),
            std::string::npos)
      << large.out;
}

std::string make_word_lab(const std::string& root) {
  mm::test::write_tone_words(root + "/words", {"bear", "bird"}, 1);
  mm::test::write_bytes(root + "/words.toml", R"([experiment]
name = "level"
modality = "audio"

[responses]
alternatives = ["bear", "bird"]

[audio]
sample_rate = 16000
clip_ms = 300

[timing]
fixation = 50
response = 0
iti = 20

[sets.words]
folders = ["words"]

[[blocks]]
kind = "main"
set = "words"
)");
  return root + "/words.toml";
}

TEST(Presentation, StationGainIsCheckedAppliedAndRecorded) {
  mm::test::TempDir tmp("fidelity_sound");
  const std::string exp = make_word_lab(tmp.path);
  const std::string wav = tmp / "out.wav";
  mm::test::write_bytes(tmp / "alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + wav + "\n");
  const std::vector<mm::test::EnvVar> env = {{"ALSOFT_CONF", tmp / "alsoft.conf"}, {"ALSOFT_DRIVERS", "", true}};
  // Sine clips at -20 dBFS RMS peak at -17 dBFS: +20 dB of gain would clip them.
  mm::test::write_bytes(tmp / "loud.toml", "[station]\nname = \"loud\"\n[audio]\ngain_db = 20\n");
  Cli loud = run_cli({"run", exp, "--participant", "1", "--db", tmp / "s.db", "--windowed", "--auto", "correct",
                      "--station", tmp / "loud.toml"},
                     tmp / "loud.txt", env);
  EXPECT_EQ(loud.code, 1) << loud.out;
  EXPECT_NE(loud.out.find(exp + ":18: 2 clip(s) would clip"), std::string::npos) << loud.out;
  EXPECT_NE(loud.out.find("station loud's gain_db = 20"), std::string::npos) << loud.out;

  mm::test::write_bytes(tmp / "quiet.toml", "[station]\nname = \"quiet\"\n[audio]\ngain_db = -6\nfixed_level = true\n");
  Cli quiet = run_cli({"run", exp, "--participant", "1", "--db", tmp / "s.db", "--windowed", "--auto", "correct",
                       "--station", tmp / "quiet.toml"},
                      tmp / "quiet.txt", env);
  ASSERT_EQ(quiet.code, 0) << quiet.out;
  mm::data::Store s(tmp / "s.db");
  const auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  const json aj = json::parse(s.session(sessions[0].id)->session.audio_json);
  EXPECT_EQ(aj["gain_db"], -6);
  EXPECT_EQ(aj["station"]["sha256"], mm::data::sha256_file(tmp / "quiet.toml"));
  EXPECT_EQ(aj["rms_dbfs"], -20);
  bool noted = false;
  for (const auto& e : s.session_events(sessions[0].id))
    noted |= e.detail.find("station gain -6.0 dB, listener +0.0 dB") != std::string::npos;
  EXPECT_TRUE(noted);
  for (const auto& t : s.trials_of_session(sessions[0].id)) {
    const json a = json::parse(t.timing_json)["audio"];
    EXPECT_EQ(a["gain_db"], -6);
    EXPECT_NEAR(a["peak_dbfs"].get<double>(), -16.99 - 6, 0.05);
  }
  // What the device wrote: the tone and the clips 6 dB below what a 0 dB station writes
  // (OpenAL's own mono-to-stereo panning scales both alike).
  mm::test::write_bytes(tmp / "unity.toml", "[station]\nname = \"unity\"\n[audio]\ngain_db = 0\n");
  const std::string wav0 = tmp / "out0.wav";
  mm::test::write_bytes(tmp / "alsoft0.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + wav0 + "\n");
  Cli unity = run_cli({"run", exp, "--participant", "2", "--db", tmp / "s.db", "--windowed", "--auto", "correct",
                       "--station", tmp / "unity.toml"},
                      tmp / "unity.txt", {{"ALSOFT_CONF", tmp / "alsoft0.conf"}, {"ALSOFT_DRIVERS", "", true}});
  ASSERT_EQ(unity.code, 0) << unity.out;
  auto peak_of = [](const std::string& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    EXPECT_NE(f, nullptr) << path;
    if (!f) return 0.0f;
    std::vector<float> out(static_cast<size_t>(info.frames) * info.channels);
    sf_readf_float(f, out.data(), info.frames);
    sf_close(f);
    float peak = 0;
    for (float x : out) peak = std::max(peak, std::fabs(x));
    return peak;
  };
  const float quiet_peak = peak_of(wav), unity_peak = peak_of(wav0);
  std::printf("output peaks: gain -6 dB %.4f, gain 0 dB %.4f (clips peak at 0.1414 before the device)\n", quiet_peak,
              unity_peak);
  ASSERT_GT(unity_peak, 0.01f);
  EXPECT_NEAR(quiet_peak / unity_peak, std::pow(10.0, -6.0 / 20), 0.02);
  EXPECT_LE(unity_peak, 0.1415f);
}

TEST(Presentation, StationNameIsLookedUpOrKeptAsALabel) {
  mm::test::TempDir tmp("fidelity_name");
  fs::create_directories(tmp / "stations");
  mm::test::write_bytes(tmp / "stations/booth.toml", kBooth);
  const std::string exp = make_checker_lab(tmp.path, "");
  const std::vector<mm::test::EnvVar> env = {{"METAMERLAB_STATIONS", tmp / "stations"}};
  for (const std::string name : {"booth", "room-3"}) {
    Cli c = run_cli({"run", exp, "--participant", name == "booth" ? "1" : "2", "--db", tmp / "s.db", "--windowed",
                     "--auto", "correct", "--station", name},
                    tmp / ("out-" + name + ".txt"), env);
    ASSERT_EQ(c.code, 0) << c.out;
  }
  mm::data::Store s(tmp / "s.db");
  for (const auto& x : s.list_sessions()) {
    const auto info = s.session(x.id);
    const json dj = json::parse(info->session.display_json);
    if (x.participant_number == 1) {
      EXPECT_EQ(info->session.station, "test-booth");
      EXPECT_EQ(dj["station"]["sha256"], mm::data::sha256_file(tmp / "stations/booth.toml"));
    } else {
      EXPECT_EQ(info->session.station, "room-3");
      EXPECT_TRUE(dj["station"]["profile"].is_null());
    }
    // No [images] size: the stimuli at their own size.
    EXPECT_EQ(dj["stimulus"]["sizes"][0]["scaling"], "none");
  }
  Cli bad = run_cli({"run", exp, "--participant", "3", "--db", tmp / "s.db", "--windowed", "--auto", "correct",
                     "--station", tmp / "nope.toml"},
                    tmp / "bad.txt", env);
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("nope.toml: no such station profile"), std::string::npos) << bad.out;
}

TEST(Presentation, AResumedSessionNotesTheStationItResumedOn) {
  mm::test::TempDir tmp("fidelity_resume");
  mm::test::write_bytes(tmp / "booth.toml", kBooth);
  const std::string exp = make_checker_lab(tmp.path, "[images]\nsize = 32\n");
  mm::test::write_bytes(tmp / "abort.csv", "1,@abort,250\n");
  std::vector<std::string> args = {"run", exp, "--participant", "1", "--db", tmp / "s.db", "--windowed", "--auto",
                                   tmp / "abort.csv"};
  Cli first = run_cli(args, tmp / "first.txt");
  ASSERT_EQ(first.code, 4) << first.out;
  args.back() = "correct";
  args.insert(args.end(), {"--station", tmp / "booth.toml"});
  Cli again = run_cli(args, tmp / "again.txt");
  ASSERT_EQ(again.code, 0) << again.out;
  mm::data::Store s(tmp / "s.db");
  const auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  std::string note;
  for (const auto& e : s.session_events(sessions[0].id))
    if (e.detail.rfind("resumed on station", 0) == 0) note = e.detail;
  EXPECT_NE(note.find("resumed on station test-booth (profile sha256 " + mm::data::sha256_file(tmp / "booth.toml") + ")"),
            std::string::npos)
      << note;
  EXPECT_NE(note.find("stimuli 16x16 px shown at 32x32 px (2x, nearest; "), std::string::npos) << note;
  // The session's own provenance is the first run's: no station profile.
  EXPECT_TRUE(json::parse(s.session(sessions[0].id)->session.display_json)["station"]["profile"].is_null());
}

TEST(Presentation, CalibrateRefusesFallingReadingsAndWritesNothing) {
  mm::test::TempDir tmp("fidelity_cal_bad");
  mm::test::write_bytes(tmp / "booth.toml", kBooth);
  mm::test::write_bytes(tmp / "readings.txt", "0.5\n30\n20\n");
  Cli c = run_cli({"calibrate", "--station", tmp / "booth.toml", "--levels", "3", "--windowed", "--readings",
                   tmp / "readings.txt"},
                  tmp / "out.txt");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("below the previous level's 30"), std::string::npos) << c.out;
  EXPECT_EQ(mm::test::read_bytes(tmp / "booth.toml"), kBooth);
  mm::test::write_bytes(tmp / "readings.txt", "0.5\n30\n");
  c = run_cli({"calibrate", "--station", tmp / "booth.toml", "--levels", "3", "--windowed", "--readings",
               tmp / "readings.txt"},
              tmp / "out2.txt");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("readings.txt: 2 readings for 3 levels"), std::string::npos) << c.out;
}

}  // namespace
