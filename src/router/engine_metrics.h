// Reading an engine's /metrics page into router::EngineMetrics, the one schema policies use for
// vLLM and SGLang.
//
//   Result<metrics::ParsedPage> page = metrics::ParseText(body);
//   if (page) endpoint_metrics = EngineMetricsFromPage(*page);
#pragma once

#include "metrics/parser.h"
#include "router/router.h"

namespace brix::router {

// Maps the families below and leaves a field nullopt when the page has none of its names. For
// each field the first name present wins (vLLM's current name, then its older ones, then
// SGLang's); counters are named as on the wire and also found declared without `_total`.
//
//   running                vllm:num_requests_running; sglang:num_running_reqs
//   waiting                vllm:num_requests_waiting; sglang:num_queue_reqs
//   kv_cache_usage         vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc (V0);
//                          sglang:token_usage
//   cpu_cache_usage        vllm:cpu_cache_usage_perc (V0)
//   prefix_cache_queries   vllm:prefix_cache_queries_total, vllm:gpu_prefix_cache_queries_total
//                          (0.8); SGLang: sglang:prompt_tokens_total if it has cached_tokens_total
//   prefix_cache_hits      vllm:prefix_cache_hits_total, vllm:gpu_prefix_cache_hits_total (0.8);
//                          sglang:cached_tokens_total
//   prompt_tokens          vllm:prompt_tokens_total; sglang:prompt_tokens_total
//   generation_tokens      vllm:generation_tokens_total; sglang:generation_tokens_total
//   preemptions            vllm:num_preemptions_total
//   prefix_cache_hit_rate  vllm:gpu_prefix_cache_hit_rate (V0); sglang:cache_hit_rate
//
// A page may hold several series of a family: data-parallel engines (`engine`, `dp_rank`), several
// models. Counts and counters are summed over them; usage fractions and hit rates are averaged,
// because the endpoint spreads requests over its engines, whose caches are equally sized, so the
// mean is the endpoint's pooled usage (a sum would exceed 1, a max would call an endpoint full
// while half its engines are idle). Series that differ only in `tp_rank` or `pp_rank` are one
// scheduler reported by each of its ranks (SGLang with --enable-metrics-for-all-schedulers) and
// count once, first in page order. Only value samples count (not `_created`); NaN samples are
// skipped. Pure; any thread.
EngineMetrics EngineMetricsFromPage(const metrics::ParsedPage& page);

}  // namespace brix::router
