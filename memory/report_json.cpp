// Machine-readable (--json) views of search results, details, stats and reports.
#include <nlohmann/json.hpp>

#include "memory/internal/rows.h"

namespace ak::memory {
namespace {

using nlohmann::json;

json optional_json(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }
json optional_json(const std::optional<int64_t>& value) { return value ? json(*value) : json(nullptr); }

json attributes_json(const std::string& text) {
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? json(text) : parsed;
}

json workload_json(const WorkloadInfo& w) {
  json sources = json::array();
  for (const auto& [model, node] : w.sources) sources.push_back({{"model", model}, {"node", node}});
  return {{"id", format_item_ref({ItemKind::kWorkload, w.id})},
          {"key", w.key},
          {"signature", w.signature},
          {"op_type", w.op_type},
          {"dtype", w.dtype},
          {"dtypes", w.dtypes},
          {"attributes", attributes_json(w.attributes_json)},
          {"layout", w.layout},
          {"shape", format_shape(w.shape)},
          {"arch", w.arch},
          {"sources", sources},
          {"created_ns", w.created_ns}};
}

json candidate_json(const CandidateInfo& c) {
  json out = {{"id", format_item_ref({ItemKind::kCandidate, c.id})},
              {"hash", c.hash},
              {"language", c.language},
              {"generator", c.generator},
              {"parent_hash", c.parent_hash.empty() ? json(nullptr) : json(c.parent_hash)},
              {"parameters", attributes_json(c.parameters_json)},
              {"created_ns", c.created_ns}};
  if (!c.source.empty()) out["source"] = c.source;
  return out;
}

json evaluation_json(const EvaluationInfo& e) {
  const EvaluationSpec& r = e.result;
  return {{"id", format_item_ref({ItemKind::kEvaluation, e.id})},
          {"uuid", e.uuid},
          {"workload", format_item_ref({ItemKind::kWorkload, e.workload_id})},
          {"candidate", format_item_ref({ItemKind::kCandidate, e.candidate_id})},
          {"status", std::string(kernels::verdict_name(r.status))},
          {"device", r.device},
          {"driver_version", r.driver_version},
          {"cuda_version", r.cuda_version},
          {"compiler_version", r.compiler_version},
          {"latency_ns", optional_json(r.latency_ns)},
          {"baseline_latency_ns", optional_json(r.baseline_latency_ns)},
          {"speedup", optional_json(r.speedup)},
          {"speedup_low", optional_json(r.speedup_low)},
          {"speedup_high", optional_json(r.speedup_high)},
          {"max_abs_error", optional_json(r.max_abs_error)},
          {"max_rel_error", optional_json(r.max_rel_error)},
          {"failure", {{"gate", r.failure_gate}, {"input", r.failure_input}, {"summary", r.failure_summary}}},
          {"timestamp_ns", r.timestamp_ns}};
}

json hit_json(const CandidateHit& hit) {
  return {{"candidate", candidate_json(hit.candidate)},
          {"evaluation", evaluation_json(hit.evaluation)},
          {"verified_for", format_item_ref({ItemKind::kWorkload, hit.verified_for})}};
}

json hits_json(const std::vector<CandidateHit>& hits) {
  json out = json::array();
  for (const auto& hit : hits) out.push_back(hit_json(hit));
  return out;
}

json match_json(const WorkloadMatch& match) {
  return {{"workload", workload_json(match.workload)},
          {"distance", match.distance},
          {"evaluations", match.evaluations},
          {"passed", match.passed},
          {"best", hits_json(match.best)}};
}

json notes_json(const std::vector<NoteInfo>& notes) {
  json out = json::array();
  for (const auto& note : notes)
    out.push_back({{"id", note.id}, {"author", note.author}, {"text", note.text}, {"created_ns", note.created_ns}});
  return out;
}

json evaluations_json(const std::vector<EvaluationInfo>& evaluations) {
  json out = json::array();
  for (const auto& evaluation : evaluations) out.push_back(evaluation_json(evaluation));
  return out;
}

json counts_json(const std::vector<std::pair<std::string, int64_t>>& counts) {
  json out = json::object();
  for (const auto& [name, count] : counts) out[name] = count;
  return out;
}

}  // namespace

std::string to_json(const SearchResult& result) {
  json exact = json::array();
  for (const auto& match : result.exact) exact.push_back(match_json(match));
  json nearest = json::array();
  for (const auto& match : result.nearest) nearest.push_back(match_json(match));
  json failures = json::array();
  for (const auto& failure : result.failures)
    failures.push_back({{"status", std::string(kernels::verdict_name(failure.status))},
                        {"gate", failure.gate},
                        {"count", failure.count},
                        {"example", format_item_ref({ItemKind::kEvaluation, failure.example_evaluation_id})},
                        {"example_summary", failure.example_summary}});
  return json{{"exact", exact}, {"nearest", nearest}, {"failures", failures}}.dump(2);
}

std::string to_json(const WorkloadDetail& detail) {
  return json{{"workload", workload_json(detail.workload)},
              {"best", hits_json(detail.best)},
              {"evaluation_count", detail.evaluation_count},
              {"evaluations", evaluations_json(detail.evaluations)},
              {"notes", notes_json(detail.notes)}}
      .dump(2);
}

std::string to_json(const CandidateDetail& detail) {
  return json{{"candidate", candidate_json(detail.candidate)},
              {"children", detail.children},
              {"evaluation_count", detail.evaluation_count},
              {"evaluations", evaluations_json(detail.evaluations)},
              {"notes", notes_json(detail.notes)}}
      .dump(2);
}

std::string to_json(const EvaluationInfo& evaluation) { return evaluation_json(evaluation).dump(2); }

std::string to_json(const Stats& stats) {
  return json{{"path", stats.path.string()},
              {"schema_version", stats.schema_version},
              {"workloads", stats.workloads},
              {"candidates", stats.candidates},
              {"evaluations", stats.evaluations},
              {"notes", stats.notes},
              {"evaluations_by_status", counts_json(stats.evaluations_by_status)},
              {"workloads_by_op", counts_json(stats.workloads_by_op)},
              {"file_size_bytes", stats.file_size_bytes},
              {"wal_size_bytes", stats.wal_size_bytes}}
      .dump(2);
}

std::string to_json(const ImportReport& report) {
  return json{{"lines", report.lines},
              {"workloads_added", report.workloads_added},
              {"candidates_added", report.candidates_added},
              {"evaluations_added", report.evaluations_added},
              {"evaluations_present", report.evaluations_present},
              {"notes_added", report.notes_added}}
      .dump(2);
}

std::string to_json(const GcReport& report) {
  return json{{"workloads_removed", report.workloads_removed},
              {"candidates_removed", report.candidates_removed},
              {"size_before_bytes", report.size_before_bytes},
              {"size_after_bytes", report.size_after_bytes}}
      .dump(2);
}

}  // namespace ak::memory
