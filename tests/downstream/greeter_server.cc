// greeter-server: a downstream service on thrum, with a setting of its own.
//
//   greeter-server --listen 127.0.0.1:9090 --greeting hi
#include <memory>
#include <string>

#include "Greeter.h"
#include "greeter_constants.h"

#include <thrum/thrum.h>

namespace {

class GreeterHandler : public greeter::GreeterIf {
 public:
  explicit GreeterHandler(std::string greeting) : greeting_(std::move(greeting)) {}

  void greet(std::string& out, const std::string& name) override {
    if (name.empty()) {
      greeter::BadName bad;
      bad.why = "a name cannot be empty";
      throw bad;
    }
    out = greeting_ + ", " + name;
  }

  void whoami(greeter::Caller& out) override {
    const thrum::CallContext* call = thrum::CallContext::current();
    out.principal = call->principal();
    out.peer = call->peer();
  }

 private:
  std::string greeting_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string greeting = greeter::g_greeter_constants.DEFAULT_GREETING;
  return thrum::serve(argc, argv,
                      {.name = "greeter-server",
                       .listen = {"127.0.0.1:9090"},
                       .settings =
                           [&](thrum::config::Schema& schema) {
                             schema.text("greeting", &greeting, "what greet() says first",
                                         [](const std::string& text) {
                                           if (text.empty())
                                             return thrum::Status::failure("must not be empty");
                                           return thrum::Status();
                                         });
                           },
                       .processor =
                           [&](const thrum::ServiceSettings&) {
                             return std::make_shared<greeter::GreeterProcessor>(
                                 std::make_shared<GreeterHandler>(greeting));
                           }});
}
