// Var and const axes of a task, from the shapes of runs with each symbolic dim one larger.
#include <algorithm>

#include "extractor/internal/axes.h"

namespace ak::extractor::internal {

std::vector<std::string> AxisNamer::name_dims(const std::string& value, const std::vector<int64_t>& dims) {
  std::vector<std::string> names;
  for (size_t k = 0; k < dims.size(); ++k) {
    // The key lists every variant that changed this dimension and what it changed it to.
    std::string key;
    std::string first_param;
    bool only_itself = false;
    int changes = 0;
    for (const DimVariant& v : variants_) {
      if (!v.ran) continue;
      auto it = v.shapes.find(value);
      if (it == v.shapes.end()) continue;  // not computed in that run: nothing to compare
      const std::vector<int64_t>& other = it->second;
      // A different rank means this dimension's position depends on P: count it as varying.
      const int64_t varied = other.size() == dims.size() ? other[k] : -1;
      if (varied == dims[k]) continue;
      if (changes++ == 0) {
        first_param = v.param;
        only_itself = dims[k] == v.base_value && varied == v.base_value + 1;
      } else {
        only_itself = false;
      }
      key += v.param + "=" + std::to_string(varied) + ";";
    }
    if (changes == 0) key = "const:" + std::to_string(dims[k]);
    else key = "var:" + std::to_string(dims[k]) + ":" + key;

    auto found = name_of_key_.find(key);
    if (found == name_of_key_.end()) {
      Axis axis;
      axis.var = changes > 0;
      axis.value = dims[k];
      if (!axis.var) axis.name = "n" + std::to_string(dims[k]);
      else if (only_itself) axis.name = first_param;
      else axis.name = first_param + "_" + std::to_string(++derived_count_[first_param]);
      axes_.push_back(axis);
      found = name_of_key_.emplace(key, axis.name).first;
    }
    names.push_back(found->second);
  }
  return names;
}

bool AxisNamer::is_var(const std::string& name) const {
  auto it = std::find_if(axes_.begin(), axes_.end(), [&](const Axis& a) { return a.name == name; });
  return it != axes_.end() && it->var;
}

}  // namespace ak::extractor::internal
