#include "kernels/templates.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "base/strings.h"
#include "kernels/internal/template_files.h"
#include "kernels/op_traits.h"

// A generated source is the template files of kernels/templates/ spliced together: the
// entry file of the template (e.g. rowwise_cuda.cu) is read line by line, each `#include
// "x.h"` of ours is replaced by that file's text (once, like #pragma once), and the few
// includes that stand for generated text (the prologue, dtype.h, the fused expression, the
// op's row function) by that text. System includes move to the top, so the result is one
// self-contained file.

namespace ak::kernels {
namespace {

// ---------------------------------------------------------------------------------------
// Text helpers

using Vars = std::vector<std::pair<std::string_view, std::string>>;

/// Replaces `@NAME@` tokens (the header comment and the skeleton: prose, not kernel code).
std::string fill(std::string text, const Vars& vars) {
  for (const auto& [key, value] : vars) {
    const std::string token = "@" + std::string(key) + "@";
    for (size_t pos = text.find(token); pos != std::string::npos; pos = text.find(token, pos + value.size())) {
      text.replace(pos, token.size(), value);
    }
  }
  return text;
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

/// The shortest text that reads back as `value` ("0.1", "-inf").
std::string number_text(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

/// "threads_per_block" -> "kThreadsPerBlock": the constant a parameter becomes.
std::string constant_name(std::string_view parameter) {
  std::string out = "k";
  bool upper = true;
  for (char c : parameter) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Splicing template files

std::string_view template_file(std::string_view name) {
  for (const internal::TemplateFile& file : internal::template_files())
    if (file.name == name) return file.text;
  return {};
}

/// Builds one source from template files. `slot()` names an include that stands for
/// generated text or for another file (dtype.h -> dtype_float16_cuda.cuh).
class Splicer {
 public:
  void slot_text(std::string name, std::string text) { slots_[std::move(name)] = {false, std::move(text)}; }
  void slot_file(std::string name, std::string file) { slots_[std::move(name)] = {true, std::move(file)}; }

  /// Appends `file` with its includes resolved; an internal error names a file that the
  /// binary does not embed (a build problem, not a user's).
  Status splice_file(const std::string& name) {
    if (!done_.insert(name).second) return Status::ok();
    if (const auto it = slots_.find(name); it != slots_.end()) {
      if (it->second.is_file) return splice_file(it->second.value);
      return splice_text(it->second.value);
    }
    const std::string_view text = template_file(name);
    if (text.empty()) return internal_error("kernel templates: no embedded file '" + name + "'");
    return splice_text(text);
  }

  /// The header comment, `#include <autokernel_kernel.h>` and the other system includes,
  /// then the spliced text with runs of blank lines collapsed.
  std::string finish(const std::string& header) const {
    std::string out = header + "\n#include <autokernel_kernel.h>\n\n";
    for (const std::string& include : includes_)
      if (include != "autokernel_kernel.h") out += "#include <" + include + ">\n";
    out += "\n";
    size_t blank_run = 1;  // the blank line just written
    size_t start = 0;
    while (start < body_.size()) {
      size_t end = body_.find('\n', start);
      end = end == std::string::npos ? body_.size() : end + 1;
      const std::string_view line(body_.data() + start, end - start);
      const bool blank = line.find_first_not_of(" \n") == std::string_view::npos;
      blank_run = blank ? blank_run + 1 : 0;
      if (blank_run <= 1) out.append(line);
      start = end;
    }
    while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
    return out;
  }

 private:
  /// Splices the files that `text` includes ahead of its first line of code first, so that
  /// a file's own comment sits right above its code; later includes (a slot in the middle
  /// of a file) are spliced where they stand.
  Status splice_text(std::string_view text) {
    std::vector<std::string_view> lines;
    for (size_t start = 0; start < text.size();) {
      size_t end = text.find('\n', start);
      end = end == std::string_view::npos ? text.size() : end + 1;
      lines.push_back(text.substr(start, end - start));
      start = end;
    }
    auto is_include = [](std::string_view line) { return line.starts_with("#include "); };
    auto is_code = [&](std::string_view line) {
      const size_t first = line.find_first_not_of(" \n");
      return first != std::string_view::npos && !line.starts_with("//") && !is_include(line) &&
             !line.starts_with("#pragma once");
    };
    size_t first_code = 0;
    while (first_code < lines.size() && !is_code(lines[first_code])) ++first_code;
    for (size_t i = 0; i < first_code; ++i)
      if (is_include(lines[i])) AK_RETURN_IF_ERROR(include(lines[i]));
    body_ += "\n";
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string_view line = lines[i];
      if (line.starts_with("#pragma once")) continue;
      if (is_include(line)) {
        if (i > first_code) AK_RETURN_IF_ERROR(include(line));
        continue;
      }
      body_.append(line);
      if (line.back() != '\n') body_ += '\n';
    }
    return Status::ok();
  }

  /// `#include "x.h"`: splice x.h; `#include <x.h>`: note it for the top of the source.
  Status include(std::string_view line) {
    if (line.starts_with("#include \"")) {
      const size_t close = line.find('"', 10);
      return splice_file(std::string(line.substr(10, close - 10)));
    }
    const std::string name(line.substr(10, line.find('>') - 10));
    if (std::find(includes_.begin(), includes_.end(), name) == includes_.end()) includes_.push_back(name);
    return Status::ok();
  }

  struct Slot {
    bool is_file = false;
    std::string value;
  };
  std::map<std::string, Slot> slots_;
  std::set<std::string> done_;
  std::vector<std::string> includes_;
  std::string body_;
};

// ---------------------------------------------------------------------------------------
// Dtypes

struct DtypeInfo {
  int32_t code;
  const char* name;         // as written in comments and task.json ("float16")
  const char* onnx_enum;    // TensorProto.DataType name
  const char* cpu_file;     // the dtype's template file for each target
  const char* cuda_file;
  const char* cublas_type;  // cudaDataType_t
};

constexpr DtypeInfo kDtypes[] = {
    {1, "float32", "FLOAT", "dtype_float32.h", "dtype_float32.h", "CUDA_R_32F"},
    {10, "float16", "FLOAT16", "dtype_float16_cpu.h", "dtype_float16_cuda.cuh", "CUDA_R_16F"},
    {16, "bfloat16", "BFLOAT16", "dtype_bfloat16_cpu.h", "dtype_bfloat16_cuda.cuh", "CUDA_R_16BF"},
};

Result<DtypeInfo> dtype_info(int32_t dtype, std::string_view what) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.code == dtype) return info;
  }
  return unsupported(std::string(what) + " template: dtype " + std::to_string(dtype) +
                     " is not supported (float32 = 1, float16 = 10 and bfloat16 = 16 are)");
}

// ---------------------------------------------------------------------------------------
// Parameters

using Parameters = std::vector<TemplateParameter>;

Parameters cuda_product_parameters() {
  // CUBLAS_GEMM_DEFAULT (-1) and the explicit CUBLAS_GEMM_ALGO0..23. The *_TENSOR_OP values
  // (99, 100-115) are left out: cuBLAS lets them use CUBLAS_COMPUTE_32F_FAST_16F (inputs
  // rounded to float16), which float32 tasks must not.
  std::vector<int64_t> algos = {-1};
  for (int64_t a = 0; a <= 23; ++a) algos.push_back(a);
  return {
      {"cublas_algo", algos, -1,
       "cublasGemmAlgo_t of the product: -1 CUBLAS_GEMM_DEFAULT (heuristics), 0-23 CUBLAS_GEMM_ALGO<n> "
       "(explicit algorithms; recent cuBLAS versions may treat them as the default)"},
      {"epilogue_threads", {128, 256, 512, 1024}, 256, "threads per block of the bias / C kernel"},
  };
}

Parameters cpu_product_parameters() {
  return {
      {"row_block", {8, 16, 32, 64, 128}, 32, "rows of Y per task (the A tile's height)"},
      {"col_block", {32, 64, 128, 256, 512}, 128, "columns of Y per task (the B tile's width)"},
      {"depth_block", {64, 128, 256, 512, 1024}, 256, "K per step: the tiles' depth, converted to float32 at once"},
  };
}

Parameters cuda_library_parameters(const char* list) {
  return {
      {"algo_index", {0, 1, 2, 3, 4, 5, 6, 7}, 0,
       std::string("entry of ") + list +
           "'s heuristic list for these operands (0: its first choice; an index past the list's end uses entry 0)"},
      {"epilogue_threads", {128, 256, 512, 1024}, 256, "threads per block of the fused epilogue kernel"},
  };
}

Parameters attention_parameters(Target target) {
  if (target == Target::kCpu) {
    return {
        {"query_block", {1, 4, 8, 16, 32, 64}, 16, "query rows per task (one OpenMP task per batch, head and block)"},
        {"kv_block", {16, 32, 64, 128, 256, 512}, 128,
         "keys per online-softmax step (their K and V rows are converted to float32 once per block)"},
    };
  }
  // Every combination fits the H200's 227 KiB of shared memory per block for D = Dv = 256.
  return {
      {"block_q", {16, 32, 64}, 32, "query rows per thread block (the Q tile)"},
      {"block_kv", {16, 32, 64}, 64, "keys per tile staged in shared memory (the K and V tiles)"},
      {"warps", {2, 4, 8}, 4, "warps per block; each owns block_q / warps query rows"},
  };
}

const Parameters& parameters_of(TemplateKind kind, Target target) {
  static const Parameters kElementwiseCpu = {
      {"min_parallel_elements", {0, 4096, 32768, 262144}, 0,
       "outputs with fewer elements run on the calling thread (waking the OpenMP team costs microseconds)"},
  };
  static const Parameters kElementwiseCuda = {
      {"threads_per_block", {64, 128, 256, 512, 1024}, 256, "threads per block"},
      {"max_blocks", {256, 1024, 4096, 16384, 65535}, 4096, "grid size limit; the grid-stride loop covers the rest"},
  };
  static const Parameters kRowwiseCpu = {
      {"rows_per_chunk", {0, 1, 4, 16, 64}, 0,
       "0: rows split evenly between threads (schedule(static)); n: threads take chunks of n rows"},
      {"accumulate_double", {0, 1}, 1, "1: row sums accumulate in double, 0: in float"},
      {"unroll", {1, 2, 4, 8}, 1, "unroll factor of the passes over a row (#pragma GCC unroll)"},
  };
  static const Parameters kRowwiseCuda = {
      {"warp_row_max_length", {0, 256, 512, 1024, 2048, 4096}, 1024,
       "rows up to this length get a warp each (shuffle reduction); longer rows a block (0: always a block)"},
      {"warp_rows_per_block", {1, 2, 4, 8, 16, 32}, 8, "rows (warps) per block for warp-per-row rows"},
      {"block_row_threads", {64, 128, 256, 512, 1024}, 512,
       "threads per row for block-per-row rows (shuffles, then shared memory)"},
      {"unroll", {1, 2, 4, 8}, 1, "unroll factor of each thread's passes over its share of a row"},
  };
  static const Parameters kProductCpu = cpu_product_parameters();
  static const Parameters kProductCuda = cuda_product_parameters();
  static const Parameters kGemmEpilogueCuda = cuda_library_parameters("cublasLtMatmulAlgoGetHeuristic");
  static const Parameters kConvCuda = cuda_library_parameters("cudnnGetConvolutionForwardAlgorithm_v7");
  static const Parameters kPoolCpu = {
      {"rows_per_chunk", {1, 4, 16, 64, 256}, 16,
       "output rows (OW outputs each) a thread takes at a time (schedule(dynamic, n))"},
      {"min_parallel_outputs", {0, 4096, 32768, 262144}, 0,
       "outputs with fewer elements run on the calling thread (waking the OpenMP team costs microseconds)"},
  };
  static const Parameters kAttentionCpu = attention_parameters(Target::kCpu);
  static const Parameters kAttentionCuda = attention_parameters(Target::kCuda);
  static const Parameters kLayoutCpu = {
      {"min_parallel_elements", {0, 4096, 32768, 262144}, 32768,
       "outputs with fewer elements are copied on the calling thread (waking the OpenMP team costs microseconds)"},
  };
  // The strided copy is a grid-stride loop like the elementwise kernel's: the same two
  // parameters, then the tiled transpose's.
  static const Parameters kLayoutCuda = [] {
    Parameters p = kElementwiseCuda;
    p.push_back({"tile_dim", {16, 32, 64}, 32, "the tiled transpose's square tile (elements per side; threads per block row)"});
    p.push_back({"tile_rows", {4, 8, 16}, 8, "thread rows per tile of the tiled transpose (each copies tile_dim / tile_rows rows)"});
    return p;
  }();
  const bool cuda = target == Target::kCuda;
  switch (kind) {
    case TemplateKind::kElementwise: return cuda ? kElementwiseCuda : kElementwiseCpu;
    case TemplateKind::kRowwise: return cuda ? kRowwiseCuda : kRowwiseCpu;
    case TemplateKind::kMatmul:
    case TemplateKind::kGemm: return cuda ? kProductCuda : kProductCpu;
    case TemplateKind::kGemmEpilogue: return cuda ? kGemmEpilogueCuda : kProductCpu;
    case TemplateKind::kConv: return cuda ? kConvCuda : kProductCpu;
    case TemplateKind::kAttention: return cuda ? kAttentionCuda : kAttentionCpu;
    // One thread per output, grid-stride: the elementwise template's launch parameters.
    case TemplateKind::kPool: return cuda ? kElementwiseCuda : kPoolCpu;
    case TemplateKind::kLayout: return cuda ? kLayoutCuda : kLayoutCpu;
  }
  return kElementwiseCpu;
}

/// Every parameter of the template with the config's value or its default, in table order.
Result<std::vector<std::pair<const TemplateParameter*, int64_t>>> resolve_config(TemplateKind kind, Target target,
                                                                                 const TemplateConfig& config) {
  AK_RETURN_IF_ERROR(validate_template_config(kind, target, config));
  std::vector<std::pair<const TemplateParameter*, int64_t>> values;
  for (const TemplateParameter& parameter : parameters_of(kind, target)) {
    const auto it = config.find(parameter.name);
    values.emplace_back(&parameter, it == config.end() ? parameter.default_value : it->second);
  }
  return values;
}

/// What a generated source gets from its configuration: the constants of the prologue and
/// the header comment's line.
struct ConfigText {
  std::string constants;  // "constexpr int kThreadsPerBlock = 256;  // threads per block\n" ...
  std::string summary;    // "threads_per_block=256 max_blocks=4096"
};

Result<ConfigText> config_text(TemplateKind kind, Target target, const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const auto values, resolve_config(kind, target, config));
  ConfigText text;
  std::vector<std::string> parts;
  for (const auto& [parameter, value] : values) {
    text.constants += "constexpr int " + constant_name(parameter->name) + " = " + std::to_string(value) + ";  // " +
                      parameter->name + ": " + parameter->doc + "\n";
    parts.push_back(parameter->name + "=" + std::to_string(value));
  }
  text.summary = join(parts, " ");
  return text;
}

// ---------------------------------------------------------------------------------------
// The header comment

struct Head {
  std::string title;        // first line, e.g. "elementwise chain"
  std::string description;  // comment lines, already prefixed with "//"
  std::string config;       // the configuration's summary; empty for none
  std::string libraries;    // what the build line links, e.g. "-lcublas"; empty for none
};

std::string head(const Head& h, const DtypeInfo& dt, Target target) {
  const bool cuda = target == Target::kCuda;
  std::string build = cuda ? "nvcc -O3 -std=c++17 -shared -Xcompiler -fPIC -arch=sm_90a starter.cu"
                           : "g++ -O3 -march=native -fopenmp -fPIC -shared -std=c++17 starter.cpp";
  if (!h.libraries.empty()) build += " " + h.libraries;
  return fill(R"(// autokernel starter kernel: @TITLE@ (@TARGET@, @DTYPE@)
//
// Generated by autokernel from the template files in kernels/templates/ (each part below
// names its file) as a correct starting point: it passes the verifier as it stands. Make it
// faster without changing what it computes.
//
@DESCRIPTION@//
// Configuration (template parameters, see the constants below): @CONFIG@
//
// ABI (autokernel_kernel.h): every tensor is an ak_tensor {data, dtype, rank, shape[],
// strides[]}, strides in elements, data a @POINTERS@ pointer. Outputs are preallocated by
// the caller, contiguous and correctly shaped. `stream` is @STREAM@.
// Build (autokernel adds -I for autokernel_kernel.h): @BUILD@
)",
              {{"TITLE", h.title},
               {"TARGET", cuda ? "CUDA" : "CPU"},
               {"DTYPE", dt.name},
               {"DESCRIPTION", h.description},
               {"CONFIG", h.config},
               {"POINTERS", cuda ? "device" : "host"},
               {"STREAM", cuda ? "the cudaStream_t to launch on" : "NULL on the CPU"},
               {"BUILD", build}});
}

/// The generated prologue: the dtype code, the template's own constants, the parameters.
std::string prologue(const DtypeInfo& dt, const std::string& constants, const ConfigText& config) {
  return "// The generated prologue: this task's constants and the template's parameters.\nnamespace {\n\n"
         "constexpr int32_t kDtype = " + std::to_string(dt.code) + ";  // ONNX TensorProto." + dt.onnx_enum + "\n" +
         constants + "\n" + config.constants + "\n}  // namespace\n";
}

/// Splices the template's entry file with its prologue and the dtype's file.
Result<std::string> assemble(Splicer& splicer, const std::string& entry, const std::string& prologue_name,
                             const std::string& prologue_text, const DtypeInfo& dt, Target target,
                             const std::string& header) {
  splicer.slot_text(prologue_name, prologue_text);
  splicer.slot_file("dtype.h", target == Target::kCuda ? dt.cuda_file : dt.cpu_file);
  AK_RETURN_IF_ERROR(splicer.splice_file(entry));
  return splicer.finish(header);
}

// ---------------------------------------------------------------------------------------
// Elementwise ops: the op-traits table's expressions

double attribute_or(const ElementwiseStep& step, std::string_view name, double fallback) {
  const auto it = step.attributes.find(std::string(name));
  return it == step.attributes.end() ? fallback : it->second;
}

/// `expression` with `$0`, `$1`, ... replaced by the operands and `${name}` by the
/// attribute's value (the step's, else the table's default).
std::string substitute(std::string_view expression, const OpTraits& traits, const ElementwiseStep& step,
                       const std::vector<std::string>& operands) {
  std::string out;
  for (size_t i = 0; i < expression.size(); ++i) {
    if (expression[i] != '$' || i + 1 >= expression.size()) {
      out += expression[i];
    } else if (expression[i + 1] == '{') {
      const size_t close = expression.find('}', i);
      const std::string_view name = expression.substr(i + 2, close - i - 2);
      double value = 0;
      for (const OpAttribute& attribute : traits.attributes)
        if (attribute.name == name) value = attribute_or(step, name, attribute.default_value);
      out += float_literal(value);
      i = close;
    } else {
      size_t end = i + 1;
      while (end < expression.size() && std::isdigit(static_cast<unsigned char>(expression[end]))) ++end;
      out += operands[std::stoul(std::string(expression.substr(i + 1, end - i - 1)))];
      i = end - 1;
    }
  }
  return out;
}

/// The float expression of one step, given its operands' expressions.
std::string step_expression(const OpTraits& traits, const ElementwiseStep& step, const std::vector<std::string>& a) {
  // x^2 is common (variance, squared error) and x * x is exactly powf(x, 2).
  if (step.op == "Pow" && step.operands[1].kind == Operand::Kind::kConstant && step.operands[1].value == 2.0)
    return a[0] + " * " + a[0];
  // Variadic ops (Max, Min) fold their binary expression over the operands, left to right.
  if (traits.max_operands < 0) {
    std::string expr = a[0];
    for (size_t i = 1; i < a.size(); ++i) expr = substitute(traits.expression, traits, step, {expr, a[i]});
    return expr;
  }
  return substitute(traits.expression, traits, step, a);
}

/// "LeakyRelu(s0, alpha=0.1)" for the header comment.
std::string describe_step(const ElementwiseStep& step, const std::vector<std::string>& args) {
  std::vector<std::string> parts = args;
  for (const auto& [name, value] : step.attributes) parts.push_back(name + "=" + number_text(value));
  return step.op + "(" + join(parts, ", ") + ")";
}

/// The traits of step `index`, checked against the step: op, operand count, attributes.
Result<const OpTraits*> check_step(const ElementwiseChain& chain, size_t index) {
  const ElementwiseStep& step = chain.steps[index];
  const std::string where = "elementwise step " + std::to_string(index) + " (" + step.op + ")";
  const OpTraits* traits = find_op_traits(step.op);
  if (!traits || !traits->fusable()) return unsupported(where + ": op type is not covered by the elementwise template");
  const int count = static_cast<int>(step.operands.size());
  if (count < traits->min_operands || (traits->max_operands >= 0 && count > traits->max_operands)) {
    return invalid_input(where + ": " + std::to_string(count) + " operands, expected " +
                         std::to_string(traits->min_operands) +
                         (traits->max_operands == traits->min_operands ? "" : " or more"));
  }
  for (const auto& [name, value] : step.attributes) {
    bool known = false;
    for (const OpAttribute& attribute : traits->attributes) known = known || attribute.name == name;
    if (!known) return unsupported(where + ": attribute '" + name + "' is not supported");
    if (std::isnan(value)) return invalid_input(where + ": attribute '" + name + "' is NaN");
  }
  if (step.op == "Gelu") {
    const double approximate = attribute_or(step, "approximate", 0);
    if (approximate != 0 && approximate != 1)
      return invalid_input(where + ": approximate = " + number_text(approximate) + " (0 = none, 1 = tanh)");
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
  return traits;
}

/// The dtype step `index` of `chain` rounds its result to: its own, or for 0 the storage dtype.
int32_t step_dtype(const ElementwiseChain& chain, size_t index, int32_t storage) {
  const int32_t dtype = chain.steps[index].dtype;
  return dtype == 0 ? storage : dtype;
}

/// `AK_FN float <name>(const float* x)`: the chain's steps from `first` on, one float each,
/// reading input k from x[k]. With first > 0, the value of step first - 1 is x[0] (computed
/// elsewhere: cuBLASLt's epilogue); the later steps must not read input 0 or an earlier step.
/// No steps: the function returns x[0]. Each step's result is rounded to its dtype (a 16-bit
/// `storage`; float32 steps are not rounded), as its node's output is; with `round_x0`, so is
/// x[0] (a product or convolution whose node writes `storage`). Appends "//   sN = Op(...)"
/// lines to `description`.
std::string apply_function(const ElementwiseChain& chain, const std::vector<const OpTraits*>& traits,
                           const DtypeInfo& storage, bool round_x0, const std::string& name, size_t first,
                           std::string* description) {
  // Which inputs and steps are read, so that unread ones are marked [[maybe_unused]].
  std::vector<bool> input_used(chain.num_inputs, false), step_used(chain.steps.size(), false);
  if (!chain.steps.empty()) step_used.back() = true;
  if (chain.steps.empty()) input_used[0] = true;
  for (size_t i = first; i < chain.steps.size(); ++i) {
    for (const Operand& operand : chain.steps[i].operands) {
      if (operand.kind == Operand::Kind::kInput) input_used[operand.index] = true;
      if (operand.kind == Operand::Kind::kStep) step_used[operand.index] = true;
    }
  }
  // to_float(from_float(v)) is v rounded to the storage type (dtype.h), exactly what storing a
  // node's output and reading it back does; float32 steps keep every bit.
  const bool rounds = storage.code != 1;
  auto rounded = [](const std::string& v) { return "to_float(from_float(" + v + "))"; };
  std::string out = "AK_FN float " + name + "(const float* x) {\n";
  for (int k = first > 0 ? 1 : 0; k < chain.num_inputs; ++k) {
    const bool round = k == 0 && round_x0 && rounds;
    out += std::string("  ") + (input_used[k] ? "" : "[[maybe_unused]] ") + "const float x" + std::to_string(k) +
           " = " + (round ? rounded("x[0]") : "x[" + std::to_string(k) + "]") + ";" +
           (round ? std::string("  // rounded to ") + storage.name + " as the producing node's output" : "") + "\n";
  }
  if (first > 0) {
    out += std::string("  ") + (step_used[first - 1] ? "" : "[[maybe_unused]] ") + "const float s" +
           std::to_string(first - 1) + " = x[0];  // computed by cuBLASLt's epilogue\n";
  }
  for (size_t i = first; i < chain.steps.size(); ++i) {
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
    const std::string step_name = "s" + std::to_string(i);
    const bool round = rounds && step_dtype(chain, i, storage.code) == storage.code;
    const std::string expression = step_expression(*traits[i], step, args);
    out += std::string("  ") + (step_used[i] ? "" : "[[maybe_unused]] ") + "const float " + step_name + " = " +
           (round ? rounded(expression) : expression) + ";  // " + step.op + "\n";
    if (description) {
      *description += "//   " + step_name + " = " + describe_step(step, names) +
                      (rounds ? std::string(" -> ") + (round ? storage.name : "float32") : "") + "\n";
    }
  }
  const std::string last = chain.steps.empty() ? "x0" : "s" + std::to_string(chain.steps.size() - 1);
  if (description) *description += "//   y  = " + last + "\n";
  return out + "  return " + last + ";\n}\n";
}

/// The traits of every step of `chain`, each checked (check_step, and its dtype: float32 or
/// `storage`, the only types the kernel can round to), and its input count.
Result<std::vector<const OpTraits*>> check_chain(const ElementwiseChain& chain, int32_t storage,
                                                 const std::string& what) {
  if (chain.num_inputs < 1) return invalid_input(what + ": needs at least one input");
  if (chain.num_inputs > 64) return invalid_input(what + ": more than 64 inputs");
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(storage, what));
  std::vector<const OpTraits*> traits;
  for (size_t i = 0; i < chain.steps.size(); ++i) {
    AK_ASSIGN_OR_RETURN(const OpTraits* t, check_step(chain, i));
    const int32_t dtype = step_dtype(chain, i, storage);
    if (dtype != 1 && dtype != storage) {
      const Result<DtypeInfo> info = dtype_info(dtype, what);
      return unsupported(what + ": step " + std::to_string(i) + " (" + chain.steps[i].op + ") rounds to " +
                         (info.is_ok() ? std::string(info.value().name) : "dtype " + std::to_string(dtype)) +
                         "; a step may round only to the " + dt.name + " it stores, or stay float32");
    }
    traits.push_back(t);
  }
  return traits;
}

const char* rowwise_name(RowwiseSpec::Kind kind) {
  switch (kind) {
    case RowwiseSpec::Kind::kSoftmax: return "Softmax";
    case RowwiseSpec::Kind::kLogSoftmax: return "LogSoftmax";
    case RowwiseSpec::Kind::kLayerNorm: return "LayerNormalization";
    case RowwiseSpec::Kind::kRmsNorm: return "RMSNormalization";
  }
  return "?";
}

const char* rowwise_file(RowwiseSpec::Kind kind) {
  switch (kind) {
    case RowwiseSpec::Kind::kSoftmax:
    case RowwiseSpec::Kind::kLogSoftmax: return "rowwise_softmax.h";
    case RowwiseSpec::Kind::kLayerNorm: return "rowwise_layer_norm.h";
    case RowwiseSpec::Kind::kRmsNorm: return "rowwise_rms_norm.h";
  }
  return "";
}

std::string bool_constant(const char* name, bool value, const char* comment = "") {
  return std::string("constexpr bool ") + name + " = " + (value ? "true" : "false") + ";" + comment + "\n";
}

/// A per-spatial-dim attribute (strides, pads, ...): `count` values, each at least
/// `minimum`; empty means `count` times `fallback`.
Result<std::vector<int64_t>> attribute_list(const std::vector<int64_t>& values, size_t count, int64_t fallback,
                                            const std::string& what, const char* name, int64_t minimum) {
  if (values.empty()) return std::vector<int64_t>(count, fallback);
  if (values.size() != count)
    return invalid_input(what + ": " + name + " has " + std::to_string(values.size()) + " values, expected " +
                         std::to_string(count));
  for (int64_t v : values)
    if (v < minimum) return invalid_input(what + ": " + name + " value " + std::to_string(v));
  return values;
}

/// "{3, 3}": a constant array's initializer.
std::string brace_list(const std::vector<int64_t>& values) {
  std::vector<std::string> parts;
  for (int64_t v : values) parts.push_back(std::to_string(v));
  return "{" + join(parts, ", ") + "}";
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Public

const char* template_kind_name(TemplateKind kind) {
  switch (kind) {
    case TemplateKind::kElementwise: return "elementwise";
    case TemplateKind::kRowwise: return "rowwise";
    case TemplateKind::kMatmul: return "matmul";
    case TemplateKind::kGemm: return "gemm";
    case TemplateKind::kGemmEpilogue: return "gemm_epilogue";
    case TemplateKind::kConv: return "conv";
    case TemplateKind::kAttention: return "attention";
    case TemplateKind::kPool: return "pool";
    case TemplateKind::kLayout: return "layout";
  }
  return "?";
}

const std::vector<TemplateParameter>& template_parameters(TemplateKind kind, Target target) {
  return parameters_of(kind, target);
}

Status validate_template_config(TemplateKind kind, Target target, const TemplateConfig& config) {
  const Parameters& parameters = parameters_of(kind, target);
  const std::string where = std::string(template_kind_name(kind)) + " template (" +
                            (target == Target::kCuda ? "CUDA" : "CPU") + ")";
  for (const auto& [name, value] : config) {
    const auto it = std::find_if(parameters.begin(), parameters.end(),
                                 [&](const TemplateParameter& p) { return p.name == name; });
    if (it == parameters.end()) {
      std::vector<std::string> names;
      for (const TemplateParameter& p : parameters) names.push_back(p.name);
      return invalid_input(where + ": unknown parameter '" + name + "' (it has " + join(names, ", ") + ")");
    }
    if (std::find(it->values.begin(), it->values.end(), value) == it->values.end()) {
      std::vector<std::string> legal;
      for (int64_t v : it->values) legal.push_back(std::to_string(v));
      return invalid_input(where + ": parameter '" + name + "' = " + std::to_string(value) + " is not one of " +
                           join(legal, ", "));
    }
  }
  return Status::ok();
}

const std::vector<std::string>& supported_elementwise_ops() {
  static const std::vector<std::string> kNames = fusable_elementwise_ops();
  return kNames;
}

Result<std::string> elementwise_chain_source(const ElementwiseChain& chain, Target target,
                                             const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(chain.dtype, "elementwise"));
  if (chain.steps.empty()) return invalid_input("elementwise chain: no steps");
  AK_ASSIGN_OR_RETURN(const std::vector<const OpTraits*> traits, check_chain(chain, dt.code, "elementwise chain"));
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kElementwise, target, config));

  // apply(): the fused expression, one float per step.
  std::string description;
  const std::string apply = "// The generated fused expression: one output element from the inputs' elements at the\n"
                            "// same (broadcast) position.\nnamespace {\n\n" +
                            apply_function(chain, traits, dt, false, "apply", 0, &description) + "\n}  // namespace\n";

  const std::string n = std::to_string(chain.num_inputs);
  const std::string last = std::to_string(chain.num_inputs - 1);
  Head h;
  h.title = "elementwise chain";
  h.config = cfg.summary;
  h.description = "// What it computes, per element of the output y (inputs x0..x" + last +
                  " broadcast to y's shape):\n" + description +
                  "// Inputs:  " + n + " tensors x0..x" + last + ", " + dt.name +
                  ", each broadcastable to y's shape (ONNX multidirectional\n"
                  "//          broadcasting: dims aligned from the right, size-1 and missing dims broadcast).\n"
                  "// Output:  y, " + dt.name + ", contiguous, shape = the broadcast of the inputs' shapes.\n"
                  "// Arithmetic is float32; each step's result is rounded to the dtype its node writes (-> above),\n"
                  "// as the model rounds every node's output; float32 steps (after a Cast) are not rounded.\n"
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

  Splicer splicer;
  splicer.slot_text("elementwise_apply.h", apply);
  return assemble(splicer, target == Target::kCuda ? "elementwise_cuda.cu" : "elementwise_cpu.cpp",
                  "elementwise_prologue.h", prologue(dt, "constexpr int kNumInputs = " + n + ";\n", cfg), dt, target,
                  head(h, dt, target));
}

Result<std::string> rowwise_source(const RowwiseSpec& spec, Target target, const TemplateConfig& config) {
  const char* name = rowwise_name(spec.kind);
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, name));
  using Kind = RowwiseSpec::Kind;
  const bool norm = spec.kind == Kind::kLayerNorm || spec.kind == Kind::kRmsNorm;
  const std::string what_template = std::string(spec.residual ? "residual " : "") + name + " template: ";
  if (!norm && (spec.residual || spec.output_dtype != 0 || spec.round_before_scale))
    return invalid_input(what_template + "residual, output_dtype and round_before_scale are for norms only");
  const int residual = spec.residual ? 1 : 0;
  int min_inputs = 1 + residual, max_inputs = 1 + residual;
  if (spec.kind == Kind::kLayerNorm) min_inputs += 1, max_inputs += 2;
  if (spec.kind == Kind::kRmsNorm) max_inputs += 1;
  if (spec.num_inputs < min_inputs || spec.num_inputs > max_inputs) {
    return invalid_input(what_template + std::to_string(spec.num_inputs) + " inputs, expected " +
                         std::to_string(min_inputs) +
                         (min_inputs == max_inputs ? "" : " to " + std::to_string(max_inputs)));
  }
  if (norm && (!std::isfinite(spec.epsilon) || spec.epsilon < 0)) {
    return invalid_input(what_template + "epsilon " + std::to_string(spec.epsilon) +
                         " is not a finite non-negative number");
  }
  const int32_t output_dtype = spec.output_dtype == 0 ? spec.dtype : spec.output_dtype;
  if (output_dtype != spec.dtype && output_dtype != 1) {
    return unsupported(what_template + "output dtype " + std::to_string(output_dtype) +
                       " (it writes the input dtype or float32)");
  }
  const bool output_float32 = output_dtype != spec.dtype;
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kRowwise, target, config));
  const bool has_scale = spec.kind == Kind::kLayerNorm || (spec.kind == Kind::kRmsNorm && spec.num_inputs == 2 + residual);
  const bool has_bias = spec.kind == Kind::kLayerNorm && spec.num_inputs == 3 + residual;
  if (spec.round_before_scale && !has_scale) return invalid_input(what_template + "round_before_scale without a scale");
  const bool stats_outputs = spec.kind == Kind::kLayerNorm && !spec.residual;
  const bool cuda = target == Target::kCuda;

  const std::string x = spec.residual ? "h" : "x";
  std::string what, inputs_text = spec.residual ? "x, residual (x's shape)" : "x";
  switch (spec.kind) {
    case Kind::kSoftmax:
      what = "y = exp(x - max(x)) / sum(exp(x - max(x)))";
      break;
    case Kind::kLogSoftmax:
      what = "y = x - max(x) - log(sum(exp(x - max(x))))";
      break;
    case Kind::kLayerNorm:
      what = "y = (" + x + " - mean(" + x + ")) / sqrt(var(" + x + ") + epsilon) * scale" + (has_bias ? " + bias" : "");
      inputs_text += has_bias ? ", scale [D], bias [D]" : ", scale [D]";
      break;
    case Kind::kRmsNorm:
      what = "y = " + x + " / sqrt(mean(" + x + "^2) + epsilon)" + (has_scale ? " * scale" : "");
      if (has_scale) inputs_text += ", scale [D]";
      break;
  }
  if (spec.round_before_scale) what += "\n//   (the normalized value rounded to y's dtype before the scale multiplies it)";

  Head h;
  h.title = (spec.residual ? "residual add + " : "") + std::string(name) + " over the last axis";
  h.config = cfg.summary;
  h.description = "// What it computes, for every row x of D = x.shape[-1] elements (all leading dims are rows):\n";
  if (spec.residual)
    h.description += "//   h = x + residual, rounded to " + std::string(dt.name) + " (the Add node's output)\n";
  h.description += "//   " + what + "\n";
  if (norm) h.description += "//   epsilon = " + float_literal(spec.epsilon) + "\n";
  h.description += "// Inputs:  " + inputs_text + "; " + dt.name + "; x of rank >= 1, any strides.\n";
  h.description += "// Output:  y, " + std::string(output_float32 ? "float32" : dt.name) + ", contiguous, x's shape.";
  if (stats_outputs) h.description += " Optional outputs 1 and 2: Mean and\n//          InvStdDev, float32, one per row.";
  if (spec.residual) h.description += " Optional output 1: h, " + std::string(dt.name) + ", contiguous.";
  h.description += "\n// Arithmetic is float32";
  h.description += cuda ? " (row sums in float32, combined across threads by a tree).\n"
                        : " (row sums accumulate in double unless accumulate_double = 0).\n";
  h.description += cuda ? "// Where to optimize: each row is read 2-3 times from global memory; keep it in registers\n"
                          "// or shared memory (one read), use vector loads, fuse max and sum (online softmax),\n"
                          "// and pick threads per row from D.\n"
                        : "// Where to optimize: each row is read 2-3 times (cache-resident for moderate D); vectorize\n"
                          "// the passes (float accumulators with #pragma omp simd reduction), fuse max and sum.\n";

  std::string constants = "constexpr int kNumInputs = " + std::to_string(spec.num_inputs) + ";\n";
  constants += std::string("constexpr int kMaxOutputs = ") +
               (stats_outputs  ? "3;  // y, and optionally Mean and InvStdDev\n"
                : spec.residual ? "2;  // y, and optionally h = x + residual\n"
                                : "1;\n");
  constants += bool_constant("kHasScale", has_scale) + bool_constant("kHasBias", has_bias);
  constants += bool_constant("kResidual", spec.residual, "  // input 1 is the residual added to x");
  constants += bool_constant("kOutputFloat32", output_float32, "  // y is float32 whatever kDtype is");
  constants += bool_constant("kRoundBeforeScale", spec.round_before_scale);
  if (!norm) constants += bool_constant("kLogSoftmax", spec.kind == Kind::kLogSoftmax);
  if (norm) constants += "constexpr float kEpsilon = " + float_literal(spec.epsilon) + ";\n";
  Splicer splicer;
  splicer.slot_file("rowwise_row.h", rowwise_file(spec.kind));
  return assemble(splicer, cuda ? "rowwise_cuda.cu" : "rowwise_cpu.cpp", "rowwise_prologue.h",
                  prologue(dt, constants, cfg), dt, target, head(h, dt, target));
}

Result<std::string> matmul_source(const MatmulSpec& spec, Target target, const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "MatMul"));
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kMatmul, target, config));
  const bool cuda = target == Target::kCuda;
  Head h;
  h.title = spec.has_bias ? "MatMul + bias" : "MatMul";
  h.config = cfg.summary;
  if (cuda) h.libraries = "-lcublas";
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
  std::string constants = "constexpr int32_t kOutputDtype = kDtype;\n";
  constants += "constexpr int kNumInputs = " + std::string(spec.has_bias ? "3;  // A, B, bias\n" : "2;  // A, B\n");
  constants += bool_constant("kHasBias", spec.has_bias);
  if (cuda) constants += std::string("constexpr cudaDataType_t kCublasType = ") + dt.cublas_type + ";\n";
  Splicer splicer;
  return assemble(splicer, cuda ? "matmul_cuda.cu" : "matmul_cpu.cpp", "matmul_prologue.h",
                  prologue(dt, constants, cfg), dt, target, head(h, dt, target));
}

Result<std::string> gemm_source(const GemmSpec& spec, Target target, const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "Gemm"));
  if (!std::isfinite(spec.alpha) || !std::isfinite(spec.beta))
    return invalid_input("Gemm: alpha and beta must be finite");
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kGemm, target, config));
  const bool cuda = target == Target::kCuda;
  const bool c_term = spec.has_c && spec.beta != 0;
  auto operand = [](const char* name, bool transposed, const char* rows, const char* cols) {
    return std::string(name) + (transposed ? "^T" : "") + " (" + name + " is [" + (transposed ? cols : rows) + ", " +
           (transposed ? rows : cols) + "])";
  };
  Head h;
  h.title = "Gemm";
  h.config = cfg.summary;
  if (cuda) h.libraries = "-lcublas";
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
  std::string constants = "constexpr int32_t kOutputDtype = kDtype;\n";
  constants += "constexpr int kNumInputs = " + std::string(spec.has_c ? "3;  // A, B, C\n" : "2;  // A, B\n");
  constants += bool_constant("kTransA", spec.trans_a) + bool_constant("kTransB", spec.trans_b);
  constants += "constexpr float kAlpha = " + float_literal(spec.alpha) + ";\n";
  constants += "constexpr float kBeta = " + float_literal(spec.beta) + ";\n";
  constants += bool_constant("kHasC", spec.has_c);
  constants += bool_constant("kCTerm", c_term, "  // C is added (there is a C and beta is not 0)");
  if (cuda) constants += std::string("constexpr cudaDataType_t kCublasType = ") + dt.cublas_type + ";\n";
  Splicer splicer;
  return assemble(splicer, cuda ? "gemm_cuda.cu" : "gemm_cpu.cpp", "gemm_prologue.h", prologue(dt, constants, cfg),
                  dt, target, head(h, dt, target));
}

// ---------------------------------------------------------------------------------------
// GEMM with a fused epilogue, and convolution (+ bias + epilogue)

namespace {

/// `chain` with Gemm's C term (beta * C, C = kernel input 2) folded in ahead of its steps:
/// the product P becomes P + beta * C, C becomes the epilogue's input 1 and the caller's
/// inputs k >= 1 move up by one.
ElementwiseChain fold_c_term(const GemmEpilogueSpec& spec) {
  const ElementwiseChain& user = spec.epilogue;
  if (!spec.gemm || !spec.has_c) return user;
  using K = Operand::Kind;
  ElementwiseChain chain;
  chain.num_inputs = user.num_inputs + 1;
  chain.dtype = user.dtype;
  Operand product{K::kInput, 0, 0};
  if (spec.beta != 0) {
    Operand c{K::kInput, 1, 0};
    if (spec.beta != 1) {
      // Inside the Gemm node: not rounded (float32); the Add below rounds as Gemm's output.
      chain.steps.push_back({"Mul", {c, {K::kConstant, 0, spec.beta}}, {}, 1});
      c = {K::kStep, 0, 0};
    }
    chain.steps.push_back({"Add", {product, c}, {}});
    product = {K::kStep, static_cast<int>(chain.steps.size()) - 1, 0};
  }
  const int offset = static_cast<int>(chain.steps.size());
  for (ElementwiseStep step : user.steps) {
    for (Operand& o : step.operands) {
      if (o.kind == K::kInput) o = o.index == 0 ? product : Operand{K::kInput, o.index + 1, 0};
      else if (o.kind == K::kStep) o.index += offset;
    }
    chain.steps.push_back(std::move(step));
  }
  return chain;
}

/// What cuBLASLt's own epilogue computes of `chain`: its first `steps` steps, a bias add of
/// chain input `bias_input` (then Relu, or Gelu with the tanh approximation: cuBLASLt's GELU
/// is that one). The later steps must read neither the raw product nor a step before.
struct LtPlan {
  size_t steps = 0;
  int bias_input = -1;
  const char* epilogue = "CUBLASLT_EPILOGUE_DEFAULT";
};

LtPlan lt_plan(const ElementwiseChain& chain) {
  using K = Operand::Kind;
  LtPlan plan;
  if (chain.steps.empty()) return plan;
  const ElementwiseStep& add = chain.steps[0];
  if (add.op != "Add" || add.operands.size() != 2) return plan;
  for (int side = 0; side < 2; ++side) {
    const Operand& p = add.operands[side];
    const Operand& b = add.operands[1 - side];
    if (p.kind == K::kInput && p.index == 0 && b.kind == K::kInput && b.index > 0) plan.bias_input = b.index;
  }
  if (plan.bias_input < 0) return plan;
  plan.steps = 1;
  plan.epilogue = "CUBLASLT_EPILOGUE_BIAS";
  if (chain.steps.size() >= 2) {
    const ElementwiseStep& act = chain.steps[1];
    const bool on_bias = act.operands.size() == 1 && act.operands[0].kind == K::kStep && act.operands[0].index == 0;
    const auto approximate = act.attributes.find("approximate");
    if (on_bias && act.op == "Relu") plan = {2, plan.bias_input, "CUBLASLT_EPILOGUE_RELU_BIAS"};
    if (on_bias && act.op == "Gelu" && approximate != act.attributes.end() && approximate->second == 1)
      plan = {2, plan.bias_input, "CUBLASLT_EPILOGUE_GELU_BIAS"};
  }
  auto later_steps_fit = [&](size_t fused) {
    for (size_t i = fused; i < chain.steps.size(); ++i) {
      for (const Operand& o : chain.steps[i].operands) {
        if (o.kind == K::kInput && o.index == 0) return false;
        if (o.kind == K::kStep && static_cast<size_t>(o.index) + 1 < fused) return false;
      }
    }
    return true;
  };
  if (plan.steps == 2 && !later_steps_fit(2)) plan = {1, plan.bias_input, "CUBLASLT_EPILOGUE_BIAS"};
  if (plan.steps == 1 && !later_steps_fit(1)) plan = {};
  return plan;
}

/// The "epilogue_apply.h" slot: apply() computes the whole epilogue; with `rest_from` set
/// (CUDA), apply_rest() the steps from that one on, after cuBLASLt's part.
/// `storage` is the product's dtype, what each step rounds to (apply_function); with
/// `round_x0`, x[0] is rounded to it first (the product's node writes it so).
std::string epilogue_apply_text(const ElementwiseChain& chain, const std::vector<const OpTraits*>& traits,
                                const DtypeInfo& storage, bool round_x0, std::optional<size_t> rest_from,
                                std::string* description) {
  std::string text = "// The generated epilogue: Y's element from x[0] (the product or convolution) and the\n"
                     "// epilogue tensors' elements at the same (broadcast) position.\nnamespace {\n\n" +
                     apply_function(chain, traits, storage, round_x0, "apply", 0, description);
  if (rest_from) {
    text += "\n// What follows cuBLASLt's own epilogue (x[0] is its result; used when it fuses the bias).\n" +
            apply_function(chain, traits, storage, round_x0, "apply_rest", *rest_from, nullptr);
  }
  return text + "\n}  // namespace\n";
}

/// "//          x1 = epilogue tensor 1 (kernel input 3), ..." for the header comment.
std::string epilogue_inputs_text(const ElementwiseChain& chain, int first_kernel_input) {
  std::string out;
  for (int k = 1; k < chain.num_inputs; ++k)
    out += "//   x" + std::to_string(k) + " = kernel input " + std::to_string(first_kernel_input + k - 1) +
           ", broadcast to Y's shape\n";
  return out;
}

}  // namespace

Result<std::string> gemm_epilogue_source(const GemmEpilogueSpec& spec, Target target, const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "GEMM-epilogue"));
  const int32_t output_code = spec.output_dtype == 0 ? spec.dtype : spec.output_dtype;
  if (output_code != spec.dtype && output_code != 1) {
    return unsupported("GEMM-epilogue template: output dtype " + std::to_string(output_code) + " after a " + dt.name +
                       " product (it writes the product's dtype or float32)");
  }
  AK_ASSIGN_OR_RETURN(const DtypeInfo out, dtype_info(output_code, "GEMM-epilogue"));
  if (!std::isfinite(spec.alpha) || !std::isfinite(spec.beta))
    return invalid_input("GEMM-epilogue template: alpha and beta must be finite");
  AK_RETURN_IF_ERROR(check_chain(spec.epilogue, dt.code, "GEMM-epilogue template's epilogue").status());
  const ElementwiseChain chain = fold_c_term(spec);
  AK_ASSIGN_OR_RETURN(const std::vector<const OpTraits*> traits,
                      check_chain(chain, dt.code, "GEMM-epilogue template's epilogue"));
  // Gemm rounds alpha * A x B + beta * C once (fold_c_term's last step rounds); a MatMul's
  // product is its node's output.
  const bool round_product = !(spec.gemm && spec.has_c && spec.beta != 0);
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kGemmEpilogue, target, config));
  const bool cuda = target == Target::kCuda;
  const LtPlan lt = cuda && output_code == spec.dtype ? lt_plan(chain) : LtPlan{};
  const bool tf32 = spec.allow_tf32 && spec.dtype == 1;

  std::string epilogue_lines;
  Splicer splicer;
  splicer.slot_text("epilogue_apply.h",
                    epilogue_apply_text(chain, traits, dt, round_product,
                                        cuda ? std::optional<size_t>(lt.steps) : std::nullopt, &epilogue_lines));
  Head h;
  h.title = spec.gemm ? "Gemm + epilogue" : "MatMul + epilogue";
  h.config = cfg.summary;
  if (cuda) h.libraries = "-lcublasLt";
  const std::string product =
      spec.gemm ? std::string("alpha * ") + (spec.trans_a ? "A^T" : "A") + " x " + (spec.trans_b ? "B^T" : "B") +
                      (spec.has_c ? " + beta * C" : "") + " (ONNX Gemm, alpha = " + number_text(spec.alpha) +
                      (spec.has_c ? ", beta = " + number_text(spec.beta) : "") + ")"
                : std::string("A x B (ONNX MatMul = numpy matmul)");
  h.description = "// What it computes, per element of Y (one kernel):\n"
                  "//   x0 = " + product + "\n" +
                  epilogue_inputs_text(chain, 2) + epilogue_lines +
                  "// Inputs:  A, B" + (spec.gemm && spec.has_c ? ", C" : "") +
                  (spec.epilogue.num_inputs > 1 ? ", the epilogue tensors" : "") + "; " + dt.name + ".\n//          " +
                  (spec.gemm ? "A and B are 2-D" : "Batch dims broadcast (a 2-D B is shared); 1-D A or B per numpy") +
                  ";\n//          every epilogue tensor broadcasts to Y's shape (dims aligned from the right).\n"
                  "// Output:  Y, " + out.name + ", contiguous.\n";
  if (cuda) {
    h.description += std::string("// cuBLASLt computes the product with float32 accumulation (") +
                     (tf32 ? "TF32 allowed" : spec.dtype == 1 ? "no TF32" : "tensor cores") + ")";
    h.description += lt.steps > 0 ? std::string(",\n// fusing its ") + lt.epilogue +
                                        " when x" + std::to_string(lt.bias_input) +
                                        " is a contiguous [N] vector\n// (one product after folding the batch into M); the rest is one\n"
                                        "// elementwise kernel over Y, in place.\n"
                                  : ";\n// the epilogue is one elementwise kernel over Y, in place.\n";
    h.description += "// algo_index picks the entry of cublasLtMatmulAlgoGetHeuristic's list (an index past its\n"
                     "// end uses entry 0). Where to optimize: keep more of the epilogue inside the GEMM (a\n"
                     "// CUTLASS/WGMMA kernel with the activation in registers), and tune for these shapes.\n";
  } else {
    h.description += "// Arithmetic is float32, accumulated in float32 over K; the epilogue is applied as each\n"
                     "// tile of Y is stored, so Y is written once.\n"
                     "// Where to optimize: a register-blocked micro-kernel (e.g. 6x16 with AVX2/AVX-512 FMA),\n"
                     "// packing B once per call, and tuning the block sizes.\n";
  }

  std::string constants = "constexpr int32_t kOutputDtype = " + std::to_string(output_code) + ";  // " + out.name +
                          "\n";
  constants += "constexpr int kNumInputs = " + std::to_string(1 + chain.num_inputs) +
               ";  // A, B, then the epilogue tensors\n";
  constants += "constexpr int kFirstEpilogueInput = 2;\n";
  if (spec.gemm) {
    constants += bool_constant("kTransA", spec.trans_a) + bool_constant("kTransB", spec.trans_b);
    constants += bool_constant("kHasC", false, "  // C is an epilogue tensor here");
  } else {
    constants += bool_constant("kHasBias", false, "  // a bias is an epilogue tensor here");
  }
  constants += "constexpr float kAlpha = " + float_literal(spec.gemm ? spec.alpha : 1.0) + ";\n";
  constants += bool_constant("kHasEpilogue", !chain.steps.empty());
  if (cuda) {
    constants += std::string("constexpr cudaDataType_t kCudaType = ") + dt.cublas_type + ";\n";
    constants += std::string("constexpr cudaDataType_t kOutCudaType = ") + out.cublas_type + ";\n";
    constants += std::string("constexpr cublasComputeType_t kComputeType = ") +
                 (tf32 ? "CUBLAS_COMPUTE_32F_FAST_TF32" : "CUBLAS_COMPUTE_32F") + ";\n";
    constants += std::string("constexpr cublasLtEpilogue_t kLtEpilogue = ") + lt.epilogue + ";\n";
    constants += "constexpr int kLtBiasInput = " + std::to_string(lt.bias_input < 0 ? -1 : lt.bias_input + 1) +
                 ";  // the kernel input cuBLASLt's epilogue adds (-1: none)\n";
    constants += bool_constant("kLtHasRest", lt.steps < chain.steps.size());
  }
  const char* shape_file = spec.gemm ? "gemm_problem.h" : "matmul_problem.h";
  splicer.slot_file("gemm_epilogue_shape.h", shape_file);
  splicer.slot_file(spec.gemm ? "gemm_prologue.h" : "matmul_prologue.h", "gemm_epilogue_prologue.h");
  return assemble(splicer, cuda ? "gemm_epilogue_cuda.cu" : "gemm_epilogue_cpu.cpp", "gemm_epilogue_prologue.h",
                  prologue(dt, constants, cfg), dt, target, head(h, dt, target));
}

Result<std::string> conv_source(const ConvSpec& spec, Target target, const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "Conv"));
  const int r = spec.spatial_rank;
  if (r != 1 && r != 2) return invalid_input("Conv template: " + std::to_string(r) + " spatial dims (it takes 1 or 2)");
  auto attribute = [](const std::vector<int64_t>& values, size_t count, int64_t fallback, const char* name,
                      int64_t minimum) { return attribute_list(values, count, fallback, "Conv template", name, minimum); };
  AK_ASSIGN_OR_RETURN(const std::vector<int64_t> strides, attribute(spec.strides, r, 1, "strides", 1));
  AK_ASSIGN_OR_RETURN(const std::vector<int64_t> dilations, attribute(spec.dilations, r, 1, "dilations", 1));
  AK_ASSIGN_OR_RETURN(const std::vector<int64_t> pads, attribute(spec.pads, 2 * r, 0, "pads", 0));
  if (spec.group < 1) return invalid_input("Conv template: group " + std::to_string(spec.group));
  const bool cuda = target == Target::kCuda;
  for (int d = 0; d < r && cuda; ++d) {
    if (pads[d] != pads[r + d])
      return unsupported("Conv template (CUDA): asymmetric pads (cuDNN pads both sides alike)");
  }
  AK_ASSIGN_OR_RETURN(const std::vector<const OpTraits*> traits, check_chain(spec.epilogue, dt.code, "Conv template's epilogue"));
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kConv, target, config));
  const ElementwiseChain& chain = spec.epilogue;

  // As 2-D: a 1-D conv is one with H = 1 (stride and dilation 1, no pads along H).
  auto pair = [&](const std::vector<int64_t>& values, size_t offset, int64_t fill) {
    const int64_t h = r == 2 ? values[offset] : fill;
    const int64_t w = values[offset + r - 1];
    return "{" + std::to_string(h) + ", " + std::to_string(w) + "}";
  };
  auto list = [](const std::vector<int64_t>& values) {
    std::vector<std::string> parts;
    for (int64_t v : values) parts.push_back(std::to_string(v));
    return "[" + join(parts, ", ") + "]";
  };
  const int first_extra = spec.has_bias ? 3 : 2;
  std::string epilogue_lines;
  Splicer splicer;
  splicer.slot_text("epilogue_apply.h", epilogue_apply_text(chain, traits, dt, true, std::nullopt, &epilogue_lines));
  Head h;
  h.title = std::string("Conv") + (r == 1 ? " 1-D" : " 2-D") + (spec.has_bias ? " + bias" : "") +
            (chain.steps.empty() ? "" : " + epilogue");
  h.config = cfg.summary;
  if (cuda) h.libraries = "-lcudnn";
  const std::string spatial = r == 1 ? "W" : "H, W";
  const std::string kernel = r == 1 ? "KW" : "KH, KW";
  h.description = "// What it computes, per element of Y (one kernel per call):\n"
                  "//   x0 = Conv(X, W" + std::string(spec.has_bias ? ", B" : "") + ") per ONNX: group = " +
                  std::to_string(spec.group) + ", strides = " + list(strides) + ", dilations = " + list(dilations) +
                  ",\n//        pads = " + list(pads) + " (begins, then ends)\n" +
                  epilogue_inputs_text(chain, first_extra) + epilogue_lines +
                  "// Inputs:  X [N, C, " + spatial + "] (any strides), W [M, C / group, " + kernel + "]" +
                  (spec.has_bias ? ", B [M]" : "") + (chain.num_inputs > 1 ? ", the epilogue tensors" : "") +
                  ";\n//          " + dt.name + ", NCHW layout.\n"
                  "// Output:  Y [N, M, " + (r == 1 ? "OW" : "OH, OW") + "], " + dt.name + ", contiguous.\n";
  if (cuda) {
    h.description += std::string("// cuDNN computes the convolution with float accumulation (") +
                     (spec.dtype != 1 ? "tensor cores" : spec.allow_tf32 ? "TF32 allowed" : "no TF32") +
                     "), W packed;\n// B and the epilogue are one elementwise kernel over Y, in place.\n"
                     "// algo_index picks the entry of cudnnGetConvolutionForwardAlgorithm_v7's list (usable ones\n"
                     "// only; past the end: the first). Where to optimize: NHWC with tensor cores, the epilogue\n"
                     "// fused (cudnnConvolutionBiasActivationForward, cuDNN's graph API or CUTLASS).\n";
  } else {
    h.description += "// Per image: im2col (each window as a column), then the products' blocked loop with B\n"
                     "// and the epilogue applied in the store; float32 arithmetic.\n"
                     "// Where to optimize: a direct kernel for depthwise convolutions (im2col makes each group\n"
                     "// a one-row GEMM), NHWC, and packing the weights once.\n";
  }
  std::string constants = "constexpr int32_t kOutputDtype = kDtype;\n";
  constants += "constexpr int kNumInputs = " + std::to_string(first_extra + chain.num_inputs - 1) + ";  // X, W" +
               (spec.has_bias ? ", B" : "") + ", then the epilogue tensors\n";
  constants += "constexpr int kFirstEpilogueInput = " + std::to_string(first_extra) + ";\n";
  constants += bool_constant("kHasBias", spec.has_bias);
  constants += "constexpr int kSpatial = " + std::to_string(r) + ";\n";
  constants += "constexpr int64_t kGroup = " + std::to_string(spec.group) + ";\n";
  constants += "constexpr int64_t kStride[2] = " + pair(strides, 0, 1) + ";  // (H, W)\n";
  constants += "constexpr int64_t kDilation[2] = " + pair(dilations, 0, 1) + ";\n";
  constants += "constexpr int64_t kPadBegin[2] = " + pair(pads, 0, 0) + ";\n";
  constants += "constexpr int64_t kPadEnd[2] = " + pair(pads, r, 0) + ";\n";
  constants += bool_constant("kHasEpilogue", !chain.steps.empty());
  if (cuda) {
    const char* type = spec.dtype == 1 ? "CUDNN_DATA_FLOAT" : spec.dtype == 10 ? "CUDNN_DATA_HALF" : "CUDNN_DATA_BFLOAT16";
    const char* math = spec.dtype != 1 ? "CUDNN_TENSOR_OP_MATH" : spec.allow_tf32 ? "CUDNN_DEFAULT_MATH" : "CUDNN_FMA_MATH";
    constants += std::string("constexpr cudnnDataType_t kCudnnType = ") + type + ";\n";
    constants += std::string("constexpr cudnnMathType_t kMathType = ") + math + ";\n";
  }
  return assemble(splicer, cuda ? "conv_cuda.cu" : "conv_cpu.cpp", "conv_prologue.h", prologue(dt, constants, cfg),
                  dt, target, head(h, dt, target));
}

// ---------------------------------------------------------------------------------------
// Attention and rotary embedding

Result<std::string> attention_source(const AttentionSpec& spec, Target target, const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "attention"));
  if (!std::isfinite(spec.scale)) return invalid_input("attention template: scale " + number_text(spec.scale) + " is not finite");
  if (std::isnan(spec.mask_fill)) return invalid_input("attention template: mask_fill is NaN");
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kAttention, target, config));
  using Mask = AttentionSpec::Mask;
  const bool cuda = target == Target::kCuda;
  const int mask_kind = static_cast<int>(spec.mask);  // the enum's order is the kernel's kMaskKind
  const bool mask_input = spec.mask == Mask::kAdditive || spec.mask == Mask::kBoolean;
  const std::string fill = number_text(spec.mask_fill);
  std::string scores = "scale * Q x Kt";
  if (spec.mask == Mask::kAdditive) scores += " + mask";
  if (spec.mask == Mask::kBoolean) scores = "where(mask, " + fill + ", " + scores + ")";
  if (spec.mask == Mask::kCausal) scores = "where(j > i + Sk - Sq, " + fill + ", " + scores + ")";
  if (spec.mask == Mask::kCausalAdditive) scores += " + (j > i + Sk - Sq ? " + fill + " : 0)";
  Head h;
  h.title = "attention";
  h.config = cfg.summary;
  h.description =
      "// What it computes (MatMul -> scale -> mask -> Softmax -> MatMul, or com.autokernel.Attention):\n"
      "//   Y[.., Sq, Dv] = softmax(" + scores + ", over the keys) x V\n"
      "//   with scale = " + number_text(spec.scale) + ".\n"
      "// Inputs:  Q [.., Sq, D], Kt [.., D, Sk] (K transposed), V [.., Sk, Dv]" +
      (!mask_input ? std::string("")
                   : std::string(", mask ") + (mask_kind == 1 ? dt.name : "bool (true = masked)") +
                         " broadcast\n//          to [.., Sq, Sk] from the right") +
      "; " + dt.name + ", any strides.\n"
      "//          Up to two batch dims (batch, heads) aligned from the right: size 1 broadcasts,\n"
      "//          and Kt's and V's may divide Y's (grouped-query attention, head h -> h / (H / Hkv)).\n"
      "// Output:  Y, " + dt.name + ", contiguous [.., Sq, Dv].";
  if (cuda) h.description += " D and Dv at most 256.";
  h.description +=
      "\n// Arithmetic is float32 with an online softmax: each block of keys rescales the running\n"
      "// sums by exp(m_old - m_new), so the [Sq, Sk] scores are never stored.\n";
  h.description += cuda ? "// Where to optimize: the products run on CUDA cores from shared memory; use tensor cores\n"
                          "// (mma.sync / wgmma on float16/bfloat16 tiles, ldmatrix), keep the Q tile in registers,\n"
                          "// double-buffer the K/V tiles (cp.async / TMA), and skip tiles a causal mask hides.\n"
                        : "// Where to optimize: vectorize the dot products over D and the P x V update over Dv\n"
                          "// (AVX-512 FMA on packed K/V blocks), and skip key blocks a causal mask hides.\n";
  std::string constants = "constexpr int kMaskKind = " + std::to_string(mask_kind) +
                          ";  // 0 none, 1 additive mask, 2 boolean mask (true = masked), 3/4 causal (replaced/added)\n";
  constants += "constexpr int kNumInputs = " + std::string(mask_input ? "4;  // Q, Kt, V, mask\n" : "3;  // Q, Kt, V\n");
  constants += "constexpr float kScale = " + float_literal(spec.scale) + ";\n";
  constants += "constexpr float kMaskFill = " + float_literal(mask_kind >= 2 ? spec.mask_fill : 0) +
               ";  // the score of a masked position (or, causal added, what is added to it)\n";
  constants += cuda ? "constexpr int64_t kMaxHeadDim = " + std::to_string(kAttentionCudaMaxHeadDim) +
                          ";  // D and Dv: the accumulators are registers\n"
                    : std::string("constexpr int64_t kMaxHeadDim = INT64_MAX;  // no limit on the CPU\n");
  Splicer splicer;
  return assemble(splicer, cuda ? "attention_cuda.cu" : "attention_cpu.cpp", "attention_prologue.h",
                  prologue(dt, constants, cfg), dt, target, head(h, dt, target));
}

Result<std::string> rotary_source(const RotarySpec& spec, Target target, const TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, "rotary"));
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kElementwise, target, config));
  Head h;
  h.title = "rotary position embedding";
  h.config = cfg.summary;
  h.description = "// What it computes (rotate-half: the Split or Slice halves, Neg, Concat, Mul, Mul, Add):\n"
                  "//   y = x * cos + concat(-x[.., D/2:], x[.., :D/2]) * sin, over the last axis of D elements\n"
                  "// Inputs:  x, cos, sin; " + std::string(dt.name) +
                  "; cos and sin broadcast to x's shape (ONNX broadcasting);\n"
                  "//          D = x.shape[-1] even; any strides.\n"
                  "// Output:  y, " + dt.name + ", contiguous, x's shape. Arithmetic is float32.\n"
                  "// Where to optimize: memory-bound; read each x row once (vector loads of both halves),\n"
                  "// and reuse cos/sin rows across the heads they are broadcast over.\n";
  Splicer splicer;
  return assemble(splicer, target == Target::kCuda ? "rotary_cuda.cu" : "rotary_cpu.cpp", "elementwise_prologue.h",
                  prologue(dt, "constexpr int kNumInputs = 3;  // x, cos, sin\n", cfg), dt, target,
                  head(h, dt, target));
}

// ---------------------------------------------------------------------------------------
// Pooling

Result<std::string> pool_source(const PoolSpec& spec, Target target, const TemplateConfig& config) {
  const bool max = spec.kind == PoolSpec::Kind::kMax;
  const std::string op = std::string(spec.global ? "Global" : "") + (max ? "MaxPool" : "AveragePool");
  const std::string what = op + " template";
  AK_ASSIGN_OR_RETURN(const DtypeInfo dt, dtype_info(spec.dtype, op));
  const int r = spec.spatial_rank;
  if (r < 1 || r > 3) return invalid_input(what + ": " + std::to_string(r) + " spatial dims (it takes 1, 2 or 3)");
  using AutoPad = PoolSpec::AutoPad;
  if (spec.global && (!spec.kernel.empty() || !spec.strides.empty() || !spec.dilations.empty() || !spec.pads.empty() ||
                      spec.auto_pad != AutoPad::kNotSet || spec.ceil_mode || spec.count_include_pad))
    return invalid_input(what + ": a global pool takes no attributes");
  if (max && spec.count_include_pad) return invalid_input(what + ": count_include_pad is an AveragePool attribute");
  if (spec.auto_pad != AutoPad::kNotSet && (!spec.pads.empty() || spec.ceil_mode))
    return invalid_input(what + ": pads and ceil_mode go with auto_pad NOTSET only");
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kPool, target, config));
  std::vector<int64_t> kernel(r, 1), strides(r, 1), dilations(r, 1), pads(2 * r, 0);
  if (!spec.global) {
    if (spec.kernel.empty()) return invalid_input(what + ": kernel_shape is required");
    AK_ASSIGN_OR_RETURN(kernel, attribute_list(spec.kernel, r, 1, what, "kernel_shape", 1));
    AK_ASSIGN_OR_RETURN(strides, attribute_list(spec.strides, r, 1, what, "strides", 1));
    AK_ASSIGN_OR_RETURN(dilations, attribute_list(spec.dilations, r, 1, what, "dilations", 1));
    AK_ASSIGN_OR_RETURN(pads, attribute_list(spec.pads, 2 * r, 0, what, "pads", 0));
    for (int d = 0; d < r; ++d) {
      // A pad as wide as the window would let a window hold nothing but padding.
      const int64_t extent = (kernel[d] - 1) * dilations[d] + 1;
      if (pads[d] >= extent || pads[r + d] >= extent)
        return invalid_input(what + ": pads of dim " + std::to_string(d) + " reach past the window (" +
                             std::to_string(extent) + " wide)");
    }
  }
  const bool cuda = target == Target::kCuda;
  const char* auto_pad_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  const int auto_pad = static_cast<int>(spec.auto_pad);  // the enum's order is the kernel's kAutoPad
  const bool same = spec.auto_pad == AutoPad::kSameUpper || spec.auto_pad == AutoPad::kSameLower;
  const std::string spatial = r == 1 ? "W" : r == 2 ? "H, W" : "D, H, W";
  Head h;
  h.title = op + " " + std::to_string(r) + "-D";
  h.config = cfg.summary;
  h.description = "// What it computes, per element of Y: " + op + " per ONNX over X's " + std::to_string(r) +
                  " spatial dim" + (r == 1 ? "" : "s");
  if (spec.global) {
    h.description += ",\n//   the window being the whole input (Y [N, C, 1, ...]).\n";
  } else {
    h.description += ",\n//   kernel_shape = " + brace_list(kernel) + ", strides = " + brace_list(strides) +
                     ", dilations = " + brace_list(dilations) + ",\n//   auto_pad = " + auto_pad_names[auto_pad] +
                     (spec.auto_pad == AutoPad::kNotSet ? ", pads = " + brace_list(pads) + " (begins, then ends)" : "") +
                     ", ceil_mode = " + (spec.ceil_mode ? "1" : "0") +
                     (max ? "" : std::string(", count_include_pad = ") + (spec.count_include_pad ? "1" : "0")) + ".\n";
  }
  h.description += max ? "//   The maximum of the window's input elements; a NaN in the window gives NaN (ATen's rule).\n"
                       : "//   The float32 sum of the window's input elements over their count (with count_include_pad:\n"
                         "//   over its positions inside the padded input).\n";
  h.description += "// Input:   X [N, C, " + spatial + "], " + dt.name + ", NCHW, any strides; the sizes are read at run time" +
                   (same ? "\n//          (and the SAME pads computed from them)" : "") + ".\n// Output:  Y [N, C, " +
                   (r == 1 ? "OW" : r == 2 ? "OH, OW" : "OD, OH, OW") + "], " + dt.name +
                   ", contiguous (the size it must have is checked: code 4).\n";
  h.description += cuda ? "// One thread per output element (grid-stride), each reading its window.\n"
                          "// Where to optimize: memory-bound; stage input tiles in shared memory so that overlapping\n"
                          "// windows read X once, vectorize along W, and give a global pool a block per (n, c)\n"
                          "// with a shuffle reduction.\n"
                        : "// One OpenMP iteration per output row (n, c, od, oh); each output reads its window.\n"
                          "// Where to optimize: memory-bound; reuse the rows that overlapping windows share\n"
                          "// (a running max / sum along W), and vectorize across W for stride 1.\n";
  std::string constants = bool_constant("kPoolMax", max, "  // false: average");
  constants += bool_constant("kGlobal", spec.global, "  // the window is the whole input (the lists below unused)");
  constants += "constexpr int kSpatial = " + std::to_string(r) + ";\n";
  constants += "constexpr int64_t kKernel[kSpatial] = " + brace_list(kernel) + ";\n";
  constants += "constexpr int64_t kStride[kSpatial] = " + brace_list(strides) + ";\n";
  constants += "constexpr int64_t kDilation[kSpatial] = " + brace_list(dilations) + ";\n";
  constants += "constexpr int64_t kPadBegin[kSpatial] = " + brace_list({pads.begin(), pads.begin() + r}) + ";\n";
  constants += "constexpr int64_t kPadEnd[kSpatial] = " + brace_list({pads.begin() + r, pads.end()}) + ";\n";
  constants += "constexpr int kAutoPad = " + std::to_string(auto_pad) + ";  // " + auto_pad_names[auto_pad] +
               " (0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID)\n";
  constants += bool_constant("kCeilMode", spec.ceil_mode);
  constants += bool_constant("kCountIncludePad", spec.count_include_pad);
  Splicer splicer;
  return assemble(splicer, cuda ? "pool_cuda.cu" : "pool_cpu.cpp", "pool_prologue.h", prologue(dt, constants, cfg), dt,
                  target, head(h, dt, target));
}

// Data movement

namespace {

/// The ABI's dtypes the layout template copies: the code, its name and its bytes.
struct ByteDtype {
  int32_t code;
  const char* name;
  const char* onnx_enum;
  int bytes;
};

constexpr ByteDtype kByteDtypes[] = {
    {1, "float32", "FLOAT", 4},    {2, "uint8", "UINT8", 1},     {3, "int8", "INT8", 1},
    {4, "uint16", "UINT16", 2},    {5, "int16", "INT16", 2},     {6, "int32", "INT32", 4},
    {7, "int64", "INT64", 8},      {9, "bool", "BOOL", 1},       {10, "float16", "FLOAT16", 2},
    {11, "float64", "DOUBLE", 8},  {12, "uint32", "UINT32", 4},  {13, "uint64", "UINT64", 8},
    {14, "complex64", "COMPLEX64", 8}, {16, "bfloat16", "BFLOAT16", 2},
};

const char* layout_op_name(LayoutSpec::Op op) {
  switch (op) {
    case LayoutSpec::Op::kCopy: return "copy";
    case LayoutSpec::Op::kTranspose: return "transpose";
    case LayoutSpec::Op::kGather: return "gather";
    case LayoutSpec::Op::kSlice: return "slice";
    case LayoutSpec::Op::kConcat: return "concat";
    case LayoutSpec::Op::kExpand: return "expand";
  }
  return "?";
}

/// "constexpr int64_t kName[AK_MAX_RANK] = {a, b, ...};" (at least one value).
std::string rank_array(const char* name, const std::vector<int64_t>& values) {
  std::vector<std::string> parts;
  for (int64_t v : values)
    parts.push_back(v == INT64_MAX ? "INT64_MAX" : v == INT64_MIN ? "INT64_MIN" : std::to_string(v));
  if (parts.empty()) parts.push_back("0");
  return std::string("constexpr int64_t ") + name + "[AK_MAX_RANK] = {" + join(parts, ", ") + "};\n";
}

std::string ints_text(const std::vector<int64_t>& values) {
  std::vector<std::string> parts;
  for (int64_t v : values) parts.push_back(std::to_string(v));
  return "[" + join(parts, ", ") + "]";
}

/// The spec's checks: kOk or kInvalidInput naming what does not fit.
Status check_layout_spec(const LayoutSpec& spec) {
  const std::string where = std::string("layout template (") + layout_op_name(spec.op) + "): ";
  using Op = LayoutSpec::Op;
  if (spec.rank < 0 || spec.rank > 8) return invalid_input(where + "rank " + std::to_string(spec.rank) + " (0 to 8)");
  if (spec.op == Op::kConcat ? spec.num_inputs < 1 : spec.num_inputs != 1)
    return invalid_input(where + std::to_string(spec.num_inputs) + " inputs");
  if (spec.unread_inputs < 0 || (spec.unread_inputs > 0 && spec.op != Op::kCopy && spec.op != Op::kExpand))
    return invalid_input(where + std::to_string(spec.unread_inputs) + " unread inputs (only a copy or an expand takes them)");
  const bool has_axis = spec.op == Op::kGather || spec.op == Op::kConcat;
  if (has_axis && (spec.axis < 0 || spec.axis >= spec.rank))
    return invalid_input(where + "axis " + std::to_string(spec.axis) + " out of [0, " + std::to_string(spec.rank) + ")");
  if (spec.op == Op::kTranspose) {
    std::vector<int64_t> sorted = spec.perm;
    std::sort(sorted.begin(), sorted.end());
    bool permutation = sorted.size() == static_cast<size_t>(spec.rank);
    for (size_t d = 0; permutation && d < sorted.size(); ++d) permutation = sorted[d] == static_cast<int64_t>(d);
    if (!permutation)
      return invalid_input(where + "perm " + ints_text(spec.perm) + " is not a permutation of 0.." +
                           std::to_string(spec.rank - 1));
  }
  if (spec.op == Op::kGather) {
    if (spec.scalar_index && spec.indices.size() != 1) return invalid_input(where + "a scalar index needs one value");
    if (spec.rank - 1 + (spec.scalar_index ? 0 : 1) > 8) return invalid_input(where + "output rank above 8");
  }
  if (spec.op == Op::kSlice) {
    const size_t r = static_cast<size_t>(spec.rank);
    if (spec.starts.size() != r || spec.ends.size() != r || spec.steps.size() != r)
      return invalid_input(where + "starts, ends and steps need one value per dim");
    for (int64_t step : spec.steps)
      if (step == 0) return invalid_input(where + "a step of 0");
  }
  return Status::ok();
}

}  // namespace

Result<std::string> layout_source(const LayoutSpec& spec, Target target, const TemplateConfig& config) {
  const ByteDtype* byte_dtype = nullptr;
  for (const ByteDtype& d : kByteDtypes)
    if (d.code == spec.dtype) byte_dtype = &d;
  if (!byte_dtype)
    return unsupported("layout template: dtype " + std::to_string(spec.dtype) +
                       " is not supported (every ABI dtype but string = 8 and complex128 = 15 is)");
  AK_RETURN_IF_ERROR(check_layout_spec(spec));
  AK_ASSIGN_OR_RETURN(const ConfigText cfg, config_text(TemplateKind::kLayout, target, config));
  using Op = LayoutSpec::Op;
  const bool cuda = target == Target::kCuda;
  const DtypeInfo dt{byte_dtype->code, byte_dtype->name, byte_dtype->onnx_enum, "", "", ""};
  const int64_t rank = spec.rank;

  std::string what;
  switch (spec.op) {
    case Op::kCopy: what = "y = x in row-major order (Reshape, Flatten, Squeeze, Unsqueeze, Identity)"; break;
    case Op::kTranspose: what = "y = Transpose(x, perm = " + ints_text(spec.perm) + ")"; break;
    case Op::kGather:
      what = "y = Gather(x, indices = " + (spec.scalar_index ? std::to_string(spec.indices[0]) : ints_text(spec.indices)) +
             ", axis = " + std::to_string(spec.axis) + ")";
      break;
    case Op::kSlice:
      what = "y = x[start:end:step per dim], starts " + ints_text(spec.starts) + ", ends " + ints_text(spec.ends) +
             ", steps " + ints_text(spec.steps) + " (clamped as ONNX Slice does)";
      break;
    case Op::kConcat: what = "y = Concat(x0..x" + std::to_string(spec.num_inputs - 1) + ", axis = " + std::to_string(spec.axis) + ")"; break;
    case Op::kExpand: what = "y = x broadcast to y's shape (Expand)"; break;
  }
  // The tiled CUDA transpose: perm keeps every dim but swaps the last two.
  bool tiled = spec.op == Op::kTranspose && rank >= 2;
  for (int64_t d = 0; tiled && d < rank; ++d)
    tiled = spec.perm[d] == (d < rank - 2 ? d : d == rank - 2 ? rank - 1 : rank - 2);

  Head h;
  h.title = std::string("layout ") + layout_op_name(spec.op);
  h.config = cfg.summary;
  h.description = "// What it computes (a byte copy, so every dtype is exact):\n//   " + what + "\n" +
                  "// Inputs:  " + (spec.op == Op::kConcat ? std::to_string(spec.num_inputs) + " tensors" : std::string("x")) +
                  ", " + dt.name + ", any strides; shapes from the descriptors at run time" +
                  (spec.unread_inputs > 0 ? std::string(";\n//          then ") + std::to_string(spec.unread_inputs) +
                                                " input(s) not read (the shape/axes the output's shape reflects).\n"
                                          : std::string(".\n")) +
                  "// Output:  y, " + dt.name + ", contiguous (the caller's shape; checked against the op).\n" +
                  "// Structure: validate and build the map from an output element to its input element\n"
                  "// (layout_problem.h), then copy" +
                  (cuda ? std::string(tiled ? " with a tiled kernel through shared memory (Transpose of the\n"
                                              "// last two dims), or one thread per output element otherwise.\n"
                                            : ": one thread per output element (grid-stride).\n")
                        : std::string(" row by row: a memcpy where a row is contiguous in its input.\n")) +
                  (cuda ? "// Where to optimize: memory-bound; move 16 bytes per thread where the innermost run allows\n"
                          "// it, and specialize the index arithmetic for the shapes the task has.\n"
                        : "// Where to optimize: memory-bound; block the strided rows so reads stay in cache.\n");

  int64_t index_min = 0, index_max = 0;
  for (int64_t i : spec.indices) {
    index_min = std::min(index_min, i);
    index_max = std::max(index_max, i);
  }
  std::vector<std::string> table;
  for (int64_t i : spec.indices) table.push_back(std::to_string(i));
  if (table.empty()) table.push_back("0");
  const bool gather = spec.op == Op::kGather;
  std::vector<int64_t> starts = spec.starts, ends = spec.ends, steps = spec.steps;
  if (spec.op != Op::kSlice) {
    starts.assign(1, 0);
    ends.assign(1, 0);
    steps.assign(1, 1);
  }
  std::string constants =
      "constexpr int kElementBytes = " + std::to_string(byte_dtype->bytes) + ";\n" +
      "constexpr int kOp = " + std::to_string(static_cast<int>(spec.op)) + ";  // " + layout_op_name(spec.op) + "\n" +
      "constexpr int kNumInputs = " + std::to_string(spec.num_inputs) + ";\n" +
      "constexpr int kNumUnreadInputs = " + std::to_string(spec.unread_inputs) +
      ";  // after the data: a shape or axes the output's descriptor already reflects\n" +
      "constexpr int kRank = " + std::to_string(rank) + ";  // of the input(s)\n" +
      rank_array("kPerm", spec.op == Op::kTranspose ? spec.perm : std::vector<int64_t>{}) +
      "constexpr bool kTiledTranspose = " + (tiled ? "true" : "false") + ";\n" +
      "constexpr int kAxis = " + std::to_string(spec.axis) + ";\n" +
      "constexpr int kIndicesRank = " + (gather && spec.scalar_index ? "0" : "1") + ";\n" +
      "constexpr int64_t kNumIndices = " + std::to_string(gather ? spec.indices.size() : 0) + ";\n" +
      "constexpr int64_t kIndexMin = " + std::to_string(index_min) + ", kIndexMax = " + std::to_string(index_max) + ";\n" +
      "constexpr int64_t kScalarIndex = " + std::to_string(gather && spec.scalar_index ? spec.indices[0] : 0) + ";\n" +
      (cuda ? "__device__ " : "") + "const int64_t kIndices[] = {" + join(table, ", ") + "};\n" +
      rank_array("kStarts", starts) + rank_array("kEnds", ends) + rank_array("kSteps", steps);
  Splicer splicer;
  splicer.slot_text("layout_prologue.h", prologue(dt, constants, cfg));
  AK_RETURN_IF_ERROR(splicer.splice_file(cuda ? "layout_cuda.cu" : "layout_cpu.cpp"));
  return splicer.finish(head(h, dt, target));
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
@REASON@//
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
                          {"REASON", spec.reason.empty() ? std::string() : "// Why no template applies: " + spec.reason + "\n"},
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
