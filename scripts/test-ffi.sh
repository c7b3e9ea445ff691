#!/usr/bin/env bash
# Tests the C ABI (crate paywire-ffi: libpaywire) and the packages that link it,
# each installed the way its users install it:
#   1. include/paywire.h is what cbindgen generates (scripts/regen.sh --check);
#   2. the C test program, under AddressSanitizer + UBSan, then under valgrind;
#   3. Go: the package's own tests, then a module outside the repository that
#      requires it through a replace directive, with no CGO_* variables;
#   4. Python: `pip wheel` builds a platform wheel (setuptools-rust puts
#      libpaywire inside); it is installed into a fresh venv with no cargo on
#      PATH, with the pinned test dependencies (requirements-test.txt, from the
#      wheelhouse install-ffi.sh keeps), and the tests run against the
#      installed package: the API, the vectors, and the ASGI paywall in FastAPI
#      under uvicorn on 127.0.0.1 with the httpx transports that pay; `pip
#      install` of the source directory is checked too.
# Installs what is missing first (scripts/install-ffi.sh), unless SKIP_INSTALL=1.
# Everything links the one release build of libpaywire in target/release (the
# profile `cargo install` and the wheel use: nothing is compiled twice).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n==> %s\n' "$*"; }

if [ -z "${SKIP_INSTALL:-}" ]; then
  step "install missing tools (cbindgen, gcc/ASAN, valgrind, Go, the Python build venv)"
  scripts/install-ffi.sh
fi

step "include/paywire.h is up to date"
scripts/regen.sh --check

step "cargo build --release -p paywire-ffi"
cargo build --release -p paywire-ffi --locked
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ "$target_dir" != "$root/target" ]; then
  echo "test-ffi: the Go package links $root/target/release/libpaywire.a, but CARGO_TARGET_DIR puts it in $target_dir" >&2
  exit 1
fi
lib_dir="$target_dir/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/paywire-ffi-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

step "shared vectors for the C test"
python3 x402-ffi/tests/c/vectors_to_tsv.py x402-core/tests/vectors "$work/vectors.tsv"

# Rust's std needs these next to a static library (rustc --print native-static-libs).
native_libs="-lpthread -ldl -lm -lrt"
cflags="-std=gnu11 -Wall -Wextra -Werror -g -O1 -I$root/include"

step "C test under AddressSanitizer and UndefinedBehaviorSanitizer"
gcc $cflags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
  x402-ffi/tests/c/test_paywire.c "$lib_dir/libpaywire.a" $native_libs -o "$work/test_paywire_asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$work/test_paywire_asan" "$work/vectors.tsv"
echo "AddressSanitizer, LeakSanitizer, UBSan: no error reported"

step "C test under valgrind memcheck"
gcc $cflags x402-ffi/tests/c/test_paywire.c "$lib_dir/libpaywire.a" $native_libs -o "$work/test_paywire"
# Any error (invalid access, uninitialised use, a leak) fails the run; the
# closing ERROR SUMMARY line gives the count.
valgrind --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect,possible \
  "$work/test_paywire" "$work/vectors.tsv" 2>&1 | grep -vE '^==[0-9]+== *($|Memcheck|Copyright|Using Valgrind|Command|For lists|HEAP SUMMARY|  *(in use|total heap))'
test "${PIPESTATUS[0]}" -eq 0

# Go here is Debian's, with no module proxy: the standard library only.
gobare() { env -u CGO_LDFLAGS -u CGO_CFLAGS -u CGO_ENABLED GOPROXY=off GOFLAGS=-mod=mod "$@"; }

step "Go package: its own tests (cgo links target/release/libpaywire.a)"
(cd x402-ffi/go && gobare go test -count=1 -v ./... >"$work/go-test.log" 2>&1) ||
  { cat "$work/go-test.log"; exit 1; }
grep -E '^(--- FAIL|ok|FAIL)' "$work/go-test.log" || true
printf 'go: %s tests and subtests passed\n' "$(grep -cE '^ *--- PASS' "$work/go-test.log")"

step "Go: a module outside the repository requires paywire/go (a replace, no CGO_* variables)"
mkdir -p "$work/gomod"
printf 'module example.com/shop\n\ngo 1.19\n\nrequire paywire/go v0.0.0\n\nreplace paywire/go => %s\n' \
  "$root/x402-ffi/go" >"$work/gomod/go.mod"
cp x402-ffi/go/testdata/consumer_test.go.txt "$work/gomod/shop_test.go"
(cd "$work/gomod" && gobare go test -count=1 -v ./...)

step "Python: pip wheel, installed into a fresh venv without cargo; the tests run against it"
build_venv=x402-ffi/python/.venv
# --no-build-isolation: the build venv holds the pinned setuptools and
# setuptools-rust (scripts/install-ffi.sh), so the build fetches nothing.
"$build_venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
  --no-build-isolation --wheel-dir "$work/wheels" ./x402-ffi/python
wheel=$(ls "$work/wheels"/paywire-*.whl)
echo "built $(basename "$wheel")"
unzip -l "$wheel" | grep -E 'paywire/|LICENSE'
python3 -m venv "$work/venv"
if [ ! -d "$build_venv/wheelhouse" ]; then
  echo "test-ffi: $build_venv/wheelhouse is missing: run scripts/install-ffi.sh" >&2
  exit 1
fi
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-index \
  --find-links "$build_venv/wheelhouse" -r x402-ffi/python/requirements-test.txt
# No cargo on PATH, no PAYWIRE_LIB, run from elsewhere: the installed package
# loads the library built into it.
no_cargo_path=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '\.cargo/bin' | paste -sd: -)
(cd "$work" && env -u PAYWIRE_LIB -u CARGO_TARGET_DIR PATH="$no_cargo_path" "$work/venv/bin/python" -c '
import shutil, paywire
assert shutil.which("cargo") is None
assert "site-packages" in paywire.__file__, paywire.__file__
assert "site-packages" in paywire.library_path(), paywire.library_path()
print("imports", paywire.version(), "from", paywire.library_path())
')
set +e
(cd x402-ffi/python && env -u PAYWIRE_LIB PATH="$no_cargo_path" PAYWIRE_EXPECT_INSTALLED=1 \
  PAYWIRE_REQUIRE_FRAMEWORKS=1 "$work/venv/bin/pytest" -q -p no:cacheprovider tests)
status=$?
set -e
case $status in
  0) ;;
  5) echo "pytest collected no tests: the Python tests are missing" >&2; exit 1 ;;
  *) echo "pytest failed (exit $status)" >&2; exit "$status" ;;
esac

step "Python: pip install of the source directory"
python3 -m venv "$work/venv-src"
"$work/venv-src/bin/pip" install --quiet --disable-pip-version-check ./x402-ffi/python
(cd "$work" && "$work/venv-src/bin/python" -c '
import paywire
assert "site-packages" in paywire.library_path(), paywire.library_path()
print("imports", paywire.version(), "from", paywire.library_path())
')
