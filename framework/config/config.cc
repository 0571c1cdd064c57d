#include "thrum/config/config.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include <toml++/toml.h>

namespace thrum::config {
namespace {

std::string joined(const std::vector<std::string>& values, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += sep;
    out += values[i];
  }
  return out;
}

// A TOML scalar as text: strings as they are, numbers and booleans as written.
std::optional<std::string> scalarText(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (auto i = node.value<int64_t>(); i && node.is_integer()) return std::to_string(*i);
  if (auto b = node.value<bool>(); b && node.is_boolean()) return *b ? "true" : "false";
  if (auto d = node.value<double>(); d && node.is_floating_point()) {
    std::ostringstream os;
    os << *d;
    return os.str();
  }
  return std::nullopt;
}

std::string tomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string_view toString(Source source) {
  switch (source) {
    case Source::kDefault:
      return "default";
    case Source::kFile:
      return "config file";
    case Source::kEnvironment:
      return "environment";
    case Source::kCommandLine:
      return "command line";
  }
  return "?";
}

std::string Problem::describe(std::string_view env_prefix) const {
  std::string where;
  switch (source) {
    case Source::kEnvironment: {
      std::string env = key;  // an unknown variable is reported by its own name
      if (key.rfind(env_prefix, 0) != 0) {
        env = env_prefix;
        for (char c : key) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
      }
      where = "environment " + env;
      break;
    }
    case Source::kCommandLine:
      where = "command line --" + key;
      break;
    case Source::kFile:
      where = "config file key '" + key + "'";
      break;
    case Source::kDefault:
      where = "default";
      break;
  }
  std::string out = key;
  if (!value.empty()) out += " = " + value;
  return out + " (from " + where + "): " + reason;
}

Schema::Schema(std::string program, std::string env_prefix)
    : program_(std::move(program)), env_prefix_(std::move(env_prefix)) {}

std::optional<std::string> Schema::parseInteger(const std::string& text, int64_t min, int64_t max,
                                                int64_t& out) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return "not a whole number";
  }
  if (v < min || v > max) {
    return "must be from " + std::to_string(min) + " to " + std::to_string(max);
  }
  out = v;
  return std::nullopt;
}

Schema& Schema::add(
    std::string name, std::string help, std::string default_text, bool is_list,
    std::string type_name,
    std::function<std::optional<std::string>(const std::vector<std::string>&)> apply) {
  settings_.push_back({std::move(name),
                       std::move(help),
                       std::move(default_text),
                       is_list,
                       std::move(type_name),
                       std::move(apply),
                       {},
                       Source::kDefault});
  return *this;
}

Schema& Schema::milliseconds(std::string name, std::chrono::milliseconds* target, int64_t max_ms,
                             std::string help) {
  return add(std::move(name), std::move(help), std::to_string(target->count()), false, "MS",
             [target, max_ms](const std::vector<std::string>& v) {
               int64_t n = 0;
               auto reason = parseInteger(v.front(), 0, max_ms, n);
               if (!reason) *target = std::chrono::milliseconds(n);
               return reason;
             });
}

Schema& Schema::text(std::string name, std::string* target, std::string help, Check check) {
  return add(std::move(name), std::move(help), *target, false, "TEXT",
             [target, check](const std::vector<std::string>& v) -> std::optional<std::string> {
               if (check) {
                 if (Status ok = check(v.front()); !ok) return ok.message();
               }
               *target = v.front();
               return std::nullopt;
             });
}

Schema& Schema::choice(std::string name, std::string* target, std::vector<std::string> choices,
                       std::string help) {
  std::string one_of = "must be one of " + joined(choices, ", ");
  text(std::move(name), target, std::move(help), [choices, one_of](const std::string& v) {
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return Status();
    return Status::failure(one_of);
  });
  settings_.back().type_name = "{" + joined(choices, ",") + "}";
  return *this;
}

Schema& Schema::list(std::string name, std::vector<std::string>* target, std::string help,
                     Check check) {
  return add(std::move(name), std::move(help), joined(*target, " "), true, "VALUE",
             [target, check](const std::vector<std::string>& v) -> std::optional<std::string> {
               std::string reasons;
               for (const auto& item : v) {
                 if (!check) break;
                 if (Status ok = check(item); !ok) {
                   reasons += (reasons.empty() ? "" : "; ") + ok.message();
                 }
               }
               if (!reasons.empty()) return reasons;
               *target = v;
               return std::nullopt;
             });
}

Schema::Setting* Schema::find(const std::string& name) {
  for (auto& s : settings_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string Schema::envName(const std::string& name) const {
  std::string env = env_prefix_;
  for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

void Schema::offer(Setting& s, Source source, std::vector<std::string> values) {
  // Sources are read from lowest to highest precedence; the last one wins.
  if (values.empty() && !s.is_list) return;
  s.values = std::move(values);
  s.source = source;
}

void Schema::readFile(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.description() << " at line " << e.source().begin.line << ", column "
          << e.source().begin.column;
    problems_.push_back({"config", path, Source::kCommandLine, where.str()});
    return;
  }
  for (const auto& [key, node] : table) {
    std::string name(key.str());
    Setting* s = find(name);
    if (s == nullptr) {
      problems_.push_back({name, "", Source::kFile, "unknown setting"});
      continue;
    }
    std::vector<std::string> values;
    if (const toml::array* array = node.as_array()) {
      if (!s->is_list) {
        problems_.push_back({name, "", Source::kFile, "takes one value, not a list"});
        continue;
      }
      bool ok = true;
      for (const auto& item : *array) {
        auto text = scalarText(item);
        if (!text) ok = false;
        if (text) values.push_back(*text);
      }
      if (!ok) {
        problems_.push_back({name, "", Source::kFile, "list items must be plain values"});
        continue;
      }
    } else if (auto text = scalarText(node)) {
      values.push_back(*text);
    } else {
      problems_.push_back({name, "", Source::kFile, "expected a value, not a table"});
      continue;
    }
    offer(*s, Source::kFile, std::move(values));
  }
}

std::vector<Schema::Offer> Schema::readEnvironment(const char* const* environment,
                                                   std::string& config_path) {
  std::vector<Offer> offers;
  for (const char* const* e = environment; e && *e; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, env_prefix_.size()) != env_prefix_) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string var(entry.substr(0, eq));
    std::string value(entry.substr(eq + 1));
    if (var == env_prefix_ + "CONFIG") {
      config_path = value;
      continue;
    }
    Setting* match = nullptr;
    for (auto& s : settings_) {
      if (envName(s.name) == var) match = &s;
    }
    if (match == nullptr) {
      problems_.push_back({var, value, Source::kEnvironment, "unknown setting"});
      continue;
    }
    std::vector<std::string> values;
    if (match->is_list) {
      std::istringstream words(value);
      for (std::string w; words >> w;) values.push_back(w);
    } else {
      values.push_back(value);
    }
    offers.push_back({match, std::move(values)});
  }
  return offers;
}

std::vector<Schema::Offer> Schema::readCommandLine(int argc, const char* const* argv,
                                                   std::ostream& out, bool& help, bool& check,
                                                   std::string& config_path) {
  CLI::App app{program_};
  app.set_help_flag();  // handled below, after every setting is known
  app.get_formatter()->column_width(34);
  bool want_help = false;
  app.add_flag("-h,--help", want_help, "print this help and exit");
  app.add_option(
         "--config", config_path,
         "TOML file of settings (keys as the flags, without --) [env " + env_prefix_ + "CONFIG]")
      ->type_name("FILE");
  app.add_flag("--check-config", check,
               "validate the configuration, print it with each value's source, and exit");
  std::vector<std::vector<std::string>> given(settings_.size());
  std::vector<CLI::Option*> options;
  for (size_t i = 0; i < settings_.size(); ++i) {
    const Setting& s = settings_[i];
    std::string desc = s.help + " [env " + envName(s.name) + "]";
    if (s.is_list) desc += " (repeatable)";
    CLI::Option* opt = app.add_option("--" + s.name, given[i], desc);
    opt->default_str(s.default_text)->type_name(s.type_name);
    if (!s.is_list) opt->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    options.push_back(opt);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    problems_.push_back({"command line", "", Source::kCommandLine, e.what()});
    return {};
  }
  if (want_help) {
    out << app.help();
    help = true;
    return {};
  }
  std::vector<Offer> offers;
  for (size_t i = 0; i < settings_.size(); ++i) {
    if (options[i]->count() > 0) offers.push_back({&settings_[i], std::move(given[i])});
  }
  return offers;
}

Outcome Schema::load(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                     const char* const* environment) {
  problems_.clear();
  for (auto& s : settings_) {
    s.values.clear();
    s.source = Source::kDefault;
  }
  if (environment == nullptr) environment = environ;
  // The environment and the command line name the config file, so they are
  // read first; their values are applied after the file's, so that they win.
  std::string env_config, cli_config;
  bool help = false, check = false;
  std::vector<Offer> from_env = readEnvironment(environment, env_config);
  std::vector<Offer> from_cli = readCommandLine(argc, argv, out, help, check, cli_config);
  if (help) return Outcome::kExitOk;
  std::string path = !cli_config.empty() ? cli_config : env_config;
  if (!path.empty()) readFile(path);
  for (auto& o : from_env) offer(*o.setting, Source::kEnvironment, std::move(o.values));
  for (auto& o : from_cli) offer(*o.setting, Source::kCommandLine, std::move(o.values));

  for (auto& s : settings_) {
    if (s.source == Source::kDefault) continue;  // the target holds the default already
    if (!s.is_list && s.values.empty()) continue;
    if (auto reason = s.apply(s.values)) {
      problems_.push_back({s.name, joined(s.values, " "), s.source, *reason});
    }
  }

  if (!problems_.empty()) {
    err << program_ << ": " << problems_.size() << " configuration problem"
        << (problems_.size() == 1 ? "" : "s") << ":\n";
    for (const auto& p : problems_) err << "  " << p.describe(env_prefix_) << "\n";
    return Outcome::kExitError;
  }
  if (check) {
    out << effective();
    return Outcome::kExitOk;
  }
  return Outcome::kRun;
}

std::string Schema::effective() const {
  std::string out;
  for (const auto& s : settings_) {
    const std::vector<std::string>& values =
        s.source == Source::kDefault ? std::vector<std::string>{} : s.values;
    std::string text;
    if (s.is_list) {
      std::vector<std::string> items;
      if (s.source == Source::kDefault) {
        std::istringstream words(s.default_text);
        for (std::string w; words >> w;) items.push_back(tomlString(w));
      } else {
        for (const auto& v : values) items.push_back(tomlString(v));
      }
      text = "[" + joined(items, ", ") + "]";
    } else {
      const std::string& v = s.source == Source::kDefault ? s.default_text : values.front();
      bool numeric = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || c == '-';
      });
      text = numeric ? v : tomlString(v);
    }
    std::string source(toString(s.source));
    if (s.source == Source::kEnvironment) source += " " + envName(s.name);
    out += s.name + " = " + text + "  # " + source + "\n";
  }
  return out;
}

}  // namespace thrum::config
