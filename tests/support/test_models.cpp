// tests/support/test_models.cpp: zoo:tiny-cnn, registered by the tests.
#include "tests/support/test_models.h"

#include <mutex>

#include "data/sha256.h"
#include "synth/nets.h"

namespace mm::test {

void register_test_models() {
  static std::once_flag once;
  std::call_once(once, [] {
    synth::register_zoo_model("tiny-cnn", "", [](const std::string&, torch::Device device) -> std::unique_ptr<synth::Model> {
      torch::manual_seed(20231016);
      synth::NetConfig c;
      c.modality = "image";
      c.classes = {"checker", "disc", "ring", "stripes"};
      c.width = 16;
      c.image_size = 64;
      auto net = synth::make_net(c);
      net->module().eval();
      // Seeded weights, no file: the hash of the parameters identifies them.
      std::string bytes;
      for (auto& p : net->module().parameters()) {
        p.set_requires_grad(false);
        auto t = p.contiguous();
        bytes.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
      }
      net->set_record(synth::net_json(*net).dump(), "", data::sha256_hex(bytes.data(), bytes.size()));
      net->set_spec("zoo:tiny-cnn");
      net->to_device(device);
      return net;
    });
  });
}

}  // namespace mm::test
