// data/sha256.cpp: SHA-256 through Nettle (nettle-dev), hex-encoded here.
#include "data/sha256.h"

#include <nettle/sha2.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace mm::data {
namespace {

std::string hex(const uint8_t (&digest)[SHA256_DIGEST_SIZE]) {
  static const char* k = "0123456789abcdef";
  std::string s(2 * SHA256_DIGEST_SIZE, '0');
  for (size_t i = 0; i < SHA256_DIGEST_SIZE; ++i) {
    s[2 * i] = k[digest[i] >> 4];
    s[2 * i + 1] = k[digest[i] & 15];
  }
  return s;
}

}  // namespace

std::string sha256_hex(const void* data, size_t n) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, n, static_cast<const uint8_t*>(data));
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
  return hex(digest);
}

std::string sha256_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error(path + ": cannot read the file to hash it (" + std::strerror(errno) +
                             "); check the path and its permissions");
  sha256_ctx ctx;
  sha256_init(&ctx);
  std::vector<uint8_t> buf(1 << 16);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) sha256_update(&ctx, n, buf.data());
  const bool bad = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (bad)
    throw std::runtime_error(path + ": read error while hashing (" + std::strerror(err) + "); check the file and the disk");
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
  return hex(digest);
}

}  // namespace mm::data
