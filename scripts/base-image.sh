#!/usr/bin/env bash
# Builds the image Paperboy's Dockerfile starts from when no container registry is reachable: a minimal
# Debian (bookworm: Python 3.11) from Debian's own packages by debootstrap, imported into the engine.
# Its tag carries a hash of this recipe: the engine keeps the image across runs, so a repeated call
# costs nothing and a changed recipe builds anew. Needs root and debootstrap; prints the image's name,
# to build with: `podman build --format docker --build-arg BASE=<that name> -t paperboy .`
#   scripts/base-image.sh [ENGINE]        ENGINE: podman (the default when present) or docker
set -euo pipefail
engine="${1:-$(command -v podman >/dev/null && echo podman || echo docker)}"
suite=bookworm
mirror="${PAPERBOY_BASE_MIRROR:-http://deb.debian.org/debian}"
# python3-venv brings ensurepip (the Dockerfile makes a venv); tini is the image's PID 1 (signals, zombies).
packages=python3,python3-venv,ca-certificates,tini
recipe="$(sha256sum "$0" | cut -c1-12)"
image="localhost/paperboy-base:$suite-$recipe"

if "$engine" image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "base-image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "base-image: debootstrap needs root" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2 \
    || { echo "base-image: debootstrap failed (see above)" >&2; exit 1; }
# Package caches and docs are of no use in an image: smaller and quicker to import.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -c . | "$engine" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$image" >&2
echo "$image"
