// kernels/templates/gemm_epilogue_cuda.cu: the GEMM-with-epilogue template for CUDA, through
// cuBLASLt: the product with cuBLASLt's own epilogue where it has one (bias, ReLU + bias,
// GELU(tanh) + bias, on a [N] bias in Y's dtype), then one fused elementwise kernel for the
// rest of the epilogue (activations, residual, scale), in place in Y. The generator replaces
// the prologue, dtype, shape and apply includes with the task's constants, storage type,
// shape checks and epilogue expressions; samples/ stands in for them when this file is
// compiled on its own.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstring>
#include <mutex>

#include "gemm_epilogue_prologue.h"  // kDtype, kOutputDtype, kNumInputs, kAlpha, kCudaType, kLt*, the parameters
#include "dtype.h"                   // T, to_float(), from_float()
#include "gemm_epilogue_shape.h"     // make_problem(): matmul_problem.h or gemm_problem.h
#include "cublas_operand.cuh"
#include "library_device.cuh"
#include "elementwise_ops.h"
#include "epilogue_apply.h"          // apply(x): the whole epilogue; apply_rest(x): what follows cuBLASLt's
#include "epilogue_layout.h"

namespace {

// cuBLASLt's handle and workspace, one per device (library_device.cuh).
constexpr size_t kWorkspaceBytes = size_t{32} << 20;
using LtDevice = LibraryDevice<cublasLtHandle_t>;

const LtDevice* lt_for_current_device() {
  return library_for_current_device<cublasLtHandle_t>(
      kWorkspaceBytes, [](cublasLtHandle_t* handle) { return cublasLtCreate(handle) == CUBLAS_STATUS_SUCCESS; });
}

// The largest power of two (at most 256) that divides the address: what the heuristic may
// assume about an operand's alignment.
uint32_t alignment_of(const void* pointer) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

// The cuBLASLt objects of one operand configuration.
struct LtCall {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, y = nullptr;
  cublasLtMatmulPreference_t preference = nullptr;
  void reset() {
    if (preference) cublasLtMatmulPreferenceDestroy(preference);
    if (y) cublasLtMatrixLayoutDestroy(y);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
    *this = LtCall();
  }
};

// What decides a prepared call: everything lt_matmul passes to cuBLASLt except the data
// pointers (their alignments are part of it) and the bias pointer (set on every call).
struct PlanKey {
  const void* device;  // the LtDevice: its handle and workspace
  uint64_t M, N, K;
  int op_a, op_b, lda, ldb, count, epilogue;
  int64_t a_step, b_step;
  uint32_t align_a, align_b, align_y;
};

// A prepared call (library_device.cuh's PlanTable): the descriptors and the algorithm
// chosen for them.
struct LtPlan {
  LtCall call;
  cublasLtMatmulAlgo_t algo;
  void reset() { call.reset(); }
};
constexpr int kPlanSlots = 32;

#define AK_LT(call)                                   \
  do {                                                \
    if ((call) != CUBLAS_STATUS_SUCCESS) return kErrCublas; \
  } while (0)

// A column-major layout of `count` matrices `step` elements apart.
int lt_layout(cublasLtMatrixLayout_t* layout, cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t ld,
              int count, int64_t step) {
  AK_LT(cublasLtMatrixLayoutCreate(layout, type, rows, cols, ld));
  if (count > 1) {
    AK_LT(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
    AK_LT(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &step, sizeof step));
  }
  return kOk;
}

// Y[i] = kAlpha * A'[i] B'[i] (+ cuBLASLt's epilogue on `bias`) for `count` matrices whose
// offsets grow by a_step, b_step and M * N. Computed as the column-major Y^T = B'^T A'^T (see
// cublas_operand.cuh). The algorithm is entry kAlgoIndex of cuBLASLt's heuristic list for
// these operands, or entry 0 when the list is shorter.
int lt_matmul(const LtDevice& lt, const Problem& p, cublasOperation_t op_a, int lda, cublasOperation_t op_b, int ldb,
              const T* a, const T* b, Out* y, int64_t a_step, int64_t b_step, int count,
              cublasLtEpilogue_t epilogue, const void* bias, cudaStream_t stream) {
  const uint64_t M = static_cast<uint64_t>(p.M), N = static_cast<uint64_t>(p.N), K = static_cast<uint64_t>(p.K);
  const uint32_t align_a = alignment_of(b), align_b = alignment_of(a), align_y = alignment_of(y);
  PlanKey key;
  std::memset(&key, 0, sizeof key);  // padding too: keys are compared bytewise
  key.device = &lt;
  key.M = M, key.N = N, key.K = K;
  key.op_a = op_a, key.op_b = op_b, key.lda = lda, key.ldb = ldb, key.count = count, key.epilogue = epilogue;
  key.a_step = a_step, key.b_step = b_step;
  key.align_a = align_a, key.align_b = align_b, key.align_y = align_y;
  static std::mutex mutex;
  static PlanTable<PlanKey, LtPlan, kPlanSlots> plans;
  std::lock_guard<std::mutex> lock(mutex);
  auto* slot = plans.find(key);
  LtPlan* plan = &slot->plan;
  LtCall& c = plan->call;
  if (slot->ready) {
    if (epilogue != CUBLASLT_EPILOGUE_DEFAULT)
      AK_LT(cublasLtMatmulDescSetAttribute(c.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const float alpha = kAlpha, beta = 0.0f;
    AK_LT(cublasLtMatmul(lt.handle, c.op, &alpha, b, c.b, a, c.a, &beta, y, c.y, y, c.y, &plan->algo,
                         lt.workspace, kWorkspaceBytes, stream));
    return kOk;
  }
  AK_LT(cublasLtMatmulDescCreate(&c.op, kComputeType, CUDA_R_32F));
  AK_LT(cublasLtMatmulDescSetAttribute(c.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof op_b));
  AK_LT(cublasLtMatmulDescSetAttribute(c.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof op_a));
  if (epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    AK_LT(cublasLtMatmulDescSetAttribute(c.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
    AK_LT(cublasLtMatmulDescSetAttribute(c.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  }
  // Stored shapes (before the op): B'^T is N x K (op N: B as stored) or K x N (op T).
  if (const int s = lt_layout(&c.b, kCudaType, op_b == CUBLAS_OP_N ? N : K, op_b == CUBLAS_OP_N ? K : N, ldb, count,
                              b_step); s != kOk) return s;
  if (const int s = lt_layout(&c.a, kCudaType, op_a == CUBLAS_OP_N ? K : M, op_a == CUBLAS_OP_N ? M : K, lda, count,
                              a_step); s != kOk) return s;
  if (const int s = lt_layout(&c.y, kOutCudaType, N, M, static_cast<int64_t>(N), count, p.M * p.N); s != kOk) return s;

  AK_LT(cublasLtMatmulPreferenceCreate(&c.preference));
  const uint64_t workspace = kWorkspaceBytes;
  AK_LT(cublasLtMatmulPreferenceSetAttribute(c.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                             sizeof workspace));
  AK_LT(cublasLtMatmulPreferenceSetAttribute(c.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                             sizeof align_a));
  AK_LT(cublasLtMatmulPreferenceSetAttribute(c.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                             sizeof align_b));
  AK_LT(cublasLtMatmulPreferenceSetAttribute(c.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_y,
                                             sizeof align_y));
  AK_LT(cublasLtMatmulPreferenceSetAttribute(c.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_y,
                                             sizeof align_y));
  constexpr int kRequested = 8;
  cublasLtMatmulHeuristicResult_t results[kRequested] = {};
  int returned = 0;
  AK_LT(cublasLtMatmulAlgoGetHeuristic(lt.handle, c.op, c.b, c.a, c.y, c.y, c.preference, kRequested, results,
                                       &returned));
  if (returned <= 0) return kErrCublas;
  const int chosen = kAlgoIndex < returned ? kAlgoIndex : 0;  // past the list's end: its first entry
  plan->algo = results[chosen].algo;
  slot->ready = true;
  const float alpha = kAlpha, beta = 0.0f;
  AK_LT(cublasLtMatmul(lt.handle, c.op, &alpha, b, c.b, a, c.a, &beta, y, c.y, y, c.y, &plan->algo,
                       lt.workspace, kWorkspaceBytes, stream));
  return kOk;
}

// Kernel arguments of the epilogue kernel, passed by value.
struct EpilogueParams {
  Out* y;
  const T* x[kExtraSlots];
  EpilogueLayout layout;
  int64_t numel;
};

// y = apply(y, epilogue tensors) in place (kRest: apply_rest, what follows cuBLASLt's own
// epilogue), one grid-stride loop over Y.
template <bool kRest>
__global__ void epilogue_kernel(EpilogueParams p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t offset[kExtraSlots];
    epilogue_offsets(p.layout, i, offset);
    float v[kExtraInputs + 1];
    v[0] = load(p.y[i]);
#pragma unroll
    for (int k = 0; k < kExtraInputs; ++k) v[k + 1] = to_float(p.x[k][offset[k]]);
    store(&p.y[i], kRest ? apply_rest(v) : apply(v));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Problem p;
  int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  EpilogueParams e;
  status = make_epilogue_layout(inputs + kFirstEpilogueInput, outputs[0], &e.layout);
  if (status != kOk) return status;
  if (p.batch == 0 || p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  Out* y = static_cast<Out*>(outputs[0].data);
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  // A batch of A matrices stacked as rows times one shared B is one taller product
  // ([batch * M, K] x [K, N]): one call, and cuBLASLt's bias epilogue applies.
  int64_t a_step = 0, b_step = 0;
  if (p.batch > 1) batch_offsets(p, 1, &a_step, &b_step);
  bool linear = true;  // A's and B's batch offsets grow linearly with the batch index
  for (int64_t i = 0; i < p.batch && linear; ++i) {
    int64_t a_offset, b_offset;
    batch_offsets(p, i, &a_offset, &b_offset);
    linear = a_offset == i * a_step && b_offset == i * b_step;
  }
  if (p.batch > 1 && linear && b_step == 0 && (p.M == 1 ? a_step >= p.K : a_step == p.M * p.a_row_stride)) {
    if (p.M == 1) p.a_row_stride = a_step;
    p.M *= p.batch;
    p.batch = 1;
  }

  // cuBLASLt's bias epilogue takes a contiguous, aligned [N] bias in Y's dtype, for one batch.
  bool fused = false;
  if (kLtBiasInput >= 0 && p.batch == 1 && p.K > 0) {
    const ak_tensor& bias = inputs[kLtBiasInput];
    fused = bias.rank >= 1 && numel(bias) == p.N && bias.shape[bias.rank - 1] == p.N &&
            (bias.strides[bias.rank - 1] == 1 || p.N == 1) && alignment_of(bias.data) >= 16;
  }

  if (p.K == 0) {
    // An empty sum: the product is all zeros.
    if (cudaMemsetAsync(y, 0, p.batch * p.M * p.N * sizeof(Out), s) != cudaSuccess) return kErrCuda;
  } else {
    const int64_t kIntMax = 2147483647;
    if (p.M > kIntMax || p.N > kIntMax || p.K > kIntMax || p.batch > kIntMax) return kErrTooLarge;
    cublasOperation_t op_a, op_b;
    int lda = 0, ldb = 0;
    if (!cublas_operand(p.M, p.K, p.a_row_stride, p.a_col_stride, &op_a, &lda)) return kErrLayout;
    if (!cublas_operand(p.K, p.N, p.b_row_stride, p.b_col_stride, &op_b, &ldb)) return kErrLayout;
    const LtDevice* lt = lt_for_current_device();
    if (!lt) return kErrCublas;
    const cublasLtEpilogue_t epilogue = fused ? kLtEpilogue : CUBLASLT_EPILOGUE_DEFAULT;
    const void* bias = fused ? inputs[kLtBiasInput].data : nullptr;
    if (linear) {
      status = lt_matmul(*lt, p, op_a, lda, op_b, ldb, a, b, y, a_step, b_step, static_cast<int>(p.batch), epilogue,
                         bias, s);
      if (status != kOk) return status;
    } else {
      for (int64_t i = 0; i < p.batch; ++i) {
        int64_t a_offset, b_offset;
        batch_offsets(p, i, &a_offset, &b_offset);
        status = lt_matmul(*lt, p, op_a, lda, op_b, ldb, a + a_offset, b + b_offset, y + i * p.M * p.N, 0, 0, 1,
                           epilogue, bias, s);
        if (status != kOk) return status;
      }
    }
  }

  // The rest of the epilogue, in place: all of it, or what follows cuBLASLt's part.
  if (fused ? kLtHasRest : kHasEpilogue) {
    e.y = y;
    for (int k = 0; k < kExtraInputs; ++k) e.x[k] = static_cast<const T*>(inputs[kFirstEpilogueInput + k].data);
    e.numel = p.batch * p.M * p.N;
    if (fused) {
      epilogue_kernel<true><<<epilogue_blocks(e.numel), kEpilogueThreads, 0, s>>>(e);
    } else {
      epilogue_kernel<false><<<epilogue_blocks(e.numel), kEpilogueThreads, 0, s>>>(e);
    }
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
