// synth/null.cpp: null distributions of the success test: the similarity of pairs of
// natural stimuli at one layer, read off Gram matrices.
//
// Two implementations of the same numbers:
//   - null_distribution (streaming): stimuli loaded a batch at a time; each one's activation
//     row and centred ranks kept in a RowStore (memory, or an unlinked temporary file when
//     the set does not fit the budget); Gram terms as float32 products over column chunks,
//     summed in float64; near-coincident pairs remeasured in float64. Memory: the budget, a
//     chunk buffer and one batch of the network, whatever the activation size, plus a few
//     N x N float64 matrices.
//   - null_distribution_dense: the first implementation (every row in memory as float64),
//     kept as the reference the streaming one is tested and benchmarked against.
//
// Sections
//   [SECTION] Pairs       the pair draw and the statistics, shared by both
//   [SECTION] RowStore    rows written once, read back by column chunks
//   [SECTION] Streaming   grams_of, null_distribution, and its parts (shards)
//   [SECTION] Dense
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <utility>

#include <ATen/Parallel.h>

#include "synth/engine_internal.h"
#include "synth/model.h"

namespace mm::synth {
namespace {

// [SECTION] Pairs -------------------------------------------------------------------------
// The pairs drawn, in order: the paper's 10^6 random ordered pairs (i != j, with
// replacement), or every ordered pair exactly once when pairs is kAutoPairs and the set has
// fewer. Calls f(i, j) for each; returns how many.
template <class F>
int64_t for_each_pair(int64_t N, int64_t pairs, uint64_t seed, F&& f) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> di(0, N - 1), dj(0, N - 2);
  const bool exhaustive = pairs == kAutoPairs && N * (N - 1) <= kPaperPairs;
  if (pairs == kAutoPairs) pairs = exhaustive ? N * (N - 1) : kPaperPairs;
  for (int64_t k = 0; k < pairs; ++k) {
    int64_t i, j;
    if (exhaustive) {
      i = k / (N - 1);
      j = k % (N - 1);
    } else {
      i = di(rng);
      j = dj(rng);
    }
    if (j >= i) ++j;
    f(i, j);
  }
  return pairs;
}

// The Gram terms of a set of rows. G: raw Gram (SNR); P, S: Pearson and Spearman correlation
// matrices.
struct Grams {
  torch::Tensor G, P, S;
  double load_s = 0, forward_s = 0, sort_s = 0, ranks_s = 0, write_s = 0, read_s = 0, gram_s = 0;
  bool spilled = false;
};

// The three measures of a pair of rows (indices into the Grams), and their running maxima
// and sums.
class PairMeasures {
 public:
  explicit PairMeasures(const Grams& g)
      : sq_(g.G.diagonal().clone()), Ga_(g.G.accessor<double, 2>()), Pa_(g.P.accessor<double, 2>()),
        Sa_(g.S.accessor<double, 2>()), sqa_(sq_.accessor<double, 1>()) {}
  void add(int64_t i, int64_t j) {
    double sp = 0, pe = 0, snr = 0;
    if (sqa_[i] != 0 && sqa_[j] != 0) {  // all-zero activations count as 0 on every measure
      sp = Sa_[i][j];
      pe = Pa_[i][j];
      double d2 = std::max(0.0, sqa_[i] + sqa_[j] - 2 * Ga_[i][j]);
      snr = d2 == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(std::sqrt(sqa_[i]) / std::sqrt(d2));
    }
    spearman_max = std::max(spearman_max, sp);
    pearson_max = std::max(pearson_max, pe);
    snr_max = std::max(snr_max, snr);
    spearman_sum += sp;
    pearson_sum += pe;
    snr_sum += snr;
    ++count;
  }
  double spearman_max = -std::numeric_limits<double>::infinity(), pearson_max = spearman_max, snr_max = spearman_max;
  double spearman_sum = 0, pearson_sum = 0, snr_sum = 0;
  int64_t count = 0;

 private:
  torch::Tensor sq_;
  at::TensorAccessor<double, 2> Ga_, Pa_, Sa_;
  at::TensorAccessor<double, 1> sqa_;
};

NullStats stats_of_pairs(const Grams& g, int64_t N, int64_t pairs, uint64_t seed) {
  PairMeasures pm(g);
  NullStats st;
  st.pairs = for_each_pair(N, pairs, seed, [&](int64_t i, int64_t j) { pm.add(i, j); });
  st.stimuli = N;
  st.spearman_max = pm.spearman_max, st.pearson_max = pm.pearson_max, st.snr_max = pm.snr_max;
  st.spearman_mean = pm.spearman_sum / st.pairs;
  st.pearson_mean = pm.pearson_sum / st.pairs;
  st.snr_mean = pm.snr_sum / st.pairs;
  st.load_s = g.load_s, st.forward_s = g.forward_s, st.sort_s = g.sort_s, st.ranks_s = g.ranks_s;
  st.write_s = g.write_s, st.read_s = g.read_s, st.store_s = g.write_s + g.read_s, st.gram_s = g.gram_s;
  st.spilled = g.spilled;
  return st;
}

void check_null_args(size_t n, int64_t pairs) {
  if (n < 2) throw std::runtime_error("null distribution needs at least 2 natural stimuli; give a larger --input set");
  if (pairs < 0) throw std::runtime_error("--pairs must be at least 1");
}

// [SECTION] RowStore ----------------------------------------------------------------------
// An N x D float32 matrix written row by row and read back by column chunks, held in memory
// or in a temporary file that is unlinked as soon as it is opened (a killed run leaves
// nothing behind).
class RowStore {
 public:
  RowStore(int64_t rows, int64_t cols, bool in_memory, const std::string& dir) : rows_(rows), cols_(cols) {
    if (in_memory) {
      mem_.assign(static_cast<size_t>(rows * cols), 0.f);
      return;
    }
    dir_ = dir;
    if (dir_.empty()) {
      const char* t = std::getenv("TMPDIR");
      dir_ = t && *t ? t : "/tmp";
    }
    std::string tmpl = dir_ + "/metamerlab-null-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0)
      throw std::runtime_error("cannot create a temporary file for the null distribution in " + dir_ + " (" +
                               std::strerror(errno) + "); give --null-spill DIR, a writable folder");
    ::unlink(name.data());
  }
  ~RowStore() {
    if (fd_ >= 0) ::close(fd_);
  }
  RowStore(const RowStore&) = delete;
  RowStore& operator=(const RowStore&) = delete;

  bool spilled() const { return fd_ >= 0; }
  int64_t cols() const { return cols_; }

  void put(int64_t row, const float* data) {
    if (!spilled()) {
      std::memcpy(mem_.data() + row * cols_, data, static_cast<size_t>(cols_) * sizeof(float));
      return;
    }
    const char* p = reinterpret_cast<const char*>(data);
    size_t left = static_cast<size_t>(cols_) * sizeof(float);
    off_t at = static_cast<off_t>(row) * cols_ * static_cast<off_t>(sizeof(float));
    while (left > 0) {
      ssize_t w = ::pwrite(fd_, p, left, at);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0)
        throw std::runtime_error("cannot write the null distribution's temporary file in " + dir_ + " (" +
                                 std::strerror(w < 0 ? errno : ENOSPC) +
                                 "); give --null-spill DIR on a disk with room, or a larger --null-memory");
      p += w, at += w, left -= static_cast<size_t>(w);
    }
  }

  // Columns [c0, c0 + w) of every row, float32: a pointer to row 0's first one and the
  // distance between rows. In memory that is the store itself; spilled, the columns are read
  // into `buf` ([rows, w]), which the caller reuses chunk after chunk (fresh memory costs a
  // page fault per 4 kB, which on some machines outweighs the arithmetic).
  const float* columns(int64_t c0, int64_t w, float* buf, int64_t* stride) const {
    if (!spilled()) {
      *stride = cols_;
      return mem_.data() + c0;
    }
    for (int64_t r = 0; r < rows_; ++r) {
      char* p = reinterpret_cast<char*>(buf + r * w);
      size_t left = static_cast<size_t>(w) * sizeof(float);
      off_t at = (static_cast<off_t>(r) * cols_ + c0) * static_cast<off_t>(sizeof(float));
      while (left > 0) {
        ssize_t n = ::pread(fd_, p, left, at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
          throw std::runtime_error("cannot read back the null distribution's temporary file in " + dir_ + " (" +
                                   std::string(n < 0 ? std::strerror(errno) : "file shorter than written") + ")");
        p += n, at += n, left -= static_cast<size_t>(n);
      }
    }
    *stride = w;
    return buf;
  }

 private:
  int64_t rows_, cols_;
  std::vector<float> mem_;
  std::string dir_;
  int fd_ = -1;
};

// Divides each entry (i, j) of a Gram of centred rows by the two rows' norms; rows whose
// norm is zero (within `rel` of `scale`'s diagonal, for rounding) give 0, as the paper counts
// constant activations.
torch::Tensor correlation_from_centred_gram(const torch::Tensor& C, const torch::Tensor& scale, double rel) {
  auto d = C.diagonal().clone();
  auto constant = d <= scale.diagonal() * rel;
  auto n = d.clamp_min(0).sqrt().masked_fill(constant, 1.0);
  auto R = (C / n.unsqueeze(1) / n.unsqueeze(0)).clamp(-1.0, 1.0);  // rounding can step just past 1
  auto keep = (~constant).to(torch::kFloat64);
  return R * keep.unsqueeze(1) * keep.unsqueeze(0);
}

// A row's sort keys, ascending: each value's bits mapped to an unsigned integer in the
// floats' order (+0 and -0 one value, every NaN one value above +inf) in the high 32 bits,
// its position in the row in the low 32. Sorted by a least-significant-digit radix sort on
// the high 32 bits (four stable passes of one byte; a pass whose byte is the same for every
// key is skipped): stable, so equal values stay in position order, the same order as
// sorting the whole 64-bit keys, in about a fifth of the time std::sort takes over the same
// rows (README, "Null distributions that stream"). `scratch` is a second buffer of D keys.
void sort_keys(const float* row, int64_t D, uint64_t* keys, uint64_t* scratch) {
  std::array<std::array<int64_t, 256>, 4> count{};
  for (int64_t c = 0; c < D; ++c) {
    float v = row[c];
    uint32_t u;
    if (v == 0.0f) v = 0.0f;
    if (std::isnan(v)) v = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(&u, &v, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    keys[c] = (static_cast<uint64_t>(u) << 32) | static_cast<uint32_t>(c);
    for (int p = 0; p < 4; ++p) ++count[static_cast<size_t>(p)][(u >> (8 * p)) & 0xffu];
  }
  uint64_t *src = keys, *dst = scratch;
  for (int p = 0; p < 4; ++p) {
    auto& at = count[static_cast<size_t>(p)];
    const int shift = 32 + 8 * p;
    if (D == 0 || at[(src[0] >> shift) & 0xffu] == D) continue;
    int64_t offset = 0;
    for (auto& n : at) offset += std::exchange(n, offset);  // counts -> where each byte's keys start
    for (int64_t i = 0; i < D; ++i) {
      const uint64_t k = src[i];
      dst[at[(k >> shift) & 0xffu]++] = k;
    }
    std::swap(src, dst);
  }
  if (src != keys) std::memcpy(keys, src, static_cast<size_t>(D) * sizeof(uint64_t));
}

// Writes the centred average ranks of a row of D values into out, given its sorted keys:
// tied values share the mean of their ranks, so ranks i+1..j (1-based) of a tie group
// become (i+1+j)/2, less (D+1)/2.
void centred_ranks_of_sorted(const uint64_t* keys, int64_t D, float* out) {
  for (int64_t i = 0; i < D;) {
    int64_t j = i + 1;
    while (j < D && (keys[j] >> 32) == (keys[i] >> 32)) ++j;
    const float r = static_cast<float>(0.5 * static_cast<double>(i + j - D));
    for (int64_t k = i; k < j; ++k) out[static_cast<uint32_t>(keys[k])] = r;
    i = j;
  }
}

}  // namespace
}  // namespace mm::synth

// The reference BLAS interface (OpenBLAS at run time): C := alpha A^T A + beta C, one triangle.
extern "C" void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* beta, float* c, const int* ldc);

namespace mm::synth {
namespace {
// Columns per float32 product: each span's products are summed in float32 (typically about
// 1e-6 of the span's magnitude), the spans' sums in float64.
constexpr int64_t kGramSpan = 8192;

// G += X X^T for X [rows, w] (row-major float32, `stride` apart), filling G's lower
// triangle only (row-major): symmetric rank-k updates in float32 (twice the speed of
// float64 here, half the products of a full matrix product) over spans of kGramSpan
// columns, each added into G in float64. `part` is a reused [rows, rows] buffer.
void add_gram(torch::Tensor& G, const float* X, int64_t rows, int64_t stride, int64_t w, std::vector<float>& part) {
  const int n = static_cast<int>(rows), ld = static_cast<int>(stride);
  const float one = 1.0f, zero = 0.0f;
  part.resize(static_cast<size_t>(rows * rows));
  double* g = G.data_ptr<double>();
  for (int64_t c0 = 0; c0 < w; c0 += kGramSpan) {
    const int k = static_cast<int>(std::min(kGramSpan, w - c0));
    // Row-major X [n, k] is column-major [k, n]; column-major C = X X^T is (that)^T (that),
    // and its upper triangle (column-major) is the row-major lower one.
    ssyrk_("U", "T", &n, &k, &one, X + c0, &ld, &zero, part.data(), &n);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j <= i; ++j) g[i * rows + j] += static_cast<double>(part[static_cast<size_t>(i * rows + j)]);
  }
}

// The whole symmetric matrix from its lower triangle.
torch::Tensor mirror_lower(const torch::Tensor& L) { return L.tril() + L.tril(-1).t(); }

}  // namespace

// [SECTION] Streaming ---------------------------------------------------------------------
namespace {
// Pairs whose activations nearly coincide, remeasured. SNR reads the squared distance of a
// pair off the Gram: |a-b|^2 = C_aa + C_bb - 2 C_ab (centred rows) + (sum a - sum b)^2 / D,
// whose centred part cancels as the two rows approach each other. Its float32 products err
// by about 1e-6 of C_aa + C_bb (typically; more in the worst case), so a pair whose centred
// distance comes out under 1% of the larger centred norm is measured again, in float64 from
// the stored rows as the network gave them (not centred: a float32 centred row's rounding is
// as large as a near-duplicate's difference), in one more pass over the column chunks, and
// G's entry is set so that the Gram gives that distance back (two identical stimuli: exactly
// 0, an infinite SNR; otherwise as exact as the dense float64 Gram). Natural pairs that close
// are rare; none means no extra pass.
void refine_near_pairs(torch::Tensor& G, const torch::Tensor& C, const RowStore& acts, std::vector<float>& buf,
                       int64_t w) {
  const int64_t N = G.size(0), D = acts.cols();
  auto g = G.accessor<double, 2>();
  auto c = C.accessor<double, 2>();
  std::vector<std::pair<int64_t, int64_t>> near;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < i; ++j)
      if (c[i][i] + c[j][j] - 2 * c[i][j] < 0.01 * std::max(c[i][i], c[j][j])) near.emplace_back(i, j);
  if (near.empty()) return;
  std::vector<double> d2(near.size(), 0.0);
  int64_t stride = 0;
  for (int64_t c0 = 0; c0 < D; c0 += w) {
    const int64_t cw = std::min(w, D - c0);
    const float* X = acts.columns(c0, cw, buf.data(), &stride);
    at::parallel_for(0, static_cast<int64_t>(near.size()), 64, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const float* a = X + near[static_cast<size_t>(k)].first * stride;
        const float* b = X + near[static_cast<size_t>(k)].second * stride;
        double acc = 0;
        for (int64_t q = 0; q < cw; ++q) {
          const double d = static_cast<double>(a[q]) - static_cast<double>(b[q]);
          acc += d * d;
        }
        d2[static_cast<size_t>(k)] += acc;
      }
    });
  }
  for (size_t k = 0; k < near.size(); ++k) {
    const auto [i, j] = near[k];
    g[i][j] = g[j][i] = 0.5 * (g[i][i] + g[j][j] - d2[k]);
  }
}

// The Gram terms of the stimuli `index` (ascending, of a set of `count`), streamed: see the
// file's header. Stimuli run through the network in the set's own batches ([k*batch,
// (k+1)*batch) of 0..count-1, batch-mates outside `index` computed and dropped), so a row's
// activations are the same bits whichever part of the set asks for it: a float32 forward
// pass differs in its last bits with its batch.
Grams grams_of(const ModelHandle& m, const std::string& layer, const std::vector<int64_t>& index, int64_t count,
               const StimulusAt& at, int batch, const NullMemory& memory) {
  torch::NoGradGuard ng;
  const int64_t N = static_cast<int64_t>(index.size());
  batch = std::max(1, batch);
  const int64_t budget = std::max<int64_t>(memory.budget_bytes, 1);
  std::unique_ptr<RowStore> acts, ranks;
  std::vector<double> sums(static_cast<size_t>(N), 0.0);
  std::vector<uint64_t> keys, scratch;  // [batch, D]: each row's sort keys, and the radix sort's second buffer
  std::vector<float> rk;                 // [batch, D]: each row's centred ranks
  int64_t D = 0;
  double load_s = 0, forward_s = 0, sort_s = 0, ranks_s = 0, write_s = 0, read_s = 0, gram_s = 0;
  auto t = std::chrono::steady_clock::now();
  auto lap = [&t](double& acc) {
    const auto now = std::chrono::steady_clock::now();
    acc += std::chrono::duration<double>(now - t).count();
    t = now;
  };
  for (int64_t b = 0; b < N;) {
    // The set's batch holding index[b], and the rows of `index` in it: [b, e).
    const int64_t g0 = index[static_cast<size_t>(b)] / batch * batch, g1 = std::min(count, g0 + batch);
    int64_t e = b;
    while (e < N && index[static_cast<size_t>(e)] < g1) ++e;
    std::vector<stimuli::Array> xs;
    xs.reserve(static_cast<size_t>(g1 - g0));
    for (int64_t i = g0; i < g1; ++i) {
      xs.push_back(at(i));
      check_input_shape(m.info(), xs.back(), m.info().spec);
    }
    lap(load_s);
    auto full = m.impl().forward(stack_arrays(xs, 0, xs.size()).to(m.impl().device()), {layer}, false).at(layer);
    xs.clear();
    full = full.reshape({g1 - g0, -1});
    std::vector<int64_t> pick;
    for (int64_t r = b; r < e; ++r) pick.push_back(index[static_cast<size_t>(r)] - g0);
    auto a = full.index_select(0, torch::tensor(pick, torch::kLong).to(full.device()))
                 .to(torch::kCPU, torch::kFloat32)
                 .contiguous();
    full = torch::Tensor();
    lap(forward_s);
    if (!acts) {
      D = a.size(1);
      const bool in_memory = 2 * N * D * static_cast<int64_t>(sizeof(float)) <= budget;
      acts = std::make_unique<RowStore>(N, D, in_memory, memory.spill_dir);
      ranks = std::make_unique<RowStore>(N, D, in_memory, memory.spill_dir);
    }
    // Centred average ranks (half-integers, exact in float32 below 2^23 entries): each row
    // sorted (as keys: value, then position), then one pass over its tie groups. The key and
    // rank buffers are allocated once and reused batch after batch.
    const int64_t rows = e - b;
    if (keys.empty()) {
      keys.resize(static_cast<size_t>(batch * D));
      scratch.resize(static_cast<size_t>(batch * D));
      rk.resize(static_cast<size_t>(batch * D));
    }
    const float* A = a.data_ptr<float>();
    at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) sort_keys(A + r * D, D, keys.data() + r * D, scratch.data() + r * D);
    });
    lap(sort_s);
    at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) centred_ranks_of_sorted(keys.data() + r * D, D, rk.data() + r * D);
    });
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < D; ++c) sum += static_cast<double>(A[r * D + c]);
      sums[static_cast<size_t>(b + r)] = sum;
    }
    lap(ranks_s);
    for (int64_t r = 0; r < rows; ++r) {
      acts->put(b + r, A + r * D);
      ranks->put(b + r, rk.data() + r * D);
    }
    lap(write_s);
    b = e;
  }
  keys = std::vector<uint64_t>();
  scratch = std::vector<uint64_t>();
  rk = std::vector<float>();
  // Gram terms over column chunks: each chunk of activations read and centred on its rows'
  // means into a reused float32 buffer of [N, w] (the means' part of the raw Gram added back
  // in float64 from the sums, so the float32 products lose nothing to cancellation; a constant
  // row centres to exact zeros, its float64 sum being exact); ranks, already centred, read in
  // place when in memory. Each product a symmetric rank-w update (one triangle), mirrored at
  // the end. (Reading the next chunk on a second thread while a product runs was tried: on
  // two cores the product's threads then wait for each other, and the whole took longer.)
  const int64_t w = std::clamp<int64_t>(budget / (N * 8), 1, D);
  auto C = torch::zeros({N, N}, torch::kFloat64);   // Gram of the centred activation rows
  auto SR = torch::zeros({N, N}, torch::kFloat64);  // Gram of the centred ranks
  std::vector<double> means(sums);
  for (auto& m : means) m /= static_cast<double>(D);
  std::vector<float> buf(static_cast<size_t>(N * w)), part;
  int64_t stride = 0;
  for (int64_t c0 = 0; c0 < D; c0 += w) {
    const int64_t cw = std::min(w, D - c0);
    const float* X = acts->columns(c0, cw, buf.data(), &stride);
    for (int64_t r = 0; r < N; ++r)  // in place when X is buf (stride cw)
      for (int64_t c = 0; c < cw; ++c)
        buf[static_cast<size_t>(r * cw + c)] =
            static_cast<float>(static_cast<double>(X[r * stride + c]) - means[static_cast<size_t>(r)]);
    lap(read_s);
    add_gram(C, buf.data(), N, cw, cw, part);
    lap(gram_s);
    X = ranks->columns(c0, cw, buf.data(), &stride);
    lap(read_s);
    add_gram(SR, X, N, stride, cw, part);
    lap(gram_s);
  }
  part = std::vector<float>();
  C = mirror_lower(C);
  SR = mirror_lower(SR);
  auto s = torch::from_blob(sums.data(), {N}, torch::kFloat64);
  auto G = C + s.unsqueeze(1) * s.unsqueeze(0) / static_cast<double>(D);  // the raw Gram (SNR)
  refine_near_pairs(G, C, *acts, buf, w);
  auto P = correlation_from_centred_gram(C, G, 1e-12);
  auto S = correlation_from_centred_gram(SR, SR, 0.0);  // centred ranks of a constant row are exactly 0
  lap(gram_s);
  Grams g{G, P, S, load_s, forward_s, sort_s, ranks_s, write_s, read_s, gram_s, acts->spilled()};
  return g;
}
}  // namespace

NullStats null_distribution(const ModelHandle& m, const std::string& layer, int64_t count, const StimulusAt& at,
                            int64_t pairs, uint64_t seed, int batch, const NullMemory& memory) {
  m.check_layers({layer});
  check_null_args(static_cast<size_t>(std::max<int64_t>(count, 0)), pairs);
  std::vector<int64_t> all(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) all[static_cast<size_t>(i)] = i;
  return stats_of_pairs(grams_of(m, layer, all, count, at, batch, memory), count, pairs, seed);
}

int64_t null_units(int64_t blocks) { return blocks * (blocks + 1) / 2; }

int64_t null_blocks_for_shards(int64_t shards) {
  int64_t b = 1;
  while (null_units(b) < shards) ++b;
  return b;
}

NullPart null_distribution_part(const ModelHandle& m, const std::string& layer, int64_t count, const StimulusAt& at,
                                int64_t pairs, uint64_t seed, int64_t blocks, int64_t unit, int batch,
                                const NullMemory& memory) {
  m.check_layers({layer});
  check_null_args(static_cast<size_t>(std::max<int64_t>(count, 0)), pairs);
  if (blocks < 1 || blocks > count)
    throw std::runtime_error("a null distribution of " + std::to_string(count) + " stimuli cannot be cut into " +
                             std::to_string(blocks) + " blocks; give fewer shards");
  if (unit < 0 || unit >= null_units(blocks))
    throw std::runtime_error("null distribution unit " + std::to_string(unit) + " does not exist (" +
                             std::to_string(null_units(blocks)) + " units)");
  int64_t a = 0, b = 0;
  for (int64_t u = unit;; ++a) {  // unit -> (a, b), row by row
    if (u < blocks - a) {
      b = a + u;
      break;
    }
    u -= blocks - a;
  }
  auto start = [&](int64_t k) { return k * count / blocks; };
  std::vector<int64_t> index, local(static_cast<size_t>(count), -1), block_of(static_cast<size_t>(count), 0);
  for (int64_t k = 0; k < blocks; ++k)
    for (int64_t i = start(k); i < start(k + 1); ++i) block_of[static_cast<size_t>(i)] = k;
  for (int64_t k : {a, b}) {
    if (k == b && a == b && !index.empty()) break;
    for (int64_t i = start(k); i < start(k + 1); ++i) {
      local[static_cast<size_t>(i)] = static_cast<int64_t>(index.size());
      index.push_back(i);
    }
  }
  const Grams g = grams_of(m, layer, index, count, at, batch, memory);
  PairMeasures pm(g);
  NullPart part;
  part.blocks = blocks;
  part.unit = unit;
  part.stimuli = count;
  part.pairs = for_each_pair(count, pairs, seed, [&](int64_t i, int64_t j) {
    const int64_t bi = block_of[static_cast<size_t>(i)], bj = block_of[static_cast<size_t>(j)];
    if (std::min(bi, bj) == a && std::max(bi, bj) == b) pm.add(local[static_cast<size_t>(i)], local[static_cast<size_t>(j)]);
  });
  part.unit_pairs = pm.count;
  if (pm.count > 0) part.spearman_max = pm.spearman_max, part.pearson_max = pm.pearson_max, part.snr_max = pm.snr_max;
  part.spearman_sum = pm.spearman_sum, part.pearson_sum = pm.pearson_sum, part.snr_sum = pm.snr_sum;
  return part;
}

NullStats null_distribution(const ModelHandle& m, const std::string& layer, const std::vector<stimuli::Array>& naturals,
                            int64_t pairs, uint64_t seed, int batch, const NullMemory& memory) {
  return null_distribution(
      m, layer, static_cast<int64_t>(naturals.size()), [&](int64_t i) { return naturals[static_cast<size_t>(i)]; },
      pairs, seed, batch, memory);
}

// [SECTION] Dense -------------------------------------------------------------------------
NullStats null_distribution_dense(const ModelHandle& m, const std::string& layer,
                                  const std::vector<stimuli::Array>& naturals, int64_t pairs, uint64_t seed,
                                  int batch) {
  m.check_layers({layer});
  check_null_args(naturals.size(), pairs);
  torch::NoGradGuard ng;
  auto A = layer_matrix(m, naturals, layer, batch).to(torch::kFloat64);  // [N, D]
  const int64_t N = A.size(0);
  // Raw Gram for SNR; centred-normalized Grams for Pearson and Spearman.
  auto G = A.matmul(A.t());
  auto normalize = [](torch::Tensor X) {
    X = X - X.mean(1, true);
    auto n = X.norm(2, 1, true);
    return X / n.clamp_min(1e-300) * (n > 0);  // all-constant rows become zeros -> r = 0
  };
  auto Zp = normalize(A);
  auto P = Zp.matmul(Zp.t());
  torch::Tensor R = torch::empty_like(A);
  for (int64_t i = 0; i < N; ++i) R[i] = average_ranks(A[i]);
  auto Zs = normalize(R);
  auto S = Zs.matmul(Zs.t());
  Grams g;
  g.G = G, g.P = P, g.S = S;
  return stats_of_pairs(g, N, pairs, seed);
}

}  // namespace mm::synth
