// The control plane's object kinds and manifests (issue 9): what `brix apply -f` reads, what the
// store keeps (store/store.h) and what the controller reconciles.
//
//   Result<std::vector<Manifest>> docs = ParseManifests(yaml_text, "brix.yaml");
//   // each: a store-ready JSON object whose spec has been checked for its kind
//   Result<ModelDeploymentSpec> spec = ParseModelDeploymentSpec(docs[0].object.at("spec"));
//
// Manifests are YAML, one object per document ("---" between them), in the Kubernetes shape
// (apiVersion, kind, metadata, spec). They are converted to JSON first (plain scalars that read
// as integers, floats, booleans or null become those; quoted ones stay strings), then checked by
// one validator per kind on the JSON, so an object from a manifest, from the admin API or read
// back from the store passes the same checks. Errors name the document, line and column and the
// field path: "brix.yaml:7:15: spec.replicas: must be an integer >= 0".
//
// Kinds:
//   ModelDeployment (brix.dev/v1alpha1): N replicas of an engine serving one model.
// Pure; any thread.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "store/store.h"

namespace brix::api {

inline constexpr std::string_view kBrixApiVersion = "brix.dev/v1alpha1";

// How a replica's engine is started.
struct EngineSpec {
  // "sim": `brix sim` with `profile` (and `args` appended); "command": `command`, a command line
  // in which {port} and {model} are replaced (e.g. "vllm serve meta-llama/Llama-3.1-8B
  // --port {port} --served-model-name {model}").
  std::string type = "sim";
  std::string profile = "h100/llama-3.1-8b";
  std::vector<std::string> args;
  std::string command;
};

struct ModelDeploymentSpec {
  std::string model;  // the name clients send in "model"
  int64_t replicas = 1;
  EngineSpec engine;
  int64_t gpus_per_replica = 0;                     // resources.gpus: 0 for simulated engines
  std::string routing_strategy;                     // empty: the gateway's default
  std::chrono::milliseconds ready_timeout{120000};  // from start to a healthy /health
};

// The checks of a ModelDeployment's spec; errors name the field ("spec.replicas: ...").
Result<ModelDeploymentSpec> ParseModelDeploymentSpec(const boost::json::value& spec);

struct Manifest {
  store::ObjectKey key;
  boost::json::object object;  // apiVersion, kind, metadata, spec: ready for the store
  int line = 0;                // where the document starts (1-based)
};

// Every document of `text`; the first error (with `source`, line, column and path) otherwise.
// Unknown kinds and apiVersions are refused, naming the known ones.
Result<std::vector<Manifest>> ParseManifests(std::string_view text, std::string_view source);

// The same checks on an object that arrived as JSON (the admin API, the store): envelope, known
// kind and apiVersion, and the kind's spec.
Result<store::ObjectKey> ValidateObject(const boost::json::object& object);

}  // namespace brix::api
