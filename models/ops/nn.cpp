// Neural-network ops: convolutions, pooling, resampling (Resize, Upsample, GridSample,
// RoiAlign) and the recurrent layers (RNN, GRU, LSTM).
//
// Attributes are parsed once in the factories; per-run work is integer arithmetic on
// shapes plus, on the main path, a single ATen call (at::convolution with the bias
// fused, at::max_pool2d, a mean for GlobalAveragePool, at::upsample_* for Resize where
// ATen's coordinate mapping is the same as ONNX's).

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/ops/op_kernel.h"

namespace ak::models {
namespace {

using Ints = std::vector<int64_t>;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join(const Ints& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return "[" + s + "]";
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

/// The spatial sizes of an N x C x D1 x ... tensor.
Ints spatial_sizes(const at::Tensor& x) { return Ints(x.sizes().begin() + 2, x.sizes().end()); }

/// `values` when given (checked against the spatial rank), else `count` copies of `fill`.
Ints per_axis(const Ints& values, size_t count, int64_t fill, const char* name) {
  if (values.empty()) return Ints(count, fill);
  if (values.size() != count)
    throw std::invalid_argument(std::string(name) + " " + join(values) + " has " + std::to_string(values.size()) +
                                " values, the input has " + std::to_string(count) + " spatial axes");
  return values;
}

/// The pad list of at::constant_pad_nd for the trailing spatial axes: last axis first.
Ints pad_list(const Ints& begin, const Ints& end) {
  Ints out;
  out.reserve(begin.size() * 2);
  for (size_t i = begin.size(); i-- > 0;) {
    out.push_back(begin[i]);
    out.push_back(end[i]);
  }
  return out;
}

bool all_zero(const Ints& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
}

/// Rounds a floating result back to the integer type `t`, saturating at its range (a
/// cubic filter overshoots).
at::Tensor round_to_integer(const at::Tensor& y, at::ScalarType t) {
  at::Tensor r = y.round();
  switch (t) {
    case at::kByte:
      r = r.clamp(0, 255);
      break;
    case at::kChar:
      r = r.clamp(-128, 127);
      break;
    case at::kShort:
      r = r.clamp(-32768, 32767);
      break;
    default:
      break;
  }
  return r.to(t);
}

/// Shape {1, n, 1, ...} (rank `rank`) to broadcast a per-channel vector over N x C x ... .
Ints channel_shape(int64_t n, int64_t rank) {
  Ints s(static_cast<size_t>(rank), 1);
  s[1] = n;
  return s;
}

// ---------------------------------------------------------------------------------------
// Window geometry shared by Conv and the pooling ops

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

Result<AutoPad> parse_auto_pad(const Node& node) {
  const std::string s = node.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  return invalid_input("auto_pad '" + s + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
}

/// SAME_* padding: the output is ceil(in / stride); an odd total puts the extra cell at
/// the end (SAME_UPPER) or at the beginning (SAME_LOWER).
void same_pads(int64_t in, int64_t eff_kernel, int64_t stride, AutoPad mode, int64_t* begin, int64_t* end) {
  const int64_t out = ceil_div(in, stride);
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + eff_kernel - in);
  *begin = mode == AutoPad::kSameUpper ? total / 2 : total - total / 2;
  *end = total - *begin;
}

/// Attributes of a sliding window as written on the node.
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  Ints kernel_shape, strides, dilations, pads;
  bool ceil_mode = false;
};

Result<WindowAttrs> parse_window_attrs(const Node& node) {
  WindowAttrs a;
  AK_ASSIGN_OR_RETURN(a.auto_pad, parse_auto_pad(node));
  a.kernel_shape = node.attr_ints("kernel_shape");
  a.strides = node.attr_ints("strides");
  a.dilations = node.attr_ints("dilations");
  a.pads = node.attr_ints("pads");
  a.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  for (int64_t v : a.strides)
    if (v < 1) return invalid_input("strides " + join(a.strides) + " must be positive");
  for (int64_t v : a.dilations)
    if (v < 1) return invalid_input("dilations " + join(a.dilations) + " must be positive");
  for (int64_t v : a.kernel_shape)
    if (v < 1) return invalid_input("kernel_shape " + join(a.kernel_shape) + " must be positive");
  for (int64_t v : a.pads)
    if (v < 0) return invalid_input("pads " + join(a.pads) + " must not be negative");
  if (!a.pads.empty() && a.pads.size() % 2 != 0)
    return invalid_input("pads " + join(a.pads) + " must have 2 values per axis");
  if (!a.kernel_shape.empty()) {
    const size_t n = a.kernel_shape.size();
    if ((!a.strides.empty() && a.strides.size() != n) || (!a.dilations.empty() && a.dilations.size() != n) ||
        (!a.pads.empty() && a.pads.size() != 2 * n))
      return invalid_input("kernel_shape " + join(a.kernel_shape) + ", strides " + join(a.strides) + ", dilations " +
                           join(a.dilations) + " and pads " + join(a.pads) + " disagree on the number of axes");
  }
  return a;
}

/// A window resolved against an input's spatial sizes.
struct Window {
  Ints kernel, strides, dilations, pad_begin, pad_end, out;
  int64_t effective(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
  /// End padding that makes the last window end exactly at the padded input's end (negative: crop).
  int64_t exact_end(size_t i, int64_t in) const { return (out[i] - 1) * strides[i] + effective(i) - in - pad_begin[i]; }
};

/// Resolves strides, dilations and pads (explicit or auto) for a convolution-like window
/// of size `kernel` over `in`.
void resolve_pads(const WindowAttrs& a, const Ints& in, Window* w) {
  const size_t n = in.size();
  w->strides = per_axis(a.strides, n, 1, "strides");
  w->dilations = per_axis(a.dilations, n, 1, "dilations");
  const Ints pads = per_axis(a.pads, 2 * n, 0, "pads");
  w->pad_begin.assign(n, 0);
  w->pad_end.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    switch (a.auto_pad) {
      case AutoPad::kNotSet:
        w->pad_begin[i] = pads[i];
        w->pad_end[i] = pads[i + n];
        break;
      case AutoPad::kValid:
        break;
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower:
        same_pads(in[i], w->effective(i), w->strides[i], a.auto_pad, &w->pad_begin[i], &w->pad_end[i]);
        break;
    }
  }
}

/// A pooling window over `in` with ONNX's output size, including ceil_mode (where a last
/// window that would start in the end padding is dropped, as PyTorch does).
Window resolve_pool(const WindowAttrs& a, const Ints& in) {
  Window w;
  if (a.kernel_shape.size() != in.size())
    throw std::invalid_argument("kernel_shape " + join(a.kernel_shape) + " does not match the input's " +
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
      throw std::invalid_argument("the window (kernel " + join(w.kernel) + ", dilations " + join(w.dilations) +
                                  ") is larger than the padded input " + join(in));
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
// Conv, ConvInteger, QLinearConv

/// Conv's attributes with the parts that do not depend on the input resolved.
struct ConvAttrs {
  WindowAttrs window;
  int64_t group = 1;
};

Result<ConvAttrs> parse_conv_attrs(const Node& node) {
  ConvAttrs c;
  AK_ASSIGN_OR_RETURN(c.window, parse_window_attrs(node));
  c.group = node.attr_int("group", 1);
  if (c.group < 1) return invalid_input("group " + std::to_string(c.group) + " must be positive");
  return c;
}

/// Geometry of one convolution call, cached across runs with the same input shape.
struct ConvPlan {
  Ints in_sizes;  ///< N, C, spatial... of the input it was made for
  Ints kernel;
  Ints strides, dilations, padding, output_padding;
  Ints extra_pads;  ///< asymmetric remainder applied with constant_pad_nd, empty if none
};

void make_conv_plan(const ConvAttrs& a, const at::Tensor& x, const at::Tensor& w, ConvPlan* plan) {
  if (x.dim() < 3) throw std::invalid_argument("Conv input must have rank >= 3, has rank " + std::to_string(x.dim()));
  if (w.dim() != x.dim())
    throw std::invalid_argument("Conv weight has rank " + std::to_string(w.dim()) + ", the input rank " +
                                std::to_string(x.dim()));
  const Ints in = spatial_sizes(x);
  const size_t n = in.size();
  Window win;
  win.kernel = spatial_sizes(w);
  if (!a.window.kernel_shape.empty() && a.window.kernel_shape != win.kernel)
    throw std::invalid_argument("kernel_shape " + join(a.window.kernel_shape) + " does not match the weight's " +
                                join(win.kernel));
  win.dilations = per_axis(a.window.dilations, n, 1, "dilations");
  resolve_pads(a.window, in, &win);
  plan->in_sizes.assign(x.sizes().begin(), x.sizes().end());
  plan->kernel = win.kernel;
  plan->strides = win.strides;
  plan->dilations = win.dilations;
  plan->output_padding.assign(n, 0);
  plan->padding.resize(n);
  Ints extra_begin(n), extra_end(n);
  for (size_t i = 0; i < n; ++i) {
    plan->padding[i] = std::min(win.pad_begin[i], win.pad_end[i]);
    extra_begin[i] = win.pad_begin[i] - plan->padding[i];
    extra_end[i] = win.pad_end[i] - plan->padding[i];
  }
  plan->extra_pads = all_zero(extra_begin) && all_zero(extra_end) ? Ints() : pad_list(extra_begin, extra_end);
}

/// One convolution; `plan` is rebuilt when the input or weight shape changes.
at::Tensor run_conv(const ConvAttrs& a, ConvPlan& plan, const at::Tensor& x, const at::Tensor& w,
                    const c10::optional<at::Tensor>& bias) {
  if (!x.sizes().equals(plan.in_sizes) || w.dim() != x.dim() || !w.sizes().slice(2).equals(plan.kernel))
    make_conv_plan(a, x, w, &plan);
  if (plan.extra_pads.empty())
    return at::convolution(x, w, bias, plan.strides, plan.padding, plan.dilations, false, plan.output_padding, a.group);
  return at::convolution(at::constant_pad_nd(x, plan.extra_pads, 0), w, bias, plan.strides, plan.padding,
                         plan.dilations, false, plan.output_padding, a.group);
}

Result<KernelPtr> make_conv(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(info.node));
  return make_kernel([attrs, plan = ConvPlan()](OpContext& ctx) mutable {
    c10::optional<at::Tensor> bias;
    if (ctx.has_input(2)) bias = ctx.input(2);
    ctx.set_output(0, run_conv(attrs, plan, ctx.input(0), ctx.input(1), bias));
  });
}

/// Integer convolution through a floating convolution: float holds every partial sum
/// exactly while it stays below 2^24, i.e. for up to 256 products of 8-bit values.
at::ScalarType integer_conv_dtype(const at::Tensor& w) {
  int64_t terms = w.size(1);
  for (int64_t i = 2; i < w.dim(); ++i) terms *= w.size(i);
  return terms <= 256 ? at::kFloat : at::kDouble;
}

/// (x - x_zero_point) conv (w - w_zero_point), exact, in a floating type.
at::Tensor zero_point_conv(const ConvAttrs& attrs, ConvPlan& plan, OpContext& ctx, size_t x_i, size_t xzp_i, size_t w_i,
                           size_t wzp_i) {
  const at::Tensor& x = ctx.input(x_i);
  const at::Tensor& w = ctx.input(w_i);
  const at::ScalarType acc = integer_conv_dtype(w);
  at::Tensor xf = x.to(acc);
  if (ctx.has_input(xzp_i)) {
    const at::Tensor& zp = ctx.input(xzp_i);
    if (zp.numel() != 1)
      throw std::invalid_argument("the input zero point must be a scalar, has " + std::to_string(zp.numel()) +
                                  " values");
    xf = xf - zp.to(acc).reshape({});
  }
  at::Tensor wf = w.to(acc);
  if (ctx.has_input(wzp_i)) {
    const at::Tensor& zp = ctx.input(wzp_i);
    if (zp.numel() != 1 && zp.numel() != w.size(0))
      throw std::invalid_argument("the weight zero point has " + std::to_string(zp.numel()) +
                                  " values, expected 1 or " + std::to_string(w.size(0)));
    // Per output channel when it has one value per filter.
    Ints shape(static_cast<size_t>(w.dim()), 1);
    shape[0] = zp.numel();
    wf = wf - zp.to(acc).reshape(shape);
  }
  return run_conv(attrs, plan, xf, wf, c10::optional<at::Tensor>());
}

Result<KernelPtr> make_conv_integer(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(info.node));
  return make_kernel([attrs, plan = ConvPlan()](OpContext& ctx) mutable {
    ctx.set_output(0, zero_point_conv(attrs, plan, ctx, 0, 2, 1, 3).round().to(at::kInt));
  });
}

/// Saturating range of a quantized type.
std::pair<double, double> quantized_range(at::ScalarType t) {
  switch (t) {
    case at::kByte:
      return {0, 255};
    case at::kChar:
      return {-128, 127};
    default:
      throw std::invalid_argument("QLinearConv output zero point must be uint8 or int8");
  }
}

Result<KernelPtr> make_qlinear_conv(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(info.node));
  return make_kernel([attrs, plan = ConvPlan()](OpContext& ctx) mutable {
    // Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B.
    at::Tensor acc = zero_point_conv(attrs, plan, ctx, 0, 2, 3, 5);
    const int64_t m = ctx.input(3).size(0);
    const int64_t rank = acc.dim();
    if (ctx.has_input(8)) acc = acc + ctx.input(8).to(acc.scalar_type()).reshape(channel_shape(m, rank));
    // The requantization multiplier is formed in float, as a float pipeline would.
    at::Tensor w_scale = ctx.input(4).to(at::kFloat);
    if (w_scale.numel() == 1)
      w_scale = w_scale.reshape({});
    else if (w_scale.numel() == m)
      w_scale = w_scale.reshape(channel_shape(m, rank));
    else
      throw std::invalid_argument("w_scale has " + std::to_string(w_scale.numel()) + " values, expected 1 or " +
                                  std::to_string(m));
    at::Tensor multiplier = ctx.input(1).to(at::kFloat).reshape({}) * w_scale / ctx.input(6).to(at::kFloat).reshape({});
    const at::Tensor& y_zp = ctx.input(7);
    auto [lo, hi] = quantized_range(y_zp.scalar_type());
    at::Tensor y = (acc.to(at::kFloat) * multiplier).round() + y_zp.to(at::kFloat).reshape({});
    ctx.set_output(0, y.clamp(lo, hi).to(y_zp.scalar_type()));
  });
}

// ---------------------------------------------------------------------------------------
// ConvTranspose

struct ConvTransposeAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  Ints kernel_shape, strides, dilations, pads, output_padding, output_shape;
  int64_t group = 1;
};

Result<KernelPtr> make_conv_transpose(const OpBuildInfo& info) {
  const Node& node = info.node;
  ConvTransposeAttrs a;
  AK_ASSIGN_OR_RETURN(WindowAttrs win, parse_window_attrs(node));
  a.auto_pad = win.auto_pad;
  a.kernel_shape = win.kernel_shape;
  a.strides = win.strides;
  a.dilations = win.dilations;
  a.pads = win.pads;
  a.output_padding = node.attr_ints("output_padding");
  a.output_shape = node.attr_ints("output_shape");
  a.group = node.attr_int("group", 1);
  if (a.group < 1) return invalid_input("group " + std::to_string(a.group) + " must be positive");
  for (int64_t v : a.output_padding)
    if (v < 0) return invalid_input("output_padding " + join(a.output_padding) + " must not be negative");

  return make_kernel([a](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const at::Tensor& w = ctx.input(1);
    if (x.dim() < 3 || w.dim() != x.dim())
      throw std::invalid_argument("ConvTranspose needs input and weight of the same rank >= 3, got ranks " +
                                  std::to_string(x.dim()) + " and " + std::to_string(w.dim()));
    const Ints in = spatial_sizes(x);
    const size_t n = in.size();
    const Ints kernel = spatial_sizes(w);
    if (!a.kernel_shape.empty() && a.kernel_shape != kernel)
      throw std::invalid_argument("kernel_shape " + join(a.kernel_shape) + " does not match the weight's " +
                                  join(kernel));
    const Ints strides = per_axis(a.strides, n, 1, "strides");
    const Ints dilations = per_axis(a.dilations, n, 1, "dilations");
    const Ints out_pad = per_axis(a.output_padding, n, 0, "output_padding");
    Ints target;
    if (!a.output_shape.empty()) {
      // Exporters write either the spatial sizes or the whole output shape.
      target = a.output_shape.size() == n + 2 ? Ints(a.output_shape.begin() + 2, a.output_shape.end())
                                              : per_axis(a.output_shape, n, 0, "output_shape");
    } else if (a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      target.resize(n);
      for (size_t i = 0; i < n; ++i) target[i] = in[i] * strides[i];
    }
    Ints pb(n, 0), pe(n, 0), out(n), full(n);
    const Ints pads = a.auto_pad == AutoPad::kNotSet ? per_axis(a.pads, 2 * n, 0, "pads") : Ints(2 * n, 0);
    for (size_t i = 0; i < n; ++i) {
      const int64_t eff = (kernel[i] - 1) * dilations[i] + 1;
      full[i] = strides[i] * (in[i] - 1) + eff;
      if (!target.empty()) {
        // Total padding may be negative when output_shape asks for more than the
        // transposed convolution covers: the extra cells are zeros (plus bias).
        const int64_t total = full[i] + out_pad[i] - target[i];
        if (a.auto_pad == AutoPad::kSameUpper) {
          pb[i] = floor_div(total, 2);
          pe[i] = total - pb[i];
        } else {
          pe[i] = floor_div(total, 2);
          pb[i] = total - pe[i];
        }
      } else {
        pb[i] = pads[i];
        pe[i] = pads[i + n];
      }
      out[i] = full[i] + out_pad[i] - pb[i] - pe[i];
      if (out[i] < 1) throw std::invalid_argument("ConvTranspose output would have size " + std::to_string(out[i]));
    }
    c10::optional<at::Tensor> bias;
    if (ctx.has_input(2)) bias = ctx.input(2);

    bool direct = true;
    for (size_t i = 0; i < n && direct; ++i)
      direct = pb[i] == pe[i] && pb[i] >= 0 && out_pad[i] < std::max(strides[i], dilations[i]);
    if (direct) {
      ctx.set_output(0, at::convolution(x, w, bias, strides, pb, dilations, true, out_pad, a.group));
      return;
    }
    at::Tensor y =
        at::convolution(x, w, c10::optional<at::Tensor>(), strides, Ints(n, 0), dilations, true, Ints(n, 0), a.group);
    Ints crop_begin(n), crop_end(n);
    for (size_t i = 0; i < n; ++i) {
      crop_begin[i] = -pb[i];
      crop_end[i] = out[i] - full[i] + pb[i];
    }
    y = at::constant_pad_nd(y, pad_list(crop_begin, crop_end), 0);
    if (bias) y = y + bias->reshape(channel_shape(bias->numel(), y.dim()));
    ctx.set_output(0, y);
  });
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
                                join(a.kernel_shape) + " needs rank " + std::to_string(a.kernel_shape.size() + 2));
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
        throw std::invalid_argument("MaxUnpool output_shape " + join(out_shape) +
                                    " does not match the input's batch and channels");
      for (size_t i = 2; i < out_shape.size(); ++i)
        if (out_shape[i] < natural[i])
          throw std::invalid_argument("MaxUnpool output_shape " + join(out_shape) +
                                      " is smaller than the pooled input " + join(natural));
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

// ---------------------------------------------------------------------------------------
// Resize, Upsample
//
// The general path is separable: per resized axis, every output cell reads a fixed number
// of source cells ("taps") with weights, built on the host from ONNX's coordinate
// transform and cached per input shape; the axis is then resampled with one index_select
// (plus a weighted sum for linear and cubic). ATen's upsample kernels serve the cases
// where their source-coordinate mapping is ONNX's.

enum class InterpMode { kNearest, kLinear, kCubic };
enum class CoordMode {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize
};
/// kSimple: Resize-10 and Upsample, floor when enlarging and ceil when shrinking.
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };
enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttrs {
  InterpMode mode = InterpMode::kNearest;
  CoordMode coord = CoordMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0;
  bool antialias = false;
  AspectPolicy aspect = AspectPolicy::kStretch;
  Ints axes;
  int roi_input = -1, scales_input = -1, sizes_input = -1;
  /// Values known when the node is prepared (Upsample-7's attribute, constant inputs).
  std::optional<std::vector<double>> fixed_roi, fixed_scales;
  std::optional<Ints> fixed_sizes;
};

/// ONNX's source coordinate of output cell x. `length` is the resized length as a real
/// number (in * scale when scales were given), which align_corners and
/// tf_crop_and_resize use in place of the integer output size.
double source_coord(const ResizeAttrs& a, int64_t x, double scale, int64_t in, int64_t out, double length,
                    double roi_start, double roi_end) {
  const double xd = static_cast<double>(x);
  switch (a.coord) {
    case CoordMode::kHalfPixel:
      return (xd + 0.5) / scale - 0.5;
    case CoordMode::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out) / (scale * static_cast<double>(in));
      const double center = static_cast<double>(in) / 2;
      return center * (1 - adjustment) + (xd + 0.5) / scale - 0.5;
    }
    case CoordMode::kPytorchHalfPixel:
      return out > 1 ? (xd + 0.5) / scale - 0.5 : 0.0;
    case CoordMode::kAlignCorners:
      return length == 1 ? 0.0 : xd * static_cast<double>(in - 1) / (length - 1);
    case CoordMode::kAsymmetric:
      return xd / scale;
    case CoordMode::kTfHalfPixelForNn:
      return (xd + 0.5) / scale;
    case CoordMode::kTfCropAndResize:
      return length == 1 ? 0.5 * (roi_start + roi_end) * static_cast<double>(in - 1)
                         : roi_start * static_cast<double>(in - 1) +
                               xd * (roi_end - roi_start) * static_cast<double>(in - 1) / (length - 1);
  }
  return 0;
}

int64_t nearest_source(NearestMode mode, double xo, double scale) {
  const double fl = std::floor(xo);
  switch (mode) {
    case NearestMode::kRoundPreferFloor:
      return static_cast<int64_t>(xo - fl == 0.5 ? fl : std::round(xo));
    case NearestMode::kRoundPreferCeil:
      return static_cast<int64_t>(xo - fl == 0.5 ? fl + 1 : std::round(xo));
    case NearestMode::kFloor:
      return static_cast<int64_t>(fl);
    case NearestMode::kCeil:
      return static_cast<int64_t>(std::ceil(xo));
    case NearestMode::kSimple:
      return static_cast<int64_t>(scale < 1 ? std::ceil(xo) : fl);
  }
  return 0;
}

double cubic_kernel(double t, double a) {
  t = std::abs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/// Taps of one resized axis, on the host.
struct AxisTaps {
  int64_t taps = 1;
  Ints index;                    ///< out * taps source cells, clamped into the input
  std::vector<double> weight;    ///< out * taps (empty for nearest)
  std::vector<uint8_t> outside;  ///< per output cell: tf_crop_and_resize maps it outside the input
  bool any_outside = false;
};

AxisTaps axis_taps(const ResizeAttrs& a, int64_t in, int64_t out, double scale, double length, double roi_start,
                   double roi_end) {
  AxisTaps t;
  const bool crop = a.coord == CoordMode::kTfCropAndResize;
  if (crop) t.outside.assign(static_cast<size_t>(out), 0);
  // Antialiasing stretches the interpolation kernel by 1/scale when shrinking.
  const double kernel_scale = a.antialias && scale < 1 ? scale : 1.0;
  int64_t start = 0;
  if (a.mode != InterpMode::kNearest) {
    const double support = a.mode == InterpMode::kLinear ? 1.0 : 2.0;
    start = static_cast<int64_t>(std::floor(-support / kernel_scale)) + 1;
    t.taps = 2 - 2 * start;
  }
  const bool normalize = kernel_scale < 1 || (a.exclude_outside && a.mode == InterpMode::kCubic);
  t.index.reserve(static_cast<size_t>(out * t.taps));
  for (int64_t x = 0; x < out; ++x) {
    const double xo = source_coord(a, x, scale, in, out, length, roi_start, roi_end);
    if (crop && (xo < 0 || xo > static_cast<double>(in - 1))) {
      t.outside[static_cast<size_t>(x)] = 1;
      t.any_outside = true;
    }
    if (a.mode == InterpMode::kNearest) {
      t.index.push_back(std::clamp<int64_t>(nearest_source(a.nearest, xo, scale), 0, in - 1));
      continue;
    }
    const double x0 = std::floor(xo);
    const double ratio = xo - x0;
    const size_t first = t.weight.size();
    double sum = 0;
    for (int64_t j = 0; j < t.taps; ++j) {
      const int64_t offset = start + j;
      const int64_t src = static_cast<int64_t>(x0) + offset;
      const double arg = (static_cast<double>(offset) - ratio) * kernel_scale;
      double w = a.mode == InterpMode::kLinear ? std::max(0.0, 1 - std::abs(arg)) : cubic_kernel(arg, a.cubic_a);
      if (a.exclude_outside && (src < 0 || src >= in)) w = 0;
      t.weight.push_back(w);
      sum += w;
      t.index.push_back(std::clamp<int64_t>(src, 0, in - 1));
    }
    if (normalize && sum != 0)
      for (size_t j = first; j < t.weight.size(); ++j) t.weight[j] /= sum;
  }
  return t;
}

/// A resize prepared for one input shape and one set of scales/sizes/roi.
struct ResizePlan {
  enum class Path { kIdentity, kAtenNearest, kAtenLinear, kAtenCubic, kGeneral };
  struct Axis {
    int64_t axis = 0, out = 0, taps = 1;
    at::Tensor index;    ///< out * taps, int64
    at::Tensor weight;   ///< out x taps, compute dtype; undefined for nearest
    at::Tensor outside;  ///< bool [out]; undefined when no cell is outside
  };
  std::vector<double> key;
  Path path = Path::kGeneral;
  Ints out_shape;
  Ints spatial_out;
  bool align_corners = false;
  std::vector<c10::optional<double>> spatial_scales;
  std::vector<Axis> axes;
  at::ScalarType compute = at::kFloat;
};

std::vector<double> tensor_doubles(const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

/// A floating input the factory can read now (a constant), read once; nullopt otherwise.
std::optional<std::vector<double>> constant_doubles(const OpBuildInfo& info, int index) {
  if (index < 0) return std::nullopt;
  const TensorData* t = info.constant_input(static_cast<size_t>(index));
  if (t == nullptr) {
    if (!info.node.has_input(static_cast<size_t>(index))) return std::vector<double>();
    return std::nullopt;
  }
  std::vector<double> out(static_cast<size_t>(t->numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t->dtype) {
      case DType::kFloat32:
        out[i] = t->data<float>()[i];
        break;
      case DType::kFloat64:
        out[i] = t->data<double>()[i];
        break;
      case DType::kInt64:
        out[i] = static_cast<double>(t->data<int64_t>()[i]);
        break;
      case DType::kInt32:
        out[i] = t->data<int32_t>()[i];
        break;
      default:
        return std::nullopt;  // read at run time through ATen's conversions
    }
  }
  return out;
}

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

ResizePlan make_resize_plan(const ResizeAttrs& a, const at::Tensor& x, const std::vector<double>& roi,
                            const std::vector<double>& scales_in, const Ints& sizes_in, std::vector<double> key) {
  const int64_t rank = x.dim();
  const Ints in(x.sizes().begin(), x.sizes().end());
  Ints axes;
  if (a.axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  } else {
    for (int64_t ax : a.axes) axes.push_back(op_util::normalize_axis(ax, rank));
  }
  const size_t na = axes.size();
  std::vector<double> scale(static_cast<size_t>(rank), 1.0), length(in.begin(), in.end());
  Ints out = in;
  if (!scales_in.empty() && !sizes_in.empty()) throw std::invalid_argument("Resize takes scales or sizes, not both");
  if (!scales_in.empty()) {
    if (scales_in.size() != na)
      throw std::invalid_argument("Resize scales has " + std::to_string(scales_in.size()) + " values for " +
                                  std::to_string(na) + " axes");
    for (size_t j = 0; j < na; ++j) {
      const size_t ax = static_cast<size_t>(axes[j]);
      if (!(scales_in[j] > 0))
        throw std::invalid_argument("Resize scales must be positive, got " + std::to_string(scales_in[j]));
      scale[ax] = scales_in[j];
      length[ax] = static_cast<double>(in[ax]) * scales_in[j];
      out[ax] = static_cast<int64_t>(std::floor(length[ax]));
    }
  } else if (!sizes_in.empty()) {
    if (sizes_in.size() != na)
      throw std::invalid_argument("Resize sizes " + join(sizes_in) + " has " + std::to_string(sizes_in.size()) +
                                  " values for " + std::to_string(na) + " axes");
    if (a.aspect == AspectPolicy::kStretch) {
      for (size_t j = 0; j < na; ++j) {
        const size_t ax = static_cast<size_t>(axes[j]);
        if (sizes_in[j] < 0) throw std::invalid_argument("Resize sizes " + join(sizes_in) + " must not be negative");
        out[ax] = sizes_in[j];
        length[ax] = static_cast<double>(sizes_in[j]);
        scale[ax] = in[ax] == 0 ? 1.0 : static_cast<double>(sizes_in[j]) / static_cast<double>(in[ax]);
      }
    } else {
      double common = a.aspect == AspectPolicy::kNotLarger ? std::numeric_limits<double>::infinity() : 0.0;
      for (size_t j = 0; j < na; ++j) {
        const double s = static_cast<double>(sizes_in[j]) / static_cast<double>(in[static_cast<size_t>(axes[j])]);
        common = a.aspect == AspectPolicy::kNotLarger ? std::min(common, s) : std::max(common, s);
      }
      for (size_t j = 0; j < na; ++j) {
        const size_t ax = static_cast<size_t>(axes[j]);
        scale[ax] = common;
        length[ax] = common * static_cast<double>(in[ax]);
        out[ax] = static_cast<int64_t>(std::nearbyint(length[ax]));
      }
    }
  } else {
    throw std::invalid_argument("Resize needs scales or sizes");
  }
  std::vector<double> roi_start(static_cast<size_t>(rank), 0.0), roi_end(static_cast<size_t>(rank), 1.0);
  const bool crop = a.coord == CoordMode::kTfCropAndResize;
  if (crop && !roi.empty()) {
    if (roi.size() != 2 * na)
      throw std::invalid_argument("Resize roi has " + std::to_string(roi.size()) + " values, expected " +
                                  std::to_string(2 * na));
    for (size_t j = 0; j < na; ++j) {
      roi_start[static_cast<size_t>(axes[j])] = roi[j];
      roi_end[static_cast<size_t>(axes[j])] = roi[na + j];
    }
  }

  ResizePlan plan;
  plan.key = std::move(key);
  plan.out_shape = out;
  plan.compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  std::vector<size_t> resized;
  for (size_t i = 0; i < static_cast<size_t>(rank); ++i)
    if (crop || out[i] != in[i] || scale[i] != 1.0) resized.push_back(i);
  if (resized.empty()) {
    plan.path = ResizePlan::Path::kIdentity;
    return plan;
  }
  std::vector<AxisTaps> taps(static_cast<size_t>(rank));
  for (size_t i : resized) taps[i] = axis_taps(a, in[i], out[i], scale[i], length[i], roi_start[i], roi_end[i]);

  // ATen's upsample kernels resample the spatial axes (from 2) of a 3-D to 5-D tensor.
  const bool batch_kept = resized.front() >= 2;
  const bool aten_dtype = x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble ||
                          (x.is_cuda() && (x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16));
  bool shrinks = false;
  for (size_t i : resized) shrinks = shrinks || scale[i] < 1;
  if (batch_kept && aten_dtype && rank >= 3 && rank <= 5 && !crop && !(a.antialias && shrinks)) {
    for (int64_t i = 2; i < rank; ++i) plan.spatial_out.push_back(out[static_cast<size_t>(i)]);
    if (a.mode == InterpMode::kNearest) {
      // ATen's nearest reads floor(dst * in / out) in float, exact for power-of-two factors.
      bool same = true;
      for (size_t i : resized) {
        if (out[i] % in[i] != 0 || !is_power_of_two(out[i] / in[i])) {
          same = false;
          break;
        }
        int shift = 0;
        while ((in[i] << shift) < out[i]) ++shift;
        for (int64_t d = 0; d < out[i] && same; ++d) same = taps[i].index[static_cast<size_t>(d)] == (d >> shift);
      }
      if (same) {
        plan.path = ResizePlan::Path::kAtenNearest;
        return plan;
      }
    } else {
      // ATen's linear/cubic source index is half_pixel ((dst + 0.5) / scale - 0.5, then
      // clamped to the edge cells like ONNX's edge padding) or align_corners.
      bool coord_ok = a.coord == CoordMode::kHalfPixel;
      if (a.coord == CoordMode::kAlignCorners) {
        coord_ok = true;
        for (size_t i : resized) coord_ok = coord_ok && length[i] == static_cast<double>(out[i]);
      }
      if (a.coord == CoordMode::kPytorchHalfPixel) {
        coord_ok = true;
        for (size_t i : resized) coord_ok = coord_ok && out[i] > 1;
      }
      const bool cubic_ok = a.mode == InterpMode::kLinear || (rank == 4 && a.cubic_a == -0.75 && !a.exclude_outside);
      if (coord_ok && cubic_ok) {
        plan.align_corners = a.coord == CoordMode::kAlignCorners;
        for (int64_t i = 2; i < rank; ++i) {
          c10::optional<double> s;
          if (!plan.align_corners) s = scale[static_cast<size_t>(i)];
          plan.spatial_scales.push_back(s);
        }
        plan.path = a.mode == InterpMode::kLinear ? ResizePlan::Path::kAtenLinear : ResizePlan::Path::kAtenCubic;
        return plan;
      }
    }
  }

  // Shrinking axes first keeps the intermediate tensors small.
  std::stable_sort(resized.begin(), resized.end(), [&](size_t l, size_t r) {
    return static_cast<double>(out[l]) / static_cast<double>(std::max<int64_t>(in[l], 1)) <
           static_cast<double>(out[r]) / static_cast<double>(std::max<int64_t>(in[r], 1));
  });
  plan.path = ResizePlan::Path::kGeneral;
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  for (size_t i : resized) {
    AxisTaps& t = taps[i];
    ResizePlan::Axis ax;
    ax.axis = static_cast<int64_t>(i);
    ax.out = out[i];
    ax.taps = t.taps;
    ax.index =
        at::from_blob(t.index.data(), {static_cast<int64_t>(t.index.size())}, long_opts).to(x.device(), true, true);
    if (!t.weight.empty())
      ax.weight = at::from_blob(t.weight.data(), {out[i], t.taps}, at::TensorOptions().dtype(at::kDouble))
                      .to(x.device(), plan.compute, false, true);
    if (t.any_outside)
      ax.outside = at::from_blob(t.outside.data(), {out[i]}, at::TensorOptions().dtype(at::kByte))
                       .to(x.device(), at::kBool, false, true);
    plan.axes.push_back(std::move(ax));
  }
  return plan;
}

at::Tensor run_resize_plan(const ResizeAttrs& a, const ResizePlan& plan, const at::Tensor& x) {
  using Path = ResizePlan::Path;
  const auto& so = plan.spatial_out;
  const auto& sc = plan.spatial_scales;
  switch (plan.path) {
    case Path::kIdentity:
      return x;
    case Path::kAtenNearest:
      if (so.size() == 1) return at::upsample_nearest1d(x, so);
      if (so.size() == 2) return at::upsample_nearest2d(x, so);
      return at::upsample_nearest3d(x, so);
    case Path::kAtenLinear:
      if (so.size() == 1) return at::upsample_linear1d(x, so, plan.align_corners, sc[0]);
      if (so.size() == 2) return at::upsample_bilinear2d(x, so, plan.align_corners, sc[0], sc[1]);
      return at::upsample_trilinear3d(x, so, plan.align_corners, sc[0], sc[1], sc[2]);
    case Path::kAtenCubic:
      return at::upsample_bicubic2d(x, so, plan.align_corners, sc[0], sc[1]);
    case Path::kGeneral:
      break;
  }
  const bool interpolate = a.mode != InterpMode::kNearest;
  at::Tensor y = interpolate && x.scalar_type() != plan.compute ? x.to(plan.compute) : x;
  at::Tensor outside;
  for (const auto& ax : plan.axes) {
    at::Tensor g = y.index_select(ax.axis, ax.index);
    if (interpolate) {
      Ints shape(y.sizes().begin(), y.sizes().end());
      shape[static_cast<size_t>(ax.axis)] = ax.out;
      shape.insert(shape.begin() + ax.axis + 1, ax.taps);
      Ints wshape(shape.size(), 1);
      wshape[static_cast<size_t>(ax.axis)] = ax.out;
      wshape[static_cast<size_t>(ax.axis) + 1] = ax.taps;
      y = (g.reshape(shape) * ax.weight.reshape(wshape)).sum(ax.axis + 1);
    } else {
      y = g;
    }
    if (ax.outside.defined()) {
      Ints mshape(static_cast<size_t>(x.dim()), 1);
      mshape[static_cast<size_t>(ax.axis)] = ax.out;
      at::Tensor m = ax.outside.reshape(mshape);
      outside = outside.defined() ? at::logical_or(outside, m) : m;
    }
  }
  if (outside.defined()) y = y.masked_fill(outside, a.extrapolation);
  if (y.scalar_type() != x.scalar_type())
    y = x.is_floating_point() ? y.to(x.scalar_type()) : round_to_integer(y, x.scalar_type());
  return y;
}

/// Input i as doubles: the value fixed at build time, else read on the host now (empty
/// when absent or an empty tensor).
std::vector<double> resize_input(OpContext& ctx, int index, const std::optional<std::vector<double>>& fixed) {
  if (fixed) return *fixed;
  if (index < 0 || !ctx.has_input(static_cast<size_t>(index))) return {};
  return tensor_doubles(ctx.host_input(static_cast<size_t>(index)));
}

Result<KernelPtr> make_resize(const OpBuildInfo& info) {
  const Node& node = info.node;
  const bool upsample = info.op() == "Upsample";
  const int64_t opset = info.opset;
  ResizeAttrs a;
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest")
    a.mode = InterpMode::kNearest;
  else if (mode == "linear" || (upsample && mode == "bilinear"))
    a.mode = InterpMode::kLinear;
  else if (mode == "cubic" && !upsample && opset >= 11)
    a.mode = InterpMode::kCubic;
  else
    return invalid_input(info.op() + " mode '" + mode + "' is not supported at opset " + std::to_string(opset));

  if (upsample || opset < 11) {
    // Upsample and Resize-10: asymmetric coordinates; nearest floors (ceils when shrinking).
    a.coord = CoordMode::kAsymmetric;
    a.nearest = NearestMode::kSimple;
    if (upsample && opset < 9) {
      a.fixed_scales = std::vector<double>();
      for (float f : node.attr_floats("scales")) a.fixed_scales->push_back(f);
      if (a.fixed_scales->empty()) return invalid_input("Upsample needs the scales attribute");
    } else {
      a.scales_input = 1;
    }
  } else {
    a.roi_input = 1;
    a.scales_input = 2;
    a.sizes_input = 3;
    const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
    if (coord == "half_pixel")
      a.coord = CoordMode::kHalfPixel;
    else if (coord == "half_pixel_symmetric" && opset >= 19)
      a.coord = CoordMode::kHalfPixelSymmetric;
    else if (coord == "pytorch_half_pixel")
      a.coord = CoordMode::kPytorchHalfPixel;
    else if (coord == "align_corners")
      a.coord = CoordMode::kAlignCorners;
    else if (coord == "asymmetric")
      a.coord = CoordMode::kAsymmetric;
    else if (coord == "tf_half_pixel_for_nn" && opset < 13)
      a.coord = CoordMode::kTfHalfPixelForNn;
    else if (coord == "tf_crop_and_resize")
      a.coord = CoordMode::kTfCropAndResize;
    else
      return invalid_input("coordinate_transformation_mode '" + coord + "' is not defined at opset " +
                           std::to_string(opset));
    const std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
    if (nearest == "round_prefer_floor")
      a.nearest = NearestMode::kRoundPreferFloor;
    else if (nearest == "round_prefer_ceil")
      a.nearest = NearestMode::kRoundPreferCeil;
    else if (nearest == "floor")
      a.nearest = NearestMode::kFloor;
    else if (nearest == "ceil")
      a.nearest = NearestMode::kCeil;
    else
      return invalid_input("nearest_mode '" + nearest +
                           "' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil");
    a.cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
    a.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
    a.extrapolation = node.attr_float("extrapolation_value", 0.0f);
    if (opset >= 18) {
      a.antialias = node.attr_int("antialias", 0) != 0;
      a.axes = node.attr_ints("axes");
      const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
      if (policy == "stretch")
        a.aspect = AspectPolicy::kStretch;
      else if (policy == "not_larger")
        a.aspect = AspectPolicy::kNotLarger;
      else if (policy == "not_smaller")
        a.aspect = AspectPolicy::kNotSmaller;
      else
        return invalid_input("keep_aspect_ratio_policy '" + policy +
                             "' is not one of stretch, not_larger, not_smaller");
    }
    a.fixed_roi = constant_doubles(info, a.roi_input);
    if (auto sizes = constant_doubles(info, a.sizes_input)) {
      a.fixed_sizes = Ints();
      for (double v : *sizes) a.fixed_sizes->push_back(static_cast<int64_t>(v));
    }
  }
  if (a.scales_input >= 0) a.fixed_scales = constant_doubles(info, a.scales_input);

  return make_kernel([a, plan = ResizePlan()](OpContext& ctx) mutable {
    const at::Tensor& x = ctx.input(0);
    const std::vector<double> scales = resize_input(ctx, a.scales_input, a.fixed_scales);
    Ints sizes;
    if (a.fixed_sizes)
      sizes = *a.fixed_sizes;
    else if (a.sizes_input >= 0 && ctx.has_input(static_cast<size_t>(a.sizes_input)))
      sizes = ctx.input_ints(static_cast<size_t>(a.sizes_input));
    const std::vector<double> roi =
        a.coord == CoordMode::kTfCropAndResize ? resize_input(ctx, a.roi_input, a.fixed_roi) : std::vector<double>();
    std::vector<double> key;
    key.reserve(static_cast<size_t>(x.dim()) + scales.size() + sizes.size() + roi.size() + 4);
    key.push_back(static_cast<double>(x.scalar_type()));
    for (int64_t d : x.sizes()) key.push_back(static_cast<double>(d));
    key.push_back(-1);
    key.insert(key.end(), scales.begin(), scales.end());
    key.push_back(-1);
    for (int64_t v : sizes) key.push_back(static_cast<double>(v));
    key.push_back(-1);
    key.insert(key.end(), roi.begin(), roi.end());
    if (plan.key != key) plan = make_resize_plan(a, x, roi, scales, sizes, std::move(key));
    ctx.set_output(0, run_resize_plan(a, plan, x));
  });
}

// ---------------------------------------------------------------------------------------
// GridSample, RoiAlign

Result<KernelPtr> make_grid_sample(const OpBuildInfo& info) {
  const Node& node = info.node;
  const int64_t opset = info.opset;
  const std::string mode = node.attr_string("mode", opset >= 20 ? "linear" : "bilinear");
  int64_t interpolation = 0;  // ATen: 0 bilinear, 1 nearest, 2 bicubic
  if (mode == (opset >= 20 ? "linear" : "bilinear"))
    interpolation = 0;
  else if (mode == "nearest")
    interpolation = 1;
  else if (mode == (opset >= 20 ? "cubic" : "bicubic"))
    interpolation = 2;
  else
    return invalid_input("GridSample mode '" + mode + "' is not defined at opset " + std::to_string(opset));
  const std::string padding = node.attr_string("padding_mode", "zeros");
  int64_t padding_mode = 0;  // ATen: 0 zeros, 1 border, 2 reflection
  if (padding == "zeros")
    padding_mode = 0;
  else if (padding == "border")
    padding_mode = 1;
  else if (padding == "reflection")
    padding_mode = 2;
  else
    return invalid_input("GridSample padding_mode '" + padding + "' is not one of zeros, border, reflection");
  const bool align_corners = node.attr_int("align_corners", 0) != 0;
  const int64_t max_rank = opset >= 20 ? 5 : 4;
  return make_kernel([=](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const at::Tensor& grid = ctx.input(1);
    if (x.dim() < 4 || x.dim() > max_rank)
      throw std::invalid_argument("GridSample input has rank " + std::to_string(x.dim()) + ", supported: 4" +
                                  (max_rank == 5 ? " or 5" : ""));
    if (x.dim() == 5 && interpolation == 2)
      throw std::invalid_argument("GridSample cubic mode is supported for 2-D images only");
    if (grid.dim() != x.dim() || grid.size(0) != x.size(0) || grid.size(-1) != x.dim() - 2)
      throw std::invalid_argument("GridSample grid shape does not match the input");
    const at::Tensor xv = x.is_floating_point() ? x : x.to(at::kFloat);
    at::Tensor y = at::grid_sampler(xv, grid.to(xv.scalar_type()), interpolation, padding_mode, align_corners);
    ctx.set_output(0, x.is_floating_point() ? y : round_to_integer(y, x.scalar_type()));
  });
}

/// Per-sample bilinear terms of RoiAlign along one axis, shaped (rois, bins, samples):
/// the low and high source cells and their weights (zero where the sample lies outside
/// [-1, size] or beyond the roi's own sample count).
struct RoiAxisSamples {
  at::Tensor low, high, w_low, w_high, exists;
};

RoiAxisSamples roi_axis_samples(const at::Tensor& start, const at::Tensor& bin, const at::Tensor& count, int64_t bins,
                                int64_t max_count, int64_t size) {
  const auto opts = start.options();
  at::Tensor b = at::arange(bins, opts).reshape({1, bins, 1});
  at::Tensor k = at::arange(max_count, opts).reshape({1, 1, max_count});
  at::Tensor st = start.reshape({-1, 1, 1}), bn = bin.reshape({-1, 1, 1}), cnt = count.reshape({-1, 1, 1});
  at::Tensor pos = st + b * bn + (k + 0.5) * bn / cnt;
  RoiAxisSamples r;
  r.exists = (k < cnt).expand_as(pos);
  at::Tensor inside = at::logical_and(pos >= -1.0, pos <= static_cast<double>(size));
  pos = pos.clamp_min(0);
  at::Tensor low = pos.floor().clamp_max(static_cast<double>(size - 1));
  at::Tensor at_edge = low >= static_cast<double>(size - 1);
  at::Tensor frac = at::where(at_edge, at::zeros_like(pos), pos - low);
  r.low = low.to(at::kLong);
  r.high = at::where(at_edge, low, low + 1).to(at::kLong);
  at::Tensor keep = at::logical_and(inside, r.exists).to(pos.scalar_type());
  r.w_low = (1 - frac) * keep;
  r.w_high = frac * keep;
  return r;
}

Result<KernelPtr> make_roi_align(const OpBuildInfo& info) {
  const Node& node = info.node;
  const std::string mode = node.attr_string("mode", "avg");
  if (mode != "avg" && mode != "max") return invalid_input("RoiAlign mode '" + mode + "' is not one of avg, max");
  const bool max_mode = mode == "max";
  const int64_t out_h = node.attr_int("output_height", 1), out_w = node.attr_int("output_width", 1);
  const int64_t sampling_ratio = node.attr_int("sampling_ratio", 0);
  const double spatial_scale = node.attr_float("spatial_scale", 1.0f);
  if (out_h < 1 || out_w < 1 || sampling_ratio < 0)
    return invalid_input("RoiAlign output size and sampling_ratio must be positive");
  bool half_pixel = false;
  if (info.opset >= 16) {
    const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
    if (coord != "half_pixel" && coord != "output_half_pixel")
      return invalid_input("RoiAlign coordinate_transformation_mode '" + coord +
                           "' is not one of half_pixel, output_half_pixel");
    half_pixel = coord == "half_pixel";
  }
  return make_kernel([=](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (x.dim() != 4)
      throw std::invalid_argument("RoiAlign input must be N x C x H x W, has rank " + std::to_string(x.dim()));
    at::Tensor rois = ctx.input(1);
    const at::Tensor batch = ctx.input(2).to(at::kLong);
    if (rois.dim() != 2 || rois.size(1) != 4 || batch.dim() != 1 || batch.size(0) != rois.size(0))
      throw std::invalid_argument("RoiAlign rois must be num_rois x 4 with one batch index per roi");
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), r = rois.size(0);
    const at::ScalarType dt = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    rois = rois.to(dt);
    const double offset = half_pixel ? 0.5 : 0.0;
    at::Tensor x1 = rois.select(1, 0) * spatial_scale - offset, y1 = rois.select(1, 1) * spatial_scale - offset;
    at::Tensor roi_w = rois.select(1, 2) * spatial_scale - offset - x1;
    at::Tensor roi_h = rois.select(1, 3) * spatial_scale - offset - y1;
    if (!half_pixel) {
      roi_w = roi_w.clamp_min(1.0);
      roi_h = roi_h.clamp_min(1.0);
    }
    at::Tensor bin_w = roi_w / static_cast<double>(out_w), bin_h = roi_h / static_cast<double>(out_h);
    at::Tensor count_h, count_w;
    int64_t max_h = sampling_ratio, max_w = sampling_ratio;
    if (sampling_ratio > 0) {
      count_h = at::full({r}, static_cast<double>(sampling_ratio), rois.options());
      count_w = count_h;
    } else {
      // Adaptive sampling: each roi's sample grid depends on its size, so the largest
      // grid must be known on the host to shape the tensors.
      count_h = at::ceil(roi_h / static_cast<double>(out_h)).clamp_min(1.0);
      count_w = at::ceil(roi_w / static_cast<double>(out_w)).clamp_min(1.0);
      const at::Tensor maxima = at::stack({count_h.max(), count_w.max()}).to(at::kCPU, at::kLong);
      max_h = r == 0 ? 1 : maxima[0].item<int64_t>();
      max_w = r == 0 ? 1 : maxima[1].item<int64_t>();
    }
    const RoiAxisSamples sy = roi_axis_samples(y1, bin_h, count_h, out_h, max_h, h);
    const RoiAxisSamples sx = roi_axis_samples(x1, bin_w, count_w, out_w, max_w, w);
    const at::Tensor xv = x.to(dt);
    at::Tensor y;
    if (!max_mode) {
      // The average of bilinear samples is separable: out = Ay . X[b] . Ax^T with
      // Ay (rois x out_h x H) and Ax (rois x out_w x W) holding the summed sample weights.
      auto axis_matrix = [&](const RoiAxisSamples& s, int64_t bins, int64_t size, const at::Tensor& count) {
        at::Tensor m = at::zeros({r, bins, size}, xv.options());
        m.scatter_add_(2, s.low, s.w_low).scatter_add_(2, s.high, s.w_high);
        return m / count.reshape({-1, 1, 1});
      };
      at::Tensor ay = axis_matrix(sy, out_h, h, count_h);
      const at::Tensor ax = axis_matrix(sx, out_w, w, count_w);
      // Place each roi's rows in its own batch image so one matmul covers all of them.
      const at::Tensor one_hot = at::one_hot(batch, n).to(dt);
      ay = (ay.unsqueeze(2) * one_hot.reshape({r, 1, n, 1})).reshape({r * out_h, n * h});
      const at::Tensor rows = at::matmul(ay, xv.permute({0, 2, 1, 3}).reshape({n * h, c * w}));
      y = at::matmul(rows.reshape({r, out_h * c, w}), ax.transpose(1, 2));
      y = y.reshape({r, out_h, c, out_w}).permute({0, 2, 1, 3});
    } else {
      // Max mode takes, per sample, the largest of the four weighted corner values, then
      // the largest over the samples.
      const at::Tensor flat = xv.permute({0, 2, 3, 1}).reshape({n * h * w, c});
      const at::Tensor base = batch.reshape({r, 1, 1, 1, 1}) * (h * w);
      auto corner = [&](const at::Tensor& yi, const at::Tensor& wy, const at::Tensor& xi, const at::Tensor& wx) {
        at::Tensor idx = base + yi.reshape({r, out_h, max_h, 1, 1}) * w + xi.reshape({r, 1, 1, out_w, max_w});
        at::Tensor weight = wy.reshape({r, out_h, max_h, 1, 1}) * wx.reshape({r, 1, 1, out_w, max_w});
        at::Tensor v = flat.index_select(0, idx.reshape({-1})).reshape({r, out_h, max_h, out_w, max_w, c});
        return v * weight.unsqueeze(-1);
      };
      at::Tensor v = at::maximum(
          at::maximum(corner(sy.low, sy.w_low, sx.low, sx.w_low), corner(sy.low, sy.w_low, sx.high, sx.w_high)),
          at::maximum(corner(sy.high, sy.w_high, sx.low, sx.w_low), corner(sy.high, sy.w_high, sx.high, sx.w_high)));
      const at::Tensor exists =
          at::logical_and(sy.exists.reshape({r, out_h, max_h, 1, 1}), sx.exists.reshape({r, 1, 1, out_w, max_w}));
      v = v.masked_fill(exists.logical_not().unsqueeze(-1), -std::numeric_limits<double>::infinity());
      y = v.amax({2, 4}).permute({0, 3, 1, 2});
    }
    ctx.set_output(0, y.to(x.scalar_type()).contiguous());
  });
}

// ---------------------------------------------------------------------------------------
// RNN, GRU, LSTM

/// One of the activation functions a recurrent layer may name, with its parameters.
struct Activation {
  enum class Kind {
    kRelu,
    kTanh,
    kSigmoid,
    kAffine,
    kLeakyRelu,
    kThresholdedRelu,
    kScaledTanh,
    kHardSigmoid,
    kElu,
    kSoftsign,
    kSoftplus
  };
  Kind kind = Kind::kTanh;
  double alpha = 0, beta = 0;

  at::Tensor operator()(const at::Tensor& x) const {
    switch (kind) {
      case Kind::kRelu:
        return at::relu(x);
      case Kind::kTanh:
        return at::tanh(x);
      case Kind::kSigmoid:
        return at::sigmoid(x);
      case Kind::kAffine:
        return x * alpha + beta;
      case Kind::kLeakyRelu:
        return at::leaky_relu(x, alpha);
      case Kind::kThresholdedRelu:
        return x * (x > alpha).to(x.scalar_type());
      case Kind::kScaledTanh:
        return at::tanh(x * beta) * alpha;
      case Kind::kHardSigmoid:
        return (x * alpha + beta).clamp(0, 1);
      case Kind::kElu:
        return at::elu(x, alpha);
      case Kind::kSoftsign:
        return x / (x.abs() + 1);
      case Kind::kSoftplus:
        return at::softplus(x);
    }
    return x;
  }
};

/// Parses activation `name`; its alpha/beta come next from the attribute lists (in the
/// order of the functions that take them), else from the ONNX op's defaults.
Result<Activation> parse_activation(const std::string& name, const std::vector<float>& alphas, size_t* next_alpha,
                                    const std::vector<float>& betas, size_t* next_beta) {
  using K = Activation::Kind;
  struct Known {
    const char* name;
    K kind;
    int params;  // 0 none, 1 alpha, 2 alpha and beta
    double alpha, beta;
  };
  static const Known kKnown[] = {
      {"relu", K::kRelu, 0, 0, 0},
      {"tanh", K::kTanh, 0, 0, 0},
      {"sigmoid", K::kSigmoid, 0, 0, 0},
      {"affine", K::kAffine, 2, 1.0, 0.0},
      {"leakyrelu", K::kLeakyRelu, 1, 0.01, 0},
      {"thresholdedrelu", K::kThresholdedRelu, 1, 1.0, 0},
      {"scaledtanh", K::kScaledTanh, 2, 1.0, 1.0},
      {"hardsigmoid", K::kHardSigmoid, 2, 0.2, 0.5},
      {"elu", K::kElu, 1, 1.0, 0},
      {"softsign", K::kSoftsign, 0, 0, 0},
      {"softplus", K::kSoftplus, 0, 0, 0},
  };
  const std::string key = lower(name);
  for (const Known& k : kKnown) {
    if (key != k.name) continue;
    Activation a{k.kind, k.alpha, k.beta};
    if (k.params >= 1 && *next_alpha < alphas.size()) a.alpha = alphas[(*next_alpha)++];
    if (k.params >= 2 && *next_beta < betas.size()) a.beta = betas[(*next_beta)++];
    return a;
  }
  return unsupported("activation '" + name + "' is not supported");
}

enum class Cell { kRnn, kGru, kLstm };

struct RecurrentAttrs {
  Cell cell = Cell::kRnn;
  int64_t gates = 1;   ///< gate blocks in W and R: 1, 3 or 4
  int64_t hidden = 0;  ///< 0: taken from R
  int64_t directions = 1;
  bool reverse = false;  ///< direction "reverse" (the second direction of "bidirectional" always is)
  double clip = 0;       ///< 0: no clipping
  bool linear_before_reset = false;
  bool input_forget = false;
  bool batch_first = false;      ///< layout 1
  std::vector<Activation> acts;  ///< per direction, `per_dir` functions each
  size_t per_dir = 1;
};

Result<KernelPtr> make_recurrent(const OpBuildInfo& info) {
  const Node& node = info.node;
  RecurrentAttrs a;
  if (info.op() == "RNN")
    a.cell = Cell::kRnn;
  else if (info.op() == "GRU")
    a.cell = Cell::kGru;
  else
    a.cell = Cell::kLstm;
  a.gates = a.cell == Cell::kRnn ? 1 : a.cell == Cell::kGru ? 3 : 4;
  a.per_dir = a.cell == Cell::kRnn ? 1 : a.cell == Cell::kGru ? 2 : 3;
  a.hidden = node.attr_int("hidden_size", 0);
  const std::string direction = node.attr_string("direction", "forward");
  if (direction == "forward")
    a.directions = 1;
  else if (direction == "reverse")
    a.reverse = true;
  else if (direction == "bidirectional")
    a.directions = 2;
  else
    return invalid_input("direction '" + direction + "' is not one of forward, reverse, bidirectional");
  if (const Attribute* clip = node.find_attribute("clip")) {
    a.clip = clip->f;
    if (!(a.clip > 0)) return invalid_input("clip " + std::to_string(a.clip) + " must be positive");
  }
  a.linear_before_reset = node.attr_int("linear_before_reset", 0) != 0;
  a.input_forget = node.attr_int("input_forget", 0) != 0;
  a.batch_first = info.opset >= 14 && node.attr_int("layout", 0) != 0;

  std::vector<std::string> names;
  if (const Attribute* acts = node.find_attribute("activations")) names = acts->strings;
  if (names.empty()) {
    static const char* const kDefaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    for (int64_t d = 0; d < a.directions; ++d)
      for (size_t i = 0; i < a.per_dir; ++i) names.push_back(kDefaults[a.per_dir - 1][i]);
  } else if (names.size() == a.per_dir && a.directions == 2) {
    names.insert(names.end(), names.begin(), names.end());
  }
  if (names.size() != a.per_dir * static_cast<size_t>(a.directions))
    return invalid_input("activations lists " + std::to_string(names.size()) + " functions, expected " +
                         std::to_string(a.per_dir * static_cast<size_t>(a.directions)));
  const std::vector<float> alphas = node.attr_floats("activation_alpha"), betas = node.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  for (const auto& name : names) {
    AK_ASSIGN_OR_RETURN(Activation act, parse_activation(name, alphas, &next_alpha, betas, &next_beta));
    a.acts.push_back(act);
  }

  return make_kernel([a](OpContext& ctx) {
    at::Tensor x = ctx.input(0);
    if (x.dim() != 3)
      throw std::invalid_argument("recurrent input X must have rank 3, has rank " + std::to_string(x.dim()));
    if (a.batch_first) x = x.transpose(0, 1);
    const at::Tensor& w = ctx.input(1);
    const at::Tensor& rw = ctx.input(2);
    const int64_t steps = x.size(0), batch = x.size(1);
    const int64_t hidden = a.hidden > 0 ? a.hidden : rw.size(-1);
    const int64_t gh = a.gates * hidden;
    if (w.dim() != 3 || w.size(0) != a.directions || w.size(1) != gh || w.size(2) != x.size(2))
      throw std::invalid_argument("W has shape " + join(Ints(w.sizes().begin(), w.sizes().end())) + ", expected [" +
                                  std::to_string(a.directions) + "," + std::to_string(gh) + "," +
                                  std::to_string(x.size(2)) + "]");
    if (rw.dim() != 3 || rw.size(0) != a.directions || rw.size(1) != gh || rw.size(2) != hidden)
      throw std::invalid_argument("R has shape " + join(Ints(rw.sizes().begin(), rw.sizes().end())) + ", expected [" +
                                  std::to_string(a.directions) + "," + std::to_string(gh) + "," +
                                  std::to_string(hidden) + "]");
    const bool lstm = a.cell == Cell::kLstm;
    auto initial = [&](size_t i) {
      if (!ctx.has_input(i)) return at::Tensor();
      at::Tensor t = ctx.input(i);
      if (a.batch_first) t = t.transpose(0, 1);
      if (t.dim() != 3 || t.size(0) != a.directions || t.size(1) != batch || t.size(2) != hidden)
        throw std::invalid_argument("initial state input " + std::to_string(i) + " has the wrong shape");
      return t;
    };
    const at::Tensor init_h = initial(5);
    const at::Tensor init_c = lstm ? initial(6) : at::Tensor();
    const at::Tensor peep = lstm && ctx.has_input(7) ? ctx.input(7) : at::Tensor();
    at::Tensor valid, invalid;
    if (ctx.has_input(4)) {
      const at::Tensor lens = ctx.input(4).to(at::kLong);
      valid = (at::arange(steps, lens.options()).unsqueeze(1) < lens.unsqueeze(0)).unsqueeze(2);
      invalid = valid.logical_not();
    }
    const bool want_y = ctx.has_output(0);
    std::vector<at::Tensor> y_dirs, h_dirs, c_dirs;
    for (int64_t d = 0; d < a.directions; ++d) {
      const bool reverse = a.reverse || d == 1;
      const Activation* act = &a.acts[static_cast<size_t>(d) * a.per_dir];
      const at::Tensor rt = rw[d].t();
      // Input projections of all steps in one matmul; every bias that is simply added to
      // a gate's pre-activation is folded in here.
      at::Tensor xw = at::matmul(x, w[d].t());
      at::Tensor rb_h;  // GRU with linear_before_reset: the h-gate recurrence bias stays inside r * (...)
      if (ctx.has_input(3)) {
        const at::Tensor& b = ctx.input(3);
        if (b.dim() != 2 || b.size(0) != a.directions || b.size(1) != 2 * gh)
          throw std::invalid_argument("B must have shape [" + std::to_string(a.directions) + "," +
                                      std::to_string(2 * gh) + "]");
        at::Tensor wb = b[d].slice(0, 0, gh), rb = b[d].slice(0, gh, 2 * gh);
        if (a.cell == Cell::kGru && a.linear_before_reset) {
          rb_h = rb.slice(0, 2 * hidden, gh);
          rb = at::cat({rb.slice(0, 0, 2 * hidden), at::zeros_like(rb_h)});
        }
        xw = xw + (wb + rb);
      }
      at::Tensor h = init_h.defined() ? init_h[d] : at::zeros({batch, hidden}, x.options());
      at::Tensor c = init_c.defined() ? init_c[d] : at::zeros({batch, hidden}, x.options());
      at::Tensor p_i, p_o, p_f;
      if (peep.defined()) {
        p_i = peep[d].slice(0, 0, hidden);
        p_o = peep[d].slice(0, hidden, 2 * hidden);
        p_f = peep[d].slice(0, 2 * hidden, 3 * hidden);
      }
      auto clip = [&](at::Tensor t) { return a.clip > 0 ? t.clamp(-a.clip, a.clip) : t; };
      std::vector<at::Tensor> ys(want_y ? static_cast<size_t>(steps) : 0);
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t t = reverse ? steps - 1 - s : s;
        const at::Tensor xt = xw[t];
        at::Tensor h_new, c_new;
        if (a.cell == Cell::kRnn) {
          h_new = act[0](clip(at::addmm(xt, h, rt)));
        } else if (a.cell == Cell::kGru) {
          const at::Tensor zr = at::addmm(xt.slice(1, 0, 2 * hidden), h, rt.slice(1, 0, 2 * hidden));
          const at::Tensor z = act[0](clip(zr.slice(1, 0, hidden)));
          const at::Tensor r = act[0](clip(zr.slice(1, hidden, 2 * hidden)));
          const at::Tensor rt_h = rt.slice(1, 2 * hidden, gh);
          const at::Tensor xh = xt.slice(1, 2 * hidden, gh);
          at::Tensor pre;
          if (a.linear_before_reset)
            pre = xh + r * (rb_h.defined() ? at::addmm(rb_h, h, rt_h) : at::matmul(h, rt_h));
          else
            pre = at::addmm(xh, r * h, rt_h);
          const at::Tensor cand = act[1](clip(pre));
          h_new = (1 - z) * cand + z * h;
        } else {
          const at::Tensor g = at::addmm(xt, h, rt);
          at::Tensor gi = g.slice(1, 0, hidden), go = g.slice(1, hidden, 2 * hidden);
          at::Tensor gf = g.slice(1, 2 * hidden, 3 * hidden), gc = g.slice(1, 3 * hidden, 4 * hidden);
          if (p_i.defined()) {
            gi = gi + p_i * c;
            gf = gf + p_f * c;
          }
          const at::Tensor i = act[0](clip(gi));
          const at::Tensor f = a.input_forget ? 1 - i : act[0](clip(gf));
          c_new = f * c + i * act[1](clip(gc));
          if (p_o.defined()) go = go + p_o * c_new;
          h_new = act[0](clip(go)) * act[2](c_new);
        }
        if (valid.defined()) {
          // Past a sequence's length its state is carried unchanged and its output is 0.
          const at::Tensor v = valid[t];
          if (want_y) ys[static_cast<size_t>(t)] = h_new.masked_fill(invalid[t], 0);
          h = at::where(v, h_new, h);
          if (lstm) c = at::where(v, c_new, c);
        } else {
          if (want_y) ys[static_cast<size_t>(t)] = h_new;
          h = h_new;
          if (lstm) c = c_new;
        }
      }
      if (want_y) y_dirs.push_back(steps > 0 ? at::stack(ys) : at::zeros({0, batch, hidden}, x.options()));
      h_dirs.push_back(h);
      c_dirs.push_back(c);
    }
    if (want_y) {
      at::Tensor y = at::stack(y_dirs, 1);
      ctx.set_output(0, a.batch_first ? y.permute({2, 0, 1, 3}).contiguous() : y);
    }
    at::Tensor yh = at::stack(h_dirs);
    ctx.set_output(1, a.batch_first ? yh.transpose(0, 1).contiguous() : yh);
    if (lstm) {
      at::Tensor yc = at::stack(c_dirs);
      ctx.set_output(2, a.batch_first ? yc.transpose(0, 1).contiguous() : yc);
    }
  });
}

}  // namespace

void register_nn_ops(OpRegistry& r) {
  r.add("Conv", 1, make_conv);
  r.add("ConvInteger", 10, make_conv_integer);
  r.add("QLinearConv", 10, make_qlinear_conv);
  r.add("ConvTranspose", 1, make_conv_transpose);

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

  for (int since : {10, 11, 13, 18, 19}) r.add("Resize", since, make_resize);
  for (int since : {7, 9}) r.add("Upsample", since, make_resize);
  for (int since : {16, 20}) r.add("GridSample", since, make_grid_sample);
  for (int since : {10, 16}) r.add("RoiAlign", since, make_roi_align);

  for (const char* op : {"RNN", "GRU", "LSTM"})
    for (int since : {7, 14}) r.add(op, since, make_recurrent);
}

}  // namespace ak::models
