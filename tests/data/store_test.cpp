// Tests for the data store's normal operation: schema creation and versioning, idempotent
// migrations, the connection's pragmas, every record's round trip through the database,
// the resume/provenance queries, and that each add_* is one transaction that rolls back.
//
// Sections
//   [SECTION] Schema        tables, indexes, version, meta, reopen
//   [SECTION] Pragmas       WAL, synchronous=FULL, foreign keys, busy timeout
//   [SECTION] Records       models, runs, metamers, nulls, judgments
//   [SECTION] Transactions  rollback on error, full database, two connections
#include "data/store.h"
#include "tests/data/store_fixtures.h"
#include "tests/testutil.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <regex>
#include <string>

namespace {

using namespace mm::data;
using namespace mm::data::testing;

const std::regex kIsoUtc(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");

// [SECTION] Schema ------------------------------------------------------------------------
TEST(StoreSchema, CreatedAtLatestVersion) {
  mm::test::TempDir tmp("store-schema");
  StoreOptions o;
  o.program_version = "9.8.7+test";
  Store s(tmp / "metamerlab.db", o);
  EXPECT_EQ(s.path(), tmp / "metamerlab.db");
  ASSERT_GE(Store::latest_schema_version(), 1);
  EXPECT_EQ(s.schema_version(), Store::latest_schema_version());
  EXPECT_EQ(q_int(s.handle(), "PRAGMA user_version"), Store::latest_schema_version());
  EXPECT_EQ(q_int(s.handle(), "PRAGMA application_id"), 0x4D4D4C42);

  for (const char* t : {"meta", "models", "synth_runs", "metamers", "null_distributions",
                        "judgment_runs", "judgments"})
    EXPECT_EQ(q_int(s.handle(), std::string("SELECT count(*) FROM sqlite_master WHERE "
                                            "type='table' AND name='") + t + "'"), 1)
        << t;
  for (const char* i : {"metamers_by_reference", "metamers_by_run", "metamers_by_png_sha",
                        "metamers_by_wav_sha", "metamers_by_float_sha", "synth_runs_by_options",
                        "null_distributions_by_key"})
    EXPECT_EQ(q_int(s.handle(), std::string("SELECT count(*) FROM sqlite_master WHERE "
                                            "type='index' AND name='") + i + "'"), 1)
        << i;

  EXPECT_EQ(q_text(s.handle(), "SELECT value FROM meta WHERE key='created_by'"),
            "metamerlab 9.8.7+test");
  EXPECT_TRUE(std::regex_match(q_text(s.handle(), "SELECT value FROM meta WHERE key='created_at'"),
                               kIsoUtc));

  // Foreign keys chain metamers -> synth_runs -> models, and the others to their parents.
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('metamers') "
                               "WHERE \"from\"='run_id'"),
            "synth_runs");
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('metamers') "
                               "WHERE \"from\"='null_id'"),
            "null_distributions");
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('synth_runs')"),
            "models");
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('judgments')"),
            "judgment_runs");
  EXPECT_EQ(q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('judgment_runs')"),
            "models");
  EXPECT_EQ(
      q_text(s.handle(), "SELECT \"table\" FROM pragma_foreign_key_list('null_distributions')"),
      "models");
}

// The lookups are served by indexes, not table scans.
TEST(StoreSchema, LookupsUseIndexes) {
  mm::test::TempDir tmp("store-plan");
  Store s(tmp / "m.db");
  // EXPLAIN QUERY PLAN rows: (id, parent, notused, detail).
  auto plan_rows = [&](const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(s.handle(), ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st,
                                 nullptr),
              SQLITE_OK);
    std::string all;
    while (sqlite3_step(st) == SQLITE_ROW)
      all += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + " | ";
    sqlite3_finalize(st);
    return all;
  };
  std::string p = plan_rows(
      "SELECT id FROM null_distributions WHERE model_sha256='a' AND layer='b' AND "
      "set_sha256='c' AND pairs=1 AND seed=2");
  EXPECT_NE(p.find("null_distributions_by_key"), std::string::npos) << p;
  p = plan_rows("SELECT m.id FROM metamers m JOIN synth_runs r ON r.id=m.run_id WHERE "
                "m.reference_sha256='a' AND m.layer='b' AND r.options_json='c' AND r.out_dir='d'");
  EXPECT_NE(p.find("metamers_by_reference"), std::string::npos) << p;
  p = plan_rows("SELECT id FROM metamers WHERE png_sha256='x' OR wav_sha256='x' OR "
                "float_sha256='x'");
  EXPECT_NE(p.find("metamers_by_png_sha"), std::string::npos) << p;
  EXPECT_NE(p.find("metamers_by_wav_sha"), std::string::npos) << p;
  EXPECT_NE(p.find("metamers_by_float_sha"), std::string::npos) << p;
}

std::string schema_dump(sqlite3* db) {
  return q_text(db, "SELECT group_concat(type || ':' || name || ':' || ifnull(sql, ''), '\n') "
                    "FROM (SELECT * FROM sqlite_master ORDER BY type, name)");
}

TEST(StoreSchema, ReopenIsIdempotent) {
  mm::test::TempDir tmp("store-reopen");
  const std::string db = tmp / "m.db";
  std::string dump, created_by, created_at;
  int64_t meta_rows = 0, run = 0;
  {
    StoreOptions o;
    o.program_version = "first";
    Store s(db, o);
    run = s.begin_synth_run(sample_run(s.upsert_model(sample_model())));
    s.add_metamer(sample_metamer(run, 1));
    dump = schema_dump(s.handle());
    created_by = q_text(s.handle(), "SELECT value FROM meta WHERE key='created_by'");
    created_at = q_text(s.handle(), "SELECT value FROM meta WHERE key='created_at'");
    meta_rows = q_int(s.handle(), "SELECT count(*) FROM meta");
  }
  for (int i = 0; i < 3; ++i) {
    StoreOptions o;
    o.program_version = "second";
    Store s(db, o);
    EXPECT_EQ(s.schema_version(), Store::latest_schema_version());
    EXPECT_EQ(schema_dump(s.handle()), dump);
    EXPECT_EQ(q_text(s.handle(), "SELECT value FROM meta WHERE key='created_by'"), created_by);
    EXPECT_EQ(created_by, "metamerlab first");
    EXPECT_EQ(q_text(s.handle(), "SELECT value FROM meta WHERE key='created_at'"), created_at);
    EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM meta"), meta_rows);
    ASSERT_EQ(s.metamers_of_run(run).size(), 1u);
    expect_same(s.metamers_of_run(run)[0], sample_metamer(run, 1));
  }
}

TEST(StoreSchema, EmptyFileIsInitialised) {
  mm::test::TempDir tmp("store-empty");
  const std::string db = tmp / "empty.db";
  mm::test::write_bytes(db, "");
  Store s(db);
  EXPECT_EQ(s.schema_version(), Store::latest_schema_version());
}

// [SECTION] Pragmas -----------------------------------------------------------------------
TEST(StorePragmas, WalFullForeignKeysBusyTimeout) {
  mm::test::TempDir tmp("store-pragmas");
  const std::string db = tmp / "m.db";
  {
    Store s(db);
    EXPECT_EQ(q_text(s.handle(), "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(q_int(s.handle(), "PRAGMA synchronous"), 2);  // FULL
    EXPECT_EQ(q_int(s.handle(), "PRAGMA foreign_keys"), 1);
    EXPECT_EQ(q_int(s.handle(), "PRAGMA busy_timeout"), 5000);
  }
  {
    StoreOptions o;
    o.busy_timeout_ms = 1234;
    Store s(db, o);
    EXPECT_EQ(q_int(s.handle(), "PRAGMA busy_timeout"), 1234);
  }
  // WAL is a property of the file: a plain connection sees it too.
  RawDb raw(db);
  EXPECT_EQ(q_text(raw.db, "PRAGMA journal_mode"), "wal");
}

// [SECTION] Records -----------------------------------------------------------------------
TEST(StoreRecords, UpsertModel) {
  mm::test::TempDir tmp("store-model");
  Store s(tmp / "m.db");
  ModelRecord m = sample_model("a");
  int64_t id = s.upsert_model(m);
  EXPECT_GT(id, 0);
  EXPECT_EQ(q_text(s.handle(), "SELECT spec||'|'||path||'|'||sha256||'|'||modality||'|'||"
                               "info_json FROM models WHERE id=" + std::to_string(id)),
            m.spec + "|" + m.path + "|" + m.sha256 + "|" + m.modality + "|" + m.info_json);
  EXPECT_TRUE(std::regex_match(
      q_text(s.handle(), "SELECT created_at FROM models WHERE id=" + std::to_string(id)), kIsoUtc));

  // Same sha256 + spec: same row, path and info updated.
  ModelRecord moved = m;
  moved.path = "/elsewhere/alexnet.pt";
  moved.info_json = R"({"name":"alexnet","v":2})";
  EXPECT_EQ(s.upsert_model(moved), id);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM models"), 1);
  EXPECT_EQ(q_text(s.handle(), "SELECT path FROM models WHERE id=" + std::to_string(id)),
            moved.path);
  EXPECT_EQ(q_text(s.handle(), "SELECT info_json FROM models WHERE id=" + std::to_string(id)),
            moved.info_json);

  // Another spec with the same file, or the same spec with other weights: new rows.
  ModelRecord other_spec = m;
  other_spec.spec = "/models/copy.pt";
  ModelRecord other_sha = m;
  other_sha.sha256 = std::string(64, 'f');
  int64_t id2 = s.upsert_model(other_spec);
  int64_t id3 = s.upsert_model(other_sha);
  EXPECT_NE(id2, id);
  EXPECT_NE(id3, id);
  EXPECT_NE(id3, id2);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM models"), 3);
  EXPECT_EQ(s.upsert_model(other_sha), id3);
}

TEST(StoreRecords, SynthRunLifecycle) {
  mm::test::TempDir tmp("store-run");
  Store s(tmp / "m.db");
  int64_t model = s.upsert_model(sample_model());
  SynthRunRecord r = sample_run(model, R"({"optimizer":"adam","seed":3})", "/out/x");
  int64_t run = s.begin_synth_run(r);
  const std::string where = " FROM synth_runs WHERE id=" + std::to_string(run);
  EXPECT_EQ(q_int(s.handle(), "SELECT model_id" + where), model);
  EXPECT_EQ(q_text(s.handle(), "SELECT command" + where), r.command);
  EXPECT_EQ(q_text(s.handle(), "SELECT options_json" + where), r.options_json);
  EXPECT_EQ(q_text(s.handle(), "SELECT out_dir" + where), r.out_dir);
  EXPECT_EQ(q_text(s.handle(), "SELECT program_version" + where), r.program_version);
  EXPECT_EQ(q_text(s.handle(), "SELECT status" + where), "running");
  EXPECT_EQ(q_int(s.handle(), "SELECT finished_at IS NULL" + where), 1);
  const std::string started = q_text(s.handle(), "SELECT started_at" + where);
  EXPECT_TRUE(std::regex_match(started, kIsoUtc)) << started;

  s.finish_synth_run(run, "done", 12.5);
  EXPECT_EQ(q_text(s.handle(), "SELECT status" + where), "done");
  EXPECT_EQ(q_text(s.handle(), "SELECT wall_s" + where), "12.5");
  const std::string finished = q_text(s.handle(), "SELECT finished_at" + where);
  EXPECT_TRUE(std::regex_match(finished, kIsoUtc)) << finished;
  EXPECT_GE(finished, started);

  for (const char* st : {"failed", "interrupted"}) {
    int64_t r2 = s.begin_synth_run(r);
    s.finish_synth_run(r2, st, 1.0);
    EXPECT_EQ(q_text(s.handle(), "SELECT status FROM synth_runs WHERE id=" + std::to_string(r2)),
              st);
  }

  expect_error([&] { s.finish_synth_run(run, "finished", 1.0); }, {"finished"});
  EXPECT_EQ(q_text(s.handle(), "SELECT status" + where), "done");
  expect_error([&] { s.finish_synth_run(run + 100, "done", 1.0); },
               {tmp / "m.db", std::to_string(run + 100)});
  // A run must belong to a recorded model.
  expect_error([&] { s.begin_synth_run(sample_run(model + 100)); }, {tmp / "m.db"});
}

TEST(StoreRecords, KilledRunsAreMarkedInterrupted) {
  mm::test::TempDir tmp("store-interrupted");
  Store s(tmp / "m.db");
  int64_t model = s.upsert_model(sample_model());
  SynthRunRecord r = sample_run(model, R"({"seed":1})", "/out/x");
  int64_t killed = s.begin_synth_run(r);                                   // never finished
  int64_t other = s.begin_synth_run(sample_run(model, R"({"seed":2})", "/out/x"));
  int64_t elsewhere = s.begin_synth_run(sample_run(model, R"({"seed":1})", "/out/y"));
  int64_t done = s.begin_synth_run(r);
  s.finish_synth_run(done, "done", 1.0);
  EXPECT_EQ(s.mark_interrupted_runs(r.options_json, r.out_dir), 1);
  auto status = [&](int64_t id) {
    return q_text(s.handle(), "SELECT status FROM synth_runs WHERE id=" + std::to_string(id));
  };
  EXPECT_EQ(status(killed), "interrupted");
  EXPECT_EQ(status(other), "running");
  EXPECT_EQ(status(elsewhere), "running");
  EXPECT_EQ(status(done), "done");
  EXPECT_EQ(s.mark_interrupted_runs(r.options_json, r.out_dir), 0);
}

TEST(StoreRecords, MetamersRoundTrip) {
  mm::test::TempDir tmp("store-metamers");
  Store s(tmp / "m.db");
  int64_t model = s.upsert_model(sample_model());
  int64_t null_id = s.add_null(sample_null(model));
  int64_t run1 = s.begin_synth_run(sample_run(model));
  int64_t run2 = s.begin_synth_run(sample_run(model, R"({"seed":2})"));
  std::vector<MetamerRecord> in1 = {sample_metamer(run1, 1, null_id), sample_metamer(run1, 2),
                                    sample_metamer(run1, 3, null_id)};
  std::vector<int64_t> ids;
  for (const auto& m : in1) ids.push_back(s.add_metamer(m));
  s.add_metamer(sample_metamer(run2, 4));
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], ids[2]);

  auto out1 = s.metamers_of_run(run1);
  ASSERT_EQ(out1.size(), in1.size());
  for (size_t i = 0; i < in1.size(); ++i) {
    SCOPED_TRACE(i);
    expect_same(out1[i], in1[i]);
  }
  auto out2 = s.metamers_of_run(run2);
  ASSERT_EQ(out2.size(), 1u);
  expect_same(out2[0], sample_metamer(run2, 4));
  EXPECT_TRUE(s.metamers_of_run(run2 + 10).empty());

  // null_id 0 is stored as NULL (no null distribution), a real id as that id.
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM metamers WHERE null_id IS NULL"), 2);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM metamers WHERE null_id=" +
                                  std::to_string(null_id)),
            2);
  EXPECT_TRUE(std::regex_match(
      q_text(s.handle(), "SELECT created_at FROM metamers WHERE id=" + std::to_string(ids[0])),
      kIsoUtc));
}

TEST(StoreRecords, FindMetamerForResume) {
  mm::test::TempDir tmp("store-find");
  Store s(tmp / "m.db");
  int64_t model = s.upsert_model(sample_model());
  const std::string opts = R"({"optimizer":"adam","seed":1})";
  const std::string other_opts = R"({"optimizer":"sgd","seed":1})";
  int64_t run_a = s.begin_synth_run(sample_run(model, opts, "/out/a"));
  int64_t run_b = s.begin_synth_run(sample_run(model, opts, "/out/a"));    // same options
  int64_t run_c = s.begin_synth_run(sample_run(model, other_opts, "/out/a"));
  int64_t run_d = s.begin_synth_run(sample_run(model, opts, "/out/d"));

  MetamerRecord old = sample_metamer(run_a, 5);
  MetamerRecord newer = sample_metamer(run_b, 10);  // same reference and layer as `old`
  newer.reference_sha256 = old.reference_sha256;
  newer.layer = old.layer;
  MetamerRecord foreign_opts = sample_metamer(run_c, 20);
  foreign_opts.reference_sha256 = "only-in-c";
  foreign_opts.layer = old.layer;
  MetamerRecord foreign_dir = sample_metamer(run_d, 25);
  foreign_dir.reference_sha256 = "only-in-d";
  foreign_dir.layer = old.layer;
  s.add_metamer(old);
  s.add_metamer(newer);
  s.add_metamer(foreign_opts);
  s.add_metamer(foreign_dir);

  auto f = s.find_metamer(opts, "/out/a", old.reference_sha256, old.layer);
  ASSERT_TRUE(f.has_value());
  expect_same(*f, newer);  // the newest of the matching rows

  EXPECT_FALSE(s.find_metamer(opts, "/out/a", old.reference_sha256, "other-layer"));
  EXPECT_FALSE(s.find_metamer(opts, "/out/a", "unknown-sha", old.layer));
  EXPECT_FALSE(s.find_metamer(opts, "/out/other", old.reference_sha256, old.layer));
  EXPECT_FALSE(s.find_metamer(other_opts, "/out/a", old.reference_sha256, old.layer));
  // Rows of runs with other options or another out_dir are not returned.
  EXPECT_FALSE(s.find_metamer(opts, "/out/a", "only-in-c", old.layer));
  EXPECT_FALSE(s.find_metamer(opts, "/out/a", "only-in-d", old.layer));
  auto c = s.find_metamer(other_opts, "/out/a", "only-in-c", old.layer);
  ASSERT_TRUE(c.has_value());
  expect_same(*c, foreign_opts);
  auto d = s.find_metamer(opts, "/out/d", "only-in-d", old.layer);
  ASSERT_TRUE(d.has_value());
  expect_same(*d, foreign_dir);
}

TEST(StoreRecords, FindMetamerByFileSha) {
  mm::test::TempDir tmp("store-bysha");
  Store s(tmp / "m.db");
  int64_t run = s.begin_synth_run(sample_run(s.upsert_model(sample_model())));
  MetamerRecord image = sample_metamer(run, 1);
  image.wav_path.clear();
  image.wav_sha256.clear();
  MetamerRecord audio = sample_metamer(run, 2);
  audio.png_path.clear();
  audio.png_sha256.clear();
  s.add_metamer(image);
  s.add_metamer(audio);

  auto by_png = s.find_metamer_by_file_sha(image.png_sha256);
  ASSERT_TRUE(by_png);
  expect_same(*by_png, image);
  auto by_float = s.find_metamer_by_file_sha(image.float_sha256);
  ASSERT_TRUE(by_float);
  expect_same(*by_float, image);
  auto by_wav = s.find_metamer_by_file_sha(audio.wav_sha256);
  ASSERT_TRUE(by_wav);
  expect_same(*by_wav, audio);
  auto by_float2 = s.find_metamer_by_file_sha(audio.float_sha256);
  ASSERT_TRUE(by_float2);
  expect_same(*by_float2, audio);
  EXPECT_FALSE(s.find_metamer_by_file_sha("no-such-sha"));
  EXPECT_FALSE(s.find_metamer_by_file_sha(""));  // empty hashes of the other modality
}

TEST(StoreRecords, NullsRoundTrip) {
  mm::test::TempDir tmp("store-null");
  Store s(tmp / "m.db");
  int64_t model = s.upsert_model(sample_model());
  NullRecord a = sample_null(model, 0);
  NullRecord b = a;  // same key but more pairs
  b.pairs = a.pairs + 1;
  b.spearman_max = 0.77;
  int64_t ia = s.add_null(a);
  int64_t ib = s.add_null(b);
  EXPECT_NE(ia, ib);

  auto fa = s.find_null(a.model_sha256, a.layer, a.set_sha256, a.pairs, a.seed);
  ASSERT_TRUE(fa);
  EXPECT_EQ(fa->first, ia);
  expect_same(fa->second, a);
  auto fb = s.find_null(b.model_sha256, b.layer, b.set_sha256, b.pairs, b.seed);
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->first, ib);
  expect_same(fb->second, b);

  EXPECT_FALSE(s.find_null("other", a.layer, a.set_sha256, a.pairs, a.seed));
  EXPECT_FALSE(s.find_null(a.model_sha256, "other", a.set_sha256, a.pairs, a.seed));
  EXPECT_FALSE(s.find_null(a.model_sha256, a.layer, "other", a.pairs, a.seed));
  EXPECT_FALSE(s.find_null(a.model_sha256, a.layer, a.set_sha256, a.pairs + 5, a.seed));
  EXPECT_FALSE(s.find_null(a.model_sha256, a.layer, a.set_sha256, a.pairs, a.seed + 1));

  // The newest of identical keys wins (a recomputed distribution replaces the old one).
  NullRecord a2 = a;
  a2.snr_mean = 42.0;
  int64_t ia2 = s.add_null(a2);
  auto fa2 = s.find_null(a.model_sha256, a.layer, a.set_sha256, a.pairs, a.seed);
  ASSERT_TRUE(fa2);
  EXPECT_EQ(fa2->first, ia2);
  expect_same(fa2->second, a2);
}

TEST(StoreRecords, JudgmentsRoundTrip) {
  mm::test::TempDir tmp("store-judg");
  Store s(tmp / "m.db");
  int64_t model = s.upsert_model(sample_model());
  JudgmentRunRecord r{model, "/stim/natural", "dog,cat", "0.1.0+j"};
  int64_t jr = s.begin_judgment_run(r);
  const std::string where = " FROM judgment_runs WHERE id=" + std::to_string(jr);
  EXPECT_EQ(q_int(s.handle(), "SELECT model_id" + where), model);
  EXPECT_EQ(q_text(s.handle(), "SELECT stimulus_set" + where), r.stimulus_set);
  EXPECT_EQ(q_text(s.handle(), "SELECT restricted_to" + where), r.restricted_to);
  EXPECT_EQ(q_text(s.handle(), "SELECT program_version" + where), r.program_version);
  EXPECT_TRUE(std::regex_match(q_text(s.handle(), "SELECT started_at" + where), kIsoUtc));

  std::vector<JudgmentRecord> js;
  for (int i = 0; i < 5; ++i)
    js.push_back({jr, "/stim/natural/dog/" + std::to_string(i) + ".png",
                  "sha" + std::to_string(i), "dog", i % 2 ? "dog" : "cat", i % 2 == 1});
  s.add_judgments(js);
  s.add_judgments({});  // nothing to do
  ASSERT_EQ(q_int(s.handle(), "SELECT count(*) FROM judgments"), 5);
  for (int i = 0; i < 5; ++i) {
    const std::string w = " FROM judgments WHERE stimulus_sha256='sha" + std::to_string(i) + "'";
    EXPECT_EQ(q_int(s.handle(), "SELECT judgment_run_id" + w), jr);
    EXPECT_EQ(q_text(s.handle(), "SELECT stimulus_path" + w), js[i].stimulus_path);
    EXPECT_EQ(q_text(s.handle(), "SELECT category" + w), "dog");
    EXPECT_EQ(q_text(s.handle(), "SELECT predicted" + w), js[i].predicted);
    EXPECT_EQ(q_int(s.handle(), "SELECT correct" + w), js[i].correct ? 1 : 0);
  }
}

// [SECTION] Transactions ------------------------------------------------------------------
TEST(StoreTransactions, FailedAddsRollBack) {
  mm::test::TempDir tmp("store-rollback");
  const std::string db = tmp / "m.db";
  Store s(db);
  int64_t model = s.upsert_model(sample_model());
  int64_t run = s.begin_synth_run(sample_run(model));
  int64_t jr = s.begin_judgment_run({model, "/stim", "", "v"});

  // A metamer of an unknown run violates the foreign key.
  expect_error([&] { s.add_metamer(sample_metamer(run + 50, 1)); }, {db});
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM metamers"), 0);
  EXPECT_EQ(sqlite3_get_autocommit(s.handle()), 1);  // no transaction left open
  // So does one naming an unknown null distribution.
  expect_error([&] { s.add_metamer(sample_metamer(run, 1, 777)); }, {db});
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM metamers"), 0);

  // One bad judgment: none of the vector is kept.
  std::vector<JudgmentRecord> js;
  for (int i = 0; i < 4; ++i) js.push_back({jr, "p" + std::to_string(i), "s", "c", "c", true});
  js.push_back({jr + 99, "bad", "s", "c", "c", false});
  expect_error([&] { s.add_judgments(js); }, {db});
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM judgments"), 0);
  EXPECT_EQ(sqlite3_get_autocommit(s.handle()), 1);

  // The store is still usable afterwards.
  js.pop_back();
  s.add_judgments(js);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM judgments"), 4);
  s.add_metamer(sample_metamer(run, 1));
  EXPECT_EQ(s.metamers_of_run(run).size(), 1u);
}

TEST(StoreTransactions, FullDatabaseIsReportedAndRolledBack) {
  mm::test::TempDir tmp("store-full");
  const std::string db = tmp / "m.db";
  Store s(db);
  int64_t model = s.upsert_model(sample_model());
  int64_t jr = s.begin_judgment_run({model, "/stim", "", "v"});
  // Cap the file at its current size: the next pages cannot be allocated (SQLITE_FULL).
  int64_t pages = q_int(s.handle(), "PRAGMA page_count");
  ASSERT_EQ(q_int(s.handle(), "PRAGMA max_page_count=" + std::to_string(pages)), pages);
  std::vector<JudgmentRecord> js;
  for (int i = 0; i < 200; ++i)
    js.push_back({jr, std::string(2000, 'p') + std::to_string(i), "s", "c", "c", true});
  expect_error([&] { s.add_judgments(js); }, {db, "full", "--db"});
  EXPECT_EQ(sqlite3_get_autocommit(s.handle()), 1);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM judgments"), 0);
  q_int(s.handle(), "PRAGMA max_page_count=1000000");
  s.add_judgments(js);
  EXPECT_EQ(q_int(s.handle(), "SELECT count(*) FROM judgments"), 200);
}

TEST(StoreTransactions, TwoConnectionsShareTheFile) {
  mm::test::TempDir tmp("store-two");
  const std::string db = tmp / "m.db";
  Store a(db);
  Store b(db);
  int64_t model = a.upsert_model(sample_model());
  EXPECT_EQ(b.upsert_model(sample_model()), model);  // b sees a's committed row
  int64_t run = b.begin_synth_run(sample_run(model));
  a.add_metamer(sample_metamer(run, 1));
  b.add_metamer(sample_metamer(run, 2));
  EXPECT_EQ(a.metamers_of_run(run).size(), 2u);
  EXPECT_EQ(b.metamers_of_run(run).size(), 2u);
}

}  // namespace
