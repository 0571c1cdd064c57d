// thrum: everything a service author uses, in namespace thrum.
//
//   #include <thrum/thrum.h>
//
//   thrum::serve(argc, argv, {...})   a service binary's main()    server/service.h
//   thrum::Service, ServiceSettings   what serve() is told         server/service.h
//   thrum::Server, ServerOptions      the object-style server      server/server.h
//   thrum::CallContext::current()     who is calling, the deadline dispatch/call_context.h
//   thrum::Authorizer                 per-call access control      dispatch/dispatcher.h
//   thrum::connect(endpoint)          a client of any service      client/connect.h
//   thrum::SaslClientTransport        SASL under a Thrift client   client/sasl_transport.h
//   thrum::Metrics                    counters and gauges          admin/metrics.h
//   thrum::config::Schema             the service's own settings   config/config.h
//   thrum::Status, Result<T>          how every call fails         status.h
//
// Finer headers (<thrum/server/server.h>, ...) include less. Endpoint
// strings (what --listen and connect() take) are described in
// endpoint/endpoint_string.h and docs/service-authors.md.
#pragma once

#include "thrum/admin/metrics.h"
#include "thrum/client/connect.h"
#include "thrum/client/sasl_transport.h"
#include "thrum/config/config.h"
#include "thrum/dispatch/call_context.h"
#include "thrum/dispatch/dispatcher.h"
#include "thrum/server/server.h"
#include "thrum/server/server_settings.h"
#include "thrum/server/service.h"
#include "thrum/status.h"
