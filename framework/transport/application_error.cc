#include "thrum/transport/application_error.h"

#include <memory>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

namespace thrum::transport {
namespace {

using apache::thrift::protocol::TProtocol;
using apache::thrift::transport::TMemoryBuffer;

std::unique_ptr<TProtocol> makeProtocol(Protocol protocol, std::shared_ptr<TMemoryBuffer> buf) {
  if (protocol == Protocol::kBinary) {
    return std::make_unique<apache::thrift::protocol::TBinaryProtocol>(std::move(buf));
  }
  return std::make_unique<apache::thrift::protocol::TCompactProtocol>(std::move(buf));
}

}  // namespace

std::string encodeApplicationException(Protocol protocol, std::string_view name, int32_t seqid,
                                       AppErrorType type, std::string_view message,
                                       size_t headroom) {
  auto buf = std::make_shared<TMemoryBuffer>(headroom + 64 + name.size() + message.size());
  const std::string room(headroom, '\0');
  buf->write(reinterpret_cast<const uint8_t*>(room.data()), static_cast<uint32_t>(room.size()));
  auto proto = makeProtocol(protocol, buf);
  apache::thrift::TApplicationException error(type, std::string(message));
  proto->writeMessageBegin(std::string(name), apache::thrift::protocol::T_EXCEPTION, seqid);
  error.write(proto.get());
  proto->writeMessageEnd();
  return buf->getBufferAsString();
}

bool inspectReply(Protocol protocol, std::string_view reply, MessageType& type,
                  std::string* exception_message) {
  try {
    auto buf = std::make_shared<TMemoryBuffer>(
        reinterpret_cast<uint8_t*>(const_cast<char*>(reply.data())),
        static_cast<uint32_t>(reply.size()), TMemoryBuffer::OBSERVE);
    auto proto = makeProtocol(protocol, buf);
    std::string name;
    apache::thrift::protocol::TMessageType t;
    int32_t seqid = 0;
    proto->readMessageBegin(name, t, seqid);
    type = static_cast<MessageType>(t);
    if (type == MessageType::kException && exception_message != nullptr) {
      apache::thrift::TApplicationException error;
      error.read(proto.get());
      *exception_message = error.what();
    }
    return true;
  } catch (const apache::thrift::TException&) {
    return false;
  }
}

}  // namespace thrum::transport
