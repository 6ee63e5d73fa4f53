// The static-file Source behind MakeStaticFileSource, visible to this component's tests for its
// counters. Nothing outside src/discovery includes this.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "discovery/discovery.h"

namespace spdlog {
class logger;
}

namespace brix::discovery::internal {

// Counts since Start(); every field only grows.
struct StaticFileStats {
  uint64_t polls = 0;     // checks of the file completed by the watcher thread
  uint64_t reads = 0;     // times the file's content was read, Start() included
  uint64_t reloads = 0;   // snapshots delivered after the first
  uint64_t failures = 0;  // reads or parses that failed; the previous topology was kept
};

// Watches one YAML file by polling. Owned by whoever called MakeStaticFileSource. Start() and
// Stop() are called from one controlling thread (never from the callback); Stats() and
// WaitUntil() from any thread.
//
// A poll stats the file (device, inode, size, mtime, ctime, or the stat error). A state that
// differs from the one last handled must be seen by two consecutive polls before the file is
// read, so that a file caught half-written in place (truncated, not yet filled) is not
// delivered. The content is compared with the last good content, so a rewrite with the same
// bytes causes no callback; a snapshot whose topology equals the current one causes none
// either. While the file's mtime is within kRacyWindow of the time it was checked, a write in
// the same timestamp tick could leave the stat unchanged, so the content is re-read each poll.
class StaticFileSource final : public Source {
 public:
  static constexpr std::chrono::seconds kRacyWindow{2};
  // Larger files are a read failure.
  static constexpr uint64_t kMaxFileBytes = 16 << 20;

  explicit StaticFileSource(StaticFileOptions options);
  ~StaticFileSource() override;  // Stop()s

  // Fails with InvalidArgument for a file that does not parse (the message lists every error
  // with its YAML path), NotFound for a missing file, Unavailable for other read errors, and
  // FailedPrecondition once started or after Stop(). A failed Start() may be retried.
  Result<void> Start(Callback on_change) override;
  void Stop() override;

  StaticFileStats Stats() const;
  // Blocks until `done(Stats())` holds, Stop() is called or `timeout` passes; returns the last
  // value of `done`.
  bool WaitUntil(const std::function<bool(const StaticFileStats&)>& done,
                 std::chrono::milliseconds timeout) const;

 private:
  // What stat() said about the file; equal states mean "probably unchanged".
  struct FileState {
    int error = 0;  // errno of stat(); 0 when it succeeded
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;

    friend bool operator==(const FileState&, const FileState&) = default;
  };

  FileState StatFile() const;
  bool IsRacy(const FileState& state) const;
  Result<std::string> ReadFile() const;
  void Run();
  void Poll();
  // Reads and parses the file after `state` was seen stable; delivers a changed topology.
  void Reload();
  void ReportFailure(const std::string& message);
  void Count(uint64_t StaticFileStats::*field);

  const StaticFileOptions options_;
  const std::string file_;  // options_.file as text, for messages
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mu_;
  // Wakes the watcher on Stop() and WaitUntil() callers on a new count.
  mutable std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  StaticFileStats stats_;  // guarded by mu_

  // Written by Start() before the thread exists, then used only by the thread.
  Callback on_change_;
  bool started_ = false;              // Start() succeeded; controlling thread only
  FileState handled_;                 // the state whose content was last read
  bool handled_racy_ = false;         // re-read even while the state stays `handled_`
  std::optional<FileState> pending_;  // a new state seen once, waiting to be seen again
  std::string content_;               // the bytes `current_` was parsed from
  Topology current_;                  // the last delivered snapshot
  std::string last_failure_;          // the failure last logged; empty while the file is good

  std::thread thread_;
};

}  // namespace brix::discovery::internal
