// data/sha256.h: SHA-256 of byte buffers and of files, as lowercase hex (Nettle's sha256).
//
// The store keys models, stimuli and metamer files by these hashes; synth/ and
// experiments/ hash files with them too. Its own header so those modules need not
// include the store's API. Files are read in chunks, so a large sound or weights file is
// never held in memory.
#pragma once
#include <cstddef>
#include <string>

namespace mm::data {

// The SHA-256 of n bytes at data.
std::string sha256_hex(const void* data, size_t n);
// The SHA-256 of a file's bytes; throws std::runtime_error naming the file if unreadable.
std::string sha256_file(const std::string& path);

}  // namespace mm::data
