// The swapped side of `autokernel verify` (verifier/verify_model.h): the runner that starts
// `autokernel verify-worker` with limits, and the worker itself, which runs the model with
// the pack's kernels swapped in. The kernels are untrusted: they only ever run in the worker.
#include <ATen/core/Tensor.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/remove_tree.h"
#include "base/subprocess.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "verifier/verify_model.h"

namespace ak::verifier {

namespace {

using nlohmann::json;

constexpr const char* kSetLine = "verify-worker: set ";

json swap_to_json(const models::SwapReport& swap) {
  json instances = json::array();
  for (const auto& i : swap.instances)
    instances.push_back({{"entry", i.entry}, {"workload", i.workload}, {"nodes", i.nodes},
                         {"kernel_calls", i.kernel_calls}, {"fallbacks", i.fallbacks},
                         {"last_fallback_reason", i.last_fallback_reason}});
  return {{"entries", swap.entries}, {"workloads", swap.workloads}, {"instances", instances},
          {"unmatched_entries", swap.unmatched_entries}};
}

models::SwapReport swap_from_json(const json& j) {
  models::SwapReport swap;
  swap.entries = j.value("entries", 0);
  swap.workloads = j.value("workloads", 0);
  swap.unmatched_entries = j.value("unmatched_entries", std::vector<std::string>{});
  for (const auto& i : j.value("instances", json::array())) {
    models::SwapInstance instance;
    instance.entry = i.value("entry", "");
    instance.workload = i.value("workload", "");
    instance.nodes = i.value("nodes", std::vector<std::string>{});
    instance.kernel_calls = i.value("kernel_calls", int64_t{0});
    instance.fallbacks = i.value("fallbacks", int64_t{0});
    instance.last_fallback_reason = i.value("last_fallback_reason", "");
    swap.instances.push_back(std::move(instance));
  }
  return swap;
}

Status write_json(const std::filesystem::path& path, const json& j) {
  std::ofstream out(path);
  out << j.dump(1);
  out.close();
  if (!out) return failed("cannot write " + path.string());
  return Status::ok();
}

Result<json> read_json(const std::filesystem::path& path) {
  AK_ASSIGN_OR_RETURN(std::string text, read_file(path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return failed(path.string() + ": not a JSON object");
  return j;
}

/// The default resident limit: libtorch and two sessions' weights (the original one is
/// only created for timing), at most half the machine's memory.
uint64_t default_memory_limit(const std::filesystem::path& model) {
  std::error_code ec;
  const auto model_bytes = std::filesystem::file_size(model, ec);
  const uint64_t wanted = (uint64_t{2} << 30) + 4 * (ec ? 0 : model_bytes);
  const uint64_t physical = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
  return physical > 0 ? std::min(wanted, physical / 2) : wanted;
}

/// The input set the worker announced last before it died.
std::string last_set(const std::string& stderr_text) {
  const auto at = stderr_text.rfind(kSetLine);
  if (at == std::string::npos) return "";
  const auto start = at + std::string(kSetLine).size();
  return stderr_text.substr(start, stderr_text.find('\n', start) - start);
}

/// The worker's own error line ("autokernel: error: ..."), without the prefix.
std::string error_line(const std::string& stderr_text) {
  const std::string prefix = "autokernel: error: ";
  const auto at = stderr_text.rfind(prefix);
  if (at == std::string::npos) return "";
  const auto start = at + prefix.size();
  return stderr_text.substr(start, stderr_text.find('\n', start) - start);
}

struct RunnerState {
  WorkerRunnerOptions options;
  std::filesystem::path scratch;
  bool owns_scratch = false;
  json sets = json::array();
  int runs = 0;
  ~RunnerState() {
    if (owns_scratch) ak::remove_tree(scratch);
  }
};

Result<SwappedRun> run_worker(RunnerState& state, const SwapSelection& selection, bool measure) {
  const std::filesystem::path job = state.scratch / ("run_" + std::to_string(state.runs++));
  std::error_code ec;
  ak::remove_tree(job);
  std::filesystem::create_directories(job / "out", ec);
  if (ec) return failed("cannot create " + job.string() + ": " + ec.message());
  const WorkerRunnerOptions& o = state.options;
  json j = {{"model", o.model.string()}, {"pack", o.pack.string()}, {"device", o.device}, {"threads", o.threads},
            {"fuse", o.fuse}, {"tf32", o.allow_tf32}, {"only_entries", selection.entries},
            {"only_instances", selection.instances}, {"sets", state.sets}, {"measure", measure},
            {"warmup", o.warmup}, {"iterations", o.iterations}, {"cuda_graph", o.cuda_graph}};
  AK_RETURN_IF_ERROR(write_json(job / "job.json", j));
  ProcessOptions process;
  process.limits.timeout_s = o.timeout_s;
  process.limits.resident_bytes = o.memory_limit_bytes > 0 ? o.memory_limit_bytes : default_memory_limit(o.model);
  if (o.threads > 0) process.extra_env["OMP_NUM_THREADS"] = std::to_string(o.threads);
  AK_ASSIGN_OR_RETURN(ProcessResult ended,
                      run_process({o.worker_program.string(), "verify-worker", job.string()}, process));

  SwappedRun run;
  // What swap-in did is written before the first set runs, so a crash still names the instances.
  if (auto swap = read_json(job / "swap.json"); swap.is_ok()) run.swap = swap_from_json(*swap);
  if (!ended.ok()) {
    if (ended.end == ProcessResult::End::kExited && ended.exit_code == 2) {
      // The worker's bad input is the user's: a pack whose kernel does not build or load,
      // an architecture it was not built for.
      const std::string line = error_line(ended.stderr_text);
      return invalid_input(line.empty() ? "the verify worker " + ended.describe() : line);
    }
    run.verdict = ended.end == ProcessResult::End::kTimedOut ? Verdict::kTimeout : Verdict::kRuntimeError;
    run.input_set = last_set(ended.stderr_text);
    const std::string line = error_line(ended.stderr_text);
    run.message = "the swapped model " + ended.describe() + (run.input_set.empty() ? "" : " on " + run.input_set) +
                  (line.empty() ? "" : ": " + line);
  }
  auto result = read_json(job / "result.json");
  const json done = result.is_ok() ? *result : json::object();
  if (done.contains("swap")) run.swap = swap_from_json(done["swap"]);
  for (const auto& f : done.value("fallbacks", json::array()))
    run.fallbacks.push_back({f.value("input_set", ""), f.value("entry", ""), f.value("node", ""), f.value("reason", "")});
  run.original_ns = done.value("original_ns", std::vector<int64_t>{});
  run.swapped_ns = done.value("swapped_ns", std::vector<int64_t>{});
  if (const json g = done.value("cuda_graph", json::object()); !g.empty())
    run.graph = {g.value("enabled", false), g.value("captured", int64_t{0}), g.value("replays", int64_t{0}),
                 g.value("refused", 0), g.value("refusal", "")};
  // Outputs of every set the worker finished (it writes them set by set).
  for (size_t s = 0; s < state.sets.size(); ++s) {
    const auto folder = job / "out" / std::to_string(s);
    const auto count_file = folder / "count";
    auto count_text = read_file(count_file);
    if (!count_text.is_ok()) break;
    std::vector<models::TensorData> outputs;
    const int count = std::atoi(count_text->c_str());
    for (int k = 0; k < count; ++k) {
      AK_ASSIGN_OR_RETURN(models::TensorData t, models::load_tensor_file(folder / ("output_" + std::to_string(k) + ".pb")));
      outputs.push_back(std::move(t));
    }
    run.outputs.push_back(std::move(outputs));
  }
  ak::remove_tree(job);
  return run;
}

}  // namespace

DeployedGraph deployed_graph(const models::Session& session) {
  const models::CudaGraphState& g = session.cuda_graph_state();
  return {g.enabled, g.captured, g.replays, g.refused, g.fallback_reason};
}

Result<std::vector<models::TensorData>> run_as_deployed(models::Session& session,
                                                        const std::vector<models::TensorData>& inputs, bool* replayed) {
  *replayed = false;
  std::vector<models::TensorData> outputs;
  for (int run = 0; run < 2 && !*replayed; ++run) {
    const models::CudaGraphState& g = session.cuda_graph_state();
    const int64_t replays_before = g.replays;
    const int refused_before = g.refused;
    AK_ASSIGN_OR_RETURN(outputs, session.run(inputs));
    *replayed = session.cuda_graph_state().replays > replays_before;
    // Eager for good: graphs off or ignored, or this shape set's capture refused.
    if (!session.cuda_graph_state().enabled || session.cuda_graph_state().refused > refused_before) break;
  }
  return outputs;
}

Result<CudaGraphCheck> check_cuda_graph(models::Session& session, const std::vector<InputSet>& sets,
                                        const std::vector<std::vector<models::TensorData>>& eager) {
  CudaGraphCheck check;
  session.set_cuda_graph(true);
  if (!session.cuda_graph_state().enabled) {
    check.ignored = session.cuda_graph_state().ignored;
    session.set_cuda_graph(false);
    return check;
  }
  for (size_t s = 0; s < sets.size() && s < eager.size(); ++s) {
    bool replayed = false;
    auto outputs = run_as_deployed(session, sets[s].tensors, &replayed);
    if (!outputs.is_ok()) {
      session.set_cuda_graph(false);
      return outputs.status().with_context("the original model with CUDA graphs on " + sets[s].name);
    }
    if (!replayed) continue;
    ++check.sets_replayed;
    for (size_t k = 0; k < eager[s].size(); ++k) {
      if (check.outputs.size() <= k) check.outputs.push_back({eager[s][k].name, true, 0, ""});
      GraphOutputCheck& out = check.outputs[k];
      const int64_t differ = k < outputs->size() ? differing_elements(eager[s][k], (*outputs)[k]) : eager[s][k].numel();
      if (differ > 0 && out.bitwise_equal) {
        out.bitwise_equal = false;
        out.differing_elements = differ;
        out.first_difference = sets[s].name;
      }
    }
  }
  check.original = deployed_graph(session);
  session.set_cuda_graph(false);
  return check;
}

Status run_verify_worker(const std::filesystem::path& job_dir) {
  AK_ASSIGN_OR_RETURN(json job, read_json(job_dir / "job.json"));
  AK_ASSIGN_OR_RETURN(models::Model loaded, models::load_model(job.value("model", "")));
  auto model = std::make_shared<const models::Model>(std::move(loaded));
  models::SessionOptions so;
  AK_ASSIGN_OR_RETURN(so.device, models::Device::parse(job.value("device", "cpu")));
  so.num_threads = job.value("threads", 0);
  so.fuse = job.value("fuse", true);
  so.allow_tf32 = job.value("tf32", false);
  // Off on the CPU (ignored there), so a CPU job's sessions are exactly the eager ones.
  so.cuda_graph = job.value("cuda_graph", false) && so.device.is_cuda();
  models::SessionOptions original_options = so;
  so.kernels.pack = job.value("pack", "");
  so.kernels.only_entries = job.value("only_entries", std::vector<std::string>{});
  so.kernels.only_instances = job.value("only_instances", std::vector<std::string>{});
  AK_ASSIGN_OR_RETURN(auto swapped, models::Session::create(model, so));
  AK_RETURN_IF_ERROR(write_json(job_dir / "swap.json", swap_to_json(swapped->swap_report())));

  json fallbacks = json::array();
  std::vector<std::vector<models::TensorData>> first_inputs;
  const json sets = job.value("sets", json::array());
  for (size_t s = 0; s < sets.size(); ++s) {
    const std::string name = sets[s].value("name", "");
    std::cerr << kSetLine << name << std::endl;
    std::vector<models::TensorData> inputs;
    for (const auto& file : sets[s].value("inputs", std::vector<std::string>{})) {
      AK_ASSIGN_OR_RETURN(models::TensorData t, models::load_tensor_file(file));
      inputs.push_back(std::move(t));
    }
    std::vector<int64_t> fallbacks_before;
    for (const auto& i : swapped->swap_report().instances) fallbacks_before.push_back(i.fallbacks);
    bool replayed = false;
    auto outputs = run_as_deployed(*swapped, inputs, &replayed);
    if (!outputs.is_ok()) return failed("on " + name + ": " + outputs.status().message());
    const auto& instances = swapped->swap_report().instances;
    for (size_t i = 0; i < instances.size(); ++i)
      if (i < fallbacks_before.size() && instances[i].fallbacks > fallbacks_before[i])
        fallbacks.push_back({{"input_set", name}, {"entry", instances[i].entry},
                             {"node", instances[i].nodes.empty() ? "" : instances[i].nodes.front()},
                             {"reason", instances[i].last_fallback_reason}});
    const auto folder = job_dir / "out" / std::to_string(s);
    std::filesystem::create_directories(folder);
    for (size_t k = 0; k < outputs->size(); ++k)
      AK_RETURN_IF_ERROR(models::save_tensor_file((*outputs)[k], folder / ("output_" + std::to_string(k) + ".pb")));
    // Written last: the parent reads a set's outputs only when this file is there.
    std::ofstream(folder / "count") << outputs->size();
    if (s == 0) first_inputs.push_back(std::move(inputs));
  }

  const DeployedGraph graph = deployed_graph(*swapped);
  json result = {{"swap", swap_to_json(swapped->swap_report())}, {"fallbacks", fallbacks},
                 {"cuda_graph", {{"enabled", graph.enabled}, {"captured", graph.captured}, {"replays", graph.replays},
                                 {"refused", graph.refused}, {"refusal", graph.refusal}}}};
  if (job.value("measure", false) && !first_inputs.empty()) {
    // Both sides in this process, alternating which goes first, on the first set's inputs
    // uploaded once: the same machine state for both, so the pairs are fair.
    std::cerr << "verify-worker: timing" << std::endl;
    AK_ASSIGN_OR_RETURN(auto original, models::Session::create(model, original_options));
    std::vector<at::Tensor> original_in, swapped_in, out;
    AK_RETURN_IF_ERROR(original->upload_inputs(first_inputs[0], &original_in));
    AK_RETURN_IF_ERROR(swapped->upload_inputs(first_inputs[0], &swapped_in));
    auto time_one = [&](models::Session& session, const std::vector<at::Tensor>& in) -> Result<int64_t> {
      const auto start = std::chrono::steady_clock::now();
      AK_RETURN_IF_ERROR(session.run_device(in, &out));
      session.synchronize();
      return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    };
    // With graphs, each side's first two runs are its warm-up and capture, never timed.
    const int warmup = std::max(job.value("warmup", 2), so.cuda_graph ? 2 : 0);
    const int iterations = job.value("iterations", 10);
    std::vector<int64_t> original_ns, swapped_ns;
    for (int i = 0; i < warmup + iterations; ++i) {
      int64_t o_ns = 0, s_ns = 0;
      if (i % 2 == 0) {
        AK_ASSIGN_OR_RETURN(o_ns, time_one(*original, original_in));
        AK_ASSIGN_OR_RETURN(s_ns, time_one(*swapped, swapped_in));
      } else {
        AK_ASSIGN_OR_RETURN(s_ns, time_one(*swapped, swapped_in));
        AK_ASSIGN_OR_RETURN(o_ns, time_one(*original, original_in));
      }
      if (i < warmup) continue;
      original_ns.push_back(o_ns);
      swapped_ns.push_back(s_ns);
    }
    result["original_ns"] = original_ns;
    result["swapped_ns"] = swapped_ns;
  }
  return write_json(job_dir / "result.json", result);
}

Result<SwappedRunner> make_worker_runner(const WorkerRunnerOptions& options, const std::vector<InputSet>& sets) {
  auto state = std::make_shared<RunnerState>();
  state->options = options;
  if (options.scratch_dir.empty()) {
    static std::atomic<int> counter{0};
    state->scratch = std::filesystem::temp_directory_path() /
                     ("autokernel-verify-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    state->owns_scratch = true;
  } else {
    state->scratch = options.scratch_dir;
  }
  for (size_t s = 0; s < sets.size(); ++s) {
    const auto folder = state->scratch / "sets" / std::to_string(s);
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) return failed("cannot create " + folder.string() + ": " + ec.message());
    json files = json::array();
    for (size_t k = 0; k < sets[s].tensors.size(); ++k) {
      const auto file = folder / ("input_" + std::to_string(k) + ".pb");
      AK_RETURN_IF_ERROR(models::save_tensor_file(sets[s].tensors[k], file));
      files.push_back(file.string());
    }
    state->sets.push_back({{"name", sets[s].name}, {"inputs", files}});
  }
  return SwappedRunner([state](const SwapSelection& selection, bool measure) {
    return run_worker(*state, selection, measure);
  });
}

}  // namespace ak::verifier
