// stimuli/sets.cpp: listing stimulus sets given as ImageFolder-style folders
// (DIR/<category>/<file>) or single files, filtered by the modality's file extensions
// and sorted deterministically (by category, then path).
#include "stimuli/stimuli.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mm::stimuli {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

const std::vector<std::string>& extensions(Modality m) {
  static const std::vector<std::string> image = {"png", "jpg", "jpeg", "bmp", "gif",
                                                 "tga", "ppm", "pgm", "psd", "hdr"};
  static const std::vector<std::string> audio = {"wav", "flac", "ogg", "aiff", "aif", "au"};
  return m == Modality::image ? image : audio;
}

// ".png/.jpg/..." for messages.
std::string ext_list(Modality m) {
  std::string s;
  for (const auto& e : extensions(m)) s += (s.empty() ? "." : "/.") + e;
  return s;
}

bool hidden(const fs::path& p) {
  std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

// The name of a folder as the user means it, also for "dir/", "." or "..".
std::string folder_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string n = p.filename().string();
  if (n.empty() || n == "." || n == "..") {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(fs::absolute(dir), ec);
    n = ec ? std::string() : c.filename().string();
  }
  return n;
}

// Files under `dir` with the modality's extensions, recursively, skipping hidden entries.
void collect(const fs::path& dir, const std::string& category, Modality m, std::vector<Item>& out) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) fail(dir.string() + ": cannot list folder (" + ec.message() + "); fix its permissions");
  for (; it != end; it.increment(ec)) {
    if (ec) fail(dir.string() + ": cannot list folder (" + ec.message() + "); fix its permissions");
    const fs::path& p = it->path();
    if (hidden(p)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && is_stimulus_file(p.string(), m)) out.push_back({p.string(), category});
  }
  if (ec) fail(dir.string() + ": cannot list folder (" + ec.message() + "); fix its permissions");
}

}  // namespace

bool is_stimulus_file(const std::string& path, Modality m) {
  std::string e = fs::path(path).extension().string();
  if (e.size() < 2) return false;
  e = e.substr(1);
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto& list = extensions(m);
  return std::find(list.begin(), list.end(), e) != list.end();
}

std::vector<Item> list_stimuli(const std::vector<std::string>& inputs, Modality m) {
  const std::string kind = m == Modality::image ? "image" : "sound";
  const std::string a_kind = m == Modality::image ? "an image" : "a sound";
  if (inputs.empty()) fail("no stimulus inputs given; pass one or more " + kind + " files or folders");
  std::vector<Item> items;
  for (const std::string& in : inputs) {
    std::error_code ec;
    fs::file_status st = fs::status(in, ec);
    if (in.empty() || !fs::exists(st))
      fail((in.empty() ? std::string("\"\"") : in) + ": no such file or folder; check the path");
    if (fs::is_directory(st)) {
      std::vector<Item> found;
      const std::string own = folder_name(in);
      fs::directory_iterator it(in, ec), end;
      if (ec) fail(in + ": cannot list folder (" + ec.message() + "); fix its permissions");
      for (; it != end; it.increment(ec)) {
        if (ec) fail(in + ": cannot list folder (" + ec.message() + "); fix its permissions");
        const fs::path& p = it->path();
        if (hidden(p)) continue;
        if (it->is_directory(ec)) {
          collect(p, p.filename().string(), m, found);
        } else if (it->is_regular_file(ec) && is_stimulus_file(p.string(), m)) {
          found.push_back({p.string(), own});
        }
      }
      if (ec) fail(in + ": cannot list folder (" + ec.message() + "); fix its permissions");
      if (found.empty())
        fail("no " + ext_list(m) + " files in " + in + "; expected " + in + "/<category>/<file>");
      items.insert(items.end(), found.begin(), found.end());
    } else {
      if (!is_stimulus_file(in, m))
        fail(in + ": not " + a_kind + " file (expected " + ext_list(m) + "); pass " + a_kind +
             " file or an ImageFolder-style folder");
      std::string cat = folder_name(fs::path(in).parent_path().empty() ? "." : fs::path(in).parent_path().string());
      items.push_back({in, cat});
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.category != b.category ? a.category < b.category : a.path < b.path;
  });
  items.erase(std::unique(items.begin(), items.end(),
                          [](const Item& a, const Item& b) { return a.category == b.category && a.path == b.path; }),
              items.end());
  return items;
}

}  // namespace mm::stimuli
