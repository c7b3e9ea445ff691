#!/usr/bin/env bash
# Tests the C ABI (x402-ffi) and the packages that link it:
#   1. include/x402.h is what cbindgen generates (scripts/regen.sh --check);
#   2. the C test program, under AddressSanitizer + UBSan, then under valgrind;
#   3. the Go package (go test);
#   4. the Python package (pytest).
# Installs what is missing first (scripts/install-ffi.sh), unless SKIP_INSTALL=1.
# Builds in debug, reusing target/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n==> %s\n' "$*"; }

if [ -z "${SKIP_INSTALL:-}" ]; then
  step "install missing tools (cbindgen, gcc/ASAN, valgrind, Go, pytest)"
  scripts/install-ffi.sh
fi

step "include/x402.h is up to date"
scripts/regen.sh --check

step "cargo build -p x402-ffi (debug)"
cargo build -p x402-ffi --locked
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
lib_dir="$target_dir/debug"
work="$target_dir/x402-ffi-test"
mkdir -p "$work"

step "shared vectors for the C test"
python3 x402-ffi/tests/c/vectors_to_tsv.py x402-core/tests/vectors "$work/vectors.tsv"

# Rust's std needs these next to a static library (rustc --print native-static-libs).
native_libs="-lpthread -ldl -lm -lrt"
cflags="-std=gnu11 -Wall -Wextra -Werror -g -O1 -I$root/include"

step "C test under AddressSanitizer and UndefinedBehaviorSanitizer"
gcc $cflags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
  x402-ffi/tests/c/test_x402.c "$lib_dir/libx402.a" $native_libs -o "$work/test_x402_asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$work/test_x402_asan" "$work/vectors.tsv"
echo "AddressSanitizer, LeakSanitizer, UBSan: no error reported"

step "C test under valgrind memcheck"
gcc $cflags x402-ffi/tests/c/test_x402.c "$lib_dir/libx402.a" $native_libs -o "$work/test_x402"
# Any error (invalid access, uninitialised use, a leak) fails the run; the
# closing ERROR SUMMARY line gives the count.
valgrind --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect,possible \
  "$work/test_x402" "$work/vectors.tsv" 2>&1 | grep -vE '^==[0-9]+== *($|Memcheck|Copyright|Using Valgrind|Command|For lists|HEAP SUMMARY|  *(in use|total heap))'
test "${PIPESTATUS[0]}" -eq 0

step "Go package (cgo, linked statically against the debug libx402.a)"
# A directory holding only the static library, so that cgo's -lx402 cannot pick
# libx402.so.
mkdir -p "$work/lib-static"
ln -sf "$lib_dir/libx402.a" "$work/lib-static/libx402.a"
(cd x402-ffi/go &&
  CGO_ENABLED=1 CGO_LDFLAGS="-L$work/lib-static" GOPROXY=off GOFLAGS=-mod=mod \
    go test -count=1 -v ./... >"$work/go-test.log" 2>&1) || { cat "$work/go-test.log"; exit 1; }
grep -E '^(--- FAIL|ok|FAIL)' "$work/go-test.log" || true
printf 'go: %s tests and subtests passed\n' "$(grep -cE '^ *--- PASS' "$work/go-test.log")"

step "Python package (ctypes over the debug libx402.so, pytest)"
set +e
X402_LIB="$lib_dir/libx402.so" x402-ffi/python/.venv/bin/python -m pytest -q -p no:cacheprovider x402-ffi/python
status=$?
set -e
case $status in
  0) ;;
  5) echo "pytest collected no tests: the Python tests are missing" >&2; exit 1 ;;
  *) echo "pytest failed (exit $status)" >&2; exit "$status" ;;
esac
