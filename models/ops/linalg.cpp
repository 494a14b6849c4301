#include "models/ops/op_kernel.h"

namespace ak::models {

void register_linalg_ops(OpRegistry& r) { (void)r; }

}  // namespace ak::models
