// app/calibrate.cpp: the photometer screen of `metamerlab calibrate` and the profile it
// writes.
//
// Sections
//   [SECTION] Readings   read_calibration_readings
//   [SECTION] Screen     one level at a time, typed readings, the scripted typist
//   [SECTION] Writing    the [gamma] table into the profile
#include "app/calibrate.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiments/station.h"

namespace fs = std::filesystem;

namespace mm::app {

namespace {

using experiments::ExperimentError;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// A reading as typed: digits and one decimal point (a comma counts as one); nullopt-like -1.
double parse_reading(const std::string& s) {
  if (s.empty()) return -1;
  try {
    size_t pos = 0;
    const double v = std::stod(s, &pos);
    if (pos != s.size() || !std::isfinite(v) || v < 0) return -1;
    return v;
  } catch (const std::exception&) {
    return -1;
  }
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

namespace {
// Writes the measured table into the profile's [gamma] (below).
int write_profile(const CalibrateOptions& o, const std::string& text, bool existed, const std::vector<int>& levels,
                  const std::vector<double>& readings, std::ostream& out);
}  // namespace

// [SECTION] Readings ----------------------------------------------------------------------
std::vector<double> read_calibration_readings(const std::string& path, const std::vector<int>& levels) {
  std::ifstream f(path);
  if (!f) throw ExperimentError(path, 0, "cannot read the readings file; check the path");
  std::vector<double> out;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (out.empty() && std::isalpha(static_cast<unsigned char>(t[0]))) continue;  // a header row: level,luminance
    std::string value = t;
    if (auto comma = t.find(','); comma != std::string::npos) {
      const std::string lv = trim(t.substr(0, comma));
      value = trim(t.substr(comma + 1));
      const size_t k = out.size();
      if (k >= levels.size())
        throw ExperimentError(path, n, "more readings than the " + std::to_string(levels.size()) +
                                           " levels measured; remove the extra rows or raise --levels");
      if (lv != std::to_string(levels[k]))
        throw ExperimentError(path, n, "reading " + std::to_string(k + 1) + " is for level " + lv +
                                           " but level " + std::to_string(levels[k]) +
                                           " is measured there; give the readings in level order (--levels " +
                                           std::to_string(levels.size()) + ")");
    }
    const double v = parse_reading(value);
    if (v < 0) throw ExperimentError(path, n, "\"" + value + "\" is not a reading; give cd/m² as a number of 0 or more");
    if (out.size() >= levels.size())
      throw ExperimentError(path, n, "more readings than the " + std::to_string(levels.size()) +
                                         " levels measured; remove the extra rows or raise --levels");
    out.push_back(v);
  }
  if (out.size() != levels.size())
    throw ExperimentError(path, 0, std::to_string(out.size()) + " readings for " + std::to_string(levels.size()) +
                                       " levels; give one reading per level (--levels sets how many)");
  return out;
}

// [SECTION] Screen ------------------------------------------------------------------------
int run_calibrate(const CalibrateOptions& o, std::ostream& out, std::ostream& err) {
  if (o.station.empty()) throw std::invalid_argument("calibrate: no station profile file");
  // The profile first: nothing is shown when it does not load.
  std::string text;
  std::string name = fs::path(o.station).stem().string();
  std::error_code ec;
  const bool exists = fs::exists(o.station, ec);
  if (exists) {
    const experiments::Station st = experiments::load_station(o.station);
    text = st.text;
    name = st.name;
  } else {
    if (!fs::is_directory(fs::absolute(o.station).parent_path(), ec))
      throw ExperimentError(o.station, 0, "its folder does not exist; create it, or give another profile path");
    text = "[station]\nname = \"" + name + "\"\n";
  }
  const std::vector<int> levels = experiments::calibration_levels(o.levels);
  std::vector<double> scripted;
  if (!o.readings.empty()) scripted = read_calibration_readings(o.readings, levels);

  DisplayOptions dopt = o.display;
  dopt.gamma_table.clear();  // the raw screen is measured
  dopt.title = "metamerlab calibrate";
  dopt.measure_frames = 10;
  Display d(dopt);
  d.show_cursor(false);
  std::vector<double> readings;
  std::string typed, message;
  bool hide = false;
  int frame_at_level = 0;
  const size_t middle = levels.size() / 2;
  for (size_t k = 0; k < levels.size();) {
    const float level = levels[k] / 255.0f;
    const Color ink = level < 0.5f ? Color::grey(0.85f) : Color::grey(0.08f);
    d.clear(Color::grey(level));
    if (!hide) {
      // Three lines along the bottom edge, each shrunk to fit the width.
      auto line = [&](const std::string& t, float y, float px, Color c) {
        const float w = d.text_size(t, px).first, room = d.width() * 0.94f;
        d.text(t, d.width() / 2.0f, y, c, w > room ? px * room / w : px);
      };
      char head[96];
      std::snprintf(head, sizeof head, "Level %zu of %zu: drive %d of 255", k + 1, levels.size(), levels[k]);
      const float y = d.height() - 100.0f;
      line(head, y, 24, ink);
      line("Point the photometer at the centre, type its reading in cd/m\xC2\xB2 and press Return", y + 32, 18, ink);
      line("[ " + typed + "_ ]    " +
               (message.empty() ? std::string("Backspace on empty: previous level    H: hide this text    Escape: stop")
                                : message),
           y + 64, 18, message.empty() ? ink : Color{0.9f, 0.15f, 0.1f, 1});
    }
    // Scripted: the reading is typed a few frames after the level appears, then Return.
    ++frame_at_level;
    const bool shoot = !o.screenshot.empty() && k == middle && frame_at_level == (scripted.empty() ? 3 : 9);
    if (shoot) save_png(o.screenshot, d.capture());
    d.flip();
    if (!scripted.empty()) {
      if (frame_at_level == 5) d.push_text(fmt(scripted[k]));
      if (frame_at_level == 11) d.push_key("Return");
    }
    for (const auto& ev : d.poll_events()) {
      if (ev.type == InputEvent::quit || (ev.type == InputEvent::key_down && ev.key == "Escape")) {
        err << "calibrate: stopped at level " << levels[k] << " (" << k << " of " << levels.size()
            << " measured); nothing written\n";
        return 4;
      }
      if (ev.type == InputEvent::text_input) {
        for (char c : ev.text) {
          if (std::isdigit(static_cast<unsigned char>(c))) typed += c;
          else if ((c == '.' || c == ',') && typed.find('.') == std::string::npos) typed += '.';
          else if (c == 'h' || c == 'H') hide = !hide;
        }
        message.clear();
      }
      if (ev.type != InputEvent::key_down) continue;
      if (ev.key == "Backspace") {
        if (!typed.empty()) typed.pop_back();
        else if (k > 0) {  // back to the previous level, its reading ready to correct
          --k;
          typed = fmt(readings.back());
          readings.pop_back();
          frame_at_level = 0;
        }
        message.clear();
      }
      if (ev.key == "Return" || ev.key == "Keypad Enter") {
        const double v = parse_reading(typed);
        if (v < 0) message = "type the reading as a number (cd/m\xC2\xB2)";
        else if (!readings.empty() && v < readings.back())
          message = "below the previous level's " + fmt(readings.back()) + " cd/m\xC2\xB2; check the photometer";
        else if (k + 1 == levels.size() && !(v > readings.front()))
          message = "white must be brighter than black (" + fmt(readings.front()) + " cd/m\xC2\xB2); check the photometer";
        else {
          readings.push_back(v);
          typed.clear();
          ++k;
          frame_at_level = 0;
        }
        if (!message.empty() && !scripted.empty()) {
          err << "calibrate: level " << levels[k] << ": reading " << typed << " refused: " << message << "\n";
          return 1;
        }
      }
    }
  }

  return write_profile(o, text, exists, levels, readings, out);
}

// [SECTION] Writing -----------------------------------------------------------------------
namespace {
int write_profile(const CalibrateOptions& o, const std::string& text, bool existed, const std::vector<int>& levels,
                  const std::vector<double>& readings, std::ostream& out) {
  experiments::GammaCalibration g;
  g.kind = experiments::GammaKind::table;
  g.levels = levels;
  g.luminance = readings;
  g.measured = now_iso();
  const std::string updated = experiments::with_gamma_table(text, g);
  experiments::save_station_text(o.station, updated);  // checked by parsing, then atomic
  const experiments::Station st = experiments::load_station(o.station);
  const double fit = experiments::fitted_gamma(levels, readings);
  out << "calibrate: wrote " << levels.size() << " levels (" << fmt(readings.front()) << " to " << fmt(readings.back())
      << " cd/m2" << (fit > 0 ? ", fitted gamma " + fmt(fit) : std::string()) << ") into [gamma] of " << o.station
      << (existed ? "" : " (new profile)") << ", sha256 " << st.sha256 << "\n";
  return 0;
}
}  // namespace

}  // namespace mm::app
