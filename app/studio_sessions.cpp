// app/studio_sessions.cpp: the workbench's Sessions panel (app/studio_sessions.h): the
// sessions table with its selection, and the selected session's details.
//
// Sections
//   [SECTION] Data        refresh, selection
//   [SECTION] Table       the sessions
//   [SECTION] Detail      the summary lines and the trials table
#include "app/studio_sessions.h"
#include "app/studio_widgets.h"

#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace {
}  // namespace

// [SECTION] Data --------------------------------------------------------------------------
void SessionsPanel::refresh(data::Store* store, const std::string& why) {
  rows_ = store ? store->list_sessions() : std::vector<data::SessionSummary>{};
  status_ = why;
  char b[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(b, sizeof b, "%H:%M:%S", std::localtime(&now));
  read_at_ = b;
  if (std::none_of(rows_.begin(), rows_.end(), [&](const data::SessionSummary& r) { return r.id == selected_; }))
    selected_ = 0;
  trials_ = store && selected_ ? store->trials_of_session(selected_) : std::vector<data::TrialRecord>{};
  timing_ = session_timing(trials_);
  loaded_ = selected_;
  want_read_ = false;
}

void SessionsPanel::select(int64_t id) {
  if (id == selected_) return;
  selected_ = id;
  want_read_ = true;  // its trials are read at the next frame
}

void SessionsPanel::step(int step) {
  if (rows_.empty()) return;
  const auto it = std::find_if(rows_.begin(), rows_.end(), [&](const data::SessionSummary& r) { return r.id == selected_; });
  int i = it == rows_.end() ? (step > 0 ? 0 : static_cast<int>(rows_.size()) - 1)
                            : std::clamp(static_cast<int>(it - rows_.begin()) + step, 0, static_cast<int>(rows_.size()) - 1);
  select(rows_[static_cast<size_t>(i)].id);
  scroll_ = true;
}

// [SECTION] Table -------------------------------------------------------------------------
void SessionsPanel::draw(double refresh_s, float px_per_point, StudioProbe& p) {
  p.sessions = rows_;
  p.status = status_;
  p.session = selected_;
  ImGui::TextColored(kDim, "%zu session(s); read at %s, again every %.0f s; click a row (or Up/Down) for its trials",
                     rows_.size(), read_at_.c_str(), refresh_s);
  if (!status_.empty()) ImGui::TextColored(kRed, "%s", status_.c_str());
  if (rows_.empty()) {
    if (status_.empty()) ImGui::TextColored(kDim, "No sessions yet (Start runs one).");
    return;
  }
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingStretchProp;
  const float row_h = ImGui::GetFrameHeightWithSpacing();
  const float table_h = std::min(row_h * (static_cast<float>(rows_.size()) + 1.5f), ImGui::GetContentRegionAvail().y * 0.35f);
  if (ImGui::BeginTable("##sessions", 8, flags, ImVec2(0, table_h))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    for (const char* h : {"id", "participant", "experiment", "status", "answered / planned", "resumed", "started", "observer"})
      ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (const auto& r : rows_) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::PushID(static_cast<int>(r.id));
      char id[32];
      std::snprintf(id, sizeof id, "%lld", static_cast<long long>(r.id));
      if (ImGui::Selectable(id, r.id == selected_, ImGuiSelectableFlags_SpanAllColumns)) select(r.id);
      p.session_rows.push_back(to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point));
      if (scroll_ && r.id == selected_) ImGui::SetScrollHereY(), scroll_ = false;
      ImGui::PopID();
      ImGui::TableNextColumn();
      ImGui::Text("%s (#%lld)", r.participant_code.c_str(), static_cast<long long>(r.participant_number));
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.experiment_name.c_str());
      ImGui::TableNextColumn();
      const ImVec4 c = r.status == data::SessionStatus::completed ? kGreen
                       : r.status == data::SessionStatus::running ? kYellow
                                                                  : kRed;
      ImGui::TextColored(c, "%s", data::session_status_name(r.status));
      ImGui::TableNextColumn();
      ImGui::Text("%lld / %lld", static_cast<long long>(r.answered), static_cast<long long>(r.planned));
      ImGui::TableNextColumn();
      ImGui::Text("%lld", static_cast<long long>(r.resumed));
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.started_at.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.observer.empty() ? "person" : r.observer.c_str());
    }
    ImGui::EndTable();
  }
  scroll_ = false;
  ImGui::Separator();
  if (selected_ == 0) ImGui::TextColored(kDim, "Select a session to see its trials and timing.");
  else if (loaded_ != selected_) ImGui::TextColored(kDim, "reading session %lld ...", static_cast<long long>(selected_));
  else draw_detail(p);
}

// [SECTION] Detail ------------------------------------------------------------------------
void SessionsPanel::draw_detail(StudioProbe& p) {
  const auto row = std::find_if(rows_.begin(), rows_.end(), [&](const data::SessionSummary& r) { return r.id == selected_; });
  std::vector<std::pair<std::string, ImVec4>> lines;
  const SessionTiming& t = timing_;
  std::string head = "Session " + std::to_string(selected_);
  if (row != rows_.end()) head += ": " + row->participant_code + ", " + row->experiment_name + ", " + data::session_status_name(row->status);
  lines.push_back({head + "; " + std::to_string(t.trials) + " trial(s) recorded", kWhite});
  lines.push_back({"dropped frames: " + std::to_string(t.dropped_frames) + " in " + std::to_string(t.trials_with_drops) +
                       " of " + std::to_string(t.trials) + " trial(s)",
                   t.dropped_frames > 0 ? kYellow : kGreen});
  if (t.intervals.n > 0) {
    lines.push_back({"frame intervals (per phase): median " + fmt("%.2f", t.intervals.p50_ms) + " ms, p99 " +
                         fmt("%.2f", t.intervals.p99_ms) + " ms, max " + fmt("%.2f", t.intervals.max_ms) + " ms over " +
                         std::to_string(t.intervals.n) + " phase(s)" +
                         (t.frame_hz > 0 ? "; refresh " + fmt("%.2f", t.frame_hz) + " Hz (" + fmt("%.2f", 1000 / t.frame_hz) + " ms)" : ""),
                     kWhite});
  } else {
    lines.push_back({"frame intervals: none recorded", kDim});
  }
  if (t.audio_onsets.n > 0)
    lines.push_back({"audio onsets (after the scheduled start): median " + fmt("%.2f", t.audio_onsets.p50_ms) + " ms, p99 " +
                         fmt("%.2f", t.audio_onsets.p99_ms) + " ms, max " + fmt("%.2f", t.audio_onsets.max_ms) + " ms over " +
                         std::to_string(t.audio_onsets.n) + " trial(s)",
                     kWhite});
  for (const auto& [text, colour] : lines) {
    ImGui::TextColored(colour, "%s", text.c_str());
    p.session_detail += text + "\n";
  }
  ImGui::PushStyleColor(ImGuiCol_Text, kDim);
  ImGui::TextWrapped("A phase's frame interval is its measured duration (the next phase's onset flip minus its own) "
                     "over its frames shown; the store keeps each phase's onset, not every flip.");
  ImGui::PopStyleColor();
  p.session_trials = trials_.size();
  if (trials_.empty()) return;

  const bool audio = t.audio_onsets.n > 0;
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("##trials", audio ? 9 : 8, flags)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  for (const char* h : {"trial", "block", "condition", "stimulus", "response", "correct", "RT ms", "dropped"})
    ImGui::TableSetupColumn(h);
  if (audio) ImGui::TableSetupColumn("audio onset ms");
  ImGui::TableHeadersRow();
  ImGuiListClipper clip;  // thousands of trials: only the rows in view are drawn
  clip.Begin(static_cast<int>(trials_.size()));
  while (clip.Step()) {
    for (int i = clip.DisplayStart; i < clip.DisplayEnd; ++i) {
      const data::TrialRecord& r = trials_[static_cast<size_t>(i)];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%lld", static_cast<long long>(r.trial_index));
      ImGui::TableNextColumn();
      ImGui::Text("%lld %s", static_cast<long long>(r.block), r.block_kind.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%s%s", r.condition.c_str(), r.fell_back ? " (fell back)" : "");
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.stimulus_path.empty() ? "-" : fs::path(r.stimulus_path).filename().string().c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r.response.empty() ? "(none)" : r.response.c_str());
      ImGui::TableNextColumn();
      ImGui::TextColored(r.correct ? kGreen : kRed, "%s", r.correct ? "yes" : "no");
      ImGui::TableNextColumn();
      if (r.rt_response_ms >= 0) ImGui::Text("%.0f", r.rt_response_ms);
      else ImGui::TextColored(kDim, "-");
      ImGui::TableNextColumn();
      ImGui::TextColored(r.dropped_frames > 0 ? kYellow : kDim, "%lld", static_cast<long long>(r.dropped_frames));
      if (audio) {
        ImGui::TableNextColumn();
        if (r.audio_onset_ms != -1) ImGui::Text("%.2f", r.audio_onset_ms);
        else ImGui::TextColored(kDim, "-");
      }
    }
  }
  ImGui::EndTable();
}

}  // namespace mm::app::studio
