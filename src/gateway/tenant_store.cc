#include "gateway/tenant_store.h"

#include <fmt/format.h>

#include <chrono>

namespace brix::gateway {
namespace {

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using sqlite::Statement;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tenants (
  name TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  created_unix INTEGER NOT NULL,
  updated_unix INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
  created_unix INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys(tenant);
)sql";

}  // namespace

const tenant::TenantSpec* TenantDirectory::ByName(std::string_view name) const {
  auto it = tenants.find(name);
  return it == tenants.end() ? nullptr : &it->second;
}

const tenant::TenantSpec* TenantDirectory::ByKeyHash(const std::string& hash) const {
  auto it = tenant_by_key_hash.find(hash);
  return it == tenant_by_key_hash.end() ? nullptr : ByName(it->second);
}

Result<std::unique_ptr<TenantStore>> TenantStore::Open(const std::filesystem::path& path) {
  Result<sqlite::Database> db = sqlite::Database::Open(path, kSchema);
  if (!db) {
    return Error{db.error().code, fmt::format("tenants {}", db.error().message)};
  }
  return std::unique_ptr<TenantStore>(new TenantStore(std::move(*db)));
}

TenantStore::~TenantStore() = default;

Result<void> TenantStore::PutTenant(const tenant::TenantSpec& spec, bool* created) {
  if (Result<void> ok = tenant::ValidateTenantName(spec.name); !ok) return ok.error();
  std::lock_guard lock(mu_);
  if (created != nullptr) {
    Statement exists(db_.get(), "SELECT 1 FROM tenants WHERE name = ?1");
    if (!exists.ok()) return SqlError("put tenant");
    exists.Bind(1, spec.name);
    *created = exists.Step() != SQLITE_ROW;
  }
  Statement s(db_.get(),
              "INSERT INTO tenants(name, spec, created_unix, updated_unix) VALUES(?1, ?2, ?3, ?3) "
              "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, "
              "updated_unix = excluded.updated_unix");
  if (!s.ok()) return SqlError("put tenant");
  s.Bind(1, spec.name);
  s.Bind(2, tenant::TenantSpecJson(spec));
  s.Bind(3, NowUnix());
  if (s.Step() != SQLITE_DONE) return SqlError("put tenant");
  return {};
}

Result<void> TenantStore::DeleteTenant(std::string_view name) {
  std::lock_guard lock(mu_);
  Statement s(db_.get(), "DELETE FROM tenants WHERE name = ?1");
  if (!s.ok()) return SqlError("delete tenant");
  s.Bind(1, name);
  if (s.Step() != SQLITE_DONE) return SqlError("delete tenant");
  if (db_.changes() == 0) return NotFound(fmt::format("tenant \"{}\" does not exist", name));
  return {};
}

Result<NewKey> TenantStore::CreateKey(std::string_view tenant_name) {
  NewKey out;
  out.key = tenant::NewApiKey();
  const std::string hash = tenant::HashApiKey(out.key);
  out.record = {tenant::KeyIdFromHash(hash), std::string(tenant_name), NowUnix()};
  std::lock_guard lock(mu_);
  Statement s(db_.get(),
              "INSERT INTO api_keys(id, hash, tenant, created_unix) "
              "SELECT ?1, ?2, name, ?4 FROM tenants WHERE name = ?3");
  if (!s.ok()) return SqlError("create key");
  s.Bind(1, out.record.id);
  s.Bind(2, hash);
  s.Bind(3, tenant_name);
  s.Bind(4, out.record.created_unix);
  if (s.Step() != SQLITE_DONE) return SqlError("create key");
  if (db_.changes() == 0) {
    return NotFound(fmt::format("tenant \"{}\" does not exist", tenant_name));
  }
  return out;
}

Result<std::vector<KeyRecord>> TenantStore::ListKeys(std::string_view tenant_name) {
  std::lock_guard lock(mu_);
  Statement exists(db_.get(), "SELECT 1 FROM tenants WHERE name = ?1");
  if (!exists.ok()) return SqlError("list keys");
  exists.Bind(1, tenant_name);
  if (exists.Step() != SQLITE_ROW) {
    return NotFound(fmt::format("tenant \"{}\" does not exist", tenant_name));
  }
  Statement s(db_.get(),
              "SELECT id, tenant, created_unix FROM api_keys WHERE tenant = ?1 "
              "ORDER BY created_unix, id");
  if (!s.ok()) return SqlError("list keys");
  s.Bind(1, tenant_name);
  std::vector<KeyRecord> keys;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) keys.push_back({s.Text(0), s.Text(1), s.Int(2)});
  if (rc != SQLITE_DONE) return SqlError("list keys");
  return keys;
}

Result<void> TenantStore::RevokeKey(std::string_view id) {
  std::lock_guard lock(mu_);
  Statement s(db_.get(), "DELETE FROM api_keys WHERE id = ?1");
  if (!s.ok()) return SqlError("revoke key");
  s.Bind(1, id);
  if (s.Step() != SQLITE_DONE) return SqlError("revoke key");
  if (db_.changes() == 0) return NotFound(fmt::format("key \"{}\" does not exist", id));
  return {};
}

Result<std::shared_ptr<const TenantDirectory>> TenantStore::Load() {
  auto dir = std::make_shared<TenantDirectory>();
  std::lock_guard lock(mu_);
  // One read transaction, so the tenants and keys are from the same moment.
  if (Result<void> ok = Exec("BEGIN"); !ok) return ok.error();
  auto read = [&]() -> Result<void> {
    Statement tenants(db_.get(), "SELECT name, spec FROM tenants");
    if (!tenants.ok()) return SqlError("load tenants");
    int rc;
    while ((rc = tenants.Step()) == SQLITE_ROW) {
      const std::string name = tenants.Text(0);
      Result<tenant::TenantSpec> spec = tenant::ParseTenantSpec(tenants.Text(1), name);
      if (!spec) {
        return Internal(
            fmt::format("tenant \"{}\" in the database: {}", name, spec.error().message));
      }
      dir->tenants.emplace(name, std::move(*spec));
    }
    if (rc != SQLITE_DONE) return SqlError("load tenants");
    Statement keys(db_.get(), "SELECT hash, tenant FROM api_keys");
    if (!keys.ok()) return SqlError("load keys");
    while ((rc = keys.Step()) == SQLITE_ROW)
      dir->tenant_by_key_hash.emplace(keys.Text(0), keys.Text(1));
    if (rc != SQLITE_DONE) return SqlError("load keys");
    return {};
  };
  Result<void> ok = read();
  Exec("COMMIT");
  if (!ok) return ok.error();
  return std::shared_ptr<const TenantDirectory>(std::move(dir));
}

bool TenantStore::Changed() {
  std::lock_guard lock(mu_);
  int64_t version = -1;
  {
    Statement s(db_.get(), "PRAGMA data_version");
    if (s.ok() && s.Step() == SQLITE_ROW) version = s.Int(0);
  }
  const int64_t total = sqlite3_total_changes64(db_.get());
  const bool changed = version != last_data_version_ || total != last_total_changes_;
  last_data_version_ = version;
  last_total_changes_ = total;
  return changed;
}

}  // namespace brix::gateway
