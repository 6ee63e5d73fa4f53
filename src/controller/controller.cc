#include "controller/controller.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "base/logging.h"
#include "config/units.h"
#include "controller/plan.h"
#include "controller/process.h"
#include "net/client.h"

namespace brix::controller {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string SpecHash(const api::ModelDeploymentSpec& spec) {
  // Length-prefixed fields, so that no two specs serialise alike.
  std::string text;
  auto add = [&](std::string_view field) { text += fmt::format("{}:{};", field.size(), field); };
  add(spec.model);
  add(spec.engine.type);
  add(spec.engine.profile);
  add(spec.engine.command);
  for (const auto& a : spec.engine.args) add(a);
  add(std::to_string(spec.gpus_per_replica));
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

namespace {

enum class Phase { kStarting, kReady, kUnready, kBackoff, kDraining };

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kStarting:
      return "starting";
    case Phase::kReady:
      return "ready";
    case Phase::kUnready:
      return "unready";
    case Phase::kBackoff:
      return "backoff";
    case Phase::kDraining:
      return "draining";
  }
  return "?";
}

struct Deployment {
  store::ObjectKey key;
  int64_t generation = 0;
  api::ModelDeploymentSpec spec;
  std::string hash;
};

struct Replica {
  std::string ns;
  std::string deployment;
  std::string name;
  uint64_t sequence = 0;
  api::ModelDeploymentSpec spec;  // what its process runs
  bool spec_known = false;        // false for an adopted one whose object's spec has changed
  std::string hash;
  Phase phase = Phase::kStarting;
  pid_t pid = 0;
  uint64_t start_ticks = 0;
  bool child = false;  // ours to reap; adopted processes are polled through /proc
  bool adopted = false;
  uint16_t port = 0;
  Clock::time_point started{};
  Clock::time_point ready_since{};
  Clock::time_point restart_at{};
  Clock::time_point term_at{};  // draining: when SIGTERM goes
  Clock::time_point kill_at{};  // draining: when SIGKILL goes (after SIGTERM)
  bool term_sent = false;
  int64_t started_unix_ms = 0;
  int restarts = 0;
  int crashes_in_row = 0;
  int failed_probes = 0;
  bool probing = false;
  Clock::time_point next_probe{};
  std::string last_exit;
  std::string kill_reason;  // why the controller killed it, reported instead of "signal 9"
  std::string log_file;
};

// A free TCP port on `host` for an engine to listen on (the kernel's pick; another process could
// take it before the engine binds, in which case the engine exits and is restarted on another).
Result<uint16_t> FreePort(const std::string& host) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{Errc::kUnavailable, "socket() failed"};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return InvalidArgument(fmt::format("engine host must be an IPv4 address, not {}", host));
  }
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Error{Errc::kUnavailable, fmt::format("no free port on {}", host)};
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// `text` as one shell word.
std::string ShellQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  constexpr std::string_view kChars = "bcdfghjklmnpqrstvwxz2456789";  // as Kubernetes' names
  std::string out;
  for (int i = 0; i < 5; ++i) out += kChars[rng() % kChars.size()];
  return out;
}

int64_t UnixMillis() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string KeyString(const std::string& ns, const std::string& name) { return ns + "/" + name; }

}  // namespace

struct Controller::Impl {
  ControllerOptions options;
  std::shared_ptr<spdlog::logger> log = base::Logger("controller");
  std::string epoch = RandomSuffix() + RandomSuffix();
  asio::io_context io;
  std::thread thread;
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> stop_engines{false};
  std::atomic<bool> poked{false};

  // Controller thread only.
  std::unique_ptr<net::HttpClient> client;
  std::map<std::string, Deployment> deployments;  // by ns/name
  std::vector<std::unique_ptr<Replica>> replicas;
  uint64_t next_sequence = 1;
  uint64_t seen_version = UINT64_MAX;
  std::map<std::string, std::string> written_status;  // ns/name -> serialized status
  std::map<std::string, int> stored_restarts;         // replica name -> restarts, from status
  std::set<std::string> reported_bad;                 // objects whose spec was refused

  // Shared with other threads.
  mutable std::mutex mu;
  std::vector<ReplicaInfo> snapshot;
  std::shared_ptr<const discovery::Topology> topology =
      std::make_shared<discovery::Topology>(discovery::Topology{.generation = 1});
  // Sources of in-process gateways; called under `subscribers_mu`, so calls never overlap.
  std::mutex subscribers_mu;
  std::map<int, discovery::Source::Callback> subscribers;
  int next_subscriber = 1;

  void Event(const std::string& text) {
    log->info("{}", text);
    if (options.on_event) options.on_event(text);
  }

  std::string LogFile(const std::string& name) const {
    return (options.log_dir / (name + ".log")).string();
  }

  void LoadStoredRestarts() {
    Result<std::vector<store::StoredObject>> objects = options.store->List("ModelDeployment", "");
    if (!objects) return;
    for (const auto& o : *objects) {
      const json::value* status = o.object.if_contains("status");
      if (status == nullptr || !status->is_object()) continue;
      const json::value* instances = status->as_object().if_contains("instances");
      if (instances == nullptr || !instances->is_array()) continue;
      for (const json::value& i : instances->as_array()) {
        if (!i.is_object()) continue;
        const json::object& io_ = i.as_object();
        const json::value* name = io_.if_contains("name");
        const json::value* restarts = io_.if_contains("restarts");
        if (name && name->is_string() && restarts && restarts->is_int64()) {
          stored_restarts[std::string(name->as_string())] = static_cast<int>(restarts->as_int64());
        }
      }
    }
  }

  // Engines a previous controller of this instance left running.
  void Adopt() {
    std::vector<FoundProcess> found = FindProcesses("BRIX_CONTROLLER", options.instance);
    std::set<pid_t> marked;
    for (const auto& f : found) marked.insert(f.pid);
    std::map<std::string, std::vector<FoundProcess>> by_replica;
    for (auto& f : found) {
      if (marked.contains(f.ppid)) continue;  // an engine's own worker
      auto it = f.env.find("BRIX_REPLICA");
      if (it == f.env.end()) continue;
      by_replica[it->second].push_back(std::move(f));
    }
    for (auto& [id, procs] : by_replica) {
      std::sort(procs.begin(), procs.end(),
                [](const auto& a, const auto& b) { return a.start_ticks < b.start_ticks; });
      // Two processes for one replica (should not happen): the oldest stays.
      for (size_t i = 1; i < procs.size(); ++i) {
        Event(fmt::format("{}: a second process (pid {}) stopped", id, procs[i].pid));
        SignalGroup(procs[i].pid, SIGKILL);
      }
      const FoundProcess& p = procs.front();
      const size_t slash1 = id.find('/');
      const size_t slash2 = id.find('/', slash1 + 1);
      if (slash1 == std::string::npos || slash2 == std::string::npos) continue;
      auto r = std::make_unique<Replica>();
      r->ns = id.substr(0, slash1);
      r->deployment = id.substr(slash1 + 1, slash2 - slash1 - 1);
      r->name = id.substr(slash2 + 1);
      r->pid = p.pid;
      r->start_ticks = p.start_ticks;
      r->adopted = true;
      r->phase = Phase::kStarting;
      r->started = Clock::now();
      r->started_unix_ms = StartTicksToUnixMs(p.start_ticks);
      r->log_file = LogFile(r->name);
      auto env = [&](const char* key) {
        auto it = p.env.find(key);
        return it == p.env.end() ? std::string() : it->second;
      };
      r->hash = env("BRIX_SPEC_HASH");
      r->spec.model = env("BRIX_MODEL");
      try {
        r->port = static_cast<uint16_t>(std::stoul(env("BRIX_REPLICA_PORT")));
        r->sequence = std::stoull(env("BRIX_REPLICA_SEQUENCE"));
      } catch (...) {
        SignalGroup(p.pid, SIGKILL);
        continue;
      }
      next_sequence = std::max(next_sequence, r->sequence + 1);
      if (auto it = stored_restarts.find(r->name); it != stored_restarts.end()) {
        r->restarts = it->second;
      }
      Event(fmt::format("{} adopted (pid {}, port {})", r->name, r->pid, r->port));
      replicas.push_back(std::move(r));
    }
  }

  // Starts (or restarts) `r`'s process.
  void Spawn(Replica& r) {
    Result<uint16_t> port = FreePort(options.host);
    if (!port) {
      r.last_exit = port.error().message;
      Crashed(r);
      return;
    }
    r.port = *port;
    std::vector<std::string> argv;
    if (r.spec.engine.type == "command") {
      std::string command = ReplaceAll(r.spec.engine.command, "{port}", std::to_string(r.port));
      command = ReplaceAll(command, "{model}", ShellQuote(r.spec.model));
      argv = {"/bin/sh", "-c", "exec " + command};
    } else {
      argv = {options.brix_binary.string(),
              "sim",
              "--host",
              options.host,
              "--port",
              std::to_string(r.port),
              "--model",
              r.spec.model,
              "--profile",
              r.spec.engine.profile};
      argv.insert(argv.end(), r.spec.engine.args.begin(), r.spec.engine.args.end());
    }
    SpawnOptions spawn;
    spawn.argv = std::move(argv);
    spawn.env = {{"BRIX_CONTROLLER", options.instance},
                 {"BRIX_REPLICA", fmt::format("{}/{}/{}", r.ns, r.deployment, r.name)},
                 {"BRIX_REPLICA_PORT", std::to_string(r.port)},
                 {"BRIX_REPLICA_SEQUENCE", std::to_string(r.sequence)},
                 {"BRIX_SPEC_HASH", r.hash},
                 {"BRIX_MODEL", r.spec.model}};
    spawn.log_file = r.log_file;
    Result<pid_t> pid = SpawnProcess(spawn);
    if (!pid) {
      r.last_exit = pid.error().message;
      Crashed(r);
      return;
    }
    r.pid = *pid;
    r.child = true;
    r.adopted = false;
    r.start_ticks = ProcessStartTicks(*pid).value_or(0);
    r.phase = Phase::kStarting;
    r.started = Clock::now();
    r.started_unix_ms = UnixMillis();
    r.failed_probes = 0;
    r.next_probe = r.started;
    Event(fmt::format("{} starting on {}:{} (pid {}, log {})", r.name, options.host, r.port, r.pid,
                      r.log_file));
  }

  // `r` has no process (it ended, or never started): restart after a backoff.
  void Crashed(Replica& r) {
    r.pid = 0;
    r.child = false;
    r.probing = false;
    if (r.phase == Phase::kDraining) return;
    ++r.crashes_in_row;
    const int doublings = std::min(r.crashes_in_row - 1, 16);
    const milliseconds wait =
        std::min(options.backoff_max, milliseconds(options.backoff_base.count() << doublings));
    r.phase = Phase::kBackoff;
    r.restart_at = Clock::now() + wait;
    Event(fmt::format("{} ended ({}); restarting in {} (see {})", r.name, r.last_exit,
                      config::FormatDuration(wait), r.log_file));
  }

  void BeginDrain(Replica& r, std::string_view why, milliseconds delay) {
    if (r.phase == Phase::kDraining) return;
    r.phase = Phase::kDraining;
    r.term_at = Clock::now() + delay;
    r.term_sent = false;
    if (r.pid != 0) Event(fmt::format("{} draining ({})", r.name, why));
  }

  bool Alive(Replica& r) {
    if (r.pid == 0) return false;
    std::string how = "ended";
    if (r.child) {
      ProcessExit exit = PollChild(r.pid);
      if (!exit.exited) return true;
      how = exit.how;
    } else if (ProcessAlive(r.pid, r.start_ticks)) {
      return true;
    }
    r.last_exit = r.kill_reason.empty() ? how : r.kill_reason;
    r.kill_reason.clear();
    return false;
  }

  void ReadObjects() {
    Result<uint64_t> version = options.store->CurrentVersion();
    if (!version || *version == seen_version) return;
    Result<std::vector<store::StoredObject>> objects = options.store->List("ModelDeployment", "");
    if (!objects) {
      log->warn("reading the store: {}", objects.error().message);
      return;
    }
    seen_version = *version;
    std::map<std::string, Deployment> next;
    for (const auto& o : *objects) {
      const std::string id = KeyString(o.key.ns, o.key.name);
      const json::value* spec_json = o.object.if_contains("spec");
      Result<api::ModelDeploymentSpec> spec =
          spec_json ? api::ParseModelDeploymentSpec(*spec_json)
                    : Result<api::ModelDeploymentSpec>(InvalidArgument("spec: required"));
      if (!spec) {
        // Written by something that skipped the checks; keep what runs, say so once.
        if (reported_bad.insert(id).second) {
          Event(fmt::format("ModelDeployment {} ignored: {}", id, spec.error().message));
        }
        if (auto it = deployments.find(id); it != deployments.end()) next.emplace(id, it->second);
        continue;
      }
      reported_bad.erase(id);
      Deployment d;
      d.key = o.key;
      const json::value* gen = o.object.at("metadata").as_object().if_contains("generation");
      d.generation = gen && gen->is_int64() ? gen->as_int64() : 0;
      d.spec = std::move(*spec);
      d.hash = SpecHash(d.spec);
      next.emplace(id, std::move(d));
    }
    deployments = std::move(next);
  }

  void CheckProcesses() {
    for (auto& r : replicas) {
      if (r->pid == 0 || Alive(*r)) continue;
      if (r->phase == Phase::kDraining) {
        Event(fmt::format("{} stopped", r->name));
        r->pid = 0;
        continue;
      }
      ++r->restarts;
      Crashed(*r);
    }
    // Drained replicas without a process are gone.
    std::erase_if(replicas,
                  [](const auto& r) { return r->phase == Phase::kDraining && r->pid == 0; });
  }

  void PlanAll() {
    for (auto& r : replicas) {
      if (!deployments.contains(KeyString(r->ns, r->deployment))) {
        BeginDrain(*r, "its ModelDeployment was deleted", options.drain_delay);
      }
    }
    for (auto& [id, d] : deployments) {
      std::vector<PlanReplica> view;
      for (const auto& r : replicas) {
        if (r->ns != d.key.ns || r->deployment != d.key.name) continue;
        view.push_back({r->name, r->hash, r->sequence, r->phase == Phase::kReady,
                        r->phase == Phase::kDraining});
      }
      controller::Plan plan = PlanDeployment(d.spec.replicas, d.hash, view);
      for (const std::string& name : plan.drain) {
        for (auto& r : replicas) {
          if (r->name == name) BeginDrain(*r, "scaled down or replaced", options.drain_delay);
        }
      }
      for (int64_t i = 0; i < plan.create; ++i) {
        auto r = std::make_unique<Replica>();
        r->ns = d.key.ns;
        r->deployment = d.key.name;
        r->name = fmt::format("{}-{}", d.key.name, RandomSuffix());
        r->sequence = next_sequence++;
        r->spec = d.spec;
        r->spec_known = true;
        r->hash = d.hash;
        r->log_file = LogFile(r->name);
        Spawn(*r);
        replicas.push_back(std::move(r));
      }
    }
  }

  // Adopted replicas know only their model and hash from the environment; give them the spec of
  // their object when it matches, so a restart runs the same thing.
  void FillAdoptedSpecs() {
    for (auto& r : replicas) {
      if (!r->adopted || r->spec_known) continue;
      auto it = deployments.find(KeyString(r->ns, r->deployment));
      if (it != deployments.end() && it->second.hash == r->hash) {
        r->spec = it->second.spec;
        r->spec_known = true;
      }
    }
  }

  void Timers() {
    const Clock::time_point now = Clock::now();
    for (auto& r : replicas) {
      switch (r->phase) {
        case Phase::kBackoff:
          if (now >= r->restart_at) {
            // An adopted replica whose object's spec changed since has nothing to restart with;
            // the plan drains it instead.
            if (!r->spec_known) {
              BeginDrain(*r, "no spec to restart with", milliseconds(0));
              break;
            }
            Spawn(*r);
          }
          break;
        case Phase::kStarting: {
          const milliseconds limit = r->adopted ? milliseconds(30000) : r->spec.ready_timeout;
          if (now - r->started > limit && r->pid != 0) {
            r->kill_reason = fmt::format("not ready within {}", config::FormatDuration(limit));
            SignalGroup(r->pid, SIGKILL);
          }
          break;
        }
        case Phase::kReady:
          if (now - r->ready_since > options.backoff_reset) r->crashes_in_row = 0;
          break;
        case Phase::kUnready:
          break;
        case Phase::kDraining:
          if (r->pid == 0) break;
          if (!r->term_sent && now >= r->term_at) {
            Signal(r->pid, SIGTERM);
            r->term_sent = true;
            r->kill_at = now + options.stop_timeout;
          } else if (r->term_sent && now >= r->kill_at) {
            Event(fmt::format("{} did not stop within {}; killed", r->name,
                              config::FormatDuration(options.stop_timeout)));
            SignalGroup(r->pid, SIGKILL);
            r->kill_at = now + options.stop_timeout;
          }
          break;
      }
    }
  }

  asio::awaitable<void> Probe(Replica* r, pid_t pid) {
    net::Request request{http::verb::get, "/health", 11};
    request.set(http::field::host, fmt::format("{}:{}", options.host, r->port));
    const auto deadline = Clock::now() + options.probe_timeout;
    net::HostPort target(options.host, r->port);
    Result<net::Response> response =
        co_await client->Send(std::move(target), std::move(request), deadline);
    // The replica may have been restarted or dropped meanwhile.
    bool found = false;
    for (const auto& x : replicas) found = found || x.get() == r;
    if (!found || r->pid != pid) co_return;
    r->probing = false;
    const bool ok = response && response->result_int() == 200;
    const Clock::time_point now = Clock::now();
    r->next_probe = now + options.probe_interval;
    if (ok) {
      r->failed_probes = 0;
      if (r->phase == Phase::kStarting || r->phase == Phase::kUnready) {
        const bool was_unready = r->phase == Phase::kUnready;
        r->phase = Phase::kReady;
        r->ready_since = now;
        Event(fmt::format("{} {} on {}:{} (pid {})", r->name, was_unready ? "ready again" : "ready",
                          options.host, r->port, r->pid));
      }
      co_return;
    }
    ++r->failed_probes;
    if (r->phase == Phase::kStarting) {
      r->next_probe = now + options.probe_interval / 5;
      co_return;
    }
    const std::string why = response ? fmt::format("/health answered {}", response->result_int())
                                     : response.error().message;
    if (r->phase == Phase::kReady && r->failed_probes >= options.unready_after) {
      r->phase = Phase::kUnready;
      Event(fmt::format("{} unready: {}", r->name, why));
    }
    if (r->phase == Phase::kUnready && r->failed_probes >= options.restart_after) {
      r->kill_reason = fmt::format("failed {} health checks", r->failed_probes);
      Event(fmt::format("{} failed {} health checks in a row; killing it", r->name,
                        r->failed_probes));
      SignalGroup(r->pid, SIGKILL);
    }
  }

  void StartProbes() {
    const Clock::time_point now = Clock::now();
    for (auto& r : replicas) {
      const bool probed =
          r->phase == Phase::kStarting || r->phase == Phase::kReady || r->phase == Phase::kUnready;
      if (!probed || r->pid == 0 || r->probing || now < r->next_probe) continue;
      r->probing = true;
      asio::co_spawn(io, Probe(r.get(), r->pid), asio::detached);
    }
  }

  void Publish() {
    auto next = std::make_shared<discovery::Topology>();
    std::set<std::string> models;
    for (const auto& [id, d] : deployments) {
      if (!models.insert(d.spec.model).second) continue;
      discovery::ModelSpec m;
      m.name = d.spec.model;
      if (!d.spec.routing_strategy.empty()) m.routing_strategy = d.spec.routing_strategy;
      next->models.push_back(std::move(m));
    }
    for (const auto& r : replicas) {
      if (r->phase != Phase::kReady) continue;
      discovery::Endpoint e;
      e.name = r->name;
      e.host = options.host;
      e.port = r->port;
      if (!r->spec.model.empty()) e.models = {r->spec.model};
      next->endpoints.push_back(std::move(e));
    }
    std::sort(next->endpoints.begin(), next->endpoints.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    std::vector<ReplicaInfo> infos;
    for (const auto& r : replicas) {
      ReplicaInfo i;
      i.ns = r->ns;
      i.deployment = r->deployment;
      i.name = r->name;
      i.model = r->spec.model;
      i.state = std::string(PhaseName(r->phase));
      i.pid = r->pid;
      i.port = r->port;
      i.restarts = r->restarts;
      i.adopted = r->adopted;
      auto it = deployments.find(KeyString(r->ns, r->deployment));
      i.current = it != deployments.end() && it->second.hash == r->hash;
      i.last_exit = r->last_exit;
      i.started_unix_ms = r->started_unix_ms;
      infos.push_back(std::move(i));
    }
    std::sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) {
      return std::tie(a.ns, a.deployment, a.name) < std::tie(b.ns, b.deployment, b.name);
    });
    std::shared_ptr<const discovery::Topology> published;
    {
      std::lock_guard lock(mu);
      snapshot = std::move(infos);
      if (next->models == topology->models && next->endpoints == topology->endpoints) return;
      next->generation = topology->generation + 1;
      topology = next;
      published = next;
    }
    std::lock_guard lock(subscribers_mu);
    for (auto& [id, callback] : subscribers) callback(published);
  }

  void WriteStatus() {
    for (const auto& [id, d] : deployments) {
      json::array instances;
      int64_t active = 0, ready = 0, updated = 0;
      for (const auto& r : replicas) {
        if (r->ns != d.key.ns || r->deployment != d.key.name) continue;
        json::object i;
        i["name"] = r->name;
        i["state"] = PhaseName(r->phase);
        i["pid"] = r->pid;
        i["port"] = r->port;
        i["restarts"] = r->restarts;
        if (!r->last_exit.empty()) i["lastExit"] = r->last_exit;
        instances.push_back(std::move(i));
        if (r->phase == Phase::kDraining) continue;
        ++active;
        if (r->phase == Phase::kReady) ++ready;
        if (r->hash == d.hash) ++updated;
      }
      json::object status;
      status["observedGeneration"] = d.generation;
      status["replicas"] = active;
      status["readyReplicas"] = ready;
      status["updatedReplicas"] = updated;
      status["instances"] = std::move(instances);
      std::string text = json::serialize(status);
      auto& last = written_status[id];
      if (last == text) continue;
      Result<store::StoredObject> w = options.store->UpdateStatus(d.key, 0, std::move(status));
      if (w) {
        last = std::move(text);
        // Our own write needs no re-read, unless someone else wrote since we read: versions
        // count every write, so anything but the next one means a change we have not seen.
        if (w->resource_version == seen_version + 1) seen_version = w->resource_version;
      } else if (w.error().code != Errc::kNotFound) {
        log->warn("writing the status of {}: {}", id, w.error().message);
      }
    }
  }

  void Tick() {
    CheckProcesses();
    if (!stopping) {
      ReadObjects();
      FillAdoptedSpecs();
      PlanAll();
    }
    Timers();
    StartProbes();
    Publish();
    if (!stopping) WriteStatus();
  }

  asio::awaitable<void> Loop() {
    asio::steady_timer timer(io);
    bool draining_all = false;
    while (true) {
      if (stopping && !draining_all) {
        if (!stop_engines) break;
        draining_all = true;
        for (auto& r : replicas) BeginDrain(*r, "shutting down", milliseconds(0));
      }
      Tick();
      if (draining_all && replicas.empty()) break;
      // Sleep a tick, in slices so a Poke() is seen quickly.
      for (milliseconds slept{0}; slept < options.tick; slept += milliseconds(10)) {
        if (poked.exchange(false) || (stopping && !draining_all)) break;
        timer.expires_after(std::min(milliseconds(10), options.tick));
        co_await timer.async_wait(asio::use_awaitable);
      }
    }
    // What is left (nothing, after a full stop) goes into the objects' status.
    if (draining_all) WriteStatus();
    // Returning lets io.run() end once the last health probe (bounded by probe_timeout) is done.
  }
};

namespace {

class ControllerSource : public discovery::Source {
 public:
  explicit ControllerSource(Controller::Impl* impl) : impl_(impl) {}
  ~ControllerSource() override { Stop(); }

  Result<void> Start(Callback on_change) override {
    std::lock_guard lock(impl_->subscribers_mu);
    if (id_ != 0 || stopped_) return Error{Errc::kFailedPrecondition, "source already started"};
    id_ = impl_->next_subscriber++;
    std::shared_ptr<const discovery::Topology> first;
    {
      std::lock_guard l(impl_->mu);
      first = impl_->topology;
    }
    on_change(first);
    impl_->subscribers.emplace(id_, std::move(on_change));
    return {};
  }

  void Stop() override {
    std::lock_guard lock(impl_->subscribers_mu);
    stopped_ = true;
    if (id_ != 0) impl_->subscribers.erase(id_);
  }

 private:
  Controller::Impl* impl_;
  int id_ = 0;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Controller>> Controller::Create(ControllerOptions options) {
  if (options.store == nullptr) return InvalidArgument("controller: no store");
  if (options.instance.empty()) return InvalidArgument("controller: no instance name");
  if (options.tick.count() <= 0) return InvalidArgument("controller: tick must be positive");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->client = std::make_unique<net::HttpClient>(impl->io.get_executor());
  return std::unique_ptr<Controller>(new Controller(std::move(impl)));
}

Controller::Controller(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Controller::~Controller() { Stop(false); }

Result<void> Controller::Start() {
  if (impl_->running.exchange(true)) {
    return Error{Errc::kFailedPrecondition, "controller already started"};
  }
  std::error_code ec;
  std::filesystem::create_directories(impl_->options.log_dir, ec);
  impl_->LoadStoredRestarts();
  impl_->Adopt();
  impl_->ReadObjects();
  impl_->FillAdoptedSpecs();
  impl_->Publish();
  asio::co_spawn(impl_->io, impl_->Loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
  return {};
}

void Controller::Stop(bool stop_engines) {
  if (!impl_->running) return;
  if (!impl_->stopping) {
    impl_->stop_engines = stop_engines;  // before `stopping`, which the loop reads first
    impl_->stopping = true;
    impl_->poked = true;
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::vector<ReplicaInfo> Controller::Replicas() const {
  std::lock_guard lock(impl_->mu);
  return impl_->snapshot;
}

std::shared_ptr<const discovery::Topology> Controller::CurrentTopology() const {
  std::lock_guard lock(impl_->mu);
  return impl_->topology;
}

std::unique_ptr<discovery::Source> Controller::MakeSource() {
  return std::make_unique<ControllerSource>(impl_.get());
}

void Controller::Poke() { impl_->poked = true; }

const std::string& Controller::epoch() const { return impl_->epoch; }

}  // namespace brix::controller
