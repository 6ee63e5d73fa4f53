#include "sim/sim.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "base/check.h"
#include "base/json.h"
#include "metrics/exposition.h"
#include "metrics/registry.h"
#include "net/http_status.h"
#include "net/router.h"
#include "openai/api_error.h"
#include "openai/requests.h"
#include "openai/responses.h"
#include "sim/engine_loop.h"
#include "sim/sim_metrics.h"
#include "sim/text_generator.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

namespace brix::sim {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using asio::awaitable;

namespace {

double Unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

uint64_t RandomU64() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

net::Response JsonResponse(unsigned status, std::string body) {
  net::Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

net::Response ApiErrorResponse(const openai::ApiError& error) {
  return JsonResponse(static_cast<unsigned>(error.status), openai::ErrorBody(error));
}

openai::FinishReason ToApi(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::kStop:
      return openai::FinishReason::kStop;
    case engine::FinishReason::kLength:
      return openai::FinishReason::kLength;
    case engine::FinishReason::kAbort:
      return openai::FinishReason::kAbort;
  }
  return openai::FinishReason::kAbort;
}

// Aborts the engine request when the serving coroutine ends early (client gone, error).
class AbortGuard {
 public:
  AbortGuard(EngineLoop* loop, engine::RequestId id) : loop_(loop), id_(id) {}
  ~AbortGuard() {
    if (!done_) loop_->Abort(id_);
  }
  AbortGuard(const AbortGuard&) = delete;
  AbortGuard& operator=(const AbortGuard&) = delete;
  void Done() { done_ = true; }

 private:
  EngineLoop* loop_;
  engine::RequestId id_;
  bool done_ = false;
};

// Finds the first stop string in `text` at or after `from`; returns its position and index.
std::optional<std::pair<size_t, size_t>> FindStop(const std::string& text, size_t from,
                                                  const std::vector<std::string>& stops) {
  std::optional<std::pair<size_t, size_t>> best;
  for (size_t i = 0; i < stops.size(); ++i) {
    size_t pos = text.find(stops[i], from);
    if (pos != std::string::npos && (!best || pos < best->first)) best = {{pos, i}};
  }
  return best;
}

}  // namespace

// One generation request, resolved and ready for the engine.
struct Generation {
  bool chat = true;
  std::string request_id;  // vLLM's base request id
  std::string model;       // as the response reports it
  std::string lora;
  std::vector<int32_t> prompt;
  openai::GenerationPlan plan;
  std::vector<std::string> stop;
  uint64_t seed = 0;
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;
};

struct Sim::Impl {
  SimOptions options;
  std::string served_name;
  engine::Profile profile;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  std::shared_ptr<const TextGenerator> text;
  tokenizer::TokenId eos_id = 0;
  int32_t max_model_len = 0;
  int64_t num_gpu_blocks = 0;
  int64_t created = 0;

  metrics::Registry registry;
  std::unique_ptr<SimMetrics> sim_metrics;
  std::unique_ptr<EngineLoop> loop;
  std::unique_ptr<net::Server> server;

  std::mutex mu;
  Faults faults;                                           // guarded by mu
  std::vector<std::pair<std::string, std::string>> loras;  // guarded by mu; load order
  int64_t generation_requests = 0;                         // guarded by mu

  // ---- helpers ----

  std::optional<std::string> LoraPath(std::string_view name) {
    std::lock_guard lock(mu);
    for (const auto& [n, p] : loras) {
      if (n == name) return p;
    }
    return std::nullopt;
  }

  // Resolves the request's `model` to (reported model, adapter) or vLLM's 404.
  openai::ApiResult<std::pair<std::string, std::string>> ResolveModel(
      const std::optional<std::string>& model) {
    if (!model || *model == served_name) return std::pair{served_name, std::string()};
    if (options.engine.enable_lora && LoraPath(*model)) return std::pair{*model, *model};
    return openai::ModelNotFound(*model);
  }

  // Applies the error-rate and crash faults to a generation request; returns an error to send.
  std::optional<openai::ApiError> ApplyFaults() {
    Faults f;
    int64_t n = 0;
    {
      std::lock_guard lock(mu);
      f = faults;
      n = ++generation_requests;
    }
    if (f.crash_after > 0 && n > f.crash_after) {
      std::fprintf(stderr, "brix sim: crashing on request %lld (--crash-after %lld)\n",
                   static_cast<long long>(n), static_cast<long long>(f.crash_after));
      std::fflush(stderr);
      std::_Exit(70);
    }
    if (f.error_rate > 0 && Unit(RandomU64()) < f.error_rate) {
      return openai::ApiError{
          .status = f.error_status,
          .type = f.error_status >= 500 ? "InternalServerError" : "BadRequestError",
          .message = "Simulated failure (brix sim error_rate fault).",
          .param = std::nullopt};
    }
    return std::nullopt;
  }

  // The natural answer length: tokens up to and including EOS, at least min_tokens + 1.
  int32_t NaturalLength(uint64_t seed, int64_t min_tokens) const {
    const double u = Unit(SplitMix64(seed ^ 0x5eed5eed5eedULL));
    const double mean = std::max(1, options.mean_output_tokens);
    const double draw = 1.0 + std::floor(-std::log1p(-u) * (mean - 1.0));
    const double n = std::max(draw, static_cast<double>(min_tokens) + 1.0);
    return static_cast<int32_t>(std::min(n, 1e9));
  }

  // ---- generation ----

  awaitable<void> Generate(Generation g, net::ResponseWriter w) {
    const int64_t max_tokens = g.plan.max_tokens;
    const int32_t natural = g.plan.ignore_eos ? 0 : NaturalLength(g.seed, g.plan.min_tokens);
    const bool eos_first = natural > 0 && natural <= max_tokens;
    const int64_t count = eos_first ? natural : max_tokens;
    // Token i of the answer: words, and EOS last when the answer ends naturally.
    std::vector<int32_t> ids;
    ids.reserve(static_cast<size_t>(std::min<int64_t>(count, 1 << 16)));
    for (int64_t i = 0; i < count && i < (1 << 16); ++i) {
      ids.push_back(eos_first && i == count - 1 ? eos_id : text->TokenAt(g.seed, i));
    }
    auto piece = [&](int64_t i) -> std::string_view {
      if (eos_first && i == count - 1) return {};
      return text->Text(text->TokenAt(g.seed, static_cast<uint64_t>(i)));
    };

    engine::Request req{.prompt = g.prompt,
                        .max_output_tokens = static_cast<int32_t>(max_tokens),
                        .output_tokens = natural,
                        .output_token_ids = std::move(ids),
                        .lora = g.lora,
                        .arrival = std::chrono::steady_clock::now()};
    const int64_t prompt_tokens = static_cast<int64_t>(g.prompt.size());
    auto stream = loop->Submit(std::move(req), co_await asio::this_coro::executor);
    AbortGuard guard(loop.get(), stream->id());

    const openai::ResponseMeta meta{
        .id = g.chat ? openai::ChatCompletionId(g.request_id) : openai::CompletionId(g.request_id),
        .created = static_cast<int64_t>(std::time(nullptr)),
        .model = g.model};
    size_t hold = 0;  // vLLM holds back max(len(stop)) - 1 characters while streaming
    for (const std::string& s : g.stop) hold = std::max(hold, s.size() > 0 ? s.size() - 1 : 0);

    std::string answer;
    size_t sent_chars = 0;
    int32_t tokens = 0;
    bool started = false;
    std::string buf;
    for (;;) {
      co_await stream->Wait();
      RequestStream::Progress p = stream->Read();
      if (p.error) {
        guard.Done();
        const openai::ApiError err =
            p.error->code == Errc::kInvalidArgument
                ? openai::BadRequest(p.error->message)
                : openai::ApiError{500, "InternalServerError", p.error->message, std::nullopt};
        if (!started) {
          net::Response response = ApiErrorResponse(err);
          co_await w.Send(std::move(response));
        } else {
          buf.clear();
          openai::AppendStreamError(err, &buf);
          openai::AppendDone(&buf);
          co_await w.Write(std::move(buf));
          co_await w.Finish();
        }
        co_return;
      }
      const size_t before = answer.size();
      for (int64_t i = tokens; i < p.output_tokens; ++i) answer += piece(i);
      tokens = p.output_tokens;

      std::optional<openai::FinishReason> finish;
      openai::StopReason stop_reason;
      if (!g.stop.empty()) {
        const size_t from = before > hold ? before - hold : 0;
        if (auto m = FindStop(answer, from, g.stop)) {
          answer.resize(m->first);
          finish = openai::FinishReason::kStop;
          stop_reason = g.stop[m->second];
          guard.Done();
          loop->Abort(stream->id());
        }
      }
      if (!finish && p.finished) {
        finish = ToApi(p.finished->reason);
        guard.Done();
      }
      const openai::Usage usage{.prompt_tokens = prompt_tokens,
                                .completion_tokens = tokens,
                                .cached_tokens = std::nullopt};
      openai::Usage final_usage = usage;
      if (options.enable_prompt_tokens_details && p.finished &&
          p.finished->cached_prompt_tokens > 0) {
        final_usage.cached_tokens = p.finished->cached_prompt_tokens;
      }

      if (!g.stream) {
        if (!finish) continue;
        const openai::Choice choice{.index = 0,
                                    .text = std::move(answer),
                                    .finish_reason = *finish,
                                    .stop_reason = stop_reason};
        net::Response response = JsonResponse(
            200, g.chat ? openai::ChatCompletionBody(meta, std::span(&choice, 1), final_usage)
                        : openai::TextCompletionBody(meta, std::span(&choice, 1), final_usage));
        co_await w.Send(std::move(response));
        co_return;
      }

      buf.clear();
      if (!started) {
        net::ResponseHead head;
        head.result(http::status::ok);
        head.set(http::field::content_type, "text/event-stream; charset=utf-8");
        Result<void> head_sent = co_await w.StartStream(std::move(head));
        if (!head_sent) co_return;
        started = true;
        if (g.chat) {
          const openai::Usage first{.prompt_tokens = prompt_tokens};
          openai::AppendChatRoleChunk(meta, 0, g.continuous_usage ? &first : nullptr, &buf);
        }
      }
      const size_t ready =
          finish ? answer.size() : (answer.size() > hold ? answer.size() - hold : size_t{0});
      if (ready > sent_chars || finish) {
        const std::string_view delta = std::string_view(answer).substr(
            sent_chars, ready > sent_chars ? ready - sent_chars : 0);
        const openai::Usage* cu = g.continuous_usage ? &usage : nullptr;
        const openai::FinishReason* fr = finish ? &*finish : nullptr;
        const openai::StopReason* sr = finish ? &stop_reason : nullptr;
        if (g.chat) {
          openai::AppendChatDeltaChunk(meta, 0, delta, fr, sr, cu, &buf);
        } else {
          openai::AppendCompletionChunk(meta, 0, delta, fr, sr, cu, &buf);
        }
        sent_chars = std::max(sent_chars, ready);
      }
      if (finish) {
        if (g.include_usage) {
          if (g.chat) {
            openai::AppendChatUsageChunk(meta, final_usage, &buf);
          } else {
            openai::AppendCompletionUsageChunk(meta, final_usage, &buf);
          }
        }
        openai::AppendDone(&buf);
      }
      // GCC 12 miscompiles co_await inside a condition (temporaries destroyed twice), so every
      // awaited result here is stored first.
      if (!buf.empty()) {
        Result<void> wrote = co_await w.Write(std::move(buf));
        if (!wrote) co_return;
      }
      if (finish) {
        co_await w.Finish();
        co_return;
      }
    }
  }

  std::string RequestId(const net::Request& req, const std::optional<std::string>& body_id) {
    if (auto it = req.find("x-request-id"); it != req.end() && !it->value().empty()) {
      return std::string(it->value());
    }
    if (body_id && !body_id->empty()) return *body_id;
    return openai::NewRequestId();
  }

  // Checks shared by the JSON POST routes: auth is done by the router wrapper; content type here.
  static std::optional<openai::ApiError> CheckJson(const net::Request& req) {
    auto it = req.find(http::field::content_type);
    if (it == req.end() || !openai::IsJsonContentType(it->value())) {
      return openai::UnsupportedMediaType();
    }
    return std::nullopt;
  }

  // Everything between the body and the engine, for both generation routes: parse, model,
  // faults, prompt ids, vLLM's length rules. Plain functions (not coroutines), so they can
  // return early; the error is what the route sends.
  template <typename Parsed>
  openai::ApiResult<Generation> MakeGeneration(const net::Request& req, const Parsed& parsed,
                                               const std::pair<std::string, std::string>& model,
                                               std::vector<int32_t> ids, bool chat) {
    auto plan = openai::ResolveGeneration(parsed, static_cast<int64_t>(ids.size()), max_model_len);
    if (!plan) return plan.error();
    if (plan->n != 1) return openai::BadRequest("brix sim serves n=1 only.", "n");
    return Generation{.chat = chat,
                      .request_id = RequestId(req, parsed.request_id),
                      .model = model.first,
                      .lora = model.second,
                      .prompt = std::move(ids),
                      .plan = *plan,
                      .stop = parsed.sampling.stop,
                      .seed = SeedOf(parsed.sampling.seed),
                      .stream = parsed.stream,
                      .include_usage = parsed.IncludeUsage(),
                      .continuous_usage = parsed.ContinuousUsage()};
  }

  openai::ApiResult<Generation> ResolveChat(const net::Request& req) {
    if (auto e = CheckJson(req)) return *e;
    auto parsed = openai::ParseChatCompletionRequest(req.body());
    if (!parsed) return parsed.error();
    auto model = ResolveModel(parsed->model);
    if (!model) return model.error();
    if (auto e = ApplyFaults()) return *e;
    std::vector<tokenizer::ChatMessage> messages;
    messages.reserve(parsed->messages.size());
    for (auto& m : parsed->messages) messages.push_back({std::move(m.role), std::move(m.content)});
    auto ids = tokenizer::EncodeChat(*tokenizer, messages, parsed->add_generation_prompt);
    if (!ids) return openai::BadRequest(ids.error().message);
    return MakeGeneration(req, *parsed, *model, std::vector<int32_t>(ids->begin(), ids->end()),
                          /*chat=*/true);
  }

  openai::ApiResult<Generation> ResolveCompletion(const net::Request& req) {
    if (auto e = CheckJson(req)) return *e;
    auto parsed = openai::ParseCompletionRequest(req.body());
    if (!parsed) return parsed.error();
    auto model = ResolveModel(parsed->model);
    if (!model) return model.error();
    if (parsed->prompts.size() != 1) {
      return openai::BadRequest("brix sim serves one prompt per request.", "prompt");
    }
    if (auto e = ApplyFaults()) return *e;
    const openai::CompletionPrompt& prompt = parsed->prompts[0];
    std::vector<int32_t> ids;
    if (prompt.is_tokens) {
      for (int64_t t : prompt.token_ids) {
        if (t < 0 || t >= static_cast<int64_t>(tokenizer->vocab_size())) {
          return openai::BadRequest(fmt::format("Token id {} is out of vocabulary", t), "prompt");
        }
        ids.push_back(static_cast<int32_t>(t));
      }
    } else {
      auto enc = tokenizer->Encode(prompt.text, {.add_special_tokens = parsed->add_special_tokens});
      if (!enc) return openai::BadRequest(enc.error().message);
      ids.assign(enc->begin(), enc->end());
    }
    return MakeGeneration(req, *parsed, *model, std::move(ids), /*chat=*/false);
  }

  awaitable<void> Chat(net::Request req, net::ResponseWriter w) {
    openai::ApiResult<Generation> g = ResolveChat(req);
    if (!g) {
      co_await SendApi(w, g.error());
      co_return;
    }
    co_await Generate(std::move(*g), std::move(w));
  }

  awaitable<void> Completion(net::Request req, net::ResponseWriter w) {
    openai::ApiResult<Generation> g = ResolveCompletion(req);
    if (!g) {
      co_await SendApi(w, g.error());
      co_return;
    }
    co_await Generate(std::move(*g), std::move(w));
  }

  uint64_t SeedOf(const std::optional<int64_t>& seed) const {
    if (seed) return SplitMix64(static_cast<uint64_t>(*seed));
    return options.seed != 0 ? SplitMix64(options.seed ^ RandomU64()) : RandomU64();
  }

  // Not a coroutine: the response is built now, and Send's frame owns it. (Coroutines here pass
  // only named objects to co_awaited calls: GCC 12 destroys some temporaries in a co_await
  // expression twice.)
  static awaitable<Result<void>> SendApi(net::ResponseWriter& w, const openai::ApiError& e) {
    return w.Send(ApiErrorResponse(e));
  }

  // The routes below answer with one whole response: plain functions, sent by Reply().
  using Answer = openai::ApiResult<net::Response>;

  Answer Models(const net::Request&) {
    std::vector<openai::ModelCard> cards;
    cards.push_back(openai::BaseModelCard(served_name, options.model, max_model_len, created));
    {
      std::lock_guard lock(mu);
      for (const auto& [name, path] : loras) {
        cards.push_back(openai::LoraModelCard(name, path, served_name, created));
      }
    }
    return JsonResponse(200, openai::ModelListBody(cards));
  }

  Answer Tokenize(const net::Request& req) {
    if (auto e = CheckJson(req)) return *e;
    auto parsed = openai::ParseTokenizeRequest(req.body());
    if (!parsed) return parsed.error();
    if (auto m = ResolveModel(parsed->model); !m) return m.error();
    Result<std::vector<tokenizer::TokenId>> ids = std::vector<tokenizer::TokenId>{};
    if (parsed->is_chat) {
      std::vector<tokenizer::ChatMessage> messages;
      for (auto& m : parsed->messages)
        messages.push_back({std::move(m.role), std::move(m.content)});
      ids = tokenizer::EncodeChat(*tokenizer, messages, parsed->add_generation_prompt);
    } else {
      ids = tokenizer->Encode(parsed->prompt, {.add_special_tokens = parsed->add_special_tokens});
    }
    if (!ids) return openai::BadRequest(ids.error().message);
    std::vector<int64_t> tokens(ids->begin(), ids->end());
    std::vector<std::string> strs;
    if (parsed->return_token_strs) {
      for (auto id : *ids) strs.emplace_back(tokenizer->IdToToken(id).value_or(""));
    }
    return JsonResponse(200, openai::TokenizeBody(tokens, max_model_len,
                                                  parsed->return_token_strs ? &strs : nullptr));
  }

  Answer Detokenize(const net::Request& req) {
    if (auto e = CheckJson(req)) return *e;
    auto parsed = openai::ParseDetokenizeRequest(req.body());
    if (!parsed) return parsed.error();
    if (auto m = ResolveModel(parsed->model); !m) return m.error();
    std::vector<tokenizer::TokenId> ids;
    for (int64_t t : parsed->tokens) {
      if (t >= static_cast<int64_t>(tokenizer->vocab_size())) {
        return openai::BadRequest(fmt::format("Token id {} is out of vocabulary", t), "tokens");
      }
      ids.push_back(static_cast<tokenizer::TokenId>(t));
    }
    auto text = tokenizer->Decode(ids);
    if (!text) return openai::BadRequest(text.error().message, "tokens");
    return JsonResponse(200, openai::DetokenizeBody(*text));
  }

  // vLLM answers the LoRA API with a bare text body (no Content-Type).
  static net::Response TextResponse(std::string body) {
    net::Response res{http::status::ok, 11};
    res.body() = std::move(body);
    return res;
  }

  Answer LoadLora(const net::Request& req) {
    if (auto e = CheckJson(req)) return *e;
    auto parsed = openai::ParseLoadLoraRequest(req.body());
    if (!parsed) return parsed.error();
    std::lock_guard lock(mu);
    auto it = std::find_if(loras.begin(), loras.end(),
                           [&](const auto& l) { return l.first == parsed->lora_name; });
    if (auto err = openai::ValidateLoadLora(*parsed, it != loras.end())) return *err;
    if (parsed->lora_name == served_name) return openai::LoraAlreadyLoaded(parsed->lora_name);
    if (it != loras.end()) {
      it->second = parsed->lora_path;  // load_inplace
    } else {
      loras.emplace_back(parsed->lora_name, parsed->lora_path);
    }
    return TextResponse(openai::LoraLoadedText(parsed->lora_name));
  }

  Answer UnloadLora(const net::Request& req) {
    if (auto e = CheckJson(req)) return *e;
    auto parsed = openai::ParseUnloadLoraRequest(req.body());
    if (!parsed) return parsed.error();
    std::lock_guard lock(mu);
    auto it = std::find_if(loras.begin(), loras.end(),
                           [&](const auto& l) { return l.first == parsed->lora_name; });
    if (auto err = openai::ValidateUnloadLora(*parsed, it != loras.end())) return *err;
    loras.erase(it);
    return TextResponse(openai::LoraUnloadedText(parsed->lora_name));
  }

  std::string FaultsJson() {
    std::lock_guard lock(mu);
    json::object o;
    o["slowdown"] = faults.slowdown;
    o["error_rate"] = faults.error_rate;
    o["error_status"] = faults.error_status;
    o["crash_after"] = faults.crash_after;
    o["hang"] = faults.hang;
    o["kv_cache_blocks"] = faults.kv_cache_blocks;
    o["generation_requests"] = generation_requests;
    return json::serialize(o);
  }

  // POST /admin/faults: a JSON object with any of the Faults fields; all are validated before
  // any takes effect. Errors use Brix's own envelope (this is not a vLLM route).
  Answer SetFaults(const net::Request& req) {
    auto bad = [](std::string msg) { return JsonResponse(400, net::ErrorBody(400, msg)); };
    boost::system::error_code ec;
    // Read exactly: Boost's own parse reads 0e999 as NaN and a 0.1 one ulp off.
    json::value v = ParseJsonExact(req.body(), ec);
    if (ec == json::error::exponent_overflow) return bad("numbers must fit a double");
    if (ec || !v.is_object()) return bad("body must be a JSON object");
    Faults f;
    {
      std::lock_guard lock(mu);
      f = faults;
    }
    for (const json::key_value_pair& field : v.as_object()) {
      const std::string_view key = field.key();
      const json::value& value = field.value();
      std::optional<double> number;
      if (value.is_double()) number = value.get_double();
      if (value.is_int64()) number = static_cast<double>(value.get_int64());
      if (value.is_uint64()) number = static_cast<double>(value.get_uint64());
      if (key == "slowdown") {
        if (!number || !(*number > 0) || *number > 1e6)
          return bad("slowdown: must be a number > 0");
        f.slowdown = *number;
      } else if (key == "error_rate") {
        // Written so that NaN fails too, should one ever arrive: JSON cannot carry it back.
        if (!number || !(*number >= 0 && *number <= 1)) {
          return bad("error_rate: must be a number in [0, 1]");
        }
        f.error_rate = *number;
      } else if (key == "error_status") {
        if (!value.is_int64() || value.get_int64() < 400 || value.get_int64() > 599) {
          return bad("error_status: must be an integer in [400, 599]");
        }
        f.error_status = static_cast<int>(value.get_int64());
      } else if (key == "crash_after") {
        if (!value.is_int64() || value.get_int64() < 0) {
          return bad("crash_after: must be an integer >= 0");
        }
        f.crash_after = value.get_int64();
      } else if (key == "hang") {
        if (!value.is_bool()) return bad("hang: must be true or false");
        f.hang = value.get_bool();
      } else if (key == "kv_cache_blocks") {
        if (!value.is_int64() || value.get_int64() < 0 || value.get_int64() == 1) {
          return bad("kv_cache_blocks: must be 0 (as started) or an integer >= 2");
        }
        f.kv_cache_blocks = value.get_int64();
      } else {
        return bad(fmt::format("{}: unknown field", key));
      }
    }
    ApplyEngineFaults(f);
    return JsonResponse(200, FaultsJson());
  }

  void ApplyEngineFaults(const Faults& f) {
    Faults old;
    {
      std::lock_guard lock(mu);
      old = faults;
      faults = f;
    }
    if (f.slowdown != old.slowdown) loop->SetSlowdown(f.slowdown);
    if (f.hang != old.hang) loop->SetHang(f.hang);
    if (f.kv_cache_blocks != old.kv_cache_blocks) loop->SetKvCapacity(f.kv_cache_blocks);
  }

  net::Handler Build() {
    net::Router router;
    auto bind = [this](awaitable<void> (Impl::*fn)(net::Request, net::ResponseWriter)) {
      return [this, fn](net::Request req, net::ResponseWriter w) -> awaitable<void> {
        return (this->*fn)(std::move(req), std::move(w));
      };
    };
    // A route answered by a plain function: one coroutine sends what it returns.
    auto reply = [this](Answer (Impl::*fn)(const net::Request&)) {
      return [this, fn](net::Request req, net::ResponseWriter w) -> awaitable<void> {
        Answer answer = (this->*fn)(req);
        net::Response response = answer ? std::move(*answer) : ApiErrorResponse(answer.error());
        co_await w.Send(std::move(response));
      };
    };
    router.Add(http::verb::post, "/v1/chat/completions", bind(&Impl::Chat));
    router.Add(http::verb::post, "/v1/completions", bind(&Impl::Completion));
    router.Add(http::verb::get, "/v1/models", reply(&Impl::Models));
    router.Add(http::verb::post, "/tokenize", reply(&Impl::Tokenize));
    router.Add(http::verb::post, "/detokenize", reply(&Impl::Detokenize));
    if (options.engine.enable_lora) {
      router.Add(http::verb::post, "/v1/load_lora_adapter", reply(&Impl::LoadLora));
      router.Add(http::verb::post, "/v1/unload_lora_adapter", reply(&Impl::UnloadLora));
    }
    router.Add(http::verb::get, "/health",
               [](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response res{http::status::ok, 11};
                 co_await w.Send(std::move(res));
               });
    router.Add(http::verb::get, "/version",
               [this](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response response =
                     JsonResponse(200, openai::VersionBody(options.vllm_version));
                 co_await w.Send(std::move(response));
               });
    router.Add(http::verb::get, "/metrics",
               [this](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response res{http::status::ok, 11};
                 res.set(http::field::content_type, metrics::kContentType);
                 res.body() = metrics::RenderText(registry);
                 co_await w.Send(std::move(res));
               });
    router.Add(http::verb::get, "/admin/faults",
               [this](net::Request, net::ResponseWriter w) -> awaitable<void> {
                 net::Response response = JsonResponse(200, FaultsJson());
                 co_await w.Send(std::move(response));
               });
    router.Add(http::verb::post, "/admin/faults", reply(&Impl::SetFaults));
    router.SetDefault([](net::Request, net::ResponseWriter w) -> awaitable<void> {
      // FastAPI's answer for an unknown route.
      net::Response response = JsonResponse(404, R"({"detail":"Not Found"})");
      co_await w.Send(std::move(response));
    });
    net::Handler routes = router.Build();
    if (options.api_key.empty()) return routes;
    // vLLM's --api-key middleware: only /v1 paths, and a bare string error.
    const std::string expected = "Bearer " + options.api_key;
    return [routes, expected](net::Request req, net::ResponseWriter w) -> awaitable<void> {
      if (net::TargetPath(req.target()).starts_with("/v1")) {
        auto it = req.find(http::field::authorization);
        if (it == req.end() || it->value() != expected) {
          net::Response response = JsonResponse(401, R"({"error":"Unauthorized"})");
          co_await w.Send(std::move(response));
          co_return;
        }
      }
      co_await routes(std::move(req), std::move(w));
    };
  }
};

Result<std::unique_ptr<Sim>> Sim::Create(SimOptions options) {
  // CLI11's range check lets "nan" through; /admin/faults could not then answer in JSON.
  if (!(options.faults.error_rate >= 0 && options.faults.error_rate <= 1)) {
    return InvalidArgument("--error-rate: must be in [0, 1]");
  }
  auto impl = std::make_unique<Impl>();
  auto profile = engine::LoadProfile(options.data_dir, options.profile);
  if (!profile) {
    return Error{profile.error().code,
                 "--profile " + options.profile + ": " + profile.error().message};
  }
  impl->profile = std::move(*profile);
  auto tok = tokenizer::Tokenizer::LoadDirectory(options.tokenizer_dir);
  if (!tok) {
    return Error{tok.error().code, "--tokenizer " + options.tokenizer_dir.string() + ": " +
                                       tok.error().message +
                                       " (scripts/fetch-tokenizers downloads the tokenizers)"};
  }
  impl->tokenizer = std::move(*tok);
  auto text = TextGenerator::Create(*impl->tokenizer);
  if (!text) return text.error();
  impl->text = std::move(*text);
  const auto& meta = impl->tokenizer->metadata();
  if (meta.eos_token_id) {
    impl->eos_id = *meta.eos_token_id;
  } else if (auto id = impl->tokenizer->TokenToId("<|eot_id|>")) {
    impl->eos_id = *id;
  } else if (auto id2 = impl->tokenizer->TokenToId("<|im_end|>")) {
    impl->eos_id = *id2;
  }
  options.engine.enable_lora = options.engine.enable_lora || !options.lora_modules.empty();
  if (options.faults.kv_cache_blocks > 0) {
    options.engine.num_gpu_blocks_override = options.faults.kv_cache_blocks;
  }
  options.engine.slowdown = options.faults.slowdown;
  auto engine = engine::Engine::Create(impl->profile, options.engine);
  if (!engine) return engine.error();
  impl->max_model_len = engine->max_model_len();
  impl->num_gpu_blocks = engine->GetStats().num_gpu_blocks;
  impl->served_name = options.served_model_name.empty() ? options.model : options.served_model_name;
  impl->created = static_cast<int64_t>(std::time(nullptr));
  impl->loras = options.lora_modules;
  impl->faults = options.faults;
  impl->faults.kv_cache_blocks = options.faults.kv_cache_blocks;

  // Metrics first: the loop's observer feeds them from its first step on; their scrape-time
  // callbacks read the loop's stats, and scrapes begin only after Start().
  Impl* raw = impl.get();
  impl->sim_metrics = std::make_unique<SimMetrics>(
      &impl->registry, impl->served_name, impl->max_model_len, options.engine, impl->num_gpu_blocks,
      [raw] { return raw->loop->stats(); });
  SimMetrics* sim_metrics = impl->sim_metrics.get();
  impl->loop = std::make_unique<EngineLoop>(
      std::move(*engine),
      [sim_metrics](const EngineLoop::StepReport& report) { sim_metrics->OnStep(report); });
  if (options.faults.hang) impl->loop->SetHang(true);
  impl->options = std::move(options);
  return std::unique_ptr<Sim>(new Sim(std::move(impl)));
}

Sim::Sim(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Sim::~Sim() { Stop(); }

Result<uint16_t> Sim::Start() {
  if (impl_->options.startup_delay.count() > 0) {
    std::this_thread::sleep_for(impl_->options.startup_delay);
  }
  impl_->server = std::make_unique<net::Server>(impl_->options.server, impl_->Build());
  return impl_->server->Start();
}

void Sim::Stop() {
  if (impl_->server) impl_->server->Stop();
  if (impl_->loop) impl_->loop->Stop();
}

int64_t Sim::num_gpu_blocks() const { return impl_->num_gpu_blocks; }
int32_t Sim::max_model_len() const { return impl_->max_model_len; }

}  // namespace brix::sim
