// `autokernel verify MODEL --kernels PACK`: the original model against the model with the
// pack's kernels swapped in, on several input sets; bisection to the culprits on a failure;
// whole-model latency; the verdict recorded in the pack and the memory. The work is in
// verifier/verify_model.h; this file parses, prints and records.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.h"
#include "base/remove_tree.h"
#include "base/sha256.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "cli/progress.h"
#include "kernels/pack.h"
#include "memory/memory.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "verifier/verify_model.h"

namespace ak::cli {

namespace {

struct VerifyArgs {
  ModelOptions model;
  std::string pack;
  std::vector<std::string> other_dims;
  int random_sets = 2;
  bool no_vary_dims = false;
  double atol = -1, rtol = -1;
  double timeout_s = 120;
  double memory_limit_mib = 0;
  int iters = 10, warmup = 2;
  bool no_latency = false, no_bisect = false;
  bool prune = false;
  std::string prune_out;
  bool json = false;
  bool cuda_graph = false, no_cuda_graph = false;  ///< --cuda-graph / --no-cuda-graph
  bool no_memory = false;
  std::string memory_path;
};

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

/// "batch=2,4" -> {"batch", {2, 4}}.
Result<std::pair<std::string, std::vector<int64_t>>> parse_other_sizes(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    return invalid_input("--dims '" + text + "': expected NAME=N[,N...]");
  std::vector<int64_t> sizes;
  size_t start = eq + 1;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || value < 1)
      return invalid_input("--dims '" + text + "': '" + item + "' is not a positive size");
    sizes.push_back(value);
    start = comma + 1;
  }
  return std::make_pair(text.substr(0, eq), sizes);
}

/// One verification of one pack folder: the runner over the shared input sets.
struct Verified {
  verifier::VerifyReport report;
  std::filesystem::path pack_dir;
};

struct Context {
  const VerifyArgs& args;
  std::shared_ptr<const models::Model> model;
  models::Device device;
  std::vector<verifier::InputSet> sets;
  std::vector<std::string> set_names;
  std::vector<std::vector<models::TensorData>> expected;
  std::optional<verifier::Tolerance> tolerance;
  Progress& progress;
  bool cuda_graph = false;  ///< both sides run as deployed, with CUDA graphs
};

Result<Verified> verify_pack(const Context& c, const kernels::Pack& pack) {
  verifier::WorkerRunnerOptions wo;
  wo.worker_program = self_program();
  wo.model = c.args.model.path;
  wo.pack = pack.dir;
  wo.device = c.device.str();
  wo.threads = c.args.model.threads;
  wo.fuse = !c.args.model.no_fuse;
  wo.allow_tf32 = c.args.model.tf32;
  wo.cuda_graph = c.cuda_graph;
  wo.timeout_s = c.args.timeout_s;
  wo.memory_limit_bytes = static_cast<uint64_t>(c.args.memory_limit_mib * 1048576.0);
  wo.warmup = c.args.warmup;
  wo.iterations = c.args.iters;
  AK_ASSIGN_OR_RETURN(verifier::SwappedRunner runner, verifier::make_worker_runner(wo, c.sets));
  std::vector<std::string> ids;
  for (const auto& entry : pack.entries) ids.push_back(entry.id);
  verifier::VerifyOptions vo;
  vo.tolerance = c.tolerance;
  vo.bisect = !c.args.no_bisect;
  vo.measure_latency = !c.args.no_latency;
  vo.progress = [&c](const std::string& what) { c.progress.step(what); };
  AK_ASSIGN_OR_RETURN(verifier::VerifyReport report, verifier::verify_swapped(c.set_names, c.expected, ids, runner, vo));
  if (report.full.verdict == verifier::Verdict::kPassed && report.swap.instances.empty())
    return invalid_input(pack.dir.string() + ": no entry of the pack matches anything in " + c.args.model.path + " (" +
                         std::to_string(pack.entries.size()) + " entries)");
  return Verified{std::move(report), pack.dir};
}

/// Worst error per output name over the input sets.
struct OutputWorst {
  std::string name;
  double max_abs = 0, max_rel = 0;
  verifier::Tolerance tolerance;
  bool passed = true;
  std::string worst_set;
};

std::vector<OutputWorst> worst_per_output(const verifier::RunVerdict& run) {
  std::vector<OutputWorst> rows;
  for (const auto& check : run.checks) {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const OutputWorst& r) { return r.name == check.output; });
    if (it == rows.end()) {
      rows.push_back({check.output, 0, 0, check.tolerance, true, check.input_set});
      it = rows.end() - 1;
    }
    if (check.comparison.max_abs_error >= it->max_abs) {
      it->max_abs = check.comparison.max_abs_error;
      it->worst_set = check.input_set;
    }
    it->max_rel = std::max(it->max_rel, check.comparison.max_rel_error);
    it->passed = it->passed && check.comparison.passed();
  }
  return rows;
}

nlohmann::ordered_json graph_json(const verifier::DeployedGraph& g) {
  return {{"enabled", g.enabled}, {"captured", g.captured}, {"replays", g.replays}, {"refused", g.refused},
          {"refusal", g.refusal}};
}

/// The `cuda_graph` section: the original model's replays against its eager outputs, per
/// output, and what graphs did on the swapped side.
nlohmann::ordered_json cuda_graph_json(const std::optional<verifier::CudaGraphCheck>& check, const std::string& off,
                                       const verifier::DeployedGraph& swapped) {
  nlohmann::ordered_json j;
  j["enabled"] = check.has_value() && check->original.enabled;
  j["ignored"] = check ? check->ignored : off;
  j["original"] = check ? graph_json(check->original) : nlohmann::ordered_json();
  j["sets_replayed"] = check ? check->sets_replayed : 0;
  j["outputs"] = nlohmann::ordered_json::array();
  if (check)
    for (const auto& o : check->outputs)
      j["outputs"].push_back({{"name", o.output}, {"bitwise_equal", o.bitwise_equal},
                              {"differing_elements", o.differing_elements}, {"first_difference", o.first_difference}});
  j["swapped"] = graph_json(swapped);
  return j;
}

/// "cuda graph: ..." lines of the text report.
void print_cuda_graph(const std::optional<verifier::CudaGraphCheck>& check, const std::string& off,
                      const verifier::DeployedGraph& swapped) {
  if (!check || !check->original.enabled) {
    std::printf("cuda graph: off (%s)\n", check ? check->ignored.c_str() : off.c_str());
    return;
  }
  const auto& g = check->original;
  std::printf("cuda graph: original %lld replays of %lld captured graph(s), %d input sets replayed%s%s\n",
              static_cast<long long>(g.replays), static_cast<long long>(g.captured), check->sets_replayed,
              g.refusal.empty() ? "" : "; ", g.refusal.c_str());
  for (const auto& o : check->outputs)
    std::printf("  %-20s graph vs eager: %s\n", o.output.c_str(),
                o.bitwise_equal ? "bitwise equal"
                                : (std::to_string(o.differing_elements) + " elements differ on " + o.first_difference).c_str());
  std::printf("cuda graph: swapped %lld replays of %lld captured graph(s)%s%s\n", static_cast<long long>(swapped.replays),
              static_cast<long long>(swapped.captured), swapped.refusal.empty() ? "" : "; ", swapped.refusal.c_str());
}

nlohmann::ordered_json report_json(const Verified& v) {
  const verifier::VerifyReport& r = v.report;
  nlohmann::ordered_json j;
  j["pack"] = v.pack_dir.string();
  j["verdict"] = verifier::verdict_name(r.verdict);
  j["message"] = r.full.message;
  j["kernels"] = r.swap.summary();
  j["swapped_instances"] = r.swap.instances.size();
  j["workloads"] = r.swap.workloads;
  j["unmatched_entries"] = r.swap.unmatched_entries;
  j["input_sets"] = r.input_sets;
  j["outputs"] = nlohmann::ordered_json::array();
  for (const auto& o : worst_per_output(r.full))
    j["outputs"].push_back({{"name", o.name}, {"max_abs_error", o.max_abs}, {"max_rel_error", o.max_rel},
                            {"atol", o.tolerance.atol}, {"rtol", o.tolerance.rtol},
                            {"min_matched_ratio", o.tolerance.min_matched_ratio}, {"passed", o.passed},
                            {"worst_input_set", o.worst_set}});
  j["checks"] = nlohmann::ordered_json::array();
  for (const auto& c : r.full.checks)
    j["checks"].push_back({{"input_set", c.input_set}, {"output", c.output},
                           {"verdict", verifier::verdict_name(c.comparison.verdict)},
                           {"max_abs_error", c.comparison.max_abs_error}, {"max_rel_error", c.comparison.max_rel_error},
                           {"summary", c.comparison.summary}});
  j["fallbacks"] = nlohmann::ordered_json::array();
  for (const auto& f : r.fallbacks)
    j["fallbacks"].push_back({{"input_set", f.input_set}, {"entry", f.entry}, {"node", f.node}, {"reason", f.reason}});
  j["culprits"] = nlohmann::ordered_json::array();
  for (const auto& c : r.culprits)
    j["culprits"].push_back({{"entry", c.entry}, {"workload", c.workload}, {"nodes", c.nodes},
                             {"instances", c.instances}, {"instances_of_entry", c.instances_of_entry},
                             {"verdict", verifier::verdict_name(c.verdict)}, {"input_set", c.input_set},
                             {"output", c.output}, {"max_abs_error", c.max_abs_error}, {"max_rel_error", c.max_rel_error},
                             {"atol", c.tolerance.atol}, {"rtol", c.tolerance.rtol}, {"message", c.message}});
  j["bisection_runs"] = r.bisection_runs;
  j["slow_entries"] = nlohmann::ordered_json::array();
  for (const auto& e : r.slow_entries)
    j["slow_entries"].push_back({{"entry", e.entry}, {"workload", e.workload}, {"instances", e.instances},
                                 {"model_speedup", e.speedup.speedup},
                                 {"model_speedup_ci95", {e.speedup.ci_low, e.speedup.ci_high}}});
  if (r.latency) {
    auto side = [](const verifier::Summary& s) {
      return nlohmann::ordered_json{{"median", s.median}, {"ci95", {s.ci_low, s.ci_high}}, {"p10", s.p10}, {"p90", s.p90}};
    };
    j["latency_ms"] = {{"original", side(r.latency->original_ms)}, {"swapped", side(r.latency->swapped_ms)},
                       {"speedup", r.latency->speedup.speedup},
                       {"speedup_ci95", {r.latency->speedup.ci_low, r.latency->speedup.ci_high}},
                       {"pairs", r.latency->speedup.n}};
  } else {
    j["latency_ms"] = nullptr;
  }
  return j;
}

void print_report(const Verified& v) {
  const verifier::VerifyReport& r = v.report;
  std::printf("pack:       %s (%zu entries)\n", v.pack_dir.c_str(), r.entries.size());
  std::printf("%s\n", r.swap.summary().c_str());
  for (const auto& entry : r.swap.unmatched_entries) std::printf("unmatched:  entry %s matched nothing\n", entry.c_str());
  std::printf("input sets: %zu\n", r.input_sets.size());
  for (const auto& set : r.input_sets) std::printf("  %s\n", set.c_str());
  // One line per set and entry: a model repeats each workload in every layer.
  for (size_t i = 0; i < r.fallbacks.size();) {
    const auto& f = r.fallbacks[i];
    size_t same = i + 1;
    while (same < r.fallbacks.size() && r.fallbacks[same].input_set == f.input_set && r.fallbacks[same].entry == f.entry)
      ++same;
    std::printf("fallback:   %s: entry %s, %zu instance%s (first %s) ran the original nodes: %s\n", f.input_set.c_str(),
                f.entry.c_str(), same - i, same - i == 1 ? "" : "s", f.node.c_str(), f.reason.c_str());
    i = same;
  }
  const auto rows = worst_per_output(r.full);
  if (!rows.empty()) std::printf("outputs (worst over the input sets):\n");
  for (const auto& o : rows)
    std::printf("  %-20s max_abs_error %-11.4g max_rel_error %-11.4g %s  %s\n", o.name.c_str(), o.max_abs, o.max_rel,
                o.tolerance.describe().c_str(), o.passed ? "ok" : ("FAILED on " + o.worst_set).c_str());
  std::printf("verdict:    %s%s\n", verifier::verdict_name(r.verdict),
              r.full.message.empty() ? "" : (" (" + r.full.message + ")").c_str());
  for (const auto& c : r.culprits) {
    std::string nodes;
    for (size_t i = 0; i < c.nodes.size() && i < 8; ++i) nodes += (i ? ", " : "") + c.nodes[i];
    if (c.nodes.size() > 8) nodes += ", ... (" + std::to_string(c.nodes.size()) + " nodes)";
    std::printf("culprit:    entry %s (workload %s), %d of %d instances, nodes %s: %s", c.entry.c_str(),
                c.workload.empty() ? "?" : c.workload.c_str(), c.instances, c.instances_of_entry,
                nodes.empty() ? "?" : nodes.c_str(), verifier::verdict_name(c.verdict));
    if (!c.output.empty())
      std::printf(", output %s on %s: max_abs_error %.4g max_rel_error %.4g (%s)", c.output.c_str(), c.input_set.c_str(),
                  c.max_abs_error, c.max_rel_error, c.tolerance.describe().c_str());
    else if (!c.message.empty())
      std::printf(": %s", c.message.c_str());
    std::printf("\n");
  }
  if (r.bisection_runs > 0) std::printf("bisection:  %d worker runs\n", r.bisection_runs);
  for (const auto& e : r.slow_entries)
    std::printf("slower:     entry %s (workload %s, %d instances): the model %.3fx [%.3f, %.3f] with it alone\n",
                e.entry.c_str(), e.workload.empty() ? "?" : e.workload.c_str(), e.instances, e.speedup.speedup,
                e.speedup.ci_low, e.speedup.ci_high);
  if (r.latency) {
    const auto& l = *r.latency;
    std::printf("latency:    original %.3f ms [%.3f, %.3f], swapped %.3f ms [%.3f, %.3f], speedup %.3f [%.3f, %.3f] "
                "(%d interleaved pairs, median and 95%% interval)\n",
                l.original_ms.median, l.original_ms.ci_low, l.original_ms.ci_high, l.swapped_ms.median,
                l.swapped_ms.ci_low, l.swapped_ms.ci_high, l.speedup.speedup, l.speedup.ci_low, l.speedup.ci_high,
                l.speedup.n);
  }
}

/// The entries --prune removes: the culprits, and the entries that slow the model.
std::set<std::string> entries_to_prune(const verifier::VerifyReport& r) {
  std::set<std::string> drop;
  for (const auto& c : r.culprits) drop.insert(c.entry);
  for (const auto& e : r.slow_entries) drop.insert(e.entry);
  return drop;
}

/// The pack without the `drop` entries, in `out` (empty: in place).
Result<kernels::Pack> prune_pack(const kernels::Pack& pack, const std::set<std::string>& drop,
                                 const std::filesystem::path& out) {
  kernels::Pack pruned = pack;
  pruned.entries.clear();
  for (const auto& e : pack.entries)
    if (!drop.count(e.id)) pruned.entries.push_back(e);
  std::error_code ec;
  if (out.empty()) {
    AK_RETURN_IF_ERROR(kernels::write_pack(pack.dir, pruned));
    for (const auto& id : drop) ak::remove_tree(pack.entry_dir(*pack.find(id)));
  } else {
    if (std::filesystem::exists(out / "pack.json", ec))
      return invalid_input("-o " + out.string() + ": already holds a pack.json (choose a new folder)");
    for (const auto& e : pruned.entries) {
      std::filesystem::create_directories(out / "entries", ec);
      std::filesystem::copy(pack.entry_dir(e), out / "entries" / e.id, std::filesystem::copy_options::recursive, ec);
      if (ec) return failed("cannot copy " + pack.entry_dir(e).string() + " to " + out.string() + ": " + ec.message());
    }
    AK_RETURN_IF_ERROR(kernels::write_pack(out, pruned));
  }
  return kernels::read_pack(out.empty() ? pack.dir : out);
}

/// Appends the verification to the pack's pack.json.
Status record_in_pack(const Context& c, const Verified& v, const std::string& model_sha256) {
  AK_ASSIGN_OR_RETURN(kernels::Pack pack, kernels::read_pack(v.pack_dir));
  kernels::PackVerification record;
  record.model_sha256 = model_sha256;
  record.model = c.args.model.path;
  record.device = c.device.str();
  record.device_name = models::device_name(c.device);
  record.date = utc_now();
  record.verdict = verifier::verdict_name(v.report.verdict);
  record.entries = v.report.entries;
  pack.verifications.push_back(std::move(record));
  return kernels::write_pack(v.pack_dir, pack);
}

/// A note on each entry's candidate in the memory (when the memory holds it): small, and
/// found by `memory show C<id>`.
Status record_in_memory(const Context& c, const kernels::Pack& pack, const Verified& v) {
  AK_ASSIGN_OR_RETURN(auto store, memory::Store::open(memory::default_memory_path(c.args.memory_path)));
  std::set<std::string> culprits;
  for (const auto& culprit : v.report.culprits) culprits.insert(culprit.entry);
  for (const auto& entry : pack.entries) {
    auto ref = store->resolve(entry.source_sha256);
    if (!ref.is_ok()) continue;  // a candidate the memory never judged: nothing to annotate
    std::string text = "verify " + c.args.model.path + " (" + c.device.str() + "): " +
                       (culprits.count(entry.id) ? "culprit, " : "") + "pack " +
                       verifier::verdict_name(v.report.verdict);
    if (v.report.latency) {
      const auto& s = v.report.latency->speedup;
      char speedup[96];
      std::snprintf(speedup, sizeof speedup, ", whole-model speedup %.3f [%.3f, %.3f]", s.speedup, s.ci_low, s.ci_high);
      text += speedup;
    }
    AK_RETURN_IF_ERROR(store->add_note(*ref, text, "autokernel verify").status());
  }
  return Status::ok();
}

Result<int> run(const VerifyArgs& args) {
  AK_ASSIGN_OR_RETURN(kernels::Pack pack, kernels::read_pack(args.pack));
  Progress progress(false);
  models::SessionOptions so;
  if (args.model.device.empty()) {
    so.device = models::default_device();
  } else {
    AK_ASSIGN_OR_RETURN(so.device, models::Device::parse(args.model.device));
  }
  for (const auto& entry : pack.entries)
    if (!entry.device.empty() && entry.device != (so.device.is_cuda() ? "cuda" : "cpu"))
      return invalid_input(args.pack + "/pack.json: entry " + entry.id + " is for " + entry.device + ", the model runs on " +
                           so.device.str());
  so.num_threads = args.model.threads;
  so.allow_tf32 = args.model.tf32;
  so.fuse = !args.model.no_fuse;
  verifier::InputSetOptions io;
  io.input_specs = args.model.inputs;
  for (const auto& text : args.model.dims) {
    AK_ASSIGN_OR_RETURN(auto dim, models::parse_dim_spec(text));
    io.dims[dim.first] = dim.second;
  }
  for (const auto& text : args.other_dims) {
    AK_ASSIGN_OR_RETURN(auto sizes, parse_other_sizes(text));
    io.other_sizes[sizes.first] = sizes.second;
  }
  io.random_sets = args.random_sets;
  io.seed = args.model.seed;
  io.vary_dims = !args.no_vary_dims;
  AK_ASSIGN_OR_RETURN(std::string model_bytes, read_file(args.model.path));
  const std::string model_sha256 = sha256_hex(model_bytes);
  model_bytes.clear();
  progress.step("verify: loading " + args.model.path);
  AK_ASSIGN_OR_RETURN(models::Model loaded, models::load_model(args.model.path));
  auto model = std::make_shared<const models::Model>(std::move(loaded));
  AK_ASSIGN_OR_RETURN(auto sets, verifier::make_input_sets(*model, args.model.path, io));
  AK_ASSIGN_OR_RETURN(auto original, models::Session::create(model, so));
  // As deployed (docs/runtime.md): graphs on CUDA unless --no-cuda-graph; on the CPU an
  // explicit --cuda-graph gets the session's notice that it is ignored.
  const bool want_graph = !args.no_cuda_graph && (args.cuda_graph || so.device.is_cuda());
  const std::string graph_off = args.no_cuda_graph ? "--no-cuda-graph" : "not on CUDA";

  std::optional<verifier::Tolerance> tolerance;
  if (args.atol >= 0 || args.rtol >= 0) tolerance = verifier::Tolerance{std::max(0.0, args.atol), std::max(0.0, args.rtol), 1.0};
  Context c{args, model, so.device, {}, {}, {}, tolerance, progress};
  std::vector<std::string> notices;
  for (auto& set : sets) {
    progress.step("verify: original model on " + set.name);
    auto outputs = original->run(set.tensors);
    if (!outputs.is_ok()) {
      // A size the model itself rejects is not a test of the kernels (the judge's sweep skips them too).
      notices.push_back("input set " + set.name + " skipped: the original model fails on it: " + outputs.status().message());
      continue;
    }
    c.expected.push_back(std::move(outputs).value());
    c.set_names.push_back(set.name);
    c.sets.push_back(std::move(set));
  }
  std::optional<verifier::CudaGraphCheck> graph_check;
  if (want_graph && !c.sets.empty()) {
    progress.step("verify: original model with CUDA graphs");
    AK_ASSIGN_OR_RETURN(graph_check, verifier::check_cuda_graph(*original, c.sets, c.expected));
    c.cuda_graph = graph_check->original.enabled;
    if (!graph_check->ignored.empty()) notices.push_back("--cuda-graph: " + graph_check->ignored);
    for (const auto& o : graph_check->outputs)
      if (!o.bitwise_equal)
        notices.push_back("output " + o.output + ": the CUDA-graph replay differs from the eager run in " +
                          std::to_string(o.differing_elements) + " elements on " + o.first_difference);
  }
  original.reset();
  if (c.sets.empty()) return invalid_input(args.model.path + ": the original model fails on every input set (" + notices.front() + ")");

  AK_ASSIGN_OR_RETURN(Verified first, verify_pack(c, pack));
  AK_RETURN_IF_ERROR(record_in_pack(c, first, model_sha256));
  std::optional<Verified> pruned;
  kernels::Pack pruned_pack;
  const std::set<std::string> drop = entries_to_prune(first.report);
  if (args.prune && !drop.empty()) {
    progress.step("verify: pruning " + std::to_string(drop.size()) + " entries (culprits, slower)");
    // Read again: pack.json now holds the first verification, which the pruned pack keeps.
    AK_ASSIGN_OR_RETURN(pack, kernels::read_pack(args.pack));
    AK_ASSIGN_OR_RETURN(pruned_pack, prune_pack(pack, drop, args.prune_out));
    if (pruned_pack.entries.empty()) {
      notices.push_back("--prune: every entry was a culprit or slower; the pruned pack is empty and was not verified again");
    } else {
      AK_ASSIGN_OR_RETURN(Verified again, verify_pack(c, pruned_pack));
      AK_RETURN_IF_ERROR(record_in_pack(c, again, model_sha256));
      pruned = std::move(again);
    }
  }
  progress.clear();
  if (!args.no_memory) {
    AK_RETURN_IF_ERROR(record_in_memory(c, pack, first));
    if (pruned) AK_RETURN_IF_ERROR(record_in_memory(c, pruned_pack, *pruned));
  }
  const Verified& final_run = pruned ? *pruned : first;

  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model.path;
    j["model_sha256"] = model_sha256;
    j["device"] = so.device.str();
    j["device_name"] = models::device_name(so.device);
    j["verdict"] = verifier::verdict_name(final_run.report.verdict);
    j["verification"] = report_json(first);
    j["pruned"] = pruned ? report_json(*pruned) : nlohmann::ordered_json();
    j["pruned_pack"] = pruned ? nlohmann::ordered_json(pruned->pack_dir.string()) : nlohmann::ordered_json();
    j["cuda_graph"] = cuda_graph_json(graph_check, graph_off, final_run.report.swapped_graph);
    j["notices"] = notices;
    std::cout << j.dump(2) << std::endl;
  } else {
    for (const auto& n : notices) std::cerr << "autokernel: notice: " << n << "\n";
    std::printf("model:      %s (sha256 %.12s)\n", args.model.path.c_str(), model_sha256.c_str());
    std::printf("device:     %s (%s)\n", so.device.str().c_str(), models::device_name(so.device).c_str());
    print_report(first);
    print_cuda_graph(graph_check, graph_off, first.report.swapped_graph);
    if (pruned) {
      std::printf("pruned:     %zu entr%s removed (culprits, slower), written to %s (%s); verified again:\n",
                  drop.size(), drop.size() == 1 ? "y" : "ies",
                  pruned->pack_dir.c_str(), args.prune_out.empty() ? "in place" : "a new pack");
      print_report(*pruned);
    }
  }
  return final_run.report.verdict == verifier::Verdict::kPassed ? 0 : 1;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check a kernel pack on the whole model: original vs swapped outputs, bisection to culprits, latency");
  add_model_options(*cmd, args->model);
  cmd->add_option("--kernels", args->pack, "The kernel pack folder (pack.json)")->required();
  cmd->add_option("--random", args->random_sets, "Seeded random input sets")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--dims", args->other_dims,
                  "NAME=N[,N...]: other sizes of a symbolic dimension to verify (default: 2x its size and 1)");
  cmd->add_flag("--no-vary-dims", args->no_vary_dims, "Only the base sizes of the symbolic dimensions");
  cmd->add_option("--atol", args->atol, "Absolute tolerance of every output (default: per dtype, docs/verifier.md)");
  cmd->add_option("--rtol", args->rtol, "Relative tolerance of every output (default: per dtype)");
  cmd->add_option("--timeout", args->timeout_s, "Seconds per worker run of the swapped model")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--memory-limit", args->memory_limit_mib, "Resident MiB of the worker (default: 2 GiB + 4x the model)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--iters", args->iters, "Interleaved timed pairs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed pairs first")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_flag("--no-latency", args->no_latency, "Do not time the model");
  cmd->add_flag("--no-bisect", args->no_bisect, "Do not search for the culprits of a failure");
  cmd->add_flag("--prune", args->prune, "Write the pack without the culprits (in place, or to -o) and verify it again");
  cmd->add_option("-o,--output", args->prune_out, "With --prune: a new pack folder instead of changing PACK");
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  CLI::Option* graph_on = cmd->add_flag("--cuda-graph", args->cuda_graph,
                                        "Run both sides as CUDA graphs, as deployed (the default on CUDA; ignored on the "
                                        "CPU with a notice); checks the original's replays against its eager outputs");
  cmd->add_flag("--no-cuda-graph", args->no_cuda_graph, "Run both sides node by node on CUDA, without CUDA graphs")
      ->excludes(graph_on);
  cmd->add_flag("--no-memory", args->no_memory, "Do not note the verdict in the memory");
  cmd->add_option("--memory", args->memory_path, "The memory file (default: AUTOKERNEL_MEMORY or ~/.cache/autokernel/memory.db)");
  cmd->callback([args, &exit_code] {
    if (!args->prune_out.empty() && !args->prune) {
      exit_code = finish(invalid_input("-o " + args->prune_out + " needs --prune"));
      return;
    }
    auto result = run(*args);
    exit_code = result.is_ok() ? *result : finish(result.status());
  });

  CLI::App* worker = app.add_subcommand("verify-worker", "Run the swapped model for `autokernel verify` (internal)");
  worker->group("");  // hidden from --help
  auto job = std::make_shared<std::string>();
  worker->add_option("job", *job, "The job folder")->required();
  worker->callback([job, &exit_code] { exit_code = finish(verifier::run_verify_worker(*job)); });
}

}  // namespace ak::cli
