// tests/analysis/stats_test.cpp: analysis/stats: descriptives, correlations, bootstrap,
// the portable random draws, and the three ANOVAs (hand-worked cases, an independent numpy
// cross-check through tests/analysis/anova_reference.py, permutation p-values).
//
// Sections
//   [SECTION] Helpers         random designs, running the numpy reference
//   [SECTION] Random          engine, bounded draw, shuffle
//   [SECTION] Descriptives    mean, SD, SEM, median, percentile, bootstrap
//   [SECTION] Correlation     ranks, Pearson, Spearman
//   [SECTION] AnovaByHand     small designs with sums of squares worked out in comments
//   [SECTION] AnovaReference  random designs against numpy least-squares fits
//   [SECTION] Permutation     reproducibility, threads, extreme and null data, ties
//   [SECTION] Errors          bad input throws std::invalid_argument
#include "analysis/stats.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <chrono>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mm::analysis {
namespace {

// [SECTION] Helpers -----------------------------------------------------------------------

// A uniform double in [0, 1) from 53 random bits (portable).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Standard normal by Box-Muller from uniform01 (portable).
double normal(std::mt19937_64& rng) {
  const double u1 = 1.0 - uniform01(rng), u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

Matrix random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed, double sd = 1.0) {
  std::mt19937_64 rng(seed);
  Matrix m(rows, cols);
  for (double& v : m.values) v = sd * normal(rng);
  return m;
}

Array3 random_array(std::size_t p, std::size_t a, std::size_t b, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Array3 x(p, a, b);
  for (double& v : x.values) v = normal(rng);
  return x;
}

std::string reference_script() {
#if defined(METAMERLAB_SOURCE_DIR)
  return METAMERLAB_SOURCE_DIR "/tests/analysis/anova_reference.py";
#else
  return (std::filesystem::path(__FILE__).parent_path() / "anova_reference.py").string();
#endif
}

std::string run_command(const std::string& cmd, int* status) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) {
    *status = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  *status = pclose(f);
  return out;
}

// Runs the numpy reference on a design file's text; returns "section.effect.field" ->
// value. Fails the test (with the script's output) when /usr/bin/python3 or numpy is
// missing or the script fails.
std::map<std::string, double> run_reference(const std::string& design) {
  std::map<std::string, double> out;
  int status = 0;
  const std::string probe = run_command("/usr/bin/python3 -c 'import numpy' 2>&1", &status);
  if (status != 0) {
    ADD_FAILURE() << "the numpy cross-check needs /usr/bin/python3 with numpy "
                     "(apt-get install python3-numpy): "
                  << probe;
    return out;
  }
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("mm_stats_design_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream f(file);
    f << design;
  }
  const std::string text =
      run_command("/usr/bin/python3 '" + reference_script() + "' '" + file.string() + "' 2>&1",
                  &status);
  std::filesystem::remove(file);
  if (status != 0) {
    ADD_FAILURE() << "anova_reference.py failed: " << text;
    return out;
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto q1 = line.find('"');
    const auto q2 = q1 == std::string::npos ? q1 : line.find('"', q1 + 1);
    const auto colon = q2 == std::string::npos ? q2 : line.find(':', q2);
    if (colon == std::string::npos) continue;
    out[line.substr(q1 + 1, q2 - q1 - 1)] = std::strtod(line.c_str() + colon + 1, nullptr);
  }
  if (out.empty()) ADD_FAILURE() << "anova_reference.py printed nothing usable: " << text;
  return out;
}

std::string num(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

void expect_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, std::fabs(want))) << what;
  EXPECT_LE(std::fabs(got - want), 1e-9 * std::fabs(want) + 1e-12) << what << " (relative)";
}

void expect_matches(const AnovaEffect& e, const std::map<std::string, double>& ref,
                    const std::string& prefix) {
  ASSERT_TRUE(ref.count(prefix + ".F")) << "no " << prefix << " in the reference output";
  expect_close(e.f, ref.at(prefix + ".F"), prefix + ".F");
  expect_close(e.partial_eta2, ref.at(prefix + ".eta2"), prefix + ".eta2");
  expect_close(e.ss, ref.at(prefix + ".ss"), prefix + ".ss");
  expect_close(e.ss_error, ref.at(prefix + ".ss_error"), prefix + ".ss_error");
  EXPECT_EQ(e.df, static_cast<int>(ref.at(prefix + ".df"))) << prefix;
  EXPECT_EQ(e.df_error, static_cast<int>(ref.at(prefix + ".df_error"))) << prefix;
}

PermutationOptions no_perm() {
  PermutationOptions o;
  o.draws = 0;
  return o;
}

// [SECTION] Random ------------------------------------------------------------------------

TEST(StatsRandom, EngineIsTheStandardMt19937_64) {
  std::mt19937_64 rng;  // default seed 5489: the standard fixes the 10000th output
  rng.discard(9999);
  EXPECT_EQ(rng(), 9981545732273789042ull);
}

TEST(StatsRandom, BoundedDrawPinnedValues) {
  // Expected values computed independently with Python integers from the engine's raw
  // outputs: floor(x * n / 2^64), redrawing when (x * n) mod 2^64 < 2^64 mod n, and
  // Fisher-Yates from the last position down. Any platform must give these numbers.
  std::mt19937_64 rng(42);
  std::vector<std::uint64_t> draws;
  for (int i = 0; i < 8; ++i) draws.push_back(bounded_draw(rng, 10));
  EXPECT_EQ(draws, (std::vector<std::uint64_t>{7, 6, 7, 1, 9, 0, 5, 3}));
  // Without rejection, the value is the high word of x * 10: (hi*10 + (lo*10 >> 32)) >> 32.
  std::mt19937_64 raw(42), twin(42);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = raw(), hi = x >> 32, lo = x & 0xffffffffu;
    EXPECT_EQ(bounded_draw(twin, 10), (hi * 10 + ((lo * 10) >> 32)) >> 32) << "draw " << i;
  }
  std::mt19937_64 s(42);
  std::vector<int> v{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  shuffle(v, s);
  EXPECT_EQ(v, (std::vector<int>{3, 4, 1, 2, 9, 8, 0, 6, 5, 7}));
}

TEST(StatsRandom, BoundedDrawIsUniformAndInRange) {
  std::mt19937_64 rng(7);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 300000; ++i) {
    const std::uint64_t v = bounded_draw(rng, 3);
    ASSERT_LT(v, 3u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 100000, 1500);
  // A range just above 2^63 rejects about half of the raw draws; results stay in range
  // and split evenly around the middle.
  const std::uint64_t n = (1ull << 63) + 1;
  int low = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t v = bounded_draw(rng, n);
    ASSERT_LT(v, n);
    low += v < n / 2;
  }
  EXPECT_NEAR(low, 10000, 500);
  EXPECT_EQ(bounded_draw(rng, 1), 0u);
  EXPECT_THROW(bounded_draw(rng, 0), std::invalid_argument);
}

TEST(StatsRandom, ShuffleIsAUniformPermutation) {
  std::mt19937_64 rng(3);
  std::map<std::vector<int>, int> seen;
  for (int i = 0; i < 60000; ++i) {
    std::vector<int> v{0, 1, 2};
    shuffle(v, rng);
    ++seen[v];
  }
  ASSERT_EQ(seen.size(), 6u);
  for (const auto& kv : seen) EXPECT_NEAR(kv.second, 10000, 500);
}

TEST(StatsRandom, DrawSeedsDiffer) {
  EXPECT_NE(draw_seed(1, 1, 0), draw_seed(1, 1, 1));
  EXPECT_NE(draw_seed(1, 1, 0), draw_seed(1, 2, 0));
  EXPECT_NE(draw_seed(1, 1, 0), draw_seed(2, 1, 0));
  EXPECT_EQ(draw_seed(5, 3, 9), draw_seed(5, 3, 9));
}

// [SECTION] Descriptives ------------------------------------------------------------------

TEST(StatsDescriptives, HandValues) {
  const std::vector<double> xs{2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(mean(xs), 5.0);
  // Squared deviations 9+1+1+1+0+0+4+16 = 32; sample variance 32/7.
  EXPECT_DOUBLE_EQ(sample_sd(xs), std::sqrt(32.0 / 7.0));
  EXPECT_DOUBLE_EQ(sem(xs), std::sqrt(32.0 / 7.0) / std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(median(xs), 4.5);
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2.0);
  // numpy.percentile (linear): h = 7 * q / 100. q=25 -> 1.75 -> 4; q=90 -> 6.3 -> 7 + .3*2.
  EXPECT_DOUBLE_EQ(percentile(xs, 25), 4.0);
  EXPECT_NEAR(percentile(xs, 90), 7.6, 1e-12);
  EXPECT_DOUBLE_EQ(percentile(xs, 0), 2.0);
  EXPECT_DOUBLE_EQ(percentile(xs, 100), 9.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 25), 1.75);
  const MeanSem ms = mean_sem({0.5, 0.7, 0.9});
  EXPECT_DOUBLE_EQ(ms.mean, 0.7);
  EXPECT_NEAR(ms.sem, 0.2 / std::sqrt(3.0), 1e-15);  // SD = 0.2
  EXPECT_EQ(ms.n, 3u);
  EXPECT_TRUE(std::isnan(mean_sem({0.4}).sem));
}

TEST(StatsDescriptives, BootstrapCiContainsTheMeanAndIsReproducible) {
  std::mt19937_64 rng(11);
  std::vector<double> xs(40);
  for (double& v : xs) v = 0.6 + 0.1 * normal(rng);
  const Interval a = bootstrap_mean_ci(xs, 2000, 99);
  const Interval b = bootstrap_mean_ci(xs, 2000, 99);
  const Interval c = bootstrap_mean_ci(xs, 2000, 100);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_NE(a.low, c.low);
  const double m = mean(xs);
  EXPECT_LT(a.low, m);
  EXPECT_GT(a.high, m);
  // Half-width close to 1.96 * SEM for a normal sample.
  const double half = (a.high - a.low) / 2.0;
  EXPECT_NEAR(half, 1.96 * sem(xs), 0.2 * 1.96 * sem(xs));
  const Interval narrow = bootstrap_mean_ci(xs, 2000, 99, 0.5);
  EXPECT_GT(narrow.low, a.low);
  EXPECT_LT(narrow.high, a.high);
}

TEST(StatsDescriptives, BootstrapFollowsTheDocumentedResampling) {
  // Resample r: n draws bounded_draw(rng, n) from std::mt19937_64(seed), in order. SEM is
  // the n-denominator SD of the means (numpy.std, as the paper's code); the CI takes the
  // numpy-style percentiles 2.5 and 97.5 of the means.
  const std::vector<double> xs{0.1, 0.4, 0.45, 0.8, 0.9, 0.3, 0.55};
  const int resamples = 500;
  std::mt19937_64 rng(123);
  std::vector<double> means;
  for (int r = 0; r < resamples; ++r) {
    double s = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) s += xs[bounded_draw(rng, xs.size())];
    means.push_back(s / static_cast<double>(xs.size()));
  }
  double m = 0, ss = 0;
  for (double v : means) m += v / resamples;
  for (double v : means) ss += (v - m) * (v - m);
  EXPECT_NEAR(bootstrap_sem(xs, resamples, 123), std::sqrt(ss / resamples), 1e-14);
  const Interval ci = bootstrap_mean_ci(xs, resamples, 123);
  EXPECT_DOUBLE_EQ(ci.low, percentile(means, 2.5));
  EXPECT_DOUBLE_EQ(ci.high, percentile(means, 97.5));
}

TEST(StatsNetworkNetwork, BootstrapSemOfAProportion) {
  // 400 stimuli, 200 correct: the SEM of a proportion is sqrt(.5*.5/400) = 0.025.
  std::vector<int> correct(400);
  for (std::size_t i = 0; i < correct.size(); ++i) correct[i] = static_cast<int>(i % 2);
  const double s = bootstrap_sem_proportion(correct, 1000, 5);
  EXPECT_NEAR(s, 0.025, 0.0025);
  EXPECT_EQ(s, bootstrap_sem_proportion(correct, 1000, 5));
  EXPECT_NE(s, bootstrap_sem_proportion(correct, 1000, 6));
  std::vector<double> as_double(correct.begin(), correct.end());
  EXPECT_EQ(s, bootstrap_sem(as_double, 1000, 5));
  EXPECT_EQ(bootstrap_sem_proportion(std::vector<int>(50, 1), 1000, 5), 0.0);
}

// [SECTION] Correlation -------------------------------------------------------------------

TEST(StatsCorrelation, AverageRanks) {
  EXPECT_EQ(average_ranks({10, 20, 20, 5, 20}), (std::vector<double>{2, 4, 4, 1, 4}));
  EXPECT_EQ(average_ranks({3, 1, 2}), (std::vector<double>{3, 1, 2}));
}

TEST(StatsCorrelation, PearsonAndSpearmanWithTies) {
  // x=1..5, y=2,4,5,4,5: deviations (-2..2), (-2,0,1,0,1); sxy=6, sxx=10, syy=6.
  EXPECT_NEAR(pearson({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5}), 6.0 / std::sqrt(60.0), 1e-15);
  // Ranks x: 1,2.5,2.5,4,5; y: 2,1,5,3.5,3.5. Deviations from 3: (-2,-.5,-.5,1,2) and
  // (-1,-2,2,.5,.5): sum of products 3.5, sums of squares 9.5 and 9.5: rho = 7/19
  // (scipy.stats.spearmanr gives 0.3684210526315789).
  EXPECT_NEAR(spearman({1, 2, 2, 3, 4}, {2, 1, 4, 3, 3}), 7.0 / 19.0, 1e-15);
  // Monotone but non-linear: rho 1, r < 1.
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 8, 27, 64}), 1.0, 1e-15);
  EXPECT_LT(pearson({1, 2, 3, 4}, {1, 8, 27, 64}), 0.99);
  EXPECT_NEAR(spearman({1, 2, 3}, {3, 2, 1}), -1.0, 1e-15);
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
}

// [SECTION] AnovaByHand -------------------------------------------------------------------

TEST(StatsAnovaByHand, OneWayRepeatedMeasures) {
  // Rows 1 3 5 | 2 2 5 | 3 4 11: row means 3,3,6; column means 2,3,7; grand 4.
  // SS_condition = 3*((2-4)^2+(3-4)^2+(7-4)^2) = 42.
  // Residuals y - row - col + grand: 0 1 -1 | 1 0 -1 | -1 -1 2: SS_error = 10.
  // df 2 and 4: F = 21/2.5 = 8.4; partial eta^2 = 42/52.
  const Matrix m = Matrix::from_rows({{1, 3, 5}, {2, 2, 5}, {3, 4, 11}});
  const AnovaEffect e = rm_anova_one_way(m, no_perm());
  EXPECT_NEAR(e.ss, 42, 1e-12);
  EXPECT_NEAR(e.ss_error, 10, 1e-12);
  EXPECT_EQ(e.df, 2);
  EXPECT_EQ(e.df_error, 4);
  EXPECT_NEAR(e.f, 8.4, 1e-12);
  EXPECT_NEAR(e.partial_eta2, 42.0 / 52.0, 1e-12);
  EXPECT_TRUE(std::isnan(e.p));
}

TEST(StatsAnovaByHand, TwoWayRepeatedMeasures) {
  // [participant][layer][model]: P1 (1,2)(3,6); P2 (2,2)(4,8); P3 (0,5)(5,10). Grand 4.
  // Cell means a0b0 1, a0b1 3, a1b0 4, a1b1 8; layer means 2, 6; model means 2.5, 5.5.
  // SS_layer = 3*2*(4+4) = 48; SS_model = 3*2*(2.25+2.25) = 27;
  // SS_layerxmodel = 3*(4 * 0.5^2) = 3.
  // Participant x layer means 1.5 4.5 | 2 6 | 2.5 7.5, participant means 3 4 5:
  //   SS_layer x S = 2 * (4 * 0.5^2) = 2.
  // Participant x model means 2 4 | 3 5 | 2.5 7.5: deviations .5 -.5 | .5 -.5 | -1 1:
  //   SS_model x S = 2 * 3 = 6.
  // Residual (layer x model x S): 0 | +-0.5 | +-0.5 per cell: SS = 2.
  // Check: SS_total 96 = 48 + 27 + 3 + 2 + 6 + 2 + SS_subjects 8.
  Array3 a = Array3::from_nested(
      {{{1, 2}, {3, 6}}, {{2, 2}, {4, 8}}, {{0, 5}, {5, 10}}});
  const TwoWayRmResult r = rm_anova_two_way(a, no_perm());
  EXPECT_NEAR(r.layer.ss, 48, 1e-12);
  EXPECT_NEAR(r.layer.ss_error, 2, 1e-12);
  EXPECT_EQ(r.layer.df, 1);
  EXPECT_EQ(r.layer.df_error, 2);
  EXPECT_NEAR(r.layer.f, 48, 1e-10);
  EXPECT_NEAR(r.layer.partial_eta2, 48.0 / 50.0, 1e-12);
  EXPECT_NEAR(r.model.ss, 27, 1e-12);
  EXPECT_NEAR(r.model.ss_error, 6, 1e-12);
  EXPECT_NEAR(r.model.f, 9, 1e-10);
  EXPECT_NEAR(r.model.partial_eta2, 27.0 / 33.0, 1e-12);
  EXPECT_NEAR(r.interaction.ss, 3, 1e-12);
  EXPECT_NEAR(r.interaction.ss_error, 2, 1e-12);
  EXPECT_EQ(r.interaction.df, 1);
  EXPECT_EQ(r.interaction.df_error, 2);
  EXPECT_NEAR(r.interaction.f, 3, 1e-10);
  EXPECT_NEAR(r.interaction.partial_eta2, 0.6, 1e-12);
}

TEST(StatsAnovaByHand, MixedObserverByLayer) {
  // Group 0 rows: 1 2 3 | 3 4 8; group 1 rows: 5 5 5 | 7 9 8. Row means 2 5 5 8; group
  // means 3.5 6.5; grand 5; column means 4 5 6; cell means g0: 2 3 5.5, g1: 6 7 6.5.
  // SS_observer = 3 * 2 * (1.5^2 + 1.5^2) = 27; SS_subjects = 3 * 4 * 1.5^2 = 27.
  // SS_layer = 4 * (1 + 0 + 1) = 8.
  // Interaction deviations g0: -.5 -.5 1, g1: .5 .5 -1: SS = 2*1.5 + 2*1.5 = 6.
  // Within residuals .5 .5 -1 | -.5 -.5 1 | .5 -.5 0 | -.5 .5 0: SS_error = 4.
  // Total 72 = 27 + 27 + 8 + 6 + 4. df: 1, 2, 2, 2, 4.
  const Matrix m = Matrix::from_rows({{1, 2, 3}, {3, 4, 8}, {5, 5, 5}, {7, 9, 8}});
  const MixedAnovaResult r = mixed_anova(m, {0, 0, 1, 1}, no_perm());
  EXPECT_NEAR(r.observer.ss, 27, 1e-12);
  EXPECT_NEAR(r.observer.ss_error, 27, 1e-12);
  EXPECT_EQ(r.observer.df, 1);
  EXPECT_EQ(r.observer.df_error, 2);
  EXPECT_NEAR(r.observer.f, 2, 1e-12);
  EXPECT_NEAR(r.observer.partial_eta2, 0.5, 1e-12);
  EXPECT_NEAR(r.layer.ss, 8, 1e-12);
  EXPECT_NEAR(r.layer.ss_error, 4, 1e-12);
  EXPECT_EQ(r.layer.df, 2);
  EXPECT_EQ(r.layer.df_error, 4);
  EXPECT_NEAR(r.layer.f, 4, 1e-12);
  EXPECT_NEAR(r.layer.partial_eta2, 8.0 / 12.0, 1e-12);
  EXPECT_NEAR(r.interaction.ss, 6, 1e-12);
  EXPECT_EQ(r.interaction.df, 2);
  EXPECT_NEAR(r.interaction.f, 3, 1e-12);
  EXPECT_NEAR(r.interaction.partial_eta2, 0.6, 1e-12);
}

// A cancel flag set by another thread while the draws run stops them (every worker) and
// throws Cancelled; 200 million draws would take minutes. Left unset, it changes nothing.
TEST(StatsPermutation, ACancelFlagStopsTheDrawsAndThrows) {
  const Matrix m = Matrix::from_rows({{1, 2.5}, {3, 4}, {0, 1.5}, {2, 2}});
  std::atomic<bool> stop{false};
  PermutationOptions o;
  o.draws = 200000000;
  o.threads = 2;
  o.cancel = &stop;
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(rm_anova_one_way(m, o), Cancelled);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  setter.join();
  EXPECT_LT(s, 20.0) << "the draws did not stop when the flag was set";
  stop = false;
  o.draws = 500;
  PermutationOptions plain;
  plain.draws = 500;
  plain.threads = 2;
  EXPECT_EQ(rm_anova_one_way(m, o).null_count, rm_anova_one_way(m, plain).null_count);
}

TEST(StatsAnovaByHand, ExactFitGivesInfiniteF) {
  // Every participant shows the same condition effect: no error, F = inf, eta^2 = 1.
  const AnovaEffect e = rm_anova_one_way(Matrix::from_rows({{1, 2}, {3, 4}, {0, 1}}), {});
  EXPECT_TRUE(std::isinf(e.f));
  EXPECT_DOUBLE_EQ(e.partial_eta2, 1.0);
  // Null F is inf again only when all three rows are swapped alike (2 of 8 arrangements);
  // those ties count under ">=" and not under ">".
  EXPECT_NEAR(e.null_count, 2500, 200);
  PermutationOptions strict;
  strict.rule = CountRule::greater;
  EXPECT_EQ(rm_anova_one_way(Matrix::from_rows({{1, 2}, {3, 4}, {0, 1}}), strict).null_count, 0);
  // No effect and no error: F undefined, no p-value.
  const AnovaEffect flat = rm_anova_one_way(Matrix::from_rows({{1, 1}, {3, 3}}), {});
  EXPECT_TRUE(std::isnan(flat.f));
  EXPECT_TRUE(std::isnan(flat.p));
}

TEST(StatsAnovaByHand, TwoWayMainEffectEqualsOneWayOnAverages) {
  const Array3 a = random_array(6, 3, 2, 21);
  const TwoWayRmResult r = rm_anova_two_way(a, no_perm());
  Matrix by_model(6, 2), by_layer(6, 3);
  for (std::size_t p = 0; p < 6; ++p)
    for (std::size_t l = 0; l < 3; ++l)
      for (std::size_t m = 0; m < 2; ++m) {
        by_model(p, m) += a(p, l, m) / 3.0;
        by_layer(p, l) += a(p, l, m) / 2.0;
      }
  EXPECT_NEAR(r.model.f, rm_anova_one_way(by_model, no_perm()).f, 1e-10 * r.model.f);
  EXPECT_NEAR(r.layer.f, rm_anova_one_way(by_layer, no_perm()).f, 1e-10 * r.layer.f);
}

// [SECTION] AnovaReference ----------------------------------------------------------------

std::string mixed_design(const Matrix& m, const std::vector<int>& g) {
  std::string s = "mixed " + std::to_string(m.rows) + " " + std::to_string(m.cols) + "\n";
  for (std::size_t r = 0; r < m.rows; ++r) {
    s += std::to_string(g[r]);
    for (std::size_t c = 0; c < m.cols; ++c) s += " " + num(m(r, c));
    s += "\n";
  }
  return s;
}

std::string rm2_design(const Array3& a) {
  std::string s = "rm2 " + std::to_string(a.participants) + " " + std::to_string(a.layers) +
                  " " + std::to_string(a.models) + "\n";
  for (std::size_t p = 0; p < a.participants; ++p) {
    for (std::size_t l = 0; l < a.layers; ++l)
      for (std::size_t m = 0; m < a.models; ++m) s += num(a(p, l, m)) + " ";
    s += "\n";
  }
  return s;
}

std::string rm1_design(const Matrix& m) {
  std::string s = "rm1 " + std::to_string(m.rows) + " " + std::to_string(m.cols) + "\n";
  for (std::size_t r = 0; r < m.rows; ++r) {
    for (std::size_t c = 0; c < m.cols; ++c) s += num(m(r, c)) + " ";
    s += "\n";
  }
  return s;
}

// Adds group and layer effects (so no F is near 0) to random data.
void add_effects(Matrix& m, const std::vector<int>& g) {
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.cols; ++c)
      m(r, c) += 0.3 * g[r] + 0.2 * static_cast<double>(c) + 0.1 * g[r] * static_cast<double>(c);
}

TEST(StatsAnovaReference, MatchesNumpyOnRandomDesigns) {
  struct MixedCase {
    std::vector<int> groups;
    std::size_t layers;
    std::uint64_t seed;
  };
  const std::vector<MixedCase> cases = {
      {{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, 5, 101},              // balanced, as the paper
      {{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, 4, 102},        // unequal groups 7 and 5
      {{0, 1, 2, 0, 1, 2, 0, 2, 2, 1, 0, 2}, 3, 103},        // three groups 4, 3, 5
  };
  for (const MixedCase& c : cases) {
    Matrix m = random_matrix(c.groups.size(), c.layers, c.seed);
    add_effects(m, c.groups);
    const Array3 a = random_array(7, 4, 2, c.seed + 10);
    const Matrix one = random_matrix(9, 5, c.seed + 20);
    const auto ref = run_reference(mixed_design(m, c.groups) + rm2_design(a) + rm1_design(one));
    if (ref.empty()) return;
    const MixedAnovaResult mr = mixed_anova(m, c.groups, no_perm());
    expect_matches(mr.observer, ref, "mixed.observer");
    expect_matches(mr.layer, ref, "mixed.layer");
    expect_matches(mr.interaction, ref, "mixed.interaction");
    const TwoWayRmResult tr = rm_anova_two_way(a, no_perm());
    expect_matches(tr.layer, ref, "rm2.layer");
    expect_matches(tr.model, ref, "rm2.model");
    expect_matches(tr.interaction, ref, "rm2.interaction");
    expect_matches(rm_anova_one_way(one, no_perm()), ref, "rm1.condition");
  }
  // Three levels on both within factors.
  const Array3 a = random_array(5, 3, 3, 777);
  const auto ref = run_reference(rm2_design(a));
  if (ref.empty()) return;
  const TwoWayRmResult tr = rm_anova_two_way(a, no_perm());
  expect_matches(tr.layer, ref, "rm2.layer");
  expect_matches(tr.model, ref, "rm2.model");
  expect_matches(tr.interaction, ref, "rm2.interaction");
}

// [SECTION] Permutation -------------------------------------------------------------------

PermutationOptions perm(int draws, std::uint64_t seed, int threads = 1) {
  PermutationOptions o;
  o.draws = draws;
  o.seed = seed;
  o.threads = threads;
  o.keep_null = true;
  return o;
}

TEST(StatsPermutation, ReproducibleForASeedAndIndependentOfThreads) {
  Matrix m = random_matrix(12, 4, 31);
  std::vector<int> g{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  add_effects(m, g);
  const MixedAnovaResult a = mixed_anova(m, g, perm(999, 8, 1));
  const MixedAnovaResult b = mixed_anova(m, g, perm(999, 8, 2));
  const MixedAnovaResult c = mixed_anova(m, g, perm(999, 9, 1));
  for (auto pick : {&MixedAnovaResult::observer, &MixedAnovaResult::layer,
                    &MixedAnovaResult::interaction}) {
    ASSERT_EQ((a.*pick).null_f.size(), 999u);
    EXPECT_EQ((a.*pick).null_f, (b.*pick).null_f);  // bit-identical, 1 vs 2 threads
    EXPECT_EQ((a.*pick).null_count, (b.*pick).null_count);
    EXPECT_EQ((a.*pick).p, (b.*pick).p);
    EXPECT_NE((a.*pick).null_f, (c.*pick).null_f);  // another seed, other draws
    EXPECT_EQ((a.*pick).draws, 999);
  }
  // The three effects use different streams.
  EXPECT_NE(a.layer.null_f, a.interaction.null_f);
  const Array3 x = random_array(8, 3, 2, 32);
  const TwoWayRmResult t1 = rm_anova_two_way(x, perm(500, 4, 1));
  const TwoWayRmResult t2 = rm_anova_two_way(x, perm(500, 4, 2));
  EXPECT_EQ(t1.interaction.null_f, t2.interaction.null_f);
  EXPECT_EQ(t1.model.null_f, t2.model.null_f);
  EXPECT_EQ(t1.layer.null_f, t2.layer.null_f);
}

TEST(StatsPermutation, NullDrawsAreFValuesOfShuffledData) {
  // With 2 conditions and 2 participants there are 4 arrangements; the null F values must
  // be exactly the F values of those arrangements computed directly.
  const Matrix m = Matrix::from_rows({{1, 2}, {3, 5}});
  const AnovaEffect e = rm_anova_one_way(m, perm(200, 1));
  const double f_same = rm_anova_one_way(m, no_perm()).f;                        // 9
  const double f_swap = rm_anova_one_way(Matrix::from_rows({{2, 1}, {3, 5}}), no_perm()).f;
  EXPECT_DOUBLE_EQ(f_same, 9.0);
  int same = 0, swap = 0;
  for (double f : e.null_f) {
    if (std::fabs(f - f_same) < 1e-12) ++same;
    else if (std::fabs(f - f_swap) < 1e-12) ++swap;
    else ADD_FAILURE() << "unexpected null F " << f;
  }
  EXPECT_NEAR(same, 100, 25);
  EXPECT_NEAR(swap, 100, 25);
}

// The rng of draw d of a test, as documented with PermutationTag.
std::mt19937_64 draw_rng(std::uint64_t seed, PermutationTag tag, int d) {
  return std::mt19937_64(draw_seed(seed, static_cast<std::uint64_t>(tag),
                                   static_cast<std::uint64_t>(d)));
}

TEST(StatsPermutation, NullDrawsAreTheDirectFOfTheDocumentedShuffles) {
  // Redo each documented shuffle by hand on the data and compute F with the direct
  // formulas: it must equal the fast null statistic of that draw.
  const std::uint64_t seed = 77;
  const int draws = 40;
  std::vector<int> g{0, 1, 1, 0, 1, 0, 0, 1, 1};  // unequal groups, 4 and 5
  Matrix m = random_matrix(9, 4, 61);
  add_effects(m, g);
  const MixedAnovaResult mr = mixed_anova(m, g, perm(draws, seed));
  const Array3 a = random_array(6, 3, 2, 62);
  const TwoWayRmResult tr = rm_anova_two_way(a, perm(draws, seed));
  const Matrix one = random_matrix(7, 5, 63);
  const AnovaEffect e1 = rm_anova_one_way(one, perm(draws, seed));
  auto near = [](double got, double want, const char* what, int d) {
    EXPECT_NEAR(got, want, 1e-9 * std::fabs(want)) << what << ", draw " << d;
  };
  for (int d = 0; d < draws; ++d) {
    {  // mixed observer: labels only
      std::mt19937_64 rng = draw_rng(seed, PermutationTag::mixed_observer, d);
      std::vector<int> lab = g;
      shuffle(lab, rng);
      near(mr.observer.null_f[d], mixed_anova(m, lab, no_perm()).observer.f, "observer", d);
    }
    {  // mixed layer: each row's columns
      std::mt19937_64 rng = draw_rng(seed, PermutationTag::mixed_layer, d);
      Matrix q = m;
      for (std::size_t r = 0; r < q.rows; ++r) shuffle(&q(r, 0), q.cols, rng);
      near(mr.layer.null_f[d], mixed_anova(q, g, no_perm()).layer.f, "layer", d);
    }
    {  // mixed interaction: labels, then each row's columns
      std::mt19937_64 rng = draw_rng(seed, PermutationTag::mixed_interaction, d);
      std::vector<int> lab = g;
      shuffle(lab, rng);
      Matrix q = m;
      for (std::size_t r = 0; r < q.rows; ++r) shuffle(&q(r, 0), q.cols, rng);
      near(mr.interaction.null_f[d], mixed_anova(q, lab, no_perm()).interaction.f,
           "interaction", d);
    }
    {  // two-way: relabel layers (same for every model) within each participant
      std::mt19937_64 rng = draw_rng(seed, PermutationTag::rm2_layer, d);
      Array3 q = a;
      for (std::size_t p = 0; p < a.participants; ++p) {
        std::vector<std::size_t> idx{0, 1, 2};
        shuffle(idx, rng);
        for (std::size_t l = 0; l < 3; ++l)
          for (std::size_t k = 0; k < 2; ++k) q(p, l, k) = a(p, idx[l], k);
      }
      near(tr.layer.null_f[d], rm_anova_two_way(q, no_perm()).layer.f, "rm2 layer", d);
    }
    {  // two-way: relabel models within each participant
      std::mt19937_64 rng = draw_rng(seed, PermutationTag::rm2_model, d);
      Array3 q = a;
      for (std::size_t p = 0; p < a.participants; ++p) {
        std::vector<std::size_t> idx{0, 1};
        shuffle(idx, rng);
        for (std::size_t l = 0; l < 3; ++l)
          for (std::size_t k = 0; k < 2; ++k) q(p, l, k) = a(p, l, idx[k]);
      }
      near(tr.model.null_f[d], rm_anova_two_way(q, no_perm()).model.f, "rm2 model", d);
    }
    {  // two-way interaction: all 6 cells within each participant
      std::mt19937_64 rng = draw_rng(seed, PermutationTag::rm2_interaction, d);
      Array3 q = a;
      for (std::size_t p = 0; p < a.participants; ++p) shuffle(&q(p, 0, 0), 6, rng);
      near(tr.interaction.null_f[d], rm_anova_two_way(q, no_perm()).interaction.f,
           "rm2 interaction", d);
    }
    {  // one-way: each participant's conditions
      std::mt19937_64 rng = draw_rng(seed, PermutationTag::rm1, d);
      Matrix q = one;
      for (std::size_t r = 0; r < q.rows; ++r) shuffle(&q(r, 0), q.cols, rng);
      near(e1.null_f[d], rm_anova_one_way(q, no_perm()).f, "rm1", d);
    }
  }
}

TEST(StatsPermutation, HugeEffectGivesOneOverDraws) {
  std::mt19937_64 rng(41);
  Matrix rm(20, 5);
  for (std::size_t r = 0; r < 20; ++r)
    for (std::size_t c = 0; c < 5; ++c) rm(r, c) = static_cast<double>(c) + 0.05 * normal(rng);
  const AnovaEffect e = rm_anova_one_way(rm, perm(2000, 1));
  EXPECT_EQ(e.null_count, 0);
  EXPECT_DOUBLE_EQ(e.p, 1.0 / 2000);

  // Mixed: the network rows are far above the humans and fall steeply over layers.
  Matrix m(20, 4);
  std::vector<int> g(20);
  for (std::size_t r = 0; r < 20; ++r) {
    g[r] = r < 10 ? 0 : 1;
    for (std::size_t c = 0; c < 4; ++c)
      m(r, c) = (g[r] ? 5.0 - 1.5 * static_cast<double>(c) : 0.2 * static_cast<double>(c)) +
                0.05 * normal(rng);
  }
  const MixedAnovaResult mr = mixed_anova(m, g, perm(2000, 2));
  EXPECT_DOUBLE_EQ(mr.observer.p, 1.0 / 2000);
  EXPECT_DOUBLE_EQ(mr.layer.p, 1.0 / 2000);
  EXPECT_DOUBLE_EQ(mr.interaction.p, 1.0 / 2000);

  Array3 a(15, 3, 2);
  for (std::size_t p = 0; p < 15; ++p)
    for (std::size_t l = 0; l < 3; ++l)
      for (std::size_t k = 0; k < 2; ++k)
        a(p, l, k) = 2.0 * static_cast<double>(l) + 3.0 * static_cast<double>(k) +
                     (k == 1 && l == 2 ? 4.0 : 0.0) + 0.05 * normal(rng);
  const TwoWayRmResult tr = rm_anova_two_way(a, perm(2000, 3));
  EXPECT_DOUBLE_EQ(tr.layer.p, 1.0 / 2000);
  EXPECT_DOUBLE_EQ(tr.model.p, 1.0 / 2000);
  EXPECT_DOUBLE_EQ(tr.interaction.p, 1.0 / 2000);
}

TEST(StatsPermutation, NullDataGiveLargeP) {
  PermutationOptions o = perm(2000, 12);
  const AnovaEffect e = rm_anova_one_way(random_matrix(20, 5, 51), o);
  EXPECT_GT(e.p, 0.05);
  std::vector<int> g(24);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<int>(i % 2);
  const MixedAnovaResult mr = mixed_anova(random_matrix(24, 4, 52), g, o);
  EXPECT_GT(mr.observer.p, 0.05);
  EXPECT_GT(mr.layer.p, 0.05);
  EXPECT_GT(mr.interaction.p, 0.05);
  const TwoWayRmResult tr = rm_anova_two_way(random_array(20, 4, 2, 53), o);
  EXPECT_GT(tr.layer.p, 0.05);
  EXPECT_GT(tr.model.p, 0.05);
  EXPECT_GT(tr.interaction.p, 0.05);
}

TEST(StatsPermutation, NullPValuesAreCalibrated) {
  // Over 300 null data sets, about 5% of p-values are <= 0.05 for every test.
  const int sets = 300;
  int rm1 = 0, inter = 0, obs = 0, rm2 = 0;
  std::vector<int> g(12);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = i < 6 ? 0 : 1;
  for (int s = 0; s < sets; ++s) {
    PermutationOptions o;
    o.draws = 199;
    o.seed = static_cast<std::uint64_t>(s);
    rm1 += rm_anova_one_way(random_matrix(8, 4, 1000 + s), o).p <= 0.05;
    const MixedAnovaResult mr = mixed_anova(random_matrix(12, 3, 2000 + s), g, o);
    inter += mr.interaction.p <= 0.05;
    obs += mr.observer.p <= 0.05;
    rm2 += rm_anova_two_way(random_array(8, 3, 2, 3000 + s), o).interaction.p <= 0.05;
  }
  // Expected 15 (binomial SD 3.8).
  for (int c : {rm1, inter, obs, rm2}) {
    EXPECT_GE(c, 4);
    EXPECT_LE(c, 30);
  }
}

TEST(StatsPermutation, CountRuleDiffersOnTies) {
  // Half of the arrangements of {{1,2},{3,5}} tie with the observed F (see above).
  const Matrix m = Matrix::from_rows({{1, 2}, {3, 5}});
  PermutationOptions o = perm(1000, 5);
  const AnovaEffect at_least = rm_anova_one_way(m, o);
  o.rule = CountRule::greater;
  const AnovaEffect greater = rm_anova_one_way(m, o);
  EXPECT_EQ(at_least.null_f, greater.null_f);  // same draws, only the counting differs
  EXPECT_NEAR(at_least.p, 0.5, 0.06);
  EXPECT_EQ(greater.null_count, 0);
  EXPECT_DOUBLE_EQ(greater.p, 1.0 / 1000);
  // The two-way model effect (the paper's ">" case) on data whose layer averages are the
  // matrix above.
  const Array3 a = Array3::from_nested({{{1, 2}, {1, 2}}, {{3, 5}, {3, 5}}});
  o.rule = CountRule::at_least;
  const double p_at_least = rm_anova_two_way(a, o).model.p;
  o.rule = CountRule::greater;
  const double p_greater = rm_anova_two_way(a, o).model.p;
  EXPECT_NEAR(p_at_least, 0.5, 0.06);
  EXPECT_DOUBLE_EQ(p_greater, 1.0 / 1000);
}

// [SECTION] Errors ------------------------------------------------------------------------

TEST(StatsErrors, BadInputThrows) {
  EXPECT_THROW(Matrix::from_rows({{1, 2, 3}, {1, 2}}), std::invalid_argument);
  EXPECT_THROW(Matrix::from_rows({}), std::invalid_argument);
  EXPECT_THROW(Array3::from_nested({{{1, 2}, {1}}, {{1, 2}, {1, 2}}}), std::invalid_argument);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(rm_anova_one_way(Matrix::from_rows({{1, nan}, {2, 3}}), {}),
               std::invalid_argument);
  EXPECT_THROW(rm_anova_one_way(Matrix::from_rows({{1, 2}}), {}), std::invalid_argument);
  EXPECT_THROW(rm_anova_one_way(Matrix::from_rows({{1}, {2}}), {}), std::invalid_argument);
  const Matrix m = Matrix::from_rows({{1, 2}, {3, 4}, {5, 7}, {1, 1}});
  EXPECT_THROW(mixed_anova(m, {0, 0, 0, 0}), std::invalid_argument);   // one group
  EXPECT_THROW(mixed_anova(m, {0, 2, 0, 2}), std::invalid_argument);   // label 1 unused
  EXPECT_THROW(mixed_anova(m, {0, 1, 0}), std::invalid_argument);      // too few labels
  EXPECT_THROW(mixed_anova(m, {0, -1, 0, 1}), std::invalid_argument);  // negative
  EXPECT_THROW(mixed_anova(Matrix::from_rows({{1, 2}, {3, 4}}), {0, 1}), std::invalid_argument);
  Array3 a(3, 2, 2, 1.0);
  a(1, 1, 0) = std::numeric_limits<double>::infinity();
  EXPECT_THROW(rm_anova_two_way(a), std::invalid_argument);
  EXPECT_THROW(rm_anova_two_way(Array3(3, 1, 2, 1.0)), std::invalid_argument);
  PermutationOptions bad;
  bad.threads = 0;
  EXPECT_THROW(rm_anova_one_way(m, bad), std::invalid_argument);
  bad = PermutationOptions{};
  bad.draws = -1;
  EXPECT_THROW(rm_anova_one_way(m, bad), std::invalid_argument);
  EXPECT_THROW(mean({}), std::invalid_argument);
  EXPECT_THROW(sample_sd({1}), std::invalid_argument);
  EXPECT_THROW(percentile({1, 2}, 101), std::invalid_argument);
  EXPECT_THROW(mean({1, nan}), std::invalid_argument);
  EXPECT_THROW(spearman({1, 2, 3}, {1, 2}), std::invalid_argument);
  EXPECT_THROW(pearson({1}, {1}), std::invalid_argument);
  EXPECT_THROW(bootstrap_sem_proportion({0, 1, 2}), std::invalid_argument);
  EXPECT_THROW(bootstrap_mean_ci({1, 2}, 100, 1, 1.0), std::invalid_argument);
  EXPECT_THROW(bootstrap_mean_ci({}, 100, 1), std::invalid_argument);
}

}  // namespace
}  // namespace mm::analysis
