// Matrix products (MatMul, Gemm, Einsum, MatMulInteger, Det), normalizations
// (LayerNormalization, GroupNormalization, InstanceNormalization, BatchNormalization,
// MeanVarianceNormalization, LpNormalization, LRN) and the classification losses
// (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss).

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "base/strings.h"
#include "models/aten_interop.h"
#include "models/ops/op_kernel.h"

namespace ak::models {
namespace {

bool is_integral(const at::Tensor& t) { return at::isIntegralType(t.scalar_type(), /*includeBool=*/true); }

/// An exact integer matrix product where cuBLAS has none (integer GEMM on CUDA):
/// broadcast the operands to [..., M, K, N] and sum over K. Memory grows with M*K*N, which
/// is acceptable for the rare integer MatMul on a GPU.
at::Tensor broadcast_matmul(const at::Tensor& a_in, const at::Tensor& b_in) {
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  const at::Tensor a = a_vec ? a_in.unsqueeze(0) : a_in;
  const at::Tensor b = b_vec ? b_in.unsqueeze(1) : b_in;
  at::Tensor y = at::sum(a.unsqueeze(-1) * b.unsqueeze(-3), {-2}, false, a.scalar_type());
  if (b_vec) y = y.squeeze(-1);
  if (a_vec) y = y.squeeze(a_vec && b_vec ? -1 : -2);
  return y;
}

/// Throws std::invalid_argument (bad input) when the operands do not multiply: a symbolic
/// dimension the user set that does not fit the weights is named here, in the shapes,
/// rather than left to ATen's internal error.
void check_inner_dims(const at::Tensor& a, const at::Tensor& b) {
  auto shape = [](const at::Tensor& t) { return "[" + join(std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), ",") + "]"; };
  if (a.dim() == 0 || b.dim() == 0)
    throw std::invalid_argument("MatMul operands must have rank >= 1, got " + shape(a) + " and " + shape(b));
  const int64_t k_a = a.size(-1), k_b = b.dim() == 1 ? b.size(0) : b.size(-2);
  if (k_a != k_b)
    throw std::invalid_argument("MatMul operands " + shape(a) + " and " + shape(b) + " do not multiply (inner dimensions " +
                                std::to_string(k_a) + " and " + std::to_string(k_b) + ")");
}

at::Tensor matrix_product(const at::Tensor& a, const at::Tensor& b) {
  check_inner_dims(a, b);
  if (!a.is_cpu() && is_integral(a)) return broadcast_matmul(a, b);
  // [..., M, K] x [K, N] is one GEMM of [prod(...) * M, K] rows. ATen folds the rows only
  // when its stride test passes, and that test does not skip size-1 dims: a transposed
  // [S, 1, K] activation (ViT's seq-first attention at batch 1) went to a batched GEMV,
  // 16x slower than the GEMM. reshape() is a view where one exists and one copy otherwise.
  if (a.dim() >= 3 && b.dim() == 2) {
    std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
    shape.back() = b.size(1);
    return at::mm(a.reshape({-1, a.size(-1)}), b).view(shape);
  }
  return at::matmul(a, b);
}

/// Gemm (opset 1..13). `broadcast` (before 7) only restricted C's shape, so C is always
/// broadcast; C is optional from opset 11.
Result<KernelPtr> make_gemm(const OpBuildInfo& info) {
  const Node& n = info.node;
  const bool trans_a = n.attr_int("transA", 0) != 0;
  const bool trans_b = n.attr_int("transB", 0) != 0;
  const double alpha = n.attr_float("alpha", 1.0f);
  const double beta = n.attr_float("beta", 1.0f);
  const bool use_c = n.has_input(2) && beta != 0.0;
  return make_kernel([trans_a, trans_b, alpha, beta, use_c](OpContext& ctx) {
    const at::Tensor& a_in = ctx.input(0);
    const at::Tensor& b_in = ctx.input(1);
    if (a_in.dim() != 2 || b_in.dim() != 2)
      throw std::invalid_argument("Gemm needs 2-D A and B, got ranks " + std::to_string(a_in.dim()) + " and " +
                                  std::to_string(b_in.dim()));
    // Transposed views: BLAS reads them as is, nothing is copied.
    const at::Tensor a = trans_a ? a_in.t() : a_in;
    const at::Tensor b = trans_b ? b_in.t() : b_in;
    if (is_integral(a)) {
      at::Tensor y = matrix_product(a, b);
      if (alpha == 1.0 && (!use_c || beta == 1.0)) {
        ctx.set_output(0, use_c ? y + ctx.input(2) : y);
        return;
      }
      at::Tensor f = y.to(at::kDouble).mul_(alpha);
      if (use_c) f.add_(ctx.input(2).to(at::kDouble), beta);
      ctx.set_output(0, f.to(a.scalar_type()));
      return;
    }
    if (!use_c) {
      at::Tensor y = at::mm(a, b);
      ctx.set_output(0, alpha == 1.0 ? y : y.mul_(alpha));
      return;
    }
    at::Tensor c = ctx.input(2);
    // A [1, N] bias as [N] lets cuBLASLt fuse the bias into the GEMM epilogue.
    if (c.dim() == 2 && c.size(0) == 1) c = c.squeeze(0);
    ctx.set_output(0, at::addmm(c, a, b, beta, alpha));
  });
}

/// MatMulInteger (opset 10): (A - a_zero_point) x (B - b_zero_point) in int32.
void run_matmul_integer(OpContext& ctx) {
  at::Tensor a = ctx.input(0).to(at::kInt);
  at::Tensor b = ctx.input(1).to(at::kInt);
  if (ctx.has_input(2)) {
    at::Tensor zp = ctx.input(2).to(at::kInt);
    // A per-row zero point of a [M, K] matrix is an [M] vector; it applies along rows.
    if (zp.dim() == 1 && zp.numel() > 1) zp = zp.unsqueeze(-1);
    a = a - zp;
  }
  if (ctx.has_input(3)) b = b - ctx.input(3).to(at::kInt);
  if (a.is_cpu()) {
    ctx.set_output(0, at::matmul(a, b));
    return;
  }
  // cuBLAS has no general int32 GEMM. The operands are 8-bit differences, so a double
  // product is exact for any K below 2^36.
  ctx.set_output(0, at::matmul(a.to(at::kDouble), b.to(at::kDouble)).to(at::kInt));
}

Result<KernelPtr> make_einsum(const OpBuildInfo& info) {
  std::string equation;
  for (char c : info.node.attr_string("equation", "")) {
    if (c != ' ') equation.push_back(c);
  }
  if (equation.empty()) return invalid_input("Einsum needs an equation");
  return make_kernel([equation](OpContext& ctx) {
    std::vector<at::Tensor> operands;
    operands.reserve(ctx.num_inputs());
    for (size_t i = 0; i < ctx.num_inputs(); ++i) operands.push_back(ctx.input(i));
    ctx.set_output(0, at::einsum(equation, operands));
  });
}

void run_det(OpContext& ctx) {
  const at::Tensor& x = ctx.input(0);
  // LAPACK/cuSOLVER have no half-precision determinant.
  if (x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16) {
    ctx.set_output(0, at::linalg_det(x.to(at::kFloat)).to(x.scalar_type()));
    return;
  }
  ctx.set_output(0, at::linalg_det(x));
}

/// LayerNormalization (opset 17). Mean and InvStdDev come out in stash_type.
Result<KernelPtr> make_layer_norm(const OpBuildInfo& info) {
  const Node& n = info.node;
  const int64_t axis = n.attr_int("axis", -1);
  const double eps = n.attr_float("epsilon", 1e-5f);
  auto stash = to_scalar_type(static_cast<DType>(n.attr_int("stash_type", 1)));
  if (!stash) return unsupported("LayerNormalization stash_type " + std::to_string(n.attr_int("stash_type", 1)));
  const at::ScalarType stash_type = *stash;
  if (!at::isFloatingType(stash_type)) return invalid_input("LayerNormalization stash_type must be a floating type");
  return make_kernel([axis, eps, stash_type](OpContext& ctx) {
    const at::Tensor& x_in = ctx.input(0);
    const int64_t a = op_util::normalize_axis(axis, x_in.dim());
    const at::IntArrayRef normalized = x_in.sizes().slice(static_cast<size_t>(a));
    at::Tensor scale = ctx.input(1);
    at::Tensor bias = ctx.has_input(2) ? ctx.input(2) : at::Tensor();
    if (scale.sizes() != normalized) scale = scale.expand(normalized);
    if (bias.defined() && bias.sizes() != normalized) bias = bias.expand(normalized);
    // Only a wider stash type changes the arithmetic: ATen already accumulates half and
    // bfloat16 in float.
    const bool upcast = stash_type == at::kDouble && x_in.scalar_type() != at::kDouble;
    const at::Tensor x = upcast ? x_in.to(at::kDouble) : x_in;
    if (upcast) {
      scale = scale.to(at::kDouble);
      if (bias.defined()) bias = bias.to(at::kDouble);
    }
    auto [y, mean, rstd] = at::native_layer_norm(x, normalized, scale, bias, eps);
    ctx.set_output(0, upcast ? y.to(x_in.scalar_type()) : y);
    if (ctx.has_output(1)) ctx.set_output(1, mean.to(stash_type));
    if (ctx.has_output(2)) ctx.set_output(2, rstd.to(stash_type));
  });
}

/// GroupNormalization: opset 18 gives scale and bias per group, opset 21 per channel.
OpFactory group_norm_factory(bool per_channel) {
  return [per_channel](const OpBuildInfo& info) -> Result<KernelPtr> {
    const Node& n = info.node;
    if (!n.has_attribute("num_groups")) return invalid_input("GroupNormalization needs attribute num_groups");
    const int64_t groups = n.attr_int("num_groups", 1);
    if (groups <= 0) return invalid_input("GroupNormalization num_groups must be positive, is " + std::to_string(groups));
    const double eps = n.attr_float("epsilon", 1e-5f);
    return make_kernel([per_channel, groups, eps](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      if (x.dim() < 2) throw std::invalid_argument("GroupNormalization needs an input of rank >= 2");
      const int64_t channels = x.size(1);
      if (channels % groups != 0)
        throw std::invalid_argument("GroupNormalization: " + std::to_string(channels) + " channels do not split into " +
                                    std::to_string(groups) + " groups");
      at::Tensor scale = ctx.input(1).reshape({-1});
      at::Tensor bias = ctx.input(2).reshape({-1});
      // Opset 18's per-group parameters; a per-channel one is accepted there too, since
      // exporters wrote those before opset 21 fixed the spec.
      if (!per_channel && scale.numel() == groups && groups != channels) {
        scale = scale.repeat_interleave(channels / groups);
        bias = bias.repeat_interleave(channels / groups);
      }
      if (scale.numel() != channels || bias.numel() != channels)
        throw std::invalid_argument("GroupNormalization scale/bias have " + std::to_string(scale.numel()) + "/" +
                                    std::to_string(bias.numel()) + " elements, expected " +
                                    std::to_string(per_channel ? channels : groups));
      ctx.set_output(0, at::group_norm(x, groups, scale, bias, eps, true));
    });
  };
}

/// InstanceNormalization (opset 1, 6): group normalization with one group per channel.
Result<KernelPtr> make_instance_norm(const OpBuildInfo& info) {
  const double eps = info.node.attr_float("epsilon", 1e-5f);
  return make_kernel([eps](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (x.dim() < 2) throw std::invalid_argument("InstanceNormalization needs an input of rank >= 2");
    ctx.set_output(0, at::group_norm(x, x.size(1), ctx.input(1), ctx.input(2), eps, true));
  });
}

/// BatchNormalization. Opsets 1..8 have `spatial` (0: statistics per activation), 1..6 an
/// ignored `is_test`; from 14 `training_mode` normalizes with the batch's statistics and
/// outputs the updated running mean and variance.
Result<KernelPtr> make_batch_norm(const OpBuildInfo& info) {
  const Node& n = info.node;
  const double eps = n.attr_float("epsilon", 1e-5f);
  const double momentum = n.attr_float("momentum", 0.9f);
  const bool spatial = info.opset >= 9 || n.attr_int("spatial", 1) != 0;
  const bool training = info.opset >= 14 && n.attr_int("training_mode", 0) != 0;
  bool extra_outputs = false;
  for (size_t i = 1; i < n.outputs.size(); ++i) extra_outputs |= !n.outputs[i].empty();
  if (extra_outputs && !training)
    return unsupported("BatchNormalization training outputs (mean, var, saved statistics) at opset " +
                       std::to_string(info.opset) + (info.opset >= 14 ? " without training_mode" : ""));

  if (!spatial) {
    return make_kernel([eps](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      auto param = [&](size_t i) { return ctx.input(i).unsqueeze(0); };
      ctx.set_output(0, (x - param(3)) * at::rsqrt(param(4) + eps) * param(1) + param(2));
    });
  }
  if (training) {
    return make_kernel([eps, momentum](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      if (x.dim() < 2) throw std::invalid_argument("BatchNormalization needs an input of rank >= 2");
      std::vector<int64_t> dims{0};
      for (int64_t i = 2; i < x.dim(); ++i) dims.push_back(i);
      // ONNX uses the population variance for both the output and the running update.
      auto [var, mean] = at::var_mean(x, at::IntArrayRef(dims), false, false);
      const at::Tensor& running_mean = ctx.input(3);
      const at::Tensor& running_var = ctx.input(4);
      ctx.set_output(0, at::batch_norm(x, ctx.input(1), ctx.input(2), mean, var, false, momentum, eps, true));
      if (ctx.has_output(1))
        ctx.set_output(1, running_mean * momentum + mean.to(running_mean.scalar_type()) * (1.0 - momentum));
      if (ctx.has_output(2))
        ctx.set_output(2, running_var * momentum + var.to(running_var.scalar_type()) * (1.0 - momentum));
    });
  }
  return make_kernel([eps, momentum](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    at::Tensor params[4] = {ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4)};
    const at::ScalarType xt = x.scalar_type();
    // cuDNN and ATen's CUDA kernel take float parameters for half/bfloat16 input (opset 15
    // allows that mix); anything else is computed in the input's type.
    const bool reduced_input = !x.is_cpu() && (xt == at::kHalf || xt == at::kBFloat16);
    for (at::Tensor& p : params) {
      if (p.scalar_type() != xt && !(reduced_input && p.scalar_type() == at::kFloat)) p = p.to(xt);
    }
    ctx.set_output(0, at::batch_norm(x, params[0], params[1], params[2], params[3], false, momentum, eps, true));
  });
}

/// MeanVarianceNormalization: opset 9+ normalizes over `axes` (default N, H, W); opset 1
/// per instance, over spatial axes or also across channels, variance optional.
OpFactory mvn_factory(bool legacy) {
  return [legacy](const OpBuildInfo& info) -> Result<KernelPtr> {
    const Node& n = info.node;
    std::vector<int64_t> axes = n.has_attribute("axes") ? n.attr_ints("axes") : std::vector<int64_t>{0, 2, 3};
    bool normalize_variance = true;
    bool across_channels = false;
    if (legacy) {
      across_channels = n.attr_int("across_channels", 0) != 0;
      normalize_variance = n.attr_int("normalize_variance", 1) != 0;
    }
    return make_kernel([legacy, axes, normalize_variance, across_channels](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      std::vector<int64_t> dims;
      if (legacy) {
        for (int64_t i = across_channels ? 1 : 2; i < x.dim(); ++i) dims.push_back(i);
      } else {
        for (int64_t a : axes) dims.push_back(op_util::normalize_axis(a, x.dim()));
      }
      if (!normalize_variance) {
        ctx.set_output(0, x - at::mean(x, at::IntArrayRef(dims), true));
        return;
      }
      auto [var, mean] = at::var_mean(x, at::IntArrayRef(dims), false, true);
      // The spec adds its epsilon to the standard deviation, not to the variance.
      ctx.set_output(0, (x - mean) / var.sqrt_().add_(1e-9));
    });
  };
}

Result<KernelPtr> make_lp_norm(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", -1);
  const int64_t p = info.node.attr_int("p", 2);
  if (p != 1 && p != 2) return unsupported("LpNormalization p=" + std::to_string(p) + " (the spec allows 1 and 2)");
  return make_kernel([axis, p](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const int64_t d = op_util::normalize_axis(axis, x.dim());
    ctx.set_output(0, x / at::linalg_vector_norm(x, static_cast<double>(p), at::IntArrayRef{d}, true));
  });
}

/// LRN (opset 1, 13): each element divided by (bias + alpha/size * sum of squares over a
/// window of `size` channels)^beta. The window sum is an average pool over channels.
Result<KernelPtr> make_lrn(const OpBuildInfo& info) {
  const Node& n = info.node;
  if (!n.has_attribute("size")) return invalid_input("LRN needs attribute size");
  const int64_t size = n.attr_int("size", 1);
  if (size <= 0) return invalid_input("LRN size must be positive, is " + std::to_string(size));
  const double alpha = n.attr_float("alpha", 1e-4f);
  const double beta = n.attr_float("beta", 0.75f);
  const double bias = n.attr_float("bias", 1.0f);
  return make_kernel([size, alpha, beta, bias](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    if (x.dim() < 2) throw std::invalid_argument("LRN needs an input of rank >= 2");
    const int64_t batch = x.size(0), channels = x.size(1);
    const int64_t rest = channels == 0 || batch == 0 ? 0 : x.numel() / (batch * channels);
    const int64_t before = (size - 1) / 2, after = size - 1 - before;
    at::Tensor squares = (x * x).reshape({batch, 1, channels, rest});
    squares = at::constant_pad_nd(squares, {0, 0, before, after}, 0);
    at::Tensor window_mean = at::avg_pool2d(squares, {size, 1}, {1, 1});
    ctx.set_output(0, x / window_mean.mul_(alpha).add_(bias).pow_(beta).reshape(x.sizes()));
  });
}

enum class LossReduction { kNone, kSum, kMean };

Result<LossReduction> parse_reduction(const Node& n) {
  const std::string r = n.attr_string("reduction", "mean");
  if (r == "none") return LossReduction::kNone;
  if (r == "sum") return LossReduction::kSum;
  if (r == "mean") return LossReduction::kMean;
  return invalid_input(n.op_type + " reduction must be none, sum or mean, is '" + r + "'");
}

/// The negative log likelihood of `log_prob` [N, C, d1...] at `target` [N, d1...]. Each
/// element is weighted by weight[target] (1 without weights), ignored targets by 0; "mean"
/// divides by the total weight.
at::Tensor nll_loss(const at::Tensor& log_prob, const at::Tensor& target_in, const at::Tensor& weight,
                    LossReduction reduction, std::optional<int64_t> ignore_index) {
  if (log_prob.dim() < 2) throw std::invalid_argument("loss input must have rank >= 2 (N, C, ...)");
  const at::Tensor target = target_in.to(at::kLong);
  if (target.dim() != log_prob.dim() - 1 || target.size(0) != log_prob.size(0) ||
      target.sizes().slice(1) != log_prob.sizes().slice(2))
    throw std::invalid_argument("loss target shape does not match the input's shape without its class axis");
  at::Tensor index = target;
  at::Tensor ignored;
  if (ignore_index) {
    ignored = target.eq(*ignore_index);
    index = target.masked_fill(ignored, 0);
  }
  at::Tensor picked = log_prob.gather(1, index.unsqueeze(1)).squeeze(1);
  at::Tensor w;
  if (weight.defined()) w = weight.index_select(0, index.reshape({-1})).reshape(index.sizes());
  if (ignore_index) w = w.defined() ? w.masked_fill(ignored, 0) : ignored.logical_not().to(log_prob.scalar_type());
  at::Tensor loss = w.defined() ? picked.mul(w).neg_() : picked.neg();
  switch (reduction) {
    case LossReduction::kNone: return loss;
    case LossReduction::kSum: return loss.sum();
    case LossReduction::kMean: return w.defined() ? loss.sum().div_(w.sum()) : loss.mean();
  }
  throw std::logic_error("unknown loss reduction");
}

/// NegativeLogLikelihoodLoss (12, 13) and SoftmaxCrossEntropyLoss (12, 13).
OpFactory loss_factory(bool with_softmax) {
  return [with_softmax](const OpBuildInfo& info) -> Result<KernelPtr> {
    const Node& n = info.node;
    AK_ASSIGN_OR_RETURN(const LossReduction reduction, parse_reduction(n));
    std::optional<int64_t> ignore_index;
    if (n.has_attribute("ignore_index")) ignore_index = n.attr_int("ignore_index", 0);
    return make_kernel([with_softmax, reduction, ignore_index](OpContext& ctx) {
      const at::Tensor& x = ctx.input(0);
      const at::Tensor weight = ctx.has_input(2) ? ctx.input(2) : at::Tensor();
      const at::Tensor log_prob = with_softmax ? at::log_softmax(x, 1) : x;
      ctx.set_output(0, nll_loss(log_prob, ctx.input(1), weight, reduction, ignore_index));
      if (with_softmax) ctx.set_output(1, log_prob);
    });
  };
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
  r.add_simple("MatMul", 1, [](OpContext& ctx) { ctx.set_output(0, matrix_product(ctx.input(0), ctx.input(1))); });
  r.add("Gemm", 1, make_gemm);
  r.add("Einsum", 12, make_einsum);
  r.add_simple("MatMulInteger", 10, run_matmul_integer);
  r.add_simple("Det", 11, run_det);

  r.add("LayerNormalization", 17, make_layer_norm);
  r.add("GroupNormalization", 18, group_norm_factory(false));
  r.add("GroupNormalization", 21, group_norm_factory(true));
  r.add("InstanceNormalization", 1, make_instance_norm);
  r.add("BatchNormalization", 1, make_batch_norm);
  r.add("MeanVarianceNormalization", 1, mvn_factory(true));
  r.add("MeanVarianceNormalization", 9, mvn_factory(false));
  r.add("LpNormalization", 1, make_lp_norm);
  r.add("LRN", 1, make_lrn);

  r.add("NegativeLogLikelihoodLoss", 12, loss_factory(false));
  r.add("SoftmaxCrossEntropyLoss", 12, loss_factory(true));
}

}  // namespace ak::models
