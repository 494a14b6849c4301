// check_starter: the judge, in quick mode, on a task's generated starter.
#include "verifier/starter_check.h"

#include <algorithm>

namespace ak::verifier {

Result<StarterCheck> check_starter(const std::filesystem::path& task_dir, const StarterCheckOptions& options) {
  AK_ASSIGN_OR_RETURN(kernels::Task task, kernels::read_task(task_dir));
  if (task.starter.file.empty())
    return invalid_input((task.dir / "task.json").string() + ": starter.file: no starter to check");
  JudgeOptions judge = options.judge;
  judge.quick = true;
  if (task.is_cuda() && task.target.arch != "cpu") judge.build.cuda_arch = task.target.arch;
  if (options.roofline_floor_ns) judge.roofline_floor_ns = options.roofline_floor_ns(task);
  AK_ASSIGN_OR_RETURN(Evaluation e, judge_candidate(task, task.dir / task.starter.file, judge));
  StarterCheck check;
  check.template_name = task.starter.template_name;
  check.verdict = e.verdict;
  check.gate = e.gate;
  check.message = e.message;
  std::replace(check.message.begin(), check.message.end(), '\n', ' ');
  check.seconds = e.seconds;
  return check;
}

Result<std::vector<StarterCheck>> check_starters(const std::vector<std::filesystem::path>& task_dirs,
                                                 const StarterCheckOptions& options) {
  std::vector<StarterCheck> checks;
  for (const std::filesystem::path& dir : task_dirs) {
    if (options.on_start) options.on_start(dir);
    AK_ASSIGN_OR_RETURN(StarterCheck c, check_starter(dir, options));
    if (options.on_check) options.on_check(dir, c);
    checks.push_back(std::move(c));
  }
  return checks;
}

}  // namespace ak::verifier
