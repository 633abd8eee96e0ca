// app/studio_library.cpp: the workbench's Stimuli panel (app/studio_library.h): the grid of
// references x model x layer, the category filter, lazily loaded thumbnails in a bounded
// cache, and the selected metamer's detail view.
//
// Sections
//   [SECTION] Data        refresh: the library read through data/library.h
//   [SECTION] Thumbnails  loading, caching, eviction
//   [SECTION] Grid        the filter and the table of cells
//   [SECTION] Detail      reference and metamer side by side, the measures
#include "app/studio_library.h"

#include <imgui.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>
#include <tuple>

#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace {
const ImVec4 kPass(0.45f, 0.88f, 0.45f, 1.0f);
const ImVec4 kFail(1.0f, 0.36f, 0.36f, 1.0f);
const ImVec4 kDim(0.7f, 0.7f, 0.7f, 1.0f);

ImTextureID tex_id(const Texture& t) { return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(t.id)); }

Rect to_rect(ImVec2 a, ImVec2 b, float px_per_point) {
  return {a.x * px_per_point, a.y * px_per_point, (b.x - a.x) * px_per_point, (b.y - a.y) * px_per_point};
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
}  // namespace

StimulusLibrary::~StimulusLibrary() {
  for (auto& [k, t] : thumbs_) d_.release(t.tex);
}

// [SECTION] Data --------------------------------------------------------------------------
void StimulusLibrary::refresh(data::Store* store, const std::string& why) {
  lib_ = store ? data::library_metamers(*store) : std::vector<data::LibraryMetamer>{};
  status_ = why;
  const std::string keep = categories_.empty() ? "All" : categories_[category_];
  std::set<std::string> cats;
  for (const auto& m : lib_) cats.insert(m.metamer.category);
  categories_ = {"All"};
  categories_.insert(categories_.end(), cats.begin(), cats.end());
  const auto it = std::find(categories_.begin(), categories_.end(), keep);
  category_ = it == categories_.end() ? 0 : static_cast<int>(it - categories_.begin());
  if (std::none_of(lib_.begin(), lib_.end(), [&](const data::LibraryMetamer& m) { return m.id == selected_; }))
    selected_ = 0;
}

// [SECTION] Thumbnails --------------------------------------------------------------------
const StimulusLibrary::Thumb* StimulusLibrary::thumb(const std::string& path, int px, bool& pending,
                                                     const std::string& sha256) {
  const std::string key = std::to_string(px) + "|" + sha256 + "|" + path;
  auto it = thumbs_.find(key);
  if (it == thumbs_.end()) {
    if (loads_ >= kLoadsPerFrame) {
      pending = true;
      return nullptr;
    }
    ++loads_;
    Thumb t;
    try {
      stimuli::ImageSpec spec;
      spec.channels = 3;
      spec.width = spec.height = px;
      t.tex = d_.upload(stimuli::load_image(path, spec), 0, 1);
    } catch (const std::exception&) {
      t.failed = true;  // missing, or not an image: the cell says so
    }
    it = thumbs_.emplace(key, t).first;
  }
  it->second.used = frame_;
  return it->second.failed ? nullptr : &it->second;
}

void StimulusLibrary::evict() {
  if (thumbs_.size() <= kMaxThumbs) return;
  std::vector<std::pair<int64_t, std::string>> old;
  for (const auto& [k, t] : thumbs_)
    if (t.used < frame_) old.emplace_back(t.used, k);
  std::sort(old.begin(), old.end());
  for (const auto& [used, k] : old) {
    if (thumbs_.size() <= kMaxThumbs * 3 / 4) break;
    d_.release(thumbs_[k].tex);
    thumbs_.erase(k);
  }
}

// [SECTION] Grid --------------------------------------------------------------------------
void StimulusLibrary::draw(float scale, StudioProbe& p) {
  ++frame_;
  loads_ = 0;
  const float px_per_point = d_.pixel_scale();
  p.categories = categories_;
  p.category = categories_.empty() ? "All" : categories_[category_];
  p.selected = selected_;

  ImGui::SetNextItemWidth(260 * scale);
  if (ImGui::BeginCombo("Category", p.category.c_str())) {
    for (size_t i = 0; i < categories_.size(); ++i)
    {
      if (ImGui::Selectable(categories_[i].c_str(), static_cast<int>(i) == category_)) category_ = static_cast<int>(i);
      p.category_items.push_back(to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point));
    }
    ImGui::EndCombo();
  }
  p.category_combo = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  size_t passed = 0;
  for (const auto& m : lib_) passed += m.metamer.passed;
  ImGui::SameLine();
  ImGui::TextColored(kDim, "%zu metamers, %zu passed; click a cell for its measures", lib_.size(), passed);
  if (!status_.empty()) ImGui::TextColored(kFail, "%s", status_.c_str());
  if (lib_.empty()) {
    if (status_.empty()) ImGui::TextColored(kDim, "No metamers in this database (metamerlab synth records them).");
    return;
  }

  // Columns: model x layer; rows: the references of the chosen category.
  std::vector<std::pair<std::string, std::string>> cols;
  std::vector<std::pair<std::string, std::string>> rows;  // (category, reference path)
  std::map<std::tuple<std::string, std::string, std::string>, size_t> cell;  // (reference, model, layer) -> lib_
  for (size_t i = 0; i < lib_.size(); ++i) {
    const auto& m = lib_[i];
    const std::pair<std::string, std::string> col{m.model_spec, m.metamer.layer};
    if (std::find(cols.begin(), cols.end(), col) == cols.end()) cols.push_back(col);
    if (category_ > 0 && m.metamer.category != categories_[category_]) continue;
    const std::pair<std::string, std::string> row{m.metamer.category, m.metamer.reference_path};
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    cell[{m.metamer.reference_path, m.model_spec, m.metamer.layer}] = i;  // the newest wins
  }
  std::sort(rows.begin(), rows.end());

  const float t = 72 * scale;  // cell image size (points)
  const float detail_w = std::max(280.0f * scale, ImGui::GetContentRegionAvail().x * 0.38f);
  ImGui::BeginChild("##grid", ImVec2(ImGui::GetContentRegionAvail().x - detail_w, 0));
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollX |
                                ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit;
  if (ImGui::BeginTable("##cells", static_cast<int>(cols.size()) + 1, flags)) {
    ImGui::TableSetupScrollFreeze(1, 1);
    ImGui::TableSetupColumn("reference");
    for (const auto& [model, layer] : cols) ImGui::TableSetupColumn((model + "\n" + layer).c_str());
    ImGui::TableHeadersRow();
    for (const auto& [category, ref] : rows) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      bool pending = false;
      const ImVec2 at = ImGui::GetCursorScreenPos();
      const bool shown = ImGui::IsRectVisible(ImVec2(t, t));  // rows scrolled out of view load nothing
      if (const Thumb* th = shown ? thumb(ref, kThumbPx, pending) : nullptr) ImGui::Image(tex_id(th->tex), ImVec2(t, t));
      else ImGui::Dummy(ImVec2(t, t)), ImGui::GetWindowDrawList()->AddText(at, ImGui::GetColorU32(kDim), !shown || pending ? "..." : "no file");
      p.pending_thumbnails += pending;
      ImGui::TextUnformatted(fs::path(ref).filename().string().c_str());
      ImGui::TextColored(kDim, "%s", category.c_str());
      for (const auto& [model, layer] : cols) {
        ImGui::TableNextColumn();
        const auto it = cell.find({ref, model, layer});
        if (it == cell.end()) {
          ImGui::TextColored(kDim, "-");
          continue;
        }
        const data::LibraryMetamer& m = lib_[it->second];
        ImGui::PushID(static_cast<int>(m.id));
        const ImVec2 pos = ImGui::GetCursorScreenPos();
        const float line = ImGui::GetTextLineHeight();
        if (ImGui::Selectable("##cell", selected_ == m.id, 0, ImVec2(t, t + line))) selected_ = m.id;
        StudioProbe::Cell c{m.id, ref, m.metamer.category, model, layer, m.metamer.passed, false,
                            to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point)};
        ImDrawList* dl = ImGui::GetWindowDrawList();
        bool wait = false;
        if (!ImGui::IsItemVisible()) {
          // scrolled out of view: its image is loaded when it is seen
        } else if (m.metamer.png_path.empty()) {
          dl->AddText(pos, ImGui::GetColorU32(kDim), "audio");
        } else if (const Thumb* th = thumb(m.metamer.png_path, kThumbPx, wait, m.metamer.png_sha256)) {
          dl->AddImage(tex_id(th->tex), pos, ImVec2(pos.x + t, pos.y + t));
          c.thumbnail = true;
        } else {
          dl->AddText(pos, ImGui::GetColorU32(kDim), wait ? "..." : "no file");
        }
        p.pending_thumbnails += wait;
        const ImU32 mark = ImGui::GetColorU32(m.metamer.passed ? kPass : kFail);
        dl->AddRect(pos, ImVec2(pos.x + t, pos.y + t), mark, 0, 0, 3 * scale);
        dl->AddText(ImVec2(pos.x, pos.y + t), mark, m.metamer.passed ? "pass" : "FAIL");
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
  if (sel == lib_.end()) ImGui::TextColored(kDim, "Select a cell to see its reference, its metamer and its measures.");
  else draw_detail(*sel, scale, p);
  ImGui::EndChild();
  evict();
}

// [SECTION] Detail ------------------------------------------------------------------------
void StimulusLibrary::draw_detail(const data::LibraryMetamer& lm, float scale, StudioProbe& p) {
  const data::MetamerRecord& m = lm.metamer;
  const float w = std::min(256 * scale, (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2);
  const auto image = [&](const std::string& path, const std::string& sha256, const char* label) {
    ImGui::BeginGroup();
    ImGui::TextUnformatted(label);
    bool pending = false;
    const Thumb* th = path.empty() ? nullptr : thumb(path, 256, pending, sha256);
    if (th) ImGui::Image(tex_id(th->tex), ImVec2(w, w));
    else ImGui::Dummy(ImVec2(w, w));
    if (!th) ImGui::TextColored(kDim, pending ? "loading" : "no image");
    p.pending_thumbnails += pending;
    ImGui::EndGroup();
  };
  image(m.reference_path, m.reference_sha256, "reference");
  ImGui::SameLine();
  image(m.png_path, m.png_sha256, "metamer");

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
