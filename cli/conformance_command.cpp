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
  std::string known_path;
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
  models::KnownResults known;
  if (!args.known_path.empty()) {
    auto read = models::read_known_results(args.known_path);
    if (!read) {
      print_error(read.status().message());
      return 2;
    }
    known = std::move(read).value();
  }
  std::vector<std::filesystem::path> tests;
  for (const auto& p : args.paths) {
    auto found = models::find_conformance_tests(p);
    if (!found) {
      print_error(found.status().message());
      return 2;
    }
    tests.insert(tests.end(), found->begin(), found->end());
  }
  int passed = 0, failed = 0, unsupported = 0, listed = 0;
  std::vector<std::string> problems;  // what makes the run fail, one line each
  nlohmann::json report = nlohmann::json::array();
  for (const auto& dir : tests) {
    models::ConformanceResult r = models::run_conformance_test(dir, options);
    switch (r.outcome) {
      case models::Outcome::kPass: ++passed; break;
      case models::Outcome::kFail: ++failed; break;
      case models::Outcome::kUnsupported: ++unsupported; break;
    }
    const models::KnownResult* entry = nullptr;
    const models::Acceptance gate = models::gate_result(r, known, &entry);
    std::string note;
    if (gate == models::Acceptance::kKnown) {
      ++listed;
      note = " [known: " + entry->reason + "]";
    } else if (gate == models::Acceptance::kStale) {
      note = " [STALE: listed as " + std::string(models::outcome_name(entry->outcome)) + " in " + args.known_path +
             "; remove the entry]";
      problems.push_back(r.name + " passes but is listed as " + models::outcome_name(entry->outcome) + " in " +
                         args.known_path + " (stale entry: remove it)");
    } else if (gate == models::Acceptance::kUnexpected) {
      problems.push_back(r.name + " " + models::outcome_name(r.outcome) +
                         (entry ? std::string(" (listed as ") + models::outcome_name(entry->outcome) + ")" : ""));
    }
    if (r.outcome == models::Outcome::kPass)
      std::printf("PASS         %s (%.2f s, max abs error %.3g)%s\n", r.name.c_str(), r.seconds, r.max_abs_error, note.c_str());
    else
      std::printf("%-12s %s: %s%s\n", models::outcome_name(r.outcome), r.name.c_str(), r.detail.c_str(), note.c_str());
    std::fflush(stdout);
    report.push_back({{"name", r.name}, {"dir", r.dir.string()}, {"verdict", models::outcome_name(r.outcome)},
                      {"detail", r.detail}, {"max_abs_error", r.max_abs_error}, {"max_rel_error", r.max_rel_error},
                      {"data_sets", r.data_sets}, {"seconds", r.seconds}, {"known", gate == models::Acceptance::kKnown},
                      {"stale", gate == models::Acceptance::kStale}});
  }
  std::printf("conformance: %d passed, %d failed, %d unsupported", passed, failed, unsupported);
  if (!args.known_path.empty()) std::printf(" (%d known)", listed);
  std::printf("\n");
  if (!args.json_path.empty()) {
    std::ofstream out(args.json_path);
    nlohmann::json j = {{"schema", "autokernel.conformance/1"}, {"device", options.device.str()},
                        {"passed", passed}, {"failed", failed}, {"unsupported", unsupported}, {"known", listed},
                        {"problems", problems}, {"tests", report}};
    out << j.dump(2) << "\n";
    if (!out) {
      print_error("cannot write '" + args.json_path + "'");
      return 2;
    }
  }
  // Every FAIL or UNSUPPORTED not listed with its reason fails the run, and so does a
  // listed test that now passes: a case that drops to UNSUPPORTED must not pass silently.
  for (const auto& p : problems) std::printf("conformance: not accepted: %s\n", p.c_str());
  return problems.empty() ? 0 : 1;
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
  cmd->add_option("--known", args->known_path,
                  "Tests allowed not to pass: lines 'NAME FAIL|UNSUPPORTED REASON' (NAME: the test folder, or suite/test)");
  cmd->callback([args, &exit_code] { exit_code = run(*args); });
}

}  // namespace ak::cli
