// People compared with models, end to end through the program: metamers of the test
// network (zoo:tiny-cnn) synthesized into a database, three scripted participants and a
// model observer run the experiment, `judge` has the models answer the same trials (and is
// idempotent), `analyze` reports the paper's statistics with the observer kept apart and
// writes the figures, and `export` writes a CSV that pandas reads back to exactly analyze's
// proportions per participant x condition, a BIDS dataset bids-validator accepts, and
// refuses bad input with one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/store.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using mm::test::Cli;

const std::vector<std::string> kCats = {"checker", "disc", "ring", "stripes"};  // tiny-cnn's classes

Cli cli(const std::vector<std::string>& args, const std::string& out, int timeout_s = 180) {
  return mm::test::run_metamerlab(args, out, {}, timeout_s);
}

// refs (3 per category), icons, practice; metamers of tiny-cnn at conv1 and stage2 in lab.db.
std::string make_lab(const std::string& root) {
  mm::test::write_image_set(root + "/refs", kCats, 3, 64, "{cat}/{cat}_{k}.png", 10, 100);
  mm::test::write_image_set(root + "/practice", kCats, 1, 64, "{cat}/p.png", 500, 1);
  mm::test::write_image_set(root + "/icons", kCats, 1, 16, "{cat}.png", 900, 1);
  const Cli s = cli({"synth", "--model", "zoo:tiny-cnn", "--layers", "conv1,stage2", "--input", root + "/refs", "--out",
                     root + "/syn", "--db", root + "/lab.db", "--iterations", "3", "--rounds", "1", "--null-pairs",
                     "20", "--threads", "1", "--quiet"},
                    root + "/synth.txt");
  EXPECT_EQ(s.code, 0) << s.out;
  mm::test::write_bytes(root + "/exp.toml", R"([experiment]
name = "compare-toy"
modality = "image"
seed = 3

[responses]
alternatives = ["checker", "disc", "ring", "stripes"]
icons = "icons"

[timing]
fixation = 50
stimulus = 50
mask = 50
response = 0
iti = 20

[sets.refs]
folders = ["refs"]

[sets.practice]
folders = ["practice"]

[[metamers]]
model = "zoo:tiny-cnn"
layers = ["conv1", "stage2"]

[[blocks]]
kind = "practice"
set = "practice"
trials = 2

[[blocks]]
kind = "main"
set = "refs"
catch = 4
)");
  return root + "/exp.toml";
}

// proportion correct per (participant, condition) as analyze --json reports it.
std::map<std::pair<std::string, std::string>, double> analyze_proportions(const json& report) {
  std::map<std::pair<std::string, std::string>, double> m;
  for (const auto& p : report["participants"])
    for (auto it = p["proportion_correct"].begin(); it != p["proportion_correct"].end(); ++it)
      m[{p["participant"].get<std::string>(), it.key()}] = it.value().get<double>();
  return m;
}

TEST(Compare, JudgeAnalyzeExportEndToEnd) {
  mm::test::TempDir tmp("compare");
  const std::string root = fs::absolute(tmp.path).string();
  const std::string exp = make_lab(root), db = root + "/lab.db";
  for (const std::string p : {"1", "2", "3"}) {
    const Cli r = cli({"run", exp, "--participant", p, "--db", db, "--windowed", "--width", "640", "--height", "480",
                       "--auto", p == "2" ? "random" : "correct", "--auto-seed", p},
                      root + "/run" + p + ".txt");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  // A model observer: the whole session, no display, kept apart from people.
  const Cli ob = cli({"run", exp, "--participant", "1", "--db", db, "--observer", "zoo:tiny-cnn"}, root + "/obs.txt");
  ASSERT_EQ(ob.code, 0) << ob.out;
  EXPECT_NE(ob.out.find("completed"), std::string::npos) << ob.out;
  {
    mm::data::Store s(db);
    const auto sessions = s.list_sessions();
    ASSERT_EQ(sessions.size(), 4u);
    EXPECT_EQ(sessions[3].observer, "zoo:tiny-cnn");
    EXPECT_EQ(sessions[3].participant_number, 1);  // its own keyspace: person 1 is not refused
    EXPECT_EQ(sessions[3].answered, sessions[3].planned);
  }

  // judge: every person's trial with a stimulus, by tiny-cnn; again: nothing added.
  const Cli j1 = cli({"judge", "--db", db, "--threads", "1"}, root + "/judge1.txt");
  ASSERT_EQ(j1.code, 0) << j1.out;
  const Cli j2 = cli({"judge", "--db", db, "--threads", "1"}, root + "/judge2.txt");
  ASSERT_EQ(j2.code, 0) << j2.out;
  EXPECT_NE(j2.out.find("0 trial judgment(s) and 0 metamer judgment(s) added"), std::string::npos) << j2.out;
  {
    mm::data::Store s(db);
    for (int64_t id = 1; id <= 3; ++id) {
      const auto trials = s.trials_of_session(id);
      const auto js = s.trial_judgments(id);
      EXPECT_EQ(js.size(), trials.size()) << "session " << id;  // image trials all have a stimulus
      for (const auto& jd : js) {
        const auto& t = trials[static_cast<size_t>(jd.trial_index)];
        EXPECT_EQ(jd.stimulus_sha256, t.stimulus_sha256);
        EXPECT_EQ(jd.correct, jd.predicted == t.category);
      }
    }
    EXPECT_TRUE(s.trial_judgments(4).empty());  // the observer's own session is not judged by default
  }

  // analyze: three people, the observer apart; figures written.
  const Cli a = cli({"analyze", "--db", db, "--json", "--permutations", "200", "--out", root + "/analysis"},
                    root + "/analyze.txt");
  ASSERT_EQ(a.code, 0) << a.out;
  const json report = json::parse(a.out);
  EXPECT_EQ(report["sessions"]["people"], 3);
  EXPECT_EQ(report["sessions"]["observers"], 1);
  EXPECT_EQ(report["participants"].size(), 3u);
  EXPECT_EQ(report["observers"].size(), 1u);
  EXPECT_EQ(report["conditions"].size(), 3u);  // natural, tiny-cnn/conv1, tiny-cnn/stage2
  EXPECT_EQ(report["judging_models"], json({"zoo:tiny-cnn"}));
  for (const char* f : {"report.md", "report.json", "proportion_correct.png", "proportion_correct.svg"})
    EXPECT_TRUE(fs::exists(root + "/analysis/" + f)) << f;

  // export csv: pandas reads back exactly analyze's proportions.
  const Cli e = cli({"export", "--db", db, "--format", "csv", "--out", root + "/csv"}, root + "/export.txt");
  ASSERT_EQ(e.code, 0) << e.out;
  const auto py = mm::test::run("/usr/bin/python3 " + mm::test::source_dir() + "/tests/analysis/read_export.py " +
                                root + "/csv/trials.csv");
  ASSERT_EQ(py.exit_code, 0) << py.out << py.err;
  const json pandas = json::parse(py.out);
  const auto expected = analyze_proportions(report);
  int compared = 0;
  for (const auto& cell : pandas["cells"]) {
    const std::string who = cell["participant"], cond = cell["condition"];
    if (who.rfind("sub-", 0) != 0) continue;  // people only (the observer is model-...)
    ASSERT_TRUE(expected.count({who, cond})) << who << " " << cond;
    EXPECT_DOUBLE_EQ(cell["proportion"].get<double>(), expected.at({who, cond})) << who << " " << cond;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(expected.size()));
  EXPECT_EQ(mm::test::read_bytes(root + "/csv/trials.csv").find(root), std::string::npos) << "a lab path was exported";

  // export bids: bids-validator accepts it.
  const Cli b = cli({"export", "--db", db, "--format", "bids", "--out", root + "/bids"}, root + "/bids.txt");
  ASSERT_EQ(b.code, 0) << b.out;
  const auto v = mm::test::run(mm::test::source_dir() + "/node_modules/.bin/bids-validator " + root + "/bids --json");
  const json vj = json::parse(v.out.substr(v.out.find('{')));
  EXPECT_EQ(vj["issues"]["errors"].size(), 0u) << vj["issues"]["errors"].dump(1).substr(0, 3000);

  // Bad input: one line, non-zero exit, nothing written.
  const Cli again = cli({"export", "--db", db, "--format", "csv", "--out", root + "/csv"}, root + "/again.txt");
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_NE(again.out.find("not empty"), std::string::npos) << again.out;
  const Cli unknown = cli({"export", "--db", db, "--format", "csv", "--out", root + "/x", "--experiment", "nope"},
                          root + "/unknown.txt");
  EXPECT_EQ(unknown.code, 1) << unknown.out;
  EXPECT_NE(unknown.out.find("compare-toy"), std::string::npos) << unknown.out;
  EXPECT_FALSE(fs::exists(root + "/x"));
  { mm::data::Store empty(root + "/empty.db"); }
  const Cli none = cli({"export", "--db", root + "/empty.db", "--format", "bids", "--out", root + "/y"}, root + "/none.txt");
  EXPECT_EQ(none.code, 1) << none.out;
  EXPECT_NE(none.out.find("no sessions"), std::string::npos) << none.out;
  EXPECT_FALSE(fs::exists(root + "/y"));
  const Cli nodb = cli({"analyze", "--db", root + "/absent.db"}, root + "/nodb.txt");
  EXPECT_EQ(nodb.code, 1) << nodb.out;
  EXPECT_FALSE(fs::exists(root + "/absent.db"));
}

}  // namespace
