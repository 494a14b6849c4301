// build_kernel: the content-addressed build cache around the backends (gxx_backend.cpp,
// nvcc_backend.cpp).
#include "kernels/build.h"

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/remove_tree.h"
#include "base/sha256.h"
#include "base/subprocess.h"
#include "kernels/internal/toolchain.h"

#ifndef AK_KERNELS_INCLUDE_DIR
#error "AK_KERNELS_INCLUDE_DIR must name the folder of autokernel_kernel.h (set in kernels/CMakeLists.txt)"
#endif

namespace ak::kernels {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kLibraryName = "kernel.so";
constexpr const char* kLogName = "build.log";
constexpr const char* kRecordName = "build.json";
// Bump when the entry layout or the key's composition changes: old entries then never match.
constexpr int kRecordFormat = 1;
// A build folder left by a process that died mid-compile is removed after this long.
constexpr auto kStaleTempAge = std::chrono::hours(24);

std::string errno_message(int error) { return std::error_code(error, std::generic_category()).message(); }

/// `path`'s bytes; an error names what the file is ("kernel source: 'k.cu' does not exist").
Result<std::string> read_file(const fs::path& path, const std::string& what) {
  Result<std::string> bytes = ak::read_file(path);
  if (!bytes.is_ok()) return bytes.status().with_context(what);
  return bytes;
}

Status write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return failed("cannot write " + path.string() + ": " + errno_message(errno));
  return Status::ok();
}

/// The file name the source gets in the build folder: its own, so that compiler messages
/// point at the file the author wrote, unless that name could be mistaken for a flag.
std::string build_source_name(const fs::path& source) {
  const std::string name = source.filename().string();
  const bool safe = !name.empty() && name[0] != '-' && name[0] != '.' &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             c == '_' || c == '-' || c == '.' || c == '+';
                    });
  return safe ? name : "kernel" + source.extension().string();
}

std::string shell_quote(const std::string& arg) {
  const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_-./=+:,@%").find(c) != std::string_view::npos;
  });
  if (plain) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) line += (line.empty() ? "" : " ") + shell_quote(arg);
  return line;
}

/// sha256 over everything that decides the shared object's bytes. Fields are length-prefixed
/// so that no two different inputs serialize alike.
std::string cache_key(const BuildBackend& backend, const std::vector<std::string>& argv, const std::string& abi_header,
                      const std::string& source_text) {
  std::string text = "autokernel kernel build " + std::to_string(kRecordFormat) + "\n";
  auto field = [&text](std::string_view name, std::string_view value) {
    text += std::string(name) + " " + std::to_string(value.size()) + " " + std::string(value) + "\n";
  };
  field("language", to_string(backend.language()));
  field("compiler", backend.compiler_version());
  field("arch", backend.arch());
  field("abi", sha256_hex(abi_header));
  for (const auto& arg : argv) field("arg", arg);
  field("source", source_text);
  return sha256_hex(text);
}

std::optional<Language> parse_language(const std::string& text) {
  if (text == "cpp") return Language::kCpp;
  if (text == "cuda") return Language::kCuda;
  return std::nullopt;
}

/// A complete cache entry, or nullopt when it is missing or damaged (then it is rebuilt).
std::optional<BuildResult> read_entry(const fs::path& entry, const std::string& key) {
  std::ifstream in(entry / kRecordName);
  if (!in) return std::nullopt;
  const json record = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded() || !record.is_object()) return std::nullopt;
  BuildResult result;
  try {
    if (record.value("format", 0) != kRecordFormat || record.value("key", "") != key) return std::nullopt;
    auto language = parse_language(record.at("language").get<std::string>());
    if (!language) return std::nullopt;
    result.language = *language;
    result.ok = record.at("ok").get<bool>();
    result.key = key;
    result.command = record.at("command").get<std::string>();
    result.compile_seconds = record.at("compile_seconds").get<double>();
    result.compiler_version = record.at("compiler_version").get<std::string>();
    result.arch = record.at("arch").get<std::string>();
  } catch (const json::exception&) {
    return std::nullopt;
  }
  auto log = read_file(entry / kLogName, "build log");
  if (!log.is_ok()) return std::nullopt;
  result.log = std::move(log).value();
  result.entry_dir = entry;
  if (result.ok) {
    result.library_path = entry / kLibraryName;
    std::error_code ec;
    if (!fs::is_regular_file(result.library_path, ec)) return std::nullopt;
  }
  return result;
}

Status write_entry_files(const fs::path& dir, const BuildResult& result, const std::vector<std::string>& argv,
                         const std::string& source_name) {
  AK_RETURN_IF_ERROR(write_file(dir / kLogName, result.log));
  const json record = {
      {"format", kRecordFormat},
      {"key", result.key},
      {"ok", result.ok},
      {"language", to_string(result.language)},
      {"source_name", source_name},
      {"command", result.command},
      {"argv", argv},
      {"compile_seconds", result.compile_seconds},
      {"compiler_version", result.compiler_version},
      {"arch", result.arch},
  };
  return write_file(dir / kRecordName, record.dump(2) + "\n");
}

/// Removes `dir` when it goes out of scope, unless released (the build folder on every path
/// that does not publish it).
class TempDir {
 public:
  explicit TempDir(fs::path dir) : dir_(std::move(dir)) {}
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (dir_.empty()) return;
    ak::remove_tree(dir_);
  }
  const fs::path& path() const { return dir_; }
  void release() { dir_.clear(); }

 private:
  fs::path dir_;
};

Result<fs::path> make_temp_dir(const fs::path& shard, const std::string& key) {
  std::string pattern = (shard / (".tmp-" + key.substr(0, 16) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return failed("cannot create a build folder in " + shard.string() + ": " + errno_message(errno));
  return fs::path(pattern);
}

/// Best effort: build folders of processes that died mid-compile, and damaged entries moved aside.
void remove_stale_temps(const fs::path& shard) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(shard, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(".tmp-", 0) != 0) continue;
    std::error_code time_ec;
    const auto mtime = fs::last_write_time(it->path(), time_ec);
    if (time_ec || now - mtime < kStaleTempAge) continue;
    ak::remove_tree(it->path());
  }
}

/// Moves a damaged entry out of the way (rename is atomic, removal is not) and deletes it.
void discard_entry(const fs::path& shard, const fs::path& entry, const std::string& key) {
  auto aside = make_temp_dir(shard, key);
  if (!aside.is_ok()) return;
  std::error_code ec;
  fs::remove(*aside, ec);
  if (::rename(entry.c_str(), aside->c_str()) == 0) ak::remove_tree(*aside);
}

std::string compose_log(const ProcessResult& run, const std::string& compiler) {
  std::string log = run.stderr_text;
  if (!run.stdout_text.empty()) {
    if (!log.empty() && log.back() != '\n') log += '\n';
    log += run.stdout_text;
  }
  if (!log.empty() && log.back() != '\n') log += '\n';
  if (run.output_truncated) log += "[autokernel] compiler output truncated\n";
  if (!run.ok()) log += "[autokernel] " + compiler + " " + run.describe() + "\n";
  return log;
}

int64_t elapsed_ns(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
}

double to_seconds(int64_t ns) { return static_cast<double>(ns) * 1e-9; }

}  // namespace

std::string_view to_string(Language language) {
  switch (language) {
    case Language::kCpp: return "cpp";
    case Language::kCuda: return "cuda";
  }
  return "unknown";
}

Result<Language> language_of(const fs::path& source) {
  const std::string ext = source.extension().string();
  if (ext == ".cu") return Language::kCuda;
  if (ext == ".cpp" || ext == ".cc" || ext == ".cxx") return Language::kCpp;
  return invalid_input("kernel source " + source.string() + ": unknown extension '" + ext +
                       "' (expected .cu for CUDA, .cpp/.cc/.cxx for C++)");
}

Result<fs::path> default_cache_dir() {
  if (std::string root = internal::env_or_empty("AUTOKERNEL_CACHE"); !root.empty()) return fs::path(root) / "kernels";
  if (std::string xdg = internal::env_or_empty("XDG_CACHE_HOME"); !xdg.empty())
    return fs::path(xdg) / "autokernel" / "kernels";
  if (std::string home = internal::env_or_empty("HOME"); !home.empty())
    return fs::path(home) / ".cache" / "autokernel" / "kernels";
  return failed("no folder for the kernel build cache: set AUTOKERNEL_CACHE (HOME is not set)");
}

fs::path default_include_dir() { return AK_KERNELS_INCLUDE_DIR; }

Result<std::unique_ptr<BuildBackend>> make_build_backend(Language language, const BuildOptions& options) {
  switch (language) {
    case Language::kCpp: return make_gxx_backend(options);
    case Language::kCuda: return make_nvcc_backend(options);
  }
  return internal_error("make_build_backend: unknown language");
}

Result<BuildResult> build_kernel(const fs::path& source, const BuildOptions& options) {
  AK_ASSIGN_OR_RETURN(Language language, language_of(source));
  // A mistyped path is likelier than a missing compiler: name the file first.
  std::error_code ec;
  if (!fs::is_regular_file(source, ec)) return invalid_input("kernel source " + source.string() + " not found");
  AK_ASSIGN_OR_RETURN(std::unique_ptr<BuildBackend> backend, make_build_backend(language, options));
  return build_kernel(source, *backend, options);
}

Result<BuildResult> build_kernel(const fs::path& source, const BuildBackend& backend, const BuildOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  AK_ASSIGN_OR_RETURN(Language language, language_of(source));
  if (language != backend.language())
    return invalid_input("kernel source " + source.string() + " is " + std::string(to_string(language)) +
                         " but the build backend compiles " + std::string(to_string(backend.language())));
  AK_ASSIGN_OR_RETURN(std::string source_text, read_file(source, "kernel source"));
  AK_ASSIGN_OR_RETURN(fs::path include_dir, internal::resolve_include_dir(options));
  AK_ASSIGN_OR_RETURN(std::string abi_header, read_file(include_dir / internal::kAbiHeaderName, "kernel ABI header"));
  fs::path cache_dir = options.cache_dir;
  if (cache_dir.empty()) {
    AK_ASSIGN_OR_RETURN(cache_dir, default_cache_dir());
  }

  const std::string source_name = build_source_name(source);
  const std::vector<std::string> argv = backend.command(source_name, kLibraryName);
  const std::string key = cache_key(backend, argv, abi_header, source_text);
  const fs::path shard = cache_dir / key.substr(0, 2);
  const fs::path entry = shard / key;

  if (auto hit = read_entry(entry, key)) {
    hit->cached = true;
    hit->seconds = to_seconds(elapsed_ns(start));
    return *std::move(hit);
  }

  std::error_code ec;
  fs::create_directories(shard, ec);
  if (ec) return failed("cannot create the kernel build cache folder " + shard.string() + ": " + ec.message());
  if (fs::exists(entry, ec)) discard_entry(shard, entry, key);
  remove_stale_temps(shard);

  // Build in a private folder and publish it with one rename, so that a reader never sees a
  // half-written entry and concurrent builders of one key cannot interleave their files.
  AK_ASSIGN_OR_RETURN(fs::path temp_path, make_temp_dir(shard, key));
  TempDir temp(temp_path);
  AK_RETURN_IF_ERROR(write_file(temp.path() / source_name, source_text));

  ProcessOptions process = internal::compiler_process_options();
  process.working_dir = temp.path();
  process.limits.timeout_s = options.timeout_s;
  AK_ASSIGN_OR_RETURN(ProcessResult run, run_process(argv, process));

  BuildResult result;
  result.key = key;
  result.language = language;
  result.command = shell_join(argv);
  result.compile_seconds = run.seconds;
  result.compiler_version = backend.compiler_version();
  result.arch = backend.arch();
  result.log = compose_log(run, fs::path(argv.front()).filename().string());
  result.ok = run.ok() && fs::is_regular_file(temp.path() / kLibraryName, ec);
  if (run.ok() && !result.ok)
    result.log += std::string("[autokernel] the compiler succeeded but wrote no ") + kLibraryName + "\n";

  // A compiler killed by the timeout or a signal (the OOM killer) says nothing about the
  // source: leave no entry, so that the next attempt compiles again.
  if (run.end != ProcessResult::End::kExited) {
    result.seconds = to_seconds(elapsed_ns(start));
    return result;
  }

  AK_RETURN_IF_ERROR(write_entry_files(temp.path(), result, argv, source_name));
  if (::rename(temp.path().c_str(), entry.c_str()) != 0) {
    const int error = errno;
    if (error != EEXIST && error != ENOTEMPTY)
      return failed("cannot publish the kernel build " + entry.string() + ": " + errno_message(error));
    // Another builder published this key first; its entry is equivalent, and stays the one
    // every caller sees.
    auto winner = read_entry(entry, key);
    if (!winner) return failed("kernel build cache entry " + entry.string() + " is damaged");
    winner->seconds = to_seconds(elapsed_ns(start));
    return *std::move(winner);
  }
  temp.release();
  result.entry_dir = entry;
  if (result.ok) result.library_path = entry / kLibraryName;
  result.seconds = to_seconds(elapsed_ns(start));
  return result;
}

}  // namespace ak::kernels
