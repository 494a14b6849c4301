// The GPU's name through the CUDA runtime, when the build has the CUDA toolkit.
#include <string>

#ifdef AK_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace ak::models {

std::string cuda_device_name(int index) {
#ifdef AK_WITH_CUDA
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) == cudaSuccess) return prop.name;
#else
  (void)index;
#endif
  return "cuda";
}

}  // namespace ak::models
