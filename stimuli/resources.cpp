// stimuli/resources.cpp: the data folder, found from the running program's location.
#include "stimuli/resources.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mm::stimuli {

std::string program_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::string data_dir() {
  std::error_code ec;
  if (const char* env = std::getenv("METAMERLAB_DATA_DIR"); env && *env)
    return fs::is_directory(env, ec) ? fs::path(env).lexically_normal().string() : std::string();
  const std::string exe_dir = program_dir();
  if (exe_dir.empty()) return "";
  const fs::path d = (fs::path(exe_dir) / ".." / "share" / "metamerlab").lexically_normal();
  return fs::is_directory(d, ec) ? d.string() : std::string();
}

std::string data_path(const std::string& rel, const std::string& what) {
  const std::string d = data_dir();
  if (d.empty())
    throw std::runtime_error(what + ": metamerlab's data folder is missing (share/metamerlab next to the program's " +
                             "bin/ folder); reinstall metamerlab or set METAMERLAB_DATA_DIR");
  return (fs::path(d) / rel).string();
}

}  // namespace mm::stimuli
