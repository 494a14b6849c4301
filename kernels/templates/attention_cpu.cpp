// kernels/templates/attention_cpu.cpp: the attention template for the CPU, a blocked
// online-softmax kernel: softmax(scale * Q x Kt + mask) x V without materializing the
// [Sq, Sk] scores. The generator replaces the prologue and dtype includes with the task's
// constants and storage type; samples/ stands in for them when this file is compiled on
// its own.
#include <vector>

#include "attention_prologue.h"  // kDtype, kScale, kMaskKind, kMaskFill, kMaxHeadDim, the parameters
#include "dtype.h"               // T, to_float(), from_float()
#include "attention_problem.h"

namespace {

// One block of kQueryBlock query rows of batch (b0, b1) against all keys, kKvBlock keys at
// a time. Per row it keeps the running max m, the running sum l of exp(s - m) and the
// unnormalized output acc[Dv]; a new block of keys rescales them by exp(m_old - m_new)
// (online softmax), so every score is computed once and the scores never leave the cache.
void query_block(const Problem& p, int64_t b0, int64_t b1, int64_t i0, std::vector<float>& buffer) {
  const int64_t D = p.D, Dv = p.Dv, Sk = p.Sk;
  const int64_t rows = p.Sq - i0 < kQueryBlock ? p.Sq - i0 : kQueryBlock;
  buffer.resize(static_cast<size_t>(kQueryBlock * D + kKvBlock * D + kKvBlock * Dv + kQueryBlock * Dv +
                                    kQueryBlock * kKvBlock + 2 * kQueryBlock));
  float* q = buffer.data();             // [rows][D]
  float* k = q + kQueryBlock * D;       // [keys][D]: the Kt block transposed, so dot products run along D
  float* v = k + kKvBlock * D;          // [keys][Dv]
  float* acc = v + kKvBlock * Dv;       // [rows][Dv]
  float* s = acc + kQueryBlock * Dv;    // [rows][keys]
  float* m = s + kQueryBlock * kKvBlock;
  float* l = m + kQueryBlock;
  const T* qd = static_cast<const T*>(p.q.data) + batch_offset(p.q, b0, b1);
  const T* ktd = static_cast<const T*>(p.kt.data) + batch_offset(p.kt, b0, b1);
  const T* vd = static_cast<const T*>(p.v.data) + batch_offset(p.v, b0, b1);
  const int64_t mask_base = kMaskKind == 1 || kMaskKind == 2 ? batch_offset(p.mask, b0, b1) : 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t d = 0; d < D; ++d) q[r * D + d] = to_float(qd[(i0 + r) * p.q.row_stride + d * p.q.col_stride]);
    for (int64_t c = 0; c < Dv; ++c) acc[r * Dv + c] = 0;
    m[r] = -INFINITY;
    l[r] = 0;
  }
  for (int64_t j0 = 0; j0 < Sk; j0 += kKvBlock) {
    const int64_t keys = Sk - j0 < kKvBlock ? Sk - j0 : kKvBlock;
    for (int64_t j = 0; j < keys; ++j) {
      for (int64_t d = 0; d < D; ++d) k[j * D + d] = to_float(ktd[d * p.kt.row_stride + (j0 + j) * p.kt.col_stride]);
      for (int64_t c = 0; c < Dv; ++c) v[j * Dv + c] = to_float(vd[(j0 + j) * p.v.row_stride + c * p.v.col_stride]);
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* sr = s + r * kKvBlock;
      float block_max = -INFINITY;
      for (int64_t j = 0; j < keys; ++j) {
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t d = 0; d < D; ++d) dot += q[r * D + d] * k[j * D + d];
        sr[j] = masked_score(p, mask_base, i0 + r, j0 + j, dot);
        block_max = fmaxf(block_max, sr[j]);
      }
      const float m_new = fmaxf(m[r], block_max);
      // A row whose scores so far are all -inf (fully masked) has nothing to rescale; exp of
      // -inf - -inf would be NaN and poison the keys that follow.
      const float correction = m[r] == -INFINITY ? 0.0f : expf(m[r] - m_new);
      float sum = 0;
      for (int64_t j = 0; j < keys; ++j) {
        sr[j] = m_new == -INFINITY ? 0.0f : expf(sr[j] - m_new);
        sum += sr[j];
      }
      l[r] = l[r] * correction + sum;
      m[r] = m_new;
      float* ar = acc + r * Dv;
      for (int64_t c = 0; c < Dv; ++c) ar[c] *= correction;
      for (int64_t j = 0; j < keys; ++j) {
        const float pj = sr[j];
#pragma omp simd
        for (int64_t c = 0; c < Dv; ++c) ar[c] += pj * v[j * Dv + c];
      }
    }
  }
  // A row with every score -inf is 0 / 0 = NaN, as softmax gives there; without keys Y is
  // an empty sum, 0.
  T* y = p.y + ((b0 * p.batch[1] + b1) * p.Sq + i0) * Dv;
  for (int64_t r = 0; r < rows; ++r) {
    const float inv = Sk == 0 ? 0.0f : 1.0f / l[r];
    for (int64_t c = 0; c < Dv; ++c) y[r * Dv + c] = from_float(acc[r * Dv + c] * inv);
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.Sq == 0 || p.Dv == 0) return kOk;
  const int64_t blocks_per_row = (p.Sq + kQueryBlock - 1) / kQueryBlock;
  const int64_t tasks = p.batch[0] * p.batch[1] * blocks_per_row;
  // One task per (batch, head, query block): they write disjoint rows of Y.
#pragma omp parallel
  {
    std::vector<float> buffer;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t block = t % blocks_per_row, bh = t / blocks_per_row;
      query_block(p, bh / p.batch[1], bh % p.batch[1], block * kQueryBlock, buffer);
    }
  }
  return kOk;
}
