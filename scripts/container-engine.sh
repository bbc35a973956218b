#!/usr/bin/env bash
# Makes podman usable on a Debian CI machine (root, often a VM without systemd): installs podman, runc
# and debootstrap when missing, and writes the engine settings such machines need into a drop-in file
# of its own (/etc/containers/containers.conf.d/50-paperboy-ci.conf), leaving containers.conf alone.
set -euo pipefail
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q podman runc debootstrap
fi
# runc: crun fails on some VM kernels. cgroupfs and file events: no systemd to ask. The limits podman
# asks for by default (1048576 open files, unlimited processes) are above what such machines let a
# container have, and it refuses to start: the host's own open-files limit, and processes enough for a bot.
nofile="$(ulimit -Hn)"
mkdir -p /etc/containers/containers.conf.d
cat > /etc/containers/containers.conf.d/50-paperboy-ci.conf <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
