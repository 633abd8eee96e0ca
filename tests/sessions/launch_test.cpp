// Tests of the experimenter's launch screen (`metamerlab launch`, app/launch.h) on a private
// Xvfb: the screen renders (screenshot pixels), a valid experiment starts a session from it
// (the scripted experimenter types the code and number through SDL text events), which
// then is in the database; a malformed experiment shows its error, exactly as
// `metamerlab plan` words it, and starts nothing. Also the checks behind the screen
// (experiment files found, the participant's existing session) without a display.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <thread>

#include "app/display.h"
#include "app/launch.h"
#include "data/store.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;

using Cli = mm::test::Cli;

// Runs metamerlab with args on the test's Xvfb; stdout and stderr go to out_file.
Cli launch_cli(const std::vector<std::string>& args, const std::string& out_file, int timeout_s = 90) {
  return mm::test::run_metamerlab(args, out_file, {}, timeout_s);
}

// A small image experiment: 2 references and 1 practice image per category, icons.
std::string make_lab(const std::string& root) {
  mm::test::write_image_lab(root, {"boat", "cat", "dog"}, 2, 64, true);
  mm::test::write_bytes(root + "/lab.toml", R"([experiment]
name = "launch-lab"
modality = "image"
seed = 11

[responses]
alternatives = ["boat", "cat", "dog"]
icons = "icons"

[timing]
fixation = 100
stimulus = 100
mask = 100
iti = 50

[sets.refs]
folders = ["refs"]

[sets.practice]
folders = ["practice"]

[[blocks]]
kind = "instructions"
text = "Hello"

[[blocks]]
kind = "practice"
set = "practice"

[[blocks]]
kind = "main"
set = "refs"
)");
  return root + "/lab.toml";
}

// The screenshot, 800x600 RGB.
struct Shot {
  int w = 800, h = 600;
  std::vector<uint8_t> rgb;
  const uint8_t* at(int x, int y) const { return &rgb[(static_cast<size_t>(y) * w + x) * 3]; }
};

Shot read_shot(const std::string& path) {
  mm::stimuli::ImageSpec spec;
  spec.width = 800;
  spec.height = 600;
  const mm::stimuli::Array a = mm::stimuli::load_image(path, spec);
  Shot s;
  s.rgb.resize(800 * 600 * 3);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 800 * 600; ++i)
      s.rgb[static_cast<size_t>(i) * 3 + c] = static_cast<uint8_t>(std::lround(a.data[static_cast<size_t>(c) * 800 * 600 + i] * 255));
  return s;
}

struct Counts {
  size_t colours = 0, red = 0, green = 0, light = 0;
};

// Distinct colours; pixels of the error colour (red text), the ok colour (green text) and
// light (white-ish) text.
Counts count_pixels(const Shot& s) {
  std::set<int> colours;
  Counts c;
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const uint8_t* p = s.at(x, y);
      colours.insert(p[0] << 16 | p[1] << 8 | p[2]);
      if (p[0] > 200 && p[1] < 130 && p[2] < 130) ++c.red;
      if (p[1] > 190 && p[0] < 150 && p[2] < 150) ++c.green;
      if (p[0] > 200 && p[1] > 200 && p[2] > 200) ++c.light;
    }
  c.colours = colours.size();
  return c;
}

TEST(Launch, FindsExperimentFilesInTheGivenFolders) {
  mm::test::TempDir tmp("launch_files");
  for (const char* f : {"b.toml", "a.toml", "notes.txt", "sub/c.toml"}) mm::test::write_bytes(tmp / f, "x");
  mm::test::write_bytes(tmp / "booth.toml", "[station]\nname = \"booth\"\n[screen]\nwidth_cm = 40\n");  // a station profile
  const auto files = mm::app::find_experiment_files({tmp.path, tmp / "missing", tmp.path});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], fs::path(tmp / "a.toml").lexically_normal().string());
  EXPECT_EQ(files[1], fs::path(tmp / "b.toml").lexically_normal().string());
  EXPECT_TRUE(mm::data::valid_participant_code("P-007_a.b"));
  EXPECT_FALSE(mm::data::valid_participant_code("Ada Lovelace"));
  EXPECT_FALSE(mm::data::valid_participant_code(""));
  EXPECT_EQ(mm::experiments::format_duration(3 * 60 + 34.4), "3 min 34 s");
}

TEST(Launch, ValidExperimentRendersItsSummaryAndStartsASession) {
  mm::test::TempDir tmp("launch_ok");
  const std::string exp = make_lab(tmp.path), db = tmp / "s.db", shot = tmp / "launch.png";
  const Cli c = launch_cli({"launch", exp, "--db", db, "--windowed", "--width", "800", "--height", "600",
                            "--auto-start", "lx-9,4", "--screenshot", shot, "--auto", "correct", "--max-trials", "1"},
                           tmp / "out.txt");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("participant 4 (lx-9)"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("completed"), std::string::npos) << c.out;

  // The screen rendered: text of several colours, the green "validation ok", no red.
  const Counts px = count_pixels(read_shot(shot));
  EXPECT_GT(px.colours, 30u);
  EXPECT_GT(px.light, 500u);
  EXPECT_GT(px.green, 50u);
  EXPECT_EQ(px.red, 0u);

  // The session the Start button ran: the typed code and number, every planned trial.
  mm::data::Store s(db);
  const auto sessions = s.list_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].participant_code, "lx-9");
  EXPECT_EQ(sessions[0].participant_number, 4);
  EXPECT_EQ(sessions[0].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(sessions[0].planned, 2);  // --max-trials 1: one practice, one main trial
  EXPECT_EQ(sessions[0].answered, 2);

  // What the screen shows for that participant now, and for the next one.
  const mm::experiments::CheckedExperiment x = mm::experiments::check_experiment(exp, db, 60);
  ASSERT_TRUE(x.ok());
  const mm::app::LaunchPlan done = mm::app::plan_for_launch(x, 4, db);
  EXPECT_TRUE(done.blocked);
  EXPECT_NE(done.session_note.find("completed"), std::string::npos) << done.session_note;
  const mm::app::LaunchPlan next = mm::app::plan_for_launch(x, 5, db);
  ASSERT_TRUE(next.ok);
  EXPECT_FALSE(next.blocked);
  ASSERT_EQ(next.summary.blocks.size(), 3u);
  EXPECT_EQ(next.summary.blocks[1].trials, 3);  // practice: one per practice image
  EXPECT_EQ(next.summary.blocks[2].trials, 6);
  EXPECT_EQ(next.summary.trials, 9);
}

TEST(Launch, MalformedExperimentShowsTheErrorPlanReportsAndStartsNothing) {
  mm::test::TempDir tmp("launch_bad");
  std::string text = mm::test::read_bytes(make_lab(tmp.path));
  text.replace(text.find("seed = 11"), 9, "seed = 11\ncolour = \"red\"");  // unknown key on line 5
  mm::test::write_bytes(tmp / "bad.toml", text);
  const std::string db = tmp / "s.db", shot = tmp / "bad.png";
  const Cli c = launch_cli({"launch", tmp / "bad.toml", "--db", db, "--windowed", "--width", "800", "--height",
                            "600", "--auto-start", "lx-1,1", "--screenshot", shot, "--auto", "correct"},
                           tmp / "out.txt");
  EXPECT_EQ(c.code, 1) << c.out;
  const Cli plan = launch_cli({"plan", tmp / "bad.toml", "--participant", "1"}, tmp / "plan.txt");
  EXPECT_EQ(plan.code, 1) << plan.out;
  const std::string line = plan.out.substr(0, plan.out.find('\n'));
  EXPECT_NE(line.find("bad.toml:5:"), std::string::npos) << line;
  EXPECT_NE(line.find("colour"), std::string::npos) << line;
  EXPECT_NE(c.out.find(line + "\n"), std::string::npos) << "launch said:\n" << c.out << "plan said:\n" << line;
  EXPECT_EQ(c.out.find("launch: starting"), std::string::npos) << c.out;

  const Counts px = count_pixels(read_shot(shot));
  EXPECT_GT(px.colours, 30u);
  EXPECT_GT(px.red, 200u);   // the error lines
  EXPECT_EQ(px.green, 0u);   // no "validation ok"
  if (fs::exists(db)) {
    mm::data::Store s(db);
    EXPECT_TRUE(s.list_sessions().empty());
  }
}

}  // namespace
