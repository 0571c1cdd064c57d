// thrum-live-fuzz: a black-box mutation fuzzer against a running server of
// the Bench service (thrum-bench-server), as a hostile peer would try it.
//
//   thrum-live-fuzz --plain PORT --sasl PORT [--seconds 60] [--seed N]
//
// Round after round it sends a batch of mutated exchanges, then asks for a
// fresh ping on a new connection, which must be answered within 10 s:
//   - calls in each of the four stacks (framed/unframed x binary/compact):
//     Bench calls and a Thrift message with every type (wire_test.thrift),
//     alone and pipelined, mutated (tests/fuzz/mutator.h), sent whole or in
//     pieces, then the connection closed or reset;
//   - SASL sessions on the --sasl endpoint (PLAIN and DIGEST-MD5 offered,
//     user alice, password secret): PLAIN negotiations and their data
//     mutated as bytes; DIGEST-MD5 at auth, auth-int and auth-conf driven by
//     a real Cyrus client, with one negotiation message mutated, or, once
//     negotiated, mutated calls wrapped by the security layer, or wrapped
//     packets mutated.
// Exit status: 0 when every fresh ping was answered, 1 when one was not
// (the server died or stopped serving), 2 on bad arguments. The last line
// says how many exchanges of each kind were sent.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "Bench.h"
#include "Everywhere.h"
#include "tests/fuzz/mutator.h"
#include "thrum/transport/sasl_layer.h"
#include "thrum/transport/sasl_session.h"
#include "thrum/transport/sasl_wire.h"
#include "thrum/transport/wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sasl/sasl.h>

namespace thrum {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace sasl = transport::sasl;
using transport::Framing;
using transport::Protocol;

// A blocking loopback TCP connection whose reads give up after a deadline.
class Socket {
 public:
  explicit Socket(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) close();
    int one = 1;
    if (fd_ >= 0) setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Socket() { close(); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool ok() const { return fd_ >= 0; }

  bool send(std::string_view bytes) {
    while (fd_ >= 0 && !bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return fd_ >= 0;
  }

  // Appends up to `n` bytes that arrive before `deadline`; false at the
  // deadline or when the peer closed before they all came.
  bool read(size_t n, std::string& out, Clock::time_point deadline) {
    while (n > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || fd_ < 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[64 * 1024];
      ssize_t got = ::recv(fd_, buf, std::min(n, sizeof(buf)), 0);
      if (got <= 0) return false;
      out.append(buf, static_cast<size_t>(got));
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  // Reads whatever comes until the peer closes, nothing comes for `idle`,
  // or `total` passes; returns how many bytes arrived.
  size_t drain(std::chrono::milliseconds idle, std::chrono::milliseconds total) {
    size_t seen = 0;
    auto end = Clock::now() + total;
    std::string sink;
    while (Clock::now() < end) {
      sink.clear();
      if (!read(1, sink, std::min(end, Clock::now() + idle))) break;
      seen += sink.size();
    }
    return seen;
  }

  // Ends the connection with a reset instead of a FIN.
  void reset() {
    linger off{1, 0};
    if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
    close();
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct Stack {
  Framing framing;
  Protocol protocol;
};
constexpr Stack kStacks[] = {{Framing::kFramed, Protocol::kBinary},
                             {Framing::kFramed, Protocol::kCompact},
                             {Framing::kUnframed, Protocol::kBinary},
                             {Framing::kUnframed, Protocol::kCompact}};

// The bytes a stock client of `Client` writes for `calls`, in `stack`.
template <typename Client, typename Calls>
std::string encode(const Stack& stack, Calls calls) {
  namespace at = apache::thrift::transport;
  namespace ap = apache::thrift::protocol;
  auto memory = std::make_shared<at::TMemoryBuffer>();
  std::shared_ptr<at::TTransport> trans = memory;
  if (stack.framing == Framing::kFramed) trans = std::make_shared<at::TFramedTransport>(memory);
  std::shared_ptr<ap::TProtocol> proto;
  if (stack.protocol == Protocol::kBinary) {
    proto = std::make_shared<ap::TBinaryProtocol>(trans);
  } else {
    proto = std::make_shared<ap::TCompactProtocol>(trans);
  }
  Client client(proto);
  calls(client);
  trans->flush();
  return memory->getBufferAsString();
}

test::Everything everything() {
  test::Everything e;
  e.flag_true = true;
  e.small = -7;
  e.short_number = 1234;
  e.number = -123456;
  e.big_number = 1LL << 40;
  e.ratio = 0.25;
  e.text = "text";
  e.blob = std::string("\0\1\2", 3);
  e.numbers = {1, 2, 3};
  e.names = {"a", "b"};
  test::Inner inner;
  inner.id = 5;
  inner.label = "inner";
  inner.__set_children({inner});
  e.by_name = {{"x", inner}};
  e.bools = {true, false};
  e.nested = {{3, {{{"k", 1.5}}}}};
  e.inner = inner;
  e.inners = {inner, inner};
  e.far_field_id = 300;
  return e;
}

// Well-formed requests for one stack: the seeds every mutation starts from.
std::vector<std::string> callSeeds(const Stack& stack) {
  using Bench = bench::BenchClient;
  std::vector<std::string> seeds = {
      encode<Bench>(stack, [](Bench& c) { c.send_ping(); }),
      encode<Bench>(stack, [](Bench& c) { c.send_echo("hello"); }),
      encode<Bench>(stack, [](Bench& c) { c.send_echo(std::string(3000, 'e')); }),
      encode<Bench>(stack, [](Bench& c) { c.send_work(50); }),
      encode<Bench>(stack, [](Bench& c) { c.send_fire("x"); }),
      encode<test::EverywhereClient>(
          stack, [](test::EverywhereClient& c) { c.send_roundTrip(everything()); }),
  };
  // Pipelined: several calls in one write.
  seeds.push_back(seeds[0] + seeds[1] + seeds[4] + seeds[0]);
  return seeds;
}

std::string framedPing() {
  return encode<bench::BenchClient>({Framing::kFramed, Protocol::kBinary},
                                    [](bench::BenchClient& c) { c.send_ping(); });
}

// A fresh connection's ping, answered with a REPLY within 10 s.
bool freshPing(uint16_t port) {
  Socket s(port);
  if (!s.ok() || !s.send(framedPing())) return false;
  auto deadline = Clock::now() + 10s;
  std::string header;
  if (!s.read(4, header, deadline)) return false;
  uint32_t len = transport::loadBe32(reinterpret_cast<const uint8_t*>(header.data()));
  std::string body;
  if (len < 4 || len > 1024 || !s.read(len, body, deadline)) return false;
  return static_cast<uint8_t>(body[0]) == 0x80 && body[3] == 2;  // strict binary REPLY
}

class Fuzzer {
 public:
  Fuzzer(uint16_t plain, uint16_t sasl_port, uint64_t seed)
      : plain_(plain), sasl_(sasl_port), rng_(seed) {
    for (const Stack& stack : kStacks) {
      for (auto& s : callSeeds(stack)) calls_.push_back(std::move(s));
    }
    // PLAIN sessions as Java and Python clients open them, then calls on
    // the SASL transport (no framing inside it), binary and compact.
    for (Protocol protocol : {Protocol::kBinary, Protocol::kCompact}) {
      std::string session;
      sasl::appendMessage(sasl::Status::kStart, "PLAIN", session);
      sasl::appendMessage(sasl::Status::kComplete, std::string("\0alice\0secret", 13), session);
      for (const auto& call : callSeeds({Framing::kUnframed, protocol})) {
        std::string with = session;
        sasl::appendFrames(call, sasl::kMaxFrameBytes, with);
        plain_sessions_.push_back(std::move(with));
      }
    }
  }

  // One batch of mutated exchanges.
  void batch() {
    for (int i = 0; i < 8; ++i) mutatedCalls();
    for (int i = 0; i < 3; ++i) mutatedPlainSession();
    for (const char* qop : {"auth", "auth-int", "auth-conf"}) digestSession(qop);
  }

  std::map<std::string, size_t> sent;

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // Sends `bytes` whole or in a few pieces, reads what comes back for a
  // moment, then closes or resets.
  void exchange(uint16_t port, const std::string& bytes) {
    Socket s(port);
    if (!s.ok()) return;
    size_t at = 0;
    size_t pieces = 1 + pick(3);
    for (size_t p = 1; p <= pieces && at < bytes.size(); ++p) {
      size_t end = p == pieces ? bytes.size() : at + pick(bytes.size() - at + 1);
      if (!s.send(std::string_view(bytes).substr(at, end - at))) break;
      at = end;
    }
    s.drain(30ms, 300ms);
    if (pick(3) == 0) s.reset();
  }

  void mutatedCalls() {
    exchange(plain_, fuzz::mutate(calls_[pick(calls_.size())], calls_, rng_));
    ++sent["calls"];
  }

  void mutatedPlainSession() {
    exchange(sasl_,
             fuzz::mutate(plain_sessions_[pick(plain_sessions_.size())], plain_sessions_, rng_));
    ++sent["sasl-plain"];
  }

  // A DIGEST-MD5 negotiation by a real Cyrus client at `qop`, with one
  // negotiation message mutated, or mutated data afterwards.
  void digestSession(const std::string& qop) {
    ++sent["sasl-digest-" + qop];
    std::string error;
    auto session = sasl::Session::forClient("thrift", "localhost", "alice", "secret", error);
    if (!session || !session->setSecurityProperties({qop}, error)) {
      std::cerr << "cannot make a DIGEST-MD5 client: " << error << "\n";
      return;
    }
    Socket s(sasl_);
    if (!s.ok()) return;
    int mutate_step = static_cast<int>(pick(5));  // 0-2: a negotiation message; else the data
    auto send = [&](int step, sasl::Status status, std::string_view payload) {
      std::string message;
      sasl::appendMessage(status, payload, message);
      if (step == mutate_step) message = fuzz::mutate(message, {message}, rng_);
      return s.send(message);
    };
    const char* out = nullptr;
    unsigned out_len = 0;
    int rc = sasl_client_start(session->get(), "DIGEST-MD5", nullptr, nullptr, nullptr, nullptr);
    if (rc != SASL_CONTINUE || !send(0, sasl::Status::kStart, "DIGEST-MD5") ||
        !send(1, sasl::Status::kOk, "")) {
      return;
    }
    // The server's challenge; our response; its COMPLETE with rspauth.
    for (int step = 2;; ++step) {
      std::string header, payload;
      auto deadline = Clock::now() + 2s;
      if (!s.read(5, header, deadline)) return;
      uint32_t len = transport::loadBe32(reinterpret_cast<const uint8_t*>(header.data()) + 1);
      if (len > 65536 || !s.read(len, payload, deadline)) return;
      auto status = static_cast<sasl::Status>(header[0]);
      if (status != sasl::Status::kOk && status != sasl::Status::kComplete) return;
      rc = sasl_client_step(session->get(), payload.data(), static_cast<unsigned>(payload.size()),
                            nullptr, &out, &out_len);
      if (rc != SASL_OK && rc != SASL_CONTINUE) return;
      if (status == sasl::Status::kComplete) break;
      if (!send(step, rc == SASL_OK ? sasl::Status::kComplete : sasl::Status::kOk,
                std::string_view(out != nullptr ? out : "", out_len))) {
        return;
      }
    }
    // Negotiated: calls on the SASL transport, wrapped when there is a layer.
    ++sent["sasl-digest-negotiated"];
    std::unique_ptr<sasl::SecurityLayer> layer;
    if (qop != "auth") layer = std::make_unique<sasl::SecurityLayer>(std::move(session));
    const std::vector<std::string>& seeds = pick(2) == 0 ? binary_calls() : compact_calls();
    for (int i = 0; i < 3; ++i) {
      std::string call = seeds[pick(seeds.size())];
      bool mutate_plain = pick(2) == 0;
      if (mutate_plain) call = fuzz::mutate(call, seeds, rng_);
      std::string wire;
      if (layer) {
        if (!layer->encode(call, wire, error)) return;
      } else {
        sasl::appendFrames(call, sasl::kMaxFrameBytes, wire);
      }
      if (!mutate_plain) wire = fuzz::mutate(wire, {wire}, rng_);
      if (!s.send(wire)) return;
    }
    s.drain(30ms, 300ms);
    if (pick(3) == 0) s.reset();
  }

  const std::vector<std::string>& binary_calls() {
    static const auto seeds = callSeeds({Framing::kUnframed, Protocol::kBinary});
    return seeds;
  }
  const std::vector<std::string>& compact_calls() {
    static const auto seeds = callSeeds({Framing::kUnframed, Protocol::kCompact});
    return seeds;
  }

  uint16_t plain_, sasl_;
  std::mt19937_64 rng_;
  std::vector<std::string> calls_;
  std::vector<std::string> plain_sessions_;
};

int run(int argc, char** argv) {
  uint16_t plain = 0, sasl_port = 0;
  long seconds = 60;
  uint64_t seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--plain") {
      plain = static_cast<uint16_t>(std::stoi(argv[i + 1]));
    } else if (flag == "--sasl") {
      sasl_port = static_cast<uint16_t>(std::stoi(argv[i + 1]));
    } else if (flag == "--seconds") {
      seconds = std::stol(argv[i + 1]);
    } else if (flag == "--seed") {
      seed = std::stoull(argv[i + 1]);
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (plain == 0 || sasl_port == 0) {
    std::cerr << "usage: thrum-live-fuzz --plain PORT --sasl PORT [--seconds N] [--seed N]\n";
    return 2;
  }
  std::string error;
  if (!sasl::initClientLibrary(error)) {
    std::cerr << error << "\n";
    return 2;
  }
  std::cout << "seed " << seed << std::endl;  // to replay a failing run
  Fuzzer fuzzer(plain, sasl_port, seed);
  auto end = Clock::now() + std::chrono::seconds(seconds);
  size_t batches = 0;
  while (Clock::now() < end) {
    fuzzer.batch();
    ++batches;
    if (!freshPing(plain)) {
      std::cout << "batch " << batches << ": a fresh ping was not answered\n";
      return 1;
    }
  }
  std::cout << batches << " batches, a fresh ping answered after each;";
  for (const auto& [kind, n] : fuzzer.sent) std::cout << " " << kind << " " << n;
  std::cout << std::endl;
  return 0;
}

}  // namespace
}  // namespace thrum

int main(int argc, char** argv) {
  return thrum::run(argc, argv);
}
