#!/usr/bin/env bash
# Runs the pytest suite over the committed uniffi Python bindings
# (tests/ffi-python/tacho_uniffi/tacho_uniffi.py). It builds the cdylib and the
# relay binary, regenerates nothing, and points the tests at the built library
# (copied next to the bindings in a temp dir at test time; no .so is committed).
#
# Usage: tests/ffi-python/run.sh [pytest args...]
# Needs: cargo, python3 with pytest (scripts/requirements-ci.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Exactly the invocation scripts/gen-bindings uses (same profile, same -p set),
# so cargo's feature unification reuses the same artifacts instead of
# rebuilding uniffi and tacho-uniffi with a different feature set.
cargo build --locked -p tacho-uniffi -p uniffi-bindgen
# The relay is a separate invocation so its dependencies' features never mix
# into the build of the bindings.
cargo build --locked -p tacho-relay --bin tacho-relay

target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
case "$(uname -s)" in
  Darwin) export TACHO_UNIFFI_LIB="$target_dir/debug/libtacho_uniffi.dylib" ;;
  *) export TACHO_UNIFFI_LIB="$target_dir/debug/libtacho_uniffi.so" ;;
esac
export TACHO_RELAY_BIN="$target_dir/debug/tacho-relay"

exec python3 -m pytest -q -p no:cacheprovider tests/ffi-python "$@"
