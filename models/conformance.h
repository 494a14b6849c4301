#pragma once
/// Conformance: run ONNX test directories (model.onnx + test_data_set_*/input_*.pb,
/// output_*.pb) and compare every output with the expected one.

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/session.h"

namespace ak::models {

struct ConformanceOptions {
  Device device;
  /// Explicit tolerances override a test's data.json (its per-device entry first), which
  /// overrides the defaults.
  std::optional<double> rtol;
  std::optional<double> atol;
  double default_rtol = 1e-3;
  double default_atol = 1e-5;
};

/// How one conformance test ended (not the judge's verdict on a candidate: kernels/verdict.h).
enum class Outcome { kPass, kFail, kUnsupported };
const char* outcome_name(Outcome outcome);  ///< "PASS", "FAIL", "UNSUPPORTED"

struct ConformanceResult {
  std::string name;  ///< the test directory's name
  std::filesystem::path dir;
  Outcome outcome = Outcome::kFail;
  /// FAIL: which output and the worst error, or the error; UNSUPPORTED: the op and opset.
  std::string detail;
  double max_abs_error = 0;
  double max_rel_error = 0;
  int data_sets = 0;
  double seconds = 0;
};

/// Test directories under `path`: `path` itself if it holds model.onnx, else its
/// subfolders that do (searched recursively), sorted by path.
Result<std::vector<std::filesystem::path>> find_conformance_tests(const std::filesystem::path& path);

/// Loads, runs and compares one test directory. Never throws; every problem becomes a
/// FAIL (or UNSUPPORTED) with its reason. Outputs of models with random ops (Bernoulli,
/// Random*) are checked by dtype and shape only: their values are draws.
ConformanceResult run_conformance_test(const std::filesystem::path& dir, const ConformanceOptions& options);

/// A test that is known not to pass: the verdict it must keep, and why.
struct KnownResult {
  Outcome outcome = Outcome::kFail;
  std::string reason;
};

/// Known non-passing tests by name. A name is the test directory's name or its trailing
/// path ("test_adam_multiple" or "node/test_adam_multiple").
using KnownResults = std::map<std::string, KnownResult>;

/// Reads a known-results file: one `NAME VERDICT REASON...` line per test (VERDICT is FAIL
/// or UNSUPPORTED, the reason is required), `#` comments and blank lines ignored.
/// invalid_input naming the file and line for anything else.
Result<KnownResults> read_known_results(const std::filesystem::path& file);

/// How a result stands against the known list (not the verifier's gates: a conformance
/// run accepts or rejects each test).
enum class Acceptance {
  kPass,        ///< passed, not listed
  kKnown,       ///< did not pass, listed with this verdict
  kUnexpected,  ///< did not pass and is not listed (or listed with another verdict)
  kStale,       ///< passed although listed: the entry should go
};

/// The gate of `result` against `known`; `entry` (if not null) receives the matching entry.
Acceptance gate_result(const ConformanceResult& result, const KnownResults& known, const KnownResult** entry = nullptr);

/// Compares `actual` with `expected`: dtype and shape exactly, integers/bools/strings
/// exactly, floats by |a - e| <= atol + rtol * |e| with NaN matching NaN. Returns ok or
/// the first mismatch, naming `what`; fills the worst errors seen.
Status compare_values(const HostValue& expected, const HostValue& actual, double rtol, double atol,
                      const std::string& what, double* max_abs_error, double* max_rel_error);

}  // namespace ak::models
