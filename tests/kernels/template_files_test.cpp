// The template files of kernels/templates/ compile as the files they are (g++ for the C++
// ones, nvcc for sm_90a for the CUDA ones), with the sample prologues of
// kernels/templates/samples/ standing in for the generated parts, and every file is
// embedded into the binary.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/subprocess.h"
#include "kernels/build.h"
#include "kernels/internal/template_files.h"
#include "scratch.h"

namespace ak::kernels {
namespace {

namespace fs = std::filesystem;

const fs::path kTemplateDir = fs::path(AK_SOURCE_DIR) / "kernels" / "templates";

/// Compiler flags that point the template files at the samples; warnings are errors for g++.
BuildOptions file_options(const testing::ScratchDir& dir, const std::vector<std::string>& defines, bool cuda) {
  BuildOptions options;
  options.cache_dir = dir / "cache";  // a fresh cache: the key does not cover the included files
  options.cuda_arch = "sm_90a";
  options.extra_flags = {"-I" + (kTemplateDir / "samples").string(), "-I" + kTemplateDir.string()};
  if (!cuda) options.extra_flags.insert(options.extra_flags.end(), {"-Wall", "-Wextra", "-Werror"});
  for (const std::string& define : defines) options.extra_flags.push_back("-D" + define);
  return options;
}

/// Builds `file` (in kernels/templates/) as it is, with `defines`; its log must be free of
/// warnings.
void expect_file_compiles(const std::string& file, const std::vector<std::string>& defines, bool cuda) {
  SCOPED_TRACE(file);
  testing::ScratchDir dir;
  const BuildOptions options = file_options(dir, defines, cuda);
  auto backend = cuda ? make_nvcc_backend(options) : make_gxx_backend(options);
  if (!backend.is_ok()) GTEST_SKIP() << (cuda ? "no nvcc: " : "no g++: ") << backend.status().message();
  auto built = build_kernel(kTemplateDir / file, **backend, options);
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_TRUE(built->ok) << file << " does not compile:\n" << built->command << "\n" << head_lines(built->log, 40);
  EXPECT_EQ(built->log.find("warning"), std::string::npos) << head_lines(built->log, 40);
}

TEST(TemplateFiles, EveryFileIsEmbedded) {
  std::vector<std::string> on_disk, embedded;
  for (const auto& entry : fs::directory_iterator(kTemplateDir)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".h" || ext == ".cuh" || ext == ".cpp" || ext == ".cu"))
      on_disk.push_back(entry.path().filename().string());
  }
  for (const internal::TemplateFile& file : internal::template_files()) {
    embedded.emplace_back(file.name);
    EXPECT_EQ(std::string(file.text), testing::read_text(kTemplateDir / file.name)) << file.name << " is stale";
  }
  std::sort(on_disk.begin(), on_disk.end());
  EXPECT_EQ(embedded, on_disk);
}

TEST(TemplateFiles, CppFilesCompileWithGxx) {
  // Every dtype file is reached through the elementwise template; every row function
  // through the row-wise one.
  for (const char* dtype : {"AK_SAMPLE_DTYPE=1", "AK_SAMPLE_DTYPE=10", "AK_SAMPLE_DTYPE=16"})
    expect_file_compiles("elementwise_cpu.cpp", {dtype}, false);
  for (const char* row : {"AK_SAMPLE_ROW=0", "AK_SAMPLE_ROW=1", "AK_SAMPLE_ROW=2", "AK_SAMPLE_ROW=3"})
    expect_file_compiles("rowwise_cpu.cpp", {row}, false);
  for (const char* row : {"AK_SAMPLE_ROW=2", "AK_SAMPLE_ROW=3"})  // the residual norms
    expect_file_compiles("rowwise_cpu.cpp", {row, "AK_SAMPLE_RESIDUAL=1"}, false);
  expect_file_compiles("matmul_cpu.cpp", {}, false);
  expect_file_compiles("gemm_cpu.cpp", {"AK_SAMPLE_DTYPE=16"}, false);
  expect_file_compiles("gemm_epilogue_cpu.cpp", {"AK_SAMPLE_DTYPE=10"}, false);
  expect_file_compiles("conv_cpu.cpp", {"AK_SAMPLE_DTYPE=1"}, false);
  for (const char* mask : {"AK_SAMPLE_MASK=0", "AK_SAMPLE_MASK=1", "AK_SAMPLE_MASK=2"})
    expect_file_compiles("attention_cpu.cpp", {mask}, false);
  expect_file_compiles("rotary_cpu.cpp", {"AK_SAMPLE_NUM_INPUTS=3"}, false);
  for (const char* pool : {"AK_SAMPLE_POOL=0", "AK_SAMPLE_POOL=1", "AK_SAMPLE_POOL=2"})
    expect_file_compiles("pool_cpu.cpp", {pool}, false);
  for (const char* op : {"AK_SAMPLE_LAYOUT_OP=1", "AK_SAMPLE_LAYOUT_OP=2"})  // the transpose, the gather
    expect_file_compiles("layout_cpu.cpp", {op, "AK_SAMPLE_DTYPE=1"}, false);
}

TEST(TemplateFiles, CudaFilesCompileWithNvccForSm90a) {
  // One nvcc run per file; the dtypes vary so that each CUDA dtype file is compiled once.
  expect_file_compiles("elementwise_cuda.cu", {"AK_SAMPLE_DTYPE=10"}, true);
  expect_file_compiles("rowwise_cuda.cu", {"AK_SAMPLE_DTYPE=16", "AK_SAMPLE_ROW=2"}, true);
  expect_file_compiles("rowwise_cuda.cu", {"AK_SAMPLE_DTYPE=10", "AK_SAMPLE_ROW=3", "AK_SAMPLE_RESIDUAL=1"}, true);
  expect_file_compiles("matmul_cuda.cu", {"AK_SAMPLE_DTYPE=1"}, true);
  expect_file_compiles("gemm_cuda.cu", {"AK_SAMPLE_DTYPE=10"}, true);
  expect_file_compiles("gemm_epilogue_cuda.cu", {"AK_SAMPLE_DTYPE=16"}, true);
  expect_file_compiles("conv_cuda.cu", {"AK_SAMPLE_DTYPE=10"}, true);
  expect_file_compiles("attention_cuda.cu", {"AK_SAMPLE_DTYPE=16", "AK_SAMPLE_MASK=2"}, true);
  expect_file_compiles("rotary_cuda.cu", {"AK_SAMPLE_NUM_INPUTS=3"}, true);
  expect_file_compiles("pool_cuda.cu", {"AK_SAMPLE_DTYPE=16", "AK_SAMPLE_POOL=1"}, true);
  expect_file_compiles("layout_cuda.cu", {"AK_SAMPLE_DTYPE=10", "AK_SAMPLE_LAYOUT_OP=1"}, true);
}

}  // namespace
}  // namespace ak::kernels
