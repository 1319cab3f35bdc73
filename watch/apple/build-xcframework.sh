#!/usr/bin/env bash
# Builds TachoCoreFFI.xcframework (the static Rust library tacho-uniffi plus the
# generated C header and module map) for the Swift package in this folder.
#
# macOS ONLY: it needs Xcode (xcodebuild, lipo) and the Apple Rust targets. It
# has NOT been run in this repository's CI or on the Linux machines the code
# was written on; there is no Apple toolchain there. Run it on a Mac:
#
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin
#   rustup toolchain install nightly --component rust-src
#   watch/apple/build-xcframework.sh            # release build
#   PROFILE=debug watch/apple/build-xcframework.sh
#
# The iOS targets are tier 2 (prebuilt std from rustup). Every watchOS target
# (aarch64-apple-watchos, aarch64-apple-watchos-sim, arm64_32-apple-watchos) is
# tier 3 at the time of writing: no prebuilt std, so they are built with
# nightly and `-Zbuild-std`. arm64_32 is the ILP32 ABI older watches run
# (Series 4-8, SE); add it with WITH_ARM64_32=1 when the app's deployment
# target includes them (Xcode's "Standard Architectures" for watchOS list it).
# Apple Silicon Macs only: no x86_64 watch simulator slice is built.
#
# The header and module map come from watch/apple/FFIHeaders, which
# scripts/gen-bindings writes: regenerate the bindings first if the Rust API
# changed, or the Swift wrapper and the library will disagree (uniffi checks
# this at load time and fails loudly).
set -euo pipefail
[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh runs on macOS only" >&2; exit 1; }

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

profile="${PROFILE:-release}"
cargo_profile_flag=()
[ "$profile" = release ] && cargo_profile_flag=(--release)
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
lib=libtacho_uniffi.a

build() { # target: tier 2, prebuilt std
  echo "== cargo build $1 ($profile)"
  cargo build --locked -p tacho-uniffi --lib --target "$1" "${cargo_profile_flag[@]}"
}
build_std() { # target: tier 3, std built from source on nightly
  echo "== cargo +nightly build $1 ($profile, -Zbuild-std)"
  cargo +nightly build --locked -p tacho-uniffi --lib --target "$1" "${cargo_profile_flag[@]}" \
    -Zbuild-std=std,panic_abort
}

ios_device=aarch64-apple-ios
ios_sims=(aarch64-apple-ios-sim x86_64-apple-ios)
watch_device=(aarch64-apple-watchos)
watch_sims=(aarch64-apple-watchos-sim)
[ "${WITH_ARM64_32:-0}" = 1 ] && watch_device+=(arm64_32-apple-watchos)

macos=aarch64-apple-darwin  # so `swift test` can run the wrapper tests on a Mac

for t in "$ios_device" "${ios_sims[@]}" "$macos"; do build "$t"; done
for t in "${watch_device[@]}" "${watch_sims[@]}"; do build_std "$t"; done

out="$target_dir/xcframework"
rm -rf "$out"
mkdir -p "$out/headers" "$out/ios-sim" "$out/watchos" "$out/watchos-sim"
cp "$here/FFIHeaders/TachoCoreFFI.h" "$here/FFIHeaders/module.modulemap" "$out/headers/"

slice() { echo "$target_dir/$1/$profile/$lib"; }
# One library per platform: the simulators' (and the watch's) architectures
# are fat-merged with lipo, as xcodebuild accepts one library per platform.
lipo -create $(for t in "${ios_sims[@]}"; do slice "$t"; done) -output "$out/ios-sim/$lib"
lipo -create $(for t in "${watch_device[@]}"; do slice "$t"; done) -output "$out/watchos/$lib"
lipo -create $(for t in "${watch_sims[@]}"; do slice "$t"; done) -output "$out/watchos-sim/$lib"

rm -rf "$here/TachoCoreFFI.xcframework"
xcodebuild -create-xcframework \
  -library "$(slice "$ios_device")" -headers "$out/headers" \
  -library "$out/ios-sim/$lib" -headers "$out/headers" \
  -library "$out/watchos/$lib" -headers "$out/headers" \
  -library "$out/watchos-sim/$lib" -headers "$out/headers" \
  -library "$(slice "$macos")" -headers "$out/headers" \
  -output "$here/TachoCoreFFI.xcframework"
echo "wrote $here/TachoCoreFFI.xcframework"
