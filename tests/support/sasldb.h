// A temporary sasldb for SASL tests, made with saslpasswd2 (realm
// THRUM.TEST, application "thrum"), removed with the object.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tests/support/temp_dir.h"

namespace thrum::testing {

inline constexpr const char* kRealm = "THRUM.TEST";

// A temporary directory with a sasldb holding alice/secret and bob/hunter2.
class Sasldb {
 public:
  Sasldb() {
    add("alice", "secret");
    add("bob", "hunter2");
  }

  void add(const std::string& user, const std::string& password) {
    std::string cmd = "printf '%s' '" + password + "' | saslpasswd2 -f " + path + " -u " + kRealm +
                      " -a thrum -p -c " + user;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("saslpasswd2 failed: " + cmd);
  }

 private:
  TempDir tmp_{"thrum-sasl"};

 public:
  std::string dir = tmp_.path();
  std::string path = dir + "/sasldb";
};

}  // namespace thrum::testing
