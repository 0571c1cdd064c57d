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

#include "framework/client/connect.h"
#include "framework/server/server.h"
#include "tests/support/clients.h"
#include "tests/support/test_handler.h"

namespace thrum {
namespace {

namespace fs = std::filesystem;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;

// A fresh directory under /tmp, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "thrum-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

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
  std::string error;
  ASSERT_FALSE(s.server.listen("unix:address=" + path + ":mode=0600", &error)) << error;
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
  s.server.stop();
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
  std::string error;
  ASSERT_FALSE(live.server.listen("unix:" + path, &error)) << error;
  live.server.start();
  EXPECT_EQ(echoOverUnix(path, "replaced"), "replaced");

  ServerWith thief;
  auto ec = thief.server.listen("unix:" + path, &error);
  EXPECT_EQ(ec, boost::asio::error::address_in_use);
  EXPECT_EQ(error, "unix:" + path + ": " + path + " is in use by a live process");
  EXPECT_EQ(echoOverUnix(path, "still mine"), "still mine");

  std::string file = dir / "not-a-socket";
  std::ofstream(file) << "data";
  EXPECT_TRUE(thief.server.listen("unix:" + file, &error));
  EXPECT_TRUE(fs::exists(file)) << "a regular file is never removed";
}

TEST(Endpoints, AbstractUnixName) {
  ServerWith s;
  std::string name = "thrum-test-" + std::to_string(getpid());
  std::string error;
  ASSERT_FALSE(s.server.listen("unix:@" + name, &error)) << error;
  s.server.start();
  EXPECT_EQ(s.server.listeningOn().at(0), "unix:@" + name);
  EXPECT_EQ(echoOverUnix(std::string(1, '\0') + name, "abstract"), "abstract");
}

TEST(Endpoints, OneServerOnSeveralEndpointsAtOnce) {
  TempDir dir;
  ServerWith s;
  std::string error;
  ASSERT_FALSE(s.server.listen("tcp:port=0:interface=127.0.0.1", &error)) << error;
  ASSERT_FALSE(s.server.listen("tcp:port=0:interface=\\:\\:1", &error)) << error;
  ASSERT_FALSE(s.server.listen("unix:" + (dir / "a.sock"), &error)) << error;
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
  std::string error;
  ASSERT_FALSE(s.server.listen("fd:" + std::to_string(fd), &error)) << error;
  s.server.start();
  auto client = testing::connectStock(s.server.port(), testing::kAllStacks[2]);
  std::string out;
  client.bench->echo(out, "inherited");
  EXPECT_EQ(out, "inherited");
}

std::string echoThrough(const std::string& endpoint, const client::Options& options,
                        const std::string& payload) {
  std::string error;
  auto conn = client::connect(endpoint, options, error);
  EXPECT_TRUE(conn) << error;
  if (!conn) return "";
  bench::BenchClient bench(conn->protocol);
  std::string out;
  bench.echo(out, payload);
  return out;
}

TEST(ClientConnect, EveryClientEndpointAndStack) {
  TempDir dir;
  ServerWith s;
  std::string error;
  ASSERT_FALSE(s.server.listen("tcp:port=0:interface=127.0.0.1", &error)) << error;
  ASSERT_FALSE(s.server.listen("unix:" + (dir / "c.sock"), &error)) << error;
  std::string abstract = "thrum-client-" + std::to_string(getpid());
  ASSERT_FALSE(s.server.listen("unix:@" + abstract, &error)) << error;
  s.server.start();
  std::string port = std::to_string(s.server.port());
  for (bool framed : {true, false}) {
    for (bool compact : {false, true}) {
      client::Options o{.framed = framed, .compact = compact};
      EXPECT_EQ(echoThrough("tcp:host=127.0.0.1:port=" + port, o, "a"), "a");
      EXPECT_EQ(echoThrough("127.0.0.1:" + port, o, "b"), "b");
      EXPECT_EQ(echoThrough("unix:path=" + (dir / "c.sock"), o, "c"), "c");
      EXPECT_EQ(echoThrough("unix:@" + abstract, o, "d"), "d");
    }
  }
}

TEST(ClientConnect, ErrorsNameTheEndpoint) {
  std::string error;
  EXPECT_FALSE(client::connect("tcp:host=127.0.0.1", {}, error));
  EXPECT_EQ(error, "tcp: port= is required");
  EXPECT_FALSE(client::connect("nonsense", {}, error));
  EXPECT_EQ(error, "'nonsense' is neither an endpoint string nor HOST:PORT (expected HOST:PORT)");
  EXPECT_FALSE(client::connect("unix:path=/nonexistent/thrum.sock", {}, error));
  EXPECT_NE(error.find("unix:path=/nonexistent/thrum.sock: "), std::string::npos) << error;
}

}  // namespace
}  // namespace thrum
