#include "controller/admin.h"

#include <fmt/format.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <memory>

#include "api/api.h"
#include "net/admin.h"
#include "net/http_status.h"
#include "net/router.h"

namespace brix::controller {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

constexpr std::string_view kGroupPrefix = "/apis/brix.dev/v1alpha1/";

net::Response Json(http::status status, std::string body) {
  return net::JsonResponse(status, std::move(body));
}

net::Response ErrorResponse(const Error& e) {
  // A lost optimistic-concurrency race is Kubernetes' 409, not a bad request.
  const bool conflict = e.code == Errc::kFailedPrecondition && e.message.starts_with("conflict");
  return net::ErrorResponse(e, conflict ? 409 : 0);
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// The value of `name` in the query of `target`, if present.
std::optional<std::string_view> QueryParam(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  for (std::string_view rest = target.substr(q + 1); !rest.empty();) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

json::object ReplicaJson(const ReplicaInfo& r) {
  json::object o;
  o["namespace"] = r.ns;
  o["deployment"] = r.deployment;
  o["name"] = r.name;
  o["model"] = r.model;
  o["state"] = r.state;
  o["pid"] = r.pid;
  o["port"] = r.port;
  o["restarts"] = r.restarts;
  o["adopted"] = r.adopted;
  o["current"] = r.current;
  o["lastExit"] = r.last_exit;
  o["startedUnixMs"] = r.started_unix_ms;
  return o;
}

json::object TopologyJson(const discovery::Topology& t, const std::string& epoch) {
  json::object o;
  o["epoch"] = epoch;
  o["generation"] = t.generation;
  json::array models;
  for (const auto& m : t.models) {
    json::object mo;
    mo["name"] = m.name;
    if (m.routing_strategy) mo["routingStrategy"] = *m.routing_strategy;
    models.push_back(std::move(mo));
  }
  json::array endpoints;
  for (const auto& e : t.endpoints) {
    json::array served;
    for (const auto& m : e.models) served.emplace_back(m);
    endpoints.push_back(json::object{
        {"name", e.name}, {"host", e.host}, {"port", e.port}, {"models", std::move(served)}});
  }
  o["models"] = std::move(models);
  o["endpoints"] = std::move(endpoints);
  return o;
}

// Whether `next` would change anything a PUT may change in `stored`.
bool SameIntent(const json::object& stored, const json::object& next) {
  auto field = [](const json::object& o, std::string_view key) -> json::value {
    const json::value* v = o.if_contains(key);
    return v ? *v : json::value();
  };
  const json::object& sm = stored.at("metadata").as_object();
  const json::object& nm = next.at("metadata").as_object();
  return field(stored, "apiVersion") == field(next, "apiVersion") &&
         field(stored, "spec") == field(next, "spec") &&
         field(sm, "labels") == field(nm, "labels") &&
         field(sm, "annotations") == field(nm, "annotations");
}

net::Response Put(const AdminContext& ctx, const store::ObjectKey& path_key,
                  const net::Request& req) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body(), ec);
  if (ec || !body.is_object()) {
    return ErrorResponse(InvalidArgument("the body must be a JSON object (the manifest)"));
  }
  json::object& object = body.as_object();
  Result<store::ObjectKey> key = api::ValidateObject(object);
  if (!key) return ErrorResponse(key.error());
  if (key->kind != path_key.kind || key->ns != path_key.ns || key->name != path_key.name) {
    return ErrorResponse(InvalidArgument(
        fmt::format("metadata: the object is {} {}/{} but the path names {} {}/{}", key->kind,
                    key->ns, key->name, path_key.kind, path_key.ns, path_key.name)));
  }
  Result<Applied> applied = Apply(*ctx.store, object);
  if (!applied) return ErrorResponse(applied.error());
  ctx.controller->Poke();
  const std::string& result = applied->result;
  net::Response response = Json(result == "created" ? http::status::created : http::status::ok,
                                json::serialize(applied->object.object));
  response.set("x-brix-result", result);
  return response;
}

// The routes that answer at once.
net::Response Handle(const AdminContext& ctx, const net::Request& req) {
  const std::string_view path = net::TargetPath(req.target());
  const http::verb method = req.method();
  auto not_allowed = [] {
    return Json(http::status::method_not_allowed,
                net::ErrorBody(405, "admin API: method not allowed on this path"));
  };
  if (path == "/v1/replicas") {
    if (method != http::verb::get) return not_allowed();
    json::array items;
    for (const auto& r : ctx.controller->Replicas()) items.push_back(ReplicaJson(r));
    return Json(http::status::ok, json::serialize(json::object{{"items", std::move(items)}}));
  }
  if (path.starts_with(kGroupPrefix)) {
    std::vector<std::string_view> seg = Split(path.substr(kGroupPrefix.size()));
    if (seg.size() == 1 && seg[0] == "modeldeployments") {
      if (method != http::verb::get) return not_allowed();
      uint64_t version = 0;
      Result<std::vector<store::StoredObject>> list =
          ctx.store->List("ModelDeployment", "", &version);
      if (!list) return ErrorResponse(list.error());
      json::array items;
      for (auto& o : *list) items.push_back(std::move(o.object));
      json::object out;
      out["apiVersion"] = api::kBrixApiVersion;
      out["kind"] = "ModelDeploymentList";
      out["metadata"] = json::object{{"resourceVersion", std::to_string(version)}};
      out["items"] = std::move(items);
      return Json(http::status::ok, json::serialize(out));
    }
    if (seg.size() == 4 && seg[0] == "namespaces" && seg[2] == "modeldeployments" &&
        !seg[1].empty() && !seg[3].empty()) {
      const store::ObjectKey key{"ModelDeployment", std::string(seg[1]), std::string(seg[3])};
      if (method == http::verb::get) {
        Result<store::StoredObject> o = ctx.store->Get(key);
        if (!o) return ErrorResponse(o.error());
        return Json(http::status::ok, json::serialize(o->object));
      }
      if (method == http::verb::put) return Put(ctx, key, req);
      if (method == http::verb::delete_) {
        Result<store::StoredObject> o = ctx.store->Delete(key);
        if (!o) return ErrorResponse(o.error());
        ctx.controller->Poke();
        return Json(http::status::ok, json::serialize(o->object));
      }
      return not_allowed();
    }
  }
  return ErrorResponse(
      NotFound(fmt::format("admin API: no route for {}", std::string_view(req.target()))));
}

}  // namespace

Result<Applied> Apply(store::ObjectStore& store, const json::object& object) {
  Result<store::ObjectKey> key = store::ValidateEnvelope(object);
  if (!key) return key.error();
  Result<store::StoredObject> stored = store.Get(*key);
  if (!stored && stored.error().code != Errc::kNotFound) return stored.error();
  if (!stored) {
    Result<store::StoredObject> made = store.Create(json::serialize(object));
    if (!made) return made.error();
    return Applied{std::move(*made), "created"};
  }
  if (SameIntent(stored->object, object)) return Applied{std::move(*stored), "unchanged"};
  Result<store::StoredObject> updated = store.Update(json::serialize(object));
  if (!updated) return updated.error();
  return Applied{std::move(*updated), "configured"};
}

net::Handler MakeAdminHandler(AdminContext context) {
  auto ctx = std::make_shared<const AdminContext>(std::move(context));
  return [ctx](net::Request req, net::ResponseWriter writer) -> asio::awaitable<void> {
    if (!net::BearerTokenMatches(req, ctx->token)) {
      co_await writer.Send(
          ErrorResponse(Unauthenticated("admin API: missing or wrong admin token")));
      co_return;
    }
    if (net::TargetPath(req.target()) == "/v1/topology" && req.method() == http::verb::get) {
      // Long poll: answer once the generation passes `after`, or at the timeout.
      uint64_t after = 0;
      int64_t timeout_ms = 30000;
      const std::string_view target = req.target();
      if (auto v = QueryParam(target, "timeoutMs")) {
        std::from_chars(v->data(), v->data() + v->size(), timeout_ms);
      }
      if (auto v = QueryParam(target, "after")) {
        std::from_chars(v->data(), v->data() + v->size(), after);
      }
      // A watcher of another controller (this one restarted) gets the topology at once.
      const std::string& epoch = ctx->controller->epoch();
      if (auto v = QueryParam(target, "epoch"); !v || *v != epoch) after = 0;
      timeout_ms = std::clamp<int64_t>(timeout_ms, 0, 60000);
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
      asio::steady_timer timer(co_await asio::this_coro::executor);
      std::shared_ptr<const discovery::Topology> t = ctx->controller->CurrentTopology();
      while (t->generation <= after && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(asio::use_awaitable);
        t = ctx->controller->CurrentTopology();
      }
      co_await writer.Send(Json(http::status::ok, json::serialize(TopologyJson(*t, epoch))));
      co_return;
    }
    // Store work is short (SQLite, one object or a list); the admin listener has its own worker,
    // so blocking it never delays the gateway.
    net::Response response = Handle(*ctx, req);
    co_await writer.Send(std::move(response));
  };
}

}  // namespace brix::controller
