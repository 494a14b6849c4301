#pragma once
/// Private to profiler/cupti_tracer.cpp: the CUPTI headers, the activity record structs
/// chosen by CUDA version, and AK_CUPTI_CHECK. Everything else uses timing_source.h.

#include <cuda.h>
#include <cupti.h>

#include <string>

#include "base/status.h"

namespace ak::profiler::cupti {

// CUPTI versions its packed activity structs; the enabled kind's record layout must match
// the toolkit the code runs against. One place picks them.
#if CUDA_VERSION >= 13000
using KernelActivity = CUpti_ActivityKernel10;
using MemcpyActivity = CUpti_ActivityMemcpy6;
using MemsetActivity = CUpti_ActivityMemset4;
#else
// CUDA 12.x layouts (not built on our machines, which carry CUDA 13).
using KernelActivity = CUpti_ActivityKernel9;
using MemcpyActivity = CUpti_ActivityMemcpy5;
using MemsetActivity = CUpti_ActivityMemset4;
#endif
using ApiActivity = CUpti_ActivityAPI;
using ExternalCorrelationActivity = CUpti_ActivityExternalCorrelation;

/// "CUPTI_ERROR_NO_DRIVER"-style name of `result`.
inline std::string result_name(CUptiResult result) {
  const char* text = nullptr;
  if (cuptiGetResultString(result, &text) != CUPTI_SUCCESS || text == nullptr) {
    return "CUPTI error " + std::to_string(static_cast<int>(result));
  }
  return text;
}

/// One line naming the call, CUPTI's reason and where it was made.
inline Status cupti_error(const char* call, CUptiResult result, const char* file, int line) {
  return failed(std::string(call) + " failed: " + result_name(result) + " (" + file + ":" +
                std::to_string(line) + ")");
}

}  // namespace ak::profiler::cupti

/// Returns a failed Status from the enclosing function when a CUPTI call fails, keeping
/// the call's text, file and line.
#define AK_CUPTI_CHECK(call)                                                         \
  do {                                                                               \
    CUptiResult ak_cupti_result_ = (call);                                           \
    if (ak_cupti_result_ != CUPTI_SUCCESS) {                                         \
      return ::ak::profiler::cupti::cupti_error(#call, ak_cupti_result_, __FILE__, __LINE__); \
    }                                                                                \
  } while (0)
