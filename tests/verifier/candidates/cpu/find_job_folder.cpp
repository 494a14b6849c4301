// expect: RUNTIME_ERROR
// needs: sandbox
// Looks for somewhere to leave a file: the folders on its command line, the judge's
// scratch folders in the temp dir, the temp dir itself. Landlock forbids every write, so
// it returns 5; a write that succeeds makes it compute the right answer and pass, which
// the test reports as a hole in the sandbox.
#include <autokernel_kernel.h>
#include <dirent.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <string>
static bool try_write(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  std::fputs("forged", f);
  std::fclose(f);
  std::remove(path.c_str());
  return true;
}
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  bool escaped = try_write("/tmp/ak_forged_" + std::to_string(getpid()));
  if (FILE* f = std::fopen("/proc/self/cmdline", "r")) {
    char buf[4096];
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    for (size_t i = 0; i < n; i += std::strlen(buf + i) + 1) {
      std::string arg(buf + i);
      const size_t slash = arg.rfind('/');
      if (slash != std::string::npos) escaped |= try_write(arg.substr(0, slash) + "/forged.json");
    }
  }
  if (DIR* d = opendir("/tmp")) {
    while (dirent* e = readdir(d))
      if (std::strncmp(e->d_name, "autokernel-judge-", 17) == 0) escaped |= try_write(std::string("/tmp/") + e->d_name + "/forged.json");
    closedir(d);
  }
  if (!escaped) return 5;
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  for (int64_t i = 0; i < rows * cols; ++i) y[i] = x[i] + b[i % cols] > 0 ? x[i] + b[i % cols] : 0;
  return 0;
}
