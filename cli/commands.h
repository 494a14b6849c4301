#pragma once
/// The `autokernel` subcommands. Each add_*_command registers its CLI11 subcommand on
/// `app`; its callback stores the process exit code in `exit_code` (0 ok, 1 the work
/// failed, 2 bad input). Commands only parse arguments and print; the work is in the
/// modules' libraries.

#include <string>

namespace CLI {
class App;
}

namespace ak {
class Status;
}

namespace ak::cli {

void add_run_command(CLI::App& app, int& exit_code);
void add_conformance_command(CLI::App& app, int& exit_code);
void add_memory_command(CLI::App& app, int& exit_code);
void add_profile_command(CLI::App& app, int& exit_code);
void add_extract_command(CLI::App& app, int& exit_code);
void add_device_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_worker_command(CLI::App& app, int& exit_code);
/// `verify` and its hidden `verify-worker`.
void add_verify_command(CLI::App& app, int& exit_code);
/// `pack add`, `pack list`, `pack MODEL --from-memory`.
void add_pack_command(CLI::App& app, int& exit_code);
/// `template TASKDIR`: the task's starter with chosen template parameters (`--list` them).
void add_template_command(CLI::App& app, int& exit_code);

/// Prints "autokernel: error: <message>" as one line on stderr.
void print_error(const std::string& message);

/// This program's path (/proc/self/exe; "autokernel" if unreadable): the judge runs its
/// `worker` subcommand.
std::string self_program();

/// The end of a command: prints a failed `status` as one error line and returns its exit
/// code (0 when ok).
int finish(const Status& status);

}  // namespace ak::cli
