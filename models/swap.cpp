// Swap-in of pack kernels (models/swap.h).
#include "models/swap.h"

#include <set>

namespace ak::models {

std::string SwapReport::summary() const {
  std::set<std::string> matched;
  for (const auto& instance : instances) matched.insert(instance.entry);
  const size_t unmatched = unmatched_entries.size();
  std::string text = "kernels: swapped " + std::to_string(instances.size()) + " instance" +
                     (instances.size() == 1 ? "" : "s") + " of " + std::to_string(workloads) + " workload" +
                     (workloads == 1 ? "" : "s") + " (" + std::to_string(matched.size()) + " of " +
                     std::to_string(entries) + " entries)";
  if (unmatched > 0)
    text += "; " + std::to_string(unmatched) + (unmatched == 1 ? " entry matched" : " entries matched") + " nothing";
  return text;
}

}  // namespace ak::models
