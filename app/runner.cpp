// app/runner.cpp: the session runner (`metamerlab run`): plan or resume, present every
// trial frame by frame, commit each answered trial at once, text screens, breaks, practice
// feedback, the demo criterion, pause/abort keys, and the scripted participant (--auto)
// that answers through SDL events pushed into the real queue. Also `metamerlab sessions`.
//
// Sections
//   [SECTION] Scripted participant   correct | random | CSV policies
//   [SECTION] Runner                 screens, trials, blocks
//   [SECTION] Entry points           run_session, list_sessions_command
#include "app/runner.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sqlite3.h>
#include <sstream>

#include "app/audio.h"
#include "app/display.h"
#include "app/screens.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"

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

// [SECTION] Scripted participant ----------------------------------------------------------
class ScriptedParticipant {
 public:
  ScriptedParticipant(const RunOptions& o) : policy_(o.auto_policy), rng_(o.auto_seed), min_(o.auto_min_ms), max_(o.auto_max_ms) {
    if (policy_.empty() || policy_ == "correct" || policy_ == "random") return;
    std::ifstream in(policy_);
    if (!in) throw std::runtime_error("run: --auto " + policy_ + ": not correct, random or a readable CSV file");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      std::stringstream ss(line);
      std::string idx, resp, rt;
      std::getline(ss, idx, ',');
      std::getline(ss, resp, ',');
      std::getline(ss, rt, ',');
      if (idx == "trial_index") continue;  // header
      try {
        rows_[std::stoi(idx)] = {resp, rt.empty() ? -1 : std::stod(rt)};
      } catch (const std::exception&) {
        throw std::runtime_error(policy_ + ":" + std::to_string(n) + ": expected trial_index,response,rt_ms");
      }
    }
    policy_ = "file";
  }
  bool on() const { return !policy_.empty(); }
  // The answer (one of alts) and the delay after response onset in seconds.
  std::pair<std::string, double> answer(const PlannedTrial& t, const std::vector<std::string>& alts) {
    std::uniform_real_distribution<double> d(min_, max_);
    double delay = d(rng_) / 1000.0;
    if (policy_ == "correct") return {t.category, delay};
    if (policy_ == "random") {
      std::uniform_int_distribution<size_t> pick(0, alts.size() - 1);
      return {alts[pick(rng_)], delay};
    }
    auto it = rows_.find(t.index);
    if (it == rows_.end()) return {t.category, delay};
    return {it->second.first, it->second.second >= 0 ? it->second.second / 1000.0 : delay};
  }

 private:
  std::string policy_;
  std::mt19937_64 rng_;
  int min_, max_;
  std::map<int, std::pair<std::string, double>> rows_;
};

// Keeps only the first n trials of each block (pilot runs), renumbering.
void trim_plan(Plan& p, int n) {
  std::vector<PlannedTrial> out;
  for (auto& b : p.blocks) {
    b.first_trial = static_cast<int>(out.size());
    int k = 0;
    for (const auto& t : p.trials) {
      if (t.block != b.index || k >= n) continue;
      PlannedTrial c = t;
      c.index = static_cast<int>(out.size());
      c.index_in_block = k++;
      out.push_back(c);
    }
    b.trials = k;
  }
  p.trials = std::move(out);
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
      : o_(o), log_(log), auto_(o), d_(display) {}
  ~Runner() {
    // A display lent by the caller (the launch screen) outlives the session: give back
    // what was uploaded to it.
    if (d_ && !own_display_) {
      for (auto& t : icons_) d_->release(t);
      for (auto& t : masks_) d_->release(t);
    }
  }
  RunResult run();

 private:
  const RunOptions& o_;
  std::ostream& log_;
  ScriptedParticipant auto_;
  experiments::Experiment e_;
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
  int stim_w_ = 256, stim_h_ = 256;
  bool pause_requested_ = false, shots_taken_ = false;
  double start_s_ = 0;

  std::vector<InputEvent> poll();
  void drain() { d_->poll_events(); }
  void text_screen(const std::string& text, const std::string& hint = "Press Space to continue");
  void maybe_pause(int64_t at);
  void show_phase(PhaseLog& ph, int frames, double requested_s, const std::function<void()>& draw,
                  std::vector<std::pair<std::string, Image>>* shots);
  data::TrialRecord run_trial(const PlannedTrial& t);
  data::TrialRecord planned_record(const PlannedTrial& t) const;  // the plan's fields of a trial's row
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
    if (auto_.on() && !pushed && now >= onset + ans.second && scripted_keys(ans, t)) {
      auto it = std::find(alt_names_.begin(), alt_names_.end(), ans.first);
      const int k = it == alt_names_.end() ? 0 : static_cast<int>(it - alt_names_.begin());
      d_->push_click(grid.tiles[k].cx(), grid.tiles[k].cy());
      pushed = true;
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
    if (auto_.on() && !pushed && now >= onset + ans.second && scripted_keys(ans, t)) {
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

data::TrialRecord Runner::planned_record(const PlannedTrial& t) const {
  data::TrialRecord r;
  r.session_id = sid_;
  r.trial_index = t.index;
  r.block = t.block;
  r.block_kind = t.block_kind;
  r.phase = t.phase;
  r.index_in_block = t.index_in_block;
  r.condition = t.condition;
  r.planned_condition = t.planned_condition;
  r.category = t.category;
  r.reference_path = t.reference;
  r.stimulus_path = t.stimulus;
  r.stimulus_sha256 = t.stimulus_sha256;
  r.model = t.model;
  r.layer = t.layer;
  r.is_metamer = t.is_metamer;
  r.fell_back = t.fell_back;
  return r;
}

void Runner::commit(const data::TrialRecord& r) {
  const double c0 = now_s();
  store_->add_trial(r);
  res_.commit_ms.push_back((now_s() - c0) * 1000.0);
  answered_.insert(r.trial_index);
  ++res_.answered_now;
}

data::TrialRecord Runner::run_trial(const PlannedTrial& t) {
  const bool image = plan_.modality == Modality::image;
  const bool shoot = image && !o_.screenshots.empty() && !shots_taken_;
  std::vector<std::pair<std::string, Image>> shots;
  // Before the trial: load and upload (disk allowed here).
  Texture tex;
  Sound sound;
  if (image) {
    stimuli::ImageSpec spec;
    spec.width = stim_w_;
    spec.height = stim_h_;
    tex = d_->upload(stimuli::load_image(t.stimulus, spec));
  } else {
    stimuli::AudioSpec spec;
    spec.sample_rate = e_.audio.sample_rate;
    spec.samples = static_cast<int64_t>(e_.audio.clip_ms) * e_.audio.sample_rate / 1000;
    sound = audio_->load(stimuli::load_audio(t.stimulus, spec), e_.audio.sample_rate);
  }
  const Texture mask = masks_.empty() ? Texture{} : masks_[static_cast<size_t>(t.index) % masks_.size()];
  const int fix_n = d_->frames_for(t.timing.fixation_ms).frames;
  const int stim_n = image ? std::max(1, d_->frames_for(t.timing.stimulus_ms).frames)
                           : std::max(1, d_->frames_for(e_.audio.clip_ms).frames);
  const int mask_n = image ? d_->frames_for(t.timing.mask_ms).frames : 0;
  const double fs = d_->frame_ms() / 1000.0;
  drain();
  if (res_.first_trial_s == 0) res_.first_trial_s = now_s() - start_s_;

  // Presentation: no disk, no database from fixation onset to the end of the mask.
  PhaseLog fix{"fixation"}, stim{"stimulus"}, msk{"mask"}, resp{"response"};
  const double last = d_->frame_log().last_flip_s();
  show_phase(fix, fix_n, last > 0 ? last + fs : now_s(), [&] { draw_fixation(*d_, style_); }, shoot ? &shots : nullptr);
  if (fix_n == 0) fix.actual_s = now_s();
  const double stim_req = fix.actual_s + fix_n * fs;
  PlayReport play;
  double stim_onset = 0;
  if (image) {
    show_phase(stim, stim_n, stim_req, [&] { draw_stimulus(*d_, tex, e_.images.size, e_.images.size, style_); },
               shoot ? &shots : nullptr);
    stim_onset = stim.actual_s;
    if (mask_n > 0)
      show_phase(msk, mask_n, stim.actual_s + stim_n * fs,
                 [&] { draw_stimulus(*d_, mask, e_.images.size, e_.images.size, style_); }, shoot ? &shots : nullptr);
  } else {
    play = audio_->play_at(sound, stim_req);
    stim_onset = play.onset_s;
    show_phase(stim, stim_n, stim_req, [&] { draw_fixation(*d_, style_); }, nullptr);
    audio_->wait_done(sound, 5.0);
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

  data::TrialRecord r = planned_record(t);
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
  const int requested_ms[] = {t.timing.fixation_ms, image ? t.timing.stimulus_ms : e_.audio.clip_ms,
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
  if (!image) {
    r.audio_onset_ms = (play.onset_s - play.requested_s) * 1000.0;
    tj["audio"] = {{"requested_s", play.requested_s}, {"called_s", play.called_s}, {"onset_s", play.onset_s},
                   {"onset_mix_ns", play.onset_mix_ns}, {"latency_ns", play.latency_ns},
                   {"uncertainty_ms", play.uncertainty_ms}, {"method", play.method}};
    audio_->unload(sound);
  }
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

// Audio sessions start here: a tone at the stimuli's level (RMS 0.1) repeats while the
// listener sets a comfortable level with Up/Down (about 1 dB a press); Space continues.
void Runner::volume_screen() {
  const int rate = e_.audio.sample_rate;
  std::vector<float> tone(static_cast<size_t>(rate));  // 1 s, 1 kHz, 10 ms ramps
  for (size_t i = 0; i < tone.size(); ++i) {
    const double ramp = std::min({1.0, i / (0.01 * rate), (tone.size() - i) / (0.01 * rate)});
    tone[i] = static_cast<float>(0.1 * std::sqrt(2.0) * ramp * std::sin(2 * M_PI * 1000.0 * i / rate));
  }
  Sound snd = audio_->load(tone, 1, rate);
  drain();
  double shown = 0;
  bool pushed = false;
  float gain = audio_->volume();
  for (bool done = false; !done;) {
    if (!audio_->playing(snd)) audio_->play_at(snd, 0);
    d_->clear(style_.background);
    d_->text("Set the volume to a comfortable level", d_->width() / 2.0f, d_->height() / 2.0f - 40, style_.label);
    char buf[64];
    std::snprintf(buf, sizeof buf, "Up / Down to change (now %+.0f dB); Space to continue", 20 * std::log10(gain));
    d_->text(buf, d_->width() / 2.0f, d_->height() / 2.0f + 20, style_.label, 22);
    const Flip f = d_->flip();
    if (shown == 0) shown = f.t;
    if (auto_.on() && !pushed && f.t - shown > 0.05) {
      d_->push_key("Space");
      pushed = true;
    }
    for (const auto& ev : poll()) {
      if (ev.type != InputEvent::key_down) continue;
      if (ev.key == "Up") gain = std::min(4.0f, gain * 1.122f);
      if (ev.key == "Down") gain = std::max(0.05f, gain / 1.122f);
      if (ev.key == "Space" || ev.key == "Return") done = true;
      audio_->set_volume(gain);
    }
  }
  audio_->stop(snd);
  audio_->unload(snd);
  char buf[64];
  std::snprintf(buf, sizeof buf, "volume %.3f (%+.1f dB)", gain, 20 * std::log10(gain));
  store_->add_session_event(sid_, "note", 0, buf);
}

// The antiphase headphone check (Woods et al. 2017): three 200 Hz tones per trial, one
// 6 dB quieter, one in antiphase between the ears (quieter over loudspeakers only); the
// listener picks the quietest (1-3 or a click).
int Runner::headphone_trial(const PlannedTrial& t, const std::string& order, PlayReport* play,
                            double* response_onset, double* event_t) {
  const int rate = e_.audio.sample_rate;
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
    data::TrialRecord r = planned_record(t);  // a tone trial: no reference or stimulus file
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
  int correct = 0;
  for (const auto& tr : store_->trials_of_session(sid_))
    if (tr.block == b.index && tr.correct) ++correct;
  const int need = std::min(experiments::kHeadphonePassCorrect, std::max(1, b.trials - 1));
  const bool pass = correct >= need;
  const std::string line = "headphone check: " + std::to_string(correct) + "/" + std::to_string(b.trials) + " " +
                           (pass ? "passed" : "failed") + " (need " + std::to_string(need) + ")";
  if (any) store_->add_session_event(sid_, "note", b.first_trial, line);
  log_ << line << "\n";
  return pass;
}

bool Runner::demo_passed(const PlannedBlock& b) {
  int correct = 0;
  for (const auto& tr : store_->trials_of_session(sid_))
    if (tr.block == b.index && tr.correct) ++correct;
  const int need = std::min(b.pass_min_correct, b.trials);
  log_ << "demo block: " << correct << " correct of " << b.trials << " (need " << need << ")\n";
  return correct >= need;
}

RunResult Runner::run() {
  start_s_ = now_s();
  experiments::LoadOptions lo;
  lo.default_database = o_.db;
  e_ = experiments::load_experiment(o_.experiment, lo);
  // Audio first: no device, no session.
  if (e_.modality == Modality::audio) audio_ = std::make_unique<AudioOutput>(AudioOptions{});
  if (!d_) {
    own_display_ = std::make_unique<Display>(runner_display_options(o_));
    d_ = own_display_.get();
  }
  experiments::ValidateOptions vo;
  vo.refresh_hz = d_->info().frame_hz;
  const experiments::Validation v = experiments::validate_experiment(e_, vo);
  if (!v.ok()) {
    for (const auto& s : v.errors()) log_ << s << "\n";
    res_.status = "refused";
    res_.exit_code = 1;
    return res_;
  }
  if (v.stimulus_width > 0) stim_w_ = v.stimulus_width, stim_h_ = v.stimulus_height;
  else if (e_.images.size > 0) stim_w_ = stim_h_ = e_.images.size;

  store_ = std::make_unique<data::Store>(o_.db);
  // Testing: METAMERLAB_TEST_DB_MAX_PAGES caps the database file (PRAGMA max_page_count;
  // never below its current size), so tests can fill it up, as a full disk would, even as
  // root. A write past the cap fails like one on a full disk (SQLITE_FULL).
  if (const char* cap = std::getenv("METAMERLAB_TEST_DB_MAX_PAGES"); cap && *cap) {
    const std::string sql = "PRAGMA max_page_count = " + std::to_string(std::strtoll(cap, nullptr, 10));
    sqlite3_exec(store_->handle(), sql.c_str(), nullptr, nullptr, nullptr);
  }
  auto existing = store_->find_session(e_.sha256, o_.participant);
  int64_t first_unanswered = 0;
  if (existing && (existing->status == "running" || existing->status == "aborted")) {
    sid_ = existing->id;
    plan_ = experiments::plan_from_json(existing->session.plan_json, e_.dir);
    for (auto i : store_->answered_trial_indices(sid_)) answered_.insert(i);
    while (answered_.count(first_unanswered)) ++first_unanswered;
    store_->resume_session(sid_, first_unanswered);
    res_.resumed = true;
    log_ << "resuming session " << sid_ << " at trial " << first_unanswered << " (" << answered_.size() << " of "
         << plan_.trials.size() << " answered)\n";
  } else if (existing) {
    log_ << "participant " << o_.participant << " already has a " << existing->status << " session (" << existing->id
         << ") of this experiment; use another participant number\n";
    res_.session_id = existing->id;
    res_.status = "already_done";
    res_.exit_code = 1;
    return res_;
  } else {
    plan_ = o_.has_seed ? experiments::make_plan(e_, o_.participant, o_.seed) : experiments::make_plan(e_, o_.participant);
    if (o_.max_trials >= 0) trim_plan(plan_, o_.max_trials);
    data::SessionRecord s;
    s.participant_code = o_.code.empty() ? "P" + std::to_string(o_.participant) : o_.code;
    s.participant_number = o_.participant;
    s.experiment_path = e_.path;
    s.experiment_sha256 = e_.sha256;
    s.experiment_name = e_.name;
    s.plan_json = experiments::plan_to_json(plan_);
    s.planned_trials = static_cast<int64_t>(plan_.trials.size());
    s.seed = static_cast<int64_t>(plan_.seed);
    s.station = o_.station.empty() ? host_name() : o_.station;
    const DisplayInfo& di = d_->info();
    s.display_json = json{{"driver", di.video_driver}, {"gl_renderer", di.gl_renderer}, {"gl_version", di.gl_version},
                          {"width", di.width}, {"height", di.height}, {"fullscreen", di.fullscreen},
                          {"vsync", di.vsync}, {"pacing", di.pacing}, {"nominal_hz", di.nominal_hz},
                          {"measured_hz", di.measured_hz}, {"frame_hz", di.frame_hz}}
                         .dump();
    s.audio_json = audio_ ? json{{"summary", audio_->info().summary()}, {"device", audio_->info().device},
                                 {"sample_rate", audio_->info().sample_rate},
                                 {"update_samples", audio_->info().update_samples},
                                 {"latency_ms", audio_->info().latency_ms},
                                 {"device_clock", audio_->info().device_clock},
                                 {"source_latency", audio_->info().source_latency}}
                                .dump()
                          : "{}";
    s.program_version = METAMERLAB_VERSION;
    sid_ = store_->create_session(s);
    if (!o_.auto_policy.empty()) store_->add_session_event(sid_, "note", 0, "scripted participant: " + o_.auto_policy);
    log_ << "session " << sid_ << ": " << plan_.trials.size() << " trials planned\n";
  }
  res_.session_id = sid_;

  // Everything the trials need that does not change: icons, masks.
  for (const auto& a : plan_.alternatives) alt_names_.push_back(a.name);
  if (plan_.modality == Modality::image) {
    stimuli::ImageSpec is;
    is.width = is.height = 128;
    for (const auto& a : plan_.alternatives)
      icons_.push_back(a.icon.empty() ? Texture{} : d_->upload(stimuli::load_image(a.icon, is)));
    masks_ = upload_masks(*d_, 4, stim_w_, stim_h_, 3, 4, plan_.seed + 7);
  }
  d_->show_cursor(auto_.on() ? false : true);

  try {
    if (res_.resumed) text_screen("Welcome back. The session continues where it stopped.");
    if (audio_) volume_screen();
    if (audio_ && o_.headphone_check && !res_.resumed && !headphone_check()) {
      text_screen("Thank you for taking part. This task needs headphones; the session ends here.",
                  "Press Space to finish");
      store_->finish_session(sid_, "failed_demo");
      res_.status = "failed_demo";
      return res_;
    }
    for (const auto& b : plan_.blocks) {
      if (b.kind == BlockKind::headphone_check) {
        if (!audio_ || b.trials == 0 || headphone_block(b)) continue;
        text_screen(b.fail_text, "Press Space to finish");
        store_->finish_session(sid_, "failed_demo");
        res_.status = "failed_demo";
        return res_;
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
      for (int i = b.first_trial; i < b.first_trial + b.trials; ++i) {
        if (answered_.count(i)) continue;
        const PlannedTrial& t = plan_.trials[static_cast<size_t>(i)];
        maybe_pause(i);
        if (t.break_before)
          text_screen(b.break_text.empty() ? "Take a short break." : b.break_text);
        const data::TrialRecord r = run_trial(t);
        if (t.feedback) feedback(t, r.response);
        blank_frames(d_->frames_for(t.timing.iti_ms).frames);
      }
      if (b.kind == BlockKind::demo && b.trials > 0 && !demo_passed(b)) {
        text_screen(!b.fail_text.empty() ? b.fail_text
                                         : "Thank you for taking part. The session ends here.",
                    "Press Space to finish");
        store_->finish_session(sid_, "failed_demo");
        res_.status = "failed_demo";
        return res_;
      }
    }
  } catch (const Aborted&) {
    int64_t at = 0;
    while (answered_.count(at)) ++at;
    store_->finish_session(sid_, "aborted");
    log_ << "session " << sid_ << " aborted at trial " << at << " (data kept; run the same command to resume)\n";
    res_.status = "aborted";
    res_.exit_code = 4;
    return res_;
  }
  store_->finish_session(sid_, "completed");
  res_.status = "completed";
  return res_;
}

}  // namespace

// [SECTION] Entry points ------------------------------------------------------------------
DisplayOptions runner_display_options(const RunOptions& o) {
  DisplayOptions dopt;
  dopt.fullscreen = !o.windowed;
  dopt.width = o.width;
  dopt.height = o.height;
  dopt.measure_frames = 30;
  return dopt;
}

RunResult run_session(const RunOptions& o, std::ostream& log) {
  Runner r(o, log);
  return r.run();
}

RunResult run_session_on(Display& display, const RunOptions& o, std::ostream& log) {
  Runner r(o, log, &display);
  return r.run();
}

int list_sessions_command(const std::string& db, bool as_json, std::ostream& out) {
  data::Store s(db);
  const auto list = s.list_sessions();
  if (as_json) {
    json a = json::array();
    for (const auto& x : list)
      a.push_back({{"id", x.id}, {"participant_code", x.participant_code}, {"participant_number", x.participant_number},
                   {"experiment", x.experiment_name}, {"experiment_path", x.experiment_path},
                   {"experiment_sha256", x.experiment_sha256}, {"status", x.status}, {"started_at", x.started_at},
                   {"ended_at", x.ended_at}, {"resumed", x.resumed}, {"planned", x.planned}, {"answered", x.answered}});
    out << a.dump() << "\n";
    return 0;
  }
  out << std::left << std::setw(5) << "id" << std::setw(14) << "participant" << std::setw(5) << "no" << std::setw(20)
      << "experiment" << std::setw(13) << "status" << std::setw(14) << "answered" << std::setw(8) << "resumed"
      << "started\n";
  for (const auto& x : list)
    out << std::left << std::setw(5) << x.id << std::setw(14) << x.participant_code << std::setw(5)
        << x.participant_number << std::setw(20) << x.experiment_name << std::setw(13) << x.status << std::setw(14)
        << (std::to_string(x.answered) + "/" + std::to_string(x.planned)) << std::setw(8) << x.resumed << x.started_at
        << "\n";
  if (list.empty()) out << "(no sessions)\n";
  return 0;
}

}  // namespace mm::app
