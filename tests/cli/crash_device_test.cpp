// autokernel's own crash report (cli/main.cpp) and `autokernel device` on the CPU: it
// measures and caches, `--refresh` measures again, a corrupt cache file is reported.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "tests/cli/run_cli.h"
#include "tests/models/model_builder.h"

namespace ak {
namespace {

namespace fs = std::filesystem;
using models::testing::TempDir;
using testing::run_cli;
using Output = testing::CliOutput;

TEST(CliCrash, ReportNamesSignalAddressAndBacktrace) {
  Output o = run_cli("device --device cpu --json", "AK_TEST_CRASH=segv");
  EXPECT_EQ(o.signal, SIGSEGV) << o.exit_code << "\n" << o.err;
  // One line with the signal, the faulting address (the hook writes to 0x10) and the
  // instruction; then the frames.
  EXPECT_EQ(o.err.rfind("autokernel: fatal signal SIGSEGV at address 0x0000000000000010, instruction 0x", 0), 0u) << o.err;
  EXPECT_NE(o.err.find(" (main); backtrace:\n"), std::string::npos) << o.err;
  const std::string frames = o.err.substr(o.err.find("backtrace:\n") + 11);
  EXPECT_GE(std::count(frames.begin(), frames.end(), '\n'), 3) << frames;
  EXPECT_NE(frames.find("(main+0x"), std::string::npos) << frames;  // exported names (ENABLE_EXPORTS)
  EXPECT_TRUE(o.out.empty()) << o.out;                              // crashed before any work
  // Without the variable (or with another value) nothing crashes.
  EXPECT_EQ(run_cli("device --device tpu", "AK_TEST_CRASH=no").exit_code, 2);
}

struct DeviceCli : ::testing::Test {
  TempDir cache;
  std::string env() const { return "AUTOKERNEL_CACHE=" + cache.path.string(); }
  Output device(const std::string& flags) { return run_cli("device --device cpu --quick --json " + flags, env()); }
};

TEST_F(DeviceCli, MeasuresCachesAndRefreshes) {
  Output first = device("");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["cached"], false);
  const fs::path file = j["cache_file"].get<std::string>();
  EXPECT_EQ(file.parent_path(), cache.path / "device");
  ASSERT_TRUE(fs::exists(file));
  const double bandwidth = j["measured"]["bandwidth_gbps"].get<double>();
  EXPECT_GT(bandwidth, 0.1);
  EXPECT_GT(j["measured"]["fp32_tflops"].get<double>(), 0.0);
  EXPECT_GT(j["measured"]["launch_overhead_ns"].get<int64_t>(), 0);
  // The cache file holds what was printed.
  auto cached_text = read_file(file);
  ASSERT_TRUE(cached_text.is_ok());
  EXPECT_EQ(nlohmann::json::parse(*cached_text)["bandwidth_gbps"].get<double>(), bandwidth);

  // Second run: from the cache, the same figures, no new measurement.
  Output second = device("");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  auto j2 = nlohmann::json::parse(second.out);
  EXPECT_EQ(j2["cached"], true);
  EXPECT_EQ(j2["measured"], j["measured"]);

  // A value planted in the cache is what `device` reports (it read the file) ...
  auto planted = nlohmann::json::parse(*cached_text);
  planted["bandwidth_gbps"] = 12345.0;
  std::ofstream(file) << planted.dump();
  EXPECT_EQ(nlohmann::json::parse(device("").out)["measured"]["bandwidth_gbps"].get<double>(), 12345.0);
  // ... until --refresh measures again and rewrites it.
  Output refreshed = device("--refresh");
  ASSERT_EQ(refreshed.exit_code, 0) << refreshed.err;
  auto j3 = nlohmann::json::parse(refreshed.out);
  EXPECT_EQ(j3["cached"], false);
  EXPECT_NE(j3["measured"]["bandwidth_gbps"].get<double>(), 12345.0);
  EXPECT_EQ(nlohmann::json::parse(*read_file(file))["bandwidth_gbps"], j3["measured"]["bandwidth_gbps"]);
}

TEST_F(DeviceCli, CorruptCacheIsNamedAndRefreshRepairsIt) {
  Output first = device("");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const fs::path file = nlohmann::json::parse(first.out)["cache_file"].get<std::string>();
  std::ofstream(file) << "{\"name\": \"cpu\", \"bandwid";  // a write cut short
  Output corrupt = device("");
  testing::expect_bad_input(corrupt, file.string() + ": ");
  EXPECT_NE(corrupt.err.find("run `autokernel device --refresh`"), std::string::npos) << corrupt.err;
  std::ofstream(file) << "{\"name\": \"cpu\", \"kind\": \"cpu\", \"bandwidth_gbps\": -1, \"fp32_tflops\": 1, "
                         "\"tf32_tflops\": 1, \"fp16_tflops\": 1, \"bf16_tflops\": 1, \"launch_overhead_ns\": 1}";
  testing::expect_bad_input(device(""), "must be positive");
  Output refreshed = device("--refresh");
  ASSERT_EQ(refreshed.exit_code, 0) << refreshed.err;
  EXPECT_EQ(device("").exit_code, 0);  // the rewritten file reads back
}

}  // namespace
}  // namespace ak
