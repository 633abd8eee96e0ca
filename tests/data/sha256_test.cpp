// Tests for data's SHA-256: the FIPS 180-4 / NIST example vectors, padding edge cases at
// block boundaries, streaming a file in chunks, and the error for an unreadable file.
#include "data/sha256.h"
#include "tests/testutil.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

using mm::data::sha256_file;
using mm::data::sha256_hex;

std::string h(const std::string& s) { return sha256_hex(s.data(), s.size()); }

TEST(Sha256, StandardVectors) {
  EXPECT_EQ(h("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(h(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(h("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(h("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
              "klmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, MillionA) {
  const std::string a(1000000, 'a');
  EXPECT_EQ(h(a), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileStreamsInChunks) {
  mm::test::TempDir tmp("sha256");
  // 1,000,000 bytes is not a multiple of the 64 KiB read size nor of the 64-byte block.
  const std::string path = tmp / "million_a.bin";
  mm::test::write_bytes(path, std::string(1000000, 'a'));
  EXPECT_EQ(sha256_file(path), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const std::string empty = tmp / "empty.bin";
  mm::test::write_bytes(empty, "");
  EXPECT_EQ(sha256_file(empty), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// Lengths around the padding boundaries (55/56 bytes: length fits / does not fit in the
// last block) and around the 64 KiB file chunk, checked against coreutils' sha256sum and
// between the buffer and file functions.
TEST(Sha256, BoundaryLengthsMatchSha256sum) {
  mm::test::TempDir tmp("sha256b");
  std::mt19937 rng(7);
  bool have_tool = mm::test::run("command -v sha256sum").exit_code == 0;
  for (size_t n : {1u, 55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 128u, 65535u, 65536u, 65537u,
                   131072u + 3u}) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    const std::string path = tmp / ("b" + std::to_string(n));
    mm::test::write_bytes(path, bytes);
    const std::string mine = sha256_hex(bytes.data(), bytes.size());
    EXPECT_EQ(sha256_file(path), mine) << n;
    if (have_tool) {
      auto r = mm::test::run("sha256sum '" + path + "'");
      ASSERT_EQ(r.exit_code, 0);
      EXPECT_EQ(r.out.substr(0, 64), mine) << "length " << n;
    }
  }
}

TEST(Sha256, UnreadableFileNamesIt) {
  mm::test::TempDir tmp("sha256e");
  const std::string missing = tmp / "no_such_file.png";
  try {
    sha256_file(missing);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  // A folder opens but cannot be read.
  EXPECT_THROW(sha256_file(tmp.path), std::runtime_error);
}

}  // namespace
