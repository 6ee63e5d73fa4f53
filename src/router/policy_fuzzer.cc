// Fuzzes routing-strategy specs and the policies behind them: the input's first line is given to
// MakePolicy (a name or a weighted combination such as "prefix-cache:2,least-request"); the
// rest drives a few Route() calls over three endpoints with token ids, loads and metrics taken
// from the bytes. MakePolicy must answer InvalidArgument or a policy, never crash; a policy must
// pick a serving candidate every time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "router/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view spec = input.substr(0, newline);
  auto policy = brix::router::MakePolicy(spec);
  if (!policy) {
    BRIX_CHECK(policy.error().code == brix::Errc::kInvalidArgument);
    BRIX_CHECK(!policy.error().message.empty());
    return 0;
  }
  std::string_view rest = newline == std::string_view::npos ? "" : input.substr(newline + 1);
  auto next = [&]() -> uint8_t {
    if (rest.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(rest[0]);
    rest.remove_prefix(1);
    return b;
  };
  const std::vector<std::string> models = {"m"};
  brix::router::EngineMetrics metrics[3];
  std::vector<brix::router::EndpointView> endpoints(3);
  const char* names[] = {"a", "b", "c"};
  for (int round = 0; round < 8 && !rest.empty(); ++round) {
    for (size_t i = 0; i < endpoints.size(); ++i) {
      metrics[i].waiting = next();
      metrics[i].kv_cache_usage = next() / 255.0;
      endpoints[i] = {.name = names[i],
                      .address = names[i],
                      .in_flight = next(),
                      .in_flight_tokens = next() * 64,
                      .awaiting_first_token = next() % 8,
                      .awaiting_prompt_tokens = next() * 32,
                      .metrics = next() % 2 ? &metrics[i] : nullptr,
                      .models = models};
    }
    // A prompt of up to ~4k tokens built from a short alphabet, so prefixes repeat.
    std::vector<uint32_t> ids(static_cast<size_t>(next()) * 16);
    for (uint32_t& id : ids) id = next() % 4;
    uint64_t random = 0;
    for (int k = 0; k < 8; ++k) random = random << 8 | next();
    brix::router::RouteRequest request{
        .model = "m", .token_ids = ids, .random = random, .now_s = round * 10.0};
    auto pick = brix::router::Route(**policy, request, endpoints);
    BRIX_CHECK(pick.has_value()) << pick.error().message;
    BRIX_CHECK(*pick < endpoints.size());
  }
  return 0;
}
