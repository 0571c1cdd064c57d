#include "tests/support/test_pki.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace thrum::testing {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

Key newKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) throw std::runtime_error("EVP_EC_gen failed");
  return Key(key, EVP_PKEY_free);
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

Cert makeCert(EVP_PKEY* key, const char* cn, long serial, X509* issuer, EVP_PKEY* issuer_key,
              bool is_ca, const char* san) {
  Cert cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("thrum tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  addExtension(cert.get(), signer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (is_ca) addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san != nullptr) addExtension(cert.get(), signer, NID_subject_alt_name, san);
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    throw std::runtime_error("X509_sign failed");
  }
  return cert;
}

void writeKey(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

void writeCert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
}

X509* readCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return cert;
}

EVP_PKEY* readKey(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return key;
}

}  // namespace

TestPki::TestPki() {
  ca_cert = dir + "/ca.pem";
  ca_key = dir + "/ca.key";
  server_cert = dir + "/server.pem";
  server_key = dir + "/server.key";
  client_cert = dir + "/client.pem";
  client_key = dir + "/client.key";
  other_ca_cert = dir + "/other-ca.pem";

  Key ca = newKey();
  Cert ca_x509 = makeCert(ca.get(), "thrum test CA", serial_++, nullptr, nullptr, true, nullptr);
  writeKey(ca_key, ca.get());
  writeCert(ca_cert, ca_x509.get());
  reissueServer();
  Key client = newKey();
  Cert client_x509 =
      makeCert(client.get(), "thrum-test-client", serial_++, ca_x509.get(), ca.get(), false,
               "DNS:thrum-test-client,URI:spiffe://thrum.test/client,"
               "email:client@thrum.test,IP:192.0.2.7,IP:2001:db8::7");
  writeKey(client_key, client.get());
  writeCert(client_cert, client_x509.get());
  Key other = newKey();
  Cert other_x509 = makeCert(other.get(), "unrelated CA", 1, nullptr, nullptr, true, nullptr);
  writeCert(other_ca_cert, other_x509.get());
}

long TestPki::reissueServer() {
  Cert ca_x509(readCert(ca_cert), X509_free);
  Key ca(readKey(ca_key), EVP_PKEY_free);
  Key server = newKey();
  long serial = serial_++;
  Cert server_x509 = makeCert(server.get(), "localhost", serial, ca_x509.get(), ca.get(), false,
                              "DNS:localhost,IP:127.0.0.1,IP:::1");
  // Write to new names, then rename: a reader never sees a half-written pair.
  writeKey(server_key + ".new", server.get());
  writeCert(server_cert + ".new", server_x509.get());
  std::filesystem::rename(server_key + ".new", server_key);
  std::filesystem::rename(server_cert + ".new", server_cert);
  return serial;
}

}  // namespace thrum::testing
