#pragma once
// Self-signed certificate for LAN use: made on first run, reused afterwards.
#include <string>
#include <vector>

namespace downbeat::server {

struct CertFiles {
  std::string cert_path;
  std::string key_path;
  std::string fingerprint_sha256;  // AA:BB:... as browsers show it
};

// Creates DIR/tls/cert.pem + key.pem (SAN: hostname, hostname.local, localhost, LAN addresses) if missing.
CertFiles ensure_self_signed_cert(const std::string& data_dir);
CertFiles describe_cert(const std::string& cert_path, const std::string& key_path);
// The DNS names and IP addresses a certificate is valid for (its subjectAltName entries).
std::vector<std::string> cert_names(const std::string& cert_path);

std::string host_name();
// Non-loopback IPv4 addresses of this machine, best first.
std::vector<std::string> lan_addresses();

}  // namespace downbeat::server
