// `autokernel worker JOB.json`: the process the judge runs untrusted candidates in
// (verifier/worker_job.h). Not meant to be run by hand.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "verifier/worker_job.h"

namespace ak::cli {

void add_worker_command(CLI::App& app, int& exit_code) {
  auto job = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("worker", "Run one judge job in this process (used by `autokernel bench`)");
  cmd->group("");  // hidden from --help
  cmd->add_option("job", *job, "job.json written by the judge")->required();
  cmd->callback([job, &exit_code] { exit_code = verifier::run_worker(*job); });
}

}  // namespace ak::cli
