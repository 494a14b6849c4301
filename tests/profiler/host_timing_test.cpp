// Host timing: what it records, and that it does no heap work between the model's nodes.
//
// The heap is the regression this file guards: when the observer allocated per node (the
// Correlator's map and set entries, each record's name), the small blocks that outlived a
// node split the free space tensor buffers had left, the heap grew and was trimmed every
// run, and each profiled CPU iteration paid thousands of page faults inside node spans
// (GPT-2: 3x overhead, 16x inflated GELU chains). Allocation counts are deterministic where
// timings on a shared 2-core machine are not, so the tests count operator new calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "profiler/profile.h"
#include "profiler/timing_source.h"
#include "tests/profiler/profile_fixture.h"

namespace {
// operator new calls made by this thread (ATen's intra-op threads do not count here).
thread_local int64_t t_allocations = 0;
}  // namespace

// Replaces the global allocation functions of this test binary to count calls; the aligned
// and array forms of libstdc++ end in these or in their own aligned_alloc/free pair. GCC
// sees the replaced delete's free() inlined next to a new-expression and warns of a
// mismatch that is the whole point of a replacement.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  ++t_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace ak::profiler {
namespace {

using namespace testing;

models::Attribute ints_attr(const std::string& name, std::vector<int64_t> values) {
  models::Attribute a;
  a.name = name;
  a.type = models::Attribute::Type::kInts;
  a.ints = std::move(values);
  return a;
}

models::TensorData scalar(const std::string& name, float value) { return float_tensor(name, {}, {value}); }

/// A ConvNeXt-style CNN: a 4x4 stride-4 stem, then `blocks` blocks of depthwise 7x7 conv,
/// channels-last LayerNorm, pointwise MLP with erf-GELU, layer scale and residual add.
/// Input x: [1, 3, 64, 64].
std::shared_ptr<const models::Model> convnext_model(int blocks) {
  constexpr int64_t c = 32;
  models::Graph g;
  g.name = "convnext_style";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 3, 64, 64}, {}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, c, 16, 16}, {}));
  uint32_t seed = 1;
  auto weight = [&](const std::string& name, std::vector<int64_t> dims) {
    g.initializers.push_back(random_tensor(name, std::move(dims), seed++));
    return name;
  };
  g.initializers.push_back(scalar("sqrt2", 1.41421356f));
  g.initializers.push_back(scalar("one", 1.f));
  g.initializers.push_back(scalar("half", 0.5f));
  g.nodes.push_back(node("Conv", {"x", weight("stem_w", {c, 3, 4, 4}), weight("stem_b", {c})}, {"h0"},
                         {ints_attr("kernel_shape", {4, 4}), ints_attr("strides", {4, 4})}));
  std::string h = "h0";
  for (int b = 0; b < blocks; ++b) {
    const std::string p = "b" + std::to_string(b) + "_";
    auto add = [&](const std::string& op, std::vector<std::string> in, const std::string& out,
                   std::vector<models::Attribute> attrs = {}) {
      g.nodes.push_back(node(op, std::move(in), {p + out}, std::move(attrs)));
      return p + out;
    };
    std::string t = add("Conv", {h, weight(p + "dw_w", {c, 1, 7, 7}), weight(p + "dw_b", {c})}, "dw",
                        {ints_attr("kernel_shape", {7, 7}), ints_attr("pads", {3, 3, 3, 3}), int_attr("group", c)});
    t = add("Transpose", {t}, "nhwc", {ints_attr("perm", {0, 2, 3, 1})});
    t = add("LayerNormalization", {t, weight(p + "ln_s", {c}), weight(p + "ln_b", {c})}, "ln",
            {int_attr("axis", -1)});
    t = add("Add", {add("MatMul", {t, weight(p + "fc1_w", {c, 4 * c})}, "fc1"), weight(p + "fc1_b", {4 * c})}, "fc1b");
    const std::string erf = add("Erf", {add("Div", {t, "sqrt2"}, "div")}, "erf");
    t = add("Mul", {add("Mul", {t, add("Add", {erf, "one"}, "erf1")}, "gelu0"), "half"}, "gelu");
    t = add("Add", {add("MatMul", {t, weight(p + "fc2_w", {4 * c, c})}, "fc2"), weight(p + "fc2_b", {c})}, "fc2b");
    t = add("Mul", {t, weight(p + "gamma", {c})}, "scaled");
    t = add("Transpose", {t}, "nchw", {ints_attr("perm", {0, 3, 1, 2})});
    h = add("Add", {h, t}, "out");
  }
  g.nodes.back().outputs = {"y"};
  return std::make_shared<const models::Model>(model_of(std::move(g), 17));
}

TEST(HostTiming, PushAndPopDoNotAllocate) {
  int syncs = 0;
  std::unique_ptr<TimingSource> source = make_host_timing_source([&syncs] { ++syncs; });
  ASSERT_TRUE(source->start().is_ok());
  const std::string label = "a node name longer than any small-string buffer";
  constexpr int kNodes = 20000;  // 50 iterations of a 400-node model
  const int64_t before = t_allocations;
  for (int i = 0; i < kNodes; ++i) {
    source->push_node(static_cast<uint64_t>(i) + 1, label);
    source->pop_node();
  }
  EXPECT_EQ(t_allocations - before, 0) << "heap allocations between nodes";
  EXPECT_EQ(syncs, 2 * kNodes);  // before both timestamps of every node
  auto joined = source->stop();
  ASSERT_TRUE(joined.is_ok()) << joined.status().message();
  EXPECT_EQ(joined->nodes.size(), static_cast<size_t>(kNodes));
  EXPECT_EQ(joined->unattributed.total(), 0);
}

TEST(HostTiming, StopJoinsOneHostRecordPerSpan) {
  std::unique_ptr<TimingSource> source = make_host_timing_source({});
  EXPECT_EQ(source->name(), "host");
  EXPECT_FALSE(source->stop().is_ok());  // not started
  ASSERT_TRUE(source->start().is_ok());
  EXPECT_FALSE(source->start().is_ok());  // started twice
  source->pop_node();                      // nothing open: ignored
  const int64_t t0 = source->timestamp_ns();
  source->push_node(7, "outer");
  source->push_node(9, "inner");
  source->pop_node();
  source->pop_node();
  source->push_node(7, "outer again");  // the same id twice: both spans are its records
  source->pop_node();
  const int64_t t1 = source->timestamp_ns();
  ASSERT_TRUE(source->flush().is_ok());
  auto joined = source->stop();
  ASSERT_TRUE(joined.is_ok()) << joined.status().message();
  ASSERT_EQ(joined->nodes.size(), 2u);
  const NodeActivity& outer = joined->nodes.at(7);
  const NodeActivity& inner = joined->nodes.at(9);
  ASSERT_EQ(outer.kernels.size(), 2u);
  ASSERT_EQ(inner.kernels.size(), 1u);
  const KernelRecord& o = outer.kernels[0];
  const KernelRecord& i = inner.kernels[0];
  EXPECT_EQ(o.name, "(host)");
  // The inner span lies within the outer one, and both within the clock reads around them.
  EXPECT_LE(t0, o.start_ns);
  EXPECT_LE(o.start_ns, i.start_ns);
  EXPECT_LE(i.start_ns, i.end_ns);
  EXPECT_LE(i.end_ns, o.end_ns);
  EXPECT_LE(o.end_ns, outer.kernels[1].start_ns);
  EXPECT_LE(outer.kernels[1].end_ns, t1);
  EXPECT_EQ(outer.kernel_sum_ns, (o.end_ns - o.start_ns) + (outer.kernels[1].end_ns - outer.kernels[1].start_ns));
  EXPECT_EQ(joined->unattributed.total(), 0);

  // Started again, the source begins empty; a span left open at stop() is dropped.
  ASSERT_TRUE(source->start().is_ok());
  source->push_node(3, "open");
  auto again = source->stop();
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->nodes.empty());
  source->push_node(4, "after stop");  // ignored while stopped
  source->pop_node();
  ASSERT_TRUE(source->start().is_ok());
  EXPECT_TRUE(source->stop()->nodes.empty());
}

// The whole profile over a real CNN session: a profiled iteration makes the same heap
// allocations on the session's thread as an unprofiled one (the ATen ops' own), so the
// observer and the timing source add no per-node heap work.
TEST(HostTiming, ProfiledIterationsAllocateLikeUnprofiledOnes) {
  constexpr int kBlocks = 3;
  models::SessionOptions session_options;
  auto session = models::Session::create(convnext_model(kBlocks), session_options);
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  const size_t node_count = (*session)->model().graph.nodes.size();
  ASSERT_GE(node_count, 10u * kBlocks);

  ProfileOptions options;
  options.warmup = 2;
  options.iters = 9;
  std::map<std::string, std::vector<int64_t>> per_iteration;  // phase -> allocations per run
  int64_t last = 0;
  bool first = true;
  options.progress = [&](const std::string& phase, int, int) {
    const int64_t now = t_allocations;
    if (!first) per_iteration[phase].push_back(now - last);
    first = false;
    last = t_allocations;  // after the map insert above
  };
  auto profile = profile_session(**session, {random_tensor("x", {1, 3, 64, 64}, 5)}, options);
  ASSERT_TRUE(profile.is_ok()) << profile.status().message();
  EXPECT_EQ(profile->timing_source, "host");
  for (const NodeProfile& n : profile->nodes) EXPECT_GT(n.time.median_ns, 0) << n.name;

  auto median = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  ASSERT_GE(per_iteration["baseline"].size(), 5u);
  ASSERT_GE(per_iteration["profile"].size(), 5u);
  const int64_t unprofiled = median(per_iteration["baseline"]);
  const int64_t profiled = median(per_iteration["profile"]);
  EXPECT_GT(unprofiled, 0);  // the ops allocate: the counter sees the session's thread
  // The per-node Correlator entries of the old host timing added >= 3 per node.
  EXPECT_LE(profiled - unprofiled, 2) << "unprofiled " << unprofiled << ", profiled " << profiled << " allocations per "
                                      << node_count << "-node iteration";
}

}  // namespace
}  // namespace ak::profiler
