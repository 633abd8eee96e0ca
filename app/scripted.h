// app/scripted.h: the scripted participant (`--auto`): answers a trial with the correct
// alternative, a random one, or the row of a CSV file (trial_index,response,rt_ms), after a
// seeded delay. The runner turns each answer into real SDL events (a click or keys), so a
// scripted session goes through the same input path as a person's. CSV responses "@abort"
// and "@pause" stand for Ctrl+Shift+Q and Ctrl+Shift+P.
#pragma once
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "experiments/plan.h"

namespace mm::app {

class ScriptedParticipant {
 public:
  // policy: "" (nobody: a person answers), correct, random, or a CSV file's path. Throws
  // std::runtime_error naming the file and line for an unreadable or malformed CSV.
  ScriptedParticipant(const std::string& policy, uint64_t seed, int min_delay_ms, int max_delay_ms);
  bool on() const { return !policy_.empty(); }
  // The answer (one of alts, or "@abort"/"@pause") and its delay after response onset in s.
  std::pair<std::string, double> answer(const experiments::PlannedTrial& t, const std::vector<std::string>& alts);

 private:
  std::string policy_;
  std::mt19937_64 rng_;
  int min_, max_;
  std::map<int, std::pair<std::string, double>> rows_;
};

}  // namespace mm::app
