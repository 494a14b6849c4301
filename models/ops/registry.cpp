#include <stdexcept>

#include "models/ops/op_kernel.h"

namespace ak::models {

void OpRegistry::add(const std::string& op_type, int since_version, OpFactory factory, Placement placement,
                     const std::string& domain) {
  auto& entries = ops_[{domain, op_type}];
  entries.push_back({since_version, std::move(factory), placement});
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.since_version < b.since_version; });
}

const OpRegistry::Entry* OpRegistry::find(const std::string& domain, const std::string& op_type, int64_t opset) const {
  auto it = ops_.find({domain, op_type});
  if (it == ops_.end()) return nullptr;
  const Entry* best = nullptr;
  for (const auto& e : it->second)
    if (e.since_version <= opset) best = &e;
  return best;
}

int OpRegistry::earliest(const std::string& domain, const std::string& op_type) const {
  auto it = ops_.find({domain, op_type});
  return it == ops_.end() || it->second.empty() ? 0 : it->second.front().since_version;
}

std::vector<std::string> OpRegistry::op_types() const {
  std::vector<std::string> out;
  for (const auto& [key, entries] : ops_) out.push_back(key.first.empty() ? key.second : key.first + "." + key.second);
  return out;
}

const OpRegistry& OpRegistry::builtin() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_reduction_ops(r);
    register_tensor_ops(r);
    register_conv_ops(r);
    register_pool_ops(r);
    register_resize_ops(r);
    register_recurrent_ops(r);
    register_linalg_ops(r);
    register_control_ops(r);
    register_misc_ops(r);
    register_gradient_ops(r);
    register_fused_ops(r);
    register_pack_kernel_op(r);
    return r;
  }();
  return registry;
}

namespace op_util {

int64_t normalize_axis(int64_t axis, int64_t rank) {
  const int64_t lo = rank == 0 ? -1 : -rank, hi = rank == 0 ? 0 : rank - 1;
  if (axis < lo || axis > hi)
    throw std::invalid_argument("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + std::max<int64_t>(rank, 1) : axis;
}

std::vector<int64_t> broadcast_shapes(at::IntArrayRef a, at::IntArrayRef b) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument("shapes cannot broadcast: dimension " + std::to_string(da) + " vs " + std::to_string(db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace op_util
}  // namespace ak::models
