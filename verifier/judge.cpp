// The judge: gates, anti-cheat and benchmark around a worker process (verifier/judge.h).
#include "verifier/judge.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/remove_tree.h"
#include "base/subprocess.h"
#include "kernels/tensor.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "verifier/channel.h"
#include "verifier/compare.h"
#include "verifier/gate_inputs.h"
#include "verifier/statistics.h"
#include "verifier/worker_job.h"

namespace ak::verifier {
namespace {

/// What a worker needs besides the task's tensors: libtorch, the reference session and
/// the cache-flush buffer (a CPU worker on the Add+ReLU test task peaks at ~0.4 GB).
constexpr uint64_t kWorkerAllowanceBytes = uint64_t{3} << 29;  // 1.5 GiB
/// Device memory a call may leave allocated besides the task's tensors (workspaces).
constexpr uint64_t kDeviceAllowanceBytes = uint64_t{1} << 30;
/// Copies of the task's tensors the limits allow for (host and device inputs, outputs
/// with guards, the reference's outputs, the sweep's doubled sizes).
constexpr uint64_t kTaskCopies = 8;
/// A candidate call may leave this much more of its round trip unexplained than the
/// reference's (scheduling noise between two processes), plus a fraction of its time.
constexpr double kRoundTripSlackNs = 50e3;
constexpr double kRoundTripSlackFraction = 0.1;
// The batched consistency check (measure_batches): K reference calls fill ~2 ms a round
// trip, at most 4096 calls, 4 rounds per side.
constexpr double kBatchTargetNs = 2e6;
constexpr int kBatchMaxCalls = 4096;
constexpr int kBatchRounds = 4;
/// Re-timing: two speedups agree when their intervals overlap or within this factor.
constexpr double kRetimeTolerance = 1.25;
/// The reference beside the candidate may be this much slower than in a worker alone
/// before the speedup is taken against the reference alone.
constexpr double kReferenceSlowdown = 1.5;

/// One worker process and the judge's end of its channel. run_process blocks, so it runs
/// in a thread of its own while this one talks to the worker.
class WorkerProcess {
 public:
  WorkerProcess() = default;
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;
  ~WorkerProcess() { abandon(); }

  /// Starts `program worker` with the channel as its fd 3 and sends it `job`.
  Status start(const std::filesystem::path& program, ProcessOptions options, const WorkerJob& job) {
    int worker_fd = -1;
    AK_RETURN_IF_ERROR(Channel::make_pair(&channel_, &worker_fd));
    options.channel_fd = worker_fd;  // run_process owns it from here
    timeout_s_ = options.limits.timeout_s;
    thread_ = std::thread([this, program, options] {
      auto r = run_process({program.string(), "worker"}, options);
      if (r.is_ok()) result_ = std::move(r).value();
      else start_error_ = r.status();
    });
    // A worker that could not start closes its end: the send fails and finish() says why.
    (void)channel_.send(encode_job(job));
    return Status::ok();
  }

  /// The next frame; fails once the worker is gone (run_process kills it at its time
  /// limit, which closes the socket), with a margin for a worker that escaped the kill.
  Result<std::string> receive() { return channel_.receive(timeout_s_ > 0 ? timeout_s_ + 10 : 0); }
  Status send(const nlohmann::json& message) { return channel_.send(message.dump()); }

  /// Waits for the worker to end on its own and says how it ended.
  Result<ProcessResult> finish() {
    if (thread_.joinable()) {
      thread_.join();
      // The worker is gone; anything it sent that the judge did not ask for is still here.
      unread_ = channel_.receive(0.05).is_ok();
    }
    channel_ = Channel();
    if (!start_error_.is_ok()) return start_error_;
    return result_;
  }
  /// After finish(): the worker sent more than the protocol has room for (a forged
  /// message was read in place of a real one, which then came after).
  bool left_unread() const { return unread_; }
  /// Closes the channel first (a worker waiting for a command exits), then waits.
  void abandon() {
    channel_ = Channel();
    if (thread_.joinable()) thread_.join();
  }

 private:
  Channel channel_;
  std::thread thread_;
  double timeout_s_ = 0;
  bool unread_ = false;
  ProcessResult result_;
  Status start_error_ = Status::ok();
};

/// One gate case with the reference's answer, computed here.
struct Case {
  std::string gate;   ///< gate_name of the gate it belongs to
  std::string label;  ///< "captured", "random seed 3", ...
  std::vector<models::TensorData> inputs;
  std::vector<models::TensorData> expected;
  int repeats = 1;
  /// Matmul, conv and normalizations with a scale and bias: the size of the terms each
  /// output is made of (add_magnitude, compare.h); empty otherwise.
  std::vector<models::TensorData> magnitude;
  /// The size of each var axis of the task in this case.
  std::map<std::string, int64_t> sizes;
};

/// The sign bit of a float dtype's elements; 0 for other dtypes.
uint64_t sign_bit(models::DType dtype) {
  switch (dtype) {
    case models::DType::kFloat32: return 0x80000000u;
    case models::DType::kFloat64: return 0x8000000000000000ull;
    case models::DType::kFloat16:
    case models::DType::kBFloat16: return 0x8000u;
    default: return 0;
  }
}

/// Element by element, `flip` (x ^ sign: a negation) or `clear` (x & ~sign: |x|) applied to
/// the sign bit of `t`'s float elements, and with `other` (same dtype and size), the larger
/// of the two magnitudes (for non-NaN values the sign-cleared bit patterns order as the
/// magnitudes do). Other dtypes come back unchanged.
models::TensorData with_signs(const models::TensorData& t, bool flip, const models::TensorData* other = nullptr) {
  const uint64_t sign = sign_bit(t.dtype);
  if (sign == 0) return t;
  const size_t size = models::dtype_size(t.dtype);
  std::vector<std::byte> bytes(t.bytes.data, t.bytes.data + t.bytes.size_bytes);
  for (size_t offset = 0; offset + size <= bytes.size(); offset += size) {
    uint64_t bits = 0;
    std::memcpy(&bits, bytes.data() + offset, size);  // little-endian: the low `size` bytes
    bits = flip ? bits ^ sign : bits & ~sign;
    if (other != nullptr) {
      uint64_t theirs = 0;
      std::memcpy(&theirs, other->bytes.data + offset, size);
      bits = std::max(bits, theirs & ~sign);
    }
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
    c.sizes = captured_sizes();
    for (const auto& [axis, size] : axis_values) c.sizes[axis] = size;
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

  /// The size of the terms each output element is made of (compare.h): for sums of products
  /// (matmul, conv) the reference on the inputs' absolute values. For a normalization with a
  /// scale and bias, y = n * scale + bias with n odd in x (input 0), the larger of
  /// |reference(x, |others|)| and |reference(-x, |others|)|: |n| * |scale| + |bias|. Its
  /// rounding error, the reference's own included, is relative to those terms, not to y where
  /// they cancel (docs/verifier.md).
  Status add_magnitude(Case& c) {
    const bool sums = task_.op_class == "matmul" || task_.op_class == "conv";
    size_t float_inputs = 0;
    for (const models::TensorData& input : c.inputs) float_inputs += sign_bit(input.dtype) != 0;
    const bool affine_norm = task_.op_class == "normalization" && float_inputs >= 2;
    if (!sums && !affine_norm) return Status::ok();
    std::vector<models::TensorData> absolute;
    for (const models::TensorData& input : c.inputs) absolute.push_back(with_signs(input, false));
    if (affine_norm) absolute[0] = c.inputs[0];
    auto magnitude = reference_outputs(absolute);
    if (!magnitude.is_ok()) return magnitude.status().with_context("reference on |inputs| for " + c.label);
    if (affine_norm) {
      absolute[0] = with_signs(c.inputs[0], true);
      auto negated = reference_outputs(absolute);
      if (!negated.is_ok()) return negated.status().with_context("reference on -x, |scale|, |bias| for " + c.label);
      for (size_t o = 0; o < magnitude->size(); ++o) {
        models::TensorData& m = (*magnitude)[o];
        const models::TensorData& n = (*negated)[o];
        if (n.dtype == m.dtype && n.bytes.size_bytes == m.bytes.size_bytes) m = with_signs(m, false, &n);
      }
    }
    c.magnitude = std::move(magnitude).value();
    return Status::ok();
  }

  Result<std::vector<Case>> make_cases() {
    std::vector<Case> cases;
    Case captured{gate_name(Gate::kCapturedInputs), "captured", {}, {}, 2, {}, captured_sizes()};
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

  /// Every var axis at its captured size.
  std::map<std::string, int64_t> captured_sizes() const {
    std::map<std::string, int64_t> sizes;
    for (const std::string& axis : task_.var_axes()) sizes[axis] = axis_value(axis);
    return sizes;
  }

  int64_t axis_value(const std::string& axis) const {
    for (const kernels::TaskTensor& t : task_.inputs)
      for (size_t d = 0; d < t.axes.size(); ++d)
        if (t.axes[d] == axis) return t.dims[d];
    return 1;
  }

  /// Where a worker was when it stopped: the case, the stream check or the benchmark.
  struct Where {
    std::string gate = gate_name(Gate::kCapturedInputs);
    std::string label = "start-up";
  };

  /// Records why `worker` ended without finishing (crash, timeout, memory limit) against
  /// where it was.
  Status worker_failed(WorkerProcess& worker, const Where& where) {
    AK_ASSIGN_OR_RETURN(ProcessResult pr, worker.finish());
    note_peak(pr);
    std::string detail = head_lines(pr.stderr_text, 3);
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    if (pr.end == ProcessResult::End::kTimedOut) {
      fail(Verdict::kTimeout, where.gate, "the worker " + pr.describe() + " in " + where.label, where.label);
    } else {
      // SIGSYS is the sandbox's answer to a forbidden system call: say which kind.
      if (pr.end == ProcessResult::End::kSignaled && pr.signal == SIGSYS)
        detail = "a system call the sandbox forbids (new processes, exec, ptrace, leaving the process group)";
      fail(Verdict::kRuntimeError, where.gate,
           "the worker " + pr.describe() + " in " + where.label + (detail.empty() ? "" : ": " + detail), where.label);
    }
    return Status::ok();
  }

  void note_peak(const ProcessResult& pr) {
    eval_.worker_peak_resident_kb = std::max(eval_.worker_peak_resident_kb, pr.peak_resident_kb);
  }

  /// Something on the channel the worker never sends: only code in the worker's process
  /// (the candidate) can have put it there.
  void protocol_violation(WorkerProcess& worker, const Where& where, const std::string& what) {
    worker.abandon();
    fail(Verdict::kCheatSuspected, where.gate,
         "the worker's channel carried " + what + " (in " + where.label + "): something in the worker wrote to the judge's socket",
         where.label);
  }

  /// The next JSON message, or nothing when the worker failed (recorded).
  Result<std::optional<nlohmann::json>> next_message(WorkerProcess& worker, const Where& where) {
    auto frame = worker.receive();
    if (!frame.is_ok()) {
      AK_RETURN_IF_ERROR(worker_failed(worker, where));
      return std::optional<nlohmann::json>();
    }
    nlohmann::json m = nlohmann::json::parse(*frame, nullptr, /*allow_exceptions=*/false);
    if (m.is_discarded() || !m.is_object()) {
      protocol_violation(worker, where, "a frame that is not a message");
      return std::optional<nlohmann::json>();
    }
    if (m.value("event", "") == "fatal") {
      AK_ASSIGN_OR_RETURN(ProcessResult pr, worker.finish());
      note_peak(pr);
      fail(Verdict::kRuntimeError, where.gate, "the worker failed in " + where.label + ": " + m.value("message", ""), where.label);
      return std::optional<nlohmann::json>();
    }
    return std::optional<nlohmann::json>(std::move(m));
  }

  /// A tensor the worker sent as a raw frame, with the dtype and shape the judge expects.
  Result<std::optional<models::TensorData>> next_tensor(WorkerProcess& worker, const Where& where, models::DType dtype,
                                                         const std::vector<int64_t>& dims, const std::string& name) {
    auto frame = worker.receive();
    if (!frame.is_ok()) {
      AK_RETURN_IF_ERROR(worker_failed(worker, where));
      return std::optional<models::TensorData>();
    }
    models::TensorData t;
    t.name = name;
    t.dtype = dtype;
    t.dims = dims;
    if (frame->size() != static_cast<size_t>(t.numel()) * models::dtype_size(dtype)) {
      protocol_violation(worker, where, "a tensor of " + std::to_string(frame->size()) + " bytes for " + name);
      return std::optional<models::TensorData>();
    }
    t.bytes = models::Buffer::copy_of(reinterpret_cast<const std::byte*>(frame->data()), frame->size());
    return std::optional<models::TensorData>(std::move(t));
  }

  /// What a worker reported for its cases.
  struct GateReport {
    std::vector<CaseResult> cases;
    std::string stream_error;
  };

  ProcessOptions worker_options() const {
    ProcessOptions po;
    po.limits.timeout_s = options_.timeout_s;
    po.limits.file_size_bytes = uint64_t{8} << 30;
    po.limits.resident_bytes = memory_limit_;
    if (options_.threads > 0) po.extra_env["OMP_NUM_THREADS"] = std::to_string(options_.threads);
    po.limits.max_output_bytes = 64 << 10;
    return po;
  }

  /// Starts a worker on `job` and receives its case results up to "gates_done". False
  /// (with the failure recorded) when it did not get there.
  Result<bool> run_cases_in(WorkerProcess& worker, const WorkerJob& job, const std::vector<Case>& cases, GateReport* report) {
    AK_RETURN_IF_ERROR(worker.start(options_.worker_program, worker_options(), job));
    Where where;
    bool loaded = false;
    for (;;) {
      auto frame = worker.receive();
      if (!frame.is_ok()) {
        AK_RETURN_IF_ERROR(worker_failed(worker, where));
        return false;
      }
      nlohmann::json m = nlohmann::json::parse(*frame, nullptr, false);
      const std::string event = m.is_object() ? m.value("event", "") : "";
      if (event == "fatal" && !loaded) {
        // Before the candidate was loaded: the judge's own job or machine is at fault.
        (void)worker.finish();
        return failed("worker: " + m.value("message", std::string("failed")));
      }
      if (event == "fatal") {
        (void)worker.finish();
        fail(Verdict::kRuntimeError, where.gate, "the worker failed in " + where.label + ": " + m.value("message", ""), where.label);
        return false;
      }
      if (event == "load_error" && !loaded) {
        (void)worker.finish();
        fail(Verdict::kCompileError, gate_name(Gate::kCompile), "the candidate does not load: " + m.value("message", ""));
        return false;
      }
      if (event == "loaded" && !loaded) {
        loaded = true;
        const std::string note = m.value("sandbox", "");
        if (!note.empty() && eval_.notes.find(note) == std::string::npos) eval_.notes += (eval_.notes.empty() ? "" : "; ") + note;
      } else if (event == "case" && loaded && m["index"].is_number_unsigned() && m["index"].get<size_t>() < cases.size()) {
        const Case& c = cases[m["index"].get<size_t>()];
        where = {c.gate, c.label};
      } else if (event == "case_result" && loaded && report->cases.size() < cases.size()) {
        auto decoded = decode_case_result(*frame);
        const Case& c = cases[report->cases.size()];
        if (!decoded.is_ok() || decoded->repeats_done < 0 || decoded->repeats_done > c.repeats) {
          protocol_violation(worker, where, "a malformed case result");
          return false;
        }
        CaseResult r = std::move(decoded).value();
        for (int rep = 0; rep < r.repeats_done; ++rep) {
          std::vector<models::TensorData> outputs;
          for (size_t o = 0; o < c.expected.size(); ++o) {
            AK_ASSIGN_OR_RETURN(auto t, next_tensor(worker, where, c.expected[o].dtype, c.expected[o].dims, task_.outputs[o].name));
            if (!t) return false;
            outputs.push_back(std::move(*t));
          }
          r.outputs.push_back(std::move(outputs));
        }
        report->cases.push_back(std::move(r));
      } else if (event == "stream" && loaded) {
        where = {gate_name(Gate::kAntiCheat), "stream check"};
      } else if (event == "stream_result" && where.label == "stream check" && m["error"].is_string()) {
        where.label = "stream result";  // one only
        report->stream_error = m["error"].get<std::string>();
      } else if (event == "gates_done" && loaded) {
        return true;
      } else {
        protocol_violation(worker, where, "an unexpected message '" + frame->substr(0, 60) + "'");
        return false;
      }
    }
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
    if (r.outputs.size() != static_cast<size_t>(c.repeats)) {
      fail(Verdict::kCheatSuspected, c.gate, "the worker reported no outputs for " + c.label + " although the kernel succeeded",
           c.label);
      return Status::ok();
    }
    for (size_t o = 0; o < c.expected.size(); ++o) {
      const models::TensorData& actual = r.outputs[0][o];
      const models::TensorData* magnitude = o < c.magnitude.size() ? &c.magnitude[o] : nullptr;
      const Comparison cmp = compare_outputs(c.expected[o], actual, task_.tolerance, magnitude);
      if (std::isfinite(cmp.max_abs_error)) eval_.max_abs_error = std::max(eval_.max_abs_error, cmp.max_abs_error);
      else eval_.max_abs_error = cmp.max_abs_error;
      eval_.max_rel_error = std::max(eval_.max_rel_error, cmp.max_rel_error);
      if (!cmp.passed()) {
        fail(cmp.verdict, c.gate, "output '" + task_.outputs[o].name + "' on " + c.label + ": " + cmp.summary, c.label);
        return Status::ok();
      }
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
      for (size_t o = 0; o < c.expected.size(); ++o)
        if (!bitwise_equal(r.outputs[0][o], r.outputs[rep][o])) eval_.deterministic = false;
    ++eval_.cases_passed;
    for (const auto& [axis, size] : c.sizes) {
      std::vector<int64_t>& sizes = eval_.verified_sizes[axis];
      const auto at = std::lower_bound(sizes.begin(), sizes.end(), size);
      if (at == sizes.end() || *at != size) sizes.insert(at, size);
    }
    return Status::ok();
  }

  /// A fresh folder for one worker's inputs: a new name every time (the worker can read it,
  /// never write it), so no run can predict another's layout.
  Result<std::filesystem::path> new_folder(const std::string& name) {
    std::random_device entropy;
    char suffix[17];
    std::snprintf(suffix, sizeof suffix, "%08x%08x", entropy(), entropy());
    const std::filesystem::path dir = scratch_ / (name + "-" + suffix);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return failed("cannot create " + dir.string() + ": " + ec.message());
    return dir;
  }

  /// The job's case entries, with their inputs saved under `dir`.
  Status add_cases(const std::vector<Case>& cases, const std::filesystem::path& dir, WorkerJob* job) {
    for (size_t c = 0; c < cases.size(); ++c) {
      WorkerCase wc;
      wc.label = cases[c].label;
      wc.repeats = cases[c].repeats;
      for (size_t i = 0; i < cases[c].inputs.size(); ++i) {
        const auto path = dir / ("case" + std::to_string(c) + "_in" + std::to_string(i) + ".pb");
        AK_RETURN_IF_ERROR(models::save_tensor_file(cases[c].inputs[i], path));
        wc.inputs.push_back(path);
      }
      for (const models::TensorData& e : cases[c].expected) wc.outputs.push_back({e.dtype, e.dims});
      job->cases.push_back(std::move(wc));
    }
    return Status::ok();
  }

  WorkerJob new_job() const {
    WorkerJob job;
    job.library = eval_.build.library_path;
    job.device = task_.target.device;
    job.threads = options_.threads;
    job.device_memory_limit_bytes = device_memory_limit_;
    return job;
  }

  /// Bytes of every input and output at the task's sizes: what the memory limits scale with.
  uint64_t task_bytes() const {
    uint64_t total = 0;
    for (const auto* list : {&task_.inputs, &task_.outputs})
      for (const kernels::TaskTensor& t : *list) {
        uint64_t n = static_cast<uint64_t>(std::max<int64_t>(kernels::dtype_size_bytes(t.dtype), 1));
        for (int64_t d : t.dims) n *= static_cast<uint64_t>(std::max<int64_t>(d, 1));
        total += n;
      }
    return total;
  }

  /// Bytes of the largest case's inputs and expected outputs: the sweep's sizes can be many
  /// times the task's (an LM head captured at batch 1 is swept at batch 97).
  static uint64_t largest_case_bytes(const std::vector<Case>& cases) {
    uint64_t largest = 0;
    for (const Case& c : cases) {
      uint64_t total = 0;
      for (const auto* list : {&c.inputs, &c.expected})
        for (const models::TensorData& t : *list) total += t.bytes.size_bytes;
      largest = std::max(largest, total);
    }
    return largest;
  }

  /// The limits for cases of up to `case_bytes` (0: the task's own sizes).
  void set_memory_limits(uint64_t case_bytes = 0) {
    // The worker itself (libtorch, the reference session, the cache-flush buffer) needs a
    // fixed amount; the cases need a few copies of the task's tensors (host and device
    // inputs, outputs with guards, the sweep's doubled sizes, the reference's outputs).
    const uint64_t bytes = std::max(task_bytes(), case_bytes);
    const uint64_t physical = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    memory_limit_ = options_.memory_limit_bytes;
    if (memory_limit_ == 0) memory_limit_ = std::min(kWorkerAllowanceBytes + kTaskCopies * bytes, physical / 2);
    device_memory_limit_ = static_cast<int64_t>(kDeviceAllowanceBytes + kTaskCopies * bytes);
  }

  Status run_gates_and_bench() {
    step("reference");
    AK_RETURN_IF_ERROR(make_reference());
    set_memory_limits();
    AK_ASSIGN_OR_RETURN(std::vector<Case> cases, make_cases());
    set_memory_limits(largest_case_bytes(cases));

    WorkerJob job = new_job();
    job.check_stream = task_.is_cuda();
    AK_ASSIGN_OR_RETURN(std::filesystem::path dir, new_folder("gates"));
    AK_RETURN_IF_ERROR(add_cases(cases, dir, &job));
    step("gates (" + std::to_string(cases.size()) + " cases)");
    GateReport report;
    WorkerProcess worker;
    AK_ASSIGN_OR_RETURN(bool reported, run_cases_in(worker, job, cases, &report));
    if (!reported) return Status::ok();
    AK_ASSIGN_OR_RETURN(ProcessResult pr, worker.finish());
    note_peak(pr);
    if (worker.left_unread()) {
      fail(Verdict::kCheatSuspected, gate_name(Gate::kAntiCheat),
           "the worker sent more than its cases' reports: something in the worker wrote to the judge's socket", "exit");
      return Status::ok();
    }
    if (!pr.ok()) {
      // It reported everything, then failed on its way out (a destructor in the candidate).
      fail(Verdict::kRuntimeError, gate_name(Gate::kAntiCheat), "the worker " + pr.describe() + " after its last case", "exit");
      return Status::ok();
    }
    // Work on a stream the caller does not wait for races with the output checks, so its
    // cases may come out right or wrong; the stream check is the cause either way.
    if (!report.stream_error.empty()) {
      fail(Verdict::kRuntimeError, gate_name(Gate::kAntiCheat), report.stream_error, "captured");
      return Status::ok();
    }
    for (size_t c = 0; c < cases.size() && !failed_; ++c) {
      if (c >= report.cases.size()) {
        fail(Verdict::kCheatSuspected, cases[c].gate, "the worker stopped reporting after case " + std::to_string(c), cases[c].label);
        return Status::ok();
      }
      AK_RETURN_IF_ERROR(check_case(cases[c], report.cases[c]));
    }
    if (failed_) return Status::ok();
    return run_bench(cases.front());
  }

  /// One benchmark: what the worker reported for each timed call and how long the judge
  /// saw each call's round trip take.
  struct Timing {
    CallTimes candidate, reference;
    bool cut = false;  ///< stopped early at the time budget
    /// measure_batches: round trips of batch_calls back-to-back calls (0: none needed).
    CallTimes batch_candidate, batch_reference;
    int batch_calls = 0;
  };

  /// Why `t`'s reported times do not fit what the judge saw, single calls first, then the
  /// batches; empty when they fit.
  static std::string inconsistency(const Timing& t) {
    std::string why = timing_inconsistency(t.candidate, t.reference, kRoundTripSlackNs, kRoundTripSlackFraction);
    if (why.empty() && t.batch_calls > 1) {
      why = timing_inconsistency(t.batch_candidate, t.batch_reference, kRoundTripSlackNs, kRoundTripSlackFraction);
      if (!why.empty()) why = "in round trips of " + std::to_string(t.batch_calls) + " calls, " + why;
    }
    return why;
  }

  /// Asks for the inputs and outputs of the last candidate call (copies the worker took as
  /// it returned) and checks them against the reference; false when wrong (recorded).
  Result<bool> check_report(WorkerProcess& worker, const Where& where, const Case& captured) {
    AK_RETURN_IF_ERROR(worker.send({{"cmd", "report"}}));
    AK_ASSIGN_OR_RETURN(auto header, next_message(worker, where));
    if (!header) return false;
    if (header->value("inputs", -1) != static_cast<int>(captured.inputs.size()) ||
        header->value("outputs", -1) != static_cast<int>(captured.expected.size())) {
      protocol_violation(worker, where, "a malformed report");
      return false;
    }
    std::vector<models::TensorData> inputs, outputs;
    for (const models::TensorData& in : captured.inputs) {
      AK_ASSIGN_OR_RETURN(auto t, next_tensor(worker, where, in.dtype, in.dims, in.name));
      if (!t) return false;
      inputs.push_back(std::move(*t));
    }
    for (size_t o = 0; o < captured.expected.size(); ++o) {
      const models::TensorData& e = captured.expected[o];
      AK_ASSIGN_OR_RETURN(auto t, next_tensor(worker, where, e.dtype, e.dims, task_.outputs[o].name));
      if (!t) return false;
      outputs.push_back(std::move(*t));
    }
    // The timed calls ran on fresh inputs: their outputs must be right too.
    AK_ASSIGN_OR_RETURN(std::vector<models::TensorData> expected, reference_outputs(inputs));
    for (size_t o = 0; o < expected.size() && o < outputs.size(); ++o) {
      const Comparison cmp = compare_outputs(expected[o], outputs[o], task_.tolerance);
      if (!cmp.passed()) {
        worker.abandon();
        fail(Verdict::kCheatSuspected, gate_name(Gate::kAntiCheat),
             "wrong on the benchmark's fresh inputs although the gates passed (output cached, computed after the call "
             "returned, or an input-dependent shortcut?): " + cmp.summary,
             "benchmark");
        return false;
      }
    }
    return true;
  }

  /// Times the candidate (or, `with_candidate` false, only the reference in a worker that
  /// never loads the candidate) in a fresh worker. The judge sends every call and takes
  /// the time around it; `seed` picks the inputs and the order of the two sides in each
  /// iteration. Nothing when the run failed (recorded).
  /// One timed round trip: `prep` (fresh inputs when `fresh`, NaN outputs, the cache flush:
  /// before the clock starts), then `call` of `side` `repeat` times back to back, timestamped
  /// by the judge from request to answer. {reported ns, round-trip ns}, or nullopt when the
  /// worker failed or broke the protocol (recorded).
  Result<std::optional<std::pair<int64_t, int64_t>>> timed_call(WorkerProcess& worker, const Where& where,
                                                                 const std::string& side, bool fresh, int repeat) {
    using Sample = std::optional<std::pair<int64_t, int64_t>>;
    AK_RETURN_IF_ERROR(worker.send({{"cmd", "prep"}, {"fresh", fresh}}));
    AK_ASSIGN_OR_RETURN(auto prepared, next_message(worker, where));
    if (!prepared) return Sample();
    if (prepared->contains("error")) {
      worker.abandon();
      fail(Verdict::kRuntimeError, where.gate, prepared->value("error", ""), where.label);
      return Sample();
    }
    if (prepared->size() != 1 || !prepared->value("ready", false)) {
      protocol_violation(worker, where, "a malformed answer to prep");
      return Sample();
    }
    nlohmann::json call = {{"cmd", "call"}, {"side", side}};
    if (repeat > 1) call["repeat"] = repeat;
    const auto t0 = std::chrono::steady_clock::now();
    AK_RETURN_IF_ERROR(worker.send(call));
    AK_ASSIGN_OR_RETURN(auto answer, next_message(worker, where));
    const auto t1 = std::chrono::steady_clock::now();
    if (!answer) return Sample();
    if (answer->contains("error")) {
      worker.abandon();
      fail(Verdict::kRuntimeError, where.gate, answer->value("error", ""), where.label);
      return Sample();
    }
    if (answer->size() != 2 || !(*answer)["ns"].is_number_integer() || !(*answer)["status"].is_number_integer()) {
      protocol_violation(worker, where, "a malformed timing");
      return Sample();
    }
    if ((*answer)["status"].get<int>() != 0) {
      worker.abandon();
      fail(Verdict::kRuntimeError, where.gate,
           "the kernel returned " + std::to_string((*answer)["status"].get<int>()) + " in the benchmark", where.label);
      return Sample();
    }
    const int64_t wall = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    return Sample(std::make_pair((*answer)["ns"].get<int64_t>(), wall));
  }

  /// The batched round trips of the consistency check: for tasks faster than
  /// kBatchTargetNs, each side is also called K times back to back in one round trip (K
  /// calls of the slower side fill kBatchTargetNs), so that a per-call under-report adds up
  /// K times against the same per-round-trip slack. Without it, a kernel of a few
  /// microseconds could report any time and stay inside the slack (tens of microseconds).
  Status measure_batches(WorkerProcess& worker, const Where& where, Timing* timing) {
    // K from the slower side as reported: an honest slow kernel gets no batches; one that
    // under-reports gets more calls than it can afford and runs into the timeout.
    const double reference_ns = summarize_durations(timing->reference.reported_ns).median;
    const double candidate_ns = summarize_durations(timing->candidate.reported_ns).median;
    const double per_call = std::max({reference_ns, candidate_ns, 1000.0});
    const int repeat = static_cast<int>(std::min<double>(kBatchMaxCalls, std::ceil(kBatchTargetNs / per_call)));
    if (repeat < 2) return Status::ok();
    timing->batch_calls = repeat;
    for (int r = 0; r < kBatchRounds; ++r) {
      for (const char* side : {r % 2 ? "reference" : "candidate", r % 2 ? "candidate" : "reference"}) {
        AK_ASSIGN_OR_RETURN(auto sample, timed_call(worker, where, side, /*fresh=*/false, repeat));
        if (!sample) {
          timing->batch_calls = -1;  // failed and recorded
          return Status::ok();
        }
        CallTimes& times = std::string(side) == "candidate" ? timing->batch_candidate : timing->batch_reference;
        times.reported_ns.push_back(sample->first);
        times.round_trip_ns.push_back(sample->second);
      }
    }
    return Status::ok();
  }

  Result<std::optional<Timing>> measure(const Case& captured, uint64_t seed, bool with_candidate) {
    WorkerJob job = new_job();
    if (!with_candidate) job.library.clear();
    AK_ASSIGN_OR_RETURN(std::filesystem::path dir, new_folder(with_candidate ? "bench" : "reference"));
    std::vector<Case> cases{captured};  // the candidate runs it once first (warm-up, cuBLAS handles)
    cases.front().gate = gate_name(Gate::kBenchmark);
    cases.front().label = "benchmark warm-up";
    AK_RETURN_IF_ERROR(add_cases(cases, dir, &job));
    WorkerBench b;
    b.subgraph = task_.subgraph_path();
    for (const kernels::TaskTensor& t : task_.inputs) {
      b.input_names.push_back(t.name);
      b.fills.push_back(t.fill);
      b.int_bounds.push_back(t.upper_bound.value_or(8));
    }
    // Larger than the last-level cache of the GPUs we target (H100/H200: 50-60 MB) or of a server CPU.
    b.l2_flush_bytes = !task_.is_cuda() ? (int64_t{64} << 20) : (int64_t{256} << 20);
    b.seed = seed;
    job.bench = b;

    WorkerProcess worker;
    GateReport report;
    AK_ASSIGN_OR_RETURN(bool reported, run_cases_in(worker, job, cases, &report));
    if (!reported) return std::optional<Timing>();
    Where where{gate_name(Gate::kBenchmark), "benchmark"};
    if (with_candidate) {
      const CaseResult* warm = report.cases.empty() ? nullptr : &report.cases.front();
      if (warm == nullptr || warm->kernel_status != 0 || !warm->error.empty()) {
        worker.abandon();
        fail(Verdict::kRuntimeError, where.gate,
             "the kernel failed in the benchmark process" + (warm && !warm->error.empty() ? ": " + warm->error : std::string()));
        return std::optional<Timing>();
      }
    }
    AK_ASSIGN_OR_RETURN(auto ready, next_message(worker, where));
    if (!ready) return std::optional<Timing>();
    if (ready->value("event", "") != "bench_ready") {
      protocol_violation(worker, where, "an unexpected message before the benchmark");
      return std::optional<Timing>();
    }

    Timing timing;
    const int iters = options_.quick ? 20 : options_.bench_iters;
    int warmup = options_.quick ? 3 : options_.bench_warmup;
    const double budget_s = 0.6 * options_.timeout_s;  // the rest covers start-up and the reference's load
    uint64_t order_state = seed * 0x9E3779B97F4A7C15ull + 1;
    // Two timed iterations, unknown to the worker until the request comes, whose candidate
    // outputs are checked (and the last one's): a kernel cannot be right only sometimes.
    const int check_a = static_cast<int>((seed * 0xD1B54A32D192ED03ull >> 33) % static_cast<uint64_t>(iters));
    const int check_b = static_cast<int>((seed * 0x8CB92BA72F3D8DD7ull >> 33) % static_cast<uint64_t>(iters));
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < warmup + iters; ++i) {
      std::vector<std::string> sides{"reference"};
      if (with_candidate) {
        // Which side goes first, from the seed: neither always follows the other's cache state.
        order_state ^= order_state >> 31;
        order_state *= 0xBF58476D1CE4E5B9ull;
        sides = (order_state >> 40) & 1 ? std::vector<std::string>{"candidate", "reference"}
                                        : std::vector<std::string>{"reference", "candidate"};
      }
      for (size_t k = 0; k < sides.size(); ++k) {
        AK_ASSIGN_OR_RETURN(auto sample, timed_call(worker, where, sides[k], /*fresh=*/k == 0, 1));
        if (!sample) return std::optional<Timing>();
        if (i < warmup) continue;
        CallTimes& side = sides[k] == "candidate" ? timing.candidate : timing.reference;
        side.reported_ns.push_back(sample->first);
        side.round_trip_ns.push_back(sample->second);
      }
      const int timed = i - warmup;
      if (with_candidate && (timed == check_a || timed == check_b)) {
        AK_ASSIGN_OR_RETURN(bool right, check_report(worker, where, captured));
        if (!right) return std::optional<Timing>();
      }
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const double per_iteration = elapsed / (i + 1);
      if (i < warmup) {
        // Leave room for the fewest timed iterations: end the warm-up here if needed.
        if (elapsed + per_iteration * kMinTimedIterations > budget_s) warmup = i + 1;
      } else if (static_cast<int>(timing.reference.reported_ns.size()) >= kMinTimedIterations && elapsed + per_iteration > budget_s) {
        timing.cut = i + 1 < warmup + iters;
        break;
      }
    }
    if (with_candidate) {
      AK_ASSIGN_OR_RETURN(bool right, check_report(worker, where, captured));
      if (!right) return std::optional<Timing>();
      AK_RETURN_IF_ERROR(measure_batches(worker, where, &timing));
      if (timing.batch_calls < 0) return std::optional<Timing>();
    }
    AK_RETURN_IF_ERROR(worker.send({{"cmd", "exit"}}));
    AK_ASSIGN_OR_RETURN(ProcessResult pr, worker.finish());
    note_peak(pr);
    if (worker.left_unread()) {
      fail(Verdict::kCheatSuspected, where.gate,
           "the worker sent more than the benchmark asked for: something in the worker wrote to the judge's socket", "exit");
      return std::optional<Timing>();
    }
    if (!pr.ok()) {
      fail(Verdict::kRuntimeError, where.gate, "the worker " + pr.describe() + " after the benchmark", "exit");
      return std::optional<Timing>();
    }
    return std::optional<Timing>(std::move(timing));
  }

  /// Checks a measurement's timing consistency; false when it failed (recorded).
  Result<bool> accept(const Timing& t) {
    const std::string why = inconsistency(t);
    if (!why.empty()) {
      fail(Verdict::kCheatSuspected, gate_name(Gate::kBenchmark), why + " (measured twice, in fresh workers)", "benchmark");
      return false;
    }
    return true;
  }

  /// A measurement whose timing fits what the judge saw. One that does not is measured
  /// again in a fresh worker first (a load burst on a shared machine can stretch round
  /// trips unevenly); it is CHEAT_SUSPECTED only when the second does not fit either.
  Result<std::optional<Timing>> measure_and_accept(const Case& captured, uint64_t seed) {
    AK_ASSIGN_OR_RETURN(auto t, measure(captured, seed, true));
    if (!t) return t;
    if (inconsistency(*t).empty()) return t;
    step("re-measuring (reported times did not fit the round trips)");
    AK_ASSIGN_OR_RETURN(t, measure(captured, seed + 7, true));
    if (!t) return t;
    AK_ASSIGN_OR_RETURN(bool ok, accept(*t));
    if (!ok) return std::optional<Timing>();
    return t;
  }

  Status report_timing(const Timing& t) {
    const Summary cand = summarize_durations(t.candidate.reported_ns);
    const Summary ref = summarize_durations(t.reference.reported_ns);
    eval_.latency_us = cand.median / 1e3;
    eval_.latency_ci_low_us = cand.ci_low / 1e3;
    eval_.latency_ci_high_us = cand.ci_high / 1e3;
    eval_.reference_latency_us = ref.median / 1e3;
    AK_ASSIGN_OR_RETURN(SpeedupEstimate speedup, estimate_speedup(t.reference.reported_ns, t.candidate.reported_ns));
    eval_.speedup = speedup.speedup;
    eval_.speedup_ci_low = speedup.ci_low;
    eval_.speedup_ci_high = speedup.ci_high;
    return Status::ok();
  }

  /// Two measurements agree when their speedup intervals overlap or the speedups are
  /// within kRetimeTolerance of each other.
  static Result<bool> agree(const Timing& a, const Timing& b) {
    AK_ASSIGN_OR_RETURN(SpeedupEstimate x, estimate_speedup(a.reference.reported_ns, a.candidate.reported_ns));
    AK_ASSIGN_OR_RETURN(SpeedupEstimate y, estimate_speedup(b.reference.reported_ns, b.candidate.reported_ns));
    const bool overlap = x.ci_low <= y.ci_high && y.ci_low <= x.ci_high;
    return overlap || std::max(x.speedup, y.speedup) <= kRetimeTolerance * std::min(x.speedup, y.speedup);
  }

  static double median_of(const std::vector<int64_t>& ns) { return summarize_durations(ns).median; }

  Status run_bench(const Case& captured) {
    step("benchmark (" + std::to_string(options_.quick ? 20 : options_.bench_iters) + " iterations)");
    const uint64_t seed = task_.seed + 4000;
    AK_ASSIGN_OR_RETURN(auto first, measure_and_accept(captured, seed));
    if (!first) return Status::ok();
    Timing kept = std::move(*first);
    std::vector<std::string> notes;
    eval_.roofline_floor_us = options_.roofline_floor_ns / 1e3;
    const double floor_ns = 0.9 * options_.roofline_floor_ns;
    if (options_.roofline_floor_ns > 0 && median_of(kept.candidate.reported_ns) < floor_ns) {
      // Below the floor once may be a floor that is too high for this device or a glitch
      // of the clock: only a fresh worker that measures the same is evidence.
      step("re-measuring (below the roofline floor)");
      AK_ASSIGN_OR_RETURN(auto again, measure_and_accept(captured, seed + 1));
      if (!again) return Status::ok();
      if (median_of(again->candidate.reported_ns) < floor_ns) {
        fail(Verdict::kCheatSuspected, gate_name(Gate::kBenchmark),
             "median " + std::to_string(median_of(kept.candidate.reported_ns) / 1e3) + " us, re-measured " +
                 std::to_string(median_of(again->candidate.reported_ns) / 1e3) + " us in a fresh worker, is below the roofline floor of " +
                 std::to_string(options_.roofline_floor_ns / 1e3) + " us: impossible for the bytes and FLOPs it must handle",
             "benchmark");
        return Status::ok();
      }
      notes.push_back("re-measured: the first median was below the roofline floor");
      kept = std::move(*again);
    }
    AK_RETURN_IF_ERROR(report_timing(kept));
    if (*eval_.speedup > 1) {
      AK_RETURN_IF_ERROR(retime_winner(captured, seed, &kept, &notes));
      if (failed_) {
        // A failed re-timing leaves no timing: a verdict other than PASSED has none.
        for (auto* v : {&eval_.latency_us, &eval_.latency_ci_low_us, &eval_.latency_ci_high_us, &eval_.reference_latency_us,
                        &eval_.speedup, &eval_.speedup_ci_low, &eval_.speedup_ci_high})
          v->reset();
        return Status::ok();
      }
    }
    eval_.message = std::to_string(eval_.cases_passed) + " cases passed; " + std::to_string(kept.candidate.reported_ns.size()) +
                    " timed iterations";
    if (kept.cut) eval_.message += " (cut to the time budget, 0.6 x --timeout: raise --timeout for more)";
    char round_trip[96];
    std::snprintf(round_trip, sizeof round_trip, "; unreported per round trip: candidate %.1f us, reference %.1f us",
                  unreported_ns(kept.candidate) / 1e3, unreported_ns(kept.reference) / 1e3);
    eval_.message += round_trip;
    for (const std::string& n : notes) eval_.message += "; " + n;
    if (!eval_.notes.empty()) eval_.message += "; " + eval_.notes;
    return Status::ok();
  }

  /// A winner is timed again before it is kept: a fresh worker, new folders, another seed
  /// (inputs and the order of the sides). When the two speedups disagree the lower one is
  /// kept: a timing that only one layout produces buys nothing, and on a shared machine
  /// honest kernels disagree too (measured: 3.4x to 8.7x for one kernel under load), so
  /// disagreement is not evidence enough for CHEAT_SUSPECTED. Then the reference is timed
  /// alone, in a worker that never loads the candidate: a reference slowed down beside the
  /// candidate (by its threads, or by OpenMP pools spinning against each other) does not
  /// count, the speedup is taken against the reference alone.
  Status retime_winner(const Case& captured, uint64_t seed, Timing* kept, std::vector<std::string>* notes) {
    step("re-timing the winner in a fresh worker");
    AK_ASSIGN_OR_RETURN(auto second, measure_and_accept(captured, seed + 101));
    if (!second) return Status::ok();
    AK_ASSIGN_OR_RETURN(bool agreed, agree(*kept, *second));
    if (!agreed) {
      AK_ASSIGN_OR_RETURN(SpeedupEstimate x, estimate_speedup(kept->reference.reported_ns, kept->candidate.reported_ns));
      AK_ASSIGN_OR_RETURN(SpeedupEstimate y, estimate_speedup(second->reference.reported_ns, second->candidate.reported_ns));
      char note[160];
      std::snprintf(note, sizeof note, "re-timed: two fresh workers measured speedups %.3f and %.3f, the lower is kept", x.speedup,
                    y.speedup);
      notes->push_back(note);
      if (y.speedup < x.speedup) {
        *kept = std::move(*second);
        AK_RETURN_IF_ERROR(report_timing(*kept));
      }
    }
    AK_ASSIGN_OR_RETURN(auto alone, measure(captured, seed + 303, false));
    if (!alone) return Status::ok();
    const double beside = median_of(kept->reference.reported_ns), clean = median_of(alone->reference.reported_ns);
    if (beside > kReferenceSlowdown * clean + kRoundTripSlackNs) {
      const double scale = clean / beside;
      *eval_.speedup *= scale;
      *eval_.speedup_ci_low *= scale;
      *eval_.speedup_ci_high *= scale;
      eval_.reference_latency_us = clean / 1e3;
      char note[200];
      std::snprintf(note, sizeof note,
                    "the reference took %.1f us beside the candidate but %.1f us alone: speedup against the reference alone",
                    beside / 1e3, clean / 1e3);
      notes->push_back(note);
    }
    return Status::ok();
  }

  const kernels::Task& task_;
  const JudgeOptions& options_;
  Evaluation eval_;
  bool failed_ = false;
  std::filesystem::path scratch_;
  std::unique_ptr<models::Session> reference_;
  uint64_t memory_limit_ = 0;          ///< resident bytes of every worker
  int64_t device_memory_limit_ = 0;    ///< device memory a call may keep (CUDA)
};

}  // namespace

Result<Evaluation> judge_candidate(const kernels::Task& task, const std::filesystem::path& candidate, const JudgeOptions& options) {
  if (options.worker_program.empty()) return internal_error("judge: no worker program");
  AK_RETURN_IF_ERROR(kernels::check_task_files(task));
  Judge judge(task, options);
  return judge.run(candidate);
}

}  // namespace ak::verifier
