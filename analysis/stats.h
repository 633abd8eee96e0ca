// analysis/stats.h: the statistics of the paper (Feather et al. 2023, "Model metamers ..."):
// descriptives, bootstrap, rank and linear correlation, and the three ANOVAs with
// permutation p-values used to compare human and model recognition.
//
// What each function computes follows docs/analysis-and-export.md ("What the paper
// computes"). Data come in as plain matrices of proportion correct; results are plain
// structs. Every random quantity is drawn from std::mt19937_64 seeded explicitly, through
// bounded_draw() (no std::uniform_int_distribution, no std::shuffle: both are
// implementation-defined), so a given seed gives the same numbers on every platform and,
// for the permutation tests, for every thread count.
// No torch, no UI, no SQL: the C++ standard library only. Errors in input data (empty,
// ragged or non-finite data, missing cells, bad labels) throw std::invalid_argument.
//
// Sections
//   [SECTION] Data            Matrix (rows x columns) and Array3 (participant x layer x model)
//   [SECTION] Random          bounded_draw, shuffle, per-draw seeds
//   [SECTION] Descriptives    mean, SD, SEM, median, percentile, bootstrap CI of a mean
//   [SECTION] Correlation     average ranks, Pearson r, Spearman rho
//   [SECTION] NetworkNetwork  bootstrap SEM of a proportion, mean and SEM across models
//   [SECTION] Anova           mixed, two-way and one-way repeated-measures, permutation p
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace mm::analysis {

// [SECTION] Data --------------------------------------------------------------------------

// A dense row-major matrix of doubles: one row per participant (or observer row), one
// column per condition.
struct Matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<double> values;  // rows * cols, row-major

  // An empty 0 x 0 matrix.
  Matrix() = default;
  // A rows x cols matrix filled with `fill`.
  Matrix(std::size_t rows, std::size_t cols, double fill = 0.0);
  // From nested rows; throws std::invalid_argument on no rows, no columns or a row whose
  // length differs from the first (a missing cell).
  static Matrix from_rows(const std::vector<std::vector<double>>& rows);
  // Cell (r, c), unchecked.
  double& operator()(std::size_t r, std::size_t c) { return values[r * cols + c]; }
  // Cell (r, c), unchecked.
  double operator()(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
};

// A dense 3-D array [participant][layer][model] of doubles, last index fastest.
struct Array3 {
  std::size_t participants = 0;
  std::size_t layers = 0;
  std::size_t models = 0;
  std::vector<double> values;  // participants * layers * models

  // An empty array.
  Array3() = default;
  // A participants x layers x models array filled with `fill`.
  Array3(std::size_t participants, std::size_t layers, std::size_t models, double fill = 0.0);
  // From nested vectors [p][l][m]; throws std::invalid_argument when empty or ragged.
  static Array3 from_nested(const std::vector<std::vector<std::vector<double>>>& v);
  // Cell (p, l, m), unchecked.
  double& operator()(std::size_t p, std::size_t l, std::size_t m) {
    return values[(p * layers + l) * models + m];
  }
  // Cell (p, l, m), unchecked.
  double operator()(std::size_t p, std::size_t l, std::size_t m) const {
    return values[(p * layers + l) * models + m];
  }
};

// [SECTION] Random ------------------------------------------------------------------------

// A uniform integer in [0, n) from rng (Lemire's multiply-shift with rejection: unbiased,
// and the same sequence on every platform). n must be >= 1.
std::uint64_t bounded_draw(std::mt19937_64& rng, std::uint64_t n);

// Fisher-Yates shuffle of first[0..n): for i = n-1 down to 1, swap i with bounded_draw(i+1).
template <class T>
void shuffle(T* first, std::size_t n, std::mt19937_64& rng) {
  for (std::size_t i = n; i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(bounded_draw(rng, i));
    std::swap(first[i - 1], first[j]);
  }
}

// Fisher-Yates shuffle of a whole vector (see shuffle above).
template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  shuffle(v.data(), v.size(), rng);
}

// The seed of one permutation draw: a SplitMix64 mix of (seed, tag, draw), so each draw
// has its own stream and a result does not depend on how draws are split across threads.
std::uint64_t draw_seed(std::uint64_t seed, std::uint64_t tag, std::uint64_t draw);

// [SECTION] Descriptives ------------------------------------------------------------------

// Lower and upper bounds of an interval.
struct Interval {
  double low = 0;
  double high = 0;
};

// Arithmetic mean; throws on empty or non-finite input.
double mean(const std::vector<double>& xs);
// Sample standard deviation (n - 1 denominator); throws when n < 2 or non-finite.
double sample_sd(const std::vector<double>& xs);
// Standard error of the mean, sample_sd / sqrt(n); throws when n < 2.
double sem(const std::vector<double>& xs);
// Median (mean of the two middle values for even n); throws on empty input.
double median(const std::vector<double>& xs);
// Percentile q in [0, 100] with linear interpolation between order statistics (numpy's
// default, "type 7"); throws on empty input or q outside [0, 100].
double percentile(const std::vector<double>& xs, double q);
// Percentile-method bootstrap confidence interval of the mean: `resamples` resamples of n
// values with replacement drawn from std::mt19937_64(seed), interval = percentiles
// (1-level)/2 and (1+level)/2 of the resampled means. Throws on empty input, resamples < 1
// or level outside (0, 1).
Interval bootstrap_mean_ci(const std::vector<double>& xs, int resamples, std::uint64_t seed,
                           double level = 0.95);

// [SECTION] Correlation -------------------------------------------------------------------

// Ranks 1..n, tied values sharing the average of their ranks (scipy.stats.rankdata).
std::vector<double> average_ranks(const std::vector<double>& xs);
// Pearson r; NaN when either side is constant. Throws on unequal sizes, n < 2, non-finite.
double pearson(const std::vector<double>& x, const std::vector<double>& y);
// Spearman rho = Pearson r of the average ranks (as scipy.stats.spearmanr); NaN when
// either side is constant. Throws as pearson.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

// [SECTION] NetworkNetwork ----------------------------------------------------------------

// Mean with its standard error across a set (e.g. recognizing models).
struct MeanSem {
  double mean = 0;
  double sem = 0;     // sample SD / sqrt(n); NaN when n < 2
  std::size_t n = 0;
};

// Bootstrap SEM of a mean: SD (population, n denominator, as numpy.std in the paper's
// code) of `resamples` means of n values resampled with replacement, from
// std::mt19937_64(seed). Throws on empty or non-finite input or resamples < 2.
double bootstrap_sem(const std::vector<double>& xs, int resamples = 1000,
                     std::uint64_t seed = 1);
// bootstrap_sem of a vector of 0/1 correct flags (one per stimulus); throws on any other
// value. The same seed resamples the same stimuli as bootstrap_sem.
double bootstrap_sem_proportion(const std::vector<int>& correct, int resamples = 1000,
                                std::uint64_t seed = 1);
// Mean and SEM = sample SD / sqrt(n) across values (e.g. one per recognizing model, the
// generating model excluded by the caller). Throws on empty or non-finite input.
MeanSem mean_sem(const std::vector<double>& xs);

// [SECTION] Anova -------------------------------------------------------------------------

// Which null statistics count towards the permutation p-value.
enum class CountRule {
  at_least,  // F_null >= F_observed (default everywhere; counts ties)
  greater,   // F_null > F_observed (what the paper's code does for the two-way RM ANOVA)
};

// The stream tag of each permutation test: draw d of a test uses
// std::mt19937_64(draw_seed(options.seed, tag, d)) and, from it, Fisher-Yates shuffles
// (shuffle() above) in this order:
//   mixed_observer     the row labels (row r gets label[r] after the shuffle);
//   mixed_layer        each row's columns, rows in order;
//   mixed_interaction  the row labels, then each row's columns, rows in order;
//   rm2_layer          each participant's layer means (averaged over models), in order;
//   rm2_model          each participant's model means (averaged over layers), in order;
//   rm2_interaction    each participant's layer x model cells (layer-major), in order;
//   rm1                each participant's conditions, in order.
enum class PermutationTag : std::uint64_t {
  mixed_observer = 1,
  mixed_layer = 2,
  mixed_interaction = 3,
  rm2_layer = 4,
  rm2_model = 5,
  rm2_interaction = 6,
  rm1 = 7,
};

// How permutation p-values are drawn. p = count / draws, reported as 1 / draws when the
// count is 0. Each draw has its own stream (PermutationTag), so results are bit-identical
// for a seed whatever `threads` is. The observed F that null values are compared with is
// computed by the same code as the null values (so an arrangement equal to the data ties
// exactly); AnovaEffect::f is computed directly and agrees to rounding.
struct PermutationOptions {
  int draws = 10000;              // number of permutations; 0 = no test (p stays NaN)
  std::uint64_t seed = 1;         // base seed for every draw
  CountRule rule = CountRule::at_least;  // which null F values count
  double tie_tolerance = 1e-9;    // relative: |F_null - F_obs| <= tol*|F_obs| is a tie
  int threads = 1;                // worker threads (>= 1); does not change results
  bool keep_null = false;         // keep every null F in AnovaEffect::null_f
  // Set by another thread to stop the draws: the test then throws Cancelled (checked every
  // 64 draws, so it stops within milliseconds).
  const std::atomic<bool>* cancel = nullptr;
};

// What a permutation test throws when its options' cancel flag was set.
struct Cancelled : std::exception {
  const char* what() const noexcept override { return "cancelled"; }
};

// One F test: sums of squares, degrees of freedom, F, partial eta squared and the
// permutation p-value.
struct AnovaEffect {
  double ss = 0;                 // sum of squares of the effect
  double ss_error = 0;           // sum of squares of its error term
  int df = 0;                    // effect degrees of freedom
  int df_error = 0;              // error degrees of freedom
  // (ss/df)/(ss_error/df_error); inf when ss_error is 0 (at most 1e-12 of the total sum of
  // squares) and ss is not, NaN when both are 0.
  double f = std::numeric_limits<double>::quiet_NaN();
  double partial_eta2 = std::numeric_limits<double>::quiet_NaN();  // ss/(ss+ss_error)
  double p = std::numeric_limits<double>::quiet_NaN();  // permutation p; NaN when not
                                                         // run (draws 0) or F undefined
  int null_count = 0;            // null F values counted under the rule
  int draws = 0;                 // permutations drawn
  std::vector<double> null_f;    // every null F, in draw order (keep_null only)
};

// Mixed ANOVA: between factor observer (groups), within factor layer (columns).
struct MixedAnovaResult {
  AnovaEffect observer;     // main effect of the between factor
  AnovaEffect layer;        // main effect of the within factor
  AnovaEffect interaction;  // observer x layer
};

// Two-way repeated-measures ANOVA layer x model, both within participants.
struct TwoWayRmResult {
  AnovaEffect layer;        // main effect of layer
  AnovaEffect model;        // main effect of model
  AnovaEffect interaction;  // layer x model
};

// Mixed ANOVA on data (rows = participants/observer rows, cols = layers) with group[r] in
// 0..k-1 the between-factor label of row r (k >= 2, every label used, rows > k, cols >= 2;
// the paper: 2N rows, human = 0, network = 1). Sums of squares are sequential (observer,
// subjects, layer, interaction: R's aov with Error(subject/layer)); with equal group
// sizes every convention agrees. Permutations: observer = shuffle labels of the row
// means; layer = shuffle columns within each row; interaction = both.
MixedAnovaResult mixed_anova(const Matrix& data, const std::vector<int>& group,
                             const PermutationOptions& options = {});

// Two-way repeated-measures ANOVA on data[participant][layer][model] (participants >= 2,
// layers >= 2, models >= 2). Permutations: layer = average over models, shuffle layers
// within each participant; model = average over layers, shuffle models within each
// participant; interaction = shuffle all layer x model cells within each participant.
TwoWayRmResult rm_anova_two_way(const Array3& data, const PermutationOptions& options = {});

// One-way repeated-measures ANOVA on data (rows = participants >= 2, cols = conditions
// >= 2). Permutation: shuffle conditions within each participant.
AnovaEffect rm_anova_one_way(const Matrix& data, const PermutationOptions& options = {});

}  // namespace mm::analysis
