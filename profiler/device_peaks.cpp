#include "profiler/device_peaks.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace ak::profiler {

namespace {

struct Entry {
  std::vector<std::string> tokens;  ///< all must appear in the lower-cased device name
  DevicePeaks peaks;
};

DevicePeaks gpu(const char* name, double bandwidth_gbps, double fp32, double tf32, double fp16, double bf16,
                const char* source) {
  DevicePeaks p;
  p.name = name;
  p.kind = DeviceKind::kGpu;
  p.bandwidth_gbps = bandwidth_gbps;
  p.fp32_tflops = fp32;
  p.tf32_tflops = tf32;
  p.fp16_tflops = fp16;
  p.bf16_tflops = bf16;
  // A CUDA kernel launch costs ~3-5 us from the host on these parts; 4 us is the middle.
  p.launch_overhead_ns = 4000;
  p.source = source;
  return p;
}

// Order matters: more specific names first (the "H100 PCIe" before any "H100").
const std::vector<Entry>& entries() {
  static const std::vector<Entry> kEntries = {
      {{"h100", "pcie"},
       gpu("NVIDIA H100 PCIe", 2000, 51.2, 378, 756, 756,
           "NVIDIA H100 Tensor Core GPU datasheet (PCIe 80GB; sparse tensor figures halved)")},
      {{"h100", "nvl"},
       gpu("NVIDIA H100 NVL", 3900, 60, 417.5, 835.5, 835.5,
           "NVIDIA H100 Tensor Core GPU datasheet (H100 NVL; sparse tensor figures halved)")},
      {{"h100"},
       gpu("NVIDIA H100 SXM", 3350, 66.9, 494.7, 989.4, 989.4,
           "NVIDIA H100 Tensor Core GPU datasheet (SXM5 80GB; sparse tensor figures halved)")},
      {{"h200"},
       gpu("NVIDIA H200", 4800, 66.9, 494.7, 989.4, 989.4,
           "NVIDIA H200 Tensor Core GPU datasheet (SXM 141GB; sparse tensor figures halved)")},
      {{"a100", "80gb", "pcie"},
       gpu("NVIDIA A100 80GB PCIe", 1935, 19.5, 156, 312, 312,
           "NVIDIA A100 Tensor Core GPU datasheet (80GB PCIe; dense figures)")},
      {{"a100", "80gb"},
       gpu("NVIDIA A100 80GB", 2039, 19.5, 156, 312, 312,
           "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM; dense figures)")},
      {{"a100"},
       gpu("NVIDIA A100 40GB", 1555, 19.5, 156, 312, 312,
           "NVIDIA A100 Tensor Core GPU datasheet (40GB; dense figures)")},
      {{"l4"},
       gpu("NVIDIA L4", 300, 30.3, 60, 121, 121,
           "NVIDIA L4 Tensor Core GPU datasheet (sparse tensor figures halved)")},
      {{"b200"},
       gpu("NVIDIA B200", 8000, 75, 1100, 2250, 2250,
           "NVIDIA HGX B200 datasheet, per GPU (sparse tensor figures halved)")},
  };
  return kEntries;
}

/// Whether `token` occurs in `name` as a whole word (so "l4" does not match "l40s").
bool has_word(const std::string& name, const std::string& token) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  for (size_t pos = name.find(token); pos != std::string::npos; pos = name.find(token, pos + 1)) {
    const size_t end = pos + token.size();
    if ((pos == 0 || !alnum(name[pos - 1])) && (end == name.size() || !alnum(name[end]))) return true;
  }
  return false;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

const std::vector<DevicePeaks>& known_devices() {
  static const std::vector<DevicePeaks> kDevices = [] {
    std::vector<DevicePeaks> v;
    for (const auto& e : entries()) v.push_back(e.peaks);
    return v;
  }();
  return kDevices;
}

std::optional<DevicePeaks> find_device_peaks(const std::string& device_name) {
  const std::string name = lower(device_name);
  for (const auto& e : entries()) {
    bool all = true;
    for (const auto& t : e.tokens) all = all && has_word(name, t);
    if (all) return e.peaks;
  }
  return std::nullopt;
}

DevicePeaks cpu_peaks(const std::string& name, int cores, double ghz, double fp32_flops_per_cycle,
                      double bandwidth_gbps) {
  DevicePeaks p;
  p.name = name;
  p.kind = DeviceKind::kCpu;
  p.bandwidth_gbps = bandwidth_gbps;
  p.fp32_tflops = static_cast<double>(cores) * ghz * fp32_flops_per_cycle / 1000.0;
  p.tf32_tflops = p.fp16_tflops = p.bf16_tflops = p.fp32_tflops;
  p.launch_overhead_ns = 1000;
  p.source = "user-supplied CPU description";
  return p;
}

double peak_tflops(const DevicePeaks& peaks, const char* op_class, models::DType dtype, bool allow_tf32) {
  const bool tensor_op = op_class != nullptr && (std::strcmp(op_class, "matmul") == 0 ||
                                                 std::strcmp(op_class, "conv") == 0 ||
                                                 std::strcmp(op_class, "attention") == 0);
  double rate = 0;
  if (tensor_op) {
    if (dtype == models::DType::kFloat16) rate = peaks.fp16_tflops;
    else if (dtype == models::DType::kBFloat16) rate = peaks.bf16_tflops;
    else if (dtype == models::DType::kFloat32 && allow_tf32) rate = peaks.tf32_tflops;
  }
  return rate > 0 ? rate : peaks.fp32_tflops;
}

}  // namespace ak::profiler
