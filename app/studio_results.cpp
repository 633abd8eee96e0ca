// app/studio_results.cpp: the workbench's Results panel (app/studio_results.h).
//
// Sections
//   [SECTION] Workers     the analysis and the exports, off the drawing thread
//   [SECTION] Panel       refresh, polling, the header and the experiment choice
//   [SECTION] Table       proportion correct per condition
//   [SECTION] Plot        the same as a plot on ImGui's draw lists
//   [SECTION] Exports     the folder and the buttons
#include "app/studio_results.h"

#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "analysis/export.h"
#include "app/results_input.h"
#include "app/studio_widgets.h"
#include "data/store.h"

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace {
// The plot's series: humans, then the judging models in order.
const ImU32 kSeries[] = {IM_COL32(240, 150, 40, 255), IM_COL32(90, 160, 255, 255), IM_COL32(200, 120, 255, 255),
                         IM_COL32(80, 210, 190, 255), IM_COL32(255, 110, 170, 255)};


// [SECTION] Workers -----------------------------------------------------------------------
// The database file's size and modification time, and its WAL's (an empty WAL, as every
// open connection makes, counts as none): another program's write changes it.
std::string file_signature(const std::string& db) {
  std::error_code ec;
  std::string s;
  for (const std::string& f : {db, db + "-wal"}) {
    const auto size = fs::file_size(f, ec);
    if (ec || size == 0) {
      s += "-|";
      continue;
    }
    const auto t = fs::last_write_time(f, ec);
    s += std::to_string(size) + ":" + std::to_string(ec ? 0 : t.time_since_epoch().count()) + "|";
  }
  return s;
}

ResultsPanel::Computed compute(const std::string& db, const std::string& signature, int permutations, int bootstrap) {
  ResultsPanel::Computed c;
  c.signature = signature;
  try {
    std::error_code ec;
    if (!fs::is_regular_file(db, ec)) throw std::runtime_error("no database at " + db + " (synth, run and launch make one)");
    data::Store store(db);
    std::map<std::string, std::string> names;  // experiment SHA-256 -> its name in the sessions
    for (const auto& s : store.list_sessions()) names.emplace(s.experiment_sha256, s.experiment_name);
    for (const auto& in : read_results(store, "")) {
      analysis::AnalysisOptions o;  // as analyze: seed 0, the file's catch-trial exclusion
      o.permutations = permutations;
      o.bootstrap = bootstrap;
      o.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);  // a core left to drawing
      o.exclude_catch_below = file_catch_threshold(store, in);
      ResultsPanel::Experiment e;
      e.name = in.experiment;
      e.export_name = names.count(in.experiment_sha256) ? names[in.experiment_sha256] : in.experiment;
      e.report = analysis::analyze(in, o);
      e.text = analysis::report_text(e.report);
      c.experiments.push_back(std::move(e));
    }
  } catch (const std::exception& e) {
    c.error = first_line(e.what());
    c.experiments.clear();
  }
  return c;
}

const char* format_name(analysis::ExportFormat f) {
  return f == analysis::ExportFormat::bids ? "bids" : f == analysis::ExportFormat::jsonl ? "jsonl" : "csv";
}

// What `metamerlab export --format F --out DIR [--force] --experiment NAME` does.
std::pair<bool, std::string> run_export(const std::string& db, const std::string& experiment, analysis::ExportFormat f,
                                        const std::string& dir, bool force) {
  try {
    std::error_code ec;
    if (!fs::is_regular_file(db, ec)) throw std::runtime_error("no database at " + db);
    if (dir.empty()) throw std::runtime_error("type a folder for the export");
    data::Store store(db);
    analysis::ExportOptions o;
    o.format = f;
    o.out_dir = dir;
    o.force = force;
    const analysis::ExportSummary s = analysis::write_export(read_export(store, experiment), o);
    return {true, std::string(format_name(f)) + ": wrote " + std::to_string(s.files.size()) + " files (" +
                      std::to_string(s.trials) + " trials of " + std::to_string(s.sessions) + " session(s)) in " + dir};
  } catch (const std::exception& e) {
    return {false, std::string(format_name(f)) + ": " + first_line(e.what())};
  }
}

template <class T>
bool ready(std::future<T>& f) {
  return f.valid() && f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}
}  // namespace

// [SECTION] Panel -------------------------------------------------------------------------
ResultsPanel::ResultsPanel(std::string db, int permutations, int bootstrap)
    : db_(std::move(db)), permutations_(permutations), bootstrap_(bootstrap) {
  const fs::path p(db_);
  const std::string folder = (p.parent_path() / (p.stem().string() + "-export")).string();
  std::snprintf(folder_.data(), folder_.size(), "%s", folder.c_str());
  signature_ = "file " + file_signature(db_);
}

ResultsPanel::~ResultsPanel() {
  if (job_.valid()) job_.wait();
  if (export_job_.valid()) export_job_.wait();
}

void ResultsPanel::refresh(data::Store* store) {
  signature_ = store ? "responses " + store->responses_version() : "file " + file_signature(db_);
}

void ResultsPanel::poll() {
  if (ready(job_)) {
    shown_ = job_.get();
    have_ = true;
    fresh_ = 0;
    if (chosen_ >= static_cast<int>(shown_.experiments.size())) chosen_ = 0;
  }
  if (ready(export_job_)) export_result_ = export_job_.get();
}

void ResultsPanel::draw(float scale, float px_per_point, StudioProbe& p) {
  poll();
  if (!job_.valid() && (requested_ || !have_ || shown_.signature != signature_)) {
    requested_ = false;
    job_ = std::async(std::launch::async, compute, db_, signature_, permutations_, bootstrap_);
  }
  p.computing = busy() || (have_ && fresh_++ < 3);  // a scripted screenshot waits for the columns too
  ImGui::BeginDisabled(job_.valid());
  if (ImGui::Button("Refresh")) requested_ = true;
  ImGui::EndDisabled();
  p.refresh = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  ImGui::SameLine();
  if (job_.valid()) ImGui::TextColored(kYellow, "computing...");
  else ImGui::TextColored(kDim, "the analysis of metamerlab analyze (seed 0, %d permutations); again when the database changes",
                          permutations_);
  if (!have_) return;
  p.results_status = shown_.error;
  if (!shown_.error.empty()) {
    ImGui::TextColored(kRed, "%s", shown_.error.c_str());
    return;
  }
  if (shown_.experiments.empty()) return;
  for (const auto& e : shown_.experiments) p.experiments.push_back(e.name);
  if (shown_.experiments.size() > 1) {
    ImGui::SetNextItemWidth(360 * scale);
    if (ImGui::BeginCombo("experiment", shown_.experiments[chosen_].name.c_str())) {
      for (size_t i = 0; i < shown_.experiments.size(); ++i)
        if (ImGui::Selectable(shown_.experiments[i].name.c_str(), static_cast<int>(i) == chosen_)) chosen_ = static_cast<int>(i);
      ImGui::EndCombo();
    }
  }
  const Experiment& e = shown_.experiments[chosen_];
  const analysis::AnalysisReport& r = e.report;
  ImGui::Text("%s: %d session(s), %d people (%d included, %d excluded), %d model observer(s); chance %.3f", e.name.c_str(),
              r.sessions, r.people, r.included, r.excluded, r.observers, r.chance);
  for (const auto& n : r.notes) ImGui::TextColored(kDim, "%s", n.c_str());

  ImGui::BeginChild("##results", ImVec2(0, 0));
  const float h = std::max(220 * scale, ImGui::GetContentRegionAvail().y * 0.55f);
  const float w = ImGui::GetContentRegionAvail().x;
  ImGui::BeginChild("##table", ImVec2(w * 0.5f, h));
  draw_table(r, p);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##plot", ImVec2(0, h));
  draw_plot(r, scale, px_per_point, p);
  ImGui::EndChild();
  draw_exports(e, scale, px_per_point, p);
  if (ImGui::CollapsingHeader("Report (as metamerlab analyze prints it)")) ImGui::TextUnformatted(e.text.c_str());
  ImGui::EndChild();
}

// [SECTION] Table -------------------------------------------------------------------------
void ResultsPanel::draw_table(const analysis::AnalysisReport& r, StudioProbe& p) {
  const int cols = 5 + static_cast<int>(r.judging_models.size());
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollX |
                                ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("##conditions", cols, flags)) return;
  ImGui::TableSetupScrollFreeze(1, 1);
  for (const char* h : {"condition", "trials", "humans", "SEM", "95% CI"}) ImGui::TableSetupColumn(h);
  for (const auto& m : r.judging_models) ImGui::TableSetupColumn(m.c_str());
  ImGui::TableHeadersRow();
  for (const auto& c : r.conditions) {
    StudioProbe::ResultRow row;
    row.condition = c.condition.name;
    row.trials = c.trials;
    row.human = c.human.mean;
    row.sem = c.human.sem;
    row.ci_low = c.human.ci_low;
    row.ci_high = c.human.ci_high;
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(c.condition.name.c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%d", c.trials);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(fmt("%.3f", c.human.mean).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(fmt("%.3f", c.human.sem).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(std::isfinite(c.human.ci_low) ? (fmt("%.3f", c.human.ci_low) + " - " + fmt("%.3f", c.human.ci_high)).c_str() : "-");
    for (const auto& m : r.judging_models) {
      ImGui::TableNextColumn();
      const auto it = c.models.find(m);
      const double v = it == c.models.end() ? analysis::kNaN : it->second.mean;
      ImGui::TextUnformatted(fmt("%.3f", v).c_str());
      row.models[m] = v;
    }
    p.results.push_back(row);
  }
  ImGui::EndTable();
}

// [SECTION] Plot --------------------------------------------------------------------------
void ResultsPanel::draw_plot(const analysis::AnalysisReport& r, float scale, float px_per_point, StudioProbe& p) {
  const ImVec2 a = ImGui::GetCursorScreenPos();
  const ImVec2 size = ImGui::GetContentRegionAvail();
  ImGui::Dummy(size);
  if (r.conditions.empty() || size.x < 50 || size.y < 50) return;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeight();
  const float x0 = a.x + 44 * scale, x1 = a.x + size.x - 8 * scale;
  const float y0 = a.y + line * 1.6f, y1 = a.y + size.y - line * 2.6f;
  if (x1 - x0 < 20 || y1 - y0 < 20) return;
  p.plot = to_rect(ImVec2(x0, y0), ImVec2(x1, y1), px_per_point);
  const auto y_of = [&](double v) { return y1 - static_cast<float>(std::clamp(v, 0.0, 1.0)) * (y1 - y0); };
  const ImU32 grid = IM_COL32(90, 90, 90, 255), axis = IM_COL32(200, 200, 200, 255), text = IM_COL32(210, 210, 210, 255);
  dl->AddRectFilled(ImVec2(x0, y0), ImVec2(x1, y1), IM_COL32(28, 28, 28, 255));
  for (int k = 0; k <= 4; ++k) {
    const float y = y_of(k / 4.0);
    dl->AddLine(ImVec2(x0, y), ImVec2(x1, y), grid);
    char b[16];
    std::snprintf(b, sizeof b, "%.2f", k / 4.0);
    dl->AddText(ImVec2(a.x, y - line / 2), text, b);
  }
  dl->AddRect(ImVec2(x0, y0), ImVec2(x1, y1), axis);
  if (std::isfinite(r.chance)) {  // chance, dashed
    const float y = y_of(r.chance);
    for (float x = x0; x < x1; x += 12 * scale) dl->AddLine(ImVec2(x, y), ImVec2(std::min(x + 6 * scale, x1), y), axis, scale);
  }

  // Series: humans, then each judging model; each condition a slot, the series side by side.
  std::vector<std::string> series{"humans"};
  series.insert(series.end(), r.judging_models.begin(), r.judging_models.end());
  p.series = series;
  const size_t n = r.conditions.size(), s = series.size();
  const float slot = (x1 - x0) / static_cast<float>(n);
  const float step = std::min(slot * 0.7f / static_cast<float>(s), 18 * scale);
  const float radius = std::max(3.0f, 4.5f * scale), cap = 4 * scale;
  for (size_t i = 0; i < n; ++i) {
    const auto& c = r.conditions[i];
    const float cx = x0 + slot * (static_cast<float>(i) + 0.5f);
    for (size_t k = 0; k < s; ++k) {
      const analysis::CellStat* st = nullptr;
      if (k == 0) st = &c.human;
      else if (auto it = c.models.find(series[k]); it != c.models.end()) st = &it->second;
      if (!st || !std::isfinite(st->mean)) continue;
      const ImU32 col = kSeries[k % (sizeof kSeries / sizeof kSeries[0])];
      const float x = cx + (static_cast<float>(k) - (static_cast<float>(s) - 1) / 2) * step;
      if (std::isfinite(st->sem) && st->sem > 0) {  // the SEM bar with its caps
        const float lo = y_of(st->mean - st->sem), hi = y_of(st->mean + st->sem);
        dl->AddLine(ImVec2(x, lo), ImVec2(x, hi), col, 2 * scale);
        dl->AddLine(ImVec2(x - cap, lo), ImVec2(x + cap, lo), col, 2 * scale);
        dl->AddLine(ImVec2(x - cap, hi), ImVec2(x + cap, hi), col, 2 * scale);
      }
      dl->AddCircleFilled(ImVec2(x, y_of(st->mean)), radius, col);
    }
    // The condition's name under its slot (alternating rows when they are wide), clipped to two slots.
    const ImVec2 ts = ImGui::CalcTextSize(c.condition.name.c_str());
    const float ty = y1 + 4 * scale + (ts.x > slot && i % 2 ? line : 0);
    dl->PushClipRect(ImVec2(cx - slot, y1), ImVec2(cx + slot, a.y + size.y), true);
    dl->AddText(ImVec2(cx - std::min(ts.x, 2 * slot) / 2, ty), text, c.condition.name.c_str());
    dl->PopClipRect();
  }
  // The legend, above the plot.
  float lx = x0;
  for (size_t k = 0; k < s; ++k) {
    const ImU32 col = kSeries[k % (sizeof kSeries / sizeof kSeries[0])];
    dl->AddCircleFilled(ImVec2(lx + radius, a.y + line * 0.6f), radius, col);
    dl->AddText(ImVec2(lx + 2 * radius + 4 * scale, a.y), text, series[k].c_str());
    lx += 2 * radius + 16 * scale + ImGui::CalcTextSize(series[k].c_str()).x;
  }
  dl->AddText(ImVec2(lx + 8 * scale, a.y), IM_COL32(150, 150, 150, 255), "(mean +/- SEM; dashed: chance)");
}

// [SECTION] Exports -----------------------------------------------------------------------
void ResultsPanel::draw_exports(const Experiment& e, float scale, float px_per_point, StudioProbe& p) {
  ImGui::Separator();
  ImGui::TextUnformatted("Export the trials of this experiment as metamerlab export does, into FOLDER/csv, FOLDER/bids or FOLDER/jsonl:");
  ImGui::SetNextItemWidth(std::max(200 * scale, ImGui::GetContentRegionAvail().x * 0.6f));
  ImGui::InputText("folder", folder_.data(), folder_.size());
  p.export_folder = folder_.data();
  ImGui::SameLine();
  ImGui::Checkbox("replace (--force)", &force_);
  ImGui::BeginDisabled(export_job_.valid());
  const std::pair<const char*, analysis::ExportFormat> buttons[] = {
      {"CSV", analysis::ExportFormat::csv}, {"BIDS", analysis::ExportFormat::bids}, {"JSON lines", analysis::ExportFormat::jsonl}};
  for (size_t i = 0; i < 3; ++i) {
    const auto& [label, f] = buttons[i];
    if (i > 0) ImGui::SameLine();
    if (ImGui::Button(label)) {
      const std::string dir = (fs::path(folder_.data()) / format_name(f)).string();
      const bool typed = folder_[0] != '\0';
      export_job_ = std::async(std::launch::async, run_export, db_, e.export_name, f, typed ? dir : std::string(), force_);
      export_result_ = {true, ""};
    }
    p.export_buttons.push_back(to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point));
  }
  ImGui::EndDisabled();
  if (export_job_.valid()) ImGui::SameLine(), ImGui::TextColored(kYellow, "exporting...");
  else if (!export_result_.second.empty())
    ImGui::SameLine(), ImGui::TextColored(export_result_.first ? kGreen : kRed, "%s", export_result_.second.c_str());
  p.export_message = export_result_.second;
}

}  // namespace mm::app::studio
