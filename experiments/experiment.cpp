// experiments/experiment.cpp: reading an experiment file (TOML, with toml++) into the
// Experiment structs: every table and key checked (unknown keys are errors, with a "did
// you mean"), every value typed and ranged, every error located at FILE:LINE with a fix.
//
// Sections
//   [SECTION] Errors and names   ExperimentError, located, enum names, Experiment look-ups
//   [SECTION] Table reader       Tab: typed, located access to one TOML table
//   [SECTION] Sections           [experiment] [responses] [timing] [images] [audio]
//   [SECTION] Sets and metamers  [sets.NAME] and [[metamers]]
//   [SECTION] Blocks             [[blocks]] of every kind
//   [SECTION] load_experiment    parse, then list sets and resolve metamers
#include "experiments/experiment.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/sha256.h"
#include "experiments/internal.h"
#include "experiments/toml_table.h"

namespace fs = std::filesystem;

namespace mm::experiments {

// [SECTION] Errors and names --------------------------------------------------------------
std::string located(const std::string& file, int line, const std::string& message) {
  if (file.empty()) return message;
  return file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + message;
}

ExperimentError::ExperimentError(std::string f, int l, const std::string& m)
    : std::runtime_error(located(f, l, m)), file(std::move(f)), line(l), message(m) {}

const char* modality_name(Modality m) { return m == Modality::image ? "image" : "audio"; }

const char* scaling_name(Scaling s) {
  switch (s) {
    case Scaling::automatic: return "automatic";
    case Scaling::nearest: return "nearest";
    case Scaling::linear: return "linear";
    case Scaling::none: return "none";
  }
  return "?";
}

double AudioPolicy::rms() const { return std::pow(10.0, rms_dbfs / 20.0); }

const char* block_kind_name(BlockKind k) {
  switch (k) {
    case BlockKind::instructions: return "instructions";
    case BlockKind::practice: return "practice";
    case BlockKind::demo: return "demo";
    case BlockKind::main: return "main";
    case BlockKind::catch_trials: return "catch";
    case BlockKind::pause: return "break";
    case BlockKind::debrief: return "debrief";
    case BlockKind::headphone_check: return "headphone_check";
  }
  return "?";
}

const StimulusSet* Experiment::find_set(const std::string& n) const {
  for (const auto& s : sets)
    if (s.name == n) return &s;
  return nullptr;
}

const Condition* Experiment::find_condition(const std::string& n) const {
  for (const auto& c : conditions)
    if (c.name == n) return &c;
  return nullptr;
}

const Alternative* Experiment::find_alternative(const std::string& n) const {
  for (const auto& a : alternatives)
    if (a.name == n) return &a;
  return nullptr;
}

namespace {

using detail::fail_at;
using detail::join;
using detail::resolve_path;

// [SECTION] Table reader ------------------------------------------------------------------
// Tab and its helpers live in experiments/toml_table.h (shared with station.cpp).
using detail::line_of;
using detail::Tab;
using detail::type_name;

// Screen text: text = "..." or file = "relative/path.txt" (read now).
std::string read_text(const Tab& t, const std::string& dir) {
  if (t.has("text") && t.has("file"))
    t.fail("file", t.where() + " has both text and file; keep one");
  if (!t.has("file")) return t.str("text");
  const std::string p = resolve_path(dir, t.str("file"));
  std::ifstream f(p, std::ios::binary);
  if (!f) t.fail("file", t.where() + " file " + p + " cannot be read; check the path (relative to the experiment file)");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// [SECTION] Sections ----------------------------------------------------------------------
void parse_experiment_table(const toml::table& root, const std::string& file, Experiment& e) {
  const toml::table* t = root["experiment"].as_table();
  if (!t) {
    if (root.contains("experiment"))
      fail_at(file, line_of(*root.get("experiment")), "experiment must be a table: [experiment]");
    fail_at(file, 1, "missing [experiment] table; start the file with [experiment] name = \"...\" modality = \"image\"");
  }
  Tab x(*t, "[experiment]", file, {"name", "description", "modality", "seed"});
  e.lines["experiment"] = x.line();
  e.name = x.required_str("name", "\"my-experiment\"");
  e.description = x.str("description");
  const std::string m = x.required_str("modality", "\"image\" or \"audio\"");
  if (m == "image") e.modality = Modality::image;
  else if (m == "audio") e.modality = Modality::audio;
  else x.fail("modality", "[experiment] modality must be \"image\" or \"audio\", not \"" + m + "\"");
  e.seed = static_cast<uint64_t>(x.integer("seed", 0, 0, INT64_MAX));
}

const char* const kIconExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"};

void parse_responses(const toml::table& root, const std::string& file, Experiment& e) {
  const toml::table* t = root["responses"].as_table();
  if (!t)
    fail_at(file, root.contains("responses") ? line_of(*root.get("responses")) : 1,
            "missing [responses] table; add [responses] alternatives = [\"cat\", \"dog\", ...]");
  Tab r(*t, "[responses]", file, {"alternatives", "words_file", "icons"});
  e.lines["responses"] = r.line();
  std::vector<int> lines;
  std::vector<std::string> names = r.strings("alternatives", &lines);
  if (r.has("words_file")) {
    if (r.has("alternatives")) r.fail("words_file", "[responses] has both alternatives and words_file; keep one");
    const std::string p = resolve_path(e.dir, r.str("words_file"));
    std::ifstream f(p);
    if (!f) r.fail("words_file", "[responses] words_file " + p + " cannot be read; check the path (relative to the experiment file)");
    std::string w;
    while (std::getline(f, w)) {
      while (!w.empty() && (w.back() == '\r' || w.back() == ' ' || w.back() == '\t')) w.pop_back();
      size_t b = w.find_first_not_of(" \t");
      if (b == std::string::npos || w[b] == '#') continue;
      names.push_back(w.substr(b));
      lines.push_back(r.line("words_file"));
    }
  }
  if (names.empty())
    r.fail_here("[responses] needs alternatives = [\"...\", ...] (or words_file = \"words.txt\" for audio)");
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) fail_at(file, lines[i], "[responses] an alternative is empty; remove it");
    if (!seen.insert(names[i]).second)
      fail_at(file, lines[i], "[responses] alternative \"" + names[i] + "\" is listed twice; remove one");
    e.alternatives.push_back({names[i], "", {file, lines[i]}});
  }
  if (names.size() < 2) r.fail_here("[responses] needs at least two alternatives");

  if (e.modality == Modality::audio) {
    if (r.has("icons")) r.fail("icons", "[responses] icons are for image experiments; remove them (audio responses are words)");
    return;
  }
  if (!r.has("icons"))
    r.fail_here("[responses] needs icons = \"FOLDER\" (holding <alternative>.png) or a [responses.icons] table");
  const toml::node* n = r.node("icons");
  if (n->is_string()) {
    const std::string folder = resolve_path(e.dir, **n->as_string());
    if (!fs::is_directory(folder))
      r.fail("icons", "[responses] icons folder " + folder + " does not exist; check the path (relative to the experiment file)");
    for (auto& a : e.alternatives) {
      for (const char* ext : kIconExtensions) {
        fs::path p = fs::path(folder) / (a.name + ext);
        if (fs::is_regular_file(p)) {
          a.icon = p.string();
          break;
        }
      }
      if (a.icon.empty())
        r.fail("icons", "[responses] no icon for \"" + a.name + "\" in " + folder + " (looked for " + a.name +
                            ".png, .jpg, ...); add one or list icons in a [responses.icons] table");
      a.where = r.at("icons");
    }
  } else if (n->is_table()) {
    const toml::table& it = *n->as_table();
    std::vector<std::string> allowed;
    for (const auto& a : e.alternatives) allowed.push_back(a.name);
    Tab icons(it, "[responses.icons]", file, allowed, r.line("icons"),
              "every key must be one of the alternatives: " + join(allowed));
    for (auto& a : e.alternatives) {
      if (!icons.has(a.name))
        icons.fail_here("[responses.icons] has no icon for \"" + a.name + "\"; add " + a.name + " = \"icons/" + a.name + ".png\"");
      a.icon = resolve_path(e.dir, icons.str(a.name));
      a.where = icons.at(a.name);
      if (!fs::is_regular_file(a.icon))
        icons.fail(a.name, "[responses.icons] icon " + a.icon + " for \"" + a.name +
                               "\" does not exist; check the path (relative to the experiment file)");
    }
  } else {
    r.wrong_type("icons", "a folder name or a table of alternative = \"file\"");
  }
}

// Reads timing keys from `t` into `out`, recording their lines under `prefix`.
void parse_timing(const Tab& t, Modality m, Timing& out, std::map<std::string, int>& lines,
                  const std::string& prefix) {
  const int64_t kMax = 3600000;
  auto one = [&](const char* k, int& v) {
    if (!t.has(k)) return;
    v = static_cast<int>(t.integer(k, v, 0, kMax));
    lines[prefix + k] = t.line(k);
  };
  if (m == Modality::audio) {
    if (t.has("stimulus"))
      t.fail("stimulus", t.where() + " stimulus: in an audio experiment the stimulus phase is the clip; remove it and set [audio] clip_ms");
    if (t.has("mask") && t.integer("mask", 0, 0, kMax) != 0)
      t.fail("mask", t.where() + " mask: audio trials have no mask; remove it");
  }
  one("fixation", out.fixation_ms);
  one("stimulus", out.stimulus_ms);
  one("mask", out.mask_ms);
  one("response", out.response_ms);
  one("iti", out.iti_ms);
}

const std::vector<std::string> kTimingKeys = {"fixation", "stimulus", "mask", "response", "iti"};

void parse_presentation(const toml::table& root, const std::string& file, Experiment& e) {
  if (e.modality == Modality::audio) {
    e.timing.mask_ms = 0;
    e.timing.stimulus_ms = e.audio.clip_ms;
  }
  if (const toml::node* n = root.get("audio")) {
    if (!n->is_table()) fail_at(file, line_of(*n), "audio must be a table: [audio]");
    Tab a(*n->as_table(), "[audio]", file, {"sample_rate", "clip_ms", "rms_dbfs"});
    if (e.modality != Modality::audio) a.fail_here("[audio] is for audio experiments; remove it or set modality = \"audio\"");
    e.lines["audio"] = a.line();
    e.audio.sample_rate = static_cast<int>(a.integer("sample_rate", e.audio.sample_rate, 8000, 192000));
    e.audio.clip_ms = static_cast<int>(a.integer("clip_ms", e.audio.clip_ms, 1, 600000));
    e.audio.rms_dbfs = a.number("rms_dbfs", e.audio.rms_dbfs, -80, -3, "dBFS (the clips' RMS; -20 is 0.1)");
    if (a.has("rms_dbfs")) e.lines["audio.rms_dbfs"] = a.line("rms_dbfs");
    e.timing.stimulus_ms = e.audio.clip_ms;
  }
  if (const toml::node* n = root.get("images")) {
    if (!n->is_table()) fail_at(file, line_of(*n), "images must be a table: [images]");
    Tab i(*n->as_table(), "[images]", file, {"size", "size_deg", "fit", "scaling"});
    if (e.modality != Modality::image) i.fail_here("[images] is for image experiments; remove it or set modality = \"image\"");
    e.lines["images"] = i.line();
    for (const char* key : {"size", "size_deg", "fit", "scaling"})
      if (i.has(key)) e.lines[std::string("images.") + key] = i.line(key);
    e.images.size = static_cast<int>(i.integer("size", 0, 1, 16384));
    e.images.size_deg = i.number("size_deg", 0, 0.01, 170, "degrees of visual angle");
    if (i.has("size") && i.has("size_deg"))
      i.fail("size_deg", "[images] has both size (pixels) and size_deg (degrees); keep one");
    e.images.fit = i.boolean("fit", false);
    if (i.has("scaling")) {
      const std::string m = i.str("scaling");
      if (m == "nearest") e.images.scaling = Scaling::nearest;
      else if (m == "linear") e.images.scaling = Scaling::linear;
      else if (m == "none") e.images.scaling = Scaling::none;
      else if (m == "automatic") e.images.scaling = Scaling::automatic;
      else
        i.fail("scaling", "[images] scaling must be \"nearest\" (exact pixel blocks), \"linear\" (filtered) or \"none\" "
                          "(their own size), not \"" + m + "\"");
    }
    const bool box = e.images.size > 0 || e.images.size_deg > 0;
    if (e.images.scaling == Scaling::none && box)
      i.fail(i.has("size") ? "size" : "size_deg", std::string("[images] scaling = \"none\" shows stimuli at their own size; remove ") +
                                                     (i.has("size") ? "size" : "size_deg") +
                                                     " or choose scaling = \"nearest\" or \"linear\"");
    if (e.images.fit && !box)
      i.fail("fit", "[images] fit = true needs size = N (the box, in pixels, each image is scaled to fit) or size_deg = D");
  }
  if (const toml::node* n = root.get("timing")) {
    if (!n->is_table()) fail_at(file, line_of(*n), "timing must be a table: [timing]");
    Tab t(*n->as_table(), "[timing]", file, kTimingKeys);
    e.lines["timing"] = t.line();
    parse_timing(t, e.modality, e.timing, e.lines, "timing.");
  }
  if (const toml::node* n = root.get("analysis")) {
    if (!n->is_table()) fail_at(file, line_of(*n), "analysis must be a table: [analysis]");
    Tab a(*n->as_table(), "[analysis]", file, {"judges", "exclude_catch_below"});
    e.lines["analysis"] = a.line();
    e.analysis.judges = a.strings("judges");
    for (const auto& j : e.analysis.judges)
      if (j.empty()) a.fail("judges", "[analysis] judges holds an empty model name; give zoo:NAME or a model file");
    if (const toml::node* x = a.node("exclude_catch_below")) {
      if (!x->is_number()) a.wrong_type("exclude_catch_below", "a number between 0 and 1");
      const double v = x->is_integer() ? static_cast<double>(**x->as_integer()) : **x->as_floating_point();
      if (!(v >= 0 && v <= 1))
        a.fail("exclude_catch_below", "[analysis] exclude_catch_below must be between 0 and 1 (a proportion correct)");
      e.analysis.exclude_catch_below = v;
    }
  }
  if (e.modality == Modality::image && e.timing.stimulus_ms == 0)
    fail_at(file, e.lines.count("timing.stimulus") ? e.lines["timing.stimulus"] : 1,
            "[timing] stimulus = 0: an image must be shown for some time; give its duration in ms");
}

// [SECTION] Sets and metamers -------------------------------------------------------------
void parse_sets(const toml::table& root, const std::string& file, Experiment& e) {
  const toml::node* n = root.get("sets");
  if (!n) return;
  if (!n->is_table()) fail_at(file, line_of(*n), "sets must be a table of named sets: [sets.NAME] folders = [...]");
  for (const auto& [k, v] : *n->as_table()) {
    const std::string name(k.str());
    const std::string where = "[sets." + name + "]";
    if (!v.is_table()) fail_at(file, line_of(v), where + " must be a table: [sets." + name + "] folders = [...]");
    Tab s(*v.as_table(), where, file, {"folders", "include", "exclude", "table"},
          static_cast<int>(k.source().begin.line));
    StimulusSet set;
    set.name = name;
    set.where = s.at();
    for (const char* key : {"folders", "include", "exclude", "table"})
      if (s.has(key)) set.lines[key] = s.line(key);
    for (const auto& f : s.strings("folders")) set.folders.push_back(resolve_path(e.dir, f));
    set.include = s.strings("include");
    set.exclude = s.strings("exclude");
    if (s.has("table")) set.table = resolve_path(e.dir, s.str("table"));
    if (set.folders.empty() == set.table.empty())
      s.fail_here(where + " needs either folders = [\"DIR\", ...] (ImageFolder layout DIR/<category>/<file>) or table = \"FILE.csv\"");
    if (!set.table.empty() && (s.has("include") || s.has("exclude")))
      s.fail(s.has("include") ? "include" : "exclude", where + " include/exclude filter folders; a table lists its files already");
    e.sets.push_back(std::move(set));
  }
  // TOML tables are unordered: keep the file's order for messages and summaries.
  std::stable_sort(e.sets.begin(), e.sets.end(),
                   [](const StimulusSet& a, const StimulusSet& b) { return a.where.line < b.where.line; });
}

std::string default_label(const std::string& model) {
  if (model.rfind("zoo:", 0) == 0) return model.substr(4);
  return fs::path(model).stem().string();
}

void parse_metamers(const toml::table& root, const std::string& file, const LoadOptions& opt,
                    Experiment& e) {
  const toml::node* n = root.get("metamers");
  if (!n) return;
  if (!n->is_array_of_tables())
    fail_at(file, line_of(*n), "metamers must be an array of tables: [[metamers]] model = \"...\" layers = [...]");
  int k = 0;
  for (const toml::node& v : *n->as_array()) {
    ++k;
    const std::string where = "[[metamers]] #" + std::to_string(k);
    Tab m(*v.as_table(), where, file,
          {"model", "model_sha256", "label", "layers", "database", "folder", "table", "assume_passed", "generate",
           "iterations", "rounds", "max_rounds", "step", "optimizer", "loss", "seed", "null_set", "retries", "when_late"},
          line_of(*n));
    MetamerSource s;
    s.where = m.at();
    s.model = m.required_str("model", "\"zoo:NAME\" or \"path/to/model.pt\"");
    s.model_sha256 = m.str("model_sha256");
    s.label = m.has("label") ? m.str("label") : default_label(s.model);
    if (s.label.empty() || s.label.find('/') != std::string::npos || s.label == "natural" || s.label == "catch")
      m.fail(m.has("label") ? "label" : "model",
             where + " label \"" + s.label + "\" cannot name conditions (empty, holds '/', or reserved); set label = \"short-name\"");
    for (const char* key : {"model", "model_sha256", "label", "layers", "database", "folder", "table", "assume_passed"})
      if (m.has(key)) s.lines[key] = m.line(key);
    std::vector<int> lines;
    s.layers = m.strings("layers", &lines);
    if (s.layers.empty()) m.fail_here(where + " needs layers = [\"layer\", ...] (one condition per layer)");
    for (size_t i = 0; i < s.layers.size(); ++i) {
      if (s.lines.count("layer:" + s.layers[i]))
        fail_at(file, lines[i], where + " layer \"" + s.layers[i] + "\" is listed twice; remove one");
      s.lines["layer:" + s.layers[i]] = lines[i];
    }
    const std::string generate = m.str("generate", "ahead");
    if (generate != "ahead" && generate != "live")
      m.fail("generate", where + " generate must be \"live\" (made during the session) or \"ahead\" (the default)");
    s.live = generate == "live";
    for (const char* key : {"generate", "iterations", "rounds", "max_rounds", "step", "optimizer", "loss", "seed", "null_set", "retries", "when_late"})
      if (m.has(key)) s.lines[key] = m.line(key);
    if (s.live) {
      for (const char* key : {"database", "folder", "table", "assume_passed"})
        if (m.has(key)) m.fail(key, where + " " + key + " is for metamers made ahead; a live source makes its own (remove it)");
      LiveSettings& ls = s.live_settings;
      ls.iterations = m.integer("iterations", ls.iterations, 1, 1000000);
      ls.rounds = static_cast<int>(m.integer("rounds", ls.rounds, 1, 64));
      ls.max_rounds = static_cast<int>(m.integer("max_rounds", ls.max_rounds, 0, 1000));
      if (ls.max_rounds != 0 && ls.max_rounds < ls.rounds)
        m.fail("max_rounds", where + " max_rounds (" + std::to_string(ls.max_rounds) + ") is below rounds (" +
                                 std::to_string(ls.rounds) + "); give more than rounds to go on until converged, or 0");
      if (const toml::node* x = m.node("step")) {
        if (!x->is_number()) m.wrong_type("step", "a positive number");
        ls.step = x->is_integer() ? static_cast<double>(**x->as_integer()) : **x->as_floating_point();
        if (!(ls.step > 0)) m.fail("step", where + " step must be positive");
      }
      ls.optimizer = m.str("optimizer", ls.optimizer);
      if (ls.optimizer != "gd" && ls.optimizer != "adam") m.fail("optimizer", where + " optimizer must be \"gd\" or \"adam\"");
      ls.loss = m.str("loss", ls.loss);
      if (ls.loss != "l2norm" && ls.loss != "mse") m.fail("loss", where + " loss must be \"l2norm\" or \"mse\"");
      if (const toml::node* x = m.node("seed")) {
        if (x->is_string()) {
          if (**x->as_string() != "participant")
            m.fail("seed", where + " seed must be \"participant\" (from the participant and reference) or a whole number");
        } else if (x->is_integer() && **x->as_integer() >= 0) {
          ls.participant_seed = false;
          ls.seed = static_cast<uint64_t>(**x->as_integer());
        } else {
          m.wrong_type("seed", "\"participant\" or a whole number of 0 or more");
        }
      }
      ls.null_set = m.str("null_set");
      if (!ls.null_set.empty() && !e.find_set(ls.null_set))
        m.fail("null_set", where + " null_set \"" + ls.null_set + "\" is not a [sets.NAME] of this file; declare it or "
                           "leave null_set out (the model's bundled null)");
      ls.retries = static_cast<int>(m.integer("retries", ls.retries, 0, 20));
      ls.when_late = m.str("when_late", ls.when_late);
      if (ls.when_late != "wait" && ls.when_late != "reorder")
        m.fail("when_late", where + " when_late must be \"wait\" (a preparing screen) or \"reorder\" (a ready trial first)");
    } else {
      for (const char* key : {"iterations", "rounds", "max_rounds", "step", "optimizer", "loss", "seed", "null_set", "retries", "when_late"})
        if (m.has(key)) m.fail(key, where + " " + key + " is a setting of live generation; add generate = \"live\" or remove it");
    }
    if (m.has("database")) s.database = resolve_path(e.dir, m.str("database"));
    if (m.has("folder")) s.folder = resolve_path(e.dir, m.str("folder"));
    if (m.has("table")) s.table = resolve_path(e.dir, m.str("table"));
    s.assume_passed = m.boolean("assume_passed", false);
    if (!s.table.empty() && (!s.database.empty() || !s.folder.empty()))
      m.fail("table", where + " table lists the metamer files itself; remove database/folder (or the table)");
    if (!s.live && s.database.empty() && s.folder.empty() && s.table.empty()) {
      if (opt.default_database.empty())
        m.fail_here(where + " needs database = \"FILE.db\", folder = \"DIR\" or table = \"FILE.csv\" (or pass --db)");
      s.database = fs::absolute(opt.default_database).lexically_normal().string();
      s.lines["database"] = m.line();
    }
    if (!s.database.empty() && s.assume_passed)
      m.fail("assume_passed", where + " assume_passed is for folders/tables without a database; the database says which metamers passed");
    for (const auto& l : s.layers) {
      Condition c;
      c.name = s.label + "/" + l;
      c.natural = false;
      c.model = s.model;
      c.model_sha256 = s.model_sha256;
      c.layer = l;
      c.source = static_cast<int>(e.sources.size());
      if (e.find_condition(c.name))
        fail_at(file, s.lines["layer:" + l], where + " condition \"" + c.name + "\" is declared twice; give this entry another label");
      e.conditions.push_back(c);
    }
    e.sources.push_back(std::move(s));
  }
}

// [SECTION] Blocks ------------------------------------------------------------------------
struct KindKeys {
  BlockKind kind;
  const char* name;
  std::vector<std::string> keys;
};

const std::vector<KindKeys>& kind_table() {
  static const std::vector<std::string> screen = {"kind", "name", "text", "file"};
  static const std::vector<KindKeys> t = {
      {BlockKind::instructions, "instructions", screen},
      {BlockKind::pause, "break", screen},
      {BlockKind::debrief, "debrief", screen},
      {BlockKind::practice, "practice",
       {"kind", "name", "text", "file", "set", "trials", "feedback", "timing", "break_every", "break_text"}},
      {BlockKind::demo, "demo",
       {"kind", "name", "text", "file", "set", "trials", "feedback", "timing", "break_every", "break_text",
        "pass_min_correct", "fail_text"}},
      {BlockKind::main, "main",
       {"kind", "name", "text", "file", "set", "conditions", "max_run", "catch", "catch_set", "feedback", "timing",
        "break_every", "break_text"}},
      {BlockKind::catch_trials, "catch", {"kind", "name", "text", "file", "set", "trials", "feedback", "timing"}},
      {BlockKind::headphone_check, "headphone_check", {"kind", "name", "text", "file", "fail_text"}},
  };
  return t;
}

// "max_run is used by main blocks" for a key another kind takes.
std::string other_kinds_hint(const std::string& kind) {
  std::string s = "keys of a " + kind + " block: ";
  for (const auto& k : kind_table())
    if (kind == k.name) s += join(k.keys, 40);
  return s;
}

void parse_blocks(const toml::table& root, const std::string& file, Experiment& e) {
  const toml::node* n = root.get("blocks");
  if (!n) fail_at(file, 1, "no [[blocks]]; add at least one, e.g. [[blocks]] kind = \"main\" set = \"references\"");
  if (!n->is_array_of_tables())
    fail_at(file, line_of(*n), "blocks must be an array of tables: [[blocks]] kind = \"...\"");
  int k = 0;
  for (const toml::node& v : *n->as_array()) {
    ++k;
    const toml::table& bt = *v.as_table();
    const int header_line = line_of(bt) > 0 ? line_of(bt) : line_of(*n);
    const std::string where0 = "[[blocks]] #" + std::to_string(k);
    const toml::node* kn = bt.get("kind");
    if (!kn || !kn->is_string())
      fail_at(file, kn ? line_of(*kn) : header_line,
              where0 + " needs kind = \"instructions\", \"practice\", \"demo\", \"main\", \"catch\", \"break\", \"debrief\" or \"headphone_check\"");
    const std::string kind = **kn->as_string();
    const KindKeys* kk = nullptr;
    for (const auto& x : kind_table())
      if (kind == x.name) kk = &x;
    if (!kk)
      fail_at(file, line_of(*kn), where0 + " kind \"" + kind +
                                      "\" is not one of instructions, practice, demo, main, catch, break, debrief, headphone_check");
    const std::string where = where0 + " (" + kind + ")";
    Tab b(bt, where, file, kk->keys, header_line, other_kinds_hint(kind));
    Block blk;
    blk.kind = kk->kind;
    blk.where = b.at();
    blk.name = b.str("name", kind);
    for (const auto& key : kk->keys)
      if (b.has(key)) blk.lines[key] = b.line(key);
    blk.text = read_text(b, e.dir);
    const bool trial_block = blk.kind == BlockKind::practice || blk.kind == BlockKind::demo ||
                             blk.kind == BlockKind::main || blk.kind == BlockKind::catch_trials;
    if (blk.kind == BlockKind::instructions && blk.text.empty())
      b.fail_here(where + " needs text = \"...\" or file = \"instructions.txt\"");
    if (blk.kind == BlockKind::pause && blk.text.empty()) blk.text = "Take a short break. Continue when you are ready.";
    if (blk.kind == BlockKind::debrief && blk.text.empty()) blk.text = "Thank you for taking part!";
    if (blk.kind == BlockKind::headphone_check) {
      if (e.modality != Modality::audio)
        fail_at(file, line_of(*kn), where + " the headphone check plays tones: it is for audio experiments; remove "
                                            "the block or set modality = \"audio\"");
      if (blk.text.empty())
        blk.text = "Headphone check: each trial plays three tones. Pick the QUIETEST one (1, 2 or 3).";
      blk.trials = kHeadphoneTrials;
      blk.pass_min_correct = kHeadphonePassCorrect;
      blk.fail_text = b.str("fail_text", "Thank you for taking part. This task needs headphones; the session ends here.");
      blk.timing = e.timing;
      e.blocks.push_back(std::move(blk));
      continue;
    }
    if (!trial_block) {
      e.blocks.push_back(std::move(blk));
      continue;
    }
    blk.set = b.str("set");
    const bool needs_set = blk.kind != BlockKind::catch_trials || e.modality == Modality::audio;
    if (needs_set && blk.set.empty())
      b.fail_here(where + " needs set = \"NAME\" (one of the [sets.NAME] tables" +
                  (blk.kind == BlockKind::catch_trials ? std::string(": audio catch trials play clear clips)") : ")"));
    if (blk.kind == BlockKind::catch_trials && e.modality == Modality::image && !blk.set.empty())
      b.fail("set", where + " image catch trials show the alternatives' icons; remove set");
    if (!blk.set.empty() && !e.find_set(blk.set)) {
      std::vector<std::string> names;
      for (const auto& s : e.sets) names.push_back(s.name);
      b.fail("set", where + " set \"" + blk.set + "\" is not defined; define [sets." + blk.set + "]" +
                        (names.empty() ? std::string() : " or use one of: " + join(names)));
    }
    blk.trials = static_cast<int>(b.integer("trials", -1, 1, 1000000));
    blk.feedback = b.boolean("feedback", blk.kind == BlockKind::practice);
    blk.break_every = static_cast<int>(b.integer("break_every", 0, 0, 1000000));
    blk.break_text = b.str("break_text", "Take a short break. Continue when you are ready.");
    blk.max_run = static_cast<int>(b.integer("max_run", 0, 0, 1000000));
    blk.catch_trials = static_cast<int>(b.integer("catch", 0, 0, 1000000));
    blk.catch_set = b.str("catch_set");
    if (!blk.catch_set.empty() && !e.find_set(blk.catch_set))
      b.fail("catch_set", where + " catch_set \"" + blk.catch_set + "\" is not defined; define [sets." + blk.catch_set + "]");
    if (blk.catch_trials > 0 && e.modality == Modality::audio && blk.catch_set.empty())
      b.fail("catch", where + " audio catch trials play clear clips: add catch_set = \"NAME\" (a [sets.NAME] of clips)");
    if (blk.kind == BlockKind::demo) {
      if (!b.has("pass_min_correct"))
        b.fail_here(where + " needs pass_min_correct = N (correct answers needed to continue)");
      blk.pass_min_correct = static_cast<int>(b.integer("pass_min_correct", 0, 0, 1000000));
      if (blk.trials > 0 && blk.pass_min_correct > blk.trials)
        b.fail("pass_min_correct", where + " pass_min_correct = " + std::to_string(blk.pass_min_correct) +
                                       " is more than its " + std::to_string(blk.trials) + " trials; lower it");
      blk.fail_text = b.str("fail_text", "Thank you for your time. The session ends here.");
    }
    if (blk.kind == BlockKind::main) {
      std::vector<int> lines;
      blk.conditions = b.strings("conditions", &lines);
      for (size_t i = 0; i < blk.conditions.size(); ++i) {
        if (!e.find_condition(blk.conditions[i])) {
          std::vector<std::string> names;
          for (const auto& c : e.conditions) names.push_back(c.name);
          fail_at(file, lines[i], where + " condition \"" + blk.conditions[i] +
                                      "\" is not declared; use one of: " + join(names, 40));
        }
        if (std::count(blk.conditions.begin(), blk.conditions.end(), blk.conditions[i]) > 1)
          fail_at(file, lines[i], where + " condition \"" + blk.conditions[i] + "\" is listed twice; remove one");
      }
      if (b.has("conditions") && blk.conditions.empty())
        b.fail("conditions", where + " conditions is empty; list some or remove the key (all conditions)");
    }
    blk.timing = e.timing;
    if (const toml::table* tt = b.table("timing")) {
      Tab t(*tt, where + " timing", file, kTimingKeys, b.line("timing"));
      parse_timing(t, e.modality, blk.timing, blk.lines, "timing.");
      if (e.modality == Modality::image && blk.timing.stimulus_ms == 0)
        t.fail("stimulus", where + " timing stimulus = 0: an image must be shown for some time");
    }
    e.blocks.push_back(std::move(blk));
  }
  bool any_trials = false;
  for (const auto& b : e.blocks)
    any_trials |= b.kind == BlockKind::practice || b.kind == BlockKind::demo || b.kind == BlockKind::main ||
                  b.kind == BlockKind::catch_trials;
  if (!any_trials) fail_at(file, line_of(*n), "no trial blocks; add a [[blocks]] kind = \"main\" (or practice, demo, catch)");
}

}  // namespace

// [SECTION] load_experiment ---------------------------------------------------------------
namespace {

// Everything after the TOML is parsed: the tables, then the sets listed and metamers resolved.
Experiment load_parsed(const toml::table& root, const std::string& path, std::string sha256, const LoadOptions& options) {
  Experiment e;
  e.path = fs::absolute(path).lexically_normal().string();
  e.dir = fs::path(e.path).parent_path().string();
  e.file = path;
  e.sha256 = std::move(sha256);
  const std::string& file = path;  // messages name the file as the user gave it

  Tab top(root, "the experiment file", file,
          {"experiment", "responses", "timing", "images", "audio", "sets", "metamers", "blocks", "analysis"});
  parse_experiment_table(root, file, e);
  parse_responses(root, file, e);
  parse_presentation(root, file, e);
  parse_sets(root, file, e);
  Condition natural;
  natural.name = "natural";
  e.conditions.push_back(natural);
  parse_metamers(root, file, options, e);
  parse_blocks(root, file, e);

  detail::list_sets(e);
  detail::resolve_metamers(e);
  return e;
}

[[noreturn]] void syntax_error(const std::string& path, const toml::parse_error& err) {
  std::string d(err.description());
  std::replace(d.begin(), d.end(), '\n', ' ');
  const auto& b = err.source().begin;
  throw ExperimentError(path, static_cast<int>(b.line),
                        "TOML syntax error" + (b.column > 0 ? " at column " + std::to_string(b.column) : std::string()) +
                            ": " + d + "; fix the syntax (see experiments/README.md)");
}

}  // namespace

Experiment load_experiment(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw ExperimentError(path, 0, fs::exists(path, ec) ? "not a file; give an experiment .toml file"
                                                        : "no such experiment file; check the path");
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    syntax_error(path, err);
  }
  return load_parsed(root, path, data::sha256_file(path), options);
}

Experiment load_experiment_text(const std::string& text, const std::string& path, const LoadOptions& options) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& err) {
    syntax_error(path, err);
  }
  return load_parsed(root, path, data::sha256_hex(text.data(), text.size()), options);
}

}  // namespace mm::experiments
