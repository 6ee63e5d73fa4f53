// Readers for public LLM serving traces (formats in ../shared/traces/README.md):
//
//   Mooncake JSONL (kvcache-ai/Mooncake FAST25-release/traces/*.jsonl): one JSON object per line,
//     {"timestamp": ms, "input_length": tokens, "output_length": tokens, "hash_ids": [ids]};
//     hash_ids name 512-token prefix blocks, the last one partial. Other fields are ignored.
//   Azure LLM inference CSV (Azure/AzurePublicDataset AzureLLMInferenceTrace_*.csv, also the
//     2024 week-long files): a header naming TIMESTAMP, ContextTokens and GeneratedTokens in any
//     order, then one request per row; TIMESTAMP is "YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM|Z]"
//     or a number of seconds. No prefix information: every prompt is unique text.
//
// Each request becomes a one-turn session; arrivals are relative to the earliest request and
// sorted (stable, so equal timestamps keep file order). Errors are InvalidArgument naming the
// source, the 1-based line and the field: "trace.jsonl:17: input_length: expected an integer
// >= 1, got -3". Blank lines are skipped.
//
// Tolerated, because real files contain them: an output length of 0 is sent as 1 token (an
// engine cannot be asked for 0); a Mooncake line whose input_length disagrees with its number of
// blocks uses the blocks that fit, and unique text for any tokens beyond the last block.
#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "workload/workload.h"

namespace brix::workload {

inline constexpr int64_t kMooncakeBlockTokens = 512;
// Larger lengths are rejected as malformed (no model has a context this long).
inline constexpr int64_t kMaxTraceTokens = int64_t{1} << 22;

enum class TraceFormat { kMooncake, kAzure };

// "mooncake" or "azure" -> format; anything else InvalidArgument.
Result<TraceFormat> ParseTraceFormat(std::string_view name);

// `source` names the input in error messages (usually the file name).
Result<Workload> ReadMooncakeTrace(std::istream& in, std::string_view source);
Result<Workload> ReadAzureTrace(std::istream& in, std::string_view source);

// Reads a file; without a format, ".jsonl"/".json" is Mooncake and ".csv" Azure. NotFound when
// the file cannot be opened.
Result<Workload> LoadTrace(const std::filesystem::path& path,
                           std::optional<TraceFormat> format = std::nullopt);

}  // namespace brix::workload
