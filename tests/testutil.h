// Test helpers shared by every test binary: temporary folders, fixture files, running the
// metamerlab program and capturing what it prints.
#pragma once
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
// Writes bytes to a file as they are.
void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs a shell command line, capturing stdout and stderr.
RunResult run(const std::string& cmdline);
// The built metamerlab binary and the source tree.
std::string metamerlab_binary();
std::string source_dir();

}  // namespace mm::test
