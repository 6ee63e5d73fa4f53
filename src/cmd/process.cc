#include <fmt/core.h>
#include <pthread.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>

#include "base/logging.h"
#include "cmd/commands.h"

namespace brix::cmd {

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    base::Logger("cmd")->warn("could not raise the open-file limit from {}", before);
  }
}

ShutdownSignals::ShutdownSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

void ShutdownSignals::Wait(std::string_view command) {
  int sig = 0;
  sigwait(&set_, &sig);
  fmt::print("brix {}: {} received, draining\n", command, sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
}

}  // namespace brix::cmd
