// app/audio.cpp: OpenAL Soft output: device, sounds, scheduled start, realized onset.
//
// Sections
//   [SECTION] Device     open, extensions, info
//   [SECTION] Sounds     buffers and their sources
//   [SECTION] Playback   scheduled start and onset read-back
#include "app/audio.h"

#include <AL/al.h>
#include <AL/alc.h>
#include <AL/alext.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "app/timing.h"

namespace mm::app {

namespace {

std::string al_string(ALenum e) {
  const ALchar* s = alGetString(e);
  return s ? s : "";
}

void check_al(const std::string& what) {
  ALenum e = alGetError();
  if (e != AL_NO_ERROR) {
    const ALchar* s = alGetString(e);
    throw std::runtime_error("audio: " + what + " failed: " + (s ? s : "OpenAL error " + std::to_string(e)));
  }
}

}  // namespace

std::string audio_provenance_json(const AudioInfo& a) {
  return nlohmann::json{{"summary", a.summary()}, {"device", a.device}, {"sample_rate", a.sample_rate},
                        {"update_samples", a.update_samples}, {"latency_ms", a.latency_ms},
                        {"device_clock", a.device_clock}, {"source_latency", a.source_latency},
                        {"gain_db", a.gain_db}}
      .dump();
}

std::string AudioInfo::summary() const {
  std::ostringstream s;
  s << device << ", " << sample_rate << " Hz, update " << update_samples << " samples, latency " << latency_ms
    << " ms; ALC_SOFT_device_clock " << (device_clock ? "yes" : "no") << ", AL_SOFT_source_latency "
    << (source_latency ? "yes" : "no") << ", AL_EXT_float32 " << (float32 ? "yes" : "no") << ", limiter "
    << (limiter_off ? "off" : "default") << " (" << al_renderer
    << " " << al_version << ")";
  return s.str();
}

struct AudioOutput::Impl {
  ALCdevice* dev = nullptr;
  ALCcontext* ctx = nullptr;
  LPALCGETINTEGER64VSOFT alcGetInteger64v = nullptr;
  LPALGETSOURCEI64VSOFT alGetSourcei64v = nullptr;
  bool direct_channels = false;
  bool force_int16 = false;
  struct Slot {
    ALuint buffer = 0, source = 0;
    int rate = 0;
  };
  std::vector<Slot> slots{Slot{}};  // slot 0 is "none"

  const Slot& slot(const Sound& s) const {
    if (s.id == 0 || s.id >= slots.size() || !slots[s.id].source)
      throw std::invalid_argument("audio: the sound was not loaded (or was unloaded)");
    return slots[s.id];
  }
  void close() {
    if (ctx) {
      alcMakeContextCurrent(ctx);
      for (auto& s : slots) {
        if (s.source) alDeleteSources(1, &s.source);
        if (s.buffer) alDeleteBuffers(1, &s.buffer);
      }
      slots.assign(1, Slot{});
      alcMakeContextCurrent(nullptr);
      alcDestroyContext(ctx);
      ctx = nullptr;
    }
    if (dev) alcCloseDevice(dev);
    dev = nullptr;
  }
};

// [SECTION] Device ------------------------------------------------------------------------
AudioOutput::AudioOutput(const AudioOptions& opt) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.force_int16 = opt.force_int16;
  m.dev = alcOpenDevice(opt.device.empty() ? nullptr : opt.device.c_str());
  if (!m.dev) {
    std::string why = opt.device.empty() ? "OpenAL Soft could not open the default output"
                                         : "OpenAL Soft could not open the output \"" + opt.device + "\"";
    if (const char* d = std::getenv("ALSOFT_DRIVERS")) why += " (ALSOFT_DRIVERS=" + std::string(d) + ")";
    if (const char* c = std::getenv("ALSOFT_CONF")) why += " (ALSOFT_CONF=" + std::string(c) + ")";
    throw NoAudioDevice("no audio device: " + why +
                        "; connect headphones or speakers, or check the sound settings; audio sessions do not run "
                        "without sound");
  }
  try {
    // ALC_DEVICE_SPECIFIER of a default device is just "OpenAL Soft"; the full name says
    // which output it is ("ALSA Default", "Wave File Writer", "No Output").
    const ALCchar* spec = nullptr;
    if (alcIsExtensionPresent(m.dev, "ALC_ENUMERATE_ALL_EXT") == ALC_TRUE)
      spec = alcGetString(m.dev, ALC_ALL_DEVICES_SPECIFIER);
    if (!spec || !*spec) spec = alcGetString(m.dev, ALC_DEVICE_SPECIFIER);
    info_.device = spec ? spec : "";
    if (info_.device == "No Output" && !opt.allow_silent)
      throw NoAudioDevice(
          "no audio device: OpenAL Soft gave only its silent null output; connect headphones or speakers (or fix "
          "ALSOFT_DRIVERS); audio sessions do not run without sound");
    std::vector<ALCint> attrs;
    if (opt.sample_rate > 0) attrs.insert(attrs.end(), {ALC_FREQUENCY, opt.sample_rate});
    // The output limiter would reshape loud stimuli and delays everything by its 1 ms
    // look-ahead (unreported in the latency); stimuli go out as they are.
    if (alcIsExtensionPresent(m.dev, "ALC_SOFT_output_limiter") == ALC_TRUE) {
      attrs.insert(attrs.end(), {ALC_OUTPUT_LIMITER_SOFT, ALC_FALSE});
      info_.limiter_off = true;
    }
    attrs.push_back(0);
    m.ctx = alcCreateContext(m.dev, attrs.data());
    if (!m.ctx || !alcMakeContextCurrent(m.ctx))
      throw NoAudioDevice("no audio device: OpenAL Soft opened \"" + info_.device +
                          "\" but could not start it; check that no other program holds it exclusively");
    alGetError();
    info_.al_version = al_string(AL_VERSION);
    info_.al_renderer = al_string(AL_RENDERER);
    info_.device_clock = alcIsExtensionPresent(m.dev, "ALC_SOFT_device_clock") == ALC_TRUE;
    info_.source_latency = alIsExtensionPresent("AL_SOFT_source_latency") == AL_TRUE;
    info_.float32 = alIsExtensionPresent("AL_EXT_FLOAT32") == AL_TRUE;
    m.direct_channels = alIsExtensionPresent("AL_SOFT_direct_channels") == AL_TRUE;
    if (info_.device_clock)
      m.alcGetInteger64v = reinterpret_cast<LPALCGETINTEGER64VSOFT>(alcGetProcAddress(m.dev, "alcGetInteger64vSOFT"));
    if (info_.source_latency)
      m.alGetSourcei64v = reinterpret_cast<LPALGETSOURCEI64VSOFT>(alGetProcAddress("alGetSourcei64vSOFT"));
    info_.device_clock = info_.device_clock && m.alcGetInteger64v;
    info_.source_latency = info_.source_latency && m.alGetSourcei64v;
    ALCint freq = 0, refresh = 0;
    alcGetIntegerv(m.dev, ALC_FREQUENCY, 1, &freq);
    alcGetIntegerv(m.dev, ALC_REFRESH, 1, &refresh);
    info_.sample_rate = freq;
    info_.update_samples = refresh > 0 ? freq / refresh : 0;
    if (info_.device_clock) {
      ALCint64SOFT lat = 0;
      m.alcGetInteger64v(m.dev, ALC_DEVICE_LATENCY_SOFT, 1, &lat);
      info_.latency_ms = static_cast<double>(lat) / 1e6;
    }
    if (!std::isfinite(opt.gain_db) || opt.gain_db > 40)
      throw std::invalid_argument("audio: output gain " + std::to_string(opt.gain_db) + " dB is not plausible");
    info_.gain_db = opt.gain_db;
    alListenerf(AL_GAIN, static_cast<ALfloat>(std::pow(10.0, opt.gain_db / 20.0)));
  } catch (...) {
    m.close();
    throw;
  }
}

AudioOutput::~AudioOutput() { impl_->close(); }

int64_t AudioOutput::device_clock_ns() const {
  if (!info_.device_clock) return -1;
  ALCint64SOFT v = 0;
  impl_->alcGetInteger64v(impl_->dev, ALC_DEVICE_CLOCK_SOFT, 1, &v);
  return v;
}

void AudioOutput::set_volume(float gain) {
  if (!(gain >= 0) || !std::isfinite(gain)) throw std::invalid_argument("audio: volume must be 0 or more");
  alListenerf(AL_GAIN, gain);
}

float AudioOutput::volume() const {
  ALfloat g = 0;
  alGetListenerf(AL_GAIN, &g);
  return g;
}

// [SECTION] Sounds ------------------------------------------------------------------------
Sound AudioOutput::load(const std::vector<float>& samples, int channels, int sample_rate) {
  Impl& m = *impl_;
  if (channels != 1 && channels != 2) throw std::invalid_argument("audio: sounds must be mono or stereo");
  if (sample_rate <= 0) throw std::invalid_argument("audio: sample rate must be positive");
  if (samples.empty() || samples.size() % channels)
    throw std::invalid_argument("audio: a sound needs samples (whole frames)");
  alGetError();
  Impl::Slot s;
  s.rate = sample_rate;
  alGenBuffers(1, &s.buffer);
  check_al("creating a buffer");
  Sound out;
  out.sample_rate = sample_rate;
  out.channels = channels;
  out.frames = static_cast<int64_t>(samples.size() / channels);
  out.float32 = info_.float32 && !m.force_int16;
  if (out.float32) {
    ALenum fmt = channels == 1 ? AL_FORMAT_MONO_FLOAT32 : AL_FORMAT_STEREO_FLOAT32;
    alBufferData(s.buffer, fmt, samples.data(), static_cast<ALsizei>(samples.size() * sizeof(float)), sample_rate);
  } else {
    std::vector<int16_t> pcm(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      float v = std::isfinite(samples[i]) ? std::clamp(samples[i], -1.0f, 1.0f) : 0.0f;
      pcm[i] = static_cast<int16_t>(std::lround(v * 32767.0f));
    }
    ALenum fmt = channels == 1 ? AL_FORMAT_MONO16 : AL_FORMAT_STEREO16;
    alBufferData(s.buffer, fmt, pcm.data(), static_cast<ALsizei>(pcm.size() * sizeof(int16_t)), sample_rate);
  }
  try {
    check_al("loading a sound of " + std::to_string(out.frames) + " samples");
    alGenSources(1, &s.source);
    check_al("creating a source (too many sounds loaded at once?)");
  } catch (...) {
    alDeleteBuffers(1, &s.buffer);
    throw;
  }
  // Heard as is: no distance model, centred; stereo straight to left and right.
  alSourcei(s.source, AL_SOURCE_RELATIVE, AL_TRUE);
  alSource3f(s.source, AL_POSITION, 0, 0, 0);
  alSourcef(s.source, AL_ROLLOFF_FACTOR, 0);
  alSourcei(s.source, AL_LOOPING, AL_FALSE);
  if (m.direct_channels) alSourcei(s.source, AL_DIRECT_CHANNELS_SOFT, AL_TRUE);
  alSourcei(s.source, AL_BUFFER, static_cast<ALint>(s.buffer));
  check_al("attaching a sound to a source");
  size_t id = 1;
  while (id < m.slots.size() && m.slots[id].source) ++id;
  if (id == m.slots.size()) m.slots.push_back(s);
  else m.slots[id] = s;
  out.id = static_cast<unsigned>(id);
  return out;
}

Sound AudioOutput::load(const stimuli::Array& mono, int sample_rate) {
  if (mono.shape.size() != 1) throw std::invalid_argument("audio: a mono sound is a 1-D array of samples");
  return load(mono.data, 1, sample_rate);
}

void AudioOutput::unload(Sound& s) {
  Impl& m = *impl_;
  if (s.id == 0 || s.id >= m.slots.size()) return;
  Impl::Slot& sl = m.slots[s.id];
  if (sl.source) {
    alSourceStop(sl.source);
    alDeleteSources(1, &sl.source);
  }
  if (sl.buffer) alDeleteBuffers(1, &sl.buffer);
  sl = Impl::Slot{};
  s = Sound{};
}

// [SECTION] Playback ----------------------------------------------------------------------
void AudioOutput::stop(const Sound& s) { alSourceStop(impl_->slot(s).source); }

bool AudioOutput::playing(const Sound& s) const {
  ALint st = 0;
  alGetSourcei(impl_->slot(s).source, AL_SOURCE_STATE, &st);
  return st == AL_PLAYING;
}

bool AudioOutput::wait_done(const Sound& s, double timeout_s) {
  double end = now_s() + timeout_s;
  while (playing(s)) {
    if (now_s() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

PlayReport AudioOutput::play_at(const Sound& s, double requested_s) {
  Impl& m = *impl_;
  const Impl::Slot& sl = m.slot(s);
  alSourceStop(sl.source);
  alSourceRewind(sl.source);
  PlayReport r;
  r.requested_s = requested_s;
  wait_until(requested_s - info_.latency_ms / 1000.0);
  alSourcePlay(sl.source);
  r.called_s = now_s();
  const double update_ns = info_.sample_rate > 0 ? 1e9 * info_.update_samples / info_.sample_rate : 0;
  if (info_.device_clock && info_.source_latency) {
    // Offset and clock come together from the mixer; clock and latency likewise.
    ALint64SOFT oc[2] = {0, 0};
    m.alGetSourcei64v(sl.source, AL_SAMPLE_OFFSET_CLOCK_SOFT, oc);
    ALCint64SOFT cl[2] = {0, 0};
    m.alcGetInteger64v(m.dev, ALC_DEVICE_CLOCK_LATENCY_SOFT, 2, cl);
    double tq = now_s();
    r.offset_at_start = static_cast<double>(oc[0]) / 4294967296.0;
    r.onset_mix_ns = oc[1] - static_cast<int64_t>(std::llround(r.offset_at_start * 1e9 / sl.rate));
    r.latency_ns = cl[1];
    r.onset_s = tq + static_cast<double>(cl[1]) / 1e9 + static_cast<double>(r.onset_mix_ns - cl[0]) / 1e9;
    r.uncertainty_ms = update_ns / 1e6;
    r.method = "device-clock";
  } else if (info_.source_latency) {
    ALint64SOFT ol[2] = {0, 0};
    m.alGetSourcei64v(sl.source, AL_SAMPLE_OFFSET_LATENCY_SOFT, ol);
    double tq = now_s();
    r.offset_at_start = static_cast<double>(ol[0]) / 4294967296.0;
    r.latency_ns = ol[1];
    r.onset_s = tq + static_cast<double>(ol[1]) / 1e9 - r.offset_at_start / sl.rate;
    r.uncertainty_ms = update_ns / 1e6;
    r.method = "source-latency";
  } else {
    ALint off = 0;
    alGetSourcei(sl.source, AL_SAMPLE_OFFSET, &off);
    r.offset_at_start = off;
    r.onset_s = r.called_s - static_cast<double>(off) / sl.rate;
    r.uncertainty_ms = update_ns / 1e6 + info_.latency_ms;
    r.method = "call";
  }
  ALenum e = alGetError();
  if (e != AL_NO_ERROR) throw std::runtime_error("audio: starting a sound failed: " + al_string(e));
  return r;
}

}  // namespace mm::app
