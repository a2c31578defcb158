// Typed results at the Kubernetes API boundary. Every HTTP outcome that an
// operator must react to differently gets its own kind; callers switch on
// the kind, never on status codes or message text.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "util/expected.h"

namespace shardcast::kube {

enum class ErrorKind {
  kNotFound,         // 404
  kAlreadyExists,    // 409 with reason AlreadyExists
  kConflict,         // 409 (stale resourceVersion or failed precondition)
  kGone,             // 410 (resourceVersion too old; re-list)
  kInvalid,          // 422, carries the server's field message
  kBadRequest,       // 400
  kTooManyRequests,  // 429, honours Retry-After
  kUnauthorized,     // 401
  kForbidden,        // 403
  kUnavailable,      // 5xx, connection refused, reset: retry with backoff
  kTimeout,          // 504 or a client-side timeout
  kDecode,           // the server answered with JSON we did not expect
  kConfig,           // bad kubeconfig, certificate or flag: not retryable
  kCancelled,        // the caller stopped the operation
  kUnknown,          // any other status
};

std::string_view ErrorKindName(ErrorKind kind);

struct ApiError {
  ErrorKind kind = ErrorKind::kUnknown;
  int http_status = 0;  // 0 when no response was received
  std::string reason;   // Status.reason from the server, if any
  std::string message;  // human-readable, names the field where known
  std::optional<std::chrono::seconds> retry_after;

  // Whether retrying the same request later may succeed.
  bool retryable() const;
  std::string to_string() const;
};

template <typename T>
using ApiResult = Expected<T, ApiError>;
using ApiStatus = Expected<void, ApiError>;

inline Unexpected<ApiError> MakeApiError(ErrorKind kind, std::string message, int http_status = 0) {
  return Unexpected<ApiError>{ApiError{kind, http_status, {}, std::move(message), std::nullopt}};
}

// Maps an HTTP status, its body (ideally a metav1.Status) and its Retry-After
// header to a typed error. Never throws, whatever the body holds.
ApiError ErrorFromResponse(int http_status, std::string_view body,
                           std::string_view retry_after_header = {});

}  // namespace shardcast::kube
