// ONNX's own backend test suite (Debian libonnx-testdata) through the conformance runner.
// Each suite must reach its pass rate, and every test that does not pass must be listed in
// tests/models/onnx_backend_known.txt with its verdict: a newly failing test, or a listed
// test whose verdict changed, fails this test (so regressions cannot hide in the rate).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "models/conformance.h"
#include "tests/models/model_builder.h"

namespace ak::models {
namespace {

namespace fs = std::filesystem;
/// Debian's libonnx-testdata, or AK_ONNX_TESTDATA (a copy, e.g. on the GPU machine).
fs::path data_dir() {
  const char* env = std::getenv("AK_ONNX_TESTDATA");
  return env && *env ? fs::path(env) : fs::path("/usr/share/libonnx-testdata/data");
}

void check_suite(const std::string& suite, double min_pass_rate) {
  const fs::path dir = data_dir() / suite;
  if (!fs::exists(dir)) GTEST_SKIP() << "libonnx-testdata is not installed";
  auto tests = find_conformance_tests(dir);
  ASSERT_TRUE(tests.is_ok()) << tests.status().message();
  auto known = read_known_results(fs::path(AK_SOURCE_DIR) / "tests/models/onnx_backend_known.txt");
  ASSERT_TRUE(known.is_ok()) << known.status().message();
  ConformanceOptions options;  // CPU
  int passed = 0;
  std::vector<std::string> unexpected;
  for (const auto& test : *tests) {
    ConformanceResult r = run_conformance_test(test, options);
    const std::string key = suite + "/" + r.name;
    if (r.outcome == Outcome::kPass) ++passed;
    switch (gate_result(r, *known)) {
      case Acceptance::kStale: unexpected.push_back(key + " now passes: remove it from onnx_backend_known.txt"); break;
      case Acceptance::kUnexpected: unexpected.push_back(key + " " + outcome_name(r.outcome) + ": " + r.detail); break;
      default: break;
    }
  }
  const double rate = static_cast<double>(passed) / tests->size();
  std::printf("%s: %d of %zu passed (%.1f%%)\n", suite.c_str(), passed, tests->size(), 100 * rate);
  EXPECT_GE(rate, min_pass_rate) << suite;
  for (const auto& u : unexpected) ADD_FAILURE() << u;
}

TEST(OnnxBackend, Node) { check_suite("node", 0.80); }
TEST(OnnxBackend, PytorchConverted) { check_suite("pytorch-converted", 0.95); }
TEST(OnnxBackend, PytorchOperator) { check_suite("pytorch-operator", 0.95); }
TEST(OnnxBackend, Simple) { check_suite("simple", 0.95); }

TEST(KnownResults, ReadGateAndBadLines) {
  testing::TempDir tmp;
  const fs::path& dir = tmp.path;
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "known.txt") << text;
    return read_known_results(dir / "known.txt");
  };
  auto known = write("# comment\n\nnode/test_a FAIL  the reference is wrong\ntest_b UNSUPPORTED needs strings\n");
  ASSERT_TRUE(known.is_ok()) << known.status().message();
  ASSERT_EQ(known->size(), 2u);
  EXPECT_EQ(known->at("node/test_a").reason, "the reference is wrong");
  EXPECT_EQ(known->at("test_b").outcome, Outcome::kUnsupported);

  auto result = [](const std::string& path, Outcome v) {
    ConformanceResult r;
    r.dir = path;
    r.name = fs::path(path).filename().string();
    r.outcome = v;
    return r;
  };
  const KnownResult* entry = nullptr;
  EXPECT_EQ(gate_result(result("/data/node/test_a", Outcome::kFail), *known, &entry), Acceptance::kKnown);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->reason, "the reference is wrong");
  // The suite is part of the name: the same test in another suite is not listed.
  EXPECT_EQ(gate_result(result("/data/simple/test_a", Outcome::kFail), *known), Acceptance::kUnexpected);
  EXPECT_EQ(gate_result(result("/data/node/test_a", Outcome::kUnsupported), *known), Acceptance::kUnexpected);
  EXPECT_EQ(gate_result(result("/data/node/test_a", Outcome::kPass), *known), Acceptance::kStale);
  EXPECT_EQ(gate_result(result("/x/test_b/", Outcome::kUnsupported), *known), Acceptance::kKnown);
  EXPECT_EQ(gate_result(result("/x/test_c", Outcome::kUnsupported), *known), Acceptance::kUnexpected);
  EXPECT_EQ(gate_result(result("/x/test_c", Outcome::kPass), *known), Acceptance::kPass);

  auto no_reason = write("test_a FAIL\n");
  ASSERT_FALSE(no_reason.is_ok());
  EXPECT_EQ(no_reason.status().message(), (dir / "known.txt").string() + ":1: 'test_a' has no reason");
  auto bad_verdict = write("# x\ntest_a BROKEN why\n");
  ASSERT_FALSE(bad_verdict.is_ok());
  EXPECT_EQ(bad_verdict.status().message(),
            (dir / "known.txt").string() + ":2: expected 'NAME FAIL|UNSUPPORTED REASON', got 'test_a BROKEN why'");
  auto twice = write("a FAIL x\na FAIL y\n");
  ASSERT_FALSE(twice.is_ok());
  EXPECT_NE(twice.status().message().find("'a' is listed twice"), std::string::npos);
  EXPECT_EQ(read_known_results(dir / "missing.txt").status().code(), StatusCode::kInvalidInput);
}

TEST(CompareValues, ToleranceNanAndDtype) {
  auto tensor = [](std::vector<float> v) {
    HostValue h;
    h.tensor.dtype = DType::kFloat32;
    h.tensor.dims = {static_cast<int64_t>(v.size())};
    h.tensor.bytes = Buffer::copy_of(v.data(), v.size() * 4);
    return h;
  };
  double abs_err = 0, rel_err = 0;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(compare_values(tensor({1.f, nan}), tensor({1.0005f, nan}), 1e-3, 1e-5, "y", &abs_err, &rel_err).is_ok());
  EXPECT_NEAR(abs_err, 5e-4, 1e-6);
  Status off = compare_values(tensor({1.f, 2.f}), tensor({1.f, 2.01f}), 1e-3, 1e-5, "y", &abs_err, &rel_err);
  ASSERT_FALSE(off.is_ok());
  EXPECT_NE(off.message().find("max abs error 0.01 at element 1"), std::string::npos) << off.message();
  EXPECT_FALSE(compare_values(tensor({nan}), tensor({0.f}), 1e-3, 1e-5, "y", &abs_err, &rel_err).is_ok());
  EXPECT_FALSE(compare_values(tensor({1.f}), tensor({1.f, 1.f}), 1e-3, 1e-5, "y", &abs_err, &rel_err).is_ok());
  EXPECT_FALSE(compare_values(tensor({INFINITY}), tensor({-INFINITY}), 1e-3, 1e-5, "y", &abs_err, &rel_err).is_ok());
  HostValue ints = tensor({0.f});
  ints.tensor.dtype = DType::kInt32;
  Status dtype = compare_values(tensor({0.f}), ints, 1e-3, 1e-5, "y", &abs_err, &rel_err);
  ASSERT_FALSE(dtype.is_ok());
  EXPECT_EQ(dtype.message(), "y: dtype int32, expected float32");
}

}  // namespace
}  // namespace ak::models
