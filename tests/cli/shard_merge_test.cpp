// Black-box tests of `metamerlab synth --shard K/N` and `metamerlab merge`: three shards of
// a small zoo:tiny-cnn run on the bundled emoji16 sample hold exactly the files and records
// of one unsharded run (bit for bit, --threads 1); their merged database holds the same
// metamers, traces them, and merging again (or merging the unsharded run's database too)
// adds nothing; a conflicting database, a missing file and a non-database are refused with
// one line and OUT left unchanged; a merge SIGKILLed at any moment leaves OUT as it was or
// completely merged; bad --shard values are usage errors.
//
// Sections
//   [SECTION] Helpers
//   [SECTION] Shards        N=3 against N=1, files and records
//   [SECTION] Merge         idempotent, trace, refusals
//   [SECTION] Kill          SIGKILL during a large merge
//   [SECTION] Usage
#include "tests/cli/cli_util.h"

#include <nlohmann/json.hpp>

#include <map>

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;

// [SECTION] Helpers -----------------------------------------------------------------------
std::string sample() { return mm::test::source_dir() + "/stimuli/samples/emoji16/reference"; }

// 16 references in batches of 3 at two layers: 12 work units, 4 per shard of 3.
std::string synth_args(const std::string& dir) {
  return "synth --model zoo:tiny-cnn --layers conv1,stage3 --input " + q(sample()) + " --out " + q(dir + "/out") +
         " --db " + q(dir + "/m.db") + " --batch 3 --iterations 5 --rounds 2 --null-pairs 50 --threads 1 --quiet";
}

// Every row of the tables a merge writes, as text (ids included).
std::string dump(const std::string& db) {
  Sql s(db);
  std::string o = "integrity=" + s.text("PRAGMA integrity_check") + "\n";
  for (const char* t : {"models", "synth_runs", "null_distributions", "metamers"})
    for (const auto& r : s.rows(std::string("SELECT * FROM ") + t + " ORDER BY id")) {
      o += t;
      for (const auto& c : r) o += "|" + c;
      o += "\n";
    }
  return o;
}

// The three shards and the unsharded run, made once for the tests of this file.
struct Runs {
  TempDir tmp{"cli-shards"};
  std::string base, shard[3];
  Runs() {
    base = tmp / "base";
    expect_ok(run_mm(synth_args(base)));
    for (int k = 0; k < 3; ++k) {
      shard[k] = tmp / ("s" + std::to_string(k));
      const RunResult r = run_mm(synth_args(shard[k]) + " --shard " + std::to_string(k) + "/3");
      expect_ok(r);
      EXPECT_TRUE(contains(r.out, "shard " + std::to_string(k) + "/3: 4 of 12 work unit(s)")) << r.out;
    }
  }
};

Runs& runs() {
  static Runs r;
  return r;
}

// [SECTION] Shards ------------------------------------------------------------------------
TEST(CliShards, ThreeShardsHoldExactlyTheFilesAndRecordsOfOneRun) {
  Runs& r = runs();
  const auto all = files_under(r.base + "/out");
  ASSERT_EQ(with_ext(all, ".npy").size(), 32u);
  std::map<std::string, int> owner;
  for (int k = 0; k < 3; ++k) {
    const auto mine = files_under(r.shard[k] + "/out");
    EXPECT_FALSE(mine.empty()) << "shard " << k << " made nothing";
    for (const auto& f : mine) {
      EXPECT_TRUE(owner.emplace(f, k).second) << f << " made by shards " << owner[f] << " and " << k;
      EXPECT_EQ(mm::data::sha256_file(r.shard[k] + "/out/" + f), mm::data::sha256_file(r.base + "/out/" + f))
          << f << " of shard " << k << " differs from the unsharded run's";
    }
  }
  std::vector<std::string> union_files;
  for (const auto& [f, k] : owner) union_files.push_back(f);
  EXPECT_EQ(union_files, all) << "the shards' files together are not the unsharded run's";

  const auto whole = metamer_records(r.base + "/m.db");
  ASSERT_EQ(whole.size(), 32u);
  std::map<std::string, std::string> together;
  for (int k = 0; k < 3; ++k)
    for (const auto& [key, v] : metamer_records(r.shard[k] + "/m.db")) EXPECT_TRUE(together.emplace(key, v).second) << key;
  EXPECT_EQ(together, whole);
}

// [SECTION] Merge -------------------------------------------------------------------------
TEST(CliMerge, MergedShardsAreTheUnshardedRunIdempotentAndTraceable) {
  Runs& r = runs();
  TempDir tmp("cli-merge");
  const std::string out = tmp / "merged.db";
  const std::string shards = q(r.shard[0] + "/m.db") + " " + q(r.shard[1] + "/m.db") + " " + q(r.shard[2] + "/m.db");
  const RunResult m = run_mm("merge " + q(out) + " " + shards);
  expect_ok(m);
  EXPECT_TRUE(contains(m.out, "metamers 32 added, 0 already there")) << m.out;
  EXPECT_TRUE(contains(m.out, "synthesis runs 3 added")) << m.out;
  EXPECT_EQ(metamer_records(out), metamer_records(r.base + "/m.db"));
  EXPECT_EQ(Sql(out).num("SELECT count(DISTINCT model_id) FROM synth_runs"), 1);

  // Merging again, and merging the unsharded run's database: no metamer added (the
  // unsharded run's record is added as provenance; its metamers are the shards').
  const std::string before = dump(out);
  const RunResult again = run_mm("merge " + q(out) + " " + shards);
  expect_ok(again);
  EXPECT_TRUE(contains(again.out, "metamers 0 added, 32 already there")) << again.out;
  EXPECT_EQ(dump(out), before);
  const RunResult whole = run_mm("merge " + q(out) + " " + q(r.base + "/m.db"));
  expect_ok(whole);
  EXPECT_TRUE(contains(whole.out, "metamers 0 added, 32 already there")) << whole.out;

  // trace: a merged metamer's file leads to its shard's run.
  const std::string file = r.shard[1] + "/out/" + with_ext(files_under(r.shard[1] + "/out"), ".npy")[0];
  const RunResult t = run_mm("trace " + q(file) + " --db " + q(out) + " --json");
  expect_ok(t);
  const auto j = nlohmann::json::parse(t.out);
  EXPECT_TRUE(contains(j["run"]["command"].get<std::string>(), "--shard 1/3")) << t.out;
  EXPECT_EQ(j["model"]["spec"], "zoo:tiny-cnn");
}

TEST(CliMerge, ConflictMissingFileAndNonDatabaseAreRefusedWithOUTUnchanged) {
  Runs& r = runs();
  TempDir tmp("cli-merge-refused");
  const std::string out = tmp / "merged.db";
  expect_ok(run_mm("merge " + q(out) + " " + q(r.shard[0] + "/m.db")));
  const std::string before = dump(out);

  // The same metamer with other content (here: another final loss).
  const std::string bad = tmp / "bad.db";
  copy_db(r.shard[0] + "/m.db", bad);
  Sql(bad, true).exec("UPDATE metamers SET final_loss = final_loss * 2 WHERE id = 3");
  expect_error(run_mm("merge " + q(out) + " " + q(r.shard[1] + "/m.db") + " " + q(bad)), 1,
               {out, bad, "differs", "final_loss", "nothing was merged"});
  EXPECT_EQ(dump(out), before);

  // A metamer whose file is gone (into a new OUT: not left behind).
  const std::string npy = with_ext(files_under(r.shard[2] + "/out"), ".npy")[1];
  const std::string moved = tmp / "moved.npy";
  fs::copy_file(r.shard[2] + "/out/" + npy, moved);
  fs::remove(r.shard[2] + "/out/" + npy);
  const RunResult missing = run_mm("merge " + q(tmp / "fresh.db") + " " + q(r.shard[2] + "/m.db"));
  fs::copy_file(moved, r.shard[2] + "/out/" + npy);
  expect_error(missing, 1, {r.shard[2] + "/m.db", npy, "missing"});
  EXPECT_FALSE(fs::exists(tmp / "fresh.db"));

  // Not a database.
  mm::test::write_bytes(tmp / "notes.db", "these are notes, not a database\n" + std::string(2000, 'x'));
  expect_error(run_mm("merge " + q(out) + " " + q(tmp / "notes.db")), 1, {tmp / "notes.db", "not an SQLite database"});
  EXPECT_EQ(dump(out), before);
}

// [SECTION] Kill --------------------------------------------------------------------------
TEST(CliMerge, SigkillDuringALargeMergeLeavesOUTAsItWasOrMerged) {
  Runs& r = runs();
  TempDir tmp("cli-merge-kill");
  // A large input: shard 0's metamers copied 1,000 times under other reference hashes
  // (the same files, so every one checks out).
  const std::string big = tmp / "big.db";
  copy_db(r.shard[0] + "/m.db", big);
  {
    Sql s(big, true);
    const auto cols = s.rows("SELECT group_concat(name, ', ') FROM pragma_table_info('metamers') WHERE name != 'id'")[0][0];
    std::string sel = cols;
    sel.replace(sel.find("reference_sha256"), 16, "reference_sha256 || '-' || n");
    ASSERT_EQ(s.exec("WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 1000) "
                     "INSERT INTO metamers (" + cols + ") SELECT " + sel + " FROM metamers, k"),
              SQLITE_OK);
    ASSERT_GT(s.num("SELECT count(*) FROM metamers"), 10000);
  }
  const std::string base_out = tmp / "out.db", done = tmp / "done.db";
  expect_ok(run_mm("merge " + q(base_out) + " " + q(r.shard[1] + "/m.db")));
  const std::string before = dump(base_out);
  copy_db(base_out, done);
  const auto t0 = std::chrono::steady_clock::now();
  expect_ok(run_mm("merge " + q(done) + " " + q(big)));
  const double full_s = seconds_since(t0);
  const std::string after = dump(done);
  ASSERT_NE(before, after);

  int unchanged = 0, merged = 0;
  for (double frac : {0.1, 0.3, 0.5, 0.7, 0.9}) {
    const std::string target = tmp / ("kill-" + std::to_string(static_cast<int>(frac * 10)) + ".db");
    copy_db(base_out, target);
    {
      Background b({"merge", target, big}, tmp / "kill.out", tmp / "kill.err");
      std::this_thread::sleep_for(std::chrono::duration<double>(frac * full_s));
      b.kill_and_wait();
    }
    const std::string now = dump(target);
    EXPECT_TRUE(now == before || now == after) << "a merge killed at " << frac << " of its time left OUT half-merged";
    unchanged += now == before;
    merged += now == after;
  }
  std::cout << "[kill] full merge " << full_s << " s; killed merges: " << unchanged << " left OUT as it was, " << merged
            << " had committed\n";
}

// [SECTION] Null shards -------------------------------------------------------------------
// null --shard K/N: each shard records its parts; merged, the distributions are complete,
// equal the unsharded command's within rounding, and the next null (or synth) reads them
// from the cache. A shard run again computes nothing; spilling (--null-memory) changes nothing.
TEST(CliNullShards, ThreeShardsMergedEqualOneRunAndAreCached) {
  TempDir tmp("cli-null-shards");
  const std::string common = "null --model zoo:tiny-cnn --layers conv1,logits --input " + q(sample()) +
                             " --pairs 200 --seed 2 --threads 1 --json";
  const RunResult one = run_mm(common + " --db " + q(tmp / "one.db"));
  expect_ok(one);
  const auto whole = nlohmann::json::parse(one.out);
  std::vector<std::string> dbs;
  for (int k = 0; k < 3; ++k) {
    dbs.push_back(tmp / ("n" + std::to_string(k) + ".db"));
    const RunResult r = run_mm(common + " --db " + q(dbs.back()) + " --shard " + std::to_string(k) + "/3" +
                               (k == 1 ? " --null-memory 0 --null-spill " + q(tmp.path) : ""));
    if (k == 1) {  // 0 MB is refused: the budget is a positive number of MB
      expect_error(r, 2, {"--null-memory"});
      const RunResult again = run_mm(common + " --db " + q(dbs.back()) + " --shard 1/3 --null-memory 1 --null-spill " +
                                     q(tmp.path));
      expect_ok(again);
      continue;
    }
    expect_ok(r);
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["blocks"], 2);  // 3 shards: 2 blocks, 3 parts per layer
    EXPECT_EQ(j["layers"]["conv1"]["units"], nlohmann::json::array({k}));
    EXPECT_EQ(j["completed"], 0);
  }
  const RunResult rerun = run_mm(common + " --db " + q(dbs[0]) + " --shard 0/3");
  expect_ok(rerun);
  EXPECT_EQ(nlohmann::json::parse(rerun.out)["layers"]["conv1"]["computed"], 0) << rerun.out;
  const std::string merged = tmp / "merged.db";
  const RunResult m = run_mm("merge " + q(merged) + " " + q(dbs[0]) + " " + q(dbs[1]) + " " + q(dbs[2]));
  expect_ok(m);
  EXPECT_TRUE(contains(m.out, "6 added, 0 already there; 2 null distribution(s) completed")) << m.out;
  const RunResult cached = run_mm(common + " --db " + q(merged));
  expect_ok(cached);
  const auto got = nlohmann::json::parse(cached.out);
  for (const std::string layer : {"conv1", "logits"}) {
    const auto& g = got["layers"][layer];
    const auto& w = whole["layers"][layer];
    EXPECT_TRUE(g["cached"].get<bool>()) << layer;
    EXPECT_EQ(g["pairs"], w["pairs"]);
    for (const char* k : {"spearman_max", "pearson_max", "snr_db_max", "spearman_mean", "pearson_mean", "snr_db_mean"})
      EXPECT_NEAR(g[k].get<double>(), w[k].get<double>(), 1e-12) << layer << " " << k;
  }
  // An unmerged shard cannot stand in for the whole: its database has no complete distribution.
  const RunResult lone = run_mm(common + " --db " + q(dbs[2]));
  expect_ok(lone);
  EXPECT_FALSE(nlohmann::json::parse(lone.out)["layers"]["conv1"]["cached"].get<bool>());
  expect_error(run_mm(common + " --db " + q(tmp / "x.db") + " --shard 3/3"), 2, {"null", "--shard", "3/3"});
}

// [SECTION] Usage -------------------------------------------------------------------------
TEST(CliShards, BadShardValuesAndMergeWithoutShardsAreUsageErrors) {
  TempDir tmp("cli-shard-usage");
  for (const std::string v : {"3/3", "x", "1/0", "-1/2", "1", "1/2/3", "0/"})
    expect_error(run_mm(synth_args(tmp.path) + " --shard " + q(v)), 2, {"--shard", "K/N", v});
  EXPECT_FALSE(fs::exists(tmp / "m.db"));
  expect_error(run_mm("merge " + q(tmp / "out.db")), 2, {"merge", "SHARD.db"});
  EXPECT_FALSE(fs::exists(tmp / "out.db"));
  const RunResult h = run_mm("merge --help");
  expect_ok(h);
  EXPECT_TRUE(contains(h.out, "OUT.db SHARD.db")) << h.out;
}

}  // namespace
