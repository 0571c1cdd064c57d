// The stream sockets thrum serves and accepts on, and what the process and
// its logs need to know of them.
#pragma once

#include <cstddef>
#include <string>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>

namespace thrum::endpoint {

// Bound to an io_context's own executor rather than any_io_executor: every
// pending operation carries a copy of it, and an idle connection has one
// pending, so this keeps about 80 bytes off each.
using StreamSocket = boost::asio::basic_stream_socket<boost::asio::generic::stream_protocol,
                                                      boost::asio::io_context::executor_type>;
using StreamAcceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

// Raises this process's soft limit on open descriptors to its hard limit (a
// server holds one per connection, a load generator one per client) and
// returns the limit now in force.
size_t raiseOpenFileLimit();

// "ADDR:PORT" (brackets for IPv6), "unix:/path", "unix:@name" or "unix" for
// an unnamed socket.
std::string describeEndpoint(const boost::asio::generic::stream_protocol::endpoint& ep);

// The peer of a connected socket: "ADDR:PORT" for TCP; for a unix socket
// the peer's credentials, which the kernel vouches for
// ("unix:pid=812,uid=1000"); "unknown" once the peer has gone.
std::string describePeer(const StreamSocket& socket);

// True for a TCP socket (IPv4 or IPv6).
bool isTcp(const StreamSocket& socket);

}  // namespace thrum::endpoint
