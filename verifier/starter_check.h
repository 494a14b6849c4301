#pragma once
/// Checking the starter kernels `autokernel extract` writes (`--check-starters`): each
/// task's starter is judged like any candidate, by the real judge in quick mode, in its
/// worker process (verifier/judge.h). A template starter must pass; a skeleton is expected
/// to fail (it returns 99). Torch-free header.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/task.h"
#include "verifier/judge.h"
#include "verifier/verdict.h"

namespace ak::verifier {

/// The verdict on one task's starter.
struct StarterCheck {
  std::string template_name;  ///< task.json starter.template ("skeleton" when no template covers the task)
  Verdict verdict = Verdict::kPassed;
  std::string gate;     ///< the gate that failed; "" when PASSED
  std::string message;  ///< the judge's one line: "9 cases passed; ...", a compiler error head, a comparison
  double seconds = 0;   ///< the judge's wall time

  bool passed() const { return verdict == Verdict::kPassed; }
  bool skeleton() const { return template_name == "skeleton"; }
  /// A template starter that did not pass: the extraction is wrong somewhere.
  bool failed() const { return !passed() && !skeleton(); }
};

struct StarterCheckOptions {
  /// Worker program, threads, timeout, build cache; `quick` is forced on and the CUDA
  /// architecture comes from the task's target.
  JudgeOptions judge;
  /// The roofline floor for a task in ns (profiler::task_roofline_floor_ns: the verifier
  /// does not depend on the profiler, so the caller supplies it); empty: no floor check.
  std::function<double(const kernels::Task&)> roofline_floor_ns;
  /// check_starters: called before each task is judged (its directory), e.g. to label the
  /// judge's progress lines, and after (with its result).
  std::function<void(const std::filesystem::path&)> on_start;
  std::function<void(const std::filesystem::path&, const StarterCheck&)> on_check;
};

/// Reads `task_dir`/task.json and judges its starter file. A Status error means the check
/// could not be attempted (an unreadable task, no starter named, no compiler, no worker
/// program); a starter that fails is a StarterCheck with its verdict.
Result<StarterCheck> check_starter(const std::filesystem::path& task_dir, const StarterCheckOptions& options);

/// check_starter on each of `task_dirs` in order (what `autokernel extract --check-starters`
/// runs after extraction); the first Status error stops it.
Result<std::vector<StarterCheck>> check_starters(const std::vector<std::filesystem::path>& task_dirs,
                                                 const StarterCheckOptions& options);

}  // namespace ak::verifier
