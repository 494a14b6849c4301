// Keeping the memory file healthy: statistics, garbage collection, integrity check.
#include <system_error>

#include "memory/internal/rows.h"
#include "memory/internal/store_impl.h"

namespace ak::memory {
namespace {

using internal::Database;
using internal::Statement;

int64_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

int64_t size_with_wal(const std::filesystem::path& path) {
  return file_size_or_zero(path) + file_size_or_zero(path.string() + "-wal");
}

Result<std::vector<std::pair<std::string, int64_t>>> grouped_counts(Database& db, const std::string& sql) {
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(sql));
  std::vector<std::pair<std::string, int64_t>> counts;
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    counts.emplace_back(stmt.column_text(0), stmt.column_int(1));
  }
  return counts;
}

// What gc removes: nothing refers to it. A candidate that is some candidate's parent stays,
// so lineage is never cut.
constexpr const char* kUnusedCandidates =
    " FROM candidates WHERE NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.candidate_id = candidates.id)"
    " AND NOT EXISTS (SELECT 1 FROM notes n WHERE n.candidate_id = candidates.id)"
    " AND NOT EXISTS (SELECT 1 FROM candidates child WHERE child.parent_hash = candidates.hash)";
constexpr const char* kUnusedWorkloads =
    " FROM workloads WHERE NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.workload_id = workloads.id)"
    " AND NOT EXISTS (SELECT 1 FROM notes n WHERE n.workload_id = workloads.id)";

}  // namespace

Result<Stats> Store::stats() {
  auto& db = impl_->db;
  internal::ReadTransaction snapshot(db);
  AK_RETURN_IF_ERROR(snapshot.begin());
  Stats stats;
  stats.path = db.path();
  AK_ASSIGN_OR_RETURN(int64_t version, db.query_int("PRAGMA user_version"));
  stats.schema_version = static_cast<int>(version);
  AK_ASSIGN_OR_RETURN(stats.workloads, db.query_int("SELECT count(*) FROM workloads"));
  AK_ASSIGN_OR_RETURN(stats.candidates, db.query_int("SELECT count(*) FROM candidates"));
  AK_ASSIGN_OR_RETURN(stats.evaluations, db.query_int("SELECT count(*) FROM evaluations"));
  AK_ASSIGN_OR_RETURN(stats.notes, db.query_int("SELECT count(*) FROM notes"));
  AK_ASSIGN_OR_RETURN(stats.evaluations_by_status,
                      grouped_counts(db, "SELECT status, count(*) AS n FROM evaluations GROUP BY status"
                                         " ORDER BY n DESC, status"));
  AK_ASSIGN_OR_RETURN(stats.workloads_by_op,
                      grouped_counts(db, "SELECT op_type || '/' || dtype AS class, count(*) AS n FROM workloads"
                                         " GROUP BY op_type, dtype ORDER BY n DESC, class"));
  stats.file_size_bytes = file_size_or_zero(db.path());
  stats.wal_size_bytes = file_size_or_zero(db.path().string() + "-wal");
  return stats;
}

Result<GcReport> Store::gc(const GcOptions& options) {
  auto& db = impl_->db;
  GcReport report;
  report.size_before_bytes = size_with_wal(db.path());
  {
    internal::WriteTransaction transaction(db);
    AK_RETURN_IF_ERROR(transaction.begin());
    if (options.dry_run) {
      AK_ASSIGN_OR_RETURN(report.candidates_removed, db.query_int(std::string("SELECT count(*)") + kUnusedCandidates));
      AK_ASSIGN_OR_RETURN(report.workloads_removed, db.query_int(std::string("SELECT count(*)") + kUnusedWorkloads));
      report.size_after_bytes = report.size_before_bytes;
      return report;  // the transaction rolls back: nothing changed
    }
    AK_RETURN_IF_ERROR(db.exec(std::string("DELETE") + kUnusedCandidates));
    report.candidates_removed = db.changes();
    AK_RETURN_IF_ERROR(db.exec(std::string("DELETE FROM workload_sources WHERE workload_id IN (SELECT id") +
                               kUnusedWorkloads + ")"));
    AK_RETURN_IF_ERROR(db.exec(std::string("DELETE") + kUnusedWorkloads));
    report.workloads_removed = db.changes();
    AK_RETURN_IF_ERROR(transaction.commit());
  }
  AK_RETURN_IF_ERROR(db.exec("PRAGMA optimize"));
  if (options.vacuum) AK_RETURN_IF_ERROR(db.exec("VACUUM"));
  // Fold the WAL back into the file; readers of other processes may keep it from being
  // truncated, which is harmless.
  AK_RETURN_IF_ERROR(db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  report.size_after_bytes = size_with_wal(db.path());
  return report;
}

Status Store::check_integrity() {
  auto& db = impl_->db;
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare("PRAGMA integrity_check(10)"));
  std::string problems;
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    std::string line = stmt.column_text(0);
    if (line == "ok") return Status::ok();
    problems += (problems.empty() ? "" : "; ") + line;
  }
  return invalid_input(db.path().string() + " fails the integrity check: " + problems);
}

}  // namespace ak::memory
