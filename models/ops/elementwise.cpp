// Elementwise ops: arithmetic, math functions, activations, comparisons, logic, bit ops,
// Where, Cast/CastLike, Clip, Dropout.
//
// The ops transformers run hot (arithmetic, activations, comparisons, Where, Cast) are one
// ATen call each. ATen promotes mixed dtypes where ONNX keeps the first input's type
// (Pow's base, Clip's input), so such results are cast back; for same-typed inputs that
// is only a dtype comparison.
//
// Unsigned types wider than 8 bits live in wider signed tensors (see aten_interop.h): a
// kernel cannot tell uint32 from int64 at run time. Results are correct while values fit
// the signed range; the output download narrows them back.

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>

#include "base/strings.h"
#include "models/aten_interop.h"
#include "models/ops/op_kernel.h"

namespace ak::models {
namespace {

bool is_reduced_float(at::ScalarType t) { return t == at::kHalf || t == at::kBFloat16; }

at::Tensor keep_dtype(at::Tensor out, at::ScalarType type) {
  return out.scalar_type() == type ? out : out.to(type);
}

/// Wraps a float-valued function so that float16/bfloat16 inputs on the CPU are computed
/// in float32: libtorch 1.13's CPU backend lacks half kernels for most math ops. On the GPU
/// the branch is one comparison.
template <typename F>
auto reduced_float_safe(F f) {
  return [f](const at::Tensor& x) -> at::Tensor {
    if (x.is_cpu() && is_reduced_float(x.scalar_type())) {
      at::Tensor y = f(x.to(at::kFloat));
      return y.scalar_type() == at::kFloat ? y.to(x.scalar_type()) : y;
    }
    return f(x);
  };
}

template <typename F>
KernelPtr unary_kernel(F f) {
  return make_kernel([f](OpContext& ctx) { ctx.set_output(0, f(ctx.input(0))); });
}

template <typename F>
void add_unary(OpRegistry& r, const char* op, int since, F f, Placement placement = Placement::kDevice) {
  r.add(op, since, [f](const OpBuildInfo&) -> Result<KernelPtr> { return unary_kernel(f); }, placement);
}

template <typename F>
void add_float_unary(OpRegistry& r, const char* op, int since, F f) {
  add_unary(r, op, since, reduced_float_safe(f));
}

/// Opsets before 7 broadcast only with `broadcast=1`, aligning B to A at `axis`; without
/// `axis` that is numpy's trailing alignment. Returns the axis to align at, or nullopt.
std::optional<int64_t> legacy_broadcast_axis(const OpBuildInfo& info) {
  if (info.opset >= 7 || info.node.attr_int("broadcast", 0) == 0 || !info.node.has_attribute("axis")) return std::nullopt;
  return info.node.attr_int("axis", 0);
}

/// B reshaped so that numpy broadcasting places its dims at A's `axis`.
at::Tensor align_legacy(const at::Tensor& a, const at::Tensor& b, int64_t axis) {
  if (b.dim() >= a.dim()) return b;
  if (axis < 0) axis += a.dim();
  if (axis < 0 || axis + b.dim() > a.dim())
    throw std::invalid_argument("broadcast axis " + std::to_string(axis) + " does not fit a rank-" +
                                std::to_string(b.dim()) + " B into a rank-" + std::to_string(a.dim()) + " A");
  std::vector<int64_t> shape(a.dim() - axis, 1);
  for (int64_t i = 0; i < b.dim(); ++i) shape[i] = b.size(i);
  return b.reshape(shape);
}

template <typename F>
OpFactory binary_factory(F f) {
  return [f](const OpBuildInfo& info) -> Result<KernelPtr> {
    if (auto axis = legacy_broadcast_axis(info)) {
      const int64_t ax = *axis;
      return make_kernel([f, ax](OpContext& ctx) {
        const at::Tensor& a = ctx.input(0);
        ctx.set_output(0, f(a, align_legacy(a, ctx.input(1), ax)));
      });
    }
    return make_kernel([f](OpContext& ctx) { ctx.set_output(0, f(ctx.input(0), ctx.input(1))); });
  };
}

template <typename F>
void add_binary(OpRegistry& r, const char* op, int since, F f, Placement placement = Placement::kDevice) {
  r.add(op, since, binary_factory(f), placement);
}

/// Min/Max/Sum: a left fold with broadcasting; one input is passed through.
template <typename F>
KernelPtr variadic_kernel(F f) {
  return make_kernel([f](OpContext& ctx) {
    if (ctx.num_inputs() == 0) throw std::invalid_argument("needs at least one input");
    at::Tensor acc = ctx.input(0);
    for (size_t i = 1; i < ctx.num_inputs(); ++i) acc = f(acc, ctx.input(i));
    ctx.set_output(0, acc);
  });
}

// ---------------------------------------------------------------------------------------
// Strings

void set_strings(OpContext& ctx, size_t i, std::vector<std::string> strings, std::vector<int64_t> dims) {
  if (!ctx.has_output(i)) return;
  Value& v = ctx.output_value(i);
  v.reset();
  v.kind = Value::Kind::kStrings;
  v.strings = std::move(strings);
  v.string_dims = std::move(dims);
}

bool is_strings(OpContext& ctx, size_t i) { return ctx.has_input(i) && ctx.input_value(i).kind == Value::Kind::kStrings; }

int64_t numel_of(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

/// For each element of `out_dims`, the flat index of the element of `dims` it broadcasts from.
std::vector<int64_t> broadcast_sources(const std::vector<int64_t>& dims, const std::vector<int64_t>& out_dims) {
  at::Tensor idx = at::arange(numel_of(dims), at::kLong).reshape(dims).expand(out_dims).contiguous();
  const int64_t* p = idx.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + idx.numel());
}

std::vector<int64_t> dims_of(const at::Tensor& t) { return std::vector<int64_t>(t.sizes().begin(), t.sizes().end()); }

/// Equal on string tensors (opset 19).
void equal_strings(OpContext& ctx) {
  if (!is_strings(ctx, 0) || !is_strings(ctx, 1)) throw std::invalid_argument("compares a string tensor with a non-string one");
  const Value& a = ctx.input_value(0);
  const Value& b = ctx.input_value(1);
  std::vector<int64_t> out_dims = op_util::broadcast_shapes(a.string_dims, b.string_dims);
  std::vector<int64_t> ia = broadcast_sources(a.string_dims, out_dims), ib = broadcast_sources(b.string_dims, out_dims);
  at::Tensor out = at::empty(out_dims, at::TensorOptions().dtype(at::kBool));
  bool* o = out.data_ptr<bool>();
  for (size_t i = 0; i < ia.size(); ++i) o[i] = a.strings[ia[i]] == b.strings[ib[i]];
  ctx.set_output(0, out.to(ctx.device()));
}

/// Where over string tensors: the condition is read on the host.
void where_strings(OpContext& ctx) {
  if (!is_strings(ctx, 1) || !is_strings(ctx, 2)) throw std::invalid_argument("X and Y must both be string tensors");
  at::Tensor cond = ctx.host_input(0).to(at::kBool).contiguous();
  const Value& x = ctx.input_value(1);
  const Value& y = ctx.input_value(2);
  std::vector<int64_t> out_dims =
      op_util::broadcast_shapes(op_util::broadcast_shapes(cond.sizes(), x.string_dims), y.string_dims);
  std::vector<int64_t> ic = broadcast_sources(dims_of(cond), out_dims);
  std::vector<int64_t> ix = broadcast_sources(x.string_dims, out_dims), iy = broadcast_sources(y.string_dims, out_dims);
  const bool* c = cond.data_ptr<bool>();
  std::vector<std::string> out(ic.size());
  for (size_t i = 0; i < ic.size(); ++i) out[i] = c[ic[i]] ? x.strings[ix[i]] : y.strings[iy[i]];
  set_strings(ctx, 0, std::move(out), std::move(out_dims));
}

// ---------------------------------------------------------------------------------------
// Cast

/// A value in the layout numpy prints floats with (ONNX's test data is made by numpy):
/// positional for 1e-4 <= |x| < 1e16 ("0.5", "100.0"), else scientific ("1e-05").
/// `sci` is the shortest round-trip form in C's %e layout ("-3.9187793e-02").
std::string numpy_layout(const std::string& sci) {
  size_t start = 0;
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    start = 1;
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (size_t i = start; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exp = std::atoi(sci.c_str() + e + 1);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return sign + "0." + std::string(-exp - 1, '0') + digits;
    const size_t int_len = static_cast<size_t>(exp) + 1;
    std::string int_part = digits.substr(0, std::min(int_len, digits.size()));
    int_part.resize(int_len, '0');
    std::string frac = digits.size() > int_len ? digits.substr(int_len) : "0";
    return sign + int_part + "." + frac;
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return sign + digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "") + ebuf;
}

/// Shortest decimal form that reads back as the same value of type T; the special values
/// use the spellings of ONNX's Cast spec.
template <typename T>
std::string format_float(T v) {
  const double d = static_cast<double>(v);
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "INF" : "-INF";
  char buf[64];
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    return numpy_layout(std::string(buf, r.ptr));
  } else {
    // No shortest-form printer for 16-bit floats: widen the precision until the text
    // rounds back to the same 16-bit value.
    const float f = static_cast<float>(v);
    for (int precision = 0;; ++precision) {
      auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific, precision);
      std::string text(buf, r.ptr);
      if (precision >= 8 || static_cast<float>(T(std::strtof(text.c_str(), nullptr))) == f) return numpy_layout(text);
    }
  }
}

std::vector<std::string> format_tensor(const at::Tensor& tensor) {
  at::Tensor t = tensor.cpu().contiguous();
  const int64_t n = t.numel();
  std::vector<std::string> out(n);
  switch (t.scalar_type()) {
    case at::kFloat: { auto* p = t.data_ptr<float>(); for (int64_t i = 0; i < n; ++i) out[i] = format_float(p[i]); break; }
    case at::kDouble: { auto* p = t.data_ptr<double>(); for (int64_t i = 0; i < n; ++i) out[i] = format_float(p[i]); break; }
    case at::kHalf: { auto* p = t.data_ptr<at::Half>(); for (int64_t i = 0; i < n; ++i) out[i] = format_float(p[i]); break; }
    case at::kBFloat16: { auto* p = t.data_ptr<at::BFloat16>(); for (int64_t i = 0; i < n; ++i) out[i] = format_float(p[i]); break; }
    case at::kBool: { auto* p = t.data_ptr<bool>(); for (int64_t i = 0; i < n; ++i) out[i] = p[i] ? "True" : "False"; break; }
    default: {
      if (!at::isIntegralType(t.scalar_type(), /*includeBool=*/false))
        throw std::invalid_argument("cannot cast dtype " + dtype_name(from_scalar_type(t.scalar_type())) + " to string");
      at::Tensor l = t.to(at::kLong);
      auto* p = l.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = std::to_string(p[i]);
    }
  }
  return out;
}

[[noreturn]] void bad_number(const std::string& s) {
  throw std::invalid_argument("cannot read string '" + s + "' as a number");
}

double parse_double(const std::string& s) {
  const char* begin = s.c_str();
  char* end = nullptr;
  double v = std::strtod(begin, &end);
  if (end == begin) bad_number(s);
  return v;
}

/// Parses as an integer; a decimal text such as "2.7" is truncated like a float cast.
int64_t parse_int(const std::string& s, bool as_unsigned) {
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  int64_t v = as_unsigned ? static_cast<int64_t>(std::strtoull(begin, &end, 10)) : std::strtoll(begin, &end, 10);
  if (end != begin && *end == '\0' && errno == 0) return v;
  return static_cast<int64_t>(parse_double(s));
}

bool parse_bool(const std::string& s) {
  const std::string text = ak::lower(s);
  if (text == "true") return true;
  if (text == "false") return false;
  return parse_double(s) != 0;
}

at::Tensor parse_strings(const Value& v, DType to, at::ScalarType type) {
  const int64_t n = static_cast<int64_t>(v.strings.size());
  at::Tensor out;
  if (to == DType::kFloat32) {
    out = at::empty({n}, at::kFloat);
    float* p = out.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const char* begin = v.strings[i].c_str();
      char* end = nullptr;
      p[i] = std::strtof(begin, &end);
      if (end == begin) bad_number(v.strings[i]);
    }
  } else if (is_floating(to)) {
    out = at::empty({n}, at::kDouble);
    double* p = out.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = parse_double(v.strings[i]);
  } else if (to == DType::kBool) {
    out = at::empty({n}, at::kBool);
    bool* p = out.data_ptr<bool>();
    for (int64_t i = 0; i < n; ++i) p[i] = parse_bool(v.strings[i]);
  } else {
    out = at::empty({n}, at::kLong);
    int64_t* p = out.data_ptr<int64_t>();
    const bool as_unsigned = to == DType::kUInt8 || to == DType::kUInt16 || to == DType::kUInt32 || to == DType::kUInt64;
    for (int64_t i = 0; i < n; ++i) {
      int64_t x = parse_int(v.strings[i], as_unsigned);
      if (to == DType::kUInt16) x &= 0xFFFF;
      if (to == DType::kUInt32) x &= 0xFFFFFFFF;
      p[i] = x;
    }
  }
  return out.reshape(v.string_dims).to(type);
}

/// float32 -> bfloat16 by dropping the low 16 bits, as ONNX's reference Cast and its test
/// data do (ATen would round to nearest even). One strided copy of the high halves
/// (little-endian layout, as on every machine libtorch supports).
at::Tensor truncate_to_bfloat16(const at::Tensor& x) {
  at::Tensor f = x.to(at::kFloat).contiguous().reshape({-1});
  at::Tensor high = f.view(at::kShort).view({-1, 2}).select(1, 1).contiguous();
  return high.view(at::kBFloat16).reshape(x.sizes());
}

/// Numeric cast to ONNX dtype `to` held as `type`. uint16/uint32 live in wider signed
/// tensors, so values are wrapped to the narrow range as a C cast would.
at::Tensor cast_tensor(const at::Tensor& x, DType to, at::ScalarType type) {
  if (type == at::kBFloat16 && x.scalar_type() != at::kBFloat16) return truncate_to_bfloat16(x);
  at::Tensor out = x.to(type);
  const bool already_narrow = x.scalar_type() == at::kByte || x.scalar_type() == at::kBool;
  if (to == DType::kUInt16 && !already_narrow) return at::bitwise_and(out, 0xFFFF);
  if (to == DType::kUInt32 && !already_narrow) return at::bitwise_and(out, int64_t{0xFFFFFFFF});
  return out;
}

/// Cast of input 0 to `to` (numeric or string), for Cast and CastLike.
void run_cast(OpContext& ctx, DType to, at::ScalarType type) {
  if (is_strings(ctx, 0)) {
    const Value& v = ctx.input_value(0);
    if (to == DType::kString) {
      set_strings(ctx, 0, v.strings, v.string_dims);
      return;
    }
    ctx.set_output(0, parse_strings(v, to, type).to(ctx.device()));
    return;
  }
  if (to == DType::kString) {
    const at::Tensor& x = ctx.input(0);
    set_strings(ctx, 0, format_tensor(x), dims_of(x));
    return;
  }
  ctx.set_output(0, cast_tensor(ctx.input(0), to, type));
}

/// Cast's `to`: an ONNX dtype number (opset 6+) or its name (opset 1, e.g. "FLOAT").
Result<DType> cast_target(const Node& node) {
  const Attribute* a = node.find_attribute("to");
  if (a == nullptr) return invalid_input("Cast has no 'to' attribute");
  if (a->type == Attribute::Type::kString) {
    static const std::pair<const char*, DType> kNames[] = {
        {"FLOAT", DType::kFloat32}, {"UINT8", DType::kUInt8},   {"INT8", DType::kInt8},       {"UINT16", DType::kUInt16},
        {"INT16", DType::kInt16},   {"INT32", DType::kInt32},   {"INT64", DType::kInt64},     {"STRING", DType::kString},
        {"BOOL", DType::kBool},     {"FLOAT16", DType::kFloat16}, {"DOUBLE", DType::kFloat64}, {"UINT32", DType::kUInt32},
        {"UINT64", DType::kUInt64}, {"BFLOAT16", DType::kBFloat16}};
    for (const auto& [name, dtype] : kNames)
      if (a->s == name) return dtype;
    return unsupported("Cast to '" + a->s + "'");
  }
  return static_cast<DType>(a->i);
}

Result<KernelPtr> make_cast(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(DType to, cast_target(info.node));
  at::ScalarType type = at::kFloat;
  if (to != DType::kString) {
    auto st = to_scalar_type(to);
    if (!st) return unsupported("Cast to " + dtype_name(to));
    type = *st;
  }
  if (to == DType::kComplex64 || to == DType::kComplex128) return unsupported("Cast to " + dtype_name(to));
  return make_kernel([to, type](OpContext& ctx) { run_cast(ctx, to, type); });
}

Result<KernelPtr> make_cast_like(const OpBuildInfo&) {
  return make_kernel([](OpContext& ctx) {
    if (is_strings(ctx, 1)) {
      run_cast(ctx, DType::kString, at::kFloat);
      return;
    }
    if (!ctx.has_input(1) || !ctx.input_value(1).is_tensor()) throw std::invalid_argument("target_type input is missing");
    // The target's storage type is what matters: a uint16 target is held as int32, and
    // values cast there are wrapped again when downloaded.
    const at::ScalarType type = ctx.input_value(1).tensor.scalar_type();
    run_cast(ctx, from_scalar_type(type), type);
  });
}

// ---------------------------------------------------------------------------------------
// Clip

/// The value of a constant scalar input, typed as the tensor is (an integer Scalar for
/// integer dtypes so that Clip on integers stays exact).
Result<std::optional<at::Scalar>> constant_scalar(const OpBuildInfo& info, size_t i) {
  const TensorData* td = info.constant_input(i);
  if (td == nullptr) return std::optional<at::Scalar>();
  AK_ASSIGN_OR_RETURN(at::Tensor t, to_tensor(*td, at::Device(at::kCPU)));
  if (t.numel() != 1) return invalid_input("input " + std::to_string(i) + " must be a scalar, has " + std::to_string(t.numel()) + " elements");
  return std::optional<at::Scalar>(t.reshape({}).item());
}

at::Tensor clamp_scalars(const at::Tensor& x, const std::optional<at::Scalar>& lo, const std::optional<at::Scalar>& hi) {
  if (lo && hi) return keep_dtype(at::clamp(x, *lo, *hi), x.scalar_type());
  if (lo) return keep_dtype(at::clamp_min(x, *lo), x.scalar_type());
  if (hi) return keep_dtype(at::clamp_max(x, *hi), x.scalar_type());
  return x;
}

Result<KernelPtr> make_clip_attributes(const OpBuildInfo& info) {
  std::optional<at::Scalar> lo, hi;
  if (info.node.has_attribute("min")) lo = at::Scalar(static_cast<double>(info.node.attr_float("min", 0)));
  if (info.node.has_attribute("max")) hi = at::Scalar(static_cast<double>(info.node.attr_float("max", 0)));
  return unary_kernel(reduced_float_safe([lo, hi](const at::Tensor& x) { return clamp_scalars(x, lo, hi); }));
}

Result<KernelPtr> make_clip_inputs(const OpBuildInfo& info) {
  const bool has_lo = info.node.has_input(1), has_hi = info.node.has_input(2);
  AK_ASSIGN_OR_RETURN(auto lo, constant_scalar(info, 1));
  AK_ASSIGN_OR_RETURN(auto hi, constant_scalar(info, 2));
  if ((!has_lo || lo) && (!has_hi || hi))
    return unary_kernel(reduced_float_safe([lo, hi](const at::Tensor& x) { return clamp_scalars(x, lo, hi); }));
  // Bounds computed at run time stay tensors: reading them on the host would sync.
  return make_kernel([has_lo, has_hi](OpContext& ctx) {
    auto clip = [&](const at::Tensor& x) {
      at::Tensor lo_t = has_lo ? ctx.input(1).to(x.scalar_type()) : at::Tensor();
      at::Tensor hi_t = has_hi ? ctx.input(2).to(x.scalar_type()) : at::Tensor();
      if (has_lo && has_hi) return at::clamp(x, lo_t, hi_t);
      if (has_lo) return at::clamp_min(x, lo_t);
      return at::clamp_max(x, hi_t);
    };
    ctx.set_output(0, reduced_float_safe(clip)(ctx.input(0)));
  });
}

// ---------------------------------------------------------------------------------------
// Activations with parameters

/// PRelu before opset 7: a 1-element slope is shared, otherwise one slope per channel (dim 1).
at::Tensor prelu_channels(const at::Tensor& x, const at::Tensor& slope) {
  if (slope.numel() == 1 || x.dim() >= 2) return at::prelu(x, slope.reshape({-1}));
  throw std::invalid_argument("slope of " + std::to_string(slope.numel()) + " elements needs an input of rank >= 2");
}

/// PRelu from opset 7: slope broadcasts to X (unidirectional). The per-channel layout
/// (slope [C,1,...,1] against X [N,C,...]) and a scalar slope map onto at::prelu.
at::Tensor prelu_broadcast(const at::Tensor& x, const at::Tensor& slope) {
  if (at::isFloatingType(x.scalar_type()) && x.dim() >= 2 && slope.dim() <= x.dim()) {
    bool per_channel = slope.numel() == 1;
    if (!per_channel && slope.dim() >= x.dim() - 1) {
      per_channel = true;
      const int64_t offset = x.dim() - slope.dim();
      for (int64_t j = 0; j < slope.dim() && per_channel; ++j)
        per_channel = j + offset == 1 ? slope.size(j) == x.size(1) : slope.size(j) == 1;
    }
    if (per_channel && slope.scalar_type() == x.scalar_type()) return at::prelu(x, slope.reshape({-1}));
  }
  if (slope.dim() > x.dim()) throw std::invalid_argument("slope has a higher rank than X");
  return at::where(at::lt(x, 0), keep_dtype(at::mul(x, slope), x.scalar_type()), x);
}

at::Tensor shrink(const at::Tensor& x, double lambd, double bias) {
  if (at::isFloatingType(x.scalar_type())) {
    if (bias == 0) return at::hardshrink(x, lambd);
    if (bias == lambd) return at::softshrink(x, lambd);
  }
  at::Tensor shifted_up = keep_dtype(at::add(x, bias), x.scalar_type());
  at::Tensor shifted_down = keep_dtype(at::sub(x, bias), x.scalar_type());
  return at::where(at::lt(x, -lambd), shifted_up, at::where(at::gt(x, lambd), shifted_down, at::zeros_like(x)));
}

Result<KernelPtr> make_hard_sigmoid(const OpBuildInfo& info) {
  const float alpha = info.node.attr_float("alpha", 0.2f), beta = info.node.attr_float("beta", 0.5f);
  if (alpha == 1.0f / 6.0f && beta == 0.5f) return unary_kernel(reduced_float_safe([](const at::Tensor& x) { return at::hardsigmoid(x); }));
  return unary_kernel(reduced_float_safe([alpha, beta](const at::Tensor& x) {
    return at::mul(x, alpha).add_(beta).clamp_(0, 1);
  }));
}

Result<KernelPtr> make_is_inf(const OpBuildInfo& info) {
  const bool pos = info.node.attr_int("detect_positive", 1) != 0, neg = info.node.attr_int("detect_negative", 1) != 0;
  return unary_kernel([pos, neg](const at::Tensor& x) {
    if (pos && neg) return at::isinf(x);
    if (pos) return at::isposinf(x);
    if (neg) return at::isneginf(x);
    return at::zeros(x.sizes(), x.options().dtype(at::kBool));
  });
}

Result<KernelPtr> make_bit_shift(const OpBuildInfo& info) {
  const std::string direction = info.node.attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT")
    return invalid_input("BitShift direction must be LEFT or RIGHT, got '" + direction + "'");
  if (direction == "RIGHT")
    return make_kernel([](OpContext& ctx) { ctx.set_output(0, at::bitwise_right_shift(ctx.input(0), ctx.input(1))); });
  return make_kernel([](OpContext& ctx) {
    at::Tensor out = at::bitwise_left_shift(ctx.input(0), ctx.input(1));
    // BitShift takes unsigned types only, so int32 storage is uint16: drop the bits
    // shifted past 16 so that later ops see the wrapped value.
    if (out.scalar_type() == at::kInt) out = at::bitwise_and(out, 0xFFFF);
    ctx.set_output(0, out);
  });
}

// ---------------------------------------------------------------------------------------
// Dropout

void pass_through_with_mask(OpContext& ctx, bool bool_mask) {
  const at::Tensor& x = ctx.input(0);
  ctx.set_output(0, x);
  if (ctx.has_output(1)) ctx.set_output(1, at::ones(x.sizes(), bool_mask ? x.options().dtype(at::kBool) : x.options()));
}

/// Training-mode Dropout. The mask is drawn on the host the way ONNX's reference does
/// (numpy: seed(seed); uniform(0, 1, shape) >= ratio), so a seeded node reproduces its
/// expected output: numpy's legacy generator is MT19937 seeded like std::mt19937, and a
/// uniform double takes 27 + 26 bits of two consecutive draws.
void dropout_training(OpContext& ctx, double ratio, uint32_t seed) {
  if (ratio < 0 || ratio >= 1) throw std::invalid_argument("ratio must be in [0, 1), got " + std::to_string(ratio));
  const at::Tensor& x = ctx.input(0);
  at::Tensor mask = at::empty(x.sizes(), at::TensorOptions().dtype(at::kBool));
  bool* m = mask.data_ptr<bool>();
  std::mt19937 gen(seed);
  for (int64_t i = 0; i < mask.numel(); ++i) {
    const uint32_t a = gen() >> 5, b = gen() >> 6;
    m[i] = (a * 67108864.0 + b) / 9007199254740992.0 >= ratio;
  }
  mask = mask.to(ctx.device());
  ctx.set_output(0, keep_dtype(at::mul(x, mask).mul_(1.0 / (1.0 - ratio)), x.scalar_type()));
  ctx.set_output(1, mask);
}

Result<KernelPtr> make_dropout_legacy(const OpBuildInfo& info) {
  const bool is_test = info.node.attr_int("is_test", 0) != 0;
  if (!is_test && info.node.attr_float("ratio", 0.5f) > 0)
    return unsupported("Dropout with is_test=0 (training) before opset 7");
  return make_kernel([](OpContext& ctx) { pass_through_with_mask(ctx, false); });
}

Result<KernelPtr> make_dropout_attribute(const OpBuildInfo& info) {
  const bool bool_mask = info.opset >= 10;
  return make_kernel([bool_mask](OpContext& ctx) { pass_through_with_mask(ctx, bool_mask); });
}

Result<KernelPtr> make_dropout_inputs(const OpBuildInfo& info) {
  if (!info.node.has_input(2)) return make_kernel([](OpContext& ctx) { pass_through_with_mask(ctx, true); });
  AK_ASSIGN_OR_RETURN(auto training, constant_scalar(info, 2));
  if (training && !training->toBool()) return make_kernel([](OpContext& ctx) { pass_through_with_mask(ctx, true); });
  // Without a seed attribute every run draws a fresh mask, as the spec allows.
  const bool seeded = info.node.has_attribute("seed");
  const uint32_t seed = static_cast<uint32_t>(info.node.attr_int("seed", 0));
  return make_kernel([seeded, seed, next_seed = std::mt19937(std::random_device()())](OpContext& ctx) mutable {
    // training_mode and ratio are scalars read on the host; this path is for training
    // graphs, where the host-drawn mask costs far more than the read.
    if (!ctx.host_input(2).item<bool>()) return pass_through_with_mask(ctx, true);
    const double ratio = ctx.has_input(1) ? ctx.input_double(1) : 0.5;
    if (ratio == 0) return pass_through_with_mask(ctx, true);
    dropout_training(ctx, ratio, seeded ? seed : static_cast<uint32_t>(next_seed()));
  });
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  constexpr Placement kHost = Placement::kHostable;

  // Arithmetic. ONNX keeps the input dtype; ATen agrees for same-typed inputs, and
  // keep_dtype only casts when a 0-dim operand of another type slipped in.
  auto add = [](const at::Tensor& a, const at::Tensor& b) { return keep_dtype(at::add(a, b), a.scalar_type()); };
  auto sub = [](const at::Tensor& a, const at::Tensor& b) { return keep_dtype(at::sub(a, b), a.scalar_type()); };
  auto mul = [](const at::Tensor& a, const at::Tensor& b) { return keep_dtype(at::mul(a, b), a.scalar_type()); };
  auto div = [](const at::Tensor& a, const at::Tensor& b) {
    // Integer Div truncates toward zero, as C does.
    if (at::isIntegralType(a.scalar_type(), /*includeBool=*/true)) return keep_dtype(at::div(a, b, "trunc"), a.scalar_type());
    return keep_dtype(at::div(a, b), a.scalar_type());
  };
  auto pow = [](const at::Tensor& a, const at::Tensor& b) { return keep_dtype(at::pow(a, b), a.scalar_type()); };
  add_binary(r, "Add", 1, add, kHost);
  add_binary(r, "Sub", 1, sub, kHost);
  add_binary(r, "Mul", 1, mul, kHost);
  add_binary(r, "Div", 1, div, kHost);
  add_binary(r, "Pow", 1, pow, kHost);
  r.add("Mod", 10, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    // fmod=1: C fmod (sign of the dividend); fmod=0: sign of the divisor, as Python's %.
    if (info.node.attr_int("fmod", 0) != 0)
      return make_kernel([](OpContext& ctx) {
        const at::Tensor& a = ctx.input(0);
        ctx.set_output(0, keep_dtype(at::fmod(a, ctx.input(1)), a.scalar_type()));
      });
    return make_kernel([](OpContext& ctx) {
      const at::Tensor& a = ctx.input(0);
      ctx.set_output(0, keep_dtype(at::remainder(a, ctx.input(1)), a.scalar_type()));
    });
  }, kHost);

  add_unary(r, "Neg", 1, [](const at::Tensor& x) { return at::neg(x); }, kHost);
  add_unary(r, "Abs", 1, [](const at::Tensor& x) { return at::abs(x); }, kHost);
  add_unary(r, "Sign", 9, [](const at::Tensor& x) { return at::sign(x); }, kHost);
  add_unary(r, "Floor", 1, reduced_float_safe([](const at::Tensor& x) { return at::floor(x); }), kHost);
  add_unary(r, "Ceil", 1, reduced_float_safe([](const at::Tensor& x) { return at::ceil(x); }), kHost);
  // at::round rounds half to even, as ONNX's Round does.
  add_float_unary(r, "Round", 11, [](const at::Tensor& x) { return at::round(x); });
  add_float_unary(r, "Reciprocal", 1, [](const at::Tensor& x) { return at::reciprocal(x); });
  add_float_unary(r, "Sqrt", 1, [](const at::Tensor& x) { return at::sqrt(x); });
  add_float_unary(r, "Exp", 1, [](const at::Tensor& x) { return at::exp(x); });
  add_float_unary(r, "Log", 1, [](const at::Tensor& x) { return at::log(x); });
  add_float_unary(r, "Erf", 9, [](const at::Tensor& x) { return at::erf(x); });
  add_float_unary(r, "Sin", 7, [](const at::Tensor& x) { return at::sin(x); });
  add_float_unary(r, "Cos", 7, [](const at::Tensor& x) { return at::cos(x); });
  add_float_unary(r, "Tan", 7, [](const at::Tensor& x) { return at::tan(x); });
  add_float_unary(r, "Asin", 7, [](const at::Tensor& x) { return at::asin(x); });
  add_float_unary(r, "Acos", 7, [](const at::Tensor& x) { return at::acos(x); });
  add_float_unary(r, "Atan", 7, [](const at::Tensor& x) { return at::atan(x); });
  add_float_unary(r, "Sinh", 9, [](const at::Tensor& x) { return at::sinh(x); });
  add_float_unary(r, "Cosh", 9, [](const at::Tensor& x) { return at::cosh(x); });
  add_float_unary(r, "Asinh", 9, [](const at::Tensor& x) { return at::asinh(x); });
  add_float_unary(r, "Acosh", 9, [](const at::Tensor& x) { return at::acosh(x); });
  add_float_unary(r, "Atanh", 9, [](const at::Tensor& x) { return at::atanh(x); });
  add_unary(r, "IsNaN", 9, [](const at::Tensor& x) { return at::isnan(x); });
  r.add("IsInf", 10, make_is_inf);

  // Activations.
  add_float_unary(r, "Relu", 1, [](const at::Tensor& x) { return at::relu(x); });
  add_float_unary(r, "Sigmoid", 1, [](const at::Tensor& x) { return at::sigmoid(x); });
  add_float_unary(r, "Tanh", 1, [](const at::Tensor& x) { return at::tanh(x); });
  add_float_unary(r, "HardSwish", 14, [](const at::Tensor& x) { return at::hardswish(x); });
  add_float_unary(r, "Mish", 18, [](const at::Tensor& x) { return at::mish(x); });
  add_float_unary(r, "Softplus", 1, [](const at::Tensor& x) { return at::softplus(x); });
  add_float_unary(r, "Softsign", 1, [](const at::Tensor& x) { return at::div(x, at::abs(x).add_(1)); });
  r.add("LeakyRelu", 1, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    const double alpha = info.node.attr_float("alpha", 0.01f);
    return unary_kernel(reduced_float_safe([alpha](const at::Tensor& x) { return at::leaky_relu(x, alpha); }));
  });
  r.add("Elu", 1, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    const double alpha = info.node.attr_float("alpha", 1.0f);
    return unary_kernel(reduced_float_safe([alpha](const at::Tensor& x) { return at::elu(x, alpha); }));
  });
  r.add("Selu", 1, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    const double alpha = info.node.attr_float("alpha", 1.67326319217681884765625f);
    const double gamma = info.node.attr_float("gamma", 1.05070102214813232421875f);
    // at::elu(x, alpha, scale) is scale * (x > 0 ? x : alpha * (exp(x) - 1)): Selu exactly.
    return unary_kernel(reduced_float_safe([alpha, gamma](const at::Tensor& x) { return at::elu(x, alpha, gamma, 1); }));
  });
  r.add("Celu", 12, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    const double alpha = info.node.attr_float("alpha", 1.0f);
    return unary_kernel(reduced_float_safe([alpha](const at::Tensor& x) { return at::celu(x, alpha); }));
  });
  r.add("ThresholdedRelu", 10, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    const double alpha = info.node.attr_float("alpha", 1.0f);
    return unary_kernel(reduced_float_safe([alpha](const at::Tensor& x) { return at::threshold(x, alpha, 0); }));
  });
  r.add("Shrink", 9, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    const double lambd = info.node.attr_float("lambd", 0.5f), bias = info.node.attr_float("bias", 0.0f);
    return unary_kernel(reduced_float_safe([lambd, bias](const at::Tensor& x) { return shrink(x, lambd, bias); }));
  });
  r.add("Gelu", 20, [](const OpBuildInfo& info) -> Result<KernelPtr> {
    const std::string approximate = info.node.attr_string("approximate", "none");
    if (approximate == "none")
      return unary_kernel(reduced_float_safe([](const at::Tensor& x) { return at::gelu(x); }));
    if (approximate == "tanh")
      return unary_kernel(reduced_float_safe([](const at::Tensor& x) { return at::gelu(x, "tanh"); }));
    return invalid_input("Gelu approximate must be 'none' or 'tanh', got '" + approximate + "'");
  });
  r.add("HardSigmoid", 1, make_hard_sigmoid);
  r.add("PRelu", 1, [](const OpBuildInfo&) -> Result<KernelPtr> {
    return make_kernel([](OpContext& ctx) {
      ctx.set_output(0, reduced_float_safe([&](const at::Tensor& x) {
        return prelu_channels(x, ctx.input(1).to(x.scalar_type()));
      })(ctx.input(0)));
    });
  });
  r.add("PRelu", 7, [](const OpBuildInfo&) -> Result<KernelPtr> {
    return make_kernel([](OpContext& ctx) {
      ctx.set_output(0, reduced_float_safe([&](const at::Tensor& x) {
        return prelu_broadcast(x, ctx.input(1).to(x.scalar_type()));
      })(ctx.input(0)));
    });
  });
  r.add("Clip", 1, make_clip_attributes, kHost);
  r.add("Clip", 11, make_clip_inputs, kHost);

  // Variadic with broadcasting.
  auto variadic = [&](const char* op, auto f, Placement placement) {
    r.add(op, 1, [f](const OpBuildInfo&) -> Result<KernelPtr> { return variadic_kernel(f); }, placement);
  };
  variadic("Max", [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); }, kHost);
  variadic("Min", [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); }, kHost);
  variadic("Sum", add, kHost);
  r.add("Mean", 1, [](const OpBuildInfo&) -> Result<KernelPtr> {
    return make_kernel([](OpContext& ctx) {
      if (ctx.num_inputs() == 0) throw std::invalid_argument("needs at least one input");
      if (ctx.num_inputs() == 1) {
        ctx.set_output(0, ctx.input(0));
        return;
      }
      at::Tensor acc = at::add(ctx.input(0), ctx.input(1));
      for (size_t i = 2; i < ctx.num_inputs(); ++i) acc = at::add(acc, ctx.input(i));
      ctx.set_output(0, acc.div_(static_cast<double>(ctx.num_inputs())));
    });
  });

  // Comparisons and logic.
  add_binary(r, "Equal", 1, [](const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }, kHost);
  r.add("Equal", 19, [](const OpBuildInfo&) -> Result<KernelPtr> {
    return make_kernel([](OpContext& ctx) {
      if (is_strings(ctx, 0) || is_strings(ctx, 1)) return equal_strings(ctx);
      ctx.set_output(0, at::eq(ctx.input(0), ctx.input(1)));
    });
  }, kHost);
  add_binary(r, "Greater", 1, [](const at::Tensor& a, const at::Tensor& b) { return at::gt(a, b); }, kHost);
  add_binary(r, "Less", 1, [](const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }, kHost);
  add_binary(r, "GreaterOrEqual", 12, [](const at::Tensor& a, const at::Tensor& b) { return at::ge(a, b); }, kHost);
  add_binary(r, "LessOrEqual", 12, [](const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); }, kHost);
  add_unary(r, "Not", 1, [](const at::Tensor& x) { return at::logical_not(x); }, kHost);
  add_binary(r, "And", 1, [](const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); }, kHost);
  add_binary(r, "Or", 1, [](const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); }, kHost);
  add_binary(r, "Xor", 1, [](const at::Tensor& a, const at::Tensor& b) { return at::logical_xor(a, b); }, kHost);

  // Bit ops.
  r.add("BitShift", 11, make_bit_shift, kHost);
  add_binary(r, "BitwiseAnd", 18, [](const at::Tensor& a, const at::Tensor& b) { return at::bitwise_and(a, b); }, kHost);
  add_binary(r, "BitwiseOr", 18, [](const at::Tensor& a, const at::Tensor& b) { return at::bitwise_or(a, b); }, kHost);
  add_binary(r, "BitwiseXor", 18, [](const at::Tensor& a, const at::Tensor& b) { return at::bitwise_xor(a, b); }, kHost);
  add_unary(r, "BitwiseNot", 18, [](const at::Tensor& x) { return at::bitwise_not(x); }, kHost);

  r.add("Where", 9, [](const OpBuildInfo&) -> Result<KernelPtr> {
    return make_kernel([](OpContext& ctx) {
      if (is_strings(ctx, 1) || is_strings(ctx, 2)) return where_strings(ctx);
      ctx.set_output(0, at::where(ctx.input(0), ctx.input(1), ctx.input(2)));
    });
  }, kHost);

  r.add("Cast", 1, make_cast, kHost);
  r.add("CastLike", 15, make_cast_like, kHost);

  r.add("Dropout", 1, make_dropout_legacy);
  r.add("Dropout", 7, make_dropout_attribute);
  r.add("Dropout", 12, make_dropout_inputs);
}

}  // namespace ak::models
