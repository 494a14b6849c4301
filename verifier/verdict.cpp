#include "verifier/verdict.h"

#include <array>
#include <utility>

namespace ak::verifier {
namespace {

constexpr std::array<std::pair<Verdict, const char*>, 8> kVerdictNames = {{
    {Verdict::kPassed, "PASSED"},
    {Verdict::kCompileError, "COMPILE_ERROR"},
    {Verdict::kRuntimeError, "RUNTIME_ERROR"},
    {Verdict::kTimeout, "TIMEOUT"},
    {Verdict::kIncorrectShape, "INCORRECT_SHAPE"},
    {Verdict::kIncorrectDtype, "INCORRECT_DTYPE"},
    {Verdict::kIncorrectNumerical, "INCORRECT_NUMERICAL"},
    {Verdict::kCheatSuspected, "CHEAT_SUSPECTED"},
}};

constexpr std::array<std::pair<Gate, const char*>, 8> kGateNames = {{
    {Gate::kCompile, "compile"},
    {Gate::kCapturedInputs, "captured"},
    {Gate::kRandomSeeds, "random"},
    {Gate::kShapeSweep, "sweep"},
    {Gate::kAdversarial, "adversarial"},
    {Gate::kDeterminism, "determinism"},
    {Gate::kAntiCheat, "anti_cheat"},
    {Gate::kBenchmark, "benchmark"},
}};

}  // namespace

const char* verdict_name(Verdict verdict) {
  for (const auto& [value, name] : kVerdictNames) {
    if (value == verdict) return name;
  }
  return "UNKNOWN";
}

std::optional<Verdict> parse_verdict(std::string_view name) {
  for (const auto& [value, text] : kVerdictNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

const char* gate_name(Gate gate) {
  for (const auto& [value, name] : kGateNames) {
    if (value == gate) return name;
  }
  return "unknown";
}

std::optional<Gate> parse_gate(std::string_view name) {
  for (const auto& [value, text] : kGateNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

}  // namespace ak::verifier
