// Device peak measurements through ATen (cuBLAS GEMMs and copies on a GPU).
#include "profiler/device_probe.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace ak::profiler {
namespace {

class Probe {
 public:
  Probe(const models::Device& device, bool quick) : device_(device), quick_(quick) {
    at_device_ = device.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device.index)) : at::Device(at::kCPU);
  }

  /// Median seconds of one call of `body` over `reps` calls, repeated `rounds` times.
  template <typename F>
  double seconds_per_call(F&& body, int reps, int rounds) {
    body();  // warm-up: allocations, cuBLAS handles, kernel selection
    sync();
    std::vector<double> samples;
    for (int r = 0; r < rounds; ++r) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) body();
      sync();
      samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / reps);
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
  }

  double bandwidth_gbps() {
    // Large enough to stream from DRAM/HBM rather than cache: 1 GiB per buffer on a GPU
    // (H100/H200 L2 is 50-60 MB), 256 MiB on a CPU.
    const int64_t bytes = device_.is_cuda() ? (quick_ ? (256LL << 20) : (1LL << 30)) : (quick_ ? (64LL << 20) : (256LL << 20));
    at::Tensor src = at::ones({bytes / 4}, at::TensorOptions().dtype(at::kFloat).device(at_device_));
    at::Tensor dst = at::empty_like(src);
    const double s = seconds_per_call([&] { dst.copy_(src); }, quick_ ? 5 : 20, quick_ ? 3 : 5);
    return 2.0 * static_cast<double>(bytes) / s / 1e9;  // read + write
  }

  double matmul_tflops(at::ScalarType type, bool tf32) {
    const int64_t n = device_.is_cuda() ? (quick_ ? 4096 : 8192) : (quick_ ? 512 : 1024);
    at::Tensor a = at::randn({n, n}, at::TensorOptions().dtype(at::kFloat).device(at_device_)).to(type);
    at::Tensor b = at::randn({n, n}, at::TensorOptions().dtype(at::kFloat).device(at_device_)).to(type);
    at::Tensor c = at::empty({n, n}, a.options());
    auto& context = at::globalContext();
    const bool saved = context.allowTF32CuBLAS();
    context.setAllowTF32CuBLAS(tf32);
    const bool slow = type == at::kFloat && !tf32;
    const double s = seconds_per_call([&] { at::mm_out(c, a, b); }, slow ? 3 : (quick_ ? 5 : 20), quick_ ? 3 : 5);
    context.setAllowTF32CuBLAS(saved);
    return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / s / 1e12;
  }

  int64_t launch_overhead_ns() {
    // Back-to-back tiny kernels: the time per launch is the fixed cost of one launch.
    at::Tensor x = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(at_device_));
    const double s = seconds_per_call([&] { x.add_(1); }, quick_ ? 200 : 2000, 5);
    return static_cast<int64_t>(s * 1e9);
  }

 private:
  void sync() {
    if (device_.is_cuda()) at::detail::getCUDAHooks().deviceSynchronize(static_cast<c10::DeviceIndex>(device_.index));
  }

  models::Device device_;
  at::Device at_device_ = at::Device(at::kCPU);
  bool quick_;
};

}  // namespace

Result<DevicePeaks> measure_device_peaks(const models::Device& device, const ProbeOptions& options) {
  auto step = [&](const char* what) {
    if (options.progress) options.progress(what);
  };
  try {
    Probe probe(device, options.quick);
    DevicePeaks p;
    p.name = models::device_name(device);
    p.kind = device.is_cuda() ? DeviceKind::kGpu : DeviceKind::kCpu;
    step("bandwidth");
    p.bandwidth_gbps = probe.bandwidth_gbps();
    step("fp32 matmul");
    p.fp32_tflops = probe.matmul_tflops(at::kFloat, false);
    if (device.is_cuda()) {
      step("tf32 matmul");
      p.tf32_tflops = probe.matmul_tflops(at::kFloat, true);
      step("fp16 matmul");
      p.fp16_tflops = probe.matmul_tflops(at::kHalf, false);
      step("bf16 matmul");
      p.bf16_tflops = probe.matmul_tflops(at::kBFloat16, false);
    } else {
      // libtorch's CPU GEMM has no faster low-precision path here: one rate for all.
      p.tf32_tflops = p.fp16_tflops = p.bf16_tflops = p.fp32_tflops;
    }
    step("launch overhead");
    p.launch_overhead_ns = probe.launch_overhead_ns();
    p.source = std::string("measured by autokernel device") + (options.quick ? " --quick" : "") + " (torch " +
               TORCH_VERSION + ")";
    return p;
  } catch (const std::exception& e) {
    std::string what = e.what();
    return failed("measuring " + device.str() + " peaks: " + what.substr(0, what.find('\n')));
  }
}

Result<DevicePeaks> measured_peaks_for_device(const models::Device& device, std::string* note) {
  const std::string name = models::device_name(device);
  AK_ASSIGN_OR_RETURN(std::optional<DevicePeaks> cached, load_cached_peaks(name));
  if (cached) {
    if (note) *note = "measured peaks from " + peaks_cache_path(name).string();
    return *cached;
  }
  AK_ASSIGN_OR_RETURN(DevicePeaks measured, measure_device_peaks(device, {.quick = true, .progress = {}}));
  AK_RETURN_IF_ERROR(save_cached_peaks(measured));
  if (note) *note = "measured the peaks of '" + name + "' quickly and cached them in " + peaks_cache_path(name).string();
  return measured;
}

Result<DevicePeaks> peaks_for_device(const models::Device& device, std::string* note) {
  const std::string name = models::device_name(device);
  AK_ASSIGN_OR_RETURN(std::optional<DevicePeaks> cached, load_cached_peaks(name));
  if (!cached && !device.is_cuda()) {
    if (note) *note = "estimated CPU peaks (run `autokernel device --device cpu` to measure)";
    return estimate_cpu_peaks(name);
  }
  if (!cached) {
    if (auto known = find_device_peaks(name)) {
      if (note) *note = "datasheet peaks of " + known->name + " (run `autokernel device` to measure)";
      return *known;
    }
  }
  // Cached, or an unknown GPU: measured (now, quickly, if nothing is cached).
  return measured_peaks_for_device(device, note);
}

}  // namespace ak::profiler
