// app/screens.h: what a trial shows, frame by frame: the fixation cross, the stimulus,
// the noise mask and the response screen's grid of clickable icons. Layouts are pure
// functions (tested without a display, and used by the scripted participant to know where
// to click); drawing goes through Display's primitives.
//
// Sections
//   [SECTION] Style        colours and sizes shared by the screens
//   [SECTION] Fixation     a cross at the centre
//   [SECTION] Stimulus     a texture scaled to a size, centred
//   [SECTION] Mask         pre-generated noise images
//   [SECTION] Icon grid    layout, hit testing, drawing
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "app/display.h"
#include "stimuli/stimuli.h"

namespace mm::app {

// [SECTION] Style -------------------------------------------------------------------------
struct ScreenStyle {
  Color background = Color::grey(0.5f);
  Color cross = {0, 0, 0, 1};
  float cross_size = 40;        // arm to arm, pixels
  float cross_thickness = 4;    // pixels
  Color tile = Color::grey(0.62f);
  Color tile_hover = Color::grey(0.75f);
  Color tile_selected = {0.35f, 0.6f, 0.35f, 1};
  Color label = {0, 0, 0, 1};
};

// [SECTION] Fixation ----------------------------------------------------------------------
// The two bars of the cross, centred on the screen, on whole pixels.
std::vector<Rect> fixation_rects(int width, int height, const ScreenStyle& s);
void draw_fixation(Display& d, const ScreenStyle& s = {});

// [SECTION] Stimulus ----------------------------------------------------------------------
// Clears to the background and draws t at (w x h) pixels centred on whole pixels (w, h <= 0:
// the texture's own size, drawn texel-exact), sampled as `filter` says (nearest at a whole
// factor: every texel an exact block of pixels). Returns where it went.
Rect draw_stimulus(Display& d, const Texture& t, float w = 0, float h = 0, const ScreenStyle& s = {},
                   Filter filter = Filter::automatic);

// [SECTION] Mask --------------------------------------------------------------------------
// A CHW noise image in [0, 1]: independent uniform values in blocks of grain x grain
// pixels (grain 1: pixel noise), per channel when channels == 3 (colour noise) or shared
// (grey noise) when channels == 1. Deterministic in seed. Upload it before the trial.
stimuli::Array make_noise_mask(int width, int height, int channels, int grain, uint64_t seed);
// Several masks so consecutive trials need not share one.
std::vector<Texture> upload_masks(Display& d, int count, int width, int height, int channels, int grain,
                                  uint64_t seed);

// [SECTION] Icon grid ---------------------------------------------------------------------
struct GridStyle {
  float icon = 128;     // icon side in pixels
  float label_h = 40;   // label band under each icon
  float pad = 10;       // inside a tile, around the icon
  float gap = 16;       // between tiles
  int columns = 0;      // 0: ceil(sqrt(n)) columns if that fits, else the layout that fits best
  float margin = 40;    // kept free around the grid
};

struct IconGrid {
  int columns = 0, rows = 0;
  std::vector<Rect> tiles;   // clickable area of each alternative
  std::vector<Rect> icons;   // where each icon is drawn
  std::vector<Rect> labels;  // label band
  float scale = 1;           // applied to GridStyle sizes to fit the screen
  // Index of the tile containing (x, y), or -1.
  int hit(float x, float y) const;
};

// Lays out n alternatives in reading order, centred; shrinks the sizes when the grid
// would not fit inside the margins. Throws std::invalid_argument for n < 1.
IconGrid layout_icon_grid(int n, int width, int height, const GridStyle& g = {});

// Draws the grid: tiles, icons (textures may be invalid: tile without icon), labels.
// hover / selected: tile index or -1. Call between clear() and flip().
void draw_icon_grid(Display& d, const IconGrid& grid, const std::vector<Texture>& icons,
                    const std::vector<std::string>& labels, int hover = -1, int selected = -1,
                    const ScreenStyle& s = {});

}  // namespace mm::app
