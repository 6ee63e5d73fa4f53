// Fuzzes the discovery parsers: arbitrary bytes through ParseTopologyYaml (the static file) and
// ParseTopologyJson (the controller's watch API). They must return errors, never crash, hang or
// abort, and what they accept must hold the formats' guarantees.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "base/check.h"
#include "discovery/discovery.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  auto watched = brix::discovery::ParseTopologyJson(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!watched) {
    BRIX_CHECK(watched.error().code == brix::Errc::kInvalidArgument);
  } else {
    for (const auto& ep : watched->topology.endpoints) {
      BRIX_CHECK(!ep.name.empty() && !ep.host.empty() && ep.port != 0);
    }
    for (const auto& m : watched->topology.models) BRIX_CHECK(!m.name.empty());
  }
  auto topology = brix::discovery::ParseTopologyYaml(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  if (!topology) {
    BRIX_CHECK(topology.error().code == brix::Errc::kInvalidArgument);
    BRIX_CHECK(!topology.error().message.empty());
    return 0;
  }
  std::set<std::string> names;
  for (const auto& ep : topology->endpoints) {
    BRIX_CHECK(!ep.name.empty());
    BRIX_CHECK(!ep.host.empty());
    BRIX_CHECK(ep.port != 0);
    BRIX_CHECK(names.insert(ep.name).second) << "duplicate endpoint name " << ep.name;
    std::set<std::string> models;
    for (const auto& m : ep.models) {
      BRIX_CHECK(!m.empty());
      BRIX_CHECK(models.insert(m).second) << "duplicate model " << m;
    }
  }
  std::set<std::string> models;
  for (const auto& spec : topology->models) {
    BRIX_CHECK(!spec.name.empty());
    BRIX_CHECK(models.insert(spec.name).second) << "duplicate model spec " << spec.name;
    BRIX_CHECK(!spec.request_timeout || spec.request_timeout->count() > 0);
    BRIX_CHECK(!spec.routing_strategy || !spec.routing_strategy->empty());
  }
  return 0;
}
