/* autokernel_kernel.h: the kernel ABI, the one contract between autokernel and a candidate.
 *
 * A candidate is one source file (.cu for CUDA, .cpp for the CPU) that includes this header
 * and defines autokernel_kernel(). autokernel compiles it into a shared object, loads it and
 * calls the entry point with the task's inputs and preallocated outputs. Plain C (C99, C++,
 * CUDA), so any language that can export a C function can be a candidate. docs/kernels.md
 * has examples.
 */
#ifndef AUTOKERNEL_KERNEL_H_
#define AUTOKERNEL_KERNEL_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most dimensions a tensor has. */
#define AK_MAX_RANK 8

/* Element types: the ONNX TensorProto.DataType codes. */
#define AK_DTYPE_UNDEFINED 0
#define AK_DTYPE_FLOAT 1 /* float32 */
#define AK_DTYPE_UINT8 2
#define AK_DTYPE_INT8 3
#define AK_DTYPE_UINT16 4
#define AK_DTYPE_INT16 5
#define AK_DTYPE_INT32 6
#define AK_DTYPE_INT64 7
#define AK_DTYPE_STRING 8
#define AK_DTYPE_BOOL 9 /* one byte per element, 0 or 1 */
#define AK_DTYPE_FLOAT16 10
#define AK_DTYPE_DOUBLE 11
#define AK_DTYPE_UINT32 12
#define AK_DTYPE_UINT64 13
#define AK_DTYPE_COMPLEX64 14
#define AK_DTYPE_COMPLEX128 15
#define AK_DTYPE_BFLOAT16 16

/* Marks the entry point as exported from the shared object. */
#if defined(_WIN32)
#define AK_EXPORT __declspec(dllexport)
#else
#define AK_EXPORT __attribute__((visibility("default")))
#endif

/* A tensor view. The caller owns the memory; the kernel never frees or keeps `data`.
 * data:    device pointer for CUDA candidates, host pointer for CPU candidates.
 * dtype:   an AK_DTYPE_* code.
 * rank:    0..AK_MAX_RANK; a rank-0 tensor is a scalar (one element).
 * shape:   shape[0..rank) are the sizes; entries from rank on are unspecified.
 * strides: in ELEMENTS, not bytes; element (i0, i1, ...) is at data + sum(ik * strides[k]).
 *          Inputs may be non-contiguous; outputs are preallocated contiguous (row-major). */
typedef struct ak_tensor {
  void* data;
  int32_t dtype;
  int32_t rank;
  int64_t shape[AK_MAX_RANK];
  int64_t strides[AK_MAX_RANK];
} ak_tensor;

/* The entry point every candidate defines (destination-passing style).
 * inputs:  num_inputs read-only tensors, in the order of the task's inputs.
 * outputs: num_outputs tensors, already allocated with the task's output shapes; the kernel
 *          writes their elements and must not change the descriptors.
 * stream:  the cudaStream_t to launch on (CUDA candidates); NULL for CPU candidates.
 * Returns 0 on success; any other value is a candidate-defined error code.
 *
 * Rules: launch work only on `stream`; do not synchronize the device or the stream and do
 * not call cudaMalloc/cudaFree in the call (they synchronize, and autokernel replays the
 * model as one CUDA graph). State created once and reused by every call (a cuBLAS handle, a
 * fixed workspace) is fine; state keyed by data pointers, or results remembered from an
 * earlier call, is not: every call computes its outputs from its inputs. The function may be
 * called many times, from one thread at a time. */
AK_EXPORT int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                int32_t num_outputs, void* stream);

/* The type of autokernel_kernel, for dlsym. */
typedef int (*autokernel_kernel_fn)(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                    int32_t num_outputs, void* stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AUTOKERNEL_KERNEL_H_ */
