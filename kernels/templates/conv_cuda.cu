// kernels/templates/conv_cuda.cu: the convolution (+ bias + epilogue) template for CUDA,
// through cuDNN's convolution API (cudnnConvolutionForward, the algorithm picked from
// cudnnGetConvolutionForwardAlgorithm_v7's list), then one fused elementwise kernel for the
// bias and the epilogue, in place in Y. The generator replaces the prologue, dtype and apply
// includes with the task's constants, storage type and epilogue expression; samples/ stands
// in for them when this file is compiled on its own.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstring>
#include <mutex>

#include "conv_prologue.h"     // kDtype, kNumInputs, kSpatial, kGroup, kStride, ..., kCudnnType, kMathType, the parameters
#include "dtype.h"             // T, to_float(), from_float()
#include "conv_problem.h"
#include "cublas_operand.cuh"  // epilogue_blocks()
#include "library_device.cuh"
#include "elementwise_ops.h"
#include "epilogue_apply.h"    // apply(x): Y's element from x[0] = conv + bias, x[1..] the epilogue tensors
#include "epilogue_layout.h"

namespace {

// cuDNN's handle and workspace, one per device (library_device.cuh). An algorithm that
// needs more workspace is passed over.
constexpr size_t kWorkspaceBytes = size_t{64} << 20;
using CudnnDevice = LibraryDevice<cudnnHandle_t>;

const CudnnDevice* cudnn_for_current_device() {
  return library_for_current_device<cudnnHandle_t>(
      kWorkspaceBytes, [](cudnnHandle_t* handle) { return cudnnCreate(handle) == CUDNN_STATUS_SUCCESS; });
}

// A prepared call (library_device.cuh's PlanTable): the cuDNN descriptors of one
// configuration and the algorithm chosen for it. On the H200 the version that made them and
// asked cuDNN's heuristic on every call ran 0.007-0.13x the reference and kept 1.4-2.1 GiB
// of device memory allocated: cuDNN grows its own caches per descriptor set.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  void reset() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
    *this = ConvPlan();
  }
};

// What decides a prepared call: the handle (its device) and the descriptors' values.
struct ConvKey {
  const void* device;
  int xd[4], xs[4], wd[4], yd[4];
};
constexpr int kPlanSlots = 32;

#define AK_DNN(call)                                         \
  do {                                                       \
    if ((call) != CUDNN_STATUS_SUCCESS) return kErrCublas;   \
  } while (0)

// Whether every value fits cuDNN's int arguments.
bool fits_int(const int64_t* values, int count) {
  for (int i = 0; i < count; ++i) {
    if (values[i] < 0 || values[i] > 2147483647) return false;
  }
  return true;
}

// Y = conv(X, W) through cuDNN: the kAlgoIndex-th usable entry of its heuristic list (usable:
// supported, within the workspace, and no TF32 unless kMathType allows tensor ops), or the
// first usable one when the list is shorter.
int cudnn_conv(const CudnnDevice& dnn, const ConvShape& c, const T* x, const T* w, T* y, cudaStream_t stream) {
  const int64_t x_dims[4] = {c.N, c.C, c.H, c.W};
  const int64_t w_dims[4] = {c.M, c.C / kGroup, c.KH, c.KW};
  const int64_t y_dims[4] = {c.N, c.M, c.OH, c.OW};
  const int64_t y_strides[4] = {c.M * c.OH * c.OW, c.OH * c.OW, c.OW, 1};
  if (!fits_int(x_dims, 4) || !fits_int(c.x_stride, 4) || !fits_int(y_dims, 4) || !fits_int(y_strides, 4))
    return kErrTooLarge;
  // cuDNN reads the filter packed (NCHW).
  const int64_t packed[4] = {w_dims[1] * c.KH * c.KW, c.KH * c.KW, c.KW, 1};
  for (int d = 0; d < 4; ++d) {
    if (w_dims[d] > 1 && c.w_stride[d] != packed[d]) return kErrLayout;
  }
  int xd[4], xs[4], wd[4], yd[4], ys[4];
  for (int d = 0; d < 4; ++d) {
    xd[d] = static_cast<int>(x_dims[d]), xs[d] = static_cast<int>(c.x_stride[d]);
    wd[d] = static_cast<int>(w_dims[d]), yd[d] = static_cast<int>(y_dims[d]), ys[d] = static_cast<int>(y_strides[d]);
  }
  const int pads[2] = {static_cast<int>(kPadBegin[0]), static_cast<int>(kPadBegin[1])};
  const int strides[2] = {static_cast<int>(kStride[0]), static_cast<int>(kStride[1])};
  const int dilations[2] = {static_cast<int>(kDilation[0]), static_cast<int>(kDilation[1])};

  ConvKey key;
  std::memset(&key, 0, sizeof key);  // padding too: keys are compared bytewise
  key.device = &dnn;
  for (int d = 0; d < 4; ++d) key.xd[d] = xd[d], key.xs[d] = xs[d], key.wd[d] = wd[d], key.yd[d] = yd[d];
  static std::mutex mutex;
  static PlanTable<ConvKey, ConvPlan, kPlanSlots> plans;
  std::lock_guard<std::mutex> lock(mutex);
  auto* slot = plans.find(key);
  ConvPlan& call = slot->plan;
  const float alpha = 1.0f, beta = 0.0f;
  if (slot->ready) {
    AK_DNN(cudnnSetStream(dnn.handle, stream));
    AK_DNN(cudnnConvolutionForward(dnn.handle, &alpha, call.x, x, call.w, w, call.conv, call.algo, dnn.workspace,
                                   kWorkspaceBytes, &beta, call.y, y));
    return kOk;
  }
  AK_DNN(cudnnCreateTensorDescriptor(&call.x));
  AK_DNN(cudnnSetTensorNdDescriptor(call.x, kCudnnType, 4, xd, xs));
  AK_DNN(cudnnCreateTensorDescriptor(&call.y));
  AK_DNN(cudnnSetTensorNdDescriptor(call.y, kCudnnType, 4, yd, ys));
  AK_DNN(cudnnCreateFilterDescriptor(&call.w));
  AK_DNN(cudnnSetFilterNdDescriptor(call.w, kCudnnType, CUDNN_TENSOR_NCHW, 4, wd));
  AK_DNN(cudnnCreateConvolutionDescriptor(&call.conv));
  // Float accumulation for every dtype.
  AK_DNN(cudnnSetConvolutionNdDescriptor(call.conv, 2, pads, strides, dilations, CUDNN_CROSS_CORRELATION,
                                         CUDNN_DATA_FLOAT));
  AK_DNN(cudnnSetConvolutionGroupCount(call.conv, static_cast<int>(kGroup)));
  AK_DNN(cudnnSetConvolutionMathType(call.conv, kMathType));

  constexpr int kRequested = 8;
  cudnnConvolutionFwdAlgoPerf_t results[kRequested] = {};
  int returned = 0;
  AK_DNN(cudnnGetConvolutionForwardAlgorithm_v7(dnn.handle, call.x, call.w, call.conv, call.y, kRequested, &returned,
                                                results));
  int first = -1, chosen = -1, usable = 0;
  for (int i = 0; i < returned; ++i) {
    const cudnnConvolutionFwdAlgoPerf_t& r = results[i];
    const bool fma_only = kMathType == CUDNN_FMA_MATH;  // float32 without TF32
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kWorkspaceBytes || (fma_only && r.mathType != CUDNN_FMA_MATH))
      continue;
    if (first < 0) first = i;
    if (usable++ == kAlgoIndex) chosen = i;
  }
  if (chosen < 0) chosen = first;  // past the list's end: its first usable entry
  if (chosen < 0) return kErrCublas;
  AK_DNN(cudnnSetConvolutionMathType(call.conv, results[chosen].mathType));
  call.algo = results[chosen].algo;
  slot->ready = true;
  AK_DNN(cudnnSetStream(dnn.handle, stream));
  AK_DNN(cudnnConvolutionForward(dnn.handle, &alpha, call.x, x, call.w, w, call.conv, call.algo, dnn.workspace,
                                 kWorkspaceBytes, &beta, call.y, y));
  return kOk;
}

// Kernel arguments of the epilogue kernel, passed by value.
struct EpilogueParams {
  T* y;
  const T* bias;
  int64_t bias_step;
  int64_t channels, pixels;  // M and OH * OW: element i is in channel i / pixels % channels
  const T* x[kExtraSlots];
  EpilogueLayout layout;
  int64_t numel;
};

// y = apply(y + bias[channel], epilogue tensors) in place, one grid-stride loop over Y.
__global__ void epilogue_kernel(EpilogueParams p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t offset[kExtraSlots];
    epilogue_offsets(p.layout, i, offset);
    float v[kExtraInputs + 1];
    v[0] = to_float(p.y[i]);
    if (kHasBias) v[0] += to_float(p.bias[(i / p.pixels % p.channels) * p.bias_step]);
#pragma unroll
    for (int k = 0; k < kExtraInputs; ++k) v[k + 1] = to_float(p.x[k][offset[k]]);
    p.y[i] = from_float(apply(v));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  ConvShape c;
  int status = make_conv(inputs, num_inputs, outputs, num_outputs, &c);
  if (status != kOk) return status;
  EpilogueParams e;
  status = make_epilogue_layout(inputs + kFirstEpilogueInput, outputs[0], &e.layout);
  if (status != kOk) return status;
  e.numel = c.N * c.M * c.OH * c.OW;
  if (e.numel == 0) return kOk;
  const T* x = static_cast<const T*>(inputs[0].data);
  const T* w = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (c.C == 0) {
    // An empty sum over channels: the convolution is all zeros.
    if (cudaMemsetAsync(y, 0, e.numel * sizeof(T), s) != cudaSuccess) return kErrCuda;
  } else {
    const CudnnDevice* dnn = cudnn_for_current_device();
    if (!dnn) return kErrCublas;
    status = cudnn_conv(*dnn, c, x, w, y, s);
    if (status != kOk) return status;
  }
  if (kHasBias || kHasEpilogue) {
    e.y = y;
    e.bias = c.bias;
    e.bias_step = c.bias_step;
    e.channels = c.M;
    e.pixels = c.OH * c.OW;
    for (int k = 0; k < kExtraInputs; ++k) e.x[k] = static_cast<const T*>(inputs[kFirstEpilogueInput + k].data);
    epilogue_kernel<<<epilogue_blocks(e.numel), kEpilogueThreads, 0, s>>>(e);
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
