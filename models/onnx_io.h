#pragma once
/// Reading and writing ONNX files: models (.onnx) and tensors (TensorProto .pb).
/// Implemented over protobuf in models/onnx_loader.cpp; callers see only the IR.

#include <filesystem>
#include <string>

#include "models/graph.h"

namespace ak::models {

/// Loads `path` (.onnx), resolving external data relative to the model's folder.
/// Rejects: a missing/unreadable file, bytes that are not an ONNX ModelProto, external
/// data that is missing, absolute, contains "..", or resolves (through links) outside
/// the model's folder, and graphs that reference undefined values. External data files
/// are memory-mapped, so models over 2 GB load without copying their weights.
Result<Model> load_model(const std::filesystem::path& path);

/// Parses a serialized ModelProto from memory; `base_dir` resolves external data
/// (empty: external data is rejected). `what` names the source in error messages.
Result<Model> parse_model(const void* bytes, size_t size, const std::filesystem::path& base_dir,
                          const std::string& what);

/// Reads a serialized TensorProto (the format of ONNX test data input_0.pb).
Result<TensorData> load_tensor_file(const std::filesystem::path& path);

/// Reads a serialized TensorProto, SequenceProto or OptionalProto, as `kind` says (the
/// declared kind of the graph input/output the file belongs to).
Result<HostValue> load_value_file(const std::filesystem::path& path, ValueInfo::Kind kind);

/// Writes `tensor` as a serialized TensorProto.
Status save_tensor_file(const TensorData& tensor, const std::filesystem::path& path);

/// Writes `model` as a serialized ModelProto with all tensors inline (< 2 GB).
Status save_model(const Model& model, const std::filesystem::path& path);

}  // namespace ak::models
