// A temporary sasldb for SASL tests, made with saslpasswd2 (realm
// THRUM.TEST, application "thrum"), removed with the object.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace thrum::testing {

inline constexpr const char* kRealm = "THRUM.TEST";

// A temporary directory with a sasldb holding alice/secret and bob/hunter2.
class Sasldb {
 public:
  Sasldb() {
    std::string pattern = (std::filesystem::temp_directory_path() / "thrum-sasl-XXXXXX").string();
    dir = mkdtemp(pattern.data());
    path = dir + "/sasldb";
    add("alice", "secret");
    add("bob", "hunter2");
  }
  ~Sasldb() { std::filesystem::remove_all(dir); }

  void add(const std::string& user, const std::string& password) {
    std::string cmd = "printf '%s' '" + password + "' | saslpasswd2 -f " + path + " -u " + kRealm +
                      " -a thrum -p -c " + user;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("saslpasswd2 failed: " + cmd);
  }

  std::string dir, path;
};

}  // namespace thrum::testing
