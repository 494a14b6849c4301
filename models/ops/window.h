#pragma once
/// Window geometry shared by the convolution and pooling ops (models/ops/conv.cpp,
/// pool.cpp): attributes parsed once, then resolved against an input's spatial sizes.
/// Internal to models/ops.

#include <string>
#include <vector>

#include "base/strings.h"
#include "models/ops/op_kernel.h"

namespace ak::models::nn {

using Ints = std::vector<int64_t>;

/// "[1,3,224]": the form of shapes and attribute lists in error messages.
inline std::string bracketed(const Ints& v) { return "[" + join(v, ",") + "]"; }

/// Integer division rounding towards negative infinity.
int64_t floor_div(int64_t a, int64_t b);
/// Integer division rounding towards positive infinity.
int64_t ceil_div(int64_t a, int64_t b);

/// The spatial sizes of an N x C x D1 x ... tensor.
Ints spatial_sizes(const at::Tensor& x);

/// `values` when given (checked against the spatial rank), else `count` copies of `fill`;
/// throws std::invalid_argument naming `name` when the counts differ.
Ints per_axis(const Ints& values, size_t count, int64_t fill, const char* name);

/// The pad list of at::constant_pad_nd for the trailing spatial axes: last axis first.
Ints pad_list(const Ints& begin, const Ints& end);

bool all_zero(const Ints& v);

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

/// Attributes of a sliding window as written on the node.
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  Ints kernel_shape, strides, dilations, pads;
  bool ceil_mode = false;
};

/// Parses auto_pad, kernel_shape, strides, dilations, pads and ceil_mode, checking their
/// values and that they agree on the number of axes.
Result<WindowAttrs> parse_window_attrs(const Node& node);

/// A window resolved against an input's spatial sizes.
struct Window {
  Ints kernel, strides, dilations, pad_begin, pad_end, out;
  int64_t effective(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
  /// End padding that makes the last window end exactly at the padded input's end (negative: crop).
  int64_t exact_end(size_t i, int64_t in) const { return (out[i] - 1) * strides[i] + effective(i) - in - pad_begin[i]; }
};

/// Resolves strides, dilations and pads (explicit or auto) for a convolution-like window
/// of size `w->kernel` over `in`.
void resolve_pads(const WindowAttrs& a, const Ints& in, Window* w);

}  // namespace ak::models::nn
