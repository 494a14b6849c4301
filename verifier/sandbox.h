#pragma once
/// What the worker process takes away from itself before it loads a candidate kernel
/// (docs/verifier.md, "The worker's sandbox"). Linux only; torch-free.
///
///   seccomp   no new processes (fork, vfork, clone without CLONE_THREAD, execve), no
///             sockets other than AF_UNIX, no ptrace or writes into other processes, no
///             escaping the process group (setsid, setpgid): these kill the worker
///             (SIGSYS), sockets fail with EACCES, clone3 with ENOSYS (libc then falls
///             back to clone, whose flags the filter can see).
///   Landlock  no file may be opened for writing, created, removed, renamed or truncated
///             (CUDA: except beneath /dev, where the driver's nodes are), and, where the
///             kernel has it (ABI 6), no signals to processes outside the worker.
/// Both are inherited by every thread created afterwards and cannot be undone.

#include <string>

namespace ak::verifier {

struct SandboxReport {
  bool seccomp = false;   ///< the system-call filter is in place
  bool landlock = false;  ///< the file-system rules are in place
  bool signals_scoped = false;  ///< Landlock ABI >= 6: no signals outside the worker
  /// One line for the verdict's notes when something could not be applied (old kernel,
  /// unsupported architecture); empty when everything is in place.
  std::string note;
};

/// Applies the restrictions to the calling process (all its threads from now on).
/// `cuda`: the worker talks to the GPU driver (device nodes under /dev stay writable).
SandboxReport restrict_worker(bool cuda);

}  // namespace ak::verifier
