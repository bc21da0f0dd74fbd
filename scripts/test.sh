#!/usr/bin/env bash
# Install what the tests need, run the static checks (scripts/lint.sh:
# cppcheck, no function over 100 lines), build with -Werror, run the whole suite; then
# build again with ASan + UBSan (leak detection on) and run the suite again
# (all but the fuzz targets, which are sanitizer builds of their own).
# Usage: scripts/test.sh [--no-sanitize]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc)"
"$root/scripts/install-deps.sh" all

echo "== static checks"
"$root/scripts/lint.sh"

echo "== build (-Wall -Wextra -Werror) and test"
cmake -S "$root" -B "$root/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLYNCAUDIT_WERROR=ON >/dev/null
cmake --build "$root/build-test" -j"$jobs" >/dev/null
(cd "$root/build-test" && ctest --output-on-failure -j"$jobs" --timeout 600)

if [ "${1:-}" != "--no-sanitize" ]; then
    echo "== build with ASan + UBSan and test"
    cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DLYNCAUDIT_WERROR=ON \
        -DLYNCAUDIT_SANITIZE=ON >/dev/null
    cmake --build "$root/build-asan" -j"$jobs" >/dev/null
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    # The fuzz targets are built with ASan and UBSan in both passes already:
    # run them once, in the first.
    (cd "$root/build-asan" && ctest --output-on-failure -j"$jobs" --timeout 900 -E '^fuzz[.]')
fi
