// experiments/sources.cpp: where an experiment's stimuli come from: listing the natural
// sets (ImageFolder folders with file-name filters, or CSV tables) and finding each
// reference's passing metamer per model × layer condition in a database, a folder or a
// CSV table. Also the module's small path and CSV helpers.
//
// Sections
//   [SECTION] Helpers       resolve_path, relative_to, join
//   [SECTION] CSV           read_csv
//   [SECTION] Sets          list_sets
//   [SECTION] Database      metamers recorded by metamerlab synth (passed = 1 only)
//   [SECTION] Folder        OUT/<layer>/<category>/<name>.<ext> with assume_passed
//   [SECTION] Table         CSV reference,layer,file[,passed]
//   [SECTION] Resolve       resolve_metamers
#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "data/sha256.h"
#include "data/store.h"
#include "experiments/internal.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::experiments::detail {

// [SECTION] Helpers -----------------------------------------------------------------------
std::string resolve_path(const std::string& base_dir, const std::string& rel) {
  fs::path p(rel);
  if (p.is_relative()) p = fs::path(base_dir) / p;
  return fs::absolute(p).lexically_normal().string();
}

std::string relative_to(const std::string& path, const std::string& dir) {
  fs::path r = fs::path(path).lexically_relative(dir);
  return r.empty() ? path : r.string();
}

std::string join(const std::vector<std::string>& v, size_t max) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max) s += ", ...";
  return s;
}

// [SECTION] CSV ---------------------------------------------------------------------------
int Csv::column(const std::string& name) const {
  for (size_t i = 0; i < header.cells.size(); ++i)
    if (header.cells[i] == name) return static_cast<int>(i);
  return -1;
}

Csv read_csv(const std::string& path, const Where& declared) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_at(declared, "table " + path + " cannot be read; check the path (relative to the file naming it)");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  Csv csv;
  csv.path = path;
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string cell;
  int line = 1;
  row.line = 1;
  bool quoted = false, any = false;
  auto end_row = [&]() {
    row.cells.push_back(cell);
    cell.clear();
    bool blank = !any;
    if (!blank) rows.push_back(row);
    row = CsvRow{};
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"' && cell.empty()) {
      quoted = any = true;
    } else if (c == ',') {
      row.cells.push_back(cell);
      cell.clear();
      any = true;
    } else if (c == '\r') {
      continue;
    } else if (c == '\n') {
      end_row();
      row.line = ++line;
    } else {
      cell += c;
      if (c != ' ' && c != '\t') any = true;
    }
  }
  if (quoted) fail_at(path, row.line, "unterminated quoted field; close the quote");
  if (any || !cell.empty()) end_row();
  if (rows.empty()) fail_at(path, 1, "table is empty; give a header row and one row per stimulus");
  for (auto& r : rows)
    for (auto& c : r.cells) {
      size_t b = c.find_first_not_of(" \t"), e = c.find_last_not_of(" \t");
      c = b == std::string::npos ? std::string() : c.substr(b, e - b + 1);
    }
  csv.header = rows[0];
  csv.rows.assign(rows.begin() + 1, rows.end());
  for (const auto& r : csv.rows)
    if (r.cells.size() != csv.header.cells.size())
      fail_at(path, r.line, "row has " + std::to_string(r.cells.size()) + " cells, the header has " +
                                std::to_string(csv.header.cells.size()) + "; fix the row (quote cells that hold commas)");
  return csv;
}

namespace {

// Only these columns; anything else is an error at the header line.
void check_columns(const Csv& csv, const std::vector<std::string>& allowed, const std::vector<std::string>& required) {
  for (const auto& c : csv.header.cells)
    if (std::find(allowed.begin(), allowed.end(), c) == allowed.end())
      fail_at(csv.path, csv.header.line, "unknown column \"" + c + "\"; columns are " + join(allowed));
  for (const auto& c : required)
    if (csv.column(c) < 0) fail_at(csv.path, csv.header.line, "missing column \"" + c + "\"; the header must name " + join(required));
}

std::string stimulus_kind(Modality m) { return m == Modality::image ? "image" : "sound"; }

// [SECTION] Sets --------------------------------------------------------------------------
bool matches(const std::vector<std::string>& patterns, const std::string& category, const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const std::string rel = category + "/" + name;
  for (const auto& p : patterns) {
    const std::string& subject = p.find('/') != std::string::npos ? rel : name;
    if (::fnmatch(p.c_str(), subject.c_str(), 0) == 0) return true;
  }
  return false;
}

void list_folders(const Experiment& e, StimulusSet& s) {
  const std::string where = "[sets." + s.name + "]";
  const Where at{e.file, s.lines.count("folders") ? s.lines.at("folders") : s.where.line};
  const stimuli::Modality m = e.modality == Modality::image ? stimuli::Modality::image : stimuli::Modality::audio;
  for (const auto& folder : s.folders) {
    if (!fs::exists(folder))
      fail_at(at, where + " folder " + folder + " does not exist; check the path (relative to the experiment file)");
    std::vector<stimuli::Item> items;
    try {
      items = stimuli::list_stimuli({folder}, m);
    } catch (const std::runtime_error& err) {
      fail_at(at, where + " " + err.what());
    }
    for (const auto& it : items) {
      if (!s.include.empty() && !matches(s.include, it.category, it.path)) continue;
      if (matches(s.exclude, it.category, it.path)) continue;
      Stimulus st;
      st.path = fs::absolute(it.path).lexically_normal().string();
      st.category = it.category;
      st.where = at;
      s.items.push_back(st);
    }
  }
  if (s.items.empty())
    fail_at(at, where + " holds no " + stimulus_kind(e.modality) + " files" +
                    (s.include.empty() && s.exclude.empty() ? std::string() : " after include/exclude") +
                    "; check the folders and patterns");
}

void list_table(const Experiment& e, StimulusSet& s) {
  const Where at{e.file, s.lines.count("table") ? s.lines.at("table") : s.where.line};
  Csv csv = read_csv(s.table, at);
  check_columns(csv, {"file", "category"}, {"file"});
  const int fc = csv.column("file"), cc = csv.column("category");
  const std::string dir = fs::path(s.table).parent_path().string();
  for (const auto& r : csv.rows) {
    const std::string& cell = r.cells[fc];
    if (cell.empty()) fail_at(csv.path, r.line, "file is empty; give the stimulus file (relative to the table)");
    Stimulus st;
    st.path = resolve_path(dir, cell);
    if (!fs::is_regular_file(st.path))
      fail_at(csv.path, r.line, "stimulus file " + st.path + " does not exist; fix the path (relative to the table's folder)");
    st.category = cc >= 0 && !r.cells[cc].empty() ? r.cells[cc] : fs::path(st.path).parent_path().filename().string();
    st.where = {csv.path, r.line};
    s.items.push_back(st);
  }
  if (s.items.empty()) fail_at(csv.path, csv.header.line, "table lists no stimuli; add rows");
}

}  // namespace

void list_sets(Experiment& e) {
  for (auto& s : e.sets) {
    if (!s.table.empty()) list_table(e, s);
    else list_folders(e, s);
    std::sort(s.items.begin(), s.items.end(), [](const Stimulus& a, const Stimulus& b) {
      return a.category != b.category ? a.category < b.category : a.path < b.path;
    });
    s.items.erase(std::unique(s.items.begin(), s.items.end(),
                              [](const Stimulus& a, const Stimulus& b) { return a.path == b.path; }),
                  s.items.end());
    for (auto& it : s.items) {
      try {
        it.sha256 = data::sha256_file(it.path);
      } catch (const std::runtime_error& err) {
        fail_at(it.where, err.what());
      }
    }
  }
}

namespace {

// The references metamers are looked up for: every item of every main block's set.
struct Refs {
  std::map<std::string, const Stimulus*> by_path;
  std::multimap<std::string, const Stimulus*> by_sha;
};

Refs main_references(const Experiment& e) {
  Refs r;
  for (const auto& b : e.blocks) {
    if (b.kind != BlockKind::main) continue;
    const StimulusSet* s = e.find_set(b.set);
    for (const auto& it : s->items)
      if (r.by_path.emplace(it.path, &it).second) r.by_sha.emplace(it.sha256, &it);
  }
  return r;
}

std::string metamer_ext(Modality m) { return m == Modality::image ? ".png" : ".wav"; }

int layer_line(const MetamerSource& s, const std::string& layer) {
  auto it = s.lines.find("layer:" + layer);
  return it != s.lines.end() ? it->second : s.where.line;
}
int key_line(const MetamerSource& s, const std::string& key) {
  auto it = s.lines.find(key);
  return it != s.lines.end() ? it->second : s.where.line;
}

std::string sha_or_empty(const std::string& path) {
  try {
    return data::sha256_file(path);
  } catch (const std::runtime_error&) {
    return "";
  }
}

// [SECTION] Database ----------------------------------------------------------------------
// A file recorded in the database, found again: as recorded, relative to the working
// folder, or, for an output folder that moved with its database, the recorded path's tails
// under the database's folder. The first candidate with the recorded SHA-256 wins.
std::string locate_recorded(const std::string& recorded, const std::string& sha, const std::string& db_dir) {
  if (recorded.empty()) return "";
  std::vector<fs::path> candidates = {fs::path(recorded)};
  fs::path p(recorded);
  std::vector<fs::path> parts(p.begin(), p.end());
  for (size_t i = 0; i < parts.size(); ++i) {
    fs::path tail;
    for (size_t j = i; j < parts.size(); ++j)
      if (!(parts[j] == "/")) tail /= parts[j];
    candidates.push_back(fs::path(db_dir) / tail);
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec) && sha_or_empty(c.string()) == sha)
      return fs::absolute(c).lexically_normal().string();
  }
  return "";
}

void from_database(Experiment& e, int si, const Refs& refs, std::map<std::string, std::map<std::string, std::string>>& failed) {
  const MetamerSource& s = e.sources[si];
  const std::string where = "[[metamers]] " + s.model;
  const Where db_at{e.file, key_line(s, "database")};
  if (!fs::is_regular_file(s.database))
    fail_at(db_at, where + ": database " + s.database +
                       " does not exist; run metamerlab synth (or demo) first, or fix the path (relative to the experiment file)");
  std::unique_ptr<data::Store> store;
  try {
    store = std::make_unique<data::Store>(s.database);
  } catch (const std::runtime_error& err) {
    fail_at(db_at, where + ": " + err.what());
  }
  // The model: by spec or hash, optionally pinned to one hash.
  std::vector<std::pair<int64_t, data::ModelRecord>> found;
  std::vector<std::string> known;
  for (auto& [id, m] : store->models()) {
    known.push_back(m.spec);
    if ((m.spec == s.model || m.sha256 == s.model) && (s.model_sha256.empty() || m.sha256 == s.model_sha256))
      found.emplace_back(id, m);
  }
  const Where model_at{e.file, key_line(s, "model")};
  if (found.empty())
    fail_at(model_at, where + ": model \"" + s.model + "\"" +
                          (s.model_sha256.empty() ? std::string() : " with sha256 " + s.model_sha256) + " is not in " +
                          s.database + (known.empty() ? std::string(" (it records no models)") : " (models there: " + join(known) + ")") +
                          "; fix the name or synthesize metamers with it first");
  std::set<std::string> shas;
  for (const auto& f : found) shas.insert(f.second.sha256);
  if (shas.size() > 1)
    fail_at(model_at, where + ": " + std::to_string(shas.size()) + " versions of \"" + s.model + "\" are in " + s.database +
                          " (sha256 " + join(std::vector<std::string>(shas.begin(), shas.end())) +
                          "); add model_sha256 = \"...\" to pick one");
  const data::ModelRecord model = found[0].second;
  if (model.modality != modality_name(e.modality))
    fail_at(model_at, where + ": \"" + s.model + "\" is an " + model.modality + " model but the experiment is " +
                          modality_name(e.modality) + "; use a model of the experiment's modality");
  std::vector<std::string> layers;
  auto info = nlohmann::json::parse(model.info_json, nullptr, false);
  if (info.is_object() && info.contains("layers") && info["layers"].is_array())
    for (const auto& l : info["layers"])
      if (l.is_string()) layers.push_back(l.get<std::string>());

  for (const auto& layer : s.layers) {
    const Where at{e.file, layer_line(s, layer)};
    if (!layers.empty() && std::find(layers.begin(), layers.end(), layer) == layers.end())
      fail_at(at, where + ": \"" + s.model + "\" has no layer \"" + layer + "\" (layers: " + join(layers, 40) + "); fix the name");
    const std::string cond = s.label + "/" + layer;
    // Every model id sharing the chosen hash (the same model under another spec is not
    // merged: the spec names what the experimenter means).
    std::vector<data::MetamerRecord> rows;
    for (const auto& f : found) {
      auto r = store->metamers_of_model(f.first, layer);
      rows.insert(rows.end(), r.begin(), r.end());
    }
    if (rows.empty())
      fail_at(at, where + ": no metamers of " + s.model + " at layer \"" + layer + "\" in " + s.database +
                      "; synthesize them (metamerlab synth --model " + s.model + " --layers " + layer +
                      " ...) or remove the layer");
    int several = 0, matched = 0;
    for (const auto& row : rows) {
      auto range = refs.by_sha.equal_range(row.reference_sha256);
      if (range.first == range.second) continue;
      ++matched;
      const bool ok = row.passed && row.status == "ok";
      for (auto it = range.first; it != range.second; ++it) {
        const Stimulus& ref = *it->second;
        if (!ok) {
          failed[ref.path][cond] = row.status.empty() ? "failed" : row.status;
          continue;
        }
        const std::string& rec = e.modality == Modality::image ? row.png_path : row.wav_path;
        const std::string& rec_sha = e.modality == Modality::image ? row.png_sha256 : row.wav_sha256;
        std::string file;
        if (!s.folder.empty()) {
          file = (fs::path(s.folder) / layer / row.category / (fs::path(row.reference_path).stem().string() + metamer_ext(e.modality)))
                     .lexically_normal()
                     .string();
          if (!fs::is_regular_file(file))
            fail_at({e.file, key_line(s, "folder")},
                    where + ": the passing metamer of " + ref.path + " at " + layer + " is not in the folder (expected " + file +
                        "); point folder = at the synthesis output (OUT of metamerlab synth --out OUT)");
          if (sha_or_empty(file) != rec_sha)
            fail_at({e.file, key_line(s, "folder")},
                    where + ": " + file + " is not the metamer recorded in the database (SHA-256 differs); point folder = at the matching output or re-run synthesis");
        } else {
          file = locate_recorded(rec, rec_sha, fs::path(s.database).parent_path().string());
          if (file.empty())
            fail_at(db_at, where + ": the passing metamer of " + ref.path + " at " + layer + " (recorded as " + rec +
                               ") is not found with its recorded SHA-256; restore it, or add folder = \"OUT\" where the synthesis output now is");
        }
        auto& slot = e.metamers[ref.path];
        if (slot.count(cond)) ++several;
        slot[cond] = {file, rec_sha, {e.file, layer_line(s, layer)}};
        failed[ref.path].erase(cond);
      }
    }
    if (several > 0)
      e.notes.push_back({false, e.file, layer_line(s, layer),
                         cond + ": " + std::to_string(several) + " reference(s) have several passing metamers; the most recently recorded is used"});
    if (matched == 0)
      e.notes.push_back({false, e.file, layer_line(s, layer),
                         cond + ": none of the references has a metamer at this layer in " + s.database +
                             " (its metamers are of other stimuli); every trial of this condition falls back to natural"});
  }
}

// [SECTION] Folder ------------------------------------------------------------------------
void from_folder(Experiment& e, int si, const Refs& refs) {
  const MetamerSource& s = e.sources[si];
  const std::string where = "[[metamers]] " + s.model;
  const Where at{e.file, key_line(s, "folder")};
  if (!s.assume_passed)
    fail_at(at, where + ": a folder alone cannot tell passing metamers from failed ones (metamerlab synth writes both); add database = \"...\" that recorded them, or set assume_passed = true if " +
                    s.folder + " holds passing metamers only");
  if (!fs::is_directory(s.folder))
    fail_at(at, where + ": metamer folder " + s.folder + " does not exist; check the path (relative to the experiment file)");
  std::vector<std::string> present;
  for (const auto& d : fs::directory_iterator(s.folder))
    if (d.is_directory()) present.push_back(d.path().filename().string());
  std::sort(present.begin(), present.end());
  for (const auto& layer : s.layers) {
    if (!fs::is_directory(fs::path(s.folder) / layer))
      fail_at({e.file, layer_line(s, layer)}, where + ": no folder for layer \"" + layer + "\" in " + s.folder +
                                                  (present.empty() ? std::string() : " (layers there: " + join(present) + ")") +
                                                  "; fix the name or synthesize that layer");
    const std::string cond = s.label + "/" + layer;
    for (const auto& [path, ref] : refs.by_path) {
      fs::path f = fs::path(s.folder) / layer / ref->category / (fs::path(path).stem().string() + metamer_ext(e.modality));
      if (!fs::is_regular_file(f)) continue;
      const std::string file = f.lexically_normal().string();
      e.metamers[path][cond] = {file, data::sha256_file(file), {e.file, layer_line(s, layer)}};
    }
  }
}

// [SECTION] Table -------------------------------------------------------------------------
bool parse_flag(const std::string& v, bool& out) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (l == "1" || l == "true" || l == "yes") return out = true, true;
  if (l == "0" || l == "false" || l == "no") return out = false, true;
  return false;
}

void from_table(Experiment& e, int si, const Refs& refs, std::map<std::string, std::map<std::string, std::string>>& failed) {
  const MetamerSource& s = e.sources[si];
  const std::string where = "[[metamers]] " + s.model;
  Csv csv = read_csv(s.table, {e.file, key_line(s, "table")});
  check_columns(csv, {"reference", "layer", "file", "passed"}, {"reference", "layer", "file"});
  const int rc = csv.column("reference"), lc = csv.column("layer"), fc = csv.column("file"), pc = csv.column("passed");
  if (pc < 0 && !s.assume_passed)
    fail_at(csv.path, csv.header.line,
            "no passed column: the table cannot tell passing metamers from failed ones; add a passed column (1/0) or set assume_passed = true in " +
                where);
  const std::string dir = fs::path(s.table).parent_path().string();
  std::set<std::string> layers_seen;
  for (const auto& r : csv.rows) {
    const std::string ref = resolve_path(dir, r.cells[rc]);
    if (!refs.by_path.count(ref))
      fail_at(csv.path, r.line, "reference " + ref + " is not a stimulus of any main block's set; fix the path (relative to the table's folder)");
    const std::string& layer = r.cells[lc];
    if (std::find(s.layers.begin(), s.layers.end(), layer) == s.layers.end())
      fail_at(csv.path, r.line, "layer \"" + layer + "\" is not among " + where + " layers (" + join(s.layers) + "); add it there or fix the row");
    layers_seen.insert(layer);
    bool passed = true;
    if (pc >= 0 && !parse_flag(r.cells[pc], passed))
      fail_at(csv.path, r.line, "passed must be 1 or 0 (true/false), not \"" + r.cells[pc] + "\"");
    const std::string cond = s.label + "/" + layer;
    if (!passed) {
      if (!e.metamers[ref].count(cond)) failed[ref][cond] = "failed";
      continue;
    }
    const std::string file = resolve_path(dir, r.cells[fc]);
    if (!fs::is_regular_file(file))
      fail_at(csv.path, r.line, "metamer file " + file + " does not exist; fix the path (relative to the table's folder)");
    if (e.metamers[ref].count(cond))
      fail_at(csv.path, r.line, "a second passing metamer of " + ref + " at " + layer + "; keep one row");
    e.metamers[ref][cond] = {file, data::sha256_file(file), {csv.path, r.line}};
    failed[ref].erase(cond);
  }
  for (const auto& layer : s.layers)
    if (!layers_seen.count(layer))
      fail_at({e.file, layer_line(s, layer)}, where + ": table " + s.table + " has no rows for layer \"" + layer + "\"; add them or remove the layer");
}

}  // namespace

// [SECTION] Resolve -----------------------------------------------------------------------
void resolve_metamers(Experiment& e) {
  const Refs refs = main_references(e);
  std::map<std::string, std::map<std::string, std::string>> failed;
  for (int si = 0; si < static_cast<int>(e.sources.size()); ++si) {
    const MetamerSource& s = e.sources[si];
    if (s.live) continue;  // made during the session (app/live.h)
    if (!s.table.empty()) from_table(e, si, refs, failed);
    else if (!s.database.empty()) from_database(e, si, refs, failed);
    else from_folder(e, si, refs);
  }
  for (auto it = e.metamers.begin(); it != e.metamers.end();)
    it = it->second.empty() ? e.metamers.erase(it) : std::next(it);
  for (const auto& [path, ref] : refs.by_path)
    for (const auto& c : e.conditions) {
      if (c.natural) continue;
      auto m = e.metamers.find(path);
      if (m != e.metamers.end() && m->second.count(c.name)) continue;
      auto f = failed.find(path);
      e.unavailable[path][c.name] = f != failed.end() && f->second.count(c.name) ? f->second.at(c.name) : "missing";
    }
}

}  // namespace mm::experiments::detail
