#pragma once
/// Running another program with limits: build tools (nvcc, g++) and the verifier's worker
/// process, which loads untrusted candidate kernels. The child gets its own process group,
/// so a timeout kills everything it started.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace ak {

/// Limits applied to the child. 0 means "no limit".
struct ProcessLimits {
  double timeout_s = 0;              ///< wall clock; then SIGKILL to the child's process group
  uint64_t address_space_bytes = 0;  ///< RLIMIT_AS (not for CUDA children: the driver maps huge ranges)
  uint64_t cpu_seconds = 0;          ///< RLIMIT_CPU
  uint64_t file_size_bytes = 0;      ///< RLIMIT_FSIZE
  /// Resident memory of the child, polled every 20 ms from /proc: above it the whole group
  /// is SIGKILLed (kMemoryLimit). Unlike RLIMIT_AS it bounds what the host actually loses,
  /// and it works for CUDA children, whose driver reserves huge address ranges.
  uint64_t resident_bytes = 0;
  size_t max_output_bytes = 1 << 20; ///< stdout and stderr are each kept up to this size (the tail is dropped)
};

/// How a child ended.
struct ProcessResult {
  enum class End { kExited, kSignaled, kTimedOut, kMemoryLimit };
  End end = End::kExited;
  int exit_code = 0;    ///< kExited
  int signal = 0;       ///< kSignaled (kTimedOut, kMemoryLimit: the SIGKILL sent)
  std::string stdout_text, stderr_text;
  bool output_truncated = false;
  double seconds = 0;   ///< wall time
  double timeout_s = 0; ///< the wall-clock limit that applied (0: none); shown by describe() for kTimedOut
  /// Peak resident set size of the child (wait4). Linux counts the caller's anonymous
  /// pages that the child shared between fork and exec, so this is an upper bound that is
  /// never below the caller's own anonymous resident size at the time of the call.
  int64_t max_rss_kb = 0;
  /// The largest resident size the poll saw (only with ProcessLimits::resident_bytes).
  int64_t peak_resident_kb = 0;
  uint64_t resident_limit_bytes = 0;  ///< the limit that applied; shown by describe() for kMemoryLimit

  bool ok() const { return end == End::kExited && exit_code == 0; }
  /// One phrase: "exited with code 3", "killed by SIGSEGV (Segmentation fault)",
  /// "timed out after 60 s", "went over its memory limit of 1536 MiB (resident)".
  std::string describe() const;
};

struct ProcessOptions {
  std::filesystem::path working_dir;                ///< empty: the caller's
  std::map<std::string, std::string> extra_env;     ///< added to (or replacing in) the caller's environment
  std::string stdin_text;                           ///< written to the child's stdin, then closed
  ProcessLimits limits;
  /// A descriptor handed to the child as fd 3 (its only fd besides 0-2), e.g. one end of a
  /// socketpair the caller talks to the child over while it runs (from another thread:
  /// run_process blocks). run_process owns it: it is closed in the caller once the child
  /// is started (or on failure), so the caller sees end-of-file when the child is gone.
  int channel_fd = -1;
};

/// Runs argv[0] (searched in PATH, the child's PATH when extra_env sets one) with `argv`,
/// waits for it, and reports how it ended.
/// Fails (Status) only when the child could not be started at all (empty argv, no such
/// program, a working_dir that cannot be entered, fork failure): "cannot run 'foo': No such
/// file or directory". A crash, a non-zero exit or a timeout is a ProcessResult.
/// The child runs in its own process group with a core-file limit of 0; when it ends (or
/// times out), whatever else is still running in that group is SIGKILLed too. Signal
/// dispositions and the signal mask are reset to the defaults in the child.
/// Thread-safe: no global state; SIGPIPE is blocked only in the calling thread while it
/// writes the child's stdin.
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

/// The first `max_lines` lines of `text` (for compiler messages in reports).
std::string head_lines(const std::string& text, int max_lines);

}  // namespace ak
