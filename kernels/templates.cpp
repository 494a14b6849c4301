#include "kernels/templates.h"

#include <charconv>
#include <cmath>
#include <set>
#include <string_view>
#include <utility>

// The generated sources are assembled from text blocks below. `@NAME@` tokens are filled by
// fill(); a line that starts with `@CUDA@` is kept (without the marker) only in CUDA sources,
// which lets one block serve both targets where they differ by a reduction across threads.

namespace ak::kernels {
namespace {

// ---------------------------------------------------------------------------------------
// Text helpers

using Vars = std::vector<std::pair<std::string_view, std::string>>;

std::string fill(std::string text, const Vars& vars) {
  for (const auto& [key, value] : vars) {
    const std::string token = "@" + std::string(key) + "@";
    for (size_t pos = text.find(token); pos != std::string::npos; pos = text.find(token, pos + value.size())) {
      text.replace(pos, token.size(), value);
    }
  }
  return text;
}

/// Keeps `@CUDA@` lines (marker removed) for CUDA, drops them for the CPU.
std::string select_target_lines(const std::string& text, Target target) {
  static constexpr std::string_view kMarker = "@CUDA@";
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    std::string_view line(text.data() + start, end - start);
    const size_t first = line.find_first_not_of(' ');
    if (first != std::string_view::npos && line.substr(first, kMarker.size()) == kMarker) {
      if (target == Target::kCuda) {
        out.append(line.substr(0, first));
        std::string_view rest = line.substr(first + kMarker.size());
        if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        out.append(rest);
      }
    } else {
      out.append(line);
    }
    start = end;
  }
  return out;
}

/// A float32 literal for generated code: shortest round-trip digits, "f" suffix, and the
/// math.h macros for infinities and NaN. Negative values are parenthesized.
std::string float_literal(double value) {
  if (std::isnan(value)) return "NAN";
  const float f = static_cast<float>(value);
  if (std::isinf(f)) return f > 0 ? "INFINITY" : "(-INFINITY)";
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, f);
  std::string text(buffer, ec == std::errc() ? end : buffer);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  text += "f";
  return f < 0 ? "(" + text + ")" : text;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Dtypes and the common head of every generated source

struct DtypeInfo {
  int32_t code;
  const char* name;        // as written in comments and task.json ("float16")
  const char* onnx_enum;   // TensorProto.DataType name
  const char* cuda_type;   // storage type in CUDA sources
  const char* cuda_header; // header that defines it
  const char* cublas_type; // cudaDataType_t
};

constexpr DtypeInfo kDtypes[] = {
    {1, "float32", "FLOAT", "float", "", "CUDA_R_32F"},
    {10, "float16", "FLOAT16", "__half", "cuda_fp16.h", "CUDA_R_16F"},
    {16, "bfloat16", "BFLOAT16", "__nv_bfloat16", "cuda_bf16.h", "CUDA_R_16BF"},
};

Result<DtypeInfo> dtype_info(int32_t dtype, std::string_view what) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.code == dtype) return info;
  }
  return unsupported(std::string(what) + " template: dtype " + std::to_string(dtype) +
                     " is not supported (float32 = 1, float16 = 10 and bfloat16 = 16 are)");
}

/// The storage type T and its conversions to and from float32 (round to nearest even).
std::string dtype_block(const DtypeInfo& dt, Target target, bool conversions) {
  if (!conversions) {
    return fill("constexpr int32_t kDtype = @CODE@;  // ONNX TensorProto.@ENUM@\nusing T = @TYPE@;  // storage type\n",
                {{"CODE", std::to_string(dt.code)},
                 {"ENUM", dt.onnx_enum},
                 {"TYPE", target == Target::kCuda ? dt.cuda_type : (dt.code == 1 ? "float" : "uint16_t")}});
  }
  if (target == Target::kCuda) {
    if (dt.code == 1) {
      return R"(constexpr int32_t kDtype = 1;  // ONNX TensorProto.FLOAT
using T = float;               // storage type; arithmetic is float32
__device__ __forceinline__ float to_float(T v) { return v; }
__device__ __forceinline__ T from_float(float f) { return f; }
)";
    }
    return fill(R"(constexpr int32_t kDtype = @CODE@;  // ONNX TensorProto.@ENUM@
using T = @TYPE@;  // storage type; arithmetic is float32, rounded to nearest even on store
__device__ __forceinline__ float to_float(T v) { return @TO@(v); }
__device__ __forceinline__ T from_float(float f) { return @FROM@(f); }
)",
                {{"CODE", std::to_string(dt.code)},
                 {"ENUM", dt.onnx_enum},
                 {"TYPE", dt.cuda_type},
                 {"TO", dt.code == 10 ? "__half2float" : "__bfloat162float"},
                 {"FROM", dt.code == 10 ? "__float2half_rn" : "__float2bfloat16_rn"}});
  }
  switch (dt.code) {
    case 1:
      return R"(constexpr int32_t kDtype = 1;  // ONNX TensorProto.FLOAT
using T = float;               // storage type; arithmetic is float32
inline float to_float(T v) { return v; }
inline T from_float(float f) { return f; }
)";
    case 10:
      return R"(constexpr int32_t kDtype = 10;  // ONNX TensorProto.FLOAT16
using T = uint16_t;             // IEEE binary16 bits; arithmetic is float32

inline float to_float(T h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

// Rounds to nearest even; values from 65520 up become inf, NaN stays a (quiet) NaN.
inline T from_float(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  const uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint32_t h;
  if (x >= 0x47800000u) {  // |f| >= 65536, inf or NaN
    h = x > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (x < 0x38800000u) {  // |f| < 2^-14: a subnormal half (or zero)
    // Adding 0.5f puts the value's 2^-24 units in float's last mantissa bits, so the FPU
    // does the rounding; the difference of the bit patterns is the half's bit pattern.
    const uint32_t half_bits = 0x3f000000u;  // 0.5f
    float v, half;
    memcpy(&v, &x, sizeof v);
    memcpy(&half, &half_bits, sizeof half);
    v += half;
    uint32_t v_bits;
    memcpy(&v_bits, &v, sizeof v_bits);
    h = v_bits - half_bits;
  } else {
    const uint32_t mantissa_odd = (x >> 13) & 1u;
    x += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + mantissa_odd;  // rebias, round
    h = x >> 13;
  }
  return static_cast<T>(h | (sign >> 16));
}
)";
    default:
      return R"(constexpr int32_t kDtype = 16;  // ONNX TensorProto.BFLOAT16
using T = uint16_t;             // bfloat16 bits (the high half of a float32); arithmetic is float32

inline float to_float(T v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

// Rounds to nearest even; NaN stays a (quiet) NaN.
inline T from_float(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<T>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<T>(x >> 16);
}
)";
  }
}

enum ErrorCode { kErrArgCount = 1, kErrDtype, kErrRank, kErrShape, kErrLayout, kErrTooLarge, kErrCuda, kErrCublas };

/// The return-code table of a generated source: the same numbers in every template, so a
/// code means the same thing in every starter.
std::string error_codes(const std::vector<ErrorCode>& codes) {
  struct Row {
    ErrorCode code;
    const char* name;
    const char* meaning;
  };
  static const Row kRows[] = {
      {kErrArgCount, "kErrArgCount", "num_inputs / num_outputs differ from what this kernel takes"},
      {kErrDtype, "kErrDtype", "a tensor's dtype is not the one this kernel was generated for"},
      {kErrRank, "kErrRank", "a tensor's rank is out of range"},
      {kErrShape, "kErrShape", "shapes do not fit together (broadcast, row length, output shape)"},
      {kErrLayout, "kErrLayout", "a stride pattern this kernel does not handle"},
      {kErrTooLarge, "kErrTooLarge", "a size exceeds cuBLAS's int arguments"},
      {kErrCuda, "kErrCuda", "a CUDA call or kernel launch failed"},
      {kErrCublas, "kErrCublas", "cuBLAS returned an error (or its handle could not be created)"},
  };
  std::string out = "// Return codes: 0 on success, else the first check that failed.\nenum : int {\n  kOk = 0,\n";
  for (const Row& row : kRows) {
    bool used = false;
    for (ErrorCode code : codes) used = used || code == row.code;
    if (!used) continue;
    std::string line = "  " + std::string(row.name) + " = " + std::to_string(static_cast<int>(row.code)) + ",";
    line.resize(22, ' ');
    out += line + "// " + row.meaning + "\n";
  }
  return out + "};\n";
}

struct Head {
  std::string title;        // first line, e.g. "elementwise chain"
  std::string description;  // comment lines, already prefixed with "//"
  std::vector<std::string> includes;
  std::vector<ErrorCode> codes;
  bool cublas = false;
  bool numel = false;         // emit the numel() helper
  bool conversions = true;    // emit to_float() / from_float()
};

/// Everything up to and including the dtype block, inside an open anonymous namespace.
std::string head(const Head& h, const DtypeInfo& dt, Target target) {
  const bool cuda = target == Target::kCuda;
  std::string build = cuda ? "nvcc -O3 -std=c++17 -shared -Xcompiler -fPIC -arch=sm_90a starter.cu"
                           : "g++ -O3 -march=native -fopenmp -fPIC -shared -std=c++17 starter.cpp";
  if (h.cublas) build += " -lcublas";
  std::string out = fill(R"(// autokernel starter kernel: @TITLE@ (@TARGET@, @DTYPE@)
//
// Generated by autokernel (kernels/templates.cpp) as a correct starting point: it passes
// the verifier as it stands. Make it faster without changing what it computes.
//
@DESCRIPTION@//
// ABI (autokernel_kernel.h): every tensor is an ak_tensor {data, dtype, rank, shape[],
// strides[]}, strides in elements, data a @POINTERS@ pointer. Outputs are preallocated by
// the caller, contiguous and correctly shaped. `stream` is @STREAM@.
// Build (autokernel adds -I for autokernel_kernel.h): @BUILD@

#include <autokernel_kernel.h>

)",
                         {{"TITLE", h.title},
                          {"TARGET", cuda ? "CUDA" : "CPU"},
                          {"DTYPE", dt.name},
                          {"DESCRIPTION", h.description},
                          {"POINTERS", cuda ? "device" : "host"},
                          {"STREAM", cuda ? "the cudaStream_t to launch on" : "NULL on the CPU"},
                          {"BUILD", build}});
  std::vector<std::string> includes = h.includes;
  if (cuda) {
    includes.insert(includes.begin(), "cuda_runtime.h");
    if (*dt.cuda_header) includes.push_back(dt.cuda_header);
    if (h.cublas) includes.push_back("cublas_v2.h");
  } else {
    includes.push_back("string.h");
  }
  includes.push_back("math.h");
  includes.push_back("stdint.h");
  for (const std::string& include : includes) out += "#include <" + include + ">\n";
  out += "\nnamespace {\n\n" + error_codes(h.codes) + "\n" + dtype_block(dt, target, h.conversions);
  if (!h.numel) return out;
  out += "\n";
  out += R"(// Elements of `t` (1 for rank 0), or -1 when a dim is negative.
inline int64_t numel(const ak_tensor& t) {
  int64_t n = 1;
  for (int d = 0; d < t.rank; ++d) {
    if (t.shape[d] < 0) return -1;
    n *= t.shape[d];
  }
  return n;
}
)";
  return out;
}

/// "__device__ __forceinline__" or "inline": the qualifier of per-element helpers.
const char* element_fn(Target target) { return target == Target::kCuda ? "__device__ __forceinline__" : "inline"; }

// ---------------------------------------------------------------------------------------
// Elementwise ops

struct OpDef {
  const char* name;
  int min_operands, max_operands;        // max -1: variadic
  std::vector<std::string> attributes;   // numeric attributes the op accepts
};

const std::vector<OpDef>& op_defs() {
  static const std::vector<OpDef> kOps = {
      {"Add", 2, 2, {}},         {"Sub", 2, 2, {}},          {"Mul", 2, 2, {}},
      {"Div", 2, 2, {}},         {"Pow", 2, 2, {}},          {"Max", 1, -1, {}},
      {"Min", 1, -1, {}},        {"Neg", 1, 1, {}},          {"Abs", 1, 1, {}},
      {"Exp", 1, 1, {}},         {"Log", 1, 1, {}},          {"Sqrt", 1, 1, {}},
      {"Reciprocal", 1, 1, {}},  {"Sigmoid", 1, 1, {}},      {"Tanh", 1, 1, {}},
      {"Relu", 1, 1, {}},        {"LeakyRelu", 1, 1, {"alpha"}},
      {"Elu", 1, 1, {"alpha"}},  {"Selu", 1, 1, {"alpha", "gamma"}},
      {"HardSigmoid", 1, 1, {"alpha", "beta"}},             {"HardSwish", 1, 1, {}},
      {"Softplus", 1, 1, {}},    {"Softsign", 1, 1, {}},     {"Erf", 1, 1, {}},
      {"Gelu", 1, 1, {"approximate"}},                       {"Clip", 1, 1, {"min", "max"}},
      {"Sin", 1, 1, {}},         {"Cos", 1, 1, {}},          {"Floor", 1, 1, {}},
      {"Ceil", 1, 1, {}},        {"Round", 1, 1, {}},        {"Sign", 1, 1, {}},
      {"Identity", 1, 1, {}},
  };
  return kOps;
}

/// Helper functions the step expressions call, emitted only when used (in this order).
/// `@FN@` is the target's qualifier.
struct Helper {
  const char* name;
  const char* text;
};

const std::vector<Helper>& helpers() {
  static const std::vector<Helper> kHelpers = {
      {"max_nan", R"(// ONNX Max/Min propagate NaN (as torch.maximum does); fmaxf/fminf would drop it.
@FN@ float max_nan(float a, float b) { return (isnan(a) || isnan(b)) ? a + b : (a > b ? a : b); }
)"},
      {"min_nan", R"(@FN@ float min_nan(float a, float b) { return (isnan(a) || isnan(b)) ? a + b : (a < b ? a : b); }
)"},
      {"sigmoid", R"(@FN@ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
)"},
      {"relu", R"(// x < 0 ? 0 : x keeps NaN (a NaN compares false).
@FN@ float relu(float x) { return x < 0.0f ? 0.0f : x; }
)"},
      {"leaky_relu", R"(@FN@ float leaky_relu(float x, float alpha) { return x < 0.0f ? alpha * x : x; }
)"},
      {"elu", R"(@FN@ float elu(float x, float alpha) { return x < 0.0f ? alpha * expm1f(x) : x; }
)"},
      {"selu", R"(// gamma * (alpha * e^x - alpha) for x <= 0, gamma * x otherwise.
@FN@ float selu(float x, float alpha, float gamma) { return x > 0.0f ? gamma * x : gamma * alpha * expm1f(x); }
)"},
      {"hard_sigmoid", R"(// max(0, min(1, alpha * x + beta)), NaN kept.
@FN@ float hard_sigmoid(float x, float alpha, float beta) {
  const float v = alpha * x + beta;
  return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}
)"},
      {"hard_swish", R"(// x * max(0, min(1, x / 6 + 0.5)).
@FN@ float hard_swish(float x) {
  const float v = x * (1.0f / 6.0f) + 0.5f;
  return x * (v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v));
}
)"},
      {"softplus", R"(// log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
@FN@ float softplus(float x) { return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
)"},
      {"gelu", R"(// Gelu, approximate = "none": 0.5 * x * (1 + erf(x / sqrt(2))).
@FN@ float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.707106781186547524f)); }
)"},
      {"gelu_tanh", R"(// Gelu, approximate = "tanh": 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
@FN@ float gelu_tanh(float x) {
  const float inner = 0.797884560802865355f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhf(inner));
}
)"},
      {"clip", R"(// min(max(x, lo), hi) as ONNX Clip orders them (hi wins when lo > hi); NaN kept.
@FN@ float clip(float x, float lo, float hi) {
  const float v = x < lo ? lo : x;
  return v > hi ? hi : v;
}
)"},
      {"sign", R"(// -1, 0 or 1; a zero keeps its sign, NaN stays NaN.
@FN@ float sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }
)"},
  };
  return kHelpers;
}

double attribute_or(const ElementwiseStep& step, const std::string& name, double fallback) {
  const auto it = step.attributes.find(name);
  return it == step.attributes.end() ? fallback : it->second;
}

/// The float expression of one step, given its operands' expressions. Adds the helpers it
/// calls to `used`.
Result<std::string> step_expression(const ElementwiseStep& step, const std::vector<std::string>& a,
                                    std::set<std::string>* used) {
  const std::string& op = step.op;
  auto call = [&](const char* helper, const std::vector<std::string>& args) {
    used->insert(helper);
    return std::string(helper) + "(" + join(args, ", ") + ")";
  };
  if (op == "Add") return a[0] + " + " + a[1];
  if (op == "Sub") return a[0] + " - " + a[1];
  if (op == "Mul") return a[0] + " * " + a[1];
  if (op == "Div") return a[0] + " / " + a[1];
  if (op == "Pow") {
    // x^2 is common (variance, squared error) and x * x is exactly powf(x, 2).
    if (step.operands[1].kind == Operand::Kind::kConstant && step.operands[1].value == 2.0) return a[0] + " * " + a[0];
    return "powf(" + a[0] + ", " + a[1] + ")";
  }
  if (op == "Max" || op == "Min") {
    std::string expr = a[0];
    for (size_t i = 1; i < a.size(); ++i) expr = call(op == "Max" ? "max_nan" : "min_nan", {expr, a[i]});
    return expr;
  }
  if (op == "Neg") return "-" + a[0];
  if (op == "Abs") return "fabsf(" + a[0] + ")";
  if (op == "Exp") return "expf(" + a[0] + ")";
  if (op == "Log") return "logf(" + a[0] + ")";
  if (op == "Sqrt") return "sqrtf(" + a[0] + ")";
  if (op == "Reciprocal") return "1.0f / " + a[0];
  if (op == "Sigmoid") return call("sigmoid", {a[0]});
  if (op == "Tanh") return "tanhf(" + a[0] + ")";
  if (op == "Relu") return call("relu", {a[0]});
  if (op == "LeakyRelu") return call("leaky_relu", {a[0], float_literal(attribute_or(step, "alpha", 0.01))});
  if (op == "Elu") return call("elu", {a[0], float_literal(attribute_or(step, "alpha", 1.0))});
  if (op == "Selu") {
    return call("selu", {a[0], float_literal(attribute_or(step, "alpha", 1.67326319217681884765625)),
                         float_literal(attribute_or(step, "gamma", 1.05070102214813232421875))});
  }
  if (op == "HardSigmoid") {
    return call("hard_sigmoid",
                {a[0], float_literal(attribute_or(step, "alpha", 0.2)), float_literal(attribute_or(step, "beta", 0.5))});
  }
  if (op == "HardSwish") return call("hard_swish", {a[0]});
  if (op == "Softplus") return call("softplus", {a[0]});
  if (op == "Softsign") return a[0] + " / (1.0f + fabsf(" + a[0] + "))";
  if (op == "Erf") return "erff(" + a[0] + ")";
  if (op == "Gelu") {
    const double approximate = attribute_or(step, "approximate", 0);
    if (approximate != 0 && approximate != 1) {
      return invalid_input("Gelu attribute approximate = " + std::to_string(approximate) + " (0 = none, 1 = tanh)");
    }
    return call(approximate == 0 ? "gelu" : "gelu_tanh", {a[0]});
  }
  if (op == "Clip") {
    return call("clip", {a[0], float_literal(attribute_or(step, "min", -INFINITY)),
                         float_literal(attribute_or(step, "max", INFINITY))});
  }
  if (op == "Sin") return "sinf(" + a[0] + ")";
  if (op == "Cos") return "cosf(" + a[0] + ")";
  if (op == "Floor") return "floorf(" + a[0] + ")";
  if (op == "Ceil") return "ceilf(" + a[0] + ")";
  if (op == "Round") return "rintf(" + a[0] + ")";  // the default rounding mode: half to even
  if (op == "Sign") return call("sign", {a[0]});
  if (op == "Identity") return a[0];
  return internal_error("elementwise op '" + op + "' is listed but has no expression");
}

/// The shortest text that reads back as `value` ("0.1", "-inf").
std::string number_text(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

/// "LeakyRelu(s0, alpha=0.1)" for the header comment.
std::string describe_step(const ElementwiseStep& step, const std::vector<std::string>& args) {
  std::vector<std::string> parts = args;
  for (const auto& [name, value] : step.attributes) parts.push_back(name + "=" + number_text(value));
  return step.op + "(" + join(parts, ", ") + ")";
}

Status check_step(const ElementwiseChain& chain, size_t index) {
  const ElementwiseStep& step = chain.steps[index];
  const std::string where = "elementwise step " + std::to_string(index) + " (" + step.op + ")";
  const OpDef* def = nullptr;
  for (const OpDef& candidate : op_defs()) {
    if (step.op == candidate.name) def = &candidate;
  }
  if (!def) return unsupported(where + ": op type is not covered by the elementwise template");
  const int count = static_cast<int>(step.operands.size());
  if (count < def->min_operands || (def->max_operands >= 0 && count > def->max_operands)) {
    return invalid_input(where + ": " + std::to_string(count) + " operands, expected " +
                         std::to_string(def->min_operands) +
                         (def->max_operands == def->min_operands ? "" : " or more"));
  }
  for (const auto& [name, value] : step.attributes) {
    bool known = false;
    for (const std::string& attribute : def->attributes) known = known || attribute == name;
    if (!known) return unsupported(where + ": attribute '" + name + "' is not supported");
    if (std::isnan(value)) return invalid_input(where + ": attribute '" + name + "' is NaN");
  }
  for (const Operand& operand : step.operands) {
    if (operand.kind == Operand::Kind::kInput && (operand.index < 0 || operand.index >= chain.num_inputs)) {
      return invalid_input(where + ": input operand " + std::to_string(operand.index) + " out of range (" +
                           std::to_string(chain.num_inputs) + " inputs)");
    }
    if (operand.kind == Operand::Kind::kStep && (operand.index < 0 || operand.index >= static_cast<int>(index))) {
      return invalid_input(where + ": step operand " + std::to_string(operand.index) +
                           " does not name an earlier step");
    }
  }
  return Status::ok();
}

// The parts of the elementwise source after the per-element function. @N@ is kNumInputs.
constexpr const char* kElementwiseLayout = R"(
// y's shape and, for each input, the stride (in elements) to step along each of y's dims:
// the input's own stride, or 0 where the input is broadcast (a size-1 or missing dim).
struct Layout {
  int rank = 1;  // y's rank; a rank-0 y is treated as shape [1]
  int64_t shape[AK_MAX_RANK] = {};
  int64_t stride[kNumInputs][AK_MAX_RANK] = {};
  int64_t numel = 1;
  bool same_as_output = true;  // every input is laid out exactly like y: the flat fast path
};

// Checks dtypes, ranks and shapes (ONNX multidirectional broadcasting: dims aligned from
// the right, each input dim equal to y's or 1, and y exactly the broadcast of the inputs).
inline int make_layout(const ak_tensor* inputs, const ak_tensor& y, Layout* layout) {
  if (y.dtype != kDtype) return kErrDtype;
  if (y.rank < 0 || y.rank > AK_MAX_RANK) return kErrRank;
  const int rank = y.rank > 0 ? y.rank : 1;
  layout->rank = rank;
  bool covered[AK_MAX_RANK] = {};  // some input has y's size along this dim
  for (int d = 0; d < rank; ++d) {
    layout->shape[d] = y.rank > 0 ? y.shape[d] : 1;
    if (layout->shape[d] < 0) return kErrShape;
    layout->numel *= layout->shape[d];
    covered[d] = layout->shape[d] == 1;
  }
  for (int k = 0; k < kNumInputs; ++k) {
    const ak_tensor& x = inputs[k];
    if (x.dtype != kDtype) return kErrDtype;
    if (x.rank < 0 || x.rank > y.rank) return kErrRank;
    const int lead = rank - x.rank;  // x's dims line up with y's last x.rank dims
    int64_t contiguous_stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t size = d >= lead ? x.shape[d - lead] : 1;
      if (size == layout->shape[d]) {
        layout->stride[k][d] = d >= lead ? x.strides[d - lead] : 0;
        covered[d] = true;
      } else if (size == 1) {
        layout->stride[k][d] = 0;
      } else {
        return kErrShape;
      }
      if (layout->shape[d] != 1 && layout->stride[k][d] != contiguous_stride) layout->same_as_output = false;
      contiguous_stride *= layout->shape[d];
    }
  }
  for (int d = 0; d < rank; ++d) {
    if (!covered[d]) return kErrShape;  // y is larger than the broadcast of the inputs
  }
  return kOk;
}
)";

constexpr const char* kElementwiseCpuEntry = R"(
}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  Layout layout;
  const int status = make_layout(inputs, outputs[0], &layout);
  if (status != kOk) return status;
  if (layout.numel == 0) return kOk;
@POINTERS@  T* y = static_cast<T*>(outputs[0].data);

  if (layout.same_as_output) {
    // Fast path: no broadcasting, element i of every input belongs to y[i].
    const int64_t n = layout.numel;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = from_float(apply(@FLAT_ARGS@));
    return kOk;
  }

  // Broadcast path: one parallel iteration per row of y's last dim; each input's row start
  // comes from its broadcast strides, and it steps along the row by its last stride
  // (0 when it is broadcast along the row).
  const int rank = layout.rank;
  const int64_t row_length = layout.shape[rank - 1];
  const int64_t rows = layout.numel / row_length;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset[kNumInputs] = {};
    int64_t rest = row;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t coordinate = rest % layout.shape[d];
      rest /= layout.shape[d];
      for (int k = 0; k < kNumInputs; ++k) offset[k] += coordinate * layout.stride[k][d];
    }
@ROW_POINTERS@    T* y_row = y + row * row_length;
    for (int64_t j = 0; j < row_length; ++j) y_row[j] = from_float(apply(@ROW_ARGS@));
  }
  return kOk;
}
)";

constexpr const char* kElementwiseCudaEntry = R"(
// Kernel arguments, passed by value (they live in the kernel's constant parameter space).
struct Params {
  const T* x[kNumInputs];
  T* y;
  Layout layout;
};

// Fast path: no broadcasting, element i of every input belongs to y[i].
__global__ void elementwise_flat(Params p) {
  const int64_t n = p.layout.numel;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    p.y[i] = from_float(apply(@FLAT_ARGS@));
  }
}

// Broadcast path: each thread turns its flat index into y's coordinates and each input's
// offset (broadcast strides are 0).
__global__ void elementwise_broadcast(Params p) {
  const int64_t n = p.layout.numel;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t offset[kNumInputs] = {};
    int64_t rest = i;
    for (int d = p.layout.rank - 1; d >= 0; --d) {
      const int64_t coordinate = rest % p.layout.shape[d];
      rest /= p.layout.shape[d];
#pragma unroll
      for (int k = 0; k < kNumInputs; ++k) offset[k] += coordinate * p.layout.stride[k][d];
    }
    p.y[i] = from_float(apply(@OFFSET_ARGS@));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  Params p;
  const int status = make_layout(inputs, outputs[0], &p.layout);
  if (status != kOk) return status;
  if (p.layout.numel == 0) return kOk;
  for (int k = 0; k < kNumInputs; ++k) p.x[k] = static_cast<const T*>(inputs[k].data);
  p.y = static_cast<T*>(outputs[0].data);

  // Enough 256-thread blocks to fill the GPU; the grid-stride loops cover the rest.
  constexpr int kThreads = 256;
  constexpr int64_t kMaxBlocks = 4096;
  const int64_t wanted = (p.layout.numel + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (p.layout.same_as_output) {
    elementwise_flat<<<blocks, kThreads, 0, s>>>(p);
  } else {
    elementwise_broadcast<<<blocks, kThreads, 0, s>>>(p);
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
)";

// ---------------------------------------------------------------------------------------
// Row-wise ops

const char* rowwise_name(RowwiseSpec::Kind kind) {
  switch (kind) {
    case RowwiseSpec::Kind::kSoftmax: return "Softmax";
    case RowwiseSpec::Kind::kLogSoftmax: return "LogSoftmax";
    case RowwiseSpec::Kind::kLayerNorm: return "LayerNormalization";
    case RowwiseSpec::Kind::kRmsNorm: return "RMSNormalization";
  }
  return "?";
}

// Per-row bodies. In scope: `x` (the row's first element), `step` (x's stride along the
// row), `D` (row length), `y` (the row of the output, contiguous), `p` (Params); `ACC` is
// the accumulator type and `FOR_J` the loop over this thread's share of the row.
constexpr const char* kSoftmaxBody = R"(  // Subtracting the row max keeps expf() from overflowing (numerically stable softmax).
  float max_value = -INFINITY;
  @FOR_J@ max_value = fmaxf(max_value, to_float(x[j * step]));
  @CUDA@ max_value = row_max<kRowThreads>(max_value);
  @ACC@ sum = 0;
  @FOR_J@ sum += expf(to_float(x[j * step]) - max_value);
  @CUDA@ sum = row_sum<kRowThreads>(sum);
  const float inv_sum = static_cast<float>(1 / sum);
  @FOR_J@ y[j] = from_float(expf(to_float(x[j * step]) - max_value) * inv_sum);
)";

constexpr const char* kLogSoftmaxBody = R"(  // y = x - max - log(sum(exp(x - max))): the max keeps expf() from overflowing.
  float max_value = -INFINITY;
  @FOR_J@ max_value = fmaxf(max_value, to_float(x[j * step]));
  @CUDA@ max_value = row_max<kRowThreads>(max_value);
  @ACC@ sum = 0;
  @FOR_J@ sum += expf(to_float(x[j * step]) - max_value);
  @CUDA@ sum = row_sum<kRowThreads>(sum);
  const float shift = max_value + logf(static_cast<float>(sum));
  @FOR_J@ y[j] = from_float(to_float(x[j * step]) - shift);
)";

constexpr const char* kLayerNormBody = R"(  // Two passes (mean, then the mean of squared deviations) for an accurate variance.
  @ACC@ sum = 0;
  @FOR_J@ sum += to_float(x[j * step]);
  @CUDA@ sum = row_sum<kRowThreads>(sum);
  const float mean = static_cast<float>(sum / D);
  @ACC@ squares = 0;
  @FOR_J@ {
    const float deviation = to_float(x[j * step]) - mean;
    squares += deviation * deviation;
  }
  @CUDA@ squares = row_sum<kRowThreads>(squares);
  const float inv_std_dev = 1.0f / sqrtf(static_cast<float>(squares / D) + kEpsilon);
  @FOR_J@ {
    const float normalized = (to_float(x[j * step]) - mean) * inv_std_dev;
    y[j] = from_float(normalized * to_float(p.scale[j * p.scale_step])@BIAS@);
  }
  // ONNX's optional outputs Mean and InvStdDev (float32, one value per row).
  if (@ROW_LEADER@p.mean) p.mean[r] = mean;
  if (@ROW_LEADER@p.inv_std_dev) p.inv_std_dev[r] = inv_std_dev;
)";

constexpr const char* kRmsNormBody = R"(  @ACC@ squares = 0;
  @FOR_J@ {
    const float v = to_float(x[j * step]);
    squares += v * v;
  }
  @CUDA@ squares = row_sum<kRowThreads>(squares);
  const float inv_rms = 1.0f / sqrtf(static_cast<float>(squares / D) + kEpsilon);
  @FOR_J@ y[j] = from_float(to_float(x[j * step]) * inv_rms@SCALE@);
)";

constexpr const char* kRowsLayout = R"(
// x's rows: every index of the leading dims is one row of D = x.shape[-1] elements.
struct Rows {
  int rank = 1;
  int64_t shape[AK_MAX_RANK] = {};    // x's shape
  int64_t strides[AK_MAX_RANK] = {};  // x's strides
  int64_t count = 0;                  // number of rows
  int64_t length = 0;                 // D
  int64_t step = 1;                   // x's stride along the row
};

// Offset (in elements) of row r's first element in x.
@HD@int64_t row_offset(const Rows& rows, int64_t r) {
  int64_t offset = 0;
  for (int d = rows.rank - 2; d >= 0; --d) {
    offset += (r % rows.shape[d]) * rows.strides[d];
    r /= rows.shape[d];
  }
  return offset;
}

// Kernel arguments.
struct Params {
  const T* x;
  T* y;
  Rows rows;
@PARAM_FIELDS@};
)";

// Checks shared by every row-wise kind; fills p.x, p.y, p.rows.
constexpr const char* kRowsValidate = R"(
// Checks counts, dtypes and shapes; fills `p`. Returns kOk or an error code.
int make_params(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs, int32_t num_outputs, Params* p) {
  if (num_inputs != kNumInputs || num_outputs < 1 || num_outputs > kMaxOutputs) return kErrArgCount;
  const ak_tensor& x = inputs[0];
  const ak_tensor& y = outputs[0];
  if (x.dtype != kDtype || y.dtype != kDtype) return kErrDtype;
  if (x.rank < 1 || x.rank > AK_MAX_RANK) return kErrRank;
  if (y.rank != x.rank) return kErrShape;
  Rows& rows = p->rows;
  rows.rank = x.rank;
  rows.count = 1;
  for (int d = 0; d < x.rank; ++d) {
    if (x.shape[d] < 0 || y.shape[d] != x.shape[d]) return kErrShape;
    rows.shape[d] = x.shape[d];
    rows.strides[d] = x.strides[d];
    if (d < x.rank - 1) rows.count *= x.shape[d];
  }
  rows.length = x.shape[x.rank - 1];
  rows.step = x.strides[x.rank - 1];
  p->x = static_cast<const T*>(x.data);
  p->y = static_cast<T*>(y.data);
@CHECK_EXTRA@  return kOk;
}
)";

constexpr const char* kCheckVector = R"(
// A [D] parameter (scale, bias): any shape whose last dim holds all D values.
inline int check_vector(const ak_tensor& t, int64_t D, int64_t* step) {
  if (t.dtype != kDtype) return kErrDtype;
  if (t.rank < 1 || t.rank > AK_MAX_RANK) return kErrRank;
  if (t.shape[t.rank - 1] != D || numel(t) != D) return kErrShape;
  *step = t.strides[t.rank - 1];
  return kOk;
}
)";

constexpr const char* kRowsCpuEntry = R"(
// One row: @WHAT@.
inline void compute_row(const Params& p, int64_t r) {
  const T* x = p.x + row_offset(p.rows, r);
  const int64_t step = p.rows.step;
  const int64_t D = p.rows.length;
  T* y = p.y + r * D;
@BODY@}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Params p;
  const int status = make_params(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.rows.length == 0) return kOk;
  // One row per iteration; rows are independent. Accumulators are double on the CPU.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < p.rows.count; ++r) compute_row(p, r);
  return kOk;
}
)";

constexpr const char* kRowsCudaEntry = R"(
// Sum and max over the kRowThreads threads that share a row (a warp, or a whole block);
// every one of them gets the result. Warps reduce with shuffles; a block combines its
// warps' partial results through shared memory.
template <int kRowThreads>
__device__ __forceinline__ float row_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if constexpr (kRowThreads > 32) {
    __shared__ float partial[kRowThreads / 32];
    __syncthreads();  // an earlier reduction may still be reading `partial`
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    v = threadIdx.x % 32 < kRowThreads / 32 ? partial[threadIdx.x % 32] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

template <int kRowThreads>
__device__ __forceinline__ float row_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  if constexpr (kRowThreads > 32) {
    __shared__ float partial[kRowThreads / 32];
    __syncthreads();
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    v = threadIdx.x % 32 < kRowThreads / 32 ? partial[threadIdx.x % 32] : -INFINITY;
    for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

// Per row: @WHAT@.
// One row per group of kRowThreads threads: threadIdx.x is the position in the row's group,
// threadIdx.y picks the row among the block's groups. kRowThreads = 32 (a warp per row,
// 8 rows per block) for rows of up to 1024 elements, 512 (a block per row) for longer ones.
template <int kRowThreads>
__global__ void rows_kernel(Params p) {
  const int64_t D = p.rows.length;
  const int64_t step = p.rows.step;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.y) + threadIdx.y; r < p.rows.count;
       r += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const T* x = p.x + row_offset(p.rows, r);
    T* y = p.y + r * D;
@BODY@  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Params p;
  const int status = make_params(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.rows.count == 0 || p.rows.length == 0) return kOk;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  constexpr int64_t kMaxBlocks = 65535;  // the row loop covers any remaining rows
  if (p.rows.length <= 1024) {
    constexpr int kRowsPerBlock = 8;
    const int64_t wanted = (p.rows.count + kRowsPerBlock - 1) / kRowsPerBlock;
    const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
    rows_kernel<32><<<blocks, dim3(32, kRowsPerBlock), 0, s>>>(p);
  } else {
    const int blocks = static_cast<int>(p.rows.count < kMaxBlocks ? p.rows.count : kMaxBlocks);
    rows_kernel<512><<<blocks, dim3(512, 1), 0, s>>>(p);
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
)";

// ---------------------------------------------------------------------------------------
// MatMul

constexpr const char* kMatmulStruct = R"(
// The product as batches of row-major matrices: Y[b] (M x N) = A[b] (M x K) * B[b] (K x N).
// A 1-D A ([K]) is a 1 x K matrix whose M dim is dropped from Y; a 1-D B ([K]) is a K x 1
// matrix whose N dim is dropped from Y (numpy's matmul rules).
struct Problem {
  int64_t M = 1, K = 1, N = 1;
  int batch_rank = 0;                          // Y's batch dims (all dims but the matrix ones)
  int64_t batch_shape[AK_MAX_RANK] = {};
  int64_t a_batch_stride[AK_MAX_RANK] = {};    // 0 where A is broadcast along a batch dim
  int64_t b_batch_stride[AK_MAX_RANK] = {};
  int64_t batch = 1;                           // number of matrices in Y
  int64_t a_row_stride = 0, a_col_stride = 1;  // A[b](i, k) = A_b[i * a_row_stride + k * a_col_stride]
  int64_t b_row_stride = 0, b_col_stride = 1;  // B[b](k, j) = B_b[k * b_row_stride + j * b_col_stride]
@ADDEND_FIELDS@};
)";

// The start of make_problem, shared by MatMul and Gemm: argument counts and dtypes.
constexpr const char* kProductArgs = R"(
// Checks counts, dtypes and shapes; fills `p`. Returns kOk or an error code.
int make_problem(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs, int32_t num_outputs,
                 Problem* p) {
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  const ak_tensor& a = inputs[0];
  const ak_tensor& b = inputs[1];
  const ak_tensor& y = outputs[0];
  if (a.dtype != kDtype || b.dtype != kDtype || y.dtype != kDtype) return kErrDtype;
)";

constexpr const char* kMatmulShapes = R"(
  if (a.rank < 1 || a.rank > AK_MAX_RANK || b.rank < 1 || b.rank > AK_MAX_RANK) return kErrRank;
  const bool a_vector = a.rank == 1;
  const bool b_vector = b.rank == 1;
  p->M = a_vector ? 1 : a.shape[a.rank - 2];
  p->K = a.shape[a.rank - 1];
  p->N = b_vector ? 1 : b.shape[b.rank - 1];
  if ((b_vector ? b.shape[0] : b.shape[b.rank - 2]) != p->K) return kErrShape;
  if (p->M < 0 || p->K < 0 || p->N < 0) return kErrShape;
  p->a_row_stride = a_vector ? 0 : a.strides[a.rank - 2];
  p->a_col_stride = a.strides[a.rank - 1];
  p->b_row_stride = b_vector ? b.strides[0] : b.strides[b.rank - 2];
  p->b_col_stride = b_vector ? 0 : b.strides[b.rank - 1];

  // Batch dims broadcast like elementwise dims, aligned from the right.
  const int a_batch_rank = a.rank > 2 ? a.rank - 2 : 0;
  const int b_batch_rank = b.rank > 2 ? b.rank - 2 : 0;
  p->batch_rank = a_batch_rank > b_batch_rank ? a_batch_rank : b_batch_rank;
  for (int d = 0; d < p->batch_rank; ++d) {
    const int da = d - (p->batch_rank - a_batch_rank);  // A's dim, or < 0 when A lacks it
    const int db = d - (p->batch_rank - b_batch_rank);
    const int64_t size_a = da >= 0 ? a.shape[da] : 1;
    const int64_t size_b = db >= 0 ? b.shape[db] : 1;
    if (size_a < 0 || size_b < 0 || (size_a != size_b && size_a != 1 && size_b != 1)) return kErrShape;
    const int64_t size = size_a == 1 ? size_b : size_a;
    p->batch_shape[d] = size;
    p->a_batch_stride[d] = size_a == 1 ? 0 : a.strides[da];
    p->b_batch_stride[d] = size_b == 1 ? 0 : b.strides[db];
    p->batch *= size;
  }

  // Y = [batch dims..., M unless A is 1-D, N unless B is 1-D].
  int64_t expected[AK_MAX_RANK + 2];
  int rank = 0;
  for (int d = 0; d < p->batch_rank; ++d) expected[rank++] = p->batch_shape[d];
  if (!a_vector) expected[rank++] = p->M;
  if (!b_vector) expected[rank++] = p->N;
  if (y.rank != rank) return kErrShape;
  for (int d = 0; d < rank; ++d) {
    if (y.shape[d] != expected[d]) return kErrShape;
  }
@CHECK_BIAS@  return kOk;
}
)";

constexpr const char* kBatchOffsets = R"(
// Offsets (in elements) of batch index `index`'s matrices in A and B.
inline void batch_offsets(const Problem& p, int64_t index, int64_t* a_offset, int64_t* b_offset) {
  int64_t a = 0, b = 0;
  for (int d = p.batch_rank - 1; d >= 0; --d) {
    const int64_t coordinate = index % p.batch_shape[d];
    index /= p.batch_shape[d];
    a += coordinate * p.a_batch_stride[d];
    b += coordinate * p.b_batch_stride[d];
  }
  *a_offset = a;
  *b_offset = b;
}
)";

constexpr const char* kCheckBias = R"(  // The bias (MatMul + Add epilogue): N values, any shape whose last dim holds them all.
  const ak_tensor& bias = inputs[2];
  if (bias.dtype != kDtype) return kErrDtype;
  if (bias.rank < 1 || bias.rank > AK_MAX_RANK) return kErrRank;
  if (bias.shape[bias.rank - 1] != p->N || numel(bias) != p->N) return kErrShape;
  p->bias = static_cast<const T*>(bias.data);
  p->bias_step = bias.strides[bias.rank - 1];
)";

constexpr const char* kMatmulCpuEntry = R"(
// Tile sizes: a task computes kRowBlock x kColBlock of one Y matrix; it walks K in steps of
// kDepthBlock, converting that slice of A and B to float32 tiles first (the B tile,
// 128 KiB, stays in L2; the accumulator tile, 16 KiB, in L1).
constexpr int64_t kRowBlock = 32;
constexpr int64_t kColBlock = 128;
constexpr int64_t kDepthBlock = 256;

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  const int64_t M = p.M, K = p.K, N = p.N;
  if (p.batch == 0 || M == 0 || N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);

  // Independent tasks: (batch, block of rows, block of columns).
  const int64_t row_blocks = (M + kRowBlock - 1) / kRowBlock;
  const int64_t col_blocks = (N + kColBlock - 1) / kColBlock;
  const int64_t tasks = p.batch * row_blocks * col_blocks;
#pragma omp parallel
  {
    // Per-thread tiles, float32.
    std::vector<float> a_tile(kRowBlock * kDepthBlock), b_tile(kDepthBlock * kColBlock), acc(kRowBlock * kColBlock);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t batch_index = task / (row_blocks * col_blocks);
      const int64_t i0 = (task / col_blocks % row_blocks) * kRowBlock;
      const int64_t j0 = task % col_blocks * kColBlock;
      const int64_t rows = M - i0 < kRowBlock ? M - i0 : kRowBlock;
      const int64_t cols = N - j0 < kColBlock ? N - j0 : kColBlock;
      int64_t a_offset, b_offset;
      batch_offsets(p, batch_index, &a_offset, &b_offset);
      const T* a_mat = a + a_offset;
      const T* b_mat = b + b_offset;
      for (int64_t i = 0; i < rows * kColBlock; ++i) acc[i] = 0.0f;

      for (int64_t k0 = 0; k0 < K; k0 += kDepthBlock) {
        const int64_t depth = K - k0 < kDepthBlock ? K - k0 : kDepthBlock;
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t k = 0; k < depth; ++k) {
            a_tile[i * kDepthBlock + k] = to_float(a_mat[(i0 + i) * p.a_row_stride + (k0 + k) * p.a_col_stride]);
          }
        }
        for (int64_t k = 0; k < depth; ++k) {
          for (int64_t j = 0; j < cols; ++j) {
            b_tile[k * kColBlock + j] = to_float(b_mat[(k0 + k) * p.b_row_stride + (j0 + j) * p.b_col_stride]);
          }
        }
        // The hot loop: rank-1 updates of the accumulator tile; the j loop vectorizes (FMA).
        for (int64_t i = 0; i < rows; ++i) {
          float* acc_row = &acc[i * kColBlock];
          for (int64_t k = 0; k < depth; ++k) {
            const float a_ik = a_tile[i * kDepthBlock + k];
            const float* b_row = &b_tile[k * kColBlock];
            for (int64_t j = 0; j < cols; ++j) acc_row[j] += a_ik * b_row[j];
          }
        }
      }

      T* y_mat = y + batch_index * M * N;
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          y_mat[(i0 + i) * N + j0 + j] = from_float(@Y_VALUE@);
        }
      }
    }
  }
  return kOk;
}
)";

constexpr const char* kCublasHandle = R"(
constexpr cudaDataType_t kCublasType = @CUBLAS_TYPE@;

// One cuBLAS handle per device, created on the first call and kept for the life of the
// process (cublasCreate is slow and cannot be captured in a CUDA graph: make the first call
// before any capture). The default math mode keeps float32 exact: no TF32.
cublasHandle_t handle_for_current_device() {
  constexpr int kMaxDevices = 64;
  static std::mutex mutex;
  static cublasHandle_t handles[kMaxDevices] = {};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) return nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (!handles[device]) {
    cublasHandle_t handle = nullptr;
    if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return nullptr;
    if (cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(handle);
      return nullptr;
    }
    handles[device] = handle;
  }
  return handles[device];
}
)";

constexpr const char* kMatmulCudaEntry = R"(
// Y[i] = A[i] * B[i] for `count` batches starting at a, b, y, whose offsets grow by a_step,
// b_step and M * N per batch. cuBLAS is column-major: a row-major M x N matrix is its
// column-major N x M transpose, so it computes Y^T = B^T * A^T with the operands swapped.
cublasStatus_t gemm(cublasHandle_t handle, const Problem& p, const T* a, const T* b, T* y, int64_t a_step,
                    int64_t b_step, int count) {
  const float alpha = 1.0f, beta = 0.0f;  // float32 accumulation and scaling
  return cublasGemmStridedBatchedEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(p.N), static_cast<int>(p.M),
                                    static_cast<int>(p.K), &alpha, b, kCublasType, static_cast<int>(p.b_row_stride),
                                    b_step, a, kCublasType, static_cast<int>(p.a_row_stride), a_step, &beta, y,
                                    kCublasType, static_cast<int>(p.N), p.M * p.N, count, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT);
}
@BIAS_KERNEL@
}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.batch == 0 || p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  if (p.K == 0) {
    // An empty sum: Y is all zeros (then the bias).
    if (cudaMemsetAsync(y, 0, p.batch * p.M * p.N * sizeof(T), s) != cudaSuccess) return kErrCuda;
  } else {
    // cuBLAS takes row-major matrices whose columns are contiguous, with int sizes and
    // leading dims; a vector operand's "rows" are its elements (p.M or p.N is 1).
    const int64_t kIntMax = 2147483647;
    if (p.M > kIntMax || p.N > kIntMax || p.K > kIntMax || p.batch > kIntMax) return kErrTooLarge;
    if (p.M > 1) {
      if (p.a_col_stride != 1 || p.a_row_stride < p.K || p.a_row_stride > kIntMax) return kErrLayout;
    } else {
      if (p.K > 1 && p.a_col_stride != 1) return kErrLayout;
      p.a_row_stride = p.K;
    }
    if (p.N > 1 && p.b_col_stride != 1) return kErrLayout;
    if (p.b_row_stride < p.N || p.b_row_stride > kIntMax) {
      if (p.K > 1) return kErrLayout;
      p.b_row_stride = p.N;  // a single row of B: its row stride is never used
    }
    cublasHandle_t handle = handle_for_current_device();
    if (!handle || cublasSetStream(handle, s) != CUBLAS_STATUS_SUCCESS) return kErrCublas;

    // One strided-batched call when A's and B's batch offsets grow linearly with the batch
    // index (a regular stack, or broadcast = step 0); otherwise one call per batch.
    int64_t a_step = 0, b_step = 0;
    if (p.batch > 1) batch_offsets(p, 1, &a_step, &b_step);
    bool linear = true;
    for (int64_t i = 0; i < p.batch && linear; ++i) {
      int64_t a_offset, b_offset;
      batch_offsets(p, i, &a_offset, &b_offset);
      linear = a_offset == i * a_step && b_offset == i * b_step;
    }
    if (linear) {
      if (gemm(handle, p, a, b, y, a_step, b_step, static_cast<int>(p.batch)) != CUBLAS_STATUS_SUCCESS) return kErrCublas;
    } else {
      for (int64_t i = 0; i < p.batch; ++i) {
        int64_t a_offset, b_offset;
        batch_offsets(p, i, &a_offset, &b_offset);
        if (gemm(handle, p, a + a_offset, b + b_offset, y + i * p.M * p.N, 0, 0, 1) != CUBLAS_STATUS_SUCCESS) {
          return kErrCublas;
        }
      }
    }
  }
@BIAS_LAUNCH@  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
)";

constexpr const char* kBiasKernel = R"(
// The MatMul + Add epilogue: y[row, j] += bias[j] over all batch * M rows of Y.
// (cuBLASLt's CUBLASLT_EPILOGUE_BIAS would fuse this into the GEMM.)
__global__ void add_bias(T* y, const T* bias, int64_t bias_step, int64_t n, int64_t N) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = from_float(to_float(y[i]) + to_float(bias[(i % N) * bias_step]));
  }
}
)";

constexpr const char* kBiasLaunch = R"(  {
    const int64_t n = p.batch * p.M * p.N;
    constexpr int kThreads = 256;
    constexpr int64_t kMaxBlocks = 4096;
    const int64_t wanted = (n + kThreads - 1) / kThreads;
    const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
    add_bias<<<blocks, kThreads, 0, s>>>(y, p.bias, p.bias_step, n, p.N);
  }
)";

// ---------------------------------------------------------------------------------------
// Gemm (the MatMul struct with one batch, A and B read through their transposes)

constexpr const char* kGemmShapes = R"(
  if (a.rank != 2 || b.rank != 2 || y.rank != 2) return kErrRank;
  // A' = transA ? A^T : A is M x K; B' = transB ? B^T : B is K x N. Reading A^T is reading A
  // with its two strides swapped.
  p->M = a.shape[kTransA ? 1 : 0];
  p->K = a.shape[kTransA ? 0 : 1];
  p->a_row_stride = a.strides[kTransA ? 1 : 0];
  p->a_col_stride = a.strides[kTransA ? 0 : 1];
  p->N = b.shape[kTransB ? 0 : 1];
  p->b_row_stride = b.strides[kTransB ? 1 : 0];
  p->b_col_stride = b.strides[kTransB ? 0 : 1];
  if (b.shape[kTransB ? 1 : 0] != p->K || p->M < 0 || p->K < 0 || p->N < 0) return kErrShape;
  if (y.shape[0] != p->M || y.shape[1] != p->N) return kErrShape;
@CHECK_C@  return kOk;
}
)";

constexpr const char* kCheckC = R"(  // C broadcasts to [M, N] from the right: a scalar, [N] or [1], or [M or 1, N or 1].
  const ak_tensor& c = inputs[2];
  if (c.dtype != kDtype) return kErrDtype;
  if (c.rank > 2) return kErrRank;
  const int64_t c_rows = c.rank == 2 ? c.shape[0] : 1;
  const int64_t c_cols = c.rank >= 1 ? c.shape[c.rank - 1] : 1;
  if ((c_rows != p->M && c_rows != 1) || (c_cols != p->N && c_cols != 1)) return kErrShape;
  p->c = static_cast<const T*>(c.data);
  p->c_row_stride = c_rows == 1 ? 0 : c.strides[0];
  p->c_col_stride = c_cols == 1 ? 0 : c.strides[c.rank - 1];
)";

constexpr const char* kGemmCudaEntry = R"(
// How cuBLAS reads an operand of the swapped product (see below), a rows x cols row-major
// view with the given strides: a unit column stride is the operand as stored (CUBLAS_OP_N)
// with the row stride as leading dim; a unit row stride is its transpose (CUBLAS_OP_T) with
// the column stride. A single row or column may have any stride there. False otherwise.
bool cublas_operand(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride, cublasOperation_t* op,
                    int* ld) {
  const int64_t kIntMax = 2147483647;
  if (col_stride == 1 || cols == 1) {
    const int64_t l = rows == 1 ? cols : row_stride;
    if (l >= cols && l <= kIntMax) {
      *op = CUBLAS_OP_N;
      *ld = static_cast<int>(l);
      return true;
    }
  }
  if (row_stride == 1 || rows == 1) {
    const int64_t l = cols == 1 ? rows : col_stride;
    if (l >= rows && l <= kIntMax) {
      *op = CUBLAS_OP_T;
      *ld = static_cast<int>(l);
      return true;
    }
  }
  return false;
}
@C_KERNEL@
}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  if (p.K == 0) {
    // An empty sum: alpha * A'B' is all zeros.
    if (cudaMemsetAsync(y, 0, p.M * p.N * sizeof(T), s) != cudaSuccess) return kErrCuda;
  } else {
    const int64_t kIntMax = 2147483647;
    if (p.M > kIntMax || p.N > kIntMax || p.K > kIntMax) return kErrTooLarge;
    // cuBLAS is column-major: the row-major M x N matrix Y is its column-major N x M
    // transpose, so it computes Y^T = B'^T * A'^T with the operands swapped.
    cublasOperation_t op_a, op_b;
    int lda = 0, ldb = 0;
    if (!cublas_operand(p.M, p.K, p.a_row_stride, p.a_col_stride, &op_a, &lda)) return kErrLayout;
    if (!cublas_operand(p.K, p.N, p.b_row_stride, p.b_col_stride, &op_b, &ldb)) return kErrLayout;
    cublasHandle_t handle = handle_for_current_device();
    if (!handle || cublasSetStream(handle, s) != CUBLAS_STATUS_SUCCESS) return kErrCublas;
    const float alpha = kAlpha, beta = 0.0f;  // float32 accumulation and scaling; C is added after
    if (cublasGemmEx(handle, op_b, op_a, static_cast<int>(p.N), static_cast<int>(p.M), static_cast<int>(p.K), &alpha,
                     b, kCublasType, ldb, a, kCublasType, lda, &beta, y, kCublasType, static_cast<int>(p.N),
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
      return kErrCublas;
    }
  }
@C_LAUNCH@  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
)";

constexpr const char* kCKernel = R"(
// The C term: y[i, j] += beta * C(i, j), C broadcast to [M, N] by zero strides.
// (cuBLAS's own beta would need C copied into Y first; cuBLASLt's bias epilogue covers [N].)
__global__ void add_c(T* y, const T* c, int64_t c_row_stride, int64_t c_col_stride, int64_t n, int64_t N) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float term = to_float(c[(i / N) * c_row_stride + (i % N) * c_col_stride]);
    y[i] = from_float(to_float(y[i]) + kBeta * term);
  }
}
)";

constexpr const char* kCLaunch = R"(  {
    const int64_t n = p.M * p.N;
    constexpr int kThreads = 256;
    constexpr int64_t kMaxBlocks = 4096;
    const int64_t wanted = (n + kThreads - 1) / kThreads;
    const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
    add_c<<<blocks, kThreads, 0, s>>>(y, p.c, p.c_row_stride, p.c_col_stride, n, p.N);
  }
)";

}  // namespace

// ---------------------------------------------------------------------------------------
// Public generators

const std::vector<std::string>& supported_elementwise_ops() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const OpDef& def : op_defs()) names.push_back(def.name);
    return names;
  }();
  return kNames;
}

Result<std::string> elementwise_chain_source(const ElementwiseChain& chain, Target target) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(chain.dtype, "elementwise"));
  if (chain.num_inputs < 1) return invalid_input("elementwise chain: needs at least one input");
  if (chain.num_inputs > 64) return invalid_input("elementwise chain: more than 64 inputs");
  if (chain.steps.empty()) return invalid_input("elementwise chain: no steps");
  for (size_t i = 0; i < chain.steps.size(); ++i) AK_RETURN_IF_ERROR(check_step(chain, i));

  // Which inputs and steps are read, so that unread ones are marked [[maybe_unused]].
  std::vector<bool> input_used(chain.num_inputs, false), step_used(chain.steps.size(), false);
  step_used.back() = true;
  for (const ElementwiseStep& step : chain.steps) {
    for (const Operand& operand : step.operands) {
      if (operand.kind == Operand::Kind::kInput) input_used[operand.index] = true;
      if (operand.kind == Operand::Kind::kStep) step_used[operand.index] = true;
    }
  }

  std::set<std::string> used_helpers;
  std::string body, description;
  for (size_t i = 0; i < chain.steps.size(); ++i) {
    const ElementwiseStep& step = chain.steps[i];
    std::vector<std::string> args, names;
    for (const Operand& operand : step.operands) {
      switch (operand.kind) {
        case Operand::Kind::kInput: args.push_back("x" + std::to_string(operand.index)); break;
        case Operand::Kind::kStep: args.push_back("s" + std::to_string(operand.index)); break;
        case Operand::Kind::kConstant: args.push_back(float_literal(operand.value)); break;
      }
      names.push_back(operand.kind == Operand::Kind::kConstant ? number_text(operand.value) : args.back());
    }
    AK_ASSIGN_OR_RETURN(std::string expr, step_expression(step, args, &used_helpers));
    const std::string name = "s" + std::to_string(i);
    body += std::string("  ") + (step_used[i] ? "" : "[[maybe_unused]] ") + "const float " + name + " = " + expr +
            ";  // " + step.op + "\n";
    description += "//   " + name + " = " + describe_step(step, names) + "\n";
  }
  body += "  return s" + std::to_string(chain.steps.size() - 1) + ";\n";
  description += "//   y  = s" + std::to_string(chain.steps.size() - 1) + "\n";

  const std::string n = std::to_string(chain.num_inputs);
  const std::string last = std::to_string(chain.num_inputs - 1);
  Head h;
  h.title = "elementwise chain";
  h.description = "// What it computes, per element of the output y (inputs x0..x" + last +
                  " broadcast to y's shape):\n" + description +
                  "// Inputs:  " + n + " tensors x0..x" + last + ", " + dt.name +
                  ", each broadcastable to y's shape (ONNX multidirectional\n"
                  "//          broadcasting: dims aligned from the right, size-1 and missing dims broadcast).\n"
                  "// Output:  y, " + dt.name + ", contiguous, shape = the broadcast of the inputs' shapes.\n"
                  "// Arithmetic is float32; each element is rounded once, on store.\n"
                  "//\n"
                  "// Structure: validate -> per-input broadcast strides (0 on broadcast dims) -> a flat\n"
                  "// fast path when every input is laid out exactly like y, else a broadcast path.\n";
  if (target == Target::kCpu) {
    h.description +=
        "// Where to optimize: the loop is memory-bound unless the chain is long; check that the\n"
        "// fast path vectorizes (-fopt-info-vec), convert 16-bit types with F16C/AVX-512 intrinsics,\n"
        "// and in the broadcast path hoist inputs that are constant along a row.\n";
  } else {
    h.description +=
        "// Where to optimize: the kernel is memory-bound; use 16-byte vector loads/stores (half2,\n"
        "// float4), specialize the broadcast pattern (e.g. a [N, C] + [C] bias) instead of the\n"
        "// per-element index arithmetic, and size the grid from the SM count.\n";
  }
  h.codes = {kErrArgCount, kErrDtype, kErrRank, kErrShape};
  if (target == Target::kCuda) h.codes.push_back(kErrCuda);

  std::string out = head(h, dt, target);
  out += "\nconstexpr int kNumInputs = " + n + ";\n\n";
  for (const Helper& helper : helpers()) {
    if (used_helpers.count(helper.name)) out += fill(helper.text, {{"FN", element_fn(target)}});
  }
  std::vector<std::string> params, flat_args, row_args, offset_args;
  std::string pointers, row_pointers;
  for (int k = 0; k < chain.num_inputs; ++k) {
    const std::string ks = std::to_string(k);
    params.push_back(std::string(input_used[k] ? "" : "[[maybe_unused]] ") + "float x" + ks);
    pointers += "  const T* x" + ks + " = static_cast<const T*>(inputs[" + ks + "].data);\n";
    row_pointers += "    const T* x" + ks + "_row = x" + ks + " + offset[" + ks + "];\n" + "    const int64_t x" + ks +
                    "_step = layout.stride[" + ks + "][rank - 1];\n";
    flat_args.push_back("to_float(" + std::string(target == Target::kCuda ? "p.x[" + ks + "]" : "x" + ks) + "[i])");
    row_args.push_back("to_float(x" + ks + "_row[j * x" + ks + "_step])");
    offset_args.push_back("to_float(p.x[" + ks + "][offset[" + ks + "]])");
  }
  out += "\n// One output element from the inputs' elements at the same (broadcast) position.\n";
  out += std::string(element_fn(target)) + " float apply(" + join(params, ", ") + ") {\n" + body + "}\n";
  out += kElementwiseLayout;
  if (target == Target::kCpu) {
    out += fill(kElementwiseCpuEntry, {{"POINTERS", pointers},
                                       {"ROW_POINTERS", row_pointers},
                                       {"FLAT_ARGS", join(flat_args, ", ")},
                                       {"ROW_ARGS", join(row_args, ", ")}});
  } else {
    out += fill(kElementwiseCudaEntry, {{"FLAT_ARGS", join(flat_args, ", ")}, {"OFFSET_ARGS", join(offset_args, ", ")}});
  }
  return out;
}

Result<std::string> rowwise_source(const RowwiseSpec& spec, Target target) {
  const char* name = rowwise_name(spec.kind);
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, name));
  using Kind = RowwiseSpec::Kind;
  int min_inputs = 1, max_inputs = 1;
  if (spec.kind == Kind::kLayerNorm) min_inputs = 2, max_inputs = 3;
  if (spec.kind == Kind::kRmsNorm) max_inputs = 2;
  if (spec.num_inputs < min_inputs || spec.num_inputs > max_inputs) {
    return invalid_input(std::string(name) + " template: " + std::to_string(spec.num_inputs) + " inputs, expected " +
                         std::to_string(min_inputs) +
                         (min_inputs == max_inputs ? "" : " to " + std::to_string(max_inputs)));
  }
  const bool norm = spec.kind == Kind::kLayerNorm || spec.kind == Kind::kRmsNorm;
  if (norm && (!std::isfinite(spec.epsilon) || spec.epsilon < 0)) {
    return invalid_input(std::string(name) + " template: epsilon " + std::to_string(spec.epsilon) +
                         " is not a finite non-negative number");
  }
  const bool has_scale = spec.kind == Kind::kLayerNorm || (spec.kind == Kind::kRmsNorm && spec.num_inputs == 2);
  const bool has_bias = spec.kind == Kind::kLayerNorm && spec.num_inputs == 3;
  const bool stats_outputs = spec.kind == Kind::kLayerNorm;
  const bool cuda = target == Target::kCuda;

  std::string what, inputs_text, body;
  switch (spec.kind) {
    case Kind::kSoftmax:
      what = "y = exp(x - max(x)) / sum(exp(x - max(x)))";
      inputs_text = "x";
      body = kSoftmaxBody;
      break;
    case Kind::kLogSoftmax:
      what = "y = x - max(x) - log(sum(exp(x - max(x))))";
      inputs_text = "x";
      body = kLogSoftmaxBody;
      break;
    case Kind::kLayerNorm:
      what = std::string("y = (x - mean(x)) / sqrt(var(x) + epsilon) * scale") + (has_bias ? " + bias" : "");
      inputs_text = has_bias ? "x, scale [D], bias [D]" : "x, scale [D]";
      body = fill(kLayerNormBody, {{"BIAS", has_bias ? " + to_float(p.bias[j * p.bias_step])" : ""}});
      break;
    case Kind::kRmsNorm:
      what = std::string("y = x / sqrt(mean(x^2) + epsilon)") + (has_scale ? " * scale" : "");
      inputs_text = has_scale ? "x, scale [D]" : "x";
      body = fill(kRmsNormBody, {{"SCALE", has_scale ? " * to_float(p.scale[j * p.scale_step])" : ""}});
      break;
  }
  body = fill(body, {{"ACC", cuda ? "float" : "double"},
                     {"FOR_J", cuda ? "for (int64_t j = threadIdx.x; j < D; j += kRowThreads)"
                                    : "for (int64_t j = 0; j < D; ++j)"},
                     {"ROW_LEADER", cuda ? "threadIdx.x == 0 && " : ""}});
  body = select_target_lines(body, target);
  if (cuda) {
    // The CUDA body sits inside the row loop: indent it one more level.
    std::string indented;
    size_t start = 0;
    while (start < body.size()) {
      const size_t end = body.find('\n', start);
      const std::string line = body.substr(start, end - start);
      indented += (line.empty() ? "" : "  ") + line + "\n";
      start = end == std::string::npos ? body.size() : end + 1;
    }
    body = indented;
  }

  Head h;
  h.title = std::string(name) + " over the last axis";
  h.description = "// What it computes, for every row x of D = x.shape[-1] elements (all leading dims are rows):\n"
                  "//   " + what + "\n";
  if (norm) h.description += "//   epsilon = " + float_literal(spec.epsilon) + "\n";
  h.description += "// Inputs:  " + inputs_text + "; " + dt.name + "; x of rank >= 1, any strides.\n";
  h.description += "// Output:  y, " + std::string(dt.name) + ", contiguous, x's shape.";
  if (stats_outputs) h.description += " Optional outputs 1 and 2: Mean and\n//          InvStdDev, float32, one per row.";
  h.description += "\n// Arithmetic is float32";
  h.description += cuda ? " (row sums in float32, combined across threads by a tree).\n"
                        : " (row sums accumulate in double).\n";
  h.description += cuda ? "// Where to optimize: each row is read 2-3 times from global memory; keep it in registers\n"
                          "// or shared memory (one read), use vector loads, fuse max and sum (online softmax),\n"
                          "// and pick threads per row from D.\n"
                        : "// Where to optimize: each row is read 2-3 times (cache-resident for moderate D); vectorize\n"
                          "// the passes (float accumulators with #pragma omp simd reduction), fuse max and sum.\n";
  h.codes = {kErrArgCount, kErrDtype, kErrRank, kErrShape};
  if (cuda) h.codes.push_back(kErrCuda);
  h.numel = has_scale;

  std::string out = head(h, dt, target);
  out += "\nconstexpr int kNumInputs = " + std::to_string(spec.num_inputs) + ";\n";
  out += std::string("constexpr int kMaxOutputs = ") + (stats_outputs ? "3;  // y, and optionally Mean and InvStdDev\n" : "1;\n");
  if (norm) out += "constexpr float kEpsilon = " + float_literal(spec.epsilon) + ";\n";

  std::string fields, check_extra;
  if (has_scale) {
    fields += "  const T* scale = nullptr;  // [D]\n  int64_t scale_step = 0;\n";
    check_extra += "  if (const int status = check_vector(inputs[1], rows.length, &p->scale_step); status != kOk) return status;\n"
                   "  p->scale = static_cast<const T*>(inputs[1].data);\n";
  }
  if (has_bias) {
    fields += "  const T* bias = nullptr;   // [D]\n  int64_t bias_step = 0;\n";
    check_extra += "  if (const int status = check_vector(inputs[2], rows.length, &p->bias_step); status != kOk) return status;\n"
                   "  p->bias = static_cast<const T*>(inputs[2].data);\n";
  }
  if (stats_outputs) {
    fields += "  float* mean = nullptr;         // optional output 1, one per row\n"
              "  float* inv_std_dev = nullptr;  // optional output 2, one per row\n";
    check_extra += "  for (int k = 1; k < num_outputs; ++k) {\n"
                   "    if (outputs[k].dtype != 1) return kErrDtype;  // float32 (stash_type 1)\n"
                   "    if (numel(outputs[k]) != rows.count) return kErrShape;\n"
                   "  }\n"
                   "  if (num_outputs > 1) p->mean = static_cast<float*>(outputs[1].data);\n"
                   "  if (num_outputs > 2) p->inv_std_dev = static_cast<float*>(outputs[2].data);\n";
  }
  out += fill(kRowsLayout, {{"HD", cuda ? "__host__ __device__ inline " : "inline "}, {"PARAM_FIELDS", fields}});
  if (has_scale) out += kCheckVector;
  out += fill(kRowsValidate, {{"CHECK_EXTRA", check_extra}});
  out += fill(cuda ? kRowsCudaEntry : kRowsCpuEntry, {{"WHAT", what}, {"BODY", body}});
  return out;
}

Result<std::string> matmul_source(const MatmulSpec& spec, Target target) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "MatMul"));
  const bool cuda = target == Target::kCuda;
  Head h;
  h.title = spec.has_bias ? "MatMul + bias" : "MatMul";
  h.description = std::string("// What it computes (ONNX MatMul = numpy matmul") + (spec.has_bias ? ", then Add of a bias" : "") +
                  "):\n"
                  "//   Y[..., M, N] = A[..., M, K] x B[..., K, N]" + (spec.has_bias ? " + bias[N]" : "") + "\n"
                  "// Inputs:  A, B" + (spec.has_bias ? ", bias" : "") + "; " + dt.name +
                  ". The batch dims (all but the last two) broadcast\n"
                  "//          against each other (a 2-D B is shared by every batch); a 1-D A or B is a\n"
                  "//          vector whose dim is dropped from Y." + (spec.has_bias ? " bias holds N values." : "") + "\n"
                  "// Output:  Y, " + dt.name + ", contiguous.\n";
  if (cuda) {
    h.description += "// cuBLAS computes in float32 (CUBLAS_COMPUTE_32F: no TF32 for float32 inputs)";
    h.description += spec.has_bias ? "; a small kernel\n// adds the bias.\n" : ".\n";
    h.description += "// Where to optimize: cuBLAS is hard to beat on large GEMMs; wins come from fusing the\n"
                     "// epilogue (bias, activation) with cuBLASLt or a CUTLASS/WGMMA kernel, from picking the\n"
                     "// algorithm for these exact shapes, and from small/skinny shapes cuBLAS handles poorly.\n";
  } else {
    h.description += "// Arithmetic is float32, accumulated in float32 over K.\n"
                     "// Where to optimize: a register-blocked micro-kernel (e.g. 6x16 with AVX2/AVX-512 FMA),\n"
                     "// packing B once per call instead of once per task, and tuning the block sizes.\n";
  }
  h.codes = {kErrArgCount, kErrDtype, kErrRank, kErrShape};
  h.numel = spec.has_bias;
  if (cuda) {
    h.codes.insert(h.codes.end(), {kErrLayout, kErrTooLarge, kErrCuda, kErrCublas});
    h.includes = {"mutex"};
    h.cublas = true;
    h.conversions = spec.has_bias;  // only the bias kernel touches elements
  } else {
    h.includes = {"vector"};
  }

  std::string out = head(h, dt, target);
  out += "\nconstexpr int kNumInputs = " + std::string(spec.has_bias ? "3;  // A, B, bias\n" : "2;  // A, B\n");
  out += fill(kMatmulStruct, {{"ADDEND_FIELDS", spec.has_bias ? "  const T* bias = nullptr;                     // [N]\n"
                                                                 "  int64_t bias_step = 0;\n"
                                                               : ""}});
  out += kProductArgs;
  out += fill(kMatmulShapes, {{"CHECK_BIAS", spec.has_bias ? kCheckBias : ""}});
  out += kBatchOffsets;
  if (cuda) {
    out += fill(kCublasHandle, {{"CUBLAS_TYPE", dt.cublas_type}});
    out += fill(kMatmulCudaEntry, {{"BIAS_KERNEL", spec.has_bias ? kBiasKernel : ""},
                                   {"BIAS_LAUNCH", spec.has_bias ? kBiasLaunch : ""}});
  } else {
    out += fill(kMatmulCpuEntry, {{"Y_VALUE", spec.has_bias ? "acc[i * kColBlock + j] + to_float(p.bias[(j0 + j) * p.bias_step])"
                                                            : "acc[i * kColBlock + j]"}});
  }
  return out;
}

Result<std::string> gemm_source(const GemmSpec& spec, Target target) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "Gemm"));
  if (!std::isfinite(spec.alpha) || !std::isfinite(spec.beta))
    return invalid_input("Gemm: alpha and beta must be finite");
  const bool cuda = target == Target::kCuda;
  const bool c_term = spec.has_c && spec.beta != 0;
  auto operand = [](const char* name, bool transposed, const char* rows, const char* cols) {
    return std::string(name) + (transposed ? "^T" : "") + " (" + name + " is [" + (transposed ? cols : rows) + ", " +
           (transposed ? rows : cols) + "])";
  };
  Head h;
  h.title = "Gemm";
  h.description = "// What it computes (ONNX Gemm):\n"
                  "//   Y[M, N] = alpha * " + operand("A", spec.trans_a, "M", "K") + " x " +
                  operand("B", spec.trans_b, "K", "N") + (spec.has_c ? " + beta * C" : "") + "\n"
                  "//   with alpha = " + number_text(spec.alpha) + (spec.has_c ? ", beta = " + number_text(spec.beta) : "") + ".\n"
                  "// Inputs:  A, B" + (spec.has_c ? ", C" : "") + "; " + dt.name + ", 2-D." +
                  (spec.has_c ? " C broadcasts to [M, N]: a scalar, [N], [1, N],\n//          [M, 1] or [M, N]." : "") + "\n"
                  "// Output:  Y, " + dt.name + ", contiguous [M, N].\n";
  if (cuda) {
    h.description += "// cuBLAS computes in float32 (CUBLAS_COMPUTE_32F: no TF32 for float32 inputs), reading a\n"
                     "// transposed operand in place (CUBLAS_OP_T)";
    h.description += c_term ? "; a small kernel adds beta * C.\n" : ".\n";
    h.description += "// Where to optimize: fuse the C term and any following activation into the GEMM\n"
                     "// (cuBLASLt epilogues, CUTLASS/WGMMA), pick the algorithm for these exact shapes, and\n"
                     "// for a wide N (an LM head) make sure the kernel fills every SM.\n";
  } else {
    h.description += "// Arithmetic is float32, accumulated in float32 over K.\n"
                     "// Where to optimize: a register-blocked micro-kernel (e.g. 6x16 with AVX2/AVX-512 FMA),\n"
                     "// packing the transposed operand once per call, and tuning the block sizes.\n";
  }
  h.codes = {kErrArgCount, kErrDtype, kErrRank, kErrShape};
  if (cuda) {
    h.codes.insert(h.codes.end(), {kErrLayout, kErrTooLarge, kErrCuda, kErrCublas});
    h.includes = {"mutex"};
    h.cublas = true;
    h.conversions = c_term;  // only the C kernel touches elements
  } else {
    h.includes = {"vector"};
  }

  std::string out = head(h, dt, target);
  out += "\nconstexpr int kNumInputs = " + std::string(spec.has_c ? "3;  // A, B, C\n" : "2;  // A, B\n");
  out += std::string("constexpr bool kTransA = ") + (spec.trans_a ? "true" : "false") + ";\n";
  out += std::string("constexpr bool kTransB = ") + (spec.trans_b ? "true" : "false") + ";\n";
  out += "constexpr float kAlpha = " + float_literal(spec.alpha) + ";\n";
  if (c_term) out += "constexpr float kBeta = " + float_literal(spec.beta) + ";\n";
  out += fill(kMatmulStruct, {{"ADDEND_FIELDS", spec.has_c ? "  const T* c = nullptr;                        // C(i, j) = c[i * c_row_stride + j * c_col_stride]\n"
                                                             "  int64_t c_row_stride = 0, c_col_stride = 0;  // 0 along a broadcast dim\n"
                                                           : ""}});
  out += kProductArgs;
  out += fill(kGemmShapes, {{"CHECK_C", spec.has_c ? kCheckC : ""}});
  if (cuda) {
    out += fill(kCublasHandle, {{"CUBLAS_TYPE", dt.cublas_type}});
    out += fill(kGemmCudaEntry, {{"C_KERNEL", c_term ? kCKernel : ""}, {"C_LAUNCH", c_term ? kCLaunch : ""}});
  } else {
    out += kBatchOffsets;
    out += fill(kMatmulCpuEntry,
                {{"Y_VALUE", c_term ? "kAlpha * acc[i * kColBlock + j] + kBeta * to_float(p.c[(i0 + i) * p.c_row_stride + (j0 + j) * p.c_col_stride])"
                                    : "kAlpha * acc[i * kColBlock + j]"}});
  }
  return out;
}

std::string skeleton_source(const SkeletonSpec& spec, Target target) {
  const bool cuda = target == Target::kCuda;
  auto list = [](const std::vector<std::string>& lines) {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) out += "//   [" + std::to_string(i) + "] " + lines[i] + "\n";
    return out.empty() ? std::string("//   (none)\n") : out;
  };
  std::string out = fill(R"(// autokernel skeleton: @OP@ (@TARGET@) -- NOT IMPLEMENTED
//
// No built-in template covers this op, so this file only sets the stage: it returns
// kNotImplemented and will fail verification until the kernel is written.
//
// The task (see task.json and subgraph.onnx beside this file for the exact semantics):
// Inputs:
@INPUTS@// Outputs:
@OUTPUTS@//
// ABI (autokernel_kernel.h):
//   extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs,
//                                    ak_tensor* outputs, int32_t num_outputs, void* stream);
// - Each ak_tensor is {void* data; int32_t dtype; int32_t rank; int64_t shape[AK_MAX_RANK];
//   int64_t strides[AK_MAX_RANK]}; dtype is the ONNX TensorProto code (1 float32, 10 float16,
//   16 bfloat16, 7 int64, 6 int32, 11 double, 9 bool); strides are in elements.
// - data is a @POINTERS@ pointer. Outputs are preallocated by the caller: contiguous, with the
//   shapes listed above. Inputs may be broadcast per ONNX rules where the op allows it.
// - `stream` is @STREAM@
// - Return 0 on success and a non-zero code otherwise (validate counts, dtypes and shapes
//   first, as the built-in templates do).
// Build (autokernel adds -I for autokernel_kernel.h): @BUILD@

#include <autokernel_kernel.h>
@INCLUDES@
namespace {

enum : int {
  kOk = 0,
  kNotImplemented = 99,  // this skeleton has no kernel yet
};

@EXAMPLE@}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)inputs;
  (void)num_inputs;
  (void)outputs;
  (void)num_outputs;
  (void)stream;
  // TODO: validate the tensors, compute @OP@, return kOk.
  return kNotImplemented;
}
)",
                         {{"OP", spec.op_type.empty() ? std::string("unknown op") : spec.op_type},
                          {"TARGET", cuda ? "CUDA" : "CPU"},
                          {"INPUTS", list(spec.input_lines)},
                          {"OUTPUTS", list(spec.output_lines)},
                          {"POINTERS", cuda ? "device" : "host"},
                          {"STREAM", cuda ? "the cudaStream_t to launch on (launch every kernel on it; never\n"
                                            "//   synchronize the device: the call must stay capturable in a CUDA graph)."
                                          : "NULL on the CPU."},
                          {"BUILD", cuda ? "nvcc -O3 -std=c++17 -shared -Xcompiler -fPIC -arch=sm_90a starter.cu"
                                         : "g++ -O3 -march=native -fopenmp -fPIC -shared -std=c++17 starter.cpp"},
                          {"INCLUDES", cuda ? "#include <cuda_runtime.h>\n#include <stdint.h>\n" : "#include <stdint.h>\n"},
                          {"EXAMPLE", cuda ? "// A typical shape for the kernel: a grid-stride loop over the output elements,\n"
                                             "// launched as my_kernel<<<blocks, 256, 0, static_cast<cudaStream_t>(stream)>>>(...),\n"
                                             "// then `return cudaGetLastError() == cudaSuccess ? kOk : <error code>;`.\n"
                                           : "// A typical shape for the kernel: validate, then an OpenMP-parallel loop\n"
                                             "// (#pragma omp parallel for) over independent output elements or rows.\n"}});
  return out;
}

}  // namespace ak::kernels
