// Feeds arbitrary bytes to both trace readers: any input must give a workload or an error with a
// line number, never a crash, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "base/check.h"
#include "workload/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (int format = 0; format < 2; ++format) {
    std::istringstream in(text);
    auto w = format == 0 ? brix::workload::ReadMooncakeTrace(in, "fuzz")
                         : brix::workload::ReadAzureTrace(in, "fuzz");
    if (!w) {
      BRIX_CHECK(w.error().message.starts_with("fuzz:"));
      continue;
    }
    for (const auto& s : w->sessions) {
      BRIX_CHECK(s.start_s >= 0);
      BRIX_CHECK(s.turns.size() == 1);
      BRIX_CHECK(s.turns[0].output_tokens >= 1);
      BRIX_CHECK(s.turns[0].prompt_tokens() >= 1);
      BRIX_CHECK(s.turns[0].prompt_tokens() <= brix::workload::kMaxTraceTokens);
    }
  }
  return 0;
}
