// tests/synth/test_metamers.cpp: metamer synthesis, similarity measures and null
// distributions.
//
// The paper's defaults; per-example independence within a batch; checkpoint/resume
// reproducing an uninterrupted run bit for bit; a NaN in one reference stopping only that
// one; Spearman with ties, Pearson and SNR against hand-computed values; the null
// distribution against brute force.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/store.h"
#include "synth/engine_internal.h"
#include "synth/model.h"
#include "tests/support/test_models.h"
#include "tests/testutil.h"

namespace fs = std::filesystem;
using namespace mm::synth;
using mm::stimuli::Array;

namespace {

struct MetamersTest : ::testing::Test {
  static void SetUpTestSuite() {
    Runtime r;
    r.threads = 2;
    init_runtime(r);
    mm::test::register_test_models();
  }
};

std::vector<Array> random_refs(int n, const std::vector<int64_t>& shape, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<Array> v;
  for (int i = 0; i < n; ++i) v.push_back(to_array(torch::rand(shape)));
  return v;
}

double max_diff(const Array& a, const Array& b) {
  return (to_tensor(a) - to_tensor(b)).abs().max().item<double>();
}

// A model whose layer is sqrt(x - 0.3): NaN wherever a pixel is below 0.3.
class SqrtModel final : public Model {
 public:
  SqrtModel() {
    info_.spec = "zoo:test-sqrt";
    info_.modality = "image";
    info_.input_shape = {1, 8, 8};
    info_.classes = {"a", "b"};
    info_.layers = {"root", "logits"};
    info_.sha256 = "test";
  }
  const ModelInfo& info() const override { return info_; }
  std::map<std::string, torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::string>& layers,
                                               bool) override {
    auto r = torch::sqrt(x - 0.3);
    std::map<std::string, torch::Tensor> out;
    for (const auto& l : layers) out[l] = l == "root" ? r : r.flatten(1).narrow(1, 0, 2);
    return out;
  }

 private:
  ModelInfo info_;
};

}  // namespace

TEST_F(MetamersTest, PaperDefaultsAndNoise) {
  SynthOptions o;
  EXPECT_EQ(o.optimizer, Optimizer::gd);
  EXPECT_EQ(o.loss, Loss::l2norm);
  EXPECT_TRUE(o.fake_relu);
  EXPECT_DOUBLE_EQ(o.step_for_round(0), 1.0);
  EXPECT_DOUBLE_EQ(o.step_for_round(3), 0.125);
  o.optimizer = Optimizer::adam;
  EXPECT_DOUBLE_EQ(o.step_for_round(1), 0.005);
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto n = to_tensor(initial_noise(m.info(), 0, 1e-7));
  EXPECT_NEAR(n.mean().item<double>(), 0.5, 0.002);
  EXPECT_NEAR(n.std().item<double>(), 0.05, 0.002);
  EXPECT_GE(n.min().item<double>(), 0.0);
  EXPECT_LE(n.max().item<double>(), 1.0);
  EXPECT_EQ(max_diff(initial_noise(m.info(), 0, 1e-7), initial_noise(m.info(), 0, 1e-7)), 0.0);
  EXPECT_GT(max_diff(initial_noise(m.info(), 0, 1e-7), initial_noise(m.info(), 1, 1e-7)), 0.01);
  ModelInfo audio;
  audio.modality = "audio";
  audio.input_shape = {4000};
  audio.lo = -1;
  audio.hi = 1;
  auto a = to_tensor(initial_noise(audio, 0, 1e-7));
  EXPECT_NEAR(a.std().item<double>(), 1e-7, 1e-8);
}

// One normalized-gradient step moves each example by exactly the step size.
TEST_F(MetamersTest, NormalizedGradientStepPerExample) {
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto refs = random_refs(3, {3, 64, 64}, 1);
  SynthOptions o;
  o.iterations = 1;
  o.rounds = 1;
  o.step = 0.01;  // small enough that nothing is clamped
  auto out = synthesize(m, "stage1", refs, o);
  auto x0 = to_tensor(initial_noise(m.info(), 0, 1e-7));
  for (const auto& r : out) EXPECT_NEAR((to_tensor(r.metamer) - x0).norm().item<double>(), 0.01, 1e-5);
}

TEST_F(MetamersTest, LossFallsForEveryOptimizerAndLoss) {
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto refs = random_refs(2, {3, 64, 64}, 2);
  for (auto opt : {Optimizer::gd, Optimizer::adam})
    for (auto loss : {Loss::l2norm, Loss::mse}) {
      SynthOptions o;
      o.optimizer = opt;
      o.loss = loss;
      o.rounds = 1;
      o.iterations = 1;
      auto start = synthesize(m, "stage1", refs, o);
      o.rounds = 2;
      o.iterations = 30;
      auto end = synthesize(m, "stage1", refs, o);
      for (size_t i = 0; i < refs.size(); ++i) {
        EXPECT_LT(end[i].final_loss, 0.5 * start[i].final_loss) << int(opt) << int(loss);
        EXPECT_EQ(end[i].iterations, 60);
        EXPECT_FALSE(end[i].nonfinite);
      }
    }
}

// B references in a batch are B independent problems.
TEST_F(MetamersTest, BatchMatesDoNotChangeAResult) {
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto r = random_refs(4, {3, 64, 64}, 3);
  for (auto opt : {Optimizer::gd, Optimizer::adam}) {
    SynthOptions o;
    o.optimizer = opt;
    o.iterations = 20;
    o.rounds = 2;
    auto ab = synthesize(m, "stage2", {r[0], r[1]}, o);
    auto ac = synthesize(m, "stage2", {r[0], r[2]}, o);
    auto alone = synthesize(m, "stage2", {r[0]}, o);
    auto four = synthesize(m, "stage2", {r[3], r[2], r[1], r[0]}, o);
    // Same batch size: the arithmetic is the same, so the result is the same bit for bit.
    EXPECT_EQ(max_diff(ab[0].metamer, ac[0].metamer), 0.0);
    // Other batch sizes may take other kernel paths (oneDNN blocks by batch): float
    // rounding differences of ~1e-7 grow over the steps; they stay far below one 8-bit
    // level (1/255 = 0.0039).
    EXPECT_LT(max_diff(ab[0].metamer, alone[0].metamer), 1e-3);
    EXPECT_LT(max_diff(four[3].metamer, alone[0].metamer), 1e-3);
    EXPECT_NEAR(ab[0].final_loss, alone[0].final_loss, 1e-3);
    // And the batch really did different things for different references.
    EXPECT_GT(max_diff(ab[0].metamer, ab[1].metamer), 0.05);
  }
}

TEST_F(MetamersTest, ResumeFromCheckpointIsBitIdentical) {
  mm::test::TempDir tmp("resume");
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto refs = random_refs(2, {3, 64, 64}, 4);
  for (auto opt : {Optimizer::gd, Optimizer::adam}) {
    SynthOptions o;
    o.optimizer = opt;
    o.iterations = 15;
    o.rounds = 3;
    o.checkpoint_every = 7;
    auto full = synthesize(m, "stage1", refs, o);
    std::string ck = tmp / ("ck" + std::to_string(int(opt)) + ".pt");
    SynthOptions stop = o;
    stop.stop_after = 23;  // mid-round, between checkpoints: the stop saves its exact state
    EXPECT_TRUE(synthesize(m, "stage1", refs, stop, ck).empty());
    ASSERT_TRUE(fs::exists(ck));
    auto resumed = synthesize(m, "stage1", refs, o, ck);
    ASSERT_EQ(resumed.size(), 2u);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(max_diff(full[i].metamer, resumed[i].metamer), 0.0);
      EXPECT_EQ(full[i].final_loss, resumed[i].final_loss);
      EXPECT_EQ(resumed[i].iterations, 45);
    }
    // A checkpoint written for other inputs is not used.
    auto other = random_refs(2, {3, 64, 64}, 5);
    auto fresh = synthesize(m, "stage1", other, o);
    auto with_foreign = synthesize(m, "stage1", other, o, ck);
    EXPECT_EQ(max_diff(fresh[0].metamer, with_foreign[0].metamer), 0.0);
  }
}

// Until converged: rounds go on past `rounds` until each example's last round lowered its
// loss by less than converge_tol of its start; a converged example is frozen there (its
// iterate kept, its steps counted to there) and the batch ends once all are. The result is a
// deterministic function of the options, and resumes bit for bit.
TEST_F(MetamersTest, UntilConvergedFreezesEachExampleAndStopsTheBatch) {
  mm::test::TempDir tmp("until");
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto refs = random_refs(3, {3, 64, 64}, 8);
  SynthOptions o;
  o.iterations = 10;
  o.rounds = 2;
  o.max_rounds = 12;
  o.step = 0.5;
  auto out = synthesize(m, "stage1", refs, o);
  ASSERT_EQ(out.size(), 3u);
  int64_t last = 0;
  for (const auto& r : out) {
    SCOPED_TRACE(r.rounds);
    EXPECT_TRUE(r.converged);  // 12 rounds of a halving step: every one flattens well before
    EXPECT_GE(r.rounds, 3);    // at two rounds the loss still falls by more than 1% of its start
    EXPECT_LT(r.rounds, 12);
    EXPECT_EQ(r.iterations, 10 * r.rounds);
    // Its last round met the rule: the curve's points at its last two round starts.
    double before = -1, at = -1;
    for (const auto& [step, loss] : r.loss_curve) {
      if (step == 10 * (r.rounds - 1)) before = loss;
      if (step == 10 * r.rounds) at = loss;
    }
    ASSERT_GE(before, 0);
    EXPECT_LT(std::abs(before - at), 0.01 * r.loss_curve.front().second);
    last = std::max(last, r.loss_curve.back().first);
  }
  // The batch stopped when its last example converged, not at 12 rounds.
  int most = 0;
  for (const auto& r : out) most = std::max(most, r.rounds);
  EXPECT_EQ(last, 10 * most);
  EXPECT_LT(last, 120);
  // Frozen means kept: the examples that stopped early differ from a fixed schedule's
  // iterate at the batch's end, and equal the fixed schedule's at their own end.
  SynthOptions fixed = o;
  fixed.max_rounds = 0;
  fixed.rounds = out[0].rounds;
  auto f = synthesize(m, "stage1", refs, fixed);
  EXPECT_EQ(max_diff(f[0].metamer, out[0].metamer), 0.0);
  // max_rounds not above rounds: exactly `rounds`.
  SynthOptions same = o;
  same.max_rounds = 2;
  auto two = synthesize(m, "stage1", refs, same);
  for (const auto& r : two) EXPECT_EQ(r.iterations, 20);
  // Killed mid-way (past `rounds`) and resumed: the same bits.
  SynthOptions stop = o;
  stop.checkpoint_every = 7;
  stop.stop_after = 35;
  const std::string ck = tmp / "until.pt";
  EXPECT_TRUE(synthesize(m, "stage1", refs, stop, ck).empty());
  SynthOptions resume = o;
  resume.checkpoint_every = 7;
  auto again = synthesize(m, "stage1", refs, resume, ck);
  ASSERT_EQ(again.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(max_diff(again[i].metamer, out[i].metamer), 0.0);
    EXPECT_EQ(again[i].rounds, out[i].rounds);
  }
}

TEST_F(MetamersTest, NanStopsOnlyThatReference) {
  register_zoo_model("test-sqrt", "", [](const std::string&, torch::Device) -> std::unique_ptr<Model> { return std::make_unique<SqrtModel>(); });
  auto m = ModelHandle::open("zoo:test-sqrt");
  Array good, bad;
  good.shape = bad.shape = {1, 8, 8};
  good.data.assign(64, 0.6f);
  bad.data.assign(64, 0.6f);
  bad.data[5] = 0.0f;  // sqrt(-0.3): NaN in the target
  SynthOptions o;
  o.iterations = 10;
  o.rounds = 2;
  o.step = 0.05;
  auto out = synthesize(m, "root", {good, bad}, o);
  auto alone = synthesize(m, "root", {good}, o);
  EXPECT_FALSE(out[0].nonfinite);
  EXPECT_TRUE(out[1].nonfinite);
  EXPECT_NE(out[1].message.find("NaN"), std::string::npos) << out[1].message;
  EXPECT_EQ(out[1].iterations, 0);
  EXPECT_EQ(out[0].iterations, 20);
  EXPECT_EQ(max_diff(out[0].metamer, alone[0].metamer), 0.0);
  EXPECT_LT(out[0].final_loss, 0.5);
}

TEST_F(MetamersTest, SimilarityAgainstHandComputedValues) {
  // scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486832980505138 (average ranks for ties)
  auto s = similarity({1, 2, 2, 3}, {1, 3, 2, 4});
  EXPECT_NEAR(s.spearman, 0.9486832980505138, 1e-9);
  // Pearson of the raw values: cov 1.25 / sqrt(0.5 * 3.5)... computed by hand:
  // x-mean = [-1,0,0,1], y-mean = [-1.5,0.5,-0.5,1.5]; dot 3; |x| sqrt2; |y| sqrt5
  EXPECT_NEAR(s.pearson, 3.0 / std::sqrt(10.0), 1e-9);
  // SNR: ||r|| = 5, ||r - x|| = 1 -> 10 log10(5)
  auto t = similarity({3, 4}, {3, 5});
  EXPECT_NEAR(t.snr_db, 10 * std::log10(5.0), 1e-9);
  auto z = similarity({0, 0, 0}, {1, 2, 3});
  EXPECT_EQ(z.spearman, 0);
  EXPECT_EQ(z.pearson, 0);
  EXPECT_EQ(z.snr_db, 0);
  auto ranks = average_ranks(torch::tensor({10.0, 0.0, 0.0, 0.0, 5.0}));
  EXPECT_TRUE(torch::allclose(ranks, torch::tensor({5.0, 2.0, 2.0, 2.0, 4.0}, torch::kFloat64)));
}

TEST_F(MetamersTest, NullDistributionMatchesBruteForce) {
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto xs = random_refs(6, {3, 64, 64}, 6);
  Array zeros;  // a black image: all-zero activations after ReLU are likely somewhere
  zeros.shape = {3, 64, 64};
  zeros.data.assign(3 * 64 * 64, 0.0f);
  xs.push_back(zeros);
  for (const std::string layer : {"stage1", "avgpool", "logits"}) {
    auto acts = m.activations(xs, layer);
    double sp = -1e9, pe = -1e9, snr = -1e9;
    for (size_t i = 0; i < xs.size(); ++i)
      for (size_t j = 0; j < xs.size(); ++j)
        if (i != j) {
          auto s = similarity(acts[i], acts[j]);
          sp = std::max(sp, s.spearman);
          pe = std::max(pe, s.pearson);
          snr = std::max(snr, s.snr_db);
        }
    // 42 ordered pairs; 5000 draws cover them all.
    auto st = null_distribution(m, layer, xs, 5000, 0);
    EXPECT_EQ(st.pairs, 5000);
    EXPECT_NEAR(st.spearman_max, sp, 1e-6) << layer;
    EXPECT_NEAR(st.pearson_max, pe, 1e-6) << layer;
    EXPECT_NEAR(st.snr_max, snr, 1e-4) << layer;
    auto few = null_distribution(m, layer, xs, 3, 0);
    EXPECT_LE(few.pearson_max, pe + 1e-9);
    // The same seed gives the same distribution; 10^6 pairs are cheap (Gram matrices).
    auto again = null_distribution(m, layer, xs, 3, 0);
    EXPECT_EQ(few.pearson_max, again.pearson_max);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto big = null_distribution(m, "stage1", xs, 1000000, 1);
  EXPECT_EQ(big.pairs, 1000000);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

// The streaming null (rows in memory, or spilled to a temporary file and read back in
// column chunks) gives the first, dense implementation's numbers within float rounding:
// the same pairs; its Gram products are float32 (about 1e-6 of a correlation) where the
// dense one's are float64, and a pair whose rows nearly coincide has its distance
// remeasured in float64 (a duplicate's infinite SNR, a near-duplicate's 50-odd dB).
TEST_F(MetamersTest, StreamingNullMatchesDense) {
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto xs = random_refs(11, {3, 64, 64}, 21);
  Array flat;  // a constant image: constant rows at some layers (r and rho counted as 0)
  flat.shape = {3, 64, 64};
  flat.data.assign(3 * 64 * 64, 0.25f);
  xs.push_back(flat);
  xs.push_back(xs[3]);  // a duplicate: infinite SNR, r = rho = 1
  Array near = xs[5];   // a near-duplicate: an SNR float32 products cannot resolve
  for (size_t i = 0; i < near.data.size(); i += 97) near.data[i] += 1e-4f;
  xs.insert(xs.end() - 1, near);
  mm::test::TempDir tmp("null-spill");
  const std::string spill = tmp.path;
  auto files_in = [&] { return std::distance(fs::directory_iterator(spill), fs::directory_iterator()); };
  for (const std::string layer : {"stage1", "stage2", "avgpool", "logits"}) {
    const auto dense = null_distribution_dense(m, layer, xs, 5000, 3, 4);
    NullMemory roomy;                        // everything in memory
    NullMemory tight{65536, spill};          // spilled (stage1, stage2); chunks of a few hundred columns
    NullMemory one_column{1, spill};         // spilled; one column at a time
    std::vector<NullMemory> budgets = {roomy, tight};
    if (layer == "avgpool" || layer == "logits") budgets.push_back(one_column);  // small rows: few chunks
    for (const auto& mem : budgets) {
      const auto st = null_distribution(m, layer, xs, 5000, 3, 4, mem);  // the same batches as dense
      SCOPED_TRACE(layer + " budget " + std::to_string(mem.budget_bytes));
      EXPECT_EQ(st.pairs, dense.pairs);
      EXPECT_EQ(st.stimuli, dense.stimuli);
      const auto D = static_cast<int64_t>(m.activations({xs[0]}, layer).at(0).size());
      EXPECT_EQ(st.spilled, 2 * 14 * D * 4 > mem.budget_bytes) << "D " << D;  // both paths are taken
      EXPECT_NEAR(st.spearman_max, dense.spearman_max, 1e-5);
      EXPECT_NEAR(st.pearson_max, dense.pearson_max, 1e-5);
      EXPECT_GT(st.snr_max, 60.0);  // the duplicate: +inf, or far up from a rounding residue
      EXPECT_GT(dense.snr_max, 60.0);
      EXPECT_NEAR(st.spearman_mean, dense.spearman_mean, 1e-5);
      EXPECT_NEAR(st.pearson_mean, dense.pearson_mean, 1e-5);
      EXPECT_LE(st.pearson_max, 1.0);
    }
    // Without the duplicate the SNR maxima are finite and agree too.
    std::vector<Array> distinct(xs.begin(), xs.end() - 1);
    const auto d2 = null_distribution_dense(m, layer, distinct, 0, 0, 4);
    const auto s2 = null_distribution(m, layer, distinct, 0, 0, 4, NullMemory{4096, spill});
    EXPECT_EQ(s2.pairs, 13 * 12);  // every ordered pair once
    EXPECT_GT(d2.snr_max, 40.0) << layer;  // the near-duplicate, far past float32's reach
    EXPECT_NEAR(s2.snr_max, d2.snr_max, 1e-3) << layer;
    EXPECT_NEAR(s2.snr_mean, d2.snr_mean, 1e-3) << layer;
    EXPECT_NEAR(s2.pearson_max, d2.pearson_max, 1e-5) << layer;
    const auto m2 = null_distribution(m, layer, distinct, 0, 0, 4);  // in memory: refined from the store itself
    EXPECT_FALSE(m2.spilled);
    EXPECT_NEAR(m2.snr_max, d2.snr_max, 1e-3) << layer;
  }
  EXPECT_EQ(files_in(), 0) << "the temporary file is unlinked as soon as it is created";
  // A spill folder that cannot be written: one line naming the folder and --null-spill.
  const std::string w = mm::test::error_of(
      [&] { null_distribution(m, "stage1", xs, 100, 0, 16, NullMemory{1, spill + "/missing/folder"}); });
  EXPECT_NE(w.find(spill + "/missing/folder"), std::string::npos) << w;
  EXPECT_NE(w.find("--null-spill"), std::string::npos) << w;
}

// A null distribution in parts (the set in blocks, each pair of blocks one part) gives the
// whole one: every drawn pair in exactly one part, each stimulus run through the network in
// the set's own batches (the same bits); maxima and means within float rounding.
TEST_F(MetamersTest, NullPartsCombineToTheWholeDistribution) {
  EXPECT_EQ(null_blocks_for_shards(1), 1);
  EXPECT_EQ(null_blocks_for_shards(2), 2);
  EXPECT_EQ(null_blocks_for_shards(3), 2);
  EXPECT_EQ(null_blocks_for_shards(4), 3);
  EXPECT_EQ(null_blocks_for_shards(7), 4);
  EXPECT_EQ(null_units(4), 10);
  auto m = ModelHandle::open("zoo:tiny-cnn");
  const auto xs = random_refs(13, {3, 64, 64}, 33);
  const auto at = [&](int64_t i) { return xs[static_cast<size_t>(i)]; };
  for (const auto& [layer, pairs] : std::vector<std::pair<std::string, int64_t>>{{"stage2", 4000}, {"logits", kAutoPairs}}) {
      const auto whole = null_distribution(m, layer, xs, pairs, 5);
      for (const int64_t blocks : {2, 5}) {
        SCOPED_TRACE(layer + ", " + std::to_string(pairs) + " pairs, " + std::to_string(blocks) + " blocks");
        std::vector<mm::data::NullPartRecord> parts;
        for (int64_t u = null_units(blocks) - 1; u >= 0; --u) {  // any order
          const NullPart p = null_distribution_part(m, layer, 13, at, pairs, 5, blocks, u, 16, NullMemory{2048, ""});
          mm::data::NullPartRecord r;
          r.model_sha256 = "m", r.layer = layer, r.set_sha256 = "s", r.pairs = p.pairs, r.stimuli = p.stimuli;
          r.blocks = p.blocks, r.unit = p.unit, r.unit_pairs = p.unit_pairs;
          r.spearman_max = p.spearman_max, r.pearson_max = p.pearson_max, r.snr_max = p.snr_max;
          r.spearman_sum = p.spearman_sum, r.pearson_sum = p.pearson_sum, r.snr_sum = p.snr_sum;
          parts.push_back(r);
        }
        const auto n = mm::data::combine_null_parts(parts);
        EXPECT_EQ(n.pairs, whole.pairs);
        EXPECT_NEAR(n.spearman_max, whole.spearman_max, 1e-5);
        EXPECT_NEAR(n.pearson_max, whole.pearson_max, 1e-5);
        EXPECT_NEAR(n.snr_max, whole.snr_max, 1e-4);
        EXPECT_NEAR(n.spearman_mean, whole.spearman_mean, 1e-5);
        EXPECT_NEAR(n.pearson_mean, whole.pearson_mean, 1e-5);
        EXPECT_NEAR(n.snr_mean, whole.snr_mean, 1e-4);
      }
    }
  EXPECT_NE(mm::test::error_of([&] { null_distribution_part(m, "logits", 13, at, 0, 0, 14, 0); }).find("give fewer shards"),
            std::string::npos);
  EXPECT_NE(mm::test::error_of([&] { null_distribution_part(m, "logits", 13, at, 0, 0, 2, 3); }).find("does not exist"),
            std::string::npos);
}

TEST_F(MetamersTest, AudioArchiveSynthesizes) {
  auto m = ModelHandle::open(std::string(METAMERLAB_FIXTURES) + "/tiny_audio.pt");
  torch::manual_seed(7);
  auto ref = to_array(torch::randn({8000}) * 0.1);
  SynthOptions o;
  o.iterations = 30;
  o.rounds = 2;
  o.step = 0.5;
  auto first = synthesize(m, "relu1", {ref}, SynthOptions{1, 1});
  auto out = synthesize(m, "relu1", {ref}, o);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].metamer.shape, (std::vector<int64_t>{8000}));
  EXPECT_LT(out[0].final_loss, first[0].final_loss);
  auto t = to_tensor(out[0].metamer);
  EXPECT_LE(t.abs().max().item<double>(), 1.0);
}
