#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace ak::cli {

void add_memory_command(CLI::App& app, int& exit_code) { (void)app; (void)exit_code; }

}  // namespace ak::cli
