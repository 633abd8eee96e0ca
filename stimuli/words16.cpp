// stimuli/words16.cpp: builds the words16 sound set: the 16 category names spoken by the
// offline synthesizers Debian packages (espeak-ng accents x variants with random pitch and
// rate; flite voices and festival voices with random duration stretch), then mixed into
// fixed-length clips with seeded augmentation: a time shift, a gain ramp, and background
// noise (white, pink, or babble made of other words) at several SNRs. Every clip is
// mean-subtracted and scaled to RMS 0.1 (the paper's level). Held-out voices (by voice,
// by speaker across synthesizers, and by espeak-ng variant) give the test and reference
// splits and never appear in training.
//
// Sections
//   [SECTION] Voices      the synthesizers' voices, variants and the holdout rules
//   [SECTION] Synthesis   running espeak-ng, flite and festival; trimming the silence
//   [SECTION] Mixing      noise, gain, shift, normalization
//   [SECTION] Build       build_words16
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <stdexcept>

#include "stimuli/dataset_util.h"
#include "stimuli/datasets.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::stimuli {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// [SECTION] Voices ------------------------------------------------------------------------
struct Voice {
  std::string id;       // synth:name
  std::string synth;    // espeak-ng, flite, festival
  std::string name;     // what the synthesizer calls it
  std::string speaker;  // the same recorded person across synthesizers shares this
  std::string package;  // Debian package that provides it
  bool female = false;
};

const std::vector<Voice>& all_voices() {
  static const std::vector<Voice> v = {
      {"espeak-ng:en-us", "espeak-ng", "en-us", "espeak-en-us", "espeak-ng"},
      {"espeak-ng:en-gb", "espeak-ng", "en-gb", "espeak-en-gb", "espeak-ng"},
      {"espeak-ng:en-gb-scotland", "espeak-ng", "en-gb-scotland", "espeak-en-gb-scotland", "espeak-ng"},
      {"espeak-ng:en-gb-x-gbclan", "espeak-ng", "en-gb-x-gbclan", "espeak-en-gb-x-gbclan", "espeak-ng"},
      {"espeak-ng:en-gb-x-gbcwmd", "espeak-ng", "en-gb-x-gbcwmd", "espeak-en-gb-x-gbcwmd", "espeak-ng"},
      {"espeak-ng:en-gb-x-rp", "espeak-ng", "en-gb-x-rp", "espeak-en-gb-x-rp", "espeak-ng"},
      {"espeak-ng:en-029", "espeak-ng", "en-029", "espeak-en-029", "espeak-ng"},
      {"espeak-ng:en-us-nyc", "espeak-ng", "en-us-nyc", "espeak-en-us-nyc", "espeak-ng"},
      {"flite:kal16", "flite", "kal16", "kal", "flite"},
      {"flite:awb", "flite", "awb", "awb", "flite"},
      {"flite:rms", "flite", "rms", "rms", "flite"},
      {"flite:slt", "flite", "slt", "slt", "flite", true},
      {"festival:kal_diphone", "festival", "kal_diphone", "kal", "festvox-kallpc16k"},
      {"festival:ked_diphone", "festival", "ked_diphone", "ked", "festvox-kdlpc16k"},
      {"festival:cmu_us_slt_arctic_hts", "festival", "cmu_us_slt_arctic_hts", "slt", "festvox-us-slt-hts", true},
  };
  return v;
}

// espeak-ng's voice variants (Debian 12's espeak-ng 1.51): timbre, formants and pitch range.
const std::vector<std::string>& espeak_variants() {
  static const std::vector<std::string> v = {
      "adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "antonio", "aunty", "belinda", "benjamin",
      "boris", "caleb", "croak", "david", "ed", "edward", "edward2", "f1", "f2", "f3", "f4", "f5", "fast", "Gene",
      "Gene2", "grandma", "grandpa", "gustave", "Henrique", "Hugo", "iven", "iven2", "iven3", "iven4", "Jacky", "john",
      "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "Lee", "linda", "m1", "m2", "m3", "m4",
      "m5", "m6", "m7", "m8", "marcelo", "Marco", "Mario", "max", "Michael", "michel", "miguel", "Mike", "Mr", "Nguyen",
      "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "robosoft", "robosoft2", "robosoft3", "robosoft4",
      "robosoft5", "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "steph", "steph2", "steph3", "Storm",
      "travis", "Tweaky", "victor", "whisper", "whisperf", "zac"};
  return v;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Which voices and variants train and which are held out.
struct Split {
  std::vector<int> train_voices, test_voices;  // indices into all_voices()
  std::vector<std::string> train_variants, test_variants;
  std::vector<std::string> holdout;  // resolved: voice ids and +variants
};

Split resolve_holdout(const std::vector<std::string>& tokens) {
  const auto& voices = all_voices();
  std::set<std::string> held_speakers;
  std::vector<std::string> held_variants;
  for (const auto& t : tokens) {
    if (t.empty()) continue;
    if (t[0] == '+') {
      if (!contains(espeak_variants(), t.substr(1)))
        fail("words16: unknown espeak-ng variant \"" + t + "\" in --holdout (espeak-ng --voices=variant lists them)");
      if (!contains(held_variants, t.substr(1))) held_variants.push_back(t.substr(1));
      continue;
    }
    bool found = false;
    for (const auto& v : voices)
      if (v.id == t || v.speaker == t) held_speakers.insert(v.speaker), found = true;
    if (!found) {
      std::string list;
      for (const auto& v : voices) list += (list.empty() ? "" : ",") + v.id;
      fail("words16: unknown voice \"" + t + "\" in --holdout; give voice ids (" + list +
           "), speaker names (kal, slt, awb, rms, ked) or espeak-ng variants (+f4)");
    }
  }
  Split s;
  for (size_t i = 0; i < voices.size(); ++i) {
    // A held-out voice takes its speaker with it: flite:slt and festival's slt are one person.
    if (held_speakers.count(voices[i].speaker)) {
      s.test_voices.push_back(static_cast<int>(i));
      s.holdout.push_back(voices[i].id);
    } else {
      s.train_voices.push_back(static_cast<int>(i));
    }
  }
  for (const auto& v : espeak_variants()) {
    if (contains(held_variants, v)) {
      s.test_variants.push_back(v);
      s.holdout.push_back("+" + v);
    } else {
      s.train_variants.push_back(v);
    }
  }
  if (s.test_variants.empty()) s.test_variants = espeak_variants();  // held-out accents speak with every variant
  if (s.train_voices.empty()) fail("words16: --holdout holds out every voice; leave some for training");
  if (s.test_voices.empty()) fail("words16: --holdout holds out no voice; name at least one (e.g. slt)");
  if (s.train_variants.empty()) fail("words16: --holdout holds out every espeak-ng variant; leave some for training");
  return s;
}

// [SECTION] Synthesis ---------------------------------------------------------------------
struct Utterance {
  int word = 0;    // index into dataset_categories()
  int voice = 0;   // index into all_voices()
  std::string variant;
  int pitch = 0, rate = 0, f0 = 0;
  double stretch = 1.0;
  std::string wav;             // synthesizer output
  std::vector<float> samples;  // trimmed, at the target rate
  bool cropped = false;
  std::string id() const {
    const Voice& v = all_voices()[static_cast<size_t>(voice)];
    std::string s = v.id;
    if (v.synth == "espeak-ng") s += "+" + variant + " p" + std::to_string(pitch) + " s" + std::to_string(rate);
    else s += " x" + ds::fmt(stretch, 2) + (f0 ? " f0=" + std::to_string(f0) : "");
    return s;
  }
};

void check_ok(const ds::ProcessResult& r, const std::string& what, const std::string& wav) {
  std::error_code ec;
  if (r.exit_code != 0 || !fs::exists(wav, ec) || fs::file_size(wav, ec) < 100)
    fail(what + " failed (exit " + std::to_string(r.exit_code) + (r.err.empty() ? "" : ": " + ds::first_line(r.err)) +
         "); check that it works from a shell");
}

void synth_espeak_or_flite(const Utterance& u) {
  const Voice& v = all_voices()[static_cast<size_t>(u.voice)];
  const std::string word = dataset_categories()[static_cast<size_t>(u.word)];
  if (v.synth == "espeak-ng") {
    auto r = ds::run_process({"espeak-ng", "-v", v.name + "+" + u.variant, "-p", std::to_string(u.pitch), "-s",
                              std::to_string(u.rate), "-w", u.wav, word});
    check_ok(r, "espeak-ng -v " + v.name + "+" + u.variant, u.wav);
  } else {
    auto r = ds::run_process({"flite", "-voice", v.name, "--setf", "duration_stretch=" + ds::fmt(u.stretch, 3), "--setf",
                              "int_f0_target_mean=" + std::to_string(u.f0), "-t", word, "-o", u.wav});
    check_ok(r, "flite -voice " + v.name, u.wav);
  }
}

// One festival process speaks every utterance of one voice (its start-up is ~0.5 s).
void synth_festival(const std::vector<Utterance*>& us, const std::string& script) {
  const Voice& v = all_voices()[static_cast<size_t>(us.front()->voice)];
  std::string s = "(voice_" + v.name + ")\n";
  for (const Utterance* u : us)
    s += "(Parameter.set 'Duration_Stretch " + ds::fmt(u->stretch, 3) + ")\n(utt.save.wave (utt.synth (Utterance Text \"" +
         dataset_categories()[static_cast<size_t>(u->word)] + "\")) \"" + u->wav + "\" 'riff)\n";
  write_file_atomic(script, s);
  auto r = ds::run_process({"festival", "--batch", script});
  for (const Utterance* u : us) check_ok(r, "festival voice " + v.name, u->wav);
}

// Loads at the target rate and cuts leading and trailing silence (10 ms frames more than
// 35 dB below the loudest), keeping 10 ms on each side; longer than the clip: centre crop.
void load_trimmed(Utterance& u, int rate, int64_t clip) {
  AudioSpec spec;
  spec.sample_rate = rate;
  spec.samples = 4LL * rate;
  spec.rms = 0.1;
  Array a = load_audio(u.wav, spec);
  const int64_t frame = std::max(1, rate / 100);
  const int64_t n = static_cast<int64_t>(a.data.size()), frames = n / frame;
  std::vector<double> e(static_cast<size_t>(frames));
  double peak = 0;
  for (int64_t f = 0; f < frames; ++f) {
    double s = 0;
    for (int64_t i = f * frame; i < (f + 1) * frame; ++i) s += static_cast<double>(a.data[static_cast<size_t>(i)]) * a.data[static_cast<size_t>(i)];
    e[static_cast<size_t>(f)] = std::sqrt(s / frame);
    peak = std::max(peak, e[static_cast<size_t>(f)]);
  }
  const double thr = peak * std::pow(10.0, -35.0 / 20.0);
  int64_t f0 = 0, f1 = frames - 1;
  while (f0 < frames && e[static_cast<size_t>(f0)] < thr) ++f0;
  while (f1 > f0 && e[static_cast<size_t>(f1)] < thr) --f1;
  int64_t b = std::max<int64_t>(0, (f0 - 1) * frame), end = std::min<int64_t>(n, (f1 + 2) * frame);
  if (end - b > clip) {
    const int64_t extra = end - b - clip;
    b += extra / 2;
    end = b + clip;
    u.cropped = true;
  }
  u.samples.assign(a.data.begin() + b, a.data.begin() + end);
}

// [SECTION] Mixing ------------------------------------------------------------------------
double rms_of(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return std::sqrt(s / static_cast<double>(std::max<size_t>(1, x.size())));
}

struct ClipParams {
  const Utterance* utt = nullptr;
  double gain0_db = 0, gain1_db = 0, snr_db = 0;
  int64_t shift = 0;  // samples from the centred position
  std::string noise;  // none, white, pink, babble
};

// Places an utterance at `start` (may be partly outside) into x, scaled by a gain ramp.
void place(std::vector<double>& x, const std::vector<float>& s, int64_t start, double g0_db, double g1_db, double scale) {
  const int64_t n = static_cast<int64_t>(s.size()), len = static_cast<int64_t>(x.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = start + i;
    if (j < 0 || j >= len) continue;
    const double t = n > 1 ? static_cast<double>(i) / (n - 1) : 0.0;
    const double g = std::pow(10.0, (g0_db + (g1_db - g0_db) * t) / 20.0);
    x[static_cast<size_t>(j)] += scale * g * s[static_cast<size_t>(i)];
  }
}

std::vector<float> mix_clip(ds::Rng& rng, const std::vector<const Utterance*>& pool_word,
                            const std::vector<const Utterance*>& pool_other, int rate, int64_t len, ClipParams& p) {
  p.utt = pool_word[static_cast<size_t>(rng.below(static_cast<int>(pool_word.size())))];
  p.gain0_db = rng.uniform(-6, 6);
  p.gain1_db = rng.uniform(-6, 6);
  const int64_t n = static_cast<int64_t>(p.utt->samples.size());
  const int64_t free_room = std::max<int64_t>(0, len - n);
  const double max_shift = std::min(free_room / 2.0, 0.15 * rate);
  p.shift = static_cast<int64_t>(std::llround(rng.uniform(-max_shift, max_shift)));
  std::vector<double> speech(static_cast<size_t>(len), 0.0);
  place(speech, p.utt->samples, free_room / 2 + p.shift, p.gain0_db, p.gain1_db, 1.0);

  const double pick = rng.uniform();
  static const double kSnr[] = {0, 5, 10, 20};
  std::vector<double> noise(static_cast<size_t>(len), 0.0);
  if (pick < 0.2) {
    p.noise = "none";
  } else if (pick < 0.47) {
    p.noise = "white";
    p.snr_db = kSnr[rng.below(4)];
    for (double& v : noise) v = rng.normal();
  } else if (pick < 0.73) {
    p.noise = "pink";
    p.snr_db = kSnr[rng.below(4)];
    // Paul Kellet's economy pink filter (-3 dB/octave within 1%) on white noise.
    double b0 = 0, b1 = 0, b2 = 0;
    for (double& v : noise) {
      const double w = rng.normal();
      b0 = 0.99765 * b0 + w * 0.0990460;
      b1 = 0.96300 * b1 + w * 0.2965164;
      b2 = 0.57000 * b2 + w * 1.0526913;
      v = b0 + b1 + b2 + w * 0.1848;
    }
  } else {
    p.noise = "babble";
    p.snr_db = kSnr[1 + rng.below(3)];
    const auto& src = pool_other.empty() ? pool_word : pool_other;
    const int talkers = 3 + rng.below(4);
    for (int t = 0; t < talkers; ++t) {
      const Utterance* o = src[static_cast<size_t>(rng.below(static_cast<int>(src.size())))];
      const int64_t on = static_cast<int64_t>(o->samples.size());
      double os = 0;
      for (float v : o->samples) os += static_cast<double>(v) * v;
      os = std::sqrt(os / std::max<int64_t>(1, on));
      const int64_t start = static_cast<int64_t>(std::llround(rng.uniform(-on / 2.0, len - on / 2.0)));
      place(noise, o->samples, start, 0, 0, os > 0 ? 1.0 / os : 0.0);
    }
  }
  std::vector<double> x = speech;
  if (p.noise != "none") {
    const double rs = rms_of(speech), rn = rms_of(noise);
    if (rn > 0) {
      const double k = rs / rn / std::pow(10.0, p.snr_db / 20.0);
      for (size_t i = 0; i < x.size(); ++i) x[i] += k * noise[i];
    }
  }
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (double& v : x) v -= mean;
  const double r = rms_of(x);
  if (!(r > 0)) fail("words16: a silent clip from " + p.utt->id() + "; check the synthesizer");
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<float>(x[i] * (0.1 / r));
  return out;
}

// The tool's version line: the first line that mentions a version, else the first line.
std::string tool_version(const std::vector<std::string>& argv) {
  try {
    auto r = ds::run_process(argv);
    const std::string text = r.out.empty() ? r.err : r.out;
    size_t line = 0;
    if (size_t at = text.find("version"); at != std::string::npos) {
      size_t nl = text.rfind('\n', at);
      line = nl == std::string::npos ? 0 : nl + 1;
    }
    return ds::first_line(text.substr(line));
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace

std::vector<std::string> Words16Options::default_words16_holdout() {
  return {"espeak-ng:en-gb-scotland", "espeak-ng:en-us-nyc", "kal", "+f4", "+m4", "+klatt3", "+Annie", "+Michael",
          "+steph2", "+quincy", "+travis", "+belinda", "+grandma", "+whisperf", "+iven3"};
}

std::vector<std::string> words16_voice_ids() {
  std::vector<std::string> out;
  for (const auto& v : all_voices()) out.push_back(v.id);
  for (const auto& v : espeak_variants()) out.push_back("+" + v);
  return out;
}

// [SECTION] Build -------------------------------------------------------------------------
DatasetSummary build_words16(const Words16Options& opt) {
  const double t0 = ds::now_seconds();
  if (opt.sample_rate < 4000 || opt.sample_rate > 96000)
    fail("words16: --sample-rate " + std::to_string(opt.sample_rate) + " is out of range; use 4000..96000");
  if (!(opt.seconds >= 0.5 && opt.seconds <= 10)) fail("words16: --seconds must be within 0.5..10");
  if (opt.train_per_category < 1 || opt.test_per_category < 0 || opt.reference_per_category < 0)
    fail("words16: counts per category must be positive (train) or non-negative (test, reference)");
  if (opt.utterances < 1) fail("words16: --utterances must be at least 1");
  const std::vector<std::string> cats = ds::choose_categories(opt.categories, "words16");
  const Split split = resolve_holdout(opt.holdout);
  const auto& voices = all_voices();

  // Tools and voices first, so a missing one is the first thing said.
  std::set<std::string> synths;
  for (const auto& v : voices) synths.insert(v.synth);
  for (const auto& s : synths) require_tool(s, s);
  for (const auto& v : voices) {
    if (v.synth != "festival") continue;
    bool found = false;
    std::error_code ec;
    for (const char* dir : {"/usr/share/festival/voices", "/usr/local/share/festival/voices"})
      if (fs::is_directory(dir, ec))
        for (const auto& lang : fs::directory_iterator(dir, ec))
          if (fs::is_directory(lang.path() / v.name, ec)) found = true;
    if (!found)
      fail("festival voice " + v.name + " is not installed; install the Debian package " + v.package + " (apt-get install " +
           v.package + ", or run tools/setup.sh)");
  }

  ds::prepare_output(opt.out_dir, "words16");
  const fs::path out(opt.out_dir);
  const fs::path work = out / ".work";
  const int64_t clip = static_cast<int64_t>(std::llround(opt.seconds * opt.sample_rate));
  const auto& all_cats = dataset_categories();
  std::vector<int> word_ids;
  for (const auto& c : cats) word_ids.push_back(static_cast<int>(std::find(all_cats.begin(), all_cats.end(), c) - all_cats.begin()));

  // Utterance pools: per split and word, round-robin over that split's voices. The
  // reference pool has its own seed, so the reference set does not change with --seed.
  std::map<std::string, std::vector<Utterance>> pools;  // "train" / "test" / "reference"
  auto make_pool = [&](const std::string& name, const std::vector<int>& vs, const std::vector<std::string>& variants, int count,
                       uint64_t seed) {
    fs::create_directories(work / name);
    auto& pool = pools[name];
    for (int w : word_ids)
      for (int k = 0; k < count; ++k) {
        ds::Rng rng(ds::stream_seed(seed, "words16/utterance/" + name, static_cast<uint64_t>(w), static_cast<uint64_t>(k)));
        Utterance u;
        u.word = w;
        u.voice = vs[static_cast<size_t>((k + w) % static_cast<int>(vs.size()))];
        const Voice& v = voices[static_cast<size_t>(u.voice)];
        if (v.synth == "espeak-ng") {
          u.variant = variants[static_cast<size_t>(rng.below(static_cast<int>(variants.size())))];
          u.pitch = 20 + rng.below(61);
          u.rate = 140 + rng.below(61);
        } else {
          u.stretch = rng.uniform(0.85, 1.2);
          if (v.synth == "flite") u.f0 = v.female ? 150 + rng.below(61) : 85 + rng.below(46);
        }
        u.wav = (work / name / (all_cats[static_cast<size_t>(w)] + "_" + std::to_string(k) + ".wav")).string();
        pool.push_back(std::move(u));
      }
  };
  const int held_count = std::max(4, opt.utterances / 3);
  make_pool("train", split.train_voices, split.train_variants, opt.utterances, opt.seed);
  if (opt.test_per_category > 0) make_pool("test", split.test_voices, split.test_variants, held_count, opt.seed);
  if (opt.reference_per_category > 0)
    make_pool("reference", split.test_voices, split.test_variants, held_count, opt.reference_seed);

  // Synthesis tasks: one per espeak-ng / flite utterance, one per festival voice and pool.
  std::vector<std::vector<Utterance*>> tasks;
  for (auto& [name, pool] : pools) {
    std::map<int, std::vector<Utterance*>> fest;
    for (auto& u : pool) {
      if (voices[static_cast<size_t>(u.voice)].synth == "festival") fest[u.voice].push_back(&u);
      else tasks.push_back({&u});
    }
    for (auto& [v, us] : fest) tasks.insert(tasks.begin(), us);  // long ones first
  }
  int64_t n_utts = 0;
  for (auto& [name, pool] : pools) n_utts += static_cast<int64_t>(pool.size());
  ds::Progress syn(opt.progress, "words16: synthesizing", n_utts);
  ds::parallel_for(static_cast<int64_t>(tasks.size()), ds::io_threads(opt.threads), [&](int64_t i) {
    auto& t = tasks[static_cast<size_t>(i)];
    if (voices[static_cast<size_t>(t.front()->voice)].synth == "festival") {
      synth_festival(t, t.front()->wav + ".scm");
    } else {
      synth_espeak_or_flite(*t.front());
    }
    for (Utterance* u : t) {
      load_trimmed(*u, opt.sample_rate, clip);
      syn.tick();
    }
  });
  syn.done();

  // Clips.
  struct Job {
    std::string split, pool;
    int word = 0;
    int64_t k = 0;
    uint64_t seed = 0;
  };
  std::vector<Job> jobs;
  auto plan = [&](const std::string& s, const std::string& pool, int count, uint64_t seed) {
    for (size_t c = 0; c < cats.size(); ++c) {
      fs::create_directories(out / s / cats[c]);
      for (int k = 0; k < count; ++k) jobs.push_back({s, pool, word_ids[c], k, seed});
    }
  };
  plan("train", "train", opt.train_per_category, opt.seed);
  plan("test", "test", opt.test_per_category, opt.seed);
  plan("reference", "reference", opt.reference_per_category, opt.reference_seed);
  // Each word's utterances, and every other word's (for babble), per pool; filled before
  // the workers start, which then only read (.at).
  std::map<std::string, std::map<int, std::vector<const Utterance*>>> by_word, other;
  for (auto& [name, pool] : pools) {
    for (int w : word_ids) {
      by_word[name].try_emplace(w);
      other[name].try_emplace(w);
    }
    for (const auto& u : pool) {
      by_word[name][u.word].push_back(&u);
      for (int w : word_ids)
        if (w != u.word) other[name][w].push_back(&u);
    }
  }
  std::vector<std::vector<std::string>> rows(jobs.size());
  ds::Progress prog(opt.progress, "words16: clips", static_cast<int64_t>(jobs.size()));
  ds::parallel_for(static_cast<int64_t>(jobs.size()), ds::io_threads(opt.threads), [&](int64_t i) {
    const Job& j = jobs[static_cast<size_t>(i)];
    ds::Rng rng(ds::stream_seed(j.seed, "words16/" + j.split, static_cast<uint64_t>(j.word), static_cast<uint64_t>(j.k)));
    ClipParams p;
    Array a;
    a.data = mix_clip(rng, by_word.at(j.pool).at(j.word), other.at(j.pool).at(j.word), opt.sample_rate, clip, p);
    a.shape = {clip};
    const std::string cat = all_cats[static_cast<size_t>(j.word)];
    const std::string rel = ds::item_name(j.split, cat, j.k, "wav");
    save_wav_float((out / rel).string(), a, opt.sample_rate);
    const Voice& v = voices[static_cast<size_t>(p.utt->voice)];
    rows[static_cast<size_t>(i)] = {j.split, rel, cat, v.id, v.speaker, p.utt->variant, std::to_string(p.utt->pitch),
                                    std::to_string(p.utt->rate), ds::fmt(p.utt->stretch, 3), std::to_string(p.utt->f0),
                                    p.noise, p.noise == "none" ? "" : ds::fmt(p.snr_db, 0),
                                    ds::fmt(1000.0 * p.shift / opt.sample_rate, 1), ds::fmt(p.gain0_db, 2), ds::fmt(p.gain1_db, 2)};
    prog.tick();
  });
  prog.done();
  ds::write_index((out / "index.tsv").string(),
                  {"split", "file", "word", "voice", "speaker", "variant", "pitch", "rate", "stretch", "f0", "noise", "snr_db",
                   "shift_ms", "gain0_db", "gain1_db"},
                  rows);

  DatasetSummary sum;
  sum.holdout = split.holdout;
  for (const auto& j : jobs) (j.split == "train" ? sum.train : j.split == "test" ? sum.test : sum.reference) += 1;
  auto ids = [&](const std::vector<int>& vs) {
    std::vector<std::string> o;
    for (int v : vs) o.push_back(voices[static_cast<size_t>(v)].id);
    return o;
  };
  int cropped = 0;
  json pool_json = json::object();
  for (auto& [name, pool] : pools) {
    std::map<std::string, int> per_voice;
    for (const auto& u : pool) cropped += u.cropped, per_voice[voices[static_cast<size_t>(u.voice)].id] += 1;
    pool_json[name] = {{"utterances", pool.size()}, {"per_voice", per_voice}};
  }
  json m;
  m["dataset"] = "words16";
  m["complete"] = true;
  m["format"] = 1;
  m["categories"] = cats;
  m["sample_rate"] = opt.sample_rate;
  m["seconds"] = opt.seconds;
  m["samples"] = clip;
  m["rms"] = 0.1;
  m["seed"] = opt.seed;
  m["reference_seed"] = opt.reference_seed;
  m["holdout"] = split.holdout;
  m["holdout_requested"] = opt.holdout;
  m["voices"] = {{"train", ids(split.train_voices)}, {"test", ids(split.test_voices)}, {"reference", ids(split.test_voices)}};
  m["espeak_variants"] = {{"train", split.train_variants}, {"test", split.test_variants}};
  m["utterance_pools"] = pool_json;
  m["utterances_cropped"] = cropped;
  auto counts = [&](int per, int64_t total) {
    json pc = json::object();
    for (const auto& c : cats) pc[c] = per;
    return json{{"total", total}, {"per_category", pc}};
  };
  m["counts"] = {{"train", counts(opt.train_per_category, sum.train)},
                 {"test", counts(opt.test_per_category, sum.test)},
                 {"reference", counts(opt.reference_per_category, sum.reference)}};
  m["tools"] = {{"espeak-ng", tool_version({"espeak-ng", "--version"})},
                {"flite", tool_version({"flite", "--version"})},
                {"festival", tool_version({"festival", "--version"})}};
  m["augmentation"] = {{"espeak_pitch", {20, 80}},
                       {"espeak_rate_wpm", {140, 200}},
                       {"flite_festival_duration_stretch", {0.85, 1.2}},
                       {"flite_f0_hz", {{"male", {85, 130}}, {"female", {150, 210}}}},
                       {"shift_ms", {-150, 150}},
                       {"gain_ramp_db", {-6, 6}},
                       {"noise", {{"none", 0.2}, {"white", 0.27}, {"pink", 0.26}, {"babble", 0.27}}},
                       {"snr_db", {0, 5, 10, 20}},
                       {"babble_snr_db", {5, 10, 20}},
                       {"babble_talkers", {3, 6}},
                       {"reference", "held-out voices, own utterance pool and augmentation from reference_seed"}};
  m["index"] = "index.tsv";
  fs::remove_all(work);
  sum.manifest = (out / "manifest.json").string();
  write_file_atomic(sum.manifest, m.dump(2) + "\n");
  sum.seconds = ds::now_seconds() - t0;
  return sum;
}

}  // namespace mm::stimuli
