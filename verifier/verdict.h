#pragma once
/// The typed outcome of judging a candidate kernel, and the gates that decide it.
/// Names match the evaluation status stored by memory/ and printed by the CLI.

#include <optional>
#include <string_view>

namespace ak::verifier {

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

/// "PASSED", "COMPILE_ERROR", "RUNTIME_ERROR", "TIMEOUT", "INCORRECT_SHAPE",
/// "INCORRECT_DTYPE", "INCORRECT_NUMERICAL", "CHEAT_SUSPECTED" (static strings).
const char* verdict_name(Verdict verdict);

/// The inverse of verdict_name (exact, upper case); nullopt for anything else.
std::optional<Verdict> parse_verdict(std::string_view name);

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
