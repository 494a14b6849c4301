#pragma once
/// memory/ records: what the store keeps and returns: workloads (what was optimized),
/// candidates (kernel sources), evaluations (the verifier's verdict with its numbers),
/// notes, search queries and results, and the names and identities they are stored under.
/// Plain values; no SQLite, no JSON library. docs/memory.md documents the schema.
///
/// The memory takes a workload description from its caller (the bench path builds it from
/// the task, verifier/evaluation_record.h): it never reads task directories itself.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kernels/verdict.h"

namespace ak::memory {

/// An evaluation's status is the verifier's verdict (one enum, kernels/verdict.h), stored
/// by its name (kernels::verdict_name).
using kernels::Verdict;

/// One shape per input tensor, in the order of the op's inputs.
using Shape = std::vector<std::vector<int64_t>>;

/// "32x12x128x128"; inputs separated by ',' ("64x768,768x3072"); a rank-0 input is "()".
std::string format_shape(const Shape& shape);
/// Parses format_shape's text; an empty text, a negative or non-numeric dimension is an error.
Result<Shape> parse_shape(std::string_view text);

/// What was optimized. Its identity in the store is (signature, shape, arch).
struct WorkloadSpec {
  std::string op_type;                    ///< ONNX op type ("Softmax") or fused pattern ("fused:<hash>"): the op class
  std::string attributes_json = "{}";     ///< the op's attributes as a JSON object (key order does not matter)
  std::vector<std::string> dtypes;        ///< one per input ("float16"); dtypes[0] is the workload's dtype for search
  std::string layout;                     ///< layout tag; "" means contiguous row-major
  Shape shape;                            ///< one shape per input, same order as dtypes
  std::string arch;                       ///< device architecture: "sm_90", "sm_80", "cpu"
  std::string source_model;               ///< optional: the model file it came from
  std::vector<std::string> source_nodes;  ///< optional: the node names in that model
};

/// The canonical signature: op type, attributes as canonical JSON (sorted keys), dtypes
/// and layout, e.g. `Softmax{"axis":-1}[float16]`. Everything but shape and arch.
/// Fails on an empty op type, no dtypes, or attributes that are not a JSON object.
Result<std::string> canonical_signature(const WorkloadSpec& workload);

/// A candidate kernel. Its identity is its hash (see candidate_hash).
struct CandidateSpec {
  std::string source;                   ///< the complete source text
  std::string language;                 ///< "cuda", "cpp", ...
  std::string generator;                ///< what made it: "template:softmax_rowwise", "llm:<model>", "human"
  std::string parent_hash;              ///< hash of the candidate it was derived from; "" for none
  std::string parameters_json = "{}";   ///< generator parameters as a JSON object (tile sizes, ...)
};

/// Lowercase hex SHA-256 of the source text; when the parameters are not empty, of the
/// source, a NUL byte and the canonical parameters JSON (the same source compiled with
/// other parameters is another candidate). Fails on parameters that are not a JSON object.
Result<std::string> candidate_hash(const CandidateSpec& candidate);

/// The outcome of judging one candidate on one workload.
struct EvaluationSpec {
  Verdict status = Verdict::kPassed;
  std::string device;            ///< device name: "NVIDIA H100 80GB HBM3", "cpu"
  std::string driver_version;    ///< "" when not applicable
  std::string cuda_version;
  std::string compiler_version;  ///< "nvcc 13.0", "g++ 12.2"
  std::optional<int64_t> latency_ns;           ///< the candidate's median latency
  std::optional<int64_t> baseline_latency_ns;  ///< the reference's median latency, same run
  std::optional<double> speedup;               ///< baseline / candidate
  std::optional<double> speedup_low;           ///< confidence interval of the speedup
  std::optional<double> speedup_high;
  std::optional<double> max_abs_error;         ///< worst error against the reference
  std::optional<double> max_rel_error;
  std::string failure_gate;      ///< which gate failed ("compile", "shape", "numerics", "determinism", ...)
  std::string failure_input;     ///< which input exposed it ("input 3 (seed 7)")
  std::string failure_summary;   ///< short text: compiler message head, worst element... (kept to 1 KiB)
  int64_t timestamp_ns = 0;      ///< Unix time in ns; 0 means "now" at record time
};

/// One call's worth for `autokernel bench`: the whole path of one evaluation.
struct Record {
  WorkloadSpec workload;
  CandidateSpec candidate;
  EvaluationSpec evaluation;
};

/// Row ids of what one Record became (workload and candidate are shared across records).
struct RecordIds {
  int64_t workload_id = 0;
  int64_t candidate_id = 0;
  int64_t evaluation_id = 0;
};

/// A recorded workload as read back.
struct WorkloadInfo {
  int64_t id = 0;
  std::string key;  ///< stable id across databases (UUID-formatted hash of signature, shape, arch)
  std::string signature;
  std::string op_type;
  std::string dtype;  ///< the primary dtype (dtypes[0])
  std::vector<std::string> dtypes;
  std::string attributes_json;
  std::string layout;
  Shape shape;
  std::string arch;
  std::vector<std::pair<std::string, std::string>> sources;  ///< (model, node) pairs
  int64_t created_ns = 0;
};

/// A recorded candidate as read back (source included).
struct CandidateInfo {
  int64_t id = 0;
  std::string hash;
  std::string language;
  std::string generator;
  std::string parent_hash;
  std::string parameters_json;
  std::string source;
  int64_t created_ns = 0;
};

/// A recorded evaluation as read back.
struct EvaluationInfo {
  int64_t id = 0;
  std::string uuid;  ///< stable id across databases (import skips ones already present)
  int64_t workload_id = 0;
  int64_t candidate_id = 0;
  EvaluationSpec result;  ///< timestamp_ns is the recorded time
};

/// A free-form note on a workload or a candidate.
struct NoteInfo {
  int64_t id = 0;
  std::string author;
  std::string text;
  int64_t created_ns = 0;
};

/// What `memory show` and notes refer to: W<id>, C<id>, E<id>.
enum class ItemKind { kWorkload, kCandidate, kEvaluation };
struct ItemRef {
  ItemKind kind = ItemKind::kWorkload;
  int64_t id = 0;
};
/// "W12" / "C7" / "E3" (the prefix is case-insensitive); nullopt for anything else.
std::optional<ItemRef> parse_item_ref(std::string_view text);
/// "W12" / "C7" / "E3".
std::string format_item_ref(const ItemRef& ref);

/// A retrieval request. Only workloads with the same op_type and dtype are considered.
struct Query {
  std::string op_type;    ///< required
  std::string dtype;      ///< required: the primary dtype
  Shape shape;            ///< required
  std::string arch;       ///< "" matches every architecture (no arch term in the distance)
  std::string signature;  ///< "" matches every signature of the op class; else exact match requires it
  int k = 5;              ///< how many nearest (non-exact) workloads
  int per_workload = 3;   ///< how many best candidates per workload
  int failure_limit = 5;  ///< how many failure reasons
};

/// The query for exact matches of `workload` (its signature, op type, primary dtype and
/// shapes; every architecture). Fails as canonical_signature does.
Result<Query> query_for(const WorkloadSpec& workload);

/// The best verified evaluation of one candidate on one workload. It is verified for
/// `verified_for` only: the caller must verify it again on any other shape.
struct CandidateHit {
  CandidateInfo candidate;  ///< source text left empty (memory show C<id> has it)
  EvaluationInfo evaluation;
  int64_t verified_for = 0;  ///< the workload id it passed on
};

struct WorkloadMatch {
  WorkloadInfo workload;
  double distance = 0.0;  ///< 0 for exact matches
  int64_t evaluations = 0;
  int64_t passed = 0;
  std::vector<CandidateHit> best;  ///< best first
};

/// One failure reason among similar workloads: the status is its type, the gate refines it.
struct FailureCount {
  Verdict status = Verdict::kCompileError;
  std::string gate;
  int64_t count = 0;
  int64_t example_evaluation_id = 0;  ///< the latest such evaluation
  std::string example_summary;
};

struct SearchResult {
  std::vector<WorkloadMatch> exact;    ///< same signature (if given), op, dtype, shape and arch (if given)
  std::vector<WorkloadMatch> nearest;  ///< k nearest others, nearest first
  std::vector<FailureCount> failures;  ///< over exact and nearest workloads, most frequent first
};

/// The search distance between a query and a workload of the same op class and dtype
/// (docs/memory.md): Euclidean distance over log2 of each dimension, shapes aligned per
/// input from the last dimension (missing dimensions and inputs count as 1), plus
/// kArchPenalty when both architectures are known and differ, plus kSignaturePenalty
/// when both signatures are known and differ.
double workload_distance(const Shape& a, std::string_view arch_a, std::string_view signature_a, const Shape& b,
                         std::string_view arch_b, std::string_view signature_b);
inline constexpr double kArchPenalty = 2.0;
inline constexpr double kSignaturePenalty = 1.0;

struct WorkloadDetail {
  WorkloadInfo workload;
  std::vector<CandidateHit> best;
  std::vector<EvaluationInfo> evaluations;  ///< newest first, at most 50
  int64_t evaluation_count = 0;
  std::vector<NoteInfo> notes;
};

struct CandidateDetail {
  CandidateInfo candidate;
  std::vector<std::string> children;        ///< hashes of candidates derived from it
  std::vector<EvaluationInfo> evaluations;  ///< newest first, at most 50
  int64_t evaluation_count = 0;
  std::vector<NoteInfo> notes;
};

struct Stats {
  std::filesystem::path path;
  int schema_version = 0;
  int64_t workloads = 0;
  int64_t candidates = 0;
  int64_t evaluations = 0;
  int64_t notes = 0;
  std::vector<std::pair<std::string, int64_t>> evaluations_by_status;  ///< most frequent first
  std::vector<std::pair<std::string, int64_t>> workloads_by_op;        ///< "Softmax/float16", most frequent first
  int64_t file_size_bytes = 0;                                        ///< the database file, WAL excluded
  int64_t wal_size_bytes = 0;
};

struct ImportReport {
  int64_t lines = 0;
  int64_t workloads_added = 0;
  int64_t candidates_added = 0;
  int64_t evaluations_added = 0;
  int64_t evaluations_present = 0;  ///< already in the store (same uuid), skipped
  int64_t notes_added = 0;
};

struct GcOptions {
  bool dry_run = false;  ///< count what would go, change nothing
  bool vacuum = true;    ///< rewrite the file afterwards to return space
};

/// Garbage: workloads and candidates that nothing refers to (no evaluation, no note, not
/// the parent of a recorded candidate).
struct GcReport {
  int64_t workloads_removed = 0;
  int64_t candidates_removed = 0;
  int64_t size_before_bytes = 0;  ///< database + WAL
  int64_t size_after_bytes = 0;
};

}  // namespace ak::memory
