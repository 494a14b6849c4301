// Pooling: MaxPool, AveragePool, LpPool, their Global forms and MaxUnpool; at::max_pool2d
// and friends where ATen's output size is ONNX's, windows over a padded view otherwise.

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/ops/window.h"

namespace ak::models {
namespace {

using namespace nn;

/// A pooling window over `in` with ONNX's output size, including ceil_mode (where a last
/// window that would start in the end padding is dropped, as PyTorch does).
Window resolve_pool(const WindowAttrs& a, const Ints& in) {
  Window w;
  if (a.kernel_shape.size() != in.size())
    throw std::invalid_argument("kernel_shape " + bracketed(a.kernel_shape) + " does not match the input's " +
                                std::to_string(in.size()) + " spatial axes");
  w.kernel = a.kernel_shape;
  w.dilations = per_axis(a.dilations, in.size(), 1, "dilations");
  resolve_pads(a, in, &w);
  w.out.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      w.out[i] = ceil_div(in[i], w.strides[i]);
      continue;
    }
    const int64_t span = in[i] + w.pad_begin[i] + w.pad_end[i] - w.effective(i);
    if (span < 0)
      throw std::invalid_argument("the window (kernel " + bracketed(w.kernel) + ", dilations " + bracketed(w.dilations) +
                                  ") is larger than the padded input " + bracketed(in));
    const bool ceil = a.ceil_mode && a.auto_pad == AutoPad::kNotSet;
    int64_t out = (ceil ? ceil_div(span, w.strides[i]) : span / w.strides[i]) + 1;
    if (ceil && (out - 1) * w.strides[i] >= in[i] + w.pad_begin[i]) --out;
    w.out[i] = out;
  }
  return w;
}

/// The ceil_mode flag under which ATen's pooling (symmetric padding p) gives `w.out`, or
/// nullopt when neither does or the padding is not one ATen accepts.
std::optional<bool> aten_pool_ceil_mode(const Window& w, const Ints& in) {
  for (size_t i = 0; i < in.size(); ++i)
    if (w.pad_begin[i] != w.pad_end[i] || 2 * w.pad_begin[i] > w.kernel[i]) return std::nullopt;
  for (bool ceil : {false, true}) {
    bool same = true;
    for (size_t i = 0; i < in.size() && same; ++i) {
      const int64_t p = w.pad_begin[i], s = w.strides[i];
      const int64_t num = in[i] + 2 * p - w.effective(i) + (ceil ? s - 1 : 0);
      int64_t out = floor_div(num, s) + 1;
      if (ceil && (out - 1) * s >= in[i] + p) --out;
      same = out == w.out[i];
    }
    if (same) return ceil;
  }
  return std::nullopt;
}

/// View of `xp` (already padded so that every window fits) as N x C x out... x k...,
/// the window axes last, dilation applied.
at::Tensor window_view(const at::Tensor& xp, const Window& w) {
  const int64_t n = static_cast<int64_t>(w.kernel.size());
  at::Tensor v = xp;
  for (int64_t i = 0; i < n; ++i)
    v = v.unfold(2 + i, w.effective(static_cast<size_t>(i)), w.strides[static_cast<size_t>(i)]);
  for (int64_t i = 0; i < n; ++i)
    if (w.dilations[static_cast<size_t>(i)] > 1)
      v = v.slice(2 + n + i, 0, w.effective(static_cast<size_t>(i)), w.dilations[static_cast<size_t>(i)]);
  return v;
}

Ints window_dims(size_t n) {
  Ints d(n);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<int64_t>(2 + n + i);
  return d;
}

/// Pads `x` so that the windows of `w` fit exactly: begin pads, end pads extended (or
/// cropped) to the last window.
at::Tensor pad_to_windows(const at::Tensor& x, const Window& w, const Ints& in, double value) {
  Ints end(in.size());
  for (size_t i = 0; i < in.size(); ++i) end[i] = w.exact_end(i, in[i]);
  if (all_zero(w.pad_begin) && all_zero(end)) return x;
  return at::constant_pad_nd(x, pad_list(w.pad_begin, end), value);
}

// ---------------------------------------------------------------------------------------
// Pooling

/// ATen max pooling over 1 to 3 spatial axes with symmetric `padding`; `indices`, when
/// given, receives ATen's flat indices within each (n, c) plane of the input it was given.
at::Tensor aten_max_pool(const at::Tensor& x, const Window& w, const Ints& padding, bool ceil, at::Tensor* indices) {
  switch (w.kernel.size()) {
    case 1:
      if (indices) {
        auto [y, i] = at::max_pool1d_with_indices(x, w.kernel, w.strides, padding, w.dilations, ceil);
        *indices = i;
        return y;
      }
      return at::max_pool1d(x, w.kernel, w.strides, padding, w.dilations, ceil);
    case 2:
      if (indices) {
        auto [y, i] = at::max_pool2d_with_indices(x, w.kernel, w.strides, padding, w.dilations, ceil);
        *indices = i;
        return y;
      }
      return at::max_pool2d(x, w.kernel, w.strides, padding, w.dilations, ceil);
    case 3:
      if (indices) {
        auto [y, i] = at::max_pool3d_with_indices(x, w.kernel, w.strides, padding, w.dilations, ceil);
        *indices = i;
        return y;
      }
      return at::max_pool3d(x, w.kernel, w.strides, padding, w.dilations, ceil);
    default:
      throw std::invalid_argument("ATen pooling supports 1 to 3 spatial axes");
  }
}

/// ONNX's MaxPool indices from ATen's: ATen's index is flat within one (n, c) plane of
/// sizes `plane` (the padded input where we padded it ourselves, shifted by `shift`);
/// ONNX's is flat over the whole unpadded input, row-major (storage_order 0) or with the
/// spatial axes column-major (storage_order 1).
at::Tensor onnx_pool_indices(const at::Tensor& idx, const Ints& plane, const Ints& shift, const Ints& in,
                             int64_t storage_order, int64_t batch, int64_t channels) {
  const size_t n = in.size();
  at::Tensor flat = idx;
  if (plane != in || !all_zero(shift) || storage_order != 0) {
    std::vector<at::Tensor> coords(n);
    at::Tensor rem = idx;
    for (size_t i = n; i-- > 0;) {
      coords[i] = at::remainder(rem, plane[i]) - shift[i];
      rem = rem.div(plane[i], "floor");
    }
    if (storage_order == 0) {
      flat = coords[0];
      for (size_t i = 1; i < n; ++i) flat = flat * in[i] + coords[i];
    } else {
      flat = coords[n - 1];
      for (size_t i = n - 1; i-- > 0;) flat = flat * in[i] + coords[i];
    }
  }
  int64_t plane_size = 1;
  for (int64_t v : in) plane_size *= v;
  Ints offset_shape(n + 2, 1);
  offset_shape[0] = batch;
  offset_shape[1] = channels;
  at::Tensor offset = at::arange(batch * channels, idx.options()).reshape(offset_shape) * plane_size;
  return flat + offset;
}

void check_pool_rank(const at::Tensor& x, const WindowAttrs& a, const char* op) {
  if (x.dim() != static_cast<int64_t>(a.kernel_shape.size()) + 2)
    throw std::invalid_argument(std::string(op) + " input has rank " + std::to_string(x.dim()) + ", kernel_shape " +
                                bracketed(a.kernel_shape) + " needs rank " + std::to_string(a.kernel_shape.size() + 2));
}

Result<WindowAttrs> parse_pool_attrs(const Node& node) {
  AK_ASSIGN_OR_RETURN(WindowAttrs a, parse_window_attrs(node));
  if (a.kernel_shape.empty()) return invalid_input(node.op_type + " needs the kernel_shape attribute");
  return a;
}

Result<KernelPtr> make_max_pool(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(WindowAttrs a, parse_pool_attrs(info.node));
  const int64_t storage_order = info.node.attr_int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1)
    return invalid_input("storage_order " + std::to_string(storage_order) + " must be 0 or 1");
  return make_kernel([a, storage_order](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    check_pool_rank(x, a, "MaxPool");
    const Ints in = spatial_sizes(x);
    const size_t n = in.size();
    const Window w = resolve_pool(a, in);
    const bool want_indices = ctx.has_output(1);
    // ATen pools floating types only on some backends; 8- and 16-bit integers are exact in float.
    const at::Tensor xv = x.is_floating_point() ? x : x.to(x.element_size() <= 2 ? at::kFloat : at::kDouble);
    at::Tensor y, idx;
    Ints plane = in, shift(n, 0);
    const std::optional<bool> ceil = aten_pool_ceil_mode(w, in);
    if (n <= 3 && ceil) {
      y = aten_max_pool(xv, w, w.pad_begin, *ceil, want_indices ? &idx : nullptr);
    } else {
      const at::Tensor xp = pad_to_windows(xv, w, in, -std::numeric_limits<double>::infinity());
      if (n <= 3) {
        y = aten_max_pool(xp, w, Ints(n, 0), false, want_indices ? &idx : nullptr);
        plane = spatial_sizes(xp);
        shift = w.pad_begin;
      } else {
        if (want_indices) throw std::invalid_argument("MaxPool's Indices output is supported for 1 to 3 spatial axes");
        y = window_view(xp, w).amax(window_dims(n));
      }
    }
    ctx.set_output(0, x.is_floating_point() ? y : y.to(x.scalar_type()));
    if (want_indices) ctx.set_output(1, onnx_pool_indices(idx, plane, shift, in, storage_order, x.size(0), x.size(1)));
  });
}

Result<KernelPtr> make_average_pool(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(WindowAttrs a, parse_pool_attrs(info.node));
  const bool count_include_pad = info.node.attr_int("count_include_pad", 0) != 0;
  return make_kernel([a, count_include_pad](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    check_pool_rank(x, a, "AveragePool");
    const Ints in = spatial_sizes(x);
    const size_t n = in.size();
    const Window w = resolve_pool(a, in);
    const bool undilated = std::all_of(w.dilations.begin(), w.dilations.end(), [](int64_t d) { return d == 1; });
    const std::optional<bool> ceil = aten_pool_ceil_mode(w, in);
    if (undilated && ceil && n <= 3) {
      // ATen's divisor, like ONNX's, counts explicit padding (when asked) but never the
      // cells a ceil_mode window reaches beyond it.
      at::Tensor y;
      if (n == 1)
        y = at::avg_pool1d(x, w.kernel, w.strides, w.pad_begin, *ceil, count_include_pad);
      else if (n == 2)
        y = at::avg_pool2d(x, w.kernel, w.strides, w.pad_begin, *ceil, count_include_pad);
      else
        y = at::avg_pool3d(x, w.kernel, w.strides, w.pad_begin, *ceil, count_include_pad);
      ctx.set_output(0, y);
      return;
    }
    const Ints dims = window_dims(n);
    at::Tensor sum = window_view(pad_to_windows(x, w, in, 0), w).sum(dims);
    // The divisor per output cell: the window's cells that are input (or explicit padding).
    Ints end(n), mask_shape(n + 2, 1);
    for (size_t i = 0; i < n; ++i) {
      end[i] = w.exact_end(i, in[i]);
      mask_shape[i + 2] = in[i];
    }
    at::Tensor mask = at::ones(mask_shape, x.options());
    if (count_include_pad) {
      mask = at::constant_pad_nd(mask, pad_list(w.pad_begin, w.pad_end), 1);
      Ints extra(n);
      for (size_t i = 0; i < n; ++i) extra[i] = end[i] - w.pad_end[i];
      mask = at::constant_pad_nd(mask, pad_list(Ints(n, 0), extra), 0);
    } else {
      mask = at::constant_pad_nd(mask, pad_list(w.pad_begin, end), 0);
    }
    at::Tensor count = window_view(mask, w).sum(dims);
    ctx.set_output(0, sum / count);
  });
}

/// LpPool's and GlobalLpPool's p: a float attribute at opset 1, an int from opset 2.
double lp_norm_order(const Node& node) {
  const Attribute* p = node.find_attribute("p");
  if (p == nullptr) return 2.0;
  return p->type == Attribute::Type::kFloat ? static_cast<double>(p->f) : static_cast<double>(p->i);
}

Result<KernelPtr> make_lp_pool(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(WindowAttrs a, parse_pool_attrs(info.node));
  const double p = lp_norm_order(info.node);
  if (!(p > 0)) return invalid_input("p " + std::to_string(p) + " must be positive");
  return make_kernel([a, p](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    check_pool_rank(x, a, "LpPool");
    const Ints in = spatial_sizes(x);
    const Window w = resolve_pool(a, in);
    at::Tensor powered = x.abs().pow(p);
    at::Tensor sum = window_view(pad_to_windows(powered, w, in, 0), w).sum(window_dims(in.size()));
    ctx.set_output(0, sum.pow(1.0 / p));
  });
}

Ints global_dims(const at::Tensor& x, const char* op) {
  if (x.dim() < 3)
    throw std::invalid_argument(std::string(op) + " needs rank >= 3, got rank " + std::to_string(x.dim()));
  Ints dims;
  for (int64_t i = 2; i < x.dim(); ++i) dims.push_back(i);
  return dims;
}

Result<KernelPtr> make_global_lp_pool(const OpBuildInfo& info) {
  const double p = lp_norm_order(info.node);
  if (!(p > 0)) return invalid_input("p " + std::to_string(p) + " must be positive");
  return make_kernel([p](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    ctx.set_output(0, x.abs().pow(p).sum(global_dims(x, "GlobalLpPool"), true).pow(1.0 / p));
  });
}

Result<KernelPtr> make_max_unpool(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(WindowAttrs a, parse_pool_attrs(info.node));
  return make_kernel([a](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const at::Tensor& indices = ctx.input(1);
    check_pool_rank(x, a, "MaxUnpool");
    if (!indices.sizes().equals(x.sizes()))
      throw std::invalid_argument("MaxUnpool indices shape differs from the input's");
    // Indices address the shape MaxPool's input had (the default output shape); an
    // explicit output_shape keeps each value's coordinates and pads the rest.
    const Ints in = spatial_sizes(x);
    const size_t n = in.size();
    const Ints strides = per_axis(a.strides, n, 1, "strides");
    const Ints pads = per_axis(a.pads, 2 * n, 0, "pads");
    Ints natural = {x.size(0), x.size(1)};
    for (size_t i = 0; i < n; ++i)
      natural.push_back((in[i] - 1) * strides[i] + a.kernel_shape[i] - pads[i] - pads[i + n]);
    Ints out_shape = natural;
    if (ctx.has_input(2)) {
      out_shape = ctx.input_ints(2);
      if (out_shape.size() != static_cast<size_t>(x.dim()) || out_shape[0] != x.size(0) || out_shape[1] != x.size(1))
        throw std::invalid_argument("MaxUnpool output_shape " + bracketed(out_shape) +
                                    " does not match the input's batch and channels");
      for (size_t i = 2; i < out_shape.size(); ++i)
        if (out_shape[i] < natural[i])
          throw std::invalid_argument("MaxUnpool output_shape " + bracketed(out_shape) +
                                      " is smaller than the pooled input " + bracketed(natural));
    }
    int64_t total = 1;
    for (int64_t v : out_shape) total *= v;
    at::Tensor flat = indices.reshape({-1}).to(at::kLong);
    if (out_shape != natural) {
      at::Tensor rem = flat, moved = at::zeros_like(flat);
      int64_t stride = 1;
      for (size_t i = natural.size(); i-- > 0;) {
        moved = moved + at::remainder(rem, natural[i]) * stride;
        rem = rem.div(natural[i], "floor");
        stride *= out_shape[i];
      }
      flat = moved;
    }
    at::Tensor y = at::zeros({total}, x.options());
    y.scatter_(0, flat, x.reshape({-1}));
    ctx.set_output(0, y.reshape(out_shape));
  });
}

}  // namespace

void register_pool_ops(OpRegistry& r) {
  r.add("MaxPool", 1, make_max_pool);
  r.add("AveragePool", 1, make_average_pool);
  r.add("LpPool", 1, make_lp_pool);
  r.add_simple("GlobalAveragePool", 1, [](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    ctx.set_output(0, x.mean(global_dims(x, "GlobalAveragePool"), true));
  });
  r.add_simple("GlobalMaxPool", 1, [](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    ctx.set_output(0, x.amax(global_dims(x, "GlobalMaxPool"), true));
  });
  r.add("GlobalLpPool", 1, make_global_lp_pool);
  r.add("MaxUnpool", 9, make_max_unpool);
}

}  // namespace ak::models
