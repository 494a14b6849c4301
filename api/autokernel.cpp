// The deployment API (api/include/autokernel/autokernel.h) over models::Session: the one
// adapter between its types and autokernel's own, and the one place where exceptions stop.
#include "autokernel/autokernel.h"

#include <cstring>
#include <exception>

#include "models/onnx_io.h"
#include "models/session.h"

namespace autokernel {

namespace {

Status from(const ak::Status& s) {
  if (s.is_ok()) return {};
  StatusCode code = StatusCode::kInternal;
  switch (s.code()) {
    case ak::StatusCode::kOk: code = StatusCode::kOk; break;
    case ak::StatusCode::kInvalidInput: code = StatusCode::kInvalidInput; break;
    case ak::StatusCode::kUnsupported: code = StatusCode::kUnsupported; break;
    case ak::StatusCode::kFailed: code = StatusCode::kFailed; break;
    case ak::StatusCode::kInternal: code = StatusCode::kInternal; break;
  }
  return {code, s.message()};
}

/// Runs `body`, turning anything it throws into a kInternal Status.
template <typename F>
Status guarded(F body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return {StatusCode::kInternal, std::string("internal error: ") + e.what()};
  } catch (...) {
    return {StatusCode::kInternal, "internal error: unknown exception"};
  }
}

TensorInfo info_of(const ak::models::ValueInfo& v, const std::map<std::string, int64_t>& dims) {
  TensorInfo info;
  info.name = v.name;
  info.dtype = static_cast<DType>(v.dtype);
  for (const ak::models::Dim& d : v.shape) {
    auto given = d.param.empty() ? dims.end() : dims.find(d.param);
    info.dims.push_back(d.is_fixed() ? d.value : given != dims.end() ? given->second : -1);
    info.dim_names.push_back(d.param);
  }
  return info;
}

template <typename T>
Tensor tensor_of(std::string name, DType dtype, std::vector<int64_t> dims, const std::vector<T>& values) {
  Tensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

}  // namespace

size_t dtype_size(DType dtype) { return ak::models::dtype_size(static_cast<ak::models::DType>(dtype)); }

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Tensor Tensor::of(std::string name, std::vector<int64_t> dims, const std::vector<float>& values) {
  return tensor_of(std::move(name), DType::kFloat32, std::move(dims), values);
}

Tensor Tensor::of(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& values) {
  return tensor_of(std::move(name), DType::kInt64, std::move(dims), values);
}

std::vector<float> Tensor::floats() const {
  if (dtype != DType::kFloat32) return {};
  std::vector<float> out(data.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), data.data(), out.size() * sizeof(float));
  return out;
}

struct Model::Impl {
  std::unique_ptr<ak::models::Session> session;
  std::vector<TensorInfo> inputs, outputs;
  bool has_pack = false;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

Status Model::load(const std::string& path, const LoadOptions& options, std::unique_ptr<Model>* out) {
  return guarded([&]() -> Status {
    if (out == nullptr) return {StatusCode::kInvalidInput, "Model::load: no place for the model (out is null)"};
    ak::models::SessionOptions so;
    if (options.device.empty()) {
      so.device = ak::models::default_device();
    } else {
      auto device = ak::models::Device::parse(options.device);
      if (!device.is_ok()) return from(device.status());
      so.device = *device;
    }
    so.dims = options.dims;
    so.cuda_graph = options.cuda_graph;
    so.fuse = options.fuse;
    so.num_threads = options.num_threads;
    so.kernels.pack = options.pack;
    auto model = ak::models::load_model(path);
    if (!model.is_ok()) return from(model.status());
    auto shared = std::make_shared<const ak::models::Model>(std::move(model).value());
    auto session = ak::models::Session::create(shared, so);
    if (!session.is_ok()) return from(session.status());
    auto impl = std::make_unique<Impl>();
    impl->session = std::move(session).value();
    impl->has_pack = !options.pack.empty();
    for (const ak::models::ValueInfo* v : impl->session->input_infos()) impl->inputs.push_back(info_of(*v, options.dims));
    for (const ak::models::ValueInfo& v : impl->session->model().graph.outputs) impl->outputs.push_back(info_of(v, options.dims));
    out->reset(new Model(std::move(impl)));
    return {};
  });
}

Status Model::run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  return guarded([&]() -> Status {
    if (outputs == nullptr) return {StatusCode::kInvalidInput, "Model::run: no place for the outputs (outputs is null)"};
    std::vector<ak::models::TensorData> data;
    for (const Tensor& t : inputs) {
      const size_t element = dtype_size(t.dtype);
      if (element == 0) return {StatusCode::kInvalidInput, "input '" + t.name + "': unknown dtype code " +
                                                               std::to_string(static_cast<int32_t>(t.dtype))};
      if (t.numel() < 0 || t.data.size() != static_cast<size_t>(t.numel()) * element)
        return {StatusCode::kInvalidInput, "input '" + t.name + "': " + std::to_string(t.data.size()) +
                                               " bytes for " + std::to_string(t.numel()) + " elements of " +
                                               std::to_string(element) + " bytes"};
      ak::models::TensorData d;
      d.name = t.name;
      d.dtype = static_cast<ak::models::DType>(t.dtype);
      d.dims = t.dims;
      // The session copies the bytes onto its device; the buffer only has to outlive run().
      d.bytes.data = t.data.data();
      d.bytes.size_bytes = t.data.size();
      data.push_back(std::move(d));
    }
    auto ran = impl_->session->run(data);
    if (!ran.is_ok()) return from(ran.status());
    outputs->clear();
    for (const ak::models::TensorData& d : *ran) {
      Tensor t;
      t.name = d.name;
      t.dtype = static_cast<DType>(d.dtype);
      t.dims = d.dims;
      t.data.resize(d.bytes.size_bytes);
      if (d.bytes.size_bytes > 0) std::memcpy(t.data.data(), d.bytes.data, d.bytes.size_bytes);
      outputs->push_back(std::move(t));
    }
    return {};
  });
}

const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }

std::string Model::kernels_summary() const {
  return impl_->has_pack ? impl_->session->swap_report().summary() : "";
}

int64_t Model::kernel_calls() const {
  int64_t n = 0;
  for (const auto& i : impl_->session->swap_report().instances) n += i.kernel_calls;
  return n;
}

int64_t Model::kernel_fallbacks() const {
  int64_t n = 0;
  for (const auto& i : impl_->session->swap_report().instances) n += i.fallbacks;
  return n;
}

std::string Model::device() const { return impl_->session->device().str(); }

CudaGraphInfo Model::cuda_graph() const {
  const ak::models::CudaGraphState& g = impl_->session->cuda_graph_state();
  return {g.enabled, g.ignored, g.captured, g.replays, g.eager_runs, g.fallback_reason};
}

}  // namespace autokernel
