// Admission cost (issue 8): what the tenancy checks add to a request, in-process and with the
// Redis backend on loopback against a real redis-server. Each benchmark reports the mean (the
// usual time column) and the p50/p99 of single admissions as counters, since the bar is a p99.
//
//   build/release/src/gateway/gateway_quota_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <vector>

#include "gateway/quota_backend.h"
#include "gateway/redis_quota.h"
#include "gateway/tenancy.h"
#include "gateway/tenant_store.h"
#include "net/redis_client.h"
#include "net/redis_test_server.h"
#include "tenant/tenant.h"

namespace brix::gateway {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Limits high enough never to refuse: the cost measured is the check, not the refusal.
tenant::TenantSpec Spec() {
  tenant::TenantSpec spec;
  spec.name = "acme";
  spec.limits.requests_per_minute = 1'000'000'000;
  spec.limits.tokens_per_minute = 1'000'000'000'000;
  spec.limits.max_concurrent = 1'000'000;
  spec.model_limits["llama"].requests_per_minute = 1'000'000'000;
  return spec;
}

void Percentiles(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
}

// One admission and its settlement, awaited the way the proxy does, on a worker's io_context.
void AdmitAndSettle(benchmark::State& state, QuotaBackend& backend) {
  const tenant::TenantSpec spec = Spec();
  asio::io_context io;
  std::vector<double> us;
  us.reserve(1 << 16);
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    auto future = asio::co_spawn(io, backend.Admit(spec, "llama", 1200), asio::use_future);
    io.restart();
    io.run();
    Result<tenant::Admission> a = future.get();
    if (!a || !a->allowed) {
      state.SkipWithError("admission failed");
      break;
    }
    backend.Settle(std::move(a->grant), 900);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  Percentiles(state, us);
}

void BM_LocalAdmit(benchmark::State& state) {
  std::unique_ptr<QuotaBackend> local = MakeLocalQuotaBackend();
  AdmitAndSettle(state, *local);
}
BENCHMARK(BM_LocalAdmit);

// Who is calling: the key's SHA-256 and the directory lookup, as for every request.
void BM_IdentifyByKey(benchmark::State& state) {
  TenantDirectory directory;
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    tenant::TenantSpec spec = Spec();
    spec.name = "tenant-" + std::to_string(i);
    keys.push_back(tenant::NewApiKey());
    directory.tenant_by_key_hash.emplace(tenant::HashApiKey(keys.back()), spec.name);
    directory.tenants.emplace(spec.name, std::move(spec));
  }
  net::Request request{boost::beast::http::verb::post, "/v1/chat/completions", 11};
  request.set(boost::beast::http::field::authorization, "Bearer " + keys[500]);
  const TrustedNetworks trusted;
  const auto peer = asio::ip::make_address("127.0.0.1");
  std::vector<double> us;
  us.reserve(1 << 16);
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    Identity id = Identify(directory, request, peer, trusted);
    benchmark::DoNotOptimize(id.tenant);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  Percentiles(state, us);
}
BENCHMARK(BM_IdentifyByKey);

void BM_RedisAdmit(benchmark::State& state) {
  net::testing::RedisTestServer server;
  if (!server.ready()) {
    state.SkipWithError("redis-server did not start");
    return;
  }
  Result<std::unique_ptr<QuotaBackend>> redis =
      MakeRedisQuotaBackend({.url = server.url(), .timeout = std::chrono::milliseconds(1000)});
  if (!redis) {
    state.SkipWithError(redis.error().message.c_str());
    return;
  }
  AdmitAndSettle(state, **redis);
}
BENCHMARK(BM_RedisAdmit)->UseRealTime();

// The reference: one bare INCR round trip on the same client and server, so the Redis admission
// can be read as a ratio to what any Redis call costs on this machine.
void BM_RedisIncrReference(benchmark::State& state) {
  net::testing::RedisTestServer server;
  if (!server.ready()) {
    state.SkipWithError("redis-server did not start");
    return;
  }
  asio::io_context io;
  net::RedisClient client(io.get_executor(), {.port = server.port()});
  std::vector<double> us;
  us.reserve(1 << 16);
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    auto future = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<Result<net::RedisReply>> {
          std::vector<std::string> incr = {"INCR", "reference"};
          co_return co_await client.Command(std::move(incr),
                                            Clock::now() + std::chrono::seconds(1));
        },
        asio::use_future);
    io.restart();
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    if (!future.get()) {
      state.SkipWithError("INCR failed");
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  Percentiles(state, us);
}
BENCHMARK(BM_RedisIncrReference)->UseRealTime();

}  // namespace
}  // namespace brix::gateway

BENCHMARK_MAIN();
