// kernels/templates/pool_problem.h: ONNX MaxPool, AveragePool, GlobalMaxPool and
// GlobalAveragePool over 1, 2 or 3 spatial dims of an NCHW input (both targets): the checks,
// the output size from the input's shape at run time, and one output element. The
// attributes (kernel, strides, dilations, pads, auto_pad, ceil_mode, count_include_pad) are
// the prologue's constants; N, C and the spatial sizes come from the descriptors.
#pragma once

#include "pool_prologue.h"  // kPoolMax, kGlobal, kSpatial, kKernel, kStride, ..., the parameters
#include "dtype.h"          // T, to_float(), from_float()

namespace {

static_assert(kSpatial >= 1 && kSpatial <= 3, "the pool template takes 1, 2 or 3 spatial dims");

// The problem with its spatial dims right-aligned into three (a 1-D pool is a 3-D one with
// D = H = 1, kernel 1), so one loop nest serves every rank.
struct PoolProblem {
  int64_t batch = 0, channels = 0;
  int64_t in[3], out[3];
  int64_t kernel[3], stride[3], dilation[3], pad_begin[3], pad_end[3];
  int64_t x_stride[5];  // N, C, D, H, W, in elements (any layout)
  int64_t numel = 0;    // output elements
};

// Fills dim `j` (0..2 of the right-aligned three) from spatial dim `d` of the attributes and
// the input size `in`; kErrShape when no window fits.
inline int set_pool_dim(PoolProblem* p, int j, int d, int64_t in) {
  const int64_t k = kGlobal ? in : kKernel[d];
  const int64_t s = kGlobal ? 1 : kStride[d];
  const int64_t dil = kGlobal ? 1 : kDilation[d];
  const int64_t extent = (k - 1) * dil + 1;  // the window's span in the input
  int64_t begin = kGlobal ? 0 : kPadBegin[d], end = kGlobal ? 0 : kPadEnd[d];
  int64_t out = 0;
  if (kAutoPad == 1 || kAutoPad == 2) {
    // SAME_UPPER / SAME_LOWER: out = ceil(in / stride), the odd pad at the end / the start.
    out = (in + s - 1) / s;
    int64_t total = (out - 1) * s + extent - in;
    if (total < 0) total = 0;
    begin = kAutoPad == 1 ? total / 2 : total - total / 2;
    end = total - begin;
  } else {
    // NOTSET (explicit pads) and VALID (the generator sets the pads to 0).
    const int64_t span = in + begin + end - extent;
    if (span < 0) return kErrShape;
    out = (kCeilMode ? (span + s - 1) / s : span / s) + 1;
    // Ceil mode never adds a window that starts in the end padding (ONNX's reference and
    // PyTorch drop it).
    if (kCeilMode && (out - 1) * s >= in + begin) --out;
  }
  p->in[j] = in;
  p->out[j] = out;
  p->kernel[j] = k;
  p->stride[j] = s;
  p->dilation[j] = dil;
  p->pad_begin[j] = begin;
  p->pad_end[j] = end;
  return kOk;
}

// Checks the tensors (X [N, C, spatial...] of kDtype in any layout, Y [N, C, out...] of
// kDtype) and fills `p`. kOk or an error code.
inline int make_pool_problem(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs,
                             int32_t num_outputs, PoolProblem* p) {
  if (num_inputs != 1 || num_outputs != 1) return kErrArgCount;
  const ak_tensor& x = inputs[0];
  const ak_tensor& y = outputs[0];
  if (x.dtype != kDtype || y.dtype != kDtype) return kErrDtype;
  if (x.rank != 2 + kSpatial || y.rank != x.rank) return kErrRank;
  if (x.shape[0] < 0 || x.shape[1] < 0) return kErrShape;
  p->batch = x.shape[0];
  p->channels = x.shape[1];
  p->x_stride[0] = x.strides[0];
  p->x_stride[1] = x.strides[1];
  for (int j = 0; j < 3 - kSpatial; ++j) {  // the dims a lower rank leaves: size 1, kernel 1
    p->in[j] = p->out[j] = p->kernel[j] = p->stride[j] = p->dilation[j] = 1;
    p->pad_begin[j] = p->pad_end[j] = 0;
    p->x_stride[2 + j] = 0;
  }
  for (int d = 0; d < kSpatial; ++d) {
    const int j = 3 - kSpatial + d;
    if (x.shape[2 + d] < 1) return kErrShape;
    if (const int status = set_pool_dim(p, j, d, x.shape[2 + d]); status != kOk) return status;
    p->x_stride[2 + j] = x.strides[2 + d];
  }
  if (y.shape[0] != p->batch || y.shape[1] != p->channels) return kErrShape;
  for (int d = 0; d < kSpatial; ++d) {
    if (y.shape[2 + d] != p->out[3 - kSpatial + d]) return kErrShape;
  }
  p->numel = numel(y);
  return kOk;
}

// Output element (od, oh, ow) of the plane that starts at `x` (one image and channel): the
// maximum over the window's input elements (NaN wins, as in ATen's max_pool: a window with
// a NaN gives NaN), or their float32 sum divided by the count, which with
// count_include_pad also counts pad positions (those inside in + pads, not the ones past
// them that ceil mode reaches).
AK_FN float pool_element(const T* x, const PoolProblem& p, int64_t od, int64_t oh, int64_t ow) {
  const int64_t o[3] = {od, oh, ow};
  int64_t start[3];
  for (int j = 0; j < 3; ++j) start[j] = o[j] * p.stride[j] - p.pad_begin[j];
  float acc = kPoolMax ? -INFINITY : 0.0f;
  int64_t count = 0;
  for (int64_t kd = 0; kd < p.kernel[0]; ++kd) {
    const int64_t id = start[0] + kd * p.dilation[0];
    if (id < -p.pad_begin[0] || id >= p.in[0] + p.pad_end[0]) continue;
    const bool inside_d = id >= 0 && id < p.in[0];
    for (int64_t kh = 0; kh < p.kernel[1]; ++kh) {
      const int64_t ih = start[1] + kh * p.dilation[1];
      if (ih < -p.pad_begin[1] || ih >= p.in[1] + p.pad_end[1]) continue;
      const bool inside_h = inside_d && ih >= 0 && ih < p.in[1];
      for (int64_t kw = 0; kw < p.kernel[2]; ++kw) {
        const int64_t iw = start[2] + kw * p.dilation[2];
        if (iw < -p.pad_begin[2] || iw >= p.in[2] + p.pad_end[2]) continue;
        const bool inside = inside_h && iw >= 0 && iw < p.in[2];
        if (!inside) {
          if (kCountIncludePad) ++count;
          continue;
        }
        const float v = to_float(x[id * p.x_stride[2] + ih * p.x_stride[3] + iw * p.x_stride[4]]);
        if (kPoolMax) {
          if (v > acc || isnan(v)) acc = v;
        } else {
          acc += v;
          ++count;
        }
      }
    }
  }
  return kPoolMax ? acc : acc / static_cast<float>(count);
}

// Output element `i` (flat, Y contiguous [N, C, OD, OH, OW]).
AK_FN float pool_output(const T* x, const PoolProblem& p, int64_t i) {
  const int64_t ow = i % p.out[2];
  int64_t rest = i / p.out[2];
  const int64_t oh = rest % p.out[1];
  rest /= p.out[1];
  const int64_t od = rest % p.out[0];
  rest /= p.out[0];
  const int64_t c = rest % p.channels, n = rest / p.channels;
  return pool_element(x + n * p.x_stride[0] + c * p.x_stride[1], p, od, oh, ow);
}

}  // namespace
