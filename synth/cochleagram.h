// synth/cochleagram.h: a differentiable cochleagram in LibTorch, as in Feather et al. 2023.
//
// waveform [B, N] -> cochleagram [B, 1, F, T]:
//   rFFT -> ERB-spaced half-cosine filters (4x overcomplete by default, plus low/high-pass
//   edge filters so the squared responses sum to a flat line) -> analytic signal
//   (Hilbert: negative frequencies zeroed, positive doubled) -> envelope |.| via iFFT ->
//   windowed-sinc (Kaiser) low-pass and downsampling to the envelope rate ->
//   ReLU with identity gradient -> power compression (x + 1e-8)^0.3 whose gradient is
//   clipped to +-5.
// Include only from synth/ translation units.
#pragma once
#include <torch/torch.h>

namespace mm::synth {

struct CochleagramOptions {
  int sample_rate = 20000;
  int64_t signal_samples = 40000;
  int n_filters = 50;          // ERB-spaced filters between low_hz and high_hz (before overcompleteness)
  int sample_factor = 4;       // overcompleteness s: (n_filters+1)*s-1 half-cosine filters plus s
                               // low-pass and s high-pass edge filters; 50 and 4 give 203 + 8 = 211,
                               // the paper's count (which includes the edge filters)
  double low_hz = 50;
  double high_hz = 10000;
  double env_sr = 200;         // envelope sample rate after downsampling
  double compression = 0.3;    // power
  double grad_clip = 5.0;      // |d compression| clipped to this
  bool include_edge_filters = true;   // return the low/high edge filters' channels too (paper: yes)
  // r > 1: compute each channel's analytic signal with an (N/r)-point inverse FFT of its
  // band shifted down to DC (|.| is unchanged by the shift), i.e. exact envelope samples at
  // sample_rate / r, then low-pass and downsample from that rate (kernel for factor D/r).
  // About r times cheaper; differs from r = 1 only by envelope energy above
  // sample_rate / (2r) folding into the low-pass. Needs r | N, r | D and every output
  // filter's band within N/r bins. 1: the exact full-rate computation (the paper's).
  int envelope_decimation = 1;
};

class CochleagramImpl : public torch::nn::Module {
 public:
  explicit CochleagramImpl(CochleagramOptions o = {});
  torch::Tensor forward(const torch::Tensor& wave);  // [B, N] -> [B, 1, F, T]
  // [n_all_filters, N/2+1] frequency responses, including edge filters.
  const torch::Tensor& filters() const { return filters_; }
  const CochleagramOptions& options() const { return opt_; }
  int64_t n_channels() const;   // F of the output
  int64_t n_frames() const;     // T of the output: 'valid' low-pass, 390 for 2 s @ 20 kHz -> 200 Hz
  std::vector<double> center_frequencies() const;  // Hz of the output channels

 private:
  CochleagramOptions opt_;
  torch::Tensor filters_;     // all filters incl. edges (constant)
  torch::Tensor out_filters_; // those used for the output (constant)
  torch::Tensor lowpass_;     // downsampling kernel (constant)
  torch::Tensor band_index_;  // r > 1: [F, N/r] rFFT bin of each shifted band sample (constant)
  torch::Tensor band_filter_; // r > 1: [F, N/r] one-sided filter weights at those bins (constant)
  std::vector<int64_t> band_start_;  // r > 1: each channel's first bin (band_index_ runs on from it)
  std::vector<double> cfs_;
  int64_t downsample_ = 1;
  int64_t frames_ = 0;
};
TORCH_MODULE(Cochleagram);

// ReLU forward with identity gradient, compression with clipped gradient and the band gather: exposed for tests.
torch::Tensor relu_identity_grad(const torch::Tensor& x);
torch::Tensor clipped_power(const torch::Tensor& x, double power, double clip);
// Each channel's run of len rFFT bins from its start (bins past the last repeat the last):
// [B, K] -> [B, starts.size() * len], with a backward that adds each run back in one slice.
torch::Tensor band_gather(const torch::Tensor& spectrum, const std::vector<int64_t>& starts, int64_t len);

}  // namespace mm::synth
