#include "models/inputs.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "base/strings.h"
#include "models/onnx_io.h"

namespace ak::models {

namespace {
Result<int64_t> parse_int(const std::string& text, const std::string& what) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return invalid_input(what + ": '" + text + "' is not a non-negative integer");
  try {
    return static_cast<int64_t>(std::stoll(text));
  } catch (const std::exception&) {
    return invalid_input(what + ": '" + text + "' is out of range");
  }
}
}  // namespace

Result<InputSpec> parse_input_spec(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    return invalid_input("--input '" + text + "': expected NAME=FILE.pb or NAME=1x3x224x224:float32");
  InputSpec spec;
  spec.name = text.substr(0, eq);
  std::string rest = text.substr(eq + 1);
  // A shape is digits and 'x' (optionally ':dtype'); anything else is a file path.
  auto colon = rest.find(':');
  std::string shape = rest.substr(0, colon);
  bool is_shape = !shape.empty() && shape.find_first_not_of("0123456789x") == std::string::npos &&
                  std::isdigit(static_cast<unsigned char>(shape.front()));
  if (!is_shape && shape != "scalar") {
    spec.file = rest;
    return spec;
  }
  if (shape != "scalar") {
    size_t start = 0;
    while (start <= shape.size()) {
      size_t x = shape.find('x', start);
      std::string part = shape.substr(start, x == std::string::npos ? std::string::npos : x - start);
      AK_ASSIGN_OR_RETURN(int64_t d, parse_int(part, "--input '" + text + "'"));
      spec.dims.push_back(d);
      if (x == std::string::npos) break;
      start = x + 1;
    }
  }
  if (colon != std::string::npos) {
    auto dtype = parse_dtype(rest.substr(colon + 1));
    if (!dtype || *dtype == DType::kString)
      return invalid_input("--input '" + text + "': unknown dtype '" + rest.substr(colon + 1) + "'");
    spec.dtype = *dtype;
  }
  return spec;
}

Result<std::pair<std::string, int64_t>> parse_dim_spec(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return invalid_input("--dim '" + text + "': expected NAME=N");
  AK_ASSIGN_OR_RETURN(int64_t n, parse_int(text.substr(eq + 1), "--dim '" + text + "'"));
  return std::make_pair(text.substr(0, eq), n);
}

std::optional<int64_t> index_bound(const Graph& graph, const std::string& name) {
  // Follow the value through shape-only ops to a Gather whose table is an initializer.
  std::vector<std::string> frontier{name};
  std::optional<int64_t> bound;
  for (int hops = 0; hops < 8 && !frontier.empty(); ++hops) {
    std::vector<std::string> next;
    for (const auto& value : frontier) {
      for (const auto& node : graph.nodes) {
        auto pos = std::find(node.inputs.begin(), node.inputs.end(), value);
        if (pos == node.inputs.end()) continue;
        const size_t index = pos - node.inputs.begin();
        if (node.op_type == "Gather" && index == 1) {
          const TensorData* table = graph.find_initializer(node.inputs[0]);
          int64_t axis = node.attr_int("axis", 0);
          if (table && !table->dims.empty()) {
            if (axis < 0) axis += static_cast<int64_t>(table->dims.size());
            if (axis >= 0 && axis < static_cast<int64_t>(table->dims.size())) {
              int64_t rows = table->dims[axis];
              bound = bound ? std::min(*bound, rows) : rows;
            }
          }
        } else if (index == 0 && (node.op_type == "Cast" || node.op_type == "Reshape" || node.op_type == "Unsqueeze" ||
                                  node.op_type == "Squeeze" || node.op_type == "Flatten" || node.op_type == "Identity")) {
          if (!node.outputs.empty()) next.push_back(node.outputs[0]);
        }
      }
    }
    frontier = std::move(next);
  }
  return bound;
}

namespace {
bool looks_like_mask(const std::string& name) {
  return lower(name).find("mask") != std::string::npos;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp <= 0) return static_cast<uint16_t>(sign);  // flush tiny values (random data never hits this)
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  if ((mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) == 0x1000 && (h & 1))) ++h;  // round to nearest even
  return static_cast<uint16_t>(h);
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

Result<TensorData> random_tensor(const Graph& graph, const ValueInfo& info, std::vector<int64_t> dims, DType dtype,
                                 std::mt19937_64& rng, std::string* source) {
  TensorData t;
  t.name = info.name;
  t.dtype = dtype;
  t.dims = std::move(dims);
  const int64_t n = t.numel();
  const size_t elem = dtype_size(dtype);
  if (elem == 0) return unsupported("input '" + info.name + "': cannot generate random " + dtype_name(dtype) + " data");
  std::vector<std::byte> bytes(static_cast<size_t>(n) * elem);
  auto put = [&](int64_t i, auto v) { std::memcpy(bytes.data() + i * elem, &v, elem); };
  if (is_floating(dtype)) {
    std::normal_distribution<float> dist(0.f, 1.f);
    for (int64_t i = 0; i < n; ++i) {
      float v = dist(rng);
      switch (dtype) {
        case DType::kFloat32: put(i, v); break;
        case DType::kFloat64: put(i, static_cast<double>(v)); break;
        case DType::kFloat16: put(i, float_to_half(v)); break;
        default: put(i, float_to_bfloat16(v)); break;
      }
    }
    *source = "random normal";
  } else if (dtype == DType::kBool) {
    std::bernoulli_distribution dist(0.5);
    for (int64_t i = 0; i < n; ++i) put(i, static_cast<uint8_t>(dist(rng)));
    *source = "random bool";
  } else {
    int64_t hi = 8;
    if (looks_like_mask(info.name)) {
      hi = 1;
      *source = "ones (attention mask)";
    } else if (auto bound = index_bound(graph, info.name)) {
      hi = std::max<int64_t>(*bound, 1);
      *source = "random ids in [0, " + std::to_string(hi) + ")";
    } else {
      *source = "random integers in [0, 8)";
    }
    std::uniform_int_distribution<int64_t> dist(0, hi - 1);
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = hi == 1 && looks_like_mask(info.name) ? 1 : dist(rng);
      switch (dtype) {
        case DType::kInt64: put(i, v); break;
        case DType::kInt32: put(i, static_cast<int32_t>(v)); break;
        case DType::kInt16: put(i, static_cast<int16_t>(v)); break;
        case DType::kInt8: put(i, static_cast<int8_t>(v)); break;
        case DType::kUInt8: put(i, static_cast<uint8_t>(v)); break;
        case DType::kUInt16: put(i, static_cast<uint16_t>(v)); break;
        case DType::kUInt32: put(i, static_cast<uint32_t>(v)); break;
        case DType::kUInt64: put(i, static_cast<uint64_t>(v)); break;
        default: return unsupported("input '" + info.name + "': cannot generate random " + dtype_name(dtype) + " data");
      }
    }
  }
  t.bytes = Buffer::copy_of(bytes.data(), bytes.size());
  return t;
}
}  // namespace

Status explain_defaulted_dims(const Status& status, const ResolvedInputs& inputs) {
  if (status.is_ok() || inputs.defaulted_dims.empty()) return status;
  std::vector<std::string> named, unnamed, flags;
  for (const auto& d : inputs.defaulted_dims) {
    if (d.rfind('?', 0) == 0) {
      unnamed.push_back("'" + d.substr(1) + "'");
    } else {
      named.push_back("'" + d + "'");
      flags.push_back("--dim " + d + "=N");
    }
  }
  std::string hint = " (defaulted to 1:";
  if (!named.empty()) hint += " symbolic dim" + std::string(named.size() > 1 ? "s " : " ") + join(named, ", ") + "; set with " + join(flags, " ");
  if (!unnamed.empty())
    hint += std::string(named.empty() ? "" : ";") + " an unnamed dynamic dimension of input" + (unnamed.size() > 1 ? "s " : " ") +
            join(unnamed, ", ") + "; give its shape with --input NAME=SHAPE";
  return Status(status.code(), status.message() + hint + ")");
}

Result<ResolvedInputs> resolve_inputs(const Model& model, const std::vector<InputSpec>& specs,
                                      const std::map<std::string, int64_t>& dims, uint64_t seed) {
  const Graph& graph = model.graph;
  const auto infos = graph.runtime_inputs();
  for (const auto& spec : specs) {
    if (std::none_of(infos.begin(), infos.end(), [&](const ValueInfo* v) { return v->name == spec.name; })) {
      std::string names;
      for (const auto* v : infos) names += (names.empty() ? "" : ", ") + v->name;
      return invalid_input("--input '" + spec.name + "': the model has no such input (inputs: " +
                           (names.empty() ? "none" : names) + ")");
    }
  }
  ResolvedInputs out;
  std::mt19937_64 rng(seed);
  std::map<std::string, bool> dim_noticed;
  for (const ValueInfo* info : infos) {
    if (info->kind != ValueInfo::Kind::kTensor)
      return unsupported("input '" + info->name + "' is a sequence or optional; only tensor inputs can be fed from the command line");
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const InputSpec& s) { return s.name == info->name; });
    if (spec != specs.end() && spec->file) {
      AK_ASSIGN_OR_RETURN(TensorData t, load_tensor_file(*spec->file));
      t.name = info->name;
      if (info->dtype != DType::kUndefined && t.dtype != info->dtype)
        return invalid_input("--input " + info->name + "=" + spec->file->string() + ": the file holds " +
                             dtype_name(t.dtype) + ", the model expects " + dtype_name(info->dtype));
      out.sources.push_back({info->name, "file:" + spec->file->string()});
      out.tensors.push_back(std::move(t));
      continue;
    }
    DType dtype = info->dtype;
    std::vector<int64_t> shape;
    if (spec != specs.end()) {
      if (spec->dtype != DType::kUndefined) {
        if (dtype != DType::kUndefined && spec->dtype != dtype)
          return invalid_input("--input " + info->name + ": dtype " + dtype_name(spec->dtype) + " given, the model expects " +
                               dtype_name(dtype));
        dtype = spec->dtype;
      }
      shape = spec->dims;
      if (info->has_shape) {
        bool ok = shape.size() == info->shape.size();
        for (size_t i = 0; ok && i < shape.size(); ++i)
          if (info->shape[i].is_fixed() && info->shape[i].value != shape[i]) ok = false;
        if (!ok) {
          std::string declared;
          for (size_t i = 0; i < info->shape.size(); ++i)
            declared += (i ? "x" : "") + (info->shape[i].is_fixed() ? std::to_string(info->shape[i].value)
                                                                    : (info->shape[i].param.empty() ? "?" : info->shape[i].param));
          return invalid_input("--input " + info->name + ": shape " + shape_string(shape) + " given, the model expects " +
                               (declared.empty() ? "scalar" : declared));
        }
      }
    } else {
      if (!info->has_shape)
        return invalid_input("input '" + info->name + "' has no declared shape; give one with --input " + info->name +
                             "=DIMSxDIMS:dtype");
      for (const auto& d : info->shape) {
        if (d.is_fixed()) {
          shape.push_back(d.value);
          continue;
        }
        const std::string key = d.param.empty() ? info->name + "?" : d.param;
        auto it = dims.find(d.param);
        if (!d.param.empty() && it != dims.end()) {
          shape.push_back(it->second);
        } else {
          shape.push_back(1);
          if (!dim_noticed[key]) {
            dim_noticed[key] = true;
            out.notices.push_back(d.param.empty() ? "input '" + info->name + "' has an unnamed dynamic dimension; using 1"
                                                  : "symbolic dim '" + d.param + "' set to 1 (use --dim " + d.param + "=N)");
            out.defaulted_dims.push_back(d.param.empty() ? "?" + info->name : d.param);
          }
        }
      }
    }
    if (dtype == DType::kUndefined)
      return invalid_input("input '" + info->name + "' has no declared dtype; give one with --input " + info->name +
                           "=SHAPE:dtype");
    std::string source;
    AK_ASSIGN_OR_RETURN(TensorData t, random_tensor(graph, *info, shape, dtype, rng, &source));
    out.sources.push_back({info->name, source + " (seed " + std::to_string(seed) + ")"});
    out.tensors.push_back(std::move(t));
  }
  for (const auto& [name, value] : dims) {
    bool used = false;
    for (const ValueInfo* info : infos)
      for (const auto& d : info->shape) used |= d.param == name;
    if (!used) return invalid_input("--dim " + name + "=" + std::to_string(value) + ": the model has no symbolic dimension '" + name + "'");
  }
  return out;
}

}  // namespace ak::models
