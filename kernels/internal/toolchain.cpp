// Finding compilers and asking them about themselves, for the build backends.
#include "kernels/internal/toolchain.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <system_error>
#include <utility>

namespace ak::kernels::internal {
namespace {

namespace fs = std::filesystem;

bool is_executable_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string first_line(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) return line;
  }
  return "";
}

std::optional<fs::path> find_program(const std::string& program) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    if (!is_executable_file(program)) return std::nullopt;
    return fs::absolute(program);
  }
  std::istringstream path(env_or_empty("PATH"));
  std::string dir;
  while (std::getline(path, dir, ':')) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (is_executable_file(candidate)) return fs::absolute(candidate);
  }
  return std::nullopt;
}

ProcessOptions compiler_process_options() {
  ProcessOptions options;
  options.extra_env["LC_ALL"] = "C";
  return options;
}

Result<ProcessResult> run_probe(const std::vector<std::string>& argv) {
  static std::mutex mutex;
  static std::map<std::vector<std::string>, Result<ProcessResult>> memo;
  {
    std::lock_guard lock(mutex);
    auto it = memo.find(argv);
    if (it != memo.end()) return it->second;
  }
  // Run without the lock: a slow nvidia-smi must not stall probes of other programs. Two
  // threads may then run the same probe once each; the first answer stays.
  ProcessOptions options = compiler_process_options();
  options.limits.timeout_s = 60;
  Result<ProcessResult> result = run_process(argv, options);
  std::lock_guard lock(mutex);
  return memo.emplace(argv, std::move(result)).first->second;
}

std::string describe_failed_probe(const std::vector<std::string>& argv, const ProcessResult& run) {
  std::string command;
  for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
  const std::string detail = first_line(run.stderr_text);
  return "'" + command + "' " + run.describe() + (detail.empty() ? "" : ": " + detail);
}

Result<std::string> gxx_version(const fs::path& cxx) {
  const std::vector<std::string> argv = {cxx.string(), "--version"};
  AK_ASSIGN_OR_RETURN(ProcessResult run, run_probe(argv));
  if (!run.ok()) return failed("cannot identify the C++ compiler: " + describe_failed_probe(argv, run));
  std::string line = first_line(run.stdout_text);
  if (line.empty()) return failed("cannot identify the C++ compiler: '" + cxx.string() + " --version' printed nothing");
  return line;
}

Result<fs::path> resolve_include_dir(const BuildOptions& options) {
  fs::path dir = options.include_dir;
  std::string origin = "BuildOptions::include_dir";
  if (dir.empty()) {
    dir = env_or_empty("AUTOKERNEL_INCLUDE_DIR");
    origin = "AUTOKERNEL_INCLUDE_DIR";
  }
  if (dir.empty()) {
    dir = default_include_dir();
    origin = "the source tree autokernel was built from";
  }
  std::error_code ec;
  if (!fs::is_regular_file(dir / kAbiHeaderName, ec))
    return failed(std::string("kernel ABI header ") + kAbiHeaderName + " not found in " + dir.string() + " (from " +
                  origin + "; set AUTOKERNEL_INCLUDE_DIR to its folder)");
  return fs::absolute(dir);
}

}  // namespace ak::kernels::internal
