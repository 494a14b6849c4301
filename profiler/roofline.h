#pragma once
/// Roofline: how fast a node could run on a device given its cost, and what bounds it.
///
///   compute_ns = flops / peak (peak_tflops for the node's op class and dtype)
///   memory_ns  = bytes / bandwidth
///   launch_ns  = kernel_count * launch overhead
///   attainable_ns = max(compute_ns, memory_ns, launch_ns)
///
/// Bound rule: kLatency when the launch floor is the largest of the three terms and the
/// measured time is within kLatencyFactor (2x) of that floor: the time is mostly fixed cost
/// and only fewer launches (fusion, CUDA graphs) help. Otherwise the larger of compute_ns
/// and memory_ns names the bound (kCompute / kMemory): a node that takes much longer than
/// its launch floor is doing its real work inefficiently, and that work's resource is what
/// a better kernel would saturate.

#include <cstdint>

#include "models/graph.h"
#include "profiler/cost_model.h"
#include "profiler/device_peaks.h"

namespace ak::profiler {

enum class Bound { kMemory, kCompute, kLatency };

/// "memory", "compute" or "latency".
const char* bound_name(Bound bound);

/// Measured time within this factor of the launch floor counts as latency-bound.
inline constexpr double kLatencyFactor = 2.0;

/// The roofline of one node (or fused group) on one device.
struct RooflinePoint {
  int64_t measured_ns = 0;
  double compute_ns = 0;    ///< flops at peak throughput
  double memory_ns = 0;     ///< bytes at peak bandwidth
  double launch_ns = 0;     ///< kernel_count launch overheads
  double attainable_ns = 0; ///< max of the three
  double arithmetic_intensity = 0;  ///< flops per byte (0 when no bytes)
  Bound bound = Bound::kMemory;
  double achieved_fraction = 0;   ///< attainable_ns / measured_ns (1 = on the roofline; 0 if unmeasured)
  double attainable_speedup = 1;  ///< max(1, measured_ns / attainable_ns)
};

/// Options of one roofline evaluation.
struct RooflineOptions {
  models::DType compute_dtype = models::DType::kFloat32;  ///< selects the tensor-core peak
  bool allow_tf32 = false;  ///< float32 matmul/conv may use TF32 tensor cores
  int kernel_count = 1;     ///< launches the node needs (a fused group: 1)
};

/// Evaluates `cost` measured at `measured_ns` against `peaks`.
RooflinePoint roofline(const NodeCost& cost, int64_t measured_ns, const DevicePeaks& peaks,
                       const RooflineOptions& options = {});

}  // namespace ak::profiler
