// `brix apply`, `brix get`, `brix delete`, `brix describe`: the controller's objects through its
// admin API (controller/admin.h), found through the state directory `brix up` writes
// (<state>/up.json, <state>/admin-token) unless --controller and --token-file say otherwise.
#include <fmt/core.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "api/api.h"
#include "cmd/admin_client.h"
#include "cmd/commands.h"

namespace brix::cmd {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

struct ControlFlags {
  std::string state_dir = ".brix";
  std::string controller;
  std::string token_file;
  std::string ns = "default";
  std::vector<std::string> files;
  std::string type;
  std::string name;
  std::string output = "table";
};

struct Target {
  net::HostPort upstream;
  std::string token;
};

// Where the controller is: --controller/--token-file, $BRIX_CONTROLLER_URL, or up.json.
Result<Target> Locate(const ControlFlags& f) {
  std::string url = f.controller;
  std::string token_file = f.token_file;
  if (url.empty()) {
    if (const char* env = std::getenv("BRIX_CONTROLLER_URL")) url = env;
  }
  if (url.empty()) {
    const std::string up = f.state_dir + "/up.json";
    std::ifstream in(up);
    if (!in) {
      return Error{Errc::kUnavailable,
                   fmt::format("no controller: {} not found (is `brix up` running here? else "
                               "pass --state-dir or --controller)",
                               up)};
    }
    std::string text((std::istreambuf_iterator<char>(in)), {});
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    const json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    if (o == nullptr || !o->contains("admin") || !o->at("admin").is_string()) {
      return InvalidArgument(fmt::format("{}: not what brix up writes", up));
    }
    url = std::string(o->at("admin").as_string());
    if (token_file.empty() && o->contains("tokenFile") && o->at("tokenFile").is_string()) {
      token_file = std::string(o->at("tokenFile").as_string());
    }
  }
  auto upstream = ParseAdminUrl(url);
  if (!upstream) {
    return InvalidArgument(fmt::format("--controller: want http://HOST:PORT, not '{}'", url));
  }
  auto token = ReadAdminToken(token_file, "--token-file");
  if (!token) return token.error();
  return Target{std::move(*upstream), std::move(*token)};
}

// One call; the parsed JSON answer, or the error's message.
Result<json::value> Call(const Target& t, http::verb method, const std::string& path,
                         std::string body = {}, std::string* result = nullptr) {
  Result<net::Response> r = AdminCall(t.upstream, t.token, method, path, std::move(body));
  if (!r) {
    return Error{r.error().code, fmt::format("controller at {}:{}: {}", t.upstream.host,
                                             t.upstream.port, r.error().message)};
  }
  if (r->result_int() >= 300) {
    return Error{r->result_int() == 404 ? Errc::kNotFound : Errc::kInvalidArgument, ErrorText(*r)};
  }
  if (result != nullptr) *result = std::string((*r)["x-brix-result"]);
  boost::system::error_code ec;
  json::value v = json::parse(r->body(), ec);
  if (ec) return Error{Errc::kInternal, "the controller answered something other than JSON"};
  return v;
}

std::string ObjectPath(const std::string& ns, const std::string& name) {
  return fmt::format("/apis/brix.dev/v1alpha1/namespaces/{}/modeldeployments/{}", Segment(ns),
                     Segment(name));
}

int Fail(std::string_view command, const Error& e, int code = kExitFailure) {
  fmt::print(stderr, "brix {}: {}\n", command, e.message);
  return code;
}

// The manifests of every -f file ("-" is stdin).
Result<std::vector<api::Manifest>> ReadManifests(const std::vector<std::string>& files) {
  std::vector<api::Manifest> out;
  for (const std::string& file : files) {
    std::string text;
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(file);
      if (!in) return InvalidArgument(fmt::format("-f: cannot read {}", file));
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto parsed = api::ParseManifests(text, file == "-" ? "stdin" : file);
    if (!parsed) return parsed.error();
    for (auto& m : *parsed) out.push_back(std::move(m));
  }
  return out;
}

int RunApply(const ControlFlags& f) {
  auto manifests = ReadManifests(f.files);
  if (!manifests) return Fail("apply", manifests.error(), kExitUsage);
  auto target = Locate(f);
  if (!target) return Fail("apply", target.error());
  for (const auto& m : *manifests) {
    std::string result;
    auto r = Call(*target, http::verb::put, ObjectPath(m.key.ns, m.key.name),
                  json::serialize(m.object), &result);
    if (!r) return Fail("apply", r.error());
    fmt::print("modeldeployment/{} {}\n", m.key.name, result);
  }
  return kExitOk;
}

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object& Obj(const json::object& o, std::string_view key) {
  static const json::object empty;
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : empty;
}

void PrintDeployments(const json::array& items) {
  fmt::print("{:<12} {:<24} {:<24} {:>7} {:>10} {:>10}\n", "NAMESPACE", "NAME", "MODEL", "READY",
             "UP-TO-DATE", "GENERATION");
  for (const auto& item : items) {
    const json::object& o = item.as_object();
    const json::object& meta = Obj(o, "metadata");
    const json::object& spec = Obj(o, "spec");
    const json::object& status = Obj(o, "status");
    fmt::print("{:<12} {:<24} {:<24} {:>7} {:>10} {:>10}\n", Str(meta, "namespace"),
               Str(meta, "name"), Str(spec, "model"),
               fmt::format("{}/{}", Int(status, "readyReplicas"),
                           spec.contains("replicas") ? Int(spec, "replicas") : 1),
               Int(status, "updatedReplicas"), Int(meta, "generation"));
  }
}

void PrintReplicas(const json::array& items, std::string_view only_deployment = {}) {
  fmt::print("{:<28} {:<24} {:<9} {:>7} {:>6} {:>8}  {}\n", "REPLICA", "DEPLOYMENT", "STATE", "PID",
             "PORT", "RESTARTS", "LAST EXIT");
  for (const auto& item : items) {
    const json::object& r = item.as_object();
    if (!only_deployment.empty() && Str(r, "deployment") != only_deployment) continue;
    std::string state = Str(r, "state");
    if (r.contains("current") && r.at("current").is_bool() && !r.at("current").as_bool()) {
      state += "*";  // runs an older spec
    }
    fmt::print("{:<28} {:<24} {:<9} {:>7} {:>6} {:>8}  {}\n", Str(r, "name"), Str(r, "deployment"),
               state, Int(r, "pid") == 0 ? std::string("-") : std::to_string(Int(r, "pid")),
               Int(r, "port"), Int(r, "restarts"), Str(r, "lastExit"));
  }
}

bool IsDeploymentType(std::string_view t) {
  return t == "modeldeployments" || t == "modeldeployment" || t == "md" || t == "deployments";
}

int RunGet(const ControlFlags& f) {
  const bool replicas_only = f.type == "replicas" || f.type == "replica";
  if (!f.type.empty() && !replicas_only && !IsDeploymentType(f.type)) {
    return Fail(
        "get",
        InvalidArgument(fmt::format("unknown type '{}' (modeldeployments, replicas)", f.type)),
        kExitUsage);
  }
  if (f.output != "table" && f.output != "json") {
    return Fail("get", InvalidArgument("-o: table or json"), kExitUsage);
  }
  auto target = Locate(f);
  if (!target) return Fail("get", target.error());
  json::value deployments;
  if (!replicas_only) {
    auto r = f.name.empty()
                 ? Call(*target, http::verb::get, "/apis/brix.dev/v1alpha1/modeldeployments")
                 : Call(*target, http::verb::get, ObjectPath(f.ns, f.name));
    if (!r) return Fail("get", r.error());
    deployments = std::move(*r);
  }
  auto replicas = Call(*target, http::verb::get, "/v1/replicas");
  if (!replicas) return Fail("get", replicas.error());
  if (f.output == "json") {
    fmt::print("{}\n", json::serialize(replicas_only ? *replicas : deployments));
    return kExitOk;
  }
  if (!replicas_only) {
    json::array items =
        f.name.empty() ? deployments.as_object().at("items").as_array() : json::array{deployments};
    PrintDeployments(items);
    if (!f.type.empty()) return kExitOk;
    fmt::print("\n");
  }
  PrintReplicas(replicas->as_object().at("items").as_array(), f.name);
  return kExitOk;
}

int RunDelete(const ControlFlags& f) {
  std::vector<std::pair<std::string, std::string>> keys;
  if (!f.files.empty()) {
    auto manifests = ReadManifests(f.files);
    if (!manifests) return Fail("delete", manifests.error(), kExitUsage);
    for (const auto& m : *manifests) keys.emplace_back(m.key.ns, m.key.name);
  } else if (IsDeploymentType(f.type) && !f.name.empty()) {
    keys.emplace_back(f.ns, f.name);
  } else {
    return Fail("delete", InvalidArgument("want `delete modeldeployment NAME` or `delete -f FILE`"),
                kExitUsage);
  }
  auto target = Locate(f);
  if (!target) return Fail("delete", target.error());
  for (const auto& [ns, name] : keys) {
    auto r = Call(*target, http::verb::delete_, ObjectPath(ns, name));
    if (!r) return Fail("delete", r.error());
    fmt::print("modeldeployment/{} deleted (its replicas drain)\n", name);
  }
  return kExitOk;
}

int RunDescribe(const ControlFlags& f) {
  if (!IsDeploymentType(f.type) || f.name.empty()) {
    return Fail("describe", InvalidArgument("want `describe modeldeployment NAME`"), kExitUsage);
  }
  auto target = Locate(f);
  if (!target) return Fail("describe", target.error());
  auto o = Call(*target, http::verb::get, ObjectPath(f.ns, f.name));
  if (!o) return Fail("describe", o.error());
  auto replicas = Call(*target, http::verb::get, "/v1/replicas");
  if (!replicas) return Fail("describe", replicas.error());
  const json::object& obj = o->as_object();
  const json::object& meta = Obj(obj, "metadata");
  const json::object& spec = Obj(obj, "spec");
  const json::object& status = Obj(obj, "status");
  fmt::print("Name:             {}\n", Str(meta, "name"));
  fmt::print("Namespace:        {}\n", Str(meta, "namespace"));
  fmt::print("Model:            {}\n", Str(spec, "model"));
  fmt::print("Created:          {}\n", Str(meta, "creationTimestamp"));
  fmt::print("Generation:       {} (observed {})\n", Int(meta, "generation"),
             Int(status, "observedGeneration"));
  fmt::print("Replicas:         {} desired, {} ready, {} up to date\n",
             spec.contains("replicas") ? Int(spec, "replicas") : 1, Int(status, "readyReplicas"),
             Int(status, "updatedReplicas"));
  fmt::print("Spec:             {}\n", json::serialize(spec));
  fmt::print("\n");
  PrintReplicas(replicas->as_object().at("items").as_array(), f.name);
  return kExitOk;
}

void CommonFlags(CLI::App* app, ControlFlags& f) {
  app->add_option("--state-dir", f.state_dir, "the state directory of `brix up`")
      ->capture_default_str();
  app->add_option("--controller", f.controller,
                  "the controller's admin API, http://HOST:PORT (default $BRIX_CONTROLLER_URL, "
                  "else <state-dir>/up.json)");
  app->add_option("--token-file", f.token_file,
                  "file holding the admin token (default <state-dir>/admin-token, then "
                  "$BRIX_ADMIN_TOKEN)");
  app->add_option("-n,--namespace", f.ns, "namespace")->capture_default_str();
}

}  // namespace

std::vector<Command> AddControlCommands(CLI::App& root) {
  std::vector<Command> out;
  {
    auto f = std::make_shared<ControlFlags>();
    CLI::App* app = root.add_subcommand(
        "apply", "Create or update objects from manifests (checked here, with file and line)");
    CommonFlags(app, *f);
    app->add_option("-f,--file", f->files, "manifest file, - for stdin (repeatable)")->required();
    out.push_back({app, [f] { return RunApply(*f); }});
  }
  {
    auto f = std::make_shared<ControlFlags>();
    CLI::App* app =
        root.add_subcommand("get", "List model deployments and their replicas (or one kind)");
    CommonFlags(app, *f);
    app->add_option("type", f->type, "modeldeployments (md) or replicas; default both");
    app->add_option("name", f->name, "one object");
    app->add_option("-o,--output", f->output, "table or json")->capture_default_str();
    out.push_back({app, [f] { return RunGet(*f); }});
  }
  {
    auto f = std::make_shared<ControlFlags>();
    CLI::App* app = root.add_subcommand(
        "delete", "Delete objects (by type and name, or those of manifests); replicas drain");
    CommonFlags(app, *f);
    app->add_option("type", f->type, "modeldeployment");
    app->add_option("name", f->name, "its name");
    app->add_option("-f,--file", f->files, "delete the objects of these manifests");
    out.push_back({app, [f] { return RunDelete(*f); }});
  }
  {
    auto f = std::make_shared<ControlFlags>();
    CLI::App* app = root.add_subcommand("describe", "One object: spec, status and replicas");
    CommonFlags(app, *f);
    app->add_option("type", f->type, "modeldeployment")->required();
    app->add_option("name", f->name, "its name")->required();
    out.push_back({app, [f] { return RunDescribe(*f); }});
  }
  return out;
}

}  // namespace brix::cmd
