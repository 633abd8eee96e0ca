// analysis/stats.cpp: descriptives, correlations, bootstrap and the paper's permutation
// ANOVAs (see stats.h and docs/analysis-and-export.md).
//
// Sections
//   [SECTION] Data            Matrix, Array3, input checks
//   [SECTION] Random          Lemire bounded draw, SplitMix64 draw seeds
//   [SECTION] Descriptives    mean, SD, SEM, median, percentile, bootstrap CI
//   [SECTION] Correlation     ranks, Pearson, Spearman
//   [SECTION] NetworkNetwork  bootstrap SEM, mean and SEM across models
//   [SECTION] Permutation     the draw loop shared by every test (threads, counting rule)
//   [SECTION] Anova           direct sums of squares and the fast null statistics
#include "analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>

namespace mm::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Sums of squares at or below this fraction of the total sum of squares count as 0 (their
// size is rounding noise), so an exact fit gives F = inf rather than a huge number.
constexpr double kZeroFraction = 1e-12;

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

void require_finite(const std::vector<double>& xs, const char* what) {
  for (std::size_t i = 0; i < xs.size(); ++i)
    require(std::isfinite(xs[i]), std::string(what) + ": value " + std::to_string(i) +
                                      " is not a finite number (missing value?)");
}

}  // namespace

// [SECTION] Data --------------------------------------------------------------------------

Matrix::Matrix(std::size_t r, std::size_t c, double fill) : rows(r), cols(c), values(r * c, fill) {}

Matrix Matrix::from_rows(const std::vector<std::vector<double>>& in) {
  require(!in.empty(), "matrix: no rows");
  require(!in[0].empty(), "matrix: row 0 has no cells");
  Matrix m(in.size(), in[0].size());
  for (std::size_t r = 0; r < in.size(); ++r) {
    require(in[r].size() == m.cols, "matrix: row " + std::to_string(r) + " has " +
                                        std::to_string(in[r].size()) + " cells, expected " +
                                        std::to_string(m.cols) +
                                        " (missing cells are not supported: drop the row)");
    std::copy(in[r].begin(), in[r].end(), m.values.begin() + r * m.cols);
  }
  return m;
}

Array3::Array3(std::size_t p, std::size_t l, std::size_t m, double fill)
    : participants(p), layers(l), models(m), values(p * l * m, fill) {}

Array3 Array3::from_nested(const std::vector<std::vector<std::vector<double>>>& v) {
  require(!v.empty() && !v[0].empty() && !v[0][0].empty(), "array: no data");
  Array3 a(v.size(), v[0].size(), v[0][0].size());
  for (std::size_t p = 0; p < a.participants; ++p) {
    require(v[p].size() == a.layers, "array: participant " + std::to_string(p) + " has " +
                                         std::to_string(v[p].size()) + " layers, expected " +
                                         std::to_string(a.layers) + " (missing cells?)");
    for (std::size_t l = 0; l < a.layers; ++l) {
      require(v[p][l].size() == a.models,
              "array: participant " + std::to_string(p) + ", layer " + std::to_string(l) +
                  " has " + std::to_string(v[p][l].size()) + " models, expected " +
                  std::to_string(a.models) + " (missing cells?)");
      for (std::size_t m = 0; m < a.models; ++m) a(p, l, m) = v[p][l][m];
    }
  }
  return a;
}

namespace {

void require_finite(const Matrix& m, const char* what) {
  require(m.values.size() == m.rows * m.cols, std::string(what) + ": matrix size mismatch");
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.cols; ++c)
      require(std::isfinite(m(r, c)), std::string(what) + ": row " + std::to_string(r) +
                                          ", column " + std::to_string(c) +
                                          " is not a finite number (a missing cell? rows "
                                          "with missing cells must be dropped)");
}

}  // namespace

// [SECTION] Random ------------------------------------------------------------------------

namespace {

// High 64 bits of a * b.
inline std::uint64_t mul_high(std::uint64_t a, std::uint64_t b, std::uint64_t* low) {
#if defined(__SIZEOF_INT128__)
  __extension__ using u128 = unsigned __int128;
  const u128 m = static_cast<u128>(a) * b;
  *low = static_cast<std::uint64_t>(m);
  return static_cast<std::uint64_t>(m >> 64);
#else
  const std::uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xffffffffu, b_hi = b >> 32;
  const std::uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
  const std::uint64_t mid = (p0 >> 32) + (p1 & 0xffffffffu) + (p2 & 0xffffffffu);
  *low = a * b;
  return p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
#endif
}

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t bounded_draw(std::mt19937_64& rng, std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("bounded_draw: the range is empty (n = 0)");
  std::uint64_t low = 0;
  std::uint64_t high = mul_high(rng(), n, &low);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (low < threshold) high = mul_high(rng(), n, &low);
  }
  return high;
}

std::uint64_t draw_seed(std::uint64_t seed, std::uint64_t tag, std::uint64_t draw) {
  return splitmix64(splitmix64(splitmix64(seed) ^ tag) ^ draw);
}

// [SECTION] Descriptives ------------------------------------------------------------------

double mean(const std::vector<double>& xs) {
  require(!xs.empty(), "mean: no values");
  require_finite(xs, "mean");
  double s = 0;
  for (double x : xs) s += x;
  return s / static_cast<double>(xs.size());
}

double sample_sd(const std::vector<double>& xs) {
  require(xs.size() >= 2, "sample_sd: needs at least 2 values, got " + std::to_string(xs.size()));
  const double m = mean(xs);
  double ss = 0;
  for (double x : xs) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(xs.size() - 1));
}

double sem(const std::vector<double>& xs) {
  require(xs.size() >= 2, "sem: needs at least 2 values, got " + std::to_string(xs.size()));
  return sample_sd(xs) / std::sqrt(static_cast<double>(xs.size()));
}

namespace {

// Type-7 percentile of already sorted values.
double percentile_sorted(const std::vector<double>& s, double q) {
  const double h = (static_cast<double>(s.size()) - 1.0) * q / 100.0;
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (h - static_cast<double>(lo)) * (s[hi] - s[lo]);
}

// `resamples` means of xs resampled with replacement, from std::mt19937_64(seed): for
// each resample, n draws bounded_draw(rng, n) in order.
std::vector<double> bootstrap_means(const std::vector<double>& xs, int resamples,
                                    std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::uint64_t n = xs.size();
  std::vector<double> means(static_cast<std::size_t>(resamples));
  for (double& m : means) {
    double s = 0;
    for (std::uint64_t i = 0; i < n; ++i) s += xs[bounded_draw(rng, n)];
    m = s / static_cast<double>(n);
  }
  return means;
}

}  // namespace

double median(const std::vector<double>& xs) { return percentile(xs, 50.0); }

double percentile(const std::vector<double>& xs, double q) {
  require(!xs.empty(), "percentile: no values");
  require(q >= 0.0 && q <= 100.0, "percentile: q must be in [0, 100], got " + std::to_string(q));
  require_finite(xs, "percentile");
  std::vector<double> s = xs;
  std::sort(s.begin(), s.end());
  return percentile_sorted(s, q);
}

Interval bootstrap_mean_ci(const std::vector<double>& xs, int resamples, std::uint64_t seed,
                           double level) {
  require(!xs.empty(), "bootstrap_mean_ci: no values");
  require(resamples >= 1, "bootstrap_mean_ci: resamples must be >= 1");
  require(level > 0.0 && level < 1.0, "bootstrap_mean_ci: level must be in (0, 1)");
  require_finite(xs, "bootstrap_mean_ci");
  std::vector<double> means = bootstrap_means(xs, resamples, seed);
  std::sort(means.begin(), means.end());
  const double tail = (1.0 - level) / 2.0 * 100.0;
  return {percentile_sorted(means, tail), percentile_sorted(means, 100.0 - tail)};
}

// [SECTION] Correlation -------------------------------------------------------------------

std::vector<double> average_ranks(const std::vector<double>& xs) {
  require_finite(xs, "average_ranks");
  std::vector<std::size_t> order(xs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return xs[a] < xs[b]; });
  std::vector<double> ranks(xs.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i + 1;
    while (j < order.size() && xs[order[j]] == xs[order[i]]) ++j;
    const double r = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k) ranks[order[k]] = r;
    i = j;
  }
  return ranks;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  require(x.size() == y.size(), "pearson: x has " + std::to_string(x.size()) +
                                    " values, y has " + std::to_string(y.size()));
  require(x.size() >= 2, "pearson: needs at least 2 pairs");
  const double mx = mean(x), my = mean(y);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return kNaN;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  require(x.size() == y.size(), "spearman: x has " + std::to_string(x.size()) +
                                    " values, y has " + std::to_string(y.size()));
  require(x.size() >= 2, "spearman: needs at least 2 pairs");
  return pearson(average_ranks(x), average_ranks(y));
}

// [SECTION] NetworkNetwork ----------------------------------------------------------------

double bootstrap_sem(const std::vector<double>& xs, int resamples, std::uint64_t seed) {
  require(!xs.empty(), "bootstrap_sem: no values");
  require(resamples >= 2, "bootstrap_sem: resamples must be >= 2");
  require_finite(xs, "bootstrap_sem");
  const std::vector<double> means = bootstrap_means(xs, resamples, seed);
  double m = 0;
  for (double v : means) m += v;
  m /= static_cast<double>(means.size());
  double ss = 0;
  for (double v : means) ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(means.size()));
}

double bootstrap_sem_proportion(const std::vector<int>& correct, int resamples,
                                std::uint64_t seed) {
  std::vector<double> xs(correct.size());
  for (std::size_t i = 0; i < correct.size(); ++i) {
    require(correct[i] == 0 || correct[i] == 1,
            "bootstrap_sem_proportion: stimulus " + std::to_string(i) + " has value " +
                std::to_string(correct[i]) + ", expected 0 (incorrect) or 1 (correct)");
    xs[i] = correct[i];
  }
  return bootstrap_sem(xs, resamples, seed);
}

MeanSem mean_sem(const std::vector<double>& xs) {
  MeanSem out;
  out.mean = mean(xs);
  out.n = xs.size();
  out.sem = xs.size() >= 2 ? sem(xs) : kNaN;
  return out;
}

// [SECTION] Permutation -------------------------------------------------------------------

namespace {

// F = (ss/df)/(ss_error/df_error); an error sum of squares at or below `zero` is an exact
// fit: F = inf when the effect is non-zero, NaN when it is zero too.
double f_ratio(double ss, int df, double ss_error, int df_error, double zero) {
  if (ss_error <= zero) return ss > zero ? kInf : kNaN;
  return (ss / df) / (ss_error / df_error);
}

// Does null F `f` count against observed `obs` under the options' rule and tolerance?
bool counts(double f, double obs, const PermutationOptions& o) {
  if (std::isnan(f)) return false;
  if (std::isinf(obs)) return o.rule == CountRule::at_least && f == obs;
  const double tol = o.tie_tolerance * std::fabs(obs);
  return o.rule == CountRule::at_least ? f >= obs - tol : f > obs + tol;
}

void check_options(const PermutationOptions& o) {
  require(o.draws >= 0, "permutation: draws must be >= 0, got " + std::to_string(o.draws));
  require(o.threads >= 1, "permutation: threads must be >= 1, got " + std::to_string(o.threads));
  require(o.tie_tolerance >= 0 && o.tie_tolerance < 1e-3,
          "permutation: tie_tolerance must be in [0, 1e-3)");
}

// Runs options.draws null draws of `stat` and fills out's p-value fields. A Stat has
// Work make_work() (scratch space, allocated once per thread) and double
// null_f(std::mt19937_64* rng, Work&): F after shuffling with rng, or F of the data as
// they are when rng is null (the observed value, by the same code). Draw d is seeded
// draw_seed(seed, tag, d), so threads never change the result.
template <class Stat>
void permutation_p(const Stat& stat, PermutationTag tag, const PermutationOptions& o,
                   AnovaEffect& out) {
  if (o.draws == 0) return;
  typename Stat::Work first = stat.make_work();
  const double obs = stat.null_f(nullptr, first);  // same code path as the null draws
  if (std::isnan(obs)) return;                     // F undefined: no test
  const int n = o.draws;
  const int threads = std::min(o.threads, n);
  std::vector<double> nulls(o.keep_null ? static_cast<std::size_t>(n) : 0);
  std::vector<int> counted(static_cast<std::size_t>(threads), 0);
  auto work = [&](int t, typename Stat::Work& w) {
    const int begin = static_cast<int>(static_cast<long long>(n) * t / threads);
    const int end = static_cast<int>(static_cast<long long>(n) * (t + 1) / threads);
    std::mt19937_64 rng;
    int c = 0;
    for (int d = begin; d < end; ++d) {
      if (o.cancel && (d - begin) % 64 == 0 && o.cancel->load(std::memory_order_relaxed)) break;
      rng.seed(draw_seed(o.seed, static_cast<std::uint64_t>(tag),
                         static_cast<std::uint64_t>(d)));
      const double f = stat.null_f(&rng, w);
      if (counts(f, obs, o)) ++c;
      if (o.keep_null) nulls[static_cast<std::size_t>(d)] = f;
    }
    counted[static_cast<std::size_t>(t)] = c;
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back([&, t] {
      typename Stat::Work w = stat.make_work();
      work(t, w);
    });
  work(0, first);
  for (std::thread& th : pool) th.join();
  if (o.cancel && o.cancel->load()) throw Cancelled();
  const int total = std::accumulate(counted.begin(), counted.end(), 0);
  out.null_count = total;
  out.draws = n;
  out.p = total == 0 ? 1.0 / n : static_cast<double>(total) / n;
  out.null_f = std::move(nulls);
}

AnovaEffect make_effect(double ss, int df, double ss_error, int df_error, double zero) {
  AnovaEffect e;
  e.ss = ss;
  e.df = df;
  e.ss_error = ss_error;
  e.df_error = df_error;
  e.f = f_ratio(ss, df, ss_error, df_error, zero);
  e.partial_eta2 = (ss + ss_error) > zero ? ss / (ss + ss_error) : kNaN;
  return e;
}

// Subtracts each row's mean (invariant under within-row shuffles); returns the sum of
// squares of the result (the within-row total).
double center_rows(std::vector<double>& v, std::size_t rows, std::size_t cols) {
  double ss = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    double* row = v.data() + r * cols;
    double m = 0;
    for (std::size_t c = 0; c < cols; ++c) m += row[c];
    m /= static_cast<double>(cols);
    for (std::size_t c = 0; c < cols; ++c) {
      row[c] -= m;
      ss += row[c] * row[c];
    }
  }
  return ss;
}

// [SECTION] Anova -------------------------------------------------------------------------

// Null F of a one-way repeated-measures design: rows = participants, columns shuffled
// within each row. Works on row-centred data, where SS_condition = sum_c C_c^2 / P
// (C_c = column sums) and SS_error = SS_within - SS_condition.
struct OneWayStat {
  std::vector<double> z;  // row-centred data, rows x cols
  std::size_t rows = 0, cols = 0;
  double ss_within = 0, zero = 0;
  struct Work {
    std::vector<double> buf, col;
  };
  OneWayStat(const Matrix& m) : z(m.values), rows(m.rows), cols(m.cols) {
    ss_within = center_rows(z, rows, cols);
    zero = kZeroFraction * ss_within;
  }
  Work make_work() const { return {std::vector<double>(cols), std::vector<double>(cols)}; }
  double null_f(std::mt19937_64* rng, Work& w) const {
    std::fill(w.col.begin(), w.col.end(), 0.0);
    for (std::size_t r = 0; r < rows; ++r) {
      std::copy_n(z.data() + r * cols, cols, w.buf.data());
      if (rng) shuffle(w.buf.data(), cols, *rng);
      for (std::size_t c = 0; c < cols; ++c) w.col[c] += w.buf[c];
    }
    double ss = 0;
    for (double c : w.col) ss += c * c;
    ss /= static_cast<double>(rows);
    const int df = static_cast<int>(cols) - 1;
    return f_ratio(ss, df, ss_within - ss, df * (static_cast<int>(rows) - 1), zero);
  }
};

// Direct one-way repeated-measures sums of squares.
AnovaEffect one_way_direct(const Matrix& m) {
  const std::size_t P = m.rows, K = m.cols;
  std::vector<double> rm(P, 0.0), cm(K, 0.0);
  double g = 0;
  for (std::size_t p = 0; p < P; ++p)
    for (std::size_t c = 0; c < K; ++c) {
      rm[p] += m(p, c);
      cm[c] += m(p, c);
      g += m(p, c);
    }
  for (double& v : rm) v /= static_cast<double>(K);
  for (double& v : cm) v /= static_cast<double>(P);
  g /= static_cast<double>(P * K);
  double ss_c = 0, ss_e = 0, ss_t = 0;
  for (std::size_t c = 0; c < K; ++c) ss_c += (cm[c] - g) * (cm[c] - g);
  ss_c *= static_cast<double>(P);
  for (std::size_t p = 0; p < P; ++p)
    for (std::size_t c = 0; c < K; ++c) {
      const double e = m(p, c) - rm[p] - cm[c] + g;
      ss_e += e * e;
      ss_t += (m(p, c) - g) * (m(p, c) - g);
    }
  const int df = static_cast<int>(K) - 1;
  return make_effect(ss_c, df, ss_e, df * (static_cast<int>(P) - 1), kZeroFraction * ss_t);
}

// Null F of the mixed design. Observer: shuffle the labels of the row means. Layer:
// shuffle columns within each row. Interaction: shuffle labels (first), then columns
// within each row (rows in order). Works on row-centred data, where every group total is
// 0: SS_layer = sum_l C_l^2 / R, SS_interaction = sum_g n_g sum_l (S_gl/n_g - C_l/R)^2,
// SS_error(within) = SS_within - SS_layer - SS_interaction.
struct MixedStat {
  enum Effect { kObserver, kLayer, kInteraction };
  Effect effect;
  std::vector<double> z;       // row-centred data, R x L
  std::vector<double> rc;      // row means minus the grand mean
  std::vector<int> labels;     // 0..k-1 per row
  std::vector<double> n_g;     // rows per group
  std::size_t R = 0, L = 0, k = 0;
  double ss_within = 0, ss_between = 0, zero_w = 0, zero_b = 0;
  struct Work {
    std::vector<int> lab;
    std::vector<double> buf, cell, col, gsum;
  };
  MixedStat(Effect e, const Matrix& m, const std::vector<int>& group, std::size_t groups)
      : effect(e), z(m.values), rc(m.rows), labels(group), n_g(groups, 0.0), R(m.rows),
        L(m.cols), k(groups) {
    for (int g : labels) n_g[static_cast<std::size_t>(g)] += 1.0;
    double grand = 0;
    for (std::size_t r = 0; r < R; ++r) {
      double s = 0;
      for (std::size_t c = 0; c < L; ++c) s += m(r, c);
      rc[r] = s / static_cast<double>(L);
      grand += rc[r];
    }
    grand /= static_cast<double>(R);
    for (double& v : rc) {
      v -= grand;
      ss_between += v * v;
    }
    ss_between *= static_cast<double>(L);
    ss_within = center_rows(z, R, L);
    zero_w = kZeroFraction * (ss_within + ss_between);
    zero_b = zero_w;
  }
  Work make_work() const {
    return {std::vector<int>(R), std::vector<double>(L), std::vector<double>(k * L),
            std::vector<double>(L), std::vector<double>(k)};
  }
  double null_f(std::mt19937_64* rng, Work& w) const {
    std::copy(labels.begin(), labels.end(), w.lab.begin());
    if (rng && effect != kLayer) shuffle(w.lab.data(), R, *rng);
    const int dfk = static_cast<int>(k) - 1;
    const int dfs = static_cast<int>(R) - static_cast<int>(k);
    if (effect == kObserver) {
      std::fill(w.gsum.begin(), w.gsum.end(), 0.0);
      for (std::size_t r = 0; r < R; ++r) w.gsum[static_cast<std::size_t>(w.lab[r])] += rc[r];
      double ss = 0;
      for (std::size_t g = 0; g < k; ++g) ss += w.gsum[g] * w.gsum[g] / n_g[g];
      ss *= static_cast<double>(L);
      return f_ratio(ss, dfk, ss_between - ss, dfs, zero_b);
    }
    std::fill(w.cell.begin(), w.cell.end(), 0.0);
    for (std::size_t r = 0; r < R; ++r) {
      std::copy_n(z.data() + r * L, L, w.buf.data());
      if (rng) shuffle(w.buf.data(), L, *rng);
      double* cell = w.cell.data() + static_cast<std::size_t>(w.lab[r]) * L;
      for (std::size_t c = 0; c < L; ++c) cell[c] += w.buf[c];
    }
    std::fill(w.col.begin(), w.col.end(), 0.0);
    for (std::size_t g = 0; g < k; ++g)
      for (std::size_t c = 0; c < L; ++c) w.col[c] += w.cell[g * L + c];
    double ss_layer = 0;
    for (double c : w.col) ss_layer += c * c;
    ss_layer /= static_cast<double>(R);
    double ss_inter = 0;
    for (std::size_t g = 0; g < k; ++g) {
      double s = 0;
      for (std::size_t c = 0; c < L; ++c) {
        const double d = w.cell[g * L + c] / n_g[g] - w.col[c] / static_cast<double>(R);
        s += d * d;
      }
      ss_inter += n_g[g] * s;
    }
    const double ss_error = ss_within - ss_layer - ss_inter;
    const int dfl = static_cast<int>(L) - 1;
    if (effect == kLayer) return f_ratio(ss_layer, dfl, ss_error, dfs * dfl, zero_w);
    return f_ratio(ss_inter, dfk * dfl, ss_error, dfs * dfl, zero_w);
  }
};

// Null F of the two-way interaction: all layer x model cells shuffled within each
// participant. Row-centred data; per participant the layer sums r_a and model sums c_b give
// SS_A + SS_AxS = sum r_a^2 / B and SS_B + SS_BxS = sum c_b^2 / A; cell sums S_ab over
// participants give SS_AB; SS_ABxS = SS_within minus all of these.
struct InteractionStat {
  std::vector<double> z;  // P x (A*B), row-centred, layer-major
  std::size_t P = 0, A = 0, B = 0;
  double ss_within = 0, zero = 0;
  struct Work {
    std::vector<double> buf, cell, ra, cb;
  };
  explicit InteractionStat(const Array3& a)
      : z(a.values), P(a.participants), A(a.layers), B(a.models) {
    ss_within = center_rows(z, P, A * B);
    zero = kZeroFraction * ss_within;
  }
  Work make_work() const {
    return {std::vector<double>(A * B), std::vector<double>(A * B), std::vector<double>(A),
            std::vector<double>(B)};
  }
  double null_f(std::mt19937_64* rng, Work& w) const {
    const std::size_t AB = A * B;
    std::fill(w.cell.begin(), w.cell.end(), 0.0);
    double sa = 0, sb = 0;
    for (std::size_t p = 0; p < P; ++p) {
      std::copy_n(z.data() + p * AB, AB, w.buf.data());
      if (rng) shuffle(w.buf.data(), AB, *rng);
      std::fill(w.cb.begin(), w.cb.end(), 0.0);
      for (std::size_t a = 0; a < A; ++a) {
        double r = 0;
        for (std::size_t b = 0; b < B; ++b) {
          const double v = w.buf[a * B + b];
          r += v;
          w.cb[b] += v;
          w.cell[a * B + b] += v;
        }
        sa += r * r;
      }
      for (double c : w.cb) sb += c * c;
    }
    sa /= static_cast<double>(B);
    sb /= static_cast<double>(A);
    std::fill(w.ra.begin(), w.ra.end(), 0.0);
    std::fill(w.cb.begin(), w.cb.end(), 0.0);
    for (std::size_t a = 0; a < A; ++a)
      for (std::size_t b = 0; b < B; ++b) {
        w.ra[a] += w.cell[a * B + b];
        w.cb[b] += w.cell[a * B + b];
      }
    const double dP = static_cast<double>(P), dA = static_cast<double>(A),
                 dB = static_cast<double>(B);
    double ss_ab = 0;
    for (std::size_t a = 0; a < A; ++a)
      for (std::size_t b = 0; b < B; ++b) {
        const double d = w.cell[a * B + b] / dP - w.ra[a] / (dP * dB) - w.cb[b] / (dP * dA);
        ss_ab += d * d;
      }
    ss_ab *= dP;
    const int df = (static_cast<int>(A) - 1) * (static_cast<int>(B) - 1);
    return f_ratio(ss_ab, df, ss_within - sa - sb - ss_ab, df * (static_cast<int>(P) - 1),
                   zero);
  }
};

// Validates a mixed design and returns the number of groups.
std::size_t check_mixed(const Matrix& data, const std::vector<int>& group) {
  require_finite(data, "mixed_anova");
  require(data.cols >= 2, "mixed_anova: needs at least 2 layers (columns), got " +
                              std::to_string(data.cols));
  require(group.size() == data.rows, "mixed_anova: " + std::to_string(group.size()) +
                                         " group labels for " + std::to_string(data.rows) +
                                         " rows");
  int top = -1;
  for (std::size_t r = 0; r < group.size(); ++r) {
    require(group[r] >= 0, "mixed_anova: row " + std::to_string(r) +
                               " has a negative group label " + std::to_string(group[r]));
    top = std::max(top, group[r]);
  }
  const std::size_t k = static_cast<std::size_t>(top + 1);
  require(k >= 2, "mixed_anova: needs at least 2 groups (labels 0 and 1)");
  std::vector<int> n(k, 0);
  for (int g : group) ++n[static_cast<std::size_t>(g)];
  for (std::size_t g = 0; g < k; ++g)
    require(n[g] > 0, "mixed_anova: group label " + std::to_string(g) +
                          " has no rows (labels must be 0..k-1, all used)");
  require(data.rows > k, "mixed_anova: needs more rows than groups (" +
                             std::to_string(data.rows) + " rows, " + std::to_string(k) +
                             " groups): no error degrees of freedom");
  return k;
}

}  // namespace

MixedAnovaResult mixed_anova(const Matrix& data, const std::vector<int>& group,
                             const PermutationOptions& options) {
  check_options(options);
  const std::size_t k = check_mixed(data, group);
  const std::size_t R = data.rows, L = data.cols;
  // Means: rows, groups (over their rows), columns, cells, grand (all weighted by rows).
  std::vector<double> row(R, 0.0), gm(k, 0.0), col(L, 0.0), cell(k * L, 0.0), n(k, 0.0);
  double grand = 0;
  for (std::size_t r = 0; r < R; ++r) {
    const std::size_t g = static_cast<std::size_t>(group[r]);
    n[g] += 1.0;
    for (std::size_t c = 0; c < L; ++c) {
      row[r] += data(r, c);
      col[c] += data(r, c);
      cell[g * L + c] += data(r, c);
      grand += data(r, c);
    }
    gm[g] += row[r];
  }
  const double dL = static_cast<double>(L), dR = static_cast<double>(R);
  for (double& v : row) v /= dL;
  for (double& v : col) v /= dR;
  for (std::size_t g = 0; g < k; ++g) {
    gm[g] /= n[g] * dL;
    for (std::size_t c = 0; c < L; ++c) cell[g * L + c] /= n[g];
  }
  grand /= dR * dL;
  double ss_g = 0, ss_s = 0, ss_l = 0, ss_gl = 0, ss_e = 0, ss_t = 0;
  for (std::size_t g = 0; g < k; ++g) {
    ss_g += n[g] * (gm[g] - grand) * (gm[g] - grand);
    for (std::size_t c = 0; c < L; ++c) {
      const double d = cell[g * L + c] - gm[g] - col[c] + grand;
      ss_gl += n[g] * d * d;
    }
  }
  ss_g *= dL;
  for (std::size_t c = 0; c < L; ++c) ss_l += (col[c] - grand) * (col[c] - grand);
  ss_l *= dR;
  for (std::size_t r = 0; r < R; ++r) {
    const std::size_t g = static_cast<std::size_t>(group[r]);
    ss_s += (row[r] - gm[g]) * (row[r] - gm[g]);
    for (std::size_t c = 0; c < L; ++c) {
      const double e = data(r, c) - row[r] - cell[g * L + c] + gm[g];
      ss_e += e * e;
      ss_t += (data(r, c) - grand) * (data(r, c) - grand);
    }
  }
  ss_s *= dL;
  const double zero = kZeroFraction * ss_t;
  const int dfk = static_cast<int>(k) - 1, dfs = static_cast<int>(R - k),
            dfl = static_cast<int>(L) - 1;
  MixedAnovaResult out;
  out.observer = make_effect(ss_g, dfk, ss_s, dfs, zero);
  out.layer = make_effect(ss_l, dfl, ss_e, dfs * dfl, zero);
  out.interaction = make_effect(ss_gl, dfk * dfl, ss_e, dfs * dfl, zero);
  permutation_p(MixedStat(MixedStat::kObserver, data, group, k), PermutationTag::mixed_observer,
                options, out.observer);
  permutation_p(MixedStat(MixedStat::kLayer, data, group, k), PermutationTag::mixed_layer,
                options, out.layer);
  permutation_p(MixedStat(MixedStat::kInteraction, data, group, k),
                PermutationTag::mixed_interaction, options, out.interaction);
  return out;
}

TwoWayRmResult rm_anova_two_way(const Array3& data, const PermutationOptions& options) {
  check_options(options);
  const std::size_t P = data.participants, A = data.layers, B = data.models;
  require(data.values.size() == P * A * B, "rm_anova_two_way: array size mismatch");
  require(P >= 2, "rm_anova_two_way: needs at least 2 participants, got " + std::to_string(P));
  require(A >= 2, "rm_anova_two_way: needs at least 2 layers, got " + std::to_string(A));
  require(B >= 2, "rm_anova_two_way: needs at least 2 models, got " + std::to_string(B));
  for (std::size_t p = 0; p < P; ++p)
    for (std::size_t a = 0; a < A; ++a)
      for (std::size_t b = 0; b < B; ++b)
        require(std::isfinite(data(p, a, b)),
                "rm_anova_two_way: participant " + std::to_string(p) + ", layer " +
                    std::to_string(a) + ", model " + std::to_string(b) +
                    " is not a finite number (a missing cell? drop the participant)");
  // Marginal means.
  std::vector<double> mp(P, 0.0), mpa(P * A, 0.0), mpb(P * B, 0.0), mab(A * B, 0.0),
      ma(A, 0.0), mb(B, 0.0);
  double g = 0;
  for (std::size_t p = 0; p < P; ++p)
    for (std::size_t a = 0; a < A; ++a)
      for (std::size_t b = 0; b < B; ++b) {
        const double v = data(p, a, b);
        mp[p] += v;
        mpa[p * A + a] += v;
        mpb[p * B + b] += v;
        mab[a * B + b] += v;
        ma[a] += v;
        mb[b] += v;
        g += v;
      }
  const double dP = static_cast<double>(P), dA = static_cast<double>(A),
               dB = static_cast<double>(B);
  for (double& v : mp) v /= dA * dB;
  for (double& v : mpa) v /= dB;
  for (double& v : mpb) v /= dA;
  for (double& v : mab) v /= dP;
  for (double& v : ma) v /= dP * dB;
  for (double& v : mb) v /= dP * dA;
  g /= dP * dA * dB;
  double ss_a = 0, ss_b = 0, ss_ab = 0, ss_as = 0, ss_bs = 0, ss_abs = 0, ss_t = 0;
  for (std::size_t a = 0; a < A; ++a) ss_a += (ma[a] - g) * (ma[a] - g);
  for (std::size_t b = 0; b < B; ++b) ss_b += (mb[b] - g) * (mb[b] - g);
  for (std::size_t a = 0; a < A; ++a)
    for (std::size_t b = 0; b < B; ++b) {
      const double d = mab[a * B + b] - ma[a] - mb[b] + g;
      ss_ab += d * d;
    }
  for (std::size_t p = 0; p < P; ++p) {
    for (std::size_t a = 0; a < A; ++a) {
      const double d = mpa[p * A + a] - mp[p] - ma[a] + g;
      ss_as += d * d;
    }
    for (std::size_t b = 0; b < B; ++b) {
      const double d = mpb[p * B + b] - mp[p] - mb[b] + g;
      ss_bs += d * d;
    }
    for (std::size_t a = 0; a < A; ++a)
      for (std::size_t b = 0; b < B; ++b) {
        const double v = data(p, a, b);
        const double e = v - mpa[p * A + a] - mpb[p * B + b] - mab[a * B + b] + mp[p] +
                         ma[a] + mb[b] - g;
        ss_abs += e * e;
        ss_t += (v - g) * (v - g);
      }
  }
  ss_a *= dP * dB;
  ss_b *= dP * dA;
  ss_ab *= dP;
  ss_as *= dB;
  ss_bs *= dA;
  const double zero = kZeroFraction * ss_t;
  const int dfa = static_cast<int>(A) - 1, dfb = static_cast<int>(B) - 1,
            dfs = static_cast<int>(P) - 1;
  TwoWayRmResult out;
  out.layer = make_effect(ss_a, dfa, ss_as, dfa * dfs, zero);
  out.model = make_effect(ss_b, dfb, ss_bs, dfb * dfs, zero);
  out.interaction = make_effect(ss_ab, dfa * dfb, ss_abs, dfa * dfb * dfs, zero);
  if (options.draws > 0) {
    // Main effects: F of the two-way design equals the one-way RM F on the data averaged
    // over the other factor (both sums of squares scale by the same factor).
    Matrix by_layer(P, A), by_model(P, B);
    for (std::size_t p = 0; p < P; ++p) {
      for (std::size_t a = 0; a < A; ++a) by_layer(p, a) = mpa[p * A + a];
      for (std::size_t b = 0; b < B; ++b) by_model(p, b) = mpb[p * B + b];
    }
    permutation_p(OneWayStat(by_layer), PermutationTag::rm2_layer, options, out.layer);
    permutation_p(OneWayStat(by_model), PermutationTag::rm2_model, options, out.model);
    permutation_p(InteractionStat(data), PermutationTag::rm2_interaction, options,
                  out.interaction);
  }
  return out;
}

AnovaEffect rm_anova_one_way(const Matrix& data, const PermutationOptions& options) {
  check_options(options);
  require_finite(data, "rm_anova_one_way");
  require(data.rows >= 2, "rm_anova_one_way: needs at least 2 participants (rows), got " +
                              std::to_string(data.rows));
  require(data.cols >= 2, "rm_anova_one_way: needs at least 2 conditions (columns), got " +
                              std::to_string(data.cols));
  AnovaEffect out = one_way_direct(data);
  permutation_p(OneWayStat(data), PermutationTag::rm1, options, out);
  return out;
}

}  // namespace mm::analysis
