// Black-box tests of `metamerlab synth`: an end-to-end run on a small ImageFolder (files,
// database rows and hashes, PASS/FAIL lines agreeing with the records), resuming a finished
// run without re-synthesizing, a SIGKILLed run and a --stop-after run resumed to the same
// bits as an uninterrupted run, `trace` of a written metamer, and the demo.
//
// Sections
//   [SECTION] Helpers
//   [SECTION] End to end     files, rows, hashes, printed results, second run resumes
//   [SECTION] Kill & resume  SIGKILL after a checkpoint; --stop-after; bit-identical .npy
//   [SECTION] Demo
#include "tests/cli/cli_util.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>

namespace {

using namespace mm::cli_test;
using mm::test::TempDir;
using json = nlohmann::json;

// [SECTION] Helpers -----------------------------------------------------------------------
const std::string kFast = " --iterations 10 --rounds 2 --null-pairs 50 --threads 1 --quiet";

struct Done {
  int total = -1, passed = -1, failed = -1, nonfinite = -1, resumed = -1;
};

// The final "done: ..." line.
Done parse_done(const std::string& out) {
  Done d;
  for (const auto& l : lines(out))
    if (l.rfind("done: ", 0) == 0)
      std::sscanf(l.c_str(), "done: %d metamer(s), %d passed, %d failed the test, %d stopped on NaN/Inf, %d resumed",
                  &d.total, &d.passed, &d.failed, &d.nonfinite, &d.resumed);
  return d;
}

// "PASS conv1 disc/disc_0 ..." lines: "conv1 disc/disc_0" -> the first word.
std::map<std::string, std::string> parse_results(const std::string& out) {
  std::map<std::string, std::string> m;
  for (const auto& l : lines(out)) {
    std::string verdict = l.substr(0, 4);
    if (verdict != "PASS" && verdict != "FAIL" && verdict != "NAN ") continue;
    std::stringstream s(l.substr(5));
    std::string layer, item;
    s >> layer >> item;
    m[layer + " " + item] = verdict == "NAN " ? "NAN" : verdict;
  }
  return m;
}

std::string abs_norm(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// Every file under a and b is the same, byte for byte.
void expect_same_tree(const std::string& a, const std::string& b) {
  auto fa = files_under(a), fb = files_under(b);
  ASSERT_EQ(fa, fb) << a << " vs " << b;
  ASSERT_FALSE(fa.empty());
  for (const auto& f : fa)
    EXPECT_TRUE(mm::test::read_bytes(a + "/" + f) == mm::test::read_bytes(b + "/" + f))
        << f << " differs between " << a << " and " << b;
}

// [SECTION] End to end --------------------------------------------------------------------
TEST(CliSynth, EndToEndThenResumeWithoutResynthesis) {
  TempDir tmp("cli-synth");
  const std::string in = tmp / "in", out = tmp / "out", db = tmp / "m.db";
  make_image_folder(in, {"disc", "ring"}, 2);
  // One reference is grey and of another size: loaded, cropped and resized to 3x64x64.
  mm::test::write_test_png(in + "/ring/ring_1.png", 96, 80, 1, 77);
  const std::string cmd = "synth --model zoo:tiny-cnn --layers conv1,stage3 --input " + q(in) + " --out " + q(out) +
                          " --db " + q(db) + " --batch 2" + kFast;
  auto r = run_mm(cmd);
  expect_ok(r);
  EXPECT_EQ(r.err, "") << "--quiet: nothing on stderr";

  // Printed: one null line per layer, one result per reference and layer, the summary.
  auto printed = parse_results(r.out);
  ASSERT_EQ(printed.size(), 8u) << r.out;
  EXPECT_TRUE(contains(r.out, "layer conv1: null over 50 pairs: max spearman")) << r.out;
  EXPECT_TRUE(contains(r.out, "layer stage3: null over 50 pairs: max spearman")) << r.out;
  EXPECT_FALSE(contains(r.out, "(cached)")) << r.out;
  Done d = parse_done(r.out);
  EXPECT_EQ(d.total, 8) << r.out;
  EXPECT_EQ(d.passed + d.failed + d.nonfinite, 8) << r.out;
  EXPECT_EQ(d.resumed, 0) << r.out;
  int printed_pass = 0;
  for (auto& [k, v] : printed) printed_pass += v == "PASS";
  EXPECT_EQ(d.passed, printed_pass);

  // Files: exactly OUT/<layer>/<category>/<name>.png and .npy, no checkpoints left.
  std::vector<std::string> want;
  for (const char* layer : {"conv1", "stage3"})
    for (const char* cat : {"disc", "ring"})
      for (int k = 0; k < 2; ++k)
        for (const char* ext : {".npy", ".png"})
          want.push_back(std::string(layer) + "/" + cat + "/" + cat + "_" + std::to_string(k) + ext);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files_under(out), want);

  // The exact copy and the PNG agree (PNG = npy rounded to 8 bits), values in range.
  for (const char* f : {"conv1/disc/disc_0", "stage3/ring/ring_1"}) {
    auto x = mm::stimuli::load_npy(out + "/" + f + ".npy");
    ASSERT_EQ(x.shape, (std::vector<int64_t>{3, 64, 64})) << f;
    auto png = mm::stimuli::load_image(out + "/" + f + ".png", mm::stimuli::ImageSpec{3, 64, 64, 0.0f, 1.0f});
    ASSERT_EQ(png.data.size(), x.data.size());
    double worst = 0;
    for (size_t i = 0; i < x.data.size(); ++i) {
      ASSERT_GE(x.data[i], 0.0f);
      ASSERT_LE(x.data[i], 1.0f);
      worst = std::max(worst, std::abs(static_cast<double>(png.data[i]) - x.data[i]));
    }
    EXPECT_LE(worst, 0.5 / 255 + 1e-5) << f;
  }

  // Database: one row per reference x layer, hashes of the files, verdicts as printed.
  const std::string out_abs = abs_norm(out);
  std::map<std::string, std::string> metamer_sha;  // layer/cat/name -> float sha
  {
    Sql s(db);
    EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(s.num("SELECT count(*) FROM models"), 1);
    EXPECT_EQ(s.text("SELECT spec FROM models"), "zoo:tiny-cnn");
    auto runs = s.rows("SELECT id, status, out_dir, command, options_json FROM synth_runs");
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0][1], "done");
    EXPECT_EQ(runs[0][2], out_abs);
    EXPECT_TRUE(contains(runs[0][3], "synth --model zoo:tiny-cnn")) << runs[0][3];
    json opts = json::parse(runs[0][4]);
    EXPECT_EQ(opts["iterations_per_round"], 10);
    EXPECT_EQ(opts["rounds"], 2);
    EXPECT_EQ(opts["batch"], 2);
    EXPECT_EQ(opts["null_pairs"], 50);

    auto nulls = s.rows("SELECT id, layer, pairs, seed, spearman_max, pearson_max, snr_max, spearman_mean "
                        "FROM null_distributions ORDER BY layer");
    ASSERT_EQ(nulls.size(), 2u);
    EXPECT_EQ(nulls[0][1], "conv1");
    EXPECT_EQ(nulls[1][1], "stage3");
    std::map<std::string, std::vector<std::string>> null_by_id;
    for (auto& n : nulls) {
      EXPECT_EQ(n[2], "50");
      EXPECT_EQ(n[3], "0");
      EXPECT_GE(std::stod(n[4]), std::stod(n[7])) << "max below mean";
      null_by_id[n[0]] = n;
    }

    auto rows = s.rows(
        "SELECT layer, category, reference_path, reference_sha256, png_path, png_sha256, float_path, float_sha256, "
        "passed, status, null_id, null_spearman_max, null_pearson_max, null_snr_max, spearman, pearson, snr_db, "
        "pred_metamer, pred_reference, wav_path, wav_sha256, iterations, run_id FROM metamers ORDER BY id");
    ASSERT_EQ(rows.size(), 8u);
    std::set<std::string> keys;
    for (const auto& m : rows) {
      const std::string layer = m[0], cat = m[1];
      const std::string name = fs::path(m[2]).stem().string();
      const std::string key = layer + "/" + cat + "/" + name;
      SCOPED_TRACE(key);
      keys.insert(key);
      EXPECT_EQ(m[2], fs::absolute(in + "/" + cat + "/" + name + ".png").string());
      EXPECT_EQ(m[3], mm::data::sha256_file(m[2]));
      EXPECT_EQ(m[4], out_abs + "/" + key + ".png");
      EXPECT_EQ(m[5], mm::data::sha256_file(m[4]));
      EXPECT_EQ(m[6], out_abs + "/" + key + ".npy");
      EXPECT_EQ(m[7], mm::data::sha256_file(m[6]));
      EXPECT_EQ(m[19], "");
      EXPECT_EQ(m[20], "");
      EXPECT_EQ(m[21], "20");
      EXPECT_EQ(m[22], runs[0][0]);
      metamer_sha[key] = m[7];
      // The verdict follows from the recorded measures, the null and the predictions...
      const bool passed = m[8] == "1";
      ASSERT_TRUE(null_by_id.count(m[10])) << "null_id " << m[10] << " has no row";
      const auto& n = null_by_id[m[10]];
      EXPECT_EQ(n[1], layer) << "metamer tested against another layer's null";
      EXPECT_DOUBLE_EQ(std::stod(m[11]), std::stod(n[4]));
      EXPECT_DOUBLE_EQ(std::stod(m[12]), std::stod(n[5]));
      EXPECT_DOUBLE_EQ(std::stod(m[13]), std::stod(n[6]));
      const bool expect_pass = std::stod(m[14]) > std::stod(m[11]) && std::stod(m[15]) > std::stod(m[12]) &&
                               std::stod(m[16]) > std::stod(m[13]) && m[17] == m[18];
      EXPECT_EQ(passed, expect_pass);
      EXPECT_EQ(m[9], passed ? "ok" : "failed");
      // ...and matches what was printed.
      const std::string pkey = layer + " " + cat + "/" + name;
      ASSERT_TRUE(printed.count(pkey)) << r.out;
      EXPECT_EQ(printed[pkey], passed ? "PASS" : "FAIL");
    }
    EXPECT_EQ(keys.size(), 8u) << "one row per reference x layer";
  }

  // `trace` finds a written metamer by its hash.
  {
    auto t = run_mm("trace " + q(out + "/stage3/disc/disc_1.png") + " --db " + q(db) + " --json");
    expect_ok(t);
    json j = json::parse(t.out);
    EXPECT_EQ(j["layer"], "stage3");
    EXPECT_EQ(j["reference"]["category"], "disc");
    EXPECT_EQ(j["files"]["float"], out_abs + "/stage3/disc/disc_1.npy");
    EXPECT_EQ(j["passed"], printed["stage3 disc/disc_1"] == "PASS");
    auto miss = run_mm("trace " + q(in + "/disc/disc_0.png") + " --db " + q(db));
    EXPECT_EQ(miss.exit_code, 1) << describe(miss);
    EXPECT_TRUE(contains(miss.out, "not a metamer recorded")) << describe(miss);
  }

  // Second identical run: everything resumed, nothing re-synthesized or rewritten.
  std::map<std::string, fs::file_time_type> mtimes;
  for (const auto& f : files_under(out)) mtimes[f] = fs::last_write_time(out + "/" + f);
  auto r2 = run_mm(cmd);
  expect_ok(r2);
  EXPECT_TRUE(parse_results(r2.out).empty()) << "re-synthesized:\n" << r2.out;
  EXPECT_TRUE(contains(r2.out, "layer conv1: 4 metamer(s) already made by an earlier run; resuming")) << r2.out;
  EXPECT_TRUE(contains(r2.out, "layer stage3: 4 metamer(s) already made by an earlier run; resuming")) << r2.out;
  EXPECT_TRUE(contains(r2.out, "layer conv1: null over 50 pairs (cached)")) << r2.out;
  Done d2 = parse_done(r2.out);
  EXPECT_EQ(d2.total, 8);
  EXPECT_EQ(d2.resumed, 8);
  EXPECT_EQ(d2.passed, d.passed);
  EXPECT_EQ(d2.failed, d.failed);
  EXPECT_EQ(files_under(out), want);
  for (const auto& [f, t] : mtimes) EXPECT_EQ(fs::last_write_time(out + "/" + f), t) << f << " was rewritten";
  {
    Sql s(db);
    EXPECT_EQ(s.num("SELECT count(*) FROM metamers"), 8);
    EXPECT_EQ(s.num("SELECT count(*) FROM null_distributions"), 2);
    EXPECT_EQ(s.num("SELECT count(*) FROM synth_runs WHERE status = 'done'"), 2);
  }

  // A lost output file is made again (and only that one), with the same bits.
  const std::string lost = "stage3/ring/ring_1";
  fs::remove(out + "/" + lost + ".npy");
  auto r3 = run_mm(cmd);
  expect_ok(r3);
  auto p3 = parse_results(r3.out);
  ASSERT_EQ(p3.size(), 1u) << r3.out;
  EXPECT_EQ(p3.begin()->first, "stage3 ring/ring_1");
  EXPECT_TRUE(contains(r3.out, "layer stage3: 3 metamer(s) already made by an earlier run; resuming")) << r3.out;
  EXPECT_EQ(parse_done(r3.out).resumed, 7);
  EXPECT_EQ(files_under(out), want);
  EXPECT_EQ(mm::data::sha256_file(out + "/" + lost + ".npy"), metamer_sha[lost])
      << "re-synthesized alone (batch of 1 instead of 2), the metamer came out different";
  {
    Sql s(db);
    EXPECT_EQ(s.num("SELECT count(*) FROM metamers"), 9);
    EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
  }
}

// Another seed gives another metamer; another out folder is a separate set of outputs.
TEST(CliSynth, SeedChangesTheMetamerAndOutFolderSeparatesRuns) {
  TempDir tmp("cli-seed");
  const std::string in = tmp / "in", db = tmp / "m.db";
  make_image_folder(in, {"disc", "ring"}, 1);
  auto base = "synth --model zoo:tiny-cnn --layers stage1 --input " + q(in) + " --db " + q(db) + kFast;
  auto a = run_mm(base + " --out " + q(tmp / "a"));
  auto b = run_mm(base + " --out " + q(tmp / "b"));
  auto c = run_mm(base + " --out " + q(tmp / "c") + " --seed 7");
  expect_ok(a);
  expect_ok(b);
  expect_ok(c);
  EXPECT_EQ(parse_done(b.out).resumed, 0) << "another --out must not resume from the first";
  expect_same_tree(tmp / "a", tmp / "b");
  EXPECT_NE(mm::test::read_bytes(tmp / "a/stage1/disc/disc_0.npy"), mm::test::read_bytes(tmp / "c/stage1/disc/disc_0.npy"));
  Sql s(db);
  EXPECT_EQ(s.num("SELECT count(*) FROM metamers"), 6);
  EXPECT_EQ(s.num("SELECT count(*) FROM null_distributions"), 1) << "the null is cached across runs";
}

// [SECTION] Kill & resume -----------------------------------------------------------------
// 4 references in batches of `batch`, 200 steps each, checkpoints every 10 steps.
std::vector<std::string> long_args(const std::string& in, const std::string& out, const std::string& db, int batch) {
  return {"synth", "--model", "zoo:tiny-cnn", "--layers", "stage1", "--input", in, "--out", out, "--db", db,
          "--iterations", "100", "--rounds", "2", "--checkpoint-every", "10", "--batch", std::to_string(batch),
          "--null-pairs", "50", "--threads", "1", "--quiet"};
}

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + q(a);
  return s;
}

bool any_file(const std::string& dir, const std::string& ext) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return false;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->path().extension() == ext) return true;
  return false;
}

TEST(CliResume, SigkillAfterCheckpointThenResumeIsBitIdentical) {
  TempDir tmp("cli-kill");
  const std::string in = tmp / "in";
  make_image_folder(in, {"disc", "ring"}, 2);

  // Killed once the first batch is recorded and the second has a checkpoint (named after
  // the batch's first reference: ring_0, in category-then-path order).
  const std::string out = tmp / "out", db = tmp / "m.db";
  const std::string second_ckpt =
      out + "/.checkpoints/stage1-" + mm::data::sha256_file(in + "/ring/ring_0.png").substr(0, 16) + ".pt";
  {
    Background bg(long_args(in, out, db, 2), tmp / "bg.out", tmp / "bg.err");
    auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    bool ready = false;
    while (seconds_since(t0) < 120) {
      if (bg.exited(&status)) break;
      if (fs::exists(second_ckpt)) {
        ready = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(ready) << "the run ended (or stalled) before a second-batch checkpoint appeared; stdout:\n"
                       << mm::test::read_bytes(tmp / "bg.out") << "stderr:\n"
                       << mm::test::read_bytes(tmp / "bg.err");
    status = bg.kill_and_wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  EXPECT_EQ(with_ext(files_under(out), ".npy").size(), 2u) << "exactly the first batch was done";
  EXPECT_TRUE(fs::exists(second_ckpt));
  {
    Sql s(db);
    EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(s.num("SELECT count(*) FROM metamers"), 2);
    EXPECT_EQ(s.text("SELECT status FROM synth_runs"), "running");
  }

  auto r = run_mm(joined(long_args(in, out, db, 2)));
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "layer stage1: 2 metamer(s) already made by an earlier run; resuming")) << r.out;
  EXPECT_EQ(parse_done(r.out).total, 4);
  EXPECT_EQ(parse_done(r.out).resumed, 2);
  EXPECT_EQ(parse_results(r.out).size(), 2u) << r.out;
  EXPECT_FALSE(fs::exists(out + "/.checkpoints")) << "checkpoints left behind";

  // The same settings, never interrupted.
  const std::string ref = tmp / "ref";
  auto rr = run_mm(joined(long_args(in, ref, tmp / "ref.db", 2)));
  expect_ok(rr);
  expect_same_tree(out, ref);
  Sql a(db), b(tmp / "ref.db");
  EXPECT_EQ(a.num("SELECT count(*) FROM metamers"), 4);
  EXPECT_EQ(a.rows("SELECT reference_sha256, float_sha256, png_sha256, iterations FROM metamers ORDER BY reference_sha256"),
            b.rows("SELECT reference_sha256, float_sha256, png_sha256, iterations FROM metamers ORDER BY reference_sha256"));
}

TEST(CliResume, StopAfterThenResumeIsBitIdentical) {
  TempDir tmp("cli-stop");
  const std::string in = tmp / "in", out = tmp / "out", db = tmp / "m.db";
  make_image_folder(in, {"disc", "ring"}, 2);
  const std::string cmd = joined(long_args(in, out, db, 4));  // one batch of 200 steps

  auto s1 = run_mm(cmd + " --stop-after 180");
  expect_error(s1, 1, {"interrupted by --stop-after 180", "without --stop-after"}, /*stdout_allowed=*/true);
  EXPECT_TRUE(any_file(out + "/.checkpoints", ".pt"));
  EXPECT_TRUE(with_ext(files_under(out), ".npy").empty());

  // Resumed and stopped again further on, then finished.
  auto s2 = run_mm(cmd + " --stop-after 190");
  expect_error(s2, 1, {"interrupted by --stop-after 190"}, true);
  auto r = run_mm(cmd);
  expect_ok(r);
  EXPECT_EQ(parse_done(r.out).total, 4);
  EXPECT_EQ(parse_results(r.out).size(), 4u);
  const std::string ref = tmp / "ref";
  expect_ok(run_mm(joined(long_args(in, ref, tmp / "ref.db", 4))));
  expect_same_tree(out, ref);
  {
    Sql s(db), sr(tmp / "ref.db");
    EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(s.num("SELECT count(*) FROM metamers"), 4);
    EXPECT_EQ(s.num("SELECT max(iterations) FROM metamers"), 200);
    // The recorded synthesis time: 10 steps instead of 200, so the run went on from the
    // checkpoint rather than from noise.
    const double resumed_s = std::stod(s.text("SELECT max(wall_s) FROM metamers"));
    const double full_s = std::stod(sr.text("SELECT max(wall_s) FROM metamers"));
    EXPECT_LT(resumed_s, 0.3 * full_s) << "resumed batch " << resumed_s << " s, uninterrupted " << full_s << " s";
    EXPECT_EQ(s.num("SELECT count(*) FROM synth_runs WHERE status = 'done'"), 1);
    EXPECT_EQ(s.num("SELECT count(*) FROM synth_runs WHERE status = 'interrupted'"), 2)
        << "a --stop-after run is interrupted, not failed";
  }
}

// [SECTION] Demo --------------------------------------------------------------------------
TEST(CliDemo, SmallDemoRecordsEveryMetamerAndItsCrossModelJudgments) {
  TempDir tmp("cli-demo");
  auto r = run_mm("demo --out " + q(tmp / "demo") + " --iterations 3 --rounds 1 --threads 1");
  expect_ok(r);
  // 2 trained models x 4 layers x 16 sample references.
  Sql s(tmp / "demo/metamerlab.db");
  EXPECT_EQ(s.num("SELECT count(*) FROM metamers"), 128);
  EXPECT_EQ(s.num("SELECT count(DISTINCT layer) FROM metamers"), 4);
  EXPECT_EQ(s.num("SELECT count(DISTINCT model_id) FROM synth_runs"), 2);
  EXPECT_EQ(with_ext(files_under(tmp / "demo/emoji16-standard"), ".png").size(), 64u);
  EXPECT_EQ(with_ext(files_under(tmp / "demo/emoji16-robust"), ".png").size(), 64u);
  EXPECT_TRUE(fs::exists(tmp / "demo/report.md"));
  EXPECT_NE(r.out.find("| zoo:emoji16-standard | logits |"), std::string::npos) << r.out;
}

}  // namespace
