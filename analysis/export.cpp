// analysis/export.cpp: writing the response data as CSV, JSON lines or a BIDS behavioural
// dataset (see export.h). One table of columns (kColumns) drives every format: its cells
// are typed (text, integer, number, boolean or missing) and each writer renders them its
// way: CSV empty / 1 / 0, JSON null / true / false, BIDS n/a / 1 / 0.
//
// Sections
//   [SECTION] Values     cells, numbers that round-trip, milliseconds to seconds, names
//   [SECTION] Columns    the column table, export_columns, judge_column
//   [SECTION] Files      files synced to disk, the staging folder, moving into place
//   [SECTION] Plan       which sessions and trials, participant labels, checks
//   [SECTION] Csv        trials.csv, sessions.csv (libcsv quotes the fields that need it)
//   [SECTION] Jsonl      trials.jsonl, sessions.jsonl
//   [SECTION] Bids       description, README, participants, per session beh and scans
//   [SECTION] Export     write_export
#include "analysis/export.h"

#include <csv.h>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace mm::analysis {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// [SECTION] Values ------------------------------------------------------------------------

// One typed value of a column; missing renders as "", null or n/a.
struct Cell {
  enum Kind { missing, text, integer, number, boolean } kind = missing;
  std::string s;
  int64_t i = 0;
  double d = 0;
  bool b = false;
};
Cell text_cell(const std::string& s) { return s.empty() ? Cell{} : Cell{Cell::text, s}; }
Cell int_cell(int64_t i) { return Cell{Cell::integer, "", i}; }
Cell num_cell(double d, bool present = true) {
  return present && std::isfinite(d) ? Cell{Cell::number, "", 0, d} : Cell{};
}
Cell bool_cell(bool b) { return Cell{Cell::boolean, "", 0, 0, b}; }

// The shortest decimal that reads back as the same double (fixed or scientific).
std::string shortest(double d, std::chars_format f = std::chars_format::general) {
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, d, f);
  return std::string(buf, r.ptr);
}

// Milliseconds as seconds, by moving the decimal point of the shortest fixed text (exact:
// "523.25" -> "0.52325", so seconds * 1000 gives back the recorded number).
std::string ms_text_as_seconds(double ms) {
  std::string t = shortest(ms, std::chars_format::fixed);
  std::string sign;
  if (!t.empty() && t[0] == '-') sign = "-", t.erase(0, 1);
  const auto dot = t.find('.');
  std::string ip = dot == std::string::npos ? t : t.substr(0, dot);
  std::string fp = dot == std::string::npos ? "" : t.substr(dot + 1);
  while (ip.size() < 4) ip.insert(0, "0");
  fp = ip.substr(ip.size() - 3) + fp;
  ip.erase(ip.size() - 3);
  ip.erase(0, std::min(ip.find_first_not_of('0'), ip.size() - 1));
  while (!fp.empty() && fp.back() == '0') fp.pop_back();
  const std::string out = fp.empty() ? ip : ip + "." + fp;
  return out == "0" ? out : sign + out;
}

// A cell as CSV text: "" when missing, 1/0 for booleans.
std::string csv_text(const Cell& c) {
  switch (c.kind) {
    case Cell::missing: return "";
    case Cell::text: return c.s;
    case Cell::integer: return std::to_string(c.i);
    case Cell::number: return shortest(c.d);
    case Cell::boolean: return c.b ? "1" : "0";
  }
  return "";
}

// A cell as a BIDS TSV value: n/a when missing; tabs and line breaks become spaces.
std::string tsv_text(const Cell& c) {
  if (c.kind == Cell::missing) return "n/a";
  std::string s = csv_text(c);
  for (char& ch : s)
    if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

// A cell as JSON: null when missing, true/false for booleans.
ojson json_value(const Cell& c) {
  switch (c.kind) {
    case Cell::missing: return nullptr;
    case Cell::text: return c.s;
    case Cell::integer: return c.i;
    case Cell::number: return c.d;
    case Cell::boolean: return c.b;
  }
  return nullptr;
}

// snake_case of a name: ASCII letters and digits lowercased, runs of anything else one '_'.
std::string snake(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) && ch < 128) out += static_cast<char>(std::tolower(ch));
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

// How a model is named in the files: zoo:NAME as is, a file by its name only (never the
// lab machine's path).
std::string model_display_name(const std::string& spec) {
  if (spec.rfind("zoo:", 0) == 0 || spec.find('/') == std::string::npos) return spec;
  return fs::path(spec).filename().string();
}

// A BIDS label: the ASCII letters and digits of a name.
std::string bids_label(const std::string& name) {
  std::string out;
  for (unsigned char ch : name)
    if (std::isalnum(ch) && ch < 128) out += static_cast<char>(ch);
  return out.empty() ? "task" : out;
}

// Messages are one line.
std::string one_line(std::string s) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

// [SECTION] Columns -----------------------------------------------------------------------

// What a trial's row is made from.
struct Row {
  const ExportTrial& t;
  const ExportSession& s;
  const std::string& participant;
};

using Levels = std::vector<std::pair<std::string, std::string>>;

// One column: its documentation, its BIDS form and how its cell is made.
struct Column {
  std::string name, long_name, description, units;
  Levels levels;
  bool in_bids;           // in the per-session _beh.tsv (session-level ones go to _scans.tsv)
  std::string bids_name;  // "" = same name
  std::function<Cell(const Row&)> cell;
};

const Levels kKinds = {{"practice", "practice (not part of the analysis)"},
                       {"demo", "demonstration (must be passed to go on)"},
                       {"main", "the experiment proper"},
                       {"catch", "catch trial: attention check with an easy, known answer"},
                       {"headphone_check", "headphone screening (audio)"}};
const Levels kBool = {{"1", "yes"}, {"0", "no"}};

const std::vector<Column>& columns() {
  static const std::vector<Column> cols = {
      {"participant", "Participant",
       "sub-<participant_number> for a person (the BIDS subject); model-<model>-<participant_number> "
       "for a model-observer session",
       "", {}, false, "", [](const Row& r) { return text_cell(r.participant); }},
      {"participant_code", "Participant code",
       "the pseudonymous code the participant was registered under (only in exports made with codes)",
       "", {}, false, "", [](const Row& r) { return text_cell(r.s.participant_code); }},
      {"participant_number", "Participant number",
       "the participant's number in the experiment's counterbalancing rotation (1-based)", "", {}, false, "",
       [](const Row& r) { return int_cell(r.s.participant_number); }},
      {"session", "Session", "the session's id in the metamerlab database", "", {}, false, "",
       [](const Row& r) { return int_cell(r.s.id); }},
      {"session_status", "Session status", "how the session ended",
       "",
       {{"completed", "all planned trials were run"},
        {"aborted", "stopped before the end (may be resumed)"},
        {"failed_demo", "ended because the demonstration trials were not passed"},
        {"running", "not ended when exported (still running, or the program was killed)"}},
       false, "", [](const Row& r) { return text_cell(r.s.status); }},
      {"observer", "Observer",
       "missing for a person; for a model-observer session, the model that answered (zoo name or file name)", "",
       {}, false, "", [](const Row& r) { return text_cell(model_display_name(r.s.observer)); }},
      {"experiment", "Experiment", "the experiment's name", "", {}, false, "",
       [](const Row& r) { return text_cell(r.s.experiment_name); }},
      {"experiment_sha256", "Experiment file SHA-256", "SHA-256 of the experiment file the session ran", "", {},
       false, "", [](const Row& r) { return text_cell(r.s.experiment_sha256); }},
      {"block", "Block", "the block's index in the session's plan (0-based)", "", {}, true, "",
       [](const Row& r) { return int_cell(r.t.block); }},
      {"block_kind", "Block kind", "the kind of block the trial belongs to", "", kKinds, true, "",
       [](const Row& r) { return text_cell(r.t.block_kind); }},
      {"trial_index", "Trial index", "the trial's position in the session's plan (0-based, unique per session)",
       "", {}, true, "", [](const Row& r) { return int_cell(r.t.trial_index); }},
      {"index_in_block", "Index in block", "the trial's position in its block (0-based)", "", {}, true, "",
       [](const Row& r) { return int_cell(r.t.index_in_block); }},
      {"phase", "Trial kind", "the trial's own kind", "", kKinds, true, "trial_type",
       [](const Row& r) { return text_cell(r.t.phase); }},
      {"condition", "Condition shown",
       "what was shown: natural (the natural stimulus), LABEL/LAYER (a metamer of that model's layer) or "
       "catch",
       "", {}, true, "", [](const Row& r) { return text_cell(r.t.condition); }},
      {"planned_condition", "Planned condition",
       "what the plan assigned; differs from condition when the planned metamer was missing (fell_back)", "",
       {}, true, "", [](const Row& r) { return text_cell(r.t.planned_condition); }},
      {"model", "Metamer model", "the model of a shown metamer (missing otherwise)", "", {}, true, "",
       [](const Row& r) { return text_cell(model_display_name(r.t.model)); }},
      {"layer", "Metamer layer", "the model layer a shown metamer matches (missing otherwise)", "", {}, true, "",
       [](const Row& r) { return text_cell(r.t.layer); }},
      {"category", "Category", "the correct answer: the category of the stimulus", "", {}, true, "",
       [](const Row& r) { return text_cell(r.t.category); }},
      {"stimulus_file", "Stimulus file",
       "the stimulus shown, relative to its stimulus set: CATEGORY/FILE or LABEL/LAYER/CATEGORY/FILE "
       "(missing when none)",
       "", {}, true, "stim_file", [](const Row& r) { return text_cell(r.t.stimulus_file); }},
      {"stimulus_sha256", "Stimulus SHA-256", "SHA-256 of the stimulus file shown", "", {}, true, "",
       [](const Row& r) { return text_cell(r.t.stimulus_sha256); }},
      {"is_metamer", "Is metamer", "whether the stimulus shown was a model metamer", "", kBool, true, "",
       [](const Row& r) { return bool_cell(r.t.is_metamer); }},
      {"fell_back", "Fell back",
       "whether the planned metamer was missing and the natural stimulus was shown instead", "", kBool, true,
       "", [](const Row& r) { return bool_cell(r.t.fell_back); }},
      {"response", "Response", "the category chosen (missing when the response window ran out)", "", {}, true, "",
       [](const Row& r) { return text_cell(r.t.response); }},
      {"correct", "Correct", "whether the response was the correct category (no response counts as 0)", "",
       kBool, true, "", [](const Row& r) { return bool_cell(r.t.correct); }},
      {"rt_response_ms", "Response time",
       "time from the onset of the response screen to the response (missing when no response)", "ms", {}, true,
       "response_time",
       [](const Row& r) { return num_cell(r.t.rt_response_ms, r.t.rt_response_ms >= 0); }},
      {"rt_stimulus_ms", "Response time from stimulus onset",
       "time from the onset of the stimulus to the response (missing when no response)", "ms", {}, true, "",
       [](const Row& r) { return num_cell(r.t.rt_stimulus_ms, r.t.rt_stimulus_ms >= 0); }},
      {"dropped_frames", "Dropped frames", "display frames missed while the trial was presented", "", {}, true,
       "", [](const Row& r) { return int_cell(r.t.dropped_frames); }},
      {"audio_onset_ms", "Audio onset delay",
       "how much later than scheduled the sound started (missing for images)", "ms", {}, true, "",
       [](const Row& r) { return num_cell(r.t.audio_onset_ms, r.t.audio_onset_ms != -1); }},
      {"answered_at", "Answered at", "when the trial was recorded, ISO-8601 UTC", "", {}, true, "",
       [](const Row& r) { return text_cell(r.t.answered_at); }},
  };
  return cols;
}

// The column of that name (a name from the table).
const Column& column(const std::string& name) {
  for (const auto& c : columns())
    if (c.name == name) return c;
  throw std::logic_error("no column " + name);
}

// A judging model's column: its name, the model as written, and the spec to look up.
struct JudgeColumn {
  std::string name, model, spec;
};

// The judge columns of data, made unique (a second model with the same name gets _2, ...).
std::vector<JudgeColumn> judge_columns(const ExportData& data) {
  std::vector<JudgeColumn> out;
  std::set<std::string> used;
  for (const auto& c : columns()) used.insert(c.name);
  for (const auto& spec : data.judging_models) {
    std::string name = judge_column(spec), base = name;
    for (int k = 2; used.count(name); ++k) name = base + "_" + std::to_string(k);
    used.insert(name);
    out.push_back({name, model_display_name(spec), spec});
  }
  return out;
}

Cell judge_cell(const ExportTrial& t, const JudgeColumn& j) {
  auto it = t.judgments.find(j.spec);
  return it == t.judgments.end() ? Cell{} : text_cell(it->second);
}

std::string judge_description(const JudgeColumn& j) {
  return "the answer of the model " + j.model + " on this trial's stimulus (missing when it has none)";
}

}  // namespace

const std::vector<ColumnDoc>& export_columns() {
  static const std::vector<ColumnDoc> docs = [] {
    std::vector<ColumnDoc> v;
    for (const auto& c : columns()) v.push_back({c.name, c.description, c.units});
    return v;
  }();
  return docs;
}

std::string judge_column(const std::string& model_spec) {
  std::string name = model_spec;
  if (name.rfind("zoo:", 0) == 0) name = name.substr(4);
  else if (name.find('/') != std::string::npos || name.find('.') != std::string::npos)
    name = fs::path(name).stem().string();
  name = snake(name);
  return "judge_" + (name.empty() ? std::string("model") : name);
}

namespace {

// [SECTION] Files -------------------------------------------------------------------------

// A file being written into the staging folder: flushed and fsynced on close.
class OutFile {
 public:
  OutFile(const fs::path& path, std::string rel) : path_(path), rel_(std::move(rel)) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fp_ = std::fopen(path.c_str(), "wb");
    if (!fp_) throw std::runtime_error(path.string() + ": cannot write (" + std::strerror(errno) + ")");
  }
  ~OutFile() {
    if (fp_) std::fclose(fp_);
  }
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  FILE* fp() { return fp_; }
  void put(const std::string& s) {
    if (std::fwrite(s.data(), 1, s.size(), fp_) != s.size()) fail();
  }
  void close() {
    if (std::fflush(fp_) != 0 || ::fsync(fileno(fp_)) != 0) fail();
    FILE* f = fp_;
    fp_ = nullptr;
    if (std::fclose(f) != 0) fail();
  }
  [[noreturn]] void fail() const {
    throw std::runtime_error(path_.string() + ": write failed (" + std::strerror(errno) + ")");
  }
  const std::string& rel() const { return rel_; }

 private:
  fs::path path_;
  std::string rel_;
  FILE* fp_ = nullptr;
};

// Where the files go: the staging folder, and the list of what was written.
struct Staging {
  fs::path dir;
  std::vector<std::string> files;

  // Writes rel (a '/'-separated path) with content.
  void write(const std::string& rel, const std::string& content) {
    OutFile f(dir / rel, rel);
    f.put(content);
    f.close();
    files.push_back(rel);
  }
  // Copies a stimulus from this machine to rel.
  void copy(const std::string& from, const std::string& rel) {
    std::error_code ec;
    const fs::path to = dir / rel;
    fs::create_directories(to.parent_path(), ec);
    if (from.empty() || !fs::is_regular_file(from, ec))
      throw std::runtime_error("stimulus " + rel + ": file " + (from.empty() ? "(no path recorded)" : from) +
                               " is missing; restore it or export without the stimuli");
    if (!fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec))
      throw std::runtime_error("stimulus " + from + ": cannot copy (" + ec.message() + ")");
    files.push_back(rel);
  }
};

// Whether dir holds anything.
bool non_empty_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::directory_iterator(dir, ec) != fs::directory_iterator();
}

// Moves the staged files into out (force): sub-folders created, same-named files replaced.
void move_into(const Staging& st, const fs::path& out) {
  std::error_code ec;
  for (const auto& rel : st.files)  // check first: a folder in the way stops before any move
    if (fs::is_directory(out / rel, ec))
      throw std::runtime_error((out / rel).string() + ": is a folder where the export writes a file; move it away");
  for (const auto& rel : st.files) {
    const fs::path to = out / rel;
    fs::create_directories(to.parent_path(), ec);
    if (ec) throw std::runtime_error(to.parent_path().string() + ": cannot create folder (" + ec.message() + ")");
    fs::rename(st.dir / rel, to, ec);
    if (ec) throw std::runtime_error(to.string() + ": cannot move into place (" + ec.message() + ")");
  }
}

// [SECTION] Plan --------------------------------------------------------------------------

// What is exported: sessions with their label and trials, in order.
struct Plan {
  std::vector<const ExportSession*> sessions;                       // by id
  std::map<int64_t, std::vector<const ExportTrial*>> trials;        // session id -> by trial index
  std::map<int64_t, std::string> participant;                       // session id -> label
  std::vector<JudgeColumn> judges;
  std::vector<const Column*> cols;                                  // CSV/JSONL columns
};

std::string participant_label(const ExportSession& s) {
  if (s.observer.empty()) return "sub-" + std::to_string(s.participant_number);
  std::string m = judge_column(s.observer).substr(6);
  return "model-" + m + "-" + std::to_string(s.participant_number);
}

Plan make_plan(const ExportData& data, const ExportOptions& o) {
  if (data.sessions.empty()) throw std::runtime_error("no sessions to export");
  if (data.trials.empty()) throw std::runtime_error("no sessions to export (the sessions have no answered trials)");
  Plan p;
  std::map<int64_t, const ExportSession*> by_id;
  std::map<int64_t, std::pair<std::string, int64_t>> code_of_number;  // people: number -> (code, session)
  for (const auto& s : data.sessions) {
    if (!by_id.emplace(s.id, &s).second)
      throw std::runtime_error("session " + std::to_string(s.id) + " is listed twice");
    // In BIDS a number is a subject (sub-<number>): it must be one person. CSV and JSON
    // lines carry the experiment beside it, so each experiment may number from 1.
    if (o.format == ExportFormat::bids && s.observer.empty() && !s.participant_code.empty()) {
      auto [it, fresh] = code_of_number.emplace(s.participant_number, std::make_pair(s.participant_code, s.id));
      if (!fresh && it->second.first != s.participant_code)
        throw std::runtime_error("participant number " + std::to_string(s.participant_number) +
                                 " belongs to two participants (sessions " + std::to_string(it->second.second) +
                                 " and " + std::to_string(s.id) + "); export one experiment at a time (--experiment NAME)");
    }
    p.participant[s.id] = participant_label(s);
  }
  for (const auto& [id, s] : by_id) p.sessions.push_back(s);
  for (const auto& t : data.trials) {
    if (!by_id.count(t.session_id))
      throw std::runtime_error("trial " + std::to_string(t.trial_index) + " belongs to session " +
                               std::to_string(t.session_id) + ", which is not exported");
    p.trials[t.session_id].push_back(&t);
  }
  for (auto& [id, ts] : p.trials)
    std::stable_sort(ts.begin(), ts.end(),
                     [](const ExportTrial* a, const ExportTrial* b) { return a->trial_index < b->trial_index; });
  p.judges = judge_columns(data);
  for (const auto& c : columns())
    if (c.name != "participant_code" || o.with_codes) p.cols.push_back(&c);
  return p;
}

// The stimuli of the given trials, checked (relative, inside the set, one file per name).
std::map<std::string, std::string> stimuli_of(const std::vector<const ExportTrial*>& trials) {
  std::map<std::string, std::pair<std::string, std::string>> seen;  // file -> (path, sha)
  for (const ExportTrial* t : trials) {
    if (t->stimulus_file.empty()) continue;
    const fs::path rel(t->stimulus_file);
    bool bad = rel.is_absolute() || t->stimulus_file.find('\\') != std::string::npos;
    for (const auto& part : rel) bad = bad || part == ".." || part == ".";
    if (bad) throw std::runtime_error("stimulus file name " + t->stimulus_file + " is not relative to its set");
    auto [it, fresh] = seen.emplace(t->stimulus_file, std::make_pair(t->stimulus_path, t->stimulus_sha256));
    if (!fresh && it->second.second != t->stimulus_sha256)
      throw std::runtime_error("two different stimuli are named " + t->stimulus_file +
                               "; export them separately or without the stimuli");
  }
  std::map<std::string, std::string> out;
  for (const auto& [file, ps] : seen) out[file] = ps.first;
  return out;
}

// [SECTION] Csv ---------------------------------------------------------------------------

// Writes one CSV record: fields that hold a comma, quote or line break are quoted by
// libcsv (RFC 4180: "..." with quotes doubled); the others are written as they are, so an
// empty field stays empty.
void csv_record(OutFile& f, const std::vector<std::string>& fields) {
  for (size_t k = 0; k < fields.size(); ++k) {
    if (k) f.put(",");
    const std::string& v = fields[k];
    if (v.find_first_of(",\"\r\n") == std::string::npos) f.put(v);
    else if (csv_fwrite(f.fp(), v.data(), v.size()) != 0) f.fail();
  }
  f.put("\n");
}

// The session-level table: its header and one row of cells per session.
std::vector<std::string> session_header(const ExportOptions& o) {
  std::vector<std::string> h = {"participant"};
  if (o.with_codes) h.push_back("participant_code");
  for (const char* n : {"participant_number", "session", "experiment", "experiment_sha256", "observer", "status",
                        "started_at", "ended_at", "planned_trials", "answered_trials"})
    h.push_back(n);
  return h;
}
std::vector<Cell> session_cells(const Plan& p, const ExportSession& s, const ExportOptions& o) {
  std::vector<Cell> c = {text_cell(p.participant.at(s.id))};
  if (o.with_codes) c.push_back(text_cell(s.participant_code));
  const auto it = p.trials.find(s.id);
  const int64_t answered = it == p.trials.end() ? 0 : static_cast<int64_t>(it->second.size());
  for (const Cell& x : {int_cell(s.participant_number), int_cell(s.id), text_cell(s.experiment_name),
                        text_cell(s.experiment_sha256), text_cell(model_display_name(s.observer)),
                        text_cell(s.status), text_cell(s.started_at), text_cell(s.ended_at),
                        int_cell(s.planned_trials), int_cell(answered)})
    c.push_back(x);
  return c;
}

// The cells of one trial, in the CSV/JSONL column order (judges last).
std::vector<Cell> trial_cells(const Plan& p, const ExportTrial& t, const ExportSession& s) {
  const Row r{t, s, p.participant.at(s.id)};
  std::vector<Cell> c;
  for (const Column* col : p.cols) c.push_back(col->cell(r));
  for (const auto& j : p.judges) c.push_back(judge_cell(t, j));
  return c;
}

std::vector<std::string> trial_header(const Plan& p) {
  std::vector<std::string> h;
  for (const Column* col : p.cols) h.push_back(col->name);
  for (const auto& j : p.judges) h.push_back(j.name);
  return h;
}

// Calls fn(trial, session) for every exported trial, in order.
template <class F>
void for_each_trial(const Plan& p, F&& fn) {
  for (const ExportSession* s : p.sessions)
    if (auto it = p.trials.find(s->id); it != p.trials.end())
      for (const ExportTrial* t : it->second) fn(*t, *s);
}

std::vector<std::string> csv_fields(const std::vector<Cell>& cells) {
  std::vector<std::string> out;
  for (const Cell& c : cells) out.push_back(csv_text(c));
  return out;
}

void write_csv(const Plan& p, const ExportOptions& o, Staging& st) {
  OutFile trials(st.dir / "trials.csv", "trials.csv");
  csv_record(trials, trial_header(p));
  for_each_trial(p, [&](const ExportTrial& t, const ExportSession& s) {
    csv_record(trials, csv_fields(trial_cells(p, t, s)));
  });
  trials.close();
  st.files.push_back(trials.rel());
  OutFile sessions(st.dir / "sessions.csv", "sessions.csv");
  csv_record(sessions, session_header(o));
  for (const ExportSession* s : p.sessions) csv_record(sessions, csv_fields(session_cells(p, *s, o)));
  sessions.close();
  st.files.push_back(sessions.rel());
}

// [SECTION] Jsonl -------------------------------------------------------------------------

// One JSON object per line (UTF-8; invalid bytes replaced).
std::string json_line(const std::vector<std::string>& keys, const std::vector<Cell>& cells) {
  ojson j = ojson::object();
  for (size_t k = 0; k < keys.size(); ++k) j[keys[k]] = json_value(cells[k]);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void write_jsonl(const Plan& p, const ExportOptions& o, Staging& st) {
  std::string out;
  const auto keys = trial_header(p);
  for_each_trial(p,
                 [&](const ExportTrial& t, const ExportSession& s) { out += json_line(keys, trial_cells(p, t, s)); });
  st.write("trials.jsonl", out);
  out.clear();
  for (const ExportSession* s : p.sessions) out += json_line(session_header(o), session_cells(p, *s, o));
  st.write("sessions.jsonl", out);
}

// [SECTION] Bids --------------------------------------------------------------------------

std::string pretty(const ojson& j) { return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"; }

// A TSV file: header and rows joined by tabs.
std::string tsv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  auto line = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t k = 0; k < v.size(); ++k) s += (k ? "\t" : "") + v[k];
    return s + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

// A column's sidecar entry.
ojson column_doc(const std::string& long_name, const std::string& description, const std::string& units,
                 const Levels& levels = {}) {
  ojson j = {{"LongName", long_name}, {"Description", description}};
  if (!levels.empty()) {
    ojson l = ojson::object();
    for (const auto& [k, v] : levels) l[k] = v;
    j["Levels"] = l;
  }
  if (!units.empty()) j["Units"] = units;
  return j;
}

// The BIDS name of a column (stim_file only when the stimuli are in the dataset).
std::string bids_name(const Column& c, const ExportOptions& o) {
  if (c.name == "stimulus_file" && !o.with_stimuli) return c.name;
  return c.bids_name.empty() ? c.name : c.bids_name;
}

// The _beh.json sidecar: every column, and the task.
ojson beh_sidecar(const Plan& p, const ExportData& data, const ExportSession& s, const ExportOptions& o) {
  ojson j = ojson::object();
  j["TaskName"] = s.experiment_name;
  if (auto it = data.task_instructions.find(s.experiment_name); it != data.task_instructions.end())
    j["Instructions"] = it->second;
  if (auto it = data.task_descriptions.find(s.experiment_name); it != data.task_descriptions.end())
    j["TaskDescription"] = it->second;
  for (const auto& c : columns()) {
    if (!c.in_bids) continue;
    const std::string name = bids_name(c, o);
    if (name == "response_time")
      j[name] = column_doc(c.long_name, "time from the onset of the response screen to the response, in seconds", "s");
    else if (name == "stim_file")
      j[name] = column_doc(c.long_name, "the stimulus shown, relative to /stimuli (n/a when none)", "");
    else
      j[name] = column_doc(c.long_name, c.description, c.units, c.levels);
  }
  for (const auto& jc : p.judges) j[jc.name] = column_doc("Answer of " + jc.model, judge_description(jc), "");
  return j;
}

// The _beh.tsv of one session.
std::string beh_tsv(const Plan& p, const ExportSession& s, const ExportOptions& o) {
  std::vector<std::string> header;
  std::vector<const Column*> cols;
  for (const auto& c : columns())
    if (c.in_bids) header.push_back(bids_name(c, o)), cols.push_back(&c);
  for (const auto& j : p.judges) header.push_back(j.name);
  std::vector<std::vector<std::string>> rows;
  for (const ExportTrial* t : p.trials.at(s.id)) {
    const Row r{*t, s, p.participant.at(s.id)};
    std::vector<std::string> row;
    for (const Column* c : cols) {
      const Cell cell = c->cell(r);
      if (c->name == "rt_response_ms" && cell.kind == Cell::number) row.push_back(ms_text_as_seconds(cell.d));
      else row.push_back(tsv_text(cell));
    }
    for (const auto& j : p.judges) row.push_back(tsv_text(judge_cell(*t, j)));
    rows.push_back(std::move(row));
  }
  return tsv(header, rows);
}

// BIDS acq_time: the session's start, "YYYY-MM-DDThh:mm:ss[.ffffff]" (UTC).
std::string acq_time(const std::string& iso) {
  std::string t = iso;
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  const bool ok = t.size() >= 19 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':';
  return ok ? t.substr(0, std::min<size_t>(t.size(), 26)) : "n/a";
}

// The _scans.tsv row and sidecar of a session: when it ran and how it ended.
const std::vector<std::pair<std::string, ojson>>& scans_columns() {
  static const std::vector<std::pair<std::string, ojson>> cols = {
      {"filename", column_doc("File name", "the behavioural data file of the session", "")},
      {"acq_time", column_doc("Session start", "when the session started (UTC)", "")},
      {"session", column_doc("Session", "the session's id in the metamerlab database", "")},
      {"experiment_sha256",
       column_doc("Experiment file SHA-256", "SHA-256 of the experiment file the session ran", "")},
      {"session_status", column_doc("Session status", "how the session ended", "", column("session_status").levels)},
      {"ended_at", column_doc("Session end", "when the session ended, ISO-8601 UTC (n/a while running)", "")},
      {"planned_trials", column_doc("Planned trials", "trials in the session's plan", "")},
      {"answered_trials", column_doc("Answered trials", "trials recorded (the rows of the file)", "")}};
  return cols;
}

std::string readme_text(const ExportData& data, const Plan& p, const ExportOptions& o, bool sessions,
                        size_t people, size_t left_out) {
  std::set<std::string> experiments;
  for (const ExportSession* s : p.sessions)
    if (s->observer.empty()) experiments.insert(s->experiment_name);
  std::ostringstream r;
  r << "Behavioural data from metamer recognition experiments\n"
       "=======================================================\n\n"
    << "Participants " << (data.modality == "audio" ? "heard" : data.modality == "image" ? "saw" : "saw (or heard)")
    << " natural stimuli and model metamers (stimuli synthesized to\n"
       "match a model's activations at one layer) and chose the category of each. This dataset\n"
       "holds their trial-by-trial responses.\n\n"
       "Experiments (BIDS task labels are their names without non-alphanumeric characters):\n";
  for (const auto& e : experiments) r << "- " << e << " (task-" << bids_label(e) << ")\n";
  r << "\nExported by metamerlab " << data.program_version << " from its database: " << people
    << " participant(s).\n\n"
       "Participants are pseudonymous: each appears as sub-<number>, the number the experiment's\n"
       "counterbalancing rotation gave them. No name, no machine name and no path of the lab\n"
       "computers is in the dataset.";
  if (o.with_codes) r << " participants.tsv also holds the pseudonymous codes they were registered under.";
  r << "\n\n";
  r << "Model-observer sessions, in which a model answered instead of a person, are not part of\n"
       "this dataset (" << left_out << " left out); metamerlab's CSV and JSON-lines exports include them.\n"
       "Sessions without any answered trial are left out too.\n\n";
  r << "Layout: sub-<number>/" << (sessions ? "ses-<k>/" : "")
    << "beh/...task-<label>_beh.tsv holds one row per trial,\n"
       "described column by column in the .json beside it; ..._scans.tsv gives each session's start,\n"
       "end and status."
    << (sessions ? " ses-<k> numbers a participant's sessions in the order they were run.\n" : "\n")
    << (o.with_stimuli ? "The stimuli shown are in stimuli/, named as in the stim_file column.\n"
                       : "The stimuli are not included; stimulus_file names them relative to their stimulus set.\n")
    << "Missing values are n/a; yes/no columns are 1/0. response_time is in seconds, the other\n"
       "durations in milliseconds. Every trial is included (practice, demonstration, catch, main):\n"
       "proportion correct per condition is the mean of correct over the rows with trial_type main.\n\n"
       "Columns of the _beh.tsv files:\n";
  for (const auto& c : columns()) {
    if (!c.in_bids) continue;
    const std::string name = bids_name(c, o);
    r << "- " << name << ": " << (name == "stim_file" ? "the stimulus shown, relative to /stimuli" : c.description)
      << (name == "response_time" ? " [s]" : c.units.empty() ? "" : " [" + c.units + "]") << "\n";
  }
  for (const auto& j : p.judges) r << "- " << j.name << ": " << judge_description(j) << "\n";
  r << "\nAuthors and License are not set by the program: add them to dataset_description.json\n"
       "before sharing the dataset.\n";
  return r.str();
}

void write_bids(const ExportData& data, const Plan& p, const ExportOptions& o, Staging& st) {
  // People only: a model observer is not a subject. Sessions with no trial have no data.
  std::map<int64_t, std::vector<const ExportSession*>> subjects;  // number -> sessions by id
  size_t left_out = 0;
  std::vector<const ExportTrial*> trials;
  for (const ExportSession* s : p.sessions) {
    if (!s->observer.empty()) {
      ++left_out;
      continue;
    }
    if (!p.trials.count(s->id)) continue;
    subjects[s->participant_number].push_back(s);
    for (const ExportTrial* t : p.trials.at(s->id)) trials.push_back(t);
  }
  if (subjects.empty())
    throw std::runtime_error("no sessions of people to export as BIDS (model-observer sessions are left out)");
  bool sessions = false;
  for (const auto& [n, ss] : subjects) sessions = sessions || ss.size() > 1;

  std::set<std::string> names;
  for (const auto& [n, ss] : subjects)
    for (const ExportSession* s : ss) names.insert(s->experiment_name);
  std::string joined;
  for (const auto& n : names) joined += (joined.empty() ? "" : ", ") + n;
  ojson desc = {{"Name", "metamerlab behavioural data: " + joined},
                {"BIDSVersion", "1.8.0"},
                {"DatasetType", "raw"},
                {"GeneratedBy",
                 {{{"Name", "metamerlab"},
                   {"Version", data.program_version.empty() ? std::string("unknown") : data.program_version},
                   {"Description", "metamerlab export --format bids"}}}}};
  st.write("dataset_description.json", pretty(desc));
  st.write("README", readme_text(data, p, o, sessions, subjects.size(), left_out));

  std::vector<std::string> ph = {"participant_id"};
  if (o.with_codes) ph.push_back("participant_code");
  ph.push_back("participant_number");
  ph.push_back("n_sessions");
  std::vector<std::vector<std::string>> prows;
  for (const auto& [n, ss] : subjects) {
    std::vector<std::string> row = {"sub-" + std::to_string(n)};
    if (o.with_codes) row.push_back(tsv_text(text_cell(ss.front()->participant_code)));
    row.push_back(std::to_string(n));
    row.push_back(std::to_string(ss.size()));
    prows.push_back(row);
  }
  st.write("participants.tsv", tsv(ph, prows));
  ojson pj = {{"participant_id", column_doc("Participant", "sub-<participant_number>", "")}};
  if (o.with_codes)
    pj["participant_code"] =
        column_doc("Participant code", "the pseudonymous code the participant was registered under", "");
  pj["participant_number"] = column_doc("Participant number", column("participant_number").description, "");
  pj["n_sessions"] = column_doc("Sessions", "sessions of the participant in this dataset", "");
  st.write("participants.json", pretty(pj));

  for (const auto& [n, ss] : subjects) {
    const std::string sub = "sub-" + std::to_string(n);
    for (size_t k = 0; k < ss.size(); ++k) {
      const ExportSession& s = *ss[k];
      const std::string ses = sessions ? "ses-" + std::to_string(k + 1) : "";
      const std::string dir = sub + "/" + (sessions ? ses + "/" : "");
      const std::string stem = sub + (sessions ? "_" + ses : "") + "_task-" + bids_label(s.experiment_name) + "_beh";
      st.write(dir + "beh/" + stem + ".tsv", beh_tsv(p, s, o));
      st.write(dir + "beh/" + stem + ".json", pretty(beh_sidecar(p, data, s, o)));
      const std::string scans = sub + (sessions ? "_" + ses : "") + "_scans";
      std::vector<std::string> sh;
      ojson sj = ojson::object();
      for (const auto& [name, doc] : scans_columns()) sh.push_back(name), sj[name] = doc;
      const std::vector<std::string> row = {"beh/" + stem + ".tsv", acq_time(s.started_at), std::to_string(s.id),
                                            tsv_text(text_cell(s.experiment_sha256)),
                                            tsv_text(text_cell(s.status)), tsv_text(text_cell(s.ended_at)),
                                            std::to_string(s.planned_trials),
                                            std::to_string(p.trials.at(s.id).size())};
      st.write(dir + scans + ".tsv", tsv(sh, {row}));
      st.write(dir + scans + ".json", pretty(sj));
    }
  }
  if (o.with_stimuli)
    for (const auto& [file, path] : stimuli_of(trials)) st.copy(path, "stimuli/" + file);
}

}  // namespace

// [SECTION] Export ------------------------------------------------------------------------

ExportSummary write_export(const ExportData& data, const ExportOptions& options) {
  if (options.out_dir.empty()) throw std::runtime_error("no output folder given");
  const Plan plan = make_plan(data, options);

  fs::path out = fs::path(options.out_dir).lexically_normal();
  if (out.has_filename() == false && out.has_parent_path()) out = out.parent_path();  // "a/b/" -> "a/b"
  const std::string out_s = out.string();
  std::error_code ec;
  const auto out_status = fs::status(out, ec);
  if (fs::exists(out_status) && !fs::is_directory(out_status))
    throw std::runtime_error(out_s + ": exists and is not a folder; choose a new folder");
  const bool out_full = fs::is_directory(out_status) && non_empty_dir(out);
  if (out_full && !options.force)
    throw std::runtime_error(out_s + ": exists and is not empty; choose a new folder or pass --force (which "
                                     "replaces only the files this export writes)");

  // The parent: created when missing (and removed again on failure while still empty).
  fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  std::vector<fs::path> created;
  for (fs::path a = parent; !a.empty() && !fs::exists(a, ec); a = a.parent_path()) {
    created.push_back(a);
    if (!a.has_parent_path() || a.parent_path() == a) break;
  }
  auto remove_created = [&] {
    for (const auto& c : created) fs::remove(c, ec);  // deepest first; only empty folders go
  };
  fs::create_directories(parent, ec);
  if (ec || !fs::is_directory(parent)) {
    remove_created();
    throw std::runtime_error(parent.string() + ": cannot create the folder (" +
                             (ec ? ec.message() : std::string("not a folder")) + "); choose another output folder");
  }

  Staging st;
  st.dir = parent / (out.filename().string() + ".staging-" + std::to_string(::getpid()));
  if (!fs::create_directory(st.dir, ec)) {
    const std::string why = ec ? ec.message() : "it exists already, left by an earlier export: remove it";
    remove_created();
    throw std::runtime_error(parent.string() + ": cannot write the staging folder " + st.dir.filename().string() +
                             " (" + why + ")");
  }
  try {
    if (options.format == ExportFormat::bids) {
      write_bids(data, plan, options, st);
    } else {
      if (options.format == ExportFormat::csv) write_csv(plan, options, st);
      else write_jsonl(plan, options, st);
      if (options.with_stimuli) {
        std::vector<const ExportTrial*> all;
        for_each_trial(plan, [&](const ExportTrial& t, const ExportSession&) { all.push_back(&t); });
        for (const auto& [file, path] : stimuli_of(all)) st.copy(path, "stimuli/" + file);
      }
    }
    if (!fs::is_directory(out, ec) || !non_empty_dir(out)) {
      fs::rename(st.dir, out, ec);  // onto nothing or an empty folder: one atomic step
      if (ec) throw std::runtime_error(out_s + ": cannot move the export into place (" + ec.message() + ")");
    } else {
      if (!options.force)  // filled meanwhile by someone else
        throw std::runtime_error(out_s + ": exists and is not empty; choose a new folder or pass --force (which "
                                         "replaces only the files this export writes)");
      move_into(st, out);
      fs::remove_all(st.dir, ec);
    }
  } catch (const std::exception& e) {
    fs::remove_all(st.dir, ec);
    remove_created();
    throw std::runtime_error(one_line(e.what()));
  }

  ExportSummary sum;
  sum.files = st.files;
  for (const ExportSession* s : plan.sessions) {
    if (options.format == ExportFormat::bids && (!s->observer.empty() || !plan.trials.count(s->id))) continue;
    ++sum.sessions;
    if (auto it = plan.trials.find(s->id); it != plan.trials.end()) sum.trials += it->second.size();
  }
  return sum;
}

}  // namespace mm::analysis
