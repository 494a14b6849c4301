// The worker process: loads one untrusted candidate kernel, calls it on the judge's
// inputs and reports what it did over the channel (verifier/worker_job.h). Everything
// here assumes the candidate may crash, hang, scribble or lie: the judge re-derives what
// it can (outputs, timing bounds) and treats the rest as a rejection signal only.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "kernels/kernel_library.h"
#include "kernels/tensor.h"
#include "models/aten_interop.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "verifier/channel.h"
#include "verifier/gate_inputs.h"
#include "verifier/sandbox.h"
#include "verifier/worker_job.h"

#ifdef AK_WITH_CUDA
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

/// Every CUDA runtime call of the worker goes through this: a failure throws with the file,
/// the line and the call, and the command that was running reports it (the candidate is
/// the usual cause: a sticky illegal-address error surfaces at the next call).
#define AK_CUDA_CHECK(call)                                                                                       \
  do {                                                                                                            \
    const cudaError_t ak_cuda_error_ = (call);                                                                    \
    if (ak_cuda_error_ != cudaSuccess)                                                                            \
      throw std::runtime_error(std::string(cudaGetErrorName(ak_cuda_error_)) + ": " +                              \
                               cudaGetErrorString(ak_cuda_error_) + " (" #call " at " __FILE__ ":" +              \
                               std::to_string(__LINE__) + ")");                                                   \
  } while (0)
#endif

namespace ak::verifier {
namespace {

using nlohmann::json;

#ifdef AK_WITH_CUDA
/// GPU clock cycles of the spin before each timed call (~100 us at 2 GHz).
constexpr int64_t kSpinCycles = 200000;
#endif

/// Guard bytes after every output: a kernel writing past its output's end changes them.
constexpr int64_t kGuardBytes = 4096;
constexpr uint8_t kGuardByte = 0xA5;

/// The device side of the worker: buffers, the stream the kernel gets, timing.
class Device {
 public:
  /// Fails on a device string it cannot parse (never a silent CPU fallback).
  static Result<std::unique_ptr<Device>> create(const std::string& spec) {
    AK_ASSIGN_OR_RETURN(models::Device parsed, models::Device::parse(spec));
#ifndef AK_WITH_CUDA
    if (parsed.is_cuda()) return invalid_input("worker: device '" + spec + "' but this build has no CUDA");
#endif
    return std::unique_ptr<Device>(new Device(parsed));
  }

  bool is_cuda() const { return device_.is_cuda(); }
  const at::Device& at_device() const { return at_device_; }
  void* stream() const { return stream_; }

  /// Waits for everything on the device, not only the kernel's stream: work a kernel put on
  /// a stream of its own is then finished before outputs are read, and inside the window
  /// the judge times. Throws the CUDA error the kernel left.
  void sync() {
#ifdef AK_WITH_CUDA
    if (device_.is_cuda()) {
      AK_CUDA_CHECK(cudaDeviceSynchronize());
      AK_CUDA_CHECK(cudaGetLastError());
    }
#endif
  }

  /// Times `body` on the device (CUDA events) or the host clock, in ns; then sync().
  template <typename F>
  int64_t time_ns(F&& body) {
#ifdef AK_WITH_CUDA
    if (device_.is_cuda()) {
      // A ~100 us spin kernel first: while the GPU spins, the host enqueues `body`, so the
      // events measure device execution, not how fast the host issues launches (the
      // reference's runtime dispatch would otherwise count against it on small tasks).
      at::cuda::sleep(kSpinCycles);
      AK_CUDA_CHECK(cudaEventRecord(start_, cuda_stream()));
      body();
      AK_CUDA_CHECK(cudaEventRecord(stop_, cuda_stream()));
      AK_CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0;
      AK_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      sync();
      return static_cast<int64_t>(static_cast<double>(ms) * 1e6);
    }
#endif
    const auto t0 = std::chrono::steady_clock::now();
    body();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  }

  /// CUDA: captures one call of `body` on the kernel's stream into a graph and says what
  /// went wrong: capture failed (the kernel synchronized or used an uncapturable call) or
  /// nothing was captured although outputs were expected (work went to another stream).
  template <typename F, typename W>
  std::string capture_check(F&& body, W&& outputs_written) {
#ifdef AK_WITH_CUDA
    if (!device_.is_cuda()) return {};
    cudaGraph_t graph = nullptr;
    AK_CUDA_CHECK(cudaStreamBeginCapture(cuda_stream(), cudaStreamCaptureModeRelaxed));
    const int status = body();
    const cudaError_t e = cudaStreamEndCapture(cuda_stream(), &graph);
    if (e != cudaSuccess || graph == nullptr) {
      (void)cudaGetLastError();  // the capture's error is the finding; clear it
      return std::string("the kernel cannot be captured on the stream it was given (") + cudaGetErrorString(e) +
             "): it synchronized or used another stream";
    }
    size_t nodes = 0;
    AK_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &nodes));
    AK_CUDA_CHECK(cudaGraphDestroy(graph));
    if (status != 0) return "the kernel returned " + std::to_string(status) + " while its stream was being captured";
    if (nodes == 0) {
      // Nothing on our stream: either the kernel did nothing at all (the output checks say
      // so) or it worked on another stream. Wait for everything and look at the outputs.
      sync();
      if (!outputs_written()) return {};
      return "the kernel launched its work on another stream than the one it was given (not ordered with the caller's)";
    }
    sync();
#else
    (void)body;
    (void)outputs_written;
#endif
    return {};
  }

  /// Device memory in use (CUDA), for the runaway-allocation check.
  int64_t used_bytes() const {
#ifdef AK_WITH_CUDA
    if (device_.is_cuda()) {
      size_t free_bytes = 0, total = 0;
      AK_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
      return static_cast<int64_t>(total - free_bytes);
    }
#endif
    return 0;
  }

 private:
  explicit Device(const models::Device& device) : device_(device) {
    at_device_ = device_.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_.index)) : at::Device(at::kCPU);
#ifdef AK_WITH_CUDA
    if (device_.is_cuda()) {
      AK_CUDA_CHECK(cudaSetDevice(device_.index));
      // A stream of our own, made ATen's current stream so the reference runs on it too:
      // the kernel gets it and must launch on it.
      cudaStream_t stream = nullptr;
      AK_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      stream_ = stream;
      c10::cuda::setCurrentCUDAStream(c10::cuda::getStreamFromExternal(stream, static_cast<c10::DeviceIndex>(device_.index)));
      AK_CUDA_CHECK(cudaEventCreate(&start_));
      AK_CUDA_CHECK(cudaEventCreate(&stop_));
    }
#endif
  }
#ifdef AK_WITH_CUDA
  cudaStream_t cuda_stream() const { return static_cast<cudaStream_t>(stream_); }
#endif

  models::Device device_;
  at::Device at_device_ = at::Device(at::kCPU);
  void* stream_ = nullptr;
#ifdef AK_WITH_CUDA
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
#endif
};

/// The kernel's view of `t`: contiguous, `dims`, `dtype` (kernels/tensor.h).
Result<ak_tensor> describe_tensor(const at::Tensor& t, models::DType dtype, const std::vector<int64_t>& dims) {
  return kernels::make_tensor(t.data_ptr(), static_cast<int32_t>(dtype), dims);
}

/// An output buffer with guard bytes behind it; NaN-filled (float) or 0xA5-filled before each call.
struct OutputBuffer {
  at::Tensor storage;  ///< uint8: the output's bytes, then kGuardBytes of guard
  at::Tensor view;     ///< the output as its dtype and shape
  models::DType dtype;
  std::vector<int64_t> dims;
  int64_t bytes = 0;

  void poison() {
    storage.fill_(kGuardByte);
    if (models::is_floating(dtype)) view.fill_(std::numeric_limits<double>::quiet_NaN());
  }
  /// Whether anything changed the output since poison() (NaN floats, 0xA5 bytes otherwise).
  bool written() const {
    if (models::is_floating(dtype)) return !view.isnan().all().item<bool>();
    return !storage.narrow(0, 0, bytes).eq(kGuardByte).all().item<bool>();
  }
  bool guard_intact() const {
    at::Tensor guard = storage.narrow(0, bytes, kGuardBytes).cpu();
    const uint8_t* g = guard.data_ptr<uint8_t>();
    for (int64_t i = 0; i < kGuardBytes; ++i)
      if (g[i] != kGuardByte) return false;
    return true;
  }
};

Result<OutputBuffer> make_output(const OutputShape& shape, const at::Device& device) {
  OutputBuffer b;
  b.dtype = shape.dtype;
  b.dims = shape.dims;
  int64_t numel = 1;
  for (int64_t d : shape.dims) numel *= d;
  b.bytes = numel * static_cast<int64_t>(models::dtype_size(shape.dtype));
  AK_ASSIGN_OR_RETURN(at::ScalarType type, models::to_scalar_type(shape.dtype));
  b.storage = at::empty({b.bytes + kGuardBytes}, at::TensorOptions().dtype(at::kByte).device(device));
  b.view = b.storage.narrow(0, 0, b.bytes).view(type).view(shape.dims);
  return b;
}

/// A case's buffers on the device: inputs from their files, outputs with guard bytes, and
/// the descriptors the kernel gets.
struct CaseBuffers {
  std::vector<models::TensorData> host_inputs;
  std::vector<at::Tensor> inputs;
  std::vector<ak_tensor> in_desc;
  std::vector<OutputBuffer> outputs;
  std::vector<ak_tensor> out_desc;
};

Result<CaseBuffers> load_case(const WorkerCase& wc, const at::Device& device) {
  CaseBuffers c;
  for (const auto& file : wc.inputs) {
    AK_ASSIGN_OR_RETURN(models::TensorData t, models::load_tensor_file(file));
    AK_ASSIGN_OR_RETURN(at::Tensor d, models::to_tensor(t, device));
    AK_ASSIGN_OR_RETURN(ak_tensor desc, describe_tensor(d, t.dtype, t.dims));
    c.in_desc.push_back(desc);
    c.inputs.push_back(std::move(d));
    c.host_inputs.push_back(std::move(t));
  }
  for (const OutputShape& shape : wc.outputs) {
    AK_ASSIGN_OR_RETURN(OutputBuffer b, make_output(shape, device));
    AK_ASSIGN_OR_RETURN(ak_tensor desc, describe_tensor(b.view, b.dtype, b.dims));
    c.out_desc.push_back(desc);
    c.outputs.push_back(std::move(b));
  }
  return c;
}

/// Sends `t`'s bytes (contiguous, host) as one raw frame.
Status send_tensor(Channel& channel, const at::Tensor& t) {
  const at::Tensor host = t.contiguous().cpu();
  return channel.send(std::string_view(static_cast<const char*>(host.data_ptr()), host.nbytes()));
}

Status send_event(Channel& channel, json j) { return channel.send(j.dump()); }

/// Runs the gate cases, streaming each result and its outputs to the judge.
Status run_cases(const WorkerJob& job, Device& device, kernels::KernelLibrary& library, Channel& channel, bool* all_ok) {
  *all_ok = false;
  for (size_t c = 0; c < job.cases.size(); ++c) {
    const WorkerCase& wc = job.cases[c];
    AK_RETURN_IF_ERROR(send_event(channel, {{"event", "case"}, {"index", c}}));
    CaseResult cr;
    AK_ASSIGN_OR_RETURN(CaseBuffers buffers, load_case(wc, device.at_device()));
    auto& [host_inputs, inputs, in_desc, outputs, out_desc] = buffers;
    const std::vector<ak_tensor> given_desc = out_desc;
    const int64_t used_before = device.used_bytes();
    std::vector<at::Tensor> results;  // per repeat, per output (host copies)
    for (int rep = 0; rep < wc.repeats; ++rep) {
      for (OutputBuffer& b : outputs) b.poison();
      device.sync();
      const int status = library.call(in_desc, out_desc, device.stream());
      try {
        device.sync();
      } catch (const std::exception& e) {
        cr.error = e.what();
      }
      // The ABI passes output descriptors non-const: a rewritten one declares what was written.
      for (size_t o = 0; o < out_desc.size() && cr.declared_dtype.empty() && cr.declared_shape.empty(); ++o) {
        const ak_tensor& given = given_desc[o];
        if (out_desc[o].dtype != given.dtype)
          cr.declared_dtype = "output " + std::to_string(o) + " declared as " +
                              models::dtype_name(static_cast<models::DType>(out_desc[o].dtype)) + ", the task wants " +
                              models::dtype_name(outputs[o].dtype);
        if (out_desc[o].rank != given.rank || !std::equal(given.shape, given.shape + given.rank, out_desc[o].shape)) {
          std::vector<int64_t> declared(out_desc[o].shape, out_desc[o].shape + std::clamp(out_desc[o].rank, 0, AK_MAX_RANK));
          cr.declared_shape = "output " + std::to_string(o) + " declared as " + models::shape_string(declared) +
                              ", the task wants " + models::shape_string(outputs[o].dims);
        }
      }
      out_desc = given_desc;
      if (status != 0 && cr.kernel_status == 0) cr.kernel_status = status;
      if (status != 0 || !cr.error.empty()) break;
      for (size_t o = 0; o < outputs.size(); ++o) {
        if (!outputs[o].guard_intact() && cr.overrun_output.empty()) cr.overrun_output = "output " + std::to_string(o);
        results.push_back(outputs[o].view.cpu().clone());  // a copy: the next repeat reuses the buffer
      }
      ++cr.repeats_done;
    }
    for (size_t i = 0; i < inputs.size() && cr.error.empty(); ++i) {
      const models::TensorData after = models::to_tensor_data(inputs[i].cpu(), host_inputs[i].name, host_inputs[i].dtype);
      if (checksum(after) != checksum(host_inputs[i])) {
        cr.mutated_input = host_inputs[i].name.empty() ? "input " + std::to_string(i) : host_inputs[i].name;
        break;
      }
    }
    // Device memory still held after the calls beyond the task's allowance.
    const int64_t grown = device.used_bytes() - used_before;
    if (cr.error.empty() && job.device_memory_limit_bytes > 0 && grown > job.device_memory_limit_bytes)
      cr.error = "the kernel kept " + std::to_string(grown >> 20) + " MiB of device memory allocated (limit " +
                 std::to_string(job.device_memory_limit_bytes >> 20) + " MiB)";
    const bool failed_case = cr.kernel_status != 0 || !cr.error.empty();
    AK_RETURN_IF_ERROR(channel.send(encode_case_result(cr)));
    for (const at::Tensor& t : results) AK_RETURN_IF_ERROR(send_tensor(channel, t));
    if (failed_case) return Status::ok();
    if (c + 1 == job.cases.size() && job.check_stream) {
      AK_RETURN_IF_ERROR(send_event(channel, {{"event", "stream"}}));
      for (OutputBuffer& b : outputs) b.poison();
      device.sync();
      const std::string error = device.capture_check(
          [&] { return library.call(in_desc, out_desc, device.stream()); },
          [&] { return std::any_of(outputs.begin(), outputs.end(), [](const OutputBuffer& b) { return b.written(); }); });
      AK_RETURN_IF_ERROR(send_event(channel, {{"event", "stream_result"}, {"error", error}}));
      if (!error.empty()) return Status::ok();
    }
  }
  *all_ok = true;
  return Status::ok();
}

void refill(at::Tensor& t, const std::string& fill, int64_t bound) {
  if (fill == "captured") return;  // shape-derived values: only the captured ones are valid
  if (fill == "ones") t.fill_(1);
  else if (fill == "bool") t.random_(0, 2);
  else if (fill == "int" || !at::isFloatingType(t.scalar_type())) t.random_(0, std::max<int64_t>(bound, 2));
  else t.normal_();
}

/// The timed phase: serves the judge's commands (worker_job.h) until "exit".
Status serve_bench(const WorkerJob& job, Device& device, kernels::KernelLibrary* library, Channel& channel) {
  const WorkerBench& b = *job.bench;
  AK_ASSIGN_OR_RETURN(models::Model model, models::load_model(b.subgraph));
  models::SessionOptions so;
  AK_ASSIGN_OR_RETURN(so.device, models::Device::parse(job.device));
  so.num_threads = job.threads;
  AK_ASSIGN_OR_RETURN(auto session, models::Session::create(std::make_shared<const models::Model>(std::move(model)), so));
  AK_ASSIGN_OR_RETURN(CaseBuffers buffers, load_case(job.cases.front(), device.at_device()));
  auto& [host_inputs, inputs, in_desc, outputs, out_desc] = buffers;
  at::Tensor flush;
  if (b.l2_flush_bytes > 0) flush = at::empty({b.l2_flush_bytes}, at::TensorOptions().dtype(at::kByte).device(device.at_device()));
  at::manual_seed(b.seed);
  std::vector<at::Tensor> reference_outputs;
  std::vector<at::Tensor> snapshot;  // inputs, then outputs, as the last candidate call left them
  std::vector<at::Tensor> reference_copies;  // the same copies after a reference call (not sent)
  bool candidate_called = false;
  AK_RETURN_IF_ERROR(send_event(channel, {{"event", "bench_ready"}}));
  for (;;) {
    AK_ASSIGN_OR_RETURN(std::string frame, channel.receive());
    const json cmd = json::parse(frame, nullptr, false);
    const std::string what = cmd.is_object() ? cmd.value("cmd", "") : "";
    json reply;
    try {
      if (what == "exit") return Status::ok();
      if (what == "prep") {
        // A new iteration: fresh inputs and NaN outputs (kept across its two calls, so the
        // candidate's outputs survive a reference call after it for "report").
        if (cmd.value("fresh", false)) {
          for (size_t k = 0; k < inputs.size(); ++k)
            refill(inputs[k], k < b.fills.size() ? b.fills[k] : "normal", k < b.int_bounds.size() ? b.int_bounds[k] : 0);
          for (OutputBuffer& o : outputs) o.poison();
        }
        if (flush.defined()) flush.zero_();
        device.sync();
        reply = {{"ready", true}};
      } else if (what == "call") {
        const std::string side = cmd.value("side", "");
        // repeat > 1: that many calls back to back inside one timing (the judge's batched
        // consistency check); the first non-zero status or failure ends the batch.
        const int64_t repeat = cmd.contains("repeat") && cmd["repeat"].is_number_integer() ? cmd["repeat"].get<int64_t>() : 1;
        if (repeat < 1 || repeat > 100000) return invalid_input("worker: repeat " + std::to_string(repeat) + " out of range");
        int status = 0;
        int64_t ns = 0;
        if (side == "candidate" && library != nullptr) {
          ns = device.time_ns([&] {
            for (int64_t r = 0; r < repeat && status == 0; ++r) status = library->call(in_desc, out_desc, device.stream());
          });
        } else if (side == "reference") {
          Status run;
          ns = device.time_ns([&] {
            for (int64_t r = 0; r < repeat && run.is_ok(); ++r) run = session->run_device(inputs, &reference_outputs);
          });
          if (!run.is_ok()) reply["error"] = "reference: " + run.message();
        } else {
          return invalid_input("worker: unknown side '" + side + "'");
        }
        // What the call left, the moment it returned (and the device finished): a kernel
        // that hands its work to a thread of its own and returns early is judged on this,
        // not on what the thread wrote by "report". Taken after either side's call, so
        // both round trips carry the same copy and stay comparable.
        // Into host buffers allocated once per side: an allocation here would cost page
        // faults on one side only (the candidate's copies are kept for "report"), which the
        // judge would see as unreported time of that side.
        std::vector<at::Tensor>& copies = side == "candidate" ? snapshot : reference_copies;
        if (copies.empty()) {
          for (const at::Tensor& t : inputs) copies.push_back(at::empty(t.sizes(), t.options().device(at::kCPU)));
          for (const OutputBuffer& o : outputs) copies.push_back(at::empty(o.view.sizes(), o.view.options().device(at::kCPU)));
        }
        for (size_t k = 0; k < inputs.size(); ++k) copies[k].copy_(inputs[k]);
        for (size_t k = 0; k < outputs.size(); ++k) copies[inputs.size() + k].copy_(outputs[k].view);
        if (side == "candidate") candidate_called = true;
        reply["ns"] = ns;
        reply["status"] = status;
      } else if (what == "report") {
        if (!candidate_called) return invalid_input("worker: report before a candidate call");
        AK_RETURN_IF_ERROR(send_event(channel, {{"inputs", inputs.size()}, {"outputs", outputs.size()}}));
        for (const at::Tensor& t : snapshot) AK_RETURN_IF_ERROR(send_tensor(channel, t));
        continue;
      } else {
        return invalid_input("worker: unknown command '" + frame.substr(0, 80) + "'");
      }
    } catch (const std::exception& e) {
      std::string text = e.what();
      reply["error"] = text.substr(0, text.find('\n'));
    }
    AK_RETURN_IF_ERROR(send_event(channel, reply));
  }
}

Status run_job(Channel& channel) {
  AK_ASSIGN_OR_RETURN(std::string frame, channel.receive());
  AK_ASSIGN_OR_RETURN(WorkerJob job, decode_job(frame));
  if (job.threads > 0) at::set_num_threads(job.threads);
  AK_ASSIGN_OR_RETURN(std::unique_ptr<Device> device, Device::create(job.device));
  // Before the candidate's code runs at all (its static constructors run inside dlopen):
  // no new processes, no network, no writing files, no signals outside the worker.
  const SandboxReport sandbox = restrict_worker(device->is_cuda());
  std::optional<kernels::KernelLibrary> library;
  if (!job.library.empty()) {
    auto loaded = kernels::KernelLibrary::load(job.library);
    if (!loaded.is_ok()) return send_event(channel, {{"event", "load_error"}, {"message", loaded.status().message()}});
    library.emplace(std::move(loaded).value());
  }
  AK_RETURN_IF_ERROR(send_event(channel, {{"event", "loaded"}, {"sandbox", sandbox.note}}));
  bool cases_ok = true;
  if (library) AK_RETURN_IF_ERROR(run_cases(job, *device, *library, channel, &cases_ok));
  AK_RETURN_IF_ERROR(send_event(channel, {{"event", "gates_done"}}));
  if (cases_ok && job.bench) AK_RETURN_IF_ERROR(serve_bench(job, *device, library ? &*library : nullptr, channel));
  return Status::ok();
}

}  // namespace

int run_worker(int fd) {
  Channel channel(fd);
  Status st;
  try {
    st = run_job(channel);
  } catch (const std::exception& e) {
    std::string what = e.what();
    st = failed(what.substr(0, what.find('\n')));
  }
  if (!st.is_ok()) {
    std::cerr << "worker: " << st.message() << std::endl;
    (void)send_event(channel, {{"event", "fatal"}, {"message", st.message()}});
    return 4;
  }
  return 0;
}

}  // namespace ak::verifier
