#pragma once
/// Status and Result<T>: the error type that crosses every module boundary.
///
/// A Status is ok, or carries a code and one human-readable line naming the problem
/// (the file, the node, the op and opset, expected vs actual). Codes map to exit codes:
/// kInvalidInput and kUnsupported are the user's input (exit 2), kFailed is work that
/// failed (exit 1), kInternal is a bug in autokernel.

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace ak {

enum class StatusCode : int {
  kOk = 0,
  kInvalidInput,  ///< the user's file, flag or tensor is wrong
  kUnsupported,   ///< valid ONNX that autokernel does not implement (op, opset, dtype)
  kFailed,        ///< the work ran and failed (a mismatch, a failed candidate)
  kInternal,      ///< a bug in autokernel or an unexpected third-party error
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// Prefixes the message with context, e.g. the node that failed: "node 'x' (Add): <msg>".
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return {code_, context + ": " + message_};
  }

  /// Exit code for the command line: 0 ok, 2 bad input or unsupported, 1 otherwise.
  int exit_code() const {
    switch (code_) {
      case StatusCode::kOk: return 0;
      case StatusCode::kInvalidInput:
      case StatusCode::kUnsupported: return 2;
      default: return 1;
    }
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_input(std::string message) { return {StatusCode::kInvalidInput, std::move(message)}; }
inline Status unsupported(std::string message) { return {StatusCode::kUnsupported, std::move(message)}; }
inline Status failed(std::string message) { return {StatusCode::kFailed, std::move(message)}; }
inline Status internal_error(std::string message) { return {StatusCode::kInternal, std::move(message)}; }

/// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {       // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).is_ok()) v_ = Status(StatusCode::kInternal, "Result built from an ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ak

#define AK_CONCAT_INNER(a, b) a##b
#define AK_CONCAT(a, b) AK_CONCAT_INNER(a, b)

/// Returns the Status from the enclosing function if `expr` is not ok.
#define AK_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::ak::Status ak_status_ = (expr);             \
    if (!ak_status_.is_ok()) return ak_status_;   \
  } while (0)

/// `AK_ASSIGN_OR_RETURN(auto x, make_x());` unwraps a Result or returns its Status.
#define AK_ASSIGN_OR_RETURN(lhs, expr) AK_ASSIGN_OR_RETURN_IMPL(AK_CONCAT(ak_result_, __LINE__), lhs, expr)
#define AK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.is_ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
