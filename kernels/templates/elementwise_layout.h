// kernels/templates/elementwise_layout.h: y's shape and each input's broadcast strides,
// checked against ONNX multidirectional broadcasting (both targets).
#pragma once

#include "common.h"
#include "elementwise_prologue.h"

namespace {

// y's shape and, for each input, the stride (in elements) to step along each of y's dims:
// the input's own stride, or 0 where the input is broadcast (a size-1 or missing dim).
struct Layout {
  int rank = 1;  // y's rank; a rank-0 y is treated as shape [1]
  int64_t shape[AK_MAX_RANK] = {};
  int64_t stride[kNumInputs][AK_MAX_RANK] = {};
  int64_t numel = 1;
  bool same_as_output = true;  // every input is laid out exactly like y: the flat fast path
};

// Checks dtypes, ranks and shapes (ONNX multidirectional broadcasting: dims aligned from
// the right, each input dim equal to y's or 1, and y exactly the broadcast of the inputs).
inline int make_layout(const ak_tensor* inputs, const ak_tensor& y, Layout* layout) {
  if (y.dtype != kDtype) return kErrDtype;
  if (y.rank < 0 || y.rank > AK_MAX_RANK) return kErrRank;
  const int rank = y.rank > 0 ? y.rank : 1;
  layout->rank = rank;
  bool covered[AK_MAX_RANK] = {};  // some input has y's size along this dim
  for (int d = 0; d < rank; ++d) {
    layout->shape[d] = y.rank > 0 ? y.shape[d] : 1;
    if (layout->shape[d] < 0) return kErrShape;
    layout->numel *= layout->shape[d];
    covered[d] = layout->shape[d] == 1;
  }
  for (int k = 0; k < kNumInputs; ++k) {
    const ak_tensor& x = inputs[k];
    if (x.dtype != kDtype) return kErrDtype;
    if (x.rank < 0 || x.rank > y.rank) return kErrRank;
    const int lead = rank - x.rank;  // x's dims line up with y's last x.rank dims
    int64_t contiguous_stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t size = d >= lead ? x.shape[d - lead] : 1;
      if (size == layout->shape[d]) {
        layout->stride[k][d] = d >= lead ? x.strides[d - lead] : 0;
        covered[d] = true;
      } else if (size == 1) {
        layout->stride[k][d] = 0;
      } else {
        return kErrShape;
      }
      if (layout->shape[d] != 1 && layout->stride[k][d] != contiguous_stride) layout->same_as_output = false;
      contiguous_stride *= layout->shape[d];
    }
  }
  for (int d = 0; d < rank; ++d) {
    if (!covered[d]) return kErrShape;  // y is larger than the broadcast of the inputs
  }
  return kOk;
}

// Each input's offset (in elements) of the first element of row `row` of y's last dim.
AK_FN void row_offsets(const Layout& layout, int64_t row, int64_t* offset) {
  for (int k = 0; k < kNumInputs; ++k) offset[k] = 0;
  for (int d = layout.rank - 2; d >= 0; --d) {
    const int64_t coordinate = row % layout.shape[d];
    row /= layout.shape[d];
    for (int k = 0; k < kNumInputs; ++k) offset[k] += coordinate * layout.stride[k][d];
  }
}

}  // namespace
