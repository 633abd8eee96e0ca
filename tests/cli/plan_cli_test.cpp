// Black-box tests of `metamerlab plan`: the printed plan and its JSON form on a small image
// experiment (metamers from a folder), the exit codes and one-line located errors (a load
// error, a validation error, a usage error), and --db showing the participant's session.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "data/sha256.h"
#include "data/store.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;

std::string sh(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

mm::test::RunResult plan(const std::string& args) {
  return mm::test::run(sh(mm::test::metamerlab_binary()) + " plan " + args);
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const char* kToml = R"([experiment]
name = "cli-toy"
modality = "image"
seed = 5

[responses]
alternatives = ["a", "b"]
icons = "icons"

[timing]
stimulus = 200

[sets.refs]
folders = ["refs"]

[[metamers]]
model = "zoo:toy"
layers = ["l1"]
folder = "syn"
assume_passed = true

[[blocks]]
kind = "main"
set = "refs"
)";

// refs/<a|b>/<k>.png (4 each), syn/l1/<cat>/<k>.png for k < 3, icons/<cat>.png.
std::string make_lab(const mm::test::TempDir& tmp) {
  const std::string root = fs::absolute(tmp.path).string();
  mm::test::write_image_set(root + "/refs", {"a", "b"}, 4, 16, "{cat}/{k}.png", 97, 10);
  mm::test::write_image_set(root + "/syn/l1", {"a", "b"}, 3, 16, "{cat}/{k}.png", 2000, 10);
  mm::test::write_image_set(root + "/icons", {"a", "b"}, 1, 8, "{cat}.png", 97, 1, 1);
  mm::test::write_bytes(root + "/exp.toml", kToml);
  return root;
}

TEST(PlanCli, PrintsThePlan) {
  mm::test::TempDir tmp("cli-plan");
  const std::string root = make_lab(tmp);
  auto r = plan(sh(root + "/exp.toml") + " --participant 2");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(has(r.out, "participant  2, seed 5 (design seed 5)")) << r.out;
  EXPECT_TRUE(has(r.out, "conditions   natural, toy/l1")) << r.out;
  EXPECT_TRUE(has(r.out, "stimulus 200->12f=200.0")) << r.out;
  EXPECT_TRUE(has(r.out, "validation   ok")) << r.out;
  EXPECT_TRUE(has(r.out, "total        8 trials")) << r.out;
  EXPECT_TRUE(has(r.out, "rotation offset 1 of 2, group 0")) << r.out;
  EXPECT_TRUE(has(r.out, "syn/l1/")) << r.out;  // metamer trials list their files
  // Reference 3 of each category has no metamer: when planned as toy/l1 it falls back.
  EXPECT_TRUE(has(r.out, "fell_back")) << r.out;

  auto s = plan(sh(root + "/exp.toml") + " --participant 2 --summary");
  EXPECT_FALSE(has(s.out, "\ntrials\n"));
  EXPECT_TRUE(has(r.out, "\ntrials\n"));
}

TEST(PlanCli, JsonIsOneObject) {
  mm::test::TempDir tmp("cli-plan-json");
  const std::string root = make_lab(tmp);
  auto r = plan(sh(root + "/exp.toml") + " --participant 3 --seed 9 --refresh 120 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["plan"]["participant"], 3);
  EXPECT_EQ(j["plan"]["seed"], 9);
  EXPECT_EQ(j["plan"]["trials"].size(), 8u);
  EXPECT_EQ(j["summary"]["trials"], 8);
  EXPECT_EQ(j["validation"]["ok"], true);
  EXPECT_EQ(j["validation"]["refresh_hz"], 120.0);
  EXPECT_EQ(j["validation"]["stimulus_size"], nlohmann::json({16, 16}));
  EXPECT_TRUE(j["session"].is_null());
  // Same arguments, same bytes.
  EXPECT_EQ(plan(sh(root + "/exp.toml") + " --participant 3 --seed 9 --refresh 120 --json").out, r.out);
}

TEST(PlanCli, ErrorsAreLocatedOneLiners) {
  mm::test::TempDir tmp("cli-plan-err");
  const std::string root = make_lab(tmp);
  auto usage = plan(sh(root + "/exp.toml"));
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_TRUE(has(usage.err, "--participant N is required")) << usage.err;

  std::string bad = kToml;
  bad.replace(bad.find("stimulus = 200"), 14, "stimulus = 200\nmask = 5");
  mm::test::write_bytes(root + "/short.toml", bad);
  auto v = plan(sh(root + "/short.toml") + " --participant 1");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(has(v.err, root + "/short.toml:12: block 1 (main): mask = 5 ms is shorter than one frame")) << v.err;
  EXPECT_TRUE(has(v.out, "validation   1 error(s)")) << v.out;

  std::string unknown = kToml;
  unknown.replace(unknown.find("seed = 5"), 8, "seed = 5\ncolour = \"red\"");
  mm::test::write_bytes(root + "/unknown.toml", unknown);
  auto u = plan(sh(root + "/unknown.toml") + " --participant 1");
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_EQ(u.err, "metamerlab: error: " + root + "/unknown.toml:5: unknown key \"colour\" in [experiment]; known keys: "
                   "name, description, modality, seed\n");
  EXPECT_EQ(u.out, "");
}

TEST(PlanCli, DbShowsTheParticipantsSession) {
  mm::test::TempDir tmp("cli-plan-db");
  const std::string root = make_lab(tmp);
  const std::string db = root + "/sessions.db";
  // The session stores the plan `plan` makes (plan then shows that stored plan).
  const auto made = plan(sh(root + "/exp.toml") + " --participant 2 --json");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  {
    mm::data::Store s(db);
    mm::data::SessionRecord r;
    r.participant_code = "P001";
    r.participant_number = 2;
    r.experiment_path = root + "/exp.toml";
    r.experiment_sha256 = mm::data::sha256_file(root + "/exp.toml");
    r.experiment_name = "cli-toy";
    r.plan_json = nlohmann::json::parse(made.out)["plan"].dump();
    r.planned_trials = 8;
    const int64_t id = s.create_session(r);
    for (int k = 0; k < 3; ++k) {
      mm::data::TrialRecord t;
      t.session_id = id;
      t.trial_index = k;
      s.add_trial(t);
    }
  }
  auto r = plan(sh(root + "/exp.toml") + " --participant 2 --db " + sh(db) + " --summary");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "session      #1 (P001): running, 3 of 8 trials answered, resumed 0 time(s)")) << r.out;
  auto other = plan(sh(root + "/exp.toml") + " --participant 1 --db " + sh(db) + " --summary");
  EXPECT_TRUE(has(other.out, "session      none yet for participant 1")) << other.out;
  // A --db that does not exist is not created by planning.
  auto none = plan(sh(root + "/exp.toml") + " --participant 1 --db " + sh(root + "/absent.db") + " --summary");
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_FALSE(fs::exists(root + "/absent.db"));
}

}  // namespace
