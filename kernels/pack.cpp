// pack.json, schema autokernel.pack/1: the one reader and writer (docs/packs.md documents
// every field).
#include "kernels/pack.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <set>

#include "base/file.h"
#include "base/sha256.h"
#include "base/strings.h"
#include "kernels/build.h"
#include "kernels/internal/json_reader.h"

namespace ak::kernels {

std::filesystem::path Pack::entry_dir(const PackEntry& entry) const { return dir / "entries" / entry.id; }

Result<Task> Pack::entry_task(const PackEntry& entry) const { return read_task(entry_dir(entry)); }

std::filesystem::path Pack::source_path(const PackEntry& entry) const { return entry_dir(entry) / entry.source; }

const PackEntry* Pack::find(const std::string& id) const {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const PackEntry& e) { return e.id == id; });
  return it == entries.end() ? nullptr : &*it;
}

namespace {

using internal::ordered_json;
using internal::Reader;

/// An id or a source name that stays inside its folder: no separators, not "." or "..".
bool is_plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos;
}

Status read_integers(const Reader& r, const ordered_json& object, const std::string& where, const char* key,
                     std::vector<int64_t>* out) {
  AK_ASSIGN_OR_RETURN(const ordered_json* v, r.find(object, where, key));
  if (v == nullptr) return Status::ok();
  const std::string field = Reader::join(where, key);
  if (!v->is_array()) return r.error(field, "must be an array of integers");
  for (const auto& n : *v) {
    if (!n.is_number_integer()) return r.error(field, "must be an array of integers, found " + std::string(n.type_name()));
    out->push_back(n.get<int64_t>());
  }
  return Status::ok();
}

Status read_evidence(const Reader& r, const ordered_json& entry, const std::string& at, PackEvidence* out) {
  AK_ASSIGN_OR_RETURN(const ordered_json* e, r.object(entry, at, "evidence"));
  if (e == nullptr) return Status::ok();
  const std::string where = at + ".evidence";
  AK_RETURN_IF_ERROR(read_integers(r, *e, where, "evaluation_ids", &out->evaluation_ids));
  AK_RETURN_IF_ERROR(r.number(*e, where, "speedup", &out->speedup));
  AK_RETURN_IF_ERROR(r.number(*e, where, "speedup_low", &out->speedup_low));
  AK_RETURN_IF_ERROR(r.number(*e, where, "speedup_high", &out->speedup_high));
  AK_RETURN_IF_ERROR(r.strings(*e, where, "gates", &out->gates));
  return r.string(*e, where, "verdict", &out->verdict, false);
}

/// The ranges object {axis: {min, max}}, checked against the var axes of the entry's task.
Status read_ranges(const Reader& r, const ordered_json& entry, const std::string& at, const Task& task,
                   std::vector<AxisRange>* out) {
  AK_ASSIGN_OR_RETURN(const ordered_json* ranges, r.object(entry, at, "ranges"));
  const std::vector<std::string> var = task.var_axes();
  if (ranges != nullptr)
    for (const auto& [axis, spec] : ranges->items()) {
      const std::string where = at + ".ranges." + axis;
      if (std::find(var.begin(), var.end(), axis) == var.end())
        return r.error(where, "'" + axis + "' is not a var axis of task '" + task.name + "' (var axes: " +
                                  (var.empty() ? std::string("none") : ak::join(var, ", ")) + ")");
      AxisRange range;
      range.axis = axis;
      if (!spec.is_object() || !spec.contains("min") || !spec.contains("max"))
        return r.error(where, "must be an object {min, max}");
      AK_RETURN_IF_ERROR(r.integer(spec, where, "min", &range.min));
      AK_RETURN_IF_ERROR(r.integer(spec, where, "max", &range.max));
      if (range.min < 0 || range.max < range.min)
        return r.error(where, "must have 0 <= min <= max, not " + std::to_string(range.min) + ".." +
                                  std::to_string(range.max));
      out->push_back(std::move(range));
    }
  for (const std::string& axis : var)
    if (std::none_of(out->begin(), out->end(), [&](const AxisRange& a) { return a.axis == axis; }))
      return r.error(at + ".ranges", "no range for var axis '" + axis + "' of task '" + task.name + "'");
  return Status::ok();
}

Result<PackEntry> read_entry(const Reader& r, const ordered_json& j, const std::string& at,
                             const std::filesystem::path& pack_dir) {
  if (!j.is_object()) return r.error(at, "must be an object");
  PackEntry entry;
  AK_RETURN_IF_ERROR(r.string(j, at, "id", &entry.id, true));
  if (!is_plain_name(entry.id)) return r.error(at + ".id", "'" + entry.id + "' is not a folder name");
  AK_RETURN_IF_ERROR(r.string(j, at, "workload", &entry.workload, false));
  AK_RETURN_IF_ERROR(r.string(j, at, "source", &entry.source, true));
  if (!is_plain_name(entry.source)) return r.error(at + ".source", "'" + entry.source + "' is not a file name");
  AK_RETURN_IF_ERROR(r.string(j, at, "source_sha256", &entry.source_sha256, true));
  AK_RETURN_IF_ERROR(r.string(j, at, "language", &entry.language, true));
  if (entry.language != "cuda" && entry.language != "cpp")
    return r.error(at + ".language", "must be \"cuda\" or \"cpp\", not '" + entry.language + "'");
  AK_RETURN_IF_ERROR(r.string(j, at, "device", &entry.device, true));
  if (entry.device != "cuda" && entry.device != "cpu")
    return r.error(at + ".device", "must be \"cpu\" or \"cuda\", not '" + entry.device + "'");
  if ((entry.language == "cuda") != (entry.device == "cuda"))
    return r.error(at + ".device", "'" + entry.device + "' does not fit language '" + entry.language +
                                       "' (cuda sources run on cuda, cpp sources on cpu)");
  AK_RETURN_IF_ERROR(r.string(j, at, "arch", &entry.arch, false));

  const std::filesystem::path entry_dir = pack_dir / "entries" / entry.id;
  const std::string relative = "entries/" + entry.id + "/";
  std::error_code ec;
  if (!std::filesystem::is_directory(entry_dir, ec)) return r.error(at + ".id", relative + " does not exist");
  auto bytes = read_file(entry_dir / entry.source);
  if (!bytes.is_ok()) return r.error(at + ".source", relative + entry.source + " does not exist or cannot be read");
  auto language = language_of(entry.source);
  if (!language.is_ok() || to_string(*language) != entry.language)
    return r.error(at + ".source", "'" + entry.source + "' is not a " + entry.language + " source (.cu or .cpp)");
  if (sha256_hex(*bytes) != entry.source_sha256)
    return r.error(at + ".source_sha256", "does not match " + relative + entry.source);
  auto task = read_task(entry_dir);
  if (!task.is_ok()) return r.error(at, "its task: " + task.status().message());
  AK_RETURN_IF_ERROR(read_ranges(r, j, at, *task, &entry.ranges));
  AK_RETURN_IF_ERROR(read_evidence(r, j, at, &entry.evidence));
  return entry;
}

Result<PackVerification> read_verification(const Reader& r, const ordered_json& j, const std::string& at) {
  if (!j.is_object()) return r.error(at, "must be an object");
  PackVerification v;
  AK_RETURN_IF_ERROR(r.string(j, at, "model_sha256", &v.model_sha256, false));
  AK_RETURN_IF_ERROR(r.string(j, at, "model", &v.model, false));
  AK_RETURN_IF_ERROR(r.string(j, at, "device", &v.device, false));
  AK_RETURN_IF_ERROR(r.string(j, at, "device_name", &v.device_name, false));
  AK_RETURN_IF_ERROR(r.string(j, at, "date", &v.date, false));
  AK_RETURN_IF_ERROR(r.string(j, at, "verdict", &v.verdict, true));
  AK_RETURN_IF_ERROR(r.strings(j, at, "entries", &v.entries));
  return v;
}

Status read_list(const Reader& r, const ordered_json& j, const char* key,
                 const std::function<Status(const ordered_json&, const std::string&)>& read_one) {
  AK_ASSIGN_OR_RETURN(const ordered_json* list, r.find(j, "", key));
  if (list == nullptr) return Status::ok();
  if (!list->is_array()) return r.error(key, "must be an array");
  for (size_t i = 0; i < list->size(); ++i)
    AK_RETURN_IF_ERROR(read_one((*list)[i], std::string(key) + "[" + std::to_string(i) + "]"));
  return Status::ok();
}

ordered_json entry_json(const PackEntry& e) {
  ordered_json ranges = ordered_json::object();
  for (const AxisRange& a : e.ranges) ranges[a.axis] = {{"min", a.min}, {"max", a.max}};
  const PackEvidence& ev = e.evidence;
  return {{"id", e.id},
          {"workload", e.workload},
          {"source", e.source},
          {"source_sha256", e.source_sha256},
          {"language", e.language},
          {"device", e.device},
          {"arch", e.arch},
          {"ranges", std::move(ranges)},
          {"evidence",
           {{"evaluation_ids", ev.evaluation_ids},
            {"speedup", ev.speedup},
            {"speedup_low", ev.speedup_low},
            {"speedup_high", ev.speedup_high},
            {"gates", ev.gates},
            {"verdict", ev.verdict}}}};
}

/// "3_layer_norm" -> "layer_norm": the task name without its profile rank, as an id prefix.
std::string slug_of(const std::string& task_name) {
  size_t i = 0;
  while (i < task_name.size() && std::isdigit(static_cast<unsigned char>(task_name[i]))) ++i;
  if (i > 0 && i < task_name.size() && task_name[i] == '_') ++i;
  std::string slug;
  for (char c : task_name.substr(i))
    slug += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
  return slug.empty() ? "kernel" : slug;
}

}  // namespace

Result<Pack> read_pack(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "pack.json";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return invalid_input(dir.string() + " is not a pack folder (expected a folder with pack.json)");
  auto text = read_file(file);
  if (!text.is_ok()) return text.status();
  const ordered_json j = ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_input(file.string() + ": not a JSON object");
  const Reader r(file.string());

  Pack pack;
  pack.dir = std::filesystem::absolute(dir).lexically_normal();
  std::string schema;
  AK_RETURN_IF_ERROR(r.string(j, "", "schema", &schema, true));
  if (schema != kPackSchema)
    return r.error("schema", "'" + schema + "' is not supported (this autokernel reads " + kPackSchema + ")");
  AK_RETURN_IF_ERROR(r.string(j, "", "created_by", &pack.created_by, false));
  std::set<std::string> ids;
  AK_RETURN_IF_ERROR(read_list(r, j, "entries", [&](const ordered_json& e, const std::string& at) -> Status {
    AK_ASSIGN_OR_RETURN(PackEntry entry, read_entry(r, e, at, pack.dir));
    if (!ids.insert(entry.id).second) return r.error(at + ".id", "'" + entry.id + "' is used by an earlier entry");
    pack.entries.push_back(std::move(entry));
    return Status::ok();
  }));
  AK_RETURN_IF_ERROR(read_list(r, j, "verifications", [&](const ordered_json& v, const std::string& at) -> Status {
    AK_ASSIGN_OR_RETURN(PackVerification verification, read_verification(r, v, at));
    pack.verifications.push_back(std::move(verification));
    return Status::ok();
  }));
  return pack;
}

Status write_pack(const std::filesystem::path& dir, const Pack& pack) {
  ordered_json entries = ordered_json::array();
  for (const PackEntry& e : pack.entries) entries.push_back(entry_json(e));
  ordered_json verifications = ordered_json::array();
  for (const PackVerification& v : pack.verifications)
    verifications.push_back({{"model_sha256", v.model_sha256},
                             {"model", v.model},
                             {"device", v.device},
                             {"device_name", v.device_name},
                             {"date", v.date},
                             {"verdict", v.verdict},
                             {"entries", v.entries}});
  const ordered_json j = {{"schema", kPackSchema},
                          {"created_by", pack.created_by},
                          {"entries", std::move(entries)},
                          {"verifications", std::move(verifications)}};

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return invalid_input("cannot create " + dir.string() + ": " + ec.message());
  return internal::write_json_file(dir / "pack.json", j);
}

Result<PackEntry> add_pack_entry(Pack* pack, const Task& task, const std::filesystem::path& source,
                                 PackEntry entry) {
  AK_ASSIGN_OR_RETURN(const Language language, language_of(source));
  AK_ASSIGN_OR_RETURN(const std::string bytes, read_file(source));
  if (!std::filesystem::exists(task.subgraph_path()))
    return invalid_input((task.dir / "task.json").string() + ": subgraph: " + task.subgraph_path().string() +
                         " does not exist");
  if (pack->dir.empty()) return invalid_input("add_pack_entry: the pack has no folder");

  entry.source_sha256 = sha256_hex(bytes);
  entry.id = slug_of(task.name) + "_" + entry.source_sha256.substr(0, 8);
  entry.language = std::string(to_string(language));
  entry.source = language == Language::kCuda ? "kernel.cu" : "kernel.cpp";
  entry.device = task.is_cuda() ? "cuda" : "cpu";
  if (entry.arch.empty() && task.is_cuda()) entry.arch = task.target.arch;
  std::vector<AxisRange> ranges;
  for (const TaskAxis& axis : task.axes) {
    if (!axis.var) continue;
    auto given = std::find_if(entry.ranges.begin(), entry.ranges.end(), [&](const AxisRange& a) { return a.axis == axis.name; });
    ranges.push_back(given != entry.ranges.end() ? *given : AxisRange{axis.name, axis.value, axis.value});
  }
  for (const AxisRange& a : entry.ranges)
    if (std::none_of(ranges.begin(), ranges.end(), [&](const AxisRange& b) { return b.axis == a.axis; }))
      return invalid_input("task '" + task.name + "': '" + a.axis + "' is not one of its var axes");
  entry.ranges = std::move(ranges);

  // The entry folder holds the task definition without captured data: the pack is a
  // deployable artifact, and the subgraph is what swap-in matches.
  const std::filesystem::path entry_dir = pack->entry_dir(entry);
  std::error_code ec;
  std::filesystem::remove_all(entry_dir, ec);
  std::filesystem::create_directories(entry_dir, ec);
  if (ec) return invalid_input("cannot create " + entry_dir.string() + ": " + ec.message());
  Task copy = task;
  copy.dir = entry_dir;
  copy.subgraph = "subgraph.onnx";
  for (auto* list : {&copy.inputs, &copy.outputs})
    for (TaskTensor& t : *list) {
      t.file.clear();
      if (t.fill == "captured") t.fill = "normal";
    }
  AK_RETURN_IF_ERROR(write_task(entry_dir, copy));
  std::filesystem::copy_file(task.subgraph_path(), entry_dir / copy.subgraph,
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (!ec)
    std::filesystem::copy_file(source, entry_dir / entry.source, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return invalid_input("cannot write " + entry_dir.string() + ": " + ec.message());

  auto& entries = pack->entries;
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const PackEntry& e) {
                                 return e.id == entry.id ||
                                        (e.source_sha256 == entry.source_sha256 && e.workload == entry.workload);
                               }),
                entries.end());
  entries.push_back(entry);
  return entry;
}

}  // namespace ak::kernels
