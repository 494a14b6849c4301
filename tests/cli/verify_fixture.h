#pragma once
// `autokernel verify` tests on one device (verify_cli_test.cpp on the CPU, verify_gpu_test.cpp
// on CUDA): tasks extracted from the exporter fixtures once per suite, packs of their
// starters (or of edited starters), and verify's command line.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/file.h"
#include "kernels/pack.h"
#include "kernels/task.h"
#include "tests/cli/run_cli.h"

namespace ak::testing {

namespace fs = std::filesystem;

inline const std::string kExporterFixtures = std::string(AK_SOURCE_DIR) + "/tests/models/fixtures/exporters/torchscript/";
inline const std::string kGpt2 = kExporterFixtures + "gpt2/model.onnx";
inline const std::string kBert = kExporterFixtures + "bert/model.onnx";

/// A suite whose tasks are extracted on the CPU (kCuda false) or on CUDA. The derived
/// suite's SetUpTestSuite calls extract_all with its models.
template <bool kCuda>
class VerifyFixture : public ::testing::Test {
 protected:
  static constexpr const char* kDevice = kCuda ? "cuda" : "cpu";
  static constexpr const char* kStarter = kCuda ? "starter.cu" : "starter.cpp";

  /// Extracts each (model, name) pair's top 16 hotspots into dir()/name.
  static void extract_all(const std::vector<std::pair<std::string, std::string>>& models) {
    dir_ = new models::testing::TempDir();
    for (const auto& [model, name] : models) {
      const auto o = run_cli("extract " + model + " -o " + (dir_->path / name).string() + " --top 16 --device " + kDevice);
      ASSERT_EQ(o.exit_code, 0) << o.err;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static const fs::path& dir() { return dir_->path; }

  /// The best-ranked extracted task of `model` whose folder name contains `what` ("gelu").
  /// Ranks follow measured times, so which task is where varies from run to run.
  static fs::path task(const std::string& model, const std::string& what) {
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir_->path / model))
      if (e.path().filename().string().find(what) != std::string::npos) found.push_back(e.path());
    if (!found.empty()) return *std::min_element(found.begin(), found.end());
    std::string listing;
    for (const auto& e : fs::directory_iterator(dir_->path)) listing += e.path().string() + " ";
    ADD_FAILURE() << "no " << what << " task for " << model << " in " << listing;
    return {};
  }

  /// A pack at `name` with one entry per (task, source); the sources are the task's
  /// starter unless given. Made with the pack library, not judged (pack add has its test),
  /// so each var axis is verified for its captured size only.
  static fs::path make_pack(const std::string& name, const std::vector<std::pair<fs::path, std::string>>& entries) {
    kernels::Pack pack;
    pack.dir = dir_->path / name;
    for (const auto& [task_dir, source_text] : entries) {
      auto t = kernels::read_task(task_dir);
      EXPECT_TRUE(t.is_ok()) << t.status().message();
      fs::path source = task_dir / kStarter;
      if (!source_text.empty()) {
        source = dir_->path / (name + "_" + task_dir.filename().string() + fs::path(kStarter).extension().string());
        std::ofstream(source) << source_text;
      }
      auto added = kernels::add_pack_entry(&pack, *t, source, {});
      EXPECT_TRUE(added.is_ok()) << added.status().message();
    }
    EXPECT_TRUE(kernels::write_pack(pack.dir, pack).is_ok());
    return pack.dir;
  }

  /// The starter of `task_dir` with `epilogue` run after it inside autokernel_kernel;
  /// `prologue` (CUDA kernels the epilogue launches, say) goes between the two.
  static std::string starter_then(const fs::path& task_dir, const std::string& epilogue, const std::string& prologue = "") {
    std::string text = *read_file(task_dir / kStarter);
    const std::string name = "extern \"C\" int autokernel_kernel(";
    const auto at = text.find(name);
    EXPECT_NE(at, std::string::npos);
    text.replace(at, name.size(), "static int starter_kernel(");
    return text + "\n" + prologue +
           "\nextern \"C\" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, "
           "void* stream) {\n  const int status = starter_kernel(in, n_in, out, n_out, stream);\n" +
           epilogue + "\n  return status;\n}\n";
  }

  static std::string verify(const std::string& model, const fs::path& pack, const std::string& extra = "") {
    return "verify " + model + " --kernels " + pack.string() + " --device " + kDevice +
           " --random 1 --iters 3 --warmup 1 --no-memory " + extra;
  }

 private:
  inline static models::testing::TempDir* dir_ = nullptr;
};

}  // namespace ak::testing
