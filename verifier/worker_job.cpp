#include "verifier/worker_job.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace ak::verifier {
namespace {

using nlohmann::json;

std::vector<std::string> strings_of(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(p.string());
  return out;
}
std::vector<std::filesystem::path> paths_of(const json& list) {
  std::vector<std::filesystem::path> out;
  for (const auto& p : list) out.emplace_back(p.get<std::string>());
  return out;
}

Status write_json(const json& j, const std::filesystem::path& path) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(1);
    if (!out) return failed("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return failed("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::ok();
}

Result<json> read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return failed("cannot read " + path.string());
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return failed(path.string() + " is not valid JSON");
  return j;
}

}  // namespace

Status write_job(const WorkerJob& job, const std::filesystem::path& path) {
  json j;
  j["dir"] = job.dir.string();
  j["library"] = job.library.string();
  j["device"] = job.device;
  j["threads"] = job.threads;
  j["check_stream"] = job.check_stream;
  j["cases"] = json::array();
  for (const WorkerCase& c : job.cases) {
    json outputs = json::array();
    for (const OutputShape& o : c.outputs) outputs.push_back({{"dtype", static_cast<int>(o.dtype)}, {"dims", o.dims}});
    j["cases"].push_back({{"label", c.label}, {"inputs", strings_of(c.inputs)}, {"outputs", outputs}, {"repeats", c.repeats}});
  }
  if (job.bench) {
    const WorkerBench& b = *job.bench;
    j["bench"] = {{"subgraph", b.subgraph.string()}, {"input_names", b.input_names}, {"fills", b.fills},
                  {"int_bounds", b.int_bounds}, {"warmup", b.warmup}, {"iters", b.iters}, {"time_budget_s", b.time_budget_s},
                  {"l2_flush_bytes", b.l2_flush_bytes}, {"seed", b.seed}};
  }
  return write_json(j, path);
}

Result<WorkerJob> read_job(const std::filesystem::path& path) {
  AK_ASSIGN_OR_RETURN(json j, read_json(path));
  WorkerJob job;
  try {
    job.dir = j.at("dir").get<std::string>();
    job.library = j.at("library").get<std::string>();
    job.device = j.at("device").get<std::string>();
    job.threads = j.at("threads").get<int>();
    job.check_stream = j.at("check_stream").get<bool>();
    for (const json& c : j.at("cases")) {
      WorkerCase wc;
      wc.label = c.at("label").get<std::string>();
      wc.inputs = paths_of(c.at("inputs"));
      wc.repeats = c.at("repeats").get<int>();
      for (const json& o : c.at("outputs"))
        wc.outputs.push_back({static_cast<models::DType>(o.at("dtype").get<int>()), o.at("dims").get<std::vector<int64_t>>()});
      job.cases.push_back(std::move(wc));
    }
    if (j.contains("bench")) {
      const json& b = j["bench"];
      WorkerBench wb;
      wb.subgraph = b.at("subgraph").get<std::string>();
      wb.input_names = b.at("input_names").get<std::vector<std::string>>();
      wb.fills = b.at("fills").get<std::vector<std::string>>();
      wb.int_bounds = b.at("int_bounds").get<std::vector<int64_t>>();
      wb.warmup = b.at("warmup").get<int>();
      wb.iters = b.at("iters").get<int>();
      wb.time_budget_s = b.value("time_budget_s", 0.0);
      wb.l2_flush_bytes = b.at("l2_flush_bytes").get<int64_t>();
      wb.seed = b.at("seed").get<uint64_t>();
      job.bench = std::move(wb);
    }
  } catch (const json::exception& e) {
    return invalid_input(path.string() + ": malformed job: " + e.what());
  }
  return job;
}

Status write_result(const WorkerResult& result, const std::filesystem::path& path) {
  json j;
  j["cases"] = json::array();
  for (const CaseResult& c : result.cases) {
    json outputs = json::array();
    for (const auto& rep : c.outputs) outputs.push_back(strings_of(rep));
    j["cases"].push_back({{"kernel_status", c.kernel_status}, {"error", c.error}, {"mutated_input", c.mutated_input},
                          {"overrun_output", c.overrun_output}, {"declared_dtype", c.declared_dtype},
                          {"declared_shape", c.declared_shape}, {"outputs", outputs}});
  }
  j["stream_error"] = result.stream_error;
  if (result.bench) {
    const BenchResult& b = *result.bench;
    j["bench"] = {{"candidate_ns", b.candidate_ns}, {"reference_ns", b.reference_ns},
                  {"last_inputs", strings_of(b.last_inputs)}, {"last_outputs", strings_of(b.last_outputs)},
                  {"error", b.error}, {"kernel_status", b.kernel_status}};
  }
  return write_json(j, path);
}

Result<WorkerResult> read_result(const std::filesystem::path& path) {
  AK_ASSIGN_OR_RETURN(json j, read_json(path));
  WorkerResult r;
  try {
    for (const json& c : j.at("cases")) {
      CaseResult cr;
      cr.kernel_status = c.at("kernel_status").get<int>();
      cr.error = c.at("error").get<std::string>();
      cr.mutated_input = c.at("mutated_input").get<std::string>();
      cr.overrun_output = c.at("overrun_output").get<std::string>();
      cr.declared_dtype = c.at("declared_dtype").get<std::string>();
      cr.declared_shape = c.at("declared_shape").get<std::string>();
      for (const json& rep : c.at("outputs")) cr.outputs.push_back(paths_of(rep));
      r.cases.push_back(std::move(cr));
    }
    r.stream_error = j.at("stream_error").get<std::string>();
    if (j.contains("bench")) {
      const json& b = j["bench"];
      BenchResult br;
      br.candidate_ns = b.at("candidate_ns").get<std::vector<int64_t>>();
      br.reference_ns = b.at("reference_ns").get<std::vector<int64_t>>();
      br.last_inputs = paths_of(b.at("last_inputs"));
      br.last_outputs = paths_of(b.at("last_outputs"));
      br.error = b.at("error").get<std::string>();
      br.kernel_status = b.at("kernel_status").get<int>();
      r.bench = std::move(br);
    }
  } catch (const json::exception& e) {
    return failed(path.string() + ": malformed worker result: " + e.what());
  }
  return r;
}

}  // namespace ak::verifier
