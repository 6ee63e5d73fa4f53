// Engine processes on this machine: start, signal, find alive, find again after a restart.
//
//   Result<pid_t> pid = SpawnProcess({.argv = {...}, .env = {{"BRIX_REPLICA", "x"}},
//                                     .log_file = ".brix/logs/x.log"});
//   ProcessExit exit = PollChild(*pid);        // for children of this process
//   bool alive = ProcessAlive(*pid, ticks);    // for adopted ones (not our children)
//   std::vector<FoundProcess> mine = FindProcesses("BRIX_CONTROLLER", id);
//
// Every process is started in its own process group (a terminal's Ctrl-C reaches the controller
// only, which then stops engines in order), with the default signal mask and dispositions,
// stdin from /dev/null, stdout and stderr appended to its log file and no other descriptor of
// the controller (its listening sockets must not outlive it in an orphaned engine). Markers in
// its environment let a restarted controller find it again by reading /proc/<pid>/environ; the
// kernel's start time (/proc/<pid>/stat field 22) tells a process from a later one that reuses
// its pid. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace brix::controller {

struct SpawnOptions {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH when it has no '/'
  std::map<std::string, std::string> env;  // added to (or replacing in) this process's
  std::filesystem::path log_file;          // created with its directory; appended to
};

Result<pid_t> SpawnProcess(const SpawnOptions& options);

struct ProcessExit {
  bool exited = false;
  std::string how;  // "exit status 1", "killed by signal 9 (Killed)"
};

// Reaps `pid` (a child of this process) if it has ended.
ProcessExit PollChild(pid_t pid);

// The kernel's start time of `pid` in clock ticks since boot; nullopt when there is no such
// process or it is a zombie.
std::optional<uint64_t> ProcessStartTicks(pid_t pid);

// The wall-clock time (ms since the epoch) of a start time in ticks since boot.
int64_t StartTicksToUnixMs(uint64_t start_ticks);

// Whether `pid` still is the process that started at `start_ticks`.
bool ProcessAlive(pid_t pid, uint64_t start_ticks);

struct FoundProcess {
  pid_t pid = 0;
  pid_t ppid = 0;  // an engine's own workers carry its markers too: their parent is marked
  uint64_t start_ticks = 0;
  std::map<std::string, std::string> env;  // its BRIX_* variables
};

// Processes of this user (but this one) whose environment holds `key`=`value`.
std::vector<FoundProcess> FindProcesses(const std::string& key, const std::string& value);

// Signals `pid`, or the process group it leads (an engine and the workers it started); ESRCH
// is not an error.
void Signal(pid_t pid, int signal);
void SignalGroup(pid_t pid, int signal);

}  // namespace brix::controller
