// Identifiers: request ids and other random tokens.
#pragma once

#include <cstddef>
#include <string>

namespace brix::base {

// 32 lowercase hex characters (128 random bits), from a per-thread generator seeded from the OS.
// Unique enough to name requests across a fleet; not for secrets (use OpenSSL's RAND_bytes).
std::string NewRequestId();

// Appends `chars` random lowercase hex characters from the same generator (trace and span ids).
void AppendRandomHex(std::string* out, size_t chars);

}  // namespace brix::base
