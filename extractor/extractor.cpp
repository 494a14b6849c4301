// extract_model / extract_hotspots: task directories for a model's top hotspots.
#include "extractor/extractor.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include "base/remove_tree.h"
#include "base/strings.h"
#include "extractor/internal/axes.h"
#include "extractor/internal/capture.h"
#include "extractor/internal/plan.h"
#include "extractor/internal/starter.h"
#include "extractor/internal/attributes.h"
#include "kernels/build.h"
#include "kernels/task.h"
#include "kernels/templates.h"
#include "models/conformance.h"
#include "models/inputs.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "profiler/device_probe.h"
#include "profiler/workloads.h"

namespace ak::extractor {

namespace {

namespace fs = std::filesystem;
using internal::AxisNamer;
using internal::CapturedRun;
using internal::DimVariant;
using internal::TaskPlan;
using kernels::TaskTensor;

/// A task tensor's dtype as the runtime spells it (the same ONNX numbering).
models::DType dtype_of(const TaskTensor& t) { return static_cast<models::DType>(t.dtype); }

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return invalid_input("cannot write " + path.string());
  return Status::ok();
}

/// Creates `dir` if needed and proves it can be written, before any time is spent profiling.
Status prepare_out_dir(const fs::path& dir) {
  if (dir.empty()) return invalid_input("no output directory given (-o DIR)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return invalid_input("cannot create output directory " + dir.string() + ": " + ec.message());
  if (!fs::is_directory(dir)) return invalid_input("output directory " + dir.string() + " is not a directory");
  const fs::path probe = dir / ".autokernel-write-probe";
  Status st = write_text(probe, "");
  fs::remove(probe, ec);
  if (!st.is_ok()) return invalid_input("cannot write in output directory " + dir.string());
  return Status::ok();
}

Status check_options(const ExtractOptions& options) {
  if (options.top < 1) return invalid_input("--top must be at least 1 (got " + std::to_string(options.top) + ")");
  return prepare_out_dir(options.out_dir);
}

/// A task directory ready to be (re)written: the files autokernel writes are replaced, the
/// rest (an author's candidates, notes) is left alone.
Status prepare_task_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir) && !fs::is_directory(dir)) return invalid_input(dir.string() + " exists and is not a directory");
  for (const char* sub : {"inputs", "outputs"}) {
    ak::remove_tree(dir / sub);
    if (ec) return invalid_input("cannot clear " + (dir / sub).string() + ": " + ec.message());
    fs::create_directories(dir / sub, ec);
    if (ec) return invalid_input("cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  return Status::ok();
}

bool looks_like_mask(const std::string& name) {
  return ak::lower(name).find("mask") != std::string::npos;
}

// --- symbolic dimensions ----------------------------------------------------------------

struct Symbol {
  std::string param;
  int64_t value = 0;
};

/// The named symbolic dims of the runtime inputs, with their sizes in `inputs`.
std::vector<Symbol> symbolic_dims(const models::Session& session, const std::vector<models::TensorData>& inputs) {
  std::vector<Symbol> out;
  for (const models::ValueInfo* info : session.input_infos()) {
    auto t = std::find_if(inputs.begin(), inputs.end(), [&](const models::TensorData& x) { return x.name == info->name; });
    if (t == inputs.end()) continue;
    for (size_t k = 0; k < info->shape.size() && k < t->dims.size(); ++k) {
      const models::Dim& d = info->shape[k];
      if (d.is_fixed() || d.param.empty()) continue;
      if (std::none_of(out.begin(), out.end(), [&](const Symbol& s) { return s.param == d.param; }))
        out.push_back({d.param, t->dims[k]});
    }
  }
  return out;
}

/// Random inputs shaped like `inputs` with every dimension named `param` one larger
/// (resolve_inputs' rules for the values: ids below the embedding size, masks of ones).
Result<std::vector<models::TensorData>> variant_inputs(const models::Session& session,
                                                       const std::vector<models::TensorData>& inputs,
                                                       const std::string& param, uint64_t seed) {
  std::vector<models::InputSpec> specs;
  for (const models::ValueInfo* info : session.input_infos()) {
    auto t = std::find_if(inputs.begin(), inputs.end(), [&](const models::TensorData& x) { return x.name == info->name; });
    if (t == inputs.end()) return invalid_input("input '" + info->name + "' is missing");
    models::InputSpec spec;
    spec.name = info->name;
    spec.dtype = t->dtype;
    spec.dims = t->dims;
    for (size_t k = 0; k < info->shape.size() && k < spec.dims.size(); ++k)
      if (!info->shape[k].is_fixed() && info->shape[k].param == param) spec.dims[k] += 1;
    specs.push_back(std::move(spec));
  }
  AK_ASSIGN_OR_RETURN(models::ResolvedInputs resolved, models::resolve_inputs(session.model(), specs, {}, seed));
  return std::move(resolved.tensors);
}

// --- one task ---------------------------------------------------------------------------

/// What every task of one extraction shares.
struct Shared {
  const models::Model* model = nullptr;  ///< the executed model
  const CapturedRun* base = nullptr;
  const std::vector<DimVariant>* variants = nullptr;
  const profiler::Profile* profile = nullptr;
  const ExtractOptions* options = nullptr;
  models::Device device;
  std::string device_name;
  std::string arch;  ///< target.arch
};

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

/// "x: float32 [batch=2, n64=64]": one line of a skeleton's tensor list.
std::string tensor_line(const TaskTensor& e) {
  std::string s = e.name + ": " + models::dtype_name(dtype_of(e)) + " [";
  for (size_t i = 0; i < e.dims.size(); ++i) s += (i ? ", " : "") + e.axes[i] + "=" + std::to_string(e.dims[i]);
  return s + "]";
}

std::string kind_phrase(const std::string& kind) {
  if (kind == "attention") return "scaled dot-product attention";
  if (kind == "layer_norm") return "layer normalization";
  if (kind == "rms_norm") return "RMS normalization";
  if (kind == "residual_layer_norm") return "residual add and the layer normalization it feeds";
  if (kind == "residual_rms_norm") return "residual add and the RMS normalization it feeds";
  if (kind == "softmax") return "softmax";
  if (kind == "gelu") return "GELU activation";
  if (kind == "gemm_epilogue") return "matrix multiply with its bias/activation epilogue";
  if (kind == "conv_epilogue") return "convolution with its bias/activation epilogue";
  if (kind == "elementwise_chain") return "chain of elementwise ops";
  return kind;
}

std::string describe_task(const TaskPlan& plan, const models::Graph& graph, const std::vector<TaskTensor>& inputs,
                          const std::vector<TaskTensor>& outputs, const std::string& model_label) {
  const profiler::Hotspot& h = *plan.hotspot;
  auto list = [](const std::vector<TaskTensor>& entries) {
    std::string s;
    for (size_t i = 0; i < entries.size(); ++i)
      s += (i ? ", " : "") + entries[i].name + " " + models::dtype_name(dtype_of(entries[i])) + " " + dims_text(entries[i].dims);
    return s.empty() ? std::string("no inputs") : s;
  };
  std::string what;
  if (h.is_group) {
    std::string ops;
    for (size_t i : plan.nodes) ops += (ops.empty() ? "" : ", ") + graph.nodes[i].op_type;
    what = "A fused " + kind_phrase(h.kind) + " (" + std::to_string(plan.nodes.size()) + " nodes: " + ops + ")";
  } else {
    what = "One " + plan.op_type + " node";
  }
  const std::string first = graph.nodes[plan.nodes.front()].name;
  const std::string last = graph.nodes[plan.nodes.back()].name;
  std::string where = plan.nodes.size() == 1 ? "node '" + first + "'" : "nodes '" + first + "' .. '" + last + "'";
  std::string text = what + " computing " + list(outputs) + " from " + list(inputs) + ". Extracted from " + where +
                     " of " + model_label + " (workload rank " + std::to_string(h.rank) + ").";
  if (plan.workload && plan.workload->instances.size() > 1) {
    char share[32];
    std::snprintf(share, sizeof share, "%.1f%%", 100 * plan.workload->share);
    text += " The model computes the same thing " + std::to_string(plan.workload->instances.size()) +
            " times (listed in workload.instances), " + share + " of its time together.";
  }
  return text;
}

/// How the verifier should draw random values for input `name` (resolve_inputs' rules),
/// or "captured" for integers the model computes on the host from shapes.
void choose_fill(const Shared& s, const std::string& name, TaskTensor* e) {
  const models::Graph& graph = s.model->graph;
  if (models::is_floating(dtype_of(*e))) {
    e->fill = "normal";
    return;
  }
  if (dtype_of(*e) == models::DType::kBool) {
    e->fill = "bool";
    return;
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (std::find(graph.nodes[i].outputs.begin(), graph.nodes[i].outputs.end(), name) != graph.nodes[i].outputs.end() &&
        s.base->host_nodes.count(i)) {
      e->fill = "captured";
      return;
    }
  if (looks_like_mask(name)) {
    e->fill = "ones";
    return;
  }
  e->fill = "int";
  e->upper_bound = models::index_bound(graph, name).value_or(8);
}

/// The file of kernel argument `index`: "inputs/0_x.pb".
std::string value_file(const char* folder, size_t index, const std::string& name) {
  return std::string(folder) + "/" + std::to_string(index) + "_" + internal::slug(name, 60) + ".pb";
}

/// Tensor entries for `names` (captured in the base run), axes named by `namer`.
std::vector<TaskTensor> entries_for(const Shared& s, const std::vector<std::string>& names, const char* folder,
                                     AxisNamer& namer) {
  std::vector<TaskTensor> out;
  for (size_t i = 0; i < names.size(); ++i) {
    const models::TensorData& t = s.base->values.at(names[i]);
    TaskTensor e;
    e.name = names[i];
    e.dtype = static_cast<int32_t>(t.dtype);
    e.dims = t.dims;
    e.axes = namer.name_dims(names[i], t.dims);
    e.file = value_file(folder, i, names[i]);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<internal::ValueType> value_types(const std::vector<TaskTensor>& entries, const AxisNamer& namer) {
  std::vector<internal::ValueType> out;
  for (const TaskTensor& e : entries) {
    internal::ValueType v{e.name, dtype_of(e), e.dims, e.axes, {}};
    for (const auto& a : e.axes) v.axis_var.push_back(namer.is_var(a));
    out.push_back(std::move(v));
  }
  return out;
}

/// Runs subgraph.onnx (as written) on the captured inputs with the runtime, checks its
/// outputs against the whole model's and writes them as the reference.
Status write_reference_outputs(const Shared& s, const TaskPlan& plan, const fs::path& dir,
                               const std::vector<TaskTensor>& inputs, const std::vector<TaskTensor>& outputs) {
  const std::string task = "task " + plan.name;
  AK_ASSIGN_OR_RETURN(models::Model loaded, models::load_model(dir / "subgraph.onnx"));
  models::SessionOptions so;
  so.device = s.device;
  so.allow_tf32 = s.options->allow_tf32;
  auto session = models::Session::create(std::make_shared<const models::Model>(std::move(loaded)), so);
  if (!session.is_ok()) return internal_error(task + ": subgraph.onnx does not load: " + session.status().message());
  std::vector<models::TensorData> feed;
  for (const TaskTensor& e : inputs) feed.push_back(s.base->values.at(e.name));
  auto result = (*session)->run(feed);
  if (!result.is_ok()) return internal_error(task + ": subgraph.onnx does not run: " + result.status().message());
  const std::vector<models::TensorData>& got = *result;
  if (got.size() != outputs.size())
    return internal_error(task + ": subgraph.onnx made " + std::to_string(got.size()) + " outputs, expected " +
                          std::to_string(outputs.size()));
  for (size_t i = 0; i < outputs.size(); ++i) {
    const models::TensorData& whole = s.base->values.at(outputs[i].name);
    // The same ops on the same inputs and device: within the task's own tolerance.
    const kernels::Tolerance tol = kernels::default_tolerance(outputs[i].dtype, plan.hotspot->cost.op_class);
    models::HostValue expected, actual;
    expected.tensor = whole;
    actual.tensor = got[i];
    double max_abs = 0, max_rel = 0;
    const Status same = models::compare_values(expected, actual, tol.rtol, tol.atol, "output '" + outputs[i].name + "'",
                                               &max_abs, &max_rel);
    if (!same.is_ok())
      return internal_error(task + ": the subgraph's output '" + outputs[i].name +
                            "' differs from the whole model's value: " + same.message());
    models::TensorData reference = got[i];
    reference.name = outputs[i].name;
    AK_RETURN_IF_ERROR(models::save_tensor_file(reference, dir / outputs[i].file));
  }
  return Status::ok();
}

Result<TaskSummary> write_task(const Shared& s, TaskPlan plan) {
  const profiler::Hotspot& h = *plan.hotspot;
  const models::Graph& graph = s.model->graph;
  for (const auto* names : {&plan.inputs, &plan.outputs})
    for (const auto& v : *names)
      if (!s.base->values.count(v))
        return unsupported("value '" + v + "' is not a tensor the runtime exposes (a sequence or optional?)");

  const bool cuda = s.device.is_cuda();
  internal::StarterContext sc;
  sc.model = s.model;
  for (size_t i : plan.nodes) sc.nodes.push_back(&graph.nodes[i]);
  sc.kind = h.is_group ? h.kind : "node";
  sc.op_type = plan.op_type;
  sc.inputs = plan.inputs;
  sc.outputs = plan.outputs;
  sc.constants = &plan.constants;
  sc.shapes = &s.base->shapes;
  for (const auto* names : {&plan.inputs, &plan.outputs})
    for (const auto& v : *names) sc.dtypes[v] = s.base->values.at(v).dtype;
  sc.target = cuda ? kernels::Target::kCuda : kernels::Target::kCpu;
  sc.allow_tf32 = s.options->allow_tf32;
  {
    // Axis names in the plan's order, for the skeleton's tensor list; a skeleton keeps that
    // order, so these names are the ones task.json gets.
    AxisNamer namer(*s.variants);
    for (const auto& e : entries_for(s, plan.inputs, "inputs", namer)) sc.input_lines.push_back(tensor_line(e));
    for (const auto& e : entries_for(s, plan.outputs, "outputs", namer)) sc.output_lines.push_back(tensor_line(e));
  }
  internal::Starter starter = internal::make_starter(sc);
  plan.inputs = starter.inputs;

  AxisNamer namer(*s.variants);
  std::vector<TaskTensor> inputs = entries_for(s, plan.inputs, "inputs", namer);
  std::vector<TaskTensor> outputs = entries_for(s, plan.outputs, "outputs", namer);
  for (TaskTensor& e : inputs) choose_fill(s, e.name, &e);

  const fs::path dir = s.options->out_dir / plan.name;
  AK_RETURN_IF_ERROR(prepare_task_dir(dir));
  for (const TaskTensor& e : inputs) AK_RETURN_IF_ERROR(models::save_tensor_file(s.base->values.at(e.name), dir / e.file));
  const models::Model subgraph =
      internal::build_subgraph(*s.model, plan, value_types(inputs, namer), value_types(outputs, namer));
  AK_RETURN_IF_ERROR(models::save_model(subgraph, dir / "subgraph.onnx"));
  AK_RETURN_IF_ERROR(write_reference_outputs(s, plan, dir, inputs, outputs));

  TaskSummary summary;
  summary.rank = h.rank;
  summary.dir = dir;
  summary.name = plan.name;
  summary.op_type = plan.op_type;
  summary.starter_template = starter.template_name;
  summary.starter_file = cuda ? "starter.cu" : "starter.cpp";
  summary.baseline_us = static_cast<double>(h.time_ns) / 1e3;
  summary.share = h.share;
  summary.instances = plan.workload ? static_cast<int>(plan.workload->instances.size()) : 1;
  summary.inputs = plan.inputs;
  summary.outputs = plan.outputs;
  AK_RETURN_IF_ERROR(write_text(dir / summary.starter_file, starter.source));

  const std::string kind = h.is_group ? h.kind : "node";
  std::vector<const models::Node*> nodes;
  for (size_t i : plan.nodes) nodes.push_back(&graph.nodes[i]);
  kernels::Task t;
  t.name = plan.name;
  t.op_type = plan.op_type;
  t.description = describe_task(plan, graph, inputs, outputs, s.options->model_label);
  for (const internal::Axis& a : namer.axes()) t.axes.push_back({a.name, a.var, a.value});
  const models::DType out_dtype = dtype_of(outputs.front());
  t.tags = {"kind:" + kind,
            "op_class:" + std::string(h.cost.op_class),
            "bound:" + std::string(profiler::bound_name(h.roofline.bound)),
            "dtype:" + models::dtype_name(h.dtype == models::DType::kUndefined ? out_dtype : h.dtype),
            "device:" + s.device.str(),
            "template:" + starter.template_name};
  t.source.model = s.options->model_label;
  for (const models::Node* n : nodes) {
    t.source.nodes.push_back(n->name);
    if (std::find(t.source.op_types.begin(), t.source.op_types.end(), n->op_type) == t.source.op_types.end())
      t.source.op_types.push_back(n->op_type);
    if (std::find(t.tags.begin(), t.tags.end(), "op:" + n->op_type) == t.tags.end()) t.tags.push_back("op:" + n->op_type);
  }
  t.source.rank = h.rank;
  t.attributes_json = internal::attributes_json(nodes, kind == "node", plan.inputs, &plan.constants);
  t.flops = h.cost.flops;
  t.bytes = h.cost.bytes;
  t.op_class = h.cost.op_class;
  t.baseline = {summary.baseline_us, h.share, s.device.str(), s.device_name, s.profile->timing_source};
  t.tolerance = kernels::default_tolerance(outputs.front().dtype, h.cost.op_class);
  t.target = {cuda ? "cuda" : "cpu", s.arch, s.options->allow_tf32};
  t.seed = s.options->seed;
  t.starter = {summary.starter_file, starter.template_name};
  t.workload = plan.workload;
  t.inputs = std::move(inputs);
  t.outputs = std::move(outputs);
  AK_RETURN_IF_ERROR(kernels::write_task(dir, t));
  return summary;
}

}  // namespace

/// The hotspot (and its group, when several nodes) made of the nodes named in `names`.
static Result<std::pair<profiler::Hotspot, profiler::FusionGroup>> custom_hotspot(const models::Graph& graph,
                                                                          const profiler::Profile& profile,
                                                                          const profiler::Analysis& analysis,
                                                                          const std::vector<std::string>& names) {
  profiler::Hotspot h;
  profiler::FusionGroup g;
  for (const std::string& name : names) {
    auto it = std::find_if(graph.nodes.begin(), graph.nodes.end(), [&](const models::Node& n) { return n.name == name; });
    if (it == graph.nodes.end()) return invalid_input("--nodes: no node named '" + name + "' in the executed graph");
    const size_t index = static_cast<size_t>(it - graph.nodes.begin());
    if (std::find(h.nodes.begin(), h.nodes.end(), index) == h.nodes.end()) h.nodes.push_back(index);
  }
  std::sort(h.nodes.begin(), h.nodes.end());
  std::set<std::string> produced;
  for (size_t i : h.nodes)
    for (const auto& o : graph.nodes[i].outputs) produced.insert(o);
  for (size_t i : h.nodes) {
    for (const auto& in : graph.nodes[i].inputs)
      if (!in.empty() && !produced.count(in) && std::find(g.inputs.begin(), g.inputs.end(), in) == g.inputs.end())
        g.inputs.push_back(in);
    if (std::find(h.op_types.begin(), h.op_types.end(), graph.nodes[i].op_type) == h.op_types.end())
      h.op_types.push_back(graph.nodes[i].op_type);
    h.time_ns += profile.nodes[i].time.median_ns;
    h.kernels += std::lround(profile.nodes[i].launches_per_iter);
    h.cost.flops += analysis.nodes[i].cost.flops;
    h.dtype = analysis.nodes[i].dtype;
  }
  // Outputs: values the nodes make that anything outside them (or the graph) reads.
  for (size_t i : h.nodes)
    for (const auto& o : graph.nodes[i].outputs) {
      if (o.empty()) continue;
      bool used_outside = std::any_of(graph.outputs.begin(), graph.outputs.end(), [&](const models::ValueInfo& v) { return v.name == o; });
      for (size_t j = 0; j < graph.nodes.size() && !used_outside; ++j)
        if (!std::binary_search(h.nodes.begin(), h.nodes.end(), j))
          used_outside = std::find(graph.nodes[j].inputs.begin(), graph.nodes[j].inputs.end(), o) != graph.nodes[j].inputs.end();
      if (used_outside) g.outputs.push_back(o);
    }
  h.rank = 1;
  h.is_group = h.nodes.size() > 1;
  const bool all_elementwise = std::all_of(h.nodes.begin(), h.nodes.end(), [&](size_t i) {
    return std::string(profiler::op_class_of(graph.nodes[i])) == "elementwise";
  });
  h.kind = !h.is_group ? "node" : all_elementwise ? "elementwise_chain" : "custom";
  h.name = h.is_group ? "custom:" + graph.nodes[h.nodes.front()].name + ".." + graph.nodes[h.nodes.back()].name
                      : graph.nodes[h.nodes.front()].name;
  h.share = analysis.model_ns > 0 ? static_cast<double>(h.time_ns) / static_cast<double>(analysis.model_ns) : 0;
  h.cost.op_class = all_elementwise ? "elementwise" : "normalization";
  if (!h.is_group) h.cost = analysis.nodes[h.nodes.front()].cost;
  g.nodes = h.nodes;
  g.name = h.name;
  if (h.is_group) {
    // One kernel's bytes: only what the group reads from outside and writes out.
    std::vector<profiler::NodeShapes> shapes(graph.nodes.size());
    std::vector<profiler::NodeCost> costs(graph.nodes.size());
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const profiler::NodeProfile& p = profile.nodes[i];
      shapes[i] = {&graph.nodes[i], p.input_shapes, p.output_shapes, p.input_dtypes, p.output_dtypes};
      costs[i] = analysis.nodes[i].cost;
    }
    const char* op_class = h.cost.op_class;
    h.cost = profiler::group_cost(g, costs, profiler::value_bytes_of(shapes));
    h.cost.op_class = op_class;
  }
  return std::make_pair(std::move(h), std::move(g));
}

Result<ExtractReport> extract_hotspots(models::Session& session, const std::vector<models::TensorData>& inputs,
                                       const profiler::Profile& profile, const profiler::Analysis& analysis,
                                       const ExtractOptions& options) {
  AK_RETURN_IF_ERROR(check_options(options));
  ExtractReport report;
  report.timing_source = profile.timing_source;
  report.model_ns = analysis.model_ns;
  auto notice = [&](const std::string& line) {
    report.notices.push_back(line);
    if (options.on_notice) options.on_notice(line);
  };
  const models::Model& model = session.model();

  std::vector<TaskPlan> plans;
  std::set<std::string> wanted;
  std::vector<profiler::Hotspot> chosen;
  std::vector<kernels::TaskWorkload> chosen_workloads;  // parallel to `chosen`; empty for --nodes
  std::vector<profiler::FusionGroup> groups = analysis.groups;
  if (!options.nodes.empty()) {
    AK_ASSIGN_OR_RETURN(auto custom, custom_hotspot(model.graph, profile, analysis, options.nodes));
    chosen.push_back(std::move(custom.first));
    groups.push_back(std::move(custom.second));
  } else {
    AK_ASSIGN_OR_RETURN(std::vector<profiler::Workload> workloads,
                        profiler::rank_workloads(analysis, profile, model.graph));
    for (const profiler::Workload& w : workloads) {
      if (w.rank > options.top) break;
      // The task is the first instance's, standing for all: the workload's rank, summed
      // share and per-instance median time.
      profiler::Hotspot h = analysis.hotspots[w.instances.front()];
      h.rank = w.rank;
      h.share = w.share;
      h.time_ns = w.instance_median_ns;
      h.e2e_gain = w.e2e_gain;
      h.cumulative_speedup = w.cumulative_speedup;
      kernels::TaskWorkload tw{w.hash, w.key.structure_hash(), w.key.structure, {}, w.share};
      for (size_t i : w.instances) {
        std::vector<std::string> names;
        for (size_t n : analysis.hotspots[i].nodes) names.push_back(model.graph.nodes[n].name);
        tw.instances.push_back(std::move(names));
      }
      chosen.push_back(std::move(h));
      chosen_workloads.push_back(std::move(tw));
    }
  }
  for (size_t c = 0; c < chosen.size(); ++c) {
    const profiler::Hotspot& h = chosen[c];
    auto plan = internal::plan_task(model.graph, h, groups);
    if (!plan.is_ok()) {
      if (plan.status().code() != StatusCode::kUnsupported) return plan.status();
      notice("workload " + std::to_string(h.rank) + " '" + h.name + "' skipped: " + plan.status().message());
      continue;
    }
    for (const auto* names : {&plan->inputs, &plan->outputs}) wanted.insert(names->begin(), names->end());
    if (c < chosen_workloads.size()) plan->workload = chosen_workloads[c];
    plans.push_back(std::move(plan).value());
  }

  AK_ASSIGN_OR_RETURN(CapturedRun base, internal::capture_run(session, inputs, wanted));
  std::vector<DimVariant> variants;
  for (const auto& sym : symbolic_dims(session, inputs)) {
    DimVariant v;
    v.param = sym.param;
    v.base_value = sym.value;
    auto larger = variant_inputs(session, inputs, sym.param, options.seed);
    auto shapes = larger.is_ok() ? internal::shape_run(session, *larger) : Result<internal::ShapeMap>(larger.status());
    if (shapes.is_ok()) {
      v.ran = true;
      v.shapes = std::move(shapes).value();
    } else {
      notice("symbolic dim '" + sym.param + "' treated as const: the model does not run with " + sym.param + "=" +
             std::to_string(sym.value + 1) + " (" + shapes.status().message() + ")");
    }
    variants.push_back(std::move(v));
  }

  Shared shared;
  shared.model = &model;
  shared.base = &base;
  shared.variants = &variants;
  shared.profile = &profile;
  shared.options = &options;
  shared.device = session.device();
  shared.device_name = models::device_name(shared.device);
  shared.arch = "cpu";
  if (shared.device.is_cuda()) {
    if (!options.cuda_arch.empty()) {
      shared.arch = options.cuda_arch;
    } else if (auto arch = kernels::detect_cuda_arch(); arch.is_ok()) {
      shared.arch = *arch;
    } else {
      shared.arch = "";
      notice("target.arch left empty: " + arch.status().message());
    }
  }

  for (TaskPlan& plan : plans) {
    const profiler::Hotspot& h = *plan.hotspot;
    auto summary = write_task(shared, std::move(plan));
    if (!summary.is_ok()) {
      if (summary.status().code() != StatusCode::kUnsupported) return summary.status();
      notice("workload " + std::to_string(h.rank) + " '" + h.name + "' skipped: " + summary.status().message());
      continue;
    }
    if (options.on_task) options.on_task(*summary);
    report.tasks.push_back(std::move(summary).value());
  }
  return report;
}

namespace {

/// The shapes of the task's inner values that extract read from the model's run and
/// task.json does not hold (a residual group's sum when only its norm reads it): each
/// elementwise node's output is its operands' broadcast shape, where every operand's shape
/// is known (a kernel argument, a constant or an earlier inferred value).
void infer_elementwise_shapes(const std::vector<const models::Node*>& nodes,
                              const std::map<std::string, models::TensorData>& constants, internal::ShapeMap* shapes) {
  const auto& elementwise = kernels::supported_elementwise_ops();
  for (const models::Node* n : nodes) {
    if (n->outputs.size() != 1 || shapes->count(n->outputs[0])) continue;
    if (n->op_type != "Cast" && std::find(elementwise.begin(), elementwise.end(), n->op_type) == elementwise.end()) continue;
    std::vector<int64_t> out;
    bool known = !n->inputs.empty();
    for (const std::string& in : n->inputs) {
      std::vector<int64_t> dims;
      if (auto s = shapes->find(in); s != shapes->end()) {
        dims = s->second;
      } else if (auto c = constants.find(in); c != constants.end()) {
        dims = c->second.dims;
      } else {
        known = false;
        break;
      }
      if (dims.size() > out.size()) out.insert(out.begin(), dims.size() - out.size(), 1);
      for (size_t k = 0; k < dims.size(); ++k) {
        int64_t& o = out[out.size() - dims.size() + k];
        if (o == 1) o = dims[k];
        else if (dims[k] != 1 && dims[k] != o) known = false;
      }
    }
    if (known) (*shapes)[n->outputs[0]] = out;
  }
}

}  // namespace

Result<ConfiguredStarter> configured_starter(const std::filesystem::path& task_dir, const kernels::TemplateConfig& config) {
  AK_ASSIGN_OR_RETURN(const kernels::Task task, kernels::read_task(task_dir));
  const std::string where = "task " + task.dir.string();
  AK_ASSIGN_OR_RETURN(const models::Model subgraph, models::load_model(task.subgraph_path()));

  // The context extract gave make_starter, rebuilt from what it wrote: build_subgraph puts
  // the Constant nodes it copies first and the task's own nodes (source.nodes) last, and
  // keeps the other constants as initializers; the starter choice reads only the kernel
  // arguments' shapes and dtypes, which task.json holds.
  const std::vector<models::Node>& nodes = subgraph.graph.nodes;
  const size_t own = task.source.nodes.size();
  if (own == 0 || own > nodes.size())
    return invalid_input(where + ": subgraph.onnx does not hold the " + std::to_string(own) + " nodes task.json source.nodes names");
  const size_t copied = nodes.size() - own;
  std::map<std::string, models::TensorData> constants;
  for (const models::TensorData& t : subgraph.graph.initializers) constants[t.name] = t;
  internal::StarterContext sc;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i < copied) {
      auto t = internal::constant_node_tensor(nodes[i]);
      if (nodes[i].op_type != "Constant" || !t || nodes[i].outputs.empty())
        return invalid_input(where + ": subgraph.onnx node '" + nodes[i].name + "' is neither a copied Constant nor in source.nodes");
      constants[nodes[i].outputs[0]] = std::move(*t);
    } else if (nodes[i].name != task.source.nodes[i - copied]) {
      return invalid_input(where + ": subgraph.onnx node '" + nodes[i].name + "' is not source.nodes' '" +
                           task.source.nodes[i - copied] + "'");
    } else {
      sc.nodes.push_back(&nodes[i]);
    }
  }
  const auto kind_tag = std::find_if(task.tags.begin(), task.tags.end(), [](const std::string& t) { return t.rfind("kind:", 0) == 0; });
  if (kind_tag == task.tags.end()) return invalid_input(where + ": task.json has no \"kind:\" tag");
  internal::ShapeMap shapes;
  sc.model = &subgraph;
  sc.kind = kind_tag->substr(5);
  sc.op_type = task.op_type;
  sc.constants = &constants;
  sc.shapes = &shapes;
  for (const auto* tensors : {&task.inputs, &task.outputs})
    for (const TaskTensor& e : *tensors) {
      (tensors == &task.inputs ? sc.inputs : sc.outputs).push_back(e.name);
      (tensors == &task.inputs ? sc.input_lines : sc.output_lines).push_back(tensor_line(e));
      shapes[e.name] = e.dims;
      sc.dtypes[e.name] = dtype_of(e);
    }
  infer_elementwise_shapes(sc.nodes, constants, &shapes);
  sc.target = task.is_cuda() ? kernels::Target::kCuda : kernels::Target::kCpu;
  sc.allow_tf32 = task.target.allow_tf32;

  const internal::Starter chosen = internal::make_starter(sc);
  const std::optional<kernels::TemplateKind> kind = internal::template_kind_of(chosen.template_name);
  if (!kind) return invalid_input(where + " has no template starter (a skeleton: " + chosen.why_skeleton + ")");
  if (chosen.template_name != task.starter.template_name || chosen.inputs != sc.inputs)
    return invalid_input(where + ": this build chooses the " + chosen.template_name + " template" +
                         (chosen.inputs != sc.inputs ? " with other kernel inputs" : "") + ", task.json says " +
                         task.starter.template_name + " (extracted by another version: extract it again)");
  AK_RETURN_IF_ERROR(kernels::validate_template_config(*kind, sc.target, config).with_context(where));
  sc.config = config;
  internal::Starter configured = internal::make_starter(sc);
  if (configured.template_name != chosen.template_name)
    return internal_error(where + ": the " + chosen.template_name + " template failed: " + configured.why_skeleton);
  return ConfiguredStarter{configured.template_name, *kind, sc.target,
                           task.starter.file.empty() ? (task.is_cuda() ? "starter.cu" : "starter.cpp") : task.starter.file,
                           std::move(configured.source)};
}

Result<ExtractReport> extract_model(models::Session& session, const std::vector<models::TensorData>& inputs,
                                    const ExtractOptions& options) {
  AK_RETURN_IF_ERROR(check_options(options));
  std::string peaks_note;
  AK_ASSIGN_OR_RETURN(profiler::DevicePeaks peaks, profiler::peaks_for_device(session.device(), &peaks_note));
  AK_ASSIGN_OR_RETURN(profiler::Profile profile, profiler::profile_session(session, inputs, options.profile));
  AK_ASSIGN_OR_RETURN(profiler::Analysis analysis,
                      profiler::analyze(profile, session.model().graph, peaks, options.allow_tf32));
  return extract_hotspots(session, inputs, profile, analysis, options);
}

}  // namespace ak::extractor
