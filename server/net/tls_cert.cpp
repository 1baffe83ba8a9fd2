#include "server/net/tls_cert.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace downbeat::server {
namespace fs = std::filesystem;

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::vector<std::string> lan_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    if (a->ifa_flags & IFF_LOOPBACK || !(a->ifa_flags & IFF_UP)) continue;
    char ip[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, ip, sizeof ip);
    out.emplace_back(ip);
  }
  freeifaddrs(list);
  return out;
}

namespace {
template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("making the TLS certificate failed at ") + what);
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  std::string out;
  char hex[4];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(hex, sizeof hex, "%02X", md[i]);
    if (!out.empty()) out += ':';
    out += hex;
  }
  return out;
}
}  // namespace

CertFiles describe_cert(const std::string& cert_path, const std::string& key_path) {
  FILE* f = std::fopen(cert_path.c_str(), "r");
  if (!f) throw std::runtime_error("cannot read TLS certificate " + cert_path);
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!cert) throw std::runtime_error("TLS certificate " + cert_path + " is not a PEM certificate");
  return CertFiles{cert_path, key_path, fingerprint(cert.get())};
}

std::vector<std::string> cert_names(const std::string& cert_path) {
  std::vector<std::string> out;
  FILE* f = std::fopen(cert_path.c_str(), "r");
  if (!f) return out;
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!cert) return out;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (!sans) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_DNS) {
      const ASN1_IA5STRING* s = n->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = n->d.iPAddress;
      int len = ASN1_STRING_length(ip);
      char buf[INET6_ADDRSTRLEN] = {};
      if ((len == 4 || len == 16) && inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), buf, sizeof buf)) out.emplace_back(buf);
    }
  }
  GENERAL_NAMES_free(sans);
  return out;
}

CertFiles ensure_self_signed_cert(const std::string& data_dir) {
  fs::path dir = fs::path(data_dir) / "tls";
  fs::create_directories(dir);
  std::string cert_path = (dir / "cert.pem").string(), key_path = (dir / "key.pem").string();
  if (fs::exists(cert_path) && fs::exists(key_path)) return describe_cert(cert_path, key_path);

  PkeyPtr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "key generation");
  X509Ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial) == 1, "serial");
  serial[0] &= 0x7F;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 825);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = "Downbeat on " + host_name();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Downbeat"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  std::string san = "DNS:localhost,DNS:" + host_name() + ",DNS:" + host_name() + ".local,IP:127.0.0.1,IP:::1";
  for (const auto& ip : lan_addresses()) san += ",IP:" + ip;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san}, std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
                            std::pair{NID_ext_key_usage, std::string("serverAuth")}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "extension");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "signing");

  mode_t old = umask(077);
  FILE* kf = std::fopen(key_path.c_str(), "w");
  umask(old);
  check(kf != nullptr, "writing key.pem");
  PEM_write_PrivateKey(kf, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(kf);
  chmod(key_path.c_str(), 0600);
  FILE* cf = std::fopen(cert_path.c_str(), "w");
  check(cf != nullptr, "writing cert.pem");
  PEM_write_X509(cf, cert.get());
  std::fclose(cf);
  return CertFiles{cert_path, key_path, fingerprint(cert.get())};
}

}  // namespace downbeat::server
