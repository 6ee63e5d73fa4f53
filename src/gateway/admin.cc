#include "gateway/admin.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <memory>

#include "net/admin.h"
#include "net/http_status.h"
#include "net/router.h"

namespace brix::gateway {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

using net::ErrorResponse;

net::Response Json(http::status status, std::string body) {
  return net::JsonResponse(status, std::move(body));
}

json::object KeyJson(const KeyRecord& k) {
  return {{"id", k.id}, {"tenant", k.tenant}, {"created", k.created_unix}};
}

// Splits "/admin/v1/a/b" into {"a", "b"}; empty segments are kept (and then match nothing).
std::vector<std::string_view> Segments(std::string_view path) {
  constexpr std::string_view kPrefix = "/admin/v1/";
  std::vector<std::string_view> out;
  if (!path.starts_with(kPrefix)) return out;
  path.remove_prefix(kPrefix.size());
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

net::Response Handle(const AdminContext& ctx, const net::Request& req) {
  if (!net::BearerTokenMatches(req, ctx.token)) {
    return ErrorResponse(Unauthenticated("admin API: missing or wrong admin token"));
  }
  const std::vector<std::string_view> seg = Segments(net::TargetPath(req.target()));
  const http::verb method = req.method();
  auto not_allowed = [&] {
    return ErrorResponse(InvalidArgument(fmt::format("admin API: {} is not allowed on {}",
                                                     std::string_view(req.method_string()),
                                                     std::string_view(req.target()))));
  };
  auto changed = [&] {
    if (ctx.on_change) ctx.on_change();
  };

  if (seg.size() == 1 && seg[0] == "tenants") {
    if (method != http::verb::get) return not_allowed();
    Result<std::shared_ptr<const TenantDirectory>> dir = ctx.store->Load();
    if (!dir) return ErrorResponse(dir.error());
    // Spliced as text: parsing each spec back into a json::value could move its weight by an ulp.
    std::string body = R"({"data":[)";
    for (const auto& [name, spec] : (*dir)->tenants) {
      if (body.back() != '[') body += ',';
      body += tenant::TenantSpecJson(spec);
    }
    body += "]}";
    return Json(http::status::ok, std::move(body));
  }
  if (seg.size() == 2 && seg[0] == "tenants") {
    const std::string_view name = seg[1];
    if (Result<void> ok = tenant::ValidateTenantName(name); !ok) return ErrorResponse(ok.error());
    if (method == http::verb::get) {
      Result<std::shared_ptr<const TenantDirectory>> dir = ctx.store->Load();
      if (!dir) return ErrorResponse(dir.error());
      const tenant::TenantSpec* spec = (*dir)->ByName(name);
      if (spec == nullptr) {
        return ErrorResponse(NotFound(fmt::format("tenant \"{}\" does not exist", name)));
      }
      return Json(http::status::ok, tenant::TenantSpecJson(*spec));
    }
    if (method == http::verb::put) {
      Result<tenant::TenantSpec> spec = tenant::ParseTenantSpec(req.body(), name);
      if (!spec) return ErrorResponse(spec.error());
      if (!ctx.can_count_tokens) {
        bool tpm = spec->limits.tokens_per_minute.has_value();
        for (const auto& [model, limits] : spec->model_limits) {
          tpm = tpm || limits.tokens_per_minute.has_value();
        }
        if (tpm) {
          return ErrorResponse(InvalidArgument(
              "tokens_per_minute: the gateway counts prompt tokens with its tokenizer; start it "
              "with --tokenizer DIR to use token limits"));
        }
      }
      bool created = false;
      if (Result<void> ok = ctx.store->PutTenant(*spec, &created); !ok) {
        return ErrorResponse(ok.error());
      }
      changed();
      return Json(created ? http::status::created : http::status::ok,
                  tenant::TenantSpecJson(*spec));
    }
    if (method == http::verb::delete_) {
      if (Result<void> ok = ctx.store->DeleteTenant(name); !ok) return ErrorResponse(ok.error());
      changed();
      return Json(http::status::ok,
                  json::serialize(json::object{{"name", name}, {"deleted", true}}));
    }
    return not_allowed();
  }
  if (seg.size() == 3 && seg[0] == "tenants" && seg[2] == "keys") {
    const std::string_view name = seg[1];
    if (method == http::verb::post) {
      Result<NewKey> key = ctx.store->CreateKey(name);
      if (!key) return ErrorResponse(key.error());
      changed();
      json::object out = KeyJson(key->record);
      out["key"] = key->key;
      return Json(http::status::created, json::serialize(out));
    }
    if (method == http::verb::get) {
      Result<std::vector<KeyRecord>> keys = ctx.store->ListKeys(name);
      if (!keys) return ErrorResponse(keys.error());
      json::array data;
      for (const KeyRecord& k : *keys) data.push_back(KeyJson(k));
      return Json(http::status::ok, json::serialize(json::object{{"data", std::move(data)}}));
    }
    return not_allowed();
  }
  if (seg.size() == 2 && seg[0] == "keys") {
    if (method != http::verb::delete_) return not_allowed();
    if (Result<void> ok = ctx.store->RevokeKey(seg[1]); !ok) return ErrorResponse(ok.error());
    changed();
    return Json(http::status::ok, json::serialize(json::object{{"id", seg[1]}, {"deleted", true}}));
  }
  return ErrorResponse(
      NotFound(fmt::format("admin API: no route for {}", std::string_view(req.target()))));
}

}  // namespace

net::Handler MakeAdminHandler(AdminContext context) {
  auto ctx = std::make_shared<const AdminContext>(std::move(context));
  return [ctx](net::Request req, net::ResponseWriter writer) -> boost::asio::awaitable<void> {
    // SQLite work is short (one row or a table of tenants); the admin listener has its own
    // worker, so blocking here never delays the request path.
    net::Response response = Handle(*ctx, req);
    co_await writer.Send(std::move(response));
  };
}

}  // namespace brix::gateway
