// synth/report.cpp: `metamerlab report zoo` (see synth/report.h).
//
// Sections
//   [SECTION] References   one (or a few) per category from DATA/reference/
//   [SECTION] Experiment   synthesis per model and layer, then cross-model judgments
//   [SECTION] Output       Markdown and JSON
#include "synth/report.h"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "stimuli/stimuli.h"
#include "synth/engine.h"
#include "synth/jobs.h"

namespace mm::synth {
namespace fs = std::filesystem;

// [SECTION] References --------------------------------------------------------------------
namespace {

std::vector<std::string> references(const std::string& data_dir, const std::string& set, stimuli::Modality mod,
                                    int per_category) {
  const fs::path ref = fs::path(data_dir) / "reference";
  if (!fs::is_directory(ref))
    throw std::runtime_error(ref.string() + ": no reference set; build it with `metamerlab dataset --out " + data_dir +
                             " " + set + "` (or pass --" + set + " DIR)");
  auto items = stimuli::list_stimuli({ref.string()}, mod);
  std::map<std::string, int> taken;
  std::vector<std::string> files;
  for (const auto& it : items)
    if (taken[it.category]++ < per_category) files.push_back(it.path);
  return files;
}

std::string pct(int k, int n) {
  if (n == 0) return "–";
  std::ostringstream s;
  s << std::fixed << std::setprecision(0) << 100.0 * k / n << "%";
  return s.str();
}

}  // namespace

// [SECTION] Experiment --------------------------------------------------------------------
std::vector<ZooReportRow> run_zoo_report(const ZooReportJob& job, std::ostream& out, std::ostream& err) {
  std::vector<std::string> models = job.models;
  if (models.empty())
    models = {"zoo:emoji16-standard", "zoo:emoji16-robust", "zoo:words16-standard", "zoo:words16-robust"};
  std::vector<std::string> layers = job.layers;
  if (layers.empty()) layers = {"conv1", "stage1", "stage2", "stage3", "logits"};
  if (job.per_category < 1) throw std::runtime_error("--per-category must be at least 1");
  const std::string db = job.db.empty() ? (fs::path(job.out_dir) / "metamerlab.db").string() : job.db;
  stimuli::ensure_writable_dir(job.out_dir);

  // Open every model first: a missing weights file or layer fails before any work.
  std::vector<ModelHandle> handles;
  for (const auto& spec : models) {
    handles.push_back(ModelHandle::open(spec, job.device));
    handles.back().check_layers(layers);
  }

  std::vector<ZooReportRow> rows;
  for (size_t mi = 0; mi < models.size(); ++mi) {
    const ModelInfo& info = handles[mi].info();
    const bool audio = info.modality == "audio";
    const auto mod = audio ? stimuli::Modality::audio : stimuli::Modality::image;
    const std::string data_dir = audio ? job.words16_dir : job.emoji16_dir;
    const std::string set = audio ? "words16" : "emoji16";

    SynthJob sj;
    sj.model = models[mi];
    sj.layers = layers;
    sj.inputs = references(data_dir, set, mod, job.per_category);
    // The null: the model's bundled one (many held-out stimuli, 10^6 pairs), else the
    // reference set (synth warns that it is small).
    sj.out_dir = (fs::path(job.out_dir) / fs::path(models[mi].substr(models[mi].rfind(':') + 1)).filename()).string();
    sj.db = db;
    sj.opt.iterations = job.iterations;
    sj.opt.rounds = job.rounds;
    sj.opt.max_rounds = job.max_rounds;
    sj.batch = static_cast<int>(std::min<size_t>(16, sj.inputs.size()));
    sj.null_pairs = job.null_pairs;
    sj.command_line = job.command_line;
    out << "== " << models[mi] << ": " << sj.inputs.size() << " references x " << layers.size() << " layers\n";
    SynthJobResult r = run_synth_job(sj, out, err);

    // The other models of the same modality.
    std::vector<size_t> others;
    for (size_t oi = 0; oi < models.size(); ++oi)
      if (oi != mi && handles[oi].info().modality == info.modality) others.push_back(oi);

    for (const auto& layer : layers) {
      ZooReportRow row;
      row.model = models[mi];
      row.layer = layer;
      for (size_t oi : others) row.others.push_back(models[oi]);
      row.other_correct.assign(others.size(), 0);
      std::vector<std::string> passed_files, passed_cats;
      for (const auto& m : r.metamers) {
        if (m.layer != layer) continue;
        ++row.total;
        row.own_correct += m.pred_metamer == m.category;
        if (!m.passed) continue;
        ++row.passed;
        passed_files.push_back(audio ? m.wav_path : m.png_path);
        passed_cats.push_back(m.category);
      }
      for (size_t k = 0; k < others.size(); ++k) {
        const ModelHandle& o = handles[others[k]];
        std::vector<stimuli::Array> xs;
        for (const auto& f : passed_files) xs.push_back(o.load_stimulus(f));
        auto preds = o.classify(xs);
        for (size_t i = 0; i < preds.size(); ++i) row.other_correct[k] += preds[i].label == passed_cats[i];
      }
      rows.push_back(row);
    }
  }

  // [SECTION] Output ----------------------------------------------------------------------
  const std::string md = zoo_report_markdown(rows);
  stimuli::write_file_atomic((fs::path(job.out_dir) / "report.md").string(), md);
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json o;
    for (size_t k = 0; k < r.others.size(); ++k) o[r.others[k]] = r.other_correct[k];
    j.push_back({{"model", r.model}, {"layer", r.layer}, {"total", r.total}, {"passed", r.passed},
                 {"own_correct", r.own_correct}, {"other_correct_of_passed", o}});
  }
  nlohmann::json doc = {{"iterations", job.iterations}, {"rounds", job.rounds}, {"max_rounds", job.max_rounds}, {"null_pairs", job.null_pairs},
                        {"per_category", job.per_category}, {"program_version", program_version()}, {"rows", j}};
  stimuli::write_file_atomic((fs::path(job.out_dir) / "report.json").string(), doc.dump(2) + "\n");
  out << "\n" << md << "\nwrote " << (fs::path(job.out_dir) / "report.md").string() << " and report.json; metamers and provenance in " << db << "\n";
  return rows;
}

std::string zoo_report_markdown(const std::vector<ZooReportRow>& rows) {
  std::ostringstream s;
  s << "| model | layer | passed the null test | generating model's accuracy (all) | other models' accuracy (passed) |\n"
       "|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    std::string others;
    for (size_t k = 0; k < r.others.size(); ++k) {
      others += (others.empty() ? "" : ", ") + r.others[k] + " " + pct(r.other_correct[k], r.passed);
    }
    if (r.others.empty()) others = "(no other model of this modality)";
    s << "| " << r.model << " | " << r.layer << " | " << r.passed << "/" << r.total << " | "
      << pct(r.own_correct, r.total) << " | " << others << " |\n";
  }
  s << "\nChance is 1/16 (6%). Other models classify only the metamers that passed the generating model's null "
       "test (– when none passed).\n";
  return s.str();
}

}  // namespace mm::synth
