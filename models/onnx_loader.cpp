// ONNX protobuf <-> IR. The only translation unit that includes onnx.pb.h; it must not
// see torch's include folders (pip's torch ships its own, older protobuf headers).

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "base/file.h"
#include "models/onnx_io.h"
#include "onnx/onnx-data.pb.h"
#include "onnx/onnx-ml.pb.h"

namespace fs = std::filesystem;

namespace ak::models {
namespace {

/// A read-only mapping of a whole file, unmapped when the last Buffer using it goes.
struct MappedFile {
  void* addr = nullptr;
  size_t size = 0;
  ~MappedFile() {
    if (addr != nullptr && addr != MAP_FAILED) munmap(addr, size);
  }
};

Result<std::shared_ptr<MappedFile>> map_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return invalid_input("cannot open '" + path.string() + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_input("'" + path.string() + "' is not a regular file");
  }
  auto file = std::make_shared<MappedFile>();
  file->size = static_cast<size_t>(st.st_size);
  if (file->size > 0) {
    file->addr = mmap(nullptr, file->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file->addr == MAP_FAILED) {
      ::close(fd);
      return invalid_input("cannot map '" + path.string() + "': " + std::strerror(errno));
    }
  }
  ::close(fd);
  return file;
}

/// Resolves external-data `location` inside `base_dir`, refusing escapes.
Result<fs::path> resolve_external(const fs::path& base_dir, const std::string& location, const std::string& tensor) {
  const std::string where = "tensor '" + tensor + "': external data '" + location + "'";
  if (base_dir.empty()) return invalid_input(where + " cannot be resolved (model not loaded from a file)");
  if (location.empty()) return invalid_input(where + " has no location");
  fs::path rel(location);
  if (rel.is_absolute() || location.front() == '/' || location.front() == '\\')
    return invalid_input(where + " is an absolute path; only paths inside the model's folder are allowed");
  for (const auto& part : rel)
    if (part == "..") return invalid_input(where + " contains '..'; only paths inside the model's folder are allowed");
  std::error_code ec;
  fs::path base = fs::canonical(base_dir, ec);
  if (ec) return invalid_input(where + ": cannot resolve the model's folder");
  fs::path full = fs::canonical(base / rel, ec);
  if (ec) return invalid_input(where + " is missing (looked for '" + (base_dir / rel).string() + "')");
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end()) return invalid_input(where + " resolves outside the model's folder (through a link)");
  return full;
}

class Reader {
 public:
  explicit Reader(fs::path base_dir) : base_dir_(std::move(base_dir)) {}

  Result<TensorData> tensor(const onnx::TensorProto& p) {
    TensorData t;
    t.name = p.name();
    const std::string what = "tensor '" + p.name() + "'";
    if (!onnx::TensorProto_DataType_IsValid(p.data_type()) || p.data_type() == 0)
      return invalid_input(what + " has an invalid data_type " + std::to_string(p.data_type()));
    t.dtype = static_cast<DType>(p.data_type());
    int64_t numel = 1;
    for (int64_t d : p.dims()) {
      if (d < 0) return invalid_input(what + " has a negative dimension " + std::to_string(d));
      if (d > 0 && numel > INT64_MAX / d) return invalid_input(what + " has too many elements");
      numel *= d;
      t.dims.push_back(d);
    }
    if (p.has_segment()) return unsupported(what + " is segmented (TensorProto.segment)");
    if (t.dtype == DType::kString) {
      if (static_cast<int64_t>(p.string_data_size()) != numel)
        return invalid_input(what + ": " + std::to_string(p.string_data_size()) + " strings for " +
                             std::to_string(numel) + " elements");
      t.strings.assign(p.string_data().begin(), p.string_data().end());
      return t;
    }
    const size_t elem = dtype_size(t.dtype);
    if (elem == 0) return unsupported(what + " has unsupported dtype " + dtype_name(t.dtype));
    if (numel > 0 && static_cast<uint64_t>(numel) > SIZE_MAX / elem) return invalid_input(what + " is too large");
    const size_t want = static_cast<size_t>(numel) * elem;

    if (p.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
      std::string location;
      int64_t offset = 0, length = -1;
      for (const auto& kv : p.external_data()) {
        try {
          if (kv.key() == "location") location = kv.value();
          else if (kv.key() == "offset") offset = std::stoll(kv.value());
          else if (kv.key() == "length") length = std::stoll(kv.value());
        } catch (const std::exception&) {
          return invalid_input(what + ": external_data '" + kv.key() + "' is not a number: '" + kv.value() + "'");
        }
      }
      AK_ASSIGN_OR_RETURN(fs::path file, resolve_external(base_dir_, location, p.name()));
      auto it = mapped_.find(file.string());
      if (it == mapped_.end()) {
        AK_ASSIGN_OR_RETURN(auto m, map_file(file));
        it = mapped_.emplace(file.string(), std::move(m)).first;
      }
      const auto& m = it->second;
      if (length < 0) length = static_cast<int64_t>(want);
      if (offset < 0 || static_cast<uint64_t>(offset) > m->size || static_cast<uint64_t>(length) > m->size - offset)
        return invalid_input(what + ": external data range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                             ") is past the end of '" + location + "' (" + std::to_string(m->size) + " bytes)");
      if (static_cast<size_t>(length) != want)
        return invalid_input(what + ": external data holds " + std::to_string(length) + " bytes, expected " +
                             std::to_string(want) + " for shape " + t.shape_string() + " " + dtype_name(t.dtype));
      t.bytes.data = static_cast<const std::byte*>(m->addr) + offset;
      t.bytes.size_bytes = want;
      t.bytes.owner = m;
      return t;
    }

    if (p.has_raw_data()) {
      if (p.raw_data().size() != want)
        return invalid_input(what + ": raw_data holds " + std::to_string(p.raw_data().size()) + " bytes, expected " +
                             std::to_string(want) + " for shape " + t.shape_string() + " " + dtype_name(t.dtype));
      t.bytes = Buffer::copy_of(p.raw_data().data(), want);
      return t;
    }
    // Typed fields. int32_data also carries the 8/16-bit types and bool (one per element).
    auto size_error = [&](int64_t have) {
      return invalid_input(what + ": holds " + std::to_string(have) + " values, expected " + std::to_string(numel) +
                           " for shape " + t.shape_string());
    };
    std::vector<std::byte> out(want);
    auto fill = [&](const auto& field, auto convert) -> Status {
      if (static_cast<int64_t>(field.size()) != numel) return size_error(field.size());
      for (int64_t i = 0; i < numel; ++i) {
        auto v = convert(field.Get(static_cast<int>(i)));
        std::memcpy(out.data() + i * elem, &v, elem);
      }
      return Status::ok();
    };
    Status st;
    switch (t.dtype) {
      case DType::kFloat32: st = fill(p.float_data(), [](float v) { return v; }); break;
      case DType::kFloat64: st = fill(p.double_data(), [](double v) { return v; }); break;
      case DType::kInt64: st = fill(p.int64_data(), [](int64_t v) { return v; }); break;
      case DType::kInt32: st = fill(p.int32_data(), [](int32_t v) { return v; }); break;
      case DType::kInt16: st = fill(p.int32_data(), [](int32_t v) { return static_cast<int16_t>(v); }); break;
      case DType::kUInt16:
      case DType::kFloat16:
      case DType::kBFloat16: st = fill(p.int32_data(), [](int32_t v) { return static_cast<uint16_t>(v); }); break;
      case DType::kInt8: st = fill(p.int32_data(), [](int32_t v) { return static_cast<int8_t>(v); }); break;
      case DType::kUInt8:
      case DType::kBool: st = fill(p.int32_data(), [](int32_t v) { return static_cast<uint8_t>(v); }); break;
      case DType::kUInt32: st = fill(p.uint64_data(), [](uint64_t v) { return static_cast<uint32_t>(v); }); break;
      case DType::kUInt64: st = fill(p.uint64_data(), [](uint64_t v) { return v; }); break;
      case DType::kComplex64: {
        if (p.float_data_size() != 2 * numel) return size_error(p.float_data_size() / 2);
        std::memcpy(out.data(), p.float_data().data(), want);
        break;
      }
      case DType::kComplex128: {
        if (p.double_data_size() != 2 * numel) return size_error(p.double_data_size() / 2);
        std::memcpy(out.data(), p.double_data().data(), want);
        break;
      }
      default: return unsupported(what + " has unsupported dtype " + dtype_name(t.dtype));
    }
    AK_RETURN_IF_ERROR(st);
    t.bytes = Buffer::copy_of(out.data(), out.size());
    return t;
  }

  ValueInfo value_info(const onnx::ValueInfoProto& p) {
    ValueInfo v;
    v.name = p.name();
    const onnx::TypeProto* type = &p.type();
    if (type->has_sequence_type()) {
      v.kind = ValueInfo::Kind::kSequence;
      type = &type->sequence_type().elem_type();
    } else if (type->has_optional_type()) {
      v.kind = ValueInfo::Kind::kOptional;
      type = &type->optional_type().elem_type();
      if (type->has_sequence_type()) type = &type->sequence_type().elem_type();
    } else if (!type->has_tensor_type() && p.has_type()) {
      v.kind = ValueInfo::Kind::kUnknown;
    }
    if (type->has_tensor_type()) {
      const auto& tt = type->tensor_type();
      v.dtype = static_cast<DType>(tt.elem_type());
      if (tt.has_shape()) {
        v.has_shape = true;
        for (const auto& d : tt.shape().dim()) {
          Dim dim;
          if (d.has_dim_value()) dim.value = d.dim_value();
          else if (d.has_dim_param()) dim.param = d.dim_param();
          v.shape.push_back(dim);
        }
      }
    }
    return v;
  }

  Result<Attribute> attribute(const onnx::AttributeProto& p, const std::set<std::string>& outer) {
    Attribute a;
    a.name = p.name();
    if (!p.ref_attr_name().empty()) return unsupported("attribute '" + p.name() + "' refers to a function attribute");
    switch (p.type()) {
      case onnx::AttributeProto::FLOAT: a.type = Attribute::Type::kFloat; a.f = p.f(); break;
      case onnx::AttributeProto::INT: a.type = Attribute::Type::kInt; a.i = p.i(); break;
      case onnx::AttributeProto::STRING: a.type = Attribute::Type::kString; a.s = p.s(); break;
      case onnx::AttributeProto::TENSOR: {
        a.type = Attribute::Type::kTensor;
        AK_ASSIGN_OR_RETURN(a.t, tensor(p.t()));
        break;
      }
      case onnx::AttributeProto::GRAPH: {
        a.type = Attribute::Type::kGraph;
        AK_ASSIGN_OR_RETURN(Graph g, graph(p.g(), outer));
        a.g = std::make_shared<const Graph>(std::move(g));
        break;
      }
      case onnx::AttributeProto::FLOATS: a.type = Attribute::Type::kFloats; a.floats.assign(p.floats().begin(), p.floats().end()); break;
      case onnx::AttributeProto::INTS: a.type = Attribute::Type::kInts; a.ints.assign(p.ints().begin(), p.ints().end()); break;
      case onnx::AttributeProto::STRINGS: a.type = Attribute::Type::kStrings; a.strings.assign(p.strings().begin(), p.strings().end()); break;
      case onnx::AttributeProto::TENSORS:
        a.type = Attribute::Type::kTensors;
        for (const auto& t : p.tensors()) {
          AK_ASSIGN_OR_RETURN(TensorData td, tensor(t));
          a.tensors.push_back(std::move(td));
        }
        break;
      case onnx::AttributeProto::GRAPHS:
        a.type = Attribute::Type::kGraphs;
        for (const auto& gp : p.graphs()) {
          AK_ASSIGN_OR_RETURN(Graph g, graph(gp, outer));
          a.graphs.push_back(std::make_shared<const Graph>(std::move(g)));
        }
        break;
      case onnx::AttributeProto::SPARSE_TENSOR:
      case onnx::AttributeProto::SPARSE_TENSORS:
        return unsupported("attribute '" + p.name() + "' is a sparse tensor");
      case onnx::AttributeProto::TYPE_PROTO:
      case onnx::AttributeProto::TYPE_PROTOS:
        a.type = Attribute::Type::kUndefined;  // only used by ops we do not run (e.g. SequenceEmpty's dtype is INT)
        break;
      default:
        // Old producers leave `type` unset; infer it from the populated field.
        if (p.has_f()) { a.type = Attribute::Type::kFloat; a.f = p.f(); }
        else if (p.has_i()) { a.type = Attribute::Type::kInt; a.i = p.i(); }
        else if (p.has_s()) { a.type = Attribute::Type::kString; a.s = p.s(); }
        else if (p.has_t()) { a.type = Attribute::Type::kTensor; AK_ASSIGN_OR_RETURN(a.t, tensor(p.t())); }
        else if (p.floats_size() > 0) { a.type = Attribute::Type::kFloats; a.floats.assign(p.floats().begin(), p.floats().end()); }
        else if (p.ints_size() > 0) { a.type = Attribute::Type::kInts; a.ints.assign(p.ints().begin(), p.ints().end()); }
        else if (p.strings_size() > 0) { a.type = Attribute::Type::kStrings; a.strings.assign(p.strings().begin(), p.strings().end()); }
        else return invalid_input("attribute '" + p.name() + "' has no type and no value");
    }
    return a;
  }

  /// Converts a graph; `outer` holds the names visible from enclosing graphs.
  Result<Graph> graph(const onnx::GraphProto& p, const std::set<std::string>& outer) {
    if (++depth_ > 64) return invalid_input("graphs nested more than 64 deep");
    struct DepthGuard { int& d; ~DepthGuard() { --d; } } guard{depth_};
    Graph g;
    g.name = p.name();
    if (p.sparse_initializer_size() > 0) return unsupported("graph '" + p.name() + "' has sparse initializers");
    std::set<std::string> defined = outer;
    std::set<std::string> local;  // this graph's own inputs and initializers
    for (const auto& t : p.initializer()) {
      AK_ASSIGN_OR_RETURN(TensorData td, tensor(t));
      if (td.name.empty()) return invalid_input("graph '" + p.name() + "' has an initializer without a name");
      local.insert(td.name);
      defined.insert(td.name);
      g.initializers.push_back(std::move(td));
    }
    for (const auto& vi : p.input()) {
      if (vi.name().empty()) return invalid_input("graph '" + p.name() + "' has an input without a name");
      g.inputs.push_back(value_info(vi));
      local.insert(vi.name());
      defined.insert(vi.name());
    }
    for (const auto& vi : p.output()) g.outputs.push_back(value_info(vi));
    for (const auto& vi : p.value_info()) g.value_info.push_back(value_info(vi));

    // Convert nodes, then order them topologically (ONNX requires it; a few producers
    // do not quite follow, so sort instead of refusing).
    std::vector<Node> nodes;
    nodes.reserve(p.node_size());
    std::unordered_set<std::string> names;
    for (int i = 0; i < p.node_size(); ++i) {
      const auto& np = p.node(i);
      Node n;
      n.op_type = np.op_type();
      n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
      if (n.op_type.empty()) return invalid_input("node " + std::to_string(i) + " has no op_type");
      n.name = np.name().empty() ? n.op_type + "_" + std::to_string(i) : np.name();
      while (!names.insert(n.name).second) n.name += "_" + std::to_string(i);
      n.inputs.assign(np.input().begin(), np.input().end());
      n.outputs.assign(np.output().begin(), np.output().end());
      nodes.push_back(std::move(n));
    }
    // Names any node produces, visible to subgraphs of any node (scoping is checked below).
    std::set<std::string> visible = defined;
    for (const auto& n : nodes)
      for (const auto& o : n.outputs)
        if (!o.empty()) visible.insert(o);
    for (int i = 0; i < p.node_size(); ++i) {
      for (const auto& ap : p.node(i).attribute()) {
        auto attr = attribute(ap, visible);
        if (!attr) return attr.status().with_context("node '" + nodes[i].name + "' (" + nodes[i].op_type + ")");
        nodes[i].attributes.push_back(std::move(attr).value());
      }
    }
    AK_RETURN_IF_ERROR(sort_nodes(p.name(), nodes, defined, local, g.nodes));
    for (const auto& o : g.outputs)
      if (!defined.count(o.name) && !std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) {
            return std::find(n.outputs.begin(), n.outputs.end(), o.name) != n.outputs.end();
          }))
        return invalid_input("graph '" + p.name() + "': output '" + o.name + "' is not produced by any node");
    return g;
  }

 private:
  /// Kahn's algorithm in file order; every input must be defined by the graph, an enclosing
  /// graph, or an earlier node. Subgraph references count as inputs of their node.
  Status sort_nodes(const std::string& graph_name, std::vector<Node>& nodes, std::set<std::string> defined,
                    const std::set<std::string>& local, std::vector<Node>& out) {
    std::unordered_map<std::string, size_t> producer;
    for (size_t i = 0; i < nodes.size(); ++i)
      for (const auto& o : nodes[i].outputs)
        if (!o.empty()) {
          if (local.count(o)) {
            // A node output that shadows a graph input/initializer is invalid SSA.
            return invalid_input("graph '" + graph_name + "': node '" + nodes[i].name + "' redefines '" + o + "'");
          }
          if (!producer.emplace(o, i).second)
            return invalid_input("graph '" + graph_name + "': value '" + o + "' is produced by two nodes");
        }
    std::vector<std::vector<std::string>> needs(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (const auto& in : nodes[i].inputs)
        if (!in.empty()) needs[i].push_back(in);
      for (const auto& a : nodes[i].attributes) {
        std::vector<std::shared_ptr<const Graph>> subs = a.graphs;
        if (a.g) subs.push_back(a.g);
        for (const auto& sg : subs) collect_free(*sg, needs[i]);
      }
      for (const auto& in : needs[i])
        if (!defined.count(in) && !producer.count(in))
          return invalid_input("graph '" + graph_name + "': node '" + nodes[i].name + "' (" + nodes[i].op_type +
                               ") reads '" + in + "', which nothing defines");
    }
    std::vector<bool> done(nodes.size(), false);
    size_t remaining = nodes.size();
    out.reserve(nodes.size());
    while (remaining > 0) {
      bool progress = false;
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (done[i]) continue;
        bool ready = std::all_of(needs[i].begin(), needs[i].end(), [&](const std::string& n) { return defined.count(n) > 0; });
        if (!ready) continue;
        for (const auto& o : nodes[i].outputs)
          if (!o.empty()) defined.insert(o);
        done[i] = true;
        --remaining;
        progress = true;
        out.push_back(std::move(nodes[i]));
      }
      if (!progress) {
        for (size_t i = 0; i < nodes.size(); ++i)
          if (!done[i]) return invalid_input("graph '" + graph_name + "' has a cycle through node '" + nodes[i].name + "'");
      }
    }
    return Status::ok();
  }

  /// Names a subgraph reads that it does not define itself (its outer-scope references).
  static void collect_free(const Graph& g, std::vector<std::string>& out) {
    std::set<std::string> own;
    for (const auto& i : g.inputs) own.insert(i.name);
    for (const auto& t : g.initializers) own.insert(t.name);
    for (const auto& n : g.nodes)
      for (const auto& o : n.outputs) own.insert(o);
    for (const auto& n : g.nodes) {
      for (const auto& in : n.inputs)
        if (!in.empty() && !own.count(in)) out.push_back(in);
      for (const auto& a : n.attributes) {
        std::vector<std::shared_ptr<const Graph>> subs = a.graphs;
        if (a.g) subs.push_back(a.g);
        for (const auto& sg : subs) {
          std::vector<std::string> inner;
          collect_free(*sg, inner);
          for (auto& name : inner)
            if (!own.count(name)) out.push_back(name);
        }
      }
    }
    for (const auto& o : g.outputs)
      if (!own.count(o.name)) out.push_back(o.name);
  }

  fs::path base_dir_;
  int depth_ = 0;
  std::unordered_map<std::string, std::shared_ptr<MappedFile>> mapped_;
};

// ---- IR -> protobuf (for save_model / save_tensor_file) ----

void to_proto(const TensorData& t, onnx::TensorProto* p) {
  p->set_name(t.name);
  p->set_data_type(static_cast<int32_t>(t.dtype));
  for (int64_t d : t.dims) p->add_dims(d);
  if (t.dtype == DType::kString) {
    for (const auto& s : t.strings) p->add_string_data(s);
  } else {
    p->set_raw_data(reinterpret_cast<const char*>(t.bytes.data), t.bytes.size_bytes);
  }
}

void to_proto(const ValueInfo& v, onnx::ValueInfoProto* p) {
  p->set_name(v.name);
  onnx::TypeProto* type = p->mutable_type();
  if (v.kind == ValueInfo::Kind::kSequence) type = type->mutable_sequence_type()->mutable_elem_type();
  if (v.kind == ValueInfo::Kind::kOptional) type = type->mutable_optional_type()->mutable_elem_type();
  if (v.kind == ValueInfo::Kind::kUnknown) return;
  auto* tt = type->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  if (v.has_shape) {
    auto* shape = tt->mutable_shape();
    for (const auto& d : v.shape) {
      auto* dim = shape->add_dim();
      if (d.is_fixed()) dim->set_dim_value(d.value);
      else if (!d.param.empty()) dim->set_dim_param(d.param);
    }
  }
}

void to_proto(const Graph& g, onnx::GraphProto* p);

void to_proto(const Attribute& a, onnx::AttributeProto* p) {
  p->set_name(a.name);
  using T = Attribute::Type;
  switch (a.type) {
    case T::kFloat: p->set_type(onnx::AttributeProto::FLOAT); p->set_f(a.f); break;
    case T::kInt: p->set_type(onnx::AttributeProto::INT); p->set_i(a.i); break;
    case T::kString: p->set_type(onnx::AttributeProto::STRING); p->set_s(a.s); break;
    case T::kTensor: p->set_type(onnx::AttributeProto::TENSOR); to_proto(a.t, p->mutable_t()); break;
    case T::kGraph: p->set_type(onnx::AttributeProto::GRAPH); to_proto(*a.g, p->mutable_g()); break;
    case T::kFloats: p->set_type(onnx::AttributeProto::FLOATS); for (float f : a.floats) p->add_floats(f); break;
    case T::kInts: p->set_type(onnx::AttributeProto::INTS); for (int64_t i : a.ints) p->add_ints(i); break;
    case T::kStrings: p->set_type(onnx::AttributeProto::STRINGS); for (const auto& s : a.strings) p->add_strings(s); break;
    case T::kTensors: p->set_type(onnx::AttributeProto::TENSORS); for (const auto& t : a.tensors) to_proto(t, p->add_tensors()); break;
    case T::kGraphs: p->set_type(onnx::AttributeProto::GRAPHS); for (const auto& g : a.graphs) to_proto(*g, p->add_graphs()); break;
    case T::kUndefined: break;
  }
}

void to_proto(const Graph& g, onnx::GraphProto* p) {
  p->set_name(g.name);
  for (const auto& t : g.initializers) to_proto(t, p->add_initializer());
  for (const auto& v : g.inputs) to_proto(v, p->add_input());
  for (const auto& v : g.outputs) to_proto(v, p->add_output());
  for (const auto& v : g.value_info) to_proto(v, p->add_value_info());
  for (const auto& n : g.nodes) {
    auto* np = p->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    np->set_domain(n.domain);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& a : n.attributes) to_proto(a, np->add_attribute());
  }
}

template <typename Message>
bool parse_bytes(const void* bytes, size_t size, Message* msg) {
  if (size > static_cast<size_t>(INT_MAX)) return false;
  google::protobuf::io::CodedInputStream in(static_cast<const uint8_t*>(bytes), static_cast<int>(size));
  in.SetTotalBytesLimit(INT_MAX);
  in.SetRecursionLimit(200);
  return msg->ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
}

}  // namespace

Result<Model> parse_model(const void* bytes, size_t size, const fs::path& base_dir, const std::string& what) {
  if (size > static_cast<size_t>(INT_MAX))
    return invalid_input("'" + what + "' is over 2 GB; store large weights as external data");
  onnx::ModelProto proto;
  if (size == 0 || !parse_bytes(bytes, size, &proto))
    return invalid_input("'" + what + "' is not an ONNX model (protobuf parse failed: truncated or not a ModelProto)");
  if (!proto.has_graph())
    return invalid_input("'" + what + "' is not an ONNX model (no graph)");
  Model m;
  m.ir_version = proto.ir_version();
  m.producer = proto.producer_name();
  for (const auto& os : proto.opset_import()) {
    std::string domain = os.domain() == "ai.onnx" ? "" : os.domain();
    m.opsets[domain] = os.version();
  }
  if (m.opsets.empty()) m.opsets[""] = 1;  // IR version 1/2 models imply opset 1
  Reader reader(base_dir);
  auto graph = reader.graph(proto.graph(), {});
  if (!graph) return graph.status().with_context(what);
  m.graph = std::move(graph).value();
  return m;
}

Result<Model> load_model(const fs::path& path) {
  AK_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  AK_ASSIGN_OR_RETURN(Model m, parse_model(bytes.data(), bytes.size(), path.parent_path().empty() ? fs::path(".") : path.parent_path(),
                                           path.string()));
  m.path = path;
  return m;
}

Result<TensorData> load_tensor_file(const fs::path& path) {
  AK_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  onnx::TensorProto proto;
  if (!parse_bytes(bytes.data(), bytes.size(), &proto))
    return invalid_input("'" + path.string() + "' is not an ONNX TensorProto");
  Reader reader(path.parent_path());
  auto t = reader.tensor(proto);
  if (!t) return t.status().with_context(path.string());
  return t;
}

namespace {
Result<HostValue> host_value(Reader& reader, const onnx::SequenceProto& p);

Result<HostValue> host_value(Reader& reader, const onnx::OptionalProto& p) {
  HostValue v;
  v.name = p.name();
  if (p.has_tensor_value()) {
    AK_ASSIGN_OR_RETURN(v.tensor, reader.tensor(p.tensor_value()));
    return v;
  }
  if (p.has_sequence_value()) {
    AK_ASSIGN_OR_RETURN(v, host_value(reader, p.sequence_value()));
    v.name = p.name();
    return v;
  }
  v.kind = HostValue::Kind::kNone;
  return v;
}

Result<HostValue> host_value(Reader& reader, const onnx::SequenceProto& p) {
  HostValue v;
  v.name = p.name();
  v.kind = HostValue::Kind::kSequence;
  if (p.elem_type() != onnx::SequenceProto::TENSOR && p.elem_type() != onnx::SequenceProto::UNDEFINED)
    return unsupported("sequence '" + p.name() + "' holds non-tensor elements");
  for (const auto& t : p.tensor_values()) {
    AK_ASSIGN_OR_RETURN(TensorData td, reader.tensor(t));
    if (v.sequence_dtype == DType::kUndefined) v.sequence_dtype = td.dtype;
    v.sequence.push_back(std::move(td));
  }
  return v;
}
}  // namespace

Result<HostValue> load_value_file(const fs::path& path, ValueInfo::Kind kind) {
  if (kind == ValueInfo::Kind::kTensor || kind == ValueInfo::Kind::kUnknown) {
    AK_ASSIGN_OR_RETURN(TensorData t, load_tensor_file(path));
    HostValue v;
    v.name = t.name;
    v.tensor = std::move(t);
    return v;
  }
  AK_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  Reader reader(path.parent_path());
  Result<HostValue> v = [&]() -> Result<HostValue> {
    if (kind == ValueInfo::Kind::kSequence) {
      onnx::SequenceProto proto;
      if (!parse_bytes(bytes.data(), bytes.size(), &proto))
        return invalid_input("'" + path.string() + "' is not an ONNX SequenceProto");
      return host_value(reader, proto);
    }
    onnx::OptionalProto proto;
    if (!parse_bytes(bytes.data(), bytes.size(), &proto))
      return invalid_input("'" + path.string() + "' is not an ONNX OptionalProto");
    return host_value(reader, proto);
  }();
  if (!v) return v.status().with_context(path.string());
  return v;
}

Status save_tensor_file(const TensorData& tensor, const fs::path& path) {
  onnx::TensorProto p;
  to_proto(tensor, &p);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !p.SerializeToOstream(&out)) return failed("cannot write '" + path.string() + "'");
  return Status::ok();
}

Status save_model(const Model& model, const fs::path& path) {
  onnx::ModelProto p;
  p.set_ir_version(model.ir_version > 0 ? model.ir_version : 8);
  p.set_producer_name(model.producer.empty() ? "autokernel" : model.producer);
  for (const auto& [domain, version] : model.opsets) {
    auto* os = p.add_opset_import();
    os->set_domain(domain);
    os->set_version(version);
  }
  to_proto(model.graph, p.mutable_graph());
  if (p.ByteSizeLong() > static_cast<size_t>(INT_MAX)) return failed("model '" + path.string() + "' is over 2 GB");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !p.SerializeToOstream(&out)) return failed("cannot write '" + path.string() + "'");
  return Status::ok();
}

}  // namespace ak::models
