// Host timing behind TimingSource: for CPU runs, and for GPU runs when CUPTI cannot start.
#include <chrono>
#include <utility>
#include <vector>

#include "profiler/timing_source.h"

namespace ak::profiler {
namespace {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class HostTimingSource final : public TimingSource {
 public:
  explicit HostTimingSource(std::function<void()> synchronize) : synchronize_(std::move(synchronize)) {}

  std::string name() const override { return "host"; }

  Status start() override {
    if (running_) return internal_error("host timing started twice");
    running_ = true;
    spans_.clear();
    open_.clear();
    spans_.reserve(kReservedSpans);
    open_.reserve(kOpenReserved);
    return Status::ok();
  }

  // push_node and pop_node run between the model's nodes, so they must not touch the heap:
  // a small allocation that outlives the node (a map entry, a record's name) lands in the
  // space a freed tensor buffer left, the next run's buffer no longer fits there, and the
  // heap grows and is trimmed run after run. On the CPU that cost ~17,000 page faults per
  // GPT-2 iteration, charged to whichever nodes allocated next (3x overhead, 16x inflated
  // GELU chains). They only append to vectors reserved in start(); the join is in stop().
  void push_node(uint64_t external_id, const std::string& /*label*/) override {
    if (!running_) return;
    if (synchronize_) synchronize_();
    open_.push_back({external_id, steady_now_ns(), 0});
  }

  void pop_node() override {
    if (!running_ || open_.empty()) return;
    if (synchronize_) synchronize_();
    Span span = open_.back();
    span.end_ns = steady_now_ns();
    open_.pop_back();
    spans_.push_back(span);
  }

  int64_t timestamp_ns() const override { return steady_now_ns(); }

  Status flush() override { return Status::ok(); }

  Result<CorrelationResult> stop() override {
    if (!running_) return internal_error("host timing stopped while not running");
    running_ = false;
    open_.clear();
    // One synthetic launch per node: the same join as CUPTI's records.
    Correlator correlator;
    uint64_t correlation_id = 0;
    for (const Span& span : spans_) {
      ++correlation_id;
      correlator.note_pushed(span.external_id);
      correlator.add_external({span.external_id, correlation_id});
      KernelRecord record;
      record.correlation_id = correlation_id;
      record.start_ns = span.start_ns;
      record.end_ns = span.end_ns;
      record.name = "(host)";
      correlator.add_kernel(std::move(record));
    }
    spans_.clear();
    spans_.shrink_to_fit();
    return correlator.finish();
  }

 private:
  /// Spans reserved up front (1.5 MiB): 25 iterations of a 2,600-node model before the
  /// vector first grows; a growth is one allocation, rare enough not to matter.
  static constexpr size_t kReservedSpans = size_t{1} << 16;
  /// Nesting depth reserved for open spans (observers push top-level nodes only: depth 1).
  static constexpr size_t kOpenReserved = 16;
  struct Span {
    uint64_t external_id;
    int64_t start_ns;
    int64_t end_ns;
  };
  std::function<void()> synchronize_;
  bool running_ = false;
  std::vector<Span> open_;
  std::vector<Span> spans_;
};

}  // namespace

std::unique_ptr<TimingSource> make_host_timing_source(std::function<void()> synchronize) {
  return std::make_unique<HostTimingSource>(std::move(synchronize));
}

}  // namespace ak::profiler
