// Recording, reopening, notes, stats, gc, concurrent writers, schema migration.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memory/internal/schema.h"
#include "memory/memory.h"
#include "tests/memory/test_records.h"

namespace ak::memory {
namespace {

using testing::TempDir;

std::unique_ptr<Store> open_or_die(const std::filesystem::path& path) {
  auto store = Store::open(path);
  EXPECT_TRUE(store.is_ok()) << store.status().message();
  return store.is_ok() ? std::move(store).value() : nullptr;
}

int64_t sql_int(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

TEST(Store, CreatesFolderAndFileWithIdentityAndWal) {
  TempDir dir;
  auto path = dir / "nested/cache/memory.db";
  auto store = open_or_die(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(sql_int(path, "PRAGMA application_id"), internal::kApplicationId);
  EXPECT_EQ(sql_int(path, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'evaluations'"), 1);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(Store, MissingFileIsAnErrorWhenCreationIsNotAllowed) {
  TempDir dir;
  OpenOptions options;
  options.create_if_missing = false;
  auto store = Store::open(dir / "absent.db", options);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(store.status().message().find("no memory at"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "absent.db"));
}

TEST(Store, RecordsSharesWorkloadsAndCandidatesAndSurvivesReopen) {
  TempDir dir;
  auto path = dir / "memory.db";
  RecordIds first, second, third;
  {
    auto store = open_or_die(path);
    ASSERT_TRUE(store);
    Record record{testing::softmax_workload({{32, 12, 128, 128}}), testing::kernel("return 0;"), testing::passed(1.8)};
    record.workload.source_model = "bert.onnx";
    record.workload.source_nodes = {"/encoder/layer.0/Softmax"};
    auto ids = store->record(record);
    ASSERT_TRUE(ids.is_ok()) << ids.status().message();
    first = ids.value();
    // Same workload (attributes in another order) and same candidate: both shared.
    record.workload.attributes_json = R"({ "axis" : -1 })";
    record.workload.source_nodes = {"/encoder/layer.1/Softmax"};
    record.evaluation = testing::passed(1.7);
    second = store->record(record).value();
    // Another shape: a new workload, same candidate.
    record.workload.shape = {{32, 12, 64, 64}};
    third = store->record(record).value();
  }
  EXPECT_EQ(first.workload_id, second.workload_id);
  EXPECT_EQ(first.candidate_id, second.candidate_id);
  EXPECT_NE(first.evaluation_id, second.evaluation_id);
  EXPECT_NE(third.workload_id, first.workload_id);
  EXPECT_EQ(third.candidate_id, first.candidate_id);

  auto store = open_or_die(path);
  ASSERT_TRUE(store);
  auto stats = store->stats();
  ASSERT_TRUE(stats.is_ok()) << stats.status().message();
  EXPECT_EQ(stats->workloads, 2);
  EXPECT_EQ(stats->candidates, 1);
  EXPECT_EQ(stats->evaluations, 3);
  EXPECT_EQ(stats->schema_version, kSchemaVersion);
  ASSERT_EQ(stats->workloads_by_op.size(), 1u);
  EXPECT_EQ(stats->workloads_by_op[0], (std::pair<std::string, int64_t>{"Softmax/float16", 2}));

  auto detail = store->workload_detail(first.workload_id);
  ASSERT_TRUE(detail.is_ok()) << detail.status().message();
  EXPECT_EQ(detail->workload.signature, R"(Softmax{"axis":-1}[float16])");
  EXPECT_EQ(format_shape(detail->workload.shape), "32x12x128x128");
  ASSERT_EQ(detail->workload.sources.size(), 2u);
  EXPECT_EQ(detail->workload.sources[1].second, "/encoder/layer.1/Softmax");
  EXPECT_EQ(detail->evaluation_count, 2);
  ASSERT_EQ(detail->best.size(), 1u);  // one candidate, its best evaluation
  EXPECT_DOUBLE_EQ(*detail->best[0].evaluation.result.speedup, 1.8);

  auto evaluation = store->evaluation(first.evaluation_id);
  ASSERT_TRUE(evaluation.is_ok());
  EXPECT_EQ(evaluation->result.device, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(evaluation->result.latency_ns, 1000);
  EXPECT_EQ(evaluation->result.baseline_latency_ns, 1800);
  EXPECT_GT(evaluation->result.timestamp_ns, 1700000000000000000);  // "now" was filled in
  EXPECT_EQ(evaluation->uuid.size(), 36u);
}

TEST(Store, BatchIsAllOrNothing) {
  TempDir dir;
  auto store = open_or_die(dir / "memory.db");
  ASSERT_TRUE(store);
  std::vector<Record> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back({testing::softmax_workload({{8, 64 << i}}), testing::kernel("return " + std::to_string(i) + ";"),
                     testing::passed(1.0 + i)});
  batch[3].workload.attributes_json = "{broken";
  auto ids = store->record_batch(batch);
  ASSERT_FALSE(ids.is_ok());
  EXPECT_EQ(ids.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(ids.status().message().find("record 3"), std::string::npos) << ids.status().message();
  EXPECT_EQ(store->stats()->evaluations, 0);

  batch[3].workload.attributes_json = "{}";
  ids = store->record_batch(batch);
  ASSERT_TRUE(ids.is_ok()) << ids.status().message();
  EXPECT_EQ(ids->size(), 5u);
  EXPECT_EQ(store->stats()->evaluations, 5);
  EXPECT_EQ(store->stats()->workloads, 5);
}

TEST(Store, RejectsInvalidRecords) {
  TempDir dir;
  auto store = open_or_die(dir / "memory.db");
  ASSERT_TRUE(store);
  Record good{testing::softmax_workload({{8, 8}}), testing::kernel("x"), testing::passed(1.0)};
  auto expect_invalid = [&](Record record, const char* what) {
    auto ids = store->record(record);
    EXPECT_FALSE(ids.is_ok()) << what;
    EXPECT_EQ(ids.status().code(), StatusCode::kInvalidInput) << what;
  };
  Record r = good;
  r.workload.arch = "";
  expect_invalid(r, "no arch");
  r = good;
  r.workload.dtypes = {"float16", "float16"};
  expect_invalid(r, "dtypes and shapes differ in count");
  r = good;
  r.evaluation.device = "";
  expect_invalid(r, "no device");
  r = good;
  r.evaluation.status = static_cast<Verdict>(42);
  expect_invalid(r, "status out of range");
  r = good;
  r.candidate.parameters_json = "[]";
  expect_invalid(r, "parameters not an object");
  EXPECT_EQ(store->stats()->evaluations, 0);
}

TEST(Store, CutsLongFailureSummaries) {
  TempDir dir;
  auto store = open_or_die(dir / "memory.db");
  ASSERT_TRUE(store);
  // 2,000 two-byte characters: the cut must not split one.
  std::string long_text;
  for (int i = 0; i < 2000; ++i) long_text += "\xc3\xa9";
  Record r{testing::softmax_workload({{8, 8}}), testing::kernel("x"),
           testing::failed_with(Verdict::kCompileError, "compile", long_text)};
  auto ids = store->record(r);
  ASSERT_TRUE(ids.is_ok()) << ids.status().message();
  auto stored = store->evaluation(ids->evaluation_id).value().result.failure_summary;
  EXPECT_LE(stored.size(), 1024u);
  EXPECT_GE(stored.size(), 1022u);
  EXPECT_EQ(stored.size() % 2, 0u);
}

TEST(Store, NotesAttachToWorkloadsAndCandidates) {
  TempDir dir;
  auto store = open_or_die(dir / "memory.db");
  ASSERT_TRUE(store);
  auto ids = store->record({testing::softmax_workload({{8, 8}}), testing::kernel("x"), testing::passed(1.2)}).value();
  ASSERT_TRUE(store->add_note({ItemKind::kWorkload, ids.workload_id}, "rows too short for a warp per row", "agent").is_ok());
  ASSERT_TRUE(store->add_note({ItemKind::kCandidate, ids.candidate_id}, "vectorized loads", "human").is_ok());
  EXPECT_FALSE(store->add_note({ItemKind::kEvaluation, ids.evaluation_id}, "x", "y").is_ok());
  auto missing = store->add_note({ItemKind::kWorkload, 999}, "x", "y");
  EXPECT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("W999"), std::string::npos);
  EXPECT_EQ(store->workload_detail(ids.workload_id)->notes.at(0).text, "rows too short for a warp per row");
  EXPECT_EQ(store->candidate_detail(ids.candidate_id)->notes.at(0).author, "human");
  EXPECT_EQ(store->stats()->notes, 2);
}

TEST(Store, ResolvesReferencesAndHashPrefixes) {
  TempDir dir;
  auto store = open_or_die(dir / "memory.db");
  ASSERT_TRUE(store);
  auto candidate = testing::kernel("return 7;");
  auto ids = store->record({testing::softmax_workload({{8, 8}}), candidate, testing::passed(1.2)}).value();
  std::string hash = candidate_hash(candidate).value();
  auto by_prefix = store->resolve(hash.substr(0, 8));
  ASSERT_TRUE(by_prefix.is_ok()) << by_prefix.status().message();
  EXPECT_EQ(by_prefix->kind, ItemKind::kCandidate);
  EXPECT_EQ(by_prefix->id, ids.candidate_id);
  EXPECT_EQ(store->resolve("W" + std::to_string(ids.workload_id))->id, ids.workload_id);
  EXPECT_FALSE(store->resolve("W999").is_ok());
  EXPECT_FALSE(store->resolve("abc").is_ok());          // too short
  EXPECT_FALSE(store->resolve("zzzzzzzz").is_ok());     // not hex
  std::string other = hash[0] == '0' ? "1111111" : "0000000";
  EXPECT_FALSE(store->resolve(other).is_ok());          // no such hash
  auto detail = store->candidate_detail(ids.candidate_id);
  ASSERT_TRUE(detail.is_ok());
  EXPECT_EQ(detail->candidate.source, candidate.source);
  EXPECT_EQ(detail->candidate.hash, hash);
}

TEST(Store, LineageRecordsParentsAndChildren) {
  TempDir dir;
  auto store = open_or_die(dir / "memory.db");
  ASSERT_TRUE(store);
  auto parent = testing::kernel("return 1;");
  auto child = testing::kernel("return 2;", "llm:refine");
  child.parent_hash = candidate_hash(parent).value();
  child.parameters_json = R"({"block": 256})";
  auto p = store->record({testing::softmax_workload({{8, 8}}), parent, testing::passed(1.1)}).value();
  auto c = store->record({testing::softmax_workload({{8, 8}}), child, testing::passed(1.3)}).value();
  auto detail = store->candidate_detail(p.candidate_id).value();
  ASSERT_EQ(detail.children.size(), 1u);
  EXPECT_EQ(detail.children[0], candidate_hash(child).value());
  auto child_detail = store->candidate_detail(c.candidate_id).value();
  EXPECT_EQ(child_detail.candidate.parent_hash, candidate_hash(parent).value());
  EXPECT_EQ(child_detail.candidate.parameters_json, R"({"block":256})");
}

TEST(Store, GcRemovesOnlyUnreferencedRows) {
  TempDir dir;
  auto path = dir / "memory.db";
  // Orphans can only come from outside the API (a crashed tool, a manual edit): make them.
  {
    auto s = open_or_die(path);
    auto kept = testing::kernel("kept");
    ASSERT_TRUE(s->record({testing::softmax_workload({{8, 8}}), kept, testing::passed(1.1)}).is_ok());
    ASSERT_TRUE(s->record({testing::softmax_workload({{8, 16}}), testing::kernel("noted"), testing::passed(1.1)}).is_ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* sql =
      "INSERT INTO workloads (signature, op_type, dtype, dtypes, attributes, layout, shape, arch, created_ns)"
      " VALUES ('Softmax{}[float16]', 'Softmax', 'float16', 'float16', '{}', '', '4x4', 'sm_90', 1);"
      "INSERT INTO candidates (hash, source, language, generator, parent_hash, parameters, created_ns)"
      " VALUES ('aaaa', 'orphan', 'cuda', 'x', NULL, '{}', 1), ('bbbb', 'parent', 'cuda', 'x', NULL, '{}', 1),"
      " ('cccc', 'child', 'cuda', 'x', 'bbbb', '{}', 1);"
      "DELETE FROM evaluations WHERE candidate_id = (SELECT id FROM candidates WHERE source LIKE '%noted%');"
      "INSERT INTO notes (uuid, candidate_id, author, text, created_ns)"
      " SELECT 'n1', id, 'me', 'keep me', 1 FROM candidates WHERE source LIKE '%noted%';";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);

  auto store = open_or_die(path);
  ASSERT_TRUE(store);
  GcOptions dry;
  dry.dry_run = true;
  auto report = store->gc(dry);
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  // Candidates: 'aaaa' (orphan) and 'cccc' (orphan child) go; 'bbbb' is a parent; the noted one
  // has a note. Workloads: '4x4' and the 8x16 one (its evaluation was deleted) go.
  EXPECT_EQ(report->candidates_removed, 2);
  EXPECT_EQ(report->workloads_removed, 2);
  EXPECT_EQ(store->stats()->candidates, 5);  // dry run changed nothing

  report = store->gc({});
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->candidates_removed, 2);
  EXPECT_EQ(report->workloads_removed, 2);
  auto stats = store->stats().value();
  EXPECT_EQ(stats.candidates, 3);
  EXPECT_EQ(stats.workloads, 1);
  EXPECT_EQ(stats.evaluations, 1);
  EXPECT_TRUE(store->check_integrity().is_ok());
}

// Run after other tests have recorded in this process: the forked writers must not
// inherit state that makes their evaluation uuids collide.
TEST(Store, ConcurrentWriterProcessesLoseNothing) {
  TempDir dir;
  auto path = dir / "memory.db";
  { ASSERT_TRUE(open_or_die(path)); }
  constexpr int kWriters = 4;
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 10;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = Store::open(path);
      if (!store.is_ok()) _exit(3);
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Record> batch;
        for (int i = 0; i < kPerBatch; ++i)
          batch.push_back({testing::softmax_workload({{w + 1, 64 * (b + 1)}}),
                           testing::kernel(std::to_string(w) + "/" + std::to_string(b) + "/" + std::to_string(i)),
                           testing::passed(1.0 + i * 0.1)});
        auto recorded = store.value()->record_batch(batch);
        if (!recorded.is_ok()) {
          std::fprintf(stderr, "writer %d: %s\n", w, recorded.status().message().c_str());
          _exit(4);
        }
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto store = open_or_die(path);
  EXPECT_EQ(store->stats()->evaluations, kWriters * kBatches * kPerBatch);
  EXPECT_EQ(store->stats()->workloads, kWriters * kBatches);
  EXPECT_TRUE(store->check_integrity().is_ok());
}

TEST(Store, MigratesAnOlderSchemaKeepingItsRows) {
  TempDir dir;
  auto path = dir / "memory.db";
  {
    auto v1 = internal::open_store_at_version(path, {}, 1);
    ASSERT_TRUE(v1.is_ok()) << v1.status().message();
  }
  EXPECT_EQ(sql_int(path, "PRAGMA user_version"), 1);
  EXPECT_EQ(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'notes'"), 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* sql =
      "INSERT INTO workloads VALUES (1, 'Softmax{}[float16]', 'Softmax', 'float16', 'float16', '{}', '', '8x8',"
      " 'sm_90', 1);"
      "INSERT INTO candidates VALUES (1, 'abcdef01', 'src', 'cuda', 'human', NULL, '{}', 1);"
      "INSERT INTO evaluations (uuid, workload_id, candidate_id, status, device, driver_version, cuda_version,"
      " compiler_version, speedup, failure_gate, failure_input, failure_summary, created_ns)"
      " VALUES ('u1', 1, 1, 'PASSED', 'H100', '', '', '', 2.5, '', '', '', 1);";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);

  auto store = open_or_die(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(sql_int(path, "PRAGMA user_version"), 2);
  EXPECT_EQ(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'notes'"), 1);
  Query query;
  query.op_type = "Softmax";
  query.dtype = "float16";
  query.shape = {{8, 8}};
  auto found = store->search(query);
  ASSERT_TRUE(found.is_ok()) << found.status().message();
  ASSERT_EQ(found->exact.size(), 1u);
  ASSERT_EQ(found->exact[0].best.size(), 1u);
  EXPECT_DOUBLE_EQ(*found->exact[0].best[0].evaluation.result.speedup, 2.5);
  EXPECT_TRUE(store->add_note({ItemKind::kWorkload, 1}, "migrated", "test").is_ok());
}

TEST(Store, DefaultPathPrefersFlagThenEnvironment) {
  EXPECT_EQ(default_memory_path("/x/m.db"), std::filesystem::path("/x/m.db"));
  ::setenv("AUTOKERNEL_MEMORY", "/env/m.db", 1);
  EXPECT_EQ(default_memory_path(""), std::filesystem::path("/env/m.db"));
  ::unsetenv("AUTOKERNEL_MEMORY");
  ::setenv("XDG_CACHE_HOME", "/cache", 1);
  EXPECT_EQ(default_memory_path(""), std::filesystem::path("/cache/autokernel/memory.db"));
  ::unsetenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string saved_home = home != nullptr ? home : "";
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_memory_path(""), std::filesystem::path("/home/u/.cache/autokernel/memory.db"));
  ::setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace ak::memory
