#pragma once
// Running the built `autokernel` binary (AK_CLI_PATH) from tests, as users run it.

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/models/model_builder.h"

namespace ak::testing {

struct CliOutput {
  int exit_code;
  std::string out, err;
};

/// Runs `autokernel <args>`; `env` (e.g. "AUTOKERNEL_CACHE=/tmp/x") is prepended to the command.
inline CliOutput run_cli(const std::string& args, const std::string& env = "") {
  models::testing::TempDir tmp;
  const std::string cmd = (env.empty() ? "" : env + " ") + std::string(AK_CLI_PATH) + " " + args + " >" +
                          (tmp.path / "out").string() + " 2>" + (tmp.path / "err").string();
  const int status = std::system(cmd.c_str());
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(tmp.path / "out"), slurp(tmp.path / "err")};
}

/// The error contract: exit 2 and exactly one line on stderr that names `needle`.
inline void expect_bad_input(const CliOutput& o, const std::string& needle) {
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_EQ(o.err.rfind("autokernel: error: ", 0), 0u) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_NE(o.err.find(needle), std::string::npos) << o.err;
}

}  // namespace ak::testing
