// Tests of the workbench's experiment designer (app/studio_designer.h) under a private Xvfb,
// driven through SDL's event queue (pointer moves, clicks, wheel turns and typed text at the
// widgets the probe names): demo-images built from a new experiment, field by field, saves
// to a file whose plan is the bundled file's plan; a malformed file shows its error at its
// field (a click on the message focuses the field) and nothing is written; a file with
// comments is saved only after "Save anyway", and then as the writer writes it; an image
// set shows a thumbnail of each category; a trial previewed in the window reports its
// phases and records nothing; a file is picked from a list, a set's files become a CSV
// table edited row by row, Save as into another folder keeps the paths naming the same
// files, and a words file is edited and saved.
#include <gtest/gtest.h>

#include <SDL.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "app/studio.h"
#include "app/studio_designer.h"
#include "experiments/experiment.h"
#include "experiments/experiment_writer.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"
#include "tests/experiments/lab.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

using namespace mm::app;
namespace fs = std::filesystem;
namespace ex = mm::experiments;

namespace {

// A list of steps, each called every frame until it says it is done.
struct Steps {
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
  void wait(int frames) {
    then([frames](StudioProbe&, int64_t k) { return k >= frames; });
  }
  // Waits for the validation of the last edit (its messages move the widgets below them),
  // scrolls the design column until the widget is inside it, points at it and clicks once
  // it has stayed in place for two frames.
  void click(const std::string& widget) {
    then([widget](StudioProbe& p, int64_t k) {
      const auto& w = p.designer.widgets;
      if (!w.count(widget) || p.designer.checking) {
        if (k > 120) {
          ADD_FAILURE() << "no widget " << widget;
          if (const char* dir = std::getenv("METAMERLAB_KEEP_SCREENSHOTS"))  // what the window showed instead
            save_png(std::string(dir) + "/designer-no-widget-" + widget + ".png", p.display->capture());
        }
        return k > 120;
      }
      const Rect r = w.at(widget);
      static const std::set<std::string> bar = {"New", "path", "browse.path", "Open", "Save", "Save as"};
      if (w.count("design") && widget.find('=') == std::string::npos && !bar.count(widget) &&  // combo items float
          widget.rfind("picker.", 0) != 0 &&                                                 // so does the picker
          r.cx() >= w.at("design").x && r.cx() <= w.at("design").x + w.at("design").w) {      // over the column
        const Rect c = w.at("design");
        const bool above = r.y < c.y + 4, below = r.y + r.h > c.y + c.h - 4;
        if ((above || below) && k < 300) {
          if (k % 3 == 0) {  // the wheel over the labels' margin: a multi-line field would take it
            p.display->move_pointer(c.x + 12, c.cy());
            p.display->push_wheel(above ? 1.0f : -1.0f);
          }
          return false;
        }
      }
      return true;
    });
    then([widget, last = Rect{}, still = 0, clicked = int64_t(-1)](StudioProbe& p, int64_t k) mutable {
      if (clicked >= 0) return k >= clicked + 4;
      const Rect r = p.designer.widgets.count(widget) ? p.designer.widgets.at(widget) : Rect{};
      if (r.x != last.x || r.y != last.y) {
        p.display->move_pointer(r.cx(), r.cy());
        last = r, still = 0;
      } else if (++still >= 2 || k > 60) {
        p.display->push_click(r.cx(), r.cy());
        clicked = k;
      }
      return false;
    });
  }
  // Clicks the field and types `text` (a field that selects all on focus is replaced).
  void type(const std::string& widget, const std::string& text) {
    click(widget);
    then([text](StudioProbe& p, int64_t k) {
      if (k == 0)
        for (size_t i = 0; i < text.size(); i += 24) p.display->push_text(text.substr(i, 24));  // SDL's event holds 31 bytes
      return k >= 3;
    });
  }
  // Opens a combo box and picks `choice`.
  void pick(const std::string& widget, const std::string& choice) {
    click(widget);
    click(widget + "=" + choice);
  }
  // Types the experiment file's path and opens it.
  void open(const std::string& path) {
    type("path", path);
    click("Open");
  }
  // Waits until the validation of the latest edit is in.
  void settle() {
    then([](StudioProbe& p, int64_t k) { return k >= 3 && !p.designer.checking; });
  }
};

// A copy of demo-images and its stimuli under root, with a fake demo database
// (out/demo/metamerlab.db); returns the experiment file.
std::string demo_tree(const std::string& root) {
  const std::string path = ex::testing::scratch_tree(root, "demo-images.toml", "emoji16");
  ex::testing::write_fake_demo(root, "out/demo", "stimuli/samples/emoji16/reference", false);
  return path;
}

std::string run(StudioOptions o, Steps& steps, int64_t max_frames) {
  mm::test::ensure_xvfb();
  o.width = 1280, o.height = 900;
  o.panel = "Experiment";
  o.probe = [&](StudioProbe& p) {
    steps(p);
    if (p.frame > max_frames) {
      ADD_FAILURE() << "the workbench was still open at frame " << p.frame << " (step " << steps.i << ")";
      p.quit = true;
    }
  };
  std::ostringstream out, err;
  run_studio(o, out, err);
  return err.str();
}

void keep(const Image& img, const std::string& name) {
  if (const char* dir = std::getenv("METAMERLAB_KEEP_SCREENSHOTS")) save_png(std::string(dir) + "/" + name, img);
}

std::string plan_text(const ex::Experiment& e, int64_t participant) {
  ex::Plan p = ex::make_plan(e, participant);
  p.experiment_path.clear();
  p.experiment_sha256.clear();
  p.experiment_name.clear();
  return ex::plan_to_json(p, 1);
}

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::recursive_directory_iterator(dir)) v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(StudioDesigner, DemoImagesBuiltFromANewExperimentPlansAsTheBundledFile) {
  mm::test::TempDir tmp("designer-build");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string bundled = demo_tree(root);
  const std::string db = root + "/out/demo/metamerlab.db";
  const std::string built = root + "/experiments/built.toml";

  Steps s;
  s.then([](StudioProbe& p, int64_t k) { return k >= 3 && p.panel == "Experiment"; });
  s.click("New");
  s.type("path", built);
  s.type("experiment.name", "demo-images");
  s.type("experiment.description", "Recognition of emoji16 metamers of a standard and a robust network (16-way)");
  s.type("experiment.seed", "2023");
  s.type("responses.alternatives",
         "airplane, bear, bicycle, bird, boat, bottle, car, cat, chair, clock, dog, elephant, fish, keyboard, knife, truck");
  s.type("responses.icons", "icons-emoji16");
  s.type("images.size", "256");
  for (const auto& [phase, ms] : std::vector<std::pair<std::string, std::string>>{
           {"fixation", "300"}, {"stimulus", "300"}, {"mask", "300"}, {"response", "0"}, {"iti", "500"}})
    s.type("timing." + phase, ms);
  s.click("Add set");
  s.type("sets.0", "references");
  s.type("sets.0.folders", "../stimuli/samples/emoji16/reference");
  s.click("Add set");
  s.type("sets.1", "practice");
  s.type("sets.1.folders", "../stimuli/samples/emoji16/practice");
  for (const std::string kind : {"standard", "robust"}) {
    const std::string f = kind == "standard" ? "metamers.0" : "metamers.1";
    s.click("Add metamer source");
    s.type(f + ".model", "zoo:emoji16-" + kind);
    s.type(f + ".layers", "conv1, stage2, stage3, logits");
  }
  s.click("Add instructions");
  s.type("blocks.0.text",
         "Each trial shows a cross, then a picture for a moment, then a noisy pattern.\n"
         "Click the icon of the object you saw (or press its key).\n"
         "Some pictures are hard to recognize: guess when unsure.\n");
  s.click("Add practice");
  s.type("blocks.1.name", "practice");
  s.pick("blocks.1.set", "practice");
  s.type("blocks.1.trials", "16");
  s.pick("blocks.1.feedback", "true");
  s.type("blocks.1.timing.fixation", "500");
  s.type("blocks.1.timing.stimulus", "400");
  s.type("blocks.1.timing.mask", "400");
  s.click("Add demo");
  s.type("blocks.2.name", "demo");
  s.pick("blocks.2.set", "practice");
  s.type("blocks.2.trials", "12");
  s.type("blocks.2.pass_min_correct", "7");
  s.type("blocks.2.text", "Now a few trials without feedback. You need 7 of 12 correct to continue.");
  s.type("blocks.2.fail_text", "Thank you! That is the end of the session.");
  s.click("Add debrief");  // added before main, then moved below it
  s.type("blocks.3.text",
         "Thank you for taking part! Many pictures were model metamers: images a network treats as the same as a "
         "natural one.");
  s.click("Add main");
  s.type("blocks.4.name", "main");
  s.pick("blocks.4.set", "references");
  s.type("blocks.4.catch", "16");
  s.type("blocks.4.max_run", "3");
  s.type("blocks.4.break_every", "16");
  s.type("blocks.4.text", "The experiment starts now. Take breaks when offered.");
  s.click("blocks.4.up");
  s.settle();
  Image shot;
  std::vector<std::string> messages;
  size_t errors = 99;
  std::string plan;
  s.then([&](StudioProbe& p, int64_t k) {
    if (k < 2) return false;
    messages = p.designer.messages;
    errors = p.designer.errors;
    plan = p.designer.plan;
    shot = p.display->capture();
    return true;
  });
  s.click("Save as");
  std::string status;
  s.then([&](StudioProbe& p, int64_t k) {
    status = p.designer.status;
    return k >= 3;
  });
  const std::string err = run([&] {
    StudioOptions o;
    o.db = db;
    return o;
  }(), s, 4000);
  EXPECT_EQ(err, "");
  keep(shot, "designer-built.png");
  EXPECT_EQ(status.rfind("saved " + built, 0), 0u) << status;
  EXPECT_EQ(errors, 0u) << (messages.empty() ? "" : messages[0]);
  EXPECT_NE(plan.find("participant 1: "), std::string::npos) << plan;
  ASSERT_TRUE(fs::exists(built));

  ex::LoadOptions lo;
  lo.default_database = db;
  const ex::Experiment a = ex::load_experiment(bundled, lo), b = ex::load_experiment(built, lo);
  for (int64_t participant : {1, 4, 9}) EXPECT_EQ(plan_text(a, participant), plan_text(b, participant)) << participant;
  EXPECT_EQ(a.name, b.name);
  // The screenshot shows the panel: not one colour.
  ASSERT_GT(shot.width, 0);
  std::set<uint32_t> colours;
  for (int y = 0; y < shot.height; y += 7)
    for (int x = 0; x < shot.width; x += 7) {
      const uint8_t* px = shot.at(x, y);
      colours.insert(px[0] << 16 | px[1] << 8 | px[2]);
    }
  EXPECT_GT(colours.size(), 20u);
}

TEST(StudioDesigner, AMalformedFileShowsItsErrorAtItsFieldAndNothingIsWritten) {
  ex::testing::Lab lab("designer-bad", 2);
  std::string t = lab.standard();
  ex::testing::replace(t, "stimulus = 300", "stimulus = -5");
  const std::string path = lab.write(t);
  const std::vector<std::string> before = listing(lab.root);
  const int line = ex::testing::line_with(t, "stimulus = -5");

  Steps s;
  s.then([](StudioProbe& p, int64_t k) { return k >= 3 && p.panel == "Experiment"; });
  s.open(path);
  s.settle();
  StudioProbe::Designer seen;
  s.then([&](StudioProbe& p, int64_t k) {
    seen = p.designer;
    return k >= 1;
  });
  // A click on the message focuses its field.
  s.then([&](StudioProbe& p, int64_t k) {
    const auto& m = p.designer.messages;
    for (size_t i = 0; i < m.size(); ++i)
      if (m[i].find("out of range") != std::string::npos && i < p.designer.message_rows.size()) {
        const Rect r = p.designer.message_rows[i];
        if (k == 0) p.display->move_pointer(r.cx(), r.cy());
        if (k == 2) p.display->push_click(r.cx(), r.cy());
        return k >= 6;
      }
    ADD_FAILURE() << "no message to click";
    return true;
  });
  std::string focus;
  Image shot;
  s.then([&](StudioProbe& p, int64_t k) {
    focus = p.designer.focus;
    if (k == 2) shot = p.display->capture();
    return k >= 2;
  });
  s.click("Save");  // the file's comments-free text still differs from the writer's? Either way: asked or refused
  std::string status;
  s.then([&](StudioProbe& p, int64_t k) {
    status = p.designer.status;
    return k >= 3;
  });
  StudioOptions none;
  const std::string err = run(none, s, 800);
  keep(shot, "designer-malformed.png");
  ASSERT_FALSE(seen.messages.empty());
  const std::string expected = path + ":" + std::to_string(line) + ": ";
  bool found = false;
  for (size_t i = 0; i < seen.messages.size(); ++i)
    if (seen.messages[i].rfind(expected, 0) == 0) {
      found = true;
      EXPECT_NE(seen.messages[i].find("out of range"), std::string::npos) << seen.messages[i];
      EXPECT_EQ(seen.message_fields[i], "timing.stimulus");
    }
  EXPECT_TRUE(found) << seen.messages[0];
  EXPECT_TRUE(seen.widgets.count("timing.stimulus"));
  EXPECT_EQ(focus, "timing.stimulus");
  // Save on an unedited file with an error: the text Save would write is the writer's; the
  // file's own text differs (its layout), so Save asks first; nothing was written.
  EXPECT_NE(status.find("Save anyway"), std::string::npos) << status;
  EXPECT_EQ(mm::test::read_bytes(path), t);
  EXPECT_EQ(listing(lab.root), before);
}

TEST(StudioDesigner, AFileWithCommentsIsSavedOnlyAfterSaveAnyway) {
  mm::test::TempDir tmp("designer-comments");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = demo_tree(root);
  const std::string original = mm::test::read_bytes(path);

  Steps s;
  s.then([](StudioProbe& p, int64_t k) { return k >= 3 && p.panel == "Experiment"; });
  s.open(path);
  s.settle();
  s.click("Save");
  std::string first, bytes_after_first, second;
  s.then([&](StudioProbe& p, int64_t k) {
    first = p.designer.status;
    bytes_after_first = mm::test::read_bytes(path);
    return k >= 2;
  });
  s.click("Save");  // now labelled "Save anyway"
  std::string saved;
  s.then([&](StudioProbe& p, int64_t k) {
    second = p.designer.status;
    saved = mm::test::read_bytes(path);
    return k >= 2;
  });
  // Another editor changes the file (in the writer's own layout): Save asks again.
  std::string changed, third, bytes_after_third;
  s.then([&](StudioProbe&, int64_t) {
    changed = ex::write_draft(ex::read_draft(original).draft).text + "\n";
    mm::test::write_bytes(path, changed);
    return true;
  });
  s.click("Save");
  s.then([&](StudioProbe& p, int64_t k) {
    third = p.designer.status;
    bytes_after_third = mm::test::read_bytes(path);
    return k >= 2;
  });
  StudioOptions o;
  o.db = root + "/out/demo/metamerlab.db";
  run(o, s, 800);
  EXPECT_NE(first.find("comments"), std::string::npos) << first;
  EXPECT_NE(first.find("Save anyway"), std::string::npos) << first;
  EXPECT_EQ(bytes_after_first, original);
  EXPECT_EQ(second.rfind("saved " + path, 0), 0u) << second;
  EXPECT_EQ(saved, ex::write_draft(ex::read_draft(original).draft).text);
  EXPECT_EQ(saved.find('#'), std::string::npos);
  EXPECT_NE(third.find("changed on disk"), std::string::npos) << third;
  EXPECT_EQ(bytes_after_third, changed);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

// An image set shows one thumbnail per category under its fields (the first file of each):
// the 16 emoji16 references and 16 practice images of demo-images, read a few per frame;
// scrolled into view, a thumbnail is the image (many colours), not an empty square.
TEST(StudioDesigner, ImageSetsShowAThumbnailPerCategory) {
  mm::test::TempDir tmp("designer-thumbs");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = demo_tree(root);
  Steps s;
  s.then([](StudioProbe& p, int64_t k) { return k >= 3 && p.panel == "Experiment"; });
  s.open(path);
  s.settle();
  size_t drawn = 0;
  std::map<std::string, Rect> thumbs;
  s.then([&](StudioProbe& p, int64_t k) {
    drawn = p.designer.set_thumbnails;
    thumbs.clear();
    for (const auto& [w, r] : p.designer.widgets)
      if (w.find(".thumbnail.") != std::string::npos) thumbs[w] = r;
    return drawn >= 32 || k > 200;
  });
  s.click("sets.0.thumbnail.cat");  // scrolls the column to it
  Image shot;
  Rect cat;
  s.then([&](StudioProbe& p, int64_t k) {
    if (k < 2) return false;
    cat = p.designer.widgets.at("sets.0.thumbnail.cat");
    shot = p.display->capture();
    return true;
  });
  StudioOptions o;
  o.db = root + "/out/demo/metamerlab.db";
  run(o, s, 900);
  EXPECT_EQ(drawn, 32u);  // 16 categories in each of the two sets
  EXPECT_EQ(thumbs.size(), 32u);
  EXPECT_TRUE(thumbs.count("sets.0.thumbnail.airplane"));
  EXPECT_TRUE(thumbs.count("sets.1.thumbnail.truck"));
  ASSERT_GT(shot.width, 0);
  keep(shot, "designer_set_thumbnails.png");
  std::set<uint32_t> colours;
  for (int y = static_cast<int>(cat.y) + 2; y < static_cast<int>(cat.y + cat.h) - 2; ++y)
    for (int x = static_cast<int>(cat.x) + 2; x < static_cast<int>(cat.x + cat.w) - 2; ++x) {
      if (x < 0 || y < 0 || x >= shot.width || y >= shot.height) continue;
      const uint8_t* q = shot.at(x, y);
      colours.insert(uint32_t(q[0]) << 16 | uint32_t(q[1]) << 8 | q[2]);
    }
  EXPECT_GT(colours.size(), 20u) << "the cat thumbnail at " << cat.x << "," << cat.y;
}

// List fields: an item with a comma (a glob's braces, a category name) survives the text.
TEST(StudioDesigner, ListTextKeepsCommasQuotesAndSpaces) {
  namespace st = mm::app::studio;
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"cat"},
      {"cat", "dog", "bird"},
      {"*.{png,jpg}", "b"},
      {"say \"hi\"", "back\\slash", " padded ", ""},
      {"a,b,c"},
  };
  for (const auto& v : cases) EXPECT_EQ(st::parse_list_text(st::list_text(v)), v) << st::list_text(v);
  EXPECT_EQ(st::list_text({"*.{png,jpg}", "b"}), "\"*.{png,jpg}\", b");
  // What a person types: unquoted items trimmed, empty ones dropped; a quoted one kept whole.
  EXPECT_EQ(st::parse_list_text("cat , dog,, bird ,"), (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(st::parse_list_text("\"a, b\" , c"), (std::vector<std::string>{"a, b", "c"}));
  EXPECT_EQ(st::parse_list_text("\"unclosed, x"), (std::vector<std::string>{"unclosed, x"}));
}

// A trial previewed in the window: the session's own presentation at the display's refresh
// (the stimulus screen shows the image), answered by the scripted participant, its phases
// reported frame by frame, and nothing recorded in the database.
TEST(StudioDesigner, ATrialIsPreviewedWithItsTimingAndNothingIsRecorded) {
  mm::test::TempDir tmp("designer-preview");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = demo_tree(root);
  const std::string db = root + "/out/demo/metamerlab.db";
  const auto trials_in_db = [&] {
    mm::data::Store st(db);
    size_t n = 0;
    for (const auto& ses : st.list_sessions()) n += 1 + st.trials_of_session(ses.id).size();
    return n;
  };
  const size_t before = trials_in_db();
  Steps s;
  s.then([](StudioProbe& p, int64_t k) { return k >= 3 && p.panel == "Experiment"; });
  s.open(path);
  s.settle();
  std::string practice, main_block;
  s.click("Preview trial");  // the first block with trials: practice, trial 1
  s.then([&](StudioProbe& p, int64_t k) {
    practice = p.designer.preview;
    return !practice.empty() || k > 300;
  });
  s.pick("preview.block", "4 main");
  s.click("Preview trial");
  s.then([&](StudioProbe& p, int64_t k) {
    if (p.designer.preview != practice) main_block = p.designer.preview;
    return !main_block.empty() || k > 300;
  });
  StudioOptions o;
  o.db = db;
  o.run.auto_policy = "correct";
  o.run.screenshots = root + "/shots";
  run(o, s, 2400);
  // The practice block's own timing (500/400/400 ms), each in whole frames of the display.
  EXPECT_NE(practice.find("trial 1 of the plan"), std::string::npos) << practice;
  EXPECT_NE(practice.find("fixation: 500 ms requested, "), std::string::npos) << practice;
  EXPECT_NE(practice.find("stimulus: 400 ms requested, "), std::string::npos) << practice;
  EXPECT_NE(practice.find("mask: 400 ms requested, "), std::string::npos) << practice;
  EXPECT_NE(practice.find("(correct) after "), std::string::npos) << practice;
  EXPECT_NE(practice.find("nothing was recorded"), std::string::npos) << practice;
  EXPECT_NE(main_block.find(" of the plan ("), std::string::npos) << main_block;
  EXPECT_EQ(main_block.find("practice"), std::string::npos) << main_block;
  EXPECT_NE(main_block.find("fixation: "), std::string::npos) << main_block;
  EXPECT_EQ(trials_in_db(), before);
  // The stimulus screen showed an image: many colours in the middle of the window.
  std::string stim;
  for (const auto& e : fs::directory_iterator(root + "/shots"))
    if (e.path().filename().string().find("_stimulus.png") != std::string::npos) stim = e.path().string();
  ASSERT_FALSE(stim.empty());
  mm::stimuli::ImageSpec spec;
  spec.width = 1280, spec.height = 900;  // the window's size: no resampling
  const mm::stimuli::Array img = mm::stimuli::load_image(stim, spec);
  std::set<uint32_t> colours;
  const int64_t plane = spec.width * spec.height;
  for (int y = spec.height / 2 - 40; y < spec.height / 2 + 40; ++y)
    for (int x = spec.width / 2 - 40; x < spec.width / 2 + 40; ++x) {
      uint32_t c = 0;
      for (int ch = 0; ch < 3; ++ch)
        c = c << 8 | static_cast<uint32_t>(img.data[static_cast<size_t>(ch * plane + y * spec.width + x)] * 255 + 0.5f);
      colours.insert(c);
    }
  EXPECT_GT(colours.size(), 20u) << stim;
  if (const char* dir = std::getenv("METAMERLAB_KEEP_SCREENSHOTS")) fs::copy_file(stim, std::string(dir) + "/designer_preview_stimulus.png", fs::copy_options::overwrite_existing);
}

}  // namespace

TEST(StudioDesigner, FilesArePickedSetTablesAndWordsEditedAndSaveAsKeepsThePaths) {
  mm::test::TempDir tmp("designer-files");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = demo_tree(root);
  const std::string moved = root + "/studies/moved/tabled.toml";
  fs::create_directories(root + "/studies/moved");
  ex::LoadOptions lo;
  lo.default_database = root + "/out/demo/metamerlab.db";
  const ex::Experiment bundled = ex::load_experiment(path, lo);
  const size_t references = bundled.find_set("references")->items.size();

  Steps s;
  s.then([](StudioProbe& p, int64_t k) { return k >= 3 && p.panel == "Experiment"; });
  // The file picker: opened on the experiments folder, a click on the file, Choose.
  s.type("path", root + "/experiments/");
  s.click("browse.path");
  std::string listed, picked;
  Image picker_shot;
  s.then([&](StudioProbe& p, int64_t k) {
    listed = p.designer.picker;
    if (k == 4) picker_shot = p.display->capture();
    return (k > 4 && !listed.empty()) || k > 120;
  });
  s.click("picker.entry=demo-images.toml");
  s.click("picker.choose");
  s.then([&](StudioProbe& p, int64_t k) {
    picked = p.designer.path;
    return k >= 2;
  });
  s.click("Open");
  s.settle();
  // The references set's folder made into a table, its first row removed, saved.
  s.click("sets.0.to_table");
  s.click("sets.0.table_edit.0.remove");
  s.click("sets.0.table_edit.save");
  s.settle();
  std::string table_status;
  Image table_shot;
  s.then([&](StudioProbe& p, int64_t k) {
    table_status = p.designer.table_status;
    if (k == 3) table_shot = p.display->capture();
    return k >= 3;
  });
  // Saved as into another folder: its relative paths rewritten.
  s.type("path", moved);
  s.click("Save as");
  s.settle();
  std::string saved_status;
  s.then([&](StudioProbe& p, int64_t) {
    saved_status = p.designer.status;
    return true;
  });
  // The practice set's files made into a table whose default name exists: not replaced
  // until "Save anyway".
  s.click("sets.1.to_table");
  s.click("sets.1.table_edit.save");
  std::string refused_status, replaced_status, practice_after_refusal;
  s.then([&](StudioProbe& p, int64_t k) {
    refused_status = p.designer.table_status;
    practice_after_refusal = mm::test::read_bytes(root + "/studies/moved/practice.csv");
    return k >= 2;
  });
  s.click("sets.1.table_edit.save");
  s.then([&](StudioProbe& p, int64_t k) {
    replaced_status = p.designer.table_status;
    return k >= 2;
  });
  // A words file written through the editor.
  s.type("responses.words_file", "words.txt");
  s.click("responses.words_file.edit");
  s.type("responses.words_file.text", "alpha");
  s.click("responses.words_file.save");
  std::string words_status;
  s.then([&](StudioProbe& p, int64_t k) {
    words_status = p.designer.words_status;
    return k >= 2;
  });
  StudioOptions o;
  o.db = root + "/out/demo/metamerlab.db";
  mm::test::write_bytes(root + "/studies/moved/practice.csv", "kept\n");
  const std::string err = run(o, s, 4000);

  EXPECT_NE(refused_status.find("practice.csv exists: click \"Save anyway\""), std::string::npos) << refused_status;
  EXPECT_EQ(practice_after_refusal, "kept\n");
  const size_t practice = bundled.find_set("practice")->items.size();
  EXPECT_EQ(replaced_status.rfind("saved " + std::to_string(practice) + " rows to " + root + "/studies/moved/practice.csv", 0),
            0u)
      << replaced_status;
  EXPECT_EQ(ex::read_set_table(root + "/studies/moved/practice.csv").size(), practice);
  EXPECT_EQ(err.find("error"), std::string::npos) << err;
  EXPECT_EQ(listed, root + "/experiments");
  ASSERT_GT(picker_shot.width, 0);
  keep(picker_shot, "designer_file_picker.png");
  keep(table_shot, "designer_set_table.png");
  EXPECT_EQ(picked, path);
  EXPECT_EQ(table_status.rfind("saved " + std::to_string(references - 1) + " rows to " + root + "/experiments/references.csv", 0),
            0u)
      << table_status;
  const std::vector<ex::SetTableRow> rows = ex::read_set_table(root + "/experiments/references.csv");
  ASSERT_EQ(rows.size(), references - 1);
  EXPECT_EQ(fs::path(rows[0].file).filename(), fs::path(bundled.find_set("references")->items[1].path).filename());
  EXPECT_NE(saved_status.find("relative paths rewritten"), std::string::npos) << saved_status;
  // The moved file: the table and the other paths name the same files from its folder.
  ex::Experiment e;
  try {
    e = ex::load_experiment(moved, lo);
  } catch (const std::exception& x) {
    FAIL() << x.what() << "\n" << mm::test::read_bytes(moved);
  }
  EXPECT_EQ(e.find_set("references")->table, root + "/experiments/references.csv");
  EXPECT_EQ(e.find_set("references")->items.size(), references - 1);
  EXPECT_EQ(e.find_set("practice")->items.size(), bundled.find_set("practice")->items.size());
  EXPECT_EQ(e.alternatives.at(0).icon, bundled.alternatives.at(0).icon);
  EXPECT_NE(mm::test::read_bytes(moved).find("table = \"../../experiments/references.csv\""), std::string::npos);
  EXPECT_EQ(words_status.rfind("saved 1 words", 0), 0u) << words_status;
  EXPECT_EQ(mm::test::read_bytes(root + "/studies/moved/words.txt"), "alpha\n");
}

// A folder added to a set through the picker: opened at the set's last folder, ".." up, a
// click into a sibling, Choose; the set then lists it (relative to the experiment's folder)
// and the saved file's set holds both folders' files.
TEST(StudioDesigner, AFolderIsAddedToASetThroughThePicker) {
  mm::test::TempDir tmp("designer-folder-pick");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string path = demo_tree(root);
  const std::string saved = root + "/experiments/two-folders.toml";
  Steps s;
  s.then([](StudioProbe& p, int64_t k) { return k >= 3 && p.panel == "Experiment"; });
  s.open(path);
  s.settle();
  s.click("browse.sets.1.folders");
  std::string first, second;
  s.then([&](StudioProbe& p, int64_t k) {
    first = p.designer.picker;
    return (k > 4 && !first.empty()) || k > 120;
  });
  s.click("picker.up");
  s.click("picker.entry=reference");
  s.then([&](StudioProbe& p, int64_t k) {
    second = p.designer.picker;
    return k >= 24;  // past the double-click time: the next click is a click of its own
  });
  s.click("picker.choose");
  s.wait(3);
  s.type("path", saved);
  s.click("Save as");
  s.settle();
  StudioOptions o;
  o.db = root + "/out/demo/metamerlab.db";
  run(o, s, 3000);
  EXPECT_EQ(first, root + "/stimuli/samples/emoji16/practice");
  EXPECT_EQ(second, root + "/stimuli/samples/emoji16/reference");
  ex::LoadOptions lo;
  lo.default_database = o.db;
  const ex::Experiment bundled = ex::load_experiment(path, lo);
  ex::Experiment e;
  try {
    e = ex::load_experiment(saved, lo);
  } catch (const std::exception& x) {
    FAIL() << x.what();
  }
  const ex::StimulusSet* practice = e.find_set("practice");
  ASSERT_NE(practice, nullptr);
  EXPECT_EQ(practice->folders, (std::vector<std::string>{root + "/stimuli/samples/emoji16/practice",
                                                         root + "/stimuli/samples/emoji16/reference"}));
  EXPECT_EQ(practice->items.size(),
            bundled.find_set("practice")->items.size() + bundled.find_set("references")->items.size());
  EXPECT_NE(mm::test::read_bytes(saved).find("\"../stimuli/samples/emoji16/reference\""), std::string::npos);
}
