// tests/synth/test_train.cpp: metamerlab's own networks and their training.
//
// The image and audio networks stop at the deepest requested layer and round-trip through
// save/load with identical logits; a few training steps lower the loss; a run killed after
// a checkpoint and resumed ends with bit-identical weights to an uninterrupted run; PGD
// raises the loss of an undefended model and stays inside its eps ball and the input range;
// `train` on a tiny ImageFolder set writes weights and a sidecar that load back.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "stimuli/demo.h"
#include "synth/nets.h"
#include "tests/testutil.h"

namespace fs = std::filesystem;
using namespace mm::synth;

namespace {

NetConfig image_config(int size = 32) {
  NetConfig c;
  c.modality = "image";
  c.classes = {"a", "b", "c", "d"};
  c.width = 8;
  c.image_size = size;
  return c;
}

// Four classes told apart by which colour channel is bright, plus seeded noise.
TensorSet colour_set(int64_t n, int size, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  TensorSet s;
  s.y = torch::arange(n, torch::kLong).remainder(4);
  auto x = torch::rand({n, 3, size, size}, g) * 0.4;
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = s.y[i].item<int64_t>();
    if (k < 3) x[i][k] += 0.5;
    else x[i] += 0.3;
  }
  s.x = x.clamp(0, 1);
  return s;
}

double mean_loss(TrainableNet& net, const TensorSet& s) {
  torch::NoGradGuard ng;
  net.module().eval();
  return torch::nn::functional::cross_entropy(net.logits(s.x), s.y).item<double>();
}

std::vector<torch::Tensor> state_of(TrainableNet& net) {
  std::vector<torch::Tensor> v;
  for (const auto& p : net.module().named_parameters()) v.push_back(p.value().detach().clone());
  for (const auto& b : net.module().named_buffers()) v.push_back(b.value().detach().clone());
  return v;
}

TrainOptions quick_options() {
  TrainOptions o;
  o.epochs = 2;
  o.batch = 8;
  o.lr = 0.05;
  o.seed = 7;
  o.progress_every = 0;
  return o;
}

}  // namespace

TEST(TrainNets, StopAtTheDeepestRequestedLayer) {
  torch::manual_seed(1);
  auto net = make_net(image_config());
  auto x = torch::rand({2, 3, 32, 32});
  auto out = net->forward(x, {"conv1", "stage1"}, false);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.at("stage1").sizes(), torch::IntArrayRef({2, 8, 16, 16}));
  out.at("stage1").sum().backward();
  // Nothing past stage1 took part in the computation: no gradient reached stage2 or fc.
  for (const auto& p : net->module().named_parameters()) {
    const bool later = p.key().find("stage2") != std::string::npos || p.key().find("stage3") != std::string::npos ||
                       p.key().find("fc") != std::string::npos;
    if (later) EXPECT_FALSE(p.value().grad().defined()) << p.key();
    else EXPECT_TRUE(p.value().grad().defined()) << p.key();
  }
  auto all = net->forward(x, net->info().layers, false);
  EXPECT_EQ(all.size(), net->info().layers.size());
  EXPECT_EQ(all.at("logits").sizes(), torch::IntArrayRef({2, 4}));
  EXPECT_EQ(all.at("avgpool").sizes(), torch::IntArrayRef({2, 32}));
  try {
    net->forward(x, {"stage9"}, false);
    FAIL() << "unknown layer accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("layers: conv1, stage1"), std::string::npos) << e.what();
  }

  NetConfig ac;
  ac.modality = "audio";
  ac.classes = {"yes", "no"};
  ac.width = 4;
  ac.samples = 8000;
  auto audio = make_net(ac);
  EXPECT_EQ(audio->info().layers.front(), "cochleagram");
  auto w = torch::randn({2, 8000}) * 0.1;
  auto c = audio->forward(w, {"cochleagram"}, false);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c.at("cochleagram").dim(), 4);
  EXPECT_EQ(c.at("cochleagram").size(2), 45);
  auto logits = audio->forward(w, {"logits"}, false).at("logits");
  EXPECT_EQ(logits.sizes(), torch::IntArrayRef({2, 2}));
}

TEST(TrainNets, FakeReluPassesTheIdentityGradientAtMeasuredLayers) {
  torch::manual_seed(2);
  auto net = make_net(image_config());
  net->module().eval();
  auto x = torch::rand({1, 3, 32, 32}).requires_grad_(true);
  auto real = net->forward(x, {"stage2"}, false).at("stage2");
  auto fake = net->forward(x, {"stage2"}, true).at("stage2");
  EXPECT_TRUE(torch::equal(real, fake));  // same forward values
  auto gr = torch::autograd::grad({real.sum()}, {x})[0];
  auto gf = torch::autograd::grad({fake.sum()}, {x})[0];
  EXPECT_GT((gr - gf).abs().max().item<double>(), 1e-6);  // different backward
}

TEST(TrainNets, SaveLoadRoundTripGivesIdenticalLogits) {
  mm::test::TempDir tmp("train_roundtrip");
  torch::manual_seed(3);
  auto net = make_net(image_config());
  net->module().train();
  {
    torch::NoGradGuard ng;
    net->logits(torch::rand({8, 3, 32, 32}));  // move the batch-norm running statistics
  }
  net->module().eval();
  const std::string path = tmp / "net.pt";
  const std::string sha = save_net(*net, path, {{"recipe", {{"epochs", 0}}}});
  auto back = load_net(path);
  EXPECT_EQ(back->info().sha256, sha);
  EXPECT_EQ(back->info().classes, net->info().classes);
  EXPECT_NE(back->info().json.find("\"recipe\""), std::string::npos);
  auto x = torch::rand({4, 3, 32, 32});
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::equal(net->logits(x), back->logits(x)));
  // A changed weights file is refused, naming the sidecar's hash.
  {
    std::ofstream f(path, std::ios::app | std::ios::binary);
    f << "x";
  }
  try {
    load_net(path);
    FAIL() << "tampered weights accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("sha256"), std::string::npos) << e.what();
  }
}

TEST(TrainLoop, AFewStepsLowerTheLoss) {
  torch::manual_seed(4);
  auto net = make_net(image_config());
  auto data = colour_set(64, 32, 11);
  const double before = mean_loss(*net, data);
  TrainOptions o = quick_options();
  o.epochs = 8;  // 64 steps
  TrainReport rep;
  train_on_tensors(*net, data, o, rep);
  EXPECT_TRUE(rep.finished);
  EXPECT_EQ(rep.steps, 64);
  const double after = mean_loss(*net, data);
  EXPECT_LT(after, 0.5 * before) << "before " << before << " after " << after;
  EXPECT_GT(accuracy(*net, data, PgdOptions{}, 16, 0), 0.9);
}

TEST(TrainLoop, ResumeAfterAKillContinuesIdentically) {
  mm::test::TempDir tmp("train_resume");
  auto data = colour_set(40, 32, 12);
  TrainOptions o = quick_options();  // 2 epochs x 5 steps
  o.train_attack.norm = Norm::linf;  // exercise the per-step random starts too
  o.train_attack.eps = 4.0 / 255;
  o.train_attack.steps = 2;
  o.augment = true;                  // and the per-step on-line augmentation,
  o.style_augment = true;            // colour and blur,
  o.mixup = 0.4;                     // mixup's per-step lambda and pairing
  o.label_smoothing = 0.1;

  torch::manual_seed(5);
  auto straight = make_net(image_config());
  TrainReport r1;
  train_on_tensors(*straight, data, o, r1);
  ASSERT_TRUE(r1.finished);

  o.checkpoint = tmp / "run.ckpt";
  o.checkpoint_every = 3;
  o.stop_after = 7;  // killed after step 7; the last checkpoint is at step 6
  torch::manual_seed(5);
  auto first = make_net(image_config());
  TrainReport r2;
  train_on_tensors(*first, data, o, r2);
  EXPECT_FALSE(r2.finished);
  ASSERT_TRUE(fs::exists(o.checkpoint));

  o.stop_after = -1;
  torch::manual_seed(99);  // a different initialization: the checkpoint must replace it
  auto resumed = make_net(image_config());
  TrainReport r3;
  train_on_tensors(*resumed, data, o, r3);
  EXPECT_TRUE(r3.resumed);
  EXPECT_EQ(r3.start_step, 6);
  EXPECT_TRUE(r3.finished);
  auto a = state_of(*straight), b = state_of(*resumed);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;

  // A checkpoint from other options is refused rather than silently mixed in.
  o.lr = 0.1;
  auto other = make_net(image_config());
  TrainReport r4;
  EXPECT_THROW(train_on_tensors(*other, data, o, r4), std::runtime_error);
}

TEST(TrainPgd, RaisesTheLossOfAnUndefendedModelInsideTheEpsBall) {
  torch::manual_seed(6);
  auto net = make_net(image_config());
  auto data = colour_set(64, 32, 13);
  TrainOptions o = quick_options();
  o.epochs = 3;
  TrainReport rep;
  train_on_tensors(*net, data, o, rep);
  net->module().eval();
  auto x = data.x.slice(0, 0, 16);
  auto y = data.y.slice(0, 0, 16);
  const double clean = torch::nn::functional::cross_entropy(net->logits(x), y).item<double>();
  for (Norm norm : {Norm::linf, Norm::l2}) {
    PgdOptions p;
    p.norm = norm;
    p.eps = norm == Norm::linf ? 8.0 / 255 : 1.0;
    p.steps = 5;
    auto adv = pgd_attack(*net, x, y, p, 0.0f, 1.0f, at::detail::createCPUGenerator(1));
    const double attacked = torch::nn::functional::cross_entropy(net->logits(adv), y).item<double>();
    EXPECT_GT(attacked, clean + 0.05) << norm_name(norm) << ": clean " << clean << " attacked " << attacked;
    auto d = (adv - x).reshape({16, -1});
    if (norm == Norm::linf) EXPECT_LE(d.abs().max().item<double>(), p.eps + 1e-6);
    else EXPECT_LE(d.norm(2, 1).max().item<double>(), p.eps + 1e-6);
    EXPECT_GE(adv.min().item<double>(), 0.0);
    EXPECT_LE(adv.max().item<double>(), 1.0);
  }
}

TEST(TrainPgd, AudioL2AttackStaysInTheBallAndRange) {
  torch::manual_seed(7);
  NetConfig ac;
  ac.modality = "audio";
  ac.classes = {"yes", "no"};
  ac.width = 4;
  ac.samples = 8000;
  auto net = make_net(ac);
  net->module().eval();
  auto x = torch::randn({2, 8000}) * 0.1;
  auto y = torch::tensor({0, 1}, torch::kLong);
  PgdOptions p;
  p.norm = Norm::l2;
  p.eps = 0.5;
  p.steps = 5;  // the paper's audio recipe: step eps/2, random start
  auto adv = pgd_attack(*net, x, y, p, -1.0f, 1.0f, at::detail::createCPUGenerator(2));
  EXPECT_LE((adv - x).norm(2, 1).max().item<double>(), p.eps + 1e-6);
  EXPECT_GT((adv - x).abs().max().item<double>(), 0.0);
  EXPECT_LE(adv.abs().max().item<double>(), 1.0);
}

TEST(TrainLoop, AudioStandardTrainingUsesTheCochleagramComputedOnce) {
  torch::manual_seed(8);
  NetConfig ac;
  ac.modality = "audio";
  ac.classes = {"yes", "no"};
  ac.width = 4;
  ac.samples = 8000;
  auto net = make_net(ac);
  net->module().eval();
  TensorSet data;
  data.x = torch::randn({8, 8000}) * 0.1;
  data.x.slice(0, 0, 4) *= torch::linspace(0, 1, 8000);  // class 0 rises, class 1 is flat
  data.y = torch::tensor({0, 0, 0, 0, 1, 1, 1, 1}, torch::kLong);
  {
    torch::NoGradGuard ng;
    auto direct = net->logits(data.x);
    auto split = net->logits_after_frontend(net->frontend(data.x));
    EXPECT_TRUE(torch::allclose(direct, split, 1e-5, 1e-6));
  }
  TrainOptions o = quick_options();
  o.batch = 4;
  o.epochs = 3;
  o.lr = 0.02;
  const double before = mean_loss(*net, data);
  TrainReport rep;
  train_on_tensors(*net, data, o, rep);
  EXPECT_TRUE(rep.finished);
  EXPECT_EQ(rep.steps, 6);
  EXPECT_TRUE(std::isfinite(mean_loss(*net, data)));
  EXPECT_TRUE(std::isfinite(before));
}

// On-line augmentation: the same step gives the same batch; flips, shifts and masks keep
// the shape and change the data; cochleagram augmentation moves along frequency and time.
TEST(TrainLoop, AugmentationIsSeededPerStepAndChangesTheBatch) {
  auto data = colour_set(16, 32, 3);
  TrainOptions o = quick_options();
  o.augment = true;
  o.epochs = 1;
  torch::manual_seed(1);
  auto a = make_net(image_config());
  TrainReport ra;
  train_on_tensors(*a, data, o, ra);
  torch::manual_seed(1);
  auto b = make_net(image_config());
  TrainReport rb;
  train_on_tensors(*b, data, o, rb);
  auto sa = state_of(*a), sb = state_of(*b);
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i], sb[i])) << "tensor " << i;
  o.augment = false;
  torch::manual_seed(1);
  auto c = make_net(image_config());
  TrainReport rc;
  train_on_tensors(*c, data, o, rc);
  auto sc = state_of(*c);
  bool differs = false;
  for (size_t i = 0; i < sa.size(); ++i) differs |= !torch::equal(sa[i], sc[i]);
  EXPECT_TRUE(differs) << "augmentation changed nothing";
}

// Style augmentation: reproducible for a generator state; keeps shape and range (every
// change is a convex combination of the input's values); recolours some items (a channel
// permutation or greyscale changes the per-channel means) and blurs some (less contrast
// between neighbouring pixels) while leaving others untouched.
TEST(TrainLoop, StyleAugmentationRecoloursAndBlursReproducibly) {
  auto x = torch::rand({64, 3, 16, 16}, torch::TensorOptions().dtype(torch::kFloat32));
  x.select(1, 0).mul_(0.3);  // channels of different means, so a permutation shows
  x.select(1, 2).mul_(0.3).add_(0.7);
  at::Generator g1 = at::detail::createCPUGenerator(7), g2 = at::detail::createCPUGenerator(7);
  auto a = style_augment_images(x, g1), b = style_augment_images(x, g2);
  ASSERT_EQ(a.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_GE(a.min().item<float>(), x.min().item<float>() - 1e-6f);
  EXPECT_LE(a.max().item<float>(), x.max().item<float>() + 1e-6f);
  int unchanged = 0, recoloured = 0, blurred = 0;
  for (int64_t i = 0; i < x.size(0); ++i) {
    if (torch::equal(a[i], x[i])) ++unchanged;
    auto mx = x[i].mean({1, 2}), ma = a[i].mean({1, 2});
    if ((mx - ma).abs().max().item<float>() > 0.05f) ++recoloured;
    auto dx = (x[i].slice(2, 1) - x[i].slice(2, 0, -1)).abs().mean().item<float>();
    auto da = (a[i].slice(2, 1) - a[i].slice(2, 0, -1)).abs().mean().item<float>();
    if (da < 0.8f * dx) ++blurred;
  }
  // Expected counts out of 64: untouched 0.5*0.8*0.7*64 = 18, recoloured ~38, blurred ~19.
  EXPECT_GT(unchanged, 5);
  EXPECT_GT(recoloured, 20);
  EXPECT_GT(blurred, 7);
  EXPECT_LT(blurred, 35);
}

TEST(TrainLoop, MixupAndLabelSmoothingAreValidatedAndChangeTraining) {
  auto data = colour_set(16, 32, 3);
  TrainOptions o = quick_options();
  o.epochs = 1;
  torch::manual_seed(1);
  auto a = make_net(image_config());
  TrainReport ra;
  train_on_tensors(*a, data, o, ra);
  for (int variant = 0; variant < 2; ++variant) {
    TrainOptions v = o;
    (variant == 0 ? v.mixup : v.label_smoothing) = 0.2;
    torch::manual_seed(1);
    auto b = make_net(image_config());
    TrainReport rb;
    train_on_tensors(*b, data, v, rb);
    auto sa = state_of(*a), sb = state_of(*b);
    bool differs = false;
    for (size_t i = 0; i < sa.size(); ++i) differs |= !torch::equal(sa[i], sb[i]);
    EXPECT_TRUE(differs) << (variant == 0 ? "mixup" : "label smoothing") << " changed nothing";
  }
  TrainOptions bad = o;
  bad.label_smoothing = 1.0;
  TrainReport r;
  EXPECT_THROW(train_on_tensors(*a, data, bad, r), std::runtime_error);
  bad = o;
  bad.mixup = -1;
  EXPECT_THROW(train_on_tensors(*a, data, bad, r), std::runtime_error);
}

TEST(Train, TrainsOnAnImageFolderSetAndWritesWeightsAndSidecar) {
  mm::test::TempDir tmp("train_folder");
  mm::stimuli::write_demo_shapes(tmp / "data/train", 6, 32, 1);
  mm::stimuli::write_demo_shapes(tmp / "data/test", 3, 32, 2);
  TrainOptions o;
  o.data_dir = tmp / "data";
  o.modality = "image";
  o.out = tmp / "out/model.pt";
  o.epochs = 1;
  o.batch = 8;
  o.width = 4;
  o.image_size = 32;
  o.eval_attack.norm = Norm::linf;
  o.eval_attack.eps = 2.0 / 255;
  o.eval_attack.steps = 2;
  std::ostringstream progress;
  o.progress = &progress;
  auto rep = train(o);
  EXPECT_TRUE(rep.finished);
  EXPECT_EQ(rep.train_items, 24);
  EXPECT_EQ(rep.test_items, 12);
  EXPECT_EQ(rep.steps, 3);
  EXPECT_EQ(rep.classes, mm::stimuli::demo_shape_categories());
  EXPECT_GE(rep.clean_acc, 0.0);
  EXPECT_GE(rep.adv_acc, 0.0);
  EXPECT_NE(progress.str().find("loss"), std::string::npos) << progress.str();
  EXPECT_FALSE(fs::exists(o.out + ".ckpt"));
  auto back = load_net(o.out);
  auto j = nlohmann::json::parse(back->info().json);
  EXPECT_EQ(j.at("sha256").get<std::string>(), rep.weights_sha256);
  EXPECT_EQ(j.at("metrics").at("attack").at("norm"), "linf");
  EXPECT_DOUBLE_EQ(j.at("metrics").at("clean_accuracy").get<double>(), rep.clean_acc);
  EXPECT_EQ(j.at("recipe").at("epochs"), 1);

  // Fine-tuning (--init): a run started from these weights with a vanishing learning rate
  // keeps them (up to batch-norm statistics), records where it started, and a network of
  // another width is refused naming the file.
  TrainOptions f = o;
  f.out = tmp / "out/tuned.pt";
  f.init = o.out;
  f.lr = 1e-12;
  f.eval_attack.norm = Norm::none;
  auto tuned_rep = train(f);
  auto tuned = load_net(f.out);
  auto tj = nlohmann::json::parse(tuned->info().json);
  EXPECT_EQ(tj.at("recipe").at("init").at("sha256").get<std::string>(), rep.weights_sha256);
  {
    auto pa = back->module().named_parameters(), pb = tuned->module().named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (const auto& kv : pa) EXPECT_TRUE(torch::allclose(kv.value(), pb[kv.key()], 1e-6, 1e-8)) << kv.key();
  }
  EXPECT_NEAR(tuned_rep.clean_acc, rep.clean_acc, 0.2);
  f.out = tmp / "out/wide.pt";
  f.width = 8;
  try {
    train(f);
    FAIL() << "an --init network of another width was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model.pt: --init network differs"), std::string::npos) << e.what();
  }

  o.data_dir = tmp / "missing";
  try {
    train(o);
    FAIL() << "missing data accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/train: no such folder"), std::string::npos) << e.what();
  }
}

TEST(TrainCli, KilledRunResumesToTheSameWeightsAndBadInputIsOneLine) {
  mm::test::TempDir tmp("train_cli");
  mm::stimuli::write_demo_shapes(tmp / "data/train", 4, 32, 3);
  mm::stimuli::write_demo_shapes(tmp / "data/test", 2, 32, 4);
  const std::string base = mm::test::metamerlab_binary() + " train --data " + (tmp / "data") +
                           " --modality image --size 32 --width 4 --epochs 2 --batch 4 --threads 2 --checkpoint-every 3";
  auto straight = mm::test::run(base + " --out " + (tmp / "a.pt") + " --quiet");
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  auto killed = mm::test::run(base + " --out " + (tmp / "b.pt") + " --quiet --stop-after 5");
  ASSERT_EQ(killed.exit_code, 0) << killed.err;
  EXPECT_NE(killed.out.find("stopped after step 5"), std::string::npos) << killed.out;
  EXPECT_TRUE(fs::exists(tmp / "b.pt.ckpt"));
  auto resumed = mm::test::run(base + " --out " + (tmp / "b.pt"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming from"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.out.find("clean accuracy"), std::string::npos) << resumed.out;
  auto a = nlohmann::json::parse(mm::test::read_bytes(tmp / "a.pt.json"));
  auto b = nlohmann::json::parse(mm::test::read_bytes(tmp / "b.pt.json"));
  // (The archives' bytes differ with the file name, which torch writes into them; compare tensors.)
  auto wa = state_of(*load_net(tmp / "a.pt")), wb = state_of(*load_net(tmp / "b.pt"));
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << "tensor " << i;
  EXPECT_EQ(a.at("metrics").at("clean_accuracy"), b.at("metrics").at("clean_accuracy"));

  auto bad = mm::test::run(mm::test::metamerlab_binary() + " train --data " + (tmp / "data") +
                           " --modality video --out " + (tmp / "c.pt"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "metamerlab: train: --modality must be image or audio, not \"video\"\n");
  auto noeps = mm::test::run(mm::test::metamerlab_binary() + " train --data " + (tmp / "data") +
                             " --modality image --adversarial l2 --out " + (tmp / "c.pt"));
  EXPECT_EQ(noeps.exit_code, 2);
  EXPECT_NE(noeps.err.find("needs --eps"), std::string::npos) << noeps.err;
}
