// `autokernel conformance PATH...`: run ONNX test directories and compare outputs.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "models/conformance.h"

namespace ak::cli {

namespace {

struct ConformanceArgs {
  std::vector<std::string> paths;
  std::string device;
  std::optional<double> rtol, atol;
  std::string json_path;
};

int run(const ConformanceArgs& args) {
  models::ConformanceOptions options;
  if (args.device.empty()) {
    options.device = models::default_device();
  } else {
    auto device = models::Device::parse(args.device);
    if (!device) {
      print_error(device.status().message());
      return 2;
    }
    options.device = *device;
  }
  options.rtol = args.rtol;
  options.atol = args.atol;
  std::vector<std::filesystem::path> tests;
  for (const auto& p : args.paths) {
    auto found = models::find_conformance_tests(p);
    if (!found) {
      print_error(found.status().message());
      return 2;
    }
    tests.insert(tests.end(), found->begin(), found->end());
  }
  int passed = 0, failed = 0, unsupported = 0;
  nlohmann::json report = nlohmann::json::array();
  for (const auto& dir : tests) {
    models::ConformanceResult r = models::run_conformance_test(dir, options);
    switch (r.verdict) {
      case models::Verdict::kPass: ++passed; break;
      case models::Verdict::kFail: ++failed; break;
      case models::Verdict::kUnsupported: ++unsupported; break;
    }
    if (r.verdict == models::Verdict::kPass)
      std::printf("PASS         %s (%.2f s, max abs error %.3g)\n", r.name.c_str(), r.seconds, r.max_abs_error);
    else
      std::printf("%-12s %s: %s\n", models::verdict_name(r.verdict), r.name.c_str(), r.detail.c_str());
    std::fflush(stdout);
    report.push_back({{"name", r.name}, {"dir", r.dir.string()}, {"verdict", models::verdict_name(r.verdict)},
                      {"detail", r.detail}, {"max_abs_error", r.max_abs_error}, {"max_rel_error", r.max_rel_error},
                      {"data_sets", r.data_sets}, {"seconds", r.seconds}});
  }
  std::printf("conformance: %d passed, %d failed, %d unsupported\n", passed, failed, unsupported);
  if (!args.json_path.empty()) {
    std::ofstream out(args.json_path);
    nlohmann::json j = {{"schema", "autokernel.conformance/1"}, {"device", options.device.str()},
                        {"passed", passed}, {"failed", failed}, {"unsupported", unsupported}, {"tests", report}};
    out << j.dump(2) << "\n";
    if (!out) {
      print_error("cannot write '" + args.json_path + "'");
      return 2;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

void add_conformance_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ConformanceArgs>();
  CLI::App* cmd = app.add_subcommand("conformance", "Run ONNX test directories (model.onnx + test_data_set_*) and compare outputs");
  cmd->add_option("paths", args->paths, "Test directories, or folders of them")->required();
  cmd->add_option("--device", args->device, "cpu, cuda or cuda:N (default: cuda when a GPU is usable)");
  cmd->add_option("--rtol", args->rtol, "Relative tolerance (default 1e-3, or the test's data.json)");
  cmd->add_option("--atol", args->atol, "Absolute tolerance (default 1e-5, or the test's data.json)");
  cmd->add_option("--json", args->json_path, "Also write a JSON report to this file");
  cmd->callback([args, &exit_code] { exit_code = run(*args); });
}

}  // namespace ak::cli
