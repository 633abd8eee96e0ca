// tests/stimuli/test_audio.cpp: load_audio and save_wav_float: float WAV round trip,
// resampling from odd rates keeps a sine's frequency, RMS normalisation, channel mixing,
// 8-bit unsigned / 16 / 24-bit PCM and float inputs, centre crop and zero padding, and clear
// errors for silent, missing, empty, truncated and non-audio files.
//
// Sections
//   [SECTION] Helpers      writing WAVs with libsndfile, DFT power at one frequency
//   [SECTION] Round trip   save_wav_float -> load_audio at 20 kHz
//   [SECTION] Resampling   sines at 8000 / 11025 / 44100 / 96000 Hz -> 20 kHz
//   [SECTION] Formats      U8, PCM16, PCM24, float, double, FLAC, many channels
//   [SECTION] Length       centre crop, zero padding, mean removal
//   [SECTION] Errors       silent, constant, missing, empty, truncated, non-audio, bad spec
#include "stimuli/stimuli.h"
#include "tests/testutil.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using mm::stimuli::Array;
using mm::stimuli::AudioLoadReport;
using mm::stimuli::AudioSpec;
using mm::stimuli::load_audio;
using mm::stimuli::save_wav_float;
using mm::test::TempDir;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------
const double kPi = 3.14159265358979323846;

// Writes interleaved frames (frames * channels values) with libsndfile.
void write_sound(const std::string& path, int format, int rate, int channels, const std::vector<float>& frames) {
  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  ASSERT_TRUE(sf_format_check(&info)) << "bad test format " << std::hex << format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  sf_count_t n = static_cast<sf_count_t>(frames.size() / channels);
  EXPECT_EQ(sf_writef_float(f, frames.data(), n), n);
  sf_close(f);
}

std::vector<float> sine(double freq, int rate, int64_t n, double amp, double phase = 0.0) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(amp * std::sin(2 * kPi * freq * i / rate + phase));
  return x;
}

double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return std::sqrt(s / x.size());
}

double mean(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += v;
  return s / x.size();
}

// Power of x at `freq` (single-bin DFT) as a fraction of x's total power.
double power_fraction_at(const std::vector<float>& x, double freq, int rate) {
  double re = 0, im = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double ph = 2 * kPi * freq * static_cast<double>(i) / rate;
    re += x[i] * std::cos(ph);
    im -= x[i] * std::sin(ph);
  }
  double n = static_cast<double>(x.size());
  double p = 2 * (re * re + im * im) / (n * n);  // power of a sine = amp^2 / 2
  double r = rms(x);
  return p / (r * r);
}

int zero_crossings(const std::vector<float>& x) {
  int z = 0;
  for (size_t i = 1; i < x.size(); ++i)
    if ((x[i - 1] < 0) != (x[i] < 0)) ++z;
  return z;
}

// The expected output for an input clip already at the right rate and length.
std::vector<float> normalised(std::vector<float> x, double target) {
  double m = mean(x);
  double s = 0;
  for (float v : x) s += (v - m) * (v - m);
  double r = std::sqrt(s / x.size());
  for (float& v : x) v = static_cast<float>((v - m) * target / r);
  return x;
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  double ma = mean(a), mb = mean(b), sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

AudioSpec aspec(int rate, int64_t samples, double r = 0.1) {
  AudioSpec s;
  s.sample_rate = rate;
  s.samples = samples;
  s.rms = r;
  return s;
}

using mm::test::error_of;

// [SECTION] Round trip --------------------------------------------------------------------
TEST(AudioRoundTrip, FloatWavAt20kHzIsExact) {
  TempDir t("aud-rt");
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 0.3f);
  std::vector<float> x(40000);
  for (auto& v : x) v = d(rng);
  x = normalised(x, 0.1);
  Array a;
  a.shape = {40000};
  a.data = x;
  std::string p = t / "rt.wav";
  save_wav_float(p, a, 20000);
  EXPECT_FALSE(fs::exists(p + ".tmp"));

  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  SNDFILE* f = sf_open(p.c_str(), SFM_READ, &info);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(info.format, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.samplerate, 20000);
  EXPECT_EQ(info.frames, 40000);
  std::vector<float> raw(40000);
  EXPECT_EQ(sf_readf_float(f, raw.data(), 40000), 40000);
  sf_close(f);
  EXPECT_EQ(raw, x) << "float WAV must store the samples bit for bit";

  AudioLoadReport rep;
  Array b = load_audio(p, aspec(20000, 40000, 0.1), &rep);
  ASSERT_EQ(b.shape, (std::vector<int64_t>{40000}));
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(b.data[i], x[i], 1e-6) << i;
  EXPECT_EQ(rep.original_rate, 20000);
  EXPECT_EQ(rep.channels, 1);
  EXPECT_FALSE(rep.resampled);
  EXPECT_EQ(rep.note, "");
}

TEST(AudioRoundTrip, SaveRejectsBadInputAndUnwritableTargets) {
  TempDir t("aud-save-err");
  Array a;
  a.shape = {4};
  a.data = {0.1f, -0.1f, 0.2f, 0.0f};
  std::string missing = t / "no/such/dir/x.wav";
  std::string msg = error_of([&] { save_wav_float(missing, a, 20000); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;

  mm::test::write_bytes(t / "file", "x");
  std::string under_file = t / "file/x.wav";
  msg = error_of([&] { save_wav_float(under_file, a, 20000); });
  EXPECT_NE(msg.find(under_file), std::string::npos) << msg;

  msg = error_of([&] { save_wav_float(t / "rate.wav", a, 0); });
  EXPECT_NE(msg.find("rate.wav"), std::string::npos) << msg;
  Array stereo;
  stereo.shape = {2, 2};
  stereo.data = {0, 1, 2, 3};
  error_of([&] { save_wav_float(t / "st.wav", stereo, 20000); });
  Array nan = a;
  nan.data[1] = std::nanf("");
  error_of([&] { save_wav_float(t / "nan.wav", nan, 20000); });
  Array wrong = a;
  wrong.shape = {5};
  error_of([&] { save_wav_float(t / "wrong.wav", wrong, 20000); });
  for (const char* n : {"rate.wav", "st.wav", "nan.wav", "wrong.wav", "rate.wav.tmp", "nan.wav.tmp"})
    EXPECT_FALSE(fs::exists(t / n)) << n;

  // Overwrites an existing file.
  std::string p = t / "over.wav";
  mm::test::write_bytes(p, "old");
  save_wav_float(p, a, 16000);
  EXPECT_NE(mm::test::read_bytes(p), "old");
  EXPECT_FALSE(fs::exists(p + ".tmp"));
}

// [SECTION] Resampling --------------------------------------------------------------------
class AudioResample : public ::testing::TestWithParam<int> {};

TEST_P(AudioResample, SineKeepsFrequencyAndRms) {
  const int rate = GetParam();
  TempDir t("aud-rs-" + std::to_string(rate));
  std::string p = t / "sine.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, 1, sine(1000.0, rate, rate, 0.5));  // 1 s
  AudioLoadReport rep;
  Array a = load_audio(p, aspec(20000, 20000, 0.1), &rep);
  ASSERT_EQ(a.shape, (std::vector<int64_t>{20000}));
  EXPECT_NEAR(rms(a.data), 0.1, 1e-6);
  EXPECT_NEAR(mean(a.data), 0.0, 1e-6);
  // 1 s of a 1 kHz sine: 2000 zero crossings, and nearly all power at 1000 Hz.
  EXPECT_NEAR(zero_crossings(a.data), 2000, 3);
  EXPECT_GT(power_fraction_at(a.data, 1000.0, 20000), 0.99);
  EXPECT_LT(power_fraction_at(a.data, 1000.0 * rate / 20000.0 + 7.0, 20000), 0.01);
  EXPECT_TRUE(rep.resampled);
  EXPECT_EQ(rep.original_rate, rate);
  EXPECT_EQ(rep.channels, 1);
  EXPECT_NE(rep.note.find("resampled " + std::to_string(rate) + " Hz -> 20000 Hz"), std::string::npos) << rep.note;
  // Away from the clip edges the waveform is a clean sine at the right phase: compare
  // with the ideal sine sampled at 20 kHz (same start time).
  std::vector<float> ideal = sine(1000.0, 20000, 20000, 0.1 * std::sqrt(2.0));
  double worst = 0;
  for (int i = 1000; i < 19000; ++i) worst = std::max(worst, std::fabs(static_cast<double>(a.data[i]) - ideal[i]));
  EXPECT_LT(worst, 2e-3);
}

INSTANTIATE_TEST_SUITE_P(Rates, AudioResample, ::testing::Values(8000, 11025, 44100, 48000, 96000));

TEST(AudioResampleLong, CropOfLongFileMatchesCentreOfWholeSignal) {
  // 30 s at 44.1 kHz, cropped to the centred 1 s at 20 kHz: the kept window must be the
  // centre of the full resampled signal. A chirp makes any misalignment visible.
  TempDir t("aud-long");
  const int rate = 44100;
  const int64_t n = 30 * rate;
  std::vector<float> x(static_cast<size_t>(n));
  auto phase = [](double s) { return 2 * kPi * (300.0 * s + 20.0 * s * s); };  // 300 Hz + 40 Hz/s
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(0.4 * std::sin(phase(static_cast<double>(i) / rate)));
  std::string p = t / "chirp.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, 1, x);
  AudioLoadReport rep;
  Array a = load_audio(p, aspec(20000, 20000, 0.1), &rep);
  // Full length at 20 kHz is 600000; the window starts at (600000 - 20000) / 2 = 290000.
  std::vector<float> ideal(20000);
  for (int k = 0; k < 20000; ++k) ideal[k] = static_cast<float>(std::sin(phase((290000.0 + k) / 20000.0)));
  ideal = normalised(ideal, 0.1);
  double worst = 0;
  for (int k = 0; k < 20000; ++k) worst = std::max(worst, std::fabs(static_cast<double>(a.data[k]) - ideal[k]));
  EXPECT_LT(worst, 2e-3);
  EXPECT_NE(rep.note.find("centre-cropped 600000 -> 20000"), std::string::npos) << rep.note;
}

// [SECTION] Formats -----------------------------------------------------------------------
struct FormatCase {
  const char* name;
  int format;
  double min_corr;
};

class AudioFormats : public ::testing::TestWithParam<FormatCase> {};

TEST_P(AudioFormats, LoadsAndNormalises) {
  const FormatCase fc = GetParam();
  TempDir t(std::string("aud-fmt-") + fc.name);
  const char* ext = (fc.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC ? "flac" : "wav";
  std::string p = t / (std::string(fc.name) + "." + ext);
  // 440 Hz + 1300 Hz mixture at 20 kHz, 0.5 s, peak under 0.9.
  std::vector<float> x = sine(440, 20000, 10000, 0.5);
  std::vector<float> y = sine(1300, 20000, 10000, 0.3, 1.0);
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  write_sound(p, fc.format, 20000, 1, x);
  Array a = load_audio(p, aspec(20000, 10000, 0.1));
  EXPECT_NEAR(rms(a.data), 0.1, 1e-6);
  EXPECT_NEAR(mean(a.data), 0.0, 1e-7);
  EXPECT_GT(correlation(a.data, x), fc.min_corr);
  std::vector<float> e = normalised(x, 0.1);
  double worst = 0;
  for (size_t i = 0; i < e.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a.data[i]) - e[i]));
  EXPECT_LT(worst, fc.min_corr > 0.99999 ? 1e-3 : 2e-2) << fc.name;
}

INSTANTIATE_TEST_SUITE_P(
    Encodings, AudioFormats,
    ::testing::Values(FormatCase{"u8", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 0.999},
                      FormatCase{"pcm16", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 0.999999},
                      FormatCase{"pcm24", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 0.999999},
                      FormatCase{"pcm32", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 0.999999},
                      FormatCase{"float", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.999999},
                      FormatCase{"double", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 0.999999},
                      FormatCase{"flac16", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 0.999999}),
    [](const ::testing::TestParamInfo<FormatCase>& i) { return std::string(i.param.name); });

TEST(AudioChannels, StereoIsTheMeanOfChannels) {
  TempDir t("aud-stereo");
  std::vector<float> l = sine(500, 20000, 8000, 0.6), r = sine(1700, 20000, 8000, 0.2, 0.3);
  std::vector<float> inter, m(8000);
  for (int i = 0; i < 8000; ++i) {
    inter.push_back(l[i]);
    inter.push_back(r[i]);
    m[i] = 0.5f * (l[i] + r[i]);
  }
  std::string p = t / "st.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_24, 20000, 2, inter);
  AudioLoadReport rep;
  Array a = load_audio(p, aspec(20000, 8000, 0.1), &rep);
  std::vector<float> e = normalised(m, 0.1);
  for (int i = 0; i < 8000; ++i) ASSERT_NEAR(a.data[i], e[i], 1e-4) << i;
  EXPECT_EQ(rep.channels, 2);
  EXPECT_FALSE(rep.resampled);
  EXPECT_NE(rep.note.find("mixed 2 channels to mono"), std::string::npos) << rep.note;
}

TEST(AudioChannels, OppositeChannelsCancelToSilence) {
  TempDir t("aud-cancel");
  std::vector<float> s = sine(500, 20000, 4000, 0.5), inter;
  for (float v : s) {
    inter.push_back(v);
    inter.push_back(-v);
  }
  std::string p = t / "cancel.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 20000, 2, inter);
  std::string msg = error_of([&] { load_audio(p, aspec(20000, 4000)); });
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("silent"), std::string::npos) << msg;
}

TEST(AudioChannels, ManyChannelsAtAnOddRate) {
  TempDir t("aud-many");
  const int ch = 8, rate = 22050, n = 22050;
  std::vector<float> inter(static_cast<size_t>(n) * ch, 0.0f);
  // Only channel 5 carries a 600 Hz tone; the others are silent.
  std::vector<float> s = sine(600, rate, n, 0.8);
  for (int i = 0; i < n; ++i) inter[static_cast<size_t>(i) * ch + 5] = s[i];
  std::string p = t / "many.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, rate, ch, inter);
  AudioLoadReport rep;
  Array a = load_audio(p, aspec(20000, 20000), &rep);
  EXPECT_NEAR(rms(a.data), 0.1, 1e-6);
  EXPECT_GT(power_fraction_at(a.data, 600.0, 20000), 0.98);
  EXPECT_EQ(rep.channels, ch);
  EXPECT_EQ(rep.original_rate, rate);
  EXPECT_NE(rep.note.find("mixed 8 channels"), std::string::npos) << rep.note;
}

// [SECTION] Length ------------------------------------------------------------------------
TEST(AudioLength, LongClipIsCentreCropped) {
  TempDir t("aud-crop");
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> d(-0.5f, 0.5f);
  std::vector<float> x(30001);
  for (auto& v : x) v = d(rng);
  std::string p = t / "long.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 20000, 1, x);
  AudioLoadReport rep;
  Array a = load_audio(p, aspec(20000, 10000, 0.05), &rep);
  // start = (30001 - 10000) / 2 = 10000
  std::vector<float> e = normalised(std::vector<float>(x.begin() + 10000, x.begin() + 20000), 0.05);
  for (int i = 0; i < 10000; ++i) ASSERT_NEAR(a.data[i], e[i], 1e-6) << i;
  EXPECT_NE(rep.note.find("centre-cropped 30001 -> 10000"), std::string::npos) << rep.note;
}

TEST(AudioLength, ShortClipIsZeroPaddedAtTheEndBeforeNormalising) {
  TempDir t("aud-pad");
  std::vector<float> x = sine(250, 20000, 1000, 0.5);
  for (auto& v : x) v += 0.2f;  // a DC offset that mean removal takes away
  std::string p = t / "short.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 20000, 1, x);
  AudioLoadReport rep;
  Array a = load_audio(p, aspec(20000, 3000, 0.1), &rep);
  std::vector<float> padded = x;
  padded.resize(3000, 0.0f);
  std::vector<float> e = normalised(padded, 0.1);
  ASSERT_EQ(a.data.size(), 3000u);
  for (int i = 0; i < 3000; ++i) ASSERT_NEAR(a.data[i], e[i], 1e-6) << i;
  // The padded tail is constant (the removed mean), not the signal.
  EXPECT_NEAR(a.data[1500], a.data[2999], 1e-7);
  EXPECT_NEAR(mean(a.data), 0.0, 1e-7);
  EXPECT_NE(rep.note.find("zero-padded 1000 -> 3000"), std::string::npos) << rep.note;
}

// [SECTION] Errors ------------------------------------------------------------------------
TEST(AudioErrors, SilentAndConstantClipsAreErrors) {
  TempDir t("aud-silent");
  std::string zero = t / "zero.wav", dc = t / "dc.wav";
  write_sound(zero, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 20000, 1, std::vector<float>(5000, 0.0f));
  write_sound(dc, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 1, std::vector<float>(5000, 0.3f));
  std::string msg = error_of([&] { load_audio(zero, aspec(20000, 5000)); });
  EXPECT_NE(msg.find(zero), std::string::npos) << msg;
  EXPECT_NE(msg.find("silent"), std::string::npos) << msg;
  // A constant (pure DC) clip is silent once its mean is removed.
  msg = error_of([&] { load_audio(dc, aspec(44100, 5000)); });
  EXPECT_NE(msg.find(dc), std::string::npos) << msg;
  EXPECT_NE(msg.find("silent"), std::string::npos) << msg;
}

TEST(AudioErrors, BadFilesThrowNamingThePath) {
  TempDir t("aud-bad");
  std::string missing = t / "missing.wav", empty = t / "empty.wav", text = t / "notes.wav";
  std::string header_only = t / "header-only.wav", png = t / "image.wav";
  mm::test::write_bytes(empty, "");
  mm::test::write_bytes(text, "RIFF? no, just some text that is not a sound\n");
  mm::test::write_test_png(png, 8, 8, 3, 1);
  std::string good_path = t / "good.wav";
  write_sound(good_path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 20000, 1, sine(300, 20000, 4000, 0.5));
  std::string good = mm::test::read_bytes(good_path);
  mm::test::write_bytes(header_only, good.substr(0, 44));
  for (const std::string& p : {missing, empty, text, header_only, png, t.path}) {
    std::string msg = error_of([&] { load_audio(p, aspec(20000, 4000)); });
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

TEST(AudioErrors, TruncatedDataLoadsWhatIsThere) {
  // A WAV cut mid-data (an interrupted copy): libsndfile reads the frames present; the
  // clip is padded to the spec and the report says so.
  TempDir t("aud-trunc");
  std::string good_path = t / "good.wav", cut = t / "cut.wav";
  write_sound(good_path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 20000, 1, sine(300, 20000, 4000, 0.5));
  std::string good = mm::test::read_bytes(good_path);
  mm::test::write_bytes(cut, good.substr(0, good.size() / 2 + 1));  // odd cut: half a sample
  AudioLoadReport rep;
  Array a = load_audio(cut, aspec(20000, 4000), &rep);
  ASSERT_EQ(a.data.size(), 4000u);
  EXPECT_NEAR(rms(a.data), 0.1, 1e-6);
  for (float v : a.data) ASSERT_TRUE(std::isfinite(v));
  EXPECT_NE(rep.note.find("zero-padded"), std::string::npos) << rep.note;
}

TEST(AudioErrors, DecompressionBombIsRefused) {
  // A FLAC of a constant signal compresses about 2500:1: ~200 kB holding 2^26 + 2^16
  // frames, past the 2^26 the loader decodes. Refused with the file named, its memory
  // bounded (before: the whole length was decoded, 24 times more at 192 kHz).
  TempDir t("aud-bomb");
  const std::string p = t / "bomb.flac";
  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  info.samplerate = 8000;
  info.channels = 1;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  std::vector<short> block(65536, 1000);
  for (int i = 0; i < 1025; ++i) sf_writef_short(f, block.data(), 65536);
  sf_close(f);
  const std::string msg = error_of([&] { load_audio(p, aspec(8000, 4000)); });
  EXPECT_NE(msg.find(p + ": sound is longer than 67108864 frames (139 minutes at 8000 Hz)"), std::string::npos) << msg;
}

TEST(AudioErrors, BadSpecThrows) {
  TempDir t("aud-spec");
  std::string p = t / "s.wav";
  write_sound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 20000, 1, sine(300, 20000, 400, 0.5));
  for (AudioSpec s : {aspec(0, 100), aspec(20000, 0), aspec(20000, 100, 0.0), aspec(20000, 100, -1.0),
                      aspec(20000, 100, std::nan(""))}) {
    std::string msg = error_of([&] { load_audio(p, s); });
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
  }
  // A ratio libsamplerate cannot do in one step is an error, not a crash.
  std::string msg = error_of([&] { load_audio(p, aspec(20000 * 300, 100)); });
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
}

}  // namespace
