#pragma once
// Reading task.json and pack.json: typed fields of one JSON object, every error one line
// naming the file and the field's path. Private to ak_kernels (nlohmann stays out of the
// public headers).

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace ak::kernels::internal {

using nlohmann::ordered_json;

/// Reads fields of one JSON object, every error naming the file and the field's path.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Status error(const std::string& field, const std::string& what) const {
    return invalid_input(file_ + ": " + field + ": " + what);
  }

  /// `object[key]` when present and not null, else nullptr; an error when `object` is not an object.
  Result<const ordered_json*> find(const ordered_json& object, const std::string& where, const char* key) const {
    if (!object.is_object()) return error(where, "must be an object");
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return static_cast<const ordered_json*>(nullptr);
    return &*it;
  }

  Status string(const ordered_json& object, const std::string& where, const char* key, std::string* out,
                bool required) const {
    AK_ASSIGN_OR_RETURN(const ordered_json* v, find(object, where, key));
    const std::string field = join(where, key);
    if (v == nullptr) return required ? error(field, "missing (a string)") : Status::ok();
    if (!v->is_string()) return error(field, "must be a string, not " + std::string(v->type_name()));
    *out = v->get<std::string>();
    if (required && out->empty()) return error(field, "must not be empty");
    return Status::ok();
  }

  Status number(const ordered_json& object, const std::string& where, const char* key, double* out) const {
    AK_ASSIGN_OR_RETURN(const ordered_json* v, find(object, where, key));
    if (v == nullptr) return Status::ok();
    if (!v->is_number()) return error(join(where, key), "must be a number, not " + std::string(v->type_name()));
    *out = v->get<double>();
    return Status::ok();
  }

  Status integer(const ordered_json& object, const std::string& where, const char* key, int64_t* out) const {
    AK_ASSIGN_OR_RETURN(const ordered_json* v, find(object, where, key));
    if (v == nullptr) return Status::ok();
    if (!v->is_number_integer()) return error(join(where, key), "must be an integer, not " + std::string(v->type_name()));
    *out = v->get<int64_t>();
    return Status::ok();
  }

  Status boolean(const ordered_json& object, const std::string& where, const char* key, bool* out) const {
    AK_ASSIGN_OR_RETURN(const ordered_json* v, find(object, where, key));
    if (v == nullptr) return Status::ok();
    if (!v->is_boolean()) return error(join(where, key), "must be true or false, not " + std::string(v->type_name()));
    *out = v->get<bool>();
    return Status::ok();
  }

  Status strings(const ordered_json& object, const std::string& where, const char* key,
                 std::vector<std::string>* out) const {
    AK_ASSIGN_OR_RETURN(const ordered_json* v, find(object, where, key));
    if (v == nullptr) return Status::ok();
    const std::string field = join(where, key);
    if (!v->is_array()) return error(field, "must be an array of strings");
    for (const auto& s : *v) {
      if (!s.is_string()) return error(field, "must be an array of strings, found " + std::string(s.type_name()));
      out->push_back(s.get<std::string>());
    }
    return Status::ok();
  }

  /// An optional object member ("" when absent): `object[key]`, which must be an object.
  Result<const ordered_json*> object(const ordered_json& parent, const std::string& where, const char* key) const {
    AK_ASSIGN_OR_RETURN(const ordered_json* v, find(parent, where, key));
    if (v != nullptr && !v->is_object()) return error(join(where, key), "must be an object");
    return v;
  }

  static std::string join(const std::string& where, const std::string& key) {
    return where.empty() ? key : where + "." + key;
  }

 private:
  std::string file_;
};

/// Writes `j` pretty-printed as `file` through `file`.tmp renamed into place, so a reader
/// never sees half a file.
inline Status write_json_file(const std::filesystem::path& file, const ordered_json& j) {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out) return invalid_input("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return invalid_input("cannot write " + file.string() + ": " + ec.message());
  return Status::ok();
}

}  // namespace ak::kernels::internal
