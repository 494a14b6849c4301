#include "models/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace ak::models {

namespace {
struct DTypeName {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeName kDTypes[] = {
    {DType::kFloat32, "float32", 4},   {DType::kUInt8, "uint8", 1},       {DType::kInt8, "int8", 1},
    {DType::kUInt16, "uint16", 2},     {DType::kInt16, "int16", 2},       {DType::kInt32, "int32", 4},
    {DType::kInt64, "int64", 8},       {DType::kString, "string", 0},     {DType::kBool, "bool", 1},
    {DType::kFloat16, "float16", 2},   {DType::kFloat64, "float64", 8},   {DType::kUInt32, "uint32", 4},
    {DType::kUInt64, "uint64", 8},     {DType::kComplex64, "complex64", 8}, {DType::kComplex128, "complex128", 16},
    {DType::kBFloat16, "bfloat16", 2},
};
}  // namespace

std::string dtype_name(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  return "dtype(" + std::to_string(static_cast<int>(dtype)) + ")";
}

std::optional<DType> parse_dtype(const std::string& name) {
  static const std::pair<const char*, DType> kAliases[] = {
      {"float", DType::kFloat32}, {"fp32", DType::kFloat32}, {"half", DType::kFloat16}, {"fp16", DType::kFloat16},
      {"bf16", DType::kBFloat16}, {"double", DType::kFloat64}, {"fp64", DType::kFloat64}, {"long", DType::kInt64},
      {"int", DType::kInt32},
  };
  for (const auto& d : kDTypes)
    if (name == d.name) return d.dtype;
  for (const auto& [alias, dtype] : kAliases)
    if (name == alias) return dtype;
  return std::nullopt;
}

size_t dtype_size(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.size;
  return 0;
}

bool is_floating(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat16 || d == DType::kBFloat16 || d == DType::kFloat64;
}

bool is_integer(DType d) {
  switch (d) {
    case DType::kUInt8: case DType::kInt8: case DType::kUInt16: case DType::kInt16: case DType::kInt32:
    case DType::kInt64: case DType::kUInt32: case DType::kUInt64: return true;
    default: return false;
  }
}

Buffer Buffer::copy_of(const void* bytes, size_t size) {
  auto storage = std::shared_ptr<std::byte[]>(new std::byte[size > 0 ? size : 1]);
  if (size > 0) std::memcpy(storage.get(), bytes, size);
  Buffer b;
  b.data = storage.get();
  b.size_bytes = size;
  b.owner = std::shared_ptr<const void>(storage, storage.get());
  return b;
}

int64_t TensorData::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string shape_string(const std::vector<int64_t>& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

std::string TensorData::shape_string() const { return models::shape_string(dims); }

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TensorStats compute_stats(const TensorData& t) {
  TensorStats s;
  const int64_t n = t.numel();
  if (t.dtype == DType::kString || n == 0 || t.bytes.data == nullptr) return s;
  auto at = [&](int64_t i) -> double {
    const std::byte* p = t.bytes.data + i * dtype_size(t.dtype);
    auto load = [&](auto tag) {
      decltype(tag) v;
      std::memcpy(&v, p, sizeof v);
      return v;
    };
    switch (t.dtype) {
      case DType::kFloat32: return load(float{});
      case DType::kFloat64: return load(double{});
      case DType::kFloat16: return half_to_float(load(uint16_t{}));
      case DType::kBFloat16: return bfloat16_to_float(load(uint16_t{}));
      case DType::kInt8: return load(int8_t{});
      case DType::kUInt8: case DType::kBool: return load(uint8_t{});
      case DType::kInt16: return load(int16_t{});
      case DType::kUInt16: return load(uint16_t{});
      case DType::kInt32: return load(int32_t{});
      case DType::kUInt32: return load(uint32_t{});
      case DType::kInt64: return static_cast<double>(load(int64_t{}));
      case DType::kUInt64: return static_cast<double>(load(uint64_t{}));
      default: return 0.0;
    }
  };
  double sum = 0, sum_sq = 0;
  int64_t count = 0;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -s.min;
  for (int64_t i = 0; i < n; ++i) {
    double v = at(i);
    if (std::isnan(v)) { ++s.nan_count; continue; }
    if (std::isinf(v)) { ++s.inf_count; continue; }
    sum += v;
    sum_sq += v * v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    ++count;
  }
  if (count == 0) {
    s.min = s.max = 0;
    return s;
  }
  s.mean = sum / count;
  s.stddev = std::sqrt(std::max(0.0, sum_sq / count - s.mean * s.mean));
  return s;
}

const Attribute* Node::find_attribute(const std::string& name) const {
  for (const auto& a : attributes)
    if (a.name == name) return &a;
  return nullptr;
}

int64_t Node::attr_int(const std::string& name, int64_t fallback) const {
  const Attribute* a = find_attribute(name);
  return a ? a->i : fallback;
}

float Node::attr_float(const std::string& name, float fallback) const {
  const Attribute* a = find_attribute(name);
  return a ? a->f : fallback;
}

std::string Node::attr_string(const std::string& name, const std::string& fallback) const {
  const Attribute* a = find_attribute(name);
  return a ? a->s : fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& name) const {
  const Attribute* a = find_attribute(name);
  return a ? a->ints : std::vector<int64_t>{};
}

std::vector<float> Node::attr_floats(const std::string& name) const {
  const Attribute* a = find_attribute(name);
  return a ? a->floats : std::vector<float>{};
}

std::vector<const ValueInfo*> Graph::runtime_inputs() const {
  std::vector<const ValueInfo*> out;
  for (const auto& in : inputs)
    if (find_initializer(in.name) == nullptr) out.push_back(&in);
  return out;
}

const TensorData* Graph::find_initializer(const std::string& name) const {
  for (const auto& t : initializers)
    if (t.name == name) return &t;
  return nullptr;
}

int64_t Model::opset(const std::string& domain) const {
  auto it = opsets.find(domain);
  return it == opsets.end() ? 0 : it->second;
}

}  // namespace ak::models
