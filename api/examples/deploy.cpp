// deploy: the deployment API end to end. Loads an ONNX model with a kernel pack, feeds it
// deterministic inputs (symbolic dimensions from --dim, else 1), runs it and prints each
// output's shape and sum, and what swap-in did.
//
//     deploy MODEL [--pack PACK] [--device cpu|cuda|cuda:N] [--dim NAME=N]... [--cuda-graph]
//
// Exit codes: 0 ok, 1 the run failed, 2 bad input.
#include <autokernel/autokernel.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

int usage(const char* problem) {
  std::fprintf(stderr, "deploy: error: %s\nusage: deploy MODEL [--pack PACK] [--device D] [--dim NAME=N]... [--cuda-graph]\n",
               problem);
  return 2;
}

/// Input values that any model accepts: small integers (token ids, indices), ones for
/// booleans, a smooth wave for floats.
autokernel::Tensor make_input(const autokernel::TensorInfo& info) {
  std::vector<int64_t> dims;
  for (int64_t d : info.dims) dims.push_back(d < 0 ? 1 : d);
  autokernel::Tensor t;
  t.name = info.name;
  t.dtype = info.dtype;
  t.dims = dims;
  const int64_t n = t.numel();
  if (info.dtype == autokernel::DType::kInt64) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i % 7;
    return autokernel::Tensor::of(info.name, dims, v);
  }
  if (info.dtype == autokernel::DType::kFloat32) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = std::sin(0.1f * static_cast<float>(i));
    return autokernel::Tensor::of(info.name, dims, v);
  }
  t.data.assign(static_cast<size_t>(n) * autokernel::dtype_size(info.dtype), std::byte{0});
  if (info.dtype == autokernel::DType::kBool)
    for (auto& b : t.data) b = std::byte{1};
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no model given");
  std::string model_path = argv[1];
  autokernel::LoadOptions options;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--pack" && has_value) {
      options.pack = argv[++i];
    } else if (arg == "--device" && has_value) {
      options.device = argv[++i];
    } else if (arg == "--dim" && has_value) {
      const std::string spec = argv[++i];
      const size_t eq = spec.find('=');
      char* end = nullptr;
      const long long value = eq == std::string::npos ? 0 : std::strtoll(spec.c_str() + eq + 1, &end, 10);
      if (eq == std::string::npos || end == nullptr || *end != '\0' || value < 1)
        return usage(("--dim " + spec + ": expected NAME=N with N >= 1").c_str());
      options.dims[spec.substr(0, eq)] = value;
    } else if (arg == "--cuda-graph") {
      options.cuda_graph = true;
    } else {
      return usage(("unknown argument '" + arg + "'").c_str());
    }
  }

  std::unique_ptr<autokernel::Model> model;
  autokernel::Status st = autokernel::Model::load(model_path, options, &model);
  if (!st.ok()) {
    std::fprintf(stderr, "deploy: error: %s\n", st.message.c_str());
    return st.exit_code();
  }
  std::vector<autokernel::Tensor> inputs, outputs;
  for (const autokernel::TensorInfo& info : model->inputs()) inputs.push_back(make_input(info));
  st = model->run(inputs, &outputs);
  if (!st.ok()) {
    std::fprintf(stderr, "deploy: error: %s\n", st.message.c_str());
    return st.exit_code();
  }
  std::printf("device: %s\n", model->device().c_str());
  if (!options.pack.empty())
    std::printf("%s; %lld kernel calls, %lld fallbacks\n", model->kernels_summary().c_str(),
                static_cast<long long>(model->kernel_calls()), static_cast<long long>(model->kernel_fallbacks()));
  for (const autokernel::Tensor& out : outputs) {
    std::string shape;
    for (int64_t d : out.dims) shape += (shape.empty() ? "" : "x") + std::to_string(d);
    double sum = 0;
    for (float v : out.floats()) sum += v;
    std::printf("output %s: %s sum %.6g\n", out.name.c_str(), shape.empty() ? "scalar" : shape.c_str(), sum);
  }
  return 0;
}
