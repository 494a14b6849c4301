// kernels/templates/library_device.cuh: the per-device state of the templates that call a
// CUDA library (cuBLASLt, cuDNN): its handle and a fixed workspace.
#pragma once

#include <cuda_runtime.h>
#include <cstring>
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

// Prepared calls of a library: the descriptors and the algorithm chosen for one
// configuration (Key: plain data, compared bytewise, so memset it before filling it in).
// Preparing one (the library's heuristic query above all) costs far more host time than the
// call itself at a model's sizes, and recreating the descriptors on every call grows the
// library's own caches, so each configuration is prepared once and kept: a small table,
// slots reused round-robin. Plan has reset(), which destroys its descriptors. Callers hold
// a mutex around find() and the use of the plan.
template <typename Key, typename Plan, int kSlots>
struct PlanTable {
  struct Slot {
    Key key;
    bool ready = false;
    Plan plan;
  };
  Slot slots[kSlots];
  int next = 0;

  // The slot of `key`: prepared (ready) when found, else the next slot, reset and claimed
  // for it (prepare its plan, then set ready).
  Slot* find(const Key& key) {
    for (Slot& slot : slots)
      if (slot.ready && std::memcmp(&slot.key, &key, sizeof key) == 0) return &slot;
    Slot& slot = slots[next];
    next = (next + 1) % kSlots;
    slot.plan.reset();
    slot.ready = false;
    slot.key = key;
    return &slot;
  }
};

}  // namespace
