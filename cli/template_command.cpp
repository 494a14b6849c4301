// `autokernel template TASKDIR [--set NAME=VALUE]... [--list] [-o FILE] [--json]`: the task's
// template starter with chosen parameter values, or the template's parameters.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "cli/commands.h"
#include "extractor/extractor.h"

namespace ak::cli {

namespace {

struct TemplateArgs {
  std::string task_dir;
  std::vector<std::string> sets;
  bool list = false;
  std::string out_file;
  bool json = false;
};

/// The --set values as a configuration; a malformed one or a name given twice is bad input.
Result<kernels::TemplateConfig> parse_sets(const std::vector<std::string>& sets) {
  kernels::TemplateConfig config;
  for (const std::string& s : sets) {
    const size_t eq = s.find('=');
    const std::string name = eq == std::string::npos ? s : s.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : s.substr(eq + 1);
    size_t used = 0;
    int64_t number = 0;
    try {
      number = std::stoll(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (name.empty() || value.empty() || used != value.size())
      return invalid_input("--set '" + s + "': expected NAME=VALUE with an integer VALUE, e.g. --set unroll=4");
    if (!config.emplace(name, number).second) return invalid_input("--set: parameter '" + name + "' is given twice");
  }
  return config;
}

const char* target_name(kernels::Target target) { return target == kernels::Target::kCuda ? "cuda" : "cpu"; }

/// Every parameter of the starter's template with the value `config` gives it (else its default).
std::vector<std::pair<const kernels::TemplateParameter*, int64_t>> resolved(const extractor::ConfiguredStarter& s,
                                                                            const kernels::TemplateConfig& config) {
  std::vector<std::pair<const kernels::TemplateParameter*, int64_t>> out;
  for (const kernels::TemplateParameter& p : kernels::template_parameters(s.kind, s.target)) {
    const auto it = config.find(p.name);
    out.emplace_back(&p, it == config.end() ? p.default_value : it->second);
  }
  return out;
}

nlohmann::ordered_json head_json(const TemplateArgs& args, const extractor::ConfiguredStarter& s) {
  nlohmann::ordered_json j;
  j["task"] = args.task_dir;
  j["template"] = s.template_name;
  j["parameters_of"] = kernels::template_kind_name(s.kind);
  j["target"] = target_name(s.target);
  return j;
}

Status print_list(const TemplateArgs& args, const extractor::ConfiguredStarter& s) {
  const auto& parameters = kernels::template_parameters(s.kind, s.target);
  if (args.json) {
    nlohmann::ordered_json j = head_json(args, s);
    j["parameters"] = nlohmann::ordered_json::array();
    for (const kernels::TemplateParameter& p : parameters)
      j["parameters"].push_back({{"name", p.name}, {"values", p.values}, {"default", p.default_value}, {"doc", p.doc}});
    std::cout << j.dump(2) << std::endl;
    return Status::ok();
  }
  std::printf("%s: %s template (%s parameters, %s)\n", args.task_dir.c_str(), s.template_name.c_str(),
              kernels::template_kind_name(s.kind), target_name(s.target));
  std::printf("%-22s %-8s %-40s %s\n", "parameter", "default", "values", "what");
  for (const kernels::TemplateParameter& p : parameters) {
    std::printf("%-22s %-8lld %-40s %s\n", p.name.c_str(), static_cast<long long>(p.default_value),
                join(p.values, ",").c_str(), p.doc.c_str());
  }
  return Status::ok();
}

/// -o FILE must be what bench takes for the task: .cu for CUDA, .cpp for the CPU.
Status check_out_file(const std::string& file, const extractor::ConfiguredStarter& s) {
  const std::string want = s.target == kernels::Target::kCuda ? ".cu" : ".cpp";
  if (std::filesystem::path(file).extension() != want)
    return invalid_input("-o " + file + ": the starter of a " + (s.target == kernels::Target::kCuda ? "CUDA" : "CPU") +
                         " task is a " + want + " file");
  return Status::ok();
}

Status run(const TemplateArgs& args) {
  AK_ASSIGN_OR_RETURN(const kernels::TemplateConfig config, parse_sets(args.sets));
  AK_ASSIGN_OR_RETURN(const extractor::ConfiguredStarter s, extractor::configured_starter(args.task_dir, config));
  if (args.list) return print_list(args, s);
  if (!args.out_file.empty()) {
    AK_RETURN_IF_ERROR(check_out_file(args.out_file, s));
    std::ofstream out(args.out_file, std::ios::binary | std::ios::trunc);
    out << s.source;
    out.close();
    if (!out) return invalid_input("cannot write " + args.out_file);
  }
  if (args.json) {
    nlohmann::ordered_json j = head_json(args, s);
    j["configuration"] = nlohmann::ordered_json::object();
    for (const auto& [p, value] : resolved(s, config)) j["configuration"][p->name] = value;
    if (args.out_file.empty()) j["source"] = s.source;
    else j["file"] = args.out_file;
    std::cout << j.dump(2) << std::endl;
  } else if (args.out_file.empty()) {
    std::cout << s.source;
  } else {
    std::vector<std::string> summary;
    for (const auto& [p, value] : resolved(s, config)) summary.push_back(p->name + "=" + std::to_string(value));
    std::printf("%s: %s starter (%s) with %s\n", args.out_file.c_str(), s.template_name.c_str(), target_name(s.target),
                join(summary, " ").c_str());
  }
  return Status::ok();
}

}  // namespace

void add_template_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TemplateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "template", "Write a task's template starter with chosen parameter values, or list the template's parameters");
  cmd->add_option("task", args->task_dir, "Task directory from `autokernel extract`")->required();
  CLI::Option* set = cmd->add_option("--set", args->sets, "A parameter's value, NAME=VALUE (repeatable; the rest keep their defaults)")
                         ->expected(1)
                         ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  CLI::Option* list = cmd->add_flag("--list", args->list, "Print the template's parameters (name, values, default, what)");
  CLI::Option* out = cmd->add_option("-o,--out", args->out_file, "Write the starter to this file (.cpp for a CPU task, .cu for CUDA); default: stdout");
  list->excludes(set)->excludes(out);
  cmd->add_flag("--json", args->json, "Print one JSON object (without -o it holds the source)");
  cmd->callback([args, &exit_code] { exit_code = finish(run(*args)); });
}

}  // namespace ak::cli
