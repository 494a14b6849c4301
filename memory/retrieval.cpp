// Retrieval: exact matches, k nearest workloads by log2-shape distance, frequent failure
// reasons; and the detail views of `memory show`.
#include <algorithm>
#include <bit>
#include <cmath>
#include <unordered_set>

#include "memory/internal/identity.h"
#include "memory/internal/rows.h"
#include "memory/internal/store_impl.h"

namespace ak::memory {
namespace {

using internal::Database;
using internal::Statement;

// log2(max(dim, 1)); exact and cheap for the common powers of two.
double log2_dim(int64_t dim) {
  if (dim <= 1) return 0.0;
  auto value = static_cast<uint64_t>(dim);
  if (std::has_single_bit(value)) return static_cast<double>(std::countr_zero(value));
  return std::log2(static_cast<double>(dim));
}

using ShapeLog2 = std::vector<std::vector<double>>;

ShapeLog2 shape_log2(const Shape& shape) {
  ShapeLog2 out;
  for (const auto& dims : shape) {
    out.emplace_back();
    for (int64_t dim : dims) out.back().push_back(log2_dim(dim));
  }
  return out;
}

// The distance of docs/memory.md, with the query's logarithms computed once per search.
double distance_from_log2(const ShapeLog2& a, std::string_view arch_a, std::string_view signature_a, const Shape& b,
                          std::string_view arch_b, std::string_view signature_b) {
  double sum = 0.0;
  const size_t inputs = std::max(a.size(), b.size());
  for (size_t i = 0; i < inputs; ++i) {
    const size_t rank_a = i < a.size() ? a[i].size() : 0;
    const size_t rank_b = i < b.size() ? b[i].size() : 0;
    // Aligned from the last dimension, like broadcasting: [12,128,128] vs [128,128].
    for (size_t j = 0; j < std::max(rank_a, rank_b); ++j) {
      double x = j < rank_a ? a[i][rank_a - 1 - j] : 0.0;
      double y = j < rank_b ? log2_dim(b[i][rank_b - 1 - j]) : 0.0;
      sum += (x - y) * (x - y);
    }
  }
  double distance = std::sqrt(sum);
  if (!arch_a.empty() && !arch_b.empty() && arch_a != arch_b) distance += kArchPenalty;
  if (!signature_a.empty() && !signature_b.empty() && signature_a != signature_b) distance += kSignaturePenalty;
  return distance;
}

// The best PASSED evaluation of each candidate on `workload_id`, best first: highest
// speedup, then lowest latency. A candidate that ever failed a correctness gate on this
// workload is left out, whatever else passed.
Result<std::vector<CandidateHit>> best_candidates(Database& db, int64_t workload_id, int limit) {
  std::vector<CandidateHit> hits;
  if (limit <= 0) return hits;
  AK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.prepare(std::string("SELECT ") + internal::kEvaluationColumns + ", " + internal::kCandidateColumns +
                 " FROM evaluations e JOIN candidates c ON c.id = e.candidate_id"
                 " WHERE e.workload_id = ?1 AND e.status = 'PASSED' AND NOT EXISTS (SELECT 1 FROM evaluations f"
                 " WHERE f.workload_id = ?1 AND f.candidate_id = e.candidate_id AND f.status IN ('INCORRECT_SHAPE',"
                 " 'INCORRECT_DTYPE', 'INCORRECT_NUMERICAL', 'CHEAT_SUSPECTED'))"
                 " ORDER BY e.speedup DESC NULLS LAST, e.latency_ns ASC NULLS LAST, e.id ASC"));
  stmt.bind(1, workload_id);
  std::unordered_set<int64_t> seen;
  while (static_cast<int>(hits.size()) < limit) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    AK_ASSIGN_OR_RETURN(EvaluationInfo evaluation, internal::read_evaluation_columns(stmt, 0));
    if (!seen.insert(evaluation.candidate_id).second) continue;
    CandidateHit hit;
    hit.candidate = internal::read_candidate_columns(stmt, internal::kEvaluationColumnCount);
    hit.evaluation = std::move(evaluation);
    hit.verified_for = workload_id;
    hits.push_back(std::move(hit));
  }
  return hits;
}

Result<WorkloadMatch> load_match(Database& db, int64_t workload_id, double distance, int per_workload) {
  WorkloadMatch match;
  AK_ASSIGN_OR_RETURN(match.workload, internal::load_workload(db, workload_id));
  match.distance = distance;
  {
    AK_ASSIGN_OR_RETURN(Statement counts,
                        db.prepare("SELECT count(*), coalesce(sum(status = 'PASSED'), 0) FROM evaluations"
                                   " WHERE workload_id = ?1"));
    counts.bind(1, workload_id);
    AK_ASSIGN_OR_RETURN(bool row, counts.step());
    if (row) {
      match.evaluations = counts.column_int(0);
      match.passed = counts.column_int(1);
    }
  }
  AK_ASSIGN_OR_RETURN(match.best, best_candidates(db, workload_id, per_workload));
  return match;
}

Result<std::vector<FailureCount>> frequent_failures(Database& db, const std::vector<int64_t>& workload_ids, int limit) {
  std::vector<FailureCount> failures;
  if (workload_ids.empty() || limit <= 0) return failures;
  // One placeholder per workload; k is small, so the few distinct statements stay cached.
  std::string placeholders;
  for (size_t i = 0; i < workload_ids.size(); ++i) placeholders += i == 0 ? "?" : ", ?";
  AK_ASSIGN_OR_RETURN(Statement stmt,
                      db.prepare("SELECT status, failure_gate, count(*) AS n, max(id) FROM evaluations"
                                 " WHERE status <> 'PASSED' AND workload_id IN (" + placeholders +
                                 ") GROUP BY status, failure_gate ORDER BY n DESC, max(id) DESC LIMIT ?"));
  int index = 1;
  for (int64_t id : workload_ids) stmt.bind(index++, id);
  stmt.bind(index, int64_t{limit});
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    FailureCount failure;
    auto status = kernels::parse_verdict(stmt.column_text(0));
    if (!status) return invalid_input("unknown evaluation status '" + stmt.column_text(0) + "' in the memory");
    failure.status = *status;
    failure.gate = stmt.column_text(1);
    failure.count = stmt.column_int(2);
    failure.example_evaluation_id = stmt.column_int(3);
    failures.push_back(std::move(failure));
  }
  for (auto& failure : failures) {
    AK_ASSIGN_OR_RETURN(Statement summary, db.prepare("SELECT failure_summary FROM evaluations WHERE id = ?1"));
    summary.bind(1, failure.example_evaluation_id);
    AK_ASSIGN_OR_RETURN(bool row, summary.step());
    if (row) failure.example_summary = summary.column_text(0);
  }
  return failures;
}

Result<std::vector<EvaluationInfo>> newest_evaluations(Database& db, const char* column, int64_t id, int limit) {
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + internal::kEvaluationColumns +
                                                 " FROM evaluations e WHERE e." + column +
                                                 " = ?1 ORDER BY e.created_ns DESC, e.id DESC LIMIT ?2"));
  stmt.bind(1, id).bind(2, int64_t{limit});
  std::vector<EvaluationInfo> evaluations;
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    AK_ASSIGN_OR_RETURN(EvaluationInfo evaluation, internal::read_evaluation_columns(stmt, 0));
    evaluations.push_back(std::move(evaluation));
  }
  return evaluations;
}

Result<int64_t> count_where(Database& db, const std::string& sql, int64_t id) {
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(sql));
  stmt.bind(1, id);
  AK_ASSIGN_OR_RETURN(bool row, stmt.step());
  return row ? stmt.column_int(0) : int64_t{0};
}

constexpr int kDetailEvaluations = 50;

}  // namespace

double workload_distance(const Shape& a, std::string_view arch_a, std::string_view signature_a, const Shape& b,
                         std::string_view arch_b, std::string_view signature_b) {
  return distance_from_log2(shape_log2(a), arch_a, signature_a, b, arch_b, signature_b);
}

Result<SearchResult> Store::search(const Query& query) {
  if (query.op_type.empty()) return invalid_input("search needs an op type (--op)");
  if (query.dtype.empty()) return invalid_input("search needs a dtype (--dtype)");
  if (query.shape.empty()) return invalid_input("search needs a shape (--shape)");
  if (query.k < 0 || query.per_workload < 0 || query.failure_limit < 0)
    return invalid_input("search limits must not be negative");
  auto& db = impl_->db;
  internal::ReadTransaction snapshot(db);
  AK_RETURN_IF_ERROR(snapshot.begin());

  const std::string shape_text = format_shape(query.shape);
  std::vector<int64_t> exact_ids;
  std::vector<std::pair<double, int64_t>> others;
  {
    const ShapeLog2 query_log2 = shape_log2(query.shape);
    Shape shape;  // reused across rows
    AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT id, signature, shape, arch FROM workloads"
                                                   " WHERE op_type = ?1 AND dtype = ?2"));
    stmt.bind(1, query.op_type).bind(2, query.dtype);
    while (true) {
      AK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) break;
      const int64_t id = stmt.column_int(0);
      const std::string_view signature = stmt.column_view(1);
      const std::string_view shape_view = stmt.column_view(2);
      const std::string_view arch = stmt.column_view(3);
      if (shape_view == shape_text && (query.arch.empty() || arch == query.arch) &&
          (query.signature.empty() || signature == query.signature)) {
        exact_ids.push_back(id);
        continue;
      }
      if (!internal::parse_shape_into(shape_view, shape))
        return invalid_input("W" + std::to_string(id) + " has a damaged shape: " + std::string(shape_view));
      others.emplace_back(distance_from_log2(query_log2, query.arch, query.signature, shape, arch, signature), id);
    }
  }
  const size_t k = std::min(others.size(), static_cast<size_t>(query.k));
  std::partial_sort(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(k), others.end());

  SearchResult result;
  std::vector<int64_t> similar_ids = exact_ids;
  for (int64_t id : exact_ids) {
    AK_ASSIGN_OR_RETURN(WorkloadMatch match, load_match(db, id, 0.0, query.per_workload));
    result.exact.push_back(std::move(match));
  }
  // Exact matches, best verified first (several when arch or signature were left open).
  std::stable_sort(result.exact.begin(), result.exact.end(), [](const WorkloadMatch& x, const WorkloadMatch& y) {
    double sx = x.best.empty() || !x.best[0].evaluation.result.speedup ? -1 : *x.best[0].evaluation.result.speedup;
    double sy = y.best.empty() || !y.best[0].evaluation.result.speedup ? -1 : *y.best[0].evaluation.result.speedup;
    return sx > sy;
  });
  for (size_t i = 0; i < k; ++i) {
    AK_ASSIGN_OR_RETURN(WorkloadMatch match, load_match(db, others[i].second, others[i].first, query.per_workload));
    result.nearest.push_back(std::move(match));
    similar_ids.push_back(others[i].second);
  }
  AK_ASSIGN_OR_RETURN(result.failures, frequent_failures(db, similar_ids, query.failure_limit));
  return result;
}

Result<ItemRef> Store::resolve(std::string_view text) {
  auto& db = impl_->db;
  if (auto ref = parse_item_ref(text)) {
    switch (ref->kind) {
      case ItemKind::kWorkload: AK_RETURN_IF_ERROR(internal::load_workload(db, ref->id).status()); break;
      case ItemKind::kCandidate: AK_RETURN_IF_ERROR(internal::load_candidate(db, ref->id, false).status()); break;
      case ItemKind::kEvaluation: AK_RETURN_IF_ERROR(internal::load_evaluation(db, ref->id).status()); break;
    }
    return *ref;
  }
  const bool hex = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
  });
  if (!hex || text.size() < 6 || text.size() > 64)
    return invalid_input("'" + std::string(text) +
                         "' is neither W<id>, C<id>, E<id> nor a candidate hash prefix (6 to 64 lowercase hex digits)");
  // Every hash that starts with `text` sorts in [text, text + "g"): hex digits are below 'g'.
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT id FROM candidates WHERE hash >= ?1 AND hash < ?2 LIMIT 2"));
  stmt.bind(1, text).bind(2, std::string(text) + "g");
  std::vector<int64_t> ids;
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    ids.push_back(stmt.column_int(0));
  }
  if (ids.empty()) return invalid_input("no candidate with a hash starting with " + std::string(text));
  if (ids.size() > 1) return invalid_input("hash prefix " + std::string(text) + " is ambiguous; give more digits");
  return ItemRef{ItemKind::kCandidate, ids.front()};
}

Result<WorkloadDetail> Store::workload_detail(int64_t id) {
  auto& db = impl_->db;
  internal::ReadTransaction snapshot(db);
  AK_RETURN_IF_ERROR(snapshot.begin());
  WorkloadDetail detail;
  AK_ASSIGN_OR_RETURN(detail.workload, internal::load_workload(db, id));
  AK_ASSIGN_OR_RETURN(detail.best, best_candidates(db, id, 10));
  AK_ASSIGN_OR_RETURN(detail.evaluations, newest_evaluations(db, "workload_id", id, kDetailEvaluations));
  AK_ASSIGN_OR_RETURN(detail.evaluation_count,
                      count_where(db, "SELECT count(*) FROM evaluations WHERE workload_id = ?1", id));
  AK_ASSIGN_OR_RETURN(detail.notes, internal::load_notes(db, {ItemKind::kWorkload, id}));
  return detail;
}

Result<CandidateDetail> Store::candidate_detail(int64_t id) {
  auto& db = impl_->db;
  internal::ReadTransaction snapshot(db);
  AK_RETURN_IF_ERROR(snapshot.begin());
  CandidateDetail detail;
  AK_ASSIGN_OR_RETURN(detail.candidate, internal::load_candidate(db, id, true));
  {
    AK_ASSIGN_OR_RETURN(Statement children, db.prepare("SELECT hash FROM candidates WHERE parent_hash = ?1 ORDER BY id"));
    children.bind(1, detail.candidate.hash);
    while (true) {
      AK_ASSIGN_OR_RETURN(bool row, children.step());
      if (!row) break;
      detail.children.push_back(children.column_text(0));
    }
  }
  AK_ASSIGN_OR_RETURN(detail.evaluations, newest_evaluations(db, "candidate_id", id, kDetailEvaluations));
  AK_ASSIGN_OR_RETURN(detail.evaluation_count,
                      count_where(db, "SELECT count(*) FROM evaluations WHERE candidate_id = ?1", id));
  AK_ASSIGN_OR_RETURN(detail.notes, internal::load_notes(db, {ItemKind::kCandidate, id}));
  return detail;
}

Result<EvaluationInfo> Store::evaluation(int64_t id) { return internal::load_evaluation(impl_->db, id); }

}  // namespace ak::memory
