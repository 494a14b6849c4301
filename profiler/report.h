#pragma once
/// Reports of a profile: the terminal table, the versioned JSON report (schema documented
/// in docs/profiler.md) and a Chrome trace that opens in Perfetto.

#include <cstdint>
#include <string>

#include "models/graph.h"
#include "profiler/hotspots.h"
#include "profiler/profile.h"

namespace ak::profiler {

/// The JSON report's schema id; bumped when a field changes meaning or disappears.
inline constexpr const char* kProfileSchema = "autokernel.profile/1";

/// What every report is made from. Pointers are borrowed.
struct ReportInput {
  std::string model_path;
  std::string device;       ///< "cuda", "cpu"
  std::string device_name;  ///< "NVIDIA H200", the CPU's model name
  const models::Graph* graph = nullptr;  ///< the executed graph
  const Profile* profile = nullptr;
  const Analysis* analysis = nullptr;
};

/// The hotspot table (the `top` best rows), the per-op-type summary and the timing and
/// attribution lines, as printed by `autokernel profile`.
std::string format_profile_table(const ReportInput& input, int top);

/// The JSON report (pretty-printed). Every node is listed; hotspots are all ranked units.
std::string profile_json(const ReportInput& input);

/// Chrome trace JSON of the last profiled iteration: node spans on a host track, CUDA API
/// calls on a second host track, kernels and memcpys on one GPU track per stream, flow
/// arrows from each launch to its kernel; args carry shapes and dtypes.
std::string chrome_trace_json(const ReportInput& input);

}  // namespace ak::profiler
