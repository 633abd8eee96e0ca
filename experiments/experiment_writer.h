// experiments/experiment_writer.h: an experiment as its file states it, and the TOML text
// for it. ExperimentDraft holds the keys as a person writes them (paths relative to the
// file's folder, unset keys unset, nothing resolved or listed), so it can hold an
// experiment that does not load yet; write_draft turns it into TOML that load_experiment
// reads back to the same experiment (tests/experiments/writer_test.cpp checks that on the
// bundled files and on a file using every key of experiments/README.md), and read_draft
// reads any TOML text back into a draft, leniently: a key of the wrong type or an unknown
// key is left out (load_experiment's error names it). Both report which line holds which
// field, so a message located at FILE:LINE can be shown at its widget.
//
// The workbench's experiment designer (app/studio_designer.h) edits a draft. No SDL.
//
// Field names (DraftText::lines, DraftRead::lines): a table "experiment", "responses",
// "timing", "images", "audio", "analysis", "sets.I", "metamers.I", "blocks.I" (I from 0),
// and a key within one: "experiment.name", "timing.stimulus", "sets.0.folders",
// "metamers.1.layers", "blocks.2.timing.mask", "responses.icons.cat".
//
// Sections
//   [SECTION] Draft   ExperimentDraft and its parts
//   [SECTION] Text    write_draft, read_draft, field_at_line
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mm::experiments {

// [SECTION] Draft -------------------------------------------------------------------------
// Phase durations (ms) as written: unset keys take [timing]'s value (or the default).
struct DraftTiming {
  std::optional<int64_t> fixation, stimulus, mask, response, iti;
  bool empty() const { return !fixation && !stimulus && !mask && !response && !iti; }
};

struct DraftIcon {
  std::string alternative, file;
};

// [sets.NAME]: folders (with include/exclude) or a table. Strings "" are not written.
struct DraftSet {
  std::string name;
  std::vector<std::string> folders, include, exclude;
  std::string table;
};

// [[metamers]]. Strings "" are not written.
struct DraftSource {
  std::string model, model_sha256, label;
  std::vector<std::string> layers;
  std::string database, folder, table;
  std::optional<bool> assume_passed;
  bool live = false;  // generate = "live" (the keys below are its settings)
  std::optional<int64_t> iterations, rounds, max_rounds, retries;
  std::optional<double> step;
  std::string optimizer, loss, null_set, when_late;
  std::string seed;  // "participant", a whole number, or "" (not written)
};

// [[blocks]]. Strings "" are not written; which keys a kind takes is experiments/README.md's.
struct DraftBlock {
  std::string kind = "main";
  std::string name, text, file, set;
  std::optional<int64_t> trials;
  std::optional<bool> feedback;
  DraftTiming timing;  // overrides of [timing]
  std::optional<int64_t> break_every;
  std::string break_text;
  std::optional<int64_t> pass_min_correct;
  std::string fail_text;
  std::vector<std::string> conditions;  // main: empty = all (not written)
  std::optional<int64_t> max_run, catch_trials;
  std::string catch_set;
};

struct ExperimentDraft {
  // [experiment]
  std::string name, description, modality = "image";
  std::optional<int64_t> seed;
  // [responses]: alternatives or words_file; icons a folder or one file per alternative.
  std::vector<std::string> alternatives;
  std::string words_file;
  std::string icons_folder;
  std::vector<DraftIcon> icons;  // written as [responses.icons] when icons_folder is ""
  DraftTiming timing;
  // [images]
  std::optional<int64_t> size;
  std::optional<double> size_deg;
  std::optional<bool> fit;
  std::string scaling;
  // [audio]
  std::optional<int64_t> sample_rate, clip_ms;
  std::optional<double> rms_dbfs;
  std::vector<DraftSet> sets;
  std::vector<DraftSource> sources;
  std::vector<DraftBlock> blocks;
  // [analysis]
  std::vector<std::string> judges;
  std::optional<double> exclude_catch_below;

  bool operator==(const ExperimentDraft& o) const;
  bool operator!=(const ExperimentDraft& o) const { return !(*this == o); }
};

// A draft's paths re-anchored from folder `from` to folder `to` (Save as into another folder):
// each relative path the loader resolves against the experiment's folder (words_file, the
// icons folder and files, the sets' folders and tables, the sources' database, folder and
// table, the blocks' text files) rewritten relative to `to` so it names the same file
// (lexically: no file is looked at); absolute paths and "" stay. Models stay as written
// (a model file is opened from the current folder, or is zoo:NAME). Returns how many paths
// changed. (experiments/set_table.h's path_from: a path that would climb to "/" is written
// absolute.)
int rebase_paths(ExperimentDraft& d, const std::string& from, const std::string& to);

// [SECTION] Text --------------------------------------------------------------------------
struct DraftText {
  std::string text;
  std::map<std::string, int> lines;  // field -> 1-based line
};

// The TOML text of a draft: tables in experiments/README.md's order, keys in its order,
// tables and keys left unset not written. Values are written as they are (the writer does
// not check them; load_experiment does).
DraftText write_draft(const ExperimentDraft& d);

struct DraftRead {
  ExperimentDraft draft;
  std::map<std::string, int> lines;  // field -> 1-based line in the text read
  std::string error;                 // "" or the TOML syntax error (then the draft is empty)
  int error_line = 0;
};

// Reads TOML text into a draft, leniently (see above). `name` names the text in the error.
DraftRead read_draft(const std::string& text, const std::string& name = "");

// The field at `line` of a text whose fields are `lines`: the one declared on that line
// (the innermost), else the nearest declared before it; "" when none.
std::string field_at_line(const std::map<std::string, int>& lines, int line);

// The shortest decimal text that reads back (strtod) to the same double: "0.5", "250",
// "1e-06"; "inf", "-inf", "nan". The writer adds ".0" to whole numbers of float keys.
std::string shortest_number(double v);

}  // namespace mm::experiments
