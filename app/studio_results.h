// app/studio_results.h (internal to the workbench, app/studio.cpp): the Results panel: the
// analysis of `metamerlab analyze` (analysis/results.h, read through app/results_input.h)
// in the window: per experiment, proportion correct per condition as a table (humans: mean,
// SEM, bootstrap 95% interval; each judging model on the same trials) and as a plot drawn
// with ImGui's draw lists (conditions on x, proportion correct with SEM bars, humans and the
// models as series, chance dashed); the paper's ANOVAs as tables (F with its degrees of
// freedom, partial eta squared, permutation p); network-to-network recognition per model x
// layer (the other models' mean with SEM, each judging model, the humans) and the scatter of
// human against the other models' recognition with Spearman's rho; the report as analyze
// prints it; buttons running the exports of `metamerlab export` (CSV, BIDS, JSON lines)
// into a folder the user types, and writing `analyze --out`'s report folder.
//
// The analysis runs on a worker thread (std::async, its own connection to the database),
// once per change of the database file (its and its WAL's size and time) or on Refresh;
// the panel says "computing..." meanwhile (with Cancel, which stops the permutations within
// milliseconds; closing the window does too) and the window keeps drawing. Exports run on a
// worker too. Nothing here writes to the database.
#pragma once
#include "data/store.h"
#include <array>
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "analysis/results.h"
#include "app/studio.h"

namespace mm::app::studio {

class ResultsPanel {
 public:
  ResultsPanel(std::string db, int permutations, int bootstrap);
  ~ResultsPanel();  // waits for a running analysis or export
  ResultsPanel(const ResultsPanel&) = delete;
  ResultsPanel& operator=(const ResultsPanel&) = delete;

  // Reads what the analysis depends on (data::Store::responses_version; the database file's
  // size and time when `store` is null): a change makes the next draw compute again, and
  // metamers recorded by a synthesis job do not.
  void refresh(data::Store* store);
  // Draws the panel, starting the analysis when the database changed since the last one.
  void draw(float scale, float px_per_point, StudioProbe& probe);
  // An analysis or an export is running.
  bool busy() const { return job_.valid() || export_job_.valid() || report_job_.valid(); }

  struct Experiment {
    std::string name;         // as analyze names it (with the version when several)
    std::string export_name;  // the experiment's name in the sessions (export's --experiment)
    analysis::AnalysisReport report;
    std::string text;         // report_text
  };
  struct Computed {
    std::string signature;    // of the database file it was computed from
    std::vector<Experiment> experiments;
    std::string error;        // "" or one line
    bool cancelled = false;   // stopped by Cancel (or the window closing): nothing computed
  };

 private:
  void poll();
  void draw_table(const analysis::AnalysisReport& r, StudioProbe& p);
  // A plot of points with SEM bars: per slot (x), each series side by side.
  struct PointsPlot {
    std::vector<std::string> slots, series;
    std::vector<std::vector<std::pair<double, double>>> values;  // [series][slot]: mean, SEM (NaN: none)
    double chance = analysis::kNaN;
    std::string caption;
  };
  static Rect draw_points(const PointsPlot& pl, float scale, float px_per_point);  // returns the plot's area
  static Rect draw_scatter(const analysis::AnalysisReport& r, float scale, float px_per_point);
  void draw_plot(const analysis::AnalysisReport& r, float scale, float px_per_point, StudioProbe& p);
  void draw_anovas(const analysis::AnalysisReport& r, StudioProbe& p);
  void draw_network(const analysis::AnalysisReport& r, float scale, float px_per_point, StudioProbe& p);
  void draw_exports(const Experiment& e, float scale, float px_per_point, StudioProbe& p);

  std::string db_;
  int permutations_, bootstrap_;
  std::string signature_;              // the database file now
  bool requested_ = false;             // Refresh clicked
  Computed shown_;                     // the last analysis finished
  bool have_ = false;
  int fresh_ = 0;                      // frames drawn since shown_ arrived (tables size their columns in 3)
  std::future<Computed> job_;
  std::shared_ptr<std::atomic<bool>> cancel_;  // the running analysis's stop flag (Cancel, closing)
  bool paused_ = false;                // cancelled: no automatic start until Refresh
  std::string cancel_note_;            // what the panel says after a Cancel
  int chosen_ = 0;                     // the experiment shown
  std::array<char, 1024> folder_{};    // the exports' folder
  bool force_ = false;                 // --force: write into a folder that is not empty
  bool with_codes_ = false, with_stimuli_ = false;  // --with-codes, --with-stimuli
  std::future<std::pair<bool, std::string>> export_job_;
  std::pair<bool, std::string> export_result_;  // (ok, what it wrote / the error)
  std::string report_folder_;                   // the report's folder
  std::future<std::pair<bool, std::string>> report_job_;
  std::pair<bool, std::string> report_result_;
};

}  // namespace mm::app::studio
