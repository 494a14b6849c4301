#include "profiler/roofline.h"

#include <gtest/gtest.h>

#include "profiler/device_peaks.h"

namespace ak::profiler {
namespace {

using models::DType;

// Round numbers: 1000 GB/s = 1 byte/ns, 10 TFLOP/s fp32 = 10 flops/ns, 100 TFLOP/s fp16.
DevicePeaks test_device() {
  DevicePeaks p;
  p.name = "test";
  p.bandwidth_gbps = 1000;
  p.fp32_tflops = 10;
  p.tf32_tflops = 50;
  p.fp16_tflops = 100;
  p.bf16_tflops = 100;
  p.launch_overhead_ns = 4000;
  return p;
}

TEST(Roofline, MemoryBound) {
  const NodeCost cost{10e6, 40e6, "elementwise"};
  const RooflinePoint p = roofline(cost, 80000, test_device());
  EXPECT_DOUBLE_EQ(p.memory_ns, 40000);
  EXPECT_DOUBLE_EQ(p.compute_ns, 1000);
  EXPECT_DOUBLE_EQ(p.attainable_ns, 40000);
  EXPECT_EQ(p.bound, Bound::kMemory);
  EXPECT_DOUBLE_EQ(p.attainable_speedup, 2);
  EXPECT_DOUBLE_EQ(p.achieved_fraction, 0.5);
  EXPECT_DOUBLE_EQ(p.arithmetic_intensity, 0.25);
}

TEST(Roofline, ComputeBoundUsesTensorPeakForDtype) {
  const NodeCost cost{2e9, 1e6, "matmul"};
  RooflineOptions fp16;
  fp16.compute_dtype = DType::kFloat16;
  const RooflinePoint p = roofline(cost, 25000, test_device(), fp16);
  EXPECT_DOUBLE_EQ(p.compute_ns, 20000);
  EXPECT_EQ(p.bound, Bound::kCompute);
  EXPECT_DOUBLE_EQ(p.attainable_speedup, 1.25);

  const RooflinePoint p32 = roofline(cost, 250000, test_device());
  EXPECT_DOUBLE_EQ(p32.compute_ns, 200000);
  RooflineOptions tf32;
  tf32.allow_tf32 = true;
  EXPECT_DOUBLE_EQ(roofline(cost, 250000, test_device(), tf32).compute_ns, 40000);

  // Elementwise work in fp16 does not get the tensor-core rate.
  const NodeCost ew{2e9, 1e6, "elementwise"};
  EXPECT_DOUBLE_EQ(roofline(ew, 250000, test_device(), fp16).compute_ns, 200000);
}

TEST(Roofline, LatencyBoundNearTheLaunchFloor) {
  const NodeCost tiny{1000, 4000, "elementwise"};
  const RooflinePoint p = roofline(tiny, 6000, test_device());
  EXPECT_EQ(p.bound, Bound::kLatency);
  EXPECT_DOUBLE_EQ(p.attainable_ns, 4000);
  EXPECT_DOUBLE_EQ(p.attainable_speedup, 1.5);

  // Far above the floor, the work's own resource names the bound.
  const RooflinePoint slow = roofline(tiny, 20000, test_device());
  EXPECT_EQ(slow.bound, Bound::kMemory);
  EXPECT_DOUBLE_EQ(slow.attainable_speedup, 5);

  // Three launches raise the floor to 12 us.
  RooflineOptions three;
  three.kernel_count = 3;
  const RooflinePoint p3 = roofline(tiny, 20000, test_device(), three);
  EXPECT_DOUBLE_EQ(p3.launch_ns, 12000);
  EXPECT_EQ(p3.bound, Bound::kLatency);
}

TEST(Roofline, FasterThanTheRooflineMeansNoSpeedup) {
  const NodeCost cost{0, 40e6, "elementwise"};
  const RooflinePoint p = roofline(cost, 30000, test_device());
  EXPECT_DOUBLE_EQ(p.attainable_speedup, 1);
  EXPECT_GT(p.achieved_fraction, 1);
  EXPECT_STREQ(bound_name(p.bound), "memory");
}

TEST(DevicePeaks, LookupByCudaName) {
  auto h100 = find_device_peaks("NVIDIA H100 80GB HBM3");
  ASSERT_TRUE(h100.has_value());
  EXPECT_EQ(h100->name, "NVIDIA H100 SXM");
  EXPECT_DOUBLE_EQ(h100->bandwidth_gbps, 3350);
  EXPECT_DOUBLE_EQ(h100->fp16_tflops, 989.4);
  EXPECT_EQ(find_device_peaks("NVIDIA H100 PCIe")->name, "NVIDIA H100 PCIe");
  EXPECT_DOUBLE_EQ(find_device_peaks("NVIDIA H200")->bandwidth_gbps, 4800);
  EXPECT_DOUBLE_EQ(find_device_peaks("NVIDIA A100-SXM4-40GB")->bandwidth_gbps, 1555);
  EXPECT_DOUBLE_EQ(find_device_peaks("NVIDIA A100-SXM4-80GB")->bandwidth_gbps, 2039);
  EXPECT_EQ(find_device_peaks("nvidia l4")->name, "NVIDIA L4");
  EXPECT_EQ(find_device_peaks("NVIDIA B200")->name, "NVIDIA B200");
  EXPECT_FALSE(find_device_peaks("NVIDIA L40S").has_value());
  EXPECT_FALSE(find_device_peaks("NVIDIA GH200 480GB").has_value());
  EXPECT_FALSE(find_device_peaks("Tesla T4").has_value());
  for (const auto& d : known_devices()) {
    EXPECT_GT(d.bandwidth_gbps, 0) << d.name;
    EXPECT_GE(d.fp16_tflops, d.tf32_tflops) << d.name;
    EXPECT_GE(d.launch_overhead_ns, 3000) << d.name;
    EXPECT_LE(d.launch_overhead_ns, 5000) << d.name;
    EXPECT_FALSE(d.source.empty()) << d.name;
  }
}

TEST(DevicePeaks, CpuEntryAndPeakSelection) {
  const DevicePeaks cpu = cpu_peaks("8-core AVX2", 8, 3.0, 32, 50);
  EXPECT_EQ(cpu.kind, DeviceKind::kCpu);
  EXPECT_DOUBLE_EQ(cpu.fp32_tflops, 0.768);
  EXPECT_DOUBLE_EQ(peak_tflops(cpu, "matmul", DType::kFloat16), 0.768);
  const DevicePeaks d = test_device();
  EXPECT_DOUBLE_EQ(peak_tflops(d, "matmul", DType::kBFloat16), 100);
  EXPECT_DOUBLE_EQ(peak_tflops(d, "conv", DType::kFloat32, true), 50);
  EXPECT_DOUBLE_EQ(peak_tflops(d, "reduction", DType::kFloat16), 10);
}

}  // namespace
}  // namespace ak::profiler
