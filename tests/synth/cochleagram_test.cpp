// tests/synth/test_cochleagram.cpp: the differentiable cochleagram (synth/cochleagram.h).
//
// Sections
//   [SECTION] Helpers
//   [SECTION] Filter bank       flat sum of squares, CFs, peaks, counts
//   [SECTION] Forward           shapes, pure tones, batches
//   [SECTION] Gradients         finite differences, relu_identity_grad, clipped_power, band_gather
//   [SECTION] Options           invalid options and inputs throw
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "synth/cochleagram.h"

namespace {

using mm::synth::Cochleagram;
using mm::synth::CochleagramOptions;

// [SECTION] Helpers ----------------------------------------------------------------------
// The ERB-number scale restated here, so the test checks the code against the formula.
constexpr double kPi = 3.14159265358979323846;

double erb_number(double hz) { return 9.265 * std::log(1.0 + hz / (24.7 * 9.265)); }

// A small configuration that runs in milliseconds: D = 10, 101-tap low-pass, T = 30.
CochleagramOptions small_options() {
  CochleagramOptions o;
  o.sample_rate = 2000;
  o.signal_samples = 400;
  o.n_filters = 6;
  o.sample_factor = 2;
  o.low_hz = 50;
  o.high_hz = 900;
  o.env_sr = 200;
  return o;
}

torch::Tensor tone(double hz, double amplitude, const CochleagramOptions& o,
                   torch::Dtype dtype = torch::kFloat32) {
  auto t = torch::arange(o.signal_samples, torch::kFloat64) / double(o.sample_rate);
  return (amplitude * torch::sin(2 * kPi * hz * t)).to(dtype).unsqueeze(0);
}

std::string format_g(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// <cochleagram(x), v>
double project(Cochleagram& coch, const torch::Tensor& x, const torch::Tensor& v) {
  torch::NoGradGuard no_grad;
  return (coch->forward(x) * v).sum().item<double>();
}

class CochleagramTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { torch::set_num_threads(2); }
};
class CochleagramFilterTest : public CochleagramTest {};
class CochleagramForwardTest : public CochleagramTest {};
class CochleagramGradTest : public CochleagramTest {};
class CochleagramOptionsTest : public CochleagramTest {};

// [SECTION] Filter bank ------------------------------------------------------------------
// The construction makes sum_j |H_j(f)|^2 == 1 exactly at every frequency (see the design
// note in cochleagram.cpp); the filters are stored in float32, so the sum of 211 squares
// carries rounding of a few 1e-7. 1e-5 leaves margin for that and still fails for any
// design slip (a missing edge filter or a wrong width gives errors of order 0.1-1).
TEST_F(CochleagramFilterTest, SquaredResponsesSumToOneFromDcToNyquist) {
  std::vector<CochleagramOptions> configs = {CochleagramOptions{}, small_options()};
  CochleagramOptions odd = small_options();
  odd.signal_samples = 401;  // odd length: no Nyquist bin
  odd.sample_factor = 3;
  odd.low_hz = 20;           // lowest edge lattice points fall below 0 ERB
  odd.high_hz = 1000;        // up to Nyquist
  configs.push_back(odd);
  CochleagramOptions one_x = small_options();
  one_x.sample_factor = 1;
  configs.push_back(one_x);
  for (const auto& o : configs) {
    Cochleagram coch(o);
    const auto& filters = coch->filters();
    ASSERT_EQ(filters.size(1), o.signal_samples / 2 + 1);
    EXPECT_EQ(filters.size(0), (o.n_filters + 3) * o.sample_factor - 1);
    EXPECT_GE(filters.min().item<double>(), 0.0);
    const double err = (filters.to(torch::kFloat64).square().sum(0) - 1).abs().max().item<double>();
    RecordProperty("flatness_error_" + std::to_string(o.signal_samples) + "_" +
                       std::to_string(o.sample_factor), format_g(err));
    EXPECT_LT(err, 1e-5) << "n_filters " << o.n_filters << " sample_factor " << o.sample_factor
                         << " samples " << o.signal_samples;
  }
}

TEST_F(CochleagramFilterTest, DefaultCountsMatchThePaper) {
  Cochleagram coch;  // 50 filters, 4x, 50 Hz - 10 kHz, 2 s at 20 kHz
  EXPECT_EQ(coch->filters().size(0), 211);
  EXPECT_EQ(coch->n_channels(), 211);  // edge filters included, as in the paper
  EXPECT_EQ(coch->n_frames(), 390);
  CochleagramOptions o;
  o.include_edge_filters = false;
  Cochleagram band_only(o);
  EXPECT_EQ(band_only->n_channels(), 203);
  EXPECT_EQ(band_only->filters().size(0), 211);
  EXPECT_EQ(band_only->center_frequencies().size(), 203u);
}

// Band-pass CFs are ERB-spaced exactly D = (erb(hi) - erb(lo)) / ((n+1)s) apart, strictly
// inside (low_hz, high_hz), and each filter's largest response is at the bin nearest its CF.
TEST_F(CochleagramFilterTest, CentreFrequenciesAreErbSpacedAndAtTheFilterPeaks) {
  CochleagramOptions o;
  o.include_edge_filters = false;
  Cochleagram coch(o);
  const auto cfs = coch->center_frequencies();
  ASSERT_EQ(int64_t(cfs.size()), coch->n_channels());
  const double step = (erb_number(o.high_hz) - erb_number(o.low_hz)) /
                      double((o.n_filters + 1) * o.sample_factor);
  EXPECT_NEAR(erb_number(cfs.front()), erb_number(o.low_hz) + step, 1e-9);
  EXPECT_NEAR(erb_number(cfs.back()), erb_number(o.high_hz) - step, 1e-9);
  for (size_t i = 1; i < cfs.size(); ++i) {
    EXPECT_GT(cfs[i], cfs[i - 1]);
    EXPECT_NEAR(erb_number(cfs[i]) - erb_number(cfs[i - 1]), step, 1e-9) << "channel " << i;
  }
  const double bin_hz = double(o.sample_rate) / double(o.signal_samples);
  const auto peaks = coch->filters().narrow(0, o.sample_factor, coch->n_channels()).argmax(1);
  double worst = 0;
  for (size_t i = 0; i < cfs.size(); ++i) {
    const double peak_hz = peaks[int64_t(i)].item<int64_t>() * bin_hz;
    worst = std::max(worst, std::abs(peak_hz - cfs[i]));
    EXPECT_LE(std::abs(peak_hz - cfs[i]), bin_hz) << "channel " << i << " cf " << cfs[i];
  }
  RecordProperty("worst_peak_offset_hz", format_g(worst));
}

TEST_F(CochleagramFilterTest, EdgeChannelsSitOutsideTheBandInAscendingOrder) {
  Cochleagram coch;  // include_edge_filters
  const auto cfs = coch->center_frequencies();
  const int s = coch->options().sample_factor;
  ASSERT_EQ(cfs.size(), 211u);
  for (int i = 0; i < s; ++i) EXPECT_LE(cfs[size_t(i)], coch->options().low_hz + 1e-9);
  for (int i = 0; i < s; ++i) EXPECT_GE(cfs[cfs.size() - 1 - size_t(i)], coch->options().high_hz - 1e-6);
  for (size_t i = 1; i < cfs.size(); ++i) EXPECT_GE(cfs[i], cfs[i - 1]);
  // Low edge filters pass DC; high edge filters pass Nyquist (10 kHz == high_hz).
  const auto& f = coch->filters();
  for (int i = 0; i < s; ++i) {
    EXPECT_NEAR(f[i][0].item<double>(), 1.0 / std::sqrt(double(s)), 1e-6);
    EXPECT_NEAR(f[f.size(0) - 1 - i][0].item<double>(), 0.0, 1e-12);
  }
}

// [SECTION] Forward ----------------------------------------------------------------------
TEST_F(CochleagramForwardTest, PaperShapeAndFloat32Gradient) {
  Cochleagram coch;  // 2 s at 20 kHz, env_sr 200: 211 x 390
  torch::manual_seed(3);
  auto x = (0.05 * torch::randn({2, 40000})).requires_grad_(true);
  auto y = coch->forward(x);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 1, 211, 390}));
  EXPECT_EQ(y.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  y.sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  EXPECT_GT(x.grad().abs().max().item<double>(), 0.0);
}

// A stationary tone at an exact bin gives each channel a constant envelope A*H_c(f0); the
// low-pass has unit DC gain, so after undoing the compression every frame equals A*H_c(f0).
TEST_F(CochleagramForwardTest, PureToneEnvelopeIsAmplitudeTimesFilterGain) {
  CochleagramOptions o;
  o.signal_samples = 20000;  // 1 s, 1 Hz bins
  Cochleagram coch(o);
  const double amplitude = 0.1;
  const double f0 = 1000;
  auto y = coch->forward(tone(f0, amplitude, o)).to(torch::kFloat64);
  auto env = y.pow(1.0 / o.compression) - 1e-8;                       // [1,1,F,T]
  auto gain = coch->filters().to(torch::kFloat64).select(1, int64_t(f0));  // bin f0 (1 Hz bins)
  auto expected = (amplitude * gain).view({1, 1, -1, 1}).expand_as(env);
  const double err = (env - expected).abs().max().item<double>();
  RecordProperty("max_envelope_error", format_g(err));
  EXPECT_LT(err, 1e-5 * amplitude);
}

// The channel with the most energy for a pure tone is the one whose CF is nearest in ERB
// (the half-cosines are symmetric on that axis) and also nearest in Hz for these tones.
TEST_F(CochleagramForwardTest, PureToneExcitesTheNearestChannel) {
  CochleagramOptions o;
  o.signal_samples = 20000;
  Cochleagram coch(o);
  const auto cfs = coch->center_frequencies();
  const double step = (erb_number(o.high_hz) - erb_number(o.low_hz)) /
                      double((o.n_filters + 1) * o.sample_factor);
  const int s = o.sample_factor;
  for (double f0 : {123.0, 440.0, 1000.0, 2513.0, 6789.0, 9500.0}) {
    // Nearest band-pass channel (edge channels excluded: their lattice points are not peaks).
    std::vector<std::pair<double, int64_t>> dist;
    for (size_t i = size_t(s); i + size_t(s) < cfs.size(); ++i)
      dist.push_back({std::abs(erb_number(cfs[i]) - erb_number(f0)), int64_t(i)});
    std::sort(dist.begin(), dist.end());
    ASSERT_GT(dist[1].first - dist[0].first, 0.05 * step) << "ambiguous test tone " << f0;
    int64_t nearest_hz = 0;
    for (size_t i = 0; i < cfs.size(); ++i)
      if (std::abs(cfs[i] - f0) < std::abs(cfs[size_t(nearest_hz)] - f0)) nearest_hz = int64_t(i);
    auto y = coch->forward(tone(f0, 0.05, o));
    const int64_t best = y.mean(3).flatten().argmax().item<int64_t>();
    EXPECT_EQ(best, dist[0].second) << "tone " << f0 << " Hz, best cf " << cfs[size_t(best)];
    EXPECT_EQ(best, nearest_hz) << "tone " << f0;
  }
}

TEST_F(CochleagramForwardTest, BatchItemsAreIndependent) {
  const auto o = small_options();
  Cochleagram coch(o);
  torch::manual_seed(5);
  auto x = torch::randn({3, o.signal_samples});
  auto y = coch->forward(x);
  ASSERT_EQ(y.sizes(), torch::IntArrayRef({3, 1, coch->n_channels(), coch->n_frames()}));
  EXPECT_EQ(coch->n_frames(), 30);  // (400 - 101) / 10 + 1
  for (int64_t b = 0; b < 3; ++b)
    EXPECT_TRUE(torch::allclose(y[b], coch->forward(x.narrow(0, b, 1))[0], 1e-5, 1e-6)) << b;
}

TEST_F(CochleagramForwardTest, Float64MatchesFloat32) {
  const auto o = small_options();
  Cochleagram coch(o);
  torch::manual_seed(6);
  auto x = torch::randn({2, o.signal_samples}, torch::kFloat64);
  auto y64 = coch->forward(x);
  auto y32 = coch->forward(x.to(torch::kFloat32));
  EXPECT_EQ(y64.scalar_type(), torch::kFloat64);
  EXPECT_LT((y64 - y32.to(torch::kFloat64)).abs().max().item<double>(), 1e-4);
}

// [SECTION] Gradients --------------------------------------------------------------------
// Central differences in float64 for random projections <cochleagram(x), v> along random
// directions u. The input is loud noise (std 100) so every pre-compression value is far
// above the level where the gradient clip acts (p x^(p-1) = 5 at x = 0.018) and far above 0
// (ReLU inactive): there the analytic gradient is exact and must match to ~1e-8 relative.
TEST_F(CochleagramGradTest, MatchesCentralDifferencesInFloat64) {
  const auto o = small_options();
  Cochleagram coch(o);
  torch::manual_seed(7);
  const auto x = 100 * torch::randn({2, o.signal_samples}, torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    const auto pre = coch->forward(x).pow(1.0 / o.compression) - 1e-8;
    const double clip_level = std::pow(o.grad_clip / o.compression, 1.0 / (o.compression - 1.0));
    ASSERT_GT(pre.min().item<double>(), 10 * clip_level) << "test input not loud enough";
  }
  const auto v = torch::randn({2, 1, coch->n_channels(), coch->n_frames()}, torch::kFloat64);
  auto xg = x.clone().requires_grad_(true);
  (coch->forward(xg) * v).sum().backward();
  const auto grad = xg.grad();
  const double h = 1e-3;  // x ~ 100: truncation ~h^2 * f''' is ~1e-12 relative, rounding ~1e-12
  double worst = 0;
  for (int k = 0; k < 4; ++k) {
    const auto u = torch::randn_like(x);
    const double fd = (project(coch, x + h * u, v) - project(coch, x - h * u, v)) / (2 * h);
    const double an = (grad * u).sum().item<double>();
    const double rel = std::abs(an - fd) / std::abs(fd);
    worst = std::max(worst, rel);
    EXPECT_LT(rel, 1e-6) << "direction " << k << ": analytic " << an << " vs fd " << fd;
  }
  RecordProperty("worst_relative_fd_error", format_g(worst));
}

// [SECTION] Decimated envelopes ----------------------------------------------------------
// The full-rate options both decimation tests compare against (1 s at 16 kHz, 20 filters).
CochleagramOptions decimation_test_options() {
  CochleagramOptions o;
  o.sample_rate = 16000;
  o.signal_samples = 16000;
  o.n_filters = 20;
  o.sample_factor = 2;
  o.high_hz = 7600;
  return o;
}

// envelope_decimation r computes exact envelope samples at sample_rate / r: a pure tone's
// flat envelope comes out exactly as in the full-rate path.
TEST_F(CochleagramForwardTest, DecimatedEnvelopeOfAPureToneIsExact) {
  const CochleagramOptions o = decimation_test_options();
  CochleagramOptions od = o;
  od.envelope_decimation = 4;
  Cochleagram full(o), dec(od);
  ASSERT_EQ(dec->n_frames(), full->n_frames());
  ASSERT_EQ(dec->n_channels(), full->n_channels());
  for (double f0 : {440.0, 3000.0}) {
    auto a = full->forward(tone(f0, 0.1, o)), b = dec->forward(tone(f0, 0.1, o));
    const double err = (a - b).abs().max().item<double>() / a.abs().max().item<double>();
    EXPECT_LT(err, 1e-4) << f0 << " Hz";
  }
}

// On broadband noise (envelopes with energy at all modulation rates) the decimated path
// stays within a few percent of the full-rate one, far below the differences between
// sounds; and its gradient is the exact gradient of what it computes.
TEST_F(CochleagramForwardTest, DecimatedCochleagramOfNoiseIsCloseAndItsGradientExact) {
  const CochleagramOptions o = decimation_test_options();
  CochleagramOptions od = o;
  od.envelope_decimation = 4;
  Cochleagram full(o), dec(od);
  torch::manual_seed(3);
  auto x = 0.1 * torch::randn({2, o.signal_samples});
  auto a = full->forward(x), b = dec->forward(x);
  const double rel = ((a - b).norm() / a.norm()).item<double>();
  const double between = ((a[0] - a[1]).norm() / a[0].norm()).item<double>();
  RecordProperty("decimated_relative_error", format_g(rel));
  EXPECT_LT(rel, 0.03);
  EXPECT_GT(between, 3 * rel);

  auto od64 = od;
  Cochleagram d64(od64);
  d64->to(torch::kFloat64);
  auto x64 = 100 * torch::randn({1, o.signal_samples}, torch::kFloat64);
  auto v = torch::randn({1, 1, d64->n_channels(), d64->n_frames()}, torch::kFloat64);
  auto xg = x64.clone().requires_grad_(true);
  (d64->forward(xg) * v).sum().backward();
  const auto u = torch::randn_like(x64);
  const double h = 1e-3;
  const double fd = (project(d64, x64 + h * u, v) - project(d64, x64 - h * u, v)) / (2 * h);
  const double an = (xg.grad() * u).sum().item<double>();
  EXPECT_LT(std::abs(an - fd) / std::abs(fd), 1e-5) << an << " vs " << fd;
}

// A decimation that does not divide the clip or the envelope factor, or that is too
// coarse for the widest filter, is refused with a message naming the option.
TEST_F(CochleagramOptionsTest, BadDecimationThrows) {
  CochleagramOptions o;
  o.sample_rate = 16000;
  o.signal_samples = 16000;
  o.high_hz = 7600;
  o.envelope_decimation = 3;  // does not divide D = 80
  EXPECT_THROW({ Cochleagram c(o); }, std::invalid_argument);
  o.envelope_decimation = 80;  // 200 bins: narrower than the high filters
  try {
    Cochleagram c(o);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("envelope_decimation"), std::string::npos) << e.what();
  }
}

// The same gradient computed in float32 agrees with the float64 one.
TEST_F(CochleagramGradTest, Float32GradientMatchesFloat64) {
  const auto o = small_options();
  Cochleagram coch(o);
  torch::manual_seed(8);
  const auto x = 100 * torch::randn({1, o.signal_samples}, torch::kFloat64);
  const auto v = torch::randn({1, 1, coch->n_channels(), coch->n_frames()}, torch::kFloat64);
  auto x64 = x.clone().requires_grad_(true);
  (coch->forward(x64) * v).sum().backward();
  auto x32 = x.to(torch::kFloat32).requires_grad_(true);
  (coch->forward(x32) * v.to(torch::kFloat32)).sum().backward();
  const double rel = ((x32.grad().to(torch::kFloat64) - x64.grad()).norm() / x64.grad().norm())
                         .item<double>();
  RecordProperty("float32_grad_relative_error", format_g(rel));
  EXPECT_LT(rel, 1e-5);
}

TEST_F(CochleagramGradTest, ReluIdentityGradPassesGradientThroughNegatives) {
  auto x = torch::tensor({-2.0, -0.1, 0.0, 0.5, 3.0}, torch::kFloat64).requires_grad_(true);
  auto y = mm::synth::relu_identity_grad(x);
  EXPECT_TRUE(torch::equal(y.detach(), torch::relu(x.detach())));
  const auto w = torch::tensor({1.5, -2.0, 3.0, 4.0, -5.0}, torch::kFloat64);
  (y * w).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), w));
}

TEST_F(CochleagramGradTest, ClippedPowerClampsItsSlope) {
  const double p = 0.3, clip = 5.0;
  const std::vector<double> xs = {0.0, 1e-9, 1e-4, 0.01, 0.5, 2.0};
  auto x = torch::tensor(xs, torch::kFloat64).requires_grad_(true);
  auto y = mm::synth::clipped_power(x, p, clip);
  const auto upstream = torch::full({int64_t(xs.size())}, 3.0, torch::kFloat64);
  (y * upstream).sum().backward();
  for (size_t i = 0; i < xs.size(); ++i) {
    const double xi = xs[i] + 1e-8;
    EXPECT_NEAR(y[int64_t(i)].item<double>(), std::pow(xi, p), 1e-12);
    const double slope = std::min(clip, p * std::pow(xi, p - 1));
    EXPECT_NEAR(x.grad()[int64_t(i)].item<double>(), 3.0 * slope, 1e-9) << "x = " << xs[i];
  }
  // Near 0 the slope is clipped (0.3 * 1e-8^-0.7 ~ 1.2e5 unclipped); at 0.5 it is not.
  EXPECT_DOUBLE_EQ(x.grad()[0].item<double>(), 3.0 * clip);
  EXPECT_DOUBLE_EQ(x.grad()[2].item<double>(), 3.0 * clip);
  EXPECT_LT(x.grad()[4].item<double>(), 3.0 * clip);
  // A negative power has a large negative slope near 0: clipped at -clip.
  auto z = torch::tensor({1e-6, 4.0}, torch::kFloat64).requires_grad_(true);
  mm::synth::clipped_power(z, -0.5, clip).sum().backward();
  EXPECT_DOUBLE_EQ(z.grad()[0].item<double>(), -clip);
  EXPECT_NEAR(z.grad()[1].item<double>(), -0.5 * std::pow(4.0 + 1e-8, -1.5), 1e-12);
}

// The band gather's own backward gives exactly index_select's gradient: overlapping runs,
// a run that goes past the last bin (its tail repeats the last bin) and a run that starts
// there, in complex float32 and float64, batch 2.
TEST_F(CochleagramGradTest, BandGatherGradientIsIndexSelects) {
  const int64_t bins = 37, len = 9;
  const std::vector<int64_t> starts = {0, 4, 5, 20, 31, 36};  // 31 and 36 run past bin 36
  std::vector<int64_t> index;
  for (const int64_t a : starts)
    for (int64_t j = 0; j < len; ++j) index.push_back(std::min(a + j, bins - 1));
  const auto idx = torch::tensor(index, torch::kLong);
  for (const auto dtype : {torch::kComplexFloat, torch::kComplexDouble}) {
    torch::manual_seed(11);
    const auto spectrum = torch::randn({2, bins}, dtype);
    const auto upstream = torch::randn({2, int64_t(index.size())}, dtype);
    auto a = spectrum.clone().requires_grad_(true);
    auto b = spectrum.clone().requires_grad_(true);
    const auto ya = mm::synth::band_gather(a, starts, len);
    const auto yb = b.index_select(1, idx);
    EXPECT_TRUE(torch::equal(ya.detach(), yb.detach()));
    torch::view_as_real(ya * upstream).sum().backward();
    torch::view_as_real(yb * upstream).sum().backward();
    const double tol = dtype == torch::kComplexFloat ? 1e-5 : 1e-12;
    EXPECT_TRUE(torch::allclose(a.grad(), b.grad(), tol, tol)) << (a.grad() - b.grad()).abs().max().item<double>();
    // Not vacuous: the last bin gathers from three runs, bin 5 from two.
    EXPECT_GT(b.grad().abs()[0][bins - 1].item<double>(), 0.0);
  }
}

// [SECTION] Options ----------------------------------------------------------------------
TEST_F(CochleagramOptionsTest, InvalidOptionsThrow) {
  auto expect_throw = [](auto change, const char* what) {
    CochleagramOptions o;
    change(o);
    EXPECT_THROW(Cochleagram{o}, std::invalid_argument) << what;
  };
  expect_throw([](CochleagramOptions& o) { o.env_sr = 300; }, "20000 / 300 not an integer");
  expect_throw([](CochleagramOptions& o) { o.env_sr = 0; }, "env_sr 0");
  expect_throw([](CochleagramOptions& o) { o.env_sr = 40000; }, "env_sr above sample_rate");
  expect_throw([](CochleagramOptions& o) { o.high_hz = 12000; }, "high_hz above Nyquist");
  expect_throw([](CochleagramOptions& o) { o.low_hz = 0; }, "low_hz 0");
  expect_throw([](CochleagramOptions& o) { o.low_hz = 10000; }, "low_hz == high_hz");
  expect_throw([](CochleagramOptions& o) { o.n_filters = 0; }, "n_filters 0");
  expect_throw([](CochleagramOptions& o) { o.sample_factor = 0; }, "sample_factor 0");
  expect_throw([](CochleagramOptions& o) { o.sample_rate = 0; }, "sample_rate 0");
  expect_throw([](CochleagramOptions& o) { o.signal_samples = 0; }, "signal_samples 0");
  expect_throw([](CochleagramOptions& o) { o.signal_samples = 1000; }, "shorter than low-pass");
  expect_throw([](CochleagramOptions& o) { o.compression = 0; }, "compression 0");
  expect_throw([](CochleagramOptions& o) { o.grad_clip = -1; }, "grad_clip < 0");
  // The message names the problem.
  CochleagramOptions o;
  o.env_sr = 300;
  try {
    Cochleagram c(o);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("integer"), std::string::npos) << e.what();
  }
  // Valid boundary cases construct.
  CochleagramOptions ok = small_options();
  ok.env_sr = ok.sample_rate;  // no downsampling
  ok.high_hz = ok.sample_rate / 2.0;
  EXPECT_NO_THROW(Cochleagram{ok});
}

TEST_F(CochleagramOptionsTest, WrongInputShapeThrows) {
  const auto o = small_options();
  Cochleagram coch(o);
  EXPECT_THROW(coch->forward(torch::zeros({1, o.signal_samples + 1})), std::invalid_argument);
  EXPECT_THROW(coch->forward(torch::zeros({o.signal_samples})), std::invalid_argument);
  EXPECT_THROW(coch->forward(torch::zeros({1, 1, o.signal_samples})), std::invalid_argument);
  EXPECT_THROW(coch->forward(torch::zeros({1, o.signal_samples}, torch::kInt64)),
               std::invalid_argument);
}

}  // namespace
