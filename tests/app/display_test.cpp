// Tests of the participant display under a private Xvfb (Mesa llvmpipe): the window and
// its refresh measurement, timestamped flips and dropped frames, and screenshots of the
// fixation, stimulus, mask and icon-grid screens checked on pixels; presentation fidelity:
// nearest scaling draws exact pixel blocks (linear does not), and the station's gamma
// table changes every drawn grey to the expected drive level.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "app/display.h"
#include "app/screens.h"
#include "experiments/station.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

using namespace mm::app;

namespace {

DisplayOptions windowed(int w = 640, int h = 480) {
  mm::test::ensure_xvfb();
  DisplayOptions o;
  o.fullscreen = false;
  o.width = w;
  o.height = h;
  o.measure_frames = 12;
  return o;
}

int px(const Image& img, int x, int y, int c) { return img.at(x, y)[c]; }

bool is_rgb(const Image& img, int x, int y, int r, int g, int b, int tol = 1) {
  const uint8_t* p = img.at(x, y);
  return std::abs(p[0] - r) <= tol && std::abs(p[1] - g) <= tol && std::abs(p[2] - b) <= tol;
}

mm::stimuli::Array random_image(int c, int h, int w, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  mm::stimuli::Array a;
  a.shape = {c, h, w};
  a.data.resize(static_cast<size_t>(c) * h * w);
  for (float& v : a.data) v = u(rng);
  return a;
}

}  // namespace

TEST(Display, OpensAWindowAndMeasuresTheRefresh) {
  Display d(windowed());
  const DisplayInfo& i = d.info();
  EXPECT_EQ(i.width, 640);
  EXPECT_EQ(i.height, 480);
  EXPECT_FALSE(i.fullscreen);
  EXPECT_EQ(i.video_driver, "x11");
  EXPECT_NE(i.gl_version.find("Mesa"), std::string::npos) << i.gl_version;
  // Xvfb has no vertical blank: the display paces itself at the fallback 60 Hz.
  EXPECT_TRUE(i.pacing == "timer" || i.pacing == "vsync") << i.pacing;
  if (i.pacing == "timer") {
    EXPECT_FALSE(i.vsync_note.empty());
    EXPECT_DOUBLE_EQ(i.frame_hz, i.nominal_hz > 0 ? i.nominal_hz : 60.0);
  }
  EXPECT_GT(i.measured_hz, 30);
  EXPECT_LT(i.measured_hz, 120);
  EXPECT_EQ(i.measured_frames, 12);
  EXPECT_EQ(d.frames_for(300).frames, static_cast<int>(std::lround(0.3 * i.frame_hz)));
}

TEST(Display, FlipsReturnIncreasingTimestampsOnAFrameGrid) {
  Display d(windowed());
  std::vector<Flip> flips;
  for (int k = 0; k < 30; ++k) {
    d.clear(Color::grey(k % 2 ? 0.2f : 0.8f));
    flips.push_back(d.flip());
  }
  for (size_t k = 1; k < flips.size(); ++k) {
    EXPECT_GT(flips[k].t, flips[k - 1].t);
    EXPECT_EQ(flips[k].index, flips[k - 1].index + 1);
    EXPECT_NEAR(flips[k].interval_ms, (flips[k].t - flips[k - 1].t) * 1000, 1e-6);
  }
  EXPECT_EQ(flips[0].interval_ms, 0.0);
  EXPECT_EQ(d.frame_log().flips(), 30);
  IntervalStats s = d.frame_log().stats();
  EXPECT_NEAR(s.period_ms, d.frame_ms(), 1e-9);
  // Never faster than the frame rate; on an idle machine, one frame apart. (A loaded
  // machine, e.g. parallel ctest on two cores, makes swaps late: dropped frames.)
  EXPECT_GT(s.mean_ms, 0.95 * d.frame_ms());
  EXPECT_LT(s.mean_ms, 2.5 * d.frame_ms());
  if (s.dropped == 0) {
    EXPECT_NEAR(s.p50_ms, d.frame_ms(), 3.0);
  }
}

TEST(Display, ALateFlipIsADroppedFrame) {
  Display d(windowed());
  d.clear(Color::grey(0.5f));
  d.flip();
  d.clear(Color::grey(0.5f));
  d.flip();
  int64_t before = d.frame_log().dropped();  // 0 unless the machine stalled
  wait_until(now_s() + 2.2 * d.frame_ms() / 1000);  // miss two frames
  d.clear(Color::grey(0.5f));
  Flip late = d.flip();
  EXPECT_TRUE(late.dropped);
  // With timer pacing the flip lands on the frame grid (3 frames on), as after a missed
  // vblank; a busy machine can add a few ms of swap time on top.
  EXPECT_GT(late.interval_ms, 2.5 * d.frame_ms());
  EXPECT_LT(late.interval_ms, 6 * d.frame_ms());
  EXPECT_EQ(d.frame_log().dropped(), before + 1);
  d.reset_frame_log();
  EXPECT_EQ(d.frame_log().flips(), 0);
}

TEST(Display, FixationScreenshot) {
  mm::test::TempDir tmp("fixation");
  Display d(windowed());
  ScreenStyle st;
  st.cross = {1, 0, 0, 1};  // red, to tell it from anything else
  draw_fixation(d, st);
  Image img = d.capture();
  ASSERT_EQ(img.width, 640);
  ASSERT_EQ(img.height, 480);
  EXPECT_TRUE(is_rgb(img, 320, 240, 255, 0, 0, 0)) << px(img, 320, 240, 0) << "," << px(img, 320, 240, 1);
  EXPECT_TRUE(is_rgb(img, 320 - 19, 240, 255, 0, 0, 0));  // arm ends
  EXPECT_TRUE(is_rgb(img, 320, 240 + 18, 255, 0, 0, 0));
  EXPECT_TRUE(is_rgb(img, 320 - 30, 240, 128, 128, 128));  // beyond the arm: grey
  EXPECT_TRUE(is_rgb(img, 10, 10, 128, 128, 128));
  EXPECT_TRUE(is_rgb(img, 330, 250, 128, 128, 128));  // between the arms
  int red = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) red += is_rgb(img, x, y, 255, 0, 0, 0);
  EXPECT_EQ(red, 40 * 4 * 2 - 4 * 4);  // two 40x4 bars sharing a 4x4 centre
  save_png(tmp / "fixation.png", img);
  EXPECT_GT(std::filesystem::file_size(tmp / "fixation.png"), 100u);
  d.flip();
}

TEST(Display, StimulusMatchesTheUploadedArray) {
  Display d(windowed());
  auto a = random_image(3, 90, 120, 11);
  Texture t = d.upload(a);
  EXPECT_EQ(t.width, 120);
  EXPECT_EQ(t.height, 90);
  Rect r = draw_stimulus(d, t);
  EXPECT_EQ(r.x, 260);
  EXPECT_EQ(r.y, 195);
  Image img = d.capture();
  int worst = 0;
  for (int y = 0; y < 90; ++y)
    for (int x = 0; x < 120; ++x)
      for (int c = 0; c < 3; ++c) {
        int want = static_cast<int>(std::lround(a.data[(static_cast<size_t>(c) * 90 + y) * 120 + x] * 255));
        worst = std::max(worst, std::abs(px(img, 260 + x, 195 + y, c) - want));
      }
  EXPECT_LE(worst, 1);  // within 1/255
  EXPECT_TRUE(is_rgb(img, 259, 195, 128, 128, 128));
  EXPECT_TRUE(is_rgb(img, 380, 284, 128, 128, 128));
  d.release(t);
  EXPECT_FALSE(t.valid());

  // grey image in another value range, drawn scaled up
  auto g = random_image(1, 8, 8, 3);
  for (float& v : g.data) v = v * 2 - 1;
  Texture tg = d.upload(g, -1, 1);
  draw_stimulus(d, tg, 160, 160);
  img = d.capture();
  // centre of block (2, 5) of the 8x8 image, each block 20x20 on screen
  int want = static_cast<int>(std::lround((g.data[5 * 8 + 2] + 1) / 2 * 255));
  EXPECT_NEAR(px(img, 240 + 2 * 20 + 10, 160 + 5 * 20 + 10, 0), want, 8);
  EXPECT_EQ(px(img, 240 + 50, 160 + 110, 0), px(img, 240 + 50, 160 + 110, 2));  // grey
  EXPECT_THROW(d.upload(mm::stimuli::Array{{5}, {1, 2, 3, 4, 5}}), std::invalid_argument);
  d.release(tg);
}

TEST(Display, MaskIsNoisy) {
  Display d(windowed());
  std::vector<Texture> masks = upload_masks(d, 2, 200, 200, 3, 1, 42);
  ASSERT_EQ(masks.size(), 2u);
  draw_stimulus(d, masks[0]);
  Image a = d.capture();
  draw_stimulus(d, masks[1]);
  Image b = d.capture();
  double m = 0, ss = 0, diff = 0;
  int n = 0, differ = 0;
  for (int y = 140; y < 340; ++y)
    for (int x = 220; x < 420; ++x)
      for (int c = 0; c < 3; ++c) {
        double v = px(a, x, y, c);
        m += v;
        ss += v * v;
        ++n;
        if (x > 220) diff += std::abs(v - px(a, x - 1, y, c));
        differ += px(a, x, y, c) != px(b, x, y, c);
      }
  m /= n;
  double sd = std::sqrt(ss / n - m * m);
  EXPECT_NEAR(m, 127.5, 6);
  EXPECT_GT(sd, 60);                 // uniform 0..255 has SD 73.6
  EXPECT_GT(diff / n, 60);           // neighbours are unrelated: pixel noise, not a smooth image
  EXPECT_GT(differ, n * 9 / 10);     // two masks, two noises
  for (auto& t : masks) d.release(t);
}

TEST(Display, IconGridShowsEveryAlternativeAndTakesClicks) {
  Display d(windowed(1024, 768));
  const int n = 6;
  const std::vector<std::array<uint8_t, 3>> colours = {
      {{255, 0, 0}}, {{0, 255, 0}}, {{0, 0, 255}}, {{255, 255, 0}}, {{0, 255, 255}}, {{255, 0, 255}}};
  std::vector<Texture> icons;
  for (const auto& c : colours) {
    std::vector<uint8_t> rgba(64 * 64 * 4);
    for (size_t i = 0; i < rgba.size(); i += 4) {
      rgba[i] = c[0];
      rgba[i + 1] = c[1];
      rgba[i + 2] = c[2];
      rgba[i + 3] = 255;
    }
    icons.push_back(d.upload_rgba8(rgba.data(), 64, 64));
  }
  std::vector<std::string> labels = {"airplane", "bear", "bicycle", "bird", "boat", "bottle"};
  IconGrid g = layout_icon_grid(n, d.width(), d.height());
  ScreenStyle st;
  d.clear(st.background);
  draw_icon_grid(d, g, icons, labels, -1, 2, st);
  Image img = d.capture();
  mm::test::TempDir tmp("grid");
  save_png(tmp / "grid.png", img);

  // Each icon is a uniform rectangle of its colour where the layout put it, and nowhere else.
  std::set<std::array<int, 4>> found;
  for (int k = 0; k < n; ++k) {
    const Rect& r = g.icons[k];
    const auto& c = colours[k];
    EXPECT_TRUE(is_rgb(img, static_cast<int>(r.cx()), static_cast<int>(r.cy()), c[0], c[1], c[2], 0)) << k;
    int minx = 1 << 30, miny = 1 << 30, maxx = -1, maxy = -1;
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x)
        if (is_rgb(img, x, y, c[0], c[1], c[2], 0)) {
          minx = std::min(minx, x);
          maxx = std::max(maxx, x);
          miny = std::min(miny, y);
          maxy = std::max(maxy, y);
        }
    EXPECT_EQ(minx, static_cast<int>(r.x)) << k;
    EXPECT_EQ(miny, static_cast<int>(r.y)) << k;
    EXPECT_EQ(maxx - minx + 1, static_cast<int>(r.w)) << k;
    EXPECT_EQ(maxy - miny + 1, static_cast<int>(r.h)) << k;
    found.insert({minx, miny, maxx, maxy});
    // a label: dark text pixels in the label band
    const Rect& l = g.labels[k];
    int dark = 0;
    for (int y = static_cast<int>(l.y); y < static_cast<int>(l.y + l.h); ++y)
      for (int x = static_cast<int>(l.x); x < static_cast<int>(l.x + l.w); ++x) dark += px(img, x, y, 0) < 60;
    EXPECT_GT(dark, 20) << "label " << labels[k];
  }
  EXPECT_EQ(found.size(), static_cast<size_t>(n));  // N distinct icon rects
  // the selected tile (2) has the selection colour at its corner; others the tile grey
  auto corner = [&](int k) { return img.at(static_cast<int>(g.tiles[k].x) + 2, static_cast<int>(g.tiles[k].y) + 2); };
  EXPECT_NEAR(corner(2)[1], std::lround(st.tile_selected.g * 255), 1);
  EXPECT_NEAR(corner(0)[0], std::lround(st.tile.r * 255), 1);
  d.flip();

  // A click through SDL's event queue lands on the tile it was aimed at.
  d.poll_events();
  d.push_click(g.tiles[4].cx(), g.tiles[4].cy());
  d.push_key("Return");
  d.push_text("b");
  int clicked = -1;
  bool got_key = false, got_text = false;
  for (const InputEvent& e : d.poll_events()) {
    if (e.type == InputEvent::mouse_down) clicked = g.hit(e.x, e.y);
    if (e.type == InputEvent::key_down && e.key == "Return") got_key = true;
    if (e.type == InputEvent::text_input && e.text == "b") got_text = true;
    EXPECT_GT(e.t, 0);
  }
  EXPECT_EQ(clicked, 4);
  EXPECT_TRUE(got_key);
  EXPECT_TRUE(got_text);
  for (auto& t : icons) d.release(t);
}

TEST(Display, TextIsDrawnCentred) {
  Display d(windowed());
  d.clear(Color::grey(0.5f));
  d.text("Press SPACE to start", 320, 240, {1, 1, 1, 1}, 32);
  auto [w, h] = d.text_size("Press SPACE to start", 32);
  EXPECT_GT(w, 150);
  EXPECT_GT(h, 20);
  Image img = d.capture();
  int minx = 1 << 30, maxx = -1, white = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (px(img, x, y, 0) > 230) {
        ++white;
        minx = std::min(minx, x);
        maxx = std::max(maxx, x);
      }
  EXPECT_GT(white, 200);
  EXPECT_NEAR((minx + maxx) / 2.0, 320, 6);
  d.flip();
}

TEST(Display, WithoutADisplayItSaysSo) {
  mm::test::ChildResult r = mm::test::run_in_child(
      [] {
        Display d(DisplayOptions{});
        return std::string("opened");
      },
      {{"DISPLAY", "", true}, {"WAYLAND_DISPLAY", "", true}, {"SDL_VIDEODRIVER", "", true}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "no display: run under a desktop session or xvfb-run");
}

// [SECTION] Presentation fidelity ---------------------------------------------------------
namespace {

// A one-pixel checkerboard: black and white texels alternating.
Texture checkerboard(Display& d, int n) {
  std::vector<uint8_t> rgba(static_cast<size_t>(n) * n * 4, 255);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      uint8_t* p = &rgba[(static_cast<size_t>(y) * n + x) * 4];
      p[0] = p[1] = p[2] = (x + y) % 2 ? 255 : 0;
    }
  return d.upload_rgba8(rgba.data(), n, n);
}

// Pixels of the k x k screen blocks of an n x n checkerboard drawn at r that are not their
// texel's exact value.
int inexact_block_pixels(const Image& img, const Rect& r, int n, int k) {
  int bad = 0;
  for (int y = 0; y < n * k; ++y)
    for (int x = 0; x < n * k; ++x) {
      const int want = ((x / k) + (y / k)) % 2 ? 255 : 0;
      const uint8_t* p = img.at(static_cast<int>(r.x) + x, static_cast<int>(r.y) + y);
      bad += p[0] != want || p[1] != want || p[2] != want;
    }
  return bad;
}

}  // namespace

TEST(DisplayFidelity, NearestAtFourTimesDrawsExactBlocksAndLinearDoesNot) {
  Display d(windowed());
  const int n = 16, k = 4;
  Texture t = checkerboard(d, n);
  const Rect r = draw_stimulus(d, t, n * k, n * k, ScreenStyle{}, Filter::nearest);
  EXPECT_EQ(r.w, 64);
  Image nearest = d.capture();
  EXPECT_EQ(inexact_block_pixels(nearest, r, n, k), 0);
  // Just outside the stimulus: the background.
  EXPECT_TRUE(is_rgb(nearest, static_cast<int>(r.x) - 1, static_cast<int>(r.y), 128, 128, 128));
  EXPECT_TRUE(is_rgb(nearest, static_cast<int>(r.x + r.w), static_cast<int>(r.y + r.h) - 1, 128, 128, 128));
  d.flip();
  // Linear filtering low-passes the checkerboard: most block pixels are grey mixtures.
  draw_stimulus(d, t, n * k, n * k, ScreenStyle{}, Filter::linear);
  Image linear = d.capture();
  EXPECT_GT(inexact_block_pixels(linear, r, n, k), n * k * n * k / 2);
  d.flip();
  // The default (automatic) is linear when the size differs: the old behaviour.
  draw_stimulus(d, t, n * k, n * k);
  EXPECT_GT(inexact_block_pixels(d.capture(), r, n, k), n * k * n * k / 2);
  d.flip();
  mm::test::TempDir tmp("nearest");
  save_png(tmp / "nearest.png", nearest);
  save_png(tmp / "linear.png", linear);
  d.release(t);
}

TEST(DisplayFidelity, GammaTableMapsEveryDrawnGreyThroughTheShader) {
  Display d(windowed());
  EXPECT_EQ(d.info().gamma, "none");
  // The station table of levels 0, 128, 255 measured at 0, 20, 100 cd/m²: sRGB 64 -> 32.81,
  // sRGB 128 -> 130.52 (tests/experiments/station_test.cpp computes them by hand).
  mm::experiments::GammaCalibration g;
  g.kind = mm::experiments::GammaKind::table;
  g.levels = {0, 128, 255};
  g.luminance = {0, 20, 100};
  d.set_gamma_table(mm::experiments::gamma_correction_table(g));
  EXPECT_EQ(d.info().gamma, "shader");
  EXPECT_NE(display_provenance_json(d.info()).find("\"gamma\":\"shader\""), std::string::npos);
  d.clear(Color::grey(128 / 255.0f));                      // the background
  d.fill_rect({10, 10, 50, 50}, Color::grey(64 / 255.0f));  // a rectangle (the fixation's primitive)
  std::vector<uint8_t> rgba(4 * 4 * 4, 255);                // a texture (stimuli, masks)
  for (size_t i = 0; i < rgba.size(); i += 4) rgba[i] = rgba[i + 1] = rgba[i + 2] = 64;
  Texture t = d.upload_rgba8(rgba.data(), 4, 4);
  d.draw_texture(t, {100, 100, 4, 4});
  d.text("GAMMA", 320, 400, {1, 1, 1, 1}, 40);  // text (ImGui) goes through it too
  Image img = d.capture();
  EXPECT_TRUE(is_rgb(img, 300, 200, 131, 131, 131, 1)) << px(img, 300, 200, 0);
  EXPECT_TRUE(is_rgb(img, 30, 30, 33, 33, 33, 1)) << px(img, 30, 30, 0);
  EXPECT_TRUE(is_rgb(img, 101, 101, 33, 33, 33, 1)) << px(img, 101, 101, 0);
  int white = 0;  // white text stays white (255 -> 255)
  for (int y = 380; y < 420; ++y)
    for (int x = 250; x < 390; ++x) white += is_rgb(img, x, y, 255, 255, 255, 0);
  EXPECT_GT(white, 50);
  d.flip();
  // The flip shows the same corrected frame: the next frame starts from it.
  d.fill_rect({200, 200, 10, 10}, Color::grey(1));
  EXPECT_TRUE(is_rgb(d.capture(), 300, 200, 131, 131, 131, 1));
  d.flip();
  // A linear screen (gamma 1): sRGB 128 needs drive 55.
  g = {};
  g.kind = mm::experiments::GammaKind::power;
  g.gamma = 1;
  d.set_gamma_table(mm::experiments::gamma_correction_table(g));
  d.clear(Color::grey(128 / 255.0f));
  EXPECT_TRUE(is_rgb(d.capture(), 300, 200, 55, 55, 55, 1)) << px(d.capture(), 300, 200, 0);
  d.flip();
  // No table: identity again.
  d.set_gamma_table({});
  EXPECT_EQ(d.info().gamma, "none");
  d.clear(Color::grey(128 / 255.0f));
  EXPECT_TRUE(is_rgb(d.capture(), 300, 200, 128, 128, 128, 0));
  d.flip();
  EXPECT_THROW(d.set_gamma_table(std::vector<float>(10, 0.5f)), std::invalid_argument);
  d.release(t);
}

TEST(DisplayFidelity, GammaTableFromTheOptionsAppliesFromTheFirstFrame) {
  DisplayOptions o = windowed();
  mm::experiments::GammaCalibration g;
  g.kind = mm::experiments::GammaKind::power;
  g.gamma = 1;
  o.gamma_table = mm::experiments::gamma_correction_table(g);
  Display d(o);
  EXPECT_EQ(d.info().gamma, "shader");
  draw_fixation(d);  // background 0.5 (sRGB 128) and a black cross
  Image img = d.capture();
  EXPECT_TRUE(is_rgb(img, 10, 10, 55, 55, 55, 1)) << px(img, 10, 10, 0);
  EXPECT_TRUE(is_rgb(img, 320, 240, 0, 0, 0, 0));
  d.flip();
}
