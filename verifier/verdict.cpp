#include "verifier/verdict.h"

#include <array>
#include <utility>

namespace ak::verifier {
namespace {

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
