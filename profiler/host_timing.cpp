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
    correlator_ = std::make_unique<Correlator>();
    return Status::ok();
  }

  void push_node(uint64_t external_id, const std::string& /*label*/) override {
    if (!running_) return;
    if (synchronize_) synchronize_();
    open_.push_back({external_id, steady_now_ns()});
  }

  void pop_node() override {
    if (!running_ || open_.empty()) return;
    if (synchronize_) synchronize_();
    const int64_t end_ns = steady_now_ns();
    const Open span = open_.back();
    open_.pop_back();
    // One synthetic launch per node: the same join as CUPTI's records.
    const uint64_t correlation_id = ++last_correlation_id_;
    correlator_->note_pushed(span.external_id);
    correlator_->add_external({span.external_id, correlation_id});
    KernelRecord record;
    record.correlation_id = correlation_id;
    record.start_ns = span.start_ns;
    record.end_ns = end_ns;
    record.name = "(host)";
    correlator_->add_kernel(std::move(record));
  }

  int64_t timestamp_ns() const override { return steady_now_ns(); }

  Status flush() override { return Status::ok(); }

  Result<CorrelationResult> stop() override {
    if (!running_) return internal_error("host timing stopped while not running");
    running_ = false;
    open_.clear();
    return correlator_->finish();
  }

 private:
  struct Open {
    uint64_t external_id;
    int64_t start_ns;
  };
  std::function<void()> synchronize_;
  bool running_ = false;
  std::unique_ptr<Correlator> correlator_;
  std::vector<Open> open_;
  uint64_t last_correlation_id_ = 0;
};

}  // namespace

std::unique_ptr<TimingSource> make_host_timing_source(std::function<void()> synchronize) {
  return std::make_unique<HostTimingSource>(std::move(synchronize));
}

}  // namespace ak::profiler
