// TenantStore: the tenants and their API keys, durable in one SQLite file; TenantDirectory: the
// immutable in-memory view the request path reads.
//
//   Result<std::unique_ptr<TenantStore>> store = TenantStore::Open("brix-tenants.db");
//   (*store)->PutTenant(spec);
//   Result<NewKey> key = (*store)->CreateKey("acme");   // key->key is shown once, never stored
//   Result<std::shared_ptr<const TenantDirectory>> dir = (*store)->Load();
//   const tenant::TenantSpec* who = (*dir)->ByKeyHash(tenant::HashApiKey(bearer));
//
// Every write is a transaction with synchronous=FULL (durable once it returns). Several gateway
// processes may share the file (WAL mode, a busy timeout): each notices another's writes through
// Changed() (SQLite's data_version) and reloads. Methods are thread-safe (one connection behind
// a mutex) and block on disk: call them from the admin server or the scraper thread, never from
// a request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "store/sqlite.h"
#include "tenant/tenant.h"

namespace brix::gateway {

struct KeyRecord {
  std::string id;  // tenant::KeyIdFromHash
  std::string tenant;
  int64_t created_unix = 0;
};

struct NewKey {
  KeyRecord record;
  std::string key;  // the secret; only here, once
};

struct TenantDirectory {
  std::map<std::string, tenant::TenantSpec, std::less<>> tenants;
  std::unordered_map<std::string, std::string> tenant_by_key_hash;

  const tenant::TenantSpec* ByName(std::string_view name) const;
  const tenant::TenantSpec* ByKeyHash(const std::string& hash) const;
};

class TenantStore {
 public:
  // Opens (creating if needed) the database file and its tables.
  static Result<std::unique_ptr<TenantStore>> Open(const std::filesystem::path& path);
  ~TenantStore();
  TenantStore(const TenantStore&) = delete;
  TenantStore& operator=(const TenantStore&) = delete;

  // Creates or replaces the tenant; *created says which.
  Result<void> PutTenant(const tenant::TenantSpec& spec, bool* created = nullptr);
  // Deletes the tenant and every key of it. NotFound if absent.
  Result<void> DeleteTenant(std::string_view name);
  // A new key for an existing tenant (NotFound otherwise).
  Result<NewKey> CreateKey(std::string_view tenant);
  // The tenant's keys (NotFound if the tenant is absent), oldest first.
  Result<std::vector<KeyRecord>> ListKeys(std::string_view tenant);
  // Revokes a key by id. NotFound if absent.
  Result<void> RevokeKey(std::string_view id);

  // Everything, as the request path's view.
  Result<std::shared_ptr<const TenantDirectory>> Load();
  // Whether any connection (this one or another process's) wrote since the last call.
  bool Changed();

 private:
  explicit TenantStore(sqlite::Database db) : db_(std::move(db)) {}
  Result<void> Exec(const char* sql) { return db_.Exec(sql); }
  Error SqlError(std::string_view what) const { return db_.SqlError(what); }

  std::mutex mu_;
  sqlite::Database db_;  // guarded by mu_
  // At the last Changed(): data_version (moves on other connections' commits) and
  // total_changes (this connection's).
  int64_t last_data_version_ = -1;
  int64_t last_total_changes_ = -1;
};

}  // namespace brix::gateway
