#pragma once
// Shared by the build backends (gxx_backend.cpp, nvcc_backend.cpp) and build.cpp: finding
// programs, asking toolchains about themselves, the ABI header's folder. Not installed.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/subprocess.h"
#include "kernels/build.h"

namespace ak::kernels::internal {

/// The ABI header's file name, looked for in the include folder.
inline constexpr const char* kAbiHeaderName = "autokernel_kernel.h";

/// The variable's value, or "" when it is unset.
std::string env_or_empty(const char* name);

/// The first non-empty line of `text`, without trailing spaces.
std::string first_line(const std::string& text);

/// `program` as given when it contains a '/', else its first match in PATH; an absolute
/// path, or nullopt when there is no such executable file.
std::optional<std::filesystem::path> find_program(const std::string& program);

/// Options for running a compiler: the C locale, so that messages are English with ASCII
/// quotes on every machine.
ProcessOptions compiler_process_options();

/// Runs a short query (`g++ --version`, nvidia-smi) once per process per argv, with a 60 s
/// limit: a toolchain does not change while autokernel runs, and builds ask often.
/// Thread-safe.
Result<ProcessResult> run_probe(const std::vector<std::string>& argv);

/// "'<argv>' exited with code 1: <first line of stderr>", for errors about a failed probe.
std::string describe_failed_probe(const std::vector<std::string>& argv, const ProcessResult& run);

/// The first line `<cxx> --version` prints ("g++ (Debian 12.2.0-14) 12.2.0").
Result<std::string> gxx_version(const std::filesystem::path& cxx);

/// The folder of the ABI header: options.include_dir, else $AUTOKERNEL_INCLUDE_DIR, else
/// default_include_dir(); absolute. Fails when the header is not there.
Result<std::filesystem::path> resolve_include_dir(const BuildOptions& options);

/// What every compiler backend holds: the compiler, its version string, the target
/// architecture, the ABI header's folder and the caller's extra flags. Backends add the
/// language and the command line.
class CompilerBackend : public BuildBackend {
 public:
  CompilerBackend(std::filesystem::path compiler, std::string version, std::string arch,
                  std::filesystem::path include_dir, std::vector<std::string> extra_flags)
      : compiler_(std::move(compiler)),
        version_(std::move(version)),
        arch_(std::move(arch)),
        include_dir_(std::move(include_dir)),
        extra_flags_(std::move(extra_flags)) {}

  const std::string& compiler_version() const override { return version_; }
  const std::string& arch() const override { return arch_; }

 protected:
  std::filesystem::path compiler_;
  std::string version_, arch_;
  std::filesystem::path include_dir_;
  std::vector<std::string> extra_flags_;
};

}  // namespace ak::kernels::internal
