#!/usr/bin/env bash
# Sets tsrun up on a fresh Debian machine: the packages it needs, its npm
# dependencies, the native init (built from source) and the bundled CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (tsrun creates namespaces, mounts and cgroups)" >&2
  exit 1
fi
need=()
for pkg in busybox-static build-essential python3 util-linux seccomp uidmap qemu-system-x86 linux-image-amd64 cpio systemd dbus runc containerd podman nftables iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Exactly what the committed lock says (it is complete: set-up leaves the tree clean).
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
