#include "net/admin.h"

#include <gtest/gtest.h>

namespace brix::net {
namespace {

namespace http = boost::beast::http;

Request WithAuth(std::string value) {
  Request r{http::verb::get, "/", 11};
  r.set(http::field::authorization, value);
  return r;
}

TEST(AdminTest, BearerTokenMustMatchExactly) {
  EXPECT_TRUE(BearerTokenMatches(WithAuth("Bearer secret-token"), "secret-token"));
  EXPECT_FALSE(BearerTokenMatches(WithAuth("Bearer secret-tokeN"), "secret-token"));
  EXPECT_FALSE(BearerTokenMatches(WithAuth("Bearer secret-token2"), "secret-token"));
  EXPECT_FALSE(BearerTokenMatches(WithAuth("Bearer secret"), "secret-token"));
  EXPECT_FALSE(BearerTokenMatches(WithAuth("Basic secret-token"), "secret-token"));
  EXPECT_FALSE(BearerTokenMatches(Request{http::verb::get, "/", 11}, "secret-token"));
  EXPECT_FALSE(BearerTokenMatches(WithAuth("Bearer "), ""));
}

TEST(AdminTest, ErrorsUseTheEnvelopeAndTheMappedStatus) {
  Response r = ErrorResponse(NotFound("no such thing"));
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r[http::field::content_type], "application/json");
  EXPECT_NE(r.body().find(R"("message":"no such thing")"), std::string::npos) << r.body();
  EXPECT_EQ(ErrorResponse(InvalidArgument("x"), 409).result_int(), 409);
  EXPECT_EQ(JsonResponse(http::status::created, "{}").result_int(), 201);
}

}  // namespace
}  // namespace brix::net
