// Identity checks and versioned schema migrations of the memory file (docs/memory.md "Schema").
#include "memory/internal/schema.h"

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

namespace ak::memory::internal {
namespace {

// Migration N takes a database at user_version N-1 to N. Never edit a released step:
// files in the field are at every version; add a new step instead.
const std::array<const char*, 2> kMigrations = {
    // 1: workloads, candidates, evaluations (failure reasons are columns of evaluations:
    // the status is their type).
    R"sql(
CREATE TABLE workloads (
  id          INTEGER PRIMARY KEY,
  signature   TEXT NOT NULL,
  op_type     TEXT NOT NULL,
  dtype       TEXT NOT NULL,
  dtypes      TEXT NOT NULL,
  attributes  TEXT NOT NULL,
  layout      TEXT NOT NULL,
  shape       TEXT NOT NULL,
  arch        TEXT NOT NULL,
  created_ns  INTEGER NOT NULL,
  UNIQUE (signature, shape, arch)
);
-- Covers the search scan of one op class: no table lookups.
CREATE INDEX workloads_by_class ON workloads (op_type, dtype, shape, arch, signature);

CREATE TABLE candidates (
  id           INTEGER PRIMARY KEY,
  hash         TEXT NOT NULL UNIQUE,
  source       TEXT NOT NULL,
  language     TEXT NOT NULL,
  generator    TEXT NOT NULL,
  parent_hash  TEXT,
  parameters   TEXT NOT NULL,
  created_ns   INTEGER NOT NULL
);
CREATE INDEX candidates_by_parent ON candidates (parent_hash) WHERE parent_hash IS NOT NULL;

CREATE TABLE evaluations (
  id                   INTEGER PRIMARY KEY,
  uuid                 TEXT NOT NULL UNIQUE,
  workload_id          INTEGER NOT NULL REFERENCES workloads (id),
  candidate_id         INTEGER NOT NULL REFERENCES candidates (id),
  status               TEXT NOT NULL CHECK (status IN ('PASSED', 'COMPILE_ERROR', 'RUNTIME_ERROR', 'TIMEOUT',
                         'INCORRECT_SHAPE', 'INCORRECT_DTYPE', 'INCORRECT_NUMERICAL', 'CHEAT_SUSPECTED')),
  device               TEXT NOT NULL,
  driver_version       TEXT NOT NULL,
  cuda_version         TEXT NOT NULL,
  compiler_version     TEXT NOT NULL,
  latency_ns           INTEGER,
  baseline_latency_ns  INTEGER,
  speedup              REAL,
  speedup_low          REAL,
  speedup_high         REAL,
  max_abs_error        REAL,
  max_rel_error        REAL,
  failure_gate         TEXT NOT NULL,
  failure_input        TEXT NOT NULL,
  failure_summary      TEXT NOT NULL,
  created_ns           INTEGER NOT NULL
);
CREATE INDEX evaluations_by_workload ON evaluations (workload_id, candidate_id, status);
CREATE INDEX evaluations_by_candidate ON evaluations (candidate_id);
)sql",
    // 2: provenance of workloads (model, node) and free-form notes.
    R"sql(
CREATE TABLE workload_sources (
  workload_id  INTEGER NOT NULL REFERENCES workloads (id),
  model        TEXT NOT NULL,
  node         TEXT NOT NULL,
  PRIMARY KEY (workload_id, model, node)
) WITHOUT ROWID;

CREATE TABLE notes (
  id            INTEGER PRIMARY KEY,
  uuid          TEXT NOT NULL UNIQUE,
  workload_id   INTEGER REFERENCES workloads (id),
  candidate_id  INTEGER REFERENCES candidates (id),
  author        TEXT NOT NULL,
  text          TEXT NOT NULL,
  created_ns    INTEGER NOT NULL,
  CHECK ((workload_id IS NULL) <> (candidate_id IS NULL))
);
CREATE INDEX notes_by_workload ON notes (workload_id) WHERE workload_id IS NOT NULL;
CREATE INDEX notes_by_candidate ON notes (candidate_id) WHERE candidate_id IS NOT NULL;
)sql",
};

std::string hex32(int64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << (static_cast<uint64_t>(value) & 0xffffffffu);
  return out.str();
}

struct FileIdentity {
  int64_t application_id = 0;
  int64_t user_version = 0;
  int64_t schema_objects = 0;
};

Result<FileIdentity> read_identity(Database& db) {
  FileIdentity identity;
  AK_ASSIGN_OR_RETURN(identity.application_id, db.query_int("PRAGMA application_id"));
  AK_ASSIGN_OR_RETURN(identity.user_version, db.query_int("PRAGMA user_version"));
  AK_ASSIGN_OR_RETURN(identity.schema_objects, db.query_int("SELECT count(*) FROM sqlite_master"));
  return identity;
}

// ok: ours (or empty) and not newer than `target_version`.
Status check_identity(const std::filesystem::path& path, const FileIdentity& identity, int target_version) {
  const std::string name = path.string();
  if (identity.application_id == 0) {
    if (identity.schema_objects == 0 && identity.user_version == 0) return Status::ok();  // empty: ours to initialize
    return invalid_input(name + " is an SQLite database but not an autokernel memory (application_id 0, " +
                         std::to_string(identity.schema_objects) +
                         " schema objects); autokernel will not modify it (pass --memory with another path)");
  }
  if (identity.application_id != kApplicationId)
    return invalid_input(name + " is an SQLite database of another application (application_id " +
                         hex32(identity.application_id) + ", autokernel's is " + hex32(kApplicationId) +
                         "); autokernel will not modify it");
  if (identity.user_version > target_version)
    return unsupported(name + " has memory schema version " + std::to_string(identity.user_version) +
                       ", newer than this autokernel supports (" + std::to_string(target_version) +
                       "); upgrade autokernel to use it");
  if (identity.user_version < 1)
    return invalid_input(name + " is marked as an autokernel memory but has no schema version; it looks "
                         "damaged, autokernel will not modify it");
  return Status::ok();
}

// Switching a new file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at
// once (without its busy handler) while another process reads or initializes the same
// new file; so retry for up to the busy timeout. Files already in WAL mode skip this.
Status switch_to_wal(Database& db) {
  AK_ASSIGN_OR_RETURN(std::string mode, db.query_text("PRAGMA journal_mode"));
  if (mode == "wal") return Status::ok();
  AK_ASSIGN_OR_RETURN(int64_t timeout_ms, db.query_int("PRAGMA busy_timeout"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto switched = db.query_text("PRAGMA journal_mode=WAL");
    if (switched.is_ok()) {
      if (switched.value() == "wal") return Status::ok();
      return failed(db.path().string() + ": cannot switch the memory file to WAL mode (journal_mode is " +
                    switched.value() + "); is it on a network file system?");
    }
    if ((sqlite3_errcode(db.handle()) & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline)
      return switched.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

Status check_file_header(const std::filesystem::path& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || status.type() == std::filesystem::file_type::not_found) return Status::ok();
  if (status.type() != std::filesystem::file_type::regular)
    return invalid_input(path.string() + " is not a regular file; the memory must be an SQLite file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_input(path.string() + ": cannot read the memory file");
  std::array<unsigned char, 100> header{};
  in.read(reinterpret_cast<char*>(header.data()), header.size());
  const auto size = static_cast<size_t>(in.gcount());
  if (size == 0) return Status::ok();
  static constexpr char kMagic[] = "SQLite format 3";  // 15 characters and the NUL: 16 bytes
  if (size < header.size() || std::memcmp(header.data(), kMagic, sizeof(kMagic)) != 0)
    return invalid_input(path.string() +
                         " is not an SQLite database (no SQLite header); autokernel will not modify or replace it");
  // Offset 68: application_id, 4 bytes big-endian. Checked before SQLite opens the file, so
  // a foreign database with a hot journal is not even rolled back by us.
  const int64_t application_id =
      (int64_t{header[68]} << 24) | (int64_t{header[69]} << 16) | (int64_t{header[70]} << 8) | int64_t{header[71]};
  if (application_id != 0 && application_id != kApplicationId)
    return invalid_input(path.string() + " is an SQLite database of another application (application_id " +
                         hex32(application_id) + "); autokernel will not modify it");
  return Status::ok();
}

Status prepare_schema(Database& db, int target_version) {
  if (target_version < 1 || target_version > static_cast<int>(kMigrations.size()))
    return internal_error("no memory schema version " + std::to_string(target_version));
  FileIdentity identity;
  {
    // One snapshot: read in three autocommit statements, the three values could straddle
    // another process's schema creation (empty application_id, full schema) and a valid
    // new file would be refused. The crash test caught this.
    ReadTransaction snapshot(db);
    AK_RETURN_IF_ERROR(snapshot.begin());
    AK_ASSIGN_OR_RETURN(identity, read_identity(db));
  }
  AK_RETURN_IF_ERROR(check_identity(db.path(), identity, target_version));

  // Only now that the file is known to be ours (or empty) do we write to it.
  AK_RETURN_IF_ERROR(switch_to_wal(db));
  // FULL: the WAL is fsynced at every commit, so an acknowledged record survives power
  // loss too, not only a killed process. Batched writes amortize the fsync.
  // A 32 MiB page cache keeps the indexes of a large memory in memory while recording.
  AK_RETURN_IF_ERROR(db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768"));
  if (identity.user_version == target_version) return Status::ok();

  WriteTransaction transaction(db);
  AK_RETURN_IF_ERROR(transaction.begin());
  // Another process may have initialized or migrated the file since we looked.
  AK_ASSIGN_OR_RETURN(identity, read_identity(db));
  AK_RETURN_IF_ERROR(check_identity(db.path(), identity, target_version));
  for (int64_t version = identity.user_version + 1; version <= target_version; ++version)
    AK_RETURN_IF_ERROR(db.exec(kMigrations[static_cast<size_t>(version - 1)])
                           .with_context("memory schema migration to version " + std::to_string(version)));
  AK_RETURN_IF_ERROR(db.exec("PRAGMA application_id=" + std::to_string(kApplicationId) +
                             "; PRAGMA user_version=" + std::to_string(target_version)));
  return transaction.commit();
}

}  // namespace ak::memory::internal
