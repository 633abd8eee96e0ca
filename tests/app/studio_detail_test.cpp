// Tests of the Stimuli panel's detail view beyond images and measures (app/studio_detail.h),
// in-process on the test's Xvfb through real SDL events (Display::move_pointer + push_click):
// a clicked metamer's loss curve read from the database and drawn (the probe's points are the
// record's, the plot's area has drawn pixels, a curve spanning decades is on a log axis), a
// record without a curve (older database) saying so in one line; an audio metamer's Play
// buttons writing its sound through OpenAL Soft's wave backend (in a forked child: OpenAL
// reads its configuration once per process), no device giving one line; both cochleagrams
// computed in the background by the injected function and shown (probe and pixels), a
// function that throws giving one line. Also the curve's JSON reader and the cochleagram's
// colours on their own. The same through a database made by a real synth run, and the
// program's own cochleagrams, are in tests/sessions/studio_detail_test.cpp.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "app/studio.h"
#include "app/studio_detail.h"
#include "data/store.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

using namespace mm::app;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string run(StudioOptions o, const std::function<void(StudioProbe&)>& probe, int64_t max_frames = 600) {
  mm::test::ensure_xvfb();
  if (o.width == 0) o.width = 1100, o.height = 760;
  o.panel = "Stimuli";
  o.probe = [&](StudioProbe& p) {
    probe(p);
    if (p.frame > max_frames) {
      ADD_FAILURE() << "the workbench was still open at frame " << p.frame;
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

// Pixels inside r (drawable pixels) that differ from the panel's background by more than a little.
size_t drawn_in(const Image& img, const Rect& r) {
  size_t n = 0;
  const uint8_t* bg = img.at(static_cast<int>(r.x + 2), static_cast<int>(r.y + r.h - 2));  // the plot's fill
  for (int y = static_cast<int>(r.y); y < static_cast<int>(r.y + r.h) && y < img.height; ++y)
    for (int x = static_cast<int>(r.x); x < static_cast<int>(r.x + r.w) && x < img.width; ++x) {
      const uint8_t* p = img.at(x, y);
      n += std::abs(p[0] - bg[0]) + std::abs(p[1] - bg[1]) + std::abs(p[2] - bg[2]) > 60;
    }
  return n;
}

// Distinct colours inside r.
size_t colours_in(const Image& img, const Rect& r) {
  std::set<int> c;
  for (int y = static_cast<int>(r.y); y < static_cast<int>(r.y + r.h) && y < img.height; ++y)
    for (int x = static_cast<int>(r.x); x < static_cast<int>(r.x + r.w) && x < img.width; ++x) {
      const uint8_t* p = img.at(x, y);
      c.insert(p[0] << 16 | p[1] << 8 | p[2]);
    }
  return c.size();
}

// Clicks cells one after another: waits for the grid (every thumbnail in), moves the pointer
// to the cell of metamer `id`, clicks two frames later, then calls `then` every frame until
// it returns true (the next click) or the script ends.
struct Script {
  struct Step {
    int64_t id;
    std::function<bool(StudioProbe&)> then;
  };
  std::vector<Step> steps;
  size_t at = 0;
  int stage = 0;
  int64_t since = 0;
  void operator()(StudioProbe& p) {
    if (at >= steps.size()) {
      p.quit = true;
      return;
    }
    const Step& s = steps[at];
    const auto cell = std::find_if(p.cells.begin(), p.cells.end(), [&](const auto& c) { return c.metamer_id == s.id; });
    switch (stage) {
      case 0:
        if (cell != p.cells.end() && p.pending_thumbnails == 0 && p.frame > 3)
          p.display->move_pointer(cell->rect.cx(), cell->rect.cy()), since = p.frame, stage = 1;
        break;
      case 1:
        if (p.frame >= since + 2 && cell != p.cells.end())
          p.display->push_click(cell->rect.cx(), cell->rect.cy()), since = p.frame, stage = 2;
        break;
      case 2:
        if (p.selected == s.id && p.frame > since + 2 && s.then(p)) ++at, stage = 0;
        break;
    }
  }
};

// An image metamer record (its files need not exist: the curve is what these tests look at).
mm::data::MetamerRecord image_metamer(int64_t run_id, const std::string& dir, const std::string& name) {
  mm::data::MetamerRecord m;
  m.run_id = run_id;
  m.reference_path = dir + "/refs/" + name + ".png";
  m.reference_sha256 = "r-" + name;
  m.png_path = dir + "/out/" + name + "_m.png";
  m.category = "cat";
  m.layer = "conv1";
  m.iterations = 400;
  m.final_loss = 0.0021;
  m.passed = true;
  m.status = "ok";
  return m;
}

// [SECTION] Loss curve --------------------------------------------------------------------
TEST(StudioLossCurve, ReadsStepLossPairsSkipsNonFiniteAndRefusesOtherJsonInOneLine) {
  using mm::app::studio::parse_loss_curve;
  const auto c = parse_loss_curve("[[0, 2.5], [10, 0.25], [20, null], [30, 0.0125]]");
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.points, (std::vector<std::pair<int64_t, double>>{{0, 2.5}, {10, 0.25}, {30, 0.0125}}));
  EXPECT_TRUE(parse_loss_curve("[]").points.empty());
  EXPECT_EQ(parse_loss_curve("[]").error, "");
  for (const char* bad : {"", "{}", "[[1]]", "[[1, \"x\"]]", "[1, 2]", "[[0, 1.0], [1, 2.0]", "nonsense"}) {
    const auto b = parse_loss_curve(bad);
    EXPECT_NE(b.error, "") << bad;
    EXPECT_EQ(b.error.find('\n'), std::string::npos) << bad;
    EXPECT_TRUE(b.points.empty()) << bad;
  }
}

TEST(StudioCochleagramImage, TheHighestChannelIsOnTopAndLouderIsBrighter) {
  StudioCochleagram c;
  c.channels = 3;
  c.frames = 2;
  c.values = {0, 0, 0.5f, 0.5f, 1, 1};  // channel 0 silent, channel 2 loudest
  const std::vector<uint8_t> px = mm::app::studio::cochleagram_rgba(c);
  ASSERT_EQ(px.size(), 3u * 2u * 4u);
  const auto brightness = [&](int row) { return px[row * 8] + px[row * 8 + 1] + px[row * 8 + 2]; };
  EXPECT_GT(brightness(0), brightness(1));  // top row: channel 2
  EXPECT_GT(brightness(1), brightness(2));
  EXPECT_EQ(px[3], 255);
}

TEST(StudioDetail, AClickedMetamerShowsItsLossCurveAndAnOlderRecordSaysItHasNone) {
  mm::test::TempDir tmp("studio_curve");
  mm::test::write_image_set(tmp / "refs", {"cat"}, 3, 64, "{cat}_{k}.png");
  mm::test::write_image_set(tmp / "out", {"cat"}, 3, 64, "{cat}_{k}_m.png", 500);
  int64_t with_curve = 0, older = 0, flat = 0;
  const std::string curve = "[[0,3.2],[100,0.41],[200,0.05],[300,0.004],[400,0.0021]]";
  {
    mm::data::Store s(tmp / "c.db");
    const int64_t model = s.upsert_model({"zoo:tiny-cnn", "", std::string(64, 'c'), "image", "{}"});
    const int64_t run_id = s.begin_synth_run({model, "metamerlab synth", "{}", tmp / "out", "test"});
    mm::data::MetamerRecord a = image_metamer(run_id, tmp.path, "cat_0");
    a.loss_curve_json = curve;
    a.converged = 1;
    with_curve = s.add_metamer(a);
    older = s.add_metamer(image_metamer(run_id, tmp.path, "cat_1"));  // as before schema v4: "[]"
    mm::data::MetamerRecord f = image_metamer(run_id, tmp.path, "cat_2");
    f.loss_curve_json = "[[0,1.0],[50,0.8],[100,0.7]]";
    f.converged = 0;
    flat = s.add_metamer(f);
  }
  StudioOptions o;
  o.db = tmp / "c.db";
  StudioProbe curve_probe, older_probe, flat_probe;
  Image shot, flat_shot;
  Script script;
  script.steps.push_back({with_curve, [&](StudioProbe& p) {
                            if (p.loss_curve.empty()) return false;
                            curve_probe = p, shot = p.display->capture();
                            return true;
                          }});
  script.steps.push_back({older, [&](StudioProbe& p) {
                            if (p.loss_message.empty() || p.loss_message == "reading") return false;
                            older_probe = p;
                            return true;
                          }});
  script.steps.push_back({flat, [&](StudioProbe& p) {
                            if (p.loss_curve.empty()) return false;
                            flat_probe = p, flat_shot = p.display->capture();
                            return true;
                          }});
  EXPECT_EQ(run(o, std::ref(script)), "");
  ASSERT_EQ(script.at, 3u) << "the script stopped at step " << script.at;

  // The curve as recorded, on a log axis (3.2 to 0.0021 is more than three decades).
  EXPECT_EQ(curve_probe.loss_curve,
            (std::vector<std::pair<int64_t, double>>{{0, 3.2}, {100, 0.41}, {200, 0.05}, {300, 0.004}, {400, 0.0021}}));
  EXPECT_TRUE(curve_probe.loss_log);
  EXPECT_EQ(curve_probe.loss_message, "");
  ASSERT_GT(curve_probe.loss_plot.w, 100);
  ASSERT_GT(curve_probe.loss_plot.h, 50);
  ASSERT_GT(shot.width, 0);
  keep(shot, "studio_loss_curve.png");
  EXPECT_LE(curve_probe.loss_plot.y + curve_probe.loss_plot.h, shot.height) << "the plot is below the window";
  EXPECT_GT(drawn_in(shot, curve_probe.loss_plot), 300u);  // the curve, axes and labels
  // The curve's blue is drawn inside the plot.
  size_t blue = 0;
  const Rect& r = curve_probe.loss_plot;
  for (int y = static_cast<int>(r.y); y < static_cast<int>(r.y + r.h); ++y)
    for (int x = static_cast<int>(r.x); x < static_cast<int>(r.x + r.w); ++x) {
      const uint8_t* q = shot.at(x, y);
      blue += q[2] > 200 && q[0] < 140 && q[1] > 120 && q[1] < 210;
    }
  EXPECT_GT(blue, 100u);
  EXPECT_NE(curve_probe.detail.find("final loss 0.0021 after 400 steps; converged: yes"), std::string::npos)
      << curve_probe.detail;

  // A record made before loss curves were recorded: one line, no plot.
  EXPECT_EQ(older_probe.loss_message, "no loss curve recorded (older database)");
  EXPECT_TRUE(older_probe.loss_curve.empty());
  EXPECT_EQ(older_probe.loss_plot.w, 0);

  // Within a decade (1.0 to 0.7): a linear axis.
  EXPECT_EQ(flat_probe.loss_curve.size(), 3u);
  EXPECT_FALSE(flat_probe.loss_log);
  keep(flat_shot, "studio_loss_curve_linear.png");
  EXPECT_GT(drawn_in(flat_shot, flat_probe.loss_plot), 300u);
}

// [SECTION] Audio -------------------------------------------------------------------------
// A database with one audio metamer: a 440 Hz reference and a 660 Hz "metamer" (16 kHz,
// 0.5 s), by an audio model.
struct SoundLab {
  std::string db, reference, metamer;
  int64_t id = 0;
};
SoundLab make_sound_lab(const mm::test::TempDir& tmp) {
  SoundLab lab{tmp / "s.db", tmp / "refs/yes/yes0.wav", tmp / "out/stage1/yes/yes0_m.wav"};
  const auto tone = [](const std::string& path, double hz) {
    mm::stimuli::Array a;
    a.shape = {8000};
    a.data.resize(8000);
    for (int i = 0; i < 8000; ++i) a.data[static_cast<size_t>(i)] = 0.3f * static_cast<float>(std::sin(2 * M_PI * hz * i / 16000));
    fs::create_directories(fs::path(path).parent_path());
    mm::stimuli::save_wav_float(path, a, 16000);
  };
  tone(lab.reference, 440);
  tone(lab.metamer, 660);
  mm::data::Store s(lab.db);
  const int64_t model = s.upsert_model({"zoo:words-test", "", std::string(64, 'd'), "audio", "{}"});
  const int64_t run_id = s.begin_synth_run({model, "metamerlab synth", "{}", tmp / "out", "test"});
  mm::data::MetamerRecord m;
  m.run_id = run_id;
  m.reference_path = lab.reference;
  m.reference_sha256 = "ref-yes0";
  m.category = "yes";
  m.layer = "stage1";
  m.wav_path = lab.metamer;
  m.wav_sha256 = "met-yes0";
  m.iterations = 10;
  m.final_loss = 0.5;
  m.passed = true;
  m.status = "ok";
  m.loss_curve_json = "[[0,1.0],[5,0.7],[10,0.5]]";
  lab.id = s.add_metamer(m);
  return lab;
}

// A stand-in for the program's cochleagram (torch is not linked here): a picture whose
// channel rows are as bright as the frequency in the file's name, after a short wait (it
// runs on a background thread: the window must keep drawing meanwhile).
StudioCochleagram fake_cochleagram(const std::string& wav, const std::string& model) {
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  if (!fs::exists(wav)) throw std::runtime_error("cochleagram of " + wav + ": no such file");
  StudioCochleagram c;
  c.channels = 40;
  c.frames = 80;
  for (int r = 0; r < c.channels; ++r)
    for (int t = 0; t < c.frames; ++t) c.values.push_back(static_cast<float>((r * 7 + t) % 40) / 39.0f);
  c.source = "test picture for " + model;
  return c;
}

// In a forked child (OpenAL's configuration is read once per process): the workbench on the
// sound lab; clicks the metamer, waits for both cochleagrams, clicks Play metamer (and Play
// reference when `both`), draws half a second more, closes. Returns what it saw as JSON.
json play_child(const SoundLab& lab, const std::vector<mm::test::EnvVar>& env, bool both, const std::string& shot_file,
                StudioCochleagramFn coch = fake_cochleagram) {
  mm::test::ensure_xvfb();
  const mm::test::ChildResult r = mm::test::run_in_child(
      [&] {
        StudioOptions o;
        o.db = lab.db;
        o.cochleagram = coch;
        json j;
        int stage = 0;
        int64_t since = 0, computing_frames = 0;
        auto played_at = std::chrono::steady_clock::now();
        const auto seconds_since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - played_at).count(); };
        Script script;
        script.steps.push_back({lab.id, [&](StudioProbe& p) {
                                  Display& d = *p.display;
                                  switch (stage) {
                                    case 0:  // both cochleagrams (or their error) in
                                      computing_frames += p.pending_thumbnails > 0;
                                      if (p.pending_thumbnails == 0 && p.frame > since + 3) {
                                        const Image img = d.capture();
                                        if (!shot_file.empty()) save_png(shot_file, img);
                                        j["cochleagrams"] = p.cochleagrams.size();
                                        j["source"] = p.cochleagram_source;
                                        j["coch_status"] = p.cochleagram_status;
                                        j["computing_frames"] = computing_frames;
                                        for (const Rect& c : p.cochleagrams) j["coch_colours"].push_back(colours_in(img, c));
                                        j["loss_points"] = p.loss_curve.size();
                                        d.move_pointer(p.play_metamer.cx(), p.play_metamer.cy());
                                        since = p.frame, stage = 1;
                                      }
                                      return false;
                                    case 1:
                                      if (p.frame == since + 2) d.push_click(p.play_metamer.cx(), p.play_metamer.cy());
                                      if (p.played >= 1 || p.frame > since + 10) {
                                        j["status_metamer"] = p.audio_status;
                                        since = p.frame, stage = 2, played_at = std::chrono::steady_clock::now();
                                        if (both) d.move_pointer(p.play_reference.cx(), p.play_reference.cy());
                                      }
                                      return false;
                                    case 2:
                                      if (both && p.frame == since + 3) d.push_click(p.play_reference.cx(), p.play_reference.cy());
                                      if (seconds_since() < 1.2 || p.frame < since + 6) return false;  // the sound is written in real time
                                      j["played"] = p.played;
                                      j["status"] = p.audio_status;
                                      return true;
                                  }
                                  return false;
                                }});
        j["stderr"] = run(o, std::ref(script));
        j["steps"] = script.at;
        return j.dump();
      },
      env, 60);
  if (r.exit_code != 0) throw std::runtime_error("child failed (" + std::to_string(r.exit_code) + "): " + r.out);
  return json::parse(r.out);
}

// Samples of a wave file, mixed to mono.
std::vector<float> read_mono(const std::string& path, int& rate) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) return {};
  std::vector<float> inter(static_cast<size_t>(info.frames) * info.channels);
  sf_readf_float(f, inter.data(), info.frames);
  sf_close(f);
  rate = info.samplerate;
  std::vector<float> mono(static_cast<size_t>(info.frames));
  for (sf_count_t i = 0; i < info.frames; ++i)
    for (int c = 0; c < info.channels; ++c) mono[i] += inter[i * info.channels + c] / info.channels;
  return mono;
}

// The strongest of a few frequencies in x (Goertzel power at each).
double strongest(const std::vector<float>& x, int rate, const std::vector<double>& hz) {
  double best = 0, best_p = -1;
  for (double f : hz) {
    double re = 0, im = 0;
    for (size_t i = 0; i < x.size(); ++i) re += x[i] * std::cos(2 * M_PI * f * i / rate), im += x[i] * std::sin(2 * M_PI * f * i / rate);
    if (re * re + im * im > best_p) best_p = re * re + im * im, best = f;
  }
  return best;
}

TEST(StudioDetail, PlayWritesTheMetamersSoundThroughOpenALAndBothCochleagramsAreShown) {
  mm::test::TempDir tmp("studio_play");
  const SoundLab lab = make_sound_lab(tmp);
  const std::string conf = tmp / "alsoft.conf", wave = tmp / "out.wav", shot = tmp / "sound.png";
  mm::test::write_bytes(conf, "[general]\ndrivers = wave\n[wave]\nfile = " + wave + "\n");
  const json j = play_child(lab, {{"ALSOFT_CONF", conf}, {"ALSOFT_DRIVERS", "", true}}, false, shot);
  SCOPED_TRACE(j.dump());
  EXPECT_EQ(j["stderr"], "");
  ASSERT_EQ(j["steps"], 1);
  // Both cochleagrams, computed in the background while the window drew, and on screen.
  EXPECT_EQ(j["cochleagrams"], 2);
  EXPECT_GT(j["computing_frames"].get<int>(), 1);
  EXPECT_EQ(j["source"], "test picture for zoo:words-test");
  EXPECT_EQ(j["coch_status"], "");
  for (const auto& n : j["coch_colours"]) EXPECT_GT(n.get<int>(), 20);
  EXPECT_EQ(j["loss_points"], 3);
  if (const char* dir = std::getenv("METAMERLAB_KEEP_SCREENSHOTS"))
    fs::copy_file(shot, std::string(dir) + "/studio_sound.png", fs::copy_options::overwrite_existing);
  // Played once, through the wave writer: the file holds the metamer's 660 Hz tone.
  EXPECT_EQ(j["played"], 1);
  EXPECT_NE(j["status"].get<std::string>().find("playing yes0_m.wav (0.50 s, 16000 Hz) on Wave File Writer"),
            std::string::npos);
  int rate = 0;
  const std::vector<float> out = read_mono(wave, rate);
  ASSERT_GT(out.size(), 0u) << "no sound written to " << wave;
  float peak = 0;
  for (float v : out) peak = std::max(peak, std::abs(v));
  EXPECT_GT(peak, 0.1f);
  EXPECT_EQ(strongest(out, rate, {440, 660}), 660.0);
}

TEST(StudioDetail, WithoutASoundDeviceAndWithoutCochleagramsTheDetailSaysSoInOneLine) {
  mm::test::TempDir tmp("studio_nosound");
  const SoundLab lab = make_sound_lab(tmp);
  // No device: one line where the sound would be; a cochleagram function that fails: one line.
  const json j = play_child(lab, {{"ALSOFT_DRIVERS", "nonexistent"}, {"ALSOFT_CONF", "", true}}, true, "",
                            [](const std::string& wav, const std::string&) -> StudioCochleagram {
                              throw std::runtime_error("cochleagram of " + wav + ": not a sound file\nmore detail");
                            });
  SCOPED_TRACE(j.dump());
  ASSERT_EQ(j["steps"], 1);
  EXPECT_EQ(j["played"], 0);
  const std::string status = j["status"];
  EXPECT_EQ(status.rfind("cannot play: no audio device", 0), 0u) << status;
  EXPECT_EQ(status.find('\n'), std::string::npos);
  EXPECT_EQ(j["cochleagrams"], 0);
  EXPECT_EQ(j["coch_status"], "cochleagram of " + lab.reference + ": not a sound file");
  EXPECT_EQ(j["stderr"], "");

  // No cochleagram function at all (a window without torch): one line says why.
  StudioOptions o;
  o.db = lab.db;
  std::string coch_status;
  Script script;
  script.steps.push_back({lab.id, [&](StudioProbe& p) {
                            coch_status = p.cochleagram_status;
                            return true;
                          }});
  run(o, std::ref(script));
  EXPECT_EQ(coch_status, "no cochleagrams: they need torch, which only the metamerlab program links");
}

}  // namespace
