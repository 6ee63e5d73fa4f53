#include "openai/requests.h"

#include <gtest/gtest.h>

namespace brix::openai {
namespace {

TEST(ChatRequestTest, ParsesTheCommonFields) {
  auto r = ParseChatCompletionRequest(R"({
    "model": "m", "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
      {"role": "assistant", "content": null}],
    "max_tokens": 10, "max_completion_tokens": 20, "stream": true,
    "stream_options": {"include_usage": true, "continuous_usage_stats": true},
    "ignore_eos": true, "min_tokens": 2, "n": 1, "stop": "\n", "seed": 7, "temperature": 0.5,
    "top_p": 0.9, "logprobs": false, "unknown_field": {"ignored": true}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->model, "m");
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[1].content, "Hi\nthere");
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(r->RequestedMaxTokens(), 20);
  EXPECT_EQ(r->MaxTokensParam(), "max_completion_tokens");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->IncludeUsage());
  EXPECT_TRUE(r->ContinuousUsage());
  EXPECT_TRUE(r->sampling.ignore_eos);
  EXPECT_EQ(r->sampling.min_tokens, 2);
  EXPECT_EQ(r->sampling.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(r->sampling.seed, 7);
  EXPECT_EQ(r->sampling.temperature, 0.5);
}

TEST(ChatRequestTest, ModelIsOptionalAndUsageFollowsStreamOptions) {
  auto r = ParseChatCompletionRequest(R"({"messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->model);
  EXPECT_FALSE(r->IncludeUsage());
  EXPECT_EQ(r->MaxTokensParam(), "max_tokens");
  // An empty stream_options object means include_usage=True (StreamOptions' default).
  r = ParseChatCompletionRequest(R"({"messages":[],"stream":true,"stream_options":{}})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->IncludeUsage());
  EXPECT_FALSE(r->ContinuousUsage());
  r = ParseChatCompletionRequest(
      R"({"messages":[],"stream":true,"stream_options":{"include_usage":null}})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->IncludeUsage());
}

TEST(ChatRequestTest, StreamOptionsWithoutStreamIsAValueError) {
  auto r = ParseChatCompletionRequest(
      R"({"model":"m","messages":[],"stream_options":{"include_usage":true}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().type, "Bad Request");
  EXPECT_EQ(r.error().param, "stream_options");
  EXPECT_EQ(r.error().message,
            "1 validation error:\n  {'type': 'value_error', 'loc': ('body',), 'msg': 'Value "
            "error, Stream options can only be defined when `stream=True`. "
            "(parameter=stream_options)', 'input': {'model': 'm', 'messages': [], "
            "'stream_options': {'include_usage': True}}, 'ctx': {'error': "
            "VLLMValidationError('Stream options can only be defined when `stream=True`.')}}");
  // {} is falsy in Python, so vLLM lets it through.
  EXPECT_TRUE(ParseChatCompletionRequest(R"({"messages":[],"stream_options":{}})"));
}

TEST(ChatRequestTest, WrongTypesAreReportedTogether) {
  auto r = ParseChatCompletionRequest(
      R"({"messages":[],"max_tokens":"abc","temperature":"hot","stream":"maybe"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, "Bad Request");
  EXPECT_EQ(r.error().param, "body.max_tokens");
  EXPECT_EQ(r.error().message,
            "3 validation errors:\n"
            "  {'type': 'int_parsing', 'loc': ('body', 'max_tokens'), 'msg': 'Input should be a "
            "valid integer, unable to parse string as an integer', 'input': 'abc'}\n"
            "  {'type': 'float_parsing', 'loc': ('body', 'temperature'), 'msg': 'Input should be "
            "a valid number, unable to parse string as a number', 'input': 'hot'}\n"
            "  {'type': 'bool_parsing', 'loc': ('body', 'stream'), 'msg': 'Input should be a "
            "valid boolean, unable to interpret input', 'input': 'maybe'}");
}

// pydantic's lax bool: the twelve strings case-insensitively, 0 and 1 as numbers; anything else
// is bool_parsing (a scalar) or bool_type (a container).
TEST(ChatRequestTest, LaxBoolsLikePydantic) {
  const std::pair<const char*, bool> accepted[] = {
      {"true", true},   {"false", false},    {"1", true},        {"0", false},     {"1.0", true},
      {"0.0", false},   {"\"YES\"", true},   {"\"On\"", true},   {"\"t\"", true},  {"\"y\"", true},
      {"\"1\"", true},  {"\"No\"", false},   {"\"OFF\"", false}, {"\"f\"", false}, {"\"n\"", false},
      {"\"0\"", false}, {"\"FALSE\"", false}};
  for (const auto& [text, want] : accepted) {
    auto r = ParseChatCompletionRequest(std::string(R"({"messages":[],"stream":)") + text + "}");
    ASSERT_TRUE(r) << text << ": " << r.error().message;
    EXPECT_EQ(r->stream, want) << text;
  }
  const std::pair<const char*, const char*> refused[] = {
      {"2", "bool_parsing"},      {"0.5", "bool_parsing"},      {"-1", "bool_parsing"},
      {"\"\"", "bool_parsing"},   {"\" yes\"", "bool_parsing"}, {"\"truee\"", "bool_parsing"},
      {"\"ja\"", "bool_parsing"}, {"[]", "bool_type"},          {"{}", "bool_type"}};
  for (const auto& [text, type] : refused) {
    auto r = ParseChatCompletionRequest(std::string(R"({"messages":[],"stream":)") + text + "}");
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message.find(std::string("'type': '") + type + "'"), std::string::npos)
        << text << ": " << r.error().message;
  }
  // null is the default for an optional bool, an error for a required one.
  auto null_stream = ParseChatCompletionRequest(R"({"messages":[],"stream":null})");
  ASSERT_TRUE(null_stream) << null_stream.error().message;
  EXPECT_FALSE(null_stream->stream);
  auto null_eos = ParseChatCompletionRequest(R"({"messages":[],"ignore_eos":null})");
  ASSERT_FALSE(null_eos);
  EXPECT_NE(null_eos.error().message.find("'type': 'bool_type'"), std::string::npos)
      << null_eos.error().message;
}

TEST(ChatRequestTest, LaxCoercionsLikePydantic) {
  auto r = ParseChatCompletionRequest(
      R"({"messages":[],"max_tokens":"12","stream":"true","n":2.0,"temperature":1})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->max_tokens, 12);
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->sampling.n, 2);
  auto frac = ParseChatCompletionRequest(R"({"messages":[],"max_tokens":1.5})");
  ASSERT_FALSE(frac);
  EXPECT_NE(frac.error().message.find("'type': 'int_from_float'"), std::string::npos);
}

TEST(ChatRequestTest, MissingMessages) {
  auto r = ParseChatCompletionRequest(R"({"model":"m"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "body.messages");
  EXPECT_EQ(r.error().message,
            "1 validation error:\n  {'type': 'missing', 'loc': ('body', 'messages'), 'msg': "
            "'Field required', 'input': {'model': 'm'}}");
}

TEST(ChatRequestTest, MalformedJsonAndEmptyBody) {
  auto r = ParseChatCompletionRequest(R"({"model": )");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().type, "Bad Request");
  EXPECT_TRUE(r.error().message.starts_with(
      "1 validation error:\n  {'type': 'json_invalid', 'loc': ('body', "));
  auto empty = ParseChatCompletionRequest("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message,
            "1 validation error:\n  {'type': 'missing', 'loc': ('body',), 'msg': 'Field "
            "required', 'input': None}");
  EXPECT_EQ(empty.error().param, "body");
  auto extra = ParseChatCompletionRequest(R"({"messages":[]} x)");
  ASSERT_FALSE(extra);
  EXPECT_NE(extra.error().message.find("'Extra data'"), std::string::npos);
  EXPECT_TRUE(ParseChatCompletionRequest("{\"messages\":[]} \n"));
  auto array = ParseChatCompletionRequest("[1]");
  ASSERT_FALSE(array);
  EXPECT_NE(array.error().message.find("model_attributes_type"), std::string::npos);
}

TEST(ChatRequestTest, ModelValidatorChecks) {
  auto both = ParseChatCompletionRequest(
      R"({"messages":[],"continue_final_message":true,"add_generation_prompt":true})");
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error().param, "body");
  EXPECT_NE(both.error().message.find("Cannot set both `continue_final_message` and "
                                      "`add_generation_prompt` to True."),
            std::string::npos);
  auto top = ParseChatCompletionRequest(R"({"messages":[],"top_logprobs":3})");
  ASSERT_FALSE(top);
  EXPECT_EQ(top.error().param, "top_logprobs");
  auto neg = ParseChatCompletionRequest(R"({"messages":[],"top_logprobs":-2,"logprobs":true})");
  ASSERT_FALSE(neg);
  EXPECT_NE(neg.error().message.find("(parameter=top_logprobs, value=-2)"), std::string::npos);
  auto tools = ParseChatCompletionRequest(R"({"messages":[],"tools":[]})");
  ASSERT_FALSE(tools);
  EXPECT_EQ(tools.error().param, "tools");
  auto choice = ParseChatCompletionRequest(R"({"messages":[],"tool_choice":"auto"})");
  ASSERT_FALSE(choice);
  EXPECT_EQ(choice.error().param, "tool_choice");
}

TEST(ChatRequestTest, BadMessages) {
  auto r = ParseChatCompletionRequest(R"({"messages":[{"content":"x"}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "body.messages.0.role");
  auto parts = ParseChatCompletionRequest(
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})");
  ASSERT_FALSE(parts);
  EXPECT_EQ(parts.error().status, 400);
}

TEST(CompletionRequestTest, PromptForms) {
  auto text = ParseCompletionRequest(R"({"model":"m","prompt":"Hello"})");
  ASSERT_TRUE(text);
  ASSERT_EQ(text->prompts.size(), 1u);
  EXPECT_EQ(text->prompts[0].text, "Hello");
  EXPECT_EQ(text->max_tokens, 16);  // vLLM's default
  auto ids = ParseCompletionRequest(R"({"prompt":[1,2,3],"max_tokens":null})");
  ASSERT_TRUE(ids);
  EXPECT_TRUE(ids->prompts[0].is_tokens);
  EXPECT_EQ(ids->prompts[0].token_ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(ids->max_tokens, 16);
  auto batch = ParseCompletionRequest(R"({"prompt":["a","b"]})");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->prompts.size(), 2u);
  auto id_batch = ParseCompletionRequest(R"({"prompt":[[1],[2,3]]})");
  ASSERT_TRUE(id_batch);
  EXPECT_EQ(id_batch->prompts[1].token_ids, (std::vector<int64_t>{2, 3}));
  auto negative = ParseCompletionRequest(R"({"prompt":[1,-2]})");
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message.find("greater_than_equal"), std::string::npos);
}

TEST(CompletionRequestTest, EmptyPrompt) {
  for (const char* body : {R"({"model":"m"})", R"({"prompt":""})", R"({"prompt":null})"}) {
    auto r = ParseCompletionRequest(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().param, "prompt");
    EXPECT_NE(
        r.error().message.find("Either prompt or prompt_embeds must be provided and non-empty. "
                               "(parameter=prompt)"),
        std::string::npos);
  }
}

TEST(TokenizeRequestTest, PromptAndChatForms) {
  auto p = ParseTokenizeRequest(R"({"model":"m","prompt":"Hi"})");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->is_chat);
  EXPECT_TRUE(p->add_special_tokens);
  auto c = ParseTokenizeRequest(R"({"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->is_chat);
  EXPECT_FALSE(c->add_special_tokens);
  EXPECT_TRUE(c->add_generation_prompt);
  auto missing = ParseTokenizeRequest(R"({"model":"m"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().param, "body.prompt");
}

TEST(DetokenizeRequestTest, TokensMustBeNonNegativeInts) {
  auto ok = ParseDetokenizeRequest(R"({"tokens":[1,2]})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->tokens, (std::vector<int64_t>{1, 2}));
  auto bad = ParseDetokenizeRequest(R"({"tokens":[-1,"x"]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.substr(0, 22), "2 validation errors:\n ");
  EXPECT_EQ(bad.error().param, "body.tokens.0");
  EXPECT_FALSE(ParseDetokenizeRequest(R"({})"));
}

TEST(LoraRequestTest, ParseAndValidate) {
  auto load = ParseLoadLoraRequest(R"({"lora_name":"a","lora_path":"/p"})");
  ASSERT_TRUE(load);
  EXPECT_FALSE(ValidateLoadLora(*load, false));
  EXPECT_EQ(ValidateLoadLora(*load, true), LoraAlreadyLoaded("a"));
  load->load_inplace = true;
  EXPECT_FALSE(ValidateLoadLora(*load, true));
  auto empty = ParseLoadLoraRequest(R"({"lora_name":"","lora_path":"/p"})");
  ASSERT_TRUE(empty);
  EXPECT_EQ(ValidateLoadLora(*empty, false), LoraNameAndPathRequired());
  auto missing = ParseLoadLoraRequest(R"({"lora_name":"a"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().param, "body.lora_path");
  auto unload = ParseUnloadLoraRequest(R"({"lora_name":"a"})");
  ASSERT_TRUE(unload);
  EXPECT_EQ(ValidateUnloadLora(*unload, false), LoraNotFound("a"));
  EXPECT_FALSE(ValidateUnloadLora(*unload, true));
}

SamplingFields Defaults() { return SamplingFields{}; }

TEST(ResolveGenerationTest, ChatWithoutLimitGetsTheRestOfTheContext) {
  auto plan = ResolveGeneration(Defaults(), std::nullopt, "max_tokens", 100, 4096);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->max_tokens, 3996);
  plan = ResolveGeneration(Defaults(), 50, "max_tokens", 100, 4096);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->max_tokens, 50);
}

TEST(ResolveGenerationTest, ContextErrorsInVllmOrder) {
  auto too_many = ResolveGeneration(Defaults(), 5000, "max_tokens", 10, 4096);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error(), MaxTokensExceedContext("max_tokens", 5000, 4096));
  auto overflow = ResolveGeneration(Defaults(), 1000, "max_tokens", 3097, 4096, true);
  ASSERT_FALSE(overflow);
  EXPECT_EQ(overflow.error(), ContextLengthExceeded(4096, 1000, 3097, true));
  // A prompt that fills the context leaves max_tokens = 0.
  auto full = ResolveGeneration(Defaults(), std::nullopt, "max_tokens", 4096, 4096);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message,
            "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)");
  EXPECT_EQ(full.error().type, "BadRequestError");
}

TEST(ResolveGenerationTest, NegativeAndZeroMaxTokens) {
  auto neg = ResolveGeneration(Defaults(), -5, "max_tokens", 10, 4096);
  ASSERT_FALSE(neg);
  EXPECT_EQ(neg.error().message,
            "max_tokens must be at least 1, got -5. (parameter=max_tokens, value=-5)");
  EXPECT_EQ(neg.error().param, "max_tokens");
}

TEST(ResolveGenerationTest, SamplingParamChecks) {
  SamplingFields s;
  s.n = 0;
  EXPECT_EQ(ResolveGeneration(s, 5, "max_tokens", 1, 100).error().message,
            "n must be at least 1, got 0.");
  s = {};
  s.temperature = 3;
  auto t = ResolveGeneration(s, 5, "max_tokens", 1, 100);
  EXPECT_EQ(t.error().message,
            "temperature must be in [0, 2], got 3.0. (parameter=temperature, value=3.0)");
  EXPECT_EQ(t.error().param, "temperature");
  s = {};
  s.top_p = 0;
  EXPECT_EQ(ResolveGeneration(s, 5, "max_tokens", 1, 100).error().message,
            "top_p must be in (0, 1], got 0.0. (parameter=top_p, value=0.0)");
  s = {};
  s.min_tokens = 9;
  EXPECT_EQ(ResolveGeneration(s, 5, "max_tokens", 1, 100).error().message,
            "min_tokens must be less than or equal to max_tokens=5, got 9.");
  s = {};
  s.stop = {""};
  EXPECT_EQ(ResolveGeneration(s, 5, "max_tokens", 1, 100).error().message,
            "stop cannot contain an empty string.");
  s = {};
  s.temperature = 0;
  s.n = 2;
  EXPECT_EQ(ResolveGeneration(s, 5, "max_tokens", 1, 100).error().message,
            "n must be 1 when using greedy sampling, got 2.");
  s = {};
  s.presence_penalty = 2.5;
  EXPECT_EQ(ResolveGeneration(s, 5, "max_tokens", 1, 100).error().message,
            "presence_penalty must be in [-2, 2], got 2.5.");
}

TEST(ResolveGenerationTest, RequestOverloads) {
  auto chat = ParseChatCompletionRequest(R"({"messages":[],"max_completion_tokens":99999})");
  ASSERT_TRUE(chat);
  auto e = ResolveGeneration(*chat, 10, 4096);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().param, "max_completion_tokens");
  auto completion = ParseCompletionRequest(R"({"prompt":"x"})");
  ASSERT_TRUE(completion);
  auto plan = ResolveGeneration(*completion, 3, 4096);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->max_tokens, 16);
}

}  // namespace
}  // namespace brix::openai
