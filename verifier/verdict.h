#pragma once
/// The gates that decide a candidate's verdict (the verdict itself is kernels/verdict.h).

#include <optional>
#include <string_view>

#include "kernels/verdict.h"

namespace ak::verifier {

/// The verdict enum is the one of kernels/verdict.h (shared with memory/ and the CLI).
using kernels::Verdict;
using kernels::parse_verdict;
using kernels::verdict_name;

/// The checks a candidate passes through, in the order they run; the first failure stops
/// the evaluation and is reported as the failed gate.
enum class Gate {
  kCompile,         ///< the candidate builds and loads
  kCapturedInputs,  ///< the real inputs captured from the model
  kRandomSeeds,     ///< several fresh random inputs
  kShapeSweep,      ///< other sizes of the var axes (halved, doubled, odd, 1)
  kAdversarial,     ///< large, tiny, zeros, constants, mixed scales
  kDeterminism,     ///< bitwise repeatable across runs
  kAntiCheat,       ///< inputs unchanged, outputs written, latency above the roofline floor
  kBenchmark,       ///< timed against the reference, interleaved
};

/// "compile", "captured", "random", "sweep", "adversarial", "determinism", "anti_cheat",
/// "benchmark" (static strings).
const char* gate_name(Gate gate);

/// The inverse of gate_name (exact, lower case); nullopt for anything else.
std::optional<Gate> parse_gate(std::string_view name);

}  // namespace ak::verifier
