// The judge's roofline floor: from measured peaks (measured on first use, then cached),
// the task's own TF32 setting, and the safety margin.
#include "profiler/roofline_floor.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/remove_tree.h"
#include "kernels/autokernel_kernel.h"
#include "kernels/task.h"
#include "models/session.h"
#include "profiler/device_probe.h"

namespace ak::profiler {
namespace {

/// A GPU's peaks (a CPU's bytes do not count, see below).
DevicePeaks peaks() {
  DevicePeaks p;
  p.name = "test";
  p.kind = DeviceKind::kGpu;
  p.bandwidth_gbps = 100;  // 100 bytes per ns
  p.fp32_tflops = 10;      // 1e4 flops per ns
  p.tf32_tflops = 100;
  p.fp16_tflops = 200;
  p.launch_overhead_ns = 5000;  // never part of the floor
  return p;
}

TEST(RooflineFloor, MarginTimesTheLargerOfComputeAndMemory) {
  // Memory-bound elementwise: 1e6 bytes at 100 B/ns = 1e4 ns; 1e6 flops at 1e4/ns = 100 ns.
  EXPECT_DOUBLE_EQ(roofline_floor_ns(1e6, 1e6, "elementwise", models::DType::kFloat32, false, peaks()),
                   kRooflineFloorMargin * 1e4);
  // Compute-bound fp32 matmul: 1e9 flops at 10 TFLOP/s = 1e5 ns, at TF32's 100 = 1e4 ns.
  EXPECT_DOUBLE_EQ(roofline_floor_ns(1e9, 1e4, "matmul", models::DType::kFloat32, false, peaks()),
                   kRooflineFloorMargin * 1e5);
  EXPECT_DOUBLE_EQ(roofline_floor_ns(1e9, 1e4, "matmul", models::DType::kFloat32, true, peaks()),
                   kRooflineFloorMargin * 1e4);
  // TF32 only speeds up tensor-core classes; fp16 matmul uses the fp16 rate.
  EXPECT_DOUBLE_EQ(roofline_floor_ns(1e9, 0, "elementwise", models::DType::kFloat32, true, peaks()),
                   kRooflineFloorMargin * 1e5);
  EXPECT_DOUBLE_EQ(roofline_floor_ns(1e9, 0, "matmul", models::DType::kFloat16, false, peaks()),
                   kRooflineFloorMargin * 5e3);
  EXPECT_EQ(roofline_floor_ns(0, 0, "other", models::DType::kFloat32, false, peaks()), 0);
  EXPECT_EQ(roofline_floor_ns(1e6, 1e6, "other", models::DType::kFloat32, false, DevicePeaks{}), 0);
  EXPECT_GT(kRooflineFloorMargin, 0);
  EXPECT_LT(kRooflineFloorMargin, 1);
}

// The case that flagged an honest kernel: Add+ReLU, x and b [64, 4096] float32, 3.1 MB, at
// 138.5 us on the 2-core CI VM. On a CPU its bytes do not count (they come from cache), so
// even the lowest bandwidth the VM measured leaves it far above the floor.
TEST(RooflineFloor, AnHonestCpuKernelOnCachedDataIsAboveTheFloor) {
  DevicePeaks cpu = cpu_peaks("cpu", 2, 2.6, 64, 6.4);
  cpu.fp32_tflops = 0.0616;  // measured, busy
  const double bytes = 4.0 * 3 * 64 * 4096, flops = 2.0 * 64 * 4096;
  const double floor_ns = roofline_floor_ns(flops, bytes, "elementwise", models::DType::kFloat32, false, cpu);
  EXPECT_LT(floor_ns, 138.5e3 / 10);
  EXPECT_DOUBLE_EQ(floor_ns, kRooflineFloorMargin * flops / (0.0616 * 1e3));
  // The same bytes on a GPU do count: there the judge's flush evicts the L2.
  DevicePeaks gpu = cpu;
  gpu.kind = DeviceKind::kGpu;
  EXPECT_DOUBLE_EQ(roofline_floor_ns(flops, bytes, "elementwise", models::DType::kFloat32, false, gpu),
                   kRooflineFloorMargin * bytes / 6.4);
}

/// $AUTOKERNEL_CACHE pointed at a fresh folder for one test (the peaks cache lives there).
class CacheDir {
 public:
  CacheDir() : path_(std::filesystem::temp_directory_path() / ("ak-floor-test-" + std::to_string(::getpid()))) {
    ak::remove_tree(path_);
    std::filesystem::create_directories(path_);
    setenv("AUTOKERNEL_CACHE", path_.c_str(), 1);
  }
  ~CacheDir() {
    unsetenv("AUTOKERNEL_CACHE");
    ak::remove_tree(path_);
  }

 private:
  std::filesystem::path path_;
};

kernels::Task matmul_task(bool tf32) {
  kernels::Task t;
  t.name = "mm";
  t.op_type = "MatMul";
  t.op_class = "matmul";
  t.flops = 2e9;
  t.bytes = 1e5;
  t.inputs = {{"a", AK_DTYPE_FLOAT, {}, {}, "", "normal", std::nullopt}};
  t.target = {"cpu", "cpu", tf32};
  return t;
}

TEST(RooflineFloor, TaskFloorUsesTheCachedMeasurementAndTheTasksTf32) {
  CacheDir cache;
  DevicePeaks p = peaks();
  p.kind = DeviceKind::kCpu;
  p.name = models::device_name(models::Device{});
  p.source = "measured (test)";
  ASSERT_TRUE(save_cached_peaks(p).is_ok());
  std::string note;
  auto off = task_roofline_floor_ns(matmul_task(false), &note);
  ASSERT_TRUE(off.is_ok()) << off.status().message();
  EXPECT_DOUBLE_EQ(*off, kRooflineFloorMargin * 2e9 / 1e4);
  EXPECT_NE(note.find("measured peaks from"), std::string::npos) << note;
  auto on = task_roofline_floor_ns(matmul_task(true), &note);
  ASSERT_TRUE(on.is_ok());
  EXPECT_DOUBLE_EQ(*on, kRooflineFloorMargin * 2e9 / 1e5);
  kernels::Task bad = matmul_task(false);
  bad.target.device = "tpu";
  EXPECT_FALSE(task_roofline_floor_ns(bad, &note).is_ok());
}

// Nothing cached: the CPU is measured now (not estimated), and the measurement is cached.
TEST(RooflineFloor, MeasuresTheCpuOnFirstUseAndCachesIt) {
  CacheDir cache;
  const std::string name = models::device_name(models::Device{});
  std::string note;
  auto floor = task_roofline_floor_ns(matmul_task(false), &note);
  ASSERT_TRUE(floor.is_ok()) << floor.status().message();
  EXPECT_GT(*floor, 0);
  auto cached = load_cached_peaks(name);
  ASSERT_TRUE(cached.is_ok());
  ASSERT_TRUE(cached->has_value()) << note;
  EXPECT_NE((*cached)->source.find("measured"), std::string::npos) << (*cached)->source;
  EXPECT_GT((*cached)->bandwidth_gbps, 0);
  EXPECT_DOUBLE_EQ(*floor, roofline_floor_ns(2e9, 1e5, "matmul", models::DType::kFloat32, false, **cached));
}

}  // namespace
}  // namespace ak::profiler
