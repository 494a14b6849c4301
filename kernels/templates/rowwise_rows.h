// kernels/templates/rowwise_rows.h: the rows of x (every index of the leading dims is one
// row of D = x.shape[-1] elements), the kernel arguments, and their checks (both targets).
#pragma once

#include "common.h"
#include "rowwise_prologue.h"
#include "dtype.h"

namespace {

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
  T* y;
  Rows rows;
  const T* scale = nullptr;       // [D]
  int64_t scale_step = 0;
  const T* bias = nullptr;        // [D]
  int64_t bias_step = 0;
  float* mean = nullptr;          // optional output 1 (LayerNormalization), one per row
  float* inv_std_dev = nullptr;   // optional output 2 (LayerNormalization), one per row
};

// Row r as a row function reads it: x's elements x[j * step], y's y[j], j < D.
struct Row {
  const T* x;
  int64_t step;
  int64_t D;
  T* y;
};

AK_HOST_DEVICE Row row_of(const Params& p, int64_t r) {
  return {p.x + row_offset(p.rows, r), p.rows.step, p.rows.length, p.y + r * p.rows.length};
}

// A [D] parameter (scale, bias): any shape whose last dim holds all D values.
inline int check_vector(const ak_tensor& t, int64_t D, int64_t* step) {
  if (t.dtype != kDtype) return kErrDtype;
  if (t.rank < 1 || t.rank > AK_MAX_RANK) return kErrRank;
  if (t.shape[t.rank - 1] != D || numel(t) != D) return kErrShape;
  *step = t.strides[t.rank - 1];
  return kOk;
}

// Checks counts, dtypes and shapes; fills `p`. Returns kOk or an error code.
inline int make_params(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs, int32_t num_outputs,
                       Params* p) {
  if (num_inputs != kNumInputs || num_outputs < 1 || num_outputs > kMaxOutputs) return kErrArgCount;
  const ak_tensor& x = inputs[0];
  const ak_tensor& y = outputs[0];
  if (x.dtype != kDtype || y.dtype != kDtype) return kErrDtype;
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
  p->y = static_cast<T*>(y.data);
  if (kHasScale) {
    if (const int status = check_vector(inputs[1], rows.length, &p->scale_step); status != kOk) return status;
    p->scale = static_cast<const T*>(inputs[1].data);
  }
  if (kHasBias) {
    if (const int status = check_vector(inputs[2], rows.length, &p->bias_step); status != kOk) return status;
    p->bias = static_cast<const T*>(inputs[2].data);
  }
  for (int k = 1; k < num_outputs; ++k) {  // LayerNormalization's Mean and InvStdDev
    if (outputs[k].dtype != 1) return kErrDtype;  // float32 (stash_type 1)
    if (numel(outputs[k]) != rows.count) return kErrShape;
  }
  if (num_outputs > 1) p->mean = static_cast<float*>(outputs[1].data);
  if (num_outputs > 2) p->inv_std_dev = static_cast<float*>(outputs[2].data);
  return kOk;
}

}  // namespace
