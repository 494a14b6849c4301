// The SQLite connection wrapper used by every part of memory/.
#include "memory/internal/database.h"

#include <chrono>

namespace ak::memory::internal {

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// Bind errors (a wrong index, out of memory) surface as the error of the next step(),
// which SQLite reports for a statement whose binding failed; so binds chain without checks.
Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind(int index, const std::optional<double>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(stmt_) != nullptr ? sqlite3_sql(stmt_) : "";
  if (sql.size() > 60) sql = sql.substr(0, 60) + "...";
  return db_->error(rc, "`" + sql + "` failed");
}

Status Statement::run() {
  while (true) {
    auto row = step();
    if (!row.is_ok()) return row.status();
    if (!row.value()) return Status::ok();
  }
}

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

std::string_view Statement::column_view(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_, index))};
}

std::optional<int64_t> Statement::column_optional_int(int index) const {
  if (column_is_null(index)) return std::nullopt;
  return column_int(index);
}

std::optional<double> Statement::column_optional_double(int index) const {
  if (column_is_null(index)) return std::nullopt;
  return column_double(index);
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Database::open(const std::filesystem::path& path, int flags) {
  path_ = path;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = error(rc, "cannot open");
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return status;
  }
  sqlite3_extended_result_codes(db_, 1);
  return Status::ok();
}

Status Database::error(int rc, const std::string& what) const {
  std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string line = path_.string() + ": " + what + ": " + message;
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return invalid_input(path_.string() + ": the memory file is corrupted or not a database (" + message +
                           "); autokernel leaves it as it is");
    case SQLITE_CONSTRAINT:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return invalid_input(line);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return failed(line);
    default:
      return internal_error(line);
  }
}

Status Database::exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (message != nullptr) sqlite3_free(message);
  if (rc != SQLITE_OK) return error(rc, "`" + sql.substr(0, 60) + "` failed");
  return Status::ok();
}

Result<Statement> Database::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                nullptr);
    if (rc != SQLITE_OK) return error(rc, "cannot prepare `" + sql.substr(0, 60) + "`");
    it = cache_.emplace(sql, stmt).first;
  }
  return Statement(this, it->second);
}

Result<int64_t> Database::query_int(const std::string& sql) {
  AK_ASSIGN_OR_RETURN(Statement stmt, prepare(sql));
  AK_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return internal_error("`" + sql + "` returned no row");
  return stmt.column_int(0);
}

Result<std::string> Database::query_text(const std::string& sql) {
  AK_ASSIGN_OR_RETURN(Statement stmt, prepare(sql));
  AK_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return internal_error("`" + sql + "` returned no row");
  return stmt.column_text(0);
}

WriteTransaction::~WriteTransaction() {
  if (open_) (void)db_.exec("ROLLBACK");
}

Status WriteTransaction::begin() {
  AK_RETURN_IF_ERROR(db_.exec("BEGIN IMMEDIATE"));
  open_ = true;
  return Status::ok();
}

Status WriteTransaction::commit() {
  // "Acknowledged" means this COMMIT returned SQLITE_OK; with synchronous=FULL the WAL
  // has been fsynced by then.
  Status status = db_.exec("COMMIT");
  if (status.is_ok()) open_ = false;
  return status;
}

ReadTransaction::~ReadTransaction() {
  if (open_) (void)db_.exec("COMMIT");
}

Status ReadTransaction::begin() {
  AK_RETURN_IF_ERROR(db_.exec("BEGIN"));
  open_ = true;
  return Status::ok();
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ak::memory::internal
