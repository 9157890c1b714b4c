#!/usr/bin/env bash
# Builds the images entra-aws-mock-graph, entra-aws-mock-scim and entra-aws-harness (tag $TAG,
# default dev) from this checkout, offline: statically linked binaries (glibc, +crt-static) in
# images FROM scratch. Nothing is pulled. Usage: docker/build.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${TAG:-dev}
triple=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-$root/target}
release=$target_dir/$triple/release

for tool in cargo docker readelf strip; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool is not installed (readelf and strip come with binutils)" >&2
        exit 2
    fi
done
if ! docker info >/dev/null 2>&1; then
    echo "error: no Docker daemon answers (docker info failed); start one or set DOCKER_HOST" >&2
    exit 2
fi

started=$SECONDS
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros, which cannot be static.
(cd "$root" && RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked \
    --target "$triple" -p mock-graph -p mock-scim -p harness --bin mock-graph --bin mock-scim \
    --bin harness --bin probe)
compiled=$SECONDS

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/bin" "$context/rootfs/tmp" "$context/scenarios"
chmod 1777 "$context/rootfs/tmp"
for bin in mock-graph mock-scim harness probe; do
    # A scratch image has no loader: a binary that needs a shared library would not even start.
    # (ldd says "statically linked" of a static PIE, and succeeds: readelf it is.)
    if readelf --dynamic "$release/$bin" | grep -q NEEDED; then
        echo "error: $release/$bin needs shared libraries" >&2
        exit 1
    fi
    # Symbols are half of each binary; panics still name their file and line.
    strip --strip-all -o "$context/bin/$bin" "$release/$bin"
done
cp -r "$root/scenarios/library" "$root/scenarios/regressions" "$context/scenarios/"

# The legacy builder: FROM scratch needs nothing BuildKit adds, and buildx may not be installed.
for image in mock-graph mock-scim harness; do
    if ! DOCKER_BUILDKIT=0 docker build --quiet --file "$root/docker/Dockerfile" --target "$image" \
        --tag "entra-aws-$image:$tag" "$context" >"$context/build.log" 2>&1; then
        cat "$context/build.log" >&2
        echo "error: building entra-aws-$image:$tag failed" >&2
        exit 1
    fi
done

echo "built in $((SECONDS - started)) s (compiling $((compiled - started)) s):"
for image in mock-graph mock-scim harness; do
    echo "  entra-aws-$image:$tag  $(docker image inspect --format '{{.Size}}' "entra-aws-$image:$tag") bytes"
done
