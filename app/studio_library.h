// app/studio_library.h (internal to the workbench, app/studio.cpp): the Stimuli panel: the
// database's metamers (data/library.h) as a grid of references x model x layer with
// thumbnails and pass/fail marks, a category filter, and the selected cell's reference and
// metamer side by side with its measures. Thumbnails are loaded lazily (only for cells in
// view, a few per frame, through stimuli::load_image), uploaded as textures and kept in a
// cache of bounded size.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/display.h"
#include "app/studio.h"
#include "data/library.h"

namespace mm::app::studio {

class StimulusLibrary {
 public:
  static constexpr int kThumbPx = 96;          // thumbnails are loaded at this size
  static constexpr size_t kMaxThumbs = 1500;   // at most this many textures (about 55 MB)
  static constexpr int kLoadsPerFrame = 12;    // images read per frame (the window stays responsive)

  explicit StimulusLibrary(Display& d) : d_(d) {}
  ~StimulusLibrary();
  // Re-reads the database (a missing file or an unreadable one becomes status()).
  // `store`: the database opened for this refresh, or null with `why` saying why not.
  void refresh(data::Store* store, const std::string& why);
  // Draws the panel into the current ImGui window and fills the probe's Stimuli fields.
  void draw(float scale, StudioProbe& probe);
  const std::string& status() const { return status_; }

 private:
  struct Thumb {
    Texture tex;
    bool failed = false;  // the file is missing or not an image
    int64_t used = 0;     // the frame it was last drawn
  };
  // The texture of an image at `px` (cached by size, path and the file's SHA-256 when known,
  // so a file made again is shown anew; nullptr while not loaded yet or failed).
  const Thumb* thumb(const std::string& path, int px, bool& pending, const std::string& sha256 = "");
  void evict();
  void draw_detail(const data::LibraryMetamer& m, float scale, StudioProbe& probe);

  Display& d_;
  std::string status_;
  std::vector<data::LibraryMetamer> lib_;
  std::vector<std::string> categories_;   // "All" first
  int category_ = 0;
  int64_t selected_ = 0;
  std::map<std::string, Thumb> thumbs_;   // key: size | SHA-256 | path
  int loads_ = 0;                         // this frame
  int64_t frame_ = 0;
};

}  // namespace mm::app::studio
