// kernels/templates/attention_problem.h: the shapes of softmax(scale * Q x Kt + mask) x V
// as the exported MatMul -> scale -> mask -> Softmax -> MatMul nodes compute it, and their
// checks (both targets).
//
// Q [..., Sq, D], Kt [..., D, Sk] (K already transposed: any strides, so a K stored as
// [..., Sk, D] and passed transposed costs nothing), V [..., Sk, Dv] -> Y [..., Sq, Dv].
// Up to two batch dims (batch, heads), aligned from the right as in MatMul; a size-1 batch
// dim broadcasts, and Kt's and V's batch dims may also divide Y's (grouped-query attention:
// query head h reads key/value head h / (H / Hkv)). The mask (kMaskKind 1 additive, of the
// kernel's dtype; 2 boolean, true = masked) broadcasts to [..., Sq, Sk] from the right;
// kMaskKind 3 and 4 are a causal mask without an input (key j is masked for query row i
// where j > i + Sk - Sq): the score becomes kMaskFill (3) or has it added (4).
#pragma once

#include "attention_prologue.h"
#include "dtype.h"

namespace {

constexpr int kBatchDims = 2;  // batch, heads: Y has rank 2 to 4

// One operand: its data and, for each of Y's two (padded) batch dims, the divisor that maps
// Y's index to the operand's (1 = same index, Y's size = broadcast, H / Hkv = grouped) and
// the stride; then the strides of its two matrix dims.
struct Operand {
  const void* data = nullptr;
  int64_t batch_div[kBatchDims] = {1, 1};
  int64_t batch_stride[kBatchDims] = {0, 0};
  int64_t row_stride = 0, col_stride = 0;
};

struct Problem {
  int64_t batch[kBatchDims] = {1, 1};  // Y's batch dims, padded with 1 on the left
  int64_t Sq = 0, Sk = 0, D = 0, Dv = 0;
  Operand q, kt, v, mask;
  T* y = nullptr;  // contiguous [batch..., Sq, Dv]
};

// The offset of batch (b0, b1) of `o`.
AK_HOST_DEVICE int64_t batch_offset(const Operand& o, int64_t b0, int64_t b1) {
  return (b0 / o.batch_div[0]) * o.batch_stride[0] + (b1 / o.batch_div[1]) * o.batch_stride[1];
}

// Fills the batch part of `o` from tensor `t` (whose last two dims are its matrix dims);
// `grouped` allows a batch dim that divides Y's. kOk or kErrShape.
inline int batch_layout(const ak_tensor& t, const Problem& p, bool grouped, Operand* o) {
  const int lead = t.rank - 2;  // t's batch dims
  for (int d = 0; d < kBatchDims; ++d) {
    const int td = d - (kBatchDims - lead);  // t's dim for Y's padded dim d, < 0 when t lacks it
    const int64_t size = td >= 0 ? t.shape[td] : 1;
    const int64_t out = p.batch[d];
    if (size == out) {
      o->batch_div[d] = 1;
    } else if (size == 1 || (grouped && size > 0 && out % size == 0)) {
      o->batch_div[d] = out / size;
    } else {
      return kErrShape;
    }
    o->batch_stride[d] = td >= 0 && size != 1 ? t.strides[td] : 0;
  }
  o->data = t.data;
  o->row_stride = t.strides[t.rank - 2];
  o->col_stride = t.strides[t.rank - 1];
  return kOk;
}

// Checks counts, dtypes and shapes; fills `p`. Returns kOk or an error code.
inline int make_problem(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs, int32_t num_outputs,
                        Problem* p) {
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  const ak_tensor& q = inputs[0];
  const ak_tensor& kt = inputs[1];
  const ak_tensor& v = inputs[2];
  const ak_tensor& y = outputs[0];
  if (q.dtype != kDtype || kt.dtype != kDtype || v.dtype != kDtype || y.dtype != kDtype) return kErrDtype;
  if (y.rank < 2 || y.rank > 2 + kBatchDims) return kErrRank;
  for (const ak_tensor* t : {&q, &kt, &v}) {
    if (t->rank < 2 || t->rank > y.rank) return kErrRank;
  }
  for (int d = 0; d < y.rank; ++d) {
    if (y.shape[d] < 0) return kErrShape;
  }
  for (int d = 0; d < y.rank - 2; ++d) p->batch[d + kBatchDims - (y.rank - 2)] = y.shape[d];
  p->Sq = q.shape[q.rank - 2];
  p->D = q.shape[q.rank - 1];
  p->Sk = kt.shape[kt.rank - 1];
  p->Dv = v.shape[v.rank - 1];
  if (kt.shape[kt.rank - 2] != p->D || v.shape[v.rank - 2] != p->Sk) return kErrShape;
  if (y.shape[y.rank - 2] != p->Sq || y.shape[y.rank - 1] != p->Dv) return kErrShape;
  if (p->D > kMaxHeadDim || p->Dv > kMaxHeadDim) return kErrShape;
  if (const int s = batch_layout(q, *p, false, &p->q); s != kOk) return s;
  if (const int s = batch_layout(kt, *p, true, &p->kt); s != kOk) return s;
  if (const int s = batch_layout(v, *p, true, &p->v); s != kOk) return s;
  // Q's batch dims must be Y's (or broadcast); Y must not be larger than the inputs'.
  for (int d = 0; d < kBatchDims; ++d) {
    const bool covered = p->batch[d] == 1 || p->q.batch_div[d] == 1 || p->kt.batch_div[d] == 1 ||
                         p->v.batch_div[d] == 1;
    if (!covered) return kErrShape;
  }
  if (kMaskKind == 1 || kMaskKind == 2) {
    const ak_tensor& mask = inputs[3];
    if (mask.dtype != (kMaskKind == 2 ? AK_DTYPE_BOOL : kDtype)) return kErrDtype;
    if (mask.rank > y.rank) return kErrRank;
    // A rank-0 or rank-1 mask broadcasts over the rows (and everything) like a [1, Sk] one.
    ak_tensor m = mask;
    if (m.rank < 2) {
      const int64_t cols = m.rank == 1 ? m.shape[0] : 1;
      const int64_t col_stride = m.rank == 1 ? m.strides[0] : 0;
      m.rank = 2;
      m.shape[0] = 1;
      m.shape[1] = cols;
      m.strides[0] = 0;
      m.strides[1] = col_stride;
    }
    const int64_t rows = m.shape[m.rank - 2], cols = m.shape[m.rank - 1];
    if ((rows != p->Sq && rows != 1) || (cols != p->Sk && cols != 1)) return kErrShape;
    if (const int s = batch_layout(m, *p, false, &p->mask); s != kOk) return s;
    if (rows == 1) p->mask.row_stride = 0;
    if (cols == 1) p->mask.col_stride = 0;
  }
  p->y = static_cast<T*>(y.data);
  return kOk;
}

// The masked, scaled score of query row i and key column j of batch (b0, b1), given the
// dot product q . k; -INFINITY never appears unless the mask puts it there.
AK_FN float masked_score(const Problem& p, int64_t mask_base, int64_t i, int64_t j, float dot) {
  const float s = dot * kScale;
  if constexpr (kMaskKind == 1) {
    const T* mask = static_cast<const T*>(p.mask.data);
    return s + to_float(mask[mask_base + i * p.mask.row_stride + j * p.mask.col_stride]);
  } else if constexpr (kMaskKind == 2) {
    const uint8_t* mask = static_cast<const uint8_t*>(p.mask.data);
    return mask[mask_base + i * p.mask.row_stride + j * p.mask.col_stride] ? kMaskFill : s;
  } else if constexpr (kMaskKind == 3 || kMaskKind == 4) {
    (void)mask_base;
    if (j <= i + (p.Sk - p.Sq)) return s;
    return kMaskKind == 3 ? kMaskFill : s + kMaskFill;
  } else {
    (void)p, (void)mask_base, (void)i, (void)j;
    return s;
  }
}

}  // namespace
