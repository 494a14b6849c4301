#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

extern char** environ;

namespace ak {
namespace {

using Clock = std::chrono::steady_clock;

/// What the child was doing when it failed before exec; sent to the parent over a
/// close-on-exec pipe together with errno.
enum class ChildStage : int { kChdir = 1, kLimits, kDup, kExec };

struct ChildError {
  int stage = 0;
  int error = 0;
};

/// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

Status make_pipe(Pipe& pipe) {
  int fds[2];
  // O_CLOEXEC atomically: another thread may fork at any moment and must not inherit these.
  if (::pipe2(fds, O_CLOEXEC) != 0) return internal_error(std::string("pipe2: ") + std::strerror(errno));
  pipe.read = Fd(fds[0]);
  pipe.write = Fd(fds[1]);
  return Status::ok();
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

struct SignalInfo {
  int number;
  const char* name;
  const char* description;
};

// A fixed table rather than strsignal(): strsignal may use a static buffer (not thread-safe)
// and sigabbrev_np needs glibc 2.32.
constexpr SignalInfo kSignals[] = {
    {SIGHUP, "SIGHUP", "Hangup"},
    {SIGINT, "SIGINT", "Interrupt"},
    {SIGQUIT, "SIGQUIT", "Quit"},
    {SIGILL, "SIGILL", "Illegal instruction"},
    {SIGTRAP, "SIGTRAP", "Trace/breakpoint trap"},
    {SIGABRT, "SIGABRT", "Aborted"},
    {SIGBUS, "SIGBUS", "Bus error"},
    {SIGFPE, "SIGFPE", "Floating point exception"},
    {SIGKILL, "SIGKILL", "Killed"},
    {SIGUSR1, "SIGUSR1", "User defined signal 1"},
    {SIGSEGV, "SIGSEGV", "Segmentation fault"},
    {SIGUSR2, "SIGUSR2", "User defined signal 2"},
    {SIGPIPE, "SIGPIPE", "Broken pipe"},
    {SIGALRM, "SIGALRM", "Alarm clock"},
    {SIGTERM, "SIGTERM", "Terminated"},
    {SIGCHLD, "SIGCHLD", "Child exited"},
    {SIGCONT, "SIGCONT", "Continued"},
    {SIGSTOP, "SIGSTOP", "Stopped (signal)"},
    {SIGTSTP, "SIGTSTP", "Stopped"},
    {SIGTTIN, "SIGTTIN", "Stopped (tty input)"},
    {SIGTTOU, "SIGTTOU", "Stopped (tty output)"},
    {SIGURG, "SIGURG", "Urgent I/O condition"},
    {SIGXCPU, "SIGXCPU", "CPU time limit exceeded"},
    {SIGXFSZ, "SIGXFSZ", "File size limit exceeded"},
    {SIGVTALRM, "SIGVTALRM", "Virtual timer expired"},
    {SIGPROF, "SIGPROF", "Profiling timer expired"},
    {SIGWINCH, "SIGWINCH", "Window changed"},
    {SIGIO, "SIGIO", "I/O possible"},
    {SIGPWR, "SIGPWR", "Power failure"},
    {SIGSYS, "SIGSYS", "Bad system call"},
};

std::string describe_signal(int signal) {
  for (const SignalInfo& info : kSignals) {
    if (info.number == signal) return std::string(info.name) + " (" + info.description + ")";
  }
  return "signal " + std::to_string(signal);
}

std::string format_seconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", seconds);
  return buffer;
}

/// Everything the child needs, prepared before fork: after fork only async-signal-safe
/// calls are allowed (another thread may hold the malloc lock), so no allocation there.
struct ChildPlan {
  std::vector<std::string> candidates;  ///< executable paths to try, in PATH order
  std::vector<char*> argv;              ///< points into the caller's argv strings
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  std::string working_dir;
  ProcessLimits limits;
  int channel_fd = -1;
};

std::string lookup_env(const std::vector<std::string>& env, const std::string& key) {
  for (const std::string& entry : env) {
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 && entry[key.size()] == '=') {
      return entry.substr(key.size() + 1);
    }
  }
  return {};
}

void build_environment(const std::map<std::string, std::string>& extra_env, ChildPlan& plan) {
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    std::string key(text.substr(0, eq));
    if (extra_env.count(key) != 0) continue;
    plan.env_storage.emplace_back(text);
  }
  for (const auto& [key, value] : extra_env) plan.env_storage.push_back(key + "=" + value);
  for (std::string& entry : plan.env_storage) plan.envp.push_back(entry.data());
  plan.envp.push_back(nullptr);
}

/// execvp's search, done in the parent: the child then tries the candidates with execve.
void build_candidates(const std::string& program, ChildPlan& plan) {
  if (program.find('/') != std::string::npos) {
    plan.candidates.push_back(program);
    return;
  }
  std::string path = lookup_env(plan.env_storage, "PATH");
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";  // an empty PATH entry means the working directory
    plan.candidates.push_back(dir + "/" + program);
    start = end + 1;
  }
}

void mark_fds_cloexec_from(int first_fd) {
#ifdef SYS_close_range
  // CLOSE_RANGE_CLOEXEC (Linux 5.11): every fd >= first_fd closes at exec; the error pipe
  // must stay open until then, so mark rather than close.
  constexpr unsigned kCloseRangeCloexec = 1U << 2;
  if (::syscall(SYS_close_range, static_cast<unsigned>(first_fd), ~0U, kCloseRangeCloexec) == 0) return;
#endif
  struct rlimit limit {};
  long max_fd = 4096;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    max_fd = static_cast<long>(std::min<rlim_t>(limit.rlim_cur, 65536));
  }
  for (long fd = first_fd; fd < max_fd; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
}

[[noreturn]] void child_fail(int error_fd, ChildStage stage, int error) {
  ChildError message{static_cast<int>(stage), error};
  ssize_t ignored = ::write(error_fd, &message, sizeof message);
  (void)ignored;
  ::_exit(127);
}

bool set_limit(int resource, uint64_t soft, uint64_t hard) {
  struct rlimit current {};
  if (::getrlimit(resource, &current) != 0) return false;
  // A child may lower its limits but not raise the hard one: clamp to what we have.
  rlim_t new_hard = static_cast<rlim_t>(hard);
  if (current.rlim_max != RLIM_INFINITY && new_hard > current.rlim_max) new_hard = current.rlim_max;
  rlim_t new_soft = std::min(static_cast<rlim_t>(soft), new_hard);
  struct rlimit wanted {new_soft, new_hard};
  return ::setrlimit(resource, &wanted) == 0;
}

/// Runs in the child between fork and exec. Async-signal-safe calls only.
[[noreturn]] void run_child(const ChildPlan& plan, int stdin_fd, int stdout_fd, int stderr_fd, int error_fd) {
  ::setpgid(0, 0);

  // Dispositions set to "ignore" and blocked masks survive exec; give the program the
  // defaults it expects (a parent that ignores SIGPIPE must not hand that on).
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal == SIGKILL || signal == SIGSTOP) continue;
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    ::sigaction(signal, &action, nullptr);
  }

  if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(stdout_fd, STDOUT_FILENO) < 0 ||
      ::dup2(stderr_fd, STDERR_FILENO) < 0) {
    child_fail(error_fd, ChildStage::kDup, errno);
  }
  if (plan.channel_fd >= 0) {
    // dup2 onto itself keeps FD_CLOEXEC: clear it by hand in that case.
    if (plan.channel_fd == 3) {
      if (::fcntl(3, F_SETFD, 0) != 0) child_fail(error_fd, ChildStage::kDup, errno);
    } else if (::dup2(plan.channel_fd, 3) < 0) {
      child_fail(error_fd, ChildStage::kDup, errno);
    }
    mark_fds_cloexec_from(4);
  } else {
    mark_fds_cloexec_from(3);
  }

  if (!plan.working_dir.empty() && ::chdir(plan.working_dir.c_str()) != 0) {
    child_fail(error_fd, ChildStage::kChdir, errno);
  }

  const ProcessLimits& limits = plan.limits;
  bool limits_ok = set_limit(RLIMIT_CORE, 0, 0);  // crashing candidates leave no core files
  if (limits.address_space_bytes != 0) {
    limits_ok = limits_ok && set_limit(RLIMIT_AS, limits.address_space_bytes, limits.address_space_bytes);
  }
  if (limits.cpu_seconds != 0) {
    // SIGXCPU at the soft limit, SIGKILL one second later if the child ignores it.
    limits_ok = limits_ok && set_limit(RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1);
  }
  if (limits.file_size_bytes != 0) {
    limits_ok = limits_ok && set_limit(RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes);
  }
  if (!limits_ok) child_fail(error_fd, ChildStage::kLimits, errno);

  // execvp semantics: ENOENT/ENOTDIR go on to the next PATH entry, EACCES is remembered
  // and reported if nothing else runs, anything else stops the search.
  int error = ENOENT;
  bool saw_eacces = false;
  for (const std::string& candidate : plan.candidates) {
    ::execve(candidate.c_str(), plan.argv.data(), plan.envp.data());
    error = errno;
    if (error == EACCES) {
      saw_eacces = true;
    } else if (error != ENOENT && error != ENOTDIR) {
      break;
    }
  }
  if (saw_eacces && (error == ENOENT || error == ENOTDIR)) error = EACCES;
  child_fail(error_fd, ChildStage::kExec, error);
}

/// Collects one output stream up to `max_bytes` (0: unlimited) and discards the rest,
/// so the child never blocks on a full pipe.
void append_output(std::string& text, const char* data, size_t size, size_t max_bytes, bool& truncated) {
  if (max_bytes == 0) {
    text.append(data, size);
    return;
  }
  size_t room = max_bytes > text.size() ? max_bytes - text.size() : 0;
  if (size > room) truncated = true;
  text.append(data, std::min(size, room));
}

/// Reads what is available on `fd`; returns false at end of file (or on an error).
bool drain(int fd, std::string& text, size_t max_bytes, bool& truncated) {
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      append_output(text, buffer, static_cast<size_t>(n), max_bytes, truncated);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

/// Whether the child has ended, without reaping it: its zombie keeps the pid (and so the
/// process group id) from being reused, so killpg() after this is still safe.
bool child_has_ended(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) return true;  // ECHILD: someone else reaped it; treat as ended
  }
  return info.si_pid == pid;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return static_cast<int>(fd);
  }
#endif
  (void)pid;
  return -1;
}

/// Blocks SIGPIPE in this thread while writing to the child's stdin (a child that exits
/// without reading would otherwise kill the caller), then discards a SIGPIPE that the
/// writes raised so it is not delivered when the mask is restored.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &block, &old_mask_);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  ~SigpipeGuard() {
    if (!already_pending_) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      struct timespec zero {0, 0};
      while (::sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  sigset_t old_mask_{};
  bool already_pending_ = false;
};

std::string child_error_message(const ChildError& error, const std::string& program, const ChildPlan& plan) {
  std::string reason = std::strerror(error.error);
  switch (static_cast<ChildStage>(error.stage)) {
    case ChildStage::kExec: return "cannot run '" + program + "': " + reason;
    case ChildStage::kChdir:
      return "cannot run '" + program + "': cannot enter working directory '" + plan.working_dir + "': " + reason;
    case ChildStage::kLimits: return "cannot run '" + program + "': cannot set resource limits: " + reason;
    case ChildStage::kDup: return "cannot run '" + program + "': cannot redirect standard streams: " + reason;
  }
  return "cannot run '" + program + "': " + reason;
}

/// Resident size of `pid` in KiB from /proc/PID/statm (its second field, in pages); -1 if gone.
int64_t resident_kb(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return -1;
  char text[128];
  const ssize_t n = ::read(fd.get(), text, sizeof text - 1);
  if (n <= 0) return -1;
  text[n] = 0;
  long long size = 0, resident = 0;
  if (std::sscanf(text, "%lld %lld", &size, &resident) != 2) return -1;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

std::string ProcessResult::describe() const {
  switch (end) {
    case End::kMemoryLimit:
      return "went over its memory limit of " + std::to_string(resident_limit_bytes >> 20) + " MiB (resident)";
    case End::kExited: return "exited with code " + std::to_string(exit_code);
    case End::kSignaled: return "killed by " + describe_signal(signal);
    case End::kTimedOut: return "timed out after " + format_seconds(timeout_s > 0 ? timeout_s : seconds) + " s";
  }
  return "ended in an unknown way";
}

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty() || argv[0].empty()) return invalid_input("run_process: empty command line");

  ChildPlan plan;
  plan.working_dir = options.working_dir.string();
  plan.limits = options.limits;
  Fd channel(options.channel_fd);  // closed on every path out of here (the child has its copy)
  plan.channel_fd = options.channel_fd;
  build_environment(options.extra_env, plan);
  build_candidates(argv[0], plan);
  for (const std::string& arg : argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);

  Pipe stdin_pipe, stdout_pipe, stderr_pipe, error_pipe;
  AK_RETURN_IF_ERROR(make_pipe(stdin_pipe));
  AK_RETURN_IF_ERROR(make_pipe(stdout_pipe));
  AK_RETURN_IF_ERROR(make_pipe(stderr_pipe));
  AK_RETURN_IF_ERROR(make_pipe(error_pipe));

  const Clock::time_point start = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) return internal_error("cannot run '" + argv[0] + "': fork: " + std::strerror(errno));
  if (pid == 0) {
    run_child(plan, stdin_pipe.read.get(), stdout_pipe.write.get(), stderr_pipe.write.get(), error_pipe.write.get());
  }
  // Also from the parent, so that a timeout can never race the child's own setpgid.
  ::setpgid(pid, pid);

  stdin_pipe.read.reset();
  stdout_pipe.write.reset();
  stderr_pipe.write.reset();
  error_pipe.write.reset();
  channel.reset();

  // The error pipe closes at a successful exec (close-on-exec) or carries errno.
  ChildError child_error;
  ssize_t got;
  do {
    got = ::read(error_pipe.read.get(), &child_error, sizeof child_error);
  } while (got < 0 && errno == EINTR);
  if (got > 0) {
    int ignored_status;
    while (::waitpid(pid, &ignored_status, 0) < 0 && errno == EINTR) {
    }
    if (child_error.stage == static_cast<int>(ChildStage::kExec) && child_error.error != EACCES &&
        child_error.error != ENOENT && child_error.error != ENOTDIR) {
      return failed(child_error_message(child_error, argv[0], plan));
    }
    return invalid_input(child_error_message(child_error, argv[0], plan));
  }
  error_pipe.read.reset();

  ProcessResult result;
  result.timeout_s = options.limits.timeout_s;
  const size_t max_bytes = options.limits.max_output_bytes;
  const bool has_deadline = options.limits.timeout_s > 0;
  const Clock::time_point deadline =
      has_deadline ? start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options.limits.timeout_s))
                   : Clock::time_point::max();

  set_nonblocking(stdout_pipe.read.get());
  set_nonblocking(stderr_pipe.read.get());
  size_t stdin_written = 0;
  if (options.stdin_text.empty()) {
    stdin_pipe.write.reset();
  } else {
    set_nonblocking(stdin_pipe.write.get());
  }
  Fd pidfd(open_pidfd(pid));

  bool killed_at_deadline = false;
  bool killed_for_memory = false;
  bool child_ended = false;
  const uint64_t resident_limit_kb = options.limits.resident_bytes / 1024;
  result.resident_limit_bytes = options.limits.resident_bytes;
  constexpr int kResidentPollMs = 20;
  // After the child ends, whatever it left in its group is killed; the pipes then reach
  // EOF unless a descendant escaped the group. Bound that wait.
  Clock::time_point drain_deadline = Clock::time_point::max();
  {
    SigpipeGuard sigpipe_guard;
    while (stdout_pipe.read.valid() || stderr_pipe.read.valid() || !child_ended) {
      Clock::time_point now = Clock::now();
      if (!killed_at_deadline && !child_ended && now >= deadline) {
        ::killpg(pid, SIGKILL);
        killed_at_deadline = true;
        drain_deadline = now + std::chrono::seconds(2);
        stdin_pipe.write.reset();
      }
      if (resident_limit_kb > 0 && !child_ended && !killed_at_deadline && !killed_for_memory) {
        const int64_t kb = resident_kb(pid);
        result.peak_resident_kb = std::max(result.peak_resident_kb, kb);
        if (kb > 0 && static_cast<uint64_t>(kb) > resident_limit_kb) {
          ::killpg(pid, SIGKILL);
          killed_for_memory = true;
          drain_deadline = Clock::now() + std::chrono::seconds(2);
          stdin_pipe.write.reset();
        }
      }
      if (!child_ended && child_has_ended(pid)) {
        child_ended = true;
        ::killpg(pid, SIGKILL);
        stdin_pipe.write.reset();
        drain_deadline = std::min(drain_deadline, Clock::now() + std::chrono::seconds(2));
      }
      if (child_ended && (Clock::now() >= drain_deadline || (!stdout_pipe.read.valid() && !stderr_pipe.read.valid()))) {
        break;
      }

      struct pollfd fds[4];
      int count = 0;
      int stdout_index = -1, stderr_index = -1, stdin_index = -1;
      if (stdout_pipe.read.valid()) {
        stdout_index = count;
        fds[count++] = {stdout_pipe.read.get(), POLLIN, 0};
      }
      if (stderr_pipe.read.valid()) {
        stderr_index = count;
        fds[count++] = {stderr_pipe.read.get(), POLLIN, 0};
      }
      if (stdin_pipe.write.valid()) {
        stdin_index = count;
        fds[count++] = {stdin_pipe.write.get(), POLLOUT, 0};
      }
      bool pidfd_polled = false;
      if (!child_ended && pidfd.valid()) {
        pidfd_polled = true;
        fds[count++] = {pidfd.get(), POLLIN, 0};
      }

      // Wake for the nearest deadline; without a pidfd, check the child every 10 ms.
      Clock::time_point wake = child_ended ? drain_deadline : deadline;
      int timeout_ms = -1;
      if (wake != Clock::time_point::max()) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
        timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
      }
      if (!child_ended && !pidfd_polled) timeout_ms = timeout_ms < 0 ? 10 : std::min(timeout_ms, 10);
      if (!child_ended && resident_limit_kb > 0)
        timeout_ms = timeout_ms < 0 ? kResidentPollMs : std::min(timeout_ms, kResidentPollMs);

      int ready = ::poll(fds, static_cast<nfds_t>(count), timeout_ms);
      if (ready < 0) {
        if (errno == EINTR) continue;
        int error = errno;
        ::killpg(pid, SIGKILL);
        int ignored_status;
        while (::waitpid(pid, &ignored_status, 0) < 0 && errno == EINTR) {
        }
        return internal_error("running '" + argv[0] + "': poll: " + std::strerror(error));
      }
      if (stdout_index >= 0 && fds[stdout_index].revents != 0 &&
          !drain(stdout_pipe.read.get(), result.stdout_text, max_bytes, result.output_truncated)) {
        stdout_pipe.read.reset();
      }
      if (stderr_index >= 0 && fds[stderr_index].revents != 0 &&
          !drain(stderr_pipe.read.get(), result.stderr_text, max_bytes, result.output_truncated)) {
        stderr_pipe.read.reset();
      }
      if (stdin_index >= 0 && fds[stdin_index].revents != 0) {
        if (fds[stdin_index].revents & (POLLERR | POLLHUP)) {
          stdin_pipe.write.reset();  // the child closed its stdin: the rest is not wanted
        } else {
          const std::string& text = options.stdin_text;
          ssize_t n = ::write(stdin_pipe.write.get(), text.data() + stdin_written, text.size() - stdin_written);
          if (n > 0) stdin_written += static_cast<size_t>(n);
          if ((n < 0 && errno != EAGAIN && errno != EINTR) || stdin_written == text.size()) {
            stdin_pipe.write.reset();
          }
        }
      }
    }
  }

  int status = 0;
  struct rusage usage {};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return internal_error("running '" + argv[0] + "': wait4: " + std::strerror(errno));
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.max_rss_kb = static_cast<int64_t>(usage.ru_maxrss);  // Linux reports kilobytes

  if (WIFEXITED(status)) {
    result.end = ProcessResult::End::kExited;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    // Our SIGKILL at the deadline is a timeout; a child that ended on its own just before
    // it keeps its own status (killing a zombie changes nothing).
    result.end = ProcessResult::End::kSignaled;
    if (result.signal == SIGKILL && killed_at_deadline) result.end = ProcessResult::End::kTimedOut;
    if (result.signal == SIGKILL && killed_for_memory) result.end = ProcessResult::End::kMemoryLimit;
  }
  return result;
}

std::string head_lines(const std::string& text, int max_lines) {
  if (max_lines <= 0) return {};
  size_t pos = 0;
  for (int line = 0; line < max_lines; ++line) {
    size_t newline = text.find('\n', pos);
    if (newline == std::string::npos) return text;
    pos = newline + 1;
  }
  return text.substr(0, pos);
}

}  // namespace ak
