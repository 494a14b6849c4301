// Whole-model verification (verifier/verify_model.h): bisection, input sets, output
// comparison and the verification flow. The worker side is verify_worker.cpp.
#include "verifier/verify_model.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "models/inputs.h"

namespace ak::verifier {

Result<BisectResult> bisect_culprits(size_t n, const SubsetFails& fails) {
  BisectResult result;
  std::vector<size_t> remaining(n);
  for (size_t i = 0; i < n; ++i) remaining[i] = i;
  auto test = [&](const std::vector<size_t>& subset) -> Result<bool> {
    ++result.tests;
    return fails(subset);
  };
  // `remaining` is known to fail here (the caller's premise, then the loop's test).
  while (!remaining.empty()) {
    std::vector<size_t> current = remaining;
    while (current.size() > 1) {
      const auto middle = current.begin() + static_cast<std::ptrdiff_t>(current.size() / 2);
      std::vector<size_t> first(current.begin(), middle), second(middle, current.end());
      AK_ASSIGN_OR_RETURN(bool first_fails, test(first));
      current = first_fails ? std::move(first) : std::move(second);
    }
    result.culprits.push_back(current[0]);
    std::erase(remaining, current[0]);
    if (remaining.empty()) break;
    AK_ASSIGN_OR_RETURN(bool rest_fails, test(remaining));
    if (!rest_fails) break;
  }
  std::sort(result.culprits.begin(), result.culprits.end());
  return result;
}

namespace {

/// The symbolic dims of the model's runtime inputs, in order of first appearance.
std::vector<std::string> symbolic_dims(const models::Model& model) {
  std::vector<std::string> names;
  for (const models::ValueInfo* input : model.graph.runtime_inputs())
    for (const models::Dim& dim : input->shape)
      if (!dim.is_fixed() && !dim.param.empty() && std::find(names.begin(), names.end(), dim.param) == names.end())
        names.push_back(dim.param);
  return names;
}

/// The model folder's captured sets: test_data_set_*/input_<i>.pb, one file per runtime input.
Result<std::vector<InputSet>> captured_sets(const models::Model& model, const std::filesystem::path& model_path,
                                            const std::map<std::string, int64_t>& dims) {
  std::vector<std::filesystem::path> folders;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(model_path.parent_path(), ec))
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0)
      folders.push_back(entry.path());
  std::sort(folders.begin(), folders.end());
  std::vector<InputSet> sets;
  const auto inputs = model.graph.runtime_inputs();
  for (const auto& folder : folders) {
    std::vector<models::InputSpec> specs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto file = folder / ("input_" + std::to_string(i) + ".pb");
      if (!std::filesystem::exists(file)) break;
      models::InputSpec spec;
      spec.name = inputs[i]->name;
      spec.file = file;
      specs.push_back(std::move(spec));
    }
    if (specs.size() != inputs.size()) continue;  // not this model's test data
    AK_ASSIGN_OR_RETURN(auto resolved, models::resolve_inputs(model, specs, dims, 0));
    sets.push_back({"captured " + folder.filename().string(), std::move(resolved.tensors)});
  }
  return sets;
}

}  // namespace

Result<std::vector<InputSet>> make_input_sets(const models::Model& model, const std::filesystem::path& model_path,
                                              const InputSetOptions& options) {
  std::vector<InputSet> sets;
  std::vector<models::InputSpec> specs;
  for (const auto& text : options.input_specs) {
    AK_ASSIGN_OR_RETURN(models::InputSpec spec, models::parse_input_spec(text));
    specs.push_back(std::move(spec));
  }
  if (!specs.empty()) {
    AK_ASSIGN_OR_RETURN(auto given, models::resolve_inputs(model, specs, options.dims, options.seed));
    sets.push_back({"given (seed " + std::to_string(options.seed) + ")", std::move(given.tensors)});
  } else {
    AK_ASSIGN_OR_RETURN(sets, captured_sets(model, model_path, options.dims));
  }
  for (int r = 1; r <= options.random_sets; ++r) {
    const uint64_t seed = options.seed + static_cast<uint64_t>(r);
    AK_ASSIGN_OR_RETURN(auto random, models::resolve_inputs(model, {}, options.dims, seed));
    sets.push_back({"random seed " + std::to_string(seed), std::move(random.tensors)});
  }
  const std::vector<std::string> dims = symbolic_dims(model);
  for (const auto& [name, sizes] : options.other_sizes)
    if (std::find(dims.begin(), dims.end(), name) == dims.end())
      return invalid_input("--dims " + name + ": the model's inputs have no symbolic dimension '" + name + "'");
  if (!options.vary_dims) return sets;
  for (const std::string& name : dims) {
    const auto base_it = options.dims.find(name);
    const int64_t base = base_it == options.dims.end() ? 1 : base_it->second;
    std::vector<int64_t> sizes;
    if (auto it = options.other_sizes.find(name); it != options.other_sizes.end()) {
      sizes = it->second;
    } else {
      for (int64_t size : {2 * base, int64_t{1}})
        if (size != base) sizes.push_back(size);
    }
    for (int64_t size : sizes) {
      if (size < 1) return invalid_input("--dims " + name + ": size " + std::to_string(size) + " is not positive");
      std::map<std::string, int64_t> varied = options.dims;
      varied[name] = size;
      const uint64_t seed = options.seed + 1;
      AK_ASSIGN_OR_RETURN(auto resolved, models::resolve_inputs(model, {}, varied, seed));
      sets.push_back({name + "=" + std::to_string(size) + " (seed " + std::to_string(seed) + ")",
                      std::move(resolved.tensors)});
    }
  }
  return sets;
}

Tolerance model_output_tolerance(models::DType dtype, const std::optional<Tolerance>& override_tolerance) {
  if (override_tolerance) return *override_tolerance;
  return default_tolerance(dtype, "other");
}

std::vector<OutputCheck> compare_model_outputs(const std::string& input_set,
                                               const std::vector<models::TensorData>& expected,
                                               const std::vector<models::TensorData>& actual,
                                               const std::optional<Tolerance>& override_tolerance) {
  std::vector<OutputCheck> checks;
  for (size_t i = 0; i < expected.size(); ++i) {
    OutputCheck check;
    check.input_set = input_set;
    check.output = expected[i].name;
    check.tolerance = model_output_tolerance(expected[i].dtype, override_tolerance);
    if (i < actual.size()) {
      check.comparison = compare_outputs(expected[i], actual[i], check.tolerance);
    } else {
      check.comparison.verdict = Verdict::kIncorrectShape;
      check.comparison.summary = "the swapped model did not produce output " + std::to_string(i);
    }
    checks.push_back(std::move(check));
  }
  return checks;
}

int64_t differing_elements(const models::TensorData& expected, const models::TensorData& actual) {
  const int64_t n = std::max(expected.numel(), actual.numel());
  if (expected.dtype != actual.dtype || expected.dims != actual.dims) return n;
  if (expected.dtype == models::DType::kString) {
    int64_t differ = 0;
    for (size_t i = 0; i < expected.strings.size() && i < actual.strings.size(); ++i)
      differ += expected.strings[i] != actual.strings[i];
    return differ;
  }
  const size_t width = models::dtype_size(expected.dtype);
  if (width == 0 || expected.bytes.size_bytes != actual.bytes.size_bytes) return n;
  int64_t differ = 0;
  for (size_t at = 0; at + width <= expected.bytes.size_bytes; at += width)
    differ += std::memcmp(expected.bytes.data + at, actual.bytes.data + at, width) != 0;
  return differ;
}

const OutputCheck* RunVerdict::worst() const {
  const OutputCheck* worst = nullptr;
  for (const OutputCheck& check : checks) {
    if (!check.comparison.passed()) return &check;
    if (worst == nullptr || check.comparison.max_abs_error > worst->comparison.max_abs_error) worst = &check;
  }
  return worst;
}

RunVerdict judge_run(const SwappedRun& run, const std::vector<std::string>& input_sets,
                     const std::vector<std::vector<models::TensorData>>& expected,
                     const std::optional<Tolerance>& tolerance) {
  RunVerdict verdict;
  for (size_t s = 0; s < run.outputs.size() && s < expected.size(); ++s) {
    auto checks = compare_model_outputs(input_sets[s], expected[s], run.outputs[s], tolerance);
    verdict.checks.insert(verdict.checks.end(), checks.begin(), checks.end());
  }
  if (run.verdict != Verdict::kPassed) {
    verdict.verdict = run.verdict;
    verdict.message = run.message;
    return verdict;
  }
  if (run.outputs.size() < expected.size()) {
    verdict.verdict = Verdict::kRuntimeError;
    verdict.message = "the worker returned outputs for " + std::to_string(run.outputs.size()) + " of " +
                      std::to_string(expected.size()) + " input sets";
    return verdict;
  }
  if (const OutputCheck* worst = verdict.worst(); worst != nullptr && !worst->comparison.passed()) {
    verdict.verdict = worst->comparison.verdict;
    verdict.message = "output " + worst->output + " on " + worst->input_set + ": " + worst->comparison.summary;
  }
  return verdict;
}

namespace {

Culprit culprit_from(const std::string& entry, const RunVerdict& run) {
  Culprit culprit;
  culprit.entry = entry;
  culprit.verdict = run.verdict;
  culprit.message = run.message;
  if (const OutputCheck* worst = run.worst(); worst != nullptr && run.verdict != Verdict::kRuntimeError &&
                                               run.verdict != Verdict::kTimeout) {
    culprit.input_set = worst->input_set;
    culprit.output = worst->output;
    culprit.max_abs_error = worst->comparison.max_abs_error;
    culprit.max_rel_error = worst->comparison.max_rel_error;
    culprit.tolerance = worst->tolerance;
  }
  return culprit;
}

std::vector<const models::SwapInstance*> instances_of(const models::SwapReport& swap, const std::string& entry) {
  std::vector<const models::SwapInstance*> found;
  for (const auto& instance : swap.instances)
    if (instance.entry == entry && !instance.nodes.empty()) found.push_back(&instance);
  return found;
}

}  // namespace

namespace {

/// The entries of a passing, not clearly faster pack that slow the model alone: each matched
/// entry timed alone (one entry: the full run's numbers are its own), slow when its interval
/// lies below 1. An entry whose timed run fails is left to the correctness checks.
Result<std::vector<SlowEntry>> find_slow_entries(const SwappedRun& full, const SpeedupEstimate& whole,
                                                 const std::vector<std::string>& entries, const SwappedRunner& runner,
                                                 const std::function<void(const std::string&)>& progress) {
  std::vector<std::string> matched;
  for (const auto& entry : entries)
    if (!instances_of(full.swap, entry).empty()) matched.push_back(entry);
  std::vector<SlowEntry> slow;
  for (size_t i = 0; i < matched.size(); ++i) {
    SpeedupEstimate alone = whole;
    if (matched.size() > 1) {
      progress("verify: timing entry " + std::to_string(i + 1) + " of " + std::to_string(matched.size()) + " alone: " +
               matched[i]);
      AK_ASSIGN_OR_RETURN(SwappedRun run, runner({{matched[i]}, {}}, true));
      if (run.verdict != Verdict::kPassed || run.original_ns.empty() || run.original_ns.size() != run.swapped_ns.size())
        continue;
      AK_ASSIGN_OR_RETURN(alone, estimate_speedup(run.original_ns, run.swapped_ns));
    }
    if (alone.ci_high >= 1.0) continue;
    SlowEntry e;
    e.entry = matched[i];
    e.speedup = alone;
    for (const auto* instance : instances_of(full.swap, matched[i])) {
      e.workload = instance->workload;
      ++e.instances;
    }
    slow.push_back(std::move(e));
  }
  return slow;
}

}  // namespace

Result<VerifyReport> verify_swapped(const std::vector<std::string>& input_sets,
                                    const std::vector<std::vector<models::TensorData>>& expected,
                                    const std::vector<std::string>& entries, const SwappedRunner& runner,
                                    const VerifyOptions& options) {
  auto progress = [&](const std::string& what) {
    if (options.progress) options.progress(what);
  };
  VerifyReport report;
  report.input_sets = input_sets;
  report.entries = entries;
  progress("verify: every entry swapped in, " + std::to_string(input_sets.size()) + " input sets");
  AK_ASSIGN_OR_RETURN(SwappedRun full, runner({}, options.measure_latency));
  report.full = judge_run(full, input_sets, expected, options.tolerance);
  report.swap = full.swap;
  report.fallbacks = full.fallbacks;
  report.swapped_graph = full.graph;
  report.verdict = report.full.verdict;
  if (report.verdict == Verdict::kPassed) {
    if (options.measure_latency && !full.original_ns.empty() && full.original_ns.size() == full.swapped_ns.size()) {
      ModelLatency latency;
      auto to_ms = [](const std::vector<int64_t>& ns) {
        std::vector<double> ms;
        for (int64_t v : ns) ms.push_back(static_cast<double>(v) / 1e6);
        return summarize(std::move(ms));
      };
      latency.original_ms = to_ms(full.original_ns);
      latency.swapped_ms = to_ms(full.swapped_ns);
      AK_ASSIGN_OR_RETURN(latency.speedup, estimate_speedup(full.original_ns, full.swapped_ns));
      report.latency = latency;
      if (options.find_slow_entries && latency.speedup.ci_low < 1.0) {
        AK_ASSIGN_OR_RETURN(report.slow_entries, find_slow_entries(full, latency.speedup, entries, runner, progress));
      }
    }
    return report;
  }
  if (!options.bisect || entries.empty()) return report;

  // Run with a selection; every run after the first counts as a bisection run. A selection
  // already run is not run again (the culprit alone is often a half the bisection tested),
  // which matters most for a hanging kernel: each of its runs costs the whole time limit.
  std::map<std::pair<std::vector<std::string>, std::vector<std::string>>, RunVerdict> done;
  auto run_selection = [&](const SwapSelection& selection) -> Result<RunVerdict> {
    const auto key = std::make_pair(selection.entries, selection.instances);
    if (auto it = done.find(key); it != done.end()) return it->second;
    ++report.bisection_runs;
    AK_ASSIGN_OR_RETURN(SwappedRun run, runner(selection, false));
    return done[key] = judge_run(run, input_sets, expected, options.tolerance);
  };
  // Only entries that matched something can break the model; when the worker died before
  // saying what matched, every entry is a suspect.
  std::vector<std::string> suspects;
  for (const auto& entry : entries)
    if (full.swap.instances.empty() || !instances_of(full.swap, entry).empty()) suspects.push_back(entry);
  std::vector<size_t> culprit_entries;
  if (suspects.size() == 1) {
    culprit_entries = {0};
  } else {
    progress("verify: bisecting " + std::to_string(suspects.size()) + " entries");
    AK_ASSIGN_OR_RETURN(BisectResult bisected,
                        bisect_culprits(suspects.size(), [&](const std::vector<size_t>& subset) -> Result<bool> {
                          SwapSelection selection;
                          for (size_t i : subset) selection.entries.push_back(suspects[i]);
                          AK_ASSIGN_OR_RETURN(RunVerdict run, run_selection(selection));
                          return run.verdict != Verdict::kPassed;
                        }));
    culprit_entries = bisected.culprits;
  }
  for (size_t index : culprit_entries) {
    const std::string& entry = suspects[index];
    progress("verify: entry " + std::to_string(report.culprits.size() + 1) + " of " +
             std::to_string(culprit_entries.size()) + ": " + entry + " alone");
    AK_ASSIGN_OR_RETURN(RunVerdict alone, run_selection({{entry}, {}}));
    // The instance list: from the full run, else (it died first) from nothing: the entry stays whole.
    const auto instances = instances_of(full.swap, entry);
    Culprit culprit = culprit_from(entry, alone.verdict == Verdict::kPassed ? report.full : alone);
    culprit.instances = culprit.instances_of_entry = static_cast<int>(instances.size());
    if (alone.verdict == Verdict::kPassed)
      culprit.message = "passes alone; breaks the model together with the other culprits (" + report.full.message + ")";
    for (const auto* instance : instances) {
      culprit.workload = instance->workload;
      culprit.nodes.insert(culprit.nodes.end(), instance->nodes.begin(), instance->nodes.end());
    }
    // A hanging entry is not split further: every instance run would cost the whole
    // time limit, and the entry is what a pack can drop.
    if (alone.verdict != Verdict::kPassed && alone.verdict != Verdict::kTimeout && instances.size() > 1) {
      progress("verify: bisecting the " + std::to_string(instances.size()) + " instances of " + entry);
      AK_ASSIGN_OR_RETURN(BisectResult bisected,
                          bisect_culprits(instances.size(), [&](const std::vector<size_t>& subset) -> Result<bool> {
                            SwapSelection selection{{entry}, {}};
                            for (size_t i : subset) selection.instances.push_back(instances[i]->nodes.front());
                            AK_ASSIGN_OR_RETURN(RunVerdict run, run_selection(selection));
                            return run.verdict != Verdict::kPassed;
                          }));
      if (bisected.culprits.size() < instances.size()) {
        SwapSelection selection{{entry}, {}};
        culprit.nodes.clear();
        for (size_t i : bisected.culprits) {
          selection.instances.push_back(instances[i]->nodes.front());
          culprit.nodes.insert(culprit.nodes.end(), instances[i]->nodes.begin(), instances[i]->nodes.end());
        }
        AK_ASSIGN_OR_RETURN(RunVerdict narrowed, run_selection(selection));
        if (narrowed.verdict != Verdict::kPassed) {
          Culprit numbers = culprit_from(entry, narrowed);
          numbers.workload = culprit.workload;
          numbers.nodes = culprit.nodes;
          numbers.instances_of_entry = culprit.instances_of_entry;
          culprit = std::move(numbers);
        }
        culprit.instances = static_cast<int>(bisected.culprits.size());
      }
    }
    report.culprits.push_back(std::move(culprit));
  }
  return report;
}

}  // namespace ak::verifier
