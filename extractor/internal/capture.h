#pragma once
/// Runs of the whole model under an observer: one that copies the values the tasks need to
/// the host, and one that records only shapes. Torch stays in capture.cpp.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "extractor/internal/axes.h"
#include "models/graph.h"

namespace ak::models {
class Session;
}

namespace ak::extractor::internal {

/// What one observed run of the whole model saw.
struct CapturedRun {
  /// Host copies of the wanted values, by name (inputs copied as a node consumes them,
  /// outputs as the node that makes them finishes). A wanted value no node touched is absent.
  std::map<std::string, models::TensorData> values;
  ShapeMap shapes;  ///< the shape of every tensor value any node read or wrote
  std::set<size_t> host_nodes;  ///< indices of the nodes that ran on the host (shape arithmetic)
};

/// Runs `session` once on `inputs`, copying `wanted` values to the host.
Result<CapturedRun> capture_run(models::Session& session, const std::vector<models::TensorData>& inputs,
                                const std::set<std::string>& wanted);

/// Runs `session` once on `inputs`, recording only shapes.
Result<ShapeMap> shape_run(models::Session& session, const std::vector<models::TensorData>& inputs);

}  // namespace ak::extractor::internal
