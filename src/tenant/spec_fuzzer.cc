// Fuzzes the tenant spec parser: no input may crash it, every error names a field (or the body),
// and whatever parses must round-trip through TenantSpecJson unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "tenant/tenant.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  brix::Result<brix::tenant::TenantSpec> spec = brix::tenant::ParseTenantSpec(text);
  if (!spec) {
    BRIX_CHECK(spec.error().code == brix::Errc::kInvalidArgument);
    BRIX_CHECK(spec.error().message.find(": ") != std::string::npos) << spec.error().message;
    return 0;
  }
  brix::Result<brix::tenant::TenantSpec> again =
      brix::tenant::ParseTenantSpec(brix::tenant::TenantSpecJson(*spec));
  BRIX_CHECK(again && *again == *spec) << brix::tenant::TenantSpecJson(*spec);
  return 0;
}
