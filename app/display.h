// app/display.h: the participant's screen: an SDL2 window with an OpenGL context, vsync,
// the refresh rate measured at start, timestamped flips with dropped-frame detection,
// stimulus textures uploaded before a trial, the drawing primitives the trial screens are
// made of (grey, rectangles, textured quads, text), screenshots, and input events.
//
// Nothing here touches the disk except screenshots (which the runner only takes in tests
// and pilots). SDL, OpenGL and ImGui types stay inside display.cpp.
//
// Gamma. With a station's gamma table (set_gamma_table), every frame is drawn into an
// offscreen texture and copied to the window through a fragment shader that maps each
// sRGB-encoded value to the drive level showing its intended luminance (the table is
// experiments::gamma_correction_table of the station's calibration). A shader rather than
// the display's hardware gamma ramp: it applies to this window only, works where ramps
// are refused (Xvfb, many Wayland compositors), and a screenshot reads the corrected
// frame back. Without a table nothing changes.
//
// Pacing. With vsync, flip() returns once the swap is done (glFinish) and the interval
// between flips is the refresh interval. Where vsync is refused or has no effect (Xvfb
// has no vertical blank), flip() paces itself to a frame grid at the nominal rate (or
// DisplayOptions::fallback_hz when the mode reports none), so durations in frames still
// mean something; info().pacing says which is in use ("vsync" or "timer"). A late flip
// falls onto the next grid point, so it shows as a dropped frame either way.
//
// Sections
//   [SECTION] Types      options, info, flips, colours, rects, textures, images, events
//   [SECTION] Display    the window
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/timing.h"
#include "stimuli/stimuli.h"

namespace mm::app {

// [SECTION] Types -------------------------------------------------------------------------
// No X server or Wayland compositor (or SDL's video could not start).
struct NoDisplay : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DisplayOptions {
  bool fullscreen = true;       // desktop-resolution fullscreen on `screen`
  int width = 1024, height = 768;  // window size when not fullscreen
  bool resizable = false;       // a window a person can resize (the workbench; sessions keep theirs)
  int screen = 0;               // SDL display index
  bool vsync = true;            // ask for swap interval 1
  int measure_frames = 60;      // flips timed at start to measure the refresh rate
  double fallback_hz = 60;      // timer pacing rate when the mode reports no refresh rate
  std::string title = "metamerlab";
  std::string font;             // TTF for text; "" = DejaVu Sans if installed, else ImGui's
  float font_px = 28;           // text size in pixels
  // Gamma correction (set_gamma_table): 256 drive levels (0-1), one per sRGB-encoded input
  // level, from the station profile (experiments::gamma_correction_table); empty: none.
  std::vector<float> gamma_table;
};

struct DisplayInfo {
  std::string video_driver;     // SDL's ("x11", "wayland", ...)
  std::string gl_version, gl_renderer;
  int width = 0, height = 0;    // drawable size in pixels
  bool fullscreen = false;
  bool vsync = false;           // swap interval 1 accepted
  std::string vsync_note;       // why not, when refused or ineffective
  std::string pacing;           // "vsync" or "timer"
  double nominal_hz = 0;        // the display mode's refresh rate (0: not reported)
  double unpaced_hz = 0;        // flip rate measured before choosing timer pacing (0: n/a)
  double measured_hz = 0;       // 1000 / median flip interval measured at start
  double frame_hz = 0;          // the rate durations are converted with
  int measured_frames = 0;
  std::string gamma = "none";   // "shader": every frame goes through the gamma table
};

// The display as recorded with a session (driver, renderer, size, pacing, refresh rates).
std::string display_provenance_json(const DisplayInfo& di);

struct Flip {
  int64_t index = 0;            // flips since the display opened
  double t = 0;                 // now_s() right after SwapWindow + glFinish
  double interval_ms = 0;       // since the previous flip (0 for the first)
  bool dropped = false;         // interval > 1.5 x frame period
};

struct Color {
  float r = 0, g = 0, b = 0, a = 1;
  static Color grey(float v) { return {v, v, v, 1}; }
};

struct Rect {
  float x = 0, y = 0, w = 0, h = 0;  // pixels, origin top left
  bool contains(float px, float py) const { return px >= x && px < x + w && py >= y && py < y + h; }
  float cx() const { return x + w / 2; }
  float cy() const { return y + h / 2; }
};

// How a texture is sampled when drawn at another size than its own.
//   automatic  texel-exact (nearest) at its own size on whole pixels, else linear
//   nearest    each texel a block of screen pixels (pixel-exact at whole factors)
//   linear     bilinear filtering
enum class Filter { automatic, nearest, linear };

struct Texture {
  unsigned id = 0;              // GL texture name; 0 = none
  int width = 0, height = 0;
  bool valid() const { return id != 0; }
};

// 8-bit RGB pixels, rows top to bottom.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  const uint8_t* at(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};
// Writes an Image as PNG (stb); throws naming the path.
void save_png(const std::string& path, const Image& img);

struct InputEvent {
  enum Type { key_down, text_input, mouse_down, mouse_up, mouse_move, quit, focus_lost } type = key_down;
  double t = 0;                 // now_s() when polled
  uint32_t sdl_ms = 0;          // SDL's own event timestamp (ms since SDL started)
  std::string key;              // key name (SDL_GetKeyName: "A", "Return", "Escape", "1")
  bool ctrl = false, shift = false, alt = false, repeat = false;
  std::string text;             // UTF-8 for text events
  float x = 0, y = 0;           // pointer position in drawable pixels
  int button = 0;               // 1 left, 2 middle, 3 right
};

// [SECTION] Display -----------------------------------------------------------------------
class Display {
 public:
  // Opens the window, makes the GL context, sets vsync and measures the refresh rate.
  // Throws NoDisplay without a display, std::runtime_error for other failures.
  explicit Display(const DisplayOptions& opt = {});
  ~Display();
  Display(const Display&) = delete;
  Display& operator=(const Display&) = delete;

  const DisplayInfo& info() const { return info_; }
  int width() const { return info_.width; }
  int height() const { return info_.height; }

  // Timing ---------------------------------------------------------------------------
  // Shows what was drawn: renders pending text, swaps, glFinish, timestamps.
  Flip flip();
  double frame_ms() const { return 1000.0 / info_.frame_hz; }
  FrameCount frames_for(double ms) const { return ms_to_frames(ms, info_.frame_hz); }
  const FrameLog& frame_log() const { return log_; }
  void reset_frame_log();  // keeps the period; the next flip starts a new interval series

  // Textures -------------------------------------------------------------------------
  // Uploads a CHW image (1, 3 or 4 channels) whose values span [lo, hi] as 8-bit RGBA
  // (values clamped, rounded to the nearest of 256 levels). Do this before the trial.
  Texture upload(const stimuli::Array& chw, float lo = 0, float hi = 1);
  Texture upload_rgba8(const uint8_t* rgba, int width, int height);
  void release(Texture& t);

  // Drawing into the back buffer (shown by the next flip) -----------------------------
  void clear(Color c);
  void fill_rect(const Rect& r, Color c);
  // Textured quad, sampled as `filter` says (automatic: texel-exact when r has the
  // texture's size on whole pixels, else linear). `tint` multiplies the texels.
  void draw_texture(const Texture& t, const Rect& r, Color tint = {1, 1, 1, 1}, Filter filter = Filter::automatic);
  // Text (UTF-8) drawn over everything else in this frame; (x, y) is the anchor, and
  // align_x / align_y place it: 0 left/top, 0.5 centred, 1 right/bottom.
  void text(const std::string& s, float x, float y, Color c, float px = 0, float align_x = 0.5f,
            float align_y = 0.5f);
  // Size in pixels of a text at px (0: the default size).
  std::pair<float, float> text_size(const std::string& s, float px = 0);
  // Starts an ImGui frame for widgets (launch and instruction screens); ImGui gets the
  // events poll_events() reads and its output is drawn at the next capture() or flip().
  // ImGui coordinates are window points: multiply by pixel_scale() for drawable pixels.
  void begin_imgui();
  float pixel_scale() const { return scale_; }
  // Gamma correction of everything drawn (stimuli, masks, fixation, background, text):
  // each frame is drawn offscreen and goes to the window through `table` (256 drive
  // levels, 0-1, one per 8-bit input level, linear in between; a fragment shader), so
  // capture() reads what the screen shows. Empty: none (frames go straight to the window).
  // info().gamma says which ("shader" or "none"). Throws std::invalid_argument for a bad
  // table, std::runtime_error when OpenGL refuses the offscreen frame.
  void set_gamma_table(const std::vector<float>& table);
  // Rect of given size centred on the screen, on whole pixels.
  Rect centered(float w, float h) const;

  // Screenshots: the frame drawn so far (call before flip()).
  Image capture();

  // Input ----------------------------------------------------------------------------
  std::vector<InputEvent> poll_events();
  void show_cursor(bool on);
  // Puts an event on SDL's queue as if it came from the keyboard or mouse (the scripted
  // participant uses this, so scripted sessions go through the real event path).
  void push_key(const std::string& key_name, bool ctrl = false, bool shift = false);
  void push_click(float x, float y, int button = 1);
  // Moves the system's pointer into the window at (x, y) drawable pixels (SDL_WarpMouseInWindow):
  // ImGui reads the pointer's position from the system, not from pushed events, so scripted
  // clicks on ImGui widgets (the workbench's tests) move the pointer first, then push_click.
  void move_pointer(float x, float y);
  // Window size in points (SDL_GetWindowSize: what the settings remember), and a request for
  // another (SDL_SetWindowSize, as the window manager would resize it): width() and height()
  // follow once the window has it (poll_events reads SDL's size change).
  std::pair<int, int> window_size() const;
  void set_window_size(int w, int h);
  void push_text(const std::string& utf8);
  // A turn of the mouse wheel over the window (positive: away from the user, scrolling up).
  void push_wheel(float dy);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DisplayInfo info_;
  FrameLog log_;
  double next_deadline_ = 0;  // timer pacing: the next grid point
  int64_t flips_ = 0;
  float scale_ = 1;           // drawable pixels per window point (HiDPI)
  void measure_refresh(const DisplayOptions& opt);
  Flip raw_flip(bool pace);
  void render_pending_text();
  void resized();             // the window's new size: drawable size, pixel scale, the gamma frame
};

}  // namespace mm::app
