// app/studio_designer.h: the workbench's Experiment panel (issue 13, part 2): an experiment
// file designed through widgets instead of written by hand.
//
//   File         New, Open (the path field), Save, Save as (the path field; relative paths
//                are rewritten to name the same files from the new folder). The panel edits
//                an ExperimentDraft (experiments/experiment_writer.h: the keys as written);
//                Save writes write_draft's TOML atomically. A file whose text the writer would
//                not give back as it is (comments, another layout, keys it drops) is saved
//                only after a second click ("Save anyway") or under another name: the panel
//                says so first.
//   Widgets      every key of experiments/README.md: [experiment]; responses (the icons shown);
//                timing with the whole frames each duration lasts at the display's refresh;
//                sets (files per category once the file loads, and a thumbnail of each
//                image category's first file); metamer sources (models of
//                the zoo or a file, layers from the model's sidecar JSON when it has one, how
//                many references have a passing metamer per layer and how many fall back);
//                blocks added per kind, removed, moved up and down, with each kind's keys;
//                the main block's conditions; [analysis].
//   Validation   the messages `metamerlab plan` gives (experiments/session.h,
//                check_experiment_text): for the file on disk while it is unedited, then for
//                the text Save would write; each shown at its field, and a click on one
//                scrolls to and focuses that field.
//   Plan         a participant's plan (plan_session): blocks, trials, conditions, the
//                estimated duration, and the rotation table (references x participants ->
//                condition) over one rotation group.
//   Preview    one trial of any block with trials (the block, the trial in it), shown in
//                this window by the session runner's own presentation (app/runner.h,
//                preview_trial) at the display's refresh, answered with the mouse or keys,
//                nothing recorded; then each phase's requested ms, whole frames, realized
//                and measured ms, dropped frames, and the answer.
//   Files        (studio_designer_files.cpp) a "..." beside each path field opens the file
//                picker (app/studio_files.h) and fills the field, relative to the
//                experiment's folder; a set's CSV table edited row by row and saved (or
//                made from the files its folders list, which the set then uses); the
//                words file of [responses] edited as text and saved.
#pragma once
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/display.h"
#include "app/runner.h"
#include "app/studio_files.h"
#include "app/studio_thumbnails.h"
#include "experiments/experiment_writer.h"
#include "experiments/session.h"
#include "experiments/set_table.h"

namespace mm::app {
struct StudioProbe;
}

namespace mm::app::studio {

// A list field's text (alternatives, folders, include and exclude patterns, layers,
// judges): the items joined by ", ", an item holding a comma, a double quote or spaces at
// its ends in double quotes (\" and \\ inside). parse_list_text reads it back: list_text's
// text to the same items; typed text's unquoted items trimmed, empty ones dropped.
std::string list_text(const std::vector<std::string>& items);
std::vector<std::string> parse_list_text(const std::string& text);

class ExperimentDesigner {
 public:
  // db: the database metamer sources naming none use (as `plan --db`); file: opened at
  // start ("" = a new experiment).
  ExperimentDesigner(Display& d, std::string db, const std::string& file = "");
  ~ExperimentDesigner();
  ExperimentDesigner(const ExperimentDesigner&) = delete;
  ExperimentDesigner& operator=(const ExperimentDesigner&) = delete;

  // Draws the panel; fills probe.designer.
  void draw(float scale, StudioProbe& probe);

  // The file operations the buttons run; each leaves its line in status().
  void new_experiment();
  void open(const std::string& path);
  void save(const std::string& path, bool as);
  const std::string& status() const { return status_; }
  // The Preview button asked for a trial; run_preview shows it on the display (the window
  // calls it between frames: the trial takes the window until it is answered).
  bool preview_requested() const;
  void run_preview(const RunOptions& o, std::ostream& log);
  const experiments::ExperimentDraft& draft() const { return draft_; }

 private:
  struct Check;  // the last validation and plan preview

  // A path field's picker: what it picks, and which files it lists.
  struct Browse {
    FilePicker::Kind kind;
    std::vector<std::string> extensions;  // empty: every file
  };

  // [widgets] (studio_designer.cpp) each returns true when the value changed
  bool text(const std::string& field, const char* label, std::string& v, bool multiline = false,
            const Browse* browse = nullptr);
  // browse: an "add" button beside the field appends a picked folder
  bool list(const std::string& field, const char* label, std::vector<std::string>& v, const Browse* browse = nullptr);
  // frames_default: a duration; its whole frames (or the default's) are shown beside it
  bool integer(const std::string& field, const char* label, std::optional<int64_t>& v,
               const int* frames_default = nullptr);
  bool number(const std::string& field, const char* label, std::optional<double>& v);
  bool flag(const std::string& field, const char* label, std::optional<bool>& v, const char* unset);
  bool choice(const std::string& field, const char* label, std::string& v, const std::vector<std::string>& options,
              const char* unset);
  bool button(const std::string& label);
  void label(const char* text);
  // After a field's widget (rect: its rectangle when other items followed it): registers it
  // for the probe, scrolls to and focuses it when asked, shows its messages.
  void at_field(const std::string& field, const Rect* rect = nullptr);
  void frames_beside(const std::optional<int64_t>& ms, int fallback_ms);

  void draw_file_bar();
  void draw_settings();
  void draw_responses();
  void draw_timing();
  void draw_sets();
  void draw_set_thumbnails(const experiments::StimulusSet& set, const std::string& field);
  void draw_sources();
  void draw_blocks();
  void draw_analysis();
  void draw_messages();
  void draw_plan();
  void draw_trial_preview();

  // [files] (studio_designer_files.cpp)
  // A "..." button opening the picker for `field` at `current` (relative to the experiment's
  // folder); returns true on the frame the picker's choice for it arrives, in `v`.
  bool browse_button(const std::string& field, const std::string& current, const Browse& b, std::string& v);
  // A picked path as the draft writes it: relative to anchor() unless only "/" is shared;
  // absolute while the experiment has no file yet.
  std::string as_written(const std::string& path) const;
  void draw_picker();
  void draw_set_table_buttons(size_t set, const experiments::StimulusSet* loaded);
  void draw_table_editor();
  void save_table();
  void close_file_editors();  // New and Open: the table and words editors and pending picks belong to the old file
  void draw_words_editor();

  void edited();                  // the draft changed
  void recheck();                 // starts the validation and plan of the current draft (or file)
  void collect_check();           // takes the finished check, if any
  // The check of a file's text (validation with plan's messages, the plan preview), on a
  // worker thread: everything it needs is given by value.
  static std::unique_ptr<Check> compute_check(std::string text, std::map<std::string, int> lines, std::string file,
                                              std::string db, double hz, int participant);
  std::string anchor() const;     // where the draft's relative paths start: the file's folder
  const Texture* icon(const std::string& path);

  Display& d_;
  std::string db_;
  experiments::ExperimentDraft draft_;
  std::string file_;              // the file the draft came from or was saved to ("" = new)
  std::string disk_text_;         // that file's text when opened or saved
  std::map<std::string, int> disk_lines_;  // its fields' lines (read_draft)
  std::string disk_error_;        // its TOML syntax error ("" = none)
  bool edited_ = false;           // the draft differs from the file's (edited since)
  std::string path_field_;
  std::string status_;
  bool status_bad_ = false;
  std::string confirm_;           // "save:PATH" armed by a first click that needs a second
  int version_ = 0, checked_version_ = -1;
  double last_edit_s_ = 0;
  std::unique_ptr<Check> check_;
  std::future<std::unique_ptr<Check>> pending_;  // the check running (recheck)
  int pending_version_ = -1;                      // the version it checks
  std::map<std::string, std::string> buffers_;  // numbers being typed, by field
  std::string focus_;             // the field to scroll to and focus (set by a message click)
  int focus_frames_ = 0;
  int participant_ = 1;
  std::string preview_block_;     // the block chosen for a preview ("N kind name")
  int preview_trial_ = 1;         // its trial, from 1
  int64_t preview_index_ = -1;    // the plan's trial the Preview button asked for (-1 none)
  std::string preview_text_;      // what the last preview showed, or why it could not
  bool preview_bad_ = false;
  std::map<std::string, Texture> icons_;  // by path (absolute)
  std::map<std::string, std::string> icon_files_;  // FOLDER/alternative -> its image file ("" none)
  std::vector<std::string> zoo_;          // zoo:NAME of the models folder's sidecars
  ThumbnailCache thumbs_{d_, 256, 8};     // the stimulus sets' thumbnails, one per category
  std::map<std::string, std::vector<std::string>> layers_;  // a model's layers (sidecar), by model and folder
  FilePicker picker_;
  std::map<std::string, std::string> picked_;  // the picker's choice, by field, until the field takes it
  struct TableEdit {                 // a set's CSV table being edited (one at a time)
    bool open = false;
    size_t set = 0;                  // its index in draft_.sets
    std::string path;                // the CSV file, as the draft names it
    std::string base;                // the folder the rows' relative files start from (absolute)
    std::vector<experiments::SetTableRow> rows;
    bool from_folders = false;       // made from the set's folders: saving switches the set to it
    bool dirty = false;              // rows edited since read or saved
    std::string unreadable;          // the file when it could not be read (never saved over)
    std::string confirm;             // "close", "switch" or "save:PATH" armed by a first click
    std::string status;
    bool bad = false;
  } table_;
  struct WordsEdit {                 // the words file being edited
    bool open = false;
    std::string path;                // absolute: the file it opened, until Close
    std::string text, status;
    std::string disk;                // the text as read or last saved
    bool close_armed = false;        // a first Close over unsaved words
    bool bad = false;
  } words_;
  StudioProbe* probe_ = nullptr;          // while drawing
  float scale_ = 1, k_ = 1;               // widget scale, drawable pixels per point
};

}  // namespace mm::app::studio
