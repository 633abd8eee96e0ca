// data/store_merge.cpp: merge_stores (data/merge.h): the databases of a sharded synthesis
// combined into one store in one transaction. Rows are copied column by column between the
// two connections (the columns both schemas have), with the ids they point at remapped.
//
// Sections
//   [SECTION] Inputs      a shard opened read-only and checked before anything is written
//   [SECTION] Rows        the columns of a table, copying a row, comparing values
//   [SECTION] Merge       models, null distributions, synthesis runs, metamers; merge_stores
#include "data/merge.h"
#include "data/sha256.h"
#include "data/sqlite_util.h"
#include "data/store.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mm::data {
namespace {

using detail::Db;
using detail::Stmt;
using detail::Txn;

const std::string kNothing = "; nothing was merged";

// [SECTION] Inputs ------------------------------------------------------------------------
// The tables a synthesis run writes; a shard holding rows of any other table (sessions,
// judgments, live metamers) is not a shard and is refused.
const char* const kForeignTables[] = {"participants", "sessions",          "trials",        "session_events",
                                      "trial_judgments", "metamer_judgments", "live_metamers", "judgment_runs",
                                      "judgments"};

// A shard database opened read-only: never written, never migrated.
class Input {
 public:
  explicit Input(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!fs::exists(path_, ec))
      throw std::runtime_error(path_ + ": no such file; give the --db each shard (synth --shard K/N) wrote" + kNothing);
    if (fs::is_directory(path_, ec))
      throw std::runtime_error(path_ + ": is a folder, not a shard database" + kNothing);
    int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
    if (rc != SQLITE_OK) {
      std::string m = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw std::runtime_error(path_ + ": cannot be opened (" + m + ")" + kNothing);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
    d_.db = db_;
    try {
      check();
    } catch (...) {
      // A constructor that throws runs no destructor: close the connection here.
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw;
    }
  }
  ~Input() { sqlite3_close_v2(db_); }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  const Db& db() const { return d_; }
  const std::string& path() const { return path_; }

 private:
  // One integer PRAGMA; a file that is not a database fails here with its own message.
  int pragma_int(const char* pragma) const {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, (std::string("PRAGMA ") + pragma).c_str(), -1, &s, nullptr);
    int v = 0;
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) v = sqlite3_column_int(s, 0), rc = SQLITE_OK;
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    if ((rc & 0xff) == SQLITE_NOTADB)
      throw std::runtime_error(path_ + ": not an SQLite database; give the --db each shard (synth --shard K/N) wrote" +
                               kNothing);
    if (rc != SQLITE_OK)
      throw std::runtime_error(path_ + ": cannot be read (" + sqlite3_errstr(rc) + ")" + kNothing);
    return v;
  }

  void check() {
    const int app_id = pragma_int("application_id");
    const int version = pragma_int("user_version");
    if (app_id != detail::kApplicationId)
      throw std::runtime_error(path_ + ": not a metamerlab database (" +
                               (app_id == 0 && version == 0 ? std::string("empty or another program's")
                                                            : "it belongs to another program") +
                               "); give the --db each shard (synth --shard K/N) wrote" + kNothing);
    if (version > Store::latest_schema_version())
      throw std::runtime_error(path_ + ": database schema version " + std::to_string(version) +
                               " was written by a newer metamerlab; upgrade metamerlab" + kNothing);
    {
      Stmt s(d_, "PRAGMA integrity_check", "checking the database's integrity");
      std::string first = s.step() ? s.text(0) : std::string();
      for (char& c : first)  // SQLite's report can span lines: one line
        if (c == '\n') c = ' ';
      if (first != "ok")
        throw std::runtime_error(path_ + ": integrity check failed (" + first +
                                 "); run the shard again or restore it from a backup" + kNothing);
    }
    for (const char* t : kForeignTables) {
      bool exists = false;
      {
        Stmt s(d_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", "reading the schema");
        s.bind(1, t);
        exists = s.step();
      }
      if (!exists) continue;
      const std::string count_sql = std::string("SELECT count(*) FROM ") + t;  // t: one of kForeignTables
      Stmt s(d_, count_sql.c_str(), "counting the rows of " + std::string(t));
      const int64_t n = s.step() ? s.i64(0) : 0;
      if (n > 0)
        throw std::runtime_error(path_ + ": holds " + std::to_string(n) + " row(s) of " + t +
                                 "; merge combines the databases of synthesis shards (synth --shard K/N) only" +
                                 kNothing);
    }
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  Db d_{nullptr, path_, 5000};
};

// [SECTION] Rows --------------------------------------------------------------------------
// Table and column names are put into the few statements built at run time (the copies'
// SELECT and INSERT); they are the store's own (the columns OUT's schema has), quoted.
std::string ident(const std::string& name) {
  std::string q = "\"";
  for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::vector<std::string> columns_of(const Db& d, const std::string& table) {
  Stmt s(d, "SELECT name FROM pragma_table_info(?1)", "reading the columns of " + table);
  s.bind(1, table);
  std::vector<std::string> v;
  while (s.step()) v.push_back(s.text(0));
  return v;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  for (const auto& e : v)
    if (e == x) return true;
  return false;
}

// Whether two column values are the same: type and value (reals bit for bit, as stored).
bool same_value(sqlite3_value* a, sqlite3_value* b) {
  const int ta = sqlite3_value_type(a), tb = sqlite3_value_type(b);
  if (ta != tb) return false;
  switch (ta) {
    case SQLITE_NULL: return true;
    case SQLITE_INTEGER: return sqlite3_value_int64(a) == sqlite3_value_int64(b);
    case SQLITE_FLOAT: return sqlite3_value_double(a) == sqlite3_value_double(b);
    default: {
      const int n = sqlite3_value_bytes(a);
      if (n != sqlite3_value_bytes(b)) return false;
      const void* pa = sqlite3_value_blob(a);
      const void* pb = sqlite3_value_blob(b);
      return n == 0 || std::memcmp(pa, pb, static_cast<size_t>(n)) == 0;
    }
  }
}

// A value for a message: numbers in full, text cut at 24 characters.
std::string shown(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL: return "NULL";
    case SQLITE_INTEGER: return std::to_string(sqlite3_value_int64(v));
    case SQLITE_FLOAT: {
      char b[40];
      std::snprintf(b, sizeof b, "%.17g", sqlite3_value_double(v));
      return b;
    }
    default: {
      const unsigned char* p = sqlite3_value_text(v);
      std::string t = p ? reinterpret_cast<const char*>(p) : "";
      return t.size() > 24 ? t.substr(0, 24) + "..." : t;
    }
  }
}

// One table of an input copied into OUT: the rows are read with `select()` (id first, then
// the columns both databases have, but id) and inserted with new ids; the caller replaces
// the foreign keys.
class TableCopy {
 public:
  TableCopy(const Db& in, const Db& out, const std::string& table) : table_(table) {
    const auto out_cols = columns_of(out, table);
    for (const auto& c : columns_of(in, table))
      if (c != "id" && has(out_cols, c)) cols_.push_back(c);
    std::string names, params;
    for (size_t i = 0; i < cols_.size(); ++i) {
      names += (i ? ", " : "") + ident(cols_[i]);
      params += (i ? ", ?" : "?") + std::to_string(i + 1);
    }
    select_sql_ = "SELECT id, " + names + " FROM " + ident(table) + " ORDER BY id";
    const std::string insert_sql = "INSERT INTO " + ident(table) + " (" + names + ") VALUES (" + params + ")";
    insert_ = std::make_unique<Stmt>(out, insert_sql.c_str(), "merging the rows of " + table);
    out_db_ = out.db;
    in_path_ = in.path;
  }
  const std::string& select_sql() const { return select_sql_; }
  const std::vector<std::string>& columns() const { return cols_; }
  // The position of a column in select()'s rows, or -1.
  int at(const std::string& col) const {
    for (size_t i = 0; i < cols_.size(); ++i)
      if (cols_[i] == col) return static_cast<int>(i) + 1;
    return -1;
  }
  // Inserts the current row of `src`, with `ids` (select position -> id; 0 -> NULL) in place
  // of the input's values. Returns the new row's id.
  int64_t insert(const Stmt& src, const std::map<int, int64_t>& ids) {
    insert_->reset();
    for (size_t i = 0; i < cols_.size(); ++i) {
      const int pos = static_cast<int>(i) + 1;
      auto r = ids.find(pos);
      if (r != ids.end()) insert_->bind_id_or_null(pos, r->second);
      else insert_->bind_value(pos, src.value(pos));
    }
    try {
      insert_->run();
    } catch (const std::runtime_error&) {
      // A value OUT's schema refuses (a CHECK, NOT NULL or UNIQUE constraint) is the shard's
      // fault, not OUT's: name the shard (the merge fuzzer found one).
      if ((sqlite3_errcode(out_db_) & 0xff) != SQLITE_CONSTRAINT) throw;
      throw std::runtime_error(in_path_ + ": a row of " + table_ + " does not fit the store's schema (" +
                               sqlite3_errmsg(out_db_) + "); run the shard again" + kNothing);
    }
    return sqlite3_last_insert_rowid(out_db_);
  }

 private:
  std::string table_, select_sql_, in_path_;
  std::vector<std::string> cols_;
  std::unique_ptr<Stmt> insert_;
  sqlite3* out_db_ = nullptr;
};

// [SECTION] Merge -------------------------------------------------------------------------
// State across the inputs of one merge.
struct Merge {
  const Db& out;
  MergeReport report;
  std::map<std::string, std::string> file_sha;                  // path -> SHA-256 (each file hashed once)
  std::map<std::pair<std::string, int64_t>, std::string> from;  // (table, OUT id) -> the input it came from

  std::string origin(const std::string& table, int64_t id) const {
    auto f = from.find({table, id});
    return f == from.end() ? out.path : f->second;
  }
};

// The first of `cols` (present in both rows) whose values differ, or "".
std::string first_difference(const Stmt& a, const TableCopy& ta, const Stmt& b, int b_first,
                             const std::vector<std::string>& cols, std::string* values) {
  int k = b_first;
  for (const auto& c : cols) {
    const int pa = ta.at(c);
    if (pa < 0) {  // a column the input's schema has not: not compared
      ++k;
      continue;
    }
    if (!same_value(a.value(pa), b.value(k))) {
      *values = shown(b.value(k)) + " vs " + shown(a.value(pa));
      return c;
    }
    ++k;
  }
  return "";
}

// The columns of `wanted` the input has, "m."-prefixed for a query on OUT.
std::string select_list(const TableCopy& t, const std::vector<std::string>& wanted, std::vector<std::string>* kept) {
  std::string s;
  for (const auto& c : wanted)
    if (t.at(c) >= 0) {
      s += ", m." + ident(c);
      kept->push_back(c);
    }
  return s;
}

bool has_table(const Db& d, const char* table) {
  Stmt s(d, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", "reading the schema");
  s.bind(1, table);
  return s.step();
}

void merge_input(const Input& in, Merge& mg) {
  const Db& id = in.db();
  const Db& od = mg.out;
  MergeReport& rep = mg.report;

  // Models: by SHA-256 and spec.
  std::map<int64_t, int64_t> models;
  {
    TableCopy t(id, od, "models");
    Stmt src(id, t.select_sql().c_str(), "reading the models");
    Stmt find(od, "SELECT id FROM models WHERE sha256 = ?1 AND spec = ?2", "matching the models");
    while (src.step()) {
      find.reset();
      find.bind(1, src.text(t.at("sha256"))).bind(2, src.text(t.at("spec")));
      if (find.step()) {
        models[src.i64(0)] = find.i64(0);
        ++rep.models_present;
      } else {
        models[src.i64(0)] = t.insert(src, {});
        ++rep.models_added;
      }
    }
  }
  auto model_of = [&](int64_t in_id) {
    auto m = models.find(in_id);
    if (m == models.end())
      throw std::runtime_error(in.path() + ": a record names model " + std::to_string(in_id) +
                               ", which the database does not hold; run the shard again" + kNothing);
    return m->second;
  };

  // Null distributions: by model SHA-256, layer, natural set, pairs and seed; the same key
  // must hold the same values.
  std::map<int64_t, int64_t> nulls;
  {
    TableCopy t(id, od, "null_distributions");
    const std::vector<std::string> values = {"spearman_max",  "pearson_max",  "snr_max",
                                             "spearman_mean", "pearson_mean", "snr_mean"};
    Stmt src(id, t.select_sql().c_str(), "reading the null distributions");
    Stmt find(od,
              "SELECT m.id, m.spearman_max, m.pearson_max, m.snr_max, m.spearman_mean, m.pearson_mean, m.snr_mean "
              "FROM null_distributions AS m WHERE m.model_sha256 = ?1 AND m.layer = ?2 AND m.set_sha256 = ?3 "
              "AND m.pairs = ?4 AND m.seed = ?5 ORDER BY m.id",
              "matching the null distributions");
    while (src.step()) {
      find.reset();
      find.bind(1, src.text(t.at("model_sha256"))).bind(2, src.text(t.at("layer")));
      find.bind(3, src.text(t.at("set_sha256"))).bind(4, src.i64(t.at("pairs"))).bind(5, src.i64(t.at("seed")));
      int64_t match = 0;
      std::string differs, shown_values, other;
      while (find.step()) {
        std::string v;
        const std::string c = first_difference(src, t, find, 1, values, &v);
        if (c.empty()) {
          match = find.i64(0);
          break;
        }
        if (differs.empty()) differs = c, shown_values = v, other = mg.origin("null_distributions", find.i64(0));
      }
      if (match) {
        nulls[src.i64(0)] = match;
        ++rep.nulls_present;
      } else if (!differs.empty()) {
        throw std::runtime_error("the null distribution of layer " + src.text(t.at("layer")) + " (model " +
                                 src.text(t.at("model_sha256")).substr(0, 12) + ", " +
                                 std::to_string(src.i64(t.at("pairs"))) + " pairs, seed " +
                                 std::to_string(src.i64(t.at("seed"))) + ") differs between " + other + " and " +
                                 in.path() + " (" + differs + " " + shown_values +
                                 "): the same key must hold the same values" + kNothing);
      } else {
        const int64_t nid = t.insert(src, {{t.at("model_id"), model_of(src.i64(t.at("model_id")))}});
        nulls[src.i64(0)] = nid;
        mg.from[{"null_distributions", nid}] = in.path();
        ++rep.nulls_added;
      }
    }
  }

  // Null distributions in parts (null --shard K/N; schema v6): by their key, block count and
  // unit; the same key must hold the same values. Completed after every input is in.
  if (has_table(id, "null_parts")) {
    TableCopy t(id, od, "null_parts");
    const std::vector<std::string> values = {"stimuli", "unit_pairs", "spearman_max", "pearson_max", "snr_max",
                                             "spearman_sum", "pearson_sum", "snr_sum"};
    Stmt src(id, t.select_sql().c_str(), "reading the parts of null distributions");
    Stmt find(od,
              "SELECT m.id, m.stimuli, m.unit_pairs, m.spearman_max, m.pearson_max, m.snr_max, m.spearman_sum, "
              "m.pearson_sum, m.snr_sum FROM null_parts AS m WHERE m.model_sha256 = ?1 AND m.layer = ?2 AND "
              "m.set_sha256 = ?3 AND m.pairs = ?4 AND m.seed = ?5 AND m.blocks = ?6 AND m.unit = ?7",
              "matching the parts of null distributions");
    while (src.step()) {
      find.reset();
      find.bind(1, src.text(t.at("model_sha256"))).bind(2, src.text(t.at("layer")));
      find.bind(3, src.text(t.at("set_sha256"))).bind(4, src.i64(t.at("pairs"))).bind(5, src.i64(t.at("seed")));
      find.bind(6, src.i64(t.at("blocks"))).bind(7, src.i64(t.at("unit")));
      if (find.step()) {
        std::string v;
        const std::string c = first_difference(src, t, find, 1, values, &v);
        if (!c.empty())
          throw std::runtime_error("part " + std::to_string(src.i64(t.at("unit"))) + " of the null distribution of layer " +
                                   src.text(t.at("layer")) + " differs between " +
                                   mg.origin("null_parts", find.i64(0)) + " and " + in.path() + " (" + c + " " + v +
                                   "): the same key must hold the same values" + kNothing);
        ++rep.null_parts_present;
        continue;
      }
      const int64_t pid = t.insert(src, {{t.at("model_id"), model_of(src.i64(t.at("model_id")))}});
      mg.from[{"null_parts", pid}] = in.path();
      ++rep.null_parts_added;
    }
  }

  // Synthesis runs: by model, options, output folder, command and start time (provenance:
  // each shard's run is its own record).
  std::map<int64_t, int64_t> runs;
  std::map<int64_t, std::string> run_options;  // input run id -> options_json
  {
    TableCopy t(id, od, "synth_runs");
    Stmt src(id, t.select_sql().c_str(), "reading the synthesis runs");
    Stmt find(od,
              "SELECT id FROM synth_runs WHERE model_id = ?1 AND options_json = ?2 AND out_dir = ?3 "
              "AND command = ?4 AND started_at = ?5",
              "matching the synthesis runs");
    while (src.step()) {
      const int64_t model = model_of(src.i64(t.at("model_id")));
      run_options[src.i64(0)] = src.text(t.at("options_json"));
      find.reset();
      find.bind(1, model).bind(2, src.text(t.at("options_json"))).bind(3, src.text(t.at("out_dir")));
      find.bind(4, src.text(t.at("command"))).bind(5, src.text(t.at("started_at")));
      if (find.step()) {
        runs[src.i64(0)] = find.i64(0);
        ++rep.runs_present;
      } else {
        runs[src.i64(0)] = t.insert(src, {{t.at("model_id"), model}});
        ++rep.runs_added;
      }
    }
  }

  // Metamers: keyed by their run's options, reference and layer; files checked first.
  {
    TableCopy t(id, od, "metamers");
    const std::vector<std::string> content = {
        "category",  "seed",       "iterations", "final_loss",   "spearman",     "pearson",    "snr_db",
        "null_spearman_max",       "null_pearson_max",           "null_snr_max", "pred_metamer", "pred_reference",
        "passed",    "status",     "message",    "png_sha256",   "wav_sha256",   "float_sha256", "converged",
        "loss_curve"};
    std::vector<std::string> compared;
    const std::string list = select_list(t, content, &compared);
    Stmt src(id, t.select_sql().c_str(), "reading the metamers");
    const std::string find_sql = "SELECT m.id" + list +
                                 " FROM metamers AS m JOIN synth_runs AS r ON r.id = m.run_id "
                                 "WHERE m.reference_sha256 = ?1 AND m.layer = ?2 AND r.options_json = ?3 ORDER BY m.id";
    Stmt find(od, find_sql.c_str(), "matching the metamers");
    while (src.step()) {
      const std::string ref = src.text(t.at("reference_path")), layer = src.text(t.at("layer"));
      const std::string what = in.path() + ": the metamer of " + ref + " at layer " + layer;
      // Its files: present, and the bytes that were recorded.
      for (const char* kind : {"png", "wav", "float"}) {
        const int pp = t.at(std::string(kind) + "_path"), ps = t.at(std::string(kind) + "_sha256");
        if (pp < 0 || ps < 0) continue;
        const std::string path = src.text(pp), recorded = src.text(ps);
        if (path.empty()) continue;
        auto known = mg.file_sha.find(path);
        if (known == mg.file_sha.end()) {
          std::error_code ec;
          if (!fs::is_regular_file(path, ec))
            throw std::runtime_error(what + " names " + path +
                                     ", which is missing; copy the shard's --out folder back (or run the shard "
                                     "again) and merge again" +
                                     kNothing);
          known = mg.file_sha.emplace(path, sha256_file(path)).first;
          ++rep.files_checked;
        }
        if (known->second != recorded)
          throw std::runtime_error(what + " names " + path + ", which has changed since it was recorded (SHA-256 " +
                                   known->second.substr(0, 12) + "..., recorded " + recorded.substr(0, 12) +
                                   "...); run the shard again" + kNothing);
      }
      const int64_t in_run = src.i64(t.at("run_id"));
      auto run = runs.find(in_run);
      if (run == runs.end())
        throw std::runtime_error(what + " names synthesis run " + std::to_string(in_run) +
                                 ", which the database does not hold; run the shard again" + kNothing);
      find.reset();
      find.bind(1, src.text(t.at("reference_sha256"))).bind(2, layer).bind(3, run_options[in_run]);
      int64_t match = 0;
      std::string differs, values, other;
      while (find.step()) {
        std::string v;
        const std::string c = first_difference(src, t, find, 1, compared, &v);
        if (c.empty()) {
          match = find.i64(0);
          break;
        }
        if (differs.empty()) differs = c, values = v, other = mg.origin("metamers", find.i64(0));
      }
      if (match) {
        ++rep.metamers_present;
        continue;
      }
      if (!differs.empty())
        throw std::runtime_error("the metamer of " + ref + " at layer " + layer + " differs between " + other +
                                 " and " + in.path() + " (" + differs + " " + values +
                                 "): the same model, options, seed, reference and layer must give the same "
                                 "metamer" +
                                 kNothing);
      std::map<int, int64_t> ids{{t.at("run_id"), run->second}};
      const int pn = t.at("null_id");
      if (pn >= 0) {
        auto n = nulls.find(src.i64(pn));
        ids[pn] = src.is_null(pn) || n == nulls.end() ? 0 : n->second;
      }
      const int64_t mid = t.insert(src, ids);
      mg.from[{"metamers", mid}] = in.path();
      ++rep.metamers_added;
    }
  }
}

// The database file a path names ("" for an SQLite URI or :memory:).
std::string plain_file(const std::string& p) { return p.rfind("file:", 0) == 0 || p == ":memory:" ? "" : p; }

}  // namespace

MergeReport merge_stores(const std::string& out, const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw std::runtime_error("merge: give at least one shard database after " + out);
  const std::string out_file = plain_file(out);
  std::error_code ec;
  const bool existed = out_file.empty() || fs::exists(out_file, ec);
  // Every input is checked before OUT is opened (or created).
  std::vector<std::unique_ptr<Input>> ins;
  for (const auto& p : inputs) {
    if (!out_file.empty() && existed && fs::exists(p, ec) && fs::equivalent(p, out_file, ec))
      throw std::runtime_error(p + ": is the output database itself; give the shards after " + out + kNothing);
    ins.push_back(std::make_unique<Input>(p));
  }
  // An OUT created by this merge is removed again on any error: OUT is as it was (absent).
  const auto remove_new_out = [&] {
    if (!existed)
      for (const char* sfx : {"", "-wal", "-shm", "-journal"}) fs::remove(out_file + sfx, ec);
  };
  MergeReport report;
  try {
    Store store(out);
    const std::string check = store.integrity_check();
    if (check != "ok")
      throw std::runtime_error(out + ": integrity check failed (" + check + "); restore it from a backup" + kNothing);
    const Db od{store.handle(), out, 5000};
    Merge mg{od, {}, {}, {}};
    Txn t(od, "merging shard databases");
    for (const auto& in : ins) merge_input(*in, mg);
    mg.report.nulls_completed = detail::complete_null_parts(od);
    t.commit();
    report = mg.report;
  } catch (const std::runtime_error& e) {
    remove_new_out();
    // A message quotes the shard's text (paths, layers), which may hold line breaks or
    // control characters: one line.
    std::string m = e.what();
    for (char& c : m)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    throw std::runtime_error(m);
  } catch (...) {
    remove_new_out();
    throw;
  }
  report.inputs = static_cast<int>(inputs.size());
  return report;
}

}  // namespace mm::data
