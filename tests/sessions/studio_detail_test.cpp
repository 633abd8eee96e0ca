// The Stimuli panel's detail view (app/studio_detail.h) on databases made by real synth runs
// of the tests' metamerlab program: a clicked metamer of zoo:tiny-cnn (in-process on the
// test's Xvfb, real SDL events) shows the loss curve the engine recorded, point for point,
// drawn in its plot; and `metamerlab studio --select ID` on an audio metamer of the bundled
// zoo:words16-standard shows both cochleagrams, computed by the program (torch) in the
// background before its scripted screenshot. Playing sound and the panel's lines for missing
// devices are tested in-process (tests/app/studio_detail_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/studio.h"
#include "data/library.h"
#include "data/store.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using mm::app::StudioOptions;
using mm::app::StudioProbe;

// The first reference of each category, copied from the bundled sample SET.
std::string make_input(const mm::test::TempDir& tmp, const std::string& set, const std::vector<std::string>& cats) {
  const std::string in = tmp / ("in-" + set);
  const fs::path src = fs::path(mm::test::source_dir()) / "stimuli/samples" / set / "reference";
  for (const auto& c : cats) {
    fs::create_directories(fs::path(in) / c);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(src / c)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    fs::copy_file(files.at(0), fs::path(in) / c / files.at(0).filename());
  }
  return in;
}

std::vector<mm::data::LibraryMetamer> library(const std::string& db) {
  mm::data::Store s(db);
  return mm::data::library_metamers(s);
}

TEST(StudioDetailSynth, AClickedMetamerShowsTheLossCurveTheEngineRecorded) {
  mm::test::TempDir tmp("studio_detail_synth");
  const std::string db = tmp / "m.db";
  const mm::test::Cli synth = mm::test::run_metamerlab(
      {"synth", "--model", "zoo:tiny-cnn", "--layers", "conv1", "--input", make_input(tmp, "emoji16", {"bear", "car"}),
       "--out", tmp / "out", "--db", db, "--iterations", "40", "--rounds", "2", "--null-pairs", "30", "--threads", "1",
       "--quiet"},
      tmp / "synth.txt", {}, 300);
  ASSERT_EQ(synth.code, 0) << synth.out;
  const auto lib = library(db);
  ASSERT_EQ(lib.size(), 2u);
  const int64_t id = lib[0].id;
  mm::data::Store store(db);
  const auto full = mm::data::library_metamer(store, id);
  ASSERT_TRUE(full.has_value());
  std::vector<std::pair<int64_t, double>> recorded;
  for (const auto& p : nlohmann::json::parse(full->metamer.loss_curve_json))
    recorded.emplace_back(p[0].get<int64_t>(), p[1].get<double>());
  ASSERT_GE(recorded.size(), 5u) << full->metamer.loss_curve_json;
  EXPECT_EQ(recorded.back().first, 80);  // 2 rounds of 40 steps

  mm::test::ensure_xvfb();
  StudioOptions o;
  o.db = db;
  o.panel = "Stimuli";
  o.width = 1100, o.height = 760;
  int stage = 0;
  int64_t at = 0;
  StudioProbe seen;
  mm::app::Image shot;
  o.probe = [&](StudioProbe& p) {
    const auto cell = std::find_if(p.cells.begin(), p.cells.end(), [&](const auto& c) { return c.metamer_id == id; });
    if (stage == 0 && cell != p.cells.end() && p.pending_thumbnails == 0 && p.frame > 3)
      p.display->move_pointer(cell->rect.cx(), cell->rect.cy()), at = p.frame, stage = 1;
    else if (stage == 1 && p.frame == at + 2)
      p.display->push_click(cell->rect.cx(), cell->rect.cy()), at = p.frame, stage = 2;
    else if (stage == 2 && p.selected == id && !p.loss_curve.empty() && p.pending_thumbnails == 0)
      seen = p, shot = p.display->capture(), p.quit = true;
    if (p.frame > 400) ADD_FAILURE() << "still open at stage " << stage, p.quit = true;
  };
  std::ostringstream out, err;
  mm::app::run_studio(o, out, err);
  EXPECT_EQ(err.str(), "");
  ASSERT_EQ(stage, 2);
  EXPECT_EQ(seen.loss_curve, recorded);
  EXPECT_EQ(seen.loss_message, "");
  ASSERT_GT(shot.width, 0);
  if (const char* dir = std::getenv("METAMERLAB_KEEP_SCREENSHOTS")) mm::app::save_png(std::string(dir) + "/studio_synth_curve.png", shot);
  // The plot has drawn: the curve's blue among its pixels.
  const mm::app::Rect& r = seen.loss_plot;
  ASSERT_GT(r.w, 100);
  ASSERT_LE(r.y + r.h, shot.height);
  size_t blue = 0;
  for (int y = static_cast<int>(r.y); y < static_cast<int>(r.y + r.h); ++y)
    for (int x = static_cast<int>(r.x); x < static_cast<int>(r.x + r.w); ++x) {
      const uint8_t* q = shot.at(x, y);
      blue += q[2] > 200 && q[0] < 140 && q[1] > 120 && q[1] < 210;
    }
  EXPECT_GT(blue, 100u);
}

TEST(StudioDetailSynth, TheProgramShowsAnAudioMetamersCochleagrams) {
  mm::test::TempDir tmp("studio_detail_audio");
  const std::string db = tmp / "m.db", shot = tmp / "audio.png";
  const std::vector<mm::test::EnvVar> env{{"XDG_CONFIG_HOME", tmp / "xdg"}};
  const mm::test::Cli synth = mm::test::run_metamerlab(
      {"synth", "--model", "zoo:words16-standard", "--layers", "stage1", "--input", make_input(tmp, "words16", {"bear"}),
       "--out", tmp / "out", "--db", db, "--iterations", "4", "--rounds", "1", "--threads", "1", "--quiet"},
      tmp / "synth.txt", env, 300);
  ASSERT_EQ(synth.code, 0) << synth.out;
  const auto lib = library(db);
  ASSERT_EQ(lib.size(), 1u);
  ASSERT_NE(lib[0].metamer.wav_path, "");

  // The window opened at the metamer: its screenshot is taken once both cochleagrams are in.
  const mm::test::Cli c = mm::test::run_metamerlab({"studio", "--db", db, "--panel", "Stimuli", "--select",
                                                    std::to_string(lib[0].id), "--screenshot", shot, "--width", "1100",
                                                    "--height", "760"},
                                                   tmp / "studio.txt", env, 120);
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(c.out, "");
  if (const char* keep = std::getenv("METAMERLAB_KEEP_SCREENSHOTS"))
    fs::copy_file(shot, std::string(keep) + "/studio_cli_cochleagrams.png", fs::copy_options::overwrite_existing);
  mm::stimuli::ImageSpec spec;
  spec.width = 1100;
  spec.height = 760;
  const mm::stimuli::Array a = mm::stimuli::load_image(shot, spec);
  // The cochleagrams' colours (violet through orange), which nothing else in the panel uses.
  const size_t n = 1100 * 760;
  size_t violet = 0, orange = 0;
  for (size_t i = 0; i < n; ++i) {
    const int r = static_cast<int>(a.data[i] * 255 + 0.5f), g = static_cast<int>(a.data[n + i] * 255 + 0.5f),
              b = static_cast<int>(a.data[2 * n + i] * 255 + 0.5f);
    violet += r > 40 && r < 140 && g < 50 && b > 80 && b < 160;
    orange += r > 200 && g > 110 && g < 190 && b < 100;
  }
  EXPECT_GT(violet, 500u);
  EXPECT_GT(orange, 50u);
}

}  // namespace
