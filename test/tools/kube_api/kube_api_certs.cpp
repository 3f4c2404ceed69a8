#include "kube_api_certs.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace sluice::testing {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;

Error ssl_error(const std::string& what) {
  char buf[256] = "unknown error";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  return make_error(-EPROTO, "test PKI: " + what + ": " + buf);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pem_of(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_text(bio.get());
}

std::string pem_of(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio.get());
}

struct Extension {
  int nid;
  const char* value;
};

// A certificate for `key` named CN=cn (and O=org), signed by issuer (itself
// when issuer is null), valid from an hour ago for a year.
Result<Cert> make_cert(EVP_PKEY* key, const std::string& cn, const std::string& org, X509* issuer,
                       EVP_PKEY* issuer_key, const std::vector<Extension>& extensions) {
  Cert cert(X509_new());
  if (!cert) return ssl_error("X509_new");
  uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
  serial >>= 1;  // positive
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!org.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const Extension& e : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, e.nid, e.value);
    if (!ext) return ssl_error(std::string("extension ") + OBJ_nid2sn(e.nid));
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return ssl_error("X509_sign");
  return cert;
}

Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return make_error(-errno, "test PKI: open " + tmp + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return make_error(-EIO, "test PKI: write " + path);
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::pair<Key, Cert>> load_pair(const std::string& key_pem, const std::string& cert_pem) {
  Bio kb(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  Bio cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  Key key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  Cert cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!key || !cert) return ssl_error("reading the CA");
  return std::pair<Key, Cert>(std::move(key), std::move(cert));
}

}  // namespace

Result<KubeApiPki> make_kube_api_pki(const std::string& dir) {
  KubeApiPki pki;
  pki.ca_pem = read_file(dir + "/ca.pem");
  pki.ca_key_pem = read_file(dir + "/ca-key.pem");
  if (pki.ca_pem.empty() || pki.ca_key_pem.empty()) {
    Key ca_key(EVP_EC_gen("P-256"));
    if (!ca_key) return ssl_error("CA key");
    auto ca = make_cert(ca_key.get(), "sluice-test-kube-ca", "", nullptr, nullptr,
                        {{NID_basic_constraints, "critical,CA:TRUE"},
                         {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                         {NID_subject_key_identifier, "hash"}});
    if (!ca) return ca.error();
    pki.ca_pem = pem_of(ca->get());
    pki.ca_key_pem = pem_of(ca_key.get());
    if (Status s = write_file(dir + "/ca-key.pem", pki.ca_key_pem, 0600); !s) return s.error();
    if (Status s = write_file(dir + "/ca.pem", pki.ca_pem, 0644); !s) return s.error();
  }
  auto ca = load_pair(pki.ca_key_pem, pki.ca_pem);
  if (!ca) return ca.error();
  Key key(EVP_EC_gen("P-256"));
  if (!key) return ssl_error("server key");
  auto cert = make_cert(key.get(), "kube-apiserver", "", ca->second.get(), ca->first.get(),
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "serverAuth"},
                         {NID_subject_key_identifier, "hash"},
                         {NID_authority_key_identifier, "keyid:always"},
                         {NID_subject_alt_name,
                          "IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc"}});
  if (!cert) return cert.error();
  pki.cert_pem = pem_of(cert->get());
  pki.key_pem = pem_of(key.get());
  if (Status s = write_file(dir + "/server-key.pem", pki.key_pem, 0600); !s) return s.error();
  if (Status s = write_file(dir + "/server.pem", pki.cert_pem, 0644); !s) return s.error();
  return pki;
}

Result<std::pair<std::string, std::string>> issue_client_cert(const KubeApiPki& pki, const std::string& user,
                                                              const std::string& group) {
  auto ca = load_pair(pki.ca_key_pem, pki.ca_pem);
  if (!ca) return ca.error();
  Key key(EVP_EC_gen("P-256"));
  if (!key) return ssl_error("client key");
  auto cert = make_cert(key.get(), user, group, ca->second.get(), ca->first.get(),
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "clientAuth"},
                         {NID_authority_key_identifier, "keyid:always"}});
  if (!cert) return cert.error();
  return std::pair<std::string, std::string>(pem_of(cert->get()), pem_of(key.get()));
}

}  // namespace sluice::testing
