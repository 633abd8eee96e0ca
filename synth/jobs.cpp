// synth/jobs.cpp: synth, null, classify and demo jobs (torch-free orchestration).
//
// Sections
//   [SECTION] Helpers       loading sets, hashing sets, JSON, progress line
//   [SECTION] null
//   [SECTION] bundled nulls  the model's own nulls (FILE.null.json)
//   [SECTION] one metamer    test, files and record of one outcome (synth, live generation)
//   [SECTION] synth
//   [SECTION] classify
//   [SECTION] demo
//   [SECTION] trace
#include "synth/jobs.h"

#include "stimuli/resources.h"
#include "synth/report.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <new>
#include <sstream>

#include "analysis/accuracy.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mm::synth {

// [SECTION] Helpers -----------------------------------------------------------------------
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

stimuli::Modality modality_of(const ModelInfo& info) {
  return info.modality == "audio" ? stimuli::Modality::audio : stimuli::Modality::image;
}

// Loads every item through the model; the first bad file stops everything (nothing has
// been written yet at that point).
std::vector<stimuli::Array> load_all(const ModelHandle& m, const std::vector<stimuli::Item>& items, std::ostream& err) {
  std::vector<stimuli::Array> xs;
  xs.reserve(items.size());
  for (const auto& it : items) {
    std::string note;
    xs.push_back(m.load_stimulus(it.path, &note));
    if (!note.empty()) err << "note: " << it.path << ": " << note << "\n";
  }
  return xs;
}

// Loads every item once and keeps none (a large null set is streamed later): the first bad
// file stops everything before anything is written. Notes go to `err` here, once.
void check_all(const ModelHandle& m, const std::vector<stimuli::Item>& items, std::ostream& err) {
  for (const auto& it : items) {
    std::string note;
    m.load_stimulus(it.path, &note);
    if (!note.empty()) err << "note: " << it.path << ": " << note << "\n";
  }
}

// Stimulus i of `items`, loaded through the model when the null asks for it.
StimulusAt load_each(const ModelHandle& m, const std::vector<stimuli::Item>& items) {
  return [&m, &items](int64_t i) { return m.load_stimulus(items[static_cast<size_t>(i)].path); };
}
StimulusAt from_memory(const std::vector<stimuli::Array>& xs) {
  return [&xs](int64_t i) { return xs[static_cast<size_t>(i)]; };
}

std::string set_hash(const std::vector<stimuli::Item>& items, std::vector<std::string>* file_hashes = nullptr) {
  std::string all;
  for (const auto& it : items) {
    std::string h = data::sha256_file(it.path);
    if (file_hashes) file_hashes->push_back(h);
    all += it.category + ":" + h + "\n";
  }
  return data::sha256_hex(all.data(), all.size());
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string fmt(double v, int prec = 3) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v;
  return s.str();
}

std::string fmt_duration(double s) {
  if (!std::isfinite(s)) return "?";
  int t = static_cast<int>(s + 0.5);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
  else if (t >= 60) o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
  else o << t << "s";
  return o.str();
}

// A progress line: rewritten in place on a terminal, one line every `every_s` seconds
// otherwise (a log, or the workbench's synthesis queue reading one).
class ProgressLine {
 public:
  ProgressLine(std::ostream& err, bool enabled, double every_s)
      : err_(err), enabled_(enabled), tty_(::isatty(2)), every_s_(every_s) {}
  void update(const std::string& what, const SynthProgress& p) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (!tty_ && p.step != p.total && std::chrono::duration<double>(now - last_).count() < every_s_) return;
    last_ = now;
    std::ostringstream s;
    s << what << " layer " << p.layer << " step " << p.step << "/" << p.total << " round " << p.round + 1
      << " loss " << fmt(p.mean_loss, 4) << " elapsed " << fmt_duration(p.elapsed_s) << " ETA " << fmt_duration(p.eta_s);
    if (tty_) err_ << "\r" << s.str() << "\033[K" << std::flush;
    else err_ << s.str() << "\n" << std::flush;
    dirty_ = tty_;
  }
  void done() {
    if (dirty_) err_ << "\n" << std::flush;
    dirty_ = false;
  }

 private:
  std::ostream& err_;
  bool enabled_, tty_, dirty_ = false;
  double every_s_;
  Clock::time_point last_{};
};

std::string options_json(const SynthJob& job, const ModelInfo& info) {
  json j;
  j["model_sha256"] = info.sha256;
  j["model"] = info.spec;
  j["optimizer"] = job.opt.optimizer == Optimizer::gd ? "gd" : "adam";
  j["loss"] = job.opt.loss == Loss::l2norm ? "l2norm" : "mse";
  j["rounds"] = job.opt.rounds;
  if (job.opt.max_rounds > job.opt.rounds) {
    j["until_converged_max_rounds"] = job.opt.max_rounds;
    j["until_converged_tol"] = job.opt.converge_tol;  // decides where each metamer is frozen
  }
  j["iterations_per_round"] = job.opt.iterations;
  j["step"] = job.opt.step_for_round(0);
  j["step_schedule"] = "halves each round";
  j["seed"] = job.opt.seed;
  j["fake_relu"] = job.opt.fake_relu;
  j["batch"] = job.batch;
  j["categories"] = job.categories;
  j["null_pairs"] = job.null_pairs;
  j["null_seed"] = job.null_seed;
  if (info.modality == "audio") j["audio_init_sigma"] = job.opt.audio_init_sigma;
  return j.dump();
}

std::string safe_name(std::string s) {
  for (auto& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
  return s;
}

}  // namespace

data::ModelRecord model_record(const ModelInfo& info) {
  data::ModelRecord r;
  r.spec = info.spec;
  r.path = info.path.empty() ? "" : fs::absolute(info.path).string();
  r.sha256 = info.sha256;
  r.modality = info.modality;
  r.info_json = info.json;
  return r;
}

// [SECTION] null --------------------------------------------------------------------------
NullEntry null_for_layer(const ModelHandle& m, data::Store& store, int64_t model_id, const std::string& layer,
                         const std::vector<stimuli::Item>& items, const StimulusAt& naturals,
                         const std::string& set_description, int64_t pairs, uint64_t seed, int batch,
                         const NullMemory& memory) {
  NullEntry e;
  e.layer = layer;
  std::string sh = set_hash(items);
  if (pairs == kAutoPairs) {  // what null_distribution will use: 10^6, or every ordered pair of a smaller set
    const int64_t n = static_cast<int64_t>(items.size());
    pairs = n * (n - 1) <= kPaperPairs ? kAutoPairs : kPaperPairs;
    if (pairs == kAutoPairs) {
      if (auto found = store.find_null(m.info().sha256, layer, sh, n * (n - 1), static_cast<int64_t>(seed))) {
        e.id = found->first;
        e.rec = found->second;
        e.cached = true;
        return e;
      }
    }
  }
  if (auto found = pairs == kAutoPairs ? std::nullopt
                                       : store.find_null(m.info().sha256, layer, sh, pairs, static_cast<int64_t>(seed))) {
    e.id = found->first;
    e.rec = found->second;
    e.cached = true;
    return e;
  }
  auto t0 = Clock::now();
  NullStats st = null_distribution(m, layer, static_cast<int64_t>(items.size()), naturals, pairs, seed, batch, memory);
  data::NullRecord& r = e.rec;
  r.model_id = model_id;
  r.model_sha256 = m.info().sha256;
  r.layer = layer;
  r.stimulus_set = set_description;
  r.set_sha256 = sh;
  r.pairs = st.pairs;  // as used (kAutoPairs resolved)
  r.seed = static_cast<int64_t>(seed);
  r.spearman_max = st.spearman_max;
  r.pearson_max = st.pearson_max;
  r.snr_max = st.snr_max;
  r.spearman_mean = st.spearman_mean;
  r.pearson_mean = st.pearson_mean;
  r.snr_mean = st.snr_mean;
  r.program_version = program_version();
  r.wall_s = seconds_since(t0);
  e.id = store.add_null(r);
  return e;
}

std::string natural_set_sha256(const std::vector<stimuli::Item>& items) { return set_hash(items); }

// [SECTION] bundled nulls -----------------------------------------------------------------
std::string bundled_null_path(const ModelInfo& info) { return info.path.empty() ? "" : info.path + ".null.json"; }

namespace {

json stats_json(const NullStats& st) {
  return {{"spearman_max", st.spearman_max}, {"pearson_max", st.pearson_max}, {"snr_db_max", st.snr_max},
          {"spearman_mean", st.spearman_mean}, {"pearson_mean", st.pearson_mean}, {"snr_db_mean", st.snr_mean},
          {"pairs", st.pairs}, {"stimuli", st.stimuli}};
}

NullStats stats_of(const json& j) {
  NullStats st;
  st.spearman_max = j.at("spearman_max").get<double>();
  st.pearson_max = j.at("pearson_max").get<double>();
  st.snr_max = j.at("snr_db_max").get<double>();
  st.spearman_mean = j.at("spearman_mean").get<double>();
  st.pearson_mean = j.at("pearson_mean").get<double>();
  st.snr_mean = j.at("snr_db_mean").get<double>();
  st.pairs = j.at("pairs").get<int64_t>();
  st.stimuli = j.at("stimuli").get<int64_t>();
  return st;
}

// A batch that does not fit in memory (torch's allocator, or operator new) becomes one line
// naming --batch; an error raised inside a TorchScript model becomes its own message (the
// interpreter's first line says only that an operation failed).
template <class F>
auto within_memory(const std::string& layer, size_t refs, int batch, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    const std::string w = e.what();
    const bool oom = dynamic_cast<const std::bad_alloc*>(&e) != nullptr ||
                     w.find("can't allocate memory") != std::string::npos ||
                     w.find("Cannot allocate memory") != std::string::npos;
    if (oom) {
      std::string tried;
      if (const auto at = w.find("you tried to allocate "); at != std::string::npos) {
        const auto end = w.find(" bytes", at);
        if (end != std::string::npos) {
          const std::string n = w.substr(at + 22, end - at - 22);
          try {
            tried = " (it asked for " + std::to_string(std::stoll(n) / (1 << 20)) + " MB more)";
          } catch (const std::exception&) {
          }
        }
      }
      throw std::runtime_error("layer " + layer + ": a batch of " + std::to_string(refs) +
                               " reference(s) does not fit in this machine's memory" + tried +
                               "; pass a smaller --batch (this run: --batch " + std::to_string(batch) +
                               "); started again, the run resumes where it stopped");
    }
    if (w.rfind("The following operation failed in the TorchScript interpreter", 0) == 0) {
      const auto at = w.rfind("RuntimeError: ");
      if (at != std::string::npos) {
        std::string msg = w.substr(at + 14);
        msg = msg.substr(0, msg.find('\n'));
        throw std::runtime_error("layer " + layer + ": the model failed: " + msg);
      }
    }
    throw;
  }
}

// One line (a line of the command's output, or "" when the null is large enough) when a
// null comes from too few stimuli or pairs to be the paper's success test.
std::string small_null_warning(const std::string& what, int64_t stimuli, int64_t pairs) {
  if (stimuli >= 100 && pairs >= 100000) return "";
  return "warning: " + what + " comes from " + std::to_string(stimuli) + " natural stimuli and " +
         std::to_string(pairs) +
         " pairs, too few for the paper's success test; give --null-input DIR (at least 100, ideally 1,000 natural "
         "stimuli the model never trained on) and --null-pairs 1000000";
}

}  // namespace

// The bundled null of one layer as the store records nulls (so metamers point at it).
NullEntry bundled_null_entry(const BundledNull& b, const ModelHandle& m, data::Store& store, int64_t model_id,
                        const std::string& layer) {
  NullEntry e;
  e.layer = layer;
  if (auto found = store.find_null(m.info().sha256, layer, b.set_sha256, b.pairs, static_cast<int64_t>(b.seed))) {
    e.id = found->first;
    e.rec = found->second;
    e.cached = true;
    return e;
  }
  const NullStats& st = b.layers.at(layer);
  data::NullRecord& r = e.rec;
  r.model_id = model_id;
  r.model_sha256 = m.info().sha256;
  r.layer = layer;
  r.stimulus_set = "bundled: " + b.description;
  r.set_sha256 = b.set_sha256;
  r.pairs = b.pairs;
  r.seed = static_cast<int64_t>(b.seed);
  r.spearman_max = st.spearman_max;
  r.pearson_max = st.pearson_max;
  r.snr_max = st.snr_max;
  r.spearman_mean = st.spearman_mean;
  r.pearson_mean = st.pearson_mean;
  r.snr_mean = st.snr_mean;
  r.program_version = program_version();
  e.id = store.add_null(r);
  e.cached = true;
  return e;
}

std::optional<BundledNull> load_bundled_null(const ModelInfo& info) {
  const std::string path = bundled_null_path(info);
  std::error_code ec;
  if (path.empty() || !fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream f(path);
  BundledNull b;
  b.path = path;
  try {
    const json j = json::parse(f);
    if (j.value("format", "") != "metamerlab-null/1")
      throw std::runtime_error("not a metamerlab-null/1 file");
    b.model_sha256 = j.at("model_sha256").get<std::string>();
    b.description = j.at("set").at("description").get<std::string>();
    b.set_sha256 = j.at("set").at("sha256").get<std::string>();
    b.stimuli = j.at("set").at("stimuli").get<int64_t>();
    b.pairs = j.at("pairs").get<int64_t>();
    b.seed = j.at("seed").get<uint64_t>();
    for (auto it = j.at("layers").begin(); it != j.at("layers").end(); ++it) b.layers[it.key()] = stats_of(it.value());
    if (j.contains("check")) {
      const json& c = j["check"];
      b.check_description = c.at("set").at("description").get<std::string>();
      b.check_sha256 = c.at("set").at("sha256").get<std::string>();
      b.check_stimuli = c.at("set").at("stimuli").get<int64_t>();
      b.check_pairs = c.at("pairs").get<int64_t>();
      b.check_seed = c.at("seed").get<uint64_t>();
      for (auto it = c.at("layers").begin(); it != c.at("layers").end(); ++it)
        b.check_layers[it.key()] = stats_of(it.value());
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": malformed bundled null distributions (" + std::string(e.what()).substr(0, 120) +
                             "); rebuild them with tools/build-zoo.sh or remove the file");
  }
  if (b.model_sha256 != info.sha256)
    throw std::runtime_error(path + ": bundled null distributions of other weights (model SHA-256 differs); rebuild them "
                                    "with tools/build-zoo.sh or remove the file");
  return b;
}

namespace {
// null --shard K/N: this shard's parts of each layer's distribution.
void run_null_shard(const NullJob& job, const ModelHandle& m, data::Store& store, int64_t model_id,
                    const std::vector<std::string>& layers, const std::vector<stimuli::Item>& items, std::ostream& out) {
  if (job.write_bundled)
    throw std::runtime_error("null: --shard and --write-bundled do not go together; merge the shards' databases, then "
                             "run null --write-bundled with the merged --db");
  const int64_t n = static_cast<int64_t>(items.size());
  const int64_t blocks = null_blocks_for_shards(job.shards), units = null_units(blocks);
  if (blocks > n)
    throw std::runtime_error("null: " + std::to_string(job.shards) + " shards cut the natural set into " +
                             std::to_string(blocks) + " blocks, more than its " + std::to_string(n) +
                             " stimuli; give fewer shards");
  const int64_t pairs = job.pairs != kAutoPairs ? job.pairs : (n * (n - 1) <= kPaperPairs ? n * (n - 1) : kPaperPairs);
  const std::string sh = set_hash(items);
  const StimulusAt naturals = load_each(m, items);
  json jl = json::object();
  for (const auto& layer : layers) {
    std::set<int64_t> have;
    for (const auto& p : store.null_parts(m.info().sha256, layer, sh, pairs, static_cast<int64_t>(job.seed), blocks))
      have.insert(p.unit);
    json ju = json::array();
    int64_t computed = 0, before = 0;
    for (int64_t u = job.shard; u < units; u += job.shards) {
      ju.push_back(u);
      if (have.count(u)) {
        ++before;
        continue;
      }
      const auto t0 = Clock::now();
      const NullPart p = null_distribution_part(m, layer, n, naturals, job.pairs, job.seed, blocks, u, job.batch, job.memory);
      data::NullPartRecord r;
      r.model_id = model_id;
      r.model_sha256 = m.info().sha256;
      r.layer = layer;
      r.stimulus_set = join(job.inputs, ",");
      r.set_sha256 = sh;
      r.pairs = p.pairs;
      r.seed = static_cast<int64_t>(job.seed);
      r.stimuli = p.stimuli;
      r.blocks = p.blocks;
      r.unit = p.unit;
      r.unit_pairs = p.unit_pairs;
      r.spearman_max = p.spearman_max, r.pearson_max = p.pearson_max, r.snr_max = p.snr_max;
      r.spearman_sum = p.spearman_sum, r.pearson_sum = p.pearson_sum, r.snr_sum = p.snr_sum;
      r.program_version = program_version();
      r.wall_s = seconds_since(t0);
      store.add_null_part(r);
      ++computed;
    }
    jl[layer] = {{"units", ju}, {"computed", computed}, {"recorded_before", before}};
  }
  const int64_t completed = store.complete_nulls();
  if (job.json) {
    out << json{{"model", m.info().spec}, {"model_sha256", m.info().sha256}, {"stimuli", n}, {"pairs", pairs},
                {"seed", job.seed}, {"shard", job.shard}, {"shards", job.shards}, {"blocks", blocks},
                {"units", units}, {"layers", jl}, {"completed", completed}}
               .dump()
        << "\n";
    return;
  }
  out << "null distribution shard " << job.shard << "/" << job.shards << ": " << m.info().spec << ", " << n
      << " natural stimuli in " << blocks << " blocks (" << units << " parts per layer), " << pairs << " pairs, seed "
      << job.seed << "\n";
  for (const auto& layer : layers) {
    const auto& e = jl[layer];
    out << "  " << layer << ": parts " << e["units"].dump() << ", " << e["computed"].get<int64_t>() << " computed, "
        << e["recorded_before"].get<int64_t>() << " recorded before\n";
  }
  if (completed > 0)
    out << completed << " null distribution(s) complete in " << job.db << "\n";
  else
    out << "merge the shards' databases (metamerlab merge OUT.db SHARD.db...) to complete the distributions\n";
}
}  // namespace

std::vector<NullEntry> run_null_job(const NullJob& job, std::ostream& out, std::ostream& err) {
  auto m = ModelHandle::open(job.model, job.device);
  std::vector<std::string> layers = job.layers;
  if (layers.size() == 1 && layers[0] == "all") layers = m.info().layers;
  m.check_layers(layers);
  if (job.write_bundled && bundled_null_path(m.info()).empty())
    throw std::runtime_error(job.model + ": has no model file to bundle null distributions with");
  auto items = stimuli::list_stimuli(job.inputs, modality_of(m.info()));
  check_all(m, items, err);
  data::Store store(job.db);
  int64_t model_id = store.upsert_model(model_record(m.info()));
  if (job.shards > 0) {
    run_null_shard(job, m, store, model_id, layers, items, out);
    return {};
  }
  std::vector<NullEntry> res;
  const auto t0 = Clock::now();
  for (const auto& layer : layers)
    res.push_back(null_for_layer(m, store, model_id, layer, items, load_each(m, items), join(job.inputs, ","), job.pairs,
                                 job.seed, job.batch, job.memory));
  const std::string warning =
      res.empty() ? "" : small_null_warning("this null distribution", static_cast<int64_t>(items.size()), res[0].rec.pairs);
  if (job.write_bundled) {
    json j;
    j["format"] = "metamerlab-null/1";
    j["model"] = m.info().spec;
    j["model_sha256"] = m.info().sha256;
    j["set"] = {{"description", job.description.empty() ? join(job.inputs, ",") : job.description},
                {"stimuli", items.size()}, {"sha256", set_hash(items)}};
    j["pairs"] = res.empty() ? 0 : res[0].rec.pairs;
    j["seed"] = job.seed;
    for (const auto& e : res) {
      NullStats st;
      st.spearman_max = e.rec.spearman_max, st.pearson_max = e.rec.pearson_max, st.snr_max = e.rec.snr_max;
      st.spearman_mean = e.rec.spearman_mean, st.pearson_mean = e.rec.pearson_mean, st.snr_mean = e.rec.snr_mean;
      st.pairs = e.rec.pairs;
      st.stimuli = static_cast<int64_t>(items.size());
      j["layers"][e.layer] = stats_json(st);
    }
    if (!job.check_inputs.empty()) {
      auto citems = stimuli::list_stimuli(job.check_inputs, modality_of(m.info()));
      check_all(m, citems, err);
      json c;
      c["set"] = {{"description", join(job.check_inputs, ",")}, {"stimuli", citems.size()}, {"sha256", set_hash(citems)}};
      c["pairs"] = job.check_pairs;
      c["seed"] = job.seed;
      for (const auto& layer : layers)
        c["layers"][layer] = stats_json(null_distribution(m, layer, static_cast<int64_t>(citems.size()), load_each(m, citems),
                                                       job.check_pairs, job.seed, job.batch, job.memory));
      j["check"] = c;
    }
    j["program_version"] = program_version();
    j["wall_s"] = seconds_since(t0);
    stimuli::write_file_atomic(bundled_null_path(m.info()), j.dump(2) + "\n");
    out << "wrote " << bundled_null_path(m.info()) << "\n";
  }
  if (job.json) {
    json j;
    j["model"] = m.info().spec;
    j["model_sha256"] = m.info().sha256;
    j["stimuli"] = items.size();
    if (!warning.empty()) j["warning"] = warning;
    for (const auto& e : res) {
      j["layers"][e.layer] = {{"pairs", e.rec.pairs},          {"seed", e.rec.seed},
                              {"cached", e.cached},            {"null_id", e.id},
                              {"spearman_max", e.rec.spearman_max}, {"pearson_max", e.rec.pearson_max},
                              {"snr_db_max", e.rec.snr_max},   {"spearman_mean", e.rec.spearman_mean},
                              {"pearson_mean", e.rec.pearson_mean}, {"snr_db_mean", e.rec.snr_mean}};
    }
    out << j.dump() << "\n";
  } else {
    out << "null distribution: " << m.info().spec << ", " << items.size() << " natural stimuli, "
        << (res.empty() ? job.pairs : res[0].rec.pairs) << " pairs, seed " << job.seed << "\n";
    out << std::left << std::setw(14) << "layer" << std::setw(22) << "spearman max/mean" << std::setw(22)
        << "pearson max/mean" << std::setw(22) << "snr_db max/mean" << "source\n";
    for (const auto& e : res)
      out << std::left << std::setw(14) << e.layer << std::setw(22)
          << (fmt(e.rec.spearman_max) + " / " + fmt(e.rec.spearman_mean)) << std::setw(22)
          << (fmt(e.rec.pearson_max) + " / " + fmt(e.rec.pearson_mean)) << std::setw(22)
          << (fmt(e.rec.snr_max, 2) + " / " + fmt(e.rec.snr_mean, 2)) << (e.cached ? "cache" : "computed") << "\n";
  }
  // The warning is a diagnostic: one line on the error stream (and a field of the JSON).
  if (!warning.empty() && !job.json) err << warning << "\n";
  return res;
}

// [SECTION] one metamer -------------------------------------------------------------------
data::MetamerRecord tested_metamer(const ModelInfo& info, const SynthOutcome& o, const Similarity& s,
                                   const std::string& pred_metamer, const std::string& pred_reference,
                                   const NullEntry& null, const std::string& file_base) {
  data::MetamerRecord r;
  r.iterations = o.iterations;
  r.final_loss = o.final_loss;
  r.converged = o.converged ? 1 : 0;
  json curve = json::array();
  for (const auto& [step, loss] : o.loss_curve) curve.push_back({step, std::isfinite(loss) ? json(loss) : json(nullptr)});
  r.loss_curve_json = curve.dump();
  r.spearman = s.spearman;
  r.pearson = s.pearson;
  r.snr_db = s.snr_db;
  r.null_spearman_max = null.rec.spearman_max;
  r.null_pearson_max = null.rec.pearson_max;
  r.null_snr_max = null.rec.snr_max;
  r.null_id = null.id;
  r.pred_metamer = pred_metamer;
  r.pred_reference = pred_reference;
  r.passed = !o.nonfinite && s.spearman > null.rec.spearman_max && s.pearson > null.rec.pearson_max &&
             s.snr_db > null.rec.snr_max && r.pred_metamer == r.pred_reference;
  r.status = o.nonfinite ? "nan" : (r.passed ? "ok" : "failed");
  if (o.nonfinite) {
    r.message = o.message;
  } else if (!r.passed) {
    std::vector<std::string> why;
    if (!(s.spearman > null.rec.spearman_max)) why.push_back("spearman not above null max");
    if (!(s.pearson > null.rec.pearson_max)) why.push_back("pearson not above null max");
    if (!(s.snr_db > null.rec.snr_max)) why.push_back("snr not above null max");
    if (r.pred_metamer != r.pred_reference) why.push_back("predicted class differs");
    r.message = join(why, "; ");
  }
  if (info.modality == "image") {
    r.png_path = file_base + ".png";
    stimuli::save_png(r.png_path, o.metamer, info.lo, info.hi);
    r.png_sha256 = data::sha256_file(r.png_path);
  } else {
    r.wav_path = file_base + ".wav";
    stimuli::save_wav_float(r.wav_path, o.metamer, info.sample_rate);
    r.wav_sha256 = data::sha256_file(r.wav_path);
  }
  r.float_path = file_base + ".npy";
  stimuli::save_npy(r.float_path, o.metamer);
  r.float_sha256 = data::sha256_file(r.float_path);
  return r;
}

// [SECTION] synth -------------------------------------------------------------------------
SynthJobResult run_synth_job(const SynthJob& job_in, std::ostream& out, std::ostream& err) {
  auto t_run = Clock::now();
  auto m = ModelHandle::open(job_in.model, job_in.device);
  const ModelInfo& info = m.info();
  SynthJob job = job_in;
  if (job.layers.size() == 1 && job.layers[0] == "all") job.layers = info.layers;  // every layer of the model
  m.check_layers(job.layers);
  if (job.batch < 1) throw std::runtime_error("--batch must be at least 1");
  if (job.shards < 1 || job.shard < 0 || job.shard >= job.shards)
    throw std::runtime_error("--shard must be K/N with 0 <= K < N");
  if (!job.categories.empty()) m.classify({}, job.categories);  // validates the names
  auto items = stimuli::list_stimuli(job.inputs, modality_of(info));
  auto refs = load_all(m, items, err);
  std::vector<std::string> ref_sha;
  set_hash(items, &ref_sha);
  // The null: --null-input's set, else the model's bundled null, else the references.
  const std::optional<BundledNull> bundle =
      job.null_inputs.empty() && job.bundled_null ? load_bundled_null(info) : std::nullopt;
  std::vector<stimuli::Item> null_items = job.null_inputs.empty() ? items : stimuli::list_stimuli(job.null_inputs, modality_of(info));
  if (!job.null_inputs.empty()) check_all(m, null_items, err);  // streamed from disk when the null is computed
  const StimulusAt naturals = job.null_inputs.empty() ? from_memory(refs) : load_each(m, null_items);
  bool need_computed = !bundle;
  for (const auto& l : job.layers) need_computed = need_computed || !bundle->layers.count(l);
  if (need_computed && null_items.size() < 2)
    throw std::runtime_error("the null distribution needs at least 2 natural stimuli; add --null-input DIR with more");

  stimuli::ensure_writable_dir(job.out_dir);
  const std::string out_abs = fs::absolute(job.out_dir).lexically_normal().string();
  data::Store store(job.db);
  int64_t model_id = store.upsert_model(model_record(info));
  const std::string opts = options_json(job, info);
  data::SynthRunRecord run;
  run.model_id = model_id;
  run.command = job.command_line;
  run.options_json = opts;
  run.out_dir = out_abs;
  run.program_version = program_version();
  SynthJobResult res;
  if (int n = store.mark_interrupted_runs(opts, out_abs))
    out << "an earlier run with these options into " << out_abs << " was interrupted (" << n << " run record(s) marked)\n";
  res.run_id = store.begin_synth_run(run);

  // Unique output names per category.
  std::vector<std::string> names(items.size());
  {
    std::map<std::string, int> seen;
    for (size_t i = 0; i < items.size(); ++i) {
      std::string stem = safe_name(fs::path(items[i].path).stem().string());
      std::string k = items[i].category + "/" + stem;
      int n = seen[k]++;
      names[i] = n ? stem + "-" + std::to_string(n) : stem;
    }
  }

  // Work units (--shard): a batch of references at one layer, numbered in loop order.
  const size_t batches = (items.size() + job.batch - 1) / job.batch;
  auto owned = [&](size_t layer_index, size_t b) { return shard_owns(layer_index * batches + b / job.batch, job.shard, job.shards); };
  if (job.shards > 1) {
    size_t mine = 0, refs_mine = 0;
    for (size_t li = 0; li < job.layers.size(); ++li)
      for (size_t b = 0; b < items.size(); b += job.batch)
        if (owned(li, b)) ++mine, refs_mine += std::min(items.size(), b + job.batch) - b;
    out << "shard " << job.shard << "/" << job.shards << ": " << mine << " of " << job.layers.size() * batches
        << " work unit(s) (a batch of " << job.batch << " reference(s) at one layer), " << refs_mine << " metamer(s)\n";
  }

  ProgressLine pl(err, job.progress, job.progress_every_s);
  const std::string ckpt_dir = out_abs + "/.checkpoints";
  bool interrupted = false;  // by --stop-after: the run is recorded as interrupted, not failed
  try {
    bool warned = false;
    for (size_t li = 0; li < job.layers.size(); ++li) {
      const std::string& layer = job.layers[li];
      bool any = false;  // this shard has work at this layer
      for (size_t b = 0; b < items.size() && !any; b += job.batch) any = owned(li, b);
      if (!any) continue;
      const bool bundled = bundle && bundle->layers.count(layer);
      NullEntry null = bundled ? bundled_null_entry(*bundle, m, store, model_id, layer)
                               : null_for_layer(m, store, model_id, layer, null_items, naturals,
                                                join(job.null_inputs.empty() ? job.inputs : job.null_inputs, ","),
                                                job.null_pairs, job.null_seed, 16, job.null_memory);
      const int64_t null_stimuli = bundled ? bundle->stimuli : static_cast<int64_t>(null_items.size());
      out << "layer " << layer << ": null over " << null.rec.pairs << " pairs" << (null.cached && !bundled ? " (cached)" : "")
          << ": max spearman " << fmt(null.rec.spearman_max) << ", pearson " << fmt(null.rec.pearson_max) << ", snr "
          << fmt(null.rec.snr_max, 2) << " dB; " << null_stimuli << " natural stimuli"
          << (bundled ? ", bundled with the model (" + bundle->description + ")" : "") << "\n";
      if (!warned) {
        const std::string w = small_null_warning("the null distribution of layer " + layer, null_stimuli, null.rec.pairs);
        // A line of the run's report, beside the null it is about (stderr stays for errors).
        if (!w.empty()) out << w << "\n";
        warned = true;
      }
      // What is already done (resume).
      std::vector<size_t> pending;
      std::vector<bool> made(items.size(), false);
      size_t mine_at_layer = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!owned(li, i - i % job.batch)) continue;  // another shard's
        ++mine_at_layer;
        auto done = store.find_metamer(opts, out_abs, ref_sha[i], layer);
        bool files_ok = done && !done->float_path.empty() && fs::exists(done->float_path) &&
                        data::sha256_file(done->float_path) == done->float_sha256;
        if (files_ok) {
          ++res.resumed;
          ++res.total;
          res.passed += done->passed;
          res.failed += (!done->passed && done->status != "nan");
          res.nonfinite += done->status == "nan";
          res.metamers.push_back(*done);
          made[i] = true;
        } else {
          pending.push_back(i);
        }
      }
      if (pending.size() < mine_at_layer)
        out << "layer " << layer << ": " << mine_at_layer - pending.size() << " metamer(s) already made by an earlier run; resuming\n";
      // The batches of an uninterrupted run, always: a metamer's bits depend on the batch it
      // was optimized in, so a batch that is partly recorded (killed while saving) is made
      // again whole (from its checkpoint) and only its missing metamers are recorded.
      size_t pending_done = 0;
      for (size_t b = 0; b < items.size(); b += job.batch) {
        if (!owned(li, b)) continue;  // another shard's unit
        std::vector<size_t> idx;
        size_t missing = 0;
        for (size_t i = b; i < std::min(items.size(), b + job.batch); ++i) {
          idx.push_back(i);
          missing += !made[i];
        }
        std::string ckpt = ckpt_dir + "/" + safe_name(layer) + "-" + ref_sha[idx[0]].substr(0, 16) + ".pt";
        if (!missing) {
          std::error_code ec;
          fs::remove(ckpt, ec);  // left by a run killed after recording the batch
          continue;
        }
        pending_done += missing;
        std::vector<stimuli::Array> batch_refs;
        for (auto i : idx) batch_refs.push_back(refs[i]);
        stimuli::ensure_writable_dir(ckpt_dir);
        auto t0 = Clock::now();
        std::string what = "[" + std::to_string(pending_done) + "/" + std::to_string(pending.size()) + "]";
        auto outcomes = within_memory(layer, idx.size(), job.batch, [&] {
          return synthesize(m, layer, batch_refs, job.opt, ckpt, [&](const SynthProgress& p) { pl.update(what, p); });
        });
        pl.done();
        if (outcomes.empty()) {
          interrupted = true;
          throw std::runtime_error("interrupted by --stop-after " + std::to_string(job.opt.stop_after) +
                                   "; run the command again without --stop-after to resume");
        }
        double wall = seconds_since(t0) / idx.size();
        // Success test: similarity at the layer and predicted classes.
        std::vector<stimuli::Array> both;
        for (auto& o : outcomes) both.push_back(o.metamer);
        for (auto& r : batch_refs) both.push_back(r);
        auto acts = within_memory(layer, idx.size(), job.batch, [&] { return m.activations(both, layer); });
        auto preds = within_memory(layer, idx.size(), job.batch, [&] { return m.classify(both, job.categories); });
        const size_t n = idx.size();
        for (size_t k = 0; k < n; ++k) {
          size_t i = idx[k];
          if (made[i]) continue;  // recorded by an earlier run
          const auto& o = outcomes[k];
          const Similarity s = similarity(acts[n + k], acts[k]);
          std::string base = out_abs + "/" + safe_name(layer) + "/" + safe_name(items[i].category);
          stimuli::ensure_writable_dir(base);
          data::MetamerRecord r = tested_metamer(info, o, s, preds[k].label, preds[n + k].label, null, base + "/" + names[i]);
          r.run_id = res.run_id;
          r.reference_path = fs::absolute(items[i].path).string();
          r.reference_sha256 = ref_sha[i];
          r.category = items[i].category;
          r.layer = layer;
          r.seed = static_cast<int64_t>(job.opt.seed);
          r.wall_s = wall;
          store.add_metamer(r);
          ++res.total;
          res.passed += r.passed;
          res.converged += o.converged;
          res.failed += r.status == "failed";
          res.nonfinite += r.status == "nan";
          if (o.nonfinite) err << "warning: " << items[i].path << " at layer " << layer << ": " << o.message << "\n";
          out << (r.passed ? "PASS " : (o.nonfinite ? "NAN  " : "FAIL ")) << layer << " " << items[i].category << "/"
              << names[i] << "  loss " << fmt(r.final_loss, 4) << (o.converged ? " (converged)" : " (not converged)")
              << "  spearman " << fmt(s.spearman) << "  pearson "
              << fmt(s.pearson) << "  snr " << fmt(s.snr_db, 2) << " dB  pred " << r.pred_metamer << " (ref "
              << r.pred_reference << ")" << (r.message.empty() ? "" : "  [" + r.message + "]") << "\n";
          res.metamers.push_back(r);
        }
        std::error_code ec;
        fs::remove(ckpt, ec);
      }
    }
  } catch (...) {
    pl.done();
    try {
      store.finish_synth_run(res.run_id, interrupted ? "interrupted" : "failed", seconds_since(t_run));
    } catch (...) {
    }
    throw;
  }
  store.finish_synth_run(res.run_id, "done", seconds_since(t_run));
  std::error_code ec;
  fs::remove(ckpt_dir, ec);  // only if empty
  out << "done: " << res.total << " metamer(s), " << res.passed << " passed, " << res.failed << " failed the test, "
      << res.nonfinite << " stopped on NaN/Inf, " << res.resumed << " resumed; " << res.converged << " of "
      << res.total - res.resumed << " made now converged (the last round lowered the loss by less than " << fmt(100 * job.opt.converge_tol, 0)
      << "% of its start); outputs in " << out_abs
      << "; recorded in " << job.db << " (run " << res.run_id << ")\n";
  return res;
}

// [SECTION] classify ----------------------------------------------------------------------
int run_classify_job(const ClassifyJob& job, std::ostream& out, std::ostream& err) {
  auto m = ModelHandle::open(job.model, job.device);
  auto items = stimuli::list_stimuli(job.inputs, modality_of(m.info()));
  auto xs = load_all(m, items, err);
  auto preds = m.classify(xs, job.categories, job.batch);
  std::vector<analysis::Judgment> js;
  std::vector<data::JudgmentRecord> recs;
  for (size_t i = 0; i < items.size(); ++i) {
    js.push_back({items[i].category, preds[i].label});
    data::JudgmentRecord r;
    r.stimulus_path = fs::absolute(items[i].path).string();
    r.stimulus_sha256 = data::sha256_file(items[i].path);
    r.category = items[i].category;
    r.predicted = preds[i].label;
    r.correct = r.category == r.predicted;
    recs.push_back(r);
  }
  auto sum = analysis::summarize(js);
  if (!job.db.empty()) {
    data::Store store(job.db);
    data::JudgmentRunRecord jr;
    jr.model_id = store.upsert_model(model_record(m.info()));
    jr.stimulus_set = join(job.inputs, ",");
    jr.restricted_to = join(job.categories, ",");
    jr.program_version = program_version();
    int64_t id = store.begin_judgment_run(jr);
    for (auto& r : recs) r.judgment_run_id = id;
    store.add_judgments(recs);
  }
  if (job.json) {
    json j;
    j["model"] = m.info().spec;
    j["model_sha256"] = m.info().sha256;
    j["restricted_to"] = job.categories;
    j["stimuli"] = json::array();
    for (size_t i = 0; i < items.size(); ++i)
      j["stimuli"].push_back({{"path", items[i].path},
                              {"category", items[i].category},
                              {"predicted", preds[i].label},
                              {"score", preds[i].score},
                              {"correct", items[i].category == preds[i].label}});
    j["accuracy"] = sum.overall.proportion();
    j["n"] = sum.overall.n;
    j["correct"] = sum.overall.correct;
    j["per_category"] = json::object();
    for (const auto& [c, a] : sum.per_category)
      j["per_category"][c] = {{"n", a.n}, {"correct", a.correct}, {"accuracy", a.proportion()}};
    out << j.dump() << "\n";
  } else {
    for (size_t i = 0; i < items.size(); ++i)
      out << (items[i].category == preds[i].label ? "ok   " : "miss ") << items[i].path << "  " << items[i].category
          << " -> " << preds[i].label << "\n";
    out << "accuracy " << fmt(sum.overall.proportion()) << " (" << sum.overall.correct << "/" << sum.overall.n << ")\n";
    for (const auto& [c, a] : sum.per_category)
      out << "  " << std::left << std::setw(16) << c << fmt(a.proportion()) << " (" << a.correct << "/" << a.n << ")\n";
  }
  return 0;
}

// [SECTION] demo --------------------------------------------------------------------------
std::string samples_dir() {
  if (const char* env = std::getenv("METAMERLAB_SAMPLES"); env && *env) return env;
  const std::string d = stimuli::data_path("stimuli/samples", "the bundled samples");
  if (!fs::is_directory(d))
    throw std::runtime_error(d + ": the bundled samples are missing; reinstall metamerlab or set METAMERLAB_SAMPLES");
  return d;
}

int run_demo_job(const DemoJob& job, std::ostream& out, std::ostream& err) {
  if (job.modality != "image" && job.modality != "audio")
    throw std::runtime_error("--modality must be image or audio, not \"" + job.modality + "\"");
  const bool audio = job.modality == "audio";
  const std::string samples = job.samples_dir.empty() ? samples_dir() : job.samples_dir;
  ZooReportJob r;
  r.models = audio ? std::vector<std::string>{"zoo:words16-standard", "zoo:words16-robust"}
                   : std::vector<std::string>{"zoo:emoji16-standard", "zoo:emoji16-robust"};
  r.layers = {"conv1", "stage2", "stage3", "logits"};
  const std::string set_dir = (fs::path(samples) / (audio ? "words16" : "emoji16")).string();
  (audio ? r.words16_dir : r.emoji16_dir) = set_dir;
  r.out_dir = job.out_dir;
  r.db = job.db;
  r.iterations = job.iterations;
  r.rounds = job.rounds;
  r.max_rounds = job.max_rounds;
  r.null_pairs = kAutoPairs;
  r.command_line = job.command_line;
  r.device = job.device;
  out << "metamerlab " << program_version() << " demo (threads: " << runtime_threads() << ", device "
      << device_name(job.device) << ")\n"
      << "metamers of one held-out " << (audio ? "clip" : "image") << " per category (" << set_dir
      << "/reference) at " << r.layers.size() << " layers of " << r.models[0] << " and " << r.models[1] << ", "
      << r.rounds << (r.max_rounds > r.rounds ? " to " + std::to_string(r.max_rounds) + " rounds (until converged)" : " rounds")
      << " x " << r.iterations << " steps; each tested against the null distribution and judged"
      << " by the other model\n";
  auto rows = run_zoo_report(r, out, err);
  int total = 0;
  for (const auto& row : rows) total += row.total;
  out << "next: present them to people with `metamerlab launch experiments/demo-"
      << (audio ? "words" : "images") << ".toml`" << (audio ? "" : " (or `metamerlab run ... --participant N`)") << "\n";
  return total == static_cast<int>(rows.size()) * 16 ? 0 : 1;
}

// [SECTION] trace -------------------------------------------------------------------------
int run_trace_job(const std::string& file, const std::string& db, bool as_json, std::ostream& out) {
  if (!fs::exists(file)) throw std::runtime_error(file + ": no such file; give a metamer PNG, WAV or .npy");
  if (!fs::exists(db)) throw std::runtime_error(db + ": no such database; pass the --db the metamer was recorded in");
  std::string sha = data::sha256_file(file);
  data::Store store(db);
  auto m = store.find_metamer_by_file_sha(sha);
  if (!m) {
    out << file << " (sha256 " << sha << ") is not a metamer recorded in " << db << "\n";
    return 1;
  }
  auto run = store.synth_run(m->run_id);
  json j;
  j["file"] = file;
  j["sha256"] = sha;
  j["reference"] = {{"path", m->reference_path}, {"sha256", m->reference_sha256}, {"category", m->category}};
  j["layer"] = m->layer;
  j["seed"] = m->seed;
  j["iterations"] = m->iterations;
  j["final_loss"] = m->final_loss;
  j["spearman"] = m->spearman;
  j["pearson"] = m->pearson;
  j["snr_db"] = m->snr_db;
  j["null_max"] = {{"spearman", m->null_spearman_max}, {"pearson", m->null_pearson_max}, {"snr_db", m->null_snr_max}};
  j["predicted"] = {{"metamer", m->pred_metamer}, {"reference", m->pred_reference}};
  j["passed"] = m->passed;
  j["status"] = m->status;
  j["message"] = m->message;
  j["files"] = {{"png", m->png_path}, {"wav", m->wav_path}, {"float", m->float_path}};
  j["wall_s"] = m->wall_s;
  j["converged"] = m->converged < 0 ? json(nullptr) : json(m->converged == 1);
  j["loss_curve"] = json::parse(m->loss_curve_json, nullptr, false);
  if (const auto live = store.live_metamer_by_file_sha(sha))  // made during a session (live generation)
    j["live"] = {{"session", live->session_id}, {"trial_index", live->trial_index}, {"attempt", live->attempt}};
  if (run) {
    j["run"] = {{"id", run->id},
                {"command", run->run.command},
                {"options", json::parse(run->run.options_json, nullptr, false)},
                {"program_version", run->run.program_version},
                {"started_at", run->started_at},
                {"status", run->status}};
    j["model"] = {{"spec", run->model.spec}, {"path", run->model.path}, {"sha256", run->model.sha256}};
  }
  if (as_json) {
    out << j.dump() << "\n";
  } else {
    out << j.dump(2) << "\n";
  }
  return 0;
}

}  // namespace mm::synth
