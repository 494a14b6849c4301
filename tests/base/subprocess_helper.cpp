// Misbehaves on request, for tests/base/subprocess_test.cpp:
//   alloc BYTES        malloc (untouched); exit 0 and print "allocated", or exit 3
//   touch BYTES        malloc and write every page; exit 0 or 3
//   segv | abort       crash
//   spam BYTES         BYTES to stdout and BYTES to stderr, interleaved in chunks
//   cat                copy stdin to stdout
//   cpu                spin forever
//   write_file PATH BYTES
//   core_limit         print RLIMIT_CORE's soft limit
//   fds                print the open fds above 2, one a line
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
