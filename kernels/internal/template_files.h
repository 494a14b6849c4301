#pragma once
// The files of kernels/templates/, embedded into the binary at build time by
// cmake/embed_templates.cmake (the generated template_files.cpp defines template_files()).
// kernels/templates.cpp splices them into the starters it generates. Not installed.

#include <string_view>
#include <vector>

namespace ak::kernels::internal {

/// One template file: its name in kernels/templates/ ("rowwise_cuda.cu") and its text.
struct TemplateFile {
  std::string_view name;
  std::string_view text;
};

/// Every embedded file, sorted by name; static storage, thread-safe.
const std::vector<TemplateFile>& template_files();

}  // namespace ak::kernels::internal
