// The executor: a Graph prepared into a flat list of steps over value slots.
//
// Prepare resolves every op once (attributes parsed by the op's factory), decides which
// nodes run on the host (shape arithmetic whose inputs are all host values), folds
// Constant nodes, uploads initializers and plans when each value can be released. The
// per-run path then only walks the steps: no string lookups, no allocation beyond the
// tensors the ops create.

#include "models/session.h"

#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include "models/aten_interop.h"
#include "models/cuda_graph.h"
#include "models/fusion.h"
#include "models/ops/op_kernel.h"

namespace ak::models {

// ---------------------------------------------------------------------------------------
// Devices

std::string Device::str() const {
  if (kind == DeviceKind::kCpu) return "cpu";
  return index == 0 ? "cuda" : "cuda:" + std::to_string(index);
}

bool cuda_available() {
  try {
    return at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0;
  } catch (const std::exception&) {
    return false;
  }
}

Result<Device> Device::parse(const std::string& text) {
  Device d;
  if (text == "cpu") return d;
  if (text.rfind("cuda", 0) == 0) {
    d.kind = DeviceKind::kCuda;
    if (text.size() > 4) {
      if (text[4] != ':' || text.size() == 5 || text.find_first_not_of("0123456789", 5) != std::string::npos)
        return invalid_input("unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
      d.index = std::stoi(text.substr(5));
    }
    if (!cuda_available())
      return invalid_input("device '" + text + "' requested but no CUDA GPU is usable (this libtorch " +
                           std::string(at::hasCUDA() ? "has CUDA but sees no GPU" : "is built without CUDA") + ")");
    int count = static_cast<int>(at::detail::getCUDAHooks().getNumGPUs());
    if (d.index >= count)
      return invalid_input("device '" + text + "' requested but only " + std::to_string(count) + " GPU(s) are present");
    return d;
  }
  return invalid_input("unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
}

Device default_device() {
  Device d;
  if (cuda_available()) d.kind = DeviceKind::kCuda;
  return d;
}

std::string cuda_device_name(int index);  // models/cuda_device.cpp

std::string device_name(const Device& device) {
  if (device.is_cuda()) return cuda_device_name(device.index);
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 2);
  return "cpu";
}

namespace {
at::Device to_at(const Device& d) {
  return d.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d.index)) : at::Device(at::kCPU);
}

/// First line of an exception's text (c10 errors carry a backtrace after it).
std::string first_line(const std::exception& e) {
  std::string msg;
  if (const auto* c10e = dynamic_cast<const c10::Error*>(&e)) msg = c10e->what_without_backtrace();
  else msg = e.what();
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg.resize(nl);
  return msg;
}

// ---------------------------------------------------------------------------------------
// float16/bfloat16 on the CPU

/// Which ops this libtorch build can run in float16/bfloat16 on the CPU. Builds differ
/// (1.13 has no CPU kernel for half matmul, softmax, layer_norm or batch_norm; 2.x has
/// most), so each entry probes the ATen call its ops make on tiny tensors, once per
/// process; the executor then runs the other ops on float32 copies and rounds back.
/// Ops not listed compute in their input's dtype (elementwise ops upcast on their own); an
/// op listed under several probes needs them all.
class ReducedFloatTable {
 public:
  static const ReducedFloatTable& get() {
    static const ReducedFloatTable table;
    return table;
  }
  /// Whether `op_type` runs natively in `type` (kHalf or kBFloat16) on the CPU.
  bool supports(const std::string& op_type, at::ScalarType type) const {
    auto it = support_.find(op_type);
    if (it == support_.end()) return true;
    return type == at::kHalf ? it->second.first : it->second.second;
  }

 private:
  ReducedFloatTable() {
    using Probe = std::function<void(const at::Tensor&)>;  // given a 1x1x4x4 tensor
    const std::vector<std::pair<std::vector<const char*>, Probe>> probes = {
        {{"MatMul", "Gemm", "Einsum", "RNN", "GRU", "LSTM", "Attention"},
         [](const at::Tensor& x) { (void)at::matmul(x, x); }},
        {{"Softmax", "LogSoftmax", "Attention"},
         [](const at::Tensor& x) { (void)at::softmax(x, -1); (void)at::log_softmax(x, -1); }},
        {{"Gelu"}, [](const at::Tensor& x) { (void)at::gelu(x); }},
        {{"CumSum"}, [](const at::Tensor& x) { (void)at::cumsum(x, -1); }},
        {{"TopK"}, [](const at::Tensor& x) { (void)at::topk(x, 2, -1); }},
        {{"ArgMax", "ArgMin"}, [](const at::Tensor& x) { (void)at::argmax(x, -1); (void)at::argmin(x, -1); }},
        {{"LayerNormalization"}, [](const at::Tensor& x) { (void)at::layer_norm(x, {4}); }},
        {{"BatchNormalization", "InstanceNormalization"},
         [](const at::Tensor& x) { (void)at::batch_norm(x, {}, {}, {}, {}, true, 0.1, 1e-5, false); }},
        {{"GroupNormalization"}, [](const at::Tensor& x) { (void)at::group_norm(x, 1); }},
        {{"Conv", "ConvTranspose"},
         [](const at::Tensor& x) {
           (void)at::conv2d(x, x.narrow(2, 0, 3).narrow(3, 0, 3));
           (void)at::conv_transpose2d(x, x.narrow(2, 0, 3).narrow(3, 0, 3));
         }},
        {{"MaxPool", "AveragePool", "LpPool"},
         [](const at::Tensor& x) { (void)at::max_pool2d(x, {2, 2}); (void)at::avg_pool2d(x, {2, 2}); }},
        {{"Resize", "Upsample"},
         [](const at::Tensor& x) {
           const std::vector<int64_t> size{8, 8};
           (void)at::upsample_bilinear2d(x, size, false);
           (void)at::upsample_bicubic2d(x, size, false);
         }},
    };
    for (const auto& [ops, probe] : probes) {
      auto runs = [&probe](at::ScalarType type) {
        try {
          probe(at::arange(16, at::kFloat).div(16).reshape({1, 1, 4, 4}).to(type));
          return true;
        } catch (const c10::Error&) {
          return false;
        }
      };
      const bool half = runs(at::kHalf), bfloat16 = runs(at::kBFloat16);
      // An op listed under several probes needs all of them (Attention: matmul and softmax).
      for (const char* op : ops) {
        auto [it, fresh] = support_.try_emplace(op, half, bfloat16);
        if (!fresh) it->second = {it->second.first && half, it->second.second && bfloat16};
      }
    }
  }
  std::unordered_map<std::string, std::pair<bool, bool>> support_;  ///< op -> {float16, bfloat16}
};

}  // namespace

/// The Status for an exception that escaped op code. Our ops throw std::invalid_argument
/// when the values they are given do not fit the node (a shape the user chose, a
/// malformed subgraph): bad input. A c10::Error means ATen itself failed (no kernel for a
/// dtype, a CUDA error, a check autokernel should have made first): an internal error,
/// whatever the input; so is anything else.
Status status_from_exception(const std::exception& e) {
  if (const auto* with_status = dynamic_cast<const StatusError*>(&e)) return with_status->status();
  if (dynamic_cast<const c10::Error*>(&e) != nullptr) return internal_error("internal error in ATen: " + first_line(e));
  if (dynamic_cast<const std::invalid_argument*>(&e) != nullptr) return invalid_input(first_line(e));
  return internal_error("internal error: " + first_line(e));
}

namespace {

bool same_content(const at::Tensor& a, const at::Tensor& b) {
  if (a.is_same(b)) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes() || !a.is_cpu() || !b.is_cpu()) return false;
  if (!a.is_contiguous() || !b.is_contiguous()) return false;
  return std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

/// Values small enough to keep on the host when they are integers: shape vectors.
constexpr int64_t kHostValueMaxElements = 1024;

bool host_worthy(const TensorData& t) {
  return (is_integer(t.dtype) || t.dtype == DType::kBool) && t.numel() <= kHostValueMaxElements;
}

Result<TensorData> constant_node_value(const Node& node) {
  for (const auto& a : node.attributes) {
    TensorData t;
    t.name = node.outputs.empty() ? node.name : node.outputs[0];
    if (a.name == "value") {
      t = a.t;
      t.name = node.outputs.empty() ? node.name : node.outputs[0];
      return t;
    }
    if (a.name == "value_float") { t.dtype = DType::kFloat32; t.bytes = Buffer::copy_of(&a.f, 4); return t; }
    if (a.name == "value_int") { t.dtype = DType::kInt64; t.bytes = Buffer::copy_of(&a.i, 8); return t; }
    if (a.name == "value_floats") {
      t.dtype = DType::kFloat32;
      t.dims = {static_cast<int64_t>(a.floats.size())};
      t.bytes = Buffer::copy_of(a.floats.data(), a.floats.size() * 4);
      return t;
    }
    if (a.name == "value_ints") {
      t.dtype = DType::kInt64;
      t.dims = {static_cast<int64_t>(a.ints.size())};
      t.bytes = Buffer::copy_of(a.ints.data(), a.ints.size() * 8);
      return t;
    }
    if (a.name == "value_string") { t.dtype = DType::kString; t.strings = {a.s}; return t; }
    if (a.name == "value_strings") {
      t.dtype = DType::kString;
      t.dims = {static_cast<int64_t>(a.strings.size())};
      t.strings = a.strings;
      return t;
    }
    if (a.name == "sparse_value") return unsupported("Constant node '" + node.name + "' holds a sparse tensor");
  }
  return invalid_input("Constant node '" + node.name + "' has no value attribute");
}

}  // namespace

// ---------------------------------------------------------------------------------------
// OpContext

const at::Tensor& OpContext::input(size_t i) {
  if (!has_input(i)) throw std::invalid_argument("required input " + std::to_string(i) + " is missing");
  Value& v = *inputs_[i];
  if (v.kind != Value::Kind::kTensor) throw std::invalid_argument("input " + std::to_string(i) + " is not a tensor");
  if (v.tensor.device() == device_) return v.tensor;
  UploadCache& c = (*upload_cache_)[i];
  if (c.host.defined() && same_content(c.host, v.tensor)) return c.device;
  if (!v.tensor.is_cpu()) ++*host_syncs_;  // a device value read by a host node
  // Upload first: a failed copy (one refused inside a CUDA-graph capture) must not leave
  // a cache entry whose host side matches and whose device side is empty.
  at::Tensor uploaded = v.tensor.to(device_);
  c.host = v.tensor.is_cpu() ? v.tensor.contiguous() : at::Tensor();
  c.device = std::move(uploaded);
  return c.device;
}

at::Tensor OpContext::host_input(size_t i) {
  if (!has_input(i)) throw std::invalid_argument("required input " + std::to_string(i) + " is missing");
  Value& v = *inputs_[i];
  if (v.kind != Value::Kind::kTensor) throw std::invalid_argument("input " + std::to_string(i) + " is not a tensor");
  if (v.tensor.is_cpu()) return v.tensor;
  ++*host_syncs_;
  return v.tensor.cpu();
}

at::Tensor OpContext::host_read(const at::Tensor& t) {
  if (t.is_cpu()) return t;
  ++*host_syncs_;
  return t.cpu();
}

std::vector<int64_t> OpContext::input_ints(size_t i) {
  at::Tensor t = host_input(i).to(at::kLong).contiguous();
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

double OpContext::input_double(size_t i) {
  at::Tensor t = host_input(i);
  if (t.numel() != 1) throw std::invalid_argument("input " + std::to_string(i) + " must hold one value, has " + std::to_string(t.numel()));
  return t.to(at::kDouble).item<double>();
}

// ---------------------------------------------------------------------------------------
// Executor

class Executor final : public GraphRunner {
 public:
  using OuterLookup = std::function<Value*(const std::string&)>;

  Executor(const Model& model, at::Device device, int64_t* host_syncs)
      : model_(model), device_(device), host_syncs_(host_syncs) {}

  Status prepare(const Graph& graph, OuterLookup outer) {
    graph_ = &graph;
    outer_ = std::move(outer);
    // Slots: every name defined in this graph gets one; the vector never grows after this.
    size_t count = graph.inputs.size() + graph.initializers.size();
    for (const auto& n : graph.nodes) count += n.outputs.size();
    values_.reserve(count);
    auto define = [&](const std::string& name) -> size_t {
      auto [it, inserted] = slot_of_.emplace(name, values_.size());
      if (inserted) {
        values_.emplace_back();
        on_host_.push_back(false);
        pinned_.push_back(false);
      }
      return it->second;
    };

    for (const auto& t : graph.initializers) {
      size_t s = define(t.name);
      AK_RETURN_IF_ERROR(set_constant(s, t));
    }
    for (const auto& vi : graph.inputs) {
      if (graph.find_initializer(vi.name)) continue;  // old IR: initializers listed as inputs
      size_t s = define(vi.name);
      input_slots_.push_back(s);
      input_infos_.push_back(&vi);
    }

    const int64_t opset = model_.opset("");
    const OpRegistry& registry = OpRegistry::builtin();
    for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
      const Node& node = graph.nodes[ni];
      const int64_t node_opset = node.domain.empty() ? opset : model_.opset(node.domain);
      const std::string where = "node '" + node.name + "' (" + (node.domain.empty() ? "" : node.domain + ".") +
                                node.op_type + ", opset " + std::to_string(node_opset) + ")";
      if (node.op_type == "Constant" && node.domain.empty()) {
        auto value = constant_node_value(node);
        if (!value) return value.status().with_context(where);
        if (node.outputs.empty() || node.outputs[0].empty()) continue;
        folded_.push_back(std::move(value).value());
        AK_RETURN_IF_ERROR(set_constant(define(node.outputs[0]), folded_.back()).with_context(where));
        continue;
      }
      const OpRegistry::Entry* entry = registry.find(node.domain, node.op_type, node_opset);
      if (entry == nullptr) {
        int earliest = registry.earliest(node.domain, node.op_type);
        if (earliest > 0)
          return unsupported(where + ": supported from opset " + std::to_string(earliest) + " only");
        return unsupported(where + ": op " + (node.domain.empty() ? "" : node.domain + ".") + node.op_type +
                           " is not supported");
      }

      auto step = std::make_unique<Step>();
      step->node = &node;
      step->node_index = ni;
      bool all_host = true;
      bool any_input = false;
      for (const auto& in : node.inputs) {
        if (in.empty()) {
          step->inputs.push_back(nullptr);
          continue;
        }
        Value* v = lookup(in);
        if (v == nullptr) return invalid_input(where + ": input '" + in + "' is not defined");
        step->inputs.push_back(v);
        any_input = true;
        auto it = slot_of_.find(in);
        if (it == slot_of_.end() || !on_host_[it->second]) all_host = false;
      }
      // Shape arithmetic whose inputs are all host values stays on the host, so a CUDA
      // run never waits on the device to learn a shape.
      step->on_host = entry->placement == Placement::kHost ||
                      (entry->placement == Placement::kHostable && any_input && all_host);
      step->memoize = step->on_host && node.attributes.end() == std::find_if(node.attributes.begin(), node.attributes.end(),
                                                                            [](const Attribute& a) { return a.g || !a.graphs.empty(); });
      step->reads_only_sizes = entry->placement == Placement::kHost;
      step->device = step->on_host ? at::Device(at::kCPU) : device_;

      OpBuildInfo info{node, node_opset, &graph, step->device, {}, {}, swap_};
      info.constant_input = [this, &node](size_t i) -> const TensorData* {
        if (i >= node.inputs.size() || node.inputs[i].empty()) return nullptr;
        auto it = constants_.find(node.inputs[i]);
        return it == constants_.end() ? nullptr : it->second;
      };
      Step* raw = step.get();
      info.prepare_subgraph = [this, raw](const Graph& g) -> Status {
        auto sub = std::make_unique<Executor>(model_, device_, host_syncs_);
        AK_RETURN_IF_ERROR(sub->prepare(g, [this](const std::string& name) { return lookup(name); }));
        raw->subgraphs.push_back(std::move(sub));
        return Status::ok();
      };
      Result<KernelPtr> kernel = [&]() -> Result<KernelPtr> {
        try {
          return entry->factory(info);
        } catch (const std::exception& e) {
          return status_from_exception(e);
        }
      }();
      if (!kernel) return kernel.status().with_context(where);
      step->kernel = std::move(kernel).value();

      for (const auto& out : node.outputs) {
        if (out.empty()) {
          step->outputs.push_back(nullptr);
          continue;
        }
        size_t s = define(out);
        on_host_[s] = step->on_host;
        step->outputs.push_back(&values_[s]);
      }
      step->upload_cache.resize(step->inputs.size());
      step->ctx.device_ = step->device;
      step->ctx.inputs_ = step->inputs.data();
      step->ctx.num_inputs_ = step->inputs.size();
      step->ctx.outputs_ = step->outputs.data();
      step->ctx.num_outputs_ = step->outputs.size();
      step->ctx.upload_cache_ = &step->upload_cache;
      step->ctx.subgraphs_ = &step->subgraphs;
      step->ctx.host_syncs_ = host_syncs_;
      step->where = where;
      if (step->device.is_cpu()) {
        const auto& table = ReducedFloatTable::get();
        step->upcast_half = !table.supports(node.op_type, at::kHalf);
        step->upcast_bfloat16 = !table.supports(node.op_type, at::kBFloat16);
      }
      steps_.push_back(std::move(step));
    }

    for (const auto& o : graph.outputs) {
      Value* v = lookup(o.name);
      if (v == nullptr) return invalid_input("graph output '" + o.name + "' is not produced by any node");
      output_values_.push_back(v);
      auto it = slot_of_.find(o.name);
      if (it != slot_of_.end()) pinned_[it->second] = true;
    }
    plan_releases();
    return Status::ok();
  }

  /// The swapped-in kernels the top-level graph's PackKernel nodes run (models/swap.h).
  void set_swap(SwapPlan* plan) { swap_ = plan; }

  size_t num_inputs() const override { return input_slots_.size(); }
  size_t num_outputs() const override { return output_values_.size(); }
  const std::vector<const ValueInfo*>& input_infos() const { return input_infos_; }

  /// "node 'NAME' (OP)" of the first top-level node of the last run during which
  /// host_syncs grew; "" when none did.
  std::string first_host_read() const {
    return first_sync_node_ == nullptr ? "" : "node '" + first_sync_node_->name + "' (" + first_sync_node_->op_type + ")";
  }

  /// The device tensors this executor (and its subgraphs') keep between runs: the uploads
  /// of host values. A CUDA graph that read them keeps them alive.
  void collect_kept_device_tensors(std::vector<at::Tensor>* out) const {
    for (const auto& step : steps_) {
      for (const auto& cache : step->upload_cache)
        if (cache.device.defined() && !cache.device.is_cpu()) out->push_back(cache.device);
      for (const auto& sub : step->subgraphs)
        if (const auto* executor = dynamic_cast<const Executor*>(sub.get())) executor->collect_kept_device_tensors(out);
    }
  }

  Status run(const std::vector<Value>& inputs, std::vector<Value>* outputs) override {
    if (inputs.size() > input_slots_.size())
      return invalid_input("subgraph '" + graph_->name + "' takes " + std::to_string(input_slots_.size()) +
                           " inputs, got " + std::to_string(inputs.size()));
    for (size_t i = 0; i < inputs.size(); ++i) values_[input_slots_[i]] = inputs[i];
    AK_RETURN_IF_ERROR(run_steps(nullptr));
    outputs->clear();
    outputs->reserve(output_values_.size());
    for (Value* v : output_values_) outputs->push_back(*v);
    clear_values();
    return Status::ok();
  }

  Status run_tensors(std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs,
                     const std::vector<NodeObserver*>* observers) {
    for (size_t i = 0; i < inputs.size(); ++i) values_[input_slots_[i]].set_tensor(inputs[i]);
    Status st = run_steps(observers);
    if (st.is_ok()) {
      outputs->clear();
      outputs->reserve(output_values_.size());
      for (size_t i = 0; i < output_values_.size(); ++i) {
        Value* v = output_values_[i];
        if (v->kind == Value::Kind::kTensor) {
          outputs->push_back(v->tensor);
        } else if (v->kind == Value::Kind::kSequence) {
          st = unsupported("output '" + graph_->outputs[i].name + "' is a sequence; only tensor outputs are returned");
          break;
        } else if (v->kind == Value::Kind::kStrings) {
          st = unsupported("output '" + graph_->outputs[i].name + "' is a string tensor; only numeric outputs are returned");
          break;
        } else {
          st = unsupported("output '" + graph_->outputs[i].name + "' is an empty optional");
          break;
        }
      }
    }
    clear_values();
    return st;
  }

  /// Runs on Values of any kind (strings, sequences); inputs in input_infos() order.
  Status run_values(std::span<const Value> inputs, std::vector<Value>* outputs,
                    const std::vector<NodeObserver*>* observers) {
    for (size_t i = 0; i < inputs.size(); ++i) values_[input_slots_[i]] = inputs[i];
    Status st = run_steps(observers);
    if (st.is_ok()) {
      outputs->clear();
      for (Value* v : output_values_) outputs->push_back(*v);
    }
    clear_values();
    return st;
  }

 private:
  struct Step {
    const Node* node = nullptr;
    size_t node_index = 0;
    std::string where;
    KernelPtr kernel;
    bool on_host = false;
    at::Device device{at::kCPU};
    std::vector<Value*> inputs;
    std::vector<Value*> outputs;
    std::vector<Value*> release_after;
    std::vector<OpContext::UploadCache> upload_cache;
    std::vector<std::unique_ptr<GraphRunner>> subgraphs;
    OpContext ctx;
    /// CPU steps whose op this build cannot run in float16 / bfloat16 (ReducedFloatTable):
    /// such inputs are computed on float32 copies.
    bool upcast_half = false;
    bool upcast_bfloat16 = false;
    /// Host steps are pure functions of their inputs (shapes and small integer values),
    /// which repeat run after run: the last inputs and outputs, to skip the recomputation.
    bool memoize = false;
    bool reads_only_sizes = false;  ///< Shape/Size: the key is the input's sizes
    std::vector<at::Tensor> memo_inputs;
    std::vector<std::vector<int64_t>> memo_sizes;
    std::vector<Value> memo_outputs;
  };

  Value* lookup(const std::string& name) {
    auto it = slot_of_.find(name);
    if (it != slot_of_.end()) return &values_[it->second];
    return outer_ ? outer_(name) : nullptr;
  }

  Status set_constant(size_t slot, const TensorData& t) {
    pinned_[slot] = true;
    constants_[t.name] = &t;
    Value& v = values_[slot];
    if (t.dtype == DType::kString) {
      v.kind = Value::Kind::kStrings;
      v.strings = t.strings;
      v.string_dims = t.dims;
      return Status::ok();
    }
    const bool host = host_worthy(t);
    try {
      auto tensor = to_tensor(t, host ? at::Device(at::kCPU) : device_);
      if (!tensor) return tensor.status().with_context("initializer '" + t.name + "'");
      v.set_tensor(std::move(tensor).value());
    } catch (const std::exception& e) {
      return status_from_exception(e).with_context("initializer '" + t.name + "'");
    }
    on_host_[slot] = host;
    return Status::ok();
  }

  /// A value is released after the last step that reads it, unless it is a constant or a
  /// graph output. Subgraph references count as reads by the node owning the subgraph.
  void plan_releases() {
    std::unordered_map<Value*, size_t> last_use;
    std::unordered_set<Value*> owned;
    for (size_t s = 0; s < values_.size(); ++s)
      if (!pinned_[s]) owned.insert(&values_[s]);
    for (size_t i = 0; i < steps_.size(); ++i) {
      for (Value* v : steps_[i]->inputs)
        if (v) last_use[v] = i;
      std::vector<std::string> free_names;
      for (const auto& a : steps_[i]->node->attributes) {
        if (a.g) collect_free_names(*a.g, free_names);
        for (const auto& g : a.graphs) collect_free_names(*g, free_names);
      }
      for (const auto& name : free_names) {
        auto it = slot_of_.find(name);
        if (it != slot_of_.end()) last_use[&values_[it->second]] = i;
      }
      for (Value* v : steps_[i]->outputs)
        if (v && !last_use.count(v)) last_use[v] = i;  // unused outputs go right away
    }
    for (auto& [v, i] : last_use)
      if (owned.count(v)) steps_[i]->release_after.push_back(v);
  }

  static void collect_free_names(const Graph& g, std::vector<std::string>& out) {
    for (const auto& n : g.nodes) {
      for (const auto& in : n.inputs) out.push_back(in);
      for (const auto& a : n.attributes) {
        if (a.g) collect_free_names(*a.g, out);
        for (const auto& sg : a.graphs) collect_free_names(*sg, out);
      }
    }
    for (const auto& o : g.outputs) out.push_back(o.name);
  }

  Status run_steps(const std::vector<NodeObserver*>* observers) {
    const bool observe = observers != nullptr && !observers->empty();
    first_sync_node_ = nullptr;
    for (auto& step : steps_) {
      const int64_t syncs_before = *host_syncs_;
      for (Value* v : step->outputs)
        if (v) v->reset();
      if (observe) notify(*step, *observers, true);
      if (step->memoize && memo_hit(*step)) {
        for (size_t i = 0; i < step->outputs.size(); ++i)
          if (step->outputs[i]) *step->outputs[i] = step->memo_outputs[i];
      } else {
        Status st = needs_upcast(*step) ? run_upcast(*step) : run_kernel(*step);
        if (!st.is_ok()) {
          clear_values();
          return st.with_context(step->where);
        }
        if (step->memoize) remember(*step);
      }
      if (*host_syncs_ != syncs_before && first_sync_node_ == nullptr) first_sync_node_ = step->node;
      if (observe) notify(*step, *observers, false);
      for (Value* v : step->release_after) v->reset();
    }
    return Status::ok();
  }

  static Status run_kernel(Step& step) {
    try {
      return step.kernel->run(step.ctx);
    } catch (const std::exception& e) {
      return status_from_exception(e);
    }
  }

  /// Whether `step` has a float16/bfloat16 input its op cannot take on this CPU.
  static bool needs_upcast(const Step& step) {
    if (!step.upcast_half && !step.upcast_bfloat16) return false;
    for (const Value* v : step.inputs) {
      if (v == nullptr || !v->is_tensor()) continue;
      const at::ScalarType t = v->tensor.scalar_type();
      if ((t == at::kHalf && step.upcast_half) || (t == at::kBFloat16 && step.upcast_bfloat16)) return true;
    }
    return false;
  }

  /// Runs `step` on float32 copies of its float16/bfloat16 inputs and rounds output 0 back
  /// to the inputs' type: the answer the op defines, computed in higher precision.
  static Status run_upcast(Step& step) {
    std::vector<std::pair<Value*, at::Tensor>> saved;
    at::ScalarType low = at::kFloat;
    for (Value* v : step.inputs) {
      if (v == nullptr || !v->is_tensor()) continue;
      const at::ScalarType t = v->tensor.scalar_type();
      if (t != at::kHalf && t != at::kBFloat16) continue;
      if (std::none_of(saved.begin(), saved.end(), [&](const auto& p) { return p.first == v; })) {
        saved.emplace_back(v, v->tensor);
        v->tensor = v->tensor.to(at::kFloat);
        low = t;
      }
    }
    Status st = run_kernel(step);
    for (auto& [v, original] : saved) v->tensor = original;
    Value* out = step.outputs.empty() ? nullptr : step.outputs[0];
    if (st.is_ok() && low != at::kFloat && out && out->is_tensor() && out->tensor.scalar_type() == at::kFloat)
      out->tensor = out->tensor.to(low);
    return st;
  }

  /// Whether `step`'s inputs equal those of its last run: the same tensor, or equal
  /// content for host values; equal sizes for ops that read only sizes.
  static bool memo_hit(const Step& step) {
    if (step.memo_outputs.empty()) return false;
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const Value* v = step.inputs[i];
      const bool present = v != nullptr && v->is_tensor();
      if (present != step.memo_inputs[i].defined()) return false;
      if (!present) continue;
      if (step.reads_only_sizes) {
        if (v->tensor.sizes() != at::IntArrayRef(step.memo_sizes[i])) return false;
      } else if (!same_content(v->tensor, step.memo_inputs[i])) {
        return false;
      }
    }
    return true;
  }

  static void remember(Step& step) {
    step.memo_inputs.assign(step.inputs.size(), at::Tensor());
    step.memo_sizes.assign(step.inputs.size(), {});
    step.memo_outputs.clear();
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const Value* v = step.inputs[i];
      if (v == nullptr || !v->is_tensor()) continue;
      if (!step.reads_only_sizes && !v->tensor.is_cpu()) {
        step.memo_outputs.clear();  // a device input: never memoized
        return;
      }
      step.memo_inputs[i] = step.reads_only_sizes ? at::empty({0}) : v->tensor;
      step.memo_sizes[i].assign(v->tensor.sizes().begin(), v->tensor.sizes().end());
    }
    for (Value* out : step.outputs) step.memo_outputs.push_back(out ? *out : Value());
  }

  void notify(const Step& step, const std::vector<NodeObserver*>& observers, bool before) {
    event_inputs_.clear();
    event_outputs_.clear();
    for (Value* v : step.inputs) event_inputs_.push_back(v && v->is_tensor() ? &v->tensor : nullptr);
    if (!before)
      for (Value* v : step.outputs) event_outputs_.push_back(v && v->is_tensor() ? &v->tensor : nullptr);
    NodeEvent ev;
    ev.node_index = step.node_index;
    ev.node = step.node;
    ev.inputs = event_inputs_;
    ev.outputs = event_outputs_;
    ev.on_host = step.on_host;
    for (NodeObserver* o : observers) {
      if (before) o->before_node(ev);
      else o->after_node(ev);
    }
  }

  void clear_values() {
    for (size_t s = 0; s < values_.size(); ++s)
      if (!pinned_[s]) values_[s].reset();
  }

  const Model& model_;
  at::Device device_;
  int64_t* host_syncs_;
  SwapPlan* swap_ = nullptr;
  const Graph* graph_ = nullptr;
  OuterLookup outer_;
  std::vector<Value> values_;
  std::vector<bool> on_host_;
  std::vector<bool> pinned_;
  std::unordered_map<std::string, size_t> slot_of_;
  std::unordered_map<std::string, const TensorData*> constants_;
  std::deque<TensorData> folded_;  ///< values of Constant nodes (constants_ points here)
  std::vector<size_t> input_slots_;
  std::vector<const ValueInfo*> input_infos_;
  std::vector<Value*> output_values_;
  std::vector<std::unique_ptr<Step>> steps_;
  std::vector<const at::Tensor*> event_inputs_, event_outputs_;
  const Node* first_sync_node_ = nullptr;  ///< see first_host_read()
};

// ---------------------------------------------------------------------------------------
// Session

struct Session::Impl {
  std::shared_ptr<const Model> model;
  Device device;
  at::Device at_device{at::kCPU};
  int64_t host_syncs = 0;
  bool check_shapes = true;
  FusionReport fusions;
  SwapPlan swaps;
  std::unique_ptr<Executor> executor;
  std::vector<NodeObserver*> observers;
  std::vector<NodeObserver*> capture_observers;  ///< at most one (set_capture_observer)
  std::unique_ptr<CudaGraphRunner> graphs;  ///< null unless CUDA graphs are on
  CudaGraphState graph_state;               ///< while `graphs` is null
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionOptions& options) {
  if (!model) return invalid_input("no model");
  auto impl = std::make_unique<Impl>();
  if (options.fuse) {
    auto fused = std::make_shared<Model>(*model);
    fused->graph = fuse_graph(model->graph, &impl->fusions);
    if (impl->fusions.attention + impl->fusions.gelu > 0) fused->opsets["com.autokernel"] = 1;
    impl->model = std::move(fused);
  } else {
    impl->model = std::move(model);
  }
  if (!options.kernels.pack.empty()) {
    // Swap-in matches the executed graph (after the runtime fusions): the graph tasks are
    // extracted from.
    AK_ASSIGN_OR_RETURN(impl->swaps, plan_swap_in(*impl->model, options.kernels, options.device.is_cuda()));
    auto swapped = std::make_shared<Model>(*impl->model);
    swapped->graph = std::move(impl->swaps.graph);
    if (!impl->swaps.bindings.empty()) swapped->opsets["com.autokernel"] = 1;
    impl->model = std::move(swapped);
  }
  impl->device = options.device;
  impl->at_device = to_at(options.device);
  impl->check_shapes = options.check_input_shapes;
  if (options.device.is_cuda() && !cuda_available())
    return invalid_input("device '" + options.device.str() + "' requested but no CUDA GPU is usable");
  if (options.num_threads > 0) at::set_num_threads(options.num_threads);
  if (options.device.is_cuda()) {
    at::globalContext().setAllowTF32CuBLAS(options.allow_tf32);
    at::globalContext().setAllowTF32CuDNN(options.allow_tf32);
  }
  const int64_t opset = impl->model->opset("");
  // A model may import only another domain (e.g. ai.onnx.preview.training); then it has
  // no default-domain nodes and opset 0 is fine.
  const bool only_other_domains = opset == 0 && !impl->model->opsets.empty();
  if (!only_other_domains && (opset < 1 || opset > 21))
    return unsupported(impl->model->path.string() + ": opset " + std::to_string(opset) +
                       " of ai.onnx is outside the supported range 1 to 21");
  impl->executor = std::make_unique<Executor>(*impl->model, impl->at_device, &impl->host_syncs);
  impl->executor->set_swap(&impl->swaps);
  try {
    c10::OptionalDeviceGuard guard;
    if (options.device.is_cuda()) guard.reset_device(impl->at_device);
    Status st = impl->executor->prepare(impl->model->graph, nullptr);
    if (!st.is_ok()) return st;
  } catch (const std::exception& e) {
    return status_from_exception(e).with_context("preparing the model");
  }
  auto session = std::unique_ptr<Session>(new Session(std::move(impl)));
  if (options.cuda_graph) session->set_cuda_graph(true);
  return session;
}

const CudaGraphState& Session::cuda_graph_state() const {
  return impl_->graphs ? impl_->graphs->state() : impl_->graph_state;
}

void Session::set_cuda_graph(bool enabled) {
  impl_->graphs.reset();
  impl_->graph_state = CudaGraphState();
  if (!enabled) return;
  if (!impl_->device.is_cuda()) {
    impl_->graph_state.ignored = "cuda graphs are for CUDA devices; ignored on " + impl_->device.str();
    return;
  }
  Executor* executor = impl_->executor.get();
  EagerRunner eager;
  eager.run = [executor](std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) {
    return executor->run_tensors(inputs, outputs, nullptr);
  };
  const std::vector<NodeObserver*>* capture_observers = &impl_->capture_observers;
  eager.capture = [executor, capture_observers](std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) {
    return executor->run_tensors(inputs, outputs, capture_observers);
  };
  eager.first_host_read = [executor] { return executor->first_host_read(); };
  eager.kept_device_tensors = [executor] {
    std::vector<at::Tensor> kept;
    executor->collect_kept_device_tensors(&kept);
    return kept;
  };
  auto runner = make_cuda_graph_runner(impl_->device, std::move(eager), kCudaGraphCacheSize);
  if (!runner) {
    impl_->graph_state.ignored = runner.status().message();
    return;
  }
  impl_->graphs = std::move(runner).value();
}

const Model& Session::model() const { return *impl_->model; }
int Session::fused_attention() const { return impl_->fusions.attention; }
int Session::fused_gelu() const { return impl_->fusions.gelu; }
const SwapReport& Session::swap_report() const { return impl_->swaps.report; }
const Device& Session::device() const { return impl_->device; }
const std::vector<const ValueInfo*>& Session::input_infos() const { return impl_->executor->input_infos(); }
int64_t Session::host_syncs() const { return impl_->host_syncs; }

void Session::add_observer(NodeObserver* observer) { impl_->observers.push_back(observer); }
void Session::remove_observer(NodeObserver* observer) {
  auto& v = impl_->observers;
  v.erase(std::remove(v.begin(), v.end(), observer), v.end());
}
void Session::set_capture_observer(NodeObserver* observer) {
  impl_->capture_observers.clear();
  if (observer != nullptr) impl_->capture_observers.push_back(observer);
}

void Session::synchronize() const {
  if (impl_->device.is_cuda()) at::detail::getCUDAHooks().deviceSynchronize(static_cast<c10::DeviceIndex>(impl_->device.index));
}

namespace {
/// Whether a tensor of `actual` type can stand for a declared ONNX dtype.
bool dtype_matches(DType declared, at::ScalarType actual) {
  if (declared == DType::kUndefined) return true;
  auto st = to_scalar_type(declared);
  return st && *st == actual;
}

Status check_input(const ValueInfo& info, const at::Tensor& t, bool check_shape) {
  const std::string what = "input '" + info.name + "'";
  if (!dtype_matches(info.dtype, t.scalar_type()))
    return invalid_input(what + ": expected dtype " + dtype_name(info.dtype) + ", got " +
                         dtype_name(from_scalar_type(t.scalar_type())));
  if (!info.has_shape || !check_shape) return Status::ok();
  std::string expected;
  for (size_t i = 0; i < info.shape.size(); ++i)
    expected += (i ? "x" : "") + (info.shape[i].is_fixed() ? std::to_string(info.shape[i].value)
                                                            : (info.shape[i].param.empty() ? "?" : info.shape[i].param));
  if (info.shape.empty()) expected = "scalar";
  bool ok = static_cast<size_t>(t.dim()) == info.shape.size();
  for (size_t i = 0; ok && i < info.shape.size(); ++i)
    if (info.shape[i].is_fixed() && info.shape[i].value != t.size(static_cast<int64_t>(i))) ok = false;
  if (!ok)
    return invalid_input(what + ": expected shape " + expected + ", got " +
                         shape_string(std::vector<int64_t>(t.sizes().begin(), t.sizes().end())));
  return Status::ok();
}
}  // namespace

Status Session::upload_inputs(const std::vector<TensorData>& inputs, std::vector<at::Tensor>* out) const {
  out->clear();
  const auto& infos = input_infos();
  for (const auto& t : inputs) {
    if (std::none_of(infos.begin(), infos.end(), [&](const ValueInfo* vi) { return vi->name == t.name; })) {
      std::string names;
      for (const auto* vi : infos) names += (names.empty() ? "" : ", ") + vi->name;
      return invalid_input("input '" + t.name + "' is not an input of the model (inputs: " + names + ")");
    }
  }
  for (const ValueInfo* info : infos) {
    auto it = std::find_if(inputs.begin(), inputs.end(), [&](const TensorData& t) { return t.name == info->name; });
    if (it == inputs.end()) return invalid_input("input '" + info->name + "' is missing");
    if (info->dtype != DType::kUndefined && it->dtype != info->dtype)
      return invalid_input("input '" + info->name + "': expected dtype " + dtype_name(info->dtype) + ", got " +
                           dtype_name(it->dtype));
    try {
      auto tensor = to_tensor(*it, impl_->at_device);
      if (!tensor) return tensor.status().with_context("input '" + info->name + "'");
      AK_RETURN_IF_ERROR(check_input(*info, *tensor, impl_->check_shapes));
      out->push_back(std::move(tensor).value());
    } catch (const std::exception& e) {
      return status_from_exception(e).with_context("uploading input '" + info->name + "'");
    }
  }
  return Status::ok();
}

Status Session::run_device(std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) {
  const auto& infos = input_infos();
  if (inputs.size() != infos.size())
    return invalid_input("the model takes " + std::to_string(infos.size()) + " inputs, got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) AK_RETURN_IF_ERROR(check_input(*infos[i], inputs[i], impl_->check_shapes));
  try {
    c10::OptionalDeviceGuard guard;
    if (impl_->device.is_cuda()) guard.reset_device(impl_->at_device);
    if (impl_->graphs && impl_->observers.empty()) return impl_->graphs->run(inputs, outputs);
    // Observers see every node, which a replay would not call: observed runs are eager.
    if (impl_->graphs) impl_->graphs->note_eager_run();
    return impl_->executor->run_tensors(inputs, outputs, &impl_->observers);
  } catch (const std::exception& e) {
    return status_from_exception(e);
  }
}

namespace {
Result<Value> to_value(const HostValue& hv, const at::Device& device) {
  Value v;
  auto tensor_value = [&](const TensorData& t, Value& out) -> Status {
    if (t.dtype == DType::kString) {
      out.kind = Value::Kind::kStrings;
      out.strings = t.strings;
      out.string_dims = t.dims;
      return Status::ok();
    }
    AK_ASSIGN_OR_RETURN(at::Tensor tensor, to_tensor(t, device));
    out.set_tensor(std::move(tensor));
    return Status::ok();
  };
  switch (hv.kind) {
    case HostValue::Kind::kTensor: AK_RETURN_IF_ERROR(tensor_value(hv.tensor, v)); break;
    case HostValue::Kind::kSequence:
      v.kind = Value::Kind::kSequence;
      v.sequence_dtype = hv.sequence_dtype;
      for (const auto& t : hv.sequence) {
        AK_ASSIGN_OR_RETURN(at::Tensor tensor, to_tensor(t, device));
        v.sequence.push_back(std::move(tensor));
      }
      break;
    case HostValue::Kind::kNone: break;
  }
  return v;
}

HostValue to_host_value(const Value& v, const ValueInfo& info) {
  HostValue hv;
  hv.name = info.name;
  switch (v.kind) {
    case Value::Kind::kTensor: hv.tensor = to_tensor_data(v.tensor, info.name, info.kind == ValueInfo::Kind::kTensor ? info.dtype : DType::kUndefined); break;
    case Value::Kind::kStrings:
      hv.tensor.name = info.name;
      hv.tensor.dtype = DType::kString;
      hv.tensor.dims = v.string_dims;
      hv.tensor.strings = v.strings;
      break;
    case Value::Kind::kSequence:
      hv.kind = HostValue::Kind::kSequence;
      hv.sequence_dtype = v.sequence_dtype;
      for (const auto& t : v.sequence) hv.sequence.push_back(to_tensor_data(t, "", info.dtype));
      break;
    case Value::Kind::kEmpty: hv.kind = HostValue::Kind::kNone; break;
  }
  return hv;
}
}  // namespace

Result<std::vector<HostValue>> Session::run_values(const std::vector<HostValue>& inputs) {
  const auto& infos = input_infos();
  std::vector<Value> values;
  for (const ValueInfo* info : infos) {
    auto it = std::find_if(inputs.begin(), inputs.end(), [&](const HostValue& v) { return v.name == info->name; });
    if (it == inputs.end()) return invalid_input("input '" + info->name + "' is missing");
    try {
      auto v = to_value(*it, impl_->at_device);
      if (!v) return v.status().with_context("input '" + info->name + "'");
      if (v->is_tensor()) AK_RETURN_IF_ERROR(check_input(*info, v->tensor, impl_->check_shapes));
      values.push_back(std::move(v).value());
    } catch (const std::exception& e) {
      return status_from_exception(e).with_context("uploading input '" + info->name + "'");
    }
  }
  std::vector<Value> outputs;
  try {
    c10::OptionalDeviceGuard guard;
    if (impl_->device.is_cuda()) guard.reset_device(impl_->at_device);
    if (impl_->graphs) impl_->graphs->note_eager_run();
    AK_RETURN_IF_ERROR(impl_->executor->run_values(values, &outputs, &impl_->observers));
    std::vector<HostValue> result;
    const auto& outs = impl_->model->graph.outputs;
    for (size_t i = 0; i < outputs.size(); ++i) result.push_back(to_host_value(outputs[i], outs[i]));
    return result;
  } catch (const std::exception& e) {
    return status_from_exception(e);
  }
}

LatencyStats latency_stats(std::vector<double> samples) {
  LatencyStats s;
  s.iterations = static_cast<int>(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto quantile = [&](double q) {
    double pos = q * (samples.size() - 1);
    size_t lo = static_cast<size_t>(pos);
    size_t hi = std::min(lo + 1, samples.size() - 1);
    return samples[lo] + (pos - lo) * (samples[hi] - samples[lo]);
  };
  s.median_ms = quantile(0.5);
  s.p10_ms = quantile(0.1);
  s.p90_ms = quantile(0.9);
  s.min_ms = samples.front();
  double sum = 0;
  for (double v : samples) sum += v;
  s.mean_ms = sum / samples.size();
  s.samples_ms = std::move(samples);
  return s;
}

Result<LatencyStats> Session::measure_latency(const std::vector<TensorData>& inputs, int warmup, int iterations,
                                              const std::function<void(int, int)>& progress) {
  if (iterations < 1) return invalid_input("--iters must be at least 1");
  if (warmup < 0) return invalid_input("--warmup must not be negative");
  std::vector<at::Tensor> device_inputs, outputs;
  AK_RETURN_IF_ERROR(upload_inputs(inputs, &device_inputs));
  for (int i = 0; i < warmup; ++i) {
    AK_RETURN_IF_ERROR(run_device(device_inputs, &outputs));
    synchronize();
  }
  std::vector<double> samples;
  samples.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    outputs.clear();
    const auto t0 = std::chrono::steady_clock::now();
    AK_RETURN_IF_ERROR(run_device(device_inputs, &outputs));
    synchronize();
    const auto t1 = std::chrono::steady_clock::now();
    samples.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (progress) progress(i + 1, iterations);
  }
  return latency_stats(std::move(samples));
}

Result<std::vector<TensorData>> Session::run(const std::vector<TensorData>& inputs) {
  std::vector<at::Tensor> device_inputs, outputs;
  AK_RETURN_IF_ERROR(upload_inputs(inputs, &device_inputs));
  AK_RETURN_IF_ERROR(run_device(device_inputs, &outputs));
  std::vector<TensorData> result;
  const auto& outs = impl_->model->graph.outputs;
  try {
    for (size_t i = 0; i < outputs.size(); ++i) result.push_back(to_tensor_data(outputs[i], outs[i].name, outs[i].dtype));
  } catch (const std::exception& e) {
    return status_from_exception(e).with_context("downloading outputs");
  }
  return result;
}

}  // namespace ak::models
