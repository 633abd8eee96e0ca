// app/studio_thumbnails.h (internal to the workbench): images shown small, read lazily
// through stimuli::load_image, uploaded as textures and kept in a cache of bounded size.
// The Stimuli panel's grid (app/studio_library.h) and the designer's stimulus sets
// (app/studio_designer.h) each hold one. A few images are read per frame, so a panel full
// of new thumbnails fills in over some frames while the window stays responsive.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "app/display.h"

namespace mm::app::studio {

class ThumbnailCache {
 public:
  // At most `max_textures` textures; at most `loads_per_frame` images read per frame.
  ThumbnailCache(Display& d, size_t max_textures, int loads_per_frame)
      : d_(d), max_(max_textures), loads_per_frame_(loads_per_frame) {}
  ~ThumbnailCache();
  ThumbnailCache(const ThumbnailCache&) = delete;
  ThumbnailCache& operator=(const ThumbnailCache&) = delete;

  // Once per frame, before the first get().
  void begin_frame();
  // Once per frame, after the last get(): releases the textures least recently drawn (not
  // this frame) beyond the bound, down to three quarters of it.
  void end_frame();
  // The texture of the image at `path`, scaled to px x px (cached by size, the file's
  // SHA-256 when known, so a file made again is shown anew, and path). nullptr while it is
  // not read yet (`pending` set: this frame's reads are used up) or when the file is missing
  // or not an image.
  const Texture* get(const std::string& path, int px, bool& pending, const std::string& sha256 = "");

  size_t size() const { return cache_.size(); }
  size_t bytes() const;  // RGBA8

 private:
  struct Entry {
    Texture tex;
    bool failed = false;  // missing, or not an image
    int64_t used = 0;     // the frame it was last drawn
  };
  Display& d_;
  size_t max_;
  int loads_per_frame_;
  std::map<std::string, Entry> cache_;  // key: size | SHA-256 | path
  int loads_ = 0;                       // this frame
  int64_t frame_ = 0;
};

}  // namespace mm::app::studio
