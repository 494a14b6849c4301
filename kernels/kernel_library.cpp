// Loading a candidate's shared object and finding its entry point.
#include "kernels/kernel_library.h"

#include <dlfcn.h>

#include <string>
#include <utility>

namespace ak::kernels {
namespace {

std::string last_dl_error() {
  const char* message = ::dlerror();
  return message ? message : "unknown dlopen error";
}

}  // namespace

Result<KernelLibrary> KernelLibrary::load(const std::filesystem::path& library) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(library, ec))
    return invalid_input("kernel library " + library.string() + " not found");
  // RTLD_NOW: an unresolved symbol fails here, not in the middle of a timed call.
  // RTLD_LOCAL: candidates' symbols never satisfy each other's (or our) references.
  // RTLD_NODELETE: dlclose never unmaps the code. A candidate can leave threads behind
  // (OpenMP's pool parks its workers inside libgomp); unmapping it and its dependencies
  // under them crashes the process long after the call returned.
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) return failed("cannot load kernel library " + library.string() + ": " + last_dl_error());
  ::dlerror();
  void* symbol = ::dlsym(handle, "autokernel_kernel");
  if (symbol == nullptr) {
    ::dlclose(handle);
    return failed("kernel library " + library.string() +
                  " has no symbol autokernel_kernel (is it declared extern \"C\", e.g. by including "
                  "autokernel_kernel.h?)");
  }
  return KernelLibrary(library, handle, reinterpret_cast<autokernel_kernel_fn>(symbol));
}

KernelLibrary::KernelLibrary(KernelLibrary&& other) noexcept
    : path_(std::move(other.path_)),
      handle_(std::exchange(other.handle_, nullptr)),
      entry_(std::exchange(other.entry_, nullptr)) {}

KernelLibrary& KernelLibrary::operator=(KernelLibrary&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    handle_ = std::exchange(other.handle_, nullptr);
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

KernelLibrary::~KernelLibrary() { close(); }

void KernelLibrary::close() {
  if (handle_ != nullptr) ::dlclose(handle_);
  handle_ = nullptr;
  entry_ = nullptr;
}

int KernelLibrary::call(std::span<const ak_tensor> inputs, std::span<ak_tensor> outputs, void* stream) const {
  return entry_(inputs.data(), static_cast<int32_t>(inputs.size()), outputs.data(),
                static_cast<int32_t>(outputs.size()), stream);
}

}  // namespace ak::kernels
