// app/timing_test.h: `metamerlab timing-test`: opens the display, shows N frames and
// reports the refresh rate (measured and nominal), the frame-interval mean, SD and
// percentiles, and the dropped frames. The same report feeds the frame-jitter benchmark.
#pragma once
#include <iosfwd>
#include <nlohmann/json.hpp>

#include "app/display.h"
#include "app/timing.h"

namespace mm::app {

struct TimingTestOptions {
  int frames = 1000;
  DisplayOptions display;  // fullscreen unless windowed
};

struct TimingTestReport {
  DisplayInfo display;
  IntervalStats intervals;
  int frames = 0;
  double seconds = 0;  // wall time of the N frames
};

// Throws NoDisplay without a display.
TimingTestReport run_timing_test(const TimingTestOptions& opt);
nlohmann::json timing_report_json(const TimingTestReport& r);
void print_timing_report(const TimingTestReport& r, std::ostream& out);

}  // namespace mm::app
