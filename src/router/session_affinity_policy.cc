#include "router/session_affinity_policy.h"

#include <limits>

#include "base/check.h"
#include "router/internal/select.h"

namespace brix::router {

std::string SessionAffinityPolicy::SessionIdFor(std::string_view address) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((address.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= address.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(address[i])) << 16 |
                       static_cast<uint32_t>(static_cast<uint8_t>(address[i + 1])) << 8 |
                       static_cast<uint8_t>(address[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = address.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(address[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<uint8_t>(address[i + 1])) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

uint64_t SessionAffinityPolicy::RendezvousScore(std::string_view key, std::string_view address) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto add = [&](uint8_t byte) {
    h ^= byte;
    h *= 0x100000001b3ULL;
  };
  for (char c : key) add(static_cast<uint8_t>(c));
  add(0);
  for (char c : address) add(static_cast<uint8_t>(c));
  return h;
}

std::optional<size_t> SessionAffinityPolicy::Affine(const RouteRequest& request,
                                                    std::span<const EndpointView> candidates) {
  if (!request.header) return std::nullopt;
  if (std::optional<std::string_view> id = request.header("x-session-id"); id && !id->empty()) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (SessionIdFor(candidates[i].address) == *id) return i;
    }
  }
  std::optional<std::string_view> key = request.header("x-aibrix-session-key");
  if (!key || key->empty() || key->size() > kMaxSessionKey) return std::nullopt;
  size_t best = 0;
  uint64_t best_score = RendezvousScore(*key, candidates[0].address);
  for (size_t i = 1; i < candidates.size(); ++i) {
    const uint64_t score = RendezvousScore(*key, candidates[i].address);
    if (score > best_score ||
        (score == best_score && candidates[i].address < candidates[best].address)) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

Result<size_t> SessionAffinityPolicy::Pick(const RouteRequest& request,
                                           std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  if (std::optional<size_t> i = Affine(request, candidates)) return *i;
  return internal::UniformIndex(request.random, candidates.size());
}

std::optional<Polarity> SessionAffinityPolicy::Score(const RouteRequest& request,
                                                     std::span<const EndpointView> candidates,
                                                     std::span<double> scores) {
  const std::optional<size_t> chosen =
      candidates.empty() ? std::nullopt : Affine(request, candidates);
  for (size_t i = 0; i < candidates.size(); ++i) {
    scores[i] = !chosen ? std::numeric_limits<double>::quiet_NaN() : (i == *chosen ? 1.0 : 0.0);
  }
  return Polarity::kHigherIsBetter;
}

}  // namespace brix::router
