// The worker's sandbox on this machine (tests/verifier/sandbox_helper.cpp applies it the
// way the worker does and then tries what a candidate might).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/subprocess.h"

namespace ak {
namespace {

const std::string kHelper = AK_SANDBOX_HELPER;

ProcessResult run_ok(const std::vector<std::string>& argv, ProcessOptions options = {}) {
  if (options.limits.timeout_s <= 0) options.limits.timeout_s = 30;
  Result<ProcessResult> r = run_process(argv, options);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : ProcessResult{};
}

// The worker's sandbox (verifier/sandbox.h) on this machine: threads still work; fork is
// fatal; no file can be opened for writing; no network socket; no signal to the parent.
TEST(Sandbox, TheWorkersRestrictionsHold) {
  ProcessResult thread = run_ok({kHelper, "thread"});
  if (thread.stdout_text.find("note: sandbox:") != std::string::npos)
    GTEST_SKIP() << "this kernel cannot sandbox: " << thread.stdout_text;
  EXPECT_TRUE(thread.ok()) << thread.describe() << thread.stdout_text;
  ProcessResult fork = run_ok({kHelper, "fork"});
  EXPECT_EQ(fork.end, ProcessResult::End::kSignaled) << fork.describe();
  EXPECT_EQ(fork.signal, SIGSYS) << fork.describe();
  const std::string path = (std::filesystem::temp_directory_path() / ("ak_sandbox_" + std::to_string(::getpid()))).string();
  ProcessResult write = run_ok({kHelper, "write", path});
  EXPECT_EQ(write.exit_code, 5) << write.describe();
  EXPECT_FALSE(std::filesystem::exists(path));
  ProcessResult socket = run_ok({kHelper, "socket"});
  EXPECT_EQ(socket.exit_code, 5) << socket.describe();
  ProcessResult kill = run_ok({kHelper, "kill_parent"});
  EXPECT_EQ(kill.exit_code, 5) << kill.describe();
  // Without the sandbox the same requests work: the test sees the sandbox, not the machine.
  ProcessResult free_write = run_ok({"sh", "-c", "echo > " + path});
  EXPECT_TRUE(free_write.ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ak
