#include "tenant/tenant.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "base/json.h"

namespace brix::tenant {
namespace {

namespace json = boost::json;

Error FieldError(std::string_view path, std::string_view what) {
  return InvalidArgument(fmt::format("{}: {}", path, what));
}

Result<std::optional<uint64_t>> ReadLimit(const json::value& v, std::string_view path) {
  if (v.is_null()) return std::optional<uint64_t>();
  // JSON numbers arrive as int64, uint64 or double (1e3); only whole positive values count.
  if (v.is_int64() && v.get_int64() > 0) return std::optional<uint64_t>(v.get_int64());
  if (v.is_uint64() && v.get_uint64() > 0) return std::optional<uint64_t>(v.get_uint64());
  if (v.is_double()) {
    const double d = v.get_double();
    if (d >= 1 && d <= 9e15 && std::floor(d) == d) {
      return std::optional<uint64_t>(static_cast<uint64_t>(d));
    }
  }
  return FieldError(path, "must be a positive integer or null");
}

Result<Limits> ReadLimits(const json::value& v, std::string_view path) {
  if (!v.is_object()) return FieldError(path, "must be an object");
  Limits limits;
  for (const auto& [key, value] : v.get_object()) {
    const std::string field = fmt::format("{}.{}", path, std::string_view(key));
    std::optional<uint64_t>* slot = nullptr;
    if (key == "requests_per_minute") {
      slot = &limits.requests_per_minute;
    } else if (key == "tokens_per_minute") {
      slot = &limits.tokens_per_minute;
    } else if (key == "max_concurrent") {
      slot = &limits.max_concurrent;
    } else if (key == "max_tokens_per_request") {
      slot = &limits.max_tokens_per_request;
    } else {
      return FieldError(field,
                        "unknown field (known: requests_per_minute, tokens_per_minute, "
                        "max_concurrent, max_tokens_per_request)");
    }
    Result<std::optional<uint64_t>> limit = ReadLimit(value, field);
    if (!limit) return limit.error();
    *slot = *limit;
  }
  return limits;
}

json::object LimitsJson(const Limits& limits) {
  json::object out;
  auto put = [&](std::string_view key, const std::optional<uint64_t>& v) {
    if (v) out[key] = *v;
  };
  put("requests_per_minute", limits.requests_per_minute);
  put("tokens_per_minute", limits.tokens_per_minute);
  put("max_concurrent", limits.max_concurrent);
  put("max_tokens_per_request", limits.max_tokens_per_request);
  return out;
}

std::string Base64Url(const unsigned char* data, size_t n) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

}  // namespace

bool TenantSpec::MayUse(std::string_view model) const {
  return models.empty() || std::find(models.begin(), models.end(), model) != models.end();
}

std::optional<uint64_t> TenantSpec::MaxTokensPerRequest(std::string_view model) const {
  std::optional<uint64_t> out = limits.max_tokens_per_request;
  auto it = model_limits.find(model);
  if (it != model_limits.end() && it->second.max_tokens_per_request) {
    out = out ? std::min(*out, *it->second.max_tokens_per_request)
              : *it->second.max_tokens_per_request;
  }
  return out;
}

Result<void> ValidateTenantName(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return InvalidArgument("name: must be 1 to 63 characters");
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) {
    return InvalidArgument(
        fmt::format("name: \"{}\" must start with a lowercase letter or a digit", name));
  }
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') {
      return InvalidArgument(fmt::format(
          "name: \"{}\" may hold only lowercase letters, digits, '-', '_' and '.'", name));
    }
  }
  return {};
}

Result<TenantSpec> ParseTenantSpec(std::string_view text, std::string_view name_hint) {
  boost::system::error_code ec;
  json::value doc = ParseJsonExact(text, ec);  // a weight must read back as written
  if (ec) return InvalidArgument(fmt::format("body: not valid JSON ({})", ec.message()));
  if (!doc.is_object()) return InvalidArgument("body: must be a JSON object");
  TenantSpec spec;
  spec.name = std::string(name_hint);
  for (const auto& [key, value] : doc.get_object()) {
    if (key == "name") {
      if (!value.is_string()) return FieldError("name", "must be a string");
      spec.name = std::string(value.get_string());
    } else if (key == "limits") {
      Result<Limits> limits = ReadLimits(value, "limits");
      if (!limits) return limits.error();
      spec.limits = *limits;
    } else if (key == "model_limits") {
      if (!value.is_object()) return FieldError("model_limits", "must be an object");
      for (const auto& [model, limits_json] : value.get_object()) {
        const std::string path = fmt::format("model_limits.{}", std::string_view(model));
        if (model.empty()) return FieldError(path, "model name must not be empty");
        Result<Limits> limits = ReadLimits(limits_json, path);
        if (!limits) return limits.error();
        spec.model_limits.emplace(std::string(model), *limits);
      }
    } else if (key == "models") {
      if (!value.is_array()) return FieldError("models", "must be an array of model names");
      const json::array& models = value.get_array();
      for (size_t i = 0; i < models.size(); ++i) {
        if (!models[i].is_string() || models[i].get_string().empty()) {
          return FieldError(fmt::format("models[{}]", i), "must be a non-empty string");
        }
        spec.models.emplace_back(models[i].get_string());
      }
    } else if (key == "weight") {
      if (!value.is_number()) return FieldError("weight", "must be a number");
      spec.weight = value.to_number<double>();
      if (!(spec.weight > 0) || !std::isfinite(spec.weight) || spec.weight > 1e6) {
        return FieldError("weight", "must be above 0 and at most 1e6");
      }
    } else {
      return FieldError(key, "unknown field (known: name, limits, model_limits, models, weight)");
    }
  }
  if (!name_hint.empty() && spec.name != name_hint) {
    return InvalidArgument(fmt::format(
        "name: \"{}\" differs from the tenant named in the URL, \"{}\"", spec.name, name_hint));
  }
  if (Result<void> ok = ValidateTenantName(spec.name); !ok) return ok.error();
  return spec;
}

std::string TenantSpecJson(const TenantSpec& spec) {
  json::object out;
  out["name"] = spec.name;
  out["limits"] = LimitsJson(spec.limits);
  json::object per_model;
  for (const auto& [model, limits] : spec.model_limits) per_model[model] = LimitsJson(limits);
  out["model_limits"] = std::move(per_model);
  json::array models;
  for (const std::string& m : spec.models) models.emplace_back(m);
  out["models"] = std::move(models);
  out["weight"] = spec.weight;
  return json::serialize(out);
}

std::string NewApiKey() {
  std::array<unsigned char, 32> bytes{};
  BRIX_CHECK(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1);
  return "sk-brix-" + Base64Url(bytes.data(), bytes.size());
}

std::string HashApiKey(std::string_view key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int n = 0;
  BRIX_CHECK(EVP_Digest(key.data(), key.size(), digest.data(), &n, EVP_sha256(), nullptr) == 1);
  std::string hex;
  hex.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) fmt::format_to(std::back_inserter(hex), "{:02x}", digest[i]);
  return hex;
}

std::string KeyIdFromHash(std::string_view hash) { return std::string(hash.substr(0, 16)); }

}  // namespace brix::tenant
