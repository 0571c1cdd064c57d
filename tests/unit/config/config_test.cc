#include "thrum/config/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

#include <gtest/gtest.h>

namespace thrum::config {
namespace {

// The settings of a small server, with their defaults.
struct Settings {
  size_t workers = 4;
  int drain_ms = 1000;
  std::string log_level = "info";
  std::string name = "svc";
  std::vector<std::string> listen{"127.0.0.1:9090"};

  Schema schema{"test-server", "TEST_"};
  Settings() {
    schema.integer("workers", &workers, 1, 64, "worker threads")
        .integer("drain-timeout-ms", &drain_ms, 0, 60000, "drain timeout")
        .choice("log-level", &log_level, {"debug", "info", "warn"}, "log level")
        .text("name", &name, "service name")
        .list("listen", &listen, "endpoints", [](const std::string& v) {
          if (v.find(':') == std::string::npos) return Status::failure("'" + v + "' has no ':'");
          return Status();
        });
  }
};

struct Run {
  Outcome outcome;
  std::string out, err;
};

Run load(Settings& s, std::vector<std::string> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), "test-server");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  std::vector<const char*> envp;
  for (auto& e : env) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  std::ostringstream out, err;
  Outcome o = s.schema.load(static_cast<int>(argv.size()), argv.data(), out, err, envp.data());
  return {o, out.str(), err.str()};
}

class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    path_ =
        (std::filesystem::temp_directory_path() / ("thrum-config-" + std::to_string(::getpid()) +
                                                   "-" + std::to_string(counter_++) + ".toml"))
            .string();
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(Config, DefaultsStandWhenNothingIsGiven) {
  Settings s;
  EXPECT_EQ(load(s, {}).outcome, Outcome::kRun);
  EXPECT_EQ(s.workers, 4u);
  EXPECT_EQ(s.listen, std::vector<std::string>{"127.0.0.1:9090"});
}

TEST(Config, PrecedenceIsCommandLineThenEnvironmentThenFileThenDefault) {
  ConfigFile file(
      "workers = 8\ndrain-timeout-ms = 500\nname = \"from-file\"\n"
      "listen = [\"tcp:1\", \"unix:/x\"]\n");
  Settings s;
  auto r = load(s, {"--config", file.path(), "--workers", "16"},
                {"TEST_WORKERS=12", "TEST_DRAIN_TIMEOUT_MS=700", "OTHER=1"});
  ASSERT_EQ(r.outcome, Outcome::kRun) << r.err;
  EXPECT_EQ(s.workers, 16u);       // command line over environment and file
  EXPECT_EQ(s.drain_ms, 700);      // environment over file
  EXPECT_EQ(s.name, "from-file");  // file over default
  EXPECT_EQ(s.log_level, "info");  // default
  EXPECT_EQ(s.listen, (std::vector<std::string>{"tcp:1", "unix:/x"}));
}

TEST(Config, ConfigFileCanBeNamedByTheEnvironment) {
  ConfigFile file("workers = 9\n");
  Settings s;
  ASSERT_EQ(load(s, {}, {"TEST_CONFIG=" + file.path()}).outcome, Outcome::kRun);
  EXPECT_EQ(s.workers, 9u);
}

TEST(Config, ListsFromEveryKindOfSource) {
  Settings a;
  ASSERT_EQ(load(a, {"--listen", "tcp:1", "--listen", "tcp:2"}).outcome, Outcome::kRun);
  EXPECT_EQ(a.listen, (std::vector<std::string>{"tcp:1", "tcp:2"}));
  Settings b;
  ASSERT_EQ(load(b, {}, {"TEST_LISTEN=tcp:3  unix:/y"}).outcome, Outcome::kRun);
  EXPECT_EQ(b.listen, (std::vector<std::string>{"tcp:3", "unix:/y"}));
}

// A list of typed items: each parsed once as it loads, into the target.
TEST(Config, TypedListsAreParsedOnceIntoTheirTarget) {
  struct Port {
    int number = 0;
  };
  int parsed = 0;
  std::vector<Port> ports{{7}};
  auto make = [&] {
    auto schema = std::make_unique<Schema>("test-server", "TEST_");
    schema->list("port", &ports, "ports", [&](std::string_view text, Port& port) {
      ++parsed;
      if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
        std::string why = "'";  // appended: GCC 12 -O3 warns falsely on "'" + string
        why += text;
        why += "' is not a port";
        return Status::failure(why);
      }
      port.number = std::stoi(std::string(text));
      return Status();
    });
    return schema;
  };
  std::ostringstream out, err;
  const char* none[] = {"test-server"};
  const char* env[] = {nullptr};
  EXPECT_EQ(make()->load(1, none, out, err, env), Outcome::kRun);
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0].number, 7) << "a list no source sets keeps its value";

  const char* two[] = {"test-server", "--port", "80", "--port", "443"};
  EXPECT_EQ(make()->load(5, two, out, err, env), Outcome::kRun);
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[1].number, 443);
  EXPECT_EQ(parsed, 2);

  const char* bad[] = {"test-server", "--port", "x1", "--port", "8"};
  auto schema = make();
  EXPECT_EQ(schema->load(5, bad, out, err, env), Outcome::kExitError);
  ASSERT_EQ(schema->problems().size(), 1u);
  EXPECT_EQ(schema->problems()[0].reason, "'x1' is not a port");
  EXPECT_EQ(ports.size(), 2u) << "a bad list leaves the target alone";
}

TEST(Config, DurationsAreWholeMillisecondsInTheirRange) {
  std::chrono::milliseconds idle{0};
  Schema schema("test-server", "TEST_");
  schema.milliseconds("idle-timeout-ms", &idle, 60000, "idle timeout");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "test-server");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    const char* no_env[] = {nullptr};
    std::ostringstream out, err;
    Outcome o = schema.load(static_cast<int>(argv.size()), argv.data(), out, err, no_env);
    return std::make_pair(o, err.str());
  };
  EXPECT_EQ(run({"--idle-timeout-ms", "250"}).first, Outcome::kRun);
  EXPECT_EQ(idle, std::chrono::milliseconds(250));
  auto [outcome, err] = run({"--idle-timeout-ms", "-5"});
  EXPECT_EQ(outcome, Outcome::kExitError);
  EXPECT_NE(err.find("idle-timeout-ms = -5 (from command line --idle-timeout-ms): must be from 0 "
                     "to 60000"),
            std::string::npos)
      << err;
}

TEST(Config, EveryProblemIsListedWithKeyValueSourceAndReason) {
  ConfigFile file("workers = 0\nwrokers = 3\nlisten = \"nocolon\"\nname = [1]\n[section]\nx = 1\n");
  Settings s;
  auto r = load(s, {"--config", file.path(), "--log-level", "loud"},
                {"TEST_DRAIN_TIMEOUT_MS=soon", "TEST_NAEM=x"});
  EXPECT_EQ(r.outcome, Outcome::kExitError);
  EXPECT_NE(r.err.find("test-server: 8 configuration problems:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("workers = 0 (from config file key 'workers'): must be from 1 to 64"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("wrokers (from config file key 'wrokers'): unknown setting"),
            std::string::npos);
  EXPECT_NE(r.err.find("section (from config file key 'section'): unknown setting"),
            std::string::npos);
  EXPECT_NE(r.err.find("listen = nocolon (from config file key 'listen'): 'nocolon' has no ':'"),
            std::string::npos);
  EXPECT_NE(r.err.find("TEST_NAEM = x (from environment TEST_NAEM): unknown setting"),
            std::string::npos);
  EXPECT_NE(
      r.err.find(
          "drain-timeout-ms = soon (from environment TEST_DRAIN_TIMEOUT_MS): not a whole number"),
      std::string::npos);
  EXPECT_NE(r.err.find("log-level = loud (from command line --log-level): must be one of debug, "
                       "info, warn"),
            std::string::npos);
  EXPECT_NE(r.err.find("name (from config file key 'name'): takes one value, not a list"),
            std::string::npos);
  EXPECT_EQ(s.workers, 4u) << "a bad value never reaches its target";
}

TEST(Config, BadTomlAndUnknownFlagsAreProblemsToo) {
  ConfigFile file("workers = = 3\n");
  Settings s;
  auto r = load(s, {"--config", file.path(), "--no-such-flag"});
  EXPECT_EQ(r.outcome, Outcome::kExitError);
  EXPECT_NE(r.err.find("config = " + file.path() + " (from command line --config)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("at line 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  Settings t;
  auto missing = load(t, {"--config", "/nonexistent/thrum.toml"});
  EXPECT_EQ(missing.outcome, Outcome::kExitError);
  EXPECT_NE(missing.err.find("/nonexistent/thrum.toml"), std::string::npos) << missing.err;
}

TEST(Config, CheckConfigPrintsTheEffectiveConfigurationWithSources) {
  Settings s;
  auto r = load(s, {"--check-config", "--workers", "2"}, {"TEST_NAME=env-name"});
  EXPECT_EQ(r.outcome, Outcome::kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "workers = 2  # command line\n"
            "drain-timeout-ms = 1000  # default\n"
            "log-level = \"info\"  # default\n"
            "name = \"env-name\"  # environment TEST_NAME\n"
            "listen = [\"127.0.0.1:9090\"]  # default\n");
}

TEST(Config, HelpListsEverySettingWithDefaultAndEnvironmentName) {
  Settings s;
  auto r = load(s, {"--help"});
  EXPECT_EQ(r.outcome, Outcome::kExitOk);
  for (const char* text :
       {"--workers", "TEST_WORKERS", "--drain-timeout-ms", "TEST_DRAIN_TIMEOUT_MS", "--log-level",
        "--listen", "(repeatable)", "127.0.0.1:9090", "--config", "--check-config"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
}

}  // namespace
}  // namespace thrum::config
