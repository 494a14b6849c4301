#pragma once
/// Conversions between the host IR (TensorData) and ATen tensors. Includes ATen: only for
/// .cpp files of modules that handle tensor data (models, profiler, verifier, extractor).

#include <ATen/ATen.h>

#include "models/graph.h"

namespace ak::models {

/// The ATen scalar type that holds an ONNX dtype. Unsigned types wider than 8 bits are
/// held in the next wider signed type (libtorch has no uint16/32/64 arithmetic).
Result<at::ScalarType> to_scalar_type(DType dtype);
/// The ONNX dtype of an ATen tensor's scalar type.
DType from_scalar_type(at::ScalarType type);

/// Copies host bytes into a new tensor on `device`.
Result<at::Tensor> to_tensor(const TensorData& data, const at::Device& device);
/// Copies a tensor to the host; `dtype` (if given) is the ONNX dtype to report, which lets
/// an int64 tensor that holds uint32 values come back as uint32.
TensorData to_tensor_data(const at::Tensor& tensor, const std::string& name, DType dtype = DType::kUndefined);

}  // namespace ak::models
