// stimuli/emoji16.cpp: builds the emoji16 image set. Icons of ten npm emoji sets
// (node_modules/@iconify-json/<style>/icons.json, pinned by package-lock.json) are chosen by
// stimuli/emoji16_icons.tsv, turned into SVG documents, rasterized once each by rsvg-convert
// (librsvg2-bin) and then drawn many times with seeded augmentation: scale, rotation,
// mirror, position, colour jitter, greyscale, and backgrounds of uniform colour, noise and
// gradients. The warp is an inverse affine map with trilinear (mip-mapped bilinear)
// sampling of premultiplied RGBA; the alpha compositing is done here. One or more styles
// are held out: they supply the test and reference splits and never the training split.
//
// Sections
//   [SECTION] Mapping      styles, the TSV, icons.json and alias resolution, checks
//   [SECTION] Packages     node_modules / package-lock checks and versions
//   [SECTION] Rasterizing  SVG documents, rsvg-convert, mip pyramids
//   [SECTION] Drawing      backgrounds, colour jitter, the warp, one augmented image
//   [SECTION] Build        build_emoji16
#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "stimuli/resources.h"
#include "stimuli/dataset_util.h"
#include "stimuli/datasets.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::stimuli {

// [SECTION] Mapping -----------------------------------------------------------------------
const std::vector<std::string>& emoji16_styles() {
  static const std::vector<std::string> s = {"noto",     "twemoji",  "openmoji", "fluent-emoji-flat",
                                             "emojione", "fluent-emoji-high-contrast",
                                             // older and other designs: more drawings of each object
                                             "noto-v1", "emojione-v1", "fxemoji", "emojione-monotone"};
  return s;
}

std::string default_icons_root() { return data_path("", "emoji16 icon sets"); }
std::string default_emoji16_mapping() { return data_path("stimuli/emoji16_icons.tsv", "emoji16 mapping"); }

namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

std::string read_text(const std::string& path, const std::string& fix) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path + ": cannot open for reading; " + fix);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string package_dir(const std::string& root, const std::string& style) {
  return (fs::path(root) / "node_modules" / "@iconify-json" / style).string();
}

// One icon ready to draw: its SVG body and box after following aliases.
struct Icon {
  std::string body;
  double left = 0, top = 0, width = 16, height = 16;
  bool hflip = false, vflip = false;
  int rotate = 0;  // quarter turns clockwise
};

// A loaded icons.json (plus info.json's licence and whether the set is monochrome).
struct IconSet {
  std::string style;
  json icons, aliases;
  double width = 16, height = 16;
  bool monochrome = false;
  json info;

  bool has(const std::string& name) const { return icons.contains(name) || aliases.contains(name); }

  Icon resolve(const std::string& name) const {
    Icon ic;
    bool have_l = false, have_t = false, have_w = false, have_h = false;
    auto take = [&](const json& j) {
      if (!have_l && j.contains("left")) ic.left = j["left"].get<double>(), have_l = true;
      if (!have_t && j.contains("top")) ic.top = j["top"].get<double>(), have_t = true;
      if (!have_w && j.contains("width")) ic.width = j["width"].get<double>(), have_w = true;
      if (!have_h && j.contains("height")) ic.height = j["height"].get<double>(), have_h = true;
      if (j.value("hFlip", false)) ic.hflip = !ic.hflip;
      if (j.value("vFlip", false)) ic.vflip = !ic.vflip;
      ic.rotate += j.value("rotate", 0);
    };
    std::string cur = name;
    for (int depth = 0; depth < 16; ++depth) {
      if (icons.contains(cur)) {
        const json& j = icons[cur];
        take(j);
        ic.body = j.at("body").get<std::string>();
        if (!have_w) ic.width = width;
        if (!have_h) ic.height = height;
        ic.rotate = ((ic.rotate % 4) + 4) % 4;
        return ic;
      }
      if (!aliases.contains(cur)) break;
      take(aliases[cur]);
      cur = aliases[cur].at("parent").get<std::string>();
    }
    fail("@iconify-json/" + style + ": icon \"" + name + "\" not found (or an alias loop); fix stimuli/emoji16_icons.tsv");
  }
};

IconSet load_icon_set(const std::string& root, const std::string& style) {
  const std::string dir = package_dir(root, style);
  IconSet s;
  s.style = style;
  const std::string fix = "run npm ci in " + root + " (needs npm)";
  json j;
  try {
    j = json::parse(read_text(dir + "/icons.json", fix));
  } catch (const json::exception& e) {
    fail(dir + "/icons.json: not valid JSON (" + std::string(e.what()) + "); " + fix);
  }
  s.icons = j.value("icons", json::object());
  s.aliases = j.value("aliases", json::object());
  s.width = j.value("width", 16.0);
  s.height = j.value("height", 16.0);
  try {
    s.info = json::parse(read_text(dir + "/info.json", fix));
  } catch (const json::exception&) {
    s.info = json::object();
  }
  s.monochrome = !s.info.value("palette", true);
  return s;
}

bool is_known(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

std::vector<IconChoice> load_emoji16_mapping(const std::string& path) {
  const std::string text = read_text(path, "check the path (the mapping ships as stimuli/emoji16_icons.tsv)");
  std::vector<IconChoice> out;
  std::set<std::pair<std::string, std::string>> seen;
  int lineno = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty() || trim(line)[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(lineno) + ": ";
    auto cols = split(line, '\t');
    if (cols.size() != 3) fail(where + "expected 3 tab-separated columns (category, style, icons); fix the line");
    IconChoice c{trim(cols[0]), trim(cols[1]), {}};
    if (!is_known(dataset_categories(), c.category)) fail(where + "unknown category \"" + c.category + "\"");
    if (!is_known(emoji16_styles(), c.style)) fail(where + "unknown style \"" + c.style + "\"");
    if (!seen.insert({c.category, c.style}).second)
      fail(where + "second line for " + c.category + " in " + c.style + "; merge them");
    for (const auto& n : split(cols[2], ',')) {
      std::string t = trim(n);
      if (t.empty()) continue;
      if (is_known(c.icons, t)) fail(where + "icon \"" + t + "\" listed twice");
      c.icons.push_back(t);
    }
    if (c.icons.empty()) fail(where + c.category + " has no icon in " + c.style + "; every category needs one per style");
    out.push_back(std::move(c));
  }
  for (const auto& cat : dataset_categories())
    for (const auto& st : emoji16_styles())
      if (!seen.count({cat, st})) fail(path + ": no line for " + cat + " in " + st + "; every category needs icons in every style");
  return out;
}

namespace {

std::vector<std::string> mapping_problems(const std::vector<IconChoice>& mapping, const std::string& icons_root,
                                          std::map<std::string, IconSet>& sets) {
  std::vector<std::string> problems;
  for (const auto& c : mapping) {
    if (!sets.count(c.style)) sets.emplace(c.style, load_icon_set(icons_root, c.style));
    const IconSet& s = sets.at(c.style);
    for (const auto& n : c.icons)
      if (!s.has(n)) problems.push_back(c.category + "/" + c.style + ": no icon \"" + n + "\" in @iconify-json/" + c.style);
  }
  return problems;
}

}  // namespace

std::vector<std::string> check_emoji16_mapping(const std::vector<IconChoice>& mapping, const std::string& icons_root) {
  std::map<std::string, IconSet> sets;
  return mapping_problems(mapping, icons_root, sets);
}

// [SECTION] Packages ----------------------------------------------------------------------
namespace {

struct PackageInfo {
  std::string name, version, integrity, license, license_url, author, author_url;
};

// Checks the icon sets are installed as locked and returns their versions and licences.
std::vector<PackageInfo> check_packages(const std::string& root, const std::vector<std::string>& styles) {
  const std::string ci = "run npm ci in " + root;
  for (const auto& st : styles) {
    std::error_code ec;
    if (!fs::exists(package_dir(root, st) + "/icons.json", ec)) {
      if (find_on_path("npm").empty())
        fail(package_dir(root, st) + "/icons.json is missing and npm is not installed; install the Debian package npm "
             "(apt-get install npm, or run tools/setup.sh), then " + ci);
      fail(package_dir(root, st) + "/icons.json is missing; " + ci + " (needs npm)");
    }
  }
  const std::string lock_path = (fs::path(root) / "package-lock.json").string();
  json lock;
  try {
    lock = json::parse(read_text(lock_path, "restore it from git, then " + ci));
  } catch (const json::exception& e) {
    fail(lock_path + ": not valid JSON (" + std::string(e.what()) + "); restore it from git");
  }
  std::vector<PackageInfo> out;
  for (const auto& st : styles) {
    PackageInfo p;
    p.name = "@iconify-json/" + st;
    const json& entry = lock["packages"].value("node_modules/" + p.name, json::object());
    if (!entry.contains("version")) fail(lock_path + ": does not pin " + p.name + "; restore package-lock.json from git");
    p.version = entry["version"].get<std::string>();
    p.integrity = entry.value("integrity", "");
    json pkg;
    try {
      pkg = json::parse(read_text(package_dir(root, st) + "/package.json", ci));
    } catch (const json::exception&) {
      fail(package_dir(root, st) + "/package.json: not valid JSON; " + ci);
    }
    const std::string installed = pkg.value("version", "");
    if (installed != p.version)
      fail(p.name + " " + installed + " is installed but package-lock.json pins " + p.version + "; " + ci);
    json info;
    try {
      info = json::parse(read_text(package_dir(root, st) + "/info.json", ci));
    } catch (const json::exception&) {
      info = json::object();
    }
    json lic = info.value("license", json::object());
    p.license = lic.value("spdx", pkg.value("license", ""));
    p.license_url = lic.value("url", "");
    json au = info.value("author", json::object());
    p.author = au.value("name", "");
    p.author_url = au.value("url", "");
    out.push_back(p);
  }
  return out;
}

// [SECTION] Rasterizing -------------------------------------------------------------------
std::string num(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

// A square SVG document of side px showing the icon centred, with currentColor = colour.
std::string svg_document(const Icon& ic, int px, const std::string& colour) {
  std::string body = ic.body;
  double l = ic.left, t = ic.top, w = ic.width, h = ic.height;
  if (ic.hflip || ic.vflip) {
    std::string tr = "translate(" + num(ic.hflip ? 2 * l + w : 0) + " " + num(ic.vflip ? 2 * t + h : 0) + ") scale(" +
                     (ic.hflip ? "-1" : "1") + " " + (ic.vflip ? "-1" : "1") + ")";
    body = "<g transform=\"" + tr + "\">" + body + "</g>";
  }
  if (ic.rotate) {
    const double cx = l + w / 2, cy = t + h / 2;
    body = "<g transform=\"rotate(" + std::to_string(90 * ic.rotate) + " " + num(cx) + " " + num(cy) + ")\">" + body + "</g>";
    if (ic.rotate % 2) {
      std::swap(w, h);
      l = cx - w / 2;
      t = cy - h / 2;
    }
  }
  const double side = std::max(w, h);
  l -= (side - w) / 2;
  t -= (side - h) / 2;
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"" +
         std::to_string(px) + "\" height=\"" + std::to_string(px) + "\" viewBox=\"" + num(l) + " " + num(t) + " " +
         num(side) + " " + num(side) + "\" color=\"" + colour + "\">" + body + "</svg>\n";
}

// Premultiplied RGBA planes, one per mip level (level 0 = the raster, each next halves).
struct Mip {
  int side = 0;
  std::vector<float> px;  // side*side*4, interleaved
};
struct Master {
  std::vector<Mip> levels;
};

Master load_master(const std::string& png, int px) {
  int w = 0, h = 0, n = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> data(stbi_load(png.c_str(), &w, &h, &n, 4), stbi_image_free);
  if (!data) fail(png + ": rsvg-convert wrote no readable PNG; check that librsvg2-bin works (rsvg-convert --version)");
  if (w != px || h != px)
    fail(png + ": rsvg-convert wrote " + std::to_string(w) + "x" + std::to_string(h) + ", expected " + std::to_string(px) +
         " square; check the rsvg-convert version");
  Master m;
  Mip base;
  base.side = px;
  base.px.resize(static_cast<size_t>(px) * px * 4);
  for (size_t i = 0; i < static_cast<size_t>(px) * px; ++i) {
    const unsigned char* p = data.get() + 4 * i;
    float a = p[3] / 255.0f;
    for (int c = 0; c < 3; ++c) base.px[4 * i + c] = p[c] / 255.0f * a;
    base.px[4 * i + 3] = a;
  }
  m.levels.push_back(std::move(base));
  while (m.levels.back().side >= 8) {
    const Mip& prev = m.levels.back();
    Mip next;
    next.side = prev.side / 2;
    next.px.resize(static_cast<size_t>(next.side) * next.side * 4);
    for (int y = 0; y < next.side; ++y)
      for (int x = 0; x < next.side; ++x)
        for (int c = 0; c < 4; ++c) {
          auto at = [&](int yy, int xx) { return prev.px[(static_cast<size_t>(yy) * prev.side + xx) * 4 + c]; };
          next.px[(static_cast<size_t>(y) * next.side + x) * 4 + c] =
              0.25f * (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1));
        }
    m.levels.push_back(std::move(next));
  }
  return m;
}

// Bilinear sample of premultiplied RGBA at continuous pixel coordinates (centres at +0.5);
// transparent outside.
void sample_bilinear(const Mip& m, double u, double v, float out[4]) {
  const double x = u - 0.5, y = v - 0.5;
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const float fx = static_cast<float>(x - x0), fy = static_cast<float>(y - y0);
  for (int c = 0; c < 4; ++c) out[c] = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const int xx = x0 + dx, yy = y0 + dy;
      if (xx < 0 || yy < 0 || xx >= m.side || yy >= m.side) continue;
      const float wgt = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
      const float* p = &m.px[(static_cast<size_t>(yy) * m.side + xx) * 4];
      for (int c = 0; c < 4; ++c) out[c] += wgt * p[c];
    }
}

// [SECTION] Drawing -----------------------------------------------------------------------
struct Rgb {
  float r = 0, g = 0, b = 0;
};
float luma(const Rgb& c) { return 0.299f * c.r + 0.587f * c.g + 0.114f * c.b; }
Rgb random_colour(ds::Rng& rng) {
  return {static_cast<float>(rng.uniform()), static_cast<float>(rng.uniform()), static_cast<float>(rng.uniform())};
}

// Everything drawn for one image (recorded in the index).
struct Params {
  std::string style, icon;
  double scale = 0, rotation = 0, dx = 0, dy = 0;
  bool mirror = false, grey = false;
  double brightness = 1, contrast = 1, saturation = 1, hue = 0;
  float hue_cos = 1, hue_sin = 0;  // of the hue angle, computed once per image
  std::string background;
};

// Background planes (RGB interleaved, size*size*3) of one of five kinds.
std::vector<float> draw_background(ds::Rng& rng, int size, std::string& kind) {
  std::vector<float> bg(static_cast<size_t>(size) * size * 3);
  auto put = [&](int x, int y, const Rgb& c) {
    float* p = &bg[(static_cast<size_t>(y) * size + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  };
  const double pick = rng.uniform();
  if (pick < 0.15) {
    kind = "white";
    std::fill(bg.begin(), bg.end(), 1.0f);
  } else if (pick < 0.40) {
    kind = "uniform";
    Rgb c = random_colour(rng);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) put(x, y, c);
  } else if (pick < 0.70) {
    // Pixel noise around a colour, or smooth noise: a coarse random grid upsampled.
    const bool smooth = rng.chance(0.5);
    const double sigma = rng.uniform(0.03, 0.2);
    if (smooth) {
      kind = "smooth-noise";
      const int g = 2 + rng.below(6);
      std::vector<Rgb> grid(static_cast<size_t>(g + 1) * (g + 1));
      for (auto& c : grid) c = random_colour(rng);
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          const double gx = (x + 0.5) / size * g, gy = (y + 0.5) / size * g;
          const int ix = std::min(g - 1, static_cast<int>(gx)), iy = std::min(g - 1, static_cast<int>(gy));
          const float fx = static_cast<float>(gx - ix), fy = static_cast<float>(gy - iy);
          auto at = [&](int a, int b) { return grid[static_cast<size_t>(b) * (g + 1) + a]; };
          Rgb c00 = at(ix, iy), c10 = at(ix + 1, iy), c01 = at(ix, iy + 1), c11 = at(ix + 1, iy + 1);
          auto lerp2 = [&](float a, float b, float c, float d) {
            return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
          };
          put(x, y, {lerp2(c00.r, c10.r, c01.r, c11.r), lerp2(c00.g, c10.g, c01.g, c11.g), lerp2(c00.b, c10.b, c01.b, c11.b)});
        }
      for (float& v : bg) v += static_cast<float>(0.3 * sigma * rng.normal());
    } else {
      kind = "pixel-noise";
      Rgb c = random_colour(rng);
      const bool colour_noise = rng.chance(0.5);
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          if (colour_noise) {
            put(x, y, {static_cast<float>(c.r + sigma * rng.normal()), static_cast<float>(c.g + sigma * rng.normal()),
                       static_cast<float>(c.b + sigma * rng.normal())});
          } else {
            const float n = static_cast<float>(sigma * rng.normal());
            put(x, y, {c.r + n, c.g + n, c.b + n});
          }
        }
    }
  } else {
    const Rgb a = random_colour(rng), b = random_colour(rng);
    const bool radial = rng.chance(0.35);
    kind = radial ? "radial-gradient" : "linear-gradient";
    const double ang = rng.uniform(0, 6.283185307179586);
    const double cx = rng.uniform(0.2, 0.8), cy = rng.uniform(0.2, 0.8), reach = rng.uniform(0.5, 1.0);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const double u = (x + 0.5) / size, v = (y + 0.5) / size;
        double t;
        if (radial) {
          t = std::hypot(u - cx, v - cy) / reach;
        } else {
          t = 0.5 + (u - 0.5) * std::cos(ang) + (v - 0.5) * std::sin(ang);
        }
        const float f = static_cast<float>(std::clamp(t, 0.0, 1.0));
        put(x, y, {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f});
      }
  }
  for (float& v : bg) v = std::clamp(v, 0.0f, 1.0f);
  return bg;
}

// Brightness, contrast (about mid-grey), saturation (about luma) and a hue rotation in YIQ.
Rgb jitter(Rgb c, const Params& p) {
  c.r *= static_cast<float>(p.brightness), c.g *= static_cast<float>(p.brightness), c.b *= static_cast<float>(p.brightness);
  const float k = static_cast<float>(p.contrast);
  c.r = (c.r - 0.5f) * k + 0.5f, c.g = (c.g - 0.5f) * k + 0.5f, c.b = (c.b - 0.5f) * k + 0.5f;
  const float y = luma(c), s = static_cast<float>(p.saturation);
  c.r = y + (c.r - y) * s, c.g = y + (c.g - y) * s, c.b = y + (c.b - y) * s;
  if (p.hue != 0) {
    const float i = 0.596f * c.r - 0.274f * c.g - 0.322f * c.b;
    const float q = 0.211f * c.r - 0.523f * c.g + 0.312f * c.b;
    const float i2 = i * p.hue_cos - q * p.hue_sin, q2 = i * p.hue_sin + q * p.hue_cos;
    c.r = y + 0.956f * i2 + 0.621f * q2;
    c.g = y - 0.272f * i2 - 0.647f * q2;
    c.b = y - 1.106f * i2 + 1.703f * q2;
  }
  c.r = std::clamp(c.r, 0.0f, 1.0f), c.g = std::clamp(c.g, 0.0f, 1.0f), c.b = std::clamp(c.b, 0.0f, 1.0f);
  return c;
}

// A colour for a monochrome icon that stands out from a background of luma bg_luma.
Rgb contrasting_tint(ds::Rng& rng, float bg_luma) {
  Rgb c = random_colour(rng);
  const float y = std::max(1e-3f, std::min(0.999f, luma(c)));
  float target = bg_luma > 0.5f ? static_cast<float>(rng.uniform(0.0, std::max(0.05, bg_luma - 0.4)))
                                : static_cast<float>(rng.uniform(std::min(0.95, bg_luma + 0.4), 1.0));
  if (target < y) {
    const float k = target / y;
    c.r *= k, c.g *= k, c.b *= k;
  } else {
    const float k = (1 - target) / (1 - y);
    c.r = 1 - (1 - c.r) * k, c.g = 1 - (1 - c.g) * k, c.b = 1 - (1 - c.b) * k;
  }
  return c;
}

// One augmented image (CHW in [0,1]) of the icon in `master`.
Array draw_item(ds::Rng& rng, const Master& master, bool monochrome, int size, Params& p) {
  p.scale = rng.uniform(0.55, 0.95);
  p.rotation = rng.uniform(-30.0, 30.0);
  p.mirror = rng.chance(0.5);
  const double room = (1 - p.scale) / 2;
  p.dx = rng.uniform(-room, room);
  p.dy = rng.uniform(-room, room);
  p.brightness = rng.uniform(0.75, 1.25);
  p.contrast = rng.uniform(0.75, 1.25);
  p.saturation = rng.uniform(0.5, 1.5);
  p.hue = rng.uniform(-0.06, 0.06);
  p.hue_cos = static_cast<float>(std::cos(p.hue * 6.283185307179586));
  p.hue_sin = static_cast<float>(std::sin(p.hue * 6.283185307179586));
  p.grey = rng.chance(0.15);
  std::vector<float> bg = draw_background(rng, size, p.background);
  double mean_luma = 0;
  for (size_t i = 0; i < bg.size(); i += 3) mean_luma += 0.299 * bg[i] + 0.587 * bg[i + 1] + 0.114 * bg[i + 2];
  mean_luma /= static_cast<double>(size) * size;
  const Rgb tint = monochrome ? contrasting_tint(rng, static_cast<float>(mean_luma)) : Rgb{1, 1, 1};

  // Output pixel -> icon box coordinates in [-0.5, 0.5]^2 -> master pixels.
  const double box = p.scale * size;
  const double cx = size * (0.5 + p.dx), cy = size * (0.5 + p.dy);
  const double th = p.rotation * 3.141592653589793 / 180.0, ct = std::cos(th), st = std::sin(th);
  const int m0 = master.levels[0].side;
  const double minification = m0 / box;  // master pixels per output pixel
  double lod = std::max(0.0, std::log2(minification));
  const int last = static_cast<int>(master.levels.size()) - 1;
  int l0 = std::min(last, static_cast<int>(std::floor(lod)));
  const int l1 = std::min(last, l0 + 1);
  const float tl = static_cast<float>(std::clamp(lod - l0, 0.0, 1.0));

  Array out;
  out.shape = {3, size, size};
  out.data.resize(static_cast<size_t>(3) * size * size);
  const size_t plane = static_cast<size_t>(size) * size;
  const double margin = 0.5 + 2.0 / box;  // the filter's reach beyond the icon box
  const double k0 = std::ldexp(1.0, -l0), k1 = std::ldexp(1.0, -l1);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const size_t i = static_cast<size_t>(y) * size + x;
      Rgb col{bg[3 * i], bg[3 * i + 1], bg[3 * i + 2]};
      const double px = x + 0.5 - cx, py = y + 0.5 - cy;
      double qx = (ct * px + st * py) / box, qy = (-st * px + ct * py) / box;
      if (p.mirror) qx = -qx;
      float a = 0, s[4] = {0, 0, 0, 0};
      if (std::abs(qx) < margin && std::abs(qy) < margin) {
        const double u = (qx + 0.5) * m0, v = (qy + 0.5) * m0;
        float s0[4], s1[4];
        sample_bilinear(master.levels[l0], u * k0, v * k0, s0);
        sample_bilinear(master.levels[l1], u * k1, v * k1, s1);
        for (int c = 0; c < 4; ++c) s[c] = s0[c] + (s1[c] - s0[c]) * tl;
        a = std::clamp(s[3], 0.0f, 1.0f);
      }
      if (a > 1e-4f) {  // over: un-premultiply, tint, jitter, blend
        Rgb fg{s[0] / a * tint.r, s[1] / a * tint.g, s[2] / a * tint.b};
        fg = jitter(fg, p);
        col = {col.r * (1 - a) + fg.r * a, col.g * (1 - a) + fg.g * a, col.b * (1 - a) + fg.b * a};
      }
      if (p.grey) col.r = col.g = col.b = luma(col);
      out.data[i] = col.r;
      out.data[plane + i] = col.g;
      out.data[2 * plane + i] = col.b;
    }
  return out;
}

}  // namespace

// [SECTION] Build -------------------------------------------------------------------------
DatasetSummary build_emoji16(const Emoji16Options& opt) {
  const double t0 = ds::now_seconds();
  if (opt.size < 16 || opt.size > 1024) fail("emoji16: --size " + std::to_string(opt.size) + " is out of range; use 16..1024");
  if (opt.train_per_category < 1 || opt.test_per_category < 0 || opt.reference_per_category < 0)
    fail("emoji16: counts per category must be positive (train) or non-negative (test, reference)");
  const std::string root = opt.icons_root.empty() ? default_icons_root() : opt.icons_root;
  const std::string mapping_path = opt.mapping.empty() ? default_emoji16_mapping() : opt.mapping;
  const auto& styles = emoji16_styles();
  const std::vector<std::string> cats = ds::choose_categories(opt.categories, "emoji16");

  std::vector<std::string> held, trained;
  for (const auto& h : opt.holdout) {
    if (!is_known(styles, h)) {
      std::string list;
      for (const auto& s : styles) list += (list.empty() ? "" : ",") + s;
      fail("emoji16: unknown style \"" + h + "\" in --holdout; the styles are " + list);
    }
  }
  for (const auto& s : styles) (is_known(opt.holdout, s) ? held : trained).push_back(s);
  if (held.empty()) fail("emoji16: --holdout names no style; hold out at least one (e.g. twemoji)");
  if (trained.empty()) fail("emoji16: --holdout names every style; leave at least one for training");

  // Tools and packages first, so a missing one is the first thing said.
  const std::vector<PackageInfo> packages = check_packages(root, styles);
  require_tool("rsvg-convert", "librsvg2-bin");
  const std::vector<IconChoice> mapping = load_emoji16_mapping(mapping_path);
  std::map<std::string, IconSet> sets;
  {
    auto problems = mapping_problems(mapping, root, sets);
    if (!problems.empty())
      fail(mapping_path + ": " + problems[0] + (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)" : "") +
           "; fix the mapping");
  }
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> icons_of;  // (category, style)
  for (const auto& c : mapping) icons_of[{c.category, c.style}] = c.icons;
  const ds::ProcessResult ver = ds::run_process({"rsvg-convert", "--version"});
  const std::string rsvg_version = ds::first_line(ver.out);

  ds::prepare_output(opt.out_dir, "emoji16");
  const fs::path out(opt.out_dir);
  const fs::path work = out / ".work";
  fs::create_directories(work);

  // Rasterize every icon the chosen categories use, once, at twice the output size.
  const int master_px = std::max(64, 2 * opt.size);
  std::vector<std::pair<std::string, std::string>> needed;  // (style, icon)
  for (const auto& cat : cats)
    for (const auto& st : styles)
      for (const auto& ic : icons_of[{cat, st}]) needed.push_back({st, ic});
  std::sort(needed.begin(), needed.end());
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
  std::vector<Master> masters(needed.size());
  ds::Progress rast(opt.progress, "emoji16: rasterizing icons", static_cast<int64_t>(needed.size()));
  ds::parallel_for(static_cast<int64_t>(needed.size()), ds::io_threads(opt.threads), [&](int64_t i) {
    const auto& [st, name] = needed[static_cast<size_t>(i)];
    const IconSet& set = sets.at(st);
    const std::string stem = (work / (st + "__" + name)).string();
    write_file_atomic(stem + ".svg", svg_document(set.resolve(name), master_px, set.monochrome ? "#ffffff" : "#000000"));
    auto r = ds::run_process({"rsvg-convert", "--width", std::to_string(master_px), "--height", std::to_string(master_px),
                              "--format", "png", "--output", stem + ".png", stem + ".svg"});
    if (r.exit_code != 0)
      fail("rsvg-convert failed on " + st + "/" + name + " (exit " + std::to_string(r.exit_code) + ": " + ds::first_line(r.err) +
           "); check librsvg2-bin");
    masters[static_cast<size_t>(i)] = load_master(stem + ".png", master_px);
    rast.tick();
  });
  rast.done();
  std::map<std::pair<std::string, std::string>, const Master*> master_of;
  for (size_t i = 0; i < needed.size(); ++i) master_of[needed[i]] = &masters[i];

  // The plan: every file's split, category, index and random stream.
  struct Job {
    std::string split, category;
    int cat_index = 0;
    int64_t k = 0;
    uint64_t seed = 0;
    const std::vector<std::string>* styles = nullptr;
  };
  std::vector<Job> jobs;
  const auto& all_cats = dataset_categories();
  auto plan = [&](const std::string& split, int count, uint64_t seed, const std::vector<std::string>* st) {
    for (const auto& cat : cats) {
      const int ci = static_cast<int>(std::find(all_cats.begin(), all_cats.end(), cat) - all_cats.begin());
      fs::create_directories(out / split / cat);
      for (int k = 0; k < count; ++k) jobs.push_back({split, cat, ci, k, seed, st});
    }
  };
  plan("train", opt.train_per_category, opt.seed, &trained);
  plan("test", opt.test_per_category, opt.seed, &held);
  plan("reference", opt.reference_per_category, opt.reference_seed, &held);

  std::vector<std::vector<std::string>> rows(jobs.size());
  ds::Progress prog(opt.progress, "emoji16: images", static_cast<int64_t>(jobs.size()));
  ds::parallel_for(static_cast<int64_t>(jobs.size()), ds::io_threads(opt.threads), [&](int64_t i) {
    const Job& j = jobs[static_cast<size_t>(i)];
    ds::Rng rng(ds::stream_seed(j.seed, "emoji16/" + j.split, static_cast<uint64_t>(j.cat_index), static_cast<uint64_t>(j.k)));
    Params p;
    p.style = (*j.styles)[static_cast<size_t>(rng.below(static_cast<int>(j.styles->size())))];
    const auto& choices = icons_of.at({j.category, p.style});
    p.icon = choices[static_cast<size_t>(rng.below(static_cast<int>(choices.size())))];
    Array img = draw_item(rng, *master_of.at({p.style, p.icon}), sets.at(p.style).monochrome, opt.size, p);
    const std::string rel = ds::item_name(j.split, j.category, j.k, "png");
    save_png((out / rel).string(), img, 0.0f, 1.0f);
    rows[static_cast<size_t>(i)] = {j.split, rel, j.category, p.style, p.icon, ds::fmt(p.scale), ds::fmt(p.rotation, 1),
                                    p.mirror ? "1" : "0", ds::fmt(p.dx), ds::fmt(p.dy), ds::fmt(p.brightness),
                                    ds::fmt(p.contrast), ds::fmt(p.saturation), ds::fmt(p.hue), p.grey ? "1" : "0",
                                    p.background};
    prog.tick();
  });
  prog.done();
  ds::write_index((out / "index.tsv").string(),
                  {"split", "file", "category", "style", "icon", "scale", "rotation_deg", "mirror", "dx", "dy", "brightness",
                   "contrast", "saturation", "hue", "grey", "background"},
                  rows);

  DatasetSummary sum;
  sum.holdout = held;
  for (const auto& j : jobs) (j.split == "train" ? sum.train : j.split == "test" ? sum.test : sum.reference) += 1;
  json m;
  m["dataset"] = "emoji16";
  m["complete"] = true;
  m["format"] = 1;
  m["categories"] = cats;
  m["size"] = opt.size;
  m["seed"] = opt.seed;
  m["reference_seed"] = opt.reference_seed;
  m["styles"] = {{"train", trained}, {"test", held}, {"reference", held}};
  m["holdout"] = held;
  auto counts = [&](int per, int64_t total) {
    json pc = json::object();
    for (const auto& c : cats) pc[c] = per;
    return json{{"total", total}, {"per_category", pc}};
  };
  m["counts"] = {{"train", counts(opt.train_per_category, sum.train)},
                 {"test", counts(opt.test_per_category, sum.test)},
                 {"reference", counts(opt.reference_per_category, sum.reference)}};
  json pk = json::object();
  for (const auto& p : packages)
    pk[p.name] = {{"version", p.version}, {"integrity", p.integrity}, {"license", p.license},
                  {"license_url", p.license_url}, {"author", p.author}, {"author_url", p.author_url}};
  m["packages"] = pk;
  m["rsvg_convert"] = rsvg_version;
  m["raster_px"] = master_px;
  json icons = json::object();
  for (const auto& st : styles)
    for (const auto& cat : cats) icons[st][cat] = icons_of[{cat, st}];
  m["icons"] = icons;
  m["mapping"] = fs::path(mapping_path).filename().string();
  m["augmentation"] = {{"scale", {0.55, 0.95}},
                       {"rotation_deg", {-30, 30}},
                       {"mirror_p", 0.5},
                       {"position", "anywhere the icon box fits"},
                       {"brightness", {0.75, 1.25}},
                       {"contrast", {0.75, 1.25}},
                       {"saturation", {0.5, 1.5}},
                       {"hue_turns", {-0.06, 0.06}},
                       {"grey_p", 0.15},
                       {"backgrounds", {{"white", 0.15}, {"uniform", 0.25}, {"noise", 0.30}, {"gradient", 0.30}}},
                       {"monochrome_styles", "tinted with a colour contrasting the background"}};
  m["index"] = "index.tsv";
  fs::remove_all(work);
  sum.manifest = (out / "manifest.json").string();
  write_file_atomic(sum.manifest, m.dump(2) + "\n");
  sum.seconds = ds::now_seconds() - t0;
  return sum;
}

}  // namespace mm::stimuli
