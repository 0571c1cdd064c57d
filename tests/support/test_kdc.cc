#include "tests/support/test_kdc.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace thrum::testing {

TestKdc::TestKdc() {
  std::string pattern = (std::filesystem::temp_directory_path() / "thrum-kdc-XXXXXX").string();
  dir = mkdtemp(pattern.data());
  std::string cmd = "/usr/bin/python3 " THRUM_TESTS_DIR "/support/test_kdc.py start " + dir;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[64] = {};
  bool got = p != nullptr && fgets(buf, sizeof(buf), p) != nullptr;
  int status = p != nullptr ? pclose(p) : -1;
  if (!got || status != 0) {
    std::filesystem::remove_all(dir);
    throw std::runtime_error("cannot start the test KDC: " + cmd);
  }
  pid_ = std::atoi(buf);
  std::ifstream env(dir + "/env");
  for (std::string line; std::getline(env, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) setenv(line.substr(0, eq).c_str(), line.c_str() + eq + 1, 1);
  }
  keytab = dir + "/thrift.keytab";
}

TestKdc::~TestKdc() {
  if (pid_ > 0) kill(pid_, SIGTERM);  // not our child: python3 started it
  std::filesystem::remove_all(dir);
}

}  // namespace thrum::testing
