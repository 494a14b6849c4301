#include "base/remove_tree.h"
#include "base/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace ak {
namespace {

const std::string kHelper = AK_SUBPROCESS_HELPER;

/// True while `pid` exists and is not a zombie (a killed orphan may linger as a zombie
/// when the container's init does not reap).
bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string line;
  std::getline(stat, line);
  size_t close_paren = line.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= line.size()) return false;
  char state = line[close_paren + 2];
  return state != 'Z' && state != 'X';
}

ProcessResult run_ok(const std::vector<std::string>& argv, const ProcessOptions& options = {}) {
  Result<ProcessResult> result = run_process(argv, options);
  EXPECT_TRUE(result.is_ok()) << result.status().message();
  return result.is_ok() ? result.value() : ProcessResult{};
}

TEST(Subprocess, EchoCapturesStdout) {
  ProcessResult result = run_ok({"echo", "hello", "world"});
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.end, ProcessResult::End::kExited);
  EXPECT_EQ(result.stdout_text, "hello world\n");
  EXPECT_EQ(result.stderr_text, "");
  EXPECT_FALSE(result.output_truncated);
  EXPECT_EQ(result.describe(), "exited with code 0");
  EXPECT_GT(result.seconds, 0.0);
  EXPECT_GT(result.max_rss_kb, 0);
}

TEST(Subprocess, ExitCodeAndStderr) {
  ProcessResult result = run_ok({"sh", "-c", "echo oops >&2; exit 7"});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.end, ProcessResult::End::kExited);
  EXPECT_EQ(result.exit_code, 7);
  EXPECT_EQ(result.stderr_text, "oops\n");
  EXPECT_EQ(result.describe(), "exited with code 7");
}

TEST(Subprocess, SegfaultBySignalIsReported) {
  ProcessResult result = run_ok({"sh", "-c", "kill -SEGV $$"});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.end, ProcessResult::End::kSignaled);
  EXPECT_EQ(result.signal, SIGSEGV);
  EXPECT_EQ(result.describe(), "killed by SIGSEGV (Segmentation fault)");
}

TEST(Subprocess, RealNullDereferenceIsSigsegv) {
  ProcessResult result = run_ok({kHelper, "segv"});
  EXPECT_EQ(result.end, ProcessResult::End::kSignaled);
  EXPECT_EQ(result.signal, SIGSEGV);
}

TEST(Subprocess, AbortIsSigabrt) {
  ProcessResult result = run_ok({kHelper, "abort"});
  EXPECT_EQ(result.end, ProcessResult::End::kSignaled);
  EXPECT_EQ(result.signal, SIGABRT);
  EXPECT_EQ(result.describe(), "killed by SIGABRT (Aborted)");
}

TEST(Subprocess, TimeoutKillsTheWholeProcessGroup) {
  ProcessOptions options;
  options.limits.timeout_s = 0.5;
  // The shell starts a background sleeper (a grandchild of ours), prints its pid, then waits.
  ProcessResult result = run_ok({"sh", "-c", "sleep 30 & echo $!; sleep 30"}, options);
  EXPECT_EQ(result.end, ProcessResult::End::kTimedOut);
  EXPECT_EQ(result.signal, SIGKILL);
  EXPECT_FALSE(result.ok());
  EXPECT_GE(result.seconds, 0.45);
  EXPECT_LT(result.seconds, 10.0);
  EXPECT_EQ(result.describe(), "timed out after 0.5 s");

  ASSERT_FALSE(result.stdout_text.empty()) << "the shell printed no pid";
  pid_t grandchild = static_cast<pid_t>(std::stol(result.stdout_text));
  ASSERT_GT(grandchild, 0);
  // SIGKILL delivery is asynchronous; give the kernel a moment.
  for (int i = 0; i < 100 && process_alive(grandchild); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(process_alive(grandchild)) << "grandchild " << grandchild << " survived the timeout";
}

TEST(Subprocess, LeftoverBackgroundProcessesDoNotBlockTheCaller) {
  // The child exits at once but leaves a sleeper holding its stdout open: the caller must
  // not wait for the sleeper, and the sleeper is cleaned up with the group.
  ProcessResult result = run_ok({"sh", "-c", "sleep 30 & echo $!"});
  EXPECT_TRUE(result.ok());
  EXPECT_LT(result.seconds, 5.0);
  ASSERT_FALSE(result.stdout_text.empty());
  pid_t grandchild = static_cast<pid_t>(std::stol(result.stdout_text));
  for (int i = 0; i < 100 && process_alive(grandchild); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(process_alive(grandchild));
}

TEST(Subprocess, LargeOutputOnBothStreamsDoesNotDeadlockAndIsTruncated) {
  ProcessOptions options;
  options.limits.timeout_s = 60;
  options.limits.max_output_bytes = 1 << 20;
  const size_t bytes = 3u << 20;  // 3 MiB on each stream, far beyond a pipe's 64 KiB
  ProcessResult result = run_ok({kHelper, "spam", std::to_string(bytes)}, options);
  EXPECT_TRUE(result.ok()) << result.describe();
  EXPECT_TRUE(result.output_truncated);
  EXPECT_EQ(result.stdout_text.size(), size_t{1} << 20);
  EXPECT_EQ(result.stderr_text.size(), size_t{1} << 20);
  EXPECT_EQ(result.stdout_text.find_first_not_of('o'), std::string::npos);
  EXPECT_EQ(result.stderr_text.find_first_not_of('e'), std::string::npos);
}

TEST(Subprocess, LargeOutputKeptWhole) {
  ProcessOptions options;
  options.limits.timeout_s = 60;
  options.limits.max_output_bytes = 8u << 20;
  const size_t bytes = (3u << 20) + 17;
  ProcessResult result = run_ok({kHelper, "spam", std::to_string(bytes)}, options);
  EXPECT_TRUE(result.ok());
  EXPECT_FALSE(result.output_truncated);
  EXPECT_EQ(result.stdout_text.size(), bytes);
  EXPECT_EQ(result.stderr_text.size(), bytes);
}

TEST(Subprocess, AddressSpaceLimitMakesABigAllocationFail) {
  const std::string one_gib = std::to_string(size_t{1} << 30);
  // Without a limit, reserving 1 GiB (never touched) succeeds...
  ProcessResult unlimited = run_ok({kHelper, "alloc", one_gib});
  ASSERT_TRUE(unlimited.ok()) << unlimited.describe() << ": " << unlimited.stderr_text;
  EXPECT_NE(unlimited.stdout_text.find("allocated"), std::string::npos);
  // ...with RLIMIT_AS at 256 MiB it fails inside the child, and only there.
  ProcessOptions options;
  options.limits.address_space_bytes = 256u << 20;
  ProcessResult limited = run_ok({kHelper, "alloc", one_gib}, options);
  EXPECT_EQ(limited.end, ProcessResult::End::kExited);
  EXPECT_EQ(limited.exit_code, 3) << limited.stdout_text;
  EXPECT_NE(limited.stderr_text.find("failed"), std::string::npos);
}

// A child that touches memory as fast as it can is stopped by the resident-size poll
// within a fraction of a second, long before the host feels it.
TEST(Subprocess, ResidentLimitStopsARunawayChildQuickly) {
  ProcessOptions options;
  options.limits.resident_bytes = 256u << 20;
  options.limits.timeout_s = 30;
  ProcessResult result = run_ok({kHelper, "touch", std::to_string(size_t{8} << 30)}, options);
  EXPECT_EQ(result.end, ProcessResult::End::kMemoryLimit) << result.describe();
  EXPECT_EQ(result.describe(), "went over its memory limit of 256 MiB (resident)");
  EXPECT_GT(result.peak_resident_kb, 200 << 10);
  EXPECT_LT(result.peak_resident_kb, 1 << 20) << "over 1 GiB resident before the kill";
  EXPECT_LT(result.seconds, 5);
  // Under the limit nothing happens.
  ProcessResult small = run_ok({kHelper, "touch", std::to_string(size_t{32} << 20)}, options);
  EXPECT_TRUE(small.ok()) << small.describe();
}

// The channel fd is the child's fd 3 (its only one besides 0-2), and the caller's copy of
// the child's end is closed: the caller sees end-of-file once the child is gone.
TEST(Subprocess, ChannelFdBecomesTheChildsFd3) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ProcessOptions options;
  options.channel_fd = fds[1];
  ProcessResult result = run_ok({kHelper, "fds"}, options);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.stdout_text, "3\n");
  char byte;
  EXPECT_EQ(::read(fds[0], &byte, 1), 0) << "the child's end is still open somewhere";
  ::close(fds[0]);
}

TEST(Subprocess, CpuLimitRaisesSigxcpu) {
  ProcessOptions options;
  options.limits.cpu_seconds = 1;
  options.limits.timeout_s = 30;
  ProcessResult result = run_ok({kHelper, "cpu"}, options);
  EXPECT_EQ(result.end, ProcessResult::End::kSignaled) << result.describe();
  EXPECT_TRUE(result.signal == SIGXCPU || result.signal == SIGKILL) << result.describe();
}

TEST(Subprocess, FileSizeLimitRaisesSigxfsz) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ak_subprocess_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ProcessOptions options;
  options.limits.file_size_bytes = 4096;
  options.working_dir = dir;
  ProcessResult result = run_ok({kHelper, "write_file", "big.bin", "100000"}, options);
  EXPECT_EQ(result.end, ProcessResult::End::kSignaled) << result.describe();
  EXPECT_EQ(result.signal, SIGXFSZ);
  EXPECT_EQ(result.describe(), "killed by SIGXFSZ (File size limit exceeded)");
  EXPECT_LE(std::filesystem::file_size(dir / "big.bin"), 4096u);
  ak::remove_tree(dir);
}

TEST(Subprocess, NoCoreDumps) {
  ProcessResult result = run_ok({kHelper, "core_limit"});
  EXPECT_EQ(result.stdout_text, "0\n");
}

TEST(Subprocess, MissingProgramIsAStatusError) {
  Result<ProcessResult> result = run_process({"ak-no-such-program-xyz", "--flag"});
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().message(), "cannot run 'ak-no-such-program-xyz': No such file or directory");

  Result<ProcessResult> absolute = run_process({"/nonexistent/dir/tool"});
  ASSERT_FALSE(absolute.is_ok());
  EXPECT_EQ(absolute.status().message(), "cannot run '/nonexistent/dir/tool': No such file or directory");
}

TEST(Subprocess, NonExecutableFileIsPermissionDenied) {
  std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("ak_not_executable_" + std::to_string(::getpid()));
  { std::ofstream(file) << "#!/bin/sh\necho should not run\n"; }
  std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Result<ProcessResult> result = run_process({file.string()});
  std::filesystem::remove(file);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().message(), "cannot run '" + file.string() + "': Permission denied");
}

TEST(Subprocess, EmptyArgvIsAnError) {
  EXPECT_FALSE(run_process({}).is_ok());
  EXPECT_FALSE(run_process({""}).is_ok());
}

TEST(Subprocess, BadWorkingDirectoryIsAStatusError) {
  ProcessOptions options;
  options.working_dir = "/nonexistent/ak/dir";
  Result<ProcessResult> result = run_process({"true"}, options);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.status().message().find("/nonexistent/ak/dir"), std::string::npos);
  EXPECT_NE(result.status().message().find("No such file or directory"), std::string::npos);
}

TEST(Subprocess, StdinIsPassedThrough) {
  ProcessOptions options;
  options.stdin_text = "line one\nline two\n";
  ProcessResult small = run_ok({"cat"}, options);
  EXPECT_EQ(small.stdout_text, options.stdin_text);

  // 3 MiB in and out at once: needs poll() on both directions.
  std::string big(3u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  options.stdin_text = big;
  options.limits.max_output_bytes = 4u << 20;
  options.limits.timeout_s = 60;
  ProcessResult result = run_ok({kHelper, "cat"}, options);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.stdout_text.size(), big.size());
  EXPECT_TRUE(result.stdout_text == big);
}

TEST(Subprocess, ChildThatIgnoresStdinDoesNotKillTheCaller) {
  // Writing to a pipe nobody reads raises SIGPIPE; it must not reach this process.
  ProcessOptions options;
  options.stdin_text = std::string(4u << 20, 'x');
  ProcessResult result = run_ok({"true"}, options);
  EXPECT_TRUE(result.ok());
}

TEST(Subprocess, EnvironmentAndWorkingDirectory) {
  ProcessOptions options;
  options.working_dir = "/tmp";
  options.extra_env["AK_SUBPROCESS_TEST_VAR"] = "forty two";
  options.extra_env["HOME"] = "/ak-home";
  ProcessResult result = run_ok({"sh", "-c", "pwd; echo \"$AK_SUBPROCESS_TEST_VAR\"; echo \"$HOME\""}, options);
  EXPECT_EQ(result.stdout_text, "/tmp\nforty two\n/ak-home\n");
}

TEST(Subprocess, StrayDescriptorsAreNotInherited) {
  // A descriptor opened without O_CLOEXEC (as careless library code might) must not leak.
  int fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  ProcessResult result = run_ok({kHelper, "fds"});
  ::close(fd);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.stdout_text, "") << "fds open in the child:\n" << result.stdout_text;
}

TEST(Subprocess, ConcurrentCallsFromThreads) {
  constexpr int kThreads = 4, kRunsEach = 5;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < kRunsEach; ++i) {
        std::string word = "t" + std::to_string(t) + "r" + std::to_string(i);
        Result<ProcessResult> result = run_process({"echo", word});
        if (!result.is_ok() || result->stdout_text != word + "\n") failures[static_cast<size_t>(t)] += word + " ";
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& failure : failures) EXPECT_EQ(failure, "");
}

TEST(Subprocess, DescribeTimedOutUsesTheLimit) {
  ProcessResult result;
  result.end = ProcessResult::End::kTimedOut;
  result.timeout_s = 60;
  result.seconds = 60.0123;
  EXPECT_EQ(result.describe(), "timed out after 60 s");
  result.end = ProcessResult::End::kSignaled;
  result.signal = SIGBUS;
  EXPECT_EQ(result.describe(), "killed by SIGBUS (Bus error)");
  result.signal = 63;
  EXPECT_EQ(result.describe(), "killed by signal 63");
}

TEST(Subprocess, HeadLines) {
  EXPECT_EQ(head_lines("a\nb\nc\n", 2), "a\nb\n");
  EXPECT_EQ(head_lines("a\nb\nc", 3), "a\nb\nc");
  EXPECT_EQ(head_lines("a\nb\nc", 10), "a\nb\nc");
  EXPECT_EQ(head_lines("a\nb\n", 2), "a\nb\n");
  EXPECT_EQ(head_lines("a\nb\n", 0), "");
  EXPECT_EQ(head_lines("", 3), "");
  EXPECT_EQ(head_lines("no newline", 1), "no newline");
}

}  // namespace
}  // namespace ak
