// app/launch.cpp: the experimenter's launch screen (`metamerlab launch`): the checks behind
// it (experiment files found, load + validate, plan summary, the participant's existing
// session) and the Dear ImGui screen that starts the session runner in the same window.
//
// Sections
//   [SECTION] Checks     find_experiment_files, plan_for_launch
//   [SECTION] State      what the screen edits and shows
//   [SECTION] Widgets    one frame of the screen
//   [SECTION] Screen     the frame loop, the scripted experimenter, starting sessions
#include "app/launch.h"

#include <imgui.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "app/audio.h"
#include "app/display.h"
#include "app/timing.h"
#include "data/store.h"
#include <memory>

namespace fs = std::filesystem;

namespace mm::app {

// [SECTION] Checks ------------------------------------------------------------------------
namespace {
// A station profile (experiments/station.h) beside the experiments: [station] or [screen]
// tables and no [experiment].
bool is_station_profile(const fs::path& p) {
  std::ifstream f(p);
  bool station = false, experiment = false;
  std::string line;
  for (int n = 0; n < 2000 && std::getline(f, line); ++n) {
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] != '[') continue;
    const std::string head = line.substr(b, line.find(']', b) == std::string::npos ? 0 : line.find(']', b) - b + 1);
    station |= head == "[station]" || head == "[screen]";
    experiment |= head == "[experiment]";
  }
  return station && !experiment;
}
}  // namespace

std::vector<std::string> find_experiment_files(const std::vector<std::string>& folders) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& folder : folders) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;
    std::vector<std::string> here;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->path().extension() != ".toml" || is_station_profile(it->path())) continue;
      here.push_back(it->path().filename().string());
    }
    std::sort(here.begin(), here.end());
    for (const auto& name : here) {
      const fs::path p = fs::path(folder) / name;
      const std::string abs = fs::absolute(p, ec).lexically_normal().string();
      if (seen.insert(abs).second) out.push_back(p.lexically_normal().string());
    }
  }
  return out;
}

LaunchPlan plan_for_launch(const experiments::CheckedExperiment& x, int64_t participant, const std::string& db,
                           const data::StoreOptions& store_options, const experiments::SessionRequest& base) {
  LaunchPlan p;
  p.participant = participant;
  if (!x.experiment || participant < 1) return p;
  std::unique_ptr<data::Store> store;
  std::error_code ec;
  if (!db.empty() && fs::is_regular_file(db, ec)) {
    try {
      store = std::make_unique<data::Store>(db, store_options);
    } catch (const std::exception& ex) {
      p.session_note = std::string("cannot read the database: ") + ex.what();
    }
  }
  experiments::SessionRequest r = base;
  r.participant = participant;
  try {
    p.session = experiments::plan_session(*x.experiment, r, store.get());
    p.summary = experiments::summarize_plan(p.session.plan);
    p.ok = true;
  } catch (const std::exception& ex) {
    p.error = ex.what();
    return p;
  }
  if (p.session.action == experiments::SessionAction::resume) p.session_note = p.session.message;
  if (p.session.action == experiments::SessionAction::refuse) {
    p.session_note = p.session.message;
    p.blocked = true;
  }
  return p;
}

namespace {

// The smallest participant number without a session of this experiment in db.
int64_t next_free_participant(const experiments::Experiment& e, const std::string& db) {
  std::error_code ec;
  if (db.empty() || !fs::is_regular_file(db, ec)) return 1;
  try {
    data::Store store(db);
    int64_t n = 1;
    while (store.find_session(e.sha256, n)) ++n;
    return n;
  } catch (const std::exception&) {
    return 1;
  }
}

// [SECTION] State -------------------------------------------------------------------------
struct LaunchState {
  char file[1024] = {0};
  char code[72] = {0};
  char number[24] = {0};
  std::vector<std::string> files;
  experiments::CheckedExperiment x;
  bool loaded = false;
  LaunchPlan plan;
  bool reload = false;             // load `file` at the next frame
  bool start = false;              // Start pressed this frame
  bool quit = false;
  const char* quit_hint = "Escape here quits.";
  bool focus_code = false, focus_number = false;  // scripted: keyboard focus requests
  std::string result;              // what the last session did
  bool result_error = false;

  std::optional<int64_t> participant() const {
    char* end = nullptr;
    const long long v = std::strtoll(number, &end, 10);
    if (end == number || *end != '\0' || v < 1) return std::nullopt;
    return v;
  }
  bool can_start() const {
    const auto n = participant();
    return loaded && x.ok() && n && plan.ok && plan.participant == *n && !plan.blocked &&
           data::valid_participant_code(code);
  }
};

void set_text(char* buf, size_t size, const std::string& s) {
  std::snprintf(buf, size, "%s", s.c_str());
}

const ImVec4 kRed(1.0f, 0.36f, 0.36f, 1.0f);
const ImVec4 kGreen(0.45f, 0.88f, 0.45f, 1.0f);
const ImVec4 kYellow(0.95f, 0.82f, 0.35f, 1.0f);
const ImVec4 kDim(0.7f, 0.7f, 0.7f, 1.0f);

// [SECTION] Widgets -----------------------------------------------------------------------
// The screen's widgets, into the current ImGui window (launch's own, or the workbench's
// Start panel).
void draw_launch_widgets(LaunchState& st, const LaunchOptions& o) {
  ImGui::TextUnformatted("metamerlab: start a session");
  ImGui::Separator();

  // Experiment file: a text field and the files found.
  ImGui::TextUnformatted("Experiment file");
  ImGui::SetNextItemWidth(-120);
  if (ImGui::InputText("##file", st.file, sizeof st.file, ImGuiInputTextFlags_EnterReturnsTrue)) st.reload = true;
  ImGui::SameLine();
  if (ImGui::Button("Load", ImVec2(-1, 0))) st.reload = true;
  ImGui::TextColored(kDim, "Found in %s:", [&] {
    static std::string s;
    s.clear();
    for (size_t i = 0; i < o.folders.size(); ++i) s += (i ? ", " : "") + o.folders[i];
    return s.c_str();
  }());
  const float row = ImGui::GetTextLineHeightWithSpacing();
  if (ImGui::BeginListBox("##files", ImVec2(-1, row * std::clamp<float>(st.files.size(), 1, 5) + row * 0.4f))) {
    if (st.files.empty()) ImGui::TextColored(kDim, "(no .toml files)");
    for (const auto& f : st.files) {
      if (ImGui::Selectable(f.c_str(), f == st.file)) {
        set_text(st.file, sizeof st.file, f);
        st.reload = true;
      }
    }
    ImGui::EndListBox();
  }

  // Participant.
  ImGui::TextUnformatted("Participant code");
  ImGui::SameLine(ImGui::GetContentRegionAvail().x * 0.5f);
  ImGui::TextUnformatted("Participant number");
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.5f - 12);
  if (st.focus_code) ImGui::SetKeyboardFocusHere(), st.focus_code = false;
  ImGui::InputText("##code", st.code, sizeof st.code, ImGuiInputTextFlags_AutoSelectAll);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-1);
  if (st.focus_number) ImGui::SetKeyboardFocusHere(), st.focus_number = false;
  ImGui::InputText("##number", st.number, sizeof st.number,
                   ImGuiInputTextFlags_CharsDecimal | ImGuiInputTextFlags_AutoSelectAll);
  if (st.code[0] && !data::valid_participant_code(st.code))
    ImGui::TextColored(kRed, "The code must be 1-64 letters, digits, '-', '_' or '.' (a pseudonym, never a name).");
  if (st.number[0] && !st.participant()) ImGui::TextColored(kRed, "The number must be a whole number of 1 or more.");
  ImGui::TextColored(kDim, "Database: %s", o.run.db.c_str());
  if (const auto& sp = o.run.station_profile) {  // what the participant will see and hear
    std::string line = "Station: " + sp->name + " (" + sp->file + ", sha256 " + sp->sha256.substr(0, 12) + "...)";
    if (sp->screen.known())
      line += "; screen " + std::to_string(sp->screen.width_px) + "x" + std::to_string(sp->screen.height_px) +
              " px at " + std::to_string(static_cast<int>(std::lround(sp->screen.distance_cm))) + " cm";
    line += "; gamma " + sp->gamma.describe();
    char gain[32];
    std::snprintf(gain, sizeof gain, "; audio gain %+.1f dB", sp->audio.gain_db);
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(kDim, "%s%s", line.c_str(), gain);
    ImGui::PopTextWrapPos();
  } else {
    ImGui::TextColored(kDim, "Station: %s (no profile: no sizes in degrees, no gamma correction)",
                       o.run.station.empty() ? "this computer" : o.run.station.c_str());
  }
  if (st.loaded && st.x.ok())
    for (const auto& sz : st.x.validation.sizes)
      ImGui::TextColored(kDim, "Stimuli: %s", experiments::describe(sz).c_str());
  ImGui::Separator();

  // Validation.
  if (!st.loaded) {
    ImGui::TextColored(kDim, "Choose an experiment file.");
  } else {
    const experiments::CheckedExperiment& x = st.x;
    if (x.ok())
      ImGui::TextColored(kGreen, "%s: validation ok at %.1f Hz, %zu note(s)", x.file.c_str(), x.refresh_hz,
                         x.notes.size());
    else
      ImGui::TextColored(kRed, "%s: %zu error(s); fix the file and press Load", x.file.c_str(), x.errors.size());
    ImGui::PushTextWrapPos(0);
    for (const auto& e : x.errors) ImGui::TextColored(kRed, "error: %s", e.c_str());
    for (const auto& n : x.notes) ImGui::TextColored(kYellow, "note: %s", n.c_str());
    ImGui::PopTextWrapPos();
  }

  // The plan's summary.
  if (st.loaded && st.x.experiment && st.plan.participant > 0) {
    const experiments::Experiment& e = *st.x.experiment;
    ImGui::Separator();
    ImGui::Text("%s (%s, %zu alternatives): plan for participant %lld", e.name.c_str(),
                experiments::modality_name(e.modality), e.alternatives.size(),
                static_cast<long long>(st.plan.participant));
    if (!st.plan.ok) {
      ImGui::PushTextWrapPos(0);
      ImGui::TextColored(kRed, "error: %s", st.plan.error.c_str());
      ImGui::PopTextWrapPos();
    } else if (ImGui::BeginTable("##blocks", 5, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg)) {
      ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_WidthFixed, 30);
      ImGui::TableSetupColumn("kind");
      ImGui::TableSetupColumn("name");
      ImGui::TableSetupColumn("trials");
      ImGui::TableSetupColumn("estimated");
      ImGui::TableHeadersRow();
      for (const auto& b : st.plan.summary.blocks) {
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
        ImGui::TextUnformatted(experiments::format_duration(b.seconds).c_str());
      }
      ImGui::EndTable();
      ImGui::Text("Total: %d trials, about %s", st.plan.summary.trials,
                  experiments::format_duration(st.plan.summary.seconds).c_str());
    }
    if (!st.plan.session_note.empty())
      ImGui::TextColored(st.plan.blocked ? kYellow : kDim, "%s", st.plan.session_note.c_str());
  }

  // Start.
  ImGui::Separator();
  const bool can = st.can_start();
  ImGui::BeginDisabled(!can);
  if (ImGui::Button("Start session", ImVec2(220, 0))) st.start = true;
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::TextColored(kDim, "Ctrl+Shift+Q aborts a session, Ctrl+Shift+P pauses it; %s", st.quit_hint);
  if (!st.result.empty()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(st.result_error ? kRed : kGreen, "%s", st.result.c_str());
    ImGui::PopTextWrapPos();
  }
}

void draw_launch(LaunchState& st, const LaunchOptions& o) {
  ImGuiIO& io = ImGui::GetIO();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  ImGui::Begin("metamerlab launch", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                   ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus);
  ImGui::SetWindowFontScale(0.62f);
  draw_launch_widgets(st, o);
  ImGui::End();
}

// [SECTION] Screen ------------------------------------------------------------------------
void reload(LaunchState& st, const LaunchOptions& o, double hz) {
  st.reload = false;
  experiments::ValidateOptions vo;  // with the station's screen geometry and audio gain
  if (o.run.station_profile) vo.station = &*o.run.station_profile;
  vo.live_check = o.run.live_check;  // live sources: models, layers, one timed step, the lead
  st.x = experiments::check_experiment(st.file, o.run.db, hz, vo);
  st.loaded = true;
  if (st.x.experiment && !st.participant())
    set_text(st.number, sizeof st.number, std::to_string(next_free_participant(*st.x.experiment, o.run.db)));
  st.plan = LaunchPlan{};
}

// Before a frame: loads the file chosen, plans the participant typed.
void update(LaunchState& st, const LaunchOptions& o, double hz) {
  if (st.reload) reload(st, o, hz);
  if (const auto n = st.participant(); st.loaded && st.x.experiment && n && *n != st.plan.participant)
    st.plan = plan_for_launch(st.x, *n, o.run.db, o.run.store, o.run.request);
}

std::string session_line(const RunResult& r) {
  std::ostringstream s;
  s << "session " << r.session_id << " " << data::session_status_name(r.status) << ": " << r.answered_now
    << " trials this run";
  if (!r.commit_ms.empty())
    s << ", trial commit p50 " << median(r.commit_ms) << " ms, p99 " << percentile(r.commit_ms, 99) << " ms";
  s << ", first trial after " << r.first_trial_s << " s";
  return s.str();
}

// Runs the session Start asked for in d (the runner takes the window until it ends), then
// shows its result and suggests the next participant. Scripted (o.auto_start): returns the
// exit code the program ends with; otherwise nullopt and the screen goes on.
std::optional<int> start_session(LaunchState& st, const LaunchOptions& o, Display& d, std::ostream& out,
                                 std::ostream& err) {
  RunOptions ro = o.run;
  ro.experiment = st.file;
  ro.request.participant = *st.participant();
  ro.code = st.code;
  out << "launch: starting " << ro.experiment << " for participant " << ro.request.participant << " (" << ro.code
      << ")\n";
  try {
    // The runner gets the experiment checked on this display and the plan shown.
    const experiments::SessionPlan& sp = st.plan.session;
    const RunResult r = run_prepared_session(d, st.x, sp, ro, out);
    if (r.finished()) out << session_line(r) << "\n";
    st.result = r.refused ? "the session was refused: " + (sp.message.empty() ? std::string("see the errors") : sp.message)
                          : session_line(r);
    st.result_error = r.exit_code != 0;
    if (o.auto_start) return r.exit_code;
  } catch (const NoAudioDevice& e) {
    const std::string m = std::string("this is an audio experiment and there is no usable audio output (") +
                          e.what() + "); connect headphones or choose a device, then start again";
    if (o.auto_start) {
      err << "run: " << m << "\n";
      return 3;
    }
    st.result = m;
    st.result_error = true;
  } catch (const std::exception& e) {
    if (o.auto_start) throw;
    std::string m = e.what();
    if (auto nl = m.find('\n'); nl != std::string::npos) m = m.substr(0, nl);
    st.result = "the session stopped: " + m;
    st.result_error = true;
  }
  d.show_cursor(true);
  d.reset_frame_log();
  st.plan = LaunchPlan{};  // re-read the participant's session
  if (st.x.experiment)     // and suggest the next participant
    set_text(st.number, sizeof st.number, std::to_string(next_free_participant(*st.x.experiment, o.run.db)));
  return std::nullopt;
}

}  // namespace

int run_launch(const LaunchOptions& o, std::ostream& out, std::ostream& err) {
  DisplayOptions dopt = runner_display_options(o.run);
  dopt.title = "metamerlab launch";
  Display d(dopt);
  const double hz = d.info().frame_hz;
  LaunchState st;
  st.files = find_experiment_files(o.folders);
  if (!o.experiment.empty()) {
    set_text(st.file, sizeof st.file, o.experiment);
    st.reload = true;
  }
  d.show_cursor(true);
  int64_t frame = 0;
  const std::string auto_number = std::to_string(o.auto_number);
  for (;;) {
    ++frame;
    for (const auto& ev : d.poll_events()) {
      if (ev.type == InputEvent::quit) st.quit = true;
      if (ev.type == InputEvent::key_down && ev.key == "Escape" && !ImGui::GetIO().WantTextInput) st.quit = true;
    }
    if (st.quit) return 0;
    update(st, o, hz);

    // The scripted experimenter types into the fields through SDL text events (the real
    // input path), a few frames apart so each lands in the focused field.
    bool shoot = false, decide = false;
    if (o.auto_start) {
      if (frame == 3) st.focus_code = true;
      if (frame == 6)
        for (size_t i = 0; i < o.auto_code.size(); i += 16) d.push_text(o.auto_code.substr(i, 16));
      if (frame == 9) st.focus_number = true;
      if (frame == 12) d.push_text(auto_number);
      if (frame == 16) shoot = decide = true;
    } else if (frame == 3 && !o.screenshot.empty()) {
      shoot = true;
    }

    d.clear(Color::grey(0.1f));
    d.begin_imgui();
    draw_launch(st, o);
    if (shoot && !o.screenshot.empty()) save_png(o.screenshot, d.capture());
    d.flip();

    if (decide && !st.can_start()) {
      for (const auto& e : st.x.errors) err << "metamerlab: error: " << e << "\n";
      if (!st.plan.error.empty()) err << "metamerlab: error: " << st.plan.error << "\n";
      if (st.plan.blocked) err << "metamerlab: error: " << st.plan.session_note << "\n";
      if (!data::valid_participant_code(st.code))
        err << "metamerlab: error: launch: participant code \"" << st.code
            << "\" is not a pseudonymous code; use 1-64 letters, digits, '-', '_' or '.'\n";
      if (!st.loaded) err << "metamerlab: error: launch: no experiment file; give EXPERIMENT.toml\n";
      return 1;
    }
    if (!(st.start || decide)) continue;
    st.start = false;

    if (const auto code = start_session(st, o, d, out, err)) return *code;
  }
}

// [SECTION] Panel -------------------------------------------------------------------------
struct LaunchPanel::Impl {
  LaunchOptions o;
  double hz = 60;
  LaunchState st;
};

LaunchPanel::LaunchPanel(const LaunchOptions& o, double hz) : impl_(std::make_unique<Impl>()) {
  impl_->o = o;
  impl_->hz = hz;
  for (const auto& f : o.recent) {  // the last files first, while they exist
    std::error_code ec;
    if (fs::is_regular_file(f, ec)) impl_->st.files.push_back(f);
  }
  for (const auto& f : find_experiment_files(o.folders))
    if (std::find(impl_->st.files.begin(), impl_->st.files.end(), f) == impl_->st.files.end())
      impl_->st.files.push_back(f);
  impl_->st.quit_hint = "Ctrl+Q closes the workbench.";
  if (!o.experiment.empty()) {
    set_text(impl_->st.file, sizeof impl_->st.file, o.experiment);
    impl_->st.reload = true;
  }
}
LaunchPanel::~LaunchPanel() = default;

void LaunchPanel::update() { mm::app::update(impl_->st, impl_->o, impl_->hz); }
void LaunchPanel::draw() { draw_launch_widgets(impl_->st, impl_->o); }
bool LaunchPanel::start_requested() const { return impl_->st.start; }
std::string LaunchPanel::loaded_file() const { return impl_->st.loaded && impl_->st.x.ok() ? impl_->st.file : ""; }

void LaunchPanel::run_requested(Display& d, std::ostream& out, std::ostream& err) {
  if (!impl_->st.start) return;
  impl_->st.start = false;
  LaunchOptions o = impl_->o;
  o.auto_start = false;
  start_session(impl_->st, o, d, out, err);
}

}  // namespace mm::app
