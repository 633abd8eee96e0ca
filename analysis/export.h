// analysis/export.h: the response data for analysts, written as a long-format CSV, a BIDS
// behavioural dataset, or JSON lines. No torch, no UI, no SQL: the program layer reads the
// trials from the store (data/) into ExportData; this module only writes files.
//
// Privacy: participants appear as sub-<number> unless with_codes; no path of the lab
// machine is written, only stimulus file names relative to their set (ExportTrial's
// stimulus_file). Writing is all or nothing: files are made in a staging folder next to
// the output and moved into place at the end; a failure removes the staging folder and
// leaves the output folder as it was.
//
// Sections
//   [SECTION] Data       ExportTrial, ExportSession, ExportData
//   [SECTION] Writing    ExportOptions, write_export
//   [SECTION] Columns    the CSV columns, documented (README "Exports")
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mm::analysis {

// [SECTION] Data --------------------------------------------------------------------------
// One answered trial as recorded (data::TrialRecord), with what analysts need beside it.
struct ExportTrial {
  int64_t session_id = 0;
  int64_t trial_index = 0;        // position in the session's plan
  int64_t block = 0;              // block index in the plan
  std::string block_kind;         // practice | demo | main | catch | headphone_check
  std::string phase;              // the trial's own kind: practice | demo | main | catch | headphone_check
  int64_t index_in_block = 0;
  std::string condition;          // shown: natural | LABEL/LAYER | catch
  std::string planned_condition;  // assigned (differs when fell_back)
  std::string model, layer;       // of a shown metamer ("" otherwise)
  std::string category;           // the correct answer
  std::string stimulus_file;      // relative to its set: CATEGORY/FILE or LABEL/LAYER/CATEGORY/FILE ("" for none)
  std::string stimulus_path;      // absolute, on this machine: read for with_stimuli, never written
  std::string stimulus_sha256;
  bool is_metamer = false;
  bool fell_back = false;
  std::string response;           // "" when none
  bool correct = false;
  double rt_response_ms = -1;     // -1: no response
  double rt_stimulus_ms = -1;
  int64_t dropped_frames = 0;
  double audio_onset_ms = -1;     // -1: not audio
  std::string answered_at;        // ISO-8601 UTC
  std::map<std::string, std::string> judgments;  // judging model spec -> its answer on this stimulus
};

struct ExportSession {
  int64_t id = 0;
  int64_t participant_number = 0;
  std::string participant_code;   // written only with with_codes
  std::string experiment_name, experiment_sha256;
  std::string observer;           // "" for a person; a model spec for a model observer session
  std::string status;             // completed | aborted | failed_demo | running
  std::string started_at, ended_at;
  std::string station;
  int64_t planned_trials = 0;
};

struct ExportData {
  std::string program_version;    // GeneratedBy
  std::vector<ExportSession> sessions;             // in id order
  std::vector<ExportTrial> trials;                 // by session id, then trial index
  std::vector<std::string> judging_models;         // model specs, in column order
  std::map<std::string, std::string> task_instructions;  // experiment name -> text (BIDS Instructions)
  std::map<std::string, std::string> task_descriptions;  // experiment name -> description
  std::string modality;           // image | audio (of the exported experiment(s))
};

// [SECTION] Writing -----------------------------------------------------------------------
enum class ExportFormat { csv, bids, jsonl };

struct ExportOptions {
  ExportFormat format = ExportFormat::csv;
  std::string out_dir;
  bool with_codes = false;     // add participant codes (pseudonyms); default: sub-<number> only
  bool with_stimuli = false;   // copy the stimulus files (BIDS: /stimuli, CSV/JSONL: stimuli/)
  bool force = false;          // write into a non-empty out_dir (replacing only files this export writes)
};

struct ExportSummary {
  std::vector<std::string> files;  // written, relative to out_dir
  int64_t trials = 0, sessions = 0;
};

// Writes the export. Throws std::runtime_error with one line naming the folder or file and
// what to do: out_dir exists and is not empty (without force), cannot be written, no
// sessions to export ("no sessions to export..."), one participant number used by two
// participant codes, a stimulus missing (with_stimuli). Never deletes a file it did not write.
//   csv    trials.csv (one row per trial, export_columns() then judge_ columns; empty cell
//          for missing, booleans 1/0) and sessions.csv (one row per session, no station)
//   jsonl  trials.jsonl, sessions.jsonl: the same fields, null for missing, true/false
//   bids   people only (model-observer sessions and sessions without trials are left out):
//          dataset_description.json, README, participants.tsv/.json, per session
//          sub-N/[ses-K/]beh/..._task-LABEL_beh.tsv/.json and ..._scans.tsv/.json; ses-K
//          folders only when some participant has two sessions (then for all, K = 1.. in
//          session id order); n/a for missing; response_time in seconds
// Participants are labelled sub-<number>; a model-observer session model-<model>-<number>.
ExportSummary write_export(const ExportData& data, const ExportOptions& options);

// [SECTION] Columns -----------------------------------------------------------------------
// The CSV's columns in their fixed order, with a one-line description each (for the README
// and the BIDS sidecar); judging models add judge_<model> columns after these.
// participant_code is written only with with_codes.
struct ColumnDoc {
  std::string name, description, units;  // units "" when none
};
const std::vector<ColumnDoc>& export_columns();
// The column of a judging model's answer: judge_ + the spec in snake_case ("zoo:emoji16-robust"
// -> judge_emoji16_robust; a path -> its file stem).
std::string judge_column(const std::string& model_spec);

}  // namespace mm::analysis
