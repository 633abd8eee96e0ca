// app/session_timing.h: what a recorded session's trials say about its presentation timing,
// from what the store keeps per trial (data::TrialRecord): the dropped frames, the frame
// intervals its timing record implies, and the audio onsets. For the workbench's session
// details (app/studio_sessions.h); the statistics are app/timing.h's.
//
// The store does not keep every flip: each trial's timing_json holds, per presented phase
// (fixation, stimulus, mask, response), the onset flip's time (actual_s) and the frames
// shown. A phase's frame interval here is its measured duration (the next phase's onset
// minus its own) over its frames shown: the mean interval of that phase's frames. Phases not
// shown (0 frames) and the last one (the response, whose end is the answer) give none.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "app/timing.h"
#include "data/store.h"

namespace mm::app {

// The frame intervals (ms) one trial's timing_json implies, in presentation order; empty for
// a record without phases (a headphone check, an older or unreadable record).
std::vector<double> recorded_frame_intervals(const std::string& timing_json);
// The refresh rate the trial was presented at (timing_json's frame_hz), 0 when not recorded.
double recorded_frame_hz(const std::string& timing_json);

struct SessionTiming {
  int64_t trials = 0;
  int64_t dropped_frames = 0;       // sum of the trials' dropped_frames
  int64_t trials_with_drops = 0;
  double frame_hz = 0;              // the median of the trials' recorded refresh rates (0: none)
  IntervalStats intervals;          // of every trial's recorded_frame_intervals (period 1000 / frame_hz)
  IntervalStats audio_onsets;       // of the trials' audio_onset_ms where recorded (n 0: none)
};
SessionTiming session_timing(const std::vector<data::TrialRecord>& trials);

}  // namespace mm::app
