#pragma once
/// memory/ report: the records as JSON text for `autokernel memory ... --json` (shapes
/// documented in docs/memory.md).

#include <string>

#include "memory/records.h"

namespace ak::memory {

/// JSON text (one object) for `--json` output.
std::string to_json(const SearchResult& result);
std::string to_json(const WorkloadDetail& detail);
std::string to_json(const CandidateDetail& detail);
std::string to_json(const EvaluationInfo& evaluation);
std::string to_json(const Stats& stats);
std::string to_json(const ImportReport& report);
std::string to_json(const GcReport& report);

}  // namespace ak::memory
