#include "openai/api_error.h"

#include <gtest/gtest.h>

namespace brix::openai {
namespace {

TEST(ErrorBodyTest, HasVllmShapeAndFieldOrder) {
  EXPECT_EQ(ErrorBody(ModelNotFound("gpt-4")),
            R"({"error":{"message":"The model `gpt-4` does not exist.","type":"NotFoundError",)"
            R"("param":"model","code":404}})");
  EXPECT_EQ(ErrorBody(BadRequest("x")),
            R"({"error":{"message":"x","type":"BadRequestError","param":null,"code":400}})");
}

TEST(ErrorBodyTest, EscapesMessages) {
  EXPECT_EQ(ErrorBody(BadRequest("a\"b\\c\nd\x01")),
            R"({"error":{"message":"a\"b\\c\nd\u0001","type":"BadRequestError","param":null,)"
            R"("code":400}})");
}

TEST(ErrorBodyTest, StreamErrorIsOneSseEvent) {
  std::string out;
  AppendStreamError(BadRequest("boom"), &out);
  EXPECT_EQ(out, "data: " + ErrorBody(BadRequest("boom")) + "\n\n");
}

TEST(ParseErrorBodyTest, ReadsCurrentAndOldShapes) {
  auto current = ParseErrorBody(ErrorBody(ModelNotFound("x")));
  ASSERT_TRUE(current);
  EXPECT_EQ(*current, ModelNotFound("x"));
  auto old = ParseErrorBody(
      R"({"object":"error","message":"m","type":"BadRequestError","param":null,"code":400})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 400);
  EXPECT_EQ(old->message, "m");
  EXPECT_FALSE(old->param);
  EXPECT_FALSE(ParseErrorBody(R"({"error":"Unauthorized"})"));
  EXPECT_FALSE(ParseErrorBody("not json"));
}

TEST(ContextLengthTest, MatchesVllmMessage) {
  ApiError e = ContextLengthExceeded(4096, 1024, 3073, true);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.type, "BadRequestError");
  EXPECT_EQ(e.param, "input_tokens");
  EXPECT_EQ(e.message,
            "This model's maximum context length is 4096 tokens. However, you requested 1024 "
            "output tokens and your prompt contains at least 3073 input tokens, for a total of at "
            "least 4097 tokens. Please reduce the length of the input prompt or the number of "
            "requested output tokens. (parameter=input_tokens, value=3073)");
  EXPECT_EQ(ContextLengthExceeded(100, 0, 150, false).message,
            "This model's maximum context length is 100 tokens. However, you requested 0 output "
            "tokens and your prompt contains 150 input tokens, for a total of 150 tokens. Please "
            "reduce the length of the input prompt or the number of requested output tokens. "
            "(parameter=input_tokens, value=150)");
}

TEST(MaxTokensExceedContextTest, KeepsVllmFStringQuirk) {
  ApiError e = MaxTokensExceedContext("max_completion_tokens", 9000, 4096);
  EXPECT_EQ(
      e.message,
      "max_completion_tokens=9000 cannot be greater than max_model_len=max_total_tokens=4096. "
      "Please request fewer output tokens. (parameter=max_completion_tokens, value=9000)");
  EXPECT_EQ(e.param, "max_completion_tokens");
}

TEST(LoraErrorsTest, MatchVllm) {
  EXPECT_EQ(ErrorBody(LoraNotFound("a")),
            R"({"error":{"message":"The lora adapter 'a' cannot be found.","type":"NotFoundError",)"
            R"("param":null,"code":404}})");
  EXPECT_EQ(LoraAlreadyLoaded("a").message,
            "The lora adapter 'a' has already been loaded. If you want to load the adapter in "
            "place, set 'load_inplace' to True.");
  EXPECT_EQ(LoraNameAndPathRequired().type, "InvalidUserInput");
  EXPECT_EQ(LoraNameRequired().status, 400);
  EXPECT_EQ(LoraPathNotFound("a", "/p").message, "Loading lora a failed: No adapter found for /p");
}

TEST(ContentTypeTest, OnlyApplicationJson) {
  EXPECT_TRUE(IsJsonContentType("application/json"));
  EXPECT_TRUE(IsJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_FALSE(IsJsonContentType("text/plain"));
  EXPECT_FALSE(IsJsonContentType(""));
  EXPECT_FALSE(IsJsonContentType("application/json ; x"));  // vLLM does not strip spaces
  EXPECT_EQ(ErrorBody(UnsupportedMediaType()),
            R"({"error":{"message":"1 validation error:\n  Unsupported Media Type: Only )"
            R"('application/json' is allowed","type":"Bad Request","param":null,"code":400}})");
}

TEST(ToErrorTest, MapsStatusToErrc) {
  EXPECT_EQ(ToError(ModelNotFound("x")).code, Errc::kNotFound);
  EXPECT_EQ(ToError(BadRequest("x")).code, Errc::kInvalidArgument);
  EXPECT_EQ(ToError(ApiError{500, "InternalServerError", "x", {}}).code, Errc::kInternal);
  EXPECT_EQ(ToError(ApiError{503, "x", "x", {}}).code, Errc::kUnavailable);
}

}  // namespace
}  // namespace brix::openai
