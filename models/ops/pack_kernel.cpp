// com.autokernel.PackKernel: one instance of a pack entry swapped into the graph
// (models/swap.h). Calls the entry's kernel through the ABI when the instance's sizes are
// inside the entry's verified ranges; otherwise runs the original nodes (its fallback
// subgraph) and counts why.
#include <algorithm>
#include <map>

#include "base/strings.h"
#include "kernels/tensor.h"
#include "models/aten_interop.h"
#include "models/ops/op_kernel.h"
#include "models/swap.h"

#ifdef AK_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace ak::models {

namespace {

bool is_number(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

class PackKernelOp final : public OpKernel {
 public:
  PackKernelOp(const SwapBinding& binding, SwapInstance* counters) : b_(binding), counters_(counters) {}

  Status run(OpContext& ctx) override {
    std::map<std::string, int64_t> sizes;
    std::string reason = bind_sizes(ctx, &sizes);
    std::vector<std::vector<int64_t>> output_dims;
    if (reason.empty()) reason = output_sizes(sizes, &output_dims);
    if (!reason.empty()) return run_fallback(ctx, reason);

    // Inputs contiguous (the ABI allows strides, but the starters and most candidates
    // read row-major); outputs allocated here, on the session's device.
    std::vector<at::Tensor> keep;
    std::vector<ak_tensor> inputs, outputs;
    for (size_t i = 0; i < b_.task.inputs.size(); ++i) {
      keep.push_back(ctx.input(i).contiguous());
      AK_RETURN_IF_ERROR(append(keep.back(), &inputs));
    }
    std::vector<at::Tensor> results;
    for (size_t i = 0; i < b_.task.outputs.size(); ++i) {
      AK_ASSIGN_OR_RETURN(const at::ScalarType type, to_scalar_type(static_cast<DType>(b_.task.outputs[i].dtype)));
      results.push_back(at::empty(output_dims[i], ctx.options().dtype(type)));
      AK_RETURN_IF_ERROR(append(results.back(), &outputs));
    }
    void* stream = nullptr;
#ifdef AK_WITH_CUDA
    if (ctx.device().is_cuda()) stream = c10::cuda::getCurrentCUDAStream(ctx.device().index()).stream();
#endif
    const int code = b_.library->call(inputs, outputs, stream);
    if (code != 0)
      return failed("pack entry '" + b_.entry + "': the kernel returned code " + std::to_string(code) + " (nodes " +
                    join(counters_->nodes, ", ") + ")");
    for (size_t i = 0; i < results.size(); ++i) ctx.set_output(i, std::move(results[i]));
    ++counters_->kernel_calls;
    return Status::ok();
  }

 private:
  /// Binds the task's axis names to the sizes of this run's inputs; "" when they fit the
  /// entry (dtypes, ranks, const axes, var axes inside their verified ranges), else why not.
  std::string bind_sizes(OpContext& ctx, std::map<std::string, int64_t>* sizes) const {
    const kernels::Task& task = b_.task;
    for (size_t i = 0; i < task.inputs.size(); ++i) {
      const kernels::TaskTensor& spec = task.inputs[i];
      const at::Tensor& x = ctx.input(i);
      const auto dtype = static_cast<int32_t>(from_scalar_type(x.scalar_type()));
      if (dtype != spec.dtype)
        return "input '" + spec.name + "' is " + kernels::dtype_name(dtype) + ", the kernel takes " +
               kernels::dtype_name(spec.dtype);
      if (static_cast<size_t>(x.dim()) != spec.axes.size())
        return "input '" + spec.name + "' has rank " + std::to_string(x.dim()) + ", the kernel takes rank " +
               std::to_string(spec.axes.size());
      for (size_t d = 0; d < spec.axes.size(); ++d) {
        const std::string& axis = spec.axes[d];
        auto [it, added] = sizes->emplace(axis, x.size(static_cast<int64_t>(d)));
        if (!added && it->second != x.size(static_cast<int64_t>(d)))
          return "axis " + axis + " is " + std::to_string(it->second) + " in one input and " +
                 std::to_string(x.size(static_cast<int64_t>(d))) + " in '" + spec.name + "'";
      }
    }
    for (const auto& [axis, size] : *sizes) {
      auto a = std::find_if(task.axes.begin(), task.axes.end(), [&](const kernels::TaskAxis& t) { return t.name == axis; });
      if (a == task.axes.end()) {
        if (is_number(axis) && std::to_string(size) != axis)
          return "a dimension of size " + axis + " is " + std::to_string(size) + " here";
        continue;
      }
      if (!a->var && size != a->value)
        return "axis " + axis + " = " + std::to_string(size) + " is not the kernel's " + std::to_string(a->value);
      if (!a->var) continue;
      auto r = std::find_if(b_.ranges.begin(), b_.ranges.end(), [&](const kernels::AxisRange& x) { return x.axis == axis; });
      if (r != b_.ranges.end() && (size < r->min || size > r->max))
        return "axis " + axis + " = " + std::to_string(size) + " is outside the verified " + std::to_string(r->min) +
               ".." + std::to_string(r->max);
    }
    return "";
  }

  /// The outputs' dims from the bound axes; "" or why they cannot be known.
  std::string output_sizes(const std::map<std::string, int64_t>& sizes, std::vector<std::vector<int64_t>>* dims) const {
    for (const kernels::TaskTensor& spec : b_.task.outputs) {
      std::vector<int64_t> d;
      for (size_t k = 0; k < spec.axes.size(); ++k) {
        const std::string& axis = spec.axes[k];
        auto bound = sizes.find(axis);
        const bool var = b_.task.is_var(spec, k);
        if (bound != sizes.end()) d.push_back(bound->second);
        else if (!var) d.push_back(spec.dims[k]);  // a const axis or a literal size
        else return "output axis " + axis + " of '" + spec.name + "' is not an axis of any input";
      }
      dims->push_back(std::move(d));
    }
    return "";
  }

  static Status append(const at::Tensor& t, std::vector<ak_tensor>* out) {
    std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end()), strides(t.strides().begin(), t.strides().end());
    AK_ASSIGN_OR_RETURN(ak_tensor d, kernels::make_tensor(t.data_ptr(), static_cast<int32_t>(from_scalar_type(t.scalar_type())),
                                                          shape, strides));
    out->push_back(d);
    return Status::ok();
  }

  Status run_fallback(OpContext& ctx, const std::string& reason) {
    std::vector<Value> outputs;
    AK_RETURN_IF_ERROR(ctx.subgraph(0).run({}, &outputs));
    for (size_t i = 0; i < outputs.size() && i < ctx.num_outputs(); ++i)
      if (ctx.has_output(i)) ctx.output_value(i) = std::move(outputs[i]);
    ++counters_->fallbacks;
    counters_->last_fallback_reason = reason;
    return Status::ok();
  }

  const SwapBinding& b_;
  SwapInstance* counters_;
};

Result<KernelPtr> pack_kernel_factory(const OpBuildInfo& info) {
  const Status not_swapped =
      invalid_input("com.autokernel.PackKernel nodes are made by swap-in (autokernel run --kernels), not read from a model");
  if (info.swap == nullptr) return not_swapped;
  auto binding = info.swap->bindings.find(info.node.name);
  if (binding == info.swap->bindings.end()) return not_swapped;
  const Attribute* fallback = info.node.find_attribute("fallback");
  if (fallback == nullptr || !fallback->g) return internal_error("a PackKernel node without its fallback subgraph");
  AK_RETURN_IF_ERROR(info.prepare_subgraph(*fallback->g));
  return KernelPtr(std::make_unique<PackKernelOp>(binding->second, &info.swap->report.instances.at(binding->second.instance)));
}

}  // namespace

void register_pack_kernel_op(OpRegistry& r) { r.add("PackKernel", 1, pack_kernel_factory, Placement::kDevice, "com.autokernel"); }

}  // namespace ak::models
