// Tests of the presentation layer's pure parts: ms <-> frames, interval statistics and
// dropped frames, the icon-grid layout, noise masks. No display needed.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "app/screens.h"
#include "app/timing.h"

using namespace mm::app;

TEST(Frames, WholeFramesAt60Hz) {
  FrameCount f = ms_to_frames(300, 60);
  EXPECT_EQ(f.frames, 18);
  EXPECT_DOUBLE_EQ(f.realized_ms, 300.0);
  f = ms_to_frames(250, 60);
  EXPECT_EQ(f.frames, 15);
  EXPECT_NEAR(f.realized_ms, 250.0, 1e-9);
  EXPECT_NEAR(f.error_ms(), 0.0, 1e-9);
  EXPECT_EQ(ms_to_frames(1000.0 / 60.0, 60).frames, 1);
}

TEST(Frames, RoundsToNearestFrameAndReportsRealized) {
  FrameCount f = ms_to_frames(100, 144);  // 14.4 frames
  EXPECT_EQ(f.frames, 14);
  EXPECT_NEAR(f.realized_ms, 14 * 1000.0 / 144, 1e-9);
  EXPECT_NEAR(f.error_ms(), f.realized_ms - 100, 1e-12);
  EXPECT_EQ(ms_to_frames(25, 60).frames, 2);       // 1.5 frames rounds up
  EXPECT_EQ(ms_to_frames(300, 59.94).frames, 18);  // a measured rate
  EXPECT_NEAR(ms_to_frames(300, 59.94).realized_ms, 300.3003, 1e-3);
  EXPECT_EQ(ms_to_frames(9, 60).frames, 1);        // above half a frame
}

TEST(Frames, TooShortOrInvalidIsAnError) {
  EXPECT_EQ(ms_to_frames(0, 60).frames, 0);  // 0 ms: the phase is skipped
  try {
    ms_to_frames(8, 60);  // under half a frame
    FAIL() << "8 ms at 60 Hz should be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("shorter than half a frame at 60 Hz"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ms_to_frames(-5, 60), std::invalid_argument);
  EXPECT_THROW(ms_to_frames(NAN, 60), std::invalid_argument);
  EXPECT_THROW(ms_to_frames(100, 0), std::invalid_argument);
  EXPECT_DOUBLE_EQ(frames_to_ms(18, 60), 300.0);
}

TEST(Intervals, StatisticsAndDroppedFrames) {
  std::vector<double> iv(99, 16.0);
  iv.push_back(40.0);  // one long interval: dropped at 1.5 x 16.667
  IntervalStats s = summarize_intervals(iv, 1000.0 / 60);
  EXPECT_EQ(s.n, 100);
  EXPECT_EQ(s.dropped, 1);
  EXPECT_NEAR(s.mean_ms, (99 * 16.0 + 40) / 100, 1e-9);
  EXPECT_DOUBLE_EQ(s.p50_ms, 16.0);
  EXPECT_DOUBLE_EQ(s.min_ms, 16.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 40.0);
  EXPECT_GT(s.p99_ms, 16.0);
  EXPECT_GT(s.sd_ms, 2.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5}, 50), 3.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5}, 25), 2.0);
  EXPECT_NEAR(percentile({0, 10}, 1), 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(median({5, 1, 3}), 3.0);
  EXPECT_EQ(summarize_intervals({}, 16.7).n, 0);
}

TEST(Intervals, FrameLogJudgesEachFlip) {
  FrameLog log;
  log.set_period_ms(10);
  bool dropped = true;
  EXPECT_EQ(log.add(1.000, &dropped), 0.0);
  EXPECT_FALSE(dropped);
  EXPECT_NEAR(log.add(1.010, &dropped), 10.0, 1e-9);
  EXPECT_FALSE(dropped);
  EXPECT_NEAR(log.add(1.030, &dropped), 20.0, 1e-9);  // 20 > 15: dropped
  EXPECT_TRUE(dropped);
  EXPECT_EQ(log.flips(), 3);
  EXPECT_EQ(log.dropped(), 1);
  EXPECT_EQ(log.stats().dropped, 1);
  log.clear();
  EXPECT_EQ(log.flips(), 0);
  EXPECT_TRUE(log.intervals_ms().empty());
}

TEST(Clock, IncreasesAndWaits) {
  double a = now_s();
  double b = wait_until(a + 0.02);
  EXPECT_GE(b, a + 0.02);
  EXPECT_LT(b, a + 0.2);
}

TEST(IconGridLayout, SixteenCategoriesMakeFourByFour) {
  IconGrid g = layout_icon_grid(16, 1280, 1024);
  EXPECT_EQ(g.columns, 4);
  EXPECT_EQ(g.rows, 4);
  ASSERT_EQ(g.tiles.size(), 16u);
  for (size_t i = 0; i < g.tiles.size(); ++i) {
    const Rect& t = g.tiles[i];
    EXPECT_GE(t.x, 0);
    EXPECT_GE(t.y, 0);
    EXPECT_LE(t.x + t.w, 1280);
    EXPECT_LE(t.y + t.h, 1024);
    // the icon and label are inside the tile
    EXPECT_GE(g.icons[i].x, t.x);
    EXPECT_LE(g.icons[i].x + g.icons[i].w, t.x + t.w);
    EXPECT_GE(g.labels[i].y, g.icons[i].y + g.icons[i].h);
    EXPECT_EQ(g.hit(t.cx(), t.cy()), static_cast<int>(i));
    for (size_t j = 0; j < i; ++j) {  // no overlaps
      const Rect& u = g.tiles[j];
      bool apart = t.x >= u.x + u.w || u.x >= t.x + t.w || t.y >= u.y + u.h || u.y >= t.y + t.h;
      EXPECT_TRUE(apart) << i << " overlaps " << j;
    }
  }
  EXPECT_EQ(g.hit(1, 1), -1);
  // reading order: left to right, then down
  EXPECT_LT(g.tiles[0].x, g.tiles[1].x);
  EXPECT_LT(g.tiles[3].y, g.tiles[4].y);
}

TEST(IconGridLayout, ShrinksToFitAndCentresTheLastRow) {
  GridStyle st;
  IconGrid g = layout_icon_grid(16, 400, 300, st);
  EXPECT_LT(g.scale, 1.0f);
  for (const Rect& t : g.tiles) {
    EXPECT_GE(t.x, 0);
    EXPECT_LE(t.y + t.h, 300);
  }
  IconGrid six = layout_icon_grid(6, 1024, 768);
  EXPECT_EQ(six.columns, 3);
  EXPECT_EQ(six.rows, 2);
  IconGrid five = layout_icon_grid(5, 1280, 1024);
  EXPECT_EQ(five.columns, 3);
  EXPECT_EQ(five.columns * five.rows >= 5, true);
  // the short last row is centred on the screen
  const Rect& last = five.tiles.back();
  int in_last = 5 - (five.rows - 1) * five.columns;
  float row_left = five.tiles[5 - in_last].x;
  float row_right = last.x + last.w;
  EXPECT_NEAR((row_left + row_right) / 2, 640, 1.0);
  st.columns = 5;
  EXPECT_EQ(layout_icon_grid(5, 1280, 1024, st).rows, 1);
  EXPECT_THROW(layout_icon_grid(0, 1280, 1024), std::invalid_argument);
}

TEST(NoiseMask, DeterministicNoisyAndBlocky) {
  auto a = make_noise_mask(64, 48, 3, 1, 7);
  auto b = make_noise_mask(64, 48, 3, 1, 7);
  auto c = make_noise_mask(64, 48, 3, 1, 8);
  ASSERT_EQ(a.shape, (std::vector<int64_t>{3, 48, 64}));
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
  double m = 0, ss = 0;
  for (float v : a.data) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
    m += v;
  }
  m /= a.data.size();
  for (float v : a.data) ss += (v - m) * (v - m);
  EXPECT_NEAR(std::sqrt(ss / a.data.size()), std::sqrt(1.0 / 12), 0.02);  // uniform noise
  auto g = make_noise_mask(64, 64, 1, 8, 1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) EXPECT_EQ(g.data[y * 64 + x], g.data[(y / 8 * 8) * 64 + x / 8 * 8]);
  EXPECT_THROW(make_noise_mask(0, 4, 1, 1, 0), std::invalid_argument);
  EXPECT_THROW(make_noise_mask(4, 4, 2, 1, 0), std::invalid_argument);
}
