// synth/cochleagram.cpp: the differentiable cochleagram declared in cochleagram.h.
//
// Sections
//   [SECTION] Constants and ERB scale
//   [SECTION] Autograd functions    relu_identity_grad, clipped_power, the band gather
//   [SECTION] Filter bank           half-cosine ERB filters and the edge filters
//   [SECTION] Low-pass kernel       Kaiser-windowed sinc for envelope downsampling
//   [SECTION] Options check
//   [SECTION] Module                constructor, sizes, forward
//   [SECTION] Picture               a file's cochleagram to look at (cochleagram_image.h)
//
// Design (numbers for the defaults: 20 kHz, 40000 samples, n = 50, s = 4, 50 Hz-10 kHz):
// - Filters live on the ERB-number axis e(f) = 9.265 ln(1 + f / (24.7 * 9.265)). The interval
//   [e(low_hz), e(high_hz)] is cut into (n+1)*s equal steps d (0.164 ERB by default); lattice
//   points c_j = e_lo + j*d. Every filter is a half-cosine cos(pi/2 * (e - c_j) / (s*d)) over
//   |e - c_j| < s*d, so it spans 2*s*d = 2*(e_hi - e_lo)/(n+1) ERBs, the 1x bank's width.
//   - j = 1 .. (n+1)*s - 1: the band-pass filters (203 by default, CFs 55.0 Hz .. 9.82 kHz).
//   - j = -(s-1) .. 0: s low-pass edge filters, equal to 1 below c_j and rolling off above.
//   - j = (n+1)*s .. (n+1)*s + s-1: s high-pass edge filters, 1 above c_j, rolling off below.
//   Lattice points d apart with half-width s*d give sum_j cos^2 = s at every e (points s
//   apart are a quarter period apart: cos^2 + sin^2 pairs); an edge filter held at 1 beyond
//   its lattice point stands in exactly for the lattice points missing past that end. So,
//   divided by sqrt(s), the squared responses of all (n+3)*s - 1 filters (211 by default)
//   sum to exactly 1 at every rFFT bin from DC to Nyquist (up to rounding).
// - Output channels: all 211 filters in ascending order (include_edge_filters, as in the
//   paper's 211), or only the 203 band-pass ones. center_frequencies() gives each channel's
//   lattice point in Hz (0 if below 0 ERB): the peak for band-pass filters, the roll-off
//   start for edge filters (below low_hz for low-pass, at or above high_hz for high-pass).
// - Envelope: |analytic| computed as sqrt(re^2 + im^2 + 1e-20), whose gradient stays finite.
// - Envelope low-pass: a sinc with cutoff env_sr/2 and 5 zero crossings per side, i.e.
//   10*D+1 taps for D = sample_rate/env_sr (1001 at 20 kHz -> 200 Hz), Kaiser window beta 10,
//   unit DC gain: about -6 dB at env_sr/2, -50 dB at 0.75 env_sr, below -100 dB from env_sr
//   on. Applied as a 'valid' convolution with stride D: T = (N - taps) / D + 1, 390 for 2 s
//   (as in the paper); frame t is centred on sample t*D + 5*D, and no padding enters it.
#include "synth/cochleagram.h"
#include "synth/cochleagram_image.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "synth/model.h"
#include "stimuli/stimuli.h"

namespace mm::synth {
namespace {

// [SECTION] Constants and ERB scale ------------------------------------------------------
constexpr double kPi = 3.14159265358979323846;
constexpr double kErbEarQ = 9.265;        // Glasberg & Moore (1990)
constexpr double kErbMinBandwidth = 24.7;  // Hz
constexpr double kEnvelopeEps = 1e-20;     // |z| = sqrt(re^2 + im^2 + eps): finite gradient at 0
constexpr double kCompressionOffset = 1e-8;
constexpr double kKaiserBeta = 10.0;
constexpr int64_t kLowpassZeroCrossings = 5;  // sinc zero crossings on each side of the centre

double hz_to_erb(double hz) { return kErbEarQ * std::log1p(hz / (kErbMinBandwidth * kErbEarQ)); }
double erb_to_hz(double erb) { return kErbMinBandwidth * kErbEarQ * std::expm1(erb / kErbEarQ); }

// [SECTION] Autograd functions -----------------------------------------------------------
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ReluIdentityGradFunction : public torch::autograd::Function<ReluIdentityGradFunction> {
  static torch::Tensor forward(AutogradContext* /*ctx*/, torch::Tensor x) { return torch::relu(x); }
  static variable_list backward(AutogradContext* /*ctx*/, variable_list grad) { return {grad[0]}; }
};

struct ClippedPowerFunction : public torch::autograd::Function<ClippedPowerFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, double power, double clip) {
    ctx->save_for_backward({x});
    ctx->saved_data["power"] = power;
    ctx->saved_data["clip"] = clip;
    return (x + kCompressionOffset).pow(power);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const double power = ctx->saved_data["power"].toDouble();
    const double clip = ctx->saved_data["clip"].toDouble();
    const torch::Tensor slope = ((x + kCompressionOffset).pow(power - 1.0) * power).clamp(-clip, clip);
    return {grad[0] * slope, torch::Tensor(), torch::Tensor()};
  }
};

// Gathers each channel's band of rFFT bins: out[:, c*len + j] = spectrum[:, min(start_c + j, K-1)]
// (index holds exactly those bins). The forward is index_select; its backward adds each
// channel's contiguous run of gradients onto its bins, one slice per channel, where
// index_select's own backward (index_add_ over F*len single bins) took half of a words
// network's synthesis step.
struct BandGatherFunction : public torch::autograd::Function<BandGatherFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor spectrum, torch::Tensor index,
                               std::vector<int64_t> starts, int64_t len) {
    ctx->saved_data["bins"] = spectrum.size(1);
    ctx->saved_data["starts"] = starts;
    ctx->saved_data["len"] = len;
    return spectrum.index_select(1, index);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const int64_t bins = ctx->saved_data["bins"].toInt();
    const int64_t len = ctx->saved_data["len"].toInt();
    const std::vector<int64_t> starts = ctx->saved_data["starts"].toIntVector();
    const torch::Tensor g = grad[0].reshape({grad[0].size(0), static_cast<int64_t>(starts.size()), len});
    torch::Tensor out = torch::zeros({g.size(0), bins}, g.options());
    for (size_t c = 0; c < starts.size(); ++c) {
      const int64_t a = starts[c];
      const int64_t run = std::min(len, bins - a);  // bins a .. a+run-1; the rest repeat bin K-1
      const torch::Tensor gc = g.select(1, static_cast<int64_t>(c));
      out.narrow(1, a, run).add_(gc.narrow(1, 0, run));
      if (run < len) out.narrow(1, bins - 1, 1).add_(gc.narrow(1, run, len - run).sum(1, /*keepdim=*/true));
    }
    return {out, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// [SECTION] Filter bank ------------------------------------------------------------------
struct FilterBank {
  torch::Tensor all;         // [n_all, N/2+1] float32, ascending lattice order
  std::vector<double> cfs;   // Hz of each filter's lattice point (clamped at 0)
  int64_t n_band = 0;        // band-pass filters, rows s-1+1 .. s-1+n_band
};

FilterBank make_filter_bank(const CochleagramOptions& o) {
  const int64_t s = o.sample_factor;
  const int64_t n_band = (int64_t(o.n_filters) + 1) * s - 1;
  const int64_t n_all = n_band + 2 * s;
  const double e_lo = hz_to_erb(o.low_hz);
  const double e_hi = hz_to_erb(o.high_hz);
  const double step = (e_hi - e_lo) / double(n_band + 1);
  const double half_width = double(s) * step;
  const double scale = 1.0 / std::sqrt(double(s));
  const int64_t n_bins = o.signal_samples / 2 + 1;

  std::vector<double> bin_erb(static_cast<size_t>(n_bins));
  for (int64_t b = 0; b < n_bins; ++b)
    bin_erb[size_t(b)] = hz_to_erb(double(b) * o.sample_rate / double(o.signal_samples));

  FilterBank bank;
  bank.n_band = n_band;
  torch::Tensor all = torch::zeros({n_all, n_bins}, torch::kFloat64);
  auto acc = all.accessor<double, 2>();
  for (int64_t row = 0; row < n_all; ++row) {
    const int64_t j = row - (s - 1);  // lattice index
    const bool low_edge = j <= 0;
    const bool high_edge = j > n_band;
    const double centre = e_lo + double(j) * step;
    bank.cfs.push_back(centre > 0 ? erb_to_hz(centre) : 0.0);
    for (int64_t b = 0; b < n_bins; ++b) {
      const double x = (bin_erb[size_t(b)] - centre) / half_width;
      double h = 0;
      if ((low_edge && x <= 0) || (high_edge && x >= 0))
        h = 1;
      else if (std::abs(x) < 1)
        h = std::cos(0.5 * kPi * x);
      acc[row][b] = h * scale;
    }
  }
  bank.all = all.to(torch::kFloat32);
  return bank;
}

// [SECTION] Low-pass kernel --------------------------------------------------------------
// Modified Bessel function of the first kind, order 0 (power series; converges fast for the
// arguments a Kaiser window needs).
double bessel_i0(double x) {
  double sum = 1, term = 1;
  const double q = 0.25 * x * x;
  for (int k = 1; k < 200 && term > 1e-17 * sum; ++k) {
    term *= q / (double(k) * double(k));
    sum += term;
  }
  return sum;
}

// [1, 1, 2*5*factor + 1] sinc low-pass with cutoff at 1/(2*factor) of the sample rate,
// Kaiser-windowed, normalised to unit DC gain.
torch::Tensor make_lowpass(int64_t factor) {
  const int64_t taps = 2 * kLowpassZeroCrossings * factor + 1;
  const int64_t mid = taps / 2;
  std::vector<double> h(static_cast<size_t>(taps));
  double sum = 0;
  for (int64_t n = 0; n < taps; ++n) {
    const double t = double(n - mid) / double(factor);  // in units of the output period
    const double sinc = n == mid ? 1.0 : std::sin(kPi * t) / (kPi * t);
    const double r = double(n - mid) / double(mid);
    const double window = bessel_i0(kKaiserBeta * std::sqrt(std::max(0.0, 1 - r * r))) /
                          bessel_i0(kKaiserBeta);
    h[size_t(n)] = sinc * window;
    sum += h[size_t(n)];
  }
  for (double& v : h) v /= sum;
  return torch::tensor(h, torch::kFloat64).to(torch::kFloat32).reshape({1, 1, taps});
}

// [SECTION] Options check ----------------------------------------------------------------
[[noreturn]] void bad_option(const std::string& what) {
  throw std::invalid_argument("Cochleagram: " + what);
}

// Returns the integer downsampling factor sample_rate / env_sr; throws on invalid options.
int64_t check_options(const CochleagramOptions& o) {
  std::ostringstream msg;
  if (o.sample_rate <= 0) bad_option("sample_rate must be positive, got " + std::to_string(o.sample_rate));
  if (o.signal_samples <= 0)
    bad_option("signal_samples must be positive, got " + std::to_string(o.signal_samples));
  if (o.n_filters < 1) bad_option("n_filters must be at least 1, got " + std::to_string(o.n_filters));
  if (o.sample_factor < 1)
    bad_option("sample_factor must be at least 1, got " + std::to_string(o.sample_factor));
  const double nyquist = 0.5 * o.sample_rate;
  if (!(o.low_hz > 0) || !(o.low_hz < o.high_hz) || !(o.high_hz <= nyquist)) {
    msg << "need 0 < low_hz < high_hz <= sample_rate/2 (" << nyquist << " Hz), got low_hz "
        << o.low_hz << ", high_hz " << o.high_hz;
    bad_option(msg.str());
  }
  if (!(o.env_sr > 0) || !(o.env_sr <= o.sample_rate)) {
    msg << "env_sr must be in (0, sample_rate], got " << o.env_sr;
    bad_option(msg.str());
  }
  const double ratio = o.sample_rate / o.env_sr;
  const int64_t factor = std::llround(ratio);
  if (factor < 1 || std::abs(ratio - double(factor)) > 1e-9 * ratio) {
    msg << "sample_rate / env_sr must be an integer, got " << o.sample_rate << " / " << o.env_sr
        << " = " << ratio << "; choose an env_sr that divides the sample rate";
    bad_option(msg.str());
  }
  if (!(o.compression > 0)) {
    msg << "compression must be positive, got " << o.compression;
    bad_option(msg.str());
  }
  if (!(o.grad_clip > 0)) {
    msg << "grad_clip must be positive, got " << o.grad_clip;
    bad_option(msg.str());
  }
  const int64_t taps = 2 * kLowpassZeroCrossings * factor + 1;
  if (o.signal_samples < taps) {
    msg << "signal_samples (" << o.signal_samples << ") is shorter than the envelope low-pass ("
        << taps << " taps at sample_rate / env_sr = " << factor << ")";
    bad_option(msg.str());
  }
  return factor;
}

}  // namespace

torch::Tensor relu_identity_grad(const torch::Tensor& x) { return ReluIdentityGradFunction::apply(x); }

torch::Tensor clipped_power(const torch::Tensor& x, double power, double clip) {
  return ClippedPowerFunction::apply(x, power, clip);
}

torch::Tensor band_gather(const torch::Tensor& spectrum, const std::vector<int64_t>& starts, int64_t len) {
  const int64_t bins = spectrum.size(1);
  std::vector<int64_t> index;
  index.reserve(starts.size() * size_t(len));
  for (const int64_t a : starts)
    for (int64_t j = 0; j < len; ++j) index.push_back(std::min(a + j, bins - 1));
  return BandGatherFunction::apply(spectrum, torch::tensor(index, torch::kLong).to(spectrum.device()), starts, len);
}

// [SECTION] Module -----------------------------------------------------------------------
CochleagramImpl::CochleagramImpl(CochleagramOptions o) : opt_(o) {
  downsample_ = check_options(opt_);
  FilterBank bank = make_filter_bank(opt_);
  // The filters, low-pass and band indices are constants of the options: plain members, not
  // buffers, so a saved network holds only its learned state (forward casts them as needed).
  filters_ = bank.all;
  const int64_t s = opt_.sample_factor;
  if (opt_.include_edge_filters) {
    out_filters_ = bank.all.clone();
    cfs_ = bank.cfs;
  } else {
    out_filters_ = bank.all.narrow(0, s, bank.n_band).clone();
    cfs_.assign(bank.cfs.begin() + s, bank.cfs.begin() + s + bank.n_band);
  }
  const int64_t r = opt_.envelope_decimation;
  const int64_t n = opt_.signal_samples;
  if (r < 1 || n % r != 0 || downsample_ % r != 0) {
    std::ostringstream msg;
    msg << "envelope_decimation (" << r << ") must be at least 1 and divide both signal_samples (" << n
        << ") and sample_rate / env_sr (" << downsample_ << ")";
    bad_option(msg.str());
  }
  lowpass_ = make_lowpass(downsample_ / r);
  frames_ = (n / r - lowpass_.size(2)) / (downsample_ / r) + 1;
  if (r > 1) {
    // Each output filter's support [a, b] (its non-zero rFFT bins), shifted to DC.
    const int64_t len = n / r, n_bins = n / 2 + 1, f = out_filters_.size(0);
    auto filt = out_filters_.to(torch::kFloat64).contiguous();
    auto fa = filt.accessor<double, 2>();
    std::vector<int64_t> index(size_t(f * len));
    std::vector<float> weight(size_t(f * len), 0.0f);
    for (int64_t c = 0; c < f; ++c) {
      int64_t a = 0, b = n_bins - 1;
      while (a < n_bins && fa[c][a] == 0.0) ++a;
      while (b > a && fa[c][b] == 0.0) --b;
      if (b - a + 1 > len) {
        std::ostringstream msg;
        msg << "envelope_decimation " << r << ": filter " << c << " spans " << b - a + 1 << " rFFT bins, more than N/r = "
            << len << "; use a smaller envelope_decimation";
        bad_option(msg.str());
      }
      band_start_.push_back(a);
      for (int64_t j = 0; j < len; ++j) {
        const int64_t k = std::min(a + j, n_bins - 1);
        index[size_t(c * len + j)] = k;
        // One-sided (analytic) weighting: DC and Nyquist once, positive bins twice.
        const double one_sided = (k == 0 || (n % 2 == 0 && k == n_bins - 1)) ? 1.0 : 2.0;
        if (a + j <= b) weight[size_t(c * len + j)] = float(fa[c][k] * one_sided);
      }
    }
    band_index_ = torch::tensor(index, torch::kLong).reshape({f * len});
    band_filter_ = torch::tensor(weight, torch::kFloat32).reshape({f, len});
  }
}

int64_t CochleagramImpl::n_channels() const { return out_filters_.size(0); }
int64_t CochleagramImpl::n_frames() const { return frames_; }
std::vector<double> CochleagramImpl::center_frequencies() const { return cfs_; }

torch::Tensor CochleagramImpl::forward(const torch::Tensor& wave) {
  const int64_t n = opt_.signal_samples;
  if (wave.dim() != 2 || wave.size(1) != n) {
    std::ostringstream msg;
    msg << "Cochleagram: expected a waveform of shape [B, " << n << "], got " << wave.sizes();
    throw std::invalid_argument(msg.str());
  }
  if (!wave.is_floating_point())
    throw std::invalid_argument("Cochleagram: the waveform must be float32 or float64");
  const int64_t batch = wave.size(0);
  const int64_t n_bins = n / 2 + 1;
  const int64_t channels = out_filters_.size(0);
  const auto real_options = wave.options();

  // One-sided weights that turn a filtered rFFT into the spectrum of the analytic signal:
  // DC and (for even n) Nyquist once, positive frequencies twice, negatives zero (padded).
  torch::Tensor one_sided = torch::full({n_bins}, 2.0, real_options);
  one_sided.narrow(0, 0, 1).fill_(1.0);
  if (n % 2 == 0) one_sided.narrow(0, n_bins - 1, 1).fill_(1.0);
  const torch::Tensor spectrum = torch::fft::rfft(wave, n, -1);              // [B, K]
  const int64_t r = opt_.envelope_decimation;
  const int64_t len = n / r;  // envelope samples per channel
  torch::Tensor analytic;
  if (r == 1) {
    const torch::Tensor filters = out_filters_.to(real_options) * one_sided;  // [F, K]
    const torch::Tensor bands = spectrum.unsqueeze(1) * filters;               // [B, F, K]
    const torch::Tensor negatives = torch::zeros({batch, channels, n - n_bins}, bands.options());
    analytic = torch::fft::ifft(torch::cat({bands, negatives}, -1), n, -1);
  } else {
    // Each band shifted to DC: an (N/r)-point inverse FFT gives the analytic signal's
    // samples at every r-th instant times a phase; 1/r restores the N-point scaling.
    // (.to(kLong): Module::to(dtype) casts integer buffers too.)
    const torch::Tensor bands =
        BandGatherFunction::apply(spectrum, band_index_.to(wave.device(), torch::kLong), band_start_, len)
            .reshape({batch, channels, len}) *
        band_filter_.to(real_options);  // [B, F, N/r]
    analytic = torch::fft::ifft(bands, len, -1) * (1.0 / double(r));
  }
  const torch::Tensor envelope =
      (torch::view_as_real(analytic).square().sum(-1) + kEnvelopeEps).sqrt();  // [B, F, N/r]

  const torch::Tensor lowpassed =
      torch::conv1d(envelope.reshape({batch * channels, 1, len}), lowpass_.to(real_options),
                    /*bias=*/{}, /*stride=*/downsample_ / r);  // [B*F, 1, T]
  const torch::Tensor coch = lowpassed.reshape({batch, 1, channels, frames_});
  return clipped_power(relu_identity_grad(coch), opt_.compression, opt_.grad_clip);
}

// [SECTION] Picture -----------------------------------------------------------------------
namespace {

// [1, 1, F, T] (or [1, F, T]) as a picture scaled by its largest value.
CochleagramPicture to_picture(const torch::Tensor& coch, double seconds, std::string source) {
  const torch::Tensor c = coch.detach().to(torch::kCPU, torch::kFloat).contiguous();
  if (c.dim() < 2 || c.numel() == 0) throw std::runtime_error("the cochleagram came out empty");
  CochleagramPicture p;
  p.channels = c.size(-2);
  p.frames = c.size(-1);
  p.seconds = seconds;
  p.source = std::move(source);
  const float* v = c.data_ptr<float>();
  p.values.assign(v, v + p.channels * p.frames);
  float top = 0;
  for (float x : p.values) top = std::isfinite(x) ? std::max(top, x) : top;
  for (float& x : p.values) x = top > 0 && std::isfinite(x) ? std::clamp(x / top, 0.0f, 1.0f) : 0.0f;
  return p;
}

torch::Tensor wave_tensor(const stimuli::Array& a) {
  return torch::from_blob(const_cast<float*>(a.data.data()), {1, static_cast<int64_t>(a.data.size())}, torch::kFloat)
      .clone();
}

}  // namespace

CochleagramPicture cochleagram_picture(const std::string& wav, const std::string& model_spec) {
  static std::mutex mu;
  struct Opened {
    std::shared_ptr<ModelHandle> handle;  // null: could not be used (why)
    std::string why;
  };
  // Kept for the process's life, never destroyed (torch's own statics may be gone at exit).
  static auto& models = *new std::map<std::string, Opened>;
  static auto& fallback = *new std::unique_ptr<Cochleagram>;
  std::lock_guard<std::mutex> lock(mu);
  torch::NoGradGuard no_grad;
  const auto file_error = [&](const std::exception& e) {
    const std::string m = e.what();
    return std::runtime_error("cochleagram of " + wav + ": " + m.substr(0, m.find('\n')));
  };

  std::string why = "no model recorded";
  if (!model_spec.empty()) {
    auto it = models.find(model_spec);
    if (it == models.end()) {
      Opened o;
      try {
        auto h = std::make_shared<ModelHandle>(ModelHandle::open(model_spec, Device::cpu));
        const auto& layers = h->info().layers;
        if (h->info().modality != "audio") o.why = model_spec + " is not an audio model";
        else if (std::find(layers.begin(), layers.end(), "cochleagram") == layers.end())
          o.why = model_spec + " has no layer named cochleagram";
        else o.handle = h;
      } catch (const std::exception& e) {
        const std::string m = e.what();
        o.why = "cannot open " + model_spec + ": " + m.substr(0, m.find('\n'));
      }
      it = models.emplace(model_spec, o).first;
    }
    if (const auto& h = it->second.handle) {
      stimuli::Array a;
      try {
        a = h->load_stimulus(wav);
      } catch (const std::exception& e) {
        throw file_error(e);
      }
      Model& m = h->impl();
      const torch::Tensor c = m.forward(wave_tensor(a).to(m.device()), {"cochleagram"}, false).at("cochleagram");
      const double rate = h->info().sample_rate > 0 ? h->info().sample_rate : 20000;
      return to_picture(c, static_cast<double>(a.data.size()) / rate,
                        model_spec + "'s own front end (its layer cochleagram)");
    }
    why = it->second.why;
  }

  stimuli::AudioSpec spec;  // the engine's default: 20 kHz, 2 s, RMS 0.1
  stimuli::Array a;
  try {
    a = stimuli::load_audio(wav, spec);
  } catch (const std::exception& e) {
    throw file_error(e);
  }
  if (!fallback) {
    CochleagramOptions o;
    o.sample_rate = spec.sample_rate;
    o.signal_samples = spec.samples;
    fallback = std::make_unique<Cochleagram>(o);
  }
  const torch::Tensor c = (*fallback)->forward(wave_tensor(a));
  return to_picture(c, static_cast<double>(spec.samples) / spec.sample_rate,
                    "the default cochleagram (synth/cochleagram.h: 20 kHz, 211 channels), not the model's: " + why);
}

}  // namespace mm::synth
