// app/studio_results.cpp: the workbench's Results panel (app/studio_results.h).
//
// Sections
//   [SECTION] Workers     the analysis and the exports, off the drawing thread
//   [SECTION] Panel       refresh, polling, the header and the experiment choice
//   [SECTION] Table       proportion correct per condition
//   [SECTION] Plots       points with SEM bars per slot and series (the conditions, the
//                         network-to-network cells), and a scatter, on ImGui's draw lists
//   [SECTION] Statistics  the paper's ANOVAs as tables
//   [SECTION] Network     network-to-network recognition: the plot, the scatter with rho
//   [SECTION] Exports     the folder and the buttons; the report folder
#include "app/studio_results.h"

#include <imgui.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "analysis/export.h"
#include "analysis/stats.h"
#include "app/results_input.h"
#include "app/studio_files.h"
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

ResultsPanel::Computed compute(const std::string& db, const std::string& signature, int permutations, int bootstrap,
                               std::shared_ptr<const std::atomic<bool>> cancel) {
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
      o.cancel = cancel.get();
      ResultsPanel::Experiment e;
      e.name = in.experiment;
      e.export_name = names.count(in.experiment_sha256) ? names[in.experiment_sha256] : in.experiment;
      e.report = analysis::analyze(in, o);
      e.text = analysis::report_text(e.report);
      c.experiments.push_back(std::move(e));
    }
  } catch (const analysis::Cancelled&) {
    c.cancelled = true;
    c.experiments.clear();
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
                                        const std::string& dir, bool force, bool with_codes, bool with_stimuli) {
  try {
    std::error_code ec;
    if (!fs::is_regular_file(db, ec)) throw std::runtime_error("no database at " + db);
    if (dir.empty()) throw std::runtime_error("type a folder for the export");
    data::Store store(db);
    analysis::ExportOptions o;
    o.format = f;
    o.out_dir = dir;
    o.force = force;
    o.with_codes = with_codes;
    o.with_stimuli = with_stimuli;
    const analysis::ExportSummary s = analysis::write_export(read_export(store, experiment), o);
    return {true, std::string(format_name(f)) + ": wrote " + std::to_string(s.files.size()) + " files (" +
                      std::to_string(s.trials) + " trials of " + std::to_string(s.sessions) + " session(s)) in " + dir};
  } catch (const std::exception& e) {
    return {false, std::string(format_name(f)) + ": " + first_line(e.what())};
  }
}

// What `metamerlab analyze --out DIR` writes for one experiment.
std::pair<bool, std::string> run_report(const analysis::AnalysisReport& r, const std::string& text, const std::string& dir) {
  try {
    if (dir.empty()) throw std::runtime_error("type a folder for the report");
    const auto files = write_report_folder(r, dir, text, analysis::report_json(r));
    return {true, "report: wrote report.md, report.json and " + std::to_string(files.size() - 2) + " figure files in " + dir};
  } catch (const std::exception& e) {
    return {false, "report: " + first_line(e.what())};
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
  report_folder_ = (p.parent_path() / (p.stem().string() + "-report")).string();
  signature_ = "file " + file_signature(db_);
}

ResultsPanel::~ResultsPanel() {
  if (cancel_) *cancel_ = true;  // closing the window stops the permutations, not waits for them
  if (job_.valid()) job_.wait();
  if (export_job_.valid()) export_job_.wait();
  if (report_job_.valid()) report_job_.wait();
}

void ResultsPanel::refresh(data::Store* store) {
  signature_ = store ? "responses " + store->responses_version() : "file " + file_signature(db_);
}

void ResultsPanel::poll() {
  if (ready(job_)) {
    Computed c = job_.get();
    if (c.cancelled) {  // the results shown stay; no automatic start again until Refresh
      paused_ = true;
      cancel_note_ = have_ ? "cancelled: the results shown are of the last finished analysis; Refresh computes again"
                           : "cancelled: Refresh computes again";
    } else {
      shown_ = std::move(c);
      have_ = true;
      fresh_ = 0;
      cancel_note_.clear();
      if (chosen_ >= static_cast<int>(shown_.experiments.size())) chosen_ = 0;
    }
  }
  if (ready(export_job_)) export_result_ = export_job_.get();
  if (ready(report_job_)) report_result_ = report_job_.get();
}

void ResultsPanel::draw(float scale, float px_per_point, StudioProbe& p) {
  poll();
  const bool stale = !have_ || shown_.signature != signature_;
  if (!job_.valid() && (requested_ || (stale && !paused_))) {
    requested_ = paused_ = false;
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    job_ = std::async(std::launch::async, compute, db_, signature_, permutations_, bootstrap_, cancel_);
  }
  p.computing = busy() || (have_ && fresh_++ < 3);  // a scripted screenshot waits for the columns too
  ImGui::BeginDisabled(job_.valid());
  if (ImGui::Button("Refresh")) requested_ = true;
  ImGui::EndDisabled();
  p.refresh = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  ImGui::SameLine();
  if (job_.valid()) {
    ImGui::TextColored(kYellow, "computing...");
    ImGui::SameLine();
    if (ImGui::SmallButton("Cancel##analysis")) *cancel_ = true;
    p.cancel_analysis = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  } else ImGui::TextColored(kDim, "the analysis of metamerlab analyze (seed 0, %d permutations); again when the database changes",
                          permutations_);
  if (!cancel_note_.empty() && !job_.valid()) {
    ImGui::TextColored(kYellow, "%s", cancel_note_.c_str());
    p.results_status = cancel_note_;
  }
  if (!have_) return;
  if (!shown_.error.empty()) {
    p.results_status = shown_.error;
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
  if (ImGui::CollapsingHeader("Statistics (the paper's ANOVAs)", ImGuiTreeNodeFlags_DefaultOpen)) draw_anovas(r, p);
  if (ImGui::CollapsingHeader("Network-to-network recognition", ImGuiTreeNodeFlags_DefaultOpen))
    draw_network(r, scale, px_per_point, p);
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

// [SECTION] Plots -------------------------------------------------------------------------
namespace {
ImU32 series_colour(size_t k) { return kSeries[k % (sizeof kSeries / sizeof kSeries[0])]; }

// Horizontal grid lines at 0, 0.25 ... 1 with their labels left of x0; the frame.
void draw_axes(ImDrawList* dl, float left, float x0, float x1, float y0, float y1, float line) {
  const ImU32 grid = IM_COL32(90, 90, 90, 255), axis = IM_COL32(200, 200, 200, 255), text = IM_COL32(210, 210, 210, 255);
  dl->AddRectFilled(ImVec2(x0, y0), ImVec2(x1, y1), IM_COL32(28, 28, 28, 255));
  for (int k = 0; k <= 4; ++k) {
    const float y = y1 - static_cast<float>(k) / 4 * (y1 - y0);
    dl->AddLine(ImVec2(x0, y), ImVec2(x1, y), grid);
    char b[16];
    std::snprintf(b, sizeof b, "%.2f", k / 4.0);
    dl->AddText(ImVec2(left, y - line / 2), text, b);
  }
  dl->AddRect(ImVec2(x0, y0), ImVec2(x1, y1), axis);
}

void dashed(ImDrawList* dl, ImVec2 a, ImVec2 b, float scale) {
  const float len = std::hypot(b.x - a.x, b.y - a.y);
  if (len <= 0) return;
  const ImVec2 u((b.x - a.x) / len, (b.y - a.y) / len);
  for (float t = 0; t < len; t += 12 * scale) {
    const float e = std::min(t + 6 * scale, len);
    dl->AddLine(ImVec2(a.x + u.x * t, a.y + u.y * t), ImVec2(a.x + u.x * e, a.y + u.y * e), IM_COL32(200, 200, 200, 255), scale);
  }
}
}  // namespace

Rect ResultsPanel::draw_points(const PointsPlot& pl, float scale, float px_per_point) {
  const ImVec2 a = ImGui::GetCursorScreenPos();
  const ImVec2 size = ImGui::GetContentRegionAvail();
  ImGui::Dummy(size);
  if (pl.slots.empty() || size.x < 50 || size.y < 50) return {};
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeight();
  const float x0 = a.x + 44 * scale, x1 = a.x + size.x - 8 * scale;
  const float y0 = a.y + line * 1.6f, y1 = a.y + size.y - line * 2.6f;
  if (x1 - x0 < 20 || y1 - y0 < 20) return {};
  const auto y_of = [&](double v) { return y1 - static_cast<float>(std::clamp(v, 0.0, 1.0)) * (y1 - y0); };
  const ImU32 text = IM_COL32(210, 210, 210, 255);
  draw_axes(dl, a.x, x0, x1, y0, y1, line);
  if (std::isfinite(pl.chance)) dashed(dl, ImVec2(x0, y_of(pl.chance)), ImVec2(x1, y_of(pl.chance)), scale);
  // Each slot holds the series side by side.
  const size_t n = pl.slots.size(), s = pl.series.size();
  const float slot = (x1 - x0) / static_cast<float>(n);
  const float step = std::min(slot * 0.7f / static_cast<float>(s), 18 * scale);
  const float radius = std::max(3.0f, 4.5f * scale), cap = 4 * scale;
  for (size_t i = 0; i < n; ++i) {
    const float cx = x0 + slot * (static_cast<float>(i) + 0.5f);
    for (size_t k = 0; k < s; ++k) {
      const auto [mean, sem] = pl.values[k][i];
      if (!std::isfinite(mean)) continue;
      const ImU32 col = series_colour(k);
      const float x = cx + (static_cast<float>(k) - (static_cast<float>(s) - 1) / 2) * step;
      if (std::isfinite(sem) && sem > 0) {  // the SEM bar with its caps
        const float lo = y_of(mean - sem), hi = y_of(mean + sem);
        dl->AddLine(ImVec2(x, lo), ImVec2(x, hi), col, 2 * scale);
        dl->AddLine(ImVec2(x - cap, lo), ImVec2(x + cap, lo), col, 2 * scale);
        dl->AddLine(ImVec2(x - cap, hi), ImVec2(x + cap, hi), col, 2 * scale);
      }
      dl->AddCircleFilled(ImVec2(x, y_of(mean)), radius, col);
    }
    // The slot's name under it (alternating rows when they are wide), clipped to two slots.
    const char* name = pl.slots[i].c_str();
    const ImVec2 ts = ImGui::CalcTextSize(name);
    const float ty = y1 + 4 * scale + (ts.x > slot && i % 2 ? line : 0);
    dl->PushClipRect(ImVec2(cx - slot, y1), ImVec2(cx + slot, a.y + size.y), true);
    dl->AddText(ImVec2(cx - std::min(ts.x, 2 * slot) / 2, ty), text, name);
    dl->PopClipRect();
  }
  // The legend, above the plot.
  float lx = x0;
  for (size_t k = 0; k < s; ++k) {
    dl->AddCircleFilled(ImVec2(lx + radius, a.y + line * 0.6f), radius, series_colour(k));
    dl->AddText(ImVec2(lx + 2 * radius + 4 * scale, a.y), text, pl.series[k].c_str());
    lx += 2 * radius + 16 * scale + ImGui::CalcTextSize(pl.series[k].c_str()).x;
  }
  dl->AddText(ImVec2(lx + 8 * scale, a.y), IM_COL32(150, 150, 150, 255), pl.caption.c_str());
  return to_rect(ImVec2(x0, y0), ImVec2(x1, y1), px_per_point);
}

void ResultsPanel::draw_plot(const analysis::AnalysisReport& r, float scale, float px_per_point, StudioProbe& p) {
  // Humans, then each judging model, per condition.
  PointsPlot pl;
  pl.series = {"humans"};
  pl.series.insert(pl.series.end(), r.judging_models.begin(), r.judging_models.end());
  pl.chance = r.chance;
  pl.caption = "(mean +/- SEM; dashed: chance)";
  pl.values.assign(pl.series.size(), {});
  for (const auto& c : r.conditions) {
    pl.slots.push_back(c.condition.name);
    pl.values[0].push_back({c.human.mean, c.human.sem});
    for (size_t k = 1; k < pl.series.size(); ++k) {
      const auto it = c.models.find(pl.series[k]);
      pl.values[k].push_back(it == c.models.end() ? std::make_pair(analysis::kNaN, analysis::kNaN)
                                                  : std::make_pair(it->second.mean, it->second.sem));
    }
  }
  p.series = pl.series;
  p.plot = draw_points(pl, scale, px_per_point);
}

// [SECTION] Statistics --------------------------------------------------------------------
void ResultsPanel::draw_anovas(const analysis::AnalysisReport& r, StudioProbe& p) {
  if (r.anovas.empty()) {
    ImGui::TextColored(kDim, "no ANOVA: the experiment shows no model's metamers at two or more layers");
    return;
  }
  for (size_t i = 0; i < r.anovas.size(); ++i) {
    const auto& a = r.anovas[i];
    ImGui::Text("%s", a.title.c_str());
    ImGui::SameLine();
    ImGui::TextColored(kDim, "(%s; %d participant(s); layers %zu)", a.kind.c_str(), a.participants, a.layers.size());
    if (!a.note.empty() || a.effects.empty()) {
      ImGui::TextColored(kDim, "  not computed: %s", a.note.empty() ? "no effects" : a.note.c_str());
      p.anovas.push_back({a.title, "", 0, 0, 0, 0, 0, a.note});
      continue;
    }
    const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit;
    if (!ImGui::BeginTable(("##anova" + std::to_string(i)).c_str(), 5, flags)) continue;
    for (const char* h : {"effect", "F (df)", "partial eta^2", "p (permutation)", "draws"}) ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (const auto& e : a.effects) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(e.effect.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%s (%d, %d)", fmt("%.3f", e.f).c_str(), e.df, e.df_error);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(fmt("%.3f", e.partial_eta2).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(fmt("%.4f", e.p).c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%d", e.draws);
      p.anovas.push_back({a.title, e.effect, e.f, e.partial_eta2, e.p, e.df, e.df_error, ""});
    }
    ImGui::EndTable();
  }
}

// [SECTION] Network -----------------------------------------------------------------------
void ResultsPanel::draw_network(const analysis::AnalysisReport& r, float scale, float px_per_point, StudioProbe& p) {
  if (r.network.empty()) {
    ImGui::TextColored(kDim, "no network-to-network judgments: metamerlab judge has the experiment's models classify "
                             "each other's metamers");
    return;
  }
  // Per model x layer: the humans, the other models' mean, then each judging model.
  PointsPlot pl;
  pl.series = {"humans", "other models"};
  for (const auto& c : r.network)
    for (const auto& [m, st] : c.by_model)
      if (std::find(pl.series.begin(), pl.series.end(), m) == pl.series.end()) pl.series.push_back(m);
  pl.chance = r.chance;
  pl.caption = "(+/- SEM over the metamers)";
  pl.values.assign(pl.series.size(), {});
  for (const auto& c : r.network) {
    pl.slots.push_back(c.condition);
    pl.values[0].push_back({c.human, analysis::kNaN});
    pl.values[1].push_back({c.others.mean, c.others.sem});
    for (size_t k = 2; k < pl.series.size(); ++k) {
      const auto it = c.by_model.find(pl.series[k]);
      pl.values[k].push_back(it == c.by_model.end() ? std::make_pair(analysis::kNaN, analysis::kNaN)
                                                    : std::make_pair(it->second.mean, it->second.sem));
    }
  }
  p.network_slots = pl.slots;
  p.network_series = pl.series;
  p.network_values.clear();
  for (const auto& v : pl.values) {
    p.network_values.emplace_back();
    for (const auto& x : v) p.network_values.back().push_back(x.first);
  }
  const float h = 280 * scale;
  const float w = ImGui::GetContentRegionAvail().x;
  ImGui::BeginChild("##network_plot", ImVec2(w * 0.62f, h));
  p.network_plot = draw_points(pl, scale, px_per_point);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##network_scatter", ImVec2(0, h));
  p.network_scatter = draw_scatter(r, scale, px_per_point);
  ImGui::EndChild();
  p.network_rho = r.network_spearman;
}

// Human recognition (y) against the other models' (x), one point per model x layer the
// experiment shows, the diagonal dashed; Spearman's rho above.
Rect ResultsPanel::draw_scatter(const analysis::AnalysisReport& r, float scale, float px_per_point) {
  const ImVec2 a = ImGui::GetCursorScreenPos();
  const ImVec2 size = ImGui::GetContentRegionAvail();
  ImGui::Dummy(size);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeight();
  const float side = std::min(size.x - 52 * scale, size.y - line * 4.2f);
  if (side < 40) return {};
  const float x0 = a.x + 44 * scale, x1 = x0 + side, y0 = a.y + line * 2.6f, y1 = y0 + side;
  const ImU32 text = IM_COL32(210, 210, 210, 255);
  draw_axes(dl, a.x, x0, x1, y0, y1, line);
  dashed(dl, ImVec2(x0, y1), ImVec2(x1, y0), scale);
  const std::string rho = "Spearman rho " +
                          (std::isfinite(r.network_spearman) ? fmt("%.3f", r.network_spearman) : std::string("-")) +
                          " over " + std::to_string(r.network_points) + " model x layer";
  dl->AddText(ImVec2(a.x, a.y), text, "humans (up) vs other models (right)");
  dl->AddText(ImVec2(a.x, a.y + line), text, rho.c_str());
  dl->AddText(ImVec2(x0, y1 + 4 * scale), IM_COL32(150, 150, 150, 255), "other models' recognition ->");
  const float radius = std::max(3.0f, 4.5f * scale);
  for (const auto& c : r.network) {
    if (!std::isfinite(c.human) || !std::isfinite(c.others.mean)) continue;
    const float x = x0 + static_cast<float>(std::clamp(c.others.mean, 0.0, 1.0)) * side;
    const float y = y1 - static_cast<float>(std::clamp(c.human, 0.0, 1.0)) * side;
    dl->AddCircleFilled(ImVec2(x, y), radius, series_colour(0));
  }
  return to_rect(ImVec2(x0, y0), ImVec2(x1, y1), px_per_point);
}

// [SECTION] Exports -----------------------------------------------------------------------
void ResultsPanel::draw_exports(const Experiment& e, float scale, float px_per_point, StudioProbe& p) {
  ImGui::Separator();
  ImGui::TextUnformatted("Export the trials of this experiment as metamerlab export does, into FOLDER/csv, FOLDER/bids or FOLDER/jsonl:");
  ImGui::SetNextItemWidth(std::max(200 * scale, ImGui::GetContentRegionAvail().x * 0.6f));
  ImGui::InputText("folder", folder_.data(), folder_.size());
  p.export_folder = folder_.data();
  ImGui::Checkbox("replace (--force)", &force_);
  ImGui::SameLine();
  ImGui::Checkbox("participant codes (--with-codes)", &with_codes_);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the participants' pseudonymous codes beside their numbers");
  p.export_with_codes = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  ImGui::SameLine();
  ImGui::Checkbox("stimulus files (--with-stimuli)", &with_stimuli_);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("a copy of every stimulus shown, inside the export");
  p.export_with_stimuli = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  ImGui::BeginDisabled(export_job_.valid());
  const std::pair<const char*, analysis::ExportFormat> buttons[] = {
      {"CSV", analysis::ExportFormat::csv}, {"BIDS", analysis::ExportFormat::bids}, {"JSON lines", analysis::ExportFormat::jsonl}};
  for (size_t i = 0; i < 3; ++i) {
    const auto& [label, f] = buttons[i];
    if (i > 0) ImGui::SameLine();
    if (ImGui::Button(label)) {
      const std::string dir = (fs::path(folder_.data()) / format_name(f)).string();
      const bool typed = folder_[0] != '\0';
      export_job_ = std::async(std::launch::async, run_export, db_, e.export_name, f, typed ? dir : std::string(), force_,
                               with_codes_, with_stimuli_);
      export_result_ = {true, ""};
    }
    p.export_buttons.push_back(to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point));
  }
  ImGui::EndDisabled();
  if (export_job_.valid()) ImGui::SameLine(), ImGui::TextColored(kYellow, "exporting...");
  else if (!export_result_.second.empty())
    ImGui::SameLine(), ImGui::TextColored(export_result_.first ? kGreen : kRed, "%s", export_result_.second.c_str());
  p.export_message = export_result_.second;

  // The report of `metamerlab analyze --out`: report.md, report.json and the paper's figures.
  ImGui::TextUnformatted("Write the report (report.md, report.json and the figures as PNG and SVG) into:");
  ImGui::SetNextItemWidth(std::max(200 * scale, ImGui::GetContentRegionAvail().x * 0.6f));
  input_string("report folder", report_folder_, 0);
  p.report_folder = report_folder_;
  ImGui::SameLine();
  ImGui::BeginDisabled(report_job_.valid());
  if (ImGui::Button("Write report")) {
    // One folder per experiment when the database holds several (as analyze --out does).
    const std::string dir = shown_.experiments.size() > 1 && !report_folder_.empty()
                                ? (fs::path(report_folder_) / e.report.experiment).string()
                                : report_folder_;
    report_job_ = std::async(std::launch::async, run_report, e.report, e.text, dir);
    report_result_ = {true, ""};
  }
  ImGui::EndDisabled();
  p.write_report = to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), px_per_point);
  if (report_job_.valid()) ImGui::TextColored(kYellow, "writing...");
  else if (!report_result_.second.empty())
    ImGui::TextColored(report_result_.first ? kGreen : kRed, "%s", report_result_.second.c_str());
  p.report_message = report_result_.second;
}

}  // namespace mm::app::studio
