#include "thrum/endpoint/endpoint_string.h"

#include <gtest/gtest.h>

namespace thrum::endpoint {
namespace {

ListenEndpoint listen(std::string_view text) {
  std::string error;
  auto ep = parseListenEndpoint(text, error);
  EXPECT_TRUE(ep.has_value()) << text << ": " << error;
  return ep.value_or(ListenEndpoint{});
}

std::string listenError(std::string_view text) {
  std::string error;
  auto ep = parseListenEndpoint(text, error);
  EXPECT_FALSE(ep.has_value()) << text << " should not parse";
  return error;
}

ConnectEndpoint connect(std::string_view text) {
  std::string error;
  auto ep = parseConnectEndpoint(text, error);
  EXPECT_TRUE(ep.has_value()) << text << ": " << error;
  return ep.value_or(ConnectEndpoint{});
}

std::string connectError(std::string_view text) {
  std::string error;
  auto ep = parseConnectEndpoint(text, error);
  EXPECT_FALSE(ep.has_value()) << text << " should not parse";
  return error;
}

TEST(ListenEndpoint, TcpPositionalAndKeyed) {
  auto a = listen("tcp:9090");
  ASSERT_TRUE(std::holds_alternative<TcpListen>(a.where));
  EXPECT_EQ(std::get<TcpListen>(a.where).port, 9090);
  EXPECT_EQ(std::get<TcpListen>(a.where).interface, "0.0.0.0");
  EXPECT_EQ(a.backlog, 4096);
  EXPECT_FALSE(a.isTls());
  EXPECT_EQ(a.text, "tcp:9090");

  auto b = listen("tcp:port=0:interface=127.0.0.1:backlog=16");
  EXPECT_EQ(std::get<TcpListen>(b.where).port, 0);
  EXPECT_EQ(std::get<TcpListen>(b.where).interface, "127.0.0.1");
  EXPECT_EQ(b.backlog, 16);
}

TEST(ListenEndpoint, EscapedColonsWriteIpv6Addresses) {
  EXPECT_EQ(std::get<TcpListen>(listen("tcp:port=1:interface=\\:\\:").where).interface, "::");
  EXPECT_EQ(std::get<TcpListen>(listen("tcp:port=1:interface=\\:\\:1").where).interface, "::1");
  EXPECT_EQ(std::get<UnixListen>(listen("unix:/tmp/a\\\\b").where).path, "/tmp/a\\b");
}

TEST(ListenEndpoint, UnixPathsModesAndAbstractNames) {
  auto a = listen("unix:/run/thrum.sock");
  const auto& u = std::get<UnixListen>(a.where);
  EXPECT_EQ(u.path, "/run/thrum.sock");
  EXPECT_FALSE(u.abstract);
  EXPECT_FALSE(u.mode.has_value());

  auto b = listen("unix:address=/run/x.sock:mode=0660:backlog=64");
  EXPECT_EQ(std::get<UnixListen>(b.where).mode, 0660);
  EXPECT_EQ(b.backlog, 64);

  auto c = listen("unix:@thrum");
  EXPECT_TRUE(std::get<UnixListen>(c.where).abstract);
  EXPECT_EQ(std::get<UnixListen>(c.where).path, "thrum");
}

TEST(ListenEndpoint, InheritedAndSystemdDescriptors) {
  EXPECT_EQ(std::get<FdListen>(listen("fd:3").where).fd, 3);
  EXPECT_EQ(std::get<FdListen>(listen("fd:fileno=7").where).fd, 7);
  EXPECT_EQ(std::get<SystemdListen>(listen("systemd:index=1").where).index, 1);
  auto named = std::get<SystemdListen>(listen("systemd:name=thrum-tls").where);
  EXPECT_FALSE(named.index.has_value());
  EXPECT_EQ(named.name, "thrum-tls");
}

TEST(ListenEndpoint, TlsOverTcpByDefaultAndOverAnyKind) {
  auto a = listen("tls:port=0:cert=/c.pem:key=/k.pem");
  ASSERT_TRUE(a.isTls());
  EXPECT_EQ(std::get<TcpListen>(a.where).port, 0);
  EXPECT_EQ(a.tls->cert, "/c.pem");
  EXPECT_EQ(a.tls->key, "/k.pem");
  EXPECT_EQ(a.tls->min_version, "1.2");
  EXPECT_TRUE(a.tls->ca.empty());

  auto b = listen(
      "tls:unix:address=/run/x.sock:cert=c:key=k:ca=ca.pem:min_version=1.3:"
      "ciphers=ECDHE+AESGCM");
  ASSERT_TRUE(b.isTls());
  EXPECT_EQ(std::get<UnixListen>(b.where).path, "/run/x.sock");
  EXPECT_EQ(b.tls->ca, "ca.pem");
  EXPECT_EQ(b.tls->min_version, "1.3");
  EXPECT_EQ(b.tls->ciphers, "ECDHE+AESGCM");

  auto c = listen("tls:systemd:name=secure:cert=c:key=k");
  EXPECT_EQ(std::get<SystemdListen>(c.where).name, "secure");
  auto d = listen("tls:fd:4:cert=c:key=k");
  EXPECT_EQ(std::get<FdListen>(d.where).fd, 4);
}

TEST(ListenEndpoint, SaslOnAnyKindTlsOrNot) {
  auto a = listen("tcp:9090:sasl=required:mechs=SCRAM-SHA-256,PLAIN:sasldb=/var/db\\:1:realm=R");
  ASSERT_TRUE(a.sasl.has_value());
  EXPECT_EQ(a.sasl->mechs, (std::vector<std::string>{"SCRAM-SHA-256", "PLAIN"}));
  EXPECT_EQ(a.sasl->sasldb, "/var/db:1");
  EXPECT_EQ(a.sasl->realm, "R");
  EXPECT_EQ(a.sasl->service, "thrift");
  EXPECT_EQ(a.sasl->qop, (std::vector<std::string>{"auth", "auth-int", "auth-conf"}));
  EXPECT_FALSE(a.tls.has_value());
  auto b = listen(
      "tls:unix:/run/x.sock:cert=c:key=k:sasl=required:mechs=GSSAPI:service=hive:"
      "hostname=db1.example:keytab=/etc/k.keytab:qop=auth-conf");
  EXPECT_TRUE(b.tls.has_value());
  EXPECT_EQ(b.sasl->service, "hive");
  EXPECT_EQ(b.sasl->hostname, "db1.example");
  EXPECT_EQ(b.sasl->keytab, "/etc/k.keytab");
  EXPECT_EQ(b.sasl->qop, (std::vector<std::string>{"auth-conf"}));
  EXPECT_FALSE(listen("tcp:0").sasl.has_value());
}

TEST(ListenEndpoint, EveryErrorNamesTheProblem) {
  EXPECT_EQ(listenError("tcp:0:sasl=optional:mechs=PLAIN"),
            "sasl: sasl= must be 'required' on a listening endpoint, not 'optional'");
  EXPECT_EQ(listenError("tcp:0:sasl=required"),
            "sasl: mechs= is required (for example mechs=SCRAM-SHA-256,PLAIN)");
  EXPECT_EQ(listenError("tcp:0:mechs=PLAIN"), "sasl: mechs= needs sasl=required");
  EXPECT_EQ(listenError("tcp:0:realm=R"), "sasl: realm= needs sasl=");
  EXPECT_EQ(listenError("tcp:0:sasl=required:mechs=PLAIN:qop=auth,secret"),
            "sasl: qop must list auth, auth-int or auth-conf, not 'secret'");
  EXPECT_EQ(listenError("tcp:0:sasl=required:mechs=PLAIN:service="), "sasl: service= is empty");
  EXPECT_EQ(listenError("tcp:0:sasl=required:mechs=PLAIN:user=x"),
            "tcp: unknown key 'user' (expected port, interface, backlog), or a sasl key (sasl, "
            "mechs, service, hostname, realm, qop, sasldb, saslauthd, keytab)");
  EXPECT_EQ(listenError(""), "empty endpoint");
  EXPECT_EQ(listenError("udp:53"),
            "unknown endpoint kind 'udp' (expected tcp, unix, fd, systemd, tls)");
  EXPECT_EQ(listenError("port=9"),
            "an endpoint starts with its kind (tcp, unix, fd, systemd, tls), not 'port=9'");
  EXPECT_EQ(listenError("tcp"), "tcp: port= is required");
  EXPECT_EQ(listenError("tcp:port="), "tcp: port= is required");
  EXPECT_EQ(listenError("tcp:65536"), "tcp: port must be a number from 0 to 65535, not '65536'");
  EXPECT_EQ(listenError("tcp:80x"), "tcp: port must be a number from 0 to 65535, not '80x'");
  EXPECT_EQ(listenError("tcp:port=1:prot=2"),
            "tcp: unknown key 'prot' (expected port, interface, backlog)");
  EXPECT_EQ(listenError("tcp:port=1:port=2"), "tcp: 'port' given twice");
  EXPECT_EQ(listenError("tcp:1:port=2"), "tcp: 'port' given twice");
  EXPECT_EQ(listenError("tcp:port=1:2"), "tcp: '2' needs a KEY= (positional values come first)");
  EXPECT_EQ(listenError("tcp:1:2"), "tcp: unexpected value '2'");
  EXPECT_EQ(listenError("tcp:port=1:=x"), "tcp: '=x' has no key before '='");
  EXPECT_EQ(listenError("tcp:port=1:backlog=0"),
            "tcp: backlog must be a number from 1 to 65535, not '0'");
  EXPECT_EQ(listenError("tcp:1\\"), "a backslash at the end escapes nothing");
  EXPECT_EQ(listenError("unix:"), "unix: empty argument (a stray ':'?)");
  EXPECT_EQ(listenError("unix"), "unix: address= is required");
  EXPECT_EQ(listenError("tcp:port=1:"), "tcp: empty argument (a stray ':'?)");
  EXPECT_EQ(listenError("unix:@"), "unix: an abstract address needs a name after '@'");
  EXPECT_EQ(listenError("unix:/x:mode=0999"),
            "unix: mode must be a number from 0 to 511, not '0999'");
  EXPECT_EQ(listenError("unix:@x:mode=0600"), "unix: mode= does not apply to an abstract address");
  EXPECT_EQ(listenError("fd:-1"), "fd: fileno must be a number from 0 to 1048576, not '-1'");
  EXPECT_EQ(listenError("fd:3:backlog=1"), "fd: unknown key 'backlog' (expected fileno)");
  EXPECT_EQ(listenError("systemd"), "systemd: give exactly one of index= or name=");
  EXPECT_EQ(listenError("systemd:0"), "systemd: unexpected value '0'");
  EXPECT_EQ(listenError("systemd:index=0:name=x"), "systemd: give exactly one of index= or name=");
  EXPECT_EQ(listenError("systemd:name="), "systemd: name= is required");
  EXPECT_EQ(listenError("tls:port=1:key=k"), "tls: cert= is required");
  EXPECT_EQ(listenError("tls:port=1:cert=c"), "tls: key= is required");
  EXPECT_EQ(listenError("tls:port=1:cert=c:key=k:min_version=1.1"),
            "tls: min_version must be 1.2 or 1.3, not '1.1'");
  EXPECT_EQ(listenError("tls:port=1:cert=c:key=k:verify=no"),
            "tcp: unknown key 'verify' (expected port, interface, backlog), or a tls key "
            "(cert, key, ca, ciphers, min_version)");
}

TEST(ConnectEndpoint, TcpUnixAndTls) {
  auto a = connect("tcp:host=db1:port=9090");
  EXPECT_EQ(std::get<TcpConnect>(a.where).host, "db1");
  EXPECT_EQ(std::get<TcpConnect>(a.where).port, 9090);
  EXPECT_FALSE(a.tls.has_value());
  auto b = connect("tcp:\\:\\:1:9090");
  EXPECT_EQ(std::get<TcpConnect>(b.where).host, "::1");
  auto c = connect("unix:path=/run/thrum.sock");
  EXPECT_EQ(std::get<UnixConnect>(c.where).path, "/run/thrum.sock");
  EXPECT_TRUE(std::get<UnixConnect>(connect("unix:@thrum").where).abstract);

  auto d = connect("tls:host=db1:port=8443:ca=ca.pem");
  ASSERT_TRUE(d.tls.has_value());
  EXPECT_EQ(d.tls->ca, "ca.pem");
  EXPECT_TRUE(d.tls->verify);
  EXPECT_EQ(std::get<TcpConnect>(d.where).port, 8443);
  auto e = connect("tls:unix:path=/x:cert=c:key=k:server_name=svc:verify=no");
  EXPECT_EQ(e.tls->server_name, "svc");
  EXPECT_FALSE(e.tls->verify);
  EXPECT_EQ(e.tls->cert, "c");
}

TEST(ConnectEndpoint, SaslWithAnyTransport) {
  auto a = connect("tcp:host=db1:port=9090:sasl=SCRAM-SHA-256:user=alice:password_file=/run/pw");
  ASSERT_TRUE(a.sasl.has_value());
  EXPECT_EQ(a.sasl->mech, "SCRAM-SHA-256");
  EXPECT_EQ(a.sasl->user, "alice");
  EXPECT_EQ(a.sasl->password_file, "/run/pw");
  EXPECT_EQ(a.sasl->service, "thrift");
  auto b =
      connect("tls:host=db1:port=1:ca=c:sasl=GSSAPI:service=hive:hostname=db1.x:qop=auth-conf");
  EXPECT_TRUE(b.tls.has_value());
  EXPECT_EQ(b.sasl->hostname, "db1.x");
  EXPECT_EQ(b.sasl->qop, (std::vector<std::string>{"auth-conf"}));
  EXPECT_FALSE(connect("unix:path=/x").sasl.has_value());
}

TEST(ConnectEndpoint, EveryErrorNamesTheProblem) {
  EXPECT_EQ(connectError("tcp:host=a:port=1:user=alice"), "sasl: user= needs sasl=");
  EXPECT_EQ(connectError("tcp:host=a:port=1:sasl="),
            "sasl: sasl= names the mechanism (PLAIN, SCRAM-SHA-256, DIGEST-MD5, GSSAPI)");
  EXPECT_EQ(connectError("tcp:host=a:port=1:sasl=PLAIN:qop=all"),
            "sasl: qop must list auth, auth-int or auth-conf, not 'all'");
  EXPECT_EQ(connectError("tcp:host=a"), "tcp: port= is required");
  EXPECT_EQ(connectError("tcp:port=1"), "tcp: host= is required");
  EXPECT_EQ(connectError("tcp:a:0"), "tcp: port must be a number from 1 to 65535, not '0'");
  EXPECT_EQ(connectError("unix"), "unix: path= is required");
  EXPECT_EQ(connectError("fd:3"),
            "unknown endpoint kind 'fd' for a client (expected tcp, unix, tls)");
  EXPECT_EQ(connectError("tls:host=a:port=1:cert=c"), "tls: cert= and key= go together");
  EXPECT_EQ(connectError("tls:host=a:port=1:verify=maybe"),
            "tls: verify must be yes or no, not 'maybe'");
  EXPECT_EQ(connectError("tcp:host=a:port=1:ca=x"), "tcp: unknown key 'ca' (expected host, port)");
}

}  // namespace
}  // namespace thrum::endpoint
