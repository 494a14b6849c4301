// Opening the memory file and recording into it.
#include <cstdlib>
#include <system_error>

#include "memory/internal/rows.h"
#include "memory/internal/schema.h"
#include "memory/internal/store_impl.h"

namespace ak::memory {

using internal::WorkloadRow;

std::filesystem::path default_memory_path(const std::string& flag_path) {
  if (!flag_path.empty()) return flag_path;
  if (const char* env = std::getenv("AUTOKERNEL_MEMORY"); env != nullptr && *env != '\0') return env;
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache != nullptr && *cache != '\0')
    return std::filesystem::path(cache) / "autokernel" / "memory.db";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : ".") / ".cache" / "autokernel" / "memory.db";
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::filesystem::path& Store::path() const { return impl_->db.path(); }

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path, const OpenOptions& options) {
  return internal::open_store_at_version(path, options, kSchemaVersion);
}

Result<std::unique_ptr<Store>> internal::open_store_at_version(const std::filesystem::path& path,
                                                               const OpenOptions& options, int schema_version) {
  if (path.empty()) return invalid_input("empty memory path");
  AK_RETURN_IF_ERROR(check_file_header(path));
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (!exists) {
    if (!options.create_if_missing)
      return invalid_input("no memory at " + path.string() +
                           " yet (`autokernel bench` records into it; `autokernel memory import` fills it)");
    if (path.has_parent_path()) {
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) return invalid_input("cannot create the folder of " + path.string() + ": " + ec.message());
    }
  }
  auto impl = std::make_unique<Store::Impl>();
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (exists ? 0 : SQLITE_OPEN_CREATE);
  AK_RETURN_IF_ERROR(impl->db.open(path, flags));
  sqlite3_busy_timeout(impl->db.handle(), options.busy_timeout_ms);
  AK_RETURN_IF_ERROR(prepare_schema(impl->db, schema_version));
  return std::make_unique<Store>(std::move(impl));
}

Result<RecordIds> Store::record(const Record& record) {
  AK_ASSIGN_OR_RETURN(std::vector<RecordIds> ids, record_batch(std::span<const Record>(&record, 1)));
  return ids.front();
}

Result<std::vector<RecordIds>> Store::record_batch(std::span<const Record> records) {
  struct Checked {
    WorkloadRow workload;
    std::vector<std::pair<std::string, std::string>> sources;
    std::string hash;
    std::string parameters;
    EvaluationSpec evaluation;
  };
  // Validate everything first: a bad record fails the batch before any write.
  const int64_t now = internal::now_ns();
  std::vector<Checked> checked;
  checked.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& record = records[i];
    const std::string where = records.size() > 1 ? "record " + std::to_string(i) : "record";
    Checked c;
    auto workload = internal::workload_row(record.workload);
    if (!workload.is_ok()) return workload.status().with_context(where);
    c.workload = std::move(workload).value();
    for (const auto& node : record.workload.source_nodes) c.sources.emplace_back(record.workload.source_model, node);
    if (record.workload.source_nodes.empty()) c.sources.emplace_back(record.workload.source_model, "");
    auto parameters = internal::canonical_json_object(record.candidate.parameters_json, "candidate parameters");
    if (!parameters.is_ok()) return parameters.status().with_context(where);
    c.parameters = std::move(parameters).value();
    c.hash = internal::candidate_hash_canonical(record.candidate.source, c.parameters);
    auto evaluation = internal::normalized_evaluation(record.evaluation, now);
    if (!evaluation.is_ok()) return evaluation.status().with_context(where);
    c.evaluation = std::move(evaluation).value();
    checked.push_back(std::move(c));
  }

  auto& db = impl_->db;
  internal::WriteTransaction transaction(db);
  AK_RETURN_IF_ERROR(transaction.begin());
  std::vector<RecordIds> ids;
  ids.reserve(checked.size());
  for (size_t i = 0; i < checked.size(); ++i) {
    const Checked& c = checked[i];
    RecordIds id;
    AK_ASSIGN_OR_RETURN(auto workload, internal::upsert_workload(db, c.workload, c.sources, now));
    id.workload_id = workload.first;
    AK_ASSIGN_OR_RETURN(auto candidate, internal::upsert_candidate(db, c.hash, records[i].candidate, c.parameters, now));
    id.candidate_id = candidate.first;
    AK_ASSIGN_OR_RETURN(id.evaluation_id, internal::insert_evaluation(db, internal::random_uuid(), id.workload_id,
                                                                      id.candidate_id, c.evaluation));
    if (id.evaluation_id == 0) return internal_error("evaluation uuid collision");
    ids.push_back(id);
  }
  AK_RETURN_IF_ERROR(transaction.commit());
  return ids;
}

Result<int64_t> Store::add_note(const ItemRef& target, std::string_view text, std::string_view author) {
  auto& db = impl_->db;
  internal::WriteTransaction transaction(db);
  AK_RETURN_IF_ERROR(transaction.begin());
  if (target.kind == ItemKind::kWorkload) {
    AK_RETURN_IF_ERROR(internal::load_workload(db, target.id).status());
  } else if (target.kind == ItemKind::kCandidate) {
    AK_RETURN_IF_ERROR(internal::load_candidate(db, target.id, false).status());
  }
  AK_ASSIGN_OR_RETURN(int64_t id,
                      internal::insert_note(db, internal::random_uuid(), target, author, text, internal::now_ns()));
  AK_RETURN_IF_ERROR(transaction.commit());
  return id;
}

}  // namespace ak::memory
