// app/timing.cpp: the presentation clock, ms <-> whole frames, frame-interval statistics.
#include "app/timing.h"

#include <SDL.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mm::app {

// [SECTION] Clock -------------------------------------------------------------------------
double now_s() {
  static const double inv = 1.0 / static_cast<double>(SDL_GetPerformanceFrequency());
  return static_cast<double>(SDL_GetPerformanceCounter()) * inv;
}

double wait_until(double t) {
  for (;;) {
    double left = t - now_s();
    if (left <= 0) break;
    // SDL_Delay may oversleep by a scheduler tick; stop sleeping 2 ms early and spin.
    if (left > 0.003) SDL_Delay(static_cast<Uint32>((left - 0.002) * 1000.0));
  }
  return now_s();
}

// [SECTION] Frames ------------------------------------------------------------------------
namespace {
std::string fmt(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}
}  // namespace

FrameCount ms_to_frames(double ms, double hz) {
  if (!(hz > 0) || !std::isfinite(hz))
    throw std::invalid_argument("frame rate " + fmt(hz) + " Hz is not usable; the display's refresh must be measured first");
  if (!std::isfinite(ms) || ms < 0)
    throw std::invalid_argument("duration " + fmt(ms) + " ms is not a duration; give 0 or more ms");
  FrameCount f;
  f.requested_ms = ms;
  // A tiny tolerance keeps exact multiples (250 ms at 60 Hz = 15.000000000000002) exact.
  double exact = ms * hz / 1000.0;
  f.frames = static_cast<int>(std::floor(exact + 0.5 + 1e-9));
  if (ms > 0 && f.frames == 0)
    throw std::invalid_argument(fmt(ms) + " ms is shorter than half a frame at " + fmt(hz) + " Hz (one frame is " +
                                fmt(1000.0 / hz) + " ms); give at least " + fmt(1000.0 / hz) + " ms");
  f.realized_ms = frames_to_ms(f.frames, hz);
  return f;
}

double frames_to_ms(int frames, double hz) { return frames * 1000.0 / hz; }

// [SECTION] Intervals ---------------------------------------------------------------------
double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = std::clamp(q, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

double median(std::vector<double> v) { return percentile(std::move(v), 50); }

IntervalStats summarize_intervals(const std::vector<double>& iv, double period_ms) {
  IntervalStats s;
  s.period_ms = period_ms;
  s.n = static_cast<int64_t>(iv.size());
  if (iv.empty()) return s;
  double sum = 0;
  s.min_ms = iv[0];
  s.max_ms = iv[0];
  for (double x : iv) {
    sum += x;
    s.min_ms = std::min(s.min_ms, x);
    s.max_ms = std::max(s.max_ms, x);
    if (x > kDroppedFactor * period_ms) ++s.dropped;
  }
  s.mean_ms = sum / static_cast<double>(iv.size());
  double ss = 0;
  for (double x : iv) ss += (x - s.mean_ms) * (x - s.mean_ms);
  s.sd_ms = iv.size() > 1 ? std::sqrt(ss / static_cast<double>(iv.size() - 1)) : 0.0;
  std::vector<double> sorted = iv;
  std::sort(sorted.begin(), sorted.end());
  s.p1_ms = percentile(sorted, 1);
  s.p50_ms = percentile(sorted, 50);
  s.p99_ms = percentile(sorted, 99);
  return s;
}

double FrameLog::add(double t, bool* dropped) {
  double interval = 0;
  bool d = false;
  if (flips_ > 0) {
    interval = (t - last_) * 1000.0;
    intervals_.push_back(interval);
    d = interval > kDroppedFactor * period_ms_;
    if (d) ++dropped_;
  }
  last_ = t;
  ++flips_;
  if (dropped) *dropped = d;
  return interval;
}

void FrameLog::clear() {
  last_ = 0;
  flips_ = 0;
  dropped_ = 0;
  intervals_.clear();
}

}  // namespace mm::app
