// app/studio_library.cpp: the workbench's Stimuli panel (app/studio_library.h): the grid of
// references x model x layer, its filters, thumbnails (app/studio_thumbnails.h), the
// selection saved as a set's CSV table, plain folders, and the selected metamer's detail view.
//
// Sections
//   [SECTION] Data        refresh: the library read through data/library.h; plain folders
//   [SECTION] Filters     category, model, layer, failed only; the cells they leave
//   [SECTION] Selection   clicks, checkboxes, "Select all shown", the CSV written
//   [SECTION] Grid        the table of cells (database) or thumbnails per category (folder)
//   [SECTION] Detail      reference and metamer side by side (or, for sounds, playback and
//                         cochleagrams), the loss curve (app/studio_detail.cpp), the measures
#include "app/studio_library.h"
#include "app/studio_widgets.h"

#include <imgui.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>
#include <tuple>

#include "experiments/set_table.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace {
const ImVec4& kPass = kGreen;
const ImVec4& kFail = kRed;
const ImVec4 kChosen(0.35f, 0.62f, 1.0f, 1.0f);  // a cell in the selection

// "All" and the values; the old choice kept by name (else "All").
void choices(std::vector<std::string>& list, int& index, const std::set<std::string>& values) {
  const std::string keep = index >= 0 && index < static_cast<int>(list.size()) ? list[index] : "All";
  list = {"All"};
  list.insert(list.end(), values.begin(), values.end());
  const auto it = std::find(list.begin(), list.end(), keep);
  index = it == list.end() ? 0 : static_cast<int>(it - list.begin());
}

// A filter's combo box; true when the choice changed.
bool combo(const char* label, const std::vector<std::string>& list, int& index, float width, float px_per_point,
           StudioProbe::Combo& out) {
  out.choices = list;
  out.choice = list.empty() ? "All" : list[index];
  bool changed = false;
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted(label);  // the label before the box
  ImGui::SameLine();
  ImGui::SetNextItemWidth(width);
  if (ImGui::BeginCombo((std::string("##") + label).c_str(), out.choice.c_str())) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (ImGui::Selectable(list[i].c_str(), static_cast<int>(i) == index)) changed = index != static_cast<int>(i), index = static_cast<int>(i);
      out.items.push_back(to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point));
    }
    ImGui::EndCombo();
  }
  out.box = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  return changed;
}

// The file a metamer's cell stands for in a selection (its image, else its sound).
const std::string& cell_file(const data::LibraryMetamer& m) {
  return m.metamer.png_path.empty() ? m.metamer.wav_path : m.metamer.png_path;
}
}  // namespace

// [SECTION] Data --------------------------------------------------------------------------
void StimulusLibrary::refresh(data::Store* store, const std::string& why, const std::string& db) {
  lib_ = store ? data::library_metamers(*store) : std::vector<data::LibraryMetamer>{};
  status_ = why;
  if (!db.empty()) db_ = db;
  if (csv_[0] == 0 && !db_.empty()) {  // the CSV's default: beside the database
    std::error_code ec;
    const std::string f = (fs::absolute(db_, ec).parent_path() / "selection.csv").string();
    std::snprintf(csv_, sizeof csv_, "%s", f.c_str());
  }
  set_choices();
  if (std::none_of(lib_.begin(), lib_.end(), [&](const data::LibraryMetamer& m) { return m.id == selected_; })) {
    if (requested_ && store)
      select_status_ = "no metamer " + std::to_string(requested_) + " in this database's library to select";
    selected_ = 0;
  }
  if (store) requested_ = 0;
  read_selected(store);
}

void StimulusLibrary::read_selected(data::Store* store) {
  // The selected metamer in full, for its loss curve (the grid's query leaves curves out).
  read_for_ = selected_;
  detail_.set_record(store && selected_ ? data::library_metamer(*store, selected_) : std::nullopt);
}

void StimulusLibrary::show_folder(const std::string& dir) {
  folder_ = dir;
  folder_items_.clear();
  folder_status_.clear();
  std::snprintf(folder_field_, sizeof folder_field_, "%s", dir.c_str());
  if (!dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      folder_status_ = "no folder at " + dir + "; give a folder in ImageFolder layout (DIR/<category>/<image>)";
    } else {
      try {
        folder_items_ = stimuli::list_stimuli({dir}, stimuli::Modality::image);
      } catch (const std::exception& e) {
        folder_status_ = first_line(e.what());
      }
    }
  }
  selected_ = 0;
  set_choices();
}

void StimulusLibrary::set_choices() {
  std::set<std::string> cats, models, layers;
  if (!folder_.empty()) {
    for (const auto& it : folder_items_) cats.insert(it.category);
  } else {
    for (const auto& m : lib_) cats.insert(m.metamer.category), models.insert(m.model_spec);
  }
  choices(categories_, category_, cats);
  choices(models_, model_, models);
  for (const auto& m : lib_)
    if (model_ == 0 || m.model_spec == models_[model_]) layers.insert(m.metamer.layer);
  choices(layers_, layer_, layers);
}

// [SECTION] Filters -----------------------------------------------------------------------
StimulusLibrary::Shown StimulusLibrary::shown() const {
  std::map<std::tuple<std::string, std::string, std::string>, size_t> newest;  // lib_ holds the newest last
  for (size_t i = 0; i < lib_.size(); ++i)
    newest[{lib_[i].metamer.reference_path, lib_[i].model_spec, lib_[i].metamer.layer}] = i;
  Shown s;
  std::set<std::pair<std::string, std::string>> cols, rows;
  for (const auto& [key, i] : newest) {
    const data::LibraryMetamer& m = lib_[i];
    if (category_ > 0 && m.metamer.category != categories_[category_]) continue;
    if (model_ > 0 && m.model_spec != models_[model_]) continue;
    if (layer_ > 0 && m.metamer.layer != layers_[layer_]) continue;
    if (failed_only_ && m.metamer.passed) continue;
    s.cell[key] = i;
    cols.insert({m.model_spec, m.metamer.layer});
    rows.insert({m.metamer.category, m.metamer.reference_path});
  }
  s.cols.assign(cols.begin(), cols.end());
  s.rows.assign(rows.begin(), rows.end());
  return s;
}

void StimulusLibrary::draw_filters(float scale, StudioProbe& p) {
  const float px = d_.pixel_scale();
  StudioProbe::Combo cat;
  combo("Category", categories_, category_, 200 * scale, px, cat);
  p.categories = cat.choices;
  p.category = cat.choice;
  p.category_combo = cat.box;
  p.category_items = cat.items;
  if (!folder_.empty()) return;  // a folder has categories only
  ImGui::SameLine();
  if (combo("Model", models_, model_, 200 * scale, px, p.model_filter)) set_choices();  // its layers
  ImGui::SameLine();
  combo("Layer", layers_, layer_, 140 * scale, px, p.layer_filter);
  ImGui::SameLine();
  ImGui::Checkbox("failed only", &failed_only_);
  p.failed_only_box = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px);
  p.failed_only = failed_only_;
}

// [SECTION] Selection ---------------------------------------------------------------------
void StimulusLibrary::click(const std::string& file, const std::string& category) {
  const ImGuiIO& io = ImGui::GetIO();
  const std::pair<std::string, std::string> cell{category, file};
  if (io.KeyShift && !anchor_.empty()) {  // the cells from the last clicked one to this one
    const auto at = [&](const std::string& f) {
      return std::find_if(order_.begin(), order_.end(), [&](const auto& c) { return c.second == f; });
    };
    auto a = at(anchor_), b = at(file);
    if (a != order_.end() && b != order_.end()) {
      if (b < a) std::swap(a, b);
      chosen_.insert(a, b + 1);
    }
  } else if (io.KeyCtrl) {
    if (!chosen_.erase(cell)) chosen_.insert(cell);
  }
  anchor_ = file;
}

void StimulusLibrary::checkbox(const std::string& file, const std::string& category, float px_per_point,
                               StudioProbe::Cell& c) {
  const std::pair<std::string, std::string> cell{category, file};
  bool in = chosen_.count(cell) > 0;
  if (ImGui::Checkbox("##chosen", &in)) {
    if (in) chosen_.insert(cell);
    else chosen_.erase(cell);
    anchor_ = file;
  }
  c.checkbox = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  c.chosen = in;
  drawn_.push_back(cell);
  drawn_chosen_ += in;
}

void StimulusLibrary::draw_selection_bar(float scale, StudioProbe& p) {
  const float px = d_.pixel_scale();
  if (ImGui::Button("Select all shown")) chosen_.insert(order_.begin(), order_.end());
  p.select_all = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px);
  ImGui::SameLine();
  if (ImGui::Button("Clear selection")) chosen_.clear(), csv_status_.clear();
  p.clear_selection = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px);
  ImGui::SameLine();
  const size_t hidden = chosen_.size() - std::min(chosen_.size(), chosen_shown_);  // counted at the last frame
  ImGui::TextColored(hidden ? kChosen : kDim, "%zu selected%s", chosen_.size(),
                     hidden ? (" (" + std::to_string(hidden) + " not shown by the filters)").c_str() : "");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(std::max(200 * scale, ImGui::GetContentRegionAvail().x - 230 * scale));
  ImGui::InputText("##csv", csv_, sizeof csv_, ImGuiInputTextFlags_AutoSelectAll);
  p.csv_field = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px);
  ImGui::SameLine();
  if (ImGui::Button("Save selection as CSV...")) save_csv();
  p.save_csv = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px);
  if (!csv_status_.empty()) {  // one line, wrapped to the window
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(csv_ok_ ? kPass : kFail, "%s", csv_status_.c_str());
    ImGui::PopTextWrapPos();
  }
  p.chosen = chosen_.size();
  p.csv_path = csv_;
  p.csv_status = csv_status_;
}

void StimulusLibrary::save_csv() {
  csv_ok_ = false;
  std::string path = csv_;
  const size_t b = path.find_first_not_of(" \t"), e = path.find_last_not_of(" \t");
  path = b == std::string::npos ? "" : path.substr(b, e - b + 1);
  std::error_code ec;
  if (chosen_.empty()) {
    csv_status_ = "nothing selected: tick cells (or Select all shown) first";
    return;
  }
  if (path.empty()) {
    csv_status_ = "not saved: give the CSV file's path";
    return;
  }
  path = fs::absolute(path, ec).lexically_normal().string();
  if (fs::is_directory(path, ec)) {
    csv_status_ = "not saved: " + path + " is a folder; give a file name, e.g. " + (fs::path(path) / "selection.csv").string();
    return;
  }
  if (!db_.empty() && fs::exists(path, ec) && fs::equivalent(path, db_, ec)) {
    csv_status_ = "not saved: " + path + " is the database, which the window never writes; choose another file";
    return;
  }
  std::vector<experiments::SetTableRow> rows;
  for (const auto& [category, file] : chosen_) rows.push_back({file, category});
  const bool existed = fs::exists(path, ec);
  try {
    experiments::write_set_table(path, rows);
    csv_status_ = "wrote " + std::to_string(rows.size()) + " stimuli to " + path + (existed ? " (replacing the file there)" : "") +
                  "; use it as [sets.NAME] table = \"...\"";
    csv_ok_ = true;
  } catch (const std::exception& x) {
    csv_status_ = "not saved: " + first_line(x.what());
  }
}

// [SECTION] Grid --------------------------------------------------------------------------
void StimulusLibrary::draw(float scale, StudioProbe& p) {
  thumbs_.begin_frame();
  drawn_.clear();
  drawn_chosen_ = 0;
  const float px = d_.pixel_scale();
  p.selected = selected_;
  p.thumbnails = thumbs_.size();
  p.thumbnail_bytes = thumbs_.bytes();

  // Plain folders: the field, "Show folder", and the way back to the database.
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("Folder");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(360 * scale);
  const bool enter = ImGui::InputText("##folder", folder_field_, sizeof folder_field_,
                                      ImGuiInputTextFlags_AutoSelectAll | ImGuiInputTextFlags_EnterReturnsTrue);
  p.folder_field = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px);
  ImGui::SameLine();
  if (ImGui::Button("Show folder") || enter) show_folder(folder_field_);
  p.folder_show = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px);
  if (!folder_.empty()) {
    ImGui::SameLine();
    if (ImGui::Button("Back to the database")) show_folder("");
  }
  ImGui::SameLine();
  if (folder_.empty()) {
    size_t passed = 0;
    for (const auto& m : lib_) passed += m.metamer.passed;
    ImGui::TextColored(kDim, "database: %zu metamers, %zu passed", lib_.size(), passed);
  } else {
    ImGui::TextColored(kDim, "folder: %zu images, no database", folder_items_.size());
  }
  p.folder = folder_;

  draw_filters(scale, p);
  draw_selection_bar(scale, p);
  if (!folder_.empty()) {
    draw_folder(scale, p);
  } else {
    if (!status_.empty()) ImGui::TextColored(kFail, "%s", status_.c_str());
    if (!select_status_.empty()) ImGui::TextColored(kFail, "%s", select_status_.c_str());
    if (lib_.empty()) {
      if (status_.empty()) ImGui::TextColored(kDim, "No metamers in this database (metamerlab synth records them).");
    } else {
      draw_grid(shown(), scale, p);
    }
  }
  order_ = drawn_;
  chosen_shown_ = drawn_chosen_;
  thumbs_.end_frame();
}

void StimulusLibrary::draw_grid(const Shown& s, float scale, StudioProbe& p) {
  const float px_per_point = d_.pixel_scale();
  const float t = 72 * scale;  // cell image size (points)
  const float detail_w = std::max(280.0f * scale, ImGui::GetContentRegionAvail().x * 0.38f);
  ImGui::BeginChild("##grid", ImVec2(ImGui::GetContentRegionAvail().x - detail_w, 0));
  if (s.rows.empty()) ImGui::TextColored(kDim, "No cell is left by the filters.");
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollX |
                                ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit;
  if (!s.rows.empty() && ImGui::BeginTable("##cells", static_cast<int>(s.cols.size()) + 1, flags)) {
    ImGui::TableSetupScrollFreeze(1, 1);
    ImGui::TableSetupColumn("reference");
    for (const auto& [model, layer] : s.cols) ImGui::TableSetupColumn((model + "\n" + layer).c_str());
    ImGui::TableHeadersRow();
    for (const auto& [category, ref] : s.rows) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      bool pending = false;
      const ImVec2 at = ImGui::GetCursorScreenPos();
      const bool shown = ImGui::IsRectVisible(ImVec2(t, t));  // rows scrolled out of view load nothing
      const bool sound = stimuli::is_stimulus_file(ref, stimuli::Modality::audio);
      if (const Texture* th = shown && !sound ? thumbs_.get(ref, kThumbPx, pending) : nullptr) ImGui::Image(tex_id(*th), ImVec2(t, t));
      else ImGui::Dummy(ImVec2(t, t)), ImGui::GetWindowDrawList()->AddText(at, ImGui::GetColorU32(kDim), sound ? "sound" : !shown || pending ? "..." : "no file");
      p.pending_thumbnails += pending;
      ImGui::TextUnformatted(fs::path(ref).filename().string().c_str());
      ImGui::TextColored(kDim, "%s", category.c_str());
      for (const auto& [model, layer] : s.cols) {
        ImGui::TableNextColumn();
        const auto it = s.cell.find({ref, model, layer});
        if (it == s.cell.end()) {
          ImGui::TextColored(kDim, "-");
          continue;
        }
        const data::LibraryMetamer& m = lib_[it->second];
        const std::string& file = cell_file(m);
        const bool in = chosen_.count({m.metamer.category, file}) > 0;
        ImGui::PushID(static_cast<int>(m.id));
        const ImVec2 pos = ImGui::GetCursorScreenPos();
        if (ImGui::Selectable("##cell", selected_ == m.id, 0, ImVec2(t, t))) selected_ = m.id, click(file, m.metamer.category);
        StudioProbe::Cell c{m.id, ref, m.metamer.category, model, layer, m.metamer.passed, false,
                            to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point), false, Rect{}};
        ImDrawList* dl = ImGui::GetWindowDrawList();
        bool wait = false;
        if (!ImGui::IsItemVisible()) {
          // scrolled out of view: its image is loaded when it is seen
        } else if (m.metamer.png_path.empty()) {
          dl->AddText(pos, ImGui::GetColorU32(kDim), "audio");
        } else if (const Texture* th = thumbs_.get(m.metamer.png_path, kThumbPx, wait, m.metamer.png_sha256)) {
          dl->AddImage(tex_id(*th), pos, ImVec2(pos.x + t, pos.y + t));
          c.thumbnail = true;
        } else {
          dl->AddText(pos, ImGui::GetColorU32(kDim), wait ? "..." : "no file");
        }
        p.pending_thumbnails += wait;
        const ImU32 mark = ImGui::GetColorU32(m.metamer.passed ? kPass : kFail);
        dl->AddRect(pos, ImVec2(pos.x + t, pos.y + t), mark, 0, 0, 3 * scale);
        if (in) dl->AddRect(ImVec2(pos.x + 3 * scale, pos.y + 3 * scale), ImVec2(pos.x + t - 3 * scale, pos.y + t - 3 * scale),
                            ImGui::GetColorU32(kChosen), 0, 0, 3 * scale);
        checkbox(file, m.metamer.category, px_per_point, c);
        ImGui::SameLine();
        ImGui::TextColored(m.metamer.passed ? kPass : kFail, m.metamer.passed ? "pass" : "FAIL");
        p.cells.push_back(std::move(c));
        ImGui::PopID();
      }
    }
    ImGui::EndTable();
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##detail", ImVec2(0, 0), true);
  const auto sel = std::find_if(lib_.begin(), lib_.end(), [&](const data::LibraryMetamer& m) { return m.id == selected_; });
  if (sel == lib_.end()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(kDim, "Click a cell to see its reference, its metamer and its measures. "
                             "Tick cells (or Ctrl-click, Shift-click) to select them for a CSV table.");
    ImGui::PopTextWrapPos();
  } else {
    draw_detail(*sel, scale, p);
  }
  ImGui::EndChild();
}

void StimulusLibrary::draw_folder(float scale, StudioProbe& p) {
  const float px_per_point = d_.pixel_scale();
  if (!folder_status_.empty()) {
    ImGui::TextColored(kFail, "%s", folder_status_.c_str());
    return;
  }
  const float t = 72 * scale;
  const float detail_w = std::max(280.0f * scale, ImGui::GetContentRegionAvail().x * 0.38f);
  ImGui::BeginChild("##folder", ImVec2(ImGui::GetContentRegionAvail().x - detail_w, 0));
  const float cell_w = std::max(t, 110 * scale), gap = ImGui::GetStyle().ItemSpacing.x;
  const int per_row = std::max(1, static_cast<int>((ImGui::GetContentRegionAvail().x + gap) / (cell_w + gap)));
  std::string last;
  int k = 0;
  for (size_t i = 0; i < folder_items_.size(); ++i) {
    const stimuli::Item& it = folder_items_[i];
    if (category_ > 0 && it.category != categories_[category_]) continue;
    if (it.category != last) {  // a heading per category, its images in rows below
      last = it.category;
      k = 0;
      size_t n = 0;
      for (const auto& o : folder_items_) n += o.category == it.category;
      ImGui::Separator();
      ImGui::Text("%s  (%zu)", it.category.c_str(), n);
    }
    if (k++ % per_row) ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::PushID(static_cast<int>(i));
    const ImVec2 pos = ImGui::GetCursorScreenPos();
    if (ImGui::Selectable("##img", anchor_ == it.path, 0, ImVec2(t, t))) click(it.path, it.category);
    StudioProbe::Cell c{0, it.path, it.category, "", "", true, false,
                        to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point), false, Rect{}};
    bool wait = false;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    if (!ImGui::IsItemVisible()) {
    } else if (const Texture* th = thumbs_.get(it.path, kThumbPx, wait)) {
      dl->AddImage(tex_id(*th), pos, ImVec2(pos.x + t, pos.y + t));
      c.thumbnail = true;
    } else {
      dl->AddText(pos, ImGui::GetColorU32(kDim), wait ? "..." : "not an image");
    }
    p.pending_thumbnails += wait;
    if (chosen_.count({it.category, it.path}))
      dl->AddRect(pos, ImVec2(pos.x + t, pos.y + t), ImGui::GetColorU32(kChosen), 0, 0, 3 * scale);
    checkbox(it.path, it.category, px_per_point, c);
    ImGui::SameLine();
    std::string name = fs::path(it.path).filename().string();
    if (name.size() > 12) name = name.substr(0, 11) + "~";
    ImGui::TextColored(kDim, "%s", name.c_str());
    ImGui::PopID();
    ImGui::EndGroup();
    p.cells.push_back(std::move(c));
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##detail", ImVec2(0, 0), true);
  const auto sel = std::find_if(folder_items_.begin(), folder_items_.end(), [&](const stimuli::Item& it) { return it.path == anchor_; });
  if (sel == folder_items_.end()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(kDim, "Click an image to see it large. Tick images (or Ctrl-click, Shift-click) to select them "
                             "for a CSV table.");
    ImGui::PopTextWrapPos();
  } else {
    const float w = std::min(256 * scale, ImGui::GetContentRegionAvail().x);
    bool pending = false;
    if (const Texture* th = thumbs_.get(sel->path, 256, pending)) ImGui::Image(tex_id(*th), ImVec2(w, w));
    else ImGui::Dummy(ImVec2(w, w)), ImGui::TextColored(kDim, pending ? "loading" : "not an image");
    p.pending_thumbnails += pending;
    ImGui::PushTextWrapPos(0);
    ImGui::Text("category %s", sel->category.c_str());
    ImGui::TextColored(kDim, "%s", sel->path.c_str());
    ImGui::PopTextWrapPos();
    p.detail = "category " + sel->category + "\n" + sel->path + "\n";
  }
  ImGui::EndChild();
}

// [SECTION] Detail ------------------------------------------------------------------------
void StimulusLibrary::draw_detail(const data::LibraryMetamer& lm, float scale, StudioProbe& p) {
  const data::MetamerRecord& m = lm.metamer;
  const float w = std::min(256 * scale, (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2);
  const auto image = [&](const std::string& path, const std::string& sha256, const char* label) {
    ImGui::BeginGroup();
    ImGui::TextUnformatted(label);
    bool pending = false;
    const Texture* th = path.empty() ? nullptr : thumbs_.get(path, 256, pending, sha256);
    if (th) ImGui::Image(tex_id(*th), ImVec2(w, w));
    else ImGui::Dummy(ImVec2(w, w));
    if (!th) ImGui::TextColored(kDim, pending ? "loading" : "no image");
    p.pending_thumbnails += pending;
    ImGui::EndGroup();
  };
  if (m.png_path.empty() && !m.wav_path.empty()) {  // a sound: play it, see its cochleagram
    detail_.draw_audio(lm, scale, p);
  } else {
    image(m.reference_path, m.reference_sha256, "reference");
    ImGui::SameLine();
    image(m.png_path, m.png_sha256, "metamer");
  }
  detail_.draw_loss_curve(lm.id, scale, p);
  ImGui::Separator();

  std::vector<std::pair<std::string, ImVec4>> lines;
  const ImVec4 white(1, 1, 1, 1);
  lines.push_back({lm.model_spec + ", layer " + m.layer, white});
  lines.push_back({std::string(m.passed ? "PASSED" : "FAILED") + " (status " + m.status + ")", m.passed ? kPass : kFail});
  const auto measure = [&](const std::string& name, double v, double null_max, const char* f) {
    lines.push_back({name + " " + fmt(f, v) + " vs null max " + fmt(f, null_max), v > null_max ? kPass : kFail});
  };
  measure("Spearman rho", m.spearman, m.null_spearman_max, "%.3f");
  measure("Pearson r", m.pearson, m.null_pearson_max, "%.3f");
  measure("SNR dB", m.snr_db, m.null_snr_max, "%.2f");
  lines.push_back({"predicted: metamer \"" + m.pred_metamer + "\", reference \"" + m.pred_reference + "\"", white});
  lines.push_back({"final loss " + fmt("%.4g", m.final_loss) + " after " + std::to_string(m.iterations) +
                       " steps; converged: " + (m.converged == 1 ? "yes" : m.converged == 0 ? "no" : "unknown"),
                   white});
  lines.push_back({"category " + m.category + ", seed " + std::to_string(m.seed) + ", " + fmt("%.1f", m.wall_s) + " s",
                   kDim});
  lines.push_back({"reference " + m.reference_path, kDim});
  lines.push_back({"metamer " + (m.png_path.empty() ? m.wav_path : m.png_path), kDim});
  if (!m.message.empty()) lines.push_back({"message: " + m.message, kDim});
  ImGui::PushTextWrapPos(0);
  for (const auto& [text, colour] : lines) {
    ImGui::TextColored(colour, "%s", text.c_str());
    p.detail += text + "\n";
  }
  ImGui::PopTextWrapPos();
}

}  // namespace mm::app::studio
