// JSONL export/import: round trip, idempotence, malformed lines.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "memory/memory.h"
#include "tests/memory/test_records.h"

namespace ak::memory {
namespace {

using testing::TempDir;

// Fills a store with a bit of everything: lineage, parameters, failures, notes, sources.
void fill(Store& store) {
  auto parent = testing::kernel("return 1;");
  auto child = testing::kernel("return 2;", "llm:refine");
  child.parent_hash = candidate_hash(parent).value();
  child.parameters_json = R"({"block": 256})";
  auto w = testing::softmax_workload({{32, 12, 128, 128}});
  w.source_model = "bert.onnx";
  w.source_nodes = {"/layer.0/Softmax", "/layer.1/Softmax"};
  auto ids = store.record({w, parent, testing::passed(1.2)}).value();
  ASSERT_TRUE(store.record({w, child, testing::passed(2.2)}).is_ok());
  auto failure = testing::failed_with(Verdict::kIncorrectNumerical, "numerics", "max abs error 0.3 at [0,1,2,3]");
  failure.failure_input = "input 2 (seed 9)";
  failure.max_abs_error = 0.3;
  ASSERT_TRUE(store.record({testing::softmax_workload({{8, 64}}, "sm_80"), child, failure}).is_ok());
  WorkloadSpec matmul;
  matmul.op_type = "MatMul";
  matmul.dtypes = {"float16", "float16"};
  matmul.shape = {{64, 768}, {768, 3072}};
  matmul.arch = "cpu";
  ASSERT_TRUE(store.record({matmul, testing::kernel("gemm", "human"), testing::passed(1.05)}).is_ok());
  ASSERT_TRUE(store.add_note({ItemKind::kWorkload, ids.workload_id}, "rows fit one warp", "agent").is_ok());
  ASSERT_TRUE(store.add_note({ItemKind::kCandidate, ids.candidate_id}, "baseline template", "human").is_ok());
}

std::string export_text(Store& store) {
  std::ostringstream out;
  Status status = store.export_jsonl(out);
  EXPECT_TRUE(status.is_ok()) << status.message();
  return out.str();
}

// The export without its header line (which carries the export time).
std::string body(const std::string& text) { return text.substr(text.find('\n') + 1); }

TEST(Jsonl, ExportHasAVersionedHeaderAndFlashInferFields) {
  TempDir dir;
  auto store = Store::open(dir / "memory.db").value();
  fill(*store);
  std::istringstream lines(export_text(*store));
  std::string line;
  std::map<std::string, int> kinds;
  nlohmann::json first_trace;
  bool first = true;
  while (std::getline(lines, line)) {
    auto record = nlohmann::json::parse(line);
    if (first) {
      EXPECT_EQ(record["kind"], "header");
      EXPECT_EQ(record["format"], "autokernel-memory");
      EXPECT_EQ(record["version"], kExportFormatVersion);
      EXPECT_EQ(record["schema_version"], kSchemaVersion);
      first = false;
    }
    ++kinds[record["kind"].get<std::string>()];
    if (record["kind"] == "trace" && first_trace.is_null()) first_trace = record;
  }
  EXPECT_EQ(kinds["definition"], 2);  // Softmax{axis:-1}[float16] and MatMul{}[float16,float16]
  EXPECT_EQ(kinds["workload"], 3);
  EXPECT_EQ(kinds["solution"], 3);
  EXPECT_EQ(kinds["trace"], 4);
  EXPECT_EQ(kinds["note"], 2);
  // FlashInfer Trace fields.
  for (const char* key : {"definition", "solution", "workload", "evaluation"}) EXPECT_TRUE(first_trace.contains(key));
  const auto& evaluation = first_trace["evaluation"];
  EXPECT_EQ(evaluation["status"], "PASSED");
  EXPECT_DOUBLE_EQ(evaluation["performance"]["latency_ms"].get<double>(), 0.001);
  EXPECT_DOUBLE_EQ(evaluation["performance"]["speedup_factor"].get<double>(), 1.2);
  EXPECT_DOUBLE_EQ(evaluation["correctness"]["max_absolute_error"].get<double>(), 1e-3);
  EXPECT_EQ(evaluation["environment"]["device"], "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(evaluation["environment"]["libs"]["cuda"], "13.0");
  EXPECT_EQ(first_trace["ak"]["latency_ns"], 1000);
}

TEST(Jsonl, RoundTripsIntoAnEmptyStoreAndIsIdempotent) {
  TempDir dir;
  auto source = Store::open(dir / "a.db").value();
  fill(*source);
  const std::string exported = export_text(*source);

  auto target = Store::open(dir / "b.db").value();
  std::istringstream in(exported);
  auto report = target->import_jsonl(in, "a.jsonl");
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->workloads_added, 3);
  EXPECT_EQ(report->candidates_added, 3);
  EXPECT_EQ(report->evaluations_added, 4);
  EXPECT_EQ(report->notes_added, 2);
  EXPECT_EQ(body(export_text(*target)), body(exported));

  // A second import adds nothing: same uuids, same hashes, same workload keys.
  std::istringstream again(exported);
  report = target->import_jsonl(again, "a.jsonl");
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->evaluations_added, 0);
  EXPECT_EQ(report->evaluations_present, 4);
  EXPECT_EQ(report->workloads_added, 0);
  EXPECT_EQ(report->notes_added, 0);
  EXPECT_EQ(target->stats()->evaluations, 4);

  // Retrieval on the imported copy gives the same answer.
  Query query;
  query.op_type = "Softmax";
  query.dtype = "float16";
  query.shape = {{32, 12, 128, 128}};
  query.arch = "sm_90";
  auto a = source->search(query).value();
  auto b = target->search(query).value();
  ASSERT_EQ(b.exact.size(), 1u);
  ASSERT_EQ(b.exact[0].best.size(), a.exact[0].best.size());
  EXPECT_EQ(b.exact[0].best[0].candidate.hash, a.exact[0].best[0].candidate.hash);
  EXPECT_EQ(b.exact[0].best[0].evaluation.uuid, a.exact[0].best[0].evaluation.uuid);
}

// Replaces line `number` (1-based) of `text` with `replacement`.
std::string with_line(const std::string& text, int number, const std::string& replacement) {
  std::istringstream in(text);
  std::string line, out;
  for (int i = 1; std::getline(in, line); ++i) out += (i == number ? replacement : line) + "\n";
  return out;
}

std::string line_of(const std::string& text, int number) {
  std::istringstream in(text);
  std::string line;
  for (int i = 1; std::getline(in, line); ++i)
    if (i == number) return line;
  return {};
}

int first_line_of_kind(const std::string& text, const std::string& kind) {
  std::istringstream in(text);
  std::string line;
  for (int i = 1; std::getline(in, line); ++i)
    if (nlohmann::json::parse(line)["kind"] == kind) return i;
  return -1;
}

void expect_import_fails(const std::string& text, int line, const std::string& needle) {
  TempDir dir;
  auto target = Store::open(dir / "b.db").value();
  std::istringstream in(text);
  auto report = target->import_jsonl(in, "bad.jsonl");
  ASSERT_FALSE(report.is_ok()) << "expected a failure at line " << line;
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidInput) << report.status().message();
  EXPECT_NE(report.status().message().find("bad.jsonl:" + std::to_string(line) + ":"), std::string::npos)
      << report.status().message();
  EXPECT_NE(report.status().message().find(needle), std::string::npos) << report.status().message();
  auto stats = target->stats().value();
  EXPECT_EQ(stats.workloads + stats.candidates + stats.evaluations + stats.notes, 0) << "a partial import was kept";
}

TEST(Jsonl, MalformedLinesAreReportedByNumberAndNothingIsKept) {
  TempDir dir;
  auto source = Store::open(dir / "a.db").value();
  fill(*source);
  const std::string good = export_text(*source);
  const int last = first_line_of_kind(good, "note");  // late: earlier lines were already imported
  const int trace = first_line_of_kind(good, "trace");
  const int solution = first_line_of_kind(good, "solution");
  const int workload = first_line_of_kind(good, "workload");

  expect_import_fails(with_line(good, last, "{\"kind\": \"note\", "), last, "not valid JSON");
  expect_import_fails(with_line(good, last, "[1, 2]"), last, "must be a JSON object");
  expect_import_fails(with_line(good, last, R"({"kind": "sonnet"})"), last, "unknown kind");

  auto bad_status = nlohmann::json::parse(line_of(good, trace));
  bad_status["evaluation"]["status"] = "INCORRECT";
  expect_import_fails(with_line(good, trace, bad_status.dump()), trace, "unknown evaluation status");

  auto bad_latency = nlohmann::json::parse(line_of(good, trace));
  bad_latency["ak"]["latency_ns"] = "fast";
  expect_import_fails(with_line(good, trace, bad_latency.dump()), trace, "latency_ns");

  auto tampered = nlohmann::json::parse(line_of(good, solution));
  tampered["sources"][0]["content"] = "int evil();";
  expect_import_fails(with_line(good, solution, tampered.dump()), solution, "not the hash of its source");

  auto bad_shape = nlohmann::json::parse(line_of(good, workload));
  bad_shape["ak"]["shape"] = "32xabc";
  expect_import_fails(with_line(good, workload, bad_shape.dump()), workload, "bad shape");

  expect_import_fails(with_line(good, 1, R"({"kind": "definition"})"), 1, "header");
}

TEST(Jsonl, NewerFormatVersionIsRefused) {
  TempDir dir;
  auto target = Store::open(dir / "b.db").value();
  std::istringstream in(R"({"kind":"header","format":"autokernel-memory","version":7})" "\n");
  auto report = target->import_jsonl(in, "new.jsonl");
  ASSERT_FALSE(report.is_ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(report.status().message().find("new.jsonl:1: export format version 7"), std::string::npos)
      << report.status().message();
}

TEST(Jsonl, EmptyInputIsAnError) {
  TempDir dir;
  auto target = Store::open(dir / "b.db").value();
  std::istringstream in("");
  auto report = target->import_jsonl(in, "empty.jsonl");
  ASSERT_FALSE(report.is_ok());
  EXPECT_NE(report.status().message().find("empty file"), std::string::npos);
}

}  // namespace
}  // namespace ak::memory
