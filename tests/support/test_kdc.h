// A private MIT Kerberos realm for C++ tests (tests/support/test_kdc.py):
// THRUM.TEST on 127.0.0.1, alice with a ticket cache, the service principal
// thrift/localhost with its keytab. The constructor starts the KDC and
// points this process's Kerberos environment (KRB5_CONFIG, KRB5CCNAME,
// KRB5_KTNAME, ...) at the realm; the destructor ends the KDC by its PID and
// removes the directory. One per process at a time.
#pragma once

#include <string>

namespace thrum::testing {

class TestKdc {
 public:
  TestKdc();
  ~TestKdc();
  TestKdc(const TestKdc&) = delete;
  TestKdc& operator=(const TestKdc&) = delete;

  static constexpr const char* kRealm = "THRUM.TEST";
  std::string dir;
  std::string keytab;  // thrift/localhost

 private:
  int pid_ = -1;
};

}  // namespace thrum::testing
