// libFuzzer target for the ONNX loader: arbitrary bytes as a ModelProto must give a
// model or a clear Status, never a crash, hang or sanitizer report. Built and run by
// scripts/fuzz_loader.sh.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "models/onnx_io.h"

namespace {
/// A model folder with one small external-data file, so external references resolve.
const std::filesystem::path& base_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / "ak_loader_fuzz";
    std::filesystem::create_directories(d);
    std::ofstream(d / "weights.bin", std::ios::binary) << std::string(4096, '\1');
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = ak::models::parse_model(data, size, base_dir(), "fuzz");
  if (model.is_ok()) {
    // Touch what later stages read.
    size_t n = 0;
    for (const auto* input : model->graph.runtime_inputs()) n += input->shape.size();
    for (const auto& node : model->graph.nodes) n += node.inputs.size() + node.attributes.size();
    for (const auto& t : model->graph.initializers) n += static_cast<size_t>(t.numel() > 0);
    (void)n;
  }
  return 0;
}
