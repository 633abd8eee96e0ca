// data: the store's records: adding models, synthesis runs, metamers, null distributions
// and judgments (each add is one transaction), and the queries used for resume and
// provenance (find_metamer, metamers_of_run, metamers_of_model, find_metamer_by_file_sha,
// find_null). Sessions and trials are in store_sessions.cpp.
//
// Sections
//   [SECTION] Helpers       timestamps, status checks, the metamers column list
//   [SECTION] Models        upsert_model, models
//   [SECTION] Synth runs    begin_synth_run, finish_synth_run
//   [SECTION] Metamers      add_metamer and its queries
//   [SECTION] Nulls         add_null, find_null; null parts (schema v6)
//   [SECTION] Judgments     begin_judgment_run, add_judgments
//   [SECTION] Live metamers add_live_metamer, live_metamers (schema v5)
#include "data/records_internal.h"
#include "data/sqlite_util.h"
#include "data/store.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace mm::data {
namespace {

using detail::Db;
using detail::Stmt;
using detail::Txn;

// [SECTION] Helpers -----------------------------------------------------------------------

// The metamers columns in MetamerRecord order; read_metamer() and add_metamer() rely on it.
#define MM_METAMER_COLUMNS                                                                 \
  "run_id, reference_path, reference_sha256, category, layer, seed, iterations, "          \
  "final_loss, spearman, pearson, snr_db, null_spearman_max, null_pearson_max, "           \
  "null_snr_max, null_id, pred_metamer, pred_reference, passed, status, message, "         \
  "png_path, png_sha256, wav_path, wav_sha256, float_path, float_sha256, wall_s, "          \
  "ifnull(converged, -1), loss_curve"

// The columns add_metamer writes (schema 4), and those of schema 1 to 3.
#define MM_METAMER_V1_COLUMNS                                                              \
  "run_id, reference_path, reference_sha256, category, layer, seed, iterations, "          \
  "final_loss, spearman, pearson, snr_db, null_spearman_max, null_pearson_max, "           \
  "null_snr_max, null_id, pred_metamer, pred_reference, passed, status, message, "         \
  "png_path, png_sha256, wav_path, wav_sha256, float_path, float_sha256, wall_s"
#define MM_METAMER_INSERT_COLUMNS                                                          \
  "run_id, reference_path, reference_sha256, category, layer, seed, iterations, "          \
  "final_loss, spearman, pearson, snr_db, null_spearman_max, null_pearson_max, "           \
  "null_snr_max, null_id, pred_metamer, pred_reference, passed, status, message, "         \
  "png_path, png_sha256, wav_path, wav_sha256, float_path, float_sha256, wall_s, "          \
  "converged, loss_curve"


void bind_metamer(Stmt& s, const MetamerRecord& m, bool v4) {
  int i = 1;
  s.bind(i++, m.run_id);
  s.bind(i++, m.reference_path);
  s.bind(i++, m.reference_sha256);
  s.bind(i++, m.category);
  s.bind(i++, m.layer);
  s.bind(i++, m.seed);
  s.bind(i++, m.iterations);
  s.bind(i++, m.final_loss);
  s.bind(i++, m.spearman);
  s.bind(i++, m.pearson);
  s.bind(i++, m.snr_db);
  s.bind(i++, m.null_spearman_max);
  s.bind(i++, m.null_pearson_max);
  s.bind(i++, m.null_snr_max);
  s.bind_id_or_null(i++, m.null_id);
  s.bind(i++, m.pred_metamer);
  s.bind(i++, m.pred_reference);
  s.bind(i++, m.passed);
  s.bind(i++, m.status);
  s.bind(i++, m.message);
  s.bind(i++, m.png_path);
  s.bind(i++, m.png_sha256);
  s.bind(i++, m.wav_path);
  s.bind(i++, m.wav_sha256);
  s.bind(i++, m.float_path);
  s.bind(i++, m.float_sha256);
  s.bind(i++, m.wall_s);
  if (!v4) return;
  if (m.converged < 0) s.bind_null(i++);
  else s.bind(i++, static_cast<int64_t>(m.converged));
  s.bind(i++, m.loss_curve_json.empty() ? std::string("[]") : m.loss_curve_json);
}

#define MM_NULL_COLUMNS                                                                    \
  "model_id, model_sha256, layer, stimulus_set, set_sha256, pairs, seed, spearman_max, "   \
  "pearson_max, snr_max, spearman_mean, pearson_mean, snr_mean, program_version, wall_s"

NullRecord read_null(const Stmt& s, int c) {
  NullRecord n;
  n.model_id = s.i64(c++);
  n.model_sha256 = s.text(c++);
  n.layer = s.text(c++);
  n.stimulus_set = s.text(c++);
  n.set_sha256 = s.text(c++);
  n.pairs = s.i64(c++);
  n.seed = s.i64(c++);
  n.spearman_max = s.f64(c++);
  n.pearson_max = s.f64(c++);
  n.snr_max = s.f64(c++);
  n.spearman_mean = s.f64(c++);
  n.pearson_mean = s.f64(c++);
  n.snr_mean = s.f64(c++);
  n.program_version = s.text(c++);
  n.wall_s = s.f64(c++);
  return n;
}

bool is_run_status(const std::string& s) {
  return s == "running" || s == "done" || s == "failed" || s == "interrupted";
}

}  // namespace

MetamerRecord detail::read_metamer(const Stmt& s, int c) {
  MetamerRecord m;
  m.run_id = s.i64(c++);
  m.reference_path = s.text(c++);
  m.reference_sha256 = s.text(c++);
  m.category = s.text(c++);
  m.layer = s.text(c++);
  m.seed = s.i64(c++);
  m.iterations = s.i64(c++);
  m.final_loss = s.f64(c++);
  m.spearman = s.f64(c++);
  m.pearson = s.f64(c++);
  m.snr_db = s.f64(c++);
  m.null_spearman_max = s.f64(c++);
  m.null_pearson_max = s.f64(c++);
  m.null_snr_max = s.f64(c++);
  m.null_id = s.i64(c++);  // NULL reads as 0
  m.pred_metamer = s.text(c++);
  m.pred_reference = s.text(c++);
  m.passed = s.i64(c++) != 0;
  m.status = s.text(c++);
  m.message = s.text(c++);
  m.png_path = s.text(c++);
  m.png_sha256 = s.text(c++);
  m.wav_path = s.text(c++);
  m.wav_sha256 = s.text(c++);
  m.float_path = s.text(c++);
  m.float_sha256 = s.text(c++);
  m.wall_s = s.f64(c++);
  m.converged = static_cast<int>(s.i64(c++));  // -1: recorded before schema version 4
  m.loss_curve_json = s.text(c++);
  return m;
}

// [SECTION] Models ------------------------------------------------------------------------
int64_t Store::upsert_model(const ModelRecord& m) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording model " + m.spec;
  Txn t(d, what);
  int64_t id = 0;
  {
    Stmt s(d, "SELECT id FROM models WHERE sha256 = ?1 AND spec = ?2", what);
    s.bind(1, m.sha256).bind(2, m.spec);
    if (s.step()) id = s.i64(0);
  }
  if (id != 0) {
    Stmt s(d,
           "UPDATE models SET path = ?1, modality = ?2, info_json = ?3, updated_at = " MM_NOW
           " WHERE id = ?4",
           what);
    s.bind(1, m.path).bind(2, m.modality).bind(3, m.info_json).bind(4, id).run();
  } else {
    Stmt s(d,
           "INSERT INTO models (spec, path, sha256, modality, info_json, created_at, "
           "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, " MM_NOW ", " MM_NOW ")",
           what);
    s.bind(1, m.spec).bind(2, m.path).bind(3, m.sha256).bind(4, m.modality).bind(5, m.info_json);
    s.run();
    id = sqlite3_last_insert_rowid(db_);
  }
  t.commit();
  return id;
}

std::vector<std::pair<int64_t, ModelRecord>> Store::models() const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT id, spec, path, sha256, modality, info_json FROM models ORDER BY id", "listing models");
  std::vector<std::pair<int64_t, ModelRecord>> out;
  while (s.step()) {
    ModelRecord m;
    m.spec = s.text(1);
    m.path = s.text(2);
    m.sha256 = s.text(3);
    m.modality = s.text(4);
    m.info_json = s.text(5);
    out.emplace_back(s.i64(0), m);
  }
  return out;
}

// [SECTION] Synth runs --------------------------------------------------------------------
int64_t Store::begin_synth_run(const SynthRunRecord& r) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording a synthesis run";
  Txn t(d, what);
  Stmt s(d,
         "INSERT INTO synth_runs (model_id, command, options_json, out_dir, program_version, "
         "started_at, status) VALUES (?1, ?2, ?3, ?4, ?5, " MM_NOW ", 'running')",
         what);
  s.bind(1, r.model_id).bind(2, r.command).bind(3, r.options_json).bind(4, r.out_dir);
  s.bind(5, r.program_version).run();
  int64_t id = sqlite3_last_insert_rowid(db_);
  t.commit();
  return id;
}

int Store::mark_interrupted_runs(const std::string& options_json, const std::string& out_dir) {
  const Db d{db_, path_, busy_timeout_ms_};
  Txn t(d, "marking interrupted synthesis runs");
  Stmt s(d,
         "UPDATE synth_runs SET status = 'interrupted' "
         "WHERE status = 'running' AND options_json = ?1 AND out_dir = ?2",
         "marking interrupted synthesis runs");
  s.bind(1, options_json).bind(2, out_dir).run();
  int n = sqlite3_changes(db_);
  t.commit();
  return n;
}

void Store::finish_synth_run(int64_t run_id, const std::string& status, double wall_s) {
  if (!is_run_status(status))
    throw std::runtime_error(path_ + ": finish_synth_run: status '" + status +
                                "' is not one of running, done, failed, interrupted");
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "finishing synthesis run " + std::to_string(run_id);
  Txn t(d, what);
  Stmt s(d,
         "UPDATE synth_runs SET status = ?1, wall_s = ?2, finished_at = " MM_NOW
         " WHERE id = ?3",
         what);
  s.bind(1, status).bind(2, wall_s).bind(3, run_id).run();
  if (sqlite3_changes(db_) != 1)
    throw std::runtime_error(path_ + ": " + what + ": no synthesis run with id " +
                             std::to_string(run_id) + "; pass an id from begin_synth_run");
  t.commit();
}

// [SECTION] Metamers ----------------------------------------------------------------------
int64_t Store::add_metamer(const MetamerRecord& m) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording the metamer of " + m.reference_path;
  Txn t(d, what);
  // A store kept at an older schema (StoreOptions::migrate_to, for migration tests) has no
  // version-4 columns: the record is written without them.
  const bool v4 = schema_version() >= 4;
  Stmt s(d,
         v4 ? "INSERT INTO metamers (" MM_METAMER_INSERT_COLUMNS ", created_at) VALUES (?1, ?2, ?3, ?4, "
              "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
              "?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, " MM_NOW ")"
            : "INSERT INTO metamers (" MM_METAMER_V1_COLUMNS ", created_at) VALUES (?1, ?2, ?3, ?4, "
              "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
              "?22, ?23, ?24, ?25, ?26, ?27, " MM_NOW ")",
         what);
  bind_metamer(s, m, v4);
  s.run();
  int64_t id = sqlite3_last_insert_rowid(db_);
  t.commit();
  return id;
}

std::optional<MetamerRecord> Store::find_metamer(const std::string& options_json,
                                                 const std::string& out_dir,
                                                 const std::string& reference_sha256,
                                                 const std::string& layer) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT m.run_id, m.reference_path, m.reference_sha256, m.category, m.layer, m.seed, "
         "m.iterations, m.final_loss, m.spearman, m.pearson, m.snr_db, m.null_spearman_max, "
         "m.null_pearson_max, m.null_snr_max, m.null_id, m.pred_metamer, m.pred_reference, "
         "m.passed, m.status, m.message, m.png_path, m.png_sha256, m.wav_path, m.wav_sha256, "
         "m.float_path, m.float_sha256, m.wall_s, ifnull(m.converged, -1), m.loss_curve "
         "FROM metamers AS m JOIN synth_runs AS r ON r.id = m.run_id "
         "WHERE m.reference_sha256 = ?1 AND m.layer = ?2 "
         "AND r.options_json = ?3 AND r.out_dir = ?4 "
         "ORDER BY m.id DESC LIMIT 1",
         "looking up a recorded metamer");
  s.bind(1, reference_sha256).bind(2, layer).bind(3, options_json).bind(4, out_dir);
  if (!s.step()) return std::nullopt;
  return detail::read_metamer(s, 0);
}

std::vector<MetamerRecord> Store::metamers_of_model(int64_t model_id, const std::string& layer) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT " MM_METAMER_COLUMNS " FROM metamers WHERE layer = ?2 AND run_id IN "
         "(SELECT id FROM synth_runs WHERE model_id = ?1) ORDER BY id",
         "listing the metamers of model " + std::to_string(model_id) + " at " + layer);
  s.bind(1, model_id).bind(2, layer);
  std::vector<MetamerRecord> out;
  while (s.step()) out.push_back(detail::read_metamer(s, 0));
  return out;
}

std::vector<MetamerRecord> Store::metamers_of_run(int64_t run_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "SELECT " MM_METAMER_COLUMNS " FROM metamers WHERE run_id = ?1 ORDER BY id",
         "listing the metamers of run " + std::to_string(run_id));
  s.bind(1, run_id);
  std::vector<MetamerRecord> out;
  while (s.step()) out.push_back(detail::read_metamer(s, 0));
  return out;
}

std::optional<MetamerRecord> Store::find_metamer_by_file_sha(const std::string& sha256) const {
  if (sha256.empty()) return std::nullopt;  // audio rows have no PNG hash, and so on
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT " MM_METAMER_COLUMNS " FROM metamers "
         "WHERE png_sha256 = ?1 OR wav_sha256 = ?1 OR float_sha256 = ?1 "
         "ORDER BY id DESC LIMIT 1",
         "looking up a metamer by file hash");
  s.bind(1, sha256);
  if (!s.step()) return std::nullopt;
  return detail::read_metamer(s, 0);
}

std::optional<SynthRunInfo> Store::synth_run(int64_t run_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT r.id, r.model_id, r.command, r.options_json, r.out_dir, r.program_version, "
         "r.started_at, r.finished_at, r.status, r.wall_s, m.spec, m.path, m.sha256, m.modality, m.info_json "
         "FROM synth_runs r JOIN models m ON m.id = r.model_id WHERE r.id = ?1",
         "reading synthesis run " + std::to_string(run_id));
  s.bind(1, run_id);
  if (!s.step()) return std::nullopt;
  SynthRunInfo i;
  int c = 0;
  i.id = s.i64(c++);
  i.run.model_id = s.i64(c++);
  i.run.command = s.text(c++);
  i.run.options_json = s.text(c++);
  i.run.out_dir = s.text(c++);
  i.run.program_version = s.text(c++);
  i.started_at = s.text(c++);
  i.finished_at = s.text(c++);
  i.status = s.text(c++);
  i.wall_s = s.f64(c++);
  i.model.spec = s.text(c++);
  i.model.path = s.text(c++);
  i.model.sha256 = s.text(c++);
  i.model.modality = s.text(c++);
  i.model.info_json = s.text(c++);
  return i;
}

// [SECTION] Nulls -------------------------------------------------------------------------
namespace {
int64_t insert_null(const Db& d, const NullRecord& n, const std::string& what);  // below
}  // namespace

int64_t Store::add_null(const NullRecord& n) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording the null distribution of layer " + n.layer;
  Txn t(d, what);
  const int64_t id = insert_null(d, n, what);
  t.commit();
  return id;
}

std::optional<std::pair<int64_t, NullRecord>> Store::find_null(const std::string& model_sha256,
                                                               const std::string& layer,
                                                               const std::string& set_sha256,
                                                               int64_t pairs,
                                                               int64_t seed) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT id, " MM_NULL_COLUMNS " FROM null_distributions "
         "WHERE model_sha256 = ?1 AND layer = ?2 AND set_sha256 = ?3 AND pairs = ?4 "
         "AND seed = ?5 ORDER BY id DESC LIMIT 1",
         "looking up a null distribution");
  s.bind(1, model_sha256).bind(2, layer).bind(3, set_sha256).bind(4, pairs).bind(5, seed);
  if (!s.step()) return std::nullopt;
  return std::make_pair(s.i64(0), read_null(s, 1));
}

#define MM_NULL_PART_COLUMNS                                                               \
  "model_id, model_sha256, layer, stimulus_set, set_sha256, pairs, seed, stimuli, blocks, "  \
  "unit, unit_pairs, spearman_max, pearson_max, snr_max, spearman_sum, pearson_sum, "        \
  "snr_sum, program_version, wall_s"

namespace {
NullPartRecord read_null_part(const Stmt& s, int c) {
  NullPartRecord p;
  p.model_id = s.i64(c++);
  p.model_sha256 = s.text(c++);
  p.layer = s.text(c++);
  p.stimulus_set = s.text(c++);
  p.set_sha256 = s.text(c++);
  p.pairs = s.i64(c++);
  p.seed = s.i64(c++);
  p.stimuli = s.i64(c++);
  p.blocks = s.i64(c++);
  p.unit = s.i64(c++);
  p.unit_pairs = s.i64(c++);
  p.spearman_max = s.f64(c++);
  p.pearson_max = s.f64(c++);
  p.snr_max = s.f64(c++);
  p.spearman_sum = s.f64(c++);
  p.pearson_sum = s.f64(c++);
  p.snr_sum = s.f64(c++);
  p.program_version = s.text(c++);
  p.wall_s = s.f64(c++);
  return p;
}

int64_t insert_null(const Db& d, const NullRecord& n, const std::string& what) {
  Stmt s(d,
         "INSERT INTO null_distributions (" MM_NULL_COLUMNS ", created_at) VALUES (?1, ?2, "
         "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, " MM_NOW ")",
         what);
  s.bind(1, n.model_id).bind(2, n.model_sha256).bind(3, n.layer);
  s.bind(4, n.stimulus_set).bind(5, n.set_sha256).bind(6, n.pairs).bind(7, n.seed);
  s.bind(8, n.spearman_max).bind(9, n.pearson_max).bind(10, n.snr_max);
  s.bind(11, n.spearman_mean).bind(12, n.pearson_mean).bind(13, n.snr_mean);
  s.bind(14, n.program_version).bind(15, n.wall_s);
  s.run();
  return sqlite3_last_insert_rowid(d.db);
}

std::vector<NullPartRecord> parts_of(const Db& d, const std::string& model_sha256, const std::string& layer,
                                     const std::string& set_sha256, int64_t pairs, int64_t seed, int64_t blocks) {
  Stmt s(d,
         "SELECT " MM_NULL_PART_COLUMNS " FROM null_parts WHERE model_sha256 = ?1 AND layer = ?2 AND "
         "set_sha256 = ?3 AND pairs = ?4 AND seed = ?5 AND blocks = ?6 ORDER BY unit",
         "reading the parts of a null distribution");
  s.bind(1, model_sha256).bind(2, layer).bind(3, set_sha256).bind(4, pairs).bind(5, seed).bind(6, blocks);
  std::vector<NullPartRecord> out;
  while (s.step()) out.push_back(read_null_part(s, 0));
  return out;
}
}  // namespace

NullRecord combine_null_parts(std::vector<NullPartRecord> parts) {
  if (parts.empty()) throw std::runtime_error("a null distribution needs at least one part");
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.unit < b.unit; });
  const NullPartRecord& f = parts.front();
  const int64_t units = f.blocks * (f.blocks + 1) / 2;
  const std::string what = "the null distribution of layer " + f.layer + " (" + std::to_string(f.pairs) + " pairs, " +
                           std::to_string(f.blocks) + " blocks)";
  if (static_cast<int64_t>(parts.size()) != units)
    throw std::runtime_error(what + " has " + std::to_string(parts.size()) + " of its " + std::to_string(units) +
                             " parts; compute the missing shards (null --shard K/N) and merge them");
  NullRecord n;
  n.model_id = f.model_id;
  n.model_sha256 = f.model_sha256;
  n.layer = f.layer;
  n.stimulus_set = f.stimulus_set;
  n.set_sha256 = f.set_sha256;
  n.pairs = f.pairs;
  n.seed = f.seed;
  n.program_version = f.program_version;
  const double lo = -std::numeric_limits<double>::infinity();
  n.spearman_max = n.pearson_max = n.snr_max = lo;
  double sp = 0, pe = 0, snr = 0;
  int64_t counted = 0;
  for (size_t u = 0; u < parts.size(); ++u) {
    const auto& p = parts[u];
    if (p.unit != static_cast<int64_t>(u) || p.blocks != f.blocks || p.model_sha256 != f.model_sha256 ||
        p.layer != f.layer || p.set_sha256 != f.set_sha256 || p.pairs != f.pairs || p.seed != f.seed ||
        p.stimuli != f.stimuli)
      throw std::runtime_error(what + ": its parts do not fit together (unit " + std::to_string(p.unit) +
                               "); compute them again with the same options");
    counted += p.unit_pairs;
    sp += p.spearman_sum, pe += p.pearson_sum, snr += p.snr_sum;
    n.wall_s += p.wall_s;
    if (p.unit_pairs == 0) continue;
    n.spearman_max = std::max(n.spearman_max, p.spearman_max);
    n.pearson_max = std::max(n.pearson_max, p.pearson_max);
    n.snr_max = std::max(n.snr_max, p.snr_max);
  }
  if (counted != f.pairs || f.pairs <= 0)
    throw std::runtime_error(what + ": its parts hold " + std::to_string(counted) + " pairs, not " +
                             std::to_string(f.pairs) + "; compute them again with the same options");
  n.spearman_mean = sp / static_cast<double>(f.pairs);
  n.pearson_mean = pe / static_cast<double>(f.pairs);
  n.snr_mean = snr / static_cast<double>(f.pairs);
  return n;
}

bool Store::add_null_part(const NullPartRecord& p) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording part " + std::to_string(p.unit) + " of the null distribution of layer " + p.layer;
  Txn t(d, what);
  Stmt s(d,
         "INSERT OR IGNORE INTO null_parts (" MM_NULL_PART_COLUMNS ", created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
         "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, " MM_NOW ")",
         what);
  s.bind(1, p.model_id).bind(2, p.model_sha256).bind(3, p.layer).bind(4, p.stimulus_set).bind(5, p.set_sha256);
  s.bind(6, p.pairs).bind(7, p.seed).bind(8, p.stimuli).bind(9, p.blocks).bind(10, p.unit).bind(11, p.unit_pairs);
  s.bind(12, p.spearman_max).bind(13, p.pearson_max).bind(14, p.snr_max);
  s.bind(15, p.spearman_sum).bind(16, p.pearson_sum).bind(17, p.snr_sum);
  s.bind(18, p.program_version).bind(19, p.wall_s);
  s.run();
  const bool added = sqlite3_changes(db_) > 0;
  t.commit();
  return added;
}

std::vector<NullPartRecord> Store::null_parts(const std::string& model_sha256, const std::string& layer,
                                              const std::string& set_sha256, int64_t pairs, int64_t seed,
                                              int64_t blocks) const {
  const Db d{db_, path_, busy_timeout_ms_};
  return parts_of(d, model_sha256, layer, set_sha256, pairs, seed, blocks);
}

int64_t Store::complete_nulls() {
  const Db d{db_, path_, busy_timeout_ms_};
  Txn t(d, "completing null distributions from their parts");
  const int64_t n = detail::complete_null_parts(d);
  t.commit();
  return n;
}

int64_t detail::complete_null_parts(const Db& d) {
  struct Key {
    std::string model_sha256, layer, set_sha256;
    int64_t pairs, seed, blocks;
  };
  std::vector<Key> keys;
  {
    Stmt s(d,
           "SELECT p.model_sha256, p.layer, p.set_sha256, p.pairs, p.seed, p.blocks FROM null_parts AS p "
           "GROUP BY p.model_sha256, p.layer, p.set_sha256, p.pairs, p.seed, p.blocks "
           "HAVING count(*) = p.blocks * (p.blocks + 1) / 2 AND NOT EXISTS (SELECT 1 FROM null_distributions AS n "
           "WHERE n.model_sha256 = p.model_sha256 AND n.layer = p.layer AND n.set_sha256 = p.set_sha256 AND "
           "n.pairs = p.pairs AND n.seed = p.seed) ORDER BY min(p.id)",
           "finding null distributions whose parts are all present");
    while (s.step()) keys.push_back({s.text(0), s.text(1), s.text(2), s.i64(3), s.i64(4), s.i64(5)});
  }
  int64_t added = 0;
  for (const auto& k : keys) {
    // Two block counts may both be complete: the first completed wins (the key holds one).
    Stmt check(d,
               "SELECT 1 FROM null_distributions WHERE model_sha256 = ?1 AND layer = ?2 AND set_sha256 = ?3 AND "
               "pairs = ?4 AND seed = ?5",
               "finding null distributions whose parts are all present");
    check.bind(1, k.model_sha256).bind(2, k.layer).bind(3, k.set_sha256).bind(4, k.pairs).bind(5, k.seed);
    if (check.step()) continue;
    insert_null(d, combine_null_parts(parts_of(d, k.model_sha256, k.layer, k.set_sha256, k.pairs, k.seed, k.blocks)),
                "recording the null distribution of layer " + k.layer + " from its parts");
    ++added;
  }
  return added;
}

// [SECTION] Judgments ---------------------------------------------------------------------
int64_t Store::begin_judgment_run(const JudgmentRunRecord& r) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording a judgment run";
  Txn t(d, what);
  Stmt s(d,
         "INSERT INTO judgment_runs (model_id, stimulus_set, restricted_to, program_version, "
         "started_at) VALUES (?1, ?2, ?3, ?4, " MM_NOW ")",
         what);
  s.bind(1, r.model_id).bind(2, r.stimulus_set).bind(3, r.restricted_to);
  s.bind(4, r.program_version).run();
  int64_t id = sqlite3_last_insert_rowid(db_);
  t.commit();
  return id;
}

void Store::add_judgments(const std::vector<JudgmentRecord>& js) {
  if (js.empty()) return;
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording " + std::to_string(js.size()) + " judgments";
  Txn t(d, what);
  Stmt s(d,
         "INSERT INTO judgments (judgment_run_id, stimulus_path, stimulus_sha256, category, "
         "predicted, correct) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
         what);
  for (const JudgmentRecord& j : js) {
    s.reset();
    s.bind(1, j.judgment_run_id).bind(2, j.stimulus_path).bind(3, j.stimulus_sha256);
    s.bind(4, j.category).bind(5, j.predicted).bind(6, j.correct);
    s.run();
  }
  t.commit();
}

// [SECTION] Live metamers -----------------------------------------------------------------
int64_t Store::add_live_metamer(int64_t session_id, int64_t trial_index, int attempt, const MetamerRecord& m) {
  const Db d{db_, path_, busy_timeout_ms_};
  const std::string what = "recording the live metamer of trial " + std::to_string(trial_index) + " of session " +
                           std::to_string(session_id);
  Txn t(d, what);
  Stmt s(d,
         "INSERT INTO metamers (" MM_METAMER_INSERT_COLUMNS ", created_at) VALUES (?1, ?2, ?3, ?4, "
         "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
         "?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, " MM_NOW ")",
         what);
  bind_metamer(s, m, true);
  s.run();
  const int64_t id = sqlite3_last_insert_rowid(db_);
  Stmt l(d,
         "INSERT OR REPLACE INTO live_metamers (session_id, trial_index, attempt, metamer_id, created_at) "
         "VALUES (?1, ?2, ?3, ?4, " MM_NOW ")",
         what);
  l.bind(1, session_id).bind(2, trial_index).bind(3, static_cast<int64_t>(attempt)).bind(4, id).run();
  t.commit();
  return id;
}

std::vector<LiveMetamer> Store::live_metamers(int64_t session_id) const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT l.trial_index, l.attempt, l.metamer_id, l.created_at, " MM_METAMER_COLUMNS
         " FROM live_metamers AS l JOIN metamers ON metamers.id = l.metamer_id WHERE l.session_id = ?1 "
         "ORDER BY l.trial_index, l.attempt",
         "reading the live metamers of session " + std::to_string(session_id));
  s.bind(1, session_id);
  std::vector<LiveMetamer> out;
  while (s.step())
    out.push_back({session_id, s.i64(0), static_cast<int>(s.i64(1)), s.i64(2), read_metamer(s, 4), s.text(3)});
  return out;
}

std::optional<LiveMetamer> Store::live_metamer_by_file_sha(const std::string& sha256) const {
  const Db d{db_, path_, busy_timeout_ms_};
  if (schema_version() < 5) return std::nullopt;
  Stmt s(d,
         "SELECT l.session_id, l.trial_index, l.attempt, l.metamer_id, l.created_at, " MM_METAMER_COLUMNS
         " FROM live_metamers AS l JOIN metamers ON metamers.id = l.metamer_id "
         "WHERE metamers.png_sha256 = ?1 OR metamers.wav_sha256 = ?1 OR metamers.float_sha256 = ?1 LIMIT 1",
         "looking up a live metamer");
  s.bind(1, sha256);
  if (!s.step()) return std::nullopt;
  return LiveMetamer{s.i64(0), s.i64(1), static_cast<int>(s.i64(2)), s.i64(3), read_metamer(s, 5), s.text(4)};
}

#undef MM_NOW
#undef MM_METAMER_COLUMNS
#undef MM_METAMER_INSERT_COLUMNS
#undef MM_METAMER_V1_COLUMNS
#undef MM_NULL_COLUMNS

}  // namespace mm::data
