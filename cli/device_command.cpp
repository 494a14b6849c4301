// `autokernel device`: measure the present device's peaks and cache them for the roofline.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/progress.h"
#include "profiler/device_probe.h"

namespace ak::cli {

namespace {

struct DeviceArgs {
  std::string device;
  bool refresh = false;
  bool quick = false;
  bool json = false;
};

Status run(const DeviceArgs& args) {
  models::Device device = models::default_device();
  if (!args.device.empty()) {
    AK_ASSIGN_OR_RETURN(device, models::Device::parse(args.device));
  }
  const std::string name = models::device_name(device);
  std::optional<profiler::DevicePeaks> cached;
  if (!args.refresh) {
    AK_ASSIGN_OR_RETURN(cached, profiler::load_cached_peaks(name));
  }
  profiler::DevicePeaks measured;
  bool from_cache = false;
  if (cached) {
    measured = *cached;
    from_cache = true;
  } else {
    Progress progress(args.json);
    profiler::ProbeOptions options;
    options.quick = args.quick;
    options.progress = [&](const std::string& what) { progress.step("measuring " + what); };
    AK_ASSIGN_OR_RETURN(measured, profiler::measure_device_peaks(device, options));
    progress.clear();
    AK_RETURN_IF_ERROR(profiler::save_cached_peaks(measured));
  }
  std::optional<profiler::DevicePeaks> table =
      device.is_cuda() ? profiler::find_device_peaks(name) : std::optional<profiler::DevicePeaks>(profiler::estimate_cpu_peaks(name));
  if (args.json) {
    std::cout << "{\"device\": \"" << device.str() << "\", \"cached\": " << (from_cache ? "true" : "false")
              << ", \"cache_file\": \"" << profiler::peaks_cache_path(name).string() << "\",\n\"measured\": "
              << profiler::peaks_to_json(measured) << ",\n\"reference\": "
              << (table ? profiler::peaks_to_json(*table) : "null") << "}\n";
    return Status::ok();
  }
  std::printf("device:   %s (%s)\n", device.str().c_str(), name.c_str());
  std::printf("%s %s\n", from_cache ? "cached:  " : "measured:", profiler::peaks_cache_path(name).string().c_str());
  std::printf("\n%-22s %12s %12s %8s\n", "", "measured", table ? "reference" : "", table ? "ratio" : "");
  auto row = [&](const char* what, double m, double t) {
    if (table && t > 0) std::printf("%-22s %12.1f %12.1f %8.2f\n", what, m, t, m / t);
    else std::printf("%-22s %12.1f\n", what, m);
  };
  row("bandwidth (GB/s)", measured.bandwidth_gbps, table ? table->bandwidth_gbps : 0);
  row("fp32 (TFLOP/s)", measured.fp32_tflops, table ? table->fp32_tflops : 0);
  row("tf32 (TFLOP/s)", measured.tf32_tflops, table ? table->tf32_tflops : 0);
  row("fp16 (TFLOP/s)", measured.fp16_tflops, table ? table->fp16_tflops : 0);
  row("bf16 (TFLOP/s)", measured.bf16_tflops, table ? table->bf16_tflops : 0);
  row("launch overhead (us)", static_cast<double>(measured.launch_overhead_ns) / 1e3,
      table ? static_cast<double>(table->launch_overhead_ns) / 1e3 : 0);
  if (table) std::printf("\nreference: %s\n", table->source.c_str());
  std::printf("profile rooflines on this device now use the measured figures (--refresh to measure again)\n");
  return Status::ok();
}

}  // namespace

void add_device_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DeviceArgs>();
  CLI::App* cmd = app.add_subcommand("device", "Measure the device's bandwidth, matmul throughput and launch cost (cached)");
  cmd->add_option("--device", args->device, "cpu, cuda or cuda:N (default: cuda when a GPU is usable)");
  cmd->add_flag("--refresh", args->refresh, "Measure again even when cached");
  cmd->add_flag("--quick", args->quick, "Smaller sizes, fewer repetitions");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args, &exit_code] { exit_code = finish(run(*args)); });
}

}  // namespace ak::cli
