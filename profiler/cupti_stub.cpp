// Built instead of cupti_tracer.cpp when CMake finds no CUPTI: callers get a Status and
// fall back to host timing, and never need an #ifdef of their own.

#include "profiler/timing_source.h"

namespace ak::profiler {

Result<std::unique_ptr<TimingSource>> make_cupti_timing_source(CuptiRecords) {
  return unsupported("CUPTI not available in this build");
}

}  // namespace ak::profiler
