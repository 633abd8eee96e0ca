// synth/engine_internal.h: torch-side helpers shared by the engine's translation units and
// the torch tests. Internal to synth/ (pulls in torch); no stability promise.
#pragma once
#include <torch/torch.h>

#include "synth/engine.h"

namespace torch::jit {
struct Graph;
}

namespace mm::synth {

// The torch device of an engine Device.
torch::Device torch_device(Device d);
torch::Tensor to_tensor(const stimuli::Array& a);
// Stacks xs[begin, end) into one batch tensor.
torch::Tensor stack_arrays(const std::vector<stimuli::Array>& xs, size_t begin, size_t end);
stimuli::Array to_array(const torch::Tensor& t);
// Throws naming `what` if the array's shape is not the model's input shape.
void check_input_shape(const ModelInfo& info, const stimuli::Array& a, const std::string& what);
// [N, D] float activations of one layer, computed in batches without gradient.
torch::Tensor layer_matrix(const ModelHandle& m, const std::vector<stimuli::Array>& xs, const std::string& layer, int batch);
// 1-based ranks with ties given their average rank (as scipy.stats.rankdata), float64.
torch::Tensor average_ranks(const torch::Tensor& v);
Similarity similarity_t(const torch::Tensor& reference, const torch::Tensor& other);
// The pruned TorchScript graph for these layers (nullptr for C++ or unprunable models).
std::shared_ptr<torch::jit::Graph> pruned_graph_of(Model& m, const std::vector<std::string>& layers, bool fake);

}  // namespace mm::synth
