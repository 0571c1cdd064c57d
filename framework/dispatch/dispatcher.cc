#include "framework/dispatch/dispatcher.h"

#include <spdlog/spdlog.h>
#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "framework/transport/application_error.h"

namespace thrum::dispatch {
namespace {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::TProtocol;
using apache::thrift::transport::TMemoryBuffer;

// The in-memory transports and protocols a worker thread reuses for every
// call it runs, so a call costs no protocol or buffer allocation.
struct WorkerBuffers {
  std::shared_ptr<TMemoryBuffer> in = std::make_shared<TMemoryBuffer>();
  std::shared_ptr<TMemoryBuffer> out = std::make_shared<TMemoryBuffer>();
  std::shared_ptr<TProtocol> in_binary =
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(in);
  std::shared_ptr<TProtocol> out_binary =
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(out);
  std::shared_ptr<TProtocol> in_compact =
      std::make_shared<apache::thrift::protocol::TCompactProtocol>(in);
  std::shared_ptr<TProtocol> out_compact =
      std::make_shared<apache::thrift::protocol::TCompactProtocol>(out);
};

WorkerBuffers& workerBuffers() {
  thread_local WorkerBuffers buffers;
  return buffers;
}

}  // namespace

Dispatcher::Dispatcher(std::shared_ptr<apache::thrift::TProcessor> processor, Metrics& metrics)
    : processor_(std::move(processor)),
      calls_(metrics.counter("calls.run")),
      application_errors_(metrics.counter("calls.application_errors")),
      handler_escapes_(metrics.counter("calls.handler_escapes")) {}

std::string Dispatcher::run(const Call& call) {
  calls_.inc();
  WorkerBuffers& b = workerBuffers();
  const std::string& request = call.request();
  b.in->resetBuffer(reinterpret_cast<uint8_t*>(const_cast<char*>(request.data())),
                    static_cast<uint32_t>(request.size()), TMemoryBuffer::OBSERVE);
  b.out->resetBuffer();
  bool binary = call.protocol() == transport::Protocol::kBinary;
  const auto& in = binary ? b.in_binary : b.in_compact;
  const auto& out = binary ? b.out_binary : b.out_compact;

  std::string escaped;
  {
    ScopedCallContext scope(call.context());
    try {
      // The context pointer reaches TProcessorEventHandler hooks, if any.
      processor_->process(in, out, const_cast<CallContext*>(&call.context()));
    } catch (const std::exception& e) {
      escaped = e.what();
    } catch (...) {
      escaped = "unknown exception";
    }
  }

  const auto& header = call.header();
  if (!escaped.empty()) {
    // Generated processors already turn a handler's std::exception into a
    // TApplicationException reply; what reaches here is a request body the
    // processor could not read, or a handler that threw a non-std type.
    handler_escapes_.inc();
    spdlog::warn("call {} (seqid {}) from {}: escaped the processor: {}", header.name, header.seqid,
                 call.context().peer(), escaped);
    if (call.oneway()) return {};
    application_errors_.inc();
    return std::string(call.replyHeadroom(), '\0') +
           transport::encodeApplicationException(call.protocol(), header.name, header.seqid,
                                                 TApplicationException::INTERNAL_ERROR,
                                                 "thrum: call failed: " + escaped);
  }
  if (call.oneway()) return {};

  uint8_t* data = nullptr;
  uint32_t size = 0;
  b.out->getBuffer(&data, &size);
  std::string reply;
  reply.reserve(call.replyHeadroom() + size);
  reply.append(call.replyHeadroom(), '\0');
  reply.append(reinterpret_cast<const char*>(data), size);

  auto type = transport::peekMessageType(std::span(data, size), call.protocol());
  if (type == transport::MessageType::kException) {
    application_errors_.inc();
    std::string message;
    transport::MessageType ignored{};
    transport::inspectReply(call.protocol(),
                            std::string_view(reinterpret_cast<const char*>(data), size), ignored,
                            &message);
    spdlog::debug("call {} (seqid {}) from {}: answered with TApplicationException: {}",
                  header.name, header.seqid, call.context().peer(), message);
  }
  return reply;
}

}  // namespace thrum::dispatch
