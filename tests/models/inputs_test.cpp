#include <gtest/gtest.h>

#include "models/inputs.h"
#include "models/onnx_io.h"
#include "tests/models/model_builder.h"

namespace ak::models {
namespace {

using namespace testing;

TEST(InputSpec, ParsesShapesDtypesAndFiles) {
  auto a = parse_input_spec("pixels=1x3x224x224:float16");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->name, "pixels");
  EXPECT_EQ(a->dims, (std::vector<int64_t>{1, 3, 224, 224}));
  EXPECT_EQ(a->dtype, DType::kFloat16);
  EXPECT_FALSE(a->file);

  auto b = parse_input_spec("ids=data/ids.pb");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->file->string(), "data/ids.pb");

  auto c = parse_input_spec("n=scalar:int64");
  ASSERT_TRUE(c.is_ok());
  EXPECT_TRUE(c->dims.empty());

  for (const char* bad : {"noequals", "=1x2", "x=", "x=1x2:float8", "x=1xx2"}) {
    auto r = parse_input_spec(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    }
  }
}

TEST(DimSpec, Parses) {
  auto d = parse_dim_spec("batch=32");
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->first, "batch");
  EXPECT_EQ(d->second, 32);
  EXPECT_FALSE(parse_dim_spec("batch").is_ok());
  EXPECT_FALSE(parse_dim_spec("batch=-1").is_ok());
  EXPECT_FALSE(parse_dim_spec("batch=abc").is_ok());
}

Model embedding_model() {
  // ids -> Cast -> Gather(table[100, 4]) ; mask is a second int input
  Graph g;
  g.inputs.push_back(tensor_info("input_ids", DType::kInt64, {1, 16}, {"batch", ""}));
  g.inputs.push_back(tensor_info("attention_mask", DType::kInt64, {1, 16}, {"batch", ""}));
  g.inputs.push_back(tensor_info("pixels", DType::kFloat32, {1, 8}, {"batch", ""}));
  g.initializers.push_back(float_tensor("table", {100, 4}, std::vector<float>(400, 0.f)));
  g.nodes.push_back(node("Cast", {"input_ids"}, {"ids32"}, {int_attr("to", 6)}));
  g.nodes.push_back(node("Gather", {"table", "ids32"}, {"emb"}));
  g.outputs.push_back(tensor_info("emb", DType::kFloat32, {1, 16, 4}));
  return model_of(g);
}

TEST(ResolveInputs, RandomDataRespectsEmbeddingsMasksAndDims) {
  Model m = embedding_model();
  EXPECT_EQ(index_bound(m.graph, "input_ids"), std::optional<int64_t>(100));
  EXPECT_FALSE(index_bound(m.graph, "attention_mask"));

  auto r = resolve_inputs(m, {}, {{"batch", 4}}, 7);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->tensors.size(), 3u);
  const TensorData& ids = r->tensors[0];
  EXPECT_EQ(ids.dims, (std::vector<int64_t>{4, 16}));
  int64_t max_id = 0;
  for (int64_t i = 0; i < ids.numel(); ++i) max_id = std::max(max_id, ids.data<int64_t>()[i]);
  EXPECT_LT(max_id, 100);
  EXPECT_GT(max_id, 8);  // not the default [0, 8) range
  const TensorData& mask = r->tensors[1];
  for (int64_t i = 0; i < mask.numel(); ++i) ASSERT_EQ(mask.data<int64_t>()[i], 1);
  EXPECT_TRUE(r->notices.empty());

  // Same seed, same data; another seed, other data.
  auto again = resolve_inputs(m, {}, {{"batch", 4}}, 7);
  auto other = resolve_inputs(m, {}, {{"batch", 4}}, 8);
  EXPECT_EQ(std::memcmp(again->tensors[2].bytes.data, r->tensors[2].bytes.data, r->tensors[2].bytes.size_bytes), 0);
  EXPECT_NE(std::memcmp(other->tensors[2].bytes.data, r->tensors[2].bytes.data, r->tensors[2].bytes.size_bytes), 0);
}

TEST(ResolveInputs, DefaultsSymbolicDimsWithANotice) {
  auto r = resolve_inputs(embedding_model(), {}, {}, 0);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->tensors[0].dims, (std::vector<int64_t>{1, 16}));
  ASSERT_EQ(r->notices.size(), 1u);
  EXPECT_EQ(r->notices[0], "symbolic dim 'batch' set to 1 (use --dim batch=N)");
}

TEST(ResolveInputs, RejectsBadSpecs) {
  Model m = embedding_model();
  auto unknown = resolve_inputs(m, {InputSpec{"nope", {}, {1}, DType::kFloat32}}, {}, 0);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("no such input (inputs: input_ids, attention_mask, pixels)"), std::string::npos);

  auto shape = resolve_inputs(m, {InputSpec{"pixels", {}, {2, 9}, DType::kUndefined}}, {}, 0);
  ASSERT_FALSE(shape.is_ok());
  EXPECT_EQ(shape.status().message(), "--input pixels: shape 2x9 given, the model expects batchx8");

  auto dtype = resolve_inputs(m, {InputSpec{"pixels", {}, {2, 8}, DType::kInt32}}, {}, 0);
  ASSERT_FALSE(dtype.is_ok());
  EXPECT_EQ(dtype.status().message(), "--input pixels: dtype int32 given, the model expects float32");

  auto dim = resolve_inputs(m, {}, {{"seq", 3}}, 0);
  ASSERT_FALSE(dim.is_ok());
  EXPECT_NE(dim.status().message().find("no symbolic dimension 'seq'"), std::string::npos);

  TempDir dir;
  auto file = resolve_inputs(m, {InputSpec{"pixels", dir.path / "missing.pb", {}, DType::kUndefined}}, {}, 0);
  ASSERT_FALSE(file.is_ok());
  EXPECT_NE(file.status().message().find("does not exist"), std::string::npos);
}

TEST(ResolveInputs, ReadsTensorFiles) {
  TempDir dir;
  ASSERT_TRUE(save_tensor_file(float_tensor("whatever", {1, 8}, {1, 2, 3, 4, 5, 6, 7, 8}), dir.path / "p.pb").is_ok());
  auto r = resolve_inputs(embedding_model(), {InputSpec{"pixels", dir.path / "p.pb", {}, DType::kUndefined}}, {}, 0);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(floats_of(r->tensors[2]), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(r->tensors[2].name, "pixels");
}

}  // namespace
}  // namespace ak::models
