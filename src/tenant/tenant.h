// Tenants and API keys: who is calling, what they may use, and their limits.
//
//   Result<TenantSpec> spec = ParseTenantSpec(R"({"name":"acme",
//       "limits":{"requests_per_minute":60,"tokens_per_minute":100000,"max_concurrent":8},
//       "model_limits":{"llama-3.1-8b":{"max_tokens_per_request":4096}},
//       "models":["llama-3.1-8b"],"weight":2})");
//   std::string key = NewApiKey();          // shown once to the operator
//   std::string hash = HashApiKey(key);     // what is stored
//
// Keys are 256 random bits, so an unsalted SHA-256 is enough to store them: nobody can guess a
// key from its hash faster than guessing the key (the argument GitHub and Stripe tokens rest
// on; slow salted hashes are for low-entropy passwords). Pure values and functions; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace brix::tenant {

// Limits on one scope (a tenant over all models, or a tenant on one model). Absent = unlimited.
struct Limits {
  // Requests admitted in any 60-second window.
  std::optional<uint64_t> requests_per_minute;
  // Tokens in any 60-second window: prompt tokens (counted with the gateway's tokenizer) plus
  // the request's max_tokens reserved at admission, settled to the real completion tokens from
  // the usage when the response ends (quota.h).
  std::optional<uint64_t> tokens_per_minute;
  // Requests in flight at once.
  std::optional<uint64_t> max_concurrent;
  // Largest max_tokens (or max_completion_tokens) one request may ask for; a request without
  // one is given this value.
  std::optional<uint64_t> max_tokens_per_request;

  bool empty() const {
    return !requests_per_minute && !tokens_per_minute && !max_concurrent && !max_tokens_per_request;
  }
  friend bool operator==(const Limits&, const Limits&) = default;
};

struct TenantSpec {
  std::string name;  // ValidateTenantName
  Limits limits;     // over all the tenant's requests
  // Further limits per model, checked as well as `limits`.
  std::map<std::string, Limits, std::less<>> model_limits;
  // Models the tenant may use; empty = every model.
  std::vector<std::string> models;
  // Share of the engines under contention, relative to other tenants' (fair queueing); > 0.
  double weight = 1;

  bool MayUse(std::string_view model) const;
  // The smallest max_tokens_per_request of the tenant and the model, if any.
  std::optional<uint64_t> MaxTokensPerRequest(std::string_view model) const;
  friend bool operator==(const TenantSpec&, const TenantSpec&) = default;
};

// Lowercase letters, digits, '-', '_' and '.', starting with a letter or digit, at most 63.
Result<void> ValidateTenantName(std::string_view name);

// Parses a tenant from JSON. Unknown fields, wrong types, non-positive limits and a bad name are
// InvalidArgument naming the field path ("limits.requests_per_minute: must be a positive
// integer"). `name_hint`, when the JSON has no "name", supplies it (the admin API's URL).
Result<TenantSpec> ParseTenantSpec(std::string_view json, std::string_view name_hint = {});
std::string TenantSpecJson(const TenantSpec& spec);

// A new API key: "sk-brix-" and 43 base64url characters (32 bytes from the OS's CSPRNG).
std::string NewApiKey();
// Lowercase hex SHA-256 of the key: what is stored and looked up.
std::string HashApiKey(std::string_view key);
// A key's public id: the first 16 hex digits of its hash (for listing and revoking).
std::string KeyIdFromHash(std::string_view hash);

}  // namespace brix::tenant
