// tests/stimuli/test_images.cpp: load_image and save_png: pixel values for grey, grey+alpha,
// RGB, RGBA and 16-bit PNGs, centre cropping, area-averaging and bilinear resizing, the
// PNG round trip, and clear errors for missing, empty, truncated and non-image files.
//
// Sections
//   [SECTION] Helpers      8-bit PNGs via stb_image_write, a minimal 16-bit PNG encoder
//   [SECTION] Channels     grey / grey+alpha / RGB / RGBA / 16-bit values, lo..hi mapping
//   [SECTION] Geometry     crop and resize against hand-computed expectations
//   [SECTION] Saving       PNG round trip, rounding, clamping, atomic write
//   [SECTION] Errors       bad files and bad specs
#include "stimuli/stimuli.h"
#include "tests/testutil.h"

#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using mm::stimuli::Array;
using mm::stimuli::ImageSpec;
using mm::stimuli::load_image;
using mm::stimuli::save_png;
using mm::test::TempDir;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------
// Writes an 8-bit PNG from interleaved pixels (h rows of w*c bytes).
void write_png8(const std::string& path, int w, int h, int c, const std::vector<unsigned char>& px) {
  ASSERT_EQ(px.size(), static_cast<size_t>(w) * h * c);
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, c, px.data(), w * c)) << path;
}

uint32_t crc32_of(const std::string& s) {
  static uint32_t table[256];
  static bool ready = false;
  if (!ready) {
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[n] = c;
    }
    ready = true;
  }
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t adler32_of(const std::string& s) {
  uint32_t a = 1, b = 0;
  for (unsigned char ch : s) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

void put_be32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_chunk(std::string& png, const std::string& type, const std::string& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  std::string body = type + data;
  png += body;
  put_be32(png, crc32_of(body));
}

// A minimal 16-bit PNG: IHDR, one IDAT holding a zlib stream of stored (uncompressed)
// deflate blocks, IEND. `samples` is h rows of w*c big-endian-to-be 16-bit values.
// colour type: 0 grey, 4 grey+alpha, 2 RGB, 6 RGBA.
std::string png16(int w, int h, int c, const std::vector<uint16_t>& samples) {
  const int colour_type = c == 1 ? 0 : c == 2 ? 4 : c == 3 ? 2 : 6;
  std::string raw;  // filtered scanlines (filter type 0)
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);
    for (int i = 0; i < w * c; ++i) {
      uint16_t v = samples[static_cast<size_t>(y) * w * c + i];
      raw.push_back(static_cast<char>(v >> 8));
      raw.push_back(static_cast<char>(v & 0xFF));
    }
  }
  std::string z = {0x78, 0x01};
  size_t pos = 0;
  do {
    size_t n = std::min<size_t>(65535, raw.size() - pos);
    bool last = pos + n == raw.size();
    z.push_back(last ? 1 : 0);  // BFINAL, BTYPE=00 (stored)
    z.push_back(static_cast<char>(n & 0xFF));
    z.push_back(static_cast<char>(n >> 8));
    z.push_back(static_cast<char>(~n & 0xFF));
    z.push_back(static_cast<char>((~n >> 8) & 0xFF));
    z += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  put_be32(z, adler32_of(raw));

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_be32(ihdr, static_cast<uint32_t>(w));
  put_be32(ihdr, static_cast<uint32_t>(h));
  ihdr += std::string{16, static_cast<char>(colour_type), 0, 0, 0};
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", "");
  return png;
}

float at(const Array& a, int c, int y, int x) {
  return a.data[(static_cast<size_t>(c) * a.shape[1] + y) * a.shape[2] + x];
}

ImageSpec spec(int c, int h, int w, float lo = 0.0f, float hi = 1.0f) {
  ImageSpec s;
  s.channels = c;
  s.height = h;
  s.width = w;
  s.lo = lo;
  s.hi = hi;
  return s;
}

using mm::test::error_of;

// [SECTION] Channels ----------------------------------------------------------------------
TEST(ImageLoad, GreyValuesExact) {
  TempDir t("img-grey");
  std::vector<unsigned char> px = {0, 51, 102, 255, 1, 128, 200, 254};  // 4x2
  write_png8(t / "g.png", 4, 2, 1, px);
  Array a = load_image(t / "g.png", spec(1, 2, 4));
  ASSERT_EQ(a.shape, (std::vector<int64_t>{1, 2, 4}));
  ASSERT_EQ(a.data.size(), 8u);
  EXPECT_EQ(a.numel(), 8);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(a.data[i], px[i] / 255.0f, 1e-6) << i;
}

TEST(ImageLoad, GreyToThreeChannelsReplicatesAndMapsRange) {
  TempDir t("img-grey3");
  std::vector<unsigned char> px = {0, 255, 51, 204};  // 2x2
  write_png8(t / "g.png", 2, 2, 1, px);
  Array a = load_image(t / "g.png", spec(3, 2, 2, -1.0f, 1.0f));
  ASSERT_EQ(a.shape, (std::vector<int64_t>{3, 2, 2}));
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(at(a, c, i / 2, i % 2), -1.0f + 2.0f * px[i] / 255.0f, 1e-6);
}

TEST(ImageLoad, RgbValuesAndLuminance) {
  TempDir t("img-rgb");
  // 2x1: pure red, then (10, 200, 40).
  std::vector<unsigned char> px = {255, 0, 0, 10, 200, 40};
  write_png8(t / "c.png", 2, 1, 3, px);
  Array a = load_image(t / "c.png", spec(3, 1, 2));
  ASSERT_EQ(a.shape, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_NEAR(at(a, 0, 0, 0), 1.0f, 1e-6);
  EXPECT_NEAR(at(a, 1, 0, 0), 0.0f, 1e-6);
  EXPECT_NEAR(at(a, 2, 0, 0), 0.0f, 1e-6);
  EXPECT_NEAR(at(a, 0, 0, 1), 10 / 255.0f, 1e-6);
  EXPECT_NEAR(at(a, 1, 0, 1), 200 / 255.0f, 1e-6);
  EXPECT_NEAR(at(a, 2, 0, 1), 40 / 255.0f, 1e-6);

  Array g = load_image(t / "c.png", spec(1, 1, 2));
  ASSERT_EQ(g.shape, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(g.data[0], 0.299f, 1e-5);
  EXPECT_NEAR(g.data[1], (0.299f * 10 + 0.587f * 200 + 0.114f * 40) / 255.0f, 1e-5);
}

TEST(ImageLoad, RgbaCompositedOnWhite) {
  TempDir t("img-rgba");
  // Opaque blue, fully transparent black, half-transparent red.
  std::vector<unsigned char> px = {0, 0, 255, 255, 0, 0, 0, 0, 255, 0, 0, 128};
  write_png8(t / "a.png", 3, 1, 4, px);
  Array a = load_image(t / "a.png", spec(3, 1, 3));
  const float h = 128 / 255.0f;
  const float expect[3][3] = {{0, 1, 1}, {0, 1, 1 - h}, {1, 1, 1 - h}};  // [channel][x]
  for (int c = 0; c < 3; ++c)
    for (int x = 0; x < 3; ++x) EXPECT_NEAR(at(a, c, 0, x), expect[c][x], 1e-6) << c << "," << x;
}

TEST(ImageLoad, GreyAlphaCompositedOnWhite) {
  TempDir t("img-ga");
  std::vector<unsigned char> px = {0, 255, 0, 0, 100, 51};  // 3x1 grey+alpha
  write_png8(t / "ga.png", 3, 1, 2, px);
  Array a = load_image(t / "ga.png", spec(1, 1, 3));
  const float al = 51 / 255.0f;
  EXPECT_NEAR(a.data[0], 0.0f, 1e-6);
  EXPECT_NEAR(a.data[1], 1.0f, 1e-6);
  EXPECT_NEAR(a.data[2], 100 / 255.0f * al + (1 - al), 1e-6);
}

TEST(ImageLoad, SixteenBitGreyKeepsFullPrecision) {
  TempDir t("img-16");
  std::vector<uint16_t> s = {0, 1000, 32768, 65535, 12345, 40000};  // 3x2
  mm::test::write_bytes(t / "g16.png", png16(3, 2, 1, s));
  ASSERT_TRUE(stbi_is_16_bit((t / "g16.png").c_str())) << "test encoder produced a bad PNG";
  Array a = load_image(t / "g16.png", spec(1, 2, 3));
  ASSERT_EQ(a.shape, (std::vector<int64_t>{1, 2, 3}));
  // 1000/65535 lies between 8-bit levels 3 and 4: an 8-bit path would be off by > 1e-3.
  for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(a.data[i], s[i] / 65535.0f, 1e-6) << i;
}

TEST(ImageLoad, SixteenBitRgbaCompositedOnWhite) {
  TempDir t("img-16a");
  std::vector<uint16_t> s = {65535, 1000, 0, 65535,   // opaque
                             0, 0, 65535, 16384};     // quarter-opaque blue
  mm::test::write_bytes(t / "c16.png", png16(2, 1, 4, s));
  Array a = load_image(t / "c16.png", spec(3, 1, 2));
  EXPECT_NEAR(at(a, 0, 0, 0), 1.0f, 1e-6);
  EXPECT_NEAR(at(a, 1, 0, 0), 1000 / 65535.0f, 1e-6);
  EXPECT_NEAR(at(a, 2, 0, 0), 0.0f, 1e-6);
  const float al = 16384 / 65535.0f;
  EXPECT_NEAR(at(a, 0, 0, 1), 1 - al, 1e-6);
  EXPECT_NEAR(at(a, 1, 0, 1), 1 - al, 1e-6);
  EXPECT_NEAR(at(a, 2, 0, 1), 1.0f, 1e-6);
}

TEST(ImageLoad, SixteenBitRgbLargerThanOneDeflateBlock) {
  TempDir t("img-16big");
  const int w = 150, h = 120;  // 150*3*2+1 bytes a row: many stored blocks
  std::vector<uint16_t> s(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint16_t>((i * 7919) % 65536);
  mm::test::write_bytes(t / "big16.png", png16(w, h, 3, s));
  Array a = load_image(t / "big16.png", spec(3, h, w));
  for (int y = 0; y < h; y += 17)
    for (int x = 0; x < w; x += 13)
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(at(a, c, y, x), s[(static_cast<size_t>(y) * w + x) * 3 + c] / 65535.0f, 1e-6);
}

TEST(ImageLoad, TestUtilPngLoadsAtAnySpec) {
  TempDir t("img-util");
  for (int c = 1; c <= 4; ++c) {
    std::string p = t / ("u" + std::to_string(c) + ".png");
    mm::test::write_test_png(p, 37, 23, c, 7u + c);
    for (int sc : {1, 3}) {
      Array a = load_image(p, spec(sc, 16, 16, -2.0f, 3.0f));
      ASSERT_EQ(a.shape, (std::vector<int64_t>{sc, 16, 16}));
      for (float v : a.data) {
        ASSERT_TRUE(std::isfinite(v));
        ASSERT_GE(v, -2.0f);
        ASSERT_LE(v, 3.0f);
      }
    }
  }
}

// [SECTION] Geometry ----------------------------------------------------------------------
TEST(ImageResize, CenterCropWideToSquare) {
  TempDir t("img-crop");
  // 6x4, each column a distinct value; a 4x4 target keeps columns 1..4.
  std::vector<unsigned char> px(6 * 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) px[y * 6 + x] = static_cast<unsigned char>(40 * x + y);
  write_png8(t / "w.png", 6, 4, 1, px);
  Array a = load_image(t / "w.png", spec(1, 4, 4));
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_NEAR(at(a, 0, y, x), (40 * (x + 1) + y) / 255.0f, 1e-6) << y << "," << x;
}

TEST(ImageResize, CenterCropTallToWide) {
  TempDir t("img-crop2");
  // 2x8 (w x h) to a 2x1 target aspect: keep rows 3..3 (1 row of 2 pixels -> ch = 1).
  // Target 2 wide, 1 high: crop height = round(2 * 1 / 2) = 1, y0 = (8 - 1) / 2 = 3.
  std::vector<unsigned char> px(2 * 8);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 2; ++x) px[y * 2 + x] = static_cast<unsigned char>(20 * y + x);
  write_png8(t / "tall.png", 2, 8, 1, px);
  Array a = load_image(t / "tall.png", spec(1, 1, 2));
  EXPECT_NEAR(a.data[0], 60 / 255.0f, 1e-6);
  EXPECT_NEAR(a.data[1], 61 / 255.0f, 1e-6);
}

TEST(ImageResize, HalvingAveragesTwoByTwoBlocks) {
  TempDir t("img-half");
  // 1-pixel checkerboard of 0/255 halves to uniform 0.5; random 8x8 halves to block means.
  std::vector<unsigned char> checker(8 * 8);
  for (int i = 0; i < 64; ++i) checker[i] = ((i / 8 + i % 8) % 2) ? 255 : 0;
  write_png8(t / "checker.png", 8, 8, 1, checker);
  Array a = load_image(t / "checker.png", spec(1, 4, 4));
  for (float v : a.data) EXPECT_NEAR(v, 0.5f, 1e-6);

  std::mt19937 rng(3);
  std::vector<unsigned char> px(8 * 8 * 3);
  for (auto& v : px) v = static_cast<unsigned char>(rng() % 256);
  write_png8(t / "rand.png", 8, 8, 3, px);
  Array r = load_image(t / "rand.png", spec(3, 4, 4));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        auto p = [&](int yy, int xx) { return px[(yy * 8 + xx) * 3 + c] / 255.0f; };
        float m = (p(2 * y, 2 * x) + p(2 * y, 2 * x + 1) + p(2 * y + 1, 2 * x) + p(2 * y + 1, 2 * x + 1)) / 4;
        EXPECT_NEAR(at(r, c, y, x), m, 1e-5);
      }
}

TEST(ImageResize, NonIntegerShrinkWeightsByOverlap) {
  TempDir t("img-area");
  // 3x3 -> 2x2: each output covers 1.5 source pixels per axis; weights (1, .5)/1.5 and
  // (.5, 1)/1.5.
  std::vector<unsigned char> px = {0, 30, 60, 90, 120, 150, 180, 210, 240};
  write_png8(t / "n.png", 3, 3, 1, px);
  Array a = load_image(t / "n.png", spec(1, 2, 2));
  const float w[2][3] = {{2 / 3.0f, 1 / 3.0f, 0}, {0, 1 / 3.0f, 2 / 3.0f}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) {
      float e = 0;
      for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 3; ++i) e += w[y][j] * w[x][i] * px[j * 3 + i] / 255.0f;
      EXPECT_NEAR(at(a, 0, y, x), e, 1e-5) << y << "," << x;
    }
}

TEST(ImageResize, EnlargingIsBilinearWithCentredPixels) {
  TempDir t("img-up");
  // 2x1 [0, 255] -> 4x2: source positions -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
  write_png8(t / "u.png", 2, 1, 1, {0, 255});
  Array a = load_image(t / "u.png", spec(1, 2, 4));
  const float e[4] = {0.0f, 0.25f, 0.75f, 1.0f};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_NEAR(at(a, 0, y, x), e[x], 1e-6) << y << "," << x;
}

TEST(ImageResize, ConstantImageStaysConstantAtOddSizes) {
  TempDir t("img-const");
  std::vector<unsigned char> px(97 * 61 * 3, 77);
  write_png8(t / "k.png", 97, 61, 3, px);
  for (auto [h, w] : {std::pair{224, 224}, std::pair{13, 29}, std::pair{61, 97}, std::pair{1, 1}}) {
    Array a = load_image(t / "k.png", spec(3, h, w));
    ASSERT_EQ(a.data.size(), static_cast<size_t>(3 * h * w));
    for (float v : a.data) ASSERT_NEAR(v, 77 / 255.0f, 1e-5) << h << "x" << w;
  }
}

// [SECTION] Saving ------------------------------------------------------------------------
TEST(ImageSave, RoundTripWithinHalfAStep) {
  TempDir t("img-rt");
  for (int c : {1, 3}) {
    Array a;
    a.shape = {c, 9, 14};
    std::mt19937 rng(11 + c);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (int i = 0; i < c * 9 * 14; ++i) a.data.push_back(d(rng));
    std::string p = t / ("rt" + std::to_string(c) + ".png");
    save_png(p, a, -1.0f, 1.0f);
    EXPECT_FALSE(fs::exists(p + ".tmp"));
    Array b = load_image(p, spec(c, 9, 14, -1.0f, 1.0f));
    ASSERT_EQ(b.shape, a.shape);
    const float step = 2.0f / 255.0f;
    for (size_t i = 0; i < a.data.size(); ++i) ASSERT_LE(std::fabs(a.data[i] - b.data[i]), 0.5f * step + 1e-6f) << i;
  }
}

TEST(ImageSave, RoundsToNearestAndClamps) {
  TempDir t("img-round");
  Array a;
  a.shape = {1, 1, 6};
  // In 0..255 units: 10.49 -> 10, 10.51 -> 11, -5 -> 0, 300 -> 255, NaN -> 0, 254.6 -> 255.
  a.data = {10.49f / 255, 10.51f / 255, -5.0f / 255, 300.0f / 255, std::nanf(""), 254.6f / 255};
  save_png(t / "r.png", a, 0.0f, 1.0f);
  int w, h, n;
  unsigned char* px = stbi_load((t / "r.png").c_str(), &w, &h, &n, 0);
  ASSERT_NE(px, nullptr);
  ASSERT_EQ(w, 6);
  ASSERT_EQ(h, 1);
  ASSERT_EQ(n, 1);
  const int e[6] = {10, 11, 0, 255, 0, 255};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(px[i], e[i]) << i;
  stbi_image_free(px);
}

TEST(ImageSave, WritesInterleavedRgbFromChw) {
  TempDir t("img-chw");
  Array a;
  a.shape = {3, 1, 2};
  a.data = {1, 0, 0, 1, 0, 0};  // R plane, G plane, B plane: pixel 0 red, pixel 1 green
  save_png(t / "c.png", a, 0, 1);
  int w, h, n;
  unsigned char* px = stbi_load((t / "c.png").c_str(), &w, &h, &n, 3);
  ASSERT_NE(px, nullptr);
  const int e[6] = {255, 0, 0, 0, 255, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(px[i], e[i]) << i;
  stbi_image_free(px);
}

TEST(ImageSave, OverwritesAtomicallyAndReportsBadTargets) {
  TempDir t("img-save-err");
  Array a;
  a.shape = {1, 2, 2};
  a.data = {0, 0.25f, 0.5f, 1};
  std::string p = t / "o.png";
  mm::test::write_bytes(p, "old");
  save_png(p, a, 0, 1);
  EXPECT_NE(mm::test::read_bytes(p), "old");
  EXPECT_FALSE(fs::exists(p + ".tmp"));

  std::string missing = t / "no/such/folder/x.png";
  std::string msg = error_of([&] { save_png(missing, a, 0, 1); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;

  Array bad;
  bad.shape = {2, 2};
  bad.data = {1, 2, 3};
  msg = error_of([&] { save_png(t / "bad.png", bad, 0, 1); });
  EXPECT_NE(msg.find("bad.png"), std::string::npos) << msg;
  Array five;
  five.shape = {5, 1, 1};
  five.data.assign(5, 0.0f);
  error_of([&] { save_png(t / "five.png", five, 0, 1); });
  error_of([&] { save_png(t / "range.png", a, 1, 1); });
  EXPECT_FALSE(fs::exists(t / "bad.png"));
}

// [SECTION] Errors ------------------------------------------------------------------------
TEST(ImageErrors, BadFilesThrowNamingThePath) {
  TempDir t("img-err");
  std::string missing = t / "missing.png";
  std::string empty = t / "empty.png";
  std::string text = t / "notes.png";
  std::string trunc = t / "trunc.png";
  std::string trunc_header = t / "trunc-header.png";
  mm::test::write_bytes(empty, "");
  mm::test::write_bytes(text, "this is not an image at all\n");
  mm::test::write_test_png(t / "good.png", 64, 64, 3, 5);
  std::string good = mm::test::read_bytes(t / "good.png");
  mm::test::write_bytes(trunc, good.substr(0, good.size() / 2));
  mm::test::write_bytes(trunc_header, good.substr(0, 20));
  std::string sixteen = png16(40, 40, 1, std::vector<uint16_t>(1600, 500));
  std::string trunc16 = t / "trunc16.png";
  mm::test::write_bytes(trunc16, sixteen.substr(0, sixteen.size() - 1000));

  for (const std::string& p : {missing, empty, text, trunc, trunc_header, trunc16, t.path}) {
    std::string msg = error_of([&] { load_image(p, spec(3, 8, 8)); });
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
  std::string msg = error_of([&] { load_image(missing, spec(3, 8, 8)); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
  msg = error_of([&] { load_image(text, spec(3, 8, 8)); });
  EXPECT_NE(msg.find("not an image"), std::string::npos) << msg;
}

// A header claiming far more pixels than the file could hold (over 16384 a byte) is refused
// before decoding: stb_image reads a truncated TGA's missing pixels as zeros, so a 19-byte
// header claiming 60404 x 3597 pixels made the loader allocate 3 GB (tools/fuzz.sh image
// found it; the inputs are kept in tests/fuzz/crashes/image/).
TEST(ImageErrors, TinyFileWithAHugeHeaderIsRefused) {
  TempDir t("img-huge");
  // TGA: no id, no colour map, type 2 (uncompressed RGB), 12000 x 12000, 24 bits, no pixels.
  std::string tga(18, '\0');
  tga[2] = 2;
  tga[12] = static_cast<char>(12000 & 0xff), tga[13] = static_cast<char>(12000 >> 8);
  tga[14] = static_cast<char>(12000 & 0xff), tga[15] = static_cast<char>(12000 >> 8);
  tga[16] = 24;
  const std::string p = t / "huge.tga";
  mm::test::write_bytes(p, tga);
  const std::string msg = error_of([&] { load_image(p, spec(3, 8, 8)); });
  EXPECT_NE(msg.find(p + ": image header says 12000x12000 pixels but the file has only 18 bytes"), std::string::npos) << msg;
  // A smaller header without its pixels was decoded as a black image: refused too.
  tga[12] = static_cast<char>(1000 & 0xff), tga[13] = static_cast<char>(1000 >> 8);
  tga[14] = static_cast<char>(1000 & 0xff), tga[15] = static_cast<char>(1000 >> 8);
  mm::test::write_bytes(p, tga);
  const std::string small = error_of([&] { load_image(p, spec(3, 8, 8)); });
  EXPECT_NE(small.find("1000x1000 pixels but the file has only 18 bytes"), std::string::npos) << small;
  // The same header with its pixels still loads.
  tga[12] = 64, tga[13] = 0, tga[14] = 32, tga[15] = 0;
  mm::test::write_bytes(p, tga + std::string(64 * 32 * 3, '\x40'));
  EXPECT_EQ(load_image(p, spec(3, 32, 64)).shape, (std::vector<int64_t>{3, 32, 64}));
}

// stb_image parses a binary PNM header's numbers into an int without an overflow check
// (undefined behaviour; tools/fuzz.sh image found it): such a header is refused first,
// while ordinary PGM/PPM files, comments in the header included, still load.
TEST(ImageErrors, PnmHeaderNumbersBeyondAnyImageAreRefused) {
  TempDir t("img-pnm");
  const std::string p = t / "big.pgm";
  mm::test::write_bytes(p, std::string("P5\n3000080000000 2\n255\n") + std::string(8, '\x10'));
  const std::string msg = error_of([&] { load_image(p, spec(1, 2, 2)); });
  EXPECT_NE(msg.find(p + ": PNM header holds a number beyond 16777216"), std::string::npos) << msg;
  mm::test::write_bytes(p, std::string("P5\n# a comment\n3 2\n255\n") + std::string(6, '\x40'));
  EXPECT_NEAR(load_image(p, spec(1, 2, 3)).data.at(0), 64.0f / 255.0f, 1e-6);
}

TEST(ImageErrors, BadSpecThrows) {
  TempDir t("img-spec");
  mm::test::write_test_png(t / "s.png", 8, 8, 3, 1);
  std::string p = t / "s.png";
  for (ImageSpec s : {spec(2, 8, 8), spec(4, 8, 8), spec(3, 0, 8), spec(3, 8, -1), spec(3, 8, 8, 1.0f, 1.0f)}) {
    std::string msg = error_of([&] { load_image(p, s); });
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
  }
}

}  // namespace
