// tests/fuzz/model_meta_test.cpp: the torch-free model JSON parsers the fuzzers drive
// (synth/model_meta.h): a TorchScript archive's metamerlab.json and a trained network's
// sidecar. Valid files parse as before; numbers of the wrong type (a float where a whole
// number belongs: undefined behaviour in a plain cast) and sizes no model has (a header
// that would make loading allocate without bound) are refused with the file named.
#include <gtest/gtest.h>

#include <string>

#include "synth/model_meta.h"
#include "tests/testutil.h"

namespace mm::synth {
namespace {

using mm::test::error_of;

std::string meta(const std::string& input, const std::string& range = "[0, 1]") {
  return R"({"modality": "image", "input": )" + input + R"(, "range": )" + range +
         R"(, "classes": ["a", "b"], "layers": ["conv1", "logits"]})";
}

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

TEST(ModelMeta, ArchiveJsonParses) {
  const ModelInfo i = parse_model_info("m.pt", meta(R"({"shape": [3, 64, 48]})", "[-1, 2.5]"));
  EXPECT_EQ(i.modality, "image");
  EXPECT_EQ(i.input_shape, (std::vector<int64_t>{3, 64, 48}));
  EXPECT_FLOAT_EQ(i.lo, -1.0f);
  EXPECT_FLOAT_EQ(i.hi, 2.5f);
  EXPECT_EQ(i.layers.back(), "logits");
  const ModelInfo a = parse_model_info("a.pt", R"({"modality": "audio", "input": {"samples": 16000, "sample_rate": 16000},
      "range": [-1, 1], "classes": ["x"], "layers": ["logits"]})");
  EXPECT_EQ(a.input_shape, (std::vector<int64_t>{16000}));
  EXPECT_EQ(a.sample_rate, 16000);
}

TEST(ModelMeta, ArchiveJsonRefusals) {
  std::string m = error_of([] { parse_model_info("m.pt", "{\"modality\": "); });
  EXPECT_TRUE(has(m, "m.pt: metamerlab.json is not valid JSON")) << m;
  // A float where a whole number belongs: refused, never cast (1e30 overflows int64).
  m = error_of([] { parse_model_info("m.pt", meta(R"({"shape": [3, 1e30, 64]})")); });
  EXPECT_TRUE(has(m, "m.pt: metamerlab.json has a field of the wrong type")) << m;
  EXPECT_TRUE(has(m, "whole number")) << m;
  m = error_of([] { parse_model_info("m.pt", R"({"modality": "audio", "input": {"samples": 1.5e300, "sample_rate": 16000},
      "range": [-1, 1], "classes": ["x"], "layers": ["logits"]})"); });
  EXPECT_TRUE(has(m, "wrong type")) << m;
  // A size no model has: loading would run the model on a zero input of that shape.
  m = error_of([] { parse_model_info("m.pt", meta(R"({"shape": [3, 100000, 100000]})")); });
  EXPECT_TRUE(has(m, "larger than 8192 pixels a side")) << m;
  m = error_of([] { parse_model_info("m.pt", meta(R"({"shape": [3, 64, 64]})", "[0, 1e300]")); });
  EXPECT_TRUE(has(m, "finite single-precision")) << m;
  m = error_of([] { parse_model_info("m.pt", meta(R"({"shape": [2, 64, 64]})")); });
  EXPECT_TRUE(has(m, "input shape must be [1|3, H, W]")) << m;
}

TEST(ModelMeta, BundledSidecarsParse) {
  const NetSidecar s = read_net_sidecar(mm::test::source_dir() + "/models/emoji16-standard.pt");
  EXPECT_EQ(s.config.modality, "image");
  EXPECT_EQ(s.config.classes.size(), 16u);
  EXPECT_EQ(s.config.width, 40);
  EXPECT_EQ(s.config.stem_stride, 2);
  EXPECT_EQ(s.sha256.size(), 64u);
  const NetSidecar w = read_net_sidecar(mm::test::source_dir() + "/models/words16-standard.pt");
  EXPECT_EQ(w.config.modality, "audio");
  // A sidecar without the optional keys gets the old defaults.
  const NetSidecar d = parse_net_sidecar("n.pt.json", R"({"modality": "image", "classes": ["a", "b"],
      "arch": {"width": 8, "image_size": 32, "sample_rate": 16000, "samples": 16000}})");
  EXPECT_EQ(d.config.stem_stride, 1);
  EXPECT_EQ(d.config.envelope_decimation, 1);
  EXPECT_EQ(d.sha256, "");
}

TEST(ModelMeta, SidecarRefusals) {
  auto side = [](const std::string& arch, const std::string& modality = "image", const std::string& extra = "") {
    return R"({"modality": ")" + modality + R"(", "classes": ["a", "b"], "arch": {)" + arch + "}" + extra + "}";
  };
  const std::string ok = R"("width": 8, "image_size": 32, "sample_rate": 16000, "samples": 16000)";
  std::string m = error_of([&] { parse_net_sidecar("n.pt.json", "[1, 2"); });
  EXPECT_TRUE(has(m, "n.pt.json: not valid JSON")) << m;
  m = error_of([&] { parse_net_sidecar("n.pt.json", side(R"("width": 8.5, "image_size": 32, "sample_rate": 16000, "samples": 16000)")); });
  EXPECT_TRUE(has(m, "n.pt.json: missing or wrong field")) << m;
  EXPECT_TRUE(has(m, "whole number")) << m;
  m = error_of([&] { parse_net_sidecar("n.pt.json", side(R"("width": 8, "image_size": 32, "sample_rate": 16000, "samples": 16000, "stem_stride": 1e12)")); });
  EXPECT_TRUE(has(m, "missing or wrong field")) << m;
  m = error_of([&] { parse_net_sidecar("n.pt.json", side(ok, "image", R"(, "sha256": 5)")); });
  EXPECT_TRUE(has(m, "missing or wrong field")) << m;
  m = error_of([&] { parse_net_sidecar("n.pt.json", side(R"("width": 100000000, "image_size": 32, "sample_rate": 16000, "samples": 16000)")); });
  EXPECT_TRUE(has(m, "n.pt.json: arch width 100000000 is beyond 4096 channels")) << m;
  m = error_of([&] { parse_net_sidecar("n.pt.json", side(R"("width": 8, "image_size": 2000000, "sample_rate": 16000, "samples": 16000)")); });
  EXPECT_TRUE(has(m, "image_size 2000000")) << m;
  // An envelope decimation of 2^31-1 would have the audio network try every divisor.
  m = error_of([&] { parse_net_sidecar("n.pt.json", side(R"("width": 8, "image_size": 32, "sample_rate": 16000, "samples": 16000, "envelope_decimation": 2147483647)", "audio")); });
  EXPECT_TRUE(has(m, "envelope_decimation 2147483647 is beyond 64")) << m;
  m = error_of([&] { parse_net_sidecar("n.pt.json", side(R"("width": 8, "image_size": 32, "sample_rate": 0, "samples": 16000)", "audio")); });
  EXPECT_TRUE(has(m, "sample_rate 0 is outside")) << m;
  m = error_of([&] { read_net_sidecar("/nonexistent/n.pt"); });
  EXPECT_TRUE(has(m, "/nonexistent/n.pt.json: cannot read the network's sidecar")) << m;
}

}  // namespace
}  // namespace mm::synth
