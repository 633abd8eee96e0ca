// Tests of `metamerlab timing-test`: JSON report under a private Xvfb, and the one-line
// refusal without a display.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

TEST(TimingTestCommand, PrintsJsonUnderXvfb) {
  mm::test::ensure_xvfb();
  auto r = mm::test::run(mm::test::metamerlab_binary() + " timing-test --frames 200 --windowed --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames"], 200);
  EXPECT_EQ(j["intervals"], 199);
  for (const char* k : {"nominal_hz", "measured_hz", "frame_hz", "dropped_frames", "pacing", "vsync"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* k : {"mean", "sd", "p1", "p50", "p99", "min", "max"}) EXPECT_TRUE(j["interval_ms"].contains(k)) << k;
  double hz = j["frame_hz"];
  EXPECT_GT(j["measured_hz"].get<double>(), 0.5 * hz);
  EXPECT_GT(j["interval_ms"]["p50"].get<double>(), 0.8 * 1000.0 / hz);
  EXPECT_LT(j["interval_ms"]["p50"].get<double>(), 1.5 * 1000.0 / hz);
  EXPECT_GT(j["interval_ms"]["mean"].get<double>(), 0.95 * 1000.0 / hz);
  EXPECT_LE(j["interval_ms"]["p1"].get<double>(), j["interval_ms"]["p50"].get<double>());
  EXPECT_LE(j["interval_ms"]["p50"].get<double>(), j["interval_ms"]["p99"].get<double>());
  EXPECT_EQ(j["display"]["width"], 1024);
  EXPECT_EQ(j["display"]["fullscreen"], false);
  EXPECT_GE(j["seconds"].get<double>(), 199 / hz * 0.9);
  std::cout << "timing-test under Xvfb: " << r.out;
}

TEST(TimingTestCommand, TextReportAndUsage) {
  mm::test::ensure_xvfb();
  auto r = mm::test::run(mm::test::metamerlab_binary() + " timing-test --frames 20 --windowed --width 320 --height 240");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* k : {"refresh", "measured", "nominal", "interval", "p99", "dropped"})
    EXPECT_NE(r.out.find(k), std::string::npos) << k << "\n" << r.out;
  auto bad = mm::test::run(mm::test::metamerlab_binary() + " timing-test --frames 1 --windowed");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST(TimingTestCommand, WithoutADisplayExitsWithOneClearLine) {
  auto r = mm::test::run("env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER " + mm::test::metamerlab_binary() +
                         " timing-test --frames 10");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "metamerlab: error: no display: run under a desktop session or xvfb-run\n");
  EXPECT_TRUE(r.out.empty()) << r.out;
}
