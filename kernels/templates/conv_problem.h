// kernels/templates/conv_problem.h: ONNX Conv's shapes (1-D or 2-D, groups, pads, strides,
// dilations) checked against the tensors (both targets).
#pragma once

#include "conv_prologue.h"
#include "dtype.h"
#include "common.h"

namespace {

// Conv on X [N, C, (H,) W] with weights [M, C / kGroup, (KH,) KW] and an optional bias [M]:
// Y [N, M, (OH,) OW]. A 1-D conv is a 2-D one with H = KH = OH = 1 (kStride etc. hold 1 and
// 0 for that dim). Strides are the tensors' own, as 4-D (n, c, h, w).
struct ConvShape {
  int64_t N = 0, C = 0, H = 1, W = 0;
  int64_t M = 0, KH = 1, KW = 0;
  int64_t OH = 1, OW = 0;
  int64_t x_stride[4] = {}, w_stride[4] = {};
  const T* bias = nullptr;  // kHasBias: M values
  int64_t bias_step = 0;
};

// Dims and strides of a rank-(kSpatial + 2) tensor as 4-D.
inline void as_4d(const ak_tensor& t, int64_t* dims, int64_t* strides) {
  dims[0] = t.shape[0];
  dims[1] = t.shape[1];
  strides[0] = t.strides[0];
  strides[1] = t.strides[1];
  if (kSpatial == 2) {
    dims[2] = t.shape[2];
    strides[2] = t.strides[2];
  } else {
    dims[2] = 1;
    strides[2] = t.shape[2] * t.strides[2];  // a size-1 dim: any stride; this one is "packed"
  }
  dims[3] = t.shape[kSpatial + 1];
  strides[3] = t.strides[kSpatial + 1];
}

// One output size per ONNX: floor((in + pads - dilation * (kernel - 1) - 1) / stride) + 1,
// or -1 when the window does not fit even once.
inline int64_t conv_output_size(int64_t in, int64_t kernel, int d) {
  const int64_t span = in + kPadBegin[d] + kPadEnd[d] - kDilation[d] * (kernel - 1) - 1;
  return span < 0 ? -1 : span / kStride[d] + 1;
}

// Checks counts, dtypes and shapes; fills `s`. Returns kOk or an error code.
inline int make_conv(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs, int32_t num_outputs,
                     ConvShape* s) {
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  const ak_tensor& x = inputs[0];
  const ak_tensor& w = inputs[1];
  const ak_tensor& y = outputs[0];
  if (x.dtype != kDtype || w.dtype != kDtype || y.dtype != kDtype) return kErrDtype;
  constexpr int kRank = kSpatial + 2;
  if (x.rank != kRank || w.rank != kRank || y.rank != kRank) return kErrRank;
  int64_t x_dims[4], w_dims[4], y_dims[4], y_strides[4];
  as_4d(x, x_dims, s->x_stride);
  as_4d(w, w_dims, s->w_stride);
  as_4d(y, y_dims, y_strides);
  s->N = x_dims[0], s->C = x_dims[1], s->H = x_dims[2], s->W = x_dims[3];
  s->M = w_dims[0], s->KH = w_dims[2], s->KW = w_dims[3];
  for (int d = 0; d < 4; ++d) {
    if (x_dims[d] < 0 || w_dims[d] < 0) return kErrShape;
  }
  if (s->C % kGroup != 0 || s->M % kGroup != 0 || w_dims[1] != s->C / kGroup) return kErrShape;
  if (s->KH < 1 || s->KW < 1) return kErrShape;
  s->OH = conv_output_size(s->H, s->KH, 0);
  s->OW = conv_output_size(s->W, s->KW, 1);
  if (s->OH < 0 || s->OW < 0) return kErrShape;
  if (y_dims[0] != s->N || y_dims[1] != s->M || y_dims[2] != s->OH || y_dims[3] != s->OW) return kErrShape;
  if (kHasBias) {
    const ak_tensor& bias = inputs[2];
    if (bias.dtype != kDtype) return kErrDtype;
    if (bias.rank != 1) return kErrRank;
    if (bias.shape[0] != s->M) return kErrShape;
    s->bias = static_cast<const T*>(bias.data);
    s->bias_step = bias.strides[0];
  }
  return kOk;
}

}  // namespace
