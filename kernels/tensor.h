#pragma once
/// Building and describing ak_tensor descriptors (the kernel ABI's tensor view) from C++.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "kernels/autokernel_kernel.h"

namespace ak::kernels {

/// "float32", "float16", "bfloat16", "int64", ... for an AK_DTYPE_* code; "dtype(<code>)" for
/// any other value.
std::string dtype_name(int32_t dtype);

/// Bytes per element of a fixed-size dtype; 0 for STRING, UNDEFINED and unknown codes.
int64_t dtype_size_bytes(int32_t dtype);

/// A descriptor over `data` (not owned). Empty `strides`: contiguous row-major. Fails on a
/// rank above AK_MAX_RANK, a negative size, strides of another rank, or an unknown dtype.
Result<ak_tensor> make_tensor(void* data, int32_t dtype, std::span<const int64_t> shape,
                              std::span<const int64_t> strides = {});

/// Number of elements (the product of the sizes; 1 for rank 0).
int64_t element_count(const ak_tensor& tensor);

/// True when the strides are those of a contiguous row-major tensor (size-1 dims ignored;
/// an empty tensor is contiguous).
bool is_contiguous(const ak_tensor& tensor);

/// "float32[2x3] strides [3,1]", for messages.
std::string describe(const ak_tensor& tensor);

}  // namespace ak::kernels
