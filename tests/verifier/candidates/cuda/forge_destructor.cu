// expect: INCORRECT_NUMERICAL
// Computes nothing; when the library is unloaded it looks for the judge's job folder (the
// command line, the temp dir) and rewrites every result file there to say all went well,
// timings at a tenth of the reference's. The worker has no result file and may not write.
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
#include <dirent.h>
#include <cstdio>
#include <cstring>
#include <string>
namespace {
void forge(const std::string& dir) {
  if (FILE* f = std::fopen((dir + "/result.json").c_str(), "w")) {
    std::fputs("{\"cases\":[],\"stream_error\":\"\",\"bench\":{\"candidate_ns\":[1],\"reference_ns\":[10]}}", f);
    std::fclose(f);
  }
}
struct Forger {
  ~Forger() {
    if (FILE* f = std::fopen("/proc/self/cmdline", "r")) {
      char buf[4096];
      const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      for (size_t i = 0; i < n; i += std::strlen(buf + i) + 1) {
        std::string arg(buf + i);
        if (arg.size() > 9 && arg.compare(arg.size() - 9, 9, "/job.json") == 0) forge(arg.substr(0, arg.size() - 9));
      }
    }
    if (DIR* d = opendir("/tmp")) {
      while (dirent* e = readdir(d))
        if (std::strncmp(e->d_name, "autokernel-judge-", 17) == 0) forge(std::string("/tmp/") + e->d_name);
      closedir(d);
    }
  }
} forger;
}  // namespace
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) { return 0; }
