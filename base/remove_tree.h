#pragma once
/// Deleting a folder and everything in it, without std::filesystem::remove_all.
///
/// Why: pip's libtorch.so exports its own copy of std::filesystem::remove_all (from the
/// older libstdc++ it was built with), and in a process that links it our calls bind to
/// that copy, which jumps through a null pointer (measured on the GPU machine: SIGSEGV at
/// address 0 with libtorch.so's remove_all as the caller). nftw(3) is plain libc.

#include <ftw.h>
#include <stdio.h>

#include <filesystem>

namespace ak {

/// Removes `path` (a file, or a folder with its contents; links are removed, not followed).
/// Returns false if something could not be removed; a missing path is not an error.
inline bool remove_tree(const std::filesystem::path& path) {
  auto remove_one = [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p) == 0 ? 0 : -1; };
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) return true;
  return ::nftw(path.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

}  // namespace ak
