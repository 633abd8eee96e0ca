// app/calibrate.h: `metamerlab calibrate`: measure the participant screen's luminance at a
// series of grey levels with a photometer and write the measured table into the station
// profile's [gamma] (experiments/station.h), as PsychoPy's Monitor Center does.
//
// The screen shows each drive level full-screen (raw: no gamma correction, whatever the
// profile says), with a line of text at the bottom edge; the experimenter points the
// photometer at the centre, types its reading (cd/m²) and presses Return. Backspace on an
// empty field goes back a level, H hides the text, Escape stops without writing. Readings
// must not fall as the level rises. At the end the profile's [gamma] table is replaced by
// levels = [...] and luminance = [...] (the rest of the file kept as it was), checked by
// parsing and written atomically; a missing profile is created.
//
// Scripted mode (tests, demonstrations): readings from a file are typed into the screen
// through SDL text events, the real input path, as launch's --auto-start does.
//
// Sections
//   [SECTION] Readings   the scripted readings file
//   [SECTION] Screen     CalibrateOptions, run_calibrate
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "app/display.h"

namespace mm::app {

// [SECTION] Readings ----------------------------------------------------------------------
// A readings file: one reading (cd/m²) per line, or rows LEVEL,READING (an optional header
// row level,luminance; blank lines and # comments skipped), one per level in order. A
// given LEVEL must be the level measured at that point. Throws experiments::ExperimentError
// naming FILE:LINE.
std::vector<double> read_calibration_readings(const std::string& path, const std::vector<int>& levels);

// [SECTION] Screen ------------------------------------------------------------------------
struct CalibrateOptions {
  std::string station;            // the profile file to write (created when missing)
  int levels = 9;                 // grey levels from 0 to 255, evenly spaced
  DisplayOptions display;         // fullscreen unless windowed; never gamma-corrected
  std::string readings;           // scripted: the readings file ("" = a person types)
  std::string screenshot;         // PNG of the middle level's screen (scripted: its reading typed)
};

// Runs the measurement and writes the profile. Returns 0 when written, 1 on failure (the
// profile does not load, cannot be written), 4 when stopped with Escape (nothing written).
// Throws NoDisplay without a display, ExperimentError for a bad profile or readings file.
int run_calibrate(const CalibrateOptions& o, std::ostream& out, std::ostream& err);

}  // namespace mm::app
