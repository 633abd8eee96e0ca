// app/studio.h: the experimenter's workbench (`metamerlab studio`, issue 13): one window
// with the panels Experiment, Stimuli, Synthesis, Sessions, Results and Start.
//
//   Experiment the experiment designer (app/studio_designer.h): New, Open, Save, Save as of an
//              experiment file; every key of experiments/README.md through widgets (timing
//              with its whole frames at the display's refresh, icons shown, files per category,
//              model layers from the model's sidecar, blocks added, moved and removed); the
//              messages of `metamerlab plan`, each at its field (a click focuses it); a
//              participant's plan and the rotation table; a file whose comments or layout the
//              writer would not keep is saved only after "Save anyway" or under a new name
//   Start      the launch screen (app/launch.h, LaunchPanel): pick a file and a participant,
//              see validation and the plan, start the session in this window
//   Sessions   the database's sessions (participant, experiment, status, answered/planned,
//              started, observer), re-read every few seconds; a selected row (click, or the
//              Up/Down keys) shows its trials, dropped frames, frame intervals and audio onsets
//              (app/studio_sessions.h)
//   Stimuli    the stimulus library: a grid of references x model x layer, each cell the
//              metamer's thumbnail with its pass/fail mark, filters (category, model, layer,
//              failed only), for the clicked cell reference and metamer side by side with
//              the measures and its loss curve as a plot, and for sounds Play buttons
//              (OpenAL) and both cochleagrams (StudioOptions::cochleagram, set by the program
//              layer: torch) (app/studio_detail.h); a selection of cells saved as a stimulus
//              set's CSV table; and plain folders (ImageFolder layout) as thumbnails per
//              category, no database
//   Synthesis  a queue of synth jobs, each in its own process (app/studio_synthesis.h)
//   Results    the analysis of `metamerlab analyze` (proportion correct per condition, humans
//              and judging models, as a table and a plot), computed in the background once per
//              database change, and the exports of `metamerlab export` (app/studio_results.h)
//
// Mouse and keyboard: click a tab, or Ctrl+Tab / Ctrl+Shift+Tab, or Ctrl+1 ... Ctrl+6;
// Ctrl+= and Ctrl+- change the text size (also a slider); Ctrl+Q or the window's close
// button closes it. The settings (app/studio_settings.h) are read at start and written at
// the end. The window writes nothing to the database (Synthesis jobs, being synth, record into
// it; a missing file is reported, not
// created; an older one is migrated on open, as by every command).
//
// Tests drive it in-process through StudioOptions::probe: called every frame with what
// the panels show and the display, so a test sends real SDL events (Display::push_key,
// push_click) and checks what the next frames show.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "app/display.h"
#include "app/runner.h"
#include "app/studio_synthesis.h"
#include "data/store.h"

namespace mm::app {

// The panels, in tab order.
const std::vector<std::string>& studio_panels();

// What one frame showed, for tests (StudioOptions::probe).
struct StudioProbe {
  Display* display = nullptr;  // to send events through SDL's queue
  int64_t frame = 0;
  std::string panel;           // the panel shown this frame
  float font_px = 0;
  std::vector<Rect> tabs;      // each panel's tab, in drawable pixels (studio_panels order)
  // Sessions: the rows of the table (when the panel is shown), and the panel's status line.
  std::vector<data::SessionSummary> sessions;
  std::string status;          // "" or what went wrong reading the database / what is missing
  std::vector<Rect> session_rows;  // each row of the table (drawable pixels, in `sessions` order)
  int64_t session = 0;             // the selected session's id (0: none)
  std::string session_detail;      // its details' summary, one line each (trials, dropped frames,
                                   // frame intervals, audio onsets)
  size_t session_trials = 0;       // rows of its trials table
  // Results: what the panel shows (when shown).
  struct ResultRow {
    std::string condition;
    int trials = 0;
    double human = 0, sem = 0, ci_low = 0, ci_high = 0;  // NaN when no participant
    std::map<std::string, double> models;                // judging model -> proportion correct
  };
  bool computing = false;              // the analysis (or an export) is running in the background, or
                                       // its results came less than 3 frames ago (columns still sizing)
  std::string results_status;          // "" or the one-line error
  std::vector<std::string> experiments;  // the database's experiments (the choice when several)
  std::vector<ResultRow> results;      // the chosen experiment's conditions, in order
  std::vector<std::string> series;     // the plot's series: "humans", then each judging model
  Rect plot;                           // the plot's area (drawable pixels; empty when none)
  Rect refresh;                        // the Refresh button
  Rect cancel_analysis;                // Cancel beside "computing..." (empty when none runs)
  std::string export_folder;           // the folder typed for the exports
  std::vector<Rect> export_buttons;    // CSV, BIDS, JSON lines
  Rect export_with_codes, export_with_stimuli;  // their checkboxes
  std::string export_message;          // what the last export wrote, or its one-line error
  struct AnovaRow {                    // each effect of each of the paper's ANOVAs, as drawn
    std::string title, effect;         // the ANOVA's title; the effect ("" when it was skipped)
    double f = 0, partial_eta2 = 0, p = 0;
    int df = 0, df_error = 0;
    std::string note;                  // why it was skipped
  };
  std::vector<AnovaRow> anovas;
  // Network-to-network: the plot's slots (LABEL/LAYER) and series ("humans", "other models",
  // then each judging model), each series' value per slot (NaN: none); the scatter of human
  // against the other models' recognition and its Spearman rho (NaN when not computed).
  std::vector<std::string> network_slots, network_series;
  std::vector<std::vector<double>> network_values;
  Rect network_plot, network_scatter;
  double network_rho = std::numeric_limits<double>::quiet_NaN();
  Rect write_report;                   // the "Write report" button
  std::string report_folder, report_message;  // its folder; what it wrote, or its one-line error
  // Stimuli: the grid's cells drawn this frame and what the detail view shows.
  struct Cell {
    int64_t metamer_id = 0;
    std::string reference, category, model, layer;
    bool passed = false;
    bool thumbnail = false;    // its image is on screen (loaded and uploaded)
    Rect rect;                 // drawable pixels (for push_click)
    bool chosen = false;       // in the selection (saved as CSV)
    Rect checkbox;             // its selection checkbox (drawable pixels)
  };
  // A filter's combo box: its choices ("All" first), the choice, where it is and, while its
  // list is open, where each choice is.
  struct Combo {
    std::vector<std::string> choices;
    std::string choice;
    Rect box;
    std::vector<Rect> items;
  };
  std::vector<Cell> cells;
  std::vector<std::string> categories;  // the filter's choices ("All" first)
  std::string category;                 // the filter's choice
  Rect category_combo;                  // the filter (drawable pixels)
  std::vector<Rect> category_items;     // its choices while its list is open
  Combo model_filter, layer_filter;     // the model and layer filters (layers: the chosen model's)
  bool failed_only = false;             // the "failed only" filter
  Rect failed_only_box;
  size_t chosen = 0;                    // files in the selection (shown by the filters or not)
  Rect select_all, clear_selection;     // "Select all shown", "Clear selection"
  Rect csv_field, save_csv;             // the CSV path field, "Save selection as CSV..."
  std::string csv_path;                 // what the path field holds
  std::string csv_status;               // "" or the last save's line (what was written, or why not)
  // Plain folders: the folder field, its button, and the folder shown ("" = the database).
  Rect folder_field, folder_show;
  std::string folder;
  int64_t selected = 0;                 // the selected metamer's id (0 none)
  std::string detail;                   // the detail view's measures, one per line
  int pending_thumbnails = 0;           // cells still waiting for their image (and cochleagrams being computed)
  // Stimuli, the selected metamer's loss curve and sound (app/studio_detail.h).
  std::vector<std::pair<int64_t, double>> loss_curve;  // the points plotted (step, loss)
  Rect loss_plot;                       // the plot's area (drawable pixels; empty when none is drawn)
  bool loss_log = false;                // its loss axis is logarithmic (the curve spans more than a decade)
  std::string loss_message;             // "" or why no curve is drawn (older database, unreadable)
  Rect play_reference, play_metamer;    // audio metamers: the Play buttons (drawable pixels)
  std::string audio_status;             // what is playing, or the one line why nothing can be
  int played = 0;                       // sounds started since the window opened
  std::vector<Rect> cochleagrams;       // the cochleagram images on screen (reference, metamer)
  std::string cochleagram_source;       // which cochleagram: the model's front end, or the default and why
  std::string cochleagram_status;       // "" or why a cochleagram is not shown (no torch, a bad file)
  // Synthesis: the form's fields and button (drawable pixels), its complaint, the jobs.
  Rect synth_input, synth_out, synth_queue;
  std::string synth_message;
  struct Job {
    int id = 0;
    std::string state;
    double fraction = 0;
    std::string last_line;
    Rect action;  // its Cancel or Resume button (drawable pixels; empty when it has none)
    int pid = 0;  // its process while running
  };
  std::vector<Job> jobs;
  double frame_ms = 0;                  // the time since the last frame
  double work_ms = 0;                   // this frame's work so far: events, database, drawing (not the flip)
  size_t thumbnails = 0;                // Stimuli: textures held by the thumbnail cache
  size_t thumbnail_bytes = 0;           // and their size (RGBA8)
  bool quit = false;                    // the test sets this to close the window
  // Experiment: the designer (app/studio_designer.h), when shown.
  struct Designer {
    std::map<std::string, Rect> widgets;  // field ("experiment.name", "blocks.2.set", see
                                          // experiments/experiment_writer.h) or button label
                                          // ("New", "Save", "Add block", ...) -> drawable pixels
    std::string path;                     // the path field
    std::string status;                   // the last New/Open/Save's line ("" = none)
    bool dirty = false;                   // edited since opened or saved
    bool checking = false;                // the validation of the latest edit is not in yet
    std::vector<std::string> messages;    // the validation's errors, then notes, as `plan` prints them
    size_t errors = 0;                    // how many of them are errors (the first ones)
    std::vector<Rect> message_rows;       // each message's row
    std::vector<std::string> message_fields;  // the field each message is shown at ("" = none)
    std::string focus;                    // the field a click on a message focused ("" = none)
    std::string plan;                     // the plan preview's summary, one line per block
    size_t set_thumbnails = 0;            // thumbnails drawn under the stimulus sets (one per category)
    std::string preview;                  // what the last trial preview showed (or why not), one line each
    std::string picker;                   // the folder the open file picker lists ("" = closed)
    std::string table_status, words_status;  // the set table and words file editors' last lines
  } designer;
};

// A sound's cochleagram as an image (StudioOptions::cochleagram): rows are channels, the
// lowest first; values in [0, 1].
struct StudioCochleagram {
  int channels = 0, frames = 0;
  std::vector<float> values;  // channels x frames, row-major
  std::string source;         // what computed it (the model's front end, or the default and why)
};
// wav file, model spec -> its cochleagram; throws std::runtime_error (one line) for a bad file.
using StudioCochleagramFn = std::function<StudioCochleagram(const std::string& wav, const std::string& model_spec)>;

struct StudioOptions {
  std::string experiment;            // preselected in Start ("" = the last one remembered)
  std::string db;                    // "" = the remembered database, else metamerlab.db
  std::string settings;              // the settings file ("" = nothing read or remembered)
  std::vector<std::string> folders;  // Start: folders whose experiment files are listed
  RunOptions run;                    // Start: the runner's options (station, live generation)
  int width = 0, height = 0;         // window size (0: the remembered one)
  std::string panel;                 // open at this panel ("" = the one open last)
  std::string screenshot;            // scripted: PNG of the window once the panel shows its data, then close
  double refresh_s = 3;              // Sessions and Stimuli re-read the database this often
  std::string program;               // Synthesis: the metamerlab executable its jobs run
  std::string queue;                 // Synthesis: its jobs' file ("" = beside the settings, or not kept)
  studio::SynthRequest synth_form;   // Synthesis: the form's first values
  int permutations = 10000;          // Results: permutations per test (as analyze's default)
  int bootstrap = 1000;              // Results: bootstrap resamples
  // Stimuli: computes an audio metamer's cochleagrams, on a background thread. Torch's, so set
  // by the program layer (app/program/session_commands.cpp); empty: the panel says none.
  StudioCochleagramFn cochleagram;
  int64_t select = 0;                // Stimuli: the metamer (its id) whose details show at start (0: none)
  std::function<void(StudioProbe&)> probe;  // tests: called every frame after drawing
};

// Shows the workbench until it is closed; writes the settings then. Returns 0 (2 for an
// unknown --panel). Throws NoDisplay without a display.
int run_studio(const StudioOptions& o, std::ostream& out, std::ostream& err);

}  // namespace mm::app
