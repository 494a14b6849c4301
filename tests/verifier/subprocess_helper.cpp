// Misbehaves on request, for tests/verifier/subprocess_test.cpp:
//   alloc BYTES        malloc (untouched); exit 0 and print "allocated", or exit 3
//   touch BYTES        malloc and write every page; exit 0 or 3
//   segv | abort       crash
//   spam BYTES         BYTES to stdout and BYTES to stderr, interleaved in chunks
//   cat                copy stdin to stdout
//   cpu                spin forever
//   write_file PATH BYTES
//   core_limit         print RLIMIT_CORE's soft limit
//   fds                print the open fds above 2, one a line
//   sandbox WHAT       restrict itself as the worker does (verifier/sandbox.h), print the
//                      sandbox's note, then try WHAT: "thread" (must work), "fork",
//                      "write PATH", "socket", "kill_parent"; exit 0 when it worked, 5 when
//                      it was refused with an error
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "verifier/sandbox.h"
#include <cstring>
#include <string>

namespace {

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n <= 0) std::exit(5);
    data += n;
    size -= static_cast<size_t>(n);
  }
}

int allocate(size_t bytes, bool touch) {
  char* memory = static_cast<char*>(std::malloc(bytes));
  if (memory == nullptr) {
    std::fprintf(stderr, "allocation of %zu bytes failed\n", bytes);
    return 3;
  }
  if (touch) {
    volatile char* pages = memory;  // volatile: the writes must really happen
    for (size_t i = 0; i < bytes; i += 4096) pages[i] = 1;
  }
  // Printing the address lets the pointer escape, so the compiler cannot drop the malloc.
  std::printf("allocated %zu bytes at %p\n", bytes, static_cast<void*>(memory));
  std::free(memory);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string mode = argv[1];
  if (mode == "alloc" && argc == 3) return allocate(std::strtoull(argv[2], nullptr, 10), false);
  if (mode == "touch" && argc == 3) return allocate(std::strtoull(argv[2], nullptr, 10), true);
  if (mode == "segv") {
    volatile int* null_pointer = nullptr;
    *null_pointer = 1;
    return 0;
  }
  if (mode == "abort") std::abort();
  if (mode == "spam" && argc == 3) {
    size_t left = std::strtoull(argv[2], nullptr, 10);
    std::string chunk(8192, 'o');
    std::string chunk_err(8192, 'e');
    while (left > 0) {
      size_t n = left < chunk.size() ? left : chunk.size();
      write_all(1, chunk.data(), n);
      write_all(2, chunk_err.data(), n);
      left -= n;
    }
    return 0;
  }
  if (mode == "cat") {
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(0, buffer, sizeof buffer)) > 0) write_all(1, buffer, static_cast<size_t>(n));
    return 0;
  }
  if (mode == "cpu") {
    volatile unsigned long counter = 0;
    while (true) counter = counter + 1;
  }
  if (mode == "write_file" && argc == 4) {
    FILE* file = std::fopen(argv[2], "wb");
    if (file == nullptr) return 4;
    std::string data(std::strtoull(argv[3], nullptr, 10), 'x');
    std::fwrite(data.data(), 1, data.size(), file);
    std::fclose(file);
    return 0;
  }
  if (mode == "core_limit") {
    struct rlimit limit {};
    ::getrlimit(RLIMIT_CORE, &limit);
    std::printf("%llu\n", static_cast<unsigned long long>(limit.rlim_cur));
    return 0;
  }
  if (mode == "sandbox" && argc >= 3) {
    const ak::verifier::SandboxReport report = ak::verifier::restrict_worker(false);
    std::printf("note: %s\n", report.note.c_str());
    std::fflush(stdout);
    const std::string what = argv[2];
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
    if (what == "write" && argc == 4) {
      FILE* f = std::fopen(argv[3], "w");
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
  if (mode == "fds") {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return 4;
    const int own = ::dirfd(dir);
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      int fd = std::atoi(entry->d_name);
      if (fd > 2 && fd != own) std::printf("%d\n", fd);
    }
    ::closedir(dir);
    return 0;
  }
  return 2;
}
