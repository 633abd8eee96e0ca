// Tests of the audio output through OpenAL Soft's wave-file backend: a tone scheduled on
// the presentation clock is found in the written file at the logged onset (cross-
// correlation, within one mixer update), 16-bit and resampled sounds included; the
// run-time extension report; and the clear refusal without a device. Each case runs in a
// forked child because OpenAL Soft reads its configuration once per process.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "app/audio.h"
#include "app/timing.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

using namespace mm::app;
using nlohmann::json;

namespace {

// A tone with 5 ms raised-cosine ramps.
std::vector<float> tone(double hz, double seconds, int rate, float amp = 0.5f) {
  size_t n = static_cast<size_t>(std::lround(seconds * rate));
  size_t ramp = static_cast<size_t>(0.005 * rate);
  std::vector<float> s(n);
  for (size_t i = 0; i < n; ++i) {
    double env = 1;
    if (i < ramp) env = 0.5 - 0.5 * std::cos(M_PI * i / ramp);
    if (n - 1 - i < ramp) env = 0.5 - 0.5 * std::cos(M_PI * (n - 1 - i) / ramp);
    s[i] = static_cast<float>(amp * env * std::sin(2 * M_PI * hz * i / rate));
  }
  return s;
}

std::string wave_conf(const mm::test::TempDir& tmp) {
  std::string conf = tmp / "alsoft.conf";
  mm::test::write_bytes(conf, "[general]\ndrivers = wave\n[wave]\nfile = " + (tmp / "out.wav") + "\n");
  return conf;
}

struct Wav {
  int rate = 0, channels = 0;
  std::vector<float> mono;  // channels summed
};

Wav read_wav(const std::string& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) throw std::runtime_error(path + ": " + sf_strerror(nullptr));
  std::vector<float> inter(static_cast<size_t>(info.frames) * info.channels);
  sf_readf_float(f, inter.data(), info.frames);
  sf_close(f);
  Wav w;
  w.rate = info.samplerate;
  w.channels = info.channels;
  w.mono.resize(static_cast<size_t>(info.frames));
  for (sf_count_t i = 0; i < info.frames; ++i)
    for (int c = 0; c < info.channels; ++c) w.mono[i] += inter[i * info.channels + c];
  return w;
}

// Lag of the best match of `ref` in `x` (normalized cross-correlation) and its score.
std::pair<long, double> best_lag(const std::vector<float>& x, const std::vector<float>& ref) {
  long best = -1;
  double best_score = -1, eref = 0;
  for (float v : ref) eref += static_cast<double>(v) * v;
  for (long lag = 0; lag + static_cast<long>(ref.size()) <= static_cast<long>(x.size()); ++lag) {
    double dot = 0, ex = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      double v = x[lag + i];
      dot += v * ref[i];
      ex += v * v;
    }
    double score = ex > 0 ? dot / std::sqrt(ex * eref) : 0;
    if (score > best_score) {
      best_score = score;
      best = lag;
    }
  }
  return {best, best_score};
}

// In a child: opens the wave device, plays a 440 Hz tone (given rate, float or 16-bit)
// 300 ms from now, waits for it to finish and closes the device (the file is complete).
json play_tone_child(const std::string& conf, int tone_rate, bool int16) {
  mm::test::ChildResult r = mm::test::run_in_child(
      [&] {
        AudioOptions o;
        o.force_int16 = int16;
        json j;
        {
          AudioOutput out(o);
          const AudioInfo& i = out.info();
          Sound s = out.load(tone(440, 0.25, tone_rate), 1, tone_rate);
          double req = now_s() + 0.3;
          PlayReport p = out.play_at(s, req);
          bool done = out.wait_done(s, 3.0);
          wait_until(now_s() + 0.15);  // let the mixer write the tail
          j = {{"device", i.device},       {"rate", i.sample_rate},        {"update", i.update_samples},
               {"clock", i.device_clock},  {"latency_ext", i.source_latency}, {"float32", i.float32},
               {"latency_ms", i.latency_ms}, {"summary", i.summary()},     {"requested", p.requested_s},
               {"called", p.called_s},     {"onset", p.onset_s},           {"onset_mix_ns", p.onset_mix_ns},
               {"latency_ns", p.latency_ns}, {"method", p.method},         {"uncertainty_ms", p.uncertainty_ms},
               {"done", done},             {"sound_float32", s.float32},   {"frames", s.frames}};
          out.unload(s);
        }
        return j.dump();
      },
      {{"ALSOFT_CONF", conf}, {"ALSOFT_DRIVERS", "", true}});
  if (r.exit_code != 0) throw std::runtime_error("child failed (" + std::to_string(r.exit_code) + "): " + r.out);
  return json::parse(r.out);
}

// Returns the file position minus the logged position, in samples.
double check_tone_in_file(const json& j, const std::string& wav_path) {
  SCOPED_TRACE(j.dump());
  EXPECT_EQ(j["device"], "Wave File Writer");
  EXPECT_TRUE(j["done"].get<bool>());
  EXPECT_EQ(j["method"], "device-clock");
  Wav w = read_wav(wav_path);
  EXPECT_EQ(w.rate, j["rate"].get<int>());
  EXPECT_EQ(w.channels, 2);
  // the reference is the tone as the device plays it: at the device rate
  std::vector<float> ref = tone(440, 0.25, w.rate);
  auto [lag, score] = best_lag(w.mono, ref);
  EXPECT_GT(score, 0.95);
  double expected = j["onset_mix_ns"].get<double>() * w.rate / 1e9;
  int update = j["update"].get<int>();
  EXPECT_LE(std::abs(lag - expected), update) << "found at " << lag << ", logged " << expected;
  // The audible onset lands within a few updates of the requested time.
  double err_ms = (j["onset"].get<double>() - j["requested"].get<double>()) * 1000;
  EXPECT_LT(std::abs(err_ms), 3 * 1000.0 * update / w.rate + 10) << err_ms;
  ::testing::Test::RecordProperty("onset_error_ms", std::to_string(err_ms));
  ::testing::Test::RecordProperty("file_vs_log_samples", std::to_string(lag - expected));
  return lag - expected;
}

}  // namespace

TEST(Audio, ScheduledToneIsInTheWaveFileAtTheLoggedOnset) {
  mm::test::TempDir tmp("audio-float");
  json j = play_tone_child(wave_conf(tmp), 44100, false);
  EXPECT_TRUE(j["clock"].get<bool>());        // OpenAL Soft 1.19 has both extensions
  EXPECT_TRUE(j["latency_ext"].get<bool>());
  EXPECT_TRUE(j["float32"].get<bool>());
  EXPECT_TRUE(j["sound_float32"].get<bool>());
  EXPECT_NE(j["summary"].get<std::string>().find("ALC_SOFT_device_clock yes"), std::string::npos);
  // Within one update is the contract; at the device's own rate it is sample-exact (the
  // output limiter, whose look-ahead would add 1 ms, is off).
  EXPECT_LE(std::abs(check_tone_in_file(j, tmp / "out.wav")), 2.0);
}

TEST(Audio, SixteenBitAndResampledSoundsToo) {
  mm::test::TempDir tmp("audio-int16");
  json j = play_tone_child(wave_conf(tmp), 20000, true);
  EXPECT_FALSE(j["sound_float32"].get<bool>());
  EXPECT_EQ(j["frames"].get<int>(), 5000);
  check_tone_in_file(j, tmp / "out.wav");
}

TEST(Audio, NoDeviceIsRefusedWithAClearMessage) {
  auto r = mm::test::run_in_child([] { AudioOutput out; return std::string("opened ") + out.info().device; },
                                  {{"ALSOFT_DRIVERS", "nonexistent"}, {"ALSOFT_CONF", "", true}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("no audio device: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("ALSOFT_DRIVERS=nonexistent"), std::string::npos) << r.out;
}

TEST(Audio, TheSilentNullOutputIsNotADevice) {
  auto r = mm::test::run_in_child([] { AudioOutput out; return out.info().device; },
                                  {{"ALSOFT_DRIVERS", "null"}, {"ALSOFT_CONF", "", true}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("no audio device: ", 0), 0u) << r.out;
  auto ok = mm::test::run_in_child(
      [] {
        AudioOptions o;
        o.allow_silent = true;
        AudioOutput out(o);
        out.set_volume(0.5f);
        return out.info().device + " " + std::to_string(out.volume());
      },
      {{"ALSOFT_DRIVERS", "null"}, {"ALSOFT_CONF", "", true}});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_EQ(ok.out, "No Output 0.500000");
}

TEST(Audio, BadSoundsAreRefused) {
  mm::test::TempDir tmp("audio-bad");
  auto r = mm::test::run_in_child(
      [] {
        AudioOutput out;
        std::string errs;
        auto expect_throw = [&](auto f) {
          try {
            f();
            errs += "no-throw;";
          } catch (const std::invalid_argument&) {
            errs += "ok;";
          }
        };
        expect_throw([&] { out.load(std::vector<float>{}, 1, 44100); });
        expect_throw([&] { out.load(std::vector<float>{0.f, 0.f, 0.f}, 2, 44100); });
        expect_throw([&] { out.load(std::vector<float>{0.f}, 3, 44100); });
        expect_throw([&] { out.play_at(Sound{}, 0); });
        mm::stimuli::Array stereo{{2, 2}, {0, 0, 0, 0}};
        expect_throw([&] { out.load(stereo, 44100); });
        return errs;
      },
      {{"ALSOFT_CONF", wave_conf(tmp)}, {"ALSOFT_DRIVERS", "", true}});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "ok;ok;ok;ok;ok;");
}
