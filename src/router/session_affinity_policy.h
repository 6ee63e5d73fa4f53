// `session-affinity`: requests of one session go to one endpoint, with AIBrix's headers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "router/router.h"

namespace brix::router {

// AIBrix's session-affinity (pkg/plugins/gateway/algorithms/simple_session_affinity.go), which
// keeps no state:
//  1. `x-session-id`: the standard base64 of an endpoint's "host:port" (AIBrix sets it on every
//     response; clients send it back). If it names a candidate, that candidate.
//  2. Else `x-aibrix-session-key` (1..256 bytes): rendezvous hashing, the candidate with the
//     highest FNV-1a-64(key, 0 byte, address) wins, ties to the smaller address, so a session
//     stays put while its endpoint is up and only its own sessions move when one goes.
//  3. Else a uniformly random candidate.
// Score: 1 for the candidate chosen by 1 or 2, 0 for the others (NaN for all when neither
// header applies), higher is better.
// Not here: setting `x-session-id` on the response is the gateway's job (SessionIdFor gives
// the value).
class SessionAffinityPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "session-affinity";
  static constexpr size_t kMaxSessionKey = 256;

  std::string_view name() const override { return kName; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  bool can_score() const override { return true; }
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;

  // The x-session-id value that names `address`: standard base64 with padding.
  static std::string SessionIdFor(std::string_view address);
  // FNV-1a-64 over key, a 0 byte, address.
  static uint64_t RendezvousScore(std::string_view key, std::string_view address);

 private:
  // The candidate the headers name, if any.
  static std::optional<size_t> Affine(const RouteRequest& request,
                                      std::span<const EndpointView> candidates);
};

}  // namespace brix::router
