// Black-box tests of metamerlab with an audio model (fixtures' tiny_audio.pt: 8000 samples
// at 8 kHz): WAVs at other rates, stereo, 8-bit unsigned and 24-bit are loaded (resampled,
// mixed) and synthesized to float WAV + .npy; garbage and truncated WAVs are clear errors.
#include "tests/cli/cli_util.h"

#include <sndfile.h>

#include <cmath>
#include <cstring>
#include <map>

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;

const double kPi = 3.14159265358979323846;
const std::string kFast = " --iterations 5 --rounds 1 --null-pairs 50 --threads 1 --quiet";

// A tone with a little seeded noise, `seconds` long, written with libsndfile.
void write_wav(const std::string& path, int format, int rate, int channels, double seconds, double freq) {
  fs::create_directories(fs::path(path).parent_path());
  const int64_t n = static_cast<int64_t>(seconds * rate);
  std::vector<float> frames(static_cast<size_t>(n * channels));
  uint32_t x = static_cast<uint32_t>(freq * 1000);
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c) {
      x = x * 1664525u + 1013904223u;
      double noise = (static_cast<double>(x >> 8) / (1 << 24) - 0.5) * 0.05;
      frames[i * channels + c] = static_cast<float>(0.4 * std::sin(2 * kPi * freq * (c + 1) * i / rate) + noise);
    }
  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  ASSERT_TRUE(sf_format_check(&info)) << path;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << path << ": " << sf_strerror(nullptr);
  EXPECT_EQ(sf_writef_float(f, frames.data(), n), n);
  sf_close(f);
}

struct Wav {
  SF_INFO info{};
  std::vector<float> samples;
};
Wav read_wav(const std::string& path) {
  Wav w;
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &w.info);
  if (!f) throw std::runtime_error("test: cannot read " + path);
  w.samples.resize(static_cast<size_t>(w.info.frames * w.info.channels));
  sf_readf_float(f, w.samples.data(), w.info.frames);
  sf_close(f);
  return w;
}

// yes/: 11025 Hz PCM16 and 44100 Hz float; no/: 8 kHz stereo, 8-bit unsigned, 24-bit.
void make_audio_set(const std::string& in) {
  write_wav(in + "/yes/rate11025.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 11025, 1, 1.2, 440);
  write_wav(in + "/yes/rate44100.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 1, 0.8, 300);
  write_wav(in + "/no/stereo.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 2, 1.0, 500);
  write_wav(in + "/no/unsigned8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, 1.0, 620);
  write_wav(in + "/no/pcm24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 16000, 1, 0.9, 710);
}

TEST(CliAudio, OddRatesChannelsAndDepthsSynthesize) {
  TempDir tmp("cli-audio");
  const std::string in = tmp / "in", out = tmp / "out", db = tmp / "m.db";
  make_audio_set(in);
  const std::string model = fixture("tiny_audio.pt");
  auto r = run_mm("synth --model " + q(model) + " --layers relu1 --input " + q(in) + " --out " + q(out) + " --db " +
                  q(db) + kFast);
  expect_ok(r);
  // stderr holds only notes about resampling / mixing, one per converted file.
  for (const auto& l : lines(r.err)) EXPECT_EQ(l.rfind("note: ", 0), 0u) << l;
  EXPECT_TRUE(contains(r.err, "rate11025.wav")) << r.err;
  EXPECT_TRUE(contains(r.err, "rate44100.wav")) << r.err;
  EXPECT_TRUE(contains(r.err, "stereo.wav")) << r.err;

  std::vector<std::string> names = {"no/pcm24", "no/stereo", "no/unsigned8", "yes/rate11025", "yes/rate44100"};
  std::vector<std::string> want;
  for (const auto& n : names)
    for (const char* ext : {".npy", ".wav"}) want.push_back("relu1/" + n + ext);
  EXPECT_EQ(files_under(out), want);

  for (const auto& n : names) {
    SCOPED_TRACE(n);
    auto w = read_wav(out + "/relu1/" + n + ".wav");
    EXPECT_EQ(w.info.samplerate, 8000);
    EXPECT_EQ(w.info.channels, 1);
    EXPECT_EQ(w.info.frames, 8000);
    EXPECT_EQ(w.info.format & SF_FORMAT_SUBMASK, SF_FORMAT_FLOAT) << "metamers are 32-bit float WAV";
    auto x = mm::stimuli::load_npy(out + "/relu1/" + n + ".npy");
    ASSERT_EQ(x.shape, (std::vector<int64_t>{8000}));
    ASSERT_EQ(x.data.size(), w.samples.size());
    EXPECT_TRUE(std::memcmp(x.data.data(), w.samples.data(), x.data.size() * sizeof(float)) == 0)
        << "the float WAV and the .npy differ";
    bool finite = true;
    for (float v : x.data) finite = finite && std::isfinite(v) && v >= -1.0f && v <= 1.0f;
    EXPECT_TRUE(finite);
  }

  Sql s(db);
  auto rows = s.rows("SELECT category, wav_path, wav_sha256, float_sha256, png_path FROM metamers ORDER BY id");
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& m : rows) {
    EXPECT_EQ(m[2], mm::data::sha256_file(m[1])) << m[1];
    EXPECT_EQ(m[3], mm::data::sha256_file(fs::path(m[1]).replace_extension(".npy").string())) << m[1];
    EXPECT_EQ(m[4], "");
    EXPECT_EQ(fs::path(m[1]).parent_path().filename().string(), m[0]);
  }
  EXPECT_EQ(s.text("SELECT modality FROM models"), "audio");
  EXPECT_TRUE(contains(r.out, "done: 5 metamer(s)")) << r.out;
}

TEST(CliAudio, GarbageAndTruncatedWavsAreClearErrors) {
  TempDir tmp("cli-audio-bad");
  const std::string model = fixture("tiny_audio.pt");
  write_wav(tmp / "good.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 1.0, 440);
  const std::string good = mm::test::read_bytes(tmp / "good.wav");

  std::string garbage(4000, '\0');
  uint32_t x = 99;
  for (auto& c : garbage) c = static_cast<char>((x = x * 1664525u + 1013904223u) >> 24);
  std::map<std::string, std::string> cases = {
      {"garbage.wav", garbage},
      {"header_only.wav", good.substr(0, 44)},  // says 8000 frames, has none
      {"cut_header.wav", good.substr(0, 30)},
      {"empty.wav", ""},
      {"text.wav", "RIFF? no, just text\n"},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    const std::string in = tmp / ("in-" + name);
    fs::create_directories(in + "/yes");
    fs::copy_file(tmp / "good.wav", in + "/yes/good.wav");
    fs::copy_file(tmp / "good.wav", in + "/yes/good2.wav");
    mm::test::write_bytes(in + "/yes/" + name, bytes);
    auto r = run_mm("synth --model " + q(model) + " --layers relu1 --input " + q(in) + " --out " + q(tmp / "out") +
                    " --db " + q(tmp / "m.db") + kFast);
    expect_error(r, 1, {in + "/yes/" + name});
  }
  EXPECT_FALSE(fs::exists(tmp / "out")) << "inputs are checked before anything is written";
}

}  // namespace
