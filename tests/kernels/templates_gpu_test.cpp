// Built-in kernel templates on a GPU: the CUDA starters compute what ONNX specifies, checked
// against the double-precision references of template_checks.h through a harness that moves
// host tensors to the device and back. A binary of its own so that ctest can label it `gpu`;
// it skips where nvcc, nvidia-smi (the architecture) or a device is missing.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/build.h"
#include "kernels/kernel_library.h"
#include "kernels/templates.h"
#include "scratch.h"
#include "epilogue_checks.h"
#include "template_checks.h"

namespace ak::kernels {
namespace {

using namespace ak::kernels::testing;


constexpr int kNoDevice = 1000;

/// The generated .cu with its entry point renamed to starter_kernel, plus an
/// autokernel_kernel that takes host tensors: copies inputs to the GPU, runs the starter on
/// a stream, waits, copies the outputs back. Returns kNoDevice when no GPU is usable.
std::string gpu_harness(const std::string& starter) {
  return std::string(R"(#include <autokernel_kernel.h>
#include <cuda_runtime.h>
#define autokernel_kernel starter_kernel
)") + starter + R"(
#undef autokernel_kernel

namespace harness {

// Elements spanned by a (possibly strided) view.
int64_t span_elements(const ak_tensor& t) {
  int64_t last = 0;
  for (int d = 0; d < t.rank; ++d) {
    if (t.shape[d] == 0) return 0;
    last += (t.shape[d] - 1) * t.strides[d];
  }
  return last + 1;
}

size_t bytes(const ak_tensor& t) {
  return span_elements(t) * (t.dtype == AK_DTYPE_FLOAT ? 4 : t.dtype == AK_DTYPE_BOOL ? 1 : 2);
}

}  // namespace harness

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void*) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) return 1000;
  constexpr int kMax = 8;
  if (num_inputs > kMax || num_outputs > kMax) return 1001;
  ak_tensor device_in[kMax], device_out[kMax];
  int rc = 0;
  for (int i = 0; i < num_inputs; ++i) {
    device_in[i] = inputs[i];
    if (cudaMalloc(&device_in[i].data, harness::bytes(inputs[i]) + 1) != cudaSuccess) return 1002;
    cudaMemcpy(device_in[i].data, inputs[i].data, harness::bytes(inputs[i]), cudaMemcpyHostToDevice);
  }
  for (int i = 0; i < num_outputs; ++i) {
    device_out[i] = outputs[i];
    if (cudaMalloc(&device_out[i].data, harness::bytes(outputs[i]) + 1) != cudaSuccess) return 1002;
  }
  cudaStream_t stream;
  if (cudaStreamCreate(&stream) != cudaSuccess) return 1003;
  rc = starter_kernel(device_in, num_inputs, device_out, num_outputs, stream);
  if (cudaStreamSynchronize(stream) != cudaSuccess && rc == 0) rc = 1004;
  for (int i = 0; i < num_outputs && rc == 0; ++i) {
    if (cudaMemcpy(outputs[i].data, device_out[i].data, harness::bytes(outputs[i]), cudaMemcpyDeviceToHost) !=
        cudaSuccess) {
      rc = 1005;
    }
  }
  cudaStreamDestroy(stream);
  for (int i = 0; i < num_inputs; ++i) cudaFree(device_in[i].data);
  for (int i = 0; i < num_outputs; ++i) cudaFree(device_out[i].data);
  return rc;
}
)";
}

class TemplatesGpuTest : public ::testing::TestWithParam<int32_t> {
 protected:
  void SetUp() override {
    options_.cache_dir = dir_ / "cache";  // cuda_arch empty: taken from the GPU (nvidia-smi)
    auto backend = make_nvcc_backend(options_);
    if (!backend.is_ok()) GTEST_SKIP() << "no nvcc or no GPU: " << backend.status().message();
    nvcc_ = std::move(backend).value();
  }

  std::optional<KernelLibrary> build(const Result<std::string>& source, const std::string& name) {
    if (!source.is_ok()) {
      ADD_FAILURE() << name << ": generation failed: " << source.status().message();
      return std::nullopt;
    }
    return build_and_load(gpu_harness(*source), dir_ / (name + ".cu"), *nvcc_, options_);
  }

  testing::ScratchDir dir_;
  BuildOptions options_;
  std::unique_ptr<BuildBackend> nvcc_;
};

TEST_P(TemplatesGpuTest, StartersMatchTheReferenceOnTheGpu) {
  const int32_t dtype = GetParam();
  const ElementwiseChain chain = mixed_chain(dtype);
  auto elementwise = build(elementwise_chain_source(chain, Target::kCuda), "chain");
  ASSERT_TRUE(elementwise);
  {
    HostTensor x(dtype, {8}), y(dtype, {8});
    const int rc = call(*elementwise, {x.view(), x.view()}, {y.view()});
    if (rc == kNoDevice) GTEST_SKIP() << "no usable CUDA device";
    ASSERT_EQ(rc, 0);
  }
  for (const ChainCase& c : kChainCases) check_chain(*elementwise, chain, c.x0, c.x1, c.y);

  for (const RowCase& c : kRowCases) {
    SCOPED_TRACE(c.name);
    auto rows = build(rowwise_source(row_spec(c, dtype), Target::kCuda), c.name);
    if (!rows) continue;
    check_rows(*rows, c, dtype, {3, 5, 37});  // a warp per row
    check_rows(*rows, c, dtype, {2, 3000});   // a block per row
  }
  for (const RowCase& c : kRowCases) {
    if (c.kind != RowwiseSpec::Kind::kLayerNorm && c.kind != RowwiseSpec::Kind::kRmsNorm) continue;
    SCOPED_TRACE(std::string("residual ") + c.name);
    // Round before the scale where a scale is (dynamo's float16 RMSNorm does), once per dtype.
    const RowwiseSpec spec = residual_spec(c, dtype, c.kind == RowwiseSpec::Kind::kRmsNorm && c.num_inputs == 2);
    auto rows = build(rowwise_source(spec, Target::kCuda), std::string("residual_") + c.name);
    if (!rows) continue;
    check_residual_rows(*rows, c, spec, {3, 5, 37}, true);         // a warp per row, h written
    check_residual_rows(*rows, c, spec, {2, 3000}, false);         // a block per row, no h
    check_residual_rows(*rows, c, spec, {4, 1}, true);             // rows of one element
    check_residual_rows(*rows, c, spec, {2, 3, 9}, true, true);    // a transposed residual
  }
  for (bool has_bias : {false, true}) {
    SCOPED_TRACE(has_bias ? "matmul with bias" : "matmul");
    auto matmul = build(matmul_source({dtype, has_bias}, Target::kCuda), has_bias ? "matmul_bias" : "matmul");
    if (!matmul) continue;
    for (const MatmulCase& c : kMatmulCases) {
      if (c.bias == has_bias) check_matmul(*matmul, dtype, c);
    }
  }
  for (const GemmCase& g : kGemmCases) {
    SCOPED_TRACE("gemm " + g.name);
    auto gemm = build(gemm_source(gemm_spec(g, dtype), Target::kCuda), "gemm_" + g.name);
    if (gemm) check_gemm(*gemm, dtype, g);
  }
  for (const AttentionSpec& spec : attention_specs(dtype)) {
    SCOPED_TRACE("attention mask " + std::to_string(static_cast<int>(spec.mask)));
    auto attention = build(attention_source(spec, Target::kCuda), "attention_" + std::to_string(static_cast<int>(spec.mask)));
    if (!attention) continue;
    for (const AttentionCase& c : kAttentionCases) check_attention(*attention, spec, c);
  }
  auto rotary = build(rotary_source({dtype}, Target::kCuda), "rotary");
  if (rotary) {
    for (const RotaryCase& c : kRotaryCases) check_rotary(*rotary, dtype, c);
  }
}

TEST_P(TemplatesGpuTest, EveryAttentionParameterValueMatchesTheReference) {
  // Configuration j sets every parameter to its j-th value (cycling), a mask kind each.
  const int32_t dtype = GetParam();
  for (size_t j = 0; j < 3; ++j) {
    TemplateConfig config;
    for (const TemplateParameter& p : template_parameters(TemplateKind::kAttention, Target::kCuda))
      config[p.name] = p.values[j % p.values.size()];
    const AttentionSpec spec = attention_specs(dtype)[(j + 2) % 5];
    SCOPED_TRACE("attention config " + std::to_string(j));
    auto attention = build(attention_source(spec, Target::kCuda, config), "attention_config_" + std::to_string(j));
    if (!attention) continue;
    {
      HostTensor q(dtype, {1, 1}), kt(dtype, {1, 1}), v(dtype, {1, 1}), y(dtype, {1, 1});
      std::vector<ak_tensor> ins = {q.view(), kt.view(), v.view()};
      std::vector<uint8_t> no(1, 0);
      const std::vector<int64_t> one = {1};
      if (spec.mask == AttentionSpec::Mask::kAdditive || spec.mask == AttentionSpec::Mask::kBoolean) {
        auto m = make_tensor(spec.mask == AttentionSpec::Mask::kBoolean ? static_cast<void*>(no.data()) : q.bytes.data(),
                             spec.mask == AttentionSpec::Mask::kBoolean ? AK_DTYPE_BOOL : dtype, one, {});
        ASSERT_TRUE(m.is_ok());
        ins.push_back(*m);
      }
      if (call(*attention, ins, {y.view()}) == kNoDevice) GTEST_SKIP() << "no usable CUDA device";
    }
    for (const AttentionCase& c : kAttentionCases) check_attention(*attention, spec, c);
  }
}

TEST_P(TemplatesGpuTest, GemmEpilogueAndConvMatchTheReferenceOnTheGpu) {
  const int32_t dtype = GetParam();
  bool probed = false;
  for (const EpilogueCase& c : epilogue_cases()) {
    auto library = build(gemm_epilogue_source(epilogue_spec(c, dtype), Target::kCuda), "ge_" + c.name);
    if (!library) continue;
    if (!probed) {  // the harness answers kNoDevice before it looks at the arguments
      if (call(*library, {}, {}) == kNoDevice) GTEST_SKIP() << "no usable CUDA device";
      probed = true;
    }
    check_epilogue(*library, dtype, c, epilogue_tolerance(dtype, true));
  }
  // Every algorithm index (past the list's end: entry 0) on a fused bias + Relu.
  for (int64_t algo = 0; algo < 8; ++algo) {
    const EpilogueCase c = epilogue_cases()[9];
    auto library = build(gemm_epilogue_source(epilogue_spec(c, dtype), Target::kCuda, {{"algo_index", algo}}),
                         "ge_algo_" + std::to_string(algo));
    if (library) check_epilogue(*library, dtype, c, epilogue_tolerance(dtype, true));
  }
  for (const ConvCase& c : conv_cases()) {
    if (!symmetric_pads(c)) continue;  // the CUDA template refuses them
    auto library = build(conv_source(conv_spec(c, dtype), Target::kCuda), "conv_" + c.name);
    if (library) check_conv(*library, dtype, c, epilogue_tolerance(dtype, true));
  }
  for (int64_t algo = 0; algo < 8; ++algo) {
    const ConvCase c = conv_cases()[7];
    auto library = build(conv_source(conv_spec(c, dtype), Target::kCuda, {{"algo_index", algo}}),
                         "conv_algo_" + std::to_string(algo));
    if (library) check_conv(*library, dtype, c, epilogue_tolerance(dtype, true));
  }
}

// The layout template on the GPU: each op's CUDA starter is bitwise its CPU starter (which
// layout_templates_test checks bitwise against the runtime), on odd sizes, size-1 dims and a
// strided input; the tiled transpose under every tile configuration.
TEST_P(TemplatesGpuTest, LayoutStartersMatchTheCpuStarterOnTheGpu) {
  const int32_t dtype = GetParam();
  auto gxx = make_gxx_backend(options_);
  ASSERT_TRUE(gxx.is_ok()) << gxx.status().message();
  using Op = LayoutSpec::Op;
  struct Case {
    std::string name;
    LayoutSpec spec;
    std::vector<std::vector<int64_t>> inputs;
    std::vector<int64_t> output;
    TemplateConfig config;
  };
  auto spec = [dtype](Op op, int rank) {
    LayoutSpec s;
    s.op = op;
    s.dtype = dtype;
    s.rank = rank;
    return s;
  };
  LayoutSpec tiled = spec(Op::kTranspose, 3), generic = spec(Op::kTranspose, 3), gather = spec(Op::kGather, 3);
  tiled.perm = {0, 2, 1};
  generic.perm = {2, 0, 1};
  gather.axis = 1;
  gather.indices = {-1, 0, 2, 2};
  LayoutSpec slice = spec(Op::kSlice, 2), concat = spec(Op::kConcat, 2);
  slice.starts = {1, -1};
  slice.ends = {INT64_MAX, -100};
  slice.steps = {2, -3};
  concat.axis = 1;
  concat.num_inputs = 2;
  const LayoutSpec expand = spec(Op::kExpand, 2), copy = spec(Op::kCopy, 2);
  std::vector<Case> cases = {
      {"tiled", tiled, {{3, 37, 45}}, {3, 45, 37}, {}},
      {"tiled_big", tiled, {{1, 257, 130}}, {1, 130, 257}, {}},
      {"generic", generic, {{5, 1, 33}}, {33, 5, 1}, {}},
      {"gather", gather, {{2, 3, 5}}, {2, 4, 5}, {}},
      {"slice", slice, {{5, 7}}, {2, 3}, {}},
      {"concat", concat, {{3, 5}, {3, 1}}, {3, 6}, {}},
      {"expand", expand, {{3, 1}}, {2, 3, 129}, {}},
      {"copy", copy, {{7, 9}}, {63}, {}},
  };
  for (int64_t tile : {16, 32, 64})
    for (int64_t rows : {4, 8, 16})
      cases.push_back({"tiled_" + std::to_string(tile) + "_" + std::to_string(rows), tiled, {{2, 67, 71}}, {2, 71, 67},
                       {{"tile_dim", tile}, {"tile_rows", rows}}});
  const size_t size = dtype == kF32 ? 4 : 2;
  bool probed = false;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto gpu = build(layout_source(c.spec, Target::kCuda, c.config), "layout_" + c.name);
    auto cpu_source = layout_source(c.spec, Target::kCpu);
    ASSERT_TRUE(cpu_source.is_ok()) << cpu_source.status().message();
    auto cpu = build_and_load(*cpu_source, dir_ / ("layout_" + c.name + ".cpp"), **gxx, options_);
    if (!gpu || !cpu) continue;
    if (!probed) {
      if (call(*gpu, {}, {}) == kNoDevice) GTEST_SKIP() << "no usable CUDA device";
      probed = true;
    }
    std::vector<HostTensor> in;
    std::vector<ak_tensor> views;
    for (size_t k = 0; k < c.inputs.size(); ++k) in.push_back(random_tensor(dtype, c.inputs[k], 40 + static_cast<uint32_t>(k)));
    for (HostTensor& t : in) views.push_back(t.view());
    if (c.name == "copy") {  // a transposed view: the stored [7, 9] read as [9, 7] through strides [1, 9]
      std::swap(views[0].shape[0], views[0].shape[1]);
      views[0].strides[0] = 1;
      views[0].strides[1] = 9;
    }
    HostTensor want(dtype, c.output), got(dtype, c.output);
    ASSERT_EQ(call(*cpu, views, {want.view()}), 0);
    ASSERT_EQ(call(*gpu, views, {got.view()}), 0);
    EXPECT_EQ(std::memcmp(got.bytes.data(), want.bytes.data(), static_cast<size_t>(want.numel()) * size), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TemplatesGpuTest, ::testing::ValuesIn(kFloatDtypes),
                         [](const ::testing::TestParamInfo<int32_t>& info) { return dtype_name(info.param); });

/// The pool template's CUDA starters against its CPU starters (which pool_templates_test.cpp
/// checks against the runtime and ONNX's backend data) on the same inputs: MaxPool must be
/// exact (it picks an input), AveragePool within the dtype's tolerance.
TEST_P(TemplatesGpuTest, PoolMatchesTheCpuStarterOnTheGpu) {
  const int32_t dtype = GetParam();
  auto gxx = make_gxx_backend(BuildOptions{});
  ASSERT_TRUE(gxx.is_ok()) << gxx.status().message();
  using AutoPad = PoolSpec::AutoPad;
  struct Case {
    PoolSpec spec;
    std::vector<int64_t> x, y;
  };
  auto max = [&](std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> pads, AutoPad a, bool ceil) {
    PoolSpec p;
    p.dtype = dtype;
    p.spatial_rank = static_cast<int>(k.size());
    p.kernel = std::move(k);
    p.strides = std::move(s);
    p.pads = std::move(pads);
    p.auto_pad = a;
    p.ceil_mode = ceil;
    return p;
  };
  PoolSpec avg = max({3, 3}, {2, 2}, {1, 1, 1, 1}, AutoPad::kNotSet, true);
  avg.kind = PoolSpec::Kind::kAverage;
  avg.count_include_pad = true;
  PoolSpec global;
  global.kind = PoolSpec::Kind::kAverage;
  global.global = true;
  global.dtype = dtype;
  PoolSpec global_max = global;
  global_max.kind = PoolSpec::Kind::kMax;
  global_max.spatial_rank = 3;
  const std::vector<Case> cases = {
      {max({3, 3}, {2, 2}, {1, 1, 1, 1}, AutoPad::kNotSet, false), {2, 64, 113, 111}, {2, 64, 57, 56}},
      {max({3}, {2}, {}, AutoPad::kSameUpper, false), {3, 5, 17}, {3, 5, 9}},
      {max({2, 2, 2}, {2, 2, 2}, {}, AutoPad::kNotSet, true), {1, 3, 5, 7, 9}, {1, 3, 3, 4, 5}},
      {avg, {1, 7, 33, 20}, {1, 7, 17, 11}},
      {global, {4, 2048, 7, 7}, {4, 2048, 1, 1}},
      {global_max, {2, 3, 3, 4, 5}, {2, 3, 1, 1, 1}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE("pool case " + std::to_string(i));
    TemplateConfig config;
    if (i % 2 == 1) config = {{"threads_per_block", 64}, {"max_blocks", 256}};  // grid-stride loops
    auto gpu = build(pool_source(c.spec, Target::kCuda, config), "pool_" + std::to_string(i));
    ASSERT_TRUE(gpu);
    const Result<std::string> cpu_source = pool_source(c.spec, Target::kCpu);
    ASSERT_TRUE(cpu_source.is_ok()) << cpu_source.status().message();
    BuildOptions cpu_options;
    cpu_options.cache_dir = dir_ / "cpu_cache";
    auto cpu = build_and_load(*cpu_source, dir_ / ("pool_cpu_" + std::to_string(i) + ".cpp"), **gxx, cpu_options);
    ASSERT_TRUE(cpu);
    HostTensor x = random_tensor(dtype, c.x, static_cast<uint32_t>(i + 1));
    HostTensor want(dtype, c.y), got(dtype, c.y);
    ASSERT_EQ(call(*cpu, {x.view()}, {want.view()}), 0);
    const int rc = call(*gpu, {x.view()}, {got.view()});
    if (rc == kNoDevice) GTEST_SKIP() << "no usable CUDA device";
    ASSERT_EQ(rc, 0);
    expect_close(got.values(), want.values(),
                 c.spec.kind == PoolSpec::Kind::kMax ? Tolerance{0, 0} : tolerance(dtype), "pool");
  }
}
}  // namespace
}  // namespace ak::kernels
