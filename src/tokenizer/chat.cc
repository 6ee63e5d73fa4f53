#include "tokenizer/chat.h"

#include <initializer_list>

namespace brix::tokenizer {

namespace {

bool HasAddedTokens(const Tokenizer& tokenizer, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    // Markers must be added tokens, or the text would be split into ordinary pieces.
    std::optional<TokenId> id = tokenizer.TokenToId(name);
    if (!id || !tokenizer.IsSpecial(*id)) return false;
  }
  return true;
}

}  // namespace

std::string_view ChatFormatName(ChatFormat format) {
  switch (format) {
    case ChatFormat::kLlama3:
      return "llama3";
    case ChatFormat::kChatMl:
      return "chatml";
    case ChatFormat::kPlain:
      return "plain";
  }
  return "unknown";
}

ChatFormat DetectChatFormat(const Tokenizer& tokenizer) {
  if (HasAddedTokens(tokenizer, {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                 "<|eot_id|>"})) {
    return ChatFormat::kLlama3;
  }
  if (HasAddedTokens(tokenizer, {"<|im_start|>", "<|im_end|>"})) return ChatFormat::kChatMl;
  return ChatFormat::kPlain;
}

void AppendChat(ChatFormat format, std::span<const ChatMessage> messages,
                bool add_generation_prompt, std::string* out) {
  switch (format) {
    case ChatFormat::kLlama3:
      if (out->empty()) out->append("<|begin_of_text|>");
      for (const ChatMessage& m : messages) {
        out->append("<|start_header_id|>").append(m.role).append("<|end_header_id|>\n\n");
        out->append(m.content).append("<|eot_id|>");
      }
      if (add_generation_prompt) out->append("<|start_header_id|>assistant<|end_header_id|>\n\n");
      return;
    case ChatFormat::kChatMl:
      for (const ChatMessage& m : messages) {
        out->append("<|im_start|>").append(m.role).append("\n");
        out->append(m.content).append("<|im_end|>\n");
      }
      if (add_generation_prompt) out->append("<|im_start|>assistant\n");
      return;
    case ChatFormat::kPlain:
      for (const ChatMessage& m : messages) {
        out->append(m.role).append(": ").append(m.content).append("\n");
      }
      // No trailing space: "assistant:" is also a token prefix of "assistant: reply".
      if (add_generation_prompt) out->append("assistant:");
      return;
  }
}

std::string SerializeChat(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                          bool add_generation_prompt) {
  std::string text;
  AppendChat(DetectChatFormat(tokenizer), messages, add_generation_prompt, &text);
  return text;
}

Result<std::vector<TokenId>> EncodeChat(const Tokenizer& tokenizer,
                                        std::span<const ChatMessage> messages,
                                        bool add_generation_prompt) {
  return tokenizer.Encode(SerializeChat(tokenizer, messages, add_generation_prompt),
                          EncodeOptions{.add_special_tokens = false});
}

}  // namespace brix::tokenizer
