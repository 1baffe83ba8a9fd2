#pragma once
// How the SDK trusts a server's certificate: downbeatd makes a self-signed one and prints its SHA-256 fingerprint.
#include <string>

namespace downbeat {

struct TlsOptions {
  // Hex SHA-256 of the server certificate (DER), colons and case ignored. When set, only that certificate is accepted.
  std::string pin_sha256;
  // Accept any certificate (tests only: no protection against a man in the middle).
  bool insecure = false;
  // With neither: the system CA store and host name verification.
};

// "AB:CD:…" or "abcd…" (whitespace ignored) → "abcd…"; empty when the text is not 64 hex digits.
std::string normalize_fingerprint(const std::string& text);

}  // namespace downbeat
