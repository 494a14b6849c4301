#pragma once
/// Session: a loaded model prepared to run on one device through libtorch ATen.
///
/// This header does not include torch: tensors on the fast path are forward-declared
/// at::Tensor, and only the .cpp files that touch their data include ATen.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"
#include "models/swap.h"

namespace at {
class Tensor;
}

namespace ak::models {

enum class DeviceKind { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;
  std::string str() const;  ///< "cpu", "cuda", "cuda:1"
  bool is_cuda() const { return kind == DeviceKind::kCuda; }
  /// Parses "cpu", "cuda", "cuda:N"; rejects anything else and CUDA when no GPU is usable.
  static Result<Device> parse(const std::string& text);
};

bool cuda_available();
/// cuda when a GPU is usable, else cpu.
Device default_device();
/// The GPU's (or the CPU's) marketing name, for reports.
std::string device_name(const Device& device);

/// What an observer sees around one node execution. Pointers are valid only during the
/// callback; an entry is null for an omitted optional input/output or a non-tensor value
/// (sequence, string tensor).
struct NodeEvent {
  size_t node_index = 0;  ///< index in Graph::nodes of the top-level graph
  const Node* node = nullptr;
  std::span<const at::Tensor* const> inputs;
  std::span<const at::Tensor* const> outputs;  ///< empty in before_node
  bool on_host = false;  ///< true when the node ran on the host (shape arithmetic)
};

/// The seam the profiler and the verifier attach to. Called on the thread that runs the
/// session, around every top-level node (nodes inside If/Loop bodies are part of their
/// parent). Observers must not throw.
class NodeObserver {
 public:
  virtual ~NodeObserver() = default;
  virtual void before_node(const NodeEvent& event) = 0;
  virtual void after_node(const NodeEvent& event) = 0;
};

struct SessionOptions {
  Device device;
  /// Values for symbolic input dimensions by name; unnamed ones default to 1.
  std::map<std::string, int64_t> dims;
  /// CPU threads for ATen (0 keeps libtorch's default).
  int num_threads = 0;
  /// Apply the runtime fusions of models/fusion.h (attention, GELU) before preparing.
  bool fuse = true;
  /// Let float32 matmuls and convolutions use TF32 tensor cores on the GPU (about 10 bits
  /// of mantissa: ResNet-50's logits move by ~4e-2). Off by default: float32 means float32.
  /// Process-wide in libtorch, so the last session created decides.
  bool allow_tf32 = false;
  /// Check inputs against the graph's declared shapes (dtypes are always checked). The
  /// conformance runner turns this off: there, the test data is the authority.
  bool check_input_shapes = true;
  /// Kernels of a pack to swap into the graph (models/swap.h); none by default.
  SwapOptions kernels;
  /// CUDA only: after the first run of an input-shape set, capture the whole run into a CUDA
  /// graph and replay it for later runs of the same shapes (docs/runtime.md says when it
  /// applies). Ignored on the CPU. With it, device outputs of run_device alias the graph's
  /// static buffers: the next run of the same shapes overwrites them (clone to keep them).
  bool cuda_graph = false;
};

/// What CUDA-graph execution did in a session so far (Session::cuda_graph_state()).
struct CudaGraphState {
  bool enabled = false;   ///< graphs are in use: asked for, on CUDA, in a CUDA build
  std::string ignored;    ///< why the option has no effect when asked for ("" otherwise)
  int64_t captured = 0;   ///< graphs captured and checked (evicted ones included)
  int64_t replays = 0;    ///< runs served by replaying a graph
  int64_t eager_runs = 0; ///< runs executed node by node (warm-ups, refused shapes, observed runs)
  int64_t evicted = 0;    ///< graphs dropped by the LRU cache
  int cached = 0;         ///< graphs held now
  int refused = 0;        ///< input-shape sets that run eagerly because capture was refused
  /// The last refusal, one line naming the node where there is one, e.g. "cuda graph: not
  /// used: node 'Where_3' (NonZero, opset 13): ... operation not permitted when stream is
  /// capturing"; "" when nothing was refused.
  std::string fallback_reason;
};

/// Wall-clock latency of whole-model runs (each synchronized), in milliseconds.
struct LatencyStats {
  int iterations = 0;
  double median_ms = 0, p10_ms = 0, p90_ms = 0, mean_ms = 0, min_ms = 0;
  std::vector<double> samples_ms;
};
/// Median/percentiles of `samples_ms` (which it sorts).
LatencyStats latency_stats(std::vector<double> samples_ms);

/// Thread-compatible: one run at a time.
class Session {
 public:
  /// Prepares `model` for `options.device`: resolves every op (kUnsupported names the
  /// first unsupported op and opset), uploads initializers once, plans value lifetimes.
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// The model as executed: the loaded one, with runtime fusions applied (fused nodes are
  /// in domain com.autokernel and name their original nodes in "fused_nodes").
  const Model& model() const;
  /// How many patterns the runtime fusions replaced.
  int fused_attention() const;
  int fused_gelu() const;
  /// What swap-in did (empty when SessionOptions::kernels named no pack).
  const SwapReport& swap_report() const;
  const Device& device() const;
  /// The inputs a caller feeds, in order (graph inputs that are not initializers).
  const std::vector<const ValueInfo*>& input_infos() const;

  /// Runs on host tensors: checks dtypes and ranks against the graph, uploads, runs,
  /// downloads. `inputs` are matched by name.
  Result<std::vector<TensorData>> run(const std::vector<TensorData>& inputs);

  /// Runs on host values of any kind (tensors, string tensors, sequences, empty optionals),
  /// matched by name; returns every graph output. The conformance runner uses this.
  Result<std::vector<HostValue>> run_values(const std::vector<HostValue>& inputs);

  /// The fast path: inputs already on the session's device, in input_infos() order.
  /// Outputs stay on the device; the call does not synchronize the device.
  Status run_device(std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs);

  /// Host tensors -> device tensors in input_infos() order, checking names/dtypes/ranks.
  Status upload_inputs(const std::vector<TensorData>& inputs, std::vector<at::Tensor>* out) const;

  /// Uploads `inputs` once, runs `warmup` untimed iterations, then times `iterations`
  /// runs, each followed by a device synchronize. `progress` (if set) is called after
  /// each timed iteration with (done, total).
  Result<LatencyStats> measure_latency(const std::vector<TensorData>& inputs, int warmup, int iterations,
                                       const std::function<void(int, int)>& progress = {});

  /// Waits for the device (no-op on CPU).
  void synchronize() const;

  /// Observers are called in the order added; the Session does not own them.
  void add_observer(NodeObserver* observer);
  void remove_observer(NodeObserver* observer);
  /// The observer of CUDA-graph captures: called around every node of the run a graph is
  /// captured from, and of no other run (warm-ups and replays walk no observer). Unlike
  /// add_observer it keeps runs on the graph path: the profiler learns from it which node
  /// created which graph node. Null removes it; the Session does not own it.
  void set_capture_observer(NodeObserver* observer);

  /// How many times a run had to read a device tensor on the host (a sync); a model
  /// whose shape arithmetic stays on the host keeps this at 0.
  int64_t host_syncs() const;

  /// Counters and the fallback reason of CUDA-graph execution (SessionOptions::cuda_graph).
  const CudaGraphState& cuda_graph_state() const;
  /// Turns CUDA-graph execution on or off for later runs (the profiler times both modes on
  /// one session). Off drops every cached graph; on the CPU only `ignored` is set.
  void set_cuda_graph(bool enabled);

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ak::models
