#pragma once
/// Naming a task's dimensions: `var` axes follow the model's symbolic input dimensions,
/// `const` axes do not. Torch-free: it compares shapes recorded by runs of the model.
///
/// A dimension is var when its size changed in the run where some symbolic dimension P was
/// one larger than in the base run. It is named P when it is P itself (its base size is P's
/// and it grew by exactly one, with P alone), else "<P>_<k>" (k = 1, 2, ... per P, one name
/// per distinct way of changing). Const dimensions are named "n<size>". The same key always
/// gets the same name, so two tensors that share a dimension share its axis.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ak::extractor::internal {

/// Shapes by value name, as one run of the model saw them.
using ShapeMap = std::map<std::string, std::vector<int64_t>>;

/// One run of the model with symbolic dimension `param` (size `base_value` in the base run)
/// set to base_value + 1.
struct DimVariant {
  std::string param;
  int64_t base_value = 0;
  bool ran = false;  ///< false when the model could not run at the larger size: nothing varies with it
  ShapeMap shapes;
};

/// One named axis of a task.
struct Axis {
  std::string name;
  bool var = false;
  int64_t value = 0;  ///< its size in the captured run
};

/// Names the dimensions of one task's tensors; keeps the axes in first-use order.
class AxisNamer {
 public:
  /// `variants` must outlive the namer.
  explicit AxisNamer(const std::vector<DimVariant>& variants) : variants_(variants) {}

  /// The axis name of each dimension of value `value`, whose base-run shape is `dims`.
  std::vector<std::string> name_dims(const std::string& value, const std::vector<int64_t>& dims);

  /// The axes named so far, in first-use order.
  const std::vector<Axis>& axes() const { return axes_; }
  /// Whether the axis called `name` is var.
  bool is_var(const std::string& name) const;

 private:
  const std::vector<DimVariant>& variants_;
  std::vector<Axis> axes_;
  std::map<std::string, std::string> name_of_key_;
  std::map<std::string, int> derived_count_;  ///< per param, for "<P>_<k>"
};

}  // namespace ak::extractor::internal
