// Feeds synthetic CUPTI-like records to the Correlator, the same code path the CUPTI
// tracer uses, so the attribution logic is tested on machines without a GPU.

#include "profiler/correlation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>
#include <variant>
#include <vector>

namespace ak::profiler {
namespace {

KernelRecord kernel(uint64_t correlation_id, int64_t start_ns, int64_t end_ns, uint32_t stream_id = 7,
                    uint32_t device_id = 0, const char* name = "k") {
  KernelRecord k;
  k.correlation_id = correlation_id;
  k.start_ns = start_ns;
  k.end_ns = end_ns;
  k.stream_id = stream_id;
  k.device_id = device_id;
  k.name = name;
  return k;
}

MemRecord mem(uint64_t correlation_id, int64_t start_ns, int64_t end_ns, MemKind kind, uint64_t size_bytes) {
  MemRecord m;
  m.kind = kind;
  m.correlation_id = correlation_id;
  m.start_ns = start_ns;
  m.end_ns = end_ns;
  m.size_bytes = size_bytes;
  return m;
}

RuntimeApiRecord runtime(uint64_t correlation_id, int64_t start_ns, int64_t end_ns) {
  RuntimeApiRecord r;
  r.correlation_id = correlation_id;
  r.cbid = 211;
  r.start_ns = start_ns;
  r.end_ns = end_ns;
  r.thread_id = 1;
  return r;
}

using AnyRecord = std::variant<KernelRecord, MemRecord, RuntimeApiRecord, ExternalCorrelation>;

void feed(Correlator* c, const AnyRecord& record) {
  if (auto* k = std::get_if<KernelRecord>(&record)) c->add_kernel(*k);
  if (auto* m = std::get_if<MemRecord>(&record)) c->add_mem(*m);
  if (auto* r = std::get_if<RuntimeApiRecord>(&record)) c->add_runtime(*r);
  if (auto* e = std::get_if<ExternalCorrelation>(&record)) c->add_external(*e);
}

// Three nodes (external ids 1..3) as CUPTI would report them for one iteration:
// node 1 launches two kernels, node 2 one kernel and a DtoD copy, node 3 a memset + kernel.
std::vector<AnyRecord> three_nodes() {
  return {
      ExternalCorrelation{1, 100}, runtime(100, 0, 5),    kernel(100, 10, 30, 7, 0, "gemm"),
      ExternalCorrelation{1, 101}, runtime(101, 6, 9),    kernel(101, 30, 40, 7, 0, "bias"),
      ExternalCorrelation{2, 102}, runtime(102, 10, 12),  kernel(102, 40, 70, 7, 0, "softmax"),
      ExternalCorrelation{2, 103}, runtime(103, 13, 15),  mem(103, 70, 75, MemKind::kDeviceToDevice, 4096),
      ExternalCorrelation{3, 104}, runtime(104, 16, 18),  mem(104, 75, 77, MemKind::kMemset, 1024),
      ExternalCorrelation{3, 105}, runtime(105, 19, 21),  kernel(105, 80, 100, 7, 0, "gelu"),
  };
}

void expect_three_nodes(const CorrelationResult& r) {
  ASSERT_EQ(r.nodes.size(), 3u);
  const NodeActivity& n1 = r.nodes.at(1);
  ASSERT_EQ(n1.kernels.size(), 2u);
  EXPECT_EQ(n1.kernels[0].name, "gemm");
  EXPECT_EQ(n1.kernels[1].name, "bias");
  EXPECT_EQ(n1.kernels[0].external_id, 1u);
  EXPECT_EQ(n1.kernel_sum_ns, 30);
  EXPECT_EQ(n1.kernel_busy_ns, 30);
  EXPECT_EQ(n1.runtime_calls.size(), 2u);
  const NodeActivity& n2 = r.nodes.at(2);
  ASSERT_EQ(n2.kernels.size(), 1u);
  EXPECT_EQ(n2.kernels[0].name, "softmax");
  ASSERT_EQ(n2.mems.size(), 1u);
  EXPECT_EQ(n2.mems[0].kind, MemKind::kDeviceToDevice);
  EXPECT_EQ(n2.mems[0].size_bytes, 4096u);
  EXPECT_EQ(n2.mem_sum_ns, 5);
  const NodeActivity& n3 = r.nodes.at(3);
  ASSERT_EQ(n3.kernels.size(), 1u);
  EXPECT_EQ(n3.kernels[0].name, "gelu");
  ASSERT_EQ(n3.mems.size(), 1u);
  EXPECT_EQ(n3.mems[0].kind, MemKind::kMemset);
  EXPECT_EQ(r.unattributed.total(), 0);
  EXPECT_TRUE(r.unattributed_kernels.empty());
  EXPECT_EQ(r.unattributed_runtime_calls, 0);
  EXPECT_EQ(r.duplicate_records, 0);
  // Kernels cover [10,70) and [80,100): 80 ns busy; memcpy/memset time is not kernel time.
  EXPECT_EQ(r.busy_ns_by_device.at(0), 80);
  EXPECT_EQ(r.busy_ns(), 80);
}

TEST(Correlator, InOrder) {
  Correlator c;
  for (const auto& rec : three_nodes()) feed(&c, rec);
  expect_three_nodes(c.finish());
}

TEST(Correlator, Reversed) {
  // The external correlation arrives after the kernel record it names.
  Correlator c;
  auto records = three_nodes();
  std::reverse(records.begin(), records.end());
  for (const auto& rec : records) feed(&c, rec);
  expect_three_nodes(c.finish());
}

TEST(Correlator, ShuffledAcrossBuffers) {
  for (unsigned seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE(seed);
    auto records = three_nodes();
    std::mt19937 rng(seed);
    std::shuffle(records.begin(), records.end(), rng);
    // Deliver as several "buffers" completed by another thread, one after another,
    // each record in a later buffer than its neighbours in launch order.
    Correlator c;
    std::vector<std::vector<AnyRecord>> buffers(4);
    for (size_t i = 0; i < records.size(); ++i) buffers[i % buffers.size()].push_back(records[i]);
    for (const auto& buffer : buffers)
      for (const auto& rec : buffer) feed(&c, rec);
    expect_three_nodes(c.finish());
  }
}

TEST(Correlator, BuffersCompletedOnTwoThreads) {
  // CUPTI may deliver buffers on its worker thread while the session thread flushes.
  auto records = three_nodes();
  Correlator c;
  std::thread other([&] {
    for (size_t i = 0; i < records.size(); i += 2) feed(&c, records[i]);
  });
  for (size_t i = 1; i < records.size(); i += 2) feed(&c, records[i]);
  other.join();
  expect_three_nodes(c.finish());
}

TEST(Correlator, MissingExternalCorrelationIsUnattributed) {
  Correlator c;
  for (const auto& rec : three_nodes()) feed(&c, rec);
  // A kernel launched outside any node (e.g. an allocator memset or a sync helper).
  c.add_runtime(runtime(200, 50, 52));
  c.add_kernel(kernel(200, 100, 110, 7, 0, "stray"));
  // A kernel with no correlation at all.
  c.add_kernel(kernel(0, 120, 125, 7, 0, "uncorrelated"));
  c.add_mem(mem(201, 130, 140, MemKind::kDeviceToHost, 8));
  CorrelationResult r = c.finish();
  EXPECT_EQ(r.nodes.size(), 3u);
  EXPECT_EQ(r.unattributed.no_external_id, 2);
  EXPECT_EQ(r.unattributed.no_correlation, 1);
  EXPECT_EQ(r.unattributed.total(), 3);
  ASSERT_EQ(r.unattributed_kernels.size(), 2u);
  EXPECT_EQ(r.unattributed_kernels[0].name, "stray");
  EXPECT_EQ(r.unattributed_kernels[0].external_id, 0u);
  EXPECT_EQ(r.unattributed_kernels[1].name, "uncorrelated");
  ASSERT_EQ(r.unattributed_mems.size(), 1u);
  EXPECT_EQ(r.unattributed_mems[0].kind, MemKind::kDeviceToHost);
  EXPECT_EQ(r.unattributed_runtime_calls, 1);
  // Unattributed kernels still occupy the GPU: [10,70) + [80,110) + [120,125).
  EXPECT_EQ(r.busy_ns(), 60 + 30 + 5);
}

TEST(Correlator, DuplicatesAreCountedOnce) {
  Correlator c;
  auto records = three_nodes();
  for (const auto& rec : records) feed(&c, rec);
  for (const auto& rec : records) feed(&c, rec);
  CorrelationResult r = c.finish();
  EXPECT_EQ(r.duplicate_records, static_cast<int64_t>(records.size()));
  ASSERT_EQ(r.nodes.size(), 3u);
  EXPECT_EQ(r.nodes.at(1).kernels.size(), 2u);
  EXPECT_EQ(r.nodes.at(1).kernel_sum_ns, 30);
  EXPECT_EQ(r.nodes.at(2).mems.size(), 1u);
  EXPECT_EQ(r.busy_ns(), 80);
}

TEST(Correlator, GraphLaunchKernelsSharingOneCorrelationAreNotDuplicates) {
  // One API call (a CUDA graph launch) yields several kernels with the same correlation id.
  Correlator c;
  c.add_external({4, 300});
  c.add_kernel(kernel(300, 0, 10, 7, 0, "a"));
  c.add_kernel(kernel(300, 10, 20, 7, 0, "b"));
  c.add_kernel(kernel(300, 20, 25, 7, 0, "a"));
  CorrelationResult r = c.finish();
  EXPECT_EQ(r.duplicate_records, 0);
  ASSERT_EQ(r.nodes.size(), 1u);
  EXPECT_EQ(r.nodes.at(4).kernels.size(), 3u);
}

TEST(Correlator, OverlappingKernelsOnTwoStreamsBusyIsUnion) {
  Correlator c;
  c.add_external({1, 1});
  c.add_external({2, 2});
  c.add_external({2, 3});
  c.add_kernel(kernel(1, 0, 100, /*stream_id=*/7));
  c.add_kernel(kernel(2, 50, 150, /*stream_id=*/8));
  c.add_kernel(kernel(3, 140, 160, /*stream_id=*/8));  // overlaps the stream-8 kernel's tail
  c.add_kernel(kernel(3, 200, 210, /*stream_id=*/9, /*device_id=*/1));  // another device
  CorrelationResult r = c.finish();
  EXPECT_EQ(r.busy_ns_by_device.at(0), 160);  // [0,160), not 100 + 100 + 20
  EXPECT_EQ(r.busy_ns_by_device.at(1), 10);
  EXPECT_EQ(r.busy_ns(), 170);
  EXPECT_EQ(r.nodes.at(1).kernel_busy_ns, 100);
  EXPECT_EQ(r.nodes.at(2).kernel_sum_ns, 100 + 20 + 10);
  EXPECT_EQ(r.nodes.at(2).kernel_busy_ns, 110 + 10);  // [50,160) on device 0, [200,210) on 1
}

TEST(Correlator, OutOfOrderTimestampsAreSorted) {
  Correlator c;
  c.add_external({1, 10});
  c.add_external({1, 11});
  c.add_external({1, 12});
  c.add_kernel(kernel(12, 300, 310, 7, 0, "third"));
  c.add_kernel(kernel(10, 100, 110, 7, 0, "first"));
  c.add_kernel(kernel(11, 200, 210, 7, 0, "second"));
  c.add_kernel(kernel(11, 500, 400, 7, 0, "backwards"));  // end before start: invalid
  CorrelationResult r = c.finish();
  const auto& ks = r.nodes.at(1).kernels;
  ASSERT_EQ(ks.size(), 3u);
  EXPECT_EQ(ks[0].name, "first");
  EXPECT_EQ(ks[1].name, "second");
  EXPECT_EQ(ks[2].name, "third");
  EXPECT_EQ(r.invalid_records, 1);
  EXPECT_EQ(r.busy_ns(), 30);
}

TEST(Correlator, IdNeverPushedIsUnattributed) {
  Correlator c;
  c.note_pushed(1);
  c.note_pushed(2);
  c.add_external({1, 10});
  c.add_external({9, 11});  // external id 9 was never pushed by us (another tool's id)
  c.add_kernel(kernel(10, 0, 10));
  c.add_kernel(kernel(11, 10, 20));
  CorrelationResult r = c.finish();
  ASSERT_EQ(r.nodes.size(), 1u);
  EXPECT_EQ(r.nodes.count(9), 0u);
  EXPECT_EQ(r.unattributed.unknown_external_id, 1);
  ASSERT_EQ(r.unattributed_kernels.size(), 1u);
  EXPECT_EQ(r.unattributed_kernels[0].correlation_id, 11u);
}

TEST(Correlator, ConflictingExternalKeepsFirst) {
  Correlator c;
  c.add_external({1, 10});
  c.add_external({2, 10});
  c.add_kernel(kernel(10, 0, 10));
  CorrelationResult r = c.finish();
  EXPECT_EQ(r.conflicting_external, 1);
  EXPECT_EQ(r.nodes.count(1), 1u);
  EXPECT_EQ(r.nodes.count(2), 0u);
}

TEST(Correlator, DroppedAreReportedAndFinishResets) {
  Correlator c;
  c.add_dropped(3);
  c.add_dropped(4);
  c.add_external({1, 10});
  c.add_kernel(kernel(10, 0, 10));
  CorrelationResult r = c.finish();
  EXPECT_EQ(r.dropped_records, 7u);
  EXPECT_EQ(r.nodes.size(), 1u);
  CorrelationResult empty = c.finish();
  EXPECT_EQ(empty.dropped_records, 0u);
  EXPECT_TRUE(empty.nodes.empty());
  EXPECT_EQ(empty.busy_ns(), 0);
}

TEST(Correlator, MemKindNames) {
  EXPECT_STREQ(mem_kind_name(MemKind::kHostToDevice), "HtoD");
  EXPECT_STREQ(mem_kind_name(MemKind::kMemset), "memset");
}

}  // namespace
}  // namespace ak::profiler
