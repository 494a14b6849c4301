// Building candidates with real compilers, and the build cache.
#include "kernels/build.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/subprocess.h"
#include "kernels/kernel_library.h"
#include "kernels/tensor.h"
#include "scratch.h"

namespace ak::kernels {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::ScopedEnv;
using testing::ScratchDir;
using testing::write_script;
using testing::write_text;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Entries (not temp folders) under a cache folder.
std::vector<fs::path> cache_entries(const fs::path& cache) {
  std::vector<fs::path> entries;
  if (!fs::exists(cache)) return entries;
  for (const auto& shard : fs::directory_iterator(cache))
    for (const auto& entry : fs::directory_iterator(shard.path()))
      if (entry.path().filename().string().rfind(".tmp-", 0) != 0) entries.push_back(entry.path());
  return entries;
}

/// Anything that is not a published entry: leftovers of builds.
std::vector<fs::path> cache_temps(const fs::path& cache) {
  std::vector<fs::path> temps;
  if (!fs::exists(cache)) return temps;
  for (const auto& shard : fs::directory_iterator(cache))
    for (const auto& entry : fs::directory_iterator(shard.path()))
      if (entry.path().filename().string().rfind(".tmp-", 0) == 0) temps.push_back(entry.path());
  return temps;
}

class BuildTest : public ::testing::Test {
 protected:
  BuildOptions options() const {
    BuildOptions options;
    options.cache_dir = dir_ / "cache";
    return options;
  }

  /// A g++ wrapper that appends one line to `count_file_` per compilation (not per probe).
  std::string counting_compiler() {
    return write_script(dir_ / "counting-g++", "case \" $* \" in *\" -shared \"*) echo run >> '" +
                                                   count_file_.string() + "';; esac\nexec g++ \"$@\"\n")
        .string();
  }
  int compiler_runs() const {
    const std::string text = read_text(count_file_);
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }

  ScratchDir dir_;
  fs::path count_file_ = dir_ / "compiler-runs.txt";
};

TEST_F(BuildTest, VectorAddBuildsLoadsAndComputes) {
  auto source = write_text(dir_ / "src" / "vector_add.cpp", testing::kVectorAddCpp);
  auto built = build_kernel(source, options());
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  ASSERT_TRUE(built->ok) << built->log;
  EXPECT_FALSE(built->cached);
  EXPECT_EQ(built->language, Language::kCpp);
  EXPECT_EQ(built->key.size(), 64u);
  EXPECT_EQ(built->key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_FALSE(built->compiler_version.empty());
  EXPECT_FALSE(built->arch.empty());
  for (const char* flag : {"-O3", "-march=native", "-fopenmp", "-fPIC", "-shared", "-std=c++17", "vector_add.cpp"})
    EXPECT_TRUE(contains(built->command, flag)) << flag << " missing from: " << built->command;
  EXPECT_GT(built->compile_seconds, 0);

  // Layout: <cache>/<key[0:2]>/<key>/{kernel.so, build.log, build.json}.
  const fs::path entry = dir_ / "cache" / built->key.substr(0, 2) / built->key;
  EXPECT_EQ(built->entry_dir, entry);
  EXPECT_EQ(built->library_path, entry / "kernel.so");
  EXPECT_TRUE(fs::is_regular_file(entry / "kernel.so"));
  EXPECT_TRUE(fs::is_regular_file(entry / "build.log"));
  const auto record = nlohmann::json::parse(read_text(entry / "build.json"));
  EXPECT_EQ(record.at("key"), built->key);
  EXPECT_EQ(record.at("ok"), true);
  EXPECT_EQ(record.at("language"), "cpp");
  EXPECT_EQ(record.at("compiler_version"), built->compiler_version);
  EXPECT_TRUE(cache_temps(dir_ / "cache").empty());

  auto library = KernelLibrary::load(built->library_path);
  ASSERT_TRUE(library.is_ok()) << library.status().message();
  const int64_t n = 1000;
  std::vector<float> a(n), b(n), y(n, -1.0f);
  for (int64_t i = 0; i < n; ++i) {
    a[i] = 0.5f * static_cast<float>(i);
    b[i] = 3.0f - static_cast<float>(i % 7);
  }
  const std::vector<int64_t> shape = {10, 100};
  ak_tensor inputs[2] = {*make_tensor(a.data(), AK_DTYPE_FLOAT, shape), *make_tensor(b.data(), AK_DTYPE_FLOAT, shape)};
  ak_tensor output = *make_tensor(y.data(), AK_DTYPE_FLOAT, shape);
  ASSERT_EQ(library->call(inputs, {&output, 1}), 0);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], a[i] + b[i]) << "element " << i;

  // The candidate's own error codes come back unchanged.
  inputs[1].dtype = AK_DTYPE_FLOAT16;
  EXPECT_EQ(library->call(inputs, {&output, 1}), 2);
  EXPECT_EQ(library->call({inputs, 1}, {&output, 1}), 1);
}

TEST_F(BuildTest, SecondBuildIsACacheHitWithoutACompilerRun) {
  auto source = write_text(dir_ / "vector_add.cpp", testing::kVectorAddCpp);
  BuildOptions opts = options();
  opts.cxx = counting_compiler();
  auto first = build_kernel(source, opts);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  ASSERT_TRUE(first->ok) << first->log;
  EXPECT_FALSE(first->cached);
  EXPECT_EQ(compiler_runs(), 1);

  auto second = build_kernel(source, opts);
  ASSERT_TRUE(second.is_ok()) << second.status().message();
  EXPECT_TRUE(second->ok);
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(compiler_runs(), 1) << "a cache hit must not run the compiler";
  EXPECT_EQ(second->key, first->key);
  EXPECT_EQ(second->library_path, first->library_path);
  EXPECT_EQ(second->log, first->log);
  EXPECT_EQ(second->command, first->command);
  EXPECT_DOUBLE_EQ(second->compile_seconds, first->compile_seconds);
  EXPECT_LT(second->seconds, first->compile_seconds);

  // The cache is addressed by content: the same bytes elsewhere under the same name hit too.
  auto copy = write_text(dir_ / "elsewhere" / "vector_add.cpp", testing::kVectorAddCpp);
  auto third = build_kernel(copy, opts);
  ASSERT_TRUE(third.is_ok());
  EXPECT_TRUE(third->cached);
  EXPECT_EQ(third->key, first->key);
  EXPECT_EQ(compiler_runs(), 1);
}

TEST_F(BuildTest, SourceFlagsAndArchitectureChangeTheKey) {
  auto source = write_text(dir_ / "a" / "k.cpp", testing::kVectorAddCpp);
  auto edited = write_text(dir_ / "b" / "k.cpp", std::string(testing::kVectorAddCpp) + "// one more line\n");
  auto base = build_kernel(source, options());
  auto other_source = build_kernel(edited, options());
  BuildOptions flagged = options();
  flagged.extra_flags = {"-DAK_TEST_FLAG=1"};
  auto other_flags = build_kernel(source, flagged);
  ASSERT_TRUE(base.is_ok() && other_source.is_ok() && other_flags.is_ok());
  EXPECT_TRUE(base->ok && other_source->ok && other_flags->ok);
  EXPECT_NE(base->key, other_source->key);
  EXPECT_NE(base->key, other_flags->key);
  EXPECT_NE(other_source->key, other_flags->key);
  EXPECT_FALSE(other_flags->cached);
  EXPECT_TRUE(contains(other_flags->command, "-DAK_TEST_FLAG=1"));
  EXPECT_EQ(cache_entries(dir_ / "cache").size(), 3u);
}

TEST_F(BuildTest, CompileErrorIsAFailedBuildWithTheLogAndIsCached) {
  auto source = write_text(dir_ / "broken.cpp",
                           "#include <autokernel_kernel.h>\n"
                           "extern \"C\" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) {\n"
                           "  return undeclared_variable;\n"
                           "}\n");
  BuildOptions opts = options();
  opts.cxx = counting_compiler();
  auto first = build_kernel(source, opts);
  ASSERT_TRUE(first.is_ok()) << "a compile error is not a Status error: " << first.status().message();
  EXPECT_FALSE(first->ok);
  EXPECT_FALSE(first->cached);
  EXPECT_TRUE(first->library_path.empty());
  EXPECT_TRUE(contains(first->log, "broken.cpp:3")) << first->log;
  EXPECT_TRUE(contains(first->log, "undeclared_variable")) << first->log;
  EXPECT_TRUE(contains(first->log, "error")) << first->log;
  EXPECT_TRUE(contains(first->log, "exited with code")) << first->log;
  EXPECT_TRUE(fs::is_regular_file(first->entry_dir / "build.log"));
  EXPECT_FALSE(fs::exists(first->entry_dir / "kernel.so"));
  EXPECT_EQ(nlohmann::json::parse(read_text(first->entry_dir / "build.json")).at("ok"), false);

  auto again = build_kernel(source, opts);
  ASSERT_TRUE(again.is_ok());
  EXPECT_FALSE(again->ok);
  EXPECT_TRUE(again->cached);
  EXPECT_EQ(again->log, first->log);
  EXPECT_EQ(compiler_runs(), 1) << "re-judging a broken candidate must not recompile it";
}

TEST_F(BuildTest, UndefinedSymbolFailsAtBuildTimeNotAtLoad) {
  auto source = write_text(dir_ / "undefined.cpp",
                           "#include <autokernel_kernel.h>\n"
                           "extern \"C\" int helper_defined_nowhere(void);\n"
                           "extern \"C\" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) {\n"
                           "  return helper_defined_nowhere();\n"
                           "}\n");
  auto built = build_kernel(source, options());
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_FALSE(built->ok);
  EXPECT_TRUE(contains(built->log, "helper_defined_nowhere")) << built->log;
}

TEST_F(BuildTest, UnknownExtensionAndMissingSourceAreStatusErrors) {
  auto python = write_text(dir_ / "kernel.py", "print('hi')\n");
  auto rejected = build_kernel(python, options());
  ASSERT_FALSE(rejected.is_ok());
  EXPECT_EQ(rejected.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(contains(rejected.status().message(), "kernel.py")) << rejected.status().message();
  EXPECT_TRUE(contains(rejected.status().message(), "unknown extension")) << rejected.status().message();

  auto missing = build_kernel(dir_ / "no_such_kernel.cpp", options());
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(contains(missing.status().message(), "no_such_kernel.cpp")) << missing.status().message();

  auto folder = dir_ / "folder.cpp";
  fs::create_directories(folder);
  auto not_file = build_kernel(folder, options());
  ASSERT_FALSE(not_file.is_ok());
  EXPECT_TRUE(contains(not_file.status().message(), "folder.cpp"));
  EXPECT_FALSE(fs::exists(dir_ / "cache")) << "nothing is cached for a build that was never attempted";
}

TEST_F(BuildTest, LanguageByExtension) {
  EXPECT_EQ(*language_of("a/k.cu"), Language::kCuda);
  EXPECT_EQ(*language_of("k.cpp"), Language::kCpp);
  EXPECT_EQ(*language_of("k.cc"), Language::kCpp);
  EXPECT_EQ(*language_of("k.cxx"), Language::kCpp);
  EXPECT_FALSE(language_of("k.c").is_ok());
  EXPECT_FALSE(language_of("k").is_ok());
  EXPECT_FALSE(language_of("k.cu.txt").is_ok());
  EXPECT_EQ(to_string(Language::kCuda), "cuda");
}

TEST_F(BuildTest, MissingCompilerIsAClearError) {
  auto source = write_text(dir_ / "k.cpp", testing::kVectorAddCpp);
  {
    ScopedEnv env("AUTOKERNEL_CXX", "/nonexistent/g++");
    auto built = build_kernel(source, options());
    ASSERT_FALSE(built.is_ok());
    EXPECT_TRUE(contains(built.status().message(), "/nonexistent/g++")) << built.status().message();
    EXPECT_TRUE(contains(built.status().message(), "AUTOKERNEL_CXX")) << built.status().message();
    EXPECT_EQ(built.status().message().find('\n'), std::string::npos) << "one line";
  }
  BuildOptions opts = options();
  opts.cxx = "no-such-compiler-anywhere";
  auto built = build_kernel(source, opts);
  ASSERT_FALSE(built.is_ok());
  EXPECT_TRUE(contains(built.status().message(), "no-such-compiler-anywhere")) << built.status().message();

  BuildOptions cuda = options();
  cuda.nvcc = "/nonexistent/nvcc";
  cuda.cuda_arch = "sm_90a";
  auto cu = write_text(dir_ / "k.cu", "#include <autokernel_kernel.h>\n");
  auto no_nvcc = build_kernel(cu, cuda);
  ASSERT_FALSE(no_nvcc.is_ok());
  EXPECT_TRUE(contains(no_nvcc.status().message(), "/nonexistent/nvcc")) << no_nvcc.status().message();
}

TEST_F(BuildTest, CompilerTimeoutFailsTheBuildAndIsNotCached) {
  auto slow = write_script(dir_ / "slow-cc",
                           "case \" $* \" in *\" --version \"*) echo 'slow-cc 1.0'; exit 0;; esac\n"
                           "case \" $* \" in *\" --help=target \"*) exit 1;; esac\n"
                           "echo compiling >&2\nsleep 30\n");
  auto source = write_text(dir_ / "k.cpp", testing::kVectorAddCpp);
  BuildOptions opts = options();
  opts.cxx = slow.string();
  opts.timeout_s = 1;
  auto built = build_kernel(source, opts);
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_FALSE(built->ok);
  EXPECT_FALSE(built->cached);
  EXPECT_TRUE(contains(built->log, "timed out")) << built->log;
  EXPECT_TRUE(contains(built->log, "compiling")) << "the compiler's output before the timeout is kept: " << built->log;
  EXPECT_LT(built->seconds, 20);
  EXPECT_EQ(built->arch, "native") << "a compiler that will not resolve -march=native";
  EXPECT_TRUE(built->entry_dir.empty());
  EXPECT_TRUE(cache_entries(dir_ / "cache").empty());
  EXPECT_TRUE(cache_temps(dir_ / "cache").empty());
}

TEST_F(BuildTest, ConcurrentBuildsOfOneKeyAgreeOnOneEntry) {
  auto source = write_text(dir_ / "vector_add.cpp", testing::kVectorAddCpp);
  constexpr int kThreads = 3;
  std::vector<Result<BuildResult>> results(kThreads, Result<BuildResult>(internal_error("not run")));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] { results[i] = build_kernel(source, options()); });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) {
    ASSERT_TRUE(result.is_ok()) << result.status().message();
    EXPECT_TRUE(result->ok) << result->log;
    EXPECT_EQ(result->library_path, results[0]->library_path);
    EXPECT_TRUE(fs::is_regular_file(result->library_path));
  }
  EXPECT_EQ(cache_entries(dir_ / "cache").size(), 1u);
  EXPECT_TRUE(cache_temps(dir_ / "cache").empty());
  EXPECT_TRUE(KernelLibrary::load(results[0]->library_path).is_ok());
}

TEST_F(BuildTest, DamagedEntryIsRebuilt) {
  auto source = write_text(dir_ / "vector_add.cpp", testing::kVectorAddCpp);
  auto first = build_kernel(source, options());
  ASSERT_TRUE(first.is_ok() && first->ok);
  write_text(first->entry_dir / "build.json", "{ truncated");
  auto rebuilt = build_kernel(source, options());
  ASSERT_TRUE(rebuilt.is_ok()) << rebuilt.status().message();
  EXPECT_TRUE(rebuilt->ok);
  EXPECT_FALSE(rebuilt->cached);
  EXPECT_EQ(rebuilt->library_path, first->library_path);

  fs::remove(first->library_path);
  auto without_library = build_kernel(source, options());
  ASSERT_TRUE(without_library.is_ok());
  EXPECT_FALSE(without_library->cached);
  EXPECT_TRUE(fs::is_regular_file(without_library->library_path));

  auto hit = build_kernel(source, options());
  ASSERT_TRUE(hit.is_ok());
  EXPECT_TRUE(hit->cached);
  EXPECT_TRUE(cache_temps(dir_ / "cache").empty());
}

TEST_F(BuildTest, SourceNamesThatLookLikeFlagsAreRenamed) {
  auto source = write_text(dir_ / "-O0 odd name.cpp", testing::kVectorAddCpp);
  auto built = build_kernel(source, options());
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_TRUE(built->ok) << built->log;
  EXPECT_TRUE(contains(built->command, " kernel.cpp")) << built->command;
  EXPECT_FALSE(contains(built->command, "-O0")) << built->command;
}

TEST_F(BuildTest, CacheFolderAndHeaderFolderDefaults) {
  {
    ScopedEnv cache("AUTOKERNEL_CACHE", (dir_ / "root").string());
    EXPECT_EQ(*default_cache_dir(), dir_ / "root" / "kernels");
    auto source = write_text(dir_ / "vector_add.cpp", testing::kVectorAddCpp);
    auto built = build_kernel(source, BuildOptions{});
    ASSERT_TRUE(built.is_ok()) << built.status().message();
    EXPECT_EQ(built->entry_dir.parent_path().parent_path(), dir_ / "root" / "kernels");
  }
  {
    ScopedEnv cache("AUTOKERNEL_CACHE", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(*default_cache_dir(), fs::path("/xdg/autokernel/kernels"));
  }
  {
    ScopedEnv cache("AUTOKERNEL_CACHE", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(*default_cache_dir(), fs::path("/home/someone/.cache/autokernel/kernels"));
  }
  EXPECT_TRUE(fs::is_regular_file(default_include_dir() / "autokernel_kernel.h"));

  BuildOptions no_header = options();
  no_header.include_dir = dir_ / "empty";
  fs::create_directories(no_header.include_dir);
  auto built = build_kernel(write_text(dir_ / "k.cpp", testing::kVectorAddCpp), no_header);
  ASSERT_FALSE(built.is_ok());
  EXPECT_TRUE(contains(built.status().message(), "autokernel_kernel.h")) << built.status().message();
}

TEST_F(BuildTest, AbiHeaderContentsChangeTheKey) {
  auto source = write_text(dir_ / "vector_add.cpp", testing::kVectorAddCpp);
  const std::string header = read_text(default_include_dir() / "autokernel_kernel.h");
  BuildOptions opts = options();
  opts.include_dir = dir_ / "abi";
  write_text(opts.include_dir / "autokernel_kernel.h", header);
  auto before = build_kernel(source, opts);
  write_text(opts.include_dir / "autokernel_kernel.h", header + "/* a later revision */\n");
  auto after = build_kernel(source, opts);
  ASSERT_TRUE(before.is_ok() && after.is_ok());
  EXPECT_TRUE(before->ok && after->ok) << before->log << after->log;
  EXPECT_FALSE(after->cached);
  EXPECT_NE(before->key, after->key);
  EXPECT_EQ(before->command, after->command);
  EXPECT_TRUE(contains(after->command, "-I" + (dir_ / "abi").string())) << after->command;
}

// The seam: the cache logic with a backend that is not a compiler.
class ScriptBackend final : public BuildBackend {
 public:
  explicit ScriptBackend(std::string script) : script_(std::move(script)) {}
  Language language() const override { return Language::kCpp; }
  const std::string& compiler_version() const override { return version_; }
  const std::string& arch() const override { return arch_; }
  std::vector<std::string> command(const std::string& source_name, const std::string& output_name) const override {
    return {"/bin/sh", "-c", script_, "sh", source_name, output_name};
  }

 private:
  std::string script_, version_ = "script 1", arch_ = "none";
};

TEST_F(BuildTest, CompilerThatWritesNoLibraryFailsTheBuild) {
  auto source = write_text(dir_ / "k.cpp", "int x;\n");
  ScriptBackend backend("echo \"pretending to compile $1\"");
  auto built = build_kernel(source, backend, options());
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_FALSE(built->ok);
  EXPECT_TRUE(contains(built->log, "pretending to compile k.cpp")) << built->log;
  EXPECT_TRUE(contains(built->log, "wrote no kernel.so")) << built->log;
  EXPECT_EQ(built->compiler_version, "script 1");

  ScriptBackend copying("cp \"$1\" \"$2\"");
  auto copied = build_kernel(source, copying, options());
  ASSERT_TRUE(copied.is_ok());
  EXPECT_TRUE(copied->ok);
  EXPECT_NE(copied->key, built->key) << "the command line is part of the key";
  EXPECT_EQ(read_text(copied->library_path), "int x;\n");

  auto cuda_source = write_text(dir_ / "k.cu", "int x;\n");
  auto mismatch = build_kernel(cuda_source, copying, options());
  ASSERT_FALSE(mismatch.is_ok());
  EXPECT_TRUE(contains(mismatch.status().message(), "k.cu"));
}

TEST(CudaArch, ComputeCapabilityToNvccArch) {
  EXPECT_EQ(*cuda_arch_for_compute_capability("9.0"), "sm_90a");
  EXPECT_EQ(*cuda_arch_for_compute_capability(" 9.0\n"), "sm_90a");
  EXPECT_EQ(*cuda_arch_for_compute_capability("8.0"), "sm_80");
  EXPECT_EQ(*cuda_arch_for_compute_capability("8.9"), "sm_89");
  EXPECT_EQ(*cuda_arch_for_compute_capability("10.0"), "sm_100");
  EXPECT_EQ(*cuda_arch_for_compute_capability("12.0"), "sm_120");
  EXPECT_FALSE(cuda_arch_for_compute_capability("9").is_ok());
  EXPECT_FALSE(cuda_arch_for_compute_capability("").is_ok());
  EXPECT_FALSE(cuda_arch_for_compute_capability("[N/A]").is_ok());
  EXPECT_FALSE(cuda_arch_for_compute_capability("9.x").is_ok());
}

TEST(CudaArch, InvalidExplicitArchIsRejected) {
  ScratchDir dir;
  BuildOptions options;
  options.cache_dir = dir / "cache";
  options.nvcc = "/bin/true";  // found; the arch is checked before the compiler is asked anything
  for (const char* arch : {"90", "sm90", "sm_9", "sm_90a -G", "compute_"}) {
    options.cuda_arch = arch;
    auto backend = make_nvcc_backend(options);
    ASSERT_FALSE(backend.is_ok()) << arch;
    EXPECT_EQ(backend.status().code(), StatusCode::kInvalidInput) << arch;
    EXPECT_TRUE(contains(backend.status().message(), arch)) << backend.status().message();
  }
}

// --- nvcc: compile and link only (this machine may have no GPU) ---------------------------

constexpr const char* kVectorAddCu = R"(#include <autokernel_kernel.h>
#include <cuda_runtime.h>

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = a[i] + b[i];
}

extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void* stream) {
  if (n_in != 2 || n_out != 1) return 1;
  int64_t n = 1;
  for (int32_t d = 0; d < out[0].rank; ++d) n *= out[0].shape[d];
  const int blocks = (int)((n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096);
  if (n == 0) return 0;
  add_kernel<<<blocks, 256, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const float*>(in[0].data), static_cast<const float*>(in[1].data), static_cast<float*>(out[0].data), n);
  return cudaGetLastError() == cudaSuccess ? 0 : 2;
}
)";

constexpr const char* kMatmulCu = R"(#include <autokernel_kernel.h>
#include <cublas_v2.h>

// Y[M,N] = A[M,K] B[K,N], row-major float32, through cuBLAS (column-major: Y^T = B^T A^T).
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void* stream) {
  static cublasHandle_t handle = nullptr;
  if (n_in != 2 || n_out != 1) return 1;
  if (handle == nullptr && cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 2;
  cublasSetStream(handle, static_cast<cudaStream_t>(stream));
  const int m = (int)in[0].shape[0], k = (int)in[0].shape[1], n = (int)in[1].shape[1];
  const float alpha = 1.0f, beta = 0.0f;
  return cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, static_cast<const float*>(in[1].data), n,
                     static_cast<const float*>(in[0].data), k, &beta, static_cast<float*>(out[0].data), n)
                 == CUBLAS_STATUS_SUCCESS ? 0 : 3;
}
)";

class NvccBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BuildOptions probe;
    probe.cuda_arch = "sm_90a";
    auto backend = make_nvcc_backend(probe);
    if (!backend.is_ok()) GTEST_SKIP() << "no nvcc: " << backend.status().message();
    cuda_bin_ = fs::canonical(backend->get()->command("k.cu", "k.so").front()).parent_path();
  }
  BuildOptions options() const {
    BuildOptions options;
    options.cache_dir = dir_ / "cache";
    options.cuda_arch = "sm_90a";
    return options;
  }
  /// `program args...` from the toolkit's bin (else PATH); nullopt when it cannot run.
  std::optional<std::string> tool_output(const std::string& program, std::vector<std::string> args) {
    const fs::path in_toolkit = cuda_bin_ / program;
    args.insert(args.begin(), fs::exists(in_toolkit) ? in_toolkit.string() : program);
    auto run = run_process(args);
    if (!run.is_ok() || !run->ok()) return std::nullopt;
    return run->stdout_text;
  }

  ScratchDir dir_;
  fs::path cuda_bin_;
};

TEST_F(NvccBuildTest, VectorAddCompilesAndLinksForSm90a) {
  auto source = write_text(dir_ / "vector_add.cu", kVectorAddCu);
  auto built = build_kernel(source, options());
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  ASSERT_TRUE(built->ok) << built->command << "\n" << built->log;
  EXPECT_EQ(built->language, Language::kCuda);
  EXPECT_EQ(built->arch, "sm_90a");
  EXPECT_TRUE(contains(built->compiler_version, "release")) << built->compiler_version;
  for (const char* flag : {"-O3", "-std=c++17", "-shared", "-fPIC", "-arch=sm_90a", "-lcublas", "vector_add.cu"})
    EXPECT_TRUE(contains(built->command, flag)) << flag << " missing from: " << built->command;
  EXPECT_TRUE(fs::is_regular_file(built->library_path));

  // The entry point is exported under its C name.
  if (auto symbols = tool_output("nm", {"-D", "--defined-only", built->library_path.string()})) {
    EXPECT_TRUE(contains(*symbols, " T autokernel_kernel")) << *symbols;
  }
  // The device code is SASS for sm_90a.
  if (auto elves = tool_output("cuobjdump", {"--list-elf", built->library_path.string()})) {
    EXPECT_TRUE(contains(*elves, "sm_90a")) << *elves;
  }
  // --as-needed: a kernel that never calls cuBLAS does not load it.
  if (auto dynamic = tool_output("readelf", {"-d", built->library_path.string()})) {
    EXPECT_FALSE(contains(*dynamic, "libcublas")) << *dynamic;
  }

  auto again = build_kernel(source, options());
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->cached);
  BuildOptions other_arch = options();
  other_arch.cuda_arch = "sm_80";
  auto sm80 = build_kernel(source, other_arch);
  ASSERT_TRUE(sm80.is_ok()) << sm80.status().message();
  EXPECT_TRUE(sm80->ok) << sm80->log;
  EXPECT_NE(sm80->key, built->key);
}

TEST_F(NvccBuildTest, CublasMatmulLinksAgainstCublas) {
  auto built = build_kernel(write_text(dir_ / "matmul.cu", kMatmulCu), options());
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  ASSERT_TRUE(built->ok) << built->command << "\n" << built->log;
  if (auto dynamic = tool_output("readelf", {"-d", built->library_path.string()})) {
    EXPECT_TRUE(contains(*dynamic, "libcublas")) << built->command << "\n" << *dynamic;
  }
  // The library finds cuBLAS by itself (rpath or the default search path), with no LD_LIBRARY_PATH.
  auto ldd = run_process({"env", "-u", "LD_LIBRARY_PATH", "ldd", built->library_path.string()});
  ASSERT_TRUE(ldd.is_ok()) << ldd.status().message();
  const std::string& deps = ldd->stdout_text;
  const size_t line = deps.find("libcublas.so");
  ASSERT_NE(line, std::string::npos) << built->command << "\n" << deps;
  EXPECT_FALSE(contains(deps.substr(line, deps.find('\n', line) - line), "not found"))
      << built->command << "\n" << deps;
}

TEST_F(NvccBuildTest, CudaCompileErrorIsAFailedBuildWithTheLog) {
  auto source = write_text(dir_ / "broken.cu",
                           "#include <autokernel_kernel.h>\n"
                           "__global__ void k(float* y) { y[threadIdx.x] = not_declared; }\n");
  auto built = build_kernel(source, options());
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_FALSE(built->ok);
  EXPECT_TRUE(contains(built->log, "broken.cu")) << built->log;
  EXPECT_TRUE(contains(built->log, "not_declared")) << built->log;
  auto again = build_kernel(source, options());
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->cached);
}

TEST_F(NvccBuildTest, NoArchAndNoGpuIsAClearError) {
  if (detect_cuda_arch().is_ok()) GTEST_SKIP() << "a GPU is present: the architecture is detected";
  BuildOptions opts = options();
  opts.cuda_arch.clear();
  auto built = build_kernel(write_text(dir_ / "vector_add.cu", kVectorAddCu), opts);
  ASSERT_FALSE(built.is_ok());
  EXPECT_TRUE(contains(built.status().message(), "GPU architecture")) << built.status().message();
  EXPECT_TRUE(contains(built.status().message(), "sm_90a")) << built.status().message();
}

}  // namespace
}  // namespace ak::kernels
