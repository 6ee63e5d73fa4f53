// `brix up`: the whole system on one machine: the object store, the controller with its engine
// processes, the controller's admin API and the gateway, in one process with the engines as
// children (controller/controller.h).
#include <fcntl.h>
#include <fmt/core.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>

#include "api/api.h"
#include "base/logging.h"
#include "cmd/commands.h"
#include "config/units.h"
#include "controller/admin.h"
#include "controller/controller.h"
#include "gateway/gateway.h"
#include "metrics/registry.h"
#include "net/server.h"
#include "store/store.h"

namespace brix::cmd {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// What `brix up` runs without -f, and on a later start with an empty store.
constexpr std::string_view kDefaultManifest = R"(apiVersion: brix.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: llama-3.1-8b
spec:
  model: llama-3.1-8b
  replicas: 4
  engine:
    type: sim
    profile: h100/llama-3.1-8b
)";

struct UpFlags {
  std::string file;
  std::string state_dir = ".brix";
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  uint16_t admin_port = 0;
  int workers = 2;
  std::string routing_strategy;
  std::string tokenizer;
  std::string drain_timeout = "30s";
  std::string log_level = "warn";
};

// The admin token in <state>/admin-token (0600), made on first use.
Result<std::string> StateToken(const fs::path& file) {
  std::ifstream in(file);
  if (in) {
    std::string token((std::istreambuf_iterator<char>(in)), {});
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
      token.pop_back();
    }
    if (token.size() >= 16) return token;
  }
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Error{Errc::kInternal, "no random bytes"};
  std::string token;
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{Errc::kUnavailable, fmt::format("cannot write {}", file.string())};
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Error{Errc::kUnavailable, fmt::format("cannot write {}", file.string())};
  return token;
}

std::string Age(int64_t since_unix_ms) {
  if (since_unix_ms == 0) return "-";
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t s = std::max<int64_t>(0, (now - since_unix_ms) / 1000);
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200) return fmt::format("{}m", s / 60);
  return fmt::format("{}h", s / 3600);
}

void PrintTable(const std::vector<controller::ReplicaInfo>& replicas) {
  fmt::print("  {:<24} {:<28} {:<9} {:>7} {:>6} {:>8} {:>5}\n", "MODEL", "REPLICA", "STATE", "PID",
             "PORT", "RESTARTS", "AGE");
  for (const auto& r : replicas) {
    fmt::print("  {:<24} {:<28} {:<9} {:>7} {:>6} {:>8} {:>5}\n", r.model, r.name, r.state,
               r.pid == 0 ? std::string("-") : std::to_string(r.pid), r.port, r.restarts,
               Age(r.started_unix_ms));
  }
  std::fflush(stdout);
}

int RunUp(UpFlags& f) {
  if (auto logging = base::InitLogging({.level = f.log_level}); !logging) {
    fmt::print(stderr, "brix up: --log-level: {}\n", logging.error().message);
    return kExitUsage;
  }
  auto drain = config::ParseDuration(f.drain_timeout);
  if (!drain || drain->count() <= 0) {
    fmt::print(stderr, "brix up: --drain-timeout: {}\n",
               drain ? "must be positive" : drain.error().message);
    return kExitUsage;
  }
  // Manifests first: a bad file fails before anything starts.
  std::vector<api::Manifest> manifests;
  if (!f.file.empty()) {
    std::ifstream in(f.file);
    if (!in) {
      fmt::print(stderr, "brix up: -f: cannot read {}\n", f.file);
      return kExitUsage;
    }
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto parsed = api::ParseManifests(text, f.file);
    if (!parsed) {
      fmt::print(stderr, "brix up: {}\n", parsed.error().message);
      return kExitUsage;
    }
    manifests = std::move(*parsed);
  }

  const fs::path state = fs::absolute(f.state_dir);
  std::error_code ec;
  fs::create_directories(state, ec);
  fs::permissions(state, fs::perms::owner_all, fs::perm_options::replace, ec);
  // One `brix up` per state directory: two controllers would fight over the same engines.
  const int lock = ::open((state / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    fmt::print(stderr, "brix up: another brix up is running with state directory {}\n",
               state.string());
    return kExitFailure;
  }
  auto token = StateToken(state / "admin-token");
  if (!token) {
    fmt::print(stderr, "brix up: {}\n", token.error().message);
    return kExitFailure;
  }
  auto store = store::OpenSqliteStore(state / "brix.db");
  if (!store) {
    fmt::print(stderr, "brix up: {}\n", store.error().message);
    return kExitFailure;
  }
  if (manifests.empty()) {
    auto existing = (*store)->List("ModelDeployment", "");
    if (existing && existing->empty())
      manifests = *api::ParseManifests(kDefaultManifest, "default");
  }
  for (const auto& m : manifests) {
    auto applied = controller::Apply(**store, m.object);
    if (!applied) {
      fmt::print(stderr, "brix up: {} {}: {}\n", m.key.kind, m.key.name, applied.error().message);
      return kExitFailure;
    }
    fmt::print("brix up: modeldeployment/{} {}\n", m.key.name, applied->result);
  }

  RaiseOpenFileLimit();
  ShutdownSignals signals;

  controller::ControllerOptions co;
  co.store = store->get();
  co.instance = (state / "brix.db").string();
  co.log_dir = state / "logs";
  co.brix_binary = fs::read_symlink("/proc/self/exe", ec);
  co.on_event = [](const std::string& text) {
    fmt::print("brix up: {}\n", text);
    std::fflush(stdout);
  };
  auto ctl = controller::Controller::Create(co);
  if (!ctl) {
    fmt::print(stderr, "brix up: {}\n", ctl.error().message);
    return kExitFailure;
  }
  if (auto started = (*ctl)->Start(); !started) {
    fmt::print(stderr, "brix up: {}\n", started.error().message);
    return kExitFailure;
  }

  net::ServerConfig admin_config;
  admin_config.address = "127.0.0.1";
  admin_config.port = f.admin_port;
  admin_config.workers = 1;
  admin_config.drain_timeout = std::chrono::seconds(1);
  net::Server admin(admin_config,
                    controller::MakeAdminHandler(
                        {.store = store->get(), .controller = ctl->get(), .token = *token}));
  auto admin_port = admin.Start();
  if (!admin_port) {
    fmt::print(stderr, "brix up: admin API on 127.0.0.1:{}: {}\n", f.admin_port,
               admin_port.error().message);
    (*ctl)->Stop(true);
    return kExitFailure;
  }

  gateway::GatewayOptions go;
  go.server.address = f.host;
  go.server.port = f.port;
  go.server.workers = f.workers;
  go.server.max_connections = 100000;
  go.server.drain_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*drain);
  // Brix's own policy routes on token ids; without a tokenizer, least-request.
  std::string tokenizer = f.tokenizer;
  if (tokenizer.empty() && fs::exists(fs::path(BRIX_DEFAULT_TOKENIZER_CACHE) / "llama3")) {
    tokenizer = (fs::path(BRIX_DEFAULT_TOKENIZER_CACHE) / "llama3").string();
  }
  go.tokenizer_dir = tokenizer;
  go.default_routing_strategy = !f.routing_strategy.empty() ? f.routing_strategy
                                : tokenizer.empty()         ? "least-request"
                                                            : "brix";
  metrics::Registry registry;
  auto g = gateway::Gateway::Create(go, registry, (*ctl)->MakeSource());
  Result<uint16_t> port = g ? (*g)->Start() : Result<uint16_t>(g.error());
  if (!port) {
    fmt::print(stderr, "brix up: gateway: {}\n", port.error().message);
    admin.Stop();
    (*ctl)->Stop(true);
    return kExitFailure;
  }
  const std::string gateway_url = fmt::format("http://{}:{}", f.host, *port);
  const std::string admin_url = fmt::format("http://127.0.0.1:{}", *admin_port);
  {
    json::object up{{"gateway", gateway_url},
                    {"admin", admin_url},
                    {"pid", ::getpid()},
                    {"tokenFile", (state / "admin-token").string()}};
    std::ofstream out(state / "up.json", std::ios::trunc);
    out << json::serialize(up) << "\n";
  }
  fmt::print(
      "brix up: gateway  {}  (OpenAI API; routing {})\n"
      "brix up: admin    {}  (brix get / apply -f / delete / describe; state in {})\n",
      gateway_url, go.default_routing_strategy, admin_url, state.string());
  std::fflush(stdout);

  // The table: once every replica has settled (none starting or draining), and again whenever
  // the set of replicas or their states settle differently.
  std::atomic<bool> done{false};
  std::mutex mu;
  std::condition_variable cv;
  std::thread printer([&] {
    std::string last;
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return done.load(); })) {
      auto replicas = (*ctl)->Replicas();
      std::string summary;
      bool settled = !replicas.empty();
      for (const auto& r : replicas) {
        summary += r.name + "=" + r.state + ";";
        settled = settled && r.state != "starting" && r.state != "draining";
      }
      if (!settled || summary == last) continue;
      last = summary;
      fmt::print("\n");
      PrintTable(replicas);
      fmt::print(
          "\n  try: curl {}/v1/chat/completions -H 'content-type: application/json' -d "
          "'{{\"model\":\"{}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hi\"}}]}}'\n"
          "  Ctrl-C drains and stops everything.\n\n",
          gateway_url, replicas.front().model);
      std::fflush(stdout);
    }
  });

  signals.Wait("up");
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  printer.join();
  // In order: the gateway finishes what it is serving, then the engines drain and stop.
  (*g)->Stop();
  fmt::print("brix up: gateway stopped; stopping engines\n");
  std::fflush(stdout);
  (*ctl)->Stop(/*stop_engines=*/true);
  admin.Stop();
  fs::remove(state / "up.json", ec);
  fmt::print("brix up: stopped\n");
  ::close(lock);
  return kExitOk;
}

}  // namespace

Command AddUpCommand(CLI::App& root) {
  auto flags = std::make_shared<UpFlags>();
  CLI::App* app = root.add_subcommand(
      "up",
      "Run the whole system on this machine: controller, engines (child processes) and gateway; "
      "without -f, four simulated Llama-3.1-8B replicas on the H100 profile");
  app->add_option("-f,--file", flags->file,
                  "manifests to apply at start (ModelDeployment, ...); without it, what the state "
                  "directory holds, or the built-in default when that is empty");
  app->add_option("--state-dir", flags->state_dir,
                  "where objects (SQLite), engine logs and the admin token live")
      ->capture_default_str();
  app->add_option("--host", flags->host, "gateway address")->capture_default_str();
  app->add_option("--port", flags->port, "gateway port (0 = any free port)")->capture_default_str();
  app->add_option("--admin-port", flags->admin_port,
                  "port of the controller's admin API on 127.0.0.1 (0 = any free port)")
      ->capture_default_str();
  app->add_option("--workers", flags->workers, "gateway worker threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app->add_option("--routing-strategy", flags->routing_strategy,
                  "gateway policy when the model names none (default: brix with a tokenizer, "
                  "else least-request)");
  app->add_option("--tokenizer", flags->tokenizer,
                  "directory with tokenizer.json for token-aware routing (default: the fetched "
                  "llama3 one, if present)");
  app->add_option("--drain-timeout", flags->drain_timeout,
                  "on Ctrl-C, how long the gateway's requests get to finish")
      ->capture_default_str();
  app->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  return Command{app, [flags] { return RunUp(*flags); }};
}

}  // namespace brix::cmd
