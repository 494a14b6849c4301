// Rows of the memory tables: the one place that knows their columns.
#include "memory/internal/rows.h"

#include <cmath>

namespace ak::memory::internal {
namespace {

// Cuts `text` to at most `limit` bytes without splitting a UTF-8 sequence.
std::string cut_utf8(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// SQLite stores NaN as NULL anyway; say so explicitly. Infinity is kept (an error of inf
// is a real finding).
std::optional<double> nan_to_null(const std::optional<double>& value) {
  if (value && std::isnan(*value)) return std::nullopt;
  return value;
}

}  // namespace

Result<WorkloadInfo> read_workload_columns(const Statement& stmt, int first) {
  WorkloadInfo info;
  info.id = stmt.column_int(first);
  info.signature = stmt.column_text(first + 1);
  info.op_type = stmt.column_text(first + 2);
  info.dtype = stmt.column_text(first + 3);
  info.dtypes = split_list(stmt.column_text(first + 4));
  info.attributes_json = stmt.column_text(first + 5);
  info.layout = stmt.column_text(first + 6);
  std::string shape_text = stmt.column_text(first + 7);
  info.arch = stmt.column_text(first + 8);
  info.created_ns = stmt.column_int(first + 9);
  auto shape = parse_shape(shape_text);
  if (!shape.is_ok()) return invalid_input("W" + std::to_string(info.id) + " has a damaged shape: " + shape_text);
  info.shape = std::move(shape).value();
  info.key = workload_key(info.signature, shape_text, info.arch);
  return info;
}

CandidateInfo read_candidate_columns(const Statement& stmt, int first) {
  CandidateInfo info;
  info.id = stmt.column_int(first);
  info.hash = stmt.column_text(first + 1);
  info.language = stmt.column_text(first + 2);
  info.generator = stmt.column_text(first + 3);
  info.parent_hash = stmt.column_text(first + 4);
  info.parameters_json = stmt.column_text(first + 5);
  info.created_ns = stmt.column_int(first + 6);
  return info;
}

Result<EvaluationInfo> read_evaluation_columns(const Statement& stmt, int first) {
  EvaluationInfo info;
  info.id = stmt.column_int(first);
  info.uuid = stmt.column_text(first + 1);
  info.workload_id = stmt.column_int(first + 2);
  info.candidate_id = stmt.column_int(first + 3);
  std::string status = stmt.column_text(first + 4);
  auto parsed = kernels::parse_verdict(status);
  if (!parsed) return invalid_input("E" + std::to_string(info.id) + " has an unknown status '" + status + "'");
  EvaluationSpec& r = info.result;
  r.status = *parsed;
  r.device = stmt.column_text(first + 5);
  r.driver_version = stmt.column_text(first + 6);
  r.cuda_version = stmt.column_text(first + 7);
  r.compiler_version = stmt.column_text(first + 8);
  r.latency_ns = stmt.column_optional_int(first + 9);
  r.baseline_latency_ns = stmt.column_optional_int(first + 10);
  r.speedup = stmt.column_optional_double(first + 11);
  r.speedup_low = stmt.column_optional_double(first + 12);
  r.speedup_high = stmt.column_optional_double(first + 13);
  r.max_abs_error = stmt.column_optional_double(first + 14);
  r.max_rel_error = stmt.column_optional_double(first + 15);
  r.failure_gate = stmt.column_text(first + 16);
  r.failure_input = stmt.column_text(first + 17);
  r.failure_summary = stmt.column_text(first + 18);
  r.timestamp_ns = stmt.column_int(first + 19);
  return info;
}

Result<WorkloadInfo> load_workload(Database& db, int64_t id) {
  WorkloadInfo info;
  {
    AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + kWorkloadColumns +
                                                   " FROM workloads w WHERE w.id = ?1"));
    stmt.bind(1, id);
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return invalid_input("no workload W" + std::to_string(id) + " in " + db.path().string());
    AK_ASSIGN_OR_RETURN(info, read_workload_columns(stmt, 0));
  }
  AK_ASSIGN_OR_RETURN(info.sources, load_sources(db, id));
  return info;
}

Result<std::vector<std::pair<std::string, std::string>>> load_sources(Database& db, int64_t workload_id) {
  AK_ASSIGN_OR_RETURN(Statement stmt,
                      db.prepare("SELECT model, node FROM workload_sources WHERE workload_id = ?1 ORDER BY model, node"));
  stmt.bind(1, workload_id);
  std::vector<std::pair<std::string, std::string>> sources;
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    sources.emplace_back(stmt.column_text(0), stmt.column_text(1));
  }
  return sources;
}

Result<CandidateInfo> load_candidate(Database& db, int64_t id, bool with_source) {
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + kCandidateColumns +
                                                 ", c.source FROM candidates c WHERE c.id = ?1"));
  stmt.bind(1, id);
  AK_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return invalid_input("no candidate C" + std::to_string(id) + " in " + db.path().string());
  CandidateInfo info = read_candidate_columns(stmt, 0);
  if (with_source) info.source = stmt.column_text(kCandidateColumnCount);
  return info;
}

Result<EvaluationInfo> load_evaluation(Database& db, int64_t id) {
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + kEvaluationColumns +
                                                 " FROM evaluations e WHERE e.id = ?1"));
  stmt.bind(1, id);
  AK_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return invalid_input("no evaluation E" + std::to_string(id) + " in " + db.path().string());
  return read_evaluation_columns(stmt, 0);
}

Result<std::vector<NoteInfo>> load_notes(Database& db, const ItemRef& target) {
  const char* column = target.kind == ItemKind::kWorkload ? "workload_id" : "candidate_id";
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT id, author, text, created_ns FROM notes WHERE ") +
                                                 column + " = ?1 ORDER BY created_ns, id"));
  stmt.bind(1, target.id);
  std::vector<NoteInfo> notes;
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    notes.push_back({stmt.column_int(0), stmt.column_text(1), stmt.column_text(2), stmt.column_int(3)});
  }
  return notes;
}

Result<std::pair<int64_t, bool>> upsert_workload(Database& db, const WorkloadRow& row,
                                                 const std::vector<std::pair<std::string, std::string>>& sources,
                                                 int64_t created_ns) {
  int64_t id = 0;
  bool added = false;
  {
    AK_ASSIGN_OR_RETURN(Statement find,
                        db.prepare("SELECT id FROM workloads WHERE signature = ?1 AND shape = ?2 AND arch = ?3"));
    find.bind(1, row.signature).bind(2, row.shape).bind(3, row.arch);
    AK_ASSIGN_OR_RETURN(bool found, find.step());
    if (found) id = find.column_int(0);
  }
  if (id == 0) {
    AK_ASSIGN_OR_RETURN(Statement insert,
                        db.prepare("INSERT INTO workloads (signature, op_type, dtype, dtypes, attributes, layout, shape, "
                                   "arch, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    insert.bind(1, row.signature).bind(2, row.op_type).bind(3, row.dtype).bind(4, row.dtypes);
    insert.bind(5, row.attributes).bind(6, row.layout).bind(7, row.shape).bind(8, row.arch).bind(9, created_ns);
    AK_RETURN_IF_ERROR(insert.run());
    id = db.last_insert_rowid();
    added = true;
  }
  for (const auto& [model, node] : sources) {
    if (model.empty() && node.empty()) continue;
    AK_ASSIGN_OR_RETURN(Statement source,
                        db.prepare("INSERT OR IGNORE INTO workload_sources (workload_id, model, node) VALUES (?1, ?2, ?3)"));
    source.bind(1, id).bind(2, model).bind(3, node);
    AK_RETURN_IF_ERROR(source.run());
  }
  return std::pair{id, added};
}

Result<std::pair<int64_t, bool>> upsert_candidate(Database& db, const std::string& hash, const CandidateSpec& candidate,
                                                  const std::string& parameters, int64_t created_ns) {
  {
    AK_ASSIGN_OR_RETURN(Statement find, db.prepare("SELECT id FROM candidates WHERE hash = ?1"));
    find.bind(1, hash);
    AK_ASSIGN_OR_RETURN(bool found, find.step());
    if (found) return std::pair{find.column_int(0), false};
  }
  AK_ASSIGN_OR_RETURN(Statement insert,
                      db.prepare("INSERT INTO candidates (hash, source, language, generator, parent_hash, parameters, "
                                 "created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  insert.bind(1, hash).bind(2, candidate.source).bind(3, candidate.language).bind(4, candidate.generator);
  if (candidate.parent_hash.empty())
    insert.bind_null(5);
  else
    insert.bind(5, candidate.parent_hash);
  insert.bind(6, parameters).bind(7, created_ns);
  AK_RETURN_IF_ERROR(insert.run());
  return std::pair{db.last_insert_rowid(), true};
}

Result<int64_t> insert_evaluation(Database& db, const std::string& uuid, int64_t workload_id, int64_t candidate_id,
                                  const EvaluationSpec& e) {
  AK_ASSIGN_OR_RETURN(
      Statement insert,
      db.prepare("INSERT INTO evaluations (uuid, workload_id, candidate_id, status, device, driver_version, "
                 "cuda_version, compiler_version, latency_ns, baseline_latency_ns, speedup, speedup_low, speedup_high, "
                 "max_abs_error, max_rel_error, failure_gate, failure_input, failure_summary, created_ns) VALUES "
                 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) "
                 "ON CONFLICT (uuid) DO NOTHING"));
  insert.bind(1, uuid).bind(2, workload_id).bind(3, candidate_id).bind(4, std::string_view(kernels::verdict_name(e.status))).bind(5, e.device);
  insert.bind(6, e.driver_version).bind(7, e.cuda_version).bind(8, e.compiler_version);
  insert.bind(9, e.latency_ns).bind(10, e.baseline_latency_ns);
  insert.bind(11, e.speedup).bind(12, e.speedup_low).bind(13, e.speedup_high);
  insert.bind(14, e.max_abs_error).bind(15, e.max_rel_error);
  insert.bind(16, e.failure_gate).bind(17, e.failure_input).bind(18, e.failure_summary).bind(19, e.timestamp_ns);
  AK_RETURN_IF_ERROR(insert.run());
  return db.changes() == 0 ? int64_t{0} : db.last_insert_rowid();
}

Result<int64_t> insert_note(Database& db, const std::string& uuid, const ItemRef& target, std::string_view author,
                            std::string_view text, int64_t created_ns) {
  if (target.kind == ItemKind::kEvaluation)
    return invalid_input("notes attach to a workload (W<id>) or a candidate (C<id>), not to " +
                         format_item_ref(target));
  if (text.empty()) return invalid_input("empty note");
  AK_ASSIGN_OR_RETURN(Statement insert,
                      db.prepare("INSERT INTO notes (uuid, workload_id, candidate_id, author, text, created_ns) "
                                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (uuid) DO NOTHING"));
  insert.bind(1, uuid);
  if (target.kind == ItemKind::kWorkload) {
    insert.bind(2, target.id).bind_null(3);
  } else {
    insert.bind_null(2).bind(3, target.id);
  }
  insert.bind(4, author).bind(5, text).bind(6, created_ns);
  AK_RETURN_IF_ERROR(insert.run());
  return db.changes() == 0 ? int64_t{0} : db.last_insert_rowid();
}

Result<EvaluationSpec> normalized_evaluation(const EvaluationSpec& evaluation, int64_t now) {
  if (!kernels::parse_verdict(kernels::verdict_name(evaluation.status)))
    return invalid_input("evaluation status " + std::to_string(static_cast<int>(evaluation.status)) +
                         " is not one of PASSED, COMPILE_ERROR, ...");
  if (evaluation.device.empty()) return invalid_input("evaluation has no device");
  if (evaluation.latency_ns && *evaluation.latency_ns < 0) return invalid_input("evaluation has a negative latency");
  if (evaluation.baseline_latency_ns && *evaluation.baseline_latency_ns < 0)
    return invalid_input("evaluation has a negative baseline latency");
  EvaluationSpec stored = evaluation;
  stored.speedup = nan_to_null(stored.speedup);
  stored.speedup_low = nan_to_null(stored.speedup_low);
  stored.speedup_high = nan_to_null(stored.speedup_high);
  stored.max_abs_error = nan_to_null(stored.max_abs_error);
  stored.max_rel_error = nan_to_null(stored.max_rel_error);
  stored.failure_gate = cut_utf8(stored.failure_gate, 128);
  stored.failure_input = cut_utf8(stored.failure_input, 256);
  stored.failure_summary = cut_utf8(stored.failure_summary, kMaxSummaryBytes);
  if (stored.timestamp_ns == 0) stored.timestamp_ns = now;
  return stored;
}

std::string workload_label(const WorkloadInfo& workload) {
  return "W" + std::to_string(workload.id) + " (" + workload.op_type + " " + format_shape(workload.shape) + " " +
         workload.dtype + " " + workload.arch + ")";
}

}  // namespace ak::memory::internal
