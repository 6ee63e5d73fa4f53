#include "gateway/tenancy.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace brix::gateway {
namespace {

namespace ip = boost::asio::ip;

TenantDirectory Directory() {
  TenantDirectory dir;
  tenant::TenantSpec acme;
  acme.name = "acme";
  dir.tenants.emplace("acme", acme);
  dir.tenant_by_key_hash.emplace(tenant::HashApiKey("sk-brix-good-key-0123456789"), "acme");
  return dir;
}

net::Request Req(std::string_view auth, std::string_view user = {}) {
  net::Request req{boost::beast::http::verb::post, "/v1/chat/completions", 11};
  if (!auth.empty()) req.set(boost::beast::http::field::authorization, auth);
  if (!user.empty()) req.set("user", user);
  return req;
}

std::string Message(const Rejection& r) {
  return std::string(boost::json::parse(r.body).at("error").at("message").as_string());
}

TEST(TrustedNetworksTest, MatchesAddressesAndNetworks) {
  Result<TrustedNetworks> t = TrustedNetworks::Parse({"10.0.0.0/8", "192.168.1.7", "fd00::/8"});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->Contains(ip::make_address("10.200.3.4")));
  EXPECT_FALSE(t->Contains(ip::make_address("11.0.0.1")));
  EXPECT_TRUE(t->Contains(ip::make_address("192.168.1.7")));
  EXPECT_FALSE(t->Contains(ip::make_address("192.168.1.8")));
  EXPECT_TRUE(t->Contains(ip::make_address("fd12::1")));
  EXPECT_TRUE(t->Contains(ip::make_address("::ffff:10.1.1.1")));  // v4-mapped
  EXPECT_FALSE(t->Contains(ip::make_address("::1")));
  for (const char* bad : {"10.0.0.0/33", "nonsense", "10.0.0.0/", "::1/129", "1.2.3.4/x"}) {
    EXPECT_FALSE(TrustedNetworks::Parse({bad})) << bad;
  }
}

TEST(IdentifyTest, BearerKeysAndTrustedUserHeaders) {
  const TenantDirectory dir = Directory();
  Result<TrustedNetworks> trusted = TrustedNetworks::Parse({"127.0.0.0/8"});
  ASSERT_TRUE(trusted);
  const ip::address local = ip::make_address("127.0.0.1");
  const ip::address remote = ip::make_address("203.0.113.9");

  Identity ok = Identify(dir, Req("Bearer sk-brix-good-key-0123456789"), remote, *trusted);
  ASSERT_TRUE(ok.tenant);
  EXPECT_EQ(ok.tenant->name, "acme");
  EXPECT_TRUE(Identify(dir, Req("bearer  sk-brix-good-key-0123456789 "), remote, *trusted).tenant);

  Identity missing = Identify(dir, Req(""), remote, *trusted);
  ASSERT_TRUE(missing.rejection);
  EXPECT_EQ(missing.rejection->status, 401u);
  EXPECT_NE(Message(*missing.rejection).find("didn't provide an API key"), std::string::npos);

  Identity wrong = Identify(dir, Req("Bearer sk-brix-wrong-key-999999999"), remote, *trusted);
  ASSERT_TRUE(wrong.rejection);
  EXPECT_EQ(wrong.rejection->status, 401u);
  // Enough of the key to recognise it, not enough to use it.
  EXPECT_NE(Message(*wrong.rejection).find("sk-brix-***9999"), std::string::npos);

  // `user` counts only from a trusted network; elsewhere the key is still required.
  Identity via_user = Identify(dir, Req("", "acme"), local, *trusted);
  ASSERT_TRUE(via_user.tenant);
  EXPECT_EQ(via_user.tenant->name, "acme");
  Identity untrusted = Identify(dir, Req("", "acme"), remote, *trusted);
  ASSERT_TRUE(untrusted.rejection);
  EXPECT_EQ(untrusted.rejection->status, 401u);
  Identity unknown_user = Identify(dir, Req("", "nobody"), local, *trusted);
  ASSERT_TRUE(unknown_user.rejection);
  EXPECT_EQ(unknown_user.rejection->status, 401u);  // AIBrix answers 500 here
  Result<TrustedNetworks> none = TrustedNetworks::Parse({});
  EXPECT_TRUE(Identify(dir, Req("", "acme"), local, *none).rejection);
}

TEST(RateLimitedTest, SaysWhichLimitAndWhenToRetry) {
  tenant::Admission a;
  a.kind = tenant::LimitKind::kRequests;
  a.limit = 60;
  a.used = 60;
  a.requested = 1;
  a.retry_after_ms = 1500;
  Rejection r = RateLimited(a, "llama");
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.retry_after_s, 2);
  auto body = boost::json::parse(r.body).at("error");
  EXPECT_EQ(body.at("type").as_string(), "requests");
  EXPECT_EQ(body.at("code").as_string(), "rate_limit_exceeded");
  EXPECT_EQ(Message(r),
            "Rate limit reached for requests per minute: Limit 60, Used 60, Requested 1. Please "
            "try again in 1.5s.");
  a.kind = tenant::LimitKind::kTokens;
  a.model_scope = "llama";
  a.retry_after_ms = -1;
  a.requested = 5000;
  Rejection never = RateLimited(a, "llama");
  EXPECT_FALSE(never.retry_after_s);
  EXPECT_NE(Message(never).find("Request too large on model llama"), std::string::npos);
}

TEST(RateLimitHeadersTest, OpenAiNamesAndDurations) {
  tenant::Admission a;
  a.requests = tenant::Budget{60, 59, 60'000};
  a.tokens = tenant::Budget{1000, 200, 6'500};
  std::vector<std::pair<std::string, std::string>> h;
  AddRateLimitHeaders(a, h);
  ASSERT_EQ(h.size(), 6u);
  EXPECT_EQ(h[0], (std::pair<std::string, std::string>{"x-ratelimit-limit-requests", "60"}));
  EXPECT_EQ(h[1].second, "59");
  EXPECT_EQ(h[2].second, "1m0s");
  EXPECT_EQ(h[5], (std::pair<std::string, std::string>{"x-ratelimit-reset-tokens", "6.5s"}));
  EXPECT_EQ(ResetDuration(250), "250ms");
  EXPECT_EQ(ResetDuration(90'500), "1m30.5s");
}

}  // namespace
}  // namespace brix::gateway
