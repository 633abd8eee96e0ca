// tests/analysis/export_test.cpp: analysis/export: the CSV, JSON-lines and BIDS exports of
// an in-memory ExportData (people with one and two sessions, a model observer, practice,
// catch, no-response, fell-back and audio trials, two judging models, a stimulus name with a
// comma and a quote, a non-ASCII category), read back with libcsv, nlohmann/json, pandas
// (tests/analysis/read_export.py) and bids-validator (npm, pinned in package.json); the
// refusals (non-empty folder, unwritable place, nothing to export) and --force.
// External tools: ExportPandas.* runs /usr/bin/python3 with pandas, ExportBidsValidator.*
// runs node_modules/.bin/bids-validator (npm ci); the other tests need neither.
//
// Sections
//   [SECTION] Helpers     temporary folders, files, commands, CSV/TSV parsing
//   [SECTION] Data        the sample ExportData and its stimulus files
//   [SECTION] Columns     export_columns, judge_column
//   [SECTION] Csv         trials.csv, sessions.csv, privacy, round-trip numbers
//   [SECTION] Jsonl       trials.jsonl, sessions.jsonl
//   [SECTION] Pandas      proportion correct read back by pandas
//   [SECTION] Bids        layout, n/a, sidecars, seconds; bids-validator (ExportBidsValidator.*)
//   [SECTION] Refusals    non-empty, --force, unwritable, empty, missing stimulus
#include "analysis/export.h"

#include <csv.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mm::analysis {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

// [SECTION] Helpers -----------------------------------------------------------------------

// A fresh folder under /tmp, removed with everything in it at the end.
struct Tmp {
  fs::path dir;
  Tmp() {
    char tmpl[] = "/tmp/mm-export-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
  }
  ~Tmp() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string source_dir() {
#if defined(METAMERLAB_SOURCE_DIR)
  return METAMERLAB_SOURCE_DIR;
#else
  return fs::path(__FILE__).parent_path().parent_path().parent_path().string();
#endif
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

// Every file under dir, relative, sorted.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.push_back(fs::relative(e.path(), dir).string() + (e.is_directory() ? "/" : ""));
  std::sort(out.begin(), out.end());
  return out;
}

// Runs a shell command; its standard output, and its exit status in *status.
std::string run(const std::string& cmd, int* status) {
  std::string out;
  std::cout.flush();
  std::fflush(nullptr);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// A CSV file parsed with libcsv: records of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  struct Acc {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
  } acc;
  csv_parser p;
  csv_init(&p, CSV_STRICT | CSV_EMPTY_IS_NULL);
  auto field = [](void* s, size_t n, void* d) {
    static_cast<Acc*>(d)->row.emplace_back(s ? std::string(static_cast<char*>(s), n) : std::string());
  };
  auto end = [](int, void* d) {
    auto* a = static_cast<Acc*>(d);
    a->rows.push_back(std::move(a->row));
    a->row.clear();
  };
  if (csv_parse(&p, text.data(), text.size(), field, end, &acc) != text.size())
    throw std::runtime_error(std::string("csv: ") + csv_strerror(csv_error(&p)));
  csv_fini(&p, field, end, &acc);
  csv_free(&p);
  return acc.rows;
}

// A TSV file: lines split on tabs (BIDS TSV has no quoting).
std::vector<std::vector<std::string>> parse_tsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t a = 0;
    for (size_t b; (b = line.find('\t', a)) != std::string::npos; a = b + 1) f.push_back(line.substr(a, b - a));
    f.push_back(line.substr(a));
    rows.push_back(f);
  }
  return rows;
}

// Records as maps by header name.
std::vector<std::map<std::string, std::string>> by_name(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::map<std::string, std::string>> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    std::map<std::string, std::string> m;
    for (size_t c = 0; c < rows[0].size() && c < rows[r].size(); ++c) m[rows[0][c]] = rows[r][c];
    out.push_back(m);
  }
  return out;
}

// The message of the std::runtime_error f throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// [SECTION] Data --------------------------------------------------------------------------

const std::string kRobust = "zoo:emoji16-robust";
const std::string kMyNet = "/home/lab/models/My Net.pt";  // a path: only "My Net.pt" may appear
const std::string kQuoted = "cat/cat, \"big\".png";
const std::string kCafe = "café";
const std::string kStation = "LABPC-ROOM-204";

// Sessions: 1 and 3 are participant 1 (two sessions), 2 is participant 2, 4 a model
// observer, 5 participant 3 with no trial yet (running). Stimuli are written under stim.
ExportData sample(const fs::path& stim) {
  ExportData d;
  d.program_version = "0.9.0-test";
  d.judging_models = {kRobust, kMyNet};
  d.modality = "image";
  d.task_instructions["emoji16-metamers v1"] = "Which emoji is this? Press the key of its category.";
  d.task_descriptions["emoji16-metamers v1"] = "16-way categorization of natural emoji and metamers.";
  auto session = [&](int64_t id, int64_t number, std::string code, std::string observer, std::string status) {
    ExportSession s;
    s.id = id;
    s.participant_number = number;
    s.participant_code = std::move(code);
    s.experiment_name = "emoji16-metamers v1";
    s.experiment_sha256 = std::string(64, 'e');
    s.observer = std::move(observer);
    s.status = std::move(status);
    s.started_at = "2024-05-0" + std::to_string(id) + "T09:00:00.125Z";
    s.ended_at = s.status == "running" ? "" : "2024-05-0" + std::to_string(id) + "T09:20:00.000Z";
    s.station = kStation;
    s.planned_trials = 8;
    d.sessions.push_back(s);
  };
  session(1, 1, "P001", "", "completed");
  session(2, 2, "P002", "", "completed");
  session(3, 1, "P001", "", "aborted");
  session(4, 1, "obs-robust", kRobust, "completed");
  session(5, 3, "P003", "", "running");

  auto file = [&](const std::string& rel) {
    const fs::path p = stim / rel;
    write_text(p, "stimulus bytes of " + rel);
    return p.string();
  };
  const std::string dog = file("dog/dog_1.png"), dog_m = file("resnet/layer3/dog/dog_1.png");
  const std::string cat = file(kQuoted), cafe = file(kCafe + "/" + kCafe + "_1.png");
  const std::string catch_f = file("catch/star.png");
  // kind: 0 natural, 1 metamer, 2 fell back, 3 catch; response "" for none.
  auto trial = [&](int64_t session_id, int64_t index, const std::string& phase, int kind, const std::string& category,
                   const std::string& response, double rt) {
    ExportTrial t;
    t.session_id = session_id;
    t.trial_index = index;
    t.block = phase == "practice" ? 0 : 1;
    t.block_kind = phase == "catch" ? "main" : phase;
    t.phase = phase;
    t.index_in_block = phase == "practice" ? index : index - 1;
    t.category = category;
    const std::string rel = category == "dog" ? (kind == 1 ? "resnet/layer3/dog/dog_1.png" : "dog/dog_1.png")
                            : category == "cat" ? kQuoted
                            : category == kCafe ? kCafe + "/" + kCafe + "_1.png"
                                                : "catch/star.png";
    t.stimulus_file = rel;
    t.stimulus_path = category == "dog" ? (kind == 1 ? dog_m : dog) : category == "cat" ? cat
                      : category == kCafe                            ? cafe
                                                                     : catch_f;
    t.stimulus_sha256 = std::string(64, static_cast<char>('a' + rel.size() % 6));
    t.condition = kind == 1 ? "resnet/layer3" : kind == 3 ? "catch" : "natural";
    t.planned_condition = kind == 2 ? "resnet/layer3" : t.condition;
    t.is_metamer = kind == 1;
    t.fell_back = kind == 2;
    if (kind == 1) t.model = "resnet", t.layer = "layer3";
    t.response = response;
    t.correct = !response.empty() && response == category;
    t.rt_response_ms = response.empty() ? -1 : rt;
    t.rt_stimulus_ms = response.empty() ? -1 : rt + 250.5;
    t.dropped_frames = index % 3 == 0 ? 1 : 0;
    t.audio_onset_ms = index == 2 ? 12.345678901234567 : -1;  // one audio onset, to exercise the column
    t.answered_at = "2024-05-0" + std::to_string(session_id) + "T09:0" + std::to_string(index) + ":00.500Z";
    t.judgments[kRobust] = category;
    if (index % 2 == 0) t.judgments[kMyNet] = "dog";  // the other model judged only some stimuli
    d.trials.push_back(t);
  };
  for (int64_t s : {1, 2, 3, 4}) {
    trial(s, 0, "practice", 0, "dog", "dog", 700.25);
    trial(s, 1, "main", 0, "cat", s == 2 ? "dog" : "cat", 0.1 + 0.2);  // 0.30000000000000004 must round-trip
    trial(s, 2, "main", 1, "dog", "dog", 523.25);
    trial(s, 3, "main", 1, "dog", s % 2 ? "cat" : "dog", 1234.5678901234567);
    trial(s, 4, "main", 2, kCafe, kCafe, 612.0);
    trial(s, 5, "main", 0, kCafe, "", -1);  // no response
    trial(s, 6, "catch", 3, "star", "star", 401.0);
  }
  return d;
}

// Proportion correct per (participant label, condition) over main-phase trials: k and n.
std::map<std::pair<std::string, std::string>, std::pair<int, int>> expected_accuracy(const ExportData& d) {
  std::map<int64_t, std::string> label;
  for (const auto& s : d.sessions)
    label[s.id] = s.observer.empty() ? "sub-" + std::to_string(s.participant_number) : "model-emoji16_robust-1";
  std::map<std::pair<std::string, std::string>, std::pair<int, int>> out;
  for (const auto& t : d.trials) {
    if (t.phase != "main") continue;
    auto& kn = out[{label.at(t.session_id), t.condition}];
    kn.first += t.correct;
    kn.second += 1;
  }
  return out;
}

// Asserts no file under dir contains any of the needles (paths of this machine, codes, ...).
void expect_absent(const fs::path& dir, const std::vector<std::string>& needles) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string text = read_text(e.path());
    for (const auto& n : needles) EXPECT_EQ(text.find(n), std::string::npos) << e.path() << " contains " << n;
  }
}

// The paths of this machine that must never be written.
std::vector<std::string> machine_paths(const ExportData& d, const fs::path& tmp) {
  std::vector<std::string> out = {tmp.string(), kMyNet, "/home/lab", kStation};
  for (const auto& t : d.trials) out.push_back(t.stimulus_path);
  return out;
}

// [SECTION] Columns -----------------------------------------------------------------------

TEST(ExportColumns, FixedOrderDocumentedAndSnakeCase) {
  const std::vector<std::string> want = {
      "participant", "participant_code", "participant_number", "session", "session_status", "observer",
      "experiment", "experiment_sha256", "block", "block_kind", "trial_index", "index_in_block", "phase",
      "condition", "planned_condition", "model", "layer", "category", "stimulus_file", "stimulus_sha256",
      "is_metamer", "fell_back", "response", "correct", "rt_response_ms", "rt_stimulus_ms", "dropped_frames",
      "audio_onset_ms", "answered_at"};
  std::vector<std::string> got;
  for (const auto& c : export_columns()) {
    got.push_back(c.name);
    EXPECT_FALSE(c.description.empty()) << c.name;
    EXPECT_EQ(c.units.empty(), c.name.find("_ms") == std::string::npos) << c.name;
  }
  EXPECT_EQ(got, want);
}

TEST(ExportColumns, JudgeColumnNames) {
  EXPECT_EQ(judge_column("zoo:emoji16-robust"), "judge_emoji16_robust");
  EXPECT_EQ(judge_column("/home/lab/models/My Net.pt"), "judge_my_net");
  EXPECT_EQ(judge_column("models/resnet50.pt"), "judge_resnet50");
  EXPECT_EQ(judge_column("zoo:AlexNet"), "judge_alexnet");
  EXPECT_EQ(judge_column("zoo:"), "judge_model");
}

// [SECTION] Csv ---------------------------------------------------------------------------

std::vector<std::string> csv_header(bool codes) {
  std::vector<std::string> h;
  for (const auto& c : export_columns())
    if (codes || c.name != "participant_code") h.push_back(c.name);
  h.push_back("judge_emoji16_robust");
  h.push_back("judge_my_net");
  return h;
}

TEST(ExportCsv, TrialsAndSessions) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  ExportOptions o;
  o.out_dir = (tmp.dir / "out").string();
  const ExportSummary sum = write_export(d, o);
  EXPECT_EQ(sum.trials, static_cast<int64_t>(d.trials.size()));
  EXPECT_EQ(sum.sessions, 5);
  EXPECT_EQ(sum.files, (std::vector<std::string>{"trials.csv", "sessions.csv"}));
  const auto files = listing(tmp.dir);  // out/ holds only the two files; nothing left beside it
  EXPECT_EQ(std::vector<std::string>(files.begin(), files.begin() + 3),
            (std::vector<std::string>{"out/", "out/sessions.csv", "out/trials.csv"}));
  for (const auto& f : files) EXPECT_TRUE(f.rfind("out/", 0) == 0 || f.rfind("stimuli/", 0) == 0) << f;

  const std::string text = read_text(tmp.dir / "out/trials.csv");
  const auto rows = parse_csv(text);
  ASSERT_EQ(rows.size(), d.trials.size() + 1);
  EXPECT_EQ(rows[0], csv_header(false));
  for (const auto& r : rows) EXPECT_EQ(r.size(), rows[0].size());
  // Raw text: only the stimulus name with a comma and quote is quoted; missing cells are empty.
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("big") == std::string::npos) {
      EXPECT_EQ(line.find('"'), std::string::npos) << line;
    }
  }
  EXPECT_NE(text.find("\"cat/cat, \"\"big\"\".png\""), std::string::npos);

  const auto recs = by_name(rows);
  for (size_t k = 0; k < recs.size(); ++k) {
    const auto& r = recs[k];
    const ExportTrial& t = d.trials[k];
    EXPECT_EQ(r.at("participant"), t.session_id == 4 ? "model-emoji16_robust-1"
                                                     : "sub-" + std::to_string(t.session_id == 2 ? 2 : 1));
    EXPECT_EQ(r.at("session"), std::to_string(t.session_id));
    EXPECT_EQ(r.at("observer"), t.session_id == 4 ? kRobust : "");
    EXPECT_EQ(r.at("stimulus_file"), t.stimulus_file);
    EXPECT_EQ(r.at("category"), t.category);
    EXPECT_EQ(r.at("response"), t.response);
    EXPECT_EQ(r.at("is_metamer"), t.is_metamer ? "1" : "0");
    EXPECT_EQ(r.at("fell_back"), t.fell_back ? "1" : "0");
    EXPECT_EQ(r.at("correct"), t.correct ? "1" : "0");
    EXPECT_EQ(r.at("model"), t.model);
    EXPECT_EQ(r.at("judge_emoji16_robust"), t.judgments.at(kRobust));
    EXPECT_EQ(r.at("judge_my_net"), t.judgments.count(kMyNet) ? t.judgments.at(kMyNet) : "");
    if (t.response.empty()) {
      EXPECT_EQ(r.at("rt_response_ms"), "");
      EXPECT_EQ(r.at("rt_stimulus_ms"), "");
    } else {  // numbers round-trip exactly
      EXPECT_EQ(std::strtod(r.at("rt_response_ms").c_str(), nullptr), t.rt_response_ms) << r.at("rt_response_ms");
      EXPECT_EQ(std::strtod(r.at("rt_stimulus_ms").c_str(), nullptr), t.rt_stimulus_ms);
    }
    if (t.audio_onset_ms == -1) {
      EXPECT_EQ(r.at("audio_onset_ms"), "");
    } else {
      EXPECT_EQ(std::strtod(r.at("audio_onset_ms").c_str(), nullptr), t.audio_onset_ms);
    }
  }
  EXPECT_EQ(recs[1].at("rt_response_ms"), "0.30000000000000004");
  EXPECT_EQ(recs[4].at("planned_condition"), "resnet/layer3");
  EXPECT_EQ(recs[4].at("condition"), "natural");

  const auto srows = parse_csv(read_text(tmp.dir / "out/sessions.csv"));
  ASSERT_EQ(srows.size(), 6u);
  EXPECT_EQ(srows[0], (std::vector<std::string>{"participant", "participant_number", "session", "experiment",
                                                "experiment_sha256", "observer", "status", "started_at",
                                                "ended_at", "planned_trials", "answered_trials"}));
  const auto srec = by_name(srows);
  EXPECT_EQ(srec[4].at("participant"), "sub-3");
  EXPECT_EQ(srec[4].at("answered_trials"), "0");
  EXPECT_EQ(srec[4].at("ended_at"), "");
  EXPECT_EQ(srec[2].at("answered_trials"), "7");

  auto needles = machine_paths(d, tmp.dir);
  for (const char* code : {"P001", "P002", "P003", "obs-robust"}) needles.push_back(code);
  expect_absent(tmp.dir / "out", needles);
}

TEST(ExportCsv, CodesOnlyWhenAskedAndStimuliCopied) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  ExportOptions o;
  o.out_dir = (tmp.dir / "out").string();
  o.with_codes = true;
  o.with_stimuli = true;
  write_export(d, o);
  const auto rows = parse_csv(read_text(tmp.dir / "out/trials.csv"));
  EXPECT_EQ(rows[0], csv_header(true));
  EXPECT_EQ(by_name(rows)[0].at("participant_code"), "P001");
  EXPECT_EQ(by_name(parse_csv(read_text(tmp.dir / "out/sessions.csv")))[1].at("participant_code"), "P002");
  EXPECT_EQ(read_text(tmp.dir / "out/stimuli" / kQuoted), read_text(tmp.dir / "stimuli" / kQuoted));
  EXPECT_TRUE(fs::is_regular_file(tmp.dir / "out/stimuli/café/café_1.png"));
  EXPECT_TRUE(fs::is_regular_file(tmp.dir / "out/stimuli/resnet/layer3/dog/dog_1.png"));
  expect_absent(tmp.dir / "out", machine_paths(d, tmp.dir));
}

// [SECTION] Jsonl -------------------------------------------------------------------------

TEST(ExportJsonl, OneObjectPerTrialNullForMissing) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  ExportOptions o;
  o.format = ExportFormat::jsonl;
  o.out_dir = (tmp.dir / "out").string();
  EXPECT_EQ(write_export(d, o).files, (std::vector<std::string>{"trials.jsonl", "sessions.jsonl"}));
  std::istringstream in(read_text(tmp.dir / "out/trials.jsonl"));
  std::string line;
  size_t k = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(k, d.trials.size());
    const ExportTrial& t = d.trials[k++];
    const json j = json::parse(line);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    const auto header = csv_header(false);
    const std::set<std::string> want(header.begin(), header.end());
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), want);
    EXPECT_EQ(line.rfind("{\"participant\":", 0), 0u);  // column order kept
    EXPECT_EQ(j["stimulus_file"], t.stimulus_file);
    EXPECT_EQ(j["trial_index"], t.trial_index);
    EXPECT_EQ(j["correct"], t.correct);
    EXPECT_EQ(j["fell_back"], t.fell_back);
    if (t.response.empty()) {
      EXPECT_TRUE(j["response"].is_null());
      EXPECT_TRUE(j["rt_response_ms"].is_null());
      EXPECT_TRUE(j["rt_stimulus_ms"].is_null());
    } else {
      EXPECT_EQ(j["rt_response_ms"].get<double>(), t.rt_response_ms);
    }
    EXPECT_EQ(j["audio_onset_ms"].is_null(), t.audio_onset_ms == -1);
    EXPECT_EQ(j["judge_my_net"].is_null(), !t.judgments.count(kMyNet));
    EXPECT_TRUE(j["model"].is_null() == t.model.empty());
  }
  EXPECT_EQ(k, d.trials.size());
  std::istringstream sin(read_text(tmp.dir / "out/sessions.jsonl"));
  size_t n = 0;
  while (std::getline(sin, line)) {
    const json j = json::parse(line);
    EXPECT_FALSE(j.contains("station"));
    EXPECT_FALSE(j.contains("participant_code"));
    ++n;
  }
  EXPECT_EQ(n, d.sessions.size());
  expect_absent(tmp.dir / "out", machine_paths(d, tmp.dir));
}

// [SECTION] Pandas ------------------------------------------------------------------------

TEST(ExportPandas, ProportionCorrectReadBackByPandas) {
  int status = 0;
  run("/usr/bin/python3 -c 'import pandas' 2>&1", &status);
  ASSERT_EQ(status, 0) << "needs /usr/bin/python3 with pandas (apt-get install python3-pandas)";
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  ExportOptions o;
  o.out_dir = (tmp.dir / "out").string();
  write_export(d, o);
  const std::string out = run("/usr/bin/python3 " + quote(source_dir() + "/tests/analysis/read_export.py") + " " +
                                  quote((tmp.dir / "out/trials.csv").string()) + " 2>&1",
                              &status);
  ASSERT_EQ(status, 0) << out;
  const json j = json::parse(out);
  EXPECT_EQ(j["rows"], d.trials.size());
  EXPECT_EQ(j["columns"].get<std::vector<std::string>>(), csv_header(false));
  EXPECT_EQ(j["missing_rt"], 4);
  EXPECT_EQ(j["stimulus_files"].get<std::vector<std::string>>(),
            (std::vector<std::string>{kCafe + "/" + kCafe + "_1.png", kQuoted, "catch/star.png", "dog/dog_1.png",
                                      "resnet/layer3/dog/dog_1.png"}));  // sorted by code point
  EXPECT_EQ(j["categories"].get<std::vector<std::string>>(),
            (std::vector<std::string>{kCafe, "cat", "dog", "star"}));
  const auto want = expected_accuracy(d);
  ASSERT_EQ(j["cells"].size(), want.size()) << out;
  for (const auto& c : j["cells"]) {
    const auto key = std::make_pair(c["participant"].get<std::string>(), c["condition"].get<std::string>());
    ASSERT_TRUE(want.count(key)) << key.first << " " << key.second;
    EXPECT_EQ(c["correct"].get<int>(), want.at(key).first) << key.first << " " << key.second;
    EXPECT_EQ(c["n"].get<int>(), want.at(key).second);
    EXPECT_EQ(c["proportion"].get<double>(), static_cast<double>(want.at(key).first) / want.at(key).second);
  }
}

// [SECTION] Bids --------------------------------------------------------------------------

// Runs bids-validator on dir: its parsed --json output (issues.errors, issues.warnings).
json validate(const fs::path& dir) {
  const std::string bin = source_dir() + "/node_modules/.bin/bids-validator";
  if (!fs::exists(bin)) {
    ADD_FAILURE() << bin << " is missing: run npm ci in " << source_dir();
    return json();
  }
  int status = 0;
  const std::string out = run(quote(bin) + " " + quote(dir.string()) + " --json 2>/dev/null", &status);
  try {
    return json::parse(out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "bids-validator printed no JSON (status " << status << "): " << out.substr(0, 2000);
    return json();
  }
}

// The issue codes of a list, with their files, for messages.
std::string describe(const json& issues) {
  std::string s;
  for (const auto& i : issues) {
    s += "\n  " + i.value("key", std::string("?")) + ": " + i.value("reason", std::string());
    if (i.contains("files"))
      for (const auto& f : i["files"])
        if (f.contains("file") && f["file"].is_object())
          s += "\n    " + f["file"].value("relativePath", std::string()) + " " +
               (f["evidence"].is_string() ? f["evidence"].get<std::string>() : std::string());
  }
  return s;
}

// Every TSV under dir: same number of fields per line, no empty cell; every _beh.tsv column
// described in its sidecar.
void check_tsvs(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".tsv") continue;
    const auto rows = parse_tsv(read_text(e.path()));
    ASSERT_GE(rows.size(), 2u) << e.path();
    for (const auto& r : rows) {
      EXPECT_EQ(r.size(), rows[0].size()) << e.path();
      for (const auto& f : r) EXPECT_FALSE(f.empty()) << e.path();
    }
    if (e.path().string().find("_beh.tsv") == std::string::npos) continue;
    fs::path side = e.path();
    side.replace_extension(".json");
    const json j = json::parse(read_text(side));
    for (const auto& name : rows[0]) {
      ASSERT_TRUE(j.contains(name)) << side << " does not describe " << name;
      EXPECT_TRUE(j[name].contains("LongName") && j[name].contains("Description")) << name;
    }
    EXPECT_TRUE(j.contains("TaskName") && j.contains("Instructions") && j.contains("TaskDescription"));
    EXPECT_EQ(j["response_time"]["Units"], "s");
    EXPECT_TRUE(j["trial_type"].contains("Levels"));
    EXPECT_TRUE(j["fell_back"].contains("Levels"));
    EXPECT_TRUE(j["correct"].contains("Levels"));
    EXPECT_FALSE(j.contains("onset"));
  }
}

TEST(ExportBids, SessionsLayoutSecondsAndNa) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  ExportOptions o;
  o.format = ExportFormat::bids;
  o.out_dir = (tmp.dir / "bids").string();
  const ExportSummary sum = write_export(d, o);
  EXPECT_EQ(sum.sessions, 3);  // the model observer and the session without trials are left out
  EXPECT_EQ(sum.trials, 21);
  const fs::path b = tmp.dir / "bids";
  for (const char* f : {"dataset_description.json", "README", "participants.tsv", "participants.json",
                        "sub-1/ses-1/beh/sub-1_ses-1_task-emoji16metamersv1_beh.tsv",
                        "sub-1/ses-1/beh/sub-1_ses-1_task-emoji16metamersv1_beh.json",
                        "sub-1/ses-2/beh/sub-1_ses-2_task-emoji16metamersv1_beh.tsv",
                        "sub-1/ses-1/sub-1_ses-1_scans.tsv",
                        "sub-2/ses-1/beh/sub-2_ses-1_task-emoji16metamersv1_beh.tsv"})
    EXPECT_TRUE(fs::is_regular_file(b / f)) << f;
  EXPECT_FALSE(fs::exists(b / "sub-3"));
  EXPECT_FALSE(fs::exists(b / "stimuli"));
  for (const auto& f : listing(b)) EXPECT_EQ(f.find("model"), std::string::npos) << f;
  EXPECT_EQ(read_text(b / "participants.tsv"),
            "participant_id\tparticipant_number\tn_sessions\nsub-1\t1\t2\nsub-2\t2\t1\n");
  const json desc = json::parse(read_text(b / "dataset_description.json"));
  EXPECT_EQ(desc["BIDSVersion"], "1.8.0");
  EXPECT_EQ(desc["GeneratedBy"][0]["Version"], "0.9.0-test");
  EXPECT_NE(read_text(b / "README").find("Model-observer sessions"), std::string::npos);

  const auto rows = parse_tsv(read_text(b / "sub-1/ses-2/beh/sub-1_ses-2_task-emoji16metamersv1_beh.tsv"));
  ASSERT_EQ(rows.size(), 8u);
  const auto recs = by_name(rows);
  EXPECT_EQ(rows[0].front(), "block");
  EXPECT_TRUE(std::count(rows[0].begin(), rows[0].end(), "stimulus_file"));
  EXPECT_EQ(recs[0].at("trial_type"), "practice");
  EXPECT_EQ(recs[1].at("response_time"), "0.00030000000000000004");  // ms / 1000, digits kept
  EXPECT_EQ(recs[2].at("response_time"), "0.52325");
  EXPECT_EQ(recs[3].at("response_time"), "1.2345678901234567");
  EXPECT_EQ(recs[4].at("response_time"), "0.612");
  EXPECT_EQ(recs[5].at("response_time"), "n/a");
  EXPECT_EQ(recs[5].at("response"), "n/a");
  EXPECT_EQ(recs[5].at("rt_stimulus_ms"), "n/a");
  EXPECT_EQ(recs[0].at("audio_onset_ms"), "n/a");
  EXPECT_EQ(recs[2].at("audio_onset_ms"), "12.345678901234567");
  EXPECT_EQ(recs[0].at("model"), "n/a");
  EXPECT_EQ(recs[1].at("stimulus_file"), kQuoted);
  EXPECT_EQ(recs[4].at("category"), kCafe);
  EXPECT_EQ(recs[1].at("judge_my_net"), "n/a");
  check_tsvs(b);
  const auto scans = by_name(parse_tsv(read_text(b / "sub-1/ses-2/sub-1_ses-2_scans.tsv")));
  ASSERT_EQ(scans.size(), 1u);
  EXPECT_EQ(scans[0].at("filename"), "beh/sub-1_ses-2_task-emoji16metamersv1_beh.tsv");
  EXPECT_EQ(scans[0].at("acq_time"), "2024-05-03T09:00:00.125");
  EXPECT_EQ(scans[0].at("session_status"), "aborted");
  expect_absent(b, machine_paths(d, tmp.dir));
  for (const char* code : {"P001", "P002"}) EXPECT_EQ(read_text(b / "participants.tsv").find(code), std::string::npos);
}

TEST(ExportBidsValidator, NoSessionFoldersWhenOneSessionEach) {
  Tmp tmp;
  ExportData d = sample(tmp.dir / "stimuli");
  d.sessions.erase(d.sessions.begin() + 2);  // session 3: participant 1's second
  auto of_session_3 = [](const ExportTrial& t) { return t.session_id == 3; };
  d.trials.erase(std::remove_if(d.trials.begin(), d.trials.end(), of_session_3), d.trials.end());
  ExportOptions o;
  o.format = ExportFormat::bids;
  o.with_codes = true;
  o.out_dir = (tmp.dir / "bids").string();
  write_export(d, o);
  const fs::path b = tmp.dir / "bids";
  EXPECT_TRUE(fs::is_regular_file(b / "sub-1/beh/sub-1_task-emoji16metamersv1_beh.tsv"));
  EXPECT_TRUE(fs::is_regular_file(b / "sub-1/sub-1_scans.tsv"));
  EXPECT_FALSE(fs::exists(b / "sub-1/ses-1"));
  EXPECT_EQ(read_text(b / "participants.tsv"),
            "participant_id\tparticipant_code\tparticipant_number\tn_sessions\nsub-1\tP001\t1\t1\nsub-2\tP002\t2\t1\n");
  const json v = validate(b);
  ASSERT_TRUE(v.contains("issues"));
  EXPECT_EQ(v["issues"]["errors"].size(), 0u) << describe(v["issues"]["errors"]);
}

TEST(ExportBidsValidator, NoErrorsWithAndWithoutStimuli) {
  for (bool stimuli : {false, true}) {
    SCOPED_TRACE(stimuli ? "with stimuli" : "without stimuli");
    Tmp tmp;
    const ExportData d = sample(tmp.dir / "stimuli");
    ExportOptions o;
    o.format = ExportFormat::bids;
    o.with_stimuli = stimuli;
    o.out_dir = (tmp.dir / "bids").string();
    write_export(d, o);
    const fs::path b = tmp.dir / "bids";
    if (stimuli) {
      EXPECT_TRUE(fs::is_regular_file(b / "stimuli" / kQuoted));
      EXPECT_TRUE(fs::is_regular_file(b / "stimuli/resnet/layer3/dog/dog_1.png"));
      const auto rows = parse_tsv(read_text(b / "sub-2/ses-1/beh/sub-2_ses-1_task-emoji16metamersv1_beh.tsv"));
      EXPECT_TRUE(std::count(rows[0].begin(), rows[0].end(), "stim_file"));
      for (const auto& r : by_name(rows)) {
        if (r.at("stim_file") != "n/a") {
          EXPECT_TRUE(fs::is_regular_file(b / "stimuli" / r.at("stim_file"))) << r.at("stim_file");
        }
      }
    }
    check_tsvs(b);
    expect_absent(b, machine_paths(d, tmp.dir));
    const json v = validate(b);
    ASSERT_TRUE(v.contains("issues"));
    EXPECT_EQ(v["issues"]["errors"].size(), 0u) << describe(v["issues"]["errors"]);
    std::cout << "bids-validator warnings (" << (stimuli ? "with" : "without")
              << " stimuli):" << describe(v["issues"]["warnings"]) << "\n";
  }
}

// [SECTION] Refusals ----------------------------------------------------------------------

TEST(ExportRefusals, NonEmptyFolderWithoutForceChangesNothing) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  const fs::path out = tmp.dir / "out";
  write_text(out / "notes.txt", "keep me");
  write_text(out / "trials.csv", "old");
  const auto before = listing(tmp.dir);
  ExportOptions o;
  o.out_dir = out.string();
  for (ExportFormat f : {ExportFormat::csv, ExportFormat::jsonl, ExportFormat::bids}) {
    o.format = f;
    const std::string e = error_of([&] { write_export(d, o); });
    EXPECT_EQ(e, out.string() + ": exists and is not empty; choose a new folder or pass --force (which replaces "
                                "only the files this export writes)");
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  EXPECT_EQ(listing(tmp.dir), before);
  EXPECT_EQ(read_text(out / "trials.csv"), "old");
}

TEST(ExportRefusals, ForceReplacesOnlyOurFiles) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  const fs::path out = tmp.dir / "out";
  write_text(out / "notes.txt", "keep me");
  write_text(out / "trials.csv", "old");
  write_text(out / "sub-1/old_analysis.R", "# mine");
  ExportOptions o;
  o.out_dir = out.string();
  o.force = true;
  write_export(d, o);
  EXPECT_EQ(read_text(out / "notes.txt"), "keep me");
  EXPECT_EQ(parse_csv(read_text(out / "trials.csv"))[0], csv_header(false));
  o.format = ExportFormat::bids;
  write_export(d, o);
  EXPECT_EQ(read_text(out / "sub-1/old_analysis.R"), "# mine");
  EXPECT_TRUE(fs::is_regular_file(out / "sub-1/ses-1/beh/sub-1_ses-1_task-emoji16metamersv1_beh.tsv"));
  for (const auto& f : listing(tmp.dir)) EXPECT_EQ(f.find(".staging-"), std::string::npos) << f;
}

TEST(ExportRefusals, EmptyFolderIsUsed) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  fs::create_directories(tmp.dir / "out");
  ExportOptions o;
  o.out_dir = (tmp.dir / "out/").string();
  write_export(d, o);
  EXPECT_TRUE(fs::is_regular_file(tmp.dir / "out/trials.csv"));
}

TEST(ExportRefusals, UnwritablePlaceOneLineNoStaging) {
  Tmp tmp;
  const ExportData d = sample(tmp.dir / "stimuli");
  write_text(tmp.dir / "afile", "x");
  const auto before = listing(tmp.dir);
  ExportOptions o;
  o.out_dir = (tmp.dir / "afile/sub/out").string();
  const std::string e = error_of([&] { write_export(d, o); });
  EXPECT_NE(e.find((tmp.dir / "afile").string()), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  EXPECT_EQ(listing(tmp.dir), before);

  o.out_dir = (tmp.dir / "afile").string();  // the output is a file
  EXPECT_NE(error_of([&] { write_export(d, o); }).find("exists and is not a folder"), std::string::npos);
  EXPECT_EQ(listing(tmp.dir), before);
}

TEST(ExportRefusals, NothingToExport) {
  ExportOptions o;
  o.out_dir = "/nonexistent-never-written";
  EXPECT_EQ(error_of([&] { write_export(ExportData{}, o); }), "no sessions to export");
  ExportData d;
  d.sessions.push_back(ExportSession{});
  EXPECT_EQ(error_of([&] { write_export(d, o); }).rfind("no sessions to export", 0), 0u);
  EXPECT_FALSE(fs::exists(o.out_dir));
}

TEST(ExportRefusals, MissingStimulusLeavesNothing) {
  Tmp tmp;
  ExportData d = sample(tmp.dir / "stimuli");
  fs::remove(tmp.dir / "stimuli/dog/dog_1.png");
  const auto before = listing(tmp.dir);
  ExportOptions o;
  o.format = ExportFormat::bids;
  o.with_stimuli = true;
  o.out_dir = (tmp.dir / "new/deeper/bids").string();
  const std::string e = error_of([&] { write_export(d, o); });
  EXPECT_NE(e.find("dog/dog_1.png"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  EXPECT_EQ(listing(tmp.dir), before);  // no staging folder, no created parents
}

TEST(ExportRefusals, TwoPeopleWithOneNumber) {
  Tmp tmp;
  ExportData d = sample(tmp.dir / "stimuli");
  d.sessions[1].participant_number = 1;  // session 2 (code P002) now claims number 1 as well
  // In BIDS a number is a subject: refused.
  ExportOptions o;
  o.format = ExportFormat::bids;
  o.out_dir = (tmp.dir / "out").string();
  EXPECT_NE(error_of([&] { write_export(d, o); }).find("participant number 1 belongs to two participants"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(tmp.dir / "out"));
  // A CSV carries the experiment and session beside the number: written.
  o.format = ExportFormat::csv;
  EXPECT_GT(write_export(d, o).trials, 0);
}

// The README's "Exports" section names every CSV column (what analysts read first).
TEST(ExportColumns, EveryColumnIsDocumentedInTheReadme) {
  std::ifstream f(std::string(METAMERLAB_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string readme = ss.str();
  const auto at = readme.find("## Exports");
  ASSERT_NE(at, std::string::npos) << "README.md has no Exports section";
  const std::string section = readme.substr(at, readme.find("\n## ", at + 3) - at);
  for (const auto& c : export_columns())
    EXPECT_NE(section.find("`" + c.name + "`"), std::string::npos) << c.name << " is not documented in README.md";
  EXPECT_NE(section.find("judge_<model>"), std::string::npos);
}

}  // namespace
}  // namespace mm::analysis
