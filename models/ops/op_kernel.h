#pragma once
/// The op library's interface: how an ONNX op is prepared once (attributes parsed,
/// opset resolved) and run many times over ATen tensors. Internal to models/.

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/graph.h"

namespace ak::models {

/// An error with its Status, thrown from op helpers that cannot return one (a Scan body
/// run inside a loop of tensor code); the executor reports the Status as it is.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(Status status) : std::runtime_error(status.message()), status_(std::move(status)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

/// A runtime value: a tensor, a string tensor, a sequence of tensors, or nothing (an
/// empty optional).
struct Value {
  enum class Kind : uint8_t { kEmpty, kTensor, kStrings, kSequence };
  Kind kind = Kind::kEmpty;
  at::Tensor tensor;                  ///< kTensor
  std::vector<std::string> strings;   ///< kStrings: elements, row-major
  std::vector<int64_t> string_dims;   ///< kStrings: shape
  std::vector<at::Tensor> sequence;   ///< kSequence
  DType sequence_dtype = DType::kUndefined;

  void set_tensor(at::Tensor t) {
    kind = Kind::kTensor;
    tensor = std::move(t);
  }
  void reset() {
    kind = Kind::kEmpty;
    tensor.reset();
    strings.clear();
    string_dims.clear();
    sequence.clear();
  }
  bool is_tensor() const { return kind == Kind::kTensor; }
};

/// A prepared subgraph (If branches, Loop/Scan bodies). Its inputs are bound by the
/// caller; values of enclosing graphs are visible to it.
class GraphRunner {
 public:
  virtual ~GraphRunner() = default;
  virtual size_t num_inputs() const = 0;
  virtual size_t num_outputs() const = 0;
  /// Runs with `inputs` bound to the graph inputs in order; fills `outputs`.
  virtual Status run(const std::vector<Value>& inputs, std::vector<Value>* outputs) = 0;
};

/// Per-node state the executor hands to a kernel on every run.
class OpContext {
 public:
  /// The device this node runs on (CPU for host-side shape arithmetic).
  at::Device device() const { return device_; }
  at::TensorOptions options() const { return at::TensorOptions().device(device_); }

  size_t num_inputs() const { return num_inputs_; }
  size_t num_outputs() const { return num_outputs_; }
  bool has_input(size_t i) const { return i < num_inputs_ && inputs_[i] != nullptr && inputs_[i]->kind != Value::Kind::kEmpty; }
  bool has_output(size_t i) const { return i < num_outputs_ && outputs_[i] != nullptr; }

  /// Input i as a tensor on this node's device (a host value is uploaded, cached while
  /// its content is unchanged). Throws c10::Error-like std::runtime_error if absent.
  const at::Tensor& input(size_t i);
  /// Input i on the host. Reading a device tensor here syncs the device (counted).
  at::Tensor host_input(size_t i);
  /// Input i read as int64 values (shape-like inputs: axes, pads, sizes).
  std::vector<int64_t> input_ints(size_t i);
  /// Input i read as a double (a scalar input such as Clip's min).
  double input_double(size_t i);
  /// `t` on the host; reading a device tensor syncs the device (counted), e.g. a Loop
  /// body's condition output.
  at::Tensor host_read(const at::Tensor& t);

  Value& input_value(size_t i) { return *inputs_[i]; }
  Value& output_value(size_t i) { return *outputs_[i]; }
  void set_output(size_t i, at::Tensor t) {
    if (has_output(i)) outputs_[i]->set_tensor(std::move(t));
  }

  /// Runs subgraph `index` of this node (see OpBuildInfo::prepare_subgraph).
  GraphRunner& subgraph(size_t index) { return *(*subgraphs_)[index]; }

 private:
  friend class Executor;
  at::Device device_{at::kCPU};
  Value* const* inputs_ = nullptr;
  size_t num_inputs_ = 0;
  Value* const* outputs_ = nullptr;
  size_t num_outputs_ = 0;
  struct UploadCache {
    at::Tensor host;
    at::Tensor device;
  };
  std::vector<UploadCache>* upload_cache_ = nullptr;
  std::vector<std::unique_ptr<GraphRunner>>* subgraphs_ = nullptr;
  int64_t* host_syncs_ = nullptr;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual Status run(OpContext& ctx) = 0;
};

struct SwapPlan;  // models/swap.h

/// What an op factory may look at when preparing a node.
struct OpBuildInfo {
  const Node& node;
  int64_t opset = 0;  ///< of the node's domain
  const Graph* graph = nullptr;  ///< the graph holding `node` (Gradient differentiates part of it)
  at::Device device{at::kCPU};
  /// The constant value of input i (an initializer or Constant), or null.
  std::function<const TensorData*(size_t)> constant_input;
  /// Prepares `graph` (an attribute of this node) for OpContext::subgraph(k), where k is
  /// the order of the calls.
  std::function<Status(const Graph& graph)> prepare_subgraph;
  /// The session's swapped-in pack kernels (com.autokernel.PackKernel), or null.
  SwapPlan* swap = nullptr;

  const std::string& op() const { return node.op_type; }
};

using KernelPtr = std::unique_ptr<OpKernel>;
using OpFactory = std::function<Result<KernelPtr>(const OpBuildInfo&)>;

/// A kernel from a callable `Status(OpContext&)` or `void(OpContext&)`.
template <typename F>
KernelPtr make_kernel(F f) {
  struct Lambda final : OpKernel {
    explicit Lambda(F fn) : fn_(std::move(fn)) {}
    Status run(OpContext& ctx) override {
      if constexpr (std::is_void_v<decltype(fn_(ctx))>) {
        fn_(ctx);
        return Status::ok();
      } else {
        return fn_(ctx);
      }
    }
    F fn_;
  };
  return std::make_unique<Lambda>(std::move(f));
}

/// Where an op may run.
enum class Placement {
  kDevice,    ///< on the session's device
  kHostable,  ///< on the host when all its inputs are host values (shape arithmetic)
  kHost,      ///< always on the host: reads only tensor metadata (Shape, Size)
};

/// The op table: (domain, op_type) -> factories by the opset they appear in.
class OpRegistry {
 public:
  /// Registers `factory` for opsets >= since_version (until a later registration).
  void add(const std::string& op_type, int since_version, OpFactory factory, Placement placement = Placement::kDevice,
           const std::string& domain = "");
  /// A kernel with no attributes: `fn` is `void(OpContext&)` or `Status(OpContext&)`.
  template <typename F>
  void add_simple(const std::string& op_type, int since_version, F fn, Placement placement = Placement::kDevice) {
    add(op_type, since_version, [fn](const OpBuildInfo&) -> Result<KernelPtr> { return make_kernel(fn); }, placement);
  }

  struct Entry {
    int since_version;
    OpFactory factory;
    Placement placement;
  };
  /// The registration for `opset`, or null (unknown op, or only newer versions known).
  const Entry* find(const std::string& domain, const std::string& op_type, int64_t opset) const;
  /// The earliest opset `op_type` is registered for, or 0.
  int earliest(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> op_types() const;

  /// The process-wide table with every built-in op.
  static const OpRegistry& builtin();

 private:
  std::map<std::pair<std::string, std::string>, std::vector<Entry>> ops_;
};

// One function per op family, each in models/ops/<family>.cpp.
void register_elementwise_ops(OpRegistry& r);
void register_reduction_ops(OpRegistry& r);
void register_tensor_ops(OpRegistry& r);
void register_conv_ops(OpRegistry& r);
void register_pool_ops(OpRegistry& r);
void register_resize_ops(OpRegistry& r);
void register_recurrent_ops(OpRegistry& r);
void register_linalg_ops(OpRegistry& r);
void register_control_ops(OpRegistry& r);
void register_misc_ops(OpRegistry& r);
void register_gradient_ops(OpRegistry& r);
void register_fused_ops(OpRegistry& r);
void register_pack_kernel_op(OpRegistry& r);

/// Helpers shared by op implementations.
namespace op_util {
/// Normalizes a possibly negative axis into [0, rank); throws std::invalid_argument naming the op.
int64_t normalize_axis(int64_t axis, int64_t rank);
/// Multidirectional (numpy) broadcast of two shapes.
std::vector<int64_t> broadcast_shapes(at::IntArrayRef a, at::IntArrayRef b);
}  // namespace op_util

}  // namespace ak::models
