#pragma once
/// Reading whole files, with the one-line error every command prints.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "base/status.h"

namespace ak {

/// The bytes of `path`; invalid_input naming the file when it is missing, a directory,
/// or cannot be opened or read.
inline Result<std::string> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return invalid_input("'" + path.string() + "' does not exist");
  if (std::filesystem::is_directory(path, ec))
    return invalid_input("'" + path.string() + "' is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_input("cannot open '" + path.string() + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return invalid_input("cannot read '" + path.string() + "'");
  return bytes;
}

}  // namespace ak
