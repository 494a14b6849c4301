#pragma once
/// kernels/kernel_library: a loaded candidate (a shared object from build_kernel) and its
/// autokernel_kernel entry point.
///
/// Loading runs the library's static initializers, so loading a candidate runs untrusted
/// code: autokernel loads candidates only inside the verifier's worker process, never in the
/// main process.

#include <cstdint>
#include <filesystem>
#include <span>
#include <utility>

#include "base/status.h"
#include "kernels/autokernel_kernel.h"

namespace ak::kernels {

/// Owns one dlopen handle, closed on destruction; the code itself stays mapped until the
/// process exits (RTLD_NODELETE), because a candidate may leave threads running in it or in
/// its dependencies (OpenMP's worker pool). Movable, not copyable. Thread-safety: the
/// object is immutable after load; whether the kernel may run concurrently is the kernel's
/// business (the ABI promises one caller at a time).
class KernelLibrary {
 public:
  /// dlopen(RTLD_NOW | RTLD_LOCAL) and dlsym("autokernel_kernel"). Fails with one line naming
  /// the file and the loader's message (an unresolved symbol, a missing dependency), or
  /// saying that the entry point is missing.
  static Result<KernelLibrary> load(const std::filesystem::path& library);

  KernelLibrary(KernelLibrary&& other) noexcept;
  KernelLibrary& operator=(KernelLibrary&& other) noexcept;
  KernelLibrary(const KernelLibrary&) = delete;
  KernelLibrary& operator=(const KernelLibrary&) = delete;
  ~KernelLibrary();

  /// The entry point; valid while this object lives.
  autokernel_kernel_fn entry() const { return entry_; }

  /// Calls the entry point with the inputs, the preallocated outputs and the stream (a
  /// cudaStream_t, or nullptr for CPU kernels); returns the kernel's code, 0 on success.
  int call(std::span<const ak_tensor> inputs, std::span<ak_tensor> outputs, void* stream = nullptr) const;

  /// The file this was loaded from.
  const std::filesystem::path& path() const { return path_; }

 private:
  KernelLibrary(std::filesystem::path path, void* handle, autokernel_kernel_fn entry)
      : path_(std::move(path)), handle_(handle), entry_(entry) {}
  void close();

  std::filesystem::path path_;
  void* handle_ = nullptr;
  autokernel_kernel_fn entry_ = nullptr;
};

}  // namespace ak::kernels
