#pragma once
// Running the built `autokernel` binary (AK_CLI_PATH) from tests, as users run it.

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "base/file.h"
#include "tests/models/model_builder.h"

namespace ak::testing {

struct CliOutput {
  int exit_code;  ///< -1 when killed by a signal
  std::string out, err;
  int signal = 0;  ///< the signal that ended it (also when the shell reported it as 128 + N)
};

/// Runs the shell command `cmd`, capturing its stdout and stderr.
inline CliOutput run_command(const std::string& cmd) {
  models::testing::TempDir tmp;
  const std::string full = cmd + " >" + (tmp.path / "out").string() + " 2>" + (tmp.path / "err").string();
  const int status = std::system(full.c_str());
  auto text = [](const std::filesystem::path& p) {
    auto bytes = read_file(p);
    return bytes.is_ok() ? std::move(bytes).value() : std::string();
  };
  CliOutput o{WIFEXITED(status) ? WEXITSTATUS(status) : -1, text(tmp.path / "out"), text(tmp.path / "err")};
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  else if (o.exit_code > 128) o.signal = o.exit_code - 128;
  return o;
}

/// Runs `autokernel <args>`; `env` (e.g. "AUTOKERNEL_CACHE=/tmp/x") is prepended to the command.
inline CliOutput run_cli(const std::string& args, const std::string& env = "") {
  return run_command((env.empty() ? "" : env + " ") + std::string(AK_CLI_PATH) + " " + args);
}

/// The error contract: exit 2 and exactly one line on stderr that names `needle`.
inline void expect_bad_input(const CliOutput& o, const std::string& needle) {
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_EQ(o.err.rfind("autokernel: error: ", 0), 0u) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_NE(o.err.find(needle), std::string::npos) << o.err;
}

}  // namespace ak::testing
