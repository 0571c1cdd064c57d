// The peer for the side-by-side benchmark: Apache Thrift's own
// TNonblockingServer (Debian's libthriftnb) serving the same Bench handler.
//
//   thrum-bench-nb-server --port 0 --io-threads 2 --workers 4
//
// Prints "listening on 127.0.0.1:PORT" once it accepts. Framed transport,
// binary protocol (all TNonblockingServer speaks by default).
#include <sys/resource.h>

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/transport/TNonblockingServerSocket.h>

#include "services/bench/bench_handler.h"

using namespace apache::thrift;

namespace {

class PrintPort : public server::TServerEventHandler {
 public:
  explicit PrintPort(server::TNonblockingServer*& server) : server_(server) {}
  void preServe() override {
    std::cout << "listening on 127.0.0.1:" << server_->getListenPort() << std::endl;
  }

 private:
  server::TNonblockingServer*& server_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"TNonblockingServer running the Bench handler"};
  int port = 0;
  size_t io_threads = 2, workers = 4;
  app.add_option("--port", port)->capture_default_str();
  app.add_option("--io-threads", io_threads)->capture_default_str();
  app.add_option("--workers", workers)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  auto handler = std::make_shared<thrum::bench::BenchHandler>();
  auto processor = std::make_shared<thrum::bench::BenchProcessor>(handler);
  auto threads = concurrency::ThreadManager::newSimpleThreadManager(workers);
  threads->threadFactory(std::make_shared<concurrency::ThreadFactory>());
  threads->start();
  auto socket = std::make_shared<transport::TNonblockingServerSocket>("127.0.0.1", port);
  server::TNonblockingServer server(processor, std::make_shared<protocol::TBinaryProtocolFactory>(),
                                    socket, threads);
  server.setNumIOThreads(io_threads);
  server::TNonblockingServer* self = &server;
  server.setServerEventHandler(std::make_shared<PrintPort>(self));
  server.serve();
  return 0;
}
