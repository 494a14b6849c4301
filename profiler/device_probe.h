#pragma once
/// Measuring a device's peaks (what `autokernel device` runs): achieved memory bandwidth
/// (a large device-to-device copy), dense matmul throughput in fp32, tf32, fp16 and bf16
/// (square GEMMs through ATen, i.e. cuBLAS on a GPU), and the cost of one kernel launch
/// (or one small op on a CPU). The result is what this device really reaches, which the
/// roofline then measures against instead of datasheet figures.

#include <functional>
#include <string>

#include "base/status.h"
#include "models/session.h"
#include "profiler/device_peaks.h"

namespace ak::profiler {

struct ProbeOptions {
  bool quick = false;  ///< smaller sizes and fewer repetitions (~1 s instead of ~10 s)
  /// Called before each measurement with its name ("bandwidth", "fp32 matmul", ...).
  std::function<void(const std::string&)> progress;
};

/// Measures `device`. The returned peaks are named after the device (models::device_name)
/// and say "measured" in `source`.
Result<DevicePeaks> measure_device_peaks(const models::Device& device, const ProbeOptions& options);

/// The measured peaks of `device`: cached measurements when present, else measured now
/// (quick) and cached, on a CPU as on a GPU, as `autokernel device` does. For decisions
/// that must not rest on datasheet figures or estimates (the judge's roofline floor).
/// `note` receives one line saying which.
Result<DevicePeaks> measured_peaks_for_device(const models::Device& device, std::string* note);

/// The peaks a roofline on `device` should use: cached measurements when present, else the
/// datasheet table (a GPU) or an estimate from /proc/cpuinfo (a CPU); an unknown GPU with no
/// cache is measured now (quick) and cached. `note` receives one line saying which.
Result<DevicePeaks> peaks_for_device(const models::Device& device, std::string* note);

}  // namespace ak::profiler
