#pragma once
/// autokernel's deployment API: load an ONNX model with a kernel pack (docs/packs.md), run
/// it on host buffers, read its outputs. The one header an application includes
/// (`#include <autokernel/autokernel.h>`, library `autokernel_api`); it includes no torch,
/// CUDA or protobuf headers, and no exception crosses it: every call returns a Status.
///
///     autokernel::LoadOptions options;
///     options.pack = "gpt2.pack";
///     std::unique_ptr<autokernel::Model> model;
///     autokernel::Status st = autokernel::Model::load("gpt2.onnx", options, &model);
///     if (!st.ok()) { std::fprintf(stderr, "%s\n", st.message.c_str()); return st.exit_code(); }
///     std::vector<autokernel::Tensor> outputs;
///     st = model->run({autokernel::Tensor::of("input_ids", {1, 8}, ids)}, &outputs);
///
/// Thread-compatible: one run at a time per Model; different Models may run concurrently.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace autokernel {

/// What went wrong: bad input (a missing file, a malformed pack, a wrong input name,
/// dtype or shape), something the runtime does not support, work that failed (a kernel
/// that returned an error), or a bug.
enum class StatusCode { kOk = 0, kInvalidInput, kUnsupported, kFailed, kInternal };

/// ok(), or a code and one line naming the problem.
struct [[nodiscard]] Status {
  StatusCode code = StatusCode::kOk;
  std::string message;

  bool ok() const { return code == StatusCode::kOk; }
  /// The exit code a command-line program should end with: 0 ok, 2 bad input or
  /// unsupported, 1 otherwise.
  int exit_code() const {
    return ok() ? 0 : (code == StatusCode::kInvalidInput || code == StatusCode::kUnsupported) ? 2 : 1;
  }
};

/// Element types, numbered as ONNX's TensorProto.DataType (the kernel ABI's AK_DTYPE_*).
enum class DType : int32_t {
  kFloat32 = 1, kUInt8 = 2, kInt8 = 3, kInt16 = 5, kInt32 = 6, kInt64 = 7, kBool = 9,
  kFloat16 = 10, kFloat64 = 11, kBFloat16 = 16,
};

/// Bytes per element of `dtype`; 0 for a code outside the enum.
size_t dtype_size(DType dtype);

/// A tensor in host memory: packed little-endian elements, row-major. Owns its bytes.
struct Tensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  std::vector<std::byte> data;  ///< numel() * dtype_size(dtype) bytes

  int64_t numel() const;
  /// A float32 tensor holding `values` (their count must be the product of `dims`).
  static Tensor of(std::string name, std::vector<int64_t> dims, const std::vector<float>& values);
  /// An int64 tensor holding `values`.
  static Tensor of(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& values);
  /// The elements as float32 (a float32 tensor's values; empty for any other dtype).
  std::vector<float> floats() const;
};

/// A declared input or output of the model. A dimension of -1 is symbolic (named in
/// `dim_names`) or unknown.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_names;  ///< the symbol of each symbolic dimension, else ""
};

/// How to load. Every field has a default.
struct LoadOptions {
  /// "cpu", "cuda" or "cuda:N"; empty: cuda when a GPU is usable, else cpu.
  std::string device;
  /// A kernel pack folder whose kernels are swapped in; empty: none.
  std::string pack;
  /// Sizes of symbolic input dimensions by name (inputs() reports them resolved).
  std::map<std::string, int64_t> dims;
  /// CUDA only: run the whole model as one CUDA graph per input-shape set: the first run of
  /// a shape set warms up, the second captures the graph and replays it only once its
  /// replay reproduced the eager run bit for bit; later runs replay it. A model that cannot
  /// be captured runs node by node, and Model::cuda_graph() says why. Ignored on the CPU
  /// (Model::cuda_graph().ignored says so).
  bool cuda_graph = false;
  /// The runtime's own fusions (attention, GELU) before swap-in.
  bool fuse = true;
  /// CPU threads (0: the runtime's default).
  int num_threads = 0;
};

/// What CUDA-graph execution did so far (LoadOptions::cuda_graph).
struct CudaGraphInfo {
  bool enabled = false;         ///< graphs are in use: asked for, on CUDA, in a CUDA build
  std::string ignored;          ///< why the option has no effect ("" when not asked for or in use)
  int64_t captured = 0;         ///< graphs captured and checked against an eager run
  int64_t replays = 0;          ///< runs served by replaying a graph
  int64_t eager_runs = 0;       ///< runs executed node by node (warm-ups, refused shape sets)
  std::string fallback_reason;  ///< the last refused capture, naming the node ("" when none)
};

/// A loaded model, ready to run.
class Model {
 public:
  /// Loads the ONNX file `path`, prepares it for options.device and swaps in the kernels
  /// of options.pack (building them for this machine through the build cache). On success
  /// `*out` holds the model.
  static Status load(const std::string& path, const LoadOptions& options, std::unique_ptr<Model>* out);

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  /// Runs on `inputs` (matched by name, one per model input); `*outputs` gets every model
  /// output in the model's order, in host memory.
  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs);

  /// The inputs a caller feeds, in order, and the outputs run() returns.
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  /// "kernels: swapped 17 instances of 3 workloads (3 of 4 entries); 1 entry matched
  /// nothing"; empty without a pack.
  std::string kernels_summary() const;
  /// How many runs of swapped-in instances used their kernel and how many fell back to
  /// the original nodes (shapes outside the verified ranges), summed over instances.
  int64_t kernel_calls() const;
  int64_t kernel_fallbacks() const;
  /// The device it runs on: "cpu", "cuda", "cuda:1".
  std::string device() const;
  /// What CUDA-graph execution did in the runs so far.
  CudaGraphInfo cuda_graph() const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autokernel
