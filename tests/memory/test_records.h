#pragma once
// Shared by the memory tests: a temporary folder and small record builders.

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "base/remove_tree.h"
#include "memory/memory.h"

namespace ak::memory::testing {

/// A fresh folder under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() /
            ("ak_memory_test_" + std::to_string(::getpid()) + "_" + std::to_string(seed()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    ak::remove_tree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline WorkloadSpec softmax_workload(Shape shape, std::string arch = "sm_90", std::string dtype = "float16") {
  WorkloadSpec workload;
  workload.op_type = "Softmax";
  workload.attributes_json = R"({"axis": -1})";
  workload.dtypes.assign(shape.size(), dtype);
  workload.shape = std::move(shape);
  workload.arch = std::move(arch);
  return workload;
}

inline CandidateSpec kernel(const std::string& body, std::string generator = "template:softmax_rowwise") {
  CandidateSpec candidate;
  candidate.source = "extern \"C\" int autokernel_kernel() { " + body + " }\n";
  candidate.language = "cuda";
  candidate.generator = std::move(generator);
  return candidate;
}

inline EvaluationSpec passed(double speedup, int64_t latency_ns = 1000) {
  EvaluationSpec evaluation;
  evaluation.status = Verdict::kPassed;
  evaluation.device = "NVIDIA H100 80GB HBM3";
  evaluation.driver_version = "580.65";
  evaluation.cuda_version = "13.0";
  evaluation.compiler_version = "nvcc 13.0";
  evaluation.latency_ns = latency_ns;
  evaluation.baseline_latency_ns = static_cast<int64_t>(static_cast<double>(latency_ns) * speedup);
  evaluation.speedup = speedup;
  evaluation.speedup_low = speedup * 0.95;
  evaluation.speedup_high = speedup * 1.05;
  evaluation.max_abs_error = 1e-3;
  evaluation.max_rel_error = 2e-3;
  return evaluation;
}

inline EvaluationSpec failed_with(Verdict status, std::string gate, std::string summary) {
  EvaluationSpec evaluation;
  evaluation.status = status;
  evaluation.device = "NVIDIA H100 80GB HBM3";
  evaluation.failure_gate = std::move(gate);
  evaluation.failure_summary = std::move(summary);
  return evaluation;
}

}  // namespace ak::memory::testing
