#pragma once
/// Workload keys: the name-free identity of the work a set of nodes does, so that the same
/// computation repeated in every layer of a model (17 RMSNorms of a decoder) is recognised
/// as ONE problem with several instances. The profiler's by-workload table, the extractor's
/// one-task-per-workload and the pack's match against a graph all key on this; none builds
/// its own. Torch-free: it reads the graph IR only.
///
/// The key of a node set is its structure plus the types of what it reads:
///   - structure (`WorkloadKey::structure`, text): the nodes in a canonical topological
///     order, each with domain, op type, attributes (sorted by name; the numeric defaults
///     of kernels/op_traits.h filled in, so an explicit default equals an omitted one) and
///     its inputs as references: `%n.k` (output k of the set's n-th node), `$k` (input k of
///     the workload, numbered in first use order), or a constant written in place when it
///     has at most kInlineConstantElements elements (a Constant node's value or an
///     initializer); larger constants (per-layer weights: equal shapes, different values)
///     are workload inputs `$k` declared as `const dtype[shape]`. Then the outputs: values
///     read outside the set, or graph outputs. No value or node name appears.
///   - dtypes and concrete shapes of the workload inputs (`dtypes`, `shapes`): the shapes
///     the profile recorded when a lookup is given, none otherwise (the shape-free key a
///     graph can be matched with before it runs).
///
/// Two instances have equal keys exactly when one kernel, called with their inputs in
/// `inputs` order, computes both (up to the values of their large constants).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/graph.h"

namespace ak::models {

/// Constants with at most this many elements are part of the structure by value (an
/// epsilon, a scale, a reshape target); larger ones by dtype and shape only.
inline constexpr int64_t kInlineConstantElements = 16;

/// What a caller knows about one value: its dtype and, when recorded, its concrete shape.
struct ValueType {
  DType dtype = DType::kUndefined;
  std::optional<std::vector<int64_t>> shape;  ///< nullopt: not known
};

/// The types of values by name; nullopt for a value it knows nothing about. A profile
/// provides recorded shapes (profiler/workloads.h builds one); without a lookup the key
/// uses the graph's declarations (inputs, outputs, value_info) for dtypes and no shapes.
using ValueTypeLookup = std::function<std::optional<ValueType>(const std::string& value)>;

/// The key of one node set, and how this instance binds to it.
struct WorkloadKey {
  /// The canonical, name-free structure (see the file comment): equal for every instance
  /// of a workload whatever the shapes and dtypes of its inputs.
  std::string structure;
  /// One per workload input ($0, $1, ...): its dtype (kUndefined when not known).
  std::vector<DType> dtypes;
  /// One per workload input: its concrete shape (a constant's always; a runtime input's
  /// when the lookup knew it, else empty).
  std::vector<std::vector<int64_t>> shapes;
  /// Every input's shape was known: text() then has a `shapes:` line. False is the
  /// shape-free key a graph can be matched with before it runs.
  bool has_shapes = false;

  // This instance's binding (not part of the key).
  std::vector<size_t> nodes;         ///< graph node indices, in the canonical order (%0, %1, ...)
  std::vector<std::string> inputs;   ///< the value each workload input $k is, in this graph
  std::vector<std::string> outputs;  ///< the values the workload writes, in key order

  /// The whole key as one text: structure, then `dtypes:` and (when known) `shapes:` lines.
  std::string text() const;
  /// SHA-256 hex of text(): the workload's identity.
  std::string hash() const;
  /// SHA-256 hex of `structure` alone: equal across dtypes and shapes.
  std::string structure_hash() const;
};

/// The key of `nodes` (indices into graph.nodes, any order, no duplicates) of `graph`.
/// `types` gives the dtypes and shapes of the values the set reads (a profile's recorded
/// node shapes); when it is empty, or knows nothing of a value, the graph's declarations
/// are used for its dtype. Nodes out of range are skipped.
WorkloadKey workload_key(const Graph& graph, std::span<const size_t> nodes, const ValueTypeLookup& types = {});

/// The declared types of `graph` (inputs, outputs, value_info with fixed dims, and
/// initializers) as a lookup; symbolic or unknown shapes are left out.
ValueTypeLookup declared_types(const Graph& graph);

}  // namespace ak::models
