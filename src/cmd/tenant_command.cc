// `brix tenant`: manage a gateway's tenants and API keys through its admin API
// (gateway/admin.h). The command only builds requests and prints answers; the gateway validates.
#include <fmt/core.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "base/json.h"
#include "cmd/admin_client.h"
#include "cmd/commands.h"

namespace brix::cmd {
namespace {

namespace http = boost::beast::http;

struct TenantFlags {
  std::string admin_url;
  std::string token_file;
  // create
  std::string name;
  std::string spec_file;
  std::optional<uint64_t> rpm, tpm, concurrent, max_tokens;
  std::vector<std::string> models;
  std::optional<double> weight;
  // key revoke
  std::string key_id;
};

// Sends one request to the admin API; prints the answer's body (JSON) on success, the error's
// message on failure. Returns the exit code.
int Call(const TenantFlags& f, http::verb method, const std::string& path, std::string body = {}) {
  std::string url = f.admin_url;
  if (url.empty()) {
    if (const char* env = std::getenv("BRIX_ADMIN_URL")) url = env;
  }
  if (url.empty()) {
    fmt::print(stderr, "brix tenant: no admin URL: pass --admin or set $BRIX_ADMIN_URL\n");
    return kExitUsage;
  }
  auto upstream = ParseAdminUrl(url);
  if (!upstream) {
    fmt::print(stderr, "brix tenant: --admin: want http://HOST:PORT, not '{}'\n", url);
    return kExitUsage;
  }
  auto token = ReadAdminToken(f.token_file, "--token-file");
  if (!token) {
    fmt::print(stderr, "brix tenant: {}\n", token.error().message);
    return kExitUsage;
  }
  Result<net::Response> response = AdminCall(*upstream, *token, method, path, std::move(body));
  if (!response) {
    fmt::print(stderr, "brix tenant: {}: {}\n", url, response.error().message);
    return kExitFailure;
  }
  const std::string& text = response->body();
  if (response->result_int() >= 300) {
    fmt::print(stderr, "brix tenant: {} {}\n", response->result_int(), ErrorText(*response));
    return kExitFailure;
  }
  if (!text.empty()) fmt::print("{}\n", text);
  return kExitOk;
}

// The spec of `create`: a JSON file, with any limit flags laid over it.
Result<std::string> CreateBody(const TenantFlags& f) {
  boost::json::object spec;
  if (!f.spec_file.empty()) {
    std::ifstream in(f.spec_file);
    if (!in)
      return Error{Errc::kInvalidArgument, fmt::format("--spec: cannot read {}", f.spec_file)};
    std::string text(std::istreambuf_iterator<char>(in), {});
    boost::system::error_code ec;
    // Exact, as the gateway reads it: Boost's own parse would move a weight by an ulp, and read
    // 1e999 as infinity and write it on as `Infinity`, which is not JSON.
    boost::json::value v = ParseJsonExact(text, ec);
    if (ec) {
      return Error{Errc::kInvalidArgument,
                   fmt::format("--spec: {} is not JSON ({})", f.spec_file, ec.message())};
    }
    if (!v.is_object()) {
      return Error{Errc::kInvalidArgument,
                   fmt::format("--spec: {} is not a JSON object", f.spec_file)};
    }
    spec = std::move(v.as_object());
  }
  spec["name"] = f.name;
  boost::json::object limits;
  if (auto* l = spec.if_contains("limits"); l && l->is_object()) limits = l->as_object();
  if (f.rpm) limits["requests_per_minute"] = *f.rpm;
  if (f.tpm) limits["tokens_per_minute"] = *f.tpm;
  if (f.concurrent) limits["max_concurrent"] = *f.concurrent;
  if (f.max_tokens) limits["max_tokens_per_request"] = *f.max_tokens;
  if (!limits.empty()) spec["limits"] = std::move(limits);
  if (!f.models.empty()) {
    boost::json::array models;
    for (const auto& m : f.models) models.emplace_back(m);
    spec["models"] = std::move(models);
  }
  if (f.weight) {
    // CLI11's PositiveNumber lets "nan" through, and JSON cannot carry it.
    if (std::isnan(*f.weight)) return Error{Errc::kInvalidArgument, "--weight: must be a number"};
    spec["weight"] = *f.weight;
  }
  return boost::json::serialize(spec);
}

}  // namespace

Command AddTenantCommand(CLI::App& root) {
  auto flags = std::make_shared<TenantFlags>();
  CLI::App* app = root.add_subcommand(
      "tenant", "Manage a gateway's tenants and API keys through its admin API");
  app->require_subcommand(1);
  app->add_option("--admin", flags->admin_url,
                  "the gateway's admin API, http://HOST:PORT (default $BRIX_ADMIN_URL)");
  app->add_option("--token-file", flags->token_file,
                  "file holding the admin token (default $BRIX_ADMIN_TOKEN)");

  auto run = std::make_shared<std::function<int()>>();
  CLI::App* create = app->add_subcommand(
      "create", "Create a tenant, or replace its spec: limits from --spec and the flags");
  create->add_option("name", flags->name, "tenant name")->required();
  create->add_option("--spec", flags->spec_file, "JSON spec file (tenant/README.md)");
  create->add_option("--requests-per-minute", flags->rpm, "requests in any 60 s")
      ->check(CLI::PositiveNumber);
  create
      ->add_option("--tokens-per-minute", flags->tpm,
                   "prompt + completion tokens in any 60 s (the gateway needs --tokenizer)")
      ->check(CLI::PositiveNumber);
  create->add_option("--max-concurrent", flags->concurrent, "requests in flight at once")
      ->check(CLI::PositiveNumber);
  create
      ->add_option("--max-tokens", flags->max_tokens,
                   "largest max_tokens per request (given to requests without one)")
      ->check(CLI::PositiveNumber);
  create->add_option("--models", flags->models, "models it may use (default: all)")->delimiter(',');
  create->add_option("--weight", flags->weight, "share under contention, relative to others")
      ->check(CLI::PositiveNumber);
  create->callback([flags, run] {
    *run = [flags] {
      auto body = CreateBody(*flags);
      if (!body) {
        fmt::print(stderr, "brix tenant: {}\n", body.error().message);
        return kExitUsage;
      }
      return Call(*flags, http::verb::put, "/admin/v1/tenants/" + Segment(flags->name), *body);
    };
  });

  CLI::App* list = app->add_subcommand("list", "List the tenants and their specs");
  list->callback([flags, run] {
    *run = [flags] { return Call(*flags, http::verb::get, "/admin/v1/tenants"); };
  });
  CLI::App* get = app->add_subcommand("get", "Show one tenant's spec");
  get->add_option("name", flags->name, "tenant name")->required();
  get->callback([flags, run] {
    *run = [flags] {
      return Call(*flags, http::verb::get, "/admin/v1/tenants/" + Segment(flags->name));
    };
  });
  CLI::App* del = app->add_subcommand("delete", "Delete a tenant and revoke its keys");
  del->add_option("name", flags->name, "tenant name")->required();
  del->callback([flags, run] {
    *run = [flags] {
      return Call(*flags, http::verb::delete_, "/admin/v1/tenants/" + Segment(flags->name));
    };
  });

  CLI::App* key = app->add_subcommand("key", "Manage a tenant's API keys");
  key->require_subcommand(1);
  CLI::App* key_create =
      key->add_subcommand("create", "Issue a new key (printed once; only its hash is stored)");
  key_create->add_option("tenant", flags->name, "tenant name")->required();
  key_create->callback([flags, run] {
    *run = [flags] {
      return Call(*flags, http::verb::post, "/admin/v1/tenants/" + Segment(flags->name) + "/keys");
    };
  });
  CLI::App* key_list = key->add_subcommand("list", "List a tenant's keys (ids, not the keys)");
  key_list->add_option("tenant", flags->name, "tenant name")->required();
  key_list->callback([flags, run] {
    *run = [flags] {
      return Call(*flags, http::verb::get, "/admin/v1/tenants/" + Segment(flags->name) + "/keys");
    };
  });
  CLI::App* key_revoke = key->add_subcommand("revoke", "Revoke a key by its id");
  key_revoke->add_option("id", flags->key_id, "key id (from key list)")->required();
  key_revoke->callback([flags, run] {
    *run = [flags] {
      return Call(*flags, http::verb::delete_, "/admin/v1/keys/" + Segment(flags->key_id));
    };
  });

  return Command{app, [run] { return *run ? (*run)() : kExitUsage; }};
}

}  // namespace brix::cmd
