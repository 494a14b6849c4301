#pragma once
/// Options shared by every command that loads and runs a model: the model path,
/// --device, --input, --dim, --threads, --seed.

#include <memory>
#include <string>
#include <vector>

#include "models/inputs.h"
#include "models/session.h"

namespace CLI {
class App;
}

namespace ak::cli {

struct ModelOptions {
  std::string path;
  std::string device;  ///< empty: cuda when a GPU is usable, else cpu
  std::vector<std::string> inputs;
  std::vector<std::string> dims;
  int threads = 0;
  uint64_t seed = 0;
  bool tf32 = false;
  bool no_fuse = false;
  std::string kernels;  ///< a pack folder to swap in (`run --kernels`); empty: none
};

void add_model_options(CLI::App& cmd, ModelOptions& options);

struct LoadedModel {
  std::shared_ptr<const models::Model> model;
  std::unique_ptr<models::Session> session;
  models::ResolvedInputs inputs;
};

/// Loads the model, prepares a session on the chosen device and resolves its inputs.
Result<LoadedModel> load_model_with_inputs(const ModelOptions& options);

}  // namespace ak::cli
