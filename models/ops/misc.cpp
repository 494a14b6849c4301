// Ops that fit no larger family: quantization, signal processing (DFT, STFT, windows,
// mel filters), random generators, NonMaxSuppression, text ops (StringNormalizer,
// TfIdfVectorizer) and the ai.onnx.preview.training optimizers.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>

#include "models/aten_interop.h"
#include "models/ops/op_kernel.h"

namespace ak::models {
namespace {

constexpr double kPi = 3.14159265358979323846;

bool omitted(const Node& node, size_t i) { return i >= node.inputs.size() || node.inputs[i].empty(); }

/// The one value of a scalar (or single-element) shape-like input.
int64_t scalar_int(OpContext& ctx, size_t i, const char* what) {
  auto v = ctx.input_ints(i);
  if (v.size() != 1) throw std::invalid_argument(std::string(what) + " must hold one value, has " + std::to_string(v.size()));
  return v[0];
}

bool is_float_type(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

/// The ATen type a computation on `t` runs in: fft and the samplers want float/double.
at::ScalarType compute_type(at::ScalarType t) { return t == at::kDouble ? at::kDouble : at::kFloat; }

// ---------------------------------------------------------------------------------------
// Quantization

/// Saturation range of a quantized type as held in ATen (uint16 lives in int32).
std::pair<double, double> quant_range(at::ScalarType t) {
  switch (t) {
    case at::kByte: return {0, 255};
    case at::kChar: return {-128, 127};
    case at::kShort: return {-32768, 32767};
    case at::kInt: return {0, 65535};
    default: throw std::invalid_argument("unsupported quantized dtype " + dtype_name(from_scalar_type(t)));
  }
}

/// `scale` (or a zero point) shaped to broadcast against `x` along `axis` when it is
/// 1-D (per-axis quantization); scalars pass through.
at::Tensor per_axis(const at::Tensor& p, const at::Tensor& x, int64_t axis) {
  if (p.dim() == 0 || (p.dim() == 1 && p.numel() == 1)) return p.reshape({});
  if (p.dim() != 1)
    throw std::invalid_argument("scale / zero point must be a scalar or 1-D, has rank " + std::to_string(p.dim()));
  const int64_t a = op_util::normalize_axis(axis, x.dim());
  if (p.size(0) != x.size(a))
    throw std::invalid_argument("per-axis scale has " + std::to_string(p.size(0)) + " values, axis " +
                                std::to_string(a) + " has " + std::to_string(x.size(a)));
  std::vector<int64_t> shape(x.dim(), 1);
  shape[a] = p.size(0);
  return p.reshape(shape);
}

Result<KernelPtr> make_quantize_linear(const OpBuildInfo& info) {
  const Node& n = info.node;
  const int64_t axis = info.opset >= 13 ? n.attr_int("axis", 1) : 1;
  if (n.attr_int("block_size", 0) != 0) return unsupported("QuantizeLinear with block_size (blocked quantization)");
  std::optional<at::ScalarType> out_type;
  if (n.has_attribute("output_dtype") && n.attr_int("output_dtype", 0) != 0) {
    const auto d = static_cast<DType>(n.attr_int("output_dtype", 0));
    if (d != DType::kUInt8 && d != DType::kInt8 && d != DType::kInt16 && d != DType::kUInt16)
      return unsupported("QuantizeLinear to " + dtype_name(d));
    out_type = *to_scalar_type(d);
  }
  const bool has_zp = !omitted(n, 2);
  return make_kernel([axis, out_type, has_zp](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    at::Tensor scale = per_axis(ctx.input(1), x, axis).to(at::kFloat);
    at::ScalarType type = out_type.value_or(at::kByte);
    at::Tensor y = at::round(x.to(at::kFloat) / scale);
    if (has_zp) {
      const at::Tensor& zp = ctx.input(2);
      type = zp.scalar_type();
      y = y + per_axis(zp, x, axis).to(at::kFloat);
    }
    auto [lo, hi] = quant_range(type);
    ctx.set_output(0, y.clamp(lo, hi).to(type));
  });
}

Result<KernelPtr> make_dequantize_linear(const OpBuildInfo& info) {
  const int64_t axis = info.opset >= 13 ? info.node.attr_int("axis", 1) : 1;
  if (info.node.attr_int("block_size", 0) != 0) return unsupported("DequantizeLinear with block_size (blocked quantization)");
  const bool has_zp = !omitted(info.node, 2);
  return make_kernel([axis, has_zp](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const at::Tensor& scale_in = ctx.input(1);
    // x - zero_point is exact in int64; only the product with the scale rounds.
    at::Tensor diff = x.to(at::kLong);
    if (has_zp) diff = diff - per_axis(ctx.input(2), x, axis).to(at::kLong);
    at::Tensor scale = per_axis(scale_in, x, axis);
    const at::ScalarType type = compute_type(scale.scalar_type());
    ctx.set_output(0, (diff.to(type) * scale.to(type)).to(scale_in.scalar_type()));
  });
}

void dynamic_quantize_linear(OpContext& ctx) {
  const at::Tensor& x_in = ctx.input(0);
  if (x_in.numel() == 0) throw std::invalid_argument("DynamicQuantizeLinear of an empty tensor");
  at::Tensor x = x_in.to(at::kFloat);
  // The range always includes 0 so that 0 is exactly representable.
  at::Tensor lo = at::clamp_max(x.min(), 0.0);
  at::Tensor hi = at::clamp_min(x.max(), 0.0);
  at::Tensor scale = (hi - lo) / 255.0;
  // An all-zero input has scale 0; quantize everything to the zero point 0 then.
  at::Tensor safe = at::where(scale == 0, at::ones_like(scale), scale);
  at::Tensor zp = at::round(-lo / safe).clamp(0, 255);
  at::Tensor y = (at::round(x / safe) + zp).clamp(0, 255);
  ctx.set_output(0, y.to(at::kByte));
  ctx.set_output(1, scale);
  ctx.set_output(2, zp.to(at::kByte));
}

void qlinear_matmul(OpContext& ctx) {
  const at::Tensor& a = ctx.input(0);
  const at::Tensor& b = ctx.input(3);
  // Row-wise parameters of `a` ([M]) apply along its second-to-last axis.
  auto rows = [](const at::Tensor& p) { return p.dim() == 1 && p.numel() > 1 ? p.unsqueeze(-1) : p; };
  // Double holds every int32 accumulator exactly and has a device matmul (integer gemm
  // has none on CUDA).
  at::Tensor af = a.to(at::kDouble) - rows(ctx.input(2)).to(at::kDouble);
  at::Tensor bf = b.to(at::kDouble) - ctx.input(5).to(at::kDouble);
  at::Tensor acc = at::matmul(af, bf);
  at::Tensor multiplier = rows(ctx.input(1)).to(at::kFloat) * ctx.input(4).to(at::kFloat) / ctx.input(6).to(at::kFloat);
  const at::Tensor& yzp = ctx.input(7);
  at::Tensor y = at::round(acc.to(at::kFloat) * multiplier) + yzp.to(at::kFloat);
  auto [lo, hi] = quant_range(yzp.scalar_type());
  ctx.set_output(0, y.clamp(lo, hi).to(yzp.scalar_type()));
}

// ---------------------------------------------------------------------------------------
// Signal processing

/// The complex signal of an ONNX "real or complex" tensor: trailing dim 1 (real, returned
/// as a real tensor) or 2 (real, imaginary).
at::Tensor as_signal(const at::Tensor& x) {
  if (x.dim() < 1 || (x.size(-1) != 1 && x.size(-1) != 2))
    throw std::invalid_argument("signal's last dimension must be 1 (real) or 2 (complex), shape is " +
                                shape_string(std::vector<int64_t>(x.sizes().begin(), x.sizes().end())));
  at::Tensor t = x.to(compute_type(x.scalar_type()));
  if (t.size(-1) == 1) return t.squeeze(-1);
  return at::view_as_complex(t.contiguous());
}

at::Tensor fft_along(const at::Tensor& signal, int64_t n, int64_t dim, bool inverse, bool onesided) {
  if (onesided) {
    if (signal.is_complex()) throw std::invalid_argument("a one-sided DFT needs a real signal");
    return at::fft_rfft(signal, n, dim, "backward");
  }
  if (inverse) return at::fft_ifft(signal, n, dim, "backward");
  return at::fft_fft(signal, n, dim, "backward");
}

Result<KernelPtr> make_dft(const OpBuildInfo& info) {
  const bool inverse = info.node.attr_int("inverse", 0) != 0;
  const bool onesided = info.node.attr_int("onesided", 0) != 0;
  if (inverse && onesided) return unsupported("DFT with both inverse and onesided");
  // Opset 20 moved the axis to an input whose default is the last signal axis.
  const bool axis_input = info.opset >= 20;
  const int64_t axis_attr = axis_input ? -2 : info.node.attr_int("axis", 1);
  return make_kernel([=](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const int64_t r = x.dim();
    int64_t axis = axis_input && ctx.has_input(2) ? scalar_int(ctx, 2, "DFT axis") : axis_attr;
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r - 2)
      throw std::invalid_argument("DFT axis is out of range for an input of rank " + std::to_string(r));
    at::Tensor signal = as_signal(x);
    const int64_t n = ctx.has_input(1) ? scalar_int(ctx, 1, "DFT dft_length") : signal.size(axis);
    if (n < 1) throw std::invalid_argument("DFT length must be positive, got " + std::to_string(n));
    at::Tensor y = fft_along(signal, n, axis, inverse, onesided);
    ctx.set_output(0, at::view_as_real(y).to(x.scalar_type()));
  });
}

Result<KernelPtr> make_stft(const OpBuildInfo& info) {
  const bool onesided = info.node.attr_int("onesided", 1) != 0;
  return make_kernel([onesided](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (x.dim() != 3) throw std::invalid_argument("STFT signal must be [batch, length, 1 or 2], has rank " + std::to_string(x.dim()));
    const int64_t step = scalar_int(ctx, 1, "STFT frame_step");
    if (step < 1) throw std::invalid_argument("STFT frame_step must be positive");
    at::Tensor window;
    int64_t frame_length = -1;
    if (ctx.has_input(2)) {
      window = ctx.input(2);
      if (window.dim() != 1) throw std::invalid_argument("STFT window must be 1-D");
      frame_length = window.size(0);
    }
    if (ctx.has_input(3)) {
      const int64_t fl = scalar_int(ctx, 3, "STFT frame_length");
      if (frame_length >= 0 && fl != frame_length)
        throw std::invalid_argument("STFT frame_length " + std::to_string(fl) + " differs from the window length " +
                                    std::to_string(frame_length));
      frame_length = fl;
    }
    if (frame_length < 1) throw std::invalid_argument("STFT needs a window or a positive frame_length");
    at::Tensor signal = as_signal(x);
    if (signal.size(1) < frame_length)
      throw std::invalid_argument("STFT signal of length " + std::to_string(signal.size(1)) +
                                  " is shorter than one frame (" + std::to_string(frame_length) + ")");
    at::Tensor frames = signal.unfold(1, frame_length, step);  // [batch, frames, frame_length]
    if (window.defined()) frames = frames * window.to(compute_type(x.scalar_type()));
    at::Tensor y = fft_along(frames, frame_length, -1, false, onesided);
    ctx.set_output(0, at::view_as_real(y).to(x.scalar_type()));
  });
}

enum class WindowKind { kHann, kHamming, kBlackman };

Result<KernelPtr> make_window(const OpBuildInfo& info, WindowKind kind) {
  const bool periodic = info.node.attr_int("periodic", 1) != 0;
  const auto out_dtype = static_cast<DType>(info.node.attr_int("output_datatype", 1));
  auto out_type = to_scalar_type(out_dtype);
  if (!out_type) return out_type.status();
  const at::ScalarType type = *out_type;
  return make_kernel([periodic, kind, type](OpContext& ctx) {
    const int64_t size = scalar_int(ctx, 0, "window size");
    if (size < 0) throw std::invalid_argument("window size must not be negative, got " + std::to_string(size));
    const double n_div = static_cast<double>(periodic ? size : size - 1);
    at::Tensor n = at::arange(size, ctx.options().dtype(at::kDouble));
    at::Tensor w;
    if (size == 1 && !periodic) {
      w = at::ones({1}, ctx.options().dtype(at::kDouble));  // a one-point symmetric window has no period
    } else {
      at::Tensor phase = n * (2.0 * kPi / n_div);
      switch (kind) {
        case WindowKind::kHann: w = 0.5 - 0.5 * at::cos(phase); break;
        case WindowKind::kHamming: w = 25.0 / 46.0 - (21.0 / 46.0) * at::cos(phase); break;
        case WindowKind::kBlackman: w = 0.42 - 0.5 * at::cos(phase) + 0.08 * at::cos(2.0 * phase); break;
      }
    }
    ctx.set_output(0, w.to(type));
  });
}

Result<KernelPtr> make_mel_weight_matrix(const OpBuildInfo& info) {
  auto out_type = to_scalar_type(static_cast<DType>(info.node.attr_int("output_datatype", 1)));
  if (!out_type) return out_type.status();
  const at::ScalarType type = *out_type;
  return make_kernel([type](OpContext& ctx) {
    const int64_t mel_bins = scalar_int(ctx, 0, "num_mel_bins");
    const int64_t dft_length = scalar_int(ctx, 1, "dft_length");
    const int64_t sample_rate = scalar_int(ctx, 2, "sample_rate");
    const double lower_hz = ctx.input_double(3);
    const double upper_hz = ctx.input_double(4);
    if (mel_bins < 1 || dft_length < 1 || sample_rate < 1)
      throw std::invalid_argument("MelWeightMatrix needs positive num_mel_bins, dft_length and sample_rate");
    if (lower_hz < 0 || upper_hz < lower_hz)
      throw std::invalid_argument("MelWeightMatrix needs 0 <= lower_edge_hertz <= upper_edge_hertz");
    const int64_t spectrogram_bins = dft_length / 2 + 1;
    auto hz_to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
    const double low_mel = hz_to_mel(lower_hz), high_mel = hz_to_mel(upper_hz);
    // ONNX divides the mel range by the number of points (mel_bins + 2), not by the number
    // of gaps, so the last edge falls short of upper_edge_hertz; the reference data agrees.
    const double mel_step = (high_mel - low_mel) / static_cast<double>(mel_bins + 2);
    // Band edges as DFT bin indices: mel_bins + 2 points spaced evenly on the mel scale.
    std::vector<int64_t> edges(mel_bins + 2);
    for (int64_t i = 0; i < mel_bins + 2; ++i) {
      const double hz = 700.0 * (std::pow(10.0, (static_cast<double>(i) * mel_step + low_mel) / 2595.0) - 1.0);
      edges[i] = static_cast<int64_t>(std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate)));
    }
    at::Tensor out = at::zeros({spectrogram_bins, mel_bins}, at::kFloat);
    float* p = out.data_ptr<float>();
    auto put = [&](int64_t row, int64_t col, double v) {
      if (row >= 0 && row < spectrogram_bins) p[row * mel_bins + col] = static_cast<float>(v);
    };
    for (int64_t i = 0; i < mel_bins; ++i) {
      const int64_t lo = edges[i], center = edges[i + 1], hi = edges[i + 2];
      if (center == lo) put(center, i, 1.0);
      else
        for (int64_t j = lo; j <= center; ++j) put(j, i, static_cast<double>(j - lo) / static_cast<double>(center - lo));
      if (hi > center)
        for (int64_t j = center; j < hi; ++j) put(j, i, static_cast<double>(hi - j) / static_cast<double>(hi - center));
    }
    ctx.set_output(0, out.to(ctx.device()).to(type));
  });
}

// ---------------------------------------------------------------------------------------
// Random

/// A sampler's `seed`: given, every run draws the same values (from a fresh CPU generator,
/// uploaded); absent, draws come from the device's default generator.
struct Seed {
  bool given = false;
  uint64_t value = 0;

  static Seed of(const Node& node) {
    Seed s;
    if (const Attribute* a = node.find_attribute("seed")) {
      s.given = true;
      const float f = a->type == Attribute::Type::kInt ? static_cast<float>(a->i) : a->f;
      uint32_t bits = 0;
      std::memcpy(&bits, &f, sizeof bits);
      s.value = bits;
    }
    return s;
  }

  at::Tensor uniform(at::IntArrayRef shape, at::ScalarType type, double lo, double hi, const at::Device& device) const {
    if (!given) return at::empty(shape, at::TensorOptions().dtype(type).device(device)).uniform_(lo, hi);
    at::Generator gen = at::detail::createCPUGenerator(value);
    return at::empty(shape, at::TensorOptions().dtype(type)).uniform_(lo, hi, gen).to(device);
  }

  at::Tensor normal(at::IntArrayRef shape, at::ScalarType type, double mean, double stddev, const at::Device& device) const {
    if (!given) return at::empty(shape, at::TensorOptions().dtype(type).device(device)).normal_(mean, stddev);
    at::Generator gen = at::detail::createCPUGenerator(value);
    return at::empty(shape, at::TensorOptions().dtype(type)).normal_(mean, stddev, gen).to(device);
  }
};

Result<at::ScalarType> float_dtype_attr(const Node& node, std::optional<at::ScalarType> fallback) {
  if (!node.has_attribute("dtype")) {
    if (fallback) return *fallback;
    return at::kFloat;
  }
  auto st = to_scalar_type(static_cast<DType>(node.attr_int("dtype", 1)));
  if (!st) return st.status();
  return *st;
}

Result<KernelPtr> make_random(const OpBuildInfo& info, bool normal, bool like) {
  const Node& n = info.node;
  const Seed seed = Seed::of(n);
  const double a = normal ? n.attr_float("mean", 0.0f) : n.attr_float("low", 0.0f);
  const double b = normal ? n.attr_float("scale", 1.0f) : n.attr_float("high", 1.0f);
  std::optional<at::ScalarType> type;
  if (n.has_attribute("dtype") || !like) {
    AK_ASSIGN_OR_RETURN(at::ScalarType t, float_dtype_attr(n, std::nullopt));
    if (!is_float_type(t)) return unsupported(n.op_type + " to dtype " + dtype_name(from_scalar_type(t)));
    type = t;
  }
  std::vector<int64_t> shape;
  if (!like) {
    if (!n.has_attribute("shape")) return invalid_input(n.op_type + " needs the shape attribute");
    shape = n.attr_ints("shape");
  }
  return make_kernel([=](OpContext& ctx) {
    std::vector<int64_t> dims = shape;
    at::ScalarType out = type.value_or(at::kFloat);
    if (like) {
      const at::Tensor& x = ctx.input(0);
      dims.assign(x.sizes().begin(), x.sizes().end());
      if (!type) {
        out = x.scalar_type();
        if (!is_float_type(out))
          throw std::invalid_argument(n.op_type + " of a " + dtype_name(from_scalar_type(out)) + " input needs a dtype attribute");
      }
    }
    const at::ScalarType work = compute_type(out);
    at::Tensor y = normal ? seed.normal(dims, work, a, b, ctx.device()) : seed.uniform(dims, work, a, b, ctx.device());
    ctx.set_output(0, y.to(out));
  });
}

Result<KernelPtr> make_bernoulli(const OpBuildInfo& info) {
  const Seed seed = Seed::of(info.node);
  std::optional<at::ScalarType> type;
  if (info.node.has_attribute("dtype")) {
    auto st = to_scalar_type(static_cast<DType>(info.node.attr_int("dtype", 1)));
    if (!st) return st.status();
    type = *st;
  }
  return make_kernel([seed, type](OpContext& ctx) {
    const at::Tensor& p = ctx.input(0);
    // u < p with u ~ U[0, 1) is a Bernoulli(p) draw; drawing u (not p) on the host keeps a
    // seeded run free of device reads.
    const at::ScalarType work = compute_type(p.scalar_type());
    at::Tensor u = seed.uniform(p.sizes(), work, 0.0, 1.0, ctx.device());
    ctx.set_output(0, at::lt(u, p.to(work)).to(type.value_or(p.scalar_type())));
  });
}

// ---------------------------------------------------------------------------------------
// NonMaxSuppression

Result<KernelPtr> make_non_max_suppression(const OpBuildInfo& info) {
  const bool center_box = info.node.attr_int("center_point_box", 0) != 0;
  return make_kernel([center_box](OpContext& ctx) {
    // The output's length depends on the data: the selection runs on the host.
    at::Tensor boxes = ctx.host_input(0).to(at::kFloat).contiguous();
    at::Tensor scores = ctx.host_input(1).to(at::kFloat).contiguous();
    if (boxes.dim() != 3 || boxes.size(2) != 4) throw std::invalid_argument("NonMaxSuppression boxes must be [batch, boxes, 4]");
    if (scores.dim() != 3 || scores.size(0) != boxes.size(0) || scores.size(2) != boxes.size(1))
      throw std::invalid_argument("NonMaxSuppression scores must be [batch, classes, boxes] matching the boxes");
    const int64_t max_out = ctx.has_input(2) ? scalar_int(ctx, 2, "max_output_boxes_per_class") : 0;
    const double iou_threshold = ctx.has_input(3) ? ctx.input_double(3) : 0.0;
    const bool has_score_threshold = ctx.has_input(4);
    const double score_threshold = has_score_threshold ? ctx.input_double(4) : 0.0;
    const int64_t batches = boxes.size(0), classes = scores.size(1), count = boxes.size(1);
    const float* bp = boxes.data_ptr<float>();
    const float* sp = scores.data_ptr<float>();

    struct Corners {
      float y1, x1, y2, x2, area;
    };
    std::vector<Corners> corners(count);
    std::vector<int64_t> selected_rows;
    std::vector<int64_t> order, kept;
    for (int64_t b = 0; b < batches; ++b) {
      for (int64_t i = 0; i < count; ++i) {
        const float* q = bp + (b * count + i) * 4;
        Corners c{};
        if (center_box) {
          c = {q[1] - q[3] / 2, q[0] - q[2] / 2, q[1] + q[3] / 2, q[0] + q[2] / 2, 0};
        } else {
          // Corners may come in either order; normalize so that (y1, x1) is the minimum.
          c = {std::min(q[0], q[2]), std::min(q[1], q[3]), std::max(q[0], q[2]), std::max(q[1], q[3]), 0};
        }
        c.area = (c.y2 - c.y1) * (c.x2 - c.x1);
        corners[i] = c;
      }
      auto iou = [&](int64_t i, int64_t j) {
        const Corners &a = corners[i], &c = corners[j];
        const float ih = std::min(a.y2, c.y2) - std::max(a.y1, c.y1);
        const float iw = std::min(a.x2, c.x2) - std::max(a.x1, c.x1);
        if (ih <= 0 || iw <= 0) return 0.0f;
        const float inter = ih * iw;
        const float uni = a.area + c.area - inter;
        return uni > 0 ? inter / uni : 0.0f;
      };
      for (int64_t cl = 0; cl < classes && max_out > 0; ++cl) {
        const float* s = sp + (b * classes + cl) * count;
        order.clear();
        for (int64_t i = 0; i < count; ++i)
          if (!has_score_threshold || s[i] > score_threshold) order.push_back(i);
        std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return s[i] > s[j]; });
        kept.clear();
        for (int64_t i : order) {
          if (static_cast<int64_t>(kept.size()) >= max_out) break;
          bool suppressed = false;
          for (int64_t k : kept)
            if (iou(i, k) > iou_threshold) {
              suppressed = true;
              break;
            }
          if (!suppressed) kept.push_back(i);
        }
        for (int64_t k : kept) selected_rows.insert(selected_rows.end(), {b, cl, k});
      }
    }
    const int64_t rows = static_cast<int64_t>(selected_rows.size() / 3);
    at::Tensor out = at::empty({rows, 3}, at::kLong);
    if (rows > 0) std::memcpy(out.data_ptr<int64_t>(), selected_rows.data(), selected_rows.size() * sizeof(int64_t));
    ctx.set_output(0, out.to(ctx.device()));
  });
}

// ---------------------------------------------------------------------------------------
// Text

/// Case mapping of one code point for the scripts with simple one-to-one case pairs:
/// ASCII, Latin-1, Greek and Cyrillic. Others are returned unchanged.
char32_t map_case(char32_t c, bool upper) {
  if (upper) {
    if ((c >= U'a' && c <= U'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) ||
        (c >= 0x430 && c <= 0x44F))
      return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
    return c;
  }
  if ((c >= U'A' && c <= U'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) ||
      (c >= 0x410 && c <= 0x42F))
    return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

/// Changes the case of a UTF-8 string; bytes that are not valid UTF-8 pass through.
std::string change_case(const std::string& s, bool upper) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      out += s[i++];
      continue;
    }
    char32_t c = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    bool valid = true;
    for (int k = 1; k < len; ++k) {
      const auto bk = static_cast<unsigned char>(s[i + k]);
      if ((bk & 0xC0) != 0x80) valid = false;
      c = (c << 6) | (bk & 0x3F);
    }
    if (!valid) {
      out += s[i++];
      continue;
    }
    // Every mapped pair lies within the 2-byte range, so only those are re-encoded.
    const char32_t m = map_case(c, upper);
    if (m == c) {
      out.append(s, i, len);
    } else if (m < 0x80) {
      out += static_cast<char>(m);
    } else {
      out += static_cast<char>(0xC0 | (m >> 6));
      out += static_cast<char>(0x80 | (m & 0x3F));
    }
    i += len;
  }
  return out;
}

Result<KernelPtr> make_string_normalizer(const OpBuildInfo& info) {
  const Node& n = info.node;
  const std::string action = n.attr_string("case_change_action", "NONE");
  if (action != "NONE" && action != "LOWER" && action != "UPPER")
    return invalid_input("StringNormalizer case_change_action must be NONE, LOWER or UPPER, got '" + action + "'");
  const bool case_sensitive = n.attr_int("is_case_sensitive", 0) != 0;
  std::vector<std::string> stop_list;
  if (const Attribute* a = n.find_attribute("stopwords")) stop_list = a->strings;
  std::set<std::string> stopwords;
  for (const auto& w : stop_list) stopwords.insert(case_sensitive ? w : change_case(w, false));
  return make_kernel([action, case_sensitive, stopwords](OpContext& ctx) {
    if (!ctx.has_input(0) || ctx.input_value(0).kind != Value::Kind::kStrings)
      throw std::invalid_argument("StringNormalizer input must be a string tensor");
    const Value& in = ctx.input_value(0);
    const auto& dims = in.string_dims;
    const bool two_d = dims.size() == 2;
    if (!(dims.size() == 1 || (two_d && dims[0] == 1)))
      throw std::invalid_argument("StringNormalizer input must be [C] or [1, C], got " + shape_string(dims));
    std::vector<std::string> kept;
    for (const auto& s : in.strings) {
      if (!stopwords.empty() && stopwords.count(case_sensitive ? s : change_case(s, false))) continue;
      if (action == "LOWER") kept.push_back(change_case(s, false));
      else if (action == "UPPER") kept.push_back(change_case(s, true));
      else kept.push_back(s);
    }
    // Everything filtered: ONNX keeps one empty string so the output is never empty.
    if (kept.empty()) kept.emplace_back();
    if (!ctx.has_output(0)) return;
    Value& out = ctx.output_value(0);
    out.reset();
    out.kind = Value::Kind::kStrings;
    const int64_t c = static_cast<int64_t>(kept.size());
    out.string_dims = two_d ? std::vector<int64_t>{1, c} : std::vector<int64_t>{c};
    out.strings = std::move(kept);
  });
}

/// TfIdfVectorizer's pool: every n-gram of the pool with its position (the index into
/// ngram_indexes and weights).
template <typename T>
struct NgramPool {
  std::map<std::vector<T>, size_t> index;
};

struct TfIdfSpec {
  int64_t min_n = 1, max_n = 1, max_skip = 0;
  enum class Mode { kTf, kIdf, kTfIdf } mode = Mode::kTf;
  std::vector<int64_t> ngram_indexes;
  std::vector<float> weights;
  int64_t outputs = 0;
  bool strings = false;
  NgramPool<int64_t> int_pool;
  NgramPool<std::string> string_pool;
};

template <typename T>
Status build_pool(const std::vector<T>& pool, const std::vector<int64_t>& counts, NgramPool<T>* out) {
  size_t k = 0;
  for (size_t g = 0; g < counts.size(); ++g) {
    const int64_t n = static_cast<int64_t>(g) + 1;
    const int64_t start = counts[g];
    const int64_t end = g + 1 < counts.size() ? counts[g + 1] : static_cast<int64_t>(pool.size());
    if (start < 0 || end < start || end > static_cast<int64_t>(pool.size()) || (end - start) % n != 0)
      return invalid_input("TfIdfVectorizer ngram_counts do not partition the pool into " + std::to_string(n) + "-grams");
    for (int64_t p = start; p < end; p += n) out->index.emplace(std::vector<T>(pool.begin() + p, pool.begin() + p + n), k++);
  }
  return Status::ok();
}

template <typename T>
void count_ngrams(const TfIdfSpec& spec, const NgramPool<T>& pool, const T* row, int64_t length, float* out) {
  std::vector<int64_t> counts(spec.ngram_indexes.size(), 0);
  std::vector<T> key;
  for (int64_t start = 0; start < length; ++start) {
    for (int64_t n = spec.min_n; n <= spec.max_n; ++n) {
      // A unigram has no gaps to skip: count it once, not once per skip distance.
      const int64_t skips = n == 1 ? 0 : spec.max_skip;
      for (int64_t skip = 0; skip <= skips; ++skip) {
        const int64_t stride = skip + 1;
        if (start + (n - 1) * stride >= length) break;
        key.clear();
        for (int64_t k = 0; k < n; ++k) key.push_back(row[start + k * stride]);
        auto it = pool.index.find(key);
        if (it != pool.index.end()) ++counts[it->second];
      }
    }
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    const float w = spec.weights.empty() ? 1.0f : spec.weights[i];
    float v = 0;
    switch (spec.mode) {
      case TfIdfSpec::Mode::kTf: v = static_cast<float>(counts[i]); break;
      case TfIdfSpec::Mode::kIdf: v = w; break;
      case TfIdfSpec::Mode::kTfIdf: v = static_cast<float>(counts[i]) * w; break;
    }
    out[spec.ngram_indexes[i]] = v;
  }
}

Result<KernelPtr> make_tfidf_vectorizer(const OpBuildInfo& info) {
  const Node& n = info.node;
  auto spec = std::make_shared<TfIdfSpec>();
  spec->min_n = n.attr_int("min_gram_length", 1);
  spec->max_n = n.attr_int("max_gram_length", 1);
  spec->max_skip = n.attr_int("max_skip_count", 0);
  if (spec->min_n < 1 || spec->max_n < spec->min_n || spec->max_skip < 0)
    return invalid_input("TfIdfVectorizer needs 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0");
  const std::string mode = n.attr_string("mode", "");
  if (mode == "TF") spec->mode = TfIdfSpec::Mode::kTf;
  else if (mode == "IDF") spec->mode = TfIdfSpec::Mode::kIdf;
  else if (mode == "TFIDF") spec->mode = TfIdfSpec::Mode::kTfIdf;
  else return invalid_input("TfIdfVectorizer mode must be TF, IDF or TFIDF, got '" + mode + "'");
  const std::vector<int64_t> counts = n.attr_ints("ngram_counts");
  spec->ngram_indexes = n.attr_ints("ngram_indexes");
  spec->weights = n.attr_floats("weights");
  const Attribute* strings = n.find_attribute("pool_strings");
  spec->strings = strings != nullptr && !strings->strings.empty();
  size_t pool_ngrams = 0;
  if (spec->strings) {
    AK_RETURN_IF_ERROR(build_pool(strings->strings, counts, &spec->string_pool));
    pool_ngrams = spec->string_pool.index.size();
  } else {
    AK_RETURN_IF_ERROR(build_pool(n.attr_ints("pool_int64s"), counts, &spec->int_pool));
    pool_ngrams = spec->int_pool.index.size();
  }
  if (spec->ngram_indexes.size() != pool_ngrams)
    return invalid_input("TfIdfVectorizer has " + std::to_string(spec->ngram_indexes.size()) + " ngram_indexes for " +
                         std::to_string(pool_ngrams) + " pool n-grams");
  if (!spec->weights.empty() && spec->weights.size() != pool_ngrams)
    return invalid_input("TfIdfVectorizer has " + std::to_string(spec->weights.size()) + " weights for " +
                         std::to_string(pool_ngrams) + " pool n-grams");
  for (int64_t i : spec->ngram_indexes) {
    if (i < 0) return invalid_input("TfIdfVectorizer ngram_indexes must not be negative");
    spec->outputs = std::max(spec->outputs, i + 1);
  }
  return make_kernel([spec](OpContext& ctx) {
    std::vector<int64_t> dims;
    at::Tensor ints;
    const Value& in = ctx.input_value(0);
    if (spec->strings) {
      if (in.kind != Value::Kind::kStrings) throw std::invalid_argument("TfIdfVectorizer with pool_strings needs a string input");
      dims = in.string_dims;
    } else {
      ints = ctx.host_input(0).to(at::kLong).contiguous();
      dims.assign(ints.sizes().begin(), ints.sizes().end());
    }
    if (dims.empty() || dims.size() > 2) throw std::invalid_argument("TfIdfVectorizer input must be [C] or [N, C]");
    const int64_t rows = dims.size() == 2 ? dims[0] : 1;
    const int64_t length = dims.back();
    at::Tensor out = at::zeros(dims.size() == 2 ? std::vector<int64_t>{rows, spec->outputs} : std::vector<int64_t>{spec->outputs}, at::kFloat);
    float* o = out.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r) {
      if (spec->strings) count_ngrams(*spec, spec->string_pool, in.strings.data() + r * length, length, o + r * spec->outputs);
      else count_ngrams(*spec, spec->int_pool, ints.data_ptr<int64_t>() + r * length, length, o + r * spec->outputs);
    }
    ctx.set_output(0, out.to(ctx.device()));
  });
}

// ---------------------------------------------------------------------------------------
// ai.onnx.preview.training optimizers. Inputs: R (learning rate), T (update count), then
// one group per state kind, each holding one tensor per optimized tensor.

/// How many tensors an optimizer node updates, from its input count.
Result<size_t> optimized_tensors(const OpBuildInfo& info, size_t groups) {
  const size_t in = info.node.inputs.size();
  if (in < 2 + groups || (in - 2) % groups != 0)
    return invalid_input(info.op() + " takes R, T and " + std::to_string(groups) + " equally long groups of tensors, got " +
                         std::to_string(in) + " inputs");
  return (in - 2) / groups;
}

Result<KernelPtr> make_adagrad(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(size_t count, optimized_tensors(info, 3));
  const double decay = info.node.attr_float("decay_factor", 0.0f);
  const double epsilon = info.node.attr_float("epsilon", 1e-6f);
  const double norm = info.node.attr_float("norm_coefficient", 0.0f);
  return make_kernel([=](OpContext& ctx) {
    const at::Tensor& r = ctx.input(0);
    const at::Tensor& t = ctx.input(1);
    for (size_t i = 0; i < count; ++i) {
      const at::Tensor& x = ctx.input(2 + i);
      const at::Tensor& g = ctx.input(2 + count + i);
      const at::Tensor& h = ctx.input(2 + 2 * count + i);
      at::Tensor rate = (r / (1.0 + t.to(r.scalar_type()) * decay)).to(x.scalar_type());
      at::Tensor g_reg = norm * x + g;
      at::Tensor h_new = h + g_reg * g_reg;
      ctx.set_output(i, x - rate * g_reg / (at::sqrt(h_new) + epsilon));
      ctx.set_output(count + i, h_new);
    }
  });
}

Result<KernelPtr> make_momentum(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(size_t count, optimized_tensors(info, 3));
  const Node& n = info.node;
  for (const char* a : {"alpha", "beta", "mode", "norm_coefficient"})
    if (!n.has_attribute(a)) return invalid_input(std::string("Momentum needs the ") + a + " attribute");
  const double alpha = n.attr_float("alpha", 0.0f), beta = n.attr_float("beta", 0.0f);
  const double norm = n.attr_float("norm_coefficient", 0.0f);
  const std::string mode = n.attr_string("mode", "");
  if (mode != "standard" && mode != "nesterov") return invalid_input("Momentum mode must be standard or nesterov, got '" + mode + "'");
  const bool nesterov = mode == "nesterov";
  return make_kernel([=](OpContext& ctx) {
    const at::Tensor& r = ctx.input(0);
    const at::Tensor& t = ctx.input(1);
    for (size_t i = 0; i < count; ++i) {
      const at::Tensor& x = ctx.input(2 + i);
      const at::Tensor& g = ctx.input(2 + count + i);
      const at::Tensor& v = ctx.input(2 + 2 * count + i);
      // The first update (T == 0) takes the whole gradient: beta applies from then on.
      at::Tensor beta_t = at::where(t > 0, at::scalar_tensor(beta, x.options()), at::scalar_tensor(1.0, x.options()));
      at::Tensor g_reg = norm * x + g;
      at::Tensor v_new = alpha * v + beta_t * g_reg;
      at::Tensor rate = r.to(x.scalar_type());
      ctx.set_output(i, nesterov ? x - rate * (g_reg + alpha * v_new) : x - rate * v_new);
      ctx.set_output(count + i, v_new);
    }
  });
}

Result<KernelPtr> make_adam(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(size_t count, optimized_tensors(info, 4));
  const Node& n = info.node;
  const double alpha = n.attr_float("alpha", 0.9f), beta = n.attr_float("beta", 0.999f);
  const double epsilon = n.attr_float("epsilon", 1e-6f);
  const double norm = n.attr_float("norm_coefficient", 0.0f);
  const double norm_post = n.attr_float("norm_coefficient_post", 0.0f);
  return make_kernel([=](OpContext& ctx) {
    const at::Tensor& r = ctx.input(0);
    const at::Tensor& t = ctx.input(1);
    for (size_t i = 0; i < count; ++i) {
      const at::Tensor& x = ctx.input(2 + i);
      const at::Tensor& g = ctx.input(2 + count + i);
      const at::Tensor& v = ctx.input(2 + 2 * count + i);
      const at::Tensor& h = ctx.input(2 + 3 * count + i);
      at::Tensor g_reg = norm * x + g;
      at::Tensor v_new = alpha * v + (1.0 - alpha) * g_reg;
      at::Tensor h_new = beta * h + (1.0 - beta) * g_reg * g_reg;
      // Bias correction applies from the second update on (T > 0).
      at::Tensor td = t.to(at::kDouble);
      at::Tensor corrected = r.to(at::kDouble) * at::sqrt(1.0 - at::pow(beta, td)) / (1.0 - at::pow(alpha, td));
      at::Tensor rate = at::where(t > 0, corrected, r.to(at::kDouble)).to(x.scalar_type());
      at::Tensor x_new = x - rate * v_new / (at::sqrt(h_new) + epsilon);
      ctx.set_output(i, (1.0 - norm_post) * x_new);
      ctx.set_output(count + i, v_new);
      ctx.set_output(2 * count + i, h_new);
    }
  });
}

}  // namespace

void register_misc_ops(OpRegistry& r) {
  r.add("QuantizeLinear", 10, make_quantize_linear);
  r.add("DequantizeLinear", 10, make_dequantize_linear);
  r.add_simple("DynamicQuantizeLinear", 11, dynamic_quantize_linear);
  r.add_simple("QLinearMatMul", 10, qlinear_matmul);

  r.add("DFT", 17, make_dft);
  r.add("STFT", 17, make_stft);
  r.add("HannWindow", 17, [](const OpBuildInfo& i) { return make_window(i, WindowKind::kHann); });
  r.add("HammingWindow", 17, [](const OpBuildInfo& i) { return make_window(i, WindowKind::kHamming); });
  r.add("BlackmanWindow", 17, [](const OpBuildInfo& i) { return make_window(i, WindowKind::kBlackman); });
  r.add("MelWeightMatrix", 17, make_mel_weight_matrix);

  r.add("RandomUniform", 1, [](const OpBuildInfo& i) { return make_random(i, false, false); });
  r.add("RandomNormal", 1, [](const OpBuildInfo& i) { return make_random(i, true, false); });
  r.add("RandomUniformLike", 1, [](const OpBuildInfo& i) { return make_random(i, false, true); });
  r.add("RandomNormalLike", 1, [](const OpBuildInfo& i) { return make_random(i, true, true); });
  r.add("Bernoulli", 15, make_bernoulli);

  r.add("NonMaxSuppression", 10, make_non_max_suppression);
  r.add("StringNormalizer", 10, make_string_normalizer);
  r.add("TfIdfVectorizer", 9, make_tfidf_vectorizer);

  const std::string training = "ai.onnx.preview.training";
  r.add("Adagrad", 1, make_adagrad, Placement::kDevice, training);
  r.add("Momentum", 1, make_momentum, Placement::kDevice, training);
  r.add("Adam", 1, make_adam, Placement::kDevice, training);
}

}  // namespace ak::models
