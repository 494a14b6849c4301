// Kernels of the runtime fusions (models/fusion.h): com.autokernel.Attention and Gelu.
#include <torch/version.h>

#include "models/ops/op_kernel.h"

// at::scaled_dot_product_attention with a `scale` argument arrived in libtorch 2.1.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define AK_HAVE_SDPA 1
#else
#define AK_HAVE_SDPA 0
#endif

namespace ak::models {

namespace {

/// softmax(scale * Q @ Kt [+ mask | masked to mask_fill where cond]) @ V
Result<KernelPtr> attention_factory(const OpBuildInfo& info) {
  const double scale = info.node.attr_float("scale", 1.f);
  const int64_t mask_kind = info.node.attr_int("mask_kind", 0);
  const double mask_fill = info.node.attr_float("mask_fill", -std::numeric_limits<float>::infinity());
  if (mask_kind < 0 || mask_kind > 2) return invalid_input("Attention: mask_kind must be 0, 1 or 2");
  return make_kernel([scale, mask_kind, mask_fill](OpContext& ctx) {
    const at::Tensor& q = ctx.input(0);
    const at::Tensor& kt = ctx.input(1);
    const at::Tensor& v = ctx.input(2);
    at::Tensor mask = mask_kind != 0 ? ctx.input(3) : at::Tensor();
#if AK_HAVE_SDPA
    // The fused kernel needs equal batch dimensions (MatMul would broadcast them) and a
    // floating dtype; otherwise compute exactly what the original nodes did.
    const bool fused_ok = q.is_cuda() && q.is_floating_point() && q.dim() >= 3 && q.dim() <= 4 && q.dim() == kt.dim() &&
                          q.dim() == v.dim() && q.sizes().slice(0, q.dim() - 2) == kt.sizes().slice(0, kt.dim() - 2) &&
                          q.sizes().slice(0, q.dim() - 2) == v.sizes().slice(0, v.dim() - 2) &&
                          q.scalar_type() == kt.scalar_type() && q.scalar_type() == v.scalar_type() &&
                          (mask_kind != 1 || mask.scalar_type() == q.scalar_type());
    if (fused_ok) {
      at::Tensor k = kt.transpose(-2, -1);
      std::optional<at::Tensor> attn_mask;
      if (mask_kind == 1) attn_mask = mask;
      // Where(cond, fill, scores) == scores + (fill where cond): an additive mask keeps
      // the original's result even for rows that are masked entirely.
      if (mask_kind == 2) attn_mask = at::zeros(mask.sizes(), q.options()).masked_fill(mask, mask_fill);
      at::Tensor qq = q, vv = v;
      if (q.dim() == 3) {
        qq = q.unsqueeze(0);
        k = k.unsqueeze(0);
        vv = v.unsqueeze(0);
      }
      at::Tensor out = at::scaled_dot_product_attention(qq, k, vv, attn_mask, 0.0, false, scale);
      ctx.set_output(0, q.dim() == 3 ? out.squeeze(0) : out);
      return;
    }
#endif
    at::Tensor scores = at::matmul(q, kt);
    if (scale != 1.0) scores = scores * scale;
    if (mask_kind == 1) scores = scores + mask;
    if (mask_kind == 2) scores = scores.masked_fill(mask, mask_fill);
    ctx.set_output(0, at::matmul(at::softmax(scores, -1), v));
  });
}

}  // namespace

void register_fused_ops(OpRegistry& r) {
  r.add("Attention", 1, attention_factory, Placement::kDevice, "com.autokernel");
  r.add(
      "Gelu", 1,
      [](const OpBuildInfo&) -> Result<KernelPtr> {
        return make_kernel([](OpContext& ctx) { ctx.set_output(0, at::gelu(ctx.input(0))); });
      },
      Placement::kDevice, "com.autokernel");
}

}  // namespace ak::models
