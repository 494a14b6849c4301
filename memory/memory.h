#pragma once
/// memory/: the project's memory of kernel optimizations, in one SQLite file.
///
/// It records workloads (what was optimized: op or fused pattern, attributes, dtypes,
/// layout, shapes, device architecture, where it came from), candidates (kernel source,
/// its hash, generator, parent, parameters), evaluations (device, versions, verifier
/// status, latencies, speedup with its interval, worst error, failure reason) and notes;
/// and it answers "what do we already know about this workload?" (search).
///
/// The umbrella header: memory/records.h (the values), memory/store.h (the SQLite file),
/// memory/report.h (JSON text). The schema, the distance used by search, the JSONL export
/// format and the durability guarantees are documented in docs/memory.md.

#include "memory/records.h"
#include "memory/report.h"
#include "memory/store.h"
