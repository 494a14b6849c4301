#pragma once
/// memory/: the project's memory of kernel optimizations, in one SQLite file.
///
/// It records workloads (what was optimized: op or fused pattern, attributes, dtypes,
/// layout, shapes, device architecture, where it came from), candidates (kernel source,
/// its hash, generator, parent, parameters), evaluations (device, versions, verifier
/// status, latencies, speedup with its interval, worst error, failure reason) and notes;
/// and it answers "what do we already know about this workload?" (search).
///
/// The schema, the distance used by search, the JSONL export format and the durability
/// guarantees are documented in docs/memory.md. No SQLite header is included here: the
/// Store holds its connection behind a pimpl.

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/sha256.h"
#include "base/status.h"

namespace ak::memory {

/// The verifier's verdict on one evaluation (DESIGN.md "Evaluation status").
enum class EvalStatus : int {
  kPassed = 0,
  kCompileError,
  kRuntimeError,
  kTimeout,
  kIncorrectShape,
  kIncorrectDtype,
  kIncorrectNumerical,
  kCheatSuspected,
};
inline constexpr int kEvalStatusCount = 8;

/// "PASSED", "COMPILE_ERROR", ... (the spelling stored in the database and exported).
std::string_view to_string(EvalStatus status);
/// The inverse of to_string; nullopt for any other text.
std::optional<EvalStatus> parse_eval_status(std::string_view text);
/// True for the verdicts that say the candidate computes the wrong thing on that workload
/// (INCORRECT_* and CHEAT_SUSPECTED): such a candidate is never "verified" for it again.
bool is_correctness_failure(EvalStatus status);

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
  EvalStatus status = EvalStatus::kPassed;
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
  EvalStatus status = EvalStatus::kCompileError;
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

struct OpenOptions {
  bool create_if_missing = true;  ///< false: a missing file is an error (read-only commands)
  int busy_timeout_ms = 10000;    ///< how long a write waits for another process's transaction
};

/// The current schema version; a file with a newer one is refused.
inline constexpr int kSchemaVersion = 2;
/// The JSONL export format version (the header line's "version").
inline constexpr int kExportFormatVersion = 1;

/// The memory file: one SQLite connection.
///
/// Thread-safety: one Store per thread; any number of Stores, in any number of processes,
/// may use the same file at once (WAL, busy timeout, BEGIN IMMEDIATE). A write is
/// durable once the call returns ok (synchronous=FULL).
class Store {
 public:
  /// Opens `path`, creating it (and its folder) when missing and allowed. Before writing
  /// anything it checks the SQLite header and application_id: a file that is not an
  /// autokernel memory, is corrupted, or has a newer schema version is refused with an
  /// error (kInvalidInput / kUnsupported) and left as it was. An older schema is migrated.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path, const OpenOptions& options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& path() const;

  /// Records one evaluation with its workload and candidate (both created on first sight)
  /// in one transaction. Validation errors (empty op type, bad JSON, bad shape) are
  /// kInvalidInput and record nothing.
  Result<RecordIds> record(const Record& record);
  /// Records many in one transaction: all or nothing. Much faster per record.
  Result<std::vector<RecordIds>> record_batch(std::span<const Record> records);

  /// Attaches a note to a workload or candidate (an evaluation is not a valid target).
  Result<int64_t> add_note(const ItemRef& target, std::string_view text, std::string_view author);

  /// Exact matches, k nearest workloads and frequent failure reasons (see Query).
  Result<SearchResult> search(const Query& query);

  /// Resolves "W12" / "C7" / "E3" or a prefix (>= 6 hex digits) of a candidate hash.
  Result<ItemRef> resolve(std::string_view text);
  Result<WorkloadDetail> workload_detail(int64_t id);
  Result<CandidateDetail> candidate_detail(int64_t id);
  Result<EvaluationInfo> evaluation(int64_t id);

  Result<Stats> stats();

  /// Writes every record as JSONL (docs/memory.md "Export format"), one consistent snapshot.
  Status export_jsonl(std::ostream& out);
  /// Reads export_jsonl's format in one transaction. A malformed line is reported as
  /// "<name>:<line>: <what>" and nothing of the import is kept.
  Result<ImportReport> import_jsonl(std::istream& in, std::string_view name);

  Result<GcReport> gc(const GcOptions& options);

  /// `PRAGMA integrity_check`: ok, or the first problems SQLite reports.
  Status check_integrity();

  /// The connection's state; defined inside memory/ only (opaque to callers).
  struct Impl;
  /// Used by open(); callers cannot build an Impl.
  explicit Store(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

/// The memory file to use: `flag_path` if not empty, else $AUTOKERNEL_MEMORY, else
/// ~/.cache/autokernel/memory.db ($XDG_CACHE_HOME/autokernel/memory.db when set).
std::filesystem::path default_memory_path(const std::string& flag_path);

/// A search query for a task directory's task.json (fields read: op_type, inputs
/// {name: {shape, dtype}} in file order, axes {name: {value}} for named dimensions,
/// attributes). The signature is filled in, so exact matches need the same attributes.
Result<Query> query_from_task(const std::filesystem::path& task_dir);

/// JSON text (one object) for `--json` output; the shapes are documented in docs/memory.md.
std::string to_json(const SearchResult& result);
std::string to_json(const WorkloadDetail& detail);
std::string to_json(const CandidateDetail& detail);
std::string to_json(const EvaluationInfo& evaluation);
std::string to_json(const Stats& stats);
std::string to_json(const ImportReport& report);
std::string to_json(const GcReport& report);

}  // namespace ak::memory
