// experiments/experiment_writer.cpp: ExperimentDraft to TOML text and back
// (experiments/experiment_writer.h).
//
// Sections
//   [SECTION] Values   TOML strings, numbers, arrays as text
//   [SECTION] Writer   write_draft: tables in README order, each key's line recorded
//   [SECTION] Reader   read_draft: lenient, each key's line recorded
//   [SECTION] Lines    field_at_line
#include "experiments/experiment_writer.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <tuple>

namespace mm::experiments {

namespace {

// [SECTION] Values ------------------------------------------------------------------------
// A TOML basic string ("..."), or for text with line breaks a multi-line one ("""...""").
std::string quoted(const std::string& s) {
  const bool multi = s.find('\n') != std::string::npos;
  std::string o = multi ? "\"\"\"\n" : "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += multi ? "\n" : "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      case '\b': o += "\\b"; break;
      case '\f': o += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  o += multi ? "\"\"\"" : "\"";
  return o;
}

// A key as TOML takes it: bare when it is letters, digits, '-' and '_', else quoted.
std::string key_text(const std::string& k) {
  bool bare = !k.empty();
  for (unsigned char c : k) bare &= std::isalnum(c) || c == '-' || c == '_';
  return bare ? k : quoted(k);
}

// A float key's value: shortest_number, and a whole number stays a float ("250.0").
std::string number_text(double v) {
  std::string s = shortest_number(v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// ["a", "b", ...] wrapped before 96 columns, continuation lines aligned after the '['.
std::string array_text(const std::string& key, const std::vector<std::string>& v) {
  const size_t indent = key.size() + 4;
  std::string o = "[";
  size_t col = indent;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string item = quoted(v[i]) + (i + 1 < v.size() ? "," : "");
    if (i > 0) {
      if (col + 1 + item.size() > 96) {
        o += "\n" + std::string(indent, ' ');
        col = indent;
      } else {
        o += " ";
        ++col;
      }
    }
    o += item;
    col += item.size();
  }
  return o + "]";
}

// [SECTION] Writer ------------------------------------------------------------------------
class Writer {
 public:
  DraftText out;

  void header(const std::string& h, const std::string& field) {
    if (!out.text.empty()) line("");
    line(h);
    out.lines[field] = line_;
  }
  void str(const std::string& field, const std::string& key, const std::string& v) {
    if (!v.empty()) put(field, key, quoted(v));
  }
  void integer(const std::string& field, const std::string& key, const std::optional<int64_t>& v) {
    if (v) put(field, key, std::to_string(*v));
  }
  void number(const std::string& field, const std::string& key, const std::optional<double>& v) {
    if (v) put(field, key, number_text(*v));
  }
  void boolean(const std::string& field, const std::string& key, const std::optional<bool>& v) {
    if (v) put(field, key, *v ? "true" : "false");
  }
  void strings(const std::string& field, const std::string& key, const std::vector<std::string>& v) {
    if (!v.empty()) put(field, key, array_text(key, v));
  }
  // A value already in TOML form.
  void put(const std::string& field, const std::string& key, const std::string& value) {
    out.lines[field] = line_ + 1;
    line(key_text(key) + " = " + value);
  }

 private:
  int line_ = 0;  // lines written so far
  void line(const std::string& s) {
    out.text += s + "\n";
    for (char c : s) line_ += c == '\n';
    ++line_;
  }
};

const char* const kPhases[] = {"fixation", "stimulus", "mask", "response", "iti"};

std::vector<std::pair<const char*, const std::optional<int64_t>*>> phases(const DraftTiming& t) {
  return {{"fixation", &t.fixation}, {"stimulus", &t.stimulus}, {"mask", &t.mask}, {"response", &t.response}, {"iti", &t.iti}};
}

}  // namespace

DraftText write_draft(const ExperimentDraft& d) {
  Writer w;
  w.header("[experiment]", "experiment");
  w.str("experiment.name", "name", d.name);
  w.str("experiment.description", "description", d.description);
  w.str("experiment.modality", "modality", d.modality);
  w.integer("experiment.seed", "seed", d.seed);

  w.header("[responses]", "responses");
  w.strings("responses.alternatives", "alternatives", d.alternatives);
  w.str("responses.words_file", "words_file", d.words_file);
  w.str("responses.icons", "icons", d.icons_folder);
  if (d.icons_folder.empty() && !d.icons.empty()) {
    w.header("[responses.icons]", "responses.icons");
    for (const auto& i : d.icons) w.put("responses.icons." + i.alternative, i.alternative, quoted(i.file));
  }

  if (d.size || d.size_deg || d.fit || !d.scaling.empty()) {
    w.header("[images]", "images");
    w.integer("images.size", "size", d.size);
    w.number("images.size_deg", "size_deg", d.size_deg);
    w.boolean("images.fit", "fit", d.fit);
    w.str("images.scaling", "scaling", d.scaling);
  }
  if (d.sample_rate || d.clip_ms || d.rms_dbfs) {
    w.header("[audio]", "audio");
    w.integer("audio.sample_rate", "sample_rate", d.sample_rate);
    w.integer("audio.clip_ms", "clip_ms", d.clip_ms);
    w.number("audio.rms_dbfs", "rms_dbfs", d.rms_dbfs);
  }
  if (!d.timing.empty()) {
    w.header("[timing]", "timing");
    for (const auto& [k, v] : phases(d.timing)) w.integer(std::string("timing.") + k, k, *v);
  }

  for (size_t i = 0; i < d.sets.size(); ++i) {
    const DraftSet& s = d.sets[i];
    const std::string f = "sets." + std::to_string(i);
    w.header("[sets." + key_text(s.name) + "]", f);
    w.strings(f + ".folders", "folders", s.folders);
    w.strings(f + ".include", "include", s.include);
    w.strings(f + ".exclude", "exclude", s.exclude);
    w.str(f + ".table", "table", s.table);
  }

  for (size_t i = 0; i < d.sources.size(); ++i) {
    const DraftSource& s = d.sources[i];
    const std::string f = "metamers." + std::to_string(i);
    w.header("[[metamers]]", f);
    w.str(f + ".model", "model", s.model);
    w.str(f + ".model_sha256", "model_sha256", s.model_sha256);
    w.str(f + ".label", "label", s.label);
    w.strings(f + ".layers", "layers", s.layers);
    w.str(f + ".database", "database", s.database);
    w.str(f + ".folder", "folder", s.folder);
    w.str(f + ".table", "table", s.table);
    w.boolean(f + ".assume_passed", "assume_passed", s.assume_passed);
    if (s.live) w.put(f + ".generate", "generate", quoted("live"));
    w.integer(f + ".iterations", "iterations", s.iterations);
    w.integer(f + ".rounds", "rounds", s.rounds);
    w.number(f + ".step", "step", s.step);
    w.str(f + ".optimizer", "optimizer", s.optimizer);
    w.str(f + ".loss", "loss", s.loss);
    if (!s.seed.empty()) {
      const bool whole = s.seed.find_first_not_of("0123456789") == std::string::npos;
      w.put(f + ".seed", "seed", whole ? s.seed : quoted(s.seed));
    }
    w.str(f + ".null_set", "null_set", s.null_set);
    w.integer(f + ".retries", "retries", s.retries);
    w.str(f + ".when_late", "when_late", s.when_late);
  }

  for (size_t i = 0; i < d.blocks.size(); ++i) {
    const DraftBlock& b = d.blocks[i];
    const std::string f = "blocks." + std::to_string(i);
    w.header("[[blocks]]", f);
    w.str(f + ".kind", "kind", b.kind);
    w.str(f + ".name", "name", b.name);
    w.str(f + ".set", "set", b.set);
    w.integer(f + ".trials", "trials", b.trials);
    w.boolean(f + ".feedback", "feedback", b.feedback);
    w.integer(f + ".pass_min_correct", "pass_min_correct", b.pass_min_correct);
    w.strings(f + ".conditions", "conditions", b.conditions);
    w.integer(f + ".catch", "catch", b.catch_trials);
    w.str(f + ".catch_set", "catch_set", b.catch_set);
    w.integer(f + ".max_run", "max_run", b.max_run);
    w.integer(f + ".break_every", "break_every", b.break_every);
    w.str(f + ".break_text", "break_text", b.break_text);
    if (!b.timing.empty()) {
      std::string t;
      for (const auto& [k, v] : phases(b.timing))
        if (*v) t += std::string(t.empty() ? "" : ", ") + k + " = " + std::to_string(**v);
      w.put(f + ".timing", "timing", "{ " + t + " }");
      for (const auto& [k, v] : phases(b.timing))
        if (*v) w.out.lines[f + ".timing." + k] = w.out.lines[f + ".timing"];
    }
    w.str(f + ".text", "text", b.text);
    w.str(f + ".file", "file", b.file);
    w.str(f + ".fail_text", "fail_text", b.fail_text);
  }

  if (!d.judges.empty() || d.exclude_catch_below) {
    w.header("[analysis]", "analysis");
    w.strings("analysis.judges", "judges", d.judges);
    w.number("analysis.exclude_catch_below", "exclude_catch_below", d.exclude_catch_below);
  }
  return w.out;
}

// [SECTION] Reader ------------------------------------------------------------------------
namespace {

class Reader {
 public:
  std::map<std::string, int>& lines;

  static int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

  void mark(const std::string& field, const toml::node& n) {
    if (line_of(n) > 0) lines[field] = line_of(n);
  }
  const toml::table* table(const toml::table& t, const std::string& key, const std::string& field) {
    const toml::node* n = t.get(key);
    if (!n || !n->is_table()) return nullptr;
    mark(field, *n);
    return n->as_table();
  }
  void str(const toml::table& t, const std::string& key, const std::string& field, std::string& out) {
    if (const toml::node* n = t.get(key); n && n->is_string()) out = **n->as_string(), mark(field, *n);
  }
  void integer(const toml::table& t, const std::string& key, const std::string& field, std::optional<int64_t>& out) {
    if (const toml::node* n = t.get(key); n && n->is_integer()) out = **n->as_integer(), mark(field, *n);
  }
  void number(const toml::table& t, const std::string& key, const std::string& field, std::optional<double>& out) {
    const toml::node* n = t.get(key);
    if (!n || !n->is_number()) return;
    out = n->is_integer() ? static_cast<double>(**n->as_integer()) : **n->as_floating_point();
    mark(field, *n);
  }
  void boolean(const toml::table& t, const std::string& key, const std::string& field, std::optional<bool>& out) {
    if (const toml::node* n = t.get(key); n && n->is_boolean()) out = **n->as_boolean(), mark(field, *n);
  }
  // A string or an array of strings (other elements left out).
  void strings(const toml::table& t, const std::string& key, const std::string& field, std::vector<std::string>& out) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (n->is_string()) out.push_back(**n->as_string());
    else if (n->is_array())
      for (const toml::node& e : *n->as_array())
        if (e.is_string()) out.push_back(**e.as_string());
    mark(field, *n);
  }
  void timing(const toml::table& t, const std::string& prefix, DraftTiming& out) {
    integer(t, "fixation", prefix + "fixation", out.fixation);
    integer(t, "stimulus", prefix + "stimulus", out.stimulus);
    integer(t, "mask", prefix + "mask", out.mask);
    integer(t, "response", prefix + "response", out.response);
    integer(t, "iti", prefix + "iti", out.iti);
  }
};

// Tables (and arrays of tables) in the order they appear in the file.
std::vector<std::pair<std::string, const toml::node*>> in_file_order(const toml::table& t) {
  std::vector<std::pair<std::string, const toml::node*>> v;
  for (const auto& [k, n] : t) v.emplace_back(std::string(k.str()), &n);
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return Reader::line_of(*a.second) < Reader::line_of(*b.second);
  });
  return v;
}

}  // namespace

DraftRead read_draft(const std::string& text, const std::string& name) {
  DraftRead r;
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& err) {
    r.error = std::string(err.description());
    r.error_line = static_cast<int>(err.source().begin.line);
    return r;
  }
  Reader x{r.lines};
  ExperimentDraft& d = r.draft;
  d.modality.clear();
  if (const toml::table* t = x.table(root, "experiment", "experiment")) {
    x.str(*t, "name", "experiment.name", d.name);
    x.str(*t, "description", "experiment.description", d.description);
    x.str(*t, "modality", "experiment.modality", d.modality);
    x.integer(*t, "seed", "experiment.seed", d.seed);
  }
  if (const toml::table* t = x.table(root, "responses", "responses")) {
    x.strings(*t, "alternatives", "responses.alternatives", d.alternatives);
    x.str(*t, "words_file", "responses.words_file", d.words_file);
    x.str(*t, "icons", "responses.icons", d.icons_folder);
    if (const toml::table* it = x.table(*t, "icons", "responses.icons"))
      for (const auto& [k, n] : in_file_order(*it))
        if (n->is_string()) {
          d.icons.push_back({k, **n->as_string()});
          x.mark("responses.icons." + k, *n);
        }
  }
  if (const toml::table* t = x.table(root, "images", "images")) {
    x.integer(*t, "size", "images.size", d.size);
    x.number(*t, "size_deg", "images.size_deg", d.size_deg);
    x.boolean(*t, "fit", "images.fit", d.fit);
    x.str(*t, "scaling", "images.scaling", d.scaling);
  }
  if (const toml::table* t = x.table(root, "audio", "audio")) {
    x.integer(*t, "sample_rate", "audio.sample_rate", d.sample_rate);
    x.integer(*t, "clip_ms", "audio.clip_ms", d.clip_ms);
    x.number(*t, "rms_dbfs", "audio.rms_dbfs", d.rms_dbfs);
  }
  if (const toml::table* t = x.table(root, "timing", "timing")) x.timing(*t, "timing.", d.timing);
  if (const toml::node* sets = root.get("sets"); sets && sets->is_table())
    for (const auto& [k, n] : in_file_order(*sets->as_table())) {
      if (!n->is_table()) continue;
      const toml::table& t = *n->as_table();
      const std::string f = "sets." + std::to_string(d.sets.size());
      DraftSet s;
      s.name = k;
      x.mark(f, t);
      x.strings(t, "folders", f + ".folders", s.folders);
      x.strings(t, "include", f + ".include", s.include);
      x.strings(t, "exclude", f + ".exclude", s.exclude);
      x.str(t, "table", f + ".table", s.table);
      d.sets.push_back(std::move(s));
    }
  if (const toml::node* m = root.get("metamers"); m && m->is_array())
    for (const toml::node& n : *m->as_array()) {
      if (!n.is_table()) continue;
      const toml::table& t = *n.as_table();
      const std::string f = "metamers." + std::to_string(d.sources.size());
      DraftSource s;
      x.mark(f, t);
      x.str(t, "model", f + ".model", s.model);
      x.str(t, "model_sha256", f + ".model_sha256", s.model_sha256);
      x.str(t, "label", f + ".label", s.label);
      x.strings(t, "layers", f + ".layers", s.layers);
      x.str(t, "database", f + ".database", s.database);
      x.str(t, "folder", f + ".folder", s.folder);
      x.str(t, "table", f + ".table", s.table);
      x.boolean(t, "assume_passed", f + ".assume_passed", s.assume_passed);
      std::string generate;
      x.str(t, "generate", f + ".generate", generate);
      s.live = generate == "live";
      x.integer(t, "iterations", f + ".iterations", s.iterations);
      x.integer(t, "rounds", f + ".rounds", s.rounds);
      x.number(t, "step", f + ".step", s.step);
      x.str(t, "optimizer", f + ".optimizer", s.optimizer);
      x.str(t, "loss", f + ".loss", s.loss);
      if (const toml::node* seed = t.get("seed")) {
        if (seed->is_string()) s.seed = **seed->as_string();
        else if (seed->is_integer()) s.seed = std::to_string(**seed->as_integer());
        x.mark(f + ".seed", *seed);
      }
      x.str(t, "null_set", f + ".null_set", s.null_set);
      x.integer(t, "retries", f + ".retries", s.retries);
      x.str(t, "when_late", f + ".when_late", s.when_late);
      d.sources.push_back(std::move(s));
    }
  if (const toml::node* bl = root.get("blocks"); bl && bl->is_array())
    for (const toml::node& n : *bl->as_array()) {
      if (!n.is_table()) continue;
      const toml::table& t = *n.as_table();
      const std::string f = "blocks." + std::to_string(d.blocks.size());
      DraftBlock b;
      b.kind.clear();
      x.mark(f, t);
      x.str(t, "kind", f + ".kind", b.kind);
      x.str(t, "name", f + ".name", b.name);
      x.str(t, "text", f + ".text", b.text);
      x.str(t, "file", f + ".file", b.file);
      x.str(t, "set", f + ".set", b.set);
      x.integer(t, "trials", f + ".trials", b.trials);
      x.boolean(t, "feedback", f + ".feedback", b.feedback);
      if (const toml::table* tt = x.table(t, "timing", f + ".timing")) x.timing(*tt, f + ".timing.", b.timing);
      x.integer(t, "break_every", f + ".break_every", b.break_every);
      x.str(t, "break_text", f + ".break_text", b.break_text);
      x.integer(t, "pass_min_correct", f + ".pass_min_correct", b.pass_min_correct);
      x.str(t, "fail_text", f + ".fail_text", b.fail_text);
      x.strings(t, "conditions", f + ".conditions", b.conditions);
      x.integer(t, "max_run", f + ".max_run", b.max_run);
      x.integer(t, "catch", f + ".catch", b.catch_trials);
      x.str(t, "catch_set", f + ".catch_set", b.catch_set);
      d.blocks.push_back(std::move(b));
    }
  if (const toml::table* t = x.table(root, "analysis", "analysis")) {
    x.strings(*t, "judges", "analysis.judges", d.judges);
    x.number(*t, "exclude_catch_below", "analysis.exclude_catch_below", d.exclude_catch_below);
  }
  return r;
}

// [SECTION] Lines -------------------------------------------------------------------------
std::string field_at_line(const std::map<std::string, int>& lines, int line) {
  std::string best;
  int best_line = 0;
  for (const auto& [f, l] : lines) {
    if (l > line || l < best_line) continue;
    // On the same line the longer name is the inner field ("blocks.1.timing.mask" in "blocks.1.timing").
    if (l > best_line || f.size() > best.size()) best = f, best_line = l;
  }
  return best;
}

bool ExperimentDraft::operator==(const ExperimentDraft& o) const {
  const auto phases_of = [](const DraftTiming& t) { return std::tie(t.fixation, t.stimulus, t.mask, t.response, t.iti); };
  const auto set = [](const DraftSet& s) { return std::tie(s.name, s.folders, s.include, s.exclude, s.table); };
  const auto source = [](const DraftSource& s) {
    return std::tie(s.model, s.model_sha256, s.label, s.layers, s.database, s.folder, s.table, s.assume_passed, s.live,
                    s.iterations, s.rounds, s.retries, s.step, s.optimizer, s.loss, s.null_set, s.when_late, s.seed);
  };
  const auto block = [&](const DraftBlock& b) {
    return std::tuple_cat(std::tie(b.kind, b.name, b.text, b.file, b.set, b.trials, b.feedback), phases_of(b.timing),
                          std::tie(b.break_every, b.break_text, b.pass_min_correct, b.fail_text, b.conditions, b.max_run,
                                   b.catch_trials, b.catch_set));
  };
  const auto all = [](const auto& a, const auto& b, const auto& key) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (key(a[i]) != key(b[i])) return false;
    return true;
  };
  const auto icon = [](const DraftIcon& i) { return std::tie(i.alternative, i.file); };
  return std::tie(name, description, modality, seed, alternatives, words_file, icons_folder) ==
             std::tie(o.name, o.description, o.modality, o.seed, o.alternatives, o.words_file, o.icons_folder) &&
         all(icons, o.icons, icon) && phases_of(timing) == phases_of(o.timing) &&
         std::tie(size, size_deg, fit, scaling, sample_rate, clip_ms, rms_dbfs, judges, exclude_catch_below) ==
             std::tie(o.size, o.size_deg, o.fit, o.scaling, o.sample_rate, o.clip_ms, o.rms_dbfs, o.judges,
                      o.exclude_catch_below) &&
         all(sets, o.sets, set) && all(sources, o.sources, source) && all(blocks, o.blocks, block);
}

std::string shortest_number(double v) {
  if (!std::isfinite(v)) return v > 0 ? "inf" : v < 0 ? "-inf" : "nan";
  char b[40];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(b, sizeof b, "%.*g", p, v);
    if (std::strtod(b, nullptr) == v) break;
  }
  return b;
}

}  // namespace mm::experiments
