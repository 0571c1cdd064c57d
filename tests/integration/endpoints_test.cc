// Listening endpoints chosen by string: unix sockets (paths, modes, stale
// files, abstract names), several endpoints on one server, and descriptors
// handed over the way a parent process or systemd hands them.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "tests/support/clients.h"
#include "tests/support/status.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_handler.h"
#include "thrum/client/connect.h"
#include "thrum/server/server.h"

namespace thrum {
namespace {

using testing::failure;
using testing::succeeded;

namespace fs = std::filesystem;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;

using testing::TempDir;

// A stock framed/binary client over a unix socket ("\0name" for abstract).
std::string echoOverUnix(const std::string& path, const std::string& payload) {
  auto socket = std::make_shared<TSocket>(path);
  auto transport = std::make_shared<TFramedTransport>(socket);
  bench::BenchClient client(std::make_shared<TBinaryProtocol>(transport));
  transport->open();
  std::string out;
  client.echo(out, payload);
  transport->close();
  return out;
}

struct ServerWith {
  std::shared_ptr<testing::TestHandler> handler = std::make_shared<testing::TestHandler>();
  Server server{std::make_shared<bench::BenchProcessor>(handler)};
};

TEST(Endpoints, UnixSocketServesStockClientsAndNamesPeerByCredentials) {
  TempDir dir;
  ServerWith s;
  std::string path = dir / "thrum.sock";
  ASSERT_TRUE(succeeded(s.server.listen("unix:address=" + path + ":mode=0600")));
  s.server.start();
  EXPECT_EQ(s.server.listeningOn().at(0), "unix:" + path);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(echoOverUnix(path, "over unix"), "over unix");
  auto socket = std::make_shared<TSocket>(path);
  auto transport = std::make_shared<TFramedTransport>(socket);
  bench::BenchClient client(std::make_shared<TBinaryProtocol>(transport));
  transport->open();
  client.ping();
  EXPECT_EQ(s.handler->seen()->peer,
            "unix:pid=" + std::to_string(getpid()) + ",uid=" + std::to_string(getuid()));
  transport->close();
  EXPECT_TRUE(succeeded(s.server.stop()));
  EXPECT_FALSE(fs::exists(path)) << "the socket file is removed on stop";
}

TEST(Endpoints, StaleSocketFileIsReplacedLiveOneIsNotStolen) {
  TempDir dir;
  std::string path = dir / "stale.sock";
  {
    // A socket file whose listener is gone, as a crashed process leaves it.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  ServerWith live;
  ASSERT_TRUE(succeeded(live.server.listen("unix:" + path)));
  live.server.start();
  EXPECT_EQ(echoOverUnix(path, "replaced"), "replaced");

  ServerWith thief;
  Status stolen = thief.server.listen("unix:" + path);
  EXPECT_EQ(stolen.code(), std::errc::address_in_use);
  EXPECT_EQ(stolen.message(), "unix:" + path + ": " + path + " is in use by a live process");
  EXPECT_EQ(echoOverUnix(path, "still mine"), "still mine");

  std::string file = dir / "not-a-socket";
  std::ofstream(file) << "data";
  EXPECT_FALSE(thief.server.listen("unix:" + file));
  EXPECT_TRUE(fs::exists(file)) << "a regular file is never removed";
}

TEST(Endpoints, AbstractUnixName) {
  ServerWith s;
  std::string name = "thrum-test-" + std::to_string(getpid());
  ASSERT_TRUE(succeeded(s.server.listen("unix:@" + name)));
  s.server.start();
  EXPECT_EQ(s.server.listeningOn().at(0), "unix:@" + name);
  EXPECT_EQ(echoOverUnix(std::string(1, '\0') + name, "abstract"), "abstract");
}

TEST(Endpoints, OneServerOnSeveralEndpointsAtOnce) {
  TempDir dir;
  ServerWith s;
  ASSERT_TRUE(succeeded(s.server.listen("tcp:port=0:interface=127.0.0.1")));
  ASSERT_TRUE(succeeded(s.server.listen("tcp:port=0:interface=\\:\\:1")));
  ASSERT_TRUE(succeeded(s.server.listen("unix:" + (dir / "a.sock"))));
  s.server.start();
  auto v4 = testing::connectStock(s.server.port(0), testing::kAllStacks[0]);
  std::string out;
  v4.bench->echo(out, "v4");
  EXPECT_EQ(out, "v4");
  auto socket = std::make_shared<TSocket>("::1", s.server.port(1));
  auto transport = std::make_shared<TFramedTransport>(socket);
  bench::BenchClient v6(std::make_shared<TBinaryProtocol>(transport));
  transport->open();
  v6.echo(out, "v6");
  EXPECT_EQ(out, "v6");
  EXPECT_EQ(echoOverUnix(dir / "a.sock", "unix"), "unix");
}

TEST(Endpoints, InheritedDescriptorInThisProcess) {
  // The listening socket is made elsewhere (as a supervisor would) and only
  // its number is passed.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  ServerWith s;
  ASSERT_TRUE(succeeded(s.server.listen("fd:" + std::to_string(fd))));
  s.server.start();
  auto client = testing::connectStock(s.server.port(), testing::kAllStacks[2]);
  std::string out;
  client.bench->echo(out, "inherited");
  EXPECT_EQ(out, "inherited");
}

std::string echoThrough(const std::string& endpoint, const ConnectOptions& options,
                        const std::string& payload) {
  auto conn = thrum::connect(endpoint, options);
  EXPECT_TRUE(conn) << conn.error();
  if (!conn) return "";
  bench::BenchClient bench(conn->protocol);
  std::string out;
  bench.echo(out, payload);
  return out;
}

TEST(ClientConnect, EveryClientEndpointAndStack) {
  TempDir dir;
  ServerWith s;
  ASSERT_TRUE(succeeded(s.server.listen("tcp:port=0:interface=127.0.0.1")));
  ASSERT_TRUE(succeeded(s.server.listen("unix:" + (dir / "c.sock"))));
  std::string abstract = "thrum-client-" + std::to_string(getpid());
  ASSERT_TRUE(succeeded(s.server.listen("unix:@" + abstract)));
  s.server.start();
  std::string port = std::to_string(s.server.port());
  for (bool framed : {true, false}) {
    for (bool compact : {false, true}) {
      ConnectOptions o{.framed = framed, .compact = compact};
      EXPECT_EQ(echoThrough("tcp:host=127.0.0.1:port=" + port, o, "a"), "a");
      EXPECT_EQ(echoThrough("127.0.0.1:" + port, o, "b"), "b");
      EXPECT_EQ(echoThrough("unix:path=" + (dir / "c.sock"), o, "c"), "c");
      EXPECT_EQ(echoThrough("unix:@" + abstract, o, "d"), "d");
    }
  }
}

TEST(ClientConnect, ErrorsNameTheEndpoint) {
  EXPECT_EQ(failure(thrum::connect("tcp:host=127.0.0.1")), "tcp: port= is required");
  EXPECT_EQ(failure(thrum::connect("nonsense")),
            "'nonsense' is neither an endpoint string nor HOST:PORT (expected HOST:PORT)");
  std::string error = failure(thrum::connect("unix:path=/nonexistent/thrum.sock"));
  EXPECT_EQ(error.rfind("unix:path=/nonexistent/thrum.sock: ", 0), 0u) << error;
}

}  // namespace
}  // namespace thrum
