#include "profiler/device_peaks.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "base/strings.h"

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

DevicePeaks estimate_cpu_peaks(const std::string& name) {
  double mhz = 0;
  std::set<std::string> flags;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = line.substr(colon + 1);
    if (key == "cpu MHz") mhz = std::max(mhz, std::atof(value.c_str()));
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;) flags.insert(w);
    }
  }
  // Every hardware thread: libtorch's CPU kernels use them all by default.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const double flops_per_cycle = flags.count("avx512f") ? 64 : (flags.count("avx2") && flags.count("fma")) ? 32 : 8;
  DevicePeaks p = cpu_peaks(name, cores, mhz > 0 ? mhz / 1000.0 : 2.0, flops_per_cycle, 20);
  p.source = "estimate from /proc/cpuinfo (" + std::to_string(cores) + " cores); run `autokernel device --device cpu` to measure";
  return p;
}

namespace {
std::string slug(const std::string& name) {
  std::string out;
  for (char c : lower(name)) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out.empty() ? "device" : out;
}
}  // namespace

std::filesystem::path peaks_cache_path(const std::string& device_name) {
  std::filesystem::path root;
  if (const char* env = std::getenv("AUTOKERNEL_CACHE"); env != nullptr && *env != '\0') root = env;
  else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') root = std::filesystem::path(home) / ".cache/autokernel";
  else root = ".autokernel-cache";
  return root / "device" / (slug(device_name) + ".json");
}

std::string peaks_to_json(const DevicePeaks& p) {
  nlohmann::ordered_json j = {{"name", p.name},
                              {"kind", p.kind == DeviceKind::kGpu ? "gpu" : "cpu"},
                              {"bandwidth_gbps", p.bandwidth_gbps},
                              {"fp32_tflops", p.fp32_tflops},
                              {"tf32_tflops", p.tf32_tflops},
                              {"fp16_tflops", p.fp16_tflops},
                              {"bf16_tflops", p.bf16_tflops},
                              {"launch_overhead_ns", p.launch_overhead_ns},
                              {"source", p.source}};
  return j.dump(2);
}

Result<DevicePeaks> peaks_from_json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_input("not a JSON object");
  DevicePeaks p;
  try {
    p.name = j.at("name").get<std::string>();
    p.kind = j.at("kind").get<std::string>() == "cpu" ? DeviceKind::kCpu : DeviceKind::kGpu;
    p.bandwidth_gbps = j.at("bandwidth_gbps").get<double>();
    p.fp32_tflops = j.at("fp32_tflops").get<double>();
    p.tf32_tflops = j.at("tf32_tflops").get<double>();
    p.fp16_tflops = j.at("fp16_tflops").get<double>();
    p.bf16_tflops = j.at("bf16_tflops").get<double>();
    p.launch_overhead_ns = j.at("launch_overhead_ns").get<int64_t>();
    p.source = j.value("source", "");
  } catch (const nlohmann::json::exception& e) {
    return invalid_input(std::string("missing or mistyped field: ") + e.what());
  }
  if (!(p.bandwidth_gbps > 0) || !(p.fp32_tflops > 0)) return invalid_input("bandwidth_gbps and fp32_tflops must be positive");
  return p;
}

Result<std::optional<DevicePeaks>> load_cached_peaks(const std::string& device_name) {
  const std::filesystem::path path = peaks_cache_path(device_name);
  std::ifstream in(path);
  if (!in) return std::optional<DevicePeaks>();
  std::stringstream text;
  text << in.rdbuf();
  auto peaks = peaks_from_json(text.str());
  if (!peaks.is_ok()) return invalid_input(path.string() + ": " + peaks.status().message() + " (delete it or run `autokernel device --refresh`)");
  return std::optional<DevicePeaks>(std::move(peaks).value());
}

Status save_cached_peaks(const DevicePeaks& peaks) {
  const std::filesystem::path path = peaks_cache_path(peaks.name);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return failed("cannot create " + path.parent_path().string() + ": " + ec.message());
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    out << peaks_to_json(peaks) << "\n";
    if (!out) return failed("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return failed("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  return Status::ok();
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
