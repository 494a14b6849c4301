// Names and identities: shape text, canonical signatures, candidate
// hashes, workload keys and item references (W12 / C7 / E3).
#include <charconv>
#include <nlohmann/json.hpp>
#include <random>

#include "memory/internal/database.h"
#include "base/sha256.h"
#include "memory/internal/identity.h"

namespace ak::memory {
std::string format_shape(const Shape& shape) {
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ',';
    if (shape[i].empty()) text += "()";
    for (size_t j = 0; j < shape[i].size(); ++j) {
      if (j > 0) text += 'x';
      text += std::to_string(shape[i][j]);
    }
  }
  return text;
}

Result<Shape> parse_shape(std::string_view text) {
  Shape shape;
  if (!internal::parse_shape_into(text, shape)) {
    if (text.empty()) return invalid_input("empty shape (expected e.g. 32x12x128x128, or 64x768,768x3072)");
    return invalid_input("bad shape '" + std::string(text) +
                         "': expected non-negative integer dimensions joined by 'x', inputs by ',' (e.g. "
                         "32x12x128x128 or 64x768,768x3072; a scalar input is '()')");
  }
  return shape;
}

Result<std::string> canonical_signature(const WorkloadSpec& workload) {
  AK_ASSIGN_OR_RETURN(internal::WorkloadRow row, internal::signature_row(workload));
  return row.signature;
}

Result<Query> query_for(const WorkloadSpec& workload) {
  Query query;
  AK_ASSIGN_OR_RETURN(query.signature, canonical_signature(workload));
  query.op_type = workload.op_type;
  query.dtype = workload.dtypes.front();  // canonical_signature refused an empty list
  query.shape = workload.shape;
  return query;
}

Result<std::string> candidate_hash(const CandidateSpec& candidate) {
  AK_ASSIGN_OR_RETURN(std::string parameters,
                      internal::canonical_json_object(candidate.parameters_json, "candidate parameters"));
  return internal::candidate_hash_canonical(candidate.source, parameters);
}

std::optional<ItemRef> parse_item_ref(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  ItemRef ref;
  switch (text[0]) {
    case 'W': case 'w': ref.kind = ItemKind::kWorkload; break;
    case 'C': case 'c': ref.kind = ItemKind::kCandidate; break;
    case 'E': case 'e': ref.kind = ItemKind::kEvaluation; break;
    default: return std::nullopt;
  }
  auto digits = text.substr(1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ref.id);
  if (ec != std::errc() || end != digits.data() + digits.size() || ref.id <= 0) return std::nullopt;
  return ref;
}

std::string format_item_ref(const ItemRef& ref) {
  char prefix = ref.kind == ItemKind::kWorkload ? 'W' : ref.kind == ItemKind::kCandidate ? 'C' : 'E';
  return prefix + std::to_string(ref.id);
}

namespace internal {
namespace {

// The first 32 hex digits as 8-4-4-4-12.
std::string uuid_format(const std::string& hex) {
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

}  // namespace

bool parse_shape_into(std::string_view text, Shape& shape) {
  // Reuses `shape`'s vectors: search parses thousands of shapes per query.
  size_t inputs = 0;
  if (text.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view input = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (shape.size() <= inputs) shape.emplace_back();
    std::vector<int64_t>& dims = shape[inputs++];
    dims.clear();
    if (input != "()") {
      size_t dim_start = 0;
      while (true) {
        size_t x = input.find_first_of("xX", dim_start);
        std::string_view dim =
            input.substr(dim_start, x == std::string_view::npos ? std::string_view::npos : x - dim_start);
        int64_t value = -1;
        auto [end, ec] = std::from_chars(dim.data(), dim.data() + dim.size(), value);
        if (dim.empty() || ec != std::errc() || end != dim.data() + dim.size() || value < 0) return false;
        dims.push_back(value);
        if (x == std::string_view::npos) break;
        dim_start = x + 1;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  shape.resize(inputs);
  return true;
}

Result<std::string> canonical_json_object(std::string_view text, std::string_view what) {
  if (text.empty() || text == "{}") return std::string("{}");
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    return invalid_input(std::string(what) + " must be a JSON object, got '" + std::string(text.substr(0, 80)) + "'");
  return parsed.dump();
}

std::string candidate_hash_canonical(const std::string& source, const std::string& canonical_parameters) {
  if (canonical_parameters == "{}") return sha256_hex(source);
  std::string material = source;
  material.push_back('\0');
  material += canonical_parameters;
  return sha256_hex(material);
}

std::string workload_key(std::string_view signature, std::string_view shape_text, std::string_view arch) {
  std::string material(signature);
  material += '\n';
  material += shape_text;
  material += '\n';
  material += arch;
  return uuid_format(sha256_hex(material));
}

std::string random_uuid() {
  // Time-ordered (UUID version 7: 48 bits of Unix milliseconds, then 74 random bits), so
  // that new evaluations land at the end of the uuid index instead of on random pages.
  // The random bits come straight from the OS source, not a seeded engine: a process that
  // forks after recording would otherwise hand its children the same engine state.
  thread_local std::random_device device;
  const auto ms = static_cast<uint64_t>(now_ns() / 1000000);
  uint64_t high = (ms << 16) | 0x7000u | (device() & 0x0fffu);
  uint64_t low = (static_cast<uint64_t>(device()) << 32) | device();
  low = (low & ~(0xc000ull << 48)) | (0x8000ull << 48);  // variant 10xx
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (int i = 15; i >= 0; --i) text.push_back(kHex[(high >> (4 * i)) & 0xf]);
  for (int i = 15; i >= 0; --i) text.push_back(kHex[(low >> (4 * i)) & 0xf]);
  return uuid_format(text);
}

std::string join_list(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ',';
    text += items[i];
  }
  return text;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  if (text.empty()) return items;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    items.emplace_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

Result<WorkloadRow> signature_row(const WorkloadSpec& workload) {
  if (workload.op_type.empty()) return invalid_input("workload has no op type");
  if (workload.dtypes.empty()) return invalid_input("workload '" + workload.op_type + "' has no dtypes");
  for (const auto& dtype : workload.dtypes)
    if (dtype.empty() || dtype.find_first_of(",[]") != std::string::npos)
      return invalid_input("workload '" + workload.op_type + "': bad dtype '" + dtype + "'");
  WorkloadRow row;
  AK_ASSIGN_OR_RETURN(row.attributes, canonical_json_object(workload.attributes_json, "attributes of " + workload.op_type));
  row.op_type = workload.op_type;
  row.dtype = workload.dtypes.front();
  row.dtypes = join_list(workload.dtypes);
  row.layout = workload.layout;
  row.signature = row.op_type + row.attributes + "[" + row.dtypes + "]";
  if (!row.layout.empty()) row.signature += "@" + row.layout;
  return row;
}

Result<WorkloadRow> workload_row(const WorkloadSpec& workload) {
  AK_ASSIGN_OR_RETURN(WorkloadRow row, signature_row(workload));
  if (workload.shape.empty()) return invalid_input("workload '" + row.signature + "' has no shape");
  if (workload.shape.size() != workload.dtypes.size())
    return invalid_input("workload '" + row.signature + "' has " + std::to_string(workload.shape.size()) +
                         " input shapes but " + std::to_string(workload.dtypes.size()) + " dtypes");
  for (const auto& dims : workload.shape)
    for (int64_t dim : dims)
      if (dim < 0) return invalid_input("workload '" + row.signature + "' has a negative dimension");
  if (workload.arch.empty()) return invalid_input("workload '" + row.signature + "' has no device architecture");
  row.shape = format_shape(workload.shape);
  row.arch = workload.arch;
  return row;
}

}  // namespace internal
}  // namespace ak::memory
