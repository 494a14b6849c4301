// autokernel: the command line. Argument parsing and printing only.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"

namespace ak::cli {
void print_error(const std::string& message) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n') c = ' ';
  std::cerr << "autokernel: error: " << line << std::endl;
}
}  // namespace ak::cli

int main(int argc, char** argv) {
  CLI::App app{"autokernel: make a deployed ONNX model faster on its GPU, kernel by kernel"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every command");
  int exit_code = 0;
  ak::cli::add_run_command(app, exit_code);
  ak::cli::add_profile_command(app, exit_code);
  ak::cli::add_device_command(app, exit_code);
  ak::cli::add_bench_command(app, exit_code);
  ak::cli::add_worker_command(app, exit_code);
  ak::cli::add_conformance_command(app, exit_code);
  ak::cli::add_memory_command(app, exit_code);
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known |= sub->get_name() == argv[1];
    }
    if (!known) {
      ak::cli::print_error("unknown command '" + std::string(argv[1]) + "' (commands: " + names + ")");
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    ak::cli::print_error(e.what());
    return 2;
  } catch (const std::exception& e) {
    ak::cli::print_error(std::string("internal error: ") + e.what());
    return 1;
  }
  return exit_code;
}
