// The worker process: loads one untrusted candidate kernel, calls it on the judge's
// inputs and reports what it did. Everything here assumes the candidate may crash, hang,
// scribble or lie; the judge runs this in a child process with limits.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "kernels/kernel_library.h"
#include "kernels/tensor.h"
#include "models/aten_interop.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "verifier/gate_inputs.h"
#include "verifier/worker_job.h"

#ifdef AK_WITH_CUDA
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace ak::verifier {
namespace {

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
  explicit Device(const std::string& spec) {
    auto parsed = models::Device::parse(spec);
    if (parsed.is_ok()) device_ = *parsed;
    at_device_ = device_.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_.index)) : at::Device(at::kCPU);
#ifdef AK_WITH_CUDA
    if (device_.is_cuda()) {
      cudaSetDevice(device_.index);
      // A stream of our own, made ATen's current stream so the reference runs on it too:
      // the kernel gets it and must launch on it.
      cudaStream_t stream = nullptr;
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      stream_ = stream;
      c10::cuda::setCurrentCUDAStream(c10::cuda::getStreamFromExternal(stream, static_cast<c10::DeviceIndex>(device_.index)));
      cudaEventCreate(&start_);
      cudaEventCreate(&stop_);
    }
#endif
  }

  bool is_cuda() const { return device_.is_cuda(); }
  const at::Device& at_device() const { return at_device_; }
  void* stream() const { return stream_; }
#ifdef AK_WITH_CUDA
  cudaStream_t cuda_stream() const { return static_cast<cudaStream_t>(stream_); }
#endif

  /// Waits for the kernel's stream; returns the CUDA error text if the kernel left one.
  std::string sync() {
#ifdef AK_WITH_CUDA
    if (device_.is_cuda()) {
      cudaError_t e = cudaStreamSynchronize(cuda_stream());
      if (e == cudaSuccess) e = cudaGetLastError();
      if (e != cudaSuccess) return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    }
#endif
    return {};
  }

  /// Times `body` on the device (CUDA events) or the host clock, in ns.
  template <typename F>
  int64_t time_ns(F&& body) {
#ifdef AK_WITH_CUDA
    if (device_.is_cuda()) {
      // A ~100 us spin kernel first: while the GPU spins, the host enqueues `body`, so the
      // events measure device execution, not how fast the host issues launches (the
      // reference's runtime dispatch would otherwise count against it on small tasks).
      at::cuda::sleep(kSpinCycles);
      cudaEventRecord(start_, cuda_stream());
      body();
      cudaEventRecord(stop_, cuda_stream());
      cudaEventSynchronize(stop_);
      float ms = 0;
      cudaEventElapsedTime(&ms, start_, stop_);
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
    cudaError_t e = cudaStreamBeginCapture(cuda_stream(), cudaStreamCaptureModeRelaxed);
    if (e != cudaSuccess) return std::string("cannot begin capture: ") + cudaGetErrorString(e);
    const int status = body();
    e = cudaStreamEndCapture(cuda_stream(), &graph);
    if (e != cudaSuccess || graph == nullptr) {
      (void)cudaGetLastError();
      return std::string("the kernel cannot be captured on the stream it was given (") + cudaGetErrorString(e) +
             "): it synchronized or used another stream";
    }
    size_t nodes = 0;
    cudaGraphGetNodes(graph, nullptr, &nodes);
    cudaGraphDestroy(graph);
    if (status != 0) return "the kernel returned " + std::to_string(status) + " while its stream was being captured";
    if (nodes == 0) {
      // Nothing on our stream: either the kernel did nothing at all (the output checks say
      // so) or it worked on another stream. Wait for everything and look at the outputs.
      cudaDeviceSynchronize();
      if (!outputs_written()) return {};
      return "the kernel launched its work on another stream than the one it was given (not ordered with the caller's)";
    }
    const std::string err = sync();
    if (!err.empty()) return err;
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
      if (cudaMemGetInfo(&free_bytes, &total) == cudaSuccess) return static_cast<int64_t>(total - free_bytes);
    }
#endif
    return 0;
  }

 private:
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

Status save(const at::Tensor& t, const std::string& name, models::DType dtype, const std::filesystem::path& path) {
  return models::save_tensor_file(models::to_tensor_data(t.cpu(), name, dtype), path);
}

/// Runs the gate cases; writes outputs next to the job.
Status run_cases(const WorkerJob& job, Device& device, kernels::KernelLibrary& library, WorkerResult* result,
                 std::ofstream& progress) {
  const std::vector<ak_tensor> none;
  for (size_t c = 0; c < job.cases.size(); ++c) {
    const WorkerCase& wc = job.cases[c];
    progress << "case " << c << std::endl;
    CaseResult cr;
    AK_ASSIGN_OR_RETURN(CaseBuffers buffers, load_case(wc, device.at_device()));
    auto& [host_inputs, inputs, in_desc, outputs, out_desc] = buffers;
    const std::vector<ak_tensor> given_desc = out_desc;
    const int64_t used_before = device.used_bytes();
    for (int rep = 0; rep < wc.repeats; ++rep) {
      for (OutputBuffer& b : outputs) b.poison();
      device.sync();
      const int status = library.call(in_desc, out_desc, device.stream());
      cr.error = device.sync();
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
      std::vector<std::filesystem::path> files;
      for (size_t o = 0; o < outputs.size(); ++o) {
        if (!outputs[o].guard_intact() && cr.overrun_output.empty()) cr.overrun_output = "output " + std::to_string(o);
        const auto path = job.dir / ("case" + std::to_string(c) + "_rep" + std::to_string(rep) + "_out" + std::to_string(o) + ".pb");
        AK_RETURN_IF_ERROR(save(outputs[o].view, "out" + std::to_string(o), outputs[o].dtype, path));
        files.push_back(path);
      }
      cr.outputs.push_back(std::move(files));
    }
    for (size_t i = 0; i < inputs.size() && cr.error.empty(); ++i) {
      const models::TensorData after = models::to_tensor_data(inputs[i].cpu(), host_inputs[i].name, host_inputs[i].dtype);
      if (checksum(after) != checksum(host_inputs[i])) {
        cr.mutated_input = host_inputs[i].name.empty() ? "input " + std::to_string(i) : host_inputs[i].name;
        break;
      }
    }
    // Device memory still held after the calls beyond a generous workspace allowance.
    const int64_t grown = device.used_bytes() - used_before;
    if (cr.error.empty() && grown > (int64_t{4} << 30))
      cr.error = "the kernel kept " + std::to_string(grown >> 20) + " MiB of device memory allocated";
    const bool last = c + 1 == job.cases.size();
    const bool failed_case = cr.kernel_status != 0 || !cr.error.empty();
    result->cases.push_back(std::move(cr));
    if (failed_case) return Status::ok();
    if (last && job.check_stream) {
      progress << "stream" << std::endl;
      for (OutputBuffer& b : outputs) b.poison();
      device.sync();
      result->stream_error = device.capture_check(
          [&] { return library.call(in_desc, out_desc, device.stream()); },
          [&] { return std::any_of(outputs.begin(), outputs.end(), [](const OutputBuffer& b) { return b.written(); }); });
    }
  }
  return Status::ok();
}

void refill(at::Tensor& t, const std::string& fill, int64_t bound) {
  if (fill == "captured") return;  // shape-derived values: only the captured ones are valid
  if (fill == "ones") t.fill_(1);
  else if (fill == "bool") t.random_(0, 2);
  else if (fill == "int" || !at::isFloatingType(t.scalar_type())) t.random_(0, std::max<int64_t>(bound, 2));
  else t.normal_();
}

/// The timed phase: the candidate and the reference, interleaved, each on fresh inputs and
/// behind an L2 flush.
Status run_bench(const WorkerJob& job, Device& device, kernels::KernelLibrary& library, WorkerResult* result,
                 std::ofstream& progress) {
  const WorkerBench& b = *job.bench;
  progress << "bench" << std::endl;
  BenchResult br;
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
  int status = 0;
  auto candidate = [&] { status = library.call(in_desc, out_desc, device.stream()); };
  auto reference = [&] { (void)session->run_device(inputs, &reference_outputs); };
  const auto started = std::chrono::steady_clock::now();
  int warmup = b.warmup;
  for (int i = 0; i < warmup + b.iters && status == 0; ++i) {
    // Fresh inputs and NaN outputs every iteration, outside the timed region.
    for (size_t k = 0; k < inputs.size(); ++k)
      refill(inputs[k], k < b.fills.size() ? b.fills[k] : "normal", k < b.int_bounds.size() ? b.int_bounds[k] : 0);
    for (OutputBuffer& o : outputs) o.poison();
    int64_t cand_ns = 0, ref_ns = 0;
    // Alternate which side goes first, so neither always follows the other's cache state.
    for (int side = 0; side < 2; ++side) {
      if (flush.defined()) flush.zero_();
      const bool cand_now = (side == 0) == (i % 2 == 0);
      if (cand_now) cand_ns = device.time_ns(candidate);
      else ref_ns = device.time_ns(reference);
    }
    br.error = device.sync();
    if (!br.error.empty()) break;
    if (i >= warmup) {
      br.candidate_ns.push_back(cand_ns);
      br.reference_ns.push_back(ref_ns);
    }
    if (b.time_budget_s > 0) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const double per_iteration = elapsed / (i + 1);
      if (i < warmup) {
        // Leave room for the fewest timed iterations: end the warm-up here if needed.
        if (elapsed + per_iteration * kMinTimedIterations > b.time_budget_s) warmup = i + 1;
      } else if (static_cast<int>(br.candidate_ns.size()) >= kMinTimedIterations &&
                 elapsed + per_iteration > b.time_budget_s) {
        break;
      }
    }
  }
  br.kernel_status = status;
  if (status == 0 && br.error.empty()) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      const auto path = job.dir / ("bench_in" + std::to_string(k) + ".pb");
      AK_RETURN_IF_ERROR(save(inputs[k], k < b.input_names.size() ? b.input_names[k] : "", host_inputs[k].dtype, path));
      br.last_inputs.push_back(path);
    }
    for (size_t o = 0; o < outputs.size(); ++o) {
      const auto path = job.dir / ("bench_out" + std::to_string(o) + ".pb");
      AK_RETURN_IF_ERROR(save(outputs[o].view, "out" + std::to_string(o), outputs[o].dtype, path));
      br.last_outputs.push_back(path);
    }
  }
  result->bench = std::move(br);
  return Status::ok();
}

}  // namespace

int run_worker(const std::filesystem::path& job_path) {
  auto job = read_job(job_path);
  if (!job.is_ok()) {
    std::cerr << "worker: " << job.status().message() << std::endl;
    return 2;
  }
  std::ofstream progress(job->dir / kProgressFile);
  WorkerResult result;
  Status st;
  try {
    if (job->threads > 0) at::set_num_threads(job->threads);
    Device device(job->device);
    auto library = kernels::KernelLibrary::load(job->library);
    if (!library.is_ok()) {
      std::cerr << "worker: " << library.status().message() << std::endl;
      return 3;
    }
    st = run_cases(*job, device, *library, &result, progress);
    const bool cases_ok = st.is_ok() && !result.cases.empty() && result.stream_error.empty() &&
                          std::all_of(result.cases.begin(), result.cases.end(), [](const CaseResult& c) {
                            return c.kernel_status == 0 && c.error.empty();
                          });
    if (st.is_ok() && cases_ok && job->bench) st = run_bench(*job, device, *library, &result, progress);
  } catch (const std::exception& e) {
    std::string what = e.what();
    st = failed(what.substr(0, what.find('\n')));
  }
  if (!st.is_ok()) {
    std::cerr << "worker: " << st.message() << std::endl;
    return 4;
  }
  Status written = write_result(result, job->dir / "result.json");
  if (!written.is_ok()) {
    std::cerr << "worker: " << written.message() << std::endl;
    return 5;
  }
  progress << "done" << std::endl;
  return 0;
}

}  // namespace ak::verifier
