// app/commands.cpp: the metamerlab subcommands: their option tables and handlers.
//
// Sections
//   [SECTION] Tables      every subcommand's options (parsing and --help come from here)
//   [SECTION] Handlers    synth, null, classify, info, trace, demo
//   [SECTION] Dispatch    run_command
#include "app/commands.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "synth/engine.h"
#include "synth/jobs.h"

namespace mm::app {

// [SECTION] Tables ------------------------------------------------------------------------
namespace {

const Option kModel{"model", "M", "a TorchScript archive (see tools/export_model.py) or zoo:NAME", "", true};
const Option kDb{"db", "FILE", "SQLite database for provenance", "metamerlab.db"};
const Option kThreads{"threads", "N", "torch threads (0: one per core)", "0"};

std::vector<Command> command_table() {
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
      {"demo",
       "the synthesis demo: metamers of a few images at a few layers, recorded in a database",
       "Writes a small procedural image set, synthesizes metamers at four layers of zoo:tiny-cnn,\n"
       "tests each against the null distribution and records everything in OUT/metamerlab.db.",
       {{"out", "DIR", "output folder", "out/demo"},
        {"db", "FILE", "database (default OUT/metamerlab.db)", ""},
        {"iterations", "N", "steps per round", "150"},
        {"rounds", "R", "rounds", "4"},
        kThreads}},
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
      if (!(j.opt.step > 0)) throw UsageError("synth: --step must be positive");
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

int cmd_demo(const Args& a) {
  synth::DemoJob j;
  j.out_dir = a.get("out");
  j.db = a.get("db");
  j.iterations = positive(a, "iterations");
  j.rounds = static_cast<int>(positive(a, "rounds"));
  j.command_line = a.command_line;
  return synth::run_demo_job(j, std::cout, std::cerr);
}

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
  if (cmd->name != "trace") synth::init_runtime(static_cast<int>(a.get_int("threads")));
  if (cmd->name == "synth") return cmd_synth(a);
  if (cmd->name == "null") return cmd_null(a);
  if (cmd->name == "classify") return cmd_classify(a);
  if (cmd->name == "info") return cmd_info(a);
  if (cmd->name == "demo") return cmd_demo(a);
  if (cmd->name == "trace") return cmd_trace(a);
  throw std::logic_error("no handler for " + cmd->name);
}

}  // namespace mm::app
