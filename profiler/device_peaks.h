#pragma once
/// Device peaks: the memory bandwidth and dense compute throughput a roofline measures
/// against, for common GPUs (vendor datasheet figures) and for a CPU described by hand.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

/// The peak TFLOP/s that work of `op_class` in `dtype` can reach: tensor-core rates only for
/// "matmul", "conv" and "attention" (TF32 for float32 only with `allow_tf32`); every other
/// class and dtype uses the FP32 rate. Falls back to FP32 where a tensor rate is 0.
double peak_tflops(const DevicePeaks& peaks, const char* op_class, models::DType dtype, bool allow_tf32 = false);

}  // namespace ak::profiler
