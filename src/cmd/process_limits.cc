#include <sys/resource.h>

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

}  // namespace brix::cmd
