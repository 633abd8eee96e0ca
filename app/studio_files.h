// app/studio_files.h: the workbench's file picker, a modal window over the panel that asked
// for it: the folder's subfolders and files (files filtered by extension, hidden ones on
// request) with their sizes, a click on a folder to enter it, ".." to go up, a typed path or
// name, and Choose. Three kinds: a file to open (it must exist), a file to save (its folder
// must exist; a name may be typed), a folder. Nothing is read but folder listings; an
// unreadable folder is one line in the window, not an error.
//
// The panels' text fields keep the typed path as before; the picker only fills them. Each
// widget's rectangle goes to the caller's map (keys "picker.path", "picker.up",
// "picker.entry=NAME", "picker.choose", "picker.cancel", "picker.hidden") for the tests.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/display.h"

namespace mm::app::studio {

// An ImGui text field over a std::string (grown as typed); a multiline one is width x height.
bool input_string(const char* id, std::string& s, int flags, bool multiline = false, float width = 0, float height = 0);

class FilePicker {
 public:
  enum class Kind { open_file, save_file, folder };

  // Opens the picker for `id` (the field it fills): in `start`'s folder when `start` names a
  // file, in `start` when it names a folder, else in the current folder. `extensions`
  // (".toml", ".csv"; empty = every file) are the files listed.
  void open(const std::string& id, const std::string& start, Kind kind, std::vector<std::string> extensions,
            const std::string& title);
  bool is_open() const { return open_; }
  const std::string& id() const { return id_; }
  const std::string& folder() const { return folder_; }

  // Draws the window while open. Returns the chosen path (absolute, normalized) once, on
  // the frame the person chooses it; the window closes then (or on Cancel / Escape).
  std::optional<std::string> draw(float scale, float k, std::map<std::string, Rect>& widgets);

 private:
  struct Entry {
    std::string name;
    bool folder = false;
    std::string size;   // a file's size as shown
    std::string label;  // the list's label (folders in brackets)
  };
  void enter(const std::string& folder);  // lists it (or keeps the old listing and says why)
  std::optional<std::string> choose();    // the path chosen by name_ in folder_, or why not in error_

  bool open_ = false, popup_ = false, hidden_ = false;
  std::string id_, title_, folder_, name_, error_;
  Kind kind_ = Kind::open_file;
  std::vector<std::string> ext_;
  std::vector<Entry> entries_;
  double entered_at_ = -1e9;  // ImGui time a click on a folder entered the one listed
};

}  // namespace mm::app::studio
