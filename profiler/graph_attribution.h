#pragma once
/// Graph attribution: joining the device records of CUDA-graph replays to the ONNX nodes
/// that created their graph nodes, for `autokernel profile --cuda-graph`.
///
/// Why: a replay walks no node, so nothing can be pushed around a node's launches. What
/// ties a replayed kernel to its node is made at capture time instead: while the graph is
/// captured, the profiler's observer pushes each node's id, and the CUPTI source
/// (CuptiRecords::kGraphNodes) maps every graph node created meanwhile, and its clone in
/// the instantiated graph, to that id. Each kernel, memcpy and memset record of a replay
/// carries the id of the graph node that ran it (CUPTI's graphNodeId), and all records of
/// one replay carry the correlation id of its one graph launch.
///
/// How: the records with a graph node id are grouped by launch (correlation id, in launch
/// order); the last `iterations` launches are the profiled iterations, numbered from 0.
/// Each record is attributed to the node its graph node maps to. Records of the profiled
/// launches whose graph node is unmapped, and records launched outside every graph (the
/// copies of the inputs into the graph's static buffers) issued after the launch before
/// the first profiled one, are unattributed; earlier records (the warm-up, the capture's
/// check and the unprofiled replays) are left out.

#include <cstddef>

#include "base/status.h"
#include "profiler/correlation.h"

namespace ak::profiler {

/// Attributes the last `iterations` graph launches of `traced` (records unattributed,
/// graph_node_external_ids filled, external ids node index + 1) as a Correlator would
/// have with external ids `iteration * node_count + node_index + 1`. Fails when no graph
/// node was mapped, or when fewer than `iterations` graph launches were traced.
Result<CorrelationResult> attribute_by_graph_node(const CorrelationResult& traced, int iterations, size_t node_count);

}  // namespace ak::profiler
