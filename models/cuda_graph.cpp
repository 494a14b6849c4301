// CUDA-graph execution: whole Session runs captured once per input-shape set and replayed.
//
// Per shape set (the inputs' dtypes and sizes):
//   run 1  eager on the shape set's capture stream: the warm-up. It fills the executor's
//          upload caches and memoized host steps and lets cuBLAS/cuDNN pick their
//          algorithms and workspaces for the stream the capture will use. A run that read device data on
//          the host refuses the shape set here. The inputs and outputs are kept (cloned).
//   run 2  capture: the warm-up's inputs are copied into static buffers, the run is
//          captured on the same stream into a private memory pool (the session's capture
//          observer, when set, sees its nodes: the profiler's graph-node map), the graph is replayed
//          once and its outputs compared bit for bit with the warm-up's; then this run's
//          inputs are copied in and it is replayed for this run's outputs. Any failure
//          (an error during capture, an invalidated capture, a host read, different
//          outputs) ends the capture, discards the graph and refuses the shape set with
//          the reason; the run itself then runs eagerly.
//   later  the inputs are copied into the static buffers and the graph replayed on the
//          caller's stream; the outputs are the graph's static output tensors.
// Capture needs the warm-up to be the executor's last eager run: between them another
// shape set's run may have replaced the upload caches the capture would bake in.
//
// Each shape set warms up and captures on a stream of its own. libtorch keeps a cuBLAS
// workspace per (handle, stream), which a captured graph bakes in, and destroying a graph
// frees its capture stream's workspaces: graphs sharing one stream would be left writing
// into freed memory when one of them is evicted. Streams are reused (a free list) once
// their graph is gone.

#include "models/cuda_graph.h"

#ifdef AK_WITH_CUDA
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <list>
#endif

namespace ak::models {

#ifdef AK_WITH_CUDA
namespace {

/// The inputs' dtypes, ranks and sizes, flattened: one graph per distinct key.
using ShapeKey = std::vector<int64_t>;

ShapeKey shape_key(std::span<const at::Tensor> inputs) {
  ShapeKey key;
  for (const at::Tensor& t : inputs) {
    key.push_back(static_cast<int64_t>(t.scalar_type()));
    key.push_back(t.dim());
    for (int64_t s : t.sizes()) key.push_back(s);
  }
  return key;
}

/// Whether `a` and `b` hold the same values (NaN where the other has NaN counts as equal).
bool same_values(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes() || a.device() != b.device()) return false;
  if (a.numel() == 0) return true;
  if (at::isFloatingType(a.scalar_type()) || at::isComplexType(a.scalar_type()))
    return at::logical_or(at::eq(a, b), at::logical_and(at::isnan(a), at::isnan(b))).all().item<bool>();
  return at::equal(a, b);
}

class GraphCache final : public CudaGraphRunner {
 public:
  GraphCache(const Device& device, EagerRunner eager, size_t capacity)
      : device_index_(static_cast<c10::DeviceIndex>(device.index)),
        eager_(std::move(eager)),
        capacity_(std::max<size_t>(1, capacity)) {
    state_.enabled = true;
  }

  ~GraphCache() override {
    // A replay may still be running on the caller's stream; its graph and pool go now,
    // then the streams they were captured on.
    try {
      if (!entries_.empty()) current_stream().synchronize();
    } catch (const std::exception&) {
      // The device failed; nothing is left to wait for.
    }
    entries_.clear();
    for (cudaStream_t stream : streams_) (void)cudaStreamDestroy(stream);
  }

  const CudaGraphState& state() const override { return state_; }

  void note_eager_run() override {
    ++state_.eager_runs;
    pending_key_.clear();
  }

  Status run(std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) override {
    ShapeKey key = shape_key(inputs);
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
    if (it != entries_.end()) {
      entries_.splice(entries_.begin(), entries_, it);  // most recently used first
      if (it->graph) return replay(*it, inputs, outputs);
      return eager_run(inputs, outputs);  // refused
    }
    if (pending_key_ != key) return warm_up(std::move(key), inputs, outputs);
    return capture(std::move(key), inputs, outputs);
  }

 private:
  /// One input-shape set: a checked graph with its static buffers, or the refusal.
  struct Entry {
    ShapeKey key;
    cudaStream_t stream = nullptr;               ///< warmed up and captured on (owned by streams_)
    std::unique_ptr<at::cuda::CUDAGraph> graph;  ///< null when refused
    std::vector<at::Tensor> static_inputs, static_outputs;
    std::vector<at::Tensor> kept;  ///< executor-owned device tensors the graph reads
  };

  c10::cuda::CUDAStream current_stream() const { return c10::cuda::getCurrentCUDAStream(device_index_); }

  /// A capture stream no graph uses: an idle one, else a new one.
  cudaStream_t take_stream() {
    if (!idle_streams_.empty()) {
      cudaStream_t stream = idle_streams_.back();
      idle_streams_.pop_back();
      return stream;
    }
    cudaStream_t stream = nullptr;
    C10_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    streams_.push_back(stream);
    return stream;
  }
  void give_back(cudaStream_t stream) {
    if (stream != nullptr) idle_streams_.push_back(stream);
  }
  c10::cuda::CUDAStream wrap(cudaStream_t stream) const { return c10::cuda::getStreamFromExternal(stream, device_index_); }

  /// Drops an entry: its graph first (which frees the stream's cuBLAS workspaces), then
  /// its stream goes back to the free list.
  void drop(Entry& entry) {
    entry.graph.reset();
    entry.static_inputs.clear();
    entry.static_outputs.clear();
    entry.kept.clear();
    give_back(entry.stream);
    entry.stream = nullptr;
  }

  Status eager_run(std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) {
    note_eager_run();  // the executor's caches now hold this run's values
    return eager_.run(inputs, outputs);
  }

  Status warm_up(ShapeKey key, std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) {
    pending_inputs_.clear();
    pending_outputs_.clear();
    Status st;
    try {
      if (pending_stream_ == nullptr) pending_stream_ = take_stream();
      const c10::cuda::CUDAStream side = wrap(pending_stream_);
      // The caller's stream wrote the inputs; the capture stream must see them, and the
      // caller must see the outputs: a host wait on each side, once per shape set.
      current_stream().synchronize();
      {
        c10::cuda::CUDAStreamGuard guard(side);
        st = eager_run(inputs, outputs);
        side.synchronize();
      }
      if (!st.is_ok()) return st;
      const std::string reader = eager_.first_host_read();
      if (!reader.empty()) {
        refuse(std::move(key), reader + " reads device data on the host");
        return st;
      }
      for (const at::Tensor& t : inputs) pending_inputs_.push_back(t.clone());
      for (const at::Tensor& t : *outputs) pending_outputs_.push_back(t.clone());
    } catch (const std::exception& e) {
      return status_from_exception(e).with_context("cuda graph warm-up");
    }
    pending_key_ = std::move(key);
    return st;
  }

  Status capture(ShapeKey key, std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) {
    Entry entry;
    entry.key = key;
    entry.stream = pending_stream_;
    pending_stream_ = nullptr;
    std::string why = try_capture(entry);
    pending_key_.clear();
    pending_inputs_.clear();
    pending_outputs_.clear();
    if (!why.empty()) {
      drop(entry);  // the graph and its pool go before the eager run allocates
      (void)cudaGetLastError();  // a failed capture may leave a (non-sticky) error behind
      refuse(std::move(key), why);
      return eager_run(inputs, outputs);
    }
    ++state_.captured;
    insert(std::move(entry));
    return replay(entries_.front(), inputs, outputs);
  }

  /// Captures and checks a graph of the pending warm-up's run into `entry`; "" on success,
  /// else why not. The capture is always ended, whatever fails inside it.
  std::string try_capture(Entry& entry) {
    try {
      for (const at::Tensor& t : pending_inputs_) entry.static_inputs.push_back(t.clone(at::MemoryFormat::Contiguous));
      current_stream().synchronize();
      auto graph = std::make_unique<at::cuda::CUDAGraph>();
      Status ran;
      std::string end_error;
      {
        c10::cuda::CUDAStreamGuard guard(wrap(entry.stream));
        graph->capture_begin();
        try {
          ran = eager_.capture(entry.static_inputs, &entry.static_outputs);
        } catch (const std::exception& e) {
          ran = status_from_exception(e);
        }
        try {
          graph->capture_end();
        } catch (const std::exception& e) {
          end_error = status_from_exception(e).message();
        }
      }
      if (!ran.is_ok()) return "capture failed: " + ran.message();
      const std::string reader = eager_.first_host_read();
      if (!reader.empty()) return reader + " reads device data on the host";
      if (!end_error.empty()) return "capture failed: " + end_error;
      entry.kept = eager_.kept_device_tensors();
      entry.graph = std::move(graph);
      // Nothing ran during the capture: replay on the warm-up's inputs and compare.
      entry.graph->replay();
      for (size_t i = 0; i < entry.static_outputs.size(); ++i)
        if (!same_values(entry.static_outputs[i], pending_outputs_[i]))
          return "the replayed graph's output " + std::to_string(i) + " differs from the eager run's";
    } catch (const std::exception& e) {
      return "capture failed: " + status_from_exception(e).message();
    }
    return "";
  }

  Status replay(Entry& entry, std::span<const at::Tensor> inputs, std::vector<at::Tensor>* outputs) {
    try {
      for (size_t i = 0; i < inputs.size(); ++i)
        if (!inputs[i].is_same(entry.static_inputs[i])) entry.static_inputs[i].copy_(inputs[i]);
      entry.graph->replay();
    } catch (const std::exception& e) {
      return status_from_exception(e).with_context("cuda graph replay");
    }
    *outputs = entry.static_outputs;
    ++state_.replays;
    return Status::ok();
  }

  void refuse(ShapeKey key, const std::string& why) {
    give_back(pending_stream_);  // a refused shape set is not captured: no stream
    pending_stream_ = nullptr;
    Entry entry;
    entry.key = std::move(key);
    ++state_.refused;
    state_.fallback_reason = "cuda graph: not used: " + why;
    insert(std::move(entry));
  }

  void insert(Entry entry) {
    entries_.push_front(std::move(entry));
    if (entries_.size() > capacity_) {
      // The evicted graph may be replaying on the caller's stream.
      current_stream().synchronize();
      if (entries_.back().graph) ++state_.evicted;
      drop(entries_.back());
      entries_.pop_back();
    }
    state_.cached = static_cast<int>(std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.graph != nullptr; }));
  }

  c10::DeviceIndex device_index_;
  EagerRunner eager_;
  size_t capacity_;
  std::vector<cudaStream_t> streams_;       ///< every capture stream made (destroyed last)
  std::vector<cudaStream_t> idle_streams_;  ///< those no entry or warm-up holds
  cudaStream_t pending_stream_ = nullptr;   ///< the pending warm-up's (capture needs a non-default stream)
  std::list<Entry> entries_;    ///< most recently used first, at most capacity_
  ShapeKey pending_key_;        ///< the last eager run's shape set, when it was a warm-up
  std::vector<at::Tensor> pending_inputs_, pending_outputs_;  ///< that warm-up's, to check the graph
  CudaGraphState state_;
};

}  // namespace

Result<std::unique_ptr<CudaGraphRunner>> make_cuda_graph_runner(const Device& device, EagerRunner eager,
                                                                size_t capacity) {
  if (!device.is_cuda()) return unsupported("cuda graphs need a CUDA device, not " + device.str());
  try {
    return std::unique_ptr<CudaGraphRunner>(new GraphCache(device, std::move(eager), capacity));
  } catch (const std::exception& e) {
    return status_from_exception(e).with_context("cuda graph");
  }
}

#else

Result<std::unique_ptr<CudaGraphRunner>> make_cuda_graph_runner(const Device& device, EagerRunner, size_t) {
  return unsupported("cuda graphs need a CUDA build of libtorch; this one has none (device " + device.str() + ")");
}

#endif

}  // namespace ak::models
