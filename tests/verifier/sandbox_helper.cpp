// A program that restricts itself as the judge's worker does (verifier/sandbox.h), prints
// the sandbox's note, then tries what a candidate might:
//   sandbox_helper WHAT   WHAT: "thread" (must work), "fork", "write PATH", "socket",
//                         "kill_parent"; exit 0 when it worked, 5 when it was refused with
//                         an error, 2 for bad arguments (a refused fork is SIGSYS)
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "verifier/sandbox.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const ak::verifier::SandboxReport report = ak::verifier::restrict_worker(false);
  std::printf("note: %s\n", report.note.c_str());
  std::fflush(stdout);
  const std::string what = argv[1];
  if (what == "thread") {
    int value = 0;
    std::thread([&] { value = 1; }).join();
    return value == 1 ? 0 : 5;
  }
  if (what == "fork") {
    const pid_t pid = ::fork();  // SIGSYS here under the filter
    if (pid == 0) ::_exit(0);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
    return pid > 0 ? 0 : 5;
  }
  if (what == "write" && argc == 3) {
    FILE* f = std::fopen(argv[2], "w");
    if (f == nullptr) return 5;
    std::fclose(f);
    return 0;
  }
  if (what == "socket") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    return fd >= 0 ? 0 : 5;
  }
  if (what == "kill_parent") return ::kill(::getppid(), 0) == 0 ? 0 : 5;
  return 2;
}
