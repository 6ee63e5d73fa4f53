#include "api/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace brix::api {
namespace {

using ::testing::HasSubstr;

constexpr const char* kTwo = R"(apiVersion: brix.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: llama
  labels:
    model.aibrix.ai/name: llama-3.1-8b
spec:
  model: llama-3.1-8b
  replicas: 4
  engine:
    type: sim
    profile: h100/llama-3.1-8b
    args: ["--mean-output-tokens", "64"]
  readyTimeout: 30s
---
apiVersion: brix.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: qwen
  namespace: team-a
spec:
  model: qwen
  replicas: 0
  engine:
    type: command
    command: "llama-server -m /models/qwen.gguf --port {port} --alias {model}"
  resources:
    gpus: 1
---
)";

TEST(ManifestTest, ParsesEveryDocumentIntoStoreReadyObjects) {
  Result<std::vector<Manifest>> docs = ParseManifests(kTwo, "brix.yaml");
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0].key.name, "llama");
  EXPECT_EQ((*docs)[0].key.ns, "default");
  EXPECT_EQ((*docs)[1].key.ns, "team-a");
  EXPECT_EQ((*docs)[1].line, 16);
  Result<ModelDeploymentSpec> llama = ParseModelDeploymentSpec((*docs)[0].object.at("spec"));
  ASSERT_TRUE(llama) << llama.error().message;
  EXPECT_EQ(llama->model, "llama-3.1-8b");
  EXPECT_EQ(llama->replicas, 4);
  EXPECT_EQ(llama->engine.type, "sim");
  EXPECT_EQ(llama->engine.args, (std::vector<std::string>{"--mean-output-tokens", "64"}));
  EXPECT_EQ(llama->ready_timeout, std::chrono::seconds(30));
  Result<ModelDeploymentSpec> qwen = ParseModelDeploymentSpec((*docs)[1].object.at("spec"));
  ASSERT_TRUE(qwen);
  EXPECT_EQ(qwen->replicas, 0);
  EXPECT_EQ(qwen->engine.type, "command");
  EXPECT_EQ(qwen->gpus_per_replica, 1);
  // The objects pass the same checks as JSON, and the label value stayed a string.
  EXPECT_TRUE(ValidateObject((*docs)[0].object));
  EXPECT_EQ((*docs)[0].object.at("metadata").at("labels").at("model.aibrix.ai/name").as_string(),
            "llama-3.1-8b");
}

TEST(ManifestTest, BadManifestsNameTheLineAndTheField) {
  const std::string head =
      "apiVersion: brix.dev/v1alpha1\nkind: ModelDeployment\nmetadata:\n  name: m\nspec:\n";
  struct Case {
    std::string yaml;
    std::string want;
  } cases[] = {
      {"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n", "2:7: kind: unknown kind \"Pod\""},
      {"apiVersion: apps/v1\nkind: ModelDeployment\nmetadata:\n  name: m\nspec:\n  model: x\n",
       "1:13: apiVersion: ModelDeployment is brix.dev/v1alpha1"},
      {head + "  model: x\n  replicas: many\n", "7:13: spec.replicas: must be an integer from 0"},
      {head + "  model: x\n  replicas: -1\n", "spec.replicas: must be an integer"},
      {head + "  model: x\n  replica: 2\n", "7:3: spec.replica: unknown field"},
      {head + "  replicas: 2\n", "spec.model: required"},
      {head + "  model: x\n  engine:\n    type: docker\n",
       "8:11: spec.engine.type: must be sim or command"},
      {head + "  model: x\n  engine:\n    type: command\n    command: vllm serve\n",
       "spec.engine.command: must contain {port}"},
      {head + "  model: x\n  engine:\n    args: [1]\n", "spec.engine.args[0]: must be a string"},
      {head + "  model: x\n  readyTimeout: soon\n", "spec.readyTimeout"},
      {head + "  model: x\n  resources:\n    gpus: 1000\n", "spec.resources.gpus"},
      {"apiVersion: brix.dev/v1alpha1\nkind: ModelDeployment\nmetadata:\n  name: Bad_Name\nspec:\n "
       " model: x\n",
       "4:9: metadata.name: must be"},
      {"apiVersion: brix.dev/v1alpha1\nkind: ModelDeployment\nmetadata:\n  name: m\n",
       "spec: required"},
      {head + "  model: x\n  model: y\n", "7:3: spec.model: duplicate key"},
      {head + "  model: [unclosed\n", "invalid YAML"},
      {"- a\n- b\n", "a manifest must be a mapping"},
      {"", "no objects"},
      {head + "  model: x\n---\n" + head + "  model: y\n", "appears twice"},
  };
  for (const Case& c : cases) {
    Result<std::vector<Manifest>> r = ParseManifests(c.yaml, "m.yaml");
    ASSERT_FALSE(r) << c.yaml;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_THAT(r.error().message, HasSubstr(c.want)) << c.yaml;
    EXPECT_THAT(r.error().message, ::testing::StartsWith("m.yaml")) << c.yaml;
  }
}

TEST(ManifestTest, QuotedScalarsStayStringsAndPlainOnesTakeTheirType) {
  const char* yaml = R"(apiVersion: brix.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: m
  annotations:
    quoted: "42"
spec:
  model: "123"
  replicas: "2"
)";
  Result<std::vector<Manifest>> r = ParseManifests(yaml, "q.yaml");
  ASSERT_FALSE(r);  // "2" is a string, replicas wants an integer
  EXPECT_THAT(r.error().message, HasSubstr("9:13: spec.replicas"));
  const std::string ok = std::string(yaml).substr(0, std::string(yaml).find("  replicas"));
  Result<std::vector<Manifest>> fine = ParseManifests(ok, "q.yaml");
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ((*fine)[0].object.at("spec").at("model").as_string(), "123");
  EXPECT_EQ((*fine)[0].object.at("metadata").at("annotations").at("quoted").as_string(), "42");
}

TEST(ManifestTest, NonFiniteLookingScalarsStayStringsAndTheObjectIsJson) {
  // std::from_chars reads "nan(1)" as NaN; YAML calls it a string, and JSON has no NaN.
  const char* yaml = R"(apiVersion: brix.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: m
  annotations:
    note: nan(1)
spec:
  model: m
status:
  a: nan(1)
  b: infinity
  c: 1e999
  d: 0.5
)";
  Result<std::vector<Manifest>> r = ParseManifests(yaml, "n.yaml");
  ASSERT_TRUE(r) << r.error().message;
  const boost::json::object& o = (*r)[0].object;
  EXPECT_EQ(o.at("metadata").at("annotations").at("note").as_string(), "nan(1)");
  const boost::json::object& status = o.at("status").as_object();
  EXPECT_EQ(status.at("a").as_string(), "nan(1)");
  EXPECT_EQ(status.at("b").as_string(), "infinity");
  EXPECT_EQ(status.at("c").as_string(), "1e999");
  EXPECT_EQ(status.at("d").as_double(), 0.5);
  boost::system::error_code ec;
  boost::json::parse(boost::json::serialize(o), ec);  // what `brix apply` sends
  EXPECT_FALSE(ec) << boost::json::serialize(o);
}

TEST(ManifestTest, InputsThatHungYamlCppAreRefusedAtOnce) {
  // yaml-cpp 0.7's LoadAll looped forever on this (manifest_fuzzer); documents are now split on
  // "---" lines and parsed one by one, and NUL bytes are refused.
  const std::string hang("\x2c\x01\x00\x60\x40\x00\x22\x23\x10\x7e", 10);
  Result<std::vector<Manifest>> r = ParseManifests(hang, "h.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("NUL"));
  const std::string no_nul = "- ,\x01`@\\\"#\x10~\n---\n:\n--- [\n";
  EXPECT_FALSE(ParseManifests(no_nul, "h.yaml"));
  // A separator with content after it, and a later document's error on its own line.
  Result<std::vector<Manifest>> later = ParseManifests(
      "# comment only\n--- \napiVersion: brix.dev/v1alpha1\nkind: ModelDeployment\nmetadata:\n"
      "  name: a\nspec:\n  model: a\n---\napiVersion: brix.dev/v1alpha1\nkind: ModelDeployment\n"
      "metadata:\n  name: b\nspec:\n  model: [b\n",
      "l.yaml");
  ASSERT_FALSE(later);
  // The second document starts on line 9; its unclosed list is reported at the end (line 16).
  EXPECT_THAT(later.error().message, HasSubstr("l.yaml:16:1: invalid YAML"));
}

}  // namespace
}  // namespace brix::api
