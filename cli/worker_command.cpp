// `autokernel worker`: the process the judge runs untrusted candidates in
// (verifier/worker_job.h). It talks to the judge over the socket it inherits as fd 3;
// not meant to be run by hand.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "verifier/worker_job.h"

namespace ak::cli {

void add_worker_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("worker", "Run one judge job in this process (used by `autokernel bench`)");
  cmd->group("");  // hidden from --help
  cmd->callback([&exit_code] { exit_code = verifier::run_worker(3); });
}

}  // namespace ak::cli
