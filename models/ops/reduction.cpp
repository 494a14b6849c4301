// Reductions (ReduceSum ... ReduceSumSquare), index reductions (ArgMax, ArgMin, TopK),
// scans (CumSum) and the softmax family (Softmax, LogSoftmax, Hardmax).

#include <algorithm>
#include <limits>
#include <optional>
#include <stdexcept>

#include "models/ops/op_kernel.h"

namespace ak::models {
namespace {

std::vector<int64_t> ints_of(const TensorData& t) {
  const int64_t n = t.numel();
  if (t.dtype == DType::kInt64) return std::vector<int64_t>(t.data<int64_t>(), t.data<int64_t>() + n);
  if (t.dtype == DType::kInt32) return std::vector<int64_t>(t.data<int32_t>(), t.data<int32_t>() + n);
  throw std::invalid_argument("constant input '" + t.name + "' must be int32 or int64, is " + dtype_name(t.dtype));
}

/// The values of input `i` when it is a constant, so kernels need not read it per run.
std::optional<std::vector<int64_t>> constant_ints(const OpBuildInfo& info, size_t i) {
  const TensorData* t = info.constant_input ? info.constant_input(i) : nullptr;
  if (t == nullptr) return std::nullopt;
  return ints_of(*t);
}

/// Sorted, deduplicated, non-negative axes.
std::vector<int64_t> normalized_axes(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t a : axes) out.push_back(op_util::normalize_axis(a, rank));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int64_t> all_axes(int64_t rank) {
  std::vector<int64_t> out(static_cast<size_t>(rank));
  for (int64_t i = 0; i < rank; ++i) out[static_cast<size_t>(i)] = i;
  return out;
}

std::vector<int64_t> reduced_shape(at::IntArrayRef sizes, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> out;
  size_t k = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(sizes.size()); ++i) {
    const bool reduced = k < dims.size() && dims[k] == i;
    if (reduced) ++k;
    if (!reduced) out.push_back(sizes[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

enum class Reduce { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

/// Reduces `x` over `dims` (sorted, unique, non-empty). The result keeps x's dtype: ATen
/// would promote integer sums to int64 and refuses mean/log/sqrt of integers, which ONNX
/// computes in floating point and truncates back.
at::Tensor reduce_over(const at::Tensor& x, Reduce kind, const std::vector<int64_t>& dims, bool keepdim) {
  const at::ScalarType dtype = x.scalar_type();
  const bool floating = at::isFloatingType(dtype);
  const at::IntArrayRef d(dims);
  int64_t group = 1;
  for (int64_t i : dims) group *= x.size(i);

  // ONNX gives reductions over an empty set their identity element (-inf for max); ATen
  // refuses to reduce an empty dimension with max/min.
  if (group == 0 && (kind == Reduce::kMax || kind == Reduce::kMin || kind == Reduce::kLogSumExp)) {
    at::Scalar fill;
    const bool lowest = kind != Reduce::kMin;
    if (floating) {
      fill = lowest ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    } else if (dtype == at::kBool) {
      fill = !lowest;
    } else {
      AT_DISPATCH_INTEGRAL_TYPES(dtype, "reduce_empty_fill", [&] {
        fill = lowest ? std::numeric_limits<scalar_t>::lowest() : std::numeric_limits<scalar_t>::max();
      });
    }
    return at::full(reduced_shape(x.sizes(), dims, keepdim), fill, x.options());
  }

  switch (kind) {
    case Reduce::kSum: return at::sum(x, d, keepdim, dtype);
    case Reduce::kMean:
      if (floating) return at::mean(x, d, keepdim);
      return at::sum(x, d, keepdim, at::kDouble).div_(static_cast<double>(group)).to(dtype);
    case Reduce::kMax: return at::amax(x, d, keepdim);
    case Reduce::kMin: return at::amin(x, d, keepdim);
    case Reduce::kProd: {
      if (static_cast<int64_t>(dims.size()) == x.dim()) {
        at::Tensor all = at::prod(x, dtype);
        return keepdim ? all.reshape(reduced_shape(x.sizes(), dims, true)) : all;
      }
      // at::prod reduces one dimension at a time.
      at::Tensor r = x;
      for (auto it = dims.rbegin(); it != dims.rend(); ++it) r = at::prod(r, *it, true, dtype);
      return keepdim ? r : r.reshape(reduced_shape(x.sizes(), dims, false));
    }
    case Reduce::kL1: return at::sum(x.abs(), d, keepdim, dtype);
    case Reduce::kL2:
      if (floating) return at::linalg_vector_norm(x, 2, d, keepdim);
      return at::sum(x.to(at::kDouble).square(), d, keepdim).sqrt_().to(dtype);
    case Reduce::kLogSum:
      if (floating) return at::sum(x, d, keepdim).log_();
      return at::sum(x, d, keepdim, at::kDouble).log_().to(dtype);
    case Reduce::kLogSumExp:
      if (floating) return at::logsumexp(x, d, keepdim);
      return at::logsumexp(x.to(at::kDouble), d, keepdim).to(dtype);
    case Reduce::kSumSquare: return at::sum(x * x, d, keepdim, dtype);
  }
  throw std::logic_error("unknown reduction");
}

/// Reduce* ops; `axes_as_input` from the opset where axes moved from an attribute to input 1.
OpFactory reduce_factory(Reduce kind, bool axes_as_input) {
  return [kind, axes_as_input](const OpBuildInfo& info) -> Result<KernelPtr> {
    const Node& n = info.node;
    const bool keepdims = n.attr_int("keepdims", 1) != 0;
    const bool noop_with_empty_axes = axes_as_input && n.attr_int("noop_with_empty_axes", 0) != 0;
    std::optional<std::vector<int64_t>> axes;  // nullopt: read from input 1 on every run
    if (!axes_as_input) {
      if (n.has_input(1)) return unsupported("axes as an input needs a newer opset; at opset " + std::to_string(info.opset) + " it is an attribute");
      axes = n.attr_ints("axes");
    } else {
      if (n.has_attribute("axes")) return unsupported("axes as an attribute at opset " + std::to_string(info.opset) + "; it is input 1 there");
      if (!n.has_input(1)) axes = std::vector<int64_t>{};
      else axes = constant_ints(info, 1);
    }
    return make_kernel([kind, keepdims, noop_with_empty_axes, axes](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      const std::vector<int64_t> raw = axes ? *axes : (ctx.has_input(1) ? ctx.input_ints(1) : std::vector<int64_t>{});
      if (raw.empty() && noop_with_empty_axes) {
        ctx.set_output(0, x);
        return;
      }
      if (x.dim() == 0) {
        // A scalar is a group of one element; reduce it as a 1-element vector.
        (void)normalized_axes(raw, 0);  // rejects axes other than 0 and -1
        ctx.set_output(0, reduce_over(x.reshape({1}), kind, {0}, false));
        return;
      }
      const std::vector<int64_t> dims = raw.empty() ? all_axes(x.dim()) : normalized_axes(raw, x.dim());
      ctx.set_output(0, reduce_over(x, kind, dims, keepdims));
    });
  };
}

/// ArgMax / ArgMin (opset 1..13; select_last_index from 12, absent earlier means 0).
OpFactory arg_reduce_factory(bool is_max) {
  return [is_max](const OpBuildInfo& info) -> Result<KernelPtr> {
    const Node& n = info.node;
    const int64_t axis = n.attr_int("axis", 0);
    const bool keepdims = n.attr_int("keepdims", 1) != 0;
    const bool last = n.attr_int("select_last_index", 0) != 0;
    return make_kernel([is_max, axis, keepdims, last](OpContext& ctx) {
      const at::Tensor& in = ctx.input(0);
      const at::Tensor x = in.scalar_type() == at::kBool ? in.to(at::kByte) : in;
      const int64_t d = op_util::normalize_axis(axis, x.dim());
      // ATen returns the first extreme; the last one is the first of the reversed axis.
      const at::Tensor src = last ? x.flip(d) : x;
      at::Tensor idx = is_max ? at::argmax(src, d, keepdims) : at::argmin(src, d, keepdims);
      if (last) idx = idx.neg_().add_(x.dim() == 0 ? 0 : x.size(d) - 1);
      ctx.set_output(0, idx);
    });
  };
}

/// CumSum (opset 11, 14): axis is input 1, a scalar.
Result<KernelPtr> make_cumsum(const OpBuildInfo& info) {
  const Node& n = info.node;
  const bool exclusive = n.attr_int("exclusive", 0) != 0;
  const bool reverse = n.attr_int("reverse", 0) != 0;
  std::optional<std::vector<int64_t>> axis = constant_ints(info, 1);
  if (axis && axis->size() != 1) return invalid_input("CumSum axis must hold one value, has " + std::to_string(axis->size()));
  std::optional<int64_t> fixed_axis;
  if (axis) fixed_axis = axis->front();
  return make_kernel([exclusive, reverse, fixed_axis](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    int64_t axis_value = 0;
    if (fixed_axis) {
      axis_value = *fixed_axis;
    } else {
      const std::vector<int64_t> a = ctx.input_ints(1);
      if (a.size() != 1) throw std::invalid_argument("CumSum axis must hold one value, has " + std::to_string(a.size()));
      axis_value = a.front();
    }
    const int64_t d = op_util::normalize_axis(axis_value, x.dim());
    if (x.dim() == 0) {
      ctx.set_output(0, exclusive ? at::zeros_like(x) : x.clone());
      return;
    }
    const at::Tensor src = reverse ? x.flip(d) : x;
    at::Tensor y = at::cumsum(src, d, x.scalar_type());
    const int64_t len = x.size(d);
    if (exclusive && len > 0) {
      // Shifting the inclusive sum by one keeps integer and float results exact, unlike
      // subtracting x from it.
      y = at::cat({at::zeros_like(y.narrow(d, 0, 1)), y.narrow(d, 0, len - 1)}, d);
    }
    ctx.set_output(0, reverse ? y.flip(d) : y);
  });
}

/// TopK: k is an attribute before opset 10, input 1 from 10; largest/sorted from 11.
OpFactory topk_factory(bool k_as_input) {
  return [k_as_input](const OpBuildInfo& info) -> Result<KernelPtr> {
    const Node& n = info.node;
    const int64_t axis = n.attr_int("axis", -1);
    const bool largest = n.attr_int("largest", 1) != 0;
    std::optional<int64_t> fixed_k;
    if (!k_as_input) {
      if (!n.has_attribute("k")) return invalid_input("TopK before opset 10 needs attribute k");
      fixed_k = n.attr_int("k", 0);
    } else if (auto k = constant_ints(info, 1)) {
      if (k->size() != 1) return invalid_input("TopK k must hold one value, has " + std::to_string(k->size()));
      fixed_k = k->front();
    }
    return make_kernel([axis, largest, fixed_k](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      const int64_t d = op_util::normalize_axis(axis, x.dim());
      int64_t k = 0;
      if (fixed_k) {
        k = *fixed_k;
      } else {
        const std::vector<int64_t> kv = ctx.input_ints(1);
        if (kv.size() != 1) throw std::invalid_argument("TopK k must hold one value, has " + std::to_string(kv.size()));
        k = kv.front();
      }
      const int64_t len = x.dim() == 0 ? 1 : x.size(d);
      if (k < 0 || k > len)
        throw std::invalid_argument("TopK k=" + std::to_string(k) + " is out of range for axis of size " + std::to_string(len));
      // ONNX orders equal values by index; a stable sort guarantees that, at::topk does not.
      auto [values, indices] = at::sort(x, true, d, largest);
      if (k < len) {
        values = values.narrow(d, 0, k).contiguous();
        indices = indices.narrow(d, 0, k).contiguous();
      }
      ctx.set_output(0, values);
      ctx.set_output(1, indices);
    });
  };
}

enum class Normalizer { kSoftmax, kLogSoftmax, kHardmax };

at::Tensor apply_normalizer(Normalizer kind, const at::Tensor& x, int64_t dim) {
  switch (kind) {
    case Normalizer::kSoftmax: return at::softmax(x, dim);
    case Normalizer::kLogSoftmax: return at::log_softmax(x, dim);
    case Normalizer::kHardmax: {
      if (x.numel() == 0) return at::zeros_like(x);
      return at::zeros_like(x).scatter_(dim, at::argmax(x, dim, true), 1);
    }
  }
  throw std::logic_error("unknown normalizer");
}

/// Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D at `axis`
/// (default 1) and normalized over the flattened tail; from 13, over one axis (default -1).
OpFactory normalizer_factory(Normalizer kind, bool coerce_2d) {
  return [kind, coerce_2d](const OpBuildInfo& info) -> Result<KernelPtr> {
    const int64_t axis = info.node.attr_int("axis", coerce_2d ? 1 : -1);
    return make_kernel([kind, coerce_2d, axis](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      const int64_t rank = x.dim();
      if (rank == 0) {
        op_util::normalize_axis(axis, 0);
        ctx.set_output(0, apply_normalizer(kind, x.reshape({1}), 0).reshape({}));
        return;
      }
      if (!coerce_2d) {
        ctx.set_output(0, apply_normalizer(kind, x, op_util::normalize_axis(axis, rank)));
        return;
      }
      // The coerce point may be `rank` itself (an empty tail of size 1).
      if (axis < -rank || axis > rank)
        throw std::invalid_argument("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
      const int64_t d = axis < 0 ? axis + rank : axis;
      if (d == rank - 1) {
        ctx.set_output(0, apply_normalizer(kind, x, d));
        return;
      }
      int64_t outer = 1;
      for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
      int64_t inner = 1;
      for (int64_t i = d; i < rank; ++i) inner *= x.size(i);
      ctx.set_output(0, apply_normalizer(kind, x.reshape({outer, inner}), 1).reshape(x.sizes()));
    });
  };
}

}  // namespace

void register_reduction_ops(OpRegistry& r) {
  struct ReduceOp {
    const char* name;
    Reduce kind;
    int axes_input_since;
    Placement placement;
  };
  const ReduceOp reduce_ops[] = {
      {"ReduceSum", Reduce::kSum, 13, Placement::kHostable},
      {"ReduceMean", Reduce::kMean, 18, Placement::kDevice},
      {"ReduceMax", Reduce::kMax, 18, Placement::kHostable},
      {"ReduceMin", Reduce::kMin, 18, Placement::kHostable},
      {"ReduceProd", Reduce::kProd, 18, Placement::kHostable},
      {"ReduceL1", Reduce::kL1, 18, Placement::kDevice},
      {"ReduceL2", Reduce::kL2, 18, Placement::kDevice},
      {"ReduceLogSum", Reduce::kLogSum, 18, Placement::kDevice},
      {"ReduceLogSumExp", Reduce::kLogSumExp, 18, Placement::kDevice},
      {"ReduceSumSquare", Reduce::kSumSquare, 18, Placement::kDevice},
  };
  for (const ReduceOp& op : reduce_ops) {
    r.add(op.name, 1, reduce_factory(op.kind, false), op.placement);
    r.add(op.name, op.axes_input_since, reduce_factory(op.kind, true), op.placement);
  }

  r.add("ArgMax", 1, arg_reduce_factory(true));
  r.add("ArgMin", 1, arg_reduce_factory(false));
  r.add("CumSum", 11, make_cumsum, Placement::kHostable);
  r.add("TopK", 1, topk_factory(false));
  r.add("TopK", 10, topk_factory(true));

  const std::pair<const char*, Normalizer> normalizers[] = {
      {"Softmax", Normalizer::kSoftmax}, {"LogSoftmax", Normalizer::kLogSoftmax}, {"Hardmax", Normalizer::kHardmax}};
  for (const auto& [name, kind] : normalizers) {
    r.add(name, 1, normalizer_factory(kind, true));
    r.add(name, 13, normalizer_factory(kind, false));
  }
}

}  // namespace ak::models
