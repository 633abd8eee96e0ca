// app/program/live_worker.h: live generation for run and launch (generate = "live"
// sources): the worker thread that makes a session's metamers with the engine while the
// participant works through it (app/live.h is the runner's side), and validation's check of
// live sources (model, layers, null; one timed synthesis step per layer and an estimate of
// whether the worker keeps ahead of the planned trials).
//
// The worker: one thread, torch at the program's --live-threads (a core is left to the
// presentation loop), its own connection to the session's database. It makes the metamers
// of the stored plan's live trials in plan order, each from its seed (seed = "participant":
// from the participant number, the reference's SHA-256 and the attempt; or the fixed seed
// plus the attempt), tests it like synth (synth/live.h), writes its files under
// <database folder>/live/session-<id>/<label>/<layer>/<category>/ and records it with its
// trial and attempt in one transaction. A failing metamer is made again with the next seed
// up to `retries` times; then, or on any error in the worker (NaN, out of memory, an
// exception), its trial falls back to the natural stimulus and the reason becomes a session
// note. A resumed session's recorded metamers are reused, never made again.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "app/live.h"
#include "experiments/experiment.h"
#include "synth/engine.h"

namespace mm::app {

class LiveWorker final : public LiveGenerator {
 public:
  // db: the session's database (a second connection is opened on the worker's thread).
  LiveWorker(std::string db, synth::Device device, std::string command_line);
  ~LiveWorker() override;
  void start(int64_t session_id, const experiments::Experiment& e, const experiments::Plan& plan,
             const std::set<int64_t>& answered) override;
  LiveStimulus poll(int64_t trial_index) override;
  void stop() override;
  std::vector<std::string> take_notes() override;

  struct Job {
    int64_t trial = 0;
    int source = 0;
    std::string reference, category, layer;
  };

 private:
  void work();
  void note(const std::string& s);
  void set(int64_t trial, const LiveStimulus& s);

  std::string db_, command_line_;
  synth::Device device_;
  int64_t session_id_ = 0, participant_ = 0;
  std::string live_dir_, experiment_name_;
  std::vector<experiments::MetamerSource> sources_;
  std::vector<std::vector<std::string>> null_inputs_;  // per source: the null_set's files ("" bundled)
  std::vector<std::string> null_descriptions_, alternatives_;
  std::vector<Job> jobs_;
  std::mutex mu_;
  std::map<int64_t, LiveStimulus> state_;
  std::vector<std::string> notes_;
  std::atomic<bool> cancel_{false}, finished_{true};
  std::thread thread_;
};

// The seed of a live metamer: seed = "participant" hashes the participant number and the
// reference's SHA-256 (so each participant's metamers grow from their own noise); a fixed
// seed is used as it is. The attempt is added (retries use the next seeds).
uint64_t live_seed(const experiments::LiveSettings& s, int64_t participant, const std::string& reference_sha256,
                   int attempt);

// Validation's check of an experiment's live sources (experiments::ValidateOptions::
// live_check): each model opens and is of the experiment's modality, each layer exists, a
// null exists for it (bundled, or null_set), with errors at the file's lines; then one
// synthesis step is timed per layer and participants 1..N (N: the conditions, one full
// rotation) are simulated with a fast participant (1 s per answer, 3 s per text screen):
// a note gives the per-metamer times and the worker's smallest lead, or a warning names the
// trials it would be late for and what to change.
std::vector<experiments::Issue> check_live_sources(const experiments::Experiment& e, double refresh_hz,
                                                   synth::Device device);

}  // namespace mm::app
