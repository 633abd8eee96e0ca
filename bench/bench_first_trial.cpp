// bench/bench_first_trial.cpp: time from session start to the first trial, for the bundled
// experiments experiments/demo-images.toml and experiments/demo-words.toml.
//
//   bench_first_trial [--repeats N]
//
// Runs each experiment's session in this process with the runner (`metamerlab run`'s code:
// run_session, windowed, scripted participant, --max-trials 1) on a private Xvfb (unless
// DISPLAY is set) and OpenAL Soft's wave-file backend, and prints the runner's own figure:
// the time from run_session's start (before the experiment file is read) to the first
// trial's fixation onset. That includes loading and hashing every stimulus, validation
// (decoding every file), planning, opening the display and measuring its refresh (30
// frames), creating the session, uploading icons and masks, and the text screens before the
// first trial block (the scripted participant presses Space 50 ms after each appears).
// The load + validate and planning parts are also timed alone.
//
// When an experiment's stimuli are missing, it says which command builds them and measures
// a small generated stand-in with the same blocks instead (saying so).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "app/display.h"
#include "app/program/cli.h"
#include "app/program/process.h"
#include "app/runner.h"
#include "app/timing.h"
#include "bench/bench_util.h"
#include "experiments/experiment.h"
#include "experiments/plan.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace {

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

void noise_png(const std::string& path, int size, unsigned seed) {
  std::mt19937 rng(seed);
  mm::app::Image img;
  img.width = img.height = size;
  img.rgb.resize(static_cast<size_t>(size) * size * 3);
  for (auto& v : img.rgb) v = static_cast<uint8_t>(rng() & 255);
  fs::create_directories(fs::path(path).parent_path());
  mm::app::save_png(path, img);
}

// demo-images' blocks on 4 categories x 4 generated 64 px images (natural condition only).
std::string image_standin(const std::string& dir) {
  const std::vector<std::string> cats = {"checker", "disc", "ring", "stripes"};
  for (size_t c = 0; c < cats.size(); ++c) {
    for (int k = 0; k < 4; ++k)
      noise_png(dir + "/inputs/" + cats[c] + "/" + cats[c] + "_" + std::to_string(k) + ".png", 64, 10 * c + k);
    noise_png(dir + "/icons/" + cats[c] + ".png", 64, 100 + c);
  }
  write(dir + "/demo-images-standin.toml", R"([experiment]
name = "demo-images-standin"
modality = "image"
seed = 2023
[responses]
alternatives = ["checker", "disc", "ring", "stripes"]
icons = "icons"
[images]
size = 256
[timing]
fixation = 300
stimulus = 300
mask = 300
response = 0
iti = 500
[sets.references]
folders = ["inputs"]
include = ["*_0.png"]
[sets.practice]
folders = ["inputs"]
exclude = ["*_0.png"]
[[blocks]]
kind = "instructions"
text = "Instructions"
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
set = "references"
catch = 4
[[blocks]]
kind = "debrief"
)");
  return dir + "/demo-images-standin.toml";
}

// demo-words' blocks on 16 words x 3 generated 1 s tone clips at 16 kHz.
std::string words_standin(const std::string& dir) {
  const std::vector<std::string> words = {"airplane", "bear",     "bicycle", "bird",  "boat",  "bottle",
                                          "car",      "cat",      "chair",   "clock", "dog",   "elephant",
                                          "fish",     "keyboard", "knife",   "truck"};
  std::string alts;
  for (size_t w = 0; w < words.size(); ++w) {
    alts += (w ? ", \"" : "\"") + words[w] + "\"";
    for (int k = 0; k < 3; ++k) {
      mm::stimuli::Array a;
      a.shape = {16000};
      a.data.resize(16000);
      for (int i = 0; i < 16000; ++i)
        a.data[static_cast<size_t>(i)] = 0.1f * static_cast<float>(std::sin(2 * M_PI * (200 + 40 * w + 13 * k) * i / 16000.0));
      const std::string split = k == 0 ? "reference" : "test";
      fs::create_directories(dir + "/" + split + "/" + words[w]);
      mm::stimuli::save_wav_float(dir + "/" + split + "/" + words[w] + "/" + words[w] + std::to_string(k) + ".wav", a,
                                  16000);
    }
  }
  write(dir + "/demo-words-standin.toml", R"([experiment]
name = "demo-words-standin"
modality = "audio"
seed = 2023
[responses]
alternatives = [)" + alts + R"(]
[audio]
sample_rate = 16000
clip_ms = 1000
[timing]
fixation = 500
response = 0
iti = 500
[sets.references]
folders = ["reference"]
[sets.practice]
folders = ["test"]
[[blocks]]
kind = "instructions"
text = "Instructions"
[[blocks]]
kind = "practice"
set = "practice"
trials = 10
[[blocks]]
kind = "demo"
set = "practice"
trials = 12
pass_min_correct = 5
[[blocks]]
kind = "main"
set = "references"
catch = 16
catch_set = "practice"
[[blocks]]
kind = "debrief"
)");
  return dir + "/demo-words-standin.toml";
}

struct Case {
  std::string bundled, demo_db, build_command, label;
  std::string (*standin)(const std::string&);
};

}  // namespace

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const mm::app::Command cmd{"", "time from session start to the first trial's fixation (the bundled demo experiments)", "",
                             {{"repeats", "N", "sessions per experiment (1 or more)", "3"}},
                             "", false, {}, "bench_first_trial"};
  int repeats = 0;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    repeats = static_cast<int>(a->get_int("repeats"));
    if (repeats < 1) throw mm::app::UsageError("bench_first_trial: --repeats must be 1 or more");
  } catch (const mm::app::UsageError& e) {
    std::cerr << "bench_first_trial: " << e.what() << "\n";
    return 2;
  }
  const std::string tmp = (fs::temp_directory_path() / ("bench_first_trial_" + std::to_string(::getpid()))).string();
  fs::create_directories(tmp);
  // Audio through OpenAL Soft's wave-file backend (read once, before the first device opens).
  write(tmp + "/alsoft.conf", "[general]\ndrivers = wave\n[wave]\nfile = " + tmp + "/out.wav\n");
  ::setenv("ALSOFT_CONF", (tmp + "/alsoft.conf").c_str(), 1);
  ::unsetenv("ALSOFT_DRIVERS");
  int status = 0;
  try {
    mm::bench::PrivateXvfb xvfb;
    const std::string src = METAMERLAB_SOURCE_DIR;
    const std::vector<Case> cases = {
        {src + "/experiments/demo-images.toml", src + "/out/demo/metamerlab.db",
         "metamerlab demo --out out/demo (in the source tree)", "images", image_standin},
        {src + "/experiments/demo-words.toml", src + "/out/demo-words/metamerlab.db",
         "metamerlab demo --modality audio --out out/demo-words (in the source tree)", "words", words_standin}};
    const std::string where = xvfb.started() ? ", private Xvfb " + xvfb.display() : std::string();
    std::printf("bench_first_trial: session start -> first trial's fixation onset (runner, windowed 1024x768, "
                "scripted participant)%s\n",
                where.c_str());
    for (const auto& c : cases) {
      std::string exp = c.bundled;
      std::string what = fs::path(c.bundled).filename().string();
      double load_s = 0, plan_s = 0;
      // The demo's database (its metamers) copied: the bench's sessions go into the copy.
      const std::string db = tmp + "/" + c.label + ".db";
      std::error_code cec;
      fs::copy_file(c.demo_db, db, fs::copy_options::overwrite_existing, cec);
      mm::experiments::LoadOptions lo;
      lo.default_database = db;
      try {
        if (cec) throw std::runtime_error(c.demo_db + ": " + cec.message());
        const double t0 = mm::app::now_s();
        const auto e = mm::experiments::load_experiment(exp, lo);
        const auto v = mm::experiments::validate_experiment(e);
        if (!v.ok()) throw std::runtime_error(v.errors().front());
        load_s = mm::app::now_s() - t0;
      } catch (const std::exception& ex) {
        std::printf("  %s: cannot be loaded (%s)\n    its stimuli are built by: %s\n    measuring a generated "
                    "stand-in with the same blocks instead\n",
                    what.c_str(), ex.what(), c.build_command.c_str());
        exp = c.standin(tmp + "/" + c.label);
        what = fs::path(exp).filename().string() + " (generated stand-in)";
        const double t0 = mm::app::now_s();
        const auto e = mm::experiments::load_experiment(exp);
        mm::experiments::validate_experiment(e);
        load_s = mm::app::now_s() - t0;
      }
      {
        const auto e = mm::experiments::load_experiment(exp, lo);
        const double t0 = mm::app::now_s();
        const auto p = mm::experiments::make_plan(e, 1);
        plan_s = mm::app::now_s() - t0;
      }
      std::vector<double> first;
      for (int r = 0; r < repeats; ++r) {
        mm::app::RunOptions o;
        o.experiment = exp;
        o.request.participant = r + 1;
        o.db = db;
        o.windowed = true;
        o.auto_policy = "correct";
        o.auto_min_ms = o.auto_max_ms = 50;
        o.request.max_trials = 1;
        std::ostringstream log;
        const mm::app::RunResult res = mm::app::run_session(o, log);
        if (!res.finished())
          throw std::runtime_error(what + ": session ended " +
                                   (res.refused ? std::string("refused") : mm::data::session_status_name(res.status)) +
                                   ": " + log.str());
        first.push_back(res.first_trial_s * 1000.0);
      }
      std::string all;
      for (double f : first) all += (all.empty() ? "" : ", ") + std::to_string(static_cast<int>(std::lround(f)));
      std::printf("  %-44s first trial after median %.0f ms (runs: %s ms); of which load + validate %.0f ms, "
                  "plan %.1f ms\n",
                  what.c_str(), mm::app::median(first), all.c_str(), load_s * 1000.0, plan_s * 1000.0);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_first_trial: " << e.what() << "\n";
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return status;
}
