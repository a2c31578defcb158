#include "operator/kube/error.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace shardcast::kube {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "NotFound";
    case ErrorKind::kAlreadyExists:
      return "AlreadyExists";
    case ErrorKind::kConflict:
      return "Conflict";
    case ErrorKind::kGone:
      return "Gone";
    case ErrorKind::kInvalid:
      return "Invalid";
    case ErrorKind::kBadRequest:
      return "BadRequest";
    case ErrorKind::kTooManyRequests:
      return "TooManyRequests";
    case ErrorKind::kUnauthorized:
      return "Unauthorized";
    case ErrorKind::kForbidden:
      return "Forbidden";
    case ErrorKind::kUnavailable:
      return "Unavailable";
    case ErrorKind::kTimeout:
      return "Timeout";
    case ErrorKind::kDecode:
      return "Decode";
    case ErrorKind::kConfig:
      return "Config";
    case ErrorKind::kCancelled:
      return "Cancelled";
    case ErrorKind::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

bool ApiError::retryable() const {
  switch (kind) {
    case ErrorKind::kConflict:
    case ErrorKind::kGone:
    case ErrorKind::kTooManyRequests:
    case ErrorKind::kUnavailable:
    case ErrorKind::kTimeout:
      return true;
    default:
      return false;
  }
}

std::string ApiError::to_string() const {
  std::string out(ErrorKindName(kind));
  if (http_status != 0) out += " (HTTP " + std::to_string(http_status) + ")";
  if (!message.empty()) out += ": " + message;
  return out;
}

namespace {

ErrorKind KindFromStatus(int status, std::string_view reason) {
  switch (status) {
    case 400:
      return ErrorKind::kBadRequest;
    case 401:
      return ErrorKind::kUnauthorized;
    case 403:
      return ErrorKind::kForbidden;
    case 404:
      return ErrorKind::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? ErrorKind::kAlreadyExists : ErrorKind::kConflict;
    case 410:
      return ErrorKind::kGone;
    case 422:
      return ErrorKind::kInvalid;
    case 429:
      return ErrorKind::kTooManyRequests;
    case 504:
      return ErrorKind::kTimeout;
    default:
      break;
  }
  if (status >= 500 && status <= 599) return ErrorKind::kUnavailable;
  return ErrorKind::kUnknown;
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  long long secs = 0;
  auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), secs);
  if (ec != std::errc() || ptr == header.data() || secs < 0) return std::nullopt;
  return std::chrono::seconds(secs);
}

}  // namespace

ApiError ErrorFromResponse(int http_status, std::string_view body,
                           std::string_view retry_after_header) {
  ApiError err;
  err.http_status = http_status;
  std::string reason;
  std::string message;
  auto status =
      nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (status.is_object()) {
    if (auto it = status.find("reason"); it != status.end() && it->is_string()) reason = *it;
    if (auto it = status.find("message"); it != status.end() && it->is_string()) message = *it;
    // A metav1.Status may carry retryAfterSeconds in details.
    if (auto d = status.find("details"); d != status.end() && d->is_object()) {
      if (auto r = d->find("retryAfterSeconds"); r != d->end() && r->is_number_integer()) {
        err.retry_after = std::chrono::seconds(r->get<long long>());
      }
    }
  }
  if (message.empty()) {
    constexpr size_t kMaxBody = 512;
    message = body.empty() ? "empty response body" : std::string(body.substr(0, kMaxBody));
  }
  err.kind = KindFromStatus(http_status, reason);
  err.reason = std::move(reason);
  err.message = std::move(message);
  if (auto ra = ParseRetryAfter(retry_after_header)) err.retry_after = ra;
  return err;
}

}  // namespace shardcast::kube
