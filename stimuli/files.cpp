// stimuli/files.cpp: plain arrays, atomic file writes, writable-folder checks and the
// float32 .npy format used for exact copies of stimuli.
//
// Sections
//   [SECTION] Arrays        Array::numel
//   [SECTION] Files         write_file_atomic, ensure_writable_dir
//   [SECTION] Exact copies  save_npy, load_npy (with a small header parser)
#include "stimuli/stimuli.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mm::stimuli {

// [SECTION] Arrays ------------------------------------------------------------------------
int64_t Array::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// [SECTION] Files -------------------------------------------------------------------------
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// fsyncs the folder holding `path` so a rename inside it survives a crash (best effort).
void sync_parent_dir(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  if (path.empty()) fail("write_file_atomic: empty output path; pass a file name");
  const std::string tmp = path + ".tmp";
  const std::string fix = "; check that the folder exists and is writable, or choose another output path";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path + ": cannot create " + tmp + " (" + std::strerror(errno) + ")" + fix);
  auto abort_with = [&](const std::string& what, int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(path + ": " + what + " (" + std::strerror(err) + ")" + fix);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      abort_with("cannot write " + tmp, errno);
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) abort_with("cannot flush " + tmp + " to disk", errno);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(path + ": cannot close " + tmp + " (" + std::strerror(err) + ")" + fix);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(path + ": cannot rename " + tmp + " over it (" + std::strerror(err) + ")" + fix);
  }
  sync_parent_dir(path);
}

void ensure_writable_dir(const std::string& dir) {
  if (dir.empty()) fail("output folder name is empty; pass a folder path (e.g. --out out/)");
  const std::string fix = "; choose another --out or fix permissions";
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    fail("cannot write to " + dir + ": it exists and is not a folder" + fix);
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create " + dir + ": " + ec.message() + fix);
  if (!fs::is_directory(dir, ec)) fail("cannot write to " + dir + ": it exists and is not a folder" + fix);
  // Permissions bits do not tell the whole story (read-only mounts, ACLs, root): try it.
  static int counter = 0;
  std::string probe = (fs::path(dir) / (".mm-write-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++)))
                          .string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::string reason = std::strerror(errno);
    if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
    fail("cannot write to " + dir + ": " + reason + fix);
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

// [SECTION] Exact copies ------------------------------------------------------------------
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";  // 6 bytes
constexpr size_t kNpyMagicLen = 6;

// Header text quoted in a message: printable ASCII only, at most 40 characters.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 40)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return s.size() > 40 ? out + "..." : out;
}

std::string read_whole_file(const std::string& path, const char* kind) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path + ": file not found; check the path");
  if (fs::is_directory(path, ec)) fail(path + ": is a folder, not a " + std::string(kind) + " file; pass a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path + ": cannot open for reading (" + std::strerror(errno) + "); check permissions");
  std::ostringstream s;
  s << f.rdbuf();
  if (f.bad()) fail(path + ": read error; check the disk and the file");
  return s.str();
}

// A tiny parser for the Python dict literal in a .npy header:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  bool has_descr = false, has_order = false, has_shape = false;
  std::vector<int64_t> shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') { ++i_; break; }
      std::string key = parse_string();
      expect(':');
      skip_ws();
      if (key == "descr") {
        h.descr = parse_string();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        h.has_order = true;
      } else if (key == "shape") {
        h.shape = parse_tuple();
        h.has_shape = true;
      } else {
        bad("unknown header key '" + printable(key) + "'");
      }
      skip_ws();
      if (peek() == ',') { ++i_; continue; }
      if (peek() == '}') { ++i_; break; }
      bad("expected ',' or '}' in header");
    }
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_ + ": malformed .npy header (" + what + "); re-save it with numpy.save");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string parse_string() {
    skip_ws();
    char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool parse_bool() {
    if (s_.compare(i_, 4, "True") == 0) { i_ += 4; return true; }
    if (s_.compare(i_, 5, "False") == 0) { i_ += 5; return false; }
    bad("fortran_order is neither True nor False");
  }
  std::vector<int64_t> parse_tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (true) {
      skip_ws();
      if (peek() == ')') { ++i_; break; }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("shape holds a non-integer");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        int d = peek() - '0';
        if (v > (std::numeric_limits<int64_t>::max() - d) / 10) bad("shape dimension too large");
        v = v * 10 + d;
        ++i_;
      }
      if (peek() == 'L') ++i_;  // Python 2 long suffix
      dims.push_back(v);
      skip_ws();
      if (peek() == ',') { ++i_; continue; }
      if (peek() == ')') { ++i_; break; }
      bad("expected ',' or ')' in shape");
    }
    return dims;
  }

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

void put_u32_le(std::string& out, uint32_t v) {
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((v >> (8 * b)) & 0xFF));
}

uint32_t get_u32_le(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

void save_npy(const std::string& path, const Array& a) {
  for (int64_t d : a.shape)
    if (d < 0) fail(path + ": cannot save array of shape " + shape_str(a.shape) + " (negative dimension); fix the caller");
  if (a.numel() != static_cast<int64_t>(a.data.size()))
    fail(path + ": cannot save array: shape " + shape_str(a.shape) + " holds " + std::to_string(a.numel()) +
         " values but data has " + std::to_string(a.data.size()) + "; fix the caller");

  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < a.shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(a.shape[i]);
  }
  if (a.shape.size() == 1) dict += ",";
  dict += "), }";
  // magic(6) + version(2) + header length(2) + dict + padding + '\n' = multiple of 64.
  size_t unpadded = kNpyMagicLen + 2 + 2 + dict.size() + 1;
  size_t total = (unpadded + 63) / 64 * 64;
  size_t header_len = total - kNpyMagicLen - 4;
  if (header_len > 0xFFFF) fail(path + ": array has too many dimensions for a .npy 1.0 header; reshape it");
  dict.append(total - unpadded, ' ');
  dict.push_back('\n');

  std::string bytes;
  bytes.reserve(total + a.data.size() * 4);
  bytes.append(kNpyMagic, kNpyMagicLen);
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<char>(header_len & 0xFF));
  bytes.push_back(static_cast<char>((header_len >> 8) & 0xFF));
  bytes += dict;
  for (float f : a.data) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    put_u32_le(bytes, u);
  }
  write_file_atomic(path, bytes);
}

Array load_npy(const std::string& path) {
  std::string bytes = read_whole_file(path, ".npy");
  const std::string fix = "; re-save it with numpy.save(path, array.astype(numpy.float32))";
  if (bytes.empty()) fail(path + ": file is empty (0 bytes), not a .npy file" + fix);
  if (bytes.size() < kNpyMagicLen + 4 || bytes.compare(0, kNpyMagicLen, kNpyMagic, kNpyMagicLen) != 0)
    fail(path + ": not a .npy file (bad magic bytes)" + fix);
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  int major = u[6];
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<size_t>(u[8]) | (static_cast<size_t>(u[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(path + ": truncated .npy header" + fix);
    header_len = get_u32_le(u + 8);
    header_start = 12;
  } else {
    fail(path + ": unsupported .npy format version " + std::to_string(major) + "." + std::to_string(u[7]) + fix);
  }
  if (bytes.size() < header_start + header_len) fail(path + ": truncated .npy header" + fix);
  NpyHeader h = HeaderParser(bytes.substr(header_start, header_len), path).parse();
  if (!h.has_descr || !h.has_order || !h.has_shape)
    fail(path + ": .npy header lacks descr, fortran_order or shape" + fix);
  if (h.descr != "<f4")
    fail(path + ": .npy dtype is '" + printable(h.descr) + "', expected '<f4' (float32 little-endian)" + fix);
  if (h.fortran_order)
    fail(path + ": .npy array is Fortran-ordered; re-save it with numpy.save(path, numpy.ascontiguousarray(array))");

  const size_t data_start = header_start + header_len;
  const size_t avail = bytes.size() - data_start;
  // Count elements without overflowing: stop as soon as the count exceeds what the file holds.
  const uint64_t avail_elems = avail / 4;
  uint64_t n = 1;
  bool too_big = false;
  for (int64_t d : h.shape) {
    if (d == 0) { n = 0; too_big = false; break; }
    if (too_big) continue;
    if (n > avail_elems / static_cast<uint64_t>(d)) too_big = true;
    else n *= static_cast<uint64_t>(d);
  }
  if (too_big || n * 4 > avail)
    fail(path + ": .npy file is truncated (shape " + shape_str(h.shape) + " needs more data than the file holds)" + fix);
  if (n * 4 != avail)
    fail(path + ": .npy file has " + std::to_string(avail - n * 4) + " unexpected bytes after the data of shape " +
         shape_str(h.shape) + fix);

  Array a;
  a.shape = h.shape;
  a.data.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t v = get_u32_le(u + data_start + 4 * i);
    std::memcpy(&a.data[i], &v, 4);
  }
  return a;
}

}  // namespace mm::stimuli
