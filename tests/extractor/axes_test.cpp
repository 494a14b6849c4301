// AxisNamer: var axes follow the symbolic dims, const axes are named by their size.
#include <gtest/gtest.h>

#include "extractor/internal/axes.h"

namespace ak::extractor::internal {
namespace {

using Names = std::vector<std::string>;

DimVariant variant(const std::string& param, int64_t base, ShapeMap shapes, bool ran = true) {
  DimVariant v;
  v.param = param;
  v.base_value = base;
  v.ran = ran;
  v.shapes = std::move(shapes);
  return v;
}

TEST(AxisNamer, WithoutSymbolicDimsEveryAxisIsConstAndNamedBySize) {
  std::vector<DimVariant> none;
  AxisNamer namer(none);
  EXPECT_EQ(namer.name_dims("x", {2, 16}), (Names{"n2", "n16"}));
  EXPECT_EQ(namer.name_dims("w", {16, 16}), (Names{"n16", "n16"}));
  EXPECT_EQ(namer.name_dims("s", {}), Names{});
  ASSERT_EQ(namer.axes().size(), 2u);  // deduplicated: n2, n16
  EXPECT_FALSE(namer.is_var("n2"));
  EXPECT_EQ(namer.axes()[1].value, 16);
}

TEST(AxisNamer, TheBatchDimIsVarAndCarriesItsName) {
  std::vector<DimVariant> variants = {variant("batch", 2, {{"x", {3, 16}}, {"w", {16, 8}}, {"y", {3, 8}}})};
  AxisNamer namer(variants);
  EXPECT_EQ(namer.name_dims("x", {2, 16}), (Names{"batch", "n16"}));
  EXPECT_EQ(namer.name_dims("w", {16, 8}), (Names{"n16", "n8"}));
  EXPECT_EQ(namer.name_dims("y", {2, 8}), (Names{"batch", "n8"}));
  EXPECT_TRUE(namer.is_var("batch"));
  EXPECT_FALSE(namer.is_var("n8"));
  ASSERT_EQ(namer.axes().size(), 3u);
  EXPECT_EQ(namer.axes()[0].name, "batch");
  EXPECT_EQ(namer.axes()[0].value, 2);
}

TEST(AxisNamer, ADimOfTheBatchSizeThatDoesNotGrowIsConst) {
  // batch = 2 and a fixed dim of 2: only the one that changes is the batch.
  std::vector<DimVariant> variants = {variant("batch", 2, {{"x", {3, 2}}})};
  AxisNamer namer(variants);
  EXPECT_EQ(namer.name_dims("x", {2, 2}), (Names{"batch", "n2"}));
}

TEST(AxisNamer, DerivedDimsGetNumberedNamesSharedByEqualChanges) {
  // batch*4 flattened (8 -> 12) twice, and batch*2 (4 -> 6) once.
  std::vector<DimVariant> variants = {variant("batch", 2, {{"a", {12, 5}}, {"b", {12}}, {"c", {6}}})};
  AxisNamer namer(variants);
  EXPECT_EQ(namer.name_dims("a", {8, 5}), (Names{"batch_1", "n5"}));
  EXPECT_EQ(namer.name_dims("b", {8}), (Names{"batch_1"}));
  EXPECT_EQ(namer.name_dims("c", {4}), (Names{"batch_2"}));
  EXPECT_TRUE(namer.is_var("batch_1"));
  EXPECT_TRUE(namer.is_var("batch_2"));
}

TEST(AxisNamer, TwoSymbolicDims) {
  std::vector<DimVariant> variants = {variant("batch", 1, {{"x", {2, 128, 64}}, {"f", {256}}}),
                                      variant("seq", 128, {{"x", {1, 129, 64}}, {"f", {129}}})};
  AxisNamer namer(variants);
  EXPECT_EQ(namer.name_dims("x", {1, 128, 64}), (Names{"batch", "seq", "n64"}));
  // batch*seq flattened changes with both: named after the first, not after either alone.
  EXPECT_EQ(namer.name_dims("f", {128}), (Names{"batch_1"}));
  EXPECT_TRUE(namer.is_var("seq"));
}

TEST(AxisNamer, AVariantThatCouldNotRunChangesNothing) {
  std::vector<DimVariant> variants = {variant("batch", 2, {}, /*ran=*/false)};
  AxisNamer namer(variants);
  EXPECT_EQ(namer.name_dims("x", {2, 16}), (Names{"n2", "n16"}));
  EXPECT_FALSE(namer.is_var("n2"));
}

TEST(AxisNamer, ARankThatChangesMakesEveryDimVar) {
  std::vector<DimVariant> variants = {variant("batch", 1, {{"x", {2, 1, 3}}})};
  AxisNamer namer(variants);
  const Names names = namer.name_dims("x", {1, 3});
  EXPECT_TRUE(namer.is_var(names[0]));
  EXPECT_TRUE(namer.is_var(names[1]));
}

}  // namespace
}  // namespace ak::extractor::internal
