#pragma once
/// The roofline floor of a kernel task: the least time any correct kernel could take on a
/// device, which the judge uses for CHEAT_SUSPECTED (a median below it means the kernel did
/// not do the work: cached outputs, skipped inputs). It must never be above what an honest
/// kernel reaches, so it is built from *measured* peaks (what this device really sustains,
/// as `autokernel device` measures them) and scaled by a safety margin.

#include <string>

#include "base/status.h"
#include "models/graph.h"
#include "profiler/device_peaks.h"

namespace ak::kernels {
struct Task;
}

namespace ak::profiler {

/// The floor is this fraction of the roofline time at measured peaks. Why not 1: the peaks
/// are what a sustained ATen copy and GEMM reached when they were measured, not hard
/// limits, and they are measured once and cached, possibly on a busy machine: on the shared
/// 2-core CI VM two quick probes a minute apart measured 6.4 and 10.2 GB/s, and 62 GFLOP/s
/// of fp32 GEMM against a nominal 333. A kernel must beat those figures four times over to
/// be flagged; the cheats the floor is for (no work, outputs kept from an earlier call) run
/// orders of magnitude below it. docs/verifier.md has the measurements.
inline constexpr double kRooflineFloorMargin = 0.25;

/// kRooflineFloorMargin * max(compute_ns, memory_ns), in ns: compute_ns is `flops` at the
/// peak for `op_class` and `dtype` (TF32 for float32 matmul/conv/attention only with
/// `allow_tf32`), memory_ns is `bytes` at the peak bandwidth. No launch term: one fused
/// kernel may beat the reference's launch count. On a CPU (peaks.kind) there is no memory
/// term: the judge's 64 MiB flush does not evict a last-level cache larger than it (480 MiB
/// on the CI VM), so a task of a few MB runs from cache, above the streaming bandwidth the
/// probe measures (an honest Add+ReLU, 3.1 MB, reached 22.7 GB/s against a measured 6.4).
/// 0 when the peaks know no rate.
double roofline_floor_ns(double flops, double bytes, const char* op_class, models::DType dtype, bool allow_tf32,
                         const DevicePeaks& peaks);

/// The floor of `task` on its target device: its flops and bytes, its op class, the dtype
/// of its first input, its own TF32 setting (target.allow_tf32) and the device's measured
/// peaks (measured_peaks_for_device: measured on first use and cached). `note` receives
/// one line saying where the peaks came from.
Result<double> task_roofline_floor_ns(const kernels::Task& task, std::string* note);

}  // namespace ak::profiler
