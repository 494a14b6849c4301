#pragma once
/// How records are identified: canonical JSON, workload keys, list columns. Private to memory/.

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "memory/memory.h"

namespace ak::memory::internal {

/// parse_shape into an existing Shape, reusing its storage; false on bad text.
bool parse_shape_into(std::string_view text, Shape& shape);

/// Parses `text` as a JSON object and prints it canonically (sorted keys, no spaces);
/// "" counts as {}. `what` names the field in the error.
Result<std::string> canonical_json_object(std::string_view text, std::string_view what);

/// candidate_hash for parameters already canonical.
std::string candidate_hash_canonical(const std::string& source, const std::string& canonical_parameters);

/// The stable key of a workload across databases: its signature, shape text and arch
/// hashed, formatted like a UUID (8-4-4-4-12 hex digits).
std::string workload_key(std::string_view signature, std::string_view shape_text, std::string_view arch);

/// A new time-ordered UUID (version 7) for an evaluation or note.
std::string random_uuid();

/// ',' joined / split (the dtypes column).
std::string join_list(const std::vector<std::string>& items);
std::vector<std::string> split_list(std::string_view text);

/// A workload after validation, ready for its row.
struct WorkloadRow {
  std::string signature;
  std::string op_type;
  std::string dtype;
  std::string dtypes;
  std::string attributes;
  std::string layout;
  std::string shape;
  std::string arch;
};
/// The identity part only (signature and its pieces; shape and arch left empty).
Result<WorkloadRow> signature_row(const WorkloadSpec& workload);
/// Everything validated: also one shape per dtype, no negative dimension, an arch.
Result<WorkloadRow> workload_row(const WorkloadSpec& workload);

}  // namespace ak::memory::internal
