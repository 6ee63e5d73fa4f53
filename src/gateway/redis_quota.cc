#include "gateway/redis_quota.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <random>
#include <thread>

#include "net/redis_client.h"

namespace brix::gateway {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;
using net::RedisReply;

// Check-and-consume for every scope at once; tenant::LocalQuota::Admit in Lua, on Redis's clock.
// KEYS, per scope i: requests hash, tokens hash, concurrency sorted set. ARGV: scope count,
// tokens, lease id, lease ms, then per scope: requests/min, tokens/min, concurrent (0 = none),
// then the time in ms to use instead of Redis's (tests only; empty otherwise).
// Returns {allowed, kind (0 requests, 1 tokens, 2 concurrent), scope (1-based), limit, used,
// requested, wait ms (-1 never), bucket} and per scope {requests used, requests reset ms,
// tokens used, tokens reset ms}, all after charging.
constexpr std::string_view kAdmitScript = R"lua(
local n = tonumber(ARGV[1])
local now
if ARGV[5 + 3 * n] ~= '' then
  now = tonumber(ARGV[5 + 3 * n])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local B = 60
local bucket = math.floor(now / 1000)
local oldest = bucket - B
local tokens = tonumber(ARGV[2])
local lease = ARGV[3]
local lease_ms = tonumber(ARGV[4])

local function read(key)
  local flat = redis.call('HGETALL', key)
  local sum, items, stale = 0, {}, {}
  for i = 1, #flat, 2 do
    local b, c = tonumber(flat[i]), tonumber(flat[i + 1])
    if b < oldest then
      stale[#stale + 1] = flat[i]
    elseif c > 0 then
      sum = sum + c
      items[#items + 1] = {b, c}
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(items, function(x, y) return x[1] < y[1] end)
  return sum, items
end

local function wait(items, used, amount, limit)
  if amount > limit then return -1 end
  local must = used + amount - limit
  for _, it in ipairs(items) do
    if it[2] >= must then return math.max((it[1] + B + 1) * 1000 - now, 1) end
    must = must - it[2]
  end
  return B * 1000
end

local function reset(items, charged)
  local newest = nil
  if #items > 0 then newest = items[#items][1] end
  if charged then newest = bucket end
  if newest == nil then return 0 end
  return (newest + B + 1) * 1000 - now
end

local allowed, kind, at, limit, used, requested, wait_ms = 1, 0, 0, 0, 0, 0, 0
local function refuse(k, i, l, u, r, w)
  local worse = allowed == 1 or (wait_ms ~= -1 and (w == -1 or w > wait_ms))
  allowed = 0
  if worse then kind, at, limit, used, requested, wait_ms = k, i, l, u, r, w end
end

local state = {}
for i = 1, n do
  local s = {rpm = tonumber(ARGV[4 + 3 * i - 2]), tpm = tonumber(ARGV[4 + 3 * i - 1]),
             conc = tonumber(ARGV[4 + 3 * i]), req_used = 0, req_items = {}, tok_used = 0,
             tok_items = {}}
  if s.rpm > 0 then
    s.req_used, s.req_items = read(KEYS[3 * i - 2])
    if s.req_used + 1 > s.rpm then
      refuse(0, i, s.rpm, s.req_used, 1, wait(s.req_items, s.req_used, 1, s.rpm))
    end
  end
  if s.tpm > 0 then
    s.tok_used, s.tok_items = read(KEYS[3 * i - 1])
    if s.tok_used + tokens > s.tpm then
      refuse(1, i, s.tpm, s.tok_used, tokens, wait(s.tok_items, s.tok_used, tokens, s.tpm))
    end
  end
  if s.conc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[3 * i], '-inf', now)
    local in_flight = redis.call('ZCARD', KEYS[3 * i])
    if in_flight + 1 > s.conc then refuse(2, i, s.conc, in_flight, 1, 1000) end
  end
  state[i] = s
end

local out = {allowed, kind, at, limit, used, requested, wait_ms, bucket}
local charged = allowed == 1
for i = 1, n do
  local s = state[i]
  local ru, rr, tu, tr = 0, 0, 0, 0
  if s.rpm > 0 then
    if charged then
      redis.call('HINCRBY', KEYS[3 * i - 2], bucket, 1)
      redis.call('PEXPIRE', KEYS[3 * i - 2], (B + 2) * 1000)
      s.req_used = s.req_used + 1
    end
    ru, rr = s.req_used, reset(s.req_items, charged)
  end
  if s.tpm > 0 then
    if charged and tokens > 0 then
      redis.call('HINCRBY', KEYS[3 * i - 1], bucket, tokens)
      redis.call('PEXPIRE', KEYS[3 * i - 1], (B + 2) * 1000)
      s.tok_used = s.tok_used + tokens
    end
    tu, tr = s.tok_used, reset(s.tok_items, charged and tokens > 0)
  end
  if s.conc > 0 and charged then
    redis.call('ZADD', KEYS[3 * i], now + lease_ms, lease)
    redis.call('PEXPIRE', KEYS[3 * i], lease_ms + 1000)
  end
  out[#out + 1] = ru
  out[#out + 1] = rr
  out[#out + 1] = tu
  out[#out + 1] = tr
end
return out
)lua";

// Settlement: KEYS = the token hashes charged, then the concurrency sets held. ARGV: bucket,
// token delta (actual - reserved), lease id, number of token hashes, test time (as above).
constexpr std::string_view kSettleScript = R"lua(
local now
if ARGV[5] ~= '' then
  now = tonumber(ARGV[5])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local delta, ntok = tonumber(ARGV[2]), tonumber(ARGV[4])
if delta ~= 0 and tonumber(ARGV[1]) >= math.floor(now / 1000) - 60 then
  for i = 1, ntok do
    local v = redis.call('HINCRBY', KEYS[i], ARGV[1], delta)
    if v <= 0 then
      redis.call('HDEL', KEYS[i], ARGV[1])
    else
      redis.call('PEXPIRE', KEYS[i], 62000)
    end
  end
end
for i = ntok + 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[3]) end
return 1
)lua";

std::string Sha1Hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex;
  for (unsigned char b : digest) fmt::format_to(std::back_inserter(hex), "{:02x}", b);
  return hex;
}

std::string Key(const tenant::TenantSpec& spec, const tenant::Scope& scope, char kind) {
  return fmt::format("brix:q:{{{}}}:{}:{}", spec.name, scope.key, kind);
}

std::string NewLeaseId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

Error BadReply(std::string_view what) {
  return Unavailable(fmt::format("redis: unexpected reply to the quota script ({})", what));
}

class RedisQuotaBackend final : public QuotaBackend {
 public:
  RedisQuotaBackend(RedisQuotaOptions options, net::RedisOptions redis)
      : options_(std::move(options)),
        work_(io_.get_executor()),
        client_(io_.get_executor(), std::move(redis)),
        thread_([this] { io_.run(); }) {
    // Load both scripts now (best effort), so that the first admissions and settlements do not
    // each pay a NOSCRIPT round trip, and a settlement is not overtaken by the admission after it.
    for (std::string_view script : {kAdmitScript, kSettleScript}) {
      std::vector<std::string> load = {"SCRIPT", "LOAD", std::string(script)};
      asio::co_spawn(
          io_,
          [this, load = std::move(load)]() mutable -> awaitable<void> {
            co_await client_.Command(std::move(load), Clock::now() + std::chrono::seconds(2));
          },
          asio::detached);
    }
  }

  ~RedisQuotaBackend() override {
    asio::post(io_, [this] { client_.Close(); });
    work_.reset();
    thread_.join();
  }

  std::string_view name() const override { return "redis"; }

  awaitable<Result<tenant::Admission>> Admit(const tenant::TenantSpec& spec, std::string_view model,
                                             uint64_t tokens) override {
    const std::vector<tenant::Scope> scopes = tenant::ScopesFor(spec, model);
    tenant::Admission out;
    if (scopes.empty()) {
      out.allowed = true;
      co_return out;
    }
    const std::string lease = NewLeaseId();
    std::vector<std::string> args = {"EVALSHA", admit_sha_, std::to_string(3 * scopes.size())};
    for (const tenant::Scope& s : scopes) {
      args.push_back(Key(spec, s, 'r'));
      args.push_back(Key(spec, s, 't'));
      args.push_back(Key(spec, s, 'c'));
    }
    args.push_back(std::to_string(scopes.size()));
    args.push_back(std::to_string(tokens));
    args.push_back(lease);
    args.push_back(std::to_string(options_.lease.count()));
    for (const tenant::Scope& s : scopes) {
      args.push_back(std::to_string(s.limits->requests_per_minute.value_or(0)));
      args.push_back(std::to_string(s.limits->tokens_per_minute.value_or(0)));
      args.push_back(std::to_string(s.limits->max_concurrent.value_or(0)));
    }
    args.push_back(TestNow());
    Result<RedisReply> reply = co_await asio::co_spawn(
        io_.get_executor(), Eval(std::move(args), kAdmitScript, Clock::now() + options_.timeout),
        asio::use_awaitable);
    if (!reply) co_return reply.error();
    if (reply->type == RedisReply::Type::kError) co_return Unavailable("redis: " + reply->str);
    const std::vector<RedisReply>& v = reply->elements;
    if (reply->type != RedisReply::Type::kArray || v.size() != 8 + 4 * scopes.size()) {
      co_return BadReply("shape");
    }
    for (const RedisReply& e : v) {
      if (e.type != RedisReply::Type::kInteger) co_return BadReply("not an integer");
    }
    auto u = [&](size_t i) { return static_cast<uint64_t>(std::max<int64_t>(v[i].integer, 0)); };
    out.allowed = v[0].integer == 1;
    out.kind = v[1].integer == 1   ? tenant::LimitKind::kTokens
               : v[1].integer == 2 ? tenant::LimitKind::kConcurrent
                                   : tenant::LimitKind::kRequests;
    const int64_t at = v[2].integer;
    if (!out.allowed) {
      if (at < 1 || at > static_cast<int64_t>(scopes.size())) co_return BadReply("scope");
      out.model_scope = scopes[static_cast<size_t>(at - 1)].model;
    }
    out.limit = u(3);
    out.used = u(4);
    out.requested = u(5);
    out.retry_after_ms = v[6].integer;
    for (size_t i = 0; i < scopes.size(); ++i) {
      const tenant::Limits& l = *scopes[i].limits;
      const size_t base = 8 + 4 * i;
      auto tighten = [](std::optional<tenant::Budget>& into, const tenant::Budget& b) {
        if (!into || b.remaining < into->remaining) into = b;
      };
      if (l.requests_per_minute) {
        const uint64_t limit = *l.requests_per_minute;
        tighten(out.requests, {limit, limit - std::min(u(base), limit), v[base + 1].integer});
      }
      if (l.tokens_per_minute) {
        const uint64_t limit = *l.tokens_per_minute;
        tighten(out.tokens, {limit, limit - std::min(u(base + 2), limit), v[base + 3].integer});
      }
      if (out.allowed) {
        if (l.tokens_per_minute) out.grant.token_scopes.push_back(Key(spec, scopes[i], 't'));
        if (l.max_concurrent) out.grant.slot_scopes.push_back(Key(spec, scopes[i], 'c'));
      }
    }
    if (out.allowed) {
      out.grant.bucket = v[7].integer;
      out.grant.reserved_tokens = tokens;
      out.grant.lease = lease;
    }
    co_return out;
  }

  void Settle(tenant::Grant grant, uint64_t actual_tokens) override {
    const int64_t delta =
        static_cast<int64_t>(actual_tokens) - static_cast<int64_t>(grant.reserved_tokens);
    if ((delta == 0 || grant.token_scopes.empty()) && grant.slot_scopes.empty()) return;
    std::vector<std::string> args = {
        "EVALSHA", settle_sha_,
        std::to_string(grant.token_scopes.size() + grant.slot_scopes.size())};
    for (std::string& k : grant.token_scopes) args.push_back(std::move(k));
    for (std::string& k : grant.slot_scopes) args.push_back(std::move(k));
    args.push_back(std::to_string(grant.bucket));
    args.push_back(std::to_string(delta));
    args.push_back(grant.lease);
    args.push_back(std::to_string(grant.token_scopes.size()));
    args.push_back(TestNow());
    asio::co_spawn(io_.get_executor(),
                   Eval(std::move(args), kSettleScript, Clock::now() + 10 * options_.timeout),
                   asio::detached);
  }

 private:
  std::string TestNow() const {
    return options_.now_ms_for_tests ? std::to_string(options_.now_ms_for_tests()) : std::string();
  }

  // EVALSHA, falling back to EVAL (which also loads the script) after a NOSCRIPT: a restarted
  // or flushed Redis has forgotten it.
  awaitable<Result<RedisReply>> Eval(std::vector<std::string> args, std::string_view script,
                                     Clock::time_point deadline) {
    Result<RedisReply> reply = co_await client_.Command(args, deadline);
    if (reply && reply->type == RedisReply::Type::kError && reply->str.starts_with("NOSCRIPT")) {
      args[0] = "EVAL";
      args[1] = std::string(script);
      reply = co_await client_.Command(std::move(args), deadline);
    }
    co_return reply;
  }

  const RedisQuotaOptions options_;
  const std::string admit_sha_ = Sha1Hex(kAdmitScript);
  const std::string settle_sha_ = Sha1Hex(kSettleScript);
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  net::RedisClient client_;  // used on io_'s thread only
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<QuotaBackend>> MakeRedisQuotaBackend(RedisQuotaOptions options) {
  Result<net::RedisOptions> redis = net::ParseRedisUrl(options.url);
  if (!redis) return redis.error();
  if (options.timeout <= std::chrono::milliseconds(0)) {
    return InvalidArgument("redis quota timeout must be positive");
  }
  redis->connect_timeout = std::max(options.timeout, std::chrono::milliseconds(100));
  return std::unique_ptr<QuotaBackend>(
      std::make_unique<RedisQuotaBackend>(std::move(options), std::move(*redis)));
}

}  // namespace brix::gateway
