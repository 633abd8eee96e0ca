// app/program/session_commands.cpp: the commands around people's sessions: plan, run,
// launch, studio (the experimenter's workbench, app/studio.h), sessions, calibrate and timing-test. Loading, validating, planning and resuming are the
// session module's (experiments/session.h); showing trials is the presentation library's
// (app/runner.h, app/launch.h). Torch for run --observer (app/program/judging.h) and for live
// generation (app/program/live_worker.h).
//
// Sections
//   [SECTION] Options     what run and launch share
//   [SECTION] Handlers    one function per command
//   [SECTION] Table       session_commands
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <nlohmann/json.hpp>

#include "app/audio.h"
#include "app/calibrate.h"
#include "app/launch.h"
#include "app/program/judging.h"
#include "app/program/live_worker.h"
#include "app/program/plan_print.h"
#include "app/program/program.h"
#include "app/runner.h"
#include "app/studio.h"
#include "app/studio_settings.h"
#include "app/timing.h"
#include "app/timing_test.h"
#include "data/store.h"
#include "experiments/session.h"
#include "experiments/station.h"
#include "synth/cochleagram_image.h"
#include "stimuli/resources.h"

namespace fs = std::filesystem;

namespace mm::app {

namespace {

// [SECTION] Options -----------------------------------------------------------------------
// The options `run` and `launch` share (parsed by session_options below).
const std::vector<Option> kSessionOptions{
    {"windowed", "", "a window instead of fullscreen"},
    {"width", "W", "window width (with --windowed)", "1024"},
    {"height", "H", "window height (with --windowed)", "768"},
    {"auto", "correct|random|FILE", "scripted participant (CSV trial_index,response,rt_ms)", ""},
    {"auto-seed", "S", "seed of the random policy and the response delays", "1"},
    {"max-trials", "N", "pilot: keep only the first N trials of each block", ""},
    {"screenshots", "DIR", "save the first frame of each phase of the first trial", ""},
    {"station", "FILE|NAME", "this computer's station profile (a .toml file, or NAME.toml in\n"
                             "~/.config/metamerlab/stations): screen size and distance, gamma, audio gain;\n"
                             "any other NAME is just the session's label (default: host name)", ""},
    {"headphone-check", "", "audio: the antiphase headphone check first (pass 5 of 6)"},
    {"headphone-tone-ms", "MS", "testing: tone length of the headphone check", "1000"}};

std::vector<Option> with_session_options(std::vector<Option> own) {
  own.insert(own.end(), kSessionOptions.begin(), kSessionOptions.end());
  return own;
}

// The store options a session runs with. METAMERLAB_TEST_DB_MAX_PAGES (tests only) caps the
// database file as a full disk would (data::StoreOptions::max_pages).
data::StoreOptions session_store_options() {
  data::StoreOptions s;
  if (const char* cap = std::getenv("METAMERLAB_TEST_DB_MAX_PAGES"); cap && *cap) s.max_pages = std::strtoll(cap, nullptr, 10);
  return s;
}

// kSessionOptions, parsed into the runner's options (run and launch).
void session_options(const Args& a, RunOptions& o) {
  o.windowed = a.flag("windowed");
  o.width = static_cast<int>(positive(a, "width"));
  o.height = static_cast<int>(positive(a, "height"));
  o.auto_policy = a.get("auto");
  o.auto_seed = static_cast<uint64_t>(positive(a, "auto-seed", 0));
  if (a.has("max-trials")) o.request.max_trials = static_cast<int>(positive(a, "max-trials", 0));
  o.screenshots = a.get("screenshots");
  const experiments::StationChoice station = experiments::choose_station(a.get("station"));  // FILE:LINE errors
  o.station = station.label;
  o.station_profile = station.profile;
  o.headphone_check = a.flag("headphone-check");
  o.headphone_tone_ms = static_cast<int>(positive(a, "headphone-tone-ms", 20));
  o.store = session_store_options();
}

// Live generation for run and launch: the worker (started only when a session plans live
// trials) and validation's check of live sources, on the --device the command was given.
synth::Device device_of(const Args& a) { return a.get("device") == "cuda" ? synth::Device::cuda : synth::Device::cpu; }

std::unique_ptr<LiveWorker> live_generation(const Args& a, RunOptions& o) {
  const synth::Device device = device_of(a);
  auto worker = std::make_unique<LiveWorker>(o.db, device, a.command_line);
  o.live = worker.get();
  o.live_check = [device](const experiments::Experiment& e, double hz) { return check_live_sources(e, hz, device); };
  return worker;
}

std::string session_line(const RunResult& r) {
  std::ostringstream s;
  s << "session " << r.session_id << " " << data::session_status_name(r.status) << ": " << r.answered_now
    << " trials this run";
  if (!r.commit_ms.empty()) {
    double sum = 0, mx = 0;
    for (double c : r.commit_ms) sum += c, mx = std::max(mx, c);
    s << ", trial commit mean " << sum / r.commit_ms.size() << " ms, p50 " << median(r.commit_ms) << " ms, p99 "
      << percentile(r.commit_ms, 99) << " ms, max " << mx << " ms";
  }
  s << ", first trial after " << r.first_trial_s << " s";
  if (r.live.trials > 0)
    s << "; live: " << r.live.trials << " trials, " << r.live.waited << " waited, " << r.live.reordered << " reordered, "
      << r.live.fell_back << " fell back, smallest lead " << r.live.min_lead_s << " s";
  return s.str();
}

// [SECTION] Handlers ----------------------------------------------------------------------
int cmd_plan(const Args& a) {
  if (a.positionals().size() != 1) throw UsageError("plan: give exactly one EXPERIMENT.toml");
  const double hz = a.get_double("refresh");
  if (!(hz > 0)) throw UsageError("plan: --refresh must be positive");
  PlanPrintOptions po;
  po.experiment = a.positionals()[0];
  po.db = a.get("db");
  po.json = a.flag("json");
  po.summary_only = a.flag("summary");
  const experiments::StationChoice station = experiments::choose_station(a.get("station"));
  experiments::ValidateOptions vo;
  if (station.profile) vo.station = &*station.profile;
  const synth::Device device = device_of(a);
  vo.live_check = [device](const experiments::Experiment& e, double r) { return check_live_sources(e, r, device); };
  const experiments::CheckedExperiment x = experiments::check_experiment(po.experiment, po.db, hz, vo);
  if (!x.experiment) throw std::runtime_error(x.errors.at(0));  // FILE:LINE: what; fix
  experiments::SessionRequest r;
  r.participant = positive(a, "participant");
  if (a.has("seed")) r.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  // The participant's session, if the database exists (plan never creates one).
  std::unique_ptr<data::Store> store;
  std::error_code ec;
  if (!po.db.empty() && fs::is_regular_file(po.db, ec)) store = std::make_unique<data::Store>(po.db);
  const experiments::SessionPlan sp = experiments::plan_session(*x.experiment, r, store.get());
  print_plan(x, sp, po, std::cout);
  for (const auto& msg : x.errors) std::cerr << "metamerlab: error: " << msg << "\n";
  return x.ok() ? 0 : 1;
}

// run --observer MODEL: the model answers the whole planned session, without a display.
int run_observer(const Args& a) {
  for (const char* display_only : {"windowed", "auto", "screenshots", "headphone-check"})
    if (a.has(display_only)) throw UsageError(std::string("run: --observer runs without a display; drop --") + display_only);
  ObserverOptions o;
  o.experiment = a.positionals()[0];
  o.db = a.get("db");
  o.participant = positive(a, "participant");
  if (a.has("seed")) o.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  if (a.has("max-trials")) o.max_trials = static_cast<int>(positive(a, "max-trials", 0));
  o.model = a.get("observer");
  o.code = a.get("code");
  synth::init_runtime({});  // the observer's torch: one thread per core, on the CPU
  return run_observer_session(o, std::cout);
}

int cmd_run(const Args& a) {
  if (a.positionals().size() != 1) throw UsageError("run: give exactly one EXPERIMENT.toml");
  if (a.has("observer")) return run_observer(a);
  RunOptions o;
  o.experiment = a.positionals()[0];
  o.request.participant = positive(a, "participant");
  o.code = a.get("code");
  o.db = a.get("db");
  if (a.has("seed")) o.request.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  session_options(a, o);
  const auto live = live_generation(a, o);
  try {
    const RunResult r = run_session(o, std::cout);
    if (r.finished()) std::cout << session_line(r) << "\n";
    return r.exit_code;
  } catch (const NoAudioDevice& e) {
    std::cerr << "run: this is an audio experiment and there is no usable audio output (" << e.what()
              << "); connect headphones or choose a device, then start again\n";
    return 3;
  }
}

int cmd_launch(const Args& a) {
  if (a.positionals().size() > 1) throw UsageError("launch: give at most one EXPERIMENT.toml");
  LaunchOptions o;
  if (!a.positionals().empty()) o.experiment = a.positionals()[0];
  const std::string data = stimuli::data_dir();
  if (!data.empty()) o.folders.push_back((fs::path(data) / "experiments").string());
  o.folders.push_back(".");
  for (const auto& f : a.list("folder")) o.folders.push_back(f);
  o.run.db = a.get("db");
  session_options(a, o.run);
  const auto live = live_generation(a, o.run);
  o.screenshot = a.get("screenshot");
  if (a.has("auto-start")) {
    const std::string v = a.get("auto-start");
    const auto comma = v.rfind(',');
    if (comma == std::string::npos) throw UsageError("launch: --auto-start needs CODE,NUMBER, e.g. P007,7");
    o.auto_start = true;
    o.auto_code = v.substr(0, comma);
    try {
      size_t pos = 0;
      o.auto_number = std::stoll(v.substr(comma + 1), &pos);
      if (pos != v.size() - comma - 1 || o.auto_number < 1) throw std::invalid_argument(v);
    } catch (const std::exception&) {
      throw UsageError("launch: --auto-start " + v + ": the number after the comma must be 1 or more");
    }
  }
  return run_launch(o, std::cout, std::cerr);
}

// The Stimuli panel's cochleagrams: the model's own front end when it has one, else the
// default cochleagram (synth/cochleagram_image.h), for the panel's image.
StudioCochleagram studio_cochleagram(const std::string& wav, const std::string& model_spec) {
  synth::CochleagramPicture p = synth::cochleagram_picture(wav, model_spec);
  StudioCochleagram c;
  c.channels = static_cast<int>(p.channels);
  c.frames = static_cast<int>(p.frames);
  c.values = std::move(p.values);
  c.source = std::move(p.source);
  return c;
}

int cmd_studio(const Args& a) {
  if (a.positionals().size() > 1) throw UsageError("studio: give at most one EXPERIMENT.toml");
  StudioOptions o;
  if (!a.positionals().empty()) o.experiment = a.positionals()[0];
  o.settings = studio_settings_path();
  o.db = a.get("db");
  if (o.db.empty()) {  // the remembered one (run_studio reports a bad settings file)
    std::ostringstream quiet;
    o.db = read_studio_settings(o.settings, quiet).database;
    if (o.db.empty()) o.db = "metamerlab.db";
  }
  const std::string data = stimuli::data_dir();
  if (!data.empty()) o.folders.push_back((fs::path(data) / "experiments").string());
  o.folders.push_back(".");
  for (const auto& f : a.list("folder")) o.folders.push_back(f);
  if (a.has("width")) o.width = static_cast<int>(positive(a, "width", 320));
  if (a.has("height")) o.height = static_cast<int>(positive(a, "height", 240));
  o.panel = a.get("panel");
  const auto& panels = studio_panels();
  if (!o.panel.empty() && std::find(panels.begin(), panels.end(), o.panel) == panels.end())
    throw UsageError("studio: --panel " + o.panel + " is not a panel; use Experiment, Stimuli, Synthesis, Sessions, "
                     "Results or Start");
  o.screenshot = a.get("screenshot");
  if (a.has("select")) o.select = positive(a, "select", 1);
  const experiments::StationChoice station = experiments::choose_station(a.get("station"));
  o.run.station = station.label;
  o.run.station_profile = station.profile;
  o.run.store = session_store_options();
  o.run.windowed = true;
  o.run.db = o.db;
  const auto live = live_generation(a, o.run);  // Start runs sessions as launch does
  std::error_code ec;
  o.program = fs::read_symlink("/proc/self/exe", ec).string();  // Synthesis runs this program's synth
  o.cochleagram = studio_cochleagram;  // Stimuli: audio metamers' cochleagrams (torch, in synth/)
  return run_studio(o, std::cout, std::cerr);
}

int cmd_sessions(const Args& a) {
  using json = nlohmann::json;
  data::Store s(a.get("db"));
  const auto list = s.list_sessions();
  std::ostream& out = std::cout;
  if (a.flag("json")) {
    json arr = json::array();
    for (const auto& x : list)
      arr.push_back({{"id", x.id}, {"participant_code", x.participant_code}, {"participant_number", x.participant_number},
                     {"experiment", x.experiment_name}, {"experiment_path", x.experiment_path},
                     {"experiment_sha256", x.experiment_sha256}, {"status", data::session_status_name(x.status)},
                     {"started_at", x.started_at}, {"ended_at", x.ended_at}, {"resumed", x.resumed},
                     {"planned", x.planned}, {"answered", x.answered}});
    out << arr.dump() << "\n";
    return 0;
  }
  out << std::left << std::setw(5) << "id" << std::setw(14) << "participant" << std::setw(5) << "no" << std::setw(20)
      << "experiment" << std::setw(13) << "status" << std::setw(14) << "answered" << std::setw(8) << "resumed"
      << "started\n";
  for (const auto& x : list)
    out << std::left << std::setw(5) << x.id << std::setw(14) << x.participant_code << std::setw(5)
        << x.participant_number << std::setw(20) << x.experiment_name << std::setw(13)
        << data::session_status_name(x.status) << std::setw(14)
        << (std::to_string(x.answered) + "/" + std::to_string(x.planned)) << std::setw(8) << x.resumed << x.started_at
        << "\n";
  if (list.empty()) out << "(no sessions)\n";
  return 0;
}

int cmd_calibrate(const Args& a) {
  CalibrateOptions o;
  o.station = a.get("station");
  // A NAME (no folder, no .toml) is looked up in the stations folders, like --station of run.
  if (o.station.find('/') == std::string::npos && (o.station.size() < 5 || o.station.substr(o.station.size() - 5) != ".toml")) {
    const experiments::StationChoice c = experiments::choose_station(o.station);
    if (!c.profile)
      throw UsageError("calibrate: --station " + o.station + " names no profile; give a FILE.toml (created when missing)");
    o.station = c.profile->path;
  }
  o.levels = static_cast<int>(positive(a, "levels", 2));
  if (o.levels > 256) throw UsageError("calibrate: --levels must be at most 256");
  o.display.fullscreen = !a.flag("windowed");
  o.display.width = static_cast<int>(positive(a, "width"));
  o.display.height = static_cast<int>(positive(a, "height"));
  o.display.screen = static_cast<int>(positive(a, "screen", 0));
  o.readings = a.get("readings");
  o.screenshot = a.get("screenshot");
  return run_calibrate(o, std::cout, std::cerr);
}

int cmd_timing_test(const Args& a) {
  TimingTestOptions o;
  o.frames = static_cast<int>(positive(a, "frames", 2));
  o.display.fullscreen = !a.flag("windowed");
  o.display.width = static_cast<int>(positive(a, "width"));
  o.display.height = static_cast<int>(positive(a, "height"));
  o.display.screen = static_cast<int>(positive(a, "screen", 0));
  TimingTestReport r = run_timing_test(o);
  if (a.flag("json")) std::cout << timing_report_json(r).dump() << "\n";
  else print_timing_report(r, std::cout);
  return 0;
}

}  // namespace

// [SECTION] Table -------------------------------------------------------------------------
std::vector<CommandEntry> session_commands() {
  return {
      {{"timing-test",
        "time the display's frames: refresh rate, frame-interval mean, SD and percentiles, drops",
        "Opens the participant display (fullscreen unless --windowed), shows N frames with vsync and\n"
        "reports the refresh rate (measured and nominal), the frame intervals and the dropped frames\n"
        "(intervals above 1.5 refresh intervals). Needs a display (a desktop session, or xvfb-run).",
        {{"frames", "N", "frames to show", "1000"},
         {"windowed", "", "a window instead of fullscreen"},
         {"width", "W", "window width (with --windowed)", "1024"},
         {"height", "H", "window height (with --windowed)", "768"},
         {"screen", "S", "display index", "0"},
         {"json", "", "print one JSON object"}}},
       cmd_timing_test},
      {{"plan",
        "plan one participant's session of an experiment file and print it (no display needed)",
        "Loads and validates the experiment (every file loads, models and layers exist, durations\n"
        "fit whole frames at --refresh), then prints the blocks, counts, estimated duration and the\n"
        "trial list: each reference once in one condition, rotated over participants (Latin square).\n"
        "With --db, a participant who already has a session is shown with its stored plan (what run\n"
        "would resume). Live sources (generate = \"live\"): their models and layers are opened, one\n"
        "synthesis step is timed per layer and the worker's lead over the trials estimated.\n"
        "Exit 1 when validation finds errors. See experiments/README.md for the format.",
        {{"participant", "N", "participant number (1, 2, ...): picks the condition rotation", "", true},
         {"seed", "S", "session seed for shuffles and draws (default: the experiment's seed)", ""},
         {"db", "FILE", "database for [[metamers]] naming none; shows this participant's session", ""},
         {"refresh", "HZ", "display refresh rate for frame timing", "60"},
         {"station", "FILE|NAME", "station profile: converts size_deg, checks sizes against its screen and\n"
                                  "clips against its audio gain", ""},
         {"summary", "", "print the summary without the trial list"},
         {"json", "", "print one JSON object: plan, summary, validation, session, action"}},
        "EXPERIMENT.toml",
        true},
       cmd_plan, EngineUse::live},
      {{"run",
        "run a participant's session of an experiment file (display, sound, timed trials)",
        "Plans the session (or resumes the participant's unfinished one at the first unanswered\n"
        "trial of the stored plan), then shows each trial: fixation, stimulus for whole frames, mask,\n"
        "response (click an icon or press 1-9; for words: click, or type with completion and Return).\n"
        "Each answered trial is committed at once. Ctrl+Shift+Q aborts (data kept; run the same\n"
        "command to resume), Ctrl+Shift+P pauses. Live sources (generate = \"live\") are made by a\n"
        "worker thread during the session (--live-threads; files under the database's folder,\n"
        "live/session-ID/). Exit 0 completed or demo failed, 1 refused, 3 no audio device, 4 aborted.",
        with_session_options(
            {{"participant", "N", "participant number (1, 2, ...): picks the condition rotation", "", true},
             {"code", "CODE", "pseudonymous participant code (letters, digits, -_.; default P<N>)", ""},
             {"db", "FILE", "database for sessions and trials (and [[metamers]] naming none)", "metamerlab.db"},
             {"seed", "S", "session seed for shuffles and draws (default: the experiment's seed)", ""},
             {"observer", "MODEL", "a model answers the whole session, without a display (zoo:NAME or a model file);\n"
                                   "recorded as that model's session, kept apart from people's", ""}}),
        "EXPERIMENT.toml",
        true},
       cmd_run, EngineUse::live},
      {{"launch",
        "the experimenter's launch screen: pick an experiment, a participant, check, start",
        "Opens the participant display with a screen for the experimenter: an experiment file (typed,\n"
        "or picked from the .toml files in metamerlab's example experiments folder, the current folder\n"
        "and --folder), the participant's code and number, the validation result (errors with file and\n"
        "line, as metamerlab plan prints them) and the plan's summary; Start runs the session (as\n"
        "metamerlab run) in the same window. --auto-start CODE,NUMBER types them in and presses Start\n"
        "(exit 1 with the errors when the experiment does not validate).",
        with_session_options(
            {{"db", "FILE", "database for sessions and trials (and [[metamers]] naming none)", "metamerlab.db"},
             {"folder", "DIR", "another folder to list experiment files from", "", false, true},
             {"auto-start", "CODE,NUMBER", "scripted: enter this participant and press Start", ""},
             {"screenshot", "FILE", "save the launch screen as PNG (scripted: just before Start)", ""}}),
        "EXPERIMENT.toml"},
       cmd_launch, EngineUse::live},
      {{"studio",
        "the experimenter's workbench: one window with Start (launch), Sessions, Stimuli, ...",
        "Opens one window with the panels Experiment, Stimuli, Synthesis, Sessions, Results and Start.\n"
        "Start is the launch screen (as metamerlab launch); Sessions lists the database's sessions\n"
        "(re-read every 3 s); Stimuli shows its metamers as a grid of references x model x layer with\n"
        "thumbnails and pass/fail marks, filters (category, model, layer, failed only), a cell's measures\n"
        "and loss curve (sounds: Play buttons and both cochleagrams), a selection saved as a stimulus set's\n"
        "CSV table, and plain image folders (its Folder field). Experiment designs an experiment file: a\n"
        "widget per key, plan's messages at their fields, a plan preview; Save asks before dropping\n"
        "comments or layout. Synthesis queues synth jobs; Results shows analyze's tables and plot.\n"
        "Keys: Ctrl+Tab / Ctrl+1..6 switch panels,\n"
        "Ctrl+= / Ctrl+- the text size, Ctrl+Q closes. The text size, the last experiment files, the\n"
        "database, the window size and the panel are remembered in $XDG_CONFIG_HOME/metamerlab/studio.toml\n"
        "(default ~/.config/metamerlab/studio.toml). Nothing is written to the database (a missing one is\n"
        "not created); Stimuli writes only the CSV table it is asked for, Experiment only the file saved.",
        {{"db", "FILE", "database (default: the last one, else metamerlab.db)", ""},
         {"folder", "DIR", "another folder to list experiment files from (Start)", "", false, true},
         {"width", "W", "window width (default: the last one, else 1280)", ""},
         {"height", "H", "window height (default: the last one, else 800)", ""},
         {"panel", "NAME", "open at this panel: Experiment Stimuli Synthesis Sessions Results Start", ""},
         {"station", "FILE|NAME", "this computer's station profile (as for launch)", ""},
         {"select", "ID", "Stimuli: show the details of the metamer with this id (as in the database)", ""},
         {"screenshot", "FILE", "scripted: save the window as PNG once the panel shows its data, then close", ""}},
        "EXPERIMENT.toml"},
       cmd_studio, EngineUse::live},
      {{"calibrate",
        "measure the screen's luminance at grey levels with a photometer; write the station's gamma table",
        "Shows each grey level full-screen (raw drive levels, no gamma correction) with a line of text at\n"
        "the bottom: point the photometer at the centre, type its reading in cd/m2 and press Return\n"
        "(Backspace on an empty field goes back a level, H hides the text, Escape stops without writing).\n"
        "Then replaces the [gamma] table of the station profile with levels = [...] and luminance = [...],\n"
        "keeping the rest of the file, and writes it atomically (a missing profile is created). run and\n"
        "launch with --station then show sRGB stimuli as intended through that table. --readings FILE\n"
        "types the readings in (one per line, or LEVEL,READING rows). Exit 0 written, 1 failure, 4 stopped.",
        {{"station", "FILE|NAME", "the station profile to write (FILE.toml is created when missing)", "", true},
         {"levels", "N", "grey levels from 0 to 255, evenly spaced (2-256)", "9"},
         {"windowed", "", "a window instead of fullscreen (trying it out; measure fullscreen)"},
         {"width", "W", "window width (with --windowed)", "1024"},
         {"height", "H", "window height (with --windowed)", "768"},
         {"screen", "S", "display index", "0"},
         {"readings", "FILE", "scripted: type these readings (cd/m2, one per level) into the screen", ""},
         {"screenshot", "FILE", "save the middle level's screen as PNG", ""}}},
       cmd_calibrate},
      {{"sessions",
        "list the sessions in a database: participant, experiment, status, answered/planned",
        "One line per session (or one JSON array with --json).",
        {{"db", "FILE", "database", "metamerlab.db"}, {"json", "", "print one JSON array"}}},
       cmd_sessions},
  };
}

}  // namespace mm::app
