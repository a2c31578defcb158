#include "operator/kube/error.h"

#include <gtest/gtest.h>

namespace shardcast::kube {
namespace {

TEST(ErrorMappingTest, StatusCodesMapToKinds) {
  struct Case {
    int status;
    const char* body;
    ErrorKind kind;
  };
  const Case cases[] = {
      {404, R"({"kind":"Status","reason":"NotFound","message":"configmaps \"x\" not found"})",
       ErrorKind::kNotFound},
      {409, R"({"reason":"AlreadyExists","message":"exists"})", ErrorKind::kAlreadyExists},
      {409, R"({"reason":"Conflict","message":"the object has been modified"})",
       ErrorKind::kConflict},
      {410, R"({"reason":"Expired","message":"too old resource version"})", ErrorKind::kGone},
      {422, R"({"reason":"Invalid","message":"spec.replicas: Invalid value: -1"})",
       ErrorKind::kInvalid},
      {400, "{}", ErrorKind::kBadRequest},
      {401, "{}", ErrorKind::kUnauthorized},
      {403, "{}", ErrorKind::kForbidden},
      {429, "{}", ErrorKind::kTooManyRequests},
      {500, "{}", ErrorKind::kUnavailable},
      {503, "{}", ErrorKind::kUnavailable},
      {504, "{}", ErrorKind::kTimeout},
      {418, "{}", ErrorKind::kUnknown},
  };
  for (const auto& c : cases) {
    ApiError e = ErrorFromResponse(c.status, c.body);
    EXPECT_EQ(e.kind, c.kind) << c.status << " " << c.body;
    EXPECT_EQ(e.http_status, c.status);
  }
}

TEST(ErrorMappingTest, InvalidCarriesServerMessage) {
  ApiError e = ErrorFromResponse(
      422,
      R"({"reason":"Invalid","message":"ShardSet.shardcast.dev \"a\" is invalid: spec.replicas: Invalid value: -1"})");
  EXPECT_EQ(e.reason, "Invalid");
  EXPECT_NE(e.message.find("spec.replicas"), std::string::npos);
  EXPECT_NE(e.to_string().find("Invalid (HTTP 422)"), std::string::npos);
}

TEST(ErrorMappingTest, RetryAfterFromHeaderOrDetails) {
  ApiError a = ErrorFromResponse(429, "{}", "7");
  ASSERT_TRUE(a.retry_after);
  EXPECT_EQ(a.retry_after->count(), 7);
  ApiError b = ErrorFromResponse(429, R"({"details":{"retryAfterSeconds":3}})");
  ASSERT_TRUE(b.retry_after);
  EXPECT_EQ(b.retry_after->count(), 3);
  ApiError c = ErrorFromResponse(429, "{}", "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_FALSE(c.retry_after);  // HTTP-date form is not honoured; backoff applies
  EXPECT_TRUE(a.retryable());
}

TEST(ErrorMappingTest, GarbageBodiesNeverCrash) {
  for (const char* body : {"", "not json", "[1,2]", "{\"message\": 5}", "\xff\xfe", "null",
                           "{\"details\": {\"retryAfterSeconds\": \"x\"}}"}) {
    ApiError e = ErrorFromResponse(500, body);
    EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(ErrorMappingTest, RetryableKinds) {
  auto of = [](ErrorKind k) {
    ApiError e;
    e.kind = k;
    return e.retryable();
  };
  EXPECT_TRUE(of(ErrorKind::kUnavailable));
  EXPECT_TRUE(of(ErrorKind::kConflict));
  EXPECT_FALSE(of(ErrorKind::kInvalid));
  EXPECT_FALSE(of(ErrorKind::kForbidden));
  EXPECT_FALSE(of(ErrorKind::kConfig));
}

}  // namespace
}  // namespace shardcast::kube
