#include "verifier/worker_job.h"

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

Result<json> parse(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return failed(std::string(what) + " is not a JSON object");
  return j;
}

}  // namespace

std::string encode_job(const WorkerJob& job) {
  json j;
  j["library"] = job.library.string();
  j["device"] = job.device;
  j["threads"] = job.threads;
  j["check_stream"] = job.check_stream;
  j["device_memory_limit_bytes"] = job.device_memory_limit_bytes;
  j["cases"] = json::array();
  for (const WorkerCase& c : job.cases) {
    json outputs = json::array();
    for (const OutputShape& o : c.outputs) outputs.push_back({{"dtype", static_cast<int>(o.dtype)}, {"dims", o.dims}});
    j["cases"].push_back({{"label", c.label}, {"inputs", strings_of(c.inputs)}, {"outputs", outputs}, {"repeats", c.repeats}});
  }
  if (job.bench) {
    const WorkerBench& b = *job.bench;
    j["bench"] = {{"subgraph", b.subgraph.string()}, {"input_names", b.input_names}, {"fills", b.fills},
                  {"int_bounds", b.int_bounds}, {"l2_flush_bytes", b.l2_flush_bytes}, {"seed", b.seed}};
  }
  return j.dump();
}

Result<WorkerJob> decode_job(std::string_view text) {
  AK_ASSIGN_OR_RETURN(json j, parse(text, "the job"));
  WorkerJob job;
  try {
    job.library = j.at("library").get<std::string>();
    job.device = j.at("device").get<std::string>();
    job.threads = j.at("threads").get<int>();
    job.check_stream = j.at("check_stream").get<bool>();
    job.device_memory_limit_bytes = j.at("device_memory_limit_bytes").get<int64_t>();
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
      wb.l2_flush_bytes = b.at("l2_flush_bytes").get<int64_t>();
      wb.seed = b.at("seed").get<uint64_t>();
      job.bench = std::move(wb);
    }
  } catch (const json::exception& e) {
    return invalid_input(std::string("malformed job: ") + e.what());
  }
  return job;
}

std::string encode_case_result(const CaseResult& c) {
  json j = {{"event", "case_result"},       {"kernel_status", c.kernel_status},   {"error", c.error},
            {"mutated_input", c.mutated_input}, {"overrun_output", c.overrun_output}, {"declared_dtype", c.declared_dtype},
            {"declared_shape", c.declared_shape}, {"repeats_done", c.repeats_done}};
  return j.dump();
}

Result<CaseResult> decode_case_result(std::string_view text) {
  AK_ASSIGN_OR_RETURN(json j, parse(text, "a case result"));
  CaseResult cr;
  try {
    if (j.at("event").get<std::string>() != "case_result") return failed("expected a case result");
    cr.kernel_status = j.at("kernel_status").get<int>();
    cr.error = j.at("error").get<std::string>();
    cr.mutated_input = j.at("mutated_input").get<std::string>();
    cr.overrun_output = j.at("overrun_output").get<std::string>();
    cr.declared_dtype = j.at("declared_dtype").get<std::string>();
    cr.declared_shape = j.at("declared_shape").get<std::string>();
    cr.repeats_done = j.at("repeats_done").get<int>();
  } catch (const json::exception& e) {
    return failed(std::string("malformed case result: ") + e.what());
  }
  return cr;
}

}  // namespace ak::verifier
