#include "cmd/brix_config.h"

#include "config/reader.h"
#include "net/server_config.h"

namespace brix::cmd {
namespace {

void ReadLog(config::MapReader& r, base::LogOptions* out) {
  r.ReadEnum("level", &out->level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  r.ReadEnum("format", &out->format, {"text", "json"});
  r.Finish();
}

Result<BrixConfig> FromNode(const YAML::Node& root, std::string_view source) {
  config::Diagnostics diag{std::string(source)};
  BrixConfig cfg;
  config::MapReader r(root, "", &diag);
  r.ReadMap("log", [&](config::MapReader& m) { ReadLog(m, &cfg.log); });
  r.ReadMap("server", [&](config::MapReader& m) { net::ReadServerConfig(m, &cfg.server); });
  r.Finish();
  if (!diag.ok()) return diag.ToError();
  return cfg;
}

}  // namespace

Result<BrixConfig> ParseBrixConfig(std::string_view yaml, std::string_view source) {
  auto root = config::ParseYaml(yaml, source);
  if (!root) return root.error();
  return FromNode(*root, source);
}

Result<BrixConfig> LoadBrixConfig(const std::string& path) {
  auto root = config::LoadYamlFile(path);
  if (!root) return root.error();
  return FromNode(*root, path);
}

}  // namespace brix::cmd
