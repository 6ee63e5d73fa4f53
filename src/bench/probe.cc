// One-off calls made before and after a run: the target's model list and the engines' TTFT
// histograms. Each runs its own short-lived io_context on the calling thread.
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "bench/bench.h"
#include "metrics/parser.h"
#include "net/client.h"

namespace brix::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// GET `path` on `target` and return the whole response.
Result<net::Response> Get(const Target& target, const std::string& path,
                          std::chrono::milliseconds timeout) {
  asio::io_context io;
  net::ClientConfig config;
  config.connect_timeout = timeout;
  std::optional<Result<net::Response>> result;
  {
    net::HttpClient client(io.get_executor(), config);
    net::Request request(http::verb::get, target.base_path + path, 11);
    net::HostPort host(target.host, target.port);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          Result<net::Response> response = co_await client.Send(host, std::move(request), deadline);
          result.emplace(std::move(response));
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
  }
  if (!result) return Unavailable("the request did not complete");
  return std::move(*result);
}

constexpr std::string_view kTtftFamilies[] = {"vllm:time_to_first_token_seconds",
                                              "sglang:time_to_first_token_seconds"};

Result<metrics::HistogramData> ScrapeTtft(const Target& engine, std::chrono::milliseconds timeout,
                                          std::string* family) {
  Result<net::Response> response = Get(engine, "/metrics", timeout);
  if (!response) {
    return Unavailable(
        fmt::format("cannot scrape {}/metrics: {}", engine.ToString(), response.error().message));
  }
  if (response->result_int() != 200) {
    return Unavailable(
        fmt::format("{}/metrics answered HTTP {}", engine.ToString(), response->result_int()));
  }
  Result<metrics::ParsedPage> page = metrics::ParseText(response->body());
  if (!page)
    return Unavailable(fmt::format("{}/metrics: {}", engine.ToString(), page.error().message));
  for (std::string_view name : kTtftFamilies) {
    const metrics::ParsedFamily* f = page->Find(name);
    if (f == nullptr) continue;
    std::optional<metrics::HistogramData> h = f->ReadHistogram({});
    if (!h) continue;
    *family = std::string(name);
    return std::move(*h);
  }
  return NotFound(fmt::format("{}/metrics has no time-to-first-token histogram ({} or {})",
                              engine.ToString(), kTtftFamilies[0], kTtftFamilies[1]));
}

// a - b per bucket (same bounds by construction: the same engines, the same families).
metrics::HistogramData Subtract(const metrics::HistogramData& a, const metrics::HistogramData& b) {
  metrics::HistogramData d = a;
  d.sum -= b.sum;
  d.count -= b.count;
  for (auto& bucket : d.buckets) {
    for (const auto& old : b.buckets) {
      if (old.upper_bound == bucket.upper_bound) bucket.cumulative_count -= old.cumulative_count;
    }
  }
  return d;
}

void Add(metrics::HistogramData* total, const metrics::HistogramData& h) {
  total->sum += h.sum;
  total->count += h.count;
  for (const auto& bucket : h.buckets) {
    auto it = std::find_if(total->buckets.begin(), total->buckets.end(),
                           [&](const auto& b) { return b.upper_bound == bucket.upper_bound; });
    if (it == total->buckets.end()) {
      total->buckets.push_back(bucket);
    } else {
      it->cumulative_count += bucket.cumulative_count;
    }
  }
  std::sort(total->buckets.begin(), total->buckets.end(),
            [](const auto& x, const auto& y) { return x.upper_bound < y.upper_bound; });
}

}  // namespace

Result<std::vector<std::string>> ListModels(const Target& target,
                                            std::chrono::milliseconds timeout) {
  Result<net::Response> response = Get(target, "/v1/models", timeout);
  if (!response) {
    return Unavailable(
        fmt::format("cannot reach {}: {}", target.ToString(), response.error().message));
  }
  if (response->result_int() != 200) {
    return Unavailable(
        fmt::format("{} answered GET /v1/models with HTTP {}; is it an "
                    "OpenAI-compatible server?",
                    target.ToString(), response->result_int()));
  }
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(response->body(), ec);
  const boost::json::value* data = nullptr;
  if (!ec && doc.is_object()) data = doc.as_object().if_contains("data");
  if (data == nullptr || !data->is_array()) {
    return Unavailable(fmt::format("{}/v1/models is not an OpenAI model list", target.ToString()));
  }
  std::vector<std::string> ids;
  for (const boost::json::value& model : data->as_array()) {
    if (!model.is_object()) continue;
    const boost::json::value* id = model.as_object().if_contains("id");
    if (id != nullptr && id->is_string()) ids.emplace_back(id->as_string());
  }
  return ids;
}

struct ServerTtft::Baseline {
  std::vector<metrics::HistogramData> histograms;  // per engine
  std::string family;
};

Result<ServerTtft> ServerTtft::Begin(std::vector<Target> engines,
                                     std::chrono::milliseconds timeout) {
  auto baseline = std::make_shared<Baseline>();
  for (const Target& engine : engines) {
    std::string family;
    Result<metrics::HistogramData> h = ScrapeTtft(engine, timeout, &family);
    if (!h) return h.error();
    // Histograms of different engines (vLLM's and SGLang's buckets) cannot be added up.
    if (!baseline->family.empty() && family != baseline->family) {
      return InvalidArgument(
          fmt::format("{} exports {}, the engines before it {}: compare one kind "
                      "of engine at a time",
                      engine.ToString(), family, baseline->family));
    }
    baseline->family = family;
    baseline->histograms.push_back(std::move(*h));
  }
  ServerTtft s;
  s.engines_ = std::move(engines);
  s.baseline_ = std::move(baseline);
  return s;
}

Result<report::ServerSide> ServerTtft::End(std::chrono::milliseconds timeout) const {
  metrics::HistogramData total;
  std::string family;
  for (size_t i = 0; i < engines_.size(); ++i) {
    Result<metrics::HistogramData> h = ScrapeTtft(engines_[i], timeout, &family);
    if (!h) return h.error();
    if (family != baseline_->family) {
      return FailedPrecondition(fmt::format("{} now exports {} instead of {}",
                                            engines_[i].ToString(), family, baseline_->family));
    }
    Add(&total, Subtract(*h, baseline_->histograms[i]));
  }
  report::ServerSide side;
  side.name = fmt::format("{}, {} engine{}", baseline_->family, engines_.size(),
                          engines_.size() == 1 ? "" : "s");
  side.count = total.count;
  // No observations (an interrupted run, engines the target did not use): no numbers, which the
  // report prints as "-" and JSON as null.
  side.mean = total.count > 0 ? total.sum / total.count : std::nan("");
  side.p50 = total.Quantile(0.5);
  side.p90 = total.Quantile(0.9);
  side.p99 = total.Quantile(0.99);
  return side;
}

}  // namespace brix::bench
