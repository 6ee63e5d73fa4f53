// Arbitrary bytes as a manifest file: parsed or refused with a located message, never a crash;
// what parses passes the JSON checks again.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  brix::Result<std::vector<brix::api::Manifest>> docs = brix::api::ParseManifests(text, "f.yaml");
  if (!docs) {
    if (!docs.error().message.starts_with("f.yaml")) __builtin_trap();
    return 0;
  }
  for (const brix::api::Manifest& m : *docs) {
    if (!brix::api::ValidateObject(m.object)) __builtin_trap();
  }
  return 0;
}
