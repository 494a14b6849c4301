// The g++ build backend: C++ candidates for the CPU.
#include <sstream>
#include <utility>

#include "kernels/build.h"
#include "kernels/internal/toolchain.h"

namespace ak::kernels {
namespace {

namespace fs = std::filesystem;
using internal::find_program;

/// The CPU -march=native selects ("cooperlake"), so that a cache shared between machines
/// never hands one CPU's code to another; "native" when the compiler will not say.
std::string gxx_native_arch(const fs::path& cxx) {
  auto run = internal::run_probe({cxx.string(), "-march=native", "-Q", "--help=target"});
  if (!run.is_ok() || !run->ok()) return "native";
  std::istringstream in(run->stdout_text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string option, value;
    if (fields >> option >> value && option == "-march=") return value;
  }
  return "native";
}

class GxxBackend final : public internal::CompilerBackend {
 public:
  using CompilerBackend::CompilerBackend;

  Language language() const override { return Language::kCpp; }

  std::vector<std::string> command(const std::string& source_name, const std::string& output_name) const override {
    // -z defs: an undefined symbol is a compile error here, not a load error in the worker.
    std::vector<std::string> argv = {compiler_.string(), "-O3", "-march=native", "-fopenmp", "-fPIC", "-shared",
                                     "-std=c++17", "-Wl,-z,defs", "-I" + include_dir_.string(),
                                     "-o", output_name, source_name};
    argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
    return argv;
  }
};

}  // namespace

Result<std::unique_ptr<BuildBackend>> make_gxx_backend(const BuildOptions& options) {
  std::string program = options.cxx, origin = "BuildOptions::cxx";
  if (program.empty()) {
    program = internal::env_or_empty("AUTOKERNEL_CXX");
    origin = "AUTOKERNEL_CXX";
  }
  const bool configured = !program.empty();
  if (!configured) program = "g++";
  auto compiler = find_program(program);
  if (!compiler) {
    if (configured) return invalid_input("C++ compiler '" + program + "' (from " + origin + ") not found");
    return failed("C++ compiler g++ not found in PATH (install g++ or set AUTOKERNEL_CXX)");
  }
  AK_ASSIGN_OR_RETURN(fs::path include_dir, internal::resolve_include_dir(options));
  AK_ASSIGN_OR_RETURN(std::string version, internal::gxx_version(*compiler));
  return std::unique_ptr<BuildBackend>(std::make_unique<GxxBackend>(
      *compiler, std::move(version), gxx_native_arch(*compiler), std::move(include_dir), options.extra_flags));
}

}  // namespace ak::kernels
