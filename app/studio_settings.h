// app/studio_settings.h: what the workbench (`metamerlab studio`, app/studio.h) remembers
// between runs: the font size, the last experiment files, the database, the window size and
// the panel open last, in a small TOML file ($XDG_CONFIG_HOME/metamerlab/studio.toml, else
// ~/.config/metamerlab/studio.toml), written atomically. A file that cannot be read or holds
// a bad value gives one line of warning and the defaults, never a failure.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace mm::app {

struct StudioSettings {
  float font_px = 17;                    // text size (kMinFontPx - kMaxFontPx)
  std::vector<std::string> experiments;  // the last experiment files, newest first (at most kMaxRecent)
  std::string database;                  // the last database ("" none)
  int width = 1280, height = 800;        // window size
  std::string panel = "Start";           // the panel open last
  static constexpr float kMinFontPx = 10, kMaxFontPx = 40;
  static constexpr size_t kMaxRecent = 8;
  bool operator==(const StudioSettings& o) const {
    return font_px == o.font_px && experiments == o.experiments && database == o.database && width == o.width &&
           height == o.height && panel == o.panel;
  }
};

// $XDG_CONFIG_HOME/metamerlab/studio.toml, else $HOME/.config/metamerlab/studio.toml; ""
// when neither variable is set (nothing is remembered then).
std::string studio_settings_path();

// Reads the settings; a missing file gives the defaults silently. A file that is not TOML,
// or has a key of the wrong type or out of range, gives the defaults and one line on `warn`
// ("metamerlab: studio: settings FILE:LINE: ...; using the defaults"). Never throws.
StudioSettings read_studio_settings(const std::string& path, std::ostream& warn);

// Writes the settings atomically (a temporary file renamed over it), creating the folder.
// Throws std::runtime_error naming the file when it cannot be written.
void write_studio_settings(const std::string& path, const StudioSettings& s);

// Puts `file` first in the list of last experiment files (once; at most kMaxRecent kept).
void remember_experiment(StudioSettings& s, const std::string& file);

}  // namespace mm::app
