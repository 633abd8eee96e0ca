// app/studio_files.cpp: the workbench's file picker (app/studio_files.h).
#include "app/studio_files.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "app/studio_widgets.h"

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace {

// "812 B", "4.1 kB", "3.2 MB", "1.5 GB".
std::string bytes_text(uintmax_t b) {
  if (b < 1000) return std::to_string(b) + " B";
  if (b < 1000 * 1000) return fmt("%.1f kB", static_cast<double>(b) / 1e3);
  if (b < 1000ull * 1000 * 1000) return fmt("%.1f MB", static_cast<double>(b) / 1e6);
  return fmt("%.1f GB", static_cast<double>(b) / 1e9);
}

bool has_extension(const std::string& name, const std::vector<std::string>& ext) {
  if (ext.empty()) return true;
  std::string e = fs::path(name).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(ext.begin(), ext.end(), e) != ext.end();
}

}  // namespace

bool input_string(const char* id, std::string& s, int flags, bool multiline, float width, float height) {
  if (multiline) return ImGui::InputTextMultiline(id, &s, ImVec2(width, height), flags);
  return ImGui::InputText(id, &s, flags);
}

void FilePicker::open(const std::string& id, const std::string& start, Kind kind, std::vector<std::string> extensions,
                      const std::string& title) {
  id_ = id, kind_ = kind, ext_ = std::move(extensions), title_ = title;
  open_ = popup_ = true;
  entered_at_ = -1e9;
  name_.clear(), error_.clear(), folder_.clear(), entries_.clear();
  std::error_code ec;
  fs::path p = start.empty() ? fs::current_path(ec) : fs::absolute(start, ec).lexically_normal();
  if (!start.empty() && !fs::is_directory(p, ec)) {
    if (kind != Kind::folder) name_ = p.filename().string();
    p = p.parent_path();
  }
  while (!p.empty() && !fs::is_directory(p, ec) && p != p.root_path()) p = p.parent_path();  // the nearest that exists
  enter(p.empty() ? fs::current_path(ec).string() : p.string());
}

void FilePicker::enter(const std::string& folder) {
  std::error_code ec;
  std::vector<Entry> found;
  fs::directory_iterator it(folder, ec);  // (skip_permission_denied would list an unreadable folder as empty)
  if (ec) {
    error_ = "cannot list " + folder + " (" + ec.message() + ")";
    if (folder_.empty()) folder_ = folder;
    return;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!hidden_ && !name.empty() && name[0] == '.') continue;
    std::error_code e2;
    Entry en{name, it->is_directory(e2), "", ""};
    if (!en.folder) {
      if (kind_ == Kind::folder || !has_extension(name, ext_)) continue;
      const uintmax_t bytes = it->file_size(e2);
      en.size = e2 ? "?" : bytes_text(bytes);
    }
    en.label = (en.folder ? "[" + name + "]" : name) + "##" + name;
    found.push_back(en);
  }
  std::sort(found.begin(), found.end(), [](const Entry& a, const Entry& b) {
    return a.folder != b.folder ? a.folder : a.name < b.name;
  });
  entries_ = std::move(found);
  folder_ = fs::path(folder).lexically_normal().string();
  if (folder_.size() > 1 && folder_.back() == '/') folder_.pop_back();
  error_.clear();
}

std::optional<std::string> FilePicker::choose() {
  std::error_code ec;
  const fs::path p = name_.empty() ? fs::path(folder_) : (fs::path(folder_) / name_).lexically_normal();
  if (kind_ == Kind::folder) {
    if (fs::is_directory(p, ec)) return p.string();
    error_ = p.string() + " is not a folder; pick one from the list";
    return std::nullopt;
  }
  if (fs::is_directory(p, ec)) {  // a typed folder: go into it
    name_.clear();
    enter(p.string());
    return std::nullopt;
  }
  if (kind_ == Kind::open_file && !fs::is_regular_file(p, ec)) {
    error_ = name_.empty() ? "pick a file from the list, or type its name" : p.string() + " does not exist; pick a file from the list";
    return std::nullopt;
  }
  if (kind_ == Kind::save_file && !fs::is_directory(p.parent_path(), ec)) {
    error_ = "the folder " + p.parent_path().string() + " does not exist; pick a folder from the list";
    return std::nullopt;
  }
  return p.string();
}

std::optional<std::string> FilePicker::draw(float scale, float k, std::map<std::string, Rect>& widgets) {
  if (!open_) return std::nullopt;
  const char* window = "Choose##file_picker";
  if (popup_) ImGui::OpenPopup(window), popup_ = false;
  const ImVec2 vp = ImGui::GetMainViewport()->Size;
  ImGui::SetNextWindowSize(ImVec2(std::min(vp.x * 0.9f, 760 * scale), std::min(vp.y * 0.85f, 560 * scale)), ImGuiCond_Appearing);
  ImGui::SetNextWindowPos(ImVec2(vp.x * 0.5f, vp.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (!ImGui::BeginPopupModal(window, nullptr, ImGuiWindowFlags_NoSavedSettings)) {
    open_ = false;
    return std::nullopt;
  }
  std::optional<std::string> chosen;
  ImGui::TextUnformatted(title_.c_str());
  if (ImGui::Button("..##up")) enter(fs::path(folder_).parent_path().string()), name_.clear();
  widgets["picker.up"] = item_rect(k);
  ImGui::SameLine();
  ImGui::TextColored(kDim, "%s", folder_.c_str());
  ImGui::SameLine();
  if (ImGui::Checkbox("hidden", &hidden_)) enter(folder_);
  widgets["picker.hidden"] = item_rect(k);
  if (!ext_.empty() && kind_ != Kind::folder) {
    std::string e;
    for (const auto& x : ext_) e += (e.empty() ? "" : " ") + x;
    ImGui::SameLine();
    ImGui::TextColored(kDim, "(%s)", e.c_str());
  }

  const float list_h = ImGui::GetContentRegionAvail().y - ImGui::GetFrameHeightWithSpacing() * 2.5f;
  ImGui::BeginChild("##entries", ImVec2(0, std::max(list_h, 60 * scale)), true);
  std::string go;  // a folder clicked: entered after the loop (entering replaces entries_)
  // The second click of a double-click that entered a folder lands on the new listing: it
  // neither enters nor chooses what happens to be under the pointer there.
  const bool settled = ImGui::GetTime() - entered_at_ > ImGui::GetIO().MouseDoubleClickTime;
  ImGuiListClipper clip;
  clip.Begin(static_cast<int>(entries_.size()));
  while (clip.Step())
    for (int i = clip.DisplayStart; i < clip.DisplayEnd; ++i) {
      const Entry& en = entries_[static_cast<size_t>(i)];
      if (ImGui::Selectable(en.label.c_str(), !en.folder && en.name == name_, ImGuiSelectableFlags_AllowDoubleClick) &&
          settled) {
        if (en.folder) {
          go = en.name;
        } else {
          name_ = en.name;
          error_.clear();
          if (ImGui::IsMouseDoubleClicked(0)) chosen = choose();
        }
      }
      widgets["picker.entry=" + en.name] = item_rect(k);
      if (!en.folder) {
        ImGui::SameLine(ImGui::GetContentRegionAvail().x - 80 * scale);
        ImGui::TextColored(kDim, "%s", en.size.c_str());
      }
    }
  if (entries_.empty()) ImGui::TextColored(kDim, kind_ == Kind::folder ? "(no subfolders)" : "(nothing to pick here)");
  ImGui::EndChild();
  if (!go.empty()) enter((fs::path(folder_) / go).string()), name_.clear(), entered_at_ = ImGui::GetTime();

  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted(kind_ == Kind::folder ? "subfolder" : "name");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(std::max(100.0f, ImGui::GetContentRegionAvail().x - 190 * scale));
  const bool typed_enter = input_string("##picker_name", name_, ImGuiInputTextFlags_EnterReturnsTrue);
  widgets["picker.path"] = item_rect(k);
  ImGui::SameLine();
  if (ImGui::Button(kind_ == Kind::save_file ? "Save here##choose" : "Choose##choose") || typed_enter) chosen = choose();
  widgets["picker.choose"] = item_rect(k);
  ImGui::SameLine();
  bool cancel = ImGui::Button("Cancel##cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape));
  widgets["picker.cancel"] = item_rect(k);
  if (!error_.empty()) ImGui::TextColored(kRed, "%s", error_.c_str());
  if (chosen || cancel) {
    open_ = false;
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
  return chosen;
}

}  // namespace mm::app::studio
