// The judge: gates, anti-cheat and benchmark around a worker process (verifier/judge.h).
#include "verifier/judge.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>

#include "base/remove_tree.h"
#include "base/subprocess.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "verifier/compare.h"
#include "verifier/gate_inputs.h"
#include "verifier/statistics.h"
#include "verifier/worker_job.h"

namespace ak::verifier {
namespace {

/// One gate case with the reference's answer, computed here.
struct Case {
  std::string gate;   ///< gate_name of the gate it belongs to
  std::string label;  ///< "captured", "random seed 3", ...
  std::vector<models::TensorData> inputs;
  std::vector<models::TensorData> expected;
  int repeats = 1;
  /// Matmul and conv: the reference on |inputs|, the size of the terms each output sums
  /// (compare.h); empty otherwise.
  std::vector<models::TensorData> magnitude;
};

/// `t` with every float element's sign cleared (other dtypes unchanged).
models::TensorData absolute_values(const models::TensorData& t) {
  uint64_t sign = 0;
  switch (t.dtype) {
    case models::DType::kFloat32: sign = 0x80000000u; break;
    case models::DType::kFloat64: sign = 0x8000000000000000ull; break;
    case models::DType::kFloat16:
    case models::DType::kBFloat16: sign = 0x8000u; break;
    default: return t;
  }
  const size_t size = models::dtype_size(t.dtype);
  std::vector<std::byte> bytes(t.bytes.data, t.bytes.data + t.bytes.size_bytes);
  for (size_t offset = 0; offset + size <= bytes.size(); offset += size) {
    uint64_t bits = 0;
    std::memcpy(&bits, bytes.data() + offset, size);  // little-endian: the low `size` bytes
    bits &= ~sign;
    std::memcpy(bytes.data() + offset, &bits, size);
  }
  models::TensorData out = t;
  out.bytes = models::Buffer::copy_of(bytes.data(), bytes.size());
  return out;
}

models::TensorData ones_like(const kernels::TaskTensor& t) {
  models::TensorData d;
  d.name = t.name;
  d.dtype = static_cast<models::DType>(t.dtype);
  d.dims = t.dims;
  int64_t n = 1;
  for (int64_t x : t.dims) n *= x;
  std::vector<std::byte> bytes(static_cast<size_t>(n) * models::dtype_size(d.dtype));
  const size_t size = models::dtype_size(d.dtype);
  for (int64_t i = 0; i < n; ++i) {
    std::byte* e = bytes.data() + static_cast<size_t>(i) * size;
    switch (d.dtype) {
      case models::DType::kFloat32: { float one = 1; std::memcpy(e, &one, 4); break; }
      case models::DType::kFloat64: { double one = 1; std::memcpy(e, &one, 8); break; }
      case models::DType::kFloat16: { uint16_t one = 0x3C00; std::memcpy(e, &one, 2); break; }
      case models::DType::kBFloat16: { uint16_t one = 0x3F80; std::memcpy(e, &one, 2); break; }
      default: e[0] = std::byte{1}; break;  // little-endian integers and bool
    }
  }
  d.bytes = models::Buffer::copy_of(bytes.data(), bytes.size());
  return d;
}

Result<models::TensorData> make_case_input(const kernels::Task& task, const kernels::TaskTensor& t,
                                           const std::vector<int64_t>& dims, Fill fill, uint64_t seed) {
  const models::DType dtype = static_cast<models::DType>(t.dtype);
  kernels::TaskTensor shaped = t;
  shaped.dims = dims;
  if (t.fill == "ones") return ones_like(shaped);
  if (t.fill == "captured") {
    // Values the model computed from shapes (a Reshape's target): only the captured ones are valid.
    AK_ASSIGN_OR_RETURN(models::TensorData captured, models::load_tensor_file(task.file_path(t)));
    captured.name = t.name;
    return captured;
  }
  InputSpec spec{t.name, dtype, dims, std::nullopt};
  if (t.fill == "int" || !models::is_floating(dtype)) {
    spec.int_upper_bound = t.upper_bound.value_or(8);
    if (dtype == models::DType::kBool) spec.int_upper_bound.reset();
    fill = Fill::kRandomNormal;  // indices stay valid: adversarial values are for floats
  }
  auto tensor = make_input(spec, fill, seed);
  if (!tensor.is_ok()) return tensor.status().with_context("input '" + t.name + "'");
  tensor->name = t.name;
  return tensor;
}

class Judge {
 public:
  Judge(const kernels::Task& task, const JudgeOptions& options) : task_(task), options_(options) {}

  Result<Evaluation> run(const std::filesystem::path& candidate) {
    const auto start = std::chrono::steady_clock::now();
    AK_RETURN_IF_ERROR(check_language(candidate));
    AK_RETURN_IF_ERROR(make_scratch());
    step("compile");
    AK_ASSIGN_OR_RETURN(eval_.build, kernels::build_kernel(candidate, options_.build));
    if (!eval_.build.ok) {
      fail(Verdict::kCompileError, "compile", head_lines(eval_.build.log, 12));
    } else {
      AK_RETURN_IF_ERROR(run_gates_and_bench());
    }
    eval_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!options_.keep_scratch) {
      ak::remove_tree(scratch_);
    }
    return eval_;
  }

 private:
  void step(const std::string& what) {
    if (options_.progress) options_.progress(what);
  }

  void fail(Verdict verdict, const std::string& gate, const std::string& message, const std::string& input = "") {
    if (failed_) return;
    failed_ = true;
    eval_.verdict = verdict;
    eval_.gate = gate;
    eval_.message = message;
    eval_.failure_input = input;
  }

  Status check_language(const std::filesystem::path& candidate) {
    if (!std::filesystem::is_regular_file(candidate)) return invalid_input(candidate.string() + " does not exist or is not a file");
    AK_ASSIGN_OR_RETURN(kernels::Language language, kernels::language_of(candidate));
    const bool cuda_task = task_.is_cuda();
    if (cuda_task != (language == kernels::Language::kCuda))
      return invalid_input("task '" + task_.name + "' targets " + task_.target.device + ": the candidate must be a " +
                           (cuda_task ? ".cu" : ".cpp") + " file, not " + candidate.filename().string());
    return Status::ok();
  }

  Status make_scratch() {
    if (!options_.scratch_dir.empty()) {
      scratch_ = options_.scratch_dir;
    } else {
      static std::atomic<int> counter{0};
      scratch_ = std::filesystem::temp_directory_path() /
                 ("autokernel-judge-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    }
    ak::remove_tree(scratch_);
    std::error_code ec;
    std::filesystem::create_directories(scratch_, ec);
    if (ec) return failed("cannot create " + scratch_.string() + ": " + ec.message());
    return Status::ok();
  }

  Status make_reference() {
    AK_ASSIGN_OR_RETURN(models::Model model, models::load_model(task_.subgraph_path()));
    models::SessionOptions so;
    AK_ASSIGN_OR_RETURN(so.device, models::Device::parse(task_.target.device));
    so.num_threads = options_.threads;
    auto session = models::Session::create(std::make_shared<const models::Model>(std::move(model)), so);
    if (!session.is_ok()) return session.status().with_context("task '" + task_.name + "' reference");
    reference_ = std::move(session).value();
    return Status::ok();
  }

  Result<std::vector<models::TensorData>> reference_outputs(const std::vector<models::TensorData>& inputs) {
    return reference_->run(inputs);
  }

  /// Inputs for every task input at `dims_of` sizes, or nothing when the reference rejects them.
  Result<std::optional<Case>> make_case(const std::string& gate, const std::string& label, Fill fill, uint64_t seed,
                                        const std::map<std::string, int64_t>& axis_values) {
    Case c;
    c.gate = gate;
    c.label = label;
    for (const kernels::TaskTensor& t : task_.inputs) {
      std::vector<int64_t> dims = t.dims;
      for (size_t d = 0; d < dims.size(); ++d)
        if (auto it = axis_values.find(t.axes[d]); it != axis_values.end()) dims[d] = it->second;
      AK_ASSIGN_OR_RETURN(models::TensorData input, make_case_input(task_, t, dims, fill, seed));
      c.inputs.push_back(std::move(input));
    }
    auto expected = reference_outputs(c.inputs);
    if (!expected.is_ok()) {
      if (gate == gate_name(Gate::kShapeSweep)) return std::optional<Case>();  // a size the op itself cannot take
      return expected.status().with_context("reference on " + label);
    }
    c.expected = std::move(expected).value();
    AK_RETURN_IF_ERROR(add_magnitude(c));
    return std::optional<Case>(std::move(c));
  }

  /// For sums of products (matmul, conv), the reference on the inputs' absolute values.
  Status add_magnitude(Case& c) {
    if (task_.op_class != "matmul" && task_.op_class != "conv") return Status::ok();
    std::vector<models::TensorData> absolute;
    for (const models::TensorData& input : c.inputs) absolute.push_back(absolute_values(input));
    auto magnitude = reference_outputs(absolute);
    if (!magnitude.is_ok()) return magnitude.status().with_context("reference on |inputs| for " + c.label);
    c.magnitude = std::move(magnitude).value();
    return Status::ok();
  }

  Result<std::vector<Case>> make_cases() {
    std::vector<Case> cases;
    Case captured{gate_name(Gate::kCapturedInputs), "captured", {}, {}, 2, {}};
    for (const kernels::TaskTensor& t : task_.inputs) {
      AK_ASSIGN_OR_RETURN(models::TensorData input, models::load_tensor_file(task_.file_path(t)));
      input.name = t.name;
      captured.inputs.push_back(std::move(input));
    }
    for (const kernels::TaskTensor& t : task_.outputs) {
      AK_ASSIGN_OR_RETURN(models::TensorData output, models::load_tensor_file(task_.file_path(t)));
      captured.expected.push_back(std::move(output));
    }
    AK_RETURN_IF_ERROR(add_magnitude(captured));
    cases.push_back(std::move(captured));

    const int seeds = options_.quick ? 1 : 3;
    for (int s = 1; s <= seeds; ++s) {
      const uint64_t seed = task_.seed + 1000 + static_cast<uint64_t>(s);
      AK_ASSIGN_OR_RETURN(auto c, make_case(gate_name(Gate::kRandomSeeds), "random seed " + std::to_string(seed),
                                            Fill::kRandomNormal, seed, {}));
      cases.push_back(std::move(*c));
    }

    if (const std::vector<std::string> var_axes = task_.var_axes(); !var_axes.empty()) {
      std::vector<int64_t> values;
      for (const std::string& axis : var_axes) values.push_back(axis_value(axis));
      const auto shapes = sweep_shapes(values, std::vector<bool>(values.size(), true));
      const size_t limit = options_.quick ? 2 : 4;
      size_t made = 0;
      for (const auto& shape : shapes) {
        if (made >= limit) break;
        std::map<std::string, int64_t> axis_values;
        std::string label = "sweep";
        for (size_t a = 0; a < shape.size(); ++a) {
          axis_values[var_axes[a]] = shape[a];
          label += " " + var_axes[a] + "=" + std::to_string(shape[a]);
        }
        AK_ASSIGN_OR_RETURN(auto c, make_case(gate_name(Gate::kShapeSweep), label, Fill::kRandomNormal,
                                              task_.seed + 2000 + made, axis_values));
        if (c) {
          cases.push_back(std::move(*c));
          ++made;
        }
      }
    }

    std::vector<Fill> fills = {Fill::kLarge, Fill::kTiny, Fill::kZeros, Fill::kConstant, Fill::kMixedScales};
    if (options_.quick) fills = {Fill::kLarge, Fill::kZeros};
    for (Fill fill : fills) {
      AK_ASSIGN_OR_RETURN(auto c, make_case(gate_name(Gate::kAdversarial), std::string("adversarial ") + fill_name(fill),
                                            fill, task_.seed + 3000, {}));
      cases.push_back(std::move(*c));
    }
    return cases;
  }

  int64_t axis_value(const std::string& axis) const {
    for (const kernels::TaskTensor& t : task_.inputs)
      for (size_t d = 0; d < t.axes.size(); ++d)
        if (t.axes[d] == axis) return t.dims[d];
    return 1;
  }

  /// Runs the worker on `job`; fills `result` when it reported, else records the failure
  /// (crash, timeout) against the case it was in and returns false.
  Result<bool> run_worker(const WorkerJob& job, const std::vector<Case>& cases, WorkerResult* result) {
    const std::filesystem::path job_file = job.dir / "job.json";
    AK_RETURN_IF_ERROR(write_job(job, job_file));
    ProcessOptions po;
    po.limits.timeout_s = options_.timeout_s;
    po.limits.file_size_bytes = uint64_t{8} << 30;
    if (job.device == "cpu") po.limits.address_space_bytes = options_.cpu_memory_limit_bytes;
    if (options_.threads > 0) po.extra_env["OMP_NUM_THREADS"] = std::to_string(options_.threads);
    po.limits.max_output_bytes = 64 << 10;
    AK_ASSIGN_OR_RETURN(ProcessResult pr, run_process({options_.worker_program.string(), "worker", job_file.string()}, po));
    if (pr.ok()) {
      auto parsed = read_result(job.dir / "result.json");
      if (parsed.is_ok()) {
        *result = std::move(parsed).value();
        return true;
      }
    }
    // Where was it? The last line of the progress file names the case.
    std::string where = "start-up";
    std::string gate = gate_name(Gate::kCapturedInputs);
    std::ifstream progress(job.dir / kProgressFile);
    for (std::string line; std::getline(progress, line);) {
      if (line.rfind("case ", 0) == 0) {
        const size_t c = std::stoul(line.substr(5));
        if (c < cases.size()) {
          where = cases[c].label;
          gate = cases[c].gate;
        }
      } else if (line == "stream") {
        where = "stream check";
        gate = gate_name(Gate::kAntiCheat);
      } else if (line == "bench") {
        where = "benchmark";
        gate = gate_name(Gate::kBenchmark);
      }
    }
    std::string detail = head_lines(pr.stderr_text, 3);
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    if (pr.end == ProcessResult::End::kTimedOut) {
      fail(Verdict::kTimeout, gate, "the worker " + pr.describe() + " in " + where, where);
    } else {
      fail(Verdict::kRuntimeError, gate, "the worker " + pr.describe() + " in " + where + (detail.empty() ? "" : ": " + detail),
           where);
    }
    return false;
  }

  /// Checks one reported case against its expected outputs.
  Status check_case(const Case& c, const CaseResult& r) {
    if (r.kernel_status != 0) {
      fail(Verdict::kRuntimeError, c.gate, "the kernel returned " + std::to_string(r.kernel_status) + " on " + c.label, c.label);
      return Status::ok();
    }
    if (!r.error.empty()) {
      fail(Verdict::kRuntimeError, c.gate, r.error + " (" + c.label + ")", c.label);
      return Status::ok();
    }
    if (!r.declared_dtype.empty()) {
      fail(Verdict::kIncorrectDtype, c.gate, r.declared_dtype + " (" + c.label + ")", c.label);
      return Status::ok();
    }
    if (!r.declared_shape.empty()) {
      fail(Verdict::kIncorrectShape, c.gate, r.declared_shape + " (" + c.label + ")", c.label);
      return Status::ok();
    }
    if (r.outputs.empty() || r.outputs.front().size() != c.expected.size())
      return internal_error("the worker reported no outputs for " + c.label);
    std::vector<models::TensorData> first;
    for (size_t o = 0; o < c.expected.size(); ++o) {
      AK_ASSIGN_OR_RETURN(models::TensorData actual, models::load_tensor_file(r.outputs[0][o]));
      const models::TensorData* magnitude = o < c.magnitude.size() ? &c.magnitude[o] : nullptr;
      const Comparison cmp = compare_outputs(c.expected[o], actual, task_.tolerance, magnitude);
      if (std::isfinite(cmp.max_abs_error)) eval_.max_abs_error = std::max(eval_.max_abs_error, cmp.max_abs_error);
      else eval_.max_abs_error = cmp.max_abs_error;
      eval_.max_rel_error = std::max(eval_.max_rel_error, cmp.max_rel_error);
      if (!cmp.passed()) {
        fail(cmp.verdict, c.gate, "output '" + task_.outputs[o].name + "' on " + c.label + ": " + cmp.summary, c.label);
        return Status::ok();
      }
      first.push_back(std::move(actual));
    }
    if (!r.overrun_output.empty()) {
      fail(Verdict::kRuntimeError, gate_name(Gate::kAntiCheat), "the kernel wrote past the end of " + r.overrun_output + " on " + c.label, c.label);
      return Status::ok();
    }
    if (!r.mutated_input.empty()) {
      fail(Verdict::kCheatSuspected, gate_name(Gate::kAntiCheat), "the kernel modified its input '" + r.mutated_input + "' on " + c.label, c.label);
      return Status::ok();
    }
    for (size_t rep = 1; rep < r.outputs.size(); ++rep)
      for (size_t o = 0; o < first.size(); ++o) {
        AK_ASSIGN_OR_RETURN(models::TensorData again, models::load_tensor_file(r.outputs[rep][o]));
        if (!bitwise_equal(first[o], again)) eval_.deterministic = false;
      }
    ++eval_.cases_passed;
    return Status::ok();
  }

  Status write_case_inputs(const std::vector<Case>& cases, WorkerJob* job) {
    for (size_t c = 0; c < cases.size(); ++c) {
      WorkerCase wc;
      wc.label = cases[c].label;
      wc.repeats = cases[c].repeats;
      for (size_t i = 0; i < cases[c].inputs.size(); ++i) {
        const auto path = job->dir / ("case" + std::to_string(c) + "_in" + std::to_string(i) + ".pb");
        AK_RETURN_IF_ERROR(models::save_tensor_file(cases[c].inputs[i], path));
        wc.inputs.push_back(path);
      }
      for (const models::TensorData& e : cases[c].expected) wc.outputs.push_back({e.dtype, e.dims});
      job->cases.push_back(std::move(wc));
    }
    return Status::ok();
  }

  /// A job for the candidate in scratch folder `name`.
  WorkerJob new_job(const std::string& name) {
    WorkerJob job;
    job.dir = scratch_ / name;
    std::filesystem::create_directories(job.dir);
    job.library = eval_.build.library_path;
    job.device = task_.target.device;
    job.threads = options_.threads;
    return job;
  }

  Status run_gates_and_bench() {
    step("reference");
    AK_RETURN_IF_ERROR(make_reference());
    AK_ASSIGN_OR_RETURN(std::vector<Case> cases, make_cases());

    WorkerJob job = new_job("gates");
    job.check_stream = task_.is_cuda();
    AK_RETURN_IF_ERROR(write_case_inputs(cases, &job));
    step("gates (" + std::to_string(cases.size()) + " cases)");
    WorkerResult result;
    AK_ASSIGN_OR_RETURN(bool reported, run_worker(job, cases, &result));
    if (!reported) return Status::ok();
    // Work on a stream the caller does not wait for races with the output checks, so its
    // cases may come out right or wrong; the stream check is the cause either way.
    if (!result.stream_error.empty()) {
      fail(Verdict::kRuntimeError, gate_name(Gate::kAntiCheat), result.stream_error, "captured");
      return Status::ok();
    }
    for (size_t c = 0; c < cases.size() && !failed_; ++c) {
      if (c >= result.cases.size()) return internal_error("the worker stopped after case " + std::to_string(c));
      AK_RETURN_IF_ERROR(check_case(cases[c], result.cases[c]));
    }
    if (failed_) return Status::ok();
    return run_bench(cases.front());
  }

  Status run_bench(const Case& captured) {
    WorkerJob job = new_job("bench");
    WorkerCase wc;
    wc.label = "captured";
    for (size_t i = 0; i < captured.inputs.size(); ++i) {
      const auto path = job.dir / ("in" + std::to_string(i) + ".pb");
      AK_RETURN_IF_ERROR(models::save_tensor_file(captured.inputs[i], path));
      wc.inputs.push_back(path);
    }
    for (const models::TensorData& e : captured.expected) wc.outputs.push_back({e.dtype, e.dims});
    job.cases.push_back(std::move(wc));
    WorkerBench b;
    b.subgraph = task_.subgraph_path();
    for (const kernels::TaskTensor& t : task_.inputs) {
      b.input_names.push_back(t.name);
      b.fills.push_back(t.fill);
      b.int_bounds.push_back(t.upper_bound.value_or(8));
    }
    b.warmup = options_.quick ? 3 : options_.bench_warmup;
    b.iters = options_.quick ? 20 : options_.bench_iters;
    // The worker's limit also covers loading the reference and the warm-up case.
    b.time_budget_s = 0.6 * options_.timeout_s;
    // Larger than the last-level cache of the GPUs we target (H100/H200: 50-60 MB) or of a server CPU.
    b.l2_flush_bytes = !task_.is_cuda() ? (int64_t{64} << 20) : (int64_t{256} << 20);
    b.seed = task_.seed + 4000;
    job.bench = b;
    step("benchmark (" + std::to_string(b.iters) + " iterations)");
    std::vector<Case> cases;  // the bench worker runs the captured case once first (warm-up, cuBLAS handles)
    cases.push_back(captured);
    cases.back().gate = gate_name(Gate::kBenchmark);
    cases.back().label = "benchmark warm-up";
    WorkerResult result;
    AK_ASSIGN_OR_RETURN(bool reported, run_worker(job, cases, &result));
    if (!reported) return Status::ok();
    if (result.cases.empty() || result.cases.front().kernel_status != 0 || !result.cases.front().error.empty()) {
      fail(Verdict::kRuntimeError, gate_name(Gate::kBenchmark), "the kernel failed in the benchmark process");
      return Status::ok();
    }
    if (!result.bench) return internal_error("the worker ran no benchmark");
    const BenchResult& br = *result.bench;
    if (br.kernel_status != 0 || !br.error.empty()) {
      fail(Verdict::kRuntimeError, gate_name(Gate::kBenchmark),
           br.error.empty() ? "the kernel returned " + std::to_string(br.kernel_status) + " in the benchmark" : br.error);
      return Status::ok();
    }
    // The last timed iteration ran on fresh inputs: its outputs must be right too.
    std::vector<models::TensorData> inputs;
    for (size_t i = 0; i < br.last_inputs.size(); ++i) {
      AK_ASSIGN_OR_RETURN(models::TensorData t, models::load_tensor_file(br.last_inputs[i]));
      t.name = task_.inputs[i].name;
      inputs.push_back(std::move(t));
    }
    AK_ASSIGN_OR_RETURN(std::vector<models::TensorData> expected, reference_outputs(inputs));
    for (size_t o = 0; o < expected.size() && o < br.last_outputs.size(); ++o) {
      AK_ASSIGN_OR_RETURN(models::TensorData actual, models::load_tensor_file(br.last_outputs[o]));
      const Comparison cmp = compare_outputs(expected[o], actual, task_.tolerance);
      if (!cmp.passed()) {
        fail(Verdict::kCheatSuspected, gate_name(Gate::kAntiCheat),
             "wrong on the benchmark's fresh inputs although the gates passed (output cached or input-dependent shortcut?): " +
                 cmp.summary,
             "benchmark");
        return Status::ok();
      }
    }
    const Summary cand = summarize_durations(br.candidate_ns);
    const Summary ref = summarize_durations(br.reference_ns);
    eval_.latency_us = cand.median / 1e3;
    eval_.latency_ci_low_us = cand.ci_low / 1e3;
    eval_.latency_ci_high_us = cand.ci_high / 1e3;
    eval_.reference_latency_us = ref.median / 1e3;
    AK_ASSIGN_OR_RETURN(SpeedupEstimate speedup, estimate_speedup(br.reference_ns, br.candidate_ns));
    eval_.speedup = speedup.speedup;
    eval_.speedup_ci_low = speedup.ci_low;
    eval_.speedup_ci_high = speedup.ci_high;
    eval_.roofline_floor_us = options_.roofline_floor_ns / 1e3;
    if (options_.roofline_floor_ns > 0 && cand.median < 0.9 * options_.roofline_floor_ns) {
      fail(Verdict::kCheatSuspected, gate_name(Gate::kBenchmark),
           "median " + std::to_string(cand.median / 1e3) + " us is below the roofline floor of " +
               std::to_string(options_.roofline_floor_ns / 1e3) + " us: impossible for the bytes and FLOPs it must handle",
           "benchmark");
      return Status::ok();
    }
    eval_.message = std::to_string(eval_.cases_passed) + " cases passed; " + std::to_string(br.candidate_ns.size()) +
                    " timed iterations";
    if (static_cast<int>(br.candidate_ns.size()) < b.iters)
      eval_.message += " (cut to the time budget, 0.6 x --timeout: raise --timeout for more)";
    return Status::ok();
  }

  const kernels::Task& task_;
  const JudgeOptions& options_;
  Evaluation eval_;
  bool failed_ = false;
  std::filesystem::path scratch_;
  std::unique_ptr<models::Session> reference_;
};

}  // namespace

Result<Evaluation> judge_candidate(const kernels::Task& task, const std::filesystem::path& candidate, const JudgeOptions& options) {
  if (options.worker_program.empty()) return internal_error("judge: no worker program");
  AK_RETURN_IF_ERROR(kernels::check_task_files(task));
  Judge judge(task, options);
  return judge.run(candidate);
}

}  // namespace ak::verifier
