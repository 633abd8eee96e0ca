// Tests of merge_stores (data/merge.h), the store side of `metamerlab merge`: shard
// databases made with the store's own API (and real metamer files) combined into one;
// idempotent; a metamer two shards both hold recorded once; the same key with other
// content, a missing or changed file, a non-database and a database with sessions refused
// with one line and OUT left exactly as it was.
//
// Sections
//   [SECTION] Helpers     a shard with files, a dump of every table
//   [SECTION] Merging     ids remapped, idempotent, duplicates once
//   [SECTION] Refusals    conflicts, files, inputs; OUT unchanged
#include "data/merge.h"
#include "data/sha256.h"
#include "tests/data/store_fixtures.h"
#include "tests/testutil.h"

#include <filesystem>
#include <set>

namespace {

namespace fs = std::filesystem;
using namespace mm::data;
using namespace mm::data::testing;
using mm::test::TempDir;

// [SECTION] Helpers -----------------------------------------------------------------------
const std::string kOptions = R"({"model_sha256":"m1","seed":0,"batch":1})";

// A shard's database DIR/NAME.db with one model, one null, one run into DIR/NAME-out and a
// metamer (with PNG and .npy files) for each reference k; `tweak` changes the content of one.
std::string make_shard(const TempDir& tmp, const std::string& name, const std::vector<int>& refs, int tweak = -1) {
  const std::string db = tmp / (name + ".db"), out = tmp / (name + "-out");
  fs::create_directories(out);
  Store s(db);
  const int64_t model = s.upsert_model(sample_model("a"));
  const int64_t null = s.add_null(sample_null(model, 0));
  SynthRunRecord run = sample_run(model, kOptions, out);
  run.command += " --shard " + name;
  const int64_t rid = s.begin_synth_run(run);
  for (int k : refs) {
    MetamerRecord m = sample_metamer(rid, k, null);
    m.layer = "conv1";
    m.wav_path = m.wav_sha256 = "";
    m.png_path = out + "/" + std::to_string(k) + ".png";
    m.float_path = out + "/" + std::to_string(k) + ".npy";
    mm::test::write_bytes(m.png_path, "png bytes of metamer " + std::to_string(k));
    mm::test::write_bytes(m.float_path, "npy bytes of metamer " + std::to_string(k) + (k == tweak ? " tweaked" : ""));
    m.png_sha256 = sha256_file(m.png_path);
    m.float_sha256 = sha256_file(m.float_path);
    if (k == tweak) m.final_loss += 1e-9;
    s.add_metamer(m);
  }
  s.finish_synth_run(rid, "done", 1.5);
  return db;
}

// Every row of every table a merge writes (and the meta table), as text.
std::string dump(const std::string& db) {
  RawDb r(db, SQLITE_OPEN_READONLY);
  std::string o;
  for (const char* t : {"meta", "models", "synth_runs", "null_distributions", "metamers"}) {
    sqlite3_stmt* s = nullptr;
    const std::string sql = std::string("SELECT * FROM ") + t + " ORDER BY 1";
    if (sqlite3_prepare_v2(r.db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) throw std::runtime_error(sql);
    o += std::string("[") + t + "]\n";
    while (sqlite3_step(s) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const unsigned char* p = sqlite3_column_text(s, i);
        o += (p ? reinterpret_cast<const char*>(p) : "NULL") + std::string("|");
      }
      o += "\n";
    }
    sqlite3_finalize(s);
  }
  return o;
}

int64_t count(const std::string& db, const std::string& table) {
  RawDb r(db, SQLITE_OPEN_READONLY);
  return q_int(r.db, "SELECT count(*) FROM " + table);
}

// [SECTION] Merging -----------------------------------------------------------------------
TEST(MergeStores, CombinesShardsWithRemappedIdsAndIsIdempotent) {
  TempDir tmp("merge-basic");
  const std::string a = make_shard(tmp, "a", {0, 1}), b = make_shard(tmp, "b", {2, 3, 4});
  const std::string out = tmp / "out.db";
  // OUT already holds something else, so the shards' ids must be remapped.
  {
    Store s(out);
    const int64_t m = s.upsert_model(sample_model("z"));
    s.begin_synth_run(sample_run(m, R"({"other":1})", "/elsewhere"));
    s.add_null(sample_null(m, 5));
  }
  const MergeReport r = merge_stores(out, {a, b});
  EXPECT_EQ(r.inputs, 2);
  EXPECT_EQ(r.metamers_added, 5);
  EXPECT_EQ(r.metamers_present, 0);
  EXPECT_EQ(r.runs_added, 2);
  EXPECT_EQ(r.models_added, 1);
  EXPECT_EQ(r.models_present, 1);  // the second shard's model is the first's
  EXPECT_EQ(r.nulls_added, 1);
  EXPECT_EQ(r.nulls_present, 1);
  EXPECT_EQ(r.files_checked, 10);

  Store s(out);
  EXPECT_EQ(s.integrity_check(), "ok");
  EXPECT_EQ(count(out, "metamers"), 5);
  EXPECT_EQ(count(out, "synth_runs"), 3);
  // Every metamer points at a run of the shards' model with the shards' options, and at the
  // shards' null (not at OUT's own rows with the same ids in the inputs).
  RawDb raw(out, SQLITE_OPEN_READONLY);
  EXPECT_EQ(q_int(raw.db,
                  "SELECT count(*) FROM metamers m JOIN synth_runs r ON r.id = m.run_id JOIN models o ON o.id = r.model_id "
                  "JOIN null_distributions n ON n.id = m.null_id WHERE o.spec = 'zoo:alexnet-a' AND r.options_json = '" +
                      kOptions + "' AND n.layer = 'relu0'"),
            5);
  EXPECT_EQ(q_text(raw.db, "SELECT group_concat(reference_sha256, ',') FROM (SELECT reference_sha256 FROM metamers ORDER BY id)"),
            "ref0,ref1,ref2,ref3,ref4");
  // Provenance: a merged metamer's file leads to its shard's run.
  auto m = s.find_metamer_by_file_sha(sha256_file(tmp / "b-out/3.npy"));
  ASSERT_TRUE(m);
  auto run = s.synth_run(m->run_id);
  ASSERT_TRUE(run);
  EXPECT_NE(run->run.command.find("--shard b"), std::string::npos);
  EXPECT_EQ(run->status, "done");

  const std::string before = dump(out);
  const MergeReport again = merge_stores(out, {a, b});
  EXPECT_EQ(again.metamers_added + again.runs_added + again.nulls_added + again.models_added, 0);
  EXPECT_EQ(again.metamers_present, 5);
  EXPECT_EQ(dump(out), before) << "merging again must change nothing";
}

TEST(MergeStores, TheSameMetamerFromTwoShardsIsRecordedOnce) {
  TempDir tmp("merge-dup");
  const std::string a = make_shard(tmp, "a", {0, 1}), b = make_shard(tmp, "b", {1, 2});
  const std::string out = tmp / "out.db";
  const MergeReport r = merge_stores(out, {a, b});
  EXPECT_EQ(r.metamers_added, 3);
  EXPECT_EQ(r.metamers_present, 1);
  RawDb raw(out, SQLITE_OPEN_READONLY);
  EXPECT_EQ(q_int(raw.db, "SELECT count(*) FROM metamers WHERE reference_sha256 = 'ref1'"), 1);
  // Recorded from the first shard that had it.
  EXPECT_NE(q_text(raw.db, "SELECT float_path FROM metamers WHERE reference_sha256 = 'ref1'").find("a-out"),
            std::string::npos);
}

// [SECTION] Refusals ----------------------------------------------------------------------
TEST(MergeStores, TheSameKeyWithOtherContentIsRefusedAndOutIsUnchanged) {
  TempDir tmp("merge-conflict");
  const std::string c = make_shard(tmp, "c", {7});
  const std::string a = make_shard(tmp, "a", {0, 1}), b = make_shard(tmp, "b", {1, 2}, /*tweak=*/1);
  const std::string out = tmp / "out.db";
  merge_stores(out, {c});
  const std::string before = dump(out);
  // a merges cleanly first; b's metamer 1 conflicts: nothing of a either.
  const std::string msg = expect_error([&] { merge_stores(out, {a, b}); }, {a, b, "differs", "layer conv1", "nothing was merged"});
  EXPECT_NE(msg.find("final_loss"), std::string::npos) << msg;
  EXPECT_EQ(dump(out), before);
  EXPECT_EQ(Store(out).integrity_check(), "ok");
}

TEST(MergeStores, AMissingOrChangedFileIsRefused) {
  TempDir tmp("merge-files");
  const std::string a = make_shard(tmp, "a", {0, 1}), b = make_shard(tmp, "b", {2, 3});
  const std::string out = tmp / "out.db";
  fs::remove(tmp / "b-out/3.png");
  expect_error([&] { merge_stores(out, {a, b}); }, {b, tmp / "b-out/3.png", "missing", "nothing was merged"});
  EXPECT_FALSE(fs::exists(out)) << "an OUT the merge created is removed again";
  mm::test::write_bytes(tmp / "b-out/3.png", "png bytes of metamer 3");  // restored
  mm::test::write_bytes(tmp / "b-out/2.npy", "edited");
  expect_error([&] { merge_stores(out, {a, b}); }, {b, tmp / "b-out/2.npy", "changed", "SHA-256"});
  EXPECT_FALSE(fs::exists(out));
}

TEST(MergeStores, InputsThatAreNotShardDatabasesAreRefused) {
  TempDir tmp("merge-inputs");
  const std::string a = make_shard(tmp, "a", {0});
  const std::string out = tmp / "out.db";
  merge_stores(out, {a});
  const std::string before = dump(out);
  mm::test::write_bytes(tmp / "notes.db", std::string(4096, 'x'));
  expect_error([&] { merge_stores(out, {a, tmp / "notes.db"}); }, {tmp / "notes.db", "not an SQLite database"});
  {
    RawDb other(tmp / "other.db");
    raw_exec(other.db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  }
  expect_error([&] { merge_stores(out, {tmp / "other.db"}); }, {tmp / "other.db", "not a metamerlab database"});
  expect_error([&] { merge_stores(out, {tmp / "absent.db"}); }, {tmp / "absent.db", "no such file"});
  expect_error([&] { merge_stores(out, {out}); }, {"output database itself"});
  const std::string sessions = make_shard(tmp, "s", {1});
  Store(sessions).upsert_participant("P01");
  expect_error([&] { merge_stores(out, {sessions}); }, {sessions, "participants", "synthesis shards"});
  EXPECT_EQ(dump(out), before);
}

}  // namespace

// [SECTION] Null parts ---------------------------------------------------------------------
namespace {

// Part `unit` of a 2-block (3-unit) null distribution of 10 pairs: units hold 3, 3 and 4.
NullPartRecord sample_part(int64_t model_id, int64_t unit) {
  NullPartRecord p;
  p.model_id = model_id;
  p.model_sha256 = sample_model("a").sha256;
  p.layer = "conv1";
  p.stimulus_set = "naturals";
  p.set_sha256 = std::string(64, 'c');
  p.pairs = 10;
  p.seed = 3;
  p.stimuli = 5;
  p.blocks = 2;
  p.unit = unit;
  p.unit_pairs = unit == 2 ? 4 : 3;
  p.spearman_max = 0.1 * static_cast<double>(unit + 1);
  p.pearson_max = 0.5 - 0.1 * static_cast<double>(unit);
  p.snr_max = unit == 1 ? 7.0 : 2.0;
  p.spearman_sum = 0.25 * static_cast<double>(unit);
  p.pearson_sum = 1.0;
  p.snr_sum = -2.0 + static_cast<double>(unit);
  p.program_version = "test";
  p.wall_s = 1.0;
  return p;
}

std::string parts_shard(const TempDir& tmp, const std::string& name, const std::vector<int64_t>& units, double tweak = 0) {
  const std::string db = tmp / (name + ".db");
  Store s(db);
  const int64_t model = s.upsert_model(sample_model("a"));
  for (int64_t u : units) {
    auto p = sample_part(model, u);
    p.pearson_sum += tweak;
    EXPECT_TRUE(s.add_null_part(p));
  }
  return db;
}

}  // namespace

TEST(NullParts, CombineTakesTheLargestMaximaAndTheSumsOverThePairs) {
  std::vector<NullPartRecord> parts = {sample_part(1, 2), sample_part(1, 0), sample_part(1, 1)};
  const NullRecord n = combine_null_parts(parts);
  EXPECT_EQ(n.pairs, 10);
  EXPECT_DOUBLE_EQ(n.spearman_max, 0.3);
  EXPECT_DOUBLE_EQ(n.pearson_max, 0.5);
  EXPECT_DOUBLE_EQ(n.snr_max, 7.0);
  EXPECT_DOUBLE_EQ(n.spearman_mean, (0.0 + 0.25 + 0.5) / 10);
  EXPECT_DOUBLE_EQ(n.pearson_mean, 3.0 / 10);
  EXPECT_DOUBLE_EQ(n.snr_mean, (-2.0 - 1.0 + 0.0) / 10);
  EXPECT_DOUBLE_EQ(n.wall_s, 3.0);
  // A missing part, a repeated one, or pair counts that do not add up: one line, no result.
  parts.pop_back();
  EXPECT_NE(mm::test::error_of([&] { combine_null_parts(parts); }).find("2 of its 3 parts"), std::string::npos);
  parts.push_back(sample_part(1, 0));
  EXPECT_NE(mm::test::error_of([&] { combine_null_parts(parts); }).find("do not fit together"), std::string::npos);
  parts = {sample_part(1, 0), sample_part(1, 1), sample_part(1, 2)};
  parts[1].unit_pairs = 2;
  EXPECT_NE(mm::test::error_of([&] { combine_null_parts(parts); }).find("hold 9 pairs, not 10"), std::string::npos);
}

TEST(NullParts, AStoreCompletesADistributionOnceEveryPartIsThere) {
  TempDir tmp("null-parts-store");
  Store s(tmp / "s.db");
  const int64_t model = s.upsert_model(sample_model("a"));
  EXPECT_TRUE(s.add_null_part(sample_part(model, 0)));
  EXPECT_TRUE(s.add_null_part(sample_part(model, 2)));
  EXPECT_FALSE(s.add_null_part(sample_part(model, 2)));  // recorded already: kept as it was
  EXPECT_EQ(s.complete_nulls(), 0);
  EXPECT_FALSE(s.find_null(sample_part(model, 0).model_sha256, "conv1", std::string(64, 'c'), 10, 3));
  EXPECT_TRUE(s.add_null_part(sample_part(model, 1)));
  EXPECT_EQ(s.null_parts(sample_part(model, 0).model_sha256, "conv1", std::string(64, 'c'), 10, 3, 2).size(), 3u);
  EXPECT_EQ(s.complete_nulls(), 1);
  EXPECT_EQ(s.complete_nulls(), 0);  // recorded once
  const auto found = s.find_null(sample_part(model, 0).model_sha256, "conv1", std::string(64, 'c'), 10, 3);
  ASSERT_TRUE(found);
  EXPECT_DOUBLE_EQ(found->second.snr_max, 7.0);
  EXPECT_DOUBLE_EQ(found->second.pearson_mean, 0.3);
}

TEST(NullParts, MergeCompletesDistributionsFromTheShardsPartsAndRefusesConflicts) {
  TempDir tmp("null-parts-merge");
  const std::string a = parts_shard(tmp, "a", {0, 2}), b = parts_shard(tmp, "b", {1});
  const std::string out = tmp / "out.db";
  const MergeReport r = merge_stores(out, {a, b});
  EXPECT_EQ(r.null_parts_added, 3);
  EXPECT_EQ(r.nulls_completed, 1);
  {
    Store s(out);
    const auto found = s.find_null(sample_part(1, 0).model_sha256, "conv1", std::string(64, 'c'), 10, 3);
    ASSERT_TRUE(found);
    EXPECT_DOUBLE_EQ(found->second.spearman_max, 0.3);
    EXPECT_DOUBLE_EQ(found->second.spearman_mean, 0.075);
  }
  const std::string before = dump(out);
  const MergeReport again = merge_stores(out, {b, a});
  EXPECT_EQ(again.null_parts_added, 0);
  EXPECT_EQ(again.null_parts_present, 3);
  EXPECT_EQ(again.nulls_completed, 0);
  EXPECT_EQ(dump(out), before);
  EXPECT_EQ(count(out, "null_parts"), 3);
  // One shard only: the parts are kept, no distribution is made up from half of them.
  const std::string half = tmp / "half.db";
  EXPECT_EQ(merge_stores(half, {a}).nulls_completed, 0);
  EXPECT_EQ(count(half, "null_distributions"), 0);
  // The same part with other values: refused, naming both databases; OUT unchanged.
  const std::string c = parts_shard(tmp, "c", {1}, 1e-6);
  const std::string w = mm::test::error_of([&] { merge_stores(out, {c}); });
  EXPECT_NE(w.find("part 1 of the null distribution of layer conv1 differs"), std::string::npos) << w;
  EXPECT_NE(w.find(c), std::string::npos) << w;
  EXPECT_EQ(dump(out), before);
}
