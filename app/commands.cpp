// app/commands.cpp: the metamerlab subcommands: their option tables and handlers.
//
// Sections
//   [SECTION] Tables      every subcommand's options (parsing and --help come from here)
//   [SECTION] Handlers    synth, null, classify, info, trace, demo, dataset, timing-test, plan,
//                         run, sessions
//   [SECTION] Dispatch    run_command
#include "app/commands.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/audio.h"
#include "app/launch.h"
#include "app/plan_command.h"
#include "app/runner.h"
#include "stimuli/datasets.h"
#include "app/timing.h"
#include "app/timing_test.h"
#include "synth/engine.h"
#include "synth/jobs.h"
#include "synth/report.h"
#include "synth/train.h"

namespace mm::app {

// [SECTION] Tables ------------------------------------------------------------------------
namespace {

const Option kModel{"model", "M", "a TorchScript archive (see tools/export_model.py) or zoo:NAME", "", true};
const Option kDb{"db", "FILE", "SQLite database for provenance", "metamerlab.db"};
const Option kThreads{"threads", "N", "torch threads (0: one per core)", "0"};

std::vector<Command> base_command_table();

// The session options `run` and `launch` share (parsed by session_options below).
const std::vector<Option> kSessionOptions{
    {"windowed", "", "a window instead of fullscreen"},
    {"width", "W", "window width (with --windowed)", "1024"},
    {"height", "H", "window height (with --windowed)", "768"},
    {"auto", "correct|random|FILE", "scripted participant (CSV trial_index,response,rt_ms)", ""},
    {"auto-seed", "S", "seed of the random policy and the response delays", "1"},
    {"max-trials", "N", "pilot: keep only the first N trials of each block", ""},
    {"screenshots", "DIR", "save the first frame of each phase of the first trial", ""},
    {"station", "NAME", "this computer's label (default: host name)", ""},
    {"headphone-check", "", "audio: the antiphase headphone check first (pass 5 of 6)"},
    {"headphone-tone-ms", "MS", "testing: tone length of the headphone check", "1000"}};

std::vector<Command> command_table() {
  std::vector<Command> t = base_command_table();
  for (auto& c : t)
    if (c.name == "run" || c.name == "launch") c.options.insert(c.options.end(), kSessionOptions.begin(), kSessionOptions.end());
  return t;
}

std::vector<Command> base_command_table() {
  return {
      {"synth",
       "synthesize model metamers and test each against the layer's null distribution",
       "From seeded noise, optimizes one stimulus per reference and layer to match the reference's\n"
       "activations (normalized L2 loss, normalized-gradient steps, the step halving every round).\n"
       "Writes OUT/<layer>/<category>/<name>.png (or .wav) plus an exact .npy copy, records everything\n"
       "in the database, and prints each metamer's Spearman/Pearson/SNR against the null maxima and\n"
       "predicted classes. A killed run, started again with the same command, resumes.",
       {kModel,
        {"layers", "L1[,L2...]", "layers to match (one metamer per layer)", "", true, true},
        {"input", "DIR|FILES", "ImageFolder folder(s) DIR/<category>/<file>, or files", "", true, true},
        {"out", "DIR", "output folder", "", true},
        kDb,
        {"iterations", "N", "steps per round", "300"},
        {"rounds", "R", "rounds; the step halves after each", "8"},
        {"step", "S", "initial step size (gd: 1, adam: 0.01)", ""},
        {"paper", "", "the paper's schedule: 8 rounds x 3000 steps, step 1, gd, l2norm"},
        {"batch", "B", "references optimized together (independently)", "1"},
        {"seed", "S", "noise seed (same noise for every layer of a reference)", "0"},
        {"optimizer", "gd|adam", "normalized gradient descent, or Adam", "gd"},
        {"loss", "l2norm|mse", "normalized L2 distance, or mean squared error", "l2norm"},
        {"no-fake-relu", "", "use the real ReLU gradient at the measured layer"},
        {"categories", "LIST", "restrict predicted classes to these (comma-separated)", "", false, true},
        {"null-input", "DIR", "natural stimuli for the null distribution (default: --input)", "", false, true},
        {"null-pairs", "N", "pairs in the null distribution (the paper: 1000000)", "1000"},
        {"null-seed", "S", "seed for drawing null pairs", "0"},
        {"checkpoint-every", "N", "steps between checkpoints (0: none)", "100"},
        {"stop-after", "N", "testing: stop after N steps as if killed (resume later)", ""},
        {"quiet", "", "no progress line"},
        kThreads}},
      {"null",
       "compute (or read from the cache) null distributions of a model's layers",
       "Spearman rho, Pearson r and SNR (dB) between the activations of random pairs of natural\n"
       "stimuli, per layer. Results are cached in the database by model hash, layer, stimulus set,\n"
       "pair count and seed.",
       {kModel,
        {"layers", "L1[,L2...]", "layers", "", true, true},
        {"input", "DIR|FILES", "natural stimuli", "", true, true},
        {"pairs", "N", "random pairs (the paper: 1000000)", "1000"},
        {"seed", "S", "seed for drawing pairs", "0"},
        {"batch", "B", "stimuli per forward pass", "16"},
        {"json", "", "print one JSON object"},
        kDb,
        kThreads}},
      {"classify",
       "run a model over a stimulus set: each prediction and the accuracy per category",
       "The model judgments later compared with people. The true category is the parent folder's\n"
       "name. Judgments are recorded in the database.",
       {kModel,
        {"input", "DIR|FILES", "ImageFolder folder(s) or files", "", true, true},
        {"categories", "LIST", "restrict predictions to these classes (comma-separated)", "", false, true},
        {"json", "", "print one JSON object with predictions and overall and per-category accuracy"},
        {"batch", "B", "stimuli per forward pass", "16"},
        kDb,
        kThreads}},
      {"info",
       "describe a model: modality, input, range, layers, classes",
       "",
       {kModel, {"json", "", "print one JSON object"}, kThreads}},
      {"trace",
       "how a metamer file was made: model, layer, seed, schedule, measures, command",
       "Looks the file (PNG, WAV or .npy) up by its SHA-256 in the database.",
       {kDb, {"json", "", "print one JSON object on one line"}},
       "FILE",
       true},
      {"dataset",
       "build a bundled demo data set: emoji16 (images) or words16 (spoken words)",
       "emoji16: icons of ten npm emoji sets (npm ci), rasterized by rsvg-convert, drawn with seeded\n"
       "augmentation; one art style (default twemoji) is held out for test and reference.\n"
       "words16: the 16 words spoken by espeak-ng, flite and festival, with noise, gain and shift;\n"
       "held-out voices (default: espeak-ng en-gb-scotland and en-us-nyc, speaker kal, 12 espeak-ng\n"
       "variants) give test and reference. Writes OUT/{train,test,reference}/<category>/, OUT/index.tsv\n"
       "and OUT/manifest.json. The same seed gives byte-identical files.",
       {{"out", "DIR", "output folder (new, empty, or an earlier build of the same set)", "", true},
        {"size", "PX", "emoji16: image side in pixels", "64"},
        {"per-category", "N", "training items per category", "500"},
        {"test-per-category", "N", "held-out test items per category", "100"},
        {"reference-per-category", "N", "reference items per category (the paper: 25)", "25"},
        {"seed", "S", "augmentation seed of train and test", "0"},
        {"reference-seed", "S", "seed of the reference set (fixed, so rebuilds share it)", "1"},
        {"holdout", "LIST", "emoji16: styles; words16: voice ids, speakers (kal, slt) and espeak-ng +variants", "", false, true},
        {"sample-rate", "HZ", "words16: clip sample rate", "16000"},
        {"seconds", "S", "words16: clip length", "1"},
        {"utterances", "N", "words16: distinct syntheses per word for training (test: a third)", "48"},
        {"categories", "LIST", "only these categories (default: all 16)", "", false, true},
        {"icons", "DIR", "emoji16: folder with package-lock.json and node_modules/ (default: source tree)", ""},
        {"jobs", "N", "worker threads (0: three per core; the work mostly waits on I/O)", "0"},
        {"quiet", "", "no progress lines"}},
       "emoji16|words16",
       true},
      {"demo",
       "the bundled demo: metamers of the trained zoo models, their null tests and cross-model judgments",
       "The paper's method on the bundled sample (stimuli/samples: one held-out image or spoken word per\n"
       "category): metamers at four layers (conv1, stage2, stage3, logits) of the standard and the\n"
       "adversarially trained model of the modality, each tested against the null distribution and\n"
       "classified by the other model. Writes OUT/<model>/<layer>/<category>/, OUT/report.md and\n"
       "OUT/metamerlab.db; experiments/demo-images.toml (and demo-words.toml, after\n"
       "`demo --modality audio --out out/demo-words`) present them to people.",
       {{"out", "DIR", "output folder", "out/demo"},
        {"db", "FILE", "database (default OUT/metamerlab.db)", ""},
        {"modality", "image|audio", "emoji16 images or words16 clips", "image"},
        {"iterations", "N", "steps per round (default: images 250, audio 100: every audio step runs the cochleagram)", ""},
        {"rounds", "R", "rounds (default: images 4, audio 3)", ""},
        kThreads}},
      {"resave",
       "rewrite a network metamerlab train wrote in the current file format (recipe, data, metrics kept)",
       "Loads FILE and FILE.json (checking the recorded SHA-256), writes the weights again and updates\n"
       "the sidecar's SHA-256. For weights written by an older metamerlab (e.g. with the cochleagram's\n"
       "constant filters saved): the network and its outputs are unchanged.",
       {kThreads},
       "FILE",
       true},
      {"report",
       "the paper's network-to-network test on the bundled zoo: metamers of each model, judged by the others",
       "`report zoo`: for each bundled model, metamers at several layers (early stage to logits) of one\n"
       "reference per category, each tested against the null distribution of the reference set, then\n"
       "classified by the generating model and by every other bundled model of the same modality.\n"
       "Writes OUT/report.md (the table), OUT/report.json, the metamers and OUT/metamerlab.db. Needs the\n"
       "reference sets of `metamerlab dataset emoji16|words16` (tools/build-zoo.sh builds both).",
       {{"out", "DIR", "output folder", "out/report-zoo"},
        {"db", "FILE", "database (default OUT/metamerlab.db)", ""},
        {"model", "SPEC", "models (default: the four bundled zoo models)", "", false, true},
        {"layer", "NAME", "layers (default conv1,stage1,stage2,stage3,logits)", "", false, true},
        {"emoji16", "DIR", "emoji16 data set (its reference/ folder is used)", "out/emoji16"},
        {"words16", "DIR", "words16 data set (its reference/ folder is used)", "out/words16"},
        {"per-category", "N", "references per category", "1"},
        {"iterations", "N", "steps per round", "250"},
        {"rounds", "R", "rounds (the step halves after each)", "4"},
        {"null-pairs", "N", "random natural pairs of the null distribution", "1000"},
        kThreads},
       "zoo",
       true},
      {"timing-test",
       "time the display's frames: refresh rate, frame-interval mean, SD and percentiles, drops",
       "Opens the participant display (fullscreen unless --windowed), shows N frames with vsync and\n"
       "reports the refresh rate (measured and nominal), the frame intervals and the dropped frames\n"
       "(intervals above 1.5 refresh intervals). Needs a display (a desktop session, or xvfb-run).",
       {{"frames", "N", "frames to show", "1000"},
        {"windowed", "", "a window instead of fullscreen"},
        {"width", "W", "window width (with --windowed)", "1024"},
        {"height", "H", "window height (with --windowed)", "768"},
        {"screen", "S", "display index", "0"},
        {"json", "", "print one JSON object"}}},
      {"train",
       "train metamerlab's image or audio network on a data set (standard or PGD adversarial)",
       "Loads DATA/train/<category>/* and DATA/test/<category>/* (as metamerlab dataset writes) into\n"
       "memory, trains the C++ network (image: ResNet-style CNN; audio: cochleagram + CNN), seeded\n"
       "and reproducible, with PGD adversarial training when --adversarial is l2 or linf. Checkpoints\n"
       "to OUT.ckpt; a killed run started again with the same command resumes identically. Ends with\n"
       "clean accuracy on the test split and accuracy under PGD at --eps, and writes OUT and OUT.json.",
       {{"data", "DIR", "data set folder with train/ and test/", "", true},
        {"modality", "image|audio", "which network", "", true},
        {"out", "FILE", "weights file (the sidecar is FILE.json)", "", true},
        {"epochs", "N", "passes over the training split", "10"},
        {"batch", "B", "batch size", "64"},
        {"lr", "LR", "peak learning rate", "0.05"},
        {"optimizer", "sgd|adam", "SGD with momentum 0.9, or Adam", "sgd"},
        {"schedule", "cosine|step", "cosine to 0, or x0.1 at 50% and 75%", "cosine"},
        {"weight-decay", "W", "L2 weight decay", "0.0005"},
        {"seed", "S", "initialization, data order and PGD random starts", "0"},
        {"width", "C", "channels of the first stage (then x2, x4)", "16"},
        {"stem-stride", "S", "image: conv1's stride, 1 (3x3) or 2 (5x5, stages 4x cheaper)", "1"},
        {"augment", "", "on-line augmentation per step: images flip, shift by size/8, cutout of size/4; audio\n"
                        "(standard training) cochleagram shifts along frequency and time and SpecAugment masks"},
        {"style-augment", "", "images: on-line colour and detail augmentation per step: colour channels permuted\n"
                              "(p 0.5), greyscale (p 0.2), blur (p 0.3)"},
        {"label-smoothing", "X", "cross-entropy label smoothing, 0 to <1", "0"},
        {"mixup", "A", "mixup: items mixed in pairs with lambda ~ Beta(A, A) per batch (0: off)", "0"},
        {"size", "PX", "image: side in pixels", "64"},
        {"sample-rate", "HZ", "audio: sample rate", "16000"},
        {"samples", "N", "audio: clip length in samples", "16000"},
        {"adversarial", "none|l2|linf", "PGD adversarial training norm", "none"},
        {"eps", "E", "PGD eps (training, and the final attack)", ""},
        {"eval-norm", "l2|linf", "norm of the final attack (default: --adversarial, else linf)", ""},
        {"pgd-steps", "K", "PGD steps", "5"},
        {"pgd-step-size", "A", "PGD step size (default eps/2)", ""},
        {"no-random-start", "", "start PGD at the input instead of a random point in the ball"},
        {"init", "FILE", "start from these weights (an earlier metamerlab train output): fine-tuning", ""},
        {"checkpoint-every", "N", "steps between checkpoints (0: none)", "50"},
        {"max-train", "N", "use at most N training items (timing)", ""},
        {"stop-after", "N", "testing: stop after N steps as if killed (resume later)", ""},
        {"quiet", "", "no progress lines"},
        kThreads}},
      {"plan",
       "plan one participant's session of an experiment file and print it (no display needed)",
       "Loads and validates the experiment (every file loads, models and layers exist, durations\n"
       "fit whole frames at --refresh), then prints the blocks, counts, estimated duration and the\n"
       "trial list: each reference once in one condition, rotated over participants (Latin square).\n"
       "Exit 1 when validation finds errors. See experiments/README.md for the file format.",
       {{"participant", "N", "participant number (1, 2, ...): picks the condition rotation", "", true},
        {"seed", "S", "session seed for shuffles and draws (default: the experiment's seed)", ""},
        {"db", "FILE", "database for [[metamers]] naming none; shows this participant's session", ""},
        {"refresh", "HZ", "display refresh rate for frame timing", "60"},
        {"summary", "", "print the summary without the trial list"},
        {"json", "", "print one JSON object: plan, summary, validation, session"}},
       "EXPERIMENT.toml",
       true},
      {"run",
       "run a participant's session of an experiment file (display, sound, timed trials)",
       "Plans the session (or resumes the participant's unfinished one at the first unanswered\n"
       "trial of the stored plan), then shows each trial: fixation, stimulus for whole frames, mask,\n"
       "response (click an icon or press 1-9; for words: click, or type with completion and Return).\n"
       "Each answered trial is committed at once. Ctrl+Shift+Q aborts (data kept; run the same\n"
       "command to resume), Ctrl+Shift+P pauses. Exit 0 completed or demo failed, 1 refused,\n"
       "3 no audio device, 4 aborted.",
       {{"participant", "N", "participant number (1, 2, ...): picks the condition rotation", "", true},
        {"code", "CODE", "pseudonymous participant code (letters, digits, -_.; default P<N>)", ""},
        {"db", "FILE", "database for sessions and trials (and [[metamers]] naming none)", "metamerlab.db"},
        {"seed", "S", "session seed for shuffles and draws (default: the experiment's seed)", ""}},
       "EXPERIMENT.toml",
       true},
      {"launch",
       "the experimenter's launch screen: pick an experiment, a participant, check, start",
       "Opens the participant display with a screen for the experimenter: an experiment file (typed,\n"
       "or picked from the .toml files in the source tree's experiments/ folder, the current folder\n"
       "and --folder), the participant's code and number, the validation result (errors with file and\n"
       "line, as metamerlab plan prints them) and the plan's summary; Start runs the session (as\n"
       "metamerlab run) in the same window. --auto-start CODE,NUMBER types them in and presses Start\n"
       "(exit 1 with the errors when the experiment does not validate).",
       {{"db", "FILE", "database for sessions and trials (and [[metamers]] naming none)", "metamerlab.db"},
        {"folder", "DIR", "another folder to list experiment files from", "", false, true},
        {"auto-start", "CODE,NUMBER", "scripted: enter this participant and press Start", ""},
        {"screenshot", "FILE", "save the launch screen as PNG (scripted: just before Start)", ""}},
       "EXPERIMENT.toml"},
      {"sessions",
       "list the sessions in a database: participant, experiment, status, answered/planned",
       "One line per session (or one JSON array with --json).",
       {{"db", "FILE", "database", "metamerlab.db"}, {"json", "", "print one JSON array"}}},
  };
}

// [SECTION] Handlers ----------------------------------------------------------------------
synth::Optimizer parse_optimizer(const std::string& s) {
  if (s == "gd") return synth::Optimizer::gd;
  if (s == "adam") return synth::Optimizer::adam;
  throw UsageError("synth: --optimizer must be gd or adam, not \"" + s + "\"");
}

synth::Loss parse_loss(const std::string& s) {
  if (s == "l2norm") return synth::Loss::l2norm;
  if (s == "mse") return synth::Loss::mse;
  throw UsageError("synth: --loss must be l2norm or mse, not \"" + s + "\"");
}

long long positive(const Args& a, const std::string& name, long long min = 1) {
  long long v = a.get_int(name);
  if (v < min) throw UsageError("--" + name + " must be at least " + std::to_string(min));
  return v;
}

// kSessionOptions, parsed into the runner's options (run and launch).
void session_options(const Args& a, RunOptions& o) {
  o.windowed = a.flag("windowed");
  o.width = static_cast<int>(positive(a, "width"));
  o.height = static_cast<int>(positive(a, "height"));
  o.auto_policy = a.get("auto");
  o.auto_seed = static_cast<uint64_t>(positive(a, "auto-seed", 0));
  if (a.has("max-trials")) o.max_trials = static_cast<int>(positive(a, "max-trials", 0));
  o.screenshots = a.get("screenshots");
  o.station = a.get("station");
  o.headphone_check = a.flag("headphone-check");
  o.headphone_tone_ms = static_cast<int>(positive(a, "headphone-tone-ms", 20));
}

int cmd_synth(const Args& a) {
  synth::SynthJob j;
  j.model = a.get("model");
  j.layers = a.list("layers");
  j.inputs = a.list("input");
  j.out_dir = a.get("out");
  j.db = a.get("db");
  if (a.flag("paper")) {
    for (const char* n : {"iterations", "rounds", "step", "optimizer", "loss"})
      if (a.has(n)) throw UsageError(std::string("synth: --paper sets --") + n + "; give one or the other");
    j.opt.iterations = 3000;
    j.opt.rounds = 8;
    j.opt.step = 1.0;
  } else {
    j.opt.iterations = positive(a, "iterations");
    j.opt.rounds = static_cast<int>(positive(a, "rounds"));
    if (a.has("step")) {
      j.opt.step = a.get_double("step");
      if (!(j.opt.step > 0) || !std::isfinite(j.opt.step)) throw UsageError("synth: --step must be positive and finite");
    }
    j.opt.optimizer = parse_optimizer(a.get("optimizer"));
    j.opt.loss = parse_loss(a.get("loss"));
  }
  j.batch = static_cast<int>(positive(a, "batch"));
  j.opt.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  j.opt.fake_relu = !a.flag("no-fake-relu");
  j.opt.checkpoint_every = positive(a, "checkpoint-every", 0);
  if (a.has("stop-after")) j.opt.stop_after = positive(a, "stop-after", 0);
  j.categories = a.list("categories");
  j.null_inputs = a.list("null-input");
  j.null_pairs = positive(a, "null-pairs");
  j.null_seed = static_cast<uint64_t>(positive(a, "null-seed", 0));
  j.progress = !a.flag("quiet");
  j.command_line = a.command_line;
  synth::run_synth_job(j, std::cout, std::cerr);
  return 0;
}

int cmd_null(const Args& a) {
  synth::NullJob j;
  j.model = a.get("model");
  j.layers = a.list("layers");
  j.inputs = a.list("input");
  j.pairs = positive(a, "pairs");
  j.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  j.batch = static_cast<int>(positive(a, "batch"));
  j.json = a.flag("json");
  j.db = a.get("db");
  synth::run_null_job(j, std::cout, std::cerr);
  return 0;
}

int cmd_classify(const Args& a) {
  synth::ClassifyJob j;
  j.model = a.get("model");
  j.inputs = a.list("input");
  j.categories = a.list("categories");
  j.json = a.flag("json");
  j.batch = static_cast<int>(positive(a, "batch"));
  j.db = a.get("db");
  return synth::run_classify_job(j, std::cout, std::cerr);
}

int cmd_info(const Args& a) {
  auto m = synth::ModelHandle::open(a.get("model"));
  const auto& i = m.info();
  if (a.flag("json")) {
    nlohmann::json j = nlohmann::json::parse(i.json);
    j["spec"] = i.spec;
    j["path"] = i.path;
    j["sha256"] = i.sha256;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "model    " << i.spec << (i.path.empty() ? "" : " (" + i.path + ")") << "\n";
  std::cout << "sha256   " << i.sha256 << "\n";
  std::cout << "modality " << i.modality << "\n";
  std::cout << "input    ";
  if (i.modality == "image")
    std::cout << i.input_shape[0] << "x" << i.input_shape[1] << "x" << i.input_shape[2];
  else
    std::cout << i.input_shape[0] << " samples at " << i.sample_rate << " Hz";
  std::cout << ", range [" << i.lo << ", " << i.hi << "]\n";
  std::cout << "layers  ";
  for (const auto& l : i.layers) std::cout << " " << l;
  std::cout << "\nclasses  " << i.classes.size() << ":";
  for (size_t k = 0; k < i.classes.size() && k < 20; ++k) std::cout << " " << i.classes[k];
  if (i.classes.size() > 20) std::cout << " ...";
  std::cout << "\n";
  return 0;
}

int cmd_trace(const Args& a) {
  if (a.positionals().size() != 1) throw UsageError("trace: give exactly one FILE");
  return synth::run_trace_job(a.positionals()[0], a.get("db"), a.flag("json"), std::cout);
}

int cmd_dataset(const Args& a) {
  if (a.positionals().size() != 1) throw UsageError("dataset: give one set to build: emoji16 or words16");
  const std::string which = a.positionals()[0];
  auto count = [&](const char* name, long long min) { return static_cast<int>(positive(a, name, min)); };
  auto only_for = [&](const std::vector<const char*>& names, const std::string& set) {
    for (const char* n : names)
      if (a.has(n)) throw UsageError("dataset " + which + ": --" + n + " is for " + set);
  };
  stimuli::DatasetSummary s;
  std::ostream* progress = a.flag("quiet") ? nullptr : &std::cerr;
  if (which == "emoji16") {
    only_for({"sample-rate", "seconds", "utterances"}, "words16");
    stimuli::Emoji16Options o;
    o.out_dir = a.get("out");
    o.size = count("size", 16);
    o.train_per_category = count("per-category", 1);
    o.test_per_category = count("test-per-category", 0);
    o.reference_per_category = count("reference-per-category", 0);
    o.seed = static_cast<uint64_t>(positive(a, "seed", 0));
    o.reference_seed = static_cast<uint64_t>(positive(a, "reference-seed", 0));
    if (a.has("holdout")) o.holdout = a.list("holdout");
    o.categories = a.list("categories");
    o.icons_root = a.get("icons");
    o.threads = count("jobs", 0);
    o.progress = progress;
    s = stimuli::build_emoji16(o);
  } else if (which == "words16") {
    only_for({"size", "icons"}, "emoji16");
    stimuli::Words16Options o;
    o.out_dir = a.get("out");
    o.sample_rate = count("sample-rate", 1);
    o.seconds = a.get_double("seconds");
    o.train_per_category = count("per-category", 1);
    o.test_per_category = count("test-per-category", 0);
    o.reference_per_category = count("reference-per-category", 0);
    o.utterances = count("utterances", 1);
    o.seed = static_cast<uint64_t>(positive(a, "seed", 0));
    o.reference_seed = static_cast<uint64_t>(positive(a, "reference-seed", 0));
    if (a.has("holdout")) o.holdout = a.list("holdout");
    o.categories = a.list("categories");
    o.threads = count("jobs", 0);
    o.progress = progress;
    s = stimuli::build_words16(o);
  } else {
    throw UsageError("dataset: unknown set \"" + which + "\"; choose emoji16 or words16");
  }
  std::string held;
  for (const auto& h : s.holdout) held += (held.empty() ? "" : ",") + h;
  std::cout << which << ": " << s.train << " train, " << s.test << " test, " << s.reference << " reference in "
            << a.get("out") << " (" << static_cast<long long>(s.seconds * 10 + 0.5) / 10.0 << " s); held out: " << held
            << "; manifest " << s.manifest << "\n";
  return 0;
}

int cmd_demo(const Args& a) {
  synth::DemoJob j;
  j.out_dir = a.get("out");
  j.db = a.get("db");
  j.modality = a.get("modality");
  if (j.modality != "image" && j.modality != "audio") throw UsageError("demo: --modality must be image or audio");
  const bool audio = j.modality == "audio";
  j.iterations = a.has("iterations") ? positive(a, "iterations") : (audio ? 100 : 250);
  j.rounds = static_cast<int>(a.has("rounds") ? positive(a, "rounds") : (audio ? 3 : 4));
  j.command_line = a.command_line;
  return synth::run_demo_job(j, std::cout, std::cerr);
}

int cmd_resave(const Args& a) {
  for (const auto& f : a.positionals()) {
    const std::string sha = synth::resave_net_file(f);
    std::cout << f << ": rewritten, sha256 " << sha << "\n";
  }
  return 0;
}

int cmd_report(const Args& a) {
  if (a.positionals().size() != 1 || a.positionals()[0] != "zoo")
    throw UsageError("report: the one report is `metamerlab report zoo`");
  synth::ZooReportJob j;
  j.out_dir = a.get("out");
  j.db = a.get("db");
  j.models = a.list("model");
  j.layers = a.list("layer");
  j.emoji16_dir = a.get("emoji16");
  j.words16_dir = a.get("words16");
  j.per_category = static_cast<int>(positive(a, "per-category"));
  j.iterations = positive(a, "iterations");
  j.rounds = static_cast<int>(positive(a, "rounds"));
  j.null_pairs = positive(a, "null-pairs", 2);
  j.command_line = a.command_line;
  synth::run_zoo_report(j, std::cout, std::cerr);
  return 0;
}

int cmd_timing_test(const Args& a) {
  TimingTestOptions o;
  o.frames = static_cast<int>(positive(a, "frames", 2));
  o.display.fullscreen = !a.flag("windowed");
  o.display.width = static_cast<int>(positive(a, "width"));
  o.display.height = static_cast<int>(positive(a, "height"));
  o.display.screen = static_cast<int>(positive(a, "screen", 0));
  TimingTestReport r = run_timing_test(o);
  if (a.flag("json")) std::cout << timing_report_json(r).dump() << "\n";
  else print_timing_report(r, std::cout);
  return 0;
}

int cmd_train(const Args& a) {
  synth::TrainOptions o;
  o.data_dir = a.get("data");
  o.modality = a.get("modality");
  if (o.modality != "image" && o.modality != "audio")
    throw UsageError("train: --modality must be image or audio, not \"" + o.modality + "\"");
  o.out = a.get("out");
  o.epochs = static_cast<int>(positive(a, "epochs"));
  o.batch = static_cast<int>(positive(a, "batch"));
  o.lr = a.get_double("lr");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw UsageError("train: --lr must be positive and finite");
  o.optimizer = a.get("optimizer");
  if (o.optimizer != "sgd" && o.optimizer != "adam") throw UsageError("train: --optimizer must be sgd or adam");
  o.schedule = a.get("schedule");
  if (o.schedule != "cosine" && o.schedule != "step") throw UsageError("train: --schedule must be cosine or step");
  o.weight_decay = a.get_double("weight-decay");
  if (!(o.weight_decay >= 0)) throw UsageError("train: --weight-decay must be 0 or more");
  o.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  o.width = static_cast<int>(positive(a, "width"));
  o.image_size = static_cast<int>(positive(a, "size", 8));
  o.stem_stride = static_cast<int>(positive(a, "stem-stride"));
  o.augment = a.flag("augment");
  o.style_augment = a.flag("style-augment");
  o.label_smoothing = a.get_double("label-smoothing");
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) throw UsageError("train: --label-smoothing must be at least 0 and below 1");
  o.mixup = a.get_double("mixup");
  if (!(o.mixup >= 0) || !std::isfinite(o.mixup)) throw UsageError("train: --mixup must be 0 or more");
  o.sample_rate = static_cast<int>(positive(a, "sample-rate"));
  o.samples = positive(a, "samples");
  o.init = a.get("init");
  auto norm = [&](const std::string& flag, const std::string& v) {
    try {
      return synth::parse_norm(v);
    } catch (const std::runtime_error&) {
      throw UsageError("train: --" + flag + " must be none, l2 or linf, not \"" + v + "\"");
    }
  };
  synth::PgdOptions p;
  p.norm = norm("adversarial", a.get("adversarial"));
  p.steps = static_cast<int>(positive(a, "pgd-steps"));
  p.random_start = !a.flag("no-random-start");
  if (a.has("eps")) {
    p.eps = a.get_double("eps");
    if (!(p.eps > 0) || !std::isfinite(p.eps)) throw UsageError("train: --eps must be positive and finite");
  } else if (p.norm != synth::Norm::none) {
    throw UsageError("train: --adversarial " + a.get("adversarial") + " needs --eps");
  }
  if (a.has("pgd-step-size")) {
    p.step_size = a.get_double("pgd-step-size");
    if (!(p.step_size > 0)) throw UsageError("train: --pgd-step-size must be positive");
  }
  o.train_attack = p;
  o.eval_attack = p;
  if (a.has("eval-norm")) o.eval_attack.norm = norm("eval-norm", a.get("eval-norm"));
  else if (p.norm == synth::Norm::none) o.eval_attack.norm = synth::Norm::linf;
  if (!a.has("eps")) o.eval_attack.norm = synth::Norm::none;  // no eps: clean accuracy only
  o.checkpoint_every = positive(a, "checkpoint-every", 0);
  if (a.has("max-train")) o.max_train = positive(a, "max-train");
  if (a.has("stop-after")) o.stop_after = positive(a, "stop-after", 0);
  o.progress = a.flag("quiet") ? nullptr : &std::cerr;
  auto r = synth::train(o);
  if (!r.finished) {
    std::cout << "train: stopped after step " << r.steps << " (--stop-after); run the same command to resume\n";
    return 0;
  }
  std::cout << "train: " << r.train_items << " train items, " << r.steps << " steps in " << r.train_seconds
            << " s; clean accuracy " << r.clean_acc << " on " << r.test_items << " test items";
  if (r.adv_acc >= 0)
    std::cout << ", under " << synth::norm_name(o.eval_attack.norm) << " PGD eps " << o.eval_attack.eps << ": "
              << r.adv_acc;
  std::cout << "; wrote " << o.out << " (sha256 " << r.weights_sha256 << ") and " << o.out << ".json\n";
  return 0;
}

int cmd_plan(const Args& a) {
  if (a.positionals().size() != 1) throw UsageError("plan: give exactly one EXPERIMENT.toml");
  PlanCommandOptions o;
  o.experiment = a.positionals()[0];
  o.participant = positive(a, "participant");
  o.has_seed = a.has("seed");
  if (o.has_seed) o.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  o.db = a.get("db");
  o.refresh_hz = a.get_double("refresh");
  if (!(o.refresh_hz > 0)) throw UsageError("plan: --refresh must be positive");
  o.json = a.flag("json");
  o.summary_only = a.flag("summary");
  return run_plan_command(o, std::cout, std::cerr);
}

int cmd_run(const Args& a) {
  if (a.positionals().size() != 1) throw UsageError("run: give exactly one EXPERIMENT.toml");
  RunOptions o;
  o.experiment = a.positionals()[0];
  o.participant = positive(a, "participant");
  o.code = a.get("code");
  o.db = a.get("db");
  o.has_seed = a.has("seed");
  if (o.has_seed) o.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  session_options(a, o);
  try {
    RunResult r = run_session(o, std::cout);
    if (r.status == "completed" || r.status == "failed_demo") {
      double sum = 0, mx = 0;
      for (double c : r.commit_ms) sum += c, mx = std::max(mx, c);
      std::cout << "session " << r.session_id << " " << r.status << ": " << r.answered_now << " trials this run";
      if (!r.commit_ms.empty())
        std::cout << ", trial commit mean " << sum / r.commit_ms.size() << " ms, p50 " << median(r.commit_ms)
                  << " ms, p99 " << percentile(r.commit_ms, 99) << " ms, max " << mx << " ms";
      std::cout << ", first trial after " << r.first_trial_s << " s\n";
    }
    return r.exit_code;
  } catch (const NoAudioDevice& e) {
    std::cerr << "run: this is an audio experiment and there is no usable audio output (" << e.what()
              << "); connect headphones or choose a device, then start again\n";
    return 3;
  }
}

int cmd_launch(const Args& a) {
  if (a.positionals().size() > 1) throw UsageError("launch: give at most one EXPERIMENT.toml");
  LaunchOptions o;
  if (!a.positionals().empty()) o.experiment = a.positionals()[0];
  o.folders = {std::string(METAMERLAB_SOURCE_DIR) + "/experiments", "."};
  for (const auto& f : a.list("folder")) o.folders.push_back(f);
  o.run.db = a.get("db");
  session_options(a, o.run);
  o.screenshot = a.get("screenshot");
  if (a.has("auto-start")) {
    const std::string v = a.get("auto-start");
    const auto comma = v.rfind(',');
    if (comma == std::string::npos) throw UsageError("launch: --auto-start needs CODE,NUMBER, e.g. P007,7");
    o.auto_start = true;
    o.auto_code = v.substr(0, comma);
    try {
      size_t pos = 0;
      o.auto_number = std::stoll(v.substr(comma + 1), &pos);
      if (pos != v.size() - comma - 1 || o.auto_number < 1) throw std::invalid_argument(v);
    } catch (const std::exception&) {
      throw UsageError("launch: --auto-start " + v + ": the number after the comma must be 1 or more");
    }
  }
  return run_launch(o, std::cout, std::cerr);
}

int cmd_sessions(const Args& a) { return list_sessions_command(a.get("db"), a.flag("json"), std::cout); }

}  // namespace

// [SECTION] Dispatch ----------------------------------------------------------------------
int run_command(const std::vector<std::string>& argv) {
  auto table = command_table();
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    if (argv.size() >= 2) {
      for (const auto& c : table)
        if (c.name == argv[1]) {
          std::cout << help_text(c);
          return 0;
        }
    }
    std::cout << overview_text(table);
    return argv.empty() ? 2 : 0;
  }
  if (argv[0] == "version" || argv[0] == "--version") {
    std::cout << "metamerlab " << synth::program_version() << "\n";
    return 0;
  }
  const Command* cmd = nullptr;
  for (const auto& c : table)
    if (c.name == argv[0]) cmd = &c;
  if (!cmd) throw UsageError("unknown command \"" + argv[0] + "\" (metamerlab --help lists them)");
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  for (const auto& r : rest)
    if (r == "--help" || r == "-h") {
      std::cout << help_text(*cmd);
      return 0;
    }
  Args a = parse_args(*cmd, rest);
  a.command_line = "metamerlab";
  for (const auto& s : argv) a.command_line += " " + s;
  bool torch = false;  // only commands with --threads run torch
  for (const auto& o : cmd->options) torch = torch || o.name == "threads";
  if (torch) {
    const long long threads = a.get_int("threads");
    if (threads < 0) throw UsageError(cmd->name + ": --threads must be 0 (one per core) or more");
    try {
      synth::init_runtime(static_cast<int>(std::min<long long>(threads, 1 << 20)));
    } catch (const std::runtime_error& e) {
      throw UsageError(cmd->name + ": " + e.what());  // more threads than the machine allows
    }
  }
  if (cmd->name == "synth") return cmd_synth(a);
  if (cmd->name == "null") return cmd_null(a);
  if (cmd->name == "classify") return cmd_classify(a);
  if (cmd->name == "info") return cmd_info(a);
  if (cmd->name == "demo") return cmd_demo(a);
  if (cmd->name == "dataset") return cmd_dataset(a);
  if (cmd->name == "trace") return cmd_trace(a);
  if (cmd->name == "timing-test") return cmd_timing_test(a);
  if (cmd->name == "report") return cmd_report(a);
  if (cmd->name == "resave") return cmd_resave(a);
  if (cmd->name == "train") return cmd_train(a);
  if (cmd->name == "plan") return cmd_plan(a);
  if (cmd->name == "run") return cmd_run(a);
  if (cmd->name == "sessions") return cmd_sessions(a);
  if (cmd->name == "launch") return cmd_launch(a);
  throw std::logic_error("no handler for " + cmd->name);
}

}  // namespace mm::app
