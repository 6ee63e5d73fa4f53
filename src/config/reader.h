// Typed reading of YAML config with every error reported at its YAML path.
//
// A component's config parser walks the YAML with a MapReader per mapping:
//
//   void ParseServer(config::MapReader& r, ServerConfig* out) {
//     r.Read("address", &out->address);
//     r.Read("port", &out->port, 0, 65535);
//     r.ReadDuration("idle_timeout", &out->idle_timeout);
//     r.Finish();  // rejects keys nobody read
//   }
//
// Fields that are absent keep the struct's in-class default. Errors do not stop the walk: all of
// them are collected in Diagnostics, each with file, line, column and path
// ("brix.yaml:7:9: server.port: must be between 0 and 65535, got 70000").
//
// Not thread-safe; a load runs on one thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace brix::config {

struct ConfigError {
  std::string path;  // e.g. "gateway.models[2].name"; empty for the document itself
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
  std::string message;
};

// Collects the errors of one load. Owned by the caller of the load.
class Diagnostics {
 public:
  // `source` names the input in messages (a file path, or "<string>").
  explicit Diagnostics(std::string source = "<string>") : source_(std::move(source)) {}

  void Add(std::string path, const YAML::Mark& mark, std::string message);

  bool ok() const { return errors_.empty(); }
  const std::vector<ConfigError>& errors() const { return errors_; }
  const std::string& source() const { return source_; }

  // One line per error: "<source>:<line>:<col>: <path>: <message>".
  std::string ToString() const;
  // InvalidArgument carrying ToString(); only meaningful when !ok().
  Error ToError() const;

 private:
  std::string source_;
  std::vector<ConfigError> errors_;
};

// Parses YAML text. Syntax errors become InvalidArgument with line and column. An empty
// document yields a null node (which MapReader treats as an empty mapping).
Result<YAML::Node> ParseYaml(std::string_view text, std::string_view source = "<string>");

// Reads and parses a file of at most `max_bytes`.
Result<YAML::Node> LoadYamlFile(const std::string& path, uint64_t max_bytes = 16 << 20);

// Joins a parent path and a key: JoinPath("server", "port") == "server.port".
std::string JoinPath(std::string_view parent, std::string_view key);

// Reads the fields of one YAML mapping. Call Finish() once all fields were read; it reports the
// keys that were not. Destroying a reader without Finish() is a bug (BRIX_CHECK).
class MapReader {
 public:
  // `node` must be a mapping or null (null reads as empty); anything else is reported at `path`
  // and then reads as empty. Duplicate keys are reported.
  MapReader(const YAML::Node& node, std::string path, Diagnostics* diag);
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;
  ~MapReader();

  bool Has(std::string_view key) const;
  // Reports `key` as missing if it is absent.
  void Require(std::string_view key);

  void Read(std::string_view key, std::string* out);
  // Accepts only true and false (not yes/no/on/off, which YAML 1.1 would turn into booleans).
  void Read(std::string_view key, bool* out);
  void Read(std::string_view key, double* out, double min = -std::numeric_limits<double>::max(),
            double max = std::numeric_limits<double>::max());

  template <std::integral T>
  requires(!std::same_as<T, bool>) void Read(std::string_view key, T* out,
                                             T min = std::numeric_limits<T>::min(),
                                             T max = std::numeric_limits<T>::max()) {
    int64_t value = 0;
    if (ReadInteger(key, &value, static_cast<int64_t>(min), ClampMax(max))) {
      *out = static_cast<T>(value);
    }
  }

  // A duration such as "250ms" (config/units.h). Rejects values outside [min, max].
  template <typename Rep, typename Period>
  void ReadDuration(std::string_view key, std::chrono::duration<Rep, Period>* out,
                    std::chrono::nanoseconds min = std::chrono::nanoseconds(0),
                    std::chrono::nanoseconds max = std::chrono::nanoseconds::max()) {
    std::chrono::nanoseconds value;
    if (ReadDurationNs(key, &value, min, max)) {
      *out = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(value);
    }
  }

  // A size such as "4MiB" or a plain integer of bytes (config/units.h).
  void ReadSize(std::string_view key, uint64_t* out, uint64_t min = 0,
                uint64_t max = std::numeric_limits<uint64_t>::max());

  // A string that must be one of `allowed`.
  void ReadEnum(std::string_view key, std::string* out,
                std::initializer_list<std::string_view> allowed);

  // A sequence of strings.
  void Read(std::string_view key, std::vector<std::string>* out);

  // A nested mapping: calls `fn` with a reader for it (fn must call Finish()). If the key is
  // absent, `fn` is not called.
  void ReadMap(std::string_view key, const std::function<void(MapReader&)>& fn);

  // A sequence: calls `fn(item, item_path)` for each element (item_path is "key[i]").
  void ReadSequence(std::string_view key,
                    const std::function<void(const YAML::Node&, const std::string&)>& fn);

  // Reports an error at `key` (or at this mapping when `key` is empty); for cross-field checks.
  void Fail(std::string_view key, std::string message);

  // Reports every key that no Read* call asked for.
  void Finish();

  const std::string& path() const { return path_; }
  Diagnostics* diagnostics() const { return diag_; }

 private:
  struct Entry {
    std::string key;
    YAML::Node value;
    YAML::Mark mark;
    bool used = false;
  };

  static int64_t ClampMax(uint64_t max) {
    return max > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(max);
  }
  template <std::signed_integral T>
  static int64_t ClampMax(T max) {
    return static_cast<int64_t>(max);
  }

  // Marks the entry used and returns it, or nullptr if absent.
  Entry* Find(std::string_view key);
  // Returns the entry's scalar text, or reports "expected a <what>" and returns false.
  bool Scalar(Entry* e, std::string_view what, std::string* out);
  bool ReadInteger(std::string_view key, int64_t* out, int64_t min, int64_t max);
  bool ReadDurationNs(std::string_view key, std::chrono::nanoseconds* out,
                      std::chrono::nanoseconds min, std::chrono::nanoseconds max);
  void Report(const Entry& e, std::string message);

  std::string path_;
  Diagnostics* diag_;
  YAML::Mark mark_;
  std::vector<Entry> entries_;
  bool finished_ = false;
};

}  // namespace brix::config
