// A throwaway PKI made when a test runs (never committed, never expiring
// under a test): a CA, a server certificate for localhost / 127.0.0.1 / ::1,
// and a client certificate, each with its key, as PEM files in a fresh
// temporary directory that is removed with the object. EC P-256 keys.
#pragma once

#include <string>

#include "tests/support/temp_dir.h"

namespace thrum::testing {

class TestPki {
 public:
  TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

 private:
  TempDir tmp_{"thrum-pki"};

 public:
  std::string dir = tmp_.path();
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;  // CN=localhost, SAN localhost, 127.0.0.1, ::1
  // CN=thrum-test-client,O=thrum tests; SANs DNS:thrum-test-client,
  // URI:spiffe://thrum.test/client, email:client@thrum.test, IP:192.0.2.7,
  // IP:2001:db8::7
  std::string client_cert, client_key;
  std::string other_ca_cert;  // a CA that signed none of the above

  // Writes a new server certificate and key (a new serial, CN=localhost)
  // signed by the same CA over the old files; returns the new serial.
  long reissueServer();

 private:
  long serial_ = 1;
};

}  // namespace thrum::testing
