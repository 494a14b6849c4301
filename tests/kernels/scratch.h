#pragma once
// Test helpers for tests/kernels: a private scratch folder, files written into it, an
// environment variable set for one test, and small candidate kernels.

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "base/remove_tree.h"

namespace ak::kernels::testing {

/// A fresh folder under the system temp folder, removed with everything in it at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ak-kernels-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    ak::remove_tree(path_);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Writes `text` to `path` (creating its folder) and returns the path.
inline std::filesystem::path write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  EXPECT_TRUE(out.good()) << "cannot write " << path;
  return path;
}

/// Writes an executable shell script.
inline std::filesystem::path write_script(const std::filesystem::path& path, const std::string& body) {
  write_text(path, "#!/bin/sh\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Sets (or, with nullopt, unsets) an environment variable until the end of the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value->c_str(), 1);
    else ::unsetenv(name);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// A float32 vector add through the ABI: out0 = in0 + in1 (same shape, contiguous). Return
/// codes: 1 wrong tensor counts, 2 a dtype other than float32, 3 shapes differ.
inline constexpr const char* kVectorAddCpp = R"(#include <autokernel_kernel.h>

extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void* stream) {
  (void)stream;
  if (n_in != 2 || n_out != 1) return 1;
  for (int i = 0; i < 2; ++i)
    if (in[i].dtype != AK_DTYPE_FLOAT) return 2;
  if (out[0].dtype != AK_DTYPE_FLOAT) return 2;
  int64_t n = 1;
  for (int32_t d = 0; d < out[0].rank; ++d) {
    if (in[0].shape[d] != out[0].shape[d] || in[1].shape[d] != out[0].shape[d]) return 3;
    n *= out[0].shape[d];
  }
  const float* a = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
  return 0;
}
)";

}  // namespace ak::kernels::testing
