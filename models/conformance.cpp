#include "models/conformance.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "base/file.h"

#include "models/aten_interop.h"
#include "models/onnx_io.h"

namespace fs = std::filesystem;

namespace ak::models {

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass: return "PASS";
    case Outcome::kFail: return "FAIL";
    case Outcome::kUnsupported: return "UNSUPPORTED";
  }
  return "?";
}

Result<KnownResults> read_known_results(const fs::path& file) {
  AK_ASSIGN_OR_RETURN(std::string text, read_file(file));
  KnownResults known;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    std::istringstream fields(line);
    std::string name, verdict, reason;
    if (!(fields >> name) || name[0] == '#') continue;
    fields >> verdict;
    std::getline(fields >> std::ws, reason);
    const std::string where = file.string() + ":" + std::to_string(number);
    KnownResult entry;
    if (verdict == "FAIL") entry.outcome = Outcome::kFail;
    else if (verdict == "UNSUPPORTED") entry.outcome = Outcome::kUnsupported;
    else return invalid_input(where + ": expected 'NAME FAIL|UNSUPPORTED REASON', got '" + line + "'");
    // An entry without a reason is how a list grows without anyone deciding anything.
    if (reason.empty()) return invalid_input(where + ": '" + name + "' has no reason");
    entry.reason = reason;
    if (!known.emplace(name, std::move(entry)).second) return invalid_input(where + ": '" + name + "' is listed twice");
  }
  return known;
}

Acceptance gate_result(const ConformanceResult& result, const KnownResults& known, const KnownResult** entry) {
  const KnownResult* found = nullptr;
  // The directory's trailing paths, shortest first: "test_x", "node/test_x", ...
  std::string suffix;
  for (auto it = result.dir.end(); it != result.dir.begin() && !found;) {
    --it;
    if (it->empty()) continue;
    suffix = suffix.empty() ? it->string() : it->string() + "/" + suffix;
    auto hit = known.find(suffix);
    if (hit != known.end()) found = &hit->second;
  }
  if (found == nullptr && result.dir.empty()) {
    auto hit = known.find(result.name);
    if (hit != known.end()) found = &hit->second;
  }
  if (entry) *entry = found;
  if (result.outcome == Outcome::kPass) return found ? Acceptance::kStale : Acceptance::kPass;
  return found && found->outcome == result.outcome ? Acceptance::kKnown : Acceptance::kUnexpected;
}

Result<std::vector<fs::path>> find_conformance_tests(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return invalid_input("'" + path.string() + "' does not exist");
  if (!fs::is_directory(path, ec))
    return invalid_input("'" + path.string() + "' is not a directory (expected a test directory with model.onnx, or a folder of them)");
  std::vector<fs::path> out;
  if (fs::exists(path / "model.onnx", ec)) {
    out.push_back(path);
    return out;
  }
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && fs::exists(it->path() / "model.onnx", ec)) {
      out.push_back(it->path());
      it.disable_recursion_pending();
    }
  }
  if (out.empty()) return invalid_input("'" + path.string() + "' holds no test directory (none has a model.onnx)");
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

Status compare_tensors(const TensorData& expected, const TensorData& actual, double rtol, double atol,
                       const std::string& what, double* max_abs, double* max_rel) {
  if (expected.dtype != actual.dtype)
    return failed(what + ": dtype " + dtype_name(actual.dtype) + ", expected " + dtype_name(expected.dtype));
  if (expected.dims != actual.dims)
    return failed(what + ": shape " + actual.shape_string() + ", expected " + expected.shape_string());
  if (expected.dtype == DType::kString) {
    for (size_t i = 0; i < expected.strings.size(); ++i)
      if (expected.strings[i] != actual.strings[i])
        return failed(what + ": element " + std::to_string(i) + " is \"" + actual.strings[i] + "\", expected \"" +
                      expected.strings[i] + "\"");
    return Status::ok();
  }
  AK_ASSIGN_OR_RETURN(at::Tensor e, to_tensor(expected, at::kCPU));
  AK_ASSIGN_OR_RETURN(at::Tensor a, to_tensor(actual, at::kCPU));
  if (e.numel() == 0) return Status::ok();
  if (!is_floating(expected.dtype) && expected.dtype != DType::kComplex64 && expected.dtype != DType::kComplex128) {
    at::Tensor diff = a.ne(e);
    if (diff.any().item<bool>()) {
      int64_t idx = diff.reshape(-1).nonzero()[0][0].item<int64_t>();
      double av = a.reshape(-1)[idx].to(at::kDouble).item<double>(), ev = e.reshape(-1)[idx].to(at::kDouble).item<double>();
      *max_abs = std::max(*max_abs, std::abs(av - ev));
      return failed(what + ": element " + std::to_string(idx) + " is " + std::to_string(static_cast<int64_t>(av)) +
                    ", expected " + std::to_string(static_cast<int64_t>(ev)) + " (" +
                    std::to_string(diff.sum().item<int64_t>()) + " of " + std::to_string(e.numel()) + " differ)");
    }
    return Status::ok();
  }
  if (e.is_complex()) {
    e = at::view_as_real(e);
    a = at::view_as_real(a);
  }
  e = e.to(at::kDouble).reshape(-1);
  a = a.to(at::kDouble).reshape(-1);
  at::Tensor nan_e = e.isnan(), nan_a = a.isnan();
  if (!nan_e.equal(nan_a)) {
    int64_t idx = nan_e.ne(nan_a).nonzero()[0][0].item<int64_t>();
    return failed(what + ": element " + std::to_string(idx) + " is " + std::to_string(a[idx].item<double>()) +
                  ", expected " + std::to_string(e[idx].item<double>()) + " (NaN mismatch)");
  }
  at::Tensor finite = e.isfinite().logical_and(a.isfinite());
  at::Tensor inf_mismatch = finite.logical_not().logical_and(nan_e.logical_not()).logical_and(a.ne(e));
  if (inf_mismatch.any().item<bool>()) {
    int64_t idx = inf_mismatch.nonzero()[0][0].item<int64_t>();
    return failed(what + ": element " + std::to_string(idx) + " is " + std::to_string(a[idx].item<double>()) +
                  ", expected " + std::to_string(e[idx].item<double>()));
  }
  at::Tensor abs_err = (a - e).abs().masked_fill(finite.logical_not(), 0);
  at::Tensor rel_err = abs_err / e.abs().clamp_min(1e-12);
  double worst_abs = abs_err.max().item<double>();
  *max_abs = std::max(*max_abs, worst_abs);
  *max_rel = std::max(*max_rel, rel_err.masked_fill(abs_err.eq(0), 0).max().item<double>());
  at::Tensor bad = abs_err.gt(atol + rtol * e.abs().masked_fill(finite.logical_not(), 0));
  if (bad.any().item<bool>()) {
    int64_t idx = (abs_err - (atol + rtol * e.abs())).argmax().item<int64_t>();
    char buf[256];
    std::snprintf(buf, sizeof buf, ": max abs error %.3g at element %lld (got %.6g, expected %.6g; rtol %g, atol %g; %lld of %lld out of tolerance)",
                  worst_abs, static_cast<long long>(idx), a[idx].item<double>(), e[idx].item<double>(), rtol, atol,
                  static_cast<long long>(bad.sum().item<int64_t>()), static_cast<long long>(e.numel()));
    return failed(what + buf);
  }
  return Status::ok();
}

}  // namespace

Status compare_values(const HostValue& expected, const HostValue& actual, double rtol, double atol, const std::string& what,
                      double* max_abs_error, double* max_rel_error) {
  auto kind_name = [](HostValue::Kind k) {
    return k == HostValue::Kind::kTensor ? "a tensor" : k == HostValue::Kind::kSequence ? "a sequence" : "an empty optional";
  };
  if (expected.kind != actual.kind)
    return failed(what + ": got " + kind_name(actual.kind) + ", expected " + kind_name(expected.kind));
  if (expected.kind == HostValue::Kind::kNone) return Status::ok();
  if (expected.kind == HostValue::Kind::kTensor)
    return compare_tensors(expected.tensor, actual.tensor, rtol, atol, what, max_abs_error, max_rel_error);
  if (expected.sequence.size() != actual.sequence.size())
    return failed(what + ": sequence of " + std::to_string(actual.sequence.size()) + " tensors, expected " +
                  std::to_string(expected.sequence.size()));
  for (size_t i = 0; i < expected.sequence.size(); ++i)
    AK_RETURN_IF_ERROR(compare_tensors(expected.sequence[i], actual.sequence[i], rtol, atol,
                                       what + "[" + std::to_string(i) + "]", max_abs_error, max_rel_error));
  return Status::ok();
}

namespace {

/// Sorted input_N.pb / output_N.pb files of a data set, by N.
std::vector<fs::path> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  const std::regex pattern(prefix + "_([0-9]+)\\.pb");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, pattern)) found.emplace_back(std::stoi(m[1]), entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [n, p] : found) out.push_back(p);
  return out;
}

/// The test's data.json: `rtol`/`atol` for every device, and an object per device kind
/// ("cpu", "cuda") that overrides them there; e.g. float16 cases are exact on the CPU but
/// need 1e-2 where cuBLAS accumulates in float16.
void read_tolerances(const fs::path& dir, const Device& device, double* rtol, double* atol) {
  std::ifstream in(dir / "data.json");
  if (!in) return;
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return;
  auto apply = [&](const nlohmann::json& o) {
    if (o.contains("rtol") && o["rtol"].is_number()) *rtol = o["rtol"].get<double>();
    if (o.contains("atol") && o["atol"].is_number()) *atol = o["atol"].get<double>();
  };
  apply(j);
  const char* kind = device.is_cuda() ? "cuda" : "cpu";
  if (j.contains(kind) && j[kind].is_object()) apply(j[kind]);
}

/// ONNX 1.12's test data stores bfloat16 tensors as UINT16 bits; read them as the
/// bfloat16 the graph declares.
void fix_bfloat16(HostValue& v, const ValueInfo& declared) {
  if (v.kind == HostValue::Kind::kTensor && declared.dtype == DType::kBFloat16 && v.tensor.dtype == DType::kUInt16)
    v.tensor.dtype = DType::kBFloat16;
}

/// Ops whose outputs are random draws: their values cannot be reproduced, only their shape
/// and dtype checked.
bool has_random_op(const Graph& g) {
  static const std::set<std::string> kRandom = {"Bernoulli", "RandomUniform", "RandomNormal", "RandomUniformLike",
                                                "RandomNormalLike", "Multinomial"};
  for (const auto& n : g.nodes)
    if (kRandom.count(n.op_type)) return true;
  return false;
}

Status run_data_set(Session& session, const Model& model, const fs::path& set_dir, double rtol, double atol,
                    double* max_abs, double* max_rel) {
  const auto inputs_files = numbered_files(set_dir, "input");
  const auto output_files = numbered_files(set_dir, "output");
  // input_N.pb files map to the graph's inputs in order (initializers included for old
  // models that list them as inputs); the file's own name field is often empty.
  const auto& graph_inputs = model.graph.inputs;
  std::vector<HostValue> inputs;
  for (size_t i = 0; i < inputs_files.size(); ++i) {
    if (i >= graph_inputs.size())
      return invalid_input(set_dir.string() + ": " + std::to_string(inputs_files.size()) + " input files for " +
                           std::to_string(graph_inputs.size()) + " graph inputs");
    AK_ASSIGN_OR_RETURN(HostValue v, load_value_file(inputs_files[i], graph_inputs[i].kind));
    fix_bfloat16(v, graph_inputs[i]);
    v.name = graph_inputs[i].name;
    if (v.kind == HostValue::Kind::kTensor) v.tensor.name = v.name;
    if (model.graph.find_initializer(v.name)) continue;  // an initializer's default value
    inputs.push_back(std::move(v));
  }
  AK_ASSIGN_OR_RETURN(std::vector<HostValue> outputs, session.run_values(inputs));
  if (output_files.size() != outputs.size())
    return failed(set_dir.filename().string() + ": the model gave " + std::to_string(outputs.size()) + " outputs, " +
                  std::to_string(output_files.size()) + " expected");
  for (size_t i = 0; i < output_files.size(); ++i) {
    const ValueInfo& info = model.graph.outputs[i];
    AK_ASSIGN_OR_RETURN(HostValue expected, load_value_file(output_files[i], info.kind));
    fix_bfloat16(expected, info);
    if (has_random_op(model.graph) && expected.kind == HostValue::Kind::kTensor && outputs[i].kind == expected.kind) {
      const TensorData& e = expected.tensor;
      const TensorData& a = outputs[i].tensor;
      if (e.dtype != a.dtype || e.dims != a.dims)
        return failed("output '" + info.name + "': " + dtype_name(a.dtype) + " " + a.shape_string() + ", expected " +
                      dtype_name(e.dtype) + " " + e.shape_string());
      continue;
    }
    AK_RETURN_IF_ERROR(compare_values(expected, outputs[i], rtol, atol,
                                      "output '" + info.name + "' (" + set_dir.filename().string() + ")", max_abs, max_rel));
  }
  return Status::ok();
}

}  // namespace

ConformanceResult run_conformance_test(const fs::path& dir, const ConformanceOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ConformanceResult r;
  r.dir = dir;
  r.name = dir.filename().string();
  auto finish = [&](Outcome v, std::string detail) {
    r.outcome = v;
    r.detail = std::move(detail);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  auto verdict_of = [](const Status& st) { return st.code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail; };

  auto model = load_model(dir / "model.onnx");
  if (!model) return finish(verdict_of(model.status()), model.status().message());
  auto shared = std::make_shared<const Model>(std::move(model).value());
  SessionOptions so;
  so.device = options.device;
  so.check_input_shapes = false;
  auto session = Session::create(shared, so);
  if (!session) return finish(verdict_of(session.status()), session.status().message());

  double rtol = options.default_rtol, atol = options.default_atol;
  read_tolerances(dir, options.device, &rtol, &atol);
  if (options.rtol) rtol = *options.rtol;
  if (options.atol) atol = *options.atol;

  std::vector<fs::path> sets;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(entry.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return finish(Outcome::kFail, "no test_data_set_* folder");
  for (const auto& set : sets) {
    Status st;
    try {
      st = run_data_set(**session, *shared, set, rtol, atol, &r.max_abs_error, &r.max_rel_error);
    } catch (const std::exception& e) {
      st = internal_error(std::string("unexpected error: ") + e.what());
    }
    if (!st.is_ok()) return finish(verdict_of(st), st.message());
    ++r.data_sets;
  }
  return finish(Outcome::kPass, "");
}

}  // namespace ak::models
