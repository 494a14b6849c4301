// The nvcc build backend: CUDA candidates for one GPU architecture.
#include <algorithm>
#include <sstream>
#include <utility>

#include "kernels/build.h"
#include "kernels/internal/toolchain.h"

namespace ak::kernels {
namespace {

namespace fs = std::filesystem;
using internal::find_program;

/// nvcc's "Cuda compilation tools, release 13.0, V13.0.88" line plus the host compiler it
/// drives by default (g++), which compiles the host half of every .cu file.
Result<std::string> nvcc_version(const fs::path& nvcc) {
  const std::vector<std::string> argv = {nvcc.string(), "--version"};
  AK_ASSIGN_OR_RETURN(ProcessResult run, internal::run_probe(argv));
  if (!run.ok()) return failed("cannot identify the CUDA compiler: " + internal::describe_failed_probe(argv, run));
  std::istringstream in(run.stdout_text);
  std::string line, release;
  while (std::getline(in, line))
    if (line.find("release") != std::string::npos) release = internal::first_line(line);
  if (release.empty())
    return failed("cannot identify the CUDA compiler: '" + nvcc.string() + " --version' printed no release line");
  std::string host = "unknown";
  if (auto gxx = find_program("g++")) {
    if (auto version = internal::gxx_version(*gxx); version.is_ok()) host = *version;
  }
  return release + "; host " + host;
}

/// sm_90a, sm_80, compute_90a: what nvcc's -arch accepts for one real or virtual target.
bool is_valid_cuda_arch(const std::string& arch) {
  std::string rest;
  if (arch.rfind("sm_", 0) == 0) rest = arch.substr(3);
  else if (arch.rfind("compute_", 0) == 0) rest = arch.substr(8);
  else return false;
  if (!rest.empty() && (rest.back() == 'a' || rest.back() == 'f')) rest.pop_back();
  return rest.size() >= 2 && rest.size() <= 3 &&
         std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// The toolkit's library folder that holds cuBLAS, found next to nvcc (`<root>/lib64`, `<root>/lib`
/// or `<root>/targets/<arch>-linux/lib`, by the path as given and as resolved); empty when none does,
/// in which case the linker's default search path must have it.
fs::path cuda_lib_dir_for(const fs::path& nvcc) {
  std::error_code ec;
  std::vector<fs::path> roots = {nvcc.parent_path().parent_path()};
  if (const fs::path real = fs::canonical(nvcc, ec); !ec) roots.push_back(real.parent_path().parent_path());
  for (const fs::path& root : roots)
    for (const fs::path& dir : {root / "lib64", root / "lib", root / "targets" / "x86_64-linux" / "lib",
                                root / "targets" / "sbsa-linux" / "lib"})
      if (fs::exists(dir / "libcublas.so", ec)) return dir;
  return {};
}

/// Whether the linker finds `file` (e.g. "libcudnn.so"): in the toolkit's library folder, a
/// LIBRARY_PATH folder or the usual system ones. cuDNN is a separate install that may be
/// missing; linking -lcudnn without it would fail every CUDA build.
bool linkable(const fs::path& cuda_lib_dir, const std::string& file) {
  std::error_code ec;
  std::vector<fs::path> dirs = {cuda_lib_dir, "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                                "/usr/lib", "/usr/local/lib"};
  std::istringstream library_path(internal::env_or_empty("LIBRARY_PATH"));
  for (std::string dir; std::getline(library_path, dir, ':');)
    if (!dir.empty()) dirs.emplace_back(dir);
  for (const fs::path& dir : dirs)
    if (!dir.empty() && fs::exists(dir / file, ec)) return true;
  return false;
}

class NvccBackend final : public internal::CompilerBackend {
 public:
  NvccBackend(fs::path compiler, std::string version, std::string arch, fs::path include_dir,
              std::vector<std::string> extra_flags, fs::path cuda_lib_dir)
      : CompilerBackend(std::move(compiler), std::move(version), std::move(arch), std::move(include_dir),
                        std::move(extra_flags)),
        cuda_lib_dir_(std::move(cuda_lib_dir)),
        cudnn_(linkable(cuda_lib_dir_, "libcudnn.so")) {}

  Language language() const override { return Language::kCuda; }

  std::vector<std::string> command(const std::string& source_name, const std::string& output_name) const override {
    std::vector<std::string> argv = {compiler_.string(), "-O3", "-std=c++17", "-shared", "-Xcompiler", "-fPIC",
                                     "-arch=" + arch_, "-I" + include_dir_.string(), "-o", output_name, source_name};
    argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
    // cuBLAS and cuBLASLt for the starters' products, cuDNN (where installed) for their
    // convolutions; --as-needed keeps them out of kernels that never call them (loading them
    // costs the worker time and memory), the rpath finds them without LD_LIBRARY_PATH.
    argv.insert(argv.end(), {"-Xlinker", "--as-needed", "-lcublas", "-lcublasLt"});
    if (cudnn_) argv.push_back("-lcudnn");
    if (!cuda_lib_dir_.empty()) argv.insert(argv.end(), {"-Xlinker", "-rpath=" + cuda_lib_dir_.string()});
    return argv;
  }

 private:
  fs::path cuda_lib_dir_;
  bool cudnn_ = false;
};

}  // namespace

Result<std::string> cuda_arch_for_compute_capability(std::string_view compute_cap) {
  std::string text(compute_cap);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r')) text.pop_back();
  while (!text.empty() && text.front() == ' ') text.erase(0, 1);
  const size_t dot = text.find('.');
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 2 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (dot == std::string::npos || !digits(std::string_view(text).substr(0, dot)) ||
      !digits(std::string_view(text).substr(dot + 1)))
    return invalid_input("compute capability '" + text + "' is not of the form <major>.<minor>");
  const std::string arch = "sm_" + text.substr(0, dot) + text.substr(dot + 1);
  // Hopper's wgmma and TMA exist only in the architecture-specific target.
  return arch == "sm_90" ? std::string("sm_90a") : arch;
}

Result<std::string> detect_cuda_arch() {
  auto smi = find_program("nvidia-smi");
  if (!smi) return failed("cannot detect the GPU architecture: nvidia-smi not found (no NVIDIA driver?)");
  const std::vector<std::string> argv = {smi->string(), "--query-gpu=compute_cap", "--format=csv,noheader"};
  AK_ASSIGN_OR_RETURN(ProcessResult run, internal::run_probe(argv));
  if (!run.ok()) return failed("cannot detect the GPU architecture: " + internal::describe_failed_probe(argv, run));
  const std::string line = internal::first_line(run.stdout_text);
  if (line.empty()) return failed("cannot detect the GPU architecture: nvidia-smi lists no GPU");
  auto arch = cuda_arch_for_compute_capability(line);
  if (!arch.is_ok()) return failed("cannot detect the GPU architecture: nvidia-smi printed '" + line + "'");
  return arch;
}

Result<std::unique_ptr<BuildBackend>> make_nvcc_backend(const BuildOptions& options) {
  std::string program = options.nvcc, origin = "BuildOptions::nvcc";
  if (program.empty()) {
    program = internal::env_or_empty("AUTOKERNEL_NVCC");
    origin = "AUTOKERNEL_NVCC";
  }
  std::optional<fs::path> compiler;
  if (!program.empty()) {
    compiler = find_program(program);
    if (!compiler) return invalid_input("CUDA compiler '" + program + "' (from " + origin + ") not found");
  } else {
    compiler = find_program("nvcc");
    if (!compiler) compiler = find_program("/usr/local/cuda/bin/nvcc");
    if (!compiler)
      return failed("CUDA compiler nvcc not found in PATH or /usr/local/cuda/bin (install the CUDA toolkit or "
                    "set AUTOKERNEL_NVCC)");
  }
  std::string arch = options.cuda_arch;
  if (arch.empty()) {
    auto detected = detect_cuda_arch();
    if (!detected.is_ok())
      return failed(detected.status().message() + "; pass the CUDA architecture explicitly (e.g. sm_90a)");
    arch = *detected;
  } else if (!is_valid_cuda_arch(arch)) {
    return invalid_input("CUDA architecture '" + arch + "' is not of the form sm_90a, sm_80 or compute_90a");
  }
  AK_ASSIGN_OR_RETURN(fs::path include_dir, internal::resolve_include_dir(options));
  AK_ASSIGN_OR_RETURN(std::string version, nvcc_version(*compiler));
  return std::unique_ptr<BuildBackend>(std::make_unique<NvccBackend>(*compiler, std::move(version), std::move(arch),
                                                                     std::move(include_dir), options.extra_flags,
                                                                     cuda_lib_dir_for(*compiler)));
}

}  // namespace ak::kernels
