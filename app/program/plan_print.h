// app/program/plan_print.h: `metamerlab plan`'s output: an experiment checked by the
// session module and one participant's session plan, printed as text or one JSON object.
#pragma once
#include <ostream>
#include <string>

#include "experiments/session.h"

namespace mm::app {

struct PlanPrintOptions {
  std::string experiment;  // the file as given (named in the header)
  std::string db;          // "" when none was given (no session line)
  bool json = false;
  bool summary_only = false;
};

// x must hold a loaded experiment (validation errors are printed among the findings).
void print_plan(const experiments::CheckedExperiment& x, const experiments::SessionPlan& sp,
                const PlanPrintOptions& o, std::ostream& out);

}  // namespace mm::app
