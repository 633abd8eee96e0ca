// app/studio_designer.cpp: the workbench's Experiment panel (app/studio_designer.h).
//
// Sections
//   [SECTION] Helpers     strings as lists, numbers as text, std::string input, model layers
//   [SECTION] Check       validation (check_experiment_text) and the plan preview
//   [SECTION] File        New, Open, Save, Save as
//   [SECTION] Widgets     one per kind of key, each registered under its field for the probe
//   [SECTION] Sections    experiment, responses, timing, sets, sources, blocks, analysis
//   [SECTION] Panel       the file bar, the two columns, messages, the plan
#include "app/studio_designer.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "app/studio.h"
#include "app/studio_files.h"
#include "app/studio_widgets.h"
#include "experiments/plan.h"
#include "stimuli/resources.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace ex = mm::experiments;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------
// The models folder: METAMERLAB_MODELS, else the data folder's models/ ("" when neither).
std::string models_dir() {
  if (const char* env = std::getenv("METAMERLAB_MODELS"); env && *env) return env;
  try {
    return stimuli::data_path("models", "the model zoo");
  } catch (const std::exception&) {
    return "";
  }
}

// zoo:NAME for each NAME.pt.json sidecar of the models folder, sorted.
std::vector<std::string> list_zoo() {
  std::vector<std::string> out;
  std::error_code ec;
  const std::string dir = models_dir();
  if (dir.empty()) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    const std::string tail = ".pt.json";
    if (n.size() > tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0)
      out.push_back("zoo:" + n.substr(0, n.size() - tail.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A model's layers from its sidecar JSON (zoo:NAME: the models folder's NAME.pt.json; a
// file: FILE.json), without torch; empty when there is none or it has no "layers".
std::vector<std::string> model_layers(const std::string& model, const std::string& anchor) {
  std::string side;
  if (model.rfind("zoo:", 0) == 0) {
    const std::string dir = models_dir();
    if (dir.empty()) return {};
    side = dir + "/" + model.substr(4) + ".pt.json";
  } else if (!model.empty()) {
    side = (fs::path(anchor) / model).lexically_normal().string() + ".json";
  }
  std::ifstream f(side);
  if (!f) return {};
  std::vector<std::string> out;
  try {
    const nlohmann::json j = nlohmann::json::parse(f);
    if (j.contains("layers") && j["layers"].is_array())
      for (const auto& l : j["layers"])
        if (l.is_string()) out.push_back(l.get<std::string>());
  } catch (const std::exception&) {
    return {};
  }
  return out;
}

// "FILE:LINE: ..." -> LINE (0 when the message is not located in `file`).
int message_line(const std::string& msg, const std::string& file) {
  if (file.empty() || msg.compare(0, file.size() + 1, file + ":") != 0) return 0;
  return std::atoi(msg.c_str() + file.size() + 1);
}

const std::vector<std::string> kKinds = {"instructions", "practice", "demo", "main", "catch", "break", "debrief",
                                         "headphone_check"};
const char* const kPhases[] = {"fixation", "stimulus", "mask", "response", "iti"};

std::optional<int64_t>& phase(ex::DraftTiming& t, int i) {
  std::optional<int64_t>* p[] = {&t.fixation, &t.stimulus, &t.mask, &t.response, &t.iti};
  return *p[i];
}
int default_ms(int i) {
  const ex::Timing t;
  const int v[] = {t.fixation_ms, t.stimulus_ms, t.mask_ms, t.response_ms, t.iti_ms};
  return v[i];
}

}  // namespace

// A list field's text: items separated by commas; an item holding a comma, a double quote
// or spaces at its ends is written in double quotes, with \" and \\ inside.
std::string list_text(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += ", ";
    const bool quote = x.empty() || x.find_first_of(",\"") != std::string::npos || x.front() == ' ' ||
                       x.back() == ' ' || x.front() == '\t' || x.back() == '\t';
    if (!quote) {
      s += x;
      continue;
    }
    s += '"';
    for (char c : x) {
      if (c == '"' || c == '\\') s += '\\';
      s += c;
    }
    s += '"';
  }
  return s;
}

std::vector<std::string> parse_list_text(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  const auto blank = [&](size_t k) { return k < s.size() && (s[k] == ' ' || s[k] == '\t'); };
  while (i < s.size()) {
    while (blank(i)) ++i;
    std::string item;
    bool quoted = false;
    if (i < s.size() && s[i] == '"') {  // "...": everything to the closing quote, \x is x
      quoted = true;
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        item += s[i];
      }
      if (i < s.size()) ++i;  // the closing quote (an unclosed one ends at the end)
      while (i < s.size() && s[i] != ',') ++i;  // anything after it up to the comma is dropped
    } else {
      const size_t comma = std::min(s.find(',', i), s.size());
      item = s.substr(i, comma - i);
      const size_t b = item.find_last_not_of(" \t");
      item = b == std::string::npos ? "" : item.substr(0, b + 1);
      i = comma;
    }
    if (quoted || !item.empty()) out.push_back(item);
    if (i < s.size()) ++i;  // the comma
  }
  return out;
}

// [SECTION] Check -------------------------------------------------------------------------
struct ExperimentDesigner::Check {
  ex::CheckedExperiment checked;
  std::string file;                                   // named in the messages
  std::vector<std::string> messages, fields;          // errors then notes; each one's field
  std::vector<bool> is_error;
  std::map<std::string, std::vector<size_t>> by_field;  // field -> messages
  // The plan preview.
  int participant = 0;
  std::string plan_error;
  ex::Plan plan;
  ex::PlanSummary summary;
  int group_first = 1, group_size = 0;                // the rotation group shown
  std::vector<std::string> refs;                      // main-block references (relative names)
  std::vector<std::vector<std::string>> rotation;     // refs x participants -> planned condition
};

std::string ExperimentDesigner::anchor() const {
  const std::string p = !file_.empty() ? file_ : path_field_;
  std::error_code ec;
  if (p.empty()) return fs::current_path(ec).string();
  return fs::absolute(p, ec).parent_path().lexically_normal().string();
}

void ExperimentDesigner::edited() {
  ++version_;
  edited_ = true;
  last_edit_s_ = now_s();
  confirm_.clear();
}

void ExperimentDesigner::recheck() {
  if (pending_.valid()) return;  // one check at a time; the newer version is checked after it
  std::string text, file;
  std::map<std::string, int> lines;
  if (!edited_ && !file_.empty()) {  // the file as it is on disk: `plan`'s messages exactly
    text = disk_text_, lines = disk_lines_, file = file_;
  } else {
    const ex::DraftText w = ex::write_draft(draft_);
    text = w.text, lines = w.lines;
    file = !file_.empty() ? file_ : !path_field_.empty() ? path_field_ : (fs::path(anchor()) / "untitled.toml").string();
  }
  // Validation lists the sets' folders and reads the database, and the preview plans a
  // rotation group: on a worker thread, with copies, so the window keeps drawing.
  pending_version_ = version_;
  pending_ = std::async(std::launch::async, &ExperimentDesigner::compute_check, std::move(text), std::move(lines),
                        std::move(file), db_, d_.info().frame_hz, participant_);
}

void ExperimentDesigner::collect_check() {
  if (!pending_.valid() || pending_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  check_ = pending_.get();
  checked_version_ = pending_version_;
}

std::unique_ptr<ExperimentDesigner::Check> ExperimentDesigner::compute_check(std::string text, std::map<std::string, int> lines,
                                                                            std::string file, std::string db, double hz,
                                                                            int participant) {
  auto c = std::make_unique<Check>();
  c->file = std::move(file);
  c->checked = ex::check_experiment_text(text, c->file, db, hz);
  const auto add = [&](const std::string& m, bool error) {
    const int line = message_line(m, c->file);
    const std::string field = line > 0 ? ex::field_at_line(lines, line) : "";
    c->by_field[field].push_back(c->messages.size());
    c->messages.push_back(m);
    c->fields.push_back(field);
    c->is_error.push_back(error);
  };
  for (const auto& m : c->checked.errors) add(m, true);
  for (const auto& m : c->checked.notes) add(m, false);

  // The plan preview: this participant's plan and the rotation over their group.
  c->participant = participant;
  if (c->checked.experiment) {
    const ex::Experiment& e = *c->checked.experiment;
    try {
      ex::SessionRequest r;
      r.participant = participant;
      c->plan = ex::plan_session(e, r, nullptr).plan;
      c->summary = ex::summarize_plan(c->plan);
      const ex::PlannedBlock* main = nullptr;
      for (const auto& b : c->plan.blocks)
        if (b.kind == ex::BlockKind::main && !main) main = &b;
      if (main && !main->conditions.empty()) {
        const int n = static_cast<int>(main->conditions.size());
        c->group_size = n;
        c->group_first = main->rotation_group * n + 1;
        std::map<std::string, std::vector<std::string>> rows;
        for (int k = 0; k < n; ++k) {
          const ex::Plan p = k + c->group_first == participant ? c->plan : ex::make_plan(e, c->group_first + k);
          for (const auto& t : p.trials)
            if (t.block == main->index && !t.reference.empty()) {
              auto& row = rows[t.reference];
              row.resize(static_cast<size_t>(n));
              row[static_cast<size_t>(k)] = t.planned_condition + (t.fell_back ? " (natural)" : "");
            }
        }
        for (auto& [ref, row] : rows) {
          c->refs.push_back(fs::path(ref).stem().string());
          c->rotation.push_back(std::move(row));
        }
      }
    } catch (const std::exception& err) {
      c->plan_error = first_line(err.what());
    }
  }
  return c;
}

// [SECTION] File --------------------------------------------------------------------------
ExperimentDesigner::ExperimentDesigner(Display& d, std::string db, const std::string& file)
    : d_(d), db_(std::move(db)), zoo_(list_zoo()) {
  if (!file.empty()) open(file);
  else new_experiment();
}

ExperimentDesigner::~ExperimentDesigner() {
  if (pending_.valid()) pending_.wait();  // a check still running (it holds no reference to this)
  for (auto& [p, t] : icons_) d_.release(t);
}

void ExperimentDesigner::new_experiment() {
  draft_ = {};
  file_.clear();
  disk_text_.clear();
  disk_lines_.clear();
  disk_error_.clear();
  edited_ = true;
  confirm_.clear();
  status_ = "a new experiment: fill in the fields, then Save as (the path field)";
  status_bad_ = false;
  buffers_.clear();
  close_file_editors();
  ++version_;
}

void ExperimentDesigner::open(const std::string& path) {
  confirm_.clear();
  std::ifstream f(path, std::ios::binary);
  std::error_code ec;
  if (path.empty() || !f || fs::is_directory(path, ec)) {
    status_ = path.empty() ? "type the experiment file's path in the field, then Open"
                           : "cannot read " + path + "; check the path";
    status_bad_ = true;
    return;
  }
  std::ostringstream s;
  s << f.rdbuf();
  const ex::DraftRead r = ex::read_draft(s.str(), path);
  draft_ = r.draft;
  file_ = path;
  path_field_ = path;
  close_file_editors();
  disk_text_ = s.str();
  disk_lines_ = r.lines;
  disk_error_ = r.error;
  edited_ = false;
  buffers_.clear();
  ++version_;
  last_edit_s_ = 0;
  status_ = "opened " + path + (r.error.empty() ? "" : " (its TOML does not parse: see the messages)");
  status_bad_ = !r.error.empty();
}

void ExperimentDesigner::save(const std::string& path, bool as) {
  if (path.empty()) {
    status_ = "type the file's path in the field, then Save as";
    status_bad_ = true;
    return;
  }
  // Save as into another folder: relative paths rewritten to name the same files from there.
  ex::ExperimentDraft out = draft_;
  const std::string to = fs::absolute(path).parent_path().lexically_normal().string();
  const int moved = as ? ex::rebase_paths(out, anchor(), to) : 0;
  const std::string text = ex::write_draft(out).text;
  // What would be lost: the file on disk, if its text is not what the writer gives for it.
  std::error_code ec;
  std::string why;
  if (fs::exists(path, ec)) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    const std::string disk = s.str();
    const ex::DraftRead r = ex::read_draft(disk, path);
    if (as && path != file_) why = path + " exists: Save as replaces it";
    else if (path == file_ && disk != disk_text_) why = path + " changed on disk since it was opened: Save replaces those changes";
    else if (!r.error.empty()) why = path + " is not valid TOML: Save replaces all of it";
    else if (ex::write_draft(r.draft).text != disk) {
      int comments = 0;
      std::istringstream in(disk);
      for (std::string l; std::getline(in, l);) comments += l.find('#') != std::string::npos;
      why = path + " has " + (comments ? std::to_string(comments) + " lines with comments or " : std::string()) +
            "a layout the designer does not keep: Save rewrites it without them";
    }
  }
  const std::string token = "save:" + path;
  if (!why.empty() && confirm_ != token) {
    confirm_ = token;
    status_ = why + (as && path != file_ ? " (click Save as again to do so)"
                                         : " (click \"Save anyway\" to do so, or Save as under a new name)");
    status_bad_ = true;
    return;
  }
  try {
    stimuli::write_file_atomic(path, text);
  } catch (const std::exception& e) {
    status_ = "not saved: " + first_line(e.what());
    status_bad_ = true;
    confirm_.clear();
    return;
  }
  confirm_.clear();
  const std::string table_file = table_.open ? (fs::path(anchor()) / table_.path).lexically_normal().string() : "";
  draft_ = std::move(out);
  buffers_.clear();
  file_ = path;
  path_field_ = path;
  if (table_.open) table_.path = as_written(table_file);  // the same file, named from the new folder
  disk_text_ = text;
  const ex::DraftRead r = ex::read_draft(text, path);
  disk_lines_ = r.lines;
  disk_error_.clear();
  edited_ = false;
  ++version_;
  last_edit_s_ = 0;
  size_t errors = check_ ? check_->checked.errors.size() : 0;
  status_ = "saved " + path + (moved ? " (" + std::to_string(moved) + " relative paths rewritten for its folder)" : "") +
            (errors ? " (" + std::to_string(errors) + " problems remain: see the messages)" : "");
  status_bad_ = false;
}

const Texture* ExperimentDesigner::icon(const std::string& path) {
  if (path.empty()) return nullptr;
  auto it = icons_.find(path);
  if (it == icons_.end()) {
    Texture t;
    try {
      stimuli::ImageSpec spec;
      spec.height = spec.width = 48;
      t = d_.upload(stimuli::load_image(path, spec), 0, 1);
    } catch (const std::exception&) {
    }
    it = icons_.emplace(path, t).first;
  }
  return it->second.valid() ? &it->second : nullptr;
}

// [SECTION] Widgets -----------------------------------------------------------------------
void ExperimentDesigner::label(const char* text) {
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted(text);
  ImGui::SameLine(170 * scale_);
  ImGui::SetNextItemWidth(std::min(400 * scale_, std::max(120.0f, ImGui::GetContentRegionAvail().x - 200 * scale_)));
}

void ExperimentDesigner::at_field(const std::string& field, const Rect* rect) {
  probe_->designer.widgets[field] = rect ? *rect : item_rect(k_);
  if (focus_ == field && focus_frames_ > 0) {
    ImGui::SetScrollHereY(0.3f);
    if (focus_frames_ == 1) ImGui::SetKeyboardFocusHere(-1);  // the last focusable item: the field
  }
  if (!check_) return;
  const auto it = check_->by_field.find(field);
  if (it == check_->by_field.end()) return;
  for (size_t i : it->second) {
    const std::string& m = check_->messages[i];
    const size_t cut = m.find(": ", check_->file.size());
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(check_->is_error[i] ? kRed : kDim, "^ %s",
                       cut != std::string::npos && message_line(m, check_->file) > 0 ? m.c_str() + cut + 2 : m.c_str());
    ImGui::PopTextWrapPos();
  }
}

bool ExperimentDesigner::text(const std::string& field, const char* lbl, std::string& v, bool multiline,
                              const Browse* browse) {
  label(lbl);
  const std::string id = "##" + field;
  bool changed = input_string(id.c_str(), v, multiline ? 0 : ImGuiInputTextFlags_AutoSelectAll, multiline,
                              std::min(400 * scale_, ImGui::GetContentRegionAvail().x - 200 * scale_), 70 * scale_);
  const Rect r = item_rect(k_);
  if (browse) changed |= browse_button(field, v, *browse, v);
  at_field(field, &r);
  return changed;
}

bool ExperimentDesigner::list(const std::string& field, const char* lbl, std::vector<std::string>& v, const Browse* browse) {
  label(lbl);
  const std::string id = "##" + field;
  std::string& buf = buffers_[field];
  if (ImGui::GetActiveID() != ImGui::GetID(id.c_str())) buf = list_text(v);
  bool changed = input_string(id.c_str(), buf, ImGuiInputTextFlags_AutoSelectAll);
  if (changed) {
    auto parsed = parse_list_text(buf);
    changed = parsed != v;
    v = std::move(parsed);
  }
  const Rect r = item_rect(k_);
  std::string added;
  if (browse && browse_button(field, v.empty() ? std::string() : v.back(), *browse, added) &&
      std::find(v.begin(), v.end(), added) == v.end()) {  // a folder listed already is not listed twice
    v.push_back(added);
    changed = true;
  }
  at_field(field, &r);
  return changed;
}

bool ExperimentDesigner::integer(const std::string& field, const char* lbl, std::optional<int64_t>& v, const int* frames_default) {
  label(lbl);
  const std::string id = "##" + field;
  std::string& buf = buffers_[field];
  if (ImGui::GetActiveID() != ImGui::GetID(id.c_str())) buf = v ? std::to_string(*v) : "";
  bool changed = input_string(id.c_str(), buf, ImGuiInputTextFlags_AutoSelectAll | ImGuiInputTextFlags_CharsDecimal);
  if (changed) {
    std::optional<int64_t> parsed;
    char* end = nullptr;
    if (!buf.empty()) {
      const long long x = std::strtoll(buf.c_str(), &end, 10);
      if (end && *end == 0) parsed = x;
      else parsed = v;  // not a number yet: keep the value
    }
    changed = parsed != v;
    v = parsed;
  }
  const Rect r = item_rect(k_);
  if (frames_default) frames_beside(v, *frames_default);
  at_field(field, &r);
  return changed;
}

bool ExperimentDesigner::number(const std::string& field, const char* lbl, std::optional<double>& v) {
  label(lbl);
  const std::string id = "##" + field;
  std::string& buf = buffers_[field];
  if (ImGui::GetActiveID() != ImGui::GetID(id.c_str())) buf = v ? ex::shortest_number(*v) : "";
  bool changed = input_string(id.c_str(), buf, ImGuiInputTextFlags_AutoSelectAll | ImGuiInputTextFlags_CharsScientific);
  if (changed) {
    std::optional<double> parsed;
    char* end = nullptr;
    if (!buf.empty()) {
      const double x = std::strtod(buf.c_str(), &end);
      parsed = end && *end == 0 ? std::optional<double>(x) : v;
    }
    changed = parsed != v;
    v = parsed;
  }
  at_field(field);
  return changed;
}

bool ExperimentDesigner::choice(const std::string& field, const char* lbl, std::string& v,
                                const std::vector<std::string>& options, const char* unset) {
  label(lbl);
  const std::string id = "##" + field;
  bool changed = false;
  const std::string shown = v.empty() && unset ? unset : v;
  if (ImGui::BeginCombo(id.c_str(), shown.c_str())) {
    std::vector<std::string> all;
    if (unset) all.push_back("");
    all.insert(all.end(), options.begin(), options.end());
    for (const auto& o : all) {
      if (ImGui::Selectable(o.empty() ? unset : o.c_str(), o == v) && o != v) v = o, changed = true;
      probe_->designer.widgets[field + "=" + o] = item_rect(k_);
    }
    ImGui::EndCombo();
  }
  at_field(field);
  return changed;
}

bool ExperimentDesigner::flag(const std::string& field, const char* lbl, std::optional<bool>& v, const char* unset) {
  std::string s = !v ? "" : *v ? "true" : "false";
  if (!choice(field, lbl, s, {"true", "false"}, unset)) return false;
  v = s.empty() ? std::nullopt : std::optional<bool>(s == "true");
  return true;
}

bool ExperimentDesigner::button(const std::string& lbl) {
  const bool clicked = ImGui::Button(lbl.c_str());
  std::string key = lbl.substr(0, lbl.find("##"));
  if (const size_t h = lbl.find("##"); h != std::string::npos) key = lbl.substr(h + 2);
  probe_->designer.widgets[key] = item_rect(k_);
  return clicked;
}

// "= 18 frames (300.0 ms)" at the display's refresh, for a duration or its default.
void ExperimentDesigner::frames_beside(const std::optional<int64_t>& ms, int fallback_ms) {
  const int v = ms ? static_cast<int>(*ms) : fallback_ms;
  const ex::FrameTiming t = ex::to_frames(v, d_.info().frame_hz);
  ImGui::SameLine();
  if (v == 0) ImGui::TextColored(kDim, "%s", ms ? "none" : "(default) none");
  else
    ImGui::TextColored(t.frames == 0 ? kRed : kDim, "%s%d frames = %.1f ms", ms ? "" : "(default) ", t.frames,
                       t.realized_ms);
}

// [SECTION] Sections ----------------------------------------------------------------------
namespace {
// A section's header, open by default and forced open when the focused field is in it.
bool section(const char* title, const std::string& prefix, const std::string& focus) {
  if (!focus.empty() && focus.rfind(prefix, 0) == 0) ImGui::SetNextItemOpen(true);
  return ImGui::CollapsingHeader(title, ImGuiTreeNodeFlags_DefaultOpen);
}
}  // namespace

void ExperimentDesigner::draw_settings() {
  if (!section("Experiment", "experiment", focus_)) return;
  at_field("experiment");
  bool c = false;
  c |= text("experiment.name", "name", draft_.name);
  c |= text("experiment.description", "description", draft_.description);
  c |= choice("experiment.modality", "modality", draft_.modality, {"image", "audio"}, nullptr);
  c |= integer("experiment.seed", "seed", draft_.seed);
  if (c) edited();
}

void ExperimentDesigner::draw_responses() {
  if (!section("Responses", "responses", focus_)) return;
  at_field("responses");
  bool c = false;
  c |= list("responses.alternatives", "alternatives", draft_.alternatives);
  static const Browse words{FilePicker::Kind::save_file, {".txt"}}, folder{FilePicker::Kind::folder, {}};
  c |= text("responses.words_file", "words_file", draft_.words_file, false, &words);
  draw_words_editor();
  if (draft_.modality != "audio") {
    c |= text("responses.icons", "icons folder", draft_.icons_folder, false, &folder);
    bool table = draft_.icons_folder.empty() && !draft_.icons.empty();
    if (ImGui::Checkbox("one file per alternative ([responses.icons])", &table)) {
      if (table) {
        draft_.icons.clear();
        for (const auto& a : draft_.alternatives)
          draft_.icons.push_back({a, (draft_.icons_folder.empty() ? "icons" : draft_.icons_folder) + "/" + a + ".png"});
        draft_.icons_folder.clear();
      } else {
        draft_.icons.clear();
        draft_.icons_folder = "icons";
      }
      c = true;
    }
    probe_->designer.widgets["responses.icons.table"] = item_rect(k_);
    // Each alternative with its icon, as the response screen shows it.
    const std::string dir = anchor();
    const float px = 40 * scale_;
    int shown = 0;
    for (const auto& a : draft_.alternatives) {
      std::string path;
      if (!draft_.icons_folder.empty()) {
        // Looked up once per folder and alternative (not every frame).
        const std::string key = (fs::path(dir) / draft_.icons_folder / a).string();
        auto found = icon_files_.find(key);
        if (found == icon_files_.end()) {
          std::string file;
          for (const char* ext : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"}) {
            const fs::path p = key + ext;
            std::error_code ec;
            if (fs::is_regular_file(p, ec)) {
              file = p.lexically_normal().string();
              break;
            }
          }
          found = icon_files_.emplace(key, file).first;
        }
        path = found->second;
      } else {
        for (auto& i : draft_.icons)
          if (i.alternative == a) path = (fs::path(dir) / i.file).lexically_normal().string();
      }
      if (shown++ % 8 != 0) ImGui::SameLine();
      ImGui::BeginGroup();
      if (const Texture* t = icon(path)) ImGui::Image(tex_id(*t), ImVec2(px, px));
      else ImGui::Dummy(ImVec2(px, px));
      ImGui::TextColored(path.empty() ? kRed : kDim, "%.10s", a.c_str());
      ImGui::EndGroup();
    }
    if (draft_.icons_folder.empty())
      for (size_t i = 0; i < draft_.icons.size(); ++i) {
        ImGui::PushID(static_cast<int>(i));
        const std::string f = "responses.icons." + draft_.icons[i].alternative;
        c |= text(f, draft_.icons[i].alternative.c_str(), draft_.icons[i].file);
        ImGui::PopID();
      }
  }
  if (c) edited();
}

void ExperimentDesigner::draw_timing() {
  if (!section("Timing and presentation", "timing", focus_) ) return;
  at_field("timing");
  bool c = false;
  ImGui::TextColored(kDim, "milliseconds; the frames each lasts at the display's %.2f Hz", d_.info().frame_hz);
  for (int i = 0; i < 5; ++i) {
    const int fallback = default_ms(i);
    c |= integer(std::string("timing.") + kPhases[i], kPhases[i], phase(draft_.timing, i), &fallback);
  }
  if (draft_.modality != "audio") {
    ImGui::Separator();
    ImGui::TextUnformatted("[images]");
    at_field("images");
    c |= integer("images.size", "size (px)", draft_.size);
    c |= number("images.size_deg", "size_deg", draft_.size_deg);
    c |= flag("images.fit", "fit", draft_.fit, "(default) false");
    c |= choice("images.scaling", "scaling", draft_.scaling, {"automatic", "nearest", "linear", "none"}, "(default) automatic");
  } else {
    ImGui::Separator();
    ImGui::TextUnformatted("[audio]");
    at_field("audio");
    c |= integer("audio.sample_rate", "sample_rate", draft_.sample_rate);
    c |= integer("audio.clip_ms", "clip_ms", draft_.clip_ms);
    c |= number("audio.rms_dbfs", "rms_dbfs", draft_.rms_dbfs);
  }
  if (c) edited();
}

// One thumbnail per category of an image set (its first file; the category and path in
// its tooltip), wrapping to the column's width; a sound set shows none.
void ExperimentDesigner::draw_set_thumbnails(const ex::StimulusSet& set, const std::string& field) {
  std::map<std::string, const std::string*> first;  // category -> its first file
  for (const auto& it : set.items) first.emplace(it.category, &it.path);
  const float t = 48 * scale_, right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  bool line_start = true;
  for (const auto& [category, path] : first) {
    if (!stimuli::is_stimulus_file(*path, stimuli::Modality::image)) continue;
    if (!line_start && ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + t <= right) ImGui::SameLine();
    line_start = false;
    ImGui::BeginGroup();
    bool pending = false;
    if (const Texture* th = thumbs_.get(*path, 96, pending)) {
      ImGui::Image(tex_id(*th), ImVec2(t, t));
      ++probe_->designer.set_thumbnails;
    } else {
      ImGui::Dummy(ImVec2(t, t));  // being read, or not an image
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n%s", category.c_str(), path->c_str());
    probe_->designer.widgets[field + ".thumbnail." + category] = item_rect(k_);
    ImGui::EndGroup();
  }
}

void ExperimentDesigner::draw_sets() {
  if (!section("Stimulus sets", "sets", focus_)) return;
  bool c = false;
  long remove = -1;
  const ex::Experiment* e = check_ && check_->checked.experiment ? &*check_->checked.experiment : nullptr;
  for (size_t i = 0; i < draft_.sets.size(); ++i) {
    ex::DraftSet& s = draft_.sets[i];
    const std::string f = "sets." + std::to_string(i);
    ImGui::PushID(f.c_str());
    ImGui::Separator();
    c |= text(f, "[sets.NAME] name", s.name);
    static const Browse folder{FilePicker::Kind::folder, {}}, csv{FilePicker::Kind::open_file, {".csv"}};
    c |= list(f + ".folders", "folders", s.folders, &folder);
    c |= list(f + ".include", "include", s.include);
    c |= list(f + ".exclude", "exclude", s.exclude);
    c |= text(f + ".table", "table (CSV)", s.table, false, &csv);
    const ex::StimulusSet* set = e ? e->find_set(s.name) : nullptr;
    draw_set_table_buttons(i, set);
    if (set) {
      std::map<std::string, int> per;
      for (const auto& it : set->items) ++per[it.category];
      std::string line;
      for (const auto& [cat, n] : per) line += (line.empty() ? "" : ", ") + cat + " " + std::to_string(n);
      ImGui::PushTextWrapPos(0);
      ImGui::TextColored(kDim, "%zu files: %s", set->items.size(), line.c_str());
      ImGui::PopTextWrapPos();
      draw_set_thumbnails(*set, f);
    } else {
      ImGui::TextColored(kDim, "files counted once the experiment loads");
    }
    if (button("Remove set##" + f + ".remove")) remove = static_cast<long>(i);
    ImGui::PopID();
  }
  if (remove >= 0) {
    draft_.sets.erase(draft_.sets.begin() + remove), c = true;
    if (table_.open && table_.set == static_cast<size_t>(remove)) table_.open = false;  // its set went
    else if (table_.open && table_.set > static_cast<size_t>(remove)) --table_.set;    // its set moved up
  }
  if (button("Add set")) {
    draft_.sets.push_back({});
    draft_.sets.back().name = "set" + std::to_string(draft_.sets.size());
    c = true;
  }
  if (c) edited();
}

void ExperimentDesigner::draw_sources() {
  if (!section("Metamer sources", "metamers", focus_)) return;
  bool c = false;
  long remove = -1;
  const ex::Experiment* e = check_ && check_->checked.experiment ? &*check_->checked.experiment : nullptr;
  std::vector<std::string> set_names;
  for (const auto& s : draft_.sets) set_names.push_back(s.name);
  for (size_t i = 0; i < draft_.sources.size(); ++i) {
    ex::DraftSource& s = draft_.sources[i];
    const std::string f = "metamers." + std::to_string(i);
    ImGui::PushID(f.c_str());
    ImGui::Separator();
    ImGui::TextColored(kDim, "[[metamers]] #%zu", i + 1);
    at_field(f);
    c |= choice(f + ".zoo", "model from the zoo", s.model, zoo_, "(a file: type it below)");
    static const Browse model_file{FilePicker::Kind::open_file, {".pt", ".ts", ".pth"}};
    c |= text(f + ".model", "model", s.model, false, &model_file);
    c |= text(f + ".label", "label", s.label);
    const std::string key = s.model + "\n" + anchor();
    if (!layers_.count(key)) layers_[key] = model_layers(s.model, anchor());
    const std::vector<std::string> known = layers_[key];
    if (!known.empty()) {
      label("layers of the model");
      ImGui::NewLine();
      for (size_t k = 0; k < known.size(); ++k) {
        bool on = std::find(s.layers.begin(), s.layers.end(), known[k]) != s.layers.end();
        if (k > 0) ImGui::SameLine();
        if (ImGui::Checkbox(known[k].c_str(), &on)) {
          std::vector<std::string> next;
          for (const auto& l : known)
            if (l == known[k] ? on : std::find(s.layers.begin(), s.layers.end(), l) != s.layers.end()) next.push_back(l);
          for (const auto& l : s.layers)  // layers the sidecar does not list stay
            if (std::find(known.begin(), known.end(), l) == known.end()) next.push_back(l);
          s.layers = next;
          c = true;
        }
        probe_->designer.widgets[f + ".layer=" + known[k]] = item_rect(k_);
      }
    }
    c |= list(f + ".layers", "layers", s.layers);
    bool live = s.live;
    label("made");
    if (ImGui::Checkbox("during the session (generate = \"live\")", &live)) s.live = live, c = true;
    at_field(f + ".generate");
    if (!s.live) {
      static const Browse db{FilePicker::Kind::open_file, {".db", ".sqlite"}}, folder{FilePicker::Kind::folder, {}},
          csv{FilePicker::Kind::open_file, {".csv"}};
      c |= text(f + ".database", "database", s.database, false, &db);
      c |= text(f + ".folder", "folder", s.folder, false, &folder);
      c |= text(f + ".table", "table (CSV)", s.table, false, &csv);
      c |= flag(f + ".assume_passed", "assume_passed", s.assume_passed, "(default) false");
      c |= text(f + ".model_sha256", "model_sha256", s.model_sha256);
      if (s.database.empty() && s.folder.empty() && s.table.empty())
        ImGui::TextColored(kDim, "no database, folder or table: the studio's database (%s)", db_.c_str());
    } else {
      c |= text(f + ".model_sha256", "model_sha256", s.model_sha256);
      c |= integer(f + ".iterations", "iterations", s.iterations);
      c |= integer(f + ".rounds", "rounds", s.rounds);
      c |= integer(f + ".max_rounds", "max_rounds", s.max_rounds);
      c |= number(f + ".step", "step", s.step);
      c |= choice(f + ".optimizer", "optimizer", s.optimizer, {"gd", "adam"}, "(default) gd");
      c |= choice(f + ".loss", "loss", s.loss, {"l2norm", "mse"}, "(default) l2norm");
      c |= text(f + ".seed", "seed", s.seed);
      c |= choice(f + ".null_set", "null_set", s.null_set, set_names, "(default) the model's bundled null");
      c |= integer(f + ".retries", "retries", s.retries);
      c |= choice(f + ".when_late", "when_late", s.when_late, {"wait", "reorder"}, "(default) wait");
    }
    // Per layer: references with a passing metamer, and those that would fall back.
    if (e && i < e->sources.size() && !e->sources[i].live) {
      for (const auto& cond : e->conditions) {
        if (cond.source != static_cast<int>(i)) continue;
        int passing = 0, failed = 0, missing = 0;
        for (const auto& [ref, by] : e->metamers) passing += by.count(cond.name) > 0;
        for (const auto& [ref, by] : e->unavailable)
          if (auto it = by.find(cond.name); it != by.end()) (it->second == "failed" ? failed : missing)++;
        ImGui::TextColored(failed + missing ? kYellow : kDim, "%s: %d references with a passing metamer, %d fall back (%d failed, %d missing)",
                           cond.name.c_str(), passing, failed + missing, failed, missing);
      }
    }
    if (button("Remove source##" + f + ".remove")) remove = static_cast<long>(i);
    ImGui::PopID();
  }
  if (remove >= 0) draft_.sources.erase(draft_.sources.begin() + remove), c = true;
  if (button("Add metamer source")) {
    draft_.sources.push_back({});
    c = true;
  }
  if (c) edited();
}

void ExperimentDesigner::draw_blocks() {
  if (!section("Blocks", "blocks", focus_)) return;
  bool c = false;
  std::pair<long, int> move{-1, 0};  // a block to move up (-1), down (1) or remove (0), after drawing
  std::vector<std::string> set_names, conditions{"natural"};
  for (const auto& s : draft_.sets) set_names.push_back(s.name);
  for (const auto& s : draft_.sources) {
    const std::string lbl = !s.label.empty() ? s.label
                            : s.model.rfind("zoo:", 0) == 0 ? s.model.substr(4)
                                                            : fs::path(s.model).stem().string();
    for (const auto& l : s.layers) conditions.push_back(lbl + "/" + l);
  }
  for (size_t i = 0; i < draft_.blocks.size(); ++i) {
    ex::DraftBlock& b = draft_.blocks[i];
    const std::string f = "blocks." + std::to_string(i);
    ImGui::PushID(f.c_str());
    ImGui::Separator();
    ImGui::Text("#%zu %s%s%s", i + 1, b.kind.c_str(), b.name.empty() ? "" : ": ", b.name.c_str());
    at_field(f);
    ImGui::SameLine();
    if (button("Up##" + f + ".up") && i > 0) move = {static_cast<long>(i), -1};
    ImGui::SameLine();
    if (button("Down##" + f + ".down") && i + 1 < draft_.blocks.size()) move = {static_cast<long>(i), 1};
    ImGui::SameLine();
    if (button("Remove##" + f + ".remove")) move = {static_cast<long>(i), 0};
    const std::string k = b.kind;
    const bool trial = k == "practice" || k == "demo" || k == "main" || k == "catch";
    c |= choice(f + ".kind", "kind", b.kind, kKinds, nullptr);
    c |= text(f + ".name", "name", b.name);
    c |= text(f + ".text", "text", b.text, true);
    static const Browse text_file{FilePicker::Kind::open_file, {".txt", ".md"}};
    c |= text(f + ".file", "or text from file", b.file, false, &text_file);
    if (trial) c |= choice(f + ".set", "set", b.set, set_names, "(none)");
    if (k == "practice" || k == "demo" || k == "catch") c |= integer(f + ".trials", "trials", b.trials);
    if (trial) c |= flag(f + ".feedback", "feedback", b.feedback, k == "practice" ? "(default) true" : "(default) false");
    if (k == "demo") c |= integer(f + ".pass_min_correct", "pass_min_correct", b.pass_min_correct);
    if (k == "demo" || k == "headphone_check") c |= text(f + ".fail_text", "fail_text", b.fail_text);
    if (k == "main") {
      label("conditions");
      ImGui::TextColored(kDim, "%s", b.conditions.empty() ? "(all, when none is ticked)" : "");
      at_field(f + ".conditions");
      for (size_t j = 0; j < conditions.size(); ++j) {
        bool on = std::find(b.conditions.begin(), b.conditions.end(), conditions[j]) != b.conditions.end();
        if (j % 3 != 0) ImGui::SameLine();
        if (ImGui::Checkbox(conditions[j].c_str(), &on)) {
          std::vector<std::string> next;
          for (const auto& x : conditions)
            if (x == conditions[j] ? on : std::find(b.conditions.begin(), b.conditions.end(), x) != b.conditions.end())
              next.push_back(x);
          b.conditions = next;
          c = true;
        }
        probe_->designer.widgets[f + ".condition=" + conditions[j]] = item_rect(k_);
      }
      c |= integer(f + ".max_run", "max_run", b.max_run);
      c |= integer(f + ".catch", "catch trials", b.catch_trials);
      c |= choice(f + ".catch_set", "catch_set", b.catch_set, set_names, "(the icons)");
    }
    if (k == "practice" || k == "demo" || k == "main") {
      c |= integer(f + ".break_every", "break_every", b.break_every);
      c |= text(f + ".break_text", "break_text", b.break_text);
    }
    if (trial) {
      ImGui::TextColored(kDim, "timing overrides (empty: [timing]'s)");
      at_field(f + ".timing");
      for (int p = 0; p < 5; ++p) {
        if (draft_.modality == "audio" && (p == 1 || p == 2)) continue;
        const auto& top = phase(draft_.timing, p);
        const int fallback = top ? static_cast<int>(*top) : default_ms(p);
        c |= integer(f + ".timing." + kPhases[p], kPhases[p], phase(b.timing, p), &fallback);
      }
    }
    ImGui::PopID();
  }
  if (move.first >= 0) {
    auto& v = draft_.blocks;
    if (move.second == 0) v.erase(v.begin() + move.first);
    else std::swap(v[static_cast<size_t>(move.first)], v[static_cast<size_t>(move.first + move.second)]);
    buffers_.clear();
    c = true;
  }
  ImGui::Separator();
  ImGui::TextUnformatted("Add a block:");
  for (size_t j = 0; j < kKinds.size(); ++j) {
    if (j % 4 != 0) ImGui::SameLine();
    if (button("+ " + kKinds[j] + "##Add " + kKinds[j])) {
      ex::DraftBlock b;
      b.kind = kKinds[j];
      draft_.blocks.push_back(b);
      c = true;
    }
  }
  if (c) edited();
}

void ExperimentDesigner::draw_analysis() {
  if (!section("Analysis", "analysis", focus_)) return;
  at_field("analysis");
  bool c = false;
  c |= list("analysis.judges", "judges", draft_.judges);
  c |= number("analysis.exclude_catch_below", "exclude_catch_below", draft_.exclude_catch_below);
  if (c) edited();
}

// [SECTION] Panel -------------------------------------------------------------------------
void ExperimentDesigner::draw_file_bar() {
  if (button("New")) new_experiment();
  ImGui::SameLine();
  ImGui::SetNextItemWidth(std::max(200.0f, ImGui::GetContentRegionAvail().x - 450 * scale_));
  input_string("##path", path_field_, ImGuiInputTextFlags_AutoSelectAll);
  probe_->designer.widgets["path"] = item_rect(k_);
  static const Browse experiment_file{FilePicker::Kind::save_file, {".toml"}};
  std::string picked;
  if (browse_button("path", path_field_.empty() ? anchor() + "/" : path_field_, experiment_file, picked))
    path_field_ = fs::absolute(picked).lexically_normal().string();
  ImGui::SameLine();
  if (button("Open")) open(path_field_);
  ImGui::SameLine();
  const bool armed_save = !confirm_.empty() && confirm_ == "save:" + (file_.empty() ? path_field_ : file_);
  if (button(armed_save ? "Save anyway##Save" : "Save")) save(file_.empty() ? path_field_ : file_, file_.empty());
  ImGui::SameLine();
  if (button("Save as")) save(path_field_, true);
  ImGui::TextColored(status_bad_ ? kRed : kDim, "%s", status_.c_str());
  ImGui::SameLine();
  ImGui::TextColored(kDim, "   %s%s", file_.empty() ? "(not saved yet)" : file_.c_str(), edited_ ? "  [edited]" : "");
}

void ExperimentDesigner::draw_messages() {
  ImGui::TextUnformatted("Validation (the messages of metamerlab plan)");
  ImGui::Separator();
  if (!check_ || checked_version_ != version_) {
    ImGui::TextColored(kYellow, "checking...");
    if (!check_) return;
  }
  if (check_->messages.empty()) ImGui::TextColored(kGreen, "no problems: ready to run");
  for (size_t i = 0; i < check_->messages.size(); ++i) {
    ImGui::PushID(static_cast<int>(i));
    const std::string& m = check_->messages[i];
    const float w = ImGui::GetContentRegionAvail().x;
    const ImVec2 pos = ImGui::GetCursorScreenPos();
    const ImVec2 size = ImGui::CalcTextSize(m.c_str(), nullptr, false, w);
    if (ImGui::Selectable("##message", !focus_.empty() && focus_ == check_->fields[i], 0, ImVec2(w, size.y))) {
      focus_ = check_->fields[i];
      focus_frames_ = 3;
    }
    probe_->designer.message_rows.push_back(item_rect(k_));
    ImGui::GetWindowDrawList()->AddText(ImGui::GetFont(), ImGui::GetFontSize(), pos,
                                        ImGui::GetColorU32(check_->is_error[i] ? kRed : kDim), m.c_str(), nullptr, w);
    ImGui::PopID();
  }
}

void ExperimentDesigner::draw_plan() {
  ImGui::Separator();
  ImGui::TextUnformatted("Plan preview");
  label("participant");
  int p = participant_;
  ImGui::SetNextItemWidth(120 * scale_);
  if (ImGui::InputInt("##participant", &p) && p >= 1 && p != participant_) participant_ = p, last_edit_s_ = 0, ++version_;
  probe_->designer.widgets["participant"] = item_rect(k_);
  if (!check_) return;
  if (!check_->plan_error.empty()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(kRed, "no plan: %s", check_->plan_error.c_str());
    ImGui::PopTextWrapPos();
    return;
  }
  if (!check_->checked.experiment) {
    ImGui::TextColored(kDim, "no plan until the experiment loads");
    return;
  }
  const ex::PlanSummary& s = check_->summary;
  const std::string total = "participant " + std::to_string(check_->participant) + ": " + std::to_string(s.trials) +
                            " trials, about " + ex::format_duration(s.seconds);
  ImGui::TextUnformatted(total.c_str());
  std::string probe_plan = total + "\n";
  if (ImGui::BeginTable("##plan", 5, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
    for (const char* h : {"#", "kind", "name", "trials", "conditions (planned)"}) ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (const auto& b : s.blocks) {
      std::string conds;
      for (const auto& [c, n] : b.by_condition) conds += (conds.empty() ? "" : ", ") + c + " " + std::to_string(n);
      if (b.fell_back) conds += "; " + std::to_string(b.fell_back) + " fall back";
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%d", b.index + 1);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(b.kind.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(b.name.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%d", b.trials);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(conds.c_str());
      probe_plan += std::to_string(b.index + 1) + " " + b.kind + " " + std::to_string(b.trials) + " " + conds + "\n";
    }
    ImGui::EndTable();
  }
  probe_->designer.plan = probe_plan;
  draw_trial_preview();
  if (check_->group_size == 0) return;
  ImGui::TextColored(kDim, "Rotation: participants %d-%d (each reference once per condition over the group)",
                     check_->group_first, check_->group_first + check_->group_size - 1);
  const int cols = check_->group_size + 1;
  if (cols <= 64 && ImGui::BeginTable("##rotation", cols,
                                      ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX |
                                          ImGuiTableFlags_ScrollY,
                                      ImVec2(0, 300 * scale_))) {
    ImGui::TableSetupScrollFreeze(1, 1);
    ImGui::TableSetupColumn("reference");
    for (int k = 0; k < check_->group_size; ++k)
      ImGui::TableSetupColumn(("P" + std::to_string(check_->group_first + k)).c_str());
    ImGui::TableHeadersRow();
    for (size_t r = 0; r < check_->refs.size(); ++r) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(check_->refs[r].c_str());
      for (const auto& cell : check_->rotation[r]) {
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(cell.c_str());
      }
    }
    ImGui::EndTable();
  }
}

// One trial of a block, shown in this window with the session's own presentation (the
// window runs it after this frame: run_preview), and what it showed, phase by phase.
void ExperimentDesigner::draw_trial_preview() {
  const ex::Plan& plan = check_->plan;
  std::vector<std::string> blocks;  // the blocks with trials a person answers
  std::vector<const ex::PlannedBlock*> with_trials;
  for (const auto& b : plan.blocks)
    if (b.trials > 0 && b.kind != ex::BlockKind::headphone_check) {
      const std::string kind = ex::block_kind_name(b.kind);
      blocks.push_back(std::to_string(b.index + 1) + " " + kind + (b.name.empty() || b.name == kind ? "" : " " + b.name));
      with_trials.push_back(&b);
    }
  ImGui::Spacing();
  ImGui::TextUnformatted("Preview a trial");
  if (blocks.empty()) {
    ImGui::TextColored(kDim, "no block with trials to preview");
    return;
  }
  if (std::find(blocks.begin(), blocks.end(), preview_block_) == blocks.end()) preview_block_ = blocks.front();
  choice("preview.block", "block", preview_block_, blocks, nullptr);
  const size_t bi = static_cast<size_t>(std::find(blocks.begin(), blocks.end(), preview_block_) - blocks.begin());
  const ex::PlannedBlock& b = *with_trials[bi];
  label("trial in block");
  ImGui::SetNextItemWidth(120 * scale_);
  ImGui::InputInt("##preview.trial", &preview_trial_);
  preview_trial_ = std::clamp(preview_trial_, 1, b.trials);
  probe_->designer.widgets["preview.trial"] = item_rect(k_);
  const ex::PlannedTrial& t = plan.trials[static_cast<size_t>(b.first_trial + preview_trial_ - 1)];
  ImGui::TextColored(kDim, "of %d: %s, %s%s", b.trials, t.condition.c_str(), t.category.c_str(),
                     t.live ? " (a live metamer: the preview shows its reference)" : "");
  if (!check_->checked.ok()) {
    ImGui::TextColored(kDim, "a trial can be previewed once the experiment validates");
  } else if (button("Preview trial")) {
    preview_index_ = t.index;
  }
  ImGui::SameLine();
  ImGui::TextColored(kDim, "Ctrl+Shift+Q ends it");
  if (!preview_text_.empty()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(preview_bad_ ? kRed : kDim, "%s", preview_text_.c_str());
    ImGui::PopTextWrapPos();
  }
  probe_->designer.preview = preview_text_;
}

bool ExperimentDesigner::preview_requested() const { return preview_index_ >= 0; }

void ExperimentDesigner::run_preview(const RunOptions& o, std::ostream& log) {
  const int64_t trial = preview_index_;
  preview_index_ = -1;
  if (trial < 0 || !check_) return;
  preview_bad_ = true;
  TrialPreview pv;
  try {
    pv = preview_trial(d_, check_->checked, check_->plan, trial, o, log);
  } catch (const std::exception& e) {
    preview_text_ = std::string("the trial could not be shown: ") + first_line(e.what());
    return;
  }
  if (!pv.error.empty()) {
    preview_text_ = pv.error;
    return;
  }
  preview_bad_ = pv.aborted;
  // Each phase: requested ms, the whole frames it was given, what that lasts at this
  // refresh, and what the flips measured (to the next phase's onset).
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  const ex::PlannedTrial& t = check_->plan.trials[static_cast<size_t>(trial)];
  s << "trial " << trial + 1 << " of the plan (" << t.condition << ", " << t.category << ")";
  if (pv.aborted) s << ": ended with Ctrl+Shift+Q";
  s << "\n";
  if (!pv.note.empty()) s << pv.note << "\n";
  if (!pv.aborted) {
    const nlohmann::json tj = nlohmann::json::parse(pv.record.timing_json, nullptr, false);
    std::vector<std::string> phases;
    for (const char* ph : {"fixation", "stimulus", "mask", "response"})
      if (tj.is_object() && tj.contains(ph)) phases.push_back(ph);
    for (size_t i = 0; i < phases.size(); ++i) {
      const auto& p = tj[phases[i]];
      s << phases[i] << ": " << p.value("requested_ms", 0) << " ms requested";
      if (phases[i] != "response") {
        s << ", " << p.value("frames", 0) << " frames = " << p.value("realized_ms", 0.0) << " ms";
        if (i + 1 < phases.size())
          s << ", measured " << (tj[phases[i + 1]].value("actual_s", 0.0) - p.value("actual_s", 0.0)) * 1000.0 << " ms";
      }
      s << ", " << p.value("dropped", 0) << " dropped\n";
    }
    s << "answer " << (pv.record.response.empty() ? "(none)" : pv.record.response) << " ("
      << (pv.record.correct ? "correct" : "wrong") << ")";
    if (pv.record.rt_response_ms >= 0) s << " after " << pv.record.rt_response_ms << " ms";
    s << "; nothing was recorded";
  }
  preview_text_ = s.str();
}

void ExperimentDesigner::draw(float scale, StudioProbe& probe) {
  probe_ = &probe;
  scale_ = scale;
  k_ = d_.pixel_scale();
  collect_check();
  if (checked_version_ != version_ && now_s() - last_edit_s_ > 0.3) recheck();
  if (focus_frames_ > 0) --focus_frames_;

  thumbs_.begin_frame();
  draw_file_bar();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  ImGui::BeginChild("##design", ImVec2(avail.x * 0.58f, avail.y), true);
  const ImVec2 at = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
  probe.designer.widgets["design"] = to_rect(at, ImVec2(at.x + size.x, at.y + size.y), k_);  // the scrolled column
  draw_settings();
  draw_responses();
  draw_timing();
  draw_sets();
  draw_sources();
  draw_blocks();
  draw_analysis();
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##check", ImVec2(0, avail.y), true);
  draw_messages();
  draw_plan();
  ImGui::EndChild();
  draw_picker();
  thumbs_.end_frame();

  auto& pd = probe.designer;
  pd.path = path_field_;
  pd.status = status_;
  pd.dirty = edited_;
  pd.checking = checked_version_ != version_;
  pd.focus = focus_;
  if (check_) {
    pd.errors = check_->checked.errors.size();
    pd.messages = check_->messages;
    pd.message_fields = check_->fields;
  }
  probe_ = nullptr;
}

}  // namespace mm::app::studio
