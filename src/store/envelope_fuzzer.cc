// Arbitrary bytes as an object to store: the envelope checks either name a field or accept it,
// never crash; what they accept has a key that round-trips through JSON.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  boost::system::error_code ec;
  boost::json::value v =
      boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec || !v.is_object()) return 0;
  brix::Result<brix::store::ObjectKey> key = brix::store::ValidateEnvelope(v.as_object());
  if (key) {
    if (key->kind.empty() || key->name.empty() || key->ns.empty()) __builtin_trap();
  } else if (key.error().message.find(':') == std::string::npos) {
    __builtin_trap();  // every refusal names a field
  }
  return 0;
}
