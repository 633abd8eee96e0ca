// Tests of the experimenter's workbench (app/studio.h) under a private Xvfb, driven through
// SDL's event queue (Display::push_key, move_pointer + push_click) from the test probe:
// Ctrl+Tab, Ctrl+number and a click on a tab switch panels, Ctrl+= changes the text size,
// Ctrl+Q closes it; the settings file is written and read back (a corrupt one gives one
// line and the defaults); with a small database made through the store API the Sessions
// panel shows its sessions and the Stimuli panel its grid of thumbnails with pass/fail
// marks, filtered by category, and a clicked cell's measures (checked through the probe
// and on the screenshot's pixels). Also the settings file's reader on its own.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "app/studio.h"
#include "app/studio_settings.h"
#include "data/store.h"
#include "stimuli/stimuli.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

using namespace mm::app;
namespace fs = std::filesystem;

namespace {

// Runs the workbench on the test's Xvfb with a probe; returns what it printed on stderr.
std::string run(StudioOptions o, const std::function<void(StudioProbe&)>& probe, int* code = nullptr) {
  mm::test::ensure_xvfb();
  if (o.width == 0) o.width = 1024, o.height = 700;
  o.probe = [&](StudioProbe& p) {
    probe(p);
    if (p.frame > 400) {  // a script that never quits is a failure, not a hang
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
// four references of two categories) whose PNGs exist; boat_0 fails at conv2.
struct Lab {
  std::string db, refs, out;
};
Lab make_lab(const mm::test::TempDir& tmp) {
  Lab lab{tmp / "lab.db", tmp / "refs", tmp / "out"};
  mm::test::write_image_set(lab.refs, {"boat", "cat"}, 2, 64);
  mm::test::write_image_set(lab.out, {"boat", "cat"}, 2, 64, "{cat}/{cat}_{k}_m.png", 500);
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
        m.png_path = lab.out + "/" + cat + "/" + cat + "_" + std::to_string(k) + "_m.png";
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
  EXPECT_EQ(s.width, 1024);
  EXPECT_EQ(s.height, 700);
  StudioOptions again;
  again.settings = o.settings;
  std::string first;
  float font2 = 0;
  std::string status;
  run(again, [&](StudioProbe& p) {
    if (first.empty()) first = p.panel, font2 = p.font_px;  // the first panel shown
    if (p.frame == 2) p.display->push_key("4", true);
    if (p.frame == 4) status = p.status, p.quit = true;
  });
  EXPECT_EQ(first, "Stimuli");
  EXPECT_EQ(font2, 20);
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
