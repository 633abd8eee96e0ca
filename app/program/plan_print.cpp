// app/program/plan_print.cpp: `metamerlab plan`'s output: a checked experiment and one
// participant's session plan (from the session module) printed as text (header, timing
// in frames, validation findings, blocks with counts and estimated durations, the trial
// list) or as one JSON object {plan, summary, validation, session}.
//
// Sections
//   [SECTION] Formatting    paths, flags
//   [SECTION] JSON          the --json object
//   [SECTION] Text          the printed plan
//   [SECTION] Entry         print_plan
#include "app/program/plan_print.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "experiments/station.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::app {
namespace {

using namespace mm::experiments;

// [SECTION] Formatting --------------------------------------------------------------------
std::string duration(double s) { return format_duration(s); }

std::string ms2(double ms) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << ms;
  return o.str();
}

std::string rel(const std::string& path, const std::string& dir) {
  if (path.empty()) return "-";
  fs::path r = fs::path(path).lexically_relative(dir);
  return r.empty() ? path : r.string();
}

std::string flags(const PlannedTrial& t) {
  std::string f;
  auto add = [&](const char* s) { f += (f.empty() ? "" : ",") + std::string(s); };
  if (t.fell_back) add("fell_back");
  if (t.live) add("live");
  if (t.feedback) add("feedback");
  if (t.break_before) add("break_before");
  return f.empty() ? "-" : f;
}

// [SECTION] JSON --------------------------------------------------------------------------
json summary_json(const PlanSummary& s) {
  json blocks = json::array();
  for (const auto& b : s.blocks)
    blocks.push_back({{"index", b.index}, {"kind", b.kind}, {"name", b.name}, {"trials", b.trials},
                      {"breaks", b.breaks}, {"fell_back", b.fell_back}, {"by_condition", b.by_condition},
                      {"seconds", b.seconds}});
  return {{"blocks", blocks}, {"trials", s.trials}, {"seconds", s.seconds}};
}

json validation_json(const Experiment& e, const Validation& v) {
  json issues = json::array();
  for (const auto& i : v.issues)
    issues.push_back({{"error", i.error}, {"file", i.file}, {"line", i.line}, {"message", i.message}, {"text", i.text()}});
  json timing = json::array();
  for (const auto& t : v.timing)
    timing.push_back({{"block", t.block}, {"block_name", e.blocks[t.block].name}, {"phase", t.phase},
                      {"requested_ms", t.t.requested_ms}, {"frames", t.t.frames}, {"realized_ms", t.t.realized_ms}});
  json j = {{"ok", v.ok()}, {"refresh_hz", v.refresh_hz}, {"issues", issues}, {"timing", timing}};
  if (v.stimulus_width > 0) j["stimulus_size"] = {v.stimulus_width, v.stimulus_height};
  json shown = json::array();
  for (const auto& sz : v.sizes) {
    json x = {{"image_px", {sz.image_w, sz.image_h}}, {"shown_px", {sz.width, sz.height}},
              {"scaling", scaling_name(sz.scaling)}, {"factor", sz.factor}, {"snapped", sz.snapped}};
    if (sz.width_deg > 0) x["deg"] = {sz.width_deg, sz.height_deg};
    shown.push_back(x);
  }
  if (e.modality == Modality::image) j["shown"] = shown;
  if (e.modality == Modality::audio && v.audio_peak > 0)
    j["audio"] = {{"rms_dbfs", e.audio.rms_dbfs}, {"gain_db", v.audio_gain_db},
                  {"peak_dbfs", 20 * std::log10(v.audio_peak) + v.audio_gain_db}, {"loudest", v.audio_peak_file}};
  return j;
}

json session_json(const std::optional<data::SessionInfo>& s) {
  if (!s) return nullptr;
  return {{"id", s->id}, {"status", data::session_status_name(s->status)}, {"participant_code", s->session.participant_code},
          {"planned", s->session.planned_trials}, {"answered", s->answered}, {"resumed", s->resumed},
          {"started_at", s->started_at}, {"ended_at", s->ended_at}};
}

// [SECTION] Text --------------------------------------------------------------------------
void print_text(const Experiment& e, const Plan& p, const PlanSummary& s, const Validation& v,
                const std::optional<data::SessionInfo>& session, const PlanPrintOptions& o, std::ostream& out) {
  out << "experiment   " << e.name << "  (" << o.experiment << ", sha256 " << e.sha256.substr(0, 16) << "...)\n";
  if (!e.description.empty()) out << "             " << e.description << "\n";
  out << "modality     " << modality_name(e.modality) << ", " << e.alternatives.size() << " alternatives\n";
  out << "participant  " << p.participant << ", seed " << p.seed << " (design seed " << p.design_seed << ")\n";
  out << "conditions   ";
  for (size_t i = 0; i < p.conditions.size(); ++i) out << (i ? ", " : "") << p.conditions[i];
  out << "\n";
  if (e.modality == Modality::image && e.images.fit && v.sizes.size() > 1)
    out << "images       mixed sizes, each scaled to fit the box:\n";
  for (const auto& sz : v.sizes) out << (v.sizes.size() > 1 ? "               " : "images       ") << describe(sz) << "\n";
  if (e.modality == Modality::audio && v.audio_peak > 0)
    out << "sound        clips at " << ms2(e.audio.rms_dbfs) << " dBFS RMS, output gain " << ms2(v.audio_gain_db)
        << " dB: loudest peak " << ms2(20 * std::log10(v.audio_peak) + v.audio_gain_db) << " dBFS\n";
  out << "timing at " << ms2(v.refresh_hz) << " Hz (requested ms -> frames = realized ms)\n";
  int last = -1;
  for (const auto& t : v.timing) {
    if (t.block != last) {
      if (last >= 0) out << "\n";
      out << "  block " << t.block + 1 << " " << std::left << std::setw(12) << e.blocks[t.block].name << std::right;
      last = t.block;
    }
    out << " " << t.phase << " " << t.t.requested_ms;
    if (e.modality == Modality::audio && t.phase == "stimulus") out << " (clip)";
    else if (t.t.requested_ms > 0) out << "->" << t.t.frames << "f=" << ms2(t.t.realized_ms);
  }
  if (last >= 0) out << "\n";
  int errors = 0, notes = 0;
  for (const auto& i : v.issues) (i.error ? errors : notes)++;
  out << "validation   " << (v.ok() ? "ok" : std::to_string(errors) + " error(s)") << ", " << notes << " note(s)\n";
  for (const auto& i : v.issues) out << "  " << (i.error ? "error: " : "note: ") << i.text() << "\n";
  out << "blocks\n";
  out << "  #  kind          name              trials  est.          conditions (planned)\n";
  for (const auto& b : s.blocks) {
    out << "  " << std::left << std::setw(3) << b.index + 1 << std::setw(14) << b.kind << std::setw(18) << b.name
        << std::right << std::setw(6) << b.trials << "  " << std::left << std::setw(14) << duration(b.seconds);
    bool first = true;
    for (const auto& [c, n] : b.by_condition) out << (first ? "" : ", ") << c << " " << n, first = false;
    if (b.fell_back) out << "  (" << b.fell_back << " fell back to natural)";
    if (b.breaks) out << "  (" << b.breaks << " breaks)";
    const PlannedBlock& pb = p.blocks[b.index];
    if (pb.kind == BlockKind::demo) out << "  pass: " << pb.pass_min_correct << " correct";
    if (pb.kind == BlockKind::main)
      out << "  rotation offset " << pb.rotation_offset << " of " << pb.conditions.size() << ", group " << pb.rotation_group;
    out << std::right << "\n";
  }
  out << "total        " << s.trials << " trials, about " << duration(s.seconds)
      << " (1.5 s per response, 30 s per text screen or break)\n";
  if (!o.db.empty()) {
    out << "session      ";
    if (!session) out << "none yet for participant " << p.participant << " in " << o.db << "\n";
    else
      out << "#" << session->id << " (" << session->session.participant_code
          << "): " << data::session_status_name(session->status) << ", "
          << session->answered << " of " << session->session.planned_trials << " trials answered, resumed "
          << session->resumed << " time(s)\n";
  }
  if (o.summary_only) return;
  out << "trials\n";
  out << "  index  block  phase     condition             category      stimulus  [flags]\n";
  for (const auto& t : p.trials) {
    out << "  " << std::left << std::setw(7) << t.index << std::setw(7) << t.block + 1 << std::setw(10) << t.phase
        << std::setw(22) << (t.fell_back ? t.planned_condition + "*" : t.condition) << std::setw(14) << t.category
        << (t.live ? "(made live from " + rel(t.reference, p.experiment_dir) + ")" : rel(t.stimulus, p.experiment_dir))
        << "  " << flags(t) << std::right << "\n";
  }
  bool any_fallback = false;
  for (const auto& t : p.trials) any_fallback |= t.fell_back;
  if (any_fallback) out << "  * planned metamer failed or missing: the natural stimulus is shown (fell_back)\n";
}

}  // namespace

// [SECTION] Entry -------------------------------------------------------------------------
void print_plan(const CheckedExperiment& x, const SessionPlan& sp, const PlanPrintOptions& o, std::ostream& out) {
  const Experiment& e = *x.experiment;
  const Plan& p = sp.plan;
  const PlanSummary s = summarize_plan(p);
  if (o.json) {
    json j = {{"plan", json::parse(plan_to_json(p))},
              {"summary", summary_json(s)},
              {"validation", validation_json(e, x.validation)},
              {"session", session_json(sp.existing)},
              {"action", session_action_name(sp.action)}};
    if (o.summary_only) j["plan"].erase("trials");
    out << j.dump() << "\n";
  } else {
    print_text(e, p, s, x.validation, sp.existing, o, out);
  }
}

}  // namespace mm::app
