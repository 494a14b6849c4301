// memory_bench: insert rate and retrieval latency of the memory at scale.
//
//   memory_bench [--workloads 10000] [--candidates 100000] [--batch 1000] [--queries 2000]
//                [--classes 24] [--path FILE] [--seed 1]
//
// Fills a fresh memory with `candidates` candidates spread over `workloads` workloads (one
// evaluation each, 70% PASSED), in batches of `batch` records, then runs `queries` searches
// (k = 5, 3 candidates per workload) for shapes near recorded ones. Prints the rates and
// latency percentiles. Not a test: numbers depend on the machine (docs/memory.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "memory/memory.h"

namespace {

using namespace ak::memory;
using Clock = std::chrono::steady_clock;

struct Options {
  int workloads = 10000;
  int candidates = 100000;
  int batch = 1000;
  int queries = 2000;
  int classes = 24;  // op type x dtype pairs the workloads are spread over
  int single_records = 200;
  std::string path;
  unsigned seed = 1;
};

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (flag == "--workloads") options.workloads = std::stoi(value);
    else if (flag == "--candidates") options.candidates = std::stoi(value);
    else if (flag == "--batch") options.batch = std::stoi(value);
    else if (flag == "--queries") options.queries = std::stoi(value);
    else if (flag == "--classes") options.classes = std::stoi(value);
    else if (flag == "--single-records") options.single_records = std::stoi(value);
    else if (flag == "--path") options.path = value;
    else if (flag == "--seed") options.seed = static_cast<unsigned>(std::stoul(value));
    else return false;
  }
  return options.workloads > 0 && options.candidates >= options.workloads && options.batch > 0 &&
         options.classes > 0;
}

// CPU time of this thread: on a shared machine the wall clock also counts other
// processes' time slices, so both are reported.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(std::min<double>(values.size() - 1, std::floor(p * (values.size() - 1) + 0.5)));
  return values[index];
}

const char* kOps[] = {"Softmax", "LayerNormalization", "MatMul", "Gemm", "Add", "Mul", "Gelu", "Relu",
                      "Conv", "ReduceMean", "Transpose", "Attention"};
const char* kDtypes[] = {"float16", "float32", "bfloat16"};

WorkloadSpec random_workload(std::mt19937_64& rng, int classes) {
  WorkloadSpec w;
  int cls = static_cast<int>(rng() % static_cast<uint64_t>(classes));
  w.op_type = kOps[cls % 12];
  std::string dtype = kDtypes[(cls / 12) % 3];
  if (cls >= 36) w.op_type += "_" + std::to_string(cls / 36);
  w.attributes_json = R"({"axis": -1})";
  int rank = 2 + static_cast<int>(rng() % 3);
  std::vector<int64_t> dims;
  for (int d = 0; d < rank; ++d) dims.push_back(int64_t{1} << (rng() % 12));  // 1 .. 2048
  w.shape = {dims};
  w.dtypes = {dtype};
  w.arch = rng() % 5 == 0 ? "sm_80" : "sm_90";
  w.source_model = "model" + std::to_string(rng() % 20) + ".onnx";
  w.source_nodes = {"node" + std::to_string(rng() % 1000)};
  return w;
}

Record make_record(const WorkloadSpec& workload, int64_t index, std::mt19937_64& rng) {
  Record r;
  r.workload = workload;
  // ~1.5 KB of source, unique per candidate.
  r.candidate.source = "// candidate " + std::to_string(index) + "\nextern \"C\" int autokernel_kernel(...) {\n" +
                       std::string(1500, static_cast<char>('a' + index % 26)) + "\n}\n";
  r.candidate.language = "cuda";
  r.candidate.generator = rng() % 2 ? "template:rowwise" : "llm:agent";
  r.candidate.parameters_json = R"({"block": )" + std::to_string(64 << (rng() % 4)) + "}";
  EvaluationSpec& e = r.evaluation;
  e.device = "NVIDIA H100 80GB HBM3";
  e.driver_version = "580.65";
  e.cuda_version = "13.0";
  e.compiler_version = "nvcc 13.0";
  if (rng() % 10 < 7) {
    e.status = Verdict::kPassed;
    e.latency_ns = 1000 + static_cast<int64_t>(rng() % 1000000);
    e.speedup = 0.5 + static_cast<double>(rng() % 300) / 100.0;
    e.baseline_latency_ns = static_cast<int64_t>(static_cast<double>(*e.latency_ns) * *e.speedup);
    e.speedup_low = *e.speedup * 0.97;
    e.speedup_high = *e.speedup * 1.03;
    e.max_abs_error = 1e-3;
  } else {
    e.status = static_cast<Verdict>(1 + rng() % (ak::kernels::kVerdictCount - 1));
    e.failure_gate = "gate" + std::to_string(rng() % 4);
    e.failure_summary = "kernel.cu(42): error: identifier \"__shfl\" is undefined";
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: memory_bench [--workloads N] [--candidates N] [--batch N] [--queries N] [--classes N]"
                 " [--single-records N] [--path FILE] [--seed N]\n");
    return 2;
  }
  std::filesystem::path path = options.path.empty()
                                   ? std::filesystem::temp_directory_path() / ("memory_bench_" +
                                                                               std::to_string(::getpid()) + ".db")
                                   : std::filesystem::path(options.path);
  if (std::filesystem::exists(path)) {
    std::fprintf(stderr, "memory_bench: %s exists; give a new path\n", path.c_str());
    return 2;
  }
  auto opened = Store::open(path);
  if (!opened.is_ok()) {
    std::fprintf(stderr, "memory_bench: %s\n", opened.status().message().c_str());
    return 1;
  }
  Store& store = *opened.value();
  std::mt19937_64 rng(options.seed);

  std::vector<WorkloadSpec> workloads;
  for (int i = 0; i < options.workloads; ++i) workloads.push_back(random_workload(rng, options.classes));

  // Batched insert: candidate i evaluated on workload i % workloads.
  auto start = Clock::now();
  const double insert_cpu_start_ms = thread_cpu_ms();
  std::vector<Record> batch;
  for (int64_t i = 0; i < options.candidates; ++i) {
    batch.push_back(make_record(workloads[static_cast<size_t>(i % options.workloads)], i, rng));
    if (static_cast<int>(batch.size()) == options.batch || i + 1 == options.candidates) {
      auto ids = store.record_batch(batch);
      if (!ids.is_ok()) {
        std::fprintf(stderr, "memory_bench: %s\n", ids.status().message().c_str());
        return 1;
      }
      batch.clear();
    }
  }
  const double insert_s = seconds_since(start);
  const double insert_cpu_s = (thread_cpu_ms() - insert_cpu_start_ms) / 1e3;

  // One record per call, as `autokernel bench` records: one fsynced commit each.
  std::vector<double> single_ms;
  for (int i = 0; i < options.single_records; ++i) {
    Record r = make_record(workloads[rng() % workloads.size()], options.candidates + i, rng);
    auto t = Clock::now();
    if (!store.record(r).is_ok()) return 1;
    single_ms.push_back(seconds_since(t) * 1e3);
  }

  // Retrieval: shapes near recorded ones (each dim halved, kept or doubled), 1 in 4 exact.
  std::vector<double> search_ms;
  std::vector<double> search_cpu_ms;
  int64_t hits = 0;
  for (int q = 0; q < options.queries; ++q) {
    const WorkloadSpec& w = workloads[rng() % workloads.size()];
    Query query;
    query.op_type = w.op_type;
    query.dtype = w.dtypes[0];
    query.arch = "sm_90";
    query.shape = w.shape;
    if (q % 4 != 0)
      for (auto& d : query.shape[0]) d = std::max<int64_t>(1, rng() % 3 == 0 ? d / 2 : rng() % 2 ? d : d * 2);
    auto t = Clock::now();
    const double cpu = thread_cpu_ms();
    auto result = store.search(query);
    search_cpu_ms.push_back(thread_cpu_ms() - cpu);
    search_ms.push_back(seconds_since(t) * 1e3);
    if (!result.is_ok()) {
      std::fprintf(stderr, "memory_bench: %s\n", result.status().message().c_str());
      return 1;
    }
    hits += static_cast<int64_t>(result.value().exact.size() + result.value().nearest.size());
  }

  auto stats = store.stats();
  std::printf("memory_bench: %d workloads in %d op/dtype classes, %d candidates, %lld evaluations\n",
              options.workloads, options.classes, options.candidates,
              static_cast<long long>(stats.is_ok() ? stats.value().evaluations : -1));
  std::printf("  file: %s (%.1f MiB + WAL %.1f MiB)\n", path.c_str(),
              stats.is_ok() ? static_cast<double>(stats.value().file_size_bytes) / (1 << 20) : 0.0,
              stats.is_ok() ? static_cast<double>(stats.value().wal_size_bytes) / (1 << 20) : 0.0);
  std::printf("  batched insert (batch %d): %.0f evaluations/s (%.2f s for %d; CPU %.2f s)\n", options.batch,
              options.candidates / insert_s, insert_s, options.candidates, insert_cpu_s);
  std::printf("  single-record commits: median %.2f ms, p90 %.2f ms (%d records)\n", percentile(single_ms, 0.5),
              percentile(single_ms, 0.9), options.single_records);
  std::printf("  search (k=5, 3 per workload): median %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms (%d queries,"
              " %.1f workloads returned on average)\n",
              percentile(search_ms, 0.5), percentile(search_ms, 0.9), percentile(search_ms, 0.99),
              percentile(search_ms, 1.0), options.queries,
              options.queries > 0 ? static_cast<double>(hits) / options.queries : 0.0);
  std::printf("  search CPU time: median %.3f ms, p90 %.3f ms, p99 %.3f ms\n", percentile(search_cpu_ms, 0.5),
              percentile(search_cpu_ms, 0.9), percentile(search_cpu_ms, 0.99));
  opened.value().reset();
  if (options.path.empty()) {
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + "-wal");
    std::filesystem::remove(path.string() + "-shm");
  }
  return 0;
}
