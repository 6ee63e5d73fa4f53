// Builds a Model from tokenizer.json (and tokenizer_config.json) text.
#pragma once

#include <memory>
#include <string_view>

#include "base/error.h"
#include "tokenizer/internal/model.h"

namespace brix::tokenizer::internal {

// Parses and validates both documents (`config_json` may be empty). Every unsupported or
// malformed field is reported, with its JSON path, in one InvalidArgument error.
Result<std::unique_ptr<Model>> LoadModel(std::string_view tokenizer_json,
                                         std::string_view config_json);

}  // namespace brix::tokenizer::internal
