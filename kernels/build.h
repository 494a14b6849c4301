#pragma once
/// kernels/build: compiling one candidate source file into a shared object, through a cache.
///
/// A `.cu` file is built with nvcc for one GPU architecture (sm_90a on Hopper), a `.cpp`
/// file with g++ (-O3 -march=native -fopenmp); both into a shared object that exports
/// autokernel_kernel (kernels/autokernel_kernel.h). Results are cached under a key that
/// hashes the source bytes, the language, the full command line, the compiler's version, the
/// target architecture and the ABI header, so judging the same candidate twice compiles it
/// once; failed builds are cached too (with their compiler log). Flags, cache layout and
/// environment variables are documented in docs/kernels.md.
///
/// Thread-safety: build_kernel may run concurrently from many threads and processes on one
/// cache folder; an entry appears atomically (a rename), and concurrent builds of one key all
/// return a complete entry.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ak::kernels {

/// The language of a candidate, chosen by its file extension.
enum class Language { kCpp, kCuda };

/// "cpp" or "cuda".
std::string_view to_string(Language language);

/// `.cu` is CUDA; `.cpp`, `.cc` and `.cxx` are C++. Any other extension is an error that
/// names the file.
Result<Language> language_of(const std::filesystem::path& source);

/// How to build. Every field has a default that works on a developer machine.
struct BuildOptions {
  /// Folder of the build cache; empty: default_cache_dir().
  std::filesystem::path cache_dir;
  /// CUDA target, "sm_90a" or "sm_80"; empty: detected from the first GPU with nvidia-smi
  /// (compute capability 9.0 gives sm_90a, X.Y gives sm_XY). Unused for C++.
  std::string cuda_arch;
  /// Appended to the compiler's command line after the source file (so `-lfoo` links).
  std::vector<std::string> extra_flags;
  /// Wall-clock limit for one compiler run, in seconds (0: none); a compiler that runs longer
  /// is killed and the build fails (not cached: a loaded machine may do better next time).
  double timeout_s = 300;
  /// Folder holding autokernel_kernel.h, passed as -I; empty: $AUTOKERNEL_INCLUDE_DIR, else
  /// default_include_dir().
  std::filesystem::path include_dir;
  /// C++ compiler (a name searched in PATH, or a path); empty: $AUTOKERNEL_CXX, else g++.
  std::string cxx;
  /// CUDA compiler; empty: $AUTOKERNEL_NVCC, else nvcc in PATH, else /usr/local/cuda/bin/nvcc.
  std::string nvcc;
};

/// The outcome of one build. A compile error is a BuildResult with ok == false, not a
/// failed Status: the verifier reports it as COMPILE_ERROR with the log.
struct BuildResult {
  bool ok = false;                     ///< the shared object exists and may be loaded
  std::filesystem::path library_path;  ///< `<entry>/kernel.so`; empty when !ok
  std::filesystem::path entry_dir;     ///< the cache entry; empty for a build that was not cached (a timeout)
  std::string key;                     ///< 64 hex digits, the cache key
  bool cached = false;                 ///< true: read from the cache, the compiler did not run
  std::string log;                     ///< the compiler's stderr and stdout, kept on success too
  std::string command;                 ///< the command line, shell-quoted, run in the build folder
  double seconds = 0;                  ///< wall time of this call (a cache hit: milliseconds)
  double compile_seconds = 0;          ///< the compiler's wall time when the entry was built
  std::string compiler_version;        ///< "g++ (Debian 12.2.0-14) 12.2.0", "Cuda compilation tools, release 13.0, ..."
  Language language = Language::kCpp;
  std::string arch;                    ///< "sm_90a"; for C++ the CPU that -march=native resolves to ("cooperlake")
};

/// One compiler family (g++ for C++, nvcc for CUDA): its identity and its command line. The
/// cache logic in build_kernel is the same for every backend; a test may pass its own.
class BuildBackend {
 public:
  virtual ~BuildBackend() = default;
  /// The language this backend compiles.
  virtual Language language() const = 0;
  /// The toolchain's identity, part of the cache key (for nvcc it includes the host compiler).
  virtual const std::string& compiler_version() const = 0;
  /// The target architecture, part of the cache key.
  virtual const std::string& arch() const = 0;
  /// The argv that compiles `source_name` into the shared object `output_name`; both are
  /// file names inside the build folder, which is the working directory of the run.
  virtual std::vector<std::string> command(const std::string& source_name,
                                           const std::string& output_name) const = 0;
};

/// The g++ backend: finds the compiler (options.cxx, $AUTOKERNEL_CXX, g++) and asks it for
/// its version and for the CPU that -march=native means here. Fails, naming the compiler,
/// when it cannot be found or run; fails when the ABI header is not in the include folder.
Result<std::unique_ptr<BuildBackend>> make_gxx_backend(const BuildOptions& options);

/// The nvcc backend: finds nvcc (options.nvcc, $AUTOKERNEL_NVCC, PATH, /usr/local/cuda/bin),
/// takes its release line, and the architecture from options.cuda_arch or nvidia-smi. Fails
/// with one line naming what is missing (nvcc, or a GPU to take the architecture from).
Result<std::unique_ptr<BuildBackend>> make_nvcc_backend(const BuildOptions& options);

/// make_gxx_backend or make_nvcc_backend for `language`.
Result<std::unique_ptr<BuildBackend>> make_build_backend(Language language, const BuildOptions& options);

/// Builds `source` (language by extension) into a shared object in the cache, or returns the
/// cached result. A Status error means the build could not be attempted: an unknown
/// extension, an unreadable source, a missing compiler, no architecture for CUDA, a cache
/// folder that cannot be written.
Result<BuildResult> build_kernel(const std::filesystem::path& source, const BuildOptions& options);

/// The same with a given backend; `options` supplies the cache folder, the timeout and the
/// ABI header folder (pass the options the backend was made with).
Result<BuildResult> build_kernel(const std::filesystem::path& source, const BuildBackend& backend,
                                 const BuildOptions& options);

/// `$AUTOKERNEL_CACHE/kernels`, else `$XDG_CACHE_HOME/autokernel/kernels`, else
/// `~/.cache/autokernel/kernels`; an error when none of these variables is set.
Result<std::filesystem::path> default_cache_dir();

/// The folder of autokernel_kernel.h in the source tree autokernel was built from.
std::filesystem::path default_include_dir();

/// nvcc's -arch for a compute capability as nvidia-smi prints it: "9.0" → "sm_90a" (Hopper's
/// architecture-specific features: wgmma, TMA), "8.0" → "sm_80", "12.0" → "sm_120"; an
/// error for text that is not "<major>.<minor>".
Result<std::string> cuda_arch_for_compute_capability(std::string_view compute_cap);

/// The -arch of the first GPU nvidia-smi lists (memoized per process); an error when
/// nvidia-smi is missing or lists no GPU.
Result<std::string> detect_cuda_arch();

}  // namespace ak::kernels
