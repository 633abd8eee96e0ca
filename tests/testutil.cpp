#include "tests/testutil.h"

#include <stb/stb_image_write.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mm::test {

TempDir::TempDir(const std::string& tag) {
  static int counter = 0;
  fs::path base = fs::path(METAMERLAB_BUILD_DIR) / "test-scratch";
  path = (base / (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++))).string();
  fs::remove_all(path);
  fs::create_directories(path);
}

TempDir::~TempDir() {
  if (!std::getenv("METAMERLAB_KEEP_TMP")) {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
}

void write_test_png(const std::string& path, int w, int h, int c, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  int a = d(rng), b = d(rng), k = 1 + d(rng) % 7;
  std::vector<unsigned char> px(static_cast<size_t>(w) * h * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) {
        int v = ((x * k + y * (ch + 1)) / 4 + a * ch + b) % 256;
        px[(static_cast<size_t>(y) * w + x) * c + ch] = static_cast<unsigned char>(v);
      }
  fs::create_directories(fs::path(path).parent_path());
  if (!stbi_write_png(path.c_str(), w, h, c, px.data(), w * c))
    throw std::runtime_error("cannot write test png " + path);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

RunResult run(const std::string& cmdline) {
  static int n = 0;
  std::string base = (fs::temp_directory_path() / ("mmrun-" + std::to_string(::getpid()) + "-" + std::to_string(n++))).string();
  std::string full = "(" + cmdline + ") >" + base + ".out 2>" + base + ".err";
  int st = std::system(full.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_bytes(base + ".out");
  r.err = read_bytes(base + ".err");
  fs::remove(base + ".out");
  fs::remove(base + ".err");
  return r;
}

std::string metamerlab_binary() {
  if (const char* b = std::getenv("METAMERLAB_BIN")) return b;
  return std::string(METAMERLAB_BUILD_DIR) + "/tests/metamerlab-test";
}

std::string product_binary() { return std::string(METAMERLAB_BUILD_DIR) + "/bin/metamerlab"; }

void write_image_set(const std::string& dir, const std::vector<std::string>& categories, int per_category, int size,
                     const std::string& pattern, unsigned seed, unsigned stride, int channels) {
  for (size_t c = 0; c < categories.size(); ++c)
    for (int k = 0; k < per_category; ++k) {
      std::string name = pattern;
      for (size_t at; (at = name.find("{cat}")) != std::string::npos;) name.replace(at, 5, categories[c]);
      for (size_t at; (at = name.find("{k}")) != std::string::npos;) name.replace(at, 3, std::to_string(k));
      write_test_png(dir + "/" + name, size, size, channels,
                     seed + stride * static_cast<unsigned>(c) + static_cast<unsigned>(k));
    }
}

std::string source_dir() { return METAMERLAB_SOURCE_DIR; }

}  // namespace mm::test
