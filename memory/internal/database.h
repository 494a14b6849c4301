#pragma once
/// A thin RAII layer over one sqlite3 connection: cached prepared statements, typed
/// binds and columns, write transactions, and SQLite errors turned into Status.
/// Private to memory/.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

namespace ak::memory::internal {

/// A prepared statement borrowed from the Database's cache; reset and unbound when it
/// goes out of scope, so the next user finds it fresh.
class Database;

class Statement {
 public:
  Statement(const Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  /// Binds by 1-based index. Empty optionals bind NULL.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::optional<int64_t>& value);
  Statement& bind(int index, const std::optional<double>& value);
  Statement& bind_null(int index);
  Statement& bind_blob(int index, std::string_view bytes);

  /// Advances: true when a row is available, false when done, an error Status otherwise.
  Result<bool> step();
  /// Steps a statement that returns no rows (or whose rows are ignored).
  Status run();

  int64_t column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
  double column_double(int index) const { return sqlite3_column_double(stmt_, index); }
  bool column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }
  std::string column_text(int index) const;
  /// The text without a copy; valid until the next step or reset.
  std::string_view column_view(int index) const;
  std::optional<int64_t> column_optional_int(int index) const;
  std::optional<double> column_optional_double(int index) const;

 private:
  const Database* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  Database() = default;
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// sqlite3_open_v2 with `flags`; the connection is closed again on failure.
  Status open(const std::filesystem::path& path, int flags);
  sqlite3* handle() const { return db_; }
  const std::filesystem::path& path() const { return path_; }

  /// Runs one or more statements that return nothing.
  Status exec(const std::string& sql);
  /// A cached prepared statement for `sql` (prepared on first use).
  Result<Statement> prepare(const std::string& sql);
  /// One integer from a one-row query (e.g. a PRAGMA).
  Result<int64_t> query_int(const std::string& sql);
  /// One text from a one-row query.
  Result<std::string> query_text(const std::string& sql);

  /// The Status for SQLite result code `rc`: corruption and "not a database" are the
  /// user's file (kInvalidInput), busy/full/I/O are kFailed, the rest kInternal.
  Status error(int rc, const std::string& what) const;

  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

/// BEGIN IMMEDIATE on construction (takes the write lock up front, so a transaction never
/// fails half-way with SQLITE_BUSY on upgrade); ROLLBACK on destruction unless committed.
class WriteTransaction {
 public:
  explicit WriteTransaction(Database& db) : db_(db) {}
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  Status begin();
  Status commit();

 private:
  Database& db_;
  bool open_ = false;
};

/// BEGIN (deferred) for a consistent multi-statement read; always ends with COMMIT.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& db) : db_(db) {}
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

  Status begin();

 private:
  Database& db_;
  bool open_ = false;
};

/// Unix time now in nanoseconds.
int64_t now_ns();

}  // namespace ak::memory::internal
