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

/// The floor is this fraction of max(flops / peak, bytes / bandwidth) at measured peaks.
/// Why not 1: the peaks are what a sustained ATen copy and GEMM reach, not a hard limit. A
/// task's working set of a few MB can be served from cache even after the judge's flush (a
/// CPU's last-level cache can be larger than the 64 MiB flush: 480 MiB on the 2-core CI
/// VM), and the probe runs on a machine that may be busy, which lowers the figure it
/// caches. An honest Add+ReLU kernel (64x4096 float32) ran at 138.5 us against a 157.3 us
/// floor from the estimated 20 GB/s CPU bandwidth; see docs/verifier.md for the numbers
/// behind this value. Cheats the floor is for (no work, outputs cached from an earlier
/// call) run orders of magnitude below it.
inline constexpr double kRooflineFloorMargin = 0.25;

/// kRooflineFloorMargin * max(flops at the peak for `op_class` and `dtype` (TF32 for
/// float32 matmul/conv/attention only with `allow_tf32`), bytes at peak bandwidth), in ns.
/// No launch term: one fused kernel may beat the reference's launch count. 0 when the peaks
/// know neither rate.
double roofline_floor_ns(double flops, double bytes, const char* op_class, models::DType dtype, bool allow_tf32,
                         const DevicePeaks& peaks);

/// The floor of `task` on its target device: its flops and bytes, its op class, the dtype
/// of its first input, its own TF32 setting (target.allow_tf32) and the device's measured
/// peaks (measured_peaks_for_device: measured on first use and cached). `note` receives
/// one line saying where the peaks came from.
Result<double> task_roofline_floor_ns(const kernels::Task& task, std::string* note);

}  // namespace ak::profiler
