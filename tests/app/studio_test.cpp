// Tests of the experimenter's workbench (app/studio.h) under a private Xvfb, driven through
// SDL's event queue (Display::push_key, move_pointer + push_click) from the test probe:
// Ctrl+Tab, Ctrl+number and a click on a tab switch panels, Ctrl+= changes the text size,
// Ctrl+Q closes it; the settings file is written and read back (a corrupt one gives one
// line and the defaults); with a small database made through the store API the Sessions
// panel shows its sessions and the Stimuli panel its grid of thumbnails with pass/fail
// marks, filtered by category, and a clicked cell's measures (checked through the probe
// and on the screenshot's pixels); a clicked (or Up/Down) session's details, the Results
// panel's table against proportions computed here from the trials written, its plot on the
// screenshot, its export buttons, its recomputation when the database changes. Also the
// settings file's reader and the frame intervals of a timing record on their own.
#include <gtest/gtest.h>

#include <SDL.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "analysis/results.h"
#include "app/results_input.h"
#include "app/session_timing.h"
#include "app/studio.h"
#include "app/studio_settings.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/set_table.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

using namespace mm::app;
namespace fs = std::filesystem;

namespace {

// Runs the workbench on the test's Xvfb with a probe; returns what it printed on stderr.
std::string run(StudioOptions o, const std::function<void(StudioProbe&)>& probe, int* code = nullptr,
                int64_t max_frames = 400) {
  mm::test::ensure_xvfb();
  if (o.width == 0 && o.settings.empty()) o.width = 1024, o.height = 700;  // else the remembered size
  o.probe = [&](StudioProbe& p) {
    probe(p);
    if (p.frame > max_frames) {  // a script that never quits is a failure, not a hang
      ADD_FAILURE() << "the workbench was still open at frame " << p.frame;
      p.quit = true;
    }
  };
  std::ostringstream out, err;
  const int c = run_studio(o, out, err);
  if (code) *code = c;
  return err.str();
}

// A small database: two sessions, and eight metamers (model zoo:tiny-cnn at two layers for
// four references of two categories) whose PNGs exist (out/<layer>/<category>/<name>_m.png);
// boat_0 fails at conv2.
struct Lab {
  std::string db, refs, out;
};
Lab make_lab(const mm::test::TempDir& tmp) {
  Lab lab{tmp / "lab.db", tmp / "refs", tmp / "out"};
  mm::test::write_image_set(lab.refs, {"boat", "cat"}, 2, 64);
  mm::test::write_image_set(lab.out + "/conv1", {"boat", "cat"}, 2, 64, "{cat}/{cat}_{k}_m.png", 500);  // as synth lays them out
  mm::test::write_image_set(lab.out + "/conv2", {"boat", "cat"}, 2, 64, "{cat}/{cat}_{k}_m.png", 700);
  mm::data::Store s(lab.db);
  mm::data::ModelRecord model{"zoo:tiny-cnn", "", std::string(64, 'a'), "image", "{}"};
  const int64_t model_id = s.upsert_model(model);
  mm::data::SynthRunRecord run{model_id, "metamerlab synth", "{}", lab.out, "test"};
  const int64_t run_id = s.begin_synth_run(run);
  for (const std::string layer : {"conv1", "conv2"})
    for (const std::string cat : {"boat", "cat"})
      for (int k = 0; k < 2; ++k) {
        mm::data::MetamerRecord m;
        m.run_id = run_id;
        m.reference_path = lab.refs + "/" + cat + "/" + cat + "_" + std::to_string(k) + ".png";
        m.reference_sha256 = cat + std::to_string(k);
        m.category = cat;
        m.layer = layer;
        m.iterations = 200;
        m.final_loss = 0.0125;
        m.spearman = 0.91;
        m.pearson = 0.88;
        m.snr_db = 17.5;
        m.null_spearman_max = 0.31;
        m.null_pearson_max = 0.33;
        m.null_snr_max = 2.5;
        m.pred_metamer = m.pred_reference = cat;
        m.passed = !(layer == "conv2" && cat == "boat" && k == 0);
        if (!m.passed) m.spearman = 0.12, m.pred_metamer = "cat";
        m.status = m.passed ? "ok" : "failed";
        m.converged = 1;
        m.png_path = lab.out + "/" + layer + "/" + cat + "/" + cat + "_" + std::to_string(k) + "_m.png";
        s.add_metamer(m);
      }
  s.finish_synth_run(run_id, "done", 1.0);
  const auto session = [&](const std::string& code, int64_t number, int planned, int answered,
                           mm::data::SessionStatus status) {
    mm::data::SessionRecord r;
    r.participant_code = code;
    r.participant_number = number;
    r.experiment_path = tmp / "lab.toml";
    r.experiment_sha256 = "e1";
    r.experiment_name = "studio-lab";
    r.plan_json = "{}";
    r.planned_trials = planned;
    r.display_json = r.audio_json = "{}";
    const int64_t id = s.create_session(r);
    for (int i = 0; i < answered; ++i) {
      mm::data::TrialRecord t;
      t.session_id = id;
      t.trial_index = i;
      t.block_kind = t.phase = "main";
      t.condition = t.planned_condition = "natural";
      t.category = "cat";
      t.alternatives_json = "[]";
      t.timing_json = "{}";
      s.add_trial(t);
    }
    if (status != mm::data::SessionStatus::running) s.finish_session(id, status);
  };
  session("P-ada", 1, 2, 2, mm::data::SessionStatus::completed);
  session("P-bo", 2, 3, 1, mm::data::SessionStatus::running);
  return lab;
}

// METAMERLAB_KEEP_SCREENSHOTS=DIR keeps the tests' screenshots there (to look at them).
void keep(const mm::app::Image& img, const std::string& name) {
  if (const char* dir = std::getenv("METAMERLAB_KEEP_SCREENSHOTS")) save_png(std::string(dir) + "/" + name, img);
}

size_t count(const mm::app::Image& img, bool (*pred)(const uint8_t*)) {
  size_t n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) n += pred(img.at(x, y));
  return n;
}

}  // namespace

// [SECTION] Settings ----------------------------------------------------------------------
TEST(StudioSettings, WrittenAtomicallyAndReadBackBadFilesGiveTheDefaultsAndOneLine) {
  mm::test::TempDir tmp("studio_settings");
  const std::string f = tmp / "cfg/metamerlab/studio.toml";
  std::ostringstream warn;
  EXPECT_EQ(read_studio_settings(f, warn), StudioSettings{});  // missing: the defaults, silently
  EXPECT_EQ(warn.str(), "");
  StudioSettings s;
  s.font_px = 23;
  s.width = 900;
  s.height = 640;
  s.database = tmp / "a \"quoted\" db.db";
  s.panel = "Sessions";
  for (int i = 0; i < 10; ++i) remember_experiment(s, "/e/" + std::to_string(i) + ".toml");
  remember_experiment(s, "/e/5.toml");  // again: moves to the front, once
  ASSERT_EQ(s.experiments.size(), StudioSettings::kMaxRecent);
  EXPECT_EQ(s.experiments[0], "/e/5.toml");
  EXPECT_EQ(s.experiments[1], "/e/9.toml");
  write_studio_settings(f, s);
  EXPECT_FALSE(fs::exists(f + ".tmp"));
  EXPECT_EQ(read_studio_settings(f, warn), s);
  EXPECT_EQ(warn.str(), "");

  for (const std::string& bad : std::vector<std::string>{"font_px = [", "font_px = 3", "width = \"wide\"", "panel = \"Designer\"",
                                "colour = 1", "experiments = [1, 2]", std::string("\xff\xfe", 2)}) {
    mm::test::write_bytes(f, bad + "\n");
    std::ostringstream w;
    EXPECT_EQ(read_studio_settings(f, w), StudioSettings{}) << bad;
    const std::string line = w.str();
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
    EXPECT_NE(line.find("metamerlab: studio: settings " + f + ":1: "), std::string::npos) << line;
    EXPECT_NE(line.find("using the defaults"), std::string::npos) << line;
  }
  const char* had_xdg = std::getenv("XDG_CONFIG_HOME");
  const std::string home = std::getenv("HOME") ? std::getenv("HOME") : "", xdg = had_xdg ? had_xdg : "";
  setenv("XDG_CONFIG_HOME", (tmp / "xdg").c_str(), 1);
  EXPECT_EQ(studio_settings_path(), tmp / "xdg/metamerlab/studio.toml");
  unsetenv("XDG_CONFIG_HOME");
  setenv("HOME", tmp.path.c_str(), 1);
  EXPECT_EQ(studio_settings_path(), tmp / ".config/metamerlab/studio.toml");
  setenv("HOME", home.c_str(), 1);
  if (had_xdg) setenv("XDG_CONFIG_HOME", xdg.c_str(), 1);
}

// [SECTION] Window ------------------------------------------------------------------------
TEST(Studio, KeysAndClicksSwitchPanelsTheTextSizeChangesAndTheSettingsAreRemembered) {
  mm::test::TempDir tmp("studio_keys");
  StudioOptions o;
  o.settings = tmp / "cfg/metamerlab/studio.toml";
  o.db = tmp / "none.db";
  std::map<int64_t, std::string> shown;  // frame -> panel
  std::vector<Rect> tabs;
  float font = 0, tab_w17 = 0, tab_w20 = 0;
  int code = -1;
  std::pair<int, int> resized;
  const std::string err = run(o, [&](StudioProbe& p) {
    shown[p.frame] = p.panel;
    tabs = p.tabs;
    if (p.frame == 11) tab_w17 = p.tabs[0].w;  // before and after the text size changed
    if (p.frame == 20) tab_w20 = p.tabs[0].w;
    font = p.font_px;
    Display& d = *p.display;
    if (p.frame == 3) d.push_key("Tab", true);             // Start (the default) -> Experiment
    if (p.frame == 6) d.push_key("4", true);               // -> Sessions
    if (p.frame == 9) d.push_key("Tab", true, true);       // back -> Synthesis
    if (p.frame == 12) for (int i = 0; i < 3; ++i) d.push_key("=", true);  // 17 -> 20 px
    if (p.frame == 15) d.move_pointer(p.tabs[1].cx(), p.tabs[1].cy());     // the Stimuli tab
    if (p.frame == 17) d.push_click(p.tabs[1].cx(), p.tabs[1].cy());
    if (p.frame == 18) d.set_window_size(1100, 760);       // as a window manager resizes it
    if (p.frame == 21) resized = {d.width(), d.height()};
    if (p.frame == 21) d.push_key("Q", true);
  }, &code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(err, "");
  EXPECT_EQ(shown[2], "Start");
  EXPECT_EQ(shown[5], "Experiment");
  EXPECT_EQ(shown[8], "Sessions");
  EXPECT_EQ(shown[11], "Synthesis");
  EXPECT_EQ(shown[20], "Stimuli");
  EXPECT_EQ(font, 20);
  EXPECT_NEAR(tab_w20 / tab_w17, 20.0 / 17.0, 0.08) << tab_w17 << " -> " << tab_w20;  // the text did grow
  ASSERT_EQ(tabs.size(), studio_panels().size());
  for (size_t i = 1; i < tabs.size(); ++i) EXPECT_GT(tabs[i].x, tabs[i - 1].x);  // one row of tabs
  EXPECT_LE(shown.rbegin()->first, 23) << "Ctrl+Q closed it";

  // Written at the end, and read back by the next start: its panel, text size and database.
  std::ostringstream warn;
  const StudioSettings s = read_studio_settings(o.settings, warn);
  EXPECT_EQ(warn.str(), "");
  EXPECT_EQ(s.panel, "Stimuli");
  EXPECT_EQ(s.font_px, 20);
  EXPECT_EQ(s.database, o.db);
  // The window was resized: drawn at its new size, and that size remembered.
  EXPECT_EQ(resized, std::make_pair(1100, 760)) << "the drawable size after the resize (Xvfb: 1 pixel per point)";
  EXPECT_EQ(s.width, 1100);
  EXPECT_EQ(s.height, 760);
  StudioOptions again;
  again.settings = o.settings;
  std::string first;
  float font2 = 0;
  std::string status;
  std::pair<int, int> opened;
  run(again, [&](StudioProbe& p) {
    if (first.empty()) first = p.panel, font2 = p.font_px, opened = p.display->window_size();  // the first panel shown
    if (p.frame == 2) p.display->push_key("4", true);
    if (p.frame == 4) status = p.status, p.quit = true;
  });
  EXPECT_EQ(first, "Stimuli");
  EXPECT_EQ(font2, 20);
  EXPECT_EQ(opened, std::make_pair(1100, 760));
  EXPECT_NE(status.find("no database at " + o.db), std::string::npos) << status;  // remembered, not created
  EXPECT_FALSE(fs::exists(o.db));

  // A corrupt settings file: one line, the defaults, and a good file written at the end.
  mm::test::write_bytes(o.settings, "font_px = [\n");
  std::string panel;
  const std::string err3 = run(again, [&](StudioProbe& p) {
    panel = p.panel;
    font = p.font_px;
    if (p.frame == 3) p.quit = true;
  });
  EXPECT_EQ(std::count(err3.begin(), err3.end(), '\n'), 1) << err3;
  EXPECT_NE(err3.find("using the defaults"), std::string::npos) << err3;
  EXPECT_EQ(panel, "Start");
  EXPECT_EQ(font, 17);
  EXPECT_EQ(read_studio_settings(o.settings, warn).panel, "Start");
  EXPECT_EQ(warn.str(), "");

  int bad = -1;
  StudioOptions designer;
  designer.panel = "Designer";
  const std::string err4 = run(designer, [](StudioProbe& p) { p.quit = true; }, &bad);
  EXPECT_EQ(bad, 2);
  EXPECT_NE(err4.find("--panel Designer is not a panel"), std::string::npos) << err4;
}

TEST(Studio, SessionsAndStimuliPanelsShowTheDatabase) {
  mm::test::TempDir tmp("studio_db");
  const Lab lab = make_lab(tmp);
  StudioOptions o;
  o.db = lab.db;
  o.panel = "Sessions";
  std::vector<mm::data::SessionSummary> rows;
  std::vector<StudioProbe::Cell> all, filtered;
  std::vector<std::string> categories;
  std::string detail, filter;
  int64_t selected = 0;
  int stage = 0;
  int64_t at = 0, first = 0, open_frames = 0;
  mm::app::Image shot, sessions_shot;
  run(o, [&](StudioProbe& p) {
    Display& d = *p.display;
    switch (stage) {
      case 0:  // Sessions
        if (p.frame == 3) rows = p.sessions, sessions_shot = d.capture(), d.push_key("2", true), stage = 1;
        break;
      case 1:  // Stimuli: wait for every thumbnail, then click boat_0 at conv2 (the failed one)
        if (p.panel == "Stimuli" && !p.cells.empty() && first == 0) first = p.frame;
        // Three frames later: the table has sized its columns to the images.
        if (first > 0 && p.frame >= first + 3 && p.pending_thumbnails == 0) {
          all = p.cells;
          categories = p.categories;
          for (const auto& c : p.cells)
            if (c.layer == "conv2" && c.reference.find("boat_0") != std::string::npos) {
              d.move_pointer(c.rect.cx(), c.rect.cy());
              at = p.frame, stage = 2;
            }
        }
        break;
      case 2:
        if (p.frame == at + 2) {
          for (const auto& c : p.cells)
            if (c.layer == "conv2" && c.reference.find("boat_0") != std::string::npos) d.push_click(c.rect.cx(), c.rect.cy());
          at = p.frame, stage = 3;
        }
        break;
      case 3:  // the detail view, once its two large images are in
        if (p.selected != 0 && p.pending_thumbnails == 0 && p.frame > at + 2) {
          selected = p.selected;
          detail = p.detail;
          shot = d.capture();
          // The category filter: open it, pick "cat".
          d.move_pointer(p.category_combo.cx(), p.category_combo.cy());
          at = p.frame, stage = 4;
        }
        break;
      case 4:
        if (p.frame == at + 2) d.push_click(p.category_combo.cx(), p.category_combo.cy()), at = p.frame, stage = 5;
        break;
      case 5:  // the list is open below the combo: "All", "boat", "cat"
        if (p.category_items.size() == 3 && ++open_frames >= 3) {  // placed after its first frames
          d.move_pointer(p.category_items[2].cx(), p.category_items[2].cy());
          at = p.frame, stage = 6;
        }
        break;
      case 6:
        if (p.frame == at + 2 && p.category_items.size() == 3)
          d.push_click(p.category_items[2].cx(), p.category_items[2].cy()), at = p.frame, stage = 7;
        break;
      case 7:
        if (p.frame == at + 3) filtered = p.cells, filter = p.category, p.quit = true;
        break;
    }
  });

  // Sessions: both, with participant, experiment, status and answered/planned.
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].participant_code, "P-ada");
  EXPECT_EQ(rows[0].status, mm::data::SessionStatus::completed);
  EXPECT_EQ(rows[0].answered, 2);
  EXPECT_EQ(rows[0].planned, 2);
  EXPECT_EQ(rows[1].participant_code, "P-bo");
  EXPECT_EQ(rows[1].status, mm::data::SessionStatus::running);
  EXPECT_EQ(rows[1].answered, 1);
  EXPECT_EQ(rows[1].planned, 3);
  EXPECT_EQ(rows[1].experiment_name, "studio-lab");
  // On screen: the green "completed" and the yellow "running".
  ASSERT_GT(sessions_shot.width, 0);
  keep(sessions_shot, "studio_sessions.png");
  EXPECT_GT(count(sessions_shot, [](const uint8_t* p) { return p[1] > 190 && p[0] < 150 && p[2] < 150; }), 30u);
  EXPECT_GT(count(sessions_shot, [](const uint8_t* p) { return p[0] > 200 && p[1] > 170 && p[2] < 120; }), 30u);

  // Stimuli: 4 references x 2 layers, every thumbnail on screen, one failure.
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(categories, (std::vector<std::string>{"All", "boat", "cat"}));
  int failed = 0;
  for (const auto& c : all) {
    EXPECT_TRUE(c.thumbnail) << c.reference;
    EXPECT_EQ(c.model, "zoo:tiny-cnn");
    failed += !c.passed;
    if (!c.passed) {
      EXPECT_EQ(c.layer, "conv2");
      EXPECT_NE(c.reference.find("boat_0"), std::string::npos);
    }
  }
  EXPECT_EQ(failed, 1);
  ASSERT_NE(selected, 0) << "the click selected no cell";
  EXPECT_NE(detail.find("zoo:tiny-cnn, layer conv2"), std::string::npos) << detail;
  EXPECT_NE(detail.find("FAILED"), std::string::npos) << detail;
  EXPECT_NE(detail.find("Spearman rho 0.120 vs null max 0.310"), std::string::npos) << detail;
  EXPECT_NE(detail.find("SNR dB 17.50 vs null max 2.50"), std::string::npos) << detail;
  EXPECT_NE(detail.find("predicted: metamer \"cat\", reference \"boat\""), std::string::npos) << detail;
  EXPECT_NE(detail.find("final loss 0.0125 after 200 steps; converged: yes"), std::string::npos) << detail;

  // The filter: only the cat references remain.
  EXPECT_EQ(filter, "cat");
  ASSERT_EQ(filtered.size(), 4u);
  for (const auto& c : filtered) EXPECT_EQ(c.category, "cat");

  // The screenshot of the detail view: thumbnails (many colours), the green pass marks and
  // the red FAIL mark and measures.
  ASSERT_GT(shot.width, 0);
  keep(shot, "studio_stimuli.png");
  const size_t green = count(shot, [](const uint8_t* p) { return p[1] > 190 && p[0] < 150 && p[2] < 150; });
  const size_t red = count(shot, [](const uint8_t* p) { return p[0] > 200 && p[1] < 130 && p[2] < 130; });
  EXPECT_GT(green, 1000u);
  EXPECT_GT(red, 200u);
}

TEST(Studio, StartIsTheLaunchScreenAndTheExperimentIsRemembered) {
  mm::test::TempDir tmp("studio_start");
  mm::test::write_image_lab(tmp.path, {"boat", "cat"}, 2, 32, false);
  mm::test::write_bytes(tmp / "lab.toml", R"([experiment]
name = "studio-start"
modality = "image"

[responses]
alternatives = ["boat", "cat"]
icons = "icons"

[timing]
fixation = 100
stimulus = 100
mask = 100

[sets.refs]
folders = ["refs"]

[[blocks]]
kind = "main"
set = "refs"
)");
  StudioOptions o;
  o.experiment = tmp / "lab.toml";
  o.db = tmp / "s.db";
  o.settings = tmp / "studio.toml";
  o.panel = "Start";
  mm::app::Image shot;
  std::string panel;
  run(o, [&](StudioProbe& p) {
    panel = p.panel;
    if (p.frame == 5) shot = p.display->capture(), p.quit = true;
  });
  EXPECT_EQ(panel, "Start");
  keep(shot, "studio_start.png");
  // The launch screen's green "validation ok" line, and no red error.
  ASSERT_GT(shot.width, 0);
  EXPECT_GT(count(shot, [](const uint8_t* p) { return p[1] > 190 && p[0] < 150 && p[2] < 150; }), 50u);
  EXPECT_EQ(count(shot, [](const uint8_t* p) { return p[0] > 200 && p[1] < 130 && p[2] < 130; }), 0u);
  std::ostringstream warn;
  const StudioSettings s = read_studio_settings(o.settings, warn);
  ASSERT_FALSE(s.experiments.empty());
  EXPECT_EQ(s.experiments[0], fs::path(tmp / "lab.toml").lexically_normal().string());
  EXPECT_FALSE(fs::exists(o.db)) << "looking is not writing";
}

TEST(Studio, ThumbnailsLoadOnlyForCellsInView) {
  mm::test::TempDir tmp("studio_lazy");
  mm::test::write_image_set(tmp / "refs", {"boat", "cat"}, 20, 32);
  {
    mm::data::Store s(tmp / "lazy.db");
    const int64_t model = s.upsert_model({"zoo:tiny-cnn", "", std::string(64, 'b'), "image", "{}"});
    const int64_t run_id = s.begin_synth_run({model, "metamerlab synth", "{}", tmp / "out", "test"});
    for (const std::string cat : {"boat", "cat"})
      for (int k = 0; k < 20; ++k) {
        mm::data::MetamerRecord m;
        m.run_id = run_id;
        m.reference_path = m.png_path = tmp / "refs" + "/" + cat + "/" + cat + "_" + std::to_string(k) + ".png";
        m.reference_sha256 = cat + std::to_string(k);
        m.category = cat;
        m.layer = "conv1";
        m.passed = true;
        m.status = "ok";
        s.add_metamer(m);
      }
  }
  StudioOptions o;
  o.db = tmp / "lazy.db";
  o.panel = "Stimuli";
  size_t cells = 0, loaded = 0;
  int pending = -1;
  run(o, [&](StudioProbe& p) {
    if (p.frame == 30) {
      cells = p.cells.size();
      for (const auto& c : p.cells) loaded += c.thumbnail;
      pending = p.pending_thumbnails;
      p.quit = true;
    }
  });
  EXPECT_EQ(cells, 40u);
  EXPECT_EQ(pending, 0);
  EXPECT_GT(loaded, 3u);    // the rows in view
  EXPECT_LT(loaded, 12u);   // and no more: 700 px hold about six rows
}

// [SECTION] Session details and Results ---------------------------------------------------
// A recorded trial's timing: the frame intervals are each shown phase's onset-to-next-onset
// over its frames, in time order whatever the JSON's key order; phases not shown give none.
TEST(StudioSessionTiming, FrameIntervalsFromThePhaseOnsetsTheStoreKeeps) {
  const std::string j = R"({"frame_hz": 60,
    "response": {"actual_s": 10.85, "frames_shown": 1},
    "fixation": {"actual_s": 10.0, "frames_shown": 30},
    "mask": {"actual_s": 10.75, "frames_shown": 6},
    "stimulus": {"actual_s": 10.5, "frames_shown": 10},
    "skipped": {"actual_s": 0, "frames_shown": 0}})";
  const std::vector<double> iv = recorded_frame_intervals(j);
  ASSERT_EQ(iv.size(), 3u);
  EXPECT_NEAR(iv[0], 500.0 / 30, 1e-9);  // fixation
  EXPECT_NEAR(iv[1], 250.0 / 10, 1e-9);  // stimulus
  EXPECT_NEAR(iv[2], 100.0 / 6, 1e-9);   // mask
  EXPECT_EQ(recorded_frame_hz(j), 60);
  EXPECT_TRUE(recorded_frame_intervals("{}").empty());
  EXPECT_TRUE(recorded_frame_intervals("not json").empty());
  EXPECT_TRUE(recorded_frame_intervals(R"({"tone_ms": 500})").empty());
}

namespace {

// A results database: three people's completed sessions of "studio-results" (12 main trials
// each: 4 per condition natural, tiny/conv1, tiny/conv2; 4 alternatives) with zoo:tiny-cnn's
// judgment of every trial, and one aborted session answering everything wrong (left out of
// the analysis). Person p answers the first kHits[p][c] trials of condition c right; the model
// the first kJudge[c]. Session 2's trial 5 took 0.15 s over its 6 mask frames (25 ms) and
// dropped 3 frames; session 2 recorded audio onsets (1 ms, trial 7: 3 ms).
constexpr int kHits[3][3] = {{4, 3, 1}, {3, 2, 2}, {4, 2, 0}};
constexpr int kJudge[3] = {4, 2, 1};
const char* const kConditions[3] = {"natural", "tiny/conv1", "tiny/conv2"};

// A trial's timing record as the runner writes it (app/runner.cpp), at 60 Hz: fixation 30
// frames, stimulus 6, mask 6, response 1, with these onset flips (s).
std::string runner_timing(double fix, double stim, double mask, double resp) {
  const auto phase = [](const char* name, double t, int frames) {
    return std::string("\"") + name + "\": {\"actual_s\": " + std::to_string(t) + ", \"frames\": " +
           std::to_string(frames) + ", \"frames_shown\": " + std::to_string(frames) + ", \"dropped\": 0}";
  };
  return "{\"frame_hz\": 60, " + phase("fixation", fix, 30) + ", " + phase("mask", mask, 6) + ", " +
         phase("response", resp, 1) + ", " + phase("stimulus", stim, 6) + "}";
}

// One session of "studio-results" as described above; `hits` the person's row of kHits
// (nullptr: every answer wrong).
void add_results_session(mm::data::Store& s, int64_t model, const std::string& dir, const std::string& code,
                         int64_t number, const int* hits, mm::data::SessionStatus status) {
  mm::data::SessionRecord r;
  r.participant_code = code;
  r.participant_number = number;
  r.experiment_path = dir + "/results.toml";  // not there: no catch-trial exclusion from the file
  r.experiment_sha256 = "e2";
  r.experiment_name = "studio-results";
  r.plan_json = "{}";
  r.planned_trials = 12;
  r.display_json = r.audio_json = "{}";
  const int64_t id = s.create_session(r);
  std::vector<mm::data::TrialJudgment> judged;
  for (int i = 0; i < 12; ++i) {
    const int c = i % 3, k = i / 3;  // condition, its k-th trial
    mm::data::TrialRecord t;
    t.session_id = id;
    t.trial_index = i;
    t.block = 1;
    t.block_kind = t.phase = "main";
    t.condition = t.planned_condition = kConditions[c];
    t.is_metamer = c > 0;
    if (c > 0) t.model = "zoo:tiny-cnn", t.layer = c == 1 ? "conv1" : "conv2";
    t.category = "cat";
    t.stimulus_path = dir + "/stim/cat/cat_" + std::to_string(i) + ".png";
    t.stimulus_sha256 = "s" + std::to_string(i);
    t.alternatives_json = R"(["boat", "cat", "dog", "fish"])";
    t.correct = hits && k < hits[c];
    t.response = t.correct ? "cat" : "dog";
    t.rt_response_ms = t.rt_stimulus_ms = 400 + 10 * i;
    const bool slow = number == 2 && i == 5;
    const double fix = 100 + 2 * i, stim = fix + 0.5, mask = stim + 0.1, resp = mask + (slow ? 0.15 : 0.1);
    t.timing_json = runner_timing(fix, stim, mask, resp);
    t.dropped_frames = slow ? 3 : 0;
    if (number == 2) t.audio_onset_ms = i == 7 ? 3.0 : 1.0;
    s.add_trial(t);
    judged.push_back({id, i, model, t.stimulus_sha256, t.alternatives_json, k < kJudge[c] ? "cat" : "boat", k < kJudge[c]});
  }
  s.add_trial_judgments(judged);
  s.finish_session(id, status);
}

std::string make_results_db(const mm::test::TempDir& tmp) {
  const std::string db = tmp / "results.db";
  mm::data::Store s(db);
  const int64_t model = s.upsert_model({"zoo:tiny-cnn", "", std::string(64, 'c'), "image", "{}"});
  add_results_session(s, model, tmp.path, "P-1", 1, kHits[0], mm::data::SessionStatus::completed);
  add_results_session(s, model, tmp.path, "P-2", 2, kHits[1], mm::data::SessionStatus::completed);
  add_results_session(s, model, tmp.path, "P-3", 3, kHits[2], mm::data::SessionStatus::completed);
  add_results_session(s, model, tmp.path, "P-4", 4, nullptr, mm::data::SessionStatus::aborted);
  return db;
}

}  // namespace

// [SECTION] Stimuli: filters, selection, CSV, folders -------------------------------------
namespace {

// A scripted run: steps run one after the other, each called every frame until it returns
// true; `at` is the frame the step began.
struct Script {
  std::vector<std::function<bool(StudioProbe&, int64_t)>> steps;
  size_t i = 0;
  int64_t at = 0;
  void operator()(StudioProbe& p) {
    if (i >= steps.size()) {
      p.quit = true;
      return;
    }
    if (at == 0) at = p.frame;
    if (steps[i](p, p.frame - at)) ++i, at = 0;
  }
  void then(std::function<bool(StudioProbe&, int64_t)> f) { steps.push_back(std::move(f)); }
  // Moves the pointer to the rect `where` gives, clicks two frames later, waits three more.
  void click(std::function<Rect(StudioProbe&)> where) {
    then([where](StudioProbe& p, int64_t k) {
      const Rect r = where(p);
      if (k == 0) p.display->move_pointer(r.cx(), r.cy());
      if (k == 2) p.display->push_click(r.cx(), r.cy());
      return k >= 5;
    });
  }
  // Opens a filter's combo box and picks the choice named `choice`.
  void pick(std::function<StudioProbe::Combo(StudioProbe&)> combo, const std::string& choice) {
    click([combo](StudioProbe& p) { return combo(p).box; });
    then([combo, choice, n = 0](StudioProbe& p, int64_t k) mutable {
      const StudioProbe::Combo c = combo(p);
      const auto it = std::find(c.choices.begin(), c.choices.end(), choice);
      if (it == c.choices.end()) {
        ADD_FAILURE() << "no choice " << choice;
        return true;
      }
      if (n == 0 && c.items.size() != c.choices.size()) {  // not open yet
        if (k > 60) ADD_FAILURE() << "the list holding " << choice << " never opened";
        return k > 60;
      }
      const Rect r = n < 5 ? c.items[it - c.choices.begin()] : Rect{};
      ++n;
      if (n == 3) p.display->move_pointer(r.cx(), r.cy());  // placed after its first frames
      if (n == 5) p.display->push_click(r.cx(), r.cy());
      return n >= 9;
    });
  }
  // Types `text` into the field `where` gives (its AutoSelectAll replaces what it held).
  void type(std::function<Rect(StudioProbe&)> where, const std::string& text) {
    click(where);
    then([text](StudioProbe& p, int64_t k) {
      if (k == 0)
        for (size_t i = 0; i < text.size(); i += 24) p.display->push_text(text.substr(i, 24));  // SDL's event holds 31 bytes
      return k >= 3;
    });
  }
  void wait_thumbnails() {
    then([](StudioProbe& p, int64_t k) { return p.panel == "Stimuli" && k >= 3 && p.pending_thumbnails == 0 && !p.cells.empty(); });
  }
};

StudioProbe::Combo model_of(StudioProbe& p) { return p.model_filter; }
StudioProbe::Combo layer_of(StudioProbe& p) { return p.layer_filter; }
StudioProbe::Combo category_of(StudioProbe& p) {
  return {p.categories, p.category, p.category_combo, p.category_items};
}

// The metamers a test stored, to count independently what the filters should leave.
struct Stored {
  std::string reference, category, model, layer;
  bool passed;
};
std::multiset<std::string> expected(const std::vector<Stored>& rows, const std::string& category, const std::string& model,
                                    const std::string& layer, bool failed_only) {
  std::multiset<std::string> out;
  for (const auto& r : rows)
    if ((category == "All" || r.category == category) && (model == "All" || r.model == model) &&
        (layer == "All" || r.layer == layer) && !(failed_only && r.passed))
      out.insert(r.reference + "|" + r.model + "|" + r.layer);
  return out;
}
std::multiset<std::string> keys(const std::vector<StudioProbe::Cell>& cells) {
  std::multiset<std::string> out;
  for (const auto& c : cells) out.insert(c.reference + "|" + c.model + "|" + c.layer);
  return out;
}

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// An image experiment whose main block uses the CSV table `table` (relative to `dir`).
std::string write_table_experiment(const std::string& dir, const std::string& table,
                                   const std::vector<std::string>& alternatives = {"boat", "cat"}) {
  mm::test::write_image_set(dir + "/icons", alternatives, 1, 16, "{cat}.png", 900, 1);
  std::string alts;
  for (const auto& a : alternatives) alts += (alts.empty() ? "\"" : ", \"") + a + "\"";
  const std::string f = dir + "/from_table.toml";
  mm::test::write_bytes(f, "[experiment]\nname = \"from-table\"\nmodality = \"image\"\n\n"
                           "[responses]\nalternatives = [" + alts + "]\nicons = \"icons\"\n\n"
                           "[timing]\nfixation = 100\nstimulus = 100\nmask = 100\n\n"
                           "[sets.chosen]\ntable = \"" + table + "\"\n\n[[blocks]]\nkind = \"main\"\nset = \"chosen\"\n");
  return f;
}

// The set "chosen" as (category, path) pairs, through the experiments module.
std::vector<std::pair<std::string, std::string>> parse_set(const std::string& experiment) {
  const mm::experiments::Experiment e = mm::experiments::load_experiment(experiment);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : e.sets)
    if (s.name == "chosen")
      for (const auto& it : s.items) out.emplace_back(it.category, it.path);
  return out;
}

}  // namespace

TEST(Studio, SessionDetailsResultsTableAndPlotAndExports) {
  mm::test::TempDir tmp("studio_results");
  const std::string db = make_results_db(tmp);
  const std::string before = mm::test::read_bytes(db);
  StudioOptions o;
  o.db = db;
  o.panel = "Sessions";
  o.permutations = 200;
  o.bootstrap = 200;
  o.width = 1200, o.height = 800;
  int stage = 0;
  int64_t at = 0, first = 0, shown = 0, clicked = 0, after_down = 0, after_up = 0, computing_frames = 0;
  std::string detail, results_status, csv_message, bids_message, again_message, folder;
  size_t detail_trials = 0;
  std::vector<StudioProbe::ResultRow> table;
  std::vector<std::string> series;
  Rect plot;
  mm::app::Image sessions_shot, results_shot;
  const auto click = [](Display& d, const Rect& r) { d.move_pointer(r.cx(), r.cy()), d.push_click(r.cx(), r.cy()); };
  run(o, [&](StudioProbe& p) {
    Display& d = *p.display;
    switch (stage) {
      case 0:  // Sessions: point at the second row, then click it
        if (p.session_rows.size() == 4 && p.frame >= 3) d.move_pointer(p.session_rows[1].cx(), p.session_rows[1].cy()), at = p.frame, stage = 1;
        break;
      case 1:
        if (p.frame == at + 2) d.push_click(p.session_rows[1].cx(), p.session_rows[1].cy()), at = p.frame, stage = 2;
        break;
      case 2:  // its details, once read (three frames later: the tables have sized their columns)
        if (p.session != 0 && p.session_trials > 0 && first == 0) first = p.frame;
        if (first > 0 && p.frame == first + 3) {
          clicked = p.session, detail = p.session_detail, detail_trials = p.session_trials;
          sessions_shot = d.capture();
          d.push_key("Down"), at = p.frame, stage = 3;
        }
        break;
      case 3:
        if (p.frame == at + 3) after_down = p.session, d.push_key("Up"), d.push_key("Up"), at = p.frame, stage = 4;
        break;
      case 4:
        if (p.frame == at + 3) after_up = p.session, d.push_key("5", true), stage = 5;
        break;
      case 5:  // Results: computing, then the table
        if (p.panel != "Results") break;
        computing_frames += p.computing;
        if (!p.computing && (!p.results.empty() || !p.results_status.empty()) && p.plot.w > 0 && shown == 0) shown = p.frame;
        if (shown > 0 && p.frame == shown + 3) {
          table = p.results, series = p.series, plot = p.plot, results_status = p.results_status, folder = p.export_folder;
          results_shot = d.capture();
          if (p.export_buttons.size() == 3) click(d, p.export_buttons[0]), at = p.frame, stage = 6;
          else p.quit = true;
        }
        break;
      case 6:  // CSV written: BIDS next
        if (p.frame > at + 1 && !p.computing && !p.export_message.empty())
          csv_message = p.export_message, click(d, p.export_buttons[1]), at = p.frame, stage = 7;
        break;
      case 7:  // BIDS written: CSV again into the same folder, which is not empty now
        if (p.frame > at + 1 && !p.computing && p.export_message.rfind("bids", 0) == 0)
          bids_message = p.export_message, click(d, p.export_buttons[0]), at = p.frame, stage = 8;
        break;
      case 8:
        if (p.frame > at + 1 && !p.computing && p.export_message.rfind("csv", 0) == 0)
          again_message = p.export_message, p.quit = true;
        break;
    }
  }, nullptr, 900);

  // Session details: the clicked row is session 2, its 12 trials, the slow mask and the drops.
  EXPECT_EQ(clicked, 2);
  EXPECT_EQ(detail_trials, 12u);
  EXPECT_NE(detail.find("12 trial(s) recorded"), std::string::npos) << detail;
  EXPECT_NE(detail.find("dropped frames: 3 in 1 of 12 trial(s)"), std::string::npos) << detail;
  // 36 intervals (fixation, stimulus, mask of 12 trials): 35 of 1000/60 ms, one of 25 ms; the
  // 99th percentile interpolates between the 35th and the 36th in order: 16.667 + 0.65 x 8.333.
  EXPECT_NE(detail.find("median 16.67 ms, p99 22.08 ms, max 25.00 ms over 36 phase(s)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("audio onsets (after the scheduled start): median 1.00 ms, p99 2.78 ms, max 3.00 ms over 12"),
            std::string::npos) << detail;
  EXPECT_EQ(after_down, 3) << "Down selects the next row";
  EXPECT_EQ(after_up, 1) << "Up twice: the first row";
  ASSERT_GT(sessions_shot.width, 0);
  keep(sessions_shot, "studio_session_detail.png");

  // Results: computed in the background (the window drew meanwhile), the people's completed
  // sessions only, computed here from kHits / kJudge.
  EXPECT_EQ(results_status, "");
  EXPECT_GT(computing_frames, 0);
  ASSERT_EQ(table.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    double mean = 0, ss = 0;
    for (const auto& h : kHits) mean += h[c] / 4.0 / 3;
    for (const auto& h : kHits) ss += (h[c] / 4.0 - mean) * (h[c] / 4.0 - mean);
    const double sem = std::sqrt(ss / 2) / std::sqrt(3.0);
    EXPECT_EQ(table[c].condition, kConditions[c]);
    EXPECT_EQ(table[c].trials, 12);
    EXPECT_NEAR(table[c].human, mean, 1e-9) << kConditions[c];
    EXPECT_NEAR(table[c].sem, sem, 1e-9) << kConditions[c];
    EXPECT_LE(table[c].ci_low, mean);
    EXPECT_GE(table[c].ci_high, mean);
    ASSERT_EQ(table[c].models.count("zoo:tiny-cnn"), 1u);
    EXPECT_NEAR(table[c].models.at("zoo:tiny-cnn"), kJudge[c] / 4.0, 1e-9) << kConditions[c];
  }
  EXPECT_EQ(series, (std::vector<std::string>{"humans", "zoo:tiny-cnn"}));

  // The plot on the screenshot: the humans' orange and the model's blue marks and bars.
  ASSERT_GT(results_shot.width, 0);
  keep(results_shot, "studio_results.png");
  ASSERT_GT(plot.w, 100);
  const auto in_plot = [&](bool (*pred)(const uint8_t*)) {
    size_t n = 0;
    for (int y = static_cast<int>(plot.y); y < static_cast<int>(plot.y + plot.h) && y < results_shot.height; ++y)
      for (int x = static_cast<int>(plot.x); x < static_cast<int>(plot.x + plot.w) && x < results_shot.width; ++x)
        n += pred(results_shot.at(x, y));
    return n;
  };
  EXPECT_GT(in_plot([](const uint8_t* p) { return p[0] > 210 && p[1] > 120 && p[1] < 180 && p[2] < 80; }), 60u);
  EXPECT_GT(in_plot([](const uint8_t* p) { return p[2] > 220 && p[0] < 130 && p[1] > 130 && p[1] < 190; }), 60u);

  // Exports: into FOLDER/csv and FOLDER/bids beside the database, as metamerlab export writes
  // them (every session's trials: 4 x 12); a second CSV into the same folder: one line, refused.
  EXPECT_EQ(folder, (tmp / "results-export"));
  EXPECT_NE(csv_message.find("csv: wrote"), std::string::npos) << csv_message;
  EXPECT_NE(csv_message.find("48 trials of 4 session(s)"), std::string::npos) << csv_message;
  const std::string trials = mm::test::read_bytes(folder + "/csv/trials.csv");
  EXPECT_EQ(std::count(trials.begin(), trials.end(), '\n'), 49) << "a header and 48 rows";
  EXPECT_TRUE(fs::exists(folder + "/csv/sessions.csv"));
  EXPECT_NE(bids_message.find("bids: wrote"), std::string::npos) << bids_message;
  EXPECT_TRUE(fs::exists(folder + "/bids/dataset_description.json"));
  EXPECT_TRUE(fs::exists(folder + "/bids/participants.tsv"));
  EXPECT_EQ(again_message.find("csv: wrote"), std::string::npos) << again_message;
  EXPECT_EQ(std::count(again_message.begin(), again_message.end(), '\n'), 0) << again_message;

  // Looking is not writing: the database is as it was.
  EXPECT_TRUE(mm::test::read_bytes(db) == before) << "the studio changed the database";
}

// The rest of the Results panel: the paper's ANOVAs as tables with the analysis module's
// own figures, network-to-network recognition (a second model judged tiny's metamers: 3 of 4
// at conv1, 1 of 4 at conv2) as a plot and a scatter, and the report folder written.
TEST(Studio, ResultsShowTheAnovasTheNetworkFiguresAndWriteTheReport) {
  mm::test::TempDir tmp("studio_results_more");
  const std::string db = make_results_db(tmp);
  {
    mm::data::Store s(db);
    const int64_t other = s.upsert_model({"zoo:other-cnn", "", std::string(64, 'd'), "image", "{}"});
    std::vector<mm::data::MetamerJudgment> js;
    for (int c = 1; c < 3; ++c)
      for (int k = 0; k < 4; ++k)
        js.push_back({"e2", kConditions[c], "zoo:tiny-cnn", c == 1 ? "conv1" : "conv2", "r" + std::to_string(k),
                      "m" + std::to_string(c) + std::to_string(k), "cat", other, k < (c == 1 ? 3 : 1) ? "cat" : "dog",
                      k < (c == 1 ? 3 : 1)});
    s.add_metamer_judgments(js);
  }
  // What the analysis module computes for the same database (the panel's seed and counts).
  mm::analysis::AnalysisReport expected;
  {
    mm::data::Store s(db);
    mm::analysis::AnalysisOptions ao;
    ao.permutations = 200, ao.bootstrap = 200;
    expected = mm::analysis::analyze(mm::app::read_results(s, "")[0], ao);
  }
  StudioOptions o;
  o.db = db;
  o.panel = "Results";
  o.permutations = 200;
  o.bootstrap = 200;
  o.width = 1200, o.height = 800;
  int stage = 0;
  int64_t at = 0;
  std::vector<StudioProbe::AnovaRow> anovas;
  std::vector<std::string> slots, series;
  std::vector<std::vector<double>> values;
  double rho = 0;
  Rect plot, scatter;
  std::string report_folder, report_message, codes_message, stimuli_message;
  mm::app::Image shot;
  const auto click_at = [](Display& d, const Rect& r) { d.move_pointer(r.cx(), r.cy()), d.push_click(r.cx(), r.cy()); };
  run(o, [&](StudioProbe& p) {
    Display& d = *p.display;
    if (p.panel != "Results") return;
    if (stage == 0 && !p.computing && !p.results.empty()) {  // scroll the results down to the network section
      d.move_pointer(p.plot.cx(), p.plot.cy());
      at = p.frame, stage = 1;
    } else if (stage == 1 && p.frame < at + 30) {
      if (p.frame % 2 == 0) d.push_wheel(-3.0f);
    } else if (stage == 1 && p.frame >= at + 33) {
      anovas = p.anovas, slots = p.network_slots, series = p.network_series, values = p.network_values;
      rho = p.network_rho, plot = p.network_plot, scatter = p.network_scatter, report_folder = p.report_folder;
      shot = d.capture();
      d.move_pointer(p.write_report.cx(), p.write_report.cy());
      at = p.frame, stage = 2;
    } else if (stage == 2 && p.frame == at + 2) {
      d.push_click(p.write_report.cx(), p.write_report.cy());
      stage = 3;
    } else if (stage == 3 && !p.report_message.empty() && !p.computing) {
      report_message = p.report_message;
      d.move_pointer(p.export_with_codes.cx(), p.export_with_codes.cy());  // participant codes, then CSV
      at = p.frame, stage = 4;
    } else if (stage == 4 && p.frame == at + 2) {
      d.push_click(p.export_with_codes.cx(), p.export_with_codes.cy());
    } else if (stage == 4 && p.frame == at + 5) {
      click_at(d, p.export_buttons[0]);
      at = p.frame, stage = 5;
    } else if (stage == 5 && p.frame > at + 1 && !p.computing && !p.export_message.empty()) {
      codes_message = p.export_message;  // then stimulus files too: the test's stimuli do not exist
      d.move_pointer(p.export_with_stimuli.cx(), p.export_with_stimuli.cy());
      at = p.frame, stage = 6;
    } else if (stage == 6 && p.frame == at + 2) {
      d.push_click(p.export_with_stimuli.cx(), p.export_with_stimuli.cy());
    } else if (stage == 6 && p.frame == at + 5) {
      click_at(d, p.export_buttons[2]);
      at = p.frame, stage = 7;
    } else if (stage == 7 && p.frame > at + 1 && !p.computing && p.export_message.rfind("jsonl", 0) == 0) {
      stimuli_message = p.export_message;
      p.quit = true;
    }
  }, nullptr, 1500);

  // The ANOVA tables: every effect the analysis reports, with its figures.
  std::vector<StudioProbe::AnovaRow> want;
  for (const auto& a : expected.anovas) {
    if (!a.note.empty() || a.effects.empty()) want.push_back({a.title, "", 0, 0, 0, 0, 0, a.note});
    for (const auto& e : a.effects) want.push_back({a.title, e.effect, e.f, e.partial_eta2, e.p, e.df, e.df_error, ""});
  }
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(anovas.size(), want.size());
  size_t computed = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(anovas[i].title, want[i].title);
    EXPECT_EQ(anovas[i].effect, want[i].effect);
    EXPECT_EQ(anovas[i].note, want[i].note);
    if (want[i].effect.empty()) continue;
    ++computed;
    EXPECT_NEAR(anovas[i].f, want[i].f, 1e-9) << want[i].effect;
    EXPECT_NEAR(anovas[i].partial_eta2, want[i].partial_eta2, 1e-9) << want[i].effect;
    EXPECT_NEAR(anovas[i].p, want[i].p, 1e-9) << want[i].effect;
    EXPECT_EQ(anovas[i].df, want[i].df);
  }
  EXPECT_GT(computed, 0u) << "no ANOVA computed on 3 people x 2 layers";
  // Network-to-network: the other model's recognition, the humans' (kHits) at each layer.
  ASSERT_EQ(slots, (std::vector<std::string>{"tiny/conv1", "tiny/conv2"}));
  ASSERT_EQ(series, (std::vector<std::string>{"humans", "other models", "zoo:other-cnn"}));
  ASSERT_EQ(values.size(), 3u);
  EXPECT_NEAR(values[0][0], (3 + 2 + 2) / 12.0, 1e-9);
  EXPECT_NEAR(values[0][1], (1 + 2 + 0) / 12.0, 1e-9);
  EXPECT_NEAR(values[1][0], 0.75, 1e-9);
  EXPECT_NEAR(values[1][1], 0.25, 1e-9);
  EXPECT_NEAR(values[2][0], 0.75, 1e-9);
  if (std::isfinite(expected.network_spearman)) EXPECT_NEAR(rho, expected.network_spearman, 1e-12);
  else EXPECT_TRUE(std::isnan(rho));
  ASSERT_GT(shot.width, 0);
  keep(shot, "studio_results_network.png");
  ASSERT_GT(plot.w, 100) << "the network plot was not drawn";
  ASSERT_GT(scatter.w, 40) << "the scatter was not drawn";
  const auto count_in = [&](const Rect& r, bool (*pred)(const uint8_t*)) {
    size_t n = 0;
    for (int y = std::max(0, static_cast<int>(r.y)); y < static_cast<int>(r.y + r.h) && y < shot.height; ++y)
      for (int x = std::max(0, static_cast<int>(r.x)); x < static_cast<int>(r.x + r.w) && x < shot.width; ++x)
        n += pred(shot.at(x, y));
    return n;
  };
  const auto orange = [](const uint8_t* q) { return q[0] > 210 && q[1] > 120 && q[1] < 180 && q[2] < 80; };
  const auto blue = [](const uint8_t* q) { return q[2] > 220 && q[0] < 130 && q[1] > 130 && q[1] < 190; };
  EXPECT_GT(count_in(plot, orange), 40u) << "the humans' points";
  EXPECT_GT(count_in(plot, blue), 40u) << "the other models' points and bars";
  EXPECT_GT(count_in(scatter, orange), 40u) << "the scatter's points";
  // The report folder, as analyze --out writes it.
  EXPECT_EQ(report_folder, tmp / "results-report");
  EXPECT_EQ(report_message.rfind("report: wrote report.md, report.json and ", 0), 0u) << report_message;
  EXPECT_NE(mm::test::read_bytes(report_folder + "/report.md").find("## Figures"), std::string::npos);
  EXPECT_NE(mm::test::read_bytes(report_folder + "/report.json").find("\"tests\""), std::string::npos);
  size_t png = 0;
  for (const auto& f : fs::directory_iterator(report_folder)) png += f.path().extension() == ".png";
  EXPECT_GE(png, 2u);
  // The export options reach the writer: codes in the CSV; stimuli copied (here: refused,
  // naming a stimulus file that is not there, in one line).
  EXPECT_NE(codes_message.find("csv: wrote"), std::string::npos) << codes_message;
  EXPECT_NE(mm::test::read_bytes(tmp / "results-export/csv/trials.csv").find("P-2"), std::string::npos);
  EXPECT_NE(stimuli_message.find("/stim/cat/cat_"), std::string::npos) << stimuli_message;
  EXPECT_EQ(stimuli_message.find('\n'), std::string::npos) << stimuli_message;
}

// An analysis with 50 million permutations per effect (minutes of work) is stopped by
// Cancel within a few frames and says so; started again with Refresh, closing the window
// stops it too instead of waiting for it.
TEST(Studio, ARunningAnalysisIsCancelledAndClosingDoesNotWaitForIt) {
  mm::test::TempDir tmp("studio_results_cancel");
  const std::string db = make_results_db(tmp);
  StudioOptions o;
  o.db = db;
  o.panel = "Results";
  o.permutations = 50000000;
  o.bootstrap = 50;
  int stage = 0;
  int64_t clicked = 0, stopped = 0, restarted = 0;
  std::string status;
  const auto t0 = std::chrono::steady_clock::now();
  run(o, [&](StudioProbe& p) {
    Display& d = *p.display;
    if (p.panel != "Results") return;
    const Rect c = p.cancel_analysis;
    if (stage == 0 && c.w > 0 && p.frame > 10) {
      d.move_pointer(c.cx(), c.cy());
      stage = 1;
    } else if (stage == 1) {
      d.push_click(c.cx(), c.cy());
      clicked = p.frame, stage = 2;
    } else if (stage == 2 && !p.computing) {
      stopped = p.frame, status = p.results_status;
      d.move_pointer(p.refresh.cx(), p.refresh.cy());
      stage = 3;
    } else if (stage == 3) {
      d.push_click(p.refresh.cx(), p.refresh.cy());
      stage = 4;
    } else if (stage == 4 && p.cancel_analysis.w > 0) {
      restarted = p.frame;
      p.quit = true;  // while it computes
    }
  }, nullptr, 3000);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(stage, 4);
  EXPECT_GT(clicked, 0);
  EXPECT_GT(restarted, stopped);
  EXPECT_EQ(status, "cancelled: Refresh computes again");
  EXPECT_LT(stopped - clicked, 120) << "frames from Cancel to the panel saying so";
  EXPECT_LT(seconds, 60) << "the window waited for the permutations";
}

TEST(Studio, ResultsAreComputedOncePerDatabaseChangeAndSayWhatIsMissing) {
  mm::test::TempDir tmp("studio_results_change");
  const std::string db = make_results_db(tmp);
  StudioOptions o;
  o.db = db;
  o.panel = "Results";
  o.refresh_s = 0.2;
  o.permutations = 50;
  o.bootstrap = 50;
  int stage = 0, starts = 0;
  bool was = false;
  int64_t at = 0;
  double before = 0, after = 0;
  run(o, [&](StudioProbe& p) {
    if (p.panel != "Results") return;
    starts += p.computing && !was;
    was = p.computing;
    if (stage == 0 && !p.computing && !p.results.empty()) before = p.results[0].human, at = p.frame, stage = 1;
    if (stage == 1 && p.frame == at + 40) {  // unchanged meanwhile (refreshed about 3 times): nothing computed again
      EXPECT_EQ(starts, 1);
      mm::data::Store s(db);  // another program records a fifth person, all answers right
      const int all[3] = {4, 4, 4};
      add_results_session(s, s.models()[0].first, tmp.path, "P-5", 5, all, mm::data::SessionStatus::completed);
      stage = 2;
    }
    if (stage == 2 && !p.computing && !p.results.empty() && p.results[0].human != before) after = p.results[0].human, p.quit = true;
  });
  EXPECT_NEAR(before, (1 + 0.75 + 1) / 3, 1e-9);
  EXPECT_NEAR(after, (1 + 0.75 + 1 + 1) / 4, 1e-9) << "the change was not seen";
  EXPECT_EQ(starts, 2);

  // A missing database: one line, and no file made; a database without sessions: one line.
  for (const auto& [file, want] : std::vector<std::pair<std::string, std::string>>{
           {tmp / "none.db", "no database at " + (tmp / "none.db")}, {tmp / "empty.db", "no sessions in this database"}}) {
    if (file == tmp / "empty.db") mm::data::Store{file};
    StudioOptions m;
    m.db = file;
    m.panel = "Results";
    std::string status;
    run(m, [&](StudioProbe& p) {
      if (p.panel == "Results" && !p.computing && !p.results_status.empty()) status = p.results_status, p.quit = true;
    });
    EXPECT_NE(status.find(want), std::string::npos) << status;
    EXPECT_EQ(std::count(status.begin(), status.end(), '\n'), 0) << status;
  }
  EXPECT_FALSE(fs::exists(tmp / "none.db"));
}

TEST(Studio, FiltersLeaveTheCellsOfTheStoredRowsThatMatch) {
  mm::test::TempDir tmp("studio_filters");
  const Lab lab = make_lab(tmp);
  // A second model, at one layer, failing on both cat references.
  std::vector<Stored> stored;
  for (const std::string layer : {"conv1", "conv2"})
    for (const std::string cat : {"boat", "cat"})
      for (int k = 0; k < 2; ++k)
        stored.push_back({lab.refs + "/" + cat + "/" + cat + "_" + std::to_string(k) + ".png", cat, "zoo:tiny-cnn", layer,
                          !(layer == "conv2" && cat == "boat" && k == 0)});  // as make_lab stores them
  mm::test::write_image_set(lab.out + "/fc", {"boat", "cat"}, 2, 64, "{cat}/{cat}_{k}_m.png", 900);
  {
    mm::data::Store s(lab.db);
    const int64_t model = s.upsert_model({"zoo:tiny-mlp", "", std::string(64, 'c'), "image", "{}"});
    const int64_t run_id = s.begin_synth_run({model, "metamerlab synth", "{}", lab.out, "test"});
    for (const std::string cat : {"boat", "cat"})
      for (int k = 0; k < 2; ++k) {
        mm::data::MetamerRecord m;
        m.run_id = run_id;
        m.reference_path = lab.refs + "/" + cat + "/" + cat + "_" + std::to_string(k) + ".png";
        m.reference_sha256 = cat + std::to_string(k);
        m.category = cat;
        m.layer = "fc";
        m.passed = cat == "boat";
        m.status = m.passed ? "ok" : "failed";
        m.png_path = lab.out + "/fc/" + cat + "/" + cat + "_" + std::to_string(k) + "_m.png";
        s.add_metamer(m);
        stored.push_back({m.reference_path, cat, "zoo:tiny-mlp", "fc", m.passed});
      }
  }
  StudioOptions o;
  o.db = lab.db;
  o.panel = "Stimuli";
  o.width = 1280;
  o.height = 800;
  // Each stage: the filters set, and the cells shown then.
  struct Stage {
    std::string category, model, layer;
    bool failed_only;
    std::multiset<std::string> cells;
    std::vector<std::string> layers;
  };
  std::vector<Stage> seen;
  mm::app::Image all_shot, failed_shot;
  Script sc;
  const auto record = [&](mm::app::Image* shot = nullptr) {
    sc.then([&, shot](StudioProbe& p, int64_t k) {
      if (k < 3) return false;
      seen.push_back({p.category, p.model_filter.choice, p.layer_filter.choice, p.failed_only, keys(p.cells), p.layer_filter.choices});
      if (shot) *shot = p.display->capture();
      return true;
    });
  };
  sc.wait_thumbnails();
  record(&all_shot);
  sc.click([](StudioProbe& p) { return p.failed_only_box; });
  sc.wait_thumbnails();
  record(&failed_shot);
  sc.pick(model_of, "zoo:tiny-mlp");
  record();
  sc.click([](StudioProbe& p) { return p.failed_only_box; });
  record();
  sc.pick(model_of, "All");
  sc.pick(layer_of, "conv2");
  record();
  sc.click([](StudioProbe& p) { return p.failed_only_box; });
  record();
  sc.pick(category_of, "cat");
  record();
  run(o, [&](StudioProbe& p) { sc(p); });

  ASSERT_EQ(seen.size(), 7u);
  const std::vector<std::tuple<std::string, std::string, std::string, bool, size_t>> want{
      {"All", "All", "All", false, 12}, {"All", "All", "All", true, 3},   {"All", "zoo:tiny-mlp", "All", true, 2},
      {"All", "zoo:tiny-mlp", "All", false, 4}, {"All", "All", "conv2", false, 4}, {"All", "All", "conv2", true, 1},
      {"cat", "All", "conv2", true, 0}};
  for (size_t i = 0; i < seen.size(); ++i) {
    const auto& [category, model, layer, failed_only, n] = want[i];
    const Stage& s = seen[i];
    EXPECT_EQ(s.category, category) << i;
    EXPECT_EQ(s.model, model) << i;
    EXPECT_EQ(s.layer, layer) << i;
    EXPECT_EQ(s.failed_only, failed_only) << i;
    const auto e = expected(stored, category, model, layer, failed_only);
    EXPECT_EQ(e.size(), n) << i;  // the script's own arithmetic
    EXPECT_EQ(s.cells, e) << "stage " << i;
  }
  // Layers are the chosen model's.
  EXPECT_EQ(seen[0].layers, (std::vector<std::string>{"All", "conv1", "conv2", "fc"}));
  EXPECT_EQ(seen[2].layers, (std::vector<std::string>{"All", "fc"}));
  // On screen with "failed only": the three red FAIL marks, and the nine green pass marks of
  // the unfiltered grid are gone (their frames are about 800 green pixels each).
  ASSERT_GT(failed_shot.width, 0);
  keep(all_shot, "studio_filters_none.png");
  keep(failed_shot, "studio_failed_only.png");
  const auto red = [](const uint8_t* p) { return p[0] > 200 && p[1] < 130 && p[2] < 130; };
  const auto green = [](const uint8_t* p) { return p[1] > 190 && p[0] < 150 && p[2] < 150; };
  EXPECT_GT(count(failed_shot, red), 1500u);
  EXPECT_GT(count(all_shot, green), count(failed_shot, green) + 9 * 600);
}

TEST(Studio, ASelectionSavedAsCsvParsesBackAsAnExperimentsSet) {
  mm::test::TempDir tmp("studio_csv");
  const Lab lab = make_lab(tmp);
  const std::string db_before = mm::test::read_bytes(lab.db);
  fs::create_directories(tmp / "study");
  const std::string second = tmp / "study/chosen.csv";
  StudioOptions o;
  o.db = lab.db;
  o.panel = "Stimuli";
  o.width = 1280;
  o.height = 800;
  // Where the cell of reference `name` at `layer` is (its image, or its checkbox).
  const auto cell = [](StudioProbe& p, const std::string& name, const std::string& layer, bool box) {
    for (const auto& c : p.cells)
      if (c.layer == layer && fs::path(c.reference).filename() == name) return box ? c.checkbox : c.rect;
    ADD_FAILURE() << "no cell " << name << " at " << layer;
    return Rect{};
  };
  std::string default_path, status1, status2, status3;
  size_t chosen1 = 0, chosen2 = 0, chosen_ctrl = 0;
  mm::app::Image shot;
  Script sc;
  sc.wait_thumbnails();
  sc.then([&](StudioProbe& p, int64_t) { return default_path = p.csv_path, true; });
  // A checkbox: boat_1 at conv2.
  sc.click([&](StudioProbe& p) { return cell(p, "boat_1.png", "conv2", true); });
  // Ctrl-click on cat_0 at conv1 (ImGui reads the modifiers from SDL's state at a key event).
  sc.then([](StudioProbe& p, int64_t) {
    SDL_SetModState(KMOD_LCTRL);
    p.display->push_key("Left Ctrl", true);
    return true;
  });
  sc.click([&](StudioProbe& p) { return cell(p, "cat_0.png", "conv1", false); });
  sc.then([&](StudioProbe& p, int64_t) {
    SDL_SetModState(KMOD_NONE);
    p.display->push_key("Left Ctrl");
    chosen_ctrl = p.chosen;
    return true;
  });
  sc.click([](StudioProbe& p) { return p.save_csv; });  // to the default path, beside the database
  sc.then([&](StudioProbe& p, int64_t k) { return k >= 2 && (status1 = p.csv_status, chosen1 = p.chosen, true); });
  // The cat references only, all of them shown selected, then saved to a typed path.
  sc.pick(category_of, "cat");
  sc.click([](StudioProbe& p) { return p.select_all; });
  sc.type([](StudioProbe& p) { return p.csv_field; }, second);
  sc.click([](StudioProbe& p) { return p.save_csv; });
  sc.then([&](StudioProbe& p, int64_t k) {
    if (k < 3) return false;
    status2 = p.csv_status, chosen2 = p.chosen, shot = p.display->capture();
    return true;
  });
  // The database's own path is refused.
  sc.type([](StudioProbe& p) { return p.csv_field; }, lab.db);
  sc.click([](StudioProbe& p) { return p.save_csv; });
  sc.then([&](StudioProbe& p, int64_t k) { return k >= 2 && (status3 = p.csv_status, true); });
  run(o, [&](StudioProbe& p) { sc(p); });

  EXPECT_EQ(default_path, tmp / "selection.csv");
  EXPECT_EQ(chosen_ctrl, 2u) << "the checkbox and the Ctrl-click";
  EXPECT_EQ(chosen1, 2u);
  EXPECT_NE(status1.find("wrote 2 stimuli to " + tmp / "selection.csv"), std::string::npos) << status1;
  // The table beside the database names the files relative to it, and parses back.
  EXPECT_EQ(mm::test::read_bytes(tmp / "selection.csv"),
            "file,category\nout/conv2/boat/boat_1_m.png,boat\nout/conv1/cat/cat_0_m.png,cat\n");
  EXPECT_FALSE(fs::exists(tmp / "selection.csv.tmp"));
  const auto first = parse_set(write_table_experiment(tmp.path, "selection.csv"));
  EXPECT_EQ(first, (std::vector<std::pair<std::string, std::string>>{{"boat", lab.out + "/conv2/boat/boat_1_m.png"},
                                                                      {"cat", lab.out + "/conv1/cat/cat_0_m.png"}}));
  // Select all shown added the three other cat cells; the boat one stays selected though hidden.
  EXPECT_EQ(chosen2, 5u);
  EXPECT_NE(status2.find("wrote 5 stimuli to " + second), std::string::npos) << status2;
  const auto both = parse_set(write_table_experiment(tmp / "study", "chosen.csv"));
  EXPECT_EQ(both, (std::vector<std::pair<std::string, std::string>>{{"boat", lab.out + "/conv2/boat/boat_1_m.png"},
                                                                     {"cat", lab.out + "/conv1/cat/cat_0_m.png"},
                                                                     {"cat", lab.out + "/conv1/cat/cat_1_m.png"},
                                                                     {"cat", lab.out + "/conv2/cat/cat_0_m.png"},
                                                                     {"cat", lab.out + "/conv2/cat/cat_1_m.png"}}));
  // Relative paths, also for files outside the table's folder (the study moves whole).
  EXPECT_NE(mm::test::read_bytes(second).find("\n" + mm::experiments::path_from(lab.out + "/conv1/cat/cat_1_m.png", tmp / "study") +
                                              ",cat\n"),
            std::string::npos);
  EXPECT_EQ(mm::test::read_bytes(second).find("\n/"), std::string::npos) << mm::test::read_bytes(second);
  EXPECT_EQ(status3, "not saved: " + lab.db + " is the database, which the window never writes; choose another file");
  EXPECT_EQ(mm::test::read_bytes(lab.db), db_before) << "the studio never writes to the database";
  ASSERT_GT(shot.width, 0);
  keep(shot, "studio_selection.png");
  // The selected cells' blue frames.
  EXPECT_GT(count(shot, [](const uint8_t* p) { return p[2] > 220 && p[0] < 120 && p[1] > 130 && p[1] < 190; }), 400u);
}

TEST(Studio, AFolderShowsItsImagesPerCategoryAndAnUnwritablePathWritesNothing) {
  mm::test::TempDir tmp("studio_folder");
  mm::test::write_image_set(tmp / "plain", {"boat", "cat", "dog"}, 3, 48);
  mm::test::write_bytes(tmp / "plain/notes.txt", "not an image\n");
  mm::test::write_bytes(tmp / "afile", "a file, not a folder\n");
  // What the folder holds, counted from the disk.
  std::multiset<std::string> on_disk;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "plain"))
    if (e.path().extension() == ".png") on_disk.insert(e.path().parent_path().filename().string() + "|" + e.path().string());
  ASSERT_EQ(on_disk.size(), 9u);
  StudioOptions o;
  o.db = tmp / "none.db";  // no database: the folder needs none
  o.panel = "Stimuli";
  o.width = 1280;
  o.height = 800;
  std::multiset<std::string> shown, dogs;
  std::vector<std::string> categories;
  std::string folder, bad_status, good_status;
  size_t thumbs = 0, chosen = 0, chosen_after_click = 99;
  std::string large;
  std::vector<std::string> files_before, files_after;
  mm::app::Image folder_shot, before_shot, error_shot;
  Script sc;
  sc.then([](StudioProbe& p, int64_t k) { return p.panel == "Stimuli" && k >= 3; });
  sc.type([](StudioProbe& p) { return p.folder_field; }, tmp / "plain");
  sc.click([](StudioProbe& p) { return p.folder_show; });
  sc.wait_thumbnails();
  sc.then([&](StudioProbe& p, int64_t) {
    folder = p.folder, categories = p.categories;
    for (const auto& c : p.cells) shown.insert(c.category + "|" + c.reference), thumbs += c.thumbnail;
    folder_shot = p.display->capture();
    return true;
  });
  sc.pick(category_of, "dog");
  sc.then([&](StudioProbe& p, int64_t k) {
    if (k < 2) return false;
    for (const auto& c : p.cells) dogs.insert(c.category + "|" + c.reference);
    return true;
  });
  // A plain click on dog_0 (shows it large), a Shift-click on dog_2: the three dogs selected.
  const auto dog = [](StudioProbe& p, const std::string& name) {
    for (const auto& c : p.cells)
      if (fs::path(c.reference).filename() == name) return c.rect;
    ADD_FAILURE() << "no image " << name;
    return Rect{};
  };
  sc.click([&](StudioProbe& p) { return dog(p, "dog_0.png"); });
  sc.then([&](StudioProbe& p, int64_t) {
    chosen_after_click = p.chosen, large = p.detail;
    SDL_SetModState(KMOD_LSHIFT);  // ImGui reads the modifiers from SDL's state at a key event
    p.display->push_key("Left Shift", false, true);
    return true;
  });
  sc.click([&](StudioProbe& p) { return dog(p, "dog_2.png"); });
  sc.then([](StudioProbe& p, int64_t) {
    SDL_SetModState(KMOD_NONE);
    p.display->push_key("Left Shift");
    return true;
  });
  sc.type([](StudioProbe& p) { return p.csv_field; }, tmp / "afile/selection.csv");
  sc.then([&](StudioProbe& p, int64_t) {
    before_shot = p.display->capture();
    return files_before = files_under(tmp.path), true;
  });
  sc.click([](StudioProbe& p) { return p.save_csv; });
  sc.then([&](StudioProbe& p, int64_t k) {
    if (k < 2) return false;
    bad_status = p.csv_status, chosen = p.chosen, error_shot = p.display->capture();
    files_after = files_under(tmp.path);
    return true;
  });
  sc.type([](StudioProbe& p) { return p.csv_field; }, tmp / "dogs.csv");
  sc.click([](StudioProbe& p) { return p.save_csv; });
  sc.then([&](StudioProbe& p, int64_t k) { return k >= 2 && (good_status = p.csv_status, true); });
  run(o, [&](StudioProbe& p) { sc(p); });

  EXPECT_EQ(folder, tmp / "plain");
  EXPECT_EQ(categories, (std::vector<std::string>{"All", "boat", "cat", "dog"}));
  EXPECT_EQ(shown, on_disk);
  EXPECT_EQ(thumbs, 9u);
  std::multiset<std::string> want_dogs;
  for (const auto& f : on_disk)
    if (f.rfind("dog|", 0) == 0) want_dogs.insert(f);
  EXPECT_EQ(dogs, want_dogs);
  ASSERT_GT(folder_shot.width, 0);
  keep(folder_shot, "studio_folder.png");

  EXPECT_EQ(chosen_after_click, 0u) << "a plain click selects nothing";
  EXPECT_EQ(large, "category dog\n" + tmp / "plain/dog/dog_0.png" + "\n");
  // The unwritable path: one line in the panel, nothing written anywhere.
  EXPECT_EQ(chosen, 3u) << "the Shift-click selected dog_0 ... dog_2";
  EXPECT_EQ(bad_status.rfind("not saved: " + tmp / "afile/selection.csv", 0), 0u) << bad_status;
  EXPECT_EQ(bad_status.find('\n'), std::string::npos) << bad_status;
  EXPECT_EQ(files_after, files_before);
  EXPECT_EQ(mm::test::read_bytes(tmp / "afile"), "a file, not a folder\n");
  ASSERT_GT(error_shot.width, 0);
  keep(error_shot, "studio_csv_error.png");
  const auto red = [](const uint8_t* p) { return p[0] > 200 && p[1] < 130 && p[2] < 130; };
  EXPECT_GT(count(error_shot, red), count(before_shot, red) + 150);  // the red line
  EXPECT_FALSE(fs::exists(o.db)) << "no database is created";

  // Then a good path: the three dogs, parsed back through the experiments module.
  EXPECT_NE(good_status.find("wrote 3 stimuli"), std::string::npos) << good_status;
  std::multiset<std::string> parsed;
  for (const auto& [category, path] : parse_set(write_table_experiment(tmp.path, "dogs.csv", {"boat", "cat", "dog"}))) parsed.insert(category + "|" + path);
  EXPECT_EQ(parsed, want_dogs);
}
