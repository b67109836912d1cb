#!/bin/busybox sh
# /init of the cgroup v2 lane's initramfs (PID 1 in the QEMU guest).
#
# Loads the virtio/9p modules, mounts the host's root read-only (9p tag
# "hostroot") and the run's scratch directory read-write (9p tag "io"), gives
# the guest a writable view of the host root (overlayfs with a tmpfs upper
# layer, or tmpfs on /tmp and /run when overlayfs is not available), mounts
# cgroup2 at /sys/fs/cgroup, chroots into that root, runs /io/cmd.sh there,
# stores its output in /io/output and its exit status in /io/rc, and powers
# the machine off. Nothing is ever written to the host except under /io.
export PATH=/bin:/sbin
msg() { echo "v2-lane-guest: $*"; }
halt() {
  sync
  poweroff -f
  sleep 5
  echo o >/proc/sysrq-trigger
}
fail() {
  msg "FATAL: $*"
  [ -d /io/. ] && [ -w /io ] && echo "$*" >/io/guest-error
  halt
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

for m in $(cat /mods/order); do
  insmod "/mods/$m" || fail "insmod $m failed"
done

ninep=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$ninep,cache=loose,ro" hostroot /lower || fail "cannot mount the host root over 9p"
mount -t 9p -o "$ninep,cache=none" io /io || fail "cannot mount the io share over 9p"
[ -f /io/cmd.sh ] || fail "no /io/cmd.sh"

# A writable view of the (read-only) host root: anything the test writes
# (vitest caches, node_modules/.vite, ...) lands in guest memory.
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/u /upper/w
if mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot 2>/dev/null; then
  echo overlay >/io/root-kind
else
  msg "overlayfs over 9p unavailable; using the read-only 9p root with tmpfs /tmp and /run"
  mount --bind /lower /newroot || fail "cannot bind the host root"
  echo 9p-ro >/io/root-kind
fi

R=/newroot
mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue 2>/dev/null
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t mqueue mqueue $R/dev/mqueue 2>/dev/null
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || fail "mount cgroup2"
mount -t tmpfs -o mode=1777 tmp $R/tmp || fail "mount /tmp"
mount -t tmpfs -o mode=0755 run $R/run || fail "mount /run"
mkdir -p $R/run/v2-lane
mount --bind /io $R/run/v2-lane || fail "bind /io"
# The host root is shared, not private: make the guest's mounts private like
# a normal systemd-less boot, so pivot_root in containers behaves as on a host.
mount --make-rprivate / 2>/dev/null

# Kernel module autoloading (e.g. for overlay or veth in a test) uses
# /sbin/modprobe of the initramfs with the host's module tree.
mkdir -p /lib/modules
ln -s "$R/lib/modules/$(cat /kver)" "/lib/modules/$(cat /kver)" 2>/dev/null

msg "kernel $(uname -r), cgroup2 controllers: $(cat $R/sys/fs/cgroup/cgroup.controllers), root: $(cat /io/root-kind)"
echo $(cut -d' ' -f1 /proc/uptime) >/io/boot-seconds

chroot $R /bin/sh /run/v2-lane/cmd.sh </dev/null >/io/output 2>&1
echo $? >/io/rc.tmp
mv /io/rc.tmp /io/rc
msg "command exited $(cat /io/rc) after $(cut -d' ' -f1 /proc/uptime)s of uptime"
# Let the command's leftovers go before powering off.
kill -9 -1 2>/dev/null
halt
