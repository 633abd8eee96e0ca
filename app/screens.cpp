// app/screens.cpp: fixation cross, stimulus, noise masks and the icon grid.
#include "app/screens.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace mm::app {

// [SECTION] Fixation ----------------------------------------------------------------------
std::vector<Rect> fixation_rects(int width, int height, const ScreenStyle& s) {
  float len = std::round(s.cross_size), th = std::max(1.0f, std::round(s.cross_thickness));
  float cx = std::floor(width / 2.0f), cy = std::floor(height / 2.0f);
  float h0 = std::floor(th / 2), l0 = std::floor(len / 2);
  return {{cx - l0, cy - h0, len, th}, {cx - h0, cy - l0, th, len}};
}

void draw_fixation(Display& d, const ScreenStyle& s) {
  d.clear(s.background);
  for (const Rect& r : fixation_rects(d.width(), d.height(), s)) d.fill_rect(r, s.cross);
}

// [SECTION] Stimulus ----------------------------------------------------------------------
Rect draw_stimulus(Display& d, const Texture& t, float w, float h, const ScreenStyle& s, Filter filter) {
  if (w <= 0 || h <= 0) {
    w = static_cast<float>(t.width);
    h = static_cast<float>(t.height);
  }
  Rect r = d.centered(std::round(w), std::round(h));
  d.clear(s.background);
  d.draw_texture(t, r, {1, 1, 1, 1}, filter);
  return r;
}

// [SECTION] Mask --------------------------------------------------------------------------
stimuli::Array make_noise_mask(int width, int height, int channels, int grain, uint64_t seed) {
  if (width <= 0 || height <= 0) throw std::invalid_argument("mask: size must be positive");
  if (channels != 1 && channels != 3) throw std::invalid_argument("mask: channels must be 1 or 3");
  if (grain < 1) throw std::invalid_argument("mask: grain must be at least 1 pixel");
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const int bw = (width + grain - 1) / grain, bh = (height + grain - 1) / grain;
  std::vector<float> blocks(static_cast<size_t>(bw) * bh * channels);
  for (float& b : blocks) b = u(rng);
  stimuli::Array a;
  a.shape = {channels, height, width};
  a.data.resize(static_cast<size_t>(channels) * height * width);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        a.data[(static_cast<size_t>(c) * height + y) * width + x] =
            blocks[(static_cast<size_t>(c) * bh + y / grain) * bw + x / grain];
  return a;
}

std::vector<Texture> upload_masks(Display& d, int count, int width, int height, int channels, int grain,
                                  uint64_t seed) {
  std::vector<Texture> out;
  for (int k = 0; k < count; ++k)
    out.push_back(d.upload(make_noise_mask(width, height, channels, grain, seed + static_cast<uint64_t>(k))));
  return out;
}

// [SECTION] Icon grid ---------------------------------------------------------------------
int IconGrid::hit(float x, float y) const {
  for (size_t i = 0; i < tiles.size(); ++i)
    if (tiles[i].contains(x, y)) return static_cast<int>(i);
  return -1;
}

IconGrid layout_icon_grid(int n, int width, int height, const GridStyle& g) {
  if (n < 1) throw std::invalid_argument("icon grid: needs at least one alternative");
  if (width <= 0 || height <= 0) throw std::invalid_argument("icon grid: screen size must be positive");
  const float tw = g.icon + 2 * g.pad, th = g.pad + g.icon + g.label_h;
  const float aw = std::max(1.0f, width - 2 * g.margin), ah = std::max(1.0f, height - 2 * g.margin);
  auto fit = [&](int c) {
    int r = (n + c - 1) / c;
    float gw = c * tw + (c - 1) * g.gap, gh = r * th + (r - 1) * g.gap;
    return std::min({1.0f, aw / gw, ah / gh});
  };
  int cols = g.columns > 0 ? std::min(g.columns, n) : 0;
  if (!cols) {
    float best = -1;
    // Among the layouts that fit best, the one nearest ceil(sqrt(n)) columns: square, or one
    // column more than rows on a landscape screen (6 -> 3x2, 16 -> 4x4).
    double sq = std::ceil(std::sqrt(static_cast<double>(n)) - 1e-9);
    for (int c = 1; c <= n; ++c) {
      float s = fit(c);
      bool better = s > best + 1e-6f ||
                    (std::fabs(s - best) <= 1e-6f && std::fabs(c - sq) < std::fabs(cols - sq));
      if (better) {
        best = s;
        cols = c;
      }
    }
  }
  IconGrid grid;
  grid.columns = cols;
  grid.rows = (n + cols - 1) / cols;
  grid.scale = fit(cols);
  const float s = grid.scale;
  const float stw = std::floor(tw * s), sth = std::floor(th * s), sgap = std::floor(g.gap * s);
  const float icon = std::floor(g.icon * s), pad = std::floor(g.pad * s);
  const float gh = grid.rows * sth + (grid.rows - 1) * sgap;
  const float y0 = std::floor((height - gh) / 2);
  for (int i = 0; i < n; ++i) {
    int row = i / cols, col = i % cols;
    int in_row = std::min(cols, n - row * cols);  // the last row may be short: centre it
    float rw = in_row * stw + (in_row - 1) * sgap;
    float x0 = std::floor((width - rw) / 2);
    Rect tile{x0 + col * (stw + sgap), y0 + row * (sth + sgap), stw, sth};
    grid.tiles.push_back(tile);
    grid.icons.push_back({tile.x + std::floor((stw - icon) / 2), tile.y + pad, icon, icon});
    grid.labels.push_back({tile.x, tile.y + pad + icon, stw, sth - pad - icon});
  }
  return grid;
}

void draw_icon_grid(Display& d, const IconGrid& grid, const std::vector<Texture>& icons,
                    const std::vector<std::string>& labels, int hover, int selected, const ScreenStyle& s) {
  const size_t n = grid.tiles.size();
  for (size_t i = 0; i < n; ++i) {
    Color c = static_cast<int>(i) == selected ? s.tile_selected : static_cast<int>(i) == hover ? s.tile_hover : s.tile;
    d.fill_rect(grid.tiles[i], c);
    if (i < icons.size() && icons[i].valid()) d.draw_texture(icons[i], grid.icons[i]);
    if (i < labels.size() && !labels[i].empty()) {
      const Rect& l = grid.labels[i];
      float px = std::min(l.h * 0.7f, 28.0f);
      auto [tw, th] = d.text_size(labels[i], px);
      if (tw > l.w * 0.95f) px *= l.w * 0.95f / tw;  // long words shrink to fit the tile
      d.text(labels[i], l.cx(), l.cy(), s.label, px);
    }
  }
}

}  // namespace mm::app
