// check_starter: build a task's generated starter, run it on the captured inputs, compare.
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "extractor/extractor.h"
#include "kernels/build.h"
#include "kernels/kernel_library.h"
#include "kernels/tensor.h"
#include "models/aten_interop.h"
#include "models/onnx_io.h"
#include "verifier/compare.h"

namespace ak::extractor {

namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

/// The parts of task.json a check needs.
struct TaskFiles {
  std::string starter_file, template_name, device, arch;
  std::vector<models::TensorData> inputs, outputs;  ///< kernel argument order
  verifier::Tolerance tolerance;
};

Result<std::vector<models::TensorData>> load_tensors(const fs::path& dir, const ordered_json& entries,
                                                    const std::string& where) {
  std::vector<models::TensorData> out;
  if (!entries.is_object()) return invalid_input(where + " is not an object");
  for (const auto& [name, entry] : entries.items()) {
    if (!entry.is_object() || !entry.contains("file") || !entry["file"].is_string())
      return invalid_input(where + ": '" + name + "' has no \"file\"");
    AK_ASSIGN_OR_RETURN(models::TensorData t, models::load_tensor_file(dir / entry["file"].get<std::string>()));
    t.name = name;
    out.push_back(std::move(t));
  }
  return out;
}

Result<TaskFiles> read_task(const fs::path& dir) {
  const fs::path file = dir / "task.json";
  std::ifstream in(file);
  if (!in) return invalid_input("cannot read " + file.string());
  ordered_json j = ordered_json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_input(file.string() + ": not a JSON object");
  TaskFiles t;
  try {
    t.starter_file = j.at("starter").at("file").get<std::string>();
    t.template_name = j.at("starter").at("template").get<std::string>();
    t.device = j.at("target").at("device").get<std::string>();
    t.arch = j.at("target").at("arch").get<std::string>();
    t.tolerance.atol = j.at("tolerance").at("atol").get<double>();
    t.tolerance.rtol = j.at("tolerance").at("rtol").get<double>();
    t.tolerance.min_matched_ratio = j.at("tolerance").at("matched_ratio").get<double>();
  } catch (const std::exception& e) {
    return invalid_input(file.string() + ": " + e.what());
  }
  AK_ASSIGN_OR_RETURN(t.inputs, load_tensors(dir, j["inputs"], file.string() + " inputs"));
  AK_ASSIGN_OR_RETURN(t.outputs, load_tensors(dir, j["outputs"], file.string() + " outputs"));
  return t;
}

/// Tensors the kernel reads and writes, on the host or on the GPU; descriptors point into them.
struct Arguments {
  std::vector<at::Tensor> inputs, outputs;
  std::vector<ak_tensor> in_desc, out_desc;
};

Result<ak_tensor> describe(const at::Tensor& t, models::DType dtype) {
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  std::vector<int64_t> strides(t.strides().begin(), t.strides().end());
  return kernels::make_tensor(t.data_ptr(), static_cast<int32_t>(dtype), shape, strides);
}

Result<Arguments> make_arguments(const TaskFiles& task, const at::Device& device) {
  Arguments a;
  for (const auto& t : task.inputs) {
    AK_ASSIGN_OR_RETURN(at::Tensor x, models::to_tensor(t, device));
    AK_ASSIGN_OR_RETURN(ak_tensor d, describe(x, t.dtype));
    a.inputs.push_back(std::move(x));
    a.in_desc.push_back(d);
  }
  for (const auto& t : task.outputs) {
    AK_ASSIGN_OR_RETURN(at::ScalarType type, models::to_scalar_type(t.dtype));
    // All bits set is a NaN in every float format: an output the kernel never writes shows.
    at::Tensor y = at::empty(t.dims, at::TensorOptions().dtype(type));
    if (y.numel() > 0) std::memset(y.data_ptr(), 0xff, y.nbytes());
    y = y.to(device);
    AK_ASSIGN_OR_RETURN(ak_tensor d, describe(y, t.dtype));
    a.outputs.push_back(std::move(y));
    a.out_desc.push_back(d);
  }
  return a;
}

}  // namespace

Result<StarterCheck> check_starter(const fs::path& task_dir, const fs::path& build_cache_dir) {
  AK_ASSIGN_OR_RETURN(TaskFiles task, read_task(task_dir));
  StarterCheck check;
  check.template_name = task.template_name;
  kernels::BuildOptions options;
  options.cache_dir = build_cache_dir;
  if (task.device == "cuda") options.cuda_arch = task.arch;
  AK_ASSIGN_OR_RETURN(kernels::BuildResult built, kernels::build_kernel(task_dir / task.starter_file, options));
  if (!built.ok) {
    const std::string log = built.log.substr(0, built.log.find('\n'));
    check.detail = "compile error: " + log;
    return check;
  }
  AK_ASSIGN_OR_RETURN(kernels::KernelLibrary library, kernels::KernelLibrary::load(built.library_path));
  check.built = true;

  try {
    const at::Device device = task.device == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU);
    AK_ASSIGN_OR_RETURN(Arguments args, make_arguments(task, device));
    // The legacy default stream (nullptr) is the stream ATen's copies use here, so the
    // copies below wait for the kernel.
    check.return_code = library.call(args.in_desc, args.out_desc, nullptr);
    if (check.return_code != 0) {
      check.detail = "returned " + std::to_string(check.return_code);
      return check;
    }
    int matched = 0;
    for (size_t i = 0; i < task.outputs.size(); ++i) {
      models::TensorData actual = models::to_tensor_data(args.outputs[i], task.outputs[i].name, task.outputs[i].dtype);
      verifier::Comparison c = verifier::compare_outputs(task.outputs[i], actual, task.tolerance);
      if (!c.passed()) {
        check.detail = "output '" + task.outputs[i].name + "': " + c.summary;
        return check;
      }
      ++matched;
    }
    check.passed = true;
    check.detail = std::to_string(matched) + (matched == 1 ? " output matches" : " outputs match") + " at " +
                   task.tolerance.describe();
  } catch (const std::exception& e) {
    return internal_error("checking the starter of " + task_dir.string() + ": " + e.what());
  }
  return check;
}

}  // namespace ak::extractor
