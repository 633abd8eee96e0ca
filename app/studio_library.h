// app/studio_library.h (internal to the workbench, app/studio.cpp): the Stimuli panel: the
// database's metamers (data/library.h) as a grid of references x model x layer with
// thumbnails and pass/fail marks, filtered by category, model, layer and "failed only"; the
// selected cell's reference and metamer side by side with its measures, its loss curve and,
// for sounds, playback and cochleagrams (app/studio_detail.h); a selection of cells
// (checkboxes, Ctrl-click, Shift-click, "Select all shown") saved as a stimulus set's CSV
// table (experiments/set_table.h); and plain folders in ImageFolder layout shown as a grid
// of thumbnails per category (stimuli::list_stimuli), without a database. Thumbnails are
// loaded lazily (only for cells in view, a few per frame, through stimuli::load_image),
// uploaded as textures and kept in a cache of bounded size (app/studio_thumbnails.h). Nothing is written to the
// database; the only file written is the CSV the user asks for.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "app/display.h"
#include "app/studio_detail.h"
#include "app/studio.h"
#include "app/studio_thumbnails.h"
#include "data/library.h"
#include "stimuli/stimuli.h"

namespace mm::app::studio {

class StimulusLibrary {
 public:
  static constexpr int kThumbPx = 96;          // thumbnails are loaded at this size
  static constexpr size_t kMaxThumbs = 1500;   // at most this many textures (about 55 MB)
  static constexpr int kLoadsPerFrame = 12;    // images read per frame (the window stays responsive)

  explicit StimulusLibrary(Display& d) : d_(d), detail_(d) {}
  // Re-reads the database (a missing file or an unreadable one becomes status()), and the
  // selected metamer in full (its loss curve).
  // `store`: the database opened for this refresh, or null with `why` saying why not.
  // `db`: the database's path (the CSV's default folder).
  void refresh(data::Store* store, const std::string& why, const std::string& db = "");
  // A metamer was selected whose full record has not been read: read_selected now.
  bool wants_read() const { return selected_ != 0 && selected_ != read_for_; }
  // Reads the selected metamer's full record (its loss curve) and nothing else.
  void read_selected(data::Store* store);
  // Selects the metamer with this id at the next refresh (one line in the panel when the
  // database has none).
  void select(int64_t id) { selected_ = requested_ = id; }
  // Computes audio metamers' cochleagrams (StudioOptions::cochleagram; empty: none shown).
  void set_cochleagram(StudioCochleagramFn f) { detail_.set_cochleagram(std::move(f)); }
  // Shows a plain folder (ImageFolder layout) instead of the database ("" = the database
  // again). A folder that is missing or holds no image becomes a line in the panel.
  void show_folder(const std::string& dir);
  // Draws the panel into the current ImGui window and fills the probe's Stimuli fields.
  void draw(float scale, StudioProbe& probe);
  const std::string& status() const { return status_; }

 private:
  // The cells the filters leave: columns (model, layer), rows (category, reference) and for
  // each shown (reference, model, layer) the index of its newest metamer in lib_.
  struct Shown {
    std::vector<std::pair<std::string, std::string>> cols;
    std::vector<std::pair<std::string, std::string>> rows;
    std::map<std::tuple<std::string, std::string, std::string>, size_t> cell;
  };
  Shown shown() const;
  void draw_filters(float scale, StudioProbe& probe);
  void draw_selection_bar(float scale, StudioProbe& probe);
  void draw_grid(const Shown& s, float scale, StudioProbe& probe);
  void draw_folder(float scale, StudioProbe& probe);
  void draw_detail(const data::LibraryMetamer& m, float scale, StudioProbe& probe);
  // A click on the cell of `file` (category `category`): Ctrl toggles it in the selection,
  // Shift adds the cells from the last clicked one to it (in the order shown).
  void click(const std::string& file, const std::string& category);
  // The selection checkbox below a cell's image, then its caption.
  void checkbox(const std::string& file, const std::string& category, float px_per_point, StudioProbe::Cell& c);
  void set_choices();  // the filters' choices from what is shown (the database or the folder)
  void save_csv();

  Display& d_;
  std::string status_;
  std::string db_;                        // the database's path ("" = none read yet)
  std::vector<data::LibraryMetamer> lib_;
  // Filters: index into their choices ("All" first); layers are the chosen model's.
  std::vector<std::string> categories_, models_, layers_;
  int category_ = 0, model_ = 0, layer_ = 0;
  bool failed_only_ = false;
  int64_t selected_ = 0;                  // the cell in the detail view
  int64_t read_for_ = 0;                  // the selection when the database was last read
  int64_t requested_ = 0;                 // select()'s id until the next refresh looks it up
  std::string select_status_;             // "" or why it was not selected
  MetamerDetail detail_;                  // its loss curve, sound and cochleagrams
  // The selection as (category, file), in the order the CSV lists them.
  std::set<std::pair<std::string, std::string>> chosen_;
  std::vector<std::pair<std::string, std::string>> order_, drawn_;  // cells drawn last frame, this frame
  size_t chosen_shown_ = 0, drawn_chosen_ = 0;  // selected cells drawn last frame, this frame
  std::string anchor_;                    // the file clicked last (Shift-click's start)
  char csv_[1024] = "";                   // the CSV path field
  std::string csv_status_;
  bool csv_ok_ = false;
  // Plain folder.
  char folder_field_[1024] = "";
  std::string folder_;                    // shown ("" = the database)
  std::vector<stimuli::Item> folder_items_;
  std::string folder_status_;
  ThumbnailCache thumbs_{d_, kMaxThumbs, kLoadsPerFrame};
};

}  // namespace mm::app::studio
