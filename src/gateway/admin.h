// The gateway's admin API: tenants and API keys, on its own listener and behind its own token.
//
//   GET    /admin/v1/tenants                  {"data":[spec, ...]}
//   GET    /admin/v1/tenants/{name}           spec
//   PUT    /admin/v1/tenants/{name}           body: spec (tenant/tenant.h) -> 201 created, 200
//   replaced DELETE /admin/v1/tenants/{name}           deletes the tenant and its keys POST
//   /admin/v1/tenants/{name}/keys      -> 201 {"id","tenant","created","key"} (the key is
//                                             shown only here)
//   GET    /admin/v1/tenants/{name}/keys      {"data":[{"id","tenant","created"}, ...]}
//   DELETE /admin/v1/keys/{id}                revokes a key
//
// Every call needs `Authorization: Bearer <admin token>` (401 otherwise; compared in constant
// time). Errors use OpenAI's envelope; spec errors name the field. A write is durable before the
// answer, and the gateway's request path sees it at once (on_change) or, on other gateways
// sharing the database, within their reload interval.
#pragma once

#include <functional>
#include <string>

#include "gateway/tenant_store.h"
#include "net/server.h"

namespace brix::gateway {

struct AdminContext {
  TenantStore* store = nullptr;
  std::string token;
  // Whether the gateway can count prompt tokens (has a tokenizer); tokens_per_minute limits are
  // refused without one.
  bool can_count_tokens = false;
  // Called after every successful write.
  std::function<void()> on_change;
};

net::Handler MakeAdminHandler(AdminContext context);

}  // namespace brix::gateway
