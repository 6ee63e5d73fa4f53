// The controller supervising real processes: net_echo_server (answers GET /health) stands in for
// an engine, started through the `command` engine type.
#include "controller/controller.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <thread>

#include "controller/admin.h"
#include "controller/process.h"
#include "net/client.h"
#include "net/server.h"

namespace brix::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string Manifest(int replicas, std::string_view command = BRIX_ECHO_SERVER " --port {port}",
                     std::string_view name = "echo") {
  json::object o;
  o["apiVersion"] = "brix.dev/v1alpha1";
  o["kind"] = "ModelDeployment";
  o["metadata"] = json::object{{"name", name}};
  o["spec"] = json::object{{"model", "m"},
                           {"replicas", replicas},
                           {"engine", json::object{{"type", "command"}, {"command", command}}}};
  return json::serialize(o);
}

// Waits (at most 20 s) for `done`.
template <typename F>
bool Eventually(F done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brix-controller-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = store::OpenSqliteStore(dir_ / "brix.db");
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    controller_.reset();
    // Whatever a test left running.
    for (const auto& p : FindProcesses("BRIX_CONTROLLER", Instance())) SignalGroup(p.pid, SIGKILL);
    std::filesystem::remove_all(dir_);
  }

  std::string Instance() const { return (dir_ / "brix.db").string(); }

  // A controller on the test's store, or on `store` (a wrapper of it).
  std::unique_ptr<Controller> Make(store::ObjectStore* store = nullptr) {
    ControllerOptions o;
    o.store = store != nullptr ? store : store_.get();
    o.instance = Instance();
    o.log_dir = dir_ / "logs";
    o.tick = 20ms;
    o.probe_interval = 100ms;
    o.probe_timeout = 500ms;
    o.backoff_base = 100ms;
    o.backoff_max = 400ms;
    o.drain_delay = 50ms;
    o.stop_timeout = 3s;
    auto c = Controller::Create(o);
    EXPECT_TRUE(c) << c.error().message;
    return std::move(*c);
  }

  size_t Ready(const Controller& c) {
    size_t n = 0;
    for (const auto& r : c.Replicas()) n += r.state == "ready";
    return n;
  }

  json::object Status(std::string_view name = "echo") {
    auto o = store_->Get({"ModelDeployment", "default", std::string(name)});
    if (!o || !o->object.contains("status")) return {};
    return o->object.at("status").as_object();
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::ObjectStore> store_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(ControllerTest, StartsReplicasAndPublishesThemWhenHealthy) {
  ASSERT_TRUE(store_->Create(Manifest(3)));
  controller_ = Make();
  std::vector<std::shared_ptr<const discovery::Topology>> seen;
  std::mutex mu;
  auto source = controller_->MakeSource();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(source->Start([&](std::shared_ptr<const discovery::Topology> t) {
    std::lock_guard lock(mu);
    seen.push_back(std::move(t));
  }));
  ASSERT_TRUE(Eventually([&] { return controller_->CurrentTopology()->endpoints.size() == 3; }));
  ASSERT_TRUE(Eventually([&] {
    json::object s = Status();
    return s.contains("readyReplicas") && s.at("readyReplicas").as_int64() == 3;
  }));
  auto t = controller_->CurrentTopology();
  ASSERT_EQ(t->models.size(), 1u);
  EXPECT_EQ(t->models[0].name, "m");
  for (const auto& e : t->endpoints) {
    EXPECT_EQ(e.host, "127.0.0.1");
    EXPECT_EQ(e.models, std::vector<std::string>{"m"});
    EXPECT_TRUE(e.name.starts_with("echo-")) << e.name;
  }
  source->Stop();
  {
    std::lock_guard lock(mu);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back()->endpoints.size(), 3u);
    for (size_t i = 1; i < seen.size(); ++i)
      EXPECT_GT(seen[i]->generation, seen[i - 1]->generation);
  }
  EXPECT_EQ(FindProcesses("BRIX_CONTROLLER", Instance()).size(), 3u);
  controller_->Stop(/*stop_engines=*/true);
  EXPECT_TRUE(FindProcesses("BRIX_CONTROLLER", Instance()).empty());
  // The status says so too.
  EXPECT_EQ(Status().at("readyReplicas").as_int64(), 0);
  EXPECT_EQ(Status().at("instances").as_array().size(), 0u);
}

// A store that lets a test write just before the controller's next status write lands, as a
// user's `brix apply` racing the controller's loop would.
class RacingStore final : public store::ObjectStore {
 public:
  explicit RacingStore(store::ObjectStore& inner) : inner_(inner) {}
  void BeforeNextStatusWrite(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    before_status_ = std::move(fn);
  }

  Result<store::StoredObject> Create(std::string_view json) override { return inner_.Create(json); }
  Result<store::StoredObject> Update(std::string_view json) override { return inner_.Update(json); }
  Result<store::StoredObject> UpdateStatus(const store::ObjectKey& key, uint64_t expected,
                                           boost::json::value status) override {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu_);
      fn = std::exchange(before_status_, nullptr);
    }
    if (fn) fn();
    return inner_.UpdateStatus(key, expected, std::move(status));
  }
  Result<store::StoredObject> Delete(const store::ObjectKey& key, uint64_t expected) override {
    return inner_.Delete(key, expected);
  }
  Result<store::StoredObject> Get(const store::ObjectKey& key) override { return inner_.Get(key); }
  Result<std::vector<store::StoredObject>> List(std::string_view kind, std::string_view ns,
                                                uint64_t* version) override {
    return inner_.List(kind, ns, version);
  }
  Result<std::vector<store::WatchEvent>> EventsSince(uint64_t since, size_t limit) override {
    return inner_.EventsSince(since, limit);
  }
  Result<uint64_t> CurrentVersion() override { return inner_.CurrentVersion(); }
  bool WaitForChange(uint64_t since, std::chrono::milliseconds timeout) override {
    return inner_.WaitForChange(since, timeout);
  }

 private:
  store::ObjectStore& inner_;
  std::mutex mu_;
  std::function<void()> before_status_;
};

TEST_F(ControllerTest, ASpecChangeWrittenAsTheStatusIsWrittenIsNotLost) {
  ASSERT_TRUE(store_->Create(Manifest(1)));
  RacingStore racing(*store_);
  controller_ = Make(&racing);
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 1; }));
  // A spec change (another command) makes the controller start a replica and write a status.
  // Just before that write lands, the user applies 2 replicas of the first spec: that write is
  // newer than what the controller read, and its own status write after it must not hide it.
  std::atomic<bool> raced = false;
  racing.BeforeNextStatusWrite([&] {
    EXPECT_TRUE(store_->Update(Manifest(2)));
    raced = true;
  });
  ASSERT_TRUE(store_->Update(Manifest(1, BRIX_ECHO_SERVER " --port {port} --workers 1")));
  ASSERT_TRUE(Eventually([&] { return raced.load(); }));
  // Two replicas of the first spec, ready (the lost update would leave one of the other spec).
  EXPECT_TRUE(Eventually([&] {
    json::object s = Status();
    return s.contains("updatedReplicas") && s.at("updatedReplicas").as_int64() == 2 &&
           s.at("readyReplicas").as_int64() == 2 && s.at("replicas").as_int64() == 2;
  })) << json::serialize(Status());
  controller_->Stop(true);
  controller_.reset();
}

TEST_F(ControllerTest, ScalesDownByDrainingAndUp) {
  auto made = store_->Create(Manifest(3));
  ASSERT_TRUE(made);
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 3; }));
  ASSERT_TRUE(store_->Update(Manifest(1)));
  controller_->Poke();
  ASSERT_TRUE(Eventually([&] { return controller_->Replicas().size() == 1; }));
  EXPECT_EQ(controller_->CurrentTopology()->endpoints.size(), 1u);
  ASSERT_TRUE(Eventually([&] { return FindProcesses("BRIX_CONTROLLER", Instance()).size() == 1; }));
  ASSERT_TRUE(store_->Update(Manifest(2)));
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 2; }));
  controller_->Stop(true);
}

TEST_F(ControllerTest, RestartsAKilledEngineAndTakesItOutOfRotationAtOnce) {
  ASSERT_TRUE(store_->Create(Manifest(2)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 2; }));
  const ReplicaInfo victim = controller_->Replicas()[0];
  ::kill(victim.pid, SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : controller_->CurrentTopology()->endpoints) {
      if (e.name == victim.name && e.port == victim.port) return false;
    }
    return true;
  }));
  ASSERT_TRUE(Eventually([&] {
    for (const auto& r : controller_->Replicas()) {
      if (r.name == victim.name) return r.state == "ready" && r.pid != victim.pid;
    }
    return false;
  }));
  for (const auto& r : controller_->Replicas()) {
    if (r.name == victim.name) {
      EXPECT_EQ(r.restarts, 1);
      EXPECT_EQ(r.last_exit, "killed by signal 9 (Killed)");
    }
  }
  EXPECT_EQ(FindProcesses("BRIX_CONTROLLER", Instance()).size(), 2u);
  controller_->Stop(true);
}

TEST_F(ControllerTest, ANewControllerAdoptsTheEnginesOfTheLastOne) {
  ASSERT_TRUE(store_->Create(Manifest(2)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 2; }));
  auto before = controller_->Replicas();
  controller_->Stop(/*stop_engines=*/false);  // as if killed: the engines keep running
  controller_.reset();
  ASSERT_EQ(FindProcesses("BRIX_CONTROLLER", Instance()).size(), 2u);

  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 2; }));
  auto after = controller_->Replicas();
  ASSERT_EQ(after.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after[i].name, before[i].name);
    EXPECT_EQ(after[i].pid, before[i].pid);
    EXPECT_EQ(after[i].port, before[i].port);
    EXPECT_TRUE(after[i].adopted);
  }
  // Nothing started twice, and adopted engines are supervised: killed, one comes back.
  EXPECT_EQ(FindProcesses("BRIX_CONTROLLER", Instance()).size(), 2u);
  ::kill(after[0].pid, SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    for (const auto& r : controller_->Replicas()) {
      if (r.name == after[0].name) return r.state == "ready" && r.pid != after[0].pid;
    }
    return false;
  }));
  EXPECT_EQ(FindProcesses("BRIX_CONTROLLER", Instance()).size(), 2u);
  controller_->Stop(true);
  EXPECT_TRUE(FindProcesses("BRIX_CONTROLLER", Instance()).empty());
}

TEST_F(ControllerTest, AdoptedEnginesOfADeletedObjectAreStopped) {
  ASSERT_TRUE(store_->Create(Manifest(1)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 1; }));
  controller_->Stop(false);
  controller_.reset();
  ASSERT_TRUE(store_->Delete({"ModelDeployment", "default", "echo"}));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return FindProcesses("BRIX_CONTROLLER", Instance()).empty(); }));
  ASSERT_TRUE(Eventually([&] { return controller_->Replicas().empty(); }));
  controller_->Stop(true);
}

TEST_F(ControllerTest, AnEngineThatKeepsExitingBacksOffAndSaysWhy) {
  ASSERT_TRUE(store_->Create(Manifest(1, "sh -c 'exit 3' {port}")));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] {
    auto r = controller_->Replicas();
    return r.size() == 1 && r[0].restarts >= 3;
  }));
  auto r = controller_->Replicas();
  EXPECT_EQ(r[0].last_exit, "exit status 3");
  EXPECT_TRUE(controller_->CurrentTopology()->endpoints.empty());
  json::object s = Status();
  EXPECT_EQ(s.at("readyReplicas").as_int64(), 0);
  controller_->Stop(true);
}

TEST_F(ControllerTest, ACommandGetsItsPortAndModelQuotedForTheShell) {
  // {model} arrives as one word whatever it holds; the engine's output goes to its log.
  json::object o =
      json::parse(Manifest(1, "sh -c 'echo \"model=[$0]\"; exec \"$@\"' {model} " BRIX_ECHO_SERVER
                              " --port {port}"))
          .as_object();
  o["spec"].as_object()["model"] = "org/it's-a-model";
  ASSERT_TRUE(store_->Create(json::serialize(o)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 1; }));
  const ReplicaInfo r = controller_->Replicas()[0];
  EXPECT_EQ(r.model, "org/it's-a-model");
  std::ifstream log(dir_ / "logs" / (r.name + ".log"));
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("model=[org/it's-a-model]"), std::string::npos) << text;
  controller_->Stop(true);
}

TEST_F(ControllerTest, AnEngineThatNeverAnswersIsKilledAtItsReadyTimeout) {
  json::object o = json::parse(Manifest(1, "sleep 600 # {port}")).as_object();
  o["spec"].as_object()["readyTimeout"] = "1s";
  ASSERT_TRUE(store_->Create(json::serialize(o)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] {
    auto r = controller_->Replicas();
    return r.size() == 1 && r[0].restarts >= 1;
  }));
  EXPECT_EQ(controller_->Replicas()[0].last_exit, "not ready within 1s");
  EXPECT_TRUE(controller_->CurrentTopology()->endpoints.empty());
  controller_->Stop(true);
  EXPECT_TRUE(FindProcesses("BRIX_CONTROLLER", Instance()).empty());
}

TEST_F(ControllerTest, ASpecChangeRollsReplicasOneAtATime) {
  ASSERT_TRUE(store_->Create(Manifest(2)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 2; }));
  const auto before = controller_->Replicas();
  ASSERT_TRUE(store_->Update(Manifest(2, BRIX_ECHO_SERVER " --port {port} --body-bytes 5")));
  size_t min_ready = 2;
  ASSERT_TRUE(Eventually([&] {
    min_ready = std::min(min_ready, controller_->CurrentTopology()->endpoints.size());
    auto now = controller_->Replicas();
    if (now.size() != 2) return false;
    for (const auto& r : now) {
      if (!r.current || r.state != "ready") return false;
      for (const auto& b : before) {
        if (b.name == r.name) return false;
      }
    }
    return true;
  }));
  EXPECT_EQ(min_ready, 2u);  // never fewer than `replicas` in rotation
  controller_->Stop(true);
}

// One admin API call; the response (status, x-brix-result, body).
net::Response Call(uint16_t port, boost::beast::http::verb method, std::string path,
                   std::string body = {}, std::string token = "0123456789abcdef-token") {
  namespace asio = boost::asio;
  net::Request request{method, path, 11};
  request.set(boost::beast::http::field::authorization, "Bearer " + token);
  request.body() = std::move(body);
  asio::io_context io;
  net::HttpClient client(io.get_executor());
  auto done = asio::co_spawn(io,
                             client.Send(net::HostPort("127.0.0.1", port), std::move(request),
                                         std::chrono::steady_clock::now() + 10s),
                             asio::use_future);
  io.run();
  auto r = done.get();
  EXPECT_TRUE(r) << r.error().message;
  return r ? std::move(*r) : net::Response{};
}

TEST_F(ControllerTest, TheAdminApiAppliesChecksAndReports) {
  namespace http = boost::beast::http;
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  net::Server admin(net::ServerConfig{},
                    MakeAdminHandler({store_.get(), controller_.get(), "0123456789abcdef-token"}));
  auto port = admin.Start();
  ASSERT_TRUE(port);
  const std::string path = "/apis/brix.dev/v1alpha1/namespaces/default/modeldeployments/echo";

  EXPECT_EQ(Call(*port, http::verb::get, "/v1/replicas", "", "wrong").result_int(), 401);
  net::Response made = Call(*port, http::verb::put, path, Manifest(1));
  EXPECT_EQ(made.result_int(), 201) << made.body();
  EXPECT_EQ(made["x-brix-result"], "created");
  net::Response same = Call(*port, http::verb::put, path, Manifest(1));
  EXPECT_EQ(same.result_int(), 200);
  EXPECT_EQ(same["x-brix-result"], "unchanged");
  net::Response changed = Call(*port, http::verb::put, path, Manifest(2));
  EXPECT_EQ(changed["x-brix-result"], "configured");
  EXPECT_TRUE(Eventually([&] { return Ready(*controller_) == 2; }));

  // A stale resourceVersion loses (Kubernetes' 409); a body for another name is refused.
  json::object stale = json::parse(Manifest(3)).as_object();
  stale["metadata"].as_object()["resourceVersion"] = "1";
  net::Response conflict = Call(*port, http::verb::put, path, json::serialize(stale));
  EXPECT_EQ(conflict.result_int(), 409) << conflict.body();
  net::Response elsewhere =
      Call(*port, http::verb::put,
           "/apis/brix.dev/v1alpha1/namespaces/default/modeldeployments/other", Manifest(1));
  EXPECT_EQ(elsewhere.result_int(), 400);
  EXPECT_NE(elsewhere.body().find("the path names"), std::string::npos) << elsewhere.body();
  net::Response bad = Call(*port, http::verb::put, path,
                           R"({"apiVersion":"brix.dev/v1alpha1","kind":"ModelDeployment",)"
                           R"("metadata":{"name":"echo"},"spec":{"model":"m","replicas":"2"}})");
  EXPECT_EQ(bad.result_int(), 400);
  EXPECT_NE(bad.body().find("spec.replicas: must be an integer"), std::string::npos) << bad.body();
  EXPECT_EQ(Call(*port, http::verb::put, path, "not json").result_int(), 400);

  net::Response list = Call(*port, http::verb::get, "/apis/brix.dev/v1alpha1/modeldeployments");
  json::object l = json::parse(list.body()).as_object();
  EXPECT_EQ(l.at("kind").as_string(), "ModelDeploymentList");
  ASSERT_EQ(l.at("items").as_array().size(), 1u);
  EXPECT_TRUE(Eventually([&] {
    json::object o = json::parse(Call(*port, http::verb::get, path).body()).as_object();
    return o.contains("status") && o.at("status").at("readyReplicas").as_int64() == 2;
  }));
  json::object replicas =
      json::parse(Call(*port, http::verb::get, "/v1/replicas").body()).as_object();
  EXPECT_EQ(replicas.at("items").as_array().size(), 2u);

  EXPECT_EQ(Call(*port, http::verb::delete_, path).result_int(), 200);
  EXPECT_EQ(Call(*port, http::verb::get, path).result_int(), 404);
  EXPECT_EQ(Call(*port, http::verb::delete_, path).result_int(), 404);
  EXPECT_TRUE(Eventually([&] { return controller_->Replicas().empty(); }));
  EXPECT_EQ(Call(*port, http::verb::post, "/v1/replicas").result_int(), 405);
  EXPECT_EQ(Call(*port, http::verb::get, "/nowhere").result_int(), 404);
  admin.Stop();
  controller_->Stop(true);
}

// A gateway in another process: the controller's watch API through discovery's controller
// source, across an engine's death and a controller restart on the same port.
TEST_F(ControllerTest, ARemoteSourceFollowsTheControllerAcrossItsRestart) {
  ASSERT_TRUE(store_->Create(Manifest(2)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  const std::string token = "0123456789abcdef-token";
  auto admin = std::make_unique<net::Server>(
      net::ServerConfig{}, MakeAdminHandler({store_.get(), controller_.get(), token}));
  auto port = admin->Start();
  ASSERT_TRUE(port) << port.error().message;
  ASSERT_TRUE(Eventually([&] { return Ready(*controller_) == 2; }));

  auto refused = discovery::MakeControllerSource({.port = *port, .token = "wrong-token-xxxx"});
  ASSERT_TRUE(refused);
  auto no = (*refused)->Start([](std::shared_ptr<const discovery::Topology>) {});
  ASSERT_FALSE(no);
  EXPECT_EQ(no.error().code, Errc::kUnauthenticated);

  auto source = discovery::MakeControllerSource({.port = *port, .token = token});
  ASSERT_TRUE(source);
  std::mutex mu;
  std::shared_ptr<const discovery::Topology> latest;
  ASSERT_TRUE((*source)->Start([&](std::shared_ptr<const discovery::Topology> t) {
    std::lock_guard lock(mu);
    latest = std::move(t);
  }));
  auto endpoints = [&] {
    std::lock_guard lock(mu);
    return latest ? latest->endpoints : std::vector<discovery::Endpoint>{};
  };
  EXPECT_EQ(endpoints().size(), 2u);

  const ReplicaInfo victim = controller_->Replicas()[0];
  ::kill(victim.pid, SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : endpoints()) {
      if (e.port == victim.port) return false;
    }
    return true;
  }));

  // The controller goes away (its engines stay) and a new one starts on the same port, told
  // meanwhile to run three.
  admin->Stop();
  controller_->Stop(false);
  controller_.reset();
  ASSERT_TRUE(store_->Update(Manifest(3)));
  controller_ = Make();
  ASSERT_TRUE(controller_->Start());
  net::ServerConfig same;
  same.port = *port;
  admin = std::make_unique<net::Server>(same,
                                        MakeAdminHandler({store_.get(), controller_.get(), token}));
  ASSERT_TRUE(admin->Start());
  ASSERT_TRUE(Eventually([&] { return endpoints().size() == 3; }));
  (*source)->Stop();
  admin->Stop();
  controller_->Stop(true);
}

}  // namespace
}  // namespace brix::controller
