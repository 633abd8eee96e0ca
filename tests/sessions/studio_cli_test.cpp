// Tests of `metamerlab studio` (the experimenter's workbench, app/studio.h) through the
// program on a private Xvfb: metamers synthesized by the program (zoo:tiny-cnn on the
// bundled emoji16 sample, few steps) shown by the Stimuli panel in its scripted screenshot
// (thumbnails and pass/fail marks on the pixels), the settings file written under
// XDG_CONFIG_HOME and read back, a corrupt one reported in one line, and a bad --panel
// refused with one line and exit 2. The panels themselves are tested in-process
// (tests/app/studio_test.cpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "app/studio_settings.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using mm::test::Cli;

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(StudioCli, ShowsSynthesizedMetamersAndRemembersItsSettings) {
  mm::test::TempDir tmp("studio_cli");
  const std::string db = tmp / "m.db", xdg = tmp / "xdg", shot = tmp / "stimuli.png";
  const std::vector<mm::test::EnvVar> env{{"XDG_CONFIG_HOME", xdg}};
  const Cli synth = mm::test::run_metamerlab(
      {"synth", "--model", "zoo:tiny-cnn", "--layers", "conv1", "--input",
       mm::test::source_dir() + "/stimuli/samples/emoji16/reference", "--out", tmp / "out", "--db", db, "--iterations",
       "5", "--rounds", "1", "--null-pairs", "30", "--threads", "1", "--quiet"},
      tmp / "synth.txt", env, 300);
  ASSERT_EQ(synth.code, 0) << synth.out;

  const Cli c = mm::test::run_metamerlab({"studio", "--db", db, "--panel", "Stimuli", "--screenshot", shot, "--width",
                                          "1000", "--height", "700"},
                                         tmp / "studio.txt", env, 120);
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(c.out, "");
  if (const char* keep = std::getenv("METAMERLAB_KEEP_SCREENSHOTS"))  // to look at it
    fs::copy_file(shot, std::string(keep) + "/studio_cli_stimuli.png", fs::copy_options::overwrite_existing);
  // The grid: the rows in view, each a reference and its metamer (many colours) with the
  // metamer's pass (green) or FAIL (red) mark.
  mm::stimuli::ImageSpec spec;
  spec.width = 1000;
  spec.height = 700;
  const mm::stimuli::Array a = mm::stimuli::load_image(shot, spec);
  std::set<int> colours;
  size_t marks = 0;
  const size_t n = 1000 * 700;
  for (size_t i = 0; i < n; ++i) {
    const int r = static_cast<int>(a.data[i] * 255 + 0.5f), g = static_cast<int>(a.data[n + i] * 255 + 0.5f),
              b = static_cast<int>(a.data[2 * n + i] * 255 + 0.5f);
    colours.insert(r << 16 | g << 8 | b);
    marks += (g > 190 && r < 150 && b < 150) || (r > 200 && g < 130 && b < 130);  // pass green, fail red
  }
  EXPECT_GT(colours.size(), 1000u);
  EXPECT_GT(marks, 1000u);

  // Remembered under XDG_CONFIG_HOME, and the next start opens the same database and panel.
  const std::string settings = xdg + "/metamerlab/studio.toml";
  std::ostringstream warn;
  const mm::app::StudioSettings s = mm::app::read_studio_settings(settings, warn);
  EXPECT_EQ(warn.str(), "");
  EXPECT_EQ(s.database, db);
  EXPECT_EQ(s.panel, "Stimuli");
  EXPECT_EQ(s.width, 1000);
  EXPECT_EQ(s.height, 700);
  const Cli again = mm::test::run_metamerlab({"studio", "--screenshot", tmp / "again.png"}, tmp / "again.txt", env, 120);
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(mm::app::read_studio_settings(settings, warn).database, db);

  // A corrupt settings file: one line, the defaults, and the studio still opens.
  mm::test::write_bytes(settings, "width = 5\n");
  const Cli bad = mm::test::run_metamerlab({"studio", "--db", db, "--screenshot", tmp / "bad.png"}, tmp / "bad.txt", env, 120);
  EXPECT_EQ(bad.code, 0) << bad.out;
  EXPECT_EQ(lines(bad.out), 1u) << bad.out;
  EXPECT_NE(bad.out.find("metamerlab: studio: settings " + settings + ":1: width must be"), std::string::npos) << bad.out;
  EXPECT_TRUE(fs::exists(tmp / "bad.png"));

  // A panel that does not exist: one line, exit 2, nothing opened.
  const Cli panel = mm::test::run_metamerlab({"studio", "--panel", "Designer"}, tmp / "panel.txt", env, 60);
  EXPECT_EQ(panel.code, 2) << panel.out;
  EXPECT_EQ(lines(panel.out), 1u) << panel.out;
  EXPECT_NE(panel.out.find("--panel Designer is not a panel"), std::string::npos) << panel.out;
}

}  // namespace
