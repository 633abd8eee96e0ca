// app/studio.cpp: the experimenter's workbench (app/studio.h): the window, the tab bar and
// its keys, the text size, the settings read and written. The Start panel is the launch
// screen (app/launch.h); the Experiment panel is app/studio_designer.cpp, Stimuli
// app/studio_library.cpp, Sessions app/studio_sessions.cpp, Results app/studio_results.cpp.
//
// Sections
//   [SECTION] Panels     names
//   [SECTION] Window     the frame loop, keys, settings, the scripted screenshot
#include "app/studio.h"

#include <imgui.h>

#include <functional>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <tuple>

#include "app/launch.h"
#include "app/studio_designer.h"
#include "app/studio_library.h"
#include "app/studio_results.h"
#include "app/studio_sessions.h"
#include "app/studio_settings.h"
#include "app/studio_widgets.h"

namespace fs = std::filesystem;

namespace mm::app {

// [SECTION] Panels ------------------------------------------------------------------------
const std::vector<std::string>& studio_panels() {
  static const std::vector<std::string> p{"Experiment", "Stimuli", "Synthesis", "Sessions", "Results", "Start"};
  return p;
}

namespace {

using studio::kDim;

// [SECTION] Window ------------------------------------------------------------------------
int panel_index(const std::string& name) {
  const auto& p = studio_panels();
  const auto it = std::find(p.begin(), p.end(), name);
  return it == p.end() ? -1 : static_cast<int>(it - p.begin());
}

}  // namespace

int run_studio(const StudioOptions& o, std::ostream& out, std::ostream& err) {
  if (!o.panel.empty() && panel_index(o.panel) < 0) {
    err << "metamerlab: studio: --panel " << o.panel
        << " is not a panel; use Experiment, Stimuli, Synthesis, Sessions, Results or Start\n";
    return 2;
  }
  StudioSettings settings = read_studio_settings(o.settings, err);
  const std::string db = !o.db.empty() ? o.db : !settings.database.empty() ? settings.database : "metamerlab.db";
  settings.database = db;
  if (o.width > 0) settings.width = o.width;
  if (o.height > 0) settings.height = o.height;

  DisplayOptions dopt;
  dopt.fullscreen = false;
  dopt.width = settings.width;
  dopt.height = settings.height;
  dopt.resizable = true;
  dopt.title = "metamerlab studio";
  dopt.measure_frames = 10;
  dopt.font_px = 28;  // the atlas; the text size setting scales it
  Display d(dopt);
  d.show_cursor(true);
  const float base_scale = ImGui::GetIO().FontGlobalScale;  // Display's (HiDPI)

  LaunchOptions lo;
  lo.experiment = !o.experiment.empty() ? o.experiment : settings.experiments.empty() ? "" : settings.experiments[0];
  lo.folders = o.folders;
  lo.recent = settings.experiments;
  lo.run = o.run;
  lo.run.db = db;
  LaunchPanel start(lo, d.info().frame_hz);
  studio::SessionsPanel sessions;
  studio::ExperimentDesigner designer(d, db, o.experiment);  // the Experiment panel: the file given, else a new one
  studio::StimulusLibrary library(d);
  library.set_cochleagram(o.cochleagram);
  if (o.select) library.select(o.select);
  studio::ResultsPanel results(db, o.permutations, o.bootstrap);
  std::string queue_file = o.queue;
  if (queue_file.empty() && !o.settings.empty())
    queue_file = (fs::path(o.settings).parent_path() / "synthesis-queue.toml").string();
  studio::SynthQueue queue(o.program, queue_file, db, err);
  studio::SynthRequest synth_form = o.synth_form;
  double last_frame = now_s();

  int current = panel_index(!o.panel.empty() ? o.panel : settings.panel);
  if (current < 0) current = panel_index("Start");
  int requested = current;  // the tab to select at the next frame (-1: as the user clicks)
  double last_read = -1e9;
  bool quit = false;
  const int n = static_cast<int>(studio_panels().size());
  for (int64_t frame = 1; !quit; ++frame) {
    const double frame_start = now_s();
    for (const auto& ev : d.poll_events()) {
      if (ev.type == InputEvent::quit) quit = true;
      if (ev.type == InputEvent::key_down && !ev.ctrl && studio_panels()[current] == "Sessions" &&
          (ev.key == "Up" || ev.key == "Down") && !ImGui::GetIO().WantTextInput)
        sessions.step(ev.key == "Up" ? -1 : 1);
      if (ev.type != InputEvent::key_down || !ev.ctrl) continue;
      if (ev.key == "Q") quit = true;
      if (ev.key == "Tab") requested = (current + (ev.shift ? n - 1 : 1)) % n;
      if (ev.key.size() == 1 && ev.key[0] >= '1' && ev.key[0] < '1' + n) requested = ev.key[0] - '1';
      if (ev.key == "=" || ev.key == "+" || ev.key == "Keypad +") settings.font_px += 1;
      if (ev.key == "-" || ev.key == "Keypad -") settings.font_px -= 1;
      settings.font_px = std::clamp<float>(settings.font_px, StudioSettings::kMinFontPx, StudioSettings::kMaxFontPx);
    }
    const std::string panel = studio_panels()[current];
    // The database, every few seconds (or when a session is selected), opened once for the
    // panels; a metamer selected in the library reads that one record only.
    const bool due = now_s() - last_read >= o.refresh_s || sessions.wants_read();
    if (due || library.wants_read()) {
      std::error_code ec;
      std::unique_ptr<data::Store> store;
      std::string why;
      if (db.empty() || !fs::is_regular_file(db, ec)) {
        why = "no database at " + (db.empty() ? std::string("(none)") : db) + " (synth, run and launch make one)";
      } else {
        try {
          store = std::make_unique<data::Store>(db);
        } catch (const std::exception& e) {
          const std::string m = e.what();
          why = "cannot read the database: " + m.substr(0, m.find('\n'));
        }
      }
      // Each panel's query on its own: one failing on a damaged database leaves the others.
      const auto guarded = [&](const std::function<void(data::Store*, const std::string&)>& refresh) {
        try {
          refresh(store.get(), why);
        } catch (const std::exception& e) {
          const std::string m = e.what();
          refresh(nullptr, "cannot read the database: " + m.substr(0, m.find('\n')));
        }
      };
      if (!due) {
        guarded([&](data::Store* st, const std::string&) { library.read_selected(st); });
      } else {
        guarded([&](data::Store* st, const std::string& w) { sessions.refresh(st, w); });
        guarded([&](data::Store* st, const std::string& w) { library.refresh(st, w, db); });
        guarded([&](data::Store* st, const std::string&) { results.refresh(st); });
        last_read = now_s();
      }
    }
    start.update();
    queue.poll();

    StudioProbe probe;
    probe.display = &d;
    probe.frame = frame;
    probe.frame_ms = 1000 * (now_s() - last_frame);
    last_frame = now_s();
    probe.font_px = settings.font_px;
    const float scale = settings.font_px / 17.0f;  // widget sizes follow the text
    d.clear(Color::grey(0.1f));
    d.begin_imgui();
    ImGui::GetIO().FontGlobalScale = base_scale * settings.font_px / dopt.font_px;
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImGui::GetIO().DisplaySize);
    ImGui::Begin("metamerlab studio", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                     ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus);
    ImGui::TextColored(kDim, "metamerlab studio    database %s", db.c_str());
    ImGui::SameLine(ImGui::GetContentRegionAvail().x - 300 * scale);
    ImGui::SetNextItemWidth(160 * scale);
    ImGui::SliderFloat("text size", &settings.font_px, StudioSettings::kMinFontPx, StudioSettings::kMaxFontPx, "%.0f px");
    settings.font_px = std::round(settings.font_px);
    if (ImGui::BeginTabBar("##panels")) {
      for (int i = 0; i < n; ++i) {
        const std::string& name = studio_panels()[i];
        const bool open = ImGui::BeginTabItem(name.c_str(), nullptr, i == requested ? ImGuiTabItemFlags_SetSelected : 0);
        const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
        const float k = d.pixel_scale();
        probe.tabs.push_back({a.x * k, a.y * k, (b.x - a.x) * k, (b.y - a.y) * k});
        if (!open) continue;
        if (requested >= 0 && i != requested) {  // ImGui selects a requested tab a frame later: draw nothing till then
          ImGui::EndTabItem();
          continue;
        }
        current = i;
        probe.panel = name;
        if (name == "Start") start.draw();
        else if (name == "Sessions") sessions.draw(o.refresh_s, d.pixel_scale(), probe);
        else if (name == "Results") results.draw(scale, d.pixel_scale(), probe);
        else if (name == "Stimuli") library.draw(scale, probe);
        else if (name == "Experiment") designer.draw(scale, probe);
        else if (name == "Synthesis")
          studio::draw_synthesis_panel(queue, synth_form, scale, d.pixel_scale(), probe);
        ImGui::EndTabItem();
      }
      ImGui::EndTabBar();
    }
    if (requested == current) requested = -1;
    ImGui::End();

    // The scripted screenshot: once the panel has read its data and its images are in.
    bool shoot = false;
    if (!o.screenshot.empty() && frame >= 6 && ((probe.pending_thumbnails == 0 && !probe.computing && !probe.designer.checking) || frame >= 600))
      shoot = quit = true;
    if (shoot) save_png(o.screenshot, d.capture());
    if (o.probe) {
      probe.work_ms = 1000 * (now_s() - frame_start);
      o.probe(probe);
      if (probe.quit) quit = true;
    }
    d.flip();
    if (panel != studio_panels()[current]) last_read = -1e9;  // a panel just shown reads the database now
    if (designer.preview_requested()) {  // one trial of the designed experiment, nothing recorded
      ImGui::GetIO().FontGlobalScale = base_scale;
      designer.run_preview(lo.run, out);
      d.show_cursor(true);
    }
    if (start.start_requested()) {
      ImGui::GetIO().FontGlobalScale = base_scale;  // the runner's screens at their own size
      start.run_requested(d, out, err);
      d.show_cursor(true);
      last_read = -1e9;
    }
    if (const std::string f = start.loaded_file(); !f.empty()) {  // remembered as an absolute path
      std::error_code ec;
      const std::string abs = fs::absolute(f, ec).lexically_normal().string();
      if (settings.experiments.empty() || settings.experiments[0] != abs) remember_experiment(settings, abs);
    }
  }

  queue.shutdown();  // a running job stops and stays queued: the next start resumes it
  settings.panel = studio_panels()[current];
  std::tie(settings.width, settings.height) = d.window_size();  // as the person left it
  try {
    write_studio_settings(o.settings, settings);
  } catch (const std::exception& e) {
    err << "metamerlab: studio: the settings were not saved: " << e.what() << "\n";
  }
  return 0;
}

}  // namespace mm::app
