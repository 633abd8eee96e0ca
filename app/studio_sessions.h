// app/studio_sessions.h (internal to the workbench, app/studio.cpp): the Sessions panel: the
// database's sessions as a table, and the selected session's details: its trials (index,
// block, condition, stimulus, response, correct, response time), its dropped frames, the
// frame-interval summary and the audio onsets its trials recorded (app/session_timing.h).
// A row is selected with a click or the Up/Down keys. Everything is read through
// data/store.h when the workbench refreshes (StudioOptions::refresh_s, or at once when the
// selection changes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "app/session_timing.h"
#include "app/studio.h"

namespace mm::app::studio {

class SessionsPanel {
 public:
  // Re-reads the sessions and the selected one's trials. `store`: the database opened for
  // this refresh, or null with `why` saying why not.
  void refresh(data::Store* store, const std::string& why);
  // The selection changed since the last refresh: its trials are to be read now.
  bool wants_read() const { return want_read_; }
  // Moves the selection by `step` rows (Up -1, Down +1; the first row when none).
  void step(int step);
  // Draws the panel into the current ImGui window and fills the probe's Sessions fields.
  void draw(double refresh_s, float px_per_point, StudioProbe& probe);

 private:
  void select(int64_t id);
  void draw_detail(StudioProbe& probe);

  std::vector<data::SessionSummary> rows_;
  std::string status_, read_at_;
  int64_t selected_ = 0;    // session id (0: none)
  int64_t loaded_ = 0;      // the session whose trials are in trials_
  std::vector<data::TrialRecord> trials_;
  SessionTiming timing_;
  bool want_read_ = false;
  bool scroll_ = false;     // bring the selected row into view (after a key)
};

}  // namespace mm::app::studio
