// The static YAML file backend: load on Start(), then a thread that polls the file.
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/logger.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "base/check.h"
#include "base/logging.h"
#include "discovery/discovery.h"
#include "discovery/internal/static_file_source.h"

namespace brix::discovery {
namespace internal {
namespace {

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

Error ReadError(int error, const std::string& file) {
  std::string message = fmt::format("cannot read discovery file '{}': {}", file, ErrnoText(error));
  if (error == ENOENT || error == ENOTDIR) return NotFound(std::move(message));
  if (error == EACCES || error == EPERM) return PermissionDenied(std::move(message));
  return Unavailable(std::move(message));
}

int64_t Nanoseconds(const timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + static_cast<int64_t>(t.tv_nsec);
}

// Log lines stay one line (the JSON log format escapes nothing): a multi-error message is joined
// with "; " and double quotes (which a file's content may bring) become single ones.
std::string OneLine(std::string text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n') {
      out += "; ";
    } else if (c == '"') {
      out += '\'';
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  return out;
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

StaticFileSource::StaticFileSource(StaticFileOptions options)
    : options_(std::move(options)),
      file_(options_.file.string()),
      log_(base::Logger("discovery")) {}

StaticFileSource::~StaticFileSource() { Stop(); }

StaticFileSource::FileState StaticFileSource::StatFile() const {
  struct stat st {};
  FileState state;
  if (::stat(file_.c_str(), &st) != 0) {
    state.error = errno;
    return state;
  }
  state.device = st.st_dev;
  state.inode = st.st_ino;
  state.size = st.st_size;
  state.mtime_ns = Nanoseconds(st.st_mtim);
  state.ctime_ns = Nanoseconds(st.st_ctim);
  return state;
}

bool StaticFileSource::IsRacy(const FileState& state) const {
  if (state.error != 0) return false;
  // File times come from the real-time clock; so must "now". A file time in the future (clock
  // steps, network file systems) counts as racy too, which only costs re-reads.
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return now_ns - state.mtime_ns < std::chrono::nanoseconds(kRacyWindow).count();
}

Result<std::string> StaticFileSource::ReadFile() const {
  // O_NONBLOCK: a FIFO at the path must not block the watcher (and with it Stop()).
  Fd fd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return ReadError(errno, file_);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ReadError(errno, file_);
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(fmt::format("discovery file '{}' is not a regular file", file_));
  }
  std::string text;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ReadError(errno, file_);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) {
      return InvalidArgument(
          fmt::format("discovery file '{}' is larger than {} bytes", file_, kMaxFileBytes));
    }
  }
  return text;
}

Result<void> StaticFileSource::Start(Callback on_change) {
  BRIX_CHECK(on_change) << "Start() needs a callback";
  {
    std::lock_guard lock(mu_);
    if (stopping_) return FailedPrecondition("the discovery source was stopped");
  }
  if (started_) return FailedPrecondition("the discovery source was started already");

  // Stat before reading: a change between the two is then seen by the first poll.
  handled_ = StatFile();
  handled_racy_ = IsRacy(handled_);
  pending_.reset();
  Count(&StaticFileStats::reads);
  Result<std::string> text = ReadFile();
  if (!text) return text.error();
  Result<Topology> parsed = ParseTopologyYaml(*text, file_);
  if (!parsed) return parsed.error();

  content_ = std::move(*text);
  current_ = std::move(*parsed);
  current_.generation = 1;
  last_failure_.clear();
  on_change_ = std::move(on_change);
  started_ = true;
  log_->info("watching {} every {}ms: {} endpoints, {} model settings (generation 1)", file_,
             options_.poll_interval.count(), current_.endpoints.size(), current_.models.size());
  // Delivered before the thread exists, so this call cannot overlap a later one.
  on_change_(std::make_shared<const Topology>(current_));
  thread_ = std::thread([this] { Run(); });
  return {};
}

void StaticFileSource::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    BRIX_CHECK(thread_.get_id() != std::this_thread::get_id())
        << "Stop() called from the discovery callback";
    thread_.join();
  }
}

StaticFileStats StaticFileSource::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool StaticFileSource::WaitUntil(const std::function<bool(const StaticFileStats&)>& done,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stopping_ || done(stats_); });
  return done(stats_);
}

void StaticFileSource::Count(uint64_t StaticFileStats::*field) {
  {
    std::lock_guard lock(mu_);
    ++(stats_.*field);
  }
  cv_.notify_all();
}

void StaticFileSource::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    Poll();
    lock.lock();
    ++stats_.polls;
    cv_.notify_all();
  }
}

void StaticFileSource::Poll() {
  const FileState state = StatFile();
  if (state == handled_) {
    pending_.reset();
    if (!handled_racy_) return;
  } else if (pending_ != state) {
    // New, or still changing since the last poll: wait for it to settle.
    pending_ = state;
    return;
  }
  pending_.reset();
  handled_ = state;
  handled_racy_ = IsRacy(state);
  Reload();
}

void StaticFileSource::Reload() {
  Count(&StaticFileStats::reads);
  Result<std::string> text = ReadFile();
  if (!text) {
    ReportFailure(text.error().message);
    return;
  }
  if (*text == content_) {
    // Rewritten with the same bytes, or put back after a bad version.
    if (!last_failure_.empty()) {
      log_->info("{} is valid again and unchanged; keeping generation {}", file_,
                 current_.generation);
      last_failure_.clear();
    }
    return;
  }
  Result<Topology> parsed = ParseTopologyYaml(*text, file_);
  if (!parsed) {
    ReportFailure(parsed.error().message);
    return;
  }
  content_ = std::move(*text);
  const bool recovered = !last_failure_.empty();
  last_failure_.clear();
  parsed->generation = current_.generation;
  if (*parsed == current_) {
    if (recovered) {
      log_->info("{} is valid again with the same topology; keeping generation {}", file_,
                 current_.generation);
    } else {
      log_->debug("{} changed but its topology did not (generation {})", file_,
                  current_.generation);
    }
    return;
  }
  parsed->generation = current_.generation + 1;
  current_ = std::move(*parsed);
  log_->info("reloaded {}: {} endpoints, {} model settings (generation {})", file_,
             current_.endpoints.size(), current_.models.size(), current_.generation);
  {
    std::lock_guard lock(mu_);
    // Stop() is joining this thread; a snapshot now would reach a consumer that is shutting down.
    if (stopping_) return;
    ++stats_.reloads;
  }
  cv_.notify_all();
  on_change_(std::make_shared<const Topology>(current_));
}

void StaticFileSource::ReportFailure(const std::string& message) {
  Count(&StaticFileStats::failures);
  if (message == last_failure_) return;  // logged already; the file has not improved
  last_failure_ = message;
  log_->warn("reload of {} failed, keeping generation {}: {}", file_, current_.generation,
             OneLine(message));
}

}  // namespace internal

Result<std::unique_ptr<Source>> MakeStaticFileSource(StaticFileOptions options) {
  if (options.file.empty()) return InvalidArgument("discovery: the file path is empty");
  if (options.poll_interval <= std::chrono::milliseconds(0) ||
      options.poll_interval > std::chrono::hours(24)) {
    return InvalidArgument(
        fmt::format("discovery: poll_interval must be between 1ms and 24h, got {}ms",
                    options.poll_interval.count()));
  }
  return std::unique_ptr<Source>(std::make_unique<internal::StaticFileSource>(std::move(options)));
}

}  // namespace brix::discovery
