#pragma once
/// Device peaks: the memory bandwidth and dense compute throughput a roofline measures
/// against, for common GPUs (vendor datasheet figures) and for a CPU described by hand.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"

namespace ak::profiler {

enum class DeviceKind { kGpu, kCpu };

/// Peak rates of one device. Tensor-core rates are dense (sparsity figures halved).
struct DevicePeaks {
  std::string name;
  DeviceKind kind = DeviceKind::kGpu;
  double bandwidth_gbps = 0;  ///< DRAM/HBM bandwidth, GB/s (1e9 bytes/s)
  double fp32_tflops = 0;     ///< non-tensor FP32 (CUDA cores / SIMD), TFLOP/s
  double tf32_tflops = 0;     ///< TF32 tensor cores, dense; 0 when absent
  double fp16_tflops = 0;     ///< FP16 tensor cores, dense (FP32 rate on a CPU without them)
  double bf16_tflops = 0;     ///< BF16 tensor cores, dense
  int64_t launch_overhead_ns = 0;  ///< fixed cost of one kernel launch (or one op on a CPU)
  std::string source;              ///< where the numbers come from
};

/// The built-in table: H100 SXM, H100 PCIe, H200, A100 40GB/80GB, L4, B200.
const std::vector<DevicePeaks>& known_devices();

/// The table entry for a device name as CUDA reports it ("NVIDIA H100 80GB HBM3",
/// "NVIDIA A100-SXM4-40GB", ...), matched case-insensitively by whole-word substrings
/// ("h100" and "pcie"; "l4" does not match "L40S"); nullopt if none.
std::optional<DevicePeaks> find_device_peaks(const std::string& device_name);

/// A CPU entry: `cores` * `ghz` * `fp32_flops_per_cycle` (per core, FMA counted as 2, e.g.
/// 32 for AVX2 with two FMA units) and the measured or datasheet `bandwidth_gbps`.
/// fp16/bf16/tf32 are set to the fp32 rate; launch overhead is ~1 us (one op dispatch).
DevicePeaks cpu_peaks(const std::string& name, int cores, double ghz, double fp32_flops_per_cycle,
                      double bandwidth_gbps);

/// A CPU entry estimated from this machine: every hardware thread, the highest "cpu MHz" in /proc/cpuinfo, 64 flops/cycle with
/// AVX-512F, 32 with AVX2+FMA, else 8; and 20 GB/s of bandwidth. `autokernel device` replaces
/// it with measured figures.
DevicePeaks estimate_cpu_peaks(const std::string& name);

/// Measured peaks are cached per device in `<cache>/device/<slug of name>.json`, where
/// <cache> is $AUTOKERNEL_CACHE or ~/.cache/autokernel.
std::filesystem::path peaks_cache_path(const std::string& device_name);
/// The cached peaks of `device_name`; nullopt when none are cached. A cache file that cannot
/// be parsed is an error naming it.
Result<std::optional<DevicePeaks>> load_cached_peaks(const std::string& device_name);
/// Writes `peaks` to the cache of `peaks.name` (atomically: temp file then rename).
Status save_cached_peaks(const DevicePeaks& peaks);
/// `peaks` as a JSON object (the cache format and the profile report's "peaks").
std::string peaks_to_json(const DevicePeaks& peaks);
Result<DevicePeaks> peaks_from_json(const std::string& text);

/// The peak TFLOP/s that work of `op_class` in `dtype` can reach: tensor-core rates only for
/// "matmul", "conv" and "attention" (TF32 for float32 only with `allow_tf32`); every other
/// class and dtype uses the FP32 rate. Falls back to FP32 where a tensor rate is 0.
double peak_tflops(const DevicePeaks& peaks, const char* op_class, models::DType dtype, bool allow_tf32 = false);

}  // namespace ak::profiler
