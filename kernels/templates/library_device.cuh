// kernels/templates/library_device.cuh: the per-device state of the templates that call a
// CUDA library (cuBLASLt, cuDNN): its handle and a fixed workspace.
#pragma once

#include <cuda_runtime.h>
#include <mutex>

#include "common.h"

namespace {

template <typename Handle>
struct LibraryDevice {
  Handle handle = nullptr;
  void* workspace = nullptr;
};

// The current device's handle (made by create(&handle), true on success) and a workspace of
// kWorkspaceBytes, created on the first call and kept for the life of the process: the
// calls after it allocate nothing (make the first call before any CUDA graph capture).
// nullptr when either cannot be had.
template <typename Handle, typename Create>
const LibraryDevice<Handle>* library_for_current_device(size_t workspace_bytes, Create create) {
  constexpr int kMaxDevices = 64;
  static std::mutex mutex;
  static LibraryDevice<Handle> devices[kMaxDevices];
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) return nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  LibraryDevice<Handle>& d = devices[device];
  if (!d.handle) {
    if (cudaMalloc(&d.workspace, workspace_bytes) != cudaSuccess) return nullptr;
    if (!create(&d.handle)) {
      cudaFree(d.workspace);
      d = {};
      return nullptr;
    }
  }
  return &d;
}

}  // namespace
