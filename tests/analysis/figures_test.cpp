// Tests for analysis/figures: the written PNG is read back (cairo) and its pixels checked
// against the layout: white background and margins, series at y = 1 near the top of the
// plot and at y = 0 near the bottom, error bars spanning ± err, the chance line on its row,
// NaN points drawing nothing (lines break there), legend samples in the legend box, the
// scatter's points, identity line and Spearman note; SVG and PDF files are well formed;
// bad input and unwritable files throw naming the file; Spearman's ρ against known values.
//
// Sections
//   [SECTION] Helpers       temp folder, PNG reading, colour counting, XML check
//   [SECTION] Line panels
//   [SECTION] Scatter
//   [SECTION] Vector files
//   [SECTION] Errors
//   [SECTION] Statistics
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairo.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/figures.h"

namespace {

using namespace mm::analysis;

// [SECTION] Helpers -----------------------------------------------------------------------
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const Color kRed{0.9, 0.1, 0.1};
const Color kBlue{0.1, 0.2, 0.9};
const Color kGreen{0.1, 0.7, 0.2};
const Color kMagenta{0.8, 0.0, 0.8};

// A fresh folder under /tmp, removed with its files at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mm_figures_test_XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) throw std::runtime_error("mkdtemp failed");
    path_ = d;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A PNG read back with cairo (ARGB32/RGB24, opaque figures).
class Image {
 public:
  explicit Image(const std::string& path)
      : s_(cairo_image_surface_create_from_png(path.c_str())) {
    if (cairo_surface_status(s_) != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error(path + ": not a readable PNG");
    cairo_surface_flush(s_);
  }
  ~Image() { cairo_surface_destroy(s_); }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;
  int width() const { return cairo_image_surface_get_width(s_); }
  int height() const { return cairo_image_surface_get_height(s_); }
  Color at(int x, int y) const {
    const unsigned char* row =
        cairo_image_surface_get_data(s_) + y * cairo_image_surface_get_stride(s_);
    uint32_t p = reinterpret_cast<const uint32_t*>(row)[x];
    return {((p >> 16) & 255) / 255.0, ((p >> 8) & 255) / 255.0, (p & 255) / 255.0};
  }
  // Pixels within `tol` (per channel, 0..1) of `c` in the box [x0, x1] × [y0, y1], clipped.
  int count(Color c, double x0, double y0, double x1, double y1, double tol = 0.06) const {
    int n = 0;
    for (int y = std::max(0, int(std::floor(y0))); y <= std::min(height() - 1, int(std::ceil(y1))); ++y)
      for (int x = std::max(0, int(std::floor(x0))); x <= std::min(width() - 1, int(std::ceil(x1))); ++x) {
        Color p = at(x, y);
        if (std::abs(p.r - c.r) <= tol && std::abs(p.g - c.g) <= tol && std::abs(p.b - c.b) <= tol) ++n;
      }
    return n;
  }
  int count_in(Color c, const Box& b, double scale, double tol = 0.06) const {
    return count(c, b.x * scale, b.y * scale, (b.x + b.w) * scale, (b.y + b.h) * scale, tol);
  }
  // Pixels darker than `level` in every channel, in a box in points.
  int dark_in(const Box& b, double scale, double level = 0.4) const {
    int n = 0;
    for (int y = std::max(0, int(b.y * scale)); y <= std::min(height() - 1, int((b.y + b.h) * scale)); ++y)
      for (int x = std::max(0, int(b.x * scale)); x <= std::min(width() - 1, int((b.x + b.w) * scale)); ++x) {
        Color p = at(x, y);
        if (p.r < level && p.g < level && p.b < level) ++n;
      }
    return n;
  }
  // Mean row of the pixels of colour c in a box (px), or NaN if none.
  double mean_row(Color c, double x0, double y0, double x1, double y1) const {
    double s = 0;
    int n = 0;
    for (int y = std::max(0, int(y0)); y <= std::min(height() - 1, int(y1)); ++y)
      for (int x = std::max(0, int(x0)); x <= std::min(width() - 1, int(x1)); ++x)
        if (count(c, x, y, x, y) == 1) s += y, ++n;
    return n ? s / n : kNaN;
  }

 private:
  cairo_surface_t* s_;
};

const Color kWhite{1, 1, 1};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A minimal XML well-formedness check: declarations, comments, CDATA, quoted attributes,
// balanced and properly nested tags. Returns "" when fine, else what is wrong.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> open;
  std::size_t i = 0;
  bool root_seen = false;
  while (i < s.size()) {
    if (s[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(s[i])))
        return "text outside the root element at " + std::to_string(i);
      ++i;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      std::size_t e = s.find("-->", i);
      if (e == std::string::npos) return "unclosed comment";
      i = e + 3;
    } else if (s.compare(i, 9, "<![CDATA[") == 0) {
      std::size_t e = s.find("]]>", i);
      if (e == std::string::npos) return "unclosed CDATA";
      i = e + 3;
    } else if (s.compare(i, 2, "<?") == 0 || s.compare(i, 2, "<!") == 0) {
      std::size_t e = s.find('>', i);
      if (e == std::string::npos) return "unclosed declaration";
      i = e + 1;
    } else {
      bool closing = s.compare(i, 2, "</") == 0;
      std::size_t j = i + (closing ? 2 : 1), name_start = j;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != '>' && s[j] != '/') ++j;
      std::string name = s.substr(name_start, j - name_start);
      if (name.empty()) return "empty tag name at " + std::to_string(i);
      char quote = 0;
      while (j < s.size() && (quote || s[j] != '>')) {
        if (quote && s[j] == quote) quote = 0;
        else if (!quote && (s[j] == '"' || s[j] == '\'')) quote = s[j];
        else if (!quote && s[j] == '<') return "'<' inside tag " + name;
        ++j;
      }
      if (j >= s.size()) return "unclosed tag " + name;
      bool self_closing = s[j - 1] == '/';
      if (closing) {
        if (open.empty() || open.back() != name) return "mismatched </" + name + ">";
        open.pop_back();
      } else if (!self_closing) {
        if (open.empty() && root_seen) return "second root element " + name;
        open.push_back(name);
        root_seen = true;
      } else {
        root_seen = true;
      }
      i = j + 1;
    }
  }
  if (!open.empty()) return "unclosed element " + open.back();
  if (!root_seen) return "no root element";
  return "";
}

Series make_series(const std::string& label, std::vector<double> y, Color c,
                   std::vector<double> err = {}, Marker m = Marker::circle) {
  Series s;
  s.label = label;
  s.y = std::move(y);
  s.err = std::move(err);
  s.color = c;
  s.marker = m;
  return s;
}

Panel make_panel(const std::string& title, std::vector<std::string> xs, std::vector<Series> ss,
                 std::optional<double> chance = std::nullopt) {
  Panel p;
  p.title = title;
  p.x_labels = std::move(xs);
  p.series = std::move(ss);
  p.chance = chance;
  return p;
}

const std::vector<std::string> kLayers = {"natural", "conv1", "stage2", "stage3", "logits"};

// [SECTION] Line panels -------------------------------------------------------------------
TEST(LinePanels, BackgroundAndMarginsAreWhite) {
  TempDir tmp;
  const std::string f = tmp.file("bg.png");
  LinePanelsOptions o;
  o.title = "A title";
  // Long titles and labels that must be fitted, not clipped at the figure's edges.
  std::vector<Panel> ps;
  for (int k = 0; k < 5; ++k)
    ps.push_back(make_panel("An exceedingly long generating model name that cannot fit, number " +
                                std::to_string(k),
                            {"final/signal_power_layer", "layer1.0.relu", "layer2.1.conv2",
                             "layer4.2.conv3", "natural"},
                            {make_series("Humans", {0.9, 0.7, 0.5, 0.3, 0.1}, kRed)}, 1.0 / 16));
  ps[2].title = std::string(400, 'x') + " " + std::string(400, 'y');  // cut with "…"
  o.columns = 2;
  write_line_panels(f, ps, o);
  Image im(f);
  const int W = im.width(), H = im.height();
  EXPECT_EQ(im.count(kWhite, 0, 0, W - 1, 0, 0.01), W) << "top row";
  EXPECT_EQ(im.count(kWhite, 0, H - 1, W - 1, H - 1, 0.01), W) << "bottom row";
  EXPECT_EQ(im.count(kWhite, 0, 0, 0, H - 1, 0.01), H) << "left column";
  EXPECT_EQ(im.count(kWhite, W - 1, 0, W - 1, H - 1, 0.01), H) << "right column";
  EXPECT_GT(im.count(kWhite, 0, 0, W - 1, H - 1, 0.01), W * H * 7 / 10);
  // Panel titles stay within their cells: the border between two cells, above the frames,
  // is white.
  const LinePanelsLayout L = layout_line_panels(ps, o);
  for (std::size_t k : {0u, 2u}) {
    const Box& C = L.cells[k];
    const double x = C.x + C.w;
    const double y1 = L.frames[k].y - 2;
    EXPECT_EQ(im.count(kWhite, x - 5, C.y, x + 5, y1, 0.01),
              im.count(kWhite, x - 5, C.y, x + 5, y1, 1.0))  // all pixels of the strip
        << "title of panel " << k << " runs into its neighbour's";
  }
  // And something was drawn.
  EXPECT_GT(im.count(kRed, 0, 0, W - 1, H - 1), 100);
}

TEST(LinePanels, ImageSizeFollowsLayoutAndScale) {
  TempDir tmp;
  std::vector<Panel> ps = {make_panel("m", kLayers, {make_series("h", {1, 1, 1, 1, 1}, kRed)}),
                           make_panel("n", kLayers, {make_series("h", {1, 1, 1, 1, 1}, kRed)})};
  for (double scale : {1.0, 2.5}) {
    LinePanelsOptions o;
    o.scale = scale;
    const std::string f = tmp.file("size.png");
    write_line_panels(f, ps, o);
    LinePanelsLayout L = layout_line_panels(ps, o);
    Image im(f);
    EXPECT_EQ(im.width(), int(std::ceil(L.width * scale)));
    EXPECT_EQ(im.height(), int(std::ceil(L.height * scale)));
    // Two panels of 300 points side by side, plus margins.
    EXPECT_GE(L.width, 600);
    EXPECT_LE(L.width, 640);
  }
}

TEST(LinePanels, ValuesLandAtTheirHeight) {
  TempDir tmp;
  const std::string f = tmp.file("heights.png");
  LinePanelsOptions o;
  o.scale = 2;
  std::vector<Panel> ps = {make_panel(
      "model", kLayers,
      {make_series("top", {1, 1, 1, 1, 1}, kRed), make_series("bottom", {0, 0, 0, 0, 0}, kBlue),
       make_series("half", {0.5, 0.5, 0.5, 0.5, 0.5}, kGreen)})};
  write_line_panels(f, ps, o);
  const LinePanelsLayout L = layout_line_panels(ps, o);
  Image im(f);
  const double s = o.scale, r = 5 * s;  // half a band: markers are 7 points wide
  ASSERT_EQ(L.frames.size(), 1u);
  const Box& F = L.frames[0];
  // The layout itself: 1 above 0, both inside the frame, which is inside the image.
  EXPECT_LT(L.y_at(0, 1.0), L.y_at(0, 0.0));
  EXPECT_GE(L.y_at(0, 1.0), F.y);
  EXPECT_LE(L.y_at(0, 0.0), F.y + F.h);
  EXPECT_LE((F.x + F.w) * s, im.width());
  EXPECT_LE((F.y + F.h) * s, im.height());
  for (std::size_t i = 0; i < kLayers.size(); ++i) {
    const double x = L.x_at(0, i) * s;
    for (auto [c, v] : {std::pair{kRed, 1.0}, {kBlue, 0.0}, {kGreen, 0.5}}) {
      const double y = L.y_at(0, v) * s;
      EXPECT_GT(im.count(c, x - r, y - r, x + r, y + r), 10) << "value " << v << " at " << i;
      // Not at the other heights (0.25 of the range away).
      for (double other : {v - 0.25, v + 0.25}) {
        if (other < 0 || other > 1) continue;
        const double yo = L.y_at(0, other) * s;
        EXPECT_EQ(im.count(c, x - r, yo - r, x + r, yo + r), 0) << "value " << v << " at " << other;
      }
    }
  }
  // Independent of y_at: the top series sits in the top tenth of the frame, the bottom
  // one in the bottom tenth.
  const double top = im.mean_row(kRed, F.x * s, F.y * s, (F.x + F.w) * s, (F.y + F.h) * s);
  const double bottom = im.mean_row(kBlue, F.x * s, F.y * s, (F.x + F.w) * s, (F.y + F.h) * s);
  EXPECT_LT(top, (F.y + 0.1 * F.h) * s);
  EXPECT_GT(bottom, (F.y + 0.9 * F.h) * s);
}

TEST(LinePanels, ErrorBarsSpanPlusMinusErr) {
  TempDir tmp;
  const std::string f = tmp.file("err.png");
  LinePanelsOptions o;
  o.scale = 2;
  std::vector<Panel> ps = {make_panel(
      "m", {"a", "b", "c"},
      {make_series("with", {0.5, 0.5, 0.5}, kBlue, {0.2, kNaN, 0.0}, Marker::none)})};
  ps[0].series[0].line_width = 0;  // bars only
  write_line_panels(f, ps, o);
  const LinePanelsLayout L = layout_line_panels(ps, o);
  Image im(f);
  const double s = o.scale;
  auto bar_at = [&](std::size_t i, double v) {
    const double x = L.x_at(0, i) * s, y = L.y_at(0, v) * s;
    return im.count(kBlue, x - 2, y - 1, x + 2, y + 1);
  };
  EXPECT_GT(bar_at(0, 0.6), 0);
  EXPECT_GT(bar_at(0, 0.4), 0);
  EXPECT_GT(bar_at(0, 0.68), 0);
  EXPECT_EQ(bar_at(0, 0.75), 0);  // beyond 0.5 + 0.2
  EXPECT_EQ(bar_at(0, 0.25), 0);
  EXPECT_EQ(bar_at(1, 0.6), 0);   // NaN error: no bar
  EXPECT_EQ(bar_at(2, 0.6), 0);   // zero error: no bar
}

TEST(LinePanels, ChanceLineOnItsRow) {
  TempDir tmp;
  const std::string f = tmp.file("chance.png");
  LinePanelsOptions o;
  o.scale = 2;
  o.chance_color = kMagenta;
  std::vector<Panel> ps = {
      make_panel("m", kLayers, {make_series("h", {0.9, 0.8, 0.7, 0.8, 0.9}, kBlue)}, 0.25)};
  write_line_panels(f, ps, o);
  const LinePanelsLayout L = layout_line_panels(ps, o);
  Image im(f);
  const double s = o.scale;
  const Box& F = L.frames[0];
  const double y = L.y_at(0, 0.25) * s;
  const int on_row = im.count(kMagenta, F.x * s, y - 1.5, (F.x + F.w) * s, y + 1.5, 0.12);
  EXPECT_GT(on_row, F.w * s * 0.4) << "a dashed line across the frame";
  const double y_far = L.y_at(0, 0.6) * s;
  EXPECT_EQ(im.count(kMagenta, F.x * s, y_far - 3, (F.x + F.w) * s, y_far + 3, 0.12), 0);
  // The "chance" label, in the same colour, lies within a line's height of the line.
  const int near = im.count(kMagenta, F.x * s, y - 14 * s, (F.x + F.w) * s, y + 14 * s, 0.2);
  EXPECT_GT(near, on_row);
}

TEST(LinePanels, NaNDrawsNothingAndBreaksTheLine) {
  TempDir tmp;
  const std::string f = tmp.file("nan.png");
  LinePanelsOptions o;
  o.scale = 2;
  std::vector<Panel> ps = {make_panel(
      "m", {"a", "b", "c", "d"},
      {make_series("gaps", {0.5, kNaN, 0.5, 0.5}, kRed),
       make_series("missing", {kNaN, kNaN, kNaN, kNaN}, kBlue)})};
  write_line_panels(f, ps, o);
  const LinePanelsLayout L = layout_line_panels(ps, o);
  Image im(f);
  const double s = o.scale;
  const Box& F = L.frames[0];
  const double step = F.w / 4 * s, y = L.y_at(0, 0.5) * s;
  auto red_around = [&](double xc, double half_w) {
    return im.count(kRed, xc - half_w, F.y * s, xc + half_w, (F.y + F.h) * s);
  };
  EXPECT_GT(red_around(L.x_at(0, 0) * s, 6), 0);
  EXPECT_EQ(red_around(L.x_at(0, 1) * s, step * 0.3), 0) << "no point and no line across the gap";
  EXPECT_GT(red_around((L.x_at(0, 2) + L.x_at(0, 3)) / 2 * s, 2), 0) << "line between c and d";
  // Nothing at 0 (a NaN drawn as 0 would be there).
  const double y0 = L.y_at(0, 0.0) * s;
  EXPECT_EQ(im.count(kRed, F.x * s, y0 - 8, (F.x + F.w) * s, y0 + 8), 0);
  EXPECT_GT(im.count(kRed, F.x * s, y - 8, (F.x + F.w) * s, y + 8), 50);
  // The all-NaN series draws nothing in the plot (its legend sample is outside the frame).
  EXPECT_EQ(im.count_in(kBlue, F, s), 0);
}

TEST(LinePanels, LegendShowsEachLabelledSeries) {
  TempDir tmp;
  const std::string f = tmp.file("legend.png");
  LinePanelsOptions o;
  o.scale = 2;
  Series hidden = make_series("", {0.2, 0.2, 0.2, 0.2, 0.2}, kMagenta);
  std::vector<Panel> ps = {
      make_panel("a", kLayers, {make_series("Humans", {0.9, 0.7, 0.5, 0.3, 0.1}, kRed), hidden}),
      make_panel("b", kLayers, {make_series("Model", {1, 1, 1, 1, 1}, kBlue)})};
  for (LegendPosition pos : {LegendPosition::top, LegendPosition::right}) {
    o.legend = pos;
    write_line_panels(f, ps, o);
    const LinePanelsLayout L = layout_line_panels(ps, o);
    Image im(f);
    ASSERT_GT(L.legend.w, 0);
    EXPECT_GT(im.count_in(kRed, L.legend, o.scale), 10);
    EXPECT_GT(im.count_in(kBlue, L.legend, o.scale), 10);
    EXPECT_EQ(im.count_in(kMagenta, L.legend, o.scale), 0) << "unlabelled series stay out";
    EXPECT_GT(im.dark_in(L.legend, o.scale), 20) << "label text";
    for (const Box& F : L.frames) {  // never over the data
      const bool apart = L.legend.x >= F.x + F.w || L.legend.x + L.legend.w <= F.x ||
                         L.legend.y >= F.y + F.h || L.legend.y + L.legend.h <= F.y;
      EXPECT_TRUE(apart);
    }
  }
  o.legend = LegendPosition::none;
  EXPECT_EQ(layout_line_panels(ps, o).legend.w, 0);
}

TEST(LinePanels, GridAndLabelRotation) {
  std::vector<Panel> ps;
  for (int k = 0; k < 5; ++k)
    ps.push_back(make_panel("m" + std::to_string(k), kLayers,
                            {make_series("h", {1, 1, 1, 1, 1}, kRed)}));
  ps[3].x_labels = {"natural", "layer1.0.relu", "layer2.1.conv2", "layer3.5.relu", "logits"};
  std::vector<std::string> many;
  for (int i = 0; i < 30; ++i) many.push_back("layer" + std::to_string(i));
  ps[4].x_labels = many;
  ps[4].series[0].y.assign(30, 0.5);
  LinePanelsOptions o;  // 4 columns
  const LinePanelsLayout L = layout_line_panels(ps, o);
  ASSERT_EQ(L.cells.size(), 5u);
  EXPECT_DOUBLE_EQ(L.cells[4].x, L.cells[0].x);  // second row
  EXPECT_GT(L.cells[4].y, L.cells[0].y);
  EXPECT_DOUBLE_EQ(L.cells[1].y, L.cells[0].y);
  EXPECT_GT(L.cells[1].x, L.cells[0].x);
  for (const Box& F : L.frames) {  // frames line up
    EXPECT_DOUBLE_EQ(F.w, L.frames[0].w);
    EXPECT_DOUBLE_EQ(F.h, L.frames[0].h);
  }
  EXPECT_EQ(L.x_label_angle[0], 0);   // short labels stay flat
  EXPECT_EQ(L.x_label_angle[3], 45);  // long ones are rotated
  EXPECT_EQ(L.x_label_angle[4], 90);  // crowded ones stand up
  EXPECT_EQ(L.n_x[4], 30u);
}

// [SECTION] Scatter -----------------------------------------------------------------------
std::vector<ScatterPoint> two_groups() {
  return {{0.2, 0.8, 0, 0, "A", "conv1"}, {0.3, 0.7, 0, 0, "A", "stage2"},
          {0.9, 0.1, 0, 0, "B", "conv1"}, {0.8, 0.2, 0.05, 0.05, "B", "stage2"},
          {kNaN, 0.5, 0, 0, "B", "missing"}};
}

TEST(Scatter, PointsInGroupColoursAtTheirPlace) {
  TempDir tmp;
  const std::string f = tmp.file("scatter.png");
  ScatterOptions o;
  o.scale = 2;
  o.group_colors = {{"A", kRed}, {"B", kBlue}};
  const auto pts = two_groups();
  write_scatter(f, pts, o);
  const ScatterLayout L = layout_scatter(pts, o);
  Image im(f);
  const double s = o.scale, r = 4 * s;
  EXPECT_EQ(im.width(), int(std::ceil(L.width * s)));
  for (const auto& p : pts) {
    if (std::isnan(p.x)) continue;
    const double x = L.x_at(p.x) * s, y = L.y_at(p.y) * s;
    const Color mine = p.group == "A" ? kRed : kBlue, other = p.group == "A" ? kBlue : kRed;
    EXPECT_GT(im.count(mine, x - r, y - r, x + r, y + r), 10) << p.group << " " << p.label;
    EXPECT_EQ(im.count(other, x - r, y - r, x + r, y + r), 0);
  }
  // Orientation, independent of x_at/y_at: A (high y, low x) is up-left of B.
  const Box& F = L.frame;
  const double a_row = im.mean_row(kRed, F.x * s, F.y * s, (F.x + F.w) * s, (F.y + F.h) * s);
  const double b_row = im.mean_row(kBlue, F.x * s, F.y * s, (F.x + F.w) * s, (F.y + F.h) * s);
  EXPECT_LT(a_row, (F.y + F.h / 2) * s);
  EXPECT_GT(b_row, (F.y + F.h / 2) * s);
  // Legend beside the plot, with both colours.
  ASSERT_GT(L.legend.w, 0);
  EXPECT_GE(L.legend.x, F.x + F.w);
  EXPECT_GT(im.count_in(kRed, L.legend, s), 10);
  EXPECT_GT(im.count_in(kBlue, L.legend, s), 10);
  // Equal ranges: a square frame.
  EXPECT_NEAR(F.w, F.h, 1e-9);
}

TEST(Scatter, IdentityLineOnlyWhenAsked) {
  TempDir tmp;
  const std::string f = tmp.file("id.png");
  const std::vector<ScatterPoint> pts = {{0.1, 0.9, 0, 0, "A", ""}, {0.2, 0.95, 0, 0, "A", ""}};
  const Color line_gray{0.6, 0.6, 0.6};
  for (bool on : {true, false}) {
    ScatterOptions o;
    o.scale = 2;
    o.identity_line = on;
    o.show_spearman = false;
    write_scatter(f, pts, o);
    const ScatterLayout L = layout_scatter(pts, o);
    Image im(f);
    int hits = 0;
    for (double v : {0.3, 0.45, 0.55, 0.7}) {  // off the grid lines (at 0.2 steps)
      const double x = L.x_at(v) * 2, y = L.y_at(v) * 2;
      hits += im.count(line_gray, x - 2, y - 2, x + 2, y + 2, 0.12) > 0;
    }
    EXPECT_EQ(hits, on ? 4 : 0);
  }
}

TEST(Scatter, SpearmanNoteInAFreeCorner) {
  TempDir tmp;
  const std::string f = tmp.file("note.png");
  ScatterOptions o;
  o.scale = 2;
  o.identity_line = false;
  // Points crowd the top-left corner: the note goes elsewhere.
  std::vector<ScatterPoint> pts;
  for (int i = 0; i <= 6; ++i)
    for (int j = 0; j <= 6; ++j) pts.push_back({0.05 * i, 0.7 + 0.05 * j, 0, 0, "", ""});
  pts.push_back({0.5, 0.5, 0, 0, "", ""});
  write_scatter(f, pts, o);
  const ScatterLayout L = layout_scatter(pts, o);
  ASSERT_GT(L.note.w, 0);
  const double r = o.marker_size / 2;
  for (const auto& p : pts) {  // no marker under the note
    const double x = L.x_at(p.x), y = L.y_at(p.y);
    const bool apart = x + r < L.note.x || x - r > L.note.x + L.note.w || y + r < L.note.y ||
                       y - r > L.note.y + L.note.h;
    EXPECT_TRUE(apart) << p.x << ", " << p.y;
  }
  EXPECT_TRUE(L.frame.contains(L.note.x, L.note.y));
  EXPECT_TRUE(L.frame.contains(L.note.x + L.note.w, L.note.y + L.note.h));
  Image im(f);
  EXPECT_GT(im.dark_in(L.note, o.scale), 40) << "the note's text";
  // Without the note that box is empty.
  o.show_spearman = false;
  write_scatter(f, pts, o);
  Image im2(f);
  EXPECT_EQ(im2.dark_in(L.note, o.scale), 0);
  EXPECT_EQ(layout_scatter(pts, o).note.w, 0);
}

// [SECTION] Vector files ------------------------------------------------------------------
TEST(VectorFiles, SvgIsWellFormedXml) {
  TempDir tmp;
  const std::string f = tmp.file("fig.svg");
  std::vector<Panel> ps = {make_panel("m & <n>", kLayers,
                                      {make_series("Humans", {0.9, 0.7, kNaN, 0.3, 0.1}, kRed,
                                                   {0.05, 0.05, 0.05, 0.05, 0.05})},
                                      1.0 / 16)};
  write_line_panels(f, ps);
  const std::string svg = slurp(f);
  ASSERT_GT(svg.size(), 100u);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_EQ(xml_problem(svg), "");
  // The checker itself catches broken XML.
  EXPECT_NE(xml_problem(svg.substr(0, svg.size() / 2)), "");
  EXPECT_NE(xml_problem("<a><b></a></b>"), "");

  const std::string g = tmp.file("scatter.SVG");  // extension case does not matter
  write_scatter(g, two_groups());
  const std::string svg2 = slurp(g);
  EXPECT_EQ(svg2.rfind("<?xml", 0), 0u);
  EXPECT_EQ(xml_problem(svg2), "");
}

TEST(VectorFiles, PdfStartsWithPdfHeader) {
  TempDir tmp;
  const std::string f = tmp.file("fig.pdf");
  write_scatter(f, two_groups());
  const std::string pdf = slurp(f);
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("%%EOF"), std::string::npos);
}

// [SECTION] Errors ------------------------------------------------------------------------
template <class E, class F>
std::string thrown(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "nothing thrown";
}

std::vector<Panel> good_panels() {
  return {make_panel("m", kLayers, {make_series("Humans", {0.9, 0.7, 0.5, 0.3, 0.1}, kRed)})};
}

TEST(Errors, UnwritableFileNamesIt) {
  TempDir tmp;
  const std::string missing_dir = tmp.file("no/such/folder/fig.png");
  std::string msg = thrown<std::runtime_error>([&] { write_line_panels(missing_dir, good_panels()); });
  EXPECT_NE(msg.find(missing_dir), std::string::npos) << msg;
  EXPECT_NE(msg.find("writable path"), std::string::npos) << msg;  // says what to do
  const std::string dir = tmp.file("a_dir.svg");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  msg = thrown<std::runtime_error>([&] { write_scatter(dir, two_groups()); });
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  EXPECT_NE(::access((dir + ".tmp").c_str(), F_OK), 0) << "the temporary file was left behind";
}

// A figure is written into a temporary file and renamed over the one already there: the
// new one replaces it and no temporary file is left.
TEST(Errors, ReplacingAFigureLeavesNoTemporaryFile) {
  TempDir tmp;
  const std::string f = tmp.file("fig.png");
  write_line_panels(f, good_panels());
  const Image first(f);
  ASSERT_GT(first.width(), 0);
  write_scatter(f, two_groups());  // over it
  EXPECT_NE(::access((f + ".tmp").c_str(), F_OK), 0);
  const Image second(f);
  EXPECT_GT(second.width(), 0);
}

TEST(Errors, BadDataNamesFileAndSeries) {
  TempDir tmp;
  const std::string f = tmp.file("bad.png");
  auto ps = good_panels();
  ps[0].series[0].y.pop_back();
  std::string msg = thrown<std::invalid_argument>([&] { write_line_panels(f, ps); });
  EXPECT_NE(msg.find(f), std::string::npos) << msg;
  EXPECT_NE(msg.find("Humans"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4 values for 5"), std::string::npos) << msg;
  EXPECT_FALSE(exists(f)) << "nothing written for bad data";

  ps = good_panels();
  ps[0].series[0].err = {0.1, 0.1};
  msg = thrown<std::invalid_argument>([&] { write_line_panels(f, ps); });
  EXPECT_NE(msg.find("2 errors for 5"), std::string::npos) << msg;

  ps = good_panels();
  ps[0].series[0].err = {0.1, -0.1, 0.1, 0.1, 0.1};
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, ps); }).find("negative"),
            std::string::npos);

  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, {}); }).find("no panels"),
            std::string::npos);

  ps = good_panels();
  ps[0].x_labels.clear();
  ps[0].series.clear();
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, ps); }).find("no x labels"),
            std::string::npos);

  ps = good_panels();
  ps[0].series[0].y.assign(5, kNaN);
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, ps); }).find("NaN"),
            std::string::npos);

  EXPECT_NE(thrown<std::invalid_argument>([&] { write_scatter(f, {}); }).find(f),
            std::string::npos);
  EXPECT_NE(thrown<std::invalid_argument>([&] {
              write_scatter(f, {{kNaN, 0.5, 0, 0, "", ""}});
            }).find("finite"),
            std::string::npos);
  EXPECT_FALSE(exists(f));
}

TEST(Errors, BadOptionsAndFormats) {
  TempDir tmp;
  const std::string jpg = tmp.file("fig.jpg");
  std::string msg = thrown<std::invalid_argument>([&] { write_line_panels(jpg, good_panels()); });
  EXPECT_NE(msg.find(jpg), std::string::npos) << msg;
  EXPECT_NE(msg.find(".png"), std::string::npos) << msg;
  EXPECT_FALSE(exists(jpg));
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(tmp.file("noext"), good_panels()); })
                .find("(no extension)"),
            std::string::npos);

  const std::string f = tmp.file("fig.png");
  LinePanelsOptions o;
  o.y_min = 1;
  o.y_max = 0;
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, good_panels(), o); }).find("range"),
            std::string::npos);
  o = {};
  o.scale = 0;
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, good_panels(), o); }).find("scale"),
            std::string::npos);
  o = {};
  o.columns = 0;
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, good_panels(), o); }).find("columns"),
            std::string::npos);
  o = {};
  o.panel_height = 80;  // too little room left after the labels
  EXPECT_NE(thrown<std::invalid_argument>([&] { write_line_panels(f, good_panels(), o); }).find("panel_height"),
            std::string::npos);
  EXPECT_THROW(Color::hex("#12345"), std::invalid_argument);
  EXPECT_THROW(Color::hex("zz0000"), std::invalid_argument);
  const Color c = Color::hex("#FF8000");
  EXPECT_DOUBLE_EQ(c.r, 1.0);
  EXPECT_NEAR(c.g, 128 / 255.0, 1e-12);
  EXPECT_DOUBLE_EQ(c.b, 0.0);
}

// [SECTION] Statistics --------------------------------------------------------------------
TEST(Spearman, KnownValues) {
  // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233 (a tie).
  EXPECT_NEAR(spearman_rho({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 0.8207826816681233, 1e-12);
  EXPECT_NEAR(spearman_rho({1, 2, 3, 4}, {1, 8, 27, 64}), 1.0, 1e-12);  // monotone, not linear
  EXPECT_NEAR(spearman_rho({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // NaN pairs are skipped.
  EXPECT_NEAR(spearman_rho({1, 2, kNaN, 3, 4, 5}, {5, 6, 0, 7, 8, 7}), 0.8207826816681233, 1e-12);
  EXPECT_TRUE(std::isnan(spearman_rho({1, 2, 3}, {2, 2, 2})));
  EXPECT_TRUE(std::isnan(spearman_rho({1}, {2})));
  EXPECT_THROW(spearman_rho({1, 2}, {1}), std::invalid_argument);
}

}  // namespace
