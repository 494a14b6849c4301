// kernels/templates/attention_cuda.cu: the attention template for CUDA, a FlashAttention-
// style tiled kernel: softmax(scale * Q x Kt + mask) x V with an online softmax, so the
// [Sq, Sk] scores never reach global memory. The generator replaces the prologue and dtype
// includes with the task's constants and storage type; samples/ stands in for them when
// this file is compiled on its own.
#include <cuda_runtime.h>

#include "attention_prologue.h"  // kDtype, kScale, kMaskKind, kMaskFill, kMaxHeadDim, the parameters
#include "dtype.h"               // T, to_float(), from_float()
#include "attention_problem.h"

namespace {

constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = kBlockQ / kWarps;  // each warp owns these query rows of the tile
static_assert(kRowsPerWarp >= 1 && kBlockQ % kWarps == 0, "block_q must be a multiple of warps");

// Shared memory of one block, in floats: the Q tile, the K and V tiles, the scores tile.
// Q and K rows are padded to D + 1 floats, so that the threads of a warp, reading element
// d of different keys, hit different banks.
__host__ __device__ inline int64_t shared_floats(int64_t D, int64_t Dv) {
  return kBlockQ * (D + 1) + kBlockKv * (D + 1) + kBlockKv * Dv + kBlockQ * kBlockKv;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// One block per (batch, head, tile of kBlockQ query rows). For each tile of kBlockKv keys:
// all threads stage K and V in shared memory (float32) and compute the tile's scores; then
// each warp runs the online softmax over its rows (running max m, running sum l, rescaling
// its accumulators by exp(m_old - m_new)) and adds P x V into registers: lane L holds
// columns L, L + 32, ... of its rows (kDvPerLane of them, Dv <= 32 * kDvPerLane).
template <int kDvPerLane>
__global__ void __launch_bounds__(kThreads) attention_kernel(Problem p, int64_t tiles_per_row) {
  extern __shared__ float shared[];
  const int64_t D = p.D, Dv = p.Dv, Sk = p.Sk, Sq = p.Sq, Dp = D + 1;
  float* qs = shared;                 // [kBlockQ][Dp]
  float* ks = qs + kBlockQ * Dp;      // [kBlockKv][Dp]
  float* vs = ks + kBlockKv * Dp;     // [kBlockKv][Dv]
  float* ss = vs + kBlockKv * Dv;     // [kBlockQ][kBlockKv]
  const int64_t bh = blockIdx.x / tiles_per_row;
  const int64_t i0 = (blockIdx.x % tiles_per_row) * kBlockQ;
  const int64_t b0 = bh / p.batch[1], b1 = bh % p.batch[1];
  const T* qd = static_cast<const T*>(p.q.data) + batch_offset(p.q, b0, b1);
  const T* ktd = static_cast<const T*>(p.kt.data) + batch_offset(p.kt, b0, b1);
  const T* vd = static_cast<const T*>(p.v.data) + batch_offset(p.v, b0, b1);
  const int64_t mask_base = kMaskKind == 1 || kMaskKind == 2 ? batch_offset(p.mask, b0, b1) : 0;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

  for (int64_t e = tid; e < kBlockQ * D; e += kThreads) {
    const int64_t r = e / D, d = e % D;
    qs[r * Dp + d] = i0 + r < Sq ? to_float(qd[(i0 + r) * p.q.row_stride + d * p.q.col_stride]) : 0.0f;
  }
  float acc[kRowsPerWarp][kDvPerLane];
  float m[kRowsPerWarp], l[kRowsPerWarp];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    m[rr] = -INFINITY;
    l[rr] = 0;
#pragma unroll
    for (int c = 0; c < kDvPerLane; ++c) acc[rr][c] = 0;
  }
  // Kt is read along whichever of its dims is contiguous, so that the loads coalesce.
  const bool keys_contiguous = p.kt.col_stride == 1;

  for (int64_t j0 = 0; j0 < Sk; j0 += kBlockKv) {
    const int64_t keys = Sk - j0 < kBlockKv ? Sk - j0 : kBlockKv;
    __syncthreads();  // the previous tile's readers are done
    for (int64_t e = tid; e < kBlockKv * D; e += kThreads) {
      const int64_t j = keys_contiguous ? e % kBlockKv : e / D;
      const int64_t d = keys_contiguous ? e / kBlockKv : e % D;
      ks[j * Dp + d] = j < keys ? to_float(ktd[d * p.kt.row_stride + (j0 + j) * p.kt.col_stride]) : 0.0f;
    }
    for (int64_t e = tid; e < kBlockKv * Dv; e += kThreads) {
      const int64_t j = e / Dv, c = e % Dv;
      vs[e] = j < keys ? to_float(vd[(j0 + j) * p.v.row_stride + c * p.v.col_stride]) : 0.0f;
    }
    __syncthreads();
    for (int e = tid; e < kBlockQ * kBlockKv; e += kThreads) {
      const int r = e / kBlockKv, j = e % kBlockKv;
      float score = -INFINITY;  // rows past Sq and keys past Sk take no part
      if (i0 + r < Sq && j < keys) {
        float dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += qs[r * Dp + d] * ks[j * Dp + d];
        score = masked_score(p, mask_base, i0 + r, j0 + j, dot);
      }
      ss[e] = score;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      float* sr = ss + (warp * kRowsPerWarp + rr) * kBlockKv;
      float block_max = -INFINITY;
      for (int j = lane; j < kBlockKv; j += 32) block_max = fmaxf(block_max, sr[j]);
      const float m_new = fmaxf(m[rr], warp_max(block_max));
      // A row whose scores so far are all -inf (fully masked, or past Sq) has nothing to
      // rescale: exp(-inf - -inf) would be NaN.
      const float correction = m[rr] == -INFINITY ? 0.0f : expf(m[rr] - m_new);
      float sum = 0;
      for (int j = lane; j < kBlockKv; j += 32) {
        const float pj = m_new == -INFINITY ? 0.0f : expf(sr[j] - m_new);
        sr[j] = pj;
        sum += pj;
      }
      l[rr] = l[rr] * correction + warp_sum(sum);
      m[rr] = m_new;
      __syncwarp();  // the row's probabilities are in shared memory for every lane
#pragma unroll
      for (int c = 0; c < kDvPerLane; ++c) acc[rr][c] *= correction;
      for (int64_t j = 0; j < keys; ++j) {
        const float pj = sr[j];
#pragma unroll
        for (int c = 0; c < kDvPerLane; ++c) {
          const int64_t col = lane + 32 * c;
          if (col < Dv) acc[rr][c] += pj * vs[j * Dv + col];
        }
      }
    }
  }
  // A row with every score -inf is 0 / 0 = NaN, as softmax gives there; without keys Y is
  // an empty sum, 0.
  T* y = p.y + ((b0 * p.batch[1] + b1) * Sq + i0) * Dv;
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int64_t r = warp * kRowsPerWarp + rr;
    if (i0 + r >= Sq) continue;
    const float inv = Sk == 0 ? 0.0f : 1.0f / l[rr];
#pragma unroll
    for (int c = 0; c < kDvPerLane; ++c) {
      const int64_t col = lane + 32 * c;
      if (col < Dv) y[r * Dv + col] = from_float(acc[rr][c] * inv);
    }
  }
}

template <int kDvPerLane>
int launch(const Problem& p, cudaStream_t stream) {
  const int64_t tiles_per_row = (p.Sq + kBlockQ - 1) / kBlockQ;
  const int64_t blocks = p.batch[0] * p.batch[1] * tiles_per_row;
  if (blocks > 2147483647) return kErrTooLarge;
  const size_t bytes = static_cast<size_t>(shared_floats(p.D, p.Dv)) * sizeof(float);
  int device = 0, optin = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess)
    return kErrCuda;
  if (bytes > static_cast<size_t>(optin)) return kErrTooLarge;
  // Above 48 KiB a kernel must opt in to the larger shared memory.
  if (cudaFuncSetAttribute(attention_kernel<kDvPerLane>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(bytes)) != cudaSuccess)
    return kErrCuda;
  attention_kernel<kDvPerLane><<<static_cast<unsigned>(blocks), kThreads, bytes, stream>>>(p, tiles_per_row);
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.batch[0] * p.batch[1] == 0 || p.Sq == 0 || p.Dv == 0) return kOk;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  // The V columns each lane accumulates in registers, from Dv (<= kMaxHeadDim = 256); three
  // instantiations keep the compile time down (Dv <= 32 uses half of the lanes' registers).
  if (p.Dv <= 64) return launch<2>(p, s);
  if (p.Dv <= 128) return launch<4>(p, s);
  return launch<8>(p, s);
}
