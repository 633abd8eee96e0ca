// analysis/figures.h: the paper's figures, drawn with cairo to PNG, SVG or PDF.
//
// A small figure library for the results metamerlab computes (Feather et al. 2023):
// proportion correct vs layer, one panel per generating model (humans ± SEM beside the
// model, chance marked); network-to-network recognition vs layer in the same layout; and
// the scatter of human vs network-to-network recognition with the Spearman ρ. The format
// follows the output file's extension: .png (raster, `scale` pixels per point), .svg or
// .pdf (vector). All drawing goes through cairo; text is cairo's toy text API in
// "DejaVu Sans" (Debian: libcairo2 and fonts-dejavu-core at run time).
// Missing values are NaN: a NaN point is not drawn (lines break there), never drawn at 0.
// No torch, no UI toolkit, no SQL. Bad data (empty, mismatched lengths) throws
// std::invalid_argument, a file that cannot be written std::runtime_error; both name the
// file and what to do.
//
// Sections
//   [SECTION] Style         colours, markers, legend placement
//   [SECTION] Line panels   proportion correct vs layer, one panel per model
//   [SECTION] Scatter       one point per (model, layer), identity line, Spearman ρ
//   [SECTION] Layout        where things land, in points (for tests and callers)
//   [SECTION] Statistics    Spearman's rank correlation
#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mm::analysis {

// [SECTION] Style -------------------------------------------------------------------------
// An RGB colour, components 0..1.
struct Color {
  double r = 0, g = 0, b = 0;
  // "#rrggbb" or "rrggbb"; throws std::invalid_argument otherwise.
  static Color hex(const std::string& s);
};

// The default colour of the i-th series or group (Okabe–Ito, colour-blind safe; cycles).
Color palette_color(std::size_t i);

// Marker drawn at each data point.
enum class Marker { circle, square, triangle, diamond, none };

// Where the legend goes: above the panels, right of them, or nowhere.
enum class LegendPosition { top, right, none };

// [SECTION] Line panels -------------------------------------------------------------------
// One observer's values across a panel's x categories (layers).
struct Series {
  std::string label;            // legend entry ("" = not in the legend)
  std::vector<double> y;        // one value per x label; NaN = missing (not drawn)
  std::vector<double> err;      // ± half-width of the error bar per value; empty = none
  std::optional<Color> color;   // default: palette_color(index of the series in its panel)
  Marker marker = Marker::circle;
  double line_width = 1.8;      // points; 0 = markers only
  double marker_size = 7;       // marker width in points
  double opacity = 1.0;         // 0..1; e.g. 0.5 for thin per-model lines behind a mean
  bool dashed = false;          // dashed line
  int z = 0;                    // drawing order: higher z on top (ties: series order)
};

// One panel: a generating model's layers on x, its series on y.
struct Panel {
  std::string title;                  // e.g. the generating model's name
  std::vector<std::string> x_labels;  // categorical ticks, e.g. natural, conv1, …, logits
  std::vector<Series> series;         // drawn in order (later on top)
  std::optional<double> chance;       // dashed horizontal line labelled "chance"
};

// Figure-wide settings for write_line_panels.
struct LinePanelsOptions {
  std::string title;                             // above everything ("" = none)
  std::string x_label;                           // under each panel's x axis ("" = none)
  std::string y_label = "Proportion correct";    // left of the first panel in each row
  double y_min = 0, y_max = 1;                   // the y axis range
  int columns = 4;                               // panels per row
  double panel_width = 300, panel_height = 260;  // one panel with its labels, in points
  double scale = 1.0;        // PNG pixels per point (2 or 3 for print); SVG/PDF are vector
  LegendPosition legend = LegendPosition::top;
  std::string chance_label = "chance";
  Color chance_color{0.35, 0.35, 0.35};
  bool grid = true;                              // light horizontal lines at the y ticks
};

// Draws the panels in a grid (options.columns per row, row by row) into `path`
// (.png, .svg or .pdf). Throws std::invalid_argument for no panels, a panel without x
// labels, a series whose y (or err) length differs from its panel's x labels, negative
// errors, no finite value at all, or bad options; std::runtime_error when the file
// cannot be written.
void write_line_panels(const std::string& path, const std::vector<Panel>& panels,
                       const LinePanelsOptions& options = {});

// [SECTION] Scatter -----------------------------------------------------------------------
// One point, e.g. one (generating model, layer).
struct ScatterPoint {
  double x = 0, y = 0;    // NaN in either = not drawn and not counted
  double x_err = 0;       // ± half-width of the horizontal error bar (0 or NaN = none)
  double y_err = 0;       // ± half-width of the vertical error bar (0 or NaN = none)
  std::string group;      // colour, marker and legend entry, e.g. the generating model
  std::string label;      // text next to the point when ScatterOptions::point_labels
};

// Settings for write_scatter.
struct ScatterOptions {
  std::string title;                                    // "" = none
  std::string x_label = "Human proportion correct";
  std::string y_label = "Network-to-network proportion correct";
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;    // the axis ranges
  bool identity_line = true;                            // y = x
  bool show_spearman = true;    // "Spearman ρ = 0.83, n = 8" in a corner free of points
  bool point_labels = false;    // each point's label beside it
  std::optional<double> chance;                         // dashed lines at x and y = chance
  std::map<std::string, Color> group_colors;    // default: palette by first appearance
  std::map<std::string, Marker> group_markers;  // default: circle, square, triangle, …
  double marker_size = 8;                               // points
  double width = 470, height = 380;                     // the whole figure, in points
  double scale = 1.0;                                   // PNG pixels per point
  LegendPosition legend = LegendPosition::right;
};

// Draws the scatter into `path` (.png, .svg or .pdf). Throws std::invalid_argument when
// no point has finite x and y, for negative errors or bad options; std::runtime_error
// when the file cannot be written.
void write_scatter(const std::string& path, const std::vector<ScatterPoint>& points,
                   const ScatterOptions& options = {});

// [SECTION] Layout ------------------------------------------------------------------------
// A rectangle in points, y growing downwards (PNG pixel = point × scale).
struct Box {
  double x = 0, y = 0, w = 0, h = 0;
  bool contains(double px, double py) const {
    return px >= x && px <= x + w && py >= y && py <= y + h;
  }
};

// Where write_line_panels puts things, for the same panels and options.
struct LinePanelsLayout {
  double width = 0, height = 0;        // the figure, in points
  std::vector<Box> cells;              // per panel: its cell of the grid
  std::vector<Box> frames;             // per panel: the axes box
  std::vector<std::size_t> n_x;        // per panel: number of x categories
  std::vector<double> x_label_angle;   // per panel: tick label rotation (0, 45 or 90 deg)
  Box legend;                          // w = h = 0 without a legend
  double y_min = 0, y_max = 1;
  double pad = 6;                      // inset of y_min/y_max from the frame's edges
  double x_at(std::size_t panel, std::size_t i) const;  // centre of category i
  double y_at(std::size_t panel, double y) const;       // y value -> vertical position
};
LinePanelsLayout layout_line_panels(const std::vector<Panel>& panels,
                                    const LinePanelsOptions& options = {});

// Where write_scatter puts things, for the same points and options.
struct ScatterLayout {
  double width = 0, height = 0;  // the figure, in points
  Box frame;                     // the axes box
  Box legend;                    // w = h = 0 without a legend
  Box note;                      // the Spearman text's box (w = h = 0 when not shown)
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  double pad = 6;                // inset of the ranges from the frame's edges
  double x_at(double x) const;   // x value -> horizontal position
  double y_at(double y) const;   // y value -> vertical position
};
ScatterLayout layout_scatter(const std::vector<ScatterPoint>& points,
                             const ScatterOptions& options = {});

// [SECTION] Statistics --------------------------------------------------------------------
// Spearman's ρ: Pearson's r of the ranks, ties given their average rank. Pairs with a
// non-finite value are skipped. NaN when fewer than 2 pairs remain or a side is constant.
// Throws std::invalid_argument when the lengths differ.
double spearman_rho(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace mm::analysis
