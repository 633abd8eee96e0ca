// tests/synth/test_models.cpp: model import and the model interface.
//
// TorchScript archives from our exporter (resnet18, alexnet) and from hand-written
// scripted/traced modules give the same activations in C++ as in Python (within 1e-5);
// requesting an early layer prunes the graph; the fake ReLU keeps values and passes the
// identity gradient; broken archives and unknown layers give one clear message.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "stimuli/stimuli.h"
#include "synth/engine_internal.h"
#include "synth/model.h"
#include "tests/support/test_models.h"
#include "tests/testutil.h"

namespace fs = std::filesystem;
using namespace mm::synth;

namespace {

std::string fixture(const std::string& name) {
  std::string p = std::string(METAMERLAB_FIXTURES) + "/" + name;
  if (!fs::exists(p))
    ADD_FAILURE() << "missing fixture " << p << " (ctest runs make_python_fixtures first; or run "
                  << "/usr/bin/python3 tools/make_test_fixtures.py " << METAMERLAB_FIXTURES << " --torchvision)";
  return p;
}

torch::Tensor npy(const std::string& path) { return to_tensor(mm::stimuli::load_npy(path)); }

int count_kind(const torch::jit::Block* b, std::initializer_list<const char*> kinds) {
  int n = 0;
  for (auto* node : b->nodes()) {
    for (auto k : kinds)
      if (std::string(node->kind().toQualString()) == k) ++n;
    for (auto* sub : node->blocks()) n += count_kind(sub, kinds);
  }
  return n;
}
int count_kind(const torch::jit::Graph& g, std::initializer_list<const char*> kinds) {
  return count_kind(g.block(), kinds);
}


struct ModelsTest : ::testing::Test {
  static void SetUpTestSuite() {
    Runtime r;
    r.threads = 2;
    init_runtime(r);
    mm::test::register_test_models();
  }
};

// Every layer of the archive, computed in C++, against the Python activations.
void expect_parity(const std::string& archive, const std::string& acts_dir, double tol) {
  auto m = ModelHandle::open(fixture(archive));
  auto x = npy(fixture(acts_dir + "/input.npy"));
  torch::NoGradGuard ng;
  // All layers at once, and each layer alone (a separately pruned graph).
  auto all = m.impl().forward(x, m.info().layers, false);
  for (const auto& layer : m.info().layers) {
    auto want = npy(fixture(acts_dir + "/" + layer + ".npy"));
    auto got = all.at(layer);
    ASSERT_EQ(got.sizes(), want.sizes()) << archive << " " << layer;
    double scale = std::max(1.0, want.abs().max().item<double>());
    EXPECT_LE((got - want).abs().max().item<double>(), tol * scale) << archive << " layer " << layer;
    auto alone = m.impl().forward(x, {layer}, false).at(layer);
    EXPECT_LE((alone - want).abs().max().item<double>(), tol * scale) << archive << " layer " << layer << " alone";
  }
}

}  // namespace

TEST_F(ModelsTest, ResNet18ArchiveMatchesPython) { expect_parity("resnet18.pt", "resnet18_acts", 1e-5); }
TEST_F(ModelsTest, AlexNetArchiveMatchesPython) { expect_parity("alexnet.pt", "alexnet_acts", 1e-5); }
TEST_F(ModelsTest, HandScriptedArchiveMatchesPython) { expect_parity("tiny_script.pt", "tiny_acts", 1e-5); }
TEST_F(ModelsTest, HandTracedArchiveMatchesPython) { expect_parity("tiny_script_trace.pt", "tiny_acts", 1e-5); }
TEST_F(ModelsTest, AudioArchiveMatchesPython) { expect_parity("tiny_audio.pt", "tiny_audio_acts", 1e-5); }

TEST_F(ModelsTest, InfoFromMetamerlabJson) {
  auto m = ModelHandle::open(fixture("resnet18.pt"));
  const auto& i = m.info();
  EXPECT_EQ(i.modality, "image");
  EXPECT_EQ(i.input_shape, (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(i.classes.size(), 1000u);
  EXPECT_EQ(i.layers.back(), "logits");
  EXPECT_EQ(i.sha256.size(), 64u);
  auto a = ModelHandle::open(fixture("tiny_audio.pt"));
  EXPECT_EQ(a.info().modality, "audio");
  EXPECT_EQ(a.info().sample_rate, 8000);
  EXPECT_EQ(a.info().input_shape, (std::vector<int64_t>{8000}));
}

// An early layer must not pay for the whole network.
TEST_F(ModelsTest, PrunesToRequestedLayersForEveryExporter) {
  const std::initializer_list<const char*> convs{"aten::_convolution", "aten::conv2d", "aten::conv1d"};
  const std::initializer_list<const char*> linears{"aten::linear", "aten::addmm", "aten::matmul"};
  {
    auto m = ModelHandle::open(fixture("resnet18.pt"));
    auto early = pruned_graph_of(m.impl(), {"relu"}, false);
    auto l1 = pruned_graph_of(m.impl(), {"layer1"}, false);
    auto full = pruned_graph_of(m.impl(), {"logits"}, false);
    ASSERT_TRUE(early && l1 && full);
    EXPECT_EQ(count_kind(*early, convs), 1) << *early;   // conv1 only
    EXPECT_EQ(count_kind(*l1, convs), 5);      // conv1 + 2 blocks x 2
    EXPECT_EQ(count_kind(*full, convs), 20);   // all of resnet18 (17 + 3 downsample)
    EXPECT_EQ(count_kind(*early, linears), 0);
    EXPECT_EQ(count_kind(*full, linears), 1);
  }
  for (const char* f : {"tiny_script.pt", "tiny_script_trace.pt"}) {  // not our exporter
    auto m = ModelHandle::open(fixture(f));
    auto early = pruned_graph_of(m.impl(), {"conv1"}, false);
    auto full = pruned_graph_of(m.impl(), {"logits"}, false);
    ASSERT_TRUE(early && full) << f;
    EXPECT_EQ(count_kind(*early, convs), 1) << f;
    EXPECT_EQ(count_kind(*full, convs), 2) << f;
    EXPECT_EQ(count_kind(*early, linears), 0) << f;
  }
}

// The pruned early-layer function (what PrunesToRequestedLayersForEveryExporter counts)
// computes the same activation as the whole network does. How much cheaper it is, is
// measured by bench/run_bench_synth.sh, not timed here: a timed test fails under load.
TEST_F(ModelsTest, EarlyLayerForwardMatchesFullForward) {
  auto m = ModelHandle::open(fixture("resnet18.pt"));
  torch::manual_seed(3);
  auto x = torch::rand({2, 3, 224, 224});
  torch::NoGradGuard ng;
  auto early = m.impl().forward(x, {"relu"}, false);
  auto both = m.impl().forward(x, {"relu", "logits"}, false);
  ASSERT_EQ(early.count("relu"), 1u);
  EXPECT_EQ(early.count("logits"), 0u) << "an early request must not return (or compute) the logits";
  ASSERT_EQ(both.count("relu"), 1u);
  ASSERT_EQ(both.count("logits"), 1u);
  EXPECT_EQ(early.at("relu").sizes(), both.at("relu").sizes());
  EXPECT_TRUE(torch::allclose(early.at("relu"), both.at("relu"), 1e-5, 1e-6));
  EXPECT_GT(early.at("relu").abs().sum().item<double>(), 0.0);
}

// Fake ReLU: same values, identity gradient, only at the measured layer.
TEST_F(ModelsTest, FakeReluInImportedGraphs) {
  for (const char* f : {"tiny_script.pt", "tiny_script_trace.pt"}) {
    auto m = ModelHandle::open(fixture(f));
    for (auto [relu, pre] : {std::pair{"relu1", "conv1"}, std::pair{"relu2", "conv2"}}) {
      auto x = torch::rand({2, 3, 32, 32});
      auto x1 = x.clone().requires_grad_(true), x2 = x.clone().requires_grad_(true), x3 = x.clone().requires_grad_(true);
      auto real = m.impl().forward(x1, {relu}, false).at(relu);
      auto fake = m.impl().forward(x2, {relu}, true).at(relu);
      auto lin = m.impl().forward(x3, {pre}, false).at(pre);
      EXPECT_TRUE(torch::equal(real, fake)) << f << " " << relu;
      ASSERT_GT((lin < 0).sum().item<int64_t>(), 0) << "fixture should have negative pre-activations";
      real.sum().backward();
      fake.sum().backward();
      lin.sum().backward();
      // The fake ReLU's gradient is that of the pre-activation, the real one's is not.
      EXPECT_TRUE(torch::allclose(x2.grad(), x3.grad(), 1e-5, 1e-6)) << f << " " << relu;
      EXPECT_FALSE(torch::allclose(x1.grad(), x3.grad(), 1e-5, 1e-6)) << f << " " << relu;
    }
  }
}

TEST_F(ModelsTest, FakeReluInCppModel) {
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto x = torch::rand({1, 3, 64, 64});
  auto x1 = x.clone().requires_grad_(true), x2 = x.clone().requires_grad_(true);
  auto real = m.impl().forward(x1, {"stage2"}, false).at("stage2");
  auto fake = m.impl().forward(x2, {"stage2"}, true).at("stage2");
  EXPECT_TRUE(torch::equal(real, fake));
  real.sum().backward();
  fake.sum().backward();
  EXPECT_FALSE(torch::allclose(x1.grad(), x2.grad()));
  auto v = torch::tensor({-2.0, -0.5, 0.0, 1.5}).requires_grad_(true);
  auto y = fake_relu(v);
  EXPECT_TRUE(torch::equal(y, torch::relu(v)));
  y.sum().backward();
  EXPECT_TRUE(torch::equal(v.grad(), torch::ones({4}, torch::kFloat64)));
}

TEST_F(ModelsTest, CppModelStopsAtDeepestRequestedLayer) {
  auto m = ModelHandle::open("zoo:tiny-cnn");
  auto x = torch::rand({2, 3, 64, 64});
  torch::NoGradGuard ng;
  auto full = m.impl().forward(x, m.info().layers, false);
  auto early = m.impl().forward(x, {"conv1"}, false);
  EXPECT_EQ(early.size(), 1u);
  EXPECT_TRUE(torch::equal(early.at("conv1"), full.at("conv1")));
  // Which operators ran, from torch's profiler (not a timing: that fails under load).
  auto convolutions = [&](const std::string& l) {
    std::ostringstream trace;
    {
      torch::autograd::profiler::RecordProfile profile(trace);
      m.impl().forward(x, {l}, false);
    }
    const std::string s = trace.str();
    int n = 0;
    for (size_t at = s.find("\"aten::convolution\""); at != std::string::npos; at = s.find("\"aten::convolution\"", at + 1)) ++n;
    return n;
  };
  const int to_conv1 = convolutions("conv1"), to_logits = convolutions("logits");
  EXPECT_GE(to_conv1, 1);
  EXPECT_LT(to_conv1, to_logits) << "asking for conv1 ran " << to_conv1 << " convolutions, the whole network " << to_logits;
}

TEST_F(ModelsTest, UnknownLayerListsTheLayers) {
  auto m = ModelHandle::open(fixture("tiny_script.pt"));
  std::string e = mm::test::error_of<std::exception>([&] { m.check_layers({"conv9"}); });
  EXPECT_NE(e.find("conv9"), std::string::npos) << e;
  EXPECT_NE(e.find("conv1, relu1, conv2, relu2, pool, logits"), std::string::npos) << e;
  EXPECT_NE(e.find("tiny_script.pt"), std::string::npos) << e;
  auto z = ModelHandle::open("zoo:tiny-cnn");
  e = mm::test::error_of<std::exception>([&] { z.check_layers({"layer4"}); });
  EXPECT_NE(e.find("conv1, stage1, stage2, stage3, avgpool, logits"), std::string::npos) << e;
  e = mm::test::error_of<std::exception>([] { ModelHandle::open("zoo:nonesuch"); });
  EXPECT_NE(e.find("zoo:tiny-cnn"), std::string::npos) << e;
}

TEST_F(ModelsTest, BrokenArchivesGiveOneClearMessage) {
  struct Case {
    std::string file, expect;
  } cases[] = {
      {"no_json.pt", "no metamerlab.json"},
      {"tensor_output.pt", "not Dict[str, Tensor]"},
      {"bad_json.pt", "not valid JSON"},
      {"wrong_layers.pt", "conv3"},
      {"wrong_shape.pt", "fails on an input of the shape metamerlab.json declares [1, 3, 64, 64]"},
  };
  for (const auto& c : cases) {
    std::string e = mm::test::error_of<std::exception>([&] { ModelHandle::open(fixture(c.file)); });
    EXPECT_NE(e.find(c.file), std::string::npos) << e;
    EXPECT_NE(e.find(c.expect), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  fs::path dir = fs::path(METAMERLAB_BUILD_DIR) / "test-scratch";
  fs::create_directories(dir);
  std::string text = (dir / "not_a_model.pt").string(), empty = (dir / "empty.pt").string();
  { std::ofstream(text) << "hello"; }
  { std::ofstream{empty}; }
  EXPECT_NE(mm::test::error_of<std::exception>([&] { ModelHandle::open(text); }).find("not a TorchScript archive"), std::string::npos);
  EXPECT_NE(mm::test::error_of<std::exception>([&] { ModelHandle::open(empty); }).find("empty"), std::string::npos);
  EXPECT_NE(mm::test::error_of<std::exception>([&] { ModelHandle::open((dir / "missing.pt").string()); }).find("no such model file"), std::string::npos);
}

TEST_F(ModelsTest, WrongInputShapeIsRefused) {
  auto m = ModelHandle::open(fixture("tiny_script.pt"));
  mm::stimuli::Array a;
  a.shape = {3, 64, 64};
  a.data.assign(3 * 64 * 64, 0.5f);
  std::string e = mm::test::error_of<std::exception>([&] { m.classify({a}); });
  EXPECT_NE(e.find("3x64x64"), std::string::npos) << e;
  EXPECT_NE(e.find("3x32x32"), std::string::npos) << e;
}

TEST_F(ModelsTest, ClassifyRestrictedToCategories) {
  auto m = ModelHandle::open(fixture("tiny_script.pt"));
  std::vector<mm::stimuli::Array> xs;
  for (int i = 0; i < 8; ++i) xs.push_back(to_array(torch::rand({3, 32, 32})));
  auto all = m.classify(xs);
  auto some = m.classify(xs, {"b", "d"});
  torch::NoGradGuard ng;
  auto logits = m.impl().forward(stack_arrays(xs, 0, xs.size()), {"logits"}, false).at("logits");
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(all[i].index, logits[i].argmax().item<int64_t>());
    int64_t want = logits[i][1].item<float>() >= logits[i][3].item<float>() ? 1 : 3;
    EXPECT_EQ(some[i].index, want);
  }
  EXPECT_NE(mm::test::error_of<std::exception>([&] { m.classify(xs, {"zebra"}); }).find("zebra"), std::string::npos);
}
