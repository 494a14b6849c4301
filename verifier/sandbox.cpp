// The worker's self-restriction: a seccomp filter and a Landlock ruleset (verifier/sandbox.h).
// Raw system calls: no library needed, and the structures are the kernel's UAPI headers.
#include "verifier/sandbox.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <vector>

namespace ak::verifier {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kAuditArch = 0;
#endif

// The system headers may predate the kernel (Debian 12's know Landlock ABI 3): the
// ruleset attribute as the kernel defines it from ABI 6, and the newer flags.
struct RulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;  // ABI 4
  uint64_t scoped = 0;              // ABI 6
};
constexpr uint64_t kAccessTruncate = 1ULL << 14;          // kAccessTruncate, ABI 3
constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0;  // LANDLOCK_SCOPE_*, ABI 6
constexpr uint64_t kScopeSignal = 1ULL << 1;

using Program = std::vector<sock_filter>;

void load_nr(Program& p) { p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr))); }
void load_arg0_low(Program& p) {
  // The low 32 bits of the first argument (little-endian: at the argument's offset).
  p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
}
/// `if (nr == syscall) return action;` with the accumulator holding nr (kept afterwards).
void deny(Program& p, long syscall, uint32_t action) {
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(syscall), 0, 1));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, action));
}

Program filter_program() {
  constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
  const uint32_t no_socket = SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA);
  const uint32_t no_clone3 = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
  Program p;
  // Another architecture's system-call numbers (x32, ia32 through int 0x80) would bypass
  // the table below: kill those outright.
  p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, kKill));
  load_nr(p);
#if defined(__x86_64__)
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));  // x32 ABI
  p.push_back(BPF_STMT(BPF_RET | BPF_K, kKill));
  deny(p, SYS_fork, kKill);
  deny(p, SYS_vfork, kKill);
#endif
  deny(p, SYS_execve, kKill);
  deny(p, SYS_execveat, kKill);
  deny(p, SYS_ptrace, kKill);
  deny(p, SYS_process_vm_writev, kKill);
  deny(p, SYS_setsid, kKill);
  deny(p, SYS_setpgid, kKill);
  deny(p, SYS_io_uring_setup, no_clone3);  // its operations would not pass this filter
  deny(p, SYS_clone3, no_clone3);          // flags behind a pointer: make libc use clone
  // clone: threads only (CLONE_THREAD), never a new process.
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4));
  load_arg0_low(p);
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 1, 0));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, kKill));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  // socket: AF_UNIX only (the driver and libc may use local sockets; the network, never).
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4));
  load_arg0_low(p);
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 1, 0));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, no_socket));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return p;
}

bool apply_seccomp() {
  if (kAuditArch == 0) return false;
  Program p = filter_program();
  sock_fprog prog{static_cast<unsigned short>(p.size()), p.data()};
  return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

/// Every file-system right that changes something, as far as the kernel's ABI knows them.
uint64_t write_rights(int abi) {
  uint64_t rights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                    LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) rights |= kAccessTruncate;
  return rights;
}

struct LandlockResult {
  bool applied = false;
  bool signals_scoped = false;
  std::string why_not;
};

LandlockResult apply_landlock(bool cuda) {
  LandlockResult r;
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) {
    r.why_not = std::string("Landlock unavailable (") + std::strerror(errno) + ")";
    return r;
  }
  RulesetAttr attr;
  attr.handled_access_fs = write_rights(static_cast<int>(abi));
  // The struct grew with the ABI: pass only the fields this kernel knows.
  size_t attr_size = sizeof attr.handled_access_fs;
  if (abi >= 6) {
    // CUDA: MPS and the driver may use abstract sockets; signals are scoped either way.
    attr.scoped = kScopeSignal | (cuda ? 0 : kScopeAbstractUnixSocket);
    attr_size = sizeof attr;
    r.signals_scoped = true;
  }
  const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0));
  if (ruleset < 0) {
    r.why_not = std::string("Landlock ruleset: ") + std::strerror(errno);
    r.signals_scoped = false;
    return r;
  }
  bool ok = true;
  if (cuda) {
    // The driver opens /dev/nvidia* read-write (again for new contexts and UVM).
    const int dev = ::open("/dev", O_PATH | O_CLOEXEC);
    landlock_path_beneath_attr rule{};
    rule.allowed_access = LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? kAccessTruncate : 0) |
                          LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
    rule.parent_fd = dev;
    ok = dev >= 0 && ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) == 0;
    if (dev >= 0) ::close(dev);
  }
  if (ok) ok = ::syscall(SYS_landlock_restrict_self, ruleset, 0) == 0;
  if (!ok) r.why_not = std::string("Landlock: ") + std::strerror(errno);
  ::close(ruleset);
  r.applied = ok;
  if (!ok) r.signals_scoped = false;
  return r;
}

}  // namespace

SandboxReport restrict_worker(bool cuda) {
  SandboxReport report;
  // Required by both for an unprivileged process; also keeps set-uid programs from gaining rights.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    report.note = std::string("sandbox: off (no_new_privs: ") + std::strerror(errno) + ")";
    return report;
  }
  const LandlockResult landlock = apply_landlock(cuda);
  report.landlock = landlock.applied;
  report.signals_scoped = landlock.signals_scoped;
  report.seccomp = apply_seccomp();
  std::string missing;
  if (!report.seccomp) missing = "seccomp filter unavailable (fork/exec/sockets not blocked)";
  if (!report.landlock) missing += (missing.empty() ? "" : "; ") + landlock.why_not + " (file writes not blocked)";
  else if (!report.signals_scoped) missing += (missing.empty() ? "" : "; ") + std::string("Landlock ABI < 6 (signals not scoped)");
  if (!missing.empty()) report.note = "sandbox: " + missing;
  return report;
}

}  // namespace ak::verifier
