// data: the project's SQLite store: schema, migrations, provenance records and queries.
//
// One database file holds everything metamerlab makes: synthesis runs and their metamers,
// null distributions, model judgments (and, later, participants, sessions and trials).
// The schema is versioned with PRAGMA user_version and migrated forward on open. The
// database runs in WAL mode with synchronous=FULL; every add_* call is its own
// transaction, so a record that was added survives a crash or a kill.
// No torch, no UI. Errors throw std::runtime_error naming the file and the fix.
//
// Sections
//   [SECTION] Records       plain structs, one per table
//   [SECTION] Store         open/migrate, writes, reads
//   [SECTION] Hashing       SHA-256 of files and bytes
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace mm::data {

// [SECTION] Records -----------------------------------------------------------------------
struct ModelRecord {
  std::string spec;       // as named: a path or zoo:NAME
  std::string path;       // resolved file ("" for a C++ model without file)
  std::string sha256;     // of the file, or of the C++ model's weights
  std::string modality;   // image | audio
  std::string info_json;  // the model's metamerlab.json
};

struct SynthRunRecord {
  int64_t model_id = 0;
  std::string command;       // the full command line
  std::string options_json;  // optimizer, loss, rounds, iterations, step, batch, seed, ...
  std::string out_dir;
  std::string program_version;
};

struct MetamerRecord {
  int64_t run_id = 0;
  std::string reference_path;
  std::string reference_sha256;
  std::string category;
  std::string layer;
  int64_t seed = 0;
  int64_t iterations = 0;     // steps actually taken
  double final_loss = 0;
  double spearman = 0, pearson = 0, snr_db = 0;
  double null_spearman_max = 0, null_pearson_max = 0, null_snr_max = 0;
  int64_t null_id = 0;        // the null distribution used (0 if none)
  std::string pred_metamer, pred_reference;
  bool passed = false;
  std::string status;         // ok | failed (did not pass) | nan (stopped on NaN/Inf)
  std::string message;
  std::string png_path, png_sha256;      // image metamers ("" for audio)
  std::string wav_path, wav_sha256;      // audio metamers ("" for images)
  std::string float_path, float_sha256;  // exact float copy (.npy)
  double wall_s = 0;
};

// A synthesis run as recorded, with its model (for provenance look-ups).
struct SynthRunInfo {
  int64_t id = 0;
  SynthRunRecord run;
  ModelRecord model;
  std::string started_at, finished_at, status;
  double wall_s = 0;
};

struct NullRecord {
  int64_t model_id = 0;
  std::string model_sha256;
  std::string layer;
  std::string stimulus_set;   // description of the natural set (folder(s))
  std::string set_sha256;     // hash over the set's file hashes, for the cache key
  int64_t pairs = 0;
  int64_t seed = 0;
  double spearman_max = 0, pearson_max = 0, snr_max = 0;
  double spearman_mean = 0, pearson_mean = 0, snr_mean = 0;
  std::string program_version;
  double wall_s = 0;
};

struct JudgmentRunRecord {
  int64_t model_id = 0;
  std::string stimulus_set;
  std::string restricted_to;  // comma-separated categories, "" for all classes
  std::string program_version;
};

struct JudgmentRecord {
  int64_t judgment_run_id = 0;
  std::string stimulus_path;
  std::string stimulus_sha256;
  std::string category;   // the true category (folder)
  std::string predicted;
  bool correct = false;
};

// [SECTION] Store -------------------------------------------------------------------------
struct StoreOptions {
  int busy_timeout_ms = 5000;   // how long a write waits for another program's lock
  std::string program_version;  // recorded in the meta table ("" = "unknown")
};

class Store {
 public:
  // Opens (creating if absent) and migrates. Throws, naming the file, if the folder does
  // not exist or is not writable, the file is read-only, locked by another program past the
  // busy timeout, or not a database. A path starting with "file:" is an SQLite URI.
  explicit Store(const std::string& path);
  Store(const std::string& path, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const;
  static int latest_schema_version();

  int64_t upsert_model(const ModelRecord& m);  // keyed by sha256 + spec
  int64_t begin_synth_run(const SynthRunRecord& r);
  void finish_synth_run(int64_t run_id, const std::string& status, double wall_s);
  int64_t add_metamer(const MetamerRecord& m);
  // For resume: a metamer with this reference sha, layer, seed and options already recorded
  // for a run with the same options_json and out_dir.
  std::optional<MetamerRecord> find_metamer(const std::string& options_json,
                                            const std::string& out_dir,
                                            const std::string& reference_sha256,
                                            const std::string& layer) const;
  std::vector<MetamerRecord> metamers_of_run(int64_t run_id) const;
  // The metamer whose PNG, WAV or float file has this SHA-256 (provenance lookup).
  std::optional<MetamerRecord> find_metamer_by_file_sha(const std::string& sha256) const;

  std::optional<SynthRunInfo> synth_run(int64_t run_id) const;

  int64_t add_null(const NullRecord& n);
  std::optional<std::pair<int64_t, NullRecord>> find_null(const std::string& model_sha256,
                                                         const std::string& layer,
                                                         const std::string& set_sha256,
                                                         int64_t pairs, int64_t seed) const;

  int64_t begin_judgment_run(const JudgmentRunRecord& r);
  void add_judgments(const std::vector<JudgmentRecord>& js);  // one transaction

  sqlite3* handle() { return db_; }  // for later modules' own tables and for tests

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  int busy_timeout_ms_ = 5000;
};

// [SECTION] Hashing -----------------------------------------------------------------------
std::string sha256_hex(const void* data, size_t n);
std::string sha256_file(const std::string& path);  // throws naming the file if unreadable

}  // namespace mm::data
