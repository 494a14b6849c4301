// kernels/templates/rowwise_rows.h: the rows of x (every index of the leading dims is one
// row of D = x.shape[-1] elements), the kernel arguments, and their checks (both targets).
// With kResidual (the residual norms) the norm reads h = x + residual instead of x.
#pragma once

#include <type_traits>

#include "common.h"
#include "rowwise_prologue.h"
#include "dtype.h"

namespace {

// y's storage: T, or float32 when the task casts the norm's result to float32.
using TY = std::conditional_t<kOutputFloat32, float, T>;
constexpr int32_t kOutputDtype = kOutputFloat32 ? 1 : kDtype;

AK_FN TY to_output(float v) {
  if constexpr (kOutputFloat32) {
    return v;
  } else {
    return from_float(v);
  }
}

struct Rows {
  int rank = 1;
  int64_t shape[AK_MAX_RANK] = {};    // x's shape
  int64_t strides[AK_MAX_RANK] = {};  // x's strides
  int64_t count = 0;                  // number of rows
  int64_t length = 0;                 // D
  int64_t step = 1;                   // x's stride along the row
};

// Offset (in elements) of row r's first element in x.
AK_HOST_DEVICE int64_t row_offset(const Rows& rows, int64_t r) {
  int64_t offset = 0;
  for (int d = rows.rank - 2; d >= 0; --d) {
    offset += (r % rows.shape[d]) * rows.strides[d];
    r /= rows.shape[d];
  }
  return offset;
}

// Kernel arguments. The optional tensors are null when this op or task has none.
struct Params {
  const T* x;
  TY* y;
  Rows rows;
  const T* scale = nullptr;       // [D]
  int64_t scale_step = 0;
  const T* bias = nullptr;        // [D]
  int64_t bias_step = 0;
  float* mean = nullptr;          // optional output 1 (LayerNormalization), one per row
  float* inv_std_dev = nullptr;   // optional output 2 (LayerNormalization), one per row
  const T* residual = nullptr;    // kResidual: input 1, x's shape (its own strides)
  Rows residual_rows;
  T* h = nullptr;                 // kResidual: optional output 1, h = x + residual, contiguous
};

// Row r as a row function reads it: x's elements x[j * step], y's y[j], j < D.
struct Row {
  const T* x;
  int64_t step;
  int64_t D;
  TY* y;
};

AK_HOST_DEVICE Row row_of(const Params& p, int64_t r) {
  return {p.x + row_offset(p.rows, r), p.rows.step, p.rows.length, p.y + r * p.rows.length};
}

// Row r of the residual sum (kResidual): the residual's elements r[j * step], h's h[j]
// (h null when the task does not write it).
struct ResidualRow {
  const T* r;
  int64_t step;
  T* h;
};

AK_HOST_DEVICE ResidualRow residual_of(const Params& p, int64_t r) {
  if constexpr (kResidual) {
    return {p.residual + row_offset(p.residual_rows, r), p.residual_rows.step, p.h ? p.h + r * p.rows.length : nullptr};
  } else {
    return {nullptr, 0, nullptr};
  }
}

// Element j of what the norm reads: x, or with kResidual h = x + residual rounded to T, as
// the graph's Add node rounds its output before the norm reads it.
AK_FN float norm_input(const Row& row, const ResidualRow& res, int64_t j) {
  const float v = to_float(row.x[j * row.step]);
  if constexpr (kResidual) {
    return to_float(from_float(v + to_float(res.r[j * res.step])));
  } else {
    (void)res;
    return v;
  }
}

// The residual norms' second output: h's element j (v is exact in T: norm_input rounded it).
AK_FN void store_sum(const ResidualRow& res, int64_t j, float v) {
  if constexpr (kResidual) {
    if (res.h) res.h[j] = from_float(v);
  } else {
    (void)res, (void)j, (void)v;
  }
}

// y's element j from the normalized value (before scale and bias): rounded to y's dtype
// first with kRoundBeforeScale (a graph that casts down before it multiplies by the scale).
AK_FN float scale_input(float normalized) {
  if constexpr (kRoundBeforeScale && !kOutputFloat32) {
    return to_float(from_float(normalized));
  } else {
    return normalized;
  }
}

// A [D] parameter (scale, bias): any shape whose last dim holds all D values.
inline int check_vector(const ak_tensor& t, int64_t D, int64_t* step) {
  if (t.dtype != kDtype) return kErrDtype;
  if (t.rank < 1 || t.rank > AK_MAX_RANK) return kErrRank;
  if (t.shape[t.rank - 1] != D || numel(t) != D) return kErrShape;
  *step = t.strides[t.rank - 1];
  return kOk;
}

// `t`'s shape and strides as rows of x's shape; kErrShape unless it has exactly x's shape
// (the residual is not broadcast).
inline int rows_like(const ak_tensor& t, const Rows& x_rows, Rows* rows) {
  if (t.dtype != kDtype) return kErrDtype;
  if (t.rank != x_rows.rank) return kErrShape;
  *rows = x_rows;
  for (int d = 0; d < t.rank; ++d) {
    if (t.shape[d] != x_rows.shape[d]) return kErrShape;
    rows->strides[d] = t.strides[d];
  }
  rows->step = t.strides[t.rank - 1];
  return kOk;
}

// Checks counts, dtypes and shapes; fills `p`. Returns kOk or an error code.
inline int make_params(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs, int32_t num_outputs,
                       Params* p) {
  if (num_inputs != kNumInputs || num_outputs < 1 || num_outputs > kMaxOutputs) return kErrArgCount;
  const ak_tensor& x = inputs[0];
  const ak_tensor& y = outputs[0];
  if (x.dtype != kDtype || y.dtype != kOutputDtype) return kErrDtype;
  if (x.rank < 1 || x.rank > AK_MAX_RANK) return kErrRank;
  if (y.rank != x.rank) return kErrShape;
  Rows& rows = p->rows;
  rows.rank = x.rank;
  rows.count = 1;
  for (int d = 0; d < x.rank; ++d) {
    if (x.shape[d] < 0 || y.shape[d] != x.shape[d]) return kErrShape;
    rows.shape[d] = x.shape[d];
    rows.strides[d] = x.strides[d];
    if (d < x.rank - 1) rows.count *= x.shape[d];
  }
  rows.length = x.shape[x.rank - 1];
  rows.step = x.strides[x.rank - 1];
  p->x = static_cast<const T*>(x.data);
  p->y = static_cast<TY*>(y.data);
  constexpr int kScaleInput = kResidual ? 2 : 1;  // inputs: x[, residual], scale, bias
  if (kHasScale) {
    if (const int status = check_vector(inputs[kScaleInput], rows.length, &p->scale_step); status != kOk) return status;
    p->scale = static_cast<const T*>(inputs[kScaleInput].data);
  }
  if (kHasBias) {
    if (const int status = check_vector(inputs[kScaleInput + 1], rows.length, &p->bias_step); status != kOk)
      return status;
    p->bias = static_cast<const T*>(inputs[kScaleInput + 1].data);
  }
  if constexpr (kResidual) {
    if (const int status = rows_like(inputs[1], rows, &p->residual_rows); status != kOk) return status;
    p->residual = static_cast<const T*>(inputs[1].data);
    if (num_outputs > 1) {  // h
      Rows h_rows;
      if (const int status = rows_like(outputs[1], rows, &h_rows); status != kOk) return status;
      p->h = static_cast<T*>(outputs[1].data);
    }
  } else {
    for (int k = 1; k < num_outputs; ++k) {  // LayerNormalization's Mean and InvStdDev
      if (outputs[k].dtype != 1) return kErrDtype;  // float32 (stash_type 1)
      if (numel(outputs[k]) != rows.count) return kErrShape;
    }
    if (num_outputs > 1) p->mean = static_cast<float*>(outputs[1].data);
    if (num_outputs > 2) p->inv_std_dev = static_cast<float*>(outputs[2].data);
  }
  return kOk;
}

}  // namespace
