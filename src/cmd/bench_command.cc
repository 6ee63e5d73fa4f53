// `brix bench`: replay a trace or a synthetic workload against an OpenAI-compatible server and
// report latency percentiles, goodput and throughput (bench/bench.h, report/report.h).
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bench.h"
#include "cluster/cluster.h"
#include "cmd/commands.h"
#include "config/units.h"
#include "engine/profile.h"
#include "report/report.h"
#include "tokenizer/tokenizer.h"
#include "workload/prompt_text.h"
#include "workload/synthetic.h"
#include "workload/trace.h"

namespace brix::cmd {
namespace {

struct BenchFlags {
  std::string target;
  std::string model;
  std::string api = "chat";
  std::string trace;
  std::string trace_format;
  std::string from = "0s";
  std::string window = "0s";
  double speed = 1;
  bool spread_ties = false;
  // Synthetic.
  std::string arrival = "poisson";
  double rate = 0;
  std::string duration = "60s";
  std::string input_tokens = "512";
  std::string output_tokens = "128";
  int prefix_groups = 0;
  int64_t prefix_tokens = 0;
  int turns = 1;
  std::string think_time = "0s";
  uint64_t seed = 1;
  size_t max_requests = 0;
  // Run and report.
  std::string tokenizer_dir;
  int workers = 1;
  std::string request_timeout = "600s";
  std::vector<std::string> headers;
  std::string slo_ttft = "2s";
  std::string slo_itl = "100ms";
  std::string slo_e2e;
  std::vector<std::string> engine_metrics;
  std::string out_dir;
  bool json = false;
  bool no_progress = false;
};

Result<double> Seconds(std::string_view flag, const std::string& text, bool allow_zero) {
  auto d = config::ParseDuration(text);
  if (!d) return InvalidArgument(fmt::format("{}: {}", flag, d.error().message));
  const double s = std::chrono::duration<double>(*d).count();
  if (s < 0 || (!allow_zero && s == 0)) {
    return InvalidArgument(fmt::format("{}: must be {}", flag, allow_zero ? ">= 0" : "> 0"));
  }
  return s;
}

Result<workload::Workload> BuildWorkload(const BenchFlags& f) {
  if (!f.trace.empty() && f.rate > 0) {
    return InvalidArgument("--trace and --rate are exclusive: replay a trace or generate load");
  }
  if (f.trace.empty() && !(f.rate > 0)) {
    return InvalidArgument("say what to send: --trace FILE, or --rate R for synthetic load");
  }
  if (!(f.speed >= 1e-3) || !(f.speed <= 1e6)) {
    return InvalidArgument("--speed: must be in [0.001, 1e6]");
  }
  if (!f.trace.empty()) {
    std::optional<workload::TraceFormat> format;
    if (!f.trace_format.empty()) {
      Result<workload::TraceFormat> parsed = workload::ParseTraceFormat(f.trace_format);
      if (!parsed) return parsed.error();
      format = *parsed;
    }
    Result<workload::Workload> w = workload::LoadTrace(f.trace, format);
    if (!w) return w.error();
    Result<double> from = Seconds("--from", f.from, true);
    if (!from) return from.error();
    Result<double> window = Seconds("--window", f.window, true);
    if (!window) return window.error();
    const std::string description = w->description;
    workload::Workload out =
        workload::Speed(workload::Window(std::move(*w), *from, *window), f.speed);
    if (f.max_requests > 0) out = workload::Limit(std::move(out), f.max_requests);
    if (f.spread_ties) out = workload::SpreadTies(std::move(out));
    out.description = fmt::format("{}, from {} s{}{}{}: {} requests", description, *from,
                                  *window > 0 ? fmt::format(" for {} s", *window) : "",
                                  f.speed != 1 ? fmt::format(" at speed {}", f.speed) : "",
                                  f.spread_ties ? ", ties spread" : "", out.sessions.size());
    return out;
  }
  workload::SyntheticSpec spec;
  Result<workload::Arrival> arrival = workload::ParseArrival(f.arrival);
  if (!arrival) return InvalidArgument("--arrival: " + arrival.error().message);
  spec.arrival = *arrival;
  spec.rate = f.rate;
  Result<double> duration = Seconds("--duration", f.duration, false);
  if (!duration) return duration.error();
  spec.duration_s = *duration;
  Result<workload::Distribution> input = workload::ParseDistribution(f.input_tokens);
  if (!input) return InvalidArgument("--input-tokens: " + input.error().message);
  spec.input = *input;
  Result<workload::Distribution> output = workload::ParseDistribution(f.output_tokens);
  if (!output) return InvalidArgument("--output-tokens: " + output.error().message);
  spec.output = *output;
  spec.prefix_groups = f.prefix_groups;
  spec.prefix_tokens = f.prefix_tokens;
  spec.turns = f.turns;
  Result<double> think = Seconds("--think-time", f.think_time, true);
  if (!think) return think.error();
  spec.think_s = *think;
  spec.seed = f.seed;
  spec.max_sessions = f.max_requests;
  Result<workload::Workload> w = workload::GenerateSynthetic(spec);
  if (!w) return w.error();
  return workload::Speed(std::move(*w), f.speed);
}

Result<void> WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Unavailable(fmt::format("cannot write {}", path.string()));
  return {};
}

Result<report::Slo> ParseSlo(const BenchFlags& f) {
  report::Slo slo;
  for (auto [flag, text, bound] : {std::tuple{"--slo-ttft", &f.slo_ttft, &slo.ttft_s},
                                   std::tuple{"--slo-itl", &f.slo_itl, &slo.itl_s},
                                   std::tuple{"--slo-e2e", &f.slo_e2e, &slo.e2e_s}}) {
    if (text->empty() || *text == "none") continue;
    Result<double> s = Seconds(flag, *text, false);
    if (!s) return s.error();
    *bound = *s;
  }
  return slo;
}

// Prints the table (or JSON with --json) and writes --out; `extra_table` is appended to the
// table and `extra_json` merged into the JSON summary.
int EmitReport(const BenchFlags& f, const report::Summary& summary,
               std::span<const report::RequestRecord> records, const report::LatencyHistogram& itl,
               const std::string& extra_table, const boost::json::object& extra_json) {
  const std::string table = report::FormatTable(summary) + extra_table;
  boost::json::object json = report::ToJson(summary);
  for (const auto& [key, value] : extra_json) json[key] = value;
  if (f.json) {
    fmt::print("{}\n", boost::json::serialize(json));
  } else {
    fmt::print("\n{}", table);
  }
  if (f.out_dir.empty()) return kExitOk;
  boost::json::object full = report::ToJson(summary, records);
  for (const auto& [key, value] : extra_json) full[key] = value;
  const std::filesystem::path dir(f.out_dir);
  const std::pair<const char*, std::string> files[] = {
      {"summary.json", boost::json::serialize(full) + "\n"},
      {"report.txt", table},
      {"latency_cdf.svg", report::LatencyCdfSvg(records, itl)},
      {"ttft_over_time.svg", report::TtftOverTimeSvg(records)},
      {"throughput.svg", report::ThroughputSvg(summary)},
      {"requests.svg", report::RequestsSvg(summary)},
  };
  for (const auto& [name, content] : files) {
    Result<void> written = WriteFile(dir / name, content);
    if (!written) {
      fmt::print(stderr, "brix bench: {}\n", written.error().message);
      return kExitFailure;
    }
  }
  fmt::print(stderr, "brix bench: report written to {}/ (summary.json, report.txt, *.svg)\n",
             f.out_dir);
  return kExitOk;
}

Result<std::shared_ptr<const tokenizer::Tokenizer>> LoadTokenizer(const BenchFlags& f) {
  const std::string dir = f.tokenizer_dir.empty()
                              ? std::string(BRIX_DEFAULT_TOKENIZER_CACHE) + "/llama3"
                              : f.tokenizer_dir;
  auto tok = tokenizer::Tokenizer::LoadFiles(std::filesystem::path(dir) / "tokenizer.json");
  if (!tok) {
    return FailedPrecondition(fmt::format(
        "--tokenizer: {} (scripts/fetch-tokenizers fills .cache/tokenizers)", tok.error().message));
  }
  return *tok;
}

// Creates --out before the run, so that a bad directory fails before any work is done.
Result<void> PrepareOutDir(const BenchFlags& f) {
  if (f.out_dir.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(f.out_dir, ec);
  if (ec) return Unavailable(fmt::format("--out {}: {}", f.out_dir, ec.message()));
  return {};
}

// What both `brix bench` and `brix bench sim` replay: the workload and the text its prompts are
// made of. Errors carry the exit code they should end the command with.
struct Prepared {
  workload::Workload workload;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  std::optional<workload::PromptText> text;
};

Result<Prepared> PrepareWorkload(const BenchFlags& f, int* exit_code) {
  Prepared p;
  Result<workload::Workload> w = BuildWorkload(f);
  if (!w) {
    *exit_code = w.error().code == Errc::kNotFound ? kExitFailure : kExitUsage;
    return w.error();
  }
  if (w->sessions.empty()) {
    *exit_code = kExitUsage;
    return InvalidArgument("the workload is empty (check --from/--window)");
  }
  p.workload = std::move(*w);
  *exit_code = kExitFailure;
  Result<std::shared_ptr<const tokenizer::Tokenizer>> tok = LoadTokenizer(f);
  if (!tok) return tok.error();
  p.tokenizer = *tok;
  Result<workload::PromptText> text = workload::PromptText::Create(*p.tokenizer);
  if (!text) return InvalidArgument("--tokenizer: " + text.error().message);
  p.text.emplace(std::move(*text));
  return p;
}

struct SimFlags {
  int replicas = 0;  // 0: not given (4, or the counts in --profile)
  std::string profile = "h100/llama-3.1-8b";
  std::string data_dir;
  std::string routing_strategy = "least-request";
  std::string scrape_interval = "100ms";
  int max_num_seqs = 1024;
  int max_num_batched_tokens = 8192;
  uint64_t seed = 1;
};

// `brix bench sim`: the same workload and report, against simulated replicas in virtual time.
int RunClusterSim(BenchFlags& f, const SimFlags& s) {
  auto fail = [](const std::string& message, int code) {
    fmt::print(stderr, "brix bench sim: {}\n", message);
    return code;
  };
  Result<report::Slo> slo = ParseSlo(f);
  if (!slo) return fail(slo.error().message, kExitUsage);
  // --profile is one profile, or a mix with a replica count each: "h100/llama-3.1-8b:4,h200/...:2".
  std::vector<std::pair<std::string, int>> mix;
  {
    std::string_view rest = s.profile;
    bool counted = false;
    while (true) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      int count = 0;
      if (const size_t colon = item.rfind(':'); colon != std::string_view::npos) {
        const std::string_view n = item.substr(colon + 1);
        const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), count);
        if (ec != std::errc() || end != n.data() + n.size() || count < 1 || count > 4096) {
          return fail(fmt::format("--profile: replica count \"{}\" of \"{}\" is not in [1, 4096]",
                                  n, item.substr(0, colon)),
                      kExitUsage);
        }
        item = item.substr(0, colon);
        counted = true;
      }
      if (item.empty()) return fail("--profile: empty profile name", kExitUsage);
      mix.emplace_back(std::string(item), count);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (counted) {
      if (s.replicas != 0) {
        return fail("--replicas: not with replica counts in --profile", kExitUsage);
      }
      for (const auto& [name, count] : mix) {
        if (count == 0) {
          return fail(fmt::format("--profile: give \"{}\" a replica count too (name:N)", name),
                      kExitUsage);
        }
      }
    } else if (mix.size() > 1) {
      return fail("--profile: a mix of profiles needs a replica count for each (name:N,...)",
                  kExitUsage);
    } else {
      mix[0].second = s.replicas == 0 ? 4 : s.replicas;
    }
  }
  int total_replicas = 0;
  for (const auto& [name, count] : mix) total_replicas += count;
  if (total_replicas < 1 || total_replicas > 4096)
    return fail("--replicas: must be in [1, 4096]", kExitUsage);
  Result<double> scrape = Seconds("--scrape-interval", s.scrape_interval, false);
  if (!scrape) return fail(scrape.error().message, kExitUsage);
  int code = kExitOk;
  Result<Prepared> prepared = PrepareWorkload(f, &code);
  if (!prepared) return fail(prepared.error().message, code);
  const workload::Workload& workload = prepared->workload;
  const workload::PromptText& text = *prepared->text;
  const std::string data_dir = s.data_dir.empty() ? std::string(BRIX_DEFAULT_DATA_DIR) : s.data_dir;
  std::vector<engine::Profile> profiles;
  for (const auto& [name, count] : mix) {
    Result<engine::Profile> profile = engine::LoadProfile(data_dir, name);
    if (!profile) return fail("--profile: " + profile.error().message, kExitUsage);
    profiles.push_back(std::move(*profile));
  }

  if (Result<void> out = PrepareOutDir(f); !out) return fail(out.error().message, kExitFailure);

  cluster::ClusterConfig config;
  engine::EngineConfig engine_config;
  engine_config.max_num_seqs = s.max_num_seqs;
  engine_config.max_num_batched_tokens = s.max_num_batched_tokens;
  for (size_t m = 0; m < mix.size(); ++m) {
    for (int i = 0; i < mix[m].second; ++i) {
      const size_t index = config.replicas.size();
      config.replicas.push_back({fmt::format("replica-{}", index), profiles[m], engine_config});
    }
  }
  config.policy = s.routing_strategy;
  config.scrape_interval =
      std::chrono::duration_cast<base::Duration>(std::chrono::duration<double>(*scrape));
  config.seed = s.seed;
  const std::string description = workload.description;
  const auto started = std::chrono::steady_clock::now();
  Result<cluster::ClusterResult> result = cluster::Simulate(workload, text, config);
  if (!result) return fail(result.error().message, kExitUsage);
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  report::Summary summary = report::Summarize(result->records, result->itl, *slo);
  summary.workload = description;
  std::string fleet;
  for (const auto& [name, count] : mix) {
    fleet += fmt::format("{}{} x {}", fleet.empty() ? "" : " + ", count, name);
  }
  summary.target = fmt::format("simulated: {}, routing {}, scrape every {} ms", fleet,
                               s.routing_strategy, *scrape * 1000);
  std::string table = fmt::format("\n{:<12}{:>10}{:>16}{:>13}{:>10}\n", "replica", "requests",
                                  "prefix hit rate", "preemptions", "steps");
  boost::json::array replicas;
  for (const cluster::ReplicaReport& r : result->replicas) {
    const double hit_rate =
        r.prefix_cache_queries > 0
            ? static_cast<double>(r.prefix_cache_hits) / static_cast<double>(r.prefix_cache_queries)
            : 0.0;
    table += fmt::format("{:<12}{:>10}{:>15.1f}%{:>13}{:>10}\n", r.name, r.requests, hit_rate * 100,
                         r.preemptions, r.steps);
    boost::json::object o;
    o["name"] = r.name;
    o["requests"] = r.requests;
    o["prefix_cache_hit_rate"] = hit_rate;
    o["preemptions"] = r.preemptions;
    o["steps"] = r.steps;
    replicas.push_back(std::move(o));
  }
  table += fmt::format("\nsimulated  {:.1f} s of cluster time in {:.2f} s\n", result->simulated_s,
                       wall_s);
  boost::json::object extra;
  extra["cluster_replicas"] = std::move(replicas);
  extra["simulated_s"] = result->simulated_s;
  extra["wall_s"] = wall_s;
  return EmitReport(f, summary, result->records, result->itl, table, extra);
}

int RunBench(BenchFlags& f) {
  auto fail = [](const std::string& message, int code) {
    fmt::print(stderr, "brix bench: {}\n", message);
    return code;
  };
  if (f.target.empty()) return fail("--target is required (or use `brix bench sim`)", kExitUsage);
  Result<bench::Target> target = bench::ParseTarget(f.target);
  if (!target) return fail("--target: " + target.error().message, kExitUsage);
  Result<bench::Api> api = bench::ParseApi(f.api);
  if (!api) return fail("--api: " + api.error().message, kExitUsage);
  Result<double> timeout = Seconds("--request-timeout", f.request_timeout, false);
  if (!timeout) return fail(timeout.error().message, kExitUsage);
  Result<report::Slo> slo = ParseSlo(f);
  if (!slo) return fail(slo.error().message, kExitUsage);
  std::vector<std::pair<std::string, std::string>> headers;
  for (const std::string& h : f.headers) {
    const size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      return fail(fmt::format("--header '{}': expected 'Name: value'", h), kExitUsage);
    }
    auto trim = [](std::string text) {
      text.erase(0, text.find_first_not_of(" \t"));
      text.erase(text.find_last_not_of(" \t") + 1);
      return text;
    };
    const std::string name = trim(h.substr(0, colon));
    if (name.empty() || name.find_first_of(" \t") != std::string::npos) {
      return fail(fmt::format("--header '{}': bad field name", h), kExitUsage);
    }
    headers.emplace_back(name, trim(h.substr(colon + 1)));
  }
  std::vector<bench::Target> engines;
  for (const std::string& url : f.engine_metrics) {
    Result<bench::Target> engine = bench::ParseTarget(url);
    if (!engine) return fail("--engine-metrics: " + engine.error().message, kExitUsage);
    engines.push_back(*engine);
  }
  if (f.workers < 1 || f.workers > 64) return fail("--workers: must be in [1, 64]", kExitUsage);

  int code = kExitOk;
  Result<Prepared> prepared = PrepareWorkload(f, &code);
  if (!prepared) return fail(prepared.error().message, code);
  const workload::PromptText& text = *prepared->text;
  size_t overhead = 0;
  if (*api == bench::Api::kChat) {
    Result<size_t> o = bench::ChatTemplateOverhead(*prepared->tokenizer, text);
    if (!o) return fail(o.error().message, kExitFailure);
    overhead = *o;
  }

  // The target must answer before the clock starts.
  Result<std::vector<std::string>> models = bench::ListModels(*target, std::chrono::seconds(5));
  if (!models) return fail(models.error().message, kExitFailure);
  if (f.model.empty()) {
    if (models->empty())
      return fail(fmt::format("{} serves no model; name one with --model", target->ToString()),
                  kExitFailure);
    f.model = models->front();
  }
  std::optional<bench::ServerTtft> server_ttft;
  if (!engines.empty()) {
    Result<bench::ServerTtft> begun = bench::ServerTtft::Begin(engines, std::chrono::seconds(5));
    if (!begun) return fail("--engine-metrics: " + begun.error().message, kExitFailure);
    server_ttft = std::move(*begun);
  }
  if (Result<void> out = PrepareOutDir(f); !out) return fail(out.error().message, kExitFailure);
  RaiseOpenFileLimit();

  // SIGINT/SIGTERM are taken by this thread (sigtimedwait), never by the workers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string description = prepared->workload.description;
  fmt::print(stderr, "brix bench: {} -> {} (model {}, {} api)\n", description, target->ToString(),
             f.model, f.api);
  bench::Options options;
  options.target = *target;
  options.model = f.model;
  options.api = *api;
  options.headers = std::move(headers);
  options.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(*timeout * 1000));
  options.workers = f.workers;
  bench::Runner runner(std::move(options), std::move(prepared->workload), text, overhead);
  runner.Start();

  const bool tty = isatty(STDERR_FILENO) == 1 && !f.no_progress;
  double last_line = 0;
  bool interrupted = false;
  while (!runner.WaitFor(std::chrono::milliseconds(interrupted ? 100 : 0))) {
    timespec wait{0, 250'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig > 0) {
      if (interrupted) {
        fmt::print(stderr, "\nbrix bench: second signal, exiting without a report\n");
        _exit(130);
      }
      interrupted = true;
      fmt::print(stderr,
                 "\nbrix bench: interrupted; stopping and printing the partial report "
                 "(again to quit at once)\n");
      runner.Stop();
      continue;
    }
    const bench::Progress p = runner.progress();
    if (tty) {
      fmt::print(stderr, "\r{}\x1b[K", bench::FormatProgress(p, 30));
    } else if (!f.no_progress && p.elapsed_s - last_line >= 10) {
      last_line = p.elapsed_s;
      fmt::print(stderr, "brix bench: {}\n", bench::FormatProgress(p, 20));
    }
  }
  if (tty) fmt::print(stderr, "\r{}\x1b[K\n", bench::FormatProgress(runner.progress(), 30));
  bench::Results results = runner.Finish();

  report::Summary summary = report::Summarize(results.records, results.itl, *slo);
  summary.workload = description;
  summary.target = target->ToString();
  summary.interrupted = results.interrupted;
  if (server_ttft) {
    Result<report::ServerSide> side = server_ttft->End(std::chrono::seconds(5));
    if (side) {
      summary.server.push_back(*side);
    } else {
      fmt::print(stderr, "brix bench: --engine-metrics: {}\n", side.error().message);
    }
  }
  const int emitted = EmitReport(f, summary, results.records, results.itl, {}, {});
  if (emitted != kExitOk) return emitted;
  return results.interrupted ? 130 : kExitOk;
}

}  // namespace

Command AddBenchCommand(CLI::App& root) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* app = root.add_subcommand(
      "bench", "Replay a trace or synthetic load against an OpenAI-compatible server and report");
  app->add_option("--target", flags->target,
                  "base URL of the server, e.g. http://127.0.0.1:8000 (required unless `sim`)");
  app->add_option("--model", flags->model, "model to ask for (default: the first of /v1/models)");
  app->add_option("--api", flags->api, "chat or completions (default chat)");
  auto* trace = app->add_option("--trace", flags->trace,
                                "trace file: Mooncake .jsonl or Azure .csv (see --trace-format)");
  app->add_option("--trace-format", flags->trace_format,
                  "mooncake or azure (default: by extension)")
      ->needs(trace);
  app->add_option("--from", flags->from, "start this far into the trace (e.g. 10m)")->needs(trace);
  app->add_option("--window", flags->window,
                  "replay only this much of the trace (e.g. 2m; 0 = all)")
      ->needs(trace);
  app->add_option("--speed", flags->speed, "time compression: 2 = arrivals twice as fast");
  app->add_flag("--spread-ties", flags->spread_ties,
                "requests with the same timestamp are spread evenly over the trace's tick, in "
                "file order (so a real replay and `bench sim` see one order)")
      ->needs(trace);
  app->add_option("--rate", flags->rate, "synthetic: sessions per second");
  app->add_option("--arrival", flags->arrival, "synthetic: poisson or constant (default poisson)");
  app->add_option("--duration", flags->duration, "synthetic: arrivals for this long (default 60s)");
  app->add_option("--input-tokens", flags->input_tokens,
                  "synthetic: new prompt tokens per turn: N, uniform:LO:HI, normal:MEAN:SD, "
                  "exponential:MEAN (default 512)");
  app->add_option("--output-tokens", flags->output_tokens,
                  "synthetic: max_tokens per turn (default 128)");
  app->add_option("--prefix-groups", flags->prefix_groups,
                  "synthetic: sessions share one of N prefixes (system prompts)");
  app->add_option("--prefix-tokens", flags->prefix_tokens,
                  "synthetic: length of each shared prefix");
  app->add_option("--turns", flags->turns, "synthetic: turns per session (default 1)");
  app->add_option("--think-time", flags->think_time, "synthetic: from an answer to the next turn");
  app->add_option("--seed", flags->seed, "synthetic: random seed (default 1)");
  app->add_option("--max-requests", flags->max_requests, "send at most this many sessions");
  app->add_option(
      "--tokenizer", flags->tokenizer_dir,
      "directory with the target model's tokenizer.json (default .cache/tokenizers/llama3)");
  app->add_option("--workers", flags->workers, "generator threads (default 1)");
  app->add_option("--request-timeout", flags->request_timeout, "per request (default 600s)");
  app->add_option("--header", flags->headers, "'Name: value' added to every request (repeatable)");
  app->add_option("--slo-ttft", flags->slo_ttft, "goodput: time to first token bound (default 2s)");
  app->add_option("--slo-itl", flags->slo_itl,
                  "goodput: mean inter-token latency bound per request (default 100ms)");
  app->add_option("--slo-e2e", flags->slo_e2e, "goodput: end-to-end bound (default none)");
  app->add_option("--engine-metrics", flags->engine_metrics,
                  "engine base URL whose /metrics TTFT histogram to compare with (repeatable)");
  app->add_option("--out", flags->out_dir, "write summary.json, report.txt and SVG plots here");
  app->add_flag("--json", flags->json, "print the JSON summary instead of the table");
  app->add_flag("--no-progress", flags->no_progress, "no progress output on stderr");
  auto sim_flags = std::make_shared<SimFlags>();
  CLI::App* sim = app->add_subcommand(
      "sim", "The same workload and report against simulated replicas in virtual time");
  sim->fallthrough();  // the workload and report flags of `bench` work after `sim` too
  sim->add_option("--replicas", sim_flags->replicas, "engine replicas (default 4)");
  sim->add_option("--profile", sim_flags->profile,
                  "calibration profile <gpu>/<model>, or a mix with counts: "
                  "h100/llama-3.1-8b:4,h200/llama-3.1-8b:2");
  sim->add_option("--data-dir", sim_flags->data_dir,
                  "directory of profiles (default data/profiles)");
  sim->add_option("--routing-strategy", sim_flags->routing_strategy,
                  "router policy (default least-request)");
  sim->add_option("--scrape-interval", sim_flags->scrape_interval,
                  "how fresh the router's engine metrics are (default 100ms)");
  sim->add_option("--max-num-seqs", sim_flags->max_num_seqs, "per engine (default 1024)");
  sim->add_option("--max-num-batched-tokens", sim_flags->max_num_batched_tokens,
                  "per engine (default 8192)");
  sim->add_option("--router-seed", sim_flags->seed, "seed of the router's random draws");
  return {app, [flags, sim_flags, sim] {
            return sim->parsed() ? RunClusterSim(*flags, *sim_flags) : RunBench(*flags);
          }};
}

}  // namespace brix::cmd
