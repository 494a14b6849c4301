// ai.onnx.preview.training.Gradient: the gradient of one graph value with respect to
// others, by running the part of the graph between them under libtorch's autograd.
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <set>

#include "models/ops/op_kernel.h"

namespace ak::models {

namespace {

/// The nodes of `graph` that compute `y` from `sources` (and constants), in order.
Result<std::shared_ptr<Graph>> forward_subgraph(const Graph& graph, const std::vector<std::string>& sources,
                                                const std::string& y) {
  std::map<std::string, const Node*> producer;
  for (const auto& n : graph.nodes)
    for (const auto& o : n.outputs) producer[o] = &n;
  std::set<std::string> stop(sources.begin(), sources.end());
  std::set<const Node*> needed;
  std::vector<std::string> frontier{y};
  while (!frontier.empty()) {
    std::string v = frontier.back();
    frontier.pop_back();
    if (stop.count(v)) continue;
    auto it = producer.find(v);
    if (it == producer.end()) continue;  // an initializer or graph input outside xs/zs
    if (it->second->op_type == "Gradient") return invalid_input("Gradient of a value computed by another Gradient");
    if (!needed.insert(it->second).second) continue;
    for (const auto& in : it->second->inputs)
      if (!in.empty()) frontier.push_back(in);
  }
  auto sub = std::make_shared<Graph>();
  sub->name = "gradient_of_" + y;
  for (const auto& s : sources) {
    ValueInfo vi;
    vi.name = s;
    sub->inputs.push_back(vi);
  }
  ValueInfo out;
  out.name = y;
  sub->outputs.push_back(out);
  for (const auto& n : graph.nodes)
    if (needed.count(&n)) sub->nodes.push_back(n);
  return sub;
}

class GradientKernel final : public OpKernel {
 public:
  GradientKernel(std::shared_ptr<Graph> forward, size_t num_xs) : forward_(std::move(forward)), num_xs_(num_xs) {}

  Status run(OpContext& ctx) override {
    std::vector<Value> inputs(ctx.num_inputs());
    std::vector<at::Tensor> xs;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      at::Tensor t = ctx.input(i).detach().clone();
      if (i < num_xs_) {
        if (!t.is_floating_point()) return invalid_input("Gradient: input " + std::to_string(i) + " is not floating point");
        t.requires_grad_(true);
        xs.push_back(t);
      }
      inputs[i].set_tensor(t);
    }
    c10::AutoGradMode grad_mode(true);
    std::vector<Value> outputs;
    AK_RETURN_IF_ERROR(ctx.subgraph(0).run(inputs, &outputs));
    if (outputs.size() != 1 || !outputs[0].is_tensor()) return internal_error("Gradient: forward gave no tensor");
    at::Tensor y = outputs[0].tensor;
    std::vector<at::Tensor> grads;
    if (y.requires_grad()) {
      grads = torch::autograd::grad({y}, xs, {at::ones_like(y)}, /*retain_graph=*/false, /*create_graph=*/false,
                                    /*allow_unused=*/true);
    }
    for (size_t i = 0; i < num_xs_; ++i) {
      at::Tensor g = i < grads.size() && grads[i].defined() ? grads[i] : at::zeros_like(xs[i]);
      ctx.set_output(i, g.detach());
    }
    return Status::ok();
  }

 private:
  std::shared_ptr<Graph> forward_;
  size_t num_xs_;
};

}  // namespace

void register_gradient_ops(OpRegistry& r) {
  r.add(
      "Gradient", 1,
      [](const OpBuildInfo& info) -> Result<KernelPtr> {
        const Node& node = info.node;
        const Attribute* xs = node.find_attribute("xs");
        const Attribute* y = node.find_attribute("y");
        if (xs == nullptr || y == nullptr || xs->strings.empty()) return invalid_input("Gradient needs attributes xs and y");
        std::vector<std::string> sources = xs->strings;
        if (const Attribute* zs = node.find_attribute("zs")) sources.insert(sources.end(), zs->strings.begin(), zs->strings.end());
        if (node.inputs.size() != sources.size())
          return invalid_input("Gradient has " + std::to_string(node.inputs.size()) + " inputs, xs and zs name " +
                               std::to_string(sources.size()));
        if (node.outputs.size() != xs->strings.size())
          return invalid_input("Gradient has " + std::to_string(node.outputs.size()) + " outputs for " +
                               std::to_string(xs->strings.size()) + " xs");
        if (info.graph == nullptr) return internal_error("Gradient needs its graph");
        AK_ASSIGN_OR_RETURN(std::shared_ptr<Graph> forward, forward_subgraph(*info.graph, sources, y->s));
        AK_RETURN_IF_ERROR(info.prepare_subgraph(*forward));
        return KernelPtr(std::make_unique<GradientKernel>(std::move(forward), xs->strings.size()));
      },
      Placement::kDevice, "ai.onnx.preview.training");
}

}  // namespace ak::models
