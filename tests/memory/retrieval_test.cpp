// Retrieval: exact matches, nearest workloads, failure reasons, distance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "memory/memory.h"
#include "tests/memory/test_records.h"

namespace ak::memory {
namespace {

using testing::TempDir;

Query softmax_query(Shape shape, std::string arch = "sm_90") {
  Query query;
  query.op_type = "Softmax";
  query.dtype = "float16";
  query.shape = std::move(shape);
  query.arch = std::move(arch);
  return query;
}

TEST(Distance, IsEuclideanOverLog2Dimensions) {
  // 128 -> 64 is one octave, 12 -> 48 two: sqrt(1 + 4).
  EXPECT_DOUBLE_EQ(workload_distance({{32, 12, 128, 128}}, "", "", {{32, 48, 64, 128}}, "", ""), std::sqrt(5.0));
  EXPECT_DOUBLE_EQ(workload_distance({{32, 12, 128, 128}}, "sm_90", "s", {{32, 12, 128, 128}}, "sm_90", "s"), 0.0);
}

TEST(Distance, AlignsFromTheLastDimensionAndPadsWithOnes) {
  // [12,128,128] vs [128,128]: the missing leading dim counts as 1 -> log2(12).
  EXPECT_DOUBLE_EQ(workload_distance({{12, 128, 128}}, "", "", {{128, 128}}, "", ""), std::log2(12.0));
  // A missing input counts as all ones.
  EXPECT_DOUBLE_EQ(workload_distance({{64, 768}, {768}}, "", "", {{64, 768}}, "", ""), std::log2(768.0));
  // Zero-size dims count like 1 (log2 of max(d, 1)).
  EXPECT_DOUBLE_EQ(workload_distance({{0, 8}}, "", "", {{1, 8}}, "", ""), 0.0);
}

TEST(Distance, AddsPenaltiesForOtherArchitectureAndSignature) {
  Shape s = {{32, 128}};
  EXPECT_DOUBLE_EQ(workload_distance(s, "sm_90", "", s, "sm_80", ""), kArchPenalty);
  EXPECT_DOUBLE_EQ(workload_distance(s, "", "", s, "sm_80", ""), 0.0);  // unknown arch: no term
  EXPECT_DOUBLE_EQ(workload_distance(s, "sm_90", "a", s, "sm_90", "b"), kSignaturePenalty);
  EXPECT_DOUBLE_EQ(workload_distance(s, "sm_90", "a", s, "sm_80", "b"), kArchPenalty + kSignaturePenalty);
}

TEST(Search, ExactMatchListsBestVerifiedCandidatesFirst) {
  TempDir dir;
  auto store = Store::open(dir / "memory.db").value();
  auto w = testing::softmax_workload({{32, 12, 128, 128}});
  ASSERT_TRUE(store->record({w, testing::kernel("slow"), testing::passed(1.1, 900)}).is_ok());
  ASSERT_TRUE(store->record({w, testing::kernel("fast"), testing::passed(2.4, 400)}).is_ok());
  ASSERT_TRUE(store->record({w, testing::kernel("fast"), testing::passed(2.0, 500)}).is_ok());  // a re-run
  ASSERT_TRUE(store->record({w, testing::kernel("mid"), testing::passed(1.6, 600)}).is_ok());
  ASSERT_TRUE(store->record({w, testing::kernel("broken"),
                             testing::failed_with(Verdict::kCompileError, "compile", "error: expected ';'")})
                  .is_ok());
  // Passed once, then caught cheating on the same workload: never "verified" again.
  ASSERT_TRUE(store->record({w, testing::kernel("cheat"), testing::passed(9.0, 100)}).is_ok());
  ASSERT_TRUE(store->record({w, testing::kernel("cheat"),
                             testing::failed_with(Verdict::kCheatSuspected, "anti-cheat", "output reused")})
                  .is_ok());

  auto query = softmax_query({{32, 12, 128, 128}});
  auto result = store->search(query);
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  ASSERT_EQ(result->exact.size(), 1u);
  const auto& exact = result->exact[0];
  EXPECT_EQ(exact.evaluations, 7);
  EXPECT_EQ(exact.passed, 5);
  ASSERT_EQ(exact.best.size(), 3u);  // per_workload = 3
  EXPECT_DOUBLE_EQ(*exact.best[0].evaluation.result.speedup, 2.4);
  EXPECT_EQ(*exact.best[0].evaluation.result.latency_ns, 400);
  EXPECT_DOUBLE_EQ(*exact.best[1].evaluation.result.speedup, 1.6);
  EXPECT_DOUBLE_EQ(*exact.best[2].evaluation.result.speedup, 1.1);
  for (const auto& hit : exact.best) {
    EXPECT_EQ(hit.verified_for, exact.workload.id);
    EXPECT_NE(hit.candidate.hash, candidate_hash(testing::kernel("cheat")).value());
  }
  EXPECT_TRUE(result->nearest.empty());
  // Failures among similar workloads: the exact one here.
  ASSERT_EQ(result->failures.size(), 2u);
  EXPECT_EQ(result->failures[0].count, 1);
}

TEST(Search, NearestMatchesABruteForceReference) {
  TempDir dir;
  auto store = Store::open(dir / "memory.db").value();
  std::mt19937 rng(7);
  std::vector<Shape> shapes;
  std::vector<std::string> archs;
  std::vector<Record> batch;
  for (int i = 0; i < 200; ++i) {
    Shape shape = {{int64_t{1} << (rng() % 6), int64_t{1} << (rng() % 5 + 2), int64_t{16} << (rng() % 5),
                    int64_t{16} << (rng() % 5)}};
    std::string arch = rng() % 3 == 0 ? "sm_80" : "sm_90";
    batch.push_back({testing::softmax_workload(shape, arch), testing::kernel("k" + std::to_string(i)),
                     testing::passed(1.0 + (i % 10) * 0.1)});
    // Same op, other dtype and other op: never neighbours.
    batch.push_back({testing::softmax_workload(shape, arch, "float32"), testing::kernel("f" + std::to_string(i)),
                     testing::passed(1.0)});
    auto relu = testing::softmax_workload(shape, arch);
    relu.op_type = "Relu";
    batch.push_back({relu, testing::kernel("r" + std::to_string(i)), testing::passed(1.0)});
    shapes.push_back(shape);
    archs.push_back(arch);
  }
  ASSERT_TRUE(store->record_batch(batch).is_ok());

  // The distinct (shape, arch) workloads with their distances, computed independently.
  auto query = softmax_query({{4, 16, 100, 300}}, "sm_90");
  query.k = 7;
  std::vector<std::pair<double, std::string>> reference;
  std::set<std::string> seen;
  for (size_t i = 0; i < shapes.size(); ++i) {
    std::string key = format_shape(shapes[i]) + "@" + archs[i];
    if (!seen.insert(key).second) continue;
    double sum = 0;
    for (size_t j = 0; j < 4; ++j) {
      double d = std::log2(double(query.shape[0][j])) - std::log2(double(shapes[i][0][j]));
      sum += d * d;
    }
    reference.emplace_back(std::sqrt(sum) + (archs[i] == "sm_90" ? 0.0 : kArchPenalty), key);
  }
  std::sort(reference.begin(), reference.end());

  auto result = store->search(query);
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  EXPECT_TRUE(result->exact.empty());
  ASSERT_EQ(result->nearest.size(), 7u);
  for (size_t i = 0; i < result->nearest.size(); ++i) {
    const auto& match = result->nearest[i];
    EXPECT_NEAR(match.distance, reference[i].first, 1e-12) << i;
    EXPECT_EQ(match.workload.op_type, "Softmax");
    EXPECT_EQ(match.workload.dtype, "float16");
    ASSERT_FALSE(match.best.empty());
    EXPECT_EQ(match.best[0].verified_for, match.workload.id);
    if (i > 0) {
      EXPECT_LE(result->nearest[i - 1].distance, match.distance);
    }
  }
}

TEST(Search, ExactIgnoresArchitectureOnlyWhenNotGiven) {
  TempDir dir;
  auto store = Store::open(dir / "memory.db").value();
  ASSERT_TRUE(store->record({testing::softmax_workload({{8, 256}}, "sm_80"), testing::kernel("a"), testing::passed(1.3)})
                  .is_ok());
  ASSERT_TRUE(store->record({testing::softmax_workload({{8, 256}}, "sm_90"), testing::kernel("b"), testing::passed(1.9)})
                  .is_ok());
  auto any_arch = store->search(softmax_query({{8, 256}}, ""));
  ASSERT_TRUE(any_arch.is_ok());
  ASSERT_EQ(any_arch->exact.size(), 2u);
  EXPECT_EQ(any_arch->exact[0].workload.arch, "sm_90");  // best speedup first
  auto h100 = store->search(softmax_query({{8, 256}}, "sm_90"));
  ASSERT_EQ(h100->exact.size(), 1u);
  ASSERT_EQ(h100->nearest.size(), 1u);
  EXPECT_EQ(h100->nearest[0].workload.arch, "sm_80");
  EXPECT_DOUBLE_EQ(h100->nearest[0].distance, kArchPenalty);
}

TEST(Search, SignatureNarrowsExactMatches) {
  TempDir dir;
  auto store = Store::open(dir / "memory.db").value();
  auto axis0 = testing::softmax_workload({{8, 256}});
  axis0.attributes_json = R"({"axis": 0})";
  ASSERT_TRUE(store->record({axis0, testing::kernel("a"), testing::passed(1.3)}).is_ok());
  auto last = testing::softmax_workload({{8, 256}});
  ASSERT_TRUE(store->record({last, testing::kernel("b"), testing::passed(1.9)}).is_ok());
  auto query = softmax_query({{8, 256}});
  query.signature = canonical_signature(last).value();
  auto result = store->search(query);
  ASSERT_TRUE(result.is_ok());
  ASSERT_EQ(result->exact.size(), 1u);
  EXPECT_EQ(result->exact[0].workload.signature, query.signature);
  ASSERT_EQ(result->nearest.size(), 1u);
  EXPECT_DOUBLE_EQ(result->nearest[0].distance, kSignaturePenalty);
}

TEST(Search, CountsFailureReasonsAmongSimilarWorkloads) {
  TempDir dir;
  auto store = Store::open(dir / "memory.db").value();
  std::vector<Record> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back({testing::softmax_workload({{8, 128 << i}}), testing::kernel("c" + std::to_string(i)),
                     testing::failed_with(Verdict::kCompileError, "compile", "error " + std::to_string(i))});
  for (int i = 0; i < 3; ++i)
    batch.push_back({testing::softmax_workload({{8, 128 << i}}), testing::kernel("n" + std::to_string(i)),
                     testing::failed_with(Verdict::kIncorrectNumerical, "numerics", "max abs error 0.5")});
  batch.push_back({testing::softmax_workload({{8, 128}}), testing::kernel("t"),
                   testing::failed_with(Verdict::kTimeout, "timeout", "over 10 s")});
  // Far away and of another dtype: not counted.
  batch.push_back({testing::softmax_workload({{8, 128}}, "sm_90", "float32"), testing::kernel("x"),
                   testing::failed_with(Verdict::kTimeout, "timeout", "over 10 s")});
  ASSERT_TRUE(store->record_batch(batch).is_ok());
  auto query = softmax_query({{8, 128}});
  query.k = 10;
  auto result = store->search(query);
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  ASSERT_EQ(result->failures.size(), 3u);
  EXPECT_EQ(result->failures[0].status, Verdict::kCompileError);
  EXPECT_EQ(result->failures[0].count, 5);
  EXPECT_EQ(result->failures[0].gate, "compile");
  EXPECT_EQ(result->failures[0].example_summary, "error 4");  // the latest
  EXPECT_EQ(result->failures[1].status, Verdict::kIncorrectNumerical);
  EXPECT_EQ(result->failures[1].count, 3);
  EXPECT_EQ(result->failures[2].status, Verdict::kTimeout);
  EXPECT_EQ(result->failures[2].count, 1);
  // Every neighbour failed: listed, with nothing verified.
  for (const auto& match : result->nearest) EXPECT_TRUE(match.best.empty());
}

TEST(Search, RejectsIncompleteQueries) {
  TempDir dir;
  auto store = Store::open(dir / "memory.db").value();
  Query query;
  EXPECT_EQ(store->search(query).status().code(), StatusCode::kInvalidInput);
  query.op_type = "Softmax";
  query.dtype = "float16";
  EXPECT_EQ(store->search(query).status().code(), StatusCode::kInvalidInput);  // no shape
  query.shape = {{1}};
  query.k = -1;
  EXPECT_EQ(store->search(query).status().code(), StatusCode::kInvalidInput);
  query.k = 5;
  auto empty = store->search(query);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->exact.empty() && empty->nearest.empty() && empty->failures.empty());
}

}  // namespace
}  // namespace ak::memory
