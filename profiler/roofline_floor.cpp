#include "profiler/roofline_floor.h"

#include "kernels/task.h"
#include "models/session.h"
#include "profiler/device_probe.h"
#include "profiler/roofline.h"

namespace ak::profiler {

double roofline_floor_ns(double flops, double bytes, const char* op_class, models::DType dtype, bool allow_tf32,
                         const DevicePeaks& peaks) {
  // A CPU task's bytes come from cache (see the header): only its FLOPs bound it.
  const NodeCost cost{flops, peaks.kind == DeviceKind::kCpu ? 0.0 : bytes, op_class};
  const RooflinePoint p = roofline(cost, 0, peaks, {.compute_dtype = dtype, .allow_tf32 = allow_tf32, .kernel_count = 0});
  return kRooflineFloorMargin * p.attainable_ns;
}

Result<double> task_roofline_floor_ns(const kernels::Task& task, std::string* note) {
  AK_ASSIGN_OR_RETURN(models::Device device, models::Device::parse(task.target.device));
  AK_ASSIGN_OR_RETURN(DevicePeaks peaks, measured_peaks_for_device(device, note));
  const models::DType dtype =
      task.inputs.empty() ? models::DType::kFloat32 : static_cast<models::DType>(task.inputs.front().dtype);
  // The op class must outlive the call only; roofline() reads it as a C string.
  return roofline_floor_ns(task.flops, task.bytes, task.op_class.c_str(), dtype, task.target.allow_tf32, peaks);
}

}  // namespace ak::profiler
