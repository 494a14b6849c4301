// Observed runs of the whole model: host copies of the values tasks need, and shapes.
#include "extractor/internal/capture.h"

#include "models/aten_interop.h"
#include "models/session.h"

namespace ak::extractor::internal {

namespace {

/// Records every tensor's shape; copies the wanted values to the host. Observers must not
/// throw, so a failed copy is remembered and reported after the run.
class CaptureObserver final : public models::NodeObserver {
 public:
  CaptureObserver(const std::set<std::string>* wanted, CapturedRun* run) : wanted_(wanted), run_(run) {}

  void before_node(const models::NodeEvent& event) override {
    for (size_t i = 0; i < event.inputs.size() && i < event.node->inputs.size(); ++i)
      see(event.node->inputs[i], event.inputs[i]);
  }
  void after_node(const models::NodeEvent& event) override {
    if (event.on_host) run_->host_nodes.insert(event.node_index);
    for (size_t i = 0; i < event.outputs.size() && i < event.node->outputs.size(); ++i)
      see(event.node->outputs[i], event.outputs[i]);
  }

  const std::string& error() const { return error_; }

 private:
  void see(const std::string& name, const at::Tensor* tensor) {
    if (name.empty() || tensor == nullptr || !tensor->defined()) return;
    auto sizes = tensor->sizes();
    run_->shapes[name].assign(sizes.begin(), sizes.end());
    if (wanted_ == nullptr || !wanted_->count(name) || run_->values.count(name)) return;
    try {
      // A copy to the host synchronizes with the device; this run is not timed.
      run_->values.emplace(name, models::to_tensor_data(*tensor, name));
    } catch (const std::exception& e) {
      if (error_.empty()) error_ = "copying value '" + name + "' to the host: " + e.what();
    }
  }

  const std::set<std::string>* wanted_;
  CapturedRun* run_;
  std::string error_;
};

Result<CapturedRun> observed_run(models::Session& session, const std::vector<models::TensorData>& inputs,
                                 const std::set<std::string>* wanted) {
  CapturedRun run;
  CaptureObserver observer(wanted, &run);
  session.add_observer(&observer);
  auto outputs = session.run(inputs);
  session.remove_observer(&observer);
  if (!outputs.is_ok()) return outputs.status();
  if (!observer.error().empty()) return internal_error(observer.error());
  return run;
}

}  // namespace

Result<CapturedRun> capture_run(models::Session& session, const std::vector<models::TensorData>& inputs,
                                const std::set<std::string>& wanted) {
  return observed_run(session, inputs, &wanted);
}

Result<ShapeMap> shape_run(models::Session& session, const std::vector<models::TensorData>& inputs) {
  AK_ASSIGN_OR_RETURN(CapturedRun run, observed_run(session, inputs, nullptr));
  return std::move(run.shapes);
}

}  // namespace ak::extractor::internal
