// The GEMM-with-epilogue and convolution templates: on the CPU every case, dtype and
// parameter value against the double-precision references of epilogue_checks.h, the return
// codes on bad tensors and the generators' refusals; CUDA sources compile for sm_90a (one
// nvcc run for all of them).
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/build.h"
#include "kernels/templates.h"
#include "epilogue_checks.h"
#include "scratch.h"

namespace ak::kernels {
namespace {

using namespace ak::kernels::testing;

class GemmConvTemplatesTest : public GxxTemplatesTest {};

/// Configuration `j`: every parameter at its (j mod count)-th legal value.
TemplateConfig nth(TemplateKind kind, Target target, size_t j) {
  TemplateConfig config;
  for (const TemplateParameter& p : template_parameters(kind, target)) config[p.name] = p.values[j % p.values.size()];
  return config;
}

size_t configs(TemplateKind kind, Target target) {
  size_t n = 1;
  for (const TemplateParameter& p : template_parameters(kind, target)) n = std::max(n, p.values.size());
  return n;
}

TEST_F(GemmConvTemplatesTest, GemmEpilogueMatchesTheReferenceInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    for (const EpilogueCase& c : epilogue_cases()) {
      auto library = build(gemm_epilogue_source(epilogue_spec(c, dtype), Target::kCpu),
                           "ge_" + c.name + "_" + dtype_name(dtype));
      if (library) check_epilogue(*library, dtype, c, epilogue_tolerance(dtype, false));
    }
  }
}

TEST_F(GemmConvTemplatesTest, ConvMatchesTheReferenceInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    for (const ConvCase& c : conv_cases()) {
      auto library = build(conv_source(conv_spec(c, dtype), Target::kCpu), "conv_" + c.name + "_" + dtype_name(dtype));
      if (library) check_conv(*library, dtype, c, epilogue_tolerance(dtype, false));
    }
  }
}

TEST_F(GemmConvTemplatesTest, EveryParameterValueComputesTheReference) {
  // The cases span several tiles of every size, so each block size is exercised.
  const std::vector<EpilogueCase> epilogues = epilogue_cases();
  const std::vector<ConvCase> convs = conv_cases();
  for (size_t j = 0; j < configs(TemplateKind::kGemmEpilogue, Target::kCpu); ++j) {
    const int32_t dtype = kFloatDtypes[j % 3];
    const EpilogueCase& c = epilogues[2];  // silu_residual_scale: 37 x 150, K = 70
    auto library = build(gemm_epilogue_source(epilogue_spec(c, dtype), Target::kCpu,
                                              nth(TemplateKind::kGemmEpilogue, Target::kCpu, j)),
                         "ge_config_" + std::to_string(j));
    if (library) check_epilogue(*library, dtype, c, epilogue_tolerance(dtype, false));
  }
  for (size_t j = 0; j < configs(TemplateKind::kConv, Target::kCpu); ++j) {
    const int32_t dtype = kFloatDtypes[j % 3];
    const ConvCase& c = convs[j % 2 == 0 ? 7 : 6];  // wide (depth 144, M 40) or depthwise_7x7 (400 pixels)
    auto library = build(conv_source(conv_spec(c, dtype), Target::kCpu, nth(TemplateKind::kConv, Target::kCpu, j)),
                         "conv_config_" + std::to_string(j));
    if (library) check_conv(*library, dtype, c, epilogue_tolerance(dtype, false));
  }
}

TEST_F(GemmConvTemplatesTest, BadTensorsGetTheTemplatesCodes) {
  const EpilogueCase c = epilogue_cases()[0];  // [2, 3, 5, 7] x [7, 9] + [9]
  auto ge = build(gemm_epilogue_source(epilogue_spec(c, kF32), Target::kCpu), "ge_codes");
  ASSERT_TRUE(ge);
  HostTensor a(kF32, {2, 3, 5, 7}), b(kF32, {7, 9}), bias(kF32, {9}), y(kF32, {2, 3, 5, 9});
  HostTensor half_bias(kF16, {9}), bad_bias(kF32, {4}), bad_y(kF32, {2, 3, 5, 8}), big_bias(kF32, {3, 1, 1, 1, 9});
  EXPECT_EQ(call(*ge, {a.view(), b.view()}, {y.view()}), 1);
  EXPECT_EQ(call(*ge, {a.view(), b.view(), half_bias.view()}, {y.view()}), 2);
  EXPECT_EQ(call(*ge, {a.view(), b.view(), bad_bias.view()}, {y.view()}), 4);
  EXPECT_EQ(call(*ge, {a.view(), b.view(), bias.view()}, {bad_y.view()}), 4);
  EXPECT_EQ(call(*ge, {a.view(), b.view(), big_bias.view()}, {y.view()}), 3);  // would make Y larger
  EXPECT_EQ(call(*ge, {a.view(), b.view(), bias.view()}, {y.view()}), 0);

  const ConvCase k = conv_cases()[0];  // [2, 3, 7, 6] * [4, 3, 3, 3] + bias, pads 1
  auto conv = build(conv_source(conv_spec(k, kF32), Target::kCpu), "conv_codes");
  ASSERT_TRUE(conv);
  HostTensor x(kF32, {2, 3, 7, 6}), w(kF32, {4, 3, 3, 3}), cb(kF32, {4}), cy(kF32, {2, 4, 7, 6});
  HostTensor w_bad(kF32, {4, 2, 3, 3}), x_3d(kF32, {3, 7, 6}), cy_bad(kF32, {2, 4, 5, 4}), cb_half(kF16, {4});
  EXPECT_EQ(call(*conv, {x.view(), w.view()}, {cy.view()}), 1);
  EXPECT_EQ(call(*conv, {x.view(), w.view(), cb_half.view()}, {cy.view()}), 2);
  EXPECT_EQ(call(*conv, {x_3d.view(), w.view(), cb.view()}, {cy.view()}), 3);
  EXPECT_EQ(call(*conv, {x.view(), w_bad.view(), cb.view()}, {cy.view()}), 4);
  EXPECT_EQ(call(*conv, {x.view(), w.view(), cb.view()}, {cy_bad.view()}), 4);
  EXPECT_EQ(call(*conv, {x.view(), w.view(), cb.view()}, {cy.view()}), 0);
}

TEST(GemmConvTemplatesGeneration, BadSpecsAreRefusedWithAReason) {
  auto code = [](const Result<std::string>& r) { return r.is_ok() ? StatusCode::kOk : r.status().code(); };
  GemmEpilogueSpec ge = epilogue_spec(epilogue_cases()[0], kF16);
  EXPECT_EQ(code(gemm_epilogue_source(ge, Target::kCpu)), StatusCode::kOk);
  GemmEpilogueSpec bad = ge;
  bad.output_dtype = kBF16;  // a Cast to another 16-bit type
  EXPECT_EQ(code(gemm_epilogue_source(bad, Target::kCuda)), StatusCode::kUnsupported);
  bad = ge;
  bad.dtype = AK_DTYPE_INT64;
  EXPECT_EQ(code(gemm_epilogue_source(bad, Target::kCpu)), StatusCode::kUnsupported);
  bad = ge;
  bad.epilogue.steps[0].operands[1] = input(5);  // no such epilogue tensor
  EXPECT_EQ(code(gemm_epilogue_source(bad, Target::kCpu)), StatusCode::kInvalidInput);
  bad = ge;
  bad.epilogue.steps.push_back(step("TopK", {prev(1)}));
  EXPECT_EQ(code(gemm_epilogue_source(bad, Target::kCpu)), StatusCode::kUnsupported);
  bad = ge;
  bad.gemm = true, bad.alpha = NAN;
  EXPECT_EQ(code(gemm_epilogue_source(bad, Target::kCpu)), StatusCode::kInvalidInput);
  EXPECT_EQ(code(gemm_epilogue_source(ge, Target::kCuda, {{"algo_index", 8}})), StatusCode::kInvalidInput);
  EXPECT_EQ(code(gemm_epilogue_source(ge, Target::kCpu, {{"algo_index", 0}})), StatusCode::kInvalidInput);

  ConvSpec conv = conv_spec(conv_cases()[1], kF32);  // asymmetric pads
  EXPECT_EQ(code(conv_source(conv, Target::kCpu)), StatusCode::kOk);
  const Result<std::string> cuda = conv_source(conv, Target::kCuda);
  EXPECT_EQ(code(cuda), StatusCode::kUnsupported);
  if (!cuda.is_ok()) {
    EXPECT_TRUE(contains(cuda.status().message(), "asymmetric")) << cuda.status().message();
  }
  ConvSpec bad_conv = conv;
  bad_conv.spatial_rank = 3;
  EXPECT_EQ(code(conv_source(bad_conv, Target::kCpu)), StatusCode::kInvalidInput);
  bad_conv = conv;
  bad_conv.strides = {1};
  EXPECT_EQ(code(conv_source(bad_conv, Target::kCpu)), StatusCode::kInvalidInput);
  bad_conv = conv;
  bad_conv.group = 0;
  EXPECT_EQ(code(conv_source(bad_conv, Target::kCpu)), StatusCode::kInvalidInput);
  bad_conv = conv;
  bad_conv.pads = {1, -1, 0, 0};
  EXPECT_EQ(code(conv_source(bad_conv, Target::kCpu)), StatusCode::kInvalidInput);
}

TEST(GemmConvTemplatesGeneration, CudaSourcesUseTheLibrariesAsConfigured) {
  // MatMul + bias + Relu: cuBLASLt's RELU_BIAS; the bias add read twice: no fusion.
  GemmEpilogueSpec relu = epilogue_spec(epilogue_cases()[9], kF16);  // transposed_a: Add, Relu
  const std::string fused = *gemm_epilogue_source(relu, Target::kCuda, {{"algo_index", 3}});
  EXPECT_TRUE(contains(fused, "kLtEpilogue = CUBLASLT_EPILOGUE_RELU_BIAS;"));
  EXPECT_TRUE(contains(fused, "kLtBiasInput = 2;"));
  EXPECT_TRUE(contains(fused, "kLtHasRest = false;"));
  EXPECT_TRUE(contains(fused, "constexpr int kAlgoIndex = 3;"));
  EXPECT_TRUE(contains(fused, "CUBLAS_COMPUTE_32F;"));
  EXPECT_TRUE(contains(fused, "-lcublasLt"));
  const std::string twice = *gemm_epilogue_source(epilogue_spec(epilogue_cases()[4], kF32), Target::kCuda);
  EXPECT_TRUE(contains(twice, "kLtEpilogue = CUBLASLT_EPILOGUE_DEFAULT;"));
  const std::string erf = *gemm_epilogue_source(epilogue_spec(epilogue_cases()[0], kF32), Target::kCuda);
  EXPECT_TRUE(contains(erf, "kLtEpilogue = CUBLASLT_EPILOGUE_BIAS;")) << "GELU(erf) is not cuBLASLt's (tanh) GELU";
  EXPECT_TRUE(contains(erf, "kLtHasRest = true;"));
  const std::string tanh = *gemm_epilogue_source(epilogue_spec(epilogue_cases()[1], kBF16), Target::kCuda);
  EXPECT_TRUE(contains(tanh, "kLtEpilogue = CUBLASLT_EPILOGUE_GELU_BIAS;"));
  // A Cast to float32 writes float32 from cuBLASLt and never fuses a 16-bit bias.
  const std::string cast = *gemm_epilogue_source(epilogue_spec(epilogue_cases()[11], kF16), Target::kCuda);
  EXPECT_TRUE(contains(cast, "kOutCudaType = CUDA_R_32F;"));
  EXPECT_TRUE(contains(cast, "kLtEpilogue = CUBLASLT_EPILOGUE_DEFAULT;"));
  // TF32 only where the task allows it.
  GemmEpilogueSpec tf32 = epilogue_spec(epilogue_cases()[0], kF32);
  tf32.allow_tf32 = true;
  EXPECT_TRUE(contains(*gemm_epilogue_source(tf32, Target::kCuda), "CUBLAS_COMPUTE_32F_FAST_TF32;"));
  ConvSpec conv = conv_spec(conv_cases()[0], kF32);
  const std::string fma = *conv_source(conv, Target::kCuda);
  EXPECT_TRUE(contains(fma, "kMathType = CUDNN_FMA_MATH;"));
  EXPECT_TRUE(contains(fma, "cudnnConvolutionForward"));
  EXPECT_TRUE(contains(fma, "-lcudnn"));
  conv.allow_tf32 = true;
  EXPECT_TRUE(contains(*conv_source(conv, Target::kCuda), "kMathType = CUDNN_DEFAULT_MATH;"));
  for (const std::string* source : {&fused, &fma}) {
    EXPECT_FALSE(contains(*source, "#include \""));
    EXPECT_FALSE(contains(*source, "Synchronize"));
    EXPECT_TRUE(contains(*source, "static_cast<cudaStream_t>(stream)"));
  }
}

TEST(GemmConvTemplatesCuda, EveryCaseDtypeAndParameterValueCompilesForSm90a) {
  testing::ScratchDir dir;
  BuildOptions options;
  options.cache_dir = dir / "cache";
  options.cuda_arch = "sm_90a";
  auto nvcc = make_nvcc_backend(options);
  if (!nvcc.is_ok()) GTEST_SKIP() << "no nvcc: " << nvcc.status().message();
  // One translation unit (one nvcc run): each source in a namespace of its own.
  std::vector<std::string> includes;
  std::string bodies;
  int count = 0;
  auto add = [&](const Result<std::string>& source, const std::string& name) {
    ASSERT_TRUE(source.is_ok()) << name << ": " << source.status().message();
    const std::string tag = "bundled_" + std::to_string(count++);
    bodies += "// " + name + "\n#define autokernel_kernel " + tag + "_kernel\nnamespace " + tag + " {\n";
    std::istringstream in(*source);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("#include", 0) != 0) bodies += line + "\n";
      else if (std::find(includes.begin(), includes.end(), line) == includes.end()) includes.push_back(line);
    }
    bodies += "}  // namespace " + tag + "\n#undef autokernel_kernel\n\n";
  };
  const std::vector<EpilogueCase> epilogues = epilogue_cases();
  const std::vector<ConvCase> convs = conv_cases();
  // Every case (the dtypes in turn), and the first ones in every dtype.
  for (size_t i = 0; i < epilogues.size(); ++i) {
    const int32_t dtype = kFloatDtypes[i % 3];
    add(gemm_epilogue_source(epilogue_spec(epilogues[i], dtype), Target::kCuda), epilogues[i].name);
  }
  for (size_t i = 0; i < convs.size(); ++i) {
    if (symmetric_pads(convs[i]))
      add(conv_source(conv_spec(convs[i], kFloatDtypes[i % 3]), Target::kCuda), "conv_" + convs[i].name);
  }
  for (int32_t dtype : {kF16, kBF16}) {
    add(gemm_epilogue_source(epilogue_spec(epilogues[0], dtype), Target::kCuda), "bias_gelu_" + dtype_name(dtype));
    add(conv_source(conv_spec(convs[0], dtype), Target::kCuda), "conv_relu_" + dtype_name(dtype));
  }
  for (size_t j = 0; j < configs(TemplateKind::kGemmEpilogue, Target::kCuda); ++j)
    add(gemm_epilogue_source(epilogue_spec(epilogues[0], kF32), Target::kCuda,
                             nth(TemplateKind::kGemmEpilogue, Target::kCuda, j)),
        "ge_config_" + std::to_string(j));
  for (size_t j = 0; j < configs(TemplateKind::kConv, Target::kCuda); ++j)
    add(conv_source(conv_spec(convs[0], kF16), Target::kCuda, nth(TemplateKind::kConv, Target::kCuda, j)),
        "conv_config_" + std::to_string(j));
  std::string text;
  for (const std::string& include : includes) text += include + "\n";
  const fs::path path = testing::write_text(dir / "gemm_conv_bundle.cu", text + "\n" + bodies);
  auto built = build_kernel(path, **nvcc, options);
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_TRUE(built->ok) << built->command << "\n" << head_lines(built->log, 40);
  EXPECT_FALSE(contains(built->log, "warning")) << head_lines(built->log, 40);
}

}  // namespace
}  // namespace ak::kernels
