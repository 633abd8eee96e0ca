// app/studio_settings.cpp: the workbench's settings file (app/studio_settings.h): read with
// toml++, every key typed and ranged; written through toml++'s printer and
// stimuli::write_file_atomic.
#include "app/studio_settings.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app {

namespace {
const char* const kPanels[] = {"Experiment", "Stimuli", "Synthesis", "Sessions", "Results", "Start"};

// A settings problem at the node's line.
[[noreturn]] void bad(const std::string& path, const toml::node& n, const std::string& what) {
  throw std::runtime_error(path + ":" + std::to_string(n.source().begin.line) + ": " + what);
}
}  // namespace

std::string studio_settings_path() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return (fs::path(x) / "metamerlab" / "studio.toml").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".config" / "metamerlab" / "studio.toml").string();
  return "";
}

StudioSettings read_studio_settings(const std::string& path, std::ostream& warn) {
  StudioSettings s;
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return s;
  try {
    toml::table t;
    try {
      t = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      throw std::runtime_error(path + ":" + std::to_string(e.source().begin.line) + ": not TOML (" +
                               std::string(e.description()) + ")");
    }
    for (const auto& [key, node] : t) {
      const std::string k(key.str());
      if (k == "font_px") {
        const auto v = node.value<double>();
        if (!v || *v < StudioSettings::kMinFontPx || *v > StudioSettings::kMaxFontPx)
          bad(path, node, "font_px must be a number from 10 to 40");
        s.font_px = static_cast<float>(*v);
      } else if (k == "width" || k == "height") {
        const auto v = node.value<int64_t>();
        if (!v || *v < 320 || *v > 16384) bad(path, node, k + " must be a whole number from 320 to 16384");
        (k == "width" ? s.width : s.height) = static_cast<int>(*v);
      } else if (k == "database") {
        const auto v = node.value<std::string>();
        if (!v) bad(path, node, "database must be a string");
        s.database = *v;
      } else if (k == "panel") {
        const auto v = node.value<std::string>();
        if (!v || std::find(std::begin(kPanels), std::end(kPanels), *v) == std::end(kPanels))
          bad(path, node, "panel must be one of Experiment, Stimuli, Synthesis, Sessions, Results, Start");
        s.panel = *v;
      } else if (k == "experiments") {
        const toml::array* a = node.as_array();
        if (!a) bad(path, node, "experiments must be an array of file names");
        for (const auto& e : *a) {
          const auto v = e.value<std::string>();
          if (!v) bad(path, e, "experiments must be an array of file names");
          if (s.experiments.size() < StudioSettings::kMaxRecent) s.experiments.push_back(*v);
        }
      } else {
        bad(path, node, "unknown key \"" + k + "\"");
      }
    }
  } catch (const std::exception& e) {
    warn << "metamerlab: studio: settings " << e.what() << "; using the defaults\n";
    return StudioSettings{};
  }
  return s;
}

void write_studio_settings(const std::string& path, const StudioSettings& s) {
  if (path.empty()) return;
  const fs::path folder = fs::path(path).parent_path();
  if (!folder.empty()) stimuli::ensure_writable_dir(folder.string());
  toml::array recent;
  for (const auto& e : s.experiments) recent.push_back(e);
  toml::table t{{"font_px", static_cast<double>(s.font_px)}, {"width", s.width},       {"height", s.height},
                {"database", s.database},                    {"panel", s.panel},       {"experiments", recent}};
  std::ostringstream out;
  out << "# metamerlab studio: the workbench's settings (rewritten when it closes)\n" << t << "\n";
  stimuli::write_file_atomic(path, out.str());
}

void remember_experiment(StudioSettings& s, const std::string& file) {
  if (file.empty()) return;
  s.experiments.erase(std::remove(s.experiments.begin(), s.experiments.end(), file), s.experiments.end());
  s.experiments.insert(s.experiments.begin(), file);
  if (s.experiments.size() > StudioSettings::kMaxRecent) s.experiments.resize(StudioSettings::kMaxRecent);
}

}  // namespace mm::app
