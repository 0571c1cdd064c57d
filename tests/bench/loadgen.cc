// thrum-loadgen: a closed-loop Thrift load generator for the Bench service.
//
//   thrum-loadgen --connect 127.0.0.1:9090 --connections 256 --call ping --seconds 5
//
// With --idle each connection makes one call and then stays open, idle.
// Otherwise each connection keeps exactly one call outstanding (framed transport,
// binary protocol: what every Thrift server speaks). Requests are encoded
// once by the stock generated client; replies are checked to be T_REPLY.
// One or two threads, each with its own io_context, share the connections.
// Prints one JSON object: calls, seconds, calls_per_s, p50_us, p99_us,
// p999_us, errors, connect_errors, and histogram_us: the count of calls
// whose latency is at most each power of two of microseconds.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "Bench.h"
#include "thrum/endpoint/host_port.h"
#include "thrum/endpoint/socket.h"
#include "thrum/transport/wire.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Shared {
  std::string request;  // one framed request
  bool idle = false;    // one call per connection, then hold it open until stop_at
  Clock::time_point measure_from;
  Clock::time_point stop_at;
};

struct ThreadStats {
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0;
  uint64_t connect_errors = 0;
};

class LoadConnection : public std::enable_shared_from_this<LoadConnection> {
 public:
  LoadConnection(asio::io_context& ctx, const Shared& shared, ThreadStats& stats)
      : socket_(ctx), shared_(shared), stats_(stats) {}

  void start(const tcp::endpoint& server) {
    socket_.async_connect(server, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        ++self->stats_.connect_errors;
        return;
      }
      self->socket_.set_option(tcp::no_delay(true));
      self->socket_.non_blocking(true);
      self->doCall();
    });
  }

 private:
  void doCall() {
    if (Clock::now() >= shared_.stop_at) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      return;
    }
    sent_ = Clock::now();
    asio::async_write(socket_, asio::buffer(shared_.request),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        if (ec) return self->fail();
                        self->doRead();
                      });
  }
  // Wait for readability, then read what is there: one read call per reply
  // in the common case (a speculative read would fail first).
  void doRead() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         if (ec) return self->fail();
                         self->onReadable();
                       });
  }
  void onReadable() {
    boost::system::error_code ec;
    size_t n = socket_.read_some(asio::buffer(in_.data() + have_, in_.size() - have_), ec);
    if (ec == asio::error::would_block) return doRead();
    if (ec) return fail();
    have_ += n;
    if (have_ >= 4) {
      size_t frame = 4 + size_t{thrum::transport::loadBe32(in_.data())};
      if (frame > in_.size()) in_.resize(frame);
      if (have_ >= frame) {
        type_ = in_[4 + 3];
        have_ = 0;  // one call outstanding: nothing follows the reply
        return onReply();
      }
      if (have_ == in_.size()) return onReadable();
    }
    doRead();
  }
  void onReply() {
    auto now = Clock::now();
    // Strict binary: byte 3 of the version word is the message type.
    bool ok = type_ == 2;
    if (sent_ >= shared_.measure_from && now <= shared_.stop_at) {
      if (ok) {
        stats_.latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - sent_).count()));
      } else {
        ++stats_.errors;
      }
    }
    // Stays open and idle until the context stops, waiting on the socket:
    // that wait is what owns this connection, and it notices (and counts)
    // a server that closes it before the time is up.
    if (shared_.idle) return doRead();
    doCall();
  }
  void fail() {
    if (Clock::now() < shared_.stop_at) ++stats_.errors;
  }

  tcp::socket socket_;
  const Shared& shared_;
  ThreadStats& stats_;
  Clock::time_point sent_;
  std::vector<uint8_t> in_ = std::vector<uint8_t>(4096);
  size_t have_ = 0;
  uint8_t type_ = 0;
};

std::string encodeRequest(const std::string& call, size_t size, int micros) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  auto framed = std::make_shared<apache::thrift::transport::TFramedTransport>(buffer);
  thrum::bench::BenchClient client(
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(framed));
  if (call == "ping") {
    client.send_ping();
  } else if (call == "echo") {
    client.send_echo(std::string(size, 'x'));
  } else {
    client.send_work(micros);
  }
  return buffer->getBufferAsString();
}

uint32_t percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"closed-loop load for the Bench service"};
  std::string connect = "127.0.0.1:9090", call = "ping";
  int connections = 16, threads = 1, micros = 100;
  size_t size = 1024;
  double seconds = 5, warmup = 1;
  app.add_option("--connect", connect)->capture_default_str();
  app.add_option("--connections", connections)->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str()->check(CLI::Range(1, 2));
  app.add_option("--call", call)
      ->capture_default_str()
      ->check(CLI::IsMember({"ping", "echo", "work"}));
  app.add_option("--size", size, "echo payload bytes")->capture_default_str();
  app.add_option("--micros", micros, "work duration")->capture_default_str();
  app.add_option("--seconds", seconds, "measured time")->capture_default_str();
  bool idle = false;
  app.add_flag("--idle", idle,
               "make one call per connection, then hold the connections open and idle until "
               "the time is up (for measuring a server's memory per idle connection)");
  app.add_option("--warmup", warmup, "unmeasured time first")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  thrum::endpoint::raiseOpenFileLimit();
  std::string error;
  auto address = thrum::endpoint::parseHostPort(connect, error);
  if (!address) {
    std::cerr << "--connect: " << error << "\n";
    return 2;
  }
  tcp::endpoint server(asio::ip::make_address(address->host), address->port);

  Shared shared;
  shared.request = encodeRequest(call, size, micros);
  shared.idle = idle;
  auto start = Clock::now();
  shared.measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  shared.stop_at = shared.measure_from + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));

  std::vector<ThreadStats> stats(threads);
  std::vector<std::thread> runners;
  for (int t = 0; t < threads; ++t) {
    runners.emplace_back([&, t] {
      asio::io_context ctx(1);
      for (int c = t; c < connections; c += threads) {
        std::make_shared<LoadConnection>(ctx, shared, stats[t])->start(server);
      }
      // Calls still outstanding at stop_at are abandoned: wake up then.
      asio::steady_timer end(ctx, shared.stop_at + std::chrono::milliseconds(200));
      end.async_wait([&](boost::system::error_code) { ctx.stop(); });
      ctx.run();
    });
  }
  for (auto& r : runners) r.join();

  std::vector<uint32_t> all;
  uint64_t errors = 0, connect_errors = 0;
  for (auto& s : stats) {
    all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
    errors += s.errors;
    connect_errors += s.connect_errors;
  }
  std::sort(all.begin(), all.end());
  std::string histogram;
  size_t counted = 0;
  for (uint64_t bound = 1; counted < all.size(); bound *= 2) {
    size_t upto = static_cast<size_t>(
        std::upper_bound(all.begin(), all.end(), static_cast<uint32_t>(bound)) - all.begin());
    if (upto > counted) {
      histogram += (histogram.empty() ? "" : ", ") + std::string("\"") + std::to_string(bound) +
                   "\": " + std::to_string(upto - counted);
      counted = upto;
    }
  }
  std::printf(
      "{\"calls\": %zu, \"seconds\": %.3f, \"calls_per_s\": %.1f, \"p50_us\": %u, "
      "\"p99_us\": %u, \"p999_us\": %u, \"errors\": %llu, \"connect_errors\": %llu, "
      "\"histogram_us\": {%s}}\n",
      all.size(), seconds, static_cast<double>(all.size()) / seconds, percentile(all, 0.5),
      percentile(all, 0.99), percentile(all, 0.999), static_cast<unsigned long long>(errors),
      static_cast<unsigned long long>(connect_errors), histogram.c_str());
  return 0;
}
