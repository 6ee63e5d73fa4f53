#include "bench/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/check.h"
#include "net/client.h"
#include "net/sse.h"

namespace brix::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

// ---- target ----

std::string Target::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}{}", v6 ? "[" : "", host, v6 ? "]" : "", port, base_path);
}

Result<Target> ParseTarget(std::string_view url) {
  const std::string_view original = url;
  if (url.starts_with("https://")) {
    return InvalidArgument(fmt::format("{}: https is not supported; use http://", original));
  }
  if (!url.starts_with("http://")) {
    return InvalidArgument(fmt::format("{}: expected an http:// URL", original));
  }
  url.remove_prefix(7);
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  Target target;
  target.base_path = std::string(path);
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument(fmt::format("{}: unterminated IPv6 address", original));
    }
    target.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(':'))
      port_text = authority.substr(1);
    else if (!authority.empty())
      return InvalidArgument(fmt::format("{}: bad host", original));
  } else {
    const size_t colon = authority.rfind(':');
    target.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (target.host.empty()) return InvalidArgument(fmt::format("{}: no host", original));
  if (!port_text.empty() || authority.ends_with(':')) {
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
        port == 0 || port > 65535) {
      return InvalidArgument(fmt::format("{}: bad port '{}'", original, port_text));
    }
    target.port = static_cast<uint16_t>(port);
  }
  return target;
}

Result<Api> ParseApi(std::string_view name) {
  if (name == "chat") return Api::kChat;
  if (name == "completions") return Api::kCompletions;
  return InvalidArgument(fmt::format("api '{}': expected chat or completions", name));
}

Result<size_t> ChatTemplateOverhead(const tokenizer::Tokenizer& tokenizer,
                                    const workload::PromptText& text) {
  constexpr int64_t kWords = 16;
  const std::vector<tokenizer::ChatMessage> messages = {
      {"user", text.Render(std::vector<workload::Segment>{{1, kWords}})}};
  tokenizer::EncodeOptions plain;
  plain.add_special_tokens = false;
  Result<size_t> count =
      tokenizer.CountTokens(tokenizer::SerializeChat(tokenizer, messages, true), plain);
  if (!count) return count.error();
  if (*count < static_cast<size_t>(kWords)) {
    return Internal("the chat serialisation is shorter than its content");
  }
  return *count - kWords;
}

std::string FormatProgress(const Progress& p, int width) {
  const double fraction = p.total == 0 ? 1.0
                                       : static_cast<double>(p.ok + p.failed + p.aborted) /
                                             static_cast<double>(p.total);
  const int filled = std::clamp(static_cast<int>(fraction * width), 0, width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(static_cast<size_t>(width), ' ');
  return fmt::format("[{}] {}/{} sent  {} ok  {} failed  {} in flight  {:.0f} s / {:.0f} s", bar,
                     p.sent, p.total, p.ok, p.failed, p.in_flight, p.elapsed_s, p.last_arrival_s);
}

// ---- runner ----

struct Runner::Shared {
  Options options;
  workload::Workload workload;
  const workload::PromptText* text = nullptr;
  size_t chat_overhead = 0;
  Clock::time_point start;
  std::atomic<size_t> sent{0}, ok{0}, failed{0}, aborted{0}, in_flight{0};
  std::atomic<bool> stopped{false};
  std::mutex mutex;
  std::condition_variable done_cv;
  int workers_running = 0;  // guarded by mutex

  double Now() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
  Clock::time_point At(double seconds) const {
    // Clamped so that a far-off time (a trace spanning centuries, a tiny --speed) cannot overflow.
    seconds = std::clamp(seconds, -1e6, 1e9);
    return start +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
};

namespace {

// The message of an OpenAI error envelope ({"error": {"message": ...}}) or of a bare
// {"message": ...}; empty when there is none.
std::string EnvelopeMessage(const boost::json::value& doc) {
  if (!doc.is_object()) return {};
  const boost::json::value* error = doc.as_object().if_contains("error");
  const boost::json::value* m = nullptr;
  if (error != nullptr && error->is_object()) m = error->as_object().if_contains("message");
  if (error == nullptr) m = doc.as_object().if_contains("message");
  if (m == nullptr || !m->is_string()) return {};
  std::string message(m->as_string());
  if (message.size() > 100) message = message.substr(0, 97) + "...";
  return message;
}

// A short reason for an error answer: the status and the envelope's message if there is one.
std::string ErrorReason(unsigned status, std::string_view body) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
  const std::string message = ec ? std::string() : EnvelopeMessage(doc);
  return message.empty() ? fmt::format("HTTP {}", status)
                         : fmt::format("HTTP {}: {}", status, message);
}

std::string ClientErrorReason(const Error& error) {
  switch (error.code) {
    case Errc::kUnavailable:
      return "connection: " + error.message;
    case Errc::kDeadlineExceeded:
      return "timeout (--request-timeout)";
    default:
      return error.message;
  }
}

// A usage count from the server, clamped so that sums over a run cannot overflow; -1 if absent.
int64_t IntField(const boost::json::object& o, std::string_view key) {
  constexpr int64_t kMax = int64_t{1} << 40;
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return -1;
  if (v->is_int64()) return std::clamp<int64_t>(v->get_int64(), -1, kMax);
  if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), kMax));
  return -1;
}

// usage.prompt_tokens_details.cached_tokens (vLLM sends it with --enable-prompt-tokens-details);
// -1 if absent.
int64_t CachedTokens(const boost::json::object& usage) {
  const boost::json::value* details = usage.if_contains("prompt_tokens_details");
  if (details == nullptr || !details->is_object()) return -1;
  return IntField(details->as_object(), "cached_tokens");
}

Error Interrupted() { return MakeError(Errc::kCancelled, "interrupted"); }

}  // namespace

// Sessions are started this long before their first request is due, to build it in advance.
constexpr double kLeadSeconds = 0.5;

class Runner::Worker {
 public:
  Worker(Shared* shared, std::vector<const workload::Session*> sessions)
      : shared_(shared), sessions_(std::move(sessions)), scheduler_timer_(io_), done_timer_(io_) {
    size_t n = 0;
    for (const workload::Session* s : sessions_) {
      first_record_.push_back(n);
      for (size_t t = 0; t < s->turns.size(); ++t) {
        report::RequestRecord r;
        r.session = s->id;
        r.turn = static_cast<int>(t);
        r.scheduled_s = s->start_s;
        r.input_tokens = s->turns[t].prompt_tokens();
        records_.push_back(std::move(r));
      }
      n += s->turns.size();
    }
  }

  void Start() {
    thread_ = std::thread([this] {
      net::ClientConfig config;
      config.max_idle_per_host = 1 << 20;  // open loop: keep every connection for reuse
      config.idle_timeout = std::chrono::seconds(4);
      config.connect_timeout = std::chrono::seconds(10);
      config.read_chunk_bytes = 8 * 1024;
      client_ = std::make_unique<net::HttpClient>(io_.get_executor(), config);
      asio::co_spawn(io_, Schedule(), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
      io_.run();
      std::lock_guard lock(shared_->mutex);
      if (--shared_->workers_running == 0) shared_->done_cv.notify_all();
    });
  }

  void Stop() {
    asio::post(io_, [this] {
      stopping_ = true;
      scheduler_timer_.cancel();
      for (auto& [id, signal] : live_) signal->emit(asio::cancellation_type::terminal);
    });
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  std::vector<report::RequestRecord>& records() { return records_; }
  const report::LatencyHistogram& itl() const { return itl_; }

 private:
  asio::awaitable<void> Schedule() {
    for (size_t i = 0; i < sessions_.size() && !stopping_; ++i) {
      const workload::Session* session = sessions_[i];
      scheduler_timer_.expires_at(shared_->At(session->start_s - kLeadSeconds));
      auto [ec] = co_await scheduler_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)ec;
      if (stopping_) break;
      auto signal = std::make_unique<asio::cancellation_signal>();
      asio::cancellation_slot slot = signal->slot();
      live_.emplace(session->id, std::move(signal));
      ++outstanding_;
      const size_t first = first_record_[i];
      asio::co_spawn(
          io_, RunSession(session, first),
          asio::bind_cancellation_slot(slot, [this, id = session->id](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
            live_.erase(id);
            if (--outstanding_ == 0) done_timer_.cancel();
          }));
    }
    while (outstanding_ > 0) {
      done_timer_.expires_at(Clock::time_point::max());
      auto [ec] = co_await done_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)ec;
    }
    client_.reset();  // closes pooled connections; nothing is in flight
  }

  asio::awaitable<void> RunSession(const workload::Session* session, size_t first) {
    co_await asio::this_coro::throw_if_cancelled(false);
    History history;
    for (size_t t = 0; t < session->turns.size(); ++t) {
      report::RequestRecord& record = records_[first + t];
      if (t > 0) record.scheduled_s = records_[first + t - 1].end_s + session->think_s;
      // The request is built before its time comes, so a burst of large prompts goes out on
      // schedule instead of one body-build after another.
      const bool first_turn = t == 0;
      const bool keep_reply = t + 1 < session->turns.size();
      net::Request request = BuildRequest(session->turns[t], first_turn, &history);
      asio::steady_timer timer(io_);
      timer.expires_at(shared_->At(record.scheduled_s));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)ec;
      if (stopping_) co_return;
      co_await Send(&request, keep_reply, &history, &record);
      if (record.outcome != report::Outcome::kOk) co_return;  // later turns are not sent
    }
  }

  // The conversation so far: chat messages, or for completions the text so far.
  struct History {
    std::vector<tokenizer::ChatMessage> messages;
    std::string text;
  };

  std::string Body(const workload::Turn& turn, bool first_turn, History* history) const {
    // The first message gives up the chat template's tokens from its end.
    std::vector<workload::Segment> segments = turn.prompt;
    if (first_turn && shared_->options.api == Api::kChat) {
      int64_t trim = static_cast<int64_t>(shared_->chat_overhead);
      for (auto it = segments.rbegin(); it != segments.rend() && trim > 0; ++it) {
        const int64_t take = std::min(trim, it->tokens - (it + 1 == segments.rend() ? 1 : 0));
        it->tokens -= take;
        trim -= take;
      }
    }
    std::string content;
    for (const workload::Segment& s : segments) shared_->text->Append(s, &content);
    boost::json::object body;
    body["model"] = shared_->options.model;
    if (shared_->options.api == Api::kChat) {
      history->messages.push_back({"user", std::move(content)});
      boost::json::array messages;
      for (const tokenizer::ChatMessage& m : history->messages) {
        boost::json::object message;
        message["role"] = m.role;
        message["content"] = m.content;
        messages.push_back(std::move(message));
      }
      body["messages"] = std::move(messages);
    } else {
      history->text += content;
      body["prompt"] = history->text;
    }
    body["max_tokens"] = turn.output_tokens;
    body["ignore_eos"] = true;
    body["stream"] = true;
    boost::json::object stream_options;
    stream_options["include_usage"] = true;
    body["stream_options"] = std::move(stream_options);
    return boost::json::serialize(body);
  }

  net::Request BuildRequest(const workload::Turn& turn, bool first_turn, History* history) const {
    const Options& options = shared_->options;
    net::Request request(
        http::verb::post,
        options.target.base_path +
            (options.api == Api::kChat ? "/v1/chat/completions" : "/v1/completions"),
        11);
    request.set(http::field::content_type, "application/json");
    request.set(http::field::accept, "text/event-stream");
    for (const auto& [name, value] : options.headers) request.set(name, value);
    request.body() = Body(turn, first_turn, history);
    request.prepare_payload();
    return request;
  }

  asio::awaitable<void> Send(net::Request* request, bool keep_reply, History* history,
                             report::RequestRecord* record) {
    const Options& options = shared_->options;
    record->sent_s = shared_->Now();
    shared_->sent.fetch_add(1, std::memory_order_relaxed);
    shared_->in_flight.fetch_add(1, std::memory_order_relaxed);
    const Clock::time_point deadline = Clock::now() + options.request_timeout;
    net::HostPort upstream(options.target.host, options.target.port);
    Result<net::StreamingResponse> opened =
        co_await client_->Open(upstream, std::move(*request), deadline);
    std::string reply;
    std::optional<Error> failure = co_await Exchange(&opened, keep_reply, &reply, record);
    Finish(failure, record);
    if (record->outcome == report::Outcome::kOk && keep_reply) {
      if (options.api == Api::kChat) {
        history->messages.push_back({"assistant", std::move(reply)});
      } else {
        history->text += reply;
      }
    }
  }

  // Reads the response into *record; returns the failure, if any.
  asio::awaitable<std::optional<Error>> Exchange(Result<net::StreamingResponse>* opened,
                                                 bool keep_reply, std::string* reply,
                                                 report::RequestRecord* record) {
    // Stop() cancels the operation a session waits on; one that had already completed (its
    // resumption queued) or starts afterwards is caught by these checks.
    if (stopping_) co_return Interrupted();
    if (!*opened) co_return opened->error();
    net::StreamingResponse& response = **opened;
    record->status = static_cast<int>(response.status());
    if (auto pod = response.head().find("target-pod"); pod != response.head().end()) {
      record->replica = std::string(pod->value());
    }
    if (auto attempts = response.head().find("x-brix-attempt-count");
        attempts != response.head().end()) {
      const std::string_view v = attempts->value();
      int n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && n > 0) record->attempts = n;
    }
    const bool sse = response.head()[http::field::content_type].starts_with("text/event-stream");
    if (response.status() != 200 || !sse) {
      std::string body;
      while (body.size() < (1 << 20)) {
        Result<std::string_view> bytes = co_await response.Read();
        if (stopping_) co_return Interrupted();
        if (!bytes) co_return bytes.error();
        if (bytes->empty()) break;
        body.append(*bytes);
      }
      if (response.status() != 200)
        co_return MakeError(Errc::kInternal, ErrorReason(response.status(), body));
      // A whole JSON answer (the server ignored "stream"): usage only.
      boost::system::error_code ec;
      boost::json::value doc = boost::json::parse(body, ec);
      if (ec || !doc.is_object())
        co_return MakeError(Errc::kInternal, "200 with a body that is neither SSE nor JSON");
      record->first_token_s = shared_->Now();
      if (const boost::json::value* usage = doc.as_object().if_contains("usage");
          usage && usage->is_object()) {
        record->input_tokens =
            std::max<int64_t>(record->input_tokens, IntField(usage->as_object(), "prompt_tokens"));
        record->output_tokens =
            std::max<int64_t>(0, IntField(usage->as_object(), "completion_tokens"));
        record->cached_tokens = CachedTokens(usage->as_object());
      }
      co_return std::nullopt;
    }

    net::SseParser parser;
    double last_chunk = -1;
    bool done = false;
    bool usage_seen = false;
    std::vector<float> gaps;  // merged into the run's ITL histogram only if the request succeeds
    while (!done) {
      Result<std::string_view> bytes = co_await response.Read();
      if (stopping_) co_return Interrupted();
      if (!bytes) co_return bytes.error();
      if (bytes->empty()) break;
      parser.Feed(*bytes);
      while (true) {
        Result<std::optional<net::SseEvent>> next = parser.Next();
        if (!next) co_return next.error();
        if (!*next) break;
        const std::string_view data = (*next)->data;
        if (data == "[DONE]") {
          done = true;
          record->end_s = shared_->Now();
          continue;
        }
        boost::system::error_code ec;
        boost::json::value doc = boost::json::parse(data, ec);
        if (ec || !doc.is_object())
          co_return MakeError(Errc::kInternal, "an SSE event that is not JSON");
        const boost::json::object& chunk = doc.as_object();
        if (chunk.contains("error")) {
          const std::string message = EnvelopeMessage(doc);
          co_return MakeError(Errc::kInternal,
                              "error event: " + (message.empty() ? "no message" : message));
        }
        std::string_view text;
        const boost::json::value* choices = chunk.if_contains("choices");
        if (choices != nullptr && choices->is_array() && !choices->as_array().empty() &&
            choices->as_array()[0].is_object()) {
          const boost::json::object& choice = choices->as_array()[0].as_object();
          const boost::json::value* delta = choice.if_contains("delta");
          // Chat chunks carry delta.content; completion chunks carry text.
          const boost::json::value* t = delta != nullptr && delta->is_object()
                                            ? delta->as_object().if_contains("content")
                                            : choice.if_contains("text");
          if (t != nullptr && t->is_string()) text = t->as_string();
        }
        if (!text.empty()) {
          const double now = shared_->Now();
          if (record->first_token_s < 0) {
            record->first_token_s = now;
          } else {
            const double gap = now - last_chunk;
            gaps.push_back(static_cast<float>(gap));
            record->max_itl_s = std::max(record->max_itl_s, gap);
          }
          last_chunk = now;
          ++record->chunks;
          if (keep_reply) reply->append(text);
        }
        if (const boost::json::value* usage = chunk.if_contains("usage");
            usage && usage->is_object()) {
          const int64_t prompt = IntField(usage->as_object(), "prompt_tokens");
          const int64_t completion = IntField(usage->as_object(), "completion_tokens");
          if (prompt >= 0) record->input_tokens = prompt;
          if (completion >= 0) record->output_tokens = completion;
          record->cached_tokens = CachedTokens(usage->as_object());
          usage_seen = true;
        }
      }
    }
    if (!done) co_return MakeError(Errc::kInternal, "stream ended without [DONE]");
    // Read to the end of the body (the chunked terminator follows [DONE]) so that the connection
    // goes back to the pool instead of being closed.
    while (!response.done()) {
      Result<std::string_view> rest = co_await response.Read();
      if (!rest || rest->empty()) break;
    }
    if (!usage_seen) record->output_tokens = record->chunks;
    for (float gap : gaps) itl_.Record(gap);
    co_return std::nullopt;
  }

  void Finish(const std::optional<Error>& error, report::RequestRecord* record) {
    if (error || record->end_s < 0) record->end_s = shared_->Now();  // ok streams: at [DONE]
    shared_->in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (!error) {
      record->outcome = report::Outcome::kOk;
      shared_->ok.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (error->code == Errc::kCancelled) {
      record->outcome = report::Outcome::kAborted;
      record->error = "interrupted";
      shared_->aborted.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    record->outcome = report::Outcome::kFailed;
    record->error = error->code == Errc::kInternal ? error->message : ClientErrorReason(*error);
    shared_->failed.fetch_add(1, std::memory_order_relaxed);
  }

  Shared* shared_;
  std::vector<const workload::Session*> sessions_;
  std::vector<size_t> first_record_;  // index into records_ of each session's first turn
  std::vector<report::RequestRecord> records_;
  report::LatencyHistogram itl_;
  asio::io_context io_{1};
  std::unique_ptr<net::HttpClient> client_;
  asio::steady_timer scheduler_timer_;
  asio::steady_timer done_timer_;
  std::unordered_map<uint64_t, std::unique_ptr<asio::cancellation_signal>> live_;
  size_t outstanding_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

Runner::Runner(Options options, workload::Workload workload, const workload::PromptText& text,
               size_t chat_overhead_tokens)
    : shared_(std::make_unique<Shared>()) {
  shared_->options = std::move(options);
  shared_->workload = std::move(workload);
  shared_->text = &text;
  shared_->chat_overhead = chat_overhead_tokens;
  const int n = std::max(1, shared_->options.workers);
  std::vector<std::vector<const workload::Session*>> dealt(static_cast<size_t>(n));
  for (size_t i = 0; i < shared_->workload.sessions.size(); ++i) {
    dealt[i % dealt.size()].push_back(&shared_->workload.sessions[i]);
  }
  for (auto& sessions : dealt)
    workers_.push_back(std::make_unique<Worker>(shared_.get(), std::move(sessions)));
}

Runner::~Runner() {
  Stop();
  for (auto& w : workers_) w->Join();
}

void Runner::Start() {
  shared_->start = Clock::now();
  shared_->workers_running = static_cast<int>(workers_.size());
  for (auto& w : workers_) w->Start();
}

Progress Runner::progress() const {
  Progress p;
  p.total = shared_->workload.turn_count();
  p.sent = shared_->sent.load(std::memory_order_relaxed);
  p.ok = shared_->ok.load(std::memory_order_relaxed);
  p.failed = shared_->failed.load(std::memory_order_relaxed);
  p.aborted = shared_->aborted.load(std::memory_order_relaxed);
  p.in_flight = shared_->in_flight.load(std::memory_order_relaxed);
  p.elapsed_s = shared_->Now();
  p.last_arrival_s =
      shared_->workload.sessions.empty() ? 0 : shared_->workload.sessions.back().start_s;
  return p;
}

void Runner::Stop() {
  if (shared_->stopped.exchange(true)) return;
  for (auto& w : workers_) w->Stop();
}

bool Runner::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mutex);
  return shared_->done_cv.wait_for(lock, timeout, [&] { return shared_->workers_running == 0; });
}

Results Runner::Finish() {
  Results results;
  for (auto& w : workers_) w->Join();
  results.interrupted = shared_->stopped.load();
  for (auto& w : workers_) {
    auto& records = w->records();
    results.records.insert(results.records.end(), std::make_move_iterator(records.begin()),
                           std::make_move_iterator(records.end()));
    results.itl.Merge(w->itl());
  }
  std::sort(results.records.begin(), results.records.end(),
            [](const report::RequestRecord& a, const report::RequestRecord& b) {
              return std::tie(a.session, a.turn) < std::tie(b.session, b.turn);
            });
  return results;
}

}  // namespace brix::bench
