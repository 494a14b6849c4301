// The kernel ABI header: its layout and constants are the contract, and it must compile as C
// and as C++ (candidates in any language include it).
#include <autokernel_kernel.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "base/subprocess.h"
#include "kernels/kernel_library.h"
#include "scratch.h"

namespace ak::kernels {
namespace {

using testing::ScratchDir;
using testing::write_text;

const std::string kKernelsDir = std::string(AK_SOURCE_DIR) + "/kernels";

// The layout on LP64 (x86-64 and aarch64 Linux): changing it breaks every built candidate.
static_assert(AK_MAX_RANK == 8);
static_assert(offsetof(ak_tensor, data) == 0);
static_assert(offsetof(ak_tensor, dtype) == 8);
static_assert(offsetof(ak_tensor, rank) == 12);
static_assert(offsetof(ak_tensor, shape) == 16);
static_assert(offsetof(ak_tensor, strides) == 16 + 8 * 8);
static_assert(sizeof(ak_tensor) == 16 + 2 * 8 * 8);
static_assert(std::is_same_v<autokernel_kernel_fn, decltype(&autokernel_kernel)>);

TEST(AbiHeader, DtypeCodesAreOnnxTensorProtoDataType) {
  // onnx/onnx.proto, message TensorProto, enum DataType.
  EXPECT_EQ(AK_DTYPE_UNDEFINED, 0);
  EXPECT_EQ(AK_DTYPE_FLOAT, 1);
  EXPECT_EQ(AK_DTYPE_UINT8, 2);
  EXPECT_EQ(AK_DTYPE_INT8, 3);
  EXPECT_EQ(AK_DTYPE_UINT16, 4);
  EXPECT_EQ(AK_DTYPE_INT16, 5);
  EXPECT_EQ(AK_DTYPE_INT32, 6);
  EXPECT_EQ(AK_DTYPE_INT64, 7);
  EXPECT_EQ(AK_DTYPE_STRING, 8);
  EXPECT_EQ(AK_DTYPE_BOOL, 9);
  EXPECT_EQ(AK_DTYPE_FLOAT16, 10);
  EXPECT_EQ(AK_DTYPE_DOUBLE, 11);
  EXPECT_EQ(AK_DTYPE_UINT32, 12);
  EXPECT_EQ(AK_DTYPE_UINT64, 13);
  EXPECT_EQ(AK_DTYPE_COMPLEX64, 14);
  EXPECT_EQ(AK_DTYPE_COMPLEX128, 15);
  EXPECT_EQ(AK_DTYPE_BFLOAT16, 16);
}

// A C candidate: the header's types, constants and entry point used from C99.
constexpr const char* kCKernel = R"(#include <autokernel_kernel.h>

/* out0 = in0 * 2 over int64 elements; returns 5 for any other dtype. */
AK_EXPORT int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void* stream) {
  int64_t n = 1, i;
  int32_t d;
  const int64_t* x;
  int64_t* y;
  autokernel_kernel_fn self = autokernel_kernel;
  (void)self; (void)stream;
  if (n_in != 1 || n_out != 1) return 4;
  if (in[0].dtype != AK_DTYPE_INT64 || out[0].dtype != AK_DTYPE_INT64) return 5;
  for (d = 0; d < in[0].rank && d < AK_MAX_RANK; ++d) n *= in[0].shape[d];
  x = (const int64_t*)in[0].data;
  y = (int64_t*)out[0].data;
  for (i = 0; i < n; ++i) y[i * out[0].strides[out[0].rank - 1]] = 2 * x[i * in[0].strides[in[0].rank - 1]];
  return 0;
}
)";

ProcessResult run_or_fail(const std::vector<std::string>& argv) {
  auto run = run_process(argv);
  EXPECT_TRUE(run.is_ok()) << run.status().message();
  return run.is_ok() ? *run : ProcessResult{};
}

TEST(AbiHeader, CompilesAsStrictC99) {
  if (!run_process({"gcc", "--version"}).is_ok()) GTEST_SKIP() << "gcc not found";
  ScratchDir dir;
  auto source = write_text(dir / "kernel.c", kCKernel);
  auto run = run_or_fail({"gcc", "-std=c99", "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                          "-I" + kKernelsDir, source.string()});
  EXPECT_TRUE(run.ok()) << run.describe() << "\n" << run.stderr_text;
}

TEST(AbiHeader, CompilesAsStrictCxx) {
  ScratchDir dir;
  auto source = write_text(dir / "kernel.cpp", "#include <autokernel_kernel.h>\n"
                                               "static_assert(sizeof(ak_tensor) == 144, \"layout\");\n");
  for (const char* standard : {"-std=c++11", "-std=c++17", "-std=c++20"}) {
    auto run = run_or_fail({"g++", standard, "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                            "-I" + kKernelsDir, source.string()});
    EXPECT_TRUE(run.ok()) << standard << ": " << run.describe() << "\n" << run.stderr_text;
  }
}

TEST(AbiHeader, CKernelLoadsAndRunsThroughTheAbi) {
  if (!run_process({"gcc", "--version"}).is_ok()) GTEST_SKIP() << "gcc not found";
  ScratchDir dir;
  auto source = write_text(dir / "kernel.c", kCKernel);
  const auto library = dir / "libkernel.so";
  auto run = run_or_fail({"gcc", "-std=c99", "-O2", "-fPIC", "-shared", "-I" + kKernelsDir, "-o", library.string(),
                          source.string()});
  ASSERT_TRUE(run.ok()) << run.stderr_text;

  auto loaded = KernelLibrary::load(library);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  // Input: a strided view (every other element of 10); output: contiguous.
  std::vector<int64_t> x(10), y(5, -1);
  for (int64_t i = 0; i < 10; ++i) x[i] = 100 + i;
  ak_tensor in{};
  in.data = x.data();
  in.dtype = AK_DTYPE_INT64;
  in.rank = 1;
  in.shape[0] = 5;
  in.strides[0] = 2;
  ak_tensor out = in;
  out.data = y.data();
  out.strides[0] = 1;
  ASSERT_EQ(loaded->call({&in, 1}, {&out, 1}), 0);
  EXPECT_EQ(y, (std::vector<int64_t>{200, 204, 208, 212, 216}));

  out.dtype = AK_DTYPE_FLOAT;
  EXPECT_EQ(loaded->call({&in, 1}, {&out, 1}), 5) << "the candidate's own error code comes back";
  EXPECT_EQ(loaded->call({}, {&out, 1}), 4);
}

}  // namespace
}  // namespace ak::kernels
