#include "thrum/dispatch/dispatcher.h"

#include <spdlog/spdlog.h>
#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>

#include "thrum/dispatch/call_transport.h"
#include "thrum/transport/application_error.h"
#include "thrum/transport/message_reader.h"
#include "thrum/transport/overload.h"

namespace thrum::dispatch {
namespace {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::TProtocol;

// The transport and protocols a worker thread reuses for every call it runs,
// so a call allocates nothing but its reply.
struct WorkerBuffers {
  std::shared_ptr<CallTransport> transport = std::make_shared<CallTransport>();
  std::shared_ptr<TProtocol> in_binary =
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport);
  std::shared_ptr<TProtocol> out_binary =
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport);
  std::shared_ptr<TProtocol> in_compact =
      std::make_shared<apache::thrift::protocol::TCompactProtocol>(transport);
  std::shared_ptr<TProtocol> out_compact =
      std::make_shared<apache::thrift::protocol::TCompactProtocol>(transport);
};

WorkerBuffers& workerBuffers() {
  thread_local WorkerBuffers buffers;
  return buffers;
}

}  // namespace

Dispatcher::Dispatcher(std::shared_ptr<apache::thrift::TProcessor> processor, Metrics& metrics,
                       std::chrono::milliseconds retry_after)
    : processor_(std::move(processor)),
      retry_after_(retry_after),
      calls_(metrics.counter("calls.run")),
      refused_(metrics.counter("calls.refused.unauthorized")),
      application_errors_(metrics.counter("calls.application_errors")),
      handler_escapes_(metrics.counter("calls.handler_escapes")),
      expired_(metrics.counter("calls.rejected.queue_timeout")),
      malformed_(metrics.counter("calls.malformed")) {}

std::string Dispatcher::malformed(const Call& call, transport::WireErrc why) {
  malformed_.inc();
  if (call.oneway()) return {};
  application_errors_.inc();
  return transport::encodeApplicationException(
      call.protocol(), call.header().name, call.header().seqid,
      TApplicationException::PROTOCOL_ERROR,
      "thrum: malformed request: " + make_error_code(why).message(), call.replyHeadroom());
}

std::string Dispatcher::expire(const Call& call) {
  expired_.inc();
  if (call.oneway()) return {};
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(CallContext::Clock::now() -
                                                                      call.context().arrived());
  return transport::encodeOverload(
      call.protocol(), call.header(),
      transport::overloadMessage(
          "queue_timeout",
          "waited " + std::to_string(waited.count()) + " ms for a worker, past the limit of " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 call.queueDeadline() - call.context().arrived())
                                 .count()) +
              " ms",
          retry_after_),
      call.replyHeadroom());
}

std::string Dispatcher::refuse(const Call& call, const std::string& reason) {
  refused_.inc();
  const CallContext& c = call.context();
  std::string who =
      c.principal().empty() ? "unauthenticated peer " + c.peer() : "principal " + c.principal();
  std::string text = "thrum: permission denied: " + who + " may not call " +
                     std::string(c.method()) + (reason.empty() ? "" : ": " + reason);
  spdlog::info("call {} (seqid {}) from {}: {}", transport::printable(call.header().name),
               call.header().seqid, c.peer(), transport::printable(text, 512));
  if (call.oneway()) return {};
  application_errors_.inc();
  return transport::encodeApplicationException(call.protocol(), call.header().name,
                                               call.header().seqid, TApplicationException::UNKNOWN,
                                               text, call.replyHeadroom());
}

std::optional<std::string> Dispatcher::screen(const Call& call) {
  if (call.queueDeadline() <= CallContext::Clock::now()) return expire(call);
  if (!call.checked()) {
    transport::WireErrc why = transport::checkMessage(call.protocol(), call.request());
    if (why != transport::WireErrc::kOk) return malformed(call, why);
  }
  if (!authorizer_) return std::nullopt;
  Status allowed;
  try {
    allowed = authorizer_(call.context());
  } catch (const std::exception& e) {
    allowed = Status::failure(std::string("the authorizer failed: ") + e.what());
  }
  if (!allowed) return refuse(call, allowed.message());
  return std::nullopt;
}

std::string Dispatcher::process(const Call& call) {
  WorkerBuffers& b = workerBuffers();
  b.transport->begin(call.request(), call.replyHeadroom());
  bool binary = call.protocol() == transport::Protocol::kBinary;
  const auto& in = binary ? b.in_binary : b.in_compact;
  const auto& out = binary ? b.out_binary : b.out_compact;
  ScopedCallContext scope(call.context());
  try {
    // The context pointer reaches TProcessorEventHandler hooks, if any.
    processor_->process(in, out, const_cast<CallContext*>(&call.context()));
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
  return {};
}

std::string Dispatcher::escaped(const Call& call, const std::string& what) {
  // Generated processors already turn a handler's std::exception into a
  // TApplicationException reply; what reaches here is a request body the
  // processor could not read, or a handler that threw a non-std type.
  const auto& header = call.header();
  handler_escapes_.inc();
  spdlog::warn("call {} (seqid {}) from {}: escaped the processor: {}",
               transport::printable(header.name), header.seqid, call.context().peer(),
               transport::printable(what, 512));
  if (call.oneway()) return {};
  application_errors_.inc();
  return transport::encodeApplicationException(call.protocol(), header.name, header.seqid,
                                               TApplicationException::INTERNAL_ERROR,
                                               "thrum: call failed: " + what, call.replyHeadroom());
}

void Dispatcher::noteException(const Call& call, std::string_view reply) {
  std::string_view message = reply.substr(call.replyHeadroom());
  auto type = transport::peekMessageType(
      std::span(reinterpret_cast<const uint8_t*>(message.data()), message.size()), call.protocol());
  if (type != transport::MessageType::kException) return;
  application_errors_.inc();
  std::string text;
  transport::MessageType ignored{};
  transport::inspectReply(call.protocol(), message, ignored, &text);
  spdlog::debug("call {} (seqid {}) from {}: answered with TApplicationException: {}",
                transport::printable(call.header().name), call.header().seqid,
                call.context().peer(), transport::printable(text, 512));
}

std::string Dispatcher::run(const Call& call) {
  if (auto answer = screen(call)) return std::move(*answer);
  calls_.inc();
  std::string what = process(call);
  if (!what.empty()) return escaped(call, what);
  if (call.oneway()) return {};
  std::string reply = workerBuffers().transport->takeReply();
  noteException(call, reply);
  return reply;
}

}  // namespace thrum::dispatch
