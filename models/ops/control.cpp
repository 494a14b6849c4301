// Control flow (If, Loop, Scan, SequenceMap) and the sequence / optional value ops.
//
// Subgraphs are prepared once in the factories; a kernel only binds Values and calls
// GraphRunner::run. Loop conditions and trip counts are read on the host: the number of
// iterations decides what runs next, so that read cannot be avoided on a device.

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "models/aten_interop.h"
#include "models/ops/op_kernel.h"

namespace ak::models {
namespace {

/// Whether the node leaves input `i` out ("" or past the end). An empty optional that is
/// passed in is *not* omitted; OpContext::has_input cannot tell the two apart.
bool omitted(const Node& node, size_t i) { return i >= node.inputs.size() || node.inputs[i].empty(); }

const Graph* graph_attribute(const Node& node, const std::string& name) {
  const Attribute* a = node.find_attribute(name);
  return a != nullptr && a->g ? a->g.get() : nullptr;
}

/// Keeps the subgraph alive with the kernel: the Graph is owned by the model, but
/// holding the shared_ptr makes the kernel safe whatever outlives what.
std::shared_ptr<const Graph> graph_handle(const Node& node, const std::string& name) {
  const Attribute* a = node.find_attribute(name);
  return a != nullptr ? a->g : nullptr;
}

void set_value(OpContext& ctx, size_t i, Value v) {
  if (ctx.has_output(i)) ctx.output_value(i) = std::move(v);
}

void set_sequence(OpContext& ctx, size_t i, std::vector<at::Tensor> items, DType dtype) {
  if (!ctx.has_output(i)) return;
  Value& out = ctx.output_value(i);
  out.reset();
  out.kind = Value::Kind::kSequence;
  out.sequence = std::move(items);
  out.sequence_dtype = dtype;
}

const std::vector<at::Tensor>& sequence_input(OpContext& ctx, size_t i) {
  if (!ctx.has_input(i)) throw std::invalid_argument("input " + std::to_string(i) + " (a sequence) is missing");
  const Value& v = ctx.input_value(i);
  if (v.kind != Value::Kind::kSequence) throw std::invalid_argument("input " + std::to_string(i) + " is not a sequence");
  return v.sequence;
}

DType sequence_dtype_of(const Value& v) {
  if (v.sequence_dtype != DType::kUndefined) return v.sequence_dtype;
  return v.sequence.empty() ? DType::kUndefined : from_scalar_type(v.sequence.front().scalar_type());
}

bool read_condition(const at::Tensor& t, const char* what) {
  if (t.numel() != 1)
    throw std::invalid_argument(std::string(what) + " must hold one value, has " + std::to_string(t.numel()));
  return t.item().toBool();
}

void check_status(const Status& st) {
  if (!st.is_ok()) throw StatusError(st);
}

/// A position into a sequence of `size` elements; `allow_end` admits `size` (insertion).
int64_t sequence_position(int64_t pos, int64_t size, bool allow_end) {
  const int64_t hi = allow_end ? size : size - 1;
  if (pos < -size || pos > hi)
    throw std::invalid_argument("sequence position " + std::to_string(pos) + " is out of range for a sequence of " +
                                std::to_string(size) + " tensors");
  return pos < 0 ? pos + size : pos;
}

/// The empty stack of a scan output that saw no iteration: shaped from the body's
/// declared output (unknown dims become 0-sized too, there is nothing to stack).
at::Tensor empty_scan_output(const ValueInfo& info, const at::TensorOptions& options) {
  at::ScalarType type = at::kFloat;
  if (auto st = to_scalar_type(info.dtype)) type = *st;
  std::vector<int64_t> dims{0};
  if (info.has_shape)
    for (const Dim& d : info.shape) dims.push_back(d.is_fixed() ? d.value : 0);
  return at::empty(dims, options.dtype(type));
}

// ---------------------------------------------------------------------------------------
// If

Result<KernelPtr> make_if(const OpBuildInfo& info) {
  const Graph* then_branch = graph_attribute(info.node, "then_branch");
  const Graph* else_branch = graph_attribute(info.node, "else_branch");
  if (then_branch == nullptr || else_branch == nullptr) return invalid_input("If needs then_branch and else_branch graphs");
  const size_t outputs = info.node.outputs.size();
  if (then_branch->outputs.size() != outputs || else_branch->outputs.size() != outputs)
    return invalid_input("If branches must produce " + std::to_string(outputs) + " outputs, then_branch has " +
                         std::to_string(then_branch->outputs.size()) + ", else_branch " +
                         std::to_string(else_branch->outputs.size()));
  AK_RETURN_IF_ERROR(info.prepare_subgraph(*then_branch));
  AK_RETURN_IF_ERROR(info.prepare_subgraph(*else_branch));
  return make_kernel([](OpContext& ctx) -> Status {
    const bool cond = read_condition(ctx.host_input(0), "If condition");
    std::vector<Value> outs;
    AK_RETURN_IF_ERROR(ctx.subgraph(cond ? 0 : 1).run({}, &outs));
    for (size_t i = 0; i < outs.size(); ++i) set_value(ctx, i, std::move(outs[i]));
    return Status::ok();
  });
}

// ---------------------------------------------------------------------------------------
// Loop

Result<KernelPtr> make_loop(const OpBuildInfo& info) {
  auto body = graph_handle(info.node, "body");
  if (!body) return invalid_input("Loop needs a body graph");
  const size_t carried = info.node.inputs.size() < 2 ? 0 : info.node.inputs.size() - 2;
  if (body->runtime_inputs().size() != carried + 2)
    return invalid_input("Loop body takes " + std::to_string(body->runtime_inputs().size()) + " inputs, expected " +
                         std::to_string(carried + 2) + " (iteration number, condition, " + std::to_string(carried) +
                         " loop-carried values)");
  if (body->outputs.size() < carried + 1)
    return invalid_input("Loop body has " + std::to_string(body->outputs.size()) + " outputs, expected at least " +
                         std::to_string(carried + 1));
  const size_t scans = body->outputs.size() - 1 - carried;
  const bool has_trip_count = !omitted(info.node, 0);
  const bool has_cond = !omitted(info.node, 1);
  std::vector<bool> carried_present;
  for (size_t i = 0; i < carried; ++i) carried_present.push_back(!omitted(info.node, i + 2));
  AK_RETURN_IF_ERROR(info.prepare_subgraph(*body));

  return make_kernel([=](OpContext& ctx) -> Status {
    int64_t trip_count = std::numeric_limits<int64_t>::max();
    if (has_trip_count) {
      auto m = ctx.input_ints(0);
      if (m.size() != 1) throw std::invalid_argument("Loop trip count must hold one value");
      trip_count = m[0];
    }
    bool cond = has_cond ? read_condition(ctx.host_input(1), "Loop condition") : true;

    std::vector<Value> body_in(2 + carried);
    for (size_t i = 0; i < carried; ++i)
      if (carried_present[i]) body_in[2 + i] = ctx.input_value(2 + i);
    std::vector<std::vector<at::Tensor>> scan_items(scans);
    std::vector<Value> body_out;
    GraphRunner& runner = ctx.subgraph(0);
    for (int64_t it = 0; it < trip_count && cond; ++it) {
      // Iteration number and condition live on the host: bodies use them for shape
      // arithmetic (Slice bounds, Range), never as bulk device data.
      body_in[0].set_tensor(at::scalar_tensor(it, at::kLong));
      body_in[1].set_tensor(at::scalar_tensor(cond, at::kBool));
      AK_RETURN_IF_ERROR(runner.run(body_in, &body_out));
      if (body_out.size() != 1 + carried + scans)
        throw std::invalid_argument("Loop body returned " + std::to_string(body_out.size()) + " values");
      // Without a cond input the body's condition output is ignored: a plain for loop.
      if (has_cond) {
        if (!body_out[0].is_tensor()) throw std::invalid_argument("Loop body condition output is not a tensor");
        cond = read_condition(body_out[0].tensor, "Loop body condition");
      }
      for (size_t i = 0; i < carried; ++i) body_in[2 + i] = std::move(body_out[1 + i]);
      for (size_t k = 0; k < scans; ++k) {
        Value& v = body_out[1 + carried + k];
        if (!v.is_tensor()) throw std::invalid_argument("Loop scan output " + std::to_string(k) + " is not a tensor");
        scan_items[k].push_back(std::move(v.tensor));
      }
    }
    for (size_t i = 0; i < carried; ++i) set_value(ctx, i, std::move(body_in[2 + i]));
    for (size_t k = 0; k < scans; ++k) {
      if (!ctx.has_output(carried + k)) continue;
      ctx.set_output(carried + k, scan_items[k].empty() ? empty_scan_output(body->outputs[1 + carried + k], ctx.options())
                                                        : at::stack(scan_items[k], 0));
    }
    return Status::ok();
  });
}

// ---------------------------------------------------------------------------------------
// Scan

struct ScanSpec {
  size_t states = 0;
  size_t scan_inputs = 0;
  size_t scan_outputs = 0;
  std::vector<int64_t> input_axes, input_reverse, output_axes, output_reverse;
  std::shared_ptr<const Graph> body;
};

/// One scan over the whole length of `xs` (already without any batch axis). Returns the
/// final states followed by the stacked scan outputs.
std::vector<Value> run_scan(GraphRunner& runner, const ScanSpec& spec, std::vector<Value> states,
                            const std::vector<at::Tensor>& xs, const at::TensorOptions& options) {
  int64_t length = -1;
  std::vector<int64_t> axes(xs.size());
  for (size_t j = 0; j < xs.size(); ++j) {
    axes[j] = op_util::normalize_axis(spec.input_axes[j], xs[j].dim());
    const int64_t n = xs[j].size(axes[j]);
    if (length >= 0 && n != length)
      throw std::invalid_argument("Scan inputs have different sequence lengths: " + std::to_string(length) + " and " +
                                  std::to_string(n));
    length = n;
  }
  if (length < 0) length = 0;

  std::vector<Value> body_in(spec.states + xs.size());
  for (size_t i = 0; i < spec.states; ++i) body_in[i] = std::move(states[i]);
  std::vector<std::vector<at::Tensor>> items(spec.scan_outputs);
  std::vector<Value> body_out;
  for (int64_t t = 0; t < length; ++t) {
    for (size_t j = 0; j < xs.size(); ++j)
      body_in[spec.states + j].set_tensor(xs[j].select(axes[j], spec.input_reverse[j] ? length - 1 - t : t));
    check_status(runner.run(body_in, &body_out));
    if (body_out.size() != spec.states + spec.scan_outputs)
      throw std::invalid_argument("Scan body returned " + std::to_string(body_out.size()) + " values");
    for (size_t i = 0; i < spec.states; ++i) body_in[i] = std::move(body_out[i]);
    for (size_t k = 0; k < spec.scan_outputs; ++k) {
      Value& v = body_out[spec.states + k];
      if (!v.is_tensor()) throw std::invalid_argument("Scan output " + std::to_string(k) + " is not a tensor");
      items[k].push_back(std::move(v.tensor));
    }
  }
  std::vector<Value> result(spec.states + spec.scan_outputs);
  for (size_t i = 0; i < spec.states; ++i) result[i] = std::move(body_in[i]);
  for (size_t k = 0; k < spec.scan_outputs; ++k) {
    at::Tensor out;
    if (items[k].empty()) {
      out = empty_scan_output(spec.body->outputs[spec.states + k], options);
    } else {
      if (spec.output_reverse[k]) std::reverse(items[k].begin(), items[k].end());
      out = at::stack(items[k], op_util::normalize_axis(spec.output_axes[k], items[k].front().dim() + 1));
    }
    result[spec.states + k].set_tensor(std::move(out));
  }
  return result;
}

Result<ScanSpec> scan_spec(const OpBuildInfo& info, size_t leading_inputs) {
  ScanSpec spec;
  spec.body = graph_handle(info.node, "body");
  if (!spec.body) return invalid_input("Scan needs a body graph");
  const Node& node = info.node;
  if (!node.has_attribute("num_scan_inputs")) return invalid_input("Scan needs the num_scan_inputs attribute");
  const int64_t m = node.attr_int("num_scan_inputs", 0);
  if (m < 1 || static_cast<size_t>(m) + leading_inputs > node.inputs.size())
    return invalid_input("Scan has num_scan_inputs = " + std::to_string(m) + " but " +
                         std::to_string(node.inputs.size()) + " inputs");
  spec.scan_inputs = static_cast<size_t>(m);
  spec.states = node.inputs.size() - leading_inputs - spec.scan_inputs;
  if (spec.body->runtime_inputs().size() != spec.states + spec.scan_inputs)
    return invalid_input("Scan body takes " + std::to_string(spec.body->runtime_inputs().size()) + " inputs, expected " +
                         std::to_string(spec.states + spec.scan_inputs));
  if (spec.body->outputs.size() < spec.states)
    return invalid_input("Scan body has fewer outputs than there are state variables");
  spec.scan_outputs = spec.body->outputs.size() - spec.states;
  auto list = [&](const char* name, size_t n, std::vector<int64_t>* out) -> Status {
    *out = node.attr_ints(name);
    if (out->empty()) out->assign(n, 0);
    if (out->size() != n)
      return invalid_input(std::string("Scan attribute ") + name + " has " + std::to_string(out->size()) +
                           " entries, expected " + std::to_string(n));
    return Status::ok();
  };
  if (info.opset >= 9) {
    AK_RETURN_IF_ERROR(list("scan_input_axes", spec.scan_inputs, &spec.input_axes));
    AK_RETURN_IF_ERROR(list("scan_input_directions", spec.scan_inputs, &spec.input_reverse));
    AK_RETURN_IF_ERROR(list("scan_output_axes", spec.scan_outputs, &spec.output_axes));
    AK_RETURN_IF_ERROR(list("scan_output_directions", spec.scan_outputs, &spec.output_reverse));
  } else {
    AK_RETURN_IF_ERROR(list("directions", spec.scan_inputs, &spec.input_reverse));
    spec.input_axes.assign(spec.scan_inputs, 0);
    spec.output_axes.assign(spec.scan_outputs, 0);
    spec.output_reverse.assign(spec.scan_outputs, 0);
  }
  if (info.opset < 11) {
    for (int64_t a : spec.input_axes)
      if (a < 0) return invalid_input("Scan before opset 11 takes no negative scan_input_axes");
    for (int64_t a : spec.output_axes)
      if (a < 0) return invalid_input("Scan before opset 11 takes no negative scan_output_axes");
  }
  AK_RETURN_IF_ERROR(info.prepare_subgraph(*spec.body));
  return spec;
}

Result<KernelPtr> make_scan9(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(ScanSpec spec, scan_spec(info, 0));
  return make_kernel([spec](OpContext& ctx) {
    std::vector<Value> states(spec.states);
    for (size_t i = 0; i < spec.states; ++i) states[i] = ctx.input_value(i);
    std::vector<at::Tensor> xs;
    for (size_t j = 0; j < spec.scan_inputs; ++j) xs.push_back(ctx.input(spec.states + j));
    std::vector<Value> outs = run_scan(ctx.subgraph(0), spec, std::move(states), xs, ctx.options());
    for (size_t i = 0; i < outs.size(); ++i) set_value(ctx, i, std::move(outs[i]));
  });
}

/// Scan-8: every input carries a leading batch axis and scan inputs scan along axis 1.
Result<KernelPtr> make_scan8(const OpBuildInfo& info) {
  AK_ASSIGN_OR_RETURN(ScanSpec spec, scan_spec(info, 1));
  const bool has_lens = !omitted(info.node, 0);
  return make_kernel([spec, has_lens](OpContext& ctx) {
    std::vector<at::Tensor> states, xs;
    for (size_t i = 0; i < spec.states; ++i) states.push_back(ctx.input(1 + i));
    for (size_t j = 0; j < spec.scan_inputs; ++j) xs.push_back(ctx.input(1 + spec.states + j));
    const int64_t batch = xs.front().dim() > 0 ? xs.front().size(0) : 0;
    if (has_lens) {
      const int64_t length = xs.front().dim() > 1 ? xs.front().size(1) : 0;
      for (int64_t n : ctx.input_ints(0))
        if (n != length)
          throw std::invalid_argument("Scan-8 with sequence_lens shorter than the scan axis (" + std::to_string(n) +
                                      " < " + std::to_string(length) + ") is not supported");
    }
    std::vector<std::vector<at::Tensor>> per_batch(spec.states + spec.scan_outputs);
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<Value> st(spec.states);
      for (size_t i = 0; i < spec.states; ++i) st[i].set_tensor(states[i].select(0, b));
      std::vector<at::Tensor> xb;
      for (const auto& x : xs) xb.push_back(x.select(0, b));
      std::vector<Value> outs = run_scan(ctx.subgraph(0), spec, std::move(st), xb, ctx.options());
      for (size_t i = 0; i < outs.size(); ++i) {
        if (!outs[i].is_tensor()) throw std::invalid_argument("Scan-8 state " + std::to_string(i) + " is not a tensor");
        per_batch[i].push_back(std::move(outs[i].tensor));
      }
    }
    for (size_t i = 0; i < per_batch.size(); ++i) {
      if (!ctx.has_output(i)) continue;
      if (per_batch[i].empty())
        throw std::invalid_argument("Scan-8 over an empty batch has no defined output shape");
      ctx.set_output(i, at::stack(per_batch[i], 0));
    }
  });
}

// ---------------------------------------------------------------------------------------
// SequenceMap

Result<KernelPtr> make_sequence_map(const OpBuildInfo& info) {
  auto body = graph_handle(info.node, "body");
  if (!body) return invalid_input("SequenceMap needs a body graph");
  const size_t inputs = info.node.inputs.size();
  if (body->runtime_inputs().size() != inputs)
    return invalid_input("SequenceMap body takes " + std::to_string(body->runtime_inputs().size()) + " inputs, the node has " +
                         std::to_string(inputs));
  if (body->outputs.size() != info.node.outputs.size())
    return invalid_input("SequenceMap body has " + std::to_string(body->outputs.size()) + " outputs, the node " +
                         std::to_string(info.node.outputs.size()));
  AK_RETURN_IF_ERROR(info.prepare_subgraph(*body));
  return make_kernel([body, inputs](OpContext& ctx) -> Status {
    const size_t count = sequence_input(ctx, 0).size();
    for (size_t j = 1; j < inputs; ++j) {
      const Value& v = ctx.input_value(j);
      if (v.kind == Value::Kind::kSequence && v.sequence.size() != count)
        throw std::invalid_argument("SequenceMap input " + std::to_string(j) + " has " +
                                    std::to_string(v.sequence.size()) + " tensors, the first sequence " +
                                    std::to_string(count));
    }
    std::vector<std::vector<at::Tensor>> results(body->outputs.size());
    std::vector<Value> body_in(inputs), body_out;
    for (size_t i = 0; i < count; ++i) {
      for (size_t j = 0; j < inputs; ++j) {
        const Value& v = ctx.input_value(j);
        if (v.kind == Value::Kind::kSequence) body_in[j].set_tensor(v.sequence[i]);
        else body_in[j] = v;
      }
      AK_RETURN_IF_ERROR(ctx.subgraph(0).run(body_in, &body_out));
      for (size_t k = 0; k < results.size(); ++k) {
        if (!body_out[k].is_tensor()) throw std::invalid_argument("SequenceMap body output " + std::to_string(k) + " is not a tensor");
        results[k].push_back(std::move(body_out[k].tensor));
      }
    }
    for (size_t k = 0; k < results.size(); ++k) {
      DType dtype = results[k].empty() ? body->outputs[k].dtype : from_scalar_type(results[k].front().scalar_type());
      set_sequence(ctx, k, std::move(results[k]), dtype);
    }
    return Status::ok();
  });
}

// ---------------------------------------------------------------------------------------
// Sequences

Result<KernelPtr> make_sequence_empty(const OpBuildInfo& info) {
  const auto dtype = static_cast<DType>(info.node.attr_int("dtype", static_cast<int64_t>(DType::kFloat32)));
  return make_kernel([dtype](OpContext& ctx) { set_sequence(ctx, 0, {}, dtype); });
}

void sequence_construct(OpContext& ctx) {
  std::vector<at::Tensor> items;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    items.push_back(ctx.input(i));
    if (items.back().scalar_type() != items.front().scalar_type())
      throw std::invalid_argument("SequenceConstruct inputs have different dtypes");
  }
  if (items.empty()) throw std::invalid_argument("SequenceConstruct needs at least one input");
  const DType dtype = from_scalar_type(items.front().scalar_type());
  set_sequence(ctx, 0, std::move(items), dtype);
}

void sequence_at(OpContext& ctx) {
  const auto& seq = sequence_input(ctx, 0);
  auto pos = ctx.input_ints(1);
  if (pos.size() != 1) throw std::invalid_argument("SequenceAt position must be a scalar");
  ctx.set_output(0, seq[sequence_position(pos[0], static_cast<int64_t>(seq.size()), false)]);
}

void sequence_insert(OpContext& ctx) {
  const Value& in = ctx.input_value(0);
  sequence_input(ctx, 0);
  const at::Tensor& t = ctx.input(1);
  if (!in.sequence.empty() && in.sequence.front().scalar_type() != t.scalar_type())
    throw std::invalid_argument("SequenceInsert: tensor dtype " + dtype_name(from_scalar_type(t.scalar_type())) +
                                " differs from the sequence's " +
                                dtype_name(from_scalar_type(in.sequence.front().scalar_type())));
  const int64_t size = static_cast<int64_t>(in.sequence.size());
  int64_t pos = size;
  if (ctx.has_input(2)) {
    auto p = ctx.input_ints(2);
    if (p.size() != 1) throw std::invalid_argument("SequenceInsert position must be a scalar");
    pos = sequence_position(p[0], size, true);
  }
  std::vector<at::Tensor> items = in.sequence;
  items.insert(items.begin() + pos, t);
  set_sequence(ctx, 0, std::move(items), from_scalar_type(t.scalar_type()));
}

void sequence_erase(OpContext& ctx) {
  const Value& in = ctx.input_value(0);
  sequence_input(ctx, 0);
  const int64_t size = static_cast<int64_t>(in.sequence.size());
  int64_t pos = size - 1;
  if (ctx.has_input(1)) {
    auto p = ctx.input_ints(1);
    if (p.size() != 1) throw std::invalid_argument("SequenceErase position must be a scalar");
    pos = p[0];
  }
  pos = sequence_position(pos, size, false);
  std::vector<at::Tensor> items = in.sequence;
  items.erase(items.begin() + pos);
  set_sequence(ctx, 0, std::move(items), sequence_dtype_of(in));
}

void sequence_length(OpContext& ctx) {
  // A host scalar: consumers use it as shape arithmetic or a loop bound.
  ctx.set_output(0, at::scalar_tensor(static_cast<int64_t>(sequence_input(ctx, 0).size()), at::kLong));
}

Result<KernelPtr> make_split_to_sequence(const OpBuildInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 0);
  const bool keepdims = info.node.attr_int("keepdims", 1) != 0;
  return make_kernel([axis, keepdims](OpContext& ctx) {
    const at::Tensor& x = ctx.input(0);
    const int64_t a = op_util::normalize_axis(axis, x.dim());
    std::vector<at::Tensor> items;
    if (ctx.has_input(1)) {
      const bool scalar = ctx.host_input(1).dim() == 0;
      auto split = ctx.input_ints(1);
      if (scalar) {
        if (split[0] <= 0) throw std::invalid_argument("SplitToSequence split must be positive, got " + std::to_string(split[0]));
        items = at::split(x, split[0], a);
      } else {
        int64_t total = 0;
        for (int64_t s : split) {
          if (s < 0) throw std::invalid_argument("SplitToSequence split sizes must not be negative");
          total += s;
        }
        if (total != x.size(a))
          throw std::invalid_argument("SplitToSequence split sizes sum to " + std::to_string(total) + ", axis " +
                                      std::to_string(a) + " has " + std::to_string(x.size(a)));
        items = at::split_with_sizes(x, split, a);
      }
    } else {
      items = at::split(x, 1, a);
      if (!keepdims)
        for (auto& t : items) t = t.squeeze(a);
    }
    set_sequence(ctx, 0, std::move(items), from_scalar_type(x.scalar_type()));
  });
}

Result<KernelPtr> make_concat_from_sequence(const OpBuildInfo& info) {
  if (!info.node.has_attribute("axis")) return invalid_input("ConcatFromSequence needs the axis attribute");
  const int64_t axis = info.node.attr_int("axis", 0);
  const bool new_axis = info.node.attr_int("new_axis", 0) != 0;
  return make_kernel([axis, new_axis](OpContext& ctx) {
    const auto& seq = sequence_input(ctx, 0);
    if (seq.empty()) throw std::invalid_argument("ConcatFromSequence of an empty sequence");
    const int64_t rank = seq.front().dim();
    if (new_axis) ctx.set_output(0, at::stack(seq, op_util::normalize_axis(axis, rank + 1)));
    else ctx.set_output(0, at::cat(seq, op_util::normalize_axis(axis, rank)));
  });
}

// ---------------------------------------------------------------------------------------
// Optionals

Result<KernelPtr> make_optional(const OpBuildInfo& info) {
  const bool has_input = !omitted(info.node, 0);
  if (!has_input && !info.node.has_attribute("type"))
    return invalid_input("Optional without an input needs the type attribute");
  return make_kernel([has_input](OpContext& ctx) {
    if (!ctx.has_output(0)) return;
    if (has_input) ctx.output_value(0) = ctx.input_value(0);
    else ctx.output_value(0).reset();
  });
}

Result<KernelPtr> make_optional_has_element(const OpBuildInfo& info) {
  const bool has_input = !omitted(info.node, 0);
  if (!has_input && info.opset < 18) return invalid_input("OptionalHasElement before opset 18 needs an input");
  return make_kernel([has_input](OpContext& ctx) {
    const bool present = has_input && ctx.input_value(0).kind != Value::Kind::kEmpty;
    ctx.set_output(0, at::scalar_tensor(present, at::kBool));
  });
}

Result<KernelPtr> make_optional_get_element(const OpBuildInfo& info) {
  if (omitted(info.node, 0)) return invalid_input("OptionalGetElement needs an input");
  return make_kernel([](OpContext& ctx) {
    const Value& in = ctx.input_value(0);
    if (in.kind == Value::Kind::kEmpty) throw std::invalid_argument("OptionalGetElement of an empty optional");
    set_value(ctx, 0, in);
  });
}

}  // namespace

void register_control_ops(OpRegistry& r) {
  r.add("If", 1, make_if);
  r.add("Loop", 1, make_loop);
  r.add("Scan", 8, make_scan8);
  r.add("Scan", 9, make_scan9);
  r.add("SequenceMap", 17, make_sequence_map);

  r.add("SequenceEmpty", 11, make_sequence_empty);
  r.add_simple("SequenceConstruct", 11, sequence_construct);
  r.add_simple("SequenceAt", 11, sequence_at);
  r.add_simple("SequenceInsert", 11, sequence_insert);
  r.add_simple("SequenceErase", 11, sequence_erase);
  r.add_simple("SequenceLength", 11, sequence_length);
  r.add("SplitToSequence", 11, make_split_to_sequence);
  r.add("ConcatFromSequence", 11, make_concat_from_sequence);

  r.add("Optional", 15, make_optional);
  r.add("OptionalHasElement", 15, make_optional_has_element);
  r.add("OptionalGetElement", 15, make_optional_get_element);
}

}  // namespace ak::models
