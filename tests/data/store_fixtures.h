// Shared helpers for the data tests: raw SQLite queries (to check what the store wrote
// independently of its own readers), sample records whose every field differs, and
// field-by-field comparisons.
#pragma once
#include "data/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <stdexcept>
#include <string>

namespace mm::data::testing {

// First column of the first row of `sql` as text ("" if no row). Throws on SQL errors.
inline std::string q_text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
    throw std::runtime_error("test query failed: " + sql + ": " + sqlite3_errmsg(db));
  std::string out;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    const unsigned char* p = sqlite3_column_text(s, 0);
    if (p) out = reinterpret_cast<const char*>(p);
  } else if (rc != SQLITE_DONE) {
    std::string m = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    throw std::runtime_error("test query failed: " + sql + ": " + m);
  }
  sqlite3_finalize(s);
  return out;
}

inline int64_t q_int(sqlite3* db, const std::string& sql) {
  const std::string t = q_text(db, sql);
  return t.empty() ? 0 : std::stoll(t);
}

// Runs SQL on a raw handle; returns the result code.
inline int raw_exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

// A raw connection that closes itself.
struct RawDb {
  sqlite3* db = nullptr;
  explicit RawDb(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK)
      throw std::runtime_error("raw open failed: " + path);
  }
  ~RawDb() { sqlite3_close_v2(db); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
};

inline ModelRecord sample_model(const std::string& tag = "a") {
  ModelRecord m;
  m.spec = "zoo:alexnet-" + tag;
  m.path = "/models/alexnet-" + tag + ".pt";
  m.sha256 = std::string(63, '1') + tag.substr(0, 1);
  m.modality = "image";
  m.info_json = R"({"name":"alexnet","tag":")" + tag + R"("})";
  return m;
}

inline SynthRunRecord sample_run(int64_t model_id, const std::string& options = R"({"seed":1})",
                                 const std::string& out_dir = "/out/run1") {
  SynthRunRecord r;
  r.model_id = model_id;
  r.command = "metamerlab synth --model zoo:alexnet --out " + out_dir;
  r.options_json = options;
  r.out_dir = out_dir;
  r.program_version = "0.1.0+abc";
  return r;
}

// Every field set, and set differently for different k, so a swapped or dropped column
// shows up as a mismatch.
inline MetamerRecord sample_metamer(int64_t run_id, int k, int64_t null_id = 0) {
  MetamerRecord m;
  m.run_id = run_id;
  m.reference_path = "/stim/dog/" + std::to_string(k) + ".png";
  m.reference_sha256 = "ref" + std::to_string(k);
  m.category = "dog" + std::to_string(k);
  m.layer = "conv" + std::to_string(k % 5);
  m.seed = 1000 + k;
  m.iterations = 2000 + k;
  m.final_loss = 0.125 + k;
  m.spearman = 0.9 + k * 1e-3;
  m.pearson = 0.8 + k * 1e-3;
  m.snr_db = 21.5 + k;
  m.null_spearman_max = 0.31 + k;
  m.null_pearson_max = 0.32 + k;
  m.null_snr_max = 3.3 + k;
  m.null_id = null_id;
  m.pred_metamer = "dog_pred_m" + std::to_string(k);
  m.pred_reference = "dog_pred_r" + std::to_string(k);
  m.passed = (k % 2) == 1;
  m.status = (k % 3 == 0) ? "ok" : (k % 3 == 1 ? "failed" : "nan");
  m.message = "message \"quoted\" 'and' unicode \xc3\xa9 " + std::to_string(k);
  m.png_path = "/out/" + std::to_string(k) + ".png";
  m.png_sha256 = "png" + std::to_string(k);
  m.wav_path = "/out/" + std::to_string(k) + ".wav";
  m.wav_sha256 = "wav" + std::to_string(k);
  m.float_path = "/out/" + std::to_string(k) + ".npy";
  m.float_sha256 = "npy" + std::to_string(k);
  m.wall_s = 12.75 + k;
  return m;
}

inline NullRecord sample_null(int64_t model_id, int k = 0) {
  NullRecord n;
  n.model_id = model_id;
  n.model_sha256 = "modelsha" + std::to_string(k);
  n.layer = "relu" + std::to_string(k);
  n.stimulus_set = "/stim/natural" + std::to_string(k);
  n.set_sha256 = "setsha" + std::to_string(k);
  n.pairs = 100 + k;
  n.seed = 7 + k;
  n.spearman_max = 0.11 + k;
  n.pearson_max = 0.12 + k;
  n.snr_max = 0.13 + k;
  n.spearman_mean = 0.01 + k;
  n.pearson_mean = 0.02 + k;
  n.snr_mean = 0.03 + k;
  n.program_version = "0.1.0+null" + std::to_string(k);
  n.wall_s = 99.5 + k;
  return n;
}

inline void expect_same(const MetamerRecord& a, const MetamerRecord& b) {
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.reference_path, b.reference_path);
  EXPECT_EQ(a.reference_sha256, b.reference_sha256);
  EXPECT_EQ(a.category, b.category);
  EXPECT_EQ(a.layer, b.layer);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.final_loss, b.final_loss);
  EXPECT_EQ(a.spearman, b.spearman);
  EXPECT_EQ(a.pearson, b.pearson);
  EXPECT_EQ(a.snr_db, b.snr_db);
  EXPECT_EQ(a.null_spearman_max, b.null_spearman_max);
  EXPECT_EQ(a.null_pearson_max, b.null_pearson_max);
  EXPECT_EQ(a.null_snr_max, b.null_snr_max);
  EXPECT_EQ(a.null_id, b.null_id);
  EXPECT_EQ(a.pred_metamer, b.pred_metamer);
  EXPECT_EQ(a.pred_reference, b.pred_reference);
  EXPECT_EQ(a.passed, b.passed);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.png_path, b.png_path);
  EXPECT_EQ(a.png_sha256, b.png_sha256);
  EXPECT_EQ(a.wav_path, b.wav_path);
  EXPECT_EQ(a.wav_sha256, b.wav_sha256);
  EXPECT_EQ(a.float_path, b.float_path);
  EXPECT_EQ(a.float_sha256, b.float_sha256);
  EXPECT_EQ(a.wall_s, b.wall_s);
}

inline void expect_same(const NullRecord& a, const NullRecord& b) {
  EXPECT_EQ(a.model_id, b.model_id);
  EXPECT_EQ(a.model_sha256, b.model_sha256);
  EXPECT_EQ(a.layer, b.layer);
  EXPECT_EQ(a.stimulus_set, b.stimulus_set);
  EXPECT_EQ(a.set_sha256, b.set_sha256);
  EXPECT_EQ(a.pairs, b.pairs);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.spearman_max, b.spearman_max);
  EXPECT_EQ(a.pearson_max, b.pearson_max);
  EXPECT_EQ(a.snr_max, b.snr_max);
  EXPECT_EQ(a.spearman_mean, b.spearman_mean);
  EXPECT_EQ(a.pearson_mean, b.pearson_mean);
  EXPECT_EQ(a.snr_mean, b.snr_mean);
  EXPECT_EQ(a.program_version, b.program_version);
  EXPECT_EQ(a.wall_s, b.wall_s);
}

// Asserts that `f` throws std::runtime_error whose message contains every one of `parts`,
// and returns the message.
template <class F>
std::string expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "missing \"" << p << "\" in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    return msg;
  }
  ADD_FAILURE() << "expected a std::runtime_error";
  return {};
}

}  // namespace mm::data::testing
