#pragma once
/// The memory file's identity (application_id), its schema versions (user_version) and
/// the checks that keep autokernel from touching a file that is not its own.

#include <cstdint>
#include <filesystem>

#include "base/status.h"
#include "memory/internal/database.h"
#include "memory/memory.h"

namespace ak::memory::internal {

/// PRAGMA application_id of every autokernel memory: "AKMM".
inline constexpr int32_t kApplicationId = 0x414B4D4D;

/// Reads the first 100 bytes of an existing file, without SQLite: a non-empty file must
/// start with the SQLite header, and a non-zero application_id there must be ours.
/// A missing or zero-length file passes (SQLite treats it as an empty database).
Status check_file_header(const std::filesystem::path& path);

/// On an open connection: refuses a database that is not an autokernel memory or whose
/// schema is newer than `target_version`, then (only then) switches to WAL, sets the
/// connection's pragmas and migrates an empty or older database up to `target_version`
/// in one write transaction. Tests pass an older target to build old files.
Status prepare_schema(Database& db, int target_version);

/// Store::open with a given schema version (tests build files of older versions with it).
Result<std::unique_ptr<Store>> open_store_at_version(const std::filesystem::path& path, const OpenOptions& options,
                                                     int schema_version);

}  // namespace ak::memory::internal
