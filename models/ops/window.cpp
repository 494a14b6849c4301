// Window geometry shared by the convolution and pooling ops (models/ops/window.h).

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/ops/window.h"

namespace ak::models::nn {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

Ints spatial_sizes(const at::Tensor& x) { return Ints(x.sizes().begin() + 2, x.sizes().end()); }

Ints per_axis(const Ints& values, size_t count, int64_t fill, const char* name) {
  if (values.empty()) return Ints(count, fill);
  if (values.size() != count)
    throw std::invalid_argument(std::string(name) + " " + bracketed(values) + " has " + std::to_string(values.size()) +
                                " values, the input has " + std::to_string(count) + " spatial axes");
  return values;
}

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

namespace {

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

}  // namespace

Result<WindowAttrs> parse_window_attrs(const Node& node) {
  WindowAttrs a;
  AK_ASSIGN_OR_RETURN(a.auto_pad, parse_auto_pad(node));
  a.kernel_shape = node.attr_ints("kernel_shape");
  a.strides = node.attr_ints("strides");
  a.dilations = node.attr_ints("dilations");
  a.pads = node.attr_ints("pads");
  a.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  for (int64_t v : a.strides)
    if (v < 1) return invalid_input("strides " + bracketed(a.strides) + " must be positive");
  for (int64_t v : a.dilations)
    if (v < 1) return invalid_input("dilations " + bracketed(a.dilations) + " must be positive");
  for (int64_t v : a.kernel_shape)
    if (v < 1) return invalid_input("kernel_shape " + bracketed(a.kernel_shape) + " must be positive");
  for (int64_t v : a.pads)
    if (v < 0) return invalid_input("pads " + bracketed(a.pads) + " must not be negative");
  if (!a.pads.empty() && a.pads.size() % 2 != 0)
    return invalid_input("pads " + bracketed(a.pads) + " must have 2 values per axis");
  if (!a.kernel_shape.empty()) {
    const size_t n = a.kernel_shape.size();
    if ((!a.strides.empty() && a.strides.size() != n) || (!a.dilations.empty() && a.dilations.size() != n) ||
        (!a.pads.empty() && a.pads.size() != 2 * n))
      return invalid_input("kernel_shape " + bracketed(a.kernel_shape) + ", strides " + bracketed(a.strides) + ", dilations " +
                           bracketed(a.dilations) + " and pads " + bracketed(a.pads) + " disagree on the number of axes");
  }
  return a;
}

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

}  // namespace ak::models::nn
