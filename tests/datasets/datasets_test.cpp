// tests/datasets/test_datasets.cpp: the emoji16 and words16 builders (stimuli/datasets.h):
// the icon mapping covers every category in every style, the held-out styles and voices
// never reach the training split, builds are byte-identical for a seed and differ for
// another, clips have the asked length and RMS 0.1, and a missing tool or icon set is an
// error naming the Debian package. Small builds (a few items, a few categories) keep it quick.
//
// Sections
//   [SECTION] Helpers   reading manifests, index files, PNG sizes and WAV samples
//   [SECTION] Mapping   stimuli/emoji16_icons.tsv against the installed icons.json files
//   [SECTION] emoji16   split, determinism, size, errors
//   [SECTION] words16   split, clip format, determinism, errors
//   [SECTION] CLI       metamerlab dataset: exit codes and one-line errors
#include <gtest/gtest.h>
#include <sndfile.h>
#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "stimuli/datasets.h"
#include "tests/testutil.h"

namespace fs = std::filesystem;
using nlohmann::json;
using mm::test::TempDir;
namespace st = mm::stimuli;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------
json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

// index.tsv as rows of column name -> value.
std::vector<std::map<std::string, std::string>> read_index(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto cells = [](const std::string& l) {
    std::vector<std::string> out;
    std::stringstream s(l);
    std::string c;
    while (std::getline(s, c, '\t')) out.push_back(c);
    if (!l.empty() && l.back() == '\t') out.push_back("");
    return out;
  };
  while (std::getline(f, line)) {
    if (header.empty()) {
      header = cells(line);
      continue;
    }
    auto c = cells(line);
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < header.size() && i < c.size(); ++i) r[header[i]] = c[i];
    rows.push_back(r);
  }
  return rows;
}

// Every file under dir (relative path -> bytes).
std::map<std::string, std::string> all_files(const std::string& dir, const std::string& ext) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext)
      out[fs::relative(e.path(), dir).string()] = mm::test::read_bytes(e.path().string());
  return out;
}

std::vector<float> read_wav(const std::string& path, int* rate, int* channels) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) return {};
  std::vector<float> x(static_cast<size_t>(info.frames * info.channels));
  sf_readf_float(f, x.data(), info.frames);
  sf_close(f);
  *rate = info.samplerate;
  *channels = info.channels;
  return x;
}

// Sets an environment variable for the scope of a test and restores it.
struct ScopedEnv {
  std::string name, old;
  bool had = false;
  ScopedEnv(const std::string& n, const std::string& v) : name(n) {
    if (const char* o = std::getenv(n.c_str())) had = true, old = o;
    ::setenv(n.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had) ::setenv(name.c_str(), old.c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

// A folder on PATH holding links to only the named programs.
std::string bin_with(const TempDir& t, const std::vector<std::string>& programs) {
  const std::string dir = t / "bin";
  fs::create_directories(dir);
  for (const auto& p : programs) {
    const std::string real = st::find_on_path(p);
    if (!real.empty()) fs::create_symlink(real, fs::path(dir) / p);
  }
  return dir;
}


st::Emoji16Options small_emoji(const std::string& out, uint64_t seed) {
  st::Emoji16Options o;
  o.out_dir = out;
  o.size = 32;
  o.categories = {"cat", "knife", "truck"};
  o.train_per_category = 4;
  o.test_per_category = 2;
  o.reference_per_category = 2;
  o.seed = seed;
  return o;
}

st::Words16Options small_words(const std::string& out, uint64_t seed) {
  st::Words16Options o;
  o.out_dir = out;
  o.categories = {"dog", "keyboard"};
  o.train_per_category = 4;
  o.test_per_category = 3;
  o.reference_per_category = 2;
  o.utterances = 12;
  o.seed = seed;
  return o;
}

// [SECTION] Mapping -----------------------------------------------------------------------
TEST(Emoji16Mapping, EveryCategoryHasIconsInEveryStyleThatExist) {
  const std::string tsv = mm::test::source_dir() + "/stimuli/emoji16_icons.tsv";
  std::ifstream f(tsv);
  ASSERT_TRUE(f) << tsv;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> icons;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream s(line);
    std::string cat, style, list, name;
    std::getline(s, cat, '\t');
    std::getline(s, style, '\t');
    std::getline(s, list, '\t');
    std::stringstream l(list);
    while (std::getline(l, name, ',')) icons[{cat, style}].push_back(name);
  }
  for (const auto& style : st::emoji16_styles()) {
    const std::string path = mm::test::source_dir() + "/node_modules/@iconify-json/" + style + "/icons.json";
    ASSERT_TRUE(fs::exists(path)) << path << " missing: run npm ci in the source tree";
    const json set = read_json(path);
    for (const auto& cat : st::dataset_categories()) {
      const auto& names = icons[{cat, style}];
      EXPECT_FALSE(names.empty()) << cat << " has no icon in " << style;
      for (const auto& n : names)
        EXPECT_TRUE(set["icons"].contains(n) || set.value("aliases", json::object()).contains(n))
            << cat << "/" << style << ": " << n << " is not in " << path;
    }
  }
  // The builder's own reading agrees.
  const auto mapping = st::load_emoji16_mapping(tsv);
  EXPECT_EQ(mapping.size(), st::dataset_categories().size() * st::emoji16_styles().size());
  EXPECT_TRUE(st::check_emoji16_mapping(mapping, mm::test::source_dir()).empty());
}

TEST(Emoji16Mapping, LoaderRejectsACategoryMissingAStyle) {
  TempDir t("ds-map");
  std::ifstream f(mm::test::source_dir() + "/stimuli/emoji16_icons.tsv");
  std::string line, kept;
  while (std::getline(f, line))
    if (line.rfind("knife\temojione\t", 0) != 0) kept += line + "\n";
  mm::test::write_bytes(t / "m.tsv", kept);
  std::string err = mm::test::error_of<std::exception>([&] { st::load_emoji16_mapping(t / "m.tsv"); });
  EXPECT_NE(err.find("knife"), std::string::npos) << err;
  EXPECT_NE(err.find("emojione"), std::string::npos) << err;
}

// [SECTION] emoji16 -----------------------------------------------------------------------
TEST(Emoji16, HeldOutStyleNeverTrainsAndSplitsAreComplete) {
  TempDir t("ds-emoji");
  auto sum = st::build_emoji16(small_emoji(t / "e", 3));
  EXPECT_EQ(sum.train, 12);
  EXPECT_EQ(sum.test, 6);
  EXPECT_EQ(sum.reference, 6);
  const json m = read_json(t / "e/manifest.json");
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_EQ(m["holdout"], json({"twemoji"}));
  for (const auto& s : m["styles"]["train"]) EXPECT_NE(s.get<std::string>(), "twemoji");
  EXPECT_EQ(m["styles"]["test"], json({"twemoji"}));
  EXPECT_EQ(m["packages"]["@iconify-json/openmoji"]["license"], "CC-BY-SA-4.0");
  EXPECT_NE(m["rsvg_convert"].get<std::string>().find("rsvg-convert"), std::string::npos);
  const auto rows = read_index(t / "e/index.tsv");
  ASSERT_EQ(rows.size(), 24u);
  std::set<std::string> train_styles;
  for (const auto& r : rows) {
    ASSERT_TRUE(fs::exists(t / ("e/" + r.at("file")))) << r.at("file");
    EXPECT_EQ(r.at("file").rfind(r.at("split") + "/" + r.at("category") + "/", 0), 0u) << r.at("file");
    if (r.at("split") == "train") {
      EXPECT_NE(r.at("style"), "twemoji") << r.at("file");
      train_styles.insert(r.at("style"));
    } else {
      EXPECT_EQ(r.at("style"), "twemoji") << r.at("file");
    }
  }
  EXPECT_GE(train_styles.size(), 3u);
  // The files on disk are exactly the indexed ones, and 32x32 RGB.
  auto pngs = all_files(t / "e", ".png");
  EXPECT_EQ(pngs.size(), rows.size());
  int w = 0, h = 0, n = 0;
  const auto& first = pngs.begin()->second;
  ASSERT_TRUE(stbi_info_from_memory(reinterpret_cast<const unsigned char*>(first.data()), static_cast<int>(first.size()), &w, &h, &n));
  EXPECT_EQ(w, 32);
  EXPECT_EQ(h, 32);
  EXPECT_EQ(n, 3);
}

TEST(Emoji16, AnotherHoldoutMovesThatStyleOutOfTraining) {
  TempDir t("ds-emoji-h");
  auto o = small_emoji(t / "e", 1);
  o.categories = {"bear"};
  o.holdout = {"noto", "emojione"};
  st::build_emoji16(o);
  for (const auto& r : read_index(t / "e/index.tsv")) {
    const bool held = r.at("style") == "noto" || r.at("style") == "emojione";
    EXPECT_EQ(held, r.at("split") != "train") << r.at("file") << " " << r.at("style");
  }
}

TEST(Emoji16, SameSeedIsByteIdenticalOtherSeedDiffers) {
  TempDir t("ds-emoji-d");
  auto a = small_emoji(t / "a", 7);
  a.threads = 1;
  auto b = small_emoji(t / "b", 7);
  b.threads = 2;
  st::build_emoji16(a);
  st::build_emoji16(b);
  st::build_emoji16(small_emoji(t / "c", 8));
  const auto fa = all_files(t / "a", ".png"), fb = all_files(t / "b", ".png"), fc = all_files(t / "c", ".png");
  ASSERT_EQ(fa.size(), 24u);
  EXPECT_TRUE(fa == fb) << "same seed, different bytes";
  EXPECT_EQ(mm::test::read_bytes(t / "a/index.tsv"), mm::test::read_bytes(t / "b/index.tsv"));
  int same_train = 0, train = 0, same_ref = 0, ref = 0;
  for (const auto& [name, bytes] : fa) {
    if (name.rfind("train/", 0) == 0) ++train, same_train += fc.at(name) == bytes;
    if (name.rfind("reference/", 0) == 0) ++ref, same_ref += fc.at(name) == bytes;
  }
  EXPECT_EQ(same_train, 0) << "another seed gave " << same_train << " of " << train << " identical training images";
  EXPECT_EQ(same_ref, ref) << "the reference set has its own fixed seed";
}

TEST(Emoji16, SizeFlagAndRebuildInPlace) {
  TempDir t("ds-emoji-s");
  auto o = small_emoji(t / "e", 0);
  o.categories = {"knife"};
  o.size = 48;
  st::build_emoji16(o);
  o.train_per_category = 2;  // a second build replaces the first
  st::build_emoji16(o);
  auto pngs = all_files(t / "e", ".png");
  EXPECT_EQ(pngs.size(), 2u + 2u + 2u);
  int w = 0, h = 0, n = 0;
  const auto& p = pngs.begin()->second;
  ASSERT_TRUE(stbi_info_from_memory(reinterpret_cast<const unsigned char*>(p.data()), static_cast<int>(p.size()), &w, &h, &n));
  EXPECT_EQ(w, 48);
  EXPECT_FALSE(fs::exists(t / "e/.work"));
  // A foreign non-empty folder is refused.
  mm::test::write_bytes(t / "other/notes.txt", "mine");
  o.out_dir = t / "other";
  EXPECT_NE(mm::test::error_of<std::exception>([&] { st::build_emoji16(o); }).find("not empty"), std::string::npos);
}

TEST(Emoji16, UnknownStyleOrNoTrainingStyleIsAnError) {
  TempDir t("ds-emoji-e");
  auto o = small_emoji(t / "e", 0);
  o.holdout = {"comic-sans"};
  EXPECT_NE(mm::test::error_of<std::exception>([&] { st::build_emoji16(o); }).find("unknown style"), std::string::npos);
  o.holdout = st::emoji16_styles();
  EXPECT_NE(mm::test::error_of<std::exception>([&] { st::build_emoji16(o); }).find("leave at least one"), std::string::npos);
}

TEST(Emoji16, MissingRsvgConvertNamesThePackage) {
  TempDir t("ds-emoji-r");
  ScopedEnv path("PATH", bin_with(t, {}));
  std::string err = mm::test::error_of<std::exception>([&] { st::build_emoji16(small_emoji(t / "e", 0)); });
  EXPECT_NE(err.find("rsvg-convert"), std::string::npos) << err;
  EXPECT_NE(err.find("librsvg2-bin"), std::string::npos) << err;
}

TEST(Emoji16, MissingIconSetsSayRunNpmCiAndMissingNpmNamesThePackage) {
  TempDir t("ds-emoji-n");
  fs::create_directories(t / "root");
  auto o = small_emoji(t / "e", 0);
  o.icons_root = t / "root";
  std::string err = mm::test::error_of<std::exception>([&] { st::build_emoji16(o); });
  EXPECT_NE(err.find("npm ci"), std::string::npos) << err;
  ScopedEnv path("PATH", bin_with(t, {"rsvg-convert"}));
  err = mm::test::error_of<std::exception>([&] { st::build_emoji16(o); });
  EXPECT_NE(err.find("npm is not installed"), std::string::npos) << err;
  EXPECT_NE(err.find("apt-get install npm"), std::string::npos) << err;
}

// [SECTION] words16 -----------------------------------------------------------------------
TEST(Words16, ClipsHaveLengthRateAndRms) {
  TempDir t("ds-words");
  auto o = small_words(t / "w", 2);
  o.sample_rate = 8000;
  o.seconds = 0.75;
  auto sum = st::build_words16(o);
  EXPECT_EQ(sum.train, 8);
  EXPECT_EQ(sum.test, 6);
  EXPECT_EQ(sum.reference, 4);
  const auto rows = read_index(t / "w/index.tsv");
  ASSERT_EQ(rows.size(), 18u);
  for (const auto& r : rows) {
    int rate = 0, ch = 0;
    auto x = read_wav(t / ("w/" + r.at("file")), &rate, &ch);
    ASSERT_EQ(x.size(), 6000u) << r.at("file");
    EXPECT_EQ(rate, 8000);
    EXPECT_EQ(ch, 1);
    double mean = 0, ss = 0;
    for (float v : x) mean += v;
    mean /= x.size();
    for (float v : x) ss += (v - mean) * (v - mean);
    EXPECT_NEAR(std::sqrt(ss / x.size()), 0.1, 1e-4) << r.at("file");
    EXPECT_NEAR(mean, 0.0, 1e-4) << r.at("file");
  }
}

TEST(Words16, HeldOutVoicesNeverTrainDefaultSplitAnd1sAt16k) {
  TempDir t("ds-words-h");
  st::build_words16(small_words(t / "w", 4));
  const json m = read_json(t / "w/manifest.json");
  EXPECT_EQ(m["samples"], 16000);
  std::set<std::string> held;
  for (const auto& h : m["holdout"]) held.insert(h.get<std::string>());
  EXPECT_TRUE(held.count("flite:kal16") && held.count("festival:kal_diphone")) << "speaker kal held out in both synthesizers";
  EXPECT_FALSE(held.count("flite:slt")) << "slt, the one natural female voice, trains";
  EXPECT_TRUE(held.count("espeak-ng:en-us-nyc"));
  for (const auto& v : m["voices"]["train"]) EXPECT_FALSE(held.count(v.get<std::string>())) << v;
  for (const auto& v : m["voices"]["test"]) EXPECT_TRUE(held.count(v.get<std::string>())) << v;
  for (const auto& [voice, n] : m["utterance_pools"]["train"]["per_voice"].items()) EXPECT_FALSE(held.count(voice)) << voice;
  const auto rows = read_index(t / "w/index.tsv");
  std::set<std::string> test_voices, train_voices;
  for (const auto& r : rows) {
    const bool held_voice = held.count(r.at("voice")) > 0;
    const bool held_variant = !r.at("variant").empty() && held.count("+" + r.at("variant")) > 0;
    if (r.at("split") == "train") {
      EXPECT_FALSE(held_voice) << r.at("file") << " " << r.at("voice");
      EXPECT_FALSE(held_variant) << r.at("file") << " +" << r.at("variant");
      EXPECT_NE(r.at("speaker"), "kal") << r.at("file");
      train_voices.insert(r.at("voice"));
    } else {
      EXPECT_TRUE(held_voice) << r.at("file") << " " << r.at("voice");
      if (r.at("voice").rfind("espeak-ng:", 0) == 0) {
        EXPECT_TRUE(held_variant) << r.at("file");
      }
      test_voices.insert(r.at("voice"));
    }
  }
  EXPECT_GE(train_voices.size(), 3u);
  EXPECT_GE(test_voices.size(), 1u);
}

TEST(Words16, SameSeedIsByteIdenticalOtherSeedDiffers) {
  TempDir t("ds-words-d");
  auto a = small_words(t / "a", 9);
  a.categories = {"fish"};
  a.utterances = 6;
  auto b = a, c = a;
  b.out_dir = t / "b";
  b.threads = 1;
  c.out_dir = t / "c";
  c.seed = 10;
  st::build_words16(a);
  st::build_words16(b);
  st::build_words16(c);
  const auto fa = all_files(t / "a", ".wav"), fb = all_files(t / "b", ".wav"), fc = all_files(t / "c", ".wav");
  ASSERT_EQ(fa.size(), 9u);
  EXPECT_TRUE(fa == fb) << "same seed, different bytes";
  int same = 0, same_ref = 0, ref = 0;
  for (const auto& [name, bytes] : fa) {
    if (name.rfind("train/", 0) == 0) same += fc.at(name) == bytes;
    if (name.rfind("reference/", 0) == 0) ++ref, same_ref += fc.at(name) == bytes;
  }
  EXPECT_EQ(same, 0);
  EXPECT_EQ(same_ref, ref) << "the reference set has its own fixed seed";
}

TEST(Words16, HoldoutBySpeakerAndBadTokens) {
  TempDir t("ds-words-t");
  auto o = small_words(t / "w", 0);
  o.holdout = {"nobody"};
  EXPECT_NE(mm::test::error_of<std::exception>([&] { st::build_words16(o); }).find("unknown voice"), std::string::npos);
  o.holdout = {"+nonesuch"};
  EXPECT_NE(mm::test::error_of<std::exception>([&] { st::build_words16(o); }).find("unknown espeak-ng variant"), std::string::npos);
  o.holdout = {"festival:kal_diphone"};  // takes flite's kal16 (the same speaker) with it
  o.categories = {"car"};
  o.utterances = 11;
  st::build_words16(o);
  const json m = read_json(t / "w/manifest.json");
  EXPECT_EQ(m["voices"]["test"], json({"flite:kal16", "festival:kal_diphone"}));
  for (const auto& r : read_index(t / "w/index.tsv")) {
    if (r.at("split") == "train") {
      EXPECT_NE(r.at("speaker"), "kal") << r.at("file");
    }
  }
}

TEST(Words16, MissingSynthesizerNamesThePackage) {
  TempDir t("ds-words-m");
  {
    ScopedEnv path("PATH", bin_with(t, {"flite", "festival"}));
    std::string err = mm::test::error_of<std::exception>([&] { st::build_words16(small_words(t / "w", 0)); });
    EXPECT_NE(err.find("espeak-ng not found"), std::string::npos) << err;
    EXPECT_NE(err.find("apt-get install espeak-ng"), std::string::npos) << err;
  }
  TempDir t2("ds-words-m2");
  ScopedEnv path("PATH", bin_with(t2, {"espeak-ng", "flite"}));
  std::string err = mm::test::error_of<std::exception>([&] { st::build_words16(small_words(t2 / "w", 0)); });
  EXPECT_NE(err.find("install the Debian package festival"), std::string::npos) << err;
}

// [SECTION] CLI ---------------------------------------------------------------------------
TEST(DatasetCli, MissingToolIsOneLineExit1AndUsageErrorsExit2) {
  TempDir t("ds-cli");
  const std::string bin = mm::test::metamerlab_binary();
  fs::create_directories(t / "emptybin");
  auto r = mm::test::run("/usr/bin/env PATH=" + (t / "emptybin") + " " + bin + " dataset emoji16 --quiet --out " + (t / "e"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("librsvg2-bin"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = mm::test::run("/usr/bin/env PATH=" + (t / "emptybin") + " " + bin + " dataset words16 --quiet --out " + (t / "w"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("install the Debian package"), std::string::npos) << r.err;
  r = mm::test::run(bin + " dataset pictures --out " + (t / "x"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("emoji16 or words16"), std::string::npos) << r.err;
  r = mm::test::run(bin + " dataset emoji16 --out " + (t / "x") + " --seconds 2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = mm::test::run(bin + " dataset emoji16 --quiet --size 32 --per-category 2 --test-per-category 1 "
                          "--reference-per-category 1 --categories fish --out " + (t / "ok"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("emoji16: 2 train, 1 test, 1 reference"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(t / "ok/reference/fish/fish_00000.png"));
}

}  // namespace
