#!/usr/bin/env bash
# The cgroup v2 lane: runs CMD inside a QEMU guest whose kernel has only
# cgroup v2 (Debian's linux-image-amd64, cgroup_no_v1=all), on the host's own
# root filesystem shared read-only over virtio-9p.
#
#   scripts/v2-lane/run.sh CMD [ARG...]
#
# CMD runs as root in the guest, in the caller's working directory (its path
# on the host), with the caller's PATH; writes go to guest memory (an overlay
# over the host root, tmpfs /tmp and /run), never to the host. Its output is
# streamed to stdout and run.sh exits with its exit status. Lane messages go
# to stderr. Exit status 125 means the lane itself failed (no qemu, no kernel,
# the guest did not boot or did not finish in time).
#
# Environment:
#   V2_LANE_TIMEOUT  seconds before qemu is killed (default 600)
#   V2_LANE_CACHE    cache directory for the initramfs (default /var/tmp/tsrun-v2-lane)
#   V2_LANE_ENV      names of further variables to pass into the guest
#   V2_LANE_KEEP=1   keep the run's scratch directory (console log, output)
#   V2_LANE_CONSOLE=1  copy the guest's serial console to stderr as it runs
#   V2_LANE_MEM, V2_LANE_SMP  guest memory (default 2G) and vCPUs (default 2)
#   V2_LANE_INIT=systemd  boot systemd (the host's /lib/systemd/systemd) as the
#                    guest's PID 1; the command runs as a service under it, with
#                    the system bus socket-activated (default: no init, the
#                    command runs right after the mounts)
#
# Needs the Debian packages qemu-system-x86, linux-image-amd64, busybox-static
# and cpio (scripts/setup.sh installs them). Build tsrun (npm run build) on the
# host first: the guest cannot write to the host's tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
LANE_FAIL=125
say() { echo "v2-lane: $*" >&2; }
die() { say "$*"; exit "$LANE_FAIL"; }

[ $# -ge 1 ] || die "usage: $0 CMD [ARG...]"
[ "$(id -u)" -eq 0 ] || die "run as root (the guest mounts the host root with security_model=passthrough)"
qemu="$(command -v qemu-system-x86_64 || true)"
[ -n "$qemu" ] || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

# The newest installed Debian kernel that has both an image and modules.
kver=""
for img in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
  v="${img#/boot/vmlinuz-}"
  if [ -f "/lib/modules/$v/modules.dep" ]; then kver="$v"; break; fi
done
[ -n "$kver" ] || die "no kernel with modules in /boot and /lib/modules (apt-get install linux-image-amd64)"
kernel="/boot/vmlinuz-$kver"
[ -r "$kernel" ] || die "cannot read $kernel"

cache="${V2_LANE_CACHE:-/var/tmp/tsrun-v2-lane}"
mkdir -p "$cache/runs"
# The initramfs is rebuilt whenever one of its inputs changes.
key="$({
  echo "$kver"
  stat -c '%n %s %Y' "$kernel" "/lib/modules/$kver/modules.dep" "${V2_LANE_BUSYBOX:-/bin/busybox}"
  cat "$here/build-initramfs.sh" "$here/guest-init.sh"
} | sha256sum | cut -c1-16)"
initrd="$cache/initramfs-$key.cpio.gz"
if [ ! -s "$initrd" ]; then
  bash "$here/build-initramfs.sh" "$initrd" "$kver" || die "building the initramfs failed"
  # Old builds are never used again.
  find "$cache" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -name "$(basename "$initrd")" -delete 2>/dev/null || true
fi

# Scratch directories of runs that were killed before they could clean up.
find "$cache/runs" -mindepth 1 -maxdepth 1 -mmin +720 -exec rm -rf {} + 2>/dev/null || true
io="$(mktemp -d "$cache/runs/run.XXXXXX")"
qpid=""
tailpid=""
cleanup() {
  if [ -n "$qpid" ]; then
    kill -9 "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null
  fi
  [ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null
  if [ "${V2_LANE_KEEP:-}" = 1 ]; then say "kept $io"; else rm -rf "$io"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command, as the guest will run it: caller's cwd and PATH, a clean env.
{
  echo '#!/bin/sh'
  printf 'export PATH=%q\n' "$PATH"
  echo 'export HOME=/root TERM=dumb LANG=C.UTF-8 TSRUN_V2_LANE=1'
  for v in ${V2_LANE_ENV:-}; do
    [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"
  done
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  echo
} >"$io/cmd.sh"
: >"$io/output"
case "${V2_LANE_INIT:-}" in
  "" | none) ;;
  systemd) echo systemd >"$io/init-mode" ;;
  *) die "V2_LANE_INIT: unknown mode '$V2_LANE_INIT' (systemd, or unset)" ;;
esac
# The checkout may live under /tmp or /run, which the guest covers with
# tmpfs: tell the guest which host directory to bring back.
(cd "$here/../.." && pwd) >"$io/workdir"

timeout_s="${V2_LANE_TIMEOUT:-600}"
start_ms=$(($(date +%s%N) / 1000000))
say "booting $kernel (TCG, ${V2_LANE_SMP:-2} vCPUs, ${V2_LANE_MEM:-2G}; timeout ${timeout_s}s)"
# -accel tcg: /dev/kvm may exist without KVM guests booting (nested hosts).
"$qemu" \
  -accel tcg,thread=multi -cpu max -m "${V2_LANE_MEM:-2G}" -smp "${V2_LANE_SMP:-2}" \
  -nodefaults -no-user-config -display none -no-reboot \
  -serial "file:$io/console.log" \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 tsc=reliable" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap" \
  -virtfs "local,path=$io,mount_tag=io,security_model=passthrough,multidevs=remap" \
  </dev/null >"$io/qemu.log" 2>&1 &
qpid=$!
tail -s 0.2 -n +1 -F --pid="$qpid" "$io/output" 2>/dev/null &
tailpid=$!
if [ "${V2_LANE_CONSOLE:-}" = 1 ]; then
  tail -s 0.2 -n +1 -F --pid="$qpid" "$io/console.log" >&2 2>/dev/null &
fi

timed_out=0
deadline=$(($(date +%s) + timeout_s))
while kill -0 "$qpid" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    timed_out=1
    kill -9 "$qpid" 2>/dev/null
    break
  fi
  sleep 0.5
done
wait "$qpid" 2>/dev/null || true
qpid=""
wait "$tailpid" 2>/dev/null || true
tailpid=""
elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
elapsed="$((elapsed_ms / 1000)).$(((elapsed_ms % 1000) / 100))"

if [ -s "$io/rc" ]; then
  rc="$(cat "$io/rc")"
  say "guest booted in $(cat "$io/boot-seconds" 2>/dev/null || echo ?)s (root: $(cat "$io/root-kind" 2>/dev/null || echo ?)); command exited $rc; ${elapsed}s in all"
  exit "$rc"
fi
if [ "$timed_out" = 1 ]; then
  say "TIMEOUT: killed qemu after ${timeout_s}s"
else
  say "the guest stopped without the command's exit status"
fi
[ -s "$io/guest-error" ] && say "guest: $(cat "$io/guest-error")"
say "qemu:"
sed 's/^/  /' "$io/qemu.log" >&2 || true
say "console (last 60 lines):"
tail -n 60 "$io/console.log" 2>/dev/null | sed 's/^/  /' >&2 || true
exit "$LANE_FAIL"
