// app/timing_test.cpp: the frame-timing test behind `metamerlab timing-test`.
#include "app/timing_test.h"

#include <cstdio>
#include <ostream>

namespace mm::app {

TimingTestReport run_timing_test(const TimingTestOptions& opt) {
  if (opt.frames < 2) throw std::invalid_argument("timing-test: --frames must be at least 2");
  Display d(opt.display);
  d.reset_frame_log();
  // Grey screen with a 64-pixel square in the top-left corner that alternates black and
  // white every frame (for a photodiode) and a bar sweeping across (tearing shows).
  const float bar_w = 16;
  double t0 = 0, t1 = 0;
  for (int i = 0; i < opt.frames; ++i) {
    d.clear(Color::grey(0.5f));
    d.fill_rect({0, 0, 64, 64}, Color::grey(i % 2 ? 1.0f : 0.0f));
    float x = static_cast<float>((i * 8) % std::max(1, static_cast<int>(d.width() - bar_w)));
    d.fill_rect({x, 0, bar_w, static_cast<float>(d.height())}, Color::grey(0.25f));
    Flip f = d.flip();
    if (i == 0) t0 = f.t;
    t1 = f.t;
  }
  TimingTestReport r;
  r.display = d.info();
  r.intervals = d.frame_log().stats();
  r.frames = opt.frames;
  r.seconds = t1 - t0;
  return r;
}

nlohmann::json timing_report_json(const TimingTestReport& r) {
  const DisplayInfo& i = r.display;
  const IntervalStats& s = r.intervals;
  return {
      {"frames", r.frames},
      {"intervals", s.n},
      {"seconds", r.seconds},
      {"nominal_hz", i.nominal_hz},
      {"measured_hz", i.measured_hz},
      {"frame_hz", i.frame_hz},
      {"unpaced_hz", i.unpaced_hz},
      {"vsync", i.vsync},
      {"vsync_note", i.vsync_note},
      {"pacing", i.pacing},
      {"interval_ms",
       {{"mean", s.mean_ms},
        {"sd", s.sd_ms},
        {"min", s.min_ms},
        {"max", s.max_ms},
        {"p1", s.p1_ms},
        {"p50", s.p50_ms},
        {"p99", s.p99_ms}}},
      {"dropped_frames", s.dropped},
      {"dropped_threshold_ms", kDroppedFactor * s.period_ms},
      {"display",
       {{"video_driver", i.video_driver},
        {"gl_version", i.gl_version},
        {"gl_renderer", i.gl_renderer},
        {"width", i.width},
        {"height", i.height},
        {"fullscreen", i.fullscreen}}},
  };
}

void print_timing_report(const TimingTestReport& r, std::ostream& out) {
  const DisplayInfo& i = r.display;
  const IntervalStats& s = r.intervals;
  char buf[512];
  out << "display    " << i.width << "x" << i.height << (i.fullscreen ? " fullscreen" : " window") << ", "
      << i.gl_renderer << ", OpenGL " << i.gl_version << " (" << i.video_driver << ")\n";
  std::snprintf(buf, sizeof buf, "refresh    measured %.3f Hz, nominal %s, durations use %.3f Hz\n", i.measured_hz,
                i.nominal_hz > 0 ? (std::to_string(static_cast<int>(i.nominal_hz)) + " Hz").c_str() : "not reported",
                i.frame_hz);
  out << buf;
  out << "pacing     " << i.pacing << (i.vsync ? " (vsync on)" : "");
  if (!i.vsync_note.empty()) out << "; " << i.vsync_note;
  if (i.pacing == "timer") out << "; frame timing here is not display timing";
  out << "\n";
  std::snprintf(buf, sizeof buf,
                "frames     %d in %.3f s\n"
                "interval   mean %.3f ms, sd %.3f ms, min %.3f, max %.3f\n"
                "percentile p1 %.3f ms, p50 %.3f ms, p99 %.3f ms\n"
                "dropped    %lld (intervals above %.2f ms)\n",
                r.frames, r.seconds, s.mean_ms, s.sd_ms, s.min_ms, s.max_ms, s.p1_ms, s.p50_ms, s.p99_ms,
                static_cast<long long>(s.dropped), kDroppedFactor * s.period_ms);
  out << buf;
}

}  // namespace mm::app
