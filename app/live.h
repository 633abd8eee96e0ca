// app/live.h: what the session runner asks of live generation (generate = "live" metamer
// sources): a worker that makes the metamers a session's stored plan needs, in order of
// use, while the participant works through the session, and answers "is trial k's metamer
// ready?" without ever blocking. The runner never waits inside a trial's timed phases: when
// the next trial's metamer is not ready, the source's when_late policy shows a neutral
// preparing screen before the fixation, or runs a later ready trial first; a metamer that
// fails its test (after the retries) falls back to the natural stimulus, as pre-generated
// ones do.
//
// The presentation library does not link the engine: the program layer implements this
// interface with LibTorch (app/program/live_worker.h) and hands it to run and launch.
#pragma once
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "experiments/experiment.h"
#include "experiments/plan.h"

namespace mm::app {

// A live trial's metamer as the worker has it now.
struct LiveStimulus {
  enum class State { pending, ready, failed };
  State state = State::pending;
  std::string path, sha256;  // ready: the metamer's file (PNG or WAV)
  int64_t metamer_id = 0;    // ready or failed: its record in the store
  int attempt = 0;           // 0, then each retry with the next seed
  uint64_t seed = 0;
  std::string reason;        // failed: why (did not pass, NaN, out of memory, ...)
  double ready_s = 0;        // ready or failed: when (steady clock seconds, live_clock_s)
  bool reused = false;       // made by an earlier run of this session (resume)
};

// The clock of LiveStimulus::ready_s (std::chrono::steady_clock, in seconds).
inline double live_clock_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class LiveGenerator {
 public:
  virtual ~LiveGenerator() = default;
  // Starts the worker for an opened session: it makes the live trials of `plan` that are
  // not `answered`, in plan order, reusing what the store already holds for the session (a
  // resumed session's metamers are not made again).
  virtual void start(int64_t session_id, const experiments::Experiment& e, const experiments::Plan& plan,
                     const std::set<int64_t>& answered) = 0;
  // Non-blocking.
  virtual LiveStimulus poll(int64_t trial_index) = 0;
  // Stops and joins the worker (a metamer in progress is abandoned, recorded nowhere).
  virtual void stop() = 0;
  // Notes since the last call (failures, errors), for the session's events.
  virtual std::vector<std::string> take_notes() = 0;
};

}  // namespace mm::app
