#include "controller/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

extern char** environ;

namespace brix::controller {

Result<pid_t> SpawnProcess(const SpawnOptions& options) {
  if (options.argv.empty()) return InvalidArgument("spawn: empty command line");
  std::error_code ec;
  std::filesystem::create_directories(options.log_file.parent_path(), ec);
  const int log = ::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    return Error{Errc::kUnavailable,
                 fmt::format("cannot open {}: {}", options.log_file.string(), strerror(errno))};
  }
  // The environment: ours, with the options' variables added or replaced.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const std::string name(entry.substr(0, entry.find('=')));
    if (!options.env.contains(name)) env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log, 1);
  posix_spawn_file_actions_adddup2(&actions, log, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(log);
  if (rc != 0) {
    return Error{Errc::kUnavailable, fmt::format("cannot start {}: {}", args[0], strerror(rc))};
  }
  return pid;
}

ProcessExit PollChild(pid_t pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == 0) return {};
  if (r < 0) return {true, fmt::format("lost ({})", strerror(errno))};
  if (WIFEXITED(status)) return {true, fmt::format("exit status {}", WEXITSTATUS(status))};
  if (WIFSIGNALED(status)) {
    return {true,
            fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)))};
  }
  return {true, "ended"};
}

namespace {

struct Stat {
  pid_t ppid = 0;
  uint64_t start_ticks = 0;
};

std::optional<Stat> ReadStat(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields follow the last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  std::string state;
  fields >> state;  // field 3
  if (state == "Z" || state == "X") return std::nullopt;
  Stat stat;
  for (int i = 4; i <= 22; ++i) {
    if (!(fields >> field)) return std::nullopt;
    try {
      if (i == 4) stat.ppid = static_cast<pid_t>(std::stol(field));
      if (i == 22) stat.start_ticks = std::stoull(field);
    } catch (...) {
      return std::nullopt;
    }
  }
  return stat;
}

}  // namespace

std::optional<uint64_t> ProcessStartTicks(pid_t pid) {
  std::optional<Stat> stat = ReadStat(pid);
  if (!stat) return std::nullopt;
  return stat->start_ticks;
}

int64_t StartTicksToUnixMs(uint64_t start_ticks) {
  std::ifstream in("/proc/stat");
  std::string key;
  int64_t boot = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> boot;
      break;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  const long hz = ::sysconf(_SC_CLK_TCK);
  if (boot == 0 || hz <= 0) return 0;
  return boot * 1000 + static_cast<int64_t>(start_ticks) * 1000 / hz;
}

bool ProcessAlive(pid_t pid, uint64_t start_ticks) {
  std::optional<uint64_t> ticks = ProcessStartTicks(pid);
  return ticks && *ticks == start_ticks;
}

std::vector<FoundProcess> FindProcesses(const std::string& key, const std::string& value) {
  std::vector<FoundProcess> out;
  const std::string marker = key + "=" + value;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ");
    if (!in) continue;  // gone, or another user's
    std::string env((std::istreambuf_iterator<char>(in)), {});
    FoundProcess found;
    bool mine = false;
    size_t pos = 0;
    while (pos < env.size()) {
      size_t end = env.find('\0', pos);
      if (end == std::string::npos) end = env.size();
      std::string_view var(env.data() + pos, end - pos);
      if (var == marker) mine = true;
      if (var.starts_with("BRIX_")) {
        const size_t eq = var.find('=');
        if (eq != std::string_view::npos) {
          found.env.emplace(std::string(var.substr(0, eq)), std::string(var.substr(eq + 1)));
        }
      }
      pos = end + 1;
    }
    if (!mine) continue;
    found.pid = static_cast<pid_t>(std::stol(name));
    if (found.pid == ::getpid()) continue;
    std::optional<Stat> stat = ReadStat(found.pid);
    if (!stat) continue;
    found.ppid = stat->ppid;
    found.start_ticks = stat->start_ticks;
    out.push_back(std::move(found));
  }
  return out;
}

void Signal(pid_t pid, int signal) {
  if (pid > 0) ::kill(pid, signal);
}

void SignalGroup(pid_t pid, int signal) {
  if (pid > 0) ::kill(-pid, signal);
}

}  // namespace brix::controller
