// synth/model_meta.h: the JSON a model file carries, parsed without torch.
//
// Two readers: the metamerlab.json of a TorchScript archive (what the archive takes and
// gives) and the sidecar FILE.json that `metamerlab train` writes next to a network's
// weights (how to rebuild the network). model_torchscript.cpp and nets.cpp call them; they
// live apart from the torch translation units so the fuzzers (tests/fuzz/) and tests can
// drive them without LibTorch. Every refusal is a std::runtime_error naming the file and
// the fix.
//
// Sections
//   [SECTION] Archive metadata   metamerlab.json -> ModelInfo
//   [SECTION] Network sidecar    FILE.json -> NetConfig
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "synth/engine.h"

namespace mm::synth {

// [SECTION] Archive metadata --------------------------------------------------------------
// Parses and checks an archive's metamerlab.json (`text`); `path` is the archive, named in
// messages. Fills path, json, modality, input_shape, sample_rate, lo, hi, classes, layers.
ModelInfo parse_model_info(const std::string& path, const std::string& text);

// [SECTION] Network sidecar ---------------------------------------------------------------
// How to rebuild one of metamerlab's own networks (synth/nets.h).
struct NetConfig {
  std::string modality = "image";     // image | audio
  std::vector<std::string> classes;
  int width = 16;                     // first stage's channels (then x2, x4)
  int image_size = 64;                // image: side
  int stem_stride = 1;                // image: conv1's stride (2: a 5x5 stride-2 stem, 4x cheaper stages)
  int sample_rate = 16000;            // audio
  int64_t samples = 16000;            // audio: input length
  int envelope_decimation = 4;        // audio: the cochleagram's (cochleagram.h); sidecars without it: 1
};

// A sidecar as read: the network's configuration, the JSON itself and the weights' recorded
// sha256 ("" when it records none).
struct NetSidecar {
  NetConfig config;
  nlohmann::json json;
  std::string sha256;
};

// Parses a sidecar's text; `side` is its path, named in messages. Refuses sizes no network
// could have (they would make building it allocate without bound); make_net checks the rest.
NetSidecar parse_net_sidecar(const std::string& side, const std::string& text);
// Reads and parses weights_path + ".json".
NetSidecar read_net_sidecar(const std::string& weights_path);

}  // namespace mm::synth
