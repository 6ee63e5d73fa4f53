#include "store/store.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "base/json.h"
#include "store/sqlite.h"

namespace brix::store {
namespace {

namespace json = boost::json;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
  version INTEGER PRIMARY KEY,
  type INTEGER NOT NULL,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
)sql";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// DNS-1123 label: at most 63 of [a-z0-9-], starting and ending with an alphanumeric.
bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) {
    return false;
  }
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// DNS-1123 subdomain: dot-separated labels, at most 253 in all.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    const size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Error Field(std::string_view path, std::string_view why) {
  return InvalidArgument(fmt::format("{}: {}", path, why));
}

Result<void> StringMap(const json::object& meta, std::string_view field) {
  const json::value* v = meta.if_contains(field);
  if (v == nullptr) return {};
  if (!v->is_object()) return Field(fmt::format("metadata.{}", field), "must be an object");
  for (const auto& [k, value] : v->as_object()) {
    if (k.empty() || k.size() > 317) {
      return Field(fmt::format("metadata.{}", field), "keys must be 1 to 317 characters");
    }
    if (!value.is_string()) {
      return Field(fmt::format("metadata.{}.{}", field, std::string_view(k)), "must be a string");
    }
  }
  return {};
}

// "" -> 0 (not given); else a positive decimal.
Result<uint64_t> ParseVersion(const json::object& meta) {
  const json::value* v = meta.if_contains("resourceVersion");
  if (v == nullptr) return uint64_t{0};
  if (!v->is_string()) return Field("metadata.resourceVersion", "must be a string");
  const std::string_view s = v->as_string();
  if (s.empty()) return uint64_t{0};
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || out == 0) {
    return Field("metadata.resourceVersion", "must be a version this store gave out");
  }
  return out;
}

std::string NewUid() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const uint64_t a = rng();
  const uint64_t b = rng();
  // UUID version 4 layout.
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
}

std::string NowRfc3339() {
  return fmt::format(
      "{:%Y-%m-%dT%H:%M:%SZ}",
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

Result<json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = ParseJsonExact(text, ec);  // an object reads back as it was written
  if (ec) return InvalidArgument(fmt::format("not JSON: {}", ec.message()));
  if (!v.is_object()) return InvalidArgument("an object must be a JSON object");
  return std::move(v.as_object());
}

class SqliteStore final : public ObjectStore {
 public:
  SqliteStore(sqlite::Database db, StoreOptions options) : options_(options), db_(std::move(db)) {}

  Result<StoredObject> Create(std::string_view text) override {
    Result<json::object> object = ParseObject(text);
    if (!object) return object.error();
    Result<ObjectKey> key = ValidateEnvelope(*object);
    if (!key) return key.error();
    return Write([&](uint64_t version) -> Result<std::pair<EventType, StoredObject>> {
      Result<std::optional<StoredObject>> existing = Read(*key);
      if (!existing) return existing.error();
      if (*existing) {
        return AlreadyExists(fmt::format("{} {}/{} already exists", key->kind, key->ns, key->name));
      }
      json::object& meta = (*object)["metadata"].as_object();
      meta["namespace"] = key->ns;
      meta["uid"] = NewUid();
      meta["creationTimestamp"] = NowRfc3339();
      meta["generation"] = 1;
      meta["resourceVersion"] = std::to_string(version);
      if (!object->contains("status")) (*object)["status"] = json::object();
      StoredObject out{*key, version, std::move(*object)};
      return std::make_pair(EventType::kAdded, std::move(out));
    });
  }

  Result<StoredObject> Update(std::string_view text) override {
    Result<json::object> object = ParseObject(text);
    if (!object) return object.error();
    Result<ObjectKey> key = ValidateEnvelope(*object);
    if (!key) return key.error();
    Result<uint64_t> expected = ParseVersion((*object)["metadata"].as_object());
    if (!expected) return expected.error();
    return Write([&](uint64_t version) -> Result<std::pair<EventType, StoredObject>> {
      Result<StoredObject> current = Existing(*key, *expected);
      if (!current) return current.error();
      json::object next = std::move(current->object);
      json::object& meta = next["metadata"].as_object();
      const json::object& given = (*object)["metadata"].as_object();
      for (const char* field : {"labels", "annotations"}) {
        if (const json::value* v = given.if_contains(field)) {
          meta[field] = *v;
        } else {
          meta.erase(field);
        }
      }
      const json::value no_spec;
      const json::value* spec = object->if_contains("spec");
      const json::value* old_spec = next.if_contains("spec");
      const bool spec_changed = (spec ? *spec : no_spec) != (old_spec ? *old_spec : no_spec);
      if (spec != nullptr) {
        next["spec"] = *spec;
      } else {
        next.erase("spec");
      }
      next["apiVersion"] = (*object)["apiVersion"];
      if (spec_changed) meta["generation"] = meta["generation"].to_number<int64_t>() + 1;
      meta["resourceVersion"] = std::to_string(version);
      StoredObject out{*key, version, std::move(next)};
      return std::make_pair(EventType::kModified, std::move(out));
    });
  }

  Result<StoredObject> UpdateStatus(const ObjectKey& key, uint64_t expected_version,
                                    json::value status) override {
    return Write([&](uint64_t version) -> Result<std::pair<EventType, StoredObject>> {
      Result<StoredObject> current = Existing(key, expected_version);
      if (!current) return current.error();
      json::object next = std::move(current->object);
      next["status"] = std::move(status);
      next["metadata"].as_object()["resourceVersion"] = std::to_string(version);
      StoredObject out{key, version, std::move(next)};
      return std::make_pair(EventType::kModified, std::move(out));
    });
  }

  Result<StoredObject> Delete(const ObjectKey& key, uint64_t expected_version) override {
    return Write([&](uint64_t version) -> Result<std::pair<EventType, StoredObject>> {
      Result<StoredObject> current = Existing(key, expected_version);
      if (!current) return current.error();
      current->resource_version = version;
      return std::make_pair(EventType::kDeleted, std::move(*current));
    });
  }

  Result<StoredObject> Get(const ObjectKey& key) override {
    std::lock_guard lock(mu_);
    Result<std::optional<StoredObject>> found = Read(key);
    if (!found) return found.error();
    if (!*found) return NotFound(fmt::format("{} {}/{} not found", key.kind, key.ns, key.name));
    return std::move(**found);
  }

  Result<std::vector<StoredObject>> List(std::string_view kind, std::string_view ns,
                                         uint64_t* version) override {
    std::lock_guard lock(mu_);
    // One read transaction: the list and the version it was read at agree.
    if (Result<void> ok = db_.Exec("BEGIN"); !ok) return ok.error();
    std::vector<StoredObject> out;
    Result<void> listed = [&]() -> Result<void> {
      sqlite::Statement s(db_.get(),
                          "SELECT kind, namespace, name, version, body FROM objects "
                          "WHERE (?1 = '' OR kind = ?1) AND (?2 = '' OR namespace = ?2) "
                          "ORDER BY kind, namespace, name");
      if (!s.ok()) return db_.SqlError("list");
      s.Bind(1, kind);
      s.Bind(2, ns);
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) {
        Result<StoredObject> o = Row(s);
        if (!o) return o.error();
        out.push_back(std::move(*o));
      }
      if (rc != SQLITE_DONE) return db_.SqlError("list");
      if (version != nullptr) {
        Result<uint64_t> v = Version();
        if (!v) return v.error();
        *version = *v;
      }
      return {};
    }();
    (void)db_.Exec("COMMIT");
    if (!listed) return listed.error();
    return out;
  }

  Result<std::vector<WatchEvent>> EventsSince(uint64_t since, size_t limit) override {
    std::lock_guard lock(mu_);
    if (Result<void> ok = db_.Exec("BEGIN"); !ok) return ok.error();
    std::vector<WatchEvent> out;
    Result<void> read = [&]() -> Result<void> {
      Result<uint64_t> current = Version();
      if (!current) return current.error();
      sqlite::Statement oldest(db_.get(), "SELECT MIN(version) FROM events");
      if (!oldest.ok() || oldest.Step() != SQLITE_ROW) return db_.SqlError("watch");
      const auto first = static_cast<uint64_t>(oldest.Int(0));
      if (since < *current && first > 0 && since + 1 < first) {
        return FailedPrecondition(fmt::format(
            "too old resource version {}: events start at {}; list again and watch from there",
            since, first));
      }
      sqlite::Statement s(db_.get(),
                          "SELECT version, type, kind, namespace, name, body FROM events "
                          "WHERE version > ?1 ORDER BY version LIMIT ?2");
      if (!s.ok()) return db_.SqlError("watch");
      s.Bind(1, static_cast<int64_t>(since));
      s.Bind(2, static_cast<int64_t>(limit));
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) {
        WatchEvent e;
        e.resource_version = static_cast<uint64_t>(s.Int(0));
        e.type = static_cast<EventType>(s.Int(1));
        e.object.key = {s.Text(2), s.Text(3), s.Text(4)};
        e.object.resource_version = e.resource_version;
        Result<json::object> body = ParseObject(s.Text(5));
        if (!body) return Internal("watch: a stored event does not parse");
        e.object.object = std::move(*body);
        out.push_back(std::move(e));
      }
      if (rc != SQLITE_DONE) return db_.SqlError("watch");
      return {};
    }();
    (void)db_.Exec("COMMIT");
    if (!read) return read.error();
    return out;
  }

  Result<uint64_t> CurrentVersion() override {
    std::lock_guard lock(mu_);
    return Version();
  }

  bool WaitForChange(uint64_t since, std::chrono::milliseconds timeout) override {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      Result<uint64_t> v = CurrentVersion();
      if (v && *v > since) return true;
      std::unique_lock lock(wait_mu_);
      const auto slice =
          std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
      const uint64_t seen = written_;
      changed_.wait_until(lock, slice, [&] { return written_ != seen; });
      if (std::chrono::steady_clock::now() >= until) {
        lock.unlock();
        Result<uint64_t> last = CurrentVersion();
        return last && *last > since;
      }
    }
  }

 private:
  using Change = std::pair<EventType, StoredObject>;

  // One write: BEGIN IMMEDIATE (takes the write lock, so the version read is the one written
  // after), `change` builds the new state at the next version, then the row, the event and the
  // counter are written and committed, or everything is rolled back.
  template <typename F>
  Result<StoredObject> Write(F change) {
    std::lock_guard lock(mu_);
    if (Result<void> ok = db_.Exec("BEGIN IMMEDIATE"); !ok) return ok.error();
    Result<StoredObject> out = [&]() -> Result<StoredObject> {
      Result<uint64_t> current = Version();
      if (!current) return current.error();
      const uint64_t version = *current + 1;
      Result<Change> made = change(version);
      if (!made) return made.error();
      auto& [type, object] = *made;
      const std::string body = json::serialize(object.object);
      if (type == EventType::kDeleted) {
        sqlite::Statement del(
            db_.get(), "DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3");
        if (!del.ok()) return db_.SqlError("delete");
        BindKey(del, object.key);
        if (del.Step() != SQLITE_DONE) return db_.SqlError("delete");
      } else {
        sqlite::Statement put(db_.get(),
                              "INSERT INTO objects(kind, namespace, name, version, body) "
                              "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(kind, namespace, name) DO "
                              "UPDATE SET version = excluded.version, body = excluded.body");
        if (!put.ok()) return db_.SqlError("write");
        BindKey(put, object.key);
        put.Bind(4, static_cast<int64_t>(version));
        put.Bind(5, body);
        if (put.Step() != SQLITE_DONE) return db_.SqlError("write");
      }
      sqlite::Statement event(db_.get(),
                              "INSERT INTO events(version, type, kind, namespace, name, body) "
                              "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
      if (!event.ok()) return db_.SqlError("event");
      event.Bind(1, static_cast<int64_t>(version));
      event.Bind(2, static_cast<int64_t>(type));
      event.Bind(3, object.key.kind);
      event.Bind(4, object.key.ns);
      event.Bind(5, object.key.name);
      event.Bind(6, body);
      if (event.Step() != SQLITE_DONE) return db_.SqlError("event");
      sqlite::Statement counter(db_.get(),
                                "INSERT INTO counters(name, value) VALUES('version', ?1) "
                                "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
      if (!counter.ok()) return db_.SqlError("version");
      counter.Bind(1, static_cast<int64_t>(version));
      if (counter.Step() != SQLITE_DONE) return db_.SqlError("version");
      if (version > options_.events_kept) {
        sqlite::Statement prune(db_.get(), "DELETE FROM events WHERE version <= ?1");
        if (!prune.ok()) return db_.SqlError("prune");
        prune.Bind(1, static_cast<int64_t>(version - options_.events_kept));
        if (prune.Step() != SQLITE_DONE) return db_.SqlError("prune");
      }
      object.resource_version = version;
      return std::move(object);
    }();
    if (!out) {
      (void)db_.Exec("ROLLBACK");
      return out;
    }
    if (Result<void> ok = db_.Exec("COMMIT"); !ok) {
      (void)db_.Exec("ROLLBACK");
      return ok.error();
    }
    {
      std::lock_guard wake(wait_mu_);
      ++written_;
    }
    changed_.notify_all();
    return out;
  }

  static void BindKey(sqlite::Statement& s, const ObjectKey& key) {
    s.Bind(1, key.kind);
    s.Bind(2, key.ns);
    s.Bind(3, key.name);
  }

  Result<uint64_t> Version() {
    sqlite::Statement s(db_.get(), "SELECT value FROM counters WHERE name = 'version'");
    if (!s.ok()) return db_.SqlError("version");
    const int rc = s.Step();
    if (rc == SQLITE_DONE) return uint64_t{0};
    if (rc != SQLITE_ROW) return db_.SqlError("version");
    return static_cast<uint64_t>(s.Int(0));
  }

  Result<StoredObject> Row(const sqlite::Statement& s) {
    StoredObject o;
    o.key = {s.Text(0), s.Text(1), s.Text(2)};
    o.resource_version = static_cast<uint64_t>(s.Int(3));
    Result<json::object> body = ParseObject(s.Text(4));
    if (!body) return Internal("a stored object does not parse");
    o.object = std::move(*body);
    return o;
  }

  Result<std::optional<StoredObject>> Read(const ObjectKey& key) {
    sqlite::Statement s(db_.get(),
                        "SELECT kind, namespace, name, version, body FROM objects "
                        "WHERE kind = ?1 AND namespace = ?2 AND name = ?3");
    if (!s.ok()) return db_.SqlError("read");
    BindKey(s, key);
    const int rc = s.Step();
    if (rc == SQLITE_DONE) return std::optional<StoredObject>();
    if (rc != SQLITE_ROW) return db_.SqlError("read");
    Result<StoredObject> o = Row(s);
    if (!o) return o.error();
    return std::optional<StoredObject>(std::move(*o));
  }

  // The stored object, which must exist and, when `expected` is set, be at that version.
  Result<StoredObject> Existing(const ObjectKey& key, uint64_t expected) {
    Result<std::optional<StoredObject>> found = Read(key);
    if (!found) return found.error();
    if (!*found) return NotFound(fmt::format("{} {}/{} not found", key.kind, key.ns, key.name));
    if (expected != 0 && (*found)->resource_version != expected) {
      return FailedPrecondition(
          fmt::format("conflict: {} {}/{} is at version {}, not {}; read it again and retry",
                      key.kind, key.ns, key.name, (*found)->resource_version, expected));
    }
    return std::move(**found);
  }

  const StoreOptions options_;
  std::mutex mu_;
  sqlite::Database db_;  // guarded by mu_
  std::mutex wait_mu_;
  std::condition_variable changed_;
  uint64_t written_ = 0;  // guarded by wait_mu_
};

}  // namespace

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

Result<ObjectKey> ValidateEnvelope(const json::object& object) {
  for (const auto& [field, value] : object) {
    if (field != "apiVersion" && field != "kind" && field != "metadata" && field != "spec" &&
        field != "status") {
      return Field(field, "unknown field");
    }
  }
  const json::value* api = object.if_contains("apiVersion");
  if (api == nullptr) return Field("apiVersion", "required");
  if (!api->is_string() || api->as_string().empty()) {
    return Field("apiVersion", "must be a non-empty string such as brix.dev/v1alpha1");
  }
  const json::value* kind = object.if_contains("kind");
  if (kind == nullptr) return Field("kind", "required");
  if (!kind->is_string() || kind->as_string().empty() ||
      !std::isupper(static_cast<unsigned char>(kind->as_string().front()))) {
    return Field("kind", "must be a string starting with a capital letter");
  }
  for (char c : kind->as_string()) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      return Field("kind", "must hold only letters and digits");
    }
  }
  const json::value* meta_v = object.if_contains("metadata");
  if (meta_v == nullptr) return Field("metadata", "required");
  if (!meta_v->is_object()) return Field("metadata", "must be an object");
  const json::object& meta = meta_v->as_object();
  for (const auto& [field, value] : meta) {
    if (field != "name" && field != "namespace" && field != "labels" && field != "annotations" &&
        field != "resourceVersion" && field != "uid" && field != "generation" &&
        field != "creationTimestamp") {
      return Field(fmt::format("metadata.{}", std::string_view(field)), "unknown field");
    }
  }
  const json::value* name = meta.if_contains("name");
  if (name == nullptr) return Field("metadata.name", "required");
  if (!name->is_string() || !IsDnsSubdomain(name->as_string())) {
    return Field("metadata.name",
                 "must be lowercase letters, digits, '-' and '.', starting and ending with a "
                 "letter or digit, at most 253 characters");
  }
  std::string ns = "default";
  if (const json::value* n = meta.if_contains("namespace")) {
    if (!n->is_string() || !IsDnsLabel(n->as_string())) {
      return Field("metadata.namespace",
                   "must be lowercase letters, digits and '-', at most 63 characters");
    }
    ns = n->as_string();
  }
  if (Result<void> ok = StringMap(meta, "labels"); !ok) return ok.error();
  if (Result<void> ok = StringMap(meta, "annotations"); !ok) return ok.error();
  if (Result<uint64_t> v = ParseVersion(meta); !v) return v.error();
  if (const json::value* spec = object.if_contains("spec"); spec && !spec->is_object()) {
    return Field("spec", "must be an object");
  }
  if (const json::value* status = object.if_contains("status"); status && !status->is_object()) {
    return Field("status", "must be an object");
  }
  return ObjectKey{std::string(kind->as_string()), std::move(ns), std::string(name->as_string())};
}

Result<std::unique_ptr<ObjectStore>> OpenSqliteStore(const std::filesystem::path& path,
                                                     StoreOptions options) {
  if (options.events_kept == 0) return InvalidArgument("events_kept must be at least 1");
  Result<sqlite::Database> db = sqlite::Database::Open(path, kSchema);
  if (!db) return db.error();
  return std::unique_ptr<ObjectStore>(std::make_unique<SqliteStore>(std::move(*db), options));
}

}  // namespace brix::store
