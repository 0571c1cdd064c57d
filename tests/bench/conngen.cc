// thrum-conngen: connection-level load for the Bench service, where
// thrum-loadgen measures calls: many connections, their handshakes, and
// load offered at a fixed rate whatever the server answers.
//
//   thrum-conngen --connect 127.0.0.1:9090 --mode idle --connections 10000
//                 --seconds 10 --tls --sasl-user alice --sasl-password secret
//
// Modes:
//   idle   opens --connections connections (at most --parallel connecting at
//          once), each completing TLS and SASL when asked and one ping, then
//          holds them open until --seconds after the last one is up; then
//          every one of them calls again, all at once.
//   churn  --connections loops, each: connect, TLS and SASL handshakes when
//          asked, one ping, close; again until --seconds pass. Measures
//          handshakes per second.
//   open   open-loop calls: --rate calls per second in total, spread over
//          --connections connections and sent on schedule whether or not
//          earlier ones were answered (pipelined). Latency runs from the
//          scheduled send. Replies that are exceptions count as rejected;
//          calls unanswered when the time is up count as unanswered.
// SASL is PLAIN, on the Thrift SASL wire; the data phase frames are the
// framed transport's, so the calls are the same bytes either way.
// Prints one JSON object.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "Bench.h"
#include "thrum/endpoint/host_port.h"
#include "thrum/endpoint/socket.h"
#include "thrum/transport/sasl_wire.h"
#include "thrum/transport/wire.h"

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  tcp::endpoint server;
  bool tls = false;
  std::string user, password;
  std::string request;  // one framed call
};

// A connection, TLS or not, with the few operations the modes need.
class Conn {
 public:
  Conn(asio::io_context& io, ssl::context* tls) : socket_(io) {
    if (tls) tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls);
  }

  awaitable<void> open(const Options& o) {
    co_await socket_.async_connect(o.server, use_awaitable);
    socket_.set_option(tcp::no_delay(true));
    if (tls_) co_await tls_->async_handshake(ssl::stream_base::client, use_awaitable);
    if (!o.user.empty()) co_await sasl(o);
  }
  awaitable<void> write(const std::string& bytes) {
    if (tls_) {
      co_await asio::async_write(*tls_, asio::buffer(bytes), use_awaitable);
    } else {
      co_await asio::async_write(socket_, asio::buffer(bytes), use_awaitable);
    }
  }
  awaitable<void> read(void* into, size_t n) {
    if (tls_) {
      co_await asio::async_read(*tls_, asio::buffer(into, n), use_awaitable);
    } else {
      co_await asio::async_read(socket_, asio::buffer(into, n), use_awaitable);
    }
  }
  // Reads one framed reply; returns its message type (2 reply, 3 exception).
  awaitable<int> readReply() {
    uint8_t header[4];
    co_await read(header, 4);
    size_t n = thrum::transport::loadBe32(header);
    body_.resize(n);
    co_await read(body_.data(), n);
    co_return n >= 4 ? body_[3] : -1;  // strict binary: byte 3 is the type
  }
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  awaitable<void> sasl(const Options& o) {
    using thrum::transport::sasl::appendMessage;
    using thrum::transport::sasl::Status;
    std::string out;
    appendMessage(Status::kStart, "PLAIN", out);
    appendMessage(Status::kOk, std::string(1, '\0') + o.user + '\0' + o.password, out);
    co_await write(out);
    uint8_t head[5];
    co_await read(head, 5);
    size_t n = thrum::transport::loadBe32(head + 1);
    body_.resize(n);
    co_await read(body_.data(), n);
    if (head[0] != static_cast<uint8_t>(Status::kComplete)) {
      throw std::runtime_error("SASL not COMPLETE");
    }
  }

  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  std::vector<uint8_t> body_;
};

struct Stats {
  size_t connected = 0, failed = 0, cycles = 0;
  size_t ok = 0, rejected = 0, errors = 0, unanswered = 0;
  std::vector<uint32_t> latencies_us;
  Clock::time_point last_up;
};

uint32_t percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

uint32_t micros(Clock::duration d) {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::string encodeRequest(const std::string& call, int work_us) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  auto framed = std::make_shared<apache::thrift::transport::TFramedTransport>(buffer);
  thrum::bench::BenchClient client(
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(framed));
  if (call == "work") {
    client.send_work(work_us);
  } else {
    client.send_ping();
  }
  return buffer->getBufferAsString();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"connection-level load for the Bench service"};
  std::string connect = "127.0.0.1:9090", mode = "idle", call = "ping";
  size_t connections = 1000, parallel = 200;
  double seconds = 5, warmup = 1, rate = 1000;
  int work_us = 1000;
  Options o;
  app.add_option("--connect", connect)->capture_default_str();
  app.add_option("--mode", mode)->check(CLI::IsMember({"idle", "churn", "open"}));
  app.add_option("--connections", connections)->capture_default_str();
  app.add_option("--parallel", parallel, "idle: connections being set up at once")
      ->capture_default_str();
  app.add_option("--seconds", seconds)->capture_default_str();
  app.add_option("--warmup", warmup, "churn/open: unmeasured time first")->capture_default_str();
  app.add_option("--rate", rate, "open: calls per second offered in total")->capture_default_str();
  app.add_option("--call", call)->check(CLI::IsMember({"ping", "work"}))->capture_default_str();
  app.add_option("--micros", work_us, "work duration")->capture_default_str();
  app.add_flag("--tls", o.tls, "TLS (the server's certificate is not verified)");
  app.add_option("--sasl-user", o.user, "SASL PLAIN user (no SASL without one)");
  app.add_option("--sasl-password", o.password);
  CLI11_PARSE(app, argc, argv);

  thrum::endpoint::raiseOpenFileLimit();
  std::string error;
  auto address = thrum::endpoint::parseHostPort(connect, error);
  if (!address) {
    std::cerr << "--connect: " << error << "\n";
    return 2;
  }
  o.server = tcp::endpoint(asio::ip::make_address(address->host), address->port);
  o.request = encodeRequest(call, work_us);

  asio::io_context io(1);
  ssl::context tls_ctx(ssl::context::tls_client);
  tls_ctx.set_verify_mode(ssl::verify_none);
  ssl::context* tls = o.tls ? &tls_ctx : nullptr;
  Stats st;
  auto start = Clock::now();
  auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  auto stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds));
  std::vector<std::shared_ptr<Conn>> held;

  if (mode == "idle") {
    // `parallel` workers take connections off one counter.
    auto next = std::make_shared<size_t>(0);
    for (size_t w = 0; w < std::min(parallel, connections); ++w) {
      asio::co_spawn(
          io,
          [&, next]() -> awaitable<void> {
            while (*next < connections) {
              ++*next;
              auto c = std::make_shared<Conn>(io, tls);
              try {
                co_await c->open(o);
                co_await c->write(o.request);
                if (co_await c->readReply() != 2) throw std::runtime_error("not a reply");
                held.push_back(c);
                ++st.connected;
              } catch (const std::exception&) {
                ++st.failed;
              }
              st.last_up = Clock::now();
            }
          },
          asio::detached);
    }
    // Set-up done: print that it is (a script reads the server's memory
    // now), then hold for --seconds.
    asio::steady_timer poll(io);
    std::function<void()> wait_up = [&] {
      if (st.connected + st.failed < connections) {
        poll.expires_after(std::chrono::milliseconds(20));
        poll.async_wait([&](auto) { wait_up(); });
        return;
      }
      std::fprintf(stderr, "up %zu connections in %.2f s\n", st.connected,
                   std::chrono::duration<double>(st.last_up - start).count());
      std::fflush(stderr);
      poll.expires_after(
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
      // Then every connection calls again, all at once.
      poll.async_wait([&](auto) {
        for (auto& c : held) {
          asio::co_spawn(
              io,
              [&, c]() -> awaitable<void> {
                try {
                  co_await c->write(o.request);
                  if (co_await c->readReply() == 2) ++st.ok;
                } catch (const std::exception&) {
                  ++st.errors;
                }
                c->close();
              },
              asio::detached);
        }
      });
    };
    wait_up();
    io.run();
    std::printf(
        "{\"connected\": %zu, \"failed\": %zu, \"setup_s\": %.3f, \"called_again\": %zu, "
        "\"again_errors\": %zu}\n",
        st.connected, st.failed, std::chrono::duration<double>(st.last_up - start).count(), st.ok,
        st.errors);
    return 0;
  }

  if (mode == "churn") {
    for (size_t i = 0; i < connections; ++i) {
      asio::co_spawn(
          io,
          [&]() -> awaitable<void> {
            while (Clock::now() < stop_at) {
              Conn c(io, tls);
              try {
                co_await c.open(o);
                co_await c.write(o.request);
                if (co_await c.readReply() != 2) throw std::runtime_error("not a reply");
                auto now = Clock::now();
                if (now >= measure_from && now < stop_at) ++st.cycles;
              } catch (const std::exception&) {
                ++st.failed;
              }
              c.close();
            }
          },
          asio::detached);
    }
    io.run();
    std::printf("{\"cycles\": %zu, \"per_s\": %.1f, \"failed\": %zu}\n", st.cycles,
                static_cast<double>(st.cycles) / seconds, st.failed);
    return 0;
  }

  // open: each connection sends on its own schedule and reads in order.
  auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(connections) / rate));
  for (size_t i = 0; i < connections; ++i) {
    auto c = std::make_shared<Conn>(io, tls);
    auto sent = std::make_shared<std::deque<Clock::time_point>>();
    asio::co_spawn(
        io,
        [&, c, sent, i]() -> awaitable<void> {
          try {
            co_await c->open(o);
          } catch (const std::exception&) {
            ++st.failed;
            co_return;
          }
          // The reader, alongside this sender.
          asio::co_spawn(
              io,
              [&, c, sent]() -> awaitable<void> {
                try {
                  for (;;) {
                    int type = co_await c->readReply();
                    auto scheduled = sent->front();
                    sent->pop_front();
                    auto now = Clock::now();
                    if (scheduled < measure_from || now > stop_at) continue;
                    if (type == 2) {
                      ++st.ok;
                      st.latencies_us.push_back(micros(now - scheduled));
                    } else if (type == 3) {
                      ++st.rejected;
                    } else {
                      ++st.errors;
                    }
                  }
                } catch (const std::exception&) {
                  // closed at the end
                }
              },
              asio::detached);
          asio::steady_timer tick(io);
          auto at =
              Clock::now() + period * static_cast<int64_t>(i) / static_cast<int64_t>(connections);
          std::string batch;
          while (at < stop_at) {
            tick.expires_at(at);
            co_await tick.async_wait(use_awaitable);
            // Every call due by now, sent in one write.
            batch.clear();
            for (auto now = Clock::now(); at <= now && at < stop_at; at += period) {
              sent->push_back(at);
              batch += o.request;
            }
            co_await c->write(batch);
          }
        },
        asio::detached);
    held.push_back(c);
  }
  asio::steady_timer end(io, stop_at + std::chrono::milliseconds(100));
  end.async_wait([&](auto) { io.stop(); });
  io.run();
  // What was sent in the window and never answered.
  for (auto& c : held) c->close();
  size_t offered = static_cast<size_t>(rate * seconds);
  size_t answered = st.ok + st.rejected + st.errors;
  st.unanswered = offered > answered ? offered - answered : 0;
  uint32_t p50 = percentile(st.latencies_us, 0.5), p99 = percentile(st.latencies_us, 0.99);
  std::printf(
      "{\"offered_per_s\": %.1f, \"ok_per_s\": %.1f, \"rejected_per_s\": %.1f, "
      "\"unanswered\": %zu, \"errors\": %zu, \"failed\": %zu, \"p50_us\": %u, \"p99_us\": %u}\n",
      rate, static_cast<double>(st.ok) / seconds, static_cast<double>(st.rejected) / seconds,
      st.unanswered, st.errors, st.failed, p50, p99);
  return 0;
}
