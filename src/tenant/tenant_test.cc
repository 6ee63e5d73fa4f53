#include "tenant/tenant.h"

#include <gtest/gtest.h>

#include <set>

namespace brix::tenant {
namespace {

TEST(TenantSpecTest, ParsesEveryFieldAndRoundTrips) {
  Result<TenantSpec> spec = ParseTenantSpec(R"({"name":"acme",
      "limits":{"requests_per_minute":60,"tokens_per_minute":1e5,"max_concurrent":8,
                "max_tokens_per_request":null},
      "model_limits":{"llama-3.1-8b":{"max_tokens_per_request":4096}},
      "models":["llama-3.1-8b","qwen"],"weight":2.5})");
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->name, "acme");
  EXPECT_EQ(spec->limits.requests_per_minute, 60u);
  EXPECT_EQ(spec->limits.tokens_per_minute, 100000u);
  EXPECT_EQ(spec->limits.max_concurrent, 8u);
  EXPECT_FALSE(spec->limits.max_tokens_per_request);
  EXPECT_EQ(spec->model_limits.at("llama-3.1-8b").max_tokens_per_request, 4096u);
  EXPECT_EQ(spec->weight, 2.5);
  EXPECT_TRUE(spec->MayUse("qwen"));
  EXPECT_FALSE(spec->MayUse("other"));
  EXPECT_EQ(spec->MaxTokensPerRequest("llama-3.1-8b"), 4096u);
  EXPECT_FALSE(spec->MaxTokensPerRequest("qwen"));
  Result<TenantSpec> again = ParseTenantSpec(TenantSpecJson(*spec));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *spec);
}

TEST(TenantSpecTest, AWeightWithMoreDigitsThanADoubleReadsBackAsItself) {
  // Found by tenant_spec_fuzzer: the fast number parser put this one ulp off the nearest double,
  // and the written form (the shortest that names that double) then read back as another.
  Result<TenantSpec> spec = ParseTenantSpec(R"({"name":"a","weight":1.666666666666666666})");
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->weight, 1.6666666666666667);
  Result<TenantSpec> again = ParseTenantSpec(TenantSpecJson(*spec));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *spec);
}

TEST(TenantSpecTest, EmptyModelsMeansEveryModel) {
  Result<TenantSpec> spec = ParseTenantSpec("{}", "team-a");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->name, "team-a");
  EXPECT_TRUE(spec->MayUse("anything"));
  EXPECT_TRUE(spec->limits.empty());
}

TEST(TenantSpecTest, ErrorsNameTheFieldPath) {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {"[1]", "body: must be a JSON object"},
      {"{", "body: not valid JSON"},
      {R"({"name":"a","limits":{"requests_per_minute":0}})",
       "limits.requests_per_minute: must be a positive integer or null"},
      {R"({"name":"a","limits":{"requests_per_minute":1.5}})",
       "limits.requests_per_minute: must be a positive integer"},
      {R"({"name":"a","limits":{"requests_per_minute":"60"}})",
       "limits.requests_per_minute: must be a positive integer"},
      {R"({"name":"a","limits":{"rpm":60}})", "limits.rpm: unknown field"},
      {R"({"name":"a","model_limits":{"m":{"max_concurrent":-1}}})",
       "model_limits.m.max_concurrent: must be a positive integer"},
      {R"({"name":"a","models":["x",3]})", "models[1]: must be a non-empty string"},
      {R"({"name":"a","weight":0})", "weight: must be above 0"},
      {R"({"name":"a","colour":"red"})", "colour: unknown field"},
      {R"({"name":"Acme"})", "name: \"Acme\" must start with a lowercase letter"},
      {R"({"name":"a/b"})", "name: \"a/b\" may hold only"},
      {R"({"limits":{}})", "name: must be 1 to 63 characters"},
  };
  for (const Case& c : cases) {
    Result<TenantSpec> spec = ParseTenantSpec(c.json);
    ASSERT_FALSE(spec) << c.json;
    EXPECT_EQ(spec.error().code, Errc::kInvalidArgument);
    EXPECT_NE(spec.error().message.find(c.error), std::string::npos)
        << c.json << " -> " << spec.error().message;
  }
  Result<TenantSpec> mismatch = ParseTenantSpec(R"({"name":"b"})", "a");
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("differs from the tenant named in the URL"),
            std::string::npos);
}

TEST(ApiKeyTest, KeysAreRandomAndHashedWithSha256) {
  std::set<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    std::string key = NewApiKey();
    ASSERT_EQ(key.size(), 8u + 43u) << key;
    ASSERT_EQ(key.rfind("sk-brix-", 0), 0u);
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 100u);
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(HashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(KeyIdFromHash(HashApiKey("abc")), "ba7816bf8f01cfea");
}

}  // namespace
}  // namespace brix::tenant
