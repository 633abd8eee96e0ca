// experiments: the experiment an experimenter writes (a TOML file plus optional CSV tables),
// loaded into plain structs with every stimulus listed and every metamer resolved, and the
// checks that run before a session starts (files load, sizes agree, timing fits the display).
//
// No SDL, no torch. Paths inside an experiment file are relative to the file's folder.
// Problems in the file throw ExperimentError, whose message reads "FILE:LINE: what; fix".
// The file format is described in experiments/README.md; the bundled examples are
// experiments/demo-images.toml and experiments/demo-words.toml.
//
// Sections
//   [SECTION] Errors        ExperimentError, Issue
//   [SECTION] Model         modality, timing, alternatives, sets, conditions, blocks
//   [SECTION] Loading       load_experiment
//   [SECTION] Validation    validate_experiment, frames at a refresh rate
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mm::experiments {

// [SECTION] Errors ------------------------------------------------------------------------
// A problem in an experiment file (or a CSV table it names). what() is one line:
// "FILE:LINE: what went wrong; what to do" (LINE is omitted when unknown, i.e. 0).
struct ExperimentError : std::runtime_error {
  ExperimentError(std::string file, int line, const std::string& message);
  std::string file;
  int line = 0;
  std::string message;  // without the "FILE:LINE: " prefix
};

// "FILE:LINE: message" (or "FILE: message" when line is 0).
std::string located(const std::string& file, int line, const std::string& message);

// One finding of validation: an error stops the session from starting; a note does not.
struct Issue {
  bool error = true;
  std::string file;
  int line = 0;
  std::string message;
  std::string text() const { return located(file, line, message); }
};

// Where something was declared: the experiment file or a CSV table, and the line.
struct Where {
  std::string file;
  int line = 0;
};

// [SECTION] Model -------------------------------------------------------------------------
enum class Modality { image, audio };
const char* modality_name(Modality m);

// Phase durations in milliseconds. response = 0 means no time limit. For audio the
// stimulus phase is the clip (its length is [audio] clip_ms) and there is no mask.
struct Timing {
  int fixation_ms = 500;
  int stimulus_ms = 300;
  int mask_ms = 300;
  int response_ms = 0;
  int iti_ms = 500;
};

// A response alternative: the category name (images) or the word (audio). Images need an
// icon: shown on the response screen, and as the stimulus of catch trials.
struct Alternative {
  std::string name;
  std::string icon;  // absolute path ("" for audio)
  Where where;
};

struct Stimulus {
  std::string path;      // absolute, lexically normal
  std::string category;  // parent folder's name, or the table's category column
  std::string sha256;
  Where where;           // the declaration that brought it in (set folder key or CSV row)
};

// A named natural stimulus set: ImageFolder folders (optionally filtered by file-name
// patterns) or a CSV table with columns file[,category].
struct StimulusSet {
  std::string name;
  std::vector<std::string> folders;   // absolute
  std::vector<std::string> include;   // fnmatch patterns on the file name, or on
  std::vector<std::string> exclude;   //   "category/name" when the pattern holds a '/'
  std::string table;                  // absolute CSV path ("" if folders are used)
  std::vector<Stimulus> items;        // sorted by category, then path
  Where where;                        // the [sets.NAME] header
  std::map<std::string, int> lines;   // key -> line
};

// Where metamers of one model come from. Exactly one of database/folder/table drives the
// look-up; database + folder means "files in the folder, pass/fail from the database".
// How a live source makes its metamers during the session (generate = "live").
struct LiveSettings {
  int64_t iterations = 250;          // steps per round
  int rounds = 4;                    // the step halves after each
  int max_rounds = 0;                // until converged: rounds go on past `rounds`, up to this many (0: exactly `rounds`)
  double step = -1;                  // initial step (<0: the optimizer's default)
  std::string optimizer = "gd";      // gd | adam
  std::string loss = "l2norm";       // l2norm | mse
  bool participant_seed = true;      // seed = "participant": from the participant number and reference
  uint64_t seed = 0;                 // a fixed seed (participant_seed false)
  std::string null_set;              // a [sets.NAME] of natural stimuli for the null ("" = the model's bundled null)
  int retries = 2;                   // a failing metamer is made again with the next seed this many times
  std::string when_late = "wait";    // wait: a neutral screen until it is ready; reorder: a ready trial goes first
};

struct MetamerSource {
  bool live = false;          // generate = "live": made during the session (live below)
  LiveSettings live_settings;
  std::string model;          // as named in the file: zoo:NAME or a path
  std::string model_sha256;   // optional: pins one version of the model in the database
  std::string label;          // condition prefix ("tiny-cnn" for zoo:tiny-cnn)
  std::vector<std::string> layers;
  std::string database;       // absolute ("" if none)
  std::string folder;         // absolute: FOLDER/<layer>/<category>/<reference stem>.<ext>
  std::string table;          // absolute CSV: reference,layer,file[,passed]
  bool assume_passed = false; // folder/table without pass/fail information
  Where where;                // the [[metamers]] header
  std::map<std::string, int> lines;  // key -> line; "layer:NAME" -> line of that layer
};

// A condition a reference can be shown in: the natural stimulus, or a model × layer metamer.
struct Condition {
  std::string name;      // "natural" or "<label>/<layer>"
  bool natural = true;
  std::string model, model_sha256, layer;
  int source = -1;       // index into Experiment::sources (-1 for natural)
};

// A passing metamer found for a reference in a condition.
struct MetamerFile {
  std::string path, sha256;
  Where where;  // the [[metamers]] entry (or CSV row) it came from
};

// headphone_check: the antiphase test of Woods et al. (2017), audio only: six trials of
// three tones, pick the quietest; 5 of 6 correct to continue (else the session ends).
enum class BlockKind { instructions, practice, demo, main, catch_trials, pause, debrief, headphone_check };
const char* block_kind_name(BlockKind k);  // instructions practice demo main catch break debrief headphone_check

// The headphone check's fixed design (Woods et al. 2017): trials and the pass criterion.
constexpr int kHeadphoneTrials = 6;
constexpr int kHeadphonePassCorrect = 5;

struct Block {
  BlockKind kind = BlockKind::main;
  std::string name;         // shown in summaries ("" = the kind)
  std::string text;         // screen text (instructions, break, debrief, demo pass/fail)
  std::string set;          // practice, demo, main (and catch for audio): the stimulus set
  int trials = -1;          // practice/demo/catch: how many (-1: all items / one per category)
  bool feedback = false;    // practice: true by default
  int pass_min_correct = 0; // demo: needed to continue
  std::string fail_text;    // demo: shown when the criterion is missed (session ends)
  std::vector<std::string> conditions;  // main: condition names (empty: all)
  int max_run = 0;          // main: at most this many of one condition in a row (0: no limit)
  int catch_trials = 0;     // main: catch trials mixed into the block
  std::string catch_set;    // main: catch stimuli drawn from this set (default: the icons)
  int break_every = 0;      // trial blocks: a break screen before every N-th trial
  std::string break_text;
  Timing timing;            // effective: [timing] with the block's overrides applied
  Where where;              // the [[blocks]] header
  std::map<std::string, int> lines;  // key -> line ("timing.stimulus" for overrides)
};

// How a stimulus is magnified (or shrunk) to its box on the screen ([images] scaling).
//   automatic  nearest when the box is a whole multiple of the image, else linear (a note)
//   nearest    each image pixel an exact block of k x k screen pixels (k whole; the box
//              snaps to the nearest whole multiple, with a note)
//   linear     bilinear filtering (blurs the finest detail when magnifying); shrinking is
//              area-averaged on the CPU before upload
//   none       the image's own size, whatever the box
enum class Scaling { automatic, nearest, linear, none };
const char* scaling_name(Scaling s);  // automatic nearest linear none

struct ImagePolicy {
  // All stimuli share one size unless fit is set. They are shown in a size×size box (its
  // larger side fills the box, scaled uniformly; size = 0: at their own size); with fit,
  // mixed sizes are allowed and each is scaled to fit the box keeping its aspect ratio.
  // size_deg gives the box in degrees of visual angle instead (needs a station profile
  // with the screen's geometry). Catch-trial icons are scaled to the stimuli's size.
  int size = 0;
  double size_deg = 0;
  bool fit = false;
  Scaling scaling = Scaling::automatic;
};

// A stimulus image as it is shown: the method, the realized size in pixels and (with a
// station's screen geometry) in degrees. Computed by realize_stimulus_size (station.h).
struct StimulusSize {
  Scaling requested = Scaling::automatic;  // as the experiment asked
  Scaling scaling = Scaling::none;         // the method used (never automatic)
  int image_w = 0, image_h = 0;            // the file's pixels
  int box_px = 0;                          // the box asked for (size, or size_deg in px; 0: none)
  double factor = 1;                       // shown size / image size
  int width = 0, height = 0;               // on the screen, pixels
  double width_deg = 0, height_deg = 0;    // on the screen, degrees (0: no screen geometry)
  bool snapped = false;                    // nearest changed the box to a whole multiple
  std::string problem;                     // why it cannot be shown as asked ("" = fine)
};

struct AudioPolicy {
  int sample_rate = 20000;  // clips are resampled to this rate (with a note) when needed
  int clip_ms = 2000;       // clips are centre-cropped or padded to this length
  double rms_dbfs = -20;    // every clip is normalized to this RMS (dB re full scale; -20 = 0.1)
  double rms() const;       // the linear RMS
};

// [analysis]: how the comparison with models is run (metamerlab judge / analyze).
struct AnalysisPolicy {
  std::vector<std::string> judges;   // models that judge the trials besides the generating ones
  double exclude_catch_below = -1;   // participants below this catch-trial accuracy are excluded (-1: none)
};

struct Experiment {
  std::string path;      // absolute path of the TOML file
  std::string file;      // the path as given to load_experiment (named in messages)
  std::string dir;       // its folder: relative paths in the file start here
  std::string sha256;    // of the TOML file
  std::string name, description;
  Modality modality = Modality::image;
  uint64_t seed = 0;     // design seed: the Latin-square assignment (and default session seed)
  std::vector<Alternative> alternatives;
  Timing timing;         // [timing] as written (blocks hold the effective values)
  ImagePolicy images;
  AudioPolicy audio;
  std::vector<StimulusSet> sets;
  std::vector<MetamerSource> sources;
  std::vector<Condition> conditions;  // natural first (when included), then by source, layer
  // Passing metamers: reference path -> condition name -> file.
  std::map<std::string, std::map<std::string, MetamerFile>> metamers;
  // Why a reference has no metamer in a condition: reference path -> condition -> reason
  // ("failed": synthesized but did not pass; "missing": none found).
  std::map<std::string, std::map<std::string, std::string>> unavailable;
  std::vector<Block> blocks;
  AnalysisPolicy analysis;
  std::vector<Issue> notes;  // found while loading (e.g. several passing metamers for one)
  std::map<std::string, int> lines;  // "experiment", "timing.stimulus", "images", ... -> line

  const StimulusSet* find_set(const std::string& name) const;
  const Condition* find_condition(const std::string& name) const;
  const Alternative* find_alternative(const std::string& name) const;
};

// [SECTION] Loading -----------------------------------------------------------------------
struct LoadOptions {
  // Database for [[metamers]] entries that name none (metamerlab plan --db); "" = none.
  std::string default_database;
};

// Parses the TOML file (and the CSV tables it names), lists every set, hashes every
// stimulus, resolves metamer sources against the database or folders (passing metamers
// only) and checks that every model and layer named exists. Throws ExperimentError on
// the first problem (bad syntax, unknown or missing keys, missing folders or files, an
// unknown model or layer).
Experiment load_experiment(const std::string& path, const LoadOptions& options = {});
// The same for text held in memory (the workbench's designer checks what is being edited
// before it is saved): `path` names the file in messages and its folder anchors relative
// paths; nothing is read at `path` itself. sha256 is the text's.
Experiment load_experiment_text(const std::string& text, const std::string& path, const LoadOptions& options = {});

// [SECTION] Validation --------------------------------------------------------------------
// A phase duration at a refresh rate: whole frames and the milliseconds they really last.
struct FrameTiming {
  int requested_ms = 0;
  int frames = 0;
  double realized_ms = 0;
};
// Nearest whole number of frames; 0 ms stays 0 frames.
FrameTiming to_frames(int ms, double refresh_hz);

struct TimingRow {
  int block = -1;           // index into Experiment::blocks
  std::string phase;        // fixation stimulus mask response iti
  FrameTiming t;
};

struct Station;  // experiments/station.h

struct ValidateOptions {
  double refresh_hz = 60.0;
  bool load_files = true;   // decode every image / sound (false: existence only)
  // The station the session runs on (experiments/station.h): its screen geometry converts
  // size_deg and bounds the stimulus size; its audio gain bounds the clips' peaks. nullptr:
  // none (size_deg is then an error).
  const Station* station = nullptr;
  // Check the shown size and the sound level (false for a model observer, which takes the
  // stimulus files as they are, never a screen or a loudspeaker).
  bool presentation = true;
  // Checks of live sources that need the engine (model and layers exist; whether the worker
  // keeps ahead of the trials); the program layer provides it. Its issues join the rest.
  std::function<std::vector<Issue>(const Experiment&, double refresh_hz)> live_check;
};

struct Validation {
  double refresh_hz = 60.0;
  std::vector<Issue> issues;    // errors and notes, in the order found
  std::vector<TimingRow> timing;
  int stimulus_width = 0, stimulus_height = 0;  // the common image size (0 if mixed/audio)
  StimulusSize stimulus;        // the common size as shown (image_w 0: mixed sizes or audio)
  std::vector<StimulusSize> sizes;  // every distinct image size as shown (images)
  double audio_peak = 0;        // the loudest clip's peak after RMS normalization, before gain
  std::string audio_peak_file;  // which clip
  double audio_gain_db = 0;     // the station's output gain the peaks were checked with
  bool ok() const;
  std::vector<std::string> errors() const;  // Issue::text() of each error
};

// Everything that can be checked before a session starts: every stimulus, metamer and icon
// loads (images with stb_image, sounds with libsndfile; a sound at another sample rate is a
// note); images share one size unless [images] fit is set; the shown size is realized
// (scaling, size_deg with the station's geometry) and fits the station's screen; no clip
// peaks above full scale after RMS normalization and the station's gain; each trial block
// has enough stimuli and every stimulus' category is a response alternative; every
// non-zero duration lasts at least one frame at refresh_hz (its realized ms are reported).
Validation validate_experiment(const Experiment& e, const ValidateOptions& options = {});

}  // namespace mm::experiments
