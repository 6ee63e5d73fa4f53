// Fuzzes every request parser and the gateway helpers with arbitrary bytes. None may crash; every
// error they return must serialise to valid JSON with a 4xx status. Seeds: fuzz_corpus/requests/.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "openai/gateway.h"
#include "openai/requests.h"

namespace {

using brix::openai::ApiError;

void CheckError(const ApiError& e) {
  BRIX_CHECK(e.status >= 400 && e.status < 500) << e.status;
  boost::system::error_code ec;
  boost::json::parse(brix::openai::ErrorBody(e), ec);
  BRIX_CHECK(!ec) << brix::openai::ErrorBody(e);
}

template <typename R>
void Check(const R& r) {
  if (!r) CheckError(r.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  namespace o = brix::openai;
  auto chat = o::ParseChatCompletionRequest(body);
  Check(chat);
  if (chat) {
    for (int64_t prompt : {0, 5, 5000}) Check(o::ResolveGeneration(*chat, prompt, 4096));
  }
  auto completion = o::ParseCompletionRequest(body);
  Check(completion);
  if (completion) Check(o::ResolveGeneration(*completion, 10, 32));
  Check(o::ParseTokenizeRequest(body));
  Check(o::ParseDetokenizeRequest(body));
  Check(o::ParseLoadLoraRequest(body));
  Check(o::ParseUnloadLoraRequest(body));
  // The event-driven reading must agree with the document reading on every body.
  const auto inspected = o::InspectRequest(body);
  const auto reference = o::InspectRequestWithDocument(body);
  Check(inspected);
  BRIX_CHECK(inspected.has_value() == reference.has_value());
  if (inspected) {
    BRIX_CHECK(inspected->model == reference->model && inspected->stream == reference->stream &&
               inspected->include_usage == reference->include_usage &&
               inspected->continuous_usage == reference->continuous_usage);
  }
  const o::UsageRewrite rewrite = o::RewriteForUsage(body);
  if (rewrite.strip_usage) {
    auto info = o::InspectRequest(rewrite.body);
    BRIX_CHECK(info && info->stream && info->include_usage && !info->continuous_usage);
  }
  o::Usage usage;
  (void)o::ClassifySseData(body, &usage);
  (void)o::ReadChunkUsage(body);
  (void)o::ReadResponseUsage(body);
  return 0;
}
