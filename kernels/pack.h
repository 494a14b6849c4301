#pragma once
/// Kernel packs: the deployable artifact. A pack is a folder holding `pack.json` (schema
/// autokernel.pack/1, every field in docs/packs.md) and, per entry, a folder with the
/// candidate's source and the workload it implements:
///
///     PACK/pack.json
///     PACK/entries/<entry id>/kernel.cu        the candidate source (the truth)
///     PACK/entries/<entry id>/task.json        the workload's task definition (kernels/task.h)
///     PACK/entries/<entry id>/subgraph.onnx    the ONNX nodes the kernel replaces
///
/// Built objects are not part of a pack: they are rebuilt through the build cache
/// (kernels/build.h) when missing or built for another architecture. This header is the
/// one reader and writer of pack.json; torch-free and protobuf-free.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/task.h"

namespace ak::kernels {

/// The schema id written into every pack.json (and the only one read).
inline constexpr const char* kPackSchema = "autokernel.pack/1";

/// The sizes one var axis of an entry was verified for, inclusive. A run whose size for
/// that axis lies outside [min, max] does not use the entry (the original nodes run).
struct AxisRange {
  std::string axis;  ///< a var axis of the entry's task
  int64_t min = 0;
  int64_t max = 0;

  bool operator==(const AxisRange&) const = default;
};

/// Why the pack trusts an entry: the judge's evaluation on the workload.
struct PackEvidence {
  std::vector<int64_t> evaluation_ids;  ///< memory evaluation ids (E<n>); may be empty
  double speedup = 0;                   ///< median candidate vs reference
  double speedup_low = 0, speedup_high = 0;  ///< its confidence interval
  std::vector<std::string> gates;       ///< the gates it passed ("shape", "numerical", ...)
  std::string verdict = "PASSED";       ///< kernels/verdict.h name

  bool operator==(const PackEvidence&) const = default;
};

/// A whole-model verification of the pack (`autokernel verify`), newest last.
struct PackVerification {
  std::string model_sha256;  ///< of the ONNX file verified
  std::string model;         ///< the model file as the user named it
  std::string device;        ///< "cpu", "cuda"
  std::string device_name;
  std::string date;          ///< ISO 8601 UTC
  std::string verdict;       ///< "PASSED" or the failure's verdict name
  std::vector<std::string> entries;  ///< the entry ids it covered

  bool operator==(const PackVerification&) const = default;
};

/// One kernel of a pack: the workload it implements and the candidate that does.
struct PackEntry {
  std::string id;        ///< unique in the pack: "<slug>_<first 8 hex of source hash>"
  std::string workload;  ///< the workload key's hash (models/workload.h); "" when unknown
  std::string source;    ///< the source file, relative to the entry folder ("kernel.cu")
  std::string source_sha256;  ///< of the source bytes; checked on load
  std::string language;  ///< "cuda" or "cpp"
  std::string device;    ///< "cpu" or "cuda"
  std::string arch;      ///< "sm_90a", or the CPU's -march=native name; "" for any
  std::vector<AxisRange> ranges;  ///< one per var axis of the task
  PackEvidence evidence;

  bool operator==(const PackEntry&) const = default;
};

/// Everything pack.json holds.
struct Pack {
  /// The folder it was read from (absolute); read_pack sets it, write_pack does not write it.
  std::filesystem::path dir;
  std::string created_by;  ///< "autokernel <version>"
  std::vector<PackEntry> entries;
  std::vector<PackVerification> verifications;

  /// dir / "entries" / entry.id
  std::filesystem::path entry_dir(const PackEntry& entry) const;
  /// The entry's task (entry_dir / task.json), read with read_task.
  Result<Task> entry_task(const PackEntry& entry) const;
  /// entry_dir / entry.source
  std::filesystem::path source_path(const PackEntry& entry) const;
  /// The entry with `id`, or null.
  const PackEntry* find(const std::string& id) const;

  bool operator==(const Pack&) const = default;
};

/// Reads `dir`/pack.json and checks it: schema, required fields and their types, unique
/// ids, every entry's folder, source and task.json present, source hashes that match the
/// bytes, ranges that name var axes of the entry's task. Every problem is kInvalidInput, one
/// line naming the file and the field: "PACK/pack.json: entries[2].source_sha256: does not
/// match entries/gelu_1a2b3c4d/kernel.cu".
Result<Pack> read_pack(const std::filesystem::path& dir);

/// Writes `pack`.entries and verifications as `dir`/pack.json (pretty-printed), via a
/// temporary file renamed into place. Creates `dir`. Entry folders are written by
/// add_pack_entry, not here.
Status write_pack(const std::filesystem::path& dir, const Pack& pack);

/// Copies `task` (task.json and subgraph.onnx, no captured data) and `source` into a new
/// entry folder of `pack`, fills id, source_sha256, language and the ranges (each var axis
/// at its captured size unless `ranges` says otherwise) and appends the entry to
/// pack->entries (the caller writes pack.json). An entry with the same source hash and
/// workload replaces the older one.
Result<PackEntry> add_pack_entry(Pack* pack, const Task& task, const std::filesystem::path& source,
                                 PackEntry entry_template);

}  // namespace ak::kernels
