#include "cli/model_options.h"

#include <CLI/CLI.hpp>

#include "models/onnx_io.h"

namespace ak::cli {

void add_model_options(CLI::App& cmd, ModelOptions& o) {
  cmd.add_option("model", o.path, "ONNX model file")->required();
  cmd.add_option("--device", o.device, "cpu, cuda or cuda:N (default: cuda when a GPU is usable)");
  cmd.add_option("--input", o.inputs, "NAME=FILE.pb (TensorProto) or NAME=1x3x224x224:float32 (random data)");
  cmd.add_option("--dim", o.dims, "NAME=N: value of a symbolic input dimension (default 1)");
  cmd.add_option("--threads", o.threads, "CPU threads (default: libtorch's)")->check(CLI::NonNegativeNumber);
  cmd.add_option("--seed", o.seed, "Seed of random inputs")->capture_default_str();
  cmd.add_flag("--no-fuse", o.no_fuse, "Run the graph as loaded, without the runtime fusions (attention, GELU)");
  cmd.add_flag("--tf32", o.tf32, "Allow TF32 tensor cores for float32 matmul/conv on the GPU (faster, ~1e-3 relative error)");
}

Result<LoadedModel> load_model_with_inputs(const ModelOptions& o) {
  models::SessionOptions so;
  if (o.device.empty()) {
    so.device = models::default_device();
  } else {
    AK_ASSIGN_OR_RETURN(so.device, models::Device::parse(o.device));
  }
  so.num_threads = o.threads;
  so.allow_tf32 = o.tf32;
  so.fuse = !o.no_fuse;
  so.kernels.pack = o.kernels;
  std::vector<models::InputSpec> specs;
  for (const auto& text : o.inputs) {
    AK_ASSIGN_OR_RETURN(models::InputSpec spec, models::parse_input_spec(text));
    specs.push_back(std::move(spec));
  }
  for (const auto& text : o.dims) {
    AK_ASSIGN_OR_RETURN(auto dim, models::parse_dim_spec(text));
    so.dims[dim.first] = dim.second;
  }
  LoadedModel loaded;
  AK_ASSIGN_OR_RETURN(models::Model model, models::load_model(o.path));
  loaded.model = std::make_shared<const models::Model>(std::move(model));
  AK_ASSIGN_OR_RETURN(loaded.session, models::Session::create(loaded.model, so));
  AK_ASSIGN_OR_RETURN(loaded.inputs, models::resolve_inputs(*loaded.model, specs, so.dims, o.seed));
  return loaded;
}

}  // namespace ak::cli
