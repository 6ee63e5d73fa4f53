// The controller's admin API: what `brix apply/get/delete/describe` talk to, and the watch a
// gateway in another process learns endpoints from.
//
//   GET    /apis/brix.dev/v1alpha1/modeldeployments {"kind":"ModelDeploymentList",
//                                                                          "items":[...]}
//   GET    /apis/brix.dev/v1alpha1/namespaces/{ns}/modeldeployments/{name}  the object, with status
//   PUT    /apis/brix.dev/v1alpha1/namespaces/{ns}/modeldeployments/{name}  create or replace
//   (apply) DELETE /apis/brix.dev/v1alpha1/namespaces/{ns}/modeldeployments/{name}  its replicas
//   drain GET    /v1/replicas                                                    {"items":[replica,
//   ...]} GET    /v1/topology?after=G&timeoutMs=T     the gateway's view (models, ready endpoints),
//   as soon
//                                              as its generation is past G, or at T (long poll)
//
// PUT takes the object as JSON (`brix apply` converts YAML), checks it as ParseManifests does
// (api::ValidateObject: errors name the field) and answers 201 when it created the object, 200
// otherwise, with `x-brix-result: created|configured|unchanged`. With metadata.resourceVersion
// set, the write happens only if nobody wrote since (409 "conflict" otherwise). Every call needs
// `Authorization: Bearer <token>` (401 otherwise; compared in constant time). Errors use OpenAI's
// envelope like every Brix API.
#pragma once

#include <string>

#include "controller/controller.h"
#include "net/server.h"
#include "store/store.h"

namespace brix::controller {

struct AdminContext {
  store::ObjectStore* store = nullptr;
  Controller* controller = nullptr;
  std::string token;
};

net::Handler MakeAdminHandler(AdminContext context);

// Create or replace `object` (already checked with api::ValidateObject) as PUT does: the stored
// object and "created", "configured" or "unchanged". `brix up -f` applies its file with it.
struct Applied {
  store::StoredObject object;
  std::string result;
};
Result<Applied> Apply(store::ObjectStore& store, const boost::json::object& object);

}  // namespace brix::controller
