#pragma once
/// Small string helpers shared by every module, so no file keeps its own copy.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ak {

/// `s` with ASCII letters lowered (locale-independent: names, flags, enum words).
inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The items separated by `separator`: join({"a", "b"}, ", ") is "a, b".
inline std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

/// Integers separated by `separator`: join({1, 3, 224}, "x") is "1x3x224".
inline std::string join(const std::vector<int64_t>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += std::to_string(items[i]);
  }
  return out;
}

}  // namespace ak
