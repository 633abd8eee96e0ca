// experiments/station.cpp: station profiles (TOML, with toml++): parsing with located
// errors, serializing and saving atomically, replacing the [gamma] table in place, the
// --station look-up, degrees <-> pixels, realized stimulus sizes and the gamma correction.
//
// Sections
//   [SECTION] Parsing      [station] [screen] [gamma] [audio]
//   [SECTION] Writing      station_to_toml, with_gamma_table, save_station_text
//   [SECTION] Choosing     station_folders, choose_station
//   [SECTION] Geometry     ScreenGeometry, requested_box_px, realize_stimulus_size
//   [SECTION] Gamma        sRGB, drive levels, the correction table, fitted gamma
#include "experiments/station.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "data/sha256.h"
#include "experiments/internal.h"
#include "experiments/toml_table.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::experiments {

using detail::fail_at;
using detail::line_of;
using detail::Tab;

int Station::line(const std::string& key) const {
  if (auto it = lines.find(key); it != lines.end()) return it->second;
  if (auto dot = key.find('.'); dot != std::string::npos)
    if (auto it = lines.find(key.substr(0, dot)); it != lines.end()) return it->second;
  return 0;
}

namespace {

std::string num(double v, int digits = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// [SECTION] Parsing -----------------------------------------------------------------------
const toml::table* table_of(const toml::table& root, const std::string& name, const std::string& file) {
  const toml::node* n = root.get(name);
  if (!n) return nullptr;
  if (!n->is_table()) fail_at(file, line_of(*n), name + " must be a table: [" + name + "]");
  return n->as_table();
}

void parse_screen(const toml::table& root, const std::string& file, Station& s) {
  const toml::table* t = table_of(root, "screen", file);
  if (!t) return;
  Tab x(*t, "[screen]", file, {"width_cm", "width_px", "height_px", "distance_cm"});
  s.lines["screen"] = x.line();
  for (const char* k : {"width_cm", "width_px", "height_px", "distance_cm"}) {
    if (!x.has(k))
      x.fail_here(std::string("[screen] needs ") + k +
                  " (all four of width_cm, width_px, height_px, distance_cm: the visible picture's width, the "
                  "screen mode in pixels, and the eye's distance)");
    s.lines[std::string("screen.") + k] = x.line(k);
  }
  s.screen.width_cm = x.number("width_cm", 0, 1, 1000, "cm (the visible picture's width)");
  s.screen.width_px = static_cast<int>(x.integer("width_px", 0, 16, 65536));
  s.screen.height_px = static_cast<int>(x.integer("height_px", 0, 16, 65536));
  s.screen.distance_cm = x.number("distance_cm", 0, 5, 10000, "cm (eye to screen)");
}

// An array of numbers, each element's line kept for messages.
template <class T>
std::vector<T> numbers(const Tab& t, const std::string& k, std::vector<int>& lines, const std::string& file) {
  std::vector<T> out;
  const toml::node* n = t.node(k);
  if (!n) return out;
  if (!n->is_array()) t.wrong_type(k, "an array of numbers");
  for (const toml::node& e : *n->as_array()) {
    const int l = line_of(e) > 0 ? line_of(e) : t.line(k);
    if (!e.is_number() || (std::is_integral<T>::value && !e.is_integer()))
      fail_at(file, l, t.where() + " " + k + " must hold " + (std::is_integral<T>::value ? "whole numbers" : "numbers") +
                           " only, not " + detail::type_name(e));
    out.push_back(static_cast<T>(e.is_integer() ? static_cast<double>(**e.as_integer()) : **e.as_floating_point()));
    lines.push_back(l);
  }
  return out;
}

void parse_gamma(const toml::table& root, const std::string& file, Station& s) {
  const toml::table* t = table_of(root, "gamma", file);
  if (!t) return;
  Tab g(*t, "[gamma]", file, {"gamma", "levels", "luminance", "measured"});
  s.lines["gamma"] = g.line();
  for (const char* k : {"gamma", "levels", "luminance", "measured"})
    if (g.has(k)) s.lines[std::string("gamma.") + k] = g.line(k);
  s.gamma.measured = g.str("measured");
  const bool table = g.has("levels") || g.has("luminance");
  if (g.has("gamma") && table)
    g.fail("gamma", "[gamma] has both gamma and a measured table (levels, luminance); keep one (the table is more exact)");
  if (g.has("gamma")) {
    s.gamma.kind = GammaKind::power;
    s.gamma.gamma = g.number("gamma", 0, 0.5, 5, "(a display's gamma is usually about 2.2)");
    return;
  }
  if (!table) {
    if (g.has("measured")) g.fail_here("[gamma] needs gamma = 2.2 or levels = [...] with luminance = [...]");
    return;  // an empty [gamma]: no correction
  }
  if (!g.has("levels") || !g.has("luminance"))
    g.fail_here("[gamma] needs both levels = [0, ..., 255] and luminance = [cd/m², ...] (metamerlab calibrate writes them)");
  std::vector<int> ll, yl;
  s.gamma.kind = GammaKind::table;
  s.gamma.levels = numbers<int>(g, "levels", ll, file);
  s.gamma.luminance = numbers<double>(g, "luminance", yl, file);
  const auto& L = s.gamma.levels;
  const auto& Y = s.gamma.luminance;
  if (L.size() < 2) g.fail("levels", "[gamma] levels needs at least two levels, 0 and 255");
  if (L.size() != Y.size())
    g.fail("luminance", "[gamma] luminance has " + std::to_string(Y.size()) + " readings for " + std::to_string(L.size()) +
                            " levels; give one reading (cd/m²) per level");
  for (size_t i = 0; i < L.size(); ++i) {
    if (L[i] < 0 || L[i] > 255) fail_at(file, ll[i], "[gamma] level " + std::to_string(L[i]) + " is outside 0-255; fix it");
    if (i > 0 && L[i] <= L[i - 1])
      fail_at(file, ll[i], "[gamma] levels must rise: " + std::to_string(L[i]) + " follows " + std::to_string(L[i - 1]) +
                               "; sort them (with their readings)");
    if (!(Y[i] >= 0) || !std::isfinite(Y[i]))
      fail_at(file, yl[i], "[gamma] luminance " + num(Y[i]) + " must be 0 or more (cd/m²)");
    if (i > 0 && Y[i] < Y[i - 1])
      fail_at(file, yl[i], "[gamma] luminance falls from " + num(Y[i - 1]) + " to " + num(Y[i]) + " cd/m² at level " +
                               std::to_string(L[i]) + "; the screen must get brighter with the level: measure again");
  }
  if (L.front() != 0 || L.back() != 255)
    g.fail("levels", "[gamma] levels must start at 0 and end at 255 (the screen's black and white); measure those too");
  if (!(Y.back() > Y.front()))
    g.fail("luminance", "[gamma] luminance does not rise from level 0 to 255; check the photometer and measure again");
}

void parse_audio(const toml::table& root, const std::string& file, Station& s) {
  const toml::table* t = table_of(root, "audio", file);
  if (!t) return;
  Tab a(*t, "[audio]", file, {"device", "gain_db", "fixed_level", "tone_dbfs", "tone_spl_db"});
  s.lines["audio"] = a.line();
  for (const char* k : {"device", "gain_db", "fixed_level", "tone_dbfs", "tone_spl_db"})
    if (a.has(k)) s.lines[std::string("audio.") + k] = a.line(k);
  s.audio.device = a.str("device");
  s.audio.gain_db = a.number("gain_db", 0, -100, 20, "dB");
  s.audio.fixed_level = a.boolean("fixed_level", false);
  s.audio.tone_dbfs = a.number("tone_dbfs", -20, -80, 0, "dBFS");
  s.audio.tone_spl_db = a.number("tone_spl_db", 0, 0, 140, "dB SPL");
}

}  // namespace

Station parse_station(const std::string& text, const std::string& file) {
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& err) {
    std::string d(err.description());
    std::replace(d.begin(), d.end(), '\n', ' ');
    const auto& b = err.source().begin;
    throw ExperimentError(file, static_cast<int>(b.line),
                          "TOML syntax error" + (b.column > 0 ? " at column " + std::to_string(b.column) : std::string()) +
                              ": " + d + "; fix the syntax (station profiles: experiments/README.md)");
  }
  Station s;
  s.file = file;
  s.text = text;
  s.sha256 = data::sha256_hex(text.data(), text.size());
  Tab top(root, "the station profile", file, {"station", "screen", "gamma", "audio"});
  s.name = fs::path(file).stem().string();
  if (const toml::table* t = table_of(root, "station", file)) {
    Tab st(*t, "[station]", file, {"name", "description"});
    s.lines["station"] = st.line();
    if (st.has("name")) s.name = st.required_str("name", "\"booth-1\"");
    s.description = st.str("description");
  }
  if (s.name.empty()) fail_at(file, 1, "the station has no name; add [station] name = \"booth-1\"");
  parse_screen(root, file, s);
  parse_gamma(root, file, s);
  parse_audio(root, file, s);
  return s;
}

Station load_station(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw ExperimentError(path, 0, "no such station profile; check the path (or write one: experiments/README.md)");
  std::ifstream f(path, std::ios::binary);
  std::ostringstream b;
  b << f.rdbuf();
  if (!f && !f.eof()) throw ExperimentError(path, 0, "cannot read the station profile; check its permissions");
  Station s = parse_station(b.str(), path);
  s.path = fs::absolute(path).lexically_normal().string();
  return s;
}

// [SECTION] Writing -----------------------------------------------------------------------
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += c;
  }
  return out + "\"";
}

// A TOML float that reads back as the same double for the digits kept.
std::string toml_float(double v) {
  std::string s = num(v, 10);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string gamma_block(const GammaCalibration& g) {
  std::ostringstream s;
  s << "[gamma]\n";
  if (g.kind == GammaKind::power) s << "gamma = " << toml_float(g.gamma) << "\n";
  if (g.kind == GammaKind::table) {
    const double fit = fitted_gamma(g.levels, g.luminance);
    s << "# measured luminance (cd/m²) at each drive level";
    if (fit > 0) s << " (fitted gamma " << num(fit, 3) << ")";
    s << "\nlevels = [";
    for (size_t i = 0; i < g.levels.size(); ++i) s << (i ? ", " : "") << g.levels[i];
    s << "]\nluminance = [";
    for (size_t i = 0; i < g.luminance.size(); ++i) s << (i ? ", " : "") << toml_float(g.luminance[i]);
    s << "]\n";
  }
  if (!g.measured.empty()) s << "measured = " << quoted(g.measured) << "\n";
  return s.str();
}

}  // namespace

std::string station_to_toml(const Station& st) {
  std::ostringstream s;
  s << "[station]\nname = " << quoted(st.name) << "\n";
  if (!st.description.empty()) s << "description = " << quoted(st.description) << "\n";
  if (st.screen.known())
    s << "\n[screen]\nwidth_cm = " << toml_float(st.screen.width_cm) << "\nwidth_px = " << st.screen.width_px
      << "\nheight_px = " << st.screen.height_px << "\ndistance_cm = " << toml_float(st.screen.distance_cm) << "\n";
  if (st.gamma.kind != GammaKind::none) s << "\n" << gamma_block(st.gamma);
  const StationAudio& a = st.audio;
  const StationAudio none;
  if (a.device != none.device || a.gain_db != none.gain_db || a.fixed_level != none.fixed_level ||
      a.tone_dbfs != none.tone_dbfs || a.tone_spl_db != none.tone_spl_db) {
    s << "\n[audio]\n";
    if (!a.device.empty()) s << "device = " << quoted(a.device) << "\n";
    s << "gain_db = " << toml_float(a.gain_db) << "\n";
    if (a.fixed_level) s << "fixed_level = true\n";
    s << "tone_dbfs = " << toml_float(a.tone_dbfs) << "\n";
    if (a.tone_spl_db > 0) s << "tone_spl_db = " << toml_float(a.tone_spl_db) << "\n";
  }
  return s.str();
}

std::string with_gamma_table(const std::string& text, const GammaCalibration& gamma) {
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  static const std::regex header(R"(^\s*\[\[?\s*[A-Za-z0-9_."' -]+\s*\]\]?\s*(#.*)?\r?$)");
  static const std::regex gamma_header(R"(^\s*\[\s*gamma\s*\]\s*(#.*)?\r?$)");
  auto blank_or_comment = [](const std::string& l) {
    const auto b = l.find_first_not_of(" \t\r");
    return b == std::string::npos || l[b] == '#';
  };
  size_t begin = lines.size(), end = lines.size();
  for (size_t i = 0; i < lines.size(); ++i)
    if (std::regex_match(lines[i], gamma_header)) {
      begin = i;
      end = i + 1;
      while (end < lines.size() && !std::regex_match(lines[end], header)) ++end;
      // Comments and blank lines just before the next table belong to it.
      while (end > begin + 1 && blank_or_comment(lines[end - 1])) --end;
      break;
    }
  std::string block = gamma.kind == GammaKind::none ? "[gamma]\n" : gamma_block(gamma);
  std::string out;
  if (begin == lines.size()) {
    out = text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    return out + block;
  }
  for (size_t i = 0; i < begin; ++i) out += lines[i] + "\n";
  out += block;
  for (size_t i = end; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

void save_station_text(const std::string& path, const std::string& text) {
  parse_station(text, path);  // never write a profile that would not load
  stimuli::write_file_atomic(path, text);
}

// [SECTION] Choosing ----------------------------------------------------------------------
std::vector<std::string> station_folders() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("METAMERLAB_STATIONS"); env && *env) {
    std::stringstream s(env);
    for (std::string part; std::getline(s, part, ':');)
      if (!part.empty()) out.push_back(part);
  }
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) out.push_back(std::string(xdg) + "/metamerlab/stations");
  else if (home && *home) out.push_back(std::string(home) + "/.config/metamerlab/stations");
  return out;
}

StationChoice choose_station(const std::string& arg) {
  StationChoice c;
  if (arg.empty()) return c;
  std::error_code ec;
  const bool looks_like_file = arg.find('/') != std::string::npos ||
                               (arg.size() > 5 && arg.compare(arg.size() - 5, 5, ".toml") == 0);
  std::string path;
  if (fs::is_regular_file(arg, ec)) path = arg;
  else if (looks_like_file) {
    std::string where;
    for (const auto& f : station_folders()) where += (where.empty() ? "" : ", ") + f;
    throw ExperimentError(arg, 0, "no such station profile; check the path, or give a NAME whose NAME.toml is in " +
                                      (where.empty() ? std::string("$METAMERLAB_STATIONS") : where));
  } else {
    for (const auto& f : station_folders())
      if (fs::is_regular_file(fs::path(f) / (arg + ".toml"), ec)) {
        path = (fs::path(f) / (arg + ".toml")).string();
        break;
      }
  }
  if (path.empty()) {
    c.label = arg;  // a plain label, as before station profiles existed
    return c;
  }
  c.profile = load_station(path);
  c.label = c.profile->name;
  return c;
}

// [SECTION] Geometry ----------------------------------------------------------------------
double ScreenGeometry::deg_to_px(double deg) const {
  return 2 * distance_cm * std::tan(deg * M_PI / 360.0) * px_per_cm();
}

double ScreenGeometry::px_to_deg(double px) const {
  return 2 * std::atan(px / px_per_cm() / (2 * distance_cm)) * 180.0 / M_PI;
}

int requested_box_px(const ImagePolicy& p, const ScreenGeometry* screen) {
  if (p.size > 0) return p.size;
  if (p.size_deg <= 0) return 0;
  if (!screen || !screen->known()) return -1;
  return std::max(1, static_cast<int>(std::lround(screen->deg_to_px(p.size_deg))));
}

StimulusSize realize_stimulus_size(int w, int h, const ImagePolicy& p, const ScreenGeometry* screen) {
  StimulusSize s;
  s.requested = p.scaling;
  s.image_w = w;
  s.image_h = h;
  int box = requested_box_px(p, screen);
  if (box < 0) {
    s.problem = "size_deg needs the station's screen geometry; pass --station with a profile holding [screen] "
                "width_cm, width_px, height_px and distance_cm, or give size in pixels";
    box = 0;
  }
  s.box_px = box;
  const int side = std::max(std::max(w, h), 1);
  double f = 1;
  Scaling m = p.scaling;
  if (p.scaling == Scaling::none || box == 0) {
    if (m == Scaling::automatic) m = Scaling::none;
  } else {
    f = static_cast<double>(box) / side;
    const bool whole = std::fabs(f - std::round(f)) < 1e-9 && std::round(f) >= 1;
    if (m == Scaling::automatic) m = whole ? Scaling::nearest : Scaling::linear;
    if (m == Scaling::nearest && !whole) {
      if (f < 1) {
        s.problem = "nearest scaling cannot shrink the " + std::to_string(w) + "x" + std::to_string(h) +
                    " px stimuli into a " + std::to_string(box) + " px box pixel-exactly; make the box " +
                    std::to_string(side) + " px (1x) or more, or set [images] scaling = \"linear\"";
        f = 1;
      } else {
        f = std::round(f);
        s.snapped = true;
      }
    } else if (m == Scaling::nearest) {
      f = std::round(f);
    }
  }
  s.scaling = m;
  s.factor = f;
  s.width = std::max(1, static_cast<int>(std::lround(w * f)));
  s.height = std::max(1, static_cast<int>(std::lround(h * f)));
  if (screen && screen->known()) {
    s.width_deg = screen->px_to_deg(s.width);
    s.height_deg = screen->px_to_deg(s.height);
  }
  return s;
}

std::string describe(const StimulusSize& s) {
  std::ostringstream o;
  o << s.image_w << "x" << s.image_h << " px shown at " << s.width << "x" << s.height << " px (" << num(s.factor, 4)
    << "x, " << scaling_name(s.scaling);
  if (s.width_deg > 0) o << "; " << num(s.width_deg, 3) << " x " << num(s.height_deg, 3) << " deg";
  o << ")";
  return o.str();
}

// [SECTION] Gamma -------------------------------------------------------------------------
std::string GammaCalibration::describe() const {
  switch (kind) {
    case GammaKind::none: return "none";
    case GammaKind::power: return "gamma " + num(gamma, 4);
    case GammaKind::table:
      return "table of " + std::to_string(levels.size()) + " levels (" + num(luminance.front(), 4) + "-" +
             num(luminance.back(), 4) + " cd/m²)";
  }
  return "none";
}

double srgb_to_linear(double v) {
  v = std::clamp(v, 0.0, 1.0);
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

double drive_for_luminance(const GammaCalibration& g, double target) {
  target = std::clamp(target, 0.0, 1.0);
  switch (g.kind) {
    case GammaKind::none: return target;
    case GammaKind::power: return std::pow(target, 1.0 / g.gamma);
    case GammaKind::table: break;
  }
  const auto& L = g.levels;
  const auto& Y = g.luminance;
  const double y0 = Y.front(), span = Y.back() - y0;
  for (size_t k = 0; k + 1 < L.size(); ++k) {
    const double a = (Y[k] - y0) / span, b = (Y[k + 1] - y0) / span;
    if (target > b) continue;
    if (target <= a) return L[k] / 255.0;  // flat start: the lowest level that reaches it
    return (L[k] + (target - a) / (b - a) * (L[k + 1] - L[k])) / 255.0;
  }
  return L.back() / 255.0;
}

std::vector<float> gamma_correction_table(const GammaCalibration& g) {
  std::vector<float> out;
  if (g.kind == GammaKind::none) return out;
  for (int i = 0; i < 256; ++i) out.push_back(static_cast<float>(drive_for_luminance(g, srgb_to_linear(i / 255.0))));
  return out;
}

double fitted_gamma(const std::vector<int>& levels, const std::vector<double>& luminance) {
  if (levels.size() != luminance.size() || levels.size() < 3) return 0;
  const double y0 = luminance.front(), span = luminance.back() - y0;
  if (!(span > 0)) return 0;
  double sxy = 0, sxx = 0;
  for (size_t i = 1; i + 1 < levels.size(); ++i) {
    const double x = levels[i] / 255.0, y = (luminance[i] - y0) / span;
    if (x <= 0 || y <= 0) continue;
    sxy += std::log(x) * std::log(y);
    sxx += std::log(x) * std::log(x);
  }
  return sxx > 0 ? sxy / sxx : 0;
}

std::vector<int> calibration_levels(int n) {
  if (n < 2 || n > 256) throw std::invalid_argument("calibration levels: give 2 to 256 levels");
  std::vector<int> out;
  for (int k = 0; k < n; ++k) out.push_back(static_cast<int>(std::lround(k * 255.0 / (n - 1))));
  return out;
}

}  // namespace mm::experiments
