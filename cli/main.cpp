// autokernel: the command line. Argument parsing and printing only.
#include <CLI/CLI.hpp>

#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "base/status.h"
#include "cli/commands.h"

namespace ak::cli {
void print_error(const std::string& message) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n') c = ' ';
  std::cerr << "autokernel: error: " << line << std::endl;
}

int finish(const Status& status) {
  if (!status.is_ok()) print_error(status.message());
  return status.exit_code();
}

std::string self_program() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("autokernel") : p.string();
}
}  // namespace ak::cli

namespace {
void write_text(const char* text) { (void)!write(STDERR_FILENO, text, std::strlen(text)); }
void write_hex(uint64_t value) {
  char buf[19] = "0x";
  for (int i = 0; i < 16; ++i) buf[2 + i] = "0123456789abcdef"[(value >> (60 - 4 * i)) & 15];
  buf[18] = 0;
  write_text(buf);
}

/// A crash of autokernel itself (or of a candidate inside `autokernel worker`): one line
/// naming the signal, the faulting address and instruction, the thread, and a raw
/// backtrace on stderr; then the default action, so the exit status still names the signal.
void on_fatal_signal(int sig, siginfo_t* info, void* context) {
  write_text("autokernel: fatal signal SIG");
  if (const char* name = sigabbrev_np(sig)) write_text(name);
  write_text(" at address ");
  write_hex(reinterpret_cast<uint64_t>(info->si_addr));
#if defined(__x86_64__)
  write_text(", instruction ");
  write_hex(static_cast<uint64_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]));
#else
  (void)context;
#endif
#if defined(__x86_64__)
  // A jump to a null or unmapped address leaves the caller's return address on top of the stack.
  write_text(", return address ");
  write_hex(*reinterpret_cast<const uint64_t*>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RSP]));
#endif
  write_text(", thread ");
  write_hex(static_cast<uint64_t>(gettid()));
  write_text(getpid() == gettid() ? " (main); backtrace:\n" : " (not main); backtrace:\n");
  void* frames[48];
  backtrace_symbols_fd(frames, backtrace(frames, 48), STDERR_FILENO);
  if (getenv("AK_CRASH_MAPS") != nullptr) {  // the mappings, to place the instruction
    const int fd = open("/proc/self/maps", O_RDONLY);
    char buf[4096];
    for (ssize_t n; fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0;) (void)!write(STDERR_FILENO, buf, static_cast<size_t>(n));
    if (fd >= 0) close(fd);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

/// A real fault for tests of the crash report (tests/cli/crash_test.cpp): AK_TEST_CRASH=segv
/// writes to address 0x10. Not a user option: a crash is otherwise never wanted.
[[gnu::noinline]] void crash_for_test() {
  const char* what = getenv("AK_TEST_CRASH");
  if (what == nullptr || std::strcmp(what, "segv") != 0) return;
  volatile uintptr_t address = 0x10;  // volatile: the compiler must emit the write
  *reinterpret_cast<volatile int*>(address) = 1;
}
}  // namespace

int main(int argc, char** argv) {
  struct sigaction action {};
  action.sa_sigaction = on_fatal_signal;
  action.sa_flags = SA_SIGINFO;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &action, nullptr);
  crash_for_test();
  CLI::App app{"autokernel: make a deployed ONNX model faster on its GPU, kernel by kernel"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every command");
  int exit_code = 0;
  ak::cli::add_run_command(app, exit_code);
  ak::cli::add_profile_command(app, exit_code);
  ak::cli::add_extract_command(app, exit_code);
  ak::cli::add_device_command(app, exit_code);
  ak::cli::add_bench_command(app, exit_code);
  ak::cli::add_worker_command(app, exit_code);
  ak::cli::add_conformance_command(app, exit_code);
  ak::cli::add_memory_command(app, exit_code);
  ak::cli::add_verify_command(app, exit_code);
  ak::cli::add_pack_command(app, exit_code);
  ak::cli::add_template_command(app, exit_code);
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
