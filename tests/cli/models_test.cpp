// Black-box tests of `metamerlab classify`, `null` and `info`: JSON output parsed and
// checked for internal consistency and against the database, category restriction,
// the null cache, many pairs, and model descriptions of the zoo and exported archives.
//
// Sections
//   [SECTION] classify
//   [SECTION] null
//   [SECTION] info
#include "tests/cli/cli_util.h"

#include <nlohmann/json.hpp>

#include <map>

#include "stimuli/demo.h"

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;
using json = nlohmann::json;

const std::vector<std::string> kTinyClasses = {"checker", "disc", "ring", "stripes"};

bool in(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Checks a classify --json object against itself: entries, overall and per-category.
void expect_consistent(const json& j, const std::vector<std::string>& allowed, size_t n) {
  ASSERT_TRUE(j["stimuli"].is_array());
  ASSERT_EQ(j["stimuli"].size(), n);
  std::map<std::string, std::pair<int, int>> per;  // category -> (n, correct)
  int correct = 0;
  for (const auto& s : j["stimuli"]) {
    const std::string path = s["path"], cat = s["category"], pred = s["predicted"];
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(fs::path(path).parent_path().filename().string(), cat) << "category is the parent folder";
    EXPECT_TRUE(in(allowed, pred)) << pred << " is not an allowed class";
    EXPECT_TRUE(s["score"].is_number());
    EXPECT_EQ(s["correct"].get<bool>(), cat == pred) << path;
    per[cat].first += 1;
    per[cat].second += cat == pred;
    correct += cat == pred;
  }
  EXPECT_EQ(j["n"], n);
  EXPECT_EQ(j["correct"], correct);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), static_cast<double>(correct) / n);
  ASSERT_EQ(j["per_category"].size(), per.size());
  for (const auto& [cat, nc] : per) {
    ASSERT_TRUE(j["per_category"].contains(cat)) << cat;
    const auto& a = j["per_category"][cat];
    EXPECT_EQ(a["n"], nc.first) << cat;
    EXPECT_EQ(a["correct"], nc.second) << cat;
    EXPECT_DOUBLE_EQ(a["accuracy"].get<double>(), static_cast<double>(nc.second) / nc.first) << cat;
  }
}

// [SECTION] classify ----------------------------------------------------------------------
TEST(CliClassify, JsonRestrictionDatabaseAndUnknownCategory) {
  TempDir tmp("cli-classify");
  const std::string set = tmp / "shapes", db = tmp / "m.db";
  mm::stimuli::write_demo_shapes(set, 2, 64, 3);  // checker, disc, ring, stripes x 2
  const std::string base = "classify --model zoo:tiny-cnn --input " + q(set) + " --db " + q(db) + " --threads 1";

  auto all = run_mm(base + " --json");
  expect_ok(all);
  EXPECT_EQ(all.err, "");
  ASSERT_EQ(lines(all.out).size(), 1u) << "one JSON object on one line";
  json ja = json::parse(all.out);
  EXPECT_EQ(ja["model"], "zoo:tiny-cnn");
  EXPECT_EQ(ja["restricted_to"], json::array());
  expect_consistent(ja, kTinyClasses, 8);
  EXPECT_EQ(ja["per_category"].size(), 4u);

  const std::vector<std::string> subset = {"disc", "ring"};
  auto sub = run_mm(base + " --json --categories disc,ring");
  expect_ok(sub);
  json js = json::parse(sub.out);
  EXPECT_EQ(js["restricted_to"], json(subset));
  expect_consistent(js, subset, 8);
  // The restricted prediction is the arg-max over the subset: where the unrestricted winner
  // is in the subset it stays, and no restricted winner scores above the overall winner.
  for (size_t i = 0; i < 8; ++i) {
    const auto &a = ja["stimuli"][i], &s = js["stimuli"][i];
    ASSERT_EQ(a["path"], s["path"]);
    EXPECT_LE(s["score"].get<double>(), a["score"].get<double>() + 1e-6);
    if (in(subset, a["predicted"])) {
      EXPECT_EQ(s["predicted"], a["predicted"]);
      EXPECT_NEAR(s["score"].get<double>(), a["score"].get<double>(), 1e-6);
    }
  }

  // Text mode: one line per stimulus and the same accuracy.
  auto text = run_mm(base + " --categories disc --categories ring");
  expect_ok(text);
  int ok = 0, miss = 0;
  for (const auto& l : lines(text.out)) {
    ok += l.rfind("ok   ", 0) == 0;
    miss += l.rfind("miss ", 0) == 0;
  }
  EXPECT_EQ(ok + miss, 8) << text.out;
  EXPECT_EQ(ok, js["correct"].get<int>()) << text.out;
  EXPECT_TRUE(contains(text.out, "accuracy ")) << text.out;

  // Recorded: three judgment runs of 8 judgments agreeing with the output.
  {
    Sql s(db);
    EXPECT_EQ(s.num("SELECT count(*) FROM judgment_runs"), 3);
    EXPECT_EQ(s.text("SELECT restricted_to FROM judgment_runs ORDER BY id LIMIT 1 OFFSET 1"), "disc,ring");
    EXPECT_EQ(s.text("SELECT restricted_to FROM judgment_runs ORDER BY id LIMIT 1"), "");
    auto rows = s.rows("SELECT stimulus_path, stimulus_sha256, category, predicted, correct FROM judgments "
                       "WHERE judgment_run_id = (SELECT min(id) FROM judgment_runs) ORDER BY id");
    ASSERT_EQ(rows.size(), 8u);
    for (size_t i = 0; i < 8; ++i) {
      const std::string path = ja["stimuli"][i]["path"];
      EXPECT_EQ(rows[i][0], fs::absolute(path).string());
      EXPECT_EQ(rows[i][1], mm::data::sha256_file(path));
      EXPECT_EQ(rows[i][2], ja["stimuli"][i]["category"]);
      EXPECT_EQ(rows[i][3], ja["stimuli"][i]["predicted"]);
      EXPECT_EQ(rows[i][4], ja["stimuli"][i]["correct"].get<bool>() ? "1" : "0");
    }
  }
  const std::string before = db_summary(db);

  // An unknown category: exit 1, named, nothing recorded.
  auto bad = run_mm(base + " --json --categories disc,zebra");
  expect_error(bad, 1, {"\"zebra\"", "--categories"});
  EXPECT_FALSE(contains(bad.err, "\"disc\"")) << "only the unknown name is blamed";
  EXPECT_EQ(db_summary(db), before);
}

// An exported TorchScript archive (32x32, classes a..d): 64x64 inputs are resized.
TEST(CliClassify, TorchScriptArchiveRestricted) {
  TempDir tmp("cli-classify-ts");
  make_image_folder(tmp / "in", {"a", "b"}, 2);
  auto r = run_mm("classify --model " + q(fixture("tiny_script.pt")) + " --input " + q(tmp / "in") +
                  " --categories a,b --json --db " + q(tmp / "m.db") + " --threads 1");
  expect_ok(r);
  json j = json::parse(r.out);
  expect_consistent(j, {"a", "b"}, 4);
}

// [SECTION] null --------------------------------------------------------------------------
TEST(CliNull, JsonCacheAndManyPairs) {
  TempDir tmp("cli-null");
  const std::string set = tmp / "in", db = tmp / "m.db";
  make_image_folder(set, {"disc", "ring"}, 2);
  const std::string base = "null --model zoo:tiny-cnn --layers conv1,stage3 --input " + q(set) + " --db " + q(db) +
                           " --threads 1";
  auto r1 = run_mm(base + " --pairs 50 --json");
  expect_ok(r1);
  EXPECT_EQ(r1.err, "");
  ASSERT_EQ(lines(r1.out).size(), 1u);
  json j1 = json::parse(r1.out);
  EXPECT_EQ(j1["model"], "zoo:tiny-cnn");
  EXPECT_EQ(j1["stimuli"], 4);
  ASSERT_EQ(j1["layers"].size(), 2u);
  for (const char* layer : {"conv1", "stage3"}) {
    SCOPED_TRACE(layer);
    ASSERT_TRUE(j1["layers"].contains(layer));
    const auto& l = j1["layers"][layer];
    EXPECT_EQ(l["pairs"], 50);
    EXPECT_EQ(l["seed"], 0);
    EXPECT_EQ(l["cached"], false);
    for (const char* m : {"spearman", "pearson", "snr_db"}) {
      const double mx = l[std::string(m) + "_max"], mean = l[std::string(m) + "_mean"];
      EXPECT_GE(mx, mean) << m;
      if (std::string(m) != "snr_db") {
        EXPECT_LE(mx, 1.0 + 1e-9) << m;
        EXPECT_GE(mean, -1.0 - 1e-9) << m;
      }
    }
  }
  {
    Sql s(db);
    auto rows = s.rows("SELECT id, layer, pairs, spearman_max, pearson_mean, snr_max FROM null_distributions ORDER BY id");
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) {
      const auto& l = j1["layers"][row[1]];
      EXPECT_EQ(std::stoll(row[0]), l["null_id"].get<long long>());
      EXPECT_EQ(row[2], "50");
      EXPECT_DOUBLE_EQ(std::stod(row[3]), l["spearman_max"].get<double>());
      EXPECT_DOUBLE_EQ(std::stod(row[4]), l["pearson_mean"].get<double>());
      EXPECT_DOUBLE_EQ(std::stod(row[5]), l["snr_db_max"].get<double>());
    }
  }

  // Again: from the cache, same ids and values; the text table says "cache".
  auto r2 = run_mm(base + " --pairs 50 --json");
  expect_ok(r2);
  json j2 = json::parse(r2.out);
  for (const char* layer : {"conv1", "stage3"}) {
    EXPECT_EQ(j2["layers"][layer]["cached"], true) << layer;
    auto a = j1["layers"][layer], b = j2["layers"][layer];
    a.erase("cached");
    b.erase("cached");
    EXPECT_EQ(a, b) << layer;
  }
  auto t = run_mm(base + " --pairs 50");
  expect_ok(t);
  auto tl = lines(t.out);
  ASSERT_EQ(tl.size(), 4u) << t.out;
  // 4 stimuli and 50 pairs are far too few: one warning line on stderr naming the options.
  EXPECT_TRUE(contains(t.err, "--null-input")) << t.err;
  EXPECT_TRUE(contains(t.err, "--null-pairs")) << t.err;
  EXPECT_TRUE(contains(tl[0], "4 natural stimuli, 50 pairs, seed 0")) << t.out;
  for (size_t i = 2; i < 4; ++i) EXPECT_EQ(tl[i].substr(tl[i].size() - 5), "cache") << tl[i];

  // 100000 pairs are cheap (activations once, pairs off Gram matrices). With 4 stimuli
  // every one of the 12 ordered pairs is drawn, so the maxima are at least the 50-pair ones.
  auto t0 = std::chrono::steady_clock::now();
  auto r3 = run_mm(base + " --pairs 100000 --json");
  const double took = seconds_since(t0);
  expect_ok(r3);
  EXPECT_LT(took, 30.0);
  json j3 = json::parse(r3.out);
  for (const char* layer : {"conv1", "stage3"}) {
    const auto& l = j3["layers"][layer];
    EXPECT_EQ(l["pairs"], 100000);
    EXPECT_EQ(l["cached"], false);
    for (const char* m : {"spearman_max", "pearson_max", "snr_db_max"})
      EXPECT_GE(l[m].get<double>(), j1["layers"][layer][m].get<double>() - 1e-12) << layer << " " << m;
  }
  // Another seed is another distribution.
  auto r4 = run_mm(base + " --pairs 50 --seed 3 --json");
  expect_ok(r4);
  EXPECT_EQ(json::parse(r4.out)["layers"]["conv1"]["cached"], false);
  Sql s(db);
  EXPECT_EQ(s.num("SELECT count(*) FROM null_distributions"), 6);
  EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
}

// [SECTION] info --------------------------------------------------------------------------
TEST(CliInfo, ZooTinyCnn) {
  auto r = run_mm("info --model zoo:tiny-cnn --json --threads 1");
  expect_ok(r);
  json j = json::parse(r.out);
  EXPECT_EQ(j["spec"], "zoo:tiny-cnn");
  EXPECT_EQ(j["modality"], "image");
  EXPECT_EQ(j["input"]["shape"], json({3, 64, 64}));
  EXPECT_EQ(j["classes"], json(kTinyClasses));
  EXPECT_EQ(j["layers"], json({"conv1", "stage1", "stage2", "stage3", "avgpool", "logits"}));
  EXPECT_EQ(j["sha256"].get<std::string>().size(), 64u);

  auto t = run_mm("info --model zoo:tiny-cnn --threads 1");
  expect_ok(t);
  EXPECT_TRUE(contains(t.out, "modality image")) << t.out;
  EXPECT_TRUE(contains(t.out, "input    3x64x64, range [0, 1]")) << t.out;
  EXPECT_TRUE(contains(t.out, " logits\n")) << t.out;
}

TEST(CliInfo, ExportedResnet18AndAudioArchive) {
  const std::string path = fixture("resnet18.pt");
  auto r = run_mm("info --model " + q(path) + " --json --threads 1");
  expect_ok(r);
  json j = json::parse(r.out);
  EXPECT_EQ(j["path"], path);
  EXPECT_EQ(j["sha256"], mm::data::sha256_file(path));
  EXPECT_EQ(j["modality"], "image");
  EXPECT_EQ(j["input"]["shape"], json({3, 224, 224}));
  EXPECT_EQ(j["classes"].size(), 1000u);
  EXPECT_EQ(j["layers"], json({"relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "logits"}));

  auto t = run_mm("info --model " + q(path) + " --threads 1");
  expect_ok(t);
  EXPECT_TRUE(contains(t.out, "classes  1000:")) << t.out;
  EXPECT_TRUE(contains(t.out, " ...\n")) << "more than 20 classes are cut short:\n" << t.out;

  auto a = run_mm("info --model " + q(fixture("tiny_audio.pt")) + " --json --threads 1");
  expect_ok(a);
  json ja = json::parse(a.out);
  EXPECT_EQ(ja["modality"], "audio");
  EXPECT_EQ(ja["input"]["samples"], 8000);
  EXPECT_EQ(ja["input"]["sample_rate"], 8000);
  EXPECT_EQ(ja["classes"], json({"yes", "no", "maybe"}));
  EXPECT_EQ(ja["layers"].back(), "logits");
}

TEST(CliInfo, UnknownZooModelListsBundled) {
  auto r = run_mm("info --model zoo:nope --threads 1");
  expect_error(r, 1, {"zoo:nope", "tiny-cnn"});
}

// The test network is registered by the tests (metamerlab-test), not shipped: the product
// lists only the four bundled networks and does not know zoo:tiny-cnn.
TEST(CliInfo, TheProductShipsOnlyTheBundledNetworks) {
  auto r = mm::test::run(q(mm::test::product_binary()) + " info --model zoo:tiny-cnn --threads 1");
  expect_error(r, 1, {"zoo:tiny-cnn", "no such bundled model", "zoo:emoji16-robust, zoo:emoji16-standard, "
                                                                 "zoo:words16-robust, zoo:words16-standard"});
  EXPECT_EQ(r.err.find("tiny-cnn", r.err.find("bundled:")), std::string::npos) << r.err;
  expect_ok(mm::test::run(q(mm::test::product_binary()) + " info --model zoo:emoji16-standard --threads 1"));
}

}  // namespace

namespace {

// Shared lab machines: what the program creates (database, outputs, folders) is readable by
// its owner only, whatever the user's umask, unless METAMERLAB_SHARED=1.
TEST(CliPrivacy, NewFilesAreTheOwnersAloneUnlessShared) {
  TempDir tmp("cli-private");
  const std::string set = tmp / "in";
  mm::cli_test::make_image_folder(set, {"disc", "ring"}, 2);
  auto mode_of = [](const std::string& p) { return static_cast<unsigned>(fs::status(p).permissions()) & 0777u; };
  for (const bool shared : {false, true}) {
    const std::string out = tmp / (shared ? "shared" : "private");
    const std::string cmd = std::string("umask 022 && ") + (shared ? "METAMERLAB_SHARED=1 " : "") +
                            mm::cli_test::q(mm::test::metamerlab_binary()) +
                            " synth --model zoo:tiny-cnn --layers conv1 --iterations 2 --rounds 1 --threads 1 --input " +
                            mm::cli_test::q(set) + " --out " + mm::cli_test::q(out) + " --db " +
                            mm::cli_test::q(out + ".db");
    auto r = mm::test::run(cmd);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto pngs = mm::cli_test::with_ext(mm::cli_test::files_under(out), ".png");
    ASSERT_FALSE(pngs.empty());
    if (shared) {
      EXPECT_EQ(mode_of(out + ".db"), 0644u);
      EXPECT_EQ(mode_of(out + "/" + pngs[0]), 0644u);
      EXPECT_EQ(mode_of(out), 0755u);
    } else {
      EXPECT_EQ(mode_of(out + ".db"), 0600u);
      EXPECT_EQ(mode_of(out + "/" + pngs[0]), 0600u);
      EXPECT_EQ(mode_of(out), 0700u);
    }
  }
}

}  // namespace
