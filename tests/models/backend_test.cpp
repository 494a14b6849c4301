// ONNX's own backend test suite (Debian libonnx-testdata) through the conformance runner.
// Each suite must reach its pass rate, and every test that does not pass must be listed in
// tests/models/onnx_backend_known.txt with its verdict: a newly failing test, or a listed
// test whose verdict changed, fails this test (so regressions cannot hide in the rate).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "models/conformance.h"

namespace ak::models {
namespace {

namespace fs = std::filesystem;
/// Debian's libonnx-testdata, or AK_ONNX_TESTDATA (a copy, e.g. on the GPU machine).
fs::path data_dir() {
  const char* env = std::getenv("AK_ONNX_TESTDATA");
  return env && *env ? fs::path(env) : fs::path("/usr/share/libonnx-testdata/data");
}

/// suite/test -> expected verdict for tests that do not pass.
std::map<std::string, std::string> known_non_passing() {
  std::map<std::string, std::string> known;
  std::ifstream in(fs::path(AK_SOURCE_DIR) / "tests/models/onnx_backend_known.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string test, verdict;
    fields >> test >> verdict;
    known[test] = verdict;
  }
  return known;
}

void check_suite(const std::string& suite, double min_pass_rate) {
  const fs::path dir = data_dir() / suite;
  if (!fs::exists(dir)) GTEST_SKIP() << "libonnx-testdata is not installed";
  auto tests = find_conformance_tests(dir);
  ASSERT_TRUE(tests.is_ok()) << tests.status().message();
  const auto known = known_non_passing();
  ConformanceOptions options;  // CPU
  int passed = 0;
  std::vector<std::string> unexpected;
  for (const auto& test : *tests) {
    ConformanceResult r = run_conformance_test(test, options);
    const std::string key = suite + "/" + r.name;
    auto it = known.find(key);
    if (r.verdict == Verdict::kPass) {
      ++passed;
      if (it != known.end()) unexpected.push_back(key + " now passes: remove it from onnx_backend_known.txt");
    } else if (it == known.end() || it->second != verdict_name(r.verdict)) {
      unexpected.push_back(key + " " + verdict_name(r.verdict) + ": " + r.detail);
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
