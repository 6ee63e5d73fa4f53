// Identifiers: request ids and other random tokens.
#pragma once

#include <string>

namespace brix::base {

// 32 lowercase hex characters (128 random bits), from a per-thread generator seeded from the OS.
// Unique enough to name requests across a fleet; not for secrets (use OpenSSL's RAND_bytes).
std::string NewRequestId();

}  // namespace brix::base
