// JSONL export and import (docs/memory.md "Export format"): one record per line, with
// FlashInfer-Trace field names for definitions, workloads, solutions and traces, and
// everything else of ours under "ak".
#include <ctime>
#include <istream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/sha256.h"
#include "memory/internal/rows.h"
#include "memory/internal/store_impl.h"

namespace ak::memory {
namespace {

using nlohmann::json;
using internal::Database;
using internal::Statement;

constexpr const char* kFormatName = "autokernel-memory";

std::string definition_name(const std::string& op_type, const std::string& signature) {
  return op_type + "_" + sha256_hex(signature).substr(0, 12);
}

std::string iso8601(int64_t ns) {
  std::time_t seconds = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

json optional_json(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }
json optional_json(const std::optional<int64_t>& value) { return value ? json(*value) : json(nullptr); }
json optional_ms(const std::optional<int64_t>& ns) { return ns ? json(static_cast<double>(*ns) / 1e6) : json(nullptr); }

// --- reading fields with errors instead of exceptions ---

Result<const json*> field(const json& object, const char* key, bool required) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) return invalid_input(std::string("missing field \"") + key + "\"");
    return static_cast<const json*>(nullptr);
  }
  return &*it;
}

Result<std::string> text_field(const json& object, const char* key, bool required = true) {
  AK_ASSIGN_OR_RETURN(const json* value, field(object, key, required));
  if (value == nullptr) return std::string();
  if (!value->is_string()) return invalid_input(std::string("field \"") + key + "\" must be a string");
  return value->get<std::string>();
}

Result<std::optional<int64_t>> int_field(const json& object, const char* key, bool required = false) {
  AK_ASSIGN_OR_RETURN(const json* value, field(object, key, required));
  if (value == nullptr) return std::optional<int64_t>();
  if (!value->is_number_integer()) return invalid_input(std::string("field \"") + key + "\" must be an integer");
  return std::optional<int64_t>(value->get<int64_t>());
}

Result<std::optional<double>> number_field(const json& object, const char* key) {
  AK_ASSIGN_OR_RETURN(const json* value, field(object, key, false));
  if (value == nullptr) return std::optional<double>();
  if (!value->is_number()) return invalid_input(std::string("field \"") + key + "\" must be a number");
  return std::optional<double>(value->get<double>());
}

Result<const json*> object_field(const json& object, const char* key, bool required = true) {
  AK_ASSIGN_OR_RETURN(const json* value, field(object, key, required));
  if (value != nullptr && !value->is_object()) return invalid_input(std::string("field \"") + key + "\" must be an object");
  return value;
}

const json& object_or_empty(const json* value) {
  static const json kEmpty = json::object();
  return value != nullptr ? *value : kEmpty;
}

// --- export ---

Status export_definitions(Database& db, std::ostream& out) {
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT signature, op_type, dtypes, attributes, layout FROM workloads"
                                                 " GROUP BY signature ORDER BY min(id)"));
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    const std::string signature = stmt.column_text(0);
    const std::string op_type = stmt.column_text(1);
    json inputs = json::object();
    auto dtypes = internal::split_list(stmt.column_text(2));
    for (size_t i = 0; i < dtypes.size(); ++i) inputs["input" + std::to_string(i)] = {{"dtype", dtypes[i]}};
    json line = {{"kind", "definition"},
                 {"name", definition_name(op_type, signature)},
                 {"op_type", op_type},
                 {"axes", json::object()},
                 {"inputs", inputs},
                 {"outputs", json::object()},
                 {"tags", json::array()},
                 {"description", signature},
                 {"ak",
                  {{"signature", signature},
                   {"attributes", json::parse(stmt.column_text(3), nullptr, false)},
                   {"dtypes", dtypes},
                   {"layout", stmt.column_text(4)}}}};
    out << line.dump() << '\n';
  }
  return Status::ok();
}

Status export_workloads(Database& db, std::ostream& out) {
  AK_ASSIGN_OR_RETURN(Statement stmt, db.prepare(std::string("SELECT ") + internal::kWorkloadColumns +
                                                 " FROM workloads w ORDER BY w.id"));
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    AK_ASSIGN_OR_RETURN(WorkloadInfo workload, internal::read_workload_columns(stmt, 0));
    AK_ASSIGN_OR_RETURN(workload.sources, internal::load_sources(db, workload.id));
    json sources = json::array();
    for (const auto& [model, node] : workload.sources) sources.push_back({{"model", model}, {"node", node}});
    json line = {{"kind", "workload"},
                 {"definition", definition_name(workload.op_type, workload.signature)},
                 {"uuid", workload.key},
                 {"axes", json::object()},
                 {"inputs", json::object()},
                 {"ak",
                  {{"shape", format_shape(workload.shape)},
                   {"arch", workload.arch},
                   {"sources", sources},
                   {"created_ns", workload.created_ns}}}};
    out << line.dump() << '\n';
  }
  return Status::ok();
}

Status export_solutions(Database& db, std::ostream& out) {
  // A candidate belongs to no single definition; the one of its first evaluation is named.
  AK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.prepare(std::string("SELECT ") + internal::kCandidateColumns +
                 ", c.source, (SELECT w.op_type || char(10) || w.signature FROM evaluations e JOIN workloads w"
                 " ON w.id = e.workload_id WHERE e.candidate_id = c.id ORDER BY e.id LIMIT 1)"
                 " FROM candidates c ORDER BY c.id"));
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    CandidateInfo candidate = internal::read_candidate_columns(stmt, 0);
    candidate.source = stmt.column_text(internal::kCandidateColumnCount);
    std::string first = stmt.column_text(internal::kCandidateColumnCount + 1);
    std::string definition;
    if (auto newline = first.find('\n'); newline != std::string::npos)
      definition = definition_name(first.substr(0, newline), first.substr(newline + 1));
    const std::string file = candidate.language == "cuda" ? "kernel.cu" : "kernel.cpp";
    json line = {{"kind", "solution"},
                 {"name", candidate.hash},
                 {"definition", definition},
                 {"author", candidate.generator},
                 {"description", ""},
                 {"spec",
                  {{"language", candidate.language},
                   {"target_hardware", json::array()},
                   {"entry_point", file + "::autokernel_kernel"}}},
                 {"sources", json::array({json{{"path", file}, {"content", candidate.source}}})},
                 {"ak",
                  {{"hash", candidate.hash},
                   {"parent", candidate.parent_hash.empty() ? json(nullptr) : json(candidate.parent_hash)},
                   {"parameters", json::parse(candidate.parameters_json, nullptr, false)},
                   {"created_ns", candidate.created_ns}}}};
    out << line.dump() << '\n';
  }
  return Status::ok();
}

Status export_traces(Database& db, std::ostream& out) {
  AK_ASSIGN_OR_RETURN(Statement stmt,
                      db.prepare(std::string("SELECT ") + internal::kEvaluationColumns +
                                 ", w.op_type, w.signature, w.shape, w.arch, c.hash FROM evaluations e"
                                 " JOIN workloads w ON w.id = e.workload_id JOIN candidates c ON c.id = e.candidate_id"
                                 " ORDER BY e.id"));
  const int base = internal::kEvaluationColumnCount;
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    AK_ASSIGN_OR_RETURN(EvaluationInfo evaluation, internal::read_evaluation_columns(stmt, 0));
    const EvaluationSpec& r = evaluation.result;
    const std::string op_type = stmt.column_text(base);
    const std::string signature = stmt.column_text(base + 1);
    const std::string arch = stmt.column_text(base + 3);
    json line = {
        {"kind", "trace"},
        {"definition", definition_name(op_type, signature)},
        {"solution", stmt.column_text(base + 4)},
        {"workload",
         {{"uuid", internal::workload_key(signature, stmt.column_text(base + 2), arch)},
          {"axes", json::object()},
          {"inputs", json::object()}}},
        {"evaluation",
         {{"status", std::string(kernels::verdict_name(r.status))},
          {"log_file", ""},
          {"log", r.failure_summary},
          {"correctness",
           {{"max_relative_error", optional_json(r.max_rel_error)},
            {"max_absolute_error", optional_json(r.max_abs_error)}}},
          {"performance",
           {{"latency_ms", optional_ms(r.latency_ns)},
            {"reference_latency_ms", optional_ms(r.baseline_latency_ns)},
            {"speedup_factor", optional_json(r.speedup)}}},
          {"environment",
           {{"device", r.device},
            {"hardware", arch},
            {"libs", {{"driver", r.driver_version}, {"cuda", r.cuda_version}, {"compiler", r.compiler_version}}}}},
          {"timestamp", iso8601(r.timestamp_ns)}}},
        {"ak",
         {{"uuid", evaluation.uuid},
          {"latency_ns", optional_json(r.latency_ns)},
          {"baseline_latency_ns", optional_json(r.baseline_latency_ns)},
          {"speedup_low", optional_json(r.speedup_low)},
          {"speedup_high", optional_json(r.speedup_high)},
          {"failure", {{"gate", r.failure_gate}, {"input", r.failure_input}, {"summary", r.failure_summary}}},
          {"created_ns", r.timestamp_ns}}}};
    out << line.dump() << '\n';
  }
  return Status::ok();
}

Status export_notes(Database& db, std::ostream& out) {
  AK_ASSIGN_OR_RETURN(Statement stmt,
                      db.prepare("SELECT n.uuid, n.author, n.text, n.created_ns, w.signature, w.shape, w.arch, c.hash"
                                 " FROM notes n LEFT JOIN workloads w ON w.id = n.workload_id"
                                 " LEFT JOIN candidates c ON c.id = n.candidate_id ORDER BY n.id"));
  while (true) {
    AK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    json target = stmt.column_is_null(7)
                      ? json{{"workload", internal::workload_key(stmt.column_text(4), stmt.column_text(5),
                                                                 stmt.column_text(6))}}
                      : json{{"solution", stmt.column_text(7)}};
    json line = {{"kind", "note"},
                 {"uuid", stmt.column_text(0)},
                 {"target", target},
                 {"author", stmt.column_text(1)},
                 {"text", stmt.column_text(2)},
                 {"created_ns", stmt.column_int(3)}};
    out << line.dump() << '\n';
  }
  return Status::ok();
}

// --- import ---

struct Definition {
  WorkloadSpec spec;  // op_type, attributes, dtypes, layout
};

class Importer {
 public:
  explicit Importer(Database& db) : db_(db) {}

  Status line(const json& record, ImportReport& report) {
    AK_ASSIGN_OR_RETURN(std::string kind, text_field(record, "kind"));
    if (kind == "definition") return definition(record);
    if (kind == "workload") return workload(record, report);
    if (kind == "solution") return solution(record, report);
    if (kind == "trace") return trace(record, report);
    if (kind == "note") return note(record, report);
    if (kind == "header") return invalid_input("a second header line");
    return invalid_input("unknown kind \"" + kind + "\"");
  }

 private:
  Status definition(const json& record) {
    AK_ASSIGN_OR_RETURN(std::string name, text_field(record, "name"));
    AK_ASSIGN_OR_RETURN(const json* ak, object_field(record, "ak"));
    Definition definition;
    AK_ASSIGN_OR_RETURN(definition.spec.op_type, text_field(record, "op_type"));
    AK_ASSIGN_OR_RETURN(const json* attributes, object_field(*ak, "attributes", false));
    definition.spec.attributes_json = object_or_empty(attributes).dump();
    AK_ASSIGN_OR_RETURN(definition.spec.layout, text_field(*ak, "layout", false));
    AK_ASSIGN_OR_RETURN(const json* dtypes, field(*ak, "dtypes", true));
    if (!dtypes->is_array()) return invalid_input("field \"dtypes\" must be an array of strings");
    for (const auto& dtype : *dtypes) {
      if (!dtype.is_string()) return invalid_input("field \"dtypes\" must be an array of strings");
      definition.spec.dtypes.push_back(dtype.get<std::string>());
    }
    AK_ASSIGN_OR_RETURN(std::string signature, canonical_signature(definition.spec));
    AK_ASSIGN_OR_RETURN(std::string stated, text_field(*ak, "signature"));
    if (stated != signature)
      return invalid_input("definition " + name + ": signature \"" + stated + "\" does not match its fields (" +
                           signature + ")");
    definitions_[name] = std::move(definition);
    return Status::ok();
  }

  Status workload(const json& record, ImportReport& report) {
    AK_ASSIGN_OR_RETURN(std::string definition_name, text_field(record, "definition"));
    auto it = definitions_.find(definition_name);
    if (it == definitions_.end()) return invalid_input("workload refers to definition \"" + definition_name +
                                                       "\", which no earlier line defines");
    AK_ASSIGN_OR_RETURN(std::string uuid, text_field(record, "uuid"));
    AK_ASSIGN_OR_RETURN(const json* ak, object_field(record, "ak"));
    WorkloadSpec spec = it->second.spec;
    AK_ASSIGN_OR_RETURN(std::string shape_text, text_field(*ak, "shape"));
    AK_ASSIGN_OR_RETURN(spec.shape, parse_shape(shape_text));
    AK_ASSIGN_OR_RETURN(spec.arch, text_field(*ak, "arch"));
    AK_ASSIGN_OR_RETURN(auto created_ns, int_field(*ak, "created_ns", true));
    AK_ASSIGN_OR_RETURN(internal::WorkloadRow row, internal::workload_row(spec));
    if (internal::workload_key(row.signature, row.shape, row.arch) != uuid)
      return invalid_input("workload uuid " + uuid + " does not match its definition, shape and arch");
    std::vector<std::pair<std::string, std::string>> sources;
    if (auto found = ak->find("sources"); found != ak->end() && !found->is_null()) {
      if (!found->is_array()) return invalid_input("field \"sources\" must be an array");
      for (const auto& source : *found) {
        if (!source.is_object()) return invalid_input("field \"sources\" must hold objects {model, node}");
        AK_ASSIGN_OR_RETURN(std::string model, text_field(source, "model", false));
        AK_ASSIGN_OR_RETURN(std::string node, text_field(source, "node", false));
        sources.emplace_back(std::move(model), std::move(node));
      }
    }
    AK_ASSIGN_OR_RETURN(auto id, internal::upsert_workload(db_, row, sources, *created_ns));
    if (id.second) ++report.workloads_added;
    workloads_[uuid] = id.first;
    return Status::ok();
  }

  Status solution(const json& record, ImportReport& report) {
    AK_ASSIGN_OR_RETURN(std::string name, text_field(record, "name"));
    AK_ASSIGN_OR_RETURN(const json* ak, object_field(record, "ak"));
    AK_ASSIGN_OR_RETURN(const json* spec, object_field(record, "spec"));
    CandidateSpec candidate;
    AK_ASSIGN_OR_RETURN(candidate.language, text_field(*spec, "language", false));
    AK_ASSIGN_OR_RETURN(candidate.generator, text_field(record, "author", false));
    AK_ASSIGN_OR_RETURN(candidate.parent_hash, text_field(*ak, "parent", false));
    AK_ASSIGN_OR_RETURN(const json* parameters, object_field(*ak, "parameters", false));
    candidate.parameters_json = object_or_empty(parameters).dump();
    AK_ASSIGN_OR_RETURN(const json* sources, field(record, "sources", true));
    if (!sources->is_array() || sources->size() != 1 || !(*sources)[0].is_object())
      return invalid_input("field \"sources\" must hold exactly one {path, content} (autokernel candidates are one file)");
    AK_ASSIGN_OR_RETURN(candidate.source, text_field((*sources)[0], "content"));
    AK_ASSIGN_OR_RETURN(std::string parameters_text,
                        internal::canonical_json_object(candidate.parameters_json, "candidate parameters"));
    const std::string hash = internal::candidate_hash_canonical(candidate.source, parameters_text);
    if (hash != name)
      return invalid_input("solution " + name + ": the name is not the hash of its source and parameters (" + hash + ")");
    AK_ASSIGN_OR_RETURN(auto created_ns, int_field(*ak, "created_ns", true));
    AK_ASSIGN_OR_RETURN(auto id, internal::upsert_candidate(db_, hash, candidate, parameters_text, *created_ns));
    if (id.second) ++report.candidates_added;
    solutions_[hash] = id.first;
    return Status::ok();
  }

  Status trace(const json& record, ImportReport& report) {
    AK_ASSIGN_OR_RETURN(std::string solution, text_field(record, "solution"));
    auto candidate = solutions_.find(solution);
    if (candidate == solutions_.end())
      return invalid_input("trace refers to solution " + solution + ", which no earlier line defines");
    AK_ASSIGN_OR_RETURN(const json* workload, object_field(record, "workload"));
    AK_ASSIGN_OR_RETURN(std::string workload_uuid, text_field(*workload, "uuid"));
    auto workload_id = workloads_.find(workload_uuid);
    if (workload_id == workloads_.end())
      return invalid_input("trace refers to workload " + workload_uuid + ", which no earlier line defines");
    AK_ASSIGN_OR_RETURN(const json* evaluation, object_field(record, "evaluation"));
    AK_ASSIGN_OR_RETURN(const json* ak, object_field(record, "ak"));

    EvaluationSpec e;
    AK_ASSIGN_OR_RETURN(std::string status, text_field(*evaluation, "status"));
    auto parsed = kernels::parse_verdict(status);
    if (!parsed) return invalid_input("unknown evaluation status \"" + status + "\"");
    e.status = *parsed;
    AK_ASSIGN_OR_RETURN(const json* correctness, object_field(*evaluation, "correctness", false));
    AK_ASSIGN_OR_RETURN(e.max_rel_error, number_field(object_or_empty(correctness), "max_relative_error"));
    AK_ASSIGN_OR_RETURN(e.max_abs_error, number_field(object_or_empty(correctness), "max_absolute_error"));
    AK_ASSIGN_OR_RETURN(const json* performance, object_field(*evaluation, "performance", false));
    AK_ASSIGN_OR_RETURN(e.speedup, number_field(object_or_empty(performance), "speedup_factor"));
    AK_ASSIGN_OR_RETURN(const json* environment, object_field(*evaluation, "environment"));
    AK_ASSIGN_OR_RETURN(e.device, text_field(*environment, "device"));
    AK_ASSIGN_OR_RETURN(const json* libs, object_field(*environment, "libs", false));
    AK_ASSIGN_OR_RETURN(e.driver_version, text_field(object_or_empty(libs), "driver", false));
    AK_ASSIGN_OR_RETURN(e.cuda_version, text_field(object_or_empty(libs), "cuda", false));
    AK_ASSIGN_OR_RETURN(e.compiler_version, text_field(object_or_empty(libs), "compiler", false));
    AK_ASSIGN_OR_RETURN(std::string uuid, text_field(*ak, "uuid"));
    AK_ASSIGN_OR_RETURN(e.latency_ns, int_field(*ak, "latency_ns"));
    AK_ASSIGN_OR_RETURN(e.baseline_latency_ns, int_field(*ak, "baseline_latency_ns"));
    AK_ASSIGN_OR_RETURN(e.speedup_low, number_field(*ak, "speedup_low"));
    AK_ASSIGN_OR_RETURN(e.speedup_high, number_field(*ak, "speedup_high"));
    AK_ASSIGN_OR_RETURN(const json* failure, object_field(*ak, "failure", false));
    AK_ASSIGN_OR_RETURN(e.failure_gate, text_field(object_or_empty(failure), "gate", false));
    AK_ASSIGN_OR_RETURN(e.failure_input, text_field(object_or_empty(failure), "input", false));
    AK_ASSIGN_OR_RETURN(e.failure_summary, text_field(object_or_empty(failure), "summary", false));
    AK_ASSIGN_OR_RETURN(auto created_ns, int_field(*ak, "created_ns", true));
    e.timestamp_ns = *created_ns;
    AK_ASSIGN_OR_RETURN(EvaluationSpec stored, internal::normalized_evaluation(e, *created_ns));
    AK_ASSIGN_OR_RETURN(int64_t id,
                        internal::insert_evaluation(db_, uuid, workload_id->second, candidate->second, stored));
    if (id == 0)
      ++report.evaluations_present;
    else
      ++report.evaluations_added;
    return Status::ok();
  }

  Status note(const json& record, ImportReport& report) {
    AK_ASSIGN_OR_RETURN(std::string uuid, text_field(record, "uuid"));
    AK_ASSIGN_OR_RETURN(const json* target, object_field(record, "target"));
    AK_ASSIGN_OR_RETURN(std::string workload, text_field(*target, "workload", false));
    AK_ASSIGN_OR_RETURN(std::string solution, text_field(*target, "solution", false));
    ItemRef ref;
    if (!workload.empty()) {
      auto it = workloads_.find(workload);
      if (it == workloads_.end()) return invalid_input("note refers to workload " + workload + ", which no earlier line defines");
      ref = {ItemKind::kWorkload, it->second};
    } else {
      auto it = solutions_.find(solution);
      if (it == solutions_.end()) return invalid_input("note refers to solution \"" + solution + "\", which no earlier line defines");
      ref = {ItemKind::kCandidate, it->second};
    }
    AK_ASSIGN_OR_RETURN(std::string author, text_field(record, "author", false));
    AK_ASSIGN_OR_RETURN(std::string text, text_field(record, "text"));
    AK_ASSIGN_OR_RETURN(auto created_ns, int_field(record, "created_ns", true));
    AK_ASSIGN_OR_RETURN(int64_t id, internal::insert_note(db_, uuid, ref, author, text, *created_ns));
    if (id != 0) ++report.notes_added;
    return Status::ok();
  }

  Database& db_;
  std::map<std::string, Definition> definitions_;
  std::map<std::string, int64_t> workloads_;
  std::map<std::string, int64_t> solutions_;
};

Status check_header(const json& record) {
  AK_ASSIGN_OR_RETURN(std::string kind, text_field(record, "kind"));
  AK_ASSIGN_OR_RETURN(std::string format, text_field(record, "format", false));
  if (kind != "header" || format != kFormatName)
    return invalid_input(std::string("the first line must be the header {\"kind\":\"header\",\"format\":\"") +
                         kFormatName + "\",...}");
  AK_ASSIGN_OR_RETURN(auto version, int_field(record, "version", true));
  if (*version > kExportFormatVersion || *version < 1)
    return unsupported("export format version " + std::to_string(*version) + " is not supported (this autokernel reads " +
                       "versions 1 to " + std::to_string(kExportFormatVersion) + ")");
  return Status::ok();
}

}  // namespace

Status Store::export_jsonl(std::ostream& out) {
  auto& db = impl_->db;
  internal::ReadTransaction snapshot(db);
  AK_RETURN_IF_ERROR(snapshot.begin());
  AK_ASSIGN_OR_RETURN(int64_t schema_version, db.query_int("PRAGMA user_version"));
  json header = {{"kind", "header"},
                 {"format", kFormatName},
                 {"version", kExportFormatVersion},
                 {"schema_version", schema_version},
                 {"exported_at", iso8601(internal::now_ns())}};
  out << header.dump() << '\n';
  AK_RETURN_IF_ERROR(export_definitions(db, out));
  AK_RETURN_IF_ERROR(export_workloads(db, out));
  AK_RETURN_IF_ERROR(export_solutions(db, out));
  AK_RETURN_IF_ERROR(export_traces(db, out));
  AK_RETURN_IF_ERROR(export_notes(db, out));
  out.flush();
  if (!out) return failed("writing the export failed (disk full?)");
  return Status::ok();
}

Result<ImportReport> Store::import_jsonl(std::istream& in, std::string_view name) {
  auto& db = impl_->db;
  internal::WriteTransaction transaction(db);
  AK_RETURN_IF_ERROR(transaction.begin());
  ImportReport report;
  Importer importer(db);
  std::string text;
  bool header_seen = false;
  int64_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    const std::string where = std::string(name) + ":" + std::to_string(number);
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    json record = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded()) return invalid_input(where + ": not valid JSON; nothing was imported");
    if (!record.is_object()) return invalid_input(where + ": a record must be a JSON object; nothing was imported");
    Status status = header_seen ? importer.line(record, report) : check_header(record);
    if (!status.is_ok())
      return Status(status.code(), where + ": " + status.message() + "; nothing was imported");
    header_seen = true;
    ++report.lines;
  }
  if (in.bad()) return failed(std::string(name) + ": read error; nothing was imported");
  if (!header_seen) return invalid_input(std::string(name) + ": empty file (no header line); nothing was imported");
  AK_RETURN_IF_ERROR(transaction.commit());
  return report;
}

}  // namespace ak::memory
