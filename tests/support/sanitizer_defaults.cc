// The sanitizer options every test executable of a sanitizer build starts
// with, built into it so that ctest, a test run by hand and deploy/test.sh
// agree (variables such as UBSAN_OPTIONS in the environment still add to
// them). The suppression files say why each entry is there.
// tests/CMakeLists.txt defines the paths for the builds that need them.

#ifdef THRUM_UBSAN_SUPPRESSIONS
extern "C" const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1:suppressions=" THRUM_UBSAN_SUPPRESSIONS;
}
#endif

#ifdef THRUM_TSAN_SUPPRESSIONS
extern "C" const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1:suppressions=" THRUM_TSAN_SUPPRESSIONS;
}
#endif
