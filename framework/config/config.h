// One configuration schema: every setting is a command-line flag, a key in a
// TOML file and an environment variable, with the same name everywhere.
//
//   size_t workers = 4;                       // the default is the initial value
//   std::vector<std::string> listen{"127.0.0.1:9090"};
//   config::Schema schema("thrum-bench-server", "THRUM_");
//   schema.integer("workers", &workers, 1, 4096, "worker threads")
//         .list("listen", &listen, "endpoints to listen on", checkEndpoint);
//   switch (schema.load(argc, argv, std::cout, std::cerr)) {
//     case config::Outcome::kRun: break;
//     case config::Outcome::kExitOk: return 0;      // --help, --check-config
//     case config::Outcome::kExitError: return 2;   // every problem already printed
//   }
//
// Names: `workers` is `--workers N` on the command line, `workers = N` in
// the file named by --config (or THRUM_CONFIG), and THRUM_WORKERS in the
// environment ('-' becomes '_'). A list is a repeated flag, a TOML array, or
// a whitespace-separated environment value. Precedence: command line >
// environment > file > default, per setting.
//
// load() validates everything before returning and reports every problem it
// finds (unknown keys and variables included), each with its key, value,
// source and reason; nothing has been started when it fails. --check-config
// prints the effective configuration, with the source of each value, and
// exits; --help lists every setting with its default and environment name.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "thrum/status.h"

namespace thrum::config {

enum class Source { kDefault, kFile, kEnvironment, kCommandLine };
std::string_view toString(Source source);

struct Problem {
  std::string key;
  std::string value;
  Source source = Source::kDefault;
  std::string reason;

  // "workers = 0 (from environment THRUM_WORKERS): must be from 1 to 4096"
  std::string describe(std::string_view env_prefix) const;
};

enum class Outcome { kRun, kExitOk, kExitError };

// Checks one value: a failure's message is the reason it is bad.
using Check = std::function<Status(const std::string& value)>;

class Schema {
 public:
  Schema(std::string program, std::string env_prefix);

  template <typename T>
  Schema& integer(std::string name, T* target, int64_t min, int64_t max, std::string help) {
    return add(std::move(name), std::move(help), std::to_string(*target), false, "N",
               [target, min, max](const std::vector<std::string>& v) {
                 int64_t n = 0;
                 auto reason = parseInteger(v.front(), min, max, n);
                 if (!reason) *target = static_cast<T>(n);
                 return reason;
               });
  }
  // A duration given in whole milliseconds, 0..max_ms.
  Schema& milliseconds(std::string name, std::chrono::milliseconds* target, int64_t max_ms,
                       std::string help);
  Schema& text(std::string name, std::string* target, std::string help, Check check = {});
  Schema& choice(std::string name, std::string* target, std::vector<std::string> choices,
                 std::string help);
  Schema& list(std::string name, std::vector<std::string>* target, std::string help,
               Check check = {});
  // A list whose items `parse` turns into T, each parsed once, as it loads;
  // a failure's message is the reason an item is bad. `target` keeps its
  // value unless a source sets the list.
  template <typename T>
  Schema& list(std::string name, std::vector<T>* target, std::string help,
               std::type_identity_t<std::function<Status(std::string_view, T&)>> parse) {
    return add(std::move(name), std::move(help), "", true, "VALUE",
               [target, parse](const std::vector<std::string>& v) -> std::optional<std::string> {
                 std::vector<T> parsed(v.size());
                 std::string reasons;
                 for (size_t i = 0; i < v.size(); ++i) {
                   if (Status ok = parse(v[i], parsed[i]); !ok) {
                     reasons += (reasons.empty() ? "" : "; ") + ok.message();
                   }
                 }
                 if (!reasons.empty()) return reasons;
                 *target = std::move(parsed);
                 return std::nullopt;
               });
  }

  // Reads the file, the environment and `argv`, validates every setting and
  // writes the values into their targets. `environment` is an environ-style
  // array; null means this process's environment.
  Outcome load(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
               const char* const* environment = nullptr);

  const std::vector<Problem>& problems() const { return problems_; }
  // The effective configuration as TOML, each value commented with its source.
  std::string effective() const;
  std::string envName(const std::string& name) const;

 private:
  struct Setting {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_list = false;
    std::string type_name;  // for --help: N, TEXT, a choice, VALUE
    std::function<std::optional<std::string>(const std::vector<std::string>&)> apply;
    std::vector<std::string> values;  // the winning source's values
    Source source = Source::kDefault;
  };

  static std::optional<std::string> parseInteger(const std::string& text, int64_t min, int64_t max,
                                                 int64_t& out);
  Schema& add(std::string name, std::string help, std::string default_text, bool is_list,
              std::string type_name,
              std::function<std::optional<std::string>(const std::vector<std::string>&)> apply);
  Setting* find(const std::string& name);
  void offer(Setting& s, Source source, std::vector<std::string> values);
  // Values a source gave, held back until lower-precedence sources are read.
  struct Offer {
    Setting* setting;
    std::vector<std::string> values;
  };
  void readFile(const std::string& path);
  std::vector<Offer> readEnvironment(const char* const* environment, std::string& config_path);
  std::vector<Offer> readCommandLine(int argc, const char* const* argv, std::ostream& out,
                                     bool& help, bool& check, std::string& config_path);

  std::string program_;
  std::string env_prefix_;
  std::vector<Setting> settings_;
  std::vector<Problem> problems_;
};

}  // namespace thrum::config
