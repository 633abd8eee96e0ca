// Black-box tests of metamerlab's command line: --help for the program and each
// subcommand, version, and usage errors (exit 2, one line on stderr naming the problem,
// nothing written).
#include "tests/cli/cli_util.h"

namespace {

using namespace mm::cli_test;

// [SECTION] Help --------------------------------------------------------------------------
TEST(CliHelp, ProgramHelpListsEveryCommand) {
  for (const char* h : {"--help", "-h", "help"}) {
    auto r = run_mm(h);
    expect_ok(r);
    EXPECT_EQ(r.err, "") << h;
    EXPECT_TRUE(contains(r.out, "usage: metamerlab COMMAND")) << r.out;
    for (const char* c : {"synth", "null", "classify", "info", "demo", "version"})
      EXPECT_TRUE(contains(r.out, std::string("\n  ") + c + " ")) << h << ": no command " << c << " in\n" << r.out;
  }
}

TEST(CliHelp, NoArgumentsShowsOverviewAndExits2) {
  auto r = run_mm("");
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.out + r.err, "usage: metamerlab COMMAND")) << describe(r);
}

TEST(CliHelp, Version) {
  for (const char* v : {"version", "--version"}) {
    auto r = run_mm(v);
    expect_ok(r);
    EXPECT_EQ(r.out.rfind("metamerlab ", 0), 0u) << r.out;
    EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
  }
}

struct HelpCase {
  std::string command;
  std::vector<std::string> flags;
  std::vector<std::string> required;
};

void PrintTo(const HelpCase& c, std::ostream* os) { *os << c.command; }

class CliCommandHelp : public ::testing::TestWithParam<HelpCase> {};

TEST_P(CliCommandHelp, ListsFlags) {
  const HelpCase& c = GetParam();
  auto r = run_mm(c.command + " --help");
  expect_ok(r);
  EXPECT_EQ(r.err, "");
  const auto ls = lines(r.out);
  ASSERT_FALSE(ls.empty());
  EXPECT_EQ(ls[0].rfind("usage: metamerlab " + c.command, 0), 0u) << r.out;
  for (const auto& f : c.flags)
    EXPECT_TRUE(contains(r.out, "\n  " + f + " ") || contains(r.out, "\n  " + f + "\n"))
        << "flag " << f << " not listed in\n" << r.out;
  for (const auto& f : c.required) {
    // In the usage line, and marked (required) in the table.
    EXPECT_TRUE(contains(ls[0], " " + f + " ")) << f << " not in the usage line";
    bool marked = false;
    for (const auto& l : ls)
      if (l.rfind("  " + f + " ", 0) == 0 && contains(l, "(required)")) marked = true;
    EXPECT_TRUE(marked) << f << " not marked (required)\n" << r.out;
  }
  // The table is aligned: every description starts in column 30 (unless the option is wider).
  for (const auto& l : ls) {
    if (l.rfind("  --", 0) != 0) continue;
    size_t gap = l.find("  ", 2);
    ASSERT_NE(gap, std::string::npos) << l;
    if (gap < 29) {
      EXPECT_EQ(l.find_first_not_of(' ', gap), 30u) << "misaligned: \"" << l << "\"";
    }
  }
  // The same text from "help COMMAND" and from -h, which wins over anything else on the
  // line, even otherwise invalid options.
  EXPECT_EQ(run_mm("help " + c.command).out, r.out);
  auto h = run_mm(c.command + " --no-such-flag 1 -h");
  expect_ok(h);
  EXPECT_EQ(h.out, r.out);
}

INSTANTIATE_TEST_SUITE_P(
    AllCommands, CliCommandHelp,
    ::testing::Values(
        HelpCase{"synth",
                 {"--model", "--layers", "--input", "--out", "--db", "--iterations", "--rounds", "--step", "--batch",
                  "--seed", "--optimizer", "--loss", "--paper", "--no-fake-relu", "--categories", "--null-input",
                  "--null-pairs", "--null-seed", "--checkpoint-every", "--stop-after", "--quiet", "--threads",
                  "--help"},
                 {"--model", "--layers", "--input", "--out"}},
        HelpCase{"null",
                 {"--model", "--layers", "--input", "--pairs", "--seed", "--batch", "--json", "--db", "--threads",
                  "--help"},
                 {"--model", "--layers", "--input"}},
        HelpCase{"classify",
                 {"--model", "--input", "--categories", "--json", "--batch", "--db", "--threads", "--help"},
                 {"--model", "--input"}},
        HelpCase{"info", {"--model", "--json", "--threads", "--help"}, {"--model"}},
        HelpCase{"demo", {"--out", "--db", "--modality", "--iterations", "--rounds", "--threads", "--help"}, {}},
        HelpCase{"studio",
                 {"--db", "--folder", "--width", "--height", "--panel", "--station", "--screenshot", "--device",
                  "--live-threads", "--help"},
                 {}}),
    [](const ::testing::TestParamInfo<HelpCase>& i) { return i.param.command; });

// [SECTION] Usage errors ------------------------------------------------------------------
struct UsageCase {
  std::string name;
  std::string args;
  std::vector<std::string> message;  // parts the one line must contain
};

void PrintTo(const UsageCase& c, std::ostream* os) { *os << c.name << ": " << c.args; }

class CliUsageError : public ::testing::TestWithParam<UsageCase> {};

// Exit 2, one line, and nothing created (no database, no output folder) in the working
// folder.
TEST_P(CliUsageError, ExitsTwoWithOneLine) {
  const UsageCase& c = GetParam();
  mm::test::TempDir tmp("cli-usage");
  mm::test::write_test_png(tmp / "in/a/a0.png", 64, 64, 3, 1);
  mm::test::write_test_png(tmp / "in/a/a1.png", 64, 64, 3, 2);
  auto before = files_under(tmp.path);
  auto r = run_mm(c.args, tmp.path);
  expect_error(r, 2, c.message);
  EXPECT_EQ(files_under(tmp.path), before) << "a usage error must not write anything";
  EXPECT_FALSE(fs::exists(tmp / "out")) << "a usage error must not create the output folder";
}

const std::string kSynth = "synth --model zoo:tiny-cnn --layers conv1 --input in --out out --threads 1 ";

INSTANTIATE_TEST_SUITE_P(
    Cases, CliUsageError,
    ::testing::Values(
        UsageCase{"unknown_command", "frobnicate --x 1", {"unknown command \"frobnicate\"", "--help"}},
        UsageCase{"unknown_flag", kSynth + "--frobnicate 3", {"synth", "unknown option --frobnicate"}},
        UsageCase{"missing_out", "synth --model zoo:tiny-cnn --layers conv1 --input in", {"--out", "required"}},
        UsageCase{"missing_layers_null", "null --model zoo:tiny-cnn --input in", {"--layers", "required"}},
        UsageCase{"missing_input_classify", "classify --model zoo:tiny-cnn", {"--input", "required"}},
        UsageCase{"missing_value", kSynth + "--iterations", {"--iterations", "needs a value"}},
        UsageCase{"bad_number", kSynth + "--iterations ten", {"--iterations", "\"ten\""}},
        UsageCase{"overflow", kSynth + "--iterations 99999999999999999999", {"--iterations"}},
        UsageCase{"zero_iterations", kSynth + "--iterations 0", {"--iterations", "at least 1"}},
        UsageCase{"zero_batch", kSynth + "--batch 0", {"--batch", "at least 1"}},
        UsageCase{"negative_seed", kSynth + "--seed -1", {"--seed"}},
        UsageCase{"bad_step", kSynth + "--step abc", {"--step", "\"abc\""}},
        UsageCase{"negative_step", kSynth + "--step -0.5", {"--step", "positive"}},
        UsageCase{"nan_step", kSynth + "--step nan", {"--step"}},
        UsageCase{"inf_step", kSynth + "--step inf", {"--step"}},
        UsageCase{"bad_optimizer", kSynth + "--optimizer sgd", {"--optimizer", "\"sgd\""}},
        UsageCase{"bad_loss", kSynth + "--loss l1", {"--loss", "\"l1\""}},
        UsageCase{"paper_and_iterations", kSynth + "--paper --iterations 5", {"--paper", "--iterations"}},
        UsageCase{"flag_with_value", kSynth + "--quiet=yes", {"--quiet", "takes no value"}},
        UsageCase{"given_twice", kSynth + "--out other", {"--out", "given twice"}},
        UsageCase{"positional", kSynth + "stray", {"unexpected argument \"stray\""}},
        UsageCase{"zero_pairs", "null --model zoo:tiny-cnn --layers conv1 --input in --pairs 0", {"--pairs"}},
        UsageCase{"bad_threads", "info --model zoo:tiny-cnn --threads many", {"--threads", "\"many\""}},
        UsageCase{"negative_threads", "info --model zoo:tiny-cnn --threads -1", {"--threads"}},
        UsageCase{"huge_threads", "info --model zoo:tiny-cnn --threads 100000", {"--threads"}},
        UsageCase{"int_wrap_threads", "info --model zoo:tiny-cnn --threads 4294967297", {"--threads"}},
        UsageCase{"max_rounds_below_rounds", kSynth + "--rounds 8 --max-rounds 6", {"--max-rounds", "from --rounds (8)"}},
        UsageCase{"max_rounds_huge", kSynth + "--max-rounds 2147483648", {"--max-rounds", "1000"}},
        UsageCase{"demo_max_rounds_below_rounds", "demo --max-rounds 2", {"demo: --max-rounds 2", "from --rounds (4)"}},
        UsageCase{"report_max_rounds_huge", "report zoo --max-rounds 1001", {"report: --max-rounds 1001", "1000"}},
        UsageCase{"schedule_below", "reproduce --schedule 500x6-5", {"--schedule", "500x6-5"}},
        UsageCase{"schedule_trailing", "reproduce --schedule 500x6-", {"--schedule"}},
        UsageCase{"schedule_exponent", "reproduce --schedule 5e2x6", {"--schedule", "5e2x6"}},
        UsageCase{"schedule_sign", "reproduce --schedule +500x6", {"--schedule"}}),
    [](const ::testing::TestParamInfo<UsageCase>& i) { return i.param.name; });

}  // namespace
