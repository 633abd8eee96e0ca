// synth/model_torchscript.cpp: imported TorchScript models, and model loading by name.
//
// An archive follows the metamerlab convention: forward(x) returns Dict[str, Tensor] of
// named activations including "logits", and the archive carries metamerlab.json. Any
// exporter's archive works (ours, tools/export_model.py, or a hand-written scripted or
// traced module). To compute only what the requested layers need, the forward graph is
// copied, inlined, given the requested dictionary values as its outputs and pruned of dead
// code; the result is cached per layer set. The paper's fake ReLU is inserted into the
// copy where a requested value comes straight out of a ReLU. metamerlab.json is parsed by
// parse_model_info (synth/model_meta.cpp, torch-free).
//
// Sections
//   [SECTION] Graph surgery   prune to requested outputs, fake ReLU
//   [SECTION] Model           TorchScriptModel, load_torchscript (the registry's archive kind)
#include <torch/script.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/lower_tuples.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

#include "data/sha256.h"
#include "synth/model.h"
#include "synth/model_meta.h"

namespace fs = std::filesystem;

namespace mm::synth {

namespace {

std::string first_line(const std::string& s) {
  auto p = s.find('\n');
  return p == std::string::npos ? s : s.substr(0, p);
}

// [SECTION] Graph surgery -----------------------------------------------------------------
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// The dictionary constructed at the graph's return, as name -> value; empty if the graph
// does not end in a literal dict construction.
std::map<std::string, Value*> returned_dict(Graph& g) {
  std::map<std::string, Value*> out;
  if (g.outputs().size() != 1) return out;
  Node* n = g.outputs()[0]->node();
  if (n->kind() != c10::prim::DictConstruct) return out;
  auto ins = n->inputs();
  for (size_t i = 0; i + 1 < ins.size(); i += 2) {
    auto key = torch::jit::toIValue(ins[i]);
    if (!key || !key->isString()) return {};
    out[key->toStringRef()] = ins[i + 1];
  }
  return out;
}

// Inserts fake = pre + (relu(pre) - pre).detach() before the ReLU node producing `v`,
// so the value equals the ReLU's output but its gradient is the identity. Returns `v`
// itself if it does not come from a ReLU.
Value* insert_fake_relu(Graph& g, Value* v) {
  Node* relu = v->node();
  if (relu->kind() != c10::aten::relu && relu->kind() != c10::aten::relu_) return v;
  Value* pre = relu->input(0);
  torch::jit::WithInsertPoint guard(relu);  // before the (possibly in-place) ReLU
  Value* one = g.insertConstant(1);
  auto op = [&](c10::Symbol kind, std::vector<Value*> in) {
    Node* n = g.insertNode(g.create(kind, in, 1));
    n->output()->setType(c10::TensorType::get());
    return n->output();
  };
  Value* r = op(c10::aten::relu, {pre});
  Value* diff = op(c10::aten::sub, {r, pre, one});
  Value* det = op(c10::aten::detach, {diff});
  return op(c10::aten::add, {pre, det, one});
}

// [SECTION] Model -------------------------------------------------------------------------
class TorchScriptModel final : public Model {
 public:
  TorchScriptModel(torch::jit::Module module, ModelInfo info, torch::Device device)
      : module_(std::move(module)), info_(std::move(info)), device_(device) {
    // Freezing turns attributes (weights, flags such as padding_mode) into constants, so
    // that constant propagation can remove the branches scripted code carries; it does
    // not fold or fuse anything (numerics are unchanged). Models that cannot be frozen
    // are inlined as they are.
    try {
      // Inline first (freezing removes the submodules' methods), with the optimizer on
      // while freezing (its passes are gated by it).
      torch::jit::Inline(*torch::jit::toGraphFunction(module_.get_method("forward").function()).graph());
      torch::jit::GraphOptimizerEnabledGuard on(true);
      module_ = torch::jit::freeze_module(module_);
    } catch (const std::exception& e) {
      if (std::getenv("METAMERLAB_DEBUG")) fprintf(stderr, "freeze failed: %s\n", e.what());
    }
    auto& fn = torch::jit::toGraphFunction(module_.get_method("forward").function());
    base_ = fn.graph()->copy();
    torch::jit::Inline(*base_);
    simplify(base_);
    prunable_ = !returned_dict(*base_).empty();
  }

  // Tuple packing/unpacking (traced graphs return through one) hides which values are
  // used; constant branches hide which op made a value.
  static void simplify(std::shared_ptr<Graph>& g) {
    torch::jit::LowerSimpleTuples(g);
    torch::jit::ConstantPropagation(g);
    torch::jit::EliminateDeadCode(g);
  }

  const ModelInfo& info() const override { return info_; }
  torch::Device device() const override { return device_; }
  bool prunable() const { return prunable_; }

  // The pruned graph for these layers, for tests and benchmarks.
  std::shared_ptr<Graph> pruned_graph(const std::vector<std::string>& layers, bool fake) {
    return function_for(layers, fake).graph();
  }

  std::map<std::string, torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::string>& layers,
                                               bool fake_relu) override {
    for (const auto& l : layers)
      if (std::find(info_.layers.begin(), info_.layers.end(), l) == info_.layers.end()) throw_unknown_layer(info_, l);
    std::map<std::string, torch::Tensor> out;
    if (!prunable_) {  // a dict built some other way: run the whole graph, pick the values
      auto d = module_.forward({x}).toGenericDict();
      for (const auto& l : layers) out[l] = d.at(l).toTensor();
      return out;
    }
    auto& fn = function_for(layers, fake_relu);
    torch::jit::Stack stack{module_._ivalue(), x};
    fn.run(stack);
    auto tuple = stack.back().toTuple();
    for (size_t i = 0; i < layers.size(); ++i) out[layers[i]] = tuple->elements()[i].toTensor();
    return out;
  }

 private:
  torch::jit::GraphFunction& function_for(const std::vector<std::string>& layers, bool fake) {
    std::string key = fake ? "F:" : "R:";
    for (const auto& l : layers) key += l + ",";
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return *it->second;
    auto g = base_->copy();
    auto dict = returned_dict(*g);
    std::vector<Value*> values;
    for (const auto& l : layers) {
      auto d = dict.find(l);
      if (d == dict.end())
        throw std::runtime_error(info_.path + ": forward() does not return layer \"" + l +
                                 "\" listed in metamerlab.json; re-export the model");
      values.push_back(fake ? insert_fake_relu(*g, d->second) : d->second);
    }
    Node* old_ret = g->outputs()[0]->node();
    torch::jit::WithInsertPoint guard(g->return_node());
    Value* tup = g->insertNode(g->createTuple(values))->output();
    g->eraseOutput(0);
    g->registerOutput(tup);
    (void)old_ret;
    simplify(g);
    auto fn = std::make_unique<torch::jit::GraphFunction>("metamerlab_pruned_" + std::to_string(cache_.size()), g, nullptr);
    auto& ref = *fn;
    cache_[key] = std::move(fn);
    return ref;
  }

  torch::jit::Module module_;
  ModelInfo info_;
  torch::Device device_;
  std::shared_ptr<Graph> base_;
  bool prunable_ = false;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<torch::jit::GraphFunction>> cache_;
};

}  // namespace

std::unique_ptr<Model> load_torchscript(const std::string& path, torch::Device device) {
  const std::string fix_export = "; export it with tools/export_model.py (see tools/README.md)";
  if (!fs::exists(path)) throw std::runtime_error(path + ": no such model file; give a TorchScript archive path or zoo:NAME");
  if (fs::is_directory(path)) throw std::runtime_error(path + ": is a folder, not a TorchScript archive" + fix_export);
  if (fs::file_size(path) == 0) throw std::runtime_error(path + ": model file is empty" + fix_export);
  torch::jit::ExtraFilesMap extra{{"metamerlab.json", ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, device, extra);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not a TorchScript archive torch::jit::load can read (" +
                             first_line(e.what()).substr(0, 160) + ")" + fix_export);
  }
  if (extra["metamerlab.json"].empty())
    throw std::runtime_error(path + ": archive has no metamerlab.json extra file" + fix_export +
                             " or save it with torch.jit.save(m, f, _extra_files={\"metamerlab.json\": ...})");
  ModelInfo info = parse_model_info(path, extra["metamerlab.json"]);  // synth/model_meta.cpp
  module.eval();
  for (auto p : module.parameters()) p.set_requires_grad(false);

  auto out_type = module.get_method("forward").function().getSchema().returns();
  bool dict_out = out_type.size() == 1 && out_type[0].type()->kind() == c10::TypeKind::DictType;
  if (!dict_out)
    throw std::runtime_error(path + ": forward() returns " + (out_type.empty() ? std::string("nothing") : out_type[0].type()->str()) +
                             ", not Dict[str, Tensor] of named activations" + fix_export);

  // One forward on a zero input of the declared shape: checks the shape and the layers.
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), info.input_shape.begin(), info.input_shape.end());
  c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
  try {
    torch::NoGradGuard ng;
    auto x = torch::full(shape, (info.lo + info.hi) / 2, torch::TensorOptions(torch::kFloat32).device(device));
    d = module.forward({x}).toGenericDict();
  } catch (const std::exception& e) {
    std::ostringstream s;
    s << path << ": forward() fails on an input of the shape metamerlab.json declares " << c10::IntArrayRef(shape) << " ("
      << first_line(e.what()).substr(0, 160) << "); fix \"input\" in metamerlab.json or re-export";
    throw std::runtime_error(s.str());
  }
  for (const auto& l : info.layers) {
    if (!d.contains(l))
      throw std::runtime_error(path + ": metamerlab.json lists layer \"" + l + "\" but forward() does not return it" + fix_export);
  }
  auto logits = d.at("logits").toTensor();
  if (logits.dim() != 2 || logits.size(1) != static_cast<int64_t>(info.classes.size()))
    throw std::runtime_error(path + ": logits have shape " + c10::str(logits.sizes()) + " but metamerlab.json lists " +
                             std::to_string(info.classes.size()) + " classes" + fix_export);
  info.sha256 = data::sha256_file(path);
  return std::make_unique<TorchScriptModel>(std::move(module), info, device);
}

// For tests and benchmarks: the pruned graph of a TorchScript model (nullptr for others).
std::shared_ptr<torch::jit::Graph> pruned_graph_of(Model& m, const std::vector<std::string>& layers, bool fake) {
  auto* ts = dynamic_cast<TorchScriptModel*>(&m);
  if (!ts || !ts->prunable()) return nullptr;
  return ts->pruned_graph(layers, fake);
}

}  // namespace mm::synth
