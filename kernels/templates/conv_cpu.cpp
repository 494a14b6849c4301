// kernels/templates/conv_cpu.cpp: the convolution (+ bias + epilogue) template for the CPU:
// per image, im2col (each group's input windows as the columns of a [C/group * KH * KW,
// OH * OW] matrix) and the products' blocked loop with the weights, the bias and the fused
// epilogue applied in the store. The generator replaces the prologue, dtype and apply
// includes with the task's constants, storage type and epilogue expression; samples/ stands
// in for them when this file is compiled on its own.
#include <vector>

#include "conv_prologue.h"     // kDtype, kNumInputs, kSpatial, kGroup, kStride, kPadBegin, ..., the tile sizes
#include "dtype.h"             // T, to_float(), from_float()
#include "conv_problem.h"
#include "product_cpu.h"
#include "elementwise_ops.h"
#include "epilogue_apply.h"    // apply(x): Y's element from x[0] = conv + bias, x[1..] the epilogue tensors
#include "epilogue_layout.h"

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  ConvShape c;
  int status = make_conv(inputs, num_inputs, outputs, num_outputs, &c);
  if (status != kOk) return status;
  EpilogueLayout e;
  status = make_epilogue_layout(inputs + kFirstEpilogueInput, outputs[0], &e);
  if (status != kOk) return status;
  const int64_t P = c.OH * c.OW;  // output pixels per channel
  if (c.N == 0 || c.M == 0 || P == 0) return kOk;
  const T* x = static_cast<const T*>(inputs[0].data);
  const T* w = static_cast<const T*>(inputs[1].data);
  const T* extra[kExtraSlots] = {};
  for (int k = 0; k < kExtraInputs; ++k) extra[k] = static_cast<const T*>(inputs[kFirstEpilogueInput + k].data);
  Out* y = static_cast<Out*>(outputs[0].data);

  // Group g is the product Y[n, g's M/group channels] = W_g [M/group, depth] x columns_g
  // [depth, P], depth = C/group * KH * KW: a batch of kGroup products per image.
  const int64_t Cg = c.C / kGroup, Mg = c.M / kGroup;
  const int64_t depth = Cg * c.KH * c.KW;
  std::vector<T> weights(static_cast<size_t>(c.M * depth)), columns(static_cast<size_t>(kGroup * depth * P));
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < c.M; ++m) {
    int64_t r = 0;
    for (int64_t ci = 0; ci < Cg; ++ci)
      for (int64_t kh = 0; kh < c.KH; ++kh)
        for (int64_t kw = 0; kw < c.KW; ++kw, ++r)
          weights[m * depth + r] = w[m * c.w_stride[0] + ci * c.w_stride[1] + kh * c.w_stride[2] + kw * c.w_stride[3]];
  }
  Problem p;
  p.M = Mg, p.K = depth, p.N = P;
  p.batch_rank = 1, p.batch_shape[0] = kGroup, p.batch = kGroup;
  p.a_batch_stride[0] = Mg * depth, p.b_batch_stride[0] = depth * P;
  p.a_row_stride = depth, p.b_row_stride = P;
  const T zero = from_float(0.0f);

  for (int64_t n = 0; n < c.N; ++n) {
    // im2col: row (g, ci, kh, kw) of the columns holds X[n, g * Cg + ci] at every output
    // pixel's window position (0 in the padding).
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < kGroup * depth; ++row) {
      const int64_t channel = row / (c.KH * c.KW);  // g * Cg + ci
      const int64_t kh = row / c.KW % c.KH, kw = row % c.KW;
      const T* x_c = x + n * c.x_stride[0] + channel * c.x_stride[1];
      T* out = &columns[row * P];
      for (int64_t oh = 0; oh < c.OH; ++oh) {
        const int64_t ih = oh * kStride[0] - kPadBegin[0] + kh * kDilation[0];
        for (int64_t ow = 0; ow < c.OW; ++ow) {
          const int64_t iw = ow * kStride[1] - kPadBegin[1] + kw * kDilation[1];
          const bool inside = ih >= 0 && ih < c.H && iw >= 0 && iw < c.W;
          out[oh * c.OW + ow] = inside ? x_c[ih * c.x_stride[2] + iw * c.x_stride[3]] : zero;
        }
      }
    }
    // Row `m` of the flattened [kGroup * Mg, P] result is output channel m.
    Out* y_n = y + n * c.M * P;
    blocked_product_rows(p, weights.data(), columns.data(), y_n,
                         [&](int64_t m, int64_t j0, int64_t cols, const float* acc, Out* y_row) {
      const float bias = kHasBias ? to_float(c.bias[m * c.bias_step]) : 0.0f;
      for (int64_t j = 0; j < cols; ++j) {
        // The segment spans rows of Y's last dim (OW), so the offsets are found per element.
        int64_t offset[kExtraSlots];
        epilogue_offsets(e, (n * c.M + m) * P + j0 + j, offset);
        float v[kExtraInputs + 1];
        v[0] = acc[j] + bias;
        for (int k = 0; k < kExtraInputs; ++k) v[k + 1] = to_float(extra[k][offset[k]]);
        store(&y_row[j], apply(v));
      }
    });
  }
  return kOk;
}
