// app/timing.h: the presentation clock, durations in whole frames, and frame-interval
// statistics. Shared by the display, the audio output, the session runner and
// `metamerlab timing-test`.
//
// The clock is SDL's high-resolution performance counter in seconds; every timestamp
// the presentation layer returns (flips, audio onsets, input events) is on it.
//
// Rule for durations (documented for experimenters): a duration in ms is shown for the
// nearest whole number of frames at the display's frame rate, round(ms * hz / 1000); the
// realized duration is frames * 1000 / hz and is what gets logged. A positive duration
// that rounds to zero frames (shorter than half a frame, e.g. 10 ms at 60 Hz) cannot be
// shown and is an error; 0 ms means "skip the phase" (0 frames).
//
// Sections
//   [SECTION] Clock       now_s, wait_until
//   [SECTION] Frames      ms <-> whole frames
//   [SECTION] Intervals   frame-interval log, dropped frames, summary statistics
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm::app {

// [SECTION] Clock -------------------------------------------------------------------------
// Seconds on the high-resolution counter (SDL_GetPerformanceCounter); monotonic.
double now_s();
// Sleeps, then spins for the last ~2 ms, until now_s() >= t. Returns now_s() on return.
double wait_until(double t);

// [SECTION] Frames ------------------------------------------------------------------------
struct FrameCount {
  double requested_ms = 0;
  int frames = 0;
  double realized_ms = 0;  // frames * 1000 / hz
  double error_ms() const { return realized_ms - requested_ms; }
};
// Throws std::invalid_argument (message says what to change) for hz <= 0, a negative or
// non-finite duration, or a positive duration shorter than half a frame.
FrameCount ms_to_frames(double ms, double hz);
double frames_to_ms(int frames, double hz);

// [SECTION] Intervals ---------------------------------------------------------------------
// A frame counts as dropped when its interval exceeds this factor times the frame period.
constexpr double kDroppedFactor = 1.5;

struct IntervalStats {
  int64_t n = 0;            // intervals
  double mean_ms = 0, sd_ms = 0, min_ms = 0, max_ms = 0;
  double p1_ms = 0, p50_ms = 0, p99_ms = 0;
  int64_t dropped = 0;      // intervals > kDroppedFactor * period
  double period_ms = 0;     // the frame period they were judged against
};
// Percentile by linear interpolation between order statistics (q in [0, 100]).
double percentile(std::vector<double> v, double q);
double median(std::vector<double> v);
IntervalStats summarize_intervals(const std::vector<double>& intervals_ms, double period_ms);

// Collects flip timestamps and judges each interval against the frame period.
class FrameLog {
 public:
  void set_period_ms(double p) { period_ms_ = p; }
  double period_ms() const { return period_ms_; }
  // Records a flip at time t (s); returns the interval since the previous flip in ms
  // (0 for the first) and sets *dropped.
  double add(double t, bool* dropped = nullptr);
  void clear();
  const std::vector<double>& intervals_ms() const { return intervals_; }
  int64_t flips() const { return flips_; }
  int64_t dropped() const { return dropped_; }
  double last_flip_s() const { return last_; }
  IntervalStats stats() const { return summarize_intervals(intervals_, period_ms_); }

 private:
  double period_ms_ = 1000.0 / 60.0;
  double last_ = 0;
  int64_t flips_ = 0, dropped_ = 0;
  std::vector<double> intervals_;
};

}  // namespace mm::app
