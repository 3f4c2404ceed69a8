// Errors as values at module boundaries. An Error keeps the libbpf/errno code
// and, for load failures, the verifier log, so the caller can show both.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sluice {

struct Error {
  int code = 0;              // negative errno, as libbpf returns it
  std::string message;       // what was being done, and why it failed
  std::string verifier_log;  // the kernel's log when a program was rejected

  std::string to_string() const;
};

Error make_error(int code, std::string message);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}
  static Status ok_status() { return {}; }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace sluice
