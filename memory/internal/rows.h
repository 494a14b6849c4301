#pragma once
/// Reading and writing the rows of workloads, candidates, evaluations and notes; shared
/// by recording, import, retrieval and export. Private to memory/.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "memory/internal/database.h"
#include "memory/internal/identity.h"
#include "memory/memory.h"

namespace ak::memory::internal {

/// Column lists for SELECTs, read back by the read_* functions below (aliases w, c, e).
inline constexpr const char* kWorkloadColumns =
    "w.id, w.signature, w.op_type, w.dtype, w.dtypes, w.attributes, w.layout, w.shape, w.arch, w.created_ns";
inline constexpr int kWorkloadColumnCount = 10;
inline constexpr const char* kCandidateColumns =
    "c.id, c.hash, c.language, c.generator, c.parent_hash, c.parameters, c.created_ns";
inline constexpr int kCandidateColumnCount = 7;
inline constexpr const char* kEvaluationColumns =
    "e.id, e.uuid, e.workload_id, e.candidate_id, e.status, e.device, e.driver_version, e.cuda_version, "
    "e.compiler_version, e.latency_ns, e.baseline_latency_ns, e.speedup, e.speedup_low, e.speedup_high, "
    "e.max_abs_error, e.max_rel_error, e.failure_gate, e.failure_input, e.failure_summary, e.created_ns";
inline constexpr int kEvaluationColumnCount = 20;

/// Reads kWorkloadColumns starting at column `first` (sources are not read).
Result<WorkloadInfo> read_workload_columns(const Statement& stmt, int first);
CandidateInfo read_candidate_columns(const Statement& stmt, int first);
Result<EvaluationInfo> read_evaluation_columns(const Statement& stmt, int first);

/// One row by id, with its sources; kInvalidInput "no workload W<id>" when absent.
Result<WorkloadInfo> load_workload(Database& db, int64_t id);
/// The (model, node) pairs a workload was seen at, sorted.
Result<std::vector<std::pair<std::string, std::string>>> load_sources(Database& db, int64_t workload_id);
/// One row by id; the source text only when `with_source`.
Result<CandidateInfo> load_candidate(Database& db, int64_t id, bool with_source);
Result<EvaluationInfo> load_evaluation(Database& db, int64_t id);
Result<std::vector<NoteInfo>> load_notes(Database& db, const ItemRef& target);

/// Inside a write transaction. Returns the row id and whether it was added.
Result<std::pair<int64_t, bool>> upsert_workload(Database& db, const WorkloadRow& row,
                                                 const std::vector<std::pair<std::string, std::string>>& sources,
                                                 int64_t created_ns);
/// `parameters` must be canonical (candidate_hash's).
Result<std::pair<int64_t, bool>> upsert_candidate(Database& db, const std::string& hash, const CandidateSpec& candidate,
                                                  const std::string& parameters, int64_t created_ns);
/// Inserts unless `uuid` is present; returns the new id, or 0 when it was present.
Result<int64_t> insert_evaluation(Database& db, const std::string& uuid, int64_t workload_id, int64_t candidate_id,
                                  const EvaluationSpec& evaluation);
/// Inserts unless `uuid` is present; returns the new id, or 0 when it was present.
Result<int64_t> insert_note(Database& db, const std::string& uuid, const ItemRef& target, std::string_view author,
                            std::string_view text, int64_t created_ns);

/// Checks an evaluation before it is written (status in range, device named, summary
/// short); returns the copy that is stored (summary cut to kMaxSummaryBytes, time set).
Result<EvaluationSpec> normalized_evaluation(const EvaluationSpec& evaluation, int64_t now);
inline constexpr size_t kMaxSummaryBytes = 1024;

/// "W12 (Softmax 32x12x128x128 sm_90)" style label of a workload for messages.
std::string workload_label(const WorkloadInfo& workload);

}  // namespace ak::memory::internal
