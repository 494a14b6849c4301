#pragma once
/// CUDA-graph execution of whole Session runs. Internal to models/ (session.cpp owns one
/// runner per session); the public view is CudaGraphState in models/session.h.
///
/// Torch-free: tensors are forward-declared, and only models/cuda_graph.cpp includes the
/// CUDA headers (and only in a build whose libtorch has CUDA, AK_WITH_CUDA).

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/session.h"

namespace ak::models {

/// How many graphs (one per input-shape set) a session keeps; the least recently used one
/// is dropped when a new shape set is captured.
inline constexpr size_t kCudaGraphCacheSize = 8;

/// What the graph runner needs from the executor it wraps.
struct EagerRunner {
  /// One run node by node on the current stream (the executor's run_tensors, no observers).
  std::function<Status(std::span<const at::Tensor>, std::vector<at::Tensor>*)> run;
  /// The run a graph is captured from: as `run`, with the session's capture observer.
  std::function<Status(std::span<const at::Tensor>, std::vector<at::Tensor>*)> capture;
  /// "node 'NAME' (OP)" of the first node of the last run that read device data on the
  /// host (Session::host_syncs grew), or "" when none did.
  std::function<std::string()> first_host_read;
  /// Device tensors the executor keeps between runs and a captured graph reads without
  /// owning them (uploads of host values); a graph holds them so their memory stays put.
  std::function<std::vector<at::Tensor>()> kept_device_tensors;
};

/// Runs a session's model through cached CUDA graphs (docs/runtime.md, "CUDA graphs"):
/// the first run of an input-shape set is eager (the warm-up), the second captures and
/// checks the graph, later ones copy the inputs into the graph's static buffers and
/// replay. Outputs alias the graph's static output buffers. Thread-compatible.
class CudaGraphRunner {
 public:
  virtual ~CudaGraphRunner() = default;
  /// One run: eager, captured or replayed, as above.
  virtual Status run(std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) = 0;
  /// The session ran the executor itself (observers attached, or run_values): counted, and
  /// a pending warm-up no longer describes the executor's caches.
  virtual void note_eager_run() = 0;
  virtual const CudaGraphState& state() const = 0;
};

/// A runner for `device` (CUDA) keeping at most `capacity` graphs. kUnsupported when this
/// build's libtorch has no CUDA.
Result<std::unique_ptr<CudaGraphRunner>> make_cuda_graph_runner(const Device& device, EagerRunner eager,
                                                                size_t capacity);

/// The Status for an exception thrown by ATen or op code (session.cpp): our ops'
/// std::invalid_argument is bad input, c10::Error an internal error in ATen.
Status status_from_exception(const std::exception& e);

}  // namespace ak::models
