// memory_crash_writer PATH WRITER SEED: records batches into the memory at PATH forever,
// printing "ACK <evaluation id> <tag>" on stdout after each commit returns. The crash
// test SIGKILLs it at random moments and checks that every ACKed record survived.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "memory/memory.h"

namespace {

void write_all(const std::string& text) {
  const char* data = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, data, left);
    if (n <= 0) std::_Exit(5);
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ak::memory;
  if (argc != 4) {
    std::fprintf(stderr, "usage: memory_crash_writer PATH WRITER SEED\n");
    return 2;
  }
  const std::string writer = argv[2];
  const std::string seed = argv[3];
  auto opened = Store::open(argv[1]);
  if (!opened.is_ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().message().c_str());
    return 3;
  }
  Store& store = *opened.value();
  std::mt19937 rng(static_cast<unsigned>(std::stoul(seed)) * 7919u + static_cast<unsigned>(std::stoul(writer)));
  const char* ops[] = {"Softmax", "Relu", "LayerNormalization"};
  for (int64_t sequence = 0;; ++sequence) {
    const int count = 1 + static_cast<int>(rng() % 8);
    std::vector<Record> batch;
    std::vector<std::string> tags;
    for (int i = 0; i < count; ++i) {
      std::string tag = "w" + writer + "-r" + seed + "-s" + std::to_string(sequence) + "-" + std::to_string(i);
      Record record;
      // A small set of workloads, so that writers race on the same rows.
      record.workload.op_type = ops[rng() % 3];
      record.workload.dtypes = {"float16"};
      record.workload.shape = {{int64_t{1} << (rng() % 4), int64_t{64} << (rng() % 4)}};
      record.workload.arch = "sm_90";
      record.workload.source_model = "model" + std::to_string(rng() % 3) + ".onnx";
      record.workload.source_nodes = {"node" + std::to_string(rng() % 5)};
      // Some candidates repeat across writers too; the tag makes most unique.
      record.candidate.source = rng() % 4 == 0 ? "shared kernel " + std::to_string(rng() % 4)
                                               : "// " + tag + "\n" + std::string(200 + rng() % 2000, 'k');
      record.candidate.language = "cuda";
      record.candidate.generator = "crash-test";
      record.evaluation.status = static_cast<Verdict>(rng() % ak::kernels::kVerdictCount);
      record.evaluation.device = "crash-test device";
      record.evaluation.latency_ns = static_cast<int64_t>(1000 + rng() % 100000);
      record.evaluation.speedup = 0.5 + (rng() % 300) / 100.0;
      record.evaluation.failure_summary = tag;  // identifies the evaluation
      batch.push_back(std::move(record));
      tags.push_back(std::move(tag));
    }
    auto ids = store.record_batch(batch);
    if (!ids.is_ok()) {
      std::fprintf(stderr, "record: %s\n", ids.status().message().c_str());
      return 4;
    }
    std::string acks;
    for (size_t i = 0; i < tags.size(); ++i)
      acks += "ACK " + std::to_string(ids.value()[i].evaluation_id) + " " + tags[i] + "\n";
    write_all(acks);
  }
}
