#include "net/http_status.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace brix::net {
namespace {

TEST(HttpStatusTest, EveryErrcHasItsStatus) {
  EXPECT_EQ(HttpStatusFor(Errc::kInvalidArgument), 400u);
  EXPECT_EQ(HttpStatusFor(Errc::kNotFound), 404u);
  EXPECT_EQ(HttpStatusFor(Errc::kAlreadyExists), 409u);
  EXPECT_EQ(HttpStatusFor(Errc::kFailedPrecondition), 400u);
  EXPECT_EQ(HttpStatusFor(Errc::kResourceExhausted), 429u);
  EXPECT_EQ(HttpStatusFor(Errc::kUnavailable), 503u);
  EXPECT_EQ(HttpStatusFor(Errc::kDeadlineExceeded), 504u);
  EXPECT_EQ(HttpStatusFor(Errc::kCancelled), 499u);
  EXPECT_EQ(HttpStatusFor(Errc::kUnauthenticated), 401u);
  EXPECT_EQ(HttpStatusFor(Errc::kPermissionDenied), 403u);
  EXPECT_EQ(HttpStatusFor(Errc::kInternal), 500u);
}

TEST(HttpStatusTest, ErrorTypesFollowOpenAi) {
  EXPECT_EQ(ErrorTypeForStatus(400), "invalid_request_error");
  EXPECT_EQ(ErrorTypeForStatus(401), "authentication_error");
  EXPECT_EQ(ErrorTypeForStatus(403), "permission_error");
  EXPECT_EQ(ErrorTypeForStatus(404), "not_found_error");
  EXPECT_EQ(ErrorTypeForStatus(409), "invalid_request_error");
  EXPECT_EQ(ErrorTypeForStatus(413), "invalid_request_error");
  EXPECT_EQ(ErrorTypeForStatus(429), "rate_limit_error");
  EXPECT_EQ(ErrorTypeForStatus(500), "server_error");
  EXPECT_EQ(ErrorTypeForStatus(503), "server_error");
}

TEST(HttpStatusTest, ErrorBodyIsTheOpenAiEnvelopeWithEscaping) {
  const std::string body = ErrorBody(NotFound("model \"x\" not found\n"));
  EXPECT_EQ(body, R"({"error":{"message":"model \"x\" not found\n","type":"not_found_error",)"
                  R"("param":null,"code":404}})");
  const auto json = boost::json::parse(body);
  EXPECT_EQ(json.at("error").at("message").as_string(), "model \"x\" not found\n");
  EXPECT_TRUE(json.at("error").at("param").is_null());
}

}  // namespace
}  // namespace brix::net
