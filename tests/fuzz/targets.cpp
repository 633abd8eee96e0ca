// tests/fuzz/targets.cpp: the fuzz targets (see targets.h): bytes in, the parser run the
// way the program runs it, refusals caught.
//
// Sections
//   [SECTION] Scratch      the process's folder, the experiment's small lab
//   [SECTION] Targets      one function per parser
#include "tests/fuzz/targets.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "data/sha256.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"
#include "synth/model_meta.h"

namespace mm::fuzz {
namespace fs = std::filesystem;

namespace {

// [SECTION] Scratch -----------------------------------------------------------------------
void remove_scratch() {
  std::error_code ec;
  fs::remove_all(fuzz_scratch(), ec);
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (size > 0) f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) throw std::logic_error("fuzz: cannot write the scratch file " + path);
}

// A w×w RGB test pattern in [0,1].
stimuli::Array pattern(int w, int seed) {
  stimuli::Array a;
  a.shape = {3, w, w};
  a.data.resize(static_cast<size_t>(3 * w * w));
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = static_cast<float>((i * 7 + static_cast<size_t>(seed) * 31) % 256) / 255.0f;
  return a;
}

// A short mono tone.
stimuli::Array tone(double hz) {
  stimuli::Array a;
  const int n = 4000;
  a.shape = {n};
  a.data.resize(n);
  for (int i = 0; i < n; ++i) a.data[static_cast<size_t>(i)] = 0.2f * static_cast<float>(std::sin(2 * M_PI * hz * i / 8000.0));
  return a;
}

// The lab the experiment target's files can name (targets.h), made once per process.
const std::string& lab() {
  static const std::string root = [] {
    const std::string r = fuzz_scratch() + "/lab";
    const char* cats[] = {"boat", "car"};
    int seed = 0;
    for (const char* d : {"icons", "refs/boat", "refs/car", "practice/boat", "practice/car", "sounds/boat", "sounds/car",
                          "syn/l1/boat", "syn/l1/car", "syn/l2/boat", "syn/l2/car"})
      fs::create_directories(r + "/" + d);
    data::Store db(r + "/lab.db");
    data::ModelRecord m;
    m.spec = "zoo:toy";
    m.sha256 = std::string(64, 'a');
    m.modality = "image";
    m.info_json = R"({"layers":["l1","l2","logits"],"modality":"image"})";
    const int64_t model = db.upsert_model(m);
    data::SynthRunRecord run;
    run.model_id = model;
    run.command = "metamerlab synth --model zoo:toy";
    run.options_json = "{}";
    run.out_dir = r + "/syn";
    run.program_version = "fuzz";
    const int64_t run_id = db.begin_synth_run(run);
    for (const char* c : cats) {
      const std::string cat = c;
      stimuli::save_png(r + "/icons/" + cat + ".png", pattern(8, seed++), 0, 1);
      for (int k = 0; k < 2; ++k) {
        const std::string k_s = std::to_string(k);
        const std::string ref = r + "/refs/" + cat + "/" + cat + "_" + k_s + ".png";
        stimuli::save_png(ref, pattern(16, seed++), 0, 1);
        stimuli::save_png(r + "/practice/" + cat + "/" + cat + "_p" + k_s + ".png", pattern(16, seed++), 0, 1);
        stimuli::save_wav_float(r + "/sounds/" + cat + "/" + cat + "_" + k_s + ".wav", tone(300 + 100 * seed++), 8000);
        for (const char* layer : {"l1", "l2"}) {
          const std::string file = r + "/syn/" + layer + "/" + cat + "/" + cat + "_" + k_s + ".png";
          stimuli::save_png(file, pattern(16, seed++), 0, 1);
          data::MetamerRecord x;
          x.run_id = run_id;
          x.reference_path = ref;
          x.reference_sha256 = data::sha256_file(ref);
          x.category = cat;
          x.layer = layer;
          x.passed = k == 0 || std::string(layer) == "l1";
          x.status = x.passed ? "ok" : "failed";
          x.png_path = file;
          x.png_sha256 = data::sha256_file(file);
          db.add_metamer(x);
        }
      }
    }
    return r;
  }();
  return root;
}

// Runs a parser, taking any refusal (a std::exception) as the expected outcome. With
// MM_FUZZ_VERBOSE=1 the refusal is printed (to see what a seed or crash input reaches).
template <class F>
int refusals_ok(F&& f) {
  static const bool verbose = std::getenv("MM_FUZZ_VERBOSE") != nullptr;
  try {
    f();
    if (verbose) std::fprintf(stderr, "fuzz: accepted\n");
  } catch (const std::exception& e) {
    if (verbose) std::fprintf(stderr, "fuzz: refused: %s\n", e.what());
  }
  return 0;
}

}  // namespace

const std::string& fuzz_scratch() {
  static const std::string dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::string templ = std::string(t && *t ? t : "/tmp") + "/metamerlab-fuzz-XXXXXX";
    if (!::mkdtemp(templ.data())) throw std::logic_error("fuzz: cannot make a scratch folder under " + templ);
    return templ;
  }();
  static const bool cleaned = [] { return std::atexit(remove_scratch) == 0; }();
  (void)cleaned;
  return dir;
}

// [SECTION] Targets -----------------------------------------------------------------------
int fuzz_experiment(const uint8_t* data, size_t size) {
  const std::string& root = lab();
  const char* names[] = {"exp.toml", "table.csv", "metamers.csv"};
  size_t start = 0;
  for (int part = 0; part < 3; ++part) {  // the last part keeps any further NUL bytes
    if (start > size) start = size;
    size_t end = start;
    while (end < size && (part == 2 || data[end] != 0)) ++end;
    write_file(root + "/" + names[part], data + start, end - start);
    start = end + 1;
  }
  return refusals_ok([&] {
    const experiments::Experiment e = experiments::load_experiment(root + "/exp.toml");
    experiments::ValidateOptions vo;
    vo.refresh_hz = 60;
    const experiments::Validation v = experiments::validate_experiment(e, vo);
    if (!v.ok()) return;
    const experiments::Plan p = experiments::make_plan(e, 1);
    (void)experiments::plan_to_json(p);
  });
}

int fuzz_image(const uint8_t* data, size_t size) {
  const std::string path = fuzz_scratch() + "/input.png";
  write_file(path, data, size);
  return refusals_ok([&] {
    stimuli::ImageSpec spec;
    spec.channels = 3;
    spec.height = spec.width = 32;
    (void)stimuli::load_image(path, spec);
  });
}

int fuzz_audio(const uint8_t* data, size_t size) {
  const std::string path = fuzz_scratch() + "/input.wav";
  write_file(path, data, size);
  return refusals_ok([&] {
    stimuli::AudioSpec spec;
    spec.sample_rate = 8000;
    spec.samples = 4000;
    (void)stimuli::load_audio(path, spec);
  });
}

int fuzz_npy(const uint8_t* data, size_t size) {
  const std::string path = fuzz_scratch() + "/input.npy";
  write_file(path, data, size);
  return refusals_ok([&] { (void)stimuli::load_npy(path); });
}

int fuzz_model_meta(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return refusals_ok([&] { (void)synth::parse_model_info("fuzz.pt", text); });
}

int fuzz_net_sidecar(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return refusals_ok([&] { (void)synth::parse_net_sidecar("fuzz.pt.json", text); });
}

const std::vector<NamedTarget>& fuzz_targets() {
  static const std::vector<NamedTarget> all = {
      {"experiment", fuzz_experiment}, {"image", fuzz_image},           {"audio", fuzz_audio},
      {"npy", fuzz_npy},               {"model_meta", fuzz_model_meta}, {"net_sidecar", fuzz_net_sidecar},
      {"merge", fuzz_merge},
  };
  return all;
}

}  // namespace mm::fuzz
