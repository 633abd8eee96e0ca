// app/studio_thumbnails.cpp: the workbench's thumbnail cache (app/studio_thumbnails.h).
#include "app/studio_thumbnails.h"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "stimuli/stimuli.h"

namespace mm::app::studio {

ThumbnailCache::~ThumbnailCache() {
  for (auto& [k, e] : cache_) d_.release(e.tex);
}

void ThumbnailCache::begin_frame() {
  ++frame_;
  loads_ = 0;
}

void ThumbnailCache::end_frame() {
  if (cache_.size() <= max_) return;
  std::vector<std::pair<int64_t, std::string>> old;
  for (const auto& [k, e] : cache_)
    if (e.used < frame_) old.emplace_back(e.used, k);
  std::sort(old.begin(), old.end());
  for (const auto& [used, k] : old) {
    if (cache_.size() <= max_ * 3 / 4) break;
    d_.release(cache_[k].tex);
    cache_.erase(k);
  }
}

const Texture* ThumbnailCache::get(const std::string& path, int px, bool& pending, const std::string& sha256) {
  const std::string key = std::to_string(px) + "|" + sha256 + "|" + path;
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    if (loads_ >= loads_per_frame_) {
      pending = true;
      return nullptr;
    }
    ++loads_;
    Entry e;
    try {
      stimuli::ImageSpec spec;
      spec.channels = 3;
      spec.width = spec.height = px;
      e.tex = d_.upload(stimuli::load_image(path, spec), 0, 1);
    } catch (const std::exception&) {
      e.failed = true;  // the caller says so where the image would be
    }
    it = cache_.emplace(key, e).first;
  }
  it->second.used = frame_;
  return it->second.failed ? nullptr : &it->second.tex;
}

size_t ThumbnailCache::bytes() const {
  size_t n = 0;
  for (const auto& [k, e] : cache_) n += static_cast<size_t>(e.tex.width) * static_cast<size_t>(e.tex.height) * 4;
  return n;
}

}  // namespace mm::app::studio
