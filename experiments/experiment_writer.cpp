// experiments/experiment_writer.cpp: ExperimentDraft to TOML text and back
// (experiments/experiment_writer.h).
//
// Sections
//   [SECTION] Values   TOML strings, numbers, arrays as text
//   [SECTION] Keys     each table's keys, once, for the writer, the reader and operator==
//   [SECTION] Writer   write_draft: tables in README order, each key's line recorded
//   [SECTION] Reader   read_draft: lenient, each key's line recorded
//   [SECTION] Lines    field_at_line
#include "experiments/experiment_writer.h"

#include "experiments/set_table.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <type_traits>

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

// [SECTION] Keys --------------------------------------------------------------------------
// The keys of each table in experiments/README.md's order, as (key, member) pairs: the
// writer writes them in this order, the reader reads them and operator== compares them, so a
// key listed here is written, read back and compared. Most are written as their values are
// (a string, a whole number, a number, a boolean, an array of strings); the three written
// otherwise are named by a tag that holds their member: a source's generate (the `live`
// flag, written as generate = "live"), its seed (a whole number or a word) and a block's
// timing (an inline table). A set's name (its table's) and [responses.icons] (a table of
// alternatives) are handled beside the lists.
struct GenerateKey {
  bool DraftSource::*member;
};
struct SeedKey {
  std::string DraftSource::*member;
};
struct TimingKey {
  DraftTiming DraftBlock::*member;
};

// The member a key stands for in `s`.
template <class S, class M>
auto& member(S& s, M m) {
  if constexpr (std::is_member_object_pointer_v<M>) return s.*m;
  else return s.*(m.member);
}

const auto experiment_keys = [](auto&& f) {
  f("name", &ExperimentDraft::name);
  f("description", &ExperimentDraft::description);
  f("modality", &ExperimentDraft::modality);
  f("seed", &ExperimentDraft::seed);
};
const auto responses_keys = [](auto&& f) {
  f("alternatives", &ExperimentDraft::alternatives);
  f("words_file", &ExperimentDraft::words_file);
  f("icons", &ExperimentDraft::icons_folder);
};
const auto images_keys = [](auto&& f) {
  f("size", &ExperimentDraft::size);
  f("size_deg", &ExperimentDraft::size_deg);
  f("fit", &ExperimentDraft::fit);
  f("scaling", &ExperimentDraft::scaling);
};
const auto audio_keys = [](auto&& f) {
  f("sample_rate", &ExperimentDraft::sample_rate);
  f("clip_ms", &ExperimentDraft::clip_ms);
  f("rms_dbfs", &ExperimentDraft::rms_dbfs);
};
const auto analysis_keys = [](auto&& f) {
  f("judges", &ExperimentDraft::judges);
  f("exclude_catch_below", &ExperimentDraft::exclude_catch_below);
};
const auto timing_keys = [](auto&& f) {
  f("fixation", &DraftTiming::fixation);
  f("stimulus", &DraftTiming::stimulus);
  f("mask", &DraftTiming::mask);
  f("response", &DraftTiming::response);
  f("iti", &DraftTiming::iti);
};
const auto set_keys = [](auto&& f) {
  f("folders", &DraftSet::folders);
  f("include", &DraftSet::include);
  f("exclude", &DraftSet::exclude);
  f("table", &DraftSet::table);
};
const auto source_keys = [](auto&& f) {
  f("model", &DraftSource::model);
  f("model_sha256", &DraftSource::model_sha256);
  f("label", &DraftSource::label);
  f("layers", &DraftSource::layers);
  f("database", &DraftSource::database);
  f("folder", &DraftSource::folder);
  f("table", &DraftSource::table);
  f("assume_passed", &DraftSource::assume_passed);
  f("generate", GenerateKey{&DraftSource::live});
  f("iterations", &DraftSource::iterations);
  f("rounds", &DraftSource::rounds);
  f("max_rounds", &DraftSource::max_rounds);
  f("step", &DraftSource::step);
  f("optimizer", &DraftSource::optimizer);
  f("loss", &DraftSource::loss);
  f("seed", SeedKey{&DraftSource::seed});
  f("null_set", &DraftSource::null_set);
  f("retries", &DraftSource::retries);
  f("when_late", &DraftSource::when_late);
};
const auto block_keys = [](auto&& f) {
  f("kind", &DraftBlock::kind);
  f("name", &DraftBlock::name);
  f("set", &DraftBlock::set);
  f("trials", &DraftBlock::trials);
  f("feedback", &DraftBlock::feedback);
  f("pass_min_correct", &DraftBlock::pass_min_correct);
  f("conditions", &DraftBlock::conditions);
  f("catch", &DraftBlock::catch_trials);
  f("catch_set", &DraftBlock::catch_set);
  f("max_run", &DraftBlock::max_run);
  f("break_every", &DraftBlock::break_every);
  f("break_text", &DraftBlock::break_text);
  f("timing", TimingKey{&DraftBlock::timing});
  f("text", &DraftBlock::text);
  f("file", &DraftBlock::file);
  f("fail_text", &DraftBlock::fail_text);
};

// Whether a value is set (written): a non-empty string or list, an engaged optional.
bool is_set(const std::string& v) { return !v.empty(); }
bool is_set(const std::vector<std::string>& v) { return !v.empty(); }
template <class T>
bool is_set(const std::optional<T>& v) { return v.has_value(); }

// Whether any key of a table is set in `s`.
template <class S, class Keys>
bool any_set(const S& s, Keys keys) {
  bool any = false;
  keys([&](const char*, auto m) { any = any || is_set(member(s, m)); });
  return any;
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
  // The keys of one table of `s`, each as field "<prefix>.<key>".
  template <class S, class Keys>
  void keys(const S& s, const std::string& prefix, Keys list) {
    list([&](const char* key, auto m) { value(prefix + "." + key, key, member(s, m), m); });
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
  // One key, unless unset ("" strings and empty lists are not written).
  template <class Tag>
  void value(const std::string& field, const std::string& key, const std::string& v, Tag) {
    if (!v.empty()) put(field, key, quoted(v));
  }
  template <class Tag>
  void value(const std::string& field, const std::string& key, const std::optional<int64_t>& v, Tag) {
    if (v) put(field, key, std::to_string(*v));
  }
  template <class Tag>
  void value(const std::string& field, const std::string& key, const std::optional<double>& v, Tag) {
    if (v) put(field, key, number_text(*v));
  }
  template <class Tag>
  void value(const std::string& field, const std::string& key, const std::optional<bool>& v, Tag) {
    if (v) put(field, key, *v ? "true" : "false");
  }
  template <class Tag>
  void value(const std::string& field, const std::string& key, const std::vector<std::string>& v, Tag) {
    if (!v.empty()) put(field, key, array_text(key, v));
  }
  void value(const std::string& field, const std::string& key, const bool& live, GenerateKey) {
    if (live) put(field, key, quoted("live"));
  }
  void value(const std::string& field, const std::string& key, const std::string& seed, SeedKey) {
    if (seed.empty()) return;
    const bool whole = seed.find_first_not_of("0123456789") == std::string::npos;
    put(field, key, whole ? seed : quoted(seed));
  }
  // { fixation = 500, mask = 400 }: its phases' fields share the line.
  void value(const std::string& field, const std::string& key, const DraftTiming& t, TimingKey) {
    if (t.empty()) return;
    std::string text;
    timing_keys([&](const char* phase, auto m) {
      if (const auto& v = t.*m) text += std::string(text.empty() ? "" : ", ") + phase + " = " + std::to_string(*v);
    });
    put(field, key, "{ " + text + " }");
    timing_keys([&](const char* phase, auto m) {
      if (t.*m) out.lines[field + "." + phase] = out.lines[field];
    });
  }
};

}  // namespace

DraftText write_draft(const ExperimentDraft& d) {
  Writer w;
  w.header("[experiment]", "experiment");
  w.keys(d, "experiment", experiment_keys);

  w.header("[responses]", "responses");
  w.keys(d, "responses", responses_keys);
  if (d.icons_folder.empty() && !d.icons.empty()) {
    w.header("[responses.icons]", "responses.icons");
    for (const auto& i : d.icons) w.put("responses.icons." + i.alternative, i.alternative, quoted(i.file));
  }
  // [images], [audio] and [timing] only when a key of theirs is set.
  if (any_set(d, images_keys)) {
    w.header("[images]", "images");
    w.keys(d, "images", images_keys);
  }
  if (any_set(d, audio_keys)) {
    w.header("[audio]", "audio");
    w.keys(d, "audio", audio_keys);
  }
  if (!d.timing.empty()) {
    w.header("[timing]", "timing");
    w.keys(d.timing, "timing", timing_keys);
  }

  for (size_t i = 0; i < d.sets.size(); ++i) {
    const std::string f = "sets." + std::to_string(i);
    w.header("[sets." + key_text(d.sets[i].name) + "]", f);
    w.keys(d.sets[i], f, set_keys);
  }
  for (size_t i = 0; i < d.sources.size(); ++i) {
    const std::string f = "metamers." + std::to_string(i);
    w.header("[[metamers]]", f);
    w.keys(d.sources[i], f, source_keys);
  }
  for (size_t i = 0; i < d.blocks.size(); ++i) {
    const std::string f = "blocks." + std::to_string(i);
    w.header("[[blocks]]", f);
    w.keys(d.blocks[i], f, block_keys);
  }
  if (any_set(d, analysis_keys)) {
    w.header("[analysis]", "analysis");
    w.keys(d, "analysis", analysis_keys);
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
  // The keys of one table into `s`, each as field "<prefix>.<key>".
  template <class S, class Keys>
  void keys(const toml::table& t, S& s, const std::string& prefix, Keys list) {
    list([&](const char* key, auto m) { value(t, key, prefix + "." + key, member(s, m), m); });
  }

 private:
  // One key, when it is there with a fitting type (else left out: load_experiment names it).
  template <class Tag>
  void value(const toml::table& t, const std::string& key, const std::string& field, std::string& out, Tag) {
    if (const toml::node* n = t.get(key); n && n->is_string()) out = **n->as_string(), mark(field, *n);
  }
  template <class Tag>
  void value(const toml::table& t, const std::string& key, const std::string& field, std::optional<int64_t>& out,
             Tag) {
    if (const toml::node* n = t.get(key); n && n->is_integer()) out = **n->as_integer(), mark(field, *n);
  }
  template <class Tag>
  void value(const toml::table& t, const std::string& key, const std::string& field, std::optional<double>& out,
             Tag) {
    const toml::node* n = t.get(key);
    if (!n || !n->is_number()) return;
    out = n->is_integer() ? static_cast<double>(**n->as_integer()) : **n->as_floating_point();
    mark(field, *n);
  }
  template <class Tag>
  void value(const toml::table& t, const std::string& key, const std::string& field, std::optional<bool>& out, Tag) {
    if (const toml::node* n = t.get(key); n && n->is_boolean()) out = **n->as_boolean(), mark(field, *n);
  }
  // A string or an array of strings (other elements left out).
  template <class Tag>
  void value(const toml::table& t, const std::string& key, const std::string& field, std::vector<std::string>& out,
             Tag) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (n->is_string()) out.push_back(**n->as_string());
    else if (n->is_array())
      for (const toml::node& e : *n->as_array())
        if (e.is_string()) out.push_back(**e.as_string());
    mark(field, *n);
  }
  void value(const toml::table& t, const std::string& key, const std::string& field, bool& live, GenerateKey) {
    std::string generate;
    value(t, key, field, generate, nullptr);
    live = generate == "live";
  }
  void value(const toml::table& t, const std::string& key, const std::string& field, std::string& seed, SeedKey) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (n->is_string()) seed = **n->as_string();
    else if (n->is_integer()) seed = std::to_string(**n->as_integer());
    mark(field, *n);
  }
  void value(const toml::table& t, const std::string& key, const std::string& field, DraftTiming& timing, TimingKey) {
    if (const toml::table* tt = table(t, key, field)) keys(*tt, timing, field, timing_keys);
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
  if (const toml::table* t = x.table(root, "experiment", "experiment")) x.keys(*t, d, "experiment", experiment_keys);
  if (const toml::table* t = x.table(root, "responses", "responses")) {
    x.keys(*t, d, "responses", responses_keys);
    if (const toml::table* it = x.table(*t, "icons", "responses.icons"))
      for (const auto& [k, n] : in_file_order(*it))
        if (n->is_string()) {
          d.icons.push_back({k, **n->as_string()});
          x.mark("responses.icons." + k, *n);
        }
  }
  if (const toml::table* t = x.table(root, "images", "images")) x.keys(*t, d, "images", images_keys);
  if (const toml::table* t = x.table(root, "audio", "audio")) x.keys(*t, d, "audio", audio_keys);
  if (const toml::table* t = x.table(root, "timing", "timing")) x.keys(*t, d.timing, "timing", timing_keys);
  if (const toml::node* sets = root.get("sets"); sets && sets->is_table())
    for (const auto& [k, n] : in_file_order(*sets->as_table())) {
      if (!n->is_table()) continue;
      const std::string f = "sets." + std::to_string(d.sets.size());
      DraftSet s;
      s.name = k;
      x.mark(f, *n);
      x.keys(*n->as_table(), s, f, set_keys);
      d.sets.push_back(std::move(s));
    }
  if (const toml::node* m = root.get("metamers"); m && m->is_array())
    for (const toml::node& n : *m->as_array()) {
      if (!n.is_table()) continue;
      const std::string f = "metamers." + std::to_string(d.sources.size());
      DraftSource s;
      x.mark(f, n);
      x.keys(*n.as_table(), s, f, source_keys);
      d.sources.push_back(std::move(s));
    }
  if (const toml::node* bl = root.get("blocks"); bl && bl->is_array())
    for (const toml::node& n : *bl->as_array()) {
      if (!n.is_table()) continue;
      const std::string f = "blocks." + std::to_string(d.blocks.size());
      DraftBlock b;
      b.kind.clear();
      x.mark(f, n);
      x.keys(*n.as_table(), b, f, block_keys);
      d.blocks.push_back(std::move(b));
    }
  if (const toml::table* t = x.table(root, "analysis", "analysis")) x.keys(*t, d, "analysis", analysis_keys);
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

// Equal when every listed key is (the [SECTION] Keys lists), with the sets' names and the
// icons table.
bool ExperimentDraft::operator==(const ExperimentDraft& o) const {
  bool same = true;
  const auto compare = [&same](const auto& a, const auto& b, auto list) {
    list([&](const char*, auto m) {
      if constexpr (std::is_same_v<decltype(m), TimingKey>) {
        timing_keys([&](const char*, auto p) { same = same && member(a, m).*p == member(b, m).*p; });
      } else {
        same = same && member(a, m) == member(b, m);
      }
    });
  };
  const auto all = [&](const auto& a, const auto& b, auto list) {
    if (a.size() != b.size()) return void(same = false);
    for (size_t i = 0; i < a.size(); ++i) compare(a[i], b[i], list);
  };
  compare(*this, o, experiment_keys);
  compare(*this, o, responses_keys);
  compare(*this, o, images_keys);
  compare(*this, o, audio_keys);
  compare(*this, o, analysis_keys);
  compare(timing, o.timing, timing_keys);
  all(sets, o.sets, set_keys);
  all(sources, o.sources, source_keys);
  all(blocks, o.blocks, block_keys);
  if (sets.size() == o.sets.size())
    for (size_t i = 0; i < sets.size(); ++i) same = same && sets[i].name == o.sets[i].name;
  same = same && icons.size() == o.icons.size();
  for (size_t i = 0; same && i < icons.size(); ++i)
    same = icons[i].alternative == o.icons[i].alternative && icons[i].file == o.icons[i].file;
  return same;
}

int rebase_paths(ExperimentDraft& d, const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  const fs::path f = fs::absolute(from.empty() ? "." : from).lexically_normal();
  const fs::path t = fs::absolute(to.empty() ? "." : to).lexically_normal();
  int changed = 0;
  auto one = [&](std::string& p) {
    if (p.empty() || fs::path(p).is_absolute()) return;
    const std::string next = path_from((f / p).lexically_normal().string(), t.string());
    if (next != p) p = next, ++changed;
  };
  auto each = [&](std::vector<std::string>& v) {
    for (auto& p : v) one(p);
  };
  one(d.words_file);
  one(d.icons_folder);
  for (auto& i : d.icons) one(i.file);
  for (auto& s : d.sets) each(s.folders), one(s.table);
  for (auto& s : d.sources) one(s.database), one(s.folder), one(s.table);
  for (auto& b : d.blocks) one(b.file);
  return changed;
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
