// The canonical serialisation of a chat request: the one text that the gateway and the simulator
// both tokenise for a list of messages, so that their token counts and prefix-cache keys agree.
//
// It is prefix-stable: serialising messages[0..k] is a byte prefix of serialising messages[0..n]
// for every k < n, and with a generation prompt (which opens an assistant turn) it is still a
// prefix of the conversation once the assistant's reply is appended. It resembles the model
// family's chat template when the tokenizer has that family's markers, and is not meant to
// reproduce any Jinja template exactly:
//
//   kLlama3  <|begin_of_text|> then per message
//            <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>
//            generation prompt: <|start_header_id|>assistant<|end_header_id|>\n\n
//   kChatMl  per message <|im_start|>{role}\n{content}<|im_end|>\n    (Qwen and others)
//            generation prompt: <|im_start|>assistant\n
//   kPlain   per message {role}: {content}\n
//            generation prompt: assistant:
//
// Roles and contents are copied verbatim (no trimming): special-token text inside a content is
// tokenised as the special token, as it is by engines that render a template and then encode.
// Stateless functions; safe from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace brix::tokenizer {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
};

enum class ChatFormat {
  kLlama3,  // special tokens <|begin_of_text|>, <|start_header_id|>, <|end_header_id|>, <|eot_id|>
  kChatMl,  // special tokens <|im_start|> and <|im_end|>
  kPlain,   // anything else
};

// "llama3", "chatml" or "plain".
std::string_view ChatFormatName(ChatFormat format);

// The format whose markers are all special tokens of `tokenizer` (Llama 3 first, then ChatML).
ChatFormat DetectChatFormat(const Tokenizer& tokenizer);

// Appends the serialisation of `messages` to *out; with `add_generation_prompt`, also the opening
// of an assistant turn. Starts with the document prefix (kLlama3's <|begin_of_text|>) only when
// *out is empty.
void AppendChat(ChatFormat format, std::span<const ChatMessage> messages,
                bool add_generation_prompt, std::string* out);

// The serialisation of `messages` in the format of `tokenizer`.
std::string SerializeChat(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                          bool add_generation_prompt);

// The token ids of SerializeChat(...), encoded without the post-processor's template (the
// serialisation carries its own markers), like transformers' apply_chat_template.
Result<std::vector<TokenId>> EncodeChat(const Tokenizer& tokenizer,
                                        std::span<const ChatMessage> messages,
                                        bool add_generation_prompt);

}  // namespace brix::tokenizer
