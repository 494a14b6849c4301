// Convolutions: Conv (at::convolution with the bias fused), ConvInteger, QLinearConv and
// ConvTranspose.

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

/// Shape {1, n, 1, ...} (rank `rank`) to broadcast a per-channel vector over N x C x ... .
Ints channel_shape(int64_t n, int64_t rank) {
  Ints s(static_cast<size_t>(rank), 1);
  s[1] = n;
  return s;
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
    throw std::invalid_argument("kernel_shape " + bracketed(a.window.kernel_shape) + " does not match the weight's " +
                                bracketed(win.kernel));
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
    if (v < 0) return invalid_input("output_padding " + bracketed(a.output_padding) + " must not be negative");

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
      throw std::invalid_argument("kernel_shape " + bracketed(a.kernel_shape) + " does not match the weight's " +
                                  bracketed(kernel));
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

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add("Conv", 1, make_conv);
  r.add("ConvInteger", 10, make_conv_integer);
  r.add("QLinearConv", 10, make_qlinear_conv);
  r.add("ConvTranspose", 1, make_conv_transpose);
}

}  // namespace ak::models
