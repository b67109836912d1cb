#!/usr/bin/env bash
# Builds the cgroup v2 lane's initramfs: Debian's static busybox, the guest
# init (scripts/v2-lane/guest-init.sh) and the virtio/9p/overlay modules of
# the installed Debian kernel, in dependency order from its modules.dep.
#
#   build-initramfs.sh OUT KVER
#
# Writes OUT atomically (a gzip'd newc cpio). Everything comes from Debian
# packages already on the machine: busybox-static, linux-image-amd64, cpio.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
kver="$2"
moddir="/lib/modules/$kver"
busybox="${V2_LANE_BUSYBOX:-/bin/busybox}"

die() { echo "v2-lane: $*" >&2; exit 1; }
[ -f "$moddir/modules.dep" ] || die "no $moddir/modules.dep (is linux-image-amd64 installed?)"
file_is_static() { local o; o="$(LC_ALL=C ldd "$1" 2>&1 || true)"; case "$o" in *'not a dynamic executable'*|*'statically linked'*) return 0 ;; esac; return 1; }
[ -x "$busybox" ] && file_is_static "$busybox" || die "$busybox is missing or not static (install busybox-static)"
command -v cpio >/dev/null || die "cpio is not installed"

# The modules the guest needs, in load order: 9p over virtio-pci for the host
# root and the results share; overlay to give the guest a writable view of the
# read-only host root (optional: the init falls back to tmpfs mounts).
wanted=(virtio_pci 9pnet_virtio 9p overlay)
declare -A seen=()
order=()
dep_line() { # module name -> "path: deps..." from modules.dep (- and _ are the same)
  local n="${1//-/_}" alt="${1//_/-}"
  grep -E "(^|/)(${n}|${alt})\.ko(\.(xz|zst|gz))?:" "$moddir/modules.dep" | head -n1
}
add_path() { # relative .ko path from modules.dep, dependencies first
  local rel="$1" line deps d
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  line="$(grep -E "^${rel//./\\.}:" "$moddir/modules.dep" || true)"
  deps="${line#*:}"
  # modules.dep lists dependencies nearest-first; load the farthest first.
  local rev=()
  for d in $deps; do rev=("$d" "${rev[@]}"); done
  for d in "${rev[@]}"; do add_path "$d"; done
  order+=("$rel")
}
for m in "${wanted[@]}"; do
  line="$(dep_line "$m")"
  if [ -z "$line" ]; then
    # Built into the kernel (modules.builtin) needs nothing; otherwise fail.
    if grep -qE "(^|/)${m//-/_}\.ko$" "$moddir/modules.builtin" 2>/dev/null; then continue; fi
    [ "$m" = overlay ] && continue
    die "kernel $kver has no module $m"
  fi
  add_path "${line%%:*}"
done

tmp="$(mktemp -d "${out}.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,newroot,lower,upper,io,mods}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
: >"$root/mods/order"
i=0
for rel in "${order[@]}"; do
  name="$(basename "$rel")"
  dst="$root/mods/$(printf '%02d' "$i")-${name%%.ko*}.ko"
  case "$rel" in
    *.ko) cp "$moddir/$rel" "$dst" ;;
    *.ko.xz) xz -dc "$moddir/$rel" >"$dst" ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" >"$dst" ;;
    *.ko.gz) gzip -dc "$moddir/$rel" >"$dst" ;;
    *) die "unknown module format: $rel" ;;
  esac
  basename "$dst" >>"$root/mods/order"
  i=$((i + 1))
done
echo "$kver" >"$root/kver"
cp "$here/guest-init.sh" "$root/init"
chmod 0755 "$root/init"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --quiet --owner=0:0) | gzip -1 >"$tmp/initramfs"
mv -f "$tmp/initramfs" "$out"
echo "v2-lane: built $out (kernel $kver; modules: $(tr '\n' ' ' <"$root/mods/order"))" >&2
