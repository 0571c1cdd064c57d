// A downstream project's own IDL: a service, a struct, an exception and a
// constant, so every kind of file the Thrift compiler writes is built.
namespace cpp greeter
namespace py greeter

const string DEFAULT_GREETING = "hello"

struct Caller {
  1: string principal,  // "" without SASL
  2: string peer,
}

exception BadName {
  1: string why,
}

service Greeter {
  string greet(1: string name) throws (1: BadName bad),
  Caller whoami(),
}
