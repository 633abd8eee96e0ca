// tests/stimuli/test_files.cpp: .npy save/load (exact header bytes, round trip, rejection of
// other dtypes and damaged files), write_file_atomic, ensure_writable_dir and list_stimuli
// on ImageFolder-style trees.
//
// Sections
//   [SECTION] npy          header layout, round trip, hand-made headers, bad files
//   [SECTION] Atomic       write_file_atomic
//   [SECTION] Folders      ensure_writable_dir
//   [SECTION] Sets         list_stimuli
#include "stimuli/stimuli.h"
#include "tests/testutil.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using mm::stimuli::Array;
using mm::stimuli::Item;
using mm::stimuli::Modality;
using mm::test::TempDir;

namespace {

using mm::test::error_of;

// A .npy 1.0 file from a header dict (padded with spaces to `align`) and raw data bytes.
std::string npy_bytes(const std::string& dict, const std::string& data, size_t align = 64, int major = 1) {
  size_t pre = major == 1 ? 10 : 12;
  size_t unpadded = pre + dict.size() + 1;
  size_t total = (unpadded + align - 1) / align * align;
  std::string header = dict + std::string(total - unpadded, ' ') + "\n";
  std::string out = std::string("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  size_t len = header.size();
  out.push_back(static_cast<char>(len & 0xFF));
  out.push_back(static_cast<char>((len >> 8) & 0xFF));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  return out + header + data;
}

std::string le_floats(const std::vector<float>& v) {
  std::string s;
  for (float f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int b = 0; b < 4; ++b) s.push_back(static_cast<char>((u >> (8 * b)) & 0xFF));
  }
  return s;
}

// [SECTION] npy ---------------------------------------------------------------------------
TEST(Npy, HeaderBytesAreNumpyVersion1) {
  TempDir t("npy-hdr");
  Array a;
  a.shape = {2, 3, 4};
  for (int i = 0; i < 24; ++i) a.data.push_back(0.5f * i - 3.0f);
  std::string p = t / "a.npy";
  mm::stimuli::save_npy(p, a);
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  std::string b = mm::test::read_bytes(p);
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(b.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(b[6], 1);
  EXPECT_EQ(b[7], 0);
  size_t hlen = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u) << "data must start on a 64-byte boundary";
  ASSERT_EQ(b.size(), 10 + hlen + 24 * 4);
  std::string header = b.substr(10, hlen);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 0), 0u) << header;
  for (size_t i = header.find('}') + 1; i + 1 < header.size(); ++i) EXPECT_EQ(header[i], ' ') << i;
  EXPECT_EQ(b.substr(10 + hlen), le_floats(a.data));
}

TEST(Npy, OneDimensionalAndScalarShapes) {
  TempDir t("npy-1d");
  Array a;
  a.shape = {5};
  a.data = {1, 2, 3, 4, 5};
  mm::stimuli::save_npy(t / "v.npy", a);
  std::string b = mm::test::read_bytes(t / "v.npy");
  EXPECT_NE(b.find("'shape': (5,), }"), std::string::npos) << "a 1-tuple needs its comma";
  Array s;
  s.shape = {};
  s.data = {42.0f};
  mm::stimuli::save_npy(t / "s.npy", s);
  EXPECT_NE(mm::test::read_bytes(t / "s.npy").find("'shape': (), }"), std::string::npos);
  Array back = mm::stimuli::load_npy(t / "s.npy");
  EXPECT_TRUE(back.shape.empty());
  EXPECT_EQ(back.data, std::vector<float>{42.0f});
  Array z;
  z.shape = {3, 0};
  mm::stimuli::save_npy(t / "z.npy", z);
  Array zb = mm::stimuli::load_npy(t / "z.npy");
  EXPECT_EQ(zb.shape, (std::vector<int64_t>{3, 0}));
  EXPECT_TRUE(zb.data.empty());
}

TEST(Npy, RoundTripIsBitExact) {
  TempDir t("npy-rt");
  Array a;
  a.shape = {3, 17, 11};
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 100.0f);
  for (int i = 0; i < 3 * 17 * 11; ++i) a.data.push_back(d(rng));
  a.data[0] = -0.0f;
  a.data[1] = std::numeric_limits<float>::infinity();
  a.data[2] = std::numeric_limits<float>::denorm_min();
  mm::stimuli::save_npy(t / "r.npy", a);
  Array b = mm::stimuli::load_npy(t / "r.npy");
  EXPECT_EQ(b.shape, a.shape);
  ASSERT_EQ(b.data.size(), a.data.size());
  EXPECT_EQ(std::memcmp(a.data.data(), b.data.data(), a.data.size() * 4), 0);
  EXPECT_TRUE(std::signbit(b.data[0]));
}

TEST(Npy, LoadsHandMadeHeadersNumpyMayWrite) {
  TempDir t("npy-hand");
  std::vector<float> v = {1.5f, -2.25f, 3.0f, 4.0f, 5.0f, 6.0f};
  // Older numpy: 16-byte alignment; keys in another order; double quotes; version 2.0.
  mm::test::write_bytes(t / "a.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le_floats(v), 16));
  mm::test::write_bytes(t / "b.npy", npy_bytes("{'shape': (6,), 'fortran_order': False, 'descr': '<f4'}", le_floats(v)));
  mm::test::write_bytes(t / "c.npy", npy_bytes("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 6)}", le_floats(v)));
  mm::test::write_bytes(t / "d.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", le_floats(v), 64, 2));
  const std::vector<std::vector<int64_t>> shapes = {{2, 3}, {6}, {1, 6}, {3, 2}};
  const char* names[] = {"a.npy", "b.npy", "c.npy", "d.npy"};
  for (int i = 0; i < 4; ++i) {
    Array a = mm::stimuli::load_npy(t / names[i]);
    EXPECT_EQ(a.shape, shapes[i]) << names[i];
    EXPECT_EQ(a.data, v) << names[i];
  }
}

TEST(Npy, RejectsOtherDtypesAndDamagedFiles) {
  TempDir t("npy-bad");
  std::string data = le_floats({1, 2, 3, 4});
  struct Case {
    std::string name, bytes, expect;
  };
  const std::vector<Case> cases = {
      {"f8.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data), "<f8"},
      {"be.npy", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", data), ">f4"},
      {"i4.npy", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", data), "<i4"},
      {"fortran.npy", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data), "Fortran"},
      {"short.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", data), "truncated"},
      {"long.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data), "unexpected bytes"},
      {"huge.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 8), }", data),
       "truncated"},
      {"noshape.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, }", data), "shape"},
      {"garbled.npy", npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }", data), "header"},
      {"magic.npy", "\x93NUMPX" + std::string(100, ' '), "magic"},
      {"cut-header.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", data).substr(0, 30),
       "truncated"},
      {"empty.npy", "", "empty"},
      {"text.npy", "hello world, not numpy", "not a .npy"},
  };
  for (const Case& c : cases) {
    std::string p = t / c.name;
    mm::test::write_bytes(p, c.bytes);
    std::string msg = error_of([&] { mm::stimuli::load_npy(p); });
    EXPECT_NE(msg.find(p), std::string::npos) << c.name << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": " << msg;
  }
  std::string msg = error_of([&] { mm::stimuli::load_npy(t / "missing.npy"); });
  EXPECT_NE(msg.find("missing.npy"), std::string::npos) << msg;
  // The dtype message says what is expected and how to fix it.
  msg = error_of([&] { mm::stimuli::load_npy(t / "f8.npy"); });
  EXPECT_NE(msg.find("<f4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32"), std::string::npos) << msg;
}

TEST(Npy, SaveRejectsInconsistentArrays) {
  TempDir t("npy-save-bad");
  Array a;
  a.shape = {2, 2};
  a.data = {1, 2, 3};
  std::string msg = error_of([&] { mm::stimuli::save_npy(t / "x.npy", a); });
  EXPECT_NE(msg.find("x.npy"), std::string::npos) << msg;
  a.shape = {-1, 2};
  a.data = {};
  error_of([&] { mm::stimuli::save_npy(t / "y.npy", a); });
  EXPECT_FALSE(fs::exists(t / "x.npy"));
  EXPECT_FALSE(fs::exists(t / "y.npy"));
}

// [SECTION] Atomic ------------------------------------------------------------------------
TEST(AtomicWrite, WritesOverwritesAndLeavesNoTemp) {
  TempDir t("atomic");
  std::string p = t / "f.bin";
  std::string bytes("a\0b\xff", 4);
  mm::stimuli::write_file_atomic(p, bytes);
  EXPECT_EQ(mm::test::read_bytes(p), bytes);
  mm::stimuli::write_file_atomic(p, "second");
  EXPECT_EQ(mm::test::read_bytes(p), "second");
  mm::stimuli::write_file_atomic(p, "");
  EXPECT_EQ(mm::test::read_bytes(p), "");
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  std::string big(3 << 20, 'x');
  mm::stimuli::write_file_atomic(p, big);
  EXPECT_EQ(fs::file_size(p), big.size());
}

TEST(AtomicWrite, FailuresNameThePathAndCleanUp) {
  TempDir t("atomic-bad");
  std::string missing = t / "no/such/dir/f.bin";
  std::string msg = error_of([&] { mm::stimuli::write_file_atomic(missing, "x"); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;

  // Renaming a file over a folder fails after the temp file was written: it must go.
  fs::create_directories(t / "adir/inner");
  std::string dir_target = t / "adir";
  msg = error_of([&] { mm::stimuli::write_file_atomic(dir_target, "x"); });
  EXPECT_NE(msg.find(dir_target), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir_target + ".tmp"));
  EXPECT_TRUE(fs::is_directory(dir_target));

  mm::test::write_bytes(t / "plain", "x");
  std::string under_file = t / "plain/f.bin";
  msg = error_of([&] { mm::stimuli::write_file_atomic(under_file, "x"); });
  EXPECT_NE(msg.find(under_file), std::string::npos) << msg;
}

// [SECTION] Folders -----------------------------------------------------------------------
TEST(WritableDir, CreatesNestedFoldersAndLeavesNoProbe) {
  TempDir t("wdir");
  std::string d = t / "a/b/c";
  mm::stimuli::ensure_writable_dir(d);
  EXPECT_TRUE(fs::is_directory(d));
  EXPECT_TRUE(fs::is_empty(d)) << "the write probe must be removed";
  mm::stimuli::ensure_writable_dir(d);  // existing: fine
  mm::stimuli::ensure_writable_dir(d + "/");
}

TEST(WritableDir, PathUnderARegularFileFailsEvenForRoot) {
  TempDir t("wdir-file");
  mm::test::write_bytes(t / "FILE", "x");
  std::string d = t / "FILE/sub";
  std::string msg = error_of([&] { mm::stimuli::ensure_writable_dir(d); });
  EXPECT_NE(msg.find(d), std::string::npos) << msg;
  EXPECT_NE(msg.find("--out"), std::string::npos) << msg;
  // The regular file itself is not a folder either.
  msg = error_of([&] { mm::stimuli::ensure_writable_dir(t / "FILE"); });
  EXPECT_NE(msg.find(t / "FILE"), std::string::npos) << msg;
  EXPECT_THROW(mm::stimuli::ensure_writable_dir(""), std::runtime_error);
}

TEST(WritableDir, ReadOnlyFolder) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: permission bits do not stop root";
  TempDir t("wdir-ro");
  std::string d = t / "ro";
  fs::create_directories(d);
  ASSERT_EQ(::chmod(d.c_str(), 0500), 0);
  std::string msg = error_of([&] { mm::stimuli::ensure_writable_dir(d); });
  ::chmod(d.c_str(), 0700);
  EXPECT_NE(msg.find("cannot write to " + d), std::string::npos) << msg;
  EXPECT_NE(msg.find("permission denied"), std::string::npos) << msg;
}

// [SECTION] Sets --------------------------------------------------------------------------
void touch(const std::string& p) { mm::test::write_bytes(p, "x"); }

TEST(Sets, ImageFolderTreeIsListedAndSorted) {
  TempDir t("sets");
  std::string root = t / "stim";
  touch(root + "/dogs/b.png");
  touch(root + "/dogs/A.JPG");
  touch(root + "/dogs/sub/deep.jpeg");
  touch(root + "/dogs/readme.txt");
  touch(root + "/cats/z.bmp");
  touch(root + "/cats/.hidden.png");
  touch(root + "/.git/x.png");
  touch(root + "/top.png");
  touch(root + "/song.wav");
  fs::create_directories(root + "/empty_category");
  std::vector<Item> items = mm::stimuli::list_stimuli({root}, Modality::image);
  std::vector<std::pair<std::string, std::string>> got;
  for (const Item& i : items) got.push_back({i.category, i.path});
  std::vector<std::pair<std::string, std::string>> want = {
      {"cats", root + "/cats/z.bmp"},
      {"dogs", root + "/dogs/A.JPG"},
      {"dogs", root + "/dogs/b.png"},
      {"dogs", root + "/dogs/sub/deep.jpeg"},
      {"stim", root + "/top.png"},
  };
  EXPECT_EQ(got, want);

  // Trailing slash: same files and categories (paths keep the folder as given).
  std::vector<Item> slash = mm::stimuli::list_stimuli({root + "/"}, Modality::image);
  ASSERT_EQ(slash.size(), want.size());
  EXPECT_EQ(slash.back().category, "stim");

  std::vector<Item> audio = mm::stimuli::list_stimuli({root}, Modality::audio);
  ASSERT_EQ(audio.size(), 1u);
  EXPECT_EQ(audio[0].path, root + "/song.wav");
  EXPECT_EQ(audio[0].category, "stim");
}

TEST(Sets, FilesAndFoldersMixAndSortTogether) {
  TempDir t("sets-mix");
  touch(t / "a/zebra/1.png");
  touch(t / "b/ant/2.png");
  touch(t / "loose/3.gif");
  std::vector<Item> items =
      mm::stimuli::list_stimuli({t / "a", t / "loose/3.gif", t / "b", t / "a"}, Modality::image);
  ASSERT_EQ(items.size(), 3u) << "duplicates collapse";
  EXPECT_EQ(items[0].category, "ant");
  EXPECT_EQ(items[1].category, "loose");
  EXPECT_EQ(items[1].path, t / "loose/3.gif");
  EXPECT_EQ(items[2].category, "zebra");
}

TEST(Sets, ErrorsNameTheInput) {
  TempDir t("sets-err");
  fs::create_directories(t / "nothing/cat");
  touch(t / "nothing/cat/notes.txt");
  touch(t / "x.txt");
  std::string empty_dir = t / "nothing";
  std::string msg = error_of([&] { mm::stimuli::list_stimuli({empty_dir}, Modality::image); });
  EXPECT_NE(msg.find("no .png/.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find(empty_dir), std::string::npos) << msg;
  EXPECT_NE(msg.find(empty_dir + "/<category>/<file>"), std::string::npos) << msg;
  msg = error_of([&] { mm::stimuli::list_stimuli({empty_dir}, Modality::audio); });
  EXPECT_NE(msg.find("no .wav/.flac"), std::string::npos) << msg;

  std::string missing = t / "missing";
  msg = error_of([&] { mm::stimuli::list_stimuli({missing}, Modality::image); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;

  std::string wrong = t / "x.txt";
  msg = error_of([&] { mm::stimuli::list_stimuli({wrong}, Modality::image); });
  EXPECT_NE(msg.find(wrong), std::string::npos) << msg;

  EXPECT_THROW(mm::stimuli::list_stimuli({}, Modality::image), std::runtime_error);
}

}  // namespace
