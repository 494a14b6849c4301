#include "profiler/cost_model.h"

#include <algorithm>
#include <set>

#include "kernels/op_traits.h"

namespace ak::profiler {

namespace {

constexpr double kSoftmaxFlopsPerElement = 5;  // max, subtract, exp, sum, divide

bool is_variadic(const std::string& op) { return op == "Sum" || op == "Max" || op == "Min" || op == "Mean"; }

/// The op-traits entry of `node`; com.microsoft nodes fall back to the ai.onnx op of the
/// same name (that domain re-registers many standard ops).
const kernels::OpTraits* traits_of(const models::Node& node) {
  const kernels::OpTraits* t = kernels::find_op_traits(node.op_type, node.domain);
  if (t == nullptr && node.domain == "com.microsoft") t = kernels::find_op_traits(node.op_type);
  return t;
}

const std::set<std::string>& view_ops() {
  static const std::set<std::string> kViews = {"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"};
  return kViews;
}

double values_bytes(const std::vector<std::vector<int64_t>>& shapes, const std::vector<models::DType>& dtypes,
                    size_t first = 0) {
  double total = 0;
  for (size_t i = first; i < shapes.size() && i < dtypes.size(); ++i)
    total += shape_numel(shapes[i]) * static_cast<double>(models::dtype_size(dtypes[i]));
  return total;
}

double out_numel(const NodeShapes& s, size_t i = 0) {
  return i < s.output_shapes.size() ? shape_numel(s.output_shapes[i]) : 0;
}

bool present(const NodeShapes& s, size_t i) {
  return s.node->has_input(i) && i < s.input_shapes.size() && i < s.input_dtypes.size() &&
         s.input_dtypes[i] != models::DType::kUndefined;
}

/// Broadcast of the leading (batch) dims of two shapes, numpy style; product returned.
double broadcast_batch(std::vector<int64_t> a, std::vector<int64_t> b) {
  if (a.size() < b.size()) std::swap(a, b);
  double prod = 1;
  const size_t off = a.size() - b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t d = a[i];
    if (i >= off) {
      const int64_t e = b[i - off];
      d = d == 1 ? e : d;
    }
    prod *= static_cast<double>(std::max<int64_t>(d, 0));
  }
  return prod;
}

double matmul_flops(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.empty() || b.empty()) return -1;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  const double k = static_cast<double>(a.back());
  const double m = a_vec ? 1 : static_cast<double>(a[a.size() - 2]);
  const double n = b_vec ? 1 : static_cast<double>(b.back());
  const double k_b = static_cast<double>(b_vec ? b[0] : b[b.size() - 2]);
  if (k != k_b) return -1;
  std::vector<int64_t> batch_a(a.begin(), a.end() - (a_vec ? 1 : 2));
  std::vector<int64_t> batch_b(b.begin(), b.end() - (b_vec ? 1 : 2));
  return 2 * broadcast_batch(batch_a, batch_b) * m * n * k;
}

double conv_flops(const NodeShapes& s, bool transpose) {
  if (s.input_shapes.size() < 2 || s.output_shapes.empty()) return -1;
  const auto& x = s.input_shapes[0];
  const auto& w = s.input_shapes[1];
  const auto& y = s.output_shapes[0];
  if (x.size() < 3 || w.size() != x.size() || y.size() != x.size()) return -1;
  const double group = static_cast<double>(std::max<int64_t>(s.node->attr_int("group", 1), 1));
  double kernel = 1;
  for (size_t i = 2; i < w.size(); ++i) kernel *= static_cast<double>(w[i]);
  const double n = static_cast<double>(x[0]);
  double out_spatial = 1, in_spatial = 1;
  for (size_t i = 2; i < y.size(); ++i) out_spatial *= static_cast<double>(y[i]), in_spatial *= static_cast<double>(x[i]);
  const double cout = static_cast<double>(y[1]);
  double flops;
  if (!transpose) {
    // Every output element is a dot product over Cin/group * kernel inputs.
    flops = 2 * n * cout * out_spatial * (static_cast<double>(x[1]) / group) * kernel;
  } else {
    // Every input element scatters into Cout/group * kernel outputs.
    flops = 2 * n * static_cast<double>(x[1]) * in_spatial * (cout / group) * kernel;
  }
  if (present(s, 2)) flops += n * cout * out_spatial;
  return flops;
}

double attention_flops(const NodeShapes& s) {
  if (s.input_shapes.size() < 3 || s.output_shapes.empty()) return -1;
  const auto& q = s.input_shapes[0];
  const auto& kt = s.input_shapes[1];
  const auto& v = s.input_shapes[2];
  const auto& out = s.output_shapes[0];
  if (q.size() < 2 || kt.size() < 2 || v.size() < 2 || out.size() < 2) return -1;
  const double sq = static_cast<double>(q[q.size() - 2]), d = static_cast<double>(q.back());
  const double sk = static_cast<double>(kt.back()), dv = static_cast<double>(v.back());
  const double batch = shape_numel(out) / std::max(1.0, sq * dv);
  const double scores = batch * sq * sk;
  double flops = 2 * scores * d + 2 * scores * dv + kSoftmaxFlopsPerElement * scores + scores;
  if (present(s, 3)) flops += scores;
  return flops;
}

double normalization_flops_per_element(const std::string& op) {
  if (op == "Softmax" || op == "LogSoftmax") return kSoftmaxFlopsPerElement;
  if (op == "LayerNormalization" || op == "InstanceNormalization" || op == "GroupNormalization" ||
      op == "SkipLayerNormalization")
    return 8;  // mean, subtract, square, variance, rsqrt (amortized), normalize, scale, shift
  if (op == "SimplifiedLayerNormalization" || op == "RMSNormalization") return 5;
  if (op == "BatchNormalization") return 4;  // subtract mean, times 1/std, scale, shift
  if (op == "LpNormalization") return 3;
  return 1;
}

double reduction_flops(const NodeShapes& s) {
  const std::string& op = s.node->op_type;
  if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") {
    double kernel = 1;
    for (int64_t k : s.node->attr_ints("kernel_shape")) kernel *= static_cast<double>(k);
    return out_numel(s) * kernel;
  }
  const double in = s.input_shapes.empty() ? 0 : shape_numel(s.input_shapes[0]);
  if (op == "ReduceL2" || op == "ReduceSumSquare" || op == "GlobalLpPool") return 2 * in;
  if (op == "ReduceLogSumExp") return 5 * in;
  return in;
}

}  // namespace

double shape_numel(const std::vector<int64_t>& shape) {
  double n = 1;
  for (int64_t d : shape) n *= static_cast<double>(std::max<int64_t>(d, 0));
  return n;
}

double elementwise_flops_per_element(const std::string& op_type) {
  const kernels::OpTraits* t = kernels::find_op_traits(op_type);
  if (t == nullptr) t = kernels::find_op_traits(op_type, "com.microsoft");
  return t != nullptr && t->elementwise() ? t->flops_per_element : -1;
}

const char* op_class_of(const models::Node& node) {
  const kernels::OpTraits* t = traits_of(node);
  return t == nullptr ? "other" : kernels::op_family_name(t->family);
}

NodeCost estimate_cost(const NodeShapes& s) {
  NodeCost cost;
  if (s.node == nullptr) return cost;
  const std::string& op = s.node->op_type;
  cost.op_class = op_class_of(*s.node);
  const double in_bytes = values_bytes(s.input_shapes, s.input_dtypes);
  const double out_bytes = values_bytes(s.output_shapes, s.output_dtypes);
  cost.bytes = in_bytes + out_bytes;
  const std::string cls = cost.op_class;
  double flops = 0;
  if (cls == "matmul") {
    if (op == "MatMul" || op == "MatMulInteger") {
      flops = s.input_shapes.size() >= 2 ? matmul_flops(s.input_shapes[0], s.input_shapes[1]) : -1;
    } else if (op == "Gemm") {
      if (s.input_shapes.size() >= 2 && s.input_shapes[0].size() == 2 && !s.output_shapes.empty() &&
          s.output_shapes[0].size() == 2) {
        const auto& a = s.input_shapes[0];
        const double k = static_cast<double>(s.node->attr_int("transA", 0) ? a[0] : a[1]);
        const double mn = shape_numel(s.output_shapes[0]);
        flops = 2 * mn * k + (present(s, 2) ? mn : 0);
      } else {
        flops = -1;
      }
    } else {
      flops = -1;  // Einsum: no general formula here
    }
  } else if (cls == "conv") {
    flops = conv_flops(s, op == "ConvTranspose");
  } else if (cls == "attention") {
    flops = op == "Attention" && s.node->domain == "com.autokernel" ? attention_flops(s) : -1;
  } else if (cls == "elementwise") {
    double per = std::max(0.0, traits_of(*s.node)->flops_per_element);
    if (is_variadic(op)) {
      double n_inputs = 0;
      for (size_t i = 0; i < s.input_shapes.size(); ++i) n_inputs += present(s, i) ? 1 : 0;
      per = std::max(0.0, n_inputs - 1) + (op == "Mean" ? 1 : 0);
    }
    flops = per * out_numel(s);
  } else if (cls == "reduction") {
    flops = reduction_flops(s);
  } else if (cls == "normalization") {
    flops = normalization_flops_per_element(op) * out_numel(s);
  } else if (cls == "data_movement") {
    if (view_ops().count(op)) {
      cost.bytes = 0;
    } else if (op == "Shape" || op == "Size" || op == "ConstantOfShape" || op == "Constant" || op == "Range") {
      cost.bytes = out_bytes;
    } else if (op == "Gather" || op == "GatherElements" || op == "GatherND" || op == "Slice") {
      // The gathered/sliced elements are read once (as many as the output holds), plus the
      // indices or slice parameters; the rest of the table is never touched.
      cost.bytes = 2 * out_bytes + values_bytes(s.input_shapes, s.input_dtypes, 1);
    }
  }
  if (flops < 0) {
    cost.op_class = cls == "matmul" || cls == "conv" || cls == "attention" ? "other" : cost.op_class;
    flops = 0;
  }
  cost.flops = flops;
  return cost;
}

std::map<std::string, double> value_bytes_of(const std::vector<NodeShapes>& nodes) {
  std::map<std::string, double> bytes;
  for (const auto& s : nodes) {
    if (s.node == nullptr) continue;
    for (size_t i = 0; i < s.node->inputs.size() && i < s.input_shapes.size() && i < s.input_dtypes.size(); ++i)
      if (!s.node->inputs[i].empty())
        bytes[s.node->inputs[i]] = shape_numel(s.input_shapes[i]) * static_cast<double>(models::dtype_size(s.input_dtypes[i]));
    for (size_t i = 0; i < s.node->outputs.size() && i < s.output_shapes.size() && i < s.output_dtypes.size(); ++i)
      if (!s.node->outputs[i].empty())
        bytes[s.node->outputs[i]] =
            shape_numel(s.output_shapes[i]) * static_cast<double>(models::dtype_size(s.output_dtypes[i]));
  }
  return bytes;
}

}  // namespace ak::profiler
