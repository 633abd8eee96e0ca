// Test helpers shared by every test binary: temporary folders, fixture files and image
// sets, the one error_of helper, running the metamerlab program and capturing what it prints.
#pragma once
#include <gtest/gtest.h>

#include <stdexcept>
#include <type_traits>
#include <string>
#include <vector>

namespace mm::test {

// A fresh folder under the build tree's test scratch area, removed at destruction unless
// METAMERLAB_KEEP_TMP is set.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag);
  ~TempDir();
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// Writes an 8-bit PNG of size w×h with c channels from a pattern seeded by `seed`.
void write_test_png(const std::string& path, int w, int h, int c, unsigned seed);
// An image set on disk, the shared builder of every test's "lab": for each category c (in
// order) and k < per_category, DIR/<pattern> with {cat} and {k} replaced (default: the
// ImageFolder layout DIR/<cat>/<cat>_<k>.png), each size x size x channels from
// write_test_png(seed + stride * c + k).
void write_image_set(const std::string& dir, const std::vector<std::string>& categories, int per_category, int size,
                     const std::string& pattern = "{cat}/{cat}_{k}.png", unsigned seed = 0, unsigned stride = 100,
                     int channels = 3);

// Runs f and returns the message of the E it throws; a test failure when f throws something
// else or nothing.
template <class E = std::runtime_error, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    if constexpr (std::is_same_v<E, std::exception>) return e.what();
    else if (dynamic_cast<const E*>(&e) != nullptr) return e.what();
    ADD_FAILURE() << "threw another kind of exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

// Writes bytes to a file as they are.
void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs a shell command line, capturing stdout and stderr.
RunResult run(const std::string& cmdline);
// The metamerlab program the black-box tests run: the product's program layer with the
// tests' own networks registered (zoo:tiny-cnn; tests/support/test_program.cpp), built in
// the build tree's tests/ folder. METAMERLAB_BIN overrides it.
std::string metamerlab_binary();
// The product itself (build/bin/metamerlab): for what only it must show (its model list).
std::string product_binary();
std::string source_dir();

}  // namespace mm::test
