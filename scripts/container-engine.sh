#!/usr/bin/env bash
# Makes podman usable on a Debian CI machine (root, often a VM or container without systemd):
# installs podman, runc and debootstrap when missing and writes the engine settings such machines need.
# Idempotent; leaves an existing /etc/containers/containers.conf alone.
set -euo pipefail
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q podman runc debootstrap
fi
conf=/etc/containers/containers.conf
if [ ! -e "$conf" ]; then
    mkdir -p /etc/containers
    # runc: crun fails on some VM kernels; cgroupfs and file events: no systemd to ask. The open-files
    # limit podman asks for by default (1048576) is above what such machines allow: give the host's own.
    cat > "$conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
