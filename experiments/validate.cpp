// experiments/validate.cpp: the checks run before a session starts: every stimulus,
// metamer and icon loads; images share one size unless the experiment says how to scale
// them; every stimulus' category is a response alternative; each block has enough
// stimuli and a feasible shuffle constraint; every duration lasts whole frames at the
// display's refresh rate. Findings are collected (not thrown), each at FILE:LINE.
//
// Sections
//   [SECTION] Frames        to_frames
//   [SECTION] Files         loading images and sounds, the size policy
//   [SECTION] Geometry      the shown size (scaling, degrees, the station's screen), loudness
//   [SECTION] Blocks        set sizes, categories, demo criteria, max_run feasibility
//   [SECTION] Timing        whole frames at the refresh rate
//   [SECTION] Entry         validate_experiment
#include <stb/stb_image.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "experiments/experiment.h"
#include "experiments/internal.h"
#include "experiments/station.h"
#include "stimuli/stimuli.h"

namespace mm::experiments {

// [SECTION] Frames ------------------------------------------------------------------------
FrameTiming to_frames(int ms, double refresh_hz) {
  FrameTiming f;
  f.requested_ms = ms;
  if (ms <= 0 || !(refresh_hz > 0)) return f;
  f.frames = static_cast<int>(std::llround(ms * refresh_hz / 1000.0));
  f.realized_ms = f.frames * 1000.0 / refresh_hz;
  return f;
}

bool Validation::ok() const {
  for (const auto& i : issues)
    if (i.error) return false;
  return true;
}

std::vector<std::string> Validation::errors() const {
  std::vector<std::string> out;
  for (const auto& i : issues)
    if (i.error) out.push_back(i.text());
  return out;
}

namespace {

using detail::join;

// A number for messages: up to 4 significant digits, no trailing zeros.
std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

std::string fmt_ms(double ms) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(2);
  s << ms;
  return s.str();
}

struct Checker {
  const Experiment& e;
  const ValidateOptions& o;
  Validation& v;

  void error(const Where& w, const std::string& m) { v.issues.push_back({true, w.file, w.line, m}); }
  void note(const Where& w, const std::string& m) { v.issues.push_back({false, w.file, w.line, m}); }

  int line(const Block& b, const std::string& key) const {
    auto it = b.lines.find(key);
    return it != b.lines.end() ? it->second : b.where.line;
  }
  std::string block_name(size_t i) const {
    return "block " + std::to_string(i + 1) + " (" + e.blocks[i].name + ")";
  }

  // [SECTION] Files -----------------------------------------------------------------------
  struct Size {
    int w = 0, h = 0;
    bool operator<(const Size& x) const { return w != x.w ? w < x.w : h < x.h; }
  };
  std::map<Size, std::vector<std::pair<std::string, Where>>> sizes;  // stimuli only, not icons
  std::set<std::string> loaded;
  int fitted_clips = 0;
  int clipping = 0;    // clips whose peak after normalization and gain exceeds full scale
  Where peak_where;    // the loudest clip's declaration

  // The station's output gain (linear).
  double gain() const { return o.station ? std::pow(10.0, o.station->audio.gain_db / 20.0) : 1.0; }
  const ScreenGeometry* screen() const {
    return o.station && o.station->screen.known() ? &o.station->screen : nullptr;
  }
  Where images_at(const std::string& key) const {
    for (const std::string& k : {key, std::string("images.size_deg"), std::string("images.size"), std::string("images")})
      if (e.lines.count(k)) return {e.file, e.lines.at(k)};
    return {e.file, e.lines.count("experiment") ? e.lines.at("experiment") : 1};
  }

  // Loads one file; records its size (images) when `count_size`.
  void load(const std::string& path, const Where& w, bool count_size) {
    if (!loaded.insert(path).second) return;
    try {
      if (e.modality == Modality::image) {
        int iw = 0, ih = 0, n = 0;
        if (!stbi_info(path.c_str(), &iw, &ih, &n)) {
          stimuli::load_image(path, {});  // throws with the reason, naming the file
          return;
        }
        if (o.load_files) {
          stimuli::ImageSpec spec;
          spec.height = ih;
          spec.width = iw;
          stimuli::load_image(path, spec);
        }
        if (count_size) sizes[{iw, ih}].push_back({path, w});
      } else {
        stimuli::AudioSpec spec;
        spec.sample_rate = e.audio.sample_rate;
        spec.samples = static_cast<int64_t>(e.audio.clip_ms) * e.audio.sample_rate / 1000;
        spec.rms = e.audio.rms();
        stimuli::AudioLoadReport rep;
        if (o.load_files) {
          const stimuli::Array clip = stimuli::load_audio(path, spec, &rep);
          float peak = 0;
          for (float x : clip.data) peak = std::max(peak, std::fabs(x));
          if (peak > v.audio_peak) v.audio_peak = peak, v.audio_peak_file = path, peak_where = w;
          if (peak * gain() > 1.0 + 1e-6) ++clipping;
          const bool notable = rep.resampled || rep.channels > 1 || rep.note.find("truncated") != std::string::npos;
          if (notable)
            note(w, path + ": " + rep.note + " (played at " + std::to_string(e.audio.sample_rate) + " Hz)");
          else if (!rep.note.empty())
            ++fitted_clips;  // only cropped or padded: one note for all
        }
      }
    } catch (const std::runtime_error& err) {
      error(w, err.what());
    }
  }

  void files() {
    std::set<std::string> used;
    for (const auto& b : e.blocks)
      if (!b.set.empty()) used.insert(b.set);
    for (const auto& s : e.sets) {
      if (!used.count(s.name)) note(s.where, "[sets." + s.name + "] is not used by any block");
      for (const auto& it : s.items) load(it.path, it.where, true);
    }
    for (const auto& [ref, conds] : e.metamers)
      for (const auto& [c, m] : conds) load(m.path, m.where, true);
    if (e.modality == Modality::image)
      for (const auto& a : e.alternatives) load(a.icon, a.where, false);
    if (fitted_clips > 0)
      note({e.file, e.lines.count("audio") ? e.lines.at("audio") : e.lines.at("experiment")},
           std::to_string(fitted_clips) + " clip(s) differ from clip_ms = " + std::to_string(e.audio.clip_ms) +
               " ms and are centre-cropped or zero-padded to it");

    if (e.modality != Modality::image || sizes.empty()) return;
    if (sizes.size() == 1) {
      v.stimulus_width = sizes.begin()->first.w;
      v.stimulus_height = sizes.begin()->first.h;
      return;
    }
    if (e.images.fit) return;
    // Mixed: name the most common size and one file of another size.
    auto common = std::max_element(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) {
      return a.second.size() < b.second.size();
    });
    std::vector<std::string> parts;
    for (const auto& [sz, files] : sizes)
      parts.push_back(std::to_string(sz.w) + "x" + std::to_string(sz.h) + " (" + std::to_string(files.size()) +
                      " file" + (files.size() == 1 ? "" : "s") + ", e.g. " + files[0].first + ")");
    const auto& odd = (common == sizes.begin() ? std::next(sizes.begin()) : sizes.begin())->second[0];
    error(odd.second, "images have mixed sizes: " + join(parts, 6) +
                          "; make them one size, or set [images] fit = true and size = N to show each scaled to fit an N x N box");
  }

  // [SECTION] Geometry --------------------------------------------------------------------
  // Each image size as it will be shown: scaling, snapping, degrees, the station's screen.
  void geometry() {
    if (e.modality != Modality::image || (sizes.size() > 1 && !e.images.fit)) return;
    const Station* st = o.station;
    if (e.images.size_deg > 0 && !screen()) {
      error(images_at("images.size_deg"),
            "[images] size_deg = " + fmt(e.images.size_deg) + " needs the station's screen geometry" +
                (st ? " (station " + st->name + " has no [screen] table)" : std::string()) +
                "; pass --station with a profile holding [screen] width_cm, width_px, height_px and distance_cm "
                "(experiments/README.md), or give size in pixels");
      return;
    }
    const int box = requested_box_px(e.images, screen());
    const std::string box_text = e.images.size > 0 ? "size = " + std::to_string(e.images.size) + " px"
                                                   : "size_deg = " + fmt(e.images.size_deg) + " (" + std::to_string(box) + " px)";
    if (screen() && box > std::min(screen()->width_px, screen()->height_px)) {
      const int fits = std::min(screen()->width_px, screen()->height_px);
      error(images_at(e.images.size_deg > 0 ? "images.size_deg" : "images.size"),
            "[images] " + box_text + " is larger than station " + st->name + "'s " + std::to_string(screen()->width_px) +
                "x" + std::to_string(screen()->height_px) + " px screen (" + fmt(screen()->px_per_deg()) +
                " px/deg at " + fmt(screen()->distance_cm) + " cm); at most " + std::to_string(fits) + " px (" +
                fmt(screen()->px_to_deg(fits)) + " deg) fits: lower it");
      return;
    }
    for (const auto& [sz, files] : sizes) {
      const StimulusSize s = realize_stimulus_size(sz.w, sz.h, e.images, screen());
      v.sizes.push_back(s);
      if (!s.problem.empty()) {
        error(images_at(e.lines.count("images.scaling") ? "images.scaling" : "images.size"), "[images] " + s.problem);
        return;
      }
      if (screen() && (s.width > screen()->width_px || s.height > screen()->height_px))
        error(images_at("images.size"), "[images] the " + std::to_string(sz.w) + "x" + std::to_string(sz.h) +
                                            " px stimuli would be shown at " + std::to_string(s.width) + "x" +
                                            std::to_string(s.height) + " px, larger than station " + st->name +
                                            "'s screen; lower the size");
      const std::string each = sizes.size() > 1 ? " (" + std::to_string(sz.w) + "x" + std::to_string(sz.h) + " px)" : "";
      if (s.snapped)
        note(images_at("images.scaling"),
             "[images] " + box_text + " is not a whole multiple of the " + std::to_string(std::max(sz.w, sz.h)) +
                 " px stimuli" + each + ": nearest scaling shows them at " + std::to_string(s.width) + "x" +
                 std::to_string(s.height) + " px (" + fmt(s.factor) + "x" +
                 (s.width_deg > 0 ? ", " + fmt(s.width_deg) + " deg" : std::string()) + ")");
      if (s.requested == Scaling::automatic && s.scaling == Scaling::linear) {
        const int side = std::max(sz.w, sz.h), lo = std::max(1, s.box_px / side) * side, hi = lo + side;
        note(images_at("images.size"),
             "[images] " + box_text + " is " + fmt(s.factor) + "x the " + std::to_string(side) + " px stimuli" + each +
                 ": drawn with linear filtering, which blurs their finest detail; for exact pixel blocks make the box " +
                 std::to_string(lo) + " or " + std::to_string(hi) +
                 " px (scaling = \"nearest\" snaps it), or set scaling = \"linear\" to keep this");
      }
    }
    if (sizes.size() == 1) v.stimulus = v.sizes.front();
  }

  // Audio: no clip may clip after RMS normalization and the station's gain.
  void loudness() {
    if (e.modality != Modality::audio || !o.load_files) return;
    v.audio_gain_db = o.station ? o.station->audio.gain_db : 0;
    if (clipping == 0 || v.audio_peak <= 0) return;
    const double over = 20 * std::log10(v.audio_peak * gain());
    const std::string gain_text = o.station ? "station " + o.station->name + "'s gain_db = " + fmt(o.station->audio.gain_db)
                                            : "no station gain";
    error(peak_where, std::to_string(clipping) + " clip(s) would clip: the loudest, " + v.audio_peak_file + ", peaks at +" +
                          fmt(over) + " dBFS after normalization to rms_dbfs = " + fmt(e.audio.rms_dbfs) + " and " +
                          gain_text + "; lower [audio] rms_dbfs to " + fmt(e.audio.rms_dbfs - over - 0.05) +
                          " or less" + (o.station ? std::string(" (or the station's gain_db)") : std::string()));
  }

  // [SECTION] Blocks ----------------------------------------------------------------------
  // Every category in the set must be a response alternative (one error per category).
  void check_categories(const StimulusSet& set) {
    std::vector<std::string> names;
    for (const auto& a : e.alternatives) names.push_back(a.name);
    std::set<std::string> bad;
    for (const auto& it : set.items)
      if (!e.find_alternative(it.category) && bad.insert(it.category).second)
        error(it.where, "stimulus " + it.path + " has category \"" + it.category +
                            "\", which is not a response alternative (" + join(names) +
                            "); add it to [responses] alternatives or remove the stimulus");
  }

  void blocks() {
    std::set<std::string> main_refs;
    for (const auto& b : e.blocks)
      if (b.kind == BlockKind::main)
        for (const auto& it : e.find_set(b.set)->items) main_refs.insert(it.path);
    std::set<std::string> checked_sets;
    bool trials_before = false;
    for (size_t i = 0; i < e.blocks.size(); ++i) {
      const Block& b = e.blocks[i];
      const std::string name = block_name(i);
      const StimulusSet* set = b.set.empty() ? nullptr : e.find_set(b.set);
      for (const StimulusSet* cs : {set, b.catch_set.empty() ? nullptr : e.find_set(b.catch_set)})
        if (cs && checked_sets.insert(cs->name).second) check_categories(*cs);
      const int n_set = set ? static_cast<int>(set->items.size()) : 0;
      const int wanted = b.kind == BlockKind::catch_trials && b.trials < 0 ? static_cast<int>(e.alternatives.size()) : b.trials;
      if ((b.kind == BlockKind::practice || b.kind == BlockKind::demo ||
           (b.kind == BlockKind::catch_trials && set)) && wanted > n_set)
        error({e.file, line(b, "trials")}, name + ": " + (b.trials < 0 ? "one catch trial per alternative needs " + std::to_string(wanted) + " stimuli" : "trials = " + std::to_string(b.trials)) +
                                               " but set \"" + b.set + "\" has only " + std::to_string(n_set) +
                                               " stimuli; lower trials or add stimuli");
      if (b.kind == BlockKind::demo) {
        const int n = b.trials > 0 ? b.trials : n_set;
        if (b.pass_min_correct > n)
          error({e.file, line(b, "pass_min_correct")}, name + ": pass_min_correct = " + std::to_string(b.pass_min_correct) +
                                                           " is more than its " + std::to_string(n) + " trials; lower it");
      }
      if ((b.kind == BlockKind::practice || b.kind == BlockKind::demo) && set) {
        int overlap = 0;
        for (const auto& it : set->items) overlap += main_refs.count(it.path) ? 1 : 0;
        if (overlap > 0)
          note({e.file, line(b, "set")}, name + ": " + std::to_string(overlap) + " of its stimuli are also main-block references (seen twice)");
      }
      if (b.kind == BlockKind::main && !b.catch_set.empty()) {
        const StimulusSet* cs = e.find_set(b.catch_set);
        if (b.catch_trials > static_cast<int>(cs->items.size()))
          error({e.file, line(b, "catch")}, name + ": catch = " + std::to_string(b.catch_trials) + " but catch_set \"" +
                                                b.catch_set + "\" has only " + std::to_string(cs->items.size()) +
                                                " stimuli; lower catch or add stimuli");
      }
      if (b.kind == BlockKind::main) main_block(i, *set);
      if (b.kind == BlockKind::headphone_check && trials_before)
        note({e.file, b.where.line}, name + ": the headphone check comes after trial blocks; listeners without "
                                            "headphones are usually stopped before any trial (move it first)");
      trials_before |= b.kind == BlockKind::practice || b.kind == BlockKind::demo || b.kind == BlockKind::main ||
                       b.kind == BlockKind::catch_trials;
    }
  }

  void main_block(size_t i, const StimulusSet& set) {
    const Block& b = e.blocks[i];
    const std::string name = block_name(i);
    std::vector<std::string> conds = b.conditions;
    if (conds.empty())
      for (const auto& c : e.conditions) conds.push_back(c.name);
    const int n = static_cast<int>(set.items.size());
    const int nc = static_cast<int>(conds.size());
    if (n < nc)
      note({e.file, line(b, "set")}, name + ": " + std::to_string(n) + " references for " + std::to_string(nc) +
                                         " conditions: each participant sees some conditions not at all (balanced over a rotation of " +
                                         std::to_string(nc) + " participants)");
    // Fallbacks per condition.
    for (const auto& c : conds) {
      const Condition* cond = e.find_condition(c);
      if (cond->natural || e.sources[static_cast<size_t>(cond->source)].live) continue;  // live: made in the session
      int failed = 0, missing = 0;
      for (const auto& it : set.items) {
        auto u = e.unavailable.find(it.path);
        if (u == e.unavailable.end() || !u->second.count(c)) continue;
        (u->second.at(c) == "missing" ? missing : failed)++;
      }
      if (failed + missing > 0)
        note(e.sources[cond->source].where,
             c + ": " + std::to_string(failed + missing) + " of " + std::to_string(n) + " references have no passing metamer (" +
                 std::to_string(failed) + " failed, " + std::to_string(missing) +
                 " missing); their trials show the natural stimulus, marked fell_back");
    }
    if (b.max_run > 0) {
      const int per = (n + nc - 1) / std::max(1, nc);
      const int total = n + b.catch_trials;
      for (int m : {per, b.catch_trials}) {
        if (m > static_cast<int64_t>(b.max_run) * (total - m + 1))
          error({e.file, line(b, "max_run")},
                name + ": max_run = " + std::to_string(b.max_run) + " cannot hold: " + std::to_string(m) + " trials of one condition among " +
                    std::to_string(total) + "; raise max_run or add conditions/references");
      }
    }
  }

  // [SECTION] Timing ----------------------------------------------------------------------
  void timing() {
    const double hz = o.refresh_hz;
    if (!(hz > 0) || hz > 1000) {
      error({e.file, 0}, "refresh rate " + fmt_ms(hz) + " Hz is not plausible; give the display's rate (for instance 60)");
      return;
    }
    const double frame = 1000.0 / hz;
    for (size_t i = 0; i < e.blocks.size(); ++i) {
      const Block& b = e.blocks[i];
      if (b.kind != BlockKind::practice && b.kind != BlockKind::demo && b.kind != BlockKind::main &&
          b.kind != BlockKind::catch_trials)
        continue;
      const std::pair<const char*, int> phases[] = {{"fixation", b.timing.fixation_ms},
                                                    {"stimulus", b.timing.stimulus_ms},
                                                    {"mask", b.timing.mask_ms},
                                                    {"response", b.timing.response_ms},
                                                    {"iti", b.timing.iti_ms}};
      for (const auto& [phase, ms] : phases) {
        const bool audio_clip = e.modality == Modality::audio && std::string(phase) == "stimulus";
        if (e.modality == Modality::audio && std::string(phase) == "mask") continue;
        TimingRow row{static_cast<int>(i), phase, to_frames(ms, hz)};
        if (audio_clip) row.t.frames = 0, row.t.realized_ms = ms;  // a clip plays for its length
        v.timing.push_back(row);
        if (audio_clip || ms == 0 || ms >= frame - 1e-9) continue;
        const std::string key = std::string("timing.") + phase;
        Where w{e.file, b.lines.count(key) ? b.lines.at(key) : e.lines.count(key) ? e.lines.at(key) : b.where.line};
        error(w, block_name(i) + ": " + phase + " = " + std::to_string(ms) + " ms is shorter than one frame at " + fmt_ms(hz) +
                     " Hz (" + fmt_ms(frame) + " ms); use at least " + std::to_string(static_cast<int>(std::ceil(frame))) +
                     " ms" + (std::string(phase) == "stimulus" ? "" : " (or 0 to skip the phase)") + ", or a faster display");
      }
    }
  }
};

}  // namespace

// [SECTION] Entry -------------------------------------------------------------------------
Validation validate_experiment(const Experiment& e, const ValidateOptions& options) {
  Validation v;
  v.refresh_hz = options.refresh_hz;
  v.issues = e.notes;
  Checker c{e, options, v, {}, {}, 0, 0, {}};
  c.files();
  if (options.presentation) {
    c.geometry();
    c.loudness();
  }
  c.blocks();
  c.timing();
  bool live = false;
  for (const auto& src : e.sources) live = live || src.live;
  if (live) {
    if (options.live_check) {
      for (auto& i : options.live_check(e, options.refresh_hz)) v.issues.push_back(std::move(i));
    } else {
      v.issues.push_back({false, e.file, 0,
                          "live sources are checked against their models when a session starts (metamerlab plan "
                          "without the engine cannot open models)"});
    }
  }
  return v;
}

}  // namespace mm::experiments
