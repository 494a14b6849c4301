// kernels/templates/epilogue_layout.h: the fused epilogue of the GEMM-epilogue and conv
// templates: Y's storage type and the epilogue tensors (bias, residual, Gemm's C, ...), each
// broadcast to Y's shape (both targets). Needs the prologue's kDtype, kOutputDtype,
// kNumInputs and kFirstEpilogueInput, and dtype.h's T.
#pragma once

#include <type_traits>

#include "common.h"

namespace {

// Y's storage: T, or float when the epilogue ends in a Cast to float32 (kOutputDtype = 1).
using Out = std::conditional_t<kOutputDtype == kDtype, T, float>;

template <typename V>
AK_FN float load(V v) {
  if constexpr (std::is_same_v<V, T>) {
    return to_float(v);
  } else {
    return v;
  }
}

template <typename V>
AK_FN void store(V* out, float v) {
  if constexpr (std::is_same_v<V, T>) {
    *out = from_float(v);
  } else {
    *out = v;
  }
}

// The epilogue tensors are kernel inputs kFirstEpilogueInput .. kNumInputs - 1 (after A and B,
// or X, W and the conv's bias); the epilogue reads them as its inputs 1 .. kExtraInputs (its
// input 0 is the product or the convolution).
constexpr int kExtraInputs = kNumInputs - kFirstEpilogueInput;
constexpr int kExtraSlots = kExtraInputs > 0 ? kExtraInputs : 1;

// Y's shape and, for each epilogue tensor, its stride along each of Y's dims (0 where it is
// broadcast: a size-1 or missing dim).
struct EpilogueLayout {
  int rank = 1;  // Y's rank; a rank-0 Y is treated as shape [1]
  int64_t shape[AK_MAX_RANK] = {};
  int64_t stride[kExtraSlots][AK_MAX_RANK] = {};
};

// Checks the epilogue tensors: dtype kDtype, each broadcastable to Y (dims aligned from the
// right, each equal to Y's or 1; the epilogue never makes Y larger than the product).
inline int make_epilogue_layout(const ak_tensor* extras, const ak_tensor& y, EpilogueLayout* e) {
  e->rank = y.rank > 0 ? y.rank : 1;
  for (int d = 0; d < e->rank; ++d) e->shape[d] = y.rank > 0 ? y.shape[d] : 1;
  for (int k = 0; k < kExtraInputs; ++k) {
    const ak_tensor& x = extras[k];
    if (x.dtype != kDtype) return kErrDtype;
    if (x.rank < 0 || x.rank > y.rank) return kErrRank;
    const int lead = e->rank - x.rank;
    for (int d = 0; d < e->rank; ++d) {
      const int64_t size = d >= lead ? x.shape[d - lead] : 1;
      if (size != e->shape[d] && size != 1) return kErrShape;
      e->stride[k][d] = size == 1 ? 0 : x.strides[d - lead];
    }
  }
  return kOk;
}

// Each epilogue tensor's offset for Y's flat element index `flat`.
AK_FN void epilogue_offsets(const EpilogueLayout& e, int64_t flat, int64_t* offset) {
  for (int k = 0; k < kExtraInputs; ++k) offset[k] = 0;
  for (int d = e.rank - 1; d >= 0; --d) {
    const int64_t coordinate = flat % e.shape[d];
    flat /= e.shape[d];
    for (int k = 0; k < kExtraInputs; ++k) offset[k] += coordinate * e.stride[k][d];
  }
}

}  // namespace
