#pragma once
/// memory/ store: the memory file, one SQLite connection (behind a pimpl: no SQLite header
/// here). Durability guarantees and the JSONL export format are in docs/memory.md.

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "memory/records.h"

namespace ak::memory {

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

}  // namespace ak::memory
