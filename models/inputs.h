#pragma once
/// Model inputs from the command line: files, shapes with dtypes, and seeded random data.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/graph.h"

namespace ak::models {

/// One `--input` flag: `NAME=FILE.pb` (a TensorProto) or `NAME=1x3x224x224:float32`.
struct InputSpec {
  std::string name;
  std::optional<std::filesystem::path> file;
  std::vector<int64_t> dims;  ///< when no file
  DType dtype = DType::kUndefined;
};

/// Parses an `--input` value; the dtype after ':' is optional (the model's declared one).
Result<InputSpec> parse_input_spec(const std::string& text);
/// Parses a `--dim NAME=N` value.
Result<std::pair<std::string, int64_t>> parse_dim_spec(const std::string& text);

/// Where an input's data came from, for reports.
struct InputSource {
  std::string name;
  std::string source;  ///< "file:<path>", "random(seed=N)", ...
};

struct ResolvedInputs {
  std::vector<TensorData> tensors;        ///< one per runtime input, in the model's order
  std::vector<InputSource> sources;
  std::vector<std::string> notices;       ///< e.g. "symbolic dim 'batch' of input 'x' set to 1 (use --dim batch=N)"
  /// Dynamic dimensions set to 1 for want of a value: symbolic names ("width"), and
  /// "?INPUT" for an unnamed one of that input.
  std::vector<std::string> defaulted_dims;
};

/// Builds every runtime input of `model`: from `specs` where given, else random data with
/// `seed` shaped by the declared shape (symbolic dims from `dims`, default 1 with a notice).
/// Random data: floats N(0, 1); integer inputs that index an initializer through Gather
/// (an embedding) get ids below its row count; other integers in [0, 8); inputs named
/// like an attention mask get ones; bools are random.
Result<ResolvedInputs> resolve_inputs(const Model& model, const std::vector<InputSpec>& specs,
                                      const std::map<std::string, int64_t>& dims, uint64_t seed);

/// `status` (a failed run) with a note naming the dimensions that were defaulted to 1 and
/// how to set them, when any were: a model that needs a real width fails on width 1 (a
/// pooling window larger than the input) with an error that only names the tensor.
Status explain_defaulted_dims(const Status& status, const ResolvedInputs& inputs);

/// The exclusive upper bound for ids of integer input `name` if it indexes an embedding
/// table (an initializer gathered along axis 0, possibly through Cast/Reshape/Unsqueeze).
std::optional<int64_t> index_bound(const Graph& graph, const std::string& name);

}  // namespace ak::models
