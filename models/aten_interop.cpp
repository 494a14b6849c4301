#include "models/aten_interop.h"

#include <cstring>

namespace ak::models {

Result<at::ScalarType> to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return at::kFloat;
    case DType::kFloat64: return at::kDouble;
    case DType::kFloat16: return at::kHalf;
    case DType::kBFloat16: return at::kBFloat16;
    case DType::kInt8: return at::kChar;
    case DType::kUInt8: return at::kByte;
    case DType::kInt16: return at::kShort;
    case DType::kInt32: return at::kInt;
    case DType::kInt64: return at::kLong;
    case DType::kBool: return at::kBool;
    case DType::kUInt16: return at::kInt;
    case DType::kUInt32: return at::kLong;
    case DType::kUInt64: return at::kLong;
    case DType::kComplex64: return at::kComplexFloat;
    case DType::kComplex128: return at::kComplexDouble;
    default: return unsupported("dtype " + dtype_name(dtype) + " has no tensor type");
  }
}

DType from_scalar_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return DType::kFloat32;
    case at::kDouble: return DType::kFloat64;
    case at::kHalf: return DType::kFloat16;
    case at::kBFloat16: return DType::kBFloat16;
    case at::kChar: return DType::kInt8;
    case at::kByte: return DType::kUInt8;
    case at::kShort: return DType::kInt16;
    case at::kInt: return DType::kInt32;
    case at::kLong: return DType::kInt64;
    case at::kBool: return DType::kBool;
    case at::kComplexFloat: return DType::kComplex64;
    case at::kComplexDouble: return DType::kComplex128;
    default: return DType::kUndefined;
  }
}

namespace {
/// Widening copy for unsigned types stored in wider signed tensors.
template <typename From, typename To>
void widen(const std::byte* src, int64_t n, To* dst) {
  for (int64_t i = 0; i < n; ++i) {
    From v;
    std::memcpy(&v, src + i * sizeof(From), sizeof(From));
    dst[i] = static_cast<To>(v);
  }
}
}  // namespace

Result<at::Tensor> to_tensor(const TensorData& data, const at::Device& device) {
  AK_ASSIGN_OR_RETURN(at::ScalarType st, to_scalar_type(data.dtype));
  at::Tensor host = at::empty(data.dims, at::TensorOptions().dtype(st));
  const int64_t n = data.numel();
  if (data.bytes.size_bytes != static_cast<size_t>(n) * dtype_size(data.dtype))
    return invalid_input("tensor '" + data.name + "' holds " + std::to_string(data.bytes.size_bytes) +
                         " bytes, expected " + std::to_string(n * dtype_size(data.dtype)));
  switch (data.dtype) {
    case DType::kUInt16: widen<uint16_t>(data.bytes.data, n, host.data_ptr<int32_t>()); break;
    case DType::kUInt32: widen<uint32_t>(data.bytes.data, n, host.data_ptr<int64_t>()); break;
    case DType::kUInt64: widen<uint64_t>(data.bytes.data, n, host.data_ptr<int64_t>()); break;
    default:
      if (n > 0) std::memcpy(host.data_ptr(), data.bytes.data, data.bytes.size_bytes);
  }
  if (device.is_cpu()) return host;
  return host.to(device);
}

TensorData to_tensor_data(const at::Tensor& tensor, const std::string& name, DType dtype) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  TensorData out;
  out.name = name;
  out.dims.assign(t.sizes().begin(), t.sizes().end());
  DType natural = from_scalar_type(t.scalar_type());
  out.dtype = dtype == DType::kUndefined ? natural : dtype;
  if (out.dtype != natural) {
    // Narrow back to the declared ONNX type (uint16/32/64 held in wider signed tensors,
    // or a declared type the op computed in another precision).
    auto st = to_scalar_type(out.dtype);
    if (st && *st != t.scalar_type()) t = t.to(*st);
    const int64_t n = t.numel();
    std::vector<std::byte> bytes(n * dtype_size(out.dtype));
    auto narrow = [&](auto tag) {
      using To = decltype(tag);
      const int64_t* src64 = t.scalar_type() == at::kLong ? t.data_ptr<int64_t>() : nullptr;
      const int32_t* src32 = t.scalar_type() == at::kInt ? t.data_ptr<int32_t>() : nullptr;
      for (int64_t i = 0; i < n; ++i) {
        To v = static_cast<To>(src64 ? src64[i] : src32[i]);
        std::memcpy(bytes.data() + i * sizeof(To), &v, sizeof(To));
      }
    };
    if (out.dtype == DType::kUInt16 && (t.scalar_type() == at::kInt || t.scalar_type() == at::kLong)) narrow(uint16_t{});
    else if (out.dtype == DType::kUInt32 && (t.scalar_type() == at::kInt || t.scalar_type() == at::kLong)) narrow(uint32_t{});
    else if (out.dtype == DType::kUInt64 && (t.scalar_type() == at::kInt || t.scalar_type() == at::kLong)) narrow(uint64_t{});
    else if (st) { std::memcpy(bytes.data(), t.data_ptr(), std::min(bytes.size(), static_cast<size_t>(t.nbytes()))); }
    else out.dtype = natural, bytes.assign(static_cast<const std::byte*>(t.data_ptr()), static_cast<const std::byte*>(t.data_ptr()) + t.nbytes());
    out.bytes = Buffer::copy_of(bytes.data(), bytes.size());
    return out;
  }
  out.bytes = Buffer::copy_of(t.numel() > 0 ? t.data_ptr() : nullptr, t.nbytes());
  return out;
}

}  // namespace ak::models
