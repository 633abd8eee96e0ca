// data: opening the store: checks on the file and its folder, the connection's pragmas
// (WAL, synchronous=FULL, foreign keys, busy timeout) and the schema migrations.
//
// Sections
//   [SECTION] Schema        the ordered list of migration scripts (version N = script N)
//   [SECTION] Location      checks on the path before SQLite touches it
//   [SECTION] Open          Store::Store, ~Store, pragmas, identity and version checks
//   [SECTION] Migrate       applying the scripts, one transaction each
#include "data/sqlite_util.h"
#include "data/store.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mm::data {
namespace {

using detail::Db;
using detail::exec;
using detail::Stmt;
using detail::Txn;

// [SECTION] Schema ------------------------------------------------------------------------
// PRAGMA application_id marks the file as metamerlab's ('MMLB').
using detail::kApplicationId;

// Each script moves the schema from version N-1 to N. Scripts are append-only: a released
// script is never edited; a change is a new script. Times are UTC ISO-8601 text.
const char* const kMigrations[] = {
    // ---- version 1 ----
    R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE models (
  id         INTEGER PRIMARY KEY,
  spec       TEXT NOT NULL,
  path       TEXT NOT NULL,
  sha256     TEXT NOT NULL,
  modality   TEXT NOT NULL,
  info_json  TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (sha256, spec)
);

CREATE TABLE synth_runs (
  id              INTEGER PRIMARY KEY,
  model_id        INTEGER NOT NULL REFERENCES models(id),
  command         TEXT NOT NULL,
  options_json    TEXT NOT NULL,
  out_dir         TEXT NOT NULL,
  program_version TEXT NOT NULL,
  started_at      TEXT NOT NULL,
  finished_at     TEXT,
  status          TEXT NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
  wall_s          REAL
);
CREATE INDEX synth_runs_by_options ON synth_runs (options_json, out_dir);
CREATE INDEX synth_runs_by_model ON synth_runs (model_id);

CREATE TABLE null_distributions (
  id              INTEGER PRIMARY KEY,
  model_id        INTEGER NOT NULL REFERENCES models(id),
  model_sha256    TEXT NOT NULL,
  layer           TEXT NOT NULL,
  stimulus_set    TEXT NOT NULL,
  set_sha256      TEXT NOT NULL,
  pairs           INTEGER NOT NULL,
  seed            INTEGER NOT NULL,
  spearman_max    REAL NOT NULL,
  pearson_max     REAL NOT NULL,
  snr_max         REAL NOT NULL,
  spearman_mean   REAL NOT NULL,
  pearson_mean    REAL NOT NULL,
  snr_mean        REAL NOT NULL,
  program_version TEXT NOT NULL,
  wall_s          REAL NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE INDEX null_distributions_by_key
  ON null_distributions (model_sha256, layer, set_sha256, pairs, seed);
CREATE INDEX null_distributions_by_model ON null_distributions (model_id);

CREATE TABLE metamers (
  id                INTEGER PRIMARY KEY,
  run_id            INTEGER NOT NULL REFERENCES synth_runs(id),
  reference_path    TEXT NOT NULL,
  reference_sha256  TEXT NOT NULL,
  category          TEXT NOT NULL,
  layer             TEXT NOT NULL,
  seed              INTEGER NOT NULL,
  iterations        INTEGER NOT NULL,
  final_loss        REAL NOT NULL,
  spearman          REAL NOT NULL,
  pearson           REAL NOT NULL,
  snr_db            REAL NOT NULL,
  null_spearman_max REAL NOT NULL,
  null_pearson_max  REAL NOT NULL,
  null_snr_max      REAL NOT NULL,
  null_id           INTEGER REFERENCES null_distributions(id),
  pred_metamer      TEXT NOT NULL,
  pred_reference    TEXT NOT NULL,
  passed            INTEGER NOT NULL CHECK (passed IN (0, 1)),
  status            TEXT NOT NULL,
  message           TEXT NOT NULL,
  png_path          TEXT NOT NULL,
  png_sha256        TEXT NOT NULL,
  wav_path          TEXT NOT NULL,
  wav_sha256        TEXT NOT NULL,
  float_path        TEXT NOT NULL,
  float_sha256      TEXT NOT NULL,
  wall_s            REAL NOT NULL,
  created_at        TEXT NOT NULL
);
CREATE INDEX metamers_by_reference ON metamers (reference_sha256, layer);
CREATE INDEX metamers_by_run ON metamers (run_id);
CREATE INDEX metamers_by_null ON metamers (null_id);
CREATE INDEX metamers_by_png_sha ON metamers (png_sha256);
CREATE INDEX metamers_by_wav_sha ON metamers (wav_sha256);
CREATE INDEX metamers_by_float_sha ON metamers (float_sha256);

CREATE TABLE judgment_runs (
  id              INTEGER PRIMARY KEY,
  model_id        INTEGER NOT NULL REFERENCES models(id),
  stimulus_set    TEXT NOT NULL,
  restricted_to   TEXT NOT NULL,
  program_version TEXT NOT NULL,
  started_at      TEXT NOT NULL
);
CREATE INDEX judgment_runs_by_model ON judgment_runs (model_id);

CREATE TABLE judgments (
  id              INTEGER PRIMARY KEY,
  judgment_run_id INTEGER NOT NULL REFERENCES judgment_runs(id),
  stimulus_path   TEXT NOT NULL,
  stimulus_sha256 TEXT NOT NULL,
  category        TEXT NOT NULL,
  predicted       TEXT NOT NULL,
  correct         INTEGER NOT NULL CHECK (correct IN (0, 1))
);
CREATE INDEX judgments_by_run ON judgments (judgment_run_id);
CREATE INDEX judgments_by_stimulus ON judgments (stimulus_sha256);

PRAGMA application_id = 1296911426;
)sql",
    // ---- version 2: participants, sessions, trials, session events ----
    R"sql(
CREATE TABLE participants (
  id         INTEGER PRIMARY KEY,
  code       TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE sessions (
  id                 INTEGER PRIMARY KEY,
  participant_id     INTEGER NOT NULL REFERENCES participants(id),
  participant_number INTEGER NOT NULL,
  experiment_path    TEXT NOT NULL,
  experiment_sha256  TEXT NOT NULL,
  experiment_name    TEXT NOT NULL,
  plan_json          TEXT NOT NULL,
  planned_trials     INTEGER NOT NULL,
  seed               INTEGER NOT NULL,
  station            TEXT NOT NULL,
  display_json       TEXT NOT NULL,
  audio_json         TEXT NOT NULL,
  program_version    TEXT NOT NULL,
  started_at         TEXT NOT NULL,
  ended_at           TEXT,
  status             TEXT NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'completed', 'aborted', 'failed_demo')),
  resumed            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_experiment ON sessions (experiment_sha256, participant_number);
CREATE INDEX sessions_by_participant ON sessions (participant_id);

CREATE TABLE trials (
  id                INTEGER PRIMARY KEY,
  session_id        INTEGER NOT NULL REFERENCES sessions(id),
  trial_index       INTEGER NOT NULL,
  block             INTEGER NOT NULL,
  block_kind        TEXT NOT NULL,
  phase             TEXT NOT NULL,
  index_in_block    INTEGER NOT NULL,
  condition         TEXT NOT NULL,
  planned_condition TEXT NOT NULL,
  category          TEXT NOT NULL,
  reference_path    TEXT NOT NULL,
  stimulus_path     TEXT NOT NULL,
  stimulus_sha256   TEXT NOT NULL,
  model             TEXT NOT NULL,
  layer             TEXT NOT NULL,
  is_metamer        INTEGER NOT NULL CHECK (is_metamer IN (0, 1)),
  fell_back         INTEGER NOT NULL CHECK (fell_back IN (0, 1)),
  alternatives_json TEXT NOT NULL,
  response          TEXT NOT NULL,
  correct           INTEGER NOT NULL CHECK (correct IN (0, 1)),
  rt_response_ms    REAL,
  rt_stimulus_ms    REAL,
  timing_json       TEXT NOT NULL,
  dropped_frames    INTEGER NOT NULL,
  audio_onset_ms    REAL,
  answered_at       TEXT NOT NULL,
  UNIQUE (session_id, trial_index)
);
CREATE INDEX trials_by_stimulus ON trials (stimulus_sha256);

CREATE TABLE session_events (
  id          INTEGER PRIMARY KEY,
  session_id  INTEGER NOT NULL REFERENCES sessions(id),
  kind        TEXT NOT NULL CHECK (kind IN ('start', 'resume', 'pause', 'continue', 'abort',
                                            'demo_failed', 'complete', 'note')),
  trial_index INTEGER,
  detail      TEXT NOT NULL,
  at          TEXT NOT NULL
);
CREATE INDEX session_events_by_session ON session_events (session_id);
)sql",
    // ---- version 3: model observers, models' judgments of the trials people saw, and of
    //      every metamer of an experiment's conditions (network-to-network) ----
    R"sql(
ALTER TABLE sessions ADD COLUMN observer_model_id INTEGER REFERENCES models(id);

CREATE TABLE trial_judgments (
  session_id        INTEGER NOT NULL REFERENCES sessions(id),
  trial_index       INTEGER NOT NULL,
  model_id          INTEGER NOT NULL REFERENCES models(id),
  stimulus_sha256   TEXT NOT NULL,
  alternatives_json TEXT NOT NULL,
  predicted         TEXT NOT NULL,
  correct           INTEGER NOT NULL CHECK (correct IN (0, 1)),
  program_version   TEXT NOT NULL,
  judged_at         TEXT NOT NULL,
  PRIMARY KEY (session_id, trial_index, model_id)
);
CREATE INDEX trial_judgments_by_model ON trial_judgments (model_id);

CREATE TABLE metamer_judgments (
  experiment_sha256 TEXT NOT NULL,
  condition         TEXT NOT NULL,
  generating_model  TEXT NOT NULL,
  layer             TEXT NOT NULL,
  reference_sha256  TEXT NOT NULL,
  stimulus_sha256   TEXT NOT NULL,
  category          TEXT NOT NULL,
  model_id          INTEGER NOT NULL REFERENCES models(id),
  predicted         TEXT NOT NULL,
  correct           INTEGER NOT NULL CHECK (correct IN (0, 1)),
  program_version   TEXT NOT NULL,
  judged_at         TEXT NOT NULL,
  PRIMARY KEY (experiment_sha256, condition, stimulus_sha256, model_id)
);
)sql",
    // ---- version 4: each metamer's loss curve and whether its loss had flattened ----
    R"sql(
ALTER TABLE metamers ADD COLUMN converged INTEGER CHECK (converged IN (0, 1));
ALTER TABLE metamers ADD COLUMN loss_curve TEXT NOT NULL DEFAULT '[]';
)sql",
    // ---- version 5: metamers made live for a session's trials (each attempt) ----
    R"sql(
CREATE TABLE live_metamers (
  session_id  INTEGER NOT NULL REFERENCES sessions(id),
  trial_index INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  metamer_id  INTEGER NOT NULL REFERENCES metamers(id),
  created_at  TEXT NOT NULL,
  PRIMARY KEY (session_id, trial_index, attempt)
);
)sql",
    // ---- version 6: null distributions computed in parts (null --shard K/N) ----
    R"sql(
CREATE TABLE null_parts (
  id              INTEGER PRIMARY KEY,
  model_id        INTEGER NOT NULL REFERENCES models(id),
  model_sha256    TEXT NOT NULL,
  layer           TEXT NOT NULL,
  stimulus_set    TEXT NOT NULL,
  set_sha256      TEXT NOT NULL,
  pairs           INTEGER NOT NULL,
  seed            INTEGER NOT NULL,
  stimuli         INTEGER NOT NULL,
  blocks          INTEGER NOT NULL CHECK (blocks >= 1),
  unit            INTEGER NOT NULL CHECK (unit >= 0),
  unit_pairs      INTEGER NOT NULL,
  spearman_max    REAL NOT NULL,
  pearson_max     REAL NOT NULL,
  snr_max         REAL NOT NULL,
  spearman_sum    REAL NOT NULL,
  pearson_sum     REAL NOT NULL,
  snr_sum         REAL NOT NULL,
  program_version TEXT NOT NULL,
  wall_s          REAL NOT NULL,
  created_at      TEXT NOT NULL,
  UNIQUE (model_sha256, layer, set_sha256, pairs, seed, blocks, unit)
);
)sql",
};

constexpr int kLatest = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
static_assert(kApplicationId == 1296911426, "the v1 script spells the application id out");

// [SECTION] Location ----------------------------------------------------------------------
// The file an SQLite URI ("file:PATH?query") names, or the path itself.
std::string file_of(const std::string& path) {
  if (path.rfind("file:", 0) != 0) return path;
  std::string rest = path.substr(5);
  if (rest.rfind("//", 0) == 0) {  // file://authority/path
    size_t slash = rest.find('/', 2);
    rest = slash == std::string::npos ? std::string() : rest.substr(slash);
  }
  size_t end = rest.find_first_of("?#");
  return end == std::string::npos ? rest : rest.substr(0, end);
}

// Checks what can be checked before SQLite opens (and possibly creates) the file, so the
// message names the real problem rather than SQLite's "unable to open database file".
void check_location(const std::string& path) {
  const std::string file = file_of(path);
  if (file.empty() || file == ":memory:") return;
  fs::path dir = fs::path(file).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  fs::file_status ds = fs::status(dir, ec);
  if (!fs::exists(ds))
    throw std::runtime_error(path + ": folder " + dir.string() +
                             " does not exist; create it (mkdir -p " + dir.string() +
                             ") or pass another --db");
  if (!fs::is_directory(ds))
    throw std::runtime_error(path + ": " + dir.string() +
                             " is not a folder; pass another --db");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error(path + ": folder " + dir.string() + " is not writable (" +
                             std::strerror(errno) + "); make it writable (chmod u+w " +
                             dir.string() + ") or pass another --db");
  fs::file_status fst = fs::status(file, ec);
  if (!fs::exists(fst)) return;
  if (fs::is_directory(fst))
    throw std::runtime_error(path + ": is a folder, not a database file; pass another --db");
  if (::access(file.c_str(), R_OK) != 0)
    throw std::runtime_error(path + ": database cannot be read (" + std::strerror(errno) +
                             "); make it readable (chmod u+rw) or pass another --db");
  if (::access(file.c_str(), W_OK) != 0)
    throw std::runtime_error(
        path + ": database is read-only; make it writable (chmod u+w) or pass another --db");
}

int pragma_int(const Db& d, const char* pragma) {
  Stmt s(d, (std::string("PRAGMA ") + pragma).c_str(), "reading the database header");
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

}  // namespace

// [SECTION] Open --------------------------------------------------------------------------
Store::Store(const std::string& path) : Store(path, StoreOptions{}) {}

Store::Store(const std::string& path, const StoreOptions& options)
    : path_(path), busy_timeout_ms_(options.busy_timeout_ms) {
  check_location(path_);

  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (path_.rfind("file:", 0) == 0) flags |= SQLITE_OPEN_URI;
  int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw std::runtime_error(
        detail::error_message(path_, rc, busy_timeout_ms_, "opening the database", m.c_str()));
  }

  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms_);
    const Db d{db_, path_, busy_timeout_ms_};

    // SQLite silently falls back to read-only when it cannot write the file.
    if (sqlite3_db_readonly(db_, "main") == 1)
      detail::fail(d, SQLITE_READONLY, "opening the database");

    // Identity and version, read before anything is written, so a foreign or newer file is
    // refused untouched. The first read also reports a file that is not a database.
    const int app_id = pragma_int(d, "application_id");
    const int version = pragma_int(d, "user_version");
    int objects = 0;
    {
      Stmt s(d, "SELECT count(*) FROM sqlite_master", "reading the schema");
      if (s.step()) objects = static_cast<int>(s.i64(0));
    }
    if (app_id != 0 && app_id != kApplicationId)
      throw std::runtime_error(path_ + ": not a metamerlab/SQLite database (it belongs to "
                                       "another program); pass another --db");
    if (app_id == 0 && (version != 0 || objects != 0))
      throw std::runtime_error(path_ + ": not a metamerlab/SQLite database (it holds another "
                                       "program's tables); pass another --db");
    if (version > kLatest)
      throw std::runtime_error(path_ + ": database schema version " + std::to_string(version) +
                               " was written by a newer metamerlab (this one knows up to " +
                               std::to_string(kLatest) + "); upgrade metamerlab");

    {
      Stmt s(d, "PRAGMA journal_mode=WAL", "switching to WAL mode");
      std::string mode = s.step() ? s.text(0) : std::string();
      if (mode != "wal" && mode != "memory")
        throw std::runtime_error(path_ + ": cannot use WAL journal mode (got '" + mode +
                                 "'); put the database on a local disk or pass another --db");
    }
    exec(d, "PRAGMA synchronous=FULL", "setting synchronous=FULL");
    exec(d, "PRAGMA foreign_keys=ON", "enabling foreign keys");
    exec(d, ("PRAGMA busy_timeout=" + std::to_string(busy_timeout_ms_)).c_str(),
         "setting the busy timeout");

    // [SECTION] Migrate -------------------------------------------------------------------
    const std::string by =
        "metamerlab " + (options.program_version.empty() ? std::string(METAMERLAB_VERSION)
                                                         : options.program_version);
    const int target = options.migrate_to > 0 && options.migrate_to < kLatest ? options.migrate_to : kLatest;
    while (pragma_int(d, "user_version") < target) {
      Txn t(d, "migrating the schema");
      // Re-read under the write lock: another program may have migrated meanwhile.
      const int v = pragma_int(d, "user_version");
      if (v >= target) {
        t.commit();
        break;
      }
      if (v < 0) throw std::runtime_error(path_ + ": invalid schema version; pass another --db");
      exec(d, kMigrations[v], "migrating the schema to version " + std::to_string(v + 1));
      exec(d, ("PRAGMA user_version=" + std::to_string(v + 1)).c_str(),
           "migrating the schema");
      if (v == 0) {
        Stmt s(d,
               "INSERT OR IGNORE INTO meta(key, value) VALUES "
               "('created_by', ?1), ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
               "migrating the schema");
        s.bind(1, by).run();
      }
      Stmt s(d,
             "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2 || ' ' || strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
             "migrating the schema");
      s.bind(1, "schema_v" + std::to_string(v + 1) + "_applied_by").bind(2, by).run();
      t.commit();
    }
    if (options.max_pages > 0)  // testing: a full disk, simulated (StoreOptions)
      exec(d, ("PRAGMA max_page_count = " + std::to_string(options.max_pages)).c_str(), "capping the file size");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  if (db_) sqlite3_close_v2(db_);
}

int Store::schema_version() const {
  const Db d{db_, path_, busy_timeout_ms_};
  return pragma_int(d, "user_version");
}

int Store::latest_schema_version() { return kLatest; }

std::string Store::integrity_check() const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d, "PRAGMA integrity_check", "checking the database's integrity");
  std::string out;
  while (s.step()) out += (out.empty() ? "" : "; ") + s.text(0);
  return out;
}

std::string Store::responses_version() const {
  const Db d{db_, path_, busy_timeout_ms_};
  Stmt s(d,
         "SELECT (SELECT COUNT(*) || ':' || IFNULL(MAX(rowid), 0) || ':' || IFNULL(group_concat(status), '') FROM sessions)"
         " || '|' || (SELECT COUNT(*) || ':' || IFNULL(MAX(rowid), 0) FROM trials)"
         " || '|' || (SELECT COUNT(*) || ':' || IFNULL(MAX(rowid), 0) FROM trial_judgments)",
         "reading what the responses' analysis reads");
  return s.step() ? s.text(0) : "";
}

}  // namespace mm::data
