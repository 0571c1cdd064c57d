#include "tests/support/many_clients.h"

#include <functional>
#include <memory>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "tests/support/wait.h"
#include "thrum/transport/wire.h"

namespace thrum::testing {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// One crowd member: connect, then rounds of write-request, read-replies.
struct Member : std::enable_shared_from_this<Member> {
  Member(asio::io_context& ctx, const std::string& request_bytes, size_t replies_per_round,
         size_t round_count, CrowdResult& crowd)
      : socket(ctx),
        request(request_bytes),
        replies(replies_per_round),
        rounds(round_count),
        result(crowd) {}

  void start(uint16_t port) {
    socket.async_connect({asio::ip::make_address("127.0.0.1"), port},
                         [self = shared_from_this()](auto ec) {
                           if (ec) return self->fail();
                           self->round();
                         });
  }
  void round() {
    if (rounds_done == rounds) return finish();
    left = replies;
    asio::async_write(socket, asio::buffer(request), [self = shared_from_this()](auto ec, size_t) {
      if (ec) return self->fail();
      self->readHeader();
    });
  }
  void readHeader() {
    if (left == 0) {
      ++rounds_done;
      ++result.rounds;
      return round();
    }
    asio::async_read(socket, asio::buffer(header), [self = shared_from_this()](auto ec, size_t) {
      if (ec) return self->fail();
      self->body.resize(transport::loadBe32(self->header));
      asio::async_read(self->socket, asio::buffer(self->body), [self](auto ec2, size_t) {
        if (ec2) return self->fail();
        --self->left;
        self->readHeader();
      });
    });
  }
  void fail() {
    if (!done) ++result.failed;
    finish();
  }
  void finish() {
    done = true;
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  tcp::socket socket;
  const std::string& request;
  size_t replies, rounds, rounds_done = 0, left = 0;
  CrowdResult& result;
  uint8_t header[4] = {};
  std::string body;
  bool done = false;
};

}  // namespace

CrowdResult runCrowd(uint16_t port, size_t connections, const std::string& request, size_t replies,
                     size_t rounds, std::chrono::milliseconds limit) {
  asio::io_context ctx;
  CrowdResult result;
  std::vector<std::shared_ptr<Member>> members;
  for (size_t i = 0; i < connections; ++i) {
    members.push_back(std::make_shared<Member>(ctx, request, replies, rounds, result));
    members.back()->start(port);
  }
  ctx.run_for(limit);
  for (auto& m : members) {
    if (!m->done) m->fail();
  }
  return result;
}

std::vector<std::string> sendFromMany(uint16_t port, size_t connections, const std::string& bytes,
                                      std::chrono::milliseconds limit) {
  asio::io_context ctx;
  std::vector<std::string> got(connections);
  std::vector<std::unique_ptr<tcp::socket>> sockets;
  for (size_t i = 0; i < connections; ++i) {
    sockets.push_back(std::make_unique<tcp::socket>(ctx));
    tcp::socket& s = *sockets.back();
    s.async_connect({asio::ip::make_address("127.0.0.1"), port}, [&, i](auto ec) {
      if (ec) return;
      asio::async_write(s, asio::buffer(bytes), [&, i](auto wec, size_t) {
        if (wec) return;
        asio::async_read(s, asio::dynamic_buffer(got[i]), [](auto, size_t) {});
      });
    });
  }
  ctx.run_for(limit);
  return got;
}

Bystanders::Bystanders(uint16_t port, size_t clients) {
  for (size_t i = 0; i < clients; ++i) {
    threads_.emplace_back([this, port] {
      try {
        auto client =
            connectStock(port, {transport::Framing::kFramed, transport::Protocol::kBinary});
        while (!stop_.load()) {
          client.bench->ping();
          calls_.fetch_add(1);
        }
      } catch (const std::exception&) {
        failures_.fetch_add(1);
      }
    });
  }
}

Bystanders::~Bystanders() {
  stop_.store(true);
  for (auto& t : threads_) t.join();
}

bool Bystanders::waitForCalls(size_t n, std::chrono::milliseconds timeout) {
  size_t target = calls_.load() + n * threads_.size();
  return waitFor([&] { return calls_.load() >= target || failures_.load() > 0; }, timeout) &&
         failures_.load() == 0;
}

}  // namespace thrum::testing
