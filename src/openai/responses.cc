#include "openai/responses.h"

#include "base/ids.h"
#include "openai/internal/json_text.h"

namespace brix::openai {
namespace {

using internal::AppendInt;
using internal::AppendJsonString;

void AppendStopReason(const StopReason& reason, std::string* out) {
  if (const auto* s = std::get_if<std::string>(&reason)) {
    AppendJsonString(*s, out);
  } else if (const auto* id = std::get_if<int64_t>(&reason)) {
    AppendInt(*id, out);
  } else {
    out->append("null");
  }
}

// UsageInfo in declaration order: prompt_tokens, total_tokens, completion_tokens,
// prompt_tokens_details. `details_null`: write "prompt_tokens_details":null when there is no
// cached count (model_dump without exclusions); otherwise leave it out.
void AppendUsage(const Usage& usage, bool details_null, std::string* out) {
  out->append("{\"prompt_tokens\":");
  AppendInt(usage.prompt_tokens, out);
  out->append(",\"total_tokens\":");
  AppendInt(usage.prompt_tokens + usage.completion_tokens, out);
  out->append(",\"completion_tokens\":");
  AppendInt(usage.completion_tokens, out);
  if (usage.cached_tokens) {
    out->append(",\"prompt_tokens_details\":{\"cached_tokens\":");
    AppendInt(*usage.cached_tokens, out);
    out->append("}");
  } else if (details_null) {
    out->append(",\"prompt_tokens_details\":null");
  }
  out->push_back('}');
}

// {"id":..,"object":..,"created":..,"model":..,"choices":[   (left open)
void AppendHead(const ResponseMeta& meta, std::string_view object, std::string* out) {
  out->append("{\"id\":");
  AppendJsonString(meta.id, out);
  out->append(",\"object\":\"");
  out->append(object);
  out->append("\",\"created\":");
  AppendInt(meta.created, out);
  out->append(",\"model\":");
  AppendJsonString(meta.model, out);
  out->append(",\"choices\":[");
}

constexpr std::string_view kChunkObject = "chat.completion.chunk";
constexpr std::string_view kCompletionObject = "text_completion";

}  // namespace

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
  }
  return "stop";
}

std::string ChatCompletionId(std::string_view request_id) {
  return "chatcmpl-" + std::string(request_id);
}
std::string CompletionId(std::string_view request_id) { return "cmpl-" + std::string(request_id); }
std::string NewRequestId() { return base::NewRequestId(); }

std::string ChatCompletionBody(const ResponseMeta& meta, std::span<const Choice> choices,
                               const Usage& usage) {
  // ChatCompletionResponse.model_dump() (chat_completion/protocol.py). ChatMessage drops an
  // empty tool_calls list in its serializer.
  std::string out;
  out.reserve(512);
  AppendHead(meta, "chat.completion", &out);
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    if (i != 0) out.push_back(',');
    out.append("{\"index\":");
    AppendInt(c.index, &out);
    out.append(",\"message\":{\"role\":\"assistant\",\"content\":");
    AppendJsonString(c.text, &out);
    out.append(
        ",\"refusal\":null,\"annotations\":null,\"audio\":null,\"function_call\":null,"
        "\"reasoning\":null},\"logprobs\":null,\"finish_reason\":\"");
    out.append(FinishReasonName(c.finish_reason));
    out.append("\",\"stop_reason\":");
    AppendStopReason(c.stop_reason, &out);
    out.append(",\"token_ids\":null,\"routed_experts\":null}");
  }
  out.append("],\"service_tier\":null,\"system_fingerprint\":null,\"usage\":");
  AppendUsage(usage, true, &out);
  out.append(
      ",\"prompt_logprobs\":null,\"prompt_token_ids\":null,\"prompt_text\":null,"
      "\"kv_transfer_params\":null,\"ec_transfer_params\":null,\"metrics\":null}");
  return out;
}

std::string TextCompletionBody(const ResponseMeta& meta, std::span<const Choice> choices,
                               const Usage& usage) {
  // CompletionResponse.model_dump() (completion/protocol.py).
  std::string out;
  out.reserve(512);
  AppendHead(meta, kCompletionObject, &out);
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    if (i != 0) out.push_back(',');
    out.append("{\"index\":");
    AppendInt(c.index, &out);
    out.append(",\"text\":");
    AppendJsonString(c.text, &out);
    out.append(",\"logprobs\":null,\"finish_reason\":\"");
    out.append(FinishReasonName(c.finish_reason));
    out.append("\",\"stop_reason\":");
    AppendStopReason(c.stop_reason, &out);
    out.append(
        ",\"token_ids\":null,\"prompt_logprobs\":null,\"prompt_token_ids\":null,"
        "\"routed_experts\":null}");
  }
  out.append("],\"service_tier\":null,\"system_fingerprint\":null,\"usage\":");
  AppendUsage(usage, true, &out);
  out.append(",\"kv_transfer_params\":null,\"ec_transfer_params\":null,\"metrics\":null}");
  return out;
}

void AppendChatRoleChunk(const ResponseMeta& meta, int64_t index, const Usage* usage,
                         std::string* out) {
  out->append("data: ");
  AppendHead(meta, kChunkObject, out);
  out->append("{\"index\":");
  AppendInt(index, out);
  out->append(
      ",\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
      "\"finish_reason\":null}]");
  if (usage != nullptr) {
    out->append(",\"usage\":");
    AppendUsage(*usage, false, out);
  }
  // The first chunk passes prompt_token_ids explicitly (None unless return_token_ids).
  out->append(",\"prompt_token_ids\":null}\n\n");
}

void AppendChatDeltaChunk(const ResponseMeta& meta, int64_t index, std::string_view delta,
                          const FinishReason* finish, const StopReason* stop_reason,
                          const Usage* usage, std::string* out) {
  out->append("data: ");
  AppendHead(meta, kChunkObject, out);
  out->append("{\"index\":");
  AppendInt(index, out);
  out->append(",\"delta\":{\"content\":");
  AppendJsonString(delta, out);
  out->append("},\"logprobs\":null,\"finish_reason\":");
  if (finish != nullptr) {
    out->push_back('"');
    out->append(FinishReasonName(*finish));
    out->append("\",\"stop_reason\":");
    if (stop_reason != nullptr) {
      AppendStopReason(*stop_reason, out);
    } else {
      out->append("null");
    }
  } else {
    out->append("null");
  }
  out->append(",\"token_ids\":null}]");
  if (usage != nullptr) {
    out->append(",\"usage\":");
    AppendUsage(*usage, false, out);
  }
  out->append("}\n\n");
}

void AppendChatUsageChunk(const ResponseMeta& meta, const Usage& usage, std::string* out) {
  out->append("data: ");
  AppendHead(meta, kChunkObject, out);
  out->append("],\"usage\":");
  AppendUsage(usage, false, out);
  out->append("}\n\n");
}

void AppendCompletionChunk(const ResponseMeta& meta, int64_t index, std::string_view text,
                           const FinishReason* finish, const StopReason* stop_reason,
                           const Usage* usage, std::string* out) {
  out->append("data: ");
  AppendHead(meta, kCompletionObject, out);
  out->append("{\"index\":");
  AppendInt(index, out);
  out->append(",\"text\":");
  AppendJsonString(text, out);
  out->append(",\"logprobs\":null,\"finish_reason\":");
  if (finish != nullptr) {
    out->push_back('"');
    out->append(FinishReasonName(*finish));
    out->push_back('"');
  } else {
    out->append("null");
  }
  out->append(",\"stop_reason\":");
  if (stop_reason != nullptr) {
    AppendStopReason(*stop_reason, out);
  } else {
    out->append("null");
  }
  out->append(",\"prompt_token_ids\":null,\"token_ids\":null}],\"usage\":");
  if (usage != nullptr) {
    AppendUsage(*usage, true, out);
  } else {
    out->append("null");
  }
  out->append(",\"system_fingerprint\":null,\"metrics\":null}\n\n");
}

void AppendCompletionUsageChunk(const ResponseMeta& meta, const Usage& usage, std::string* out) {
  out->append("data: ");
  AppendHead(meta, kCompletionObject, out);
  out->append("],\"usage\":");
  AppendUsage(usage, false, out);
  out->append("}\n\n");
}

void AppendDone(std::string* out) { out->append("data: [DONE]\n\n"); }

ModelCard BaseModelCard(std::string id, std::string root, int64_t max_model_len, int64_t created) {
  return ModelCard{std::move(id), created,       std::move(root),
                   std::nullopt,  max_model_len, "modelperm-" + base::NewRequestId()};
}

ModelCard LoraModelCard(std::string name, std::string path, std::string parent, int64_t created) {
  return ModelCard{std::move(name),   created,      std::move(path),
                   std::move(parent), std::nullopt, "modelperm-" + base::NewRequestId()};
}

std::string ModelListBody(std::span<const ModelCard> cards) {
  // ModelList.model_dump() (serve/engine/protocol.py: ModelCard, ModelPermission).
  std::string out = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < cards.size(); ++i) {
    const ModelCard& c = cards[i];
    if (i != 0) out.push_back(',');
    out.append("{\"id\":");
    AppendJsonString(c.id, &out);
    out.append(",\"object\":\"model\",\"created\":");
    AppendInt(c.created, &out);
    out.append(",\"owned_by\":\"vllm\",\"root\":");
    if (c.root) {
      AppendJsonString(*c.root, &out);
    } else {
      out.append("null");
    }
    out.append(",\"parent\":");
    if (c.parent) {
      AppendJsonString(*c.parent, &out);
    } else {
      out.append("null");
    }
    out.append(",\"max_model_len\":");
    if (c.max_model_len) {
      AppendInt(*c.max_model_len, &out);
    } else {
      out.append("null");
    }
    out.append(",\"permission\":[{\"id\":");
    AppendJsonString(c.permission_id, &out);
    out.append(",\"object\":\"model_permission\",\"created\":");
    AppendInt(c.created, &out);
    out.append(
        ",\"allow_create_engine\":false,\"allow_sampling\":true,\"allow_logprobs\":true,"
        "\"allow_search_indices\":false,\"allow_view\":true,\"allow_fine_tuning\":false,"
        "\"organization\":\"*\",\"group\":null,\"is_blocking\":false}]}");
  }
  out.append("]}");
  return out;
}

std::string TokenizeBody(std::span<const int64_t> tokens, int64_t max_model_len,
                         const std::vector<std::string>* token_strs) {
  std::string out = "{\"count\":";
  out.reserve(32 + tokens.size() * 7);
  AppendInt(static_cast<int64_t>(tokens.size()), &out);
  out.append(",\"max_model_len\":");
  AppendInt(max_model_len, &out);
  out.append(",\"tokens\":[");
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i != 0) out.push_back(',');
    AppendInt(tokens[i], &out);
  }
  out.append("],\"token_strs\":");
  if (token_strs == nullptr) {
    out.append("null");
  } else {
    out.push_back('[');
    for (size_t i = 0; i < token_strs->size(); ++i) {
      if (i != 0) out.push_back(',');
      AppendJsonString((*token_strs)[i], &out);
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

std::string DetokenizeBody(std::string_view prompt) {
  std::string out = "{\"prompt\":";
  AppendJsonString(prompt, &out);
  out.push_back('}');
  return out;
}

std::string VersionBody(std::string_view version) {
  std::string out = "{\"version\":";
  AppendJsonString(version, &out);
  out.push_back('}');
  return out;
}

std::string LoraLoadedText(std::string_view name) {
  return "Success: LoRA adapter '" + std::string(name) + "' added successfully.";
}

std::string LoraUnloadedText(std::string_view name) {
  return "Success: LoRA adapter '" + std::string(name) + "' removed successfully.";
}

}  // namespace brix::openai
