// experiments/station.h: the station profile: one small TOML file per lab computer saying
// what its participant screen and sound output really are, so that what the participant
// sees and hears is what the model saw: the screen's size and viewing distance (stimulus
// sizes in degrees of visual angle), its measured gamma or luminance table (sRGB stimuli
// shown as intended), and the audio output and its gain (the sound level).
//
//   [station] name, description
//   [screen]  width_cm, width_px, height_px, distance_cm
//   [gamma]   gamma = 2.2, or levels = [0, 32, ...] with luminance = [cd/m², ...] (what
//             `metamerlab calibrate` measures and writes), measured
//   [audio]   device, gain_db, fixed_level, tone_dbfs, tone_spl_db
// Every table is optional; the format is described in experiments/README.md.
//
// A plain module: no SDL, no torch, no SQL. `--station` of run, launch, plan and calibrate
// loads a profile through choose_station; the session records its text and SHA-256. A
// future workbench panel loads a profile (load_station or parse_station on edited text),
// changes the struct, writes it back with station_to_toml + save_station_text (atomic,
// checked by parsing first) and previews stimuli at their real size with
// realize_stimulus_size. Problems in a profile throw ExperimentError ("FILE:LINE: what; fix").
//
// Sections
//   [SECTION] Model        screen geometry, gamma calibration, audio, Station
//   [SECTION] Files        parse, load, serialize, save, choose (--station NAME|FILE)
//   [SECTION] Geometry     degrees <-> pixels, realize_stimulus_size
//   [SECTION] Gamma        sRGB, the correction table, calibration levels and readings
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/experiment.h"

namespace mm::experiments {

// [SECTION] Model -------------------------------------------------------------------------
// The participant screen as the participant sees it. Sizes in degrees are for a stimulus
// centred on the line of sight: size_cm = 2 d tan(deg / 2).
struct ScreenGeometry {
  double width_cm = 0;     // the visible picture's width
  int width_px = 0, height_px = 0;  // the screen mode the sessions run in (its native one)
  double distance_cm = 0;  // eye to screen
  bool known() const { return width_cm > 0 && width_px > 0 && height_px > 0 && distance_cm > 0; }
  double px_per_cm() const { return width_px / width_cm; }
  double deg_to_px(double deg) const;  // a centred extent of `deg` degrees, in pixels
  double px_to_deg(double px) const;   // a centred extent of `px` pixels, in degrees
  double px_per_deg() const { return deg_to_px(1.0); }
};

enum class GammaKind { none, power, table };

// How the screen turns drive levels (0-255) into light. power: L = Lmin + (Lmax - Lmin) *
// (level / 255)^gamma; table: measured luminance at some levels (increasing, from 0 to
// 255), linear in between.
struct GammaCalibration {
  GammaKind kind = GammaKind::none;
  double gamma = 0;                // power
  std::vector<int> levels;         // table: drive levels, 0 first and 255 last
  std::vector<double> luminance;   // table: cd/m² at each level, never decreasing
  std::string measured;            // when (ISO 8601), as calibrate writes it ("" = unknown)
  std::string describe() const;    // "none", "gamma 2.2", "table of 9 levels (0.4-121 cd/m²)"
};

struct StationAudio {
  std::string device;        // OpenAL output device ("" = the default)
  double gain_db = 0;        // output gain applied to everything played (dB)
  bool fixed_level = false;  // the listener may not change the level on the volume screen
  double tone_dbfs = -20;    // the calibration tone's RMS the SPL below was measured with
  double tone_spl_db = 0;    // measured SPL of that tone at gain_db (dB SPL; 0 = not measured)
};

struct Station {
  std::string file;          // as given (named in messages)
  std::string path;          // absolute
  std::string text;          // the whole file, as recorded with each session
  std::string sha256;        // of text
  std::string name, description;
  ScreenGeometry screen;
  GammaCalibration gamma;
  StationAudio audio;
  std::map<std::string, int> lines;  // "screen", "screen.width_cm", "gamma", "audio.gain_db", ... -> line
  int line(const std::string& key) const;  // the key's line, else its table's, else 0
};

// [SECTION] Files -------------------------------------------------------------------------
// Parses profile text (`file` names it in messages; path left empty). Checks every key,
// type and range: the screen's four keys come together; gamma is either gamma or
// levels + luminance of equal length, levels rising from 0 to 255, luminance never falling
// and ending above its start.
Station parse_station(const std::string& text, const std::string& file);
// Reads and parses a profile file. Throws ExperimentError naming it.
Station load_station(const std::string& path);
// The profile as TOML (every table the struct holds, keys in the documented order; the
// file's comments are not kept). parse_station(station_to_toml(s)) gives s back.
std::string station_to_toml(const Station& s);
// Writes `text` to `path` atomically (temporary file, fsync, rename) after checking that
// it parses as a profile. Throws ExperimentError (bad profile) or std::runtime_error (I/O).
void save_station_text(const std::string& path, const std::string& text);
// `text` with its [gamma] table replaced by `gamma` (appended when absent); every other
// line, comments included, is kept as it was.
std::string with_gamma_table(const std::string& text, const GammaCalibration& gamma);

// What --station ARG names: a profile file (a path that exists, or ARG ending in .toml),
// a profile NAME.toml in a stations folder, or else a plain label (no profile).
struct StationChoice {
  std::string label;               // the session's station column: the profile's name or ARG
  std::optional<Station> profile;  // loaded and checked
};
// Folders searched for NAME.toml: $METAMERLAB_STATIONS (colon-separated), then
// $XDG_CONFIG_HOME/metamerlab/stations (default ~/.config/metamerlab/stations).
std::vector<std::string> station_folders();
// Throws ExperimentError for a profile that does not load, or ARG ending in .toml that
// does not exist. "" gives an empty label and no profile.
StationChoice choose_station(const std::string& arg);

// [SECTION] Geometry ----------------------------------------------------------------------
// The box asked for, in pixels: [images] size, or size_deg converted with the screen
// (rounded; 0 when neither is given; -1 when size_deg has no screen geometry to use).
int requested_box_px(const ImagePolicy& p, const ScreenGeometry* screen);
// How an image of w x h pixels is shown under the policy (see Scaling in experiment.h): the
// method, the factor, the realized size (and degrees with a known screen). problem says why
// it cannot be shown as asked (nearest cannot shrink; size_deg without geometry).
StimulusSize realize_stimulus_size(int w, int h, const ImagePolicy& p, const ScreenGeometry* screen);
// "64x64 px at 4x nearest = 256x256 px (6.67 deg)" for logs and plan summaries.
std::string describe(const StimulusSize& s);

// [SECTION] Gamma -------------------------------------------------------------------------
// The sRGB transfer function: encoded value (0-1) to relative luminance (0-1).
double srgb_to_linear(double v);
// The drive level (0-1) that makes the screen emit the relative luminance `target`
// (0-1, of the range between its black and white) under the calibration.
double drive_for_luminance(const GammaCalibration& g, double target);
// 256 drive levels (0-1), one per sRGB-encoded input level, that show sRGB content as
// intended on this screen; empty for GammaKind::none (identity).
std::vector<float> gamma_correction_table(const GammaCalibration& g);
// The least-squares gamma of a measured table (log-log fit of the normalized luminance at
// the levels between 0 and 255); 0 when it cannot be fitted.
double fitted_gamma(const std::vector<int>& levels, const std::vector<double>& luminance);
// n drive levels evenly spaced from 0 to 255 (n from 2 to 256).
std::vector<int> calibration_levels(int n);

}  // namespace mm::experiments
