// kernels/templates/layout_problem.h: the data-movement template's map from an output
// element to the input element it copies (both targets). Every op is a byte copy: the
// output's element i (row-major) is one element of one input, found through an affine map
// over an index space (the output's shape; for a copy the input's), plus at most one dim
// that reads a constant index table (Gather) or picks the input (Concat). Shapes come from
// the descriptors at run time; the op's constants (perm, axis, indices, slice bounds) from
// the generated prologue.
#pragma once

#include "common.h"
#include "layout_prologue.h"  // kDtype, kElementBytes, kOp, kNumInputs, kNumUnreadInputs, the op's constants, the parameters

namespace {

// kOp's values: what the task's node is.
enum : int {
  kOpCopy = 0,       // Reshape, Flatten, Squeeze, Unsqueeze, Identity: the input in row-major order
  kOpTranspose = 1,  // y.shape[d] = x.shape[kPerm[d]]
  kOpGather = 2,     // constant indices (kIndices) along kAxis; a scalar index removes the axis
  kOpSlice = 3,      // constant starts / ends / steps per input dim
  kOpConcat = 4,     // the kNumInputs inputs along kAxis
  kOpExpand = 5,     // x broadcast to y's shape
};

// The element type: any type of kElementBytes bytes copies an element exactly.
template <int Bytes>
struct ElementOf;
template <>
struct ElementOf<1> { using type = uint8_t; };
template <>
struct ElementOf<2> { using type = uint16_t; };
template <>
struct ElementOf<4> { using type = uint32_t; };
template <>
struct ElementOf<8> { using type = uint64_t; };
using Element = typename ElementOf<kElementBytes>::type;

// Where output element i comes from: i is unravelled over `shape` (rank dims, row-major),
// and input k's element is at base[k] + sum_d index[d] * coef[k][d]. Concat: the index along
// split_dim picks the input k with split_start[k] <= index < split_start[k + 1]. Gather with
// 1-D indices: the index along table_dim reads kIndices (wrapped by table_size) and steps
// by table_stride.
struct LayoutMap {
  int rank = 0;
  int64_t shape[AK_MAX_RANK] = {};
  int64_t numel = 1;
  int64_t coef[kNumInputs][AK_MAX_RANK] = {};
  int64_t base[kNumInputs] = {};
  int64_t split_start[kNumInputs + 1] = {};
  int split_dim = -1;
  int table_dim = -1;
  int64_t table_size = 0;
  int64_t table_stride = 0;
};

// ONNX Slice's clamping of one dim of `dim` elements: the first index and the count.
inline void slice_dim(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t* first, int64_t* count) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = start < 0 ? 0 : (start > dim ? dim : start);
    end = end < 0 ? 0 : (end > dim ? dim : end);
    *count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = start < 0 ? 0 : (start > dim - 1 ? dim - 1 : start);
    end = end < -1 ? -1 : (end > dim - 1 ? dim - 1 : end);
    *count = start > end ? (start - end - step - 1) / -step : 0;
  }
  *first = *count > 0 ? start : 0;
}

// Checks counts, dtypes, ranks and shapes against the op and fills `m`. kOk or an error code.
inline int make_layout_map(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs, int32_t num_outputs,
                           LayoutMap* m) {
  if (num_inputs != kNumInputs + kNumUnreadInputs || num_outputs != 1) return kErrArgCount;
  const ak_tensor& y = outputs[0];
  const ak_tensor& x = inputs[0];
  if (y.dtype != kDtype) return kErrDtype;
  for (int k = 0; k < kNumInputs; ++k) {
    if (inputs[k].dtype != kDtype) return kErrDtype;
    if (inputs[k].rank < 0 || inputs[k].rank > AK_MAX_RANK) return kErrRank;
    if (kOp != kOpCopy && kOp != kOpExpand && inputs[k].rank != kRank) return kErrRank;
  }
  if (y.rank < 0 || y.rank > AK_MAX_RANK) return kErrRank;
  m->rank = y.rank;
  for (int d = 0; d < y.rank; ++d) m->shape[d] = y.shape[d];
  if (kOp == kOpCopy) {
    // The output's row-major order is the input's: walk the input's index space.
    if (numel(x) != numel(y)) return kErrShape;
    m->rank = x.rank;
    for (int d = 0; d < x.rank; ++d) {
      m->shape[d] = x.shape[d];
      m->coef[0][d] = x.strides[d];
    }
  } else if (kOp == kOpTranspose) {
    if (y.rank != kRank) return kErrRank;
    for (int d = 0; d < kRank; ++d) {
      if (y.shape[d] != x.shape[kPerm[d]]) return kErrShape;
      m->coef[0][d] = x.strides[kPerm[d]];
    }
  } else if (kOp == kOpGather) {
    if (y.rank != kRank - 1 + kIndicesRank) return kErrRank;
    const int64_t n = x.shape[kAxis];
    // Every constant index must fall in [-n, n): ONNX leaves the others undefined.
    if (kNumIndices > 0 && (kIndexMin < -n || kIndexMax >= n)) return kErrShape;
    for (int d = 0; d < kAxis; ++d) {
      if (y.shape[d] != x.shape[d]) return kErrShape;
      m->coef[0][d] = x.strides[d];
    }
    if (kIndicesRank == 1) {
      if (y.shape[kAxis] != kNumIndices) return kErrShape;
      m->table_dim = kAxis;
      m->table_size = n;
      m->table_stride = x.strides[kAxis];
    } else {
      m->base[0] = (kScalarIndex < 0 ? kScalarIndex + n : kScalarIndex) * x.strides[kAxis];
    }
    for (int d = kAxis + 1; d < kRank; ++d) {
      const int out_d = d - 1 + kIndicesRank;
      if (y.shape[out_d] != x.shape[d]) return kErrShape;
      m->coef[0][out_d] = x.strides[d];
    }
  } else if (kOp == kOpSlice) {
    if (y.rank != kRank) return kErrRank;
    for (int d = 0; d < kRank; ++d) {
      int64_t first = 0, count = 0;
      slice_dim(x.shape[d], kStarts[d], kEnds[d], kSteps[d], &first, &count);
      if (y.shape[d] != count) return kErrShape;
      m->base[0] += first * x.strides[d];
      m->coef[0][d] = x.strides[d] * kSteps[d];
    }
  } else if (kOp == kOpConcat) {
    if (y.rank != kRank) return kErrRank;
    m->split_dim = kAxis;
    for (int k = 0; k < kNumInputs; ++k) {
      for (int d = 0; d < kRank; ++d) {
        if (d != kAxis && inputs[k].shape[d] != y.shape[d]) return kErrShape;
        m->coef[k][d] = inputs[k].strides[d];
      }
      m->split_start[k + 1] = m->split_start[k] + inputs[k].shape[kAxis];
    }
    if (m->split_start[kNumInputs] != y.shape[kAxis]) return kErrShape;
  } else {
    // Expand: dims aligned from the right; a size-1 input dim is read again (stride 0).
    if (x.rank > y.rank) return kErrRank;
    const int lead = y.rank - x.rank;
    for (int d = 0; d < x.rank; ++d) {
      if (x.shape[d] == y.shape[lead + d]) m->coef[0][lead + d] = x.strides[d];
      else if (x.shape[d] != 1) return kErrShape;
    }
  }
  m->numel = 1;
  for (int d = 0; d < m->rank; ++d) {
    if (m->shape[d] < 0) return kErrShape;
    m->numel *= m->shape[d];
  }
  return kOk;
}

// The input element that output element i copies; *source is the input it belongs to.
AK_FN const Element* source_element(const LayoutMap& m, const Element* const* src, int64_t i, int* source) {
  int64_t index[AK_MAX_RANK];
  for (int d = m.rank - 1; d >= 0; --d) {
    index[d] = i % m.shape[d];
    i /= m.shape[d];
  }
  int k = 0;
  if (m.split_dim >= 0) {
    while (index[m.split_dim] >= m.split_start[k + 1]) ++k;
    index[m.split_dim] -= m.split_start[k];
  }
  int64_t offset = m.base[k];
  for (int d = 0; d < m.rank; ++d) {
    if (d == m.table_dim) {
      const int64_t j = kIndices[index[d]];
      offset += (j < 0 ? j + m.table_size : j) * m.table_stride;
    } else {
      offset += index[d] * m.coef[k][d];
    }
  }
  *source = k;
  return src[k] + offset;
}

}  // namespace
