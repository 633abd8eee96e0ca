// stimuli/demo.cpp: the procedural demo image set (see demo.h).
#include "stimuli/demo.h"

#include <cmath>
#include <filesystem>
#include <random>

namespace fs = std::filesystem;

namespace mm::stimuli {

std::vector<std::string> demo_shape_categories() { return {"checker", "disc", "ring", "stripes"}; }

std::vector<Item> write_demo_shapes(const std::string& dir, int per_category, int size, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<Item> items;
  const float pi = 3.14159265f;
  for (const auto& cat : demo_shape_categories()) {
    ensure_writable_dir(dir + "/" + cat);
    for (int k = 0; k < per_category; ++k) {
      float bg[3], fg[3];
      for (int c = 0; c < 3; ++c) {
        bg[c] = u(rng);
        fg[c] = u(rng);
      }
      // Keep figure and ground apart in luminance so every image has a visible shape.
      float lb = (bg[0] + bg[1] + bg[2]) / 3, lf = (fg[0] + fg[1] + fg[2]) / 3;
      if (std::fabs(lb - lf) < 0.35f)
        for (int c = 0; c < 3; ++c) fg[c] = lb > 0.5f ? fg[c] * 0.3f : 0.7f + 0.3f * fg[c];
      float cx = size * (0.35f + 0.3f * u(rng)), cy = size * (0.35f + 0.3f * u(rng));
      float r = size * (0.18f + 0.14f * u(rng));
      float period = size * (0.08f + 0.1f * u(rng));
      float theta = pi * u(rng);
      Array a;
      a.shape = {3, size, size};
      a.data.assign(static_cast<size_t>(3) * size * size, 0.0f);
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          float dx = x + 0.5f - cx, dy = y + 0.5f - cy, d = std::sqrt(dx * dx + dy * dy);
          float along = dx * std::cos(theta) + dy * std::sin(theta);
          float across = -dx * std::sin(theta) + dy * std::cos(theta);
          bool on = false;
          if (cat == "disc") on = d < r;
          else if (cat == "ring") on = d < r && d > r * 0.6f;
          else if (cat == "stripes") on = std::fmod(along + 1000 * period, 2 * period) < period;
          else on = (std::fmod(along + 1000 * period, 2 * period) < period) != (std::fmod(across + 1000 * period, 2 * period) < period);
          for (int c = 0; c < 3; ++c) a.data[(static_cast<size_t>(c) * size + y) * size + x] = on ? fg[c] : bg[c];
        }
      std::string path = dir + "/" + cat + "/" + cat + "_" + std::to_string(k) + ".png";
      save_png(path, a, 0.0f, 1.0f);
      items.push_back({path, cat});
    }
  }
  return items;
}

}  // namespace mm::stimuli
