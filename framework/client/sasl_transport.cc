#include "framework/client/sasl_transport.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <thrift/transport/TTransportException.h>

#include "framework/transport/sasl_layer.h"
#include "framework/transport/sasl_wire.h"
#include "framework/transport/wire.h"

#include <sasl/sasl.h>

namespace thrum::client {

using apache::thrift::transport::TTransportException;
namespace sasl = transport::sasl;

namespace {

// Both name callbacks answer the user: who authenticates and who acts.
int userName(void* context, int /*id*/, const char** result, unsigned* len) {
  const auto* user = static_cast<const std::string*>(context);
  *result = user->c_str();
  if (len != nullptr) *len = static_cast<unsigned>(user->size());
  return SASL_OK;
}

int password(sasl_conn_t* /*conn*/, void* context, int /*id*/, sasl_secret_t** secret) {
  *secret = static_cast<sasl_secret_t*>(context);
  return SASL_OK;
}

[[noreturn]] void fail(const std::string& what) {
  throw TTransportException(TTransportException::NOT_OPEN, "SASL: " + what);
}

}  // namespace

SaslClientTransport::SaslClientTransport(
    std::shared_ptr<apache::thrift::transport::TTransport> inner, Options options)
    : inner_(std::move(inner)), options_(std::move(options)) {}

SaslClientTransport::~SaslClientTransport() {
  if (conn_ != nullptr) sasl_dispose(&conn_);
}

bool SaslClientTransport::isOpen() const {
  return negotiated_ && inner_->isOpen();
}

bool SaslClientTransport::peek() {
  return read_at_ < read_buffer_.size() || inner_->peek();
}

void SaslClientTransport::open() {
  if (!inner_->isOpen()) inner_->open();
  negotiate();
}

void SaslClientTransport::close() {
  inner_->close();
}

void SaslClientTransport::sendMessage(uint8_t status, const char* data, unsigned len) {
  std::string out;
  sasl::appendMessage(static_cast<sasl::Status>(status), std::string_view(data ? data : "", len),
                      out);
  inner_->write(reinterpret_cast<const uint8_t*>(out.data()), static_cast<uint32_t>(out.size()));
  inner_->flush();
}

uint8_t SaslClientTransport::receiveMessage(std::string& payload) {
  uint8_t header[5];
  inner_->readAll(header, sizeof(header));
  uint32_t len = transport::loadBe32(header + 1);
  if (header[0] < 1 || header[0] > 5) fail("server sent status " + std::to_string(header[0]));
  if (len > (1u << 20)) fail("server sent a " + std::to_string(len) + "-byte negotiation message");
  payload.assign(len, '\0');
  if (len > 0) inner_->readAll(reinterpret_cast<uint8_t*>(payload.data()), len);
  return header[0];
}

void SaslClientTransport::negotiate() {
  std::string error;
  if (!sasl::initClientLibrary(error)) fail(error);
  // Cyrus keeps pointers to the callbacks and what they answer.
  size_t secret_len = options_.password.size();
  secret_.reset(new char[sizeof(sasl_secret_t) + secret_len]);
  auto* secret = reinterpret_cast<sasl_secret_t*>(secret_.get());
  secret->len = secret_len;
  std::memcpy(secret->data, options_.password.data(), secret_len);
  callbacks_ = {
      {SASL_CB_USER, sasl::callbackProc(userName), &options_.user},
      {SASL_CB_AUTHNAME, sasl::callbackProc(userName), &options_.user},
      {SASL_CB_PASS, sasl::callbackProc(password), secret},
      {SASL_CB_LIST_END, nullptr, nullptr},
  };
  if (options_.user.empty()) callbacks_.erase(callbacks_.begin(), callbacks_.begin() + 2);
  int rc = sasl_client_new(options_.service.c_str(), options_.hostname.c_str(), nullptr, nullptr,
                           callbacks_.data(), SASL_SUCCESS_DATA, &conn_);
  if (rc != SASL_OK) fail("cannot start a client: " + sasl::describe(conn_, rc));

  if (!sasl::setSecurityProperties(conn_, options_.qop, error)) fail(error);

  const char* out = nullptr;
  unsigned out_len = 0;
  const char* chosen = nullptr;
  rc = sasl_client_start(conn_, options_.mech.c_str(), nullptr, &out, &out_len, &chosen);
  if (rc != SASL_OK && rc != SASL_CONTINUE) {
    fail(options_.mech + " cannot start: " + sasl::describe(conn_, rc));
  }
  bool client_done = rc == SASL_OK;
  sendMessage(static_cast<uint8_t>(sasl::Status::kStart), options_.mech.data(),
              static_cast<unsigned>(options_.mech.size()));
  // The initial response always follows START, empty when there is none.
  sendMessage(static_cast<uint8_t>(client_done ? sasl::Status::kComplete : sasl::Status::kOk), out,
              out_len);

  for (;;) {
    std::string payload;
    auto status = static_cast<sasl::Status>(receiveMessage(payload));
    if (status == sasl::Status::kBad || status == sasl::Status::kError) {
      fail("server answered " + std::string(sasl::toString(status)) + ": " + payload);
    }
    if (status != sasl::Status::kOk && status != sasl::Status::kComplete) {
      fail("server sent " + std::string(sasl::toString(status)) + " during the negotiation");
    }
    bool server_done = status == sasl::Status::kComplete;
    if (!client_done) {
      // The server's challenge, or its success data (rspauth=, v=) to check.
      rc = sasl_client_step(conn_, payload.data(), static_cast<unsigned>(payload.size()), nullptr,
                            &out, &out_len);
      if (rc != SASL_OK && rc != SASL_CONTINUE) {
        fail(options_.mech + " step failed: " + sasl::describe(conn_, rc));
      }
      client_done = rc == SASL_OK;
    } else if (!server_done || !payload.empty()) {
      if (!server_done) fail("server goes on after the mechanism finished");
    }
    if (server_done) {
      if (!client_done) fail("server finished before the mechanism did");
      break;
    }
    sendMessage(static_cast<uint8_t>(client_done ? sasl::Status::kComplete : sasl::Status::kOk),
                out, out_len);
  }

  const void* value = nullptr;
  unsigned ssf = 0;
  if (sasl_getprop(conn_, SASL_SSF, &value) == SASL_OK && value != nullptr) {
    ssf = *static_cast<const unsigned*>(value);
  }
  qop_ = std::string(sasl::toString(sasl::qopOfSsf(ssf)));
  if (ssf > 0) {
    layer_ = std::make_unique<sasl::SecurityLayer>(sasl::adoptConn(conn_));
  } else {
    sasl_dispose(&conn_);
  }
  conn_ = nullptr;
  negotiated_ = true;
}

void SaslClientTransport::readFrame() {
  uint8_t header[4];
  inner_->readAll(header, sizeof(header));
  uint32_t len = transport::loadBe32(header);
  if (len > sasl::kMaxFrameBytes + 1024) {
    throw TTransportException(TTransportException::CORRUPTED_DATA,
                              "SASL frame of " + std::to_string(len) + " bytes");
  }
  std::string frame;
  if (layer_) transport::appendBe32(len, frame);
  size_t at = frame.size();
  frame.resize(at + len);
  if (len > 0) inner_->readAll(reinterpret_cast<uint8_t*>(frame.data() + at), len);
  read_buffer_.clear();
  read_at_ = 0;
  if (!layer_) {
    read_buffer_ = std::move(frame);
    return;
  }
  std::string error;
  if (!layer_->decode(frame, read_buffer_, error)) {
    throw TTransportException(TTransportException::CORRUPTED_DATA, error);
  }
}

uint32_t SaslClientTransport::read(uint8_t* buf, uint32_t len) {
  while (read_at_ == read_buffer_.size()) readFrame();  // frames may be empty
  uint32_t n = static_cast<uint32_t>(std::min<size_t>(len, read_buffer_.size() - read_at_));
  std::memcpy(buf, read_buffer_.data() + read_at_, n);
  read_at_ += n;
  return n;
}

void SaslClientTransport::write(const uint8_t* buf, uint32_t len) {
  write_buffer_.append(reinterpret_cast<const char*>(buf), len);
}

void SaslClientTransport::flush() {
  std::string out;
  if (layer_) {
    std::string error;
    if (!layer_->encode(write_buffer_, out, error)) {
      throw TTransportException(TTransportException::UNKNOWN, error);
    }
  } else {
    sasl::appendFrames(write_buffer_, sasl::kMaxFrameBytes, out);
  }
  write_buffer_.clear();
  inner_->write(reinterpret_cast<const uint8_t*>(out.data()), static_cast<uint32_t>(out.size()));
  inner_->flush();
}

}  // namespace thrum::client
