// tests/fuzz/merge_target.cpp: the `merge` fuzz target (targets.h): the fuzzer's bytes are
// a shard database that data::merge_stores (what `metamerlab merge` runs) reads into a
// fresh OUT; and the seeds of its corpus, small shard databases made with the store's own
// API (write_merge_seeds, run by tests/fuzz/merge_seeds.cpp).
//
// The metamers of the seeds name their files by relative paths (files/K.png, ...), as a
// shard whose synth ran with a relative --out does; the target creates those files, with
// fixed bytes, in its own folder and runs the merge from there, so a seed made on one
// machine reaches the same code (files present, SHA-256 as recorded) on any other.
//
// Sections
//   [SECTION] Folder      the target's folder, its metamer files, the current folder
//   [SECTION] Target      the merge and the checks of what it leaves
//   [SECTION] Seeds       valid shards, then refused and damaged variants
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "data/merge.h"
#include "data/sha256.h"
#include "data/store.h"
#include "tests/fuzz/targets.h"

namespace mm::fuzz {
namespace fs = std::filesystem;

namespace {

// [SECTION] Folder ------------------------------------------------------------------------
const char* const kKinds[] = {"png", "npy", "wav"};
constexpr int kFiles = 4;  // metamers 0..3 have files

// The bytes of metamer k's file of one kind: fixed, so the seeds' SHA-256 hold everywhere.
std::string file_bytes(int k, const std::string& kind) {
  return kind + " bytes of fuzz metamer " + std::to_string(k) + "\n";
}

std::string relative_file(int k, const std::string& kind) { return "files/" + std::to_string(k) + "." + kind; }

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
  if (!f) throw std::logic_error("fuzz: cannot write the scratch file " + path);
}

// The target's folder (made once per process): files/K.KIND for every metamer file.
const std::string& merge_dir() {
  static const std::string dir = [] {
    const std::string d = fuzz_scratch() + "/merge";
    fs::create_directories(d + "/files");
    for (int k = 0; k < kFiles; ++k)
      for (const char* kind : kKinds) write_all(d + "/" + relative_file(k, kind), file_bytes(k, kind));
    return d;
  }();
  return dir;
}

// Runs in `dir` for its lifetime (the fuzzer and the replay test are single-threaded).
class InFolder {
 public:
  explicit InFolder(const std::string& dir) : before_(fs::current_path()) { fs::current_path(dir); }
  ~InFolder() {
    std::error_code ec;
    fs::current_path(before_, ec);
  }
  InFolder(const InFolder&) = delete;
  InFolder& operator=(const InFolder&) = delete;

 private:
  fs::path before_;
};

void remove_db(const std::string& path) {
  std::error_code ec;
  for (const char* sfx : {"", "-wal", "-shm", "-journal"}) fs::remove(path + sfx, ec);
}

// A broken promise of merge_stores: reported as a crash, so the fuzzer keeps the input.
[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz merge: %s\n", what.c_str());
  std::abort();
}

}  // namespace

// [SECTION] Target ------------------------------------------------------------------------
bool merge_shard_bytes(const uint8_t* data, size_t size) {
  static const bool verbose = std::getenv("MM_FUZZ_VERBOSE") != nullptr;
  const std::string& dir = merge_dir();
  const std::string in = dir + "/shard.db", out = dir + "/out.db";
  remove_db(in);
  remove_db(out);
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  write_all(in, bytes);
  InFolder here(dir);
  bool accepted = false;
  try {
    (void)data::merge_stores(out, {in});
    accepted = true;
    if (verbose) std::fprintf(stderr, "fuzz: accepted\n");
  } catch (const std::exception& e) {
    if (verbose) std::fprintf(stderr, "fuzz: refused: %s\n", e.what());
    // The project's rule for bad input: one line, naming the file.
    const std::string m = e.what();
    for (char c : m)  // a line break, or a control character that could move the cursor
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) finding("a refusal is not one line: " + m);
    if (m.find(in) == std::string::npos) finding("a refusal does not name the shard: " + m);
  }
  // The shard is opened read-only: never written.
  if (read_all(in) != bytes) finding("the merge changed its input " + in);
  if (!accepted) {
    // OUT did not exist before: a refused merge removes it again.
    if (fs::exists(out)) finding("a refused merge left " + out + " behind");
    return false;
  }
  try {
    data::Store s(out);
    const std::string check = s.integrity_check();
    if (check != "ok") finding("the merged " + out + " fails its integrity check: " + check);
  } catch (const std::exception& e) {
    finding(std::string("the merged database cannot be opened: ") + e.what());
  }
  // Merging the same shard again changes nothing (merge.h).
  try {
    const data::MergeReport again = data::merge_stores(out, {in});
    if (again.models_added + again.nulls_added + again.runs_added + again.metamers_added != 0)
      finding("merging the same shard again added records");
  } catch (const std::exception& e) {
    finding(std::string("merging the same shard again was refused: ") + e.what());
  }
  return true;
}

int fuzz_merge(const uint8_t* data, size_t size) {
  (void)merge_shard_bytes(data, size);
  return 0;
}

// [SECTION] Seeds -------------------------------------------------------------------------
namespace {

data::ModelRecord model(const std::string& tag, const std::string& modality) {
  data::ModelRecord m;
  m.spec = "zoo:fuzz-" + tag;
  m.sha256 = std::string(63, 'a') + tag.substr(0, 1);
  m.modality = modality;
  m.info_json = R"({"layers":["l1","l2"],"modality":")" + modality + R"("})";
  return m;
}

data::NullRecord null_of(int64_t model_id, const std::string& layer) {
  data::NullRecord n;
  n.model_id = model_id;
  n.model_sha256 = std::string(63, 'a') + "i";
  n.layer = layer;
  n.stimulus_set = "refs";
  n.set_sha256 = std::string(64, 'c');
  n.pairs = 50;
  n.seed = 7;
  n.spearman_max = 0.25;
  n.pearson_max = 0.5;
  n.snr_max = 3.5;
  n.spearman_mean = 0.125;
  n.pearson_mean = 0.25;
  n.snr_mean = 1.5;
  n.program_version = "fuzz";
  n.wall_s = 2;
  return n;
}

data::SynthRunRecord run_of(int64_t model_id, const std::string& options) {
  data::SynthRunRecord r;
  r.model_id = model_id;
  r.command = "metamerlab synth --model zoo:fuzz --out files";
  r.options_json = options;
  r.out_dir = "files";
  r.program_version = "fuzz";
  return r;
}

// Metamer k of a run, its files (kinds as given: "png,npy" or "wav,npy") recorded with their
// SHA-256 (taken from the target's own files).
data::MetamerRecord metamer(int64_t run_id, int k, int64_t null_id, const std::string& layer, bool audio) {
  data::MetamerRecord m;
  m.run_id = run_id;
  m.reference_path = "refs/" + std::to_string(k) + (audio ? ".wav" : ".png");
  m.reference_sha256 = std::string(63, 'r') + std::to_string(k % 10);
  m.category = k % 2 ? "car" : "boat";
  m.layer = layer;
  m.seed = 100 + k;
  m.iterations = 20;
  m.final_loss = 0.5 + k;
  m.spearman = 0.875;
  m.pearson = 0.75;
  m.snr_db = 12.5;
  m.null_spearman_max = 0.25;
  m.null_pearson_max = 0.5;
  m.null_snr_max = 3.5;
  m.null_id = null_id;
  m.pred_metamer = m.pred_reference = m.category;
  m.passed = k % 3 != 2;
  m.status = m.passed ? "ok" : "failed";
  m.message = m.passed ? "" : "did not pass";
  const std::string& dir = merge_dir();
  auto set = [&](std::string& path, std::string& sha, const char* kind) {
    path = relative_file(k, kind);
    sha = data::sha256_file(dir + "/" + path);
  };
  set(audio ? m.wav_path : m.png_path, audio ? m.wav_sha256 : m.png_sha256, audio ? "wav" : "png");
  set(m.float_path, m.float_sha256, "npy");
  m.wall_s = 1.25;
  m.loss_curve_json = "[[0,2.5],[10,1],[20," + std::to_string(0.5 + k) + "]]";
  return m;
}

void sql(sqlite3* db, const std::string& text) {
  char* err = nullptr;
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string m = err ? err : "?";
    sqlite3_free(err);
    throw std::logic_error("fuzz seeds: " + text + ": " + m);
  }
}

// Rewrites a database with 512-byte pages (a small seed: the fuzzer mutates every byte),
// then runs `then` (more SQL) on it.
void compact(const std::string& path, const std::string& then = "") {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(db);
    throw std::logic_error("fuzz seeds: cannot open " + path);
  }
  try {
    sql(db, "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;");
    if (!then.empty()) sql(db, then);
  } catch (...) {
    sqlite3_close_v2(db);
    throw;
  }
  sqlite3_close_v2(db);
  remove_db(path + "-journal");
}

// The valid shards: 0 an image run (two metamers, one null); 1 image and audio, two
// models, two layers, a metamer without null and a repeated metamer; 2 no records at all.
void valid_shard(const std::string& path, int variant) {
  data::Store s(path);
  if (variant == 2) return;
  const int64_t m = s.upsert_model(model("image", "image"));
  const int64_t n = s.add_null(null_of(m, "l1"));
  const int64_t r = s.begin_synth_run(run_of(m, R"({"model_sha256":"i","seed":0,"batch":2})"));
  s.add_metamer(metamer(r, 0, n, "l1", false));
  s.add_metamer(metamer(r, 1, n, "l1", false));
  s.finish_synth_run(r, "done", 3.5);
  if (variant == 0) return;
  s.add_metamer(metamer(r, 2, 0, "l2", false));
  const int64_t ma = s.upsert_model(model("sound", "audio"));
  const int64_t ra = s.begin_synth_run(run_of(ma, R"({"model_sha256":"s","seed":1,"batch":1})"));
  s.add_metamer(metamer(ra, 3, 0, "l1", true));
  // A second run with the first one's options (a shard run twice): the same metamer again.
  const int64_t r2 = s.begin_synth_run(run_of(m, R"({"model_sha256":"i","seed":0,"batch":2})"));
  s.add_metamer(metamer(r2, 0, n, "l1", false));
}

void copy_prefix(const std::string& from, const std::string& to, size_t n) {
  const std::string b = read_all(from);
  write_all(to, b.substr(0, std::min(n, b.size())));
}

}  // namespace

// The seeds' names carry no .db (git ignores *.db), so they can be kept as they are.
int write_merge_seeds(const std::string& dir) {
  fs::create_directories(dir);
  int written = 0;
  const auto seed = [&](const std::string& name) {
    ++written;
    const std::string p = dir + "/" + name;
    remove_db(p);
    return p;
  };
  const std::string v0 = seed("valid-image"), v1 = seed("valid-two-models");
  valid_shard(v0, 0);
  compact(v0);
  valid_shard(v1, 1);
  compact(v1);
  const std::string empty = seed("valid-empty");
  valid_shard(empty, 2);
  compact(empty);
  // A shard left in WAL mode, as synth leaves its database.
  const std::string wal = seed("valid-wal");
  valid_shard(wal, 0);
  compact(wal, "PRAGMA journal_mode=WAL;");
  // Refused: a metamer whose file is missing; one whose file changed; two runs with the
  // same options whose metamer differs; a session's rows; a newer schema; another
  // program's database.
  {
    const std::string p = seed("refused-missing-file");
    data::Store s(p);
    const int64_t m = s.upsert_model(model("image", "image"));
    const int64_t r = s.begin_synth_run(run_of(m, "{}"));
    data::MetamerRecord x = metamer(r, 0, 0, "l1", false);
    x.png_path = "files/missing.png";
    s.add_metamer(x);
  }
  {
    const std::string p = seed("refused-changed-file");
    data::Store s(p);
    const int64_t m = s.upsert_model(model("image", "image"));
    const int64_t r = s.begin_synth_run(run_of(m, "{}"));
    data::MetamerRecord x = metamer(r, 1, 0, "l1", false);
    x.float_sha256 = std::string(64, '0');
    s.add_metamer(x);
  }
  {
    const std::string p = seed("refused-conflict");
    data::Store s(p);
    const int64_t m = s.upsert_model(model("image", "image"));
    const int64_t r1 = s.begin_synth_run(run_of(m, "{}")), r2 = s.begin_synth_run(run_of(m, "{}"));
    s.add_metamer(metamer(r1, 0, 0, "l1", false));
    data::MetamerRecord x = metamer(r2, 0, 0, "l1", false);
    x.final_loss += 1;
    s.add_metamer(x);
  }
  {
    // Text from the shard in the message: a reference path with a line break.
    const std::string p = seed("refused-line-break");
    data::Store s(p);
    const int64_t m = s.upsert_model(model("image", "image"));
    const int64_t r = s.begin_synth_run(run_of(m, "{}"));
    data::MetamerRecord x = metamer(r, 2, 0, "l1", false);
    x.reference_path = "refs/2\n.png";
    x.png_path = "files/missing\r.png";
    s.add_metamer(x);
  }
  {
    const std::string p = seed("refused-session-rows");
    data::Store s(p);
    s.upsert_participant("P01");
  }
  for (const char* name : {"refused-missing-file", "refused-changed-file", "refused-conflict",
                           "refused-line-break", "refused-session-rows"})
    compact(dir + "/" + name);
  const std::string newer = seed("refused-newer-schema");
  fs::copy_file(v0, newer);
  compact(newer, "PRAGMA user_version=999;");
  const std::string other = seed("refused-other-program");
  fs::copy_file(v0, other);
  compact(other, "PRAGMA application_id=0;");
  // Damaged: cut short at three points; a page of the middle overwritten; not a database.
  const size_t size = fs::file_size(v1);
  copy_prefix(v1, seed("cut-100-bytes"), 100);
  copy_prefix(v1, seed("cut-one-page"), 512);
  copy_prefix(v1, seed("cut-half"), size / 2);
  {
    std::string b = read_all(v1);
    for (size_t i = size / 2; i < size / 2 + 512 && i < b.size(); ++i) b[i] = static_cast<char>(b[i] ^ 0x5a);
    write_all(seed("damaged-page"), b);
  }
  write_all(seed("not-a-database"), "this is not a database\n");
  return written;
}

}  // namespace mm::fuzz
