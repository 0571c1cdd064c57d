// What the third-party interop peers call: who the server thinks they are,
// and an echo large enough to cross SASL packet and frame sizes.
namespace cpp thrum.interop
namespace java thrum.interop
namespace py interop

service Interop {
  // "PRINCIPAL MECHANISM QOP" as the server saw the caller.
  string whoami(),
  binary echo(1: binary payload),
}
