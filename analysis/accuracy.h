// analysis/accuracy.h: proportion correct overall and per category.
//
// Used for model judgments (metamerlab classify) and, later, human recognition per
// participant and condition. No torch, no UI.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace mm::analysis {

struct Judgment {
  std::string category;   // the true category
  std::string predicted;  // what the observer (model or person) chose
};

struct CategoryAccuracy {
  int n = 0;
  int correct = 0;
  double proportion() const { return n ? static_cast<double>(correct) / n : 0.0; }
};

struct AccuracySummary {
  CategoryAccuracy overall;
  std::map<std::string, CategoryAccuracy> per_category;  // sorted by name
  // Mean of per-category proportions (balanced accuracy).
  double balanced() const;
};

AccuracySummary summarize(const std::vector<Judgment>& js);

}  // namespace mm::analysis
