// The pool template (MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool) on the CPU:
// every case against autokernel's runtime running the same one-node ONNX graph (ATen's
// pooling), in every dtype, each built starter called on two shapes (the sizes are read at
// run time); against ONNX's own backend test data; NaN propagation, strided inputs, every
// parameter value, the return codes on bad tensors and the generator's refusals. The CUDA
// sources compile for sm_90a (they run in templates_gpu_test.cpp).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/build.h"
#include "kernels/templates.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "scratch.h"
#include "template_checks.h"
#include "tests/models/model_builder.h"

// The case tables below list only the attributes each case sets; the rest stay empty (the
// ONNX defaults).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ak::kernels {
namespace {

using namespace ak::kernels::testing;
namespace fs = std::filesystem;

/// One pooling node: its op, attributes, and the input shapes it is called on.
struct PoolCase {
  std::string name;
  std::string op;  // "MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool"
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> kernel, strides, dilations, pads;
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false, count_include_pad = false;
};

/// Odd sizes, size-1 dims, asymmetric pads, every auto_pad, ceil_mode, dilations, 1-3 dims.
const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> kCases = {
      {"max_stem", "MaxPool", {{1, 3, 9, 7}, {2, 2, 12, 11}}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}},
      {"max_ceil", "MaxPool", {{1, 2, 5, 5}, {2, 1, 7, 4}}, {2, 2}, {2, 2}, {}, {}, "NOTSET", true},
      {"max_ceil_pads", "MaxPool", {{1, 2, 6, 7}}, {3, 2}, {2, 3}, {}, {1, 0, 0, 1}, "NOTSET", true},
      {"max_dilated", "MaxPool", {{1, 1, 7, 6}, {2, 3, 9, 5}}, {2, 2}, {1, 2}, {2, 2}},
      {"max_1d_asymmetric", "MaxPool", {{2, 2, 5}, {1, 3, 1}}, {3}, {1}, {}, {1, 2}},
      {"max_same_upper", "MaxPool", {{1, 2, 6, 5}, {3, 1, 7, 1}}, {3, 2}, {2, 2}, {}, {}, "SAME_UPPER"},
      {"max_same_lower", "MaxPool", {{1, 2, 6, 5}, {2, 1, 3, 3}}, {2, 3}, {2, 1}, {}, {}, "SAME_LOWER"},
      {"max_valid", "MaxPool", {{1, 2, 7, 5}}, {2, 2}, {3, 2}, {}, {}, "VALID"},
      {"max_3d", "MaxPool", {{1, 2, 3, 4, 5}, {2, 1, 5, 3, 3}}, {2, 2, 2}, {1, 2, 2}, {}, {0, 1, 0, 1, 0, 1}},
      {"max_size1", "MaxPool", {{1, 1, 1, 1}, {3, 2, 1, 1}}, {1, 1}},
      {"avg_pads", "AveragePool", {{2, 3, 7, 9}, {1, 1, 4, 5}}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}},
      {"avg_include_pad_ceil", "AveragePool", {{1, 2, 6, 6}, {1, 1, 9, 4}}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1},
       "NOTSET", true, true},
      {"avg_asymmetric_include_pad", "AveragePool", {{1, 2, 5, 6}}, {3, 2}, {1, 2}, {}, {0, 1, 2, 0}, "NOTSET",
       false, true},
      {"avg_1d_same_lower", "AveragePool", {{1, 2, 7}, {2, 1, 4}}, {3}, {2}, {}, {}, "SAME_LOWER"},
      {"avg_same_upper", "AveragePool", {{1, 2, 5, 5}}, {3, 3}, {2, 2}, {}, {}, "SAME_UPPER"},
      {"avg_3d", "AveragePool", {{1, 1, 4, 3, 5}}, {2, 3, 2}, {2, 1, 2}, {}, {1, 1, 0, 0, 0, 1}},
      {"global_avg", "GlobalAveragePool", {{2, 3, 7, 7}, {1, 5, 1, 1}}},
      {"global_avg_1d", "GlobalAveragePool", {{2, 3, 5}}},
      {"global_max", "GlobalMaxPool", {{2, 3, 5, 3}, {1, 1, 1, 2}}},
      {"global_max_3d", "GlobalMaxPool", {{1, 2, 3, 2, 3}}},
  };
  return kCases;
}

PoolSpec::AutoPad auto_pad_of(const std::string& text) {
  if (text == "SAME_UPPER") return PoolSpec::AutoPad::kSameUpper;
  if (text == "SAME_LOWER") return PoolSpec::AutoPad::kSameLower;
  if (text == "VALID") return PoolSpec::AutoPad::kValid;
  return PoolSpec::AutoPad::kNotSet;
}

PoolSpec spec_of(const PoolCase& c, int32_t dtype) {
  PoolSpec spec;
  spec.kind = c.op.find("Max") != std::string::npos ? PoolSpec::Kind::kMax : PoolSpec::Kind::kAverage;
  spec.global = c.op.rfind("Global", 0) == 0;
  spec.dtype = dtype;
  spec.spatial_rank = static_cast<int>(c.shapes[0].size()) - 2;
  spec.kernel = c.kernel;
  spec.strides = c.strides;
  spec.dilations = c.dilations;
  spec.pads = c.pads;
  spec.auto_pad = auto_pad_of(c.auto_pad);
  spec.ceil_mode = c.ceil_mode;
  spec.count_include_pad = c.count_include_pad;
  return spec;
}

/// The case's node run by autokernel's runtime (CPU, float32) on `x`: the reference.
models::TensorData runtime_pool(const PoolCase& c, const models::TensorData& x) {
  using namespace models::testing;
  models::Graph g;
  g.name = c.name;
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, x.dims));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {}));
  g.outputs.back().has_shape = false;
  std::vector<models::Attribute> attrs;
  if (!c.kernel.empty()) attrs.push_back(ints_attr("kernel_shape", c.kernel));
  if (!c.strides.empty()) attrs.push_back(ints_attr("strides", c.strides));
  if (!c.dilations.empty()) attrs.push_back(ints_attr("dilations", c.dilations));
  if (!c.pads.empty()) attrs.push_back(ints_attr("pads", c.pads));
  if (c.auto_pad != "NOTSET") {
    models::Attribute a;
    a.name = "auto_pad";
    a.type = models::Attribute::Type::kString;
    a.s = c.auto_pad;
    attrs.push_back(a);
  }
  if (c.ceil_mode) attrs.push_back(int_attr("ceil_mode", 1));
  if (c.count_include_pad) attrs.push_back(int_attr("count_include_pad", 1));
  g.nodes.push_back(node(c.op, {"x"}, {"y"}, attrs));
  auto model = std::make_shared<const models::Model>(model_of(std::move(g), 19));
  auto session = models::Session::create(model, models::SessionOptions{});
  EXPECT_TRUE(session.is_ok()) << c.name << ": " << session.status().message();
  if (!session.is_ok()) return {};
  auto out = (*session)->run({x});
  EXPECT_TRUE(out.is_ok()) << c.name << ": " << out.status().message();
  return out.is_ok() ? (*out)[0] : models::TensorData{};
}

class PoolTemplatesTest : public GxxTemplatesTest {
 protected:
  /// Calls `library` on `x` (of `dtype`, through `x_view`) and compares Y with the runtime
  /// on the same values in float32, rounded to `dtype` (max picks an input; the average is
  /// a float32 sum rounded once).
  void check(const KernelLibrary& library, const PoolCase& c, HostTensor& x, const ak_tensor& x_view,
             const std::vector<int64_t>& logical_shape, const std::vector<double>& logical_values,
             const std::string& what) {
    models::TensorData ref_x;
    ref_x.name = "x";
    ref_x.dtype = models::DType::kFloat32;
    ref_x.dims = logical_shape;
    std::vector<float> floats(logical_values.begin(), logical_values.end());
    ref_x.bytes = models::Buffer::copy_of(floats.data(), floats.size() * sizeof(float));
    const models::TensorData ref = runtime_pool(c, ref_x);
    ASSERT_FALSE(ref.dims.empty()) << what;
    std::vector<double> want(static_cast<size_t>(ref.numel()));
    for (size_t i = 0; i < want.size(); ++i) want[i] = round_to(x.dtype, ref.data<float>()[i]);
    HostTensor y(x.dtype, ref.dims);
    ASSERT_EQ(call(library, {x_view}, {y.view()}), 0) << what;
    expect_close(y.values(), want, tolerance(x.dtype), what);
  }

  void check_contiguous(const KernelLibrary& library, const PoolCase& c, int32_t dtype,
                        const std::vector<int64_t>& shape, uint32_t seed) {
    HostTensor x = random_tensor(dtype, shape, seed);
    check(library, c, x, x.view(), shape, x.values(), c.name + " " + dtype_name(dtype) + " " +
                                                          models::shape_string(shape));
  }

};

TEST_F(PoolTemplatesTest, EveryCaseMatchesTheRuntimeInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    for (const PoolCase& c : pool_cases()) {
      // One build per case and dtype, called on each of its shapes: nothing about N or the
      // spatial sizes is baked in.
      auto library = build(pool_source(spec_of(c, dtype), Target::kCpu), c.name + "_" + dtype_name(dtype));
      if (!library) continue;
      uint32_t seed = 11;
      for (const auto& shape : c.shapes) check_contiguous(*library, c, dtype, shape, seed++);
    }
  }
}

TEST_F(PoolTemplatesTest, MaxPoolPropagatesNanAsAten) {
  const PoolCase& c = pool_cases()[0];  // 3x3, stride 2, pads 1
  for (int32_t dtype : kFloatDtypes) {
    auto library = build(pool_source(spec_of(c, dtype), Target::kCpu), "nan_" + dtype_name(dtype));
    ASSERT_TRUE(library);
    HostTensor x = random_tensor(dtype, {1, 2, 7, 7}, 3);
    x.set(0, NAN);    // the corner: one window
    x.set(24, NAN);   // the centre of plane 0: four windows
    x.set(60, 1e30);  // large values stay large (float16: inf), not NaN
    check(*library, c, x, x.view(), x.shape, x.values(), "NaN " + dtype_name(dtype));
    HostTensor y(dtype, {1, 2, 4, 4});
    ASSERT_EQ(call(*library, {x.view()}, {y.view()}), 0);
    EXPECT_TRUE(std::isnan(y.get(0)));
    EXPECT_TRUE(std::isnan(y.get(5)));
    EXPECT_FALSE(std::isnan(y.get(3)));
  }
}

TEST_F(PoolTemplatesTest, ReadsInputsThroughTheirStrides) {
  // X [2, 3, 5, 6] as a view of a contiguous [2, 6, 5, 3] buffer (H and W swapped, C and
  // W swapped): every axis strided.
  for (const PoolCase& c : {pool_cases()[0], pool_cases()[11], pool_cases()[16]}) {
    auto library = build(pool_source(spec_of(c, kF32), Target::kCpu), "strided_" + c.name);
    ASSERT_TRUE(library);
    HostTensor buffer = random_tensor(kF32, {2, 6, 5, 3}, 9);
    const std::vector<int64_t> shape = {2, 3, 5, 6}, strides = {90, 1, 3, 15};
    std::vector<double> logical;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t h = 0; h < 5; ++h)
          for (int64_t w = 0; w < 6; ++w) logical.push_back(buffer.get(n * 90 + ch + h * 3 + w * 15));
    check(*library, c, buffer, buffer.view(shape, strides), shape, logical, "strided " + c.name);
  }
}

TEST_F(PoolTemplatesTest, EveryParameterValueComputesTheRuntime) {
  const std::vector<TemplateParameter>& parameters = template_parameters(TemplateKind::kPool, Target::kCpu);
  ASSERT_FALSE(parameters.empty());
  size_t count = 1;
  for (const TemplateParameter& p : parameters) count = std::max(count, p.values.size());
  for (size_t j = 0; j < count; ++j) {
    TemplateConfig config;
    for (const TemplateParameter& p : parameters) config[p.name] = p.values[j % p.values.size()];
    const PoolCase& c = pool_cases()[j % pool_cases().size()];
    auto library = build(pool_source(spec_of(c, kF32), Target::kCpu, config), "config_" + std::to_string(j));
    // More rows than the largest chunk, so that every chunk size splits the work.
    std::vector<int64_t> shape = c.shapes[0];
    shape[0] = 3;
    shape[1] = 5;
    for (size_t d = 2; d < shape.size(); ++d) shape[d] += 8;
    if (library) check_contiguous(*library, c, kF32, shape, 5);
  }
}

TEST_F(PoolTemplatesTest, ParametersAreNamedWithLegalDefaults) {
  for (Target target : {Target::kCpu, Target::kCuda}) {
    const std::vector<TemplateParameter>& parameters = template_parameters(TemplateKind::kPool, target);
    EXPECT_FALSE(parameters.empty());
    for (const TemplateParameter& p : parameters) {
      EXPECT_FALSE(p.doc.empty()) << p.name;
      EXPECT_TRUE(std::is_sorted(p.values.begin(), p.values.end())) << p.name;
      EXPECT_NE(std::find(p.values.begin(), p.values.end(), p.default_value), p.values.end()) << p.name;
    }
    EXPECT_TRUE(validate_template_config(TemplateKind::kPool, target, {}).is_ok());
  }
  EXPECT_STREQ(template_kind_name(TemplateKind::kPool), "pool");
  const Result<std::string> bad = pool_source(spec_of(pool_cases()[0], kF32), Target::kCpu, {{"rows_per_chunk", 3}});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(contains(bad.status().message(), "rows_per_chunk")) << bad.status().message();
  EXPECT_FALSE(pool_source(spec_of(pool_cases()[0], kF32), Target::kCuda, {{"rows_per_chunk", 16}}).is_ok());
  const Result<std::string> cuda = pool_source(spec_of(pool_cases()[0], kF32), Target::kCuda, {{"threads_per_block", 128}});
  ASSERT_TRUE(cuda.is_ok()) << cuda.status().message();
  EXPECT_TRUE(contains(*cuda, "constexpr int kThreadsPerBlock = 128;"));
}

TEST_F(PoolTemplatesTest, PassesOnnxsBackendTests) {
  const char* env = std::getenv("AK_ONNX_TESTDATA");
  const fs::path node_dir = fs::path(env && *env ? env : "/usr/share/libonnx-testdata/data") / "node";
  if (!fs::is_directory(node_dir)) GTEST_SKIP() << "no ONNX backend test data at " << node_dir;
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(node_dir)) {
    const std::string name = entry.path().filename().string();
    const bool pool = name.rfind("test_maxpool_", 0) == 0 || name.rfind("test_averagepool_", 0) == 0 ||
                      name.rfind("test_globalaveragepool", 0) == 0 || name.rfind("test_globalmaxpool", 0) == 0;
    if (!pool) continue;
    SCOPED_TRACE(name);
    auto model = models::load_model(entry.path() / "model.onnx");
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    ASSERT_EQ(model->graph.nodes.size(), 1u);
    const models::Node& n = model->graph.nodes[0];
    auto x = models::load_tensor_file(entry.path() / "test_data_set_0" / "input_0.pb");
    ASSERT_TRUE(x.is_ok()) << x.status().message();
    // The Indices output and uint8 are outside the template (the starter is a skeleton).
    if (n.outputs.size() > 1 || x->dtype != models::DType::kFloat32) continue;
    PoolCase c;
    c.op = n.op_type;
    c.shapes = {x->dims};
    c.kernel = n.attr_ints("kernel_shape");
    c.strides = n.attr_ints("strides");
    c.dilations = n.attr_ints("dilations");
    c.pads = n.attr_ints("pads");
    c.auto_pad = n.attr_string("auto_pad", "NOTSET");
    c.ceil_mode = n.attr_int("ceil_mode", 0) != 0;
    c.count_include_pad = n.attr_int("count_include_pad", 0) != 0;
    auto library = build(pool_source(spec_of(c, kF32), Target::kCpu), name);
    ASSERT_TRUE(library);
    auto expected = models::load_tensor_file(entry.path() / "test_data_set_0" / "output_0.pb");
    ASSERT_TRUE(expected.is_ok()) << expected.status().message();
    std::vector<float> y(static_cast<size_t>(expected->numel()));
    auto in = make_tensor(const_cast<void*>(static_cast<const void*>(x->bytes.data)), kF32, x->dims);
    auto out = make_tensor(y.data(), kF32, expected->dims);
    ASSERT_TRUE(in.is_ok() && out.is_ok());
    ASSERT_EQ(call(*library, {*in}, {*out}), 0);
    const float* want = expected->data<float>();
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << i;
    ++checked;
  }
  EXPECT_GE(checked, 25) << "ONNX ships 25 float32 single-output pooling node tests";
}

TEST_F(PoolTemplatesTest, RejectsBadTensorsWithItsCodes) {
  auto library = build(pool_source(spec_of(pool_cases()[0], kF32), Target::kCpu), "codes");
  ASSERT_TRUE(library);
  HostTensor x(kF32, {1, 3, 9, 7}), y(kF32, {1, 3, 5, 4});
  HostTensor x16(kF16, {1, 3, 9, 7}), x3(kF32, {3, 9, 7}), y_bad(kF32, {1, 3, 5, 5}), y_c(kF32, {1, 2, 5, 4});
  EXPECT_EQ(call(*library, {x.view()}, {y.view()}), 0);
  EXPECT_EQ(call(*library, {x.view(), x.view()}, {y.view()}), 1) << "two inputs";
  EXPECT_EQ(call(*library, {x.view()}, {y.view(), y.view()}), 1) << "Indices asked for";
  EXPECT_EQ(call(*library, {x16.view()}, {y.view()}), 2) << "float16 X";
  EXPECT_EQ(call(*library, {x3.view()}, {y.view()}), 3) << "3-D X for a 2-D pool";
  EXPECT_EQ(call(*library, {x.view()}, {y_bad.view()}), 4) << "OW 5 for 4";
  EXPECT_EQ(call(*library, {x.view()}, {y_c.view()}), 4) << "C 2 for 3";
  // A window larger than the padded input: no output size.
  auto big = build(pool_source(spec_of({"big", "MaxPool", {{1, 1, 2, 2}}, {3, 3}}, kF32), Target::kCpu), "big");
  ASSERT_TRUE(big);
  HostTensor small(kF32, {1, 1, 2, 2}), none(kF32, {1, 1, 1, 1});
  EXPECT_EQ(call(*big, {small.view()}, {none.view()}), 4);
}

TEST(PoolTemplates, GeneratorRefusesWhatItCannotCompute) {
  auto refused = [](PoolSpec spec, const std::string& part) {
    const Result<std::string> r = pool_source(spec, Target::kCpu);
    ASSERT_FALSE(r.is_ok()) << part;
    EXPECT_TRUE(contains(r.status().message(), part)) << r.status().message();
  };
  const PoolSpec max = spec_of(pool_cases()[0], kF32);
  PoolSpec s = max;
  s.dtype = 7;
  refused(s, "dtype 7");
  s = max;
  s.spatial_rank = 4;
  refused(s, "4 spatial dims");
  s = max;
  s.kernel.clear();
  refused(s, "kernel_shape is required");
  s = max;
  s.kernel = {3};
  refused(s, "kernel_shape has 1 values, expected 2");
  s = max;
  s.strides = {0, 1};
  refused(s, "strides value 0");
  s = max;
  s.pads = {3, 0, 0, 0};
  refused(s, "reach past the window");
  s = max;
  s.count_include_pad = true;
  refused(s, "count_include_pad");
  s = max;
  s.auto_pad = PoolSpec::AutoPad::kSameUpper;
  refused(s, "auto_pad NOTSET only");
  s = spec_of(pool_cases()[16], kF32);
  s.kernel = {2, 2};
  refused(s, "a global pool takes no attributes");
}

TEST(PoolTemplates, CudaSourcesCompileForSm90a) {
  testing::ScratchDir dir;
  BuildOptions options;
  options.cache_dir = dir / "cache";
  options.cuda_arch = "sm_90a";
  auto nvcc = make_nvcc_backend(options);
  if (!nvcc.is_ok()) GTEST_SKIP() << "no nvcc: " << nvcc.status().message();
  // One nvcc run per source (5-20 s each): a MaxPool, an AveragePool and a global pool, one
  // dtype each.
  const std::vector<std::pair<PoolSpec, TemplateConfig>> specs = {
      {spec_of(pool_cases()[0], kF16), {}},
      {spec_of(pool_cases()[11], kBF16), {{"threads_per_block", 1024}, {"max_blocks", 256}}},
      {spec_of(pool_cases()[19], kF32), {}},
  };
  for (size_t i = 0; i < specs.size(); ++i) {
    const Result<std::string> source = pool_source(specs[i].first, Target::kCuda, specs[i].second);
    ASSERT_TRUE(source.is_ok()) << source.status().message();
    const fs::path path = testing::write_text(dir / ("pool_" + std::to_string(i) + ".cu"), *source);
    auto built = build_kernel(path, **nvcc, options);
    ASSERT_TRUE(built.is_ok()) << built.status().message();
    EXPECT_TRUE(built->ok) << built->command << "\n" << head_lines(built->log, 40);
    EXPECT_FALSE(contains(built->log, "warning")) << head_lines(built->log, 40);
  }
}

}  // namespace
}  // namespace ak::kernels
