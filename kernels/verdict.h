#pragma once
/// The verdict on one evaluated candidate kernel (DESIGN.md "Evaluation status"): what the
/// verifier decides, what the memory stores (by name) and what the CLI prints. One enum for
/// all three. Header-only and dependency-free, so that memory/ (which links nothing of
/// kernels/) can use it too.

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace ak::kernels {

/// How a candidate was judged. Every value except kPassed names the first thing that failed.
enum class Verdict {
  kPassed,
  kCompileError,        ///< the candidate did not build
  kRuntimeError,        ///< it crashed, aborted, returned an error or exceeded a memory limit
  kTimeout,             ///< it did not finish within the time limit
  kIncorrectShape,      ///< an output has the wrong shape (or byte size)
  kIncorrectDtype,      ///< an output has the wrong element type
  kIncorrectNumerical,  ///< values outside the tolerance, or not bitwise repeatable
  kCheatSuspected,      ///< mutated its inputs, impossible latency, or similar
};

/// Every verdict with its stored name, in enum order.
inline constexpr std::array<std::pair<Verdict, std::string_view>, 8> kVerdictNames = {{
    {Verdict::kPassed, "PASSED"},
    {Verdict::kCompileError, "COMPILE_ERROR"},
    {Verdict::kRuntimeError, "RUNTIME_ERROR"},
    {Verdict::kTimeout, "TIMEOUT"},
    {Verdict::kIncorrectShape, "INCORRECT_SHAPE"},
    {Verdict::kIncorrectDtype, "INCORRECT_DTYPE"},
    {Verdict::kIncorrectNumerical, "INCORRECT_NUMERICAL"},
    {Verdict::kCheatSuspected, "CHEAT_SUSPECTED"},
}};

/// How many verdicts there are (kVerdictNames.size()).
inline constexpr int kVerdictCount = static_cast<int>(kVerdictNames.size());

/// "PASSED", "COMPILE_ERROR", "RUNTIME_ERROR", "TIMEOUT", "INCORRECT_SHAPE",
/// "INCORRECT_DTYPE", "INCORRECT_NUMERICAL", "CHEAT_SUSPECTED" (static, NUL-terminated);
/// "UNKNOWN" for a value outside the enum (a cast from a bad integer).
inline const char* verdict_name(Verdict verdict) {
  for (const auto& [value, name] : kVerdictNames)
    if (value == verdict) return name.data();
  return "UNKNOWN";
}

/// The inverse of verdict_name (exact, upper case); nullopt for anything else, "UNKNOWN" too.
inline std::optional<Verdict> parse_verdict(std::string_view name) {
  for (const auto& [value, text] : kVerdictNames)
    if (name == text) return value;
  return std::nullopt;
}

/// True for the verdicts that say the candidate computes the wrong thing on that workload
/// (INCORRECT_* and CHEAT_SUSPECTED): such a candidate is never "verified" for it again.
inline bool is_correctness_failure(Verdict verdict) {
  switch (verdict) {
    case Verdict::kIncorrectShape:
    case Verdict::kIncorrectDtype:
    case Verdict::kIncorrectNumerical:
    case Verdict::kCheatSuspected: return true;
    default: return false;
  }
}

}  // namespace ak::kernels
