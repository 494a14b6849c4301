// `autokernel memory search|show|stats|export|import|gc|note` at the command line, against
// a real SQLite file that the test fills through `memory import` of a JSONL file written
// here by the documented export format (docs/memory.md), not through memory/'s C++ API.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file.h"
#include "base/sha256.h"
#include "tests/cli/run_cli.h"
#include "tests/models/model_builder.h"

namespace ak {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using models::testing::TempDir;
using testing::expect_bad_input;
using Output = testing::CliOutput;

const std::string kSignature = R"(Softmax{"axis":-1}[float16])";
const std::string kDefinition = "Softmax_" + sha256_hex(kSignature).substr(0, 12);
const std::string kSourceA = "// kernel A: one warp per row\n";
const std::string kSourceB = "// kernel B: two passes\n";
const std::string kSourceUnused = "// kernel C: never evaluated\n";

/// The workload key of docs/memory.md: SHA-256 of "signature\nshape\narch" as a UUID.
std::string workload_key(const std::string& shape, const std::string& arch) {
  const std::string h = sha256_hex(kSignature + "\n" + shape + "\n" + arch);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

json workload(const std::string& shape) {
  return {{"kind", "workload"}, {"definition", kDefinition}, {"uuid", workload_key(shape, "sm_90")}, {"axes", json::object()},
          {"inputs", json::object()},
          {"ak", {{"shape", shape}, {"arch", "sm_90"}, {"sources", {{{"model", "gpt2.onnx"}, {"node", "softmax_3"}}}},
                  {"created_ns", 1000}}}};
}

json solution(const std::string& source, const std::string& generator) {
  return {{"kind", "solution"}, {"name", sha256_hex(source)}, {"definition", kDefinition}, {"author", generator},
          {"description", ""},
          {"spec", {{"language", "cuda"}, {"target_hardware", json::array()}, {"entry_point", "kernel.cu::autokernel_kernel"}}},
          {"sources", {{{"path", "kernel.cu"}, {"content", source}}}},
          {"ak", {{"hash", sha256_hex(source)}, {"parent", nullptr}, {"parameters", json::object()}, {"created_ns", 2000}}}};
}

json trace(const std::string& uuid, const std::string& shape, const std::string& source, const std::string& status,
           double speedup, const std::string& gate = "", const std::string& summary = "") {
  json evaluation = {{"status", status}, {"log_file", ""}, {"log", summary},
                     {"environment", {{"device", "NVIDIA H200"}, {"hardware", "sm_90"}, {"libs", {{"driver", "580"}, {"cuda", "13.0"}, {"compiler", "nvcc 13"}}}}},
                     {"timestamp", "2026-11-21T00:00:00Z"}};
  json ak = {{"uuid", uuid}, {"created_ns", 3000}};
  if (status == "PASSED") {
    evaluation["performance"] = {{"speedup_factor", speedup}};
    ak["latency_ns"] = 2'000'000;
    ak["baseline_latency_ns"] = static_cast<int64_t>(2'000'000 * speedup);
  } else {
    ak["failure"] = {{"gate", gate}, {"input", "x"}, {"summary", summary}};
  }
  return {{"kind", "trace"}, {"definition", kDefinition}, {"solution", sha256_hex(source)},
          {"workload", {{"uuid", workload_key(shape, "sm_90")}, {"axes", json::object()}, {"inputs", json::object()}}},
          {"evaluation", evaluation}, {"ak", ak}};
}

/// Two Softmax workloads (W1 exact, W2 one octave smaller in two dims), an unreferenced
/// third (W3) and candidate (C3) for gc; C1 PASSED 1.5x on W1; C2 failed numerically on W1
/// and passed 1.2x on W2; a note on W1.
std::string import_text() {
  std::vector<json> lines = {
      {{"kind", "header"}, {"format", "autokernel-memory"}, {"version", 1}, {"schema_version", 2}, {"exported_at", "2026-11-21T00:00:00Z"}},
      {{"kind", "definition"}, {"name", kDefinition}, {"op_type", "Softmax"}, {"axes", json::object()},
       {"inputs", {{"input0", {{"dtype", "float16"}}}}}, {"outputs", json::object()}, {"tags", json::array()},
       {"description", kSignature},
       {"ak", {{"signature", kSignature}, {"attributes", {{"axis", -1}}}, {"dtypes", {"float16"}}, {"layout", ""}}}},
      workload("32x12x128x128"),
      workload("32x12x64x64"),
      workload("8x8"),
      solution(kSourceA, "template"),
      solution(kSourceB, "llm"),
      solution(kSourceUnused, "llm"),
      trace("0190a000-0000-7000-8000-000000000001", "32x12x128x128", kSourceA, "PASSED", 1.5),
      trace("0190a000-0000-7000-8000-000000000002", "32x12x128x128", kSourceB, "INCORRECT_NUMERICAL", 0, "adversarial",
            "max abs error 0.5 on large inputs"),
      trace("0190a000-0000-7000-8000-000000000003", "32x12x64x64", kSourceB, "PASSED", 1.2),
      {{"kind", "note"}, {"uuid", "0190a000-0000-7000-8000-0000000000aa"}, {"target", {{"workload", workload_key("32x12x128x128", "sm_90")}}},
       {"author", "lead"}, {"text", "rows longer than 4096 need two passes"}, {"created_ns", 4000}},
  };
  std::string text;
  for (const auto& line : lines) text += line.dump() + "\n";
  return text;
}

struct MemoryCli : ::testing::Test {
  TempDir tmp;
  fs::path db = tmp.path / "memory.db";
  fs::path jsonl = tmp.path / "in.jsonl";
  void SetUp() override {
    std::ofstream(jsonl) << import_text();
    Output o = memory("import " + jsonl.string());
    ASSERT_EQ(o.exit_code, 0) << o.err;
  }
  Output memory(const std::string& args, const fs::path& file = {}) {
    return testing::run_cli("memory " + args + " --memory " + (file.empty() ? db : file).string());
  }
};

TEST_F(MemoryCli, ImportCountsAndIsIdempotent) {
  Output again = memory("import " + jsonl.string());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "imported 12 lines into " + db.string() +
                           ": 0 new workloads, 0 new candidates, 0 new evaluations (3 already present), 0 new notes\n");
  Output fresh = memory("import " + jsonl.string(), tmp.path / "other.db");
  EXPECT_EQ(fresh.out, "imported 12 lines into " + (tmp.path / "other.db").string() +
                           ": 3 new workloads, 3 new candidates, 3 new evaluations (0 already present), 1 new notes\n");
  Output stats = memory("stats --json");
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  auto s = json::parse(stats.out);
  EXPECT_EQ(s["workloads"], 3);
  EXPECT_EQ(s["candidates"], 3);
  EXPECT_EQ(s["evaluations"], 3);
  EXPECT_EQ(s["notes"], 1);
}

TEST_F(MemoryCli, ImportRejectsBadLinesAndKeepsNothing) {
  std::string text = import_text();
  // Line 6 (C1's solution) with a name that is not the hash of its source.
  std::istringstream lines(text);
  std::string line, bad;
  for (int n = 1; std::getline(lines, line); ++n) {
    if (n == 6) {
      auto j = json::parse(line);
      j["name"] = sha256_hex("something else");
      line = j.dump();
    }
    bad += line + "\n";
  }
  std::ofstream(tmp.path / "bad.jsonl") << bad;
  const fs::path other = tmp.path / "other.db";
  Output o = memory("import " + (tmp.path / "bad.jsonl").string(), other);
  expect_bad_input(o, (tmp.path / "bad.jsonl").string() + ":6: solution " + sha256_hex("something else") +
                          ": the name is not the hash of its source and parameters");
  EXPECT_NE(o.err.find("nothing was imported"), std::string::npos) << o.err;
  EXPECT_EQ(json::parse(memory("stats --json", other).out)["workloads"], 0);  // all or nothing
  std::ofstream(tmp.path / "junk.jsonl") << "{\"kind\":\"header\",\"format\":\"autokernel-memory\",\"version\":1}\nnot json\n";
  expect_bad_input(memory("import " + (tmp.path / "junk.jsonl").string()), "junk.jsonl:2:");
  expect_bad_input(memory("import " + (tmp.path / "missing.jsonl").string()), "cannot read");
}

TEST_F(MemoryCli, SearchFindsExactNearestAndFailures) {
  Output o = memory("search --op Softmax --shape 32x12x128x128 --dtype float16");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const std::string c1 = "C1 " + sha256_hex(kSourceA).substr(0, 12);
  EXPECT_NE(o.out.find("exact matches: 1\n  W1  " + kSignature + "  32x12x128x128  sm_90  (2 evaluations, 1 passed)\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("    " + c1 + "  1.50x  2.00 ms  template  verified for W1 (E1, NVIDIA H200)\n"), std::string::npos) << o.out;
  // C2 failed numerically on W1: it is not among W1's candidates, only W2's, marked as such.
  EXPECT_NE(o.out.find("W2  " + kSignature + "  32x12x64x64  sm_90  distance 1.41  (1 evaluations, 1 passed)"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("llm  verified for W2 only (re-verify on this shape)"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("  1x INCORRECT_NUMERICAL (adversarial)  e.g. E2: max abs error 0.5 on large inputs\n"), std::string::npos) << o.out;

  auto j = json::parse(memory("search --op Softmax --shape 32x12x128x128 --dtype float16 --json").out);
  ASSERT_EQ(j["exact"].size(), 1u);
  EXPECT_EQ(j["exact"][0]["best"].size(), 1u);
  ASSERT_EQ(j["nearest"].size(), 2u);  // W2, then the far 8x8 workload
  EXPECT_NEAR(j["nearest"][0]["distance"].get<double>(), std::sqrt(2.0), 1e-9);

  Output none = memory("search --op Gemm --shape 4x4 --dtype float32");
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("exact matches: none"), std::string::npos) << none.out;

  expect_bad_input(memory("search --op Softmax --dtype float16"), "memory search needs --op, --shape and --dtype");
  expect_bad_input(memory("search --op Softmax --shape 32xx12 --dtype float16"), "bad shape '32xx12'");
  expect_bad_input(memory("search --op Softmax --shape 4 --dtype float16 --k 5000"), "--k");
  // A read command never creates a memory: a mistyped path is an error.
  expect_bad_input(memory("search --op Softmax --shape 4 --dtype float16", tmp.path / "typo.db"), "typo.db");
  EXPECT_FALSE(fs::exists(tmp.path / "typo.db"));
}

TEST_F(MemoryCli, ShowWorkloadCandidateEvaluationAndHashPrefix) {
  Output w = memory("show W1");
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(w.out.find("W1  " + kSignature + "  32x12x128x128  sm_90\n"), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("from gpt2.onnx softmax_3\n"), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("evaluations (2, newest first):"), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("INCORRECT_NUMERICAL  adversarial: max abs error 0.5"), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("notes:\n  [lead] rows longer than 4096 need two passes\n"), std::string::npos) << w.out;

  Output c = memory("show " + sha256_hex(kSourceB).substr(0, 8));  // a hash prefix
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out.rfind("C2  " + sha256_hex(kSourceB) + "\n", 0), 0u) << c.out;
  EXPECT_NE(c.out.find("language cuda, generator llm"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("--- source ---\n" + kSourceB), std::string::npos) << c.out;

  Output e = memory("show E2");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("E2  INCORRECT_NUMERICAL  (uuid 0190a000-0000-7000-8000-000000000002)"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("failure:   gate 'adversarial', input 'x'\nmax abs error 0.5 on large inputs"), std::string::npos) << e.out;
  EXPECT_EQ(json::parse(memory("show E1 --json").out)["status"], "PASSED");

  expect_bad_input(memory("show Q7"), "Q7");
  Output missing = memory("show W99");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("W99"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

TEST_F(MemoryCli, ExportRoundTripsThroughImport) {
  const fs::path out = tmp.path / "out.jsonl";
  Output o = memory("export " + out.string());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.err, "exported 3 workloads, 3 candidates, 3 evaluations, 1 notes to " + out.string() + "\n");
  auto first = read_file(out);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(std::count(first->begin(), first->end(), '\n'), 12);
  // Imported into a fresh file and exported again: the same records (the header's time aside).
  const fs::path copy = tmp.path / "copy.db";
  ASSERT_EQ(memory("import " + out.string(), copy).exit_code, 0);
  Output again = memory("export -", copy);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto body = [](const std::string& text) { return text.substr(text.find('\n') + 1); };
  EXPECT_EQ(body(again.out), body(*first));
  expect_bad_input(memory("export " + (tmp.path / "no/such/dir/x.jsonl").string()), "cannot write");
  EXPECT_FALSE(fs::exists(tmp.path / "no"));
}

TEST_F(MemoryCli, GcRemovesOnlyUnreferencedRows) {
  Output dry = memory("gc --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out.rfind("would remove 1 workloads and 1 candidates; ", 0), 0u) << dry.out;
  EXPECT_EQ(memory("show W3").exit_code, 0);  // a dry run changes nothing
  Output gc = memory("gc");
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(gc.out.rfind("removed 1 workloads and 1 candidates; ", 0), 0u) << gc.out;
  EXPECT_NE(memory("show W3").exit_code, 0);
  EXPECT_NE(memory("show " + sha256_hex(kSourceUnused).substr(0, 8)).exit_code, 0);
  EXPECT_EQ(memory("show W1").exit_code, 0);
  EXPECT_EQ(memory("show C2").exit_code, 0);
  EXPECT_EQ(memory("gc --no-vacuum").out.rfind("removed 0 workloads and 0 candidates; ", 0), 0u);
  auto s = json::parse(memory("stats --json").out);
  EXPECT_EQ(s["workloads"], 2);
  EXPECT_EQ(s["candidates"], 2);
  EXPECT_EQ(s["evaluations"], 3);
}

TEST_F(MemoryCli, NoteAttachesToWorkloadsAndCandidates) {
  Output o = memory("note C1 \"fast on H200, untested on A100\" --author tester");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "note 2 added to C1\n");
  EXPECT_NE(memory("show C1").out.find("notes:\n  [tester] fast on H200, untested on A100\n"), std::string::npos);
  Output by_env = testing::run_cli("memory note W2 again --memory " + db.string(), "USER=someone");
  ASSERT_EQ(by_env.exit_code, 0) << by_env.err;
  EXPECT_NE(memory("show W2").out.find("[someone] again"), std::string::npos);
  expect_bad_input(memory("note W1"), "TEXT");
  expect_bad_input(memory("note nonsense text"), "nonsense");
  Output missing = memory("note W99 text");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("W99"), std::string::npos) << missing.err;
  EXPECT_EQ(json::parse(memory("stats --json").out)["notes"], 3);  // the failed ones added nothing
}

TEST_F(MemoryCli, RefusesAFileThatIsNotAMemory) {
  const fs::path text = tmp.path / "notes.txt";
  std::ofstream(text) << "my notes, not a database\n";
  expect_bad_input(memory("stats", text), "notes.txt");
  expect_bad_input(memory("import " + jsonl.string(), text), "notes.txt");
  EXPECT_EQ(*read_file(text), "my notes, not a database\n");  // left as it was
}

}  // namespace
}  // namespace ak
