// app/scripted.cpp: the scripted participant's policies (correct, random, CSV rows).
#include "app/scripted.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mm::app {

ScriptedParticipant::ScriptedParticipant(const std::string& policy, uint64_t seed, int min_delay_ms, int max_delay_ms)
    : policy_(policy), rng_(seed), min_(min_delay_ms), max_(max_delay_ms) {
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

std::pair<std::string, double> ScriptedParticipant::answer(const experiments::PlannedTrial& t,
                                                           const std::vector<std::string>& alts) {
  std::uniform_real_distribution<double> d(min_, max_);
  const double delay = d(rng_) / 1000.0;
  if (policy_ == "correct") return {t.category, delay};
  if (policy_ == "random") {
    std::uniform_int_distribution<size_t> pick(0, alts.size() - 1);
    return {alts[pick(rng_)], delay};
  }
  auto it = rows_.find(t.index);
  if (it == rows_.end()) return {t.category, delay};
  return {it->second.first, it->second.second >= 0 ? it->second.second / 1000.0 : delay};
}

}  // namespace mm::app
