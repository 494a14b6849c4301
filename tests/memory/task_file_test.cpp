// --task: a search query from task.json.
#include <gtest/gtest.h>

#include <fstream>

#include "memory/memory.h"
#include "tests/memory/test_records.h"

namespace ak::memory {
namespace {

using testing::TempDir;

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

TEST(TaskFile, ReadsInputsInFileOrderAndResolvesNamedAxes) {
  TempDir dir;
  write(dir / "task.json", R"({
    "name": "bert_layer0_matmul",
    "op_type": "MatMul",
    "axes": {"M": {"type": "var", "value": 128}, "K": {"type": "const", "value": 768}, "N": 3072},
    "inputs": {"B": {"shape": ["K", "N"], "dtype": "float16"},
               "A": {"shape": [8, "M", "K"], "dtype": "float16"}},
    "outputs": {"C": {"shape": [8, "M", "N"], "dtype": "float16"}},
    "attributes": {"transB": 0}
  })");
  auto query = query_from_task(dir.path());
  ASSERT_TRUE(query.is_ok()) << query.status().message();
  EXPECT_EQ(query->op_type, "MatMul");
  EXPECT_EQ(query->dtype, "float16");
  EXPECT_EQ(format_shape(query->shape), "768x3072,8x128x768");  // B first, as in the file
  EXPECT_EQ(query->signature, R"(MatMul{"transB":0}[float16,float16])");
  // The same query from the file path itself.
  EXPECT_EQ(query_from_task(dir / "task.json")->signature, query->signature);
}

TEST(TaskFile, SignatureMatchesWhatBenchWouldRecord) {
  TempDir dir;
  write(dir / "task.json", R"({"op_type": "Softmax", "attributes": {"axis": -1},
    "inputs": {"x": {"shape": [32, 12, 128, 128], "dtype": "float16"}}})");
  auto query = query_from_task(dir.path()).value();
  auto store = Store::open(dir / "memory.db").value();
  ASSERT_TRUE(store->record({testing::softmax_workload({{32, 12, 128, 128}}), testing::kernel("k"),
                             testing::passed(1.5)})
                  .is_ok());
  auto result = store->search(query);
  ASSERT_TRUE(result.is_ok());
  EXPECT_EQ(result->exact.size(), 1u);
}

TEST(TaskFile, BadTasksNameTheProblem) {
  TempDir dir;
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    write(dir / "task.json", text);
    auto query = query_from_task(dir.path());
    ASSERT_FALSE(query.is_ok()) << text;
    EXPECT_EQ(query.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(query.status().message().find(needle), std::string::npos) << query.status().message();
  };
  expect_error("{", "not a JSON object");
  expect_error(R"({"inputs": {"x": {"shape": [1], "dtype": "float16"}}})", "op_type");
  expect_error(R"({"op_type": "Relu"})", "inputs");
  expect_error(R"({"op_type": "Relu", "inputs": {"x": {"shape": ["M"], "dtype": "float16"}}})", "axis 'M'");
  expect_error(R"({"op_type": "Relu", "inputs": {"x": {"shape": [1]}}})", "dtype");
  expect_error(R"({"op_type": "Relu", "inputs": {"x": {"shape": [-4], "dtype": "float16"}}})", "non-negative");
  EXPECT_FALSE(query_from_task(dir / "missing").is_ok());
}

}  // namespace
}  // namespace ak::memory
