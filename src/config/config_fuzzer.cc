// Fuzzes the config loader: arbitrary bytes through the YAML parser and a schema that uses every
// MapReader method. The loader must return errors, never crash, hang or abort.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/reader.h"

namespace {

struct Schema {
  std::string name;
  bool flag = false;
  double ratio = 0;
  int32_t count = 0;
  uint16_t port = 0;
  std::chrono::milliseconds timeout{0};
  uint64_t size = 0;
  std::string mode;
  std::vector<std::string> tags;
};

void ReadSchema(brix::config::MapReader& r, Schema* s, int depth) {
  r.Read("name", &s->name);
  r.Read("flag", &s->flag);
  r.Read("ratio", &s->ratio, 0.0, 1.0);
  r.Read("count", &s->count, -5, 5);
  r.Read("port", &s->port);
  r.ReadDuration("timeout", &s->timeout);
  r.ReadSize("size", &s->size);
  r.ReadEnum("mode", &s->mode, {"a", "b"});
  r.Read("tags", &s->tags);
  if (depth < 4) {
    r.ReadMap("child", [&](brix::config::MapReader& m) { ReadSchema(m, s, depth + 1); });
    r.ReadSequence("items", [&](const YAML::Node& item, const std::string& path) {
      brix::config::MapReader m(item, path, r.diagnostics());
      ReadSchema(m, s, depth + 1);
    });
  }
  r.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  auto node = brix::config::ParseYaml(std::string_view(reinterpret_cast<const char*>(data), size),
                                      "fuzz.yaml");
  if (!node) return 0;
  brix::config::Diagnostics diag("fuzz.yaml");
  Schema s;
  brix::config::MapReader r(*node, "", &diag);
  ReadSchema(r, &s, 0);
  (void)diag.ToString();
  return 0;
}
