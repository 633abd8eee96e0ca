// analysis/accuracy.cpp: proportion correct overall and per category.
#include "analysis/accuracy.h"

namespace mm::analysis {

double AccuracySummary::balanced() const {
  if (per_category.empty()) return 0.0;
  double s = 0;
  for (const auto& [k, v] : per_category) s += v.proportion();
  return s / per_category.size();
}

AccuracySummary summarize(const std::vector<Judgment>& js) {
  AccuracySummary s;
  for (const auto& j : js) {
    bool ok = j.category == j.predicted;
    auto& c = s.per_category[j.category];
    ++c.n;
    ++s.overall.n;
    if (ok) {
      ++c.correct;
      ++s.overall.correct;
    }
  }
  return s;
}

}  // namespace mm::analysis
