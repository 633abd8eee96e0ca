// analysis/figures.cpp: the paper's figures, drawn with cairo to PNG, SVG or PDF.
//
// Sections
//   [SECTION] Constants
//   [SECTION] Cairo helpers     RAII, fonts, text placement and measuring
//   [SECTION] Checks            input validation (std::invalid_argument)
//   [SECTION] Ticks and legend  nice tick values, legend entries and their layout
//   [SECTION] Layout            line panels and scatter geometry
//   [SECTION] Drawing           axes, series, markers, legend, free-spot labels
//   [SECTION] Output            surface by extension, writing the file
//   [SECTION] Public API
//   [SECTION] Statistics        Spearman's ρ
#include "analysis/figures.h"
#include "analysis/stats.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>

namespace mm::analysis {
namespace {

// [SECTION] Constants ---------------------------------------------------------------------
constexpr const char* kFont = "DejaVu Sans";
constexpr double kPi = 3.14159265358979323846;
constexpr double kOuter = 10;           // figure margin
constexpr double kTitleSize = 14;       // figure title
constexpr double kPanelTitleSize = 11;  // panel title (bold)
constexpr double kTickSize = 9;         // tick labels
constexpr double kAxisSize = 10;        // axis titles
constexpr double kLegendSize = 9.5;
constexpr double kNoteSize = 10;        // the Spearman note
constexpr double kChanceSize = 8.5;     // the "chance" label
constexpr double kTick = 4;             // tick length
constexpr double kGap = 3;              // tick to tick label
constexpr double kAscent = 0.76;        // glyph ascent / font size (DejaVu Sans, caps)
constexpr double kDescent = 0.24;       // glyph descent / font size
constexpr double kCap = 0.72;           // cap height / font size
const Color kInk{0.13, 0.13, 0.13};     // axes and text
const Color kGrid{0.90, 0.90, 0.90};

bool finite(double v) { return std::isfinite(v); }

// [SECTION] Cairo helpers -----------------------------------------------------------------
struct CairoFree {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
using CairoPtr = std::unique_ptr<cairo_t, CairoFree>;
using SurfacePtr = std::unique_ptr<cairo_surface_t, CairoFree>;

// Same text metrics on every surface and scale: no hinted advances.
void setup_context(cairo_t* cr) {
  cairo_font_options_t* fo = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
  cairo_set_font_options(cr, fo);
  cairo_font_options_destroy(fo);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
}

// A context on a 1×1 image, for measuring text during layout.
struct Measurer {
  SurfacePtr surface{cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1)};
  CairoPtr cr{cairo_create(surface.get())};
  Measurer() { setup_context(cr.get()); }
};

struct Font {
  double size = 10;
  bool bold = false;
};

void set_font(cairo_t* cr, Font f) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         f.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, f.size);
}

double text_width(cairo_t* cr, const std::string& s, Font f) {
  if (s.empty()) return 0;
  set_font(cr, f);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

// The largest size <= f.size (and >= 6) at which s is at most max_w wide.
Font fit_font(cairo_t* cr, const std::string& s, Font f, double max_w) {
  while (f.size > 6 && text_width(cr, s, f) > max_w) f.size -= 0.5;
  return f;
}

// s cut (at a UTF-8 character boundary) and ended with "…" so as to be at most max_w wide.
std::string ellipsize(cairo_t* cr, std::string s, Font f, double max_w) {
  if (text_width(cr, s, f) <= max_w) return s;
  while (!s.empty()) {
    do s.pop_back();
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80);
    if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0xC0) s.pop_back();
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (text_width(cr, s + "\xE2\x80\xA6", f) <= max_w) return s + "\xE2\x80\xA6";
  }
  return "";
}

// A title in at most `max_lines` lines of at most max_w: shrunk down to min_size first,
// then wrapped at spaces, the last line ellipsized if it still does not fit.
std::vector<std::string> fit_lines(cairo_t* cr, const std::string& s, Font& f, double max_w,
                                   double min_size, int max_lines) {
  while (f.size > min_size && text_width(cr, s, f) > max_w) f.size -= 0.5;
  if (text_width(cr, s, f) <= max_w) return {s};
  std::vector<std::string> words, lines;
  for (std::size_t i = 0; i <= s.size();) {
    std::size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) words.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  std::size_t w = 0;
  while (w < words.size() && static_cast<int>(lines.size()) < max_lines - 1) {
    std::string line = words[w++];
    while (w < words.size() && text_width(cr, line + " " + words[w], f) <= max_w)
      line += " " + words[w++];
    lines.push_back(ellipsize(cr, line, f, max_w));
  }
  std::string rest;
  for (; w < words.size(); ++w) rest += (rest.empty() ? "" : " ") + words[w];
  if (!rest.empty()) lines.push_back(ellipsize(cr, rest, f, max_w));
  return lines;
}

enum class HA { left, center, right };
enum class VA { baseline, middle, top, bottom };

// Offset of the text's baseline start from its anchor, in the text's own (rotated) frame.
void anchor_offset(double w, double size, HA h, VA v, double& dx, double& dy) {
  dx = h == HA::left ? 0 : h == HA::center ? -w / 2 : -w;
  dy = v == VA::baseline ? 0
       : v == VA::middle ? kCap * size / 2
       : v == VA::top    ? kAscent * size
                         : -kDescent * size;
}

// The bounding box of text anchored at (x, y), rotated by angle_deg (clockwise positive,
// as cairo; -90 reads bottom to top).
Box text_box(cairo_t* cr, const std::string& s, Font f, double x, double y, HA h, VA v,
             double angle_deg = 0) {
  double w = text_width(cr, s, f), dx, dy;
  anchor_offset(w, f.size, h, v, dx, dy);
  double a = angle_deg * kPi / 180, c = std::cos(a), sn = std::sin(a);
  double us[2] = {dx, dx + w}, vs[2] = {dy - kAscent * f.size, dy + kDescent * f.size};
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  for (double u : us)
    for (double vv : vs) {
      double px = x + u * c - vv * sn, py = y + u * sn + vv * c;
      x0 = std::min(x0, px), x1 = std::max(x1, px), y0 = std::min(y0, py), y1 = std::max(y1, py);
    }
  return {x0, y0, x1 - x0, y1 - y0};
}

void set_color(cairo_t* cr, Color c, double alpha = 1) {
  cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

void draw_text(cairo_t* cr, const std::string& s, Font f, double x, double y, HA h, VA v,
               Color color = kInk, double angle_deg = 0) {
  if (s.empty()) return;
  double w = text_width(cr, s, f), dx, dy;
  anchor_offset(w, f.size, h, v, dx, dy);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle_deg * kPi / 180);
  set_color(cr, color);
  cairo_move_to(cr, dx, dy);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

void line(cairo_t* cr, double x0, double y0, double x1, double y1, Color c, double width,
          double alpha = 1) {
  cairo_move_to(cr, x0, y0);
  cairo_line_to(cr, x1, y1);
  set_color(cr, c, alpha);
  cairo_set_line_width(cr, width);
  cairo_stroke(cr);
}

// [SECTION] Checks ------------------------------------------------------------------------
[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw std::invalid_argument(where + ": " + what);
}

std::string quoted_panel(const Panel& p, std::size_t k) {
  return "panel " + std::to_string(k + 1) + (p.title.empty() ? "" : " '" + p.title + "'");
}

std::string quoted_series(const Series& s, std::size_t j) {
  return "series " + std::to_string(j + 1) + (s.label.empty() ? "" : " '" + s.label + "'");
}

void check_scale(const std::string& where, double scale) {
  if (!finite(scale) || scale <= 0 || scale > 20)
    bad(where, "scale " + std::to_string(scale) + " is out of range; use a value in (0, 20]");
}

void check_range(const std::string& where, const char* axis, double lo, double hi) {
  if (!finite(lo) || !finite(hi) || !(lo < hi))
    bad(where, std::string(axis) + " range [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "] is empty or not finite; give min < max");
}

void check_panels(const std::string& where, const std::vector<Panel>& panels,
                  const LinePanelsOptions& o) {
  if (panels.empty()) bad(where, "no panels to draw; give at least one Panel");
  if (o.columns < 1) bad(where, "columns must be at least 1");
  if (!finite(o.panel_width) || !finite(o.panel_height) || o.panel_width < 80 ||
      o.panel_height < 80)
    bad(where, "panel_width and panel_height must be at least 80 points");
  check_scale(where, o.scale);
  check_range(where, "y", o.y_min, o.y_max);
  bool any = false;
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const Panel& p = panels[k];
    const std::string pn = quoted_panel(p, k);
    if (p.x_labels.empty()) bad(where, pn + " has no x labels; give one label per layer");
    if (p.chance && !finite(*p.chance)) bad(where, pn + ": chance is not finite");
    for (std::size_t j = 0; j < p.series.size(); ++j) {
      const Series& s = p.series[j];
      const std::string sn = pn + ", " + quoted_series(s, j);
      if (s.y.size() != p.x_labels.size())
        bad(where, sn + " has " + std::to_string(s.y.size()) + " values for " +
                       std::to_string(p.x_labels.size()) +
                       " x labels; give one value per x label (NaN for a missing one)");
      if (!s.err.empty() && s.err.size() != s.y.size())
        bad(where, sn + " has " + std::to_string(s.err.size()) + " errors for " +
                       std::to_string(s.y.size()) +
                       " values; give one error per value (NaN for none) or none at all");
      for (double e : s.err)
        if (e < 0) bad(where, sn + " has a negative error; errors are ± half-widths >= 0");
      if (!finite(s.line_width) || s.line_width < 0 || !finite(s.marker_size) ||
          s.marker_size < 0 || !(s.opacity >= 0 && s.opacity <= 1))
        bad(where, sn + ": line_width and marker_size must be >= 0, opacity in [0, 1]");
      for (double v : s.y) any = any || finite(v);
    }
  }
  if (!any) bad(where, "every value is missing (NaN) or there are no series; nothing to draw");
}

void check_scatter(const std::string& where, const std::vector<ScatterPoint>& pts,
                   const ScatterOptions& o) {
  check_scale(where, o.scale);
  check_range(where, "x", o.x_min, o.x_max);
  check_range(where, "y", o.y_min, o.y_max);
  if (!finite(o.width) || !finite(o.height) || o.width < 150 || o.height < 150)
    bad(where, "width and height must be at least 150 points");
  if (!finite(o.marker_size) || o.marker_size <= 0 || o.marker_size > 40)
    bad(where, "marker_size must be in (0, 40] points");
  if (o.chance && !finite(*o.chance)) bad(where, "chance is not finite");
  bool any = false;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    if (pts[i].x_err < 0 || pts[i].y_err < 0)
      bad(where, "point " + std::to_string(i + 1) +
                     " has a negative error; errors are ± half-widths >= 0");
    any = any || (finite(pts[i].x) && finite(pts[i].y));
  }
  if (pts.empty()) bad(where, "no points to draw; give at least one ScatterPoint");
  if (!any) bad(where, "no point has a finite x and y (all NaN); nothing to draw");
}

// [SECTION] Ticks and legend --------------------------------------------------------------
struct Ticks {
  std::vector<double> values;
  std::vector<std::string> labels;
};

// About `target` round tick values (1, 2, 2.5, 5 × 10^k steps) within [lo, hi].
Ticks nice_ticks(double lo, double hi, int target = 5) {
  double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag, m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  double step = m * mag;
  int dec = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  if (m == 2.5) ++dec;
  dec = std::min(dec, 10);
  Ticks t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    double r = std::abs(v) < step * 1e-9 ? 0.0 : v;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", dec, r);
    t.values.push_back(r);
    t.labels.push_back(buf);
  }
  return t;
}

struct LegendEntry {
  std::string label;
  Color color;
  Marker marker = Marker::circle;
  double line_width = 0;  // 0 = marker only
  double marker_size = 7;
  double opacity = 1;
  bool dashed = false;
};

constexpr double kSampleLine = 26;  // width of a legend sample with a line
constexpr double kSampleGap = 5;    // sample to text
constexpr double kEntryGap = 16;    // between entries on a row

double sample_width(const LegendEntry& e) {
  return e.line_width > 0 ? kSampleLine : std::max(e.marker_size, 8.0) + 2;
}

double entry_width(cairo_t* cr, const LegendEntry& e) {
  return sample_width(e) + kSampleGap + text_width(cr, e.label, {kLegendSize});
}

double legend_row_height(const std::vector<LegendEntry>& es) {
  double h = kLegendSize * 1.6;
  for (const auto& e : es) h = std::max(h, e.marker_size + 5);
  return h;
}

struct LegendPlan {
  Box box;
  std::vector<std::pair<double, double>> at;  // per entry: sample's left x, row centre y
};

// Entries in rows centred within [x, x + max_w] from y down (wrapping).
LegendPlan legend_rows(cairo_t* cr, const std::vector<LegendEntry>& es, double x, double y,
                       double max_w) {
  LegendPlan lp;
  const double rh = legend_row_height(es);
  std::vector<std::vector<std::size_t>> rows(1);
  std::vector<double> widths(1, 0);
  for (std::size_t i = 0; i < es.size(); ++i) {
    double w = entry_width(cr, es[i]);
    double need = rows.back().empty() ? w : widths.back() + kEntryGap + w;
    if (!rows.back().empty() && need > max_w) {
      rows.emplace_back();
      widths.push_back(0);
      need = w;
    }
    rows.back().push_back(i);
    widths.back() = need;
  }
  lp.at.resize(es.size());
  double widest = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    double cx = x + std::max(0.0, (max_w - widths[r]) / 2), cy = y + rh * (r + 0.5);
    for (std::size_t i : rows[r]) {
      lp.at[i] = {cx, cy};
      cx += entry_width(cr, es[i]) + kEntryGap;
    }
    widest = std::max(widest, widths[r]);
  }
  lp.box = {x + std::max(0.0, (max_w - widest) / 2), y, widest, rh * rows.size()};
  return lp;
}

// Entries one per row from (x, y) down.
LegendPlan legend_column(cairo_t* cr, const std::vector<LegendEntry>& es, double x, double y) {
  LegendPlan lp;
  const double rh = legend_row_height(es);
  double w = 0;
  for (std::size_t i = 0; i < es.size(); ++i) {
    lp.at.push_back({x, y + rh * (i + 0.5)});
    w = std::max(w, entry_width(cr, es[i]));
  }
  lp.box = {x, y, w, rh * es.size()};
  return lp;
}

double legend_column_width(cairo_t* cr, const std::vector<LegendEntry>& es) {
  double w = 0;
  for (const auto& e : es) w = std::max(w, entry_width(cr, e));
  return w;
}

// Series with a label, once per (label, colour, marker), in order of first appearance.
std::vector<LegendEntry> panel_legend(const std::vector<Panel>& panels) {
  std::vector<LegendEntry> es;
  for (const Panel& p : panels)
    for (std::size_t j = 0; j < p.series.size(); ++j) {
      const Series& s = p.series[j];
      if (s.label.empty()) continue;
      LegendEntry e{s.label,     s.color.value_or(palette_color(j)), s.marker, s.line_width,
                    s.marker_size, s.opacity,                          s.dashed};
      bool seen = std::any_of(es.begin(), es.end(), [&](const LegendEntry& o) {
        return o.label == e.label && o.marker == e.marker && o.color.r == e.color.r &&
               o.color.g == e.color.g && o.color.b == e.color.b;
      });
      if (!seen) es.push_back(e);
    }
  return es;
}

// Groups of finite points in order of first appearance, with their colour and marker.
std::vector<LegendEntry> scatter_groups(const std::vector<ScatterPoint>& pts,
                                        const ScatterOptions& o) {
  static const Marker cycle[] = {Marker::circle, Marker::square, Marker::triangle,
                                 Marker::diamond};
  std::vector<LegendEntry> es;
  for (const auto& p : pts) {
    if (!finite(p.x) || !finite(p.y)) continue;
    if (std::any_of(es.begin(), es.end(), [&](const LegendEntry& e) { return e.label == p.group; }))
      continue;
    std::size_t i = es.size();
    auto c = o.group_colors.find(p.group);
    auto m = o.group_markers.find(p.group);
    es.push_back({p.group, c != o.group_colors.end() ? c->second : palette_color(i),
                  m != o.group_markers.end() ? m->second : cycle[i % 4], 0, o.marker_size, 1,
                  false});
  }
  return es;
}

// [SECTION] Layout ------------------------------------------------------------------------
// Everything write_line_panels needs beyond the public layout.
struct PanelsPlan {
  LinePanelsLayout L;
  Ticks yticks;
  std::vector<LegendEntry> legend;
  LegendPlan legend_plan;
  double top = 0, left = 0, bottom = 0;  // cell-relative margins
  Font title_font{kTitleSize, true};
  std::vector<std::string> title;                   // the figure title's lines
  Font panel_title_font{kPanelTitleSize, true};     // the same for every panel
  std::vector<std::vector<std::string>> panel_titles;  // per panel: its title's lines
  Font ylabel_font{kAxisSize};
  double xtitle_y = 0;                   // frame-bottom-relative baseline of x_label
  std::vector<Font> x_tick_font;         // per panel: x tick label font
  std::vector<std::size_t> x_tick_every; // per panel: label every k-th tick
};

double x_label_angle(double max_w, double step) {
  if (max_w + 6 <= step) return 0;
  if (step * std::sqrt(0.5) >= kTickSize * 1.2) return -45;
  return -90;
}

// Tick label i of n in a frame at (fx, fy_bottom) of width fw.
Box x_tick_label_box(cairo_t* cr, const std::string& s, Font f, double angle, double x, double y) {
  if (angle == 0) return text_box(cr, s, f, x, y, HA::center, VA::top);
  return text_box(cr, s, f, x, y, HA::right, VA::middle, angle);
}

void draw_x_tick_label(cairo_t* cr, const std::string& s, Font f, double angle, double x,
                       double y) {
  if (angle == 0)
    draw_text(cr, s, f, x, y, HA::center, VA::top);
  else
    draw_text(cr, s, f, x, y, HA::right, VA::middle, kInk, angle);
}

PanelsPlan plan_panels(cairo_t* cr, const std::vector<Panel>& panels,
                       const LinePanelsOptions& o, const std::string& where) {
  PanelsPlan P;
  LinePanelsLayout& L = P.L;
  const std::size_t n = panels.size();
  const std::size_t cols = std::min<std::size_t>(o.columns, n), rows = (n + cols - 1) / cols;
  const double pw = o.panel_width, ph = o.panel_height;
  L.y_min = o.y_min;
  L.y_max = o.y_max;
  double biggest_marker = 0;
  for (const Panel& p : panels)
    for (const Series& s : p.series)
      if (s.marker != Marker::none) biggest_marker = std::max(biggest_marker, s.marker_size);
  L.pad = std::max(6.0, biggest_marker / 2 + 2);

  // Figure title and legend above the grid; legend column right of it.
  const double grid_w = cols * pw;
  if (o.legend != LegendPosition::none) P.legend = panel_legend(panels);
  double legend_w = 0;
  if (!P.legend.empty() && o.legend == LegendPosition::right)
    legend_w = legend_column_width(cr, P.legend) + 14;
  double y = kOuter;
  if (!o.title.empty()) {
    P.title = fit_lines(cr, o.title, P.title_font, grid_w + legend_w, 10, 2);
    y += P.title_font.size * 1.25 * P.title.size() + 6;
  }
  if (!P.legend.empty() && o.legend == LegendPosition::top) {
    P.legend_plan = legend_rows(cr, P.legend, kOuter, y, grid_w);
    y += P.legend_plan.box.h + 2;
  }
  const double grid_y = y;

  // Margins inside a cell, shared by all panels so that their frames line up.
  P.yticks = nice_ticks(o.y_min, o.y_max);
  double tick_w = 0;
  for (const auto& s : P.yticks.labels) tick_w = std::max(tick_w, text_width(cr, s, {kTickSize}));
  bool any_title = std::any_of(panels.begin(), panels.end(),
                               [](const Panel& p) { return !p.title.empty(); });
  // Panel titles: one size for all (the smallest any needs, down to 9), wrapped in two
  // lines when even that does not fit the cell.
  std::size_t title_lines = any_title ? 1 : 0;
  for (const Panel& p : panels)
    if (!p.title.empty()) {
      Font f{kPanelTitleSize, true};
      fit_lines(cr, p.title, f, pw - 16, 9, 2);
      P.panel_title_font.size = std::min(P.panel_title_font.size, f.size);
    }
  for (const Panel& p : panels) {
    Font f = P.panel_title_font;
    P.panel_titles.push_back(p.title.empty() ? std::vector<std::string>{}
                                             : fit_lines(cr, p.title, f, pw - 16, f.size, 2));
    title_lines = std::max(title_lines, P.panel_titles.back().size());
  }
  P.top = title_lines ? P.panel_title_font.size * 1.25 * title_lines + 8 : 8;
  const double ylabel_w = o.y_label.empty() ? 0 : kAxisSize * 1.2 + 4;
  P.left = ylabel_w + tick_w + kTick + kGap + 3;
  double right = 10, below = 0;
  L.x_label_angle.assign(n, 0);
  P.x_tick_font.assign(n, Font{kTickSize});
  P.x_tick_every.assign(n, 1);
  for (int pass = 0; pass < 2; ++pass) {
    const double fw = pw - P.left - right;
    if (fw < 40) break;
    double need_left = 0, need_right = 0;
    below = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const Panel& p = panels[k];
      const double step = fw / p.x_labels.size();
      double max_w = 0;
      for (const auto& s : p.x_labels) max_w = std::max(max_w, text_width(cr, s, {kTickSize}));
      const double a = x_label_angle(max_w, step);
      L.x_label_angle[k] = -a;
      // Crowded upright labels: smaller (down to 6 points), then only every k-th one.
      Font f{kTickSize};
      std::size_t every = 1;
      if (a == -90 && step < kTickSize * 1.2) {
        f.size = std::max(6.0, std::floor(step / 1.2 * 2) / 2);
        every = static_cast<std::size_t>(std::ceil(f.size * 1.2 / step - 1e-9));
      }
      P.x_tick_font[k] = f;
      P.x_tick_every[k] = every;
      for (std::size_t i = 0; i < p.x_labels.size(); i += every) {
        Box b = x_tick_label_box(cr, p.x_labels[i], f, a, P.left + (i + 0.5) * step, 0);
        below = std::max(below, b.y + b.h);
        need_left = std::max(need_left, 1 - b.x);
        need_right = std::max(need_right, b.x + b.w - (pw - 1));
      }
    }
    if (need_left <= 0 && need_right <= 0) break;
    P.left += std::max(0.0, need_left);
    right += std::max(0.0, need_right);
  }
  double xtitle_h = o.x_label.empty() ? 0 : kAxisSize * 1.3 + 2;
  P.xtitle_y = kTick + kGap + below + 4 + kAxisSize * kAscent;
  P.bottom = kTick + kGap + below + xtitle_h + 6;
  const double fw = pw - P.left - right, fh = ph - P.top - P.bottom;
  if (fw < 50 || fh < 50)
    bad(where, "panels of " + std::to_string(int(pw)) + "x" + std::to_string(int(ph)) +
                   " points leave no room to plot after the labels; raise panel_width / "
                   "panel_height or shorten the x labels");

  for (std::size_t k = 0; k < n; ++k) {
    Box cell{kOuter + (k % cols) * pw, grid_y + (k / cols) * ph, pw, ph};
    L.cells.push_back(cell);
    L.frames.push_back({cell.x + P.left, cell.y + P.top, fw, fh});
    L.n_x.push_back(panels[k].x_labels.size());
  }
  P.ylabel_font = fit_font(cr, o.y_label, {kAxisSize}, fh + P.bottom * 0.5);
  L.width = 2 * kOuter + grid_w + legend_w;
  L.height = grid_y + rows * ph + kOuter - 4;
  if (legend_w > 0) {
    P.legend_plan = legend_column(cr, P.legend, kOuter + grid_w + 8, L.frames[0].y);
    L.height = std::max(L.height, P.legend_plan.box.y + P.legend_plan.box.h + kOuter);
  }
  L.legend = P.legend_plan.box;
  return P;
}

// Everything write_scatter needs beyond the public layout.
struct ScatterPlan {
  ScatterLayout L;
  Ticks xticks, yticks;
  std::vector<LegendEntry> groups;
  LegendPlan legend_plan;
  Font title_font{kTitleSize, true};
  std::vector<std::string> title;  // the title's lines
  Font xlabel_font{kAxisSize}, ylabel_font{kAxisSize};
  double ylabel_x = kOuter;        // left edge of the (rotated) y axis title
  std::string note;
  std::vector<Box> note_candidates;  // tried in order
};

std::string spearman_note(const std::vector<ScatterPoint>& pts) {
  std::vector<double> x, y;
  for (const auto& p : pts)
    if (finite(p.x) && finite(p.y)) x.push_back(p.x), y.push_back(p.y);
  double rho = spearman_rho(x, y);
  char buf[96];
  if (finite(rho))
    std::snprintf(buf, sizeof buf, "Spearman \xCF\x81 = %.2f, n = %zu", rho, x.size());
  else
    std::snprintf(buf, sizeof buf, "Spearman \xCF\x81 = n/a, n = %zu", x.size());
  return buf;
}

// Boxes covering what a scatter draws inside its frame (markers, error bars).
std::vector<Box> scatter_obstacles(const ScatterLayout& L, const std::vector<ScatterPoint>& pts,
                                   double marker) {
  std::vector<Box> bs;
  const double r = marker / 2 + 1;
  for (const auto& p : pts) {
    if (!finite(p.x) || !finite(p.y)) continue;
    double x = L.x_at(p.x), y = L.y_at(p.y);
    bs.push_back({x - r, y - r, 2 * r, 2 * r});
    if (finite(p.x_err) && p.x_err > 0) {
      double x0 = L.x_at(p.x - p.x_err), x1 = L.x_at(p.x + p.x_err);
      bs.push_back({x0, y - 3, x1 - x0, 6});
    }
    if (finite(p.y_err) && p.y_err > 0) {
      double y0 = L.y_at(p.y + p.y_err), y1 = L.y_at(p.y - p.y_err);
      bs.push_back({x - 3, y0, 6, y1 - y0});
    }
  }
  return bs;
}

bool overlaps(const Box& a, const Box& b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

// Does the segment (x0,y0)-(x1,y1) pass through box b? (Sampled every half point.)
bool crosses(const Box& b, double x0, double y0, double x1, double y1) {
  double len = std::hypot(x1 - x0, y1 - y0);
  int n = std::max(1, static_cast<int>(len * 2));
  for (int i = 0; i <= n; ++i) {
    double t = static_cast<double>(i) / n;
    if (b.contains(x0 + t * (x1 - x0), y0 + t * (y1 - y0))) return true;
  }
  return false;
}

struct Segment {
  double x0, y0, x1, y1;
};

bool free_spot(const Box& b, const std::vector<Box>& obstacles, const std::vector<Segment>& segs) {
  for (const Box& o : obstacles)
    if (overlaps(b, o)) return false;
  for (const Segment& s : segs)
    if (crosses(b, s.x0, s.y0, s.x1, s.y1)) return false;
  return true;
}

// The identity line's ends, clipped to the common range of both axes.
bool identity_segment(const ScatterLayout& L, Segment& s) {
  double lo = std::max(L.x_min, L.y_min), hi = std::min(L.x_max, L.y_max);
  if (!(lo < hi)) return false;
  s = {L.x_at(lo), L.y_at(lo), L.x_at(hi), L.y_at(hi)};
  return true;
}

ScatterPlan plan_scatter(cairo_t* cr, const std::vector<ScatterPoint>& pts,
                         const ScatterOptions& o, const std::string& where) {
  ScatterPlan P;
  ScatterLayout& L = P.L;
  L.x_min = o.x_min, L.x_max = o.x_max, L.y_min = o.y_min, L.y_max = o.y_max;
  L.pad = std::max(6.0, o.marker_size / 2 + 2);
  P.xticks = nice_ticks(o.x_min, o.x_max);
  P.yticks = nice_ticks(o.y_min, o.y_max);
  if (o.legend != LegendPosition::none) P.groups = scatter_groups(pts, o);
  // Drop a lone unnamed group from the legend: it would say nothing.
  if (P.groups.size() == 1 && P.groups[0].label.empty()) P.groups.clear();

  double top = kOuter;
  if (!o.title.empty()) {
    P.title = fit_lines(cr, o.title, P.title_font, o.width - 2 * kOuter, 10, 2);
    top += P.title_font.size * 1.25 * P.title.size() + 6;
  }
  if (!P.groups.empty() && o.legend == LegendPosition::top) {
    P.legend_plan = legend_rows(cr, P.groups, kOuter, top, o.width - 2 * kOuter);
    top += P.legend_plan.box.h + 2;
  }
  top += 6;
  double tick_w = 0;
  for (const auto& s : P.yticks.labels) tick_w = std::max(tick_w, text_width(cr, s, {kTickSize}));
  const double ylabel_w = o.y_label.empty() ? 0 : kAxisSize * 1.2 + 4;
  const double left = kOuter + ylabel_w + tick_w + kTick + kGap + 3;
  double right = kOuter + 8;
  if (!P.groups.empty() && o.legend == LegendPosition::right)
    right = kOuter + legend_column_width(cr, P.groups) + 16;
  // The last x tick label may stick out right of the frame by half its width.
  right = std::max(right, kOuter + text_width(cr, P.xticks.labels.back(), {kTickSize}) / 2);
  const double xlabel_h = o.x_label.empty() ? 0 : kAxisSize * 1.2 + 2;
  const double bottom = kOuter + kTick + kGap + kTickSize * (kAscent + kDescent) + xlabel_h + 2;
  double fw = o.width - left - right, fh = o.height - top - bottom;
  if (fw < 60 || fh < 60)
    bad(where, "a figure of " + std::to_string(int(o.width)) + "x" +
                       std::to_string(int(o.height)) +
                       " points leaves no room to plot; raise width / height");
  // Equal ranges get equal scales, so that the identity line is the diagonal.
  if (std::abs((o.x_max - o.x_min) - (o.y_max - o.y_min)) < 1e-12) fw = fh = std::min(fw, fh);
  // The figure keeps its width (the title and a legend on top were fitted to it): the
  // plot and a legend beside it are centred. A figure taller than needed is cut.
  const double shift = std::max(0.0, (o.width - (left + fw + right)) / 2);
  L.frame = {left + shift, top, fw, fh};
  P.ylabel_x = kOuter + shift;
  L.width = o.width;
  L.height = std::min(o.height, top + fh + bottom);
  P.xlabel_font = fit_font(cr, o.x_label, {kAxisSize}, fw + left - kOuter);
  P.ylabel_font = fit_font(cr, o.y_label, {kAxisSize}, fh + bottom - kOuter);
  if (!P.groups.empty() && o.legend == LegendPosition::right)
    P.legend_plan = legend_column(cr, P.groups, L.frame.x + fw + 16, top);
  L.legend = P.legend_plan.box;

  if (o.show_spearman) {
    P.note = spearman_note(pts);
    const Font f{kNoteSize};
    const double in = 5, padx = 4, pady = 3;
    const Box& F = L.frame;
    struct Corner {
      double x, y;
      HA h;
      VA v;
    } corners[] = {{F.x + in + padx, F.y + in + pady, HA::left, VA::top},
                   {F.x + F.w - in - padx, F.y + F.h - in - pady, HA::right, VA::bottom},
                   {F.x + F.w - in - padx, F.y + in + pady, HA::right, VA::top},
                   {F.x + in + padx, F.y + F.h - in - pady, HA::left, VA::bottom}};
    std::vector<Box> obstacles = scatter_obstacles(L, pts, o.marker_size);
    std::vector<Segment> segs;
    Segment id;
    if (o.identity_line && identity_segment(L, id)) segs.push_back(id);
    if (o.chance) {
      const double cx = L.x_at(*o.chance), cy = L.y_at(*o.chance);
      segs.push_back({cx, F.y, cx, F.y + F.h});
      segs.push_back({F.x, cy, F.x + F.w, cy});
    }
    L.note = {};
    for (const Corner& c : corners) {
      Box b = text_box(cr, P.note, f, c.x, c.y, c.h, c.v);
      b = {b.x - padx, b.y - pady, b.w + 2 * padx, b.h + 2 * pady};
      P.note_candidates.push_back(b);
      if (L.note.w == 0 && free_spot(b, obstacles, segs)) L.note = b;
    }
    if (L.note.w == 0) L.note = P.note_candidates[0];
  }
  return P;
}

// [SECTION] Drawing -----------------------------------------------------------------------
void marker_path(cairo_t* cr, Marker m, double x, double y, double size) {
  const double r = size / 2;
  switch (m) {
    case Marker::circle:
      cairo_new_sub_path(cr);
      cairo_arc(cr, x, y, r, 0, 2 * kPi);
      break;
    case Marker::square:
      cairo_rectangle(cr, x - r * 0.9, y - r * 0.9, r * 1.8, r * 1.8);
      break;
    case Marker::triangle: {
      const double R = r * 1.2;
      cairo_move_to(cr, x, y - R);
      cairo_line_to(cr, x + R * 0.866, y + R * 0.5);
      cairo_line_to(cr, x - R * 0.866, y + R * 0.5);
      cairo_close_path(cr);
      break;
    }
    case Marker::diamond: {
      const double R = r * 1.25;
      cairo_move_to(cr, x, y - R);
      cairo_line_to(cr, x + R * 0.8, y);
      cairo_line_to(cr, x, y + R);
      cairo_line_to(cr, x - R * 0.8, y);
      cairo_close_path(cr);
      break;
    }
    case Marker::none:
      break;
  }
}

// A filled marker with a thin white edge (so it stands out from lines under it).
void draw_marker(cairo_t* cr, Marker m, double x, double y, double size, Color c, double alpha) {
  if (m == Marker::none || size <= 0) return;
  marker_path(cr, m, x, y, size);
  set_color(cr, c, alpha);
  cairo_fill_preserve(cr);
  cairo_set_source_rgba(cr, 1, 1, 1, alpha);
  cairo_set_line_width(cr, 0.8);
  cairo_stroke(cr);
}

void error_bar(cairo_t* cr, double x0, double y0, double x1, double y1, bool vertical, Color c,
               double alpha) {
  const double cap = 3, w = 1.1;
  line(cr, x0, y0, x1, y1, c, w, alpha);
  if (vertical) {
    line(cr, x0 - cap, y0, x0 + cap, y0, c, w, alpha);
    line(cr, x1 - cap, y1, x1 + cap, y1, c, w, alpha);
  } else {
    line(cr, x0, y0 - cap, x0, y0 + cap, c, w, alpha);
    line(cr, x1, y1 - cap, x1, y1 + cap, c, w, alpha);
  }
}

void set_dash(cairo_t* cr, bool dashed, double width) {
  if (dashed) {
    double d[] = {std::max(3.0, width * 3), std::max(2.0, width * 2)};
    cairo_set_dash(cr, d, 2, 0);
  } else {
    cairo_set_dash(cr, nullptr, 0, 0);
  }
}

void draw_legend(cairo_t* cr, const std::vector<LegendEntry>& es, const LegendPlan& lp) {
  for (std::size_t i = 0; i < es.size(); ++i) {
    const LegendEntry& e = es[i];
    const double x = lp.at[i].first, y = lp.at[i].second, sw = sample_width(e);
    if (e.line_width > 0) {
      cairo_save(cr);
      set_dash(cr, e.dashed, e.line_width);
      line(cr, x, y, x + sw, y, e.color, std::max(e.line_width, 1.2), e.opacity);
      cairo_restore(cr);
    }
    draw_marker(cr, e.marker, x + sw / 2, y, e.marker_size, e.color, e.opacity);
    draw_text(cr, e.label, {kLegendSize}, x + sw + kSampleGap, y, HA::left, VA::middle);
  }
}

void draw_title(cairo_t* cr, const std::vector<std::string>& lines, Font f, double width) {
  for (std::size_t i = 0; i < lines.size(); ++i)
    draw_text(cr, lines[i], f, width / 2, kOuter + i * f.size * 1.25, HA::center, VA::top);
}

// Axes lines of a frame: left and bottom spines.
void draw_spines(cairo_t* cr, const Box& F) {
  cairo_move_to(cr, F.x, F.y);
  cairo_line_to(cr, F.x, F.y + F.h);
  cairo_line_to(cr, F.x + F.w, F.y + F.h);
  set_color(cr, kInk);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
}

// Y ticks, their labels and (optionally) grid lines, at positions from y_at.
template <class YAt>
void draw_y_axis(cairo_t* cr, const Box& F, const Ticks& t, YAt y_at, bool grid) {
  for (std::size_t i = 0; i < t.values.size(); ++i) {
    const double y = y_at(t.values[i]);
    if (grid) line(cr, F.x, y, F.x + F.w, y, kGrid, 0.7);
    line(cr, F.x - kTick, y, F.x, y, kInk, 1);
    draw_text(cr, t.labels[i], {kTickSize}, F.x - kTick - kGap, y, HA::right, VA::middle);
  }
}

// Draws one panel's series (clipped to its frame) and records what they cover.
void draw_series(cairo_t* cr, const LinePanelsLayout& L, std::size_t k, const Panel& p,
                 std::vector<Box>& obstacles, std::vector<Segment>& segs) {
  const Box& F = L.frames[k];
  cairo_save(cr);
  cairo_rectangle(cr, F.x, F.y - 1, F.w + 1, F.h + 1);
  cairo_clip(cr);
  std::vector<std::size_t> order(p.series.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p.series[a].z < p.series[b].z; });
  for (std::size_t j : order) {
    const Series& s = p.series[j];
    const Color c = s.color.value_or(palette_color(j));
    const double a = s.opacity;
    const std::size_t n = s.y.size();
    // Error bars first, then the line, then markers on top.
    for (std::size_t i = 0; i < n && !s.err.empty(); ++i) {
      if (!finite(s.y[i]) || !finite(s.err[i]) || s.err[i] <= 0) continue;
      const double x = L.x_at(k, i), y0 = L.y_at(k, s.y[i] + s.err[i]),
                   y1 = L.y_at(k, s.y[i] - s.err[i]);
      error_bar(cr, x, y0, x, y1, true, c, a);
      obstacles.push_back({x - 3, y0, 6, y1 - y0});
    }
    if (s.line_width > 0) {
      set_dash(cr, s.dashed, s.line_width);
      std::size_t i = 0;
      while (i < n) {
        if (!finite(s.y[i])) {
          ++i;
          continue;
        }
        std::size_t e = i;  // a run of finite values [i, e]
        while (e + 1 < n && finite(s.y[e + 1])) ++e;
        if (e == i && s.marker == Marker::none) {  // a lone point without marker: a dot
          cairo_new_sub_path(cr);
          cairo_arc(cr, L.x_at(k, i), L.y_at(k, s.y[i]), s.line_width * 1.3, 0, 2 * kPi);
          set_color(cr, c, a);
          cairo_fill(cr);
        }
        for (std::size_t m = i; m <= e; ++m) {
          const double x = L.x_at(k, m), y = L.y_at(k, s.y[m]);
          if (m == i)
            cairo_move_to(cr, x, y);
          else {
            cairo_line_to(cr, x, y);
            segs.push_back({L.x_at(k, m - 1), L.y_at(k, s.y[m - 1]), x, y});
          }
        }
        set_color(cr, c, a);
        cairo_set_line_width(cr, s.line_width);
        cairo_stroke(cr);
        i = e + 1;
      }
      set_dash(cr, false, 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!finite(s.y[i])) continue;
      const double x = L.x_at(k, i), y = L.y_at(k, s.y[i]), r = s.marker_size / 2 + 1;
      draw_marker(cr, s.marker, x, y, s.marker_size, c, a);
      obstacles.push_back({x - r, y - r, 2 * r, 2 * r});
    }
  }
  cairo_restore(cr);
}

// The chance line and its label, in the first of four spots free of data.
void draw_chance(cairo_t* cr, const Box& F, double y, const LinePanelsOptions& o,
                 const std::vector<Box>& obstacles, const std::vector<Segment>& segs) {
  if (y < F.y || y > F.y + F.h) return;
  cairo_save(cr);
  set_dash(cr, true, 1.2);
  line(cr, F.x, y, F.x + F.w, y, o.chance_color, 1.2);
  cairo_restore(cr);
  if (o.chance_label.empty()) return;
  const Font f{kChanceSize};
  struct Spot {
    double x, y;
    HA h;
    VA v;
  } spots[] = {{F.x + F.w - 3, y - 3, HA::right, VA::bottom},
               {F.x + 4, y - 3, HA::left, VA::bottom},
               {F.x + F.w - 3, y + 3, HA::right, VA::top},
               {F.x + 4, y + 3, HA::left, VA::top}};
  const Spot* pick = nullptr;
  const Spot* inside = nullptr;
  for (const Spot& s : spots) {
    Box b = text_box(cr, o.chance_label, f, s.x, s.y, s.h, s.v);
    if (b.y < F.y || b.y + b.h > F.y + F.h) continue;
    if (!inside) inside = &s;
    if (free_spot({b.x - 1, b.y - 1, b.w + 2, b.h + 2}, obstacles, segs)) {
      pick = &s;
      break;
    }
  }
  if (!pick) pick = inside ? inside : &spots[0];
  draw_text(cr, o.chance_label, f, pick->x, pick->y, pick->h, pick->v, o.chance_color);
}

void draw_panels(cairo_t* cr, const PanelsPlan& P, const std::vector<Panel>& panels,
                 const LinePanelsOptions& o) {
  const LinePanelsLayout& L = P.L;
  const std::size_t cols = std::min<std::size_t>(o.columns, panels.size());
  draw_title(cr, P.title, P.title_font, L.width);
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const Panel& p = panels[k];
    const Box& F = L.frames[k];
    const Box& C = L.cells[k];
    draw_y_axis(cr, F, P.yticks, [&](double v) { return L.y_at(k, v); }, o.grid);
    // X ticks and labels.
    const double a = -L.x_label_angle[k];
    for (std::size_t i = 0; i < p.x_labels.size(); ++i) {
      const double x = L.x_at(k, i), yb = F.y + F.h;
      line(cr, x, yb, x, yb + kTick, kInk, 1);
      if (i % P.x_tick_every[k] == 0)
        draw_x_tick_label(cr, p.x_labels[i], P.x_tick_font[k], a, x, yb + kTick + kGap);
    }
    draw_spines(cr, F);
    if (!o.x_label.empty())
      draw_text(cr, o.x_label, {kAxisSize}, F.x + F.w / 2, F.y + F.h + P.xtitle_y, HA::center,
                VA::baseline);
    if (!o.y_label.empty() && k % cols == 0)
      draw_text(cr, o.y_label, P.ylabel_font, C.x + 2, F.y + F.h / 2, HA::center, VA::top, kInk,
                -90);
    std::vector<Box> obstacles;
    std::vector<Segment> segs;
    draw_series(cr, L, k, p, obstacles, segs);
    if (p.chance) draw_chance(cr, F, L.y_at(k, *p.chance), o, obstacles, segs);
    // Title lines centred over the frame (shifted to stay in the cell), the last one
    // just above the frame.
    const auto& lines = P.panel_titles[k];
    const Font f = P.panel_title_font;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const double w = text_width(cr, lines[i], f);
      const double cx = std::max(C.x + 8 + w / 2, std::min(F.x + F.w / 2, C.x + C.w - 8 - w / 2));
      const double y = F.y - 8 - (lines.size() - 1 - i) * f.size * 1.25;
      draw_text(cr, lines[i], f, cx, y, HA::center, VA::baseline);
    }
  }
  if (!P.legend.empty()) draw_legend(cr, P.legend, P.legend_plan);
}

// Each point's label beside it, in the first of four spots clear of the points, the other
// labels, the note and (if possible) the identity line; inside the frame.
void draw_point_labels(cairo_t* cr, const ScatterLayout& L, const std::vector<ScatterPoint>& pts,
                       const ScatterOptions& o) {
  const Font f{7.5};
  const double r = o.marker_size / 2 + 1.5;
  std::vector<Box> taken = scatter_obstacles(L, pts, o.marker_size);
  if (L.note.w > 0) taken.push_back(L.note);
  std::vector<Segment> segs;
  Segment id;
  if (o.identity_line && identity_segment(L, id)) segs.push_back(id);
  const Box& F = L.frame;
  for (const auto& p : pts) {
    if (!finite(p.x) || !finite(p.y) || p.label.empty()) continue;
    const double x = L.x_at(p.x), y = L.y_at(p.y);
    struct Spot {
      double x, y;
      HA h;
      VA v;
    } spots[] = {{x + r, y - 3.5, HA::left, VA::bottom},  // clear of its own error bars
                 {x + r, y + 3.5, HA::left, VA::top},
                 {x - r, y - 3.5, HA::right, VA::bottom},
                 {x - r, y + 3.5, HA::right, VA::top}};
    const Spot* pick = nullptr;
    for (int pass = 0; pass < 2 && !pick; ++pass)
      for (const Spot& s : spots) {
        Box b = text_box(cr, p.label, f, s.x, s.y, s.h, s.v);
        if (b.x < F.x || b.y < F.y || b.x + b.w > F.x + F.w || b.y + b.h > F.y + F.h) continue;
        if (free_spot(b, taken, pass == 0 ? segs : std::vector<Segment>{})) {
          pick = &s;
          break;
        }
      }
    if (!pick) pick = &spots[0];
    taken.push_back(text_box(cr, p.label, f, pick->x, pick->y, pick->h, pick->v));
    draw_text(cr, p.label, f, pick->x, pick->y, pick->h, pick->v, {0.3, 0.3, 0.3});
  }
}

void draw_scatter(cairo_t* cr, const ScatterPlan& P, const std::vector<ScatterPoint>& pts,
                  const ScatterOptions& o) {
  const ScatterLayout& L = P.L;
  const Box& F = L.frame;
  draw_title(cr, P.title, P.title_font, L.width);
  // Grid, ticks and tick labels.
  draw_y_axis(cr, F, P.yticks, [&](double v) { return L.y_at(v); }, true);
  for (std::size_t i = 0; i < P.xticks.values.size(); ++i) {
    const double x = L.x_at(P.xticks.values[i]), yb = F.y + F.h;
    line(cr, x, F.y, x, yb, kGrid, 0.7);
    line(cr, x, yb, x, yb + kTick, kInk, 1);
    draw_text(cr, P.xticks.labels[i], {kTickSize}, x, yb + kTick + kGap, HA::center, VA::top);
  }
  draw_spines(cr, F);
  draw_text(cr, o.x_label, P.xlabel_font, F.x + F.w / 2, L.height - kOuter, HA::center,
            VA::bottom);
  draw_text(cr, o.y_label, P.ylabel_font, P.ylabel_x, F.y + F.h / 2, HA::center, VA::top, kInk,
            -90);

  cairo_save(cr);
  cairo_rectangle(cr, F.x, F.y - 1, F.w + 1, F.h + 1);
  cairo_clip(cr);
  Segment id;
  if (o.identity_line && identity_segment(L, id))
    line(cr, id.x0, id.y0, id.x1, id.y1, {0.6, 0.6, 0.6}, 1);
  if (o.chance) {
    cairo_save(cr);
    set_dash(cr, true, 1);
    const double cx = L.x_at(*o.chance), cy = L.y_at(*o.chance);
    line(cr, cx, F.y, cx, F.y + F.h, {0.45, 0.45, 0.45}, 1);
    line(cr, F.x, cy, F.x + F.w, cy, {0.45, 0.45, 0.45}, 1);
    cairo_restore(cr);
  }
  // Styles by group (every group of a drawn point is in scatter_groups' answer).
  ScatterOptions all = o;
  all.legend = LegendPosition::top;
  const std::vector<LegendEntry> styles = scatter_groups(pts, all);
  auto style = [&](const std::string& g) -> const LegendEntry& {
    return *std::find_if(styles.begin(), styles.end(),
                         [&](const LegendEntry& e) { return e.label == g; });
  };
  for (const auto& p : pts) {
    if (!finite(p.x) || !finite(p.y)) continue;
    const LegendEntry& e = style(p.group);
    const double x = L.x_at(p.x), y = L.y_at(p.y);
    if (finite(p.x_err) && p.x_err > 0)
      error_bar(cr, L.x_at(p.x - p.x_err), y, L.x_at(p.x + p.x_err), y, false, e.color, 0.7);
    if (finite(p.y_err) && p.y_err > 0)
      error_bar(cr, x, L.y_at(p.y + p.y_err), x, L.y_at(p.y - p.y_err), true, e.color, 0.7);
  }
  for (const auto& p : pts) {
    if (!finite(p.x) || !finite(p.y)) continue;
    const LegendEntry& e = style(p.group);
    draw_marker(cr, e.marker, L.x_at(p.x), L.y_at(p.y), o.marker_size, e.color, 0.95);
  }
  cairo_restore(cr);
  if (o.point_labels) draw_point_labels(cr, L, pts, o);
  if (o.show_spearman) {
    const Box& b = L.note;
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_fill(cr);
    draw_text(cr, P.note, {kNoteSize}, b.x + 4, b.y + 3, HA::left, VA::top);
  }
  if (!P.groups.empty()) draw_legend(cr, P.groups, P.legend_plan);
}

// [SECTION] Output ------------------------------------------------------------------------
enum class Format { png, svg, pdf };

Format format_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash))
    ext = path.substr(dot + 1);
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext == "png") return Format::png;
  if (ext == "svg") return Format::svg;
  if (ext == "pdf") return Format::pdf;
  throw std::invalid_argument(path + ": unknown figure format " +
                              (ext.empty() ? std::string("(no extension)") : "'." + ext + "'") +
                              "; name the file .png, .svg or .pdf");
}

struct Sink {
  std::FILE* f = nullptr;
  int err = 0;  // errno of the first failed write
};

cairo_status_t write_sink(void* closure, const unsigned char* data, unsigned int len) {
  auto* s = static_cast<Sink*>(closure);
  if (std::fwrite(data, 1, len, s->f) != len) {
    if (!s->err) s->err = errno ? errno : EIO;
    return CAIRO_STATUS_WRITE_ERROR;
  }
  return CAIRO_STATUS_SUCCESS;
}

// Makes the surface `path`'s extension asks for, lets `draw` paint on a white background
// and writes the file atomically: into PATH.tmp, renamed over `path` once complete. On
// failure the temporary file is removed and a figure already at `path` stays as it was.
template <class Draw>
void render(const std::string& path, double w, double h, double scale, Draw draw) {
  const Format fmt = format_of(path);
  const int pw = static_cast<int>(std::ceil(w * scale)), ph = static_cast<int>(std::ceil(h * scale));
  if (fmt == Format::png && (pw > 32767 || ph > 32767))
    throw std::invalid_argument(path + ": the image would be " + std::to_string(pw) + "x" +
                                std::to_string(ph) + " pixels, over cairo's 32767; lower scale");
  errno = 0;
  const std::string tmp = path + ".tmp";
  Sink sink{std::fopen(tmp.c_str(), "wb")};
  if (!sink.f)
    throw std::runtime_error(path + ": cannot write the figure (" + std::strerror(errno) +
                             "); create its folder or choose a writable path");
  auto fail = [&](const std::string& why) {
    std::fclose(sink.f);
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": writing the figure failed (" + why +
                             "); check the disk space and permissions");
  };
  SurfacePtr surface(fmt == Format::png ? cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph)
                     : fmt == Format::svg
                         ? cairo_svg_surface_create_for_stream(write_sink, &sink, w, h)
                         : cairo_pdf_surface_create_for_stream(write_sink, &sink, w, h));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    fail(cairo_status_to_string(cairo_surface_status(surface.get())));
  {
    CairoPtr cr(cairo_create(surface.get()));
    if (fmt == Format::png) cairo_scale(cr.get(), scale, scale);
    setup_context(cr.get());
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    draw(cr.get());
    if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
      fail(cairo_status_to_string(cairo_status(cr.get())));
  }
  cairo_status_t st;
  if (fmt == Format::png) {
    st = cairo_surface_write_to_png_stream(surface.get(), write_sink, &sink);
  } else {
    cairo_surface_finish(surface.get());
    st = cairo_surface_status(surface.get());
  }
  if (st != CAIRO_STATUS_SUCCESS)
    fail(sink.err ? std::strerror(sink.err) : cairo_status_to_string(st));
  if (std::fflush(sink.f) != 0) fail(std::strerror(errno));
  if (std::fclose(sink.f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": writing the figure failed (" + std::string(std::strerror(e)) +
                             "); check the disk space and permissions");
  }
}

}  // namespace

// [SECTION] Public API --------------------------------------------------------------------
Color Color::hex(const std::string& s) {
  std::string h = !s.empty() && s[0] == '#' ? s.substr(1) : s;
  if (h.size() != 6 || !std::all_of(h.begin(), h.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
    throw std::invalid_argument("colour '" + s + "' is not #rrggbb; write it as e.g. #0072b2");
  auto byte = [&](int i) { return std::stoi(h.substr(i, 2), nullptr, 16) / 255.0; };
  return {byte(0), byte(2), byte(4)};
}

Color palette_color(std::size_t i) {
  static const char* const okabe_ito[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                          "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return Color::hex(okabe_ito[i % 8]);
}

double LinePanelsLayout::x_at(std::size_t panel, std::size_t i) const {
  const Box& F = frames.at(panel);
  return F.x + (i + 0.5) * F.w / n_x.at(panel);
}

double LinePanelsLayout::y_at(std::size_t panel, double y) const {
  const Box& F = frames.at(panel);
  return F.y + pad + (y_max - y) / (y_max - y_min) * (F.h - 2 * pad);
}

double ScatterLayout::x_at(double x) const {
  return frame.x + pad + (x - x_min) / (x_max - x_min) * (frame.w - 2 * pad);
}

double ScatterLayout::y_at(double y) const {
  return frame.y + pad + (y_max - y) / (y_max - y_min) * (frame.h - 2 * pad);
}

LinePanelsLayout layout_line_panels(const std::vector<Panel>& panels,
                                    const LinePanelsOptions& options) {
  check_panels("figure", panels, options);
  Measurer m;
  return plan_panels(m.cr.get(), panels, options, "figure").L;
}

ScatterLayout layout_scatter(const std::vector<ScatterPoint>& points,
                             const ScatterOptions& options) {
  check_scatter("scatter", points, options);
  Measurer m;
  return plan_scatter(m.cr.get(), points, options, "scatter").L;
}

void write_line_panels(const std::string& path, const std::vector<Panel>& panels,
                       const LinePanelsOptions& options) {
  format_of(path);
  check_panels(path, panels, options);
  Measurer m;
  const PanelsPlan plan = plan_panels(m.cr.get(), panels, options, path);
  render(path, plan.L.width, plan.L.height, options.scale,
         [&](cairo_t* cr) { draw_panels(cr, plan, panels, options); });
}

void write_scatter(const std::string& path, const std::vector<ScatterPoint>& points,
                   const ScatterOptions& options) {
  format_of(path);
  check_scatter(path, points, options);
  Measurer m;
  const ScatterPlan plan = plan_scatter(m.cr.get(), points, options, path);
  render(path, plan.L.width, plan.L.height, options.scale,
         [&](cairo_t* cr) { draw_scatter(cr, plan, points, options); });
}

// [SECTION] Statistics --------------------------------------------------------------------
double spearman_rho(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw std::invalid_argument("spearman_rho: " + std::to_string(x.size()) + " x values but " +
                                std::to_string(y.size()) + " y values; give one y per x");
  std::vector<double> a, b;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (finite(x[i]) && finite(y[i])) a.push_back(x[i]), b.push_back(y[i]);
  if (a.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  return spearman(a, b);  // analysis/stats.h: average ranks, NaN for a constant side
}

}  // namespace mm::analysis
