// app/program/reproduce.cpp: `metamerlab reproduce`: the paper's pipeline on the bundled
// world in one command. For every layer of every bundled model: metamers of the reference
// set (400 per modality by default) tested against the model's bundled null; every model of
// the modality judges every metamer (network-to-network, bootstrap SEMs); the figures and
// one report (Markdown and HTML). When the database also holds people's sessions of the
// bundled experiments, their analysis and the human vs model figures join the report.
// Killed and started again, it continues from what is recorded (synthesis resumes,
// judgments already made are kept).
//
// Sections
//   [SECTION] Plan        references, schedule, models
//   [SECTION] Steps       reference sets, synthesis, judgments, analysis
//   [SECTION] Report      Markdown and HTML
//   [SECTION] Command     handler and table entry
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "analysis/results.h"
#include "app/program/judging.h"
#include "app/program/program.h"
#include "app/results_input.h"
#include "data/sha256.h"
#include "data/store.h"
#include "stimuli/datasets.h"
#include "stimuli/stimuli.h"
#include "synth/jobs.h"

namespace fs = std::filesystem;

namespace mm::app {
namespace {

using Clock = std::chrono::steady_clock;

// [SECTION] Plan --------------------------------------------------------------------------
struct Study {
  std::string out_dir, db;
  std::vector<std::string> models;
  int references = 400;            // per modality, spread evenly over the 16 categories
  int64_t iterations = 500;
  int rounds = 6;
  int max_rounds = 10;             // until converged, up to this many rounds (0: exactly `rounds`)
  std::string emoji16, words16;
  int permutations = 10000;
  synth::Device device = synth::Device::cpu;
  std::string command_line;
};

std::string duration(double s) {
  const long long t = static_cast<long long>(s + 0.5);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << " h " << (t % 3600) / 60 << " min";
  else if (t >= 60) o << t / 60 << " min " << t % 60 << " s";
  else o << t << " s";
  return o.str();
}

std::string label(const std::string& spec) { return spec.rfind("zoo:", 0) == 0 ? spec.substr(4) : fs::path(spec).stem().string(); }

// The first `per_category` references of each category of SET/reference (sorted).
std::vector<stimuli::Item> references_of(const std::string& dir, stimuli::Modality mod, int per_category) {
  auto items = stimuli::list_stimuli({(fs::path(dir) / "reference").string()}, mod);
  std::map<std::string, int> taken;
  std::vector<stimuli::Item> out;
  for (const auto& it : items)
    if (taken[it.category]++ < per_category) out.push_back(it);
  return out;
}

// [SECTION] Steps -------------------------------------------------------------------------
// The reference set of a modality, built as tools/build-zoo.sh builds it when missing.
void ensure_reference_set(const std::string& dir, bool audio, std::ostream& err) {
  std::error_code ec;
  if (fs::is_directory(fs::path(dir) / "reference", ec)) return;
  err << "reproduce: building " << dir << " (as tools/build-zoo.sh does; its reference split is the study's)\n";
  if (audio) {
    stimuli::Words16Options o;
    o.out_dir = dir;
    o.utterances = 200;
    o.progress = &err;
    stimuli::build_words16(o);
  } else {
    stimuli::Emoji16Options o;
    o.out_dir = dir;
    o.train_per_category = 3000;
    o.holdout = {"twemoji"};
    o.progress = &err;
    stimuli::build_emoji16(o);
  }
}

struct ModelRun {
  std::string spec, modality;
  std::vector<std::string> layers;
  std::vector<data::MetamerRecord> metamers;
};

// "6 rounds x 500 steps", or "6 to 10 rounds (until converged) x 500 steps".
std::string schedule_text(const Study& s) {
  const std::string r = s.max_rounds > s.rounds
                            ? std::to_string(s.rounds) + " to " + std::to_string(s.max_rounds) + " rounds (until converged)"
                            : std::to_string(s.rounds) + " rounds";
  return r + " x " + std::to_string(s.iterations) + " steps";
}

// The study's key in the judgments table: the models, references and schedule.
std::string study_key(const Study& s, const std::vector<stimuli::Item>& refs_all) {
  std::string k = "metamerlab reproduce|" + std::to_string(s.iterations) + "x" + std::to_string(s.rounds);
  if (s.max_rounds > s.rounds) k += "-" + std::to_string(s.max_rounds);
  for (const auto& m : s.models) k += "|" + m;
  k += "|" + synth::natural_set_sha256(refs_all);
  return data::sha256_hex(k.data(), k.size());
}

// [SECTION] Report ------------------------------------------------------------------------
std::string html_of(const std::string& markdown_body, const std::vector<std::string>& figures) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>metamerlab reproduce</title>"
       "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}pre{white-space:pre-wrap}</style>"
       "</head><body>\n<pre>";
  for (char c : markdown_body) {
    if (c == '<') h << "&lt;";
    else if (c == '>') h << "&gt;";
    else if (c == '&') h << "&amp;";
    else h << c;
  }
  h << "</pre>\n";
  for (const auto& f : figures)  // relative to the report's folder
    if (fs::path(f).extension() == ".png") h << "<p><img src=\"" << f << "\" style=\"max-width:100%\"></p>\n";
  h << "</body></html>\n";
  return h.str();
}

int run_study(const Study& s, std::ostream& out, std::ostream& err) {
  const auto t0 = Clock::now();
  stimuli::ensure_writable_dir(s.out_dir);
  std::vector<ModelRun> runs;
  for (const auto& spec : s.models) {
    const auto m = synth::ModelHandle::open(spec, s.device);
    runs.push_back({spec, m.info().modality, m.info().layers, {}});
  }
  std::vector<stimuli::Item> refs_all;
  std::map<std::string, std::vector<stimuli::Item>> refs;  // modality -> references
  for (const auto& [mod, dir] : std::vector<std::pair<std::string, std::string>>{{"image", s.emoji16}, {"audio", s.words16}}) {
    bool used = false;
    for (const auto& r : runs) used = used || r.modality == mod;
    if (!used) continue;
    ensure_reference_set(dir, mod == "audio", err);
    refs[mod] = references_of(dir, mod == "audio" ? stimuli::Modality::audio : stimuli::Modality::image,
                              std::max(1, s.references / 16));
    refs_all.insert(refs_all.end(), refs[mod].begin(), refs[mod].end());
  }
  int64_t total_metamers = 0;
  for (const auto& r : runs) total_metamers += static_cast<int64_t>(refs[r.modality].size() * r.layers.size());
  out << "reproduce: " << runs.size() << " models, " << total_metamers << " metamers (" << schedule_text(s)
      << "), network-to-network judgments, analysis; database " << s.db << "\n";

  // Synthesis, model by model; each resumes what an earlier run recorded.
  int64_t done_metamers = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    auto& r = runs[i];
    synth::SynthJob j;
    j.model = r.spec;
    j.layers = r.layers;
    for (const auto& it : refs[r.modality]) j.inputs.push_back(it.path);
    j.out_dir = (fs::path(s.out_dir) / label(r.spec)).string();
    j.db = s.db;
    j.opt.iterations = s.iterations;
    j.opt.rounds = s.rounds;
    j.opt.max_rounds = s.max_rounds;
    j.batch = 16;
    j.device = s.device;
    j.command_line = s.command_line;
    err << "reproduce: [" << i + 1 << "/" << runs.size() << "] " << r.spec << ": " << j.inputs.size() << " references x "
        << r.layers.size() << " layers\n";
    std::ostringstream log;
    const auto res = synth::run_synth_job(j, log, err);
    r.metamers = res.metamers;
    done_metamers += res.total;
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    err << "reproduce: " << r.spec << ": " << res.passed << " of " << res.total << " passed, " << res.converged
        << " converged; " << duration(el) << " so far, about "
        << duration(el / std::max<int64_t>(1, done_metamers) * static_cast<double>(total_metamers - done_metamers))
        << " of synthesis left\n";
  }

  // Network-to-network: every model of the modality answers every passing metamer.
  data::Store store(s.db);
  const std::string key = study_key(s, refs_all);
  std::vector<std::string> alternatives;
  for (const auto& it : refs_all) {
    if (std::find(alternatives.begin(), alternatives.end(), it.category) == alternatives.end())
      alternatives.push_back(it.category);
  }
  std::sort(alternatives.begin(), alternatives.end());
  analysis::ResultInput in;
  in.experiment = "reproduce";
  in.experiment_sha256 = key;
  in.alternatives = static_cast<int>(alternatives.size());
  in.conditions.push_back({"natural", "", ""});
  for (const auto& r : runs)
    for (const auto& l : r.layers) in.conditions.push_back({label(r.spec) + "/" + l, r.spec, l});
  for (const auto& r : runs) {
    std::vector<MetamerToJudge> list;
    for (const auto& m : r.metamers) {
      if (!m.passed) continue;
      MetamerToJudge t;
      t.judgment = {key, label(r.spec) + "/" + m.layer, r.spec, m.layer, m.reference_sha256,
                    m.png_sha256.empty() ? m.wav_sha256 : m.png_sha256, m.category, 0, "", false};
      t.file = m.png_path.empty() ? m.wav_path : m.png_path;
      list.push_back(t);
    }
    for (const auto& judge : runs)
      if (judge.modality == r.modality) judge_metamer_files(store, judge.spec, s.device, list, alternatives, 64, err);
  }
  for (const auto& j : store.metamer_judgments(key)) {
    const auto model = store.model(j.model_id);
    in.network.push_back({j.generating_model, j.layer, model ? model->spec : "?", j.stimulus_sha256, j.correct});
  }
  for (const auto& r : runs) in.judging_models.push_back(r.spec);
  analysis::AnalysisOptions ao;
  ao.permutations = s.permutations;
  ao.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const analysis::AnalysisReport net = analysis::analyze(in, ao);

  // The report: synthesis per model x layer, network-to-network, and people when recorded.
  std::ostringstream md;
  md << "# The paper's experiment on the bundled models\n\n";
  md << "`" << s.command_line << "`: " << runs.size() << " models, " << refs_all.size() << " references, "
     << schedule_text(s) << " (the step halves each round), each metamer tested against its model's "
     << "bundled null distribution; time " << duration(std::chrono::duration<double>(Clock::now() - t0).count())
     << " on this machine.\n\n";
  md << "## Synthesis\n\n| model | layer | metamers | passed | converged | generating model correct | median final loss |\n"
        "|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs)
    for (const auto& l : r.layers) {
      int n = 0, passed = 0, conv = 0, own = 0;
      std::vector<double> losses;
      for (const auto& m : r.metamers) {
        if (m.layer != l) continue;
        ++n;
        passed += m.passed;
        conv += m.converged == 1;
        own += m.pred_metamer == m.category;
        losses.push_back(m.final_loss);
      }
      std::sort(losses.begin(), losses.end());
      md << "| " << label(r.spec) << " | " << l << " | " << n << " | " << passed << " | " << conv << " | " << own << " | "
         << (losses.empty() ? std::string("-") : std::to_string(losses[losses.size() / 2])) << " |\n";
    }
  const std::string text = analysis::report_text(net);
  md << "\n" << text.substr(text.find("## Network-to-network") == std::string::npos ? 0 : text.find("## Network-to-network"));
  std::vector<std::string> figures = analysis::write_report_figures(net, (fs::path(s.out_dir) / "figures").string());
  // People, when the database holds sessions.
  bool people = false;
  for (const auto& x : store.list_sessions()) people = people || x.observer.empty();
  if (people) {
    for (const auto& in_people : read_results(store, "")) {
      analysis::AnalysisOptions po = ao;
      const auto r = analysis::analyze(in_people, po);
      const std::string dir = (fs::path(s.out_dir) / "people" / in_people.experiment).string();
      const auto f = analysis::write_report_figures(r, dir);
      figures.insert(figures.end(), f.begin(), f.end());
      md << "\n" << analysis::report_text(r);
    }
  }
  md << "\n## Figures\n\n";
  for (const auto& f : figures)
    if (fs::path(f).extension() == ".png")
      md << "![" << fs::path(f).stem().string() << "](" << fs::relative(f, s.out_dir).string() << ")\n\n";
  stimuli::write_file_atomic((fs::path(s.out_dir) / "report.md").string(), md.str());
  std::vector<std::string> rel;
  for (const auto& f : figures) rel.push_back(fs::relative(f, s.out_dir).string());
  stimuli::write_file_atomic((fs::path(s.out_dir) / "report.html").string(), html_of(md.str(), rel));
  stimuli::write_file_atomic((fs::path(s.out_dir) / "network.json").string(), analysis::report_json(net));
  out << md.str();
  out << "reproduce: wrote " << s.out_dir << "/report.md, report.html, network.json and " << figures.size()
      << " figure files in " << duration(std::chrono::duration<double>(Clock::now() - t0).count()) << "\n";
  return 0;
}

// [SECTION] Command -----------------------------------------------------------------------
int cmd_reproduce(const Args& a) {
  Study s;
  s.out_dir = a.get("out");
  s.db = a.get("db").empty() ? (fs::path(s.out_dir) / "metamerlab.db").string() : a.get("db");
  s.models = a.list("model");
  if (s.models.empty()) s.models = {"zoo:emoji16-standard", "zoo:emoji16-robust", "zoo:words16-standard", "zoo:words16-robust"};
  s.references = static_cast<int>(positive(a, "references", 16));
  const std::string sched = a.get("schedule");
  const auto x = sched.find('x');
  try {
    if (x == std::string::npos || sched.find_first_not_of("0123456789x-") != std::string::npos)
      throw std::invalid_argument(sched);
    size_t steps_used = 0;
    s.iterations = std::stoll(sched.substr(0, x), &steps_used);
    if (steps_used != x) throw std::invalid_argument(sched);
    const auto dash = sched.find('-', x);
    size_t used = 0;
    s.rounds = std::stoi(sched.substr(x + 1, dash == std::string::npos ? std::string::npos : dash - x - 1), &used);
    if (used != (dash == std::string::npos ? sched.size() : dash) - x - 1) throw std::invalid_argument(sched);
    s.max_rounds = 0;
    if (dash != std::string::npos) {
      s.max_rounds = std::stoi(sched.substr(dash + 1), &used);
      if (used != sched.size() - dash - 1 || s.max_rounds < s.rounds || s.max_rounds > 1000) throw std::invalid_argument(sched);
    }
    if (s.iterations < 1 || s.rounds < 1) throw std::invalid_argument(sched);
  } catch (const std::exception&) {
    throw UsageError("reproduce: --schedule needs STEPSxROUNDS or STEPSxROUNDS-MAX (until converged, up to MAX rounds), "
                     "e.g. 500x6-10, not \"" + sched + "\"");
  }
  s.emoji16 = a.get("emoji16");
  s.words16 = a.get("words16");
  s.permutations = static_cast<int>(positive(a, "permutations", 0));
  s.device = a.get("device") == "cuda" ? synth::Device::cuda : synth::Device::cpu;
  s.command_line = a.command_line;
  return run_study(s, std::cout, std::cerr);
}

}  // namespace

CommandEntry reproduce_command() {
  return {{"reproduce",
           "the paper's pipeline on the bundled world: metamers at every layer, null tests, network-to-network, report",
           "For every layer of every bundled model (or --model): metamers of the reference set (--references per\n"
           "modality, spread over the 16 categories; default all 400), each tested against the model's bundled null\n"
           "distribution; every model of the modality judges every metamer that passed (bootstrap SEMs); the\n"
           "figures and one report (OUT/report.md, report.html). When --db holds people's sessions of the bundled\n"
           "experiments, their analysis joins the report. Progress and time left on stderr; killed and started\n"
           "again with the same command, it continues from what is recorded.",
           {{"out", "DIR", "output folder", "out/reproduce"},
            {"db", "FILE", "database (default OUT/metamerlab.db)", ""},
            {"model", "SPEC", "models (default: the four bundled)", "", false, true},
            {"references", "N", "references per modality (the reference sets hold 400)", "400"},
            {"schedule", "STEPSxROUNDS[-MAX]", "synthesis schedule (the step halves each round); with -MAX, rounds go on\n"
                                               "past ROUNDS until each metamer has converged, up to MAX", "500x6-10"},
            {"emoji16", "DIR", "emoji16 data set (its reference/ folder; built when missing)", "out/emoji16"},
            {"words16", "DIR", "words16 data set (its reference/ folder; built when missing)", "out/words16"},
            {"permutations", "N", "permutations of the people's tests", "10000"}}},
          cmd_reproduce, EngineUse::device};
}

}  // namespace mm::app
