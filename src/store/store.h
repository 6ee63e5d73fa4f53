// ObjectStore: where control-plane objects live, shaped like the Kubernetes API so that one
// manifest works under `brix up` and on a cluster (issue 9). One interface; this file's backend
// is embedded (SQLite), a Kubernetes backend comes later behind the same calls.
//
//   Result<std::unique_ptr<ObjectStore>> store = OpenSqliteStore("brix.db");
//   Result<StoredObject> made = (*store)->Create(R"({"apiVersion":"brix.dev/v1alpha1",
//       "kind":"ModelDeployment","metadata":{"name":"llama"},"spec":{"replicas":4}})");
//   // made->object["metadata"]["resourceVersion"] == "1", uid, creationTimestamp, generation 1
//   (*store)->Update(changed_json);   // with its resourceVersion: fails if someone wrote since
//   Result<std::vector<WatchEvent>> events = (*store)->EventsSince(0);
//
// Objects are JSON: apiVersion, kind, metadata, spec, status. The store owns metadata.uid,
// creationTimestamp, generation (bumped when spec changes) and resourceVersion: one counter for
// the whole store (etcd's revision), so "everything after version N" is a watch. Writes:
//   Create        fails AlreadyExists if (kind, namespace, name) exists.
//   Update        replaces apiVersion, labels, annotations and spec, keeps status. When the
//                 object's metadata.resourceVersion is set it must equal the stored one
//                 (FailedPrecondition "conflict" otherwise: somebody wrote in between; reread
//                 and retry), as a Kubernetes PUT.
//   UpdateStatus  replaces status only (the controller's writes), same precondition.
//   Delete        removes it; an expected version, when given, must match.
// Every write is one transaction, durable when the call returns (sqlite.h), and appends a watch
// event. Events are kept for the last StoreOptions::events_kept versions; older `since` values are
// FailedPrecondition "too old" (Kubernetes' 410 Gone): relist, then watch from the list's
// version.
//
// Names: metadata.name a DNS-1123 subdomain (lowercase letters, digits, '-', '.'; at most 253),
// metadata.namespace a DNS-1123 label, default "default". Malformed objects are
// InvalidArgument naming the field ("metadata.name: must be ..."). What a kind's spec may hold
// is checked above the store.
//
// Thread-safe; calls block on disk. Several processes may open one file; each sees the others'
// writes (EventsSince reads the table).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace brix::store {

struct ObjectKey {
  std::string kind;
  std::string ns;  // namespace
  std::string name;
  friend bool operator==(const ObjectKey&, const ObjectKey&) = default;
};

struct StoredObject {
  ObjectKey key;
  uint64_t resource_version = 0;
  boost::json::object object;  // with the store's metadata filled in
};

enum class EventType { kAdded, kModified, kDeleted };
std::string_view EventTypeName(EventType type);  // "ADDED", "MODIFIED", "DELETED"

struct WatchEvent {
  EventType type = EventType::kAdded;
  uint64_t resource_version = 0;  // of this change
  StoredObject object;            // as it is after the change (before it, for deletes)
};

struct StoreOptions {
  // Watch events kept (the newest); older `since` values get "too old".
  uint64_t events_kept = 10000;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Result<StoredObject> Create(std::string_view json) = 0;
  virtual Result<StoredObject> Update(std::string_view json) = 0;
  virtual Result<StoredObject> UpdateStatus(const ObjectKey& key, uint64_t expected_version,
                                            boost::json::value status) = 0;
  // expected_version 0: unconditional. Returns the object as it was.
  virtual Result<StoredObject> Delete(const ObjectKey& key, uint64_t expected_version = 0) = 0;

  virtual Result<StoredObject> Get(const ObjectKey& key) = 0;
  // Objects of `kind` (all kinds when empty) in `ns` (all namespaces when empty), by namespace
  // then name, and the store's version they were read at.
  virtual Result<std::vector<StoredObject>> List(std::string_view kind, std::string_view ns,
                                                 uint64_t* version = nullptr) = 0;
  // Changes after version `since`, oldest first, at most `limit`.
  virtual Result<std::vector<WatchEvent>> EventsSince(uint64_t since, size_t limit = 1000) = 0;
  // The latest version (0 for an empty store).
  virtual Result<uint64_t> CurrentVersion() = 0;
  // Blocks until a change after `since` has been written through this store, or `timeout`
  // (writes by other processes are noticed within 100 ms). True if there is one.
  virtual bool WaitForChange(uint64_t since, std::chrono::milliseconds timeout) = 0;
};

Result<std::unique_ptr<ObjectStore>> OpenSqliteStore(const std::filesystem::path& path,
                                                     StoreOptions options = {});

// The checks Create and Update apply to an object's envelope, and its key; exposed for the
// manifest parser and the fuzzer.
Result<ObjectKey> ValidateEnvelope(const boost::json::object& object);

}  // namespace brix::store
