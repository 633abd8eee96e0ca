// bench/bench_frames.cpp: frame-interval jitter of the session runner's presentation loop.
//
//   bench_frames [--frames N] [--width W --height H]
//
// Opens the participant display in a window (on a private Xvfb it starts itself when
// DISPLAY is not set) and draws what trials draw, in trial order, for N frames: fixation
// (18 frames), a 256 px stimulus texture scaled into the box (18), a noise mask (18) and
// the response screen's icon grid with text labels (30). Every flip is timestamped as in a
// session (Display::flip: swap, glFinish, clock). Prints the display's pacing (vsync, or
// the timer pacing used where there is no vertical blank, as under Xvfb), the interval
// mean, SD, percentiles, max, the mean absolute deviation from the frame period, and the
// dropped frames (intervals above 1.5 periods).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include "app/display.h"
#include "app/program/process.h"
#include "app/screens.h"
#include "app/program/cli.h"
#include "app/timing.h"
#include "bench/bench_util.h"

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const mm::app::Command cmd{"", "frame-interval jitter of the session runner's presentation loop", "",
                             {{"frames", "N", "frames to draw (at least 100)", "1200"},
                              {"width", "W", "window width (at least 320)", "1024"},
                              {"height", "H", "window height (at least 240)", "768"}},
                             "", false, {}, "bench_frames"};
  int frames = 0, width = 0, height = 0;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    frames = static_cast<int>(a->get_int("frames"));
    width = static_cast<int>(a->get_int("width"));
    height = static_cast<int>(a->get_int("height"));
    if (frames < 100 || width < 320 || height < 240)
      throw mm::app::UsageError("bench_frames: needs --frames >= 100 and a window of at least 320x240");
  } catch (const mm::app::UsageError& e) {
    std::cerr << "bench_frames: " << e.what() << "\n";
    return 2;
  }
  try {
    mm::bench::PrivateXvfb xvfb;
    mm::app::DisplayOptions o;
    o.fullscreen = false;
    o.width = width;
    o.height = height;
    o.measure_frames = 30;
    mm::app::Display d(o);
    const mm::app::ScreenStyle style;
    const mm::app::Texture stim = d.upload(mm::app::make_noise_mask(256, 256, 3, 8, 1));
    const auto masks = mm::app::upload_masks(d, 4, 256, 256, 3, 4, 2);
    const std::vector<std::string> labels = {"checker", "disc", "ring", "stripes"};
    const mm::app::IconGrid grid = mm::app::layout_icon_grid(4, d.width(), d.height());
    d.reset_frame_log();
    int shown = 0, trial = 0;
    while (shown < frames) {
      for (int i = 0; i < 18 && shown < frames; ++i, ++shown) {
        mm::app::draw_fixation(d, style);
        d.flip();
        d.poll_events();
      }
      for (int i = 0; i < 18 && shown < frames; ++i, ++shown) {
        mm::app::draw_stimulus(d, stim, 256, 256, style);
        d.flip();
        d.poll_events();
      }
      for (int i = 0; i < 18 && shown < frames; ++i, ++shown) {
        mm::app::draw_stimulus(d, masks[static_cast<size_t>(trial) % masks.size()], 256, 256, style);
        d.flip();
        d.poll_events();
      }
      for (int i = 0; i < 30 && shown < frames; ++i, ++shown) {
        d.clear(style.background);
        mm::app::draw_icon_grid(d, grid, {}, labels, -1, i / 10, style);
        d.flip();
        d.poll_events();
      }
      ++trial;
    }
    const auto& info = d.info();
    const mm::app::IntervalStats s = d.frame_log().stats();
    double dev = 0;
    for (double x : d.frame_log().intervals_ms()) dev += std::fabs(x - s.period_ms);
    dev /= std::max<size_t>(1, d.frame_log().intervals_ms().size());
    const std::string where = xvfb.started() ? "private Xvfb " + xvfb.display() + ", " : std::string();
    std::printf("bench_frames: %d frames of trial screens (%d trials), %dx%d window, %s%s\n", frames, trial,
                info.width, info.height, where.c_str(), info.gl_renderer.c_str());
    std::printf("  pacing %s at %.2f Hz (period %.3f ms; nominal %.0f Hz; measured at start %.2f Hz)%s%s\n",
                info.pacing.c_str(), info.frame_hz, s.period_ms, info.nominal_hz, info.measured_hz,
                info.vsync_note.empty() ? "" : "; ", info.vsync_note.c_str());
    std::printf("  interval  mean %.3f ms  SD %.3f ms  p1 %.3f  p50 %.3f  p99 %.3f  max %.3f ms\n", s.mean_ms, s.sd_ms,
                s.p1_ms, s.p50_ms, s.p99_ms, s.max_ms);
    std::printf("  mean |interval - period| %.3f ms; dropped frames %lld of %lld intervals\n", dev,
                static_cast<long long>(s.dropped), static_cast<long long>(s.n));
  } catch (const std::exception& e) {
    std::cerr << "bench_frames: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
