#include "thrum/server/service.h"

#include <iostream>

#include <spdlog/spdlog.h>
#include <thrift/processor/TMultiplexedProcessor.h>

#include "thrum/endpoint/listener.h"
#include "thrum/endpoint/socket.h"

namespace thrum {

int serve(int argc, char** argv, Service service) {
  holdShutdownSignals();  // before any thread exists, so all inherit it
  tuneAllocator();
  ServiceSettings settings;
  settings.listen = std::move(service.listen);
  settings.server = std::move(service.server);
  config::Schema schema(service.name, service.env_prefix);
  addServiceSettings(schema, settings);
  if (service.settings) service.settings(schema);
  if (auto code = loadServiceSettings(schema, argc, argv, settings, service.name.c_str())) {
    return *code;
  }
  spdlog::info("open file limit {}", endpoint::raiseOpenFileLimit());

  if (!service.processor) {
    std::cerr << service.name << ": the service has no processor\n";
    return 2;
  }
  Result<std::shared_ptr<apache::thrift::TProcessor>> processor = service.processor(settings);
  if (!processor) {
    std::cerr << service.name << ": " << processor.error() << "\n";
    return 2;
  }
  Server server(std::move(*processor), settings.server);
  if (service.prepare) service.prepare(server);
  if (Status started = listenAndStart(server, settings.listen, std::cout); !started) {
    std::cerr << "--listen: " << started.message() << "\n";
    return 1;
  }
  runUntilSignal(server);
  return 0;
}

std::shared_ptr<apache::thrift::TProcessor> multiplex(
    std::vector<std::pair<std::string, std::shared_ptr<apache::thrift::TProcessor>>> services) {
  auto processor = std::make_shared<apache::thrift::TMultiplexedProcessor>();
  for (auto& [name, service] : services) processor->registerProcessor(name, std::move(service));
  return processor;
}

}  // namespace thrum
