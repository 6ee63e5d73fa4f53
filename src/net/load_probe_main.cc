// net_load_probe: an open-loop HTTP load generator and a concurrent-stream holder, for the
// gateway benchmark (scripts/bench-gateway, docs/benchmarks.md). One thread, one io_context.
//
//   net_load_probe --url http://127.0.0.1:8080/v1/chat/completions --body chat.json
//       --rate 20000 --duration 10 --connections 64 [--header 'k: v']...
//   net_load_probe --url http://127.0.0.1:8080/v1/chat/completions --body stream.json
//       --streams 10000 --hold 30
//
// Rate mode sends request i at start + i/rate whatever the server does (open loop, as wrk2):
// a request whose scheduled time comes while every connection waits for a response is queued
// until one is free, and its latency is measured from its scheduled time, so a slow server shows
// up as latency instead of as a lower offered rate. Prints one JSON line: sent, ok, errors
// (connect, I/O and timeouts, non-200 statuses), latency percentiles from the scheduled time, the
// service time (from the actual write) p50/p99, achieved_rate, and how late requests went out.
// A request written more than --max-lag-us after its scheduled time is "late"; if more than 1%
// are, the schedule slipped: "fell_behind" is true and a warning goes to stderr. Two causes are
// told apart: "queued" counts requests that found every connection busy (a slow server; more
// --connections helps), "max_timer_lag_us" is how late this thread woke for its schedule (the
// probe itself starved of CPU). --spin polls instead of sleeping (one CPU busy all along), which
// on a VM removes the milliseconds a halted vCPU can take to wake up. --warmup S sends at the
// same rate for S seconds before the measured --duration and leaves those requests out of the
// latency and lateness figures (they still count as sent, and their errors still fail the run):
// the first milliseconds of a run find cold caches, halted vCPUs and a proxy still opening its
// upstream connections, a start-up cost rather than latency at the offered rate.
//
// Stream mode opens N streaming POSTs (at most --open-concurrency connecting at a time), waits
// until each has its response header and its first body bytes, prints "N/N streams open" to
// stderr, holds them --hold seconds reading and discarding, then closes them and prints one JSON
// line. Exits 1 if fewer than N opened.
//
// Both modes raise RLIMIT_NOFILE to its hard limit. Plain HTTP/1.1 only.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Completion token: errors come back as the first tuple element, never as exceptions.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

struct Flags {
  std::string url;
  std::string body_file;
  std::vector<std::string> headers;  // "name: value"
  // Rate mode.
  double rate = 0;       // requests per second
  double duration = 10;  // seconds of sending, measured
  double warmup = 0;     // seconds of sending before that, not measured
  int connections = 64;
  double timeout = 10;        // seconds per request, from its scheduled time
  int64_t max_lag_us = 1000;  // a request written later than this after its schedule is late
  // Poll instead of sleeping in epoll_wait, so that this thread's CPU never idles: on VMs a
  // halted vCPU can take milliseconds to wake, which would show up as latency and lateness.
  bool spin = false;
  // Stream mode.
  int streams = 0;
  double hold = 10;  // seconds
  int open_concurrency = 256;
  double open_timeout = 120;  // seconds for all streams to open
};

constexpr const char* kUsage =
    "usage: net_load_probe --url http://HOST:PORT/PATH [--body FILE] [--header 'k: v']...\n"
    "         --rate R [--duration S] [--warmup S] [--connections C] [--timeout S]\n"
    "         [--max-lag-us N] [--spin]\n"
    "       net_load_probe --url ... --body FILE --streams N [--hold S] [--open-concurrency K]\n"
    "         [--open-timeout S]\n";

bool ParseNumber(std::string_view text, auto& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Accepts "--name value" and "--name=value".
bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--spin") {
      flags.spin = true;
      continue;
    }
    std::string_view value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    bool ok = !value.empty();
    if (arg == "--url") {
      flags.url = value;
    } else if (arg == "--body") {
      flags.body_file = value;
    } else if (arg == "--header") {
      ok = ok && value.find(':') != std::string_view::npos;
      flags.headers.emplace_back(value);
    } else if (arg == "--rate") {
      ok = ok && ParseNumber(value, flags.rate) && flags.rate > 0;
    } else if (arg == "--duration") {
      ok = ok && ParseNumber(value, flags.duration) && flags.duration > 0;
    } else if (arg == "--warmup") {
      ok = ok && ParseNumber(value, flags.warmup) && flags.warmup >= 0;
    } else if (arg == "--connections") {
      ok = ok && ParseNumber(value, flags.connections) && flags.connections > 0;
    } else if (arg == "--timeout") {
      ok = ok && ParseNumber(value, flags.timeout) && flags.timeout > 0;
    } else if (arg == "--max-lag-us") {
      ok = ok && ParseNumber(value, flags.max_lag_us) && flags.max_lag_us >= 0;
    } else if (arg == "--streams") {
      ok = ok && ParseNumber(value, flags.streams) && flags.streams > 0;
    } else if (arg == "--hold") {
      ok = ok && ParseNumber(value, flags.hold) && flags.hold >= 0;
    } else if (arg == "--open-concurrency") {
      ok = ok && ParseNumber(value, flags.open_concurrency) && flags.open_concurrency > 0;
    } else if (arg == "--open-timeout") {
      ok = ok && ParseNumber(value, flags.open_timeout) && flags.open_timeout > 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "net_load_probe: bad flag '%s'\n%s", argv[i], kUsage);
      return false;
    }
  }
  if (flags.url.empty() || (flags.rate > 0) == (flags.streams > 0)) {
    std::fprintf(stderr, "net_load_probe: need --url and exactly one of --rate, --streams\n%s",
                 kUsage);
    return false;
  }
  return true;
}

struct Target {
  std::string authority;  // as in the URL, for the Host header
  std::string host;
  std::string port;
  std::string path;
};

// "http://host:port/path" (port defaults to 80, path to "/").
std::optional<Target> ParseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  Target target;
  target.authority = authority;
  target.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    target.host = authority;
    target.port = "80";
  } else {
    target.host = authority.substr(0, colon);
    target.port = authority.substr(colon + 1);
  }
  if (target.host.starts_with('[') && target.host.ends_with(']')) {
    target.host = target.host.substr(1, target.host.size() - 2);
  }
  if (target.host.empty() || target.port.empty()) return std::nullopt;
  return target;
}

// The whole request, serialised once and written as is for every request.
std::string BuildRequest(const Target& target, const Flags& flags, const std::string& body) {
  std::string request =
      fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", flags.body_file.empty() ? "GET" : "POST",
                  target.path, target.authority);
  bool has_content_type = false;
  for (const std::string& header : flags.headers) {
    std::string lower(header.substr(0, header.find(':')));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    has_content_type = has_content_type || lower == "content-type";
    request += header;
    request += "\r\n";
  }
  if (!flags.body_file.empty()) {
    if (!has_content_type) request += "Content-Type: application/json\r\n";
    request += fmt::format("Content-Length: {}\r\n", body.size());
  }
  request += "\r\n";
  request += body;
  return request;
}

void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Nearest-rank percentile of sorted values; 0 when empty.
int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// Rethrows what a spawned coroutine threw, out of io_context::run(): a bug must not vanish.
void RethrowIfFailed(std::exception_ptr error) {
  if (error) std::rethrow_exception(error);
}

// ---------------------------------------------------------------------------------------------
// Rate mode.

// One keep-alive connection: waits for a scheduled request, writes it, reads the response.
struct Connection {
  explicit Connection(asio::any_io_executor executor) : socket(executor), wake(executor) {}

  tcp::socket socket;
  beast::flat_buffer buffer;
  asio::steady_timer wake;                     // cancelled to hand this idle connection a request
  std::optional<Clock::time_point> scheduled;  // the request it was handed
  Clock::time_point deadline = Clock::time_point::max();  // while busy; enforced by the reaper
  bool busy = false;
};

// The state of one rate-mode run. Lives in main() for the whole of io_context::run(), so the
// coroutines below hold plain pointers to it. Used only from the io_context's one thread.
class RateRun {
 public:
  RateRun(asio::io_context& io, const Flags& flags, std::vector<tcp::endpoint> endpoints,
          std::string request)
      : io_(io),
        flags_(flags),
        endpoints_(std::move(endpoints)),
        request_(std::move(request)),
        total_(static_cast<uint64_t>(std::llround(flags.rate * (flags.warmup + flags.duration)))),
        warmup_(static_cast<uint64_t>(std::llround(flags.rate * flags.warmup))) {
    latencies_.reserve(total_);
    service_.reserve(total_);
  }

  void Start() {
    for (int i = 0; i < flags_.connections; ++i) {
      connections_.push_back(std::make_unique<Connection>(io_.get_executor()));
    }
    asio::co_spawn(io_, Run(), RethrowIfFailed);
  }

  // Prints the JSON summary; returns the exit status.
  int Report() {
    std::sort(latencies_.begin(), latencies_.end());
    std::sort(service_.begin(), service_.end());
    // Request i goes out at i / rate, so n requests span n / rate seconds when on time.
    const double seconds =
        std::chrono::duration<double>(send_end_ - start_).count() + 1.0 / flags_.rate;
    const uint64_t errors = connect_errors_ + io_errors_ + status_errors_;
    const uint64_t measured = sent_ > warmup_ ? sent_ - warmup_ : 0;
    const bool fell_behind = late_ * 100 > measured;
    std::printf(
        "{\"sent\":%llu,\"ok\":%llu,\"errors\":%llu,\"connect_errors\":%llu,\"io_errors\":%llu,"
        "\"status_errors\":%llu,\"p50_us\":%lld,\"p90_us\":%lld,\"p99_us\":%lld,"
        "\"p999_us\":%lld,\"max_us\":%lld,\"service_p50_us\":%lld,\"service_p99_us\":%lld,"
        "\"target_rate\":%.0f,\"achieved_rate\":%.0f,\"late\":%llu,\"max_lag_us\":%lld,"
        "\"queued\":%llu,\"max_timer_lag_us\":%lld,\"fell_behind\":%s,\"warmup_requests\":%llu,"
        "\"measured_requests\":%llu}\n",
        static_cast<unsigned long long>(sent_), static_cast<unsigned long long>(ok_),
        static_cast<unsigned long long>(errors), static_cast<unsigned long long>(connect_errors_),
        static_cast<unsigned long long>(io_errors_),
        static_cast<unsigned long long>(status_errors_),
        static_cast<long long>(Percentile(latencies_, 0.50)),
        static_cast<long long>(Percentile(latencies_, 0.90)),
        static_cast<long long>(Percentile(latencies_, 0.99)),
        static_cast<long long>(Percentile(latencies_, 0.999)),
        static_cast<long long>(latencies_.empty() ? 0 : latencies_.back()),
        static_cast<long long>(Percentile(service_, 0.50)),
        static_cast<long long>(Percentile(service_, 0.99)), flags_.rate,
        seconds > 0 ? static_cast<double>(sent_) / seconds : 0.0,
        static_cast<unsigned long long>(late_), static_cast<long long>(max_lag_us_),
        static_cast<unsigned long long>(queued_), static_cast<long long>(max_timer_lag_us_),
        fell_behind ? "true" : "false", static_cast<unsigned long long>(sent_ - measured),
        static_cast<unsigned long long>(measured));
    std::fflush(stdout);
    if (fell_behind) {
      std::fprintf(
          stderr,
          "net_load_probe: fell behind: %llu of %llu requests written more than %lld us "
          "after their scheduled time (max %lld us); %llu found every connection busy, "
          "this thread woke up to %lld us late\n",
          static_cast<unsigned long long>(late_), static_cast<unsigned long long>(measured),
          static_cast<long long>(flags_.max_lag_us), static_cast<long long>(max_lag_us_),
          static_cast<unsigned long long>(queued_), static_cast<long long>(max_timer_lag_us_));
    }
    return sent_ > 0 && ok_ == sent_ ? 0 : 1;
  }

 private:
  asio::awaitable<void> Run() {
    // Connect everything first, so that connection setup is not part of the measurement.
    for (auto& connection : connections_) {
      auto [ec, endpoint] = co_await asio::async_connect(connection->socket, endpoints_, kNoThrow);
      if (ec) {
        std::fprintf(stderr, "net_load_probe: connect: %s\n", ec.message().c_str());
        connection->socket.close(ec);
      } else {
        connection->socket.set_option(tcp::no_delay(true), ec);  // best effort
      }
    }
    for (auto& connection : connections_) {
      asio::co_spawn(io_, Serve(connection.get()), RethrowIfFailed);
    }
    asio::co_spawn(io_, Reap(), RethrowIfFailed);
    co_await Schedule();
  }

  // Hands request i to a connection at start + i / rate.
  asio::awaitable<void> Schedule() {
    asio::steady_timer timer(io_);
    const double interval_ns = 1e9 / flags_.rate;
    start_ = Clock::now();
    measured_from_ =
        start_ + std::chrono::nanoseconds(std::llround(static_cast<double>(warmup_) * interval_ns));
    uint64_t i = 0;
    while (i < total_) {
      const auto due = [&](uint64_t n) {
        return start_ +
               std::chrono::nanoseconds(std::llround(static_cast<double>(n) * interval_ns));
      };
      Clock::time_point now = Clock::now();
      if (due(i) > now) {
        timer.expires_at(due(i));
        co_await timer.async_wait(kNoThrow);
        now = Clock::now();
      }
      if (i >= warmup_) max_timer_lag_us_ = std::max(max_timer_lag_us_, Micros(now - due(i)));
      for (; i < total_ && due(i) <= now; ++i) Dispatch(due(i));
    }
    send_end_ = Clock::now();
    scheduling_done_ = true;
    // Idle connections wait for work that will not come: let them finish.
    for (Connection* connection : idle_) connection->wake.cancel();
    idle_.clear();
  }

  void Dispatch(Clock::time_point scheduled) {
    if (idle_.empty()) {
      ++queued_;
      queue_.push_back(scheduled);
      return;
    }
    // Oldest idle first, so that every connection stays in use: a server may close one that
    // idles longer than its keep-alive timeout (node's is 5 s).
    Connection* connection = idle_.front();
    idle_.pop_front();
    connection->scheduled = scheduled;
    connection->wake.cancel();
  }

  // One connection's loop: take a request (handed over or queued), send it, read the response.
  asio::awaitable<void> Serve(Connection* c) {
    while (true) {
      if (!c->scheduled && !queue_.empty()) {
        c->scheduled = queue_.front();
        queue_.pop_front();
      }
      if (!c->scheduled) {
        if (scheduling_done_) break;
        idle_.push_back(c);
        c->wake.expires_at(Clock::time_point::max());
        co_await c->wake.async_wait(kNoThrow);
        continue;
      }
      const Clock::time_point scheduled = *c->scheduled;
      c->scheduled.reset();
      co_await Exchange(c, scheduled);
    }
    ++finished_connections_;
    if (c->socket.is_open()) {
      beast::error_code ignored;
      c->socket.shutdown(tcp::socket::shutdown_both, ignored);
      c->socket.close(ignored);
    }
  }

  asio::awaitable<void> Exchange(Connection* c, Clock::time_point scheduled) {
    ++sent_;
    c->busy = true;
    c->deadline = scheduled + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(flags_.timeout));
    if (!c->socket.is_open()) {
      c->buffer.clear();
      auto [ec, endpoint] = co_await asio::async_connect(c->socket, endpoints_, kNoThrow);
      if (ec) {
        ++connect_errors_;
        c->socket.close(ec);
        c->busy = false;
        co_return;
      }
      c->socket.set_option(tcp::no_delay(true), ec);  // best effort
    }
    const Clock::time_point written = Clock::now();
    const bool measured = scheduled >= measured_from_;
    const int64_t lag = Micros(written - scheduled);
    if (measured) {
      max_lag_us_ = std::max(max_lag_us_, lag);
      if (lag > flags_.max_lag_us) ++late_;
    }
    auto [write_ec, n] = co_await asio::async_write(c->socket, asio::buffer(request_), kNoThrow);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code read_ec = write_ec;
    if (!write_ec)
      std::tie(read_ec, n) = co_await http::async_read(c->socket, c->buffer, parser, kNoThrow);
    c->busy = false;
    const Clock::time_point done = Clock::now();
    if (read_ec) {
      ++io_errors_;
      beast::error_code ignored;
      c->socket.close(ignored);
      co_return;
    }
    if (parser.get().result_int() == 200) {
      ++ok_;
      if (measured) {
        latencies_.push_back(Micros(done - scheduled));
        service_.push_back(Micros(done - written));
      }
    } else {
      ++status_errors_;
      if (status_errors_ == 1) {
        std::fprintf(stderr, "net_load_probe: first error response: %u %s\n",
                     parser.get().result_int(), parser.get().body().substr(0, 300).c_str());
      }
    }
    if (!parser.keep_alive()) {
      beast::error_code ignored;
      c->socket.close(ignored);
    }
  }

  // Closes connections whose request is past its deadline (their pending read then fails).
  asio::awaitable<void> Reap() {
    asio::steady_timer timer(io_);
    while (finished_connections_ < connections_.size()) {
      timer.expires_after(50ms);
      co_await timer.async_wait(kNoThrow);
      const Clock::time_point now = Clock::now();
      for (auto& c : connections_) {
        if (c->busy && now > c->deadline) {
          beast::error_code ignored;
          c->socket.close(ignored);
        }
      }
    }
  }

  asio::io_context& io_;
  const Flags& flags_;
  const std::vector<tcp::endpoint> endpoints_;
  const std::string request_;
  const uint64_t total_;
  const uint64_t warmup_;  // the first requests, sent but not measured
  std::vector<std::unique_ptr<Connection>> connections_;
  std::deque<Connection*> idle_;
  std::deque<Clock::time_point> queue_;  // scheduled requests waiting for a free connection
  bool scheduling_done_ = false;
  size_t finished_connections_ = 0;
  Clock::time_point start_;
  Clock::time_point measured_from_;  // requests scheduled from then on are measured
  Clock::time_point send_end_;
  uint64_t sent_ = 0;
  uint64_t ok_ = 0;
  uint64_t connect_errors_ = 0;
  uint64_t io_errors_ = 0;  // write/read failures, timeouts, closes before a whole response
  uint64_t status_errors_ = 0;
  uint64_t late_ = 0;
  int64_t max_lag_us_ = 0;
  uint64_t queued_ = 0;             // found every connection busy
  int64_t max_timer_lag_us_ = 0;    // this thread's own lateness in waking for the schedule
  std::vector<int64_t> latencies_;  // from the scheduled time, successful requests
  std::vector<int64_t> service_;    // from the write
};

// ---------------------------------------------------------------------------------------------
// Stream mode.

struct Stream {
  explicit Stream(asio::any_io_executor executor) : socket(executor) {}

  tcp::socket socket;
  bool open = false;  // has its header and first body bytes
};

// The state of one stream-mode run; lives in main() for the whole of io_context::run(). Used only
// from the io_context's one thread.
class StreamRun {
 public:
  StreamRun(asio::io_context& io, const Flags& flags, std::vector<tcp::endpoint> endpoints,
            std::string request)
      : io_(io),
        flags_(flags),
        endpoints_(std::move(endpoints)),
        request_(std::move(request)),
        hold_timer_(io) {}

  void Start() {
    start_ = Clock::now();
    for (int i = 0; i < flags_.streams; ++i) {
      streams_.push_back(std::make_unique<Stream>(io_.get_executor()));
    }
    for (int i = 0; i < std::min(flags_.open_concurrency, flags_.streams); ++i) {
      asio::co_spawn(io_, Opener(), RethrowIfFailed);
    }
    hold_timer_.expires_after(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(flags_.open_timeout)));
    hold_timer_.async_wait([this](beast::error_code ec) {
      if (!ec) BeginHold();  // open timeout: hold what is open
    });
  }

  int Report() {
    std::printf(
        "{\"streams\":%d,\"opened\":%d,\"failed\":%d,\"open_seconds\":%.2f,\"hold_seconds\":%.1f,"
        "\"ended_early\":%d,\"still_open_at_end\":%d,\"bytes_read\":%llu}\n",
        flags_.streams, opened_, failed_, open_seconds_, flags_.hold, ended_early_,
        still_open_at_end_, static_cast<unsigned long long>(bytes_read_));
    std::fflush(stdout);
    return opened_ >= flags_.streams ? 0 : 1;
  }

 private:
  // Opens streams one after another until none is left to open.
  asio::awaitable<void> Opener() {
    while (next_ < streams_.size() && !holding_) {
      Stream* stream = streams_[next_++].get();
      co_await Open(stream);
    }
  }

  asio::awaitable<void> Open(Stream* s) {
    auto [ec, endpoint] = co_await asio::async_connect(s->socket, endpoints_, kNoThrow);
    std::size_t n = 0;
    if (!ec) {
      s->socket.set_option(tcp::no_delay(true), ec);
      std::tie(ec, n) = co_await asio::async_write(s->socket, asio::buffer(request_), kNoThrow);
    }
    auto buffer = std::make_unique<beast::flat_buffer>();
    http::response_parser<http::buffer_body> parser;
    if (!ec)
      std::tie(ec, n) = co_await http::async_read_header(s->socket, *buffer, parser, kNoThrow);
    if (!ec && parser.get().result_int() != 200) {
      if (bad_status_++ == 0) {
        std::fprintf(stderr, "net_load_probe: stream answered %u\n", parser.get().result_int());
      }
      ec = http::error::bad_status;
    }
    // The first body bytes may have come with the header; else wait for them.
    std::string tail(static_cast<const char*>(buffer->data().data()), buffer->size());
    buffer.reset();
    std::vector<char> chunk(2048);
    if (!ec && tail.empty()) {
      std::tie(ec, n) = co_await s->socket.async_read_some(asio::buffer(chunk), kNoThrow);
      tail.assign(chunk.data(), n);
    }
    if (ec || holding_) {
      if (ec && errors_logged_++ < 3) {
        std::fprintf(stderr, "net_load_probe: stream failed to open: %s\n", ec.message().c_str());
      }
      ++failed_;
      beast::error_code ignored;
      s->socket.close(ignored);
      MaybeBeginHold();
      co_return;
    }
    bytes_read_ += tail.size();
    s->open = true;
    ++opened_;
    asio::co_spawn(io_, Drain(s, std::move(tail), std::move(chunk)), RethrowIfFailed);
    MaybeBeginHold();
  }

  // Reads and discards the rest of an open stream until the hold ends or the stream does.
  asio::awaitable<void> Drain(Stream* s, std::string tail, std::vector<char> chunk) {
    constexpr std::string_view kDone = "data: [DONE]";
    bool done = tail.find(kDone) != std::string::npos;
    while (!done) {
      auto [ec, n] = co_await s->socket.async_read_some(asio::buffer(chunk), kNoThrow);
      if (ec) break;
      bytes_read_ += n;
      // Keep the last bytes of the previous read so that a marker split across reads is found.
      tail.erase(0, tail.size() > kDone.size() ? tail.size() - kDone.size() : 0);
      tail.append(chunk.data(), n);
      done = tail.find(kDone) != std::string::npos;
    }
    if (!ended_) {
      ++ended_early_;
      if (ended_early_ == 1) {
        std::fprintf(stderr, "net_load_probe: a stream ended before the hold was over\n");
      }
    }
    s->open = false;
    beast::error_code ignored;
    s->socket.close(ignored);
  }

  void MaybeBeginHold() {
    if (opened_ + failed_ == flags_.streams && !holding_) {
      hold_timer_.cancel();
      BeginHold();
    }
  }

  void BeginHold() {
    holding_ = true;
    open_seconds_ = std::chrono::duration<double>(Clock::now() - start_).count();
    std::fprintf(stderr, "net_load_probe: %d/%d streams open after %.1f s; holding %.0f s\n",
                 opened_, flags_.streams, open_seconds_, flags_.hold);
    std::fflush(stderr);
    // Streams still connecting past the open timeout are given up.
    for (auto& s : streams_) {
      if (!s->open) {
        beast::error_code ignored;
        s->socket.close(ignored);
      }
    }
    hold_timer_.expires_after(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(flags_.hold)));
    hold_timer_.async_wait([this](beast::error_code) { EndHold(); });
  }

  void EndHold() {
    ended_ = true;
    for (auto& s : streams_) {
      if (s->open) {
        ++still_open_at_end_;
        beast::error_code ignored;
        s->socket.close(ignored);
      }
    }
  }

  asio::io_context& io_;
  const Flags& flags_;
  const std::vector<tcp::endpoint> endpoints_;
  const std::string request_;
  asio::steady_timer hold_timer_;  // the open timeout, then the hold
  std::vector<std::unique_ptr<Stream>> streams_;
  size_t next_ = 0;  // next stream to open
  Clock::time_point start_;
  double open_seconds_ = 0;
  bool holding_ = false;
  bool ended_ = false;  // the hold is over
  int opened_ = 0;
  int failed_ = 0;
  int bad_status_ = 0;
  int errors_logged_ = 0;
  int ended_early_ = 0;
  int still_open_at_end_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) return 2;
  const std::optional<Target> target = ParseUrl(flags.url);
  if (!target) {
    std::fprintf(stderr, "net_load_probe: --url must be http://HOST[:PORT]/PATH\n");
    return 2;
  }
  std::string body;
  if (!flags.body_file.empty()) {
    std::ifstream in(flags.body_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "net_load_probe: cannot read %s\n", flags.body_file.c_str());
      return 2;
    }
    std::ostringstream content;
    content << in.rdbuf();
    body = content.str();
  }
  RaiseFileLimit();

  asio::io_context io(1);
  tcp::resolver resolver(io);
  beast::error_code ec;
  auto results = resolver.resolve(target->host, target->port, ec);
  if (ec || results.empty()) {
    std::fprintf(stderr, "net_load_probe: cannot resolve %s: %s\n", target->host.c_str(),
                 ec.message().c_str());
    return 2;
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  std::string request = BuildRequest(*target, flags, body);

  if (flags.rate > 0) {
    RateRun run(io, flags, std::move(endpoints), std::move(request));
    run.Start();
    if (flags.spin) {
      while (!io.stopped()) io.poll();
    } else {
      io.run();
    }
    return run.Report();
  }
  StreamRun run(io, flags, std::move(endpoints), std::move(request));
  run.Start();
  io.run();
  return run.Report();
}
