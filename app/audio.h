// app/audio.h: sound output for audio trials through OpenAL Soft: the device, sounds
// loaded before a trial, playback started at a scheduled moment on the presentation clock
// (now_s()), and the realized onset read back from the device and returned for the log.
//
// Onsets. OpenAL Soft mixes in updates of a fixed number of samples (info().update_samples)
// and reports, through ALC_SOFT_device_clock and AL_SOFT_source_latency when present
// (checked at run time), the device clock (ns of audio mixed since the device started),
// a source's sample offset and the output latency. A sound's first sample is mixed at
//   onset_mix_ns = clock - offset / rate
// which is also its position in the output stream (for the wave-file backend: the sample
// index in the written file is onset_mix_ns * sample_rate / 1e9), and it is heard
// latency_ns later. The host-clock estimate onset_s is good to about one update.
// Without the extensions, onset_s is the time alSourcePlay returned (method "call").
//
// No device, or only OpenAL's silent null output: the constructor throws NoAudioDevice
// ("no audio device: ..."), so an audio session never runs silently.
//
// Sections
//   [SECTION] Types    options, info, sounds, play reports
//   [SECTION] Output   the device
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "stimuli/stimuli.h"

namespace mm::app {

// [SECTION] Types -------------------------------------------------------------------------
struct NoAudioDevice : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct AudioOptions {
  std::string device;         // "" = the default output
  int sample_rate = 0;        // requested mixing rate (0: the device's default)
  bool allow_silent = false;  // accept OpenAL's null ("No Output") device
  bool force_int16 = false;   // testing: load 16-bit even when float32 is available
  double gain_db = 0;         // output gain (the station's), set as the volume at open
};

struct AudioInfo {
  std::string device;         // ALC device specifier
  std::string al_version, al_renderer;
  int sample_rate = 0;        // mixing rate
  int update_samples = 0;     // samples per mixer update (sample_rate / ALC_REFRESH)
  double latency_ms = 0;      // output latency the device reports (0 if unknown)
  bool device_clock = false;  // ALC_SOFT_device_clock
  bool source_latency = false;  // AL_SOFT_source_latency
  bool float32 = false;       // AL_EXT_float32
  bool limiter_off = false;   // ALC_SOFT_output_limiter present and the limiter turned off
  double gain_db = 0;         // the output gain set at open (AudioOptions::gain_db)
  double update_ms() const { return sample_rate > 0 ? 1000.0 * update_samples / sample_rate : 0; }
  std::string summary() const;  // one line for logs
};

// The output as recorded with a session (device, rate, latency, extensions).
std::string audio_provenance_json(const AudioInfo& a);

// A buffer on the device; owned by the AudioOutput that loaded it.
struct Sound {
  unsigned id = 0;            // index into the output's table; 0 = none
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;
  bool float32 = false;
  double duration_s() const { return sample_rate > 0 ? static_cast<double>(frames) / sample_rate : 0; }
};

struct PlayReport {
  double requested_s = 0;     // when the sound was asked to be heard (now_s() clock)
  double called_s = 0;        // when alSourcePlay returned
  double onset_s = 0;         // estimated audible onset on the now_s() clock
  int64_t onset_mix_ns = -1;  // device clock at which the first sample is mixed (-1: unknown)
  int64_t latency_ns = 0;     // output latency at start
  double offset_at_start = 0; // source offset (samples) read back right after starting
  double uncertainty_ms = 0;  // how far onset_s can be off (one update, or the latency)
  std::string method;         // "device-clock", "source-latency" or "call"
};

// [SECTION] Output ------------------------------------------------------------------------
class AudioOutput {
 public:
  explicit AudioOutput(const AudioOptions& opt = {});
  ~AudioOutput();
  AudioOutput(const AudioOutput&) = delete;
  AudioOutput& operator=(const AudioOutput&) = delete;

  const AudioInfo& info() const { return info_; }

  // Loads samples (interleaved when channels == 2) onto the device as float32 when
  // AL_EXT_float32 exists, else as 16-bit (clipped to [-1, 1]). Do this before a trial.
  Sound load(const std::vector<float>& samples, int channels, int sample_rate);
  Sound load(const stimuli::Array& mono, int sample_rate);  // shape {samples}
  void unload(Sound& s);

  // Waits until the sound, started now, would be heard at requested_s (it starts
  // info().latency_ms early), starts it and reads back its realized onset. A time in the
  // past starts at once. Stops the sound first if it is playing.
  PlayReport play_at(const Sound& s, double requested_s);
  void stop(const Sound& s);
  bool playing(const Sound& s) const;
  // Blocks until the sound has finished (or timeout_s passed); returns whether it finished.
  bool wait_done(const Sound& s, double timeout_s);
  // Master volume, linear (the listener's gain); 1 = as loaded. Opening sets it to
  // AudioOptions::gain_db. Samples above full scale after it are clipped by the device:
  // the session validation refuses clips that would (experiments/validate.cpp).
  void set_volume(float gain);
  float volume() const;
  // Device clock and latency now (ns; -1 when the extension is missing).
  int64_t device_clock_ns() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  AudioInfo info_;
};

}  // namespace mm::app
