// Resampling: Resize and Upsample (at::upsample_* where ATen's coordinate mapping is
// ONNX's, separable taps otherwise), GridSample and RoiAlign.

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
      throw std::invalid_argument("Resize sizes " + bracketed(sizes_in) + " has " + std::to_string(sizes_in.size()) +
                                  " values for " + std::to_string(na) + " axes");
    if (a.aspect == AspectPolicy::kStretch) {
      for (size_t j = 0; j < na; ++j) {
        const size_t ax = static_cast<size_t>(axes[j]);
        if (sizes_in[j] < 0) throw std::invalid_argument("Resize sizes " + bracketed(sizes_in) + " must not be negative");
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

}  // namespace

void register_resize_ops(OpRegistry& r) {
  for (int since : {10, 11, 13, 18, 19}) r.add("Resize", since, make_resize);
  for (int since : {7, 9}) r.add("Upsample", since, make_resize);
  for (int since : {16, 20}) r.add("GridSample", since, make_grid_sample);
  for (int since : {10, 16}) r.add("RoiAlign", since, make_roi_align);
}

}  // namespace ak::models
