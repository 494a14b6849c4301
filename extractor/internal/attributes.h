#pragma once
/// task.json's "attributes" (docs/extractor.md): the ONNX attributes of a task's nodes as
/// JSON, so that the same op or pattern in another layer or model is the same workload in
/// the memory. The rest of task.json is kernels::Task's (kernels/task.h). Torch-free;
/// nlohmann stays in attributes.cpp.

#include <map>
#include <string>
#include <vector>

#include "models/graph.h"

namespace ak::extractor::internal {

/// The attributes as a JSON object's text: for one node (`single_node`) its {attr: value};
/// for a group {"pattern": [{"op", "attributes", "inputs"}, ...]}, each node's inputs named
/// by where they come from: "in<k>" (kernel input k of `inputs`), "node<j>:<o>", a scalar
/// constant's value (from `constants`, the values kept inside the subgraph; may be null), or
/// "const".
std::string attributes_json(const std::vector<const models::Node*>& nodes, bool single_node,
                            const std::vector<std::string>& inputs,
                            const std::map<std::string, models::TensorData>* constants);

}  // namespace ak::extractor::internal
