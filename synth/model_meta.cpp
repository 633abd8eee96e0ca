// synth/model_meta.cpp: metamerlab.json of a TorchScript archive and the sidecar of a
// trained network, parsed and checked without torch (see model_meta.h).
//
// Sections
//   [SECTION] Helpers            numbers of the right type and range
//   [SECTION] Archive metadata   parse_model_info
//   [SECTION] Network sidecar    parse_net_sidecar, read_net_sidecar
#include "synth/model_meta.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mm::synth {
using json = nlohmann::json;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------
std::string first_line(const std::string& s) {
  auto p = s.find('\n');
  return p == std::string::npos ? s : s.substr(0, p);
}

// Thrown for a field of the wrong type or out of range; the callers add the file and fix.
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An integer field within [lo, hi]. nlohmann's get<int>() would cast a float such as 1e30
// (undefined behaviour) or wrap a large integer, so the type and range are checked first.
int64_t integer_in(const json& v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.is_number_integer())
    throw FieldError("\"" + name + "\" must be a whole number, not " + (v.is_number() ? v.dump() : std::string(v.type_name())));
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi) : (v.get<int64_t>() >= lo && v.get<int64_t>() <= hi);
  if (!fits)
    throw FieldError("\"" + name + "\" is " + v.dump() + ", outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
}

// The largest model input either kind of archive may declare: one zero input of the
// declared shape is run through the model when it loads.
constexpr int64_t kMaxSide = 8192;                 // image height and width
constexpr int64_t kMaxSamples = int64_t{1} << 26;  // audio samples (~35 min at 32 kHz)
constexpr int64_t kMaxRate = 768000;               // audio sample rate

}  // namespace

// [SECTION] Archive metadata --------------------------------------------------------------
ModelInfo parse_model_info(const std::string& path, const std::string& text) {
  const std::string fix = "; re-export the model with tools/export_model.py (see tools/README.md)";
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": metamerlab.json is not valid JSON (" + first_line(e.what()) + ")" + fix);
  }
  ModelInfo info;
  info.path = path;
  info.json = text;
  auto need = [&](const char* key) -> const json& {
    if (!j.contains(key)) throw std::runtime_error(path + ": metamerlab.json has no \"" + key + "\"" + fix);
    return j.at(key);
  };
  try {
    info.modality = need("modality").get<std::string>();
    const json& in = need("input");
    if (!in.is_object()) throw FieldError("\"input\" must be an object");
    if (info.modality == "image") {
      if (!in.contains("shape")) throw std::runtime_error(path + ": metamerlab.json input has no \"shape\" [C,H,W]" + fix);
      const json& shape = in.at("shape");
      if (!shape.is_array()) throw FieldError("\"shape\" must be an array [C,H,W]");
      info.input_shape.clear();
      for (const json& d : shape) info.input_shape.push_back(integer_in(d, "shape", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
      if (info.input_shape.size() != 3 || (info.input_shape[0] != 1 && info.input_shape[0] != 3) ||
          info.input_shape[1] < 1 || info.input_shape[2] < 1)
        throw std::runtime_error(path + ": metamerlab.json input shape must be [1|3, H, W]" + fix);
      if (info.input_shape[1] > kMaxSide || info.input_shape[2] > kMaxSide)
        throw std::runtime_error(path + ": metamerlab.json input shape [" + std::to_string(info.input_shape[0]) + ", " +
                                 std::to_string(info.input_shape[1]) + ", " + std::to_string(info.input_shape[2]) +
                                 "] is larger than " + std::to_string(kMaxSide) + " pixels a side" + fix);
    } else if (info.modality == "audio") {
      if (!in.contains("samples") || !in.contains("sample_rate"))
        throw std::runtime_error(path + ": metamerlab.json audio input needs \"samples\" and \"sample_rate\"" + fix);
      const int64_t samples = integer_in(in.at("samples"), "samples", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      const int64_t rate = integer_in(in.at("sample_rate"), "sample_rate", std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
      if (samples < 1 || rate < 1)
        throw std::runtime_error(path + ": metamerlab.json audio samples and sample_rate must be positive" + fix);
      if (samples > kMaxSamples || rate > kMaxRate)
        throw std::runtime_error(path + ": metamerlab.json audio input of " + std::to_string(samples) + " samples at " +
                                 std::to_string(rate) + " Hz is beyond " + std::to_string(kMaxSamples) + " samples or " +
                                 std::to_string(kMaxRate) + " Hz" + fix);
      info.input_shape = {samples};
      info.sample_rate = static_cast<int>(rate);
    } else {
      throw std::runtime_error(path + ": metamerlab.json modality must be \"image\" or \"audio\", not \"" + info.modality + "\"" + fix);
    }
    auto range = need("range").get<std::vector<double>>();
    if (range.size() != 2 || !(range[0] < range[1]))
      throw std::runtime_error(path + ": metamerlab.json range must be [lo, hi] with lo < hi" + fix);
    const double flt = std::numeric_limits<float>::max();
    if (!(std::fabs(range[0]) <= flt && std::fabs(range[1]) <= flt))
      throw std::runtime_error(path + ": metamerlab.json range must be finite single-precision numbers" + fix);
    info.lo = static_cast<float>(range[0]);
    info.hi = static_cast<float>(range[1]);
    info.classes = need("classes").get<std::vector<std::string>>();
    info.layers = need("layers").get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": metamerlab.json has a field of the wrong type (" + first_line(e.what()) + ")" + fix);
  } catch (const FieldError& e) {
    throw std::runtime_error(path + ": metamerlab.json has a field of the wrong type (" + std::string(e.what()) + ")" + fix);
  }
  if (info.classes.empty()) throw std::runtime_error(path + ": metamerlab.json lists no classes" + fix);
  if (std::find(info.layers.begin(), info.layers.end(), "logits") == info.layers.end())
    throw std::runtime_error(path + ": metamerlab.json layers must include \"logits\"" + fix);
  return info;
}

// [SECTION] Network sidecar ---------------------------------------------------------------
NetSidecar parse_net_sidecar(const std::string& side, const std::string& text) {
  NetSidecar s;
  try {
    s.json = json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(side + ": not valid JSON (" + e.what() + ")");
  }
  const json& j = s.json;
  NetConfig& c = s.config;
  const int32_t imin = std::numeric_limits<int>::min(), imax = std::numeric_limits<int>::max();
  try {
    c.modality = j.at("modality").get<std::string>();
    c.classes = j.at("classes").get<std::vector<std::string>>();
    const auto& a = j.at("arch");
    c.width = static_cast<int>(integer_in(a.at("width"), "width", imin, imax));
    c.image_size = static_cast<int>(integer_in(a.at("image_size"), "image_size", imin, imax));
    c.stem_stride = a.contains("stem_stride") ? static_cast<int>(integer_in(a.at("stem_stride"), "stem_stride", imin, imax)) : 1;
    c.envelope_decimation =
        a.contains("envelope_decimation") ? static_cast<int>(integer_in(a.at("envelope_decimation"), "envelope_decimation", imin, imax)) : 1;
    c.sample_rate = static_cast<int>(integer_in(a.at("sample_rate"), "sample_rate", imin, imax));
    c.samples = integer_in(a.at("samples"), "samples", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    if (j.contains("sha256")) s.sha256 = j.at("sha256").get<std::string>();
  } catch (const std::exception& e) {
    throw std::runtime_error(side + ": missing or wrong field (" + e.what() + "); rewrite it with metamerlab train");
  }
  // Sizes no network of ours has: building one would allocate without bound (or, for the
  // envelope decimation, search divisors for hours). Smaller wrong values are make_net's.
  const std::string fix = "; rewrite it with metamerlab train";
  if (c.width > 4096) throw std::runtime_error(side + ": arch width " + std::to_string(c.width) + " is beyond 4096 channels" + fix);
  if (c.modality == "image" && c.image_size > kMaxSide)
    throw std::runtime_error(side + ": arch image_size " + std::to_string(c.image_size) + " is beyond " + std::to_string(kMaxSide) + " pixels" + fix);
  if (c.modality == "audio") {
    if (c.samples < 1 || c.samples > kMaxSamples)
      throw std::runtime_error(side + ": arch samples " + std::to_string(c.samples) + " is outside 1.." + std::to_string(kMaxSamples) + fix);
    if (c.sample_rate < 1 || c.sample_rate > kMaxRate)
      throw std::runtime_error(side + ": arch sample_rate " + std::to_string(c.sample_rate) + " is outside 1.." + std::to_string(kMaxRate) + " Hz" + fix);
    if (c.envelope_decimation > 64)
      throw std::runtime_error(side + ": arch envelope_decimation " + std::to_string(c.envelope_decimation) + " is beyond 64" + fix);
  }
  return s;
}

NetSidecar read_net_sidecar(const std::string& weights_path) {
  const std::string side = weights_path + ".json";
  std::ifstream f(side, std::ios::binary);
  if (!f) throw std::runtime_error(side + ": cannot read the network's sidecar; it is written next to the weights by metamerlab train");
  std::ostringstream text;
  text << f.rdbuf();
  return parse_net_sidecar(side, text.str());
}

}  // namespace mm::synth
