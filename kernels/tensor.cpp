#include "kernels/tensor.h"

#include <string>

namespace ak::kernels {

std::string dtype_name(int32_t dtype) {
  switch (dtype) {
    case AK_DTYPE_UNDEFINED: return "undefined";
    case AK_DTYPE_FLOAT: return "float32";
    case AK_DTYPE_UINT8: return "uint8";
    case AK_DTYPE_INT8: return "int8";
    case AK_DTYPE_UINT16: return "uint16";
    case AK_DTYPE_INT16: return "int16";
    case AK_DTYPE_INT32: return "int32";
    case AK_DTYPE_INT64: return "int64";
    case AK_DTYPE_STRING: return "string";
    case AK_DTYPE_BOOL: return "bool";
    case AK_DTYPE_FLOAT16: return "float16";
    case AK_DTYPE_DOUBLE: return "float64";
    case AK_DTYPE_UINT32: return "uint32";
    case AK_DTYPE_UINT64: return "uint64";
    case AK_DTYPE_COMPLEX64: return "complex64";
    case AK_DTYPE_COMPLEX128: return "complex128";
    case AK_DTYPE_BFLOAT16: return "bfloat16";
    default: return "dtype(" + std::to_string(dtype) + ")";
  }
}

int64_t dtype_size_bytes(int32_t dtype) {
  switch (dtype) {
    case AK_DTYPE_UINT8:
    case AK_DTYPE_INT8:
    case AK_DTYPE_BOOL: return 1;
    case AK_DTYPE_UINT16:
    case AK_DTYPE_INT16:
    case AK_DTYPE_FLOAT16:
    case AK_DTYPE_BFLOAT16: return 2;
    case AK_DTYPE_FLOAT:
    case AK_DTYPE_INT32:
    case AK_DTYPE_UINT32: return 4;
    case AK_DTYPE_INT64:
    case AK_DTYPE_DOUBLE:
    case AK_DTYPE_UINT64:
    case AK_DTYPE_COMPLEX64: return 8;
    case AK_DTYPE_COMPLEX128: return 16;
    default: return 0;
  }
}

Result<ak_tensor> make_tensor(void* data, int32_t dtype, std::span<const int64_t> shape,
                              std::span<const int64_t> strides) {
  if (shape.size() > AK_MAX_RANK)
    return invalid_input("tensor of rank " + std::to_string(shape.size()) + " exceeds AK_MAX_RANK (" +
                         std::to_string(AK_MAX_RANK) + ")");
  if (!strides.empty() && strides.size() != shape.size())
    return invalid_input("tensor of rank " + std::to_string(shape.size()) + " given " +
                         std::to_string(strides.size()) + " strides");
  if (dtype_size_bytes(dtype) == 0 && dtype != AK_DTYPE_STRING)
    return invalid_input("unknown tensor dtype " + dtype_name(dtype));
  ak_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) return invalid_input("tensor dimension " + std::to_string(i) + " is negative");
    t.shape[i] = shape[i];
  }
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    t.strides[i] = strides.empty() ? stride : strides[i];
    stride *= shape[i];
  }
  return t;
}

int64_t element_count(const ak_tensor& tensor) {
  int64_t count = 1;
  for (int32_t i = 0; i < tensor.rank; ++i) count *= tensor.shape[i];
  return count;
}

bool is_contiguous(const ak_tensor& tensor) {
  if (element_count(tensor) == 0) return true;
  int64_t expected = 1;
  for (int32_t i = tensor.rank; i-- > 0;) {
    if (tensor.shape[i] == 1) continue;
    if (tensor.strides[i] != expected) return false;
    expected *= tensor.shape[i];
  }
  return true;
}

std::string describe(const ak_tensor& tensor) {
  std::string shape, strides;
  for (int32_t i = 0; i < tensor.rank; ++i) {
    shape += (i ? "x" : "") + std::to_string(tensor.shape[i]);
    strides += (i ? "," : "") + std::to_string(tensor.strides[i]);
  }
  return dtype_name(tensor.dtype) + "[" + shape + "] strides [" + strides + "]";
}

}  // namespace ak::kernels
