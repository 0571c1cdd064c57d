// The one error shape of thrum's public API: a call that can fail returns a
// Status (success, or what failed and why) or a Result<T> (a value, or the
// Status saying why there is none). Both read as true on success.
//
//   thrum::Status listening = server.listen("tls:port=8443:cert=c.pem:key=k.pem");
//   if (!listening) {
//     std::cerr << listening.message() << "\n";  // names the endpoint and the reason
//     return 1;
//   }
//
//   thrum::Result<thrum::Connection> conn = thrum::connect("127.0.0.1:9090");
//   if (!conn) return fail(conn.status());
//   EchoClient echo(conn->protocol);
//
// Start-up code that would rather throw: status.orThrow(), result.value()
// throw thrum::Error carrying the same message and code. Nothing in thrum
// throws on its own except where Thrift's interfaces do (a generated
// client's calls, a transport's open()).
#pragma once

#include <cassert>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace thrum {

class [[nodiscard]] Status {
 public:
  // Success.
  Status() = default;
  // A failure: `message` says what failed and why, for a person
  // ("listen tcp:port=80: Permission denied"); `code`, when there is one,
  // is the OS or library error for a program to test.
  static Status failure(std::string message, std::error_code code = {}) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    s.code_ = code;
    return s;
  }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  // Empty on success.
  const std::string& message() const { return message_; }
  std::error_code code() const { return code_; }

  // Throws Error on failure.
  void orThrow() const;

 private:
  bool failed_ = false;
  std::string message_;
  std::error_code code_;
};

// What orThrow() and Result::value() throw.
class Error : public std::runtime_error {
 public:
  explicit Error(const Status& status)
      : std::runtime_error(status.message()), code_(status.code()) {}
  std::error_code code() const { return code_; }

 private:
  std::error_code code_;
};

inline void Status::orThrow() const {
  if (failed_) throw Error(*this);
}

template <typename T>
class [[nodiscard]] Result {
 public:
  // A value: anything T is made from (a shared_ptr<Derived> for a
  // Result<shared_ptr<Base>>).
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Status> &&
           !std::is_same_v<std::remove_cvref_t<U>, Result>) Result(U&& value)
      : value_(std::in_place, std::forward<U>(value)) {}
  // A failure; `status` must not be ok.
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  // Success, or why not.
  const Status& status() const { return status_; }
  const std::string& error() const { return status_.message(); }

  // The value; throws Error when there is none.
  T& value() & { return checked(), *value_; }
  const T& value() const& { return checked(), *value_; }
  T&& value() && { return checked(), std::move(*value_); }
  // The value, which must be there.
  T& operator*() & {
    assert(ok());
    return *value_;
  }
  const T& operator*() const& {
    assert(ok());
    return *value_;
  }
  T* operator->() { return &**this; }
  const T* operator->() const { return &**this; }

 private:
  void checked() const { status_.orThrow(); }

  std::optional<T> value_;
  Status status_;
};

}  // namespace thrum
