// app/runner.cpp: the session runner: present every trial of an opened session frame by
// frame, commit each answered trial at once, text screens, breaks, practice feedback, the
// demo criterion, the volume screen and headphone checks, pause/abort keys, and the
// scripted participant's answers as SDL events pushed into the real queue. Loading,
// planning, resuming and recording the session are the session module's
// (experiments/session.h).
//
// Sections
//   [SECTION] Runner         state, input, text screens, phases
//   [SECTION] Trials         one trial, its response screens and record
//   [SECTION] Live           live trials: the worker's metamer, waiting or reordering, fallbacks
//   [SECTION] Audio screens  volume, headphone check and headphone-check blocks
//   [SECTION] Fidelity       the station's screen, realized sizes, what the session records
//   [SECTION] Session        blocks in order, demo criterion, abort
//   [SECTION] Entry points   run_session, run_prepared_session
#include "app/runner.h"

#include <stb/stb_image.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "app/audio.h"
#include "app/display.h"
#include "app/live.h"
#include "app/scripted.h"
#include "app/screens.h"
#include "experiments/experiment.h"
#include "data/sha256.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"

#ifndef METAMERLAB_VERSION
#define METAMERLAB_VERSION "0.0.0+unknown"
#endif

namespace mm::app {

namespace {

using experiments::BlockKind;
using experiments::Modality;
using experiments::PlannedBlock;
using experiments::PlannedTrial;
using experiments::Plan;
using json = nlohmann::json;

struct Aborted {};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// [SECTION] Runner ------------------------------------------------------------------------
struct PhaseLog {
  std::string name;
  double requested_s = 0, actual_s = 0;
  int frames = 0, shown = 0, dropped = 0;
  double requested_ms = 0, realized_ms = 0;
};

class Runner {
 public:
  Runner(const RunOptions& o, std::ostream& log, Display* display = nullptr)
      : o_(o), log_(log), auto_(o.auto_policy, o.auto_seed, o.auto_min_ms, o.auto_max_ms), d_(display) {}
  ~Runner() {
    // A display lent by the caller (the launch screen) outlives the session: give back
    // what was uploaded to it.
    if (d_ && !own_display_) {
      for (auto& t : icons_) d_->release(t);
      for (auto& t : masks_) d_->release(t);
    }
  }
  // run_session: load, open audio and display, validate, plan or resume, present.
  RunResult run_file();
  // run_prepared_session: the caller checked and planned on this display.
  RunResult run_prepared(const experiments::CheckedExperiment& x, const experiments::SessionPlan& sp);
  // preview_trial: one trial of a plan on the caller's display, nothing recorded.
  TrialPreview run_preview(const experiments::CheckedExperiment& x, const Plan& plan, int64_t trial);

 private:
  const RunOptions& o_;
  std::ostream& log_;
  ScriptedParticipant auto_;
  const experiments::Experiment* e_ = nullptr;
  experiments::CheckedExperiment own_x_;  // run_file's checked experiment
  Plan plan_;
  std::unique_ptr<AudioOutput> audio_;
  Display* d_ = nullptr;                  // the screen: lent by the caller, or own_display_
  std::unique_ptr<Display> own_display_;
  std::unique_ptr<data::Store> store_;
  int64_t sid_ = 0;
  std::set<int64_t> answered_;
  RunResult res_;
  ScreenStyle style_;
  std::vector<Texture> icons_, masks_;
  std::vector<std::string> alt_names_;
  int stim_w_ = 256, stim_h_ = 256;       // the masks' size (the common image size, or the box)
  std::vector<experiments::StimulusSize> sizes_;  // every image size as shown (validation)
  experiments::StimulusSize common_;      // the common size as shown (image_w 0: mixed sizes)
  double audio_peak_ = 0;                 // the loudest clip's peak before gain (validation)
  double listener_db_ = 0;                // the volume screen's change to the station's gain
  bool pause_requested_ = false, shots_taken_ = false;
  double start_s_ = 0;

  // Opens the store, records the session (new or resumed) and presents it.
  RunResult open_and_present(const experiments::CheckedExperiment& x, const experiments::SessionPlan& sp);
  RunResult present(int64_t first_unanswered);
  void take_validation(const experiments::Validation& v);  // the sizes and levels validation realized
  void upload_assets();  // the alternatives' names and icons, the masks; the cursor
  RunResult refuse(const std::vector<std::string>& lines);
  // Does the station's screen agree with this display? Errors when sizes would be wrong.
  std::vector<std::string> check_station_screen();
  // How trial t's image is shown: its realized size (validation's, or fitted for icons).
  experiments::StimulusSize size_for(const std::string& image, bool* fit_icon);
  std::string session_display_json() const;
  std::string session_audio_json() const;
  double output_gain_db() const { return (audio_ ? audio_->info().gain_db : 0) + listener_db_; }
  std::vector<InputEvent> poll();
  void drain() { d_->poll_events(); }
  void text_screen(const std::string& text, const std::string& hint = "Press Space to continue");
  void maybe_pause(int64_t at);
  void show_phase(PhaseLog& ph, int frames, double requested_s, const std::function<void()>& draw,
                  std::vector<std::pair<std::string, Image>>* shots);
  data::TrialRecord run_trial(const PlannedTrial& t, const json& live = json());
  // Live generation: the settings of a live trial's source; which of the block's remaining
  // trials runs next (a live trial whose metamer is not ready: the preparing screen, or a
  // ready trial first); a live trial as shown (the metamer, or the natural stimulus); the
  // worker's notes as session events.
  const experiments::LiveSettings& live_settings(const PlannedTrial& t) const;
  size_t next_trial(const std::vector<int64_t>& todo, json& live);
  PlannedTrial resolve_live(const PlannedTrial& t, json& live);
  void wait_for_live(int64_t trial, json& live);
  void live_notes(int64_t at);
  void commit(const data::TrialRecord& r);  // at once, in its own transaction; timed
  int respond_grid(const PlannedTrial& t, double onset, double* event_t);
  int respond_words(const PlannedTrial& t, double onset, double* event_t);
  void blank_frames(int frames);
  void feedback(const PlannedTrial& t, const std::string& response);
  bool demo_passed(const PlannedBlock& b);
  void volume_screen();
  bool headphone_check();
  // One headphone-check trial: the three tones in `order` (N normal, Q quieter, A
  // antiphase), then the choice (1-3 or a click). Returns the chosen position (0-2).
  int headphone_trial(const PlannedTrial& t, const std::string& order, PlayReport* play, double* response_onset,
                      double* event_t);
  bool headphone_block(const PlannedBlock& b);
  // CSV responses "@abort" / "@pause" press Ctrl+Shift+Q / Ctrl+Shift+P; after a pause the
  // answer becomes the correct one. Returns whether to go on and answer.
  bool scripted_keys(std::pair<std::string, double>& ans, const PlannedTrial& t) {
    if (ans.first == "@abort") {
      d_->push_key("Q", true, true);
      ans.first = "@aborting";
      return false;
    }
    if (ans.first == "@pause") {
      d_->push_key("P", true, true);
      ans.first = t.category;
    }
    return ans.first != "@aborting";
  }
};

std::vector<InputEvent> Runner::poll() {
  std::vector<InputEvent> out;
  for (auto& ev : d_->poll_events()) {
    if (ev.type == InputEvent::quit) throw Aborted{};
    if (ev.type == InputEvent::key_down && ev.ctrl && ev.shift && lower(ev.key) == "q") throw Aborted{};
    if (ev.type == InputEvent::key_down && ev.ctrl && ev.shift && lower(ev.key) == "p") {
      pause_requested_ = true;
      continue;
    }
    out.push_back(ev);
  }
  return out;
}

void Runner::text_screen(const std::string& text, const std::string& hint) {
  drain();
  double shown = 0;
  bool pushed = false;
  for (;;) {
    d_->clear(style_.background);
    d_->text(text, d_->width() / 2.0f, d_->height() / 2.0f, style_.label);
    if (!hint.empty()) d_->text(hint, d_->width() / 2.0f, d_->height() - 60.0f, style_.label, 20);
    const Flip f = d_->flip();
    if (shown == 0) shown = f.t;
    if (auto_.on() && !pushed && f.t - shown > 0.05) {
      d_->push_key("Space");
      pushed = true;
    }
    for (const auto& ev : poll())
      if (ev.type == InputEvent::key_down && (ev.key == "Space" || ev.key == "Return")) return;
  }
}

void Runner::maybe_pause(int64_t at) {
  if (!pause_requested_) return;
  pause_requested_ = false;
  store_->add_session_event(sid_, "pause", at, "");
  text_screen("Paused.", "Press Space to continue");
  store_->add_session_event(sid_, "continue", at, "");
}

void Runner::show_phase(PhaseLog& ph, int frames, double requested_s, const std::function<void()>& draw,
                        std::vector<std::pair<std::string, Image>>* shots) {
  ph.frames = frames;
  ph.requested_s = requested_s;
  ph.realized_ms = frames * d_->frame_ms();
  for (int i = 0; i < frames; ++i) {
    draw();
    if (shots && i == 0) shots->push_back({ph.name, d_->capture()});
    const Flip f = d_->flip();
    if (i == 0) ph.actual_s = f.t;
    // The first fixation frame's interval spans the between-trial loading: not a drop.
    if (f.dropped && !(i == 0 && ph.name == "fixation")) ++ph.dropped;
    ++ph.shown;
    poll();  // abort key only; nothing else happens during presentation
  }
}

void Runner::blank_frames(int frames) {
  for (int i = 0; i < frames; ++i) {
    d_->clear(style_.background);
    d_->flip();
    poll();
  }
}

int Runner::respond_grid(const PlannedTrial& t, double onset, double* event_t) {
  const IconGrid grid = layout_icon_grid(static_cast<int>(alt_names_.size()), d_->width(), d_->height());
  bool pushed = false;
  std::pair<std::string, double> ans;
  if (auto_.on()) ans = auto_.answer(t, alt_names_);
  int hover = -1;
  for (;;) {
    for (const auto& ev : poll()) {
      if (ev.type == InputEvent::mouse_move) hover = grid.hit(ev.x, ev.y);
      if (ev.type == InputEvent::mouse_down && ev.button == 1) {
        const int k = grid.hit(ev.x, ev.y);
        if (k >= 0) return *event_t = ev.t, k;
      }
      if (ev.type == InputEvent::key_down && ev.key.size() == 1 && ev.key[0] >= '1' && ev.key[0] <= '9') {
        const int k = ev.key[0] - '1';
        if (k < static_cast<int>(alt_names_.size())) return *event_t = ev.t, k;
      }
    }
    const double now = now_s();
    if (t.timing.response_ms > 0 && now > onset + t.timing.response_ms / 1000.0) return -1;
    // The scripted click lands at its planned time: within a frame of it, wait for it and
    // read the event at once instead of after the next flip.
    if (auto_.on() && !pushed && now + d_->frame_ms() / 1000.0 >= onset + ans.second && scripted_keys(ans, t)) {
      wait_until(onset + ans.second);
      auto it = std::find(alt_names_.begin(), alt_names_.end(), ans.first);
      const int k = it == alt_names_.end() ? 0 : static_cast<int>(it - alt_names_.begin());
      d_->push_click(grid.tiles[k].cx(), grid.tiles[k].cy());
      pushed = true;
      continue;
    }
    d_->clear(style_.background);
    draw_icon_grid(*d_, grid, icons_, alt_names_, hover, -1, style_);
    d_->flip();
  }
}

int Runner::respond_words(const PlannedTrial& t, double onset, double* event_t) {
  GridStyle gs;
  gs.icon = 0;
  gs.pad = 4;
  gs.label_h = 44;
  gs.margin = 120;
  const IconGrid grid = layout_icon_grid(static_cast<int>(alt_names_.size()), d_->width(), d_->height(), gs);
  std::string typed;
  bool pushed = false;
  std::pair<std::string, double> ans;
  if (auto_.on()) ans = auto_.answer(t, alt_names_);
  auto matches = [&]() {
    std::vector<int> m;
    for (size_t i = 0; i < alt_names_.size(); ++i)
      if (!typed.empty() && lower(alt_names_[i]).rfind(lower(typed), 0) == 0) m.push_back(static_cast<int>(i));
    return m;
  };
  for (;;) {
    for (const auto& ev : poll()) {
      if (ev.type == InputEvent::mouse_down && ev.button == 1) {
        const int k = grid.hit(ev.x, ev.y);
        if (k >= 0) return *event_t = ev.t, k;
      }
      if (ev.type == InputEvent::text_input) typed += ev.text;
      if (ev.type == InputEvent::key_down && ev.key == "Backspace" && !typed.empty()) typed.pop_back();
      if (ev.type == InputEvent::key_down && ev.key == "Tab") {
        auto m = matches();
        if (!m.empty()) typed = alt_names_[m[0]];
      }
      if (ev.type == InputEvent::key_down && ev.key == "Return") {
        auto m = matches();
        if (!m.empty()) return *event_t = ev.t, m[0];
      }
    }
    const double now = now_s();
    if (t.timing.response_ms > 0 && now > onset + t.timing.response_ms / 1000.0) return -1;
    if (auto_.on() && !pushed && now + d_->frame_ms() / 1000.0 >= onset + ans.second && scripted_keys(ans, t)) {
      wait_until(onset + ans.second);  // as for clicks: the keys land at their planned time
      // Types the shortest prefix that completes uniquely, then Return (type-ahead).
      std::string w = ans.first, prefix;
      for (size_t n = 1; n <= w.size(); ++n) {
        prefix = w.substr(0, n);
        int count = 0;
        for (const auto& a : alt_names_) count += lower(a).rfind(lower(prefix), 0) == 0;
        if (count == 1) break;
      }
      d_->push_text(prefix);
      d_->push_key("Return");
      pushed = true;
      continue;
    }
    auto m = matches();
    const int sel = m.empty() ? -1 : m[0];
    d_->clear(style_.background);
    draw_icon_grid(*d_, grid, {}, alt_names_, -1, sel, style_);
    const std::string shown = typed.empty() ? "Type the word you heard" : typed + (sel >= 0 ? "  ->  " + alt_names_[sel] : "  (no match)");
    d_->text(shown, d_->width() / 2.0f, 60, style_.label);
    d_->flip();
  }
}

void Runner::feedback(const PlannedTrial& t, const std::string& response) {
  const bool ok = response == t.category;
  const std::string msg = ok ? "Correct" : response.empty() ? "Too slow: it was " + t.category : "Wrong: it was " + t.category;
  const Color c = ok ? Color{0, 0.45f, 0, 1} : Color{0.6f, 0, 0, 1};
  const int n = d_->frames_for(800).frames;
  for (int i = 0; i < n; ++i) {
    d_->clear(style_.background);
    d_->text(msg, d_->width() / 2.0f, d_->height() / 2.0f, c);
    d_->flip();
    poll();
  }
}


// [SECTION] Trials ------------------------------------------------------------------------
void Runner::commit(const data::TrialRecord& r) {
  if (!store_) return;  // a preview (preview_trial) records nothing
  const double c0 = now_s();
  store_->add_trial(r);
  res_.commit_ms.push_back((now_s() - c0) * 1000.0);
  answered_.insert(r.trial_index);
  ++res_.answered_now;
}

data::TrialRecord Runner::run_trial(const PlannedTrial& t, const json& live) {
  const bool image = plan_.modality == Modality::image;
  const bool shoot = image && !o_.screenshots.empty() && !shots_taken_;
  std::vector<std::pair<std::string, Image>> shots;
  // Before the trial: load and upload (disk allowed here).
  Texture tex;
  Sound sound;
  experiments::StimulusSize shown;
  Filter filter = Filter::automatic;
  double clip_peak = 0;
  if (image) {
    // Nearest and native sizes upload the file's own pixels and magnify on the GPU; linear
    // magnifies on the GPU too, but shrinks on the CPU (area-averaged) to draw texel-exact.
    bool fit_icon = false;
    shown = size_for(t.stimulus, &fit_icon);
    const bool cpu_resize = fit_icon || (shown.scaling == experiments::Scaling::linear && shown.factor < 1);
    stimuli::ImageSpec spec;
    spec.width = cpu_resize ? shown.width : shown.image_w;
    spec.height = cpu_resize ? shown.height : shown.image_h;
    tex = d_->upload(stimuli::load_image(t.stimulus, spec));
    filter = shown.scaling == experiments::Scaling::linear ? Filter::linear : Filter::nearest;
  } else {
    stimuli::AudioSpec spec;
    spec.sample_rate = e_->audio.sample_rate;
    spec.samples = static_cast<int64_t>(e_->audio.clip_ms) * e_->audio.sample_rate / 1000;
    spec.rms = e_->audio.rms();
    const stimuli::Array clip = stimuli::load_audio(t.stimulus, spec);
    for (float x : clip.data) clip_peak = std::max(clip_peak, static_cast<double>(std::fabs(x)));
    sound = audio_->load(clip, e_->audio.sample_rate);
  }
  const Texture mask = masks_.empty() ? Texture{} : masks_[static_cast<size_t>(t.index) % masks_.size()];
  const int fix_n = d_->frames_for(t.timing.fixation_ms).frames;
  const int stim_n = image ? std::max(1, d_->frames_for(t.timing.stimulus_ms).frames)
                           : std::max(1, d_->frames_for(e_->audio.clip_ms).frames);
  const int mask_n = image ? d_->frames_for(t.timing.mask_ms).frames : 0;
  const double fs = d_->frame_ms() / 1000.0;
  drain();
  if (res_.first_trial_s == 0) res_.first_trial_s = now_s() - start_s_;

  // Presentation: no disk, no database from fixation onset to the end of the mask.
  PhaseLog fix{"fixation"}, stim{"stimulus"}, msk{"mask"}, resp{"response"};
  Rect shown_at;
  const double last = d_->frame_log().last_flip_s();
  show_phase(fix, fix_n, last > 0 ? last + fs : now_s(), [&] { draw_fixation(*d_, style_); }, shoot ? &shots : nullptr);
  if (fix_n == 0) fix.actual_s = now_s();
  const double stim_req = fix.actual_s + fix_n * fs;
  PlayReport play;
  double stim_onset = 0;
  if (image) {
    const float sw = static_cast<float>(shown.width), sh = static_cast<float>(shown.height);
    show_phase(stim, stim_n, stim_req, [&] { shown_at = draw_stimulus(*d_, tex, sw, sh, style_, filter); },
               shoot ? &shots : nullptr);
    stim_onset = stim.actual_s;
    if (mask_n > 0)
      show_phase(msk, mask_n, stim.actual_s + stim_n * fs, [&] { draw_stimulus(*d_, mask, sw, sh, style_, filter); },
                 shoot ? &shots : nullptr);
  } else {
    play = audio_->play_at(sound, stim_req);
    stim_onset = play.onset_s;
    show_phase(stim, stim_n, stim_req, [&] { draw_fixation(*d_, style_); }, nullptr);
    // The clip is heard until a little after its frames (it starts when the device plays it,
    // play.onset_s). The fixation stays, frame by frame, until it has ended, so the response
    // screen follows it on the next frame, not after a gap in the flips; these frames are the
    // stimulus phase's frames_shown beyond its frames.
    for (const double give_up = now_s() + 5.0; audio_->playing(sound) && now_s() < give_up;) {
      draw_fixation(*d_, style_);
      if (d_->flip().dropped) ++stim.dropped;
      ++stim.shown;
      poll();
    }
  }
  // Response screen.
  const double resp_req = (mask_n > 0 ? msk.actual_s + mask_n * fs : stim.actual_s + stim_n * fs);
  resp.requested_s = resp_req;
  resp.frames = 1;
  if (image) {
    const IconGrid grid = layout_icon_grid(static_cast<int>(alt_names_.size()), d_->width(), d_->height());
    d_->clear(style_.background);
    draw_icon_grid(*d_, grid, icons_, alt_names_, -1, -1, style_);
  } else {
    d_->clear(style_.background);
    d_->text("Type the word you heard", d_->width() / 2.0f, 60, style_.label);
  }
  if (shoot) shots.push_back({"response", d_->capture()});
  const Flip rf = d_->flip();
  resp.actual_s = rf.t;
  resp.shown = 1;
  resp.dropped = rf.dropped;
  double ev_t = 0;
  const int k = image ? respond_grid(t, rf.t, &ev_t) : respond_words(t, rf.t, &ev_t);
  d_->clear(style_.background);
  d_->flip();

  data::TrialRecord r = experiments::planned_record(sid_, t);
  r.alternatives_json = json(alt_names_).dump();
  if (k >= 0) {
    r.response = alt_names_[static_cast<size_t>(k)];
    r.rt_response_ms = (ev_t - rf.t) * 1000.0;
    r.rt_stimulus_ms = (ev_t - stim_onset) * 1000.0;
  }
  r.correct = r.response == t.category;
  json tj;
  tj["frame_hz"] = d_->info().frame_hz;
  const std::vector<PhaseLog*> phases = image ? std::vector<PhaseLog*>{&fix, &stim, &msk, &resp}
                                              : std::vector<PhaseLog*>{&fix, &stim, &resp};
  const int requested_ms[] = {t.timing.fixation_ms, image ? t.timing.stimulus_ms : e_->audio.clip_ms,
                              image ? t.timing.mask_ms : t.timing.response_ms, t.timing.response_ms};
  for (size_t i = 0; i < phases.size(); ++i) {
    const PhaseLog& p = *phases[i];
    r.dropped_frames += p.dropped;
    tj[p.name] = {{"requested_s", p.requested_s},
                  {"actual_s", p.actual_s},
                  {"flip_error_ms", (p.actual_s - p.requested_s) * 1000.0},
                  {"requested_ms", p.name == "response" ? t.timing.response_ms : requested_ms[i]},
                  {"frames", p.frames},
                  {"frames_shown", p.shown},
                  {"realized_ms", p.realized_ms},
                  {"dropped", p.dropped}};
  }
  if (image) {
    json sz = {{"scaling", experiments::scaling_name(shown.scaling)},
               {"requested", experiments::scaling_name(shown.requested)},
               {"factor", shown.factor},
               {"image_px", {shown.image_w, shown.image_h}},
               {"shown_px", {shown.width, shown.height}},
               {"rect", {shown_at.x, shown_at.y, shown_at.w, shown_at.h}},
               {"box_px", shown.box_px}};
    if (shown.width_deg > 0) sz["deg"] = {shown.width_deg, shown.height_deg};
    tj["stimulus_size"] = sz;
  } else {
    r.audio_onset_ms = (play.onset_s - play.requested_s) * 1000.0;
    const double gain_db = output_gain_db();
    tj["audio"] = {{"requested_s", play.requested_s}, {"called_s", play.called_s}, {"onset_s", play.onset_s},
                   {"onset_mix_ns", play.onset_mix_ns}, {"latency_ns", play.latency_ns},
                   {"uncertainty_ms", play.uncertainty_ms}, {"method", play.method},
                   {"rms_dbfs", e_->audio.rms_dbfs}, {"gain_db", gain_db},
                   {"peak_dbfs", clip_peak > 0 ? 20 * std::log10(clip_peak) + gain_db : -999.0}};
    audio_->unload(sound);
  }
  if (!live.is_null()) tj["live"] = live;
  r.timing_json = tj.dump();
  commit(r);
  if (tex.valid()) d_->release(tex);
  if (shoot) {
    shots_taken_ = true;
    std::filesystem::create_directories(o_.screenshots);
    for (const auto& [name, img] : shots)
      save_png(o_.screenshots + "/trial" + std::to_string(t.index) + "_" + name + ".png", img);
  }
  return r;
}

// [SECTION] Live --------------------------------------------------------------------------
const experiments::LiveSettings& Runner::live_settings(const PlannedTrial& t) const {
  const experiments::Condition* c = e_->find_condition(t.condition);
  return e_->sources.at(static_cast<size_t>(c ? c->source : 0)).live_settings;
}

size_t Runner::next_trial(const std::vector<int64_t>& todo, json& live) {
  const PlannedTrial& first = plan_.trials[static_cast<size_t>(todo.front())];
  if (!first.live || o_.live->poll(first.index).state != LiveStimulus::State::pending) return 0;
  if (live_settings(first).when_late == "reorder") {
    for (size_t k = 1; k < todo.size(); ++k) {
      const PlannedTrial& c = plan_.trials[static_cast<size_t>(todo[k])];
      if (c.live && o_.live->poll(c.index).state == LiveStimulus::State::pending) continue;
      live["reordered"] = {{"ahead_of", first.index}, {"planned_position", c.index_in_block},
                           {"shown_instead_of_position", first.index_in_block}};
      ++res_.live.reordered;
      store_->add_session_event(sid_, "note", c.index,
                                "live: trial " + std::to_string(c.index) + " ran before trial " +
                                    std::to_string(first.index) + " (its metamer was not ready; when_late = reorder)");
      return k;
    }
  }
  wait_for_live(first.index, live);  // wait, or reorder with no ready trial left in the block
  return 0;
}

// The preparing screen: neutral, before the fixation, until the worker has the metamer
// (or has given up on it). The abort and pause keys work; its duration is recorded.
void Runner::wait_for_live(int64_t trial, json& live) {
  const double t0 = now_s();
  drain();
  while (o_.live->poll(trial).state == LiveStimulus::State::pending) {
    d_->clear(style_.background);
    d_->text("Preparing the next trial...", d_->width() / 2.0f, d_->height() / 2.0f, style_.label);
    d_->flip();
    poll();
  }
  const double waited_ms = (now_s() - t0) * 1000.0;
  live["waited_ms"] = waited_ms;
  ++res_.live.waited;
  res_.live.wait_ms.push_back(waited_ms);
  store_->add_session_event(sid_, "note", trial,
                            "live: trial " + std::to_string(trial) + " waited " + std::to_string(std::lround(waited_ms)) +
                                " ms for its metamer (when_late = wait)");
}

PlannedTrial Runner::resolve_live(const PlannedTrial& planned, json& live) {
  PlannedTrial t = planned;
  if (!t.live) return t;
  const LiveStimulus s = o_.live->poll(t.index);
  // The margin: how long before this trial the metamer was ready (after a wait: minus the wait).
  const double lead = live.contains("waited_ms") ? -live["waited_ms"].get<double>() / 1000.0 : live_clock_s() - s.ready_s;
  live["lead_s"] = lead;
  if (res_.live.trials == 0 || lead < res_.live.min_lead_s) res_.live.min_lead_s = lead;
  ++res_.live.trials;
  live["metamer_id"] = s.metamer_id;
  live["attempt"] = s.attempt;
  live["seed"] = s.seed;
  live["reused"] = s.reused;
  if (s.state == LiveStimulus::State::ready) {
    t.stimulus = s.path;
    t.stimulus_sha256 = s.sha256;
    live["state"] = "ready";
    return t;
  }
  // No passing metamer (or the worker failed): the natural stimulus, marked as a fallback.
  live["state"] = "failed";
  live["reason"] = s.reason;
  ++res_.live.fell_back;
  t.condition = "natural";
  t.model.clear();
  t.layer.clear();
  t.is_metamer = false;
  t.fell_back = true;
  t.stimulus = t.reference;
  t.stimulus_sha256 = data::sha256_file(t.reference);
  return t;
}

void Runner::live_notes(int64_t at) {
  if (!o_.live) return;
  for (const auto& n : o_.live->take_notes()) {
    store_->add_session_event(sid_, "note", at, n);
    log_ << n << "\n";
  }
}

// [SECTION] Audio screens -----------------------------------------------------------------
// Audio sessions start here: the calibration tone (1 kHz at the stimuli's RMS, [audio]
// rms_dbfs) repeats at the station's output gain while the listener sets a comfortable
// level with Up/Down (1 dB a press, never so loud that the loudest clip would clip; not
// at all when the station fixes the level); Space continues. An SPL meter on the
// headphones reads the stimuli's level here (the station's tone_spl_db records it).
void Runner::volume_screen() {
  const int rate = e_->audio.sample_rate;
  const double rms = e_->audio.rms();
  std::vector<float> tone(static_cast<size_t>(rate));  // 1 s, 1 kHz, 10 ms ramps
  for (size_t i = 0; i < tone.size(); ++i) {
    const double ramp = std::min({1.0, i / (0.01 * rate), (tone.size() - i) / (0.01 * rate)});
    tone[i] = static_cast<float>(rms * std::sqrt(2.0) * ramp * std::sin(2 * M_PI * 1000.0 * i / rate));
  }
  const experiments::Station* st = o_.station_profile ? &*o_.station_profile : nullptr;
  const bool fixed = st && st->audio.fixed_level;
  const double station_db = audio_->info().gain_db;
  // The loudest the listener may go: the loudest clip (or the tone) just at full scale.
  const double loudest = std::max(audio_peak_, rms * std::sqrt(2.0));
  const double max_db = loudest > 0 ? -20 * std::log10(loudest) : 20;
  Sound snd = audio_->load(tone, 1, rate);
  drain();
  double shown = 0;
  bool pushed = false;
  listener_db_ = 0;
  audio_->set_volume(static_cast<float>(std::pow(10.0, output_gain_db() / 20)));
  char line[256];
  for (bool done = false; !done;) {
    if (!audio_->playing(snd)) audio_->play_at(snd, 0);
    d_->clear(style_.background);
    const float cx = d_->width() / 2.0f, cy = d_->height() / 2.0f;
    d_->text(fixed ? "The sound level is set for this station" : "Set the volume to a comfortable level", cx, cy - 60,
             style_.label);
    std::snprintf(line, sizeof line, "Calibration tone: 1 kHz at %.1f dBFS RMS (the stimuli's level), output gain %+.1f dB%s%s",
                  e_->audio.rms_dbfs, output_gain_db(), st ? " (station " : "", st ? (st->name + ")").c_str() : "");
    const float room = d_->width() * 0.94f, wide = d_->text_size(line, 20).first;
    d_->text(line, cx, cy, style_.label, wide > room ? 20 * room / wide : 20);
    if (fixed) std::snprintf(line, sizeof line, "Space to continue");
    else
      std::snprintf(line, sizeof line, "Up / Down to change (now %+.0f dB)%s; Space to continue", listener_db_,
                    output_gain_db() + 1 > max_db + 1e-9 ? ", louder would clip" : "");
    d_->text(line, cx, cy + 40, style_.label, 22);
    if (shown == 0 && !o_.screenshots.empty()) {  // pilots: the calibration tone's screen
      std::filesystem::create_directories(o_.screenshots);
      save_png(o_.screenshots + "/volume.png", d_->capture());
    }
    const Flip f = d_->flip();
    if (shown == 0) shown = f.t;
    if (auto_.on() && !pushed && f.t - shown > 0.05) {
      d_->push_key("Space");
      pushed = true;
    }
    for (const auto& ev : poll()) {
      if (ev.type != InputEvent::key_down) continue;
      if (!fixed && ev.key == "Up" && output_gain_db() + 1 <= max_db + 1e-9) listener_db_ += 1;
      if (!fixed && ev.key == "Down" && listener_db_ > -40) listener_db_ -= 1;
      if (ev.key == "Space" || ev.key == "Return") done = true;
      audio_->set_volume(static_cast<float>(std::pow(10.0, output_gain_db() / 20)));
    }
  }
  audio_->stop(snd);
  audio_->unload(snd);
  const double gain = std::pow(10.0, output_gain_db() / 20);
  std::string detail;
  std::snprintf(line, sizeof line, "volume %.3f (%+.1f dB): station gain %+.1f dB, listener %+.1f dB; tone %.1f dBFS RMS",
                gain, output_gain_db(), station_db, listener_db_, e_->audio.rms_dbfs);
  detail = line;
  if (st && st->audio.tone_spl_db > 0) {
    std::snprintf(line, sizeof line, "; stimuli about %.1f dB SPL",
                  st->audio.tone_spl_db + (e_->audio.rms_dbfs - st->audio.tone_dbfs) + listener_db_);
    detail += line;
  }
  store_->add_session_event(sid_, "note", 0, detail);
}

// The antiphase headphone check (Woods et al. 2017): three 200 Hz tones per trial, one
// 6 dB quieter, one in antiphase between the ears (quieter over loudspeakers only); the
// listener picks the quietest (1-3 or a click).
int Runner::headphone_trial(const PlannedTrial& t, const std::string& order, PlayReport* play,
                            double* response_onset, double* event_t) {
  const int rate = e_->audio.sample_rate;
  const int tone_n = rate * o_.headphone_tone_ms / 1000, gap_n = rate / 2 * o_.headphone_tone_ms / 1000;
  const int ramp_n = std::max(1, tone_n / 10);
  std::vector<float> st(static_cast<size_t>(3 * tone_n + 2 * gap_n) * 2, 0.0f);
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < tone_n; ++i) {
      const double ramp = std::min({1.0, static_cast<double>(i) / ramp_n, static_cast<double>(tone_n - i) / ramp_n});
      const char kind = order[static_cast<size_t>(k)];
      const double v = 0.1 * std::sqrt(2.0) * ramp * std::sin(2 * M_PI * 200.0 * i / rate) * (kind == 'Q' ? 0.5 : 1.0);
      const size_t at = static_cast<size_t>(k * (tone_n + gap_n) + i) * 2;
      st[at] = static_cast<float>(v);
      st[at + 1] = static_cast<float>(kind == 'A' ? -v : v);
    }
  const std::vector<std::string> names = {"1", "2", "3"};
  const IconGrid grid = layout_icon_grid(3, d_->width(), d_->height());
  Sound snd = audio_->load(st, 2, rate);
  drain();
  *play = audio_->play_at(snd, 0);
  while (audio_->playing(snd)) {
    d_->clear(style_.background);
    draw_fixation(*d_, style_);
    d_->flip();
    poll();
  }
  audio_->unload(snd);
  std::pair<std::string, double> ans;
  if (auto_.on()) ans = auto_.answer(t, names);
  bool pushed = false;
  int chosen = -1;
  *response_onset = now_s();
  while (chosen < 0) {
    for (const auto& ev : poll()) {
      if (ev.type == InputEvent::mouse_down && ev.button == 1 && grid.hit(ev.x, ev.y) >= 0)
        chosen = grid.hit(ev.x, ev.y), *event_t = ev.t;
      if (ev.type == InputEvent::key_down && (ev.key == "1" || ev.key == "2" || ev.key == "3"))
        chosen = ev.key[0] - '1', *event_t = ev.t;
    }
    if (auto_.on() && !pushed && now_s() >= *response_onset + ans.second && scripted_keys(ans, t)) {
      d_->push_key(ans.first == "2" || ans.first == "3" ? ans.first : "1");
      pushed = true;
    }
    d_->clear(style_.background);
    draw_icon_grid(*d_, grid, {}, names, -1, -1, style_);
    d_->text("Which tone was the quietest?", d_->width() / 2.0f, 60, style_.label);
    d_->flip();
  }
  return chosen;
}

// --headphone-check: six trials before everything else, their result a session note.
bool Runner::headphone_check() {
  std::mt19937_64 rng(plan_.seed ^ 0x5eedULL);
  text_screen("Headphone check: three tones per trial. Pick the QUIETEST one (1, 2 or 3).");
  int correct = 0;
  for (int trial = 0; trial < experiments::kHeadphoneTrials; ++trial) {
    std::string order = "NQA";
    std::shuffle(order.begin(), order.end(), rng);
    PlannedTrial t;
    t.index = -1 - trial;  // never a planned trial's index (CSV rows do not apply)
    t.category = std::to_string(order.find('Q') + 1);
    PlayReport play;
    double onset = 0, ev_t = 0;
    correct += headphone_trial(t, order, &play, &onset, &ev_t) == static_cast<int>(order.find('Q'));
  }
  const bool pass = correct >= experiments::kHeadphonePassCorrect;
  store_->add_session_event(sid_, "note", 0,
                            "headphone check: " + std::to_string(correct) + "/6 " + (pass ? "passed" : "failed"));
  log_ << "headphone check: " << correct << "/6 " << (pass ? "passed" : "failed") << "\n";
  return pass;
}

// A headphone_check block of the experiment file: planned trials, each committed like any
// trial (response, correctness, times, the tone order in `layer`). Returns whether the
// listener passed (5 of 6; all but one when --max-trials kept fewer).
bool Runner::headphone_block(const PlannedBlock& b) {
  bool any = false;
  for (int i = b.first_trial; i < b.first_trial + b.trials; ++i) any = any || !answered_.count(i);
  if (any) text_screen(b.text);
  for (int i = b.first_trial; i < b.first_trial + b.trials; ++i) {
    if (answered_.count(i)) continue;
    const PlannedTrial& t = plan_.trials[static_cast<size_t>(i)];
    maybe_pause(i);
    if (res_.first_trial_s == 0) res_.first_trial_s = now_s() - start_s_;
    PlayReport play;
    double onset = 0, ev_t = 0;
    const int k = headphone_trial(t, t.layer, &play, &onset, &ev_t);
    data::TrialRecord r = experiments::planned_record(sid_, t);  // a tone trial: no reference or stimulus file
    r.alternatives_json = json({"1", "2", "3"}).dump();
    r.response = std::to_string(k + 1);
    r.correct = r.response == t.category;
    r.rt_response_ms = (ev_t - onset) * 1000.0;
    r.rt_stimulus_ms = (ev_t - play.onset_s) * 1000.0;
    r.audio_onset_ms = (play.onset_s - play.called_s) * 1000.0;
    r.timing_json = json{{"tone_ms", o_.headphone_tone_ms},
                         {"audio", {{"called_s", play.called_s}, {"onset_s", play.onset_s},
                                    {"onset_mix_ns", play.onset_mix_ns}, {"method", play.method}}},
                         {"response", {{"actual_s", onset}}}}
                        .dump();
    commit(r);
    blank_frames(d_->frames_for(t.timing.iti_ms).frames);
  }
  const experiments::BlockScore sc = experiments::score_block(b, store_->trials_of_session(sid_));
  const std::string line = "headphone check: " + std::to_string(sc.correct) + "/" + std::to_string(b.trials) + " " +
                           (sc.passed ? "passed" : "failed") + " (need " + std::to_string(sc.needed) + ")";
  if (any) store_->add_session_event(sid_, "note", b.first_trial, line);
  log_ << line << "\n";
  return sc.passed;
}


// [SECTION] Session -----------------------------------------------------------------------
bool Runner::demo_passed(const PlannedBlock& b) {
  const experiments::BlockScore sc = experiments::score_block(b, store_->trials_of_session(sid_));
  log_ << "demo block: " << sc.correct << " correct of " << b.trials << " (need " << sc.needed << ")\n";
  return sc.passed;
}

// [SECTION] Fidelity ----------------------------------------------------------------------
std::vector<std::string> Runner::check_station_screen() {
  std::vector<std::string> out;
  if (e_->modality != Modality::image) return out;
  const DisplayInfo& di = d_->info();
  for (const auto& sz : sizes_)
    if (sz.width > di.width || sz.height > di.height)
      out.push_back(e_->file + ": the stimuli would be shown at " + std::to_string(sz.width) + "x" +
                    std::to_string(sz.height) + " px, larger than this " + std::to_string(di.width) + "x" +
                    std::to_string(di.height) + " px display; lower [images] size or size_deg (or use a larger window)");
  if (!o_.station_profile || !o_.station_profile->screen.known()) return out;
  const experiments::Station& st = *o_.station_profile;
  if (di.fullscreen && (di.width != st.screen.width_px || di.height != st.screen.height_px))
    out.push_back(st.file + ":" + std::to_string(st.line("screen.width_px")) + ": station " + st.name + "'s screen is " +
                  std::to_string(st.screen.width_px) + "x" + std::to_string(st.screen.height_px) +
                  " px but this display is " + std::to_string(di.width) + "x" + std::to_string(di.height) +
                  " px, so sizes in degrees would be wrong; set the screen to its profile's mode, or correct the profile");
  else if (!di.fullscreen)
    log_ << "station " << st.name << ": windowed " << di.width << "x" << di.height
         << " px; degrees assume the profile's pixel size (" << st.screen.width_cm / st.screen.width_px * 10 << " mm)\n";
  return out;
}

experiments::StimulusSize Runner::size_for(const std::string& image, bool* fit_icon) {
  *fit_icon = false;
  int w = 0, h = 0, n = 0;
  if (!stbi_info(image.c_str(), &w, &h, &n)) stimuli::load_image(image, {});  // throws naming the file
  for (const auto& sz : sizes_)
    if (sz.image_w == w && sz.image_h == h) return sz;
  // Not a validated stimulus size (a catch trial's icon): fitted, on the CPU, into the
  // stimuli's shown size.
  *fit_icon = true;
  const int bw = common_.width > 0 ? common_.width : std::max(1, stim_w_);
  const int bh = common_.height > 0 ? common_.height : std::max(1, stim_h_);
  experiments::StimulusSize s;
  s.requested = e_->images.scaling;
  s.scaling = experiments::Scaling::linear;
  s.image_w = w;
  s.image_h = h;
  s.box_px = std::max(bw, bh);
  s.factor = std::min(static_cast<double>(bw) / w, static_cast<double>(bh) / h);
  s.width = std::max(1, static_cast<int>(std::lround(w * s.factor)));
  s.height = std::max(1, static_cast<int>(std::lround(h * s.factor)));
  if (o_.station_profile && o_.station_profile->screen.known()) {
    s.width_deg = o_.station_profile->screen.px_to_deg(s.width);
    s.height_deg = o_.station_profile->screen.px_to_deg(s.height);
  }
  return s;
}

std::string Runner::session_display_json() const {
  json j = json::parse(display_provenance_json(d_->info()));
  const experiments::Station* st = o_.station_profile ? &*o_.station_profile : nullptr;
  if (e_->modality == Modality::image) {
    json sizes = json::array();
    for (const auto& sz : sizes_) {
      json x = {{"image_px", {sz.image_w, sz.image_h}}, {"shown_px", {sz.width, sz.height}},
                {"scaling", experiments::scaling_name(sz.scaling)}, {"factor", sz.factor}, {"snapped", sz.snapped}};
      if (sz.width_deg > 0) x["deg"] = {sz.width_deg, sz.height_deg};
      sizes.push_back(x);
    }
    j["stimulus"] = {{"scaling_requested", experiments::scaling_name(e_->images.scaling)},
                     {"size_px", e_->images.size},
                     {"size_deg", e_->images.size_deg},
                     {"fit", e_->images.fit},
                     {"sizes", sizes}};
  }
  j["gamma"] = {{"method", d_->info().gamma},
                {"calibration", st ? st->gamma.describe() : std::string("none")}};
  if (st) {
    j["station"] = {{"name", st->name}, {"path", st->path}, {"sha256", st->sha256}, {"text", st->text}};
    if (st->screen.known())
      j["station"]["screen"] = {{"width_cm", st->screen.width_cm}, {"width_px", st->screen.width_px},
                                {"height_px", st->screen.height_px}, {"distance_cm", st->screen.distance_cm},
                                {"px_per_deg", st->screen.px_per_deg()}};
  } else {
    j["station"] = {{"name", o_.station}, {"profile", nullptr}};
  }
  return j.dump();
}

std::string Runner::session_audio_json() const {
  if (!audio_) return "{}";
  json j = json::parse(audio_provenance_json(audio_->info()));
  j["rms_dbfs"] = e_->audio.rms_dbfs;
  j["peak_dbfs"] = audio_peak_ > 0 ? 20 * std::log10(audio_peak_) : -999.0;  // the loudest clip, before gain
  if (o_.station_profile) {
    const experiments::StationAudio& a = o_.station_profile->audio;
    j["station"] = {{"name", o_.station_profile->name}, {"sha256", o_.station_profile->sha256},
                    {"device", a.device}, {"gain_db", a.gain_db}, {"fixed_level", a.fixed_level},
                    {"tone_dbfs", a.tone_dbfs}, {"tone_spl_db", a.tone_spl_db}};
  }
  return j.dump();
}

RunResult Runner::refuse(const std::vector<std::string>& lines) {
  for (const auto& l : lines) log_ << l << "\n";
  res_.refused = true;
  res_.exit_code = 1;
  return res_;
}

RunResult Runner::run_file() {
  start_s_ = now_s();
  experiments::LoadOptions lo;
  lo.default_database = o_.db;
  own_x_.file = o_.experiment;
  own_x_.experiment = experiments::load_experiment(o_.experiment, lo);  // throws FILE:LINE: ...
  e_ = &*own_x_.experiment;
  // Audio first: no device, no session.
  if (e_->modality == Modality::audio) audio_ = std::make_unique<AudioOutput>(runner_audio_options(o_));
  own_display_ = std::make_unique<Display>(runner_display_options(o_));
  d_ = own_display_.get();
  experiments::ValidateOptions vo;
  vo.refresh_hz = own_x_.refresh_hz = d_->info().frame_hz;
  if (o_.station_profile) vo.station = &*o_.station_profile;
  vo.live_check = o_.live_check;
  own_x_.validation = experiments::validate_experiment(*e_, vo);
  if (!own_x_.validation.ok()) return refuse(own_x_.validation.errors());
  store_ = std::make_unique<data::Store>(o_.db, o_.store);
  const experiments::SessionPlan sp = experiments::plan_session(*e_, o_.request, store_.get());
  return open_and_present(own_x_, sp);
}

RunResult Runner::run_prepared(const experiments::CheckedExperiment& x, const experiments::SessionPlan& sp) {
  start_s_ = now_s();
  if (!x.ok()) return refuse(x.errors);
  e_ = &*x.experiment;
  if (e_->modality == Modality::audio) audio_ = std::make_unique<AudioOutput>(runner_audio_options(o_));
  // The lent display shows the session through the station's gamma table too.
  if (o_.station_profile && d_->info().gamma == "none")
    d_->set_gamma_table(experiments::gamma_correction_table(o_.station_profile->gamma));
  store_ = std::make_unique<data::Store>(o_.db, o_.store);
  return open_and_present(x, sp);
}

void Runner::take_validation(const experiments::Validation& v) {
  sizes_ = v.sizes;
  common_ = v.stimulus;
  audio_peak_ = v.audio_peak;
  if (v.stimulus_width > 0) stim_w_ = v.stimulus_width, stim_h_ = v.stimulus_height;
  else if (!sizes_.empty()) stim_w_ = stim_h_ = std::max(1, sizes_.front().box_px);
}

void Runner::upload_assets() {
  for (const auto& a : plan_.alternatives) alt_names_.push_back(a.name);
  if (plan_.modality == Modality::image) {
    stimuli::ImageSpec is;
    is.width = is.height = 128;
    for (const auto& a : plan_.alternatives)
      icons_.push_back(a.icon.empty() ? Texture{} : d_->upload(stimuli::load_image(a.icon, is)));
    masks_ = upload_masks(*d_, 4, stim_w_, stim_h_, 3, 4, plan_.seed + 7);
  }
  d_->show_cursor(auto_.on() ? false : true);
}

TrialPreview Runner::run_preview(const experiments::CheckedExperiment& x, const Plan& plan, int64_t trial) {
  TrialPreview pv;
  start_s_ = now_s();
  if (!x.ok()) {
    pv.error = "the experiment has errors (see the messages); a trial can be previewed once it validates";
    return pv;
  }
  if (trial < 0 || trial >= static_cast<int64_t>(plan.trials.size())) {
    pv.error = "the plan has no trial " + std::to_string(trial + 1) + " (it has " + std::to_string(plan.trials.size()) + ")";
    return pv;
  }
  e_ = &*x.experiment;
  plan_ = plan;
  PlannedTrial t = plan_.trials[static_cast<size_t>(trial)];
  if (plan_.blocks[static_cast<size_t>(t.block)].kind == BlockKind::headphone_check) {
    pv.error = "a headphone-check trial is the fixed three-tone check; preview a practice, demo, main or catch trial";
    return pv;
  }
  if (t.live) {  // made by the worker during a session, from the participant's seeds
    pv.note = "this trial's metamer is made live during the session; the preview shows its reference";
    t.stimulus = t.reference;
    t.condition = "natural";
    t.is_metamer = false;
  }
  if (e_->modality == Modality::audio) audio_ = std::make_unique<AudioOutput>(runner_audio_options(o_));
  if (o_.station_profile && d_->info().gamma == "none")
    d_->set_gamma_table(experiments::gamma_correction_table(o_.station_profile->gamma));
  take_validation(x.validation);
  if (const auto problems = check_station_screen(); !problems.empty()) {
    pv.error = problems.front();
    return pv;
  }
  upload_assets();
  try {
    pv.record = run_trial(t);
    if (t.feedback) feedback(t, pv.record.response);
    blank_frames(d_->frames_for(t.timing.iti_ms).frames);
  } catch (const Aborted&) {
    pv.aborted = true;
  }
  pv.shown = true;
  return pv;
}

RunResult Runner::open_and_present(const experiments::CheckedExperiment& x, const experiments::SessionPlan& sp) {
  take_validation(x.validation);
  res_.action = sp.action;
  if (sp.action == experiments::SessionAction::refuse) {
    res_.session_id = sp.existing->id;
    return refuse({sp.message});
  }
  if (const auto problems = check_station_screen(); !problems.empty()) return refuse(problems);
  if (!o_.live && std::any_of(sp.plan.trials.begin(), sp.plan.trials.end(), [](const PlannedTrial& t) { return t.live; }))
    return refuse({e_->file + ": this experiment makes metamers live (generate = \"live\"), which needs the engine; "
                   "start it with metamerlab run or launch"});
  for (const auto& sz : sizes_) log_ << "stimuli: " << experiments::describe(sz) << "\n";
  if (d_->info().gamma != "none")
    log_ << "gamma: " << o_.station_profile->gamma.describe() << ", corrected by a " << d_->info().gamma << "\n";
  plan_ = sp.plan;
  experiments::SessionProvenance pv;
  pv.participant_code = o_.code;
  pv.station = o_.station.empty() ? host_name() : o_.station;
  pv.display_json = session_display_json();
  pv.audio_json = session_audio_json();
  pv.program_version = METAMERLAB_VERSION;
  pv.scripted = o_.auto_policy;
  sid_ = experiments::open_session(*store_, *e_, sp, pv);
  res_.session_id = sid_;
  if (sp.action == experiments::SessionAction::resume) {
    // The session's provenance was recorded when it started; this run's may differ.
    std::string how = "resumed on station " + pv.station;
    if (o_.station_profile) how += " (profile sha256 " + o_.station_profile->sha256 + ")";
    how += ", gamma " + d_->info().gamma;
    for (const auto& sz : sizes_) how += ", stimuli " + experiments::describe(sz);
    if (audio_) {
      char g[48];
      std::snprintf(g, sizeof g, ", station gain %+.1f dB", audio_->info().gain_db);
      how += g;
    }
    store_->add_session_event(sid_, "note", sp.first_unanswered, how);
    answered_ = sp.answered;
    log_ << "resuming session " << sid_ << " at trial " << sp.first_unanswered << " (" << answered_.size() << " of "
         << plan_.trials.size() << " answered)\n";
  } else {
    log_ << "session " << sid_ << ": " << plan_.trials.size() << " trials planned\n";
  }
  return present(sp.first_unanswered);
}

RunResult Runner::present(int64_t first_unanswered) {
  const bool resumed = res_.action == experiments::SessionAction::resume;
  upload_assets();  // everything the trials need that does not change: icons, masks
  // Live generation starts with the session (it works through instructions, practice and
  // demo blocks) and stops when it ends.
  const bool live = std::any_of(plan_.trials.begin(), plan_.trials.end(), [](const PlannedTrial& t) { return t.live; });
  if (live) o_.live->start(sid_, *e_, plan_, answered_);
  const auto end = [&](data::SessionStatus st) {
    if (live) {
      o_.live->stop();
      live_notes(static_cast<int64_t>(plan_.trials.size()));
    }
    store_->finish_session(sid_, st);
    res_.status = st;
    return res_;
  };

  try {
    if (resumed) text_screen("Welcome back. The session continues where it stopped.");
    if (audio_) volume_screen();
    if (audio_ && o_.headphone_check && !resumed && !headphone_check()) {
      text_screen("Thank you for taking part. This task needs headphones; the session ends here.",
                  "Press Space to finish");
      return end(data::SessionStatus::failed_demo);
    }
    for (const auto& b : plan_.blocks) {
      if (b.kind == BlockKind::headphone_check) {
        if (!audio_ || b.trials == 0 || headphone_block(b)) continue;
        text_screen(b.fail_text, "Press Space to finish");
        return end(data::SessionStatus::failed_demo);
      }
      const bool text_block = b.kind == BlockKind::instructions || b.kind == BlockKind::pause ||
                              b.kind == BlockKind::debrief;
      if (text_block) {
        if (b.kind == BlockKind::debrief || b.first_trial >= first_unanswered)
          text_screen(!b.text.empty() ? b.text : b.kind == BlockKind::debrief ? "Thank you!" : "Take a short break.");
        continue;
      }
      bool any = false;
      for (int i = b.first_trial; i < b.first_trial + b.trials; ++i) any = any || !answered_.count(i);
      if (any && !b.text.empty()) text_screen(b.text);
      // The block's remaining trials in plan order; live generation may run a ready trial
      // ahead of one whose metamer is not ready (when_late = reorder). A break belongs to
      // its place in the block, whichever trial fills it.
      std::vector<int64_t> todo;
      for (int i = b.first_trial; i < b.first_trial + b.trials; ++i)
        if (!answered_.count(i)) todo.push_back(i);
      while (!todo.empty()) {
        const int64_t slot = todo.front();
        maybe_pause(slot);
        if (plan_.trials[static_cast<size_t>(slot)].break_before)
          text_screen(b.break_text.empty() ? "Take a short break." : b.break_text);
        json live;
        const size_t k = o_.live ? next_trial(todo, live) : 0;
        const int64_t i = todo[k];
        todo.erase(todo.begin() + static_cast<std::ptrdiff_t>(k));
        live_notes(i);
        const PlannedTrial t = resolve_live(plan_.trials[static_cast<size_t>(i)], live);
        const data::TrialRecord r = run_trial(t, live);
        if (t.feedback) feedback(t, r.response);
        blank_frames(d_->frames_for(t.timing.iti_ms).frames);
      }
      if (b.kind == BlockKind::demo && b.trials > 0 && !demo_passed(b)) {
        text_screen(!b.fail_text.empty() ? b.fail_text
                                         : "Thank you for taking part. The session ends here.",
                    "Press Space to finish");
        return end(data::SessionStatus::failed_demo);
      }
    }
  } catch (const Aborted&) {
    int64_t at = 0;
    while (answered_.count(at)) ++at;
    log_ << "session " << sid_ << " aborted at trial " << at << " (data kept; run the same command to resume)\n";
    res_.exit_code = 4;
    return end(data::SessionStatus::aborted);
  }
  return end(data::SessionStatus::completed);
}

}  // namespace

// [SECTION] Entry points ------------------------------------------------------------------
DisplayOptions runner_display_options(const RunOptions& o) {
  DisplayOptions dopt;
  dopt.fullscreen = !o.windowed;
  dopt.width = o.width;
  dopt.height = o.height;
  dopt.measure_frames = 30;
  if (o.station_profile) dopt.gamma_table = experiments::gamma_correction_table(o.station_profile->gamma);
  return dopt;
}

AudioOptions runner_audio_options(const RunOptions& o) {
  AudioOptions a;
  if (o.station_profile) {
    a.device = o.station_profile->audio.device;
    a.gain_db = o.station_profile->audio.gain_db;
  }
  return a;
}

RunResult run_session(const RunOptions& o, std::ostream& log) {
  Runner r(o, log);
  return r.run_file();
}

RunResult run_prepared_session(Display& display, const experiments::CheckedExperiment& x,
                               const experiments::SessionPlan& plan, const RunOptions& o, std::ostream& log) {
  Runner r(o, log, &display);
  return r.run_prepared(x, plan);
}

TrialPreview preview_trial(Display& display, const experiments::CheckedExperiment& x, const experiments::Plan& plan,
                           int64_t trial, const RunOptions& o, std::ostream& log) {
  Runner r(o, log, &display);
  return r.run_preview(x, plan, trial);
}

}  // namespace mm::app
