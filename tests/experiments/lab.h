// Shared fixtures for the experiments tests: a small "lab" on disk (reference and practice
// images in ImageFolder layout, icons, and a database recording metamers of a toy model
// with some failed and some missing), a WAV set for audio experiments, the standard
// experiment text, a scratch tree holding a bundled experiment file with the bundled sample
// and a fake demo database, and checks on located error messages.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "data/sha256.h"
#include "data/store.h"
#include "experiments/experiment.h"
#include "stimuli/stimuli.h"
#include "tests/testutil.h"

namespace mm::experiments::testing {

namespace fs = std::filesystem;

// 1-based line of the first line of `text` containing `needle` (0 if none).
inline int line_with(const std::string& text, const std::string& needle) {
  int line = 1;
  size_t pos = 0;
  const size_t hit = text.find(needle);
  if (hit == std::string::npos) return 0;
  while ((pos = text.find('\n', pos)) != std::string::npos && pos < hit) ++line, ++pos;
  return line;
}

inline void replace(std::string& s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  ASSERT_NE(p, std::string::npos) << "fixture text lacks: " << from;
  s.replace(p, from.size(), to);
}

// The standard experiment over a Lab; MAIN_EXTRA is replaced by extra main-block keys.
inline std::string standard_toml() {
  return R"([experiment]
name = "toy"
description = "a toy experiment"
modality = "image"
seed = 11

[responses]
alternatives = ["boat", "car", "cat", "dog"]
icons = "icons"

[timing]
fixation = 300
stimulus = 300
mask = 300
response = 0
iti = 500

[sets.refs]
folders = ["refs"]

[sets.practice]
folders = ["practice"]

[[metamers]]
model = "zoo:toy"
layers = [
  "l1",
  "l2",
  "l3",
]
database = "lab.db"

[[blocks]]
kind = "instructions"
text = "hello"

[[blocks]]
kind = "practice"
set = "practice"
trials = 4

[[blocks]]
kind = "demo"
set = "practice"
trials = 8
pass_min_correct = 5

[[blocks]]
kind = "main"
set = "refs"
MAIN_EXTRA

[[blocks]]
kind = "catch"

[[blocks]]
kind = "debrief"
)";
}

// Reference k of category c (k from 0), as the lab writes it.
struct Lab {
  mm::test::TempDir tmp;
  std::string root;
  std::vector<std::string> cats = {"boat", "car", "cat", "dog"};
  int per_cat;
  int size;

  explicit Lab(const std::string& tag, int per_cat_ = 10, int size_ = 32)
      : tmp(tag), root(fs::absolute(tmp.path).lexically_normal().string()), per_cat(per_cat_), size(size_) {
    mm::test::write_image_set(root + "/refs", cats, per_cat, size);  // ref(cat, k)
    mm::test::write_image_set(root + "/practice", cats, 3, size, "{cat}/{cat}_p{k}.png", 5000, 100);
    mm::test::write_image_set(root + "/icons", cats, 1, 16, "{cat}.png", 9000, 1, 1);
    write_db();
  }

  std::string ref(const std::string& cat, int k) const {
    return root + "/refs/" + cat + "/" + cat + "_" + std::to_string(k) + ".png";
  }
  std::string metamer(const std::string& layer, const std::string& cat, int k) const {
    return root + "/syn/" + layer + "/" + cat + "/" + cat + "_" + std::to_string(k) + ".png";
  }
  // Metamer availability: l1 all pass; l2 has no row for k == 1; l3 fails when k % 3 == 0.
  static bool l3_fails(int k) { return k % 3 == 0; }
  static bool l2_missing(int k) { return k == 1; }

  void write_db() {
    mm::data::Store s(root + "/lab.db");
    mm::data::ModelRecord m;
    m.spec = "zoo:toy";
    m.sha256 = std::string(64, 'a');
    m.modality = "image";
    m.info_json = R"({"layers":["l1","l2","l3","l4"],"modality":"image"})";
    const int64_t model = s.upsert_model(m);
    mm::data::SynthRunRecord r;
    r.model_id = model;
    r.command = "metamerlab synth --model zoo:toy";
    r.options_json = "{}";
    r.out_dir = root + "/syn";
    r.program_version = "test";
    const int64_t run = s.begin_synth_run(r);
    for (const std::string layer : {"l1", "l2", "l3"})
      for (size_t c = 0; c < cats.size(); ++c)
        for (int k = 0; k < per_cat; ++k) {
          if (layer == "l2" && l2_missing(k)) continue;
          const std::string file = metamer(layer, cats[c], k);
          mm::test::write_test_png(file, size, size, 3, 20000 + 1000 * layer[1] + 100 * c + k);
          mm::data::MetamerRecord x;
          x.run_id = run;
          x.reference_path = ref(cats[c], k);
          x.reference_sha256 = mm::data::sha256_file(x.reference_path);
          x.category = cats[c];
          x.layer = layer;
          x.passed = !(layer == "l3" && l3_fails(k));
          x.status = x.passed ? "ok" : "failed";
          x.png_path = file;
          x.png_sha256 = mm::data::sha256_file(file);
          s.add_metamer(x);
        }
  }

  // Writes the experiment file (default name exp.toml) and returns its path.
  std::string write(const std::string& text, const std::string& name = "exp.toml") const {
    const std::string p = root + "/" + name;
    mm::test::write_bytes(p, text);
    return p;
  }
  std::string standard(const std::string& main_extra = "") const {
    std::string t = standard_toml();
    replace(t, "MAIN_EXTRA", main_extra);
    return t;
  }
};

// A mono tone as a WAV file.
inline void write_tone(const std::string& path, int rate, double seconds, double hz) {
  mm::stimuli::Array a;
  const int64_t n = static_cast<int64_t>(rate * seconds);
  a.shape = {n};
  a.data.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) a.data[static_cast<size_t>(i)] = 0.2f * static_cast<float>(std::sin(2 * M_PI * hz * i / rate));
  fs::create_directories(fs::path(path).parent_path());
  mm::stimuli::save_wav_float(path, a, rate);
}

// [The bundled experiments' scratch trees, shared by bundled_test.cpp and writer_test.cpp]
inline std::string source(const std::string& rel) { return mm::test::source_dir() + "/" + rel; }

// The demo's output under ROOT/OUT, as `metamerlab demo --out OUT` run in ROOT leaves it:
// metamers of each reference in SET_DIR at four layers of the two models of the modality,
// the standard model's logits metamers failing their test. Files are written here
// (test images or tones; no torch), paths recorded relative to ROOT as the demo does.
inline void write_fake_demo(const std::string& root, const std::string& out, const std::string& set_dir, bool audio) {
  const std::string prefix = audio ? "words16" : "emoji16";
  fs::create_directories(root + "/" + out);
  mm::data::Store s(root + "/" + out + "/metamerlab.db");
  auto refs = mm::stimuli::list_stimuli({root + "/" + set_dir},
                                        audio ? mm::stimuli::Modality::audio : mm::stimuli::Modality::image);
  unsigned seed = 1;
  for (const std::string kind : {"standard", "robust"}) {
    mm::data::ModelRecord m;
    m.spec = "zoo:" + prefix + "-" + kind;
    m.sha256 = std::string(64, kind == "standard" ? 'b' : 'c');
    m.modality = audio ? "audio" : "image";
    m.info_json = R"({"layers":["conv1","stage1","stage2","stage3","avgpool","logits"]})";
    mm::data::SynthRunRecord r;
    r.model_id = s.upsert_model(m);
    r.command = "metamerlab demo --out " + out;
    r.options_json = "{}";
    r.out_dir = out + "/" + prefix + "-" + kind;
    const int64_t run = s.begin_synth_run(r);
    for (const std::string layer : {"conv1", "stage2", "stage3", "logits"})
      for (const auto& it : refs) {
        const std::string stem = fs::path(it.path).stem().string();
        const std::string rel = r.out_dir + "/" + layer + "/" + it.category + "/" + stem + (audio ? ".wav" : ".png");
        if (audio) write_tone(root + "/" + rel, 16000, 1.0, 200 + 10 * seed++);
        else mm::test::write_test_png(root + "/" + rel, 64, 64, 3, seed++);
        mm::data::MetamerRecord x;
        x.run_id = run;
        x.reference_path = fs::relative(it.path, root).string();
        x.reference_sha256 = mm::data::sha256_file(it.path);
        x.category = it.category;
        x.layer = layer;
        x.passed = !(kind == "standard" && layer == "logits");
        x.status = x.passed ? "ok" : "failed";
        (audio ? x.wav_path : x.png_path) = rel;
        (audio ? x.wav_sha256 : x.png_sha256) = mm::data::sha256_file(root + "/" + rel);
        s.add_metamer(x);
      }
  }
}

// A scratch tree with the experiment file, its icons and the bundled sample.
inline std::string scratch_tree(const std::string& root, const std::string& toml, const std::string& set) {
  fs::create_directories(root + "/experiments");
  fs::copy(source("experiments/" + toml), root + "/experiments/" + toml);
  if (set == "emoji16") fs::copy(source("experiments/icons-emoji16"), root + "/experiments/icons-emoji16");
  fs::create_directories(root + "/stimuli/samples");
  fs::copy(source("stimuli/samples/" + set), root + "/stimuli/samples/" + set, fs::copy_options::recursive);
  return root + "/experiments/" + toml;
}

// Runs f, expecting an ExperimentError at file:line whose message holds every part and
// is one line; returns the message.
template <class F>
std::string expect_located(F&& f, const std::string& file, int line, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const ExperimentError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.file, file) << msg;
    EXPECT_EQ(e.line, line) << msg;
    EXPECT_EQ(msg.rfind(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": ", 0), 0u) << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing \"" << p << "\" in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ExperimentError, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an ExperimentError at " << file << ":" << line;
  return {};
}

// The validation issue (error or note) whose message holds `part`, or nullptr.
inline const Issue* find_issue(const Validation& v, const std::string& part, bool error) {
  for (const auto& i : v.issues)
    if (i.error == error && i.text().find(part) != std::string::npos) return &i;
  return nullptr;
}

}  // namespace mm::experiments::testing
