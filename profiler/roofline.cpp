#include "profiler/roofline.h"

#include <algorithm>

namespace ak::profiler {

const char* bound_name(Bound bound) {
  switch (bound) {
    case Bound::kMemory: return "memory";
    case Bound::kCompute: return "compute";
    case Bound::kLatency: return "latency";
  }
  return "memory";
}

RooflinePoint roofline(const NodeCost& cost, int64_t measured_ns, const DevicePeaks& peaks,
                       const RooflineOptions& options) {
  RooflinePoint p;
  p.measured_ns = measured_ns;
  const double tflops = peak_tflops(peaks, cost.op_class, options.compute_dtype, options.allow_tf32);
  // TFLOP/s = 1e3 flops per ns; GB/s = 1 byte per ns.
  p.compute_ns = tflops > 0 ? cost.flops / (tflops * 1e3) : 0;
  p.memory_ns = peaks.bandwidth_gbps > 0 ? cost.bytes / peaks.bandwidth_gbps : 0;
  p.launch_ns = static_cast<double>(std::max(options.kernel_count, 0)) * static_cast<double>(peaks.launch_overhead_ns);
  p.attainable_ns = std::max({p.compute_ns, p.memory_ns, p.launch_ns});
  p.arithmetic_intensity = cost.bytes > 0 ? cost.flops / cost.bytes : 0;

  const double measured = static_cast<double>(measured_ns);
  const bool floor_dominates = p.launch_ns >= p.compute_ns && p.launch_ns >= p.memory_ns;
  if (floor_dominates && measured <= kLatencyFactor * p.launch_ns) p.bound = Bound::kLatency;
  else p.bound = p.compute_ns >= p.memory_ns ? Bound::kCompute : Bound::kMemory;

  if (measured > 0) {
    p.achieved_fraction = p.attainable_ns / measured;
    p.attainable_speedup = p.attainable_ns > 0 ? std::max(1.0, measured / p.attainable_ns) : 1.0;
  }
  return p;
}

}  // namespace ak::profiler
