// app/studio_designer_files.cpp: the experiment designer's files (app/studio_designer.h,
// "Files"): the picker beside path fields, a set's CSV table edited row by row, and the
// words file of [responses] edited as text. Tables and words files are written atomically
// (a reader never sees half a file); the check reruns after each save, so the set's file
// counts and the messages follow.
//
// Sections
//   [SECTION] Picker   browse_button, as_written, draw_picker
//   [SECTION] Tables   the buttons under a set, the editor, saving
//   [SECTION] Words
#include <imgui.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "app/studio.h"
#include "app/studio_designer.h"
#include "app/studio_widgets.h"
#include "experiments/experiment.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace ex = mm::experiments;

// [SECTION] Picker ------------------------------------------------------------------------
bool ExperimentDesigner::browse_button(const std::string& field, const std::string& current, const Browse& b,
                                       std::string& v) {
  ImGui::SameLine();
  const bool add = b.kind == FilePicker::Kind::folder && field.find("folders") != std::string::npos;
  if (ImGui::SmallButton(((add ? "add..##browse." : "...##browse.") + field).c_str())) {
    // The experiment file's own field is a path from the current folder; the others start at
    // the experiment's folder.
    const std::string start = current.empty()                ? anchor() + "/"
                              : field == "path"              ? fs::absolute(current).lexically_normal().string()
                                                             : (fs::path(anchor()) / current).lexically_normal().string();
    const char* what = b.kind == FilePicker::Kind::folder ? "a folder" : "a file";
    picker_.open(field, start, b.kind, b.extensions, std::string("Choose ") + what + " for " + field);
  }
  probe_->designer.widgets["browse." + field] = item_rect(k_);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip(add ? "add a folder picked from a list" : "pick from a list");
  const auto it = picked_.find(field);
  if (it == picked_.end()) return false;
  // The experiment file's path, and a model file (opened from the current folder by the
  // engine, not from the experiment's), are absolute; the others as the draft writes them.
  const bool absolute = field == "path" || (field.size() > 6 && field.compare(field.size() - 6, 6, ".model") == 0);
  v = absolute ? it->second : as_written(it->second);
  picked_.erase(it);
  return true;
}

std::string ExperimentDesigner::as_written(const std::string& path) const {
  // An experiment not saved yet has no folder of its own (anchor() follows the path field,
  // which may still change): absolute then, so a pick keeps naming its file.
  if (file_.empty()) return fs::absolute(path).lexically_normal().string();
  return ex::path_from(path, anchor());
}

void ExperimentDesigner::draw_picker() {
  if (auto chosen = picker_.draw(scale_, k_, probe_->designer.widgets)) picked_[picker_.id()] = *chosen;
  probe_->designer.picker = picker_.is_open() ? picker_.folder() : std::string();
  probe_->designer.table_status = table_.status;
  probe_->designer.words_status = words_.status;
}

// [SECTION] Tables ------------------------------------------------------------------------
void ExperimentDesigner::close_file_editors() {
  table_ = {};
  words_ = {};
  picked_.clear();
}

void ExperimentDesigner::draw_set_table_buttons(size_t i, const ex::StimulusSet* loaded) {
  const ex::DraftSet& s = draft_.sets[i];
  const std::string f = "sets." + std::to_string(i);
  if (table_.open && table_.set == i) {
    draw_table_editor();
    return;
  }
  // Opening an editor here closes the one open on another set: not over unsaved rows
  // without a second click.
  const bool guard = table_.open && table_.dirty;
  const auto may_switch = [&]() {
    if (!guard || table_.confirm == "switch:" + f) return true;
    table_.confirm = "switch:" + f;
    table_.status = "the table of set " + std::to_string(table_.set + 1) +
                    " has unsaved rows: click again to drop them, or Save table there first";
    table_.bad = true;
    return false;
  };
  if (!s.table.empty()) {
    if (button("Edit table##" + f + ".edit_table") && may_switch()) {
      const std::string path = (fs::path(anchor()) / s.table).lexically_normal().string();
      table_ = {};
      table_.set = i, table_.path = s.table, table_.base = fs::path(path).parent_path().string();
      try {
        table_.rows = ex::read_set_table(path);
        table_.status = std::to_string(table_.rows.size()) + " rows read from " + path;
      } catch (const std::exception& e) {
        table_.unreadable = path;
        table_.status = first_line(e.what()) +
                        " (fix the file in a text editor, or Save table under another name: it is not saved over)";
        table_.bad = true;
      }
      table_.open = true;
    }
    return;
  }
  if (loaded && !loaded->items.empty()) {
    // The files as the last check listed them: not while a newer edit is being checked.
    ImGui::BeginDisabled(checked_version_ != version_);
    if (button("Make a table of these files##" + f + ".to_table") && may_switch()) {
      table_ = {};
      table_.set = i, table_.from_folders = true, table_.dirty = true;
      table_.path = (s.name.empty() ? std::string("set") : s.name) + ".csv";
      table_.base = anchor();
      for (const auto& it : loaded->items)
        table_.rows.push_back({fs::path(it.path).lexically_relative(table_.base).string(), it.category});
      table_.status = std::to_string(table_.rows.size()) +
                      " files of the set's folders; edit, then Save table (the set then uses the table)";
      table_.open = true;
    }
    ImGui::EndDisabled();
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("a CSV table listing these files, one row each, to remove, add or re-categorize files");
  }
}

void ExperimentDesigner::draw_table_editor() {
  const std::string f = "sets." + std::to_string(table_.set) + ".table_edit";
  ImGui::PushID(f.c_str());
  ImGui::Indent(12 * scale_);
  static const Browse csv{FilePicker::Kind::save_file, {".csv"}};
  text(f + ".path", "table file", table_.path, false, &csv);
  std::set<std::string> categories;
  for (const auto& r : table_.rows) categories.insert(r.category);
  ImGui::TextColored(kDim, "%zu rows, %zu categories; files relative to %s", table_.rows.size(), categories.size(),
                     table_.base.c_str());
  const float row_h = ImGui::GetFrameHeightWithSpacing();
  ImGui::BeginChild("##rows", ImVec2(0, std::min(10.5f, static_cast<float>(table_.rows.size()) + 1.5f) * row_h), true);
  ImGui::TextColored(kDim, "file");
  ImGui::SameLine(ImGui::GetContentRegionAvail().x * 0.62f);
  ImGui::TextColored(kDim, "category");
  long remove = -1;
  ImGuiListClipper clip;
  clip.Begin(static_cast<int>(table_.rows.size()), row_h);
  while (clip.Step())
    for (int r = clip.DisplayStart; r < clip.DisplayEnd; ++r) {
      auto& row = table_.rows[static_cast<size_t>(r)];
      const std::string k = f + "." + std::to_string(r);
      ImGui::PushID(r);
      if (ImGui::SmallButton("x")) remove = r;
      probe_->designer.widgets[k + ".remove"] = item_rect(k_);
      ImGui::SameLine();
      const float avail = ImGui::GetContentRegionAvail().x;
      ImGui::SetNextItemWidth(avail * 0.6f);
      table_.dirty |= input_string("##file", row.file, ImGuiInputTextFlags_AutoSelectAll);
      probe_->designer.widgets[k + ".file"] = item_rect(k_);
      ImGui::SameLine();
      ImGui::SetNextItemWidth(-1);
      table_.dirty |= input_string("##category", row.category, ImGuiInputTextFlags_AutoSelectAll);
      probe_->designer.widgets[k + ".category"] = item_rect(k_);
      ImGui::PopID();
    }
  ImGui::EndChild();
  if (remove >= 0) table_.rows.erase(table_.rows.begin() + remove), table_.dirty = true;
  if (button("Add row##" + f + ".add")) {
    table_.rows.push_back({"", table_.rows.empty() ? "" : table_.rows.back().category});
    table_.dirty = true;
  }
  ImGui::SameLine();
  const bool save_armed = table_.confirm.rfind("save:", 0) == 0;
  if (button(std::string(save_armed ? "Save anyway" : "Save table") + "##" + f + ".save")) save_table();
  ImGui::SameLine();
  const bool close_armed = table_.confirm == "close";
  if (button(std::string(close_armed ? "Drop the edits" : "Close") + "##" + f + ".close")) {
    if (!table_.dirty || close_armed) {
      table_.open = false;
    } else {
      table_.confirm = "close";
      table_.status = "the rows have unsaved edits: click again to drop them, or Save table";
      table_.bad = true;
    }
  }
  if (!table_.status.empty()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(table_.bad ? kRed : kDim, "%s", table_.status.c_str());
    ImGui::PopTextWrapPos();
  }
  ImGui::Unindent(12 * scale_);
  ImGui::PopID();
}

void ExperimentDesigner::save_table() {
  table_.bad = true;
  if (table_.set >= draft_.sets.size()) return void(table_.open = false);
  if (table_.path.empty()) return void(table_.status = "give the table's file name, then Save table");
  if (table_.rows.empty()) return void(table_.status = "the table has no rows; a set needs at least one file");
  const std::string path = (fs::path(anchor()) / table_.path).lexically_normal().string();
  if (path == table_.unreadable)
    return void(table_.status = path + " could not be read, so it is not saved over; fix it in a text editor, or "
                                       "give another file name");
  // Another file than the table read: replaced only after a second click.
  const std::string opened = (fs::path(anchor()) / draft_.sets[table_.set].table).lexically_normal().string();
  std::error_code ec;
  const std::string token = "save:" + path;
  if ((draft_.sets[table_.set].table.empty() || path != opened) && fs::exists(path, ec) && table_.confirm != token) {
    table_.confirm = token;
    return void(table_.status = path + " exists: click \"Save anyway\" to replace it, or give another file name");
  }
  table_.confirm.clear();
  std::vector<ex::SetTableRow> rows;
  for (size_t r = 0; r < table_.rows.size(); ++r) {
    const auto& row = table_.rows[r];
    if (row.file.empty())
      return void(table_.status = "row " + std::to_string(r + 1) + " has no file; type one or remove the row");
    rows.push_back({(fs::path(table_.base) / row.file).lexically_normal().string(), row.category});
  }
  std::vector<ex::SetTableRow> back;
  try {
    ex::write_set_table(path, rows);
    back = ex::read_set_table(path);  // the rows as the file now names them (relative to its folder)
  } catch (const std::exception& e) {
    return void(table_.status = "not saved: " + first_line(e.what()));
  }
  ex::DraftSet& s = draft_.sets[table_.set];
  const std::string named = as_written(path);
  const bool changed = s.table != named || table_.from_folders;
  s.table = named;
  if (table_.from_folders) s.folders.clear(), s.include.clear(), s.exclude.clear();
  table_.rows = std::move(back);
  table_.base = fs::path(path).parent_path().string();
  table_.path = named;
  table_.from_folders = table_.dirty = false;
  table_.status = "saved " + std::to_string(rows.size()) + " rows to " + path +
                  (changed ? "; the set now uses it (save the experiment to keep that)" : "");
  table_.bad = false;
  if (changed) edited();
  else ++version_;  // the experiment's text is the same: only its check reruns, for the new counts
}

// [SECTION] Words -------------------------------------------------------------------------
void ExperimentDesigner::draw_words_editor() {
  // The editor stays on the file it opened (its path shown) until Close, even when the
  // words_file field is changed meanwhile: typed words are never dropped by a field edit.
  if (!words_.open) {
    if (draft_.words_file.empty() || !button("Edit words##responses.words_file.edit")) return;
    const std::string path = (fs::path(anchor()) / draft_.words_file).lexically_normal().string();
    words_ = {};
    words_.open = true, words_.path = path;
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream t;
      t << in.rdbuf();
      words_.text = words_.disk = t.str();
      words_.status = "read " + path;
    } else {
      words_.status = path + " does not exist yet: Save words creates it";
    }
  }
  const std::string path = words_.path;
  if (draft_.words_file.empty() || (fs::path(anchor()) / draft_.words_file).lexically_normal().string() != path)
    ImGui::TextColored(kYellow, "editing %s (words_file now names another file)", path.c_str());
  ImGui::Indent(12 * scale_);
  input_string("##words_text", words_.text, 0, true, std::min(400 * scale_, ImGui::GetContentRegionAvail().x - 40 * scale_),
               170 * scale_);
  probe_->designer.widgets["responses.words_file.text"] = item_rect(k_);
  size_t n = 0;
  std::istringstream lines(words_.text);
  for (std::string l; std::getline(lines, l);) {
    const size_t a = l.find_first_not_of(" \t\r");
    n += a != std::string::npos && l[a] != '#';
  }
  ImGui::TextColored(kDim, "%zu words (one per line; lines starting with # are comments)", n);
  if (button("Save words##responses.words_file.save")) {
    try {
      std::string t = words_.text;
      if (!t.empty() && t.back() != '\n') t += '\n';
      stimuli::write_file_atomic(path, t);
      words_.text = words_.disk = t;
      words_.status = "saved " + std::to_string(n) + " words to " + path, words_.bad = false;
      ++version_;  // the check rereads the words
    } catch (const std::exception& e) {
      words_.status = "not saved: " + first_line(e.what()), words_.bad = true;
    }
  }
  ImGui::SameLine();
  const bool armed = words_.close_armed && words_.text != words_.disk;
  if (button(std::string(armed ? "Drop the edits" : "Close") + "##responses.words_file.close")) {
    if (words_.text == words_.disk || armed) {
      words_.open = false;
    } else {
      words_.close_armed = true;
      words_.status = "the words have unsaved edits: click again to drop them, or Save words", words_.bad = true;
    }
  }
  ImGui::SameLine();
  ImGui::TextColored(words_.bad ? kRed : kDim, "%s", words_.status.c_str());
  ImGui::Unindent(12 * scale_);
}

}  // namespace mm::app::studio
