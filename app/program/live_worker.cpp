// app/program/live_worker.cpp: the live generation worker and validation's live check
// (app/program/live_worker.h).
//
// Sections
//   [SECTION] Seeds and clock
//   [SECTION] Worker     start, poll, stop, the thread's work
//   [SECTION] Check      models, layers, nulls, the timed step, the lead simulation
#include "app/program/live_worker.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "data/sha256.h"
#include "data/store.h"
#include "experiments/plan.h"
#include "synth/jobs.h"
#include "synth/live.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mm::app {

// [SECTION] Seeds -------------------------------------------------------------------------
uint64_t live_seed(const experiments::LiveSettings& s, int64_t participant, const std::string& reference_sha256,
                   int attempt) {
  if (!s.participant_seed) return s.seed + static_cast<uint64_t>(attempt);
  const std::string key = "metamerlab live seed|participant " + std::to_string(participant) + "|reference " + reference_sha256;
  const std::string h = data::sha256_hex(key.data(), key.size());
  // 52 bits of the hash: exact in the database's integer and in JSON readers' doubles.
  const uint64_t base = std::stoull(h.substr(0, 13), nullptr, 16);
  return base + static_cast<uint64_t>(attempt);
}

namespace {

synth::SynthOptions synth_options(const experiments::LiveSettings& ls) {
  synth::SynthOptions o;
  o.iterations = ls.iterations;
  o.rounds = ls.rounds;
  o.max_rounds = ls.max_rounds;
  o.step = ls.step;
  o.optimizer = ls.optimizer == "adam" ? synth::Optimizer::adam : synth::Optimizer::gd;
  o.loss = ls.loss == "mse" ? synth::Loss::mse : synth::Loss::l2norm;
  return o;
}

std::string fixed(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

int line_of(const experiments::MetamerSource& s, const std::string& key) {
  const auto it = s.lines.find(key);
  return it != s.lines.end() ? it->second : s.where.line;
}

}  // namespace

// [SECTION] Worker ------------------------------------------------------------------------
LiveWorker::LiveWorker(std::string db, synth::Device device, std::string command_line)
    : db_(std::move(db)), command_line_(std::move(command_line)), device_(device) {}

LiveWorker::~LiveWorker() { stop(); }

void LiveWorker::start(int64_t session_id, const experiments::Experiment& e, const experiments::Plan& plan,
                       const std::set<int64_t>& answered) {
  stop();
  cancel_ = false;
  session_id_ = session_id;
  participant_ = plan.participant;
  experiment_name_ = e.name;
  live_dir_ = (fs::absolute(db_).parent_path() / "live" / ("session-" + std::to_string(session_id))).string();
  sources_ = e.sources;
  null_inputs_.assign(e.sources.size(), {});
  null_descriptions_.assign(e.sources.size(), "");
  for (size_t i = 0; i < e.sources.size(); ++i) {
    const std::string& name = e.sources[i].live_settings.null_set;
    if (name.empty()) continue;
    if (const experiments::StimulusSet* set = e.find_set(name))
      for (const auto& it : set->items) null_inputs_[i].push_back(it.path);
    null_descriptions_[i] = "[sets." + name + "] of " + e.path;
  }
  alternatives_.clear();
  for (const auto& a : plan.alternatives) alternatives_.push_back(a.name);
  jobs_.clear();
  {
    std::lock_guard<std::mutex> l(mu_);
    state_.clear();
  }
  for (const auto& t : plan.trials) {
    if (!t.live || answered.count(t.index)) continue;
    const experiments::Condition* c = e.find_condition(t.condition);
    if (!c || c->source < 0) continue;
    jobs_.push_back({t.index, c->source, t.reference, t.category, t.layer});
  }
  if (jobs_.empty()) return;
  finished_ = false;
  thread_ = std::thread([this] {
    // The worker yields the CPU to the presentation loop (and the display server): nice 10 for
    // this thread and the engine threads it starts (Linux threads inherit it). OpenBLAS's own
    // pool, started when the library loaded, keeps the loader's priority; at --live-threads 1
    // (the default on 2 cores) it is not used (synth::init_runtime sets its threads to torch's).
    errno = 0;
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10) != 0)
      note(std::string("live: could not lower the worker's priority (") + std::strerror(errno) + ")");
    work();
    finished_ = true;
  });
}

LiveStimulus LiveWorker::poll(int64_t trial_index) {
  std::lock_guard<std::mutex> l(mu_);
  const auto it = state_.find(trial_index);
  if (it != state_.end()) return it->second;
  LiveStimulus s;
  if (finished_) {  // never asked of the worker, or it stopped first: never ready
    s.state = LiveStimulus::State::failed;
    s.reason = "the live worker has no metamer for this trial";
  }
  return s;
}

void LiveWorker::stop() {
  cancel_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> LiveWorker::take_notes() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  out.swap(notes_);
  return out;
}

void LiveWorker::note(const std::string& s) {
  std::lock_guard<std::mutex> l(mu_);
  notes_.push_back(s);
}

void LiveWorker::set(int64_t trial, const LiveStimulus& s) {
  std::lock_guard<std::mutex> l(mu_);
  state_[trial] = s;
  state_[trial].ready_s = live_clock_s();
}

void LiveWorker::work() {
  // Every trial not settled when the worker stops on an error falls back.
  size_t next = 0;
  const auto fail_rest = [&](const std::string& why) {
    for (; next < jobs_.size(); ++next) {
      LiveStimulus s;
      s.state = LiveStimulus::State::failed;
      s.reason = why;
      set(jobs_[next].trial, s);
    }
  };
  std::map<int, std::unique_ptr<synth::LiveMaker>> makers;
  std::unique_ptr<data::Store> store;
  try {
    store = std::make_unique<data::Store>(db_);
    std::map<int64_t, data::LiveMetamer> earlier;  // trial -> its last attempt (an earlier run of this session)
    for (auto& lm : store->live_metamers(session_id_)) earlier[lm.trial_index] = lm;
    std::map<int, std::string> broken;  // source -> why its model cannot be used
    for (; next < jobs_.size() && !cancel_; ++next) {
      const Job& j = jobs_[next];
      const experiments::MetamerSource& src = sources_[static_cast<size_t>(j.source)];
      const experiments::LiveSettings& ls = src.live_settings;
      const std::string what = "trial " + std::to_string(j.trial) + " (" + src.label + "/" + j.layer + ", " +
                               fs::path(j.reference).filename().string() + ")";
      LiveStimulus s;
      int attempt = 0;
      if (const auto it = earlier.find(j.trial); it != earlier.end()) {
        const data::MetamerRecord& m = it->second.metamer;
        const std::string& file = m.png_path.empty() ? m.wav_path : m.png_path;
        const std::string& sha = m.png_path.empty() ? m.wav_sha256 : m.png_sha256;
        std::error_code ec;
        const bool files_ok = !file.empty() && fs::is_regular_file(file, ec) && data::sha256_file(file) == sha;
        s.metamer_id = it->second.metamer_id;
        s.attempt = it->second.attempt;
        s.seed = static_cast<uint64_t>(m.seed);
        s.reused = true;
        if (m.passed && files_ok) {
          s.state = LiveStimulus::State::ready;
          s.path = file;
          s.sha256 = sha;
          set(j.trial, s);
          continue;
        }
        if (!m.passed && it->second.attempt >= ls.retries) {
          s.state = LiveStimulus::State::failed;
          s.reason = "no passing metamer in " + std::to_string(ls.retries + 1) + " attempts (last: " + m.message + ")";
          set(j.trial, s);
          continue;
        }
        if (m.passed) note("live: " + what + ": the metamer made earlier (" + file + ") is missing or changed; made again");
        attempt = it->second.attempt + 1;
        s = LiveStimulus{};
      }
      if (const auto b = broken.find(j.source); b != broken.end()) {
        s.state = LiveStimulus::State::failed;
        s.reason = b->second;
        set(j.trial, s);
        continue;
      }
      try {
        auto& maker = makers[j.source];
        if (!maker) {
          synth::LiveSpec spec;
          spec.model = src.model;
          spec.device = device_;
          spec.layers = src.layers;
          spec.opt = synth_options(ls);
          spec.null_inputs = null_inputs_[static_cast<size_t>(j.source)];
          spec.null_description = null_descriptions_[static_cast<size_t>(j.source)];
          spec.categories = alternatives_;
          spec.out_dir = live_dir_ + "/" + src.label;
          json opts = {{"live", true},
                       {"experiment", experiment_name_},
                       {"session", session_id_},
                       {"participant", participant_},
                       {"source", src.label},
                       {"iterations_per_round", ls.iterations},
                       {"rounds", ls.rounds},
                       {"step", spec.opt.step_for_round(0)},
                       {"step_schedule", "halves each round"},
                       {"optimizer", ls.optimizer},
                       {"loss", ls.loss},
                       {"seed", ls.participant_seed ? json("participant") : json(ls.seed)},
                       {"null_set", ls.null_set.empty() ? json("bundled") : json(ls.null_set)},
                       {"retries", ls.retries}};
          if (spec.opt.max_rounds > spec.opt.rounds) {  // as synth records it
            opts["until_converged_max_rounds"] = spec.opt.max_rounds;
            opts["until_converged_tol"] = spec.opt.converge_tol;
          }
          spec.run_options = opts.dump();
          spec.command_line = command_line_;
          try {
            maker = std::make_unique<synth::LiveMaker>(spec);
          } catch (const std::exception& ex) {
            broken[j.source] = std::string("the model cannot be used: ") + ex.what();
            note("live: " + src.model + ": " + ex.what() + "; its trials show the natural stimulus");
            throw;
          }
        }
        const std::string ref_sha = data::sha256_file(j.reference);
        for (; attempt <= ls.retries; ++attempt) {
          const uint64_t seed = live_seed(ls, participant_, ref_sha, attempt);
          const auto rec = maker->make(*store, j.reference, j.category, j.layer, seed,
                                       "trial" + std::to_string(j.trial) + "-a" + std::to_string(attempt), &cancel_);
          if (!rec) break;  // the session stopped
          s.metamer_id = store->add_live_metamer(session_id_, j.trial, attempt, *rec);
          s.attempt = attempt;
          s.seed = seed;
          if (rec->passed) {
            s.state = LiveStimulus::State::ready;
            s.path = rec->png_path.empty() ? rec->wav_path : rec->png_path;
            s.sha256 = rec->png_path.empty() ? rec->wav_sha256 : rec->png_sha256;
            break;
          }
          if (attempt == ls.retries) {
            s.state = LiveStimulus::State::failed;
            s.reason = "no passing metamer in " + std::to_string(ls.retries + 1) + " attempts (last: " + rec->message + ")";
            note("live: " + what + ": " + s.reason + "; shown the natural stimulus");
          }
        }
        if (cancel_) break;
        set(j.trial, s);
      } catch (const std::exception& ex) {
        s.state = LiveStimulus::State::failed;
        s.reason = ex.what();
        if (!broken.count(j.source)) note("live: " + what + ": " + ex.what() + "; shown the natural stimulus");
        set(j.trial, s);
      }
    }
  } catch (const std::exception& ex) {
    note(std::string("live: the worker stopped: ") + ex.what() + "; the remaining live trials show the natural stimulus");
    fail_rest(std::string("the worker stopped: ") + ex.what());
  } catch (...) {
    note("live: the worker stopped on an unknown error; the remaining live trials show the natural stimulus");
    fail_rest("the worker stopped on an unknown error");
  }
  for (auto& [source, maker] : makers) {
    try {
      if (store) maker->finish(*store, cancel_ ? "interrupted" : "done");
    } catch (const std::exception& ex) {
      note(std::string("live: closing the synthesis run: ") + ex.what());
    }
  }
}

// [SECTION] Check -------------------------------------------------------------------------
namespace {

// Seconds a fast participant spends on a planned session before each trial starts, with
// the live metamers made one after another from the session's start; how much sooner
// than needed each live trial's metamer is ready (negative: the trial would wait).
struct LeadSim {
  double min_lead_s = 1e300;
  int64_t min_lead_trial = -1;
  int late = 0, live_trials = 0;
  double session_s = 0, worker_s = 0;
};

LeadSim simulate(const experiments::Experiment& e, const experiments::Plan& plan,
                 const std::map<std::pair<int, std::string>, double>& per_metamer_s) {
  constexpr double kText = 3.0, kAnswer = 1.0, kFeedback = 0.8;
  LeadSim sim;
  // Worker: each live trial's ready time, in plan order.
  std::map<int64_t, double> ready;
  double w = 0;
  for (const auto& t : plan.trials) {
    if (!t.live) continue;
    const experiments::Condition* c = e.find_condition(t.condition);
    if (!c) continue;
    const auto it = per_metamer_s.find({c->source, t.layer});
    if (it == per_metamer_s.end()) continue;
    w += it->second;
    ready[t.index] = w;
  }
  sim.worker_s = w;
  double t = 0;
  const bool image = e.modality == experiments::Modality::image;
  for (const auto& b : plan.blocks) {
    using experiments::BlockKind;
    if (b.kind == BlockKind::instructions || b.kind == BlockKind::pause || b.kind == BlockKind::debrief) {
      t += kText;
      continue;
    }
    if (!b.text.empty()) t += kText;
    for (int i = b.first_trial; i < b.first_trial + b.trials; ++i) {
      const experiments::PlannedTrial& tr = plan.trials[static_cast<size_t>(i)];
      if (tr.break_before) t += kText;
      if (const auto r = ready.find(tr.index); r != ready.end()) {
        ++sim.live_trials;
        const double lead = t - r->second;
        if (lead < sim.min_lead_s) sim.min_lead_s = lead, sim.min_lead_trial = tr.index;
        if (lead < 0) {
          ++sim.late;
          t = r->second;  // when_late = wait: the trial starts when its metamer is ready
        }
      }
      const experiments::Timing& tm = tr.timing;
      t += (tm.fixation_ms + (image ? tm.stimulus_ms + tm.mask_ms : e.audio.clip_ms) + tm.iti_ms) / 1000.0;
      t += tm.response_ms > 0 ? std::min(kAnswer, tm.response_ms / 1000.0) : kAnswer;
      if (tr.feedback) t += kFeedback;
    }
  }
  sim.session_s = t;
  return sim;
}

}  // namespace

std::vector<experiments::Issue> check_live_sources(const experiments::Experiment& e, double refresh_hz,
                                                   synth::Device device) {
  (void)refresh_hz;  // trial durations are whole frames already; a frame's rounding is far below the margins here
  std::vector<experiments::Issue> out;
  const auto error = [&](int line, const std::string& msg) { out.push_back({true, e.file, line, msg}); };
  // (source, layer) -> seconds per metamer at `rounds`, and at max_rounds (until converged: the cap)
  std::map<std::pair<int, std::string>, double> per_metamer, per_metamer_cap;
  std::vector<std::string> figures;
  const int threads = synth::runtime_threads();
  for (int si = 0; si < static_cast<int>(e.sources.size()); ++si) {
    const experiments::MetamerSource& s = e.sources[static_cast<size_t>(si)];
    if (!s.live) continue;
    const std::string where = "[[metamers]] " + s.label + " (generate = \"live\")";
    synth::ModelHandle m;
    try {
      m = synth::ModelHandle::open(s.model, device);
    } catch (const std::exception& ex) {
      error(line_of(s, "model"), where + ": " + ex.what());
      continue;
    }
    const synth::ModelInfo& info = m.info();
    if (info.modality != experiments::modality_name(e.modality)) {
      error(line_of(s, "model"), where + ": \"" + s.model + "\" is an " + info.modality + " model but the experiment is " +
                                     experiments::modality_name(e.modality) + "; use a model of the experiment's modality");
      continue;
    }
    std::optional<synth::BundledNull> bundle;
    if (s.live_settings.null_set.empty()) {
      try {
        bundle = synth::load_bundled_null(info);
      } catch (const std::exception& ex) {
        error(line_of(s, "model"), where + ": " + ex.what());
        continue;
      }
    } else if (const experiments::StimulusSet* set = e.find_set(s.live_settings.null_set);
               set && set->items.size() < 100) {
      out.push_back({false, e.file, line_of(s, "null_set"),
                     where + ": null_set \"" + s.live_settings.null_set + "\" has " + std::to_string(set->items.size()) +
                         " stimuli, too few for the paper's success test (at least 100, ideally 1,000 natural stimuli "
                         "the model never trained on)"});
    }
    bool layers_ok = true;
    for (const auto& layer : s.layers) {
      const int line = line_of(s, "layer:" + layer);
      if (std::find(info.layers.begin(), info.layers.end(), layer) == info.layers.end()) {
        std::string list;
        for (const auto& l : info.layers) list += (list.empty() ? "" : ", ") + l;
        error(line, where + ": \"" + s.model + "\" has no layer \"" + layer + "\" (layers: " + list + "); fix the name");
        layers_ok = false;
        continue;
      }
      if (s.live_settings.null_set.empty() && (!bundle || !bundle->layers.count(layer))) {
        error(line, where + ": \"" + s.model + "\" has no bundled null distribution for layer \"" + layer +
                        "\"; add null_set = \"NAME\" (a [sets.NAME] of at least 100 natural stimuli the model never "
                        "trained on)");
        layers_ok = false;
      }
    }
    if (!layers_ok) continue;
    const synth::SynthOptions opt = synth_options(s.live_settings);
    const bool until = opt.last_round() > opt.rounds;
    std::string line = s.label + " (" + std::to_string(opt.iterations) + "x" + std::to_string(opt.rounds) + " steps" +
                       (until ? ", then until converged up to " + std::to_string(opt.last_round()) + " rounds" : "") + "):";
    for (const auto& layer : s.layers) {
      const synth::SynthesisTiming t = synth::time_synthesis(m, layer, opt);
      const double sps = t.step_s;
      const auto seconds = [&](int rounds) {  // the call's own cost again for the test, and the files
        return sps * static_cast<double>(opt.iterations * rounds) + 2 * t.call_s + 0.05;
      };
      per_metamer[{si, layer}] = seconds(opt.rounds);
      per_metamer_cap[{si, layer}] = seconds(opt.last_round());
      line += " " + layer + " " + fixed(sps * 1000, 1) + " ms/step = " + fixed(seconds(opt.rounds), 1) +
              (until ? "-" + fixed(seconds(opt.last_round()), 1) : "") + " s,";
    }
    line.pop_back();
    figures.push_back(line);
  }
  if (per_metamer.empty()) return out;

  // The lead, for one full rotation of participants: with every metamer done at `rounds`,
  // and (until converged) with every one going on to the cap.
  int rotation = 1;
  for (const auto& b : e.blocks)
    if (b.kind == experiments::BlockKind::main)
      rotation = std::max(rotation, static_cast<int>(b.conditions.empty() ? e.conditions.size() : b.conditions.size()));
  struct Rotation {
    LeadSim worst;
    int64_t worst_p = 0, late_sessions = 0, total_late = 0;
  };
  const auto rotate = [&](const std::map<std::pair<int, std::string>, double>& per) -> std::optional<Rotation> {
    Rotation r;
    for (int64_t p = 1; p <= rotation; ++p) {
      experiments::Plan plan;
      try {
        plan = experiments::make_plan(e, p);
      } catch (const std::exception&) {
        return std::nullopt;  // validation reports what stops planning
      }
      const LeadSim sim = simulate(e, plan, per);
      if (sim.live_trials == 0) continue;
      if (sim.late) ++r.late_sessions, r.total_late += sim.late;
      if (r.worst_p == 0 || sim.min_lead_s < r.worst.min_lead_s) r.worst = sim, r.worst_p = p;
    }
    return r;
  };
  const std::optional<Rotation> fast = rotate(per_metamer), cap = rotate(per_metamer_cap);
  if (!fast || !cap) return out;
  std::string figs = "live generation on this machine (" + std::to_string(threads) + " torch thread" +
                     (threads == 1 ? "" : "s") + ", per metamer): ";
  for (size_t i = 0; i < figures.size(); ++i) figs += (i ? "; " : "") + figures[i];
  if (fast->worst_p == 0) {
    out.push_back({false, e.file, 0, figs + ". No planned trial uses a live metamer"});
    return out;
  }
  const std::string assumed = " (participants 1-" + std::to_string(rotation) +
                              ", a fast participant: 1 s per answer, 3 s per text screen)";
  const bool until = per_metamer != per_metamer_cap;
  if (cap->total_late == 0) {
    out.push_back({false, e.file, 0,
                   figs + ". The worker keeps ahead: every live metamer is ready at least " +
                       fixed(cap->worst.min_lead_s, 1) + " s before its trial" +
                       (until ? " even when every first attempt runs to max_rounds" : "") + assumed});
    return out;
  }
  const Rotation& r = fast->total_late ? *fast : *cap;
  std::string msg = figs + ". The worker would fall behind";
  if (until) msg += fast->total_late ? " even if every metamer converged at `rounds`"
                                     : " if the metamers ran to max_rounds (if each converged at `rounds`, ahead by at "
                                       "least " + fixed(fast->worst.min_lead_s, 1) + " s)";
  msg += ": " + std::to_string(r.total_late) + " live trial(s) in " + std::to_string(r.late_sessions) + " of " +
         std::to_string(rotation) + " sessions would wait (participant " + std::to_string(r.worst_p) + "'s trial " +
         std::to_string(r.worst.min_lead_trial) + " by " + fixed(-r.worst.min_lead_s, 1) + " s; its " +
         std::to_string(r.worst.live_trials) + " metamers take " + fixed(r.worst.worker_s, 0) +
         " s, its session about " + fixed(r.worst.session_s, 0) + " s)" + assumed +
         ". Shorten iterations or rounds" + std::string(until ? " or lower max_rounds" : "") +
         ", drop the slowest layers, put more practice before the main block, or make these metamers ahead with "
         "metamerlab synth";
  out.push_back({false, e.file, 0, msg});
  return out;
}

}  // namespace mm::app
