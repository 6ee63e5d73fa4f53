#include "api/api.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "config/units.h"

namespace brix::api {
namespace {

namespace json = boost::json;

Error Field(std::string_view path, std::string_view why) {
  return InvalidArgument(fmt::format("{}: {}", path, why));
}

// Rejects keys of `object` (at `path`) outside `allowed`.
Result<void> OnlyKnown(const json::object& object, std::string_view path,
                       std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      return Field(
          path.empty() ? std::string(key) : fmt::format("{}.{}", path, std::string_view(key)),
          "unknown field");
    }
  }
  return {};
}

Result<std::string> String(const json::object& o, std::string_view path, std::string_view key,
                           bool required) {
  const json::value* v = o.if_contains(key);
  const std::string where = fmt::format("{}.{}", path, key);
  if (v == nullptr) {
    if (required) return Field(where, "required");
    return std::string();
  }
  if (!v->is_string() || v->as_string().empty()) return Field(where, "must be a non-empty string");
  return std::string(v->as_string());
}

Result<int64_t> Integer(const json::object& o, std::string_view path, std::string_view key,
                        int64_t fallback, int64_t min, int64_t max) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  const std::string where = fmt::format("{}.{}", path, key);
  const std::string want = fmt::format("must be an integer from {} to {}", min, max);
  if (!v->is_int64() && !v->is_uint64()) return Field(where, want);
  if (v->is_uint64() && v->as_uint64() > static_cast<uint64_t>(max)) return Field(where, want);
  const int64_t n = v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
  if (n < min || n > max) return Field(where, want);
  return n;
}

Result<EngineSpec> ParseEngine(const json::value& v) {
  if (!v.is_object()) return Field("spec.engine", "must be a mapping");
  const json::object& o = v.as_object();
  if (Result<void> ok = OnlyKnown(o, "spec.engine", {"type", "profile", "args", "command"}); !ok) {
    return ok.error();
  }
  EngineSpec e;
  Result<std::string> type = String(o, "spec.engine", "type", false);
  if (!type) return type.error();
  if (!type->empty()) e.type = *type;
  if (e.type != "sim" && e.type != "command") {
    return Field("spec.engine.type", fmt::format("must be sim or command, not \"{}\"", e.type));
  }
  Result<std::string> profile = String(o, "spec.engine", "profile", false);
  if (!profile) return profile.error();
  if (!profile->empty()) e.profile = *profile;
  Result<std::string> command = String(o, "spec.engine", "command", e.type == "command");
  if (!command) return command.error();
  e.command = *command;
  if (e.type == "command") {
    if (e.command.find("{port}") == std::string::npos) {
      return Field("spec.engine.command", "must contain {port}, where the engine is to listen");
    }
    if (o.contains("profile")) return Field("spec.engine.profile", "only for type sim");
  } else if (o.contains("command")) {
    return Field("spec.engine.command", "only for type command");
  }
  if (const json::value* args = o.if_contains("args")) {
    if (!args->is_array()) return Field("spec.engine.args", "must be a list of strings");
    for (size_t i = 0; i < args->as_array().size(); ++i) {
      const json::value& a = args->as_array()[i];
      if (!a.is_string()) return Field(fmt::format("spec.engine.args[{}]", i), "must be a string");
      e.args.emplace_back(a.as_string());
    }
    if (e.type == "command") return Field("spec.engine.args", "only for type sim");
  }
  return e;
}

// YAML to JSON, recording where each path starts for error messages.
class YamlToJson {
 public:
  explicit YamlToJson(std::map<std::string, YAML::Mark>* marks) : marks_(marks) {}

  Result<json::value> Convert(const YAML::Node& node, const std::string& path) {
    (*marks_)[path] = node.Mark();
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return json::value(nullptr);
      case YAML::NodeType::Scalar:
        return Scalar(node);
      case YAML::NodeType::Sequence: {
        json::array out;
        for (size_t i = 0; i < node.size(); ++i) {
          Result<json::value> item = Convert(node[i], fmt::format("{}[{}]", path, i));
          if (!item) return item.error();
          out.push_back(std::move(*item));
        }
        return json::value(std::move(out));
      }
      case YAML::NodeType::Map: {
        json::object out;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar())
            return Field(path.empty() ? "(document)" : path, "keys must be strings");
          const std::string key = kv.first.Scalar();
          const std::string child = path.empty() ? key : path + "." + key;
          (*marks_)[child + "#key"] = kv.first.Mark();
          if (out.contains(key)) return Field(child, "duplicate key");
          Result<json::value> value = Convert(kv.second, child);
          if (!value) return value.error();
          out[key] = std::move(*value);
        }
        return json::value(std::move(out));
      }
    }
    return json::value(nullptr);
  }

 private:
  // Plain scalars take YAML 1.2 core types; quoted ones (tag "!") stay strings.
  static json::value Scalar(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return json::value(s);
    if (s == "null" || s == "~" || s.empty()) return json::value(nullptr);
    if (s == "true") return json::value(true);
    if (s == "false") return json::value(false);
    int64_t i = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec == std::errc() && p == s.data() + s.size()) return json::value(i);
    // from_chars also reads "inf", "infinity" and "nan(123)", which YAML calls strings and JSON
    // cannot carry: only finite numbers become numbers.
    double d = 0;
    auto [pd, ecd] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ecd == std::errc() && pd == s.data() + s.size() && std::isfinite(d)) {
      return json::value(d);
    }
    return json::value(s);
  }

  std::map<std::string, YAML::Mark>* marks_;
};

// "path: why" -> the mark of the longest recorded prefix of path.
YAML::Mark MarkFor(const std::string& message, const std::map<std::string, YAML::Mark>& marks,
                   const YAML::Mark& document) {
  const size_t colon = message.find(": ");
  std::string path = colon == std::string::npos ? std::string() : message.substr(0, colon);
  // A key that should not be there is shown at the key; a bad value at the value.
  const bool about_key =
      message.find("unknown field", colon == std::string::npos ? 0 : colon) != std::string::npos ||
      message.find("duplicate key") != std::string::npos;
  if (about_key) {
    if (auto it = marks.find(path + "#key"); it != marks.end()) return it->second;
  }
  while (!path.empty()) {
    if (auto it = marks.find(path); it != marks.end()) return it->second;
    const size_t cut = path.find_last_of(".[");
    path = cut == std::string::npos ? std::string() : path.substr(0, cut);
  }
  return document;
}

}  // namespace

Result<ModelDeploymentSpec> ParseModelDeploymentSpec(const json::value& v) {
  if (!v.is_object()) return Field("spec", "must be a mapping");
  const json::object& o = v.as_object();
  if (Result<void> ok = OnlyKnown(
          o, "spec",
          {"model", "replicas", "engine", "resources", "routingStrategy", "readyTimeout"});
      !ok) {
    return ok.error();
  }
  ModelDeploymentSpec spec;
  Result<std::string> model = String(o, "spec", "model", true);
  if (!model) return model.error();
  if (model->size() > 256 || model->find_first_of(" \t\r\n") != std::string::npos) {
    return Field("spec.model", "must be at most 256 characters without spaces");
  }
  spec.model = *model;
  Result<int64_t> replicas = Integer(o, "spec", "replicas", 1, 0, 1000);
  if (!replicas) return replicas.error();
  spec.replicas = *replicas;
  if (const json::value* engine = o.if_contains("engine")) {
    Result<EngineSpec> e = ParseEngine(*engine);
    if (!e) return e.error();
    spec.engine = std::move(*e);
  }
  if (const json::value* res = o.if_contains("resources")) {
    if (!res->is_object()) return Field("spec.resources", "must be a mapping");
    if (Result<void> ok = OnlyKnown(res->as_object(), "spec.resources", {"gpus"}); !ok) {
      return ok.error();
    }
    Result<int64_t> gpus = Integer(res->as_object(), "spec.resources", "gpus", 0, 0, 64);
    if (!gpus) return gpus.error();
    spec.gpus_per_replica = *gpus;
  }
  Result<std::string> strategy = String(o, "spec", "routingStrategy", false);
  if (!strategy) return strategy.error();
  spec.routing_strategy = *strategy;
  if (const json::value* t = o.if_contains("readyTimeout")) {
    if (!t->is_string()) return Field("spec.readyTimeout", "must be a duration such as 120s");
    auto d = config::ParseDuration(t->as_string());
    if (!d) return Field("spec.readyTimeout", d.error().message);
    spec.ready_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    if (spec.ready_timeout.count() < 1000 || spec.ready_timeout > std::chrono::hours(1)) {
      return Field("spec.readyTimeout", "must be between 1s and 1h");
    }
  }
  return spec;
}

Result<store::ObjectKey> ValidateObject(const json::object& object) {
  Result<store::ObjectKey> key = store::ValidateEnvelope(object);
  if (!key) return key.error();
  if (key->kind == "ModelDeployment") {
    if (object.at("apiVersion").as_string() != kBrixApiVersion) {
      return Field("apiVersion", fmt::format("ModelDeployment is {}", kBrixApiVersion));
    }
    const json::value* spec = object.if_contains("spec");
    if (spec == nullptr) return Field("spec", "required");
    if (Result<ModelDeploymentSpec> s = ParseModelDeploymentSpec(*spec); !s) return s.error();
    return key;
  }
  return Field("kind", fmt::format("unknown kind \"{}\" (known: ModelDeployment)", key->kind));
}

namespace {

// The documents of a YAML stream, split where a line starts with "---" (as kubectl does), each
// with the 0-based line it starts on. yaml-cpp 0.7's own LoadAll can loop forever on malformed
// input (found by manifest_fuzzer), so each document is parsed on its own with YAML::Load.
std::vector<std::pair<std::string_view, int>> SplitDocuments(std::string_view text) {
  std::vector<std::pair<std::string_view, int>> out;
  size_t start = 0;
  int start_line = 0;
  int line = 0;
  for (size_t pos = 0; pos <= text.size();) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view l = text.substr(pos, eol - pos);
    const bool separator =
        l.starts_with("---") && (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
    if (separator && pos > start) {
      out.emplace_back(text.substr(start, pos - start), start_line);
      start = pos;
      start_line = line;
    }
    pos = eol + 1;
    ++line;
  }
  if (start < text.size()) out.emplace_back(text.substr(start), start_line);
  return out;
}

}  // namespace

Result<std::vector<Manifest>> ParseManifests(std::string_view text, std::string_view source) {
  if (text.find('\0') != std::string_view::npos) {
    return InvalidArgument(fmt::format("{}: not a text file (it holds NUL bytes)", source));
  }
  std::vector<Manifest> out;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (const auto& piece : SplitDocuments(text)) {
    // Named copies: clang 14 cannot capture structured bindings in the lambda below.
    const std::string_view chunk = piece.first;
    const int offset = piece.second;
    YAML::Node doc;
    try {
      doc = YAML::Load(std::string(chunk));
    } catch (const YAML::Exception& e) {
      return InvalidArgument(fmt::format("{}:{}:{}: invalid YAML: {}", source,
                                         e.mark.line + offset + 1, e.mark.column + 1, e.msg));
    }
    if (doc.IsNull()) continue;  // an empty document, or only comments
    std::map<std::string, YAML::Mark> marks;
    // Where the document's content starts (its first key), not its "---".
    const YAML::Mark start = doc.IsMap() && doc.size() > 0 ? doc.begin()->first.Mark() : doc.Mark();
    auto fail = [&](const Error& e) {
      const YAML::Mark m = MarkFor(e.message, marks, start);
      return InvalidArgument(
          fmt::format("{}:{}:{}: {}", source, m.line + offset + 1, m.column + 1, e.message));
    };
    if (!doc.IsMap()) {
      return InvalidArgument(fmt::format("{}:{}:{}: a manifest must be a mapping", source,
                                         start.line + offset + 1, start.column + 1));
    }
    Result<json::value> value = YamlToJson(&marks).Convert(doc, "");
    if (!value) return fail(value.error());
    json::object& object = value->as_object();
    Result<store::ObjectKey> key = ValidateObject(object);
    if (!key) return fail(key.error());
    if (!seen.emplace(key->kind, key->ns, key->name).second) {
      return fail(Field("metadata.name",
                        fmt::format("{} {}/{} appears twice", key->kind, key->ns, key->name)));
    }
    out.push_back({std::move(*key), std::move(object), start.line + offset + 1});
  }
  if (out.empty()) return InvalidArgument(fmt::format("{}: no objects", source));
  return out;
}

}  // namespace brix::api
