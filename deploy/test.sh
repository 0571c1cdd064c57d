#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   1. install what is missing, and prepare the world data the tile tests
#      render (deploy/prepare-data.sh, into build/tile-data);
#   2. a release build (warnings are errors) and every test;
#   3. valgrind memcheck over the tests that cross into libsasl2, OpenSSL
#      and Mapnik (label memcheck, on the release build);
#   4. the Release configuration (CMake's -O3), everything built with
#      warnings as errors; from it the Debian packages, and thrum used from
#      outside: tests/downstream/check.py builds a service against a
#      `cmake --install` prefix, with pkg-config, through add_subdirectory,
#      and against the installed .debs (checked by lintian, removed after),
#      plus the README's example, and calls each over TCP and SASL PLAIN;
#   5. an ASan+UBSan build and every test;
#   6. a TSan build and the tests of the thread pools and connections.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/prepare-data.sh build/tile-data

jobs=$(nproc)
# Test executables whose cases also run under ThreadSanitizer.
TSAN_EXES="io_test dispatch_test metrics_test server_test timeouts_test admission_test endpoints_test tls_test sasl_test sasl_scale_test sasl_churn_test fault_matrix_test render_queue_test tile_service_test"
TSAN_TESTS="-R ^(${TSAN_EXES// /|})\."

passed=0
failed=0
# run_suite DIR "CTEST SELECTION" [CMAKE ARGS...]: builds DIR, runs the selected tests.
run_suite() {
  local dir="$1" select="$2"
  shift 2
  echo "== build $dir"
  deploy/build.sh "$dir" "$@"
  echo "== test $dir ${select:+($select)}"
  local log="$dir/ctest-${select//[^a-z]/}.log" status=0
  # shellcheck disable=SC2086  # the selection is a list of ctest options
  (cd "$dir" && ctest --output-on-failure -j "$jobs" $select) 2>&1 | tee "$log" ||
    status=$?
  # "N% tests passed, F tests failed out of T"
  local summary
  summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  local f t
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
  t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
  passed=$((passed + ${t:-0} - ${f:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$status" -ne 0 ] || [ -z "$summary" ]; then
    echo "$passed passed, $((failed > 0 ? failed : 1)) failed"
    exit 1
  fi
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

run_suite build/release "-LE memcheck"
run_suite build/release "-L memcheck"
echo "== build build/package (Release)"
deploy/build.sh build/package -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
echo "== downstream (build/package)"
log=build/package/downstream.log
status=0
/usr/bin/python3 tests/downstream/check.py build/package --packages \
  --tile-data build/tile-data/shp 2>&1 | tee "$log" || status=$?
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
passed=$((passed + $(cut -d' ' -f1 <<<"${summary:-0 passed, 0 failed}")))
failed=$((failed + $(cut -d' ' -f3 <<<"${summary:-0 passed, 0 failed}")))
if [ "$status" -ne 0 ] || [ -z "$summary" ]; then
  echo "$passed passed, $((failed > 0 ? failed : 1)) failed"
  exit 1
fi
run_suite build/asan "" -DTHRUM_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug
# Only the executables that run under TSan are built there.
THRUM_BUILD_TARGETS="$TSAN_EXES" run_suite build/tsan "$TSAN_TESTS" -DTHRUM_SANITIZE=thread \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "$passed passed, $failed failed"
