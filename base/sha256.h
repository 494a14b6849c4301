#pragma once
/// SHA-256 as lowercase hex, for stable content names (candidate hashes, build-cache keys).

#include <string>
#include <string_view>

namespace ak {

/// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace ak
