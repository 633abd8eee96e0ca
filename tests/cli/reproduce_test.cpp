// `metamerlab reproduce`, small: the paper's pipeline (metamers at every layer of both
// bundled image models, each tested against the model's bundled null, network-to-network
// judgments, analysis, figures, one report) on the 16 bundled sample references at a short
// schedule; started again with the same command it continues from what is recorded and
// writes the same tables.
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

namespace {

using namespace mm::cli_test;
using json = nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// The report's "## Synthesis" table: the rows between its header and the next blank line.
std::vector<std::string> synthesis_rows(const std::string& md) {
  std::vector<std::string> rows;
  const auto at = md.find("## Synthesis");
  if (at == std::string::npos) return rows;
  std::stringstream ss(md.substr(at));
  std::string l;
  int seen = 0;
  while (std::getline(ss, l)) {
    if (l.rfind("|", 0) == 0 && ++seen > 2) rows.push_back(l);  // after the header and |---|
    else if (seen > 2 && l.empty()) break;
  }
  return rows;
}

TEST(CliReproduce, SmallStudyOnTheSampleThenResumes) {
  mm::test::TempDir tmp("reproduce");
  const std::string sample = mm::test::source_dir() + "/stimuli/samples/emoji16";
  const std::string cmd = "reproduce --model zoo:emoji16-standard --model zoo:emoji16-robust --references 16 "
                          "--schedule 8x1 --permutations 200 --threads 2 --emoji16 " +
                          q(sample) + " --out " + q(tmp.path);
  auto r = run_mm(cmd);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string md = read_text(tmp / "report.md");
  const auto rows = synthesis_rows(md);
  // Every layer of both models (the zoo's image models have the same layers), 16 metamers each.
  ASSERT_GE(rows.size(), 8u) << md;
  for (const auto& row : rows) EXPECT_NE(row.find("| 16 |"), std::string::npos) << row;
  EXPECT_NE(md.find("## Network-to-network"), std::string::npos) << md;
  const json net = json::parse(read_text(tmp / "network.json"));
  EXPECT_FALSE(net.empty());
  EXPECT_TRUE(fs::exists(tmp / "report.html"));
  EXPECT_TRUE(fs::exists(tmp / "metamerlab.db"));
  // Every metamer of the tables is in the database, tested against the bundled null (1,600
  // held-out renders, 10^6 pairs), and every model judged every passing one.
  const std::string db = tmp / "metamerlab.db";
  {
    Sql s(db);
    EXPECT_EQ(s.num("SELECT count(*) FROM metamers"), 16 * static_cast<long long>(rows.size()));
    EXPECT_EQ(s.num("SELECT count(*) FROM metamers AS m JOIN null_distributions AS n ON n.id = m.null_id "
                    "WHERE n.pairs = 1000000"),
              s.num("SELECT count(*) FROM metamers"));
    EXPECT_EQ(s.num("SELECT count(*) FROM metamer_judgments"),
              2 * s.num("SELECT count(*) FROM metamers WHERE passed = 1"));
  }
  // Started again: nothing is synthesized or judged again (the same metamers, bit for bit),
  // and the tables are the same. (The second run is recorded as a run of its own.)
  const auto state = [&] {
    Sql s(db);
    const std::string shas = s.text("SELECT group_concat(float_sha256, ',') FROM (SELECT float_sha256 FROM metamers "
                                    "ORDER BY id)");
    return std::to_string(s.num("SELECT count(*) FROM metamers")) + " metamers " +
           mm::data::sha256_hex(shas.data(), shas.size()) + ", " +
           std::to_string(s.num("SELECT count(*) FROM metamer_judgments")) + " judgments";
  };
  const std::string before = state();
  auto again = run_mm(cmd);
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(synthesis_rows(read_text(tmp / "report.md")), rows);
  EXPECT_EQ(state(), before);
}

}  // namespace
