// Tensor-manipulation ops: shapes, views, indexing, scatter, padding, and the small
// constructors (ConstantOfShape, Range, EyeLike, OneHot).
//
// Shape-like inputs (shape, axes, starts, pads, repeats...) are read on the host; when they
// are constants of the graph they are read once when the node is prepared. Index tensors
// (Gather's indices, ScatterND's indices...) stay on the node's device and are wrapped and
// linearized there with ATen ops, so the device path waits for the device only where an
// output's shape depends on data (NonZero, Unique, Compress; Range, and OneHot's depth,
// when those scalars were computed on the device).

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "models/aten_interop.h"
#include "models/ops/op_kernel.h"

namespace ak::models {
namespace {

using Ints = std::vector<int64_t>;
using op_util::normalize_axis;

std::string dims_string(at::IntArrayRef dims) { return shape_string(Ints(dims.begin(), dims.end())); }

int64_t product(at::IntArrayRef dims, size_t begin = 0, size_t end = SIZE_MAX) {
  int64_t p = 1;
  for (size_t i = begin; i < std::min(end, dims.size()); ++i) p *= dims[i];
  return p;
}

/// The integer values of a constant input, or nothing when the input is computed at run
/// time (or is not an integer tensor).
std::optional<Ints> constant_ints(const OpBuildInfo& info, size_t i) {
  const TensorData* t = info.constant_input ? info.constant_input(i) : nullptr;
  if (t == nullptr) return std::nullopt;
  const int64_t n = t->numel();
  Ints out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    if (t->dtype == DType::kInt64) {
      std::memcpy(&out[k], t->bytes.data + k * 8, 8);
    } else if (t->dtype == DType::kInt32) {
      int32_t v;
      std::memcpy(&v, t->bytes.data + k * 4, 4);
      out[k] = v;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

/// A shape-like input: its constant value when known at prepare time, else read per run.
struct IntsInput {
  size_t index = 0;
  std::optional<Ints> constant;

  IntsInput() = default;
  IntsInput(const OpBuildInfo& info, size_t i) : index(i), constant(constant_ints(info, i)) {}
  bool present(OpContext& ctx) const { return constant.has_value() || ctx.has_input(index); }
  Ints get(OpContext& ctx) const { return constant ? *constant : ctx.input_ints(index); }
};

/// A one-element tensor (an attribute or a constant input) as an ATen scalar.
Result<at::Scalar> scalar_of(const TensorData& t, const std::string& what) {
  if (t.numel() != 1) return invalid_input(what + " must hold one value, has " + std::to_string(t.numel()));
  AK_ASSIGN_OR_RETURN(at::Tensor host, to_tensor(t, at::Device(at::kCPU)));
  return host.reshape({}).item();
}

at::Scalar scalar_of(const at::Tensor& host, const std::string& what) {
  if (host.numel() != 1)
    throw std::invalid_argument(what + " must hold one value, has " + std::to_string(host.numel()));
  return host.reshape({}).item();
}

/// Indices may be negative (counting from the end of the axis of size `dim`).
at::Tensor wrap_negative(const at::Tensor& indices, int64_t dim) { return at::where(indices < 0, indices + dim, indices); }

bool all_non_negative(const std::optional<Ints>& values) {
  return values && std::all_of(values->begin(), values->end(), [](int64_t v) { return v >= 0; });
}

/// Row-major linear offsets into the leading `index.size(-1)` dims of `dims`, one per index
/// tuple: [..., k] -> [...], negative components wrapped.
at::Tensor linear_offsets(const at::Tensor& index, at::IntArrayRef dims) {
  const int64_t k = index.size(-1);
  at::Tensor idx = index.to(at::kLong);
  at::Tensor lin;
  for (int64_t j = 0; j < k; ++j) {
    at::Tensor col = wrap_negative(idx.select(-1, j), dims[j]);
    lin = j == 0 ? col : lin * dims[j] + col;
  }
  if (k == 0) lin = at::zeros(idx.sizes().slice(0, idx.dim() - 1), idx.options());
  return lin;
}

// ---------------------------------------------------------------------------------------
// Shapes and views

/// The dims of input 0 (a tensor or a string tensor), read without touching its data.
Ints input_dims(OpContext& ctx) {
  if (!ctx.has_input(0)) throw std::invalid_argument("input 0 is missing");
  const Value& v = ctx.input_value(0);
  if (v.kind == Value::Kind::kStrings) return v.string_dims;
  if (!v.is_tensor()) throw std::invalid_argument("input 0 is not a tensor");
  return Ints(v.tensor.sizes().begin(), v.tensor.sizes().end());
}

Result<KernelPtr> shape_factory(const OpBuildInfo& info) {
  const bool ranged = info.opset >= 15;
  const int64_t start_attr = ranged ? info.node.attr_int("start", 0) : 0;
  const std::optional<int64_t> end_attr =
      ranged && info.node.has_attribute("end") ? std::optional<int64_t>(info.node.attr_int("end", 0)) : std::nullopt;
  return make_kernel([start_attr, end_attr](OpContext& ctx) {
    // The result is always a host tensor, also on the device path: it is shape arithmetic's
    // input, and building it on the device would cost an upload.
    const Ints dims = input_dims(ctx);
    const int64_t rank = static_cast<int64_t>(dims.size());
    auto clamp_index = [rank](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t{0}, rank); };
    const int64_t start = clamp_index(start_attr), end = clamp_index(end_attr.value_or(rank));
    const int64_t n = std::max<int64_t>(end - start, 0);
    at::Tensor out = at::empty({n}, at::TensorOptions().dtype(at::kLong));
    std::copy(dims.begin() + start, dims.begin() + start + n, out.data_ptr<int64_t>());
    ctx.set_output(0, out);
  });
}

void size_kernel(OpContext& ctx) {
  ctx.set_output(0, at::scalar_tensor(product(input_dims(ctx)), at::TensorOptions().dtype(at::kLong)));
}

/// Reshape's target: 0 copies the input's dim (unless allowzero), one -1 is inferred.
Ints reshape_target(at::IntArrayRef in, const Ints& shape, bool allowzero) {
  Ints out = shape;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= in.size())
        throw std::invalid_argument("shape " + shape_string(shape) + " copies dim " + std::to_string(i) +
                                    " of an input of rank " + std::to_string(in.size()));
      out[i] = in[i];
    } else if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("shape " + shape_string(shape) + " has more than one -1");
      infer = static_cast<int64_t>(i);
      continue;
    } else if (shape[i] < 0) {
      throw std::invalid_argument("shape " + shape_string(shape) + " has a negative dimension");
    }
    known *= out[i];
  }
  const int64_t numel = product(in);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw std::invalid_argument("cannot reshape " + dims_string(in) + " to " + shape_string(shape));
    out[infer] = numel / known;
  } else if (known != numel) {
    throw std::invalid_argument("cannot reshape " + dims_string(in) + " (" + std::to_string(numel) + " elements) to " +
                                shape_string(out));
  }
  return out;
}

Result<KernelPtr> reshape_factory(const OpBuildInfo& info) {
  if (info.opset < 5) {
    Ints shape = info.node.attr_ints("shape");
    return make_kernel([shape](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      ctx.set_output(0, x.reshape(reshape_target(x.sizes(), shape, false)));
    });
  }
  const bool allowzero = info.opset >= 14 && info.node.attr_int("allowzero", 0) != 0;
  return make_kernel([allowzero, shape = IntsInput(info, 1)](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    ctx.set_output(0, x.reshape(reshape_target(x.sizes(), shape.get(ctx), allowzero)));
  });
}

Result<KernelPtr> flatten_factory(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 1);
  return make_kernel([axis](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const int64_t rank = x.dim();
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a > rank)
      throw std::invalid_argument("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    const size_t split = static_cast<size_t>(a);
    ctx.set_output(0, x.reshape({product(x.sizes(), 0, split), product(x.sizes(), split)}));
  });
}

at::Tensor squeeze(const at::Tensor& x, const Ints& axes) {
  const int64_t rank = x.dim();
  std::vector<bool> drop(static_cast<size_t>(rank), axes.empty());
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) drop[d] = x.size(d) == 1;
  } else {
    for (int64_t axis : axes) {
      const int64_t a = normalize_axis(axis, rank);
      if (x.size(a) != 1)
        throw std::invalid_argument("cannot squeeze axis " + std::to_string(axis) + " of shape " + dims_string(x.sizes()));
      drop[a] = true;
    }
  }
  Ints out;
  for (int64_t d = 0; d < rank; ++d)
    if (!drop[d]) out.push_back(x.size(d));
  return x.reshape(out);
}

at::Tensor unsqueeze(const at::Tensor& x, const Ints& axes) {
  const int64_t rank = x.dim() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t axis : axes) {
    const int64_t a = normalize_axis(axis, rank);
    if (inserted[a]) throw std::invalid_argument("axis " + std::to_string(axis) + " is repeated");
    inserted[a] = true;
  }
  Ints out;
  int64_t next = 0;
  for (int64_t d = 0; d < rank; ++d) out.push_back(inserted[d] ? 1 : x.size(next++));
  return x.reshape(out);
}

/// Squeeze/Unsqueeze: `axes` is an attribute before opset 13, an input from 13.
template <at::Tensor (*Fn)(const at::Tensor&, const Ints&)>
OpFactory axes_op_factory(bool axes_from_input) {
  return [axes_from_input](const OpBuildInfo& info) -> Result<KernelPtr> {
    if (!axes_from_input) {
      Ints axes = info.node.attr_ints("axes");
      return make_kernel([axes](OpContext& ctx) { ctx.set_output(0, Fn(ctx.input(0), axes)); });
    }
    return make_kernel([axes = IntsInput(info, 1)](OpContext& ctx) {
      ctx.set_output(0, Fn(ctx.input(0), axes.present(ctx) ? axes.get(ctx) : Ints{}));
    });
  };
}

Result<KernelPtr> transpose_factory(const OpBuildInfo& info) {
  const bool has_perm = info.node.has_attribute("perm");
  Ints perm = info.node.attr_ints("perm");
  return make_kernel([has_perm, perm](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (!has_perm) {
      Ints reversed(static_cast<size_t>(x.dim()));
      std::iota(reversed.rbegin(), reversed.rend(), 0);
      ctx.set_output(0, x.permute(reversed));
      return;
    }
    if (static_cast<int64_t>(perm.size()) != x.dim())
      throw std::invalid_argument("perm " + shape_string(perm) + " does not match the input's rank " + std::to_string(x.dim()));
    ctx.set_output(0, x.permute(perm));
  });
}

Result<KernelPtr> concat_factory(const OpBuildInfo& info) {
  if (info.opset >= 4 && !info.node.has_attribute("axis")) return invalid_input("Concat needs the axis attribute");
  const int64_t axis = info.node.attr_int("axis", 1);
  return make_kernel([axis](OpContext& ctx) {
    std::vector<at::Tensor> parts;
    parts.reserve(ctx.num_inputs());
    for (size_t i = 0; i < ctx.num_inputs(); ++i) parts.push_back(ctx.input(i));
    if (parts.empty()) throw std::invalid_argument("Concat has no inputs");
    const int64_t rank = parts[0].dim();
    for (const auto& p : parts)
      if (p.dim() != rank)
        throw std::invalid_argument("inputs of rank " + std::to_string(rank) + " and " + std::to_string(p.dim()) + " cannot concatenate");
    ctx.set_output(0, at::cat(parts, normalize_axis(axis, rank)));
  });
}

/// Split: the sizes come from `split` (attribute before 13, input from 13), else from
/// num_outputs (18+, the last chunk may be smaller), else equal parts.
Result<KernelPtr> split_factory(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 0);
  const bool split_attr = info.opset < 13 && info.node.has_attribute("split");
  const bool split_input = info.opset >= 13 || (info.opset < 2 && !split_attr);
  const Ints attr_sizes = info.node.attr_ints("split");
  const bool uneven = info.opset >= 18;
  if (uneven && info.node.has_attribute("num_outputs") &&
      info.node.attr_int("num_outputs", 0) != static_cast<int64_t>(info.node.outputs.size()))
    return invalid_input("num_outputs " + std::to_string(info.node.attr_int("num_outputs", 0)) + " differs from the " +
                         std::to_string(info.node.outputs.size()) + " outputs of the node");
  return make_kernel([axis, split_attr, split_input, attr_sizes, uneven, split = IntsInput(info, 1)](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const int64_t a = normalize_axis(axis, x.dim());
    const int64_t dim = x.size(a);
    const int64_t n = static_cast<int64_t>(ctx.num_outputs());
    if (n == 0) throw std::invalid_argument("Split has no outputs");
    Ints sizes;
    if (split_attr) sizes = attr_sizes;
    else if (split_input && split.present(ctx)) sizes = split.get(ctx);
    // An empty `split` input counts as absent (some exporters pass one for "equal parts").
    if (!sizes.empty()) {
      if (static_cast<int64_t>(sizes.size()) != n)
        throw std::invalid_argument("split " + shape_string(sizes) + " has " + std::to_string(sizes.size()) + " parts for " +
                                    std::to_string(n) + " outputs");
      int64_t total = 0;
      for (int64_t s : sizes) {
        if (s < 0) throw std::invalid_argument("split " + shape_string(sizes) + " has a negative size");
        total += s;
      }
      if (total != dim)
        throw std::invalid_argument("split " + shape_string(sizes) + " does not add up to dim " + std::to_string(dim));
    } else {
      const int64_t chunk = uneven ? (dim + n - 1) / n : dim / n;
      if (!uneven && dim % n != 0)
        throw std::invalid_argument("dim " + std::to_string(dim) + " does not split into " + std::to_string(n) + " equal parts");
      sizes.assign(static_cast<size_t>(n), chunk);
      sizes.back() = dim - chunk * (n - 1);
      if (sizes.back() < 0)
        throw std::invalid_argument("dim " + std::to_string(dim) + " cannot split into " + std::to_string(n) + " parts");
    }
    std::vector<at::Tensor> parts = at::split_with_sizes(x, sizes, a);
    for (size_t i = 0; i < parts.size(); ++i) ctx.set_output(i, std::move(parts[i]));
  });
}

at::Tensor slice(const at::Tensor& x, const Ints& starts, const Ints& ends, const Ints& axes, const Ints& steps) {
  const size_t n = starts.size();
  if (ends.size() != n || (!axes.empty() && axes.size() != n) || (!steps.empty() && steps.size() != n))
    throw std::invalid_argument("starts, ends, axes and steps differ in length");
  const int64_t rank = x.dim();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  Ints flip;
  at::Tensor y = x;
  for (size_t i = 0; i < n; ++i) {
    const int64_t a = normalize_axis(axes.empty() ? static_cast<int64_t>(i) : axes[i], rank);
    if (seen[a]) throw std::invalid_argument("axis " + std::to_string(a) + " is sliced twice");
    seen[a] = true;
    const int64_t dim = x.size(a);
    const int64_t step = steps.empty() ? 1 : steps[i];
    if (step == 0) throw std::invalid_argument("slice step is 0");
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      y = y.slice(a, start, std::max(start, end), step);
      continue;
    }
    if (dim == 0) {
      y = y.slice(a, 0, 0);
      continue;
    }
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    const int64_t count = start > end ? (start - end - step - 1) / -step : 0;
    if (count == 0) {
      y = y.slice(a, 0, 0);
      continue;
    }
    // ATen views cannot have negative strides: take the same elements in ascending order
    // and flip once at the end.
    const int64_t last = start + (count - 1) * step;
    y = y.slice(a, last, start + 1, -step);
    flip.push_back(a);
  }
  return flip.empty() ? y : y.flip(flip);
}

Result<KernelPtr> slice_factory(const OpBuildInfo& info) {
  if (info.opset < 10) {
    Ints starts = info.node.attr_ints("starts"), ends = info.node.attr_ints("ends"), axes = info.node.attr_ints("axes");
    return make_kernel([starts, ends, axes](OpContext& ctx) { ctx.set_output(0, slice(ctx.input(0), starts, ends, axes, {})); });
  }
  return make_kernel([starts = IntsInput(info, 1), ends = IntsInput(info, 2), axes = IntsInput(info, 3),
                      steps = IntsInput(info, 4)](OpContext& ctx) {
    ctx.set_output(0, slice(ctx.input(0), starts.get(ctx), ends.get(ctx), axes.present(ctx) ? axes.get(ctx) : Ints{},
                            steps.present(ctx) ? steps.get(ctx) : Ints{}));
  });
}

Result<KernelPtr> expand_factory(const OpBuildInfo& info) {
  return make_kernel([shape = IntsInput(info, 1)](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    ctx.set_output(0, x.expand(op_util::broadcast_shapes(x.sizes(), shape.get(ctx))));
  });
}

Result<KernelPtr> tile_factory(const OpBuildInfo& info) {
  return make_kernel([repeats = IntsInput(info, 1)](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const Ints r = repeats.get(ctx);
    if (static_cast<int64_t>(r.size()) != x.dim())
      throw std::invalid_argument("repeats " + shape_string(r) + " does not match the input's rank " + std::to_string(x.dim()));
    for (int64_t v : r)
      if (v < 0) throw std::invalid_argument("repeats " + shape_string(r) + " has a negative count");
    ctx.set_output(0, x.repeat(r));
  });
}

// ---------------------------------------------------------------------------------------
// Gather and scatter

Result<KernelPtr> gather_factory(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 0);
  // Constant indices known to be non-negative skip the wrap (embedding tables, shape picks).
  const std::optional<Ints> constant = constant_ints(info, 1);
  const bool non_negative = all_non_negative(constant);
  // A constant scalar index picks one slice: a view (select), no copy. The exporters split a
  // fused QKV projection this way (ViT: three Gathers of [3, S, B, D]), where index_select
  // copied each slice.
  const TensorData* index_data = info.constant_input ? info.constant_input(1) : nullptr;
  const std::optional<int64_t> scalar_index =
      constant && index_data != nullptr && index_data->dims.empty() ? std::optional<int64_t>((*constant)[0]) : std::nullopt;
  return make_kernel([axis, non_negative, scalar_index](OpContext& ctx) {
    const at::Tensor& data = ctx.input(0);
    const at::Tensor& indices = ctx.input(1);
    const int64_t a = normalize_axis(axis, data.dim());
    if (scalar_index) {
      const int64_t n = data.size(a), i = *scalar_index;
      if (i < -n || i >= n)
        throw std::invalid_argument("Gather index " + std::to_string(i) + " is out of range for axis " + std::to_string(a) +
                                    " of size " + std::to_string(n));
      ctx.set_output(0, data.select(a, i < 0 ? i + n : i));
      return;
    }
    at::Tensor flat = indices.reshape({-1});
    if (!non_negative) flat = wrap_negative(flat, data.size(a));
    Ints shape(data.sizes().begin(), data.sizes().begin() + a);
    shape.insert(shape.end(), indices.sizes().begin(), indices.sizes().end());
    shape.insert(shape.end(), data.sizes().begin() + a + 1, data.sizes().end());
    ctx.set_output(0, at::index_select(data, a, flat).reshape(shape));
  });
}

Result<KernelPtr> gather_elements_factory(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 0);
  return make_kernel([axis](OpContext& ctx) {
    const at::Tensor& data = ctx.input(0);
    const at::Tensor& indices = ctx.input(1);
    if (indices.dim() != data.dim())
      throw std::invalid_argument("indices of rank " + std::to_string(indices.dim()) + " for data of rank " + std::to_string(data.dim()));
    const int64_t a = normalize_axis(axis, data.dim());
    ctx.set_output(0, at::gather(data, a, wrap_negative(indices.to(at::kLong), data.size(a))));
  });
}

Result<KernelPtr> gather_nd_factory(const OpBuildInfo& info) {
  const int64_t batch_dims = info.opset >= 12 ? info.node.attr_int("batch_dims", 0) : 0;
  if (batch_dims < 0) return invalid_input("batch_dims must not be negative");
  return make_kernel([batch_dims](OpContext& ctx) {
    const at::Tensor& data = ctx.input(0);
    const at::Tensor& indices = ctx.input(1);
    const int64_t r = data.dim(), q = indices.dim(), b = batch_dims;
    if (q < 1 || b >= q || b >= r) throw std::invalid_argument("batch_dims " + std::to_string(b) + " is too large for the ranks");
    const int64_t k = indices.size(-1);
    if (b + k > r)
      throw std::invalid_argument("index tuples of length " + std::to_string(k) + " for data " + dims_string(data.sizes()) +
                                  " with batch_dims " + std::to_string(b));
    for (int64_t d = 0; d < b; ++d)
      if (data.size(d) != indices.size(d))
        throw std::invalid_argument("batch dims of data " + dims_string(data.sizes()) + " and indices " +
                                    dims_string(indices.sizes()) + " differ");
    const auto dsz = data.sizes();
    const size_t ub = static_cast<size_t>(b), uk = static_cast<size_t>(k);
    const int64_t batch = product(dsz, 0, ub), cells = product(dsz, ub, ub + uk), rest = product(dsz, ub + uk);
    const int64_t tuples = product(indices.sizes(), ub, static_cast<size_t>(q - 1));
    at::Tensor lin = linear_offsets(indices.reshape({batch, tuples, k}), dsz.slice(ub, uk));
    if (batch > 1) lin = lin + at::arange(batch, lin.options()).mul(cells).unsqueeze(1);
    Ints shape(dsz.begin(), dsz.begin() + b);
    shape.insert(shape.end(), indices.sizes().begin() + b, indices.sizes().end() - 1);
    shape.insert(shape.end(), dsz.begin() + b + k, dsz.end());
    at::Tensor out = data.reshape({batch * cells, rest}).index_select(0, lin.reshape({-1}));
    ctx.set_output(0, out.reshape(shape));
  });
}

/// ONNX's reduction names as ATen's scatter_reduce names ("" for a plain overwrite).
Result<std::string> scatter_reduction(const OpBuildInfo& info) {
  const std::string r = info.node.attr_string("reduction", "none");
  if (r == "none") return std::string();
  if (info.opset >= 16 && r == "add") return std::string("sum");
  if (info.opset >= 16 && r == "mul") return std::string("prod");
  if (info.opset >= 18 && r == "max") return std::string("amax");
  if (info.opset >= 18 && r == "min") return std::string("amin");
  return unsupported("reduction '" + r + "' is not defined at opset " + std::to_string(info.opset));
}

Result<KernelPtr> scatter_elements_factory(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 0);
  AK_ASSIGN_OR_RETURN(std::string reduce, scatter_reduction(info));
  return make_kernel([axis, reduce](OpContext& ctx) {
    const at::Tensor& data = ctx.input(0);
    const at::Tensor& updates = ctx.input(2);
    const int64_t a = normalize_axis(axis, data.dim());
    if (ctx.input(1).sizes() != updates.sizes())
      throw std::invalid_argument("indices " + dims_string(ctx.input(1).sizes()) + " and updates " + dims_string(updates.sizes()) +
                                  " differ in shape");
    at::Tensor indices = wrap_negative(ctx.input(1).to(at::kLong), data.size(a));
    at::Tensor src = updates.to(data.scalar_type());
    at::Tensor out;
    if (reduce.empty()) out = at::scatter(data, a, indices, src);
    else if (reduce == "sum") out = at::scatter_add(data, a, indices, src);
    else out = at::scatter_reduce(data, a, indices, src, reduce, true);
    ctx.set_output(0, out);
  });
}

Result<KernelPtr> scatter_nd_factory(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(std::string reduce, scatter_reduction(info));
  return make_kernel([reduce](OpContext& ctx) {
    const at::Tensor& data = ctx.input(0);
    const at::Tensor& indices = ctx.input(1);
    const at::Tensor& updates = ctx.input(2);
    const int64_t k = indices.dim() == 0 ? -1 : indices.size(-1);
    if (k < 0 || k > data.dim())
      throw std::invalid_argument("indices " + dims_string(indices.sizes()) + " do not index data " + dims_string(data.sizes()));
    const auto dsz = data.sizes();
    const size_t uk = static_cast<size_t>(k);
    Ints expected(indices.sizes().begin(), indices.sizes().end() - 1);
    expected.insert(expected.end(), dsz.begin() + k, dsz.end());
    if (updates.sizes() != at::IntArrayRef(expected))
      throw std::invalid_argument("updates " + dims_string(updates.sizes()) + " should be " + shape_string(expected));
    const int64_t cells = product(dsz, 0, uk), rest = product(dsz, uk);
    const int64_t tuples = product(indices.sizes(), 0, static_cast<size_t>(indices.dim() - 1));
    at::Tensor lin = linear_offsets(indices.reshape({tuples, k}), dsz.slice(0, uk));
    at::Tensor out = data.reshape({cells, rest}).clone(at::MemoryFormat::Contiguous);
    at::Tensor src = updates.reshape({tuples, rest}).to(data.scalar_type());
    if (reduce.empty()) out.index_copy_(0, lin, src);
    else if (reduce == "sum") out.index_add_(0, lin, src);
    else out.scatter_reduce_(0, lin.unsqueeze(1).expand({tuples, rest}), src, reduce, true);
    ctx.set_output(0, out.reshape(dsz));
  });
}

// ---------------------------------------------------------------------------------------
// Padding

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

/// Source positions along one padded axis: output position j reads input position
/// j - begin, mapped into [0, dim) by the mode (negative pads crop).
at::Tensor pad_source(PadMode mode, int64_t dim, int64_t begin, int64_t end, const at::TensorOptions& options) {
  at::Tensor src = at::arange(-begin, dim + end, options.dtype(at::kLong));
  switch (mode) {
    case PadMode::kEdge: return src.clamp(0, dim - 1);
    case PadMode::kWrap: return at::remainder(src, dim);
    case PadMode::kReflect: {
      if (dim == 1) return src.clamp(0, 0);
      const int64_t period = 2 * (dim - 1);
      at::Tensor r = at::remainder(src, period);
      return at::where(r >= dim, period - r, r);
    }
    case PadMode::kConstant: break;
  }
  return src;
}

at::Tensor pad(const at::Tensor& x, PadMode mode, const Ints& pads, const Ints& axes, const at::Scalar& value) {
  const int64_t rank = x.dim();
  const size_t n = axes.empty() ? static_cast<size_t>(rank) : axes.size();
  if (pads.size() != 2 * n)
    throw std::invalid_argument("pads " + shape_string(pads) + " should hold " + std::to_string(2 * n) + " values");
  Ints begin(static_cast<size_t>(rank), 0), end(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < n; ++i) {
    const int64_t a = axes.empty() ? static_cast<int64_t>(i) : normalize_axis(axes[i], rank);
    begin[a] = pads[i];
    end[a] = pads[i + n];
  }
  for (int64_t d = 0; d < rank; ++d)
    if (x.size(d) + begin[d] + end[d] < 0)
      throw std::invalid_argument("pads " + shape_string(pads) + " crop more than the input " + dims_string(x.sizes()) + " holds");
  if (mode == PadMode::kConstant) {
    // constant_pad_nd takes (begin, end) pairs from the last dim backwards.
    Ints list;
    for (int64_t d = rank - 1; d >= 0; --d) {
      list.push_back(begin[d]);
      list.push_back(end[d]);
    }
    return at::constant_pad_nd(x, list, value);
  }
  at::Tensor y = x;
  for (int64_t d = 0; d < rank; ++d) {
    if (begin[d] == 0 && end[d] == 0) continue;
    const int64_t dim = y.size(d);
    if (dim == 0) {
      if (begin[d] + end[d] == 0) continue;
      throw std::invalid_argument("cannot pad the empty axis " + std::to_string(d) + " in this mode");
    }
    y = y.index_select(d, pad_source(mode, dim, begin[d], end[d], y.options()));
  }
  return y;
}

Result<KernelPtr> pad_factory(const OpBuildInfo& info) {
  const std::string mode_name = info.node.attr_string("mode", "constant");
  PadMode mode;
  if (mode_name == "constant") mode = PadMode::kConstant;
  else if (mode_name == "reflect") mode = PadMode::kReflect;
  else if (mode_name == "edge") mode = PadMode::kEdge;
  else if (mode_name == "wrap" && info.opset >= 19) mode = PadMode::kWrap;
  else return unsupported("Pad mode '" + mode_name + "' is not defined at opset " + std::to_string(info.opset));

  if (info.opset < 11) {
    const Ints pads = info.node.attr_ints(info.opset < 2 ? "paddings" : "pads");
    const at::Scalar value = static_cast<double>(info.node.attr_float("value", 0.f));
    return make_kernel([mode, pads, value](OpContext& ctx) { ctx.set_output(0, pad(ctx.input(0), mode, pads, {}, value)); });
  }
  std::optional<at::Scalar> constant_value;
  if (const TensorData* t = info.node.has_input(2) ? info.constant_input(2) : nullptr) {
    AK_ASSIGN_OR_RETURN(constant_value, scalar_of(*t, "constant_value"));
  }
  if (info.opset < 18 && info.node.has_input(3)) return invalid_input("Pad takes an axes input from opset 18 only");
  return make_kernel([mode, constant_value, pads = IntsInput(info, 1), axes = IntsInput(info, 3)](OpContext& ctx) {
    at::Scalar value = 0;
    if (constant_value) value = *constant_value;
    else if (ctx.has_input(2)) value = scalar_of(ctx.host_input(2), "constant_value");
    ctx.set_output(0, pad(ctx.input(0), mode, pads.get(ctx), axes.present(ctx) ? axes.get(ctx) : Ints{}, value));
  });
}

// ---------------------------------------------------------------------------------------
// Constructors

Result<KernelPtr> constant_of_shape_factory(const OpBuildInfo& info) {
  at::Scalar value = 0.0;
  at::ScalarType type = at::kFloat;
  if (const Attribute* a = info.node.find_attribute("value")) {
    AK_ASSIGN_OR_RETURN(type, to_scalar_type(a->t.dtype));
    AK_ASSIGN_OR_RETURN(value, scalar_of(a->t, "value"));
  }
  return make_kernel([value, type, shape = IntsInput(info, 0)](OpContext& ctx) {
    const Ints dims = shape.get(ctx);
    for (int64_t d : dims)
      if (d < 0) throw std::invalid_argument("shape " + shape_string(dims) + " has a negative dimension");
    ctx.set_output(0, at::full(dims, value, ctx.options().dtype(type)));
  });
}

void range_kernel(OpContext& ctx) {
  const at::Tensor start = ctx.host_input(0);
  const at::ScalarType type = start.scalar_type();
  const at::Scalar s = scalar_of(start, "start"), l = scalar_of(ctx.host_input(1), "limit"),
                   d = scalar_of(ctx.host_input(2), "delta");
  at::Tensor out;
  if (at::isFloatingType(type)) {
    const double sv = s.toDouble(), lv = l.toDouble(), dv = d.toDouble();
    if (dv == 0) throw std::invalid_argument("delta is 0");
    const int64_t n = std::max<int64_t>(static_cast<int64_t>(std::ceil((lv - sv) / dv)), 0);
    out = at::arange(n, ctx.options().dtype(at::kDouble)).mul(dv).add(sv).to(type);
  } else {
    const int64_t sv = s.toLong(), lv = l.toLong(), dv = d.toLong();
    if (dv == 0) throw std::invalid_argument("delta is 0");
    const int64_t span = lv - sv;
    const int64_t n = std::max<int64_t>(dv > 0 ? (span + dv - 1) / dv : (span + dv + 1) / dv, 0);
    out = at::arange(n, ctx.options().dtype(at::kLong)).mul(dv).add(sv).to(type);
  }
  ctx.set_output(0, out);
}

void identity_kernel(OpContext& ctx) {
  if (ctx.has_output(0) && ctx.has_input(0)) ctx.output_value(0) = ctx.input_value(0);
}

Result<KernelPtr> trilu_factory(const OpBuildInfo& info) {
  const bool upper = info.node.attr_int("upper", 1) != 0;
  return make_kernel([upper, k_input = IntsInput(info, 1)](OpContext& ctx) {
    int64_t k = 0;
    if (k_input.present(ctx)) {
      const Ints v = k_input.get(ctx);
      if (v.size() != 1) throw std::invalid_argument("k must hold one value");
      k = v[0];
    }
    const at::Tensor& x = ctx.input(0);
    if (x.dim() < 2) throw std::invalid_argument("Trilu needs a rank >= 2 input, got " + dims_string(x.sizes()));
    ctx.set_output(0, upper ? at::triu(x, k) : at::tril(x, k));
  });
}

Result<KernelPtr> one_hot_factory(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", -1);
  const bool wrap = info.opset >= 11;
  std::optional<int64_t> constant_depth;
  if (const TensorData* t = info.constant_input(1)) {
    AK_ASSIGN_OR_RETURN(at::Scalar s, scalar_of(*t, "depth"));
    constant_depth = static_cast<int64_t>(s.toDouble());
  }
  return make_kernel([axis, wrap, constant_depth](OpContext& ctx) {
    const int64_t depth = constant_depth ? *constant_depth : static_cast<int64_t>(ctx.input_double(1));
    if (depth < 1) throw std::invalid_argument("depth " + std::to_string(depth) + " is not positive");
    const at::Tensor& indices = ctx.input(0);
    const at::Tensor& values = ctx.input(2);
    if (values.numel() != 2) throw std::invalid_argument("values must hold 2 elements, has " + std::to_string(values.numel()));
    const int64_t rank = indices.dim() + 1;
    const int64_t a = normalize_axis(axis, rank);
    at::Tensor idx = indices.to(at::kLong);
    if (wrap) idx = wrap_negative(idx, depth);
    const at::Tensor flat_values = values.reshape({2});
    at::Tensor hot = idx.unsqueeze(-1) == at::arange(depth, idx.options());
    ctx.set_output(0, at::where(hot, flat_values[1], flat_values[0]).movedim(-1, a));
  });
}

void non_zero_kernel(OpContext& ctx) {
  const at::Tensor& x = ctx.input(0);
  // A scalar counts as a 1-element vector (numpy's nonzero on a 0-d array).
  ctx.set_output(0, at::nonzero(x.dim() == 0 ? x.reshape({1}) : x).t().contiguous());
}

/// Unique: ATen gives the sorted uniques, inverse and counts; ONNX's unsorted order is the
/// order of first occurrence.
Result<KernelPtr> unique_factory(const OpBuildInfo& info) {
  const bool sorted = info.node.attr_int("sorted", 1) != 0;
  const bool has_axis = info.node.has_attribute("axis");
  const int64_t axis = info.node.attr_int("axis", 0);
  return make_kernel([sorted, has_axis, axis](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const int64_t a = has_axis ? normalize_axis(axis, x.dim()) : 0;
    at::Tensor y, inverse, counts;
    if (has_axis) std::tie(y, inverse, counts) = at::unique_dim(x, a, true, true, true);
    else std::tie(y, inverse, counts) = at::_unique2(x.reshape({-1}), true, true, true);
    inverse = inverse.reshape({-1});
    const at::TensorOptions longs = inverse.options().dtype(at::kLong);
    // Positions grouped by unique id, ascending within a group (stable), so each group
    // starts with that unique's first occurrence.
    at::Tensor positions = std::get<1>(at::sort(inverse, true, 0, false));
    at::Tensor first = positions.index_select(0, at::cumsum(counts, 0) - counts);
    if (!sorted) {
      at::Tensor order = at::argsort(first);
      at::Tensor rank = at::empty_like(order).scatter_(0, order, at::arange(order.numel(), longs));
      y = y.index_select(a, order);
      first = first.index_select(0, order);
      counts = counts.index_select(0, order);
      inverse = rank.index_select(0, inverse);
    }
    ctx.set_output(0, y);
    ctx.set_output(1, first);
    ctx.set_output(2, inverse);
    ctx.set_output(3, counts);
  });
}

Result<KernelPtr> compress_factory(const OpBuildInfo& info) {
  const bool has_axis = info.node.has_attribute("axis");
  const int64_t axis = info.node.attr_int("axis", 0);
  return make_kernel([has_axis, axis](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const at::Tensor& condition = ctx.input(1);
    if (condition.dim() != 1) throw std::invalid_argument("condition must be 1-D, got " + dims_string(condition.sizes()));
    const at::Tensor source = has_axis ? x : x.reshape({-1});
    const int64_t a = has_axis ? normalize_axis(axis, x.dim()) : 0;
    if (condition.size(0) > source.size(a))
      throw std::invalid_argument("condition of length " + std::to_string(condition.size(0)) + " exceeds the axis of length " +
                                  std::to_string(source.size(a)));
    // Selected positions decide the output's shape, so this waits for the device.
    at::Tensor positions = at::nonzero(condition.to(at::kBool)).reshape({-1});
    ctx.set_output(0, source.index_select(a, positions));
  });
}

Result<KernelPtr> reverse_sequence_factory(const OpBuildInfo& info) {
  const int64_t batch_axis = info.node.attr_int("batch_axis", 1), time_axis = info.node.attr_int("time_axis", 0);
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0)))
    return invalid_input("batch_axis and time_axis must be 0 and 1 in some order");
  return make_kernel([batch_axis, time_axis](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (x.dim() < 2) throw std::invalid_argument("input must have rank >= 2, got " + dims_string(x.sizes()));
    const int64_t batch = x.size(batch_axis), steps = x.size(time_axis);
    const at::Tensor lens = ctx.input(1).to(at::kLong).reshape({-1});
    if (lens.numel() != batch)
      throw std::invalid_argument("sequence_lens has " + std::to_string(lens.numel()) + " values for a batch of " + std::to_string(batch));
    // Along time, position t of sequence b reads lens[b]-1-t inside the sequence and t after it.
    at::Tensor t = at::arange(steps, lens.options());
    at::Tensor tt = time_axis == 0 ? t.unsqueeze(1) : t.unsqueeze(0);
    at::Tensor len = time_axis == 0 ? lens.unsqueeze(0) : lens.unsqueeze(1);
    at::Tensor src = at::where(tt < len, len - 1 - tt, tt);
    Ints view(src.sizes().begin(), src.sizes().end());
    view.resize(static_cast<size_t>(x.dim()), 1);
    ctx.set_output(0, at::gather(x, time_axis, src.reshape(view).expand(x.sizes())));
  });
}

Result<KernelPtr> eye_like_factory(const OpBuildInfo& info) {
  std::optional<at::ScalarType> type;
  if (info.node.has_attribute("dtype")) {
    AK_ASSIGN_OR_RETURN(type, to_scalar_type(static_cast<DType>(info.node.attr_int("dtype", 0))));
  }
  const int64_t k = info.node.attr_int("k", 0);
  return make_kernel([type, k](OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.input_value(0).is_tensor()) throw std::invalid_argument("input 0 is missing");
    // Only the input's shape and type matter: it is not read or uploaded.
    const at::Tensor& x = ctx.input_value(0).tensor;
    if (x.dim() != 2) throw std::invalid_argument("EyeLike needs a 2-D input, got " + dims_string(x.sizes()));
    at::Tensor out = at::zeros(x.sizes(), ctx.options().dtype(type.value_or(x.scalar_type())));
    out.diagonal(k).fill_(1);
    ctx.set_output(0, out);
  });
}

Result<KernelPtr> depth_to_space_factory(const OpBuildInfo& info) {
  const int64_t bs = info.node.attr_int("blocksize", 0);
  if (bs < 1) return invalid_input("blocksize must be positive");
  const std::string mode = info.opset >= 11 ? info.node.attr_string("mode", "DCR") : "DCR";
  if (mode != "DCR" && mode != "CRD") return invalid_input("unknown DepthToSpace mode '" + mode + "'");
  const bool crd = mode == "CRD";
  return make_kernel([bs, crd](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (x.dim() != 4 || x.size(1) % (bs * bs) != 0)
      throw std::invalid_argument("input " + dims_string(x.sizes()) + " is not 4-D with channels divisible by blocksize^2");
    const int64_t n = x.size(0), c = x.size(1) / (bs * bs), h = x.size(2), w = x.size(3);
    at::Tensor y = crd ? x.reshape({n, c, bs, bs, h, w}).permute({0, 1, 4, 2, 5, 3})
                       : x.reshape({n, bs, bs, c, h, w}).permute({0, 3, 4, 1, 5, 2});
    ctx.set_output(0, y.reshape({n, c, h * bs, w * bs}));
  });
}

Result<KernelPtr> space_to_depth_factory(const OpBuildInfo& info) {
  const int64_t bs = info.node.attr_int("blocksize", 0);
  if (bs < 1) return invalid_input("blocksize must be positive");
  return make_kernel([bs](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (x.dim() != 4 || x.size(2) % bs != 0 || x.size(3) % bs != 0)
      throw std::invalid_argument("input " + dims_string(x.sizes()) + " is not 4-D with height and width divisible by blocksize");
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2) / bs, w = x.size(3) / bs;
    at::Tensor y = x.reshape({n, c, h, bs, w, bs}).permute({0, 3, 5, 1, 2, 4});
    ctx.set_output(0, y.reshape({n, c * bs * bs, h, w}));
  });
}

}  // namespace

void register_tensor_ops(OpRegistry& r) {
  // Shape and Size read only sizes, so their outputs are host values from the start; the
  // integer arithmetic on them follows on the host (and is memoized by the executor).
  constexpr Placement kHost = Placement::kHostable;
  r.add("Shape", 1, shape_factory, Placement::kHost);
  r.add_simple("Size", 1, size_kernel, Placement::kHost);
  r.add("Reshape", 1, reshape_factory, kHost);
  r.add("Flatten", 1, flatten_factory, kHost);
  r.add("Squeeze", 1, axes_op_factory<squeeze>(false), kHost);
  r.add("Squeeze", 13, axes_op_factory<squeeze>(true), kHost);
  r.add("Unsqueeze", 1, axes_op_factory<unsqueeze>(false), kHost);
  r.add("Unsqueeze", 13, axes_op_factory<unsqueeze>(true), kHost);
  r.add("Transpose", 1, transpose_factory, kHost);
  r.add("Concat", 1, concat_factory, kHost);
  r.add("Split", 1, split_factory, kHost);
  r.add("Slice", 1, slice_factory, kHost);
  r.add("Gather", 1, gather_factory, kHost);
  r.add("GatherElements", 11, gather_elements_factory);
  r.add("GatherND", 11, gather_nd_factory);
  r.add("Scatter", 9, scatter_elements_factory);
  r.add("ScatterElements", 11, scatter_elements_factory);
  r.add("ScatterND", 11, scatter_nd_factory);
  r.add("Expand", 8, expand_factory, kHost);
  r.add("Tile", 6, tile_factory, kHost);
  r.add("Pad", 1, pad_factory);
  r.add("ConstantOfShape", 9, constant_of_shape_factory, kHost);
  r.add_simple("Range", 11, range_kernel, kHost);
  r.add_simple("Identity", 1, identity_kernel, kHost);
  r.add("Trilu", 14, trilu_factory);
  r.add("OneHot", 9, one_hot_factory, kHost);
  r.add_simple("NonZero", 9, non_zero_kernel, kHost);
  r.add("Unique", 11, unique_factory);
  r.add("Compress", 9, compress_factory);
  r.add("ReverseSequence", 10, reverse_sequence_factory);
  r.add("EyeLike", 9, eye_like_factory);
  r.add("DepthToSpace", 1, depth_to_space_factory);
  r.add("SpaceToDepth", 1, space_to_depth_factory);
}

}  // namespace ak::models
