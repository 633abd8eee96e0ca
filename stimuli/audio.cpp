// stimuli/audio.cpp: loading sounds into model-ready mono float clips (libsndfile decode,
// channel mean, libsamplerate resampling, centre crop / zero pad, mean removal, RMS
// normalisation) and writing 32-bit float WAV files atomically.
//
// Sections
//   [SECTION] Decoding     any libsndfile format -> mono float samples
//   [SECTION] Resampling   SRC_SINC_BEST_QUALITY, only over the span the crop keeps
//   [SECTION] API          load_audio, save_wav_float
#include "stimuli/stimuli.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mm::stimuli {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// Below this RMS (after mean removal) a clip counts as silent: far under one LSB of
// 24-bit audio, so only true silence or a constant (DC) signal hits it.
constexpr double kSilentRms = 1e-9;
// The longest sound decoded (2^26 frames: 23 minutes at 48 kHz, 256 MB of samples).
// Compressed formats can hold far more than their size suggests: a 363 kB FLAC of a
// constant signal decodes to 4 hours (550 MB here at 8 kHz, 24 times that at 192 kHz).
constexpr int64_t kMaxFrames = int64_t{1} << 26;

// A library's error text on one line, without a trailing full stop.
std::string one_line(const char* text) {
  std::string s = text ? text : "unknown error";
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && (s.back() == ' ' || s.back() == '.')) s.pop_back();
  return s;
}

struct SndCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndPtr = std::unique_ptr<SNDFILE, SndCloser>;

// [SECTION] Decoding ----------------------------------------------------------------------
struct Decoded {
  std::vector<float> mono;
  int rate = 0;
  int channels = 0;
  bool short_read = false;  // fewer frames than the header promised
};

Decoded decode(const std::string& path) {
  const std::string fix = "; replace or remove the file";
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path + ": file not found; check the path");
  if (fs::is_directory(path, ec)) fail(path + ": is a folder, not a sound file; pass a sound file");
  auto size = fs::file_size(path, ec);
  if (!ec && size == 0) fail(path + ": file is empty (0 bytes), not a sound file" + fix);

  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  SndPtr f(sf_open(path.c_str(), SFM_READ, &info));
  if (!f) {
    fail(path + ": not a sound file libsndfile can read (" + one_line(sf_strerror(nullptr)) + ")" + fix);
  }
  if (info.channels <= 0) fail(path + ": sound file reports " + std::to_string(info.channels) + " channels" + fix);
  if (info.samplerate <= 0)
    fail(path + ": sound file reports a sample rate of " + std::to_string(info.samplerate) + " Hz" + fix);

  Decoded d;
  d.rate = info.samplerate;
  d.channels = info.channels;
  const int ch = info.channels;
  const sf_count_t chunk = std::max<sf_count_t>(1, 65536 / ch);
  std::vector<float> buf(static_cast<size_t>(chunk) * ch);
  if (info.frames > 0 && info.frames <= kMaxFrames) d.mono.reserve(static_cast<size_t>(info.frames));
  const float inv = 1.0f / static_cast<float>(ch);
  while (true) {
    sf_count_t got = sf_readf_float(f.get(), buf.data(), chunk);
    if (got <= 0) break;
    if (static_cast<int64_t>(d.mono.size()) + got > kMaxFrames)
      fail(path + ": sound is longer than " + std::to_string(kMaxFrames) + " frames (" +
           std::to_string(kMaxFrames / info.samplerate / 60) + " minutes at " + std::to_string(info.samplerate) +
           " Hz); cut it to the clip you need" + fix);
    for (sf_count_t i = 0; i < got; ++i) {
      const float* fr = &buf[static_cast<size_t>(i) * ch];
      float s = 0;
      for (int c = 0; c < ch; ++c) s += fr[c];
      d.mono.push_back(ch == 1 ? s : s * inv);
    }
  }
  int err = sf_error(f.get());
  if (err != SF_ERR_NO_ERROR && d.mono.empty())
    fail(path + ": cannot decode sound data (" + one_line(sf_error_number(err)) + "; truncated?)" + fix);
  if (d.mono.empty()) fail(path + ": sound file holds no samples (empty or truncated)" + fix);
  if (info.frames > 0 && static_cast<sf_count_t>(d.mono.size()) < info.frames) d.short_read = true;
  for (float v : d.mono)
    if (!std::isfinite(v)) fail(path + ": sound holds NaN or infinite samples" + fix);
  return d;
}

// [SECTION] Resampling --------------------------------------------------------------------
// Input samples kept beyond the needed span on each side, so the filter's edges (and
// libsamplerate's zero history) never reach the samples we keep. SRC_SINC_BEST_QUALITY's
// kernel spans a few hundred input samples even at strong downsampling ratios.
constexpr int64_t kMargin = 8192;

// Resamples x from rate `in` to `out` and returns output samples [start, start + count)
// of the full-length resampled signal (length round(n * out / in)); samples past the end
// of the signal are zero. Only the input span those samples depend on is processed.
std::vector<float> resample_span(const std::string& path, const std::vector<float>& x, int in, int out,
                                 int64_t start, int64_t count) {
  const int64_t g = std::gcd(static_cast<int64_t>(in), static_cast<int64_t>(out));
  const int64_t p = out / g, q = in / g;  // ratio = p / q
  const double ratio = static_cast<double>(out) / in;
  if (!src_is_valid_ratio(ratio))
    fail(path + ": cannot resample " + std::to_string(in) + " Hz -> " + std::to_string(out) +
         " Hz (libsamplerate allows ratios 1/256..256); convert the file to a closer rate first");
  const int64_t n = static_cast<int64_t>(x.size());

  // Input index a maps to output index a * p / q; choose a a multiple of q so that the
  // sub-span's output grid coincides with the full signal's.
  int64_t a_guess = static_cast<int64_t>(std::floor(static_cast<double>(start) / ratio)) - kMargin;
  int64_t a = a_guess <= 0 ? 0 : (a_guess / q) * q;
  int64_t b = static_cast<int64_t>(std::ceil(static_cast<double>(start + count) / ratio)) + kMargin;
  b = std::min(b, n);
  if (b <= a) a = 0, b = n;
  const int64_t a_out = a / q * p;

  const int64_t span_in = b - a;
  const int64_t cap = static_cast<int64_t>(std::ceil(static_cast<double>(span_in) * ratio)) + 64;
  std::vector<float> y(static_cast<size_t>(cap));
  SRC_DATA sd;
  std::memset(&sd, 0, sizeof sd);
  sd.data_in = x.data() + a;
  sd.input_frames = static_cast<long>(span_in);
  sd.data_out = y.data();
  sd.output_frames = static_cast<long>(cap);
  sd.src_ratio = ratio;
  sd.end_of_input = 1;
  int err = src_simple(&sd, SRC_SINC_BEST_QUALITY, 1);
  if (err != 0)
    fail(path + ": resampling " + std::to_string(in) + " Hz -> " + std::to_string(out) + " Hz failed (" +
         one_line(src_strerror(err)) + "); convert the file to " + std::to_string(out) + " Hz first");
  y.resize(static_cast<size_t>(sd.output_frames_gen));

  // Full-length output size, rounded to nearest.
  const int64_t full_len = (n * p + q / 2) / q;
  std::vector<float> res(static_cast<size_t>(count), 0.0f);
  for (int64_t k = 0; k < count; ++k) {
    int64_t j = start + k;  // index in the full output
    if (j >= full_len) break;
    int64_t local = j - a_out;
    if (local >= 0 && local < static_cast<int64_t>(y.size())) res[static_cast<size_t>(k)] = y[static_cast<size_t>(local)];
  }
  return res;
}

std::string tmp_fail_msg(const std::string& path, const std::string& what) {
  return path + ": " + what + "; check that the folder exists and is writable, or choose another output path";
}

}  // namespace

// [SECTION] API ---------------------------------------------------------------------------
std::vector<float> load_sound_as_is(const std::string& path, int* rate) {
  Decoded d = decode(path);
  if (d.mono.empty()) fail(path + ": holds no sound; replace or remove the file");
  if (rate) *rate = d.rate;
  return std::move(d.mono);
}

Array load_audio(const std::string& path, const AudioSpec& spec, AudioLoadReport* report) {
  if (spec.sample_rate <= 0)
    fail(path + ": audio spec sample rate " + std::to_string(spec.sample_rate) + " Hz is invalid; use a positive rate");
  if (spec.samples <= 0 || spec.samples > (int64_t{1} << 31))
    fail(path + ": audio spec length " + std::to_string(spec.samples) + " samples is invalid; use a positive length");
  if (!(spec.rms > 0) || !std::isfinite(spec.rms))
    fail(path + ": audio spec RMS " + std::to_string(spec.rms) + " is invalid; use a positive RMS (e.g. 0.1)");

  Decoded d = decode(path);
  const int64_t n_in = static_cast<int64_t>(d.mono.size());
  const bool resample = d.rate != spec.sample_rate;

  // Length after resampling, then the centred window of spec.samples within it.
  int64_t n_full = n_in;
  if (resample) {
    const int64_t g = std::gcd(static_cast<int64_t>(d.rate), static_cast<int64_t>(spec.sample_rate));
    const int64_t p = spec.sample_rate / g, q = d.rate / g;
    n_full = (n_in * p + q / 2) / q;
  }
  const int64_t keep = std::min(n_full, spec.samples);
  const int64_t start = n_full > spec.samples ? (n_full - spec.samples) / 2 : 0;

  std::vector<float> clip;
  if (resample) {
    clip = resample_span(path, d.mono, d.rate, spec.sample_rate, start, keep);
  } else {
    clip.assign(d.mono.begin() + start, d.mono.begin() + start + keep);
  }
  d.mono.clear();
  d.mono.shrink_to_fit();
  clip.resize(static_cast<size_t>(spec.samples), 0.0f);  // zero pad at the end

  double mean = 0;
  for (float v : clip) mean += v;
  mean /= static_cast<double>(clip.size());
  double ss = 0;
  for (float v : clip) ss += (v - mean) * (v - mean);
  const double rms = std::sqrt(ss / static_cast<double>(clip.size()));
  if (!(rms > kSilentRms))
    fail(path + ": sound is silent (RMS is 0 after removing the mean" +
         std::string(n_full > spec.samples ? " in the centred " + std::to_string(spec.samples) + "-sample window" : "") +
         "); replace or remove the file");
  const double gain = spec.rms / rms;
  Array a;
  a.shape = {spec.samples};
  a.data.resize(clip.size());
  for (size_t i = 0; i < clip.size(); ++i) a.data[i] = static_cast<float>((clip[i] - mean) * gain);

  if (report) {
    report->original_rate = d.rate;
    report->channels = d.channels;
    report->resampled = resample;
    std::string note;
    auto add = [&note](const std::string& s) { note += (note.empty() ? "" : "; ") + s; };
    if (resample) add("resampled " + std::to_string(d.rate) + " Hz -> " + std::to_string(spec.sample_rate) + " Hz");
    if (d.channels > 1) add("mixed " + std::to_string(d.channels) + " channels to mono");
    if (n_full > spec.samples)
      add("centre-cropped " + std::to_string(n_full) + " -> " + std::to_string(spec.samples) + " samples");
    else if (n_full < spec.samples)
      add("zero-padded " + std::to_string(n_full) + " -> " + std::to_string(spec.samples) + " samples");
    if (d.short_read) add("file shorter than its header says (truncated?)");
    report->note = note;
  }
  return a;
}

void save_wav_float(const std::string& path, const Array& mono, int sample_rate) {
  if (path.empty()) fail("save_wav_float: empty output path; pass a file name");
  bool is_mono = mono.shape.size() == 1 ||
                 (mono.shape.size() == 2 && (mono.shape[0] == 1 || mono.shape[1] == 1));
  if (!is_mono || mono.numel() != static_cast<int64_t>(mono.data.size())) {
    std::string s = "[";
    for (size_t i = 0; i < mono.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(mono.shape[i]);
    fail(path + ": cannot save an array of shape " + s + "] (" + std::to_string(mono.data.size()) +
         " values) as a mono WAV; pass a 1-D array of samples");
  }
  if (sample_rate <= 0)
    fail(path + ": cannot save a WAV at " + std::to_string(sample_rate) + " Hz; pass a positive sample rate");
  for (float v : mono.data)
    if (!std::isfinite(v)) fail(path + ": samples hold NaN or infinity; not writing the WAV (fix the synthesis)");

  const std::string tmp = path + ".tmp";
  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  {
    SNDFILE* raw = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!raw) {
      std::string why = one_line(sf_strerror(nullptr));
      ::unlink(tmp.c_str());
      fail(tmp_fail_msg(path, "cannot create " + tmp + " (" + why + ")"));
    }
    SndPtr f(raw);
    // No PEAK chunk: libsndfile stamps it with the current time, so the same samples would
    // give different bytes (data set builds and metamers are meant to be byte-reproducible).
    sf_command(f.get(), SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
    const sf_count_t n = static_cast<sf_count_t>(mono.data.size());
    sf_count_t written = n ? sf_writef_float(f.get(), mono.data.data(), n) : 0;
    if (written != n) {
      std::string why = one_line(sf_strerror(f.get()));
      f.reset();
      ::unlink(tmp.c_str());
      fail(tmp_fail_msg(path, "cannot write " + tmp + " (" + why + ")"));
    }
    if (sf_close(f.release()) != 0) {
      ::unlink(tmp.c_str());
      fail(tmp_fail_msg(path, "cannot finish " + tmp));
    }
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    fail(tmp_fail_msg(path, "cannot flush " + tmp + " to disk (" + std::strerror(err) + ")"));
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(tmp_fail_msg(path, "cannot rename " + tmp + " over it (" + std::strerror(err) + ")"));
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace mm::stimuli
