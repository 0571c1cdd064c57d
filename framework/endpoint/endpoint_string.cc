// The endpoint-string grammar, whole: the tokenizer, each kind's keys (a
// function per kind), TLS and SASL options. Longer than most files here
// because one grammar reads best in one place; endpoint_string.h lists the
// forms it accepts.
#include "thrum/endpoint/endpoint_string.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <map>
#include <vector>

namespace thrum::endpoint {
namespace {

// One ':'-separated piece, unescaped, with the position of its first
// unescaped '=' (npos for a positional value).
struct Token {
  std::string text;
  size_t eq = std::string::npos;
};

bool tokenize(std::string_view text, std::vector<Token>& out, std::string& error) {
  Token current;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 == text.size()) {
        error = "a backslash at the end escapes nothing";
        return false;
      }
      current.text += text[++i];
    } else if (c == ':') {
      out.push_back(std::move(current));
      current = Token{};
    } else {
      if (c == '=' && current.eq == std::string::npos) current.eq = current.text.size();
      current.text += c;
    }
  }
  out.push_back(std::move(current));
  return true;
}

// The arguments after the kind: positional values first, then KEY=VALUE.
class Args {
 public:
  bool parse(std::string_view kind, const std::vector<Token>& tokens, size_t first,
             std::string& error) {
    for (size_t i = first; i < tokens.size(); ++i) {
      const Token& t = tokens[i];
      if (t.text.empty()) {
        error = std::string(kind) + ": empty argument (a stray ':'?)";
        return false;
      }
      if (t.eq == std::string::npos) {
        if (!keyed_.empty()) {
          error =
              std::string(kind) + ": '" + t.text + "' needs a KEY= (positional values come first)";
          return false;
        }
        positional_.push_back(t.text);
        continue;
      }
      std::string key = t.text.substr(0, t.eq);
      if (key.empty()) {
        error = std::string(kind) + ": '" + t.text + "' has no key before '='";
        return false;
      }
      if (!keyed_.emplace(key, t.text.substr(t.eq + 1)).second) {
        error = std::string(kind) + ": '" + key + "' given twice";
        return false;
      }
    }
    return true;
  }

  // Moves positional value `i` into `key` (an error if both are given).
  bool positionalAs(std::string_view kind, size_t i, const std::string& key, std::string& error) {
    if (i >= positional_.size()) return true;
    if (keyed_.count(key)) {
      error = std::string(kind) + ": '" + key + "' given twice";
      return false;
    }
    keyed_[key] = positional_[i];
    return true;
  }
  bool noExtraPositional(std::string_view kind, size_t allowed, std::string& error) const {
    if (positional_.size() <= allowed) return true;
    error = std::string(kind) + ": unexpected value '" + positional_[allowed] + "'";
    return false;
  }

  std::optional<std::string> take(const std::string& key) {
    auto it = keyed_.find(key);
    if (it == keyed_.end()) return std::nullopt;
    std::string v = std::move(it->second);
    keyed_.erase(it);
    return v;
  }

  // Every key must have been taken by now.
  bool noneLeft(std::string_view kind, std::string_view expected, std::string& error) const {
    if (keyed_.empty()) return true;
    error = std::string(kind) + ": unknown key '" + keyed_.begin()->first + "' (expected " +
            std::string(expected) + ")";
    return false;
  }

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> keyed_;
};

template <typename T>
bool number(std::string_view kind, std::string_view key, const std::string& value, T min, T max,
            int base, T& out, std::string& error) {
  T v{};
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v, base);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || v < min ||
      v > max) {
    error = std::string(kind) + ": " + std::string(key) + " must be a number from " +
            std::to_string(min) + " to " + std::to_string(max) + ", not '" + value + "'";
    return false;
  }
  out = v;
  return true;
}

bool required(std::string_view kind, std::string_view key, const std::optional<std::string>& v,
              std::string& error) {
  if (v && !v->empty()) return true;
  error = std::string(kind) + ": " + std::string(key) + "= is required";
  return false;
}

bool parseBacklog(std::string_view kind, Args& args, int& backlog, std::string& error) {
  if (auto v = args.take("backlog"))
    return number(kind, "backlog", *v, 1, 65535, 10, backlog, error);
  return true;
}

bool parseTlsServer(Args& args, std::optional<TlsServerOptions>& tls, std::string& error) {
  TlsServerOptions o;
  auto cert = args.take("cert");
  auto key = args.take("key");
  if (!required("tls", "cert", cert, error) || !required("tls", "key", key, error)) return false;
  o.cert = *cert;
  o.key = *key;
  if (auto v = args.take("ca")) o.ca = *v;
  if (auto v = args.take("ciphers")) o.ciphers = *v;
  if (auto v = args.take("min_version")) {
    if (*v != "1.2" && *v != "1.3") {
      error = "tls: min_version must be 1.2 or 1.3, not '" + *v + "'";
      return false;
    }
    o.min_version = *v;
  }
  tls = std::move(o);
  return true;
}

bool parseTlsClient(Args& args, std::optional<TlsClientOptions>& tls, std::string& error) {
  TlsClientOptions o;
  if (auto v = args.take("ca")) o.ca = *v;
  if (auto v = args.take("cert")) o.cert = *v;
  if (auto v = args.take("key")) o.key = *v;
  if (o.cert.empty() != o.key.empty()) {
    error = "tls: cert= and key= go together";
    return false;
  }
  if (auto v = args.take("server_name")) o.server_name = *v;
  if (auto v = args.take("verify")) {
    if (*v == "yes" || *v == "true") {
      o.verify = true;
    } else if (*v == "no" || *v == "false") {
      o.verify = false;
    } else {
      error = "tls: verify must be yes or no, not '" + *v + "'";
      return false;
    }
  }
  tls = std::move(o);
  return true;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool parseQopList(const std::string& text, std::vector<std::string>& out, std::string& error) {
  out = splitList(text);
  for (const std::string& q : out) {
    if (q != "auth" && q != "auth-int" && q != "auth-conf") {
      error = "sasl: qop must list auth, auth-int or auth-conf, not '" + q + "'";
      return false;
    }
  }
  if (out.empty()) {
    error = "sasl: qop= is empty";
    return false;
  }
  return true;
}

// Takes the SASL keys out of `args`. They are an error without sasl=.
template <typename Options>
bool takeSaslKeys(Args& args, std::optional<std::string>& sasl,
                  std::initializer_list<std::pair<const char*, std::string Options::*>> text_keys,
                  Options& o, std::string& error) {
  sasl = args.take("sasl");
  for (const auto& [key, member] : text_keys) {
    auto v = args.take(key);
    if (!v) continue;
    if (!sasl) {
      error = std::string("sasl: ") + key + "= needs sasl=";
      return false;
    }
    o.*member = *v;
  }
  if (auto v = args.take("qop")) {
    if (!sasl) {
      error = "sasl: qop= needs sasl=";
      return false;
    }
    if (!parseQopList(*v, o.qop, error)) return false;
  }
  return true;
}

bool parseSaslServer(Args& args, std::optional<SaslServerOptions>& sasl, std::string& error) {
  SaslServerOptions o;
  std::optional<std::string> mode;
  std::optional<std::string> mechs = args.take("mechs");
  if (!takeSaslKeys<SaslServerOptions>(args, mode,
                                       {{"service", &SaslServerOptions::service},
                                        {"hostname", &SaslServerOptions::hostname},
                                        {"realm", &SaslServerOptions::realm},
                                        {"sasldb", &SaslServerOptions::sasldb},
                                        {"saslauthd", &SaslServerOptions::saslauthd},
                                        {"keytab", &SaslServerOptions::keytab}},
                                       o, error)) {
    return false;
  }
  if (!mode) {
    if (mechs) error = "sasl: mechs= needs sasl=required";
    return !mechs;
  }
  if (*mode != "required") {
    error = "sasl: sasl= must be 'required' on a listening endpoint, not '" + *mode + "'";
    return false;
  }
  if (!mechs || splitList(*mechs).empty()) {
    error = "sasl: mechs= is required (for example mechs=SCRAM-SHA-256,PLAIN)";
    return false;
  }
  o.mechs = splitList(*mechs);
  if (o.service.empty()) {
    error = "sasl: service= is empty";
    return false;
  }
  sasl = std::move(o);
  return true;
}

bool parseSaslClient(Args& args, std::optional<SaslClientOptions>& sasl, std::string& error) {
  SaslClientOptions o;
  std::optional<std::string> mech;
  if (!takeSaslKeys<SaslClientOptions>(args, mech,
                                       {{"user", &SaslClientOptions::user},
                                        {"password_file", &SaslClientOptions::password_file},
                                        {"service", &SaslClientOptions::service},
                                        {"hostname", &SaslClientOptions::hostname}},
                                       o, error)) {
    return false;
  }
  if (!mech) return true;
  if (mech->empty()) {
    error = "sasl: sasl= names the mechanism (PLAIN, SCRAM-SHA-256, DIGEST-MD5, GSSAPI)";
    return false;
  }
  o.mech = *mech;
  sasl = std::move(o);
  return true;
}

bool isKind(std::string_view s) {
  return s == "tcp" || s == "unix" || s == "fd" || s == "systemd";
}

bool parseTcpListen(Args& args, ListenEndpoint& ep, std::string& error) {
  constexpr std::string_view kind = "tcp";
  TcpListen tcp;
  if (!args.positionalAs(kind, 0, "port", error) || !args.noExtraPositional(kind, 1, error)) {
    return false;
  }
  auto port = args.take("port");
  if (!required(kind, "port", port, error)) return false;
  if (!number<uint16_t>(kind, "port", *port, 0, 65535, 10, tcp.port, error)) return false;
  if (auto v = args.take("interface")) tcp.interface = *v;
  if (!parseBacklog(kind, args, ep.backlog, error)) return false;
  ep.where = tcp;
  return args.noneLeft(kind, "port, interface, backlog", error);
}

bool parseUnixListen(Args& args, ListenEndpoint& ep, std::string& error) {
  constexpr std::string_view kind = "unix";
  UnixListen unix_ep;
  if (!args.positionalAs(kind, 0, "address", error) || !args.noExtraPositional(kind, 1, error)) {
    return false;
  }
  auto address = args.take("address");
  if (!required(kind, "address", address, error)) return false;
  unix_ep.abstract = address->front() == '@';
  unix_ep.path = unix_ep.abstract ? address->substr(1) : *address;
  if (unix_ep.path.empty()) {
    error = "unix: an abstract address needs a name after '@'";
    return false;
  }
  if (auto v = args.take("mode")) {
    if (unix_ep.abstract) {
      error = "unix: mode= does not apply to an abstract address";
      return false;
    }
    unsigned mode = 0;
    if (!number<unsigned>(kind, "mode", *v, 0, 0777, 8, mode, error)) return false;
    unix_ep.mode = static_cast<mode_t>(mode);
  }
  if (!parseBacklog(kind, args, ep.backlog, error)) return false;
  ep.where = unix_ep;
  return args.noneLeft(kind, "address, mode, backlog", error);
}

bool parseFdListen(Args& args, ListenEndpoint& ep, std::string& error) {
  constexpr std::string_view kind = "fd";
  FdListen fd;
  if (!args.positionalAs(kind, 0, "fileno", error) || !args.noExtraPositional(kind, 1, error)) {
    return false;
  }
  auto fileno = args.take("fileno");
  if (!required(kind, "fileno", fileno, error)) return false;
  if (!number<int>(kind, "fileno", *fileno, 0, 1 << 20, 10, fd.fd, error)) return false;
  ep.where = fd;
  return args.noneLeft(kind, "fileno", error);
}

bool parseSystemdListen(Args& args, ListenEndpoint& ep, std::string& error) {
  constexpr std::string_view kind = "systemd";
  SystemdListen sd;
  if (!args.noExtraPositional(kind, 0, error)) return false;
  auto index = args.take("index");
  auto name = args.take("name");
  if (index.has_value() == name.has_value()) {
    error = "systemd: give exactly one of index= or name=";
    return false;
  }
  if (index) {
    int i = 0;
    if (!number<int>(kind, "index", *index, 0, 1 << 16, 10, i, error)) return false;
    sd.index = i;
  } else {
    if (!required(kind, "name", name, error)) return false;
    sd.name = *name;
  }
  ep.where = sd;
  return args.noneLeft(kind, "index, name", error);
}

bool parseListenKind(std::string_view kind, Args& args, ListenEndpoint& ep, std::string& error) {
  if (kind == "tcp") return parseTcpListen(args, ep, error);
  if (kind == "unix") return parseUnixListen(args, ep, error);
  if (kind == "fd") return parseFdListen(args, ep, error);
  if (kind == "systemd") return parseSystemdListen(args, ep, error);
  error =
      "unknown endpoint kind '" + std::string(kind) + "' (expected tcp, unix, fd, systemd, tls)";
  return false;
}

bool parseConnectKind(std::string_view kind, Args& args, ConnectEndpoint& ep, std::string& error) {
  if (kind == "tcp") {
    TcpConnect tcp;
    if (!args.positionalAs(kind, 0, "host", error) || !args.positionalAs(kind, 1, "port", error) ||
        !args.noExtraPositional(kind, 2, error)) {
      return false;
    }
    auto host = args.take("host");
    auto port = args.take("port");
    if (!required(kind, "host", host, error) || !required(kind, "port", port, error)) return false;
    tcp.host = *host;
    if (!number<uint16_t>(kind, "port", *port, 1, 65535, 10, tcp.port, error)) return false;
    ep.where = tcp;
    return args.noneLeft(kind, "host, port", error);
  }
  if (kind == "unix") {
    UnixConnect unix_ep;
    if (!args.positionalAs(kind, 0, "path", error) || !args.noExtraPositional(kind, 1, error)) {
      return false;
    }
    auto path = args.take("path");
    if (!required(kind, "path", path, error)) return false;
    unix_ep.abstract = path->front() == '@';
    unix_ep.path = unix_ep.abstract ? path->substr(1) : *path;
    ep.where = unix_ep;
    return args.noneLeft(kind, "path", error);
  }
  error =
      "unknown endpoint kind '" + std::string(kind) + "' for a client (expected tcp, unix, tls)";
  return false;
}

// Splits "tls:[KIND:]ARGS" or "KIND:ARGS" into the inner kind and the index
// of its first argument.
bool splitKind(std::string_view text, std::vector<Token>& tokens, bool& tls, std::string& kind,
               size_t& first, std::string& error) {
  if (text.empty()) {
    error = "empty endpoint";
    return false;
  }
  if (!tokenize(text, tokens, error)) return false;
  if (tokens[0].eq != std::string::npos) {
    error = "an endpoint starts with its kind (tcp, unix, fd, systemd, tls), not '" +
            tokens[0].text + "'";
    return false;
  }
  tls = tokens[0].text == "tls";
  first = 1;
  kind = tokens[0].text;
  if (tls) {
    kind = "tcp";
    if (tokens.size() > 1 && tokens[1].eq == std::string::npos && isKind(tokens[1].text)) {
      kind = tokens[1].text;
      first = 2;
    }
  }
  return true;
}

// The shared shape of both parsers: the kind, then the arguments, the TLS
// keys taken out first when the endpoint is tls:, then the kind's own keys.
template <typename Endpoint, typename ParseTls, typename ParseSasl, typename ParseKind>
std::optional<Endpoint> parseEndpoint(std::string_view text, std::string& error, ParseTls parse_tls,
                                      ParseSasl parse_sasl, ParseKind parse_kind,
                                      std::string_view tls_keys, std::string_view sasl_keys) {
  std::vector<Token> tokens;
  bool tls = false;
  std::string kind;
  size_t first = 0;
  if (!splitKind(text, tokens, tls, kind, first, error)) return std::nullopt;
  Args args;
  if (!args.parse(kind, tokens, first, error)) return std::nullopt;
  Endpoint ep;
  ep.text = std::string(text);
  if (tls && !parse_tls(args, ep.tls, error)) return std::nullopt;
  if (!parse_sasl(args, ep.sasl, error)) return std::nullopt;
  if (!parse_kind(kind, args, ep, error)) {
    if (error.find("unknown key") != std::string::npos) {
      if (tls) error += ", or a tls key (" + std::string(tls_keys) + ")";
      if (ep.sasl) error += ", or a sasl key (" + std::string(sasl_keys) + ")";
    }
    return std::nullopt;
  }
  return ep;
}

}  // namespace

std::optional<ListenEndpoint> parseListenEndpoint(std::string_view text, std::string& error) {
  return parseEndpoint<ListenEndpoint>(
      text, error, parseTlsServer, parseSaslServer, parseListenKind,
      "cert, key, ca, ciphers, min_version",
      "sasl, mechs, service, hostname, realm, qop, sasldb, saslauthd, keytab");
}

std::optional<ConnectEndpoint> parseConnectEndpoint(std::string_view text, std::string& error) {
  return parseEndpoint<ConnectEndpoint>(text, error, parseTlsClient, parseSaslClient,
                                        parseConnectKind, "ca, cert, key, server_name, verify",
                                        "sasl, user, password_file, service, hostname, qop");
}

}  // namespace thrum::endpoint
