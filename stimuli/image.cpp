// stimuli/image.cpp: loading images into model-ready CHW float arrays (stb_image; 8- and
// 16-bit; grey, grey+alpha, RGB, RGBA composited on white), centre cropping, resizing
// (area averaging when shrinking, bilinear when enlarging) and saving 8-bit PNGs.
//
// Sections
//   [SECTION] Decoding   file -> float planes in [0,1] with alpha composited on white
//   [SECTION] Resizing   centre crop to an aspect ratio, separable area/bilinear filter
//   [SECTION] API        load_image, save_png
#include "stimuli/stimuli.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mm::stimuli {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// Images larger than this many pixels are refused rather than risking an enormous
// allocation from a corrupt or hostile header (16384 x 16384).
constexpr int64_t kMaxPixels = int64_t{1} << 28;
// An image must come from a file of at least one byte per kMaxPixelsPerByte pixels.
// stb_image decodes a truncated TGA, PNM or BMP without complaint (the missing pixels read
// as zero), so without this a 19-byte TGA header claiming 60404 x 3597 pixels made us
// allocate 3 GB, and an 18-byte one decoded to a 3722 x 3854 black image (both found by
// tools/fuzz.sh image). No real image compresses that well: a blank 1-bit PNG reaches about
// 8300 pixels a byte (deflate stops near 1032:1), GIF about 2700, JPEG, BMP, TGA, PSD and
// HDR run-lengths far fewer.
constexpr int64_t kMaxPixelsPerByte = 16384;

// Planes of equal size, channel-major: plane c, row y, column x at (c*h + y)*w + x.
struct Planes {
  int c = 0, h = 0, w = 0;
  std::vector<float> v;
  float& at(int ch, int y, int x) { return v[(static_cast<size_t>(ch) * h + y) * w + x]; }
  float at(int ch, int y, int x) const { return v[(static_cast<size_t>(ch) * h + y) * w + x]; }
};

// [SECTION] Decoding ----------------------------------------------------------------------
std::string read_image_bytes(const std::string& path) {
  const std::string fix = "; replace or remove the file";
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path + ": file not found; check the path");
  if (fs::is_directory(path, ec)) fail(path + ": is a folder, not an image; pass an image file");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path + ": cannot open for reading (" + std::strerror(errno) + "); check permissions");
  std::ostringstream s;
  s << f.rdbuf();
  if (f.bad()) fail(path + ": read error" + fix);
  std::string bytes = s.str();
  if (bytes.empty()) fail(path + ": file is empty (0 bytes), not an image" + fix);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail(path + ": file is larger than 2 GB, too large for stb_image" + fix);
  return bytes;
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// stb_image reads a binary PNM header's numbers (width, height, maxval) into an int without
// an overflow check: "P5 3000080000000 ..." is undefined behaviour inside the library (found
// by tools/fuzz.sh image). So the three numbers are read here first, skipping whitespace
// and # comments as stb does, and a number beyond any valid one (2^24) is refused.
void check_pnm_header(const std::string& path, const std::string& bytes, const std::string& fix) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  size_t i = 2;
  for (int k = 0; k < 3; ++k) {
    for (;;) {
      while (i < bytes.size() && space(bytes[i])) ++i;
      if (i >= bytes.size() || bytes[i] != '#') break;
      while (i < bytes.size() && bytes[i] != '\n' && bytes[i] != '\r') ++i;
    }
    int64_t v = 0;
    for (; i < bytes.size() && bytes[i] >= '0' && bytes[i] <= '9'; ++i) {
      v = v * 10 + (bytes[i] - '0');
      if (v > (int64_t{1} << 24))
        fail(path + ": PNM header holds a number beyond " + std::to_string(int64_t{1} << 24) +
             " (width, height or maximum value); the file is corrupt" + fix);
    }
  }
}

// Decodes to `n` interleaved channels (1..4) as floats in [0,1], then composites any alpha
// on white and returns colour planes: 1 (grey) or 3 (RGB).
Planes decode(const std::string& path, const std::string& bytes) {
  const auto* buf = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  const std::string fix = "; replace or remove the file";
  check_pnm_header(path, bytes, fix);
  int w = 0, h = 0, n = 0;
  if (!stbi_info_from_memory(buf, len, &w, &h, &n)) {
    const char* why = stbi_failure_reason();
    fail(path + ": not an image stb_image can read (" + (why ? why : "unknown format") +
         "; unsupported format or truncated?)" + fix);
  }
  if (w <= 0 || h <= 0) fail(path + ": image has no pixels (" + std::to_string(w) + "x" + std::to_string(h) + ")" + fix);
  if (static_cast<int64_t>(w) * h > kMaxPixels)
    fail(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) +
         " pixels, more than this program accepts (268 Mpixel); downscale it first");

  if (static_cast<int64_t>(w) * h / kMaxPixelsPerByte > len)
    fail(path + ": image header says " + std::to_string(w) + "x" + std::to_string(h) + " pixels but the file has only " +
         std::to_string(len) + " bytes; it is truncated or corrupt" + fix);

  // Decoded straight into planes (no interleaved float copy of the whole image).
  const bool sixteen = stbi_is_16_bit_from_memory(buf, len) != 0;
  int lw = 0, lh = 0, ln = 0;
  std::unique_ptr<void, StbFree> pixels(
      sixteen ? static_cast<void*>(stbi_load_16_from_memory(buf, len, &lw, &lh, &ln, 0))
              : static_cast<void*>(stbi_load_from_memory(buf, len, &lw, &lh, &ln, 0)));
  if (!pixels) {
    const char* why = stbi_failure_reason();
    fail(path + ": cannot decode " + (sixteen ? "16-bit " : "") + "image (" + (why ? why : "unknown error") + "; truncated?)" + fix);
  }
  if (ln < 1 || ln > 4) fail(path + ": image has " + std::to_string(ln) + " channels; expected 1 to 4" + fix);
  const auto* p8 = static_cast<const stbi_uc*>(pixels.get());
  const auto* p16 = static_cast<const stbi_us*>(pixels.get());
  auto value = [&](size_t i) { return sixteen ? static_cast<float>(p16[i]) / 65535.0f : static_cast<float>(p8[i]) / 255.0f; };

  const bool alpha = (ln == 2 || ln == 4);
  const int colour = (ln <= 2) ? 1 : 3;
  Planes out;
  out.c = colour;
  out.h = lh;
  out.w = lw;
  out.v.resize(static_cast<size_t>(colour) * lh * lw);
  for (int y = 0; y < lh; ++y)
    for (int x = 0; x < lw; ++x) {
      const size_t i = (static_cast<size_t>(y) * lw + x) * ln;
      const float a = alpha ? value(i + ln - 1) : 1.0f;
      for (int c = 0; c < colour; ++c) out.at(c, y, x) = value(i + c) * a + (1.0f - a);  // over white
    }
  return out;
}

// Grey -> RGB replicates; RGB -> grey uses ITU-R 601 luma (as PIL's convert("L")).
Planes to_channels(Planes in, int channels) {
  if (in.c == channels) return in;
  Planes out;
  out.c = channels;
  out.h = in.h;
  out.w = in.w;
  const size_t plane = static_cast<size_t>(in.h) * in.w;
  out.v.resize(plane * channels);
  if (channels == 3) {  // from grey
    for (int c = 0; c < 3; ++c) std::copy(in.v.begin(), in.v.begin() + plane, out.v.begin() + c * plane);
  } else {  // from RGB
    for (size_t i = 0; i < plane; ++i)
      out.v[i] = 0.299f * in.v[i] + 0.587f * in.v[plane + i] + 0.114f * in.v[2 * plane + i];
  }
  return out;
}

// [SECTION] Resizing ----------------------------------------------------------------------
// One output sample of a 1-D filter: a run of source indices and their weights.
struct Taps {
  int first = 0;
  std::vector<float> w;
};

// Weights mapping `src` samples onto `dst`: area averaging when shrinking (each output
// averages the source span it covers, partial pixels weighted by overlap), bilinear with
// pixel centres aligned when enlarging, identity when equal.
std::vector<Taps> filter_taps(int src, int dst) {
  std::vector<Taps> taps(dst);
  if (src == dst) {
    for (int i = 0; i < dst; ++i) taps[i] = Taps{i, {1.0f}};
  } else if (dst < src) {
    const double scale = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
      const double a = i * scale, b = (i + 1) * scale;
      int j0 = static_cast<int>(std::floor(a));
      int j1 = std::min(src - 1, static_cast<int>(std::ceil(b)) - 1);
      std::vector<double> wd;
      double sum = 0;
      for (int j = j0; j <= j1; ++j) {
        double ov = std::min(b, j + 1.0) - std::max(a, static_cast<double>(j));
        if (ov < 0) ov = 0;
        wd.push_back(ov);
        sum += ov;
      }
      // Drop negligible edge overlaps caused by rounding.
      while (wd.size() > 1 && wd.back() < 1e-9 * scale) { sum -= wd.back(); wd.pop_back(); }
      size_t lead = 0;
      while (lead + 1 < wd.size() && wd[lead] < 1e-9 * scale) { sum -= wd[lead]; ++lead; }
      Taps t;
      t.first = j0 + static_cast<int>(lead);
      for (size_t k = lead; k < wd.size(); ++k) t.w.push_back(static_cast<float>(wd[k] / sum));
      taps[i] = std::move(t);
    }
  } else {
    const double scale = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
      double x = (i + 0.5) * scale - 0.5;
      x = std::clamp(x, 0.0, static_cast<double>(src - 1));
      int j0 = static_cast<int>(std::floor(x));
      if (j0 >= src - 1) {
        taps[i] = Taps{src - 1, {1.0f}};
        continue;
      }
      float t = static_cast<float>(x - j0);
      taps[i] = Taps{j0, {1.0f - t, t}};
    }
  }
  return taps;
}

// Crops the centred region of the target aspect ratio out of `in`, then resizes it to
// h x w, filtering rows first and columns second.
Planes crop_resize(const Planes& in, int h, int w) {
  // Crop: keep the full extent along the axis that is relatively shorter.
  int cw = in.w, ch = in.h;
  if (static_cast<int64_t>(in.w) * h > static_cast<int64_t>(in.h) * w) {
    cw = static_cast<int>(std::lround(static_cast<double>(in.h) * w / h));
    cw = std::clamp(cw, 1, in.w);
  } else if (static_cast<int64_t>(in.w) * h < static_cast<int64_t>(in.h) * w) {
    ch = static_cast<int>(std::lround(static_cast<double>(in.w) * h / w));
    ch = std::clamp(ch, 1, in.h);
  }
  const int x0 = (in.w - cw) / 2, y0 = (in.h - ch) / 2;

  const std::vector<Taps> tx = filter_taps(cw, w), ty = filter_taps(ch, h);
  // Horizontal pass over the cropped rows: ch x w per channel.
  std::vector<float> mid(static_cast<size_t>(in.c) * ch * w);
  for (int c = 0; c < in.c; ++c)
    for (int y = 0; y < ch; ++y) {
      const float* row = &in.v[(static_cast<size_t>(c) * in.h + y0 + y) * in.w + x0];
      float* o = &mid[(static_cast<size_t>(c) * ch + y) * w];
      for (int x = 0; x < w; ++x) {
        const Taps& t = tx[x];
        float s = 0;
        for (size_t k = 0; k < t.w.size(); ++k) s += t.w[k] * row[t.first + k];
        o[x] = s;
      }
    }
  // Vertical pass.
  Planes out;
  out.c = in.c;
  out.h = h;
  out.w = w;
  out.v.assign(static_cast<size_t>(in.c) * h * w, 0.0f);
  for (int c = 0; c < in.c; ++c)
    for (int y = 0; y < h; ++y) {
      const Taps& t = ty[y];
      float* o = &out.v[(static_cast<size_t>(c) * h + y) * w];
      for (size_t k = 0; k < t.w.size(); ++k) {
        const float* r = &mid[(static_cast<size_t>(c) * ch + t.first + k) * w];
        const float wk = t.w[k];
        for (int x = 0; x < w; ++x) o[x] += wk * r[x];
      }
    }
  return out;
}

void append_bytes(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

// [SECTION] API ---------------------------------------------------------------------------
Array load_image(const std::string& path, const ImageSpec& spec) {
  if (spec.channels != 1 && spec.channels != 3)
    fail(path + ": image spec asks for " + std::to_string(spec.channels) + " channels; use 1 or 3");
  if (spec.height <= 0 || spec.width <= 0 || static_cast<int64_t>(spec.height) * spec.width > kMaxPixels)
    fail(path + ": image spec size " + std::to_string(spec.width) + "x" + std::to_string(spec.height) +
         " is invalid; use a positive width and height");
  if (!std::isfinite(spec.lo) || !std::isfinite(spec.hi) || !(spec.hi > spec.lo))
    fail(path + ": image spec range [" + std::to_string(spec.lo) + ", " + std::to_string(spec.hi) +
         "] is empty; use lo < hi");

  const std::string bytes = read_image_bytes(path);
  Planes p = crop_resize(to_channels(decode(path, bytes), spec.channels), spec.height, spec.width);

  Array a;
  a.shape = {spec.channels, spec.height, spec.width};
  a.data = std::move(p.v);
  const float span = spec.hi - spec.lo;
  for (float& v : a.data) v = spec.lo + std::clamp(v, 0.0f, 1.0f) * span;
  return a;
}

void save_png(const std::string& path, const Array& chw, float lo, float hi) {
  int64_t c = 0, h = 0, w = 0;
  if (chw.shape.size() == 3) {
    c = chw.shape[0], h = chw.shape[1], w = chw.shape[2];
  } else if (chw.shape.size() == 2) {
    c = 1, h = chw.shape[0], w = chw.shape[1];
  }
  if (c < 1 || c > 4 || h < 1 || w < 1 || h > 1 << 20 || w > 1 << 20)
    fail(path + ": cannot save an array of shape " + shape_str(chw.shape) +
         " as PNG; expected CHW with 1, 3 or 4 channels");
  if (static_cast<int64_t>(chw.data.size()) != c * h * w)
    fail(path + ": cannot save as PNG: shape " + shape_str(chw.shape) + " holds " + std::to_string(c * h * w) +
         " values but the array has " + std::to_string(chw.data.size()) + "; fix the caller");
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo))
    fail(path + ": cannot save as PNG with value range [" + std::to_string(lo) + ", " + std::to_string(hi) +
         "]; use lo < hi");

  const size_t plane = static_cast<size_t>(h) * w;
  std::vector<unsigned char> px(plane * c);
  const float scale = 255.0f / (hi - lo);
  for (int64_t ch = 0; ch < c; ++ch)
    for (size_t i = 0; i < plane; ++i) {
      float v = (chw.data[ch * plane + i] - lo) * scale;
      if (!(v > 0.0f)) v = 0.0f;  // also maps NaN to 0
      if (v > 255.0f) v = 255.0f;
      px[i * c + ch] = static_cast<unsigned char>(std::lround(v));
    }
  std::string bytes;
  if (!stbi_write_png_to_func(append_bytes, &bytes, static_cast<int>(w), static_cast<int>(h),
                              static_cast<int>(c), px.data(), static_cast<int>(w * c)))
    fail(path + ": PNG encoding failed (out of memory?); free memory or save a smaller image");
  write_file_atomic(path, bytes);
}

}  // namespace mm::stimuli
