// thrum-bench-call: calls the Bench service with the stock generated Thrift
// client, over any of the four stock stacks.
//
//   thrum-bench-call --connect unix:path=/run/bench.sock --transport framed --protocol compact
//       ping echo:hello work:100 fire:x
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "Bench.h"
#include "thrum/client/connect.h"

using namespace apache::thrift;

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a server gone mid-TLS is an exception, not a kill
  CLI::App app{"thrum-bench-call: call the Bench service with the stock Thrift C++ client"};
  std::string connect = "127.0.0.1:9090";
  std::string transport_kind = "framed";
  std::string protocol_kind = "binary";
  std::vector<std::string> calls;
  app.add_option("--connect", connect, "HOST:PORT, tcp:host=H:port=P, unix:path=P or unix:@NAME")
      ->capture_default_str();
  app.add_option("--transport", transport_kind, "framed or buffered")
      ->capture_default_str()
      ->check(CLI::IsMember({"framed", "buffered"}));
  app.add_option("--protocol", protocol_kind, "binary or compact")
      ->capture_default_str()
      ->check(CLI::IsMember({"binary", "compact"}));
  app.add_option("calls", calls, "ping | echo:TEXT | work:MICROS | fire:TEXT")->required();
  CLI11_PARSE(app, argc, argv);

  thrum::ConnectOptions options{.framed = transport_kind == "framed",
                                .compact = protocol_kind == "compact"};
  auto connection = thrum::connect(connect, options);
  if (!connection) {
    std::cerr << "--connect: " << connection.error() << "\n";
    return 1;
  }
  auto trans = connection->transport;
  thrum::bench::BenchClient client(connection->protocol);
  try {
    for (const auto& call : calls) {
      auto colon = call.find(':');
      std::string name = call.substr(0, colon);
      std::string arg = colon == std::string::npos ? "" : call.substr(colon + 1);
      auto start = std::chrono::steady_clock::now();
      std::string result;
      if (name == "ping") {
        client.ping();
        result = "ok";
      } else if (name == "echo") {
        client.echo(result, arg);
      } else if (name == "work") {
        result = std::to_string(client.work(std::stoi(arg))) + " iterations";
      } else if (name == "fire") {
        client.fire(arg);
        result = "sent (oneway)";
      } else {
        std::cerr << "unknown call '" << name << "'\n";
        return 2;
      }
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
      std::cout << transport_kind << "/" << protocol_kind << " " << call << " -> " << result << " ("
                << us << " us)\n";
    }
    trans->close();
  } catch (const TException& e) {
    std::cerr << "call failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
