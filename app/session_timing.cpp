// app/session_timing.cpp: a session's timing from its recorded trials (app/session_timing.h).
#include "app/session_timing.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace mm::app {

std::vector<double> recorded_frame_intervals(const std::string& timing_json) {
  const auto j = nlohmann::json::parse(timing_json, nullptr, false);
  if (!j.is_object()) return {};
  struct Phase {
    double onset_s;
    int64_t shown;
  };
  std::vector<Phase> phases;  // shown phases; the JSON object keeps its keys by name, not in order
  for (const auto& [name, p] : j.items()) {
    if (!p.is_object() || !p.contains("actual_s") || !p.contains("frames_shown")) continue;
    if (!p["actual_s"].is_number() || !p["frames_shown"].is_number_integer()) continue;
    const double t = p["actual_s"].get<double>();
    const int64_t shown = p["frames_shown"].get<int64_t>();
    if (shown > 0 && t > 0) phases.push_back({t, shown});
  }
  std::sort(phases.begin(), phases.end(), [](const Phase& a, const Phase& b) { return a.onset_s < b.onset_s; });
  std::vector<double> out;
  for (size_t i = 0; i + 1 < phases.size(); ++i)
    out.push_back((phases[i + 1].onset_s - phases[i].onset_s) * 1000.0 / static_cast<double>(phases[i].shown));
  return out;
}

double recorded_frame_hz(const std::string& timing_json) {
  const auto j = nlohmann::json::parse(timing_json, nullptr, false);
  if (!j.is_object() || !j.contains("frame_hz") || !j["frame_hz"].is_number()) return 0;
  return j["frame_hz"].get<double>();
}

SessionTiming session_timing(const std::vector<data::TrialRecord>& trials) {
  SessionTiming s;
  std::vector<double> intervals, onsets, hz;
  for (const auto& t : trials) {
    ++s.trials;
    s.dropped_frames += t.dropped_frames;
    s.trials_with_drops += t.dropped_frames > 0;
    const auto iv = recorded_frame_intervals(t.timing_json);
    intervals.insert(intervals.end(), iv.begin(), iv.end());
    if (const double f = recorded_frame_hz(t.timing_json); f > 0) hz.push_back(f);
    if (t.audio_onset_ms != -1) onsets.push_back(t.audio_onset_ms);
  }
  s.frame_hz = hz.empty() ? 0 : median(hz);
  s.intervals = summarize_intervals(intervals, s.frame_hz > 0 ? 1000.0 / s.frame_hz : 0);
  s.audio_onsets = summarize_intervals(onsets, 0);
  return s;
}

}  // namespace mm::app
