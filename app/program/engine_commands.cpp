// app/program/engine_commands.cpp: the commands that run the engine or build data sets:
// synth, null, classify, info, trace, merge (the databases of synth shards; no engine),
// demo, report, resave, train, dataset. Each entry of
// the table carries its options (parsing and --help), its handler and what it needs of
// the engine (program.h); the handlers turn options into the engine's jobs (synth/jobs.h,
// synth/report.h, synth/train.h) and the data-set builders' (stimuli/datasets.h).
//
// Sections
//   [SECTION] Handlers    one function per command
//   [SECTION] Table       engine_commands
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/program/program.h"
#include "data/merge.h"
#include "stimuli/datasets.h"
#include "synth/engine.h"
#include "synth/jobs.h"
#include "synth/report.h"
#include "synth/train.h"

namespace mm::app {

namespace {

const Option kModel{"model", "M", "a TorchScript archive (see tools/export_model.py), a network metamerlab train wrote, or zoo:NAME", "", true};
const Option kDb{"db", "FILE", "SQLite database for provenance", "metamerlab.db"};

const Option kNullMemory{"null-memory", "MB", "memory for the null distribution's activations and ranks; a larger set\n"
                                             "is kept in a temporary file (--null-spill) and read back in chunks", "512"};
const Option kNullSpill{"null-spill", "DIR", "folder for that temporary file (default: $TMPDIR, else /tmp)", ""};

synth::Device device_of(const Args& a) { return a.get("device") == "cuda" ? synth::Device::cuda : synth::Device::cpu; }

// [SECTION] Handlers ----------------------------------------------------------------------

// --shard K/N: two decimal integers, 0 <= K < N.
void parse_shard(const std::string& cmd, const std::string& v, int* k, int* n) {
  const auto slash = v.find('/');
  auto number = [](const std::string& t, long long* x) {
    if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos) return false;
    *x = std::stoll(t);
    return true;
  };
  long long kk = 0, nn = 0;
  if (slash == std::string::npos || !number(v.substr(0, slash), &kk) || !number(v.substr(slash + 1), &nn) || nn < 1 ||
      kk >= nn)
    throw UsageError(cmd + ": --shard must be K/N with 0 <= K < N (for instance 0/4 to 3/4); got '" + v + "'");
  *k = static_cast<int>(kk);
  *n = static_cast<int>(nn);
}

// --null-memory MB and --null-spill DIR: the null distribution's memory budget.
synth::NullMemory null_memory_of(const Args& a, const char* cmd) {
  synth::NullMemory m;
  const int64_t mb = positive(a, "null-memory");
  if (mb > (int64_t{1} << 30)) throw UsageError(std::string(cmd) + ": --null-memory is in MB; give at most 1073741824");
  m.budget_bytes = mb << 20;
  m.spill_dir = a.get("null-spill");
  return m;
}

// --max-rounds R (until converged, up to R rounds): 0 (exactly `rounds`) or from `rounds` to
// 1000; `def` when not given.
int max_rounds_arg(const Args& a, const std::string& command, int rounds, int def) {
  if (!a.has("max-rounds")) return def;
  const long long r = positive(a, "max-rounds", 0);
  if (r != 0 && (r < rounds || r > 1000))
    throw UsageError(command + ": --max-rounds " + std::to_string(r) + " must be 0 (exactly --rounds) or from --rounds (" +
                     std::to_string(rounds) + ") to 1000");
  return static_cast<int>(r);
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
    j.opt.optimizer = a.get("optimizer") == "adam" ? synth::Optimizer::adam : synth::Optimizer::gd;  // checked by the table
    j.opt.loss = a.get("loss") == "mse" ? synth::Loss::mse : synth::Loss::l2norm;
  }
  j.opt.max_rounds = max_rounds_arg(a, "synth", j.opt.rounds, 0);
  j.batch = static_cast<int>(positive(a, "batch"));
  j.opt.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  j.opt.fake_relu = !a.flag("no-fake-relu");
  j.opt.checkpoint_every = positive(a, "checkpoint-every", 0);
  if (a.has("stop-after")) j.opt.stop_after = positive(a, "stop-after", 0);
  j.categories = a.list("categories");
  j.null_inputs = a.list("null-input");
  j.null_pairs = a.has("null-pairs") ? positive(a, "null-pairs") : synth::kAutoPairs;
  j.null_seed = static_cast<uint64_t>(positive(a, "null-seed", 0));
  j.null_memory = null_memory_of(a, "synth");
  j.progress = !a.flag("quiet");
  j.progress_every_s = a.get_double("progress-every");
  if (!(j.progress_every_s >= 0) || !std::isfinite(j.progress_every_s))
    throw UsageError("synth: --progress-every must be a number of seconds, 0 or more");
  j.command_line = a.command_line;
  j.device = device_of(a);
  if (a.has("shard")) parse_shard("synth", a.get("shard"), &j.shard, &j.shards);
  synth::run_synth_job(j, std::cout, std::cerr);
  return 0;
}

int cmd_null(const Args& a) {
  synth::NullJob j;
  j.model = a.get("model");
  j.layers = a.list("layers");
  j.inputs = a.list("input");
  j.pairs = a.has("pairs") ? positive(a, "pairs") : synth::kAutoPairs;
  j.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  j.batch = static_cast<int>(positive(a, "batch"));
  j.json = a.flag("json");
  j.db = a.get("db");
  j.device = device_of(a);
  j.write_bundled = a.flag("write-bundled");
  j.description = a.get("description");
  j.check_inputs = a.list("check-input");
  j.memory = null_memory_of(a, "null");
  if (a.has("shard")) parse_shard("null", a.get("shard"), &j.shard, &j.shards);
  if (!j.write_bundled && (a.has("description") || a.has("check-input")))
    throw UsageError("null: --description and --check-input go with --write-bundled");
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
  j.device = device_of(a);
  return synth::run_classify_job(j, std::cout, std::cerr);
}

int cmd_info(const Args& a) {
  auto m = synth::ModelHandle::open(a.get("model"), device_of(a));
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

int cmd_merge(const Args& a) {
  const auto& p = a.positionals();
  if (p.size() < 2) throw UsageError("merge: give OUT.db and at least one SHARD.db");
  const std::vector<std::string> shards(p.begin() + 1, p.end());
  const data::MergeReport r = data::merge_stores(p[0], shards);
  auto pair = [](int64_t added, int64_t present) {
    return std::to_string(added) + " added, " + std::to_string(present) + " already there";
  };
  std::cout << "merged " << r.inputs << " database(s) into " << p[0] << ": metamers " << pair(r.metamers_added, r.metamers_present)
            << "; synthesis runs " << pair(r.runs_added, r.runs_present) << "; null distributions "
            << pair(r.nulls_added, r.nulls_present) << "; models " << pair(r.models_added, r.models_present) << "; "
            << r.files_checked << " metamer file(s) checked by SHA-256\n";
  if (r.null_parts_added + r.null_parts_present + r.nulls_completed > 0)
    std::cout << "null distribution parts " << pair(r.null_parts_added, r.null_parts_present) << "; "
              << r.nulls_completed << " null distribution(s) completed from their parts\n";
  return 0;
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
  const bool audio = j.modality == "audio";
  j.iterations = a.has("iterations") ? positive(a, "iterations") : (audio ? 100 : 250);
  j.rounds = static_cast<int>(a.has("rounds") ? positive(a, "rounds") : (audio ? 3 : 4));
  j.max_rounds = max_rounds_arg(a, "demo", j.rounds, audio ? 12 : 8);
  j.command_line = a.command_line;
  j.device = device_of(a);
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
  if (a.positionals().size() != 1) throw UsageError("report: the one report is `metamerlab report zoo`");
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
  j.max_rounds = max_rounds_arg(a, "report", j.rounds, 12);
  j.null_pairs = a.has("null-pairs") ? positive(a, "null-pairs", 2) : synth::kAutoPairs;
  j.command_line = a.command_line;
  j.device = device_of(a);
  synth::run_zoo_report(j, std::cout, std::cerr);
  return 0;
}


int cmd_train(const Args& a) {
  synth::TrainOptions o;
  o.data_dir = a.get("data");
  o.modality = a.get("modality");
  o.out = a.get("out");
  o.epochs = static_cast<int>(positive(a, "epochs"));
  o.batch = static_cast<int>(positive(a, "batch"));
  o.lr = a.get_double("lr");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw UsageError("train: --lr must be positive and finite");
  o.optimizer = a.get("optimizer");
  o.schedule = a.get("schedule");
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
  p.frontend = a.get("attack-space") == "cochleagram";
  if (p.frontend && o.modality != "audio") throw UsageError("train: --attack-space cochleagram is for audio networks");
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


}  // namespace

// [SECTION] Table -------------------------------------------------------------------------
std::vector<CommandEntry> engine_commands() {
  return {
      {{"synth",
       "synthesize model metamers and test each against the layer's null distribution",
       "From seeded noise, optimizes one stimulus per reference and layer to match the reference's\n"
       "activations (normalized L2 loss, normalized-gradient steps, the step halving every round).\n"
       "Writes OUT/<layer>/<category>/<name>.png (or .wav) plus an exact .npy copy, records everything\n"
       "in the database, and prints each metamer's Spearman/Pearson/SNR against the null maxima and\n"
       "predicted classes. A killed run, started again with the same command, resumes.",
       {kModel,
        {"layers", "L1[,L2...]|all", "layers to match (one metamer per layer; all: every layer)", "", true, true},
        {"input", "DIR|FILES", "ImageFolder folder(s) DIR/<category>/<file>, or files", "", true, true},
        {"out", "DIR", "output folder", "", true},
        kDb,
        {"iterations", "N", "steps per round", "300"},
        {"rounds", "R", "rounds; the step halves after each", "8"},
        {"max-rounds", "R", "until converged: rounds go on past --rounds, one at a time, until each metamer's last\n"
                            "round lowered its loss by less than 1% of its start (it is then kept), up to R", ""},
        {"step", "S", "initial step size (gd: 1, adam: 0.01)", ""},
        {"paper", "", "the paper's schedule: 8 rounds x 3000 steps, step 1, gd, l2norm"},
        {"batch", "B", "references optimized together (independently)", "1"},
        {"seed", "S", "noise seed (same noise for every layer of a reference)", "0"},
        {"optimizer", "", "normalized gradient descent, or Adam", "gd", false, false, {"gd", "adam"}},
        {"loss", "", "normalized L2 distance, or mean squared error", "l2norm", false, false, {"l2norm", "mse"}},
        {"no-fake-relu", "", "use the real ReLU gradient at the measured layer"},
        {"categories", "LIST", "restrict predicted classes to these (comma-separated)", "", false, true},
        {"null-input", "DIR", "natural stimuli for the null distribution (default: the model's bundled null\n"
                              "of held-out stimuli, else --input)", "", false, true},
        {"null-pairs", "N", "pairs in the null distribution (default: the paper's 1000000, or every ordered\n"
                            "pair of a smaller set)", ""},
        {"null-seed", "S", "seed for drawing null pairs", "0"},
        kNullMemory,
        kNullSpill,
        {"checkpoint-every", "N", "steps between checkpoints (0: none)", "100"},
        {"stop-after", "N", "testing: stop after N steps as if killed (resume later)", ""},
        {"shard", "K/N", "make only shard K of N (0 <= K < N): the work units (a batch of references at one\n"
                         "layer) dealt round-robin; give each shard its own --out and --db, then\n"
                         "`metamerlab merge OUT.db SHARD.db...`", ""},
        {"progress-every", "S", "seconds between progress lines when stderr is not a terminal", "10"},
        {"quiet", "", "no progress line"}}},
       cmd_synth, EngineUse::device},
      {{"null",
       "compute (or read from the cache) null distributions of a model's layers",
       "Spearman rho, Pearson r and SNR (dB) between the activations of random pairs of natural\n"
       "stimuli, per layer. Results are cached in the database by model hash, layer, stimulus set,\n"
       "pair count and seed.",
       {kModel,
        {"layers", "L1[,L2...]|all", "layers (all: every layer of the model)", "", true, true},
        {"input", "DIR|FILES", "natural stimuli", "", true, true},
        {"pairs", "N", "random pairs (default: the paper's 1000000, or every ordered pair of a smaller set)", ""},
        {"write-bundled", "", "store the distributions next to the model's file (FILE.null.json): what synth,\n"
                              "demo and report use when no --null-input is given (tools/build-zoo.sh)"},
        {"description", "TEXT", "with --write-bundled: what the natural set is", ""},
        {"check-input", "DIR", "with --write-bundled: a small set whose null is stored too, to recompute", "", false, true},
        {"seed", "S", "seed for drawing pairs", "0"},
        {"batch", "B", "stimuli per forward pass", "16"},
        {"json", "", "print one JSON object"},
        {"shard", "K/N", "compute only shard K of N (0 <= K < N) of each distribution: the set cut into B blocks,\n"
                         "the pairs between two blocks one part, parts dealt round-robin; give each shard its own\n"
                         "--db, then `metamerlab merge OUT.db SHARD.db...` completes the distributions", ""},
        kNullMemory,
        kNullSpill,
        kDb}},
       cmd_null, EngineUse::device},
      {{"classify",
       "run a model over a stimulus set: each prediction and the accuracy per category",
       "The model judgments later compared with people. The true category is the parent folder's\n"
       "name. Judgments are recorded in the database.",
       {kModel,
        {"input", "DIR|FILES", "ImageFolder folder(s) or files", "", true, true},
        {"categories", "LIST", "restrict predictions to these classes (comma-separated)", "", false, true},
        {"json", "", "print one JSON object with predictions and overall and per-category accuracy"},
        {"batch", "B", "stimuli per forward pass", "16"},
        kDb}},
       cmd_classify, EngineUse::device},
      {{"info",
       "describe a model: modality, input, range, layers, classes",
       "",
       {kModel, {"json", "", "print one JSON object"}}},
       cmd_info, EngineUse::device},
      {{"trace",
       "how a metamer file was made: model, layer, seed, schedule, measures, command",
       "Looks the file (PNG, WAV or .npy) up by its SHA-256 in the database.",
       {kDb, {"json", "", "print one JSON object on one line"}},
       "FILE",
       true},
       cmd_trace, EngineUse::none},
      {{"merge",
       "combine the databases of synth or null shards (--shard K/N) into one",
       "Adds each SHARD.db's models, synthesis runs (with new ids), null distributions and metamers to\n"
       "OUT.db (created when missing), and the parts of null distributions (null --shard K/N): a\n"
       "distribution whose parts are then all present is recorded whole. Checked first: each input is a metamerlab database that passes\n"
       "PRAGMA integrity_check and holds synthesis records only, and every file its metamers name is\n"
       "present with the SHA-256 recorded. A metamer is keyed by its run's options (model SHA-256,\n"
       "schedule, seed, ...), its reference's SHA-256 and its layer: the same key with the same content\n"
       "is recorded once, with other content it is refused, naming both databases. All in one\n"
       "transaction: on any error OUT.db is left as it was. Merging again changes nothing.",
       {},
       "OUT.db SHARD.db...",
       true},
       cmd_merge, EngineUse::none},
      {{"dataset",
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
        {"icons", "DIR", "emoji16: folder with package-lock.json and node_modules/ (default: metamerlab's data folder)", ""},
        {"jobs", "N", "worker threads (0: three per core; the work mostly waits on I/O)", "0"},
        {"quiet", "", "no progress lines"}},
       "emoji16|words16",
       true,
       {"emoji16", "words16"}},
       cmd_dataset, EngineUse::none},
      {{"demo",
       "the bundled demo: metamers of the trained zoo models, their null tests and cross-model judgments",
       "The paper's method on the bundled sample (stimuli/samples: one held-out image or spoken word per\n"
       "category): metamers at four layers (conv1, stage2, stage3, logits) of the standard and the\n"
       "adversarially trained model of the modality, each tested against the null distribution and\n"
       "classified by the other model. Writes OUT/<model>/<layer>/<category>/, OUT/report.md and\n"
       "OUT/metamerlab.db; experiments/demo-images.toml (and demo-words.toml, after\n"
       "`demo --modality audio --out out/demo-words`) present them to people.",
       {{"out", "DIR", "output folder", "out/demo"},
        {"db", "FILE", "database (default OUT/metamerlab.db)", ""},
        {"modality", "", "emoji16 images or words16 clips", "image", false, false, {"image", "audio"}},
        {"iterations", "N", "steps per round (default: images 250, audio 100: every audio step runs the cochleagram)", ""},
        {"rounds", "R", "rounds at least (default: images 4, audio 3)", ""},
        {"max-rounds", "R", "then until converged, up to R rounds (0: exactly --rounds; default: images 8,\n"
                            "audio 12: its rounds are shorter)", ""}}},
       cmd_demo, EngineUse::device},
      {{"resave",
       "rewrite a network metamerlab train wrote in the current file format (recipe, data, metrics kept)",
       "Loads FILE and FILE.json (checking the recorded SHA-256), writes the weights again and updates\n"
       "the sidecar's SHA-256. For weights written by an older metamerlab (e.g. with the cochleagram's\n"
       "constant filters saved): the network and its outputs are unchanged.",
       {},
       "FILE",
       true},
       cmd_resave, EngineUse::threads},
      {{"report",
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
        {"rounds", "R", "rounds at least (the step halves after each)", "4"},
        {"max-rounds", "R", "then until converged, up to R rounds (0: exactly --rounds)", "12"},
        {"null-pairs", "N", "pairs of the null distribution when a model has no bundled null (default: 10^6,\n"
                            "or every ordered pair of the reference set)", ""}},
       "zoo",
       true,
       {"zoo"}},
       cmd_report, EngineUse::device},
      {{"train",
       "train metamerlab's image or audio network on a data set (standard or PGD adversarial)",
       "Loads DATA/train/<category>/* and DATA/test/<category>/* (as metamerlab dataset writes) into\n"
       "memory, trains the C++ network (image: ResNet-style CNN; audio: cochleagram + CNN), seeded\n"
       "and reproducible, with PGD adversarial training when --adversarial is l2 or linf. Checkpoints\n"
       "to OUT.ckpt; a killed run started again with the same command resumes identically. Ends with\n"
       "clean accuracy on the test split and accuracy under PGD at --eps, and writes OUT and OUT.json.",
       {{"data", "DIR", "data set folder with train/ and test/", "", true},
        {"modality", "", "which network", "", true, false, {"image", "audio"}},
        {"out", "FILE", "weights file (the sidecar is FILE.json)", "", true},
        {"epochs", "N", "passes over the training split", "10"},
        {"batch", "B", "batch size", "64"},
        {"lr", "LR", "peak learning rate", "0.05"},
        {"optimizer", "", "SGD with momentum 0.9, or Adam", "sgd", false, false, {"sgd", "adam"}},
        {"schedule", "", "cosine to 0, or x0.1 at 50% and 75%", "cosine", false, false, {"cosine", "step"}},
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
        {"adversarial", "", "PGD adversarial training norm", "none", false, false, {"none", "l2", "linf"}},
        {"eps", "E", "PGD eps (training, and the final attack)", ""},
        {"eval-norm", "", "norm of the final attack (default: --adversarial, else linf)", "", false, false, {"l2", "linf"}},
        {"pgd-steps", "K", "PGD steps", "5"},
        {"attack-space", "", "audio: PGD perturbs the waveform (input) or the cochleagram (the paper's\n"
                             "cochleagram-space robust networks; the front end is then computed once per item)",
         "input", false, false, {"input", "cochleagram"}},
        {"pgd-step-size", "A", "PGD step size (default eps/2)", ""},
        {"no-random-start", "", "start PGD at the input instead of a random point in the ball"},
        {"init", "FILE", "start from these weights (an earlier metamerlab train output): fine-tuning", ""},
        {"checkpoint-every", "N", "steps between checkpoints (0: none)", "50"},
        {"max-train", "N", "use at most N training items (timing)", ""},
        {"stop-after", "N", "testing: stop after N steps as if killed (resume later)", ""},
        {"quiet", "", "no progress lines"}}},
       cmd_train, EngineUse::threads},
  };
}

}  // namespace mm::app
