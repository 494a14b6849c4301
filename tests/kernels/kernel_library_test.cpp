// Loading candidates: the entry point, the loader's errors, and forwarding of calls.
#include "kernels/kernel_library.h"

#include <cstdint>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "kernels/build.h"
#include "scratch.h"

namespace ak::kernels {
namespace {

using testing::ScratchDir;
using testing::write_text;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class KernelLibraryTest : public ::testing::Test {
 protected:
  /// Builds `text` as `name` with g++ and returns the shared object.
  std::filesystem::path build(const std::string& name, const std::string& text) {
    BuildOptions options;
    options.cache_dir = dir_ / "cache";
    auto built = build_kernel(write_text(dir_ / name, text), options);
    EXPECT_TRUE(built.is_ok()) << built.status().message();
    if (!built.is_ok()) return {};
    EXPECT_TRUE(built->ok) << built->log;
    return built->library_path;
  }

  ScratchDir dir_;
};

// Reports what it was given: out0[0] = the stream pointer, out0[1] = n_in, out0[2] = n_out,
// out0[3] = the first input's first element; returns 7 when asked to (input value 7).
constexpr const char* kEchoKernel = R"(#include <autokernel_kernel.h>
#include <cstdint>

extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void* stream) {
  int64_t* y = static_cast<int64_t*>(out[0].data);
  const int64_t first = static_cast<const int64_t*>(in[0].data)[0];
  y[0] = static_cast<int64_t>(reinterpret_cast<intptr_t>(stream));
  y[1] = n_in;
  y[2] = n_out;
  y[3] = first;
  return first == 7 ? 7 : 0;
}
)";

TEST_F(KernelLibraryTest, CallForwardsTensorsCountsAndStream) {
  auto path = build("echo.cpp", kEchoKernel);
  ASSERT_FALSE(path.empty());
  auto library = KernelLibrary::load(path);
  ASSERT_TRUE(library.is_ok()) << library.status().message();
  EXPECT_EQ(library->path(), path);
  ASSERT_NE(library->entry(), nullptr);

  int64_t x = 42, y[4] = {0, 0, 0, 0};
  ak_tensor inputs[3] = {};
  inputs[0].data = &x;
  inputs[0].dtype = AK_DTYPE_INT64;
  ak_tensor outputs[2] = {};
  outputs[0].data = y;
  outputs[0].dtype = AK_DTYPE_INT64;
  void* stream = reinterpret_cast<void*>(intptr_t{0x1234});
  EXPECT_EQ(library->call(inputs, outputs, stream), 0);
  EXPECT_EQ(y[0], 0x1234);
  EXPECT_EQ(y[1], 3);
  EXPECT_EQ(y[2], 2);
  EXPECT_EQ(y[3], 42);

  x = 7;
  EXPECT_EQ(library->call({inputs, 1}, {outputs, 1}), 7);
  EXPECT_EQ(y[0], 0) << "the default stream argument is NULL";
  EXPECT_EQ(y[1], 1);

  // The raw entry point is the same function.
  x = 5;
  EXPECT_EQ(library->entry()(inputs, 1, outputs, 1, nullptr), 0);
  EXPECT_EQ(y[3], 5);
}

TEST_F(KernelLibraryTest, MovedLibraryStaysCallable) {
  auto path = build("echo.cpp", kEchoKernel);
  ASSERT_FALSE(path.empty());
  auto loaded = KernelLibrary::load(path);
  ASSERT_TRUE(loaded.is_ok());
  KernelLibrary library = std::move(loaded).value();
  KernelLibrary other = std::move(library);
  EXPECT_EQ(library.entry(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is part of the contract
  int64_t x = 3, y[4] = {};
  ak_tensor in{}, out{};
  in.data = &x;
  out.data = y;
  EXPECT_EQ(other.call({&in, 1}, {&out, 1}), 0);
  EXPECT_EQ(y[3], 3);
  library = std::move(other);
  EXPECT_EQ(library.call({&in, 1}, {&out, 1}), 0);
}

TEST_F(KernelLibraryTest, MissingEntryPointNamesTheProblem) {
  // Without extern "C" the name is mangled: the most common mistake in a hand-written candidate.
  auto path = build("mangled.cpp",
                    "#include <cstdint>\n"
                    "struct ak_tensor;\n"
                    "int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) { return 0; }\n");
  ASSERT_FALSE(path.empty());
  auto library = KernelLibrary::load(path);
  ASSERT_FALSE(library.is_ok());
  const std::string& message = library.status().message();
  EXPECT_TRUE(contains(message, "no symbol autokernel_kernel")) << message;
  EXPECT_TRUE(contains(message, "extern \"C\"")) << message;
  EXPECT_TRUE(contains(message, path.string())) << message;
}

TEST_F(KernelLibraryTest, LoaderErrorsNameTheFile) {
  auto missing = KernelLibrary::load(dir_ / "absent.so");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(contains(missing.status().message(), "absent.so")) << missing.status().message();

  auto garbage = write_text(dir_ / "garbage.so", "this is not an ELF file, just text long enough to be read\n");
  auto bad = KernelLibrary::load(garbage);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(contains(bad.status().message(), "cannot load kernel library")) << bad.status().message();
  EXPECT_TRUE(contains(bad.status().message(), "garbage.so")) << bad.status().message();
  // dlerror's own words come through.
  EXPECT_TRUE(contains(bad.status().message(), "ELF") || contains(bad.status().message(), "too short"))
      << bad.status().message();
}

}  // namespace
}  // namespace ak::kernels
